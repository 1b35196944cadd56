/* SPDX-License-Identifier: MIT */
/*
 * The fake hypervisor must enforce what Xen enforces, or every test built
 * on it proves nothing: grants, event channels, xenstore permissions,
 * transactions, watches and domain destruction.
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

#define FRONT 1
#define OTHER 2

struct env {
    struct vg_fake_world *w;
    struct vg_hyp *dom0;
    struct vg_hyp *front;
    struct vg_hyp *other;
};

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));
    assert_non_null(e);
    e->w = vg_fake_world_new();
    assert_non_null(e->w);
    assert_int_equal(vg_fake_domain_create(e->w, FRONT), 0);
    assert_int_equal(vg_fake_domain_create(e->w, OTHER), 0);
    e->dom0 = vg_fake_open(e->w, 0);
    e->front = vg_fake_open(e->w, FRONT);
    e->other = vg_fake_open(e->w, OTHER);
    assert_non_null(e->dom0);
    assert_non_null(e->front);
    assert_non_null(e->other);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    vg_hyp_close(e->dom0);
    vg_hyp_close(e->front);
    vg_hyp_close(e->other);
    vg_fake_world_free(e->w);
    free(e);
    return 0;
}

static bool fd_readable(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* Drain all queued watch events; returns how many. */
static unsigned drain_watches(struct vg_hyp *h)
{
    char path[256], token[64];
    unsigned n = 0;
    while (h->ops->xs_next_watch(h, path, sizeof(path), token, sizeof(token)) == 0)
        n++;
    assert_int_equal(errno, EAGAIN);
    return n;
}

/* True if the next watch event is exactly (path, token). */
static void expect_watch(struct vg_hyp *h, const char *path, const char *token)
{
    char p[256], t[64];
    assert_int_equal(h->ops->xs_next_watch(h, p, sizeof(p), t, sizeof(t)), 0);
    assert_string_equal(p, path);
    assert_string_equal(t, token);
}

/* ---------------------------------------------------------------- */
/* grants                                                            */
/* ---------------------------------------------------------------- */

static void test_share_map_roundtrip(void **state)
{
    struct env *e = *state;
    vg_gref_t refs[3];

    uint8_t *mine = e->front->ops->share_pages(e->front, 0, 3, refs, true);
    assert_non_null(mine);
    assert_true(refs[0] >= 8);
    for (unsigned i = 0; i < 3 * VG_PAGE_SIZE; i++)
        assert_int_equal(mine[i], 0);          /* zeroed */
    memset(mine, 0xab, 3 * VG_PAGE_SIZE);
    assert_int_equal(vg_fake_live_grants(e->w, FRONT), 3);

    uint8_t *theirs = e->dom0->ops->map_grants(e->dom0, FRONT, 3, refs, true);
    assert_non_null(theirs);
    assert_int_equal(vg_fake_live_mappings(e->w, FRONT), 3);
    assert_int_equal(theirs[0], 0xab);
    assert_int_equal(theirs[3 * VG_PAGE_SIZE - 1], 0xab);
    /* Really the same memory, both ways. */
    theirs[VG_PAGE_SIZE + 7] = 0x11;
    assert_int_equal(mine[VG_PAGE_SIZE + 7], 0x11);
    mine[2 * VG_PAGE_SIZE] = 0x22;
    assert_int_equal(theirs[2 * VG_PAGE_SIZE], 0x22);

    /* Pages map in any order the backend asks. */
    vg_gref_t rev[2] = { refs[2], refs[0] };
    uint8_t *swapped = e->dom0->ops->map_grants(e->dom0, FRONT, 2, rev, false);
    assert_non_null(swapped);
    assert_int_equal(swapped[0], 0x22);
    assert_int_equal(vg_fake_live_mappings(e->w, FRONT), 5);

    assert_int_equal(e->dom0->ops->unmap_grants(e->dom0, swapped, 2), 0);
    assert_int_equal(e->dom0->ops->unmap_grants(e->dom0, theirs, 3), 0);
    assert_int_equal(vg_fake_live_mappings(e->w, FRONT), 0);
    assert_int_equal(e->front->ops->unshare_pages(e->front, mine, 3), 0);
    assert_int_equal(vg_fake_live_grants(e->w, FRONT), 0);

    assert_int_equal(e->dom0->counters.map_batches, 2);
    assert_int_equal(e->dom0->counters.maps, 5);
    assert_int_equal(e->dom0->counters.unmap_batches, 2);
    assert_int_equal(e->dom0->counters.unmaps, 5);
    assert_int_equal(e->front->counters.shares, 3);
    assert_int_equal(e->front->counters.unshares, 3);
}

