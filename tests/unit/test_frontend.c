/* SPDX-License-Identifier: MIT */
/*
 * libvgrant against a scripted backend in the fake world (sbackend.h):
 * the handshake (and a backend that never answers, refuses or writes
 * garbage keys) and the request path (grants per request, descriptors,
 * sub-page isolation, multi-page rings, argument checks).  Hostile
 * completions: test_frontend_hostile.c; vgrant_blk: test_frontend_blk.c.
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
/* handshake                                                            */
/* ------------------------------------------------------------------ */

static void test_handshake_connects_and_close_cleans_up(void **state)
{
    struct sb s;
    struct vg_hyp *feh;
    struct vgf_dev *d;
    uint64_t v;
    uint8_t cfg[8];

    (void)state;
    sb_init(&s, SB_ECHO, SB_OK);
    sb_start(&s);
    d = sb_open_fe(&s, &feh);

    assert_true(vgf_connected(d));
    assert_int_equal(vgf_device_id(d), 42);
    assert_int_equal(vgf_features(d), VG_FEATURES_REQUIRED |
                     VG_FEATURE(VIRTIO_RING_F_EVENT_IDX));
    assert_int_equal(vgf_queue_size(d), 256);
    assert_string_equal(vgf_mode(d), "grant");
    assert_int_equal(vgf_config_size(d), 24);
    assert_int_equal(vgf_config_read(d, 0, cfg, 8), 0);
    assert_int_equal(cfg[2], (DISK_BYTES / 512) >> 16 & 0xff);
    assert_int_equal(vgf_config_read(d, 20, cfg, 8), -1);
    assert_int_equal(errno, EINVAL);

    /* what the backend reads */
    assert_int_equal(vg_xs_read_hex64(s.h, 0, s.fe_dir, "features", &v), 0);
    assert_int_equal(v, vgf_features(d));
    assert_int_equal(sb_fe_read_uint(&s, "num-queues", &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(vg_xs_read_state(s.h, s.fe_dir), VG_XB_CONNECTED);
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), RING_PAGES);
    assert_int_equal(vg_fake_bound_ports(s.w, FE_DOM), 1);

    vgf_close(d);
    assert_int_equal(vg_xs_read_state(s.h, s.fe_dir), VG_XB_CLOSED);
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), 0);
    assert_int_equal(vg_fake_bound_ports(s.w, FE_DOM), 0);
    assert_int_equal(vg_fake_live_mappings(s.w, FE_DOM), 0);

    /* a second open of the same device works: Closed -> Initialising */
    d = vgf_open(feh, DEVID, &sb_fast_opts);
    assert_non_null(d);
    vgf_close(d);
    vg_hyp_close(feh);
    sb_fini(&s);
}

static void test_open_resets_stale_session(void **state)
{
    struct sb s;
    struct vg_hyp *feh1, *feh2;
    struct vgf_dev *old, *d;
    uint8_t out[64], in[64];
    struct vgf_iov o = { out, 64 }, i = { in, 64 };
    void *cookie;
    uint32_t len;

    (void)state;
    sb_init(&s, SB_ECHO, SB_OK);
    sb_start(&s);
    /* A session some earlier process left Connected ... */
    old = sb_open_fe(&s, &feh1);
    assert_int_equal(vg_xs_read_state(s.h, s.fe_dir), VG_XB_CONNECTED);
    /* ... is closed and restarted by the next open. */
    feh2 = vg_fake_open(s.w, FE_DOM);
    d = vgf_open(feh2, DEVID, &sb_fast_opts);
    assert_non_null(d);
    assert_true(vgf_connected(d));
    sb_fill(out, 64, 4);
    assert_int_equal(vgf_submit(d, 0, &o, 1, &i, 1, NULL), 0);
    assert_int_equal(vgf_complete(d, 0, &cookie, &len, TIMEOUT_MS), 0);
    assert_int_equal(in[63], (uint8_t)~out[63]);
    vgf_close(d);
    /* the old session finds its state Closed and only revokes */
    vgf_close(old);
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), 0);
    assert_int_equal(vg_fake_bound_ports(s.w, FE_DOM), 0);
    vg_hyp_close(feh1);
    vg_hyp_close(feh2);
    sb_fini(&s);
}

