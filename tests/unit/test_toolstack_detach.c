/* SPDX-License-Identifier: MIT */
/*
 * The toolstack's detach (with a backend that closes, without one, after
 * the guest died, forged ids) and list (common/toolstack.c,
 * toolstack_list.c) on the fake world (tsfix.h).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vgrant/hyp.h"
#include "vgrant/log.h"
#include "vgrant/protocol.h"
#include "vgrant/toolstack.h"
#include "vgrant/xsutil.h"

#include "speccheck.h"
#include "tsfix.h"

/* ------------------------------------------------------------------ */
/* detach                                                              */
/* ------------------------------------------------------------------ */

/* A minimal backend in dom0: waits for online=0 on one device, then goes
 * Closing and Closed as protocol.h "Removal" asks. */
struct coop_backend {
    struct vg_hyp *h;
    char dir[VG_XS_PATH_MAX];
    bool closed;
    bool stop;
    pthread_mutex_t lock;
};

static bool coop_should_stop(struct coop_backend *b)
{
    bool stop;

    pthread_mutex_lock(&b->lock);
    stop = b->stop;
    pthread_mutex_unlock(&b->lock);
    return stop;
}

static void *coop_backend_main(void *arg)
{
    struct coop_backend *b = arg;
    char online[VG_XS_PATH_MAX + 16], path[VG_XS_PATH_MAX], token[32];

    snprintf(online, sizeof(online), "%s/online", b->dir);
    if (b->h->ops->xs_watch(b->h, online, "coop"))
        return NULL;
    /* bounded: 100 s of 50 ms polls at most, never a hung test */
    for (int i = 0; i < 2000 && !coop_should_stop(b); i++) {
        struct pollfd pfd = { .fd = b->h->ops->xs_fd(b->h), .events = POLLIN };
        uint64_t v = 1;

        poll(&pfd, 1, 50);
        while (b->h->ops->xs_next_watch(b->h, path, sizeof(path), token,
                                        sizeof(token)) == 0)
            ;
        if (vg_xs_read_uint(b->h, VG_XS_NO_TX, b->dir, "online", 1, &v) == 0 &&
            v == 0) {
            vg_xs_write_state(b->h, b->dir, VG_XB_CLOSING);
            vg_xs_write_state(b->h, b->dir, VG_XB_CLOSED);
            pthread_mutex_lock(&b->lock);
            b->closed = true;
            pthread_mutex_unlock(&b->lock);
            break;
        }
    }
    b->h->ops->xs_unwatch(b->h, online, "coop");
    return NULL;
}

static void test_detach_with_cooperating_backend(void **state)
{
    struct world *t = *state;
    struct coop_backend b = { .lock = PTHREAD_MUTEX_INITIALIZER };
    char err[512] = "untouched";
    pthread_t thread;

    assert_int_equal(tsf_attach_ok(t, 1, "type=blk,target=/a"), 0);
    assert_int_equal(tsf_attach_ok(t, 1, "type=blk,target=/b"), 1);
    b.h = vg_fake_open(t->w, 0);
    assert_non_null(b.h);
    snprintf(b.dir, sizeof(b.dir), "%s", BE0(1, 0));
    assert_int_equal(pthread_create(&thread, NULL, coop_backend_main, &b), 0);

    /* generous timeout: the backend answers long before */
    assert_int_equal(vg_toolstack_detach(t->dom0, 1, 0, 60000, err,
                                         sizeof(err)), 0);
    assert_string_equal(err, "");
    pthread_mutex_lock(&b.lock);
    b.stop = true;
    pthread_mutex_unlock(&b.lock);
    pthread_join(thread, NULL);
    assert_true(b.closed);

    assert_false(tsf_exists(t, BE0(1, 0)));
    assert_false(tsf_exists(t, FE(1, 0)));
    /* the other device is untouched */
    tsf_assert_key(t->dom0, BE0(1, 1), "online", "1");
    tsf_assert_key(t->dom0, FE(1, 1), "state", "1");
    vg_hyp_close(b.h);

    /* with the last device gone, its per-frontend directory goes too */
    assert_int_equal(vg_toolstack_detach(t->dom0, 1, 1, 0, err,
                                         sizeof(err)), 1);
    assert_false(tsf_exists(t, "/local/domain/0/backend/virtio-grant/1"));
    /* and devid 0 is free again */
    assert_int_equal(tsf_attach_ok(t, 1, "type=blk,target=/c"), 0);
}

