/* SPDX-License-Identifier: MIT */
/*
 * vgrantd's asynchronous data path (backend/serve.c, aio.h): a queue's
 * round of requests is in the kernel at once and completes out of order;
 * a FLUSH waits for the requests before it; a failing backing store fails
 * only the request that hit it; a slow one holds up only its own queue;
 * a guest that closes, dies or revokes a grant while its round is in the
 * kernel costs nothing but its own requests, and leaves nothing mapped.
 *
 * Most tests drive the daemon with the test executor of aio_held.h, which
 * holds, fails and reorders transfers on request; the last one runs the
 * real io_uring executor.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "aio_held.h"
#include "rawfront.h"
#include "transport.h"
#include "twfix.h"
#include "vgdrive.h"
#include "vgrant/log.h"
#include "vgrantd.h"

#define DEPTH 16u

struct ta {
    struct tw *t;
    struct held_aio *held;
};

static struct ta *ta_new(void)
{
    struct ta *a = calloc(1, sizeof(*a));
    struct vgd_options o = { 0 };

    assert_non_null(a);
    a->held = held_new();
    o.aio = &a->held->a;
    a->t = tw_new_opts(&o);
    return a;
}

static void ta_free(struct ta *a)
{
    tw_free(a->t);              /* drains before the executor goes */
    held_free(a->held);
    free(a);
}

/* Daemon rounds that never sleep: held transfers would make vd_round
 * wait for them. */
static void pump0(struct ta *a, int rounds)
{
    for (int i = 0; i < rounds; i++)
        assert_int_equal(vgd_run_once(a->t->d, 0), 0);
}

/* n writes of 512 bytes at sectors first.., sector k filled with
 * fill + k (fill 0: left as prepared), all held in the "kernel": the
 * guest kicks, three rounds start them, none completes. */
static void held_writes(struct ta *a, struct rawfront *rf, struct rf_blk *r,
                        unsigned n, uint64_t first, uint8_t fill)
{
    a->held->hold_all = true;
    for (unsigned i = 0; i < n; i++) {
        assert_int_equal(rf_blk_prepare(rf, &r[i], VIRTIO_BLK_T_OUT,
                                        first + i, 512, false), 0);
        if (fill)
            memset(r[i].data, fill + i, 512);
        rf_blk_submit(rf, &r[i]);
    }
    assert_int_equal(rf_kick(rf), 0);
    pump0(a, 3);
    assert_int_equal(held_pending(a->held), n);
}

/* The held transfers complete; a few rounds finish what waited on them. */
static void release_held(struct ta *a)
{
    held_release(a->held);
    pump0(a, 10);
    assert_int_equal(held_pending(a->held), 0);
}

/* Nothing of guest 1 mapped, no port of the backend bound. */
static void assert_guest_released(struct ta *a)
{
    assert_int_equal(vg_fake_live_mappings(a->t->w, 1), 0);
    assert_int_equal(vg_fake_bound_ports(a->t->w, 0), 0);
}

/* Guest 1 opens its device again after a re-attach: offered afresh. */
static void open_new_attach(struct ta *a, struct rawfront *rf)
{
    assert_int_equal(rf_open(rf, a->t->w, 1, 0, 0), 0);
    for (int i = 0; i < 50 && rf_backend_state(rf) != VG_XB_INITWAIT; i++)
        pump0(a, 1);
    assert_int_equal(rf_backend_state(rf), VG_XB_INITWAIT);
}

static unsigned drain_used(struct rawfront *rf, bool *seen, unsigned num)
{
    uint32_t id, len;
    unsigned got = 0;

    while (rf_get_used(rf, &id, &len)) {
        assert_true(id < num);
        if (seen) {
            assert_false(seen[id]);     /* completed once, never twice */
            seen[id] = true;
        }
        got++;
    }
    return got;
}

/* Run the daemon a round at a time until the guest has collected want
 * used entries in all (got so far), at most MAX_ROUNDS rounds; returns
 * the new total for the caller to check. */
static unsigned collect_used(struct ta *a, struct rawfront *rf, bool *seen,
                             unsigned got, unsigned want)
{
    for (int i = 0; i < MAX_ROUNDS && got < want; i++) {
        pump0(a, 1);
        got += drain_used(rf, seen, 64);
    }
    return got;
}

/* DEPTH reads published before one kick are all in the "kernel" at once
 * (nothing completed yet, every buffer mapped), complete in reverse
 * order, and each reads its own sector. */
static void test_round_in_flight_completes_out_of_order(void **state)
{
    struct ta *a = ta_new();
    struct rawfront rf;
    struct rf_blk r[DEPTH];
    bool seen[64] = { false };
    unsigned got = 0;
    struct vgd_dev_stats s;
    (void)state;

    tw_attach_connect(a->t, &rf, 1, 0, 64, NULL);
    unsigned ring_pages = vg_fake_live_mappings(a->t->w, 1);
    for (unsigned i = 0; i < DEPTH; i++) {
        assert_int_equal(rf_blk_prepare(&rf, &r[i], VIRTIO_BLK_T_IN, i, 512,
                                        false), 0);
        memset(r[i].data, 0xee, 512);
        rf_blk_submit(&rf, &r[i]);
    }
    a->held->hold_all = true;
    assert_int_equal(rf_kick(&rf), 0);
    pump0(a, 3);
    assert_int_equal(held_pending(a->held), DEPTH);
    assert_int_equal(vgd_transfers_in_flight(a->t->d), DEPTH);
    assert_int_equal(drain_used(&rf, NULL, 64), 0);
    /* the round's data pages stay mapped while the kernel uses them */
    assert_true(vg_fake_live_mappings(a->t->w, 1) > ring_pages);
    s = tw_dev_stats(a->t, 1, 0);
    assert_int_equal(s.in_flight, DEPTH);
    assert_true(s.max_in_flight >= DEPTH);
    assert_int_equal(s.async_rounds, 1);

    held_release(a->held);
    got = collect_used(a, &rf, seen, got, DEPTH);
    assert_int_equal(got, DEPTH);
    for (unsigned i = 0; i < DEPTH; i++) {
        assert_int_equal(*r[i].status, VIRTIO_BLK_S_OK);
        assert_int_equal(r[i].data[0], i);
        assert_int_equal(r[i].data[511], i);
    }
    /* completed in reverse order of submission, results all in place */
    assert_int_equal(a->held->log[DEPTH].offset, (DEPTH - 1) * 512u);
    assert_int_equal(vg_fake_live_mappings(a->t->w, 1), ring_pages);
    s = tw_dev_stats(a->t, 1, 0);
    assert_int_equal(s.in_flight, 0);
    assert_int_equal(s.requests, DEPTH);
    rf_close(&rf);
    ta_free(a);
}

/* Two lanes: a write's round is in the kernel when the guest publishes
 * a FLUSH and 7 reads (half a lane): they start a round in the other
 * lane, the FLUSH not submitted before the older write completed and
 * the reads after it waiting for it.  With both lanes busy, 8 more reads
 * wait in the ring; once the write completes its lane takes them, while
 * the flush runs: 16 in flight. */
static void test_second_round_starts_while_first_in_flight(void **state)
{
    struct ta *a = ta_new();
    struct rawfront rf;
    struct rf_blk w, fl, r[15];
    bool seen[64] = { false };
    unsigned got = 0;
    struct vgd_dev_stats s;
    (void)state;

    tw_attach_connect(a->t, &rf, 1, 0, 64, NULL);
    assert_int_equal(rf_blk_prepare(&rf, &w, VIRTIO_BLK_T_OUT, 60, 512,
                                    false), 0);
    memset(w.data, 0x3c, 512);
    rf_blk_submit(&rf, &w);
    a->held->hold_all = true;
    assert_int_equal(rf_kick(&rf), 0);
    pump0(a, 3);
    assert_int_equal(held_pending(a->held), 1);

    assert_int_equal(rf_blk_prepare(&rf, &fl, VIRTIO_BLK_T_FLUSH, 0, 0,
                                    false), 0);
    rf_blk_submit(&rf, &fl);
    for (unsigned i = 0; i < 7; i++) {
        assert_int_equal(rf_blk_prepare(&rf, &r[i], VIRTIO_BLK_T_IN, i, 512,
                                        false), 0);
        rf_blk_submit(&rf, &r[i]);
    }
    assert_int_equal(rf_kick(&rf), 0);
    pump0(a, 3);
    s = tw_dev_stats(a->t, 1, 0);
    assert_int_equal(s.in_flight, 9);          /* popped, in their own round */
    assert_int_equal(held_count(a->held, VGD_IO_FLUSH, false), 0);
    assert_int_equal(held_pending(a->held), 1);   /* the reads wait too */

    for (unsigned i = 7; i < 15; i++) {
        assert_int_equal(rf_blk_prepare(&rf, &r[i], VIRTIO_BLK_T_IN, i, 512,
                                        false), 0);
        rf_blk_submit(&rf, &r[i]);
    }
    assert_int_equal(rf_kick(&rf), 0);
    pump0(a, 3);
    assert_int_equal(tw_dev_stats(a->t, 1, 0).in_flight, 9);  /* no lane */

    /* the write completes: its lane frees and takes the 8 reads, the
     * flush is submitted */
    a->held->held[0] = false;
    a->held->hold_all = true;
    pump0(a, 3);
    got += drain_used(&rf, seen, 64);
    assert_int_equal(got, 1);
    assert_int_equal(*w.status, VIRTIO_BLK_S_OK);
    assert_int_equal(held_count(a->held, VGD_IO_FLUSH, false), 1);
    assert_int_equal(held_pending(a->held), 9);
    s = tw_dev_stats(a->t, 1, 0);
    assert_int_equal(s.in_flight, 16);
    assert_int_equal(s.max_in_flight, 16);
    assert_int_equal(s.async_rounds, 3);

    held_release(a->held);
    got = collect_used(a, &rf, seen, got, 17);
    assert_int_equal(got, 17);
    for (unsigned i = 0; i < 15; i++)
        assert_int_equal(r[i].data[0], i);
    assert_int_equal(*fl.status, VIRTIO_BLK_S_OK);
    assert_true(tw_sector_is(a->t->image, 60, 0x3c));
    assert_int_equal(tw_dev_stats(a->t, 1, 0).in_flight, 0);
    rf_close(&rf);
    ta_free(a);
}

