/* SPDX-License-Identifier: MIT */
/*
 * Toolstack side of virtio-grant, device specs: parse an xl-style spec
 * ("type=blk,target=/img,mode=static,region=4M") into a struct
 * vg_attach_spec, and check a spec however it was filled in before attach
 * writes it to xenstore.  The xenstore side is toolstack.c.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vgrant/attach_id.h"
#include "vgrant/clock.h"
#include "vgrant/devtype.h"
#include "vgrant/log.h"
#include "vgrant/protocol.h"
#include "vgrant/toolstack.h"
#include "vgrant/xsutil.h"
#include "toolstack_int.h"

/* Longest single spec entry we look at ("target=" + a path). */
#define VG_SPEC_ENTRY_MAX (VG_TKEY_VALUE_MAX + 32)

/* ------------------------------------------------------------------------
 * Spec parsing
 * ------------------------------------------------------------------------ */

/* The transport's keys, common to every device type; a type's own keys
 * come from its table (vg_devtypes). */
enum spec_key {
    KEY_TYPE, KEY_BACKEND, KEY_QUEUES, KEY_QUEUE_SIZE, KEY_MODE, KEY_REGION,
    KEY_DEVID, KEY_COUNT
};

static const char *const spec_key_names[KEY_COUNT] = {
    [KEY_TYPE] = "type",
    [KEY_BACKEND] = "backend",
    [KEY_QUEUES] = "queues",
    [KEY_QUEUE_SIZE] = "queue-size",
    [KEY_MODE] = "mode",
    [KEY_REGION] = "region",
    [KEY_DEVID] = "devid",
};

static const char *const known_modes[] = {
    VG_MODE_GRANT, VG_MODE_PERSISTENT, VG_MODE_COPY, VG_MODE_AUTO,
    VG_MODE_STATIC,
};

static bool is_power_of_two(uint64_t v)
{
    return v && !(v & (v - 1));
}

static int lookup_key(const char *name, size_t len)
{
    for (int k = 0; k < KEY_COUNT; k++)
        if (strlen(spec_key_names[k]) == len &&
            !memcmp(spec_key_names[k], name, len))
            return k;
    return -1;
}

const char *vg_spec_value(const struct vg_attach_spec *s, const char *name)
{
    for (unsigned i = 0; i < s->ntkeys && i < VG_TKEY_MAX; i++)
        if (!strncmp(s->tkeys[i].name, name, sizeof(s->tkeys[i].name)))
            return s->tkeys[i].value;
    return NULL;
}

int vg_spec_set(struct vg_attach_spec *s, const char *name, const char *value)
{
    struct vg_spec_tval *tv = NULL;

    if (strlen(name) >= sizeof(tv->name) || strlen(value) >= sizeof(tv->value)) {
        errno = EINVAL;
        return -1;
    }
    for (unsigned i = 0; i < s->ntkeys && i < VG_TKEY_MAX; i++)
        if (!strncmp(s->tkeys[i].name, name, sizeof(s->tkeys[i].name)))
            tv = &s->tkeys[i];
    if (!tv) {
        if (s->ntkeys >= VG_TKEY_MAX) {
            errno = ENOSPC;
            return -1;
        }
        tv = &s->tkeys[s->ntkeys++];
    }
    snprintf(tv->name, sizeof(tv->name), "%s", name);
    snprintf(tv->value, sizeof(tv->value), "%s", value);
    return 0;
}

