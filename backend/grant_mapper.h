/* SPDX-License-Identifier: MIT */
/*
 * The grant mapping engine (transport mode "grant"): turns the grant
 * addresses of a popped descriptor chain into mapped iovecs and back.
 *
 *  - every address must carry the grant bit; a buffer covering k pages
 *    uses refs ref .. ref+k-1 (grant-dma-ops);
 *  - all device-readable pages are mapped read-only in ONE batch and all
 *    device-writable pages writable in ONE batch: at most two map calls
 *    per request (gntdev applies one protection per mapping);
 *  - the number of pages and buffers per request is bounded before
 *    anything is mapped;
 *  - strict unmapping: the caller unmaps before pushing the used entry, so
 *    no buffer stays mapped after its request completes.
 *
 * All arrays are sized once per queue at connect; nothing is allocated per
 * request.
 */
#ifndef VGRANT_GRANT_MAPPER_H
#define VGRANT_GRANT_MAPPER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vgrant/hyp.h"
#include "vgrant/log.h"
#include "vgrant/virtqueue.h"
#include "devmodel.h"

/* Hypervisor work done for one device (feeds struct vgd_dev_stats). */
struct vgd_map_counters {
    uint64_t map_batches, maps, unmap_batches, unmaps;
    uint64_t live_mappings;    /* pages mapped right now */
};

struct vgd_grant_mapper {
    struct vg_hyp *h;
    uint16_t domid;            /* granting (frontend) domain */
    unsigned devid;            /* for log lines */
    unsigned max_pages;        /* per request */
    unsigned max_bufs;         /* per request */
    struct vgd_map_counters *ctr;

    vg_gref_t *ro_refs, *rw_refs;   /* [max_pages] */
    struct iovec *iov;              /* [max_bufs]: out first, then in */
    void *ro_addr, *rw_addr;        /* current request's mappings */
    uint32_t ro_count, rw_count;
    struct vg_ratelimit failures;   /* requests we could not map: count
                                       and log limiter */
};

int vgd_gm_init(struct vgd_grant_mapper *m, struct vg_hyp *h, uint16_t domid,
                unsigned devid, unsigned max_pages, unsigned max_bufs,
                struct vgd_map_counters *ctr);
void vgd_gm_free(struct vgd_grant_mapper *m);

/* Map every buffer of chain c and describe them in *req.  0 on success;
 * -1 when the request cannot be mapped (logged with the offending address
 * or ref): nothing stays mapped and the request is to be failed. */
int vgd_gm_map_request(struct vgd_grant_mapper *m, const struct vq_chain *c,
                       struct vgd_request *req);
/* Map only the last status_bytes of the chain's device-writable part (one
 * writable page batch) so a failed request can still report its status.
 * -1 if even that is impossible. */
int vgd_gm_map_status(struct vgd_grant_mapper *m, const struct vq_chain *c,
                      unsigned status_bytes, struct vgd_request *req);
/* Unmap whatever the last map call mapped (one unmap per batch). */
void vgd_gm_unmap(struct vgd_grant_mapper *m);

/* Map one ring area: `bytes` from grant address addr, which may carry an
 * offset inside its first page; the pages covering [offset, offset + bytes)
 * are consecutive refs, mapped in one batch.  Returns a pointer at the
 * offset and the page count, or NULL with *why set to a static description.
 * vgd_gm_unmap_area takes that pointer back. */
void *vgd_gm_map_area(struct vg_hyp *h, uint16_t domid, uint64_t addr,
                      size_t bytes, bool writable, uint32_t *pages,
                      struct vgd_map_counters *ctr, const char **why);
void vgd_gm_unmap_area(struct vg_hyp *h, void *addr, uint32_t pages,
                       struct vgd_map_counters *ctr);

#endif /* VGRANT_GRANT_MAPPER_H */
