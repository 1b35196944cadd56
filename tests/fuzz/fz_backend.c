/* SPDX-License-Identifier: MIT */
/*
 * Backend engine for fuzz_ring / fuzz_xport (see fz_backend.h).
 *
 * In a fake world, dom 0 runs vgrantd (vgd_new, vgd_start, vgd_run_once:
 * the real daemon, xenbus state machine, serve loop, transports and blk
 * model over a scratch image), dom 1 is a guest played by rawfront.  The
 * daemon and the attached device are kept across inputs, and each input
 * connects the device through the daemon's reconnect path ("The
 * session" below; VGRANT_FUZZ_FRESH=1: a fresh daemon per input).  The
 * input is
 *
 *   setup bytes: mode, queue size, features, budget, cache size,
 *                static region shape (and possibly garbage region keys)
 *   then ops until the input ends, each one opcode byte + operands:
 *     write any descriptor (address picked among the guest's granted
 *     pages, its ring pages or raw 64 bits), publish an avail entry,
 *     set avail->idx / flags / used_event, write raw bytes or a blk
 *     header into a buffer page, queue a well-formed blk chain, kick,
 *     run daemon rounds, change the frontend's xenbus state, revoke a
 *     granted buffer page, let the domain die.
 *
 * Checked beyond "no crash":
 *   - vgd_run_once never fails because of a guest;
 *   - after every round the backend maps no more of the guest than its
 *     rings (+ the static region / the persistent cache bound): strict
 *     modes leave no buffer mapped after a request;
 *   - a backend in Closed holds no mapping of the guest;
 *   - every used entry names a head < queue size;
 *   - after every input the backend reaches Closed once the frontend
 *     closes, with nothing of the guest mapped and no port bound; after
 *     vgd_free (session end) the same; a removed device is dropped by
 *     the daemon; the guest ends with no grant or port.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "fz.h"
#include "fz_backend.h"
#include "rawfront.h"
#include "transport.h"      /* VGD_ROUND_SLOTS */
#include "vgrant/log.h"
#include "vgrantd.h"

#define FE        1
#define DEVID     0
#define NW        4u    /* writable buffer pages (one run of refs) */
#define NR        2u    /* read-only buffer pages */
#define MAX_RP    8u    /* static region pages, usually */
#define BIG_RP    130u  /* sometimes: two region-refs-<k> keys */
#define CHUNK_RP  64u   /* pages per share call (rawfront's limit) */
#define MAX_OPS   256u
#define SETTLE    24    /* rounds allowed for a handshake step */
/* ...and for a close, the rounds the transfers still in flight may take:
 * a closing device unmaps only once they finish, through the loop, and a
 * round of requests chained by FLUSHes (each waits for those before it)
 * takes a loop round per step: at most a queue's VGD_ROUND_SLOTS */
#define DRAIN     ((int)VGD_ROUND_SLOTS + 8)

struct fzb {
    struct fz_in in;
    /* the session (kept across inputs, see fzb_run): world, daemon,
     * attached device, the guest's handle and buffer pages */
    bool have_daemon, attached;
    bool at_rest;              /* device Closed after an input: the next
                                  one reconnects; false: fresh InitWait */
    struct vg_fake_world *w;
    struct vg_hyp *be, *ts;
    struct vgd *d;
    unsigned cache_pages;      /* the daemon's persistent cache bound */
    unsigned mode;             /* the device's: mode, readonly, region */
    bool readonly;
    unsigned region_pages;
    struct rawfront rf;
    bool rf_open;
    uint8_t *wpages, *rpages, *region;
    vg_gref_t wref, rref;
    unsigned region_local;     /* pages of the region at f->region */
    vg_gref_t region_refs[BIG_RP];
    uint8_t *region_chunk[BIG_RP / CHUNK_RP + 1];
    unsigned region_chunk_pages[BIG_RP / CHUNK_RP + 1];
    /* this input's */
    uint16_t num;
    unsigned ring_pages;
    bool w_revoked;
    /* a device-writable buffer named the guest's own used ring: what the
     * device writes there (a status byte, data) lands in used entries,
     * so the guest may read garbage heads -- its own doing */
    bool used_aliased;
};

