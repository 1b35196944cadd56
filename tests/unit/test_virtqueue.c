/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueue: a driver and a device over the same ring memory, plus
 * hostile peers on either side that write the shared ring directly.
 *
 * Ring areas are allocated at exactly their size so that, under
 * AddressSanitizer, any index the device failed to check turns into a
 * reported out-of-bounds access instead of a silent read.
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

/* ---------------------------------------------------------------------
 * Fixture: one ring, a driver and a device attached to it.
 * --------------------------------------------------------------------- */

struct ring {
    uint16_t num;
    bool event_idx;
    struct vring_desc *desc;
    struct vring_avail *avail;
    struct vring_used *used;
    struct vq_driver drv;
    struct vq_device dev;
    struct vq_chain chain;        /* chain.elem holds exactly num entries */
    uint16_t raw_avail_idx;       /* hostile driver's own avail idx */
};

static void ring_alloc(struct ring *r, uint16_t num, bool event_idx)
{
    memset(r, 0, sizeof(*r));
    r->num = num;
    r->event_idx = event_idx;
    r->desc = calloc(1, vg_ring_desc_bytes(num));
    r->avail = calloc(1, vg_ring_avail_bytes(num));
    r->used = calloc(1, vg_ring_used_bytes(num));
    r->chain.elem = calloc(num, sizeof(*r->chain.elem));
    assert_non_null(r->desc);
    assert_non_null(r->avail);
    assert_non_null(r->used);
    assert_non_null(r->chain.elem);
}

/* Both sides attached. */
static void ring_setup(struct ring *r, uint16_t num, bool event_idx)
{
    ring_alloc(r, num, event_idx);
    assert_int_equal(vq_drv_init(&r->drv, num, r->desc, r->avail, r->used,
                              event_idx), 0);
    assert_int_equal(vq_dev_init(&r->dev, num, r->desc, r->avail, r->used,
                                event_idx), 0);
}

/* Only the device attached: the test plays a (hostile) driver. */
static void ring_setup_device_only(struct ring *r, uint16_t num)
{
    ring_alloc(r, num, false);
    assert_int_equal(vq_dev_init(&r->dev, num, r->desc, r->avail, r->used,
                                false), 0);
}

static void ring_teardown(struct ring *r)
{
    vq_drv_free(&r->drv);
    vq_dev_free(&r->dev);
    free(r->desc);
    free(r->avail);
    free(r->used);
    free(r->chain.elem);
}

static void *token_of(unsigned i)
{
    return (void *)(uintptr_t)(i + 1);
}

/* ---- raw shared-memory access, as a peer would do it ---- */

static void raw_desc(struct ring *r, uint16_t i, uint64_t addr, uint32_t len,
                     uint16_t flags, uint16_t next)
{
    r->desc[i].addr = htole64(addr);
    r->desc[i].len = htole32(len);
    r->desc[i].flags = htole16(flags);
    r->desc[i].next = htole16(next);
}

/* Hostile driver: put head in the next avail slot and publish it. */
static void raw_publish(struct ring *r, uint16_t head)
{
    r->avail->ring[r->raw_avail_idx % r->num] = htole16(head);
    r->raw_avail_idx++;
    r->avail->idx = htole16(r->raw_avail_idx);
}

static void raw_set_avail_idx(struct ring *r, uint16_t idx)
{
    r->avail->idx = htole16(idx);
}

static uint16_t raw_used_idx(const struct ring *r)
{
    return le16toh(r->used->idx);
}

/* Hostile device: write a used entry and publish it. */
static void raw_used(struct ring *r, uint16_t slot_idx, uint32_t id, uint32_t len)
{
    r->used->ring[slot_idx % r->num].id = htole32(id);
    r->used->ring[slot_idx % r->num].len = htole32(len);
}

static void raw_set_used_idx(struct ring *r, uint16_t idx)
{
    r->used->idx = htole16(idx);
}

/* avail_event: the uint16 right after the used ring's num entries */
static uint16_t *avail_event_ptr(const struct ring *r)
{
    return (uint16_t *)((uintptr_t)r->used + offsetof(struct vring_used, ring) +
                        (size_t)r->num * sizeof(struct vring_used_elem));
}

static void raw_set_avail_event(struct ring *r, uint16_t v)
{
    *avail_event_ptr(r) = htole16(v);
}

static void raw_set_used_event(struct ring *r, uint16_t v)
{
    r->avail->ring[r->num] = htole16(v);
}

/* The device asked to be notified when the index moves from old to new:
 * event in [old, new) modulo 2^16, written independently of the code
 * under test. */
static bool event_in_window(uint16_t event, uint16_t old, uint16_t new_idx)
{
    return (uint16_t)(event - old) < (uint16_t)(new_idx - old);
}

/* Pop one chain and expect the queue to break with error e / value v. */
static void expect_pop_breaks(struct ring *r, enum vq_error e, uint64_t v)
{
    assert_int_equal(vq_dev_pop(&r->dev, &r->chain), -1);
    assert_int_equal(r->dev.error, e);
    assert_int_equal(r->dev.error_value, v);
    assert_true(r->dev.in_flight <= r->num);
    /* sticky */
    assert_int_equal(vq_dev_pop(&r->dev, &r->chain), -1);
    assert_int_equal(r->dev.error, e);
    assert_false(vq_dev_enable_notify(&r->dev));
}

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

    ring_alloc(&r, VG_MAX_QUEUE_SIZE, false);
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
    ring_teardown(&r);
}

