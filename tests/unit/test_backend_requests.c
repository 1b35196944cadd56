/* SPDX-License-Identifier: MIT */
/*
 * vgrantd against hostile requests of hand-crafted frontends (twfix.h):
 * addresses and refs it cannot reach, read-only grants written, unknown
 * types, sectors past the end, broken rings, a frontend that vanishes,
 * event storms, floods, a header changed while it is read.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "rawfront.h"
#include "vgdrive.h"
#include "vgrant/log.h"
#include "vgrantd.h"
#include "twfix.h"

/* hostile requests                                                    */

static void test_hostile_address_without_grant_bit(void **state)
{
    struct tw *t = tw_new(0);
    struct rawfront rf;
    struct rf_blk r;
    struct rf_buf b[3];
    uint32_t len;
    char *log;
    (void)state;

    tw_attach_connect(t, &rf, 1, 0, 64, NULL);
    assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_IN, 0, 512, false), 0);
    b[0] = (struct rf_buf){ vg_grant_addr(r.hdr_ref, 0), 16, false };
    /* a guest-physical address: grant bit missing */
    b[1] = (struct rf_buf){ 0x12345000ULL, 512, true };
    b[2] = (struct rf_buf){ vg_grant_addr(r.status_ref, 0), 1, true };
    tw_capture_start();
    r.head = rf_add_chain(&rf, b, 3);
    assert_int_equal(tw_blk_complete(t, &rf, &r, &len), VIRTIO_BLK_S_IOERR);
    log = tw_capture_stop();
    tw_assert_log_has(log, "dom 1 dev 0: buffer 1 address 0x12345000 is not a grant address");
    free(log);
    assert_int_equal(len, 1);

    /* bit 63 set but the ref does not fit 32 bits */
    b[1].addr = VG_GRANT_ADDR_FLAG | (1ULL << 50);
    r.head = rf_add_chain(&rf, b, 3);
    assert_int_equal(tw_blk_complete(t, &rf, &r, NULL), VIRTIO_BLK_S_IOERR);

    /* the device keeps serving */
    assert_int_equal(rf_backend_state(&rf), VG_XB_CONNECTED);
    assert_int_equal(tw_blk_do(t, &rf, &r), VIRTIO_BLK_S_OK);
    assert_int_equal(tw_dev_stats(t, 1, 0).errors, 2);
    assert_int_equal(vg_fake_live_mappings(t->w, 1), 3);
    rf_close(&rf);
    tw_free(t);
}