/* Apply one transport entry; value is NUL-terminated. */
static int apply_entry(struct vg_attach_spec *s, int key, const char *value,
                       char *err, size_t errlen)
{
    const char *name = spec_key_names[key];
    uint64_t v;

    switch (key) {
    case KEY_TYPE:
        return 0;       /* found and checked before every other key */

    case KEY_BACKEND:
        if (vg_parse_uint(value, VG_MAX_DOMID, &v)) {
            vg_errf(err, errlen, "backend '%s' (backend=%s) is not a domain "
                    "id: expected a number in [0, %u]", VG_ESC(value), VG_ESC(value),
                    VG_MAX_DOMID);
            return -1;
        }
        s->backend_domid = (uint16_t)v;
        return 0;

    case KEY_QUEUES:
        if (vg_parse_uint(value, VG_MAX_QUEUES, &v) || v < 1) {
            vg_errf(err, errlen, "queues '%s' (queues=%s) must be a number "
                    "in [1, %u]", VG_ESC(value), VG_ESC(value), VG_MAX_QUEUES);
            return -1;
        }
        s->queues = (unsigned)v;
        return 0;

    case KEY_QUEUE_SIZE:
        if (vg_parse_uint(value, VG_MAX_QUEUE_SIZE, &v) ||
            v < VG_MIN_QUEUE_SIZE || !is_power_of_two(v)) {
            vg_errf(err, errlen, "queue-size '%s' (queue-size=%s) must be a "
                    "power of two in [%u, %u]", VG_ESC(value), VG_ESC(value),
                    VG_MIN_QUEUE_SIZE, VG_MAX_QUEUE_SIZE);
            return -1;
        }
        s->queue_size = (unsigned)v;
        return 0;

    case KEY_MODE:
        for (size_t i = 0; i < sizeof(known_modes) / sizeof(known_modes[0]); i++) {
            if (!strcmp(value, known_modes[i])) {
                snprintf(s->mode, sizeof(s->mode), "%s", value);
                return 0;
            }
        }
        vg_errf(err, errlen, "unknown mode '%s' (mode=%s): expected grant, "
                "persistent, copy, auto or static", VG_ESC(value), VG_ESC(value));
        return -1;

    case KEY_REGION:
        if (vg_parse_size(value, &v)) {
            vg_errf(err, errlen, "region '%s' (region=%s) is not a size "
                    "(bytes, or a number with K, M or G)", VG_ESC(value), VG_ESC(value));
            return -1;
        }
        if (v == 0 || v % VG_PAGE_SIZE) {
            vg_errf(err, errlen, "region '%s' (region=%s) must be a non-zero "
                    "multiple of %u bytes", VG_ESC(value), VG_ESC(value), VG_PAGE_SIZE);
            return -1;
        }
        if (v > VG_MAX_REGION_BYTES) {
            vg_errf(err, errlen, "region '%s' (region=%s) is larger than the "
                    "limit of %u bytes (256M)", VG_ESC(value), VG_ESC(value),
                    VG_MAX_REGION_BYTES);
            return -1;
        }
        s->region_bytes = v;
        return 0;

    case KEY_DEVID:
        if (vg_parse_uint(value, VG_MAX_DEVID, &v)) {
            vg_errf(err, errlen, "devid '%s' (devid=%s) must be a number in "
                    "[0, %u]", VG_ESC(value), VG_ESC(value), VG_MAX_DEVID);
            return -1;
        }
        s->devid = (int)v;
        return 0;
    }
    vg_errf(err, errlen, "internal error: key %s", name);
    return -1;
}

/* Next entry of a spec: copied into entry[] (NUL-terminated, spaces after
 * a comma skipped); *p advances past it.  1 got one, 0 end of spec, -1
 * malformed (err set). */
static int next_entry(const char *spec, const char **p, unsigned *index,
                      char *entry, size_t size, char *err, size_t errlen)
{
    const char *q = *p, *end;
    size_t len;

    if (!q)
        return 0;
    (*index)++;
    while (*q == ' ' || *q == '\t')     /* "a=1, b=2" as in xl.cfg */
        q++;
    end = strchr(q, ',');
    len = end ? (size_t)(end - q) : strlen(q);
    if (len == 0) {
        vg_errf(err, errlen, "empty entry %u in device spec '%s'", *index,
                spec);
        return -1;
    }
    if (len >= size) {
        vg_errf(err, errlen, "entry %u of device spec is too long (%zu bytes, "
                "starts '%.20s')", *index, len, q);
        return -1;
    }
    memcpy(entry, q, len);
    entry[len] = '\0';
    if (!strchr(entry, '=')) {
        vg_errf(err, errlen, "entry '%s' is not key=value", entry);
        return -1;
    }
    *p = end ? end + 1 : NULL;
    return 1;
}