static const char *mode_name(unsigned m)
{
    switch (m) {
    case FZB_COPY:       return VG_MODE_COPY;
    case FZB_AUTO:       return VG_MODE_AUTO;
    case FZB_STATIC:     return VG_MODE_STATIC;
    case FZB_PERSISTENT: return VG_MODE_PERSISTENT;
    default:             return VG_MODE_GRANT;
    }
}

static unsigned pages_for(size_t bytes)
{
    return (unsigned)((bytes + VG_PAGE_SIZE - 1) / VG_PAGE_SIZE);
}

/* The used ring as the guest sees it: every new entry names a head. */
static void check_used(struct fzb *f)
{
    uint32_t id, len;

    if (!f->rf.used || f->used_aliased)
        return;
    for (unsigned i = 0; i < f->num && rf_get_used(&f->rf, &id, &len); i++)
        FZ_CHECK(id < f->num, "used entry names head %u, queue size %u", id,
                 f->num);
}

static void check_mappings(struct fzb *f)
{
    enum vg_xenbus_state st = rf_backend_state(&f->rf);
    unsigned live = vg_fake_live_mappings(f->w, FE);
    unsigned allowed = f->ring_pages;

    /* a round whose transfers are in the kernel keeps its buffers mapped
     * until they complete: the bound holds between rounds */
    if (vgd_transfers_in_flight(f->d))
        return;
    if (f->mode == FZB_STATIC)
        allowed += f->region_pages;
    if (f->mode == FZB_PERSISTENT)
        allowed += f->cache_pages;
    FZ_CHECK(live <= allowed, "mode %s: %u pages of the guest mapped after "
             "a round, at most %u allowed (backend state %u)",
             mode_name(f->mode), live, allowed, st);
    if (st == VG_XB_CLOSED)
        FZ_CHECK(live == 0, "backend Closed but %u guest pages mapped", live);
}

static void round_(struct fzb *f)
{
    /* timeout 0, unless io_uring has transfers to complete */
    FZ_CHECK(vgd_run_once(f->d, vgd_transfers_in_flight(f->d) ? 1000 : 0) == 0,
             "vgd_run_once failed: %s", strerror(errno));
    check_mappings(f);
    check_used(f);
}

/* A descriptor address: usually inside something the guest granted. */
static uint64_t pick_addr(struct fzb *f)
{
    uint8_t sel = fz_u8(&f->in);
    uint16_t off = fz_u16(&f->in) & (VG_PAGE_SIZE - 1);

    if (sel >= 0xf0)
        return fz_u64(&f->in);
    if (f->mode == FZB_STATIC) {
        uint64_t size = (uint64_t)f->region_pages * VG_PAGE_SIZE;
        if (sel >= 0xe0)    /* near or past the end */
            return size - (sel & 0xf) * 256u + (off & 0xff);
        return ((uint64_t)sel * VG_PAGE_SIZE + off) % (size ? size : 1);
    }
    switch (sel % 10) {
    case 0: case 1: case 2: case 3:
        return vg_grant_addr(f->wref + sel % 10, off);
    case 4: case 5:
        return vg_grant_addr(f->rref + sel % 10 - 4, off);
    case 6:
        return vg_grant_addr(f->rf.desc_ref, off);
    case 7:
        return vg_grant_addr(f->rf.used_ref, off);
    case 8:
        return vg_grant_addr(f->rf.avail_ref, off);
    default:   /* a ref near ours that may not be granted, or ref 0 */
        return vg_grant_addr(sel & 1 ? f->wref + NW + (sel >> 4) : sel >> 4,
                             off);
    }
}

