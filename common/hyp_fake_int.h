/* SPDX-License-Identifier: MIT */
/*
 * Private to the fake hypervisor (common/hyp_fake*.c): the world's data
 * structures and the functions its files share.  Not for any other code;
 * tests use the public vg_fake_* API of vgrant/hyp.h.
 *
 *   hyp_fake.c           shared lock/lookup helpers, handles, domains, world
 *   hyp_fake_grant.c     grant table: map, unmap, copy, share, unshare
 *   hyp_fake_evtchn.c    event channels
 *   hyp_fake_xs_tree.c   xenstore tree, permissions, change/watch delivery
 *   hyp_fake_xs.c        xenstore operations, transactions, watches
 */
#ifndef VGRANT_HYP_FAKE_INT_H
#define VGRANT_HYP_FAKE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vgrant/hyp.h"

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
    /* kept with the entries, so the tests' after-every-round checks
     * (vg_fake_live_mappings/grants) do not scan a table that grows to
     * FAKE_MAX_GRANTS in a long-lived world */
    uint32_t live_maps;          /* sum of map_count */
    uint32_t live_grants;        /* entries GRANT_ACTIVE */
    /* The domain's granted memory: one memfd (not one per share, which
     * would run a busy frontend out of fds), file grown in chunks.  A
     * page given back waits on the dirty list; when the free stack runs
     * out, the dirty pages are zeroed (holes punched, one call per run of
     * consecutive pages) and stacked so that they come out in ascending
     * order, which lets a share or a map cover a run with one mmap. */
    int mem_fd;
    uint32_t mem_pages;          /* file size in pages */
    uint32_t mem_used;           /* pages ever handed out (high water) */
    uint32_t *free_pages;        /* zeroed, ready (a stack) */
    uint32_t nfree;
    uint32_t *dirty_pages;       /* given back, not zeroed yet */
    uint32_t ndirty;
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

/* A node of the xenstore tree.  Trees share nodes copy-on-write: a
 * transaction starts with the live root (one more reference), and a node
 * referenced more than once is never changed in place -- whoever changes
 * a tree first copies every shared node on the path from its root down
 * (node_own_walk), so the other trees keep seeing what they saw.  That
 * makes a transaction cost what it changes, not a copy of the store. */
