/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueue core, shared by both sides.
 *
 * Driver side (frontend, vq_drv_*): add buffer chains, decide whether to
 * kick, reclaim used buffers.  It validates everything the device writes (used
 * ids, lengths, index jumps) because the backend is not trusted.
 *
 * Device side (backend, vq_dev_*): pop descriptor chains, push used
 * entries, decide whether to interrupt.  It reads every shared field exactly once into
 * private memory, validates the copy and uses only the copy (XSA-155), and
 * never holds more than `num` chains (CVE-2016-5403 class).
 *
 * The ring memory is whatever the caller maps or allocates; this file knows
 * nothing about grants.  EVENT_IDX and 16-bit index wrap-around are handled
 * here.
 */
#ifndef VGRANT_VIRTQUEUE_H
#define VGRANT_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "vgrant/virtio.h"

/* A buffer handed to the driver side: a device address (grant address,
 * region offset, ...) and a length. */
struct vq_buf {
    uint64_t addr;
    uint32_t len;
};

struct vq_driver {
    uint16_t num;
    bool event_idx;
    struct vring_desc *desc;
    struct vring_avail *avail;
    struct vring_used *used;

    uint16_t free_head;       /* private free list of descriptors */
    uint16_t num_free;
    uint16_t avail_idx;       /* private copy of avail->idx */
    uint16_t last_kick_idx;   /* avail idx at the last kick decision */
    uint16_t last_used_idx;   /* next used entry to reclaim */
    uint16_t *next_free;      /* [num] free-list links, private */
    struct vq_driver_slot {
        void *token;          /* NULL: slot free */
        uint16_t ndesc;
        uint32_t in_bytes;    /* device-writable bytes in the chain */
    } *slots;                 /* [num], indexed by head */

    /* Counted misbehaviour of the device (hostile backend). */
    uint64_t bad_used_id;     /* id out of range or not in flight */
    uint64_t bad_used_len;    /* len > device-writable bytes of the chain */
    uint64_t bad_used_idx;    /* used->idx moved by more than in flight */

    /* Appended: chains added and not yet reclaimed, the most used->idx may
     * legitimately move ahead of last_used_idx. */
    uint16_t chains_in_flight;
};

/* Initialise over zeroed ring areas (sizes: vg_ring_*_bytes(num)).
 * num must be a power of two in [VG_MIN_QUEUE_SIZE, VG_MAX_QUEUE_SIZE]. */
int vq_drv_init(struct vq_driver *vq, uint16_t num, void *desc, void *avail,
             void *used, bool event_idx);
void vq_drv_free(struct vq_driver *vq);
/* Add a chain: out_n device-readable buffers then in_n device-writable.
 * token (non-NULL) comes back from vq_drv_get_used.  -1/ENOSPC when full. */
int vq_drv_add(struct vq_driver *vq, const struct vq_buf *bufs, unsigned out_n,
            unsigned in_n, void *token);
/* Publish added chains; true if the device must be notified. */
bool vq_drv_kick_prepare(struct vq_driver *vq);
/* Next completed chain: its token and the used length (already checked
 * against the chain), or NULL when none.  Invalid used entries are counted
 * and skipped, never returned. */
void *vq_drv_get_used(struct vq_driver *vq, uint32_t *len);
/* Ask for a notification at the next used entry; returns true if entries
 * are already pending (caller should poll again instead of sleeping). */
bool vq_drv_enable_cb(struct vq_driver *vq);
void vq_drv_disable_cb(struct vq_driver *vq);
/* True when the device published used entries not yet collected (read
 * with acquire order; collecting them validates them, vq_drv_get_used). */
bool vq_drv_used_pending(const struct vq_driver *vq);
unsigned vq_drv_in_flight(const struct vq_driver *vq);

/* ---- device side ---- */

#define VQ_MAX_CHAIN VG_MAX_QUEUE_SIZE

struct vq_elem {
    uint64_t addr;
    uint32_t len;
    bool write;               /* device-writable */
};

