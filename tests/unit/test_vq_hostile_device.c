/* SPDX-License-Identifier: MIT */
/*
 * The driver side of the split virtqueue (vq_drv_*) against a hostile
 * device that writes used entries directly (ids out of range or twice,
 * lengths too long, index jumps, rewritten links), and the device side
 * against a driver that mutates the ring while it is read (vqfix.h).
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
 * Hostile backend: the test writes the device's area directly.
 * --------------------------------------------------------------------- */

/* Driver with two chains in flight: token 0 (out 16, in 100 bytes) at
 * descriptors 0 -> 1, token 1 (in 200 bytes) at descriptor 2. */
static void driver_with_two_chains(struct ring *r)
{
    struct vq_buf b0[2] = { { 0x1000, 16 }, { 0x2000, 100 } };
    struct vq_buf b1[1] = { { 0x3000, 200 } };

    vqt_ring_setup(r, 8, false);
    assert_int_equal(vq_drv_add(&r->drv, b0, 1, 1, vqt_token_of(0)), 0);
    assert_int_equal(vq_drv_add(&r->drv, b1, 0, 1, vqt_token_of(1)), 0);
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
        vqt_raw_used(&r, 0, ids[i], 1);
        vqt_raw_set_used_idx(&r, 1);
        assert_null(vq_drv_get_used(&r.drv, &len));
        assert_int_equal(r.drv.bad_used_id, 1);
        assert_int_equal(vq_drv_in_flight(&r.drv), 2);
        assert_int_equal(r.drv.num_free, 8 - 3);
        /* genuine completions after the bad one still work */
        vqt_raw_used(&r, 1, 2, 200);
        vqt_raw_set_used_idx(&r, 2);
        assert_ptr_equal(vq_drv_get_used(&r.drv, &len), vqt_token_of(1));
        assert_int_equal(len, 200);
        assert_int_equal(vq_drv_in_flight(&r.drv), 1);
        vqt_ring_teardown(&r);
    }

    /* in range but not a chain head: a free descriptor, and the second
     * descriptor of chain 0 */
    driver_with_two_chains(&r);
    vqt_raw_used(&r, 0, 5, 1);
    vqt_raw_used(&r, 1, 1, 1);
    vqt_raw_set_used_idx(&r, 2);
    assert_null(vq_drv_get_used(&r.drv, &len));
    assert_int_equal(r.drv.bad_used_id, 2);
    assert_int_equal(vq_drv_in_flight(&r.drv), 2);
    assert_int_equal(r.drv.num_free, 8 - 3);
    vqt_ring_teardown(&r);
}

static void test_hostile_used_id_duplicate(void **state)
{
    struct ring r;
    uint32_t len = 0;
    (void)state;

    driver_with_two_chains(&r);
    vqt_raw_used(&r, 0, 0, 100);
    vqt_raw_used(&r, 1, 0, 100);      /* the same head again */
    vqt_raw_set_used_idx(&r, 2);
    assert_ptr_equal(vq_drv_get_used(&r.drv, &len), vqt_token_of(0));
    assert_int_equal(len, 100);
    assert_null(vq_drv_get_used(&r.drv, &len));
    assert_int_equal(r.drv.bad_used_id, 1);
    /* only the first completion freed descriptors */
    assert_int_equal(vq_drv_in_flight(&r.drv), 1);
    assert_int_equal(r.drv.num_free, 8 - 1);
    /* the other chain still completes */
    vqt_raw_used(&r, 2, 2, 7);
    vqt_raw_set_used_idx(&r, 3);
    assert_ptr_equal(vq_drv_get_used(&r.drv, &len), vqt_token_of(1));
    assert_int_equal(len, 7);
    assert_int_equal(r.drv.num_free, 8);
    assert_int_equal(vq_drv_in_flight(&r.drv), 0);
    vqt_ring_teardown(&r);
}

