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
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xen/grant_table.h>

#include "vgrant/hyp.h"
#include "vgrant/xsutil.h"
#include "vgrant/log.h"
#include "vgrant/protocol.h"

#define FAKE_FIRST_REF        8u          /* Xen reserves the first refs */
#define FAKE_MAX_GRANTS       (1u << 17)  /* grant entries per domain */
#define FAKE_MAX_PORTS        4096u       /* 2-level event channel ABI */
#define FAKE_MAX_BATCH_PAGES  65536u      /* pages per map/share call */
#define FAKE_MAX_COPY_SEGS    65536u
#define FAKE_WATCH_QUEUE_MAX  4096u       /* pending watch events per handle */
#define FAKE_MAX_WATCHES      128u        /* xenstored's default watch quota */
#define FAKE_MAX_TX           16u         /* open transactions per handle */
#define FAKE_XS_VALUE_MAX     4096u       /* XENSTORE_PAYLOAD_MAX */
#define FAKE_XS_PATH_MAX      3072u       /* XENSTORE_ABS_PATH_MAX */
#define FAKE_XS_TOKEN_MAX     1024u
#define FAKE_XS_MAX_PERMS     64u
#define FAKE_XS_QUOTA_NODES   1000u       /* xenstored's default entry quota */

/* ------------------------------------------------------------------ */
/* data structures                                                     */
/* ------------------------------------------------------------------ */

enum grant_state { GRANT_FREE = 0, GRANT_ACTIVE, GRANT_REVOKED };

struct fake_grant {
    enum grant_state state;      /* REVOKED: no new maps, still mapped */
    uint16_t grantee;
    bool writable;
    uint32_t page;               /* page index in the domain's memfd */
    uint32_t map_count;
    uint32_t map_rw_count;       /* of map_count: mapped writable */
};

enum port_state { PORT_FREE = 0, PORT_UNBOUND, PORT_CONNECTED };

struct fake_hyp;

struct fake_port {
    enum port_state state;
    struct fake_hyp *owner;      /* handle that bound it */
    uint16_t remote_domid;       /* UNBOUND: who may bind; CONNECTED: peer */
    struct fake_domain *peer_dom;
    vg_port_t peer_port;
    bool pending;
    bool masked;
};

struct fake_domain {
    struct fake_domain *next;
    uint16_t domid;
    bool dead;
    struct fake_grant *grants;
    uint32_t grant_cap;
    uint32_t grant_cursor;
    /* The domain's granted memory: one memfd (not one per share, which
     * would run a busy frontend out of fds), pages recycled through a
     * free stack, file grown in chunks. */
    int mem_fd;
    uint32_t mem_pages;          /* file size in pages */
    uint32_t mem_used;           /* pages ever handed out (high water) */
    uint32_t *free_pages;
    uint32_t nfree;
    struct fake_port *ports;     /* FAKE_MAX_PORTS entries, port 0 unused */
    vg_port_t port_top;          /* every port >= this was never used:
                                    scans stop here, not at 4096 */
};

/* A batch of foreign pages mapped by a handle. */
struct fake_mapping {
    struct fake_mapping *next;
    void *addr;
    uint32_t count;
    bool writable;
    struct fake_domain *granter;
    vg_gref_t refs[];
};

/* Pages a handle shared (its own view of them). */
struct fake_share {
    struct fake_share *next;
    void *addr;
    uint32_t count;
    vg_gref_t refs[];
};

struct xs_node {
    char *name;
    char *value;
    unsigned value_len;
    struct vg_xs_perm *perms;
    unsigned nperms;
    struct xs_node *parent;
    struct xs_node **kids;
    unsigned nkids;
    unsigned kids_cap;
};

/* One change to the tree, kept until its watches fire (at once, or at
 * transaction commit).  perms: the node's perms when it changed, used to
 * deliver events only to domains that may read the node, like xenstored. */
struct xs_change {
    struct xs_change *next;
    char *path;
    bool removal;
    struct vg_xs_perm *perms;
    unsigned nperms;
};

struct fake_tx {
    struct fake_tx *next;
    vg_xs_tx_t id;
    struct xs_node *root;        /* private deep copy */
    uint64_t base_gen;
    bool dirty;                  /* wrote something: commit must check */
    struct xs_change *changes;
    struct xs_change **changes_tail;
};

struct fake_watch {
    struct fake_watch *next;
    char *path;                  /* canonical absolute or "@special" */
    char *token;
    bool relative;               /* report paths relative to the home dir */
};

struct fake_event {
    char *path;
    char *token;
};

struct fake_hyp {
    struct vg_hyp pub;
    struct vg_fake_world *world;
    struct fake_domain *dom;
    struct fake_hyp *next;

    int evt_fd;
    bool evt_signalled;
    unsigned evt_ready;          /* ports pending and unmasked */
    vg_port_t evt_cursor;

    int xs_fd;
    bool xs_signalled;
    struct fake_event *queue;    /* ring of q_cap, grown up to
                                    FAKE_WATCH_QUEUE_MAX */
    unsigned q_cap;
    unsigned q_head;
    unsigned q_len;
    uint64_t q_dropped;
    struct fake_watch *watches;
    unsigned nwatches;
    struct fake_tx *txs;
    unsigned ntx;

    struct fake_mapping *maps;
    struct fake_share *shares;
};

struct vg_fake_world {
    pthread_mutex_t lock;
    struct fake_domain *domains; /* newest first; dead ones are kept */
    struct fake_hyp *handles;
    struct xs_node *root;
    uint64_t xs_gen;             /* bumped by every committed change */
    vg_xs_tx_t next_tx;
};

static const struct vg_hyp_ops fake_ops;

/* ------------------------------------------------------------------ */
/* helpers                                                             */
/* ------------------------------------------------------------------ */

static struct fake_hyp *fake_of(struct vg_hyp *h)
{
    return (struct fake_hyp *)h;
}

static void world_lock(struct vg_fake_world *w)
{
    pthread_mutex_lock(&w->lock);
}

/* Unlock without clobbering the errno the operation set. */
static void world_unlock(struct vg_fake_world *w)
{
    int saved = errno;
    pthread_mutex_unlock(&w->lock);
    errno = saved;
}

