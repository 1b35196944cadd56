/* SPDX-License-Identifier: MIT */
/*
 * Transport modes against a hostile frontend (rawfront): every bad
 * offset, ref, length or permission fails only the request with
 * VIRTIO_BLK_S_IOERR (the device keeps serving), a bad static region
 * refuses the connection, and the persistent cache never grows past its
 * bound however many distinct refs the guest names.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "bigarray.h"
#include "rawfront.h"
#include "transport.h"
#include "vgdrive.h"
#include "vgrant/hyp.h"
#include "vgrant/log.h"
#include "vgrant/xsutil.h"
#include "vgrantd.h"

#define GUEST       1
#define MAX_ROUNDS  200
#define REGION      (16u * 1024)

struct mt {
    struct vg_fake_world *w;
    struct vg_hyp *be;
    struct vgd *d;
    struct rawfront rf;
    char image[64];
};

static void run(struct mt *t, int rounds)
{
    vd_pump(t->d, rounds);
}

static void wait_state(struct mt *t, enum vg_xenbus_state s)
{
    vd_wait_backend_state(t->d, &t->rf, s);
}

/* Device of the given mode up to the point where the frontend keys are
 * to be written; region != 0 sets the backend key "region". */
static struct mt *mt_new(const char *mode, unsigned region,
                         unsigned cache_pages)
{
    struct mt *t = calloc(1, sizeof(*t));
    struct vgd_options o = { .persistent_cache_pages = cache_pages };
    struct rf_attach a = { .mode = mode };
    char be[VG_XS_PATH_MAX];
    int fd;

    assert_non_null(t);
    vg_log_init("test_modes", VG_LOG_ERR);
    snprintf(t->image, sizeof(t->image), "/tmp/vgd-modes-XXXXXX");
    fd = mkstemp(t->image);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 1024 * 1024), 0);
    close(fd);
    a.target = t->image;
    t->w = vg_fake_world_new();
    assert_int_equal(vg_fake_domain_create(t->w, 0), 0);
    assert_int_equal(vg_fake_domain_create(t->w, GUEST), 0);
    t->be = vg_fake_open(t->w, 0);
    assert_int_equal(rf_toolstack_attach(t->be, GUEST, 0, 0, &a), 0);
    if (region) {
        snprintf(be, sizeof(be), "/local/domain/0/backend/%s/%u/0",
                 VG_XS_CLASS, GUEST);
        assert_int_equal(vg_xs_write_fmt(t->be, VG_XS_NO_TX, be,
                                         VG_KEY_REGION, "%u", region), 0);
    }
    t->d = vgd_new(t->be, &o);
    assert_non_null(t->d);
    assert_int_equal(vgd_start(t->d), 0);
    assert_int_equal(rf_open(&t->rf, t->w, GUEST, 0, 0), 0);
    wait_state(t, VG_XB_INITWAIT);
    return t;
}

static void mt_free(struct mt *t)
{
    rf_close(&t->rf);
    vgd_free(t->d);
    assert_int_equal(vg_fake_live_mappings(t->w, GUEST), 0);
    vg_hyp_close(t->be);
    vg_fake_world_free(t->w);
    unlink(t->image);
    free(t);
}

static struct vgd_dev_stats stats_of(struct mt *t)
{
    return vd_dev_stats(t->d, GUEST, 0);
}

/* Share the static region; bad_pages / bad_ref_index distort the keys. */
static uint8_t *share_region(struct mt *t, unsigned pages_key,
                             int bad_ref_index)
{
    vg_gref_t ref;
    uint8_t *p = rf_share(&t->rf, REGION / VG_PAGE_SIZE, true, &ref);
    vg_gref_t refs[REGION / VG_PAGE_SIZE];
    char key[32], val[VG_MAX_XS_VALUE];
    const unsigned npages = REGION / VG_PAGE_SIZE;

    assert_non_null(p);
    snprintf(val, sizeof(val), "%u", pages_key);
    assert_int_equal(rf_write(&t->rf, VG_KEY_REGION_PAGES, val), 0);
    for (unsigned i = 0; i < npages; i++)
        refs[i] = (int)i == bad_ref_index ? 99999u : ref + i;
    for (unsigned k = 0; k * VG_REGION_REFS_PER_KEY < npages; k++) {
        unsigned first = k * VG_REGION_REFS_PER_KEY;
        unsigned n = npages - first < VG_REGION_REFS_PER_KEY ?
                     npages - first : VG_REGION_REFS_PER_KEY;
        snprintf(key, sizeof(key), VG_KEY_REGION_REFS_FMT, k);
        assert_int_equal(vg_format_ref_list(val, sizeof(val), refs + first, n), 0);
        assert_int_equal(rf_write(&t->rf, key, val), 0);
    }
    return p;
}

