/* SPDX-License-Identifier: MIT */
/* Strict parsers of xenstore values written by the other domain. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vgrant/guest_stats.h"
#include "vgrant/xsutil.h"

#define UNTOUCHED 0x5a5a5a5a5a5a5a5aULL

/* Expect failure with errno want, and *out left alone. */
static void expect_uint_fails(const char *s, uint64_t max, int want)
{
    uint64_t v = UNTOUCHED;

    errno = 0;
    assert_int_equal(vg_parse_uint(s, max, &v), -1);
    assert_int_equal(errno, want);
    assert_int_equal(v, UNTOUCHED);
}

static void expect_hex_fails(const char *s, int want)
{
    uint64_t v = UNTOUCHED;

    errno = 0;
    assert_int_equal(vg_parse_hex64(s, &v), -1);
    assert_int_equal(errno, want);
    assert_int_equal(v, UNTOUCHED);
}

static void expect_size_fails(const char *s, int want)
{
    uint64_t v = UNTOUCHED;

    errno = 0;
    assert_int_equal(vg_parse_size(s, &v), -1);
    assert_int_equal(errno, want);
    assert_int_equal(v, UNTOUCHED);
}

static uint64_t parse_uint_ok(const char *s, uint64_t max)
{
    uint64_t v = UNTOUCHED;

    assert_int_equal(vg_parse_uint(s, max, &v), 0);
    return v;
}

static uint64_t parse_hex_ok(const char *s)
{
    uint64_t v = UNTOUCHED;

    assert_int_equal(vg_parse_hex64(s, &v), 0);
    return v;
}

static uint64_t parse_size_ok(const char *s)
{
    uint64_t v = UNTOUCHED;

    assert_int_equal(vg_parse_size(s, &v), 0);
    return v;
}

/* ---- vg_parse_uint ---- */

static void test_uint_valid(void **state)
{
    (void)state;
    assert_int_equal(parse_uint_ok("0", 0), 0);
    assert_int_equal(parse_uint_ok("4", 6), 4);
    assert_int_equal(parse_uint_ok("65535", 65535), 65535);
    assert_int_equal(parse_uint_ok("4294967295", UINT64_MAX), 4294967295ULL);
    assert_int_equal(parse_uint_ok("18446744073709551615", UINT64_MAX),
                     UINT64_MAX);
}

static void test_uint_out_of_range(void **state)
{
    (void)state;
    expect_uint_fails("7", 6, ERANGE);
    expect_uint_fails("65536", 65535, ERANGE);
    expect_uint_fails("18446744073709551616", UINT64_MAX, ERANGE);
    expect_uint_fails("99999999999999999999", UINT64_MAX, ERANGE);
}

static void test_hostile_xs_garbage_uint(void **state)
{
    static const char *const garbage[] = {
        "", "abc", "12a", "a12", "0x10", "1.5", "1e3", "12\n", "\t1",
        "123456789012345678901",   /* 21 digits */
    };
    (void)state;

    for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++)
        expect_uint_fails(garbage[i], UINT64_MAX, EINVAL);
    expect_uint_fails(NULL, UINT64_MAX, EINVAL);
}

static void test_hostile_xs_garbage_uint_signs(void **state)
{
    (void)state;
    expect_uint_fails("-1", UINT64_MAX, EINVAL);
    expect_uint_fails("+1", UINT64_MAX, EINVAL);
    expect_uint_fails("-0", UINT64_MAX, EINVAL);
    expect_uint_fails("--5", UINT64_MAX, EINVAL);
}

static void test_hostile_xs_garbage_uint_spaces(void **state)
{
    (void)state;
    expect_uint_fails(" 12", UINT64_MAX, EINVAL);
    expect_uint_fails("12 ", UINT64_MAX, EINVAL);
    expect_uint_fails("1 2", UINT64_MAX, EINVAL);
    expect_uint_fails(" ", UINT64_MAX, EINVAL);
}

/* ---- vg_parse_hex64 ---- */

static void test_hex_valid(void **state)
{
    (void)state;
    assert_int_equal(parse_hex_ok("0x0"), 0);
    assert_int_equal(parse_hex_ok("0xff"), 0xff);
    assert_int_equal(parse_hex_ok("0XFF"), 0xff);
    assert_int_equal(parse_hex_ok("0xAbCdEf"), 0xabcdef);
    assert_int_equal(parse_hex_ok("0x8000000000003010"), 0x8000000000003010ULL);
    assert_int_equal(parse_hex_ok("0xffffffffffffffff"), UINT64_MAX);
    assert_int_equal(parse_hex_ok("0x0000000000000001"), 1);
}

