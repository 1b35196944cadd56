/* SPDX-License-Identifier: MIT */
/*
 * The grant mapping engine (transport mode "grant"): turns the grant
 * addresses of popped descriptor chains into mapped iovecs and back.
 *
 *  - every address must carry the grant bit; a buffer covering k pages
 *    uses refs ref .. ref+k-1 (grant-dma-ops);
 *  - a ROUND of requests (serve.c pops up to VGD_ROUND_SLOTS chains at a
 *    time) is mapped together: all device-readable pages of every request
 *    read-only in ONE batch, all device-writable pages writable in ONE
 *    batch (gntdev applies one protection per mapping), so a round costs
 *    at most two map calls and two unmap calls however many requests it
 *    holds.  If a batch is refused (a request names a ref that is not
 *    granted, or granted read-only where the device writes), the round
 *    falls back to mapping each request on its own so only the guilty
 *    request fails;
 *  - the number of pages and buffers per request is bounded before
 *    anything is mapped;
 *  - strict unmapping: the caller unmaps the whole round before pushing
 *    any of its used entries, so no buffer stays mapped after its request
 *    completes (security over laziness).
 *
 * All arrays are sized once per queue at connect for `slots` requests;
 * nothing is allocated per request.
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
#include "transport.h"

/* Hypervisor work done for one device (feeds struct vgd_dev_stats). */
struct vgd_map_counters {
    uint64_t map_batches, maps, unmap_batches, unmaps;
    uint64_t live_mappings;    /* pages mapped right now */
};

/* Where one request of a round lives in the round's batches. */
/* Sanity bound on the requests of one round (serve.c uses
 * VGD_ROUND_SLOTS). */
#define VGD_GM_MAX_SLOTS 256u

struct vgd_gm_slot {
    uint32_t ro_first, ro_n;   /* its refs in ro_refs[] */
    uint32_t rw_first, rw_n;   /* its refs in rw_refs[] */
    char *ro_base, *rw_base;   /* where its first page is mapped */
};

/* One mapping to take back when the round finishes. */
struct vgd_gm_live {
    void *addr;
    uint32_t count;
    unsigned round;            /* the round's first slot (serve.c lanes) */
};

struct vgd_grant_mapper {
    struct vg_hyp *h;
    uint16_t domid;            /* granting (frontend) domain */
    unsigned devid;            /* for log lines */
    unsigned max_pages;        /* per request */
    unsigned max_bufs;         /* per request */
    unsigned slots;            /* requests per round */
    struct vgd_map_counters *ctr;

    vg_gref_t *ro_refs, *rw_refs;   /* [slots * max_pages] */
    struct iovec *iov;              /* [slots * max_bufs]: per slot, out
                                       first, then in */
    struct vgd_gm_slot *slot;       /* [slots] */
    struct vgd_gm_live *live;       /* [2 * slots + 2 * VGD_LANES]: what
                                       is mapped, by round */
    unsigned nlive;
    unsigned cur_round;             /* round being mapped */
    struct vg_ratelimit *failures;  /* requests we could not map: count
                                       and log limiter (the queue's, which
                                       outlives a connection) */
};

int vgd_gm_init(struct vgd_grant_mapper *m, struct vg_hyp *h, uint16_t domid,
                unsigned devid, unsigned max_pages, unsigned max_bufs,
                unsigned slots, struct vgd_map_counters *ctr,
                struct vg_ratelimit *failures);
void vgd_gm_free(struct vgd_grant_mapper *m);

/* Map the n requests of a round (consecutive slots from s, at most a
 * lane's worth), or only those with take[i] (take NULL: all; the others
 * are left alone): s[i].chain into s[i].req, with s[i].mapped saying how
 * much.  A request that cannot be mapped is logged with the offending
 * address or ref and, when status_bytes > 0, gets only its status bytes
 * mapped.  Everything stays mapped until vgd_gm_unmap_round of the same
 * s; another round of the queue (the other lane) may be mapped
 * meanwhile.  Per-slot state is found by s[i].index. */
void vgd_gm_map_round(struct vgd_grant_mapper *m, struct vgd_slot *s,
                      unsigned n, unsigned status_bytes, const bool *take);
/* Unmap what was mapped for the round starting at slot s (one unmap per
 * batch). */
void vgd_gm_unmap_round(struct vgd_grant_mapper *m, const struct vgd_slot *s);
/* Unmap everything (teardown). */
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