/* First pass: every entry well-formed, exactly one type=, a known one. */
static const struct vg_devtype *find_type(const char *spec, char *err,
                                          size_t errlen)
{
    const struct vg_devtype *t = NULL;
    char entry[VG_SPEC_ENTRY_MAX], tv[24], names[96];
    const char *p = spec;
    unsigned index = 0;
    bool seen = false;
    int rc;

    while ((rc = next_entry(spec, &p, &index, entry, sizeof(entry), err,
                            errlen)) > 0) {
        char *eq = strchr(entry, '=');

        if ((size_t)(eq - entry) != 4 || memcmp(entry, "type", 4))
            continue;
        if (seen) {
            vg_errf(err, errlen, "duplicate key 'type' (%s): each key may be "
                    "given once", entry);
            return NULL;
        }
        seen = true;
        t = vg_devtype_find(eq + 1, strlen(eq + 1));
        if (!t) {
            snprintf(tv, sizeof(tv), "%s", eq + 1);
            vg_devtype_names(names, sizeof(names));
            vg_errf(err, errlen, "unknown type '%s%s' (%s): the types are %s",
                    tv, strlen(eq + 1) >= sizeof(tv) ? "..." : "", entry,
                    names);
            return NULL;
        }
    }
    if (rc < 0)
        return NULL;
    if (!seen) {
        vg_devtype_names(names, sizeof(names));
        vg_errf(err, errlen, "missing type= (one of %s, e.g. type=blk)",
                names);
    }
    return t;
}

/* A key the type does not have: say whose it is, if anyone's. */
static void unknown_key(const struct vg_devtype *t, const char *entry,
                        size_t klen, char *err, size_t errlen)
{
    char keys[96];

    vg_devtype_key_names(t, keys, sizeof(keys));
    for (unsigned i = 0; i < vg_ndevtypes; i++) {
        if (vg_devtypes[i] != t && vg_devtype_key(vg_devtypes[i], entry, klen)) {
            vg_errf(err, errlen, "%s: key '%.*s' (%s) is not a key of type "
                    "%s, only of %s; %s keys: %s", t->name, (int)klen, entry,
                    entry, t->name, vg_devtypes[i]->name, t->name, keys);
            return;
        }
    }
    vg_errf(err, errlen, "%s: unknown key '%.*s' (%s): known keys are type, "
            "backend, queues, queue-size, mode, region, devid and, for %s, "
            "%s", t->name, (int)klen, entry, entry, t->name, keys);
}

