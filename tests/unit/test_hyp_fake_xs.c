/* SPDX-License-Identifier: MIT */
/*
 * The fake hypervisor must enforce what Xen enforces, or every test built
 * on it proves nothing.  This file: xenstore permissions,
 * transactions, watches and domain destruction; test_hyp_fake.c: grants
 * and event channels.
 * (Fixture: hffix.c.)
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vgrant/hyp.h"
#include "vgrant/protocol.h"

#include "hffix.h"
/* ---------------------------------------------------------------- */
/* xenstore                                                          */
/* ---------------------------------------------------------------- */

static void test_xs_read_write_dir(void **state)
{
    struct env *e = *state;
    unsigned len, num;

    assert_int_equal(e->front->ops->xs_write(e->front, 0, "/local/domain/1/a/b/c", "v1"), 0);
    char *v = e->front->ops->xs_read(e->front, 0, "/local/domain/1/a/b/c", &len);
    assert_non_null(v);
    assert_string_equal(v, "v1");
    assert_int_equal(len, 2);
    free(v);
    /* Relative paths live under the domain's home. */
    v = e->front->ops->xs_read(e->front, 0, "a/b/c", NULL);
    assert_non_null(v);
    assert_string_equal(v, "v1");
    free(v);
    /* Missing parents were created, empty. */
    v = e->front->ops->xs_read(e->front, 0, "/local/domain/1/a/b", &len);
    assert_non_null(v);
    assert_int_equal(len, 0);
    free(v);

    assert_int_equal(e->front->ops->xs_write(e->front, 0, "a/b/d", ""), 0);
    assert_int_equal(e->front->ops->xs_mkdir(e->front, 0, "a/b/e"), 0);
    assert_int_equal(e->front->ops->xs_mkdir(e->front, 0, "a/b/e"), 0);
    char **names = e->front->ops->xs_directory(e->front, 0, "a/b", &num);
    assert_non_null(names);
    assert_int_equal(num, 3);
    assert_string_equal(names[0], "c");
    assert_string_equal(names[1], "d");
    assert_string_equal(names[2], "e");
    free(names);

    assert_int_equal(e->front->ops->xs_rm(e->front, 0, "a"), 0);
    assert_null(e->front->ops->xs_read(e->front, 0, "a/b/c", NULL));
    assert_int_equal(errno, ENOENT);
    /* Removing a missing node under an existing parent is fine. */
    assert_int_equal(e->front->ops->xs_rm(e->front, 0, "a"), 0);
    assert_int_equal(e->front->ops->xs_rm(e->front, 0, "x/y/z"), -1);
    assert_int_equal(errno, ENOENT);
    names = e->front->ops->xs_directory(e->front, 0, "/local/domain/1", &num);
    assert_non_null(names);
    assert_int_equal(num, 0);
    free(names);
}

static void test_hostile_xs_bad_paths_and_values(void **state)
{
    struct env *e = *state;
    static const char *const bad[] = {
        "", "/local//domain", "/local/domain/1/", "/local/domain/1/a b",
        "/local/domain/1/x.y", "/local/domain/1/\xff", "@releaseDomain",
        "/local/domain/1/a@b",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        errno = 0;
        assert_int_equal(e->front->ops->xs_write(e->front, 0, bad[i], "x"), -1);
        assert_int_equal(errno, EINVAL);
        assert_null(e->front->ops->xs_read(e->front, 0, bad[i], NULL));
    }
    char *longpath = malloc(5000);
    assert_non_null(longpath);
    strcpy(longpath, "/local/domain/1/");
    memset(longpath + 16, 'a', 4000);
    longpath[4016] = '\0';
    assert_int_equal(e->front->ops->xs_write(e->front, 0, longpath, "x"), -1);
    assert_int_equal(errno, EINVAL);
    free(longpath);

    char *big = malloc(8192);
    assert_non_null(big);
    memset(big, 'v', 8191);
    big[8191] = '\0';
    assert_int_equal(e->front->ops->xs_write(e->front, 0, "big", big), -1);
    assert_int_equal(errno, E2BIG);
    free(big);
    assert_int_equal(e->front->ops->xs_rm(e->front, 0, "/"), -1);
    assert_int_equal(e->dom0->ops->xs_rm(e->dom0, 0, "/"), -1);
    /* Bad transaction ids. */
    assert_null(e->front->ops->xs_read(e->front, 12345, "/local/domain/1", NULL));
    assert_int_equal(errno, ENOENT);
}

