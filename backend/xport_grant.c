/* SPDX-License-Identifier: MIT */
/*
 * Transport mode "grant": the strict default.  The request's refs are
 * mapped in at most two batches (read-only, writable) by the grant
 * mapping engine and unmapped before the used entry is pushed.
 */
#include <errno.h>

#include "device.h"

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
                    max_pages, max_bufs, &dev->mc))
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

static int grant_map_request(struct vgd_queue *q, const struct vq_chain *c,
                             struct vgd_request *req)
{
    return vgd_gm_map_request(&q->gm, c, req);
}

static int grant_map_status(struct vgd_queue *q, const struct vq_chain *c,
                            unsigned status_bytes, struct vgd_request *req)
{
    return vgd_gm_map_status(&q->gm, c, status_bytes, req);
}

static void grant_finish(struct vgd_queue *q, struct vgd_result *res)
{
    (void)res;
    vgd_gm_unmap(&q->gm);   /* strict: nothing outlives the request */
}

const struct vgd_transport vgd_transport_grant = {
    .name = VG_MODE_GRANT,
    .connect = grant_connect,
    .disconnect = grant_disconnect,
    .queue_init = grant_queue_init,
    .queue_free = grant_queue_free,
    .map_request = grant_map_request,
    .map_status = grant_map_status,
    .finish_request = grant_finish,
};
