/* SPDX-License-Identifier: MIT */
/*
 * The grant-mode request path.
 *
 * Submit: fresh pages per request, one share call for all device-readable
 * buffers (read-only) and one for all device-writable buffers (writable).
 * Every buffer starts at offset 0 of its own page run, so a page the
 * backend can reach holds this request's bytes and zeros, never anything
 * else of ours (XSA-396); the caller's memory itself is never granted.
 * Descriptors: one per run of consecutive refs, cut at max_seg.
 *
 * Complete: wait for a used entry (validated by the virtqueue), copy at
 * most min(used len, buffer) bytes back, revoke the request's pages.  A
 * rejected used entry means the backend cannot be trusted with the queue:
 * every outstanding request fails with EIO and the device goes Closing.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "vgrant/clock.h"
#include "vgf_internal.h"

static uint32_t buf_pages(size_t len)
{
    return (uint32_t)((len + VG_PAGE_SIZE - 1) / VG_PAGE_SIZE);
}

void vgf_req_release_pages(struct vgf_dev *d, struct vgf_req *r)
{
    if (r->out_pages &&
        d->h->ops->unshare_pages(d->h, r->out_pages, r->out_npages))
        vgf_log(d, VG_LOG_WARN, "revoking request grants: %m");
    if (r->in_pages &&
        d->h->ops->unshare_pages(d->h, r->in_pages, r->in_npages))
        vgf_log(d, VG_LOG_WARN, "revoking request grants: %m");
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

/* Append the descriptors of one buffer whose pages carry refs[]: a run of
 * consecutive refs becomes one descriptor, at most max_seg long. */
static int emit_at(const struct vgf_dev *d, struct vgf_queue *q,
                   const vg_gref_t *refs, size_t off, size_t len, unsigned *n)
{
    size_t pos = off;

    len += off;   /* from here on: byte positions in the page run */
    while (pos < len) {
        size_t page = pos / VG_PAGE_SIZE;
        size_t end = len, boundary;

        if (d->max_seg && end - pos > d->max_seg)
            end = pos + d->max_seg;
        for (boundary = (page + 1) * VG_PAGE_SIZE; boundary < end;
             boundary += VG_PAGE_SIZE) {
            size_t p = boundary / VG_PAGE_SIZE;
            if (refs[p] != refs[p - 1] + 1) {
                end = boundary;
                break;
            }
        }
        if (*n >= q->size) {
            errno = E2BIG;  /* more descriptors than the ring has */
            return -1;
        }
        q->scratch[*n].addr = vg_grant_addr(refs[page],
                                            (uint32_t)(pos % VG_PAGE_SIZE));
        q->scratch[*n].len = (uint32_t)(end - pos);
        (*n)++;
        pos = end;
    }
    return 0;
}

static int emit_buffer(const struct vgf_dev *d, struct vgf_queue *q,
                       const vg_gref_t *refs, size_t len, unsigned *n)
{
    return emit_at(d, q, refs, 0, len, n);
}

/* static mode: descriptors are byte offsets into the region */
static int emit_offset(const struct vgf_dev *d, struct vgf_queue *q,
                       size_t off, size_t len, unsigned *n)
{
    size_t pos = 0;

    while (pos < len) {
        size_t l = len - pos;

        if (d->max_seg && l > d->max_seg)
            l = d->max_seg;
        if (*n >= q->size) {
            errno = E2BIG;
            return -1;
        }
        q->scratch[*n].addr = off + pos;
        q->scratch[*n].len = (uint32_t)l;
        (*n)++;
        pos += l;
    }
    return 0;
}

static int emit_arena(const struct vgf_dev *d, struct vgf_queue *q,
                      size_t off, size_t len, unsigned *n)
{
    if (d->xmode == VGF_XMODE_STATIC)
        return emit_offset(d, q, off, len, n);
    return emit_at(d, q, d->arena.refs, off, len, n);
}

static size_t arena_units(const struct vgf_arena *a, size_t len)
{
    return (len + ((size_t)1 << a->unit_shift) - 1) >> a->unit_shift;
}

static uint64_t vq_bad_total(const struct vq_driver *vq);
static void copy_back(struct vgf_dev *d, struct vgf_req *r, uint32_t used_len);

/* Region full: collect at least one completion of any queue (kept for
 * vgf_complete) so its space comes free.  -1: nothing can come free
 * (ENOSPC), the link is down (EIO) or the backend is silent (ETIMEDOUT). */
