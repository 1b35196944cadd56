/* SPDX-License-Identifier: MIT */
/*
 * Fake hypervisor (see hyp_fake.c): event channels.  A port connects only
 * to a port offered to the binding domain; pending-and-unmasked ports make
 * the owning handle's eventfd readable.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vgrant/hyp.h"
#include "vgrant/log.h"

#include "hyp_fake_int.h"

/* Change a port's flags, keeping its owner's "ready" count and the
 * readability of the owner's evtchn fd in step. */
static void port_set(struct fake_port *p, bool pending, bool masked)
{
    bool was = p->pending && !p->masked;
    bool now = pending && !masked;

    p->pending = pending;
    p->masked = masked;
    if (!p->owner || was == now)
        return;
    if (now)
        p->owner->evt_ready++;
    else
        p->owner->evt_ready--;
    fd_set_readable(p->owner->evt_fd, &p->owner->evt_signalled,
                    p->owner->evt_ready > 0);
}

/* Close a port; a connected peer falls back to unbound (as in Xen: it
 * waits for the same remote domain again). */
void port_close(struct fake_domain *d, vg_port_t port)
{
    struct fake_port *p = &d->ports[port];

    if (p->state == PORT_CONNECTED) {
        struct fake_port *peer = &p->peer_dom->ports[p->peer_port];
        if (peer->state == PORT_CONNECTED && peer->peer_dom == d &&
            peer->peer_port == port) {
            peer->state = PORT_UNBOUND;
            peer->peer_dom = NULL;
            peer->peer_port = 0;
        }
    }
    port_set(p, false, false);
    memset(p, 0, sizeof(*p));
}

/* Lowest free port, like Xen. */
static int port_alloc(struct fake_domain *d)
{
    for (vg_port_t port = 1; port < FAKE_MAX_PORTS; port++)
        if (d->ports[port].state == PORT_FREE) {
            if (port >= d->port_top)
                d->port_top = port + 1;
            return (int)port;
        }
    errno = ENOSPC;
    return -1;
}

/* The port `port` of h, or NULL with EINVAL. */
static struct fake_port *port_of_handle(struct fake_hyp *fh, vg_port_t port)
{
    if (port == 0 || port >= FAKE_MAX_PORTS ||
        fh->dom->ports[port].state == PORT_FREE ||
        fh->dom->ports[port].owner != fh) {
        errno = EINVAL;
        return NULL;
    }
    return &fh->dom->ports[port];
}

int fake_evtchn_fd(struct vg_hyp *h)
{
    return fake_of(h)->evt_fd;
}

int fake_evtchn_bind_unbound(struct vg_hyp *h, uint16_t remote_domid)
{
    struct fake_hyp *fh = fake_of(h);
    struct vg_fake_world *w = fh->world;
    int port = -1;

    world_lock(w);
    if (!handle_alive(fh))
        goto out;
    if (!domain_find_alive(w, remote_domid)) {
        errno = ESRCH;
        goto out;
    }
    port = port_alloc(fh->dom);
    if (port < 0)
        goto out;
    fh->dom->ports[port] = (struct fake_port){
        .state = PORT_UNBOUND, .owner = fh, .remote_domid = remote_domid,
    };
out:
    world_unlock(w);
    return port;
}

int fake_evtchn_bind_interdomain(struct vg_hyp *h, uint16_t remote_domid,
                                        vg_port_t remote_port)
{
    struct fake_hyp *fh = fake_of(h);
    struct vg_fake_world *w = fh->world;
    int port = -1;

    world_lock(w);
    if (!handle_alive(fh))
        goto out;
    struct fake_domain *rd = domain_find_alive(w, remote_domid);
    if (!rd) {
        errno = ESRCH;
        goto out;
    }
    if (remote_port == 0 || remote_port >= FAKE_MAX_PORTS ||
        rd->ports[remote_port].state != PORT_UNBOUND ||
        rd->ports[remote_port].remote_domid != h->domid) {
        vg_debug("fake: dom %u cannot bind port %u of dom %u: not offered",
                 h->domid, remote_port, remote_domid);
        errno = EINVAL;
        goto out;
    }
    port = port_alloc(fh->dom);
    if (port < 0)
        goto out;
    fh->dom->ports[port] = (struct fake_port){
        .state = PORT_CONNECTED, .owner = fh, .remote_domid = remote_domid,
        .peer_dom = rd, .peer_port = remote_port,
    };
    struct fake_port *rp = &rd->ports[remote_port];
    rp->state = PORT_CONNECTED;
    rp->peer_dom = fh->dom;
    rp->peer_port = (vg_port_t)port;
out:
    world_unlock(w);
    return port;
}

int fake_evtchn_unbind(struct vg_hyp *h, vg_port_t port)
{
    struct fake_hyp *fh = fake_of(h);
    struct vg_fake_world *w = fh->world;
    int ret = -1;

    world_lock(w);
    if (handle_alive(fh) && port_of_handle(fh, port)) {
        port_close(fh->dom, port);
        ret = 0;
    }
    world_unlock(w);
    return ret;
}

/* Differs from Xen on purpose: notifying a port whose peer has gone fails
 * with ENOTCONN (Xen drops it silently), so tests see the peer vanish. */
int fake_evtchn_notify(struct vg_hyp *h, vg_port_t port)
{
    struct fake_hyp *fh = fake_of(h);
    struct vg_fake_world *w = fh->world;
    int ret = -1;

    world_lock(w);
    if (!handle_alive(fh))
        goto out;
    struct fake_port *p = port_of_handle(fh, port);
    if (!p)
        goto out;
    if (p->state != PORT_CONNECTED) {
        errno = ENOTCONN;
        goto out;
    }
    struct fake_port *peer = &p->peer_dom->ports[p->peer_port];
    port_set(peer, true, peer->masked);
    h->counters.notifies++;
    ret = 0;
out:
    world_unlock(w);
    return ret;
}

int fake_evtchn_pending(struct vg_hyp *h)
{
    struct fake_hyp *fh = fake_of(h);
    struct vg_fake_world *w = fh->world;
    int ret = -1;

    world_lock(w);
    if (!handle_alive(fh))
        goto out;
    errno = EAGAIN;
    if (fh->evt_ready == 0)
        goto out;
    /* Round robin from the last delivered port, so one busy port cannot
     * starve the others. */
    for (unsigned i = 0; i < fh->dom->port_top; i++) {
        vg_port_t port = (fh->evt_cursor + i) % fh->dom->port_top;
        struct fake_port *p = &fh->dom->ports[port];
        if (p->owner == fh && p->pending && !p->masked) {
            port_set(p, false, true);
            fh->evt_cursor = port + 1;
            ret = (int)port;
            goto out;
        }
    }
out:
    world_unlock(w);
    return ret;
}

int fake_evtchn_unmask(struct vg_hyp *h, vg_port_t port)
{
    struct fake_hyp *fh = fake_of(h);
    struct vg_fake_world *w = fh->world;
    int ret = -1;

    world_lock(w);
    if (handle_alive(fh)) {
        struct fake_port *p = port_of_handle(fh, port);
        if (p) {
            port_set(p, p->pending, false);
            ret = 0;
        }
    }
    world_unlock(w);
    return ret;
}
