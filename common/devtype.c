/* SPDX-License-Identifier: MIT */
/*
 * The device types and their keys (include/vgrant/devtype.h): the one
 * place a type's keys and their limits are written down.
 */
#include <stdarg.h>
#include <stdbool.h>
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

static const struct vg_tkey net_keys[] = {
    { .name = VG_KEY_MAC, .kind = VG_TKEY_MAC,
      .help = "the guest's MAC address, xx:xx:xx:xx:xx:xx, unicast; leave "
              "mac out for a random locally administered one" },
    { .name = VG_KEY_BRIDGE, .kind = VG_TKEY_IFNAME,
      .help = "the bridge the tap interface joins; leave bridge out for an "
              "unattached tap" },
    { .name = VG_KEY_VIF, .kind = VG_TKEY_IFNAME,
      .help = "the name of the backend's tap interface; default "
              "vg<domid>.<devid>" },
    { .name = VG_KEY_MTU, .kind = VG_TKEY_UINT, .min = VG_NET_MIN_MTU,
      .max = VG_NET_MAX_MTU, .dflt = VG_NET_DEFAULT_MTU,
      .help = "the MTU of the link, bytes" },
};

const struct vg_devtype vg_devtype_net = {
    .name = VG_TYPE_NET,
    .device_id = VIRTIO_ID_NET,
    .max_queues = 1,    /* queue pairs: one (receive and transmit) */
    .help = "virtio-net network card on a tap interface of the backend "
            "domain, optionally in a bridge",
    .keys = net_keys,
    .nkeys = sizeof(net_keys) / sizeof(net_keys[0]),
};

const struct vg_devtype *const vg_devtypes[] = {
    &vg_devtype_blk,
    &vg_devtype_rng,
    &vg_devtype_net,
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

int vg_parse_mac(const char *s, uint8_t mac[6])
{
    if (strlen(s) != 17)
        return -1;
    for (unsigned i = 0; i < 6; i++) {
        int hi = vg_hex_digit(s[3 * i]), lo = vg_hex_digit(s[3 * i + 1]);

        if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
            return -1;
        mac[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

static bool ifname_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
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

    case VG_TKEY_MAC: {
        uint8_t mac[6];

        if (vg_parse_mac(value, mac)) {
            vg_errf(err, errlen, "%s '%s' is not a MAC address "
                    "xx:xx:xx:xx:xx:xx (%s)", k->name,
                    shown(value, sv, sizeof(sv)), k->help);
            return -1;
        }
        if (mac[0] & 1) {
            vg_errf(err, errlen, "%s '%s' is a multicast address (%s)",
                    k->name, shown(value, sv, sizeof(sv)), k->help);
            return -1;
        }
        if (!(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5])) {
            vg_errf(err, errlen, "%s '%s' is the zero address (%s)",
                    k->name, shown(value, sv, sizeof(sv)), k->help);
            return -1;
        }
        if (canon && canon_len) {
            int n = snprintf(canon, canon_len,
                             "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
                             mac[2], mac[3], mac[4], mac[5]);
            if (n < 0 || (size_t)n >= canon_len) {
                vg_errf(err, errlen, "%s '%s' is too long", k->name,
                        shown(value, sv, sizeof(sv)));
                return -1;
            }
        }
        if (num)
            *num = 0;
        return 0;
    }

    case VG_TKEY_IFNAME:
        if (len == 0 || len > VG_IFNAME_MAX) {
            vg_errf(err, errlen, "%s '%s' must be 1 to %u characters long "
                    "(%s)", k->name, shown(value, sv, sizeof(sv)),
                    VG_IFNAME_MAX, k->help);
            return -1;
        }
        if (!strcmp(value, ".") || !strcmp(value, "..")) {
            vg_errf(err, errlen, "%s '%s' is not an interface name (%s)",
                    k->name, value, k->help);
            return -1;
        }
        for (const char *p = value; *p; p++) {
            if (!ifname_char(*p)) {
                vg_errf(err, errlen, "%s '%s' has a character other than "
                        "A-Z a-z 0-9 _ . - (%s)", k->name,
                        shown(value, sv, sizeof(sv)), k->help);
                return -1;
            }
        }
        break;
    }
    if (num)
        *num = v;
    if (canon && canon_len) {
        int n = k->kind == VG_TKEY_PATH || k->kind == VG_TKEY_BOOL ||
                k->kind == VG_TKEY_IFNAME ?
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
