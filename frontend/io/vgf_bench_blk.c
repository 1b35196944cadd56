/* SPDX-License-Identifier: MIT */
/*
 * Benchmark driver for a virtio-grant block device: vgf_blk_submit_* keeps
 * `depth` I/Os in flight, vgf_blk_wait collects them; each I/O's latency
 * runs from its submit to the wait that returns it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vgrant/clock.h"
#include "vgf_bench_drv.h"
#include "vgrant_blk.h"
#include "vgrant/hyp.h"

#define WAIT_TIMEOUT_MS 30000

struct vgf_bench_blk {
    struct vg_hyp *h;
    struct vgf_blk *b;
    uint64_t cursor;           /* next offset, wraps inside the span */
    bool random;               /* --random: offsets from ionum instead */
    uint64_t seed;
    uint64_t ionum;            /* I/Os issued so far, every point */
};

/* One benchmark I/O; larger than vgf_blk_max_request it goes out as
 * several submits (pieces), like vgf_blk_read does, and completes when
 * the last piece is back. */
struct slot {
    bool busy;
    double t_submit;
    uint64_t off;
    uint64_t sent;             /* bytes submitted so far */
    unsigned pieces_out;       /* submitted, not yet returned */
    int err;
    uint8_t *buf;
};

struct vgf_bench_blk *vgf_bench_blk_open(unsigned devid, const struct vgf_opts *o)
{
    struct vgf_bench_blk *bb = calloc(1, sizeof(*bb));

    if (!bb)
        return NULL;
    bb->h = vg_hyp_xen_open(VG_HYP_NEED_GNTSHR | VG_HYP_NEED_EVTCHN | VG_HYP_NEED_XS);
    if (!bb->h) {
        fprintf(stderr, "vgrant-io: opening Xen interfaces: %s (run inside a "
                "Xen guest, as root)\n", strerror(errno));
        free(bb);
        return NULL;
    }
    bb->b = vgf_blk_open(bb->h, devid, o);
    if (!bb->b) {
        fprintf(stderr, "vgrant-io: opening virtio-grant device %u: %s\n",
                devid, strerror(errno));
        vg_hyp_close(bb->h);
        free(bb);
        return NULL;
    }
    return bb;
}

void vgf_bench_blk_close(struct vgf_bench_blk *bb)
{
    if (!bb)
        return;
    vgf_blk_close(bb->b);
    vg_hyp_close(bb->h);
    free(bb);
}

const char *vgf_bench_blk_mode(const struct vgf_bench_blk *bb)
{
    const char *m = vgf_mode(vgf_blk_dev(bb->b));

    return m && *m ? m : "grant";
}

uint64_t vgf_bench_blk_capacity(const struct vgf_bench_blk *bb)
{
    return vgf_blk_capacity(bb->b);
}

/* Submit what slot s still has to send; 1 when the queue has no room
 * right now, -1 on error. */
static int push_slot(struct vgf_bench_blk *bb, struct slot *s, bool write,
                     uint64_t size)
{
    size_t piece = vgf_blk_max_request(bb->b);

    while (s->sent < size) {
        size_t n = size - s->sent < piece ? (size_t)(size - s->sent) : piece;
        int rc = write ? vgf_blk_submit_write(bb->b, s->off + s->sent, s->buf + s->sent, n, s)
                       : vgf_blk_submit_read(bb->b, s->off + s->sent, s->buf + s->sent, n, s);

        if (rc && errno == EAGAIN && vgf_blk_in_flight(bb->b) > 0)
            return 1;
        if (rc)
            return -1;
        s->sent += n;
        s->pieces_out++;
    }
    return 0;
}

/* count I/Os (or until `seconds` passed when count is 0), latencies into
 * lat[cap] when lat is not NULL. */
