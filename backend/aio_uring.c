/* SPDX-License-Identifier: MIT */
/*
 * The io_uring executor of aio.h (liburing), and the synchronous runner
 * every executor falls back to.
 *
 * One ring for the whole daemon, polled from the event loop through its
 * fd: the loop sleeps in epoll_wait until a completion (or a kick, or a
 * watch) arrives, so there is no completion thread and no lock.  Each
 * round's I/Os are queued as SQEs and handed to the kernel with one
 * io_uring_submit; completions come back in any order, each naming its
 * op through user_data.
 *
 * A readv/writev takes at most IOV_MAX iovecs.  A request may have more
 * (persistent mode cuts its buffers into one iovec per page piece: 64
 * segments of 64 KiB that do not start on a page boundary are 1088), so
 * such an I/O goes in parts of at most IOV_MAX iovecs, each queued when
 * the one before it completed; the I/O is done when its last part is.
 * It never runs synchronously in the daemon's loop because of its shape:
 * that would let one guest stall every other (issue 13, finding 2).
 *
 * Buffered I/O on a regular file may complete short (a signal, memory
 * pressure); the rest is then done synchronously here, so a model only
 * ever sees the whole length or an error.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <liburing.h>

#include "aio.h"
#include "vgrant/log.h"

struct aio_uring {
    struct vgd_aio a;          /* first: the executor's public part */
    struct io_uring ring;
};

/* Whole transfer at io->offset + skip; short reads/writes and EINTR are
 * retried, IOV_MAX entries at a time. */