static void test_open_missing_device_is_enoent(void **state)
{
    struct sb s;
    struct vg_hyp *feh;

    (void)state;
    sb_init(&s, SB_ECHO, SB_OK);
    feh = vg_fake_open(s.w, FE_DOM);
    assert_null(vgf_open(feh, DEVID + 1, &sb_fast_opts));
    assert_int_equal(errno, ENOENT);
    vg_hyp_close(feh);
    sb_fini(&s);
}

static void test_hostile_backend_never_answers(void **state)
{
    struct vgf_opts o = { .timeout_ms = SHORT_TIMEOUT_MS };
    struct sb s;
    struct vg_hyp *feh;

    (void)state;
    sb_init(&s, SB_ECHO, SB_OK);   /* no thread: state stays 1 */
    feh = vg_fake_open(s.w, FE_DOM);
    assert_null(vgf_open(feh, DEVID, &o));
    assert_int_equal(errno, ETIMEDOUT);
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), 0);
    assert_int_equal(vg_fake_bound_ports(s.w, FE_DOM), 0);

    /* InitWait, but it never connects after we publish */
    sb_put_device_keys(&s);
    sb_xs_put(s.h, s.be_dir, "state", "2");
    assert_null(vgf_open(feh, DEVID, &o));
    assert_int_equal(errno, ETIMEDOUT);
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), 0);
    assert_int_equal(vg_fake_bound_ports(s.w, FE_DOM), 0);
    /* told the backend our keys are void */
    assert_int_equal(vg_xs_read_state(s.h, s.fe_dir), VG_XB_CLOSED);
    vg_hyp_close(feh);
    sb_fini(&s);
}

/* A frontend that gives up after Initialised tells the backend before its
 * grants go: the state is Closed when the first ring page is revoked, so
 * a backend whose map of the revoked refs fails can tell a withdrawal from
 * bad keys (docs/protocol.md "Giving up before Connected"). */
static struct {
    struct sb *s;
    const struct vg_hyp_ops *real;
    unsigned unshares;
    enum vg_xenbus_state state_at_first;
} gu;

static int unshare_seeing_state(struct vg_hyp *h, void *addr, uint32_t count)
{
    if (gu.unshares++ == 0)
        gu.state_at_first = vg_xs_read_state(gu.s->h, gu.s->fe_dir);
    return gu.real->unshare_pages(h, addr, count);
}

static void test_gives_up_closed_before_revoking(void **state)
{
    struct vgf_opts o = { .timeout_ms = SHORT_TIMEOUT_MS };
    struct sb s;
    struct vg_hyp *feh;
    struct vg_hyp_ops ops;

    (void)state;
    sb_init(&s, SB_ECHO, SB_OK);   /* no thread: InitWait, never Connected */
    sb_put_device_keys(&s);
    sb_xs_put(s.h, s.be_dir, "state", "2");
    feh = vg_fake_open(s.w, FE_DOM);
    gu.s = &s;
    gu.real = feh->ops;
    gu.unshares = 0;
    gu.state_at_first = VG_XB_UNKNOWN;
    ops = *feh->ops;
    ops.unshare_pages = unshare_seeing_state;
    feh->ops = &ops;
    assert_null(vgf_open(feh, DEVID, &o));
    assert_int_equal(errno, ETIMEDOUT);
    feh->ops = gu.real;
    assert_true(gu.unshares > 0);
    assert_int_equal(gu.state_at_first, VG_XB_CLOSED);
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), 0);
    assert_int_equal(vg_fake_bound_ports(s.w, FE_DOM), 0);
    vg_hyp_close(feh);
    sb_fini(&s);
}

