/* SPDX-License-Identifier: MIT */
/*
 * Toolstack side of virtio-grant: parse a device spec, create the backend
 * and frontend xenstore directories (protocol.h "XENSTORE LAYOUT"), remove
 * them (protocol.h "Removal"), list devices.
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

/* Bounded retries of a transaction that xenstored asks us to redo. */
#define VG_TX_ATTEMPTS 16

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

/* ------------------------------------------------------------------------
 * xenstore helpers
 * ------------------------------------------------------------------------ */

/* 1 if path exists, 0 if not, -1 with errno on error. */
static int node_exists(struct vg_hyp *h, vg_xs_tx_t tx, const char *path)
{
    unsigned len = 0;
    char *v = h->ops->xs_read(h, tx, path, &len);

    if (v) {
        free(v);
        return 1;
    }
    return errno == ENOENT ? 0 : -1;
}

/* Create path owned by owner (nobody else may look) unless it exists;
 * intermediate directories the toolstack creates must belong to the
 * domain whose subtree they are in, as with libxl. */
static int ensure_dir(struct vg_hyp *h, vg_xs_tx_t tx, const char *path,
                      uint16_t owner, char *err, size_t errlen)
{
    struct vg_xs_perm perm = { .domid = owner, .perm = VG_XS_PERM_NONE };
    int rc = node_exists(h, tx, path);

    if (rc < 0)
        goto fail;
    if (rc > 0)
        return 0;
    if (h->ops->xs_mkdir(h, tx, path) ||
        h->ops->xs_set_perms(h, tx, path, &perm, 1))
        goto fail;
    return 0;
fail:
    vg_errf(err, errlen, "cannot create %s: %s", path, strerror(errno));
    return -1;
}

static int write_key(struct vg_hyp *h, vg_xs_tx_t tx, const char *dir,
                     const struct vg_xs_perm *perms, unsigned nperms,
                     char *err, size_t errlen, const char *key,
                     const char *fmt, ...)
    __attribute__((format(printf, 9, 10)));

/* Write dir/key and give it the device directory's permissions. */
static int write_key(struct vg_hyp *h, vg_xs_tx_t tx, const char *dir,
                     const struct vg_xs_perm *perms, unsigned nperms,
                     char *err, size_t errlen, const char *key,
                     const char *fmt, ...)
{
    char path[VG_XS_PATH_MAX];
    char value[VG_MAX_XS_VALUE + 1];
    va_list ap;
    int n;

    if (vg_path(path, sizeof(path), "%s/%s", dir, key)) {
        vg_errf(err, errlen, "xenstore path %s/%s is too long", dir, key);
        return -1;
    }
    va_start(ap, fmt);
    n = vsnprintf(value, sizeof(value), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(value)) {
        errno = E2BIG;
        vg_errf(err, errlen, "value of %s is too long", path);
        return -1;
    }
    if (h->ops->xs_write(h, tx, path, value) ||
        h->ops->xs_set_perms(h, tx, path, perms, nperms)) {
        vg_errf(err, errlen, "cannot write %s=%s: %s", path, value,
                strerror(errno));
        return -1;
    }
    return 0;
}

/* List dir into *names (one free() releases all).  A missing or empty
 * directory gives *names = NULL, *num = 0 and returns 0. */
static int read_dir(struct vg_hyp *h, vg_xs_tx_t tx, const char *dir,
                    char ***names, unsigned *num)
{
    *num = 0;
    errno = 0;
    *names = h->ops->xs_directory(h, tx, dir, num);
    if (!*names) {
        *num = 0;
        return (errno == 0 || errno == ENOENT) ? 0 : -1;
    }
    return 0;
}

/* Domain ids listed under /local/domain, sorted; malloc'd (NULL + errno on
 * error). */
static uint16_t *list_domains(struct vg_hyp *h, vg_xs_tx_t tx, unsigned *num)
{
    unsigned n, count = 0;
    char **names;
    uint16_t *ids;

    if (read_dir(h, tx, "/local/domain", &names, &n))
        return NULL;
    ids = calloc(n ? n : 1, sizeof(*ids));
    if (!ids) {
        free(names);
        return NULL;
    }
    for (unsigned i = 0; i < n; i++) {
        uint64_t v;
        if (!vg_parse_uint(names[i], UINT16_MAX, &v))
            ids[count++] = (uint16_t)v;
    }
    free(names);
    /* insertion sort: a host has few domains */
    for (unsigned i = 1; i < count; i++) {
        uint16_t id = ids[i];
        unsigned j = i;
        for (; j > 0 && ids[j - 1] > id; j--)
            ids[j] = ids[j - 1];
        ids[j] = id;
    }
    *num = count;
    return ids;
}

