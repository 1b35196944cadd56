/* SPDX-License-Identifier: MIT */
/*
 * Toolstack side of virtio-grant, xenstore: create the backend and
 * frontend directories of a device (attach, protocol.h "XENSTORE
 * LAYOUT") and remove them (detach, protocol.h "Removal").  Specs are
 * toolstack_spec.c, listing toolstack_list.c, shared helpers
 * toolstack_xs.c.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vgrant/attach_id.h"
#include "vgrant/clock.h"
#include "vgrant/devtype.h"
#include "vgrant/log.h"
#include "vgrant/protocol.h"
#include "vgrant/toolstack.h"
#include "vgrant/xsutil.h"
#include "toolstack_int.h"

/* ------------------------------------------------------------------------
 * attach
 * ------------------------------------------------------------------------ */

#define DEVID_BITMAP_BYTES ((VG_MAX_DEVID + 1) / 8)

/* Devids of frontend fe in use: listed in its frontend class directory or,
 * since the guest owns that directory and may empty it, in any domain's
 * backend directory for fe. */
static int collect_used_devids(struct vg_hyp *h, vg_xs_tx_t tx, uint16_t fe,
                               uint8_t *used, char *err, size_t errlen)
{
    char path[VG_XS_PATH_MAX];
    uint16_t *doms;
    unsigned ndoms;
    int rc = -1;

    vg_path(path, sizeof(path), "/local/domain/%u/device/" VG_XS_CLASS, fe);
    if (ts_mark_devids(h, tx, path, used))
        goto fail;
    doms = ts_list_domains(h, tx, &ndoms);
    if (!doms) {
        vg_path(path, sizeof(path), "/local/domain");
        goto fail;
    }
    for (unsigned i = 0; i < ndoms; i++) {
        vg_path(path, sizeof(path), "/local/domain/%u/backend/" VG_XS_CLASS
                "/%u", doms[i], fe);
        if (ts_mark_devids(h, tx, path, used)) {
            free(doms);
            goto fail;
        }
    }
    free(doms);
    return 0;
fail:
    if (errno != EAGAIN)
        vg_errf(err, errlen, "cannot list %s: %s", path, strerror(errno));
    return rc;
}

/* Fail with ESRCH unless domid is a live domain with a xenstore home. */
static int check_domain(struct vg_hyp *h, uint16_t domid, const char *role,
                        char *err, size_t errlen)
{
    char path[VG_XS_PATH_MAX];
    int rc = h->ops->domain_alive(h, domid);

    if (rc < 0) {
        vg_errf(err, errlen, "cannot look up %s domain %u: %s", role, domid,
                strerror(errno));
        return -1;
    }
    if (rc == 0) {
        vg_errf(err, errlen, "%s domain %u does not exist", role, domid);
        errno = ESRCH;
        return -1;
    }
    vg_path(path, sizeof(path), "/local/domain/%u", domid);
    rc = ts_node_exists(h, VG_XS_NO_TX, path);
    if (rc <= 0) {
        if (rc == 0)
            errno = ESRCH;
        vg_errf(err, errlen, "%s domain %u has no xenstore directory %s%s%s",
                role, domid, path, rc < 0 ? ": " : "",
                rc < 0 ? strerror(errno) : "");
        return -1;
    }
    return 0;
}