/* Publish a chain, serve it, return the used length (status via *st). */
static uint32_t do_chain(struct mt *t, const struct rf_buf *b, unsigned n)
{
    uint32_t id, len;

    rf_add_chain(&t->rf, b, n);
    if (!vd_serve_until_used(t->d, &t->rf, &id, &len))
        fail_msg("request never completed");
    return len;
}

static uint8_t blk_do(struct mt *t, struct rf_blk *r)
{
    uint32_t id, len;

    rf_blk_submit(&t->rf, r);
    if (!vd_serve_until_used(t->d, &t->rf, &id, &len))
        fail_msg("request never completed");
    return *r->status;
}

/* ---- static ---- */

static struct mt *static_connected(uint8_t **region)
{
    struct mt *t = mt_new(VG_MODE_STATIC, REGION, 0);

    *region = share_region(t, REGION / VG_PAGE_SIZE, -1);
    vd_connect(t->d, &t->rf, 64);
    return t;
}

static void static_read(struct mt *t, uint8_t *region, uint64_t data_addr,
                        uint32_t data_len, uint8_t expect)
{
    struct virtio_blk_req_hdr hdr = { .type = VIRTIO_BLK_T_IN, .sector = 0 };
    struct rf_buf b[3] = {
        { 0, sizeof(hdr), false },
        { data_addr, data_len, true },
        { 8192, 1, true },
    };

    memcpy(region, &hdr, sizeof(hdr));
    region[8192] = 0xee;
    do_chain(t, b, 3);
    assert_int_equal(region[8192], expect);
}

static void test_static_good_request(void **state)
{
    uint8_t *region;
    struct mt *t = static_connected(&region);

    (void)state;
    static_read(t, region, 4096, 4096, VIRTIO_BLK_S_OK);
    assert_int_equal(stats_of(t).region_bytes, REGION);
    mt_free(t);
}

static void test_hostile_static_offset_outside_region(void **state)
{
    uint8_t *region;
    struct mt *t = static_connected(&region);
    uint64_t maps = t->be->counters.maps;

    (void)state;
    static_read(t, region, REGION - 512, 1024, VIRTIO_BLK_S_IOERR);
    static_read(t, region, REGION, 512, VIRTIO_BLK_S_IOERR);
    /* addr + len wraps around 2^64: must not pass the bounds check */
    static_read(t, region, UINT64_MAX - 255, 512, VIRTIO_BLK_S_IOERR);
    static_read(t, region, (uint64_t)1 << 63 | 4096, 512, VIRTIO_BLK_S_IOERR);
    /* the device keeps serving, with no hypercall per request */
    static_read(t, region, 4096, 512, VIRTIO_BLK_S_OK);
    assert_int_equal(rf_backend_state(&t->rf), VG_XB_CONNECTED);
    assert_int_equal(t->be->counters.maps, maps);
    assert_int_equal(stats_of(t).errors, 4);
    mt_free(t);
}

static void test_hostile_static_region_pages_mismatch(void **state)
{
    struct mt *t = mt_new(VG_MODE_STATIC, REGION, 0);

    (void)state;
    share_region(t, REGION / VG_PAGE_SIZE - 1, -1);
    assert_int_equal(rf_connect(&t->rf, 64), 0);
    wait_state(t, VG_XB_CLOSING);
    assert_int_equal(vg_fake_live_mappings(t->w, GUEST), 0);
    mt_free(t);
}