/* Mark the devids listed under dir in used[]; a missing dir adds nothing. */
static int mark_devids(struct vg_hyp *h, vg_xs_tx_t tx, const char *dir,
                       uint8_t *used)
{
    unsigned n;
    char **names;

    if (read_dir(h, tx, dir, &names, &n))
        return -1;
    for (unsigned i = 0; i < n; i++) {
        uint64_t v;
        if (!vg_parse_uint(names[i], VG_MAX_DEVID, &v))
            used[v / 8] |= (uint8_t)(1u << (v % 8));
    }
    free(names);
    return 0;
}

static void backend_dir(char *buf, unsigned size, uint16_t be, uint16_t fe,
                        unsigned devid)
{
    /* cannot overflow VG_XS_PATH_MAX with 16-bit ids and devids */
    vg_path(buf, size, "/local/domain/%u/backend/" VG_XS_CLASS "/%u/%u",
            be, fe, devid);
}

static void frontend_dir(char *buf, unsigned size, uint16_t fe, unsigned devid)
{
    vg_path(buf, size, "/local/domain/%u/device/" VG_XS_CLASS "/%u", fe, devid);
}

/* ------------------------------------------------------------------------
 * attach
 * ------------------------------------------------------------------------ */

#define DEVID_BITMAP_BYTES ((VG_MAX_DEVID + 1) / 8)

/* Devids of frontend fe in use: listed in its frontend class directory or,
 * since the guest owns that directory and may empty it, in any domain's
 * backend directory for fe. */
static int collect_used_devids(struct vg_hyp *h, vg_xs_tx_t tx, uint16_t fe,
                               uint8_t *used, char *err, size_t errlen)
{
    char path[VG_XS_PATH_MAX];
    uint16_t *doms;
    unsigned ndoms;
    int rc = -1;

    vg_path(path, sizeof(path), "/local/domain/%u/device/" VG_XS_CLASS, fe);
    if (mark_devids(h, tx, path, used))
        goto fail;
    doms = list_domains(h, tx, &ndoms);
    if (!doms) {
        vg_path(path, sizeof(path), "/local/domain");
        goto fail;
    }
    for (unsigned i = 0; i < ndoms; i++) {
        vg_path(path, sizeof(path), "/local/domain/%u/backend/" VG_XS_CLASS
                "/%u", doms[i], fe);
        if (mark_devids(h, tx, path, used)) {
            free(doms);
            goto fail;
        }
    }
    free(doms);
    return 0;
fail:
    if (errno != EAGAIN)
        vg_errf(err, errlen, "cannot list %s: %s", path, strerror(errno));
    return rc;
}

/* The spec may come from vg_attach_spec_parse or be filled in by a caller
 * (the xl patch): check what ends up in xenstore either way. */
static int check_spec(const struct vg_attach_spec *s, char *err, size_t errlen)
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

/* Fail with ESRCH unless domid is a live domain with a xenstore home. */
static int check_domain(struct vg_hyp *h, uint16_t domid, const char *role,
                        char *err, size_t errlen)
{
    char path[VG_XS_PATH_MAX];
    int rc = h->ops->domain_alive(h, domid);

    if (rc < 0) {
        vg_errf(err, errlen, "cannot look up %s domain %u: %s", role, domid,
                strerror(errno));
        return -1;
    }
    if (rc == 0) {
        vg_errf(err, errlen, "%s domain %u does not exist", role, domid);
        errno = ESRCH;
        return -1;
    }
    vg_path(path, sizeof(path), "/local/domain/%u", domid);
    rc = node_exists(h, VG_XS_NO_TX, path);
    if (rc <= 0) {
        if (rc == 0)
            errno = ESRCH;
        vg_errf(err, errlen, "%s domain %u has no xenstore directory %s%s%s",
                role, domid, path, rc < 0 ? ": " : "",
                rc < 0 ? strerror(errno) : "");
        return -1;
    }
    return 0;
}