static void test_hostile_backend_refuses_connection(void **state)
{
    struct sb s;
    struct vg_hyp *feh;

    (void)state;
    sb_init(&s, SB_ECHO, SB_REFUSE);
    sb_start(&s);
    feh = vg_fake_open(s.w, FE_DOM);
    assert_null(vgf_open(feh, DEVID, &sb_fast_opts));
    assert_int_equal(errno, EPROTO);
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), 0);
    assert_int_equal(vg_fake_bound_ports(s.w, FE_DOM), 0);
    vg_hyp_close(feh);
    sb_fini(&s);
}

static void test_hostile_backend_garbage_keys(void **state)
{
    static const struct { const char *key, *value; int err; } cases[] = {
        { "features", "0x1", EPROTO },                   /* no VERSION_1 */
        { "features", "0x100000000", EPROTO },           /* no ACCESS_PLATFORM */
        { "features", "300000000", EPROTO },             /* no 0x */
        { "features", "0x3000000001234567890", EPROTO }, /* > 64 bits */
        { "max-queue-size", "3", EPROTO },
        { "max-queue-size", "96", EPROTO },
        { "max-queue-size", "4096", EPROTO },
        { "max-queue-size", "-256", EPROTO },
        { "max-queues", "0", EPROTO },
        { "max-queues", "9", EPROTO },
        { "device-id", "blk", EPROTO },
        { "config", "zz", EPROTO },
        { "config", "abc", EPROTO },
        { "config", "0x00", EPROTO },
        { "mode", "bogus", EPROTO },
        { "mode", "static", EPROTO },   /* static without a region key */
        { "device-id", "", EPROTO },
    };
    struct vgf_opts o = { .timeout_ms = SHORT_TIMEOUT_MS };
    struct sb s;
    struct vg_hyp *feh;
    char big[2 * VG_MAX_CONFIG_BYTES + 3];

    (void)state;
    sb_init(&s, SB_ECHO, SB_OK);
    feh = vg_fake_open(s.w, FE_DOM);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sb_put_device_keys(&s);
        sb_xs_put(s.h, s.be_dir, cases[i].key, "%s", cases[i].value);
        sb_xs_put(s.h, s.be_dir, "state", "2");
        errno = 0;
        assert_null(vgf_open(feh, DEVID, &o));
        if (errno != cases[i].err)
            fail_msg("%s=%s: errno %d", cases[i].key, cases[i].value, errno);
        assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), 0);
        assert_int_equal(vg_fake_bound_ports(s.w, FE_DOM), 0);
        assert_int_not_equal(vg_xs_read_state(s.h, s.fe_dir), VG_XB_INITIALISED);
    }
    /* config longer than VG_MAX_CONFIG_BYTES */
    sb_put_device_keys(&s);
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    sb_xs_put(s.h, s.be_dir, "config", "%s", big);
    assert_null(vgf_open(feh, DEVID, &o));
    assert_int_equal(errno, EPROTO);
    /* wrong "backend" path in our own directory */
    sb_put_device_keys(&s);
    sb_xs_put(s.h, s.fe_dir, "backend", "/local/domain/0/backend/vbd/1/3");
    assert_null(vgf_open(feh, DEVID, &o));
    assert_int_equal(errno, EPROTO);
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), 0);
    vg_hyp_close(feh);
    sb_fini(&s);
}

/* ------------------------------------------------------------------ */
/* request path                                                         */
/* ------------------------------------------------------------------ */