int vg_attach_spec_parse(const char *spec, struct vg_attach_spec *out,
                         char *err, size_t errlen)
{
    struct vg_attach_spec s;
    const struct vg_devtype *t;
    bool seen[KEY_COUNT] = { false };
    bool tseen[VG_TKEY_MAX] = { false };
    char entry[VG_SPEC_ENTRY_MAX];
    char tval[VG_TKEY_MAX][VG_TKEY_VALUE_MAX];
    char region_value[32] = "";
    const char *p = spec;
    unsigned index = 0;
    int rc;

    if (err && errlen)
        err[0] = '\0';
    if (!spec || !out) {
        vg_errf(err, errlen, "no device spec given");
        goto invalid;
    }
    t = find_type(spec, err, errlen);
    if (!t)
        goto invalid;
    if (t->nkeys > VG_TKEY_MAX) {
        vg_errf(err, errlen, "internal error: type %s has %u keys", t->name,
                t->nkeys);
        goto invalid;
    }

    memset(&s, 0, sizeof(s));
    snprintf(s.type, sizeof(s.type), "%s", t->name);
    s.backend_domid = VG_SPEC_DEFAULT_BACKEND;
    s.queues = VG_SPEC_DEFAULT_QUEUES;
    s.queue_size = VG_SPEC_DEFAULT_QUEUE_SIZE;
    snprintf(s.mode, sizeof(s.mode), "%s", VG_SPEC_DEFAULT_MODE);
    s.devid = -1;

    while ((rc = next_entry(spec, &p, &index, entry, sizeof(entry), err,
                            errlen)) > 0) {
        char *eq = strchr(entry, '=');
        size_t klen = (size_t)(eq - entry);
        const struct vg_tkey *k;
        int key = lookup_key(entry, klen);

        if (key >= 0) {
            if (seen[key]) {
                vg_errf(err, errlen, "duplicate key '%s' (%s): each key may "
                        "be given once", spec_key_names[key], entry);
                goto invalid;
            }
            seen[key] = true;
            if (apply_entry(&s, key, eq + 1, err, errlen))
                goto invalid;
            if (key == KEY_REGION)
                snprintf(region_value, sizeof(region_value), "%s", eq + 1);
            continue;
        }
        k = klen ? vg_devtype_key(t, entry, klen) : NULL;
        if (!k) {
            unknown_key(t, entry, klen, err, errlen);
            goto invalid;
        }
        if (tseen[k - t->keys]) {
            vg_errf(err, errlen, "duplicate key '%s' (%s): each key may be "
                    "given once", k->name, entry);
            goto invalid;
        }
        tseen[k - t->keys] = true;
        if (vg_tkey_check(t, k, eq + 1, true, tval[k - t->keys],
                          sizeof(tval[0]), NULL, err, errlen)) {
            char why[512];

            snprintf(why, sizeof(why), "%s", err ? err : "");
            vg_errf(err, errlen, "%s: %s", t->name, why);
            goto invalid;
        }
    }
    if (rc < 0)
        goto invalid;

    /* the type's keys in table order, defaults included */
    for (unsigned i = 0; i < t->nkeys; i++) {
        const struct vg_tkey *k = &t->keys[i];

        if (!tseen[i] && k->required) {
            vg_errf(err, errlen, "%s: missing %s= (%s)", t->name, k->name,
                    k->help);
            goto invalid;
        }
        if (!tseen[i] && !k->dflt)
            continue;
        snprintf(s.tkeys[s.ntkeys].name, sizeof(s.tkeys[0].name), "%s",
                 k->name);
        snprintf(s.tkeys[s.ntkeys].value, sizeof(s.tkeys[0].value), "%s",
                 tseen[i] ? tval[i] : k->dflt);
        s.ntkeys++;
    }
    if (s.queues > t->max_queues) {
        vg_errf(err, errlen, "%s: queues '%u' (queues=%u): type %s has at "
                "most %u queue%s", t->name, s.queues, s.queues, t->name,
                t->max_queues, t->max_queues == 1 ? "" : "s");
        goto invalid;
    }
    if (!strcmp(s.mode, VG_MODE_STATIC)) {
        if (!seen[KEY_REGION])
            s.region_bytes = VG_SPEC_DEFAULT_REGION;
    } else if (seen[KEY_REGION]) {
        vg_errf(err, errlen, "region=%s given with mode=%s: region is only "
                "used with mode=static", region_value, s.mode);
        goto invalid;
    }

    *out = s;
    return 0;

invalid:
    errno = EINVAL;
    return -1;
}

/* The spec may come from vg_attach_spec_parse or be filled in by a caller
 * (the xl patch): check what ends up in xenstore either way. */
