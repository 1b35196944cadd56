/* SPDX-License-Identifier: MIT */
/*
 * In-process test double of the hypervisor interface ("fake world").
 *
 * A world holds domains (each with a grant table and an event channel port
 * table) and one xenstore tree.  Handles act as one domain.  One mutex
 * guards the whole world, so a frontend and a backend may run in different
 * threads.  The double enforces what Xen enforces:
 *   - a grant maps only for the domain it was granted to, only while it is
 *     not revoked, and read-only grants are mapped PROT_READ so a write
 *     really faults; granted pages are memfd pages, so both sides really
 *     share memory and a revoked-but-mapped page stays valid until unmapped;
 *   - event channels connect only to ports offered to the binding domain;
 *   - xenstore nodes carry Xen permissions, transactions conflict, watches
 *     fire like xenstored's (once on registration, on every change below).
 *
 * Deliberate differences from Xen are noted where they occur.
 *
 * The world is split by subsystem (common/hyp_fake_int.h lists the files);
 * this one holds the shared lock/lookup helpers, handles, domains and the
 * world itself.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vgrant/hyp.h"

#include "hyp_fake_int.h"

/* ------------------------------------------------------------------ */
/* helpers                                                             */
/* ------------------------------------------------------------------ */

struct fake_hyp *fake_of(struct vg_hyp *h)
{
    return (struct fake_hyp *)h;
}

void world_lock(struct vg_fake_world *w)
{
    pthread_mutex_lock(&w->lock);
}

/* Unlock without clobbering the errno the operation set. */
void world_unlock(struct vg_fake_world *w)
{
    int saved = errno;
    pthread_mutex_unlock(&w->lock);
    errno = saved;
}

/* Make an eventfd readable or not; the signalled flag mirrors its state. */
void fd_set_readable(int fd, bool *signalled, bool want)
{
    uint64_t v = 1;
    ssize_t r;

    if (want == *signalled)
        return;
    if (want)
        r = write(fd, &v, sizeof(v));
    else
        r = read(fd, &v, sizeof(v));
    (void)r;
    *signalled = want;
}

/* Latest domain struct with that id (alive or dead), or NULL. */
struct fake_domain *domain_find_any(struct vg_fake_world *w, uint16_t domid)
{
    for (struct fake_domain *d = w->domains; d; d = d->next)
        if (d->domid == domid)
            return d;
    return NULL;
}

struct fake_domain *domain_find_alive(struct vg_fake_world *w, uint16_t domid)
{
    struct fake_domain *d = domain_find_any(w, domid);
    return d && !d->dead ? d : NULL;
}

/* Every handle call starts here: a handle of a destroyed domain fails. */
bool handle_alive(struct fake_hyp *fh)
{
    if (fh->dom->dead) {
        errno = ESRCH;
        return false;
    }
    return true;
}

static int fake_domain_alive(struct vg_hyp *h, uint16_t domid)
{
    struct fake_hyp *fh = fake_of(h);
    int ret = -1;

    world_lock(fh->world);
    if (handle_alive(fh))
        ret = domain_find_alive(fh->world, domid) ? 1 : 0;
    world_unlock(fh->world);
    return ret;
}

/* ------------------------------------------------------------------ */
/* handles, domains, world                                             */
/* ------------------------------------------------------------------ */

/* Release everything a handle holds, as closing the real devices does. */
static void handle_release(struct fake_hyp *fh)
{
    struct vg_fake_world *w = fh->world;

    for (struct fake_hyp **ph = &w->handles; *ph; ph = &(*ph)->next) {
        if (*ph == fh) {
            *ph = fh->next;
            break;
        }
    }
    while (fh->maps) {
        struct fake_mapping *m = fh->maps;
        fh->maps = m->next;
        mapping_release(m);
    }
    while (fh->shares) {
        struct fake_share *s = fh->shares;
        fh->shares = s->next;
        share_release(fh->dom, s);
    }
    for (vg_port_t port = 1; port < fh->dom->port_top; port++)
        if (fh->dom->ports[port].state != PORT_FREE && fh->dom->ports[port].owner == fh)
            port_close(fh->dom, port);
    while (fh->watches) {
        struct fake_watch *wt = fh->watches;
        fh->watches = wt->next;
        watch_free(wt);
    }
    for (unsigned i = 0; i < fh->q_len; i++)
        event_free(&fh->queue[(fh->q_head + i) % fh->q_cap]);
    free(fh->queue);
    while (fh->txs) {
        struct fake_tx *t = fh->txs;
        fh->txs = t->next;
        tx_free(t);
    }
    if (fh->evt_fd >= 0)
        close(fh->evt_fd);
    if (fh->xs_fd >= 0)
        close(fh->xs_fd);
    free(fh);
}