static void test_add_argument_checks(void **state)
{
    struct ring r;
    struct vq_buf bufs[5] = {
        { 0x1000, 1 }, { 0x2000, 1 }, { 0x3000, 1 }, { 0x4000, 1 }, { 0x5000, 1 },
    };
    struct vq_buf huge[2] = { { 0x1000, UINT32_MAX }, { 0x2000, 1 } };
    (void)state;

    ring_setup(&r, 4, false);
    errno = 0;
    assert_int_equal(vq_drv_add(&r.drv, bufs, 0, 0, token_of(0)), -1);
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_int_equal(vq_drv_add(&r.drv, bufs, 1, 0, NULL), -1);
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_int_equal(vq_drv_add(&r.drv, NULL, 1, 0, token_of(0)), -1);
    assert_int_equal(errno, EINVAL);
    /* more buffers than the queue could ever hold */
    errno = 0;
    assert_int_equal(vq_drv_add(&r.drv, bufs, 3, 2, token_of(0)), -1);
    assert_int_equal(errno, E2BIG);
    /* a chain the device would reject as a length overflow */
    errno = 0;
    assert_int_equal(vq_drv_add(&r.drv, huge, 1, 1, token_of(0)), -1);
    assert_int_equal(errno, EOVERFLOW);
    /* nothing was consumed by the failures */
    assert_int_equal(r.drv.num_free, 4);
    assert_int_equal(vq_drv_in_flight(&r.drv), 0);
    assert_false(vq_drv_kick_prepare(&r.drv));
    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 0);
    ring_teardown(&r);
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

    ring_setup(&r, 8, false);
    assert_int_equal(vq_drv_add(&r.drv, a, 1, 2, token_of(0)), 0);  /* out, in, in */
    assert_int_equal(vq_drv_add(&r.drv, b, 1, 0, token_of(1)), 0);  /* out only */
    assert_int_equal(vq_drv_add(&r.drv, c, 0, 2, token_of(2)), 0);  /* in only */
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
    assert_int_equal(raw_used_idx(&r), 3);
    assert_true(vq_dev_should_notify(&r.dev));

    assert_ptr_equal(vq_drv_get_used(&r.drv, &len), token_of(1));
    assert_int_equal(len, 0);
    assert_ptr_equal(vq_drv_get_used(&r.drv, &len), token_of(2));
    assert_int_equal(len, 4104);
    assert_ptr_equal(vq_drv_get_used(&r.drv, &len), token_of(0));
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
        assert_int_equal(vq_drv_add(&r.drv, all, 4, 4, token_of(3)), 0);
        assert_int_equal(r.drv.num_free, 0);
        assert_true(vq_drv_kick_prepare(&r.drv));
        assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
        assert_int_equal(r.chain.n, 8);
        assert_int_equal(r.chain.n_out, 4);
        for (unsigned i = 0; i < 8; i++)
            expect_elem(&r.chain, i, 0x10000 + i * 0x1000, i + 1, i >= 4);
        assert_int_equal(vq_dev_push(&r.dev, r.chain.head, 26), 0);
        assert_ptr_equal(vq_drv_get_used(&r.drv, &len), token_of(3));
        assert_int_equal(len, 26);
        assert_int_equal(r.drv.num_free, 8);
    }
    ring_teardown(&r);
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
    return vq_drv_add(drv, bufs, req_out(id), req_in(id), token_of(id));
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