static void test_hostile_grant_ref_never_granted(void **state)
{
    struct tw *t = tw_new(0);
    struct rawfront rf;
    struct rf_blk r;
    struct rf_buf b[3];
    char *log;
    (void)state;

    tw_attach_connect(t, &rf, 1, 0, 64, NULL);
    assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_OUT, 0, 512, false), 0);
    b[0] = (struct rf_buf){ vg_grant_addr(r.hdr_ref, 0), 16, false };
    b[1] = (struct rf_buf){ vg_grant_addr(77777, 0), 512, false };
    b[2] = (struct rf_buf){ vg_grant_addr(r.status_ref, 0), 1, true };
    tw_capture_start();
    r.head = rf_add_chain(&rf, b, 3);
    assert_int_equal(tw_blk_complete(t, &rf, &r, NULL), VIRTIO_BLK_S_IOERR);
    log = tw_capture_stop();
    tw_assert_log_has(log, "dom 1 dev 0: cannot map read-only grant ref(s)");
    tw_assert_log_has(log, "77777");
    free(log);
    assert_true(tw_sector_is(t->image, 0, 0));

    /* a buffer running past the pages granted: ref+1 was never granted */
    b[1] = (struct rf_buf){ vg_grant_addr(r.data_ref, 0), 4096 + 512, false };
    r.head = rf_add_chain(&rf, b, 3);
    assert_int_equal(tw_blk_complete(t, &rf, &r, NULL), VIRTIO_BLK_S_IOERR);

    /* a revoked grant no longer maps */
    assert_int_equal(rf.h->ops->unshare_pages(rf.h, r.data, 1), 0);
    for (unsigned i = 0; i < RF_MAX_SHARES; i++)
        if (rf.shares[i].addr == r.data)
            rf.shares[i].addr = NULL;
    b[1] = (struct rf_buf){ vg_grant_addr(r.data_ref, 0), 512, false };
    r.head = rf_add_chain(&rf, b, 3);
    assert_int_equal(tw_blk_complete(t, &rf, &r, NULL), VIRTIO_BLK_S_IOERR);

    /* status byte itself never granted: completed with length 0 */
    {
        struct rf_blk r2;
        uint32_t len = 99;
        assert_int_equal(rf_blk_prepare(&rf, &r2, VIRTIO_BLK_T_IN, 0, 512, false), 0);
        b[0] = (struct rf_buf){ vg_grant_addr(r2.hdr_ref, 0), 16, false };
        b[1] = (struct rf_buf){ vg_grant_addr(r2.data_ref, 0), 512, true };
        b[2] = (struct rf_buf){ vg_grant_addr(88888, 0), 1, true };
        r2.head = rf_add_chain(&rf, b, 3);
        assert_int_equal(tw_blk_complete(t, &rf, &r2, &len), 0xff);
        assert_int_equal(len, 0);
    }

    assert_int_equal(rf_backend_state(&rf), VG_XB_CONNECTED);
    assert_int_equal(vg_fake_live_mappings(t->w, 1), 3);
    rf_close(&rf);
    tw_free(t);
}

static void test_hostile_write_into_readonly_grant(void **state)
{
    struct tw *t = tw_new(0);
    struct rawfront rf;
    struct rf_blk r;
    struct rf_buf b[3];
    vg_gref_t ro_status_ref;
    uint8_t *ro_status;
    char *log;
    (void)state;

    tw_attach_connect(t, &rf, 1, 0, 64, NULL);
    /* IN whose data buffer the guest granted read-only */
    assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_IN, 7, 512, true), 0);
    memset(r.data, 0xee, 512);
    tw_capture_start();
    rf_blk_submit(&rf, &r);
    assert_int_equal(tw_blk_complete(t, &rf, &r, NULL), VIRTIO_BLK_S_IOERR);
    log = tw_capture_stop();
    tw_assert_log_has(log, "cannot map writable grant ref(s)");
    free(log);
    assert_int_equal(r.data[0], 0xee);          /* untouched */

    /* even the status byte read-only: nothing written, length 0 */
    ro_status = rf_share(&rf, 1, false, &ro_status_ref);
    assert_non_null(ro_status);
    *ro_status = 0x77;
    b[0] = (struct rf_buf){ vg_grant_addr(r.hdr_ref, 0), 16, false };
    b[1] = (struct rf_buf){ vg_grant_addr(ro_status_ref, 0), 1, true };
    r.head = rf_add_chain(&rf, b, 2);
    r.status = ro_status;
    assert_int_equal(tw_blk_complete(t, &rf, &r, NULL), 0x77);

    /* still alive and serving */
    assert_int_equal(rf_backend_state(&rf), VG_XB_CONNECTED);
    assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_IN, 7, 512, false), 0);
    assert_int_equal(tw_blk_do(t, &rf, &r), VIRTIO_BLK_S_OK);
    assert_int_equal(r.data[0], 7);
    rf_close(&rf);
    tw_free(t);
}