/* Everything attach writes, inside transaction tx. */
static int attach_in_tx(struct vg_hyp *h, vg_xs_tx_t tx, uint16_t fe,
                        const struct vg_attach_spec *s, unsigned *devid_out,
                        char *err, size_t errlen)
{
    const uint16_t be = s->backend_domid;
    char attach_id[VG_ATTACH_ID_BUF];
    /* libxl's PV device permissions: each side owns its directory, the
     * peer may read it, no third domain may look. */
    const struct vg_xs_perm be_perms[2] = {
        { .domid = be, .perm = VG_XS_PERM_NONE },
        { .domid = fe, .perm = VG_XS_PERM_READ },
    };
    const struct vg_xs_perm fe_perms[2] = {
        { .domid = fe, .perm = VG_XS_PERM_NONE },
        { .domid = be, .perm = VG_XS_PERM_READ },
    };
    const unsigned be_nperms = be == fe ? 1 : 2;
    const unsigned fe_nperms = be == fe ? 1 : 2;
    char be_dir[VG_XS_PATH_MAX], fe_dir[VG_XS_PATH_MAX];
    char path[VG_XS_PATH_MAX];
    uint8_t *used;
    unsigned devid;

    used = calloc(1, DEVID_BITMAP_BYTES);
    if (!used) {
        vg_errf(err, errlen, "out of memory");
        return -1;
    }
    if (collect_used_devids(h, tx, fe, used, err, errlen)) {
        free(used);
        return -1;
    }
    if (s->devid >= 0) {
        devid = (unsigned)s->devid;
        if (used[devid / 8] & (1u << (devid % 8))) {
            free(used);
            vg_errf(err, errlen, "domain %u already has virtio-grant device "
                    "%u (devid=%u)", fe, devid, devid);
            errno = EEXIST;
            return -1;
        }
    } else {
        for (devid = 0; devid <= VG_MAX_DEVID; devid++)
            if (!(used[devid / 8] & (1u << (devid % 8))))
                break;
        if (devid > VG_MAX_DEVID) {
            free(used);
            vg_errf(err, errlen, "domain %u has no free virtio-grant devid",
                    fe);
            errno = ENOSPC;
            return -1;
        }
    }
    free(used);

    backend_dir(be_dir, sizeof(be_dir), be, fe, devid);
    frontend_dir(fe_dir, sizeof(fe_dir), fe, devid);

    /* parents the backend domain will watch and clean up */
    vg_path(path, sizeof(path), "/local/domain/%u/backend", be);
    if (ensure_dir(h, tx, path, be, err, errlen))
        return -1;
    vg_path(path, sizeof(path), "/local/domain/%u/backend/" VG_XS_CLASS, be);
    if (ensure_dir(h, tx, path, be, err, errlen))
        return -1;
    vg_path(path, sizeof(path), "/local/domain/%u/backend/" VG_XS_CLASS "/%u",
            be, fe);
    if (ensure_dir(h, tx, path, be, err, errlen))
        return -1;
    vg_path(path, sizeof(path), "/local/domain/%u/device", fe);
    if (ensure_dir(h, tx, path, fe, err, errlen))
        return -1;
    vg_path(path, sizeof(path), "/local/domain/%u/device/" VG_XS_CLASS, fe);
    if (ensure_dir(h, tx, path, fe, err, errlen))
        return -1;

    /* Directory permissions first, so keys created after inherit them;
     * each key also gets them explicitly. */
    if (h->ops->xs_mkdir(h, tx, be_dir) ||
        h->ops->xs_set_perms(h, tx, be_dir, be_perms, be_nperms)) {
        vg_errf(err, errlen, "cannot create %s: %s", be_dir, strerror(errno));
        return -1;
    }
    /* A new identity for every attach (and every retry of the
     * transaction): vgrantd tells this device from an earlier one that
     * had the same directory by it (protocol.h "Identity"). */
    if (vg_attach_id_new(attach_id, sizeof(attach_id))) {
        vg_errf(err, errlen, "cannot generate an attach-id: %s",
                strerror(errno));
        return -1;
    }
#define BE_KEY(key, ...) \
    write_key(h, tx, be_dir, be_perms, be_nperms, err, errlen, key, __VA_ARGS__)
    if (BE_KEY(VG_KEY_FRONTEND, "%s", fe_dir) ||
        BE_KEY(VG_KEY_FRONTEND_ID, "%u", fe) ||
        BE_KEY(VG_KEY_ONLINE, "1") ||
        BE_KEY(VG_KEY_STATE, "%u", VG_XB_INITIALISING) ||
        BE_KEY(VG_KEY_TYPE, "%s", s->type) ||
        BE_KEY(VG_KEY_MODE, "%s", s->mode) ||
        BE_KEY(VG_KEY_QUEUES, "%u", s->queues) ||
        BE_KEY(VG_KEY_QUEUE_SIZE, "%u", s->queue_size) ||
        BE_KEY(VG_KEY_ATTACH_ID, "%s", attach_id))
        return -1;
    if (!strcmp(s->mode, VG_MODE_STATIC) &&
        BE_KEY(VG_KEY_REGION, "%llu", (unsigned long long)s->region_bytes))
        return -1;
    /* the type's own keys, checked by check_spec */
    for (unsigned i = 0; i < s->ntkeys; i++)
        if (BE_KEY(s->tkeys[i].name, "%s", s->tkeys[i].value))
            return -1;
#undef BE_KEY

    if (h->ops->xs_mkdir(h, tx, fe_dir) ||
        h->ops->xs_set_perms(h, tx, fe_dir, fe_perms, fe_nperms)) {
        vg_errf(err, errlen, "cannot create %s: %s", fe_dir, strerror(errno));
        return -1;
    }
#define FE_KEY(key, ...) \
    write_key(h, tx, fe_dir, fe_perms, fe_nperms, err, errlen, key, __VA_ARGS__)
    if (FE_KEY(VG_KEY_BACKEND, "%s", be_dir) ||
        FE_KEY(VG_KEY_BACKEND_ID, "%u", be) ||
        FE_KEY(VG_KEY_STATE, "%u", VG_XB_INITIALISING))
        return -1;
#undef FE_KEY

    *devid_out = devid;
    return 0;
}