int ts_check_spec(const struct vg_attach_spec *s, char *err, size_t errlen)
{
    const struct vg_devtype *t;
    bool mode_ok = false;
    bool tseen[VG_TKEY_MAX] = { false };

    for (size_t i = 0; i < sizeof(known_modes) / sizeof(known_modes[0]); i++)
        mode_ok |= !strncmp(s->mode, known_modes[i], sizeof(s->mode));
    t = vg_devtype_find(s->type, strnlen(s->type, sizeof(s->type)));
    if (!t) {
        vg_errf(err, errlen, "unknown type '%.*s'", (int)sizeof(s->type),
                s->type);
        goto invalid;
    }
    if (s->ntkeys > VG_TKEY_MAX || s->ntkeys > t->nkeys) {
        vg_errf(err, errlen, "%s: %u type keys given, the type has %u",
                t->name, s->ntkeys, t->nkeys);
        goto invalid;
    }
    for (unsigned i = 0; i < s->ntkeys; i++) {
        const struct vg_spec_tval *tv = &s->tkeys[i];
        size_t nlen = strnlen(tv->name, sizeof(tv->name));
        const struct vg_tkey *k = nlen < sizeof(tv->name) ?
                                  vg_devtype_key(t, tv->name, nlen) : NULL;
        char why[400];

        if (!k) {
            vg_errf(err, errlen, "%s: '%.*s' is not a key of type %s",
                    t->name, (int)nlen, tv->name, t->name);
            goto invalid;
        }
        if (tseen[k - t->keys]) {
            vg_errf(err, errlen, "%s: key %s given twice", t->name, k->name);
            goto invalid;
        }
        tseen[k - t->keys] = true;
        if (!memchr(tv->value, '\0', sizeof(tv->value))) {
            vg_errf(err, errlen, "%s: value of %s is not terminated", t->name,
                    k->name);
            goto invalid;
        }
        if (vg_tkey_check(t, k, tv->value, false, NULL, 0, NULL, why,
                          sizeof(why))) {
            vg_errf(err, errlen, "%s: %s", t->name, why);
            goto invalid;
        }
    }
    for (unsigned i = 0; i < t->nkeys; i++) {
        if (t->keys[i].required && !tseen[i]) {
            vg_errf(err, errlen, "%s: missing %s (%s)", t->name,
                    t->keys[i].name, t->keys[i].help);
            goto invalid;
        }
    }
    if (!mode_ok) {
        vg_errf(err, errlen, "unknown mode '%.*s'", (int)sizeof(s->mode),
                s->mode);
    } else if (s->queues < 1 || s->queues > VG_MAX_QUEUES ||
               s->queues > t->max_queues) {
        vg_errf(err, errlen, "queues %u outside [1, %u]", s->queues,
                t->max_queues < VG_MAX_QUEUES ? t->max_queues : VG_MAX_QUEUES);
    } else if (s->queue_size < VG_MIN_QUEUE_SIZE ||
               s->queue_size > VG_MAX_QUEUE_SIZE ||
               !is_power_of_two(s->queue_size)) {
        vg_errf(err, errlen, "queue-size %u is not a power of two in "
                "[%u, %u]", s->queue_size, VG_MIN_QUEUE_SIZE,
                VG_MAX_QUEUE_SIZE);
    } else if (!strcmp(s->mode, VG_MODE_STATIC) &&
               (s->region_bytes == 0 || s->region_bytes % VG_PAGE_SIZE ||
                s->region_bytes > VG_MAX_REGION_BYTES)) {
        vg_errf(err, errlen, "region %llu is not a multiple of %u in "
                "[%u, %u]", (unsigned long long)s->region_bytes,
                VG_PAGE_SIZE, VG_PAGE_SIZE, VG_MAX_REGION_BYTES);
    } else if (s->devid < -1 || s->devid > (int)VG_MAX_DEVID) {
        vg_errf(err, errlen, "devid %d outside [0, %u]", s->devid,
                VG_MAX_DEVID);
    } else {
        return 0;
    }
invalid:
    errno = EINVAL;
    return -1;
}

