/* SPDX-License-Identifier: MIT */
/*
 * Transport mode "auto": per request, fewer than --auto-threshold bytes in
 * total take the copy path (xport_copy.c), the rest the grant mapping path
 * (grant_mapper.c).  In a round the small requests share one copy batch
 * each way and the large ones one map batch per protection; both are done
 * before any used entry of the round is pushed.
 */
#include <string.h>

#include "device.h"

static int auto_connect(struct vgd_dev *dev)
{
    (void)dev;
    return 0;
}

static void auto_disconnect(struct vgd_dev *dev)
{
    (void)dev;
}

static int auto_queue_init(struct vgd_queue *q, unsigned max_pages,
                           unsigned max_bufs)
{
    if (vgd_transport_copy.queue_init(q, max_pages, max_bufs) ||
        vgd_transport_grant.queue_init(q, max_pages, max_bufs)) {
        vgd_transport_copy.queue_free(q);
        return -1;
    }
    return 0;
}

static void auto_queue_free(struct vgd_queue *q)
{
    vgd_transport_copy.queue_free(q);
    vgd_transport_grant.queue_free(q);
}

/* A round: the small requests in one copy batch each way, the large ones
 * mapped in one batch per protection. */
static void auto_map_round(struct vgd_queue *q, struct vgd_slot *s,
                           unsigned n, unsigned status_bytes)
{
    bool copy[VGD_ROUND_SLOTS], map[VGD_ROUND_SLOTS];
    uint64_t threshold = vgd_auto_threshold(q->dev->d);

    if (n > q->cp.nslots)
        n = q->cp.nslots;
    for (unsigned i = 0; i < n; i++) {
        uint64_t bytes = (uint64_t)s[i].chain.out_bytes + s[i].chain.in_bytes;

        copy[i] = bytes < threshold;
        map[i] = !copy[i];
        if (copy[i])
            q->dev->xc.auto_copied++;
        else
            q->dev->xc.auto_mapped++;
    }
    vgd_copy_round_in(q, s, n, status_bytes, copy);
    vgd_gm_map_round(&q->gm, s, n, status_bytes, map);
}

static void auto_finish_round(struct vgd_queue *q, struct vgd_slot *s,
                              unsigned n)
{
    vgd_transport_copy.finish_round(q, s, n);  /* the copied slots */
    vgd_gm_unmap_round(&q->gm, s);  /* the mapped ones, before any push */
}

const struct vgd_transport vgd_transport_auto = {
    .name = VG_MODE_AUTO,
    .connect = auto_connect,
    .disconnect = auto_disconnect,
    .queue_init = auto_queue_init,
    .queue_free = auto_queue_free,
    .map_round = auto_map_round,
    .finish_round = auto_finish_round,
};
