/* SPDX-License-Identifier: MIT */
/*
 * The toolstack's attach (common/toolstack.c): keys, permissions, devid
 * allocation, driver domains, hostile guests and specs.  Runs on the fake
 * world with dom0 and guests 1 and 2 (tsfix.h).  Spec parsing:
 * test_toolstack_spec.c; detach and list: test_toolstack_detach.c.
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
/* attach                                                              */
/* ------------------------------------------------------------------ */

static void test_attach_writes_every_key(void **state)
{
    struct world *t = *state;

    assert_int_equal(tsf_attach_ok(t, 1, "type=blk,target=/srv/a.img,readonly=1,"
                               "queues=2,queue-size=128,mode=copy"), 0);
    tsf_assert_key(t->dom0, BE0(1, 0), "frontend", FE(1, 0));
    tsf_assert_key(t->dom0, BE0(1, 0), "frontend-id", "1");
    tsf_assert_key(t->dom0, BE0(1, 0), "online", "1");
    tsf_assert_key(t->dom0, BE0(1, 0), "state", "1");
    tsf_assert_key(t->dom0, BE0(1, 0), "type", "blk");
    tsf_assert_key(t->dom0, BE0(1, 0), "target", "/srv/a.img");
    tsf_assert_key(t->dom0, BE0(1, 0), "readonly", "1");
    tsf_assert_key(t->dom0, BE0(1, 0), "mode", "copy");
    tsf_assert_key(t->dom0, BE0(1, 0), "queues", "2");
    tsf_assert_key(t->dom0, BE0(1, 0), "queue-size", "128");
    /* region only in static mode */
    assert_null(tsf_read_as(t->dom0, BE0(1, 0), "region"));
    assert_int_equal(errno, ENOENT);

    tsf_assert_key(t->dom0, FE(1, 0), "backend", BE0(1, 0));
    tsf_assert_key(t->dom0, FE(1, 0), "backend-id", "0");
    tsf_assert_key(t->dom0, FE(1, 0), "state", "1");
}

static void test_attach_static_writes_region(void **state)
{
    struct world *t = *state;

    assert_int_equal(tsf_attach_ok(t, 1, "type=blk,target=/i,mode=static"), 0);
    tsf_assert_key(t->dom0, BE0(1, 0), "mode", "static");
    tsf_assert_key(t->dom0, BE0(1, 0), "region", "4194304");
    tsf_assert_key(t->dom0, BE0(1, 0), "readonly", "0");
    tsf_assert_key(t->dom0, BE0(1, 0), "queues", "1");
    tsf_assert_key(t->dom0, BE0(1, 0), "queue-size", "256");
}

/* type=rng writes its own keys only: rate when given, never target or
 * readonly. */
static void test_attach_rng_writes_keys(void **state)
{
    struct world *t = *state;

    assert_int_equal(tsf_attach_ok(t, 1, "type=rng,rate=4K"), 0);
    tsf_assert_key(t->dom0, BE0(1, 0), "type", "rng");
    tsf_assert_key(t->dom0, BE0(1, 0), "rate", "4096");
    tsf_assert_key(t->dom0, BE0(1, 0), "mode", "grant");
    tsf_assert_key(t->dom0, BE0(1, 0), "queues", "1");
    assert_null(tsf_read_as(t->dom0, BE0(1, 0), "target"));
    assert_int_equal(errno, ENOENT);
    assert_null(tsf_read_as(t->dom0, BE0(1, 0), "readonly"));
    assert_int_equal(errno, ENOENT);
    tsf_assert_key(t->dom0, FE(1, 0), "backend", BE0(1, 0));

    assert_int_equal(tsf_attach_ok(t, 1, "type=rng"), 1);
    tsf_assert_key(t->dom0, BE0(1, 1), "type", "rng");
    assert_null(tsf_read_as(t->dom0, BE0(1, 1), "rate"));
    assert_int_equal(errno, ENOENT);
}

