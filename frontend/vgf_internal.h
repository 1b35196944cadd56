/* SPDX-License-Identifier: MIT */
/*
 * libvgrant internals shared by its source files (not installed).
 *   vgf_xenbus.c   handshake, reset, close (xenstore side)
 *   vgf_ring.c     granted ring areas and event channels per queue
 *   vgf_request.c  submit and completion, the same for every mode
 *   vgf_xport*.c   the transport modes' frontend side (struct vgf_xport)
 *   vgf_arena.c    pages granted once (static region, persistent pool)
 *   vgf_wait.c     waiting on the event channel and xenstore with deadlines
 */
#ifndef VGRANT_VGF_INTERNAL_H
#define VGRANT_VGF_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "libvgrant.h"
#include "vgrant/hyp.h"
#include "vgrant/log.h"
#include "vgrant/protocol.h"
#include "vgrant/virtqueue.h"
#include "vgrant/xsutil.h"

#define vgf_log(d, level, fmt, ...) \
    vg_dev_log(level, (d)->h->domid, (d)->devid, fmt, ##__VA_ARGS__)

/* One request in flight: its grants and where its in-data goes. */
struct vgf_req {
    bool busy;
    bool failed;            /* to be returned with EIO */
    void *cookie;
    void *out_pages;        /* read-only grants, NULL if none */
    uint32_t out_npages;
    void *in_pages;         /* writable grants, NULL if none */
    uint32_t in_npages;
    struct vgf_iov *in_iov; /* copy of the caller's in[] */
    unsigned n_in;
    /* static / persistent: the request's run of the arena */
    size_t run_start, run_units;
    size_t *in_pos;         /* [n_in] arena byte offset, SIZE_MAX: none */
    bool reaped;            /* completed while throttling, not collected */
    uint32_t used_len;
};

struct vgf_dev;
struct vgf_queue;

/* Frontend side of a transport mode (docs/modes.md): how a request's
 * buffers become memory the backend can reach, one table per mode, found
 * by the backend's "mode" key (vgf_xport_find, vgf_xport.c):
 *   vgf_xport_grant.c       grant, copy, auto: fresh grants per request
 *   vgf_xport_persistent.c  a pool of pages granted once, used in place
 *   vgf_xport_static.c      one region granted once, byte offsets
 * The generic path (vgf_xenbus.c, vgf_request.c) calls only these. */
struct vgf_xport {
    const char *name;       /* the frontend side's name (logs) */
    /* After the backend's "mode" key: read the mode's own backend keys.
     * NULL: none.  0, or -1 with errno EPROTO (logged). */
    int (*read_keys)(struct vgf_dev *d);
    /* Grant what lives for the whole session, before our keys are
     * published.  NULL: nothing.  vgf_arena_release undoes it. */
    int (*setup)(struct vgf_dev *d);
    /* Write the mode's frontend keys in the publish transaction tx.
     * NULL: none. */
    int (*publish)(struct vgf_dev *d, vg_xs_tx_t tx);
    /* Make request r's buffers reachable by the backend and build its
     * descriptors in q->scratch: *ndesc in all, the first *n_out_desc
     * device-readable.  r->in_iov / in_pos / n_in are set.  -1 with errno;
     * what r holds is released by the caller. */
    int (*prepare)(struct vgf_dev *d, struct vgf_queue *q, struct vgf_req *r,
                   const struct vgf_iov *out, unsigned n_out,
                   const struct vgf_iov *in, unsigned n_in,
                   unsigned *ndesc, unsigned *n_out_desc);
    /* Copy what the device wrote back to the caller's in-buffers: never
     * more than used_len (validated by the virtqueue), nor each buffer. */
    void (*copy_back)(struct vgf_dev *d, struct vgf_req *r,
                      uint32_t used_len);
    bool pool;              /* vgf_pool_alloc buffers are used in place */
};

extern const struct vgf_xport vgf_xport_grant;
extern const struct vgf_xport vgf_xport_persistent;
extern const struct vgf_xport vgf_xport_static;

/* The frontend side of backend mode `mode` (VG_MODE_*); NULL: unknown. */
const struct vgf_xport *vgf_xport_find(const char *mode);

/* Pages granted once (static region or persistent pool) and a first-fit
 * allocator over them in units of 1 << unit_shift bytes. */
struct vgf_arena {
    uint8_t *base;          /* NULL: none */
    uint32_t npages;
    vg_gref_t *refs;        /* [npages] */
    unsigned unit_shift;
    size_t nunits;
    uint64_t *bits;         /* 1 = unit in use */
    size_t used;            /* units in use */
};

/* One granted ring area (descriptor table, driver area or device area). */
struct vgf_area {
    void *pages;
    uint32_t npages;
    vg_gref_t first_ref;
};

struct vgf_queue {
    unsigned index;
    uint16_t size;
    struct vgf_area desc, driver, device;
    int port;               /* -1: not bound */
    bool vq_ready;
    struct vq_driver vq;
    struct vgf_req *reqs;   /* [size]; a request takes >= 1 descriptor */
    struct vq_buf *scratch; /* [size] descriptors being built */
    uint64_t bad_seen;      /* vq bad_* sum already accounted for */
};

enum vgf_link {
    VGF_LINK_DOWN = 0,      /* no session (before open, after teardown) */
    VGF_LINK_CONNECTED,
};

struct vgf_dev {
    struct vg_hyp *h;
    unsigned devid;
    struct vgf_opts opts;   /* with defaults filled in */
    char fe_dir[VG_XS_PATH_MAX];
    char be_dir[VG_XS_PATH_MAX];
    char be_state_path[VG_XS_PATH_MAX];
    char watch_token[64];
    bool watching;
    uint16_t backend_id;

    /* from the backend's keys */
    unsigned device_id;
    uint64_t offered;
    unsigned max_queues;
    unsigned max_queue_size;
    uint8_t config[VG_MAX_CONFIG_BYTES];
    unsigned config_len;
    uint64_t config_gen;
    char mode[16];
    const struct vgf_xport *xport;   /* never NULL once open */
    uint64_t region_bytes;  /* static: the backend's "region" */
    struct vgf_arena arena;

    uint64_t features;      /* negotiated */
    uint32_t max_seg;       /* 0: no limit */
    unsigned num_queues;
    struct vgf_queue *queues;
    enum vgf_link link;
    bool teardown_done;     /* grants revoked after the link went down */

    struct vgf_stats stats;
    uint64_t stats_published_ms;   /* last write of the "stats" key */
};

/* vgf_stats.c: publish the guest's counters in the frontend key "stats"
 * (at most every VGF_STATS_PUBLISH_MS unless force), for `vgrant stats`
 * in the backend domain.  Never recreates a removed device directory. */
#define VGF_STATS_PUBLISH_MS 1000u
void vgf_stats_publish(struct vgf_dev *d, bool force);

/* vgf_wait.c */
/* Sleep until the event channel or xenstore fd is readable, or timeout_ms
 * (capped at VGF_RECHECK_MS).  Drains and unmasks pending ports (counting
 * those of this device in stats.events) and drains watch events.
 * Sets *xs_fired when a watch fired.  Returns the number of this device's
 * ports that fired. */
unsigned vgf_sleep(struct vgf_dev *d, int timeout_ms, bool *xs_fired);
/* Wait for the backend state to satisfy accept(); -1/ETIMEDOUT with
 * *last set to the last state seen. */
int vgf_wait_backend(struct vgf_dev *d, bool (*accept)(unsigned st),
                     int timeout_ms, unsigned *last);

/* vgf_ring.c */
int vgf_queues_setup(struct vgf_dev *d);
/* Revoke the rings, unbind the ports; request tables stay. */
void vgf_rings_release(struct vgf_dev *d);
/* Everything, request grants included. */
void vgf_queues_teardown(struct vgf_dev *d);

/* vgf_request.c */
/* A mode ran out of room (static region, persistent pool): collect at
 * least one completion of any queue, kept for vgf_complete, so its space
 * comes free.  -1: nothing can come free (ENOSPC), the link is down (EIO)
 * or the backend is silent (ETIMEDOUT). */
int vgf_reap_one(struct vgf_dev *d);
/* Revoke a request's buffer pages (idempotent). */
void vgf_req_release_pages(struct vgf_dev *d, struct vgf_req *r);
/* The link went down: revoke every request's grants (marking them failed),
 * then rings and ports.  Idempotent. */
void vgf_fail_all(struct vgf_dev *d);
/* Drop failed requests without returning them. */
void vgf_drop_failed(struct vgf_dev *d);

/* vgf_xport.c: descriptors of one buffer whose pages carry refs[], from
 * byte off of the page run: a run of consecutive refs becomes one
 * descriptor, at most max_seg long.  -1/E2BIG: more than the ring has. */
int vgf_emit_refs(const struct vgf_dev *d, struct vgf_queue *q,
                  const vg_gref_t *refs, size_t off, size_t len, unsigned *n);
/* Pages a buffer of len bytes takes. */
uint32_t vgf_buf_pages(size_t len);

/* vgf_arena.c */
/* Grant pages (a whole number) for this session, allocated in units of
 * 1 << unit_shift bytes; what names them in the log ("static region"). */
int vgf_arena_setup(struct vgf_dev *d, uint64_t pages, unsigned unit_shift,
                    const char *what);
/* Revoke it (idempotent; nothing if no arena). */
void vgf_arena_release(struct vgf_dev *d);
/* prepare of the arena modes: place every buffer in the arena (bounced,
 * or in place if pool and it lives there already, waiting with
 * vgf_reap_one while full) and emit its descriptors with emit(). */
int vgf_arena_prepare(struct vgf_dev *d, struct vgf_queue *q,
                      struct vgf_req *r, const struct vgf_iov *out,
                      unsigned n_out, const struct vgf_iov *in, unsigned n_in,
                      unsigned *ndesc, unsigned *n_out_desc, bool pool,
                      int (*emit)(const struct vgf_dev *d, struct vgf_queue *q,
                                  size_t off, size_t len, unsigned *n));
/* copy_back of the arena modes. */
void vgf_arena_copy_back(struct vgf_dev *d, struct vgf_req *r,
                         uint32_t used_len);
/* First run of n free units, or -1. */
long vgf_arena_alloc(struct vgf_arena *a, size_t n);
void vgf_arena_free(struct vgf_arena *a, size_t start, size_t n);
/* Byte offset of [p, p + len) inside the arena, or -1. */
long vgf_arena_offset(const struct vgf_arena *a, const void *p, size_t len);

/* vgf_xenbus.c */
/* A bad backend key: log it naming key and value, errno EPROTO, -1. */
int vgf_bad_key(struct vgf_dev *d, const char *key, const char *value,
                const char *why);
/* A backend key that must be a decimal in [min, max]; -1 via vgf_bad_key. */
int vgf_read_be_uint(struct vgf_dev *d, const char *key, uint64_t min,
                     uint64_t max, uint64_t *out);
/* Re-read the backend state; if it left Connected, take the link down. */
void vgf_check_backend(struct vgf_dev *d);
/* The backend misbehaved on the data path: fail everything, go Closing. */
void vgf_backend_broken(struct vgf_dev *d, const char *why);

#endif /* VGRANT_VGF_INTERNAL_H */
