/* SPDX-License-Identifier: MIT */
/*
 * libvgrant: the userspace frontend (guest side) of virtio-grant.
 *
 * A guest program opens a device the toolstack attached to it, the library
 * runs the xenbus handshake with the backend (protocol.h), puts the
 * virtqueues in pages granted to the backend and moves requests through
 * them.  In grant mode every request gets FRESH granted pages: the caller's
 * device-readable data is copied into read-only grants, device-writable
 * data comes back through writable grants and is copied out on completion,
 * then every page of the request is revoked.  A granted page therefore
 * never holds anything but the request's own data (XSA-396), and nothing
 * stays shared after a request completes.
 *
 * The backend is not trusted: every xenstore key it writes is validated,
 * every completion is checked (id in flight, length within the chain), and
 * a backend that misbehaves or disappears makes outstanding requests fail
 * with EIO instead of hanging the caller.
 *
 * Threading: a struct vgf_dev is used by one thread at a time.  Devices
 * sharing one struct vg_hyp work, but each device drains the handle's event
 * channel and watch queues, so give each device its own handle when several
 * are busy at once (otherwise a device may notice a completion only at the
 * next periodic re-check, VGF_RECHECK_MS).
 *
 * Errors: functions return -1 (or NULL) with errno set and log one line
 * naming the domain, the device and the reason (vg_dev_log).
 */
#ifndef VGRANT_LIBVGRANT_H
#define VGRANT_LIBVGRANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vgrant/hyp.h"
#include "vgrant/virtio.h"

/* Handshake and default I/O timeout when vgf_opts.timeout_ms is 0. */
#define VGF_DEFAULT_TIMEOUT_MS 30000
/* While waiting, the backend's state is re-read at least this often even
 * if no watch fired (a watch event can be drained by another device). */
#define VGF_RECHECK_MS 250
/* Largest request (sum of all its buffers). */
#define VGF_MAX_REQUEST_BYTES (64u * 1024 * 1024)

struct vgf_opts {
    /* Device-specific feature bits (0..23) and VIRTIO_RING_F_EVENT_IDX
     * the caller wants; VERSION_1 and ACCESS_PLATFORM are always taken.
     * What is negotiated is offered & (required | wanted). */
    uint64_t features_wanted;
    unsigned num_queues;   /* 0: 1 queue */
    unsigned queue_size;   /* 0: min(max-queue-size, 256); rounded down to
                              what the backend allows */
    int timeout_ms;        /* 0: VGF_DEFAULT_TIMEOUT_MS */
    /* Mode persistent: pages of the I/O pool granted once per session;
     * 0: VGF_DEFAULT_POOL_PAGES. */
    unsigned pool_pages;
};

#define VGF_DEFAULT_POOL_PAGES 512u
#define VGF_MAX_POOL_PAGES     65536u

/* Defaults for opts == NULL: EVENT_IDX wanted, 1 queue, default size. */
#define VGF_FEATURES_DEFAULT VG_FEATURE(VIRTIO_RING_F_EVENT_IDX)

struct vgf_iov {
    void *base;
    size_t len;            /* > 0 */
};

struct vgf_stats {
    uint64_t requests;          /* submitted */
    uint64_t completed;         /* completed successfully */
    uint64_t failed;            /* failed (backend gone or misbehaving) */
    uint64_t share_calls;       /* share_pages calls for request buffers */
    uint64_t pages_shared;      /* pages granted for request buffers */
    uint64_t descriptors;       /* descriptors used (after ref merging) */
    uint64_t kicks;             /* notifications sent to the backend */
    uint64_t kicks_suppressed;  /* notifications the ring said to skip */
    uint64_t events;            /* event channel notifications received */
    uint64_t spurious_events;   /* events that brought no completion */
    uint64_t bad_completions;   /* used entries rejected (bad id/len/idx) */
    /* static / persistent modes */
    uint64_t throttle_waits;    /* submits that waited for region space */
    uint64_t region_high_water; /* most region/pool bytes in use at once */
    uint64_t bounce_bytes;      /* bytes copied into/out of the region/pool */
    uint64_t zero_copy_bytes;   /* bytes submitted straight from the pool */
};

struct vgf_dev;

/*
 * Open device <devid> of this domain: /local/domain/<self>/device/
 * virtio-grant/<devid>.  Waits (up to the timeout) for the backend to
 * reach InitWait, validates its keys, negotiates features, grants the
 * rings, offers one event channel per queue, publishes everything in one
 * transaction, goes Initialised and waits for the backend to connect.
 * A session left behind by a previous process is reset first.
 * Returns NULL with errno (ENOENT: no such device; ETIMEDOUT: the backend
 * did not answer; EPROTO: it wrote bad keys or refused us;
 * EPROTONOSUPPORT: a transport mode this library does not speak), having
 * revoked every grant and closed every port it made.
 */