static int run_ios(struct vgf_bench_blk *bb, struct slot *slots, bool write,
                   uint64_t size, unsigned depth, uint64_t span,
                   unsigned count, double seconds, double *lat, unsigned cap,
                   unsigned *done_out, double *elapsed)
{
    unsigned issued = 0, done = 0, inflight = 0;
    double t0 = vg_now_s(), stop_at = t0 + seconds;
    bool stop = false;

    while (!stop || inflight > 0) {
        void *cookie = NULL;
        bool full = false;
        struct slot *s;
        double t;
        int rc;

        /* finish partly sent I/Os first, then start new ones */
        for (unsigned i = 0; i < depth && !full; i++) {
            if (!slots[i].busy || slots[i].sent == size)
                continue;
            rc = push_slot(bb, &slots[i], write, size);
            if (rc < 0)
                goto fail;
            full = rc > 0;
        }
        while (!full && !stop && inflight < depth && (count == 0 || issued < count)) {
            unsigned i = 0;

            while (slots[i].busy)
                i++;
            s = &slots[i];
            if (bb->cursor + size > span)
                bb->cursor = 0;
            s->busy = true;
            s->off = bb->random ? vgf_bench_random_offset(bb->seed, bb->ionum, size, span)
                                : bb->cursor;
            bb->ionum++;
            s->sent = 0;
            s->pieces_out = 0;
            s->err = 0;
            s->t_submit = vg_now_s();
            bb->cursor += size;
            issued++;
            inflight++;
            rc = push_slot(bb, s, write, size);
            if (rc < 0)
                goto fail;
            full = rc > 0;
        }
        if (inflight == 0)
            break;
        if (vgf_blk_wait(bb->b, &cookie, WAIT_TIMEOUT_MS))
            goto fail;
        s = cookie;
        if (--s->pieces_out > 0 || s->sent < size)
            continue;
        t = vg_now_s();
        s->busy = false;
        inflight--;
        if (lat && done < cap)
            lat[done] = (t - s->t_submit) * 1e6;
        done++;
        if ((count && issued >= count) || (seconds > 0 && t >= stop_at) ||
            (count == 0 && done >= cap))
            stop = true;
    }
    *done_out = done < cap ? done : cap;
    *elapsed = vg_now_s() - t0;
    return 0;

fail: {
        int e = errno;
        void *cookie;

        /* collect what is left so the device stays usable; stop when the
         * device itself is gone (no cookie) */
        while (vgf_blk_in_flight(bb->b) > 0) {
            cookie = NULL;
            if (vgf_blk_wait(bb->b, &cookie, WAIT_TIMEOUT_MS) && !cookie)
                break;
        }
        errno = e;
        return -1;
    }
}

static int blk_run(void *ctx, bool write, uint64_t size, unsigned depth,
                   uint64_t span, struct vgf_bench_point *pt)
{
    struct vgf_bench_blk *bb = ctx;
    struct slot *slots = calloc(depth, sizeof(*slots));
    unsigned warm_done;
    double warm_secs;
    int rc = -1;

    if (!slots)
        return -1;
    bb->random = pt->random;
    bb->seed = pt->seed;
    for (unsigned i = 0; i < depth; i++) {
        if (posix_memalign((void **)&slots[i].buf, 4096, size)) {
            errno = ENOMEM;
            goto out;
        }
        memset(slots[i].buf, (int)(0x40 + i), size);
    }
    /* warm-up: one I/O per slot, not measured */
    if (run_ios(bb, slots, write, size, depth, span, depth, 0, NULL, depth,
                &warm_done, &warm_secs))
        goto out;
    pt->late = pt->measure_at > 0 ? vgf_bench_wait_until(pt->measure_at) : 0;
    rc = run_ios(bb, slots, write, size, depth, span, pt->ios, pt->seconds,
                 pt->lat_us, pt->cap, &pt->done, &pt->elapsed);
out:
    for (unsigned i = 0; i < depth; i++)
        free(slots[i].buf);
    free(slots);
    return rc;
}

const struct vgf_bench_driver vgf_bench_blk_driver = { .run = blk_run };
