/* SPDX-License-Identifier: MIT */
/*
 * Transport modes "copy" and "auto".
 *
 * copy: nothing of the guest is ever mapped for a request.  The
 * device-readable buffers are grant-copied into a private per-queue bounce
 * buffer in ONE grant_copy batch, the model works on private memory only
 * (so a guest cannot change data under it: no double fetch is even
 * possible), and the bytes the model produced are copied back into the
 * device-writable buffers in ONE more batch.  Every segment stays inside
 * one page (offset + len <= 4096), as the hypercall requires.
 *
 * What is copied back: exactly the bytes the model wrote (devmodel.h): the
 * first written - status_bytes bytes of the writable part and its last
 * status_bytes (the model's status), never the rest, so stale bounce
 * bytes of an earlier request never reach the guest.
 *
 * auto: per request, fewer than --auto-threshold bytes in total take the
 * copy path, the rest the grant mapping path (grant_mapper.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include <string.h>

#include "device.h"
#include "vgrant/log.h"

/* The bounce buffer (a few MiB) is a mapping of its own between two
 * inaccessible guard pages: a copy or model bug that runs past either end
 * faults at once, in production too, instead of reaching the heap.  The
 * mapping is lazily backed (untouched pages cost nothing) and, unlike a
 * calloc, costs a sanitizer build no shadow poisoning of the whole size on
 * every queue set-up and tear-down (that was half the time of the fuzz
 * harnesses that connect a device per input). */
static size_t guard_bytes(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    return pg > 0 ? (size_t)pg : VG_PAGE_SIZE;
}

static size_t bounce_span(unsigned max_pages)
{
    size_t g = guard_bytes();
    size_t bytes = ((size_t)max_pages * VG_PAGE_SIZE + g - 1) / g * g;

    return bytes + 2 * g;
}