/* A caller filling an rng spec by hand is held to the type's table. */
static void test_hostile_attach_unparsed_rng_spec(void **state)
{
    struct world *t = *state;
    struct vg_attach_spec s = tsf_spec_of("type=rng");
    char err[512] = "";
    unsigned devid;

    assert_int_equal(vg_spec_set(&s, "target", "/srv/x"), 0);
    errno = 0;
    assert_int_equal(vg_toolstack_attach(t->dom0, 1, &s, &devid, err,
                                         sizeof(err)), -1);
    assert_int_equal(errno, EINVAL);
    assert_non_null(strstr(err, "rng"));
    assert_non_null(strstr(err, "target"));

    s = tsf_spec_of("type=rng");
    assert_int_equal(vg_spec_set(&s, "rate", "0"), 0);
    assert_int_equal(vg_toolstack_attach(t->dom0, 1, &s, &devid, err,
                                         sizeof(err)), -1);
    assert_non_null(strstr(err, "rate '0'"));

    s = tsf_spec_of("type=rng,rate=64K");
    assert_int_equal(vg_spec_set(&s, "rate", "64K"), 0);   /* not canonical */
    assert_int_equal(vg_toolstack_attach(t->dom0, 1, &s, &devid, err,
                                         sizeof(err)), -1);
    assert_non_null(strstr(err, "rate '64K'"));

    s = tsf_spec_of("type=rng");
    s.queues = 2;
    assert_int_equal(vg_toolstack_attach(t->dom0, 1, &s, &devid, err,
                                         sizeof(err)), -1);
    assert_non_null(strstr(err, "queues 2"));

    s = tsf_spec_of("type=blk,target=/i");
    memset(&s.tkeys[0].name, 'n', sizeof(s.tkeys[0].name));  /* no NUL */
    assert_int_equal(vg_toolstack_attach(t->dom0, 1, &s, &devid, err,
                                         sizeof(err)), -1);
    assert_non_null(strstr(err, "blk"));
    s = tsf_spec_of("type=blk,target=/i");
    s.ntkeys = 200;
    assert_int_equal(vg_toolstack_attach(t->dom0, 1, &s, &devid, err,
                                         sizeof(err)), -1);
    s = tsf_spec_of("type=blk,readonly=1,target=/i");
    snprintf(s.tkeys[1].name, sizeof(s.tkeys[1].name), "target");
    assert_int_equal(vg_toolstack_attach(t->dom0, 1, &s, &devid, err,
                                         sizeof(err)), -1);
    assert_non_null(strstr(err, "twice"));
    /* blk without target */
    s = tsf_spec_of("type=blk,target=/i");
    s.ntkeys = 0;
    assert_int_equal(vg_toolstack_attach(t->dom0, 1, &s, &devid, err,
                                         sizeof(err)), -1);
    assert_non_null(strstr(err, "missing target"));
    assert_false(tsf_exists(t, "/local/domain/1/device/virtio-grant"));
}

