/* SPDX-License-Identifier: MIT */
/*
 * The virtio-rng device end to end in the fake world: the toolstack's own
 * code attaches it (type=rng[,rate=N]), the real vgrantd core serves it
 * with backend/rng.c, and a hand-crafted guest (rawfront) puts exactly the
 * chains it wants into the ring.  The daemon runs on a fake clock, so the
 * rate limit is checked against time the test controls, not wall time.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "devmodel.h"
#include "libvgrant.h"
#include "logcap.h"
#include "loopfix.h"
#include "rawfront.h"
#include "vgdrive.h"
#include "vgrant/clock.h"
#include "vgrant/devtype.h"
#include "vgrant/log.h"
#include "vgrant/toolstack.h"
#include "vgrantd.h"

#define MAX_ROUNDS 200

/* ------------------------------------------------------------------ */
/* fixture                                                             */

static uint64_t fake_now = 1000000;

static uint64_t fake_clock(void)
{
    return fake_now;
}

struct tw {
    struct vg_fake_world *w;
    struct vg_hyp *be;         /* vgrantd's handle (dom0) */
    struct vg_hyp *ts;         /* the toolstack's handle (dom0) */
    struct vgd *d;
};

static struct tw *tw_new(void)
{
    struct tw *t = calloc(1, sizeof(*t));
    struct vgd_options o = { .clock_ms = fake_clock };

    assert_non_null(t);
    vg_log_init("test_rng", VG_LOG_INFO);
    lc_start();
    fake_now = 1000000;
    t->w = vg_fake_world_new();
    assert_non_null(t->w);
    assert_int_equal(vg_fake_domain_create(t->w, 0), 0);
    t->be = vg_fake_open(t->w, 0);
    t->ts = vg_fake_open(t->w, 0);
    assert_non_null(t->be);
    assert_non_null(t->ts);
    t->d = vgd_new(t->be, &o);
    assert_non_null(t->d);
    assert_int_equal(vgd_start(t->d), 0);
    return t;
}

static void tw_free(struct tw *t)
{
    vgd_free(t->d);
    vg_hyp_close(t->be);
    vg_hyp_close(t->ts);
    vg_fake_world_free(t->w);
    lc_stop();
    free(t);
}

static void pump(struct tw *t, int rounds)
{
    vd_pump(t->d, rounds);
}

static void wait_backend_state(struct tw *t, struct rawfront *rf,
                               enum vg_xenbus_state s)
{
    vd_wait_backend_state(t->d, rf, s);
}

static void ensure_domain(struct tw *t, uint16_t dom)
{
    if (vg_fake_domain_create(t->w, dom))
        assert_int_equal(errno, EEXIST);
}

/* `vgrant attach dom spec` through the toolstack code, then the guest
 * connects one queue of 64. */
static void attach_connect(struct tw *t, struct rawfront *rf, uint16_t dom,
                           const char *spec)
{
    struct vg_attach_spec s;
    char err[512];
    unsigned devid;

    ensure_domain(t, dom);
    if (vg_attach_spec_parse(spec, &s, err, sizeof(err)))
        fail_msg("'%s' rejected: %s", spec, err);
    if (vg_toolstack_attach(t->ts, dom, &s, &devid, err, sizeof(err)))
        fail_msg("attach '%s': %s", spec, err);
    assert_int_equal(rf_open(rf, t->w, dom, devid, 0), 0);
    wait_backend_state(t, rf, VG_XB_INITWAIT);
    vd_connect(t->d, rf, 64);
}

static struct vgd_dev_stats dev_stats(struct tw *t, struct rawfront *rf)
{
    return vd_dev_stats(t->d, rf->domid, rf->devid);
}

/* Kick, then serve up to `rounds` rounds; true with the used length once
 * the chain headed by head completes. */
static bool complete(struct tw *t, struct rawfront *rf, uint16_t head,
                     int rounds, uint32_t *len)
{
    uint32_t id;

    assert_int_equal(rf_kick(rf), 0);
    for (int i = 0; i < rounds; i++) {
        if (rf_get_used(rf, &id, len)) {
            assert_int_equal(id, head);
            return true;
        }
        assert_int_equal(vgd_run_once(t->d, 0), 0);
    }
    if (!rf_get_used(rf, &id, len))
        return false;
    assert_int_equal(id, head);
    return true;
}