/* Make an eventfd readable or not; the signalled flag mirrors its state. */
static void fd_set_readable(int fd, bool *signalled, bool want)
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
static struct fake_domain *domain_find_any(struct vg_fake_world *w, uint16_t domid)
{
    for (struct fake_domain *d = w->domains; d; d = d->next)
        if (d->domid == domid)
            return d;
    return NULL;
}

static struct fake_domain *domain_find_alive(struct vg_fake_world *w, uint16_t domid)
{
    struct fake_domain *d = domain_find_any(w, domid);
    return d && !d->dead ? d : NULL;
}

/* Every handle call starts here: a handle of a destroyed domain fails. */
static bool handle_alive(struct fake_hyp *fh)
{
    if (fh->dom->dead) {
        errno = ESRCH;
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* grant table                                                         */
/* ------------------------------------------------------------------ */

#define FAKE_MEM_GROW_PAGES 1024u

/* A zeroed page of d's memfd. */
static int page_alloc(struct fake_domain *d, uint32_t *page)
{
    if (d->nfree) {
        *page = d->free_pages[--d->nfree];
        return 0;
    }
    if (d->mem_fd < 0) {
        d->mem_fd = memfd_create("vgrant-fake-grants", MFD_CLOEXEC);
        if (d->mem_fd < 0)
            return -1;
    }
    if (!d->free_pages) {
        d->free_pages = malloc(FAKE_MAX_GRANTS * sizeof(*d->free_pages));
        if (!d->free_pages)
            return -1;
    }
    if (d->mem_used == FAKE_MAX_GRANTS) {
        errno = ENOSPC;
        return -1;
    }
    if (d->mem_used == d->mem_pages) {
        uint32_t pages = d->mem_pages + FAKE_MEM_GROW_PAGES;
        if (pages > FAKE_MAX_GRANTS)
            pages = FAKE_MAX_GRANTS;
        if (ftruncate(d->mem_fd, (off_t)pages * VG_PAGE_SIZE) < 0)
            return -1;
        d->mem_pages = pages;
    }
    *page = d->mem_used++;
    return 0;
}

/* Give the page back zeroed (and its memory to the kernel). */
static void page_free(struct fake_domain *d, uint32_t page)
{
    if (fallocate(d->mem_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  (off_t)page * VG_PAGE_SIZE, VG_PAGE_SIZE) < 0) {
        vg_warn("fake: dom %u cannot recycle page %u: %s", d->domid, page,
                strerror(errno));
        return;      /* leak the page rather than hand out stale data */
    }
    d->free_pages[d->nfree++] = page;
}

static void grant_release(struct fake_domain *d, vg_gref_t ref)
{
    page_free(d, d->grants[ref].page);
    memset(&d->grants[ref], 0, sizeof(d->grants[ref]));
}

/* Revoke: no new maps; the entry lives on while someone has it mapped. */
static void grant_revoke(struct fake_domain *d, vg_gref_t ref)
{
    struct fake_grant *g = &d->grants[ref];

    if (g->state != GRANT_ACTIVE)
        return;
    if (g->map_count > 0)
        g->state = GRANT_REVOKED;
    else
        grant_release(d, ref);
}

static void grant_unmapped(struct fake_domain *d, vg_gref_t ref,
                           bool writable)
{
    struct fake_grant *g = &d->grants[ref];

    if (writable && g->map_rw_count > 0)
        g->map_rw_count--;
    if (g->map_count > 0)
        g->map_count--;
    if (g->state == GRANT_REVOKED && g->map_count == 0)
        grant_release(d, ref);
}

/* Sequential allocation: refs are not reused until the table wraps, which
 * makes a stale ref fail instead of reaching someone else's page. */
static int grant_alloc(struct fake_domain *d, vg_gref_t *ref)
{
    for (uint32_t i = d->grant_cursor; i < d->grant_cap; i++) {
        if (d->grants[i].state == GRANT_FREE) {
            d->grant_cursor = i + 1;
            *ref = i;
            return 0;
        }
    }
    if (d->grant_cap < FAKE_MAX_GRANTS) {
        uint32_t cap = d->grant_cap ? d->grant_cap * 2 : 256;
        if (cap > FAKE_MAX_GRANTS)
            cap = FAKE_MAX_GRANTS;
        struct fake_grant *g = realloc(d->grants, cap * sizeof(*g));
        if (!g)
            return -1;
        memset(g + d->grant_cap, 0, (cap - d->grant_cap) * sizeof(*g));
        *ref = d->grant_cap > FAKE_FIRST_REF ? d->grant_cap : FAKE_FIRST_REF;
        d->grants = g;
        d->grant_cap = cap;
        d->grant_cursor = *ref + 1;
        return 0;
    }
    for (uint32_t i = FAKE_FIRST_REF; i < d->grant_cap; i++) {
        if (d->grants[i].state == GRANT_FREE) {
            d->grant_cursor = i + 1;
            *ref = i;
            return 0;
        }
    }
    errno = ENOSPC;
    return -1;
}

/* The entry `ref` of d if it is live and granted to `grantee`; else NULL
 * with errno (ENOENT: no such live grant, EPERM: someone else's or
 * read-only when writable was asked). */
static struct fake_grant *grant_lookup(struct fake_domain *d, vg_gref_t ref,
                                       uint16_t grantee, bool writable)
{
    if (ref < FAKE_FIRST_REF || ref >= d->grant_cap ||
        d->grants[ref].state != GRANT_ACTIVE) {
        errno = ENOENT;
        return NULL;
    }
    struct fake_grant *g = &d->grants[ref];
    if (g->grantee != grantee || (writable && !g->writable)) {
        errno = EPERM;
        return NULL;
    }
    return g;
}

static void *fake_map_grants(struct vg_hyp *h, uint16_t domid, uint32_t count,
                             const vg_gref_t *refs, bool writable)
{
    struct fake_hyp *fh = fake_of(h);
    struct vg_fake_world *w = fh->world;
    struct fake_mapping *m = NULL;
    void *addr = MAP_FAILED;
    size_t len = (size_t)count * VG_PAGE_SIZE;
    int prot = writable ? PROT_READ | PROT_WRITE : PROT_READ;

    world_lock(w);
    if (!handle_alive(fh))
        goto fail;
    if (count == 0 || count > FAKE_MAX_BATCH_PAGES || !refs) {
        errno = EINVAL;
        goto fail;
    }
    struct fake_domain *granter = domain_find_any(w, domid);
    if (!granter) {
        errno = ESRCH;
        goto fail;
    }
    /* Check the whole batch before touching anything: all or nothing. */
    for (uint32_t i = 0; i < count; i++) {
        if (!grant_lookup(granter, refs[i], h->domid, writable)) {
            vg_debug("fake: dom %u cannot map ref %u of dom %u%s: %s",
                     h->domid, refs[i], domid, writable ? " writable" : "",
                     strerror(errno));
            goto fail;
        }
    }
    m = malloc(sizeof(*m) + count * sizeof(m->refs[0]));
    if (!m)
        goto fail;
    addr = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                -1, 0);
    if (addr == MAP_FAILED)
        goto fail;
    for (uint32_t i = 0; i < count; i++) {
        struct fake_grant *g = &granter->grants[refs[i]];
        void *page = (char *)addr + (size_t)i * VG_PAGE_SIZE;
        if (mmap(page, VG_PAGE_SIZE, prot, MAP_SHARED | MAP_FIXED, granter->mem_fd,
                 (off_t)g->page * VG_PAGE_SIZE) == MAP_FAILED)
            goto fail;
    }
    for (uint32_t i = 0; i < count; i++) {
        granter->grants[refs[i]].map_count++;
        granter->grants[refs[i]].map_rw_count += writable;
    }
    memcpy(m->refs, refs, count * sizeof(m->refs[0]));
    m->writable = writable;
    m->addr = addr;
    m->count = count;
    m->granter = granter;
    m->next = fh->maps;
    fh->maps = m;
    h->counters.map_batches++;
    h->counters.maps += count;
    world_unlock(w);
    return addr;

fail:
    if (addr != MAP_FAILED) {
        int saved = errno;
        munmap(addr, len);
        errno = saved;
    }
    free(m);
    world_unlock(w);
    return NULL;
}

static void mapping_release(struct fake_mapping *m)
{
    munmap(m->addr, (size_t)m->count * VG_PAGE_SIZE);
    for (uint32_t i = 0; i < m->count; i++)
        grant_unmapped(m->granter, m->refs[i], m->writable);
    free(m);
}

static int fake_unmap_grants(struct vg_hyp *h, void *addr, uint32_t count)
{
    struct fake_hyp *fh = fake_of(h);
    struct vg_fake_world *w = fh->world;
    int ret = -1;

    world_lock(w);
    if (!handle_alive(fh))
        goto out;
    for (struct fake_mapping **pm = &fh->maps; *pm; pm = &(*pm)->next) {
        struct fake_mapping *m = *pm;
        if (m->addr == addr && m->count == count) {
            *pm = m->next;
            mapping_release(m);
            h->counters.unmap_batches++;
            h->counters.unmaps += count;
            ret = 0;
            goto out;
        }
    }
    errno = EINVAL;
out:
    world_unlock(w);
    return ret;
}

static int16_t copy_one(struct vg_fake_world *w, uint16_t self, struct vg_copy_seg *s)
{
    struct fake_domain *d = domain_find_any(w, s->domid);
    if (!d)
        return GNTST_bad_domain;
    if ((uint32_t)s->offset + s->len > VG_PAGE_SIZE)
        return GNTST_bad_copy_arg;
    if (s->len && !s->local)
        return GNTST_general_error;
    struct fake_grant *g = grant_lookup(d, s->ref, self, s->to_foreign);
    if (!g)
        return errno == EPERM ? GNTST_permission_denied : GNTST_bad_gntref;
    off_t off = (off_t)g->page * VG_PAGE_SIZE + s->offset;
    ssize_t n = s->to_foreign ? pwrite(d->mem_fd, s->local, s->len, off)
                              : pread(d->mem_fd, s->local, s->len, off);
    return n == (ssize_t)s->len ? GNTST_okay : GNTST_general_error;
}

static int fake_grant_copy(struct vg_hyp *h, uint32_t count, struct vg_copy_seg *segs)
{
    struct fake_hyp *fh = fake_of(h);
    struct vg_fake_world *w = fh->world;
    int ret = -1;

    world_lock(w);
    if (!handle_alive(fh))
        goto out;
    if (count > FAKE_MAX_COPY_SEGS || (count && !segs)) {
        errno = EINVAL;
        goto out;
    }
    for (uint32_t i = 0; i < count; i++)
        segs[i].status = copy_one(w, h->domid, &segs[i]);
    h->counters.copy_batches++;
    h->counters.copies += count;
    ret = 0;
out:
    world_unlock(w);
    return ret;
}

static void *fake_share_pages(struct vg_hyp *h, uint16_t domid, uint32_t count,
                              vg_gref_t *refs_out, bool writable)
{
    struct fake_hyp *fh = fake_of(h);
    struct vg_fake_world *w = fh->world;
    struct fake_domain *d = fh->dom;
    struct fake_share *s = NULL;
    void *addr = MAP_FAILED;
    size_t len = (size_t)count * VG_PAGE_SIZE;
    uint32_t done = 0;

    world_lock(w);
    if (!handle_alive(fh))
        goto fail;
    if (count == 0 || count > FAKE_MAX_BATCH_PAGES || !refs_out) {
        errno = EINVAL;
        goto fail;
    }
    s = malloc(sizeof(*s) + count * sizeof(s->refs[0]));
    if (!s)
        goto fail;
    addr = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                -1, 0);
    if (addr == MAP_FAILED)
        goto fail;
    for (done = 0; done < count; done++) {
        vg_gref_t ref;
        uint32_t page;
        if (grant_alloc(d, &ref) < 0)
            goto fail;
        if (page_alloc(d, &page) < 0)
            goto fail;
        d->grants[ref] = (struct fake_grant){
            .state = GRANT_ACTIVE, .grantee = domid, .writable = writable, .page = page,
        };
        s->refs[done] = ref;
        if (mmap((char *)addr + (size_t)done * VG_PAGE_SIZE, VG_PAGE_SIZE,
                 PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, d->mem_fd,
                 (off_t)page * VG_PAGE_SIZE) == MAP_FAILED) {
            done++;          /* the entry exists: roll it back too */
            goto fail;
        }
    }
    memcpy(refs_out, s->refs, count * sizeof(s->refs[0]));
    s->addr = addr;
    s->count = count;
    s->next = fh->shares;
    fh->shares = s;
    h->counters.shares += count;
    world_unlock(w);
    return addr;

fail: {
        int saved = errno;
        if (addr != MAP_FAILED)
            munmap(addr, len);
        for (uint32_t i = 0; i < done; i++)
            grant_release(d, s->refs[i]);
        free(s);
        errno = saved;
    }
    world_unlock(w);
    return NULL;
}

