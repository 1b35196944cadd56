/* SPDX-License-Identifier: MIT */
/*
 * vgrantd against hand-crafted frontends (rawfront) in the fake world
 * (twfix.h): the happy path, ring areas, hostile xenstore keys and the
 * device lifecycle.  Hostile requests: test_backend_requests.c; identity,
 * fairness, xenstore amplification: test_backend_identity.c.
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
#include "twfix.h"

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

    tw_attach(t, &rf, 1, 0, NULL);
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
    tw_wait_backend_state(t, &rf, VG_XB_CONNECTED);

    /* write 2 sectors at sector 3 */
    assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_OUT, 3, 1024, false), 0);
    memset(r.data, 0xa5, 512);
    memset(r.data + 512, 0x5a, 512);
    assert_int_equal(tw_blk_do(t, &rf, &r), VIRTIO_BLK_S_OK);
    assert_true(tw_sector_is(t->image, 3, 0xa5));
    assert_true(tw_sector_is(t->image, 4, 0x5a));
    assert_true(tw_sector_is(t->image, 5, 5));

    /* read 3 sectors at sector 2 into a 2-page buffer */
    assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_IN, 2, 1536, false), 0);
    rf_blk_submit(&rf, &r);
    assert_int_equal(tw_blk_complete(t, &rf, &r, &len), VIRTIO_BLK_S_OK);
    assert_int_equal(len, 1536 + 1);
    for (unsigned i = 0; i < 512; i++) {
        assert_int_equal(r.data[i], 2);
        assert_int_equal(r.data[512 + i], 0xa5);
        assert_int_equal(r.data[1024 + i], 0x5a);
    }

    /* a read crossing a page boundary: 8 sectors = 4096 bytes at offset 0
     * of a 2-page grant run is still one page; use 16 sectors */
    assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_IN, 16, 8192, false), 0);
    assert_int_equal(tw_blk_do(t, &rf, &r), VIRTIO_BLK_S_OK);
    assert_int_equal(r.data[0], 16);
    assert_int_equal(r.data[8191], 31);

    assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_FLUSH, 0, 0, false), 0);
    assert_int_equal(tw_blk_do(t, &rf, &r), VIRTIO_BLK_S_OK);

    assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_GET_ID, 0,
                                    VIRTIO_BLK_ID_BYTES, false), 0);
    assert_int_equal(tw_blk_do(t, &rf, &r), VIRTIO_BLK_S_OK);
    memcpy(id, r.data, VIRTIO_BLK_ID_BYTES);
    assert_string_equal(id, "vgrant-1-0");

    {
        struct vgd_dev_stats s = tw_dev_stats(t, 1, 0);
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
    tw_wait_backend_state(t, &rf, VG_XB_CLOSED);
    assert_int_equal(vg_fake_live_mappings(t->w, 1), 0);
    assert_int_equal(vg_fake_bound_ports(t->w, 0), 0);

    /* reconnect */
    assert_int_equal(rf_set_state(&rf, VG_XB_CLOSED), 0);
    assert_int_equal(rf_set_state(&rf, VG_XB_INITIALISING), 0);
    tw_wait_backend_state(t, &rf, VG_XB_INITWAIT);
    rf.avail_idx = rf.used_seen = rf.next_desc = 0;
    memset(rf.avail, 0, VG_PAGE_SIZE);
    assert_int_equal(rf_set_state(&rf, VG_XB_INITIALISED), 0);
    tw_wait_backend_state(t, &rf, VG_XB_CONNECTED);
    assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_IN, 3, 512, false), 0);
    assert_int_equal(tw_blk_do(t, &rf, &r), VIRTIO_BLK_S_OK);
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

    tw_attach(t, &rf, 1, 0, NULL);
    /* 64 entries: desc 1024 bytes at 0, driver area (134 bytes) at 1026,
     * device area (518 bytes) at 8188..8705, across pages 1 and 2 */
    assert_int_equal(rf_setup_rings_at(&rf, 64, 3, 1026, 2 * VG_PAGE_SIZE - 4), 0);
    assert_int_equal(rf_write_keys(&rf, FEATURES_STD), 0);
    assert_int_equal(rf_set_state(&rf, VG_XB_INITIALISED), 0);
    tw_wait_backend_state(t, &rf, VG_XB_CONNECTED);
    assert_int_equal(rf_set_state(&rf, VG_XB_CONNECTED), 0);
    tw_pump(t, 2);

    for (unsigned i = 0; i < 80; i++) {     /* wraps the 64-entry ring */
        assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_OUT, i % 16, 512,
                                        false), 0);
        memset(r.data, (int)(0x40 + i), 512);
        assert_int_equal(tw_blk_do(t, &rf, &r), VIRTIO_BLK_S_OK);
        assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_IN, i % 16, 512,
                                        false), 0);
        assert_int_equal(tw_blk_do(t, &rf, &r), VIRTIO_BLK_S_OK);
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
    assert_int_equal(tw_dev_stats(t, 1, 0).live_mappings, 4);
    assert_int_equal(tw_dev_stats(t, 1, 0).errors, 0);

    assert_int_equal(rf_set_state(&rf, VG_XB_CLOSING), 0);
    tw_wait_backend_state(t, &rf, VG_XB_CLOSED);
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

    tw_attach(t, &rf, 1, 0, NULL);
    assert_int_equal(rf_setup_rings(&rf, 64), 0);
    assert_int_equal(rf_write_keys(&rf, FEATURES_STD), 0);
    /* the used ring (518 bytes) at offset 4092 of its one granted page */
    snprintf(addr, sizeof(addr), "0x%llx",
             (unsigned long long)vg_grant_addr(rf.used_ref, VG_PAGE_SIZE - 4));
    assert_int_equal(rf_write(&rf, "queue-0/device", addr), 0);
    tw_capture_start();
    assert_int_equal(rf_set_state(&rf, VG_XB_INITIALISED), 0);
    tw_wait_backend_state(t, &rf, VG_XB_CLOSING);
    log = tw_capture_stop();
    tw_assert_log_has(log, "dom 1 dev 0: queue 0 device");
    tw_assert_log_has(log, "refs cannot be mapped writable");
    free(log);
    assert_int_equal(vg_fake_live_mappings(t->w, 1), 0);
    assert_int_equal(tw_dev_stats(t, 1, 0).live_mappings, 0);
    assert_int_equal(rf_set_state(&rf, VG_XB_CLOSED), 0);
    tw_wait_backend_state(t, &rf, VG_XB_CLOSED);
    rf_close(&rf);
    tw_free(t);
}

