/* SPDX-License-Identifier: MIT */
/*
 * How vgrantd runs the file I/O its device models ask for (devmodel.h
 * struct vgd_io): asynchronously through io_uring (aio_uring.c), so that
 * every request of a round is in the kernel at once and a slow backing
 * file holds up only its own queue; or, without an executor (io_uring
 * unavailable, --io=sync), synchronously in the serving loop.
 *
 * An executor is a small table of callbacks, like a transport mode: the
 * daemon owns one for all its devices; the unit tests bring their own to
 * hold completions back or fail them (tests/unit/aio_held.c).
 *
 * Contract:
 *   - submit() queues one I/O, of any number of iovecs; -1 means it
 *     cannot be queued now (ring full) and the caller runs it with
 *     vgd_io_run_sync;
 *   - flush() hands what was queued to the kernel;
 *   - reap() calls op->done for every finished I/O without blocking, and
 *     wait() blocks until at least one I/O finished, then reaps;
 *   - op->done gets the whole length (flush: 0) or -errno, never a short
 *     transfer: the executor finishes a short one synchronously;
 *   - the memory of an I/O (io->iov) must stay valid until its done ran:
 *     a queue drains its round (vgd_serve_drain) before it unmaps.
 */
#ifndef VGRANT_BACKEND_AIO_H
#define VGRANT_BACKEND_AIO_H

#include <stdint.h>
#include <sys/types.h>

#include "devmodel.h"

struct vgd_aio;

/* One I/O in an executor; embedded in the request's slot (transport.h). */
struct vgd_aio_op {
    struct vgd_io *io;
    void (*done)(struct vgd_aio_op *op, ssize_t result);
    /* the executor's: an I/O of more iovecs than one system call takes
     * (IOV_MAX) goes to the kernel in parts, one after the other; the
     * part in flight is iov[part_iov .. part_iov + part_niov), starting
     * part_start bytes into the I/O */
    unsigned part_iov, part_niov;
    size_t part_start, part_len;
};

struct vgd_aio_ops {
    const char *name;
    int (*submit)(struct vgd_aio *a, struct vgd_aio_op *op);
    void (*flush)(struct vgd_aio *a);
    unsigned (*reap)(struct vgd_aio *a);
    /* 0, or -1 (errno) when nothing can complete: the caller gives up */
    int (*wait)(struct vgd_aio *a);
    /* readable when completions wait (for epoll); -1: none */
    int (*fd)(struct vgd_aio *a);
    void (*free)(struct vgd_aio *a);
};

struct vgd_aio {
    const struct vgd_aio_ops *ops;
    unsigned in_flight;        /* submitted, done not yet called */
};

/* io_uring with room for `entries` queued submissions (the in-flight
 * total is not bounded by it).  NULL with errno when the kernel or a
 * seccomp filter refuses io_uring. */
struct vgd_aio *vgd_aio_uring_new(unsigned entries);

/* Run io to the end in the calling thread: the whole length (flush: 0) or
 * -errno (-ENODATA: end of file inside the range).  skip: bytes already
 * done (an asynchronous I/O that came back short). */
ssize_t vgd_io_run_sync(const struct vgd_io *io, size_t skip);

/* Bookkeeping for executors: call from submit (after queueing) and
 * before op->done. */
static inline void vgd_aio_count_submit(struct vgd_aio *a)
{
    a->in_flight++;
}

static inline void vgd_aio_count_done(struct vgd_aio *a)
{
    a->in_flight--;
}

#endif /* VGRANT_BACKEND_AIO_H */
