/* SPDX-License-Identifier: MIT */
/*
 * vgrant_blk (the virtio-blk helper of libvgrant) and vgrant-io's
 * verification code against the scripted backend (sbackend.h) in the
 * fake world: round trips, queue depth, I/O errors, a backend that never
 * writes the status or publishes a bad config, corrupted reads.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "libvgrant.h"
#include "vgf_check.h"
#include "vgf_verify.h"
#include "vgrant_blk.h"
#include "vgrant/hyp.h"
#include "vgrant/log.h"
#include "vgrant/protocol.h"
#include "vgrant/virtio.h"
#include "vgrant/virtqueue.h"
#include "vgrant/xsutil.h"
#include "sbackend.h"

/* virtio-blk                                                           */
/* ------------------------------------------------------------------ */

static struct vgf_blk *open_blk(struct sb *s, struct vg_hyp **feh)
{
    struct vgf_blk *b;

    *feh = vg_fake_open(s->w, FE_DOM);
    assert_non_null(*feh);
    b = vgf_blk_open(*feh, DEVID, &sb_fast_opts);
    assert_non_null(b);
    return b;
}

static void test_blk_read_write_roundtrip(void **state)
{
    static const struct { uint64_t off; size_t len; } io[] = {
        { 0, 512 }, { 512, 512 }, { 4096 + 1536, 4096 }, { 7 * 512, 64 * 1024 },
        { 3 * 512, 1024 * 1024 + 512 }, { DISK_BYTES - 512, 512 },
    };
    struct sb s;
    struct vg_hyp *feh;
    struct vgf_blk *b;
    uint8_t *wbuf = malloc(2 << 20), *rbuf = malloc(2 << 20);
    char id[21];

    (void)state;
    sb_init(&s, SB_BLK, SB_OK);
    s.seg_max = 16;          /* forces 1M+ I/O into many requests */
    sb_start(&s);
    b = open_blk(&s, &feh);
    assert_int_equal(vgf_blk_capacity(b), DISK_BYTES);
    assert_false(vgf_blk_readonly(b));
    assert_int_equal(vgf_blk_seg_max(b), 16);
    assert_true(vgf_blk_max_request(b) <= 16 * 4096);
    assert_true(vgf_blk_has_flush(b));

    for (size_t k = 0; k < sizeof(io) / sizeof(io[0]); k++) {
        sb_fill(wbuf, io[k].len, (unsigned)k + 1);
        memset(rbuf, 0, io[k].len);
        assert_int_equal(vgf_blk_write(b, io[k].off, wbuf, io[k].len), 0);
        assert_memory_equal(s.disk + io[k].off, wbuf, io[k].len);
        assert_int_equal(vgf_blk_read(b, io[k].off, rbuf, io[k].len), 0);
        assert_memory_equal(rbuf, wbuf, io[k].len);
    }
    assert_true(s.max_chain <= 16 + 2);
    assert_int_equal(vgf_blk_flush(b), 0);
    assert_int_equal(vgf_blk_get_id(b, id), 0);
    assert_string_equal(id, "sb-disk-?");

    /* argument checks */
    assert_int_equal(vgf_blk_read(b, 100, rbuf, 512), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(vgf_blk_read(b, 0, rbuf, 100), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(vgf_blk_read(b, DISK_BYTES, rbuf, 512), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(vgf_blk_write(b, UINT64_MAX - 511, wbuf, 512), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), RING_PAGES);
    vgf_blk_close(b);
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), 0);
    vg_hyp_close(feh);
    sb_fini(&s);
    free(wbuf);
    free(rbuf);
}

static void test_blk_async_depth(void **state)
{
    struct sb s;
    struct vg_hyp *feh;
    struct vgf_blk *b;
    enum { N = 40, SZ = 8192 };
    static uint8_t bufs[N][SZ];
    bool done[N] = { false };
    unsigned submitted = 0, completed = 0, max_depth = 0;

    (void)state;
    sb_init(&s, SB_BLK, SB_OK);
    sb_start(&s);
    b = open_blk(&s, &feh);
    while (completed < N) {
        while (submitted < N) {
            sb_fill(bufs[submitted], SZ, submitted);
            if (vgf_blk_submit_write(b, (uint64_t)submitted * SZ, bufs[submitted],
                                     SZ, &done[submitted]))
                break;
            submitted++;
            if (vgf_blk_in_flight(b) > max_depth)
                max_depth = vgf_blk_in_flight(b);
        }
        void *c;
        assert_int_equal(vgf_blk_wait(b, &c, TIMEOUT_MS), 0);
        assert_false(*(bool *)c);
        *(bool *)c = true;
        completed++;
    }
    assert_true(max_depth > 1);
    assert_int_equal(vgf_blk_wait(b, NULL, 0), -1);
    assert_int_equal(errno, ENODATA);
    for (unsigned k = 0; k < N; k++)
        assert_memory_equal(s.disk + (size_t)k * SZ, bufs[k], SZ);
    vgf_blk_close(b);
    vg_hyp_close(feh);
    sb_fini(&s);
}