static void test_hostile_unknown_request_type(void **state)
{
    struct tw *t = tw_new(0);
    struct rawfront rf;
    struct rf_blk r;
    (void)state;

    tw_attach_connect(t, &rf, 1, 0, 64, NULL);
    assert_int_equal(rf_blk_prepare(&rf, &r, 77, 0, 0, false), 0);
    assert_int_equal(tw_blk_do(t, &rf, &r), VIRTIO_BLK_S_UNSUPP);
    /* discard / write-zeroes are not offered either */
    r.hdr->type = 11;
    assert_int_equal(tw_blk_do(t, &rf, &r), VIRTIO_BLK_S_UNSUPP);
    /* a header shorter than 16 bytes */
    {
        struct rf_buf b[2] = {
            { vg_grant_addr(r.hdr_ref, 0), 8, false },
            { vg_grant_addr(r.status_ref, 0), 1, true },
        };
        r.head = rf_add_chain(&rf, b, 2);
        assert_int_equal(tw_blk_complete(t, &rf, &r, NULL), VIRTIO_BLK_S_IOERR);
    }
    /* no status byte at all: completed with length 0, nothing crashes */
    {
        struct rf_buf b[1] = { { vg_grant_addr(r.hdr_ref, 0), 16, false } };
        uint32_t len = 5;
        r.head = rf_add_chain(&rf, b, 1);
        *r.status = 0x33;
        assert_int_equal(tw_blk_complete(t, &rf, &r, &len), 0x33);
        assert_int_equal(len, 0);
    }
    /* a flush carrying data, a read with readable data */
    assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_FLUSH, 0, 512, false), 0);
    assert_int_equal(tw_blk_do(t, &rf, &r), VIRTIO_BLK_S_IOERR);
    assert_int_equal(rf_backend_state(&rf), VG_XB_CONNECTED);
    rf_close(&rf);
    tw_free(t);
}

static void test_hostile_sector_past_end(void **state)
{
    struct tw *t = tw_new(0);
    struct rawfront rf;
    struct rf_blk r;
    off_t size = tw_file_size(t->image);
    static const struct { uint64_t sector; uint32_t len; } cases[] = {
        { IMAGE_SECTORS, 512 },              /* first sector past the end */
        { IMAGE_SECTORS - 1, 1024 },         /* straddles the end */
        { UINT64_MAX, 512 },                 /* sector + 1 overflows */
        { UINT64_MAX - 1, 4096 },            /* sector + 8 overflows */
        { 1ULL << 55, 512 },                 /* sector * 512 overflows */
        { 0, 100 },                          /* not a sector multiple */
    };
    (void)state;

    tw_attach_connect(t, &rf, 1, 0, 64, NULL);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_OUT,
                                        cases[i].sector, cases[i].len, false), 0);
        memset(r.data, 0xcc, cases[i].len);
        assert_int_equal(tw_blk_do(t, &rf, &r), VIRTIO_BLK_S_IOERR);
        assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_IN,
                                        cases[i].sector, cases[i].len, false), 0);
        assert_int_equal(tw_blk_do(t, &rf, &r), VIRTIO_BLK_S_IOERR);
    }
    assert_int_equal(tw_file_size(t->image), size);
    assert_true(tw_sector_is(t->image, 0, 0));
    assert_true(tw_sector_is(t->image, IMAGE_SECTORS - 1, IMAGE_SECTORS - 1));
    /* the last sector itself is fine */
    assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_IN, IMAGE_SECTORS - 1,
                                    512, false), 0);
    assert_int_equal(tw_blk_do(t, &rf, &r), VIRTIO_BLK_S_OK);
    assert_int_equal(r.data[511], IMAGE_SECTORS - 1);
    rf_close(&rf);
    tw_free(t);
}

static void test_hostile_readonly_device_write(void **state)
{
    struct tw *t = tw_new(0);
    struct rawfront rf;
    struct rf_blk r;
    struct rf_attach a = { .target = t->image_ro, .readonly = "1" };
    uint64_t features;
    (void)state;

    tw_attach_connect(t, &rf, 1, 0, 64, &a);
    assert_int_equal(vg_xs_read_hex64(rf.h, 0, rf.be_path, VG_KEY_FEATURES,
                                      &features), 0);
    assert_true(features & VG_FEATURE(VIRTIO_BLK_F_RO));
    assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_OUT, 4, 512, false), 0);
    memset(r.data, 0xdd, 512);
    assert_int_equal(tw_blk_do(t, &rf, &r), VIRTIO_BLK_S_IOERR);
    assert_true(tw_sector_is(t->image_ro, 4, 4));
    /* reads and flushes still work */
    assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_IN, 4, 512, false), 0);
    assert_int_equal(tw_blk_do(t, &rf, &r), VIRTIO_BLK_S_OK);
    assert_int_equal(r.data[0], 4);
    assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_FLUSH, 0, 0, false), 0);
    assert_int_equal(tw_blk_do(t, &rf, &r), VIRTIO_BLK_S_OK);
    rf_close(&rf);
    tw_free(t);
}