int vg_toolstack_attach(struct vg_hyp *h, uint16_t frontend_domid,
                        const struct vg_attach_spec *s, unsigned *devid_out,
                        char *err, size_t errlen)
{
    unsigned devid = 0;

    if (err && errlen)
        err[0] = '\0';
    if (check_spec(s, err, errlen) ||
        check_domain(h, frontend_domid, "frontend", err, errlen) ||
        check_domain(h, s->backend_domid, "backend", err, errlen))
        return -1;

    for (int attempt = 1;; attempt++) {
        vg_xs_tx_t tx = h->ops->xs_tx_start(h);
        int saved;

        if (tx == VG_XS_NO_TX) {
            vg_errf(err, errlen, "cannot start a xenstore transaction: %s",
                    strerror(errno));
            return -1;
        }
        if (attach_in_tx(h, tx, frontend_domid, s, &devid, err, errlen)) {
            saved = errno;
            h->ops->xs_tx_end(h, tx, true);
            errno = saved;
            if (saved == EAGAIN && attempt < VG_TX_ATTEMPTS)
                continue;
            return -1;
        }
        if (h->ops->xs_tx_end(h, tx, false) == 0)
            break;
        if (errno != EAGAIN || attempt >= VG_TX_ATTEMPTS) {
            vg_errf(err, errlen, "cannot commit device %u of domain %u "
                    "(attempt %d): %s", devid, frontend_domid, attempt,
                    strerror(errno));
            return -1;
        }
    }
    if (err && errlen)
        err[0] = '\0';
    if (devid_out)
        *devid_out = devid;
    return 0;
}

/* ------------------------------------------------------------------------
 * detach
 * ------------------------------------------------------------------------ */

/* Longest sleep between checks of the backend, in case a watch event is
 * lost or the hypervisor layer has no watch fd. */
#define DETACH_POLL_MS 100

/* Find the backend domain serving (fe, devid) from the backend
 * directories, which the guest cannot forge, rather than from the
 * frontend's "backend-id".  *be_found is false when no backend has it. */
