/* SPDX-License-Identifier: MIT */
/*
 * Grant mapping engine, see grant_mapper.h.
 *
 * Policy on failures: a request that names something we cannot map (an
 * address without the grant bit, a ref never granted or revoked, a
 * read-only grant where the device must write, too many pages) fails only
 * that request; the device keeps serving.  The damage is confined to the
 * guest's own request, and Linux's grant-dma-ops can legitimately race a
 * revocation with a buggy driver, so closing the device would punish a
 * guest for something it can already observe.  Ring-level violations
 * (broken indices, loops) are different: they close the device (serve.c).
 *
 * At the end: the transport table of mode "grant" (transport.h), which is
 * this engine used strictly, per queue.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bigarray.h"
#include "device.h"
#include "grant_mapper.h"
#include "vgrant/log.h"
#include "vgrant/protocol.h"

int vgd_gm_init(struct vgd_grant_mapper *m, struct vg_hyp *h, uint16_t domid,
                unsigned devid, unsigned max_pages, unsigned max_bufs,
                unsigned slots, struct vgd_map_counters *ctr,
                struct vg_ratelimit *failures)
{
    memset(m, 0, sizeof(*m));
    if (max_pages == 0 || max_bufs == 0 || slots == 0 ||
        slots > VGD_GM_MAX_SLOTS) {
        errno = EINVAL;
        return -1;
    }
    m->h = h;
    m->domid = domid;
    m->devid = devid;
    m->max_pages = max_pages;
    m->max_bufs = max_bufs;
    m->slots = slots;
    m->ctr = ctr;
    m->failures = failures;
    m->ro_refs = vgd_big_calloc((size_t)slots * max_pages, sizeof(*m->ro_refs));
    m->rw_refs = vgd_big_calloc((size_t)slots * max_pages, sizeof(*m->rw_refs));
    m->iov = calloc((size_t)slots * max_bufs, sizeof(*m->iov));
    m->slot = calloc(slots, sizeof(*m->slot));
    m->live = calloc(2 * (size_t)slots + 2 * VGD_LANES, sizeof(*m->live));
    if (!m->ro_refs || !m->rw_refs || !m->iov || !m->slot || !m->live) {
        vgd_gm_free(m);
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

void vgd_gm_free(struct vgd_grant_mapper *m)
{
    if (m->live)
        vgd_gm_unmap(m);
    vgd_big_free(m->ro_refs, (size_t)m->slots * m->max_pages,
                 sizeof(*m->ro_refs));
    vgd_big_free(m->rw_refs, (size_t)m->slots * m->max_pages,
                 sizeof(*m->rw_refs));
    free(m->iov);
    free(m->slot);
    free(m->live);
    m->ro_refs = m->rw_refs = NULL;
    m->iov = NULL;
    m->slot = NULL;
    m->live = NULL;
}

/* Map one batch and remember it for vgd_gm_unmap.  live[] has room for
 * every batch a round can make: two, plus two per request after a
 * fallback, plus one status batch per request. */
static void *map_batch(struct vgd_grant_mapper *m, uint32_t count,
                       const vg_gref_t *refs, bool writable)
{
    void *addr;

    if (m->nlive >= 2 * m->slots + 2 * VGD_LANES) {
        errno = ENOSPC;     /* a bug of ours, not of the guest */
        return NULL;
    }
    addr = m->h->ops->map_grants(m->h, m->domid, count, refs, writable);
    if (!addr)
        return NULL;
    m->live[m->nlive++] = (struct vgd_gm_live){ addr, count, m->cur_round };
    m->ctr->map_batches++;
    m->ctr->maps += count;
    m->ctr->live_mappings += count;
    return addr;
}

static void unmap_batch(struct vg_hyp *h, void *addr, uint32_t count,
                        struct vgd_map_counters *ctr, uint16_t domid,
                        unsigned devid)
{
    if (h->ops->unmap_grants(h, addr, count)) {
        /* Nothing sensible to retry: say so loudly, the pages leak. */
        vg_dev_log(VG_LOG_ERR, domid, devid, "cannot unmap %u grant pages: %s",
                   count, strerror(errno));
        return;
    }
    ctr->unmap_batches++;
    ctr->unmaps += count;
    ctr->live_mappings -= count;
}