/* Local address of a buffer page the guest may write. */
static uint8_t *pick_page(struct fzb *f, unsigned *avail)
{
    uint8_t sel = fz_u8(&f->in);

    if (f->mode == FZB_STATIC) {
        unsigned p = sel % f->region_local;
        *avail = (f->region_local - p) * VG_PAGE_SIZE;
        return f->region + (size_t)p * VG_PAGE_SIZE;
    }
    if (sel & 1) {
        *avail = NR * VG_PAGE_SIZE - (sel >> 1) % NR * VG_PAGE_SIZE;
        return f->rpages + (size_t)((sel >> 1) % NR) * VG_PAGE_SIZE;
    }
    if (f->w_revoked) {
        *avail = 0;
        return NULL;
    }
    *avail = NW * VG_PAGE_SIZE - (sel >> 1) % NW * VG_PAGE_SIZE;
    return f->wpages + (size_t)((sel >> 1) % NW) * VG_PAGE_SIZE;
}

static uint32_t blk_type(uint8_t t)
{
    static const uint32_t types[] = {
        VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_FLUSH,
        VIRTIO_BLK_T_GET_ID, 0x55, 0xffffffffu,
    };
    return types[t % (sizeof(types) / sizeof(types[0]))];
}

static void write_hdr(uint8_t *p, uint32_t type, uint64_t sector)
{
    struct virtio_blk_req_hdr h = { .type = htole32(type),
                                    .sector = htole64(sector) };
    memcpy(p, &h, sizeof(h));
}

/* A well-formed-looking blk chain: header, optional data, status. */
static void op_chain(struct fzb *f)
{
    struct rf_buf b[3];
    uint8_t t = fz_u8(&f->in), s = fz_u8(&f->in), l = fz_u8(&f->in);
    uint32_t type = blk_type(t);
    bool dev_writes = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
    uint32_t data_len = (l % 17) * 512u;   /* up to 8 KiB */
    uint64_t hdr_addr, data_addr, status_addr;
    unsigned n = 0;

    if (f->mode == FZB_STATIC) {
        uint64_t size = (uint64_t)f->region_pages * VG_PAGE_SIZE;
        hdr_addr = 0;
        status_addr = 16;
        data_addr = size > VG_PAGE_SIZE ? VG_PAGE_SIZE : 512;
        if (data_addr + data_len > size)
            data_len = (uint32_t)(size - data_addr) & ~511u;
        write_hdr(f->region, type, s % (FZ_IMAGE_SECTORS + 2));
    } else {
        hdr_addr = vg_grant_addr(f->rref, (t >> 4) * 16u);
        status_addr = vg_grant_addr(f->wref + NW - 1, VG_PAGE_SIZE - 1 - (t >> 4));
        data_addr = vg_grant_addr(f->wref, (l & 0x80) ? 100 : 0);
        write_hdr(f->rpages + (t >> 4) * 16u, type, s % (FZ_IMAGE_SECTORS + 2));
    }
    b[n++] = (struct rf_buf){ hdr_addr, 16, false };
    if (data_len)
        b[n++] = (struct rf_buf){ data_addr, data_len, dev_writes };
    b[n++] = (struct rf_buf){ status_addr, 1, true };
    if (n > f->num)
        return;
    rf_add_chain(&f->rf, b, n);
}