static void test_hostile_xs_garbage_hex(void **state)
{
    static const char *const garbage[] = {
        "", "0", "0x", "ff", "x10", "0xg", "0x1g", "0x12z4", "00x1", "0xx1",
        "0x1.0", "0x1\n",
        "0x12345678901234567",     /* 17 digits: more than 64 bits */
    };
    (void)state;

    for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++)
        expect_hex_fails(garbage[i], EINVAL);
    expect_hex_fails(NULL, EINVAL);
}

static void test_hostile_xs_garbage_hex_signs_spaces(void **state)
{
    (void)state;
    expect_hex_fails("-0x1", EINVAL);
    expect_hex_fails("+0x1", EINVAL);
    expect_hex_fails("0x-1", EINVAL);
    expect_hex_fails("0x+1", EINVAL);
    expect_hex_fails(" 0x1", EINVAL);
    expect_hex_fails("0x1 ", EINVAL);
    expect_hex_fails("0x 1", EINVAL);
}

/* ---- vg_parse_size ---- */

static void test_size_valid(void **state)
{
    (void)state;
    assert_int_equal(parse_size_ok("0"), 0);
    assert_int_equal(parse_size_ok("65536"), 65536);
    assert_int_equal(parse_size_ok("512K"), 512 * 1024);
    assert_int_equal(parse_size_ok("512k"), 512 * 1024);
    assert_int_equal(parse_size_ok("4M"), 4ULL << 20);
    assert_int_equal(parse_size_ok("4m"), 4ULL << 20);
    assert_int_equal(parse_size_ok("1G"), 1ULL << 30);
    assert_int_equal(parse_size_ok("17179869183G"), 17179869183ULL << 30);
}

static void test_size_overflow(void **state)
{
    (void)state;
    expect_size_fails("17179869184G", ERANGE);     /* 2^64 bytes */
    expect_size_fails("18014398509481984K", ERANGE);
    expect_size_fails("18446744073709551616", ERANGE);
}

static void test_hostile_xs_garbage_size(void **state)
{
    static const char *const garbage[] = {
        "", "K", "M", "G", "4MB", "4T", "4.5M", "M4", "4KK", "0x10", "4M\n",
        "1234567890123456789012345M",
    };
    (void)state;

    for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++)
        expect_size_fails(garbage[i], EINVAL);
    expect_size_fails(NULL, EINVAL);
}

static void test_hostile_xs_garbage_size_signs_spaces(void **state)
{
    (void)state;
    expect_size_fails("-4M", EINVAL);
    expect_size_fails("+4M", EINVAL);
    expect_size_fails(" 4M", EINVAL);
    expect_size_fails("4 M", EINVAL);
    expect_size_fails("4M ", EINVAL);
}

static void test_ref_list_round_trip(void **state)
{
    uint32_t refs[VG_REGION_REFS_PER_KEY], back[VG_REGION_REFS_PER_KEY];
    char buf[VG_MAX_XS_VALUE];

    (void)state;
    for (unsigned i = 0; i < VG_REGION_REFS_PER_KEY; i++)
        refs[i] = UINT32_MAX - i * 7919u;     /* the longest refs there are */
    assert_int_equal(vg_format_ref_list(buf, sizeof(buf), refs,
                                        VG_REGION_REFS_PER_KEY), 0);
    assert_true(strlen(buf) < 2048);   /* xenstored: a guest value <= 2048 B */
    assert_int_equal(vg_parse_ref_list(buf, back, VG_REGION_REFS_PER_KEY), 0);
    assert_memory_equal(refs, back, sizeof(refs));
    assert_int_equal(vg_parse_ref_list("8", back, 1), 0);
    assert_int_equal(back[0], 8);
    /* a buffer too small is an error, not a truncated list */
    assert_int_equal(vg_format_ref_list(buf, 8, refs, 2), -1);
    assert_int_equal(errno, E2BIG);
}

static void test_hostile_xs_garbage_ref_list(void **state)
{
    static const char *const bad[] = {
        "", " ", "1 2", "1 2 3 4", "1  2 3", " 1 2 3", "1 2 3 ", "1,2,3",
        "1 2 -3", "1 2 +3", "1 2 0x3", "1 2 4294967296", "1 2 99999999999",
        "1\t2 3", "1 2 3\n",
    };
    uint32_t refs[3];

    (void)state;
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        errno = 0;
        assert_int_equal(vg_parse_ref_list(bad[i], refs, 3), -1);
        assert_int_equal(errno, EINVAL);
    }
    assert_int_equal(vg_parse_ref_list(NULL, refs, 3), -1);
    assert_int_equal(vg_parse_ref_list("1", refs, 0), -1);
}