static void test_hostile_xs_perms(void **state)
{
    struct env *e = *state;

    assert_int_equal(e->front->ops->xs_write(e->front, 0, "/local/domain/1/secret", "s"), 0);
    /* Another guest can neither read nor list nor write it. */
    assert_null(e->other->ops->xs_read(e->other, 0, "/local/domain/1/secret", NULL));
    assert_int_equal(errno, EACCES);
    assert_null(e->other->ops->xs_directory(e->other, 0, "/local/domain/1", NULL));
    assert_int_equal(errno, EACCES);
    assert_int_equal(e->other->ops->xs_write(e->other, 0, "/local/domain/1/secret", "x"), -1);
    assert_int_equal(errno, EACCES);
    assert_int_equal(e->other->ops->xs_write(e->other, 0, "/local/domain/1/new", "x"), -1);
    assert_int_equal(errno, EACCES);
    assert_int_equal(e->other->ops->xs_rm(e->other, 0, "/local/domain/1/secret"), -1);
    assert_int_equal(errno, EACCES);
    /* Nor learn whether a node exists under an unreadable dir. */
    assert_null(e->other->ops->xs_read(e->other, 0, "/local/domain/1/nope", NULL));
    assert_int_equal(errno, EACCES);

    /* A guest cannot write dom0-owned nodes. */
    assert_int_equal(e->dom0->ops->xs_write(e->dom0, 0, "/local/domain/0/backend/x", "0"), 0);
    assert_int_equal(e->front->ops->xs_write(e->front, 0, "/local/domain/0/backend/x", "1"), -1);
    assert_int_equal(errno, EACCES);
    assert_int_equal(e->front->ops->xs_write(e->front, 0, "/local/domain/0/backend/y", "1"), -1);
    assert_int_equal(e->front->ops->xs_write(e->front, 0, "/tool/x", "1"), -1);
    assert_int_equal(e->front->ops->xs_mkdir(e->front, 0, "/local/domain/0/backend"), -1);
    assert_int_equal(e->front->ops->xs_rm(e->front, 0, "/local/domain/0"), -1);

    /* dom0 may do everything. */
    char *v = e->dom0->ops->xs_read(e->dom0, 0, "/local/domain/1/secret", NULL);
    assert_non_null(v);
    assert_string_equal(v, "s");
    free(v);
    assert_int_equal(e->dom0->ops->xs_write(e->dom0, 0, "/local/domain/1/secret", "t"), 0);

    /* The owner grants read to dom 2: it reads, still cannot write. */
    struct vg_xs_perm grant[] = { { FRONT, VG_XS_PERM_NONE }, { OTHER, VG_XS_PERM_READ } };
    assert_int_equal(e->front->ops->xs_set_perms(e->front, 0, "secret", grant, 2), 0);
    v = e->other->ops->xs_read(e->other, 0, "/local/domain/1/secret", NULL);
    assert_non_null(v);
    free(v);
    assert_int_equal(e->other->ops->xs_write(e->other, 0, "/local/domain/1/secret", "x"), -1);
    assert_int_equal(errno, EACCES);
    /* Only the owner sets perms; only dom0 gives a node away. */
    struct vg_xs_perm steal[] = { { OTHER, VG_XS_PERM_NONE } };
    assert_int_equal(e->other->ops->xs_set_perms(e->other, 0, "/local/domain/1/secret", steal, 1), -1);
    assert_int_equal(errno, EACCES);
    assert_int_equal(e->front->ops->xs_set_perms(e->front, 0, "secret", steal, 1), -1);
    assert_int_equal(errno, EPERM);
    assert_int_equal(e->front->ops->xs_set_perms(e->front, 0, "secret", steal, 0), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(e->dom0->ops->xs_set_perms(e->dom0, 0, "/local/domain/1/secret", steal, 1), 0);

    unsigned num;
    struct vg_xs_perm *got = e->dom0->ops->xs_get_perms(e->dom0, 0, "/local/domain/1/secret", &num);
    assert_non_null(got);
    assert_int_equal(num, 1);
    assert_int_equal(got[0].domid, OTHER);
    free(got);
    assert_null(e->front->ops->xs_get_perms(e->front, 0, "/local/domain/0/backend/x", &num));
    assert_int_equal(errno, EACCES);
}

static void test_xs_perm_inheritance(void **state)
{
    struct env *e = *state;
    unsigned num;

    /* dom0 prepares a backend dir readable by the frontend ... */
    assert_int_equal(e->dom0->ops->xs_mkdir(e->dom0, 0, "/local/domain/0/backend/vg/1"), 0);
    struct vg_xs_perm perms[] = { { 0, VG_XS_PERM_NONE }, { FRONT, VG_XS_PERM_READ } };
    assert_int_equal(e->dom0->ops->xs_set_perms(e->dom0, 0, "/local/domain/0/backend/vg/1", perms, 2), 0);
    /* ... children dom0 creates inherit them unchanged. */
    assert_int_equal(e->dom0->ops->xs_write(e->dom0, 0, "/local/domain/0/backend/vg/1/q/state", "1"), 0);
    struct vg_xs_perm *got = e->dom0->ops->xs_get_perms(e->dom0, 0, "/local/domain/0/backend/vg/1/q/state", &num);
    assert_non_null(got);
    assert_int_equal(num, 2);
    assert_int_equal(got[0].domid, 0);
    assert_int_equal(got[1].domid, FRONT);
    assert_int_equal(got[1].perm, VG_XS_PERM_READ);
    free(got);
    char *v = e->front->ops->xs_read(e->front, 0, "/local/domain/0/backend/vg/1/q/state", NULL);
    assert_non_null(v);
    free(v);

    /* A guest creating under a dir it may write becomes the owner. */
    struct vg_xs_perm shared[] = { { 0, VG_XS_PERM_NONE }, { FRONT, VG_XS_PERM_BOTH } };
    assert_int_equal(e->dom0->ops->xs_mkdir(e->dom0, 0, "/local/domain/0/drop"), 0);
    assert_int_equal(e->dom0->ops->xs_set_perms(e->dom0, 0, "/local/domain/0/drop", shared, 2), 0);
    assert_int_equal(e->front->ops->xs_write(e->front, 0, "/local/domain/0/drop/a/b", "x"), 0);
    got = e->dom0->ops->xs_get_perms(e->dom0, 0, "/local/domain/0/drop/a", &num);
    assert_non_null(got);
    assert_int_equal(got[0].domid, FRONT);
    assert_int_equal(num, 2);
    free(got);
    assert_null(e->other->ops->xs_read(e->other, 0, "/local/domain/0/drop/a/b", NULL));
    assert_int_equal(errno, EACCES);
}
static void test_xs_transactions(void **state)
{
    struct env *e = *state;
    struct vg_hyp *f = e->front;

    assert_int_equal(f->ops->xs_write(f, 0, "k", "old"), 0);
    assert_int_equal(f->ops->xs_watch(f, "k", "tk"), 0);
    assert_int_equal(hft_drain_watches(f), 1);

    /* Commit: invisible outside until committed, watches fire at commit. */
    vg_xs_tx_t t = f->ops->xs_tx_start(f);
    assert_int_not_equal(t, VG_XS_NO_TX);
    assert_int_equal(f->ops->xs_write(f, t, "k", "new"), 0);
    assert_int_equal(f->ops->xs_write(f, t, "k/child", "c"), 0);
    char *v = f->ops->xs_read(f, t, "k", NULL);
    assert_string_equal(v, "new");
    free(v);
    v = f->ops->xs_read(f, 0, "k", NULL);
    assert_string_equal(v, "old");
    free(v);
    assert_int_equal(hft_drain_watches(f), 0);
    assert_int_equal(f->ops->xs_tx_end(f, t, false), 0);
    v = f->ops->xs_read(f, 0, "k/child", NULL);
    assert_string_equal(v, "c");
    free(v);
    hft_expect_watch(f, "k", "tk");
    hft_expect_watch(f, "k/child", "tk");
    assert_int_equal(hft_drain_watches(f), 0);
    /* The id is gone after the end. */
    assert_int_equal(f->ops->xs_tx_end(f, t, false), -1);
    assert_int_equal(errno, ENOENT);

    /* Conflict: somebody wrote meanwhile -> EAGAIN, nothing applied. */
    t = f->ops->xs_tx_start(f);
    assert_int_equal(f->ops->xs_write(f, t, "k", "mine"), 0);
    assert_int_equal(e->dom0->ops->xs_write(e->dom0, 0, "/local/domain/0/x", "y"), 0);
    assert_int_equal(f->ops->xs_tx_end(f, t, false), -1);
    assert_int_equal(errno, EAGAIN);
    v = f->ops->xs_read(f, 0, "k", NULL);
    assert_string_equal(v, "new");
    free(v);
    assert_int_equal(hft_drain_watches(f), 0);

    /* Abort: nothing applied, no event. */
    t = f->ops->xs_tx_start(f);
    assert_int_equal(f->ops->xs_rm(f, t, "k"), 0);
    assert_null(f->ops->xs_read(f, t, "k", NULL));
    assert_int_equal(f->ops->xs_tx_end(f, t, true), 0);
    v = f->ops->xs_read(f, 0, "k", NULL);
    assert_string_equal(v, "new");
    free(v);
    assert_int_equal(hft_drain_watches(f), 0);

    /* A read-only transaction commits even if the tree moved on. */
    t = f->ops->xs_tx_start(f);
    v = f->ops->xs_read(f, t, "k", NULL);
    free(v);
    assert_int_equal(e->dom0->ops->xs_write(e->dom0, 0, "/local/domain/0/x", "z"), 0);
    assert_int_equal(f->ops->xs_tx_end(f, t, false), 0);

    /* Permissions hold inside transactions too. */
    t = e->other->ops->xs_tx_start(e->other);
    assert_int_equal(e->other->ops->xs_write(e->other, t, "/local/domain/1/k", "x"), -1);
    assert_int_equal(errno, EACCES);
    assert_int_equal(e->other->ops->xs_tx_end(e->other, t, false), 0);
    /* Another handle's transaction id is not ours. */
    t = f->ops->xs_tx_start(f);
    assert_null(e->other->ops->xs_read(e->other, t, "/local/domain/2", NULL));
    assert_int_equal(errno, ENOENT);
    assert_int_equal(f->ops->xs_tx_end(f, t, true), 0);
}

static void test_hostile_xs_transaction_flood(void **state)
{
    struct env *e = *state;
    vg_xs_tx_t ts[64];
    unsigned n = 0;

    /* A handle cannot pin unbounded snapshots. */
    while (n < 64 && (ts[n] = e->other->ops->xs_tx_start(e->other)) != VG_XS_NO_TX)
        n++;
    assert_true(n < 64);
    assert_int_equal(errno, ENOSPC);
    for (unsigned i = 0; i < n; i++)
        assert_int_equal(e->other->ops->xs_tx_end(e->other, ts[i], true), 0);
    assert_int_not_equal(e->other->ops->xs_tx_start(e->other), VG_XS_NO_TX);
}

static void test_xs_watches(void **state)
{
    struct env *e = *state;
    struct vg_hyp *b = e->dom0;
    int fd = b->ops->xs_fd(b);

    assert_false(hft_fd_readable(fd));
    /* Fires once at registration, like xenstored, even if the node is missing. */
    assert_int_equal(b->ops->xs_watch(b, "/local/domain/1/device", "dev"), 0);
    assert_true(hft_fd_readable(fd));
    hft_expect_watch(b, "/local/domain/1/device", "dev");
    assert_false(hft_fd_readable(fd));
    assert_int_equal(b->ops->xs_watch(b, "/local/domain/1/device", "dev"), -1);
    assert_int_equal(errno, EEXIST);

    /* Subtree writes fire with the changed path. */
    assert_int_equal(e->front->ops->xs_write(e->front, 0, "device/vg/0/state", "1"), 0);
    assert_true(hft_fd_readable(fd));
    hft_expect_watch(b, "/local/domain/1/device/vg/0/state", "dev");
    /* Siblings with a common prefix do not. */
    assert_int_equal(e->front->ops->xs_write(e->front, 0, "device-other", "1"), 0);
    assert_int_equal(e->front->ops->xs_mkdir(e->front, 0, "device/vg/1"), 0);
    hft_expect_watch(b, "/local/domain/1/device/vg/1", "dev");
    struct vg_xs_perm p[] = { { FRONT, VG_XS_PERM_NONE }, { 0, VG_XS_PERM_READ } };
    assert_int_equal(e->front->ops->xs_set_perms(e->front, 0, "device/vg/1", p, 2), 0);
    hft_expect_watch(b, "/local/domain/1/device/vg/1", "dev");
    assert_int_equal(hft_drain_watches(b), 0);

    /* Removing an ancestor fires the watched path. */
    assert_int_equal(b->ops->xs_watch(b, "/local/domain/1/device/vg/0/state", "st"), 0);
    hft_expect_watch(b, "/local/domain/1/device/vg/0/state", "st");
    assert_int_equal(e->front->ops->xs_rm(e->front, 0, "device/vg"), 0);
    char path[256], tok[16];
    bool saw_dev = false, saw_st = false;
    while (b->ops->xs_next_watch(b, path, sizeof(path), tok, sizeof(tok)) == 0) {
        if (!strcmp(tok, "dev")) {
            assert_string_equal(path, "/local/domain/1/device/vg");
            saw_dev = true;
        } else {
            assert_string_equal(tok, "st");
            assert_string_equal(path, "/local/domain/1/device/vg/0/state");
            saw_st = true;
        }
    }
    assert_true(saw_dev && saw_st);
    assert_false(hft_fd_readable(fd));

    /* Unwatch stops it and drops its queued events. */
    assert_int_equal(e->front->ops->xs_write(e->front, 0, "device/x", "1"), 0);
    assert_int_equal(b->ops->xs_unwatch(b, "/local/domain/1/device", "dev"), 0);
    assert_false(hft_fd_readable(fd));
    assert_int_equal(e->front->ops->xs_write(e->front, 0, "device/y", "1"), 0);
    assert_int_equal(hft_drain_watches(b), 0);
    assert_int_equal(b->ops->xs_unwatch(b, "/local/domain/1/device", "dev"), -1);
    assert_int_equal(errno, ENOENT);

    /* Relative watches report relative paths; truncation is safe. */
    assert_int_equal(e->front->ops->xs_watch(e->front, "device", "rel"), 0);
    assert_int_equal(e->front->ops->xs_write(e->front, 0, "device/z", "1"), 0);
    hft_expect_watch(e->front, "device", "rel");
    hft_expect_watch(e->front, "device/z", "rel");
    assert_int_equal(e->front->ops->xs_write(e->front, 0, "device/z", "2"), 0);
    char tiny[4], ttok[2];
    assert_int_equal(e->front->ops->xs_next_watch(e->front, tiny, sizeof(tiny), ttok, sizeof(ttok)), 0);
    assert_string_equal(tiny, "dev");
    assert_string_equal(ttok, "r");
}

static void test_hostile_xs_watch_no_leak_across_domains(void **state)
{
    struct env *e = *state;

    /* A guest may watch another guest's dir, but learns nothing but the
     * registration event: no event about nodes it cannot read. */
    assert_int_equal(e->other->ops->xs_watch(e->other, "/local/domain/1", "spy"), 0);
    assert_int_equal(hft_drain_watches(e->other), 1);
    assert_int_equal(e->front->ops->xs_write(e->front, 0, "secret", "s"), 0);
    assert_int_equal(e->front->ops->xs_rm(e->front, 0, "secret"), 0);
    assert_int_equal(hft_drain_watches(e->other), 0);
    assert_false(hft_fd_readable(e->other->ops->xs_fd(e->other)));
}

static void test_hostile_xs_watch_queue_bounded(void **state)
{
    struct env *e = *state;
    char path[256], tok[16], last[32];
    unsigned n = 0;

    assert_int_equal(e->dom0->ops->xs_watch(e->dom0, "/local/domain/1", "flood"), 0);
    /* A guest writing in a loop does not grow the watcher's queue forever. */
    for (unsigned i = 0; i < 10000; i++) {
        snprintf(last, sizeof(last), "n%u", i % 50);
        assert_int_equal(e->front->ops->xs_write(e->front, 0, last, "x"), 0);
    }
    while (e->dom0->ops->xs_next_watch(e->dom0, path, sizeof(path), tok, sizeof(tok)) == 0) {
        n++;
        assert_string_equal(tok, "flood");
    }
    assert_true(n > 0 && n <= 4096);
    /* The newest events survived; the oldest were dropped. */
    assert_string_equal(path, "/local/domain/1/n49");
    /* The handle stays usable. */
    assert_int_equal(e->front->ops->xs_write(e->front, 0, "after", "x"), 0);
    hft_expect_watch(e->dom0, "/local/domain/1/after", "flood");

    /* Watch registrations are bounded too. */
    int rc = 0;
    for (unsigned i = 0; i < 1000 && rc == 0; i++) {
        snprintf(tok, sizeof(tok), "t%u", i);
        rc = e->other->ops->xs_watch(e->other, "/local/domain/2", tok);
    }
    assert_int_equal(rc, -1);
    assert_int_equal(errno, E2BIG);
}

static void test_domain_destroy(void **state)
{
    struct env *e = *state;
    vg_gref_t refs[2];
    vg_port_t fp, bp;

    uint8_t *mine = e->front->ops->share_pages(e->front, 0, 2, refs, true);
    assert_non_null(mine);
    memcpy(mine, "last words", 11);
    uint8_t *theirs = e->dom0->ops->map_grants(e->dom0, FRONT, 1, refs, false);
    assert_non_null(theirs);
    hft_connect_pair(e, &fp, &bp);
    assert_int_equal(e->front->ops->xs_write(e->front, 0, "device/x", "1"), 0);
    assert_int_equal(e->dom0->ops->xs_watch(e->dom0, "@releaseDomain", "rel"), 0);
    assert_int_equal(e->dom0->ops->xs_watch(e->dom0, "/local/domain/1/device/x", "dx"), 0);
    assert_int_equal(hft_drain_watches(e->dom0), 2);
    assert_int_equal(e->dom0->ops->domain_alive(e->dom0, FRONT), 1);

    assert_int_equal(vg_fake_domain_destroy(e->w, FRONT), 0);

    assert_int_equal(e->dom0->ops->domain_alive(e->dom0, FRONT), 0);
    /* Grants revoked; the page dom0 has mapped stays valid until unmapped. */
    assert_int_equal(vg_fake_live_grants(e->w, FRONT), 0);
    assert_int_equal(vg_fake_live_mappings(e->w, FRONT), 1);
    assert_memory_equal(theirs, "last words", 11);
    assert_null(e->dom0->ops->map_grants(e->dom0, FRONT, 1, &refs[1], false));
    assert_int_equal(e->dom0->ops->unmap_grants(e->dom0, theirs, 1), 0);
    assert_int_equal(vg_fake_live_mappings(e->w, FRONT), 0);
    /* Ports closed: notifying the dead peer fails. */
    assert_int_equal(vg_fake_bound_ports(e->w, FRONT), 0);
    assert_int_equal(e->dom0->ops->evtchn_notify(e->dom0, bp), -1);
    assert_int_equal(e->dom0->ops->evtchn_unbind(e->dom0, bp), 0);
    /* Its xenstore dir is gone, watchers told, @releaseDomain fired. */
    assert_null(e->dom0->ops->xs_read(e->dom0, 0, "/local/domain/1", NULL));
    assert_int_equal(errno, ENOENT);
    char path[256], tok[16];
    bool saw_rel = false, saw_dx = false;
    while (e->dom0->ops->xs_next_watch(e->dom0, path, sizeof(path), tok, sizeof(tok)) == 0) {
        if (!strcmp(tok, "rel")) {
            assert_string_equal(path, "@releaseDomain");
            saw_rel = true;
        } else if (!strcmp(tok, "dx")) {
            assert_string_equal(path, "/local/domain/1/device/x");
            saw_dx = true;
        }
    }
    assert_true(saw_rel && saw_dx);
    /* Its handles fail from now on, and their fds wake pollers up. */
    assert_true(hft_fd_readable(e->front->ops->xs_fd(e->front)));
    assert_true(hft_fd_readable(e->front->ops->evtchn_fd(e->front)));
    assert_null(e->front->ops->xs_read(e->front, 0, "device/x", NULL));
    assert_int_equal(errno, ESRCH);
    assert_int_equal(e->front->ops->evtchn_bind_unbound(e->front, 0), -1);
    assert_int_equal(errno, ESRCH);
    assert_null(e->front->ops->share_pages(e->front, 0, 1, refs, true));
    assert_int_equal(errno, ESRCH);
    assert_null(vg_fake_open(e->w, FRONT));
    assert_int_equal(vg_fake_domain_destroy(e->w, FRONT), -1);
    assert_int_equal(errno, ESRCH);
    assert_int_equal(vg_fake_domain_destroy(e->w, 0), -1);
    /* Closing the dead domain's handle releases its view (hft_teardown). */
}

static void test_domain_destroy_while_mapped_by_dead(void **state)
{
    struct env *e = *state;
    vg_gref_t ref;

    /* dom 2 maps dom 1's page, then dies: the mapping stays counted until
     * its handle closes, then nothing is left. */
    void *mine = e->front->ops->share_pages(e->front, OTHER, 1, &ref, true);
    assert_non_null(mine);
    void *theirs = e->other->ops->map_grants(e->other, FRONT, 1, &ref, true);
    assert_non_null(theirs);
    assert_int_equal(vg_fake_domain_destroy(e->w, OTHER), 0);
    assert_int_equal(vg_fake_live_mappings(e->w, FRONT), 1);
    vg_hyp_close(e->other);
    e->other = NULL;
    assert_int_equal(vg_fake_live_mappings(e->w, FRONT), 0);
    assert_int_equal(vg_fake_live_grants(e->w, FRONT), 1);
    /* A domain id can be created again after destruction. */
    assert_int_equal(vg_fake_domain_create(e->w, OTHER), 0);
    e->other = vg_fake_open(e->w, OTHER);
    assert_non_null(e->other);
    /* Grants name a domid, so (as in Xen) the new domain 2 inherits what
     * was granted to the old one: the reason Xen avoids reusing ids. */
    void *again = e->other->ops->map_grants(e->other, FRONT, 1, &ref, true);
    assert_non_null(again);
    assert_int_equal(e->other->ops->unmap_grants(e->other, again, 1), 0);
    assert_int_equal(vg_fake_domain_create(e->w, OTHER), -1);
    assert_int_equal(errno, EEXIST);
    assert_int_equal(e->front->ops->unshare_pages(e->front, mine, 1), 0);
}

/* Frontend and backend in two threads, as the loopback tests run them. */

static void test_hostile_xs_node_quota(void **state)
{
    struct env *e = *state;
    char path[64];
    int rc = 0;
    unsigned i;

    /* A guest creating nodes in a loop hits its quota ... */
    for (i = 0; i < 5000 && rc == 0; i++) {
        snprintf(path, sizeof(path), "junk/n%u", i);
        rc = e->other->ops->xs_write(e->other, 0, path, "x");
    }
    assert_int_equal(rc, -1);
    assert_int_equal(errno, EDQUOT);
    assert_true(i <= 1000);
    /* ... while rewriting existing nodes still works, dom0 is not limited,
     * and removing nodes gives the quota back. */
    assert_int_equal(e->other->ops->xs_write(e->other, 0, "junk/n0", "y"), 0);
    assert_int_equal(e->dom0->ops->xs_write(e->dom0, 0, "/local/domain/2/junk/by-dom0", "x"), 0);
    assert_int_equal(e->other->ops->xs_rm(e->other, 0, "junk"), 0);
    assert_int_equal(e->other->ops->xs_write(e->other, 0, "junk/again", "x"), 0);
    /* Other guests are unaffected. */
    assert_int_equal(e->front->ops->xs_write(e->front, 0, "fine", "x"), 0);
}
int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_xs_read_write_dir, hft_setup, hft_teardown),
        cmocka_unit_test_setup_teardown(test_hostile_xs_bad_paths_and_values, hft_setup, hft_teardown),
        cmocka_unit_test_setup_teardown(test_hostile_xs_perms, hft_setup, hft_teardown),
        cmocka_unit_test_setup_teardown(test_xs_perm_inheritance, hft_setup, hft_teardown),
        cmocka_unit_test_setup_teardown(test_xs_transactions, hft_setup, hft_teardown),
        cmocka_unit_test_setup_teardown(test_hostile_xs_transaction_flood, hft_setup, hft_teardown),
        cmocka_unit_test_setup_teardown(test_xs_watches, hft_setup, hft_teardown),
        cmocka_unit_test_setup_teardown(test_hostile_xs_watch_no_leak_across_domains, hft_setup, hft_teardown),
        cmocka_unit_test_setup_teardown(test_hostile_xs_watch_queue_bounded, hft_setup, hft_teardown),
        cmocka_unit_test_setup_teardown(test_domain_destroy, hft_setup, hft_teardown),
        cmocka_unit_test_setup_teardown(test_domain_destroy_while_mapped_by_dead, hft_setup, hft_teardown),
        cmocka_unit_test_setup_teardown(test_hostile_xs_node_quota, hft_setup, hft_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