/* A frontend that gives up between vgrantd reading its keys and mapping
 * its rings, as libvgrant does when its handshake times out (state Closed,
 * then the ring grants revoked): vgrant's map of the first ring area plays
 * that frontend first, then maps.  On Xen that map fails with EINVAL
 * (gntdev); it is the frontend withdrawing, not a protocol violation, and
 * the device closes as for a frontend that closed before connecting. */
static struct {
    struct rawfront *rf;
    const struct vg_hyp_ops *real;
    unsigned calls;
    const char *failed;        /* what the withdrawal could not do */
} withdraw;

static void *withdraw_then_map(struct vg_hyp *h, uint16_t domid,
                               uint32_t count, const vg_gref_t *refs,
                               bool writable)
{
    struct rawfront *rf = withdraw.rf;

    if (withdraw.calls++ == 0) {
        if (rf_set_state(rf, VG_XB_CLOSED))
            withdraw.failed = "writing state Closed";
        for (unsigned i = 0; i < RF_MAX_SHARES; i++) {
            if (!rf->shares[i].addr)
                continue;
            if (rf->h->ops->unshare_pages(rf->h, rf->shares[i].addr,
                                          rf->shares[i].count))
                withdraw.failed = "revoking a ring grant";
            rf->shares[i].addr = NULL;
        }
    }
    return withdraw.real->map_grants(h, domid, count, refs, writable);
}