static void op_desc(struct fzb *f)
{
    uint16_t idx = fz_u16(&f->in) % f->num;
    struct vring_desc *d = &f->rf.desc[idx];
    uint8_t shape = fz_u8(&f->in);
    uint16_t flags = shape & (VRING_DESC_F_NEXT | VRING_DESC_F_WRITE);
    uint32_t len;

    d->addr = htole64(pick_addr(f));
    if (shape & 0x80)
        len = fz_u32(&f->in);
    else
        len = fz_u16(&f->in) & 0x3fff;
    d->len = htole32(len);
    if ((shape & 0x7c) == 0x7c)
        flags |= VRING_DESC_F_INDIRECT;
    if (shape & 0x40)
        flags = fz_u16(&f->in);
    d->flags = htole16(flags);
    if ((flags & VRING_DESC_F_WRITE) && f->mode != FZB_STATIC &&
        vg_grant_addr_valid(le64toh(d->addr))) {
        uint64_t ref = vg_grant_addr_ref(le64toh(d->addr));
        uint64_t last = ref + (vg_grant_addr_offset(le64toh(d->addr)) +
                               (uint64_t)len) / VG_PAGE_SIZE;
        uint64_t upages = pages_for(vg_ring_used_bytes(f->num));

        if (ref < f->rf.used_ref + upages && last >= f->rf.used_ref)
            f->used_aliased = true;
    }
    d->next = htole16((shape & 0x20) ? fz_u16(&f->in)
                                     : (uint16_t)(fz_u8(&f->in) % f->num));
}

static void op_publish(struct fzb *f)
{
    uint16_t v = fz_u16(&f->in);

    rf_publish(&f->rf, (v & 0x8000) ? v : (uint16_t)(v % f->num));
}

static void op_data(struct fzb *f)
{
    unsigned avail;
    uint8_t *p = pick_page(f, &avail);
    uint16_t off = fz_u16(&f->in) & (VG_PAGE_SIZE - 1);
    uint8_t n = fz_u8(&f->in) & 63;
    uint8_t buf[64];

    fz_bytes(&f->in, buf, n);
    if (p && off + n <= avail)
        memcpy(p + off, buf, n);
}

static void op_hdr(struct fzb *f)
{
    unsigned avail;
    uint8_t *p = pick_page(f, &avail);
    uint16_t off = fz_u16(&f->in) & (VG_PAGE_SIZE - 1);
    uint32_t type = blk_type(fz_u8(&f->in));
    uint64_t sector = fz_u8(&f->in) & 0x80 ? fz_u64(&f->in)
                                           : fz_u8(&f->in) % (FZ_IMAGE_SECTORS + 2);

    if (p && off + 16u <= avail)
        write_hdr(p + off, type, sector);
}

static void op_ring_field(struct fzb *f)
{
    uint8_t which = fz_u8(&f->in);
    uint16_t v = fz_u16(&f->in);
    uint16_t *used_event = &f->rf.avail->ring[f->num];

    switch (which % 4) {
    case 0: __atomic_store_n(&f->rf.avail->idx, htole16(v), __ATOMIC_RELEASE); break;
    case 1: f->rf.avail->flags = htole16(v); break;
    case 2: *used_event = htole16(v); break;
    default:   /* an avail slot, not published by idx */
        f->rf.avail->ring[v % f->num] = htole16(fz_u16(&f->in));
        break;
    }
}

static void op_state(struct fzb *f)
{
    uint8_t s = fz_u8(&f->in);

    rf_set_state(&f->rf, (enum vg_xenbus_state)(s % 9));
    round_(f);
}

static void op_revoke(struct fzb *f)
{
    if (f->w_revoked || f->mode == FZB_STATIC)
        return;
    rf_unshare(&f->rf, f->wpages);
    f->w_revoked = true;
}

/* Static region keys: usually right, sometimes distorted. */
static void write_region_keys(struct fzb *f)
{
    uint32_t refs[BIG_RP];
    char list[VG_REGION_REFS_PER_KEY * 12 + 1], raw[64], key[32];
    uint8_t how = fz_u8(&f->in);
    unsigned pages = f->region_pages;

    memcpy(refs, f->region_refs, sizeof(refs));
    if ((how & 7) == 1)
        pages = fz_u8(&f->in) % (f->region_pages + 2);
    if ((how & 7) == 2)
        refs[fz_u8(&f->in) % f->region_pages] = fz_u32(&f->in);
    vg_xs_write_fmt(f->rf.h, 0, f->rf.fe_path, VG_KEY_REGION_PAGES, "%u", pages);
    for (unsigned first = 0, k = 0; first < f->region_pages;
         first += VG_REGION_REFS_PER_KEY, k++) {
        unsigned n = f->region_pages - first;
        if (n > VG_REGION_REFS_PER_KEY)
            n = VG_REGION_REFS_PER_KEY;
        snprintf(key, sizeof(key), VG_KEY_REGION_REFS_FMT, k);
        if ((how & 7) == 3 && k == (how >> 3) % 2) {
            fz_str(&f->in, raw, sizeof(raw));
            rf_write(&f->rf, key, raw);
        } else if ((how & 7) == 5 && k == (how >> 3) % 2) {
            continue;   /* key missing */
        } else if (vg_format_ref_list(list, sizeof(list), refs + first,
                                      (how & 7) == 6 ? n - 1 : n) == 0) {
            rf_write(&f->rf, key, list);
        }
    }
    if ((how & 7) == 4)
        rf_write(&f->rf, "region-pages", "0x1");
}