static void test_hostile_static_region_ref_never_granted(void **state)
{
    struct mt *t = mt_new(VG_MODE_STATIC, REGION, 0);

    (void)state;
    share_region(t, REGION / VG_PAGE_SIZE, 2);
    assert_int_equal(rf_connect(&t->rf, 64), 0);
    wait_state(t, VG_XB_CLOSING);
    assert_int_equal(vg_fake_live_mappings(t->w, GUEST), 0);
    mt_free(t);
}

static void test_hostile_static_region_pages_garbage(void **state)
{
    struct mt *t = mt_new(VG_MODE_STATIC, REGION, 0);

    (void)state;
    share_region(t, REGION / VG_PAGE_SIZE, -1);
    assert_int_equal(rf_write(&t->rf, VG_KEY_REGION_PAGES, "4x"), 0);
    assert_int_equal(rf_connect(&t->rf, 64), 0);
    wait_state(t, VG_XB_CLOSING);
    mt_free(t);
}

/* region-refs-0 that is not exactly region-pages refs: too few, too many,
 * junk, a ref above 32 bits, doubled spaces, a missing key. */
static void test_hostile_static_region_refs_garbage(void **state)
{
    static const char *const bad[] = {
        "8 9 10", "8 9 10 11 12", "8 9 x 11", "8 9 10 4294967296",
        "8  9 10 11", " 8 9 10 11", "8 9 10 11 ", "", NULL,
    };

    (void)state;
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct mt *t = mt_new(VG_MODE_STATIC, REGION, 0);
        char key[32];

        share_region(t, REGION / VG_PAGE_SIZE, -1);
        snprintf(key, sizeof(key), VG_KEY_REGION_REFS_FMT, 0u);
        if (bad[i])
            assert_int_equal(rf_write(&t->rf, key, bad[i]), 0);
        else
            assert_int_equal(rf_remove(&t->rf, key), 0);
        assert_int_equal(rf_connect(&t->rf, 64), 0);
        wait_state(t, VG_XB_CLOSING);
        assert_int_equal(vg_fake_live_mappings(t->w, GUEST), 0);
        mt_free(t);
    }
}

/* A blk request whose data descriptor names data_addr instead. */
static uint8_t blk_do_addr(struct mt *t, struct rf_blk *r, uint64_t data_addr)
{
    bool dev_writes = r->hdr->type == VIRTIO_BLK_T_IN;
    struct rf_buf b[3] = {
        { vg_grant_addr(r->hdr_ref, 0), 16, false },
        { data_addr, r->data_len, dev_writes },
        { vg_grant_addr(r->status_ref, 0), 1, true },
    };

    *r->status = 0xff;
    do_chain(t, b, 3);
    return *r->status;
}

/* ---- copy ---- */

static struct mt *connected(const char *mode, unsigned cache_pages)
{
    struct mt *t = mt_new(mode, 0, cache_pages);

    vd_connect(t->d, &t->rf, 64);
    return t;
}

static void test_hostile_copy_ref_never_granted(void **state)
{
    struct mt *t = connected(VG_MODE_COPY, 0);
    struct rf_blk r;

    (void)state;
    assert_int_equal(rf_blk_prepare(&t->rf, &r, VIRTIO_BLK_T_OUT, 0, 4096,
                                    false), 0);
    /* the data descriptor names a ref the guest never granted */
    assert_int_equal(blk_do_addr(t, &r, vg_grant_addr(99999, 0)),
                     VIRTIO_BLK_S_IOERR);
    assert_int_equal(t->be->counters.maps, 3);   /* rings only */
    /* and the device still serves good requests */
    assert_int_equal(rf_blk_prepare(&t->rf, &r, VIRTIO_BLK_T_OUT, 0, 4096,
                                    false), 0);
    assert_int_equal(blk_do(t, &r), VIRTIO_BLK_S_OK);
    assert_int_equal(rf_backend_state(&t->rf), VG_XB_CONNECTED);
    mt_free(t);
}

