/* SPDX-License-Identifier: MIT */
/* vgrant-io bench --random: the offsets stay aligned inside the span,
 * depend only on the seed and the I/O number, and cover the span.
 * --start-at: the epoch is parsed strictly, the wait ends no earlier
 * than the deadline and reports how late a past deadline was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vgf_bench_drv.h"

static void test_aligned_inside_span(void **state)
{
    static const uint64_t sizes[] = { 512, 4096, 65536, 1u << 20 };
    const uint64_t span = 8u << 20;

    (void)state;
    for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        for (uint64_t n = 0; n < 20000; n++) {
            uint64_t off = vgf_bench_random_offset(7, n, sizes[i], span);

            assert_int_equal(off % sizes[i], 0);
            assert_true(off + sizes[i] <= span);
        }
    /* a span that is not a multiple of the size: the tail is never used */
    for (uint64_t n = 0; n < 1000; n++)
        assert_true(vgf_bench_random_offset(3, n, 65536, 65536 * 3 + 512) <= 65536 * 2);
    /* one slot: always offset 0 */
    for (uint64_t n = 0; n < 100; n++)
        assert_int_equal(vgf_bench_random_offset(9, n, 4096, 4096), 0);
}

static void test_seeded_and_repeatable(void **state)
{
    unsigned same_seed_diff = 0, other_seed_diff = 0, consecutive = 0;

    (void)state;
    for (uint64_t n = 0; n < 1000; n++) {
        uint64_t a = vgf_bench_random_offset(1, n, 4096, 32u << 20);

        same_seed_diff += a != vgf_bench_random_offset(1, n, 4096, 32u << 20);
        other_seed_diff += a != vgf_bench_random_offset(2, n, 4096, 32u << 20);
        if (n && a == vgf_bench_random_offset(1, n - 1, 4096, 32u << 20) + 4096)
            consecutive++;
    }
    assert_int_equal(same_seed_diff, 0);
    /* 8192 slots: another seed agrees by chance on a few at most */
    assert_true(other_seed_diff > 990);
    /* not a sequential pattern in disguise */
    assert_true(consecutive < 10);
    /* seeds 0 and UINT32_MAX work too (no stuck zero state): 16 I/Os
     * over 8192 slots land on at least 12 different ones */
    for (uint64_t seed = 0; seed <= UINT32_MAX; seed += UINT32_MAX) {
        uint64_t seen[16];
        unsigned distinct = 0;

        for (unsigned n = 0; n < 16; n++) {
            uint64_t off = vgf_bench_random_offset(seed, n, 4096, 32u << 20);
            bool dup = false;

            for (unsigned j = 0; j < distinct; j++)
                dup = dup || seen[j] == off;
            if (!dup)
                seen[distinct++] = off;
        }
        assert_true(distinct >= 12);
    }
}

static void test_covers_the_span(void **state)
{
    enum { SLOTS = 64 };
    unsigned hits[SLOTS];
    const uint64_t size = 65536, n_ios = SLOTS * 200;

    (void)state;
    memset(hits, 0, sizeof(hits));
    for (uint64_t n = 0; n < n_ios; n++)
        hits[vgf_bench_random_offset(42, n, size, SLOTS * size) / size]++;
    /* 200 expected per slot: each slot within [100, 300] */
    for (unsigned i = 0; i < SLOTS; i++) {
        assert_true(hits[i] >= 100);
        assert_true(hits[i] <= 300);
    }
}

static void test_start_at_parse(void **state)
{
    double t = 0;

    (void)state;
    assert_int_equal(vgf_bench_parse_epoch("1796140833", &t), 0);
    assert_true(t == 1796140833.0);
    assert_int_equal(vgf_bench_parse_epoch("1796140833.25", &t), 0);
    assert_true(t == 1796140833.25);
    /* not dates: seconds, a relative time, garbage, overflow */
    t = 7;
    assert_int_equal(vgf_bench_parse_epoch("5", &t), -1);
    assert_int_equal(vgf_bench_parse_epoch("-1796140833", &t), -1);
    assert_int_equal(vgf_bench_parse_epoch("", &t), -1);
    assert_int_equal(vgf_bench_parse_epoch("1796140833x", &t), -1);
    assert_int_equal(vgf_bench_parse_epoch("nan", &t), -1);
    assert_int_equal(vgf_bench_parse_epoch("1e10", &t), -1);
    assert_int_equal(vgf_bench_parse_epoch("1e400", &t), -1);
    assert_true(t == 7);   /* untouched on error */
}

static void test_start_at_wait(void **state)
{
    double t0 = vgf_bench_realtime(), late, now;

    (void)state;
    assert_true(t0 > 1e9);
    /* a deadline ahead: not back before it, and late by >= 0 */
    late = vgf_bench_wait_until(t0 + 0.2);
    now = vgf_bench_realtime();
    assert_true(now >= t0 + 0.2);
    assert_true(late >= 0);
    /* a deadline 3 s past: no sleep, and it says how late */
    late = vgf_bench_wait_until(now - 3);
    assert_true(late >= 3);
    assert_true(vgf_bench_realtime() - now < 1.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aligned_inside_span),
        cmocka_unit_test(test_seeded_and_repeatable),
        cmocka_unit_test(test_covers_the_span),
        cmocka_unit_test(test_start_at_parse),
        cmocka_unit_test(test_start_at_wait),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