static void share_release(struct fake_domain *d, struct fake_share *s)
{
    munmap(s->addr, (size_t)s->count * VG_PAGE_SIZE);
    for (uint32_t i = 0; i < s->count; i++)
        grant_revoke(d, s->refs[i]);
    free(s);
}

static int fake_unshare_pages(struct vg_hyp *h, void *addr, uint32_t count)
{
    struct fake_hyp *fh = fake_of(h);
    struct vg_fake_world *w = fh->world;
    int ret = -1;

    world_lock(w);
    if (!handle_alive(fh))
        goto out;
    for (struct fake_share **ps = &fh->shares; *ps; ps = &(*ps)->next) {
        struct fake_share *s = *ps;
        if (s->addr == addr && s->count == count) {
            *ps = s->next;
            share_release(fh->dom, s);
            h->counters.unshares += count;
            ret = 0;
            goto out;
        }
    }
    errno = EINVAL;
out:
    world_unlock(w);
    return ret;
}

/* ------------------------------------------------------------------ */
/* event channels                                                      */
/* ------------------------------------------------------------------ */

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
static void port_close(struct fake_domain *d, vg_port_t port)
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

static int fake_evtchn_fd(struct vg_hyp *h)
{
    return fake_of(h)->evt_fd;
}

static int fake_evtchn_bind_unbound(struct vg_hyp *h, uint16_t remote_domid)
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