/* Everything attach writes, inside transaction tx. */
static int attach_in_tx(struct vg_hyp *h, vg_xs_tx_t tx, uint16_t fe,
                        const struct vg_attach_spec *s, unsigned *devid_out,
                        char *err, size_t errlen)
{
    const uint16_t be = s->backend_domid;
    char attach_id[VG_ATTACH_ID_BUF];
    /* libxl's PV device permissions: each side owns its directory, the
     * peer may read it, no third domain may look. */
    const struct vg_xs_perm be_perms[2] = {
        { .domid = be, .perm = VG_XS_PERM_NONE },
        { .domid = fe, .perm = VG_XS_PERM_READ },
    };
    const struct vg_xs_perm fe_perms[2] = {
        { .domid = fe, .perm = VG_XS_PERM_NONE },
        { .domid = be, .perm = VG_XS_PERM_READ },
    };
    const unsigned be_nperms = be == fe ? 1 : 2;
    const unsigned fe_nperms = be == fe ? 1 : 2;
    char be_dir[VG_XS_PATH_MAX], fe_dir[VG_XS_PATH_MAX];
    char path[VG_XS_PATH_MAX];
    uint8_t *used;
    unsigned devid;

    used = calloc(1, DEVID_BITMAP_BYTES);
    if (!used) {
        vg_errf(err, errlen, "out of memory");
        return -1;
    }
    if (collect_used_devids(h, tx, fe, used, err, errlen)) {
        free(used);
        return -1;
    }
    if (s->devid >= 0) {
        devid = (unsigned)s->devid;
        if (used[devid / 8] & (1u << (devid % 8))) {
            free(used);
            vg_errf(err, errlen, "domain %u already has virtio-grant device "
                    "%u (devid=%u)", fe, devid, devid);
            errno = EEXIST;
            return -1;
        }
    } else {
        for (devid = 0; devid <= VG_MAX_DEVID; devid++)
            if (!(used[devid / 8] & (1u << (devid % 8))))
                break;
        if (devid > VG_MAX_DEVID) {
            free(used);
            vg_errf(err, errlen, "domain %u has no free virtio-grant devid",
                    fe);
            errno = ENOSPC;
            return -1;
        }
    }
    free(used);

    ts_backend_dir(be_dir, sizeof(be_dir), be, fe, devid);
    ts_frontend_dir(fe_dir, sizeof(fe_dir), fe, devid);

    /* parents the backend domain will watch and clean up */
    vg_path(path, sizeof(path), "/local/domain/%u/backend", be);
    if (ts_ensure_dir(h, tx, path, be, err, errlen))
        return -1;
    vg_path(path, sizeof(path), "/local/domain/%u/backend/" VG_XS_CLASS, be);
    if (ts_ensure_dir(h, tx, path, be, err, errlen))
        return -1;
    vg_path(path, sizeof(path), "/local/domain/%u/backend/" VG_XS_CLASS "/%u",
            be, fe);
    if (ts_ensure_dir(h, tx, path, be, err, errlen))
        return -1;
    vg_path(path, sizeof(path), "/local/domain/%u/device", fe);
    if (ts_ensure_dir(h, tx, path, fe, err, errlen))
        return -1;
    vg_path(path, sizeof(path), "/local/domain/%u/device/" VG_XS_CLASS, fe);
    if (ts_ensure_dir(h, tx, path, fe, err, errlen))
        return -1;

    /* Directory permissions first, so keys created after inherit them;
     * each key also gets them explicitly. */
    if (h->ops->xs_mkdir(h, tx, be_dir) ||
        h->ops->xs_set_perms(h, tx, be_dir, be_perms, be_nperms)) {
        vg_errf(err, errlen, "cannot create %s: %s", be_dir, strerror(errno));
        return -1;
    }
    /* A new identity for every attach (and every retry of the
     * transaction): vgrantd tells this device from an earlier one that
     * had the same directory by it (protocol.h "Identity"). */
    if (vg_attach_id_new(attach_id, sizeof(attach_id))) {
        vg_errf(err, errlen, "cannot generate an attach-id: %s",
                strerror(errno));
        return -1;
    }
#define BE_KEY(key, ...) \
    ts_write_key(h, tx, be_dir, be_perms, be_nperms, err, errlen, key, __VA_ARGS__)
    if (BE_KEY(VG_KEY_FRONTEND, "%s", fe_dir) ||
        BE_KEY(VG_KEY_FRONTEND_ID, "%u", fe) ||
        BE_KEY(VG_KEY_ONLINE, "1") ||
        BE_KEY(VG_KEY_STATE, "%u", VG_XB_INITIALISING) ||
        BE_KEY(VG_KEY_TYPE, "%s", s->type) ||
        BE_KEY(VG_KEY_MODE, "%s", s->mode) ||
        BE_KEY(VG_KEY_QUEUES, "%u", s->queues) ||
        BE_KEY(VG_KEY_QUEUE_SIZE, "%u", s->queue_size) ||
        BE_KEY(VG_KEY_ATTACH_ID, "%s", attach_id))
        return -1;
    if (!strcmp(s->mode, VG_MODE_STATIC) &&
        BE_KEY(VG_KEY_REGION, "%llu", (unsigned long long)s->region_bytes))
        return -1;
    /* the type's own keys, checked by check_spec */
    for (unsigned i = 0; i < s->ntkeys; i++)
        if (BE_KEY(s->tkeys[i].name, "%s", s->tkeys[i].value))
            return -1;
#undef BE_KEY

    if (h->ops->xs_mkdir(h, tx, fe_dir) ||
        h->ops->xs_set_perms(h, tx, fe_dir, fe_perms, fe_nperms)) {
        vg_errf(err, errlen, "cannot create %s: %s", fe_dir, strerror(errno));
        return -1;
    }
#define FE_KEY(key, ...) \
    ts_write_key(h, tx, fe_dir, fe_perms, fe_nperms, err, errlen, key, __VA_ARGS__)
    if (FE_KEY(VG_KEY_BACKEND, "%s", be_dir) ||
        FE_KEY(VG_KEY_BACKEND_ID, "%u", be) ||
        FE_KEY(VG_KEY_STATE, "%u", VG_XB_INITIALISING))
        return -1;
#undef FE_KEY

    *devid_out = devid;
    return 0;
}