struct vq_chain {
    uint16_t head;
    uint16_t n;               /* elements */
    uint16_t n_out;           /* the first n_out are device-readable */
    uint32_t out_bytes;
    uint32_t in_bytes;
    struct vq_elem *elem;     /* [num] caller-provided or from vqdev */
};

/* Why a device queue broke; the backend logs it and closes the device. */
enum vq_error {
    VQ_OK = 0,
    VQ_ERR_AVAIL_IDX,         /* avail idx jumped more than num ahead */
    VQ_ERR_HEAD_RANGE,        /* head index >= num */
    VQ_ERR_NEXT_RANGE,        /* next index >= num */
    VQ_ERR_LOOP,              /* chain longer than num: a loop */
    VQ_ERR_LEN_OVERFLOW,      /* total length does not fit 32 bits */
    VQ_ERR_ORDER,             /* readable descriptor after a writable one */
    VQ_ERR_INDIRECT,          /* indirect descriptor (not negotiated) */
    VQ_ERR_TOO_MANY,          /* more than num chains in flight */
    VQ_ERR_USED_ID,           /* push of a head not in flight */
};
const char *vq_error_str(enum vq_error e);

struct vq_device {
    uint16_t num;
    bool event_idx;
    const struct vring_desc *desc;   /* shared, read with single loads */
    const struct vring_avail *avail; /* shared */
    struct vring_used *used;         /* shared, written by us */

    uint16_t last_avail_idx;  /* next avail entry to pop */
    uint16_t used_idx;        /* private copy of used->idx */
    uint16_t signalled_used;  /* used idx at the last interrupt */
    bool signalled_valid;
    uint16_t in_flight;       /* popped, not yet pushed */
    uint8_t *head_busy;       /* [num] head popped and not pushed */
    enum vq_error error;      /* sticky: the queue is broken */
    uint64_t error_value;     /* the offending value, for the log */
};

int vq_dev_init(struct vq_device *vq, uint16_t num, const void *desc,
               const void *avail, void *used, bool event_idx);
void vq_dev_free(struct vq_device *vq);
/* Pop the next chain into *chain (chain->elem must hold num entries).
 * Returns 1 popped, 0 nothing available, -1 the queue is broken
 * (vq->error / vq->error_value say why). */
int vq_dev_pop(struct vq_device *vq, struct vq_chain *chain);
/* Give back the chain popped last, head (the caller's word: chains go
 * back last first): the next pop reads that avail entry again and
 * validates what it finds.  -1 if head is not in flight. */
int vq_dev_unpop(struct vq_device *vq, uint16_t head);
/* Publish a used entry for a popped head.  -1 if head is not in flight. */
int vq_dev_push(struct vq_device *vq, uint16_t head, uint32_t len);
/* The same without publishing: the driver sees the entries written so
 * far together at the next vq_dev_publish (or vq_dev_push), so a packet
 * spanning several chains (virtio-net MRG_RXBUF) never shows half. */
int vq_dev_push_hold(struct vq_device *vq, uint16_t head, uint32_t len);
void vq_dev_publish(struct vq_device *vq);
/* After pushes: true if the driver must be interrupted. */
bool vq_dev_should_notify(struct vq_device *vq);
/* Before sleeping: publish avail_event / clear NO_NOTIFY so the driver
 * kicks at the next avail entry; returns true if entries are already
 * pending (pop again instead of sleeping). */
bool vq_dev_enable_notify(struct vq_device *vq);
void vq_dev_disable_notify(struct vq_device *vq);
/* Ask for a kick only once `want` chains wait (with EVENT_IDX: avail_event
 * names the want-th entry not popped yet; without it kicks stay as they
 * are).  Returns true if `want` already wait. */
bool vq_dev_enable_notify_at(struct vq_device *vq, uint16_t want);
/* Chains published and not popped yet, at most num (more is a broken ring,
 * which vq_dev_pop reports).  A hint, as vq_dev_has_avail. */
uint16_t vq_dev_avail_count(const struct vq_device *vq);
/* True if the driver published chains not popped yet.  A hint read once
 * (nothing is consumed or validated: vq_dev_pop does that). */
bool vq_dev_has_avail(const struct vq_device *vq);

#endif /* VGRANT_VIRTQUEUE_H */
