/* SPDX-License-Identifier: MIT */
/*
 * The virtio-net model's packet port (backend/net.c): the fd packets go
 * out to and come in from, one packet per read or write.  In vgrantd it is
 * a tap interface (net_tap.c); the unit tests put a socketpair in its
 * place (no root, no /dev/net/tun), through vgd_net_set_port.
 */
#ifndef VGRANT_BACKEND_NET_H
#define VGRANT_BACKEND_NET_H

#include <stddef.h>
#include <stdint.h>

#include "vgrant/devtype.h"

/* What a port is opened for: the device's keys, validated. */
struct vgd_net_port_params {
    uint16_t domid;
    unsigned devid;
    const char *ifname;        /* key vif, or vg<domid>.<devid> */
    const char *bridge;        /* key bridge; "" for none */
    unsigned mtu;
};

struct vgd_net_port_ops {
    /* A non-blocking fd carrying one packet (an Ethernet frame, no
     * header) per read/write; -1 with err saying what failed, naming the
     * interface and the bridge. */
    int (*open)(const struct vgd_net_port_params *p, char *err,
                size_t errlen);
    /* Give the fd back: the tap goes away with it. */
    void (*close)(int fd, const struct vgd_net_port_params *p);
};

/* The tap device (net_tap.c): /dev/net/tun, IFF_TAP | IFF_NO_PI, named
 * p->ifname, MAC fe:ff:ff:ff:ff:ff, MTU p->mtu, up, in bridge p->bridge
 * (SIOCBRADDIF); closing the fd removes it. */
extern const struct vgd_net_port_ops vgd_net_tap;

/* The port every net device opened from now on uses; NULL: the tap.
 * (Tests.) */
void vgd_net_set_port(const struct vgd_net_port_ops *ops);

/* Why packets were dropped, and what went through (the model's state;
 * vgrant stats shows them as vgd_dev_stats.net_*). */
struct vgd_net_counters {
    uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
    uint64_t rx_no_buffer;     /* the guest had posted too few buffers */
    uint64_t rx_small_buffer;  /* its buffers were too small for it */
    uint64_t rx_bad_length;    /* from the port: shorter than an Ethernet
                                  header, or longer than MTU + 18 */
    uint64_t rx_bad_chain;     /* a chain with device-readable buffers,
                                  or one the transport could not map */
    uint64_t tx_bad_length;    /* frame < 14 or > MTU + 18, or no header */
    uint64_t tx_bad_header;    /* offloads we did not offer, or a chain
                                  with device-writable buffers */
    uint64_t tx_busy;          /* the port would have blocked (EAGAIN) */
    uint64_t tx_errors, rx_errors;   /* other port errors */
};

#endif /* VGRANT_BACKEND_NET_H */
