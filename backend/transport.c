/* SPDX-License-Identifier: MIT */
/*
 * Transport mode registry and what the modes share, see transport.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "device.h"
#include "vgrant/log.h"

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

void vgd_xport_warn(const struct vgd_dev *dev, struct vg_ratelimit *failures,
                    const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* vg_rl_log counts this one: failure #events + 1 */
    vg_rl_log(failures, VG_LOG_WARN, "dom %u dev %u: %s mode: %s; failing "
              "the request (#%llu)", dev->fe_domid, dev->devid,
              dev->xport->name, msg,
              (unsigned long long)failures->events + 1);
}

void vgd_xport_warn_flush(const struct vgd_dev *dev, unsigned queue,
                          struct vg_ratelimit *failures)
{
    vg_rl_flush(failures, VG_LOG_WARN, "dom %u dev %u: %s mode: queue %u: "
                "%llu failed requests in all", dev->fe_domid, dev->devid,
                dev->xport ? dev->xport->name : "?", queue,
                (unsigned long long)failures->events);
}

int vgd_xport_check_buffer(const struct vgd_dev *dev,
                           struct vg_ratelimit *failures,
                           unsigned i, const struct vq_elem *e,
                           uint64_t *pages)
{
    uint32_t ref, off;

    switch (vg_grant_run(e->addr, e->len, &ref, &off, pages)) {
    case VG_GRANT_RUN_OK:
        return 0;
    case VG_GRANT_RUN_NOT_GRANT:
        vgd_xport_warn(dev, failures, "buffer %u address 0x%llx is not a "
                       "grant address", i, (unsigned long long)e->addr);
        return -1;
    case VG_GRANT_RUN_OVERFLOW:
    default:
        vgd_xport_warn(dev, failures, "buffer %u ref run %u+%llu overflows "
                       "32 bits", i, ref, (unsigned long long)*pages);
        return -1;
    }
}
