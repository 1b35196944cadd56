/* SPDX-License-Identifier: MIT */
/*
 * Fake hypervisor (see hyp_fake.c): the xenstore tree.  Paths, nodes with
 * Xen permissions and quotas, and delivery of changes to watches (at once,
 * or at transaction commit), like xenstored.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vgrant/hyp.h"
#include "vgrant/xsutil.h"
#include "vgrant/log.h"

#include "hyp_fake_int.h"

static bool xs_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '/' || c == '_' || c == '@';
}

/* Canonical absolute path of `in` (relative paths live under the domain's
 * home /local/domain/<id>), validated like xenstored does.  "@name" special
 * paths only where allow_special. */
int xs_canon(uint16_t domid, const char *in, char *out, size_t outsz,
                    bool allow_special, bool *relative)
{
    int n;

    if (!in || !*in)
        goto bad;
    if (in[0] == '@' && !allow_special)
        goto bad;
    if (in[0] == '/' || in[0] == '@')
        n = snprintf(out, outsz, "%s", in);
    else
        n = snprintf(out, outsz, "/local/domain/%u/%s", domid, in);
    if (n < 0 || (size_t)n >= outsz || (size_t)n > FAKE_XS_PATH_MAX)
        goto bad;
    if (relative)
        *relative = in[0] != '/' && in[0] != '@';
    for (const char *p = out; *p; p++) {
        if (!xs_char_ok(*p) || (*p == '@' && p != out))
            goto bad;
        if (*p == '/' && (p[1] == '/' || (p[1] == '\0' && p != out)))
            goto bad;
    }
    if (out[0] == '@' && strchr(out, '/'))
        goto bad;
    return 0;
bad:
    errno = EINVAL;
    return -1;
}


static unsigned perm_for(uint16_t domid, const struct vg_xs_perm *perms, unsigned n)
{
    if (domid == 0)
        return VG_XS_PERM_BOTH;           /* dom0 is privileged */
    if (n == 0)
        return VG_XS_PERM_NONE;
    if (perms[0].domid == domid)
        return VG_XS_PERM_BOTH;           /* the owner */
    for (unsigned i = 1; i < n; i++)
        if (perms[i].domid == domid)
            return perms[i].perm & VG_XS_PERM_BOTH;
    return perms[0].perm & VG_XS_PERM_BOTH;
}

unsigned node_perm(uint16_t domid, const struct xs_node *n)
{
    return perm_for(domid, n->perms, n->nperms);
}

void node_free(struct xs_node *n)
{
    if (!n || --n->refs > 0)
        return;
    for (unsigned i = 0; i < n->nkids; i++)
        node_free(n->kids[i]);
    free(n->kids);
    free(n->name);
    free(n->value);
    free(n->perms);
    free(n);
}

struct xs_node *node_new(const char *name, size_t name_len,
                                const struct vg_xs_perm *perms, unsigned nperms)
{
    struct xs_node *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->refs = 1;
    n->name = strndup(name, name_len);
    n->value = strdup("");
    n->perms = malloc(nperms * sizeof(*perms));
    if (!n->name || !n->value || !n->perms) {
        node_free(n);
        errno = ENOMEM;
        return NULL;
    }
    memcpy(n->perms, perms, nperms * sizeof(*perms));
    n->nperms = nperms;
    return n;
}

static int node_add_child(struct xs_node *parent, struct xs_node *kid)
{
    if (parent->nkids == parent->kids_cap) {
        unsigned cap = parent->kids_cap ? parent->kids_cap * 2 : 4;
        struct xs_node **k = realloc(parent->kids, cap * sizeof(*k));
        if (!k)
            return -1;
        parent->kids = k;
        parent->kids_cap = cap;
    }
    parent->kids[parent->nkids++] = kid;
    return 0;
}

/* Index of the kid called name[0..len) in n->kids, or -1. */
static int node_kid_index(const struct xs_node *n, const char *name, size_t len)
{
    for (unsigned i = 0; i < n->nkids; i++)
        if (strlen(n->kids[i]->name) == len && !memcmp(n->kids[i]->name, name, len))
            return (int)i;
    return -1;
}