static uint32_t rng_next(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
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

    ring_setup(&r, NUM, event_idx);
    while (next_done < TOTAL) {
        unsigned batch = 1 + rng_next(&rng) % 4, added = 0;

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
        if (!dev_asleep && rng_next(&rng) % 4 != 0) {
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
        if (!drv_asleep && rng_next(&rng) % 3 != 0) {
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
    assert_int_equal(raw_used_idx(&r), (uint16_t)TOTAL);
    assert_int_equal(r.drv.last_used_idx, (uint16_t)TOTAL);
    assert_int_equal(vq_drv_in_flight(&r.drv), 0);
    assert_int_equal(r.drv.num_free, NUM);
    assert_int_equal(r.drv.bad_used_id + r.drv.bad_used_len + r.drv.bad_used_idx, 0);
    /* suppression really happened: far fewer notifications than requests */
    assert_true(kicks > 0 && kicks < TOTAL);
    assert_true(irqs > 0 && irqs < TOTAL);
    ring_teardown(&r);
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

    ring_setup(&r, NUM, true);
    for (uint32_t round = 0; round < ROUNDS; round++) {
        unsigned m = 1 + rng_next(&rng) % NUM;
        uint16_t old = r.drv.avail_idx, new_idx = (uint16_t)(old + m);
        uint16_t heads[NUM], event;
        uint16_t offsets[] = { 0xffff, 0, 1, (uint16_t)(m - 1), (uint16_t)m,
                               (uint16_t)(m + 1), 0x8000, (uint16_t)rng };
        struct vq_buf b = { 0x1000, 64 };
        bool want;

        for (unsigned i = 0; i < m; i++)
            assert_int_equal(vq_drv_add(&r.drv, &b, 0, 1, token_of(i)), 0);
        event = (uint16_t)(old + offsets[rng_next(&rng) % 8]);
        raw_set_avail_event(&r, event);
        want = event_in_window(event, old, new_idx);
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
        event = (uint16_t)(old + offsets[rng_next(&rng) % 8]);
        raw_set_used_event(&r, event);
        want = event_in_window(event, old, new_idx);
        assert_int_equal(vq_dev_should_notify(&r.dev), want);
        want ? irqs++ : no_irqs++;

        for (unsigned i = 0; i < m; i++)
            assert_non_null(vq_drv_get_used(&r.drv, NULL));
    }
    /* nothing new: never notify, whatever the event says */
    raw_set_used_event(&r, r.dev.used_idx);
    assert_false(vq_dev_should_notify(&r.dev));
    raw_set_avail_event(&r, r.drv.avail_idx);
    assert_false(vq_drv_kick_prepare(&r.drv));

    assert_true(kicks > 1000 && no_kicks > 1000);
    assert_true(irqs > 1000 && no_irqs > 1000);
    ring_teardown(&r);
}

/* The enable/disable calls place the events where the decisions need them. */
static void test_event_idx_enable_disable(void **state)
{
    struct ring r;
    struct vq_buf b = { 0x1000, 64 };
    (void)state;

    ring_setup(&r, 8, true);
    /* fresh queue: the device wants the first kick */
    assert_int_equal(vq_drv_add(&r.drv, &b, 0, 1, token_of(0)), 0);
    assert_true(vq_drv_kick_prepare(&r.drv));
    /* device awake and popping without re-enabling: no more kicks */
    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
    assert_int_equal(vq_drv_add(&r.drv, &b, 0, 1, token_of(1)), 0);
    assert_false(vq_drv_kick_prepare(&r.drv));
    /* going to sleep with an entry pending: told to pop again */
    assert_true(vq_dev_enable_notify(&r.dev));
    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
    assert_false(vq_dev_enable_notify(&r.dev));
    assert_int_equal(le16toh(*avail_event_ptr(&r)), 2);
    /* asleep: the next publish kicks */
    assert_int_equal(vq_drv_add(&r.drv, &b, 0, 1, token_of(2)), 0);
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
        assert_int_equal(vq_drv_add(&r.drv, &b, 0, 1, token_of(3 + i)), 0);
        vq_drv_kick_prepare(&r.drv);
        assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
        assert_int_equal(vq_dev_push(&r.dev, r.chain.head, 1), 0);
        assert_false(vq_dev_should_notify(&r.dev));
    }
    /* flags stay 0 under EVENT_IDX (VIRTIO 1.x 2.7.7.1 / 2.7.10.1) */
    assert_int_equal(r.avail->flags, 0);
    assert_int_equal(r.used->flags, 0);
    ring_teardown(&r);
}

static void test_flags_without_event_idx(void **state)
{
    struct ring r;
    struct vq_buf b = { 0x1000, 64 };
    (void)state;

    ring_setup(&r, 8, false);
    /* device notifications on by default */
    assert_int_equal(vq_drv_add(&r.drv, &b, 0, 1, token_of(0)), 0);
    assert_true(vq_drv_kick_prepare(&r.drv));
    /* device disables: NO_NOTIFY set, no kicks */
    vq_dev_disable_notify(&r.dev);
    assert_int_equal(le16toh(r.used->flags), VRING_USED_F_NO_NOTIFY);
    assert_int_equal(vq_drv_add(&r.drv, &b, 0, 1, token_of(1)), 0);
    assert_false(vq_drv_kick_prepare(&r.drv));
    /* nothing added since the last decision: no kick either way */
    assert_false(vq_drv_kick_prepare(&r.drv));
    /* device enables with entries pending */
    assert_true(vq_dev_enable_notify(&r.dev));
    assert_int_equal(le16toh(r.used->flags), 0);
    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
    assert_false(vq_dev_enable_notify(&r.dev));
    assert_int_equal(vq_drv_add(&r.drv, &b, 0, 1, token_of(2)), 0);
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
    ring_teardown(&r);
}

static void test_queue_full_then_freed(void **state)
{
    struct ring r;
    struct vq_buf b[2] = { { 0x1000, 64 }, { 0x2000, 64 } };
    uint32_t len;
    void *tok;
    (void)state;

    ring_setup(&r, 4, false);
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(vq_drv_add(&r.drv, b, 1, 0, token_of(i)), 0);
    assert_int_equal(r.drv.num_free, 0);
    errno = 0;
    assert_int_equal(vq_drv_add(&r.drv, b, 1, 0, token_of(9)), -1);
    assert_int_equal(errno, ENOSPC);
    vq_drv_kick_prepare(&r.drv);

    /* one completion frees one descriptor: a one-buffer chain fits, a
     * two-buffer chain does not */
    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
    assert_int_equal(vq_dev_push(&r.dev, r.chain.head, 0), 0);
    tok = vq_drv_get_used(&r.drv, &len);
    assert_ptr_equal(tok, token_of(0));
    assert_int_equal(r.drv.num_free, 1);
    errno = 0;
    assert_int_equal(vq_drv_add(&r.drv, b, 1, 1, token_of(9)), -1);
    assert_int_equal(errno, ENOSPC);
    assert_int_equal(vq_drv_add(&r.drv, b, 0, 1, token_of(4)), 0);
    errno = 0;
    assert_int_equal(vq_drv_add(&r.drv, b, 1, 0, token_of(9)), -1);
    assert_int_equal(errno, ENOSPC);
    assert_int_equal(vq_drv_in_flight(&r.drv), 4);

    /* drain everything; the queue is whole again */
    vq_drv_kick_prepare(&r.drv);
    for (unsigned i = 0; i < 4; i++) {
        assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
        assert_int_equal(vq_dev_push(&r.dev, r.chain.head, 0), 0);
    }
    for (unsigned i = 1; i <= 4; i++)
        assert_ptr_equal(vq_drv_get_used(&r.drv, &len), token_of(i));
    assert_null(vq_drv_get_used(&r.drv, &len));
    assert_int_equal(r.drv.num_free, 4);
    assert_int_equal(vq_drv_add(&r.drv, b, 1, 1, token_of(5)), 0);
    assert_int_equal(vq_drv_add(&r.drv, b, 1, 1, token_of(6)), 0);
    ring_teardown(&r);
}

/* ---------------------------------------------------------------------
 * Hostile frontend: the test writes the driver's areas directly.
 * --------------------------------------------------------------------- */

/* Single-descriptor chains 0..num-1, device-readable. */
static void raw_single_descs(struct ring *r)
{
    for (uint16_t i = 0; i < r->num; i++)
        raw_desc(r, i, 0x1000 * (i + 1u), 64, 0, 0);
}

static void test_hostile_avail_idx_jump(void **state)
{
    struct ring r;
    (void)state;

    /* exactly num ahead is legal: every entry pops */
    ring_setup_device_only(&r, 8);
    raw_single_descs(&r);
    for (uint16_t i = 0; i < 8; i++)
        raw_publish(&r, i);
    for (uint16_t i = 0; i < 8; i++) {
        assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
        assert_int_equal(r.chain.head, i);
    }
    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 0);
    ring_teardown(&r);

    /* num + 1 ahead is not */
    ring_setup_device_only(&r, 8);
    raw_single_descs(&r);
    raw_set_avail_idx(&r, 9);
    expect_pop_breaks(&r, VQ_ERR_AVAIL_IDX, 9);
    assert_int_equal(r.dev.in_flight, 0);
    assert_int_equal(r.dev.last_avail_idx, 0);
    ring_teardown(&r);

    /* moving backwards is a jump of almost 2^16 */
    ring_setup_device_only(&r, 8);
    raw_single_descs(&r);
    raw_publish(&r, 0);
    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
    raw_set_avail_idx(&r, 0);
    expect_pop_breaks(&r, VQ_ERR_AVAIL_IDX, 0);
    ring_teardown(&r);

    ring_setup_device_only(&r, 8);
    raw_set_avail_idx(&r, 0xffff);
    expect_pop_breaks(&r, VQ_ERR_AVAIL_IDX, 0xffff);
    ring_teardown(&r);
}

static void test_hostile_head_out_of_range(void **state)
{
    static const uint16_t heads[] = { 8, 9, 0x100, 0xffff };
    struct ring r;
    (void)state;

    for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
        ring_setup_device_only(&r, 8);
        raw_single_descs(&r);
        raw_publish(&r, heads[i]);
        expect_pop_breaks(&r, VQ_ERR_HEAD_RANGE, heads[i]);
        assert_int_equal(r.dev.in_flight, 0);
        ring_teardown(&r);
    }
}

