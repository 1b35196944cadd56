/* SPDX-License-Identifier: MIT */
/*
 * Between the virtio-net model's files (not an interface): net.c (open,
 * keys, device description, transmit, the model table) and net_rx.c
 * (receive: the packets held for a round and their chains).
 */
#ifndef VGRANT_BACKEND_NET_INT_H
#define VGRANT_BACKEND_NET_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devmodel.h"
#include "net.h"
#include "vgrant/devtype.h"
#include "vgrant/log.h"
#include "vgrant/virtio.h"

#define NET_RXQ 0u
#define NET_TXQ 1u
#define NET_HDR ((size_t)sizeof(struct virtio_net_hdr))
#define NET_ETH_HDR 14u
/* Ethernet header + 802.1Q tag on top of the MTU */
#define NET_L2_EXTRA 18u
/* Most buffers one chain may have (Linux: header, linear part, up to 17
 * fragments). */
#define NET_MAX_BUFFERS 64u
/* Packets held for one round (a lane holds 16 chains). */
#define NET_RX_BATCH 16u
/* Most rx chains one packet may span with MRG_RXBUF (the daemon also
 * caps it at a round's lane). */
#define NET_RX_MAX_CHAINS 16u
/* Reads from the port per peek that may find bad frames. */
#define NET_RX_TRIES 32u

enum pkt_state { PKT_FREE, PKT_HELD, PKT_TAKEN };

struct net_pkt {
    enum pkt_state state;
    uint64_t id;
    uint8_t *buf;              /* frame_max + 1 bytes */
    size_t len;                /* frame bytes */
    size_t off;                /* bytes of header + frame written so far */
    unsigned next;             /* chain index expected next */
    bool lost;                 /* dropped after some chains were taken */
};

struct net {
    uint16_t domid;
    unsigned devid;
    uint8_t mac[6];
    unsigned mtu;
    size_t frame_max;          /* mtu + NET_L2_EXTRA */
    char ifname[VG_IFNAME_MAX + 1], bridge[VG_IFNAME_MAX + 1];
    const struct vgd_net_port_ops *ops;
    int fd;
    bool mrg;                  /* MRG_RXBUF negotiated */
    struct net_pkt rx[NET_RX_BATCH];
    int held;                  /* rx[] peeked and not taken, -1 none */
    uint64_t next_id;
    struct iovec *txiov;
    unsigned txiov_cap;
    struct vgd_net_counters c;
    struct vg_ratelimit rl;    /* the lines a guest can provoke */
};

/* A line a guest (or the tap) can provoke: rate-limited per device. */
void vgd_net_warn(struct net *n, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* net_rx.c: the input queue (devmodel.h input_peek, input_take) and the
 * requests on it. */
enum vgd_input_state vgd_net_input_peek(void *m, unsigned queue,
                                        bool round_start,
                                        struct vgd_input *in);
void vgd_net_input_take(void *m, unsigned queue, bool dropped);
void vgd_net_rx_handle(struct net *n, const struct vgd_request *req,
                       struct vgd_result *res);

#endif /* VGRANT_BACKEND_NET_INT_H */
