/* SPDX-License-Identifier: MIT */
/*
 * Transport mode static, frontend side: one region of the backend key
 * "region" bytes, granted writable once at connect and published as
 * region-pages / region-refs-<k>; every buffer is bounced into it in
 * 64-byte units (vgf_arena.c) and descriptor addresses are byte offsets
 * into it, not grant addresses.  No share call per request.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "vgf_internal.h"

#define STATIC_UNIT_SHIFT 6     /* 64 bytes: a header does not take a page */

static int static_read_keys(struct vgf_dev *d)
{
    uint64_t region;

    if (vgf_read_be_uint(d, VG_KEY_REGION, VG_PAGE_SIZE, VG_MAX_REGION_BYTES,
                         &region))
        return -1;
    if (region % VG_PAGE_SIZE) {
        char r[24];
        snprintf(r, sizeof(r), "%" PRIu64, region);
        return vgf_bad_key(d, VG_KEY_REGION, r, "not a multiple of 4096");
    }
    d->region_bytes = region;
    return 0;
}

static int static_setup(struct vgf_dev *d)
{
    return vgf_arena_setup(d, d->region_bytes / VG_PAGE_SIZE,
                           STATIC_UNIT_SHIFT, "static region");
}

/* region-pages and region-refs-<k> */
static int static_publish(struct vgf_dev *d, vg_xs_tx_t tx)
{
    char key[32], val[VG_MAX_XS_VALUE];

    if (vg_xs_write_fmt(d->h, tx, d->fe_dir, VG_KEY_REGION_PAGES, "%u",
                        d->arena.npages))
        return -1;
    for (uint32_t k = 0; k * VG_REGION_REFS_PER_KEY < d->arena.npages; k++) {
        uint32_t first = k * VG_REGION_REFS_PER_KEY;
        uint32_t n = d->arena.npages - first;

        if (n > VG_REGION_REFS_PER_KEY)
            n = VG_REGION_REFS_PER_KEY;
        snprintf(key, sizeof(key), VG_KEY_REGION_REFS_FMT, k);
        if (vg_format_ref_list(val, sizeof(val), d->arena.refs + first, n) ||
            vg_xs_write_fmt(d->h, tx, d->fe_dir, key, "%s", val))
            return -1;
    }
    return 0;
}

/* descriptors are byte offsets into the region */
static int emit_offset(const struct vgf_dev *d, struct vgf_queue *q,
                       size_t off, size_t len, unsigned *n)
{
    size_t pos = 0;

    while (pos < len) {
        size_t l = len - pos;

        if (d->max_seg && l > d->max_seg)
            l = d->max_seg;
        if (*n >= q->size) {
            errno = E2BIG;
            return -1;
        }
        q->scratch[*n].addr = off + pos;
        q->scratch[*n].len = (uint32_t)l;
        (*n)++;
        pos += l;
    }
    return 0;
}

static int static_prepare(struct vgf_dev *d, struct vgf_queue *q,
                          struct vgf_req *r, const struct vgf_iov *out,
                          unsigned n_out, const struct vgf_iov *in,
                          unsigned n_in, unsigned *ndesc, unsigned *n_out_desc)
{
    return vgf_arena_prepare(d, q, r, out, n_out, in, n_in, ndesc, n_out_desc,
                             false, emit_offset);
}

const struct vgf_xport vgf_xport_static = {
    .name = VG_MODE_STATIC,
    .read_keys = static_read_keys,
    .setup = static_setup,
    .publish = static_publish,
    .prepare = static_prepare,
    .copy_back = vgf_arena_copy_back,
};
