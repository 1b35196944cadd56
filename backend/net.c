/* SPDX-License-Identifier: MIT */
/*
 * virtio-net device model (VIRTIO 1.x section 5.1), one queue pair:
 * queue 0 receives (rx), queue 1 transmits (tx).  The wire is a packet
 * port, one Ethernet frame per read or write (net.h): a tap interface in
 * vgrantd (net_tap.c), a socketpair in the unit tests.
 *
 * Features: MAC (config mac), STATUS (link always up), MTU (config mtu)
 * and MRG_RXBUF (a received packet may span several rx chains; its header
 * says how many in num_buffers).  No checksum or segmentation offload:
 * the guest computes its own checksums and sends frames of at most MTU +
 * 18 bytes; received frames come without DATA_VALID, so the guest checks
 * them.  No control queue, no multiqueue.
 *
 * Every packet, both ways, has the 12-byte struct virtio_net_hdr in front
 * (VERSION_1 is always negotiated, so num_buffers is always there).
 *
 * tx: a chain is device-readable only: the header then the frame.  The
 * header is copied once (the guest may change it under us) and must ask
 * for nothing we did not offer: flags 0 and gso_type NONE, else the
 * packet is dropped (tx_bad_header).  The frame must be 14..MTU + 18
 * bytes (Ethernet header, 802.1Q tag), else dropped (tx_bad_length).  It
 * goes to the port in one writev straight from the guest's mapped
 * buffers; a port that would block drops it (tx_busy): the daemon never
 * waits for the tap.  A drop is not a ring error: the chain completes
 * (used length 0, as every tx chain) and the device keeps serving.
 *
 * rx (net_rx.c): an input queue (devmodel.h input_peek): the daemon
 * polls the port and pops rx chains only for a packet.  The model reads
 * a packet into a private buffer (at most NET_RX_BATCH per round, so a
 * round's packets are all held at once), tells the daemon what it needs
 * (header + frame; with MRG_RXBUF over up to NET_RX_MAX_CHAINS chains,
 * else in one), and writes it into the chains the daemon popped for it.  A guest that
 * posted too few buffers loses the packet (rx_no_buffer); buffers too
 * small for it (without MRG_RXBUF, or all of them together) lose it and
 * complete with used length 0 (rx_small_buffer), as does a first buffer
 * smaller than the header.  Frames shorter than an Ethernet header or
 * longer than MTU + 18 from the port are dropped (rx_bad_length).
 *
 * Backend keys (vg_devtype_net in common/devtype.c): mac, bridge, vif,
 * mtu.  A missing mac gets a random locally administered unicast address,
 * written back to the backend directory so users (and a re-opened device)
 * see it.
 */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/uio.h>
#include <unistd.h>

#include "net_int.h"
#include "vgrant/protocol.h"
#include "vgrant/xsutil.h"
#include "vgrantd.h"

static const struct vgd_net_port_ops *port_ops = &vgd_net_tap;

void vgd_net_set_port(const struct vgd_net_port_ops *ops)
{
    port_ops = ops ? ops : &vgd_net_tap;
}

void vgd_net_warn(struct net *n, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    vg_rl_log(&n->rl, VG_LOG_WARN, "dom %u dev %u: net: %s", n->domid,
              n->devid, msg);
}

static unsigned net_max_request_pages(void *m);

/* ------------------------------------------------------------------ */
/* open: keys, port                                                    */

/* Key `key` into buf (size VG_IFNAME_MAX + 1): 1 given, 0 absent, -1 bad. */
static int ifname_key(const struct vgd_model_params *p, const char *key,
                      char *buf)
{
    char *v = NULL;
    int rc = vgd_model_key(p, &vg_devtype_net, key, &v, NULL);

    buf[0] = '\0';
    if (rc == 1)
        snprintf(buf, VG_IFNAME_MAX + 1, "%s", v);
    free(v);
    return rc;
}

static int read_mac(struct net *n, const struct vgd_model_params *p)
{
    char *v = NULL;
    int rc = vgd_model_key(p, &vg_devtype_net, VG_KEY_MAC, &v, NULL);

    if (rc < 0)
        return -1;
    if (rc == 1) {
        rc = vg_parse_mac(v, n->mac);    /* canonical: cannot fail */
        free(v);
        return rc;
    }
    if (getrandom(n->mac, sizeof(n->mac), 0) != (ssize_t)sizeof(n->mac)) {
        vg_dev_log(VG_LOG_ERR, n->domid, n->devid, "net: no random MAC: %s",
                   strerror(errno));
        return -1;
    }
    n->mac[0] = (uint8_t)((n->mac[0] & ~1u) | 2u);  /* unicast, local */
    if (vg_xs_write_fmt(p->h, VG_XS_NO_TX, p->be_path, VG_KEY_MAC,
                        "%02x:%02x:%02x:%02x:%02x:%02x", n->mac[0],
                        n->mac[1], n->mac[2], n->mac[3], n->mac[4],
                        n->mac[5])) {
        vg_dev_log(VG_LOG_ERR, n->domid, n->devid, "net: cannot write the "
                   "random MAC to %s/" VG_KEY_MAC ": %s", p->be_path,
                   strerror(errno));
        return -1;
    }
    return 0;
}