static void test_frontend_withdraws_while_connecting(void **state)
{
    struct tw *t = tw_new(0);
    struct rawfront rf;
    struct vg_hyp_ops ops;
    char *log;
    (void)state;

    tw_attach(t, &rf, 1, 0, NULL);
    assert_int_equal(rf_setup_rings(&rf, 64), 0);
    assert_int_equal(rf_write_keys(&rf, FEATURES_STD), 0);
    withdraw.rf = &rf;
    withdraw.real = t->be->ops;
    withdraw.calls = 0;
    withdraw.failed = NULL;
    ops = *t->be->ops;
    ops.map_grants = withdraw_then_map;
    t->be->ops = &ops;
    tw_capture_start();
    assert_int_equal(rf_set_state(&rf, VG_XB_INITIALISED), 0);
    tw_wait_backend_state(t, &rf, VG_XB_CLOSED);
    log = tw_capture_stop();
    t->be->ops = withdraw.real;
    assert_null(withdraw.failed);
    assert_int_equal(withdraw.calls, 1);
    tw_assert_log_has(log, "dom 1 dev 0: queue 0 desc");
    tw_assert_log_has(log, "refs cannot be mapped");
    tw_assert_log_has(log, "the frontend is now Closed");
    if (strstr(log, "error: dom 1 dev 0"))
        fail_msg("a withdrawal logged as an error:\n%s", log);
    tw_assert_log_has(log, "closing: the frontend went from Initialised to "
                      "Closed while we connected: it withdrew its keys and "
                      "grants");
    if (strstr(log, "protocol violation"))
        fail_msg("a withdrawal taken for a protocol violation:\n%s", log);
    free(log);
    assert_int_equal(vg_fake_live_mappings(t->w, 1), 0);
    assert_int_equal(tw_dev_stats(t, 1, 0).live_mappings, 0);
    /* the frontend can start over */
    assert_int_equal(rf_set_state(&rf, VG_XB_INITIALISING), 0);
    tw_wait_backend_state(t, &rf, VG_XB_INITWAIT);
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
    tw_attach_connect(t, &good, 2, 0, 64, NULL);

    for (size_t i = 0; i < n; i++) {
        char *log;
        char who[32];

        tw_attach(t, &rf, 1, (unsigned)i, NULL);
        assert_int_equal(rf_setup_rings(&rf, 64), 0);
        assert_int_equal(rf_write_keys(&rf, FEATURES_STD), 0);
        if (cases[i].key)
            assert_int_equal(rf_write(&rf, cases[i].key, cases[i].value), 0);
        if (cases[i].rm)
            assert_int_equal(rf_remove(&rf, cases[i].rm), 0);
        tw_capture_start();
        assert_int_equal(rf_set_state(&rf, VG_XB_INITIALISED), 0);
        tw_wait_backend_state(t, &rf, VG_XB_CLOSING);
        log = tw_capture_stop();
        snprintf(who, sizeof(who), "dom 1 dev %zu:", i);
        tw_assert_log_has(log, who);
        tw_assert_log_has(log, cases[i].expect_log);
        free(log);
        /* nothing of the bad device stays mapped or bound */
        assert_int_equal(vg_fake_live_mappings(t->w, 1), 0);
        assert_int_equal(tw_dev_stats(t, 1, (unsigned)i).live_mappings, 0);
        /* the frontend acknowledges: Closed */
        assert_int_equal(rf_set_state(&rf, VG_XB_CLOSED), 0);
        tw_wait_backend_state(t, &rf, VG_XB_CLOSED);
        rf_close(&rf);
    }

    assert_int_equal(rf_backend_state(&good), VG_XB_CONNECTED);
    assert_int_equal(vg_fake_bound_ports(t->w, 0), 1);
    assert_int_equal(rf_blk_prepare(&good, &r, VIRTIO_BLK_T_IN, 1, 512, false), 0);
    assert_int_equal(tw_blk_do(t, &good, &r), VIRTIO_BLK_S_OK);
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

    tw_ensure_domain(t, 1);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tw_capture_start();
        assert_int_equal(rf_toolstack_attach(t->ts, 1, (unsigned)i, 0,
                                             &cases[i].a), 0);
        assert_int_equal(rf_open(&rf, t->w, 1, (unsigned)i, 0), 0);
        /* refused: Closing, and Closed at once as the frontend (still
         * Initialising) has nothing to tear down */
        tw_wait_backend_state(t, &rf, VG_XB_CLOSED);
        log = tw_capture_stop();
        tw_assert_log_has(log, cases[i].expect);
        free(log);
        /* the frontend gives up: Closed; never InitWait again */
        assert_int_equal(rf_set_state(&rf, VG_XB_CLOSED), 0);
        tw_wait_backend_state(t, &rf, VG_XB_CLOSED);
        assert_int_equal(rf_set_state(&rf, VG_XB_INITIALISING), 0);
        tw_pump(t, 5);
        assert_int_equal(rf_backend_state(&rf), VG_XB_CLOSED);
        rf_close(&rf);
    }

    /* a backend dir whose toolstack keys are incomplete is waited for */
    {
        char path[VG_XS_PATH_MAX];
        snprintf(path, sizeof(path),
                 "/local/domain/0/backend/virtio-grant/1/50/state");
        assert_int_equal(t->ts->ops->xs_write(t->ts, 0, path, "1"), 0);
        tw_pump(t, 5);
        assert_int_equal(vg_xs_read_state(t->ts,
                         "/local/domain/0/backend/virtio-grant/1/50"),
                         VG_XB_INITIALISING);
        /* the toolstack completes it: the device comes up (read as dom0:
         * the early "state" node kept its dom0-only permissions) */
        struct rf_attach a = { .target = t->image };
        assert_int_equal(rf_toolstack_attach(t->ts, 1, 50, 0, &a), 0);
        assert_int_equal(rf_open(&rf, t->w, 1, 50, 0), 0);
        tw_pump(t, 3);
        assert_int_equal(vg_xs_read_state(t->ts, rf.be_path), VG_XB_INITWAIT);
        rf_close(&rf);
    }
    tw_free(t);
}