static void test_detach_without_backend_times_out(void **state)
{
    struct world *t = *state;
    char err[512] = "";

    assert_int_equal(tsf_attach_ok(t, 1, "type=blk,target=/a"), 0);
    assert_int_equal(vg_toolstack_detach(t->dom0, 1, 0, 200, err,
                                         sizeof(err)), 1);
    assert_non_null(strstr(err, "vgrantd"));
    assert_non_null(strstr(err, "domain 0"));
    assert_non_null(strstr(err, "0.2 s"));
    assert_false(tsf_exists(t, BE0(1, 0)));
    assert_false(tsf_exists(t, FE(1, 0)));
}

/* Nothing to wait for once the guest is gone, however long the timeout. */
static void test_detach_after_frontend_domain_destroyed(void **state)
{
    struct world *t = *state;
    char err[512] = "";

    assert_int_equal(tsf_attach_ok(t, 1, "type=blk,target=/a"), 0);
    assert_int_equal(vg_fake_domain_destroy(t->w, 1), 0);
    assert_int_equal(vg_toolstack_detach(t->dom0, 1, 0, 600000, err,
                                         sizeof(err)), 0);
    assert_false(tsf_exists(t, BE0(1, 0)));
    assert_false(tsf_exists(t, "/local/domain/0/backend/virtio-grant/1"));
}

