/* SPDX-License-Identifier: MIT */
/*
 * libvgrant against a hostile scripted backend (sbackend.h) on the data
 * path: bad used ids and lengths, duplicate completions, a backend that
 * vanishes or whose directory is removed, grant space exhausted, spurious
 * events.  Every outstanding request must fail with EIO, nothing may be
 * written outside the caller's buffers, and no grant may stay behind.
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

/* ------------------------------------------------------------------ */
/* hostile completions                                                  */
/* ------------------------------------------------------------------ */

/* An in buffer with guard bytes on both sides. */
struct guarded {
    uint8_t before[64];
    uint8_t buf[100];
    uint8_t after[4096];
};

static void guarded_init(struct guarded *g)
{
    memset(g, 0xC3, sizeof(*g));
}

static void guarded_check(const struct guarded *g)
{
    for (size_t k = 0; k < sizeof(g->before); k++)
        assert_int_equal(g->before[k], 0xC3);
    for (size_t k = 0; k < sizeof(g->after); k++)
        assert_int_equal(g->after[k], 0xC3);
}

static void expect_device_failed(struct sb *s, struct vgf_dev *d)
{
    struct vgf_stats st;

    assert_false(vgf_connected(d));
    vgf_get_stats(d, &st);
    assert_true(st.bad_completions >= 1);
    assert_int_equal(vg_fake_live_grants(s->w, FE_DOM), 0);
    assert_int_equal(vg_fake_bound_ports(s->w, FE_DOM), 0);
    assert_int_equal(vg_xs_read_state(s->h, s->fe_dir), VG_XB_CLOSING);
}

static void hostile_single(enum sb_hostile mode)
{
    struct sb s;
    struct vg_hyp *feh;
    struct vgf_dev *d;
    struct guarded g;
    uint8_t out[100];
    struct vgf_iov o = { out, sizeof(out) }, i = { g.buf, sizeof(g.buf) };
    void *cookie;
    uint32_t len;

    sb_init(&s, SB_ECHO, mode);
    sb_start(&s);
    d = sb_open_fe(&s, &feh);
    guarded_init(&g);
    sb_fill(out, sizeof(out), 5);
    assert_int_equal(vgf_submit(d, 0, &o, 1, &i, 1, &g), 0);
    assert_int_equal(vgf_complete(d, 0, &cookie, &len, TIMEOUT_MS), -1);
    assert_int_equal(errno, EIO);
    assert_ptr_equal(cookie, &g);
    guarded_check(&g);
    expect_device_failed(&s, d);
    assert_int_equal(vgf_complete(d, 0, &cookie, &len, TIMEOUT_MS), -1);
    assert_int_equal(errno, ENOTCONN);
    assert_null(cookie);
    assert_int_equal(vgf_submit(d, 0, &o, 1, &i, 1, &g), -1);
    assert_int_equal(errno, EIO);
    vgf_close(d);
    assert_int_equal(vg_xs_read_state(s.h, s.fe_dir), VG_XB_CLOSED);
    vg_hyp_close(feh);
    sb_fini(&s);
}

static void test_hostile_backend_bad_used_id(void **state)
{
    (void)state;
    hostile_single(SB_BAD_ID);
}

static void test_hostile_backend_used_len_too_long(void **state)
{
    (void)state;
    hostile_single(SB_LONG_LEN);
}

static void test_hostile_backend_duplicate_completion(void **state)
{
    struct sb s;
    struct vg_hyp *feh;
    struct vgf_dev *d;
    struct guarded a, b;
    uint8_t out[100];
    struct vgf_iov o = { out, sizeof(out) };
    struct vgf_iov ia = { a.buf, sizeof(a.buf) }, ib = { b.buf, sizeof(b.buf) };
    void *cookie;
    uint32_t len;

    (void)state;
    sb_init(&s, SB_ECHO, SB_DUP);
    sb_start(&s);
    d = sb_open_fe(&s, &feh);
    guarded_init(&a);
    guarded_init(&b);
    sb_fill(out, sizeof(out), 6);
    assert_int_equal(vgf_submit(d, 0, &o, 1, &ia, 1, &a), 0);
    assert_int_equal(vgf_submit(d, 0, &o, 1, &ib, 1, &b), 0);
    /* the first completion is genuine */
    assert_int_equal(vgf_complete(d, 0, &cookie, &len, TIMEOUT_MS), 0);
    assert_ptr_equal(cookie, &a);
    assert_int_equal(len, 100);
    assert_int_equal(a.buf[0], (uint8_t)~out[0]);
    /* the duplicate must not complete b */
    assert_int_equal(vgf_complete(d, 0, &cookie, &len, TIMEOUT_MS), -1);
    assert_int_equal(errno, EIO);
    assert_ptr_equal(cookie, &b);
    for (size_t k = 0; k < sizeof(b.buf); k++)
        assert_int_equal(b.buf[k], 0xC3);
    guarded_check(&a);
    guarded_check(&b);
    expect_device_failed(&s, d);
    vgf_close(d);
    vg_hyp_close(feh);
    sb_fini(&s);
}

