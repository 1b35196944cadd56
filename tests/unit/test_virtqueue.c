/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueue: a driver and a device over the same ring memory
 * (vqfix.h): argument checks, round trips, 16-bit index wrap-around,
 * event-idx and flag notification decisions, a full queue.  Hostile
 * peers: test_vq_hostile_driver.c, test_vq_hostile_device.c.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vgrant/protocol.h"
#include "vgrant/virtqueue.h"
#include "vqfix.h"

/* ---------------------------------------------------------------------
 * Initialisation and argument checks
 * --------------------------------------------------------------------- */

static void test_init_rejects_bad_queue_size(void **state)
{
    static const uint16_t bad[] = { 0, 1, 3, 6, 12, 1000, 2048, 4096, 65535 };
    struct ring r;
    struct vq_driver drv;
    struct vq_device dev;
    (void)state;

    vqt_ring_alloc(&r, VG_MAX_QUEUE_SIZE, false);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        errno = 0;
        assert_int_equal(vq_drv_init(&drv, bad[i], r.desc, r.avail, r.used, false), -1);
        assert_int_equal(errno, EINVAL);
        errno = 0;
        assert_int_equal(vq_dev_init(&dev, bad[i], r.desc, r.avail, r.used, false), -1);
        assert_int_equal(errno, EINVAL);
    }
    assert_int_equal(vq_drv_init(&drv, 4, NULL, r.avail, r.used, false), -1);
    assert_int_equal(vq_dev_init(&dev, 4, r.desc, r.avail, NULL, false), -1);

    for (unsigned num = VG_MIN_QUEUE_SIZE; num <= VG_MAX_QUEUE_SIZE; num *= 2) {
        assert_int_equal(vq_drv_init(&drv, (uint16_t)num, r.desc, r.avail, r.used, true), 0);
        assert_int_equal(drv.num_free, num);
        assert_int_equal(vq_drv_in_flight(&drv), 0);
        vq_drv_free(&drv);
        assert_int_equal(vq_dev_init(&dev, (uint16_t)num, r.desc, r.avail, r.used, true), 0);
        vq_dev_free(&dev);
    }
    vqt_ring_teardown(&r);
}

static void test_add_argument_checks(void **state)
{
    struct ring r;
    struct vq_buf bufs[5] = {
        { 0x1000, 1 }, { 0x2000, 1 }, { 0x3000, 1 }, { 0x4000, 1 }, { 0x5000, 1 },
    };
    struct vq_buf huge[2] = { { 0x1000, UINT32_MAX }, { 0x2000, 1 } };
    (void)state;

    vqt_ring_setup(&r, 4, false);
    errno = 0;
    assert_int_equal(vq_drv_add(&r.drv, bufs, 0, 0, vqt_token_of(0)), -1);
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_int_equal(vq_drv_add(&r.drv, bufs, 1, 0, NULL), -1);
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_int_equal(vq_drv_add(&r.drv, NULL, 1, 0, vqt_token_of(0)), -1);
    assert_int_equal(errno, EINVAL);
    /* more buffers than the queue could ever hold */
    errno = 0;
    assert_int_equal(vq_drv_add(&r.drv, bufs, 3, 2, vqt_token_of(0)), -1);
    assert_int_equal(errno, E2BIG);
    /* a chain the device would reject as a length overflow */
    errno = 0;
    assert_int_equal(vq_drv_add(&r.drv, huge, 1, 1, vqt_token_of(0)), -1);
    assert_int_equal(errno, EOVERFLOW);
    /* nothing was consumed by the failures */
    assert_int_equal(r.drv.num_free, 4);
    assert_int_equal(vq_drv_in_flight(&r.drv), 0);
    assert_false(vq_drv_kick_prepare(&r.drv));
    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 0);
    vqt_ring_teardown(&r);
}

/* ---------------------------------------------------------------------
 * Round trips
 * --------------------------------------------------------------------- */

static void expect_elem(const struct vq_chain *c, unsigned i, uint64_t addr,
                        uint32_t len, bool write)
{
    assert_true(i < c->n);
    assert_int_equal(c->elem[i].addr, addr);
    assert_int_equal(c->elem[i].len, len);
    assert_int_equal(c->elem[i].write, write);
}