static void test_blk_errors_are_reported(void **state)
{
    struct sb s;
    struct vg_hyp *feh;
    struct vgf_blk *b;
    uint8_t buf[4096] = { 0 };
    char id[21];

    (void)state;
    sb_init(&s, SB_BLK, SB_OK);
    s.features |= VG_FEATURE(VIRTIO_BLK_F_RO);
    s.readonly = true;
    s.fail_sector = 16;
    s.no_get_id = true;
    sb_start(&s);
    b = open_blk(&s, &feh);
    assert_true(vgf_blk_readonly(b));
    /* refused before anything is sent */
    assert_int_equal(vgf_blk_write(b, 0, buf, 512), -1);
    assert_int_equal(errno, EROFS);
    assert_int_equal(vgf_blk_submit_write(b, 0, buf, 512, NULL), -1);
    assert_int_equal(errno, EROFS);
    assert_int_equal(s.popped, 0);
    assert_int_equal(vgf_blk_read(b, 0, buf, 512), 0);
    /* VIRTIO_BLK_S_IOERR */
    assert_int_equal(vgf_blk_read(b, 16 * 512, buf, 4096), -1);
    assert_int_equal(errno, EIO);
    /* VIRTIO_BLK_S_UNSUPP */
    assert_int_equal(vgf_blk_get_id(b, id), -1);
    assert_int_equal(errno, EOPNOTSUPP);
    /* the device still works after failed requests */
    assert_int_equal(vgf_blk_read(b, 0, buf, 4096), 0);
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), RING_PAGES);
    vgf_blk_close(b);
    vg_hyp_close(feh);
    sb_fini(&s);

    sb_init(&s, SB_BLK, SB_OK);
    s.features &= ~VG_FEATURE(VIRTIO_BLK_F_FLUSH);
    sb_start(&s);
    b = open_blk(&s, &feh);
    assert_false(vgf_blk_has_flush(b));
    assert_int_equal(vgf_blk_flush(b), 0);   /* write-through: nothing sent */
    assert_int_equal(s.popped, 0);
    vgf_blk_close(b);
    vg_hyp_close(feh);
    sb_fini(&s);
}

static void test_hostile_backend_blk_status_not_written(void **state)
{
    struct sb s;
    struct vg_hyp *feh;
    struct vgf_blk *b;
    uint8_t buf[4096];

    (void)state;
    sb_init(&s, SB_BLK, SB_SHORT_LEN);   /* claims 0 bytes written */
    sb_start(&s);
    b = open_blk(&s, &feh);
    memset(buf, 0x77, sizeof(buf));
    assert_int_equal(vgf_blk_read(b, 0, buf, sizeof(buf)), -1);
    assert_int_equal(errno, EIO);
    /* nothing copied: used len 0 */
    assert_int_equal(buf[0], 0x77);
    assert_int_equal(vgf_blk_write(b, 0, buf, 512), -1);
    assert_int_equal(errno, EIO);
    vgf_blk_close(b);
    vg_hyp_close(feh);
    sb_fini(&s);
}

static void test_hostile_backend_blk_bad_config(void **state)
{
    struct sb s;
    struct vg_hyp *feh;

    (void)state;
    sb_init(&s, SB_BLK, SB_OK);
    s.seg_max = 0;             /* SEG_MAX offered with 0 segments */
    sb_start(&s);
    feh = vg_fake_open(s.w, FE_DOM);
    assert_null(vgf_blk_open(feh, DEVID, &sb_fast_opts));
    assert_int_equal(errno, EPROTO);
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), 0);
    vg_hyp_close(feh);
    sb_fini(&s);

    sb_init(&s, SB_ECHO, SB_OK);  /* not a block device */
    sb_start(&s);
    feh = vg_fake_open(s.w, FE_DOM);
    assert_null(vgf_blk_open(feh, DEVID, &sb_fast_opts));
    assert_int_equal(errno, ENODEV);
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), 0);
    vg_hyp_close(feh);
    sb_fini(&s);
}