static struct xs_node *node_child(const struct xs_node *n, const char *name, size_t len)
{
    int i = node_kid_index(n, name, len);
    return i < 0 ? NULL : n->kids[i];
}

/* A private copy of one node: same name, value and perms, the same kids
 * (one more reference each). */
static struct xs_node *node_copy_one(const struct xs_node *src)
{
    struct xs_node *n = node_new(src->name, strlen(src->name), src->perms, src->nperms);

    if (!n)
        return NULL;
    free(n->value);
    n->value = malloc(src->value_len + 1);
    n->kids = src->nkids ? malloc(src->nkids * sizeof(*n->kids)) : NULL;
    if (!n->value || (src->nkids && !n->kids)) {
        node_free(n);
        errno = ENOMEM;
        return NULL;
    }
    memcpy(n->value, src->value, src->value_len + 1);
    n->value_len = src->value_len;
    for (unsigned i = 0; i < src->nkids; i++) {
        n->kids[i] = src->kids[i];
        n->kids[i]->refs++;
    }
    n->nkids = n->kids_cap = src->nkids;
    return n;
}

/* Make *slot exclusive to the tree holding the slot. */
static struct xs_node *node_own_slot(struct xs_node **slot)
{
    struct xs_node *n = *slot;

    if (n->refs > 1) {
        struct xs_node *c = node_copy_one(n);
        if (!c)
            return NULL;
        n->refs--;
        *slot = c;
    }
    return *slot;
}

struct xs_node *node_own_walk(struct xs_node **rootp, const char *path,
                              const char **rest)
{
    struct xs_node *n = node_own_slot(rootp);
    const char *p = path + 1;

    while (n && *p) {
        const char *end = strchrnul(p, '/');
        int i = node_kid_index(n, p, (size_t)(end - p));
        if (i < 0)
            break;
        n = node_own_slot(&n->kids[i]);
        p = *end ? end + 1 : end;
    }
    *rest = p;
    return n;
}

struct xs_node *node_own(struct xs_node **rootp, const char *path)
{
    const char *rest;
    struct xs_node *n = node_own_walk(rootp, path, &rest);

    if (n && *rest) {
        errno = ENOENT;
        return NULL;
    }
    return n;
}

int node_remove(struct xs_node **rootp, const char *path)
{
    const char *slash = strrchr(path, '/');
    char parent[FAKE_XS_PATH_MAX + 1];
    size_t plen = slash ? (size_t)(slash - path) : 0;
    struct xs_node *p;
    int i;

    if (!slash || plen >= sizeof(parent) || !slash[1]) {
        errno = EINVAL;
        return -1;
    }
    memcpy(parent, path, plen);
    parent[plen] = '\0';
    p = plen ? node_own(rootp, parent) : node_own_slot(rootp);
    if (!p)
        return -1;
    i = node_kid_index(p, slash + 1, strlen(slash + 1));
    if (i < 0) {
        errno = ENOENT;
        return -1;
    }
    node_free(p->kids[i]);
    memmove(&p->kids[i], &p->kids[i + 1], (p->nkids - (unsigned)i - 1) * sizeof(p->kids[0]));
    p->nkids--;
    return 0;
}

/* Walk a canonical path; returns the deepest existing node and sets
 * *rest to the first missing component ("" when the node exists). */
struct xs_node *node_walk(struct xs_node *root, const char *path, const char **rest)
{
    struct xs_node *n = root;
    const char *p = path + 1;

    while (*p) {
        const char *end = strchrnul(p, '/');
        struct xs_node *kid = node_child(n, p, (size_t)(end - p));
        if (!kid)
            break;
        n = kid;
        p = *end ? end + 1 : end;
    }
    *rest = p;
    return n;
}

struct xs_node *node_lookup(struct xs_node *root, const char *path)
{
    const char *rest;
    struct xs_node *n = node_walk(root, path, &rest);
    return *rest ? NULL : n;
}

