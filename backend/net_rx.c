/* SPDX-License-Identifier: MIT */
/*
 * virtio-net receive (net.c has the model): the rx queue is an input queue
 * (devmodel.h input_peek).  A frame is read from the port into one of
 * NET_RX_BATCH private buffers only when the daemon asks for the next
 * input (HELD), gets chains (TAKEN) or is dropped (no buffers), and is
 * written into its chains by vgd_net_rx_handle as they come, in order, in
 * the same round; a round start frees what an earlier round left taken
 * (a chain the transport could not map never came).
 */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "net_int.h"

/* ------------------------------------------------------------------ */
/* rx                                                                  */

static void pkt_free(struct net_pkt *p)
{
    p->state = PKT_FREE;
    p->lost = false;
}

/* Read packets from the port until one is usable, into p. */
static bool rx_read(struct net *n, struct net_pkt *p)
{
    for (unsigned t = 0; t < NET_RX_TRIES; t++) {
        ssize_t got = read(n->fd, p->buf, n->frame_max + 1);

        if (got < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                n->c.rx_errors++;
                vgd_net_warn(n, "reading interface %s: %s", n->ifname,
                             strerror(errno));
            }
            return false;
        }
        if ((size_t)got < NET_ETH_HDR || (size_t)got > n->frame_max) {
            n->c.rx_bad_length++;
            vgd_net_warn(n, "interface %s gave a %s frame (%zd bytes; %u to "
                         "%zu allowed): dropped", n->ifname,
                         (size_t)got < NET_ETH_HDR ? "short" : "long", got,
                         NET_ETH_HDR, n->frame_max);
            continue;
        }
        p->len = (size_t)got;
        return true;
    }
    return false;
}

enum vgd_input_state vgd_net_input_peek(void *m, unsigned queue,
                                        bool round_start,
                                        struct vgd_input *in)
{
    struct net *n = m;
    struct net_pkt *p = NULL;

    if (queue != NET_RXQ)
        return VGD_INPUT_NONE;
    if (round_start) {
        /* every earlier round closed: a packet still taken lost a chain
         * the transport could not map (its handle never came) */
        for (unsigned i = 0; i < NET_RX_BATCH; i++)
            if (n->rx[i].state == PKT_TAKEN) {
                if (!n->rx[i].lost)
                    n->c.rx_bad_chain++;
                pkt_free(&n->rx[i]);
            }
    }
    if (n->held >= 0) {
        p = &n->rx[n->held];
    } else {
        for (unsigned i = 0; i < NET_RX_BATCH && !p; i++)
            if (n->rx[i].state == PKT_FREE)
                p = &n->rx[i];
        if (!p)
            return VGD_INPUT_LATER;
        if (!rx_read(n, p))
            return VGD_INPUT_NONE;
        p->state = PKT_HELD;
        p->id = ++n->next_id;
        n->held = (int)(p - n->rx);
    }
    in->id = p->id;
    in->need = NET_HDR + p->len;
    in->max_chains = n->mrg ? NET_RX_MAX_CHAINS : 1;
    return VGD_INPUT_READY;
}

void vgd_net_input_take(void *m, unsigned queue, bool dropped)
{
    struct net *n = m;
    struct net_pkt *p;

    if (queue != NET_RXQ || n->held < 0)
        return;
    p = &n->rx[n->held];
    n->held = -1;
    if (dropped) {
        n->c.rx_no_buffer++;
        pkt_free(p);
        return;
    }
    p->state = PKT_TAKEN;
    p->off = 0;
    p->next = 0;
    p->lost = false;
}

/* Copy len bytes of header + frame, from offset off, into iov. */
static size_t rx_fill(const struct virtio_net_hdr *h, const struct net_pkt *p,
                      size_t off, size_t len, const struct iovec *iov,
                      unsigned niov)
{
    size_t done = 0;

    for (unsigned i = 0; i < niov && done < len; i++) {
        uint8_t *dst = iov[i].iov_base;
        size_t room = iov[i].iov_len;

        while (room && done < len) {
            size_t at = off + done, l;
            const uint8_t *src;

            if (at < NET_HDR) {
                src = (const uint8_t *)h + at;
                l = NET_HDR - at;
            } else {
                src = p->buf + (at - NET_HDR);
                l = NET_HDR + p->len - at;
            }
            if (l > room)
                l = room;
            if (l > len - done)
                l = len - done;
            memcpy(dst, src, l);
            dst += l;
            room -= l;
            done += l;
        }
    }
    return done;
}

static struct net_pkt *taken(struct net *n, uint64_t id)
{
    for (unsigned i = 0; i < NET_RX_BATCH; i++)
        if (n->rx[i].state == PKT_TAKEN && n->rx[i].id == id)
            return &n->rx[i];
    return NULL;
}

/* A packet's own reason to be dropped, at its first chain (0: none). */
static uint64_t *rx_unfit(struct net *n, const struct net_pkt *p,
                          const struct vgd_request *req)
{
    size_t need = NET_HDR + p->len;

    if (req->n_out || req->out_bytes) {
        vgd_net_warn(n, "rx chain with %u device-readable buffer(s): packet "
                     "dropped", req->n_out);
        return &n->c.rx_bad_chain;
    }
    if (req->in_bytes < NET_HDR) {
        vgd_net_warn(n, "rx buffer of %zu bytes, smaller than the %zu-byte "
                     "header: packet dropped", req->in_bytes, NET_HDR);
        return &n->c.rx_small_buffer;
    }
    if (req->input.bytes < need) {
        vgd_net_warn(n, "rx buffers of %llu bytes in %u chain(s) for a "
                     "%zu-byte packet%s: dropped",
                     (unsigned long long)req->input.bytes,
                     req->input.count, need,
                     n->mrg ? "" : " (MRG_RXBUF not negotiated)");
        return &n->c.rx_small_buffer;
    }
    return NULL;
}

void vgd_net_rx_handle(struct net *n, const struct vgd_request *req,
                       struct vgd_result *res)
{
    struct net_pkt *p = req->input.count ? taken(n, req->input.id) : NULL;
    struct virtio_net_hdr h = { .gso_type = VIRTIO_NET_HDR_GSO_NONE };
    size_t need, len;
    bool last = req->input.index + 1 >= req->input.count;

    if (!p) {
        /* not popped for a packet we hold (cannot happen), or its packet
         * was lost with an earlier chain */
        res->failed = true;
        return;
    }
    need = NET_HDR + p->len;
    if (!p->lost && req->input.index != p->next) {
        p->lost = true;             /* an earlier chain never came */
        n->c.rx_bad_chain++;
    }
    if (!p->lost && req->input.index == 0) {
        uint64_t *why = rx_unfit(n, p, req);

        if (why) {
            p->lost = true;
            (*why)++;
        }
    }
    if (!p->lost && (req->n_out || req->out_bytes)) {
        p->lost = true;
        n->c.rx_bad_chain++;
    }
    if (p->lost) {
        res->failed = true;
    } else {
        h.num_buffers = htole16((uint16_t)req->input.count);
        len = need - p->off < req->in_bytes ? need - p->off : req->in_bytes;
        len = rx_fill(&h, p, p->off, len, req->in, req->n_in);
        p->off += len;
        p->next++;
        res->written = (uint32_t)len;
        if (last && p->off == need) {
            n->c.rx_packets++;
            n->c.rx_bytes += p->len;
        }
    }
    if (last)
        pkt_free(p);
}
