/* SPDX-License-Identifier: MIT */
/*
 * The hypervisor interface on real Xen: thin wrappers over libxengnttab
 * (gntdev mapping and grant copy), libxengntshr (gntalloc sharing),
 * libxenevtchn, libxenstore and libxenctrl.  Each library is opened only
 * if the caller asks for it; a call needing a library that was not opened
 * fails with ENOTSUP.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xenctrl.h>
#include <xenevtchn.h>
#include <xengnttab.h>
#include <xenstore.h>
#include <xen/grant_table.h>

#include "vgrant/hyp.h"
#include "vgrant/xsutil.h"
#include "vgrant/log.h"
#include "vgrant/protocol.h"

/* Refuse absurd batches before they reach the kernel. */
#define XEN_MAX_BATCH_PAGES  65536u
#define XEN_MAX_COPY_SEGS    65536u

struct xen_hyp {
    struct vg_hyp pub;
    xengnttab_handle *gnttab;
    xengntshr_handle *gntshr;
    xenevtchn_handle *evtchn;
    struct xs_handle *xs;
    xc_interface *xc;
};

static struct xen_hyp *xen_of(struct vg_hyp *h)
{
    return (struct xen_hyp *)h;
}

/* The library a call needs was not opened (a bug in the caller's `need`). */
static bool have(const void *lib, const char *what)
{
    if (lib)
        return true;
    vg_debug("xen: %s was not opened", what);
    errno = ENOTSUP;
    return false;
}

static void xen_close(struct vg_hyp *h)
{
    struct xen_hyp *xh = xen_of(h);

    if (xh->gnttab)
        xengnttab_close(xh->gnttab);
    if (xh->gntshr)
        xengntshr_close(xh->gntshr);
    if (xh->evtchn)
        xenevtchn_close(xh->evtchn);
    if (xh->xs)
        xs_close(xh->xs);
    if (xh->xc)
        xc_interface_close(xh->xc);
    free(xh);
}

/* ------------------------------------------------------------------ */
/* grants                                                              */
/* ------------------------------------------------------------------ */

static void *xen_map_grants(struct vg_hyp *h, uint16_t domid, uint32_t count,
                            const vg_gref_t *refs, bool writable)
{
    struct xen_hyp *xh = xen_of(h);

    if (!have(xh->gnttab, "gnttab"))
        return NULL;
    if (count == 0 || count > XEN_MAX_BATCH_PAGES || !refs) {
        errno = EINVAL;
        return NULL;
    }
    /* The library takes a non-const array but only reads it. */
    void *addr = xengnttab_map_domain_grant_refs(xh->gnttab, count, domid,
                                                 (uint32_t *)(uintptr_t)refs,
                                                 writable ? PROT_READ | PROT_WRITE
                                                          : PROT_READ);
    if (!addr)
        return NULL;
    h->counters.map_batches++;
    h->counters.maps += count;
    return addr;
}

static int xen_unmap_grants(struct vg_hyp *h, void *addr, uint32_t count)
{
    struct xen_hyp *xh = xen_of(h);

    if (!have(xh->gnttab, "gnttab"))
        return -1;
    if (xengnttab_unmap(xh->gnttab, addr, count) < 0)
        return -1;
    h->counters.unmap_batches++;
    h->counters.unmaps += count;
    return 0;
}

/* Segments that cross a page end would make gntdev refuse the whole batch;
 * they get their own failure status and the rest still goes through. */
static int xen_grant_copy(struct vg_hyp *h, uint32_t count, struct vg_copy_seg *segs)
{
    struct xen_hyp *xh = xen_of(h);
    xengnttab_grant_copy_segment_t *xs_segs = NULL;
    uint32_t *index = NULL;
    uint32_t n = 0;
    int ret = -1;

    if (!have(xh->gnttab, "gnttab"))
        return -1;
    if (count > XEN_MAX_COPY_SEGS || (count && !segs)) {
        errno = EINVAL;
        return -1;
    }
    if (count == 0)
        return 0;
    xs_segs = calloc(count, sizeof(*xs_segs));
    index = calloc(count, sizeof(*index));
    if (!xs_segs || !index)
        goto out;
    for (uint32_t i = 0; i < count; i++) {
        struct vg_copy_seg *s = &segs[i];
        if ((uint32_t)s->offset + s->len > VG_PAGE_SIZE || (s->len && !s->local)) {
            s->status = GNTST_bad_copy_arg;
            continue;
        }
        xengnttab_grant_copy_segment_t *x = &xs_segs[n];
        if (s->to_foreign) {
            x->source.virt = s->local;
            x->dest.foreign.ref = s->ref;
            x->dest.foreign.offset = s->offset;
            x->dest.foreign.domid = s->domid;
            x->flags = GNTCOPY_dest_gref;
        } else {
            x->source.foreign.ref = s->ref;
            x->source.foreign.offset = s->offset;
            x->source.foreign.domid = s->domid;
            x->dest.virt = s->local;
            x->flags = GNTCOPY_source_gref;
        }
        x->len = s->len;
        index[n++] = i;
    }
    if (n && xengnttab_grant_copy(xh->gnttab, n, xs_segs) < 0)
        goto out;
    for (uint32_t j = 0; j < n; j++)
        segs[index[j]].status = xs_segs[j].status;
    h->counters.copy_batches++;
    h->counters.copies += count;
    ret = 0;
out:
    free(xs_segs);
    free(index);
    return ret;
}