static void test_round_trip(void **state)
{
    struct ring r;
    const struct vq_buf a[3] = { { 0x1000, 16 }, { 0x2000, 512 }, { 0x3000, 1 } };
    const struct vq_buf b[1] = { { 0x4000, 100 } };
    const struct vq_buf c[2] = { { 0x5000, 4096 }, { 0x6000, 8 } };
    uint16_t head_a, head_b, head_c;
    uint32_t len = 0;
    (void)state;

    vqt_ring_setup(&r, 8, false);
    assert_int_equal(vq_drv_add(&r.drv, a, 1, 2, vqt_token_of(0)), 0);  /* out, in, in */
    assert_int_equal(vq_drv_add(&r.drv, b, 1, 0, vqt_token_of(1)), 0);  /* out only */
    assert_int_equal(vq_drv_add(&r.drv, c, 0, 2, vqt_token_of(2)), 0);  /* in only */
    assert_int_equal(vq_drv_in_flight(&r.drv), 3);
    assert_int_equal(r.drv.num_free, 2);

    /* nothing is visible to the device before the kick publishes it */
    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 0);
    assert_true(vq_drv_kick_prepare(&r.drv));
    assert_int_equal(le16toh(r.avail->idx), 3);

    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
    head_a = r.chain.head;
    assert_int_equal(r.chain.n, 3);
    assert_int_equal(r.chain.n_out, 1);
    assert_int_equal(r.chain.out_bytes, 16);
    assert_int_equal(r.chain.in_bytes, 513);
    expect_elem(&r.chain, 0, 0x1000, 16, false);
    expect_elem(&r.chain, 1, 0x2000, 512, true);
    expect_elem(&r.chain, 2, 0x3000, 1, true);

    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
    head_b = r.chain.head;
    assert_int_equal(r.chain.n, 1);
    assert_int_equal(r.chain.n_out, 1);
    assert_int_equal(r.chain.out_bytes, 100);
    assert_int_equal(r.chain.in_bytes, 0);
    expect_elem(&r.chain, 0, 0x4000, 100, false);

    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
    head_c = r.chain.head;
    assert_int_equal(r.chain.n, 2);
    assert_int_equal(r.chain.n_out, 0);
    assert_int_equal(r.chain.out_bytes, 0);
    assert_int_equal(r.chain.in_bytes, 4104);
    expect_elem(&r.chain, 0, 0x5000, 4096, true);
    expect_elem(&r.chain, 1, 0x6000, 8, true);

    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 0);
    assert_int_equal(r.dev.in_flight, 3);
    assert_true(head_a != head_b && head_b != head_c && head_a != head_c);

    /* complete out of order */
    assert_int_equal(vq_dev_push(&r.dev, head_b, 0), 0);
    assert_int_equal(vq_dev_push(&r.dev, head_c, 4104), 0);
    assert_int_equal(vq_dev_push(&r.dev, head_a, 300), 0);
    assert_int_equal(r.dev.in_flight, 0);
    assert_int_equal(vqt_raw_used_idx(&r), 3);
    assert_true(vq_dev_should_notify(&r.dev));

    assert_ptr_equal(vq_drv_get_used(&r.drv, &len), vqt_token_of(1));
    assert_int_equal(len, 0);
    assert_ptr_equal(vq_drv_get_used(&r.drv, &len), vqt_token_of(2));
    assert_int_equal(len, 4104);
    assert_ptr_equal(vq_drv_get_used(&r.drv, &len), vqt_token_of(0));
    assert_int_equal(len, 300);
    assert_null(vq_drv_get_used(&r.drv, &len));

    assert_int_equal(vq_drv_in_flight(&r.drv), 0);
    assert_int_equal(r.drv.num_free, 8);
    assert_int_equal(r.drv.bad_used_id, 0);
    assert_int_equal(r.drv.bad_used_len, 0);
    assert_int_equal(r.drv.bad_used_idx, 0);

    /* every descriptor is reusable: one chain of all eight */
    {
        struct vq_buf all[8];
        for (unsigned i = 0; i < 8; i++)
            all[i] = (struct vq_buf){ 0x10000 + i * 0x1000, i + 1 };
        assert_int_equal(vq_drv_add(&r.drv, all, 4, 4, vqt_token_of(3)), 0);
        assert_int_equal(r.drv.num_free, 0);
        assert_true(vq_drv_kick_prepare(&r.drv));
        assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
        assert_int_equal(r.chain.n, 8);
        assert_int_equal(r.chain.n_out, 4);
        for (unsigned i = 0; i < 8; i++)
            expect_elem(&r.chain, i, 0x10000 + i * 0x1000, i + 1, i >= 4);
        assert_int_equal(vq_dev_push(&r.dev, r.chain.head, 26), 0);
        assert_ptr_equal(vq_drv_get_used(&r.drv, &len), vqt_token_of(3));
        assert_int_equal(len, 26);
        assert_int_equal(r.drv.num_free, 8);
    }
    vqt_ring_teardown(&r);
}