/* attach_in_tx as a vg_xs_transact body; each attempt starts afresh */
struct attach_tx {
    uint16_t fe;
    const struct vg_attach_spec *s;
    char *err;
    size_t errlen;
    unsigned devid;
    unsigned calls;            /* attempts that reached the body */
    bool body_failed;          /* the last attempt's body failed: err says why */
};

static int attach_tx_body(struct vg_hyp *h, vg_xs_tx_t tx, void *arg)
{
    struct attach_tx *a = arg;

    a->calls++;
    a->devid = 0;
    a->body_failed = attach_in_tx(h, tx, a->fe, a->s, &a->devid, a->err,
                                  a->errlen) != 0;
    return a->body_failed ? -1 : 0;
}

int vg_toolstack_attach(struct vg_hyp *h, uint16_t frontend_domid,
                        const struct vg_attach_spec *s, unsigned *devid_out,
                        char *err, size_t errlen)
{
    struct attach_tx a = { 0 };
    unsigned attempts = 0;

    if (err && errlen)
        err[0] = '\0';
    if (ts_check_spec(s, err, errlen) ||
        check_domain(h, frontend_domid, "frontend", err, errlen) ||
        check_domain(h, s->backend_domid, "backend", err, errlen))
        return -1;

    a.fe = frontend_domid;
    a.s = s;
    a.err = err;
    a.errlen = errlen;
    if (vg_xs_transact(h, attach_tx_body, &a, &attempts)) {
        /* a failed body said why in err; a start or a commit did not */
        if (a.calls < attempts)
            vg_errf(err, errlen, "cannot start a xenstore transaction: %s",
                    strerror(errno));
        else if (!a.body_failed)
            vg_errf(err, errlen, "cannot commit device %u of domain %u "
                    "(attempt %u): %s", a.devid, frontend_domid, attempts,
                    strerror(errno));
        return -1;
    }
    if (err && errlen)
        err[0] = '\0';
    if (devid_out)
        *devid_out = a.devid;
    return 0;
}

/* ------------------------------------------------------------------------
 * detach
 * ------------------------------------------------------------------------ */

/* Longest sleep between checks of the backend, in case a watch event is
 * lost or the hypervisor layer has no watch fd. */
#define DETACH_POLL_MS 100

/* Find the backend domain serving (fe, devid) from the backend
 * directories, which the guest cannot forge, rather than from the
 * frontend's "backend-id".  *be_found is false when no backend has it. */