/* ------------------------------------------------------------------ */
/* The session                                                         */
/*
 * Connecting a device used to be most of what an input cost (a daemon, a
 * toolstack attach, the handshake, the queue set-up and a teardown),
 * while the code under test is the ring walker and the data path.  So the
 * fake world, the daemon, the attached device, the guest's handle and its
 * buffer pages live across inputs (a session), and every input starts
 * from the device at rest -- Closed, its image open -- through the
 * daemon's own reconnect path: frontend Initialising -> InitWait, rings of
 * the input's size, keys with the input's features, Initialised ->
 * Connected.  A new device is put at rest (frontend Closing in InitWait
 * -> backend Closed) before its first input, so that an input replayed
 * alone in a fresh process connects the same way.  Every input ends by
 * closing the device again (frontend Closing -> backend Closed) and
 * checks that nothing of the guest stays mapped and no backend port stays
 * bound; the guest then revokes its rings, closes its port and removes
 * its keys, and the next input zeroes the buffer pages, so an input finds
 * the same state a fresh session would give it.  A session ends, with the checks of a daemon teardown
 * (vgd_free), when an input asks for another device (mode, readonly,
 * static region size) or another daemon (persistent cache bound), or
 * when the guest died; the world is replaced every FZ_WORLD_USES daemons.
 *
 * VGRANT_FUZZ_FRESH=1 restores the per-input way: a fresh daemon and
 * attach, the first handshake, and vgd_free, for every input.
 */
static struct fz_world g_fw;
static struct fzb g_f;

/* Rounds until the backend reaches want; from_closed: a backend in
 * Closed may still move (a reconnect), otherwise Closing/Closed end the
 * wait. */
static bool settle_to(struct fzb *f, enum vg_xenbus_state want,
                      bool from_closed)
{
    int limit = want == VG_XB_CLOSED ? SETTLE + DRAIN : SETTLE;

    for (int i = 0; i < limit; i++) {
        enum vg_xenbus_state st = rf_backend_state(&f->rf);
        if (st == want)
            return true;
        if (!from_closed && (st == VG_XB_CLOSING || st == VG_XB_CLOSED))
            return false;
        round_(f);
    }
    return rf_backend_state(&f->rf) == want;
}

static bool settle(struct fzb *f, enum vg_xenbus_state want)
{
    return settle_to(f, want, false);
}

static void daemon_close(struct fzb *f)
{
    unsigned live;

    vgd_free(f->d);
    f->d = NULL;
    f->have_daemon = false;
    live = vg_fake_live_mappings(f->w, FE);
    FZ_CHECK(live == 0, "%u guest pages still mapped after vgd_free", live);
    FZ_CHECK(vg_fake_bound_ports(f->w, 0) == 0, "backend ports still bound "
             "after vgd_free");
}

static int count_dev(const struct vgd_dev_stats *s, void *arg)
{
    (void)s;
    (void)arg;
    return 1;    /* one is enough: stop the walk */
}

/* The guest lets go of everything, the toolstack removes both
 * directories and, if the daemon lives on, it must drop the device. */
