/* SPDX-License-Identifier: MIT */
/*
 * Submit and completion, the same for every transport mode: the mode
 * (d->xport, struct vgf_xport) makes the buffers reachable and builds the
 * descriptors, and copies the device's bytes back.
 *
 * Submit: check the caller's buffers, take a request slot and ring room,
 * let the mode prepare, add the chain, kick unless suppressed.
 *
 * Complete: wait for a used entry (validated by the virtqueue), let the
 * mode copy at most min(used len, buffer) bytes back, release the
 * request's pages.  A rejected used entry means the backend cannot be
 * trusted with the queue: every outstanding request fails with EIO and the
 * device goes Closing.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "vgrant/clock.h"
#include "vgf_internal.h"

void vgf_req_release_pages(struct vgf_dev *d, struct vgf_req *r)
{
    if (r->out_pages &&
        d->h->ops->unshare_pages(d->h, r->out_pages, r->out_npages))
        vgf_log(d, VG_LOG_WARN, "revoking request grants: %s", strerror(errno));
    if (r->in_pages &&
        d->h->ops->unshare_pages(d->h, r->in_pages, r->in_npages))
        vgf_log(d, VG_LOG_WARN, "revoking request grants: %s", strerror(errno));
    r->out_pages = r->in_pages = NULL;
    r->out_npages = r->in_npages = 0;
    /* The arena may already be revoked (link down): then nothing to free. */
    if (r->run_units && d->arena.base)
        vgf_arena_free(&d->arena, r->run_start, r->run_units);
    r->run_units = 0;
}

static void req_free(struct vgf_dev *d, struct vgf_req *r)
{
    vgf_req_release_pages(d, r);
    free(r->in_iov);
    free(r->in_pos);
    memset(r, 0, sizeof(*r));
}

void vgf_fail_all(struct vgf_dev *d)
{
    if (d->teardown_done)
        return;
    for (unsigned i = 0; d->queues && i < d->num_queues; i++) {
        struct vgf_queue *q = &d->queues[i];

        for (unsigned r = 0; q->reqs && r < q->size; r++) {
            if (!q->reqs[r].busy)
                continue;
            vgf_req_release_pages(d, &q->reqs[r]);
            q->reqs[r].failed = true;
        }
    }
    vgf_rings_release(d);
    vgf_arena_release(d);
    d->link = VGF_LINK_DOWN;
    d->teardown_done = true;
}

void vgf_drop_failed(struct vgf_dev *d)
{
    for (unsigned i = 0; d->queues && i < d->num_queues; i++) {
        struct vgf_queue *q = &d->queues[i];

        for (unsigned r = 0; q->reqs && r < q->size; r++) {
            if (q->reqs[r].busy) {
                d->stats.failed++;
                req_free(d, &q->reqs[r]);
            }
        }
    }
}

static struct vgf_req *req_slot_get(struct vgf_queue *q)
{
    for (unsigned r = 0; r < q->size; r++)
        if (!q->reqs[r].busy)
            return &q->reqs[r];
    return NULL;
}

static uint64_t vq_bad_total(const struct vq_driver *vq);
int vgf_reap_one(struct vgf_dev *d)
{
    uint64_t now = vg_now_ms(), deadline = now + (uint64_t)d->opts.timeout_ms;
    uint64_t last_check = now;

    for (;;) {
        bool pending = false, xs_fired = false;

        if (d->link != VGF_LINK_CONNECTED) {
            errno = EIO;
            return -1;
        }
        for (unsigned i = 0; i < d->num_queues; i++) {
            struct vgf_queue *q = &d->queues[i];
            uint32_t len = 0;
            struct vgf_req *r;
            uint64_t bad;

            if (vq_drv_in_flight(&q->vq) == 0)
                continue;
            pending = true;
            r = vq_drv_get_used(&q->vq, &len);
            bad = vq_bad_total(&q->vq);
            if (bad != q->bad_seen) {
                d->stats.bad_completions += bad - q->bad_seen;
                q->bad_seen = bad;
                vgf_backend_broken(d, "bad used entry");
                errno = EIO;
                return -1;
            }
            if (r) {
                d->xport->copy_back(d, r, len);
                vgf_req_release_pages(d, r);
                r->reaped = true;
                r->used_len = len;
                return 0;
            }
        }
        if (!pending) {
            errno = ENOSPC;   /* full of vgf_pool_alloc buffers */
            return -1;
        }
        now = vg_now_ms();
        if (now >= deadline) {
            errno = ETIMEDOUT;
            return -1;
        }
        for (unsigned i = 0; i < d->num_queues; i++)
            if (vq_drv_in_flight(&d->queues[i].vq))
                vq_drv_enable_cb(&d->queues[i].vq);
        vgf_sleep(d, 10, &xs_fired);
        now = vg_now_ms();
        if (xs_fired || now - last_check >= VGF_RECHECK_MS) {
            vgf_check_backend(d);
            last_check = now;
        }
    }
}