/* avail_event as the guest sees it in the used ring (EVENT_IDX). */
static uint16_t avail_event(const struct rawfront *rf)
{
    return __atomic_load_n((const uint16_t *)&rf->used->ring[rf->num],
                           __ATOMIC_ACQUIRE);
}

/* Coalescing: with a round in the kernel, requests the guest publishes
 * one at a time stay in the ring (vgrantd asks for a kick at the 8th, half
 * a lane) until 8 wait; then they go as one round.  A ninth published
 * alone waits for a round to close and starts then, a queue idle again
 * starting at once. */
static void test_second_round_waits_for_half_a_lane(void **state)
{
    struct ta *a = ta_new();
    struct rawfront rf;
    struct rf_blk first, r[9];
    bool seen[64] = { false };
    unsigned got = 0;
    struct vgd_dev_stats s;
    (void)state;

    tw_attach_connect(a->t, &rf, 1, 0, 64, NULL);
    a->held->hold_all = true;
    assert_int_equal(rf_blk_prepare(&rf, &first, VIRTIO_BLK_T_IN, 30, 512,
                                    false), 0);
    rf_blk_submit(&rf, &first);
    assert_int_equal(rf_kick(&rf), 0);
    pump0(a, 3);
    assert_int_equal(held_pending(a->held), 1);  /* idle queue: at once */

    for (unsigned i = 0; i < 7; i++) {
        assert_int_equal(rf_blk_prepare(&rf, &r[i], VIRTIO_BLK_T_IN, i, 512,
                                        false), 0);
        rf_blk_submit(&rf, &r[i]);
        assert_int_equal(rf_kick(&rf), 0);
        pump0(a, 2);
        assert_int_equal(tw_dev_stats(a->t, 1, 0).in_flight, 1);
        /* the driver would kick when it publishes entry 1 + 7 */
        assert_int_equal(avail_event(&rf), 8);
    }
    assert_int_equal(rf_blk_prepare(&rf, &r[7], VIRTIO_BLK_T_IN, 7, 512,
                                    false), 0);
    rf_blk_submit(&rf, &r[7]);
    assert_int_equal(rf_kick(&rf), 0);
    pump0(a, 2);
    s = tw_dev_stats(a->t, 1, 0);
    assert_int_equal(s.in_flight, 9);
    assert_int_equal(s.max_round, 8);
    assert_int_equal(s.rounds, 2);
    assert_int_equal(held_pending(a->held), 9);

    /* a ninth waits: both lanes are busy.  When the first round closes,
     * the round of 8 is still open and one request is less than half a
     * lane: it still waits.  When the 8 close, the queue is idle and it
     * starts alone. */
    assert_int_equal(rf_blk_prepare(&rf, &r[8], VIRTIO_BLK_T_IN, 8, 512,
                                    false), 0);
    rf_blk_submit(&rf, &r[8]);
    assert_int_equal(rf_kick(&rf), 0);
    pump0(a, 2);
    assert_int_equal(tw_dev_stats(a->t, 1, 0).in_flight, 9);
    held_release_oldest(a->held, 1);    /* the first read completes */
    pump0(a, 3);
    got += drain_used(&rf, seen, 64);
    assert_int_equal(got, 1);
    assert_int_equal(first.data[0], 30);
    assert_int_equal(tw_dev_stats(a->t, 1, 0).in_flight, 8);  /* waits */
    held_release_oldest(a->held, 8);    /* the round of 8 completes */
    got = collect_used(a, &rf, seen, got, 9);
    assert_int_equal(got, 9);
    /* the queue is idle: the ninth started at the close, alone */
    s = tw_dev_stats(a->t, 1, 0);
    assert_int_equal(s.rounds, 3);
    assert_int_equal(s.in_flight, 1);
    held_release(a->held);
    got = collect_used(a, &rf, seen, got, 10);
    assert_int_equal(got, 10);
    for (unsigned i = 0; i < 9; i++)
        assert_int_equal(r[i].data[0], i);
    rf_close(&rf);
    ta_free(a);
}

static uint64_t gather_now;
static uint64_t gather_clock(void)
{
    return gather_now;
}

/* Submit n reads of sectors base.. one at a time, each with a kick, the
 * daemon running after each. */
static void submit_reads(struct ta *a, struct rawfront *rf, struct rf_blk *r,
                         unsigned n, unsigned base)
{
    for (unsigned i = 0; i < n; i++) {
        assert_int_equal(rf_blk_prepare(rf, &r[i], VIRTIO_BLK_T_IN, base + i,
                                        512, false), 0);
        rf_blk_submit(rf, &r[i]);
        assert_int_equal(rf_kick(rf), 0);
        pump0(a, 2);
    }
}

/* Publish n reads of sectors base.. and kick once. */
static void publish_reads(struct rawfront *rf, struct rf_blk *r, unsigned n,
                          unsigned base)
{
    for (unsigned i = 0; i < n; i++) {
        assert_int_equal(rf_blk_prepare(rf, &r[i], VIRTIO_BLK_T_IN, base + i,
                                        512, false), 0);
        rf_blk_submit(rf, &r[i]);
    }
    assert_int_equal(rf_kick(rf), 0);
}

/* The gathering tests' start: a device served with held completions and
 * --coalesce-ms ms on the fake clock at t0, and a first round of four
 * published before one kick (nothing to expect yet: one round). */
static void gather_start(struct ta *a, struct rawfront *rf, struct rf_blk *r,
                         unsigned ms, uint64_t t0)
{
    struct vgd_options o = { .coalesce_ms = ms, .clock_ms = gather_clock };

    a->held = held_new();
    o.aio = &a->held->a;
    gather_now = t0;
    a->t = tw_new_opts(&o);
    tw_attach_connect(a->t, rf, 1, 0, 64, NULL);
    publish_reads(rf, r, 4, 0);
    assert_int_equal(collect_used(a, rf, NULL, 0, 4), 4);
    assert_int_equal(tw_dev_stats(a->t, 1, 0).rounds, 1);
}

/* After gather_start, three of sectors 10.. sent and waiting: the fourth
 * comes and the four make the second round. */
static unsigned fourth_of_four(struct ta *a, struct rawfront *rf,
                               struct rf_blk *r)
{
    struct vgd_dev_stats s;

    submit_reads(a, rf, &r[3], 1, 13);
    assert_int_equal(collect_used(a, rf, NULL, 4, 8), 8);
    s = tw_dev_stats(a->t, 1, 0);
    assert_int_equal(s.rounds, 2);
    assert_int_equal(s.max_round, 4);
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(r[i].data[0], 10 + i);
    return 8;
}

/* --coalesce-ms: after a round of 4 closed, the idle queue asks for a kick
 * at the 4th new request and starts them as one round, however many
 * kicks came before; when only one comes, it starts after the wait, and
 * from then on a lone request starts at once. */
static void test_idle_queue_gathers_as_many_as_it_gave_back(void **state)
{
    struct ta a;
    struct rawfront rf;
    struct rf_blk r[4];
    unsigned got = 4;
    struct vgd_dev_stats s;
    (void)state;

    gather_start(&a, &rf, r, 2, 1000);
    pump0(&a, 2);
    assert_int_equal(avail_event(&rf), 4 + 3);   /* kick at the 4th new */

    /* the guest sends four again, kicking each time: one round */
    submit_reads(&a, &rf, r, 3, 10);
    s = tw_dev_stats(a.t, 1, 0);
    assert_int_equal(s.in_flight, 0);
    assert_int_equal(s.rounds, 1);
    got = fourth_of_four(&a, &rf, r);

    /* only one comes: it waits the 2 ms (in all), then goes alone */
    submit_reads(&a, &rf, r, 1, 20);
    pump0(&a, 3);
    assert_int_equal(tw_dev_stats(a.t, 1, 0).rounds, 2);
    gather_now += 2;
    got = collect_used(&a, &rf, NULL, got, 9);
    assert_int_equal(got, 9);
    assert_int_equal(r[0].data[0], 20);
    assert_int_equal(tw_dev_stats(a.t, 1, 0).rounds, 3);
    /* expecting one now: the next lone request starts at its kick */
    submit_reads(&a, &rf, r, 1, 21);
    got = collect_used(&a, &rf, NULL, got, 10);
    assert_int_equal(got, 10);
    assert_int_equal(r[0].data[0], 21);
    assert_int_equal(tw_dev_stats(a.t, 1, 0).rounds, 4);
    rf_close(&rf);
    tw_free(a.t);
    held_free(a.held);
}

/* Rounds that overlap share the guest's depth: a round of 4 from the idle
 * queue, then 8 more that start in the other lane while it is in the
 * kernel.  Once both are back the guest has 12 to send again, so the
 * idle queue asks for the kick at the 12th, not at the 8th (the last
 * round's size kept the depth split into small rounds for good:
 * kernel-persistent in make bench). */
