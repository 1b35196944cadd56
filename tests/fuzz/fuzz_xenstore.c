/* SPDX-License-Identifier: MIT */
/*
 * fuzz_xenstore / fuzz_parse: everything that reads xenstore values a
 * guest writes.  This file builds two harnesses:
 *
 *  fuzz_parse (fast, built with FZ_PARSERS_ONLY): the strict parsers of common/ (vg_parse_uint,
 *    vg_parse_hex64, vg_parse_ref_list + vg_format_ref_list,
 *    vg_parse_size, vg_parse_guest_stats + vg_format_guest_stats) and the
 *    toolstack's device spec parser (vg_attach_spec_parse), with
 *    round-trip and range checks against an independent reading of the
 *    same string;
 *
 *  fuzz_xenstore (the handshake): vgrantd (the real xenbus state
 *    machine) with a freshly attached device in InitWait, and a guest
 *    that writes fuzzer-chosen frontend keys (features, num-queues,
 *    queue-<n>/size|desc|driver|device|event-channel, stats, region-*,
 *    garbage names; values valid, almost valid or raw), removes them and
 *    moves its state in any order.  The daemon lives as long as the fake
 *    world (FZ_WORLD_USES inputs: starting one per input cost more than
 *    the handshake); each input attaches a device and ends with the
 *    toolstack removing it, which the daemon must follow.
 *    VGRANT_FUZZ_FRESH=1: a fresh daemon per input, ended by vgd_free.
 *    Checked: vgd_run_once never fails, the backend only ever writes a
 *    xenbus state 1..6, maps at most the rings of 8 queues of 1024 while
 *    connected, nothing in Closed, nothing is left mapped or bound once
 *    the device is removed (or after vgd_free), the daemon drops the
 *    removed device, and the guest is left with no grant or port.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <string.h>

#include "fz.h"
#include "rawfront.h"
#include "vgrant/guest_stats.h"
#include "vgrant/toolstack.h"
#include "vgrant/xsutil.h"
#include "vgrantd.h"

#define FE    2
#define DEVID 5

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifdef FZ_PARSERS_ONLY
/* ---------------------------------------------------------------- */
/* parsers                                                           */

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static void fuzz_parsers(struct fz_in *in)
{
    char s[600];
    uint64_t v = 0x5a5a, max;
    uint32_t refs[70], again[70];
    char list[70 * 12];
    struct vg_guest_stats gs, gs2;
    struct vg_attach_spec spec;
    const char *bad = NULL;
    char err[256], line[VG_GUEST_STATS_MAX];
    unsigned count;
    uint8_t which = fz_u8(in);

    max = (which & 0x80) ? fz_u64(in) : fz_u16(in);
    count = 1 + fz_u8(in) % 70;
    fz_str(in, s, sizeof(s));

    switch (which % 6) {
    case 0:
        if (vg_parse_uint(s, max, &v) == 0) {
            FZ_CHECK(all_digits(s) && v <= max &&
                     v == strtoull(s, NULL, 10), "parse_uint('%s') = %" PRIu64,
                     s, v);
        } else {
            FZ_CHECK(errno == EINVAL || errno == ERANGE, "errno %d", errno);
            FZ_CHECK(errno != ERANGE || all_digits(s), "ERANGE for '%s'", s);
        }
        break;
    case 1:
        if (vg_parse_hex64(s, &v) == 0) {
            size_t n = strlen(s);
            FZ_CHECK(n >= 3 && n <= 18 && s[0] == '0' &&
                     (s[1] == 'x' || s[1] == 'X') &&
                     strspn(s + 2, "0123456789abcdefABCDEF") == n - 2 &&
                     v == strtoull(s + 2, NULL, 16), "parse_hex64('%s')", s);
        }
        break;
    case 2:
        if (vg_parse_ref_list(s, refs, count) == 0) {
            FZ_CHECK(vg_format_ref_list(list, sizeof(list), refs, count) == 0,
                     "format of %u refs", count);
            FZ_CHECK(vg_parse_ref_list(list, again, count) == 0 &&
                     !memcmp(refs, again, count * sizeof(refs[0])),
                     "ref list round trip of '%s'", s);
            /* one more or one fewer ref than present is refused */
            FZ_CHECK(vg_parse_ref_list(s, again, count + 1) == -1,
                     "'%s' parsed as %u and %u refs", s, count, count + 1);
        }
        break;
    case 3:
        if (vg_parse_size(s, &v) == 0) {
            char *end;
            unsigned long long base = strtoull(s, &end, 10);
            unsigned shift = *end == 'k' || *end == 'K' ? 10 :
                             *end == 'm' || *end == 'M' ? 20 :
                             *end == 'g' || *end == 'G' ? 30 : 0;
            FZ_CHECK(s[0] >= '0' && s[0] <= '9' &&
                     (uint64_t)base << shift == v &&
                     (shift == 0 || (base >> (64 - shift)) == 0),
                     "parse_size('%s') = %" PRIu64, s, v);
        }
        break;
    case 4:
        if (vg_parse_guest_stats(s, &gs, &bad) == 0) {
            FZ_CHECK(vg_format_guest_stats(line, sizeof(line), &gs) == 0,
                     "format guest stats");
            FZ_CHECK(vg_parse_guest_stats(line, &gs2, NULL) == 0 &&
                     !memcmp(&gs, &gs2, sizeof(gs)), "guest stats round trip");
        } else if (bad) {
            FZ_CHECK(bad >= s && bad <= s + strlen(s), "bad word pointer "
                     "outside the line");
        }
        break;
    default:
        memset(&spec, 0, sizeof(spec));
        err[0] = '\0';
        if (vg_attach_spec_parse(s, &spec, err, sizeof(err)) == 0) {
            FZ_CHECK(memchr(spec.type, 0, sizeof(spec.type)) &&
                     memchr(spec.mode, 0, sizeof(spec.mode)) &&
                     spec.ntkeys <= VG_TKEY_MAX,
                     "unterminated spec field");
            FZ_CHECK(spec.queues <= VG_MAX_QUEUES &&
                     spec.queue_size <= VG_MAX_QUEUE_SIZE &&
                     spec.region_bytes <= VG_MAX_REGION_BYTES &&
                     spec.devid <= (int)VG_MAX_DEVID,
                     "spec out of range: queues %u size %u region %" PRIu64
                     " devid %d", spec.queues, spec.queue_size,
                     spec.region_bytes, spec.devid);
        } else {
            FZ_CHECK(memchr(err, 0, sizeof(err)), "unterminated error");
        }
        break;
    }
}