static void fake_close(struct vg_hyp *h)
{
    struct fake_hyp *fh = fake_of(h);
    struct vg_fake_world *w = fh->world;

    world_lock(w);
    handle_release(fh);
    world_unlock(w);
}

static const struct vg_hyp_ops fake_ops = {
    .close = fake_close,
    .map_grants = fake_map_grants,
    .unmap_grants = fake_unmap_grants,
    .grant_copy = fake_grant_copy,
    .share_pages = fake_share_pages,
    .unshare_pages = fake_unshare_pages,
    .evtchn_fd = fake_evtchn_fd,
    .evtchn_bind_unbound = fake_evtchn_bind_unbound,
    .evtchn_bind_interdomain = fake_evtchn_bind_interdomain,
    .evtchn_unbind = fake_evtchn_unbind,
    .evtchn_notify = fake_evtchn_notify,
    .evtchn_pending = fake_evtchn_pending,
    .evtchn_unmask = fake_evtchn_unmask,
    .xs_read = fake_xs_read,
    .xs_write = fake_xs_write,
    .xs_mkdir = fake_xs_mkdir,
    .xs_rm = fake_xs_rm,
    .xs_directory = fake_xs_directory,
    .xs_set_perms = fake_xs_set_perms,
    .xs_get_perms = fake_xs_get_perms,
    .xs_tx_start = fake_xs_tx_start,
    .xs_tx_end = fake_xs_tx_end,
    .xs_watch = fake_xs_watch,
    .xs_unwatch = fake_xs_unwatch,
    .xs_fd = fake_xs_fd,
    .xs_next_watch = fake_xs_next_watch,
    .domain_alive = fake_domain_alive,
};

struct vg_hyp *vg_fake_open(struct vg_fake_world *w, uint16_t domid)
{
    struct fake_hyp *fh = NULL;

    world_lock(w);
    struct fake_domain *d = domain_find_alive(w, domid);
    if (!d) {
        errno = ESRCH;
        goto fail;
    }
    fh = calloc(1, sizeof(*fh));
    if (!fh)
        goto fail;
    fh->evt_fd = fh->xs_fd = -1;
    fh->evt_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    fh->xs_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fh->evt_fd < 0 || fh->xs_fd < 0)
        goto fail;
    fh->pub.ops = &fake_ops;
    fh->pub.domid = domid;
    fh->world = w;
    fh->dom = d;
    fh->evt_cursor = 1;
    fh->next = w->handles;
    w->handles = fh;
    world_unlock(w);
    return &fh->pub;

fail:
    if (fh) {
        int saved = errno;
        if (fh->evt_fd >= 0)
            close(fh->evt_fd);
        if (fh->xs_fd >= 0)
            close(fh->xs_fd);
        free(fh);
        errno = saved;
    }
    world_unlock(w);
    return NULL;
}

/* Create /local/domain/<id> owned by the domain (privileged, no checks). */
static int domain_home_create(struct vg_fake_world *w, uint16_t domid)
{
    char p[64];
    snprintf(p, sizeof(p), "/local/domain/%u", domid);
    struct xs_node *n = node_create(&w->root, p, 0);
    if (!n)
        return -1;
    struct vg_xs_perm *perms = malloc(sizeof(*perms));
    if (!perms)
        return -1;
    perms[0] = (struct vg_xs_perm){ domid, VG_XS_PERM_NONE };
    free(n->perms);
    n->perms = perms;
    n->nperms = 1;
    xs_changed(w, NULL, p, false, n);
    return 0;
}

static int domain_add(struct vg_fake_world *w, uint16_t domid)
{
    struct fake_domain *d = calloc(1, sizeof(*d));
    if (!d)
        return -1;
    d->domid = domid;
    d->mem_fd = -1;
    d->ports = calloc(FAKE_MAX_PORTS, sizeof(*d->ports));
    if (!d->ports) {
        free(d);
        return -1;
    }
    d->next = w->domains;
    w->domains = d;
    if (domain_home_create(w, domid) < 0)
        return -1;     /* the domain exists; only its home is missing */
    fire_special(w, "@introduceDomain");
    return 0;
}

static void domain_free(struct fake_domain *d)
{
    if (d->mem_fd >= 0)
        close(d->mem_fd);
    free(d->free_pages);
    free(d->dirty_pages);
    free(d->grants);
    free(d->ports);
    free(d);
}