static void test_idle_queue_expects_what_overlapping_rounds_gave_back(
    void **state)
{
    struct ta a;
    struct rawfront rf;
    struct rf_blk r[4], b[8];
    struct vgd_dev_stats s;
    (void)state;

    gather_start(&a, &rf, r, 20, 1000);
    a.held->hold_all = true;
    publish_reads(&rf, r, 4, 10);
    pump0(&a, 3);
    s = tw_dev_stats(a.t, 1, 0);
    assert_int_equal(s.rounds, 2);
    assert_int_equal(s.in_flight, 4);
    publish_reads(&rf, b, 8, 20);
    pump0(&a, 3);
    s = tw_dev_stats(a.t, 1, 0);
    assert_int_equal(s.rounds, 3);
    assert_int_equal(s.in_flight, 12);

    a.held->hold_all = false;
    held_release(a.held);
    assert_int_equal(collect_used(&a, &rf, NULL, 4, 16), 16);
    pump0(&a, 2);
    assert_int_equal(avail_event(&rf), 16 + 11);
    for (unsigned i = 0; i < 8; i++)
        assert_int_equal(b[i].data[0], 20 + i);
    rf_close(&rf);
    tw_free(a.t);
    held_free(a.held);
}

/* A slow guest, --coalesce-ms 20: after a round of 4, the next four come
 * one per 2 ms: one round, and the queue learns the pace (6 ms for 4: a
 * gap of 4 x 1.5 = 6 ms).  None comes: no round, the expectation stays;
 * a lone one comes late: it goes after a gap of 6 ms with nothing new,
 * not 20.  Eight come one per 3 ms: the round starts at 20 ms in all
 * with the seven there. */
static void test_idle_queue_waits_at_the_guests_pace(void **state)
{
    struct ta a;
    struct rawfront rf;
    struct rf_blk r[8];
    unsigned got = 4;
    struct vgd_dev_stats s;
    (void)state;

    gather_start(&a, &rf, r, 20, 5000);
    pump0(&a, 2);
    /* four, one every 2 ms */
    for (unsigned i = 0; i < 3; i++) {
        submit_reads(&a, &rf, &r[i], 1, 10 + i);
        gather_now += 2;
        pump0(&a, 3);
        s = tw_dev_stats(a.t, 1, 0);
        assert_int_equal(s.rounds, 1);
        assert_int_equal(s.in_flight, 0);
    }
    got = fourth_of_four(&a, &rf, r);

    /* nothing within a gap, nor long after: no round */
    pump0(&a, 2);
    gather_now += 6;
    pump0(&a, 3);
    gather_now += 100;
    pump0(&a, 3);
    assert_int_equal(tw_dev_stats(a.t, 1, 0).rounds, 2);
    /* a lone one, late: its kick begins a wait for four (the expectation
     * was kept); a gap of 6 ms with nothing more, and it goes */
    submit_reads(&a, &rf, r, 1, 20);
    assert_int_equal(avail_event(&rf), 8 + 3);   /* the 4th after 8 */
    gather_now += 5;
    pump0(&a, 3);
    assert_int_equal(tw_dev_stats(a.t, 1, 0).rounds, 2);
    gather_now += 1;
    got = collect_used(&a, &rf, NULL, got, 9);
    assert_int_equal(got, 9);
    assert_int_equal(r[0].data[0], 20);
    assert_int_equal(tw_dev_stats(a.t, 1, 0).rounds, 3);

    /* a round of eight (one kick), then eight one per 3 ms */
    publish_reads(&rf, r, 8, 30);
    got = collect_used(&a, &rf, NULL, got, 17);
    assert_int_equal(got, 17);
    assert_int_equal(tw_dev_stats(a.t, 1, 0).rounds, 4);
    pump0(&a, 2);
    for (unsigned i = 0; i < 6; i++) {
        submit_reads(&a, &rf, &r[i], 1, 40 + i);
        gather_now += 3;
        pump0(&a, 3);
        assert_int_equal(tw_dev_stats(a.t, 1, 0).rounds, 4);
    }
    submit_reads(&a, &rf, &r[6], 1, 46);
    gather_now += 3;   /* 21 ms since the wait began */
    got = collect_used(&a, &rf, NULL, got, 24);
    assert_int_equal(got, 24);
    s = tw_dev_stats(a.t, 1, 0);
    assert_int_equal(s.rounds, 5);
    for (unsigned i = 0; i < 7; i++)
        assert_int_equal(r[i].data[0], 40 + i);
    /* rounds of 4, 4, 1, 8, 7; waits after the rounds of 4, 4 (ended
     * with nothing), for the lone one (short), after the 8 (short) and
     * after the 7 (still on) */
    assert_int_equal(s.rounds_1, 1);
    assert_int_equal(s.rounds_2_3, 0);
    assert_int_equal(s.rounds_4_7, 3);
    assert_int_equal(s.rounds_8_15, 1);
    assert_int_equal(s.rounds_16_up, 0);
    assert_int_equal(s.gathers, 5);
    assert_int_equal(s.gathers_short, 2);
    rf_close(&rf);
    tw_free(a.t);
    held_free(a.held);
}

/* --byte-budget's default follows the executor: 4 MiB when transfers run
 * in the kernel (a turn costs only its map batch or copies), 1 MiB when
 * the loop does them itself; a value given is kept either way, and a
 * reload to 0 goes back to the executor's default. */
static void test_byte_budget_default_follows_the_executor(void **state)
{
    struct held_aio *held = held_new();
    struct vgd_options with = { .aio = &held->a };
    struct vgd_options sync = { .io_mode = VGD_IO_SYNC };
    struct vgd_options given = { .io_mode = VGD_IO_SYNC,
                                 .byte_budget_per_queue = 8192 };
    struct tw *t;
    unsigned budget, threshold;
    uint64_t bytes;
    (void)state;

    t = tw_new_opts(&with);
    vgd_get_tunables(t->d, &budget, &bytes, &threshold);
    assert_int_equal(bytes, VGD_DEFAULT_BYTE_BUDGET_AIO);
    vgd_set_tunables(t->d, 0, 65536, 0);
    vgd_get_tunables(t->d, &budget, &bytes, &threshold);
    assert_int_equal(bytes, 65536);
    vgd_set_tunables(t->d, 0, 0, 0);
    vgd_get_tunables(t->d, &budget, &bytes, &threshold);
    assert_int_equal(bytes, VGD_DEFAULT_BYTE_BUDGET_AIO);
    tw_free(t);
    held_free(held);

    t = tw_new_opts(&sync);
    vgd_get_tunables(t->d, &budget, &bytes, &threshold);
    assert_int_equal(bytes, VGD_DEFAULT_BYTE_BUDGET);
    tw_free(t);
    t = tw_new_opts(&given);
    vgd_get_tunables(t->d, &budget, &bytes, &threshold);
    assert_int_equal(bytes, 8192);
    tw_free(t);
}

/* W0 W1 FLUSH W2 in one round: the flush is submitted only after both
 * writes completed, and W2 only after the flush completed. */
static void test_flush_waits_for_the_writes_before_it(void **state)
{
    struct ta *a = ta_new();
    struct rawfront rf;
    struct rf_blk w0, w1, fl, w2;
    bool seen[64] = { false };
    unsigned got = 0;
    (void)state;

    tw_attach_connect(a->t, &rf, 1, 0, 64, NULL);
    assert_int_equal(rf_blk_prepare(&rf, &w0, VIRTIO_BLK_T_OUT, 3, 512, false), 0);
    assert_int_equal(rf_blk_prepare(&rf, &w1, VIRTIO_BLK_T_OUT, 4, 512, false), 0);
    assert_int_equal(rf_blk_prepare(&rf, &fl, VIRTIO_BLK_T_FLUSH, 0, 0, false), 0);
    assert_int_equal(rf_blk_prepare(&rf, &w2, VIRTIO_BLK_T_OUT, 5, 512, false), 0);
    memset(w0.data, 0xa0, 512);
    memset(w1.data, 0xa1, 512);
    memset(w2.data, 0xa2, 512);
    rf_blk_submit(&rf, &w0);
    rf_blk_submit(&rf, &w1);
    rf_blk_submit(&rf, &fl);
    rf_blk_submit(&rf, &w2);
    a->held->hold_all = true;
    assert_int_equal(rf_kick(&rf), 0);
    pump0(a, 3);
    /* only the two writes are in the kernel */
    assert_int_equal(held_pending(a->held), 2);
    assert_int_equal(held_count(a->held, VGD_IO_WRITE, false), 2);
    assert_int_equal(held_count(a->held, VGD_IO_FLUSH, false), 0);

    held_release(a->held);
    a->held->hold_all = true;
    pump0(a, 2);
    /* both writes done, the flush in the kernel, W2 still waiting */
    assert_int_equal(held_count(a->held, VGD_IO_WRITE, true), 2);
    assert_int_equal(held_count(a->held, VGD_IO_FLUSH, false), 1);
    assert_int_equal(held_count(a->held, VGD_IO_WRITE, false), 2);
    assert_int_equal(held_pending(a->held), 1);
    assert_int_equal(drain_used(&rf, seen, 64), 0);   /* a round completes whole */

    held_release(a->held);
    got = collect_used(a, &rf, seen, got, 4);
    assert_int_equal(got, 4);
    /* the order the transfers reached the "kernel": W W | F | W */
    {
        enum vgd_io_op order[4];
        unsigned k = 0;

        for (unsigned i = 0; i < a->held->nlog && k < 4; i++)
            if (!a->held->log[i].completed)
                order[k++] = a->held->log[i].op;
        assert_int_equal(k, 4);
        assert_int_equal(order[2], VGD_IO_FLUSH);
        assert_int_equal(order[3], VGD_IO_WRITE);
    }
    assert_int_equal(*w0.status, VIRTIO_BLK_S_OK);
    assert_int_equal(*fl.status, VIRTIO_BLK_S_OK);
    assert_int_equal(*w2.status, VIRTIO_BLK_S_OK);
    assert_true(tw_sector_is(a->t->image, 3, 0xa0));
    assert_true(tw_sector_is(a->t->image, 4, 0xa1));
    assert_true(tw_sector_is(a->t->image, 5, 0xa2));
    rf_close(&rf);
    ta_free(a);
}