/* The node at path if domid may access it with `want`; else NULL with
 * errno ENOENT, or EACCES when the domain may not even know (an unreadable
 * ancestor hides whether the node exists, as in xenstored). */
struct xs_node *node_access(struct xs_node *root, const char *path,
                                   uint16_t domid, unsigned want)
{
    const char *rest;
    struct xs_node *n = node_walk(root, path, &rest);

    if (*rest) {
        errno = (node_perm(domid, n) & VG_XS_PERM_READ) ? ENOENT : EACCES;
        return NULL;
    }
    if ((node_perm(domid, n) & want) != want) {
        errno = EACCES;
        return NULL;
    }
    return n;
}

static unsigned nodes_owned(const struct xs_node *n, uint16_t domid)
{
    unsigned count = n->nperms && n->perms[0].domid == domid;
    for (unsigned i = 0; i < n->nkids; i++)
        count += nodes_owned(n->kids[i], domid);
    return count;
}

/* Create path and its missing parents; needs write access to the deepest
 * existing ancestor.  New nodes inherit their parent's perms, and an
 * unprivileged creator becomes the owner, within its node quota (EDQUOT,
 * as xenstored's EQUOTA), so a guest cannot grow the store without limit. */
struct xs_node *node_create(struct xs_node **rootp, const char *path, uint16_t domid)
{
    const char *rest;
    struct xs_node *n = node_walk(*rootp, path, &rest);

    if (!*rest)
        return node_own(rootp, path);
    if (!(node_perm(domid, n) & VG_XS_PERM_WRITE)) {
        errno = EACCES;
        return NULL;
    }
    if (domid != 0) {
        unsigned missing = 1;
        for (const char *c = rest; *c; c++)
            missing += *c == '/';
        if (nodes_owned(*rootp, domid) + missing > FAKE_XS_QUOTA_NODES) {
            vg_debug("fake: dom %u over its xenstore quota creating %s", domid, path);
            errno = EDQUOT;
            return NULL;
        }
    }
    n = node_own_walk(rootp, path, &rest);
    if (!n)
        return NULL;
    while (*rest) {
        const char *end = strchrnul(rest, '/');
        struct xs_node *kid = node_new(rest, (size_t)(end - rest), n->perms, n->nperms);
        if (!kid)
            return NULL;
        if (domid != 0)
            kid->perms[0].domid = domid;
        if (node_add_child(n, kid) < 0) {
            node_free(kid);
            errno = ENOMEM;
            return NULL;
        }
        n = kid;
        rest = *end ? end + 1 : end;
    }
    return n;
}

/* ------------------------------------------------------------------ */
/* xenstore: watches                                                   */
/* ------------------------------------------------------------------ */

/* p is anc or below it. */
static bool path_under(const char *p, const char *anc)
{
    size_t la = strlen(anc);

    if (!strcmp(anc, "/"))
        return p[0] == '/';
    return !strncmp(p, anc, la) && (p[la] == '\0' || p[la] == '/');
}

void event_free(struct fake_event *e)
{
    free(e->path);
    free(e->token);
    e->path = e->token = NULL;
}

/* Double a handle's event ring (from 8 entries; most handles never hold
 * more than a few events, and a full-size ring per handle cost the fuzz
 * harnesses more than their input). */
static int queue_grow(struct fake_hyp *fh)
{
    unsigned cap = fh->q_cap ? fh->q_cap * 2 : 8;
    struct fake_event *q;

    if (cap > FAKE_WATCH_QUEUE_MAX)
        cap = FAKE_WATCH_QUEUE_MAX;
    q = calloc(cap, sizeof(*q));
    if (!q)
        return -1;
    for (unsigned i = 0; i < fh->q_len; i++)
        q[i] = fh->queue[(fh->q_head + i) % fh->q_cap];
    free(fh->queue);
    fh->queue = q;
    fh->q_cap = cap;
    fh->q_head = 0;
    return 0;
}

/* Queue an event; a full queue drops its oldest event, so a domain that
 * writes in a loop cannot grow a watcher's memory without limit. */
