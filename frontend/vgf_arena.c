/* SPDX-License-Identifier: MIT */
/*
 * Pages granted once per session, the allocator over them, and the
 * request path of the modes that use them (vgf_xport_static.c: the
 * region, 64-byte units; vgf_xport_persistent.c: the I/O pool, whole
 * pages, vgf_pool_alloc buffers used in place).
 * First-fit over a bitmap: simple, and the region is small enough
 * (<= 65536 pages) for a scan per request.  When it is full the submitter
 * waits for completions (vgf_reap_one), it does not fail.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vgf_internal.h"

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

int vgf_arena_setup(struct vgf_dev *d, uint64_t pages, unsigned unit_shift,
                    const char *what)
{
    struct vgf_arena *a = &d->arena;

    if (a->base)
        return 0;
    a->unit_shift = unit_shift;
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
        vgf_log(d, VG_LOG_ERR, "granting the %s of %llu pages to dom %u: %s",
                what, (unsigned long long)pages, d->backend_id,
                strerror(errno));
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
        vgf_log(d, VG_LOG_WARN, "revoking the region/pool grants: %s",
                strerror(errno));
    free(a->refs);
    free(a->bits);
    memset(a, 0, sizeof(*a));
}


static size_t arena_units(const struct vgf_arena *a, size_t len)
{
    return (len + ((size_t)1 << a->unit_shift) - 1) >> a->unit_shift;
}

int vgf_arena_prepare(struct vgf_dev *d, struct vgf_queue *q,
                      struct vgf_req *r, const struct vgf_iov *out,
                      unsigned n_out, const struct vgf_iov *in, unsigned n_in,
                      unsigned *ndesc, unsigned *n_out_desc, bool pool,
                      int (*emit)(const struct vgf_dev *d, struct vgf_queue *q,
                                  size_t off, size_t len, unsigned *n))
{
    struct vgf_arena *a = &d->arena;
    size_t units = 0, pos;
    bool waited = false;
    long start = 0;

    for (unsigned i = 0; i < n_out + n_in; i++) {
        const struct vgf_iov *v = i < n_out ? &out[i] : &in[i - n_out];

        if (!pool || vgf_arena_offset(a, v->base, v->len) < 0)
            units += arena_units(a, v->len);
    }
    if (units > a->nunits) {
        errno = E2BIG;   /* can never fit: the caller must split */
        return -1;
    }
    while (units && (start = vgf_arena_alloc(a, units)) < 0) {
        if (!waited)
            d->stats.throttle_waits++;
        waited = true;
        if (vgf_reap_one(d))
            return -1;
    }
    /* reaping may have completed requests: the slot and ring room hold */
    r->run_start = (size_t)start;
    r->run_units = units;
    if ((uint64_t)a->used << a->unit_shift > d->stats.region_high_water)
        d->stats.region_high_water = (uint64_t)a->used << a->unit_shift;

    pos = (size_t)start << a->unit_shift;
    for (unsigned i = 0; i < n_out + n_in; i++) {
        const struct vgf_iov *v = i < n_out ? &out[i] : &in[i - n_out];
        long at = pool ? vgf_arena_offset(a, v->base, v->len) : -1;
        size_t where;

        if (i == n_out)
            *n_out_desc = *ndesc;
        if (at >= 0) {
            where = (size_t)at;
            d->stats.zero_copy_bytes += v->len;
        } else {
            where = pos;
            pos += arena_units(a, v->len) << a->unit_shift;
            if (i < n_out) {
                memcpy(a->base + where, v->base, v->len);
                d->stats.bounce_bytes += v->len;
            }
        }
        if (i >= n_out)
            r->in_pos[i - n_out] = at >= 0 ? SIZE_MAX : where;
        if (emit(d, q, where, v->len, ndesc))
            return -1;
    }
    if (n_in == 0)
        *n_out_desc = *ndesc;
    return 0;
}

void vgf_arena_copy_back(struct vgf_dev *d, struct vgf_req *r,
                         uint32_t used_len)
{
    size_t left = used_len;

    for (unsigned i = 0; i < r->n_in && left > 0; i++) {
        size_t n = r->in_iov[i].len < left ? r->in_iov[i].len : left;

        if (r->in_pos[i] != SIZE_MAX && d->arena.base) {
            memcpy(r->in_iov[i].base, d->arena.base + r->in_pos[i], n);
            d->stats.bounce_bytes += n;
        }
        left -= n;
    }
}