/* A backing store failing with err on one kind of transfer: that request
 * completes with IOERR, the log says what failed and where, the device
 * stays Connected and the next request succeeds. */
static void backing_store_fails(int err, enum vgd_io_op op, uint32_t type,
                                const char *why)
{
    struct ta *a = ta_new();
    struct rawfront rf;
    struct rf_blk bad, good;
    struct vgd_dev_stats s;
    char *log;

    tw_attach_connect(a->t, &rf, 1, 0, 64, NULL);
    assert_int_equal(rf_blk_prepare(&rf, &bad, type, 7,
                                    type == VIRTIO_BLK_T_FLUSH ? 0 : 4096,
                                    false), 0);
    if (bad.data)
        memset(bad.data, 0x77, 4096);
    a->held->fail_op = op;
    a->held->fail_errno = err;
    a->held->fail_count = 1;
    tw_capture_start();
    assert_int_equal(tw_blk_do(a->t, &rf, &bad), VIRTIO_BLK_S_IOERR);
    log = tw_capture_stop();
    tw_assert_log_has(log, "dom 1 dev 0: blk: ");
    tw_assert_log_has(log, why);
    free(log);
    if (type == VIRTIO_BLK_T_OUT)
        assert_true(tw_sector_is(a->t->image, 7, 7));   /* nothing written */

    assert_int_equal(rf_blk_prepare(&rf, &good, VIRTIO_BLK_T_OUT, 9, 512,
                                    false), 0);
    memset(good.data, 0x99, 512);
    assert_int_equal(tw_blk_do(a->t, &rf, &good), VIRTIO_BLK_S_OK);
    assert_true(tw_sector_is(a->t->image, 9, 0x99));
    assert_int_equal(rf_backend_state(&rf), VG_XB_CONNECTED);
    s = tw_dev_stats(a->t, 1, 0);
    assert_int_equal(s.errors, 1);
    assert_int_equal(s.requests, 2);
    rf_close(&rf);
    ta_free(a);
}

static void test_hostile_backing_store_eio_on_write(void **state)
{
    (void)state;
    backing_store_fails(EIO, VGD_IO_WRITE, VIRTIO_BLK_T_OUT,
                        "write of 4096 bytes at byte 3584: Input/output error");
}

static void test_hostile_backing_store_enospc_on_write(void **state)
{
    (void)state;
    backing_store_fails(ENOSPC, VGD_IO_WRITE, VIRTIO_BLK_T_OUT,
                        "No space left on device");
}

static void test_hostile_backing_store_eio_on_read(void **state)
{
    (void)state;
    backing_store_fails(EIO, VGD_IO_READ, VIRTIO_BLK_T_IN,
                        "read of 4096 bytes at byte 3584: Input/output error");
}

static void test_hostile_backing_store_eio_on_flush(void **state)
{
    (void)state;
    backing_store_fails(EIO, VGD_IO_FLUSH, VIRTIO_BLK_T_FLUSH,
                        "flush of 0 bytes at byte 0: Input/output error");
}

/* Guest 1's backing file stops answering with a full round in flight;
 * guest 2, on its own file, completes 200 requests meanwhile; then guest
 * 1's file answers and its round completes. */
static void test_slow_backing_file_does_not_stall_another_guest(void **state)
{
    struct ta *a = ta_new();
    struct rawfront rf1, rf2;
    struct rf_blk r1[DEPTH], r2;
    struct rf_attach at2 = { .target = a->t->image_ro };
    bool seen[64] = { false };
    unsigned got = 0;
    (void)state;

    tw_attach_connect(a->t, &rf1, 1, 0, 64, NULL);
    tw_attach_connect(a->t, &rf2, 2, 0, 64, &at2);
    held_hold_file(a->held, a->t->image);
    for (unsigned i = 0; i < DEPTH; i++) {
        assert_int_equal(rf_blk_prepare(&rf1, &r1[i], VIRTIO_BLK_T_IN, i,
                                        4096, false), 0);
        rf_blk_submit(&rf1, &r1[i]);
    }
    assert_int_equal(rf_kick(&rf1), 0);
    pump0(a, 3);
    assert_int_equal(held_pending(a->held), DEPTH);

    assert_int_equal(rf_blk_prepare(&rf2, &r2, VIRTIO_BLK_T_IN, 0, 512,
                                    false), 0);
    for (unsigned i = 0; i < 200; i++) {
        bool done = false;
        uint32_t id, len;

        r2.hdr->sector = i % IMAGE_SECTORS;
        rf_blk_submit(&rf2, &r2);
        assert_int_equal(rf_kick(&rf2), 0);
        for (int k = 0; k < MAX_ROUNDS && !done; k++) {
            pump0(a, 1);
            done = rf_get_used(&rf2, &id, &len);
        }
        assert_true(done);
        assert_int_equal(*r2.status, VIRTIO_BLK_S_OK);
        assert_int_equal(r2.data[0], i % IMAGE_SECTORS);
    }
    /* guest 1: still nothing, its round still in the kernel */
    assert_int_equal(drain_used(&rf1, NULL, 64), 0);
    assert_int_equal(held_pending(a->held), DEPTH);

    held_release(a->held);
    got = collect_used(a, &rf1, seen, got, DEPTH);
    assert_int_equal(got, DEPTH);
    for (unsigned i = 0; i < DEPTH; i++)
        assert_int_equal(*r1[i].status, VIRTIO_BLK_S_OK);
    rf_close(&rf1);
    rf_close(&rf2);
    ta_free(a);
}

/* The backend state of a device, as the toolstack reads it. */
static uint64_t be_state(struct ta *a, const char *be)
{
    uint64_t v = 0;

    assert_int_equal(vg_xs_read_uint(a->t->ts, VG_XS_NO_TX, be, VG_KEY_STATE,
                                     255, &v), 0);
    return v;
}

/* A round in the kernel when the guest goes away (how: a callback): the
 * daemon does not wait for the transfers (the guest's slow file would
 * hold up every other guest, test_hostile_close_with_round_in_flight_
 * stalls_nobody): the device stays Closing with the round's buffers
 * mapped while they run, and once they finish it unmaps everything and
 * goes Closed; each request completes once at most. */
static void round_in_flight_then(void (*go_away)(struct ta *, struct rawfront *),
                                 bool domain_dies)
{
    struct ta *a = ta_new();
    struct rawfront rf;
    struct rf_blk r[8];
    bool seen[64] = { false };
    char be[VG_XS_PATH_MAX];

    snprintf(be, sizeof(be), "/local/domain/0/backend/%s/1/0", VG_XS_CLASS);
    tw_attach_connect(a->t, &rf, 1, 0, 64, NULL);
    held_writes(a, &rf, r, 8, 20, 0x40);

    go_away(a, &rf);
    pump0(a, 20);
    /* still in the kernel: mapped, the device not Closed */
    assert_int_equal(held_pending(a->held), 8);
    assert_true(vg_fake_live_mappings(a->t->w, 1) > 0);
    assert_int_equal(be_state(a, be), VG_XB_CLOSING);
    assert_int_equal(vg_fake_bound_ports(a->t->w, 0), 0);

    held_release(a->held);
    for (int i = 0; i < 50; i++) {
        pump0(a, 1);
        if (!domain_dies)
            drain_used(&rf, seen, 64);
    }
    /* the writes the kernel had ran to the end; none ran twice */
    assert_int_equal(held_pending(a->held), 0);
    assert_int_equal(vgd_transfers_in_flight(a->t->d), 0);
    assert_int_equal(held_count(a->held, VGD_IO_WRITE, true), 8);
    for (unsigned i = 0; i < 8; i++)
        assert_true(tw_sector_is(a->t->image, 20 + i, 0x40 + i));
    assert_guest_released(a);
    assert_int_equal(be_state(a, be), VG_XB_CLOSED);
    if (!domain_dies)
        rf_close(&rf);
    ta_free(a);
}

static void close_frontend(struct ta *a, struct rawfront *rf)
{
    (void)a;
    assert_int_equal(rf_set_state(rf, VG_XB_CLOSING), 0);
}

static void destroy_domain(struct ta *a, struct rawfront *rf)
{
    rf_close(rf);
    assert_int_equal(vg_fake_domain_destroy(a->t->w, 1), 0);
}

static void test_hostile_frontend_closes_with_round_in_flight(void **state)
{
    (void)state;
    round_in_flight_then(close_frontend, false);
}

static void test_hostile_domain_destroyed_with_round_in_flight(void **state)
{
    (void)state;
    round_in_flight_then(destroy_domain, true);
}

/* Issue 13 finding 2's property at close (review of 2026-12-03): guest 1
 * keeps a round of reads in its slow file and closes its device; guest 2,
 * on another file, asks at the same moment.  The daemon used to wait in
 * its only thread (vgd_serve_drain -> io_uring_wait_cqe) for guest 1's
 * transfers before serving anyone, for good if the file never answered.
 * Now guest 2 is served in the next rounds without the daemon ever
 * blocking on the executor; guest 1's device stays Closing with its
 * round's pages mapped until its file answers, then goes Closed with
 * nothing mapped. */
static unsigned blocking_waits;
static const struct vgd_aio_ops *held_ops;

static int counting_wait(struct vgd_aio *aio)
{
    blocking_waits++;
    return held_ops->wait(aio);
}