/* ---- wrap-around: a sleeping/waking driver and device ---- */

/* Request id -> its chain, so the device can check what it popped. */
static unsigned req_out(uint32_t id) { return id % 3; }
static unsigned req_in(uint32_t id) { return 1 + id % 2; }
static uint32_t req_len(uint32_t id, unsigned i) { return 100 + id % 50 + i; }
static uint64_t req_addr(uint32_t id, unsigned i)
{
    return vg_grant_addr(id, i * 16);
}

static uint32_t req_in_bytes(uint32_t id)
{
    uint32_t sum = 0;
    for (unsigned i = req_out(id); i < req_out(id) + req_in(id); i++)
        sum += req_len(id, i);
    return sum;
}

static int add_request(struct vq_driver *drv, uint32_t id)
{
    struct vq_buf bufs[4];
    unsigned n = req_out(id) + req_in(id);

    for (unsigned i = 0; i < n; i++)
        bufs[i] = (struct vq_buf){ req_addr(id, i), req_len(id, i) };
    return vq_drv_add(drv, bufs, req_out(id), req_in(id), vqt_token_of(id));
}

static void check_request_chain(const struct vq_chain *c, uint32_t want_id)
{
    uint32_t id = vg_grant_addr_ref(c->elem[0].addr);

    assert_int_equal(id, want_id);
    assert_int_equal(c->n, req_out(id) + req_in(id));
    assert_int_equal(c->n_out, req_out(id));
    assert_int_equal(c->in_bytes, req_in_bytes(id));
    for (unsigned i = 0; i < c->n; i++)
        expect_elem(c, i, req_addr(id, i), req_len(id, i), i >= req_out(id));
}

/*
 * Sequential protocol simulation over more than 65536 requests so every
 * 16-bit index wraps.  Each side is either asleep (notifications enabled,
 * waiting) or awake (notifications disabled, working).  A kick must happen
 * exactly when the device is asleep, an interrupt exactly when the driver
 * is asleep: anything else is a lost wakeup or a needless notification.
 */
