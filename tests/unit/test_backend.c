/* SPDX-License-Identifier: MIT */
/*
 * vgrantd against hand-crafted frontends (rawfront) in the fake world:
 * the happy path and every hostile input the backend must survive.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "rawfront.h"
#include "vgdrive.h"
#include "vgrant/log.h"
#include "vgrantd.h"

#define IMAGE_SECTORS 128u
#define FEATURES_STD  (VG_FEATURES_REQUIRED | VG_FEATURE(VIRTIO_RING_F_EVENT_IDX))
#define MAX_ROUNDS    200

/* ------------------------------------------------------------------ */
/* fixture                                                             */

struct tw {
    struct vg_fake_world *w;
    struct vg_hyp *be;         /* vgrantd's handle (dom0) */
    struct vg_hyp *ts;         /* the toolstack's handle (dom0) */
    struct vgd *d;
    char image[64];
    char image_ro[64];
};

static void fill_image(const char *path)
{
    int fd = open(path, O_RDWR);
    uint8_t sector[VIRTIO_BLK_SECTOR_SIZE];

    assert_true(fd >= 0);
    for (unsigned s = 0; s < IMAGE_SECTORS; s++) {
        memset(sector, (int)(s & 0xff), sizeof(sector));
        assert_int_equal(pwrite(fd, sector, sizeof(sector),
                                (off_t)s * VIRTIO_BLK_SECTOR_SIZE),
                         (ssize_t)sizeof(sector));
    }
    close(fd);
}

static void make_image(char *path, size_t size)
{
    int fd;

    snprintf(path, size, "/tmp/vgd-test-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    fill_image(path);
}

static struct tw *tw_new_opts(const struct vgd_options *o);

static struct tw *tw_new(unsigned budget)
{
    struct vgd_options o = { .budget_per_queue = budget };

    return tw_new_opts(&o);
}

static struct tw *tw_new_opts(const struct vgd_options *opts)
{
    struct tw *t = calloc(1, sizeof(*t));
    struct vgd_options o = *opts;

    assert_non_null(t);
    t->w = vg_fake_world_new();
    assert_non_null(t->w);
    t->be = vg_fake_open(t->w, 0);
    t->ts = vg_fake_open(t->w, 0);
    assert_non_null(t->be);
    assert_non_null(t->ts);
    make_image(t->image, sizeof(t->image));
    make_image(t->image_ro, sizeof(t->image_ro));
    t->d = vgd_new(t->be, &o);
    assert_non_null(t->d);
    assert_int_equal(vgd_start(t->d), 0);
    return t;
}

static void tw_free(struct tw *t)
{
    vgd_free(t->d);
    vg_hyp_close(t->be);
    vg_hyp_close(t->ts);
    vg_fake_world_free(t->w);
    unlink(t->image);
    unlink(t->image_ro);
    free(t);
}

static void capture_abort(void);

static void pump(struct tw *t, int rounds)
{
    vd_pump(t->d, rounds);
}

static void wait_backend_state(struct tw *t, struct rawfront *rf,
                               enum vg_xenbus_state s)
{
    vd_wait_backend_state(t->d, rf, s);
}

static void ensure_domain(struct tw *t, uint16_t dom)
{
    if (vg_fake_domain_create(t->w, dom))
        assert_int_equal(errno, EEXIST);
}

/* Toolstack attach + open the guest side, up to backend InitWait. */
static void attach(struct tw *t, struct rawfront *rf, uint16_t dom,
                   unsigned devid, const struct rf_attach *a)
{
    struct rf_attach dflt = { .target = t->image };

    ensure_domain(t, dom);
    assert_int_equal(rf_toolstack_attach(t->ts, dom, devid, 0, a ? a : &dflt), 0);
    assert_int_equal(rf_open(rf, t->w, dom, devid, 0), 0);
    wait_backend_state(t, rf, VG_XB_INITWAIT);
}

static void attach_connect(struct tw *t, struct rawfront *rf, uint16_t dom,
                           unsigned devid, uint16_t num,
                           const struct rf_attach *a)
{
    attach(t, rf, dom, devid, a);
    vd_connect(t->d, rf, num);
}

/* Kick and serve until the request completes; returns its status. */
static uint8_t blk_complete(struct tw *t, struct rawfront *rf,
                            struct rf_blk *r, uint32_t *len_out)
{
    uint32_t id, len;

    if (!vd_serve_until_used(t->d, rf, &id, &len))
        fail_msg("request never completed");
    assert_int_equal(id, r->head);
    if (len_out)
        *len_out = len;
    return *r->status;
}

static uint8_t blk_do(struct tw *t, struct rawfront *rf, struct rf_blk *r)
{
    rf_blk_submit(rf, r);
    return blk_complete(t, rf, r, NULL);
}

static struct vgd_dev_stats dev_stats(struct tw *t, uint16_t dom, unsigned devid)
{
    return vd_dev_stats(t->d, dom, devid);
}

static off_t file_size(const char *path)
{
    struct stat st;

    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

static void read_sector(const char *path, uint64_t s, uint8_t *buf)
{
    int fd = open(path, O_RDONLY);

    assert_true(fd >= 0);
    assert_int_equal(pread(fd, buf, VIRTIO_BLK_SECTOR_SIZE,
                           (off_t)(s * VIRTIO_BLK_SECTOR_SIZE)),
                     VIRTIO_BLK_SECTOR_SIZE);
    close(fd);
}

static bool sector_is(const char *path, uint64_t s, uint8_t v)
{
    uint8_t buf[VIRTIO_BLK_SECTOR_SIZE];

    read_sector(path, s, buf);
    for (unsigned i = 0; i < sizeof(buf); i++)
        if (buf[i] != v)
            return false;
    return true;
}

/* Capture what the daemon logs (log.c writes to stderr). */
static int saved_stderr = -1;
static FILE *capture_file;

static void capture_start(void)
{
    fflush(stderr);
    capture_file = tmpfile();
    assert_non_null(capture_file);
    saved_stderr = dup(2);
    dup2(fileno(capture_file), 2);
}

static char *capture_stop(void)
{
    long n;
    char *buf;

    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    saved_stderr = -1;
    n = ftell(capture_file);
    buf = calloc(1, (size_t)n + 1);
    assert_non_null(buf);
    rewind(capture_file);
    assert_int_equal(fread(buf, 1, (size_t)n, capture_file), (size_t)n);
    fclose(capture_file);
    fputs(buf, stderr);     /* still show it */
    return buf;
}

/* Before failing inside a capture: give cmocka its stderr back. */
static void capture_abort(void)
{
    if (saved_stderr >= 0)
        free(capture_stop());
}

static void assert_log_has(const char *log, const char *needle)
{
    if (!strstr(log, needle))
        fail_msg("log lacks \"%s\"", needle);
}

/* ------------------------------------------------------------------ */
/* happy path                                                          */

static void test_happy_path_read_write_flush_get_id(void **state)
{
    struct tw *t = tw_new(0);
    struct rawfront rf;
    struct rf_blk r;
    uint64_t features, v;
    uint32_t len;
    char id[VIRTIO_BLK_ID_BYTES + 1] = { 0 };
    (void)state;

    attach(t, &rf, 1, 0, NULL);
    /* published device keys */
    assert_int_equal(vg_xs_read_uint(rf.h, 0, rf.be_path, VG_KEY_DEVICE_ID,
                                     255, &v), 0);
    assert_int_equal(v, VIRTIO_ID_BLOCK);
    assert_int_equal(vg_xs_read_hex64(rf.h, 0, rf.be_path, VG_KEY_FEATURES,
                                      &features), 0);
    assert_true((features & FEATURES_STD) == FEATURES_STD);
    assert_true(features & VG_FEATURE(VIRTIO_BLK_F_FLUSH));
    assert_false(features & VG_FEATURE(VIRTIO_BLK_F_RO));
    assert_int_equal(vg_xs_read_uint(rf.h, 0, rf.be_path, VG_KEY_MAX_QUEUE_SIZE,
                                     VG_MAX_QUEUE_SIZE, &v), 0);
    assert_int_equal(v, 256);
    {
        char *cfg = vg_xs_read_str(rf.h, 0, rf.be_path, VG_KEY_CONFIG);
        assert_non_null(cfg);
        /* capacity, little-endian, first 8 bytes */
        assert_memory_equal(cfg, "8000000000000000", 16);
        free(cfg);
    }

    assert_int_equal(rf_connect(&rf, 64), 0);
    wait_backend_state(t, &rf, VG_XB_CONNECTED);

    /* write 2 sectors at sector 3 */
    assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_OUT, 3, 1024, false), 0);
    memset(r.data, 0xa5, 512);
    memset(r.data + 512, 0x5a, 512);
    assert_int_equal(blk_do(t, &rf, &r), VIRTIO_BLK_S_OK);
    assert_true(sector_is(t->image, 3, 0xa5));
    assert_true(sector_is(t->image, 4, 0x5a));
    assert_true(sector_is(t->image, 5, 5));

    /* read 3 sectors at sector 2 into a 2-page buffer */
    assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_IN, 2, 1536, false), 0);
    rf_blk_submit(&rf, &r);
    assert_int_equal(blk_complete(t, &rf, &r, &len), VIRTIO_BLK_S_OK);
    assert_int_equal(len, 1536 + 1);
    for (unsigned i = 0; i < 512; i++) {
        assert_int_equal(r.data[i], 2);
        assert_int_equal(r.data[512 + i], 0xa5);
        assert_int_equal(r.data[1024 + i], 0x5a);
    }

    /* a read crossing a page boundary: 8 sectors = 4096 bytes at offset 0
     * of a 2-page grant run is still one page; use 16 sectors */
    assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_IN, 16, 8192, false), 0);
    assert_int_equal(blk_do(t, &rf, &r), VIRTIO_BLK_S_OK);
    assert_int_equal(r.data[0], 16);
    assert_int_equal(r.data[8191], 31);

    assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_FLUSH, 0, 0, false), 0);
    assert_int_equal(blk_do(t, &rf, &r), VIRTIO_BLK_S_OK);

    assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_GET_ID, 0,
                                    VIRTIO_BLK_ID_BYTES, false), 0);
    assert_int_equal(blk_do(t, &rf, &r), VIRTIO_BLK_S_OK);
    memcpy(id, r.data, VIRTIO_BLK_ID_BYTES);
    assert_string_equal(id, "vgrant-1-0");

    {
        struct vgd_dev_stats s = dev_stats(t, 1, 0);
        assert_int_equal(s.state, VG_XB_CONNECTED);
        assert_int_equal(s.requests, 5);
        assert_int_equal(s.errors, 0);
        /* only the three ring areas stay mapped between requests */
        assert_int_equal(s.live_mappings, 3);
        assert_int_equal(vg_fake_live_mappings(t->w, 1), 3);
        /* at most two map batches per request, plus 3 for the rings */
        assert_true(s.map_batches <= 3 + 2 * 5);
        assert_int_equal(s.map_batches - 3, s.unmap_batches);
        assert_true(s.bytes_written >= 1536 + 8192);
    }

    /* orderly close by the frontend */
    assert_int_equal(rf_set_state(&rf, VG_XB_CLOSING), 0);
    wait_backend_state(t, &rf, VG_XB_CLOSED);
    assert_int_equal(vg_fake_live_mappings(t->w, 1), 0);
    assert_int_equal(vg_fake_bound_ports(t->w, 0), 0);

    /* reconnect */
    assert_int_equal(rf_set_state(&rf, VG_XB_CLOSED), 0);
    assert_int_equal(rf_set_state(&rf, VG_XB_INITIALISING), 0);
    wait_backend_state(t, &rf, VG_XB_INITWAIT);
    rf.avail_idx = rf.used_seen = rf.next_desc = 0;
    memset(rf.avail, 0, VG_PAGE_SIZE);
    assert_int_equal(rf_set_state(&rf, VG_XB_INITIALISED), 0);
    wait_backend_state(t, &rf, VG_XB_CONNECTED);
    assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_IN, 3, 512, false), 0);
    assert_int_equal(blk_do(t, &rf, &r), VIRTIO_BLK_S_OK);
    assert_int_equal(r.data[0], 0xa5);

    rf_close(&rf);
    tw_free(t);
}

