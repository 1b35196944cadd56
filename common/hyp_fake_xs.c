/* SPDX-License-Identifier: MIT */
/*
 * Fake hypervisor (see hyp_fake.c): the xenstore operations of a handle:
 * read, write, mkdir, rm, directory, permissions, transactions (which
 * conflict like xenstored's) and watches (which fire once on registration
 * and on every change below).
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

/* One xenstore call in progress: its handle, its path made canonical and
 * its transaction (NULL: none). */
struct xs_op {
    struct fake_hyp *fh;
    struct fake_tx *t;
    char p[FAKE_XS_PATH_MAX + 1];
};

/* Common prologue of a xenstore call: lock the world, check the handle is
 * alive, make the path canonical, return the slot of the root of the tree
 * the transaction (or none) sees.  NULL with errno on failure; either way
 * xs_op_end() unlocks. */
static struct xs_node **xs_op_begin(struct xs_op *op, struct vg_hyp *h, vg_xs_tx_t tx,
                                    const char *path)
{
    struct fake_hyp *fh = fake_of(h);

    op->fh = fh;
    op->t = NULL;
    world_lock(fh->world);
    if (!handle_alive(fh))
        return NULL;
    if (xs_canon(fh->pub.domid, path, op->p, sizeof(op->p), false, NULL) < 0)
        return NULL;
    if (tx == VG_XS_NO_TX)
        return &fh->world->root;
    for (struct fake_tx *t = fh->txs; t; t = t->next) {
        if (t->id == tx) {
            op->t = t;
            return &t->root;
        }
    }
    errno = ENOENT;
    return NULL;
}

/* Epilogue of every call xs_op_begin() started (errno kept). */
static void xs_op_end(struct xs_op *op)
{
    world_unlock(op->fh->world);
}

char *fake_xs_read(struct vg_hyp *h, vg_xs_tx_t tx, const char *path, unsigned *len)
{
    struct xs_op op;
    char *ret = NULL;

    struct xs_node **root = xs_op_begin(&op, h, tx, path);
    struct xs_node *n = root ? node_access(*root, op.p, h->domid, VG_XS_PERM_READ) : NULL;
    if (n) {
        ret = malloc(n->value_len + 1);
        if (ret) {
            memcpy(ret, n->value, n->value_len + 1);
            if (len)
                *len = n->value_len;
        }
    }
    xs_op_end(&op);
    return ret;
}

int fake_xs_write(struct vg_hyp *h, vg_xs_tx_t tx, const char *path, const char *value)
{
    struct xs_op op;
    int ret = -1;

    struct xs_node **root = xs_op_begin(&op, h, tx, path);
    if (!root)
        goto out;
    if (!value) {
        errno = EINVAL;
        goto out;
    }
    size_t vlen = strlen(value);
    if (vlen > FAKE_XS_VALUE_MAX) {
        errno = E2BIG;
        goto out;
    }
    char *copy = strdup(value);
    if (!copy)
        goto out;
    struct xs_node *n = node_lookup(*root, op.p);
    if (n && !(node_perm(h->domid, n) & VG_XS_PERM_WRITE)) {
        errno = EACCES;
        n = NULL;
    } else if (n) {
        n = node_own(root, op.p);
    } else {
        n = node_create(root, op.p, h->domid);
    }
    if (!n) {
        free(copy);
        goto out;
    }
    free(n->value);
    n->value = copy;
    n->value_len = (unsigned)vlen;
    xs_changed(op.fh->world, op.t, op.p, false, n);
    ret = 0;
out:
    xs_op_end(&op);
    return ret;
}

int fake_xs_mkdir(struct vg_hyp *h, vg_xs_tx_t tx, const char *path)
{
    struct xs_op op;
    int ret = -1;

    struct xs_node **root = xs_op_begin(&op, h, tx, path);
    if (!root)
        goto out;
    struct xs_node *n = node_lookup(*root, op.p);
    if (n) {
        if (!(node_perm(h->domid, n) & VG_XS_PERM_WRITE)) {
            errno = EACCES;
            goto out;
        }
        ret = 0;
        goto out;
    }
    n = node_create(root, op.p, h->domid);
    if (!n)
        goto out;
    xs_changed(op.fh->world, op.t, op.p, false, n);
    ret = 0;
out:
    xs_op_end(&op);
    return ret;
}

int fake_xs_rm(struct vg_hyp *h, vg_xs_tx_t tx, const char *path)
{
    struct xs_op op;
    int ret = -1;

    struct xs_node **root = xs_op_begin(&op, h, tx, path);
    if (!root)
        goto out;
    if (!strcmp(op.p, "/")) {
        errno = EINVAL;
        goto out;
    }
    struct xs_node *n = node_access(*root, op.p, h->domid, VG_XS_PERM_WRITE);
    if (!n) {
        /* Removing a missing node whose parent exists succeeds, as in
         * xenstored. */
        if (errno == ENOENT) {
            const char *rest;
            node_walk(*root, op.p, &rest);
            if (!strchr(rest, '/'))
                ret = 0;
        }
        goto out;
    }
    xs_changed(op.fh->world, op.t, op.p, true, n);    /* copies n's perms first */
    ret = node_remove(root, op.p);
out:
    xs_op_end(&op);
    return ret;
}

