/* SPDX-License-Identifier: MIT */
/*
 * Transport modes of the backend: how a descriptor address of the guest
 * becomes memory the device model can read and write.  One small table of
 * callbacks per mode (protocol.h VG_MODE_*, docs/modes.md):
 *
 *   grant       map the refs of a round of requests (<= 2 batches for
 *               the whole round), unmap before completing any of them
 *               (grant_mapper.c) -- the strict default;
 *   copy        grant-copy device-readable data into a private bounce
 *               buffer (ONE copy batch for a whole round of requests),
 *               let the model work on private memory, copy device-
 *               writable data back (ONE copy batch for the round);
 *   auto        copy below --auto-threshold bytes per request, map above;
 *   static      map the frontend's pre-shared region ONCE at connect;
 *               descriptor addresses are byte offsets into it;
 *   persistent  a bounded LRU cache of single-page mappings keyed by
 *               (ref, writable); hits cost no hypercall.  Lazy, opt-in:
 *               cached pages stay mapped between requests.
 *
 * Every mode fails a request naming something it cannot reach (bad
 * address, ref, length, permission) with the model's failure status and a
 * rate-limited log line naming domain, device and the value; the device
 * keeps serving (the same policy as grant_mapper.c).
 */
#ifndef VGRANT_BACKEND_TRANSPORT_H
#define VGRANT_BACKEND_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/uio.h>

#include "vgrant/hyp.h"
#include "vgrant/log.h"
#include "vgrant/protocol.h"
#include "vgrant/virtqueue.h"
#include "aio.h"
#include "devmodel.h"

struct vgd_dev;
struct vgd_queue;

/* Requests a queue pops and serves together, as one round (serve.c): the
 * guest sees their used entries after all of them ran.  The grant mode
 * maps a round's pages in one batch per protection, so the bigger the
 * round the fewer hypercalls per request.  A queue's slots are split in
 * VGD_LANES lanes of VGD_ROUND_SLOTS / VGD_LANES: a round fills one lane,
 * and while its transfers are in the kernel the next round (the requests
 * the guest published meanwhile) can start in the other, so the guest's
 * whole depth is in flight (up to 32).  Rate-limited models (wait_ms) are
 * served one request at a time, in one lane. */
#define VGD_ROUND_SLOTS 32u
#define VGD_LANES 2u

/* How much of a request a transport could map. */
enum vgd_mapped {
    VGD_MAPPED_ALL,            /* every buffer: req describes them */
    VGD_MAPPED_STATUS,         /* only the status bytes (req.in) */
    VGD_MAPPED_NONE,           /* nothing: complete with length 0 */
};

/* Where a request of a round is between start and push (serve.c). */
enum vgd_slot_io {
    VGD_SLOT_IDLE,             /* the model has not seen it yet */
    VGD_SLOT_READY,            /* its transfer (io) waits to be submitted */
    VGD_SLOT_IN_FLIGHT,        /* in the executor */
    VGD_SLOT_DONE,             /* res is final */
};

/* One request of a round, from pop to push. */
struct vgd_slot {
    struct vgd_queue *q;
    unsigned index;            /* in q->slots */
    struct vq_chain chain;     /* elem[queue size], allocated at connect */
    struct vgd_request req;
    struct vgd_req_input input;   /* input queues: set at pop (serve.c) */
    struct vgd_result res;
    enum vgd_mapped mapped;
    enum vgd_slot_io state;
    struct vgd_io io;          /* iov[] allocated at connect (models with
                                  start/done) */
    struct vgd_aio_op aop;
};

/* Defaults of the daemon options (vgd_options, vgrantd --help). */
#define VGD_DEFAULT_AUTO_THRESHOLD   (16u * 1024)   /* bytes per request */
#define VGD_DEFAULT_PERSISTENT_PAGES 1024u
#define VGD_MAX_PERSISTENT_PAGES     65536u

