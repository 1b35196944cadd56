/* SPDX-License-Identifier: MIT */
/*
 * The frontend's transport mode table (struct vgf_xport, vgf_internal.h)
 * and the descriptor builder the modes that hand out grant refs share.
 * copy and auto differ from grant only in the backend: their frontend side
 * is grant mode's.
 */
#include <errno.h>
#include <string.h>

#include "vgf_internal.h"

static const struct {
    const char *mode;       /* backend key "mode" (VG_MODE_*) */
    const struct vgf_xport *xport;
} modes[] = {
    { VG_MODE_GRANT, &vgf_xport_grant },
    { VG_MODE_COPY, &vgf_xport_grant },
    { VG_MODE_AUTO, &vgf_xport_grant },
    { VG_MODE_PERSISTENT, &vgf_xport_persistent },
    { VG_MODE_STATIC, &vgf_xport_static },
};

const struct vgf_xport *vgf_xport_find(const char *mode)
{
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
        if (!strcmp(modes[i].mode, mode))
            return modes[i].xport;
    return NULL;
}

uint32_t vgf_buf_pages(size_t len)
{
    return (uint32_t)((len + VG_PAGE_SIZE - 1) / VG_PAGE_SIZE);
}

int vgf_emit_refs(const struct vgf_dev *d, struct vgf_queue *q,
                  const vg_gref_t *refs, size_t off, size_t len, unsigned *n)
{
    size_t pos = off;

    len += off;   /* from here on: byte positions in the page run */
    while (pos < len) {
        size_t page = pos / VG_PAGE_SIZE;
        size_t end = len, boundary;

        if (d->max_seg && end - pos > d->max_seg)
            end = pos + d->max_seg;
        for (boundary = (page + 1) * VG_PAGE_SIZE; boundary < end;
             boundary += VG_PAGE_SIZE) {
            size_t p = boundary / VG_PAGE_SIZE;
            if (refs[p] != refs[p - 1] + 1) {
                end = boundary;
                break;
            }
        }
        if (*n >= q->size) {
            errno = E2BIG;  /* more descriptors than the ring has */
            return -1;
        }
        q->scratch[*n].addr = vg_grant_addr(refs[page],
                                            (uint32_t)(pos % VG_PAGE_SIZE));
        q->scratch[*n].len = (uint32_t)(end - pos);
        (*n)++;
        pos = end;
    }
    return 0;
}