static void test_hostile_ring_broken_closes_device(void **state)
{
    struct tw *t = tw_new(0);
    struct rawfront a, b;
    struct rf_blk r;
    char *log;
    (void)state;

    tw_attach_connect(t, &a, 1, 0, 64, NULL);
    tw_attach_connect(t, &b, 2, 0, 64, NULL);

    /* A: avail idx jumps far past the queue size */
    tw_capture_start();
    __atomic_store_n(&a.avail->idx, (uint16_t)(a.avail_idx + 5 * 64),
                     __ATOMIC_RELEASE);
    assert_int_equal(rf_kick(&a), 0);
    tw_wait_backend_state(t, &a, VG_XB_CLOSING);
    log = tw_capture_stop();
    tw_assert_log_has(log, "dom 1 dev 0: queue 0 broken");
    tw_assert_log_has(log, "avail index");
    free(log);
    assert_int_equal(vg_fake_live_mappings(t->w, 1), 0);
    assert_int_equal(vg_fake_bound_ports(t->w, 0), 1);   /* B's only */

    /* B keeps working */
    assert_int_equal(rf_blk_prepare(&b, &r, VIRTIO_BLK_T_IN, 9, 512, false), 0);
    assert_int_equal(tw_blk_do(t, &b, &r), VIRTIO_BLK_S_OK);
    assert_int_equal(r.data[0], 9);

    /* a descriptor loop on a fresh A connection closes it too */
    assert_int_equal(rf_set_state(&a, VG_XB_CLOSED), 0);
    tw_wait_backend_state(t, &a, VG_XB_CLOSED);
    rf_close(&a);
    assert_int_equal(rf_open(&a, t->w, 1, 0, 0), 0);
    assert_int_equal(rf_set_state(&a, VG_XB_INITIALISING), 0);
    tw_wait_backend_state(t, &a, VG_XB_INITWAIT);
    assert_int_equal(rf_connect(&a, 64), 0);
    tw_wait_backend_state(t, &a, VG_XB_CONNECTED);
    a.desc[0] = (struct vring_desc){ vg_grant_addr(a.desc_ref, 0), 16,
                                     VRING_DESC_F_NEXT, 1 };
    a.desc[1] = (struct vring_desc){ vg_grant_addr(a.desc_ref, 0), 16,
                                     VRING_DESC_F_NEXT, 0 };
    tw_capture_start();
    rf_publish(&a, 0);
    assert_int_equal(rf_kick(&a), 0);
    tw_wait_backend_state(t, &a, VG_XB_CLOSING);
    log = tw_capture_stop();
    tw_assert_log_has(log, "loop");
    free(log);
    /* head out of range on B's neighbour? no: B still fine */
    assert_int_equal(tw_blk_do(t, &b, &r), VIRTIO_BLK_S_OK);
    assert_int_equal(rf_backend_state(&b), VG_XB_CONNECTED);
    rf_close(&a);
    rf_close(&b);
    tw_free(t);
}