static uint32_t must_complete(struct tw *t, struct rawfront *rf,
                              uint16_t head)
{
    uint32_t len = 0;

    if (!complete(t, rf, head, MAX_ROUNDS, &len))
        fail_msg("request %u never completed; log:\n%s", head, lc_buf);
    return len;
}

/* A device-writable buffer of len bytes at offset off of fresh zeroed
 * pages. */
static uint8_t *wbuf(struct rawfront *rf, uint32_t off, uint32_t len,
                     struct rf_buf *b)
{
    vg_gref_t ref;
    uint32_t pages = (off + len + VG_PAGE_SIZE - 1) / VG_PAGE_SIZE;
    uint8_t *p = rf_share(rf, pages ? pages : 1, true, &ref);

    assert_non_null(p);
    *b = (struct rf_buf){ vg_grant_addr(ref + off / VG_PAGE_SIZE,
                                        off % VG_PAGE_SIZE), len, true };
    return p + off;
}

static size_t nonzero(const uint8_t *p, size_t n)
{
    size_t c = 0;

    for (size_t i = 0; i < n; i++)
        c += p[i] != 0;
    return c;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    return nonzero(p, n) == 0;
}

/* ------------------------------------------------------------------ */
/* the device                                                          */

/* The backend publishes a virtio-rng: device id 4, no device feature
 * bits, empty config space, one queue whatever the toolstack asked. */
static void test_rng_device_keys(void **state)
{
    struct tw *t = tw_new();
    struct rawfront rf;
    char path[VG_XS_PATH_MAX + 16];
    unsigned len;
    char *v;
    uint64_t feat;
    struct rf_attach a = { .type = "rng", .queues = "4" };
    (void)state;

    ensure_domain(t, 1);
    assert_int_equal(rf_toolstack_attach(t->ts, 1, 0, 0, &a), 0);
    assert_int_equal(rf_open(&rf, t->w, 1, 0, 0), 0);
    wait_backend_state(t, &rf, VG_XB_INITWAIT);
    assert_int_equal(vg_xs_read_uint(rf.h, 0, rf.be_path, VG_KEY_DEVICE_ID,
                                     UINT32_MAX, &feat), 0);
    assert_int_equal(feat, VIRTIO_ID_RNG);
    assert_int_equal(vg_xs_read_hex64(rf.h, 0, rf.be_path, VG_KEY_FEATURES,
                                      &feat), 0);
    assert_int_equal(feat, VG_FEATURES_REQUIRED |
                           VG_FEATURE(VIRTIO_RING_F_EVENT_IDX));
    snprintf(path, sizeof(path), "%s/%s", rf.be_path, VG_KEY_CONFIG);
    v = rf.h->ops->xs_read(rf.h, 0, path, &len);
    assert_non_null(v);
    assert_string_equal(v, "");
    free(v);
    assert_int_equal(vg_xs_read_uint(rf.h, 0, rf.be_path, VG_KEY_MAX_QUEUES,
                                     8, &feat), 0);
    assert_int_equal(feat, 1);
    lc_assert_has("no rate limit");
    rf_close(&rf);
    tw_free(t);
}

/* Buffers are filled with random bytes; the used length is exactly what
 * was written, nothing past it is touched; a request is capped at 64 KiB
 * (completed short, as the spec allows). */
