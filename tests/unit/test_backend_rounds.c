/* SPDX-License-Identifier: MIT */
/*
 * vgrantd serving a round of requests at once (backend/serve.c,
 * grant_mapper.c vgd_gm_map_round, xport_copy.c copy_map_round): the grant
 * mode maps every request popped together in one batch per protection and
 * unmaps them all before any used entry is pushed, the copy mode copies
 * them in one grant-copy batch each way; a bad ref in one request fails
 * only that one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rawfront.h"
#include "vgdrive.h"
#include "vgrant/log.h"
#include "vgrantd.h"
#include "twfix.h"

#define DEPTH 16u

/* Serve until n used entries arrived; their heads and lengths by head. */
static void collect_used(struct tw *t, struct rawfront *rf, unsigned n,
                         uint32_t *len_by_head)
{
    uint32_t id, len;

    assert_int_equal(rf_kick(rf), 0);
    for (unsigned got = 0, rounds = 0; got < n; rounds++) {
        assert_true(rounds < 64);
        while (rf_get_used(rf, &id, &len)) {
            assert_true(id < 64);
            len_by_head[id] = len;
            got++;
        }
        if (got < n)
            assert_int_equal(vgd_run_once(t->d, 0), 0);
    }
}

/* Publish r's chain with its data buffer naming ref instead of its own
 * (a ref the guest never granted). */
static void submit_with_data_ref(struct rawfront *rf, struct rf_blk *r,
                                 vg_gref_t ref, bool dev_writes)
{
    struct rf_buf b[3] = {
        { vg_grant_addr(r->hdr_ref, 0), 16, false },
        { vg_grant_addr(ref, 0), 512, dev_writes },
        { vg_grant_addr(r->status_ref, 0), 1, true },
    };

    *r->status = 0xff;
    r->head = rf_add_chain(rf, b, 3);
}

/* A round of 8 requests of 512 bytes at sectors first + i: requests bad1
 * and bad2 failed with IOERR and left their buffer (0xee) untouched, every
 * other one read its sector. */
static void check_round_of_8(const struct rf_blk *r, const uint32_t *len,
                             unsigned bad1, unsigned bad2, unsigned first)
{
    for (unsigned i = 0; i < 8; i++) {
        if (i == bad1 || i == bad2) {
            assert_int_equal(*r[i].status, VIRTIO_BLK_S_IOERR);
            assert_int_equal(len[r[i].head], 1);
            assert_int_equal(r[i].data[0], 0xee);    /* untouched */
        } else {
            assert_int_equal(*r[i].status, VIRTIO_BLK_S_OK);
            assert_int_equal(len[r[i].head], 513);
            assert_int_equal(r[i].data[0], first + i);
        }
    }
}

/* DEPTH writes published before one kick are one round: one read-only
 * batch (headers + data) and one writable batch (status bytes) for all of
 * them, unmapped before the used entries appear; the same for reads. */