static void test_hostile_grant_never_granted(void **state)
{
    struct env *e = *state;
    vg_gref_t ref, bogus[] = { 12345 }, reserved[] = { 0 };

    /* A ref that was never allocated. */
    errno = 0;
    assert_null(e->dom0->ops->map_grants(e->dom0, FRONT, 1, bogus, false));
    assert_int_equal(errno, ENOENT);
    assert_null(e->dom0->ops->map_grants(e->dom0, FRONT, 1, reserved, false));
    assert_int_equal(errno, ENOENT);

    /* A ref granted to somebody else. */
    void *p = e->front->ops->share_pages(e->front, OTHER, 1, &ref, true);
    assert_non_null(p);
    assert_null(e->dom0->ops->map_grants(e->dom0, FRONT, 1, &ref, false));
    assert_int_equal(errno, EPERM);
    /* The right ref asked of the wrong domain. */
    assert_null(e->other->ops->map_grants(e->other, 0, 1, &ref, false));
    /* A domain that does not exist. */
    assert_null(e->other->ops->map_grants(e->other, 77, 1, &ref, false));
    assert_int_equal(errno, ESRCH);
    /* Zero count. */
    assert_null(e->other->ops->map_grants(e->other, FRONT, 0, &ref, false));
    assert_int_equal(errno, EINVAL);

    assert_int_equal(vg_fake_live_mappings(e->w, FRONT), 0);
    assert_int_equal(e->dom0->counters.map_batches, 0);
    assert_int_equal(e->dom0->counters.maps, 0);

    /* The grantee can. */
    void *q = e->other->ops->map_grants(e->other, FRONT, 1, &ref, true);
    assert_non_null(q);
    assert_int_equal(e->other->ops->unmap_grants(e->other, q, 1), 0);
    assert_int_equal(e->front->ops->unshare_pages(e->front, p, 1), 0);
}

static sigjmp_buf segv_jmp;
static volatile void *segv_addr;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    segv_addr = si->si_addr;
    siglongjmp(segv_jmp, 1);
}

/* Write one byte at p; true if it faulted (SIGSEGV at p). */
static bool write_faults(volatile uint8_t *p, uint8_t v)
{
    struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO };
    struct sigaction old;
    volatile bool faulted = false;

    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGSEGV, &sa, &old), 0);
    segv_addr = NULL;
    if (sigsetjmp(segv_jmp, 1) == 0)
        *p = v;
    else
        faulted = segv_addr == (void *)p;
    assert_int_equal(sigaction(SIGSEGV, &old, NULL), 0);
    return faulted;
}

static void test_hostile_write_into_readonly_grant(void **state)
{
    struct env *e = *state;
    vg_gref_t ref;

    uint8_t *mine = e->front->ops->share_pages(e->front, 0, 1, &ref, false);
    assert_non_null(mine);
    mine[100] = 0x5a;

    /* Asking for a writable mapping of a read-only grant fails. */
    assert_null(e->dom0->ops->map_grants(e->dom0, FRONT, 1, &ref, true));
    assert_int_equal(errno, EPERM);
    assert_int_equal(vg_fake_live_mappings(e->w, FRONT), 0);

    volatile uint8_t *ro = e->dom0->ops->map_grants(e->dom0, FRONT, 1, &ref, false);
    assert_non_null(ro);
    assert_int_equal(ro[100], 0x5a);
    /* A write through the read-only mapping really faults ... */
    assert_true(write_faults(ro + 100, 0x77));
    /* ... and changed nothing. */
    assert_int_equal(mine[100], 0x5a);
    /* The owner still writes, the reader sees it. */
    mine[100] = 0x6b;
    assert_int_equal(ro[100], 0x6b);
    /* Control: a writable mapping of our own page does not fault. */
    assert_false(write_faults(mine + 200, 1));

    assert_int_equal(e->dom0->ops->unmap_grants(e->dom0, (void *)ro, 1), 0);
    assert_int_equal(e->front->ops->unshare_pages(e->front, mine, 1), 0);
}