static int locate_backend(struct vg_hyp *h, uint16_t fe, unsigned devid,
                          uint16_t *be, bool *be_found,
                          char *err, size_t errlen)
{
    char path[VG_XS_PATH_MAX];
    uint16_t *doms;
    unsigned ndoms;

    *be_found = false;
    doms = list_domains(h, VG_XS_NO_TX, &ndoms);
    if (!doms) {
        vg_errf(err, errlen, "cannot list /local/domain: %s", strerror(errno));
        return -1;
    }
    for (unsigned i = 0; i < ndoms && !*be_found; i++) {
        int rc;

        backend_dir(path, sizeof(path), doms[i], fe, devid);
        rc = node_exists(h, VG_XS_NO_TX, path);
        if (rc < 0) {
            vg_errf(err, errlen, "cannot read %s: %s", path, strerror(errno));
            free(doms);
            return -1;
        }
        if (rc > 0) {
            *be = doms[i];
            *be_found = true;
        }
    }
    free(doms);
    return 0;
}

/* Nothing more to wait for: the backend is Closed, its directory or either
 * domain is gone. */
static bool backend_done(struct vg_hyp *h, uint16_t fe, uint16_t be,
                         const char *be_dir)
{
    return vg_xs_read_state(h, be_dir) == VG_XB_CLOSED ||
           node_exists(h, VG_XS_NO_TX, be_dir) == 0 ||
           h->ops->domain_alive(h, fe) == 0 ||
           h->ops->domain_alive(h, be) == 0;
}

/* 0 once backend_done, 1 on timeout. */
static int wait_backend_closed(struct vg_hyp *h, uint16_t fe, uint16_t be,
                               unsigned devid, const char *be_dir,
                               int timeout_ms)
{
    char state_path[VG_XS_PATH_MAX], token[64];
    char wpath[VG_XS_PATH_MAX], wtoken[64];
    const int64_t deadline = (int64_t)vg_now_ms() + timeout_ms;
    bool watched_state, watched_release;
    int fd, rc = 1;

    vg_path(state_path, sizeof(state_path), "%s/%s", be_dir, VG_KEY_STATE);
    snprintf(token, sizeof(token), "vgrant-detach-%u-%u", fe, devid);
    watched_state = h->ops->xs_watch(h, state_path, token) == 0;
    watched_release = h->ops->xs_watch(h, "@releaseDomain", token) == 0;
    fd = h->ops->xs_fd(h);

    for (;;) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int64_t left;

        if (backend_done(h, fe, be, be_dir)) {
            rc = 0;
            break;
        }
        left = deadline - (int64_t)vg_now_ms();
        if (left <= 0)
            break;
        if (left > DETACH_POLL_MS)
            left = DETACH_POLL_MS;
        /* fd < 0: poll ignores it and simply sleeps */
        if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
            break;
        while (h->ops->xs_next_watch(h, wpath, sizeof(wpath), wtoken,
                                     sizeof(wtoken)) == 0)
            ;   /* drained: every event leads to the same re-check */
    }

    if (watched_state)
        h->ops->xs_unwatch(h, state_path, token);
    if (watched_release)
        h->ops->xs_unwatch(h, "@releaseDomain", token);
    return rc;
}

static int rm_if_present(struct vg_hyp *h, vg_xs_tx_t tx, const char *path)
{
    if (h->ops->xs_rm(h, tx, path) == 0 || errno == ENOENT)
        return 0;
    return -1;
}

/* Remove both directories, and the per-frontend backend directory once
 * it holds no device, in one transaction. */
static int remove_device(struct vg_hyp *h, uint16_t fe, unsigned devid,
                         bool be_found, uint16_t be, char *err, size_t errlen)
{
    char be_dir[VG_XS_PATH_MAX], fe_dir[VG_XS_PATH_MAX];
    char be_parent[VG_XS_PATH_MAX];

    frontend_dir(fe_dir, sizeof(fe_dir), fe, devid);
    if (be_found) {
        backend_dir(be_dir, sizeof(be_dir), be, fe, devid);
        vg_path(be_parent, sizeof(be_parent),
                "/local/domain/%u/backend/" VG_XS_CLASS "/%u", be, fe);
    }

    for (int attempt = 1;; attempt++) {
        vg_xs_tx_t tx = h->ops->xs_tx_start(h);
        const char *failed = NULL;

        if (tx == VG_XS_NO_TX) {
            vg_errf(err, errlen, "cannot start a xenstore transaction: %s",
                    strerror(errno));
            return -1;
        }
        if (be_found && rm_if_present(h, tx, be_dir))
            failed = be_dir;
        else if (rm_if_present(h, tx, fe_dir))
            failed = fe_dir;
        if (!failed && be_found) {
            char **names;
            unsigned n;

            if (read_dir(h, tx, be_parent, &names, &n) == 0) {
                free(names);
                if (n == 0 && rm_if_present(h, tx, be_parent))
                    failed = be_parent;
            }
        }
        if (failed) {
            int saved = errno;
            h->ops->xs_tx_end(h, tx, true);
            if (saved == EAGAIN && attempt < VG_TX_ATTEMPTS)
                continue;
            vg_errf(err, errlen, "cannot remove %s: %s", failed,
                    strerror(saved));
            errno = saved;
            return -1;
        }
        if (h->ops->xs_tx_end(h, tx, false) == 0)
            return 0;
        if (errno != EAGAIN || attempt >= VG_TX_ATTEMPTS) {
            vg_errf(err, errlen, "cannot commit removal of device %u of "
                    "domain %u: %s", devid, fe, strerror(errno));
            return -1;
        }
    }
}