static void test_hostile_next_out_of_range(void **state)
{
    static const uint16_t nexts[] = { 8, 9, 0x8000, 0xffff };
    struct ring r;
    (void)state;

    for (size_t i = 0; i < sizeof(nexts) / sizeof(nexts[0]); i++) {
        ring_setup_device_only(&r, 8);
        raw_desc(&r, 0, 0x1000, 16, VRING_DESC_F_NEXT, 1);
        raw_desc(&r, 1, 0x2000, 16, VRING_DESC_F_NEXT, nexts[i]);
        raw_publish(&r, 0);
        expect_pop_breaks(&r, VQ_ERR_NEXT_RANGE, nexts[i]);
        assert_int_equal(r.dev.in_flight, 0);
        ring_teardown(&r);
    }

    /* a next without F_NEXT is ignored, whatever it holds */
    ring_setup_device_only(&r, 8);
    raw_desc(&r, 0, 0x1000, 16, 0, 0xffff);
    raw_publish(&r, 0);
    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
    assert_int_equal(r.chain.n, 1);
    ring_teardown(&r);
}

static void test_hostile_descriptor_loop(void **state)
{
    struct ring r;
    (void)state;

    /* self loop */
    ring_setup_device_only(&r, 8);
    raw_desc(&r, 3, 0x1000, 16, VRING_DESC_F_NEXT, 3);
    raw_publish(&r, 3);
    expect_pop_breaks(&r, VQ_ERR_LOOP, 8);
    ring_teardown(&r);

    /* 0 -> 1 -> 2 -> 0 */
    ring_setup_device_only(&r, 8);
    raw_desc(&r, 0, 0x1000, 16, VRING_DESC_F_NEXT, 1);
    raw_desc(&r, 1, 0x2000, 16, VRING_DESC_F_NEXT, 2);
    raw_desc(&r, 2, 0x3000, 16, VRING_DESC_F_NEXT, 0);
    raw_publish(&r, 0);
    expect_pop_breaks(&r, VQ_ERR_LOOP, 8);
    assert_int_equal(r.dev.in_flight, 0);
    ring_teardown(&r);

    /* a loop in the writable part */
    ring_setup_device_only(&r, 8);
    raw_desc(&r, 0, 0x1000, 16, VRING_DESC_F_NEXT, 1);
    raw_desc(&r, 1, 0x2000, 16, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
    raw_publish(&r, 0);
    expect_pop_breaks(&r, VQ_ERR_LOOP, 8);
    ring_teardown(&r);
}

static void test_hostile_chain_longer_than_queue(void **state)
{
    enum { NUM = 16 };
    struct ring r;
    (void)state;

    /* a chain through every descriptor is the longest legal one */
    ring_setup_device_only(&r, NUM);
    for (uint16_t i = 0; i < NUM; i++)
        raw_desc(&r, i, 0x1000 * (i + 1u), 8,
                 i + 1 < NUM ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1));
    raw_publish(&r, 0);
    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
    assert_int_equal(r.chain.n, NUM);
    assert_int_equal(r.chain.out_bytes, 8 * NUM);
    assert_int_equal(vq_dev_push(&r.dev, 0, 0), 0);

    /* one more link, back to the start, and it is num + 1 long */
    raw_desc(&r, NUM - 1, 0x1000 * NUM, 8, VRING_DESC_F_NEXT, 0);
    raw_publish(&r, 0);
    expect_pop_breaks(&r, VQ_ERR_LOOP, NUM);
    ring_teardown(&r);

    /* the same, starting in the middle of the table */
    ring_setup_device_only(&r, NUM);
    for (uint16_t i = 0; i < NUM; i++)
        raw_desc(&r, i, 0x1000, 8, VRING_DESC_F_NEXT, (uint16_t)((i + 1) % NUM));
    raw_publish(&r, 7);
    expect_pop_breaks(&r, VQ_ERR_LOOP, NUM);
    ring_teardown(&r);
}

static void test_hostile_length_overflow(void **state)
{
    struct ring r;
    (void)state;

    /* exactly UINT32_MAX in total is fine */
    ring_setup_device_only(&r, 8);
    raw_desc(&r, 0, 0x1000, UINT32_MAX - 1, VRING_DESC_F_NEXT, 1);
    raw_desc(&r, 1, 0x2000, 1, VRING_DESC_F_WRITE, 0);
    raw_publish(&r, 0);
    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
    assert_int_equal(r.chain.out_bytes, UINT32_MAX - 1);
    assert_int_equal(r.chain.in_bytes, 1);
    ring_teardown(&r);

    /* one byte more overflows, whether split out/in ... */
    ring_setup_device_only(&r, 8);
    raw_desc(&r, 0, 0x1000, UINT32_MAX, VRING_DESC_F_NEXT, 1);
    raw_desc(&r, 1, 0x2000, 1, VRING_DESC_F_WRITE, 0);
    raw_publish(&r, 0);
    expect_pop_breaks(&r, VQ_ERR_LEN_OVERFLOW, 1ULL << 32);
    ring_teardown(&r);

    /* ... or spread over many descriptors of one direction */
    ring_setup_device_only(&r, 8);
    for (uint16_t i = 0; i < 8; i++)
        raw_desc(&r, i, 0x1000, 0x40000000, i < 7 ? VRING_DESC_F_NEXT : 0,
                 (uint16_t)(i + 1));
    raw_publish(&r, 0);
    expect_pop_breaks(&r, VQ_ERR_LEN_OVERFLOW, 4ULL * 0x40000000);
    assert_int_equal(r.dev.in_flight, 0);
    ring_teardown(&r);
}