/* ------------------------------------------------------------------ */
/* ------------------------------------------------------------------ */
/* lifecycle                                                           */

static void test_free_releases_every_mapping_and_port(void **state)
{
    struct tw *t = tw_new(1);
    struct rawfront a, b;
    struct rf_blk ra[4], rb[4];
    (void)state;

    tw_attach_connect(t, &a, 1, 0, 64, NULL);
    tw_attach_connect(t, &b, 2, 3, 64, NULL);
    for (unsigned i = 0; i < 4; i++) {
        assert_int_equal(rf_blk_prepare(&a, &ra[i], VIRTIO_BLK_T_IN, i, 512, false), 0);
        assert_int_equal(rf_blk_prepare(&b, &rb[i], VIRTIO_BLK_T_IN, i, 512, false), 0);
        rf_blk_submit(&a, &ra[i]);
        rf_blk_submit(&b, &rb[i]);
    }
    rf_kick(&a);
    rf_kick(&b);
    tw_pump(t, 1);
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

    tw_attach_connect(t, &rf, 1, 0, 64, NULL);
    /* the daemon dies without cleaning up (we free it, then pretend its
     * state writes never happened) */
    vgd_free(t->d);
    assert_int_equal(vg_xs_write_state(t->ts, rf.be_path, VG_XB_CONNECTED), 0);

    t->d = vgd_new(t->be, &o);
    assert_non_null(t->d);
    assert_int_equal(vgd_start(t->d), 0);
    tw_wait_backend_state(t, &rf, VG_XB_CLOSING);
    /* the frontend resets and the handshake reruns */
    assert_int_equal(rf_set_state(&rf, VG_XB_CLOSED), 0);
    tw_wait_backend_state(t, &rf, VG_XB_CLOSED);
    rf_close(&rf);
    assert_int_equal(rf_open(&rf, t->w, 1, 0, 0), 0);
    assert_int_equal(rf_set_state(&rf, VG_XB_INITIALISING), 0);
    tw_wait_backend_state(t, &rf, VG_XB_INITWAIT);
    assert_int_equal(rf_connect(&rf, 64), 0);
    tw_wait_backend_state(t, &rf, VG_XB_CONNECTED);
    assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_IN, 6, 512, false), 0);
    assert_int_equal(tw_blk_do(t, &rf, &r), VIRTIO_BLK_S_OK);
    assert_int_equal(r.data[0], 6);

    /* online=0: the device closes, mappings go */
    assert_int_equal(vg_xs_write_fmt(t->ts, 0, rf.be_path, VG_KEY_ONLINE, "0"), 0);
    tw_wait_backend_state(t, &rf, VG_XB_CLOSED);
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
    tw_attach(t, &rf, 4, 0, NULL);            /* backend InitWait, no frontend */
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
int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_happy_path_read_write_flush_get_id),
        cmocka_unit_test(test_frontend_never_connects_tells_user),
        cmocka_unit_test(test_ring_areas_at_page_offsets),
        cmocka_unit_test(test_hostile_ring_area_past_granted_run),
        cmocka_unit_test(test_frontend_withdraws_while_connecting),
        cmocka_unit_test(test_hostile_xs_garbage_frontend_keys),
        cmocka_unit_test(test_hostile_xs_missing_keys),
        cmocka_unit_test(test_hostile_toolstack_keys),
        cmocka_unit_test(test_free_releases_every_mapping_and_port),
        cmocka_unit_test(test_restart_closes_orphaned_connected_device),
    };

    vg_log_init("test_backend", VG_LOG_INFO);
    vd_on_fail = tw_capture_abort;
    return cmocka_run_group_tests(tests, NULL, NULL);
}