static int fake_evtchn_bind_interdomain(struct vg_hyp *h, uint16_t remote_domid,
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

static int fake_evtchn_unbind(struct vg_hyp *h, vg_port_t port)
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
static int fake_evtchn_notify(struct vg_hyp *h, vg_port_t port)
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

static int fake_evtchn_pending(struct vg_hyp *h)
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

static int fake_evtchn_unmask(struct vg_hyp *h, vg_port_t port)
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

/* ------------------------------------------------------------------ */
/* xenstore: tree                                                      */
/* ------------------------------------------------------------------ */

static bool xs_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '/' || c == '_' || c == '@';
}

/* Canonical absolute path of `in` (relative paths live under the domain's
 * home /local/domain/<id>), validated like xenstored does.  "@name" special
 * paths only where allow_special. */
static int xs_canon(uint16_t domid, const char *in, char *out, size_t outsz,
                    bool allow_special, bool *relative)
{
    int n;

    if (!in || !*in)
        goto bad;
    if (in[0] == '@' && !allow_special)
        goto bad;
    if (in[0] == '/' || in[0] == '@')
        n = snprintf(out, outsz, "%s", in);
    else
        n = snprintf(out, outsz, "/local/domain/%u/%s", domid, in);
    if (n < 0 || (size_t)n >= outsz || (size_t)n > FAKE_XS_PATH_MAX)
        goto bad;
    if (relative)
        *relative = in[0] != '/' && in[0] != '@';
    for (const char *p = out; *p; p++) {
        if (!xs_char_ok(*p) || (*p == '@' && p != out))
            goto bad;
        if (*p == '/' && (p[1] == '/' || (p[1] == '\0' && p != out)))
            goto bad;
    }
    if (out[0] == '@' && strchr(out, '/'))
        goto bad;
    return 0;
bad:
    errno = EINVAL;
    return -1;
}


static unsigned perm_for(uint16_t domid, const struct vg_xs_perm *perms, unsigned n)
{
    if (domid == 0)
        return VG_XS_PERM_BOTH;           /* dom0 is privileged */
    if (n == 0)
        return VG_XS_PERM_NONE;
    if (perms[0].domid == domid)
        return VG_XS_PERM_BOTH;           /* the owner */
    for (unsigned i = 1; i < n; i++)
        if (perms[i].domid == domid)
            return perms[i].perm & VG_XS_PERM_BOTH;
    return perms[0].perm & VG_XS_PERM_BOTH;
}

static unsigned node_perm(uint16_t domid, const struct xs_node *n)
{
    return perm_for(domid, n->perms, n->nperms);
}

static void node_free(struct xs_node *n)
{
    if (!n)
        return;
    for (unsigned i = 0; i < n->nkids; i++)
        node_free(n->kids[i]);
    free(n->kids);
    free(n->name);
    free(n->value);
    free(n->perms);
    free(n);
}

static struct xs_node *node_new(const char *name, size_t name_len,
                                const struct vg_xs_perm *perms, unsigned nperms)
{
    struct xs_node *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->name = strndup(name, name_len);
    n->value = strdup("");
    n->perms = malloc(nperms * sizeof(*perms));
    if (!n->name || !n->value || !n->perms) {
        node_free(n);
        errno = ENOMEM;
        return NULL;
    }
    memcpy(n->perms, perms, nperms * sizeof(*perms));
    n->nperms = nperms;
    return n;
}

static int node_add_child(struct xs_node *parent, struct xs_node *kid)
{
    if (parent->nkids == parent->kids_cap) {
        unsigned cap = parent->kids_cap ? parent->kids_cap * 2 : 4;
        struct xs_node **k = realloc(parent->kids, cap * sizeof(*k));
        if (!k)
            return -1;
        parent->kids = k;
        parent->kids_cap = cap;
    }
    parent->kids[parent->nkids++] = kid;
    kid->parent = parent;
    return 0;
}

static void node_detach(struct xs_node *n)
{
    struct xs_node *p = n->parent;
    for (unsigned i = 0; p && i < p->nkids; i++) {
        if (p->kids[i] == n) {
            memmove(&p->kids[i], &p->kids[i + 1],
                    (p->nkids - i - 1) * sizeof(p->kids[0]));
            p->nkids--;
            break;
        }
    }
    n->parent = NULL;
}

static struct xs_node *node_child(const struct xs_node *n, const char *name, size_t len)
{
    for (unsigned i = 0; i < n->nkids; i++)
        if (strlen(n->kids[i]->name) == len && !memcmp(n->kids[i]->name, name, len))
            return n->kids[i];
    return NULL;
}

/* Walk a canonical path; returns the deepest existing node and sets
 * *rest to the first missing component ("" when the node exists). */
