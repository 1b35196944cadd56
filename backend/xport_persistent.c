/* SPDX-License-Identifier: MIT */
/*
 * Transport mode "persistent": lazy, opt-in.  Guest pages are mapped one
 * page per mapping and kept in a per-device LRU cache keyed by (ref,
 * writable), bounded by --persistent-cache pages.  A hit costs no
 * hypercall; a miss maps one page; when the cache is full the least
 * recently used page NOT used by the current round of requests is
 * unmapped: a page is pinned while an open round of any of the device's
 * queues uses it (a round's requests stay mapped until its last transfer
 * has completed, serve.c, and the queues' rounds are open at the same
 * time).  If every cached page is pinned, the extra pages are mapped
 * strictly and unmapped when their request finishes: a frontend naming
 * more distinct refs than the bound can never grow the cache.
 *
 * What it exposes: cached pages stay mapped between requests (until
 * evicted or the device disconnects), so the backend keeps access to
 * whatever the guest later puts in them.  A frontend that revokes and
 * re-grants a pooled page under the same ref while connected may have
 * its data served from the old page; libvgrant's pool never does that.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bigarray.h"
#include "device.h"
#include "vgrant/log.h"

static unsigned bucket_of(const struct vgd_pcache *pc, vg_gref_t ref,
                          bool writable)
{
    return ((ref * 2654435761u) ^ (unsigned)writable) & (pc->nbuckets - 1);
}

static void unmap_page(struct vgd_dev *dev, void *addr)
{
    vgd_gm_unmap_area(vgd_hyp(dev->d), addr, 1, &dev->mc);
}

static void *map_page(struct vgd_queue *q, vg_gref_t ref, bool writable)
{
    struct vgd_dev *dev = q->dev;
    struct vg_hyp *h = vgd_hyp(dev->d);
    void *p = h->ops->map_grants(h, dev->fe_domid, 1, &ref, writable);

    if (!p) {
        vgd_xport_warn(dev, &q->failures, "cannot map %s grant ref %u: %s",
                       writable ? "writable" : "read-only", ref,
                       strerror(errno));
        return NULL;
    }
    dev->mc.map_batches++;
    dev->mc.maps++;
    dev->mc.live_mappings++;
    return p;
}

static void entry_drop(struct vgd_dev *dev, struct vgd_pc_entry *e)
{
    struct vgd_pcache *pc = &dev->pcache;
    struct vgd_pc_entry **pp = &pc->buckets[bucket_of(pc, e->ref, e->writable)];

    while (*pp && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = e->hnext;
    TAILQ_REMOVE(&pc->lru, e, lru);
    unmap_page(dev, e->addr);
    e->used = false;
    e->addr = NULL;
    TAILQ_INSERT_TAIL(&pc->free, e, lru);
    dev->xc.cache_size--;
}

/* Is e used by an open round of one of the device's queues? */
static bool pinned(const struct vgd_dev *dev, const struct vgd_pc_entry *e)
{
    for (unsigned i = 0; i < VG_MAX_QUEUES; i++) {
        const struct vgd_queue *q = &dev->q[i];

        if (!q->pq_init)
            continue;
        for (unsigned l = 0; l < q->nlanes; l++)
            if (q->round[l].n && e->pin[i * VGD_LANES + l] == q->pq.round[l])
                return true;
    }
    return false;
}

/* Where slot `slot` of q pins its pages. */
static unsigned pin_index(const struct vgd_queue *q, unsigned slot)
{
    return q->index * VGD_LANES + slot / q->lane_slots;
}

/* The least recently used entry no open round uses, NULL if none. */
static struct vgd_pc_entry *victim(struct vgd_dev *dev)
{
    struct vgd_pc_entry *e;

    TAILQ_FOREACH(e, &dev->pcache.lru, lru)
        if (!pinned(dev, e))
            return e;
    return NULL;
}

/* The page (ref, writable) mapped for slot `slot`, from the cache or
 * freshly. */
static void *page_get(struct vgd_queue *q, unsigned slot, vg_gref_t ref,
                      bool writable)
{
    struct vgd_dev *dev = q->dev;
    struct vgd_pcache *pc = &dev->pcache;
    unsigned b = bucket_of(pc, ref, writable);
    struct vgd_pc_entry *e;
    void *p;

    for (e = pc->buckets[b]; e; e = e->hnext) {
        if (e->ref == ref && e->writable == writable) {
            e->pin[pin_index(q, slot)] = q->pq.round[slot / q->lane_slots];
            TAILQ_REMOVE(&pc->lru, e, lru);
            TAILQ_INSERT_TAIL(&pc->lru, e, lru);
            dev->xc.cache_hits++;
            return e->addr;
        }
    }
    dev->xc.cache_misses++;
    e = TAILQ_FIRST(&pc->free);
    if (!e)
        e = victim(dev);    /* NULL: all pinned by open rounds */
    p = map_page(q, ref, writable);
    if (!p)
        return NULL;
    if (!e) {
        /* Strict page: unmapped in finish, never cached. */
        q->pq.strict[(size_t)slot * q->pq.max_pages + q->pq.nstrict[slot]++] = p;
        dev->xc.cache_uncached++;
        return p;
    }
    if (e->used) {
        entry_drop(dev, e);
        dev->xc.cache_evictions++;
    }
    TAILQ_REMOVE(&pc->free, e, lru);
    e->ref = ref;
    e->writable = writable;
    e->used = true;
    memset(e->pin, 0, sizeof(e->pin));
    e->pin[pin_index(q, slot)] = q->pq.round[slot / q->lane_slots];
    e->addr = p;
    e->hnext = pc->buckets[b];
    pc->buckets[b] = e;
    TAILQ_INSERT_TAIL(&pc->lru, e, lru);
    dev->xc.cache_size++;
    return p;
}

