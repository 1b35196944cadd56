/* SPDX-License-Identifier: MIT */
/*
 * Per-queue resources: the three ring areas in pages granted to the
 * backend, the unbound event channel offered to it, the driver-side
 * virtqueue over them, and the request table bounded by the queue size.
 *
 * Each area is its own share call so it starts at offset 0 of its own
 * page, and each is granted with the least access the device needs: the
 * descriptor table and the driver (avail) area read-only (the device only
 * reads them), the device (used) area writable.  An area longer than a page must come out as consecutive refs
 * (protocol.h); when it does not, the queue falls back to 256 entries,
 * where every area fits one page.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vgf_internal.h"

#define VGF_ONE_PAGE_QUEUE_SIZE 256u

static uint32_t pages_for(size_t bytes)
{
    return (uint32_t)((bytes + VG_PAGE_SIZE - 1) / VG_PAGE_SIZE);
}

static void area_release(struct vgf_dev *d, struct vgf_area *a)
{
    if (a->pages && d->h->ops->unshare_pages(d->h, a->pages, a->npages))
        vgf_log(d, VG_LOG_WARN, "revoking ring grants: %s", strerror(errno));
    memset(a, 0, sizeof(*a));
}

/* 0 ok; -1 errno ENOMEM etc.; 1 the refs are not consecutive. */
static int area_grant(struct vgf_dev *d, struct vgf_area *a, size_t bytes,
                      bool device_writes)
{
    vg_gref_t refs[8];   /* an area of VG_MAX_QUEUE_SIZE entries needs <= 5 */
    uint32_t n = pages_for(bytes);

    if (n > sizeof(refs) / sizeof(refs[0])) {
        errno = EINVAL;
        return -1;
    }
    a->pages = d->h->ops->share_pages(d->h, d->backend_id, n, refs,
                                      device_writes);
    if (!a->pages)
        return -1;
    a->npages = n;
    a->first_ref = refs[0];
    for (uint32_t i = 1; i < n; i++)
        if (refs[i] != refs[0] + i)
            return 1;
    return 0;
}

static void queue_rings_release(struct vgf_dev *d, struct vgf_queue *q)
{
    if (q->vq_ready)
        vq_drv_free(&q->vq);
    q->vq_ready = false;
    area_release(d, &q->desc);
    area_release(d, &q->driver);
    area_release(d, &q->device);
    if (q->port >= 0 && d->h->ops->evtchn_unbind(d->h, (vg_port_t)q->port))
        vgf_log(d, VG_LOG_WARN, "queue %u: unbinding port %d: %s", q->index,
                q->port, strerror(errno));
    q->port = -1;
}

/* 0 ok, 1 retry with a one-page queue, -1 error. */
static int queue_rings_grant(struct vgf_dev *d, struct vgf_queue *q)
{
    int rc;

    if ((rc = area_grant(d, &q->desc, vg_ring_desc_bytes(q->size),
                         false)) != 0 ||
        (rc = area_grant(d, &q->driver, vg_ring_avail_bytes(q->size),
                         false)) != 0 ||
        (rc = area_grant(d, &q->device, vg_ring_used_bytes(q->size),
                         true)) != 0)
        return rc;
    if (vq_drv_init(&q->vq, q->size, q->desc.pages, q->driver.pages,
                 q->device.pages, d->features & VG_FEATURE(VIRTIO_RING_F_EVENT_IDX)))
        return -1;
    q->vq_ready = true;
    return 0;
}

static int queue_setup(struct vgf_dev *d, struct vgf_queue *q)
{
    int rc, port;

    rc = queue_rings_grant(d, q);
    if (rc == 1 && q->size > VGF_ONE_PAGE_QUEUE_SIZE) {
        vgf_log(d, VG_LOG_INFO, "queue %u: ring pages not granted with "
                "consecutive refs, using %u entries instead of %u", q->index,
                VGF_ONE_PAGE_QUEUE_SIZE, q->size);
        queue_rings_release(d, q);
        q->size = VGF_ONE_PAGE_QUEUE_SIZE;
        rc = queue_rings_grant(d, q);
    }
    if (rc) {
        if (rc == 1)
            errno = ENOMEM;
        vgf_log(d, VG_LOG_ERR, "queue %u: granting the ring to dom %u: %s",
                q->index, d->backend_id, strerror(errno));
        return -1;
    }

    port = d->h->ops->evtchn_bind_unbound(d->h, d->backend_id);
    if (port < 0) {
        vgf_log(d, VG_LOG_ERR, "queue %u: offering an event channel to dom %u: %s",
                q->index, d->backend_id, strerror(errno));
        return -1;
    }
    q->port = port;

    q->reqs = calloc(q->size, sizeof(*q->reqs));
    q->scratch = calloc(q->size, sizeof(*q->scratch));
    if (!q->reqs || !q->scratch) {
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

int vgf_queues_setup(struct vgf_dev *d)
{
    unsigned size = d->opts.queue_size;

    /* Largest size the backend allows that is not above what was asked. */
    if (size == 0)
        size = VGF_ONE_PAGE_QUEUE_SIZE;
    if (size > d->max_queue_size)
        size = d->max_queue_size;
    while (size & (size - 1))
        size &= size - 1;
    if (size < VG_MIN_QUEUE_SIZE)
        size = VG_MIN_QUEUE_SIZE;

    d->queues = calloc(d->num_queues, sizeof(*d->queues));
    if (!d->queues) {
        errno = ENOMEM;
        return -1;
    }
    for (unsigned i = 0; i < d->num_queues; i++) {
        d->queues[i].index = i;
        d->queues[i].size = (uint16_t)size;
        d->queues[i].port = -1;
    }
    for (unsigned i = 0; i < d->num_queues; i++)
        if (queue_setup(d, &d->queues[i]))
            return -1;   /* caller tears down */
    return 0;
}

/* Rings and ports only: the request tables live on until failed requests
 * have been collected. */
void vgf_rings_release(struct vgf_dev *d)
{
    for (unsigned i = 0; d->queues && i < d->num_queues; i++)
        queue_rings_release(d, &d->queues[i]);
}

void vgf_queues_teardown(struct vgf_dev *d)
{
    if (!d->queues)
        return;
    vgf_rings_release(d);
    for (unsigned i = 0; i < d->num_queues; i++) {
        struct vgf_queue *q = &d->queues[i];

        for (unsigned r = 0; q->reqs && r < q->size; r++) {
            vgf_req_release_pages(d, &q->reqs[r]);
            free(q->reqs[r].in_iov);
            free(q->reqs[r].in_pos);
        }
        free(q->reqs);
        free(q->scratch);
    }
    free(d->queues);
    d->queues = NULL;
    vgf_arena_release(d);
}