static struct vgd_net_port_params port_params(const struct net *n)
{
    return (struct vgd_net_port_params){
        .domid = n->domid, .devid = n->devid, .ifname = n->ifname,
        .bridge = n->bridge, .mtu = n->mtu };
}

static void net_close(void *m)
{
    struct net *n = m;

    if (!n)
        return;
    if (n->fd >= 0) {
        struct vgd_net_port_params pp = port_params(n);

        n->ops->close(n->fd, &pp);
    }
    vg_rl_flush(&n->rl, VG_LOG_INFO, "dom %u dev %u: net: packet warnings",
                n->domid, n->devid);
    for (unsigned i = 0; i < NET_RX_BATCH; i++)
        free(n->rx[i].buf);
    free(n->txiov);
    free(n);
}

static void *net_open(const struct vgd_model_params *p)
{
    struct net *n = calloc(1, sizeof(*n));
    struct vgd_net_port_params pp;
    uint64_t mtu = 0;
    char err[256];
    int rc;

    if (!n)
        return NULL;
    n->fd = -1;
    n->held = -1;
    n->domid = p->frontend_domid;
    n->devid = p->devid;
    n->ops = port_ops;
    if (vgd_model_key(p, &vg_devtype_net, VG_KEY_MTU, NULL, &mtu) < 0 ||
        ifname_key(p, VG_KEY_BRIDGE, n->bridge) < 0 ||
        (rc = ifname_key(p, VG_KEY_VIF, n->ifname)) < 0 ||
        read_mac(n, p))
        goto fail;
    if (rc == 0) {
        int len = snprintf(n->ifname, sizeof(n->ifname), "vg%u.%u", n->domid,
                           n->devid);

        if (len < 0 || (size_t)len >= sizeof(n->ifname)) {
            vg_dev_log(VG_LOG_ERR, n->domid, n->devid, "net: the default "
                       "interface name vg%u.%u is longer than %u characters: "
                       "name it with vif=", n->domid, n->devid,
                       VG_IFNAME_MAX);
            goto fail;
        }
    }
    n->mtu = (unsigned)mtu;
    n->frame_max = n->mtu + NET_L2_EXTRA;
    for (unsigned i = 0; i < NET_RX_BATCH; i++) {
        n->rx[i].buf = malloc(n->frame_max + 1);
        if (!n->rx[i].buf)
            goto oom;
    }
    n->txiov_cap = net_max_request_pages(n) + NET_MAX_BUFFERS;
    n->txiov = calloc(n->txiov_cap, sizeof(*n->txiov));
    if (!n->txiov)
        goto oom;
    pp = port_params(n);
    n->fd = n->ops->open(&pp, err, sizeof(err));
    if (n->fd < 0) {
        vg_dev_log(VG_LOG_ERR, n->domid, n->devid, "net: %s", err);
        goto fail;
    }
    vg_dev_log(VG_LOG_INFO, n->domid, n->devid, "net: interface %s%s%s, MAC "
               "%02x:%02x:%02x:%02x:%02x:%02x, MTU %u", n->ifname,
               n->bridge[0] ? " in bridge " : " (no bridge)", n->bridge,
               n->mac[0], n->mac[1], n->mac[2], n->mac[3], n->mac[4],
               n->mac[5], n->mtu);
    return n;
oom:
    vg_dev_log(VG_LOG_ERR, n->domid, n->devid, "net: out of memory");
fail:
    net_close(n);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* device description                                                  */

static uint64_t net_features(void *m)
{
    (void)m;
    return VG_FEATURE(VIRTIO_NET_F_MAC) | VG_FEATURE(VIRTIO_NET_F_STATUS) |
           VG_FEATURE(VIRTIO_NET_F_MTU) | VG_FEATURE(VIRTIO_NET_F_MRG_RXBUF);
}

static void net_set_features(void *m, uint64_t negotiated)
{
    struct net *n = m;

    n->mrg = negotiated & VG_FEATURE(VIRTIO_NET_F_MRG_RXBUF);
}

static size_t net_config_space(void *m, uint8_t *buf, size_t max)
{
    struct net *n = m;
    struct virtio_net_config cfg = {
        .status = htole16(VIRTIO_NET_S_LINK_UP),
        .max_virtqueue_pairs = htole16(1),
        .mtu = htole16((uint16_t)n->mtu),
    };

    if (max < sizeof(cfg))
        return 0;
    memcpy(cfg.mac, n->mac, sizeof(cfg.mac));
    memcpy(buf, &cfg, sizeof(cfg));
    return sizeof(cfg);
}

static unsigned net_max_request_pages(void *m)
{
    struct net *n = m;

    /* a whole packet, each buffer starting and ending in a page of its
     * own; rx chains as large (Linux's big-packet buffers are 19 pages) */
    return (unsigned)((NET_HDR + n->frame_max) / VG_PAGE_SIZE) +
           2 * NET_MAX_BUFFERS;
}

static unsigned net_max_request_buffers(void *m)
{
    (void)m;
    return NET_MAX_BUFFERS;
}

static int net_input_fd(void *m, unsigned *queue)
{
    struct net *n = m;

    *queue = NET_RXQ;
    return n->fd;
}

/* ------------------------------------------------------------------ */
/* tx                                                                  */

/* Copy the first NET_HDR bytes of out[] into *h. */
static void tx_header(const struct vgd_request *req, struct virtio_net_hdr *h)
{
    uint8_t *dst = (uint8_t *)h;
    size_t got = 0;

    for (unsigned i = 0; i < req->n_out && got < NET_HDR; i++) {
        size_t l = req->out[i].iov_len < NET_HDR - got ? req->out[i].iov_len
                                                        : NET_HDR - got;

        memcpy(dst + got, req->out[i].iov_base, l);
        got += l;
    }
}

static void tx_handle(struct net *n, const struct vgd_request *req,
                      struct vgd_result *res)
{
    struct virtio_net_hdr h = { 0 };
    size_t frame, skip = NET_HDR;
    unsigned niov = 0;
    ssize_t sent;

    res->read = (uint32_t)req->out_bytes;
    if (req->n_in || req->in_bytes) {
        n->c.tx_bad_header++;
        vgd_net_warn(n, "tx chain with %u device-writable buffer(s): dropped",
                     req->n_in);
        res->failed = true;
        return;
    }
    if (req->out_bytes < NET_HDR + NET_ETH_HDR ||
        req->out_bytes - NET_HDR > n->frame_max) {
        n->c.tx_bad_length++;
        vgd_net_warn(n, "tx chain of %zu bytes: a %zu-byte header and a "
                     "frame of %u to %zu bytes expected: dropped",
                     req->out_bytes, NET_HDR, NET_ETH_HDR, n->frame_max);
        res->failed = true;
        return;
    }
    tx_header(req, &h);         /* the copy is all we look at */
    if (h.flags || h.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
        n->c.tx_bad_header++;
        vgd_net_warn(n, "tx header asks for flags 0x%x, gso_type %u: no "
                     "offload was offered: dropped", h.flags, h.gso_type);
        res->failed = true;
        return;
    }
    frame = req->out_bytes - NET_HDR;
    for (unsigned i = 0; i < req->n_out && niov < n->txiov_cap; i++) {
        size_t l = req->out[i].iov_len;

        if (skip >= l) {
            skip -= l;
            continue;
        }
        n->txiov[niov].iov_base = (uint8_t *)req->out[i].iov_base + skip;
        n->txiov[niov].iov_len = l - skip;
        skip = 0;
        niov++;
    }
    do
        sent = writev(n->fd, n->txiov, (int)niov);
    while (sent < 0 && errno == EINTR);
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
                     errno == ENOBUFS)) {
        n->c.tx_busy++;
        return;
    }
    if (sent != (ssize_t)frame) {
        n->c.tx_errors++;
        vgd_net_warn(n, "writing a %zu-byte frame to interface %s: %s", frame,
                     n->ifname, sent < 0 ? strerror(errno) : "short write");
        return;
    }
    n->c.tx_packets++;
    n->c.tx_bytes += frame;
}