static void test_round_maps_depth_requests_in_two_batches(void **state)
{
    struct tw *t = tw_new(0);
    struct rawfront rf;
    struct rf_blk r[DEPTH];
    uint32_t len[64];
    struct vgd_dev_stats before, after;
    (void)state;

    tw_attach_connect(t, &rf, 1, 0, 64, NULL);
    before = tw_dev_stats(t, 1, 0);
    for (unsigned i = 0; i < DEPTH; i++) {
        assert_int_equal(rf_blk_prepare(&rf, &r[i], VIRTIO_BLK_T_OUT, i * 8,
                                        4096, false), 0);
        memset(r[i].data, 0xa0 + i, 4096);
        rf_blk_submit(&rf, &r[i]);
    }
    collect_used(t, &rf, DEPTH, len);
    after = tw_dev_stats(t, 1, 0);
    for (unsigned i = 0; i < DEPTH; i++) {
        assert_int_equal(*r[i].status, VIRTIO_BLK_S_OK);
        assert_int_equal(len[r[i].head], 1);
        assert_true(tw_sector_is(t->image, i * 8, 0xa0 + i));
    }
    assert_int_equal(after.requests - before.requests, DEPTH);
    assert_int_equal(after.map_batches - before.map_batches, 2);
    assert_int_equal(after.unmap_batches - before.unmap_batches, 2);
    assert_int_equal(after.maps - before.maps, DEPTH * 3);
    assert_true(after.max_in_flight >= DEPTH);
    assert_int_equal(after.rounds - before.rounds, 1);
    assert_int_equal(after.max_round, DEPTH);
    /* one notification for the whole round at most */
    assert_true(after.notifies_sent - before.notifies_sent <= 1);
    /* nothing of the requests stays mapped: the three ring areas only */
    assert_int_equal(vg_fake_live_mappings(t->w, 1), 3);

    /* reads: header read-only, data + status writable */
    before = after;
    for (unsigned i = 0; i < DEPTH; i++) {
        assert_int_equal(rf_blk_prepare(&rf, &r[i], VIRTIO_BLK_T_IN, i * 8,
                                        512, false), 0);
        rf_blk_submit(&rf, &r[i]);
    }
    collect_used(t, &rf, DEPTH, len);
    after = tw_dev_stats(t, 1, 0);
    for (unsigned i = 0; i < DEPTH; i++) {
        assert_int_equal(*r[i].status, VIRTIO_BLK_S_OK);
        assert_int_equal(len[r[i].head], 513);
        assert_int_equal(r[i].data[0], 0xa0 + i);
        assert_int_equal(r[i].data[511], 0xa0 + i);
    }
    assert_int_equal(after.map_batches - before.map_batches, 2);
    assert_int_equal(after.unmap_batches - before.unmap_batches, 2);
    assert_int_equal(vg_fake_live_mappings(t->w, 1), 3);
    rf_close(&rf);
    tw_free(t);
}

/* A round with one request naming a ref never granted and one writing
 * into a read-only grant: the round's batches are refused, each request is
 * mapped on its own, the two bad ones fail with IOERR, the others complete
 * with their data, and nothing stays mapped. */
static void test_hostile_bad_ref_in_round_fails_only_its_request(void **state)
{
    struct tw *t = tw_new(0);
    struct rawfront rf;
    struct rf_blk r[8];
    uint32_t len[64];
    char *log;
    (void)state;

    tw_attach_connect(t, &rf, 1, 0, 64, NULL);
    tw_capture_start();
    for (unsigned i = 0; i < 8; i++) {
        bool ro_data = i == 5;   /* an IN into a read-only grant */

        assert_int_equal(rf_blk_prepare(&rf, &r[i], VIRTIO_BLK_T_IN, i, 512,
                                        ro_data), 0);
        memset(r[i].data, 0xee, 512);
        if (i == 2)             /* data names a ref never granted */
            submit_with_data_ref(&rf, &r[i], 77777, true);
        else
            rf_blk_submit(&rf, &r[i]);
    }
    collect_used(t, &rf, 8, len);
    log = tw_capture_stop();
    tw_assert_log_has(log, "dom 1 dev 0: cannot map writable grant ref(s) 77777");
    free(log);
    check_round_of_8(r, len, 2, 5, 0);
    assert_int_equal(tw_dev_stats(t, 1, 0).errors, 2);
    assert_int_equal(vg_fake_live_mappings(t->w, 1), 3);
    assert_int_equal(rf_backend_state(&rf), VG_XB_CONNECTED);

    /* the next round, all good again, is one batch per protection */
    {
        struct vgd_dev_stats before = tw_dev_stats(t, 1, 0), after;

        for (unsigned i = 0; i < 4; i++) {
            assert_int_equal(rf_blk_prepare(&rf, &r[i], VIRTIO_BLK_T_IN, i, 512,
                                            false), 0);
            rf_blk_submit(&rf, &r[i]);
        }
        collect_used(t, &rf, 4, len);
        after = tw_dev_stats(t, 1, 0);
        assert_int_equal(after.map_batches - before.map_batches, 2);
        for (unsigned i = 0; i < 4; i++)
            assert_int_equal(*r[i].status, VIRTIO_BLK_S_OK);
    }
    rf_close(&rf);
    tw_free(t);
}