/* ------------------------------------------------------------------ */
/* verification helpers of vgrant-io                                    */
/* ------------------------------------------------------------------ */

static void test_cksum_matches_posix_cksum(void **state)
{
    uint8_t *buf = calloc(1, 100000);
    uint32_t crc;

    (void)state;
    /* reference values from coreutils cksum */
    assert_int_equal(vgf_cksum_finish(vgf_cksum_update(0, "123456789", 9), 9),
                     930766865u);
    assert_int_equal(vgf_cksum_finish(0, 0), 4294967295u);
    assert_int_equal(vgf_cksum_finish(vgf_cksum_update(0, buf, 100000), 100000),
                     1260869142u);
    sb_fill(buf, 70000, 3);
    /* in pieces, as the CLI streams it */
    crc = vgf_cksum_update(0, buf, 4096);
    crc = vgf_cksum_update(crc, buf + 4096, 70000 - 4096);
    assert_int_equal(vgf_cksum_finish(crc, 70000), 396058721u);
    free(buf);
}

static void test_pattern_depends_on_offset_and_seed(void **state)
{
    uint8_t a[1024], b[1024], c[512];

    (void)state;
    vgf_pattern_fill(a, 4096, sizeof(a), 7);
    vgf_pattern_fill(b, 4096, sizeof(b), 7);
    assert_memory_equal(a, b, sizeof(a));
    /* a piece generated on its own equals the same range of a larger one */
    vgf_pattern_fill(c, 4096 + 512, sizeof(c), 7);
    assert_memory_equal(a + 512, c, sizeof(c));
    /* the same data one sector off, or with another seed, differs */
    vgf_pattern_fill(b, 4096 + 512, sizeof(b), 7);
    assert_memory_not_equal(a, b, 512);
    vgf_pattern_fill(b, 4096, sizeof(b), 8);
    assert_memory_not_equal(a, b, 512);
}

static void test_verify_engine_roundtrip(void **state)
{
    static const uint64_t sizes[] = { 512, 4096, 65536, 1 << 20 };
    struct vgf_verify_opts o = {
        .sizes = sizes, .nsizes = 4, .count = 3, .depth = 4, .seed = 99,
    };
    struct vgf_verify_result r;
    struct sb s;
    struct vg_hyp *feh;
    struct vgf_blk *b;
    uint8_t want[512];

    (void)state;
    sb_init(&s, SB_BLK, SB_OK);
    sb_start(&s);
    b = open_blk(&s, &feh);
    assert_int_equal(vgf_verify_run(b, &o, &r), VGF_VERIFY_OK);
    assert_false(r.mismatch);
    assert_int_equal(r.bytes, 3 * (512 + 4096 + 65536 + (1 << 20)));
    assert_int_equal(r.requests, 2 * 3 * 4);

    /* vgrant-io write: what lands on the disk is the pattern */
    assert_int_equal(vgf_write_pattern(b, 8192, 512, 5, 2, NULL), VGF_VERIFY_OK);
    vgf_pattern_fill(want, 8192, 512, 5);
    assert_memory_equal(s.disk + 8192, want, 512);
    assert_int_equal(vgf_write_pattern(b, 100, 512, 5, 2, NULL), VGF_VERIFY_USAGE);

    /* overlapping explicit offsets are refused before any I/O */
    {
        static const uint64_t offs[] = { 0, 4096 };
        struct vgf_verify_opts bad = o;
        bad.offsets = offs;
        bad.noffsets = 2;
        assert_int_equal(vgf_verify_run(b, &bad, &r), VGF_VERIFY_USAGE);
    }
    vgf_blk_close(b);
    vg_hyp_close(feh);
    sb_fini(&s);
}

/* vgrant-io seqwrite's steps: write n lands at its position (wrapping)
 * with the pattern of seed + n and the cksum dom0 would compute; a write
 * the backend never completes (it closed the device) fails and leaves the
 * block alone, and the same write completes in a new session. */