static void net_handle(void *m, const struct vgd_request *req,
                       struct vgd_result *res)
{
    struct net *n = m;

    res->written = 0;
    res->read = 0;
    if (req->queue == NET_RXQ)
        vgd_net_rx_handle(n, req, res);
    else
        tx_handle(n, req, res);
}

static void net_stats(void *m, struct vgd_dev_stats *s)
{
    const struct vgd_net_counters *c = &((struct net *)m)->c;

    s->net = true;
    s->net_rx_packets = c->rx_packets;
    s->net_rx_bytes = c->rx_bytes;
    s->net_tx_packets = c->tx_packets;
    s->net_tx_bytes = c->tx_bytes;
    s->net_rx_no_buffer = c->rx_no_buffer;
    s->net_rx_small_buffer = c->rx_small_buffer;
    s->net_rx_bad_length = c->rx_bad_length;
    s->net_rx_bad_chain = c->rx_bad_chain;
    s->net_tx_bad_length = c->tx_bad_length;
    s->net_tx_bad_header = c->tx_bad_header;
    s->net_tx_busy = c->tx_busy;
    s->net_errors = c->rx_errors + c->tx_errors;
}

const struct vgd_model vgd_model_net = {
    .name = VG_TYPE_NET,
    .device_id = VIRTIO_ID_NET,
    .max_queues = 1,           /* queue pairs, as the queues key counts */
    .fixed_queues = 2,         /* rx and tx */
    .open = net_open,
    .close = net_close,
    .features = net_features,
    .config_space = net_config_space,
    .max_request_pages = net_max_request_pages,
    .max_request_buffers = net_max_request_buffers,
    .input_fd = net_input_fd,
    .input_peek = vgd_net_input_peek,
    .input_take = vgd_net_input_take,
    .set_features = net_set_features,
    .stats = net_stats,
    .handle = net_handle,
    .status_bytes = 0,
    .fail = NULL,
};