static void test_attach_permissions(void **state)
{
    static const struct vg_xs_perm be_perms[] = { { 0, VG_XS_PERM_NONE },
                                                  { 1, VG_XS_PERM_READ } };
    static const struct vg_xs_perm fe_perms[] = { { 1, VG_XS_PERM_NONE },
                                                  { 0, VG_XS_PERM_READ } };
    static const char *const be_keys[] = {
        "frontend", "frontend-id", "online", "state", "type", "target",
        "readonly", "mode", "queues", "queue-size",
    };
    static const char *const fe_keys[] = { "backend", "backend-id", "state" };
    struct world *t = *state;
    char *v;

    tsf_attach_ok(t, 1, "type=blk,target=/i");
    tsf_assert_perms(t, BE0(1, 0), be_perms, 2);
    tsf_assert_perms(t, FE(1, 0), fe_perms, 2);
    for (size_t i = 0; i < sizeof(be_keys) / sizeof(be_keys[0]); i++) {
        char path[VG_XS_PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", BE0(1, 0), be_keys[i]);
        tsf_assert_perms(t, path, be_perms, 2);
    }
    for (size_t i = 0; i < sizeof(fe_keys) / sizeof(fe_keys[0]); i++) {
        char path[VG_XS_PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", FE(1, 0), fe_keys[i]);
        tsf_assert_perms(t, path, fe_perms, 2);
    }

    /* the guest drives its frontend and reads the backend */
    assert_int_equal(tsf_write_as(t->g1, FE(1, 0), "state", "3"), 0);
    assert_int_equal(tsf_write_as(t->g1, FE(1, 0), "features", "0x300000000"), 0);
    tsf_assert_key(t->g1, BE0(1, 0), "target", "/i");
    tsf_assert_key(t->g1, BE0(1, 0), "state", "1");
    tsf_assert_key(t->dom0, FE(1, 0), "state", "3");

    /* ... and cannot touch the backend directory */
    assert_int_equal(tsf_write_as(t->g1, BE0(1, 0), "state", "4"), -1);
    assert_int_equal(errno, EACCES);
    assert_int_equal(tsf_write_as(t->g1, BE0(1, 0), "target", "/etc/shadow"), -1);
    assert_int_equal(tsf_write_as(t->g1, BE0(1, 0), "device-id", "2"), -1);
    assert_int_equal(t->g1->ops->xs_rm(t->g1, VG_XS_NO_TX, BE0(1, 0)), -1);
    tsf_assert_key(t->dom0, BE0(1, 0), "state", "1");
    tsf_assert_key(t->dom0, BE0(1, 0), "target", "/i");

    /* a third domain sees neither directory */
    v = tsf_read_as(t->g2, BE0(1, 0), "target");
    assert_null(v);
    v = tsf_read_as(t->g2, BE0(1, 0), NULL);
    assert_null(v);
    v = tsf_read_as(t->g2, FE(1, 0), "state");
    assert_null(v);
    v = tsf_read_as(t->g2, FE(1, 0), NULL);
    assert_null(v);
    assert_int_equal(tsf_write_as(t->g2, FE(1, 0), "state", "6"), -1);
    assert_int_equal(tsf_write_as(t->g2, BE0(1, 0), "online", "0"), -1);
    tsf_assert_key(t->dom0, FE(1, 0), "state", "3");
    tsf_assert_key(t->dom0, BE0(1, 0), "online", "1");
}

/* Backend in driver domain 2 for guest 1: domain 2 owns the backend
 * directory and the directories above it it needs to watch and clean. */
static void test_attach_driver_domain_backend(void **state)
{
    static const struct vg_xs_perm be_perms[] = { { 2, VG_XS_PERM_NONE },
                                                  { 1, VG_XS_PERM_READ } };
    static const char be[] = "/local/domain/2/backend/virtio-grant/1/0";
    struct world *t = *state;
    unsigned n = 0;
    char **names;

    assert_int_equal(tsf_attach_ok(t, 1, "type=blk,target=/i,backend=2"), 0);
    tsf_assert_perms(t, be, be_perms, 2);
    tsf_assert_key(t->dom0, FE(1, 0), "backend", be);
    tsf_assert_key(t->dom0, FE(1, 0), "backend-id", "2");
    tsf_assert_key(t->g2, FE(1, 0), "state", "1");
    tsf_assert_key(t->g1, be, "frontend-id", "1");

    /* the driver domain runs the state machine and can list its devices */
    assert_int_equal(tsf_write_as(t->g2, be, "state", "2"), 0);
    assert_int_equal(tsf_write_as(t->g2, be, "device-id", "2"), 0);
    names = t->g2->ops->xs_directory(t->g2, VG_XS_NO_TX,
                                     "/local/domain/2/backend/virtio-grant",
                                     &n);
    assert_non_null(names);
    assert_int_equal(n, 1);
    assert_string_equal(names[0], "1");
    free(names);
    /* the guest cannot write its backend, nor the frontend of dom0's */
    assert_int_equal(tsf_write_as(t->g1, be, "state", "4"), -1);
    assert_int_equal(tsf_write_as(t->g2, FE(1, 0), "state", "4"), -1);
    /* nothing landed in dom0's backend tree */
    assert_false(tsf_exists(t, "/local/domain/0/backend/virtio-grant/1"));
}

/* Frontend and backend in the same domain (a userspace frontend in dom0
 * against vgrantd in dom0): one owner, nobody else. */
static void test_attach_loopback_in_dom0(void **state)
{
    static const struct vg_xs_perm only_dom0[] = { { 0, VG_XS_PERM_NONE } };
    struct world *t = *state;

    assert_int_equal(tsf_attach_ok(t, 0, "type=blk,target=/i"), 0);
    tsf_assert_perms(t, BE0(0, 0), only_dom0, 1);
    tsf_assert_perms(t, FE(0, 0), only_dom0, 1);
    tsf_assert_key(t->dom0, FE(0, 0), "backend", BE0(0, 0));
    assert_null(tsf_read_as(t->g1, BE0(0, 0), "target"));
    assert_null(tsf_read_as(t->g1, FE(0, 0), "state"));
}

static void test_attach_devid_allocation(void **state)
{
    struct world *t = *state;
    struct vg_attach_spec s = tsf_spec_of("type=blk,target=/i,devid=1");
    char err[512] = "";
    unsigned devid = 77;

    assert_int_equal(tsf_attach_ok(t, 1, "type=blk,target=/a"), 0);
    assert_int_equal(tsf_attach_ok(t, 1, "type=blk,target=/b"), 1);
    assert_int_equal(tsf_attach_ok(t, 1, "type=blk,target=/c"), 2);
    /* devids are per frontend */
    assert_int_equal(tsf_attach_ok(t, 2, "type=blk,target=/d"), 0);
    /* a requested devid that is taken */
    errno = 0;
    assert_int_equal(vg_toolstack_attach(t->dom0, 1, &s, &devid, err,
                                         sizeof(err)), -1);
    assert_int_equal(errno, EEXIST);
    assert_int_equal(devid, 77);
    assert_non_null(strstr(err, "domain 1"));
    assert_non_null(strstr(err, "devid=1"));
    tsf_assert_key(t->dom0, BE0(1, 1), "target", "/b");
    /* a requested free one, then allocation fills the gap below it */
    assert_int_equal(tsf_attach_ok(t, 1, "type=blk,target=/e,devid=5"), 5);
    assert_int_equal(tsf_attach_ok(t, 1, "type=blk,target=/f"), 3);
    tsf_assert_key(t->dom0, BE0(1, 5), "target", "/e");
    tsf_assert_key(t->dom0, FE(1, 5), "backend", BE0(1, 5));
}

/* Two toolstacks attaching at once: the transactions conflict, retry,
 * and every device gets its own devid.  Each thread commits 10 times, so
 * the other sees at most 10 conflicts, below the retry bound. */
struct attacher {
    struct vg_hyp *h;
    unsigned devids[10];
    int failures;
};

static void *attacher_main(void *arg)
{
    struct attacher *a = arg;
    struct vg_attach_spec s;
    char err[256];

    vg_attach_spec_parse("type=blk,target=/race", &s, err, sizeof(err));
    for (unsigned i = 0; i < 10; i++)
        if (vg_toolstack_attach(a->h, 1, &s, &a->devids[i], err, sizeof(err)))
            a->failures++;
    return NULL;
}

static void test_attach_concurrent_distinct_devids(void **state)
{
    struct world *t = *state;
    struct attacher a[2] = { { .h = t->dom0 }, { .h = vg_fake_open(t->w, 0) } };
    pthread_t th[2];
    bool seen[20] = { false };

    assert_non_null(a[1].h);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, attacher_main, &a[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    vg_hyp_close(a[1].h);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(a[i].failures, 0);
        for (unsigned j = 0; j < 10; j++) {
            assert_true(a[i].devids[j] < 20);
            assert_false(seen[a[i].devids[j]]);
            seen[a[i].devids[j]] = true;
        }
    }
    tsf_assert_key(t->dom0, BE0(1, 19), "target", "/race");
    tsf_assert_key(t->dom0, FE(1, 19), "backend", BE0(1, 19));
}

/* The guest owns its frontend directory and may delete it; the devid stays
 * taken while a backend directory holds it. */
static void test_hostile_guest_hides_devid(void **state)
{
    struct world *t = *state;

    assert_int_equal(tsf_attach_ok(t, 1, "type=blk,target=/a"), 0);
    assert_int_equal(t->g1->ops->xs_rm(t->g1, VG_XS_NO_TX, FE(1, 0)), 0);
    assert_false(tsf_exists(t, FE(1, 0)));
    assert_int_equal(tsf_attach_ok(t, 1, "type=blk,target=/b"), 1);
    tsf_assert_key(t->dom0, BE0(1, 0), "target", "/a");
    /* and junk names in its class directory do not confuse allocation */
    assert_int_equal(tsf_write_as(t->g1, "/local/domain/1/device/virtio-grant",
                              "2", ""), 0);
    assert_int_equal(tsf_write_as(t->g1, "/local/domain/1/device/virtio-grant",
                              "junk", "x"), 0);
    assert_int_equal(tsf_write_as(t->g1, "/local/domain/1/device/virtio-grant",
                              "99999999", "x"), 0);
    assert_int_equal(tsf_attach_ok(t, 1, "type=blk,target=/c"), 3);
}

static void test_hostile_attach_missing_frontend_domain(void **state)
{
    struct world *t = *state;
    struct vg_attach_spec s = tsf_spec_of("type=blk,target=/i");
    char err[512] = "";
    unsigned devid = 77;

    errno = 0;
    assert_int_equal(vg_toolstack_attach(t->dom0, 7, &s, &devid, err,
                                         sizeof(err)), -1);
    assert_int_equal(errno, ESRCH);
    assert_non_null(strstr(err, "frontend domain 7"));
    assert_int_equal(devid, 77);
    assert_false(tsf_exists(t, "/local/domain/0/backend/virtio-grant/7"));
    assert_false(tsf_exists(t, "/local/domain/0/backend/virtio-grant"));
    assert_false(tsf_exists(t, "/local/domain/7"));
}

static void test_hostile_attach_missing_backend_domain(void **state)
{
    struct world *t = *state;
    struct vg_attach_spec s = tsf_spec_of("type=blk,target=/i,backend=9");
    char err[512] = "";
    unsigned devid = 77;

    errno = 0;
    assert_int_equal(vg_toolstack_attach(t->dom0, 1, &s, &devid, err,
                                         sizeof(err)), -1);
    assert_int_equal(errno, ESRCH);
    assert_non_null(strstr(err, "backend domain 9"));
    assert_false(tsf_exists(t, "/local/domain/1/device/virtio-grant"));
    assert_false(tsf_exists(t, "/local/domain/9"));

    /* a destroyed domain is no better */
    assert_int_equal(vg_fake_domain_destroy(t->w, 2), 0);
    s = tsf_spec_of("type=blk,target=/i,backend=2");
    assert_int_equal(vg_toolstack_attach(t->dom0, 1, &s, &devid, err,
                                         sizeof(err)), -1);
    assert_int_equal(errno, ESRCH);
    assert_non_null(strstr(err, "backend domain 2"));
    assert_false(tsf_exists(t, "/local/domain/1/device/virtio-grant"));
}

/* A caller (the xl patch) may fill the struct without the parser. */
static void test_hostile_attach_unparsed_spec(void **state)
{
    struct world *t = *state;
    struct vg_attach_spec s = tsf_spec_of("type=blk,target=/i");
    char err[512] = "";
    unsigned devid;

    s.queue_size = 100;
    errno = 0;
    assert_int_equal(vg_toolstack_attach(t->dom0, 1, &s, &devid, err,
                                         sizeof(err)), -1);
    assert_int_equal(errno, EINVAL);
    assert_non_null(strstr(err, "queue-size 100"));

    s = tsf_spec_of("type=blk,target=/i");
    memset(spec_tval(&s, "target"), 'a', VG_TKEY_VALUE_MAX);   /* no terminator */
    assert_int_equal(vg_toolstack_attach(t->dom0, 1, &s, &devid, err,
                                         sizeof(err)), -1);
    assert_non_null(strstr(err, "target"));

    s = tsf_spec_of("type=blk,target=/i,mode=static");
    s.region_bytes = 4097;
    assert_int_equal(vg_toolstack_attach(t->dom0, 1, &s, &devid, err,
                                         sizeof(err)), -1);
    assert_non_null(strstr(err, "region 4097"));
    assert_false(tsf_exists(t, "/local/domain/1/device/virtio-grant"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define W(f) cmocka_unit_test_setup_teardown(f, tsf_world_setup, tsf_world_teardown)
        W(test_attach_rng_writes_keys),
        W(test_hostile_attach_unparsed_rng_spec),
        W(test_attach_writes_every_key),
        W(test_attach_static_writes_region),
        W(test_attach_permissions),
        W(test_attach_driver_domain_backend),
        W(test_attach_loopback_in_dom0),
        W(test_attach_devid_allocation),
        W(test_attach_concurrent_distinct_devids),
        W(test_hostile_guest_hides_devid),
        W(test_hostile_attach_missing_frontend_domain),
        W(test_hostile_attach_missing_backend_domain),
        W(test_hostile_attach_unparsed_spec),
#undef W
    };

    vg_log_init("test_toolstack", VG_LOG_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