static void release_strict(struct vgd_queue *q, unsigned slot)
{
    void **strict = q->pq.strict + (size_t)slot * q->pq.max_pages;

    for (unsigned i = 0; i < q->pq.nstrict[slot]; i++)
        unmap_page(q->dev, strict[i]);
    q->pq.nstrict[slot] = 0;
}

static struct iovec *slot_iov(struct vgd_queue *q, unsigned slot)
{
    return q->pq.iov + (size_t)slot * (q->pq.max_pages + q->pq.max_bufs);
}

/* iovecs (one per page piece) for buffer e of slot `slot`, appended at
 * its iov[*n]. */
static int map_buffer(struct vgd_queue *q, unsigned slot,
                      const struct vq_elem *e, unsigned *n)
{
    struct iovec *iov = slot_iov(q, slot);
    uint32_t ref = vg_grant_addr_ref(e->addr);
    uint32_t off = vg_grant_addr_offset(e->addr);
    uint64_t pos = 0;

    while (pos < e->len) {
        uint64_t abs = off + pos;
        uint32_t in_page = (uint32_t)(abs & (VG_PAGE_SIZE - 1));
        uint64_t len = VG_PAGE_SIZE - in_page;
        uint8_t *page;

        if (len > e->len - pos)
            len = e->len - pos;
        page = page_get(q, slot, ref + (uint32_t)(abs >> VG_PAGE_SHIFT),
                        e->write);
        if (!page)
            return -1;
        iov[*n].iov_base = page + in_page;
        iov[*n].iov_len = len;
        (*n)++;
        pos += len;
    }
    return 0;
}

/* The first slot of a lane starts a round there: the pages of the lane's
 * round before are unpinned (that round has closed). */
static void slot_begin(struct vgd_queue *q, struct vgd_slot *s)
{
    memset(&s->req, 0, sizeof(s->req));
    release_strict(q, s->index);
    if (s->index % q->lane_slots == 0)
        q->pq.round[s->index / q->lane_slots]++;
}

static int pers_map_request(struct vgd_queue *q, struct vgd_slot *s)
{
    const struct vq_chain *c = &s->chain;
    struct vgd_request *req = &s->req;
    struct vgd_pqueue *pq = &q->pq;
    struct iovec *iov = slot_iov(q, s->index);
    uint64_t pages = 0;
    unsigned n = 0, n_out = 0;

    slot_begin(q, s);
    if (c->n > pq->max_bufs) {
        vgd_xport_warn(q->dev, &q->failures, "request has %u buffers, "
                       "limit %u", c->n, pq->max_bufs);
        return -1;
    }
    for (unsigned i = 0; i < c->n; i++) {
        uint64_t p = 0;

        if (c->elem[i].len &&
            vgd_xport_check_buffer(q->dev, &q->failures, i,
                                   &c->elem[i], &p))
            return -1;
        pages += p;
        if (pages > pq->max_pages) {
            vgd_xport_warn(q->dev, &q->failures, "request names more than "
                           "%u pages (buffer %u, len %u)", pq->max_pages, i,
                           c->elem[i].len);
            return -1;
        }
    }
    for (unsigned i = 0; i < c->n; i++) {
        if (i == c->n_out)
            n_out = n;
        if (map_buffer(q, s->index, &c->elem[i], &n)) {
            release_strict(q, s->index);
            return -1;
        }
    }
    if (c->n_out == c->n)
        n_out = n;
    req->out = iov;
    req->n_out = n_out;
    req->out_bytes = c->out_bytes;
    req->in = iov + n_out;
    req->n_in = n - n_out;
    req->in_bytes = c->in_bytes;
    return 0;
}