static void device_close(struct fzb *f)
{
    char path[VG_XS_PATH_MAX];

    if (f->rf_open)
        rf_close(&f->rf);
    f->rf_open = false;
    FZ_CHECK(vg_fake_live_grants(f->w, FE) == 0, "guest grants left behind");
    FZ_CHECK(vg_fake_bound_ports(f->w, FE) == 0, "guest ports left behind");
    vg_path(path, sizeof(path), "/local/domain/0/backend/" VG_XS_CLASS "/%u", FE);
    f->ts->ops->xs_rm(f->ts, VG_XS_NO_TX, path);
    vg_path(path, sizeof(path), "/local/domain/%u/device/" VG_XS_CLASS, FE);
    f->ts->ops->xs_rm(f->ts, VG_XS_NO_TX, path);
    for (int i = 0; f->d && vgd_foreach_dev(f->d, count_dev, NULL); i++) {
        FZ_CHECK(i < SETTLE + DRAIN, "the daemon kept a device whose "
                 "directory was removed");
        FZ_CHECK(vgd_run_once(f->d, vgd_transfers_in_flight(f->d) ? 1000 : 0)
                 == 0, "vgd_run_once failed: %s", strerror(errno));
    }
    f->attached = false;
    f->wpages = f->rpages = f->region = NULL;
    memset(f->region_chunk, 0, sizeof(f->region_chunk));
}

static void device_open(struct fzb *f, unsigned mode, bool readonly,
                        unsigned region_pages)
{
    struct rf_attach a = { .target = fz_image() };

    f->mode = mode;
    f->readonly = readonly;
    f->region_pages = region_pages;
    a.mode = mode_name(mode);
    a.readonly = readonly ? "1" : NULL;
    FZ_CHECK(rf_toolstack_attach(f->ts, FE, DEVID, 0, &a) == 0, "attach");
    FZ_CHECK(rf_open(&f->rf, f->w, FE, DEVID, 0) == 0, "rf_open");
    f->rf_open = true;
    if (mode == FZB_STATIC)
        FZ_CHECK(vg_xs_write_fmt(f->ts, 0, f->rf.be_path, VG_KEY_REGION, "%u",
                                 region_pages * VG_PAGE_SIZE) == 0, "region");
    FZ_CHECK(settle(f, VG_XB_INITWAIT), "a valid attach never reached "
             "InitWait (state %u)", rf_backend_state(&f->rf));
    f->wpages = rf_share(&f->rf, NW, true, &f->wref);
    f->rpages = rf_share(&f->rf, NR, false, &f->rref);
    FZ_CHECK(f->wpages && f->rpages, "buffer pages");
    if (mode == FZB_STATIC) {
        for (unsigned done = 0, c = 0; done < region_pages; done += CHUNK_RP, c++) {
            unsigned n = region_pages - done < CHUNK_RP ?
                         region_pages - done : CHUNK_RP;
            vg_gref_t first;
            uint8_t *p = rf_share(&f->rf, n, true, &first);
            FZ_CHECK(p, "region");
            if (!done) {
                f->region = p;
                f->region_local = n;
            }
            f->region_chunk[c] = p;
            f->region_chunk_pages[c] = n;
            for (unsigned i = 0; i < n; i++)
                f->region_refs[done + i] = first + i;
        }
    }
    f->attached = true;
    f->at_rest = false;
    if (fz_fresh_mode())
        return;     /* the old way: connect from this first InitWait */
    /* At rest from the start, so that every input, and a crash input
     * replayed alone in a fresh process, connects the same way. */
    FZ_CHECK(rf_set_state(&f->rf, VG_XB_CLOSING) == 0, "Closing");
    FZ_CHECK(settle_to(f, VG_XB_CLOSED, true), "backend not Closed after the "
             "frontend closed in InitWait (state %u)", rf_backend_state(&f->rf));
    rf_set_state(&f->rf, VG_XB_CLOSED);
    round_(f);
    f->at_rest = true;
}