static void test_hostile_readable_after_writable(void **state)
{
    struct ring r;
    (void)state;

    ring_setup_device_only(&r, 8);
    raw_desc(&r, 0, 0x1000, 16, VRING_DESC_F_NEXT, 5);
    raw_desc(&r, 5, 0x2000, 16, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 6);
    raw_desc(&r, 6, 0x3000, 16, 0, 0);
    raw_publish(&r, 0);
    expect_pop_breaks(&r, VQ_ERR_ORDER, 6);
    assert_int_equal(r.dev.in_flight, 0);
    ring_teardown(&r);
}

static void test_hostile_indirect_not_negotiated(void **state)
{
    struct ring r;
    (void)state;

    /* at the head */
    ring_setup_device_only(&r, 8);
    raw_desc(&r, 2, 0x1000, 16 * 4, VRING_DESC_F_INDIRECT, 0);
    raw_publish(&r, 2);
    expect_pop_breaks(&r, VQ_ERR_INDIRECT, 2);
    ring_teardown(&r);

    /* further down the chain */
    ring_setup_device_only(&r, 8);
    raw_desc(&r, 0, 0x1000, 16, VRING_DESC_F_NEXT, 4);
    raw_desc(&r, 4, 0x2000, 64, VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE, 0);
    raw_publish(&r, 0);
    expect_pop_breaks(&r, VQ_ERR_INDIRECT, 4);
    assert_int_equal(r.dev.in_flight, 0);
    ring_teardown(&r);
}

static void test_hostile_flood_more_than_queue_size(void **state)
{
    enum { NUM = 8 };
    struct ring r;
    (void)state;

    /* an honest driver may re-publish a head once it came back */
    ring_setup_device_only(&r, NUM);
    raw_single_descs(&r);
    for (unsigned i = 0; i < 3; i++) {
        raw_publish(&r, 0);
        assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
        assert_int_equal(vq_dev_push(&r.dev, 0, 0), 0);
    }
    /* re-publishing a head the device still holds breaks the queue */
    raw_publish(&r, 0);
    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
    raw_publish(&r, 0);
    expect_pop_breaks(&r, VQ_ERR_TOO_MANY, 0);
    assert_int_equal(r.dev.in_flight, 1);
    ring_teardown(&r);

    /* the device holds num chains; any further avail entry is a flood */
    ring_setup_device_only(&r, NUM);
    raw_single_descs(&r);
    for (uint16_t i = 0; i < NUM; i++)
        raw_publish(&r, i);
    for (uint16_t i = 0; i < NUM; i++)
        assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
    assert_int_equal(r.dev.in_flight, NUM);
    raw_publish(&r, 3);
    expect_pop_breaks(&r, VQ_ERR_TOO_MANY, NUM);
    ring_teardown(&r);

    /* a driver bumping avail->idx over and over, re-using stale ring
     * entries, never gets the device past num chains */
    ring_setup_device_only(&r, NUM);
    raw_single_descs(&r);
    for (uint16_t i = 0; i < NUM; i++)
        raw_publish(&r, i);
    {
        unsigned popped = 0, failed = 0;

        for (unsigned round = 0; round < 100 * NUM; round++) {
            int rc;

            raw_set_avail_idx(&r, (uint16_t)(r.dev.last_avail_idx + 1));
            rc = vq_dev_pop(&r.dev, &r.chain);
            assert_true(rc == 1 || rc == -1);
            rc == 1 ? popped++ : failed++;
            assert_true(r.dev.in_flight <= NUM);
        }
        assert_int_equal(popped, NUM);
        assert_int_equal(failed, 100 * NUM - NUM);
        assert_int_equal(r.dev.error, VQ_ERR_TOO_MANY);
    }
    /* what it holds can still be completed before the device closes */
    for (uint16_t i = 0; i < NUM; i++)
        assert_int_equal(vq_dev_push(&r.dev, i, 0), 0);
    assert_int_equal(r.dev.in_flight, 0);
    ring_teardown(&r);
}