int vg_toolstack_detach(struct vg_hyp *h, uint16_t frontend_domid,
                        unsigned devid, int timeout_ms,
                        char *err, size_t errlen)
{
    const uint16_t fe = frontend_domid;
    char be_dir[VG_XS_PATH_MAX], fe_dir[VG_XS_PATH_MAX];
    uint16_t be = 0;
    bool be_found;
    int fe_found, timed_out = 0;

    if (err && errlen)
        err[0] = '\0';
    if (devid > VG_MAX_DEVID) {
        vg_errf(err, errlen, "devid %u outside [0, %u]", devid, VG_MAX_DEVID);
        errno = EINVAL;
        return -1;
    }
    if (timeout_ms < 0)
        timeout_ms = 0;

    if (locate_backend(h, fe, devid, &be, &be_found, err, errlen))
        return -1;
    frontend_dir(fe_dir, sizeof(fe_dir), fe, devid);
    fe_found = node_exists(h, VG_XS_NO_TX, fe_dir);
    if (fe_found < 0) {
        vg_errf(err, errlen, "cannot read %s: %s", fe_dir, strerror(errno));
        return -1;
    }
    if (!be_found && !fe_found) {
        vg_errf(err, errlen, "domain %u has no virtio-grant device %u",
                fe, devid);
        errno = ENOENT;
        return -1;
    }

    if (be_found) {
        backend_dir(be_dir, sizeof(be_dir), be, fe, devid);
        if (vg_xs_write_fmt(h, VG_XS_NO_TX, be_dir, VG_KEY_ONLINE, "0") &&
            errno != ENOENT) {
            vg_errf(err, errlen, "cannot write %s/%s=0: %s", be_dir,
                    VG_KEY_ONLINE, strerror(errno));
            return -1;
        }
        timed_out = wait_backend_closed(h, fe, be, devid, be_dir, timeout_ms);
    }

    if (remove_device(h, fe, devid, be_found, be, err, errlen))
        return -1;
    if (timed_out) {
        vg_errf(err, errlen, "domain %u device %u: backend did not close "
                "within %g s: is vgrantd running in domain %u? Removed the "
                "device anyway", fe, devid, timeout_ms / 1000.0, be);
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * list
 * ------------------------------------------------------------------------ */

/* Copy a value the backend domain may have rewritten, for display: bounded
 * and with anything unprintable replaced. */
static void read_display(struct vg_hyp *h, const char *dir, const char *key,
                         char *buf, size_t size)
{
    char *v = vg_xs_read_str(h, VG_XS_NO_TX, dir, key);
    size_t i = 0;

    if (v) {
        for (; v[i] && i + 1 < size; i++)
            buf[i] = (v[i] >= 0x20 && v[i] < 0x7f) ? v[i] : '?';
        free(v);
    }
    buf[i] = '\0';
}

static void read_device(struct vg_hyp *h, uint16_t be, uint16_t fe,
                        unsigned devid, struct vg_device_info *d)
{
    char be_dir[VG_XS_PATH_MAX], fe_dir[VG_XS_PATH_MAX];
    uint64_t ro = 0;

    backend_dir(be_dir, sizeof(be_dir), be, fe, devid);
    frontend_dir(fe_dir, sizeof(fe_dir), fe, devid);
    memset(d, 0, sizeof(*d));
    d->frontend_domid = fe;
    d->devid = devid;
    d->backend_domid = be;
    read_display(h, be_dir, VG_KEY_TYPE, d->type, sizeof(d->type));
    read_display(h, be_dir, VG_KEY_MODE, d->mode, sizeof(d->mode));
    read_display(h, be_dir, VG_KEY_TARGET, d->target, sizeof(d->target));
    if (vg_xs_read_uint(h, VG_XS_NO_TX, be_dir, VG_KEY_READONLY, 1, &ro) == 0)
        d->readonly = ro == 1;
    d->be_state = vg_xs_read_state(h, be_dir);
    d->fe_state = vg_xs_read_state(h, fe_dir);
}

static int cmp_device(const void *a, const void *b)
{
    const struct vg_device_info *x = a, *y = b;

    if (x->frontend_domid != y->frontend_domid)
        return x->frontend_domid < y->frontend_domid ? -1 : 1;
    if (x->devid != y->devid)
        return x->devid < y->devid ? -1 : 1;
    if (x->backend_domid != y->backend_domid)
        return x->backend_domid < y->backend_domid ? -1 : 1;
    return 0;
}

/* Append the devices that backend domain be holds for frontends matching
 * want_fe (-1 = all). */
static int collect_backend(struct vg_hyp *h, uint16_t be, int want_fe,
                           struct vg_device_info **devs, unsigned *ndevs,
                           unsigned *cap)
{
    char class_dir[VG_XS_PATH_MAX], fe_path[VG_XS_PATH_MAX];
    char **fes = NULL, **ids = NULL;
    unsigned nfes, nids;
    int rc = -1;

    vg_path(class_dir, sizeof(class_dir),
            "/local/domain/%u/backend/" VG_XS_CLASS, be);
    if (read_dir(h, VG_XS_NO_TX, class_dir, &fes, &nfes))
        return -1;
    for (unsigned i = 0; i < nfes; i++) {
        uint64_t fe;

        if (vg_parse_uint(fes[i], UINT16_MAX, &fe) ||
            (want_fe >= 0 && fe != (uint64_t)want_fe))
            continue;
        vg_path(fe_path, sizeof(fe_path), "%s/%u", class_dir, (unsigned)fe);
        if (read_dir(h, VG_XS_NO_TX, fe_path, &ids, &nids))
            goto out;
        for (unsigned j = 0; j < nids; j++) {
            uint64_t devid;

            if (vg_parse_uint(ids[j], VG_MAX_DEVID, &devid))
                continue;
            if (*ndevs == *cap) {
                unsigned ncap = *cap ? *cap * 2 : 16;
                struct vg_device_info *n = realloc(*devs, ncap * sizeof(*n));
                if (!n)
                    goto out;
                *devs = n;
                *cap = ncap;
            }
            read_device(h, be, (uint16_t)fe, (unsigned)devid,
                        &(*devs)[(*ndevs)++]);
        }
        free(ids);
        ids = NULL;
    }
    rc = 0;
out:
    free(ids);
    free(fes);
    return rc;
}

int vg_toolstack_list(struct vg_hyp *h, int frontend_domid,
                      vg_device_cb cb, void *arg, char *err, size_t errlen)
{
    struct vg_device_info *devs = NULL;
    unsigned ndevs = 0, cap = 0, ndoms;
    uint16_t *doms;
    int rc = -1;

    if (err && errlen)
        err[0] = '\0';
    if (frontend_domid > (int)UINT16_MAX || frontend_domid < -1) {
        vg_errf(err, errlen, "domain %d is not a domain id", frontend_domid);
        errno = EINVAL;
        return -1;
    }
    doms = list_domains(h, VG_XS_NO_TX, &ndoms);
    if (!doms) {
        vg_errf(err, errlen, "cannot list /local/domain: %s", strerror(errno));
        return -1;
    }
    for (unsigned i = 0; i < ndoms; i++) {
        if (collect_backend(h, doms[i], frontend_domid, &devs, &ndevs, &cap)) {
            vg_errf(err, errlen, "cannot list the virtio-grant devices of "
                    "backend domain %u: %s", doms[i], strerror(errno));
            goto out;
        }
    }
    if (ndevs)
        qsort(devs, ndevs, sizeof(*devs), cmp_device);
    for (unsigned i = 0; i < ndevs; i++) {
        if (cb && cb(&devs[i], arg)) {
            errno = ECANCELED;
            goto out;
        }
    }
    rc = (int)ndevs;
out:
    free(devs);
    free(doms);
    return rc;
}