void queue_event(struct fake_hyp *fh, const char *path, const struct fake_watch *wt)
{
    char home[32];
    size_t hl = (size_t)snprintf(home, sizeof(home), "/local/domain/%u/", fh->pub.domid);
    struct fake_event e;

    if (wt->relative && !strncmp(path, home, hl))
        path += hl;
    if (fh->q_len == fh->q_cap && fh->q_cap < FAKE_WATCH_QUEUE_MAX &&
        queue_grow(fh))
        return;
    e.path = strdup(path);
    e.token = strdup(wt->token);
    if (!e.path || !e.token) {
        event_free(&e);
        return;
    }
    if (fh->q_len == FAKE_WATCH_QUEUE_MAX) {
        event_free(&fh->queue[fh->q_head]);
        fh->q_head = (fh->q_head + 1) % fh->q_cap;
        fh->q_len--;
        if (fh->q_dropped++ == 0)
            vg_warn("fake: dom %u watch queue full (%u events), dropping the oldest",
                    fh->pub.domid, FAKE_WATCH_QUEUE_MAX);
    }
    fh->queue[(fh->q_head + fh->q_len) % fh->q_cap] = e;
    fh->q_len++;
    fd_set_readable(fh->xs_fd, &fh->xs_signalled, true);
}

void fire_change(struct vg_fake_world *w, const struct xs_change *c)
{
    bool special = c->path[0] == '@';

    for (struct fake_hyp *fh = w->handles; fh; fh = fh->next) {
        if (fh->dom->dead)
            continue;
        /* Like xenstored, no event about a node the watcher cannot read. */
        if (!special && !(perm_for(fh->pub.domid, c->perms, c->nperms) & VG_XS_PERM_READ))
            continue;
        for (struct fake_watch *wt = fh->watches; wt; wt = wt->next) {
            const char *ev = NULL;
            if (special || wt->path[0] == '@')
                ev = !strcmp(wt->path, c->path) ? c->path : NULL;
            else if (path_under(c->path, wt->path))
                ev = c->path;
            else if (c->removal && path_under(wt->path, c->path))
                ev = wt->path;      /* an ancestor of the watched node went */
            if (ev)
                queue_event(fh, ev, wt);
        }
    }
}

static void change_free(struct xs_change *c)
{
    if (c) {
        free(c->path);
        free(c->perms);
        free(c);
    }
}

static struct xs_change *change_new(const char *path, bool removal, const struct xs_node *n)
{
    struct xs_change *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->path = strdup(path);
    c->removal = removal;
    if (n && n->nperms) {
        c->perms = malloc(n->nperms * sizeof(*c->perms));
        if (c->perms) {
            memcpy(c->perms, n->perms, n->nperms * sizeof(*c->perms));
            c->nperms = n->nperms;
        }
    }
    if (!c->path || (n && n->nperms && !c->perms)) {
        change_free(c);
        return NULL;
    }
    return c;
}

void tx_free(struct fake_tx *t)
{
    while (t->changes) {
        struct xs_change *c = t->changes;
        t->changes = c->next;
        change_free(c);
    }
    node_free(t->root);
    free(t);
}

/* Record a change: inside a transaction it waits for the commit; outside
 * it is committed now and its watches fire. */
void xs_changed(struct vg_fake_world *w, struct fake_tx *t, const char *path,
                       bool removal, const struct xs_node *n)
{
    struct xs_change *c = change_new(path, removal, n);

    if (t) {
        t->dirty = true;     /* the tree copy already holds the change */
        if (c) {
            *t->changes_tail = c;
            t->changes_tail = &c->next;
        } else {
            vg_warn("fake: out of memory, watch event for %s lost", path);
        }
        return;
    }
    w->xs_gen++;
    if (c)
        fire_change(w, c);
    else
        vg_warn("fake: out of memory, watch event for %s lost", path);
    change_free(c);
}

void fire_special(struct vg_fake_world *w, const char *name)
{
    struct xs_change *c = change_new(name, false, NULL);
    if (c)
        fire_change(w, c);
    change_free(c);
}
