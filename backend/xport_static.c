/* SPDX-License-Identifier: MIT */
/*
 * Transport mode "static": the baseline.  At connect the frontend's
 * pre-shared region (region-pages, region-refs-<k>) is mapped ONCE, in one
 * writable batch; a descriptor address is a byte offset into it, and
 * [addr, addr + len) must lie inside the region (checked without
 * overflow).  No hypercall per request: the frontend pays instead, with a
 * copy of every byte into and out of the region.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "vgrant/log.h"

/* Connect-time lines go through the device's state-machine limiter: a
 * guest can retry a bad connect in a loop. */
#define dev_log(dev, level, fmt, ...) vgd_xb_log(dev, level, fmt, ##__VA_ARGS__)

/* Frontend key as a decimal in [0, max]; logs the bad value. */
static int read_fe_key(struct vgd_dev *dev, const char *key, uint64_t max,
                       uint64_t *out)
{
    struct vg_hyp *h = vgd_hyp(dev->d);
    char *v = vg_xs_read_str(h, VG_XS_NO_TX, dev->fe_path, key);

    if (!v) {
        dev_log(dev, VG_LOG_ERR, "static mode: frontend key %s: %s", key,
                errno == ENOENT ? "missing" : strerror(errno));
        return -1;
    }
    if (vg_parse_uint(v, max, out) == 0) {
        free(v);
        return 0;
    }
    dev_log(dev, VG_LOG_ERR, "static mode: frontend key %s '%s' is not a "
            "decimal in [0, %llu]", key, VG_ESC(v), (unsigned long long)max);
    free(v);
    return -1;
}

static int static_connect(struct vgd_dev *dev)
{
    struct vg_hyp *h = vgd_hyp(dev->d);
    uint64_t want = dev->region_size / VG_PAGE_SIZE, pages;
    vg_gref_t *refs = NULL;
    char key[32];
    int rc = -1;

    if (want == 0 || want > VG_MAX_REGION_PAGES) {
        dev_log(dev, VG_LOG_ERR, "static mode: backend region %llu bytes is "
                "out of range", (unsigned long long)dev->region_size);
        return -1;
    }
    if (read_fe_key(dev, VG_KEY_REGION_PAGES, VG_MAX_REGION_PAGES, &pages))
        return -1;
    if (pages != want) {
        dev_log(dev, VG_LOG_ERR, "static mode: frontend key region-pages %llu "
                "does not match the backend's region (%llu bytes = %llu "
                "pages)", (unsigned long long)pages,
                (unsigned long long)dev->region_size,
                (unsigned long long)want);
        return -1;
    }
    refs = calloc(pages, sizeof(*refs));
    if (!refs) {
        dev_log(dev, VG_LOG_ERR, "static mode: out of memory");
        return -1;
    }
    for (uint64_t first = 0; first < pages; first += VG_REGION_REFS_PER_KEY) {
        unsigned k = (unsigned)(first / VG_REGION_REFS_PER_KEY);
        unsigned n = (unsigned)(pages - first < VG_REGION_REFS_PER_KEY ?
                                pages - first : VG_REGION_REFS_PER_KEY);
        char *list;

        snprintf(key, sizeof(key), VG_KEY_REGION_REFS_FMT, k);
        list = vg_xs_read_str(h, VG_XS_NO_TX, dev->fe_path, key);
        if (!list) {
            dev_log(dev, VG_LOG_ERR, "static mode: frontend key %s: %s", key,
                    errno == ENOENT ? "missing" : strerror(errno));
            goto out;
        }
        if (vg_parse_ref_list(list, refs + first, n)) {
            dev_log(dev, VG_LOG_ERR, "static mode: frontend key %s is not a "
                    "list of %u grant refs separated by single spaces "
                    "('%s')", key, n, VG_ESC(list));
            free(list);
            goto out;
        }
        free(list);
    }
    dev->region_map = h->ops->map_grants(h, dev->fe_domid, (uint32_t)pages,
                                         refs, true);
    if (!dev->region_map) {
        dev_log(dev, VG_LOG_ERR, "static mode: cannot map the region (%llu "
                "pages, refs %u..): %s", (unsigned long long)pages, refs[0],
                strerror(errno));
        goto out;
    }
    dev->region_pages = (uint32_t)pages;
    dev->mc.map_batches++;
    dev->mc.maps += pages;
    dev->mc.live_mappings += pages;
    dev->xc.region_bytes = dev->region_size;
    dev_log(dev, VG_LOG_INFO, "static mode: region of %llu pages mapped once",
            (unsigned long long)pages);
    rc = 0;
out:
    free(refs);
    return rc;
}