static void *xen_share_pages(struct vg_hyp *h, uint16_t domid, uint32_t count,
                             vg_gref_t *refs_out, bool writable)
{
    struct xen_hyp *xh = xen_of(h);

    if (!have(xh->gntshr, "gntshr"))
        return NULL;
    if (count == 0 || count > XEN_MAX_BATCH_PAGES || !refs_out) {
        errno = EINVAL;
        return NULL;
    }
    void *addr = xengntshr_share_pages(xh->gntshr, domid, (int)count, refs_out,
                                       writable ? 1 : 0);
    if (!addr)
        return NULL;
    h->counters.shares += count;
    return addr;
}

static int xen_unshare_pages(struct vg_hyp *h, void *addr, uint32_t count)
{
    struct xen_hyp *xh = xen_of(h);

    if (!have(xh->gntshr, "gntshr"))
        return -1;
    if (xengntshr_unshare(xh->gntshr, addr, count) < 0)
        return -1;
    h->counters.unshares += count;
    return 0;
}

/* ------------------------------------------------------------------ */
/* event channels                                                      */
/* ------------------------------------------------------------------ */

static int xen_evtchn_fd(struct vg_hyp *h)
{
    struct xen_hyp *xh = xen_of(h);
    return have(xh->evtchn, "evtchn") ? xenevtchn_fd(xh->evtchn) : -1;
}

static int xen_evtchn_bind_unbound(struct vg_hyp *h, uint16_t remote_domid)
{
    struct xen_hyp *xh = xen_of(h);
    if (!have(xh->evtchn, "evtchn"))
        return -1;
    xenevtchn_port_or_error_t p = xenevtchn_bind_unbound_port(xh->evtchn, remote_domid);
    return p < 0 ? -1 : (int)p;
}

static int xen_evtchn_bind_interdomain(struct vg_hyp *h, uint16_t remote_domid,
                                       vg_port_t remote_port)
{
    struct xen_hyp *xh = xen_of(h);
    if (!have(xh->evtchn, "evtchn"))
        return -1;
    if (remote_port > INT_MAX) {
        errno = EINVAL;
        return -1;
    }
    xenevtchn_port_or_error_t p =
        xenevtchn_bind_interdomain(xh->evtchn, remote_domid, remote_port);
    return p < 0 ? -1 : (int)p;
}

static int xen_evtchn_unbind(struct vg_hyp *h, vg_port_t port)
{
    struct xen_hyp *xh = xen_of(h);
    if (!have(xh->evtchn, "evtchn"))
        return -1;
    return xenevtchn_unbind(xh->evtchn, port) < 0 ? -1 : 0;
}

static int xen_evtchn_notify(struct vg_hyp *h, vg_port_t port)
{
    struct xen_hyp *xh = xen_of(h);
    if (!have(xh->evtchn, "evtchn"))
        return -1;
    if (xenevtchn_notify(xh->evtchn, port) < 0)
        return -1;
    h->counters.notifies++;
    return 0;
}

/* The evtchn fd is non-blocking (set at open), so this never blocks: an
 * empty queue reads as EAGAIN. */
static int xen_evtchn_pending(struct vg_hyp *h)
{
    struct xen_hyp *xh = xen_of(h);
    if (!have(xh->evtchn, "evtchn"))
        return -1;
    xenevtchn_port_or_error_t p = xenevtchn_pending(xh->evtchn);
    if (p < 0) {
        if (errno == EWOULDBLOCK)
            errno = EAGAIN;
        return -1;
    }
    return (int)p;
}