static void test_hostile_revoked_grant(void **state)
{
    struct env *e = *state;
    vg_gref_t refs[2];

    uint8_t *mine = e->front->ops->share_pages(e->front, 0, 2, refs, true);
    assert_non_null(mine);
    memcpy(mine, "secret-free data", 17);
    uint8_t *theirs = e->dom0->ops->map_grants(e->dom0, FRONT, 1, refs, false);
    assert_non_null(theirs);

    assert_int_equal(e->front->ops->unshare_pages(e->front, mine, 2), 0);
    assert_int_equal(vg_fake_live_grants(e->w, FRONT), 0);
    /* Revoked: no new mapping, not even of the page nobody had mapped. */
    assert_null(e->dom0->ops->map_grants(e->dom0, FRONT, 1, &refs[0], false));
    assert_int_equal(errno, ENOENT);
    assert_null(e->dom0->ops->map_grants(e->dom0, FRONT, 1, &refs[1], false));
    /* The existing mapping stays readable until unmapped (gntalloc). */
    assert_int_equal(vg_fake_live_mappings(e->w, FRONT), 1);
    assert_memory_equal(theirs, "secret-free data", 17);
    /* Copy is refused too. */
    uint8_t buf[4];
    struct vg_copy_seg seg = { .to_foreign = false, .domid = FRONT, .ref = refs[0],
                               .len = 4, .local = buf };
    assert_int_equal(e->dom0->ops->grant_copy(e->dom0, 1, &seg), 0);
    assert_true(seg.status < 0);

    assert_int_equal(e->dom0->ops->unmap_grants(e->dom0, theirs, 1), 0);
    assert_int_equal(vg_fake_live_mappings(e->w, FRONT), 0);

    /* Unsharing twice, or something never shared, fails. */
    assert_int_equal(e->front->ops->unshare_pages(e->front, mine, 2), -1);
    assert_int_equal(errno, EINVAL);
}