/* Rings in one allocation, as Linux lays them out: the driver and device
 * areas start inside a page, the device area even straddles two pages. */
static void test_ring_areas_at_page_offsets(void **state)
{
    struct tw *t = tw_new(0);
    struct rawfront rf;
    struct rf_blk r;
    (void)state;

    attach(t, &rf, 1, 0, NULL);
    /* 64 entries: desc 1024 bytes at 0, driver area (134 bytes) at 1026,
     * device area (518 bytes) at 8188..8705, across pages 1 and 2 */
    assert_int_equal(rf_setup_rings_at(&rf, 64, 3, 1026, 2 * VG_PAGE_SIZE - 4), 0);
    assert_int_equal(rf_write_keys(&rf, FEATURES_STD), 0);
    assert_int_equal(rf_set_state(&rf, VG_XB_INITIALISED), 0);
    wait_backend_state(t, &rf, VG_XB_CONNECTED);
    assert_int_equal(rf_set_state(&rf, VG_XB_CONNECTED), 0);
    pump(t, 2);

    for (unsigned i = 0; i < 80; i++) {     /* wraps the 64-entry ring */
        assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_OUT, i % 16, 512,
                                        false), 0);
        memset(r.data, (int)(0x40 + i), 512);
        assert_int_equal(blk_do(t, &rf, &r), VIRTIO_BLK_S_OK);
        assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_IN, i % 16, 512,
                                        false), 0);
        assert_int_equal(blk_do(t, &rf, &r), VIRTIO_BLK_S_OK);
        assert_int_equal(r.data[0], 0x40 + i);
        assert_int_equal(r.data[511], 0x40 + i);
        /* free the request's pages so the share table does not fill */
        for (unsigned k = 0; k < RF_MAX_SHARES; k++)
            if (rf.shares[k].addr == r.hdr || rf.shares[k].addr == r.data ||
                rf.shares[k].addr == r.status) {
                rf.h->ops->unshare_pages(rf.h, rf.shares[k].addr,
                                         rf.shares[k].count);
                rf.shares[k].addr = NULL;
            }
    }
    /* desc 1 page, driver area 1, device area 2 */
    assert_int_equal(dev_stats(t, 1, 0).live_mappings, 4);
    assert_int_equal(dev_stats(t, 1, 0).errors, 0);

    assert_int_equal(rf_set_state(&rf, VG_XB_CLOSING), 0);
    wait_backend_state(t, &rf, VG_XB_CLOSED);
    assert_int_equal(vg_fake_live_mappings(t->w, 1), 0);
    rf_close(&rf);
    tw_free(t);
}

/* A device area whose offset + size runs past the granted run: the
 * connection fails cleanly, nothing stays mapped. */
static void test_hostile_ring_area_past_granted_run(void **state)
{
    struct tw *t = tw_new(0);
    struct rawfront rf;
    char addr[32], *log;
    (void)state;

    attach(t, &rf, 1, 0, NULL);
    assert_int_equal(rf_setup_rings(&rf, 64), 0);
    assert_int_equal(rf_write_keys(&rf, FEATURES_STD), 0);
    /* the used ring (518 bytes) at offset 4092 of its one granted page */
    snprintf(addr, sizeof(addr), "0x%llx",
             (unsigned long long)vg_grant_addr(rf.used_ref, VG_PAGE_SIZE - 4));
    assert_int_equal(rf_write(&rf, "queue-0/device", addr), 0);
    capture_start();
    assert_int_equal(rf_set_state(&rf, VG_XB_INITIALISED), 0);
    wait_backend_state(t, &rf, VG_XB_CLOSING);
    log = capture_stop();
    assert_log_has(log, "dom 1 dev 0: queue 0 device");
    assert_log_has(log, "refs cannot be mapped writable");
    free(log);
    assert_int_equal(vg_fake_live_mappings(t->w, 1), 0);
    assert_int_equal(dev_stats(t, 1, 0).live_mappings, 0);
    assert_int_equal(rf_set_state(&rf, VG_XB_CLOSED), 0);
    wait_backend_state(t, &rf, VG_XB_CLOSED);
    rf_close(&rf);
    tw_free(t);
}

/* ------------------------------------------------------------------ */
/* hostile xenstore                                                    */

/* One bad frontend key setup; apply() spoils a correctly written set. */
struct bad_keys {
    const char *name;
    const char *key;           /* key to overwrite (NULL: remove `rm`) */
    const char *value;
    const char *rm;
    const char *expect_log;
};