char **fake_xs_directory(struct vg_hyp *h, vg_xs_tx_t tx, const char *path,
                                unsigned *num)
{
    struct xs_op op;
    char **ret = NULL;

    struct xs_node **root = xs_op_begin(&op, h, tx, path);
    struct xs_node *n = root ? node_access(*root, op.p, h->domid, VG_XS_PERM_READ) : NULL;
    if (!n)
        goto out;
    /* One block: the pointer array, then the names. */
    size_t size = (n->nkids + 1) * sizeof(char *);
    for (unsigned i = 0; i < n->nkids; i++)
        size += strlen(n->kids[i]->name) + 1;
    ret = malloc(size);
    if (!ret)
        goto out;
    char *str = (char *)(ret + n->nkids + 1);
    for (unsigned i = 0; i < n->nkids; i++) {
        size_t l = strlen(n->kids[i]->name) + 1;
        memcpy(str, n->kids[i]->name, l);
        ret[i] = str;
        str += l;
    }
    ret[n->nkids] = NULL;
    if (num)
        *num = n->nkids;
out:
    xs_op_end(&op);
    return ret;
}

int fake_xs_set_perms(struct vg_hyp *h, vg_xs_tx_t tx, const char *path,
                             const struct vg_xs_perm *perms, unsigned num)
{
    struct xs_op op;
    int ret = -1;

    struct xs_node **root = xs_op_begin(&op, h, tx, path);
    if (!root)
        goto out;
    if (!perms || num == 0 || num > FAKE_XS_MAX_PERMS) {
        errno = EINVAL;
        goto out;
    }
    struct xs_node *n = node_access(*root, op.p, h->domid, VG_XS_PERM_WRITE);
    if (!n)
        goto out;
    /* Only the owner (or dom0) sets perms, and only dom0 gives a node
     * away, as in xenstored. */
    if (h->domid != 0 && n->perms[0].domid != h->domid) {
        errno = EACCES;
        goto out;
    }
    if (h->domid != 0 && perms[0].domid != n->perms[0].domid) {
        errno = EPERM;
        goto out;
    }
    n = node_own(root, op.p);
    if (!n)
        goto out;
    struct vg_xs_perm *copy = malloc(num * sizeof(*copy));
    if (!copy)
        goto out;
    for (unsigned i = 0; i < num; i++)
        copy[i] = (struct vg_xs_perm){ perms[i].domid, perms[i].perm & VG_XS_PERM_BOTH };
    free(n->perms);
    n->perms = copy;
    n->nperms = num;
    xs_changed(op.fh->world, op.t, op.p, false, n);
    ret = 0;
out:
    xs_op_end(&op);
    return ret;
}

struct vg_xs_perm *fake_xs_get_perms(struct vg_hyp *h, vg_xs_tx_t tx,
                                            const char *path, unsigned *num)
{
    struct xs_op op;
    struct vg_xs_perm *ret = NULL;

    struct xs_node **root = xs_op_begin(&op, h, tx, path);
    struct xs_node *n = root ? node_access(*root, op.p, h->domid, VG_XS_PERM_READ) : NULL;
    if (n) {
        ret = malloc(n->nperms * sizeof(*ret));
        if (ret) {
            memcpy(ret, n->perms, n->nperms * sizeof(*ret));
            if (num)
                *num = n->nperms;
        }
    }
    xs_op_end(&op);
    return ret;
}

vg_xs_tx_t fake_xs_tx_start(struct vg_hyp *h)
{
    struct fake_hyp *fh = fake_of(h);
    struct vg_fake_world *w = fh->world;
    struct fake_tx *t = NULL;
    vg_xs_tx_t id = VG_XS_NO_TX;

    world_lock(w);
    if (!handle_alive(fh))
        goto out;
    if (fh->ntx >= FAKE_MAX_TX) {
        errno = ENOSPC;
        goto out;
    }
    t = calloc(1, sizeof(*t));
    if (!t)
        goto out;
    t->root = w->root;                   /* snapshot, copied on write */
    t->root->refs++;
    if (++w->next_tx == VG_XS_NO_TX)
        ++w->next_tx;
    t->id = w->next_tx;
    t->base_gen = w->xs_gen;
    t->changes_tail = &t->changes;
    t->next = fh->txs;
    fh->txs = t;
    fh->ntx++;
    id = t->id;
out:
    world_unlock(w);
    return id;
}