/* Per-device counters of the transport (feed struct vgd_dev_stats). */
struct vgd_xport_counters {
    uint64_t copy_batches, grant_copies;  /* grant_copy calls / segments */
    uint64_t bounce_bytes;     /* bytes copied through private buffers */
    uint64_t copy_failures;    /* segments the hypervisor refused */
    uint64_t cache_hits, cache_misses, cache_evictions;
    uint64_t cache_size;       /* pages in the persistent cache now */
    uint64_t cache_uncached;   /* pages mapped strictly: cache full of
                                  pages pinned by the same request */
    uint64_t region_bytes;     /* static region mapped, bytes */
    uint64_t auto_copied, auto_mapped;   /* requests per auto path */
    uint64_t bounce_pages;     /* copy/auto: bounce pages resident now */
};

/* copy mode: one request of a round (xport_copy.c) */
struct vgd_copy_slot {
    uint8_t *bounce;            /* its max_pages pages of the bounce area */
    struct iovec *iov;          /* its max_bufs iovecs */
    const struct vq_chain *chain;   /* request in progress, NULL if none */
    size_t in_base;             /* bounce offset of the writable part */
    bool status_only;
    uint32_t seg_first, seg_n;  /* its segments in the batch being built */
    uint32_t touched;           /* its pages written since last released */
};

/* copy mode state of one queue (xport_copy.c) */
struct vgd_copier {
    unsigned max_pages, max_bufs, nslots;
    uint8_t *bounce;            /* slot 0's pages: [max_pages * 4096];
                                   every slot's pages lie between
                                   inaccessible guard pages */
    uint8_t *area;              /* the whole mapping, area_bytes long */
    size_t area_bytes;
    struct vg_copy_seg *segs;   /* [nslots * max_pages] */
    struct iovec *iov;          /* [nslots * max_bufs], static mode's
                                   too */
    struct vgd_copy_slot *slot; /* [nslots] */
    uint64_t resident;          /* sum of the slots' touched pages */
};

/* What a queue's bounce area may keep between rounds (xport_copy.c): once
 * its slots hold more than VGD_COPY_RESIDENT_PAGES pages, a finished
 * round's slots give back all but their first VGD_COPY_KEEP_PAGES. */
#define VGD_COPY_RESIDENT_PAGES 4096u   /* 16 MiB per queue */
#define VGD_COPY_KEEP_PAGES     16u     /* 64 KiB per slot */

/* One cached page of the persistent mode. */
struct vgd_pc_entry {
    vg_gref_t ref;
    bool writable;
    bool used;                 /* slot holds a live mapping */
    /* per queue and lane (queue * VGD_LANES + lane): the round of that
     * lane that last used it; pinned while that round is open (its
     * transfers may be in the kernel) */
    uint64_t pin[VG_MAX_QUEUES * VGD_LANES];
    void *addr;
    struct vgd_pc_entry *hnext;           /* hash chain */
    TAILQ_ENTRY(vgd_pc_entry) lru;        /* head = least recently used */
};
TAILQ_HEAD(vgd_pc_lru, vgd_pc_entry);

/* persistent mode state of one device (xport_persistent.c) */
struct vgd_pcache {
    unsigned bound;            /* most pages cached */
    unsigned nbuckets;         /* power of two */
    struct vgd_pc_entry *entries;     /* [bound] */
    struct vgd_pc_entry **buckets;    /* [nbuckets] */
    struct vgd_pc_lru lru, free;
};

/* persistent mode state of one queue: per slot of a round, the iovecs
 * of its request and the pages mapped for it outside the cache */
struct vgd_pqueue {
    unsigned max_pages, max_bufs, nslots;
    uint64_t round[VGD_LANES]; /* each lane's current round, from 1 */
    struct iovec *iov;         /* [nslots][max_pages + max_bufs] */
    void **strict;             /* [nslots][max_pages] uncached one-page
                                  mappings */
    unsigned *nstrict;         /* [nslots] */
};