static void test_hostile_frontend_vanishes_mid_request(void **state)
{
    struct tw *t = tw_new(2);
    struct rawfront a, b;
    struct rf_blk ra[16], rb;
    (void)state;

    tw_attach_connect(t, &a, 1, 0, 64, NULL);
    tw_attach_connect(t, &b, 2, 0, 64, NULL);
    for (unsigned i = 0; i < 16; i++) {
        assert_int_equal(rf_blk_prepare(&a, &ra[i], VIRTIO_BLK_T_IN, i, 4096,
                                        false), 0);
        rf_blk_submit(&a, &ra[i]);
    }
    assert_int_equal(rf_kick(&a), 0);
    tw_pump(t, 1);          /* budget 2: some served, most still queued */
    assert_true(tw_dev_stats(t, 1, 0).requests < 16);

    assert_int_equal(vg_fake_domain_destroy(t->w, 1), 0);
    tw_pump(t, 5);
    assert_int_equal(vg_fake_live_mappings(t->w, 1), 0);
    assert_int_equal(tw_dev_stats(t, 1, 0).live_mappings, 0);
    assert_int_equal(tw_dev_stats(t, 1, 0).state, VG_XB_CLOSED);
    assert_int_equal(vg_fake_bound_ports(t->w, 0), 1);   /* B's only */

    assert_int_equal(rf_blk_prepare(&b, &rb, VIRTIO_BLK_T_IN, 5, 512, false), 0);
    assert_int_equal(tw_blk_do(t, &b, &rb), VIRTIO_BLK_S_OK);
    assert_int_equal(rb.data[0], 5);

    /* the toolstack removes the dead guest's backend dir: device freed */
    assert_int_equal(t->ts->ops->xs_rm(t->ts, 0, a.be_path), 0);
    tw_pump(t, 3);
    assert_false(vd_has_dev(t->d, 1, 0));
    rf_close(&a);
    rf_close(&b);
    tw_free(t);
}

static void test_hostile_event_storm(void **state)
{
    enum { BUDGET = 4, NREQ = 64 };
    struct tw *t = tw_new(BUDGET);
    struct rawfront a, b;
    static struct rf_blk ra[NREQ];
    struct rf_blk rb;
    uint32_t id, len;
    unsigned rounds = 0, a_done = 0;
    uint64_t prev;
    (void)state;

    tw_attach_connect(t, &a, 1, 0, 256, NULL);
    tw_attach_connect(t, &b, 2, 0, 64, NULL);
    for (unsigned i = 0; i < NREQ; i++) {
        assert_int_equal(rf_blk_prepare(&a, &ra[i], VIRTIO_BLK_T_IN, i, 512,
                                        false), 0);
        rf_blk_submit(&a, &ra[i]);
    }
    for (unsigned i = 0; i < 100000; i++)
        assert_int_equal(rf_kick(&a), 0);

    assert_int_equal(rf_blk_prepare(&b, &rb, VIRTIO_BLK_T_IN, 77, 512, false), 0);
    rf_blk_submit(&b, &rb);
    assert_int_equal(rf_kick(&b), 0);

    /* B completes within two rounds although A has 64 requests queued */
    while (!rf_get_used(&b, &id, &len)) {
        assert_true(rounds < 2);
        prev = tw_dev_stats(t, 1, 0).requests;
        vd_round(t->d);
        /* A never gets more than one budget per round */
        assert_true(tw_dev_stats(t, 1, 0).requests - prev <= BUDGET);
        rounds++;
    }
    assert_int_equal(*rb.status, VIRTIO_BLK_S_OK);
    assert_int_equal(rb.data[0], 77);
    assert_true(tw_dev_stats(t, 1, 0).requests <= 2 * BUDGET);

    /* A is not starved either: all of its requests complete, one budget
     * per round */
    for (int i = 0; i < 100 && a_done < NREQ; i++) {
        prev = tw_dev_stats(t, 1, 0).requests;
        for (unsigned k = 0; k < 1000; k++)
            rf_kick(&a);
        vd_round(t->d);
        assert_true(tw_dev_stats(t, 1, 0).requests - prev <= BUDGET);
        while (rf_get_used(&a, &id, &len))
            a_done++;
    }
    assert_int_equal(a_done + 0u, NREQ);
    for (unsigned i = 0; i < NREQ; i++) {
        assert_int_equal(*ra[i].status, VIRTIO_BLK_S_OK);
        assert_int_equal(ra[i].data[0], i);
    }
    rf_close(&a);
    rf_close(&b);
    tw_free(t);
}