static struct xs_node *node_walk(struct xs_node *root, const char *path, const char **rest)
{
    struct xs_node *n = root;
    const char *p = path + 1;

    while (*p) {
        const char *end = strchrnul(p, '/');
        struct xs_node *kid = node_child(n, p, (size_t)(end - p));
        if (!kid)
            break;
        n = kid;
        p = *end ? end + 1 : end;
    }
    *rest = p;
    return n;
}

static struct xs_node *node_lookup(struct xs_node *root, const char *path)
{
    const char *rest;
    struct xs_node *n = node_walk(root, path, &rest);
    return *rest ? NULL : n;
}

/* The node at path if domid may access it with `want`; else NULL with
 * errno ENOENT, or EACCES when the domain may not even know (an unreadable
 * ancestor hides whether the node exists, as in xenstored). */
static struct xs_node *node_access(struct xs_node *root, const char *path,
                                   uint16_t domid, unsigned want)
{
    const char *rest;
    struct xs_node *n = node_walk(root, path, &rest);

    if (*rest) {
        errno = (node_perm(domid, n) & VG_XS_PERM_READ) ? ENOENT : EACCES;
        return NULL;
    }
    if ((node_perm(domid, n) & want) != want) {
        errno = EACCES;
        return NULL;
    }
    return n;
}

static unsigned nodes_owned(const struct xs_node *n, uint16_t domid)
{
    unsigned count = n->nperms && n->perms[0].domid == domid;
    for (unsigned i = 0; i < n->nkids; i++)
        count += nodes_owned(n->kids[i], domid);
    return count;
}

/* Create path and its missing parents; needs write access to the deepest
 * existing ancestor.  New nodes inherit their parent's perms, and an
 * unprivileged creator becomes the owner, within its node quota (EDQUOT,
 * as xenstored's EQUOTA), so a guest cannot grow the store without limit. */
static struct xs_node *node_create(struct xs_node *root, const char *path, uint16_t domid)
{
    const char *rest;
    struct xs_node *n = node_walk(root, path, &rest);

    if (!*rest)
        return n;
    if (!(node_perm(domid, n) & VG_XS_PERM_WRITE)) {
        errno = EACCES;
        return NULL;
    }
    if (domid != 0) {
        unsigned missing = 1;
        for (const char *c = rest; *c; c++)
            missing += *c == '/';
        if (nodes_owned(root, domid) + missing > FAKE_XS_QUOTA_NODES) {
            vg_debug("fake: dom %u over its xenstore quota creating %s", domid, path);
            errno = EDQUOT;
            return NULL;
        }
    }
    while (*rest) {
        const char *end = strchrnul(rest, '/');
        struct xs_node *kid = node_new(rest, (size_t)(end - rest), n->perms, n->nperms);
        if (!kid)
            return NULL;
        if (domid != 0)
            kid->perms[0].domid = domid;
        if (node_add_child(n, kid) < 0) {
            node_free(kid);
            errno = ENOMEM;
            return NULL;
        }
        n = kid;
        rest = *end ? end + 1 : end;
    }
    return n;
}

static struct xs_node *node_clone(const struct xs_node *src)
{
    struct xs_node *n = node_new(src->name, strlen(src->name), src->perms, src->nperms);
    if (!n)
        return NULL;
    free(n->value);
    n->value = malloc(src->value_len + 1);
    if (!n->value)
        goto fail;
    memcpy(n->value, src->value, src->value_len + 1);
    n->value_len = src->value_len;
    for (unsigned i = 0; i < src->nkids; i++) {
        struct xs_node *kid = node_clone(src->kids[i]);
        if (!kid)
            goto fail;
        if (node_add_child(n, kid) < 0) {
            node_free(kid);
            goto fail;
        }
    }
    return n;
fail:
    node_free(n);
    errno = ENOMEM;
    return NULL;
}

/* ------------------------------------------------------------------ */
/* xenstore: watches                                                   */
/* ------------------------------------------------------------------ */

/* p is anc or below it. */
static bool path_under(const char *p, const char *anc)
{
    size_t la = strlen(anc);

    if (!strcmp(anc, "/"))
        return p[0] == '/';
    return !strncmp(p, anc, la) && (p[la] == '\0' || p[la] == '/');
}

static void event_free(struct fake_event *e)
{
    free(e->path);
    free(e->token);
    e->path = e->token = NULL;
}

/* Double a handle's event ring (from 8 entries; most handles never hold
 * more than a few events, and a full-size ring per handle cost the fuzz
 * harnesses more than their input). */
static int queue_grow(struct fake_hyp *fh)
{
    unsigned cap = fh->q_cap ? fh->q_cap * 2 : 8;
    struct fake_event *q;

    if (cap > FAKE_WATCH_QUEUE_MAX)
        cap = FAKE_WATCH_QUEUE_MAX;
    q = calloc(cap, sizeof(*q));
    if (!q)
        return -1;
    for (unsigned i = 0; i < fh->q_len; i++)
        q[i] = fh->queue[(fh->q_head + i) % fh->q_cap];
    free(fh->queue);
    fh->queue = q;
    fh->q_cap = cap;
    fh->q_head = 0;
    return 0;
}

/* Queue an event; a full queue drops its oldest event, so a domain that
 * writes in a loop cannot grow a watcher's memory without limit. */
static void queue_event(struct fake_hyp *fh, const char *path, const struct fake_watch *wt)
{
    char home[32];
    size_t hl = (size_t)snprintf(home, sizeof(home), "/local/domain/%u/", fh->pub.domid);
    struct fake_event e;

    if (wt->relative && !strncmp(path, home, hl))
        path += hl;
    if (fh->q_len == fh->q_cap && fh->q_cap < FAKE_WATCH_QUEUE_MAX &&
        queue_grow(fh))
        return;
    e.path = strdup(path);
    e.token = strdup(wt->token);
    if (!e.path || !e.token) {
        event_free(&e);
        return;
    }
    if (fh->q_len == FAKE_WATCH_QUEUE_MAX) {
        event_free(&fh->queue[fh->q_head]);
        fh->q_head = (fh->q_head + 1) % fh->q_cap;
        fh->q_len--;
        if (fh->q_dropped++ == 0)
            vg_warn("fake: dom %u watch queue full (%u events), dropping the oldest",
                    fh->pub.domid, FAKE_WATCH_QUEUE_MAX);
    }
    fh->queue[(fh->q_head + fh->q_len) % fh->q_cap] = e;
    fh->q_len++;
    fd_set_readable(fh->xs_fd, &fh->xs_signalled, true);
}