static void test_echo_roundtrip_revokes_grants(void **state)
{
    struct sb s;
    struct vg_hyp *feh;
    struct vgf_dev *d;
    uint8_t out[3000], in[3000];
    struct vgf_iov o = { out, sizeof(out) }, i = { in, sizeof(in) };
    struct vgf_stats st;
    void *cookie;
    uint32_t len;

    (void)state;
    sb_init(&s, SB_ECHO, SB_OK);
    sb_start(&s);
    d = sb_open_fe(&s, &feh);
    sb_fill(out, sizeof(out), 1);
    for (int round = 0; round < 50; round++) {
        memset(in, 0, sizeof(in));
        assert_int_equal(vgf_submit(d, 0, &o, 1, &i, 1, &s), 0);
        assert_int_equal(vgf_complete(d, 0, &cookie, &len, TIMEOUT_MS), 0);
        assert_ptr_equal(cookie, &s);
        assert_int_equal(len, sizeof(in));
        for (size_t k = 0; k < sizeof(in); k++)
            assert_int_equal(in[k], (uint8_t)~out[k]);
        /* nothing but the rings stays granted */
        assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), RING_PAGES);
    }
    assert_int_equal(vgf_complete(d, 0, &cookie, &len, 0), -1);
    assert_int_equal(errno, ENODATA);
    vgf_get_stats(d, &st);
    assert_int_equal(st.requests, 50);
    assert_int_equal(st.completed, 50);
    assert_int_equal(st.share_calls, 100);
    assert_int_equal(st.pages_shared, 100);
    assert_int_equal(st.bad_completions, 0);
    assert_true(st.kicks + st.kicks_suppressed == 50);
    vgf_close(d);
    vg_hyp_close(feh);
    sb_fini(&s);
}

static void test_many_in_flight_and_queue_full(void **state)
{
    struct sb s;
    struct vg_hyp *feh;
    struct vgf_dev *d;
    static uint8_t out[256][64], in[256][64];
    bool seen[256] = { false };
    void *cookie;
    uint32_t len;
    unsigned n = 0;

    (void)state;
    sb_init(&s, SB_ECHO, SB_HOLD);
    sb_start(&s);
    d = sb_open_fe(&s, &feh);
    /* two descriptors per request: 128 fit a 256 ring */
    for (;;) {
        struct vgf_iov o = { out[n], 64 }, i = { in[n], 64 };
        sb_fill(out[n], 64, n);
        if (vgf_submit(d, 0, &o, 1, &i, 1, &seen[n]))
            break;
        n++;
    }
    assert_int_equal(errno, ENOSPC);
    assert_int_equal(n, 128);
    assert_int_equal(vgf_in_flight(d, 0), 128);
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), RING_PAGES + 2 * 128);
    sb_wait_popped(&s, 128);
    sb_poke(&s, &s.complete_held);
    for (unsigned k = 0; k < n; k++) {
        bool *flag;
        assert_int_equal(vgf_complete(d, 0, &cookie, &len, TIMEOUT_MS), 0);
        flag = cookie;
        assert_false(*flag);
        *flag = true;
        assert_int_equal(len, 64);
        size_t idx = (size_t)(flag - seen);
        for (unsigned b = 0; b < 64; b++)
            assert_int_equal(in[idx][b], (uint8_t)~out[idx][b]);
    }
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), RING_PAGES);
    vgf_close(d);
    vg_hyp_close(feh);
    sb_fini(&s);
}

static void test_multipage_buffer_descriptors(void **state)
{
    struct sb s;
    struct vg_hyp *feh;
    struct vgf_dev *d;
    size_t n = 64 * 1024 + 100;
    uint8_t *out = malloc(n), *in = malloc(n);
    struct vgf_iov o = { out, n }, i = { in, n };
    struct vgf_stats st;
    void *cookie;
    uint32_t len;

    (void)state;
    sb_init(&s, SB_ECHO, SB_OK);
    sb_start(&s);
    d = sb_open_fe(&s, &feh);
    sb_fill(out, n, 3);
    assert_int_equal(vgf_submit(d, 0, &o, 1, &i, 1, NULL), 0);
    assert_int_equal(vgf_complete(d, 0, &cookie, &len, TIMEOUT_MS), 0);
    assert_int_equal(len, n);
    for (size_t k = 0; k < n; k++)
        assert_int_equal(in[k], (uint8_t)~out[k]);
    vgf_get_stats(d, &st);
    /* 17 pages each way, fresh refs come out consecutive in the fake */
    assert_int_equal(st.pages_shared, 34);
    assert_int_equal(st.descriptors, 2);

    /* a segment limit cuts descriptors, the data still arrives whole */
    vgf_set_max_segment(d, 4096);
    assert_int_equal(vgf_submit(d, 0, &o, 1, &i, 1, NULL), 0);
    assert_int_equal(vgf_complete(d, 0, &cookie, &len, TIMEOUT_MS), 0);
    vgf_get_stats(d, &st);
    assert_int_equal(st.descriptors, 2 + 34);
    for (size_t k = 0; k < n; k++)
        assert_int_equal(in[k], (uint8_t)~out[k]);
    assert_int_equal(s.max_chain, 34);
    vgf_close(d);
    vg_hyp_close(feh);
    sb_fini(&s);
    free(out);
    free(in);
}

