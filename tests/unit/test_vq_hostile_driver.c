/* SPDX-License-Identifier: MIT */
/*
 * The device side of the split virtqueue (vq_dev_*) against a hostile
 * driver that writes the shared ring directly: index jumps, heads and
 * links out of range, loops, over-long chains, length overflow, wrong
 * order, indirect descriptors, floods, unknown heads (vqfix.h).
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
 * Hostile frontend: the test writes the driver's areas directly.
 * --------------------------------------------------------------------- */

/* Single-descriptor chains 0..num-1, device-readable. */
static void raw_single_descs(struct ring *r)
{
    for (uint16_t i = 0; i < r->num; i++)
        vqt_raw_desc(r, i, 0x1000 * (i + 1u), 64, 0, 0);
}

static void test_hostile_avail_idx_jump(void **state)
{
    struct ring r;
    (void)state;

    /* exactly num ahead is legal: every entry pops */
    vqt_ring_setup_device_only(&r, 8);
    raw_single_descs(&r);
    for (uint16_t i = 0; i < 8; i++)
        vqt_raw_publish(&r, i);
    for (uint16_t i = 0; i < 8; i++) {
        assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
        assert_int_equal(r.chain.head, i);
    }
    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 0);
    vqt_ring_teardown(&r);

    /* num + 1 ahead is not */
    vqt_ring_setup_device_only(&r, 8);
    raw_single_descs(&r);
    vqt_raw_set_avail_idx(&r, 9);
    vqt_expect_pop_breaks(&r, VQ_ERR_AVAIL_IDX, 9);
    assert_int_equal(r.dev.in_flight, 0);
    assert_int_equal(r.dev.last_avail_idx, 0);
    vqt_ring_teardown(&r);

    /* moving backwards is a jump of almost 2^16 */
    vqt_ring_setup_device_only(&r, 8);
    raw_single_descs(&r);
    vqt_raw_publish(&r, 0);
    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
    vqt_raw_set_avail_idx(&r, 0);
    vqt_expect_pop_breaks(&r, VQ_ERR_AVAIL_IDX, 0);
    vqt_ring_teardown(&r);

    vqt_ring_setup_device_only(&r, 8);
    vqt_raw_set_avail_idx(&r, 0xffff);
    vqt_expect_pop_breaks(&r, VQ_ERR_AVAIL_IDX, 0xffff);
    vqt_ring_teardown(&r);
}

static void test_hostile_head_out_of_range(void **state)
{
    static const uint16_t heads[] = { 8, 9, 0x100, 0xffff };
    struct ring r;
    (void)state;

    for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
        vqt_ring_setup_device_only(&r, 8);
        raw_single_descs(&r);
        vqt_raw_publish(&r, heads[i]);
        vqt_expect_pop_breaks(&r, VQ_ERR_HEAD_RANGE, heads[i]);
        assert_int_equal(r.dev.in_flight, 0);
        vqt_ring_teardown(&r);
    }
}

static void test_hostile_next_out_of_range(void **state)
{
    static const uint16_t nexts[] = { 8, 9, 0x8000, 0xffff };
    struct ring r;
    (void)state;

    for (size_t i = 0; i < sizeof(nexts) / sizeof(nexts[0]); i++) {
        vqt_ring_setup_device_only(&r, 8);
        vqt_raw_desc(&r, 0, 0x1000, 16, VRING_DESC_F_NEXT, 1);
        vqt_raw_desc(&r, 1, 0x2000, 16, VRING_DESC_F_NEXT, nexts[i]);
        vqt_raw_publish(&r, 0);
        vqt_expect_pop_breaks(&r, VQ_ERR_NEXT_RANGE, nexts[i]);
        assert_int_equal(r.dev.in_flight, 0);
        vqt_ring_teardown(&r);
    }

    /* a next without F_NEXT is ignored, whatever it holds */
    vqt_ring_setup_device_only(&r, 8);
    vqt_raw_desc(&r, 0, 0x1000, 16, 0, 0xffff);
    vqt_raw_publish(&r, 0);
    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
    assert_int_equal(r.chain.n, 1);
    vqt_ring_teardown(&r);
}