static void test_hostile_used_len_too_long(void **state)
{
    struct ring r;
    uint32_t len = 0;
    (void)state;

    driver_with_two_chains(&r);
    /* the device-readable header does not count as writable */
    vqt_raw_used(&r, 0, 0, 101);
    vqt_raw_used(&r, 1, 2, UINT32_MAX);
    vqt_raw_set_used_idx(&r, 2);
    assert_ptr_equal(vq_drv_get_used(&r.drv, &len), vqt_token_of(0));
    assert_int_equal(len, 100);
    assert_ptr_equal(vq_drv_get_used(&r.drv, &len), vqt_token_of(1));
    assert_int_equal(len, 200);
    assert_int_equal(r.drv.bad_used_len, 2);
    assert_int_equal(vq_drv_in_flight(&r.drv), 0);
    assert_int_equal(r.drv.num_free, 8);
    vqt_ring_teardown(&r);

    /* a chain with nothing writable: any length is too long */
    vqt_ring_setup(&r, 8, false);
    {
        struct vq_buf b = { 0x1000, 512 };
        assert_int_equal(vq_drv_add(&r.drv, &b, 1, 0, vqt_token_of(0)), 0);
    }
    vq_drv_kick_prepare(&r.drv);
    vqt_raw_used(&r, 0, 0, 1);
    vqt_raw_set_used_idx(&r, 1);
    assert_ptr_equal(vq_drv_get_used(&r.drv, &len), vqt_token_of(0));
    assert_int_equal(len, 0);
    assert_int_equal(r.drv.bad_used_len, 1);
    vqt_ring_teardown(&r);
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
            vqt_raw_used(&r, j, j % 2 ? 2 : 0, 1);
        vqt_raw_set_used_idx(&r, jumps[i]);
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
        assert_ptr_equal(vq_drv_get_used(&r.drv, &len), vqt_token_of(1));
        assert_int_equal(len, 5);
        assert_ptr_equal(vq_drv_get_used(&r.drv, &len), vqt_token_of(0));
        assert_int_equal(len, 6);
        assert_null(vq_drv_get_used(&r.drv, &len));
        vqt_ring_teardown(&r);
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

    vqt_ring_setup(&r, NUM, false);
    assert_int_equal(vq_drv_add(&r.drv, b3, 1, 2, vqt_token_of(0)), 0);   /* 0,1,2 */
    assert_int_equal(vq_drv_add(&r.drv, &b1, 1, 0, vqt_token_of(1)), 0);  /* 3 */
    vq_drv_kick_prepare(&r.drv);
    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);

    /* point chain 0 into chain 1 and out of the table */
    vqt_raw_desc(&r, 0, 0x1000, 8, VRING_DESC_F_NEXT, 3);
    vqt_raw_desc(&r, 1, 0x2000, 8, VRING_DESC_F_NEXT, 0xffff);
    vqt_raw_desc(&r, 2, 0x3000, 8, VRING_DESC_F_NEXT, 3);
    assert_int_equal(vq_dev_push(&r.dev, 0, 16), 0);
    assert_ptr_equal(vq_drv_get_used(&r.drv, &len), vqt_token_of(0));
    assert_int_equal(r.drv.num_free, NUM - 1);
    assert_int_equal(vq_drv_in_flight(&r.drv), 1);

    /* fill the queue: every free descriptor handed out once, never 3 */
    for (unsigned i = 0; i < NUM - 1; i++)
        assert_int_equal(vq_drv_add(&r.drv, &b1, 1, 0, vqt_token_of(2 + i)), 0);
    errno = 0;
    assert_int_equal(vq_drv_add(&r.drv, &b1, 1, 0, vqt_token_of(99)), -1);
    assert_int_equal(errno, ENOSPC);
    vq_drv_kick_prepare(&r.drv);
    seen[3] = true;
    for (unsigned i = 0; i < NUM - 1; i++) {
        assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
        assert_false(seen[r.chain.head]);
        seen[r.chain.head] = true;
    }
    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 0);
    vqt_ring_teardown(&r);
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
        uint32_t x = vqt_rng_next(&rng);
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

    vqt_ring_setup_device_only(&r, NUM);
    for (uint16_t i = 0; i < NUM; i++)
        vqt_raw_desc(&r, i, FLIP_ADDR_BASE + i, 16,
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
    vqt_ring_teardown(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_used_id_out_of_range),
        cmocka_unit_test(test_hostile_used_id_duplicate),
        cmocka_unit_test(test_hostile_used_len_too_long),
        cmocka_unit_test(test_hostile_used_idx_jump),
        cmocka_unit_test(test_hostile_desc_next_rewritten),
        cmocka_unit_test(test_hostile_double_fetch_ring_mutation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