static void test_hostile_close_with_round_in_flight_stalls_nobody(void **state)
{
    struct ta *a = ta_new();
    struct vgd_aio_ops ops = *a->held->a.ops;
    struct rawfront rf1, rf2;
    struct rf_blk r1[8], r2;
    struct rf_attach at2 = { .target = a->t->image_ro };
    char be1[VG_XS_PATH_MAX];
    (void)state;

    held_ops = a->held->a.ops;
    ops.wait = counting_wait;
    a->held->a.ops = &ops;
    blocking_waits = 0;
    snprintf(be1, sizeof(be1), "/local/domain/0/backend/%s/1/0", VG_XS_CLASS);
    tw_attach_connect(a->t, &rf1, 1, 0, 64, NULL);
    tw_attach_connect(a->t, &rf2, 2, 0, 64, &at2);
    held_hold_file(a->held, a->t->image);
    for (unsigned i = 0; i < 8; i++) {
        assert_int_equal(rf_blk_prepare(&rf1, &r1[i], VIRTIO_BLK_T_IN, i,
                                        4096, false), 0);
        rf_blk_submit(&rf1, &r1[i]);
    }
    assert_int_equal(rf_kick(&rf1), 0);
    pump0(a, 3);
    assert_int_equal(held_pending(a->held), 8);

    /* guest 1 closes; guest 2 asks, three times over */
    assert_int_equal(rf_set_state(&rf1, VG_XB_CLOSING), 0);
    assert_int_equal(rf_blk_prepare(&rf2, &r2, VIRTIO_BLK_T_IN, 3, 512,
                                    false), 0);
    for (unsigned n = 0; n < 3; n++) {
        bool done = false;
        uint32_t id, len;

        r2.hdr->sector = 3 + n;
        rf_blk_submit(&rf2, &r2);
        assert_int_equal(rf_kick(&rf2), 0);
        for (int k = 0; k < MAX_ROUNDS && !done; k++) {
            pump0(a, 1);
            done = rf_get_used(&rf2, &id, &len);
        }
        assert_true(done);
        assert_int_equal(*r2.status, VIRTIO_BLK_S_OK);
        assert_int_equal(r2.data[0], 3 + n);
    }
    assert_int_equal(blocking_waits, 0);
    assert_int_equal(held_pending(a->held), 8);
    assert_int_equal(be_state(a, be1), VG_XB_CLOSING);
    assert_true(vg_fake_live_mappings(a->t->w, 1) > 0);

    /* guest 1's file answers: its device finishes closing */
    held_release(a->held);
    pump0(a, 5);
    assert_int_equal(blocking_waits, 0);
    assert_int_equal(held_pending(a->held), 0);
    assert_int_equal(be_state(a, be1), VG_XB_CLOSED);
    assert_int_equal(vg_fake_live_mappings(a->t->w, 1), 0);
    /* and reconnects as usual */
    assert_int_equal(rf_drop_rings(&rf1), 0);
    assert_int_equal(rf_set_state(&rf1, VG_XB_INITIALISING), 0);
    pump0(a, 3);
    assert_int_equal(rf_backend_state(&rf1), VG_XB_INITWAIT);
    rf_close(&rf1);
    rf_close(&rf2);
    a->held->a.ops = held_ops;
    ta_free(a);
}

static int count_dev(const struct vgd_dev_stats *s, void *arg)
{
    (void)s;
    (*(unsigned *)arg)++;
    return 0;
}

static unsigned live_devices(struct ta *a)
{
    unsigned n = 0;

    vgd_foreach_dev(a->t->d, count_dev, &n);
    return n;
}

/* The device's directory is removed (xl destroy, vgrant detach) while a
 * round is in the kernel: the device is dropped only once it finished. */
static void test_hostile_removed_with_round_in_flight(void **state)
{
    struct ta *a = ta_new();
    struct rawfront rf;
    struct rf_blk r[4];
    char be[VG_XS_PATH_MAX];
    (void)state;

    snprintf(be, sizeof(be), "/local/domain/0/backend/%s/1/0", VG_XS_CLASS);
    tw_attach_connect(a->t, &rf, 1, 0, 64, NULL);
    held_writes(a, &rf, r, 4, 40, 0x60);

    assert_int_equal(a->t->ts->ops->xs_rm(a->t->ts, VG_XS_NO_TX, be), 0);
    pump0(a, 10);
    assert_int_equal(live_devices(a), 1);     /* kept while it drains */
    assert_true(vg_fake_live_mappings(a->t->w, 1) > 0);

    release_held(a);
    for (unsigned i = 0; i < 4; i++)
        assert_true(tw_sector_is(a->t->image, 40 + i, 0x60 + i));
    assert_int_equal(live_devices(a), 0);     /* then dropped */
    assert_guest_released(a);
    rf_close(&rf);
    ta_free(a);
}

/* Closing while draining (review of the asynchronous close, 2026-12-03). */

/* A FLUSH waiting in the closing queue's round behind a held write:
 * once the write finishes, the flush and the write after it run, the
 * device goes Closed with nothing mapped. */
static void test_close_runs_the_flush_left_waiting(void **state)
{
    struct ta *a = ta_new();
    struct rawfront rf;
    struct rf_blk w0, fl, w1;
    char be[VG_XS_PATH_MAX];
    (void)state;

    snprintf(be, sizeof(be), "/local/domain/0/backend/%s/1/0", VG_XS_CLASS);
    tw_attach_connect(a->t, &rf, 1, 0, 64, NULL);
    assert_int_equal(rf_blk_prepare(&rf, &w0, VIRTIO_BLK_T_OUT, 3, 512, false), 0);
    assert_int_equal(rf_blk_prepare(&rf, &fl, VIRTIO_BLK_T_FLUSH, 0, 0, false), 0);
    assert_int_equal(rf_blk_prepare(&rf, &w1, VIRTIO_BLK_T_OUT, 4, 512, false), 0);
    memset(w0.data, 0xa0, 512);
    memset(w1.data, 0xa1, 512);
    rf_blk_submit(&rf, &w0);
    rf_blk_submit(&rf, &fl);
    rf_blk_submit(&rf, &w1);
    a->held->hold_all = true;
    assert_int_equal(rf_kick(&rf), 0);
    pump0(a, 3);
    assert_int_equal(held_pending(a->held), 1);
    assert_int_equal(rf_set_state(&rf, VG_XB_CLOSING), 0);
    pump0(a, 5);
    assert_int_equal(be_state(a, be), VG_XB_CLOSING);
    release_held(a);
    assert_int_equal(held_count(a->held, VGD_IO_FLUSH, true), 1);
    assert_int_equal(held_count(a->held, VGD_IO_WRITE, true), 2);
    assert_true(tw_sector_is(a->t->image, 4, 0xa1));
    assert_int_equal(drain_used(&rf, NULL, 64), 3);
    assert_int_equal(be_state(a, be), VG_XB_CLOSED);
    assert_int_equal(vg_fake_live_mappings(a->t->w, 1), 0);
    rf_close(&rf);
    ta_free(a);
}

/* Re-attach (new attach-id over the same directory) while the old
 * device drains: the old one is dropped once its round finished, the
 * new attach is offered afresh (InitWait, read-only). */
static void test_hostile_reattach_while_draining(void **state)
{
    struct ta *a = ta_new();
    struct rawfront rf, rf2;
    struct rf_blk r[4];
    struct rf_attach ro = { .target = a->t->image_ro, .readonly = "1" };
    uint64_t features = 0;
    (void)state;

    tw_attach_connect(a->t, &rf, 1, 0, 64, NULL);
    held_writes(a, &rf, r, 4, 40, 0x60);
    assert_int_equal(rf_toolstack_attach(a->t->ts, 1, 0, 0, &ro), 0);
    pump0(a, 10);
    assert_true(vg_fake_live_mappings(a->t->w, 1) > 0);
    assert_int_equal(vg_fake_bound_ports(a->t->w, 0), 0);
    release_held(a);
    for (unsigned i = 0; i < 4; i++)
        assert_true(tw_sector_is(a->t->image, 40 + i, 0x60 + i));
    assert_int_equal(vg_fake_live_mappings(a->t->w, 1), 0);
    rf_close(&rf);
    open_new_attach(a, &rf2);
    assert_int_equal(vg_xs_read_hex64(rf2.h, VG_XS_NO_TX, rf2.be_path,
                                      VG_KEY_FEATURES,
                                      &features), 0);
    assert_true(features & VG_FEATURE(VIRTIO_BLK_F_RO));
    rf_close(&rf2);
    ta_free(a);
}

/* A protocol violation (bad avail head) while the other lane's round
 * is in the kernel: Closing, then Closed once the frontend acknowledged
 * and the round finished; nothing mapped. */
static void test_hostile_violation_with_round_in_flight(void **state)
{
    struct ta *a = ta_new();
    struct rawfront rf;
    struct rf_blk r;
    char be[VG_XS_PATH_MAX];
    (void)state;

    snprintf(be, sizeof(be), "/local/domain/0/backend/%s/1/0", VG_XS_CLASS);
    tw_attach_connect(a->t, &rf, 1, 0, 64, NULL);
    a->held->hold_all = true;
    assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_OUT, 10, 512, false), 0);
    rf_blk_submit(&rf, &r);
    assert_int_equal(rf_kick(&rf), 0);
    pump0(a, 3);
    assert_int_equal(held_pending(a->held), 1);
    for (unsigned i = 0; i < 16; i++)
        rf_publish(&rf, 999);
    assert_int_equal(rf_kick(&rf), 0);
    pump0(a, 3);
    assert_int_equal(be_state(a, be), VG_XB_CLOSING);
    assert_int_equal(vg_fake_bound_ports(a->t->w, 0), 0);
    assert_int_equal(rf_set_state(&rf, VG_XB_CLOSING), 0);
    pump0(a, 3);
    assert_int_equal(be_state(a, be), VG_XB_CLOSING);
    release_held(a);
    assert_int_equal(be_state(a, be), VG_XB_CLOSED);
    assert_int_equal(vg_fake_live_mappings(a->t->w, 1), 0);
    rf_close(&rf);
    ta_free(a);
}