static void run_bad_keys(const struct bad_keys *cases, size_t n)
{
    struct tw *t = tw_new(0);
    struct rawfront good, rf;
    struct rf_blk r;
    (void)good;

    /* a healthy device of another guest that must keep working */
    attach_connect(t, &good, 2, 0, 64, NULL);

    for (size_t i = 0; i < n; i++) {
        char *log;
        char who[32];

        attach(t, &rf, 1, (unsigned)i, NULL);
        assert_int_equal(rf_setup_rings(&rf, 64), 0);
        assert_int_equal(rf_write_keys(&rf, FEATURES_STD), 0);
        if (cases[i].key)
            assert_int_equal(rf_write(&rf, cases[i].key, cases[i].value), 0);
        if (cases[i].rm)
            assert_int_equal(rf_remove(&rf, cases[i].rm), 0);
        capture_start();
        assert_int_equal(rf_set_state(&rf, VG_XB_INITIALISED), 0);
        wait_backend_state(t, &rf, VG_XB_CLOSING);
        log = capture_stop();
        snprintf(who, sizeof(who), "dom 1 dev %zu:", i);
        assert_log_has(log, who);
        assert_log_has(log, cases[i].expect_log);
        free(log);
        /* nothing of the bad device stays mapped or bound */
        assert_int_equal(vg_fake_live_mappings(t->w, 1), 0);
        assert_int_equal(dev_stats(t, 1, (unsigned)i).live_mappings, 0);
        /* the frontend acknowledges: Closed */
        assert_int_equal(rf_set_state(&rf, VG_XB_CLOSED), 0);
        wait_backend_state(t, &rf, VG_XB_CLOSED);
        rf_close(&rf);
    }

    assert_int_equal(rf_backend_state(&good), VG_XB_CONNECTED);
    assert_int_equal(vg_fake_bound_ports(t->w, 0), 1);
    assert_int_equal(rf_blk_prepare(&good, &r, VIRTIO_BLK_T_IN, 1, 512, false), 0);
    assert_int_equal(blk_do(t, &good, &r), VIRTIO_BLK_S_OK);
    assert_int_equal(r.data[0], 1);
    rf_close(&good);
    tw_free(t);
}

static void test_hostile_xs_garbage_frontend_keys(void **state)
{
    static const struct bad_keys cases[] = {
        { "features not hex", "features", "zz", NULL, "features 'zz'" },
        { "features decimal", "features", "12884901888", NULL, "features '12884901888'" },
        { "features lack VERSION_1", "features", "0x200000000", NULL, "lacks VERSION_1" },
        { "features never offered", "features", "0x300000001", NULL, "never offered" },
        { "num-queues 0", "num-queues", "0", NULL, "num-queues '0'" },
        { "num-queues 9", "num-queues", "9", NULL, "num-queues '9'" },
        { "num-queues -1", "num-queues", "-1", NULL, "num-queues '-1'" },
        { "queue size 3", "queue-0/size", "3", NULL, "queue-0/size '3'" },
        { "queue size 512 > max", "queue-0/size", "512", NULL, "queue-0/size '512'" },
        { "queue size junk", "queue-0/size", "64 ", NULL, "queue-0/size '64 '" },
        { "event-channel abc", "queue-0/event-channel", "abc", NULL, "event-channel 'abc'" },
        { "event-channel not offered", "queue-0/event-channel", "999", NULL, "event-channel 999" },
        { "desc without grant bit", "queue-0/desc", "0x9000", NULL, "queue-0/desc 0x9000" },
        { "desc offset", "queue-0/desc", "0x8000000000009010", NULL, "offset 0" },
        { "ring ref never granted", "queue-0/desc", "0x8000000001869000", NULL, "desc 0x8000000001869000" },
        { "ref over 32 bits", "queue-0/driver", "0xffffffffffff0000", NULL, "queue-0/driver 0xffffffffffff0000" },
        { "driver area misaligned", "queue-0/driver", "0x8000000000001401", NULL,
          "queue-0/driver 0x8000000000001401: offset 0x401 is not 2-byte aligned" },
        { "device area misaligned", "queue-0/device", "0x8000000000001402", NULL,
          "queue-0/device 0x8000000000001402: offset 0x402 is not 4-byte aligned" },
    };
    (void)state;
    run_bad_keys(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_hostile_xs_missing_keys(void **state)
{
    static const struct bad_keys cases[] = {
        { "no features", NULL, NULL, "features", "features: missing" },
        { "no num-queues", NULL, NULL, "num-queues", "num-queues: missing" },
        { "no size", NULL, NULL, "queue-0/size", "queue-0/size: missing" },
        { "no desc", NULL, NULL, "queue-0/desc", "queue-0/desc: missing" },
        { "no driver", NULL, NULL, "queue-0/driver", "queue-0/driver: missing" },
        { "no device", NULL, NULL, "queue-0/device", "queue-0/device: missing" },
        { "no port", NULL, NULL, "queue-0/event-channel", "event-channel: missing" },
        { "no queue dir", NULL, NULL, "queue-0", "queue-0/size: missing" },
    };
    (void)state;
    run_bad_keys(cases, sizeof(cases) / sizeof(cases[0]));
}

/* Bad toolstack keys: the device is refused with a clear error, an
 * incomplete directory is waited for, nothing crashes. */
static void test_hostile_toolstack_keys(void **state)
{
    struct tw *t = tw_new(0);
    struct rawfront rf;
    char *log;
    struct {
        struct rf_attach a;
        const char *expect;
    } cases[] = {
        { { .target = t->image, .mode = "static" }, "backend key region" },
        { { .target = t->image, .mode = "warp" }, "unknown transport mode" },
        { { .target = t->image, .type = "gpu" }, "type 'gpu'" },
        { { .target = "/nonexistent/vgd-image" }, "cannot open target /nonexistent/vgd-image" },
        { { .target = "/dev/null" }, "neither a regular file nor a block device" },
        { { .target = t->image, .readonly = "yes" }, "readonly 'yes'" },
        { { .target = t->image, .queue_size = "100" }, "queue-size '100'" },
        { { .target = t->image, .queues = "99" }, "queues '99'" },
        { { .target = t->image, .frontend = "/local/domain/7/device/virtio-grant/0" },
          "frontend '/local/domain/7/device/virtio-grant/0'" },
    };
    (void)state;

    ensure_domain(t, 1);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        capture_start();
        assert_int_equal(rf_toolstack_attach(t->ts, 1, (unsigned)i, 0,
                                             &cases[i].a), 0);
        assert_int_equal(rf_open(&rf, t->w, 1, (unsigned)i, 0), 0);
        /* refused: Closing, and Closed at once as the frontend (still
         * Initialising) has nothing to tear down */
        wait_backend_state(t, &rf, VG_XB_CLOSED);
        log = capture_stop();
        assert_log_has(log, cases[i].expect);
        free(log);
        /* the frontend gives up: Closed; never InitWait again */
        assert_int_equal(rf_set_state(&rf, VG_XB_CLOSED), 0);
        wait_backend_state(t, &rf, VG_XB_CLOSED);
        assert_int_equal(rf_set_state(&rf, VG_XB_INITIALISING), 0);
        pump(t, 5);
        assert_int_equal(rf_backend_state(&rf), VG_XB_CLOSED);
        rf_close(&rf);
    }

    /* a backend dir whose toolstack keys are incomplete is waited for */
    {
        char path[VG_XS_PATH_MAX];
        snprintf(path, sizeof(path),
                 "/local/domain/0/backend/virtio-grant/1/50/state");
        assert_int_equal(t->ts->ops->xs_write(t->ts, 0, path, "1"), 0);
        pump(t, 5);
        assert_int_equal(vg_xs_read_state(t->ts,
                         "/local/domain/0/backend/virtio-grant/1/50"),
                         VG_XB_INITIALISING);
        /* the toolstack completes it: the device comes up (read as dom0:
         * the early "state" node kept its dom0-only permissions) */
        struct rf_attach a = { .target = t->image };
        assert_int_equal(rf_toolstack_attach(t->ts, 1, 50, 0, &a), 0);
        assert_int_equal(rf_open(&rf, t->w, 1, 50, 0), 0);
        pump(t, 3);
        assert_int_equal(vg_xs_read_state(t->ts, rf.be_path), VG_XB_INITWAIT);
        rf_close(&rf);
    }
    tw_free(t);
}

/* ------------------------------------------------------------------ */
/* hostile requests                                                    */

static void test_hostile_address_without_grant_bit(void **state)
{
    struct tw *t = tw_new(0);
    struct rawfront rf;
    struct rf_blk r;
    struct rf_buf b[3];
    uint32_t len;
    char *log;
    (void)state;

    attach_connect(t, &rf, 1, 0, 64, NULL);
    assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_IN, 0, 512, false), 0);
    b[0] = (struct rf_buf){ vg_grant_addr(r.hdr_ref, 0), 16, false };
    /* a guest-physical address: grant bit missing */
    b[1] = (struct rf_buf){ 0x12345000ULL, 512, true };
    b[2] = (struct rf_buf){ vg_grant_addr(r.status_ref, 0), 1, true };
    capture_start();
    r.head = rf_add_chain(&rf, b, 3);
    assert_int_equal(blk_complete(t, &rf, &r, &len), VIRTIO_BLK_S_IOERR);
    log = capture_stop();
    assert_log_has(log, "dom 1 dev 0: buffer 1 address 0x12345000 is not a grant address");
    free(log);
    assert_int_equal(len, 1);

    /* bit 63 set but the ref does not fit 32 bits */
    b[1].addr = VG_GRANT_ADDR_FLAG | (1ULL << 50);
    r.head = rf_add_chain(&rf, b, 3);
    assert_int_equal(blk_complete(t, &rf, &r, NULL), VIRTIO_BLK_S_IOERR);

    /* the device keeps serving */
    assert_int_equal(rf_backend_state(&rf), VG_XB_CONNECTED);
    assert_int_equal(blk_do(t, &rf, &r), VIRTIO_BLK_S_OK);
    assert_int_equal(dev_stats(t, 1, 0).errors, 2);
    assert_int_equal(vg_fake_live_mappings(t->w, 1), 3);
    rf_close(&rf);
    tw_free(t);
}