static void fire_change(struct vg_fake_world *w, const struct xs_change *c)
{
    bool special = c->path[0] == '@';

    for (struct fake_hyp *fh = w->handles; fh; fh = fh->next) {
        if (fh->dom->dead)
            continue;
        /* Like xenstored, no event about a node the watcher cannot read. */
        if (!special && !(perm_for(fh->pub.domid, c->perms, c->nperms) & VG_XS_PERM_READ))
            continue;
        for (struct fake_watch *wt = fh->watches; wt; wt = wt->next) {
            const char *ev = NULL;
            if (special || wt->path[0] == '@')
                ev = !strcmp(wt->path, c->path) ? c->path : NULL;
            else if (path_under(c->path, wt->path))
                ev = c->path;
            else if (c->removal && path_under(wt->path, c->path))
                ev = wt->path;      /* an ancestor of the watched node went */
            if (ev)
                queue_event(fh, ev, wt);
        }
    }
}

static void change_free(struct xs_change *c)
{
    if (c) {
        free(c->path);
        free(c->perms);
        free(c);
    }
}

static struct xs_change *change_new(const char *path, bool removal, const struct xs_node *n)
{
    struct xs_change *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->path = strdup(path);
    c->removal = removal;
    if (n && n->nperms) {
        c->perms = malloc(n->nperms * sizeof(*c->perms));
        if (c->perms) {
            memcpy(c->perms, n->perms, n->nperms * sizeof(*c->perms));
            c->nperms = n->nperms;
        }
    }
    if (!c->path || (n && n->nperms && !c->perms)) {
        change_free(c);
        return NULL;
    }
    return c;
}

static void tx_free(struct fake_tx *t)
{
    while (t->changes) {
        struct xs_change *c = t->changes;
        t->changes = c->next;
        change_free(c);
    }
    node_free(t->root);
    free(t);
}

/* Record a change: inside a transaction it waits for the commit; outside
 * it is committed now and its watches fire. */
static void xs_changed(struct vg_fake_world *w, struct fake_tx *t, const char *path,
                       bool removal, const struct xs_node *n)
{
    struct xs_change *c = change_new(path, removal, n);

    if (t) {
        t->dirty = true;     /* the tree copy already holds the change */
        if (c) {
            *t->changes_tail = c;
            t->changes_tail = &c->next;
        } else {
            vg_warn("fake: out of memory, watch event for %s lost", path);
        }
        return;
    }
    w->xs_gen++;
    if (c)
        fire_change(w, c);
    else
        vg_warn("fake: out of memory, watch event for %s lost", path);
    change_free(c);
}

static void fire_special(struct vg_fake_world *w, const char *name)
{
    struct xs_change *c = change_new(name, false, NULL);
    if (c)
        fire_change(w, c);
    change_free(c);
}

/* ------------------------------------------------------------------ */
/* xenstore: operations                                                */
/* ------------------------------------------------------------------ */

/* Common prologue of a xenstore call: handle alive, path canonical, the
 * tree the transaction (or none) sees. */
static struct xs_node *xs_begin(struct fake_hyp *fh, vg_xs_tx_t tx, const char *path,
                                char *canon, size_t canon_size, struct fake_tx **txp)
{
    *txp = NULL;
    if (!handle_alive(fh))
        return NULL;
    if (xs_canon(fh->pub.domid, path, canon, canon_size, false, NULL) < 0)
        return NULL;
    if (tx == VG_XS_NO_TX)
        return fh->world->root;
    for (struct fake_tx *t = fh->txs; t; t = t->next) {
        if (t->id == tx) {
            *txp = t;
            return t->root;
        }
    }
    errno = ENOENT;
    return NULL;
}

static char *fake_xs_read(struct vg_hyp *h, vg_xs_tx_t tx, const char *path, unsigned *len)
{
    struct fake_hyp *fh = fake_of(h);
    char p[FAKE_XS_PATH_MAX + 1];
    struct fake_tx *t;
    char *ret = NULL;

    world_lock(fh->world);
    struct xs_node *root = xs_begin(fh, tx, path, p, sizeof(p), &t);
    struct xs_node *n = root ? node_access(root, p, h->domid, VG_XS_PERM_READ) : NULL;
    if (n) {
        ret = malloc(n->value_len + 1);
        if (ret) {
            memcpy(ret, n->value, n->value_len + 1);
            if (len)
                *len = n->value_len;
        }
    }
    world_unlock(fh->world);
    return ret;
}

static int fake_xs_write(struct vg_hyp *h, vg_xs_tx_t tx, const char *path, const char *value)
{
    struct fake_hyp *fh = fake_of(h);
    char p[FAKE_XS_PATH_MAX + 1];
    struct fake_tx *t;
    int ret = -1;

    world_lock(fh->world);
    struct xs_node *root = xs_begin(fh, tx, path, p, sizeof(p), &t);
    if (!root)
        goto out;
    if (!value) {
        errno = EINVAL;
        goto out;
    }
    size_t vlen = strlen(value);
    if (vlen > FAKE_XS_VALUE_MAX) {
        errno = E2BIG;
        goto out;
    }
    char *copy = strdup(value);
    if (!copy)
        goto out;
    struct xs_node *n = node_lookup(root, p);
    if (n && !(node_perm(h->domid, n) & VG_XS_PERM_WRITE)) {
        errno = EACCES;
        n = NULL;
    } else if (!n) {
        n = node_create(root, p, h->domid);
    }
    if (!n) {
        free(copy);
        goto out;
    }
    free(n->value);
    n->value = copy;
    n->value_len = (unsigned)vlen;
    xs_changed(fh->world, t, p, false, n);
    ret = 0;
out:
    world_unlock(fh->world);
    return ret;
}

static int fake_xs_mkdir(struct vg_hyp *h, vg_xs_tx_t tx, const char *path)
{
    struct fake_hyp *fh = fake_of(h);
    char p[FAKE_XS_PATH_MAX + 1];
    struct fake_tx *t;
    int ret = -1;

    world_lock(fh->world);
    struct xs_node *root = xs_begin(fh, tx, path, p, sizeof(p), &t);
    if (!root)
        goto out;
    struct xs_node *n = node_lookup(root, p);
    if (n) {
        if (!(node_perm(h->domid, n) & VG_XS_PERM_WRITE)) {
            errno = EACCES;
            goto out;
        }
        ret = 0;
        goto out;
    }
    n = node_create(root, p, h->domid);
    if (!n)
        goto out;
    xs_changed(fh->world, t, p, false, n);
    ret = 0;
out:
    world_unlock(fh->world);
    return ret;
}

