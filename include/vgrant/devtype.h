/* SPDX-License-Identifier: MIT */
/*
 * Device types as the toolstack and the backend both see them.
 *
 * A device type (backend key "type") has keys of its own besides the
 * transport's (mode, queues, queue-size, region): blk has target and
 * readonly, rng has rate.  Each is described once, here, with its
 * validator (kind and limits), and the same description serves
 *   - the spec parser of `vgrant attach` (common/toolstack.c), which
 *     accepts exactly these keys for the type and writes them, under the
 *     same names, into the backend directory, and
 *   - the device model in vgrantd (backend/<type>.c), which reads them
 *     back through vgd_model_key (backend/devmodel.h) with the same
 *     validator, so a hand-written or hostile backend directory is held to
 *     the rules the toolstack enforces.
 * Adding a device type is one model file in backend/ plus one entry in
 * vg_devtypes (common/devtype.c) and one in the backend's model list.
 */
#ifndef VGRANT_DEVTYPE_H
#define VGRANT_DEVTYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest value of a type key, with its NUL (a target path). */
#define VG_TKEY_VALUE_MAX 1024u
/* Longest network interface name (IFNAMSIZ - 1). */
#define VG_IFNAME_MAX 15u
/* Most keys a type may have (struct vg_attach_spec holds this many). */
#define VG_TKEY_MAX 4u

enum vg_tkey_kind {
    VG_TKEY_PATH,   /* absolute path, no control characters */
    VG_TKEY_BOOL,   /* 0 or 1 */
    VG_TKEY_UINT,   /* decimal in [min, max] */
    VG_TKEY_SIZE,   /* like UINT; a spec may add K, M or G (xenstore holds
                       the plain number) */
    VG_TKEY_MAC,    /* unicast MAC address xx:xx:xx:xx:xx:xx, not all zero
                       (canonical: lower case) */
    VG_TKEY_IFNAME, /* network interface name: 1..VG_IFNAME_MAX of
                       [A-Za-z0-9_.-], not "." or ".." */
};

struct vg_tkey {
    const char *name;          /* spec key, and the backend xenstore key */
    enum vg_tkey_kind kind;
    bool required;
    uint64_t min, max;         /* UINT, SIZE */
    const char *dflt;          /* written when a spec leaves the key out;
                                  NULL: the key is left out */
    const char *help;          /* what the value means, for messages/help */
};

struct vg_devtype {
    const char *name;          /* VG_TYPE_* */
    uint32_t device_id;        /* VIRTIO_ID_* */
    unsigned max_queues;       /* queues= may not ask for more */
    const char *help;          /* one line for --help */
    const struct vg_tkey *keys;
    unsigned nkeys;            /* <= VG_TKEY_MAX */
};

extern const struct vg_devtype vg_devtype_blk;
extern const struct vg_devtype vg_devtype_rng;
extern const struct vg_devtype vg_devtype_net;

/* Every type, in the order help text lists them. */
extern const struct vg_devtype *const vg_devtypes[];
extern const unsigned vg_ndevtypes;

/* The type called name[0..len), NULL if none. */
const struct vg_devtype *vg_devtype_find(const char *name, size_t len);
/* The key of type t called name[0..len), NULL if t has none. */
const struct vg_tkey *vg_devtype_key(const struct vg_devtype *t,
                                     const char *name, size_t len);
/* "blk, rng" into buf. */
void vg_devtype_names(char *buf, size_t size);
/* The keys of t as "target, readonly" into buf; "none" if t has none. */
void vg_devtype_key_names(const struct vg_devtype *t, char *buf, size_t size);

/* Parse a MAC address "xx:xx:xx:xx:xx:xx" (hex, either case) into mac[6];
 * 0 on success, -1 if malformed (multicast and zero addresses parse). */
int vg_parse_mac(const char *s, uint8_t mac[6]);

/* Check value for key k of type t.  from_spec: value comes from a spec
 * (SIZE keys may carry a K/M/G suffix); otherwise it comes from xenstore
 * and must be the plain canonical form.  On success returns 0, writes the
 * canonical xenstore value into canon (may be NULL) and, for BOOL, UINT
 * and SIZE, the number into *num (may be NULL).  On failure returns -1
 * and err says "<key> '<value>' <why>" (value bounded and made printable:
 * the caller prefixes the device). */
int vg_tkey_check(const struct vg_devtype *t, const struct vg_tkey *k,
                  const char *value, bool from_spec, char *canon,
                  size_t canon_len, uint64_t *num, char *err, size_t errlen);

#endif /* VGRANT_DEVTYPE_H */
