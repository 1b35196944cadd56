/* SPDX-License-Identifier: MIT */
/* The table of device models, looked up by the backend key "type". */
#include <string.h>

#include "devmodel.h"

static const struct vgd_model *const models[] = {
    &vgd_model_blk,
};

const struct vgd_model *vgd_model_find(const char *type)
{
    for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++)
        if (!strcmp(models[i]->name, type))
            return models[i];
    return NULL;
}