struct xs_node {
    unsigned refs;               /* trees and parents holding it */
    char *name;
    char *value;
    unsigned value_len;
    struct vg_xs_perm *perms;
    unsigned nperms;
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
    struct xs_node *root;        /* private view: the live root when the
                                    transaction started, copied on write */
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


/* hyp_fake.c: shared helpers, handles, domains, world */
struct fake_hyp *fake_of(struct vg_hyp *h);
void world_lock(struct vg_fake_world *w);
void world_unlock(struct vg_fake_world *w);
void fd_set_readable(int fd, bool *signalled, bool want);
struct fake_domain *domain_find_any(struct vg_fake_world *w, uint16_t domid);
struct fake_domain *domain_find_alive(struct vg_fake_world *w, uint16_t domid);
bool handle_alive(struct fake_hyp *fh);

/* hyp_fake_grant.c */
void grant_revoke(struct fake_domain *d, vg_gref_t ref);
void *fake_map_grants(struct vg_hyp *h, uint16_t domid, uint32_t count,
                      const vg_gref_t *refs, bool writable);
void mapping_release(struct fake_mapping *m);
int fake_unmap_grants(struct vg_hyp *h, void *addr, uint32_t count);
int fake_grant_copy(struct vg_hyp *h, uint32_t count, struct vg_copy_seg *segs);
void *fake_share_pages(struct vg_hyp *h, uint16_t domid, uint32_t count,
                       vg_gref_t *refs_out, bool writable);
void share_release(struct fake_domain *d, struct fake_share *s);
int fake_unshare_pages(struct vg_hyp *h, void *addr, uint32_t count);

/* hyp_fake_evtchn.c */
void port_close(struct fake_domain *d, vg_port_t port);
int fake_evtchn_fd(struct vg_hyp *h);
int fake_evtchn_bind_unbound(struct vg_hyp *h, uint16_t remote_domid);
int fake_evtchn_bind_interdomain(struct vg_hyp *h, uint16_t remote_domid,
                                 vg_port_t remote_port);
int fake_evtchn_unbind(struct vg_hyp *h, vg_port_t port);
int fake_evtchn_notify(struct vg_hyp *h, vg_port_t port);
int fake_evtchn_pending(struct vg_hyp *h);
int fake_evtchn_unmask(struct vg_hyp *h, vg_port_t port);

/* hyp_fake_xs_tree.c */
int xs_canon(uint16_t domid, const char *in, char *out, size_t outsz,
             bool allow_special, bool *relative);
unsigned node_perm(uint16_t domid, const struct xs_node *n);
/* Drop one reference; the last one frees the node and drops its kids'. */
void node_free(struct xs_node *n);
struct xs_node *node_new(const char *name, size_t name_len,
                         const struct vg_xs_perm *perms, unsigned nperms);
struct xs_node *node_walk(struct xs_node *root, const char *path, const char **rest);
struct xs_node *node_lookup(struct xs_node *root, const char *path);
struct xs_node *node_access(struct xs_node *root, const char *path,
                            uint16_t domid, unsigned want);
/* The functions that change a tree take the slot holding its root
 * (&world->root, &tx->root): the root itself may have to be copied. */
/* node_walk that first makes every node on the way exclusive to this
 * tree (copying shared ones); NULL with ENOMEM. */
struct xs_node *node_own_walk(struct xs_node **rootp, const char *path,
                              const char **rest);
/* The existing node at path, exclusive to this tree, or NULL (ENOENT). */
struct xs_node *node_own(struct xs_node **rootp, const char *path);
struct xs_node *node_create(struct xs_node **rootp, const char *path, uint16_t domid);
/* Unlink the node at path (not the root) from its parent and drop it. */
int node_remove(struct xs_node **rootp, const char *path);
void event_free(struct fake_event *e);
void queue_event(struct fake_hyp *fh, const char *path, const struct fake_watch *wt);
void fire_change(struct vg_fake_world *w, const struct xs_change *c);
void tx_free(struct fake_tx *t);
void xs_changed(struct vg_fake_world *w, struct fake_tx *t, const char *path,
                bool removal, const struct xs_node *n);
void fire_special(struct vg_fake_world *w, const char *name);

/* hyp_fake_xs.c */
char *fake_xs_read(struct vg_hyp *h, vg_xs_tx_t tx, const char *path, unsigned *len);
int fake_xs_write(struct vg_hyp *h, vg_xs_tx_t tx, const char *path, const char *value);
int fake_xs_mkdir(struct vg_hyp *h, vg_xs_tx_t tx, const char *path);
int fake_xs_rm(struct vg_hyp *h, vg_xs_tx_t tx, const char *path);
char **fake_xs_directory(struct vg_hyp *h, vg_xs_tx_t tx, const char *path,
                         unsigned *num);
int fake_xs_set_perms(struct vg_hyp *h, vg_xs_tx_t tx, const char *path,
                      const struct vg_xs_perm *perms, unsigned num);
struct vg_xs_perm *fake_xs_get_perms(struct vg_hyp *h, vg_xs_tx_t tx,
                                     const char *path, unsigned *num);
vg_xs_tx_t fake_xs_tx_start(struct vg_hyp *h);
int fake_xs_tx_end(struct vg_hyp *h, vg_xs_tx_t tx, bool abort);
void watch_free(struct fake_watch *wt);
int fake_xs_watch(struct vg_hyp *h, const char *path, const char *token);
int fake_xs_unwatch(struct vg_hyp *h, const char *path, const char *token);
int fake_xs_fd(struct vg_hyp *h);
int fake_xs_next_watch(struct vg_hyp *h, char *path, size_t path_len,
                       char *token, size_t token_len);

#endif