/* The daemon stops while a closing device drains: its shutdown waits
 * for the transfers, leaves nothing mapped and the device Closed. */
static void test_daemon_stop_while_a_device_drains(void **state)
{
    struct ta *a = ta_new();
    struct rawfront rf;
    struct rf_blk r[4];
    (void)state;

    tw_attach_connect(a->t, &rf, 1, 0, 64, NULL);
    held_writes(a, &rf, r, 4, 40, 0);
    assert_int_equal(rf_set_state(&rf, VG_XB_CLOSING), 0);
    pump0(a, 3);
    assert_int_equal(held_pending(a->held), 4);
    vgd_free(a->t->d);
    a->t->d = NULL;
    assert_int_equal(held_pending(a->held), 0);
    assert_int_equal(vg_fake_live_mappings(a->t->w, 1), 0);
    assert_int_equal(rf_backend_state(&rf), VG_XB_CLOSED);
    rf_close(&rf);
    ta_free(a);
}

/* Removed, then attached again, while the old device drains: the old
 * one goes once its round finished, the new attach is offered. */
static void test_hostile_removed_and_reattached_while_draining(void **state)
{
    struct ta *a = ta_new();
    struct rawfront rf, rf2;
    struct rf_blk r[4];
    struct rf_attach ro = { .target = a->t->image_ro, .readonly = "1" };
    (void)state;

    tw_attach_connect(a->t, &rf, 1, 0, 64, NULL);
    held_writes(a, &rf, r, 4, 40, 0);
    assert_int_equal(a->t->ts->ops->xs_rm(a->t->ts, VG_XS_NO_TX, rf.be_path), 0);
    assert_int_equal(a->t->ts->ops->xs_rm(a->t->ts, VG_XS_NO_TX, rf.fe_path), 0);
    pump0(a, 3);
    assert_int_equal(rf_toolstack_attach(a->t->ts, 1, 0, 0, &ro), 0);
    pump0(a, 3);
    assert_int_equal(live_devices(a), 1);
    held_release(a->held);
    pump0(a, 5);
    assert_int_equal(vg_fake_live_mappings(a->t->w, 1), 0);
    rf_close(&rf);
    open_new_attach(a, &rf2);
    rf_close(&rf2);
    ta_free(a);
}

/* The daemon stops (SIGTERM: vgd_free) with two rounds in the kernel:
 * it waits for their transfers, completes each request once, leaves
 * nothing mapped or bound and the device Closed. */
static void test_daemon_stop_with_rounds_in_flight(void **state)
{
    struct ta *a = ta_new();
    struct rawfront rf;
    struct rf_blk r[12];
    bool seen[64] = { false };
    (void)state;

    tw_attach_connect(a->t, &rf, 1, 0, 64, NULL);
    a->held->hold_all = true;
    for (unsigned i = 0; i < 12; i++) {
        assert_int_equal(rf_blk_prepare(&rf, &r[i], VIRTIO_BLK_T_OUT, 70 + i,
                                        512, false), 0);
        memset(r[i].data, 0x90 + i, 512);
        rf_blk_submit(&rf, &r[i]);
        if (i == 3 || i == 11) {        /* two rounds: 4, then 8 */
            assert_int_equal(rf_kick(&rf), 0);
            pump0(a, 3);
        }
    }
    assert_int_equal(held_pending(a->held), 12);
    assert_int_equal(tw_dev_stats(a->t, 1, 0).async_rounds, 2);

    vgd_free(a->t->d);
    a->t->d = NULL;
    assert_int_equal(held_pending(a->held), 0);
    assert_int_equal(held_count(a->held, VGD_IO_WRITE, true), 12);
    assert_int_equal(drain_used(&rf, seen, 64), 12);
    for (unsigned i = 0; i < 12; i++) {
        assert_int_equal(*r[i].status, VIRTIO_BLK_S_OK);
        assert_true(tw_sector_is(a->t->image, 70 + i, 0x90 + i));
    }
    assert_guest_released(a);
    assert_int_equal(rf_backend_state(&rf), VG_XB_CLOSED);
    rf_close(&rf);
    ta_free(a);
}

/* The guest revokes the grant of a read's data page while the read is in
 * the kernel: the backend's mapping keeps the page until the round
 * closes (as Xen keeps a mapped grant), the read lands there, the page is
 * unmapped before the used entry is pushed, and the device keeps
 * serving. */
static void test_hostile_grant_revoked_while_transfer_in_flight(void **state)
{
    struct ta *a = ta_new();
    struct rawfront rf;
    struct rf_blk r, next;
    unsigned ring_pages, grants;
    uint32_t id, len;
    bool done = false;
    (void)state;

    tw_attach_connect(a->t, &rf, 1, 0, 64, NULL);
    ring_pages = vg_fake_live_mappings(a->t->w, 1);
    assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_IN, 11, 4096,
                                    false), 0);
    rf_blk_submit(&rf, &r);
    a->held->hold_all = true;
    assert_int_equal(rf_kick(&rf), 0);
    pump0(a, 3);
    assert_int_equal(held_pending(a->held), 1);

    grants = vg_fake_live_grants(a->t->w, 1);
    for (unsigned i = 0; i < RF_MAX_SHARES; i++)
        if (rf.shares[i].addr == r.data) {
            assert_int_equal(rf.h->ops->unshare_pages(rf.h, r.data, 1), 0);
            rf.shares[i].addr = NULL;
        }
    held_release(a->held);
    for (int k = 0; k < MAX_ROUNDS && !done; k++) {
        pump0(a, 1);
        done = rf_get_used(&rf, &id, &len);
    }
    assert_true(done);
    assert_int_equal(*r.status, VIRTIO_BLK_S_OK);
    assert_int_equal(vg_fake_live_mappings(a->t->w, 1), ring_pages);
    /* the revoked page was freed once the backend let go of it */
    assert_true(vg_fake_live_grants(a->t->w, 1) < grants);

    assert_int_equal(rf_blk_prepare(&rf, &next, VIRTIO_BLK_T_IN, 12, 512,
                                    false), 0);
    assert_int_equal(tw_blk_do(a->t, &rf, &next), VIRTIO_BLK_S_OK);
    assert_int_equal(next.data[0], 12);
    rf_close(&rf);
    ta_free(a);
}

/* Persistent mode, two queues, a cache of 4 pages: queue 0's round is
 * held in the kernel with its 3 pages (header, data, status) cached; queue
 * 1 then reads through 12 other pages, which must evict only pages no
 * open round uses -- never queue 0's, which the kernel is still reading
 * into.  When queue 0's read completes its data is right and nothing of
 * the guest beyond the cache bound and rings stays mapped. */