static void run_wraparound(bool event_idx)
{
    enum { NUM = 8, TOTAL = 70000 };
    struct ring r;
    uint32_t rng = 0x12345678, next_id = 0, next_pop = 0, next_done = 0;
    bool dev_asleep = true, drv_asleep = true;
    unsigned kicks = 0, irqs = 0;

    vqt_ring_setup(&r, NUM, event_idx);
    while (next_done < TOTAL) {
        unsigned batch = 1 + vqt_rng_next(&rng) % 4, added = 0;

        /* driver submits */
        while (added < batch && next_id < TOTAL) {
            if (add_request(&r.drv, next_id)) {
                assert_int_equal(errno, ENOSPC);
                break;
            }
            next_id++;
            added++;
        }
        if (added) {
            bool kick = vq_drv_kick_prepare(&r.drv);
            assert_int_equal(kick, dev_asleep);
            if (kick) {
                kicks++;
                dev_asleep = false;
                vq_dev_disable_notify(&r.dev);
            }
        }

        /* device works some rounds, stays busy elsewhere on others */
        if (!dev_asleep && vqt_rng_next(&rng) % 4 != 0) {
            uint16_t heads[NUM];
            unsigned n = 0;
            int rc;

            while ((rc = vq_dev_pop(&r.dev, &r.chain)) == 1) {
                check_request_chain(&r.chain, next_pop++);
                heads[n++] = r.chain.head;
            }
            assert_int_equal(rc, 0);
            /* complete in reverse, with the full writable length */
            while (n > 0) {
                uint16_t h = heads[--n];
                uint32_t id = vg_grant_addr_ref(le64toh(r.desc[h].addr));
                assert_int_equal(vq_dev_push(&r.dev, h, req_in_bytes(id)), 0);
            }
            if (le16toh(r.used->idx) != r.dev.signalled_used) {
                bool irq = vq_dev_should_notify(&r.dev);
                assert_int_equal(irq, drv_asleep);
                if (irq) {
                    irqs++;
                    drv_asleep = false;
                    vq_drv_disable_cb(&r.drv);
                }
            }
            assert_false(vq_dev_enable_notify(&r.dev));
            dev_asleep = true;
        }

        /* driver reaps when awake */
        if (!drv_asleep && vqt_rng_next(&rng) % 3 != 0) {
            void *tok;
            uint32_t len;
            while ((tok = vq_drv_get_used(&r.drv, &len)) != NULL) {
                uint32_t id = (uint32_t)((uintptr_t)tok - 1);
                assert_int_equal(len, req_in_bytes(id));
                next_done++;
            }
            assert_false(vq_drv_enable_cb(&r.drv));
            drv_asleep = true;
        }
    }

    assert_int_equal(next_pop, TOTAL);
    assert_int_equal(r.drv.avail_idx, (uint16_t)TOTAL);
    assert_int_equal(r.dev.last_avail_idx, (uint16_t)TOTAL);
    assert_int_equal(vqt_raw_used_idx(&r), (uint16_t)TOTAL);
    assert_int_equal(r.drv.last_used_idx, (uint16_t)TOTAL);
    assert_int_equal(vq_drv_in_flight(&r.drv), 0);
    assert_int_equal(r.drv.num_free, NUM);
    assert_int_equal(r.drv.bad_used_id + r.drv.bad_used_len + r.drv.bad_used_idx, 0);
    /* suppression really happened: far fewer notifications than requests */
    assert_true(kicks > 0 && kicks < TOTAL);
    assert_true(irqs > 0 && irqs < TOTAL);
    vqt_ring_teardown(&r);
}

static void test_wraparound_event_idx(void **state)
{
    (void)state;
    run_wraparound(true);
}

static void test_wraparound_flags(void **state)
{
    (void)state;
    run_wraparound(false);
}

/* ---------------------------------------------------------------------
 * Notification decisions
 * --------------------------------------------------------------------- */

/* Kick needed exactly when avail_event lies in the window just published;
 * interrupt needed exactly when used_event lies in the window just pushed.
 * Event values are chosen around the window edges, across index wrap. */