static void test_hostile_batch_one_bad_ref(void **state)
{
    struct env *e = *state;
    vg_gref_t refs[4];

    uint8_t *mine = e->front->ops->share_pages(e->front, 0, 3, refs, true);
    assert_non_null(mine);
    vg_gref_t ro_ref;
    void *ro = e->front->ops->share_pages(e->front, 0, 1, &ro_ref, false);
    assert_non_null(ro);

    /* One bad ref anywhere in the batch fails all of it. */
    vg_gref_t batch[4] = { refs[0], refs[1], 999999, refs[2] };
    assert_null(e->dom0->ops->map_grants(e->dom0, FRONT, 4, batch, false));
    assert_int_equal(errno, ENOENT);
    /* A read-only grant in a writable batch likewise. */
    vg_gref_t mixed[4] = { refs[0], refs[1], refs[2], ro_ref };
    assert_null(e->dom0->ops->map_grants(e->dom0, FRONT, 4, mixed, true));
    assert_int_equal(errno, EPERM);
    assert_int_equal(vg_fake_live_mappings(e->w, FRONT), 0);
    assert_int_equal(e->dom0->counters.maps, 0);

    /* Read-only, the same batch maps. */
    void *ok = e->dom0->ops->map_grants(e->dom0, FRONT, 4, mixed, false);
    assert_non_null(ok);
    assert_int_equal(vg_fake_live_mappings(e->w, FRONT), 4);

    /* Unmap must name a live mapping exactly. */
    assert_int_equal(e->dom0->ops->unmap_grants(e->dom0, ok, 3), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(e->dom0->ops->unmap_grants(e->dom0, (uint8_t *)ok + VG_PAGE_SIZE, 3), -1);
    assert_int_equal(e->front->ops->unmap_grants(e->front, ok, 4), -1);
    assert_int_equal(e->dom0->ops->unmap_grants(e->dom0, ok, 4), 0);
    assert_int_equal(e->dom0->ops->unmap_grants(e->dom0, ok, 4), -1);

    assert_int_equal(e->front->ops->unshare_pages(e->front, ro, 1), 0);
    assert_int_equal(e->front->ops->unshare_pages(e->front, mine, 3), 0);
}

static void test_grant_copy_both_ways(void **state)
{
    struct env *e = *state;
    vg_gref_t rw, ro;

    uint8_t *rw_page = e->front->ops->share_pages(e->front, 0, 1, &rw, true);
    uint8_t *ro_page = e->front->ops->share_pages(e->front, 0, 1, &ro, false);
    assert_non_null(rw_page);
    assert_non_null(ro_page);
    memcpy(rw_page + 10, "hello", 5);
    memcpy(ro_page + 4090, "tail!!", 6);

    char in1[5], in2[6];
    char out[] = "WORLD";
    struct vg_copy_seg segs[] = {
        { .to_foreign = false, .domid = FRONT, .ref = rw, .offset = 10, .len = 5, .local = in1 },
        { .to_foreign = false, .domid = FRONT, .ref = ro, .offset = 4090, .len = 6, .local = in2 },
        { .to_foreign = true, .domid = FRONT, .ref = rw, .offset = 100, .len = 5, .local = out },
        /* Refused: copy into a read-only grant. */
        { .to_foreign = true, .domid = FRONT, .ref = ro, .offset = 0, .len = 5, .local = out },
        /* Refused: crosses the page end. */
        { .to_foreign = false, .domid = FRONT, .ref = rw, .offset = 4090, .len = 7, .local = in2 },
        /* Refused: no such ref, no such domain. */
        { .to_foreign = false, .domid = FRONT, .ref = 4242, .offset = 0, .len = 1, .local = in2 },
        { .to_foreign = false, .domid = 99, .ref = rw, .offset = 0, .len = 1, .local = in2 },
    };
    assert_int_equal(e->dom0->ops->grant_copy(e->dom0, 7, segs), 0);
    assert_int_equal(segs[0].status, 0);
    assert_memory_equal(in1, "hello", 5);
    assert_int_equal(segs[1].status, 0);
    assert_memory_equal(in2, "tail!!", 6);
    assert_int_equal(segs[2].status, 0);
    assert_memory_equal(rw_page + 100, "WORLD", 5);
    assert_true(segs[3].status < 0);
    assert_int_equal(ro_page[0], 0);
    assert_true(segs[4].status < 0);
    assert_true(segs[5].status < 0);
    assert_true(segs[6].status < 0);
    assert_int_equal(e->dom0->counters.copy_batches, 1);
    assert_int_equal(e->dom0->counters.copies, 7);

    /* Somebody else may not copy from our grants. */
    struct vg_copy_seg steal = { .domid = FRONT, .ref = rw, .len = 5, .local = in1 };
    memset(in1, 0, sizeof(in1));
    assert_int_equal(e->other->ops->grant_copy(e->other, 1, &steal), 0);
    assert_true(steal.status < 0);
    assert_int_equal(in1[0], 0);

    assert_int_equal(e->front->ops->unshare_pages(e->front, rw_page, 1), 0);
    assert_int_equal(e->front->ops->unshare_pages(e->front, ro_page, 1), 0);
}

/* ---------------------------------------------------------------- */
/* event channels                                                    */
/* ---------------------------------------------------------------- */

/* Connect front (offering) to dom0; returns both ports. */
static void connect_pair(struct env *e, vg_port_t *fport, vg_port_t *bport)
{
    int fp = e->front->ops->evtchn_bind_unbound(e->front, 0);
    assert_true(fp > 0);
    int bp = e->dom0->ops->evtchn_bind_interdomain(e->dom0, FRONT, (vg_port_t)fp);
    assert_true(bp > 0);
    *fport = (vg_port_t)fp;
    *bport = (vg_port_t)bp;
}

static void test_evtchn_notify_pending_unmask(void **state)
{
    struct env *e = *state;
    vg_port_t fp, bp;
    int ffd = e->front->ops->evtchn_fd(e->front);

    connect_pair(e, &fp, &bp);
    assert_int_equal(vg_fake_bound_ports(e->w, FRONT), 1);
    assert_int_equal(vg_fake_bound_ports(e->w, 0), 1);
    assert_false(fd_readable(ffd));
    assert_int_equal(e->front->ops->evtchn_pending(e->front), -1);
    assert_int_equal(errno, EAGAIN);

    assert_int_equal(e->dom0->ops->evtchn_notify(e->dom0, bp), 0);
    assert_true(fd_readable(ffd));
    assert_int_equal(e->front->ops->evtchn_pending(e->front), (int)fp);
    assert_false(fd_readable(ffd));
    assert_int_equal(e->front->ops->evtchn_pending(e->front), -1);
    assert_int_equal(errno, EAGAIN);

    /* Notified while masked: stays pending, delivered after unmask. */
    assert_int_equal(e->dom0->ops->evtchn_notify(e->dom0, bp), 0);
    assert_false(fd_readable(ffd));
    assert_int_equal(e->front->ops->evtchn_pending(e->front), -1);
    assert_int_equal(e->front->ops->evtchn_unmask(e->front, fp), 0);
    assert_true(fd_readable(ffd));
    assert_int_equal(e->front->ops->evtchn_pending(e->front), (int)fp);
    assert_int_equal(e->front->ops->evtchn_unmask(e->front, fp), 0);
    assert_false(fd_readable(ffd));

    /* The other direction. */
    int bfd = e->dom0->ops->evtchn_fd(e->dom0);
    assert_int_equal(e->front->ops->evtchn_notify(e->front, fp), 0);
    assert_true(fd_readable(bfd));
    assert_int_equal(e->dom0->ops->evtchn_pending(e->dom0), (int)bp);
    assert_int_equal(e->dom0->ops->evtchn_unmask(e->dom0, bp), 0);
    assert_int_equal(e->front->counters.notifies, 1);
    assert_int_equal(e->dom0->counters.notifies, 2);
}

static void test_hostile_evtchn_notify_storm(void **state)
{
    struct env *e = *state;
    vg_port_t fp, bp;

    connect_pair(e, &fp, &bp);
    /* A peer firing in a loop costs the receiver one pending port. */
    for (int i = 0; i < 10000; i++)
        assert_int_equal(e->front->ops->evtchn_notify(e->front, fp), 0);
    assert_int_equal(e->dom0->ops->evtchn_pending(e->dom0), (int)bp);
    assert_int_equal(e->dom0->ops->evtchn_pending(e->dom0), -1);
    assert_int_equal(e->dom0->ops->evtchn_unmask(e->dom0, bp), 0);
    assert_int_equal(e->dom0->ops->evtchn_pending(e->dom0), -1);
    assert_false(fd_readable(e->dom0->ops->evtchn_fd(e->dom0)));
    assert_int_equal(e->front->counters.notifies, 10000);
}

static void test_hostile_evtchn_bind_not_offered(void **state)
{
    struct env *e = *state;

    /* Offered to OTHER: dom0 may not take it. */
    int fp = e->front->ops->evtchn_bind_unbound(e->front, OTHER);
    assert_true(fp > 0);
    assert_int_equal(e->dom0->ops->evtchn_bind_interdomain(e->dom0, FRONT, (vg_port_t)fp), -1);
    assert_int_equal(errno, EINVAL);
    /* Nonexistent, reserved and out-of-range ports. */
    assert_int_equal(e->dom0->ops->evtchn_bind_interdomain(e->dom0, FRONT, 0), -1);
    assert_int_equal(e->dom0->ops->evtchn_bind_interdomain(e->dom0, FRONT, 4000), -1);
    assert_int_equal(e->dom0->ops->evtchn_bind_interdomain(e->dom0, FRONT, 0xffffffffu), -1);
    assert_int_equal(e->dom0->ops->evtchn_bind_interdomain(e->dom0, 55, 1), -1);
    assert_int_equal(errno, ESRCH);
    /* Once connected, nobody else can bind it. */
    int op = e->other->ops->evtchn_bind_interdomain(e->other, FRONT, (vg_port_t)fp);
    assert_true(op > 0);
    assert_int_equal(e->other->ops->evtchn_bind_interdomain(e->other, FRONT, (vg_port_t)fp), -1);
    /* Ports of another domain or another handle are not ours to use. */
    assert_int_equal(e->dom0->ops->evtchn_notify(e->dom0, (vg_port_t)op), -1);
    assert_int_equal(errno, EINVAL);
    struct vg_hyp *front2 = vg_fake_open(e->w, FRONT);
    assert_non_null(front2);
    assert_int_equal(front2->ops->evtchn_notify(front2, (vg_port_t)fp), -1);
    assert_int_equal(front2->ops->evtchn_unbind(front2, (vg_port_t)fp), -1);
    assert_int_equal(front2->ops->evtchn_unmask(front2, (vg_port_t)fp), -1);
    vg_hyp_close(front2);
    assert_int_equal(vg_fake_bound_ports(e->w, FRONT), 1);
}

static void test_evtchn_unbind_closes_peer(void **state)
{
    struct env *e = *state;
    vg_port_t fp, bp;

    connect_pair(e, &fp, &bp);
    assert_int_equal(e->front->ops->evtchn_unbind(e->front, fp), 0);
    assert_int_equal(vg_fake_bound_ports(e->w, FRONT), 0);
    assert_int_equal(e->dom0->ops->evtchn_notify(e->dom0, bp), -1);
    assert_int_equal(errno, ENOTCONN);
    assert_int_equal(e->dom0->ops->evtchn_unbind(e->dom0, bp), 0);
    assert_int_equal(e->dom0->ops->evtchn_unbind(e->dom0, bp), -1);
    assert_int_equal(vg_fake_bound_ports(e->w, 0), 0);

    /* Closing a handle unbinds its ports. */
    connect_pair(e, &fp, &bp);
    vg_hyp_close(e->front);
    e->front = vg_fake_open(e->w, FRONT);
    assert_non_null(e->front);
    assert_int_equal(vg_fake_bound_ports(e->w, FRONT), 0);
    assert_int_equal(e->dom0->ops->evtchn_notify(e->dom0, bp), -1);
}

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
    assert_int_equal(drain_watches(f), 1);

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
    assert_int_equal(drain_watches(f), 0);
    assert_int_equal(f->ops->xs_tx_end(f, t, false), 0);
    v = f->ops->xs_read(f, 0, "k/child", NULL);
    assert_string_equal(v, "c");
    free(v);
    expect_watch(f, "k", "tk");
    expect_watch(f, "k/child", "tk");
    assert_int_equal(drain_watches(f), 0);
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
    assert_int_equal(drain_watches(f), 0);

    /* Abort: nothing applied, no event. */
    t = f->ops->xs_tx_start(f);
    assert_int_equal(f->ops->xs_rm(f, t, "k"), 0);
    assert_null(f->ops->xs_read(f, t, "k", NULL));
    assert_int_equal(f->ops->xs_tx_end(f, t, true), 0);
    v = f->ops->xs_read(f, 0, "k", NULL);
    assert_string_equal(v, "new");
    free(v);
    assert_int_equal(drain_watches(f), 0);

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

    assert_false(fd_readable(fd));
    /* Fires once at registration, like xenstored, even if the node is missing. */
    assert_int_equal(b->ops->xs_watch(b, "/local/domain/1/device", "dev"), 0);
    assert_true(fd_readable(fd));
    expect_watch(b, "/local/domain/1/device", "dev");
    assert_false(fd_readable(fd));
    assert_int_equal(b->ops->xs_watch(b, "/local/domain/1/device", "dev"), -1);
    assert_int_equal(errno, EEXIST);

    /* Subtree writes fire with the changed path. */
    assert_int_equal(e->front->ops->xs_write(e->front, 0, "device/vg/0/state", "1"), 0);
    assert_true(fd_readable(fd));
    expect_watch(b, "/local/domain/1/device/vg/0/state", "dev");
    /* Siblings with a common prefix do not. */
    assert_int_equal(e->front->ops->xs_write(e->front, 0, "device-other", "1"), 0);
    assert_int_equal(e->front->ops->xs_mkdir(e->front, 0, "device/vg/1"), 0);
    expect_watch(b, "/local/domain/1/device/vg/1", "dev");
    struct vg_xs_perm p[] = { { FRONT, VG_XS_PERM_NONE }, { 0, VG_XS_PERM_READ } };
    assert_int_equal(e->front->ops->xs_set_perms(e->front, 0, "device/vg/1", p, 2), 0);
    expect_watch(b, "/local/domain/1/device/vg/1", "dev");
    assert_int_equal(drain_watches(b), 0);

    /* Removing an ancestor fires the watched path. */
    assert_int_equal(b->ops->xs_watch(b, "/local/domain/1/device/vg/0/state", "st"), 0);
    expect_watch(b, "/local/domain/1/device/vg/0/state", "st");
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
    assert_false(fd_readable(fd));

    /* Unwatch stops it and drops its queued events. */
    assert_int_equal(e->front->ops->xs_write(e->front, 0, "device/x", "1"), 0);
    assert_int_equal(b->ops->xs_unwatch(b, "/local/domain/1/device", "dev"), 0);
    assert_false(fd_readable(fd));
    assert_int_equal(e->front->ops->xs_write(e->front, 0, "device/y", "1"), 0);
    assert_int_equal(drain_watches(b), 0);
    assert_int_equal(b->ops->xs_unwatch(b, "/local/domain/1/device", "dev"), -1);
    assert_int_equal(errno, ENOENT);

    /* Relative watches report relative paths; truncation is safe. */
    assert_int_equal(e->front->ops->xs_watch(e->front, "device", "rel"), 0);
    assert_int_equal(e->front->ops->xs_write(e->front, 0, "device/z", "1"), 0);
    expect_watch(e->front, "device", "rel");
    expect_watch(e->front, "device/z", "rel");
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
    assert_int_equal(drain_watches(e->other), 1);
    assert_int_equal(e->front->ops->xs_write(e->front, 0, "secret", "s"), 0);
    assert_int_equal(e->front->ops->xs_rm(e->front, 0, "secret"), 0);
    assert_int_equal(drain_watches(e->other), 0);
    assert_false(fd_readable(e->other->ops->xs_fd(e->other)));
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
    expect_watch(e->dom0, "/local/domain/1/after", "flood");

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
    connect_pair(e, &fp, &bp);
    assert_int_equal(e->front->ops->xs_write(e->front, 0, "device/x", "1"), 0);
    assert_int_equal(e->dom0->ops->xs_watch(e->dom0, "@releaseDomain", "rel"), 0);
    assert_int_equal(e->dom0->ops->xs_watch(e->dom0, "/local/domain/1/device/x", "dx"), 0);
    assert_int_equal(drain_watches(e->dom0), 2);
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
    assert_true(fd_readable(e->front->ops->xs_fd(e->front)));
    assert_true(fd_readable(e->front->ops->evtchn_fd(e->front)));
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
    /* Closing the dead domain's handle releases its view (teardown). */
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
struct ping {
    struct vg_hyp *h;
    vg_port_t port;
    int rounds;
};

static void *ping_thread(void *arg)
{
    struct ping *p = arg;
    int fd = p->h->ops->evtchn_fd(p->h);

    for (int i = 0; i < p->rounds; i++) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        if (poll(&pfd, 1, 5000) != 1)
            return (void *)1;
        int port = p->h->ops->evtchn_pending(p->h);
        if (port != (int)p->port)
            return (void *)2;
        if (p->h->ops->evtchn_unmask(p->h, p->port) < 0 ||
            p->h->ops->evtchn_notify(p->h, p->port) < 0)
            return (void *)3;
    }
    return NULL;
}