static void test_hostile_flood_unbounded_work(void **state)
{
    enum { NUM = 8, BUDGET = 3 };
    struct tw *t = tw_new(BUDGET);
    struct rawfront a, c;
    struct rf_blk r[NUM / 2];
    uint32_t id, len;
    char *log;
    (void)state;

    /* sustained flood: the guest keeps its ring full for many rounds */
    tw_attach_connect(t, &c, 3, 0, NUM, NULL);
    assert_int_equal(rf_blk_prepare(&c, &r[0], VIRTIO_BLK_T_FLUSH, 0, 0, false), 0);
    {
        struct rf_buf b[2] = {
            { vg_grant_addr(r[0].hdr_ref, 0), 16, false },
            { vg_grant_addr(r[0].status_ref, 0), 1, true },
        };
        unsigned outstanding = 0;
        uint64_t prev = 0;

        for (int round = 0; round < 300; round++) {
            while (outstanding < NUM) {
                rf_add_chain(&c, b, 1);   /* header-only: 1 desc per chain */
                outstanding++;
            }
            rf_kick(&c);
            vd_round(t->d);
            while (rf_get_used(&c, &id, &len))
                outstanding--;
            struct vgd_dev_stats s = tw_dev_stats(t, 3, 0);
            assert_true(s.in_flight == 0);       /* nothing held between rounds */
            assert_true(s.max_in_flight <= NUM);
            assert_true(s.requests - prev <= BUDGET);
            assert_int_equal(s.live_mappings, 3); /* rings only */
            prev = s.requests;
        }
        assert_int_equal(rf_backend_state(&c), VG_XB_CONNECTED);
        assert_true(tw_dev_stats(t, 3, 0).requests >= 300);
    }

    /* publishing far more avail entries than the queue holds */
    tw_attach_connect(t, &a, 1, 0, NUM, NULL);
    for (unsigned i = 0; i < NUM / 2; i++)
        assert_int_equal(rf_blk_prepare(&a, &r[i], VIRTIO_BLK_T_IN, i, 512,
                                        false), 0);
    for (unsigned i = 0; i < NUM * 100; i++)
        rf_publish(&a, 0);
    tw_capture_start();
    assert_int_equal(rf_kick(&a), 0);
    tw_wait_backend_state(t, &a, VG_XB_CLOSING);
    log = tw_capture_stop();
    tw_assert_log_has(log, "dom 1 dev 0: queue 0 broken");
    free(log);
    {
        struct vgd_dev_stats s = tw_dev_stats(t, 1, 0);
        assert_int_equal(s.requests, 0);
        assert_true(s.max_in_flight <= NUM);
        assert_int_equal(s.live_mappings, 0);
    }
    assert_int_equal(vg_fake_live_mappings(t->w, 1), 0);
    rf_close(&a);
    rf_close(&c);
    tw_free(t);
}

/* ---- double fetch ---- */

struct flipper {
    struct virtio_blk_req_hdr *hdr;
    volatile int stop;
    unsigned long flips;
};

static void *flip_thread(void *arg)
{
    struct flipper *f = arg;

    while (!f->stop) {
        /* valid write at sector 2 <-> far past the end, and type OUT <-> IN */
        __atomic_store_n(&f->hdr->sector, (uint64_t)2, __ATOMIC_RELAXED);
        __atomic_store_n(&f->hdr->type, (uint32_t)VIRTIO_BLK_T_OUT, __ATOMIC_RELAXED);
        __atomic_store_n(&f->hdr->sector, (uint64_t)1 << 40, __ATOMIC_RELAXED);
        __atomic_store_n(&f->hdr->type, (uint32_t)VIRTIO_BLK_T_IN, __ATOMIC_RELAXED);
        __atomic_store_n(&f->hdr->sector, (uint64_t)IMAGE_SECTORS, __ATOMIC_RELAXED);
        __atomic_store_n(&f->hdr->type, (uint32_t)VIRTIO_BLK_T_OUT, __ATOMIC_RELAXED);
        f->flips++;
    }
    return NULL;
}

