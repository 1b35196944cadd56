/* SPDX-License-Identifier: MIT */
/*
 * rawfront: a hand-crafted frontend for backend tests.  It plays a guest
 * in the fake world directly, without the frontend library: it writes the
 * toolstack and frontend xenstore keys, shares ring pages, writes
 * descriptors and avail entries itself and kicks, so a test can feed the
 * backend exactly the (hostile) bytes it wants.
 */
#ifndef VGRANT_TEST_RAWFRONT_H
#define VGRANT_TEST_RAWFRONT_H

#include <stdbool.h>
#include <stdint.h>

#include "vgrant/hyp.h"
#include "vgrant/protocol.h"
#include "vgrant/virtio.h"
#include "vgrant/xsutil.h"

#define RF_MAX_SHARES 1024

/* Toolstack keys for one device; NULL strings / 0 numbers are left out. */
struct rf_attach {
    const char *type;          /* default "blk" */
    const char *target;
    const char *readonly;      /* "0"/"1"/garbage */
    const char *rate;          /* rng */
    const char *mode;
    const char *queues;
    const char *queue_size;
    const char *frontend;      /* override the frontend path */
    const char *attach_id;     /* NULL: a fresh random one; "": none */
    bool no_online;
    /* net (last: tests initialise the fields above by position) */
    const char *mac, *bridge, *vif, *mtu;
};

/* Write both directories as the toolstack (dom0) would, in one
 * transaction: backend dir owned by B readable by F, frontend dir owned by
 * F readable by B, states Initialising, online=1. */
int rf_toolstack_attach(struct vg_hyp *dom0, uint16_t fe_domid, unsigned devid,
                        uint16_t be_domid, const struct rf_attach *a);

struct rf_share {
    void *addr;
    uint32_t count;
};

struct rawfront {
    struct vg_fake_world *w;
    struct vg_hyp *h;          /* acts as the guest */
    uint16_t domid, be_domid;
    unsigned devid;
    char fe_path[VG_XS_PATH_MAX];
    char be_path[VG_XS_PATH_MAX];

    uint16_t num;
    struct vring_desc *desc;
    struct vring_avail *avail;
    struct vring_used *used;
    vg_gref_t desc_ref, avail_ref, used_ref;
    uint32_t avail_off, used_off;   /* in-page offsets of the grant addresses */
    int port;

    uint16_t avail_idx;        /* private copy */
    uint16_t used_seen;        /* next used entry to read */
    uint16_t next_desc;        /* simple rotating descriptor allocator */

    struct rf_share shares[RF_MAX_SHARES];
};

/* Open a guest handle (the domain must exist). */
int rf_open(struct rawfront *rf, struct vg_fake_world *w, uint16_t domid,
            unsigned devid, uint16_t be_domid);
void rf_close(struct rawfront *rf);

/* Share rings of num entries and bind an unbound port for the backend. */
int rf_setup_rings(struct rawfront *rf, uint16_t num);
/* Undo rf_setup_rings: revoke the ring pages, close the port and forget
 * the ring indices, as a frontend that reconnects with new rings does. */
int rf_drop_rings(struct rawfront *rf);
/* Rings laid out in one run of npages shared pages, the way Linux's
 * vring_create_virtqueue does: descriptors at 0, the driver area at byte
 * driver_at and the device area at byte device_at of the run (the caller
 * picks them, aligned or not). */
int rf_setup_rings_at(struct rawfront *rf, uint16_t num, uint32_t npages,
                      uint32_t driver_at, uint32_t device_at);
/* Write every frontend key of a one-queue device. */
int rf_write_keys(struct rawfront *rf, uint64_t features);
int rf_write(struct rawfront *rf, const char *key, const char *value);
int rf_remove(struct rawfront *rf, const char *key);
int rf_set_state(struct rawfront *rf, enum vg_xenbus_state s);
/* Rings + keys (VERSION_1|ACCESS_PLATFORM|EVENT_IDX) + Initialised. */
int rf_connect(struct rawfront *rf, uint16_t num);
enum vg_xenbus_state rf_backend_state(struct rawfront *rf);

/* Share npages zeroed pages with the backend (consecutive refs); returns
 * their address and the first ref. */
void *rf_share(struct rawfront *rf, uint32_t npages, bool writable,
               vg_gref_t *ref);
/* Revoke the pages rf_share returned at addr (-1: not ours). */
int rf_unshare(struct rawfront *rf, void *addr);

/* Descriptor-level access. */
struct rf_buf {
    uint64_t addr;
    uint32_t len;
    bool write;                /* device-writable */
};
/* Write a chain into free descriptor slots and publish it; returns head. */
uint16_t rf_add_chain(struct rawfront *rf, const struct rf_buf *b, unsigned n);
/* Publish an avail entry naming head (no descriptor writes). */
void rf_publish(struct rawfront *rf, uint16_t head);
int rf_kick(struct rawfront *rf);
/* Next used entry, false if none. */
bool rf_get_used(struct rawfront *rf, uint32_t *id, uint32_t *len);

/* A whole virtio-blk request in freshly shared pages. */
struct rf_blk {
    uint16_t head;
    struct virtio_blk_req_hdr *hdr;
    uint8_t *data;
    uint8_t *status;
    vg_gref_t hdr_ref, data_ref, status_ref;
    uint32_t data_len;
};
/* data_len 0: no data buffer.  Data is device-writable for IN and GET_ID,
 * device-readable otherwise; data_ro forces a read-only grant of it. */
int rf_blk_prepare(struct rawfront *rf, struct rf_blk *r, uint32_t type,
                   uint64_t sector, uint32_t data_len, bool data_ro);
/* Publish the prepared chain (hdr, data, status). */
void rf_blk_submit(struct rawfront *rf, struct rf_blk *r);

#endif /* VGRANT_TEST_RAWFRONT_H */