static void test_event_idx_decisions(void **state)
{
    enum { NUM = 4, ROUNDS = 70000 };
    struct ring r;
    uint32_t rng = 0xdeadbeef;
    unsigned kicks = 0, no_kicks = 0, irqs = 0, no_irqs = 0;
    (void)state;

    vqt_ring_setup(&r, NUM, true);
    for (uint32_t round = 0; round < ROUNDS; round++) {
        unsigned m = 1 + vqt_rng_next(&rng) % NUM;
        uint16_t old = r.drv.avail_idx, new_idx = (uint16_t)(old + m);
        uint16_t heads[NUM], event;
        uint16_t offsets[] = { 0xffff, 0, 1, (uint16_t)(m - 1), (uint16_t)m,
                               (uint16_t)(m + 1), 0x8000, (uint16_t)rng };
        struct vq_buf b = { 0x1000, 64 };
        bool want;

        for (unsigned i = 0; i < m; i++)
            assert_int_equal(vq_drv_add(&r.drv, &b, 0, 1, vqt_token_of(i)), 0);
        event = (uint16_t)(old + offsets[vqt_rng_next(&rng) % 8]);
        vqt_raw_set_avail_event(&r, event);
        want = vqt_event_in_window(event, old, new_idx);
        assert_int_equal(vq_drv_kick_prepare(&r.drv), want);
        want ? kicks++ : no_kicks++;

        for (unsigned i = 0; i < m; i++) {
            assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
            heads[i] = r.chain.head;
        }
        old = r.dev.signalled_used;
        for (unsigned i = 0; i < m; i++)
            assert_int_equal(vq_dev_push(&r.dev, heads[i], 64), 0);
        new_idx = (uint16_t)(old + m);
        event = (uint16_t)(old + offsets[vqt_rng_next(&rng) % 8]);
        vqt_raw_set_used_event(&r, event);
        want = vqt_event_in_window(event, old, new_idx);
        assert_int_equal(vq_dev_should_notify(&r.dev), want);
        want ? irqs++ : no_irqs++;

        for (unsigned i = 0; i < m; i++)
            assert_non_null(vq_drv_get_used(&r.drv, NULL));
    }
    /* nothing new: never notify, whatever the event says */
    vqt_raw_set_used_event(&r, r.dev.used_idx);
    assert_false(vq_dev_should_notify(&r.dev));
    vqt_raw_set_avail_event(&r, r.drv.avail_idx);
    assert_false(vq_drv_kick_prepare(&r.drv));

    assert_true(kicks > 1000 && no_kicks > 1000);
    assert_true(irqs > 1000 && no_irqs > 1000);
    vqt_ring_teardown(&r);
}

/* The enable/disable calls place the events where the decisions need them. */
static void test_event_idx_enable_disable(void **state)
{
    struct ring r;
    struct vq_buf b = { 0x1000, 64 };
    (void)state;

    vqt_ring_setup(&r, 8, true);
    /* fresh queue: the device wants the first kick */
    assert_int_equal(vq_drv_add(&r.drv, &b, 0, 1, vqt_token_of(0)), 0);
    assert_true(vq_drv_kick_prepare(&r.drv));
    /* device awake and popping without re-enabling: no more kicks */
    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
    assert_int_equal(vq_drv_add(&r.drv, &b, 0, 1, vqt_token_of(1)), 0);
    assert_false(vq_drv_kick_prepare(&r.drv));
    /* going to sleep with an entry pending: told to pop again */
    assert_true(vq_dev_enable_notify(&r.dev));
    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
    assert_false(vq_dev_enable_notify(&r.dev));
    assert_int_equal(le16toh(*vqt_avail_event_ptr(&r)), 2);
    /* asleep: the next publish kicks */
    assert_int_equal(vq_drv_add(&r.drv, &b, 0, 1, vqt_token_of(2)), 0);
    assert_true(vq_drv_kick_prepare(&r.drv));
    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);

    /* fresh queue: used_event 0, the first completion interrupts */
    assert_int_equal(vq_dev_push(&r.dev, 0, 1), 0);
    assert_true(vq_dev_should_notify(&r.dev));
    /* driver has not re-enabled: no more interrupts */
    assert_int_equal(vq_dev_push(&r.dev, 1, 1), 0);
    assert_false(vq_dev_should_notify(&r.dev));
    /* driver re-enables with entries pending: told to poll again */
    assert_true(vq_drv_enable_cb(&r.drv));
    assert_non_null(vq_drv_get_used(&r.drv, NULL));
    assert_non_null(vq_drv_get_used(&r.drv, NULL));
    assert_false(vq_drv_enable_cb(&r.drv));
    assert_int_equal(le16toh(r.avail->ring[8]), 2);
    /* asleep: the next completion interrupts */
    assert_int_equal(vq_dev_push(&r.dev, 2, 1), 0);
    assert_true(vq_dev_should_notify(&r.dev));
    assert_non_null(vq_drv_get_used(&r.drv, NULL));
    /* disabled: completions do not interrupt */
    vq_drv_disable_cb(&r.drv);
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(vq_drv_add(&r.drv, &b, 0, 1, vqt_token_of(3 + i)), 0);
        vq_drv_kick_prepare(&r.drv);
        assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
        assert_int_equal(vq_dev_push(&r.dev, r.chain.head, 1), 0);
        assert_false(vq_dev_should_notify(&r.dev));
    }
    /* flags stay 0 under EVENT_IDX (VIRTIO 1.x 2.7.7.1 / 2.7.10.1) */
    assert_int_equal(r.avail->flags, 0);
    assert_int_equal(r.used->flags, 0);
    vqt_ring_teardown(&r);
}

