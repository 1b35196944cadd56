/* SPDX-License-Identifier: MIT */
/*
 * The fake hypervisor must enforce what Xen enforces, or every test built
 * on it proves nothing.  This file: grants and event channels;
 * test_hyp_fake_xs.c: xenstore permissions, transactions, watches and
 * domain destruction.
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


static void test_evtchn_notify_pending_unmask(void **state)
{
    struct env *e = *state;
    vg_port_t fp, bp;
    int ffd = e->front->ops->evtchn_fd(e->front);

    hft_connect_pair(e, &fp, &bp);
    assert_int_equal(vg_fake_bound_ports(e->w, FRONT), 1);
    assert_int_equal(vg_fake_bound_ports(e->w, 0), 1);
    assert_false(hft_fd_readable(ffd));
    assert_int_equal(e->front->ops->evtchn_pending(e->front), -1);
    assert_int_equal(errno, EAGAIN);

    assert_int_equal(e->dom0->ops->evtchn_notify(e->dom0, bp), 0);
    assert_true(hft_fd_readable(ffd));
    assert_int_equal(e->front->ops->evtchn_pending(e->front), (int)fp);
    assert_false(hft_fd_readable(ffd));
    assert_int_equal(e->front->ops->evtchn_pending(e->front), -1);
    assert_int_equal(errno, EAGAIN);

    /* Notified while masked: stays pending, delivered after unmask. */
    assert_int_equal(e->dom0->ops->evtchn_notify(e->dom0, bp), 0);
    assert_false(hft_fd_readable(ffd));
    assert_int_equal(e->front->ops->evtchn_pending(e->front), -1);
    assert_int_equal(e->front->ops->evtchn_unmask(e->front, fp), 0);
    assert_true(hft_fd_readable(ffd));
    assert_int_equal(e->front->ops->evtchn_pending(e->front), (int)fp);
    assert_int_equal(e->front->ops->evtchn_unmask(e->front, fp), 0);
    assert_false(hft_fd_readable(ffd));

    /* The other direction. */
    int bfd = e->dom0->ops->evtchn_fd(e->dom0);
    assert_int_equal(e->front->ops->evtchn_notify(e->front, fp), 0);
    assert_true(hft_fd_readable(bfd));
    assert_int_equal(e->dom0->ops->evtchn_pending(e->dom0), (int)bp);
    assert_int_equal(e->dom0->ops->evtchn_unmask(e->dom0, bp), 0);
    assert_int_equal(e->front->counters.notifies, 1);
    assert_int_equal(e->dom0->counters.notifies, 2);
}

static void test_hostile_evtchn_notify_storm(void **state)
{
    struct env *e = *state;
    vg_port_t fp, bp;

    hft_connect_pair(e, &fp, &bp);
    /* A peer firing in a loop costs the receiver one pending port. */
    for (int i = 0; i < 10000; i++)
        assert_int_equal(e->front->ops->evtchn_notify(e->front, fp), 0);
    assert_int_equal(e->dom0->ops->evtchn_pending(e->dom0), (int)bp);
    assert_int_equal(e->dom0->ops->evtchn_pending(e->dom0), -1);
    assert_int_equal(e->dom0->ops->evtchn_unmask(e->dom0, bp), 0);
    assert_int_equal(e->dom0->ops->evtchn_pending(e->dom0), -1);
    assert_false(hft_fd_readable(e->dom0->ops->evtchn_fd(e->dom0)));
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

    hft_connect_pair(e, &fp, &bp);
    assert_int_equal(e->front->ops->evtchn_unbind(e->front, fp), 0);
    assert_int_equal(vg_fake_bound_ports(e->w, FRONT), 0);
    assert_int_equal(e->dom0->ops->evtchn_notify(e->dom0, bp), -1);
    assert_int_equal(errno, ENOTCONN);
    assert_int_equal(e->dom0->ops->evtchn_unbind(e->dom0, bp), 0);
    assert_int_equal(e->dom0->ops->evtchn_unbind(e->dom0, bp), -1);
    assert_int_equal(vg_fake_bound_ports(e->w, 0), 0);

    /* Closing a handle unbinds its ports. */
    hft_connect_pair(e, &fp, &bp);
    vg_hyp_close(e->front);
    e->front = vg_fake_open(e->w, FRONT);
    assert_non_null(e->front);
    assert_int_equal(vg_fake_bound_ports(e->w, FRONT), 0);
    assert_int_equal(e->dom0->ops->evtchn_notify(e->dom0, bp), -1);
}


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

    hft_connect_pair(e, &fp, &bp);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_share_map_roundtrip, hft_setup, hft_teardown),
        cmocka_unit_test_setup_teardown(test_hostile_grant_never_granted, hft_setup, hft_teardown),
        cmocka_unit_test_setup_teardown(test_hostile_write_into_readonly_grant, hft_setup, hft_teardown),
        cmocka_unit_test_setup_teardown(test_hostile_revoked_grant, hft_setup, hft_teardown),
        cmocka_unit_test_setup_teardown(test_hostile_batch_one_bad_ref, hft_setup, hft_teardown),
        cmocka_unit_test_setup_teardown(test_grant_copy_both_ways, hft_setup, hft_teardown),
        cmocka_unit_test_setup_teardown(test_evtchn_notify_pending_unmask, hft_setup, hft_teardown),
        cmocka_unit_test_setup_teardown(test_hostile_evtchn_notify_storm, hft_setup, hft_teardown),
        cmocka_unit_test_setup_teardown(test_hostile_evtchn_bind_not_offered, hft_setup, hft_teardown),
        cmocka_unit_test_setup_teardown(test_evtchn_unbind_closes_peer, hft_setup, hft_teardown),
        cmocka_unit_test_setup_teardown(test_evtchn_two_threads, hft_setup, hft_teardown),
        cmocka_unit_test_setup_teardown(test_share_recycles_zeroed_pages, hft_setup, hft_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