static int fake_xs_rm(struct vg_hyp *h, vg_xs_tx_t tx, const char *path)
{
    struct fake_hyp *fh = fake_of(h);
    char p[FAKE_XS_PATH_MAX + 1];
    struct fake_tx *t;
    int ret = -1;

    world_lock(fh->world);
    struct xs_node *root = xs_begin(fh, tx, path, p, sizeof(p), &t);
    if (!root)
        goto out;
    if (!strcmp(p, "/")) {
        errno = EINVAL;
        goto out;
    }
    struct xs_node *n = node_access(root, p, h->domid, VG_XS_PERM_WRITE);
    if (!n) {
        /* Removing a missing node whose parent exists succeeds, as in
         * xenstored. */
        if (errno == ENOENT) {
            const char *rest;
            node_walk(root, p, &rest);
            if (!strchr(rest, '/'))
                ret = 0;
        }
        goto out;
    }
    xs_changed(fh->world, t, p, true, n);    /* copies n's perms first */
    node_detach(n);
    node_free(n);
    ret = 0;
out:
    world_unlock(fh->world);
    return ret;
}

static char **fake_xs_directory(struct vg_hyp *h, vg_xs_tx_t tx, const char *path,
                                unsigned *num)
{
    struct fake_hyp *fh = fake_of(h);
    char p[FAKE_XS_PATH_MAX + 1];
    struct fake_tx *t;
    char **ret = NULL;

    world_lock(fh->world);
    struct xs_node *root = xs_begin(fh, tx, path, p, sizeof(p), &t);
    struct xs_node *n = root ? node_access(root, p, h->domid, VG_XS_PERM_READ) : NULL;
    if (!n)
        goto out;
    /* One block: the pointer array, then the names. */
    size_t size = (n->nkids + 1) * sizeof(char *);
    for (unsigned i = 0; i < n->nkids; i++)
        size += strlen(n->kids[i]->name) + 1;
    ret = malloc(size);
    if (!ret)
        goto out;
    char *str = (char *)(ret + n->nkids + 1);
    for (unsigned i = 0; i < n->nkids; i++) {
        size_t l = strlen(n->kids[i]->name) + 1;
        memcpy(str, n->kids[i]->name, l);
        ret[i] = str;
        str += l;
    }
    ret[n->nkids] = NULL;
    if (num)
        *num = n->nkids;
out:
    world_unlock(fh->world);
    return ret;
}

static int fake_xs_set_perms(struct vg_hyp *h, vg_xs_tx_t tx, const char *path,
                             const struct vg_xs_perm *perms, unsigned num)
{
    struct fake_hyp *fh = fake_of(h);
    char p[FAKE_XS_PATH_MAX + 1];
    struct fake_tx *t;
    int ret = -1;

    world_lock(fh->world);
    struct xs_node *root = xs_begin(fh, tx, path, p, sizeof(p), &t);
    if (!root)
        goto out;
    if (!perms || num == 0 || num > FAKE_XS_MAX_PERMS) {
        errno = EINVAL;
        goto out;
    }
    struct xs_node *n = node_access(root, p, h->domid, VG_XS_PERM_WRITE);
    if (!n)
        goto out;
    /* Only the owner (or dom0) sets perms, and only dom0 gives a node
     * away, as in xenstored. */
    if (h->domid != 0 && n->perms[0].domid != h->domid) {
        errno = EACCES;
        goto out;
    }
    if (h->domid != 0 && perms[0].domid != n->perms[0].domid) {
        errno = EPERM;
        goto out;
    }
    struct vg_xs_perm *copy = malloc(num * sizeof(*copy));
    if (!copy)
        goto out;
    for (unsigned i = 0; i < num; i++)
        copy[i] = (struct vg_xs_perm){ perms[i].domid, perms[i].perm & VG_XS_PERM_BOTH };
    free(n->perms);
    n->perms = copy;
    n->nperms = num;
    xs_changed(fh->world, t, p, false, n);
    ret = 0;
out:
    world_unlock(fh->world);
    return ret;
}

static struct vg_xs_perm *fake_xs_get_perms(struct vg_hyp *h, vg_xs_tx_t tx,
                                            const char *path, unsigned *num)
{
    struct fake_hyp *fh = fake_of(h);
    char p[FAKE_XS_PATH_MAX + 1];
    struct fake_tx *t;
    struct vg_xs_perm *ret = NULL;

    world_lock(fh->world);
    struct xs_node *root = xs_begin(fh, tx, path, p, sizeof(p), &t);
    struct xs_node *n = root ? node_access(root, p, h->domid, VG_XS_PERM_READ) : NULL;
    if (n) {
        ret = malloc(n->nperms * sizeof(*ret));
        if (ret) {
            memcpy(ret, n->perms, n->nperms * sizeof(*ret));
            if (num)
                *num = n->nperms;
        }
    }
    world_unlock(fh->world);
    return ret;
}

static vg_xs_tx_t fake_xs_tx_start(struct vg_hyp *h)
{
    struct fake_hyp *fh = fake_of(h);
    struct vg_fake_world *w = fh->world;
    struct fake_tx *t = NULL;
    vg_xs_tx_t id = VG_XS_NO_TX;

    world_lock(w);
    if (!handle_alive(fh))
        goto out;
    if (fh->ntx >= FAKE_MAX_TX) {
        errno = ENOSPC;
        goto out;
    }
    t = calloc(1, sizeof(*t));
    if (!t)
        goto out;
    t->root = node_clone(w->root);       /* snapshot */
    if (!t->root) {
        free(t);
        goto out;
    }
    if (++w->next_tx == VG_XS_NO_TX)
        ++w->next_tx;
    t->id = w->next_tx;
    t->base_gen = w->xs_gen;
    t->changes_tail = &t->changes;
    t->next = fh->txs;
    fh->txs = t;
    fh->ntx++;
    id = t->id;
out:
    world_unlock(w);
    return id;
}