static int check_iovs(const struct vgf_iov *iov, unsigned n, uint64_t *bytes,
                      uint64_t *pages)
{
    if (n && !iov)
        return -1;
    for (unsigned i = 0; i < n; i++) {
        if (!iov[i].base || iov[i].len == 0 ||
            iov[i].len > VGF_MAX_REQUEST_BYTES)
            return -1;
        *bytes += iov[i].len;
        *pages += vgf_buf_pages(iov[i].len);
    }
    return 0;
}

int vgf_submit(struct vgf_dev *d, unsigned qi, const struct vgf_iov *out,
               unsigned n_out, const struct vgf_iov *in, unsigned n_in,
               void *cookie)
{
    uint64_t bytes = 0, out_pages = 0, in_pages = 0;
    unsigned n_out_desc = 0, ndesc = 0;
    struct vgf_queue *q;
    struct vgf_req *r;
    int err;

    if (!d || qi >= d->num_queues || n_out + n_in == 0 ||
        check_iovs(out, n_out, &bytes, &out_pages) ||
        check_iovs(in, n_in, &bytes, &in_pages) ||
        bytes > VGF_MAX_REQUEST_BYTES) {
        errno = EINVAL;
        return -1;
    }
    if (d->link != VGF_LINK_CONNECTED) {
        errno = EIO;
        return -1;
    }
    q = &d->queues[qi];
    if (n_out + n_in > q->size) {
        errno = E2BIG;
        return -1;
    }
    r = req_slot_get(q);
    if (!r || n_out + n_in > q->vq.num_free) {
        errno = ENOSPC;
        return -1;
    }

    if (n_in) {
        r->in_iov = malloc(n_in * sizeof(*r->in_iov));
        r->in_pos = malloc(n_in * sizeof(*r->in_pos));
        if (!r->in_iov || !r->in_pos) {
            errno = ENOMEM;
            goto fail;
        }
        memcpy(r->in_iov, in, n_in * sizeof(*in));
        r->n_in = n_in;
    }
    if (d->xport->prepare(d, q, r, out, n_out, in, n_in, &ndesc, &n_out_desc))
        goto fail;
    if (vq_drv_add(&q->vq, q->scratch, n_out_desc, ndesc - n_out_desc, r))
        goto fail;

    r->busy = true;
    r->failed = false;
    r->reaped = false;
    r->cookie = cookie;
    d->stats.requests++;
    d->stats.descriptors += ndesc;
    if (vq_drv_kick_prepare(&q->vq)) {
        if (d->h->ops->evtchn_notify(d->h, (vg_port_t)q->port))
            vgf_log(d, VG_LOG_WARN, "queue %u: kicking port %d: %s", qi,
                    q->port, strerror(errno));
        d->stats.kicks++;
    } else {
        d->stats.kicks_suppressed++;
    }
    return 0;

fail:
    err = errno;
    req_free(d, r);
    /* Out of grant space (gntalloc's limit) while requests hold some:
     * completing them frees it, so this is "try again", not a failure. */
    if ((err == ENOSPC || err == ENOMEM) && vq_drv_in_flight(&q->vq) > 0)
        err = EAGAIN;
    else if (err == ENOSPC || err == ENOMEM)
        vgf_log(d, VG_LOG_ERR, "queue %u: cannot grant %" PRIu64 " pages for a "
                "request: %s", qi, out_pages + in_pages, strerror(err));
    errno = err;
    return -1;
}

