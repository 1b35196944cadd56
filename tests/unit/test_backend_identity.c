/* SPDX-License-Identifier: MIT */
/*
 * vgrantd (twfix.h): device identity across re-attach and domid reuse
 * (issue 13 finding 1), fairness by bytes (finding 2), xenstore write
 * amplification and a flapping frontend's log (finding 5).
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

/* identity (issue 13 finding 1), fairness by bytes (finding 2),       */
/* xenstore amplification (finding 5)                                  */

/* Open the guest side of a device just (re-)attached read-only and check
 * the backend offers it afresh: InitWait with VIRTIO_BLK_F_RO published. */
static void open_expect_fresh_readonly(struct tw *t, struct rawfront *rf,
                                       uint16_t dom)
{
    uint64_t features;

    assert_int_equal(rf_open(rf, t->w, dom, 0, 0), 0);
    tw_wait_backend_state(t, rf, VG_XB_INITWAIT);
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

    tw_attach_connect(t, &old_rf, 1, 0, 64, NULL);
    /* the toolstack removes both directories and attaches again, all
     * before the daemon runs a round */
    assert_int_equal(t->ts->ops->xs_rm(t->ts, 0, old_rf.be_path), 0);
    assert_int_equal(t->ts->ops->xs_rm(t->ts, 0, old_rf.fe_path), 0);
    assert_int_equal(rf_toolstack_attach(t->ts, 1, 0, 0, &ro), 0);
    tw_pump(t, 3);
    /* the old device is gone: nothing of the old guest rings stays mapped */
    assert_int_equal(vg_fake_live_mappings(t->w, 1), 0);
    rf_close(&old_rf);

    open_expect_fresh_readonly(t, &rf, 1);
    assert_int_equal(rf_connect(&rf, 64), 0);
    tw_wait_backend_state(t, &rf, VG_XB_CONNECTED);

    assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_OUT, 6, 512, false), 0);
    memset(r.data, 0xee, 512);
    assert_int_equal(tw_blk_do(t, &rf, &r), VIRTIO_BLK_S_IOERR);
    assert_true(tw_sector_is(t->image, 6, 6));      /* old image untouched */
    assert_true(tw_sector_is(t->image_ro, 6, 6));
    /* reads come from the new target */
    assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_IN, 7, 512, false), 0);
    assert_int_equal(tw_blk_do(t, &rf, &r), VIRTIO_BLK_S_OK);
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

    tw_attach_connect(t, &rf, 1, 0, 64, NULL);
    assert_int_equal(rf_set_state(&rf, VG_XB_CLOSING), 0);
    tw_wait_backend_state(t, &rf, VG_XB_CLOSED);
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

    tw_attach_connect(t, &rf, 3, 0, 64, NULL);
    assert_int_equal(vg_fake_domain_destroy(t->w, 3), 0);
    tw_pump(t, 3);
    assert_int_equal(tw_dev_stats(t, 3, 0).state, VG_XB_CLOSED);
    rf_close(&rf);

    /* the same id comes back; the new guest forges the old frontend dir */
    assert_int_equal(vg_fake_domain_create(t->w, 3), 0);
    assert_int_equal(rf_open(&intruder, t->w, 3, 0, 0), 0);
    assert_int_equal(rf_write(&intruder, VG_KEY_BACKEND, intruder.be_path), 0);
    assert_int_equal(rf_write(&intruder, VG_KEY_BACKEND_ID, "0"), 0);
    assert_int_equal(rf_set_state(&intruder, VG_XB_INITIALISING), 0);
    tw_pump(t, 5);
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

    tw_ensure_domain(t, 1);
    assert_int_equal(rf_toolstack_attach(t->ts, 1, 0, 0, &a), 0);
    assert_int_equal(rf_open(&rf, t->w, 1, 0, 0), 0);
    tw_capture_start();
    tw_pump(t, 3);
    log = tw_capture_stop();
    tw_assert_log_has(log, "backend key attach-id 'abc\\x0aforged'");
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

    tw_attach_connect(t, &a, 1, 0, 64, NULL);
    tw_attach_connect(t, &b, 2, 0, 64, NULL);
    for (unsigned i = 0; i < NBIG; i++) {
        assert_int_equal(rf_blk_prepare(&a, &ra[i], VIRTIO_BLK_T_IN, 0, BIG,
                                        false), 0);
        rf_blk_submit(&a, &ra[i]);
    }
    assert_int_equal(rf_kick(&a), 0);
    tw_pump(t, 1);                 /* a's queue is busy when b asks */
    assert_int_equal(rf_blk_prepare(&b, &rb, VIRTIO_BLK_T_IN, 9, 512, false), 0);
    rf_blk_submit(&b, &rb);
    assert_int_equal(rf_kick(&b), 0);
    for (int i = 0; i < MAX_ROUNDS && !done; i++) {
        tw_pump(t, 1);
        done = rf_get_used(&b, &id, &len);
    }
    assert_true(done);
    assert_int_equal(*rb.status, VIRTIO_BLK_S_OK);
    /* at most one budget of a's bytes per round: 2 rounds, 1 request each */
    assert_in_range(tw_dev_stats(t, 1, 0).requests, 1, 2);
    /* and a still gets everything, later */
    tw_pump(t, NBIG + 2);
    assert_int_equal(tw_dev_stats(t, 1, 0).requests, NBIG);
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

    tw_attach_connect(t, &rf, 1, 0, 64, NULL);
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
    tw_pump(t, 1);
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

    tw_attach(t, &rf, 1, 0, NULL);
    tw_capture_start();
    for (unsigned i = 0; i < CYCLES; i++) {
        /* Initialised with no keys: the backend fails the device */
        assert_int_equal(rf_set_state(&rf, VG_XB_INITIALISED), 0);
        tw_pump(t, 1);
        assert_int_equal(rf_set_state(&rf, VG_XB_CLOSED), 0);
        tw_pump(t, 1);
        assert_int_equal(rf_set_state(&rf, VG_XB_INITIALISING), 0);
        tw_pump(t, 1);
    }
    log = tw_capture_stop();
    for (p = log; (p = strstr(p, "dom 1 dev 0: ")); p++)
        lines++;
    /* each cycle logs about four lines unlimited; a burst per window
     * plus summaries is all that may get through */
    assert_in_range(lines, 1, 40);
    free(log);
    rf_close(&rf);
    tw_free(t);
}