static void test_hostile_grant_ref_never_granted(void **state)
{
    struct tw *t = tw_new(0);
    struct rawfront rf;
    struct rf_blk r;
    struct rf_buf b[3];
    char *log;
    (void)state;

    attach_connect(t, &rf, 1, 0, 64, NULL);
    assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_OUT, 0, 512, false), 0);
    b[0] = (struct rf_buf){ vg_grant_addr(r.hdr_ref, 0), 16, false };
    b[1] = (struct rf_buf){ vg_grant_addr(77777, 0), 512, false };
    b[2] = (struct rf_buf){ vg_grant_addr(r.status_ref, 0), 1, true };
    capture_start();
    r.head = rf_add_chain(&rf, b, 3);
    assert_int_equal(blk_complete(t, &rf, &r, NULL), VIRTIO_BLK_S_IOERR);
    log = capture_stop();
    assert_log_has(log, "dom 1 dev 0: cannot map read-only grant ref(s)");
    assert_log_has(log, "77777");
    free(log);
    assert_true(sector_is(t->image, 0, 0));

    /* a buffer running past the pages granted: ref+1 was never granted */
    b[1] = (struct rf_buf){ vg_grant_addr(r.data_ref, 0), 4096 + 512, false };
    r.head = rf_add_chain(&rf, b, 3);
    assert_int_equal(blk_complete(t, &rf, &r, NULL), VIRTIO_BLK_S_IOERR);

    /* a revoked grant no longer maps */
    assert_int_equal(rf.h->ops->unshare_pages(rf.h, r.data, 1), 0);
    for (unsigned i = 0; i < RF_MAX_SHARES; i++)
        if (rf.shares[i].addr == r.data)
            rf.shares[i].addr = NULL;
    b[1] = (struct rf_buf){ vg_grant_addr(r.data_ref, 0), 512, false };
    r.head = rf_add_chain(&rf, b, 3);
    assert_int_equal(blk_complete(t, &rf, &r, NULL), VIRTIO_BLK_S_IOERR);

    /* status byte itself never granted: completed with length 0 */
    {
        struct rf_blk r2;
        uint32_t len = 99;
        assert_int_equal(rf_blk_prepare(&rf, &r2, VIRTIO_BLK_T_IN, 0, 512, false), 0);
        b[0] = (struct rf_buf){ vg_grant_addr(r2.hdr_ref, 0), 16, false };
        b[1] = (struct rf_buf){ vg_grant_addr(r2.data_ref, 0), 512, true };
        b[2] = (struct rf_buf){ vg_grant_addr(88888, 0), 1, true };
        r2.head = rf_add_chain(&rf, b, 3);
        assert_int_equal(blk_complete(t, &rf, &r2, &len), 0xff);
        assert_int_equal(len, 0);
    }

    assert_int_equal(rf_backend_state(&rf), VG_XB_CONNECTED);
    assert_int_equal(vg_fake_live_mappings(t->w, 1), 3);
    rf_close(&rf);
    tw_free(t);
}

static void test_hostile_write_into_readonly_grant(void **state)
{
    struct tw *t = tw_new(0);
    struct rawfront rf;
    struct rf_blk r;
    struct rf_buf b[3];
    vg_gref_t ro_status_ref;
    uint8_t *ro_status;
    char *log;
    (void)state;

    attach_connect(t, &rf, 1, 0, 64, NULL);
    /* IN whose data buffer the guest granted read-only */
    assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_IN, 7, 512, true), 0);
    memset(r.data, 0xee, 512);
    capture_start();
    rf_blk_submit(&rf, &r);
    assert_int_equal(blk_complete(t, &rf, &r, NULL), VIRTIO_BLK_S_IOERR);
    log = capture_stop();
    assert_log_has(log, "cannot map writable grant ref(s)");
    free(log);
    assert_int_equal(r.data[0], 0xee);          /* untouched */

    /* even the status byte read-only: nothing written, length 0 */
    ro_status = rf_share(&rf, 1, false, &ro_status_ref);
    assert_non_null(ro_status);
    *ro_status = 0x77;
    b[0] = (struct rf_buf){ vg_grant_addr(r.hdr_ref, 0), 16, false };
    b[1] = (struct rf_buf){ vg_grant_addr(ro_status_ref, 0), 1, true };
    r.head = rf_add_chain(&rf, b, 2);
    r.status = ro_status;
    assert_int_equal(blk_complete(t, &rf, &r, NULL), 0x77);

    /* still alive and serving */
    assert_int_equal(rf_backend_state(&rf), VG_XB_CONNECTED);
    assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_IN, 7, 512, false), 0);
    assert_int_equal(blk_do(t, &rf, &r), VIRTIO_BLK_S_OK);
    assert_int_equal(r.data[0], 7);
    rf_close(&rf);
    tw_free(t);
}

static void test_hostile_unknown_request_type(void **state)
{
    struct tw *t = tw_new(0);
    struct rawfront rf;
    struct rf_blk r;
    (void)state;

    attach_connect(t, &rf, 1, 0, 64, NULL);
    assert_int_equal(rf_blk_prepare(&rf, &r, 77, 0, 0, false), 0);
    assert_int_equal(blk_do(t, &rf, &r), VIRTIO_BLK_S_UNSUPP);
    /* discard / write-zeroes are not offered either */
    r.hdr->type = 11;
    assert_int_equal(blk_do(t, &rf, &r), VIRTIO_BLK_S_UNSUPP);
    /* a header shorter than 16 bytes */
    {
        struct rf_buf b[2] = {
            { vg_grant_addr(r.hdr_ref, 0), 8, false },
            { vg_grant_addr(r.status_ref, 0), 1, true },
        };
        r.head = rf_add_chain(&rf, b, 2);
        assert_int_equal(blk_complete(t, &rf, &r, NULL), VIRTIO_BLK_S_IOERR);
    }
    /* no status byte at all: completed with length 0, nothing crashes */
    {
        struct rf_buf b[1] = { { vg_grant_addr(r.hdr_ref, 0), 16, false } };
        uint32_t len = 5;
        r.head = rf_add_chain(&rf, b, 1);
        *r.status = 0x33;
        assert_int_equal(blk_complete(t, &rf, &r, &len), 0x33);
        assert_int_equal(len, 0);
    }
    /* a flush carrying data, a read with readable data */
    assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_FLUSH, 0, 512, false), 0);
    assert_int_equal(blk_do(t, &rf, &r), VIRTIO_BLK_S_IOERR);
    assert_int_equal(rf_backend_state(&rf), VG_XB_CONNECTED);
    rf_close(&rf);
    tw_free(t);
}