static void test_hostile_descriptor_loop(void **state)
{
    struct ring r;
    (void)state;

    /* self loop */
    vqt_ring_setup_device_only(&r, 8);
    vqt_raw_desc(&r, 3, 0x1000, 16, VRING_DESC_F_NEXT, 3);
    vqt_raw_publish(&r, 3);
    vqt_expect_pop_breaks(&r, VQ_ERR_LOOP, 8);
    vqt_ring_teardown(&r);

    /* 0 -> 1 -> 2 -> 0 */
    vqt_ring_setup_device_only(&r, 8);
    vqt_raw_desc(&r, 0, 0x1000, 16, VRING_DESC_F_NEXT, 1);
    vqt_raw_desc(&r, 1, 0x2000, 16, VRING_DESC_F_NEXT, 2);
    vqt_raw_desc(&r, 2, 0x3000, 16, VRING_DESC_F_NEXT, 0);
    vqt_raw_publish(&r, 0);
    vqt_expect_pop_breaks(&r, VQ_ERR_LOOP, 8);
    assert_int_equal(r.dev.in_flight, 0);
    vqt_ring_teardown(&r);

    /* a loop in the writable part */
    vqt_ring_setup_device_only(&r, 8);
    vqt_raw_desc(&r, 0, 0x1000, 16, VRING_DESC_F_NEXT, 1);
    vqt_raw_desc(&r, 1, 0x2000, 16, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
    vqt_raw_publish(&r, 0);
    vqt_expect_pop_breaks(&r, VQ_ERR_LOOP, 8);
    vqt_ring_teardown(&r);
}

static void test_hostile_chain_longer_than_queue(void **state)
{
    enum { NUM = 16 };
    struct ring r;
    (void)state;

    /* a chain through every descriptor is the longest legal one */
    vqt_ring_setup_device_only(&r, NUM);
    for (uint16_t i = 0; i < NUM; i++)
        vqt_raw_desc(&r, i, 0x1000 * (i + 1u), 8,
                     i + 1 < NUM ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1));
    vqt_raw_publish(&r, 0);
    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
    assert_int_equal(r.chain.n, NUM);
    assert_int_equal(r.chain.out_bytes, 8 * NUM);
    assert_int_equal(vq_dev_push(&r.dev, 0, 0), 0);

    /* one more link, back to the start, and it is num + 1 long */
    vqt_raw_desc(&r, NUM - 1, 0x1000 * NUM, 8, VRING_DESC_F_NEXT, 0);
    vqt_raw_publish(&r, 0);
    vqt_expect_pop_breaks(&r, VQ_ERR_LOOP, NUM);
    vqt_ring_teardown(&r);

    /* the same, starting in the middle of the table */
    vqt_ring_setup_device_only(&r, NUM);
    for (uint16_t i = 0; i < NUM; i++)
        vqt_raw_desc(&r, i, 0x1000, 8, VRING_DESC_F_NEXT, (uint16_t)((i + 1) % NUM));
    vqt_raw_publish(&r, 7);
    vqt_expect_pop_breaks(&r, VQ_ERR_LOOP, NUM);
    vqt_ring_teardown(&r);
}

static void test_hostile_length_overflow(void **state)
{
    struct ring r;
    (void)state;

    /* exactly UINT32_MAX in total is fine */
    vqt_ring_setup_device_only(&r, 8);
    vqt_raw_desc(&r, 0, 0x1000, UINT32_MAX - 1, VRING_DESC_F_NEXT, 1);
    vqt_raw_desc(&r, 1, 0x2000, 1, VRING_DESC_F_WRITE, 0);
    vqt_raw_publish(&r, 0);
    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
    assert_int_equal(r.chain.out_bytes, UINT32_MAX - 1);
    assert_int_equal(r.chain.in_bytes, 1);
    vqt_ring_teardown(&r);

    /* one byte more overflows, whether split out/in ... */
    vqt_ring_setup_device_only(&r, 8);
    vqt_raw_desc(&r, 0, 0x1000, UINT32_MAX, VRING_DESC_F_NEXT, 1);
    vqt_raw_desc(&r, 1, 0x2000, 1, VRING_DESC_F_WRITE, 0);
    vqt_raw_publish(&r, 0);
    vqt_expect_pop_breaks(&r, VQ_ERR_LEN_OVERFLOW, 1ULL << 32);
    vqt_ring_teardown(&r);

    /* ... or spread over many descriptors of one direction */
    vqt_ring_setup_device_only(&r, 8);
    for (uint16_t i = 0; i < 8; i++)
        vqt_raw_desc(&r, i, 0x1000, 0x40000000, i < 7 ? VRING_DESC_F_NEXT : 0,
                     (uint16_t)(i + 1));
    vqt_raw_publish(&r, 0);
    vqt_expect_pop_breaks(&r, VQ_ERR_LEN_OVERFLOW, 4ULL * 0x40000000);
    assert_int_equal(r.dev.in_flight, 0);
    vqt_ring_teardown(&r);
}

static void test_hostile_readable_after_writable(void **state)
{
    struct ring r;
    (void)state;

    vqt_ring_setup_device_only(&r, 8);
    vqt_raw_desc(&r, 0, 0x1000, 16, VRING_DESC_F_NEXT, 5);
    vqt_raw_desc(&r, 5, 0x2000, 16, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 6);
    vqt_raw_desc(&r, 6, 0x3000, 16, 0, 0);
    vqt_raw_publish(&r, 0);
    vqt_expect_pop_breaks(&r, VQ_ERR_ORDER, 6);
    assert_int_equal(r.dev.in_flight, 0);
    vqt_ring_teardown(&r);
}