static int locate_backend(struct vg_hyp *h, uint16_t fe, unsigned devid,
                          uint16_t *be, bool *be_found,
                          char *err, size_t errlen)
{
    char path[VG_XS_PATH_MAX];
    uint16_t *doms;
    unsigned ndoms;

    *be_found = false;
    doms = ts_list_domains(h, VG_XS_NO_TX, &ndoms);
    if (!doms) {
        vg_errf(err, errlen, "cannot list /local/domain: %s", strerror(errno));
        return -1;
    }
    for (unsigned i = 0; i < ndoms && !*be_found; i++) {
        int rc;

        ts_backend_dir(path, sizeof(path), doms[i], fe, devid);
        rc = ts_node_exists(h, VG_XS_NO_TX, path);
        if (rc < 0) {
            vg_errf(err, errlen, "cannot read %s: %s", path, strerror(errno));
            free(doms);
            return -1;
        }
        if (rc > 0) {
            *be = doms[i];
            *be_found = true;
        }
    }
    free(doms);
    return 0;
}

/* Nothing more to wait for: the backend is Closed, its directory or either
 * domain is gone. */
static bool backend_done(struct vg_hyp *h, uint16_t fe, uint16_t be,
                         const char *be_dir)
{
    return vg_xs_read_state(h, be_dir) == VG_XB_CLOSED ||
           ts_node_exists(h, VG_XS_NO_TX, be_dir) == 0 ||
           h->ops->domain_alive(h, fe) == 0 ||
           h->ops->domain_alive(h, be) == 0;
}

/* 0 once backend_done, 1 on timeout. */
static int wait_backend_closed(struct vg_hyp *h, uint16_t fe, uint16_t be,
                               unsigned devid, const char *be_dir,
                               int timeout_ms)
{
    char state_path[VG_XS_PATH_MAX], token[64];
    char wpath[VG_XS_PATH_MAX], wtoken[64];
    const int64_t deadline = (int64_t)vg_now_ms() + timeout_ms;
    bool watched_state, watched_release;
    int fd, rc = 1;

    vg_path(state_path, sizeof(state_path), "%s/%s", be_dir, VG_KEY_STATE);
    snprintf(token, sizeof(token), "vgrant-detach-%u-%u", fe, devid);
    watched_state = h->ops->xs_watch(h, state_path, token) == 0;
    watched_release = h->ops->xs_watch(h, "@releaseDomain", token) == 0;
    fd = h->ops->xs_fd(h);

    for (;;) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int64_t left;

        if (backend_done(h, fe, be, be_dir)) {
            rc = 0;
            break;
        }
        left = deadline - (int64_t)vg_now_ms();
        if (left <= 0)
            break;
        if (left > DETACH_POLL_MS)
            left = DETACH_POLL_MS;
        /* fd < 0: poll ignores it and simply sleeps */
        if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
            break;
        while (h->ops->xs_next_watch(h, wpath, sizeof(wpath), wtoken,
                                     sizeof(wtoken)) == 0)
            ;   /* drained: every event leads to the same re-check */
    }

    if (watched_state)
        h->ops->xs_unwatch(h, state_path, token);
    if (watched_release)
        h->ops->xs_unwatch(h, "@releaseDomain", token);
    return rc;
}

static int rm_if_present(struct vg_hyp *h, vg_xs_tx_t tx, const char *path)
{
    if (h->ops->xs_rm(h, tx, path) == 0 || errno == ENOENT)
        return 0;
    return -1;
}

struct remove_tx {
    bool be_found;
    const char *be_dir, *fe_dir, *be_parent;
    const char *failed;        /* the path the last attempt could not remove */
    unsigned calls;            /* attempts that reached the body */
};

static int remove_tx_body(struct vg_hyp *h, vg_xs_tx_t tx, void *arg)
{
    struct remove_tx *r = arg;

    r->calls++;
    r->failed = NULL;
    if (r->be_found && rm_if_present(h, tx, r->be_dir))
        r->failed = r->be_dir;
    else if (rm_if_present(h, tx, r->fe_dir))
        r->failed = r->fe_dir;
    if (!r->failed && r->be_found) {
        char **names;
        unsigned n;

        if (ts_read_dir(h, tx, r->be_parent, &names, &n) == 0) {
            free(names);
            if (n == 0 && rm_if_present(h, tx, r->be_parent))
                r->failed = r->be_parent;
        }
    }
    return r->failed ? -1 : 0;
}