static void test_hostile_copy_readonly_grant_written(void **state)
{
    struct mt *t = connected(VG_MODE_COPY, 0);
    struct rf_blk r;

    (void)state;
    /* a read whose data buffer is granted read-only: the copy back is
     * refused by the hypervisor, the status still says IOERR */
    assert_int_equal(rf_blk_prepare(&t->rf, &r, VIRTIO_BLK_T_IN, 0, 4096,
                                    true), 0);
    memset(r.data, 0x5a, 4096);
    assert_int_equal(blk_do(t, &r), VIRTIO_BLK_S_IOERR);
    for (int i = 0; i < 4096; i++)
        assert_int_equal(r.data[i], 0x5a);
    assert_true(stats_of(t).errors >= 1);
    assert_int_equal(rf_backend_state(&t->rf), VG_XB_CONNECTED);
    mt_free(t);
}

static void test_hostile_copy_bad_address(void **state)
{
    struct mt *t = connected(VG_MODE_AUTO, 0);
    struct rf_blk r;

    (void)state;
    assert_int_equal(rf_blk_prepare(&t->rf, &r, VIRTIO_BLK_T_IN, 0, 512,
                                    false), 0);
    /* no grant bit: auto's copy path refuses it */
    assert_int_equal(blk_do_addr(t, &r, 0x1000), VIRTIO_BLK_S_IOERR);
    mt_free(t);
}

/* ---- persistent ---- */

static void test_hostile_persistent_cache_bound(void **state)
{
    struct mt *t = connected(VG_MODE_PERSISTENT, 8);
    struct vgd_dev_stats s;

    (void)state;
    /* every request in fresh pages: 3 distinct refs per request */
    for (int i = 0; i < 40; i++) {
        struct rf_blk r;

        assert_int_equal(rf_blk_prepare(&t->rf, &r, VIRTIO_BLK_T_OUT, 0, 4096,
                                        false), 0);
        assert_int_equal(blk_do(t, &r), VIRTIO_BLK_S_OK);
        assert_true(vg_fake_live_mappings(t->w, GUEST) <= 3 + 8);
    }
    s = stats_of(t);
    assert_true(s.cache_size <= 8);
    assert_true(s.cache_evictions >= 40 * 3 - 8);
    mt_free(t);
}

static void test_hostile_persistent_request_larger_than_cache(void **state)
{
    struct mt *t = connected(VG_MODE_PERSISTENT, 2);
    struct rf_blk r;

    (void)state;
    /* 16 data pages with a 2-page cache: served, cache stays bounded,
     * the extra pages are unmapped when the request completes */
    assert_int_equal(rf_blk_prepare(&t->rf, &r, VIRTIO_BLK_T_OUT, 0, 65536,
                                    false), 0);
    assert_int_equal(blk_do(t, &r), VIRTIO_BLK_S_OK);
    assert_true(stats_of(t).cache_size <= 2);
    assert_true(vg_fake_live_mappings(t->w, GUEST) <= 3 + 2);
    mt_free(t);
}

static void test_hostile_persistent_ref_never_granted(void **state)
{
    struct mt *t = connected(VG_MODE_PERSISTENT, 0);
    struct rf_blk r;

    (void)state;
    assert_int_equal(rf_blk_prepare(&t->rf, &r, VIRTIO_BLK_T_OUT, 0, 4096,
                                    false), 0);
    assert_int_equal(blk_do_addr(t, &r, vg_grant_addr(99999, 0)),
                     VIRTIO_BLK_S_IOERR);
    assert_int_equal(rf_backend_state(&t->rf), VG_XB_CONNECTED);
    mt_free(t);
}

/* ---- review findings (issue 13) ---- */

/* Every line the daemon logs, as handed to the log sink. */
struct logcap {
    char line[64][1024];
    unsigned n;
};

static void cap_sink(enum vg_log_level level, const char *msg, void *arg)
{
    struct logcap *c = arg;

    (void)level;
    if (c->n < sizeof(c->line) / sizeof(c->line[0]))
        snprintf(c->line[c->n++], sizeof(c->line[0]), "%s", msg);
}

/* A frontend key that forges a log line: region-refs-0 holding a newline
 * and an ESC sequence is logged as one line, with both escaped. */
