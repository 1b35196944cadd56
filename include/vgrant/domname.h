/* SPDX-License-Identifier: MIT */
/*
 * Domains by id or by name, as xl accepts them: "5" or "guest1".
 */
#ifndef VGRANT_DOMNAME_H
#define VGRANT_DOMNAME_H

#include <stddef.h>
#include <stdint.h>

#include "vgrant/hyp.h"

/* Resolve s to a domain id.  A decimal number in [0, VG_MAX_DOMID] is an
 * id (not checked for existence here); anything else is looked up as the
 * "name" key of /local/domain/<id> for every domain in xenstore.  0 with
 * *domid set, or -1 with errno (ENOENT: no such name, ENOTUNIQ: several
 * domains have it, EINVAL: not a valid name, else the xenstore error) and
 * a message naming the value in err. */
int vg_domain_resolve(struct vg_hyp *h, const char *s, uint16_t *domid,
                      char *err, size_t errlen);

#endif /* VGRANT_DOMNAME_H */
