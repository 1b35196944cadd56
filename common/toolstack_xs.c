/* SPDX-License-Identifier: MIT */
/*
 * xenstore helpers of the toolstack (toolstack_int.h): directories with
 * the device's permissions, listings, the device directory paths
 * (protocol.h "XENSTORE LAYOUT"), shared by attach, detach and list.
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

/* 1 if path exists, 0 if not, -1 with errno on error. */
int ts_node_exists(struct vg_hyp *h, vg_xs_tx_t tx, const char *path)
{
    unsigned len = 0;
    char *v = h->ops->xs_read(h, tx, path, &len);

    if (v) {
        free(v);
        return 1;
    }
    return errno == ENOENT ? 0 : -1;
}

/* Create path owned by owner (nobody else may look) unless it exists;
 * intermediate directories the toolstack creates must belong to the
 * domain whose subtree they are in, as with libxl. */
int ts_ensure_dir(struct vg_hyp *h, vg_xs_tx_t tx, const char *path,
                  uint16_t owner, char *err, size_t errlen)
{
    struct vg_xs_perm perm = { .domid = owner, .perm = VG_XS_PERM_NONE };
    int rc = ts_node_exists(h, tx, path);

    if (rc < 0)
        goto fail;
    if (rc > 0)
        return 0;
    if (h->ops->xs_mkdir(h, tx, path) ||
        h->ops->xs_set_perms(h, tx, path, &perm, 1))
        goto fail;
    return 0;
fail:
    vg_errf(err, errlen, "cannot create %s: %s", path, strerror(errno));
    return -1;
}

/* Write dir/key and give it the device directory's permissions. */
int ts_write_key(struct vg_hyp *h, vg_xs_tx_t tx, const char *dir,
                 const struct vg_xs_perm *perms, unsigned nperms,
                 char *err, size_t errlen, const char *key,
                 const char *fmt, ...)
{
    char path[VG_XS_PATH_MAX];
    char value[VG_MAX_XS_VALUE + 1];
    va_list ap;
    int n;

    if (vg_path(path, sizeof(path), "%s/%s", dir, key)) {
        vg_errf(err, errlen, "xenstore path %s/%s is too long", dir, key);
        return -1;
    }
    va_start(ap, fmt);
    n = vsnprintf(value, sizeof(value), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(value)) {
        errno = E2BIG;
        vg_errf(err, errlen, "value of %s is too long", path);
        return -1;
    }
    if (h->ops->xs_write(h, tx, path, value) ||
        h->ops->xs_set_perms(h, tx, path, perms, nperms)) {
        vg_errf(err, errlen, "cannot write %s=%s: %s", path, value,
                strerror(errno));
        return -1;
    }
    return 0;
}

/* List dir into *names (one free() releases all).  A missing or empty
 * directory gives *names = NULL, *num = 0 and returns 0. */
int ts_read_dir(struct vg_hyp *h, vg_xs_tx_t tx, const char *dir,
                char ***names, unsigned *num)
{
    *num = 0;
    errno = 0;
    *names = h->ops->xs_directory(h, tx, dir, num);
    if (!*names) {
        *num = 0;
        return (errno == 0 || errno == ENOENT) ? 0 : -1;
    }
    return 0;
}

/* Domain ids listed under /local/domain, sorted; malloc'd (NULL + errno on
 * error). */
uint16_t *ts_list_domains(struct vg_hyp *h, vg_xs_tx_t tx, unsigned *num)
{
    unsigned n, count = 0;
    char **names;
    uint16_t *ids;

    if (ts_read_dir(h, tx, "/local/domain", &names, &n))
        return NULL;
    ids = calloc(n ? n : 1, sizeof(*ids));
    if (!ids) {
        free(names);
        return NULL;
    }
    for (unsigned i = 0; i < n; i++) {
        uint64_t v;
        if (!vg_parse_uint(names[i], UINT16_MAX, &v))
            ids[count++] = (uint16_t)v;
    }
    free(names);
    /* insertion sort: a host has few domains */
    for (unsigned i = 1; i < count; i++) {
        uint16_t id = ids[i];
        unsigned j = i;
        for (; j > 0 && ids[j - 1] > id; j--)
            ids[j] = ids[j - 1];
        ids[j] = id;
    }
    *num = count;
    return ids;
}

/* Mark the devids listed under dir in used[]; a missing dir adds nothing. */
int ts_mark_devids(struct vg_hyp *h, vg_xs_tx_t tx, const char *dir,
                   uint8_t *used)
{
    unsigned n;
    char **names;

    if (ts_read_dir(h, tx, dir, &names, &n))
        return -1;
    for (unsigned i = 0; i < n; i++) {
        uint64_t v;
        if (!vg_parse_uint(names[i], VG_MAX_DEVID, &v))
            used[v / 8] |= (uint8_t)(1u << (v % 8));
    }
    free(names);
    return 0;
}

void ts_backend_dir(char *buf, unsigned size, uint16_t be, uint16_t fe,
                    unsigned devid)
{
    /* cannot overflow VG_XS_PATH_MAX with 16-bit ids and devids */
    vg_path(buf, size, "/local/domain/%u/backend/" VG_XS_CLASS "/%u/%u",
            be, fe, devid);
}

void ts_frontend_dir(char *buf, unsigned size, uint16_t fe, unsigned devid)
{
    vg_path(buf, size, "/local/domain/%u/device/" VG_XS_CLASS "/%u", fe, devid);
}

