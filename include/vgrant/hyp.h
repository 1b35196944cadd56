/* SPDX-License-Identifier: MIT */
/*
 * The hypervisor interface: everything virtio-grant asks of Xen, as seen
 * from one domain.  Two implementations:
 *   hyp_xen.c   the real one, over libxengnttab/libxengntshr/libxenevtchn/
 *               libxenstore/libxenctrl;
 *   hyp_fake*.c an in-process test double that enforces grant semantics
 *               (only granted pages map, read-only grants fault on write,
 *               revoked grants no longer map, xenstore permissions and
 *               watches) so the frontend library and the backend's device
 *               code can run against each other in one test process.
 *
 * All calls return 0 (or a non-negative value / non-NULL pointer) on
 * success and -1 (or NULL) with errno set on failure, like the libraries
 * they wrap.
 */
#ifndef VGRANT_HYP_H
#define VGRANT_HYP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint32_t vg_gref_t;
typedef uint32_t vg_port_t;
typedef uint32_t vg_xs_tx_t;     /* 0 = no transaction */
#define VG_XS_NO_TX 0u

#define VG_XS_PERM_NONE  0
#define VG_XS_PERM_READ  1
#define VG_XS_PERM_WRITE 2
#define VG_XS_PERM_BOTH  3

struct vg_xs_perm {
    uint16_t domid;
    uint8_t perm;        /* VG_XS_PERM_*; perms[0] names the owner and the
                            default access of every other domain */
};

/* One segment of a grant copy, mirroring xengnttab_grant_copy_segment. */
struct vg_copy_seg {
    bool to_foreign;     /* true: local buf -> foreign ref, false: ref -> buf */
    uint16_t domid;      /* foreign domain */
    vg_gref_t ref;
    uint16_t offset;     /* offset + len <= VG_PAGE_SIZE */
    uint16_t len;
    void *local;
    int16_t status;      /* out: 0 = ok, < 0 = GNTST_* style failure */
};

/* Counters of hypervisor operations, kept by both implementations. */
struct vg_hyp_counters {
    uint64_t map_batches;    /* map calls (each maps one or more refs) */
    uint64_t maps;           /* refs mapped */
    uint64_t unmap_batches;
    uint64_t unmaps;         /* refs unmapped */
    uint64_t copy_batches;   /* grant-copy calls */
    uint64_t copies;         /* grant-copy segments */
    uint64_t shares;         /* pages granted (gntshr) */
    uint64_t unshares;
    uint64_t notifies;       /* event channel notifications sent */
};

struct vg_hyp;

struct vg_hyp_ops {
    void (*close)(struct vg_hyp *h);

    /* -- grant mapping (backend side) -- */
    /* Map count refs of domain domid at one contiguous address, in one
     * batch.  writable=false maps read-only. */
    void *(*map_grants)(struct vg_hyp *h, uint16_t domid, uint32_t count,
                        const vg_gref_t *refs, bool writable);
    int (*unmap_grants)(struct vg_hyp *h, void *addr, uint32_t count);
    /* Copy count segments in one batch; per-segment status in segs[].status,
     * returns -1 if the batch itself failed. */
    int (*grant_copy)(struct vg_hyp *h, uint32_t count, struct vg_copy_seg *segs);

    /* -- grant sharing (frontend side) -- */
    /* Allocate count zeroed pages, grant them to domid, return their local
     * address and the refs (not necessarily consecutive). */
    void *(*share_pages)(struct vg_hyp *h, uint16_t domid, uint32_t count,
                         vg_gref_t *refs_out, bool writable);
    /* Revoke the grants and release the pages (the pages live on until the
     * peer unmaps them, as with gntalloc). */
    int (*unshare_pages)(struct vg_hyp *h, void *addr, uint32_t count);

    /* -- event channels -- */
    int (*evtchn_fd)(struct vg_hyp *h);     /* readable when a port is pending */
    int (*evtchn_bind_unbound)(struct vg_hyp *h, uint16_t remote_domid);
    int (*evtchn_bind_interdomain)(struct vg_hyp *h, uint16_t remote_domid,
                                   vg_port_t remote_port);
    int (*evtchn_unbind)(struct vg_hyp *h, vg_port_t port);
    int (*evtchn_notify)(struct vg_hyp *h, vg_port_t port);
    /* Next pending local port, or -1 with errno EAGAIN when none; never
     * blocks.  The port stays masked until evtchn_unmask. */
    int (*evtchn_pending)(struct vg_hyp *h);
    int (*evtchn_unmask)(struct vg_hyp *h, vg_port_t port);