static void test_rng_fills_buffers_exact_used_length(void **state)
{
    struct tw *t = tw_new();
    struct rawfront rf;
    struct rf_buf b[3];
    uint8_t *p0, *p1, *p2, first[64];
    uint16_t head;
    struct vgd_dev_stats s;
    (void)state;

    attach_connect(t, &rf, 1, "type=rng");

    /* one 64-byte buffer, like Linux's virtio_rng */
    p0 = wbuf(&rf, 0, 64, &b[0]);
    head = rf_add_chain(&rf, b, 1);
    assert_int_equal(must_complete(t, &rf, head), 64);
    assert_true(nonzero(p0, 64) > 32);
    assert_true(all_zero(p0 + 64, VG_PAGE_SIZE - 64));
    memcpy(first, p0, 64);

    /* the same again: different bytes */
    p0 = wbuf(&rf, 0, 64, &b[0]);
    head = rf_add_chain(&rf, b, 1);
    assert_int_equal(must_complete(t, &rf, head), 64);
    assert_memory_not_equal(first, p0, 64);

    /* three buffers, unaligned, one crossing a page: all filled, exact */
    p0 = wbuf(&rf, 100, 100, &b[0]);
    p1 = wbuf(&rf, 4095, 1, &b[1]);
    p2 = wbuf(&rf, 3000, 5000, &b[2]);
    head = rf_add_chain(&rf, b, 3);
    assert_int_equal(must_complete(t, &rf, head), 100 + 1 + 5000);
    assert_true(nonzero(p0, 100) > 50);
    assert_true(all_zero(p0 - 100, 100) && all_zero(p0 + 100, 100));
    assert_true(all_zero(p1 - 4095, 4095));
    assert_true(nonzero(p2, 5000) > 2500);
    assert_true(all_zero(p2 - 3000, 3000));
    assert_true(all_zero(p2 + 5000, 2 * VG_PAGE_SIZE - 8000));

    /* 128 KiB asked: 64 KiB given, the rest untouched */
    p0 = wbuf(&rf, 0, 128 * 1024, &b[0]);
    head = rf_add_chain(&rf, b, 1);
    assert_int_equal(must_complete(t, &rf, head), 64 * 1024);
    assert_true(nonzero(p0, 64 * 1024) > 60000);
    assert_true(all_zero(p0 + 64 * 1024, 64 * 1024));

    s = dev_stats(t, &rf);
    assert_int_equal(s.requests, 4);
    assert_int_equal(s.bytes_written, 64 + 64 + 5101 + 65536);
    assert_int_equal(s.bytes_read, 0);
    assert_int_equal(s.errors, 0);
    assert_int_equal(s.throttled, 0);
    /* grant mode is strict: only the three ring pages stay mapped */
    assert_int_equal(vg_fake_live_mappings(t->w, 1), 3);
    assert_int_equal(rf_backend_state(&rf), VG_XB_CONNECTED);
    rf_close(&rf);
    tw_free(t);
}

/* Every transport mode serves rng (copy and auto bounce, persistent
 * caches): the bytes reach the guest and the used lengths are exact.  A
 * short completion (rate limit) copies back only what was written: the
 * bounce buffer's stale bytes of the previous request never reach the
 * guest. */
static void test_rng_every_grant_mode(void **state)
{
    static const char *const modes[] = { "grant", "copy", "auto",
                                         "persistent" };
    (void)state;

    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        struct tw *t = tw_new();
        struct rawfront rf;
        struct rf_buf b;
        char spec[64];
        uint8_t *p;
        uint16_t head;

        snprintf(spec, sizeof(spec), "type=rng,mode=%s,rate=1000", modes[i]);
        attach_connect(t, &rf, 1, spec);
        p = wbuf(&rf, 8, 300, &b);
        head = rf_add_chain(&rf, &b, 1);
        assert_int_equal(must_complete(t, &rf, head), 300);
        assert_true(nonzero(p, 300) > 200);
        assert_true(all_zero(p + 300, 100));

        /* the rest of the bucket: 700 of 2000 bytes */
        p = wbuf(&rf, 0, 2000, &b);
        head = rf_add_chain(&rf, &b, 1);
        assert_int_equal(must_complete(t, &rf, head), 700);
        assert_true(all_zero(p + 700, 1300));

        /* half a second later: 500 bytes of a 4 KiB buffer, the rest as
         * the guest left it */
        fake_now += 500;
        p = wbuf(&rf, 0, 4096, &b);
        head = rf_add_chain(&rf, &b, 1);
        assert_int_equal(must_complete(t, &rf, head), 500);
        assert_true(nonzero(p, 500) > 400);
        if (!all_zero(p + 500, 4096 - 500))
            fail_msg("mode %s: bytes past the used length were written",
                     modes[i]);
        assert_int_equal(dev_stats(t, &rf).errors, 0);
        assert_int_equal(dev_stats(t, &rf).bytes_written, 1500);
        rf_close(&rf);
        tw_free(t);
    }
}

/* A device-readable buffer in an rng request (wrong direction): the
 * request fails -- used length 0, counted, logged -- nothing is written,
 * and the device keeps serving; so does a request with no writable byte
 * or with more buffers than the device takes.  A broken chain (a loop)
 * closes the device, as for every model. */