static void test_hostile_push_unknown_head(void **state)
{
    struct ring r;
    (void)state;

    /* never popped */
    ring_setup_device_only(&r, 8);
    raw_single_descs(&r);
    errno = 0;
    assert_int_equal(vq_dev_push(&r.dev, 2, 0), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(r.dev.error, VQ_ERR_USED_ID);
    assert_int_equal(r.dev.error_value, 2);
    assert_int_equal(raw_used_idx(&r), 0);
    assert_int_equal(r.dev.in_flight, 0);
    ring_teardown(&r);

    /* out of range */
    ring_setup_device_only(&r, 8);
    assert_int_equal(vq_dev_push(&r.dev, 8, 0), -1);
    assert_int_equal(r.dev.error, VQ_ERR_USED_ID);
    assert_int_equal(r.dev.error_value, 8);
    assert_int_equal(vq_dev_push(&r.dev, 0xffff, 0), -1);
    assert_int_equal(raw_used_idx(&r), 0);
    ring_teardown(&r);

    /* pushed twice */
    ring_setup_device_only(&r, 8);
    raw_single_descs(&r);
    raw_publish(&r, 5);
    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
    assert_int_equal(vq_dev_push(&r.dev, 5, 0), 0);
    assert_int_equal(vq_dev_push(&r.dev, 5, 0), -1);
    assert_int_equal(r.dev.error, VQ_ERR_USED_ID);
    assert_int_equal(raw_used_idx(&r), 1);
    assert_int_equal(r.dev.in_flight, 0);
    ring_teardown(&r);
}

static void test_error_strings(void **state)
{
    (void)state;
    for (int e = VQ_OK; e <= VQ_ERR_USED_ID; e++) {
        const char *s = vq_error_str((enum vq_error)e);
        assert_non_null(s);
        assert_true(strlen(s) > 5);
        for (int f = VQ_OK; f < e; f++)
            assert_string_not_equal(s, vq_error_str((enum vq_error)f));
    }
    assert_non_null(vq_error_str((enum vq_error)99));
}

/* ---------------------------------------------------------------------
 * Hostile backend: the test writes the device's area directly.
 * --------------------------------------------------------------------- */

/* Driver with two chains in flight: token 0 (out 16, in 100 bytes) at
 * descriptors 0 -> 1, token 1 (in 200 bytes) at descriptor 2. */
static void driver_with_two_chains(struct ring *r)
{
    struct vq_buf b0[2] = { { 0x1000, 16 }, { 0x2000, 100 } };
    struct vq_buf b1[1] = { { 0x3000, 200 } };

    ring_setup(r, 8, false);
    assert_int_equal(vq_drv_add(&r->drv, b0, 1, 1, token_of(0)), 0);
    assert_int_equal(vq_drv_add(&r->drv, b1, 0, 1, token_of(1)), 0);
    assert_true(vq_drv_kick_prepare(&r->drv));
    assert_int_equal(vq_drv_in_flight(&r->drv), 2);
}

static void test_hostile_used_id_out_of_range(void **state)
{
    static const uint32_t ids[] = { 8, 9, 0xffff, 0x10000, UINT32_MAX };
    struct ring r;
    uint32_t len = 0;
    (void)state;

    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        driver_with_two_chains(&r);
        raw_used(&r, 0, ids[i], 1);
        raw_set_used_idx(&r, 1);
        assert_null(vq_drv_get_used(&r.drv, &len));
        assert_int_equal(r.drv.bad_used_id, 1);
        assert_int_equal(vq_drv_in_flight(&r.drv), 2);
        assert_int_equal(r.drv.num_free, 8 - 3);
        /* genuine completions after the bad one still work */
        raw_used(&r, 1, 2, 200);
        raw_set_used_idx(&r, 2);
        assert_ptr_equal(vq_drv_get_used(&r.drv, &len), token_of(1));
        assert_int_equal(len, 200);
        assert_int_equal(vq_drv_in_flight(&r.drv), 1);
        ring_teardown(&r);
    }

    /* in range but not a chain head: a free descriptor, and the second
     * descriptor of chain 0 */
    driver_with_two_chains(&r);
    raw_used(&r, 0, 5, 1);
    raw_used(&r, 1, 1, 1);
    raw_set_used_idx(&r, 2);
    assert_null(vq_drv_get_used(&r.drv, &len));
    assert_int_equal(r.drv.bad_used_id, 2);
    assert_int_equal(vq_drv_in_flight(&r.drv), 2);
    assert_int_equal(r.drv.num_free, 8 - 3);
    ring_teardown(&r);
}

static void test_hostile_used_id_duplicate(void **state)
{
    struct ring r;
    uint32_t len = 0;
    (void)state;

    driver_with_two_chains(&r);
    raw_used(&r, 0, 0, 100);
    raw_used(&r, 1, 0, 100);      /* the same head again */
    raw_set_used_idx(&r, 2);
    assert_ptr_equal(vq_drv_get_used(&r.drv, &len), token_of(0));
    assert_int_equal(len, 100);
    assert_null(vq_drv_get_used(&r.drv, &len));
    assert_int_equal(r.drv.bad_used_id, 1);
    /* only the first completion freed descriptors */
    assert_int_equal(vq_drv_in_flight(&r.drv), 1);
    assert_int_equal(r.drv.num_free, 8 - 1);
    /* the other chain still completes */
    raw_used(&r, 2, 2, 7);
    raw_set_used_idx(&r, 3);
    assert_ptr_equal(vq_drv_get_used(&r.drv, &len), token_of(1));
    assert_int_equal(len, 7);
    assert_int_equal(r.drv.num_free, 8);
    assert_int_equal(vq_drv_in_flight(&r.drv), 0);
    ring_teardown(&r);
}

static void test_hostile_used_len_too_long(void **state)
{
    struct ring r;
    uint32_t len = 0;
    (void)state;

    driver_with_two_chains(&r);
    /* the device-readable header does not count as writable */
    raw_used(&r, 0, 0, 101);
    raw_used(&r, 1, 2, UINT32_MAX);
    raw_set_used_idx(&r, 2);
    assert_ptr_equal(vq_drv_get_used(&r.drv, &len), token_of(0));
    assert_int_equal(len, 100);
    assert_ptr_equal(vq_drv_get_used(&r.drv, &len), token_of(1));
    assert_int_equal(len, 200);
    assert_int_equal(r.drv.bad_used_len, 2);
    assert_int_equal(vq_drv_in_flight(&r.drv), 0);
    assert_int_equal(r.drv.num_free, 8);
    ring_teardown(&r);

    /* a chain with nothing writable: any length is too long */
    ring_setup(&r, 8, false);
    {
        struct vq_buf b = { 0x1000, 512 };
        assert_int_equal(vq_drv_add(&r.drv, &b, 1, 0, token_of(0)), 0);
    }
    vq_drv_kick_prepare(&r.drv);
    raw_used(&r, 0, 0, 1);
    raw_set_used_idx(&r, 1);
    assert_ptr_equal(vq_drv_get_used(&r.drv, &len), token_of(0));
    assert_int_equal(len, 0);
    assert_int_equal(r.drv.bad_used_len, 1);
    ring_teardown(&r);
}