#else

/* ---------------------------------------------------------------- */
/* handshake                                                         */

static struct fz_world g_fw;
static struct vgd *g_d;          /* lives with g_fw (fz_fresh_mode: per input) */

static const char *const keys[] = {
    "features", "num-queues", "stats", "region-pages", "region-refs-0",
    "state", "queue-0/size", "queue-0/desc", "queue-0/driver",
    "queue-0/device", "queue-0/event-channel", "queue-1/size",
    "queue-1/desc", "queue-1/driver", "queue-1/device",
    "queue-1/event-channel", "queue-7/size", "queue-8/desc", "queue-0",
    "backend", "backend-id", "queue-00/size", "queue-1x/desc",
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

struct hs {
    struct fz_in in;
    struct vgd *d;
    struct rawfront rf;
    uint16_t num;
    struct {
        vg_gref_t desc, avail, used;
        int port;
    } q[2];
};

static void value_for(struct hs *h, char *v, size_t size)
{
    uint8_t kind = fz_u8(&h->in);
    unsigned qi = (kind >> 4) & 1;

    switch (kind % 10) {
    case 0: snprintf(v, size, "%u", fz_u8(&h->in) % 4); break;
    case 1: snprintf(v, size, "%u", 1u << (fz_u8(&h->in) % 12)); break;
    case 2: snprintf(v, size, "0x%llx", (unsigned long long)
                     vg_grant_addr(h->q[qi].desc, kind & 0x20 ? 8 : 0));
            break;
    case 3: snprintf(v, size, "0x%llx", (unsigned long long)
                     vg_grant_addr(kind & 0x20 ? h->q[qi].avail : h->q[qi].used, 0));
            break;
    case 4: snprintf(v, size, "%d", h->q[qi].port + (kind & 0x20 ? 1 : 0)); break;
    case 5: snprintf(v, size, "0x%llx", (unsigned long long)
                     (VG_FEATURES_REQUIRED |
                      ((kind & 0x20) ? VG_FEATURE(VIRTIO_RING_F_EVENT_IDX) : 0) |
                      ((kind & 0x40) ? (1ull << (fz_u8(&h->in) % 64)) : 0)));
            break;
    case 6: snprintf(v, size, "%" PRIu64, fz_u64(&h->in)); break;
    case 7: snprintf(v, size, "0x%" PRIx64, fz_u64(&h->in)); break;
    default: fz_str(&h->in, v, size); break;
    }
}

static void check_round(struct hs *h)
{
    enum vg_xenbus_state st;
    unsigned live;

    FZ_CHECK(vgd_run_once(h->d, 0) == 0, "vgd_run_once failed");
    st = rf_backend_state(&h->rf);
    FZ_CHECK(st >= VG_XB_INITIALISING && st <= VG_XB_CLOSED,
             "backend state %u", st);
    live = vg_fake_live_mappings(g_fw.w, FE);
    /* rings of at most 8 queues of 1024: 4 + 1 + 3 pages each */
    FZ_CHECK(live <= 8 * 8, "%u guest pages mapped", live);
    if (st == VG_XB_CLOSED)
        FZ_CHECK(live == 0, "backend Closed with %u pages mapped", live);
}

static void daemon_free(void)
{
    vgd_free(g_d);
    g_d = NULL;
    FZ_CHECK(vg_fake_live_mappings(g_fw.w, FE) == 0, "mapped after vgd_free");
    FZ_CHECK(vg_fake_bound_ports(g_fw.w, 0) == 0, "bound after vgd_free");
}

static int count_dev(const struct vgd_dev_stats *s, void *arg)
{
    (void)s;
    (void)arg;
    return 1;
}

/* The toolstack removed the device: the daemon must let go of everything
 * and forget it, and have no watch event of it left for the next input. */
static void device_removed(void)
{
    struct pollfd p = { .fd = g_fw.be->ops->xs_fd(g_fw.be), .events = POLLIN };
    int i;

    for (i = 0; i < 64; i++) {
        if (!vgd_foreach_dev(g_d, count_dev, NULL) && poll(&p, 1, 0) == 0)
            break;
        FZ_CHECK(vgd_run_once(g_d, 0) == 0, "vgd_run_once failed");
        FZ_CHECK(vg_fake_live_mappings(g_fw.w, FE) <= 8 * 8, "%u guest pages "
                 "mapped", vg_fake_live_mappings(g_fw.w, FE));
    }
    FZ_CHECK(i < 64, "the daemon kept a removed device, or its events");
    FZ_CHECK(vg_fake_live_mappings(g_fw.w, FE) == 0, "mapped after removal");
    FZ_CHECK(vg_fake_bound_ports(g_fw.w, 0) == 0, "bound after removal");
}

static void fuzz_handshake(struct fz_in *in)
{
    struct hs h;
    struct rf_attach a = { .target = fz_image() };
    struct vgd_options o = { .watch_budget = 4 };
    char path[VG_XS_PATH_MAX], v[200];
    uint8_t shape;

    memset(&h, 0, sizeof(h));
    h.in = *in;
    if (g_d && fz_world_due(&g_fw))
        daemon_free();
    fz_world_get(&g_fw, FE, true);
    shape = fz_u8(&h.in);
    a.queues = (shape & 1) ? "2" : NULL;
    a.queue_size = (shape & 2) ? "16" : NULL;
    a.mode = (shape & 4) ? VG_MODE_COPY : NULL;
    h.num = (shape & 8) ? 16 : 8;
    if (!g_d) {
        g_d = vgd_new(g_fw.be, &o);
        FZ_CHECK(g_d && vgd_start(g_d) == 0, "vgd_start");
    }
    h.d = g_d;
    FZ_CHECK(rf_toolstack_attach(g_fw.ts, FE, DEVID, 0, &a) == 0, "attach");
    FZ_CHECK(rf_open(&h.rf, g_fw.w, FE, DEVID, 0) == 0, "rf_open");
    for (int i = 0; i < 8 && rf_backend_state(&h.rf) != VG_XB_INITWAIT; i++)
        check_round(&h);
    FZ_CHECK(rf_backend_state(&h.rf) == VG_XB_INITWAIT, "never InitWait");

    /* Two queues' worth of rings and ports for values to point at. */
    for (unsigned q = 0; q < 2; q++) {
        FZ_CHECK(rf_setup_rings(&h.rf, h.num) == 0, "rings");
        h.q[q].desc = h.rf.desc_ref;
        h.q[q].avail = h.rf.avail_ref;
        h.q[q].used = h.rf.used_ref;
        h.q[q].port = h.rf.port;
    }
    if (shape & 0x10) {   /* start from a complete, valid set of keys */
        h.rf.desc_ref = h.q[0].desc;
        h.rf.avail_ref = h.q[0].avail;
        h.rf.used_ref = h.q[0].used;
        h.rf.port = h.q[0].port;
        rf_write_keys(&h.rf, VG_FEATURES_REQUIRED);
    }

    for (unsigned ops = 0; ops < 64 && !fz_done(&h.in); ops++) {
        uint8_t op = fz_u8(&h.in);
        const char *key = keys[fz_u8(&h.in) % NKEYS];

        switch (op % 6) {
        case 0: case 1:
            value_for(&h, v, sizeof(v));
            rf_write(&h.rf, key, v);
            break;
        case 2:
            rf_remove(&h.rf, key);
            break;
        case 3:
            rf_set_state(&h.rf, (enum vg_xenbus_state)(fz_u8(&h.in) % 10));
            check_round(&h);
            break;
        case 4:   /* the guest's whole directory goes */
            if (fz_u8(&h.in) == 0x77)
                h.rf.h->ops->xs_rm(h.rf.h, 0, h.rf.fe_path);
            check_round(&h);
            break;
        default:
            check_round(&h);
            break;
        }
    }
    for (int i = 0; i < 3; i++)
        check_round(&h);

    if (fz_fresh_mode())
        daemon_free();
    vg_path(path, sizeof(path), "/local/domain/0/backend/" VG_XS_CLASS "/%u", FE);
    g_fw.ts->ops->xs_rm(g_fw.ts, 0, path);
    vg_path(path, sizeof(path), "/local/domain/%u/device/" VG_XS_CLASS, FE);
    g_fw.ts->ops->xs_rm(g_fw.ts, 0, path);
    if (g_d)
        device_removed();
    rf_close(&h.rf);
    /* rf_close revoked every page rf_share made; the ports are left */
    FZ_CHECK(vg_fake_live_grants(g_fw.w, FE) == 0, "grants left");
    FZ_CHECK(vg_fake_bound_ports(g_fw.w, FE) == 0, "guest ports left");
}

#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_in in;

    fz_quiet_logs();
    fz_in_init(&in, data, size);
#ifdef FZ_PARSERS_ONLY
    fuzz_parsers(&in);
#else
    fuzz_handshake(&in);
#endif
    return 0;
}