static void test_hostile_double_fetch_blk_header(void **state)
{
    struct tw *t = tw_new(0);
    struct rawfront rf;
    struct rf_blk r;
    struct flipper f = { 0 };
    pthread_t th;
    off_t size = tw_file_size(t->image);
    unsigned ok = 0, ioerr = 0;
    (void)state;

    tw_attach_connect(t, &rf, 1, 0, 64, NULL);
    assert_int_equal(rf_blk_prepare(&rf, &r, VIRTIO_BLK_T_OUT, 2, 512, false), 0);
    memset(r.data, 0xab, 512);
    f.hdr = r.hdr;
    assert_int_equal(pthread_create(&th, NULL, flip_thread, &f), 0);
    for (int i = 0; i < 2000; i++) {
        uint8_t st;

        rf_blk_submit(&rf, &r);
        st = tw_blk_complete(t, &rf, &r, NULL);
        /* every outcome is one a validated copy allows: a write of sector
         * 2 (OK), or a refused request */
        assert_true(st == VIRTIO_BLK_S_OK || st == VIRTIO_BLK_S_IOERR);
        if (st == VIRTIO_BLK_S_OK)
            ok++;
        else
            ioerr++;
    }
    f.stop = 1;
    pthread_join(th, NULL);
    print_message("double fetch: %u ok, %u refused, %lu flips\n", ok, ioerr,
                  f.flips);
    /* no out-of-range pwrite ever happened, no other sector was touched */
    assert_int_equal(tw_file_size(t->image), size);
    for (unsigned s = 0; s < IMAGE_SECTORS; s++)
        if (s != 2)
            assert_true(tw_sector_is(t->image, s, (uint8_t)s));
    assert_true(tw_sector_is(t->image, 2, 2) || tw_sector_is(t->image, 2, 0xab));
    assert_int_equal(rf_backend_state(&rf), VG_XB_CONNECTED);
    rf_close(&rf);
    tw_free(t);
}

/* seg_max and size_max count the guest's descriptors, whatever pieces a
 * transport cuts them into: persistent mode maps page by page, and once
 * counted every page piece against seg_max (so a request of 64 buffers
 * straddling pages was refused) while a 128 KiB buffer, 32 pieces, passed
 * size_max.  Every mode now answers the same. */
