/* SPDX-License-Identifier: MIT */
/*
 * Pages granted once per session and the allocator over them:
 *   static      the region (backend key "region" bytes), granted writable
 *               at connect and published as region-pages/region-refs-<k>;
 *               every buffer is bounced into it in 64-byte units;
 *   persistent  the I/O pool (vgf_opts.pool_pages), granted writable at
 *               connect; buffers outside it are bounced into it in whole
 *               pages, buffers from vgf_pool_alloc are used in place.
 * First-fit over a bitmap: simple, and the region is small enough
 * (<= 65536 pages) for a scan per request.  When it is full the submitter
 * waits for completions (vgf_request.c), it does not fail.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vgf_internal.h"

#define STATIC_UNIT_SHIFT 6     /* 64 bytes: a header does not take a page */

static bool unit_used(const struct vgf_arena *a, size_t i)
{
    return a->bits[i / 64] >> (i % 64) & 1;
}

static void units_mark(struct vgf_arena *a, size_t start, size_t n, bool used)
{
    for (size_t i = start; i < start + n; i++) {
        if (used)
            a->bits[i / 64] |= 1ull << (i % 64);
        else
            a->bits[i / 64] &= ~(1ull << (i % 64));
    }
}

long vgf_arena_alloc(struct vgf_arena *a, size_t n)
{
    size_t run = 0, start = 0;

    if (!a->base || n == 0 || n > a->nunits - a->used)
        return -1;
    for (size_t i = 0; i < a->nunits; i++) {
        if (i % 64 == 0 && a->bits[i / 64] == UINT64_MAX &&
            i + 64 <= a->nunits) {
            run = 0;
            i += 63;
            continue;
        }
        if (unit_used(a, i)) {
            run = 0;
            continue;
        }
        if (run++ == 0)
            start = i;
        if (run == n) {
            units_mark(a, start, n, true);
            a->used += n;
            return (long)start;
        }
    }
    return -1;
}

void vgf_arena_free(struct vgf_arena *a, size_t start, size_t n)
{
    if (!a->base || n == 0 || start + n > a->nunits)
        return;
    units_mark(a, start, n, false);
    a->used -= n;
}

long vgf_arena_offset(const struct vgf_arena *a, const void *p, size_t len)
{
    uintptr_t b = (uintptr_t)a->base, x = (uintptr_t)p;
    size_t size = (size_t)a->npages * VG_PAGE_SIZE;

    if (!a->base || x < b || x - b > size || len > size - (x - b))
        return -1;
    return (long)(x - b);
}

int vgf_arena_setup(struct vgf_dev *d)
{
    struct vgf_arena *a = &d->arena;
    uint64_t pages;

    if (d->xmode == VGF_XMODE_GRANT || a->base)
        return 0;
    if (d->xmode == VGF_XMODE_STATIC) {
        pages = d->region_bytes / VG_PAGE_SIZE;
        a->unit_shift = STATIC_UNIT_SHIFT;
    } else {
        pages = d->opts.pool_pages;
        a->unit_shift = VG_PAGE_SHIFT;
    }
    a->refs = calloc(pages, sizeof(*a->refs));
    a->nunits = (size_t)(pages * VG_PAGE_SIZE) >> a->unit_shift;
    a->bits = calloc((a->nunits + 63) / 64, sizeof(*a->bits));
    if (!a->refs || !a->bits) {
        errno = ENOMEM;
        goto fail;
    }
    a->base = d->h->ops->share_pages(d->h, d->backend_id, (uint32_t)pages,
                                     a->refs, true);
    if (!a->base) {
        vgf_log(d, VG_LOG_ERR, "granting the %s of %llu pages to dom %u: %m",
                d->xmode == VGF_XMODE_STATIC ? "static region" : "I/O pool",
                (unsigned long long)pages, d->backend_id);
        goto fail;
    }
    a->npages = (uint32_t)pages;
    a->used = 0;
    return 0;
fail:
    {
        int err = errno;
        free(a->refs);
        free(a->bits);
        memset(a, 0, sizeof(*a));
        errno = err;
    }
    return -1;
}

void vgf_arena_release(struct vgf_dev *d)
{
    struct vgf_arena *a = &d->arena;

    if (a->base && d->h->ops->unshare_pages(d->h, a->base, a->npages))
        vgf_log(d, VG_LOG_WARN, "revoking the region/pool grants: %m");
    free(a->refs);
    free(a->bits);
    memset(a, 0, sizeof(*a));
}

int vgf_arena_publish(struct vgf_dev *d, vg_xs_tx_t tx)
{
    char key[32], val[VG_MAX_XS_VALUE];

    if (d->xmode != VGF_XMODE_STATIC)
        return 0;
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

void *vgf_pool_alloc(struct vgf_dev *d, size_t len)
{
    long start;

    if (!d || len == 0) {
        errno = EINVAL;
        return NULL;
    }
    if (d->xmode != VGF_XMODE_PERSISTENT || !d->arena.base) {
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

    if (!d || !p || d->xmode != VGF_XMODE_PERSISTENT)
        return;
    off = vgf_arena_offset(&d->arena, p, len);
    if (off < 0 || off % VG_PAGE_SIZE)
        return;
    vgf_arena_free(&d->arena, (size_t)off >> VG_PAGE_SHIFT,
                   (len + VG_PAGE_SIZE - 1) / VG_PAGE_SIZE);
}