static void test_hostile_used_idx_jump(void **state)
{
    static const uint16_t jumps[] = { 3, 9, 0x8000, 0xffff };
    struct ring r;
    uint32_t len = 0;
    (void)state;

    for (size_t i = 0; i < sizeof(jumps) / sizeof(jumps[0]); i++) {
        driver_with_two_chains(&r);
        /* the device popped both, then claims more completions than
         * there are requests; the entries even look valid */
        assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
        assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
        for (uint16_t j = 0; j < 8; j++)
            raw_used(&r, j, j % 2 ? 2 : 0, 1);
        raw_set_used_idx(&r, jumps[i]);
        for (unsigned k = 0; k < 3; k++)
            assert_null(vq_drv_get_used(&r.drv, &len));
        assert_true(r.drv.bad_used_idx >= 1);
        assert_int_equal(r.drv.bad_used_id, 0);
        assert_int_equal(vq_drv_in_flight(&r.drv), 2);
        assert_int_equal(r.drv.last_used_idx, 0);
        /* the device comes back to its senses: honest pushes rewrite
         * used->idx and both chains complete */
        assert_int_equal(vq_dev_push(&r.dev, 2, 5), 0);
        assert_int_equal(vq_dev_push(&r.dev, 0, 6), 0);
        assert_ptr_equal(vq_drv_get_used(&r.drv, &len), token_of(1));
        assert_int_equal(len, 5);
        assert_ptr_equal(vq_drv_get_used(&r.drv, &len), token_of(0));
        assert_int_equal(len, 6);
        assert_null(vq_drv_get_used(&r.drv, &len));
        ring_teardown(&r);
    }
}

/* The descriptor table may be writable by the device: links it rewrites
 * must not steer the driver's reclaim into another chain. */
static void test_hostile_desc_next_rewritten(void **state)
{
    enum { NUM = 8 };
    struct ring r;
    struct vq_buf b3[3] = { { 0x1000, 8 }, { 0x2000, 8 }, { 0x3000, 8 } };
    struct vq_buf b1 = { 0x4000, 8 };
    bool seen[NUM] = { false };
    uint32_t len;
    (void)state;

    ring_setup(&r, NUM, false);
    assert_int_equal(vq_drv_add(&r.drv, b3, 1, 2, token_of(0)), 0);   /* 0,1,2 */
    assert_int_equal(vq_drv_add(&r.drv, &b1, 1, 0, token_of(1)), 0);  /* 3 */
    vq_drv_kick_prepare(&r.drv);
    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);

    /* point chain 0 into chain 1 and out of the table */
    raw_desc(&r, 0, 0x1000, 8, VRING_DESC_F_NEXT, 3);
    raw_desc(&r, 1, 0x2000, 8, VRING_DESC_F_NEXT, 0xffff);
    raw_desc(&r, 2, 0x3000, 8, VRING_DESC_F_NEXT, 3);
    assert_int_equal(vq_dev_push(&r.dev, 0, 16), 0);
    assert_ptr_equal(vq_drv_get_used(&r.drv, &len), token_of(0));
    assert_int_equal(r.drv.num_free, NUM - 1);
    assert_int_equal(vq_drv_in_flight(&r.drv), 1);

    /* fill the queue: every free descriptor handed out once, never 3 */
    for (unsigned i = 0; i < NUM - 1; i++)
        assert_int_equal(vq_drv_add(&r.drv, &b1, 1, 0, token_of(2 + i)), 0);
    errno = 0;
    assert_int_equal(vq_drv_add(&r.drv, &b1, 1, 0, token_of(99)), -1);
    assert_int_equal(errno, ENOSPC);
    vq_drv_kick_prepare(&r.drv);
    seen[3] = true;
    for (unsigned i = 0; i < NUM - 1; i++) {
        assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
        assert_false(seen[r.chain.head]);
        seen[r.chain.head] = true;
    }
    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 0);
    ring_teardown(&r);
}

/* ---------------------------------------------------------------------
 * Double fetch: a racing frontend rewrites the ring while the device pops.
 * --------------------------------------------------------------------- */

struct flipper {
    struct vring_desc *desc;
    struct vring_avail *avail;
    uint16_t num;
    int stop;                 /* atomic */
    uint64_t flips;           /* atomic */
};

#define FLIP_ADDR_BASE 0xa000u   /* desc i always holds addr BASE + i */