static void test_hostile_sector_past_end(void **state)
{
    struct tw *t = tw_new(0);
    struct rawfront rf;
    struct rf_blk r;
    off_t size = file_size(t->image);
    static const struct { uint64_t sector; uint32_t len; } cases[] = {
        { IMAGE_SECTORS, 512 },              /* first sector past the end */
        { IMAGE_SECTORS - 1, 1024 },         /* straddles the end */
        { UINT64_MAX, 512 },                 /* sector + 1 overflows */
        { UINT64_MAX - 1, 4096 },            /* sector + 8 overflows */
        { 1ULL << 55, 512 },                 /* sector * 512 overflows */
        { 0, 100 },                          /* not a sector multiple */
    };
    (void)state;

    attach_connect(t, &rf, 1, 0, 64, NULL);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_OUT,
                                        cases[i].sector, cases[i].len, false), 0);
        memset(r.data, 0xcc, cases[i].len);
        assert_int_equal(blk_do(t, &rf, &r), VIRTIO_BLK_S_IOERR);
        assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_IN,
                                        cases[i].sector, cases[i].len, false), 0);
        assert_int_equal(blk_do(t, &rf, &r), VIRTIO_BLK_S_IOERR);
    }
    assert_int_equal(file_size(t->image), size);
    assert_true(sector_is(t->image, 0, 0));
    assert_true(sector_is(t->image, IMAGE_SECTORS - 1, IMAGE_SECTORS - 1));
    /* the last sector itself is fine */
    assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_IN, IMAGE_SECTORS - 1,
                                    512, false), 0);
    assert_int_equal(blk_do(t, &rf, &r), VIRTIO_BLK_S_OK);
    assert_int_equal(r.data[511], IMAGE_SECTORS - 1);
    rf_close(&rf);
    tw_free(t);
}

static void test_hostile_readonly_device_write(void **state)
{
    struct tw *t = tw_new(0);
    struct rawfront rf;
    struct rf_blk r;
    struct rf_attach a = { .target = t->image_ro, .readonly = "1" };
    uint64_t features;
    (void)state;

    attach_connect(t, &rf, 1, 0, 64, &a);
    assert_int_equal(vg_xs_read_hex64(rf.h, 0, rf.be_path, VG_KEY_FEATURES,
                                      &features), 0);
    assert_true(features & VG_FEATURE(VIRTIO_BLK_F_RO));
    assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_OUT, 4, 512, false), 0);
    memset(r.data, 0xdd, 512);
    assert_int_equal(blk_do(t, &rf, &r), VIRTIO_BLK_S_IOERR);
    assert_true(sector_is(t->image_ro, 4, 4));
    /* reads and flushes still work */
    assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_IN, 4, 512, false), 0);
    assert_int_equal(blk_do(t, &rf, &r), VIRTIO_BLK_S_OK);
    assert_int_equal(r.data[0], 4);
    assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_FLUSH, 0, 0, false), 0);
    assert_int_equal(blk_do(t, &rf, &r), VIRTIO_BLK_S_OK);
    rf_close(&rf);
    tw_free(t);
}

static void test_hostile_ring_broken_closes_device(void **state)
{
    struct tw *t = tw_new(0);
    struct rawfront a, b;
    struct rf_blk r;
    char *log;
    (void)state;

    attach_connect(t, &a, 1, 0, 64, NULL);
    attach_connect(t, &b, 2, 0, 64, NULL);

    /* A: avail idx jumps far past the queue size */
    capture_start();
    __atomic_store_n(&a.avail->idx, (uint16_t)(a.avail_idx + 5 * 64),
                     __ATOMIC_RELEASE);
    assert_int_equal(rf_kick(&a), 0);
    wait_backend_state(t, &a, VG_XB_CLOSING);
    log = capture_stop();
    assert_log_has(log, "dom 1 dev 0: queue 0 broken");
    assert_log_has(log, "avail index");
    free(log);
    assert_int_equal(vg_fake_live_mappings(t->w, 1), 0);
    assert_int_equal(vg_fake_bound_ports(t->w, 0), 1);   /* B's only */

    /* B keeps working */
    assert_int_equal(rf_blk_prepare(&b, &r, VIRTIO_BLK_T_IN, 9, 512, false), 0);
    assert_int_equal(blk_do(t, &b, &r), VIRTIO_BLK_S_OK);
    assert_int_equal(r.data[0], 9);

    /* a descriptor loop on a fresh A connection closes it too */
    assert_int_equal(rf_set_state(&a, VG_XB_CLOSED), 0);
    wait_backend_state(t, &a, VG_XB_CLOSED);
    rf_close(&a);
    assert_int_equal(rf_open(&a, t->w, 1, 0, 0), 0);
    assert_int_equal(rf_set_state(&a, VG_XB_INITIALISING), 0);
    wait_backend_state(t, &a, VG_XB_INITWAIT);
    assert_int_equal(rf_connect(&a, 64), 0);
    wait_backend_state(t, &a, VG_XB_CONNECTED);
    a.desc[0] = (struct vring_desc){ vg_grant_addr(a.desc_ref, 0), 16,
                                     VRING_DESC_F_NEXT, 1 };
    a.desc[1] = (struct vring_desc){ vg_grant_addr(a.desc_ref, 0), 16,
                                     VRING_DESC_F_NEXT, 0 };
    capture_start();
    rf_publish(&a, 0);
    assert_int_equal(rf_kick(&a), 0);
    wait_backend_state(t, &a, VG_XB_CLOSING);
    log = capture_stop();
    assert_log_has(log, "loop");
    free(log);
    /* head out of range on B's neighbour? no: B still fine */
    assert_int_equal(blk_do(t, &b, &r), VIRTIO_BLK_S_OK);
    assert_int_equal(rf_backend_state(&b), VG_XB_CONNECTED);
    rf_close(&a);
    rf_close(&b);
    tw_free(t);
}

static void test_hostile_frontend_vanishes_mid_request(void **state)
{
    struct tw *t = tw_new(2);
    struct rawfront a, b;
    struct rf_blk ra[16], rb;
    (void)state;

    attach_connect(t, &a, 1, 0, 64, NULL);
    attach_connect(t, &b, 2, 0, 64, NULL);
    for (unsigned i = 0; i < 16; i++) {
        assert_int_equal(rf_blk_prepare(&a, &ra[i], VIRTIO_BLK_T_IN, i, 4096,
                                        false), 0);
        rf_blk_submit(&a, &ra[i]);
    }
    assert_int_equal(rf_kick(&a), 0);
    pump(t, 1);          /* budget 2: some served, most still queued */
    assert_true(dev_stats(t, 1, 0).requests < 16);

    assert_int_equal(vg_fake_domain_destroy(t->w, 1), 0);
    pump(t, 5);
    assert_int_equal(vg_fake_live_mappings(t->w, 1), 0);
    assert_int_equal(dev_stats(t, 1, 0).live_mappings, 0);
    assert_int_equal(dev_stats(t, 1, 0).state, VG_XB_CLOSED);
    assert_int_equal(vg_fake_bound_ports(t->w, 0), 1);   /* B's only */

    assert_int_equal(rf_blk_prepare(&b, &rb, VIRTIO_BLK_T_IN, 5, 512, false), 0);
    assert_int_equal(blk_do(t, &b, &rb), VIRTIO_BLK_S_OK);
    assert_int_equal(rb.data[0], 5);

    /* the toolstack removes the dead guest's backend dir: device freed */
    assert_int_equal(t->ts->ops->xs_rm(t->ts, 0, a.be_path), 0);
    pump(t, 3);
    assert_false(vd_has_dev(t->d, 1, 0));
    rf_close(&a);
    rf_close(&b);
    tw_free(t);
}