static int xen_evtchn_unmask(struct vg_hyp *h, vg_port_t port)
{
    struct xen_hyp *xh = xen_of(h);
    if (!have(xh->evtchn, "evtchn"))
        return -1;
    return xenevtchn_unmask(xh->evtchn, port) < 0 ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* xenstore                                                            */
/* ------------------------------------------------------------------ */

static char *xen_xs_read(struct vg_hyp *h, vg_xs_tx_t tx, const char *path, unsigned *len)
{
    struct xen_hyp *xh = xen_of(h);
    unsigned int l = 0;

    if (!have(xh->xs, "xenstore"))
        return NULL;
    char *v = xs_read(xh->xs, tx, path, &l);   /* NUL-terminated by libxenstore */
    if (v && len)
        *len = l;
    return v;
}

static int xen_xs_write(struct vg_hyp *h, vg_xs_tx_t tx, const char *path, const char *value)
{
    struct xen_hyp *xh = xen_of(h);

    if (!have(xh->xs, "xenstore"))
        return -1;
    if (!value) {
        errno = EINVAL;
        return -1;
    }
    return xs_write(xh->xs, tx, path, value, (unsigned int)strlen(value)) ? 0 : -1;
}

static int xen_xs_mkdir(struct vg_hyp *h, vg_xs_tx_t tx, const char *path)
{
    struct xen_hyp *xh = xen_of(h);
    if (!have(xh->xs, "xenstore"))
        return -1;
    return xs_mkdir(xh->xs, tx, path) ? 0 : -1;
}

static int xen_xs_rm(struct vg_hyp *h, vg_xs_tx_t tx, const char *path)
{
    struct xen_hyp *xh = xen_of(h);
    if (!have(xh->xs, "xenstore"))
        return -1;
    return xs_rm(xh->xs, tx, path) ? 0 : -1;
}

static char **xen_xs_directory(struct vg_hyp *h, vg_xs_tx_t tx, const char *path,
                               unsigned *num)
{
    struct xen_hyp *xh = xen_of(h);
    unsigned int n = 0;

    if (!have(xh->xs, "xenstore"))
        return NULL;
    char **names = xs_directory(xh->xs, tx, path, &n);   /* one malloc block */
    if (names && num)
        *num = n;
    return names;
}

static int xen_xs_set_perms(struct vg_hyp *h, vg_xs_tx_t tx, const char *path,
                            const struct vg_xs_perm *perms, unsigned num)
{
    struct xen_hyp *xh = xen_of(h);

    if (!have(xh->xs, "xenstore"))
        return -1;
    if (!perms || num == 0) {
        errno = EINVAL;
        return -1;
    }
    struct xs_permissions *xp = calloc(num, sizeof(*xp));
    if (!xp)
        return -1;
    for (unsigned i = 0; i < num; i++) {
        xp[i].id = perms[i].domid;
        xp[i].perms = perms[i].perm & (XS_PERM_READ | XS_PERM_WRITE);
    }
    bool ok = xs_set_permissions(xh->xs, tx, path, xp, num);
    int saved = errno;
    free(xp);
    errno = saved;
    return ok ? 0 : -1;
}

static struct vg_xs_perm *xen_xs_get_perms(struct vg_hyp *h, vg_xs_tx_t tx,
                                           const char *path, unsigned *num)
{
    struct xen_hyp *xh = xen_of(h);
    unsigned int n = 0;

    if (!have(xh->xs, "xenstore"))
        return NULL;
    struct xs_permissions *xp = xs_get_permissions(xh->xs, tx, path, &n);
    if (!xp)
        return NULL;
    struct vg_xs_perm *out = calloc(n ? n : 1, sizeof(*out));
    if (out) {
        for (unsigned i = 0; i < n; i++) {
            out[i].domid = (uint16_t)xp[i].id;
            out[i].perm = (uint8_t)(xp[i].perms & (XS_PERM_READ | XS_PERM_WRITE));
        }
        if (num)
            *num = n;
    }
    free(xp);
    return out;
}

static vg_xs_tx_t xen_xs_tx_start(struct vg_hyp *h)
{
    struct xen_hyp *xh = xen_of(h);
    if (!have(xh->xs, "xenstore"))
        return VG_XS_NO_TX;
    return xs_transaction_start(xh->xs);     /* XBT_NULL (0) on failure */
}

static int xen_xs_tx_end(struct vg_hyp *h, vg_xs_tx_t tx, bool abort)
{
    struct xen_hyp *xh = xen_of(h);
    if (!have(xh->xs, "xenstore"))
        return -1;
    return xs_transaction_end(xh->xs, tx, abort) ? 0 : -1;   /* EAGAIN: retry */
}

static int xen_xs_watch(struct vg_hyp *h, const char *path, const char *token)
{
    struct xen_hyp *xh = xen_of(h);
    if (!have(xh->xs, "xenstore"))
        return -1;
    return xs_watch(xh->xs, path, token) ? 0 : -1;
}

static int xen_xs_unwatch(struct vg_hyp *h, const char *path, const char *token)
{
    struct xen_hyp *xh = xen_of(h);
    if (!have(xh->xs, "xenstore"))
        return -1;
    return xs_unwatch(xh->xs, path, token) ? 0 : -1;
}

static int xen_xs_fd(struct vg_hyp *h)
{
    struct xen_hyp *xh = xen_of(h);
    return have(xh->xs, "xenstore") ? xs_fileno(xh->xs) : -1;
}

/* xs_check_watch never blocks: NULL with EAGAIN when nothing fired. */
static int xen_xs_next_watch(struct vg_hyp *h, char *path, size_t path_len,
                             char *token, size_t token_len)
{
    struct xen_hyp *xh = xen_of(h);

    if (!have(xh->xs, "xenstore"))
        return -1;
    char **ev = xs_check_watch(xh->xs);
    if (!ev)
        return -1;
    vg_copy_trunc(path, path_len, ev[XS_WATCH_PATH]);
    vg_copy_trunc(token, token_len, ev[XS_WATCH_TOKEN]);
    free(ev);
    return 0;
}

/* ------------------------------------------------------------------ */
/* domains                                                             */
/* ------------------------------------------------------------------ */

/* Through libxenctrl when open (xc_domain_getinfolist exists in every
 * libxenctrl, before and after 4.18 replaced xc_domain_getinfo); without
 * it (a driver domain), or when Xen refuses the call to this domain,
 * through xenstore: the domain's home exists until the toolstack releases
 * it.  Where xenstore denies the read (an unprivileged domain may not look
 * at another's home), the answer is unknown: -1 with EACCES. */
static int xen_domain_alive(struct vg_hyp *h, uint16_t domid)
{
    struct xen_hyp *xh = xen_of(h);

    if (xh->xc) {
        xc_domaininfo_t info;
        memset(&info, 0, sizeof(info));
        int n = xc_domain_getinfolist(xh->xc, domid, 1, &info);
        if (n >= 0)
            return n == 1 && info.domain == domid &&
                   !(info.flags & XEN_DOMINF_dying);
        if (errno != EPERM && errno != EACCES)
            return -1;
    }
    if (!have(xh->xs, "xenctrl or xenstore"))
        return -1;
    char path[32];
    snprintf(path, sizeof(path), "/local/domain/%u", domid);
    unsigned int len;
    char *v = xs_read(xh->xs, XBT_NULL, path, &len);
    if (v) {
        free(v);
        return 1;
    }
    /* EACCES cannot tell a live domain from a dead one: report the error. */
    return errno == ENOENT ? 0 : -1;
}

static const struct vg_hyp_ops xen_ops = {
    .close = xen_close,
    .map_grants = xen_map_grants,
    .unmap_grants = xen_unmap_grants,
    .grant_copy = xen_grant_copy,
    .share_pages = xen_share_pages,
    .unshare_pages = xen_unshare_pages,
    .evtchn_fd = xen_evtchn_fd,
    .evtchn_bind_unbound = xen_evtchn_bind_unbound,
    .evtchn_bind_interdomain = xen_evtchn_bind_interdomain,
    .evtchn_unbind = xen_evtchn_unbind,
    .evtchn_notify = xen_evtchn_notify,
    .evtchn_pending = xen_evtchn_pending,
    .evtchn_unmask = xen_evtchn_unmask,
    .xs_read = xen_xs_read,
    .xs_write = xen_xs_write,
    .xs_mkdir = xen_xs_mkdir,
    .xs_rm = xen_xs_rm,
    .xs_directory = xen_xs_directory,
    .xs_set_perms = xen_xs_set_perms,
    .xs_get_perms = xen_xs_get_perms,
    .xs_tx_start = xen_xs_tx_start,
    .xs_tx_end = xen_xs_tx_end,
    .xs_watch = xen_xs_watch,
    .xs_unwatch = xen_xs_unwatch,
    .xs_fd = xen_xs_fd,
    .xs_next_watch = xen_xs_next_watch,
    .domain_alive = xen_domain_alive,
};

/* ------------------------------------------------------------------ */
/* open                                                                */
/* ------------------------------------------------------------------ */

/* Our own domain id: every domain can read its "domid" key (relative to
 * its home /local/domain/<id>); dom0's is written by xen-init-dom0. */
static int read_own_domid(struct xs_handle *xs, uint16_t *domid)
{
    unsigned int len;
    char *v = xs_read(xs, XBT_NULL, "domid", &len);
    if (!v) {
        vg_err("cannot read our domain id from xenstore key \"domid\": %s",
               strerror(errno));
        return -1;
    }
    uint64_t id;
    if (vg_parse_uint(v, VG_MAX_DOMID, &id)) {
        vg_err("xenstore key \"domid\" holds garbage \"%s\"", VG_ESC(v));
        free(v);
        errno = EINVAL;
        return -1;
    }
    free(v);
    *domid = (uint16_t)id;
    return 0;
}

/* Xen's own scripts tell dom0 by "control_d" in the capabilities xenfs
 * shows; without xenfs we are not a domain libxenctrl could serve. */
static bool is_control_domain(void)
{
    char caps[128];
    ssize_t n = -1;
    int fd = open("/proc/xen/capabilities", O_RDONLY | O_CLOEXEC);

    if (fd >= 0) {
        n = read(fd, caps, sizeof(caps) - 1);
        close(fd);
    }
    if (n <= 0)
        return false;
    caps[n] = '\0';
    return strstr(caps, "control_d") != NULL;
}

/* VG_HYP_WANT_CTRL: libxenctrl where it works, nothing lost where not. */
static void open_ctrl_if_useful(struct xen_hyp *xh)
{
    if (!is_control_domain()) {
        vg_info("not the control domain (no \"control_d\" in "
                "/proc/xen/capabilities): domain liveness through xenstore");
        return;
    }
    xh->xc = xc_interface_open(NULL, NULL, 0);
    if (!xh->xc)
        vg_warn("cannot open libxenctrl (/dev/xen/privcmd): %s; domain "
                "liveness through xenstore", strerror(errno));
}

struct vg_hyp *vg_hyp_xen_open(unsigned need)
{
    struct xs_handle *tmp_xs = NULL;

    if (need == 0 || (need & ~(VG_HYP_NEED_ALL | VG_HYP_WANT_CTRL))) {
        errno = EINVAL;
        return NULL;
    }
    struct xen_hyp *xh = calloc(1, sizeof(*xh));
    if (!xh)
        return NULL;
    xh->pub.ops = &xen_ops;

    if (need & VG_HYP_NEED_GNTTAB) {
        xh->gnttab = xengnttab_open(NULL, 0);
        if (!xh->gnttab) {
            vg_err("cannot open /dev/xen/gntdev (is xen-gntdev loaded?): %s",
                   strerror(errno));
            goto fail;
        }
    }
    if (need & VG_HYP_NEED_GNTSHR) {
        xh->gntshr = xengntshr_open(NULL, 0);
        if (!xh->gntshr) {
            vg_err("cannot open /dev/xen/gntalloc (is xen-gntalloc loaded?): %s",
                   strerror(errno));
            goto fail;
        }
    }
    if (need & VG_HYP_NEED_EVTCHN) {
        xh->evtchn = xenevtchn_open(NULL, 0);
        if (!xh->evtchn) {
            vg_err("cannot open /dev/xen/evtchn (is xen-evtchn loaded?): %s",
                   strerror(errno));
            goto fail;
        }
        /* evtchn_pending must never block. */
        int fd = xenevtchn_fd(xh->evtchn);
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
            vg_err("cannot make the event channel fd non-blocking: %s", strerror(errno));
            goto fail;
        }
    }
    if (need & VG_HYP_NEED_CTRL) {
        xh->xc = xc_interface_open(NULL, NULL, 0);
        if (!xh->xc) {
            vg_err("cannot open libxenctrl (/dev/xen/privcmd; needs dom0 privileges): %s",
                   strerror(errno));
            goto fail;
        }
    } else if (need & VG_HYP_WANT_CTRL) {
        open_ctrl_if_useful(xh);
    }
    /* xenstore always: it tells us who we are. */
    tmp_xs = xs_open(0);
    if (!tmp_xs) {
        vg_err("cannot connect to xenstore (/dev/xen/xenbus or the xenstored "
               "socket; is xenstored running / xenfs mounted?): %s", strerror(errno));
        goto fail;
    }
    if (read_own_domid(tmp_xs, &xh->pub.domid) < 0)
        goto fail;
    if (need & VG_HYP_NEED_XS) {
        xh->xs = tmp_xs;
        tmp_xs = NULL;
    } else {
        xs_close(tmp_xs);
        tmp_xs = NULL;
    }
    vg_debug("xen: opened as domain %u (need 0x%x)", xh->pub.domid, need);
    return &xh->pub;

fail: {
        int saved = errno;
        if (tmp_xs)
            xs_close(tmp_xs);
        xen_close(&xh->pub);
        errno = saved;
    }
    return NULL;
}