static void test_hostile_persistent_cache_keeps_pages_of_open_rounds(void **state)
{
    struct held_aio *held = held_new();
    struct vgd_options o = { .aio = &held->a, .persistent_cache_pages = 4 };
    struct tw *t = tw_new_opts(&o);
    struct rf_attach at = { .target = t->image, .mode = "persistent",
                            .queues = "2" };
    struct rawfront rf, q1;
    struct rf_blk r0, r1;
    unsigned ring_pages;
    uint32_t id, len;
    bool done = false;
    (void)state;

    tw_attach(t, &rf, 1, 0, &at);
    assert_int_equal(rf_setup_rings(&rf, 64), 0);
    q1 = rf;                    /* queue 1: its own rings, the same guest */
    memset(q1.shares, 0, sizeof(q1.shares));
    assert_int_equal(rf_setup_rings(&q1, 64), 0);
    assert_int_equal(rf_write_keys(&rf, FEATURES_STD), 0);
    assert_int_equal(rf_write(&rf, VG_KEY_NUM_QUEUES, "2"), 0);
    {
        char v[32];

        snprintf(v, sizeof(v), "%u", q1.num);
        assert_int_equal(rf_write(&rf, "queue-1/size", v), 0);
        snprintf(v, sizeof(v), "0x%llx",
                 (unsigned long long)vg_grant_addr(q1.desc_ref, 0));
        assert_int_equal(rf_write(&rf, "queue-1/desc", v), 0);
        snprintf(v, sizeof(v), "0x%llx",
                 (unsigned long long)vg_grant_addr(q1.avail_ref, 0));
        assert_int_equal(rf_write(&rf, "queue-1/driver", v), 0);
        snprintf(v, sizeof(v), "0x%llx",
                 (unsigned long long)vg_grant_addr(q1.used_ref, 0));
        assert_int_equal(rf_write(&rf, "queue-1/device", v), 0);
        snprintf(v, sizeof(v), "%d", q1.port);
        assert_int_equal(rf_write(&rf, "queue-1/event-channel", v), 0);
    }
    assert_int_equal(rf_set_state(&rf, VG_XB_INITIALISED), 0);
    tw_wait_backend_state(t, &rf, VG_XB_CONNECTED);
    assert_int_equal(rf_set_state(&rf, VG_XB_CONNECTED), 0);
    tw_pump(t, 2);
    ring_pages = vg_fake_live_mappings(t->w, 1);

    assert_int_equal(rf_blk_prepare(&rf, &r0, VIRTIO_BLK_T_IN, 40, 512,
                                    false), 0);
    memset(r0.data, 0xee, 512);
    rf_blk_submit(&rf, &r0);
    held->hold_all = true;
    assert_int_equal(rf_kick(&rf), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(vgd_run_once(t->d, 0), 0);
    assert_int_equal(held_pending(held), 1);
    held->hold_all = false;

    /* queue 1: four reads of fresh pages each, one at a time */
    for (unsigned k = 0; k < 4; k++) {
        assert_int_equal(rf_blk_prepare(&q1, &r1, VIRTIO_BLK_T_IN, 50 + k,
                                        512, false), 0);
        rf_blk_submit(&q1, &r1);
        assert_int_equal(rf_kick(&q1), 0);
        done = false;
        for (int i = 0; i < MAX_ROUNDS && !done; i++) {
            assert_int_equal(vgd_run_once(t->d, 0), 0);
            done = rf_get_used(&q1, &id, &len);
        }
        assert_true(done);
        assert_int_equal(*r1.status, VIRTIO_BLK_S_OK);
        assert_int_equal(r1.data[0], 50 + k);
        /* queue 0's three pages are still mapped, whatever was evicted */
        assert_int_equal(held_pending(held), 1);
    }
    {
        struct vgd_dev_stats s = tw_dev_stats(t, 1, 0);

        assert_true(s.cache_evictions > 0 || s.cache_misses > 4);
        assert_true(s.cache_size <= 4);
    }
    held_release(held);
    done = false;
    for (int i = 0; i < MAX_ROUNDS && !done; i++) {
        assert_int_equal(vgd_run_once(t->d, 0), 0);
        done = rf_get_used(&rf, &id, &len);
    }
    assert_true(done);
    assert_int_equal(*r0.status, VIRTIO_BLK_S_OK);
    assert_int_equal(r0.data[0], 40);
    assert_int_equal(r0.data[511], 40);
    assert_true(vg_fake_live_mappings(t->w, 1) <= ring_pages + 4);
    rf_close(&rf);
    tw_free(t);
    held_free(held);
}

/* --direct: a transfer whose offset, length and buffers are aligned to
 * 512 bytes goes to the target's O_DIRECT descriptor, one with a buffer
 * at an odd place in its page through the page cache; both land. */
static void test_direct_io_for_aligned_transfers_only(void **state)
{
    struct held_aio *held = held_new();
    struct vgd_options o = { .aio = &held->a, .direct = true };
    struct tw *t = tw_new_opts(&o);
    struct rawfront rf;
    struct rf_blk al, un;
    (void)state;

    tw_attach_connect(t, &rf, 1, 0, 64, NULL);
    assert_int_equal(rf_blk_prepare(&rf, &al, VIRTIO_BLK_T_OUT, 8, 4096,
                                    false), 0);
    memset(al.data, 0x5a, 4096);
    assert_int_equal(tw_blk_do(t, &rf, &al), VIRTIO_BLK_S_OK);
    assert_int_equal(held->nlog, 2);
    assert_true(held->log[0].direct);
    for (unsigned s = 8; s < 16; s++)
        assert_true(tw_sector_is(t->image, s, 0x5a));

    /* the same write from byte 100 of its page: not aligned */
    assert_int_equal(rf_blk_prepare(&rf, &un, VIRTIO_BLK_T_OUT, 20, 8192,
                                    false), 0);
    memset(un.data, 0x6b, 8192);
    {
        struct rf_buf b[3] = {
            { vg_grant_addr(un.hdr_ref, 0), 16, false },
            { vg_grant_addr(un.data_ref, 100), 512, false },
            { vg_grant_addr(un.status_ref, 0), 1, true },
        };
        uint32_t len;

        *un.status = 0xff;
        un.head = rf_add_chain(&rf, b, 3);
        assert_int_equal(tw_blk_complete(t, &rf, &un, &len), VIRTIO_BLK_S_OK);
    }
    assert_int_equal(held->nlog, 4);
    assert_false(held->log[2].direct);
    assert_true(tw_sector_is(t->image, 20, 0x6b));
    assert_true(tw_sector_is(t->image, 21, 21));
    rf_close(&rf);
    tw_free(t);
    held_free(held);
}

/* A persistent-mode request of more iovecs than one readv/writev takes:
 * 64 segments of 64 KiB, each starting at byte 1 of its page run, are
 * 64 x 17 page pieces = 1088 iovecs (persistent mode maps page by page).
 * With IOV_MAX (1024) it used to leave io_uring and run with preadv/
 * pwritev in the daemon's loop: 4 MiB read or written while no other
 * guest was served.  It must go through io_uring (in parts), and move
 * the right bytes both ways. */
#define BIG_SEGS 64u
#define BIG_SEG  65536u

static uint8_t big_byte(uint64_t pos, uint8_t salt)
{
    return (uint8_t)(pos * 7 + (pos >> 12) + salt);
}

/* The image for a big request: BIG_SEGS * BIG_SEG bytes of pattern
 * (salt), as many zeros after them; returns it open read-write. */
static int big_image(const char *path, uint8_t salt)
{
    const size_t total = (size_t)BIG_SEGS * BIG_SEG;
    uint8_t *buf = malloc(total);
    int fd = open(path, O_RDWR);

    assert_non_null(buf);
    assert_true(fd >= 0);
    for (size_t i = 0; i < total; i++)
        buf[i] = big_byte(i, salt);
    assert_int_equal(ftruncate(fd, 2 * (off_t)total), 0);
    assert_int_equal(pwrite(fd, buf, total, 0), (ssize_t)total);
    free(buf);
    return fd;
}

/* One request of BIG_SEGS segments at byte `off` of their page runs,
 * sector `sector`; returns the async rounds it took. */
static uint64_t big_request(struct tw *t, struct rawfront *rf, uint32_t type,
                            uint64_t sector, uint32_t off, uint8_t salt)
{
    uint32_t pages_per = (off + BIG_SEG + 4095) / 4096;
    vg_gref_t data_ref[BIG_SEGS], hdr_ref, st_ref;
    struct virtio_blk_req_hdr *hdr = rf_share(rf, 1, false, &hdr_ref);
    uint8_t *st = rf_share(rf, 1, true, &st_ref);
    uint8_t *data[BIG_SEGS];
    struct rf_buf b[BIG_SEGS + 2];
    bool in = type == VIRTIO_BLK_T_IN;
    struct vgd_dev_stats s0, s1;
    uint32_t id, len;

    assert_non_null(hdr);
    assert_non_null(st);
    for (unsigned k = 0; k < BIG_SEGS; k++) {
        data[k] = rf_share(rf, pages_per, in, &data_ref[k]);
        assert_non_null(data[k]);
        for (uint32_t i = 0; !in && i < BIG_SEG; i++)
            data[k][off + i] = big_byte((uint64_t)k * BIG_SEG + i, salt);
    }
    hdr->type = htole32(type);
    hdr->sector = htole64(sector);
    b[0] = (struct rf_buf){ vg_grant_addr(hdr_ref, 0), 16, false };
    for (unsigned k = 0; k < BIG_SEGS; k++)
        b[1 + k] = (struct rf_buf){ vg_grant_addr(data_ref[k], off), BIG_SEG,
                                    in };
    b[BIG_SEGS + 1] = (struct rf_buf){ vg_grant_addr(st_ref, 0), 1, true };
    *st = 0xff;
    s0 = tw_dev_stats(t, 1, 0);
    rf_add_chain(rf, b, BIG_SEGS + 2);
    assert_true(vd_serve_until_used(t->d, rf, &id, &len));
    assert_int_equal(*st, VIRTIO_BLK_S_OK);
    assert_int_equal(len, in ? BIG_SEGS * BIG_SEG + 1 : 1);
    for (unsigned k = 0; in && k < BIG_SEGS; k++)
        for (uint32_t i = 0; i < BIG_SEG; i++)
            if (data[k][off + i] != big_byte((uint64_t)k * BIG_SEG + i, salt))
                fail_msg("segment %u byte %u: 0x%02x, image has 0x%02x", k, i,
                         data[k][off + i],
                         big_byte((uint64_t)k * BIG_SEG + i, salt));
    s1 = tw_dev_stats(t, 1, 0);
    assert_int_equal(vgd_transfers_in_flight(t->d), 0);
    return s1.async_rounds - s0.async_rounds;
}

static void test_hostile_persistent_iovecs_beyond_iov_max_stay_async(void **state)
{
    struct vgd_options o = { .io_mode = VGD_IO_URING };
    struct tw *t = tw_new_opts(&o);
    struct rf_attach at = { .mode = "persistent" };
    const size_t total = (size_t)BIG_SEGS * BIG_SEG;
    uint8_t *buf = malloc(total);
    struct rawfront rf;
    int fd;
    (void)state;

    /* the image: 4 MiB of pattern (salt 1), then 4 MiB of zeros */
    assert_non_null(buf);
    fd = big_image(t->image, 1);
    at.target = t->image;
    tw_attach_connect(t, &rf, 1, 0, 128, &at);

    /* 1024 iovecs (aligned), then 1088, both ways: one async round each */
    assert_int_equal(big_request(t, &rf, VIRTIO_BLK_T_IN, 0, 0, 1), 1);
    assert_int_equal(big_request(t, &rf, VIRTIO_BLK_T_IN, 0, 1, 1), 1);
    assert_int_equal(big_request(t, &rf, VIRTIO_BLK_T_OUT, total / 512, 1, 2),
                     1);
    assert_int_equal(pread(fd, buf, total, (off_t)total), (ssize_t)total);
    for (size_t i = 0; i < total; i++)
        if (buf[i] != big_byte(i, 2))
            fail_msg("image byte %zu after the write: 0x%02x, want 0x%02x",
                     total + i, buf[i], big_byte(i, 2));
    assert_int_equal(tw_dev_stats(t, 1, 0).errors, 0);
    close(fd);
    free(buf);
    rf_close(&rf);
    tw_free(t);
}

/* Copy mode: a guest that puts one 4 MiB read in each request slot in
 * turn (k small reads ahead of it in round k) used to make the slots'
 * bounce pages resident one after the other, 136 MiB per queue and 1.1
 * GiB per 8-queue device, for as long as the device lived.  Between
 * rounds a queue now keeps at most VGD_COPY_RESIDENT_PAGES, plus the
 * first VGD_COPY_KEEP_PAGES of each slot and the other lane's round; the
 * reads still deliver every byte (released pages come back as zeros and
 * are refilled). */
static void test_hostile_copy_bounce_memory_bounded(void **state)
{
    struct tw *t = tw_new_opts(&(struct vgd_options){ 0 });
    struct rf_attach at = { .mode = "copy" };
    const size_t total = (size_t)BIG_SEGS * BIG_SEG;
    const uint64_t bound = VGD_COPY_RESIDENT_PAGES +
                           VGD_ROUND_SLOTS * VGD_COPY_KEEP_PAGES +
                           2 * (BIG_SEGS * BIG_SEG / 4096 + 2);
    vg_gref_t data_ref[BIG_SEGS], hdr_ref, st_ref;
    struct virtio_blk_req_hdr *hdr;
    uint8_t *data[BIG_SEGS], *st;
    struct rf_buf b[BIG_SEGS + 2];
    uint64_t most = 0;
    struct rawfront rf;
    (void)state;

    close(big_image(t->image, 3));
    at.target = t->image;
    tw_attach_connect(t, &rf, 1, 0, 128, &at);
    hdr = rf_share(&rf, 1, false, &hdr_ref);
    st = rf_share(&rf, 1, true, &st_ref);
    assert_non_null(hdr);
    assert_non_null(st);
    for (unsigned k = 0; k < BIG_SEGS; k++) {
        data[k] = rf_share(&rf, BIG_SEG / 4096, true, &data_ref[k]);
        assert_non_null(data[k]);
        b[1 + k] = (struct rf_buf){ vg_grant_addr(data_ref[k], 0), BIG_SEG,
                                    true };
    }
    hdr->type = htole32(VIRTIO_BLK_T_IN);
    hdr->sector = htole64(0);
    b[0] = (struct rf_buf){ vg_grant_addr(hdr_ref, 0), 16, false };
    b[BIG_SEGS + 1] = (struct rf_buf){ vg_grant_addr(st_ref, 0), 1, true };

    for (unsigned ahead = 0; ahead < VGD_ROUND_SLOTS / VGD_LANES; ahead++) {
        struct rf_blk small[VGD_ROUND_SLOTS];
        unsigned got = 0;
        uint16_t head;
        uint32_t id, len, big_len = 0;
        uint64_t now;

        for (unsigned i = 0; i < ahead; i++) {
            assert_int_equal(rf_blk_prepare(&rf, &small[i], VIRTIO_BLK_T_IN,
                                            1, 512, false), 0);
            rf_blk_submit(&rf, &small[i]);
        }
        for (unsigned k = 0; k < BIG_SEGS; k++)
            memset(data[k], 0, BIG_SEG);
        *st = 0xff;
        head = rf_add_chain(&rf, b, BIG_SEGS + 2);
        assert_int_equal(rf_kick(&rf), 0);
        for (int r = 0; r < MAX_ROUNDS && got < ahead + 1; r++) {
            vd_round(t->d);
            while (rf_get_used(&rf, &id, &len)) {
                if (id == head)
                    big_len = len;
                got++;
            }
        }
        assert_int_equal(got, ahead + 1);
        assert_int_equal(*st, VIRTIO_BLK_S_OK);
        assert_int_equal(big_len, total + 1);
        for (unsigned i = 0; i < ahead; i++) {
            assert_int_equal(*small[i].status, VIRTIO_BLK_S_OK);
            assert_int_equal(small[i].data[0], big_byte(512, 3));
        }
        for (unsigned k = 0; k < BIG_SEGS; k++)
            for (uint32_t i = 0; i < BIG_SEG; i += 509)
                if (data[k][i] != big_byte((uint64_t)k * BIG_SEG + i, 3))
                    fail_msg("round %u, segment %u byte %u: 0x%02x", ahead, k,
                             i, data[k][i]);
        now = tw_dev_stats(t, 1, 0).bounce_pages;
        if (now > most)
            most = now;
        assert_true(now <= bound);
    }
    /* without the bound: 16 slots of 1025 pages, 16400; with it, the
     * first three stay (3075 < VGD_COPY_RESIDENT_PAGES), every later one
     * gives back all but 16 pages when its round ends */
    fprintf(stderr, "bounce pages: at most %llu between rounds (bound %llu)\n",
            (unsigned long long)most, (unsigned long long)bound);
    assert_true(most >= 3 * (total / 4096));   /* distinct slots were used */
    assert_int_equal(tw_dev_stats(t, 1, 0).errors, 0);
    rf_close(&rf);
    vd_pump(t->d, 4);
    tw_free(t);
}

/* Depth 16, writes then reads back, with the daemon's own executor
 * (io_uring) or none (--io sync: the round closes before the serve call
 * returns). */
static void depth_16_round_trip(unsigned io_mode)
{
    struct vgd_options o = { .io_mode = io_mode };
    struct tw *t = tw_new_opts(&o);
    struct rawfront rf;
    struct rf_blk r[DEPTH];
    bool seen[64];
    struct vgd_dev_stats s;

    tw_attach_connect(t, &rf, 1, 0, 64, NULL);
    for (int pass = 0; pass < 2; pass++) {
        unsigned got = 0;

        memset(seen, 0, sizeof(seen));
        for (unsigned i = 0; i < DEPTH; i++) {
            uint32_t type = pass ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT;

            assert_int_equal(rf_blk_prepare(&rf, &r[i], type, 32 + i, 512,
                                            false), 0);
            memset(r[i].data, pass ? 0 : 0x60 + i, 512);
            rf_blk_submit(&rf, &r[i]);
        }
        assert_int_equal(rf_kick(&rf), 0);
        for (int k = 0; k < MAX_ROUNDS && got < DEPTH; k++) {
            vd_round(t->d);
            got += drain_used(&rf, seen, 64);
        }
        assert_int_equal(got, DEPTH);
        for (unsigned i = 0; i < DEPTH; i++) {
            assert_int_equal(*r[i].status, VIRTIO_BLK_S_OK);
            assert_int_equal(r[i].data[511], 0x60 + i);
        }
    }
    s = tw_dev_stats(t, 1, 0);
    assert_true(s.max_in_flight >= DEPTH);
    assert_int_equal(s.errors, 0);
    assert_int_equal(vgd_transfers_in_flight(t->d), 0);
    if (io_mode == VGD_IO_SYNC)
        assert_int_equal(s.async_rounds, 0);
    rf_close(&rf);
    tw_free(t);
}

static void test_io_uring_depth_16_round_trip(void **state)
{
    (void)state;
    depth_16_round_trip(VGD_IO_URING);
}

static void test_sync_io_depth_16_round_trip(void **state)
{
    (void)state;
    depth_16_round_trip(VGD_IO_SYNC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_in_flight_completes_out_of_order),
        cmocka_unit_test(test_flush_waits_for_the_writes_before_it),
        cmocka_unit_test(test_second_round_starts_while_first_in_flight),
        cmocka_unit_test(test_second_round_waits_for_half_a_lane),
        cmocka_unit_test(test_idle_queue_gathers_as_many_as_it_gave_back),
        cmocka_unit_test(test_idle_queue_expects_what_overlapping_rounds_gave_back),
        cmocka_unit_test(test_idle_queue_waits_at_the_guests_pace),
        cmocka_unit_test(test_byte_budget_default_follows_the_executor),
        cmocka_unit_test(test_hostile_backing_store_eio_on_write),
        cmocka_unit_test(test_hostile_backing_store_enospc_on_write),
        cmocka_unit_test(test_hostile_backing_store_eio_on_read),
        cmocka_unit_test(test_hostile_backing_store_eio_on_flush),
        cmocka_unit_test(test_slow_backing_file_does_not_stall_another_guest),
        cmocka_unit_test(test_hostile_close_with_round_in_flight_stalls_nobody),
        cmocka_unit_test(test_hostile_removed_with_round_in_flight),
        cmocka_unit_test(test_close_runs_the_flush_left_waiting),
        cmocka_unit_test(test_hostile_reattach_while_draining),
        cmocka_unit_test(test_hostile_violation_with_round_in_flight),
        cmocka_unit_test(test_daemon_stop_while_a_device_drains),
        cmocka_unit_test(test_hostile_removed_and_reattached_while_draining),
        cmocka_unit_test(test_hostile_frontend_closes_with_round_in_flight),
        cmocka_unit_test(test_hostile_domain_destroyed_with_round_in_flight),
        cmocka_unit_test(test_hostile_grant_revoked_while_transfer_in_flight),
        cmocka_unit_test(test_daemon_stop_with_rounds_in_flight),
        cmocka_unit_test(test_hostile_persistent_cache_keeps_pages_of_open_rounds),
        cmocka_unit_test(test_direct_io_for_aligned_transfers_only),
        cmocka_unit_test(test_hostile_persistent_iovecs_beyond_iov_max_stay_async),
        cmocka_unit_test(test_hostile_copy_bounce_memory_bounded),
        cmocka_unit_test(test_io_uring_depth_16_round_trip),
        cmocka_unit_test(test_sync_io_depth_16_round_trip),
    };

    vg_log_init("test_backend_aio", VG_LOG_INFO);
    vd_on_fail = tw_capture_abort;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