static int throttle_wait(struct vgf_dev *d)
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

            if (vqd_in_flight(&q->vq) == 0)
                continue;
            pending = true;
            r = vqd_get_used(&q->vq, &len);
            bad = vq_bad_total(&q->vq);
            if (bad != q->bad_seen) {
                d->stats.bad_completions += bad - q->bad_seen;
                q->bad_seen = bad;
                vgf_backend_broken(d, "bad used entry");
                errno = EIO;
                return -1;
            }
            if (r) {
                copy_back(d, r, len);
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
            if (vqd_in_flight(&d->queues[i].vq))
                vqd_enable_cb(&d->queues[i].vq);
        vgf_sleep(d, 10, &xs_fired);
        now = vg_now_ms();
        if (xs_fired || now - last_check >= VGF_RECHECK_MS) {
            vgf_check_backend(d);
            last_check = now;
        }
    }
}

/* static / persistent: place every buffer in the arena (or use it in place
 * when it already lives in the pool) and emit its descriptors. */
static int arena_prepare(struct vgf_dev *d, struct vgf_queue *q,
                         struct vgf_req *r, const struct vgf_iov *out,
                         unsigned n_out, const struct vgf_iov *in,
                         unsigned n_in, unsigned *ndesc, unsigned *n_out_desc)
{
    struct vgf_arena *a = &d->arena;
    bool pool = d->xmode == VGF_XMODE_PERSISTENT;
    size_t units = 0, pos;
    bool waited = false;
    long start = 0;

    for (unsigned i = 0; i < n_out + n_in; i++) {
        const struct vgf_iov *v = i < n_out ? &out[i] : &in[i - n_out];

        if (!pool || vgf_arena_offset(a, v->base, v->len) < 0)
            units += arena_units(a, v->len);
    }
    if (units > a->nunits) {
        errno = E2BIG;   /* can never fit: the caller must split */
        return -1;
    }
    while (units && (start = vgf_arena_alloc(a, units)) < 0) {
        if (!waited)
            d->stats.throttle_waits++;
        waited = true;
        if (throttle_wait(d))
            return -1;
    }
    r->run_start = (size_t)start;
    r->run_units = units;
    if ((uint64_t)a->used << a->unit_shift > d->stats.region_high_water)
        d->stats.region_high_water = (uint64_t)a->used << a->unit_shift;

    pos = (size_t)start << a->unit_shift;
    for (unsigned i = 0; i < n_out + n_in; i++) {
        const struct vgf_iov *v = i < n_out ? &out[i] : &in[i - n_out];
        long at = pool ? vgf_arena_offset(a, v->base, v->len) : -1;
        size_t where;

        if (i == n_out)
            *n_out_desc = *ndesc;
        if (at >= 0) {
            where = (size_t)at;
            d->stats.zero_copy_bytes += v->len;
        } else {
            where = pos;
            pos += arena_units(a, v->len) << a->unit_shift;
            if (i < n_out) {
                memcpy(a->base + where, v->base, v->len);
                d->stats.bounce_bytes += v->len;
            }
        }
        if (i >= n_out)
            r->in_pos[i - n_out] = at >= 0 ? SIZE_MAX : where;
        if (emit_arena(d, q, where, v->len, ndesc))
            return -1;
    }
    if (n_in == 0)
        *n_out_desc = *ndesc;
    return 0;
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
        *pages += buf_pages(iov[i].len);
    }
    return 0;
}

/* Share one set of buffers (all out or all in) and emit their descriptors. */
static void *share_buffers(struct vgf_dev *d, struct vgf_queue *q,
                           const struct vgf_iov *iov, unsigned n_iov,
                           uint32_t npages, bool writable, vg_gref_t *refs,
                           unsigned *ndesc)
{
    struct vg_hyp *h = d->h;
    uint8_t *pages;
    size_t page_off = 0;

    pages = h->ops->share_pages(h, d->backend_id, npages, refs, writable);
    if (!pages) {
        vgf_log(d, VG_LOG_DEBUG, "granting %u pages to dom %u: %m", npages,
                d->backend_id);
        return NULL;
    }
    d->stats.share_calls++;
    d->stats.pages_shared += npages;
    for (unsigned i = 0; i < n_iov; i++) {
        if (!writable)
            memcpy(pages + page_off * VG_PAGE_SIZE, iov[i].base, iov[i].len);
        if (emit_buffer(d, q, refs + page_off, iov[i].len, ndesc)) {
            int e = errno;
            h->ops->unshare_pages(h, pages, npages);
            errno = e;
            return NULL;
        }
        page_off += buf_pages(iov[i].len);
    }
    return pages;
}