static void test_hostile_backend_vanishes(void **state)
{
    struct sb s;
    struct vg_hyp *feh;
    struct vgf_dev *d;
    uint8_t out[3][100], in[3][100];
    bool got[3] = { false };
    void *cookie;
    uint32_t len;

    (void)state;
    sb_init(&s, SB_ECHO, SB_HOLD);
    sb_start(&s);
    d = sb_open_fe(&s, &feh);
    for (int k = 0; k < 3; k++) {
        struct vgf_iov o = { out[k], 100 }, i = { in[k], 100 };
        memset(in[k], 0x11, 100);
        assert_int_equal(vgf_submit(d, 0, &o, 1, &i, 1, &got[k]), 0);
    }
    sb_wait_popped(&s, 3);
    sb_poke(&s, &s.go_closing);
    for (int k = 0; k < 3; k++) {
        assert_int_equal(vgf_complete(d, 0, &cookie, &len, TIMEOUT_MS), -1);
        assert_int_equal(errno, EIO);
        assert_non_null(cookie);
        assert_false(*(bool *)cookie);
        *(bool *)cookie = true;
    }
    for (int k = 0; k < 3; k++) {
        assert_true(got[k]);
        assert_int_equal(in[k][0], 0x11);   /* nothing copied back */
    }
    assert_int_equal(vgf_complete(d, 0, &cookie, &len, TIMEOUT_MS), -1);
    assert_int_equal(errno, ENOTCONN);
    assert_false(vgf_connected(d));
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), 0);
    assert_int_equal(vg_fake_bound_ports(s.w, FE_DOM), 0);
    assert_int_equal(vg_xs_read_state(s.h, s.fe_dir), VG_XB_CLOSED);

    /* the backend comes back: reconnect and work again */
    pthread_mutex_lock(&s.lock);
    s.hostile = SB_OK;
    pthread_mutex_unlock(&s.lock);
    assert_int_equal(vgf_reconnect(d), 0);
    assert_true(vgf_connected(d));
    {
        struct vgf_iov o = { out[0], 100 }, i = { in[0], 100 };
        sb_fill(out[0], 100, 8);
        assert_int_equal(vgf_submit(d, 0, &o, 1, &i, 1, NULL), 0);
        assert_int_equal(vgf_complete(d, 0, &cookie, &len, TIMEOUT_MS), 0);
        assert_int_equal(in[0][99], (uint8_t)~out[0][99]);
    }
    vgf_close(d);
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), 0);
    vg_hyp_close(feh);
    sb_fini(&s);
}

static void test_hostile_backend_directory_removed(void **state)
{
    struct sb s;
    struct vg_hyp *feh;
    struct vgf_dev *d;
    uint8_t out[100], in[100];
    struct vgf_iov o = { out, 100 }, i = { in, 100 };
    void *cookie;
    uint32_t len;

    (void)state;
    sb_init(&s, SB_ECHO, SB_HOLD);
    sb_start(&s);
    d = sb_open_fe(&s, &feh);
    assert_int_equal(vgf_submit(d, 0, &o, 1, &i, 1, &s), 0);
    sb_wait_popped(&s, 1);
    pthread_mutex_lock(&s.lock);
    assert_int_equal(s.h->ops->xs_rm(s.h, VG_XS_NO_TX, s.be_dir), 0);
    pthread_mutex_unlock(&s.lock);
    assert_int_equal(vgf_complete(d, 0, &cookie, &len, TIMEOUT_MS), -1);
    assert_int_equal(errno, EIO);
    assert_ptr_equal(cookie, &s);
    assert_false(vgf_connected(d));
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), 0);
    vgf_close(d);   /* bounded: the backend state reads as gone */
    vg_hyp_close(feh);
    sb_fini(&s);
}

static bool share_fails;
static const struct vg_hyp_ops *real_ops;   /* the fake's, wrapped */

