/* SPDX-License-Identifier: MIT */
/*
 * The device types and their keys (include/vgrant/devtype.h): the one
 * place a type's keys and their limits are written down.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vgrant/devtype.h"
#include "vgrant/protocol.h"
#include "vgrant/virtio.h"
#include "vgrant/xsutil.h"

static const struct vg_tkey blk_keys[] = {
    { .name = VG_KEY_TARGET, .kind = VG_TKEY_PATH, .required = true,
      .help = "the image file or block device the backend serves, an "
              "absolute path" },
    { .name = VG_KEY_READONLY, .kind = VG_TKEY_BOOL, .dflt = "0",
      .help = "1 for a read-only disk" },
};

const struct vg_devtype vg_devtype_blk = {
    .name = VG_TYPE_BLK,
    .device_id = VIRTIO_ID_BLOCK,
    .max_queues = VG_MAX_QUEUES,
    .help = "virtio-blk disk backed by an image file or block device",
    .keys = blk_keys,
    .nkeys = sizeof(blk_keys) / sizeof(blk_keys[0]),
};

static const struct vg_tkey rng_keys[] = {
    { .name = VG_KEY_RATE, .kind = VG_TKEY_SIZE, .min = 1,
      .max = VG_RNG_MAX_RATE,
      .help = "the most bytes per second the device delivers; K, M or G "
              "allowed; leave rate out for no limit" },
};

const struct vg_devtype vg_devtype_rng = {
    .name = VG_TYPE_RNG,
    .device_id = VIRTIO_ID_RNG,
    .max_queues = 1,
    .help = "virtio-rng entropy source fed from the backend's /dev/urandom",
    .keys = rng_keys,
    .nkeys = sizeof(rng_keys) / sizeof(rng_keys[0]),
};

const struct vg_devtype *const vg_devtypes[] = {
    &vg_devtype_blk,
    &vg_devtype_rng,
};
const unsigned vg_ndevtypes = sizeof(vg_devtypes) / sizeof(vg_devtypes[0]);

const struct vg_devtype *vg_devtype_find(const char *name, size_t len)
{
    for (unsigned i = 0; i < vg_ndevtypes; i++)
        if (strlen(vg_devtypes[i]->name) == len &&
            !memcmp(vg_devtypes[i]->name, name, len))
            return vg_devtypes[i];
    return NULL;
}

const struct vg_tkey *vg_devtype_key(const struct vg_devtype *t,
                                     const char *name, size_t len)
{
    for (unsigned i = 0; i < t->nkeys; i++)
        if (strlen(t->keys[i].name) == len &&
            !memcmp(t->keys[i].name, name, len))
            return &t->keys[i];
    return NULL;
}

void vg_devtype_names(char *buf, size_t size)
{
    size_t n = 0;

    if (!size)
        return;
    buf[0] = '\0';
    for (unsigned i = 0; i < vg_ndevtypes && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? ", " : "",
                              vg_devtypes[i]->name);
}

void vg_devtype_key_names(const struct vg_devtype *t, char *buf, size_t size)
{
    size_t n = 0;

    if (!size)
        return;
    buf[0] = '\0';
    if (t->nkeys == 0) {
        snprintf(buf, size, "none");
        return;
    }
    for (unsigned i = 0; i < t->nkeys && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? ", " : "",
                              t->keys[i].name);
}

/* A value made safe to print: printable ASCII, at most 64 characters. */
static const char *shown(const char *v, char *buf, size_t size)
{
    size_t i = 0, n = strlen(v);

    for (; i < n && i + 1 < size; i++)
        buf[i] = (v[i] >= 0x20 && v[i] < 0x7f) ? v[i] : '?';
    buf[i] = '\0';
    if (i < n && size > 4)
        memcpy(buf + size - 4, "...", 4);
    return buf;
}

int vg_tkey_check(const struct vg_devtype *t, const struct vg_tkey *k,
                  const char *value, bool from_spec, char *canon,
                  size_t canon_len, uint64_t *num, char *err, size_t errlen)
{
    char sv[68];
    size_t len = strnlen(value, VG_TKEY_VALUE_MAX);
    uint64_t v = 0;

    (void)t;
    if (len >= VG_TKEY_VALUE_MAX) {
        vg_errf(err, errlen, "%s '%s' is longer than %u bytes", k->name,
                shown(value, sv, sizeof(sv)), VG_TKEY_VALUE_MAX - 1);
        return -1;
    }
    switch (k->kind) {
    case VG_TKEY_PATH:
        if (value[0] != '/') {
            vg_errf(err, errlen, "%s '%s' is not an absolute path (%s)",
                    k->name, shown(value, sv, sizeof(sv)), k->help);
            return -1;
        }
        for (const char *p = value; *p; p++) {
            if ((unsigned char)*p < 0x20 || *p == 0x7f) {
                vg_errf(err, errlen, "%s '%s' contains a control character",
                        k->name, shown(value, sv, sizeof(sv)));
                return -1;
            }
        }
        break;

    case VG_TKEY_BOOL:
        if (strcmp(value, "0") && strcmp(value, "1")) {
            vg_errf(err, errlen, "%s '%s' must be 0 or 1 (%s)", k->name,
                    shown(value, sv, sizeof(sv)), k->help);
            return -1;
        }
        v = value[0] == '1';
        break;

    case VG_TKEY_UINT:
    case VG_TKEY_SIZE:
        if (k->kind == VG_TKEY_SIZE && from_spec ? vg_parse_size(value, &v)
                                                 : vg_parse_uint(value,
                                                                 UINT64_MAX,
                                                                 &v)) {
            vg_errf(err, errlen, "%s '%s' is not a number%s (%s)", k->name,
                    shown(value, sv, sizeof(sv)),
                    k->kind == VG_TKEY_SIZE && from_spec ?
                        " (optionally with K, M or G)" : "", k->help);
            return -1;
        }
        if (v < k->min || v > k->max) {
            vg_errf(err, errlen, "%s '%s' is out of range: must be in "
                    "[%llu, %llu] (%s)", k->name,
                    shown(value, sv, sizeof(sv)),
                    (unsigned long long)k->min, (unsigned long long)k->max,
                    k->help);
            return -1;
        }
        break;
    }
    if (num)
        *num = v;
    if (canon && canon_len) {
        int n = k->kind == VG_TKEY_PATH || k->kind == VG_TKEY_BOOL ?
                snprintf(canon, canon_len, "%s", value) :
                snprintf(canon, canon_len, "%llu", (unsigned long long)v);
        if (n < 0 || (size_t)n >= canon_len) {
            vg_errf(err, errlen, "%s '%s' is too long", k->name,
                    shown(value, sv, sizeof(sv)));
            return -1;
        }
    }
    return 0;
}
