/* SPDX-License-Identifier: MIT */
/* The controllable executor of the vgrantd tests, see aio_held.h. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "aio_held.h"

static void log_event(struct held_aio *h, const struct vgd_io *io,
                      bool completed)
{
    int fl = fcntl(io->fd, F_GETFL);

    if (h->nlog < sizeof(h->log) / sizeof(h->log[0]))
        h->log[h->nlog++] = (struct held_event){
            .op = io->op, .offset = io->offset, .completed = completed,
            .direct = fl >= 0 && (fl & O_DIRECT) };
}

static void signal_ready(struct held_aio *h)
{
    uint64_t one = 1;

    assert_int_equal(write(h->efd, &one, sizeof(one)), sizeof(one));
}

static bool holds(struct held_aio *h, const struct vgd_io *io)
{
    struct stat st;

    if (h->hold_all)
        return true;
    if (!h->hold_inode_set || fstat(io->fd, &st))
        return false;
    return (uint64_t)st.st_dev == h->hold_dev &&
           (uint64_t)st.st_ino == h->hold_ino;
}

static int held_submit(struct vgd_aio *a, struct vgd_aio_op *op)
{
    struct held_aio *h = (struct held_aio *)a;

    if (h->n == HELD_MAX_OPS)
        return -1;
    h->op[h->n] = op;
    h->held[h->n] = holds(h, op->io);
    h->n++;
    log_event(h, op->io, false);
    vgd_aio_count_submit(a);
    return 0;
}

static void held_flush(struct vgd_aio *a)
{
    signal_ready((struct held_aio *)a);
}

static unsigned held_reap(struct vgd_aio *a)
{
    struct held_aio *h = (struct held_aio *)a;
    struct vgd_aio_op *ready[HELD_MAX_OPS];
    unsigned nready = 0, keep = 0;
    uint64_t v;

    if (read(h->efd, &v, sizeof(v)) < 0)
        assert_int_equal(errno, EAGAIN);
    for (unsigned i = 0; i < h->n; i++) {
        if (h->held[i]) {
            h->op[keep] = h->op[i];
            h->held[keep] = true;
            keep++;
        } else {
            ready[nready++] = h->op[i];
        }
    }
    h->n = keep;
    /* newest first: completions out of submission order */
    for (unsigned i = nready; i-- > 0;) {
        struct vgd_aio_op *op = ready[i];
        ssize_t r;

        if (h->fail_count && op->io->op == h->fail_op) {
            h->fail_count--;
            r = -h->fail_errno;
        } else {
            r = vgd_io_run_sync(op->io, 0);
        }
        log_event(h, op->io, true);
        vgd_aio_count_done(a);
        op->done(op, r);      /* may submit more (after a FLUSH) */
    }
    return nready;
}

static int held_wait(struct vgd_aio *a)
{
    struct held_aio *h = (struct held_aio *)a;

    if (!h->n) {
        errno = ENOENT;
        return -1;
    }
    held_release(h);
    held_reap(a);
    return 0;
}

static int held_fd(struct vgd_aio *a)
{
    return ((struct held_aio *)a)->efd;
}

static void held_ops_free(struct vgd_aio *a)
{
    (void)a;   /* the test frees it with held_free */
}

static const struct vgd_aio_ops held_ops = {
    .name = "held (test)",
    .submit = held_submit,
    .flush = held_flush,
    .reap = held_reap,
    .wait = held_wait,
    .fd = held_fd,
    .free = held_ops_free,
};

struct held_aio *held_new(void)
{
    struct held_aio *h = calloc(1, sizeof(*h));

    assert_non_null(h);
    h->a.ops = &held_ops;
    h->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    assert_true(h->efd >= 0);
    return h;
}

void held_free(struct held_aio *h)
{
    if (!h)
        return;
    close(h->efd);
    free(h);
}

void held_hold_file(struct held_aio *h, const char *path)
{
    struct stat st;

    assert_int_equal(stat(path, &st), 0);
    h->hold_dev = (uint64_t)st.st_dev;
    h->hold_ino = (uint64_t)st.st_ino;
    h->hold_inode_set = true;
}

void held_release(struct held_aio *h)
{
    h->hold_all = false;
    h->hold_inode_set = false;
    for (unsigned i = 0; i < h->n; i++)
        h->held[i] = false;
    signal_ready(h);
}

void held_release_oldest(struct held_aio *h, unsigned k)
{
    for (unsigned i = 0; i < h->n && i < k; i++)
        h->held[i] = false;
    signal_ready(h);
}

unsigned held_pending(const struct held_aio *h)
{
    return h->n;
}

unsigned held_count(const struct held_aio *h, enum vgd_io_op op,
                    bool completed)
{
    unsigned n = 0;

    for (unsigned i = 0; i < h->nlog; i++)
        n += h->log[i].op == op && h->log[i].completed == completed;
    return n;
}