static void *failing_share_pages(struct vg_hyp *h, uint16_t domid,
                                 uint32_t count, vg_gref_t *refs, bool w)
{
    if (share_fails) {
        errno = ENOSPC;
        return NULL;
    }
    return real_ops->share_pages(h, domid, count, refs, w);
}

static void test_grant_space_exhausted(void **state)
{
    struct vg_hyp_ops failing;
    struct sb s;
    struct vg_hyp *feh;
    struct vgf_dev *d;
    uint8_t out[100], in[100];
    struct vgf_iov o = { out, 100 }, i = { in, 100 };
    struct vgf_stats st;
    void *cookie;
    uint32_t len;

    (void)state;
    sb_init(&s, SB_ECHO, SB_HOLD);
    sb_start(&s);
    d = sb_open_fe(&s, &feh);
    real_ops = feh->ops;
    failing = *feh->ops;
    failing.share_pages = failing_share_pages;
    feh->ops = &failing;

    share_fails = true;
    /* nothing in flight: a real failure */
    assert_int_equal(vgf_submit(d, 0, &o, 1, &i, 1, NULL), -1);
    assert_int_equal(errno, ENOSPC);
    share_fails = false;
    assert_int_equal(vgf_submit(d, 0, &o, 1, &i, 1, &s), 0);
    share_fails = true;
    /* one in flight: completing it frees grant space, so try again */
    assert_int_equal(vgf_submit(d, 0, &o, 1, &i, 1, NULL), -1);
    assert_int_equal(errno, EAGAIN);
    share_fails = false;
    /* the failed submissions left nothing behind */
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), RING_PAGES + 2);
    assert_int_equal(vgf_in_flight(d, 0), 1);
    vgf_get_stats(d, &st);
    assert_int_equal(st.requests, 1);

    sb_poke(&s, &s.complete_held);
    assert_int_equal(vgf_complete(d, 0, &cookie, &len, TIMEOUT_MS), 0);
    assert_ptr_equal(cookie, &s);
    feh->ops = real_ops;
    vgf_close(d);
    vg_hyp_close(feh);
    sb_fini(&s);
}

static void test_frontend_spurious_events(void **state)
{
    struct sb s;
    struct vg_hyp *feh;
    struct vgf_dev *d;
    uint8_t out[100], in[100];
    struct vgf_iov o = { out, 100 }, i = { in, 100 };
    struct vgf_stats st;
    void *cookie;
    uint32_t len;

    (void)state;
    sb_init(&s, SB_ECHO, SB_HOLD);
    sb_start(&s);
    d = sb_open_fe(&s, &feh);
    sb_fill(out, 100, 2);
    memset(in, 0, sizeof(in));
    assert_int_equal(vgf_submit(d, 0, &o, 1, &i, 1, &s), 0);
    sb_wait_popped(&s, 1);
    for (int round = 0; round < 5; round++) {
        pthread_mutex_lock(&s.lock);
        for (int k = 0; k < 200; k++)
            assert_int_equal(s.h->ops->evtchn_notify(s.h, (vg_port_t)s.port), 0);
        pthread_mutex_unlock(&s.lock);
        assert_int_equal(vgf_complete(d, 0, &cookie, &len, 20), -1);
        assert_int_equal(errno, ETIMEDOUT);
        assert_null(cookie);
    }
    assert_int_equal(in[0], 0);
    vgf_get_stats(d, &st);
    assert_true(st.events >= 1);
    assert_true(st.spurious_events >= 1);
    assert_int_equal(st.completed, 0);
    sb_poke(&s, &s.complete_held);
    assert_int_equal(vgf_complete(d, 0, &cookie, &len, TIMEOUT_MS), 0);
    assert_ptr_equal(cookie, &s);
    assert_int_equal(in[0], (uint8_t)~out[0]);
    vgf_close(d);
    vg_hyp_close(feh);
    sb_fini(&s);
}

/* ------------------------------------------------------------------ */
int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_backend_bad_used_id),
        cmocka_unit_test(test_hostile_backend_used_len_too_long),
        cmocka_unit_test(test_hostile_backend_duplicate_completion),
        cmocka_unit_test(test_hostile_backend_vanishes),
        cmocka_unit_test(test_hostile_backend_directory_removed),
        cmocka_unit_test(test_grant_space_exhausted),
        cmocka_unit_test(test_frontend_spurious_events),
    };

    vg_log_init("test_frontend_hostile", VG_LOG_ERR);
    if (getenv("VG_TEST_DEBUG"))
        vg_log_set_level(VG_LOG_DEBUG);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