static void test_guest_stats_round_trip(void **state)
{
    struct vg_guest_stats in = {
        .requests = 1, .completed = 2, .failed = 3, .pages_shared = 4,
        .throttle_waits = 5, .region_high_water = UINT64_MAX,
        .bounce_bytes = 7, .zero_copy_bytes = 8,
    }, out;
    char line[VG_GUEST_STATS_MAX];

    (void)state;
    assert_int_equal(vg_format_guest_stats(line, sizeof(line), &in), 0);
    assert_true(strlen(line) < 2048);
    assert_int_equal(vg_parse_guest_stats(line, &out, NULL), 0);
    assert_memory_equal(&in, &out, sizeof(in));
    /* any order is fine */
    assert_int_equal(vg_parse_guest_stats(
        "zero-copy-bytes=8 bounce-bytes=7 region-high-water=6 "
        "throttle-waits=5 pages-shared=4 failed=3 completed=2 requests=1",
        &out, NULL), 0);
    assert_int_equal(out.throttle_waits, 5);
    assert_int_equal(vg_format_guest_stats(line, 20, &in), -1);
    assert_int_equal(errno, E2BIG);
}

/* The guest writes this key: whatever it writes must parse strictly or
 * be refused, never half-used. */
static void test_hostile_xs_garbage_guest_stats(void **state)
{
    static const char *const all =
        "requests=1 completed=1 failed=0 pages-shared=1 throttle-waits=0 "
        "region-high-water=0 bounce-bytes=0 zero-copy-bytes=0";
    static const char *const bad[] = {
        "",
        "requests=1",                                   /* names missing */
        "requests=1 completed=1 failed=0 pages-shared=1 throttle-waits=0 "
        "region-high-water=0 bounce-bytes=0 zero-copy-bytes=0 requests=2",
        "requests=1 completed=1 failed=0 pages-shared=1 throttle-waits=0 "
        "region-high-water=0 bounce-bytes=0 zero-copy-bytes=0 evil=1",
        "requests=-1 completed=1 failed=0 pages-shared=1 throttle-waits=0 "
        "region-high-water=0 bounce-bytes=0 zero-copy-bytes=0",
        "requests=1 completed=1 failed=0 pages-shared=1 throttle-waits=0 "
        "region-high-water=99999999999999999999 bounce-bytes=0 zero-copy-bytes=0",
        "requests=1  completed=1 failed=0 pages-shared=1 throttle-waits=0 "
        "region-high-water=0 bounce-bytes=0 zero-copy-bytes=0",
        "requests=1 completed=1 failed=0 pages-shared=1 throttle-waits=0 "
        "region-high-water=0 bounce-bytes=0 zero-copy-bytes=0 ",
        "requests 1 completed=1 failed=0 pages-shared=1 throttle-waits=0 "
        "region-high-water=0 bounce-bytes=0 zero-copy-bytes=0",
        "requests=0x1 completed=1 failed=0 pages-shared=1 throttle-waits=0 "
        "region-high-water=0 bounce-bytes=0 zero-copy-bytes=0",
    };
    struct vg_guest_stats out = { .requests = 42 };
    const char *where;

    (void)state;
    assert_int_equal(vg_parse_guest_stats(all, &out, NULL), 0);
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct vg_guest_stats keep = { .requests = 42 };
        where = NULL;
        errno = 0;
        assert_int_equal(vg_parse_guest_stats(bad[i], &keep, &where), -1);
        assert_int_equal(errno, EINVAL);
        assert_non_null(where);
        assert_int_equal(keep.requests, 42);     /* untouched */
    }
    assert_int_equal(vg_parse_guest_stats(NULL, &out, NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uint_valid),
        cmocka_unit_test(test_uint_out_of_range),
        cmocka_unit_test(test_hostile_xs_garbage_uint),
        cmocka_unit_test(test_hostile_xs_garbage_uint_signs),
        cmocka_unit_test(test_hostile_xs_garbage_uint_spaces),
        cmocka_unit_test(test_hex_valid),
        cmocka_unit_test(test_hostile_xs_garbage_hex),
        cmocka_unit_test(test_hostile_xs_garbage_hex_signs_spaces),
        cmocka_unit_test(test_size_valid),
        cmocka_unit_test(test_size_overflow),
        cmocka_unit_test(test_hostile_xs_garbage_size),
        cmocka_unit_test(test_hostile_xs_garbage_size_signs_spaces),
        cmocka_unit_test(test_ref_list_round_trip),
        cmocka_unit_test(test_hostile_xs_garbage_ref_list),
        cmocka_unit_test(test_guest_stats_round_trip),
        cmocka_unit_test(test_hostile_xs_garbage_guest_stats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