ssize_t vgd_io_run_sync(const struct vgd_io *io, size_t skip)
{
    struct iovec local[64];
    size_t done = skip;
    unsigned i = 0;
    size_t into = 0;           /* bytes of iov[i] already done */

    if (io->op == VGD_IO_FLUSH)
        return fdatasync(io->fd) ? -errno : 0;
    /* find where skip bytes end */
    while (i < io->niov && skip >= io->iov[i].iov_len - into) {
        skip -= io->iov[i].iov_len - into;
        into = 0;
        i++;
    }
    into += skip;
    while (done < io->len && i < io->niov) {
        unsigned n = 0;
        ssize_t r;

        /* a private window of up to 64 iovecs, the first trimmed */
        for (unsigned k = i; k < io->niov && n < 64; k++, n++) {
            local[n] = io->iov[k];
            if (k == i) {
                local[n].iov_base = (char *)local[n].iov_base + into;
                local[n].iov_len -= into;
            }
        }
        r = io->op == VGD_IO_READ ?
            preadv(io->fd, local, (int)n, (off_t)(io->offset + done)) :
            pwritev(io->fd, local, (int)n, (off_t)(io->offset + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            return io->op == VGD_IO_READ ? -ENODATA : -EIO;
        done += (size_t)r;
        /* advance (i, into) by r bytes */
        while (r > 0 && i < io->niov) {
            size_t left = io->iov[i].iov_len - into;

            if ((size_t)r < left) {
                into += (size_t)r;
                r = 0;
            } else {
                r -= (ssize_t)left;
                into = 0;
                i++;
            }
        }
    }
    return done == io->len ? (ssize_t)io->len : -EIO;
}

/* An SQE, handing the queued ones to the kernel if the queue is full. */
static struct io_uring_sqe *get_sqe(struct aio_uring *u)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

    if (!sqe) {
        io_uring_submit(&u->ring);
        sqe = io_uring_get_sqe(&u->ring);
    }
    return sqe;
}

/* Queue op's part from op->part_iov on: at most IOV_MAX iovecs. */
static int queue_part(struct aio_uring *u, struct vgd_aio_op *op)
{
    struct vgd_io *io = op->io;
    struct io_uring_sqe *sqe = get_sqe(u);
    unsigned n = io->niov - op->part_iov;
    const struct iovec *iov = io->iov + op->part_iov;

    if (!sqe)
        return -1;
    if (n > IOV_MAX)
        n = IOV_MAX;
    op->part_niov = n;
    op->part_len = 0;
    for (unsigned i = 0; i < n; i++)
        op->part_len += iov[i].iov_len;
    switch (io->op) {
    case VGD_IO_READ:
        io_uring_prep_readv(sqe, io->fd, iov, n, io->offset + op->part_start);
        break;
    case VGD_IO_WRITE:
        io_uring_prep_writev(sqe, io->fd, iov, n, io->offset + op->part_start);
        break;
    case VGD_IO_FLUSH:
    default:
        io_uring_prep_fsync(sqe, io->fd, IORING_FSYNC_DATASYNC);
        break;
    }
    io_uring_sqe_set_data(sqe, op);
    return 0;
}

static int uring_submit(struct vgd_aio *a, struct vgd_aio_op *op)
{
    op->part_iov = 0;
    op->part_start = 0;
    if (queue_part((struct aio_uring *)a, op))
        return -1;
    vgd_aio_count_submit(a);
    return 0;
}

static void uring_flush(struct vgd_aio *a)
{
    struct aio_uring *u = (struct aio_uring *)a;
    int rc;

    /* SQEs the kernel has not taken yet, including any a failed submit
     * left behind: the next flush hands them over again */
    if (!io_uring_sq_ready(&u->ring))
        return;
    do
        rc = io_uring_submit(&u->ring);
    while (rc == -EINTR);
    if (rc < 0)
        vg_err("io_uring_submit: %s", strerror(-rc));
}

static void complete(struct vgd_aio *a, struct vgd_aio_op *op, int res)
{
    struct vgd_io *io = op->io;
    ssize_t r = res;

    if (io->op == VGD_IO_FLUSH) {
        if (r > 0)
            r = 0;
    } else if (r >= 0 && (size_t)r < op->part_len) {
        /* short: the rest here (a read at end of file fails it) */
        r = vgd_io_run_sync(io, op->part_start + (size_t)r);
    } else if (r >= 0 && op->part_iov + op->part_niov < io->niov) {
        /* the next part; if no SQE is free now, the rest here */
        op->part_start += op->part_len;
        op->part_iov += op->part_niov;
        if (queue_part((struct aio_uring *)a, op) == 0)
            return;
        r = vgd_io_run_sync(io, op->part_start);
    } else if (r >= 0) {
        r = (ssize_t)io->len;
    }
    vgd_aio_count_done(a);
    op->done(op, r);
}

static unsigned uring_reap(struct vgd_aio *a)
{
    struct aio_uring *u = (struct aio_uring *)a;
    struct io_uring_cqe *cqe;
    unsigned n = 0;

    while (io_uring_peek_cqe(&u->ring, &cqe) == 0) {
        struct vgd_aio_op *op = io_uring_cqe_get_data(cqe);
        int res = cqe->res;

        io_uring_cqe_seen(&u->ring, cqe);
        /* op->done may queue more I/O (the rest of a round after a
         * FLUSH): the CQE is released first */
        complete(a, op, res);
        n++;
    }
    uring_flush(a);     /* parts queued by complete() */
    return n;
}

static int uring_wait(struct vgd_aio *a)
{
    struct aio_uring *u = (struct aio_uring *)a;
    struct io_uring_cqe *cqe;
    int rc;

    if (!a->in_flight) {
        errno = ENOENT;
        return -1;
    }
    uring_flush(a);
    do
        rc = io_uring_wait_cqe(&u->ring, &cqe);
    while (rc == -EINTR);
    if (rc < 0) {
        errno = -rc;
        return -1;
    }
    uring_reap(a);
    return 0;
}

static int uring_fd(struct vgd_aio *a)
{
    return ((struct aio_uring *)a)->ring.ring_fd;
}

static void uring_free(struct vgd_aio *a)
{
    struct aio_uring *u = (struct aio_uring *)a;

    io_uring_queue_exit(&u->ring);
    free(u);
}

static const struct vgd_aio_ops uring_ops = {
    .name = "io_uring",
    .submit = uring_submit,
    .flush = uring_flush,
    .reap = uring_reap,
    .wait = uring_wait,
    .fd = uring_fd,
    .free = uring_free,
};

struct vgd_aio *vgd_aio_uring_new(unsigned entries)
{
    struct aio_uring *u = calloc(1, sizeof(*u));
    int rc;

    if (!u)
        return NULL;
    rc = io_uring_queue_init(entries, &u->ring, 0);
    if (rc < 0) {
        free(u);
        errno = -rc;
        return NULL;
    }
    /* Buffered writes (and reads the kernel cannot do with a page-lock
     * callback) run in io_uring's worker threads, of which a ring gets
     * only a few by default: a slow device blocking them all would stall
     * every other device's transfers behind it.  One worker per queued
     * transfer at most (they are created on demand). */
    {
        unsigned max[2] = { entries, 0 };   /* bounded, unbounded: as is */

        rc = io_uring_register_iowq_max_workers(&u->ring, max);
        if (rc < 0)
            vg_debug("io_uring: cannot raise the worker limit to %u: %s",
                     entries, strerror(-rc));
    }
    u->a.ops = &uring_ops;
    return &u->a;
}