static void test_rng_hostile_requests(void **state)
{
    struct tw *t = tw_new();
    struct rawfront rf;
    struct rf_buf b[20];
    uint8_t *w, *r;
    vg_gref_t ref;
    uint16_t head;
    struct vgd_dev_stats s;
    (void)state;

    attach_connect(t, &rf, 1, "type=rng");

    /* readable + writable */
    r = rf_share(&rf, 1, false, &ref);
    assert_non_null(r);
    memset(r, 0x5a, VG_PAGE_SIZE);
    b[0] = (struct rf_buf){ vg_grant_addr(ref, 0), 16, false };
    w = wbuf(&rf, 0, 64, &b[1]);
    lc_clear();
    head = rf_add_chain(&rf, b, 2);
    assert_int_equal(must_complete(t, &rf, head), 0);
    assert_true(all_zero(w, VG_PAGE_SIZE));
    lc_assert_has("dom 1 dev 0:");
    lc_assert_has("device-readable");

    /* readable only */
    head = rf_add_chain(&rf, b, 1);
    assert_int_equal(must_complete(t, &rf, head), 0);

    /* a writable buffer of 0 bytes: nothing to fill */
    b[0] = (struct rf_buf){ vg_grant_addr(ref, 0), 0, true };
    lc_clear();
    head = rf_add_chain(&rf, b, 1);
    assert_int_equal(must_complete(t, &rf, head), 0);
    lc_assert_has("no device-writable byte");

    /* 17 writable buffers: more than the device takes */
    for (unsigned i = 0; i < 17; i++)
        wbuf(&rf, 0, 8, &b[i]);
    head = rf_add_chain(&rf, b, 17);
    assert_int_equal(must_complete(t, &rf, head), 0);

    s = dev_stats(t, &rf);
    assert_int_equal(s.requests, 4);
    assert_int_equal(s.errors, 4);
    assert_int_equal(s.bytes_written, 0);
    assert_int_equal(rf_backend_state(&rf), VG_XB_CONNECTED);
    assert_int_equal(vg_fake_live_mappings(t->w, 1), 3);

    /* still serving */
    w = wbuf(&rf, 0, 32, &b[0]);
    head = rf_add_chain(&rf, b, 1);
    assert_int_equal(must_complete(t, &rf, head), 32);
    assert_true(nonzero(w, 32) > 16);

    /* a descriptor loop breaks the queue: the device closes */
    wbuf(&rf, 0, 8, &b[0]);
    head = rf_add_chain(&rf, b, 1);
    rf.desc[head].flags |= VRING_DESC_F_NEXT;
    rf.desc[head].next = head;
    lc_clear();
    assert_int_equal(rf_kick(&rf), 0);
    wait_backend_state(t, &rf, VG_XB_CLOSING);
    lc_assert_has("loop");
    assert_int_equal(vg_fake_live_mappings(t->w, 1), 0);
    rf_close(&rf);
    tw_free(t);
}

/* A guest that fails every request cannot flood the daemon's log: rng's
 * bad requests go through the daemon's one limiter (log.h), VG_RL_BURST
 * lines per window, each numbered, and the device's close says how many
 * were not logged. */
static void test_rng_hostile_request_flood_rate_limited(void **state)
{
    struct tw *t = tw_new();
    struct rawfront rf;
    struct rf_buf b;
    vg_gref_t ref;
    unsigned lines = 0;
    (void)state;

    attach_connect(t, &rf, 1, "type=rng");
    assert_non_null(rf_share(&rf, 1, false, &ref));
    b = (struct rf_buf){ vg_grant_addr(ref, 0), 16, false };
    lc_clear();
    for (int i = 0; i < 200; i++)
        assert_int_equal(must_complete(t, &rf, rf_add_chain(&rf, &b, 1)), 0);
    assert_int_equal(dev_stats(t, &rf).errors, 200);
    assert_int_equal(rf_backend_state(&rf), VG_XB_CONNECTED);
    for (const char *p = lc_buf; (p = strstr(p, "device-readable")); p++)
        lines++;
    /* VG_RL_BURST per 5 s window (a second one only on a very slow run) */
    assert_true(lines >= VG_RL_BURST && lines <= 2 * VG_RL_BURST);
    lc_assert_has("dom 1 dev 0: rng: request has 1 device-readable buffer(s) "
                  "(16 bytes); virtio-rng requests are device-writable only; "
                  "request failed (bad request #1)");
    rf_close(&rf);
    vgd_free(t->d);     /* closes the model: the summary line */
    t->d = NULL;
    lc_assert_has("dom 1 dev 0: rng: bad requests: suppressed ");
    tw_free(t);
}