static void test_frontend_subpage_buffer_isolation(void **state)
{
    struct sb s;
    struct vg_hyp *feh;
    struct vgf_dev *d;
    uint8_t *mem = malloc(3 * VG_PAGE_SIZE);
    uint8_t *out, *in;
    struct vgf_iov o, i;
    void *cookie;
    uint32_t len;

    (void)state;
    sb_init(&s, SB_ECHO, SB_OK);
    sb_start(&s);
    d = sb_open_fe(&s, &feh);
    /* secrets all around two 512-byte buffers at odd addresses */
    memset(mem, 0xA5, 3 * VG_PAGE_SIZE);
    out = mem + 1000 + 3;
    in = mem + 2 * VG_PAGE_SIZE - 300;   /* crosses a page boundary */
    sb_fill(out, 512, 9);
    o = (struct vgf_iov){ out, 512 };
    i = (struct vgf_iov){ in, 512 };
    assert_int_equal(vgf_submit(d, 0, &o, 1, &i, 1, NULL), 0);
    assert_int_equal(vgf_complete(d, 0, &cookie, &len, TIMEOUT_MS), 0);

    pthread_mutex_lock(&s.lock);
    assert_int_equal(s.nrec, 2);
    for (unsigned r = 0; r < 2; r++) {
        const struct sb_record *rec = &s.rec[r];
        assert_int_equal(rec->len, 512);
        assert_int_equal(vg_grant_addr_offset(rec->addr), 0);
        assert_int_equal(rec->write, r == 1);
        /* the page the backend could map: the request's data, then zeros */
        for (unsigned b = 0; b < VG_PAGE_SIZE; b++) {
            if (r == 0 && b < 512)
                assert_int_equal(rec->page[b], out[b]);
            else
                assert_int_equal(rec->page[b], 0);
        }
    }
    pthread_mutex_unlock(&s.lock);
    /* the secrets around the in buffer are intact */
    assert_int_equal(in[-1], 0xA5);
    assert_int_equal(in[512], 0xA5);
    assert_int_equal(in[0], (uint8_t)~out[0]);
    vgf_close(d);
    vg_hyp_close(feh);
    sb_fini(&s);
    free(mem);
}

static void echo_check(struct vgf_dev *d, unsigned rounds)
{
    uint8_t out[5000], in[5000];
    struct vgf_iov o = { out, sizeof(out) }, i = { in, sizeof(in) };
    void *cookie;
    uint32_t len;

    for (unsigned r = 0; r < rounds; r++) {
        sb_fill(out, sizeof(out), r);
        assert_int_equal(vgf_submit(d, 0, &o, 1, &i, 1, NULL), 0);
        assert_int_equal(vgf_complete(d, 0, &cookie, &len, TIMEOUT_MS), 0);
        assert_int_equal(len, sizeof(in));
        assert_int_equal(in[4999], (uint8_t)~out[4999]);
    }
}

static void test_large_queue_uses_multipage_rings(void **state)
{
    struct vgf_opts opts = sb_fast_opts;
    struct sb s;
    struct vg_hyp *feh;
    struct vgf_dev *d;

    (void)state;
    sb_init(&s, SB_ECHO, SB_OK);
    s.max_qsize = 1024;
    sb_start(&s);
    feh = vg_fake_open(s.w, FE_DOM);
    opts.queue_size = 1024;
    d = vgf_open(feh, DEVID, &opts);
    assert_non_null(d);
    assert_int_equal(vgf_queue_size(d), 1024);
    /* desc 4 pages, avail 1, used 3 */
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), 8);
    echo_check(d, 1500);   /* wraps the 1024-entry ring */
    vgf_close(d);
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), 0);
    vg_hyp_close(feh);
    sb_fini(&s);
}

