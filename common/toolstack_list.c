/* SPDX-License-Identifier: MIT */
/*
 * Toolstack side of virtio-grant: list the devices backend domains hold
 * (vg_toolstack_list), for `vgrant list`.
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
 * list
 * ------------------------------------------------------------------------ */

/* Copy a value the backend domain may have rewritten, for display: bounded
 * and with anything unprintable replaced. */
static void read_display(struct vg_hyp *h, const char *dir, const char *key,
                         char *buf, size_t size)
{
    char *v = vg_xs_read_str(h, VG_XS_NO_TX, dir, key);
    size_t i = 0;

    if (v) {
        for (; v[i] && i + 1 < size; i++)
            buf[i] = (v[i] >= 0x20 && v[i] < 0x7f) ? v[i] : '?';
        free(v);
    }
    buf[i] = '\0';
}

static void read_device(struct vg_hyp *h, uint16_t be, uint16_t fe,
                        unsigned devid, struct vg_device_info *d)
{
    char be_dir[VG_XS_PATH_MAX], fe_dir[VG_XS_PATH_MAX];
    uint64_t ro = 0;

    ts_backend_dir(be_dir, sizeof(be_dir), be, fe, devid);
    ts_frontend_dir(fe_dir, sizeof(fe_dir), fe, devid);
    memset(d, 0, sizeof(*d));
    d->frontend_domid = fe;
    d->devid = devid;
    d->backend_domid = be;
    read_display(h, be_dir, VG_KEY_TYPE, d->type, sizeof(d->type));
    read_display(h, be_dir, VG_KEY_MODE, d->mode, sizeof(d->mode));
    read_display(h, be_dir, VG_KEY_TARGET, d->target, sizeof(d->target));
    if (vg_xs_read_uint(h, VG_XS_NO_TX, be_dir, VG_KEY_READONLY, 1, &ro) == 0)
        d->readonly = ro == 1;
    d->be_state = vg_xs_read_state(h, be_dir);
    d->fe_state = vg_xs_read_state(h, fe_dir);
}

static int cmp_device(const void *a, const void *b)
{
    const struct vg_device_info *x = a, *y = b;

    if (x->frontend_domid != y->frontend_domid)
        return x->frontend_domid < y->frontend_domid ? -1 : 1;
    if (x->devid != y->devid)
        return x->devid < y->devid ? -1 : 1;
    if (x->backend_domid != y->backend_domid)
        return x->backend_domid < y->backend_domid ? -1 : 1;
    return 0;
}

/* Append the devices that backend domain be holds for frontends matching
 * want_fe (-1 = all). */
static int collect_backend(struct vg_hyp *h, uint16_t be, int want_fe,
                           struct vg_device_info **devs, unsigned *ndevs,
                           unsigned *cap)
{
    char class_dir[VG_XS_PATH_MAX], fe_path[VG_XS_PATH_MAX];
    char **fes = NULL, **ids = NULL;
    unsigned nfes, nids;
    int rc = -1;

    vg_path(class_dir, sizeof(class_dir),
            "/local/domain/%u/backend/" VG_XS_CLASS, be);
    if (ts_read_dir(h, VG_XS_NO_TX, class_dir, &fes, &nfes))
        return -1;
    for (unsigned i = 0; i < nfes; i++) {
        uint64_t fe;

        if (vg_parse_uint(fes[i], UINT16_MAX, &fe) ||
            (want_fe >= 0 && fe != (uint64_t)want_fe))
            continue;
        vg_path(fe_path, sizeof(fe_path), "%s/%u", class_dir, (unsigned)fe);
        if (ts_read_dir(h, VG_XS_NO_TX, fe_path, &ids, &nids))
            goto out;
        for (unsigned j = 0; j < nids; j++) {
            uint64_t devid;

            if (vg_parse_uint(ids[j], VG_MAX_DEVID, &devid))
                continue;
            if (*ndevs == *cap) {
                unsigned ncap = *cap ? *cap * 2 : 16;
                struct vg_device_info *n = realloc(*devs, ncap * sizeof(*n));
                if (!n)
                    goto out;
                *devs = n;
                *cap = ncap;
            }
            read_device(h, be, (uint16_t)fe, (unsigned)devid,
                        &(*devs)[(*ndevs)++]);
        }
        free(ids);
        ids = NULL;
    }
    rc = 0;
out:
    free(ids);
    free(fes);
    return rc;
}

int vg_toolstack_list(struct vg_hyp *h, int frontend_domid,
                      vg_device_cb cb, void *arg, char *err, size_t errlen)
{
    struct vg_device_info *devs = NULL;
    unsigned ndevs = 0, cap = 0, ndoms;
    uint16_t *doms;
    int rc = -1;

    if (err && errlen)
        err[0] = '\0';
    if (frontend_domid > (int)UINT16_MAX || frontend_domid < -1) {
        vg_errf(err, errlen, "domain %d is not a domain id", frontend_domid);
        errno = EINVAL;
        return -1;
    }
    doms = ts_list_domains(h, VG_XS_NO_TX, &ndoms);
    if (!doms) {
        vg_errf(err, errlen, "cannot list /local/domain: %s", strerror(errno));
        return -1;
    }
    for (unsigned i = 0; i < ndoms; i++) {
        if (collect_backend(h, doms[i], frontend_domid, &devs, &ndevs, &cap)) {
            vg_errf(err, errlen, "cannot list the virtio-grant devices of "
                    "backend domain %u: %s", doms[i], strerror(errno));
            goto out;
        }
    }
    if (ndevs)
        qsort(devs, ndevs, sizeof(*devs), cmp_device);
    for (unsigned i = 0; i < ndevs; i++) {
        if (cb && cb(&devs[i], arg)) {
            errno = ECANCELED;
            goto out;
        }
    }
    rc = (int)ndevs;
out:
    free(devs);
    free(doms);
    return rc;
}