struct vg_fake_world *vg_fake_world_new(void)
{
    static const struct vg_xs_perm dom0_only = { 0, VG_XS_PERM_NONE };
    struct vg_fake_world *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    pthread_mutex_init(&w->lock, NULL);
    w->root = node_new("", 0, &dom0_only, 1);
    if (!w->root || !node_create(&w->root, "/local/domain", 0) ||
        domain_add(w, 0) < 0) {
        vg_fake_world_free(w);
        errno = ENOMEM;
        return NULL;
    }
    return w;
}

/* Any handle still open is released too; it must not be used afterwards. */
void vg_fake_world_free(struct vg_fake_world *w)
{
    if (!w)
        return;
    world_lock(w);
    while (w->handles)
        handle_release(w->handles);
    while (w->domains) {
        struct fake_domain *d = w->domains;
        w->domains = d->next;
        domain_free(d);
    }
    node_free(w->root);
    world_unlock(w);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

/* Dom0 exists from the start: creating it again is a no-op. */
int vg_fake_domain_create(struct vg_fake_world *w, uint16_t domid)
{
    int ret = 0;

    world_lock(w);
    if (domain_find_alive(w, domid)) {
        if (domid != 0) {
            errno = EEXIST;
            ret = -1;
        }
    } else if (domain_add(w, domid) < 0) {
        ret = -1;
    }
    world_unlock(w);
    return ret;
}

/* Like Xen tearing a domain down.  Pages others have mapped stay valid until
 * they unmap; the dead domain's own handles keep their memory until they
 * are closed (their threads may still be running), but every call on them
 * fails with ESRCH, and their fds turn readable so pollers notice. */
int vg_fake_domain_destroy(struct vg_fake_world *w, uint16_t domid)
{
    int ret = -1;
    char p[64];

    world_lock(w);
    if (domid == 0) {
        errno = EPERM;
        goto out;
    }
    struct fake_domain *d = domain_find_alive(w, domid);
    if (!d) {
        errno = ESRCH;
        goto out;
    }
    d->dead = true;
    for (uint32_t i = 0; i < d->grant_cap; i++)
        grant_revoke(d, i);
    for (vg_port_t port = 1; port < d->port_top; port++)
        if (d->ports[port].state != PORT_FREE)
            port_close(d, port);
    snprintf(p, sizeof(p), "/local/domain/%u", domid);
    struct xs_node *n = node_lookup(w->root, p);
    if (n) {
        xs_changed(w, NULL, p, true, n);
        node_remove(&w->root, p);
    }
    fire_special(w, "@releaseDomain");
    for (struct fake_hyp *fh = w->handles; fh; fh = fh->next) {
        if (fh->dom == d) {
            fd_set_readable(fh->evt_fd, &fh->evt_signalled, true);
            fd_set_readable(fh->xs_fd, &fh->xs_signalled, true);
        }
    }
    ret = 0;
out:
    world_unlock(w);
    return ret;
}

unsigned vg_fake_live_mappings(struct vg_fake_world *w, uint16_t granter)
{
    unsigned n = 0;

    world_lock(w);
    for (struct fake_domain *d = w->domains; d; d = d->next)
        if (d->domid == granter)
            n += d->live_maps;
    world_unlock(w);
    return n;
}

unsigned vg_fake_live_grants(struct vg_fake_world *w, uint16_t granter)
{
    unsigned n = 0;

    world_lock(w);
    for (struct fake_domain *d = w->domains; d; d = d->next)
        if (d->domid == granter)
            n += d->live_grants;
    world_unlock(w);
    return n;
}

int vg_fake_grant_info(struct vg_fake_world *w, uint16_t granter,
                       vg_gref_t ref, struct vg_fake_grant_info *out)
{
    int rc = -1;

    memset(out, 0, sizeof(*out));
    world_lock(w);
    for (struct fake_domain *d = w->domains; d; d = d->next) {
        if (d->domid != granter || d->dead || ref >= d->grant_cap)
            continue;
        const struct fake_grant *g = &d->grants[ref];
        out->active = g->state == GRANT_ACTIVE;
        out->revoked = g->state == GRANT_REVOKED;
        out->grantee = g->grantee;
        out->writable = g->writable;
        out->maps = g->map_count;
        out->maps_writable = g->map_rw_count;
        rc = g->state == GRANT_FREE ? -1 : 0;
        break;
    }
    world_unlock(w);
    if (rc)
        errno = ENOENT;
    return rc;
}

unsigned vg_fake_bound_ports(struct vg_fake_world *w, uint16_t domid)
{
    unsigned n = 0;

    world_lock(w);
    struct fake_domain *d = domain_find_alive(w, domid);
    for (vg_port_t port = 1; d && port < d->port_top; port++)
        n += d->ports[port].state != PORT_FREE;
    world_unlock(w);
    return n;
}
