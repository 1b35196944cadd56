/* SPDX-License-Identifier: MIT */
/*
 * Transport modes "copy" and "auto".
 *
 * copy: nothing of the guest is ever mapped for a request.  The
 * device-readable buffers of every request of a round (serve.c) are
 * grant-copied into private per-request bounce pages in ONE grant_copy
 * batch, the model works on private memory only (so a guest cannot change
 * data under it: no double fetch is even possible), and the bytes the
 * model produced are copied back into the device-writable buffers in ONE
 * more batch for the round.  A segment the guest refuses fails only the
 * request it belongs to.  Every segment stays inside one page (offset +
 * len <= 4096), as the hypercall requires.
 *
 * What is copied back: exactly the bytes the model wrote (devmodel.h): the
 * first written - status_bytes bytes of the writable part and its last
 * status_bytes (the model's status), never the rest, so stale bounce
 * bytes of an earlier request never reach the guest.
 *
 * auto: per request, fewer than --auto-threshold bytes in total take the
 * copy path, the rest the grant mapping path (grant_mapper.c): see
 * xport_auto.c.
 *
 * Memory: each request slot of a queue has room for the largest request
 * (4.3 MiB for blk), 32 slots per queue, 8 queues per device: 1.1 GiB of
 * address space, backed only where written.  A guest that put one large
 * request in each slot in turn (small ones ahead of it) would make all of
 * it resident in the backend domain, for as long as the device lives.  So
 * the pages each slot has written are counted, and once a queue holds
 * more than VGD_COPY_RESIDENT_PAGES, every finished round's slots give
 * back what they hold past their first VGD_COPY_KEEP_PAGES
 * (MADV_DONTNEED): between rounds a queue keeps at most ~16 MiB plus its
 * other lane's round, however its guest spreads its requests.  A guest
 * streaming large requests reuses the first slots of each lane and stays
 * under the bound, paying nothing (bounce_pages in vgrant stats).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include <string.h>

#include "bigarray.h"
#include "device.h"
#include "vgrant/log.h"

/* The bounce area is a mapping of its own: each request slot's pages
 * (a few MiB) lie between two inaccessible guard pages, so a copy or model
 * bug that runs past either end of a slot faults at once, in production
 * too, instead of reaching the heap or the next request's data.  The
 * mapping is lazily backed (untouched pages cost nothing) and, unlike a
 * calloc, costs a sanitizer build no shadow poisoning of the whole size on
 * every queue set-up and tear-down (that was half the time of the fuzz
 * harnesses that connect a device per input). */
static size_t guard_bytes(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    return pg > 0 ? (size_t)pg : VG_PAGE_SIZE;
}

/* A slot's pages rounded to whole host pages, plus the guard after it. */
static size_t slot_stride(unsigned max_pages)
{
    size_t g = guard_bytes();

    return ((size_t)max_pages * VG_PAGE_SIZE + g - 1) / g * g + g;
}