/* virtio-rng does its work in the daemon's loop (read(2) of /dev/urandom
 * into the mapped buffers): without a rate key, a guest keeping its ring
 * full of 64 KiB requests got the 4 MiB byte budget meant for transfers
 * that run in io_uring, 4 MiB of urandom per turn of its queue (review of
 * 2026-12-03).  It gets the synchronous budget: 1 MiB, plus the request
 * that crosses it. */
static void test_hostile_rng_sync_work_per_round_bounded(void **state)
{
    enum { REQS = 64, REQ = 65536 };
    struct tw *t = tw_new();
    struct rawfront rf;
    uint64_t bytes = 0, total = 0;
    unsigned got = 0, rounds = 0;
    uint32_t id, len;
    (void)state;

    attach_connect(t, &rf, 1, "type=rng");
    for (unsigned i = 0; i < REQS; i++) {
        vg_gref_t ref;
        struct rf_buf b;

        assert_non_null(rf_share(&rf, REQ / 4096, true, &ref));
        b = (struct rf_buf){ vg_grant_addr(ref, 0), REQ, true };
        rf_add_chain(&rf, &b, 1);
    }
    assert_int_equal(rf_kick(&rf), 0);
    assert_int_equal(vgd_run_once(t->d, 0), 0);
    while (rf_get_used(&rf, &id, &len)) {
        bytes += len;
        got++;
    }
    print_message("first round: %u requests, %llu bytes\n", got,
                  (unsigned long long)bytes);
    assert_true(got > 0);
    assert_true(bytes <= VGD_DEFAULT_BYTE_BUDGET + REQ);
    /* and the rest in the next rounds */
    total = bytes;
    for (; got < REQS && rounds < MAX_ROUNDS; rounds++) {
        assert_int_equal(vgd_run_once(t->d, 0), 0);
        while (rf_get_used(&rf, &id, &len)) {
            total += len;
            got++;
        }
    }
    assert_int_equal(got, REQS);
    assert_int_equal(total, (uint64_t)REQS * REQ);
    rf_close(&rf);
    tw_free(t);
}

/* rate=1000: a full bucket (1000 bytes) at start, then 1 byte per ms of
 * the fake clock.  A request over budget is completed short; one that
 * finds the bucket empty waits -- left in the ring, nothing mapped,
 * other devices served -- until the bucket holds 64 bytes. */