void vgd_gm_unmap(struct vgd_grant_mapper *m)
{
    for (unsigned i = 0; i < m->nlive; i++)
        unmap_batch(m->h, m->live[i].addr, m->live[i].count, m->ctr,
                    m->domid, m->devid);
    m->nlive = 0;
}

void vgd_gm_unmap_round(struct vgd_grant_mapper *m, const struct vgd_slot *s)
{
    unsigned keep = 0;

    for (unsigned i = 0; i < m->nlive; i++) {
        if (m->live[i].round == s->index)
            unmap_batch(m->h, m->live[i].addr, m->live[i].count, m->ctr,
                        m->domid, m->devid);
        else
            m->live[keep++] = m->live[i];
    }
    m->nlive = keep;
}

/* The last live mapping, mapped by the caller a moment ago, goes back
 * (a half-mapped request that fails). */
static void unmap_last(struct vgd_grant_mapper *m)
{
    struct vgd_gm_live *l = &m->live[--m->nlive];

    unmap_batch(m->h, l->addr, l->count, m->ctr, m->domid, m->devid);
}

/* A guest can make every request fail: rate-limited (log.h). */
static void gm_warn(struct vgd_grant_mapper *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void gm_warn(struct vgd_grant_mapper *m, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vg_rl_dev_vevent(m->failures, m->domid, m->devid, "unmappable request",
                     fmt, ap);
    va_end(ap);
}

/* Describe the refs of a failed batch for the log: "5-6,9". */
static void format_refs(char *buf, size_t size, const vg_gref_t *refs,
                        uint32_t count)
{
    size_t used = 0;
    uint32_t i = 0;

    buf[0] = '\0';
    while (i < count && used + 24 < size) {
        uint32_t j = i;
        int n;

        while (j + 1 < count && refs[j + 1] == refs[j] + 1)
            j++;
        if (j == i)
            n = snprintf(buf + used, size - used, "%s%u", i ? "," : "", refs[i]);
        else
            n = snprintf(buf + used, size - used, "%s%u-%u", i ? "," : "",
                         refs[i], refs[j]);
        if (n < 0)
            break;
        used += (size_t)n;
        i = j + 1;
    }
    if (i < count && used + 4 < size)
        snprintf(buf + used, size - used, ",...");
}

static void log_map_failure(struct vgd_grant_mapper *m,
                            const vg_gref_t *refs, uint32_t count,
                            bool writable, int err)
{
    char list[160];

    format_refs(list, sizeof(list), refs, count);
    gm_warn(m, "cannot map %s grant ref(s) %s: %s; failing the request",
               writable ? "writable" : "read-only", list, strerror(err));
}

/* Page run of one buffer: checks the encoding and the request's page
 * bound (*used: pages of this request so far), appends its refs to
 * refs[*count].  Returns the buffer's offset in the request's part of the
 * batch. */
static int add_buffer_refs(struct vgd_grant_mapper *m, unsigned index,
                           const struct vq_elem *e, vg_gref_t *refs,
                           uint32_t *count, uint32_t *used,
                           size_t *batch_offset)
{
    uint32_t ref = 0, off = 0;
    uint64_t pages = 0;
    enum vg_grant_run_check run = vg_grant_run(e->addr, e->len, &ref, &off,
                                               &pages);

    if (run == VG_GRANT_RUN_NOT_GRANT) {
        gm_warn(m,
                   "buffer %u address 0x%llx is not a grant address "
                   "(bit 63 and a 32-bit ref required); failing the request",
                   index, (unsigned long long)e->addr);
        return -1;
    }
    if (pages > m->max_pages - *used) {
        gm_warn(m,
                   "request names more than %u pages (buffer %u, len %u); "
                   "failing the request", m->max_pages, index, e->len);
        return -1;
    }
    if (run != VG_GRANT_RUN_OK) {
        gm_warn(m,
                   "buffer %u ref run %u+%llu overflows 32 bits; failing the "
                   "request", index, ref, (unsigned long long)pages);
        return -1;
    }
    *batch_offset = ((size_t)*count << VG_PAGE_SHIFT) + off;
    for (uint64_t k = 0; k < pages; k++)
        refs[(*count)++] = ref + (uint32_t)k;
    *used += (uint32_t)pages;
    return 0;
}

static struct iovec *slot_iov(struct vgd_grant_mapper *m, unsigned i)
{
    return m->iov + (size_t)i * m->max_bufs;
}

/* Pass 1 for request i of a round: check it and append its refs to the
 * round's lists at slot[i].ro_first / rw_first (set by the caller); the
 * iovecs keep each buffer's offset inside the request's own part of a
 * batch.  -1 (logged): the request is to be failed, nothing appended. */
static int collect(struct vgd_grant_mapper *m, unsigned i,
                   const struct vq_chain *c)
{
    struct vgd_gm_slot *s = &m->slot[i];
    struct iovec *iov = slot_iov(m, i);
    uint32_t used = 0;

    s->ro_n = s->rw_n = 0;
    if (c->n > m->max_bufs) {
        gm_warn(m,
                   "request has %u buffers, limit %u; failing the request",
                   c->n, m->max_bufs);
        return -1;
    }
    for (unsigned k = 0; k < c->n; k++) {
        const struct vq_elem *e = &c->elem[k];
        size_t where = 0;
        int rc;

        if (e->len == 0) {
            iov[k].iov_base = NULL;
            iov[k].iov_len = 0;
            continue;
        }
        if (e->write)
            rc = add_buffer_refs(m, k, e, m->rw_refs + s->rw_first, &s->rw_n,
                                 &used, &where);
        else
            rc = add_buffer_refs(m, k, e, m->ro_refs + s->ro_first, &s->ro_n,
                                 &used, &where);
        if (rc) {
            s->ro_n = s->rw_n = 0;
            return -1;
        }
        iov[k].iov_base = (void *)where;
        iov[k].iov_len = e->len;
    }
    return 0;
}

/* Request i on its own: at most one read-only and one writable batch.
 * -1 (logged, nothing of it left mapped) if the hypervisor refuses. */
static int map_slot(struct vgd_grant_mapper *m, unsigned i)
{
    struct vgd_gm_slot *s = &m->slot[i];

    if (s->ro_n) {
        s->ro_base = map_batch(m, s->ro_n, m->ro_refs + s->ro_first, false);
        if (!s->ro_base) {
            log_map_failure(m, m->ro_refs + s->ro_first, s->ro_n, false,
                            errno);
            return -1;
        }
    }
    if (s->rw_n) {
        s->rw_base = map_batch(m, s->rw_n, m->rw_refs + s->rw_first, true);
        if (!s->rw_base) {
            log_map_failure(m, m->rw_refs + s->rw_first, s->rw_n, true,
                            errno);
            if (s->ro_n)
                unmap_last(m);
            return -1;
        }
    }
    return 0;
}

/* Pass 2 done: turn request i's offsets into addresses, describe it. */
static void resolve(struct vgd_grant_mapper *m, unsigned i,
                    const struct vq_chain *c, struct vgd_request *req)
{
    struct vgd_gm_slot *s = &m->slot[i];
    struct iovec *iov = slot_iov(m, i);

    for (unsigned k = 0; k < c->n; k++) {
        const struct vq_elem *e = &c->elem[k];
        char *base = e->write ? s->rw_base : s->ro_base;

        if (e->len)
            iov[k].iov_base = base + (size_t)iov[k].iov_base;
    }
    memset(req, 0, sizeof(*req));
    req->out = iov;
    req->n_out = c->n_out;
    req->out_bytes = c->out_bytes;
    req->in = iov + c->n_out;
    req->n_in = (unsigned)(c->n - c->n_out);
    req->in_bytes = c->in_bytes;
}

/* Only the status bytes of request i, in a batch of their own. */
static int map_status_slot(struct vgd_grant_mapper *m, unsigned i,
                           const struct vq_chain *c, unsigned status_bytes,
                           struct vgd_request *req)
{
    const struct vq_elem *e;
    struct iovec *iov = slot_iov(m, i);
    vg_gref_t refs[2];
    uint64_t first, last, run_pages;
    uint32_t ref, off, pages;
    char *p;

    memset(req, 0, sizeof(*req));
    if (status_bytes == 0 || c->n == 0 || c->n == c->n_out)
        return -1;
    e = &c->elem[c->n - 1];
    /* the status ends the buffer: its last page is the run's last page */
    if (!e->write || e->len < status_bytes ||
        vg_grant_run(e->addr, e->len, &ref, &off, &run_pages) !=
        VG_GRANT_RUN_OK)
        return -1;

    first = off + (uint64_t)e->len - status_bytes;
    last = first + status_bytes - 1;
    pages = (uint32_t)((last >> VG_PAGE_SHIFT) - (first >> VG_PAGE_SHIFT) + 1);
    /* a status of a few bytes spans at most two pages */
    if (pages > sizeof(refs) / sizeof(refs[0]) || pages > m->max_pages)
        return -1;
    for (uint32_t k = 0; k < pages; k++)
        refs[k] = ref + (uint32_t)(first >> VG_PAGE_SHIFT) + k;

    p = map_batch(m, pages, refs, true);
    if (!p) {
        gm_warn(m,
                   "cannot map status byte at ref %u either: %s; completing "
                   "the request with length 0", refs[0], strerror(errno));
        return -1;
    }
    iov[0].iov_base = p + (first & (VG_PAGE_SIZE - 1));
    iov[0].iov_len = status_bytes;
    req->in = iov;
    req->n_in = 1;
    req->in_bytes = status_bytes;
    return 0;
}

void vgd_gm_map_round(struct vgd_grant_mapper *m, struct vgd_slot *r,
                      unsigned n, unsigned status_bytes, const bool *take)
{
    uint32_t ro_total = 0, rw_total = 0;
    char *ro = NULL, *rw = NULL;
    bool whole = true;

    if (n == 0)
        return;
    m->cur_round = r[0].index;
    vgd_gm_unmap_round(m, r);  /* never carry a mapping over from a round */
    if (r[0].index + n > m->slots)
        n = m->slots - r[0].index;  /* the caller's bug: lanes fit */

    /* Pass 1: every request's refs, one list per protection. */
    for (unsigned i = 0; i < n; i++) {
        unsigned a = r[i].index;
        struct vgd_gm_slot *s = &m->slot[a];

        s->ro_first = ro_total;
        s->rw_first = rw_total;
        s->ro_base = s->rw_base = NULL;
        s->ro_n = s->rw_n = 0;
        if (take && !take[i])
            continue;
        r[i].mapped = collect(m, a, &r[i].chain) ? VGD_MAPPED_NONE : VGD_MAPPED_ALL;
        ro_total += s->ro_n;
        rw_total += s->rw_n;
    }

    /* Pass 2: one read-only and one writable batch for the whole round.
     * Refused (a request names a bad ref): each request on its own, so
     * only the guilty one fails. */
    if (ro_total) {
        ro = map_batch(m, ro_total, m->ro_refs, false);
        whole = ro != NULL;
    }
    if (whole && rw_total) {
        rw = map_batch(m, rw_total, m->rw_refs, true);
        if (!rw) {
            if (ro)
                unmap_last(m);
            whole = false;
        }
    }
    for (unsigned i = 0; i < n; i++) {
        unsigned a = r[i].index;
        struct vgd_gm_slot *s = &m->slot[a];

        if ((take && !take[i]) || r[i].mapped != VGD_MAPPED_ALL)
            continue;
        if (whole) {
            if (s->ro_n)
                s->ro_base = ro + ((size_t)s->ro_first << VG_PAGE_SHIFT);
            if (s->rw_n)
                s->rw_base = rw + ((size_t)s->rw_first << VG_PAGE_SHIFT);
        } else if (map_slot(m, a)) {
            r[i].mapped = VGD_MAPPED_NONE;
        }
        if (r[i].mapped == VGD_MAPPED_ALL)
            resolve(m, a, &r[i].chain, &r[i].req);
    }

    /* The failed ones still report their status if they can. */
    for (unsigned i = 0; i < n; i++)
        if ((!take || take[i]) && r[i].mapped == VGD_MAPPED_NONE &&
            map_status_slot(m, r[i].index, &r[i].chain, status_bytes,
                            &r[i].req) == 0)
            r[i].mapped = VGD_MAPPED_STATUS;
}

void *vgd_gm_map_area(struct vg_hyp *h, uint16_t domid, uint64_t addr,
                      size_t bytes, bool writable, uint32_t *pages,
                      struct vgd_map_counters *ctr, const char **why)
{
    vg_gref_t refs[8];
    uint32_t ref = 0, off = 0, n;
    uint64_t run_pages = 0;
    enum vg_grant_run_check run = vg_grant_run(addr, bytes, &ref, &off,
                                               &run_pages);
    void *p;

    if (run == VG_GRANT_RUN_NOT_GRANT) {
        *why = "not a grant address";
        return NULL;
    }
    /* the pages covering [off, off + bytes) of the run: a ring area may
     * start inside its first page (protocol.h) */
    if (run_pages == 0 || run_pages > sizeof(refs) / sizeof(refs[0])) {
        *why = "area size out of range";
        return NULL;
    }
    if (run != VG_GRANT_RUN_OK) {
        *why = "ref run overflows 32 bits";
        return NULL;
    }
    n = (uint32_t)run_pages;
    for (uint32_t k = 0; k < n; k++)
        refs[k] = ref + k;
    p = h->ops->map_grants(h, domid, n, refs, writable);
    if (!p) {
        *why = writable ? "refs cannot be mapped writable"
                        : "refs cannot be mapped";
        return NULL;
    }
    ctr->map_batches++;
    ctr->maps += n;
    ctr->live_mappings += n;
    *pages = n;
    return (char *)p + off;
}

void vgd_gm_unmap_area(struct vg_hyp *h, void *addr, uint32_t pages,
                       struct vgd_map_counters *ctr)
{
    if (!addr)
        return;
    /* map_area returned a pointer at the area's offset in its first page */
    addr = (void *)((uintptr_t)addr & ~(uintptr_t)(VG_PAGE_SIZE - 1));
    if (h->ops->unmap_grants(h, addr, pages)) {
        vg_err("cannot unmap a ring area of %u pages: %s", pages,
               strerror(errno));
        return;
    }
    ctr->unmap_batches++;
    ctr->unmaps += pages;
    ctr->live_mappings -= pages;
}

/*
 * Transport mode "grant": the strict default.  A round's refs are mapped
 * in at most two batches (read-only, writable) by the engine above and
 * unmapped before any of its used entries is pushed.
 */

static int grant_connect(struct vgd_dev *dev)
{
    (void)dev;
    return 0;
}

static void grant_disconnect(struct vgd_dev *dev)
{
    (void)dev;
}

static int grant_queue_init(struct vgd_queue *q, unsigned max_pages,
                            unsigned max_bufs)
{
    struct vgd_dev *dev = q->dev;

    if (vgd_gm_init(&q->gm, vgd_hyp(dev->d), dev->fe_domid, dev->devid,
                    max_pages, max_bufs, q->nslots, &dev->mc,
                    &q->failures))
        return -1;
    q->gm_init = true;
    return 0;
}

static void grant_queue_free(struct vgd_queue *q)
{
    if (q->gm_init)
        vgd_gm_free(&q->gm);
    q->gm_init = false;
}

static void grant_map_round(struct vgd_queue *q, struct vgd_slot *s,
                            unsigned n, unsigned status_bytes)
{
    vgd_gm_map_round(&q->gm, s, n, status_bytes, NULL);
}

static void grant_finish_round(struct vgd_queue *q, struct vgd_slot *s,
                               unsigned n)
{
    (void)n;
    vgd_gm_unmap_round(&q->gm, s);  /* strict: before any used entry is
                                       pushed */
}

const struct vgd_transport vgd_transport_grant = {
    .name = VG_MODE_GRANT,
    .connect = grant_connect,
    .disconnect = grant_disconnect,
    .queue_init = grant_queue_init,
    .queue_free = grant_queue_free,
    .map_round = grant_map_round,
    .finish_round = grant_finish_round,
};
