/* SPDX-License-Identifier: MIT */
/*
 * Transport modes grant, copy and auto, frontend side: fresh pages per
 * request, one share call for all device-readable buffers (read-only) and
 * one for all device-writable buffers (writable).  Every buffer starts at
 * offset 0 of its own page run, so a page the backend can reach holds this
 * request's bytes and zeros, never anything else of ours (XSA-396); the
 * caller's memory itself is never granted.  Descriptors: one per run of
 * consecutive refs, cut at max_seg.  The pages are revoked when the
 * request completes (vgf_req_release_pages).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vgf_internal.h"

/* Share one set of buffers (all out or all in) and emit their descriptors. */
static void *share_buffers(struct vgf_dev *d, struct vgf_queue *q,
                           const struct vgf_iov *iov, unsigned n_iov,
                           uint32_t npages, bool writable, vg_gref_t *refs,
                           unsigned *ndesc)
{
    struct vg_hyp *h = d->h;
    uint8_t *pages;
    size_t page_off = 0;

    pages = h->ops->share_pages(h, d->backend_id, npages, refs, writable);
    if (!pages) {
        vgf_log(d, VG_LOG_DEBUG, "granting %u pages to dom %u: %s", npages,
                d->backend_id, strerror(errno));
        return NULL;
    }
    d->stats.share_calls++;
    d->stats.pages_shared += npages;
    for (unsigned i = 0; i < n_iov; i++) {
        if (!writable)
            memcpy(pages + page_off * VG_PAGE_SIZE, iov[i].base, iov[i].len);
        if (vgf_emit_refs(d, q, refs + page_off, 0, iov[i].len, ndesc)) {
            int e = errno;
            h->ops->unshare_pages(h, pages, npages);
            errno = e;
            return NULL;
        }
        page_off += vgf_buf_pages(iov[i].len);
    }
    return pages;
}

static uint64_t iov_pages(const struct vgf_iov *iov, unsigned n)
{
    uint64_t pages = 0;

    for (unsigned i = 0; i < n; i++)
        pages += vgf_buf_pages(iov[i].len);
    return pages;
}

static int grant_prepare(struct vgf_dev *d, struct vgf_queue *q,
                         struct vgf_req *r, const struct vgf_iov *out,
                         unsigned n_out, const struct vgf_iov *in,
                         unsigned n_in, unsigned *ndesc, unsigned *n_out_desc)
{
    uint64_t out_pages = iov_pages(out, n_out), in_pages = iov_pages(in, n_in);
    vg_gref_t *refs = malloc((size_t)(out_pages + in_pages) * sizeof(*refs));
    int rc = -1;

    if (!refs) {
        errno = ENOMEM;
        return -1;
    }
    if (out_pages) {
        r->out_pages = share_buffers(d, q, out, n_out, (uint32_t)out_pages,
                                     false, refs, ndesc);
        if (!r->out_pages)
            goto out;
        r->out_npages = (uint32_t)out_pages;
    }
    *n_out_desc = *ndesc;
    if (in_pages) {
        r->in_pages = share_buffers(d, q, in, n_in, (uint32_t)in_pages, true,
                                    refs + out_pages, ndesc);
        if (!r->in_pages)
            goto out;
        r->in_npages = (uint32_t)in_pages;
    }
    rc = 0;
out:
    {
        int e = errno;
        free(refs);
        errno = e;
    }
    return rc;
}

static void grant_copy_back(struct vgf_dev *d, struct vgf_req *r,
                            uint32_t used_len)
{
    const uint8_t *pages = r->in_pages;
    size_t left = used_len, page_off = 0;

    (void)d;
    for (unsigned i = 0; i < r->n_in && left > 0; i++) {
        size_t n = r->in_iov[i].len < left ? r->in_iov[i].len : left;

        memcpy(r->in_iov[i].base, pages + page_off * VG_PAGE_SIZE, n);
        left -= n;
        page_off += vgf_buf_pages(r->in_iov[i].len);
    }
}

const struct vgf_xport vgf_xport_grant = {
    .name = VG_MODE_GRANT,
    .prepare = grant_prepare,
    .copy_back = grant_copy_back,
};