static void test_flags_without_event_idx(void **state)
{
    struct ring r;
    struct vq_buf b = { 0x1000, 64 };
    (void)state;

    vqt_ring_setup(&r, 8, false);
    /* device notifications on by default */
    assert_int_equal(vq_drv_add(&r.drv, &b, 0, 1, vqt_token_of(0)), 0);
    assert_true(vq_drv_kick_prepare(&r.drv));
    /* device disables: NO_NOTIFY set, no kicks */
    vq_dev_disable_notify(&r.dev);
    assert_int_equal(le16toh(r.used->flags), VRING_USED_F_NO_NOTIFY);
    assert_int_equal(vq_drv_add(&r.drv, &b, 0, 1, vqt_token_of(1)), 0);
    assert_false(vq_drv_kick_prepare(&r.drv));
    /* nothing added since the last decision: no kick either way */
    assert_false(vq_drv_kick_prepare(&r.drv));
    /* device enables with entries pending */
    assert_true(vq_dev_enable_notify(&r.dev));
    assert_int_equal(le16toh(r.used->flags), 0);
    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
    assert_false(vq_dev_enable_notify(&r.dev));
    assert_int_equal(vq_drv_add(&r.drv, &b, 0, 1, vqt_token_of(2)), 0);
    assert_true(vq_drv_kick_prepare(&r.drv));
    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);

    /* driver interrupts on by default */
    assert_int_equal(vq_dev_push(&r.dev, 0, 1), 0);
    assert_true(vq_dev_should_notify(&r.dev));
    /* nothing pushed since: no interrupt */
    assert_false(vq_dev_should_notify(&r.dev));
    /* driver disables: NO_INTERRUPT set, no interrupts */
    vq_drv_disable_cb(&r.drv);
    assert_int_equal(le16toh(r.avail->flags), VRING_AVAIL_F_NO_INTERRUPT);
    assert_int_equal(vq_dev_push(&r.dev, 1, 1), 0);
    assert_false(vq_dev_should_notify(&r.dev));
    /* driver enables with entries pending */
    assert_true(vq_drv_enable_cb(&r.drv));
    assert_int_equal(le16toh(r.avail->flags), 0);
    assert_non_null(vq_drv_get_used(&r.drv, NULL));
    assert_non_null(vq_drv_get_used(&r.drv, NULL));
    assert_false(vq_drv_enable_cb(&r.drv));
    assert_int_equal(vq_dev_push(&r.dev, 2, 1), 0);
    assert_true(vq_dev_should_notify(&r.dev));
    vqt_ring_teardown(&r);
}