/* share_pages that reports a multi-page share's refs out of order, as a
 * real grant table may hand them out. */
static const struct vg_hyp_ops *real_ops;

static void *scattered_share_pages(struct vg_hyp *h, uint16_t domid,
                                   uint32_t count, vg_gref_t *refs, bool w)
{
    void *p = real_ops->share_pages(h, domid, count, refs, w);

    if (p && count > 1) {
        vg_gref_t t = refs[0];
        refs[0] = refs[1];
        refs[1] = t;
    }
    return p;
}

static void test_scattered_ring_refs_fall_back_to_one_page_queue(void **state)
{
    struct vgf_opts opts = sb_fast_opts;
    struct vg_hyp_ops scattered;
    struct sb s;
    struct vg_hyp *feh;
    struct vgf_dev *d;

    (void)state;
    sb_init(&s, SB_ECHO, SB_OK);
    s.max_qsize = 1024;
    sb_start(&s);
    feh = vg_fake_open(s.w, FE_DOM);
    real_ops = feh->ops;
    scattered = *feh->ops;
    scattered.share_pages = scattered_share_pages;
    feh->ops = &scattered;
    opts.queue_size = 512;
    d = vgf_open(feh, DEVID, &opts);
    feh->ops = real_ops;   /* only the rings were shared through it */
    assert_non_null(d);
    assert_int_equal(vgf_queue_size(d), 256);
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), RING_PAGES);
    echo_check(d, 10);
    vgf_close(d);
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), 0);
    vg_hyp_close(feh);
    sb_fini(&s);
}

static void test_submit_rejects_bad_arguments(void **state)
{
    struct sb s;
    struct vg_hyp *feh;
    struct vgf_dev *d;
    uint8_t buf[16];
    struct vgf_iov ok = { buf, 16 }, zero = { buf, 0 }, null = { NULL, 16 };
    struct vgf_iov many[300];

    (void)state;
    sb_init(&s, SB_ECHO, SB_OK);
    sb_start(&s);
    d = sb_open_fe(&s, &feh);
    assert_int_equal(vgf_submit(d, 1, &ok, 1, NULL, 0, NULL), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(vgf_submit(d, 0, NULL, 0, NULL, 0, NULL), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(vgf_submit(d, 0, &zero, 1, NULL, 0, NULL), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(vgf_submit(d, 0, &null, 1, NULL, 0, NULL), -1);
    assert_int_equal(errno, EINVAL);
    for (int k = 0; k < 300; k++)
        many[k] = ok;
    assert_int_equal(vgf_submit(d, 0, many, 300, NULL, 0, NULL), -1);
    assert_int_equal(errno, E2BIG);
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), RING_PAGES);
    vgf_close(d);
    vg_hyp_close(feh);
    sb_fini(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_connects_and_close_cleans_up),
        cmocka_unit_test(test_open_resets_stale_session),
        cmocka_unit_test(test_open_missing_device_is_enoent),
        cmocka_unit_test(test_hostile_backend_never_answers),
        cmocka_unit_test(test_gives_up_closed_before_revoking),
        cmocka_unit_test(test_hostile_backend_refuses_connection),
        cmocka_unit_test(test_hostile_backend_garbage_keys),
        cmocka_unit_test(test_echo_roundtrip_revokes_grants),
        cmocka_unit_test(test_many_in_flight_and_queue_full),
        cmocka_unit_test(test_multipage_buffer_descriptors),
        cmocka_unit_test(test_frontend_subpage_buffer_isolation),
        cmocka_unit_test(test_large_queue_uses_multipage_rings),
        cmocka_unit_test(test_scattered_ring_refs_fall_back_to_one_page_queue),
        cmocka_unit_test(test_submit_rejects_bad_arguments),
    };

    vg_log_init("test_frontend", VG_LOG_ERR);
    if (getenv("VG_TEST_DEBUG"))
        vg_log_set_level(VG_LOG_DEBUG);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