static int collect_failed(struct vgf_dev *d, struct vgf_queue *q,
                          void **cookie)
{
    for (unsigned r = 0; q->reqs && r < q->size; r++) {
        if (q->reqs[r].busy) {
            *cookie = q->reqs[r].cookie;
            d->stats.failed++;
            req_free(d, &q->reqs[r]);
            errno = EIO;
            return -1;
        }
    }
    errno = ENOTCONN;
    return -1;
}

static uint64_t vq_bad_total(const struct vq_driver *vq)
{
    return vq->bad_used_id + vq->bad_used_len + vq->bad_used_idx;
}

int vgf_complete(struct vgf_dev *d, unsigned qi, void **cookie,
                 uint32_t *len, int timeout_ms)
{
    uint64_t deadline, last_check;
    struct vgf_queue *q;
    void *dummy_cookie;
    uint32_t dummy_len;

    if (!cookie)
        cookie = &dummy_cookie;
    if (!len)
        len = &dummy_len;
    *cookie = NULL;
    *len = 0;
    if (!d || qi >= d->num_queues || !d->queues) {
        errno = d && !d->queues ? ENOTCONN : EINVAL;
        return -1;
    }
    q = &d->queues[qi];
    /* Completions collected while a submit was throttled come first. */
    for (unsigned i = 0; q->reqs && i < q->size; i++) {
        struct vgf_req *r = &q->reqs[i];

        if (r->busy && r->reaped) {
            *cookie = r->cookie;
            *len = r->used_len;
            d->stats.completed++;
            req_free(d, r);
            vgf_stats_publish(d, false);
            return 0;
        }
    }
    if (timeout_ms < 0)
        timeout_ms = d->opts.timeout_ms;
    last_check = vg_now_ms();
    deadline = last_check + (uint64_t)timeout_ms;

    for (;;) {
        struct vgf_req *r;
        uint32_t used_len = 0;
        uint64_t bad, now;
        bool xs_fired;
        unsigned fired;

        if (d->link != VGF_LINK_CONNECTED)
            return collect_failed(d, q, cookie);
        if (vq_drv_in_flight(&q->vq) == 0) {
            errno = ENODATA;
            return -1;
        }
        r = vq_drv_get_used(&q->vq, &used_len);
        bad = vq_bad_total(&q->vq);
        if (bad != q->bad_seen) {
            d->stats.bad_completions += bad - q->bad_seen;
            q->bad_seen = bad;
            /* r, if any, is still marked busy and fails with the rest. */
            vgf_backend_broken(d, q->vq.bad_used_idx ? "used index jumped past the requests in flight" :
                               q->vq.bad_used_len ? "used length longer than the request's writable buffers" :
                               "used id not in flight (out of range or completed twice)");
            continue;
        }
        if (r) {
            d->xport->copy_back(d, r, used_len);
            *cookie = r->cookie;
            *len = used_len;
            d->stats.completed++;
            req_free(d, r);
            vgf_stats_publish(d, false);
            return 0;
        }

        now = vg_now_ms();
        if (now >= deadline) {
            errno = ETIMEDOUT;
            return -1;
        }
        /* Ask for an event, then re-check: a completion published between
         * our look and the request would otherwise never wake us. */
        if (vq_drv_enable_cb(&q->vq))
            continue;
        fired = vgf_sleep(d, (int)(deadline - now), &xs_fired);
        if (d->link == VGF_LINK_CONNECTED) {
            vq_drv_disable_cb(&q->vq);
            if (fired && !vq_drv_used_pending(&q->vq))
                d->stats.spurious_events += fired;
        }
        now = vg_now_ms();
        if (xs_fired || now - last_check >= VGF_RECHECK_MS) {
            vgf_check_backend(d);
            last_check = now;
        }
    }
}

unsigned vgf_in_flight(const struct vgf_dev *d, unsigned qi)
{
    unsigned n = 0;

    if (!d || qi >= d->num_queues || !d->queues)
        return 0;
    for (unsigned r = 0; r < d->queues[qi].size; r++)
        n += d->queues[qi].reqs[r].busy;
    return n;
}

unsigned vgf_queue_free(const struct vgf_dev *d, unsigned qi)
{
    const struct vgf_queue *q;
    unsigned slots;

    if (!d || qi >= d->num_queues || d->link != VGF_LINK_CONNECTED)
        return 0;
    q = &d->queues[qi];
    slots = q->size - vgf_in_flight(d, qi);
    return q->vq.num_free < slots ? q->vq.num_free : slots;
}