static void test_evtchn_two_threads(void **state)
{
    struct env *e = *state;
    vg_port_t fp, bp;
    pthread_t th;
    void *res;

    connect_pair(e, &fp, &bp);
    struct ping echo = { .h = e->dom0, .port = bp, .rounds = 500 };
    assert_int_equal(pthread_create(&th, NULL, ping_thread, &echo), 0);
    int fd = e->front->ops->evtchn_fd(e->front);
    for (int i = 0; i < 500; i++) {
        assert_int_equal(e->front->ops->evtchn_notify(e->front, fp), 0);
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        assert_int_equal(poll(&pfd, 1, 5000), 1);
        assert_int_equal(e->front->ops->evtchn_pending(e->front), (int)fp);
        assert_int_equal(e->front->ops->evtchn_unmask(e->front, fp), 0);
    }
    assert_int_equal(pthread_join(th, &res), 0);
    assert_null(res);
    assert_int_equal(e->dom0->counters.notifies, 500);
}
static unsigned open_fds(void)
{
    unsigned n = 0;
    for (int fd = 0; fd < 4096; fd++)
        n += fcntl(fd, F_GETFD) >= 0;
    return n;
}

static void test_share_recycles_zeroed_pages(void **state)
{
    struct env *e = *state;
    vg_gref_t ref, refs[64];

    uint8_t *p = e->front->ops->share_pages(e->front, 0, 1, &ref, true);
    assert_non_null(p);
    memset(p, 0xee, VG_PAGE_SIZE);
    assert_int_equal(e->front->ops->unshare_pages(e->front, p, 1), 0);
    /* The next share may reuse the page, but never its old contents. */
    for (int round = 0; round < 3; round++) {
        uint8_t *q = e->front->ops->share_pages(e->front, 0, 64, refs, true);
        assert_non_null(q);
        for (unsigned i = 0; i < 64 * VG_PAGE_SIZE; i++)
            assert_int_equal(q[i], 0);
        memset(q, 0xdd, 64 * VG_PAGE_SIZE);
        assert_int_equal(e->front->ops->unshare_pages(e->front, q, 64), 0);
    }
    /* A revoked ref is not handed out again right away. */
    assert_int_not_equal(refs[0], ref);

    /* Thousands of outstanding shares cost no file descriptors. */
    unsigned before = open_fds();
    static void *many[2000];
    for (int i = 0; i < 2000; i++) {
        many[i] = e->front->ops->share_pages(e->front, 0, 1, &ref, true);
        assert_non_null(many[i]);
    }
    assert_true(open_fds() <= before + 1);
    assert_int_equal(vg_fake_live_grants(e->w, FRONT), 2000);
    for (int i = 0; i < 2000; i++)
        assert_int_equal(e->front->ops->unshare_pages(e->front, many[i], 1), 0);
    assert_int_equal(vg_fake_live_grants(e->w, FRONT), 0);
}

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
        cmocka_unit_test_setup_teardown(test_share_map_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_grant_never_granted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_write_into_readonly_grant, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_revoked_grant, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_batch_one_bad_ref, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grant_copy_both_ways, setup, teardown),
        cmocka_unit_test_setup_teardown(test_evtchn_notify_pending_unmask, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_evtchn_notify_storm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_evtchn_bind_not_offered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_evtchn_unbind_closes_peer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xs_read_write_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_xs_bad_paths_and_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_xs_perms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xs_perm_inheritance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xs_transactions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_xs_transaction_flood, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xs_watches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_xs_watch_no_leak_across_domains, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_xs_watch_queue_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_domain_destroy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_domain_destroy_while_mapped_by_dead, setup, teardown),
        cmocka_unit_test_setup_teardown(test_evtchn_two_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_share_recycles_zeroed_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_xs_node_quota, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