static void test_seq_write_numbered_blocks_and_reconnect(void **state)
{
    const struct vgf_seq q = { .start = 8192, .block = 4096, .nblocks = 3,
                               .seed = 1000 };
    uint8_t want[4096], before[4096];
    struct sb s;
    struct vg_hyp *feh;
    struct vgf_blk *b;
    uint32_t crc = 0;

    (void)state;
    sb_init(&s, SB_BLK, SB_OK);
    sb_start(&s);
    b = open_blk(&s, &feh);
    for (uint64_t n = 0; n < 5; n++) {
        assert_int_equal(vgf_seq_write(b, &q, n, &crc), VGF_VERIFY_OK);
        assert_int_equal(vgf_seq_offset(&q, n), 8192 + (n % 3) * 4096);
        assert_int_equal(crc, vgf_cksum_finish(vgf_cksum_update(0,
                         s.disk + vgf_seq_offset(&q, n), 4096), 4096));
    }
    /* writes 3 and 4 replaced 0 and 1; write 2 is still there */
    for (uint64_t pos = 0; pos < 3; pos++) {
        uint64_t n = pos == 2 ? 2 : pos + 3;

        vgf_pattern_fill(want, 8192 + pos * 4096, 4096, 1000 + n);
        assert_memory_equal(s.disk + 8192 + pos * 4096, want, 4096);
    }
    assert_int_equal(vgf_pattern_cksum(8192 + 4096, 4096, 1004), crc);

    /* the backend goes away: write 5 fails, its block keeps write 2 */
    memcpy(before, s.disk + vgf_seq_offset(&q, 5), 4096);
    sb_poke(&s, &s.go_closing);
    for (int i = 0; i < 2000 && vg_xs_read_state(s.h, s.be_dir) != VG_XB_CLOSED; i++)
        usleep(1000);
    assert_int_equal(vg_xs_read_state(s.h, s.be_dir), VG_XB_CLOSED);
    assert_int_equal(vgf_seq_write(b, &q, 5, &crc), VGF_VERIFY_FAILED);
    assert_memory_equal(s.disk + vgf_seq_offset(&q, 5), before, 4096);
    vgf_blk_close(b);
    vg_hyp_close(feh);

    /* a new session: write 5 completes */
    b = open_blk(&s, &feh);
    assert_int_equal(vgf_seq_write(b, &q, 5, &crc), VGF_VERIFY_OK);
    vgf_pattern_fill(want, vgf_seq_offset(&q, 5), 4096, 1005);
    assert_memory_equal(s.disk + vgf_seq_offset(&q, 5), want, 4096);

    /* a sequence that cannot be placed is refused before any I/O */
    {
        struct vgf_seq bad = q;
        bad.nblocks = 0;
        assert_int_equal(vgf_seq_write(b, &bad, 0, &crc), VGF_VERIFY_USAGE);
        bad = q;
        bad.block = 1000;
        assert_int_equal(vgf_seq_write(b, &bad, 0, &crc), VGF_VERIFY_USAGE);
    }
    vgf_blk_close(b);
    vg_hyp_close(feh);
    sb_fini(&s);
}

static void test_hostile_backend_corrupts_reads_verify_fails(void **state)
{
    static const uint64_t sizes[] = { 4096 };
    static const uint64_t offs[] = { 512 * 9 };
    struct vgf_verify_opts o = {
        .sizes = sizes, .nsizes = 1, .offsets = offs, .noffsets = 1,
        .depth = 2, .seed = 1,
    };
    struct vgf_verify_result r;
    struct sb s;
    struct vg_hyp *feh;
    struct vgf_blk *b;

    (void)state;
    sb_init(&s, SB_BLK, SB_OK);
    s.corrupt_reads = true;
    sb_start(&s);
    b = open_blk(&s, &feh);
    assert_int_equal(vgf_verify_run(b, &o, &r), VGF_VERIFY_FAILED);
    assert_true(r.mismatch);
    assert_int_equal(r.bad_offset, 512 * 9);
    assert_int_equal(r.bad_size, 4096);
    vgf_blk_close(b);
    vg_hyp_close(feh);
    sb_fini(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blk_read_write_roundtrip),
        cmocka_unit_test(test_blk_async_depth),
        cmocka_unit_test(test_blk_errors_are_reported),
        cmocka_unit_test(test_hostile_backend_blk_status_not_written),
        cmocka_unit_test(test_hostile_backend_blk_bad_config),
        cmocka_unit_test(test_cksum_matches_posix_cksum),
        cmocka_unit_test(test_pattern_depends_on_offset_and_seed),
        cmocka_unit_test(test_verify_engine_roundtrip),
        cmocka_unit_test(test_seq_write_numbered_blocks_and_reconnect),
        cmocka_unit_test(test_hostile_backend_corrupts_reads_verify_fails),
    };

    vg_log_init("test_frontend_blk", VG_LOG_ERR);
    if (getenv("VG_TEST_DEBUG"))
        vg_log_set_level(VG_LOG_DEBUG);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