    /* -- xenstore -- */
    /* Returns a malloc'd NUL-terminated value (len excludes the NUL). */
    char *(*xs_read)(struct vg_hyp *h, vg_xs_tx_t tx, const char *path,
                     unsigned *len);
    int (*xs_write)(struct vg_hyp *h, vg_xs_tx_t tx, const char *path,
                    const char *value);
    int (*xs_mkdir)(struct vg_hyp *h, vg_xs_tx_t tx, const char *path);
    int (*xs_rm)(struct vg_hyp *h, vg_xs_tx_t tx, const char *path);
    /* Returns a malloc'd array of *num names (one free() releases all). */
    char **(*xs_directory)(struct vg_hyp *h, vg_xs_tx_t tx, const char *path,
                           unsigned *num);
    int (*xs_set_perms)(struct vg_hyp *h, vg_xs_tx_t tx, const char *path,
                        const struct vg_xs_perm *perms, unsigned num);
    /* Returns a malloc'd array of *num perms. */
    struct vg_xs_perm *(*xs_get_perms)(struct vg_hyp *h, vg_xs_tx_t tx,
                                       const char *path, unsigned *num);
    vg_xs_tx_t (*xs_tx_start)(struct vg_hyp *h);   /* 0 on failure */
    /* Commit (abort=false) or abort.  -1 with errno EAGAIN: retry. */
    int (*xs_tx_end)(struct vg_hyp *h, vg_xs_tx_t tx, bool abort);
    int (*xs_watch)(struct vg_hyp *h, const char *path, const char *token);
    int (*xs_unwatch)(struct vg_hyp *h, const char *path, const char *token);
    int (*xs_fd)(struct vg_hyp *h);         /* readable when a watch fired */
    /* Next fired watch without blocking: copies path and token (truncated
     * to the buffer sizes) and returns 0, or -1 with errno EAGAIN. */
    int (*xs_next_watch)(struct vg_hyp *h, char *path, size_t path_len,
                         char *token, size_t token_len);

    /* -- domains -- */
    /* 1 if domid exists and is not dying, 0 if not, -1 on error. */
    int (*domain_alive)(struct vg_hyp *h, uint16_t domid);
};

struct vg_hyp {
    const struct vg_hyp_ops *ops;
    uint16_t domid;                    /* the domain this handle acts as */
    struct vg_hyp_counters counters;   /* updated by the implementation */
};

/* Real Xen.  Opens only what `need` asks for (a guest has no gnttab
 * mapping rights it uses, dom0 needs no gntshr). */
#define VG_HYP_NEED_GNTTAB  1u
#define VG_HYP_NEED_GNTSHR  2u
#define VG_HYP_NEED_EVTCHN  4u
#define VG_HYP_NEED_XS      8u
#define VG_HYP_NEED_CTRL    16u
#define VG_HYP_NEED_ALL     31u
struct vg_hyp *vg_hyp_xen_open(unsigned need);
/* Open libxenctrl only where it can work: in the control domain ("control_d"
 * in /proc/xen/capabilities).  Elsewhere (a driver domain), or if opening
 * it fails, domain_alive answers through xenstore.  Not part of
 * VG_HYP_NEED_ALL; VG_HYP_NEED_CTRL, if also given, wins. */
#define VG_HYP_WANT_CTRL    32u

/* Test double: a world holds domains, their grant tables, event channels
 * and one xenstore tree; a handle acts as one domain of that world.
 * Domain 0 is privileged in xenstore.  Thread-safe. */
struct vg_fake_world;
struct vg_fake_world *vg_fake_world_new(void);
void vg_fake_world_free(struct vg_fake_world *w);
/* Create a domain (creates /local/domain/<domid> owned by it). */
int vg_fake_domain_create(struct vg_fake_world *w, uint16_t domid);
/* Destroy: revokes its grants, closes its ports, removes its xenstore
 * directory, fires @releaseDomain.  Handles acting as it then fail. */
int vg_fake_domain_destroy(struct vg_fake_world *w, uint16_t domid);
struct vg_hyp *vg_fake_open(struct vg_fake_world *w, uint16_t domid);
/* Test inspection: live mappings of grants owned by `granter` mapped by
 * anyone, and live granted pages of `granter`. */
unsigned vg_fake_live_mappings(struct vg_fake_world *w, uint16_t granter);
unsigned vg_fake_live_grants(struct vg_fake_world *w, uint16_t granter);
unsigned vg_fake_bound_ports(struct vg_fake_world *w, uint16_t domid);
/* Test inspection of one grant entry of `granter`: how it was granted and
 * how it is mapped right now.  -1/ENOENT if the entry is free. */
struct vg_fake_grant_info {
    bool active;               /* granted and not revoked */
    bool revoked;              /* revoked, still mapped by someone */
    uint16_t grantee;
    bool writable;             /* granted writable (else read-only) */
    unsigned maps;             /* live mappings of it */
    unsigned maps_writable;    /* of which mapped writable */
};
int vg_fake_grant_info(struct vg_fake_world *w, uint16_t granter,
                       vg_gref_t ref, struct vg_fake_grant_info *out);

/* Convenience wrappers */
static inline void vg_hyp_close(struct vg_hyp *h)
{
    if (h)
        h->ops->close(h);
}

#endif /* VGRANT_HYP_H */