static int bounce_map(struct vgd_copier *cp)
{
    size_t g = guard_bytes(), stride = slot_stride(cp->max_pages);
    size_t span = g + cp->nslots * stride;
    uint8_t *p = mmap(NULL, span, PROT_NONE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

    if (p == MAP_FAILED)
        return -1;
    cp->area = p;
    cp->area_bytes = span;
    for (unsigned i = 0; i < cp->nslots; i++) {
        uint8_t *slot = p + g + i * stride;

        if (mprotect(slot, stride - g, PROT_READ | PROT_WRITE))
            return -1;      /* vgd_copier_free unmaps the area */
        cp->slot[i].bounce = slot;
    }
    cp->bounce = cp->slot[0].bounce;
    return 0;
}

int vgd_copier_init(struct vgd_copier *cp, unsigned max_pages,
                    unsigned max_bufs, unsigned nslots)
{
    memset(cp, 0, sizeof(*cp));
    if (max_pages == 0 || max_bufs == 0 || nslots == 0 ||
        nslots > VGD_ROUND_SLOTS) {
        errno = EINVAL;
        return -1;
    }
    cp->max_pages = max_pages;
    cp->max_bufs = max_bufs;
    cp->nslots = nslots;
    cp->segs = vgd_big_calloc((size_t)nslots * max_pages, sizeof(*cp->segs));
    cp->iov = calloc((size_t)nslots * max_bufs, sizeof(*cp->iov));
    cp->slot = calloc(nslots, sizeof(*cp->slot));
    if (!cp->segs || !cp->iov || !cp->slot || bounce_map(cp)) {
        vgd_copier_free(cp);
        errno = ENOMEM;
        return -1;
    }
    for (unsigned i = 0; i < nslots; i++)
        cp->slot[i].iov = cp->iov + (size_t)i * max_bufs;
    return 0;
}

void vgd_copier_free(struct vgd_copier *cp)
{
    if (cp->area)
        munmap(cp->area, cp->area_bytes);
    vgd_big_free(cp->segs, (size_t)cp->nslots * cp->max_pages,
                 sizeof(*cp->segs));
    free(cp->iov);
    free(cp->slot);
    memset(cp, 0, sizeof(*cp));
}

void vgd_copier_touch(struct vgd_copier *cp, unsigned i, uint64_t pages)
{
    struct vgd_copy_slot *cs = &cp->slot[i];

    if (pages > cp->max_pages)
        pages = cp->max_pages;
    if (pages > cs->touched) {
        cp->resident += pages - cs->touched;
        cs->touched = (uint32_t)pages;
    }
}

uint64_t vgd_copier_release(struct vgd_copier *cp, unsigned i, unsigned keep)
{
    struct vgd_copy_slot *cs = &cp->slot[i];
    size_t g = guard_bytes();
    /* whole host pages: from keep rounded up to the end of what was
     * written rounded up (still inside the slot: its size is rounded up
     * to host pages too) */
    size_t from = ((size_t)keep * VG_PAGE_SIZE + g - 1) / g * g;
    size_t to = ((size_t)cs->touched * VG_PAGE_SIZE + g - 1) / g * g;
    uint64_t released;

    if (cs->touched <= keep || to <= from)
        return 0;
    if (madvise(cs->bounce + from, to - from, MADV_DONTNEED)) {
        vg_debug("bounce slot %u: madvise: %s", i, strerror(errno));
        return 0;
    }
    released = cs->touched - keep;
    cs->touched = keep;
    cp->resident -= released;
    return released;
}

/* Count slot i's bounce pages written, for the device's bounce_pages too. */
static void slot_touch(struct vgd_queue *q, unsigned i, uint64_t bytes)
{
    uint64_t before = q->cp.resident;

    vgd_copier_touch(&q->cp, i, (bytes + VG_PAGE_SIZE - 1) / VG_PAGE_SIZE);
    q->dev->xc.bounce_pages += q->cp.resident - before;
}

/* Segments for bytes [from, to) of buffer e, whose private copy starts at
 * local; one segment per page touched, appended at segs[*n], at most up
 * to index limit (one request's max_pages). */
static int add_segments(struct vgd_queue *q, const struct vq_elem *e,
                        uint32_t from, uint32_t to, uint8_t *local,
                        bool to_foreign, uint32_t *n, uint32_t limit)
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
        if (*n >= limit) {
            vgd_xport_warn(q->dev, &q->failures, "request needs more than "
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

/* One grant_copy call over segs[0, n); -1 (logged) if the call itself
 * failed, every segment with it. */
static int copy_call(struct vgd_queue *q, uint32_t n, const char *what)
{
    struct vgd_dev *dev = q->dev;
    struct vg_hyp *h = vgd_hyp(dev->d);

    if (h->ops->grant_copy(h, n, q->cp.segs)) {
        vgd_xport_warn(dev, &q->failures, "grant copy %s of %u segments "
                       "failed: %s", what, n, strerror(errno));
        return -1;
    }
    dev->xc.copy_batches++;
    dev->xc.grant_copies += n;
    return 0;
}

/* After a successful call: did any of segs[first, first + n) fail?  The
 * first refused one is logged; the bytes that arrived are counted. */
static bool segs_failed(struct vgd_queue *q, uint32_t first, uint32_t n,
                        const char *what)
{
    struct vgd_dev *dev = q->dev;
    bool failed = false;

    for (uint32_t i = first; i < first + n; i++) {
        const struct vg_copy_seg *s = &q->cp.segs[i];

        if (!s->status) {
            dev->xc.bounce_bytes += s->len;
            continue;
        }
        dev->xc.copy_failures++;
        if (!failed)
            vgd_xport_warn(dev, &q->failures, "grant copy %s: ref %u "
                           "(offset %u, len %u) refused with status %d",
                           what, s->ref, s->offset, s->len, s->status);
        failed = true;
    }
    return failed;
}

/* Check request c for slot i and append the segments that bring its
 * device-readable bytes into the slot's bounce pages at segs[*n].  -1
 * (logged, *n unchanged): the request is to be failed. */
static int prepare_in(struct vgd_queue *q, unsigned i,
                      const struct vq_chain *c, uint32_t *n)
{
    struct vgd_copier *cp = &q->cp;
    struct vgd_copy_slot *cs = &cp->slot[i];
    uint32_t first = *n, limit = first + cp->max_pages;
    uint64_t pages = 0, pos = 0;

    if (c->n > cp->max_bufs) {
        vgd_xport_warn(q->dev, &q->failures, "request has %u buffers, "
                       "limit %u", c->n, cp->max_bufs);
        return -1;
    }
    for (unsigned k = 0; k < c->n; k++) {
        uint64_t p = 0;

        if (c->elem[k].len == 0)
            continue;
        if (vgd_xport_check_buffer(q->dev, &q->failures, k,
                                   &c->elem[k], &p))
            return -1;
        pages += p;
        if (pages > cp->max_pages) {
            vgd_xport_warn(q->dev, &q->failures, "request names more than "
                           "%u pages (buffer %u, len %u)", cp->max_pages, k,
                           c->elem[k].len);
            return -1;
        }
    }
    /* Lengths sum to at most pages * 4096: the slot's bounce holds them. */
    for (unsigned k = 0; k < c->n; k++) {
        const struct vq_elem *e = &c->elem[k];

        if (k == c->n_out)
            cs->in_base = pos;
        cs->iov[k].iov_base = cs->bounce + pos;
        cs->iov[k].iov_len = e->len;
        if (!e->write && e->len &&
            add_segments(q, e, 0, e->len, cs->bounce + pos, false, n,
                         limit)) {
            *n = first;
            return -1;
        }
        pos += e->len;
    }
    if (c->n_out == c->n)
        cs->in_base = pos;
    /* the model writes the writable part, the copy the readable one */
    slot_touch(q, i, pos);
    return 0;
}

static void describe(struct vgd_copy_slot *cs, const struct vq_chain *c,
                     struct vgd_request *req)
{
    cs->chain = c;
    req->out = cs->iov;
    req->n_out = c->n_out;
    req->out_bytes = c->out_bytes;
    req->in = cs->iov + c->n_out;
    req->n_in = (unsigned)(c->n - c->n_out);
    req->in_bytes = c->in_bytes;
}

/* Slot i reports only its status: the model writes it at the start of
 * the slot's bounce pages. */
static int status_setup(struct vgd_queue *q, unsigned i,
                        const struct vq_chain *c, unsigned status_bytes,
                        struct vgd_request *req)
{
    struct vgd_copy_slot *cs = &q->cp.slot[i];
    const struct vq_elem *e;
    uint64_t pages;

    memset(req, 0, sizeof(*req));
    cs->chain = NULL;
    if (status_bytes == 0 || c->n == 0 || c->n == c->n_out)
        return -1;
    e = &c->elem[c->n - 1];
    if (!e->write || e->len < status_bytes || status_bytes > VG_PAGE_SIZE ||
        vgd_xport_check_buffer(q->dev, &q->failures, c->n - 1u, e,
                               &pages))
        return -1;
    cs->status_only = true;
    cs->in_base = 0;
    cs->chain = c;
    cs->iov[0].iov_base = cs->bounce;
    cs->iov[0].iov_len = status_bytes;
    slot_touch(q, i, status_bytes);
    req->in = cs->iov;
    req->n_in = 1;
    req->in_bytes = status_bytes;
    return 0;
}

/* Copy bytes [from, to) of the writable part back into the guest, the
 * private bytes of in-part offset x living at local + (x - origin). */
static int copy_back_range(struct vgd_queue *q, const struct vq_chain *c,
                           uint32_t from, uint32_t to, uint8_t *local,
                           uint32_t origin, uint32_t *n, uint32_t limit)
{
    uint32_t pos = 0;

    for (unsigned i = c->n_out; i < c->n && pos < to; i++) {
        const struct vq_elem *e = &c->elem[i];
        uint32_t lo = from > pos ? from : pos;
        uint32_t hi = to < pos + e->len ? to : pos + e->len;

        if (lo < hi && add_segments(q, e, lo - pos, hi - pos,
                                    local + (lo - origin), true, n, limit))
            return -1;
        pos += e->len;
    }
    return 0;
}

/* Append the segments that copy slot i's result back at segs[*n]; -1
 * (*n unchanged) if they do not fit (then the request fails). */
static int prepare_back(struct vgd_queue *q, unsigned i,
                        const struct vgd_result *res, uint32_t *n)
{
    struct vgd_copy_slot *cs = &q->cp.slot[i];
    const struct vq_chain *c = cs->chain;
    unsigned sb = q->dev->model->status_bytes;
    uint8_t *in_local = cs->bounce + cs->in_base;
    uint32_t first = *n, limit = first + q->cp.max_pages;
    uint32_t in_bytes = c->in_bytes, written, prefix;
    int rc;

    if (sb > in_bytes)
        sb = in_bytes;
    if (cs->status_only) {
        rc = copy_back_range(q, c, in_bytes - sb, in_bytes, cs->bounce,
                             in_bytes - sb, n, limit);
    } else {
        /* Exactly what the model wrote (devmodel.h): a prefix of
         * written - sb bytes, and the status if written covers it.  A
         * byte in between was never written: copying it would hand the
         * guest a stale bounce byte of an earlier request. */
        written = res->written < in_bytes ? res->written : in_bytes;
        prefix = written >= sb ? written - sb : written;
        if (prefix > in_bytes - sb)
            prefix = in_bytes - sb;
        rc = copy_back_range(q, c, 0, prefix, in_local, 0, n, limit);
        if (rc == 0 && sb && written >= sb)
            rc = copy_back_range(q, c, in_bytes - sb, in_bytes, in_local,
                                 0, n, limit);
    }
    if (rc)
        *n = first;
    return rc;
}

/* The guest refused (part of) slot i's result: the model's failure
 * status instead, its segments appended at segs[*n].  Returns the used
 * length it would give, or -1 if even the status cannot be reached. */
static long prepare_fail_status(struct vgd_queue *q, unsigned i, uint32_t *n)
{
    struct vgd_copy_slot *cs = &q->cp.slot[i];
    const struct vgd_model *model = q->dev->model;
    const struct vq_chain *c = cs->chain;
    unsigned sb = model->status_bytes;
    struct vgd_request status_req;
    struct vgd_result fres;
    uint32_t in_bytes = c->in_bytes, first = *n;

    if (cs->status_only || !model->fail || sb == 0 || sb > in_bytes ||
        status_setup(q, i, c, sb, &status_req))
        return -1;
    memset(&fres, 0, sizeof(fres));
    model->fail(q->dev->mstate, &status_req, &fres);
    if (copy_back_range(q, c, in_bytes - sb, in_bytes, cs->bounce,
                        in_bytes - sb, n, first + q->cp.max_pages)) {
        *n = first;         /* nothing half-appended goes to the guest */
        return -1;
    }
    return fres.written;
}

/* A round: every request's device-readable bytes in ONE copy batch;
 * a segment the guest refused fails only the request it belongs to. */
void vgd_copy_round_in(struct vgd_queue *q, struct vgd_slot *s, unsigned n,
                       unsigned status_bytes, const bool *take)
{
    struct vgd_copier *cp = &q->cp;
    uint32_t nseg = 0;
    bool call_failed = false;

    if (n && s[0].index + n > cp->nslots)
        n = cp->nslots - s[0].index;    /* the caller's bug: lanes fit */
    for (unsigned i = 0; i < n; i++) {
        struct vgd_copy_slot *cs = &cp->slot[s[i].index];

        cs->chain = NULL;
        cs->status_only = false;
        cs->seg_first = nseg;
        cs->seg_n = 0;
        if (take && !take[i])
            continue;
        memset(&s[i].req, 0, sizeof(s[i].req));
        s[i].mapped = prepare_in(q, s[i].index, &s[i].chain, &nseg) ?
                      VGD_MAPPED_NONE : VGD_MAPPED_ALL;
        cs->seg_n = nseg - cs->seg_first;
    }
    if (nseg)
        call_failed = copy_call(q, nseg, "from the guest") != 0;
    for (unsigned i = 0; i < n; i++) {
        struct vgd_copy_slot *cs = &cp->slot[s[i].index];

        if ((take && !take[i]) || s[i].mapped != VGD_MAPPED_ALL)
            continue;
        if (cs->seg_n && (call_failed ||
                          segs_failed(q, cs->seg_first, cs->seg_n,
                                      "from the guest")))
            s[i].mapped = VGD_MAPPED_NONE;
        else
            describe(cs, &s[i].chain, &s[i].req);
    }
    for (unsigned i = 0; i < n; i++)
        if ((!take || take[i]) && s[i].mapped == VGD_MAPPED_NONE &&
            status_setup(q, s[i].index, &s[i].chain, status_bytes,
                         &s[i].req) == 0)
            s[i].mapped = VGD_MAPPED_STATUS;
}

static void copy_map_round(struct vgd_queue *q, struct vgd_slot *s,
                           unsigned n, unsigned status_bytes)
{
    vgd_copy_round_in(q, s, n, status_bytes, NULL);
}

/* ... and every result back in ONE more batch (plus one for the failure
 * statuses of requests whose result the guest refused, if any). */
static void copy_finish_round(struct vgd_queue *q, struct vgd_slot *s,
                              unsigned n)
{
    struct vgd_copier *cp = &q->cp;
    long fw[VGD_ROUND_SLOTS];
    bool refused[VGD_ROUND_SLOTS];
    uint32_t nseg = 0;
    bool call_failed = false, any_refused = false;

    if (n && s[0].index + n > cp->nslots)
        n = cp->nslots - s[0].index;
    for (unsigned i = 0; i < n; i++) {
        struct vgd_copy_slot *cs = &cp->slot[s[i].index];

        fw[i] = -1;
        refused[i] = false;
        cs->seg_first = nseg;
        cs->seg_n = 0;
        if (!cs->chain)
            continue;
        if (prepare_back(q, s[i].index, &s[i].res, &nseg)) {
            refused[i] = any_refused = true;    /* retried as a status */
            continue;
        }
        cs->seg_n = nseg - cs->seg_first;
    }
    if (nseg)
        call_failed = copy_call(q, nseg, "to the guest") != 0;
    for (unsigned i = 0; i < n; i++) {
        struct vgd_copy_slot *cs = &cp->slot[s[i].index];

        if (!cs->chain || !cs->seg_n)
            continue;
        if (call_failed || segs_failed(q, cs->seg_first, cs->seg_n,
                                       "to the guest"))
            refused[i] = any_refused = true;
    }
    if (any_refused) {
        nseg = 0;
        for (unsigned i = 0; i < n; i++) {
            struct vgd_copy_slot *cs = &cp->slot[s[i].index];

            if (!refused[i])
                continue;
            s[i].res.failed = true;
            s[i].res.written = 0;
            cs->seg_first = nseg;
            fw[i] = prepare_fail_status(q, s[i].index, &nseg);
            cs->seg_n = nseg - cs->seg_first;
        }
        call_failed = nseg && copy_call(q, nseg, "of the status") != 0;
        for (unsigned i = 0; i < n; i++) {
            struct vgd_copy_slot *cs = &cp->slot[s[i].index];

            if (fw[i] >= 0 && !call_failed &&
                !segs_failed(q, cs->seg_first, cs->seg_n, "of the status"))
                s[i].res.written = (uint32_t)fw[i];
        }
    }
    for (unsigned i = 0; i < n; i++) {
        cp->slot[s[i].index].chain = NULL;
        /* the round is over: its slots' bytes are needed no more */
        if (cp->resident > VGD_COPY_RESIDENT_PAGES)
            q->dev->xc.bounce_pages -= vgd_copier_release(cp, s[i].index,
                                                          VGD_COPY_KEEP_PAGES);
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

static int copier_init(struct vgd_queue *q, unsigned max_pages,
                       unsigned max_bufs, unsigned nslots)
{
    if (vgd_copier_init(&q->cp, max_pages, max_bufs, nslots))
        return -1;
    q->cp_init = true;
    return 0;
}

static int copy_queue_init(struct vgd_queue *q, unsigned max_pages,
                           unsigned max_bufs)
{
    return copier_init(q, max_pages, max_bufs, q->nslots);
}

static void copy_queue_free(struct vgd_queue *q)
{
    if (q->cp_init) {
        q->dev->xc.bounce_pages -= q->cp.resident;
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
    .map_round = copy_map_round,
    .finish_round = copy_finish_round,
};