/* A budget smaller than the depth still bounds a round: budget 4 serves
 * 4 requests per daemon round, every one of them completed in the end. */
static void test_round_respects_budget(void **state)
{
    struct tw *t = tw_new(4);
    struct rawfront rf;
    struct rf_blk r[DEPTH];
    uint32_t len[64], id, l;
    (void)state;

    tw_attach_connect(t, &rf, 1, 0, 64, NULL);
    for (unsigned i = 0; i < DEPTH; i++) {
        assert_int_equal(rf_blk_prepare(&rf, &r[i], VIRTIO_BLK_T_IN, i, 512,
                                        false), 0);
        rf_blk_submit(&rf, &r[i]);
    }
    assert_int_equal(rf_kick(&rf), 0);
    assert_int_equal(vgd_run_once(t->d, 0), 0);
    {
        unsigned got = 0;

        while (rf_get_used(&rf, &id, &l))
            got++;
        assert_int_equal(got, 4);
    }
    collect_used(t, &rf, DEPTH - 4, len);
    for (unsigned i = 0; i < DEPTH; i++) {
        assert_int_equal(*r[i].status, VIRTIO_BLK_S_OK);
        assert_int_equal(r[i].data[0], i);
    }
    rf_close(&rf);
    tw_free(t);
}

/* copy mode: a round's device-readable bytes in ONE grant-copy batch and
 * its results back in ONE more; nothing of the guest mapped but rings. */
static void test_copy_round_two_copy_batches(void **state)
{
    struct tw *t = tw_new(0);
    struct rawfront rf;
    struct rf_blk r[DEPTH];
    struct rf_attach a = { .target = t->image, .mode = VG_MODE_COPY };
    uint32_t len[64];
    struct vgd_dev_stats before, after;
    (void)state;

    tw_attach_connect(t, &rf, 1, 0, 64, &a);
    before = tw_dev_stats(t, 1, 0);
    for (unsigned i = 0; i < DEPTH; i++) {
        assert_int_equal(rf_blk_prepare(&rf, &r[i], VIRTIO_BLK_T_OUT, i * 8,
                                        4096, false), 0);
        memset(r[i].data, 0x30 + i, 4096);
        rf_blk_submit(&rf, &r[i]);
    }
    collect_used(t, &rf, DEPTH, len);
    after = tw_dev_stats(t, 1, 0);
    for (unsigned i = 0; i < DEPTH; i++) {
        assert_int_equal(*r[i].status, VIRTIO_BLK_S_OK);
        assert_true(tw_sector_is(t->image, i * 8 + 7, 0x30 + i));
    }
    assert_int_equal(after.copy_batches - before.copy_batches, 2);
    /* in: header + one data page per request; back: the status byte */
    assert_int_equal(after.grant_copies - before.grant_copies, DEPTH * 3);
    assert_int_equal(after.map_batches, before.map_batches);
    assert_int_equal(vg_fake_live_mappings(t->w, 1), 3);

    before = after;
    for (unsigned i = 0; i < DEPTH; i++) {
        assert_int_equal(rf_blk_prepare(&rf, &r[i], VIRTIO_BLK_T_IN, i * 8,
                                        1024, false), 0);
        rf_blk_submit(&rf, &r[i]);
    }
    collect_used(t, &rf, DEPTH, len);
    after = tw_dev_stats(t, 1, 0);
    for (unsigned i = 0; i < DEPTH; i++) {
        assert_int_equal(*r[i].status, VIRTIO_BLK_S_OK);
        assert_int_equal(len[r[i].head], 1025);
        assert_int_equal(r[i].data[0], 0x30 + i);
        assert_int_equal(r[i].data[1023], 0x30 + i);
    }
    assert_int_equal(after.copy_batches - before.copy_batches, 2);
    rf_close(&rf);
    tw_free(t);
}

/* copy mode, hostile: in one round a request whose data ref was never
 * granted (refused on the way in) and an IN into a read-only grant
 * (refused on the way back): each fails alone with IOERR in its status,
 * every other request of the round completes with its own bytes. */
