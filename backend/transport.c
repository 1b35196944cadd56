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
