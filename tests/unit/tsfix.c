/* SPDX-License-Identifier: MIT */
/* Fixture of the toolstack tests, see tsfix.h. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vgrant/hyp.h"
#include "vgrant/log.h"
#include "vgrant/protocol.h"
#include "vgrant/toolstack.h"
#include "vgrant/xsutil.h"

#include "speccheck.h"
#include "tsfix.h"

int tsf_world_setup(void **state)
{
    struct world *t = calloc(1, sizeof(*t));

    if (!t)
        return -1;
    t->w = vg_fake_world_new();
    if (!t->w || vg_fake_domain_create(t->w, 0) || vg_fake_domain_create(t->w, 1) ||
        vg_fake_domain_create(t->w, 2))
        return -1;
    t->dom0 = vg_fake_open(t->w, 0);
    t->g1 = vg_fake_open(t->w, 1);
    t->g2 = vg_fake_open(t->w, 2);
    if (!t->dom0 || !t->g1 || !t->g2)
        return -1;
    *state = t;
    return 0;
}

int tsf_world_teardown(void **state)
{
    struct world *t = *state;

    vg_hyp_close(t->g2);
    vg_hyp_close(t->g1);
    vg_hyp_close(t->dom0);
    vg_fake_world_free(t->w);
    free(t);
    return 0;
}

struct vg_attach_spec tsf_spec_of(const char *text)
{
    struct vg_attach_spec s;

    spec_parse_ok(text, &s);
    return s;
}

unsigned tsf_attach_ok(struct world *t, uint16_t fe, const char *text)
{
    struct vg_attach_spec s = tsf_spec_of(text);
    char err[512] = "";
    unsigned devid = 9999;

    if (vg_toolstack_attach(t->dom0, fe, &s, &devid, err, sizeof(err)))
        fail_msg("attach %u '%s' failed: %s", fe, text, err);
    return devid;
}

/* Value of dir/key as domain h sees it; NULL (errno set) if unreadable. */
char *tsf_read_as(struct vg_hyp *h, const char *dir, const char *key)
{
    char path[VG_XS_PATH_MAX];
    unsigned len;

    snprintf(path, sizeof(path), "%s%s%s", dir, key ? "/" : "", key ? key : "");
    return h->ops->xs_read(h, VG_XS_NO_TX, path, &len);
}

void tsf_assert_key(struct vg_hyp *h, const char *dir, const char *key,
                    const char *want)
{
    char *v = tsf_read_as(h, dir, key);

    if (!v)
        fail_msg("%s/%s unreadable: %s", dir, key, strerror(errno));
    if (strcmp(v, want))
        fail_msg("%s/%s = '%s', want '%s'", dir, key, v, want);
    free(v);
}

bool tsf_exists(struct world *t, const char *path)
{
    char *v = tsf_read_as(t->dom0, path, NULL);

    free(v);
    return v != NULL;
}

int tsf_write_as(struct vg_hyp *h, const char *dir, const char *key,
                 const char *value)
{
    char path[VG_XS_PATH_MAX];

    snprintf(path, sizeof(path), "%s/%s", dir, key);
    return h->ops->xs_write(h, VG_XS_NO_TX, path, value);
}

/* The perms of path equal want[0..n). */
void tsf_assert_perms(struct world *t, const char *path,
                      const struct vg_xs_perm *want, unsigned n)
{
    unsigned num = 0;
    struct vg_xs_perm *p = t->dom0->ops->xs_get_perms(t->dom0, VG_XS_NO_TX,
                                                      path, &num);

    if (!p)
        fail_msg("perms of %s: %s", path, strerror(errno));
    if (num != n)
        fail_msg("%s has %u perms, want %u", path, num, n);
    for (unsigned i = 0; i < n; i++)
        if (p[i].domid != want[i].domid || p[i].perm != want[i].perm)
            fail_msg("%s perm %u = {%u, %u}, want {%u, %u}", path, i,
                     p[i].domid, p[i].perm, want[i].domid, want[i].perm);
    free(p);
}

#define BE0(fe, devid) "/local/domain/0/backend/virtio-grant/" #fe "/" #devid