static void test_hostile_static_region_refs_log_escaped(void **state)
{
    static const char forged[] =
        "8 9\x1b[2J\nvgrantd: error: dom 7 dev 0: forged 10 11";
    struct mt *t = mt_new(VG_MODE_STATIC, REGION, 0);
    struct logcap *cap = calloc(1, sizeof(*cap));
    char key[32];
    bool seen = false;

    (void)state;
    assert_non_null(cap);
    share_region(t, REGION / VG_PAGE_SIZE, -1);
    snprintf(key, sizeof(key), VG_KEY_REGION_REFS_FMT, 0u);
    assert_int_equal(rf_write(&t->rf, key, forged), 0);
    vg_log_set_sink(cap_sink, cap);
    assert_int_equal(rf_connect(&t->rf, 64), 0);
    wait_state(t, VG_XB_CLOSING);
    vg_log_set_sink(NULL, NULL);
    for (unsigned i = 0; i < cap->n; i++) {
        /* no control character of the guest's reaches the log */
        for (const char *p = cap->line[i]; *p; p++)
            assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
        if (strstr(cap->line[i], key)) {
            seen = true;
            assert_non_null(strstr(cap->line[i], "\\x1b[2J\\x0avgrantd"));
        }
    }
    assert_true(seen);
    free(cap);
    mt_free(t);
}

/* Copy mode: GET_ID into a data buffer longer than the 20-byte id.  The
 * model writes the id and the status, nothing else; the guest must get
 * exactly those bytes back (no stale bounce byte of an earlier request)
 * and a used length of exactly id + status. */
static void test_hostile_copy_get_id_exact_copy_back(void **state)
{
    struct mt *t = connected(VG_MODE_COPY, 0);
    struct rf_blk w, r;
    uint32_t len, id;
    char expect[VIRTIO_BLK_ID_BYTES] = { 0 };

    (void)state;
    /* an earlier write leaves its data in the private bounce buffer */
    assert_int_equal(rf_blk_prepare(&t->rf, &w, VIRTIO_BLK_T_OUT, 0, 512,
                                    false), 0);
    memset(w.data, 0x77, 512);
    assert_int_equal(blk_do(t, &w), VIRTIO_BLK_S_OK);

    assert_int_equal(rf_blk_prepare(&t->rf, &r, VIRTIO_BLK_T_GET_ID, 0, 64,
                                    false), 0);
    memset(r.data, 0xa5, 64);
    rf_blk_submit(&t->rf, &r);
    rf_kick(&t->rf);
    for (int i = 0; i < MAX_ROUNDS && !rf_get_used(&t->rf, &id, &len); i++) {
        run(t, 1);
        assert_true(i + 1 < MAX_ROUNDS);
    }
    assert_int_equal(*r.status, VIRTIO_BLK_S_OK);
    snprintf(expect, sizeof(expect), "vgrant-%u-0", GUEST);
    assert_memory_equal(r.data, expect, VIRTIO_BLK_ID_BYTES);
    for (unsigned i = VIRTIO_BLK_ID_BYTES; i < 64; i++)
        if (r.data[i] != 0xa5)
            fail_msg("data byte %u is 0x%02x: the model never wrote it", i,
                     r.data[i]);
    assert_int_equal(len, VIRTIO_BLK_ID_BYTES + 1);
    mt_free(t);
}

/* A guest failing every request cannot flood the log: the transport's
 * warnings are rate-limited (log.h), the rest are counted and reported. */