int vgf_submit(struct vgf_dev *d, unsigned qi, const struct vgf_iov *out,
               unsigned n_out, const struct vgf_iov *in, unsigned n_in,
               void *cookie)
{
    uint64_t bytes = 0, out_pages = 0, in_pages = 0;
    unsigned n_out_desc = 0, ndesc = 0;
    struct vgf_queue *q;
    struct vgf_req *r;
    vg_gref_t *refs = NULL;
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

    refs = malloc((size_t)(out_pages + in_pages) * sizeof(*refs));
    if (!refs) {
        errno = ENOMEM;
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
    if (d->xmode != VGF_XMODE_GRANT) {
        if (arena_prepare(d, q, r, out, n_out, in, n_in, &ndesc, &n_out_desc))
            goto fail;
        /* throttling may have reaped: the slot and ring room still hold */
    } else if (out_pages) {
        r->out_pages = share_buffers(d, q, out, n_out, (uint32_t)out_pages,
                                     false, refs, &ndesc);
        if (!r->out_pages)
            goto fail;
        r->out_npages = (uint32_t)out_pages;
    }
    if (d->xmode == VGF_XMODE_GRANT)
        n_out_desc = ndesc;
    if (d->xmode == VGF_XMODE_GRANT && in_pages) {
        r->in_pages = share_buffers(d, q, in, n_in, (uint32_t)in_pages, true,
                                    refs + out_pages, &ndesc);
        if (!r->in_pages)
            goto fail;
        r->in_npages = (uint32_t)in_pages;
    }
    if (vqd_add(&q->vq, q->scratch, n_out_desc, ndesc - n_out_desc, r))
        goto fail;
    free(refs);

    r->busy = true;
    r->failed = false;
    r->reaped = false;
    r->cookie = cookie;
    d->stats.requests++;
    d->stats.descriptors += ndesc;
    if (vqd_kick_prepare(&q->vq)) {
        if (d->h->ops->evtchn_notify(d->h, (vg_port_t)q->port))
            vgf_log(d, VG_LOG_WARN, "queue %u: kicking port %d: %m", qi,
                    q->port);
        d->stats.kicks++;
    } else {
        d->stats.kicks_suppressed++;
    }
    return 0;

fail:
    err = errno;
    free(refs);
    req_free(d, r);
    /* Out of grant space (gntalloc's limit) while requests hold some:
     * completing them frees it, so this is "try again", not a failure. */
    if ((err == ENOSPC || err == ENOMEM) && vqd_in_flight(&q->vq) > 0)
        err = EAGAIN;
    else if (err == ENOSPC || err == ENOMEM)
        vgf_log(d, VG_LOG_ERR, "queue %u: cannot grant %" PRIu64 " pages for a "
                "request: %s", qi, out_pages + in_pages, strerror(err));
    errno = err;
    return -1;
}

/* Copy what the device wrote back to the caller: never more than the
 * validated used length, never more than each buffer. */
static void copy_back(struct vgf_dev *d, struct vgf_req *r, uint32_t used_len)
{
    const uint8_t *pages = r->in_pages;
    size_t left = used_len, page_off = 0;

    for (unsigned i = 0; i < r->n_in && left > 0; i++) {
        size_t n = r->in_iov[i].len < left ? r->in_iov[i].len : left;

        if (d->xmode == VGF_XMODE_GRANT) {
            memcpy(r->in_iov[i].base, pages + page_off * VG_PAGE_SIZE, n);
        } else if (r->in_pos[i] != SIZE_MAX && d->arena.base) {
            memcpy(r->in_iov[i].base, d->arena.base + r->in_pos[i], n);
            d->stats.bounce_bytes += n;
        }
        left -= n;
        page_off += buf_pages(r->in_iov[i].len);
    }
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

static bool used_pending(const struct vq_driver *vq)
{
    return __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE) !=
           vq->last_used_idx;
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
        if (vqd_in_flight(&q->vq) == 0) {
            errno = ENODATA;
            return -1;
        }
        r = vqd_get_used(&q->vq, &used_len);
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
            copy_back(d, r, used_len);
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
        if (vqd_enable_cb(&q->vq))
            continue;
        fired = vgf_sleep(d, (int)(deadline - now), &xs_fired);
        if (d->link == VGF_LINK_CONNECTED) {
            vqd_disable_cb(&q->vq);
            if (fired && !used_pending(&q->vq))
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