/* Remove both directories, and the per-frontend backend directory once
 * it holds no device, in one transaction. */
static int remove_device(struct vg_hyp *h, uint16_t fe, unsigned devid,
                         bool be_found, uint16_t be, char *err, size_t errlen)
{
    char be_dir[VG_XS_PATH_MAX], fe_dir[VG_XS_PATH_MAX];
    char be_parent[VG_XS_PATH_MAX];
    struct remove_tx r = { 0 };
    unsigned attempts = 0;

    ts_frontend_dir(fe_dir, sizeof(fe_dir), fe, devid);
    if (be_found) {
        ts_backend_dir(be_dir, sizeof(be_dir), be, fe, devid);
        vg_path(be_parent, sizeof(be_parent),
                "/local/domain/%u/backend/" VG_XS_CLASS "/%u", be, fe);
    }

    r.be_found = be_found;
    r.be_dir = be_dir;
    r.fe_dir = fe_dir;
    r.be_parent = be_parent;
    if (vg_xs_transact(h, remove_tx_body, &r, &attempts) == 0)
        return 0;
    if (r.calls < attempts)
        vg_errf(err, errlen, "cannot start a xenstore transaction: %s",
                strerror(errno));
    else if (r.failed)
        vg_errf(err, errlen, "cannot remove %s: %s", r.failed, strerror(errno));
    else
        vg_errf(err, errlen, "cannot commit removal of device %u of domain "
                "%u: %s", devid, fe, strerror(errno));
    return -1;
}

int vg_toolstack_detach(struct vg_hyp *h, uint16_t frontend_domid,
                        unsigned devid, int timeout_ms,
                        char *err, size_t errlen)
{
    const uint16_t fe = frontend_domid;
    char be_dir[VG_XS_PATH_MAX], fe_dir[VG_XS_PATH_MAX];
    uint16_t be = 0;
    bool be_found;
    int fe_found, timed_out = 0;

    if (err && errlen)
        err[0] = '\0';
    if (devid > VG_MAX_DEVID) {
        vg_errf(err, errlen, "devid %u outside [0, %u]", devid, VG_MAX_DEVID);
        errno = EINVAL;
        return -1;
    }
    if (timeout_ms < 0)
        timeout_ms = 0;

    if (locate_backend(h, fe, devid, &be, &be_found, err, errlen))
        return -1;
    ts_frontend_dir(fe_dir, sizeof(fe_dir), fe, devid);
    fe_found = ts_node_exists(h, VG_XS_NO_TX, fe_dir);
    if (fe_found < 0) {
        vg_errf(err, errlen, "cannot read %s: %s", fe_dir, strerror(errno));
        return -1;
    }
    if (!be_found && !fe_found) {
        vg_errf(err, errlen, "domain %u has no virtio-grant device %u",
                fe, devid);
        errno = ENOENT;
        return -1;
    }

    if (be_found) {
        ts_backend_dir(be_dir, sizeof(be_dir), be, fe, devid);
        if (vg_xs_write_fmt(h, VG_XS_NO_TX, be_dir, VG_KEY_ONLINE, "0") &&
            errno != ENOENT) {
            vg_errf(err, errlen, "cannot write %s/%s=0: %s", be_dir,
                    VG_KEY_ONLINE, strerror(errno));
            return -1;
        }
        timed_out = wait_backend_closed(h, fe, be, devid, be_dir, timeout_ms);
    }

    if (remove_device(h, fe, devid, be_found, be, err, errlen))
        return -1;
    if (timed_out) {
        vg_errf(err, errlen, "domain %u device %u: backend did not close "
                "within %g s: is vgrantd running in domain %u? Removed the "
                "device anyway", fe, devid, timeout_ms / 1000.0, be);
        return 1;
    }
    return 0;
}