static void *flipper_main(void *arg)
{
    struct flipper *f = arg;
    uint32_t rng = 0x9e3779b9;
    static const uint16_t bad_nexts[] = { 8, 9, 0xffff, 0x100 };
    static const uint32_t lens[] = { 16, 0, UINT32_MAX, 0x80000000u, 0x7fffffffu };
    static const uint16_t flags[] = {
        0, VRING_DESC_F_NEXT, VRING_DESC_F_WRITE,
        VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, VRING_DESC_F_INDIRECT,
        VRING_DESC_F_NEXT | VRING_DESC_F_INDIRECT,
    };

    while (!__atomic_load_n(&f->stop, __ATOMIC_RELAXED)) {
        uint32_t x = rng_next(&rng);
        uint16_t j = (uint16_t)((x >> 8) % f->num);
        struct vring_desc *d = &f->desc[j];

        switch (x % 7) {
        case 0:   /* next out of range */
            __atomic_store_n(&d->next, htole16(bad_nexts[(x >> 16) % 4]),
                             __ATOMIC_RELAXED);
            break;
        case 1:   /* next loops back */
            __atomic_store_n(&d->next, htole16((uint16_t)((x >> 16) % (j + 1u))),
                             __ATOMIC_RELAXED);
            break;
        case 2:
            __atomic_store_n(&d->len, htole32(lens[(x >> 16) % 5]),
                             __ATOMIC_RELAXED);
            break;
        case 3:
            __atomic_store_n(&d->flags, htole16(flags[(x >> 16) % 6]),
                             __ATOMIC_RELAXED);
            break;
        case 4:   /* avail entry anywhere, in range or not */
            __atomic_store_n(&f->avail->ring[(x >> 16) % f->num],
                             htole16((uint16_t)((x >> 20) % (f->num + 3u))),
                             __ATOMIC_RELAXED);
            break;
        default:  /* back to a sane readable link j -> j + 1 */
            __atomic_store_n(&d->len, htole32(16), __ATOMIC_RELAXED);
            __atomic_store_n(&d->flags,
                             htole16(j + 1 < f->num ? VRING_DESC_F_NEXT : 0),
                             __ATOMIC_RELAXED);
            __atomic_store_n(&d->next, htole16((uint16_t)(j + 1)),
                             __ATOMIC_RELAXED);
            break;
        }
        __atomic_fetch_add(&f->flips, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

/* Everything the device promises about a chain it returned. */
static void check_chain_invariants(const struct vq_chain *c, uint16_t num)
{
    uint64_t out = 0, in = 0;

    assert_true(c->head < num);
    assert_true(c->n >= 1 && c->n <= num);
    assert_true(c->n_out <= c->n);
    /* the first element is the head descriptor */
    assert_int_equal(c->elem[0].addr, FLIP_ADDR_BASE + c->head);
    for (unsigned i = 0; i < c->n; i++) {
        /* came from a descriptor inside the table */
        assert_true(c->elem[i].addr >= FLIP_ADDR_BASE &&
                    c->elem[i].addr < FLIP_ADDR_BASE + num);
        assert_int_equal(c->elem[i].write, i >= c->n_out);
        if (c->elem[i].write)
            in += c->elem[i].len;
        else
            out += c->elem[i].len;
    }
    assert_int_equal(out, c->out_bytes);
    assert_int_equal(in, c->in_bytes);
    assert_true(out + in <= UINT32_MAX);
}

static void test_hostile_double_fetch_ring_mutation(void **state)
{
    enum { NUM = 8, POPS = 200000, CHECKPOINT = 1000 };
    struct ring r;
    struct flipper f;
    pthread_t thread;
    uint64_t errors[VQ_ERR_USED_ID + 1] = { 0 }, ok = 0, failed = 0;
    uint64_t seen_flips = 0;
    (void)state;

    ring_setup_device_only(&r, NUM);
    for (uint16_t i = 0; i < NUM; i++)
        raw_desc(&r, i, FLIP_ADDR_BASE + i, 16,
                 i + 1 < NUM ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1));
    f = (struct flipper){ .desc = r.desc, .avail = r.avail, .num = NUM };
    assert_int_equal(pthread_create(&thread, NULL, flipper_main, &f), 0);

    for (unsigned pop = 0; pop < POPS; pop++) {
        uint16_t slot = r.dev.last_avail_idx;
        int rc;

        /* make sure the flipper really interleaves with us */
        if (pop % CHECKPOINT == 0) {
            while (__atomic_load_n(&f.flips, __ATOMIC_RELAXED) == seen_flips)
                sched_yield();
            seen_flips = __atomic_load_n(&f.flips, __ATOMIC_RELAXED);
        }
        /* publish one entry, as a driver would */
        __atomic_store_n(&r.avail->ring[slot % NUM], htole16(pop % NUM),
                         __ATOMIC_RELAXED);
        __atomic_store_n(&r.avail->idx, htole16((uint16_t)(slot + 1)),
                         __ATOMIC_RELEASE);

        rc = vq_dev_pop(&r.dev, &r.chain);
        if (rc == 1) {
            check_chain_invariants(&r.chain, NUM);
            assert_int_equal(vq_dev_push(&r.dev, r.chain.head, 0), 0);
            ok++;
            continue;
        }
        assert_int_equal(rc, -1);
        assert_true(r.dev.error > VQ_OK && r.dev.error <= VQ_ERR_USED_ID);
        errors[r.dev.error]++;
        failed++;
        /* the backend would close the device; start a fresh queue */
        vq_dev_free(&r.dev);
        __atomic_store_n(&r.avail->idx, 0, __ATOMIC_RELAXED);
        assert_int_equal(vq_dev_init(&r.dev, NUM, r.desc, r.avail, r.used,
                                    false), 0);
    }
    __atomic_store_n(&f.stop, 1, __ATOMIC_RELAXED);
    assert_int_equal(pthread_join(thread, NULL), 0);

    printf("double fetch: %" PRIu64 " chains ok, %" PRIu64 " broken queues "
           "(head %" PRIu64 ", next %" PRIu64 ", loop %" PRIu64 ", len %" PRIu64
           ", order %" PRIu64 ", indirect %" PRIu64 "), %" PRIu64 " flips\n",
           ok, failed, errors[VQ_ERR_HEAD_RANGE], errors[VQ_ERR_NEXT_RANGE],
           errors[VQ_ERR_LOOP], errors[VQ_ERR_LEN_OVERFLOW],
           errors[VQ_ERR_ORDER], errors[VQ_ERR_INDIRECT],
           (uint64_t)__atomic_load_n(&f.flips, __ATOMIC_RELAXED));
    assert_int_equal(ok + failed, POPS);
    /* the checkpoints make the race reach the device both ways */
    assert_true(ok > 0);
    assert_true(failed > 0);
    /* nothing the race can produce is an index or flood error: those
     * come from avail->idx, which only the main thread writes */
    assert_int_equal(errors[VQ_ERR_AVAIL_IDX], 0);
    assert_int_equal(errors[VQ_ERR_TOO_MANY], 0);
    ring_teardown(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_rejects_bad_queue_size),
        cmocka_unit_test(test_add_argument_checks),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_wraparound_event_idx),
        cmocka_unit_test(test_wraparound_flags),
        cmocka_unit_test(test_event_idx_decisions),
        cmocka_unit_test(test_event_idx_enable_disable),
        cmocka_unit_test(test_flags_without_event_idx),
        cmocka_unit_test(test_queue_full_then_freed),
        cmocka_unit_test(test_error_strings),
        cmocka_unit_test(test_hostile_avail_idx_jump),
        cmocka_unit_test(test_hostile_head_out_of_range),
        cmocka_unit_test(test_hostile_next_out_of_range),
        cmocka_unit_test(test_hostile_descriptor_loop),
        cmocka_unit_test(test_hostile_chain_longer_than_queue),
        cmocka_unit_test(test_hostile_length_overflow),
        cmocka_unit_test(test_hostile_readable_after_writable),
        cmocka_unit_test(test_hostile_indirect_not_negotiated),
        cmocka_unit_test(test_hostile_flood_more_than_queue_size),
        cmocka_unit_test(test_hostile_push_unknown_head),
        cmocka_unit_test(test_hostile_used_id_out_of_range),
        cmocka_unit_test(test_hostile_used_id_duplicate),
        cmocka_unit_test(test_hostile_used_len_too_long),
        cmocka_unit_test(test_hostile_used_idx_jump),
        cmocka_unit_test(test_hostile_desc_next_rewritten),
        cmocka_unit_test(test_hostile_double_fetch_ring_mutation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