static void test_hostile_event_storm(void **state)
{
    enum { BUDGET = 4, NREQ = 64 };
    struct tw *t = tw_new(BUDGET);
    struct rawfront a, b;
    static struct rf_blk ra[NREQ];
    struct rf_blk rb;
    uint32_t id, len;
    unsigned rounds = 0, a_done = 0;
    uint64_t prev;
    (void)state;

    attach_connect(t, &a, 1, 0, 256, NULL);
    attach_connect(t, &b, 2, 0, 64, NULL);
    for (unsigned i = 0; i < NREQ; i++) {
        assert_int_equal(rf_blk_prepare(&a, &ra[i], VIRTIO_BLK_T_IN, i, 512,
                                        false), 0);
        rf_blk_submit(&a, &ra[i]);
    }
    for (unsigned i = 0; i < 100000; i++)
        assert_int_equal(rf_kick(&a), 0);

    assert_int_equal(rf_blk_prepare(&b, &rb, VIRTIO_BLK_T_IN, 77, 512, false), 0);
    rf_blk_submit(&b, &rb);
    assert_int_equal(rf_kick(&b), 0);

    /* B completes within two rounds although A has 64 requests queued */
    while (!rf_get_used(&b, &id, &len)) {
        assert_true(rounds < 2);
        prev = dev_stats(t, 1, 0).requests;
        assert_int_equal(vgd_run_once(t->d, 0), 0);
        /* A never gets more than one budget per round */
        assert_true(dev_stats(t, 1, 0).requests - prev <= BUDGET);
        rounds++;
    }
    assert_int_equal(*rb.status, VIRTIO_BLK_S_OK);
    assert_int_equal(rb.data[0], 77);
    assert_true(dev_stats(t, 1, 0).requests <= 2 * BUDGET);

    /* A is not starved either: all of its requests complete, one budget
     * per round */
    for (int i = 0; i < 100 && a_done < NREQ; i++) {
        prev = dev_stats(t, 1, 0).requests;
        for (unsigned k = 0; k < 1000; k++)
            rf_kick(&a);
        assert_int_equal(vgd_run_once(t->d, 0), 0);
        assert_true(dev_stats(t, 1, 0).requests - prev <= BUDGET);
        while (rf_get_used(&a, &id, &len))
            a_done++;
    }
    assert_int_equal(a_done + 0u, NREQ);
    for (unsigned i = 0; i < NREQ; i++) {
        assert_int_equal(*ra[i].status, VIRTIO_BLK_S_OK);
        assert_int_equal(ra[i].data[0], i);
    }
    rf_close(&a);
    rf_close(&b);
    tw_free(t);
}

static void test_hostile_flood_unbounded_work(void **state)
{
    enum { NUM = 8, BUDGET = 3 };
    struct tw *t = tw_new(BUDGET);
    struct rawfront a, c;
    struct rf_blk r[NUM / 2];
    uint32_t id, len;
    char *log;
    (void)state;

    /* sustained flood: the guest keeps its ring full for many rounds */
    attach_connect(t, &c, 3, 0, NUM, NULL);
    assert_int_equal(rf_blk_prepare(&c, &r[0], VIRTIO_BLK_T_FLUSH, 0, 0, false), 0);
    {
        struct rf_buf b[2] = {
            { vg_grant_addr(r[0].hdr_ref, 0), 16, false },
            { vg_grant_addr(r[0].status_ref, 0), 1, true },
        };
        unsigned outstanding = 0;
        uint64_t prev = 0;

        for (int round = 0; round < 300; round++) {
            while (outstanding < NUM) {
                rf_add_chain(&c, b, 1);   /* header-only: 1 desc per chain */
                outstanding++;
            }
            rf_kick(&c);
            assert_int_equal(vgd_run_once(t->d, 0), 0);
            while (rf_get_used(&c, &id, &len))
                outstanding--;
            struct vgd_dev_stats s = dev_stats(t, 3, 0);
            assert_true(s.in_flight == 0);       /* nothing held between rounds */
            assert_true(s.max_in_flight <= NUM);
            assert_true(s.requests - prev <= BUDGET);
            assert_int_equal(s.live_mappings, 3); /* rings only */
            prev = s.requests;
        }
        assert_int_equal(rf_backend_state(&c), VG_XB_CONNECTED);
        assert_true(dev_stats(t, 3, 0).requests >= 300);
    }

    /* publishing far more avail entries than the queue holds */
    attach_connect(t, &a, 1, 0, NUM, NULL);
    for (unsigned i = 0; i < NUM / 2; i++)
        assert_int_equal(rf_blk_prepare(&a, &r[i], VIRTIO_BLK_T_IN, i, 512,
                                        false), 0);
    for (unsigned i = 0; i < NUM * 100; i++)
        rf_publish(&a, 0);
    capture_start();
    assert_int_equal(rf_kick(&a), 0);
    wait_backend_state(t, &a, VG_XB_CLOSING);
    log = capture_stop();
    assert_log_has(log, "dom 1 dev 0: queue 0 broken");
    free(log);
    {
        struct vgd_dev_stats s = dev_stats(t, 1, 0);
        assert_int_equal(s.requests, 0);
        assert_true(s.max_in_flight <= NUM);
        assert_int_equal(s.live_mappings, 0);
    }
    assert_int_equal(vg_fake_live_mappings(t->w, 1), 0);
    rf_close(&a);
    rf_close(&c);
    tw_free(t);
}

/* ---- double fetch ---- */

struct flipper {
    struct virtio_blk_req_hdr *hdr;
    volatile int stop;
    unsigned long flips;
};

static void *flip_thread(void *arg)
{
    struct flipper *f = arg;

    while (!f->stop) {
        /* valid write at sector 2 <-> far past the end, and type OUT <-> IN */
        __atomic_store_n(&f->hdr->sector, (uint64_t)2, __ATOMIC_RELAXED);
        __atomic_store_n(&f->hdr->type, (uint32_t)VIRTIO_BLK_T_OUT, __ATOMIC_RELAXED);
        __atomic_store_n(&f->hdr->sector, (uint64_t)1 << 40, __ATOMIC_RELAXED);
        __atomic_store_n(&f->hdr->type, (uint32_t)VIRTIO_BLK_T_IN, __ATOMIC_RELAXED);
        __atomic_store_n(&f->hdr->sector, (uint64_t)IMAGE_SECTORS, __ATOMIC_RELAXED);
        __atomic_store_n(&f->hdr->type, (uint32_t)VIRTIO_BLK_T_OUT, __ATOMIC_RELAXED);
        f->flips++;
    }
    return NULL;
}

static void test_hostile_double_fetch_blk_header(void **state)
{
    struct tw *t = tw_new(0);
    struct rawfront rf;
    struct rf_blk r;
    struct flipper f = { 0 };
    pthread_t th;
    off_t size = file_size(t->image);
    unsigned ok = 0, ioerr = 0;
    (void)state;

    attach_connect(t, &rf, 1, 0, 64, NULL);
    assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_OUT, 2, 512, false), 0);
    memset(r.data, 0xab, 512);
    f.hdr = r.hdr;
    assert_int_equal(pthread_create(&th, NULL, flip_thread, &f), 0);
    for (int i = 0; i < 2000; i++) {
        uint8_t st;

        rf_blk_submit(&rf, &r);
        st = blk_complete(t, &rf, &r, NULL);
        /* every outcome is one a validated copy allows: a write of sector
         * 2 (OK), or a refused request */
        assert_true(st == VIRTIO_BLK_S_OK || st == VIRTIO_BLK_S_IOERR);
        if (st == VIRTIO_BLK_S_OK)
            ok++;
        else
            ioerr++;
    }
    f.stop = 1;
    pthread_join(th, NULL);
    print_message("double fetch: %u ok, %u refused, %lu flips\n", ok, ioerr,
                  f.flips);
    /* no out-of-range pwrite ever happened, no other sector was touched */
    assert_int_equal(file_size(t->image), size);
    for (unsigned s = 0; s < IMAGE_SECTORS; s++)
        if (s != 2)
            assert_true(sector_is(t->image, s, (uint8_t)s));
    assert_true(sector_is(t->image, 2, 2) || sector_is(t->image, 2, 0xab));
    assert_int_equal(rf_backend_state(&rf), VG_XB_CONNECTED);
    rf_close(&rf);
    tw_free(t);
}

/* ------------------------------------------------------------------ */
/* lifecycle                                                           */

static void test_free_releases_every_mapping_and_port(void **state)
{
    struct tw *t = tw_new(1);
    struct rawfront a, b;
    struct rf_blk ra[4], rb[4];
    (void)state;

    attach_connect(t, &a, 1, 0, 64, NULL);
    attach_connect(t, &b, 2, 3, 64, NULL);
    for (unsigned i = 0; i < 4; i++) {
        assert_int_equal(rf_blk_prepare(&a, &ra[i], VIRTIO_BLK_T_IN, i, 512, false), 0);
        assert_int_equal(rf_blk_prepare(&b, &rb[i], VIRTIO_BLK_T_IN, i, 512, false), 0);
        rf_blk_submit(&a, &ra[i]);
        rf_blk_submit(&b, &rb[i]);
    }
    rf_kick(&a);
    rf_kick(&b);
    pump(t, 1);
    assert_true(vg_fake_live_mappings(t->w, 1) > 0);
    assert_int_equal(vg_fake_bound_ports(t->w, 0), 2);

    /* what SIGTERM leads to in vgrantd */
    vgd_request_stop(t->d);
    assert_true(vgd_stop_requested(t->d));
    assert_int_equal(vgd_run_once(t->d, 1000), 0);   /* returns at once */
    vgd_free(t->d);
    t->d = NULL;
    assert_int_equal(vg_fake_live_mappings(t->w, 1), 0);
    assert_int_equal(vg_fake_live_mappings(t->w, 2), 0);
    assert_int_equal(vg_fake_bound_ports(t->w, 0), 0);
    assert_int_equal(rf_backend_state(&a), VG_XB_CLOSED);
    assert_int_equal(rf_backend_state(&b), VG_XB_CLOSED);
    rf_close(&a);
    rf_close(&b);
    tw_free(t);
}