/* The daemon and device this input asks for: the session's, or new ones. */
static void session_get(struct fzb *f, unsigned mode, bool readonly,
                        unsigned region_pages, unsigned cache_pages)
{
    bool daemon_ok = f->have_daemon &&
                     (mode != FZB_PERSISTENT || f->cache_pages == cache_pages);
    bool dev_ok = f->attached && f->mode == mode && f->readonly == readonly &&
                  (mode != FZB_STATIC || f->region_pages == region_pages);

    if (!daemon_ok && f->have_daemon)
        daemon_close(f);
    if (f->attached && (!daemon_ok || !dev_ok))
        device_close(f);
    if (!f->have_daemon) {
        struct vgd_options o = { .persistent_cache_pages = cache_pages };

        fz_world_get(&g_fw, FE, true);
        f->w = g_fw.w;
        f->be = g_fw.be;
        f->ts = g_fw.ts;
        f->d = vgd_new(f->be, &o);
        FZ_CHECK(f->d && vgd_start(f->d) == 0, "vgd_start");
        f->cache_pages = cache_pages;
        f->have_daemon = true;
    }
    if (!f->attached)
        device_open(f, mode, readonly, region_pages);
}

static void setup(struct fzb *f, unsigned modes)
{
    unsigned pick, cand[5], ncand = 0, region_pages, cache_pages;
    uint8_t b0, b1, b2;
    uint64_t features;

    b0 = fz_u8(&f->in);
    b1 = fz_u8(&f->in);
    b2 = fz_u8(&f->in);
    for (unsigned m = 1; m <= FZB_PERSISTENT; m <<= 1)
        if (modes & m)
            cand[ncand++] = m;
    pick = cand[b0 % ncand];
    cache_pages = 1 + (b2 & 7);
    region_pages = 1 + (b2 >> 3) % MAX_RP;
    if ((b1 & 0x0c) == 0x0c)
        region_pages = BIG_RP;
    session_get(f, pick, (b2 & 0x40) != 0, region_pages, cache_pages);
    /* requests and auto's threshold per round: the daemon's tunables */
    vgd_set_tunables(f->d, 1 + b1 % 8, 0, (b1 & 0x80) ? 600 : 0);
    f->num = (uint16_t)(1u << (1 + (b0 >> 4) % 10));   /* 2 .. 1024 */

    /* the guest's pages as fresh shares would be */
    memset(f->wpages, 0, (size_t)NW * VG_PAGE_SIZE);
    memset(f->rpages, 0, (size_t)NR * VG_PAGE_SIZE);
    for (unsigned c = 0; f->mode == FZB_STATIC && c < sizeof(f->region_chunk) /
                         sizeof(f->region_chunk[0]) && f->region_chunk[c]; c++)
        memset(f->region_chunk[c], 0,
               (size_t)f->region_chunk_pages[c] * VG_PAGE_SIZE);
    if (f->at_rest) {
        FZ_CHECK(rf_set_state(&f->rf, VG_XB_INITIALISING) == 0, "Initialising");
        FZ_CHECK(settle_to(f, VG_XB_INITWAIT, true), "a device at rest did "
                 "not go back to InitWait when the frontend reconnected "
                 "(state %u)", rf_backend_state(&f->rf));
        f->at_rest = false;
    }

    FZ_CHECK(rf_setup_rings(&f->rf, f->num) == 0, "rings");
    f->ring_pages = pages_for(vg_ring_desc_bytes(f->num)) +
                    pages_for(vg_ring_avail_bytes(f->num)) +
                    pages_for(vg_ring_used_bytes(f->num));
    if (f->mode == FZB_STATIC)
        write_region_keys(f);
    features = VG_FEATURES_REQUIRED;
    if (b2 & 0x80)
        features |= VG_FEATURE(VIRTIO_RING_F_EVENT_IDX);
    if ((b1 & 0x70) == 0x70)
        features = fz_u64(&f->in);   /* anything, even what was not offered */
    FZ_CHECK(rf_write_keys(&f->rf, features) == 0, "keys");
    rf_set_state(&f->rf, VG_XB_INITIALISED);
    if (settle(f, VG_XB_CONNECTED)) {
        rf_set_state(&f->rf, VG_XB_CONNECTED);
        round_(f);
    }
}