static void test_hostile_bad_request_flood_log_bounded(void **state)
{
    uint8_t *region;
    struct mt *t = static_connected(&region);
    struct logcap *cap = calloc(1, sizeof(*cap));
    unsigned warned = 0, summary = 0;

    (void)state;
    assert_non_null(cap);
    vg_log_init("test_modes", VG_LOG_WARN);
    vg_log_set_sink(cap_sink, cap);
    for (int i = 0; i < 50; i++)
        static_read(t, region, REGION, 512, VIRTIO_BLK_S_IOERR);
    assert_int_equal(stats_of(t).errors, 50);
    mt_free(t);     /* teardown reports what was not logged */
    vg_log_set_sink(NULL, NULL);
    vg_log_init("test_modes", VG_LOG_ERR);
    for (unsigned i = 0; i < cap->n; i++) {
        if (strstr(cap->line[i], "outside the"))
            warned++;
        if (strstr(cap->line[i], "50 failed requests in all: suppressed "))
            summary++;
    }
    /* VG_RL_BURST per window (a second one only on a very slow run) */
    assert_true(warned >= VG_RL_BURST && warned <= 2 * VG_RL_BURST);
    assert_int_equal(summary, 1);
    free(cap);
}

/* Touch one byte in a child; true if the child died of SIGSEGV.  The
 * child restores the default handler first (ASan would report instead). */
static bool touch_faults(volatile uint8_t *p)
{
    int status;
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGSEGV, SIG_DFL);
        signal(SIGBUS, SIG_DFL);
        *p = 0x5a;
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFSIGNALED(status) &&
           (WTERMSIG(status) == SIGSEGV || WTERMSIG(status) == SIGBUS);
}

/* Each request slot's copy-mode bounce pages are exactly max_pages pages,
 * zeroed, between two inaccessible guard pages: a byte written past
 * either end faults (in production too), it does not land in other heap
 * data or in the next request's bytes. */
static void test_copier_bounce_guard_pages(void **state)
{
    struct vgd_copier cp;
    const unsigned pages = 3;
    size_t bytes = (size_t)pages * VG_PAGE_SIZE;

    (void)state;
    assert_int_equal(vgd_copier_init(&cp, pages, 4, 2), 0);
    assert_non_null(cp.bounce);
    for (size_t i = 0; i < bytes; i++)
        assert_int_equal(cp.bounce[i], 0);
    memset(cp.bounce, 0xa5, bytes);
    assert_false(touch_faults(cp.bounce));
    assert_false(touch_faults(cp.bounce + bytes - 1));
    assert_true(touch_faults(cp.bounce + bytes));
    assert_true(touch_faults(cp.bounce - 1));
    assert_ptr_equal(cp.slot[0].bounce, cp.bounce);
    assert_true(cp.slot[1].bounce > cp.bounce + bytes);
    memset(cp.slot[1].bounce, 0x5a, bytes);
    assert_false(touch_faults(cp.slot[1].bounce + bytes - 1));
    assert_true(touch_faults(cp.slot[1].bounce + bytes));
    assert_true(touch_faults(cp.slot[1].bounce - 1));
    assert_int_equal(cp.bounce[bytes - 1], 0xa5);
    vgd_copier_free(&cp);
    assert_null(cp.bounce);
    assert_int_equal(vgd_copier_init(&cp, 0, 4, 1), -1);
    assert_int_equal(errno, EINVAL);
}

/* Pages of the bounce area in memory now (mincore). */
static unsigned resident_pages(const uint8_t *p, size_t pages)
{
    unsigned char vec[64];
    unsigned n = 0;

    assert_true(pages <= sizeof(vec));
    assert_int_equal(mincore((void *)p, pages * VG_PAGE_SIZE, vec), 0);
    for (size_t i = 0; i < pages; i++)
        n += vec[i] & 1;
    return n;
}

/* vgd_copier_release really gives a slot's pages past `keep` back to the
 * kernel (they read as zeros), keeps the first ones and their bytes,
 * leaves other slots and the guard pages alone, and keeps the count. */