static void test_restart_closes_orphaned_connected_device(void **state)
{
    struct tw *t = tw_new(0);
    struct rawfront rf;
    struct vgd_options o = { 0 };
    struct rf_blk r;
    (void)state;

    attach_connect(t, &rf, 1, 0, 64, NULL);
    /* the daemon dies without cleaning up (we free it, then pretend its
     * state writes never happened) */
    vgd_free(t->d);
    assert_int_equal(vg_xs_write_state(t->ts, rf.be_path, VG_XB_CONNECTED), 0);

    t->d = vgd_new(t->be, &o);
    assert_non_null(t->d);
    assert_int_equal(vgd_start(t->d), 0);
    wait_backend_state(t, &rf, VG_XB_CLOSING);
    /* the frontend resets and the handshake reruns */
    assert_int_equal(rf_set_state(&rf, VG_XB_CLOSED), 0);
    wait_backend_state(t, &rf, VG_XB_CLOSED);
    rf_close(&rf);
    assert_int_equal(rf_open(&rf, t->w, 1, 0, 0), 0);
    assert_int_equal(rf_set_state(&rf, VG_XB_INITIALISING), 0);
    wait_backend_state(t, &rf, VG_XB_INITWAIT);
    assert_int_equal(rf_connect(&rf, 64), 0);
    wait_backend_state(t, &rf, VG_XB_CONNECTED);
    assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_IN, 6, 512, false), 0);
    assert_int_equal(blk_do(t, &rf, &r), VIRTIO_BLK_S_OK);
    assert_int_equal(r.data[0], 6);

    /* online=0: the device closes, mappings go */
    assert_int_equal(vg_xs_write_fmt(t->ts, 0, rf.be_path, VG_KEY_ONLINE, "0"), 0);
    wait_backend_state(t, &rf, VG_XB_CLOSED);
    assert_int_equal(vg_fake_live_mappings(t->w, 1), 0);
    rf_close(&rf);
    tw_free(t);
}

struct late_log {
    unsigned hits;
    char line[512];
};

static void late_sink(enum vg_log_level level, const char *msg, void *arg)
{
    struct late_log *l = arg;

    if (level == VG_LOG_WARN && strstr(msg, "frontend has not connected")) {
        l->hits++;
        snprintf(l->line, sizeof(l->line), "%s", msg);
    }
}

/* A guest that never runs a frontend: after the (here shortened) wait,
 * vgrantd says once what to check, naming the domain and device. */
static void test_frontend_never_connects_tells_user(void **state)
{
    struct tw *t = tw_new(0);
    struct vgd_options o = { .frontend_late_ms = 200 };
    struct late_log l = { 0 };
    struct rawfront rf;
    (void)state;

    vgd_free(t->d);
    t->d = vgd_new(t->be, &o);
    assert_non_null(t->d);
    assert_int_equal(vgd_start(t->d), 0);
    vg_log_set_sink(late_sink, &l);
    attach(t, &rf, 4, 0, NULL);            /* backend InitWait, no frontend */
    for (int i = 0; i < 40 && !l.hits; i++)
        assert_int_equal(vgd_run_once(t->d, 100), 0);
    for (int i = 0; i < 15; i++)           /* over a second more: no repeat */
        assert_int_equal(vgd_run_once(t->d, 100), 0);
    vg_log_set_sink(NULL, NULL);
    assert_int_equal(l.hits, 1);
    assert_non_null(strstr(l.line, "dom 4 dev 0:"));
    assert_non_null(strstr(l.line, "Initialising"));
    assert_non_null(strstr(l.line, "domain 4"));
    rf_close(&rf);
    tw_free(t);
}

/* ------------------------------------------------------------------ */
/* identity (issue 13 finding 1), fairness by bytes (finding 2),       */
/* xenstore amplification (finding 5)                                  */

/* Open the guest side of a device just (re-)attached read-only and check
 * the backend offers it afresh: InitWait with VIRTIO_BLK_F_RO published. */
static void open_expect_fresh_readonly(struct tw *t, struct rawfront *rf,
                                       uint16_t dom)
{
    uint64_t features;

    assert_int_equal(rf_open(rf, t->w, dom, 0, 0), 0);
    wait_backend_state(t, rf, VG_XB_INITWAIT);
    assert_int_equal(vg_xs_read_hex64(rf->h, 0, rf->be_path, VG_KEY_FEATURES,
                                      &features), 0);
    assert_true(features & VG_FEATURE(VIRTIO_BLK_F_RO));
}

/* Detach and re-attach the same domain/devid with another target and
 * readonly=1 before vgrantd saw the removal: the new attach must be served
 * with its own keys, never with the old image read-write. */
static void test_hostile_reattach_before_removal_seen(void **state)
{
    struct tw *t = tw_new(0);
    struct rawfront old_rf, rf;
    struct rf_blk r;
    struct rf_attach ro = { .target = t->image_ro, .readonly = "1" };
    (void)state;

    attach_connect(t, &old_rf, 1, 0, 64, NULL);
    /* the toolstack removes both directories and attaches again, all
     * before the daemon runs a round */
    assert_int_equal(t->ts->ops->xs_rm(t->ts, 0, old_rf.be_path), 0);
    assert_int_equal(t->ts->ops->xs_rm(t->ts, 0, old_rf.fe_path), 0);
    assert_int_equal(rf_toolstack_attach(t->ts, 1, 0, 0, &ro), 0);
    pump(t, 3);
    /* the old device is gone: nothing of the old guest rings stays mapped */
    assert_int_equal(vg_fake_live_mappings(t->w, 1), 0);
    rf_close(&old_rf);

    open_expect_fresh_readonly(t, &rf, 1);
    assert_int_equal(rf_connect(&rf, 64), 0);
    wait_backend_state(t, &rf, VG_XB_CONNECTED);

    assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_OUT, 6, 512, false), 0);
    memset(r.data, 0xee, 512);
    assert_int_equal(blk_do(t, &rf, &r), VIRTIO_BLK_S_IOERR);
    assert_true(sector_is(t->image, 6, 6));      /* old image untouched */
    assert_true(sector_is(t->image_ro, 6, 6));
    /* reads come from the new target */
    assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_IN, 7, 512, false), 0);
    assert_int_equal(blk_do(t, &rf, &r), VIRTIO_BLK_S_OK);
    assert_int_equal(r.data[0], 7);
    rf_close(&rf);
    tw_free(t);
}

/* The same race with the device Closed (not connected) when the
 * re-attach lands: the Closed -> InitWait step must not reuse it. */
static void test_hostile_reattach_while_closed(void **state)
{
    struct tw *t = tw_new(0);
    struct rawfront rf;
    struct rf_attach ro = { .target = t->image_ro, .readonly = "1" };
    (void)state;

    attach_connect(t, &rf, 1, 0, 64, NULL);
    assert_int_equal(rf_set_state(&rf, VG_XB_CLOSING), 0);
    wait_backend_state(t, &rf, VG_XB_CLOSED);
    rf_close(&rf);
    /* new attach over the same directory, without removing it first */
    assert_int_equal(rf_toolstack_attach(t->ts, 1, 0, 0, &ro), 0);
    open_expect_fresh_readonly(t, &rf, 1);
    rf_close(&rf);
    tw_free(t);
}

/* xl destroy + xl create that reuses the domid: the new domain writes a
 * frontend directory at the old path and goes Initialising.  The dead
 * domain's device must not be handed to it; a new attach must work. */
