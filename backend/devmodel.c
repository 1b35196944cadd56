/* SPDX-License-Identifier: MIT */
/* The table of device models, looked up by the backend key "type", and
 * the reading of a type's keys that every model shares. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "aio.h"
#include "devmodel.h"
#include "vgrant/log.h"
#include "vgrant/xsutil.h"

static const struct vgd_model *const models[] = {
    &vgd_model_blk,
    &vgd_model_rng,
    &vgd_model_net,
};

const struct vgd_model *vgd_model_find(const char *type)
{
    for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++)
        if (!strcmp(models[i]->name, type))
            return models[i];
    return NULL;
}

int vgd_model_key(const struct vgd_model_params *p,
                  const struct vg_devtype *type, const char *key,
                  char **value, uint64_t *num)
{
    const struct vg_tkey *k = vg_devtype_key(type, key, strlen(key));
    char canon[VG_TKEY_VALUE_MAX], why[256];
    char *v;

    if (value)
        *value = NULL;
    if (!k) {
        vg_dev_log(VG_LOG_ERR, p->frontend_domid, p->devid, "%s: internal "
                   "error: %s is not a key of the type", type->name, key);
        return -1;
    }
    v = vg_xs_read_str(p->h, VG_XS_NO_TX, p->be_path, key);
    if (!v && errno != ENOENT) {
        vg_dev_log(VG_LOG_ERR, p->frontend_domid, p->devid, "%s: backend key "
                   "%s unreadable: %s", type->name, key, strerror(errno));
        return -1;
    }
    if (!v && k->required) {
        vg_dev_log(VG_LOG_ERR, p->frontend_domid, p->devid, "%s: backend key "
                   "%s/%s missing (%s)", type->name, p->be_path, key, k->help);
        return -1;
    }
    if (!v && !k->dflt)
        return 0;
    if (vg_tkey_check(type, k, v ? v : k->dflt, false, canon, sizeof(canon),
                      num, why, sizeof(why))) {
        vg_dev_log(VG_LOG_ERR, p->frontend_domid, p->devid, "%s: backend key "
                   "%s", type->name, why);
        free(v);
        return -1;
    }
    free(v);
    if (value) {
        *value = strdup(canon);
        if (!*value) {
            vg_dev_log(VG_LOG_ERR, p->frontend_domid, p->devid, "%s: out of "
                       "memory", type->name);
            return -1;
        }
    }
    return 1;
}

void vgd_model_serve_sync(const struct vgd_model *m, void *state,
                          const struct vgd_request *req,
                          struct vgd_result *res, struct vgd_io *io)
{
    if (!m->start) {
        m->handle(state, req, res);
        return;
    }
    if (m->start(state, req, res, io))
        m->done(state, req, res, io, vgd_io_run_sync(io, 0));
}