static void test_hostile_copy_round_refused_segment_fails_only_its_request(
    void **state)
{
    struct tw *t = tw_new(0);
    struct rawfront rf;
    struct rf_blk r[8];
    struct rf_attach a = { .target = t->image, .mode = VG_MODE_COPY };
    uint32_t len[64];
    char *log;
    (void)state;

    tw_attach_connect(t, &rf, 1, 0, 64, &a);
    tw_capture_start();
    for (unsigned i = 0; i < 8; i++) {
        uint32_t type = i == 3 ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;

        assert_int_equal(rf_blk_prepare(&rf, &r[i], type, 16 + i, 512,
                                        i == 6), 0);
        memset(r[i].data, 0xee, 512);
        if (i == 3)             /* OUT from a ref never granted */
            submit_with_data_ref(&rf, &r[i], 66666, false);
        else
            rf_blk_submit(&rf, &r[i]);
    }
    collect_used(t, &rf, 8, len);
    log = tw_capture_stop();
    tw_assert_log_has(log, "dom 1 dev 0: copy mode: grant copy from the guest: ref 66666");
    tw_assert_log_has(log, "grant copy to the guest: ref");
    free(log);
    check_round_of_8(r, len, 3, 6, 16);
    assert_true(tw_sector_is(t->image, 19, 19));     /* the OUT wrote nothing */
    assert_int_equal(tw_dev_stats(t, 1, 0).errors, 2);
    assert_int_equal(vg_fake_live_mappings(t->w, 1), 3);
    assert_int_equal(rf_backend_state(&rf), VG_XB_CONNECTED);
    rf_close(&rf);
    tw_free(t);
}

/* auto mode: in one round the small requests share one copy batch each
 * way and the large ones one map batch per protection. */
static void test_auto_round_splits_copy_and_map(void **state)
{
    struct tw *t = tw_new(0);
    struct rawfront rf;
    struct rf_blk r[8];
    struct rf_attach a = { .target = t->image, .mode = VG_MODE_AUTO };
    uint32_t len[64];
    struct vgd_dev_stats before, after;
    (void)state;

    tw_attach_connect(t, &rf, 1, 0, 64, &a);
    before = tw_dev_stats(t, 1, 0);
    for (unsigned i = 0; i < 8; i++) {
        /* even: 512 bytes (copied); odd: 32 KiB (mapped) */
        uint32_t bytes = i % 2 ? 32768 : 512;

        assert_int_equal(rf_blk_prepare(&rf, &r[i], VIRTIO_BLK_T_IN, i * 8,
                                        bytes, false), 0);
        rf_blk_submit(&rf, &r[i]);
    }
    collect_used(t, &rf, 8, len);
    after = tw_dev_stats(t, 1, 0);
    for (unsigned i = 0; i < 8; i++) {
        uint32_t bytes = i % 2 ? 32768 : 512;

        assert_int_equal(*r[i].status, VIRTIO_BLK_S_OK);
        assert_int_equal(len[r[i].head], bytes + 1);
        assert_int_equal(r[i].data[0], i * 8);
        assert_int_equal(r[i].data[bytes - 1], i * 8 + (bytes - 1) / 512);
    }
    assert_int_equal(after.auto_copied - before.auto_copied, 4);
    assert_int_equal(after.auto_mapped - before.auto_mapped, 4);
    assert_int_equal(after.copy_batches - before.copy_batches, 2);
    assert_int_equal(after.map_batches - before.map_batches, 2);
    assert_int_equal(after.unmap_batches - before.unmap_batches, 2);
    assert_int_equal(vg_fake_live_mappings(t->w, 1), 3);
    rf_close(&rf);
    tw_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_maps_depth_requests_in_two_batches),
        cmocka_unit_test(test_hostile_bad_ref_in_round_fails_only_its_request),
        cmocka_unit_test(test_round_respects_budget),
        cmocka_unit_test(test_copy_round_two_copy_batches),
        cmocka_unit_test(test_hostile_copy_round_refused_segment_fails_only_its_request),
        cmocka_unit_test(test_auto_round_splits_copy_and_map),
    };

    vg_log_set_level(VG_LOG_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