static void blk_segments_case(const char *mode)
{
    struct tw *t = tw_new(0);
    struct rf_attach at = { .target = t->image, .mode = mode };
    struct virtio_blk_req_hdr *hdr;
    struct rawfront rf;
    struct rf_blk r = { 0 };
    struct rf_buf b[VG_MAX_QUEUE_SIZE];
    vg_gref_t href, dref, sref;
    uint8_t *hp, *data, *status;
    unsigned k;

    /* 512 sectors, the first 128 with their pattern */
    assert_int_equal(truncate(t->image, 512 * VIRTIO_BLK_SECTOR_SIZE), 0);
    tw_attach_connect(t, &rf, 1, 0, 256, &at);
    hp = rf_share(&rf, 1, false, &href);
    data = rf_share(&rf, 64, true, &dref);
    status = rf_share(&rf, 1, true, &sref);
    assert_non_null(hp);
    assert_non_null(data);
    assert_non_null(status);
    hdr = (struct virtio_blk_req_hdr *)hp;
    r.status = status;

    /* 64 data buffers of 1 KiB, 63 of them straddling two pages (127
     * page pieces): a read of sectors 0-127, served */
    hdr->type = VIRTIO_BLK_T_IN;
    hdr->sector = 0;
    b[0] = (struct rf_buf){ vg_grant_addr(href, 0), 16, false };
    for (k = 0; k < 63; k++)
        b[1 + k] = (struct rf_buf){ vg_grant_addr(dref + k, 3584), 1024, true };
    b[64] = (struct rf_buf){ vg_grant_addr(dref + 63, 1024), 1024, true };
    b[65] = (struct rf_buf){ vg_grant_addr(sref, 0), 1, true };
    *status = 0xee;
    r.head = rf_add_chain(&rf, b, 66);
    assert_int_equal(tw_blk_complete(t, &rf, &r, NULL), VIRTIO_BLK_S_OK);
    for (k = 0; k < 63; k++) {
        assert_int_equal(data[k * 4096 + 3584], 2 * k);
        assert_int_equal(data[(k + 1) * 4096 + 511], 2 * k + 1);
    }
    assert_int_equal(data[63 * 4096 + 1024], 126);
    assert_int_equal(data[63 * 4096 + 2047], 127);

    /* 65 data segments (the first shares the header's buffer): a write
     * refused, nothing written */
    hdr->type = VIRTIO_BLK_T_OUT;
    hdr->sector = 0;
    memset(data, 0xcd, 64 * 4096);
    b[0] = (struct rf_buf){ vg_grant_addr(href, 0), 16 + 512, false };
    for (k = 0; k < 64; k++)
        b[1 + k] = (struct rf_buf){ vg_grant_addr(dref + k, 0), 512, false };
    b[65] = (struct rf_buf){ vg_grant_addr(sref, 0), 1, true };
    r.head = rf_add_chain(&rf, b, 66);
    assert_int_equal(tw_blk_complete(t, &rf, &r, NULL), VIRTIO_BLK_S_IOERR);
    for (unsigned s = 0; s < 66; s++)
        assert_true(tw_sector_is(t->image, s, (uint8_t)s));

    /* one 128 KiB buffer, twice size_max: refused */
    hdr->type = VIRTIO_BLK_T_IN;
    b[0] = (struct rf_buf){ vg_grant_addr(href, 0), 16, false };
    b[1] = (struct rf_buf){ vg_grant_addr(dref, 0), 128 * 1024, true };
    b[2] = (struct rf_buf){ vg_grant_addr(sref, 0), 1, true };
    r.head = rf_add_chain(&rf, b, 3);
    assert_int_equal(tw_blk_complete(t, &rf, &r, NULL), VIRTIO_BLK_S_IOERR);
    /* at size_max, served */
    b[1].len = 64 * 1024;
    r.head = rf_add_chain(&rf, b, 3);
    assert_int_equal(tw_blk_complete(t, &rf, &r, NULL), VIRTIO_BLK_S_OK);
    assert_int_equal(data[0], 0);
    assert_int_equal(data[64 * 1024 - 1], 127);
    assert_int_equal(rf_backend_state(&rf), VG_XB_CONNECTED);
    rf_close(&rf);
    tw_free(t);
}

static void test_hostile_blk_segments_are_descriptors(void **state)
{
    static const char *const modes[] = { "grant", "persistent", "copy",
                                         "auto" };
    (void)state;

    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
        blk_segments_case(modes[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_address_without_grant_bit),
        cmocka_unit_test(test_hostile_grant_ref_never_granted),
        cmocka_unit_test(test_hostile_write_into_readonly_grant),
        cmocka_unit_test(test_hostile_unknown_request_type),
        cmocka_unit_test(test_hostile_sector_past_end),
        cmocka_unit_test(test_hostile_readonly_device_write),
        cmocka_unit_test(test_hostile_ring_broken_closes_device),
        cmocka_unit_test(test_hostile_frontend_vanishes_mid_request),
        cmocka_unit_test(test_hostile_event_storm),
        cmocka_unit_test(test_hostile_flood_unbounded_work),
        cmocka_unit_test(test_hostile_double_fetch_blk_header),
        cmocka_unit_test(test_hostile_blk_segments_are_descriptors),
    };

    vg_log_init("test_backend_requests", VG_LOG_INFO);
    vd_on_fail = tw_capture_abort;
    return cmocka_run_group_tests(tests, NULL, NULL);
}