static void test_rng_rate_limit_fake_clock(void **state)
{
    struct tw *t = tw_new();
    struct rawfront rf, other;
    struct rf_buf b, ob;
    uint8_t *p;
    uint16_t head, ohead;
    uint32_t len = 0;
    uint64_t total = 0, start;
    struct vgd_dev_stats s;
    (void)state;

    attach_connect(t, &rf, 1, "type=rng,rate=1000");
    attach_connect(t, &other, 2, "type=rng");
    lc_assert_has("at most 1000 bytes/s");
    start = fake_now;

    /* the full bucket, short */
    p = wbuf(&rf, 0, 4096, &b);
    head = rf_add_chain(&rf, &b, 1);
    assert_int_equal(must_complete(t, &rf, head), 1000);
    assert_true(nonzero(p, 1000) > 900);
    assert_true(all_zero(p + 1000, 4096 - 1000));
    total += 1000;

    /* empty bucket: the next request waits however often we go round */
    p = wbuf(&rf, 0, 4096, &b);
    head = rf_add_chain(&rf, &b, 1);
    assert_false(complete(t, &rf, head, 50, &len));
    s = dev_stats(t, &rf);
    assert_true(s.throttled > 0);
    assert_int_equal(s.in_flight, 0);            /* not even popped */
    assert_int_equal(vg_fake_live_mappings(t->w, 1), 3);   /* rings only */

    /* ... while another device is served at once */
    wbuf(&other, 0, 512, &ob);
    ohead = rf_add_chain(&other, &ob, 1);
    assert_int_equal(must_complete(t, &other, ohead), 512);

    /* 10 ms: 10 bytes, still under the 64 a request waits for */
    fake_now += 10;
    assert_false(complete(t, &rf, head, 20, &len));
    /* a guest kicking in a loop changes nothing */
    for (int i = 0; i < 20; i++) {
        assert_int_equal(rf_kick(&rf), 0);
        pump(t, 1);
    }
    assert_false(complete(t, &rf, head, 1, &len));

    /* 64 ms: exactly the 64 bytes the bucket holds */
    fake_now += 54;
    assert_true(complete(t, &rf, head, 20, &len));
    assert_int_equal(len, 64);
    assert_true(all_zero(p + 64, 4096 - 64));
    total += len;

    /* a long pause refills at most one second's worth */
    fake_now += 5000;
    p = wbuf(&rf, 0, 4096, &b);
    head = rf_add_chain(&rf, &b, 1);
    assert_int_equal(must_complete(t, &rf, head), 1000);
    total += 1000;

    /* sustained: a stream of 512-byte requests over 10 s of fake time
     * gets at most rate * t + one bucket, and never an empty completion */
    uint64_t t0 = fake_now, got = 0;
    unsigned done = 0;
    p = wbuf(&rf, 0, 512, &b);           /* one page, reused */
    for (int step = 0; step < 1000; step++) {
        head = rf_add_chain(&rf, &b, 1);
        while (!complete(t, &rf, head, 2, &len))
            fake_now += 7;
        assert_true(len >= 1 && len <= 512);
        got += len;
        done++;
        if (fake_now - t0 >= 10000)
            break;
    }
    printf("rng rate=1000: %u requests got %llu bytes in %llu ms of fake "
           "time\n", done, (unsigned long long)got,
           (unsigned long long)(fake_now - t0));
    assert_true(done > 10);
    assert_true(got <= (fake_now - t0) * 1000 / 1000 + 1000);
    assert_true(got + 1000 >= (fake_now - t0) * 1000 / 1000);
    total += got;

    s = dev_stats(t, &rf);
    assert_int_equal(s.bytes_written, total);
    assert_int_equal(s.errors, 0);
    assert_true(total <= (fake_now - start) + 2 * 1000);

    /* an idle device with an empty bucket does not wait for anything:
     * no timer, no "throttled", until the guest asks again */
    for (int i = 0; i < 10; i++) {
        fake_now += 1;
        pump(t, 1);
    }
    assert_int_equal(dev_stats(t, &rf).throttled, s.throttled);
    rf_close(&other);
    rf_close(&rf);
    tw_free(t);
}

/* The daemon's loop sleeps until a throttled queue may run again: its
 * epoll timeout comes from the wake time, not a busy loop (real clock). */
static void test_rng_throttled_queue_wakes_on_time(void **state)
{
    struct tw *t = calloc(1, sizeof(*t));
    struct vgd_options o = { 0 };        /* the real clock */
    struct rawfront rf;
    struct rf_buf b;
    uint16_t head;
    uint32_t id, len;
    struct vg_attach_spec s;
    char err[256];
    unsigned devid;
    int rounds = 0;
    (void)state;

    assert_non_null(t);
    vg_log_init("test_rng", VG_LOG_WARN);
    t->w = vg_fake_world_new();
    assert_int_equal(vg_fake_domain_create(t->w, 0), 0);
    assert_int_equal(vg_fake_domain_create(t->w, 1), 0);
    t->be = vg_fake_open(t->w, 0);
    t->ts = vg_fake_open(t->w, 0);
    t->d = vgd_new(t->be, &o);
    assert_non_null(t->d);
    assert_int_equal(vgd_start(t->d), 0);
    assert_int_equal(vg_attach_spec_parse("type=rng,rate=6400", &s, err,
                                          sizeof(err)), 0);
    assert_int_equal(vg_toolstack_attach(t->ts, 1, &s, &devid, err,
                                         sizeof(err)), 0);
    assert_int_equal(rf_open(&rf, t->w, 1, devid, 0), 0);
    for (int i = 0; i < MAX_ROUNDS && rf_backend_state(&rf) != VG_XB_INITWAIT; i++)
        pump(t, 1);
    assert_int_equal(rf_connect(&rf, 16), 0);
    for (int i = 0; i < MAX_ROUNDS && rf_backend_state(&rf) != VG_XB_CONNECTED; i++)
        pump(t, 1);
    assert_int_equal(rf_backend_state(&rf), VG_XB_CONNECTED);

    /* drain the bucket (6400 bytes), then one more: ~10 ms away */
    wbuf(&rf, 0, 8192, &b);
    head = rf_add_chain(&rf, &b, 1);
    assert_int_equal(must_complete(t, &rf, head), 6400);
    wbuf(&rf, 0, 64, &b);
    head = rf_add_chain(&rf, &b, 1);
    assert_int_equal(rf_kick(&rf), 0);
    /* vgd_run_once(-1) must return once the wake time is reached: the
     * deferred queue bounds the wait */
    while (!rf_get_used(&rf, &id, &len)) {
        assert_true(++rounds < 100);
        assert_int_equal(vgd_run_once(t->d, -1), 0);
    }
    assert_int_equal(id, head);
    assert_int_equal(len, 64);
    rf_close(&rf);
    tw_free(t);
}