static void test_copier_release_gives_pages_back(void **state)
{
    struct vgd_copier cp;
    const unsigned pages = 32;
    size_t bytes = (size_t)pages * VG_PAGE_SIZE;

    (void)state;
    if (sysconf(_SC_PAGESIZE) != VG_PAGE_SIZE)
        skip();
    assert_int_equal(vgd_copier_init(&cp, pages, 4, 2), 0);
    memset(cp.slot[0].bounce, 0x11, bytes);
    memset(cp.slot[1].bounce, 0x22, bytes);
    vgd_copier_touch(&cp, 0, pages);
    vgd_copier_touch(&cp, 1, pages);
    vgd_copier_touch(&cp, 1, 3);            /* a high-water mark */
    vgd_copier_touch(&cp, 1, pages + 99);   /* clamped to the slot */
    assert_int_equal(cp.resident, 2 * pages);
    assert_int_equal(resident_pages(cp.slot[1].bounce, pages), pages);

    assert_int_equal(vgd_copier_release(&cp, 1, 4), pages - 4);
    assert_int_equal(cp.resident, pages + 4);
    assert_int_equal(cp.slot[1].touched, 4);
    assert_int_equal(resident_pages(cp.slot[1].bounce, pages), 4);
    assert_int_equal(resident_pages(cp.slot[0].bounce, pages), pages);
    assert_int_equal(cp.slot[1].bounce[4 * VG_PAGE_SIZE - 1], 0x22);
    assert_int_equal(cp.slot[1].bounce[4 * VG_PAGE_SIZE], 0);
    assert_int_equal(cp.slot[1].bounce[bytes - 1], 0);
    assert_true(touch_faults(cp.slot[1].bounce + bytes));
    assert_int_equal(cp.slot[0].bounce[bytes - 1], 0x11);
    /* nothing more to give back */
    assert_int_equal(vgd_copier_release(&cp, 1, 4), 0);
    assert_int_equal(vgd_copier_release(&cp, 1, 8), 0);
    vgd_copier_free(&cp);
}

/* The per-queue arrays sized for the worst case (copy segments, grant
 * refs, persistent iovecs) are zeroed and end exactly at an inaccessible
 * guard page: one element past the end faults. */
static void test_big_array_guard_page(void **state)
{
    const size_t n[] = { 1, 3, 1000, 70000 };

    (void)state;
    for (unsigned k = 0; k < sizeof(n) / sizeof(n[0]); k++) {
        struct vg_copy_seg *a = vgd_big_calloc(n[k], sizeof(*a));
        const uint8_t *b = (const uint8_t *)a;

        assert_non_null(a);
        assert_int_equal((uintptr_t)a % _Alignof(struct vg_copy_seg), 0);
        for (size_t i = 0; i < n[k] * sizeof(*a); i++)
            assert_int_equal(b[i], 0);
        memset(a, 0xa5, n[k] * sizeof(*a));
        assert_false(touch_faults((uint8_t *)&a[n[k] - 1] + sizeof(*a) - 1));
        assert_true(touch_faults((uint8_t *)&a[n[k]]));
        vgd_big_free(a, n[k], sizeof(*a));
    }
    vgd_big_free(NULL, 1, 1);
    assert_null(vgd_big_calloc(0, 8));
    assert_int_equal(errno, EINVAL);
    assert_null(vgd_big_calloc(SIZE_MAX / 2, 4));
    assert_int_equal(errno, ENOMEM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_static_good_request),
        cmocka_unit_test(test_hostile_static_offset_outside_region),
        cmocka_unit_test(test_hostile_static_region_pages_mismatch),
        cmocka_unit_test(test_hostile_static_region_ref_never_granted),
        cmocka_unit_test(test_hostile_static_region_pages_garbage),
        cmocka_unit_test(test_hostile_static_region_refs_garbage),
        cmocka_unit_test(test_hostile_copy_ref_never_granted),
        cmocka_unit_test(test_hostile_copy_readonly_grant_written),
        cmocka_unit_test(test_hostile_copy_bad_address),
        cmocka_unit_test(test_hostile_persistent_cache_bound),
        cmocka_unit_test(test_hostile_persistent_request_larger_than_cache),
        cmocka_unit_test(test_hostile_persistent_ref_never_granted),
        cmocka_unit_test(test_hostile_static_region_refs_log_escaped),
        cmocka_unit_test(test_hostile_copy_get_id_exact_copy_back),
        cmocka_unit_test(test_hostile_bad_request_flood_log_bounded),
        cmocka_unit_test(test_copier_bounce_guard_pages),
        cmocka_unit_test(test_copier_release_gives_pages_back),
        cmocka_unit_test(test_big_array_guard_page),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