struct vgf_dev *vgf_open(struct vg_hyp *h, unsigned devid,
                         const struct vgf_opts *opts);

/* Closing, wait (bounded) for the backend to close, revoke every grant,
 * unbind every port, Closed.  Outstanding requests are dropped without
 * their cookies being returned.  Frees d. */
void vgf_close(struct vgf_dev *d);

/* After the backend closed (or misbehaved): drop whatever is left of the
 * session, go Closed -> Initialising and run the handshake again with the
 * same options.  Uncollected failed requests are dropped. */
int vgf_reconnect(struct vgf_dev *d);

/* True while the device is connected and usable. */
bool vgf_connected(const struct vgf_dev *d);

uint64_t vgf_features(const struct vgf_dev *d);     /* negotiated */
unsigned vgf_device_id(const struct vgf_dev *d);    /* VIRTIO_ID_* */
unsigned vgf_num_queues(const struct vgf_dev *d);
unsigned vgf_queue_size(const struct vgf_dev *d);
const char *vgf_mode(const struct vgf_dev *d);      /* backend's "mode" */
unsigned vgf_devid(const struct vgf_dev *d);
uint16_t vgf_backend_id(const struct vgf_dev *d);

/* Copy len bytes of the device config space at offset.  Re-reads the
 * backend's config when its config-generation changed.  -1/EINVAL if the
 * range lies outside the config the backend published. */
int vgf_config_read(struct vgf_dev *d, unsigned offset, void *buf,
                    unsigned len);
unsigned vgf_config_size(const struct vgf_dev *d);

/* Descriptors are cut so none is longer than max_seg bytes (virtio-blk
 * size_max); 0 means no limit beyond a run of consecutive refs. */
void vgf_set_max_segment(struct vgf_dev *d, uint32_t max_seg);
uint32_t vgf_max_segment(const struct vgf_dev *d);
/* The I/O timeout in effect: vgf_opts.timeout_ms, or its default. */
int vgf_timeout_ms(const struct vgf_dev *d);

/* Free descriptors of queue q right now (0 when not connected). */
unsigned vgf_queue_free(const struct vgf_dev *d, unsigned q);
/* Requests submitted on queue q and not yet returned by vgf_complete. */
unsigned vgf_in_flight(const struct vgf_dev *d, unsigned q);

/*
 * Queue one request on queue q: n_out device-readable buffers (copied into
 * fresh read-only grants now) followed by n_in device-writable buffers
 * (fresh writable grants; copied back into in[] by vgf_complete, so in[]'s
 * memory must stay valid until then).  Kicks the backend unless the ring
 * says it is not needed.
 * -1 with errno: EINVAL (bad arguments), ENOSPC (queue full: complete some
 * requests first), EAGAIN (no grant space left while requests are in
 * flight: complete some first), E2BIG (more descriptors than the queue can
 * ever hold), EIO (device not connected), ENOMEM.
 */
int vgf_submit(struct vgf_dev *d, unsigned q, const struct vgf_iov *out,
               unsigned n_out, const struct vgf_iov *in, unsigned n_in,
               void *cookie);

/*
 * Collect one finished request of queue q, waiting up to timeout_ms
 * (0: do not wait; < 0: the device's timeout from vgf_opts).
 *   0            *cookie completed; *len is the used length the backend
 *                reported (validated), at most that many bytes were
 *                copied back into the request's in[] buffers.
 *  -1 EIO        *cookie failed (backend closed, vanished or sent a bad
 *                completion); its grants are revoked, in[] untouched.
 *  -1 ENOTCONN   the device is down and no request is left to collect
 *                (*cookie = NULL); see vgf_reconnect.
 *  -1 ENODATA    nothing in flight on q (*cookie = NULL).
 *  -1 ETIMEDOUT  nothing finished in time (*cookie = NULL).
 */
int vgf_complete(struct vgf_dev *d, unsigned q, void **cookie,
                 uint32_t *len, int timeout_ms);

void vgf_get_stats(const struct vgf_dev *d, struct vgf_stats *out);

/*
 * Mode persistent: I/O buffers straight from the granted pool, so large
 * I/O is zero-copy on both sides (the backend keeps the pool's pages in
 * its mapping cache).  len is rounded up to whole pages; NULL with ENOSPC
 * when the pool is full, EOPNOTSUPP in other modes.  Buffers stay valid
 * until vgf_pool_free, vgf_reconnect or vgf_close.  Everything in the pool
 * is visible to the backend for the whole session.
 */
void *vgf_pool_alloc(struct vgf_dev *d, size_t len);
void vgf_pool_free(struct vgf_dev *d, void *p, size_t len);

#endif /* VGRANT_LIBVGRANT_H */
