/* SPDX-License-Identifier: MIT */
/*
 * The toolstack side of virtio-grant: what `vgrant attach/detach/list` (and
 * the libxl patch) do in xenstore, run in dom0.  It creates the two device
 * directories of protocol.h with the permissions libxl gives PV devices,
 * tears them down following protocol.h "Removal", and lists devices.
 *
 * Nothing here logs: every failure comes back as -1 with errno set and a
 * one-line message in err that names the domain, device, key or value at
 * fault, for the caller to print.
 */
#ifndef VGRANT_TOOLSTACK_H
#define VGRANT_TOOLSTACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vgrant/devtype.h"
#include "vgrant/hyp.h"
#include "vgrant/protocol.h"   /* VG_MAX_DOMID */

/* A key of the device type with its value, as it goes into xenstore. */
struct vg_spec_tval {
    char name[24];             /* a key of the type (vg_devtype keys) */
    char value[VG_TKEY_VALUE_MAX];   /* canonical: plain decimal numbers */
};

/* One device as written in a config or on the command line:
 * "type=blk,target=/path,readonly=1,backend=0,queues=1,queue-size=256,
 *  mode=grant,region=4M,devid=N" or "type=rng,rate=64K".
 * The transport's keys have fields; the type's own keys (target and
 * readonly for blk, rate for rng, see vg_devtypes) are in tkeys, in the
 * order of the type's table, defaults included. */
struct vg_attach_spec {
    char type[16];
    uint16_t backend_domid;
    unsigned queues;
    unsigned queue_size;
    char mode[16];
    uint64_t region_bytes;    /* static mode only, else 0 */
    int devid;                /* -1 = first free */
    unsigned ntkeys;          /* <= VG_TKEY_MAX */
    struct vg_spec_tval tkeys[VG_TKEY_MAX];
};

/* Value of the type key `name` in s, NULL if the spec has none. */
const char *vg_spec_value(const struct vg_attach_spec *s, const char *name);
/* Set (or add) the type key `name`; -1 (EINVAL/ENOSPC) if it does not
 * fit.  For callers that fill a spec without the parser; attach checks
 * every value against the type's table either way. */
int vg_spec_set(struct vg_attach_spec *s, const char *name, const char *value);

/* Defaults for keys a spec leaves out. */
#define VG_SPEC_DEFAULT_BACKEND     0
#define VG_SPEC_DEFAULT_QUEUES      1u
#define VG_SPEC_DEFAULT_QUEUE_SIZE  256u
#define VG_SPEC_DEFAULT_MODE        "grant"
#define VG_SPEC_DEFAULT_REGION      (4u * 1024 * 1024)

/* Parse and validate a spec.  Entries are separated by ',' (spaces after a
 * comma are ignored, as in xl.cfg).  The type's own keys are checked with
 * the type's table (include/vgrant/devtype.h): a key the type does not
 * have is refused.  0 on success; -1 with errno EINVAL and a message
 * naming the device type, the key and the value on any bad, unknown,
 * duplicate or missing entry. */
int vg_attach_spec_parse(const char *spec, struct vg_attach_spec *out,
                         char *err, size_t errlen);

/* Create the device for frontend domain F as described by *s, in one
 * xenstore transaction.  *devid_out gets the devid used.  -1 with errno:
 * ESRCH (a domain does not exist), EEXIST (requested devid taken), ENOSPC
 * (no free devid), EINVAL (bad spec), or the xenstore error. */
int vg_toolstack_attach(struct vg_hyp *h, uint16_t frontend_domid,
                        const struct vg_attach_spec *s, unsigned *devid_out,
                        char *err, size_t errlen);

/* Remove a device: set online=0, wait up to timeout_ms (negative = 0) for
 * the backend to reach Closed (or its directory or either domain to go),
 * then remove both directories in one transaction.  The backend domain is
 * found from the backend directories, never from the guest's
 * "backend-id".  While waiting it drains every watch event queued on h,
 * so give it a handle that nothing else is watching with.
 * Returns 0 when the backend closed, 1 when the directories were removed
 * after a timeout (err then holds the warning), -1 with errno on failure
 * (ENOENT: no such device). */
int vg_toolstack_detach(struct vg_hyp *h, uint16_t frontend_domid,
                        unsigned devid, int timeout_ms,
                        char *err, size_t errlen);

/* One device as vg_toolstack_list reports it.  Values come from the
 * backend directory except fe_state; strings are truncated to fit and
 * unprintable bytes shown as '?'; unreadable values are left empty/0. */
struct vg_device_info {
    uint16_t frontend_domid;
    unsigned devid;
    uint16_t backend_domid;
    char type[16];
    char mode[16];
    char target[1024];
    bool readonly;
    unsigned be_state;        /* enum vg_xenbus_state; 0 if missing */
    unsigned fe_state;
};

/* Called once per device, ordered by frontend domid, devid, backend
 * domid.  A non-zero return stops the walk (vg_toolstack_list then returns
 * -1 with errno ECANCELED). */
typedef int (*vg_device_cb)(const struct vg_device_info *dev, void *arg);

/* Walk the devices of frontend_domid (-1 = every domain), found from the
 * backend directories.  Returns the number of devices reported, or -1 with
 * errno and err set. */
int vg_toolstack_list(struct vg_hyp *h, int frontend_domid,
                      vg_device_cb cb, void *arg, char *err, size_t errlen);

#endif /* VGRANT_TOOLSTACK_H */