int fake_xs_tx_end(struct vg_hyp *h, vg_xs_tx_t tx, bool abort)
{
    struct fake_hyp *fh = fake_of(h);
    struct vg_fake_world *w = fh->world;
    struct fake_tx *t = NULL;
    int ret = -1;

    world_lock(w);
    if (!handle_alive(fh))
        goto out;
    for (struct fake_tx **pt = &fh->txs; *pt; pt = &(*pt)->next) {
        if ((*pt)->id == tx) {
            t = *pt;
            *pt = t->next;
            fh->ntx--;
            break;
        }
    }
    if (!t) {
        errno = ENOENT;
        goto out;
    }
    if (abort || !t->dirty) {
        ret = 0;                 /* a read-only tx saw one consistent tree */
        goto out;
    }
    if (t->base_gen != w->xs_gen) {
        errno = EAGAIN;          /* someone changed the tree meanwhile */
        goto out;
    }
    node_free(w->root);
    w->root = t->root;
    t->root = NULL;
    w->xs_gen++;
    for (struct xs_change *c = t->changes; c; c = c->next)
        fire_change(w, c);
    ret = 0;
out:
    if (t)
        tx_free(t);
    world_unlock(w);
    return ret;
}

void watch_free(struct fake_watch *wt)
{
    free(wt->path);
    free(wt->token);
    free(wt);
}

int fake_xs_watch(struct vg_hyp *h, const char *path, const char *token)
{
    struct fake_hyp *fh = fake_of(h);
    struct vg_fake_world *w = fh->world;
    char p[FAKE_XS_PATH_MAX + 1];
    struct fake_watch *wt = NULL;
    bool relative;
    int ret = -1;

    world_lock(w);
    if (!handle_alive(fh))
        goto out;
    if (xs_canon(h->domid, path, p, sizeof(p), true, &relative) < 0)
        goto out;
    if (!token || strlen(token) > FAKE_XS_TOKEN_MAX) {
        errno = EINVAL;
        goto out;
    }
    for (struct fake_watch *o = fh->watches; o; o = o->next) {
        if (!strcmp(o->path, p) && !strcmp(o->token, token)) {
            errno = EEXIST;
            goto out;
        }
    }
    if (fh->nwatches >= FAKE_MAX_WATCHES) {
        errno = E2BIG;
        goto out;
    }
    wt = calloc(1, sizeof(*wt));
    if (!wt)
        goto out;
    wt->path = strdup(p);
    wt->token = strdup(token);
    wt->relative = relative;
    if (!wt->path || !wt->token) {
        watch_free(wt);
        goto out;
    }
    wt->next = fh->watches;
    fh->watches = wt;
    fh->nwatches++;
    queue_event(fh, p, wt);      /* xenstored fires every new watch once */
    ret = 0;
out:
    world_unlock(w);
    return ret;
}

/* Drop queued events carrying token (after its last watch went). */
static void queue_purge_token(struct fake_hyp *fh, const char *token)
{
    unsigned kept = 0;

    for (unsigned i = 0; i < fh->q_len; i++) {
        struct fake_event *e = &fh->queue[(fh->q_head + i) % fh->q_cap];
        if (!strcmp(e->token, token)) {
            event_free(e);
            continue;
        }
        struct fake_event *dst = &fh->queue[(fh->q_head + kept) % fh->q_cap];
        if (dst != e) {
            *dst = *e;
            e->path = e->token = NULL;
        }
        kept++;
    }
    fh->q_len = kept;
    fd_set_readable(fh->xs_fd, &fh->xs_signalled, fh->q_len > 0);
}

int fake_xs_unwatch(struct vg_hyp *h, const char *path, const char *token)
{
    struct fake_hyp *fh = fake_of(h);
    struct vg_fake_world *w = fh->world;
    char p[FAKE_XS_PATH_MAX + 1];
    int ret = -1;

    world_lock(w);
    if (!handle_alive(fh))
        goto out;
    if (xs_canon(h->domid, path, p, sizeof(p), true, NULL) < 0)
        goto out;
    if (!token) {
        errno = EINVAL;
        goto out;
    }
    errno = ENOENT;
    for (struct fake_watch **pw = &fh->watches; *pw; pw = &(*pw)->next) {
        struct fake_watch *wt = *pw;
        if (strcmp(wt->path, p) || strcmp(wt->token, token))
            continue;
        *pw = wt->next;
        fh->nwatches--;
        watch_free(wt);
        bool token_in_use = false;
        for (struct fake_watch *o = fh->watches; o; o = o->next)
            token_in_use |= !strcmp(o->token, token);
        if (!token_in_use && fh->q_len)
            queue_purge_token(fh, token);
        ret = 0;
        break;
    }
out:
    world_unlock(w);
    return ret;
}

int fake_xs_fd(struct vg_hyp *h)
{
    return fake_of(h)->xs_fd;
}

int fake_xs_next_watch(struct vg_hyp *h, char *path, size_t path_len,
                              char *token, size_t token_len)
{
    struct fake_hyp *fh = fake_of(h);
    int ret = -1;

    world_lock(fh->world);
    if (!handle_alive(fh))
        goto out;
    if (fh->q_len == 0) {
        errno = EAGAIN;
        goto out;
    }
    struct fake_event *e = &fh->queue[fh->q_head];
    vg_copy_trunc(path, path_len, e->path);
    vg_copy_trunc(token, token_len, e->token);
    event_free(e);
    fh->q_head = (fh->q_head + 1) % fh->q_cap;
    fh->q_len--;
    fd_set_readable(fh->xs_fd, &fh->xs_signalled, fh->q_len > 0);
    ret = 0;
out:
    world_unlock(fh->world);
    return ret;
}