static void test_hostile_indirect_not_negotiated(void **state)
{
    struct ring r;
    (void)state;

    /* at the head */
    vqt_ring_setup_device_only(&r, 8);
    vqt_raw_desc(&r, 2, 0x1000, 16 * 4, VRING_DESC_F_INDIRECT, 0);
    vqt_raw_publish(&r, 2);
    vqt_expect_pop_breaks(&r, VQ_ERR_INDIRECT, 2);
    vqt_ring_teardown(&r);

    /* further down the chain */
    vqt_ring_setup_device_only(&r, 8);
    vqt_raw_desc(&r, 0, 0x1000, 16, VRING_DESC_F_NEXT, 4);
    vqt_raw_desc(&r, 4, 0x2000, 64, VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE, 0);
    vqt_raw_publish(&r, 0);
    vqt_expect_pop_breaks(&r, VQ_ERR_INDIRECT, 4);
    assert_int_equal(r.dev.in_flight, 0);
    vqt_ring_teardown(&r);
}

static void test_hostile_flood_more_than_queue_size(void **state)
{
    enum { NUM = 8 };
    struct ring r;
    (void)state;

    /* an honest driver may re-publish a head once it came back */
    vqt_ring_setup_device_only(&r, NUM);
    raw_single_descs(&r);
    for (unsigned i = 0; i < 3; i++) {
        vqt_raw_publish(&r, 0);
        assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
        assert_int_equal(vq_dev_push(&r.dev, 0, 0), 0);
    }
    /* re-publishing a head the device still holds breaks the queue */
    vqt_raw_publish(&r, 0);
    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
    vqt_raw_publish(&r, 0);
    vqt_expect_pop_breaks(&r, VQ_ERR_TOO_MANY, 0);
    assert_int_equal(r.dev.in_flight, 1);
    vqt_ring_teardown(&r);

    /* the device holds num chains; any further avail entry is a flood */
    vqt_ring_setup_device_only(&r, NUM);
    raw_single_descs(&r);
    for (uint16_t i = 0; i < NUM; i++)
        vqt_raw_publish(&r, i);
    for (uint16_t i = 0; i < NUM; i++)
        assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
    assert_int_equal(r.dev.in_flight, NUM);
    vqt_raw_publish(&r, 3);
    vqt_expect_pop_breaks(&r, VQ_ERR_TOO_MANY, NUM);
    vqt_ring_teardown(&r);

    /* a driver bumping avail->idx over and over, re-using stale ring
     * entries, never gets the device past num chains */
    vqt_ring_setup_device_only(&r, NUM);
    raw_single_descs(&r);
    for (uint16_t i = 0; i < NUM; i++)
        vqt_raw_publish(&r, i);
    {
        unsigned popped = 0, failed = 0;

        for (unsigned round = 0; round < 100 * NUM; round++) {
            int rc;

            vqt_raw_set_avail_idx(&r, (uint16_t)(r.dev.last_avail_idx + 1));
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
    vqt_ring_teardown(&r);
}

static void test_hostile_push_unknown_head(void **state)
{
    struct ring r;
    (void)state;

    /* never popped */
    vqt_ring_setup_device_only(&r, 8);
    raw_single_descs(&r);
    errno = 0;
    assert_int_equal(vq_dev_push(&r.dev, 2, 0), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(r.dev.error, VQ_ERR_USED_ID);
    assert_int_equal(r.dev.error_value, 2);
    assert_int_equal(vqt_raw_used_idx(&r), 0);
    assert_int_equal(r.dev.in_flight, 0);
    vqt_ring_teardown(&r);

    /* out of range */
    vqt_ring_setup_device_only(&r, 8);
    assert_int_equal(vq_dev_push(&r.dev, 8, 0), -1);
    assert_int_equal(r.dev.error, VQ_ERR_USED_ID);
    assert_int_equal(r.dev.error_value, 8);
    assert_int_equal(vq_dev_push(&r.dev, 0xffff, 0), -1);
    assert_int_equal(vqt_raw_used_idx(&r), 0);
    vqt_ring_teardown(&r);

    /* pushed twice */
    vqt_ring_setup_device_only(&r, 8);
    raw_single_descs(&r);
    vqt_raw_publish(&r, 5);
    assert_int_equal(vq_dev_pop(&r.dev, &r.chain), 1);
    assert_int_equal(vq_dev_push(&r.dev, 5, 0), 0);
    assert_int_equal(vq_dev_push(&r.dev, 5, 0), -1);
    assert_int_equal(r.dev.error, VQ_ERR_USED_ID);
    assert_int_equal(vqt_raw_used_idx(&r), 1);
    assert_int_equal(r.dev.in_flight, 0);
    vqt_ring_teardown(&r);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

