/* SPDX-License-Identifier: MIT */
/* Grant-address encoding (protocol.h): grant-dma-ops compatible layout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vgrant/protocol.h"

static void test_layout_matches_grant_dma_ops(void **state)
{
    (void)state;
    /* bit 63 | gref << 12 | offset, as Linux's grant-dma-ops builds it */
    assert_int_equal(vg_grant_addr(3, 0x10), 0x8000000000003010ULL);
    assert_int_equal(vg_grant_addr(0, 0), VG_GRANT_ADDR_FLAG);
    assert_int_equal(vg_grant_addr(0x12345, 0xabc), 0x8000000012345abcULL);
}

static void test_round_trip(void **state)
{
    static const uint32_t refs[] = { 0, 1, 2, 8, 0xfff, 0x1000, 0x12345678,
                                     0x7fffffff, 0x80000000, UINT32_MAX };
    static const uint32_t offsets[] = { 0, 1, 0x7ff, 0x800, VG_PAGE_SIZE - 1 };
    (void)state;

    for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
        for (size_t j = 0; j < sizeof(offsets) / sizeof(offsets[0]); j++) {
            uint64_t a = vg_grant_addr(refs[i], offsets[j]);

            assert_true(a & VG_GRANT_ADDR_FLAG);
            assert_true(vg_grant_addr_valid(a));
            assert_int_equal(vg_grant_addr_ref(a), refs[i]);
            assert_int_equal(vg_grant_addr_offset(a), offsets[j]);
        }
    }
}

static void test_max_ref(void **state)
{
    uint64_t a = vg_grant_addr(UINT32_MAX, VG_PAGE_SIZE - 1);
    (void)state;

    assert_int_equal(a, VG_GRANT_ADDR_FLAG | 0xffffffffULL << 12 | 0xfff);
    assert_true(vg_grant_addr_valid(a));
    assert_int_equal(vg_grant_addr_ref(a), UINT32_MAX);
    assert_int_equal(vg_grant_addr_offset(a), VG_PAGE_SIZE - 1);
}

static void test_offset_does_not_leak_into_ref(void **state)
{
    (void)state;
    /* An offset of a page or more is masked, never carried into the ref. */
    assert_int_equal(vg_grant_addr_ref(vg_grant_addr(5, VG_PAGE_SIZE)), 5);
    assert_int_equal(vg_grant_addr_offset(vg_grant_addr(5, VG_PAGE_SIZE)), 0);
    assert_int_equal(vg_grant_addr_ref(vg_grant_addr(5, UINT32_MAX)), 5);
    assert_int_equal(vg_grant_addr_offset(vg_grant_addr(5, UINT32_MAX)),
                     VG_PAGE_SIZE - 1);
}

static void test_consecutive_pages(void **state)
{
    /* Byte k of a buffer at (ref, off) lies in ref + (off + k) / 4096. */
    uint64_t a = vg_grant_addr(100, 0xff0);
    uint64_t b = vg_grant_addr(vg_grant_addr_ref(a) + 1, 0);
    (void)state;

    assert_int_equal(b - a, 0x10);
}

static void test_hostile_address_without_grant_bit(void **state)
{
    (void)state;
    assert_false(vg_grant_addr_valid(0));
    assert_false(vg_grant_addr_valid(0x1000));
    assert_false(vg_grant_addr_valid(0x12345abcULL));
    assert_false(vg_grant_addr_valid(vg_grant_addr(7, 0) & ~VG_GRANT_ADDR_FLAG));
    assert_false(vg_grant_addr_valid(UINT64_MAX >> 1));
}

static void test_hostile_grant_ref_above_32_bits(void **state)
{
    (void)state;
    assert_false(vg_grant_addr_valid(VG_GRANT_ADDR_FLAG | (1ULL << 32) << 12));
    assert_false(vg_grant_addr_valid(VG_GRANT_ADDR_FLAG |
                                     (0x100000000ULL << 12) | 0xfff));
    /* the largest ref the 51-bit field can carry is still refused */
    assert_false(vg_grant_addr_valid(VG_GRANT_ADDR_FLAG |
                                     ((1ULL << 51) - 1) << 12));
    assert_false(vg_grant_addr_valid(VG_GRANT_ADDR_FLAG |
                                     ((uint64_t)VG_GRANT_REF_MAX + 1) << 12));
    assert_false(vg_grant_addr_valid(UINT64_MAX));
    /* one below the limit is still fine */
    assert_true(vg_grant_addr_valid(VG_GRANT_ADDR_FLAG |
                                    0xffffffffULL << 12 | 0xfff));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_matches_grant_dma_ops),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_max_ref),
        cmocka_unit_test(test_offset_does_not_leak_into_ref),
        cmocka_unit_test(test_consecutive_pages),
        cmocka_unit_test(test_hostile_address_without_grant_bit),
        cmocka_unit_test(test_hostile_grant_ref_above_32_bits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
