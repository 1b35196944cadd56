/* SPDX-License-Identifier: MIT */
/*
 * Transport mode registry and what the modes share, see transport.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "device.h"
#include "vgrant/log.h"

#define VGD_XPORT_LOG_FIRST 16u
#define VGD_XPORT_LOG_EVERY 1024u

const struct vgd_transport *vgd_transport_find(const char *mode)
{
    static const struct vgd_transport *const all[] = {
        &vgd_transport_grant, &vgd_transport_copy, &vgd_transport_auto,
        &vgd_transport_static, &vgd_transport_persistent,
    };

    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (!strcmp(all[i]->name, mode))
            return all[i];
    return NULL;
}

void vgd_xport_warn(const struct vgd_dev *dev, uint64_t *failures,
                    const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    (*failures)++;
    if (*failures > VGD_XPORT_LOG_FIRST && *failures % VGD_XPORT_LOG_EVERY)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    vg_dev_log(VG_LOG_WARN, dev->fe_domid, dev->devid,
               "%s mode: %s; failing the request (#%llu)", dev->xport->name,
               msg, (unsigned long long)*failures);
}

int vgd_xport_check_buffer(const struct vgd_dev *dev, uint64_t *failures,
                           unsigned i, const struct vq_elem *e,
                           uint64_t *pages)
{
    uint32_t ref, off;

    if (!vg_grant_addr_valid(e->addr)) {
        vgd_xport_warn(dev, failures, "buffer %u address 0x%llx is not a "
                       "grant address", i, (unsigned long long)e->addr);
        return -1;
    }
    ref = vg_grant_addr_ref(e->addr);
    off = vg_grant_addr_offset(e->addr);
    *pages = ((uint64_t)off + e->len + VG_PAGE_SIZE - 1) >> VG_PAGE_SHIFT;
    if ((uint64_t)ref + *pages - 1 > UINT32_MAX) {
        vgd_xport_warn(dev, failures, "buffer %u ref run %u+%llu overflows "
                       "32 bits", i, ref, (unsigned long long)*pages);
        return -1;
    }
    return 0;
}