/* The real frontend library (libvgrant) against the real daemon, on the
 * real clock in a backend thread, as on Xen: the guest reads 48 KiB in
 * 4 KiB requests, four in flight, from a device limited to 32 KiB/s.  The
 * first 32 KiB (the full bucket) come at once, the rest at the rate; no
 * completion is empty, and the bytes differ request to request. */
static void rng_loopback(const char *spec)
{
    enum { TOTAL = 48 * 1024, CHUNK = 4096, DEPTH = 4 };
    struct vgd_options o = { 0 };
    struct loop *l;
    struct vgf_dev *d;
    static uint8_t bufs[DEPTH][CHUNK], out[TOTAL];
    unsigned inflight = 0, requests = 0, shorts = 0, next = 0;
    size_t got = 0, queued = 0;
    double t0, secs;

    l = loop_start_spec("test_rng", spec, &o);
    d = vgf_open(l->guest, l->devid, NULL);
    assert_non_null(d);
    assert_int_equal(vgf_device_id(d), VIRTIO_ID_RNG);
    assert_int_equal(vgf_num_queues(d), 1);
    assert_int_equal(vgf_config_size(d), 0);
    t0 = vg_now_s();
    while (got < TOTAL) {
        void *cookie;
        uint32_t len;

        while (inflight < DEPTH && queued < TOTAL - got) {
            struct vgf_iov in = { bufs[next % DEPTH], CHUNK };

            /* completions come back in order: slot = submission order */
            assert_int_equal(vgf_submit(d, 0, NULL, 0, &in, 1,
                                        (void *)(uintptr_t)(next % DEPTH + 1)),
                             0);
            next++;
            inflight++;
            queued += CHUNK;
        }
        assert_int_equal(vgf_complete(d, 0, &cookie, &len, 10000), 0);
        inflight--;
        queued -= CHUNK;
        requests++;
        assert_true(len >= 1 && len <= CHUNK);
        shorts += len < CHUNK;
        if (len > TOTAL - got)
            len = (uint32_t)(TOTAL - got);
        memcpy(out + got, bufs[(uintptr_t)cookie - 1], len);
        got += len;
    }
    secs = vg_now_s() - t0;
    while (inflight) {
        void *cookie;
        uint32_t len;

        assert_int_equal(vgf_complete(d, 0, &cookie, &len, 10000), 0);
        inflight--;
    }
    printf("rng loopback (%s, mode %s): %zu bytes in %u requests (%u "
           "short) in %.3f s\n", spec, vgf_mode(d), got, requests, shorts,
           secs);
    /* 16 KiB beyond the bucket at 32 KiB/s: half a second at least */
    assert_true(secs >= 0.4);
    assert_true(shorts > 0);
    assert_true(nonzero(out, TOTAL) > TOTAL * 9 / 10);
    for (size_t i = CHUNK; i + CHUNK <= TOTAL; i += CHUNK)
        assert_memory_not_equal(out, out + i, 64);
    vgf_close(d);
    assert_int_equal(vg_fake_live_grants(l->w, LOOP_GUEST), 0);
    loop_stop(l);   /* and nothing of the guest mapped */
}