static int fake_xs_tx_end(struct vg_hyp *h, vg_xs_tx_t tx, bool abort)
{
    struct fake_hyp *fh = fake_of(h);
    struct vg_fake_world *w = fh->world;
    struct fake_tx *t = NULL;
    int ret = -1;

    world_lock(w);
    if (!handle_alive(fh))
        goto out;
    for (struct fake_tx **pt = &fh->txs; *pt; pt = &(*pt)->next) {
        if ((*pt)->id == tx) {
            t = *pt;
            *pt = t->next;
            fh->ntx--;
            break;
        }
    }
    if (!t) {
        errno = ENOENT;
        goto out;
    }
    if (abort || !t->dirty) {
        ret = 0;                 /* a read-only tx saw one consistent tree */
        goto out;
    }
    if (t->base_gen != w->xs_gen) {
        errno = EAGAIN;          /* someone changed the tree meanwhile */
        goto out;
    }
    node_free(w->root);
    w->root = t->root;
    t->root = NULL;
    w->xs_gen++;
    for (struct xs_change *c = t->changes; c; c = c->next)
        fire_change(w, c);
    ret = 0;
out:
    if (t)
        tx_free(t);
    world_unlock(w);
    return ret;
}

static void watch_free(struct fake_watch *wt)
{
    free(wt->path);
    free(wt->token);
    free(wt);
}

static int fake_xs_watch(struct vg_hyp *h, const char *path, const char *token)
{
    struct fake_hyp *fh = fake_of(h);
    struct vg_fake_world *w = fh->world;
    char p[FAKE_XS_PATH_MAX + 1];
    struct fake_watch *wt = NULL;
    bool relative;
    int ret = -1;

    world_lock(w);
    if (!handle_alive(fh))
        goto out;
    if (xs_canon(h->domid, path, p, sizeof(p), true, &relative) < 0)
        goto out;
    if (!token || strlen(token) > FAKE_XS_TOKEN_MAX) {
        errno = EINVAL;
        goto out;
    }
    for (struct fake_watch *o = fh->watches; o; o = o->next) {
        if (!strcmp(o->path, p) && !strcmp(o->token, token)) {
            errno = EEXIST;
            goto out;
        }
    }
    if (fh->nwatches >= FAKE_MAX_WATCHES) {
        errno = E2BIG;
        goto out;
    }
    wt = calloc(1, sizeof(*wt));
    if (!wt)
        goto out;
    wt->path = strdup(p);
    wt->token = strdup(token);
    wt->relative = relative;
    if (!wt->path || !wt->token) {
        watch_free(wt);
        goto out;
    }
    wt->next = fh->watches;
    fh->watches = wt;
    fh->nwatches++;
    queue_event(fh, p, wt);      /* xenstored fires every new watch once */
    ret = 0;
out:
    world_unlock(w);
    return ret;
}

/* Drop queued events carrying token (after its last watch went). */
static void queue_purge_token(struct fake_hyp *fh, const char *token)
{
    unsigned kept = 0;

    for (unsigned i = 0; i < fh->q_len; i++) {
        struct fake_event *e = &fh->queue[(fh->q_head + i) % fh->q_cap];
        if (!strcmp(e->token, token)) {
            event_free(e);
            continue;
        }
        struct fake_event *dst = &fh->queue[(fh->q_head + kept) % fh->q_cap];
        if (dst != e) {
            *dst = *e;
            e->path = e->token = NULL;
        }
        kept++;
    }
    fh->q_len = kept;
    fd_set_readable(fh->xs_fd, &fh->xs_signalled, fh->q_len > 0);
}

static int fake_xs_unwatch(struct vg_hyp *h, const char *path, const char *token)
{
    struct fake_hyp *fh = fake_of(h);
    struct vg_fake_world *w = fh->world;
    char p[FAKE_XS_PATH_MAX + 1];
    int ret = -1;

    world_lock(w);
    if (!handle_alive(fh))
        goto out;
    if (xs_canon(h->domid, path, p, sizeof(p), true, NULL) < 0)
        goto out;
    if (!token) {
        errno = EINVAL;
        goto out;
    }
    errno = ENOENT;
    for (struct fake_watch **pw = &fh->watches; *pw; pw = &(*pw)->next) {
        struct fake_watch *wt = *pw;
        if (strcmp(wt->path, p) || strcmp(wt->token, token))
            continue;
        *pw = wt->next;
        fh->nwatches--;
        watch_free(wt);
        bool token_in_use = false;
        for (struct fake_watch *o = fh->watches; o; o = o->next)
            token_in_use |= !strcmp(o->token, token);
        if (!token_in_use && fh->q_len)
            queue_purge_token(fh, token);
        ret = 0;
        break;
    }
out:
    world_unlock(w);
    return ret;
}

static int fake_xs_fd(struct vg_hyp *h)
{
    return fake_of(h)->xs_fd;
}

static int fake_xs_next_watch(struct vg_hyp *h, char *path, size_t path_len,
                              char *token, size_t token_len)
{
    struct fake_hyp *fh = fake_of(h);
    int ret = -1;

    world_lock(fh->world);
    if (!handle_alive(fh))
        goto out;
    if (fh->q_len == 0) {
        errno = EAGAIN;
        goto out;
    }
    struct fake_event *e = &fh->queue[fh->q_head];
    vg_copy_trunc(path, path_len, e->path);
    vg_copy_trunc(token, token_len, e->token);
    event_free(e);
    fh->q_head = (fh->q_head + 1) % fh->q_cap;
    fh->q_len--;
    fd_set_readable(fh->xs_fd, &fh->xs_signalled, fh->q_len > 0);
    ret = 0;
out:
    world_unlock(fh->world);
    return ret;
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
    struct xs_node *n = node_create(w->root, p, 0);
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
    if (!w->root || !node_create(w->root, "/local/domain", 0) ||
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
        node_detach(n);
        node_free(n);
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
            for (uint32_t i = 0; i < d->grant_cap; i++)
                n += d->grants[i].map_count;
    world_unlock(w);
    return n;
}

unsigned vg_fake_live_grants(struct vg_fake_world *w, uint16_t granter)
{
    unsigned n = 0;

    world_lock(w);
    for (struct fake_domain *d = w->domains; d; d = d->next)
        if (d->domid == granter)
            for (uint32_t i = 0; i < d->grant_cap; i++)
                n += d->grants[i].state == GRANT_ACTIVE;
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
