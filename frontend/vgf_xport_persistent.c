/* SPDX-License-Identifier: MIT */
/*
 * Transport mode persistent, frontend side: an I/O pool of
 * vgf_opts.pool_pages pages granted writable once at connect.  Buffers the
 * caller took from it (vgf_pool_alloc) are used in place, zero copy; any
 * other buffer is bounced into it in whole pages (vgf_arena.c).
 * Descriptors carry the pool's grant refs, so the backend's cache of
 * mappings keeps hitting.
 */
#include <errno.h>

#include "vgf_internal.h"

static int persistent_setup(struct vgf_dev *d)
{
    return vgf_arena_setup(d, d->opts.pool_pages, VG_PAGE_SHIFT, "I/O pool");
}

static int emit_pool(const struct vgf_dev *d, struct vgf_queue *q,
                     size_t off, size_t len, unsigned *n)
{
    return vgf_emit_refs(d, q, d->arena.refs, off, len, n);
}

static int persistent_prepare(struct vgf_dev *d, struct vgf_queue *q,
                              struct vgf_req *r, const struct vgf_iov *out,
                              unsigned n_out, const struct vgf_iov *in,
                              unsigned n_in, unsigned *ndesc,
                              unsigned *n_out_desc)
{
    return vgf_arena_prepare(d, q, r, out, n_out, in, n_in, ndesc, n_out_desc,
                             true, emit_pool);
}

const struct vgf_xport vgf_xport_persistent = {
    .name = VG_MODE_PERSISTENT,
    .setup = persistent_setup,
    .prepare = persistent_prepare,
    .copy_back = vgf_arena_copy_back,
    .pool = true,
};

void *vgf_pool_alloc(struct vgf_dev *d, size_t len)
{
    long start;

    if (!d || len == 0) {
        errno = EINVAL;
        return NULL;
    }
    if (!d->xport->pool || !d->arena.base) {
        errno = EOPNOTSUPP;
        return NULL;
    }
    start = vgf_arena_alloc(&d->arena, (len + VG_PAGE_SIZE - 1) / VG_PAGE_SIZE);
    if (start < 0) {
        errno = ENOSPC;
        return NULL;
    }
    if ((uint64_t)d->arena.used * VG_PAGE_SIZE > d->stats.region_high_water)
        d->stats.region_high_water = (uint64_t)d->arena.used * VG_PAGE_SIZE;
    return d->arena.base + ((size_t)start << VG_PAGE_SHIFT);
}

void vgf_pool_free(struct vgf_dev *d, void *p, size_t len)
{
    long off;

    if (!d || !p || !d->xport->pool)
        return;
    off = vgf_arena_offset(&d->arena, p, len);
    if (off < 0 || off % VG_PAGE_SIZE)
        return;
    vgf_arena_free(&d->arena, (size_t)off >> VG_PAGE_SHIFT,
                   (len + VG_PAGE_SIZE - 1) / VG_PAGE_SIZE);
}
