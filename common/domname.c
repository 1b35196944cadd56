/* SPDX-License-Identifier: MIT */
/* Domains by id or by name (domname.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vgrant/domname.h"
#include "vgrant/toolstack.h"
#include "vgrant/xsutil.h"

#define MAX_LISTED 8     /* ids named in an "ambiguous" message */

/* A name as xl allows it: printable, no '/', bounded. */
static int name_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f ||
            s[i] == '/')
            return 0;
    return 1;
}

int vg_domain_resolve(struct vg_hyp *h, const char *s, uint16_t *domid,
                      char *err, size_t errlen)
{
    uint64_t v;
    unsigned n = 0, found = 0;
    uint16_t ids[MAX_LISTED];
    char **doms;
    char list[MAX_LISTED * 8 + 8] = "";

    if (s[0] >= '0' && s[0] <= '9') {
        if (vg_parse_uint(s, VG_MAX_DOMID, &v)) {
            vg_errf(err, errlen, "domain '%s' is neither a domain id in "
                    "[0, %u] nor a name", s, VG_MAX_DOMID);
            errno = EINVAL;
            return -1;
        }
        *domid = (uint16_t)v;
        return 0;
    }
    if (!name_ok(s)) {
        vg_errf(err, errlen, "domain '%.64s' is not a domain id or name",
                s);
        errno = EINVAL;
        return -1;
    }
    doms = h->ops->xs_directory(h, VG_XS_NO_TX, "/local/domain", &n);
    if (!doms) {
        int saved = errno;
        vg_errf(err, errlen, "cannot list /local/domain to find domain "
                "'%s': %s", s, strerror(saved));
        errno = saved;
        return -1;
    }
    for (unsigned i = 0; i < n; i++) {
        char dir[32];
        char *name;

        if (vg_parse_uint(doms[i], VG_MAX_DOMID, &v))
            continue;
        snprintf(dir, sizeof(dir), "/local/domain/%u", (unsigned)v);
        name = vg_xs_read_str(h, VG_XS_NO_TX, dir, "name");
        if (name && !strcmp(name, s)) {
            if (found < MAX_LISTED)
                ids[found] = (uint16_t)v;
            found++;
        }
        free(name);
    }
    free(doms);
    if (found == 1) {
        *domid = ids[0];
        return 0;
    }
    if (found == 0) {
        vg_errf(err, errlen, "no domain is named '%s' (xl list shows the "
                "names)", s);
        errno = ENOENT;
        return -1;
    }
    for (unsigned i = 0; i < found && i < MAX_LISTED; i++) {
        size_t len = strlen(list);
        snprintf(list + len, sizeof(list) - len, "%s%u", i ? ", " : "",
                 ids[i]);
    }
    vg_errf(err, errlen, "domain name '%s' is ambiguous: domains %s%s have "
            "it; use the domain id", s, list, found > MAX_LISTED ? ", ..." : "");
    errno = ENOTUNIQ;
    return -1;
}