static void test_queue_full_then_freed(void **state)
{
    struct ring r;
    struct vq_buf b[2] = { { 0x1000, 64 }, { 0x2000, 64 } };
    uint32_t len;
    void *tok;
    (void)state;

    vqt_ring_setup(&r, 4, false);
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(vq_drv_add(&r.drv, b, 1, 0, vqt_token_of(i)), 0);
    assert_int_equal(r.drv.num_free, 0);
    errno = 0;
    assert_int_equal(vq_drv_add(&r.drv, b, 1, 0, vqt_token_of(9)), -1);
    assert_int_equal(errno, ENOSPC);
    vq_drv_kick_prepare(&r.drv);

    /* one completion frees one descriptor: a one-buffer chain fits, a
     * two-buffer chain does not */
    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
    assert_int_equal(vq_dev_push(&r.dev, r.chain.head, 0), 0);
    tok = vq_drv_get_used(&r.drv, &len);
    assert_ptr_equal(tok, vqt_token_of(0));
    assert_int_equal(r.drv.num_free, 1);
    errno = 0;
    assert_int_equal(vq_drv_add(&r.drv, b, 1, 1, vqt_token_of(9)), -1);
    assert_int_equal(errno, ENOSPC);
    assert_int_equal(vq_drv_add(&r.drv, b, 0, 1, vqt_token_of(4)), 0);
    errno = 0;
    assert_int_equal(vq_drv_add(&r.drv, b, 1, 0, vqt_token_of(9)), -1);
    assert_int_equal(errno, ENOSPC);
    assert_int_equal(vq_drv_in_flight(&r.drv), 4);

    /* drain everything; the queue is whole again */
    vq_drv_kick_prepare(&r.drv);
    for (unsigned i = 0; i < 4; i++) {
        assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
        assert_int_equal(vq_dev_push(&r.dev, r.chain.head, 0), 0);
    }
    for (unsigned i = 1; i <= 4; i++)
        assert_ptr_equal(vq_drv_get_used(&r.drv, &len), vqt_token_of(i));
    assert_null(vq_drv_get_used(&r.drv, &len));
    assert_int_equal(r.drv.num_free, 4);
    assert_int_equal(vq_drv_add(&r.drv, b, 1, 1, vqt_token_of(5)), 0);
    assert_int_equal(vq_drv_add(&r.drv, b, 1, 1, vqt_token_of(6)), 0);
    vqt_ring_teardown(&r);
}

/* vq_dev_unpop gives the chain popped last back to the ring (the next pop
 * finds it again); vq_dev_push_hold writes used entries the driver sees
 * only at vq_dev_publish, all together (a virtio-net packet over several
 * rx chains never shows half). */
static void test_dev_unpop_and_held_push(void **state)
{
    struct ring r;
    const struct vq_buf a[1] = { { 0x1000, 100 } };
    const struct vq_buf b[1] = { { 0x2000, 200 } };
    uint16_t head_a, head_b;
    uint32_t len = 0;
    (void)state;

    vqt_ring_setup(&r, 8, true);
    assert_int_equal(vq_drv_add(&r.drv, a, 0, 1, vqt_token_of(0)), 0);
    assert_int_equal(vq_drv_add(&r.drv, b, 0, 1, vqt_token_of(1)), 0);
    vq_drv_kick_prepare(&r.drv);

    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
    head_a = r.chain.head;
    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
    head_b = r.chain.head;
    assert_int_equal(vq_dev_unpop(&r.dev, head_b), 0);
    assert_int_equal(r.dev.in_flight, 1);
    assert_int_equal(vq_dev_unpop(&r.dev, head_b), -1);  /* not in flight */
    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
    assert_int_equal(r.chain.head, head_b);
    assert_int_equal(r.chain.in_bytes, 200);
    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 0);

    assert_int_equal(vq_dev_push_hold(&r.dev, head_a, 100), 0);
    assert_int_equal(vq_dev_push_hold(&r.dev, head_b, 150), 0);
    assert_int_equal(vqt_raw_used_idx(&r), 0);
    assert_null(vq_drv_get_used(&r.drv, &len));
    vq_dev_publish(&r.dev);
    assert_int_equal(vqt_raw_used_idx(&r), 2);
    assert_ptr_equal(vq_drv_get_used(&r.drv, &len), vqt_token_of(0));
    assert_int_equal(len, 100);
    assert_ptr_equal(vq_drv_get_used(&r.drv, &len), vqt_token_of(1));
    assert_int_equal(len, 150);
    /* a head not in flight: refused, the queue breaks */
    assert_int_equal(vq_dev_push_hold(&r.dev, head_a, 0), -1);
    assert_int_equal(r.dev.error, VQ_ERR_USED_ID);
    vqt_ring_teardown(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_rejects_bad_queue_size),
        cmocka_unit_test(test_add_argument_checks),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_dev_unpop_and_held_push),
        cmocka_unit_test(test_wraparound_event_idx),
        cmocka_unit_test(test_wraparound_flags),
        cmocka_unit_test(test_event_idx_decisions),
        cmocka_unit_test(test_event_idx_enable_disable),
        cmocka_unit_test(test_flags_without_event_idx),
        cmocka_unit_test(test_queue_full_then_freed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