static void test_rng_libvgrant_loopback(void **state)
{
    (void)state;
    rng_loopback("type=rng,rate=32K");
    /* the static region: every buffer bounced through it */
    rng_loopback("type=rng,rate=32K,mode=static,region=64K");
}

/* Bad backend keys of an rng device (a hand-written or hostile backend
 * directory): refused with a log line naming the device, key and value. */
static void test_rng_hostile_backend_keys(void **state)
{
    struct tw *t = tw_new();
    struct rawfront rf;
    static const struct {
        const char *rate, *expect;
    } cases[] = {
        { "0", "rng: backend key rate '0'" },
        { "1073741825", "rng: backend key rate '1073741825'" },
        { "fast", "rng: backend key rate 'fast'" },
        { "-5", "rng: backend key rate '-5'" },
        { "64K", "rng: backend key rate '64K'" },      /* toolstack form only */
        { " 5", "rng: backend key rate ' 5'" },
        { "", "rng: backend key rate ''" },
    };
    (void)state;

    ensure_domain(t, 1);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct rf_attach a = { .type = "rng", .rate = cases[i].rate };
        char who[32];

        lc_clear();
        assert_int_equal(rf_toolstack_attach(t->ts, 1, (unsigned)i, 0, &a), 0);
        assert_int_equal(rf_open(&rf, t->w, 1, (unsigned)i, 0), 0);
        wait_backend_state(t, &rf, VG_XB_CLOSED);
        snprintf(who, sizeof(who), "dom 1 dev %zu:", i);
        lc_assert_has(who);
        lc_assert_has(cases[i].expect);
        rf_close(&rf);
    }
    /* a good one still comes up */
    struct rf_attach good = { .type = "rng", .rate = "1048576" };
    assert_int_equal(rf_toolstack_attach(t->ts, 1, 40, 0, &good), 0);
    assert_int_equal(rf_open(&rf, t->w, 1, 40, 0), 0);
    wait_backend_state(t, &rf, VG_XB_INITWAIT);
    rf_close(&rf);
    tw_free(t);
}

/* The table of device types and the backend's models agree: every type
 * has a model with the same device id and queue limit, and every key of
 * a type fits the spec. */
static void test_devtypes_match_models(void **state)
{
    (void)state;
    assert_true(vg_ndevtypes >= 2);
    for (unsigned i = 0; i < vg_ndevtypes; i++) {
        const struct vg_devtype *t = vg_devtypes[i];
        const struct vgd_model *m = vgd_model_find(t->name);

        assert_non_null(m);
        assert_string_equal(m->name, t->name);
        assert_int_equal(m->device_id, t->device_id);
        assert_int_equal(m->max_queues, t->max_queues);
        assert_true(t->nkeys <= VG_TKEY_MAX);
        for (unsigned k = 0; k < t->nkeys; k++) {
            assert_true(strlen(t->keys[k].name) <
                        sizeof(((struct vg_spec_tval *)0)->name));
            assert_non_null(t->keys[k].help);
        }
        assert_ptr_equal(vg_devtype_find(t->name, strlen(t->name)), t);
    }
    assert_non_null(vgd_model_find(VG_TYPE_RNG));
    assert_int_equal(vgd_model_find(VG_TYPE_RNG)->device_id, VIRTIO_ID_RNG);
    assert_non_null(vgd_model_find(VG_TYPE_NET));
    assert_int_equal(vgd_model_find(VG_TYPE_NET)->device_id, VIRTIO_ID_NET);
    assert_null(vgd_model_find("console"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng_device_keys),
        cmocka_unit_test(test_rng_fills_buffers_exact_used_length),
        cmocka_unit_test(test_rng_every_grant_mode),
        cmocka_unit_test(test_rng_hostile_requests),
        cmocka_unit_test(test_rng_hostile_request_flood_rate_limited),
        cmocka_unit_test(test_hostile_rng_sync_work_per_round_bounded),
        cmocka_unit_test(test_rng_rate_limit_fake_clock),
        cmocka_unit_test(test_rng_throttled_queue_wakes_on_time),
        cmocka_unit_test(test_rng_libvgrant_loopback),
        cmocka_unit_test(test_rng_hostile_backend_keys),
        cmocka_unit_test(test_devtypes_match_models),
    };

    vd_on_fail = lc_print;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