/* Back to rest: the frontend closes, the backend must reach Closed and
 * let go of everything; the guest drops its rings and keys. */
static void input_end(struct fzb *f)
{
    static const char *const keys[] = {
        VG_KEY_FEATURES, VG_KEY_NUM_QUEUES, "queue-0", VG_KEY_REGION_PAGES,
        "region-refs-0", "region-refs-1",
    };
    unsigned live;

    FZ_CHECK(rf_set_state(&f->rf, VG_XB_CLOSING) == 0, "Closing");
    FZ_CHECK(settle_to(f, VG_XB_CLOSED, true), "backend not Closed %d rounds "
             "after the frontend closed (state %u)", SETTLE + DRAIN,
             rf_backend_state(&f->rf));
    rf_set_state(&f->rf, VG_XB_CLOSED);
    for (unsigned i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        rf_remove(&f->rf, keys[i]);
    round_(f);
    FZ_CHECK(rf_backend_state(&f->rf) == VG_XB_CLOSED, "backend left Closed "
             "(state %u) with the frontend Closed", rf_backend_state(&f->rf));
    live = vg_fake_live_mappings(f->w, FE);
    FZ_CHECK(live == 0, "%u guest pages still mapped with the backend Closed",
             live);
    FZ_CHECK(vg_fake_bound_ports(f->w, 0) == 0, "backend ports still bound "
             "with the backend Closed");
    FZ_CHECK(rf_drop_rings(&f->rf) == 0, "dropping the rings");
    if (f->w_revoked) {
        f->wpages = rf_share(&f->rf, NW, true, &f->wref);
        FZ_CHECK(f->wpages, "buffer pages");
    }
    f->at_rest = true;
}

void fzb_run(const uint8_t *data, size_t size, unsigned modes)
{
    struct fzb *f = &g_f;

    fz_quiet_logs();
    fz_in_init(&f->in, data, size);
    f->num = 0;
    f->ring_pages = 0;
    f->w_revoked = false;
    f->used_aliased = false;
    setup(f, modes);
    for (unsigned ops = 0; ops < MAX_OPS && !fz_done(&f->in); ops++) {
        switch (fz_u8(&f->in) % 14) {
        case 0: case 1: op_desc(f); break;
        case 2: op_publish(f); break;
        case 3: case 4: op_chain(f); break;
        case 5: case 6:
            rf_kick(&f->rf);
            round_(f);
            break;
        case 7: round_(f); break;
        case 8: op_data(f); break;
        case 9: op_hdr(f); break;
        case 10: op_ring_field(f); break;
        case 11: op_state(f); break;
        case 12: op_revoke(f); break;
        default:
            if (fz_u8(&f->in) == 0xd1) {   /* the guest dies: session over */
                vg_fake_domain_destroy(f->w, FE);
                round_(f);
                round_(f);
                /* what the kernel still had runs to its end first */
                for (int i = 0; i < DRAIN && vg_fake_live_mappings(f->w, FE);
                     i++)
                    round_(f);
                FZ_CHECK(vg_fake_live_mappings(f->w, FE) == 0,
                         "dead guest still mapped %d rounds after its death",
                         2 + DRAIN);
                rf_close(&f->rf);
                f->rf_open = false;
                daemon_close(f);
                device_close(f);
                return;
            }
            rf_kick(&f->rf);
            break;
        }
    }
    /* Let whatever was published be served. */
    rf_kick(&f->rf);
    round_(f);
    round_(f);
    if (fz_fresh_mode()) {
        daemon_close(f);
        device_close(f);
    } else {
        input_end(f);
    }
}