static void test_detach_unknown_device(void **state)
{
    struct world *t = *state;
    char err[512] = "";

    assert_int_equal(tsf_attach_ok(t, 1, "type=blk,target=/a"), 0);
    errno = 0;
    assert_int_equal(vg_toolstack_detach(t->dom0, 1, 4, 0, err,
                                         sizeof(err)), -1);
    assert_int_equal(errno, ENOENT);
    assert_non_null(strstr(err, "domain 1"));
    assert_non_null(strstr(err, "device 4"));
    assert_int_equal(vg_toolstack_detach(t->dom0, 2, 0, 0, err,
                                         sizeof(err)), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(vg_toolstack_detach(t->dom0, 1, 70000, 0, err,
                                         sizeof(err)), -1);
    assert_int_equal(errno, EINVAL);
    assert_non_null(strstr(err, "70000"));
    tsf_assert_key(t->dom0, BE0(1, 0), "online", "1");
}

/* The guest rewrites backend-id/backend in its frontend directory: detach
 * finds the real backend from the backend directories and leaves the
 * domain the guest named alone. */
static void test_hostile_detach_forged_backend_id(void **state)
{
    struct world *t = *state;
    char err[512] = "";

    assert_int_equal(tsf_attach_ok(t, 1, "type=blk,target=/a"), 0);
    assert_int_equal(tsf_attach_ok(t, 2, "type=blk,target=/b,backend=2"), 0);
    assert_int_equal(tsf_write_as(t->g1, FE(1, 0), "backend-id", "2"), 0);
    assert_int_equal(tsf_write_as(t->g1, FE(1, 0), "backend",
                              "/local/domain/2/backend/virtio-grant/2/0"), 0);
    assert_int_equal(vg_toolstack_detach(t->dom0, 1, 0, 0, err,
                                         sizeof(err)), 1);
    assert_non_null(strstr(err, "domain 0"));
    assert_false(tsf_exists(t, BE0(1, 0)));
    assert_false(tsf_exists(t, FE(1, 0)));
    tsf_assert_key(t->dom0, "/local/domain/2/backend/virtio-grant/2/0", "online",
               "1");
    tsf_assert_key(t->dom0, FE(2, 0), "backend-id", "2");
}

/* ------------------------------------------------------------------ */
/* list                                                                */
/* ------------------------------------------------------------------ */

struct collected {
    struct vg_device_info dev[8];
    unsigned n;
    unsigned stop_after;      /* 0 = never */
};

static int collect(const struct vg_device_info *d, void *arg)
{
    struct collected *c = arg;

    assert_true(c->n < 8);
    c->dev[c->n++] = *d;
    return c->stop_after && c->n >= c->stop_after;
}

static void test_list_reports_devices(void **state)
{
    struct world *t = *state;
    struct collected c = { .n = 0 };
    char err[512] = "";

    assert_int_equal(vg_toolstack_list(t->dom0, -1, collect, &c, err,
                                       sizeof(err)), 0);
    assert_int_equal(c.n, 0);

    tsf_attach_ok(t, 2, "type=blk,target=/two,backend=2,mode=static");
    tsf_attach_ok(t, 1, "type=blk,target=/one-a,readonly=1");
    tsf_attach_ok(t, 1, "type=blk,target=/one-b,mode=persistent,backend=2");
    assert_int_equal(tsf_write_as(t->g1, FE(1, 0), "state", "4"), 0);
    assert_int_equal(tsf_write_as(t->g2,
                              "/local/domain/2/backend/virtio-grant/1/1",
                              "state", "2"), 0);

    assert_int_equal(vg_toolstack_list(t->dom0, -1, collect, &c, err,
                                       sizeof(err)), 3);
    assert_int_equal(c.n, 3);
    /* ordered by frontend, devid */
    assert_int_equal(c.dev[0].frontend_domid, 1);
    assert_int_equal(c.dev[0].devid, 0);
    assert_int_equal(c.dev[0].backend_domid, 0);
    assert_string_equal(c.dev[0].type, "blk");
    assert_string_equal(c.dev[0].mode, "grant");
    assert_string_equal(c.dev[0].target, "/one-a");
    assert_true(c.dev[0].readonly);
    assert_int_equal(c.dev[0].be_state, VG_XB_INITIALISING);
    assert_int_equal(c.dev[0].fe_state, VG_XB_CONNECTED);

    assert_int_equal(c.dev[1].frontend_domid, 1);
    assert_int_equal(c.dev[1].devid, 1);
    assert_int_equal(c.dev[1].backend_domid, 2);
    assert_string_equal(c.dev[1].mode, "persistent");
    assert_false(c.dev[1].readonly);
    assert_int_equal(c.dev[1].be_state, VG_XB_INITWAIT);
    assert_int_equal(c.dev[1].fe_state, VG_XB_INITIALISING);

    assert_int_equal(c.dev[2].frontend_domid, 2);
    assert_int_equal(c.dev[2].devid, 0);
    assert_int_equal(c.dev[2].backend_domid, 2);
    assert_string_equal(c.dev[2].mode, "static");
    assert_string_equal(c.dev[2].target, "/two");

    /* one frontend only */
    c.n = 0;
    assert_int_equal(vg_toolstack_list(t->dom0, 2, collect, &c, err,
                                       sizeof(err)), 1);
    assert_int_equal(c.dev[0].frontend_domid, 2);
    c.n = 0;
    assert_int_equal(vg_toolstack_list(t->dom0, 5, collect, &c, err,
                                       sizeof(err)), 0);
    assert_int_equal(c.n, 0);

    /* the callback can stop the walk */
    c.n = 0;
    c.stop_after = 1;
    errno = 0;
    assert_int_equal(vg_toolstack_list(t->dom0, -1, collect, &c, err,
                                       sizeof(err)), -1);
    assert_int_equal(errno, ECANCELED);
    assert_int_equal(c.n, 1);

    /* a bad filter is refused */
    assert_int_equal(vg_toolstack_list(t->dom0, 70000, collect, &c, err,
                                       sizeof(err)), -1);
    assert_non_null(strstr(err, "70000"));
}

/* A driver domain owns its backend directory and may write anything into
 * it: list shows it bounded and without terminal escapes, and garbage
 * states as Unknown. */
static void test_hostile_list_backend_garbage(void **state)
{
    static const char be[] = "/local/domain/2/backend/virtio-grant/1/0";
    struct world *t = *state;
    struct collected c = { .n = 0 };
    char err[512] = "";
    char long_mode[200];

    tsf_attach_ok(t, 1, "type=blk,target=/a,backend=2");
    memset(long_mode, 'm', sizeof(long_mode) - 1);
    long_mode[sizeof(long_mode) - 1] = '\0';
    assert_int_equal(tsf_write_as(t->g2, be, "target", "/x\x1b[2J\x07y"), 0);
    assert_int_equal(tsf_write_as(t->g2, be, "mode", long_mode), 0);
    assert_int_equal(tsf_write_as(t->g2, be, "state", "4junk"), 0);
    assert_int_equal(tsf_write_as(t->g2, be, "readonly", "7"), 0);
    assert_int_equal(tsf_write_as(t->g2, be, "type", ""), 0);
    /* devid names that are not devids are skipped */
    assert_int_equal(tsf_write_as(t->g2, "/local/domain/2/backend/virtio-grant/1",
                              "evil", "x"), 0);

    assert_int_equal(vg_toolstack_list(t->dom0, -1, collect, &c, err,
                                       sizeof(err)), 1);
    assert_string_equal(c.dev[0].target, "/x?[2J?y");
    assert_int_equal(strlen(c.dev[0].mode), sizeof(c.dev[0].mode) - 1);
    assert_int_equal(c.dev[0].be_state, VG_XB_UNKNOWN);
    assert_false(c.dev[0].readonly);
    assert_string_equal(c.dev[0].type, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define W(f) cmocka_unit_test_setup_teardown(f, tsf_world_setup, tsf_world_teardown)
        W(test_detach_with_cooperating_backend),
        W(test_detach_without_backend_times_out),
        W(test_detach_after_frontend_domain_destroyed),
        W(test_detach_unknown_device),
        W(test_hostile_detach_forged_backend_id),
        W(test_list_reports_devices),
        W(test_hostile_list_backend_garbage),
#undef W
    };

    vg_log_init("test_toolstack_detach", VG_LOG_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