struct vgd_transport {
    const char *name;          /* VG_MODE_* */
    /* Device-wide setup once the frontend keys are valid, before the
     * queues connect (static: map the region).  0 or -1 (logged). */
    int (*connect)(struct vgd_dev *dev);
    /* Undo connect; called after every queue is torn down. */
    void (*disconnect)(struct vgd_dev *dev);
    /* Per-queue state, sized once from the model's limits, for the
     * q->nslots requests of a round. */
    int (*queue_init)(struct vgd_queue *q, unsigned max_pages,
                      unsigned max_bufs);
    void (*queue_free)(struct vgd_queue *q);
    /* A mode maps requests either one at a time (map_request,
     * map_status, finish_request: static, persistent) or a round at a
     * time (map_round, finish_round: grant, copy, auto); it sets one set
     * of callbacks and leaves the other NULL.  serve.c uses the round
     * callbacks when they are set; otherwise it maps every request of the
     * round with map_request (slot 0 first: a new round), runs them all,
     * and finishes each.  Either way every request of a round stays
     * mapped until the whole round has run, so per-request state lives
     * per slot.
     *
     * One at a time: make every buffer of the chain of slot s
     * addressable in s->req; -1 (logged, and nothing of it left mapped)
     * fails the request. */
    int (*map_request)(struct vgd_queue *q, struct vgd_slot *s);
    /* Only the last status_bytes of the writable part, so a failed
     * request can still report its status.  -1 if even that fails. */
    int (*map_status)(struct vgd_queue *q, struct vgd_slot *s,
                      unsigned status_bytes);
    /* After the model ran (or failed): unmap / copy back.  May turn
     * s->res into a failure (copy-back refused).  Always leaves nothing of
     * the request mapped, except what the mode keeps by design. */
    void (*finish_request)(struct vgd_queue *q, struct vgd_slot *s);
    /* A round at a time: map the n requests of a round at once (setting
     * s[i].req and s[i].mapped; a request that cannot be mapped gets its
     * status bytes if status_bytes > 0), and after the model ran on all of
     * them leave nothing mapped that the mode does not keep by design. */
    void (*map_round)(struct vgd_queue *q, struct vgd_slot *s, unsigned n,
                      unsigned status_bytes);
    void (*finish_round)(struct vgd_queue *q, struct vgd_slot *s, unsigned n);
};

/* Mode by its xenstore name; NULL if unknown. */
const struct vgd_transport *vgd_transport_find(const char *mode);

extern const struct vgd_transport vgd_transport_grant;
extern const struct vgd_transport vgd_transport_copy;
extern const struct vgd_transport vgd_transport_auto;
extern const struct vgd_transport vgd_transport_static;
extern const struct vgd_transport vgd_transport_persistent;

/* A guest can make every request fail: count the failure in *failures and
 * log it rate-limited (log.h). */
void vgd_xport_warn(const struct vgd_dev *dev, struct vg_ratelimit *failures,
                    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* At teardown: say how many failures were not logged, if any. */
void vgd_xport_warn_flush(const struct vgd_dev *dev, unsigned queue,
                          struct vg_ratelimit *failures);

/* Check buffer i's grant address (grant bit, the ref run of the pages it
 * spans fits 32 bits) and give the number of pages it spans; -1 after a
 * rate-limited warning counted in *failures. */
int vgd_xport_check_buffer(const struct vgd_dev *dev,
                           struct vg_ratelimit *failures,
                           unsigned i, const struct vq_elem *e,
                           uint64_t *pages);

/* copy mode internals shared with auto (xport_copy.c): state for nslots
 * requests at a time */
int vgd_copier_init(struct vgd_copier *cp, unsigned max_pages,
                    unsigned max_bufs, unsigned nslots);
void vgd_copier_free(struct vgd_copier *cp);
/* Slot i has written pages [0, pages) of its bounce (for the count). */
void vgd_copier_touch(struct vgd_copier *cp, unsigned i, uint64_t pages);
/* Give slot i's pages past keep back to the kernel (they read as zeros
 * when next touched); returns the pages released. */
uint64_t vgd_copier_release(struct vgd_copier *cp, unsigned i, unsigned keep);
/* copy mode's round, for the requests with take[i] only (auto's small
 * ones; take NULL: all) */
void vgd_copy_round_in(struct vgd_queue *q, struct vgd_slot *s, unsigned n,
                       unsigned status_bytes, const bool *take);

#endif /* VGRANT_BACKEND_TRANSPORT_H */