enum { LOG_CYCLES = 300 };

static unsigned count_lines(const char *log, const char *needle)
{
    unsigned n = 0;

    for (const char *p = log; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

/* One Closed -> Initialising -> Initialised cycle of the guest. */
static void recycle(struct tw *t, struct rawfront *rf)
{
    assert_int_equal(rf_set_state(rf, VG_XB_CLOSED), 0);
    tw_pump(t, 1);
    assert_int_equal(rf_set_state(rf, VG_XB_INITIALISING), 0);
    tw_pump(t, 1);
    assert_int_equal(rf_set_state(rf, VG_XB_INITIALISED), 0);
    tw_pump(t, 1);
}

/* Static mode: a guest whose region keys are missing, flapping its state:
 * static_connect's lines go through the device's state-machine limiter
 * (they went out unlimited, one ERR line per cycle: review of
 * 2026-12-03). */
static void test_hostile_static_region_flapping_log_bounded(void **state)
{
    struct tw *t = tw_new(0);
    struct rawfront rf;
    struct rf_attach a = { .target = t->image, .mode = "static" };
    char be[VG_XS_PATH_MAX];
    unsigned lines;
    char *log;
    (void)state;

    tw_ensure_domain(t, 1);
    assert_int_equal(rf_toolstack_attach(t->ts, 1, 0, 0, &a), 0);
    snprintf(be, sizeof(be), "/local/domain/0/backend/%s/1/0", VG_XS_CLASS);
    assert_int_equal(vg_xs_write_fmt(t->ts, VG_XS_NO_TX, be, VG_KEY_REGION,
                                     "%u", 16384u), 0);
    assert_int_equal(rf_open(&rf, t->w, 1, 0, 0), 0);
    tw_wait_backend_state(t, &rf, VG_XB_INITWAIT);
    /* valid ring keys, no region-pages: every connect fails in static_connect */
    assert_int_equal(rf_connect(&rf, 64), 0);
    tw_capture_start();
    tw_pump(t, 1);
    for (unsigned i = 0; i < LOG_CYCLES; i++)
        recycle(t, &rf);
    log = tw_capture_stop();
    lines = count_lines(log, "dom 1 dev 0: ");
    print_message("static: %u lines for %u cycles (%u of them "
                  "'static mode: frontend key')\n", lines, LOG_CYCLES,
                  count_lines(log, "static mode: frontend key"));
    /* the same bound as test_hostile_state_flapping_log_bounded */
    assert_in_range(lines, 1, 40);
    free(log);
    rf_close(&rf);
    tw_free(t);
}

/* Any mode: a guest that connects with an avail index far ahead of the
 * ring, in a loop.  dev_connect puts every queue on the ready list, so
 * the queue breaks at once: queue_broken's line goes through the device's
 * limiter (it did not: one ERR line per connect, review of 2026-12-03). */
static void test_hostile_broken_ring_flapping_log_bounded(void **state)
{
    struct tw *t = tw_new(0);
    struct rawfront rf;
    unsigned lines;
    char *log;
    (void)state;

    tw_attach(t, &rf, 1, 0, NULL);
    assert_int_equal(rf_setup_rings(&rf, 64), 0);
    rf.avail->idx = 1000;     /* > num ahead of 0: broken ring */
    assert_int_equal(rf_write_keys(&rf, VG_FEATURES_REQUIRED |
                                   VG_FEATURE(VIRTIO_RING_F_EVENT_IDX)), 0);
    tw_capture_start();
    assert_int_equal(rf_set_state(&rf, VG_XB_INITIALISED), 0);
    tw_pump(t, 1);
    for (unsigned i = 0; i < LOG_CYCLES; i++)
        recycle(t, &rf);
    log = tw_capture_stop();
    lines = count_lines(log, "dom 1 dev 0: ");
    print_message("broken ring: %u lines for %u cycles (%u 'broken')\n",
                  lines, LOG_CYCLES, count_lines(log, "broken"));
    assert_in_range(lines, 1, 40);
    free(log);
    rf_close(&rf);
    tw_free(t);
}

/* Any mode: a guest that reconnects between bursts of unmappable
 * requests.  The transport's failure limiter is the queue's, kept across
 * connections, and summed up when the device goes; it used to start
 * afresh at every connect and flush a summary at every disconnect, a new
 * burst of lines each time (review of 2026-12-03). */
static void test_hostile_bad_requests_reconnect_log_bounded(void **state)
{
    enum { RECONNECTS = 30, BAD = 12 };
    struct tw *t = tw_new(0);
    struct rawfront rf;
    unsigned lines;
    char *log;
    (void)state;

    tw_attach_connect(t, &rf, 1, 0, 64, NULL);
    tw_capture_start();
    for (unsigned c = 0; c < RECONNECTS; c++) {
        for (unsigned i = 0; i < BAD; i++) {
            /* header at an address without the grant bit */
            struct rf_buf b[2] = { { 0x1000, 16, false }, { 0x2000, 1, true } };
            uint32_t id, len;

            rf_add_chain(&rf, b, 2);
            assert_true(vd_serve_until_used(t->d, &rf, &id, &len));
        }
        /* reconnect with the same rings: Closing, Closed, Initialising,
         * Initialised */
        assert_int_equal(rf_set_state(&rf, VG_XB_CLOSING), 0);
        tw_wait_backend_state(t, &rf, VG_XB_CLOSED);
        assert_int_equal(rf_drop_rings(&rf), 0);
        assert_int_equal(rf_set_state(&rf, VG_XB_INITIALISING), 0);
        tw_wait_backend_state(t, &rf, VG_XB_INITWAIT);
        vd_connect(t->d, &rf, 64);
    }
    log = tw_capture_stop();
    lines = count_lines(log, "dom 1 dev 0: ");
    print_message("bad requests: %u lines for %u reconnects x %u bad "
                  "requests\n", lines, RECONNECTS, BAD);
    /* one device, one guest: a burst per window plus summaries */
    assert_in_range(lines, 1, 60);
    free(log);
    rf_close(&rf);
    tw_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_reattach_before_removal_seen),
        cmocka_unit_test(test_hostile_reattach_while_closed),
        cmocka_unit_test(test_hostile_domid_reuse_after_destroy),
        cmocka_unit_test(test_hostile_bad_attach_id),
        cmocka_unit_test(test_hostile_large_requests_do_not_starve_others),
        cmocka_unit_test(test_hostile_xenstore_write_storm_coalesced),
        cmocka_unit_test(test_hostile_state_flapping_log_bounded),
        cmocka_unit_test(test_hostile_static_region_flapping_log_bounded),
        cmocka_unit_test(test_hostile_broken_ring_flapping_log_bounded),
        cmocka_unit_test(test_hostile_bad_requests_reconnect_log_bounded),
    };

    vg_log_init("test_backend_identity", VG_LOG_INFO);
    vd_on_fail = tw_capture_abort;
    return cmocka_run_group_tests(tests, NULL, NULL);
}