static uint8_t *bounce_map(unsigned max_pages)
{
    size_t g = guard_bytes(), span = bounce_span(max_pages);
    uint8_t *p = mmap(NULL, span, PROT_NONE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

    if (p == MAP_FAILED)
        return NULL;
    if (mprotect(p + g, span - 2 * g, PROT_READ | PROT_WRITE)) {
        munmap(p, span);
        return NULL;
    }
    return p + g;
}

static void bounce_unmap(uint8_t *bounce, unsigned max_pages)
{
    if (bounce)
        munmap(bounce - guard_bytes(), bounce_span(max_pages));
}

int vgd_copier_init(struct vgd_copier *cp, unsigned max_pages,
                    unsigned max_bufs)
{
    memset(cp, 0, sizeof(*cp));
    if (max_pages == 0 || max_bufs == 0) {
        errno = EINVAL;
        return -1;
    }
    cp->max_pages = max_pages;
    cp->max_bufs = max_bufs;
    cp->bounce = bounce_map(max_pages);
    cp->segs = calloc(max_pages, sizeof(*cp->segs));
    cp->iov = calloc(max_bufs, sizeof(*cp->iov));
    if (!cp->bounce || !cp->segs || !cp->iov) {
        vgd_copier_free(cp);
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

void vgd_copier_free(struct vgd_copier *cp)
{
    bounce_unmap(cp->bounce, cp->max_pages);
    free(cp->segs);
    free(cp->iov);
    memset(cp, 0, sizeof(*cp));
}

/* Segments for bytes [from, to) of buffer e, whose private copy starts at
 * local; one segment per page touched. */
static int add_segments(struct vgd_queue *q, const struct vq_elem *e,
                        uint32_t from, uint32_t to, uint8_t *local,
                        bool to_foreign, uint32_t *n)
{
    struct vgd_copier *cp = &q->cp;
    uint32_t ref = vg_grant_addr_ref(e->addr);
    uint32_t off = vg_grant_addr_offset(e->addr);
    uint64_t pos = from;

    while (pos < to) {
        uint64_t abs = off + pos;
        uint32_t in_page = (uint32_t)(abs & (VG_PAGE_SIZE - 1));
        uint64_t len = VG_PAGE_SIZE - in_page;
        struct vg_copy_seg *s;

        if (len > to - pos)
            len = to - pos;
        if (*n >= cp->max_pages) {
            vgd_xport_warn(q->dev, &cp->failures, "request needs more than "
                           "%u copy segments", cp->max_pages);
            return -1;
        }
        s = &cp->segs[(*n)++];
        s->to_foreign = to_foreign;
        s->domid = q->dev->fe_domid;
        s->ref = ref + (uint32_t)(abs >> VG_PAGE_SHIFT);
        s->offset = (uint16_t)in_page;
        s->len = (uint16_t)len;
        s->local = local + (pos - from);
        s->status = 0;
        pos += len;
    }
    return 0;
}

/* One grant_copy batch; -1 (logged with the first refused ref) if the
 * batch or any of its segments failed. */
static int run_batch(struct vgd_queue *q, uint32_t n, const char *what)
{
    struct vgd_dev *dev = q->dev;
    struct vg_hyp *h = vgd_hyp(dev->d);
    uint64_t bytes = 0;

    if (n == 0)
        return 0;
    if (h->ops->grant_copy(h, n, q->cp.segs)) {
        vgd_xport_warn(dev, &q->cp.failures, "grant copy %s of %u segments "
                       "failed: %s", what, n, strerror(errno));
        return -1;
    }
    dev->xc.copy_batches++;
    dev->xc.grant_copies += n;
    for (uint32_t i = 0; i < n; i++) {
        const struct vg_copy_seg *s = &q->cp.segs[i];

        if (s->status) {
            dev->xc.copy_failures++;
            vgd_xport_warn(dev, &q->cp.failures, "grant copy %s: ref %u "
                           "(offset %u, len %u) refused with status %d", what,
                           s->ref, s->offset, s->len, s->status);
            return -1;
        }
        bytes += s->len;
    }
    dev->xc.bounce_bytes += bytes;
    return 0;
}

static int copy_map_request(struct vgd_queue *q, const struct vq_chain *c,
                            struct vgd_request *req)
{
    struct vgd_copier *cp = &q->cp;
    uint64_t pages = 0, pos = 0;
    uint32_t n = 0;

    memset(req, 0, sizeof(*req));
    cp->chain = NULL;
    cp->status_only = false;
    if (c->n > cp->max_bufs) {
        vgd_xport_warn(q->dev, &cp->failures, "request has %u buffers, "
                       "limit %u", c->n, cp->max_bufs);
        return -1;
    }
    for (unsigned i = 0; i < c->n; i++) {
        uint64_t p = 0;

        if (c->elem[i].len == 0)
            continue;
        if (vgd_xport_check_buffer(q->dev, &q->cp.failures, i,
                                   &c->elem[i], &p))
            return -1;
        pages += p;
        if (pages > cp->max_pages) {
            vgd_xport_warn(q->dev, &cp->failures, "request names more than "
                           "%u pages (buffer %u, len %u)", cp->max_pages, i,
                           c->elem[i].len);
            return -1;
        }
    }
    /* Lengths sum to at most pages * 4096: the bounce buffer holds them. */
    for (unsigned i = 0; i < c->n; i++) {
        const struct vq_elem *e = &c->elem[i];

        if (i == c->n_out)
            cp->in_base = pos;
        cp->iov[i].iov_base = cp->bounce + pos;
        cp->iov[i].iov_len = e->len;
        if (!e->write && e->len &&
            add_segments(q, e, 0, e->len, cp->bounce + pos, false, &n))
            return -1;
        pos += e->len;
    }
    if (c->n_out == c->n)
        cp->in_base = pos;
    if (run_batch(q, n, "from the guest"))
        return -1;

    cp->chain = c;
    req->out = cp->iov;
    req->n_out = c->n_out;
    req->out_bytes = c->out_bytes;
    req->in = cp->iov + c->n_out;
    req->n_in = (unsigned)(c->n - c->n_out);
    req->in_bytes = c->in_bytes;
    return 0;
}

static int copy_map_status(struct vgd_queue *q, const struct vq_chain *c,
                           unsigned status_bytes, struct vgd_request *req)
{
    struct vgd_copier *cp = &q->cp;
    const struct vq_elem *e;
    uint64_t pages;

    memset(req, 0, sizeof(*req));
    cp->chain = NULL;
    if (status_bytes == 0 || c->n == 0 || c->n == c->n_out)
        return -1;
    e = &c->elem[c->n - 1];
    if (!e->write || e->len < status_bytes || status_bytes > VG_PAGE_SIZE ||
        vgd_xport_check_buffer(q->dev, &q->cp.failures, c->n - 1u, e,
                               &pages))
        return -1;
    /* The status lands at the start of the bounce buffer. */
    cp->status_only = true;
    cp->in_base = 0;
    cp->chain = c;
    cp->iov[0].iov_base = cp->bounce;
    cp->iov[0].iov_len = status_bytes;
    req->in = cp->iov;
    req->n_in = 1;
    req->in_bytes = status_bytes;
    return 0;
}

/* Copy bytes [from, to) of the writable part back into the guest, the
 * private bytes of in-part offset x living at local + (x - origin). */
static int copy_back_range(struct vgd_queue *q, const struct vq_chain *c,
                           uint32_t from, uint32_t to, uint8_t *local,
                           uint32_t origin, uint32_t *n)
{
    uint32_t pos = 0;

    for (unsigned i = c->n_out; i < c->n && pos < to; i++) {
        const struct vq_elem *e = &c->elem[i];
        uint32_t lo = from > pos ? from : pos;
        uint32_t hi = to < pos + e->len ? to : pos + e->len;

        if (lo < hi && add_segments(q, e, lo - pos, hi - pos,
                                    local + (lo - origin), true, n))
            return -1;
        pos += e->len;
    }
    return 0;
}

static void copy_finish(struct vgd_queue *q, struct vgd_result *res)
{
    struct vgd_copier *cp = &q->cp;
    const struct vq_chain *c = cp->chain;
    const struct vgd_model *model = q->dev->model;
    unsigned sb = model->status_bytes;
    uint8_t *in_local = cp->bounce + cp->in_base;
    uint32_t n = 0, in_bytes, written;
    int rc;

    if (!c)
        return;
    cp->chain = NULL;
    in_bytes = c->in_bytes;
    if (sb > in_bytes)
        sb = in_bytes;
    if (cp->status_only) {
        rc = copy_back_range(q, c, in_bytes - sb, in_bytes, cp->bounce,
                             in_bytes - sb, &n);
    } else {
        /* Exactly what the model wrote (devmodel.h): a prefix of
         * written - sb bytes, and the status if written covers it.  A
         * byte in between was never written: copying it would hand the
         * guest a stale bounce byte of an earlier request. */
        uint32_t prefix;

        written = res->written < in_bytes ? res->written : in_bytes;
        prefix = written >= sb ? written - sb : written;
        if (prefix > in_bytes - sb)
            prefix = in_bytes - sb;
        rc = copy_back_range(q, c, 0, prefix, in_local, 0, &n);
        if (rc == 0 && sb && written >= sb)
            rc = copy_back_range(q, c, in_bytes - sb, in_bytes, in_local,
                                 0, &n);
    }
    if (rc == 0 && run_batch(q, n, "to the guest") == 0)
        return;

    /* The guest refused (part of) the result: report the failure through
     * the status alone if it can still be reached. */
    res->failed = true;
    res->written = 0;
    if (cp->status_only || !model->fail || sb == 0)
        return;
    {
        struct vgd_request status_req;
        struct vgd_result fres;

        if (copy_map_status(q, c, sb, &status_req))
            return;
        memset(&fres, 0, sizeof(fres));
        model->fail(q->dev->mstate, &status_req, &fres);
        n = 0;
        cp->chain = NULL;
        if (copy_back_range(q, c, in_bytes - sb, in_bytes, cp->bounce,
                            in_bytes - sb, &n) == 0 &&
            run_batch(q, n, "of the status") == 0)
            res->written = fres.written;
    }
}

static int copy_connect(struct vgd_dev *dev)
{
    (void)dev;
    return 0;
}

static void copy_disconnect(struct vgd_dev *dev)
{
    (void)dev;
}

static int copy_queue_init(struct vgd_queue *q, unsigned max_pages,
                           unsigned max_bufs)
{
    if (vgd_copier_init(&q->cp, max_pages, max_bufs))
        return -1;
    q->cp_init = true;
    return 0;
}

static void copy_queue_free(struct vgd_queue *q)
{
    if (q->cp_init) {
        vgd_xport_warn_flush(q->dev, q->index, &q->cp.failures);
        vgd_copier_free(&q->cp);
    }
    q->cp_init = false;
}

const struct vgd_transport vgd_transport_copy = {
    .name = VG_MODE_COPY,
    .connect = copy_connect,
    .disconnect = copy_disconnect,
    .queue_init = copy_queue_init,
    .queue_free = copy_queue_free,
    .map_request = copy_map_request,
    .map_status = copy_map_status,
    .finish_request = copy_finish,
};

/* ---- auto ---------------------------------------------------------- */

static int auto_queue_init(struct vgd_queue *q, unsigned max_pages,
                           unsigned max_bufs)
{
    if (copy_queue_init(q, max_pages, max_bufs) ||
        vgd_transport_grant.queue_init(q, max_pages, max_bufs)) {
        copy_queue_free(q);
        return -1;
    }
    return 0;
}

static void auto_queue_free(struct vgd_queue *q)
{
    copy_queue_free(q);
    vgd_transport_grant.queue_free(q);
}

static int auto_map_request(struct vgd_queue *q, const struct vq_chain *c,
                            struct vgd_request *req)
{
    uint64_t bytes = (uint64_t)c->out_bytes + c->in_bytes;

    q->auto_copy = bytes < vgd_auto_threshold(q->dev->d);
    if (q->auto_copy) {
        q->dev->xc.auto_copied++;
        return copy_map_request(q, c, req);
    }
    q->dev->xc.auto_mapped++;
    return vgd_transport_grant.map_request(q, c, req);
}

static int auto_map_status(struct vgd_queue *q, const struct vq_chain *c,
                           unsigned status_bytes, struct vgd_request *req)
{
    /* Small: copying one status byte beats mapping its page. */
    q->auto_copy = true;
    return copy_map_status(q, c, status_bytes, req);
}

static void auto_finish(struct vgd_queue *q, struct vgd_result *res)
{
    copy_finish(q, res);                 /* no-op unless copy path */
    vgd_transport_grant.finish_request(q, res);   /* unmaps if mapped */
}

const struct vgd_transport vgd_transport_auto = {
    .name = VG_MODE_AUTO,
    .connect = copy_connect,
    .disconnect = copy_disconnect,
    .queue_init = auto_queue_init,
    .queue_free = auto_queue_free,
    .map_request = auto_map_request,
    .map_status = auto_map_status,
    .finish_request = auto_finish,
};
