/* SPDX-License-Identifier: MIT */
/*
 * The net tests' world (test_backend_net.c, test_backend_net_rx.c): the
 * real vgrantd core in the fake hypervisor serving type=net devices, a
 * hand-played guest with one rawfront per queue (rx queue 0, tx queue 1),
 * and in place of the tap a SOCK_SEQPACKET socketpair per device
 * (vgd_net_set_port): the test holds the other end, reads what the guest
 * sent and writes what it should receive.
 */
#ifndef VGRANT_TEST_NETFIX_H
#define VGRANT_TEST_NETFIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "net.h"
#include "rawfront.h"
#include "vgrant/virtio.h"
#include "logcap.h"
#include "vgrantd.h"

#define NF_HDR 12u             /* struct virtio_net_hdr */
#define NF_MAX_PORTS 8

/* One port the model opened: its keys, and the test's end. */
struct nf_port {
    bool open, closed;
    uint16_t domid;
    unsigned devid;
    int peer;                  /* the test's end */
    char ifname[16], bridge[16];
    unsigned mtu;
};

extern struct nf_port nf_ports[NF_MAX_PORTS];
extern unsigned nf_nports;
/* The next port's model end gets the smallest send buffer. */
extern bool nf_small_sndbuf;

struct nf_world {
    struct vg_fake_world *w;
    struct vg_hyp *be, *ts;    /* vgrantd's and the toolstack's (dom0) */
    struct vgd *d;
};

/* A guest's net device: rx is queue 0, tx queue 1, each played by a
 * rawfront of its own over the same device. */
struct nf_guest {
    struct rawfront rx, tx;
};

/* The features a guest accepts (add VIRTIO_NET_F_MRG_RXBUF to merge). */
#define NF_FEATURES (VG_FEATURES_REQUIRED | \
                     VG_FEATURE(VIRTIO_RING_F_EVENT_IDX) | \
                     VG_FEATURE(VIRTIO_NET_F_MAC) | \
                     VG_FEATURE(VIRTIO_NET_F_STATUS) | \
                     VG_FEATURE(VIRTIO_NET_F_MTU))

/* A fresh world (dom 0, vgrantd started, the socketpair port) / free it
 * and every port. */
struct nf_world *nf_tw_new(void);
/* ... with these daemon options */
struct nf_world *nf_tw_new_opts(const struct vgd_options *o);
void nf_tw_free(struct nf_world *t);
void nf_ensure_domain(struct nf_world *t, uint16_t dom);
/* The port opened last for (domid, devid); fails the test if none. */
struct nf_port *nf_port_of(uint16_t domid, unsigned devid);

/* Both queues (64 entries each), the features, Connected. */
void nf_guest_connect(struct nf_world *t, struct nf_guest *g, uint16_t dom,
                      unsigned devid, uint64_t features);
/* rawfront's toolstack keys *a for (dom, devid), then connect. */
void nf_net_up(struct nf_world *t, struct nf_guest *g, uint16_t dom,
               unsigned devid, const struct rf_attach *a, uint64_t features);
void nf_guest_close(struct nf_guest *g);
struct vgd_dev_stats nf_stats(struct nf_world *t, uint16_t dom,
                              unsigned devid);

/* A buffer of len bytes at offset off of fresh zeroed pages. */
uint8_t *nf_buf(struct rawfront *rf, uint32_t off, uint32_t len,
                bool writable, struct rf_buf *b);
/* A frame's bytes for seed. */
void nf_frame_fill(uint8_t *p, size_t n, unsigned seed);
void nf_assert_frame(const uint8_t *p, size_t len, unsigned seed);
void nf_hdr_of(const uint8_t *p, struct virtio_net_hdr *h);
/* Post one tx chain: header h (NULL: zeros) in one buffer, the frame of
 * len bytes (pattern seed) in the next, crossing a page; len 0: header
 * only. */
uint16_t nf_tx_post(struct nf_guest *g, const struct virtio_net_hdr *h,
                    size_t len, unsigned seed);
/* Kick, run the daemon until head's used entry comes on rf: its length. */
uint32_t nf_used_of(struct nf_world *t, struct rawfront *rf, uint16_t head);
/* The next frame the port received from the guest, or -1. */
ssize_t nf_port_recv(struct nf_port *pt, uint8_t *out, size_t max);
/* Send a frame of len bytes (pattern seed) to the guest. */
void nf_port_send(struct nf_port *pt, size_t len, unsigned seed);
/* Post n rx chains of one writable buffer of len bytes each. */
void nf_rx_post(struct nf_guest *g, unsigned n, uint32_t len, uint8_t **bufs,
                uint16_t *heads);
/* The next rx used entry, running the daemon (20 rounds) for it. */
bool nf_rx_used(struct nf_world *t, struct nf_guest *g, uint32_t *id,
                uint32_t *len);

#endif /* VGRANT_TEST_NETFIX_H */