static void static_disconnect(struct vgd_dev *dev)
{
    if (!dev->region_map)
        return;
    vgd_gm_unmap_area(vgd_hyp(dev->d), dev->region_map, dev->region_pages,
                      &dev->mc);
    dev->region_map = NULL;
    dev->region_pages = 0;
    dev->xc.region_bytes = 0;
}

static int static_queue_init(struct vgd_queue *q, unsigned max_pages,
                             unsigned max_bufs)
{
    /* Only the iovec arrays of the copy state are needed, one per slot. */
    (void)max_pages;
    memset(&q->cp, 0, sizeof(q->cp));
    q->cp.iov = calloc((size_t)q->nslots * max_bufs, sizeof(*q->cp.iov));
    if (!q->cp.iov)
        return -1;
    q->cp.max_bufs = max_bufs;
    q->cp.nslots = q->nslots;
    q->cp_init = true;
    return 0;
}

static void static_queue_free(struct vgd_queue *q)
{
    if (q->cp_init)
        free(q->cp.iov);
    memset(&q->cp, 0, sizeof(q->cp));
    q->cp_init = false;
}

/* Where buffer i lives in the region, or NULL (logged). */
static void *region_at(struct vgd_queue *q, unsigned i, uint64_t addr,
                       uint32_t len)
{
    struct vgd_dev *dev = q->dev;
    uint64_t size = (uint64_t)dev->region_pages * VG_PAGE_SIZE;

    if (!dev->region_map || addr > size || len > size - addr) {
        vgd_xport_warn(dev, &q->failures, "buffer %u [0x%llx, +%u) is "
                       "outside the %llu-byte region", i,
                       (unsigned long long)addr, len,
                       (unsigned long long)size);
        return NULL;
    }
    return (uint8_t *)dev->region_map + addr;
}

static int static_map_request(struct vgd_queue *q, struct vgd_slot *s)
{
    const struct vq_chain *c = &s->chain;
    struct vgd_request *req = &s->req;
    struct iovec *iov = q->cp.iov + (size_t)s->index * q->cp.max_bufs;

    memset(req, 0, sizeof(*req));
    if (c->n > q->cp.max_bufs) {
        vgd_xport_warn(q->dev, &q->failures, "request has %u buffers, "
                       "limit %u", c->n, q->cp.max_bufs);
        return -1;
    }
    for (unsigned i = 0; i < c->n; i++) {
        const struct vq_elem *e = &c->elem[i];

        iov[i].iov_base = region_at(q, i, e->addr, e->len);
        iov[i].iov_len = e->len;
        if (!iov[i].iov_base)
            return -1;
    }
    req->out = iov;
    req->n_out = c->n_out;
    req->out_bytes = c->out_bytes;
    req->in = iov + c->n_out;
    req->n_in = (unsigned)(c->n - c->n_out);
    req->in_bytes = c->in_bytes;
    return 0;
}

static int static_map_status(struct vgd_queue *q, struct vgd_slot *s,
                             unsigned status_bytes)
{
    const struct vq_chain *c = &s->chain;
    struct vgd_request *req = &s->req;
    struct iovec *iov = q->cp.iov + (size_t)s->index * q->cp.max_bufs;
    const struct vq_elem *e;
    uint8_t *p;

    memset(req, 0, sizeof(*req));
    if (status_bytes == 0 || c->n == 0 || c->n == c->n_out)
        return -1;
    e = &c->elem[c->n - 1];
    if (!e->write || e->len < status_bytes)
        return -1;
    p = region_at(q, c->n - 1u, e->addr, e->len);
    if (!p)
        return -1;
    iov[0].iov_base = p + e->len - status_bytes;
    iov[0].iov_len = status_bytes;
    req->in = iov;
    req->n_in = 1;
    req->in_bytes = status_bytes;
    return 0;
}

static void static_finish(struct vgd_queue *q, struct vgd_slot *s)
{
    (void)q;
    (void)s;     /* the region stays mapped until disconnect, by design */
}

const struct vgd_transport vgd_transport_static = {
    .name = VG_MODE_STATIC,
    .connect = static_connect,
    .disconnect = static_disconnect,
    .queue_init = static_queue_init,
    .queue_free = static_queue_free,
    .map_request = static_map_request,
    .map_status = static_map_status,
    .finish_request = static_finish,
};