static int pers_map_status(struct vgd_queue *q, struct vgd_slot *s,
                           unsigned status_bytes)
{
    const struct vq_chain *c = &s->chain;
    struct vgd_request *req = &s->req;
    const struct vq_elem *e;
    struct vq_elem tail;
    uint64_t pages, abs;
    unsigned n = 0;

    /* after a failed map_request of the same slot: the round goes on */
    memset(req, 0, sizeof(*req));
    release_strict(q, s->index);
    if (status_bytes == 0 || c->n == 0 || c->n == c->n_out)
        return -1;
    e = &c->elem[c->n - 1];
    if (!e->write || e->len < status_bytes ||
        vgd_xport_check_buffer(q->dev, &q->failures, c->n - 1u, e,
                               &pages))
        return -1;
    /* The last status_bytes of e, as a buffer of its own. */
    abs = vg_grant_addr_offset(e->addr) + (uint64_t)e->len - status_bytes;
    tail.addr = vg_grant_addr(vg_grant_addr_ref(e->addr) +
                              (uint32_t)(abs >> VG_PAGE_SHIFT),
                              (uint32_t)(abs & (VG_PAGE_SIZE - 1)));
    tail.len = status_bytes;
    tail.write = true;
    if (map_buffer(q, s->index, &tail, &n)) {
        release_strict(q, s->index);
        return -1;
    }
    req->in = slot_iov(q, s->index);
    req->n_in = n;
    req->in_bytes = status_bytes;
    return 0;
}

static void pers_finish(struct vgd_queue *q, struct vgd_slot *s)
{
    release_strict(q, s->index);   /* cached pages stay: that is the mode */
}

static int pers_connect(struct vgd_dev *dev)
{
    struct vgd_pcache *pc = &dev->pcache;
    unsigned bound = vgd_persistent_pages(dev->d);

    memset(pc, 0, sizeof(*pc));
    pc->bound = bound;
    for (pc->nbuckets = 1; pc->nbuckets < bound; pc->nbuckets <<= 1)
        ;
    pc->entries = calloc(bound, sizeof(*pc->entries));
    pc->buckets = calloc(pc->nbuckets, sizeof(*pc->buckets));
    if (!pc->entries || !pc->buckets) {
        free(pc->entries);
        free(pc->buckets);
        vg_dev_log(VG_LOG_ERR, dev->fe_domid, dev->devid,
                   "persistent mode: out of memory for %u cache entries",
                   bound);
        return -1;
    }
    TAILQ_INIT(&pc->lru);
    TAILQ_INIT(&pc->free);
    for (unsigned i = 0; i < bound; i++)
        TAILQ_INSERT_TAIL(&pc->free, &pc->entries[i], lru);
    dev->pcache_init = true;
    dev->xc.cache_size = 0;
    return 0;
}

static void pers_disconnect(struct vgd_dev *dev)
{
    struct vgd_pcache *pc = &dev->pcache;
    struct vgd_pc_entry *e;

    if (!dev->pcache_init)
        return;
    while ((e = TAILQ_FIRST(&pc->lru)))
        entry_drop(dev, e);
    free(pc->entries);
    free(pc->buckets);
    memset(pc, 0, sizeof(*pc));
    dev->pcache_init = false;
}

static void pers_queue_arrays_free(struct vgd_pqueue *pq)
{
    vgd_big_free(pq->iov, (size_t)pq->nslots * ((size_t)pq->max_pages +
                                                pq->max_bufs),
                 sizeof(*pq->iov));
    vgd_big_free(pq->strict, (size_t)pq->nslots * pq->max_pages,
                 sizeof(*pq->strict));
    free(pq->nstrict);
    memset(pq, 0, sizeof(*pq));
}

static int pers_queue_init(struct vgd_queue *q, unsigned max_pages,
                           unsigned max_bufs)
{
    struct vgd_pqueue *pq = &q->pq;

    memset(pq, 0, sizeof(*pq));
    pq->max_pages = max_pages;
    pq->max_bufs = max_bufs;
    pq->nslots = q->nslots;
    pq->iov = vgd_big_calloc((size_t)q->nslots * ((size_t)max_pages + max_bufs),
                             sizeof(*pq->iov));
    pq->strict = vgd_big_calloc((size_t)q->nslots * max_pages,
                                sizeof(*pq->strict));
    pq->nstrict = calloc(q->nslots, sizeof(*pq->nstrict));
    if (!pq->iov || !pq->strict || !pq->nstrict) {
        pers_queue_arrays_free(pq);
        return -1;
    }
    q->pq_init = true;
    return 0;
}

static void pers_queue_free(struct vgd_queue *q)
{
    if (!q->pq_init)
        return;
    for (unsigned i = 0; i < q->pq.nslots; i++)
        release_strict(q, i);
    pers_queue_arrays_free(&q->pq);
    q->pq_init = false;
}

const struct vgd_transport vgd_transport_persistent = {
    .name = VG_MODE_PERSISTENT,
    .connect = pers_connect,
    .disconnect = pers_disconnect,
    .queue_init = pers_queue_init,
    .queue_free = pers_queue_free,
    .map_request = pers_map_request,
    .map_status = pers_map_status,
    .finish_request = pers_finish,
};