static void test_hostile_domid_reuse_after_destroy(void **state)
{
    struct tw *t = tw_new(0);
    struct rawfront rf, intruder;
    struct rf_attach ro = { .target = t->image_ro, .readonly = "1" };
    (void)state;

    attach_connect(t, &rf, 3, 0, 64, NULL);
    assert_int_equal(vg_fake_domain_destroy(t->w, 3), 0);
    pump(t, 3);
    assert_int_equal(dev_stats(t, 3, 0).state, VG_XB_CLOSED);
    rf_close(&rf);

    /* the same id comes back; the new guest forges the old frontend dir */
    assert_int_equal(vg_fake_domain_create(t->w, 3), 0);
    assert_int_equal(rf_open(&intruder, t->w, 3, 0, 0), 0);
    assert_int_equal(rf_write(&intruder, VG_KEY_BACKEND, intruder.be_path), 0);
    assert_int_equal(rf_write(&intruder, VG_KEY_BACKEND_ID, "0"), 0);
    assert_int_equal(rf_set_state(&intruder, VG_XB_INITIALISING), 0);
    pump(t, 5);
    assert_int_equal(rf_backend_state(&intruder), VG_XB_CLOSED);
    rf_close(&intruder);

    /* the toolstack attaches a device for the new guest: served afresh */
    assert_int_equal(rf_toolstack_attach(t->ts, 3, 0, 0, &ro), 0);
    open_expect_fresh_readonly(t, &rf, 3);
    rf_close(&rf);
    tw_free(t);
}

/* A malformed attach-id is a configuration error, reported by name. */
static void test_hostile_bad_attach_id(void **state)
{
    struct tw *t = tw_new(0);
    struct rawfront rf;
    struct rf_attach a = { .target = t->image, .attach_id = "abc\nforged" };
    char *log;
    (void)state;

    ensure_domain(t, 1);
    assert_int_equal(rf_toolstack_attach(t->ts, 1, 0, 0, &a), 0);
    assert_int_equal(rf_open(&rf, t->w, 1, 0, 0), 0);
    capture_start();
    pump(t, 3);
    log = capture_stop();
    assert_log_has(log, "backend key attach-id 'abc\\x0aforged'");
    assert_int_not_equal(rf_backend_state(&rf), VG_XB_INITWAIT);
    free(log);
    rf_close(&rf);
    tw_free(t);
}

/* One guest keeps its ring full of large reads; another guest's small
 * read must not wait behind all of them (budget by bytes, not only by
 * count). */
static void test_hostile_large_requests_do_not_starve_others(void **state)
{
    enum { NBIG = 8, BIG = 64 * 1024 };
    struct vgd_options o = { .byte_budget_per_queue = BIG };
    struct tw *t = tw_new_opts(&o);
    struct rawfront a, b;
    static struct rf_blk ra[NBIG];
    struct rf_blk rb;
    uint32_t id, len;
    bool done = false;
    (void)state;

    attach_connect(t, &a, 1, 0, 64, NULL);
    attach_connect(t, &b, 2, 0, 64, NULL);
    for (unsigned i = 0; i < NBIG; i++) {
        assert_int_equal(rf_blk_prepare(&a, &ra[i], VIRTIO_BLK_T_IN, 0, BIG,
                                        false), 0);
        rf_blk_submit(&a, &ra[i]);
    }
    assert_int_equal(rf_kick(&a), 0);
    pump(t, 1);                 /* a's queue is busy when b asks */
    assert_int_equal(rf_blk_prepare(&b, &rb, VIRTIO_BLK_T_IN, 9, 512, false), 0);
    rf_blk_submit(&b, &rb);
    assert_int_equal(rf_kick(&b), 0);
    for (int i = 0; i < MAX_ROUNDS && !done; i++) {
        pump(t, 1);
        done = rf_get_used(&b, &id, &len);
    }
    assert_true(done);
    assert_int_equal(*rb.status, VIRTIO_BLK_S_OK);
    /* at most one budget of a's bytes per round: 2 rounds, 1 request each */
    assert_in_range(dev_stats(t, 1, 0).requests, 1, 2);
    /* and a still gets everything, later */
    pump(t, NBIG + 2);
    assert_int_equal(dev_stats(t, 1, 0).requests, NBIG);
    rf_close(&a);
    rf_close(&b);
    tw_free(t);
}

/* Counting proxy of the daemon's hypervisor handle. */
static const struct vg_hyp_ops *real_ops;
static unsigned xs_reads, alive_checks;

static char *count_xs_read(struct vg_hyp *h, vg_xs_tx_t tx, const char *path,
                           unsigned *len)
{
    xs_reads++;
    return real_ops->xs_read(h, tx, path, len);
}

static int count_domain_alive(struct vg_hyp *h, uint16_t domid)
{
    alive_checks++;
    return real_ops->domain_alive(h, domid);
}

/* A guest rewriting keys in its own directory in a loop: one evaluation
 * of its device per round, not one per write. */
static void test_hostile_xenstore_write_storm_coalesced(void **state)
{
    enum { WRITES = 200 };
    struct tw *t = tw_new(0);
    struct rawfront rf;
    struct vg_hyp_ops counting;
    char v[16];
    (void)state;

    attach_connect(t, &rf, 1, 0, 64, NULL);
    real_ops = t->be->ops;
    counting = *real_ops;
    counting.xs_read = count_xs_read;
    counting.domain_alive = count_domain_alive;
    t->be->ops = &counting;
    for (unsigned i = 0; i < WRITES; i++) {
        snprintf(v, sizeof(v), "%u", i);
        assert_int_equal(rf_write(&rf, "junk", v), 0);
    }
    xs_reads = alive_checks = 0;
    pump(t, 1);
    t->be->ops = real_ops;
    assert_in_range(xs_reads, 1, 12);
    assert_in_range(alive_checks, 1, 2);
    assert_int_equal(rf_backend_state(&rf), VG_XB_CONNECTED);
    rf_close(&rf);
    tw_free(t);
}

/* A guest flipping its xenbus state (and offering bad keys) in a loop:
 * the state machine's lines for its device stay bounded (issue 14.3). */
static void test_hostile_state_flapping_log_bounded(void **state)
{
    enum { CYCLES = 1000 };
    struct tw *t = tw_new(0);
    struct rawfront rf;
    unsigned lines = 0;
    char *log, *p;
    (void)state;

    attach(t, &rf, 1, 0, NULL);
    capture_start();
    for (unsigned i = 0; i < CYCLES; i++) {
        /* Initialised with no keys: the backend fails the device */
        assert_int_equal(rf_set_state(&rf, VG_XB_INITIALISED), 0);
        pump(t, 1);
        assert_int_equal(rf_set_state(&rf, VG_XB_CLOSED), 0);
        pump(t, 1);
        assert_int_equal(rf_set_state(&rf, VG_XB_INITIALISING), 0);
        pump(t, 1);
    }
    log = capture_stop();
    for (p = log; (p = strstr(p, "dom 1 dev 0: ")); p++)
        lines++;
    /* each cycle logs about four lines unlimited; a burst per window
     * plus summaries is all that may get through */
    assert_in_range(lines, 1, 40);
    free(log);
    rf_close(&rf);
    tw_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_happy_path_read_write_flush_get_id),
        cmocka_unit_test(test_frontend_never_connects_tells_user),
        cmocka_unit_test(test_ring_areas_at_page_offsets),
        cmocka_unit_test(test_hostile_ring_area_past_granted_run),
        cmocka_unit_test(test_hostile_xs_garbage_frontend_keys),
        cmocka_unit_test(test_hostile_xs_missing_keys),
        cmocka_unit_test(test_hostile_toolstack_keys),
        cmocka_unit_test(test_hostile_address_without_grant_bit),
        cmocka_unit_test(test_hostile_grant_ref_never_granted),
        cmocka_unit_test(test_hostile_write_into_readonly_grant),
        cmocka_unit_test(test_hostile_unknown_request_type),
        cmocka_unit_test(test_hostile_sector_past_end),
        cmocka_unit_test(test_hostile_readonly_device_write),
        cmocka_unit_test(test_hostile_ring_broken_closes_device),
        cmocka_unit_test(test_hostile_frontend_vanishes_mid_request),
        cmocka_unit_test(test_hostile_event_storm),
        cmocka_unit_test(test_hostile_flood_unbounded_work),
        cmocka_unit_test(test_hostile_double_fetch_blk_header),
        cmocka_unit_test(test_free_releases_every_mapping_and_port),
        cmocka_unit_test(test_restart_closes_orphaned_connected_device),
        cmocka_unit_test(test_hostile_reattach_before_removal_seen),
        cmocka_unit_test(test_hostile_reattach_while_closed),
        cmocka_unit_test(test_hostile_domid_reuse_after_destroy),
        cmocka_unit_test(test_hostile_bad_attach_id),
        cmocka_unit_test(test_hostile_large_requests_do_not_starve_others),
        cmocka_unit_test(test_hostile_xenstore_write_storm_coalesced),
        cmocka_unit_test(test_hostile_state_flapping_log_bounded),
    };

    vg_log_init("test_backend", VG_LOG_INFO);
    vd_on_fail = capture_abort;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
