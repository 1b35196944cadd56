/* SPDX-License-Identifier: MIT */
/* A hand-crafted frontend for backend tests, see rawfront.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rawfront.h"
#include "vgrant/attach_id.h"


static int tx_write(struct vg_hyp *h, vg_xs_tx_t tx, const char *dir,
                    const char *key, const char *value)
{
    if (!value)
        return 0;
    return vg_xs_write_fmt(h, tx, dir, key, "%s", value);
}

struct rf_attach_tx {
    uint16_t fe_domid, be_domid;
    const struct rf_attach *a;
    char be[VG_XS_PATH_MAX], fe[VG_XS_PATH_MAX];
    char id[VG_ATTACH_ID_BUF];     /* "" : none */
};

static int rf_attach_body(struct vg_hyp *dom0, vg_xs_tx_t tx, void *arg)
{
    const struct rf_attach_tx *t = arg;
    const struct rf_attach *a = t->a;
    struct vg_xs_perm be_perms[2] = {
        { t->be_domid, VG_XS_PERM_NONE }, { t->fe_domid, VG_XS_PERM_READ },
    };
    struct vg_xs_perm fe_perms[2] = {
        { t->fe_domid, VG_XS_PERM_NONE }, { t->be_domid, VG_XS_PERM_READ },
    };
    const char *be = t->be, *fe = t->fe;
    char num[16];
    int err = 0;

    err |= dom0->ops->xs_mkdir(dom0, tx, be);
    err |= dom0->ops->xs_set_perms(dom0, tx, be, be_perms, 2);
    err |= tx_write(dom0, tx, be, VG_KEY_FRONTEND, a->frontend ? a->frontend : fe);
    snprintf(num, sizeof(num), "%u", t->fe_domid);
    err |= tx_write(dom0, tx, be, VG_KEY_FRONTEND_ID, num);
    if (!a->no_online)
        err |= tx_write(dom0, tx, be, VG_KEY_ONLINE, "1");
    err |= tx_write(dom0, tx, be, VG_KEY_TYPE, a->type ? a->type : VG_TYPE_BLK);
    err |= tx_write(dom0, tx, be, VG_KEY_TARGET, a->target);
    err |= tx_write(dom0, tx, be, VG_KEY_READONLY, a->readonly);
    err |= tx_write(dom0, tx, be, VG_KEY_RATE, a->rate);
    err |= tx_write(dom0, tx, be, VG_KEY_MAC, a->mac);
    err |= tx_write(dom0, tx, be, VG_KEY_BRIDGE, a->bridge);
    err |= tx_write(dom0, tx, be, VG_KEY_VIF, a->vif);
    err |= tx_write(dom0, tx, be, VG_KEY_MTU, a->mtu);
    err |= tx_write(dom0, tx, be, VG_KEY_MODE, a->mode);
    err |= tx_write(dom0, tx, be, VG_KEY_QUEUES, a->queues);
    err |= tx_write(dom0, tx, be, VG_KEY_QUEUE_SIZE, a->queue_size);
    if (t->id[0])
        err |= tx_write(dom0, tx, be, VG_KEY_ATTACH_ID, t->id);
    err |= tx_write(dom0, tx, be, VG_KEY_STATE, "1");

    err |= dom0->ops->xs_mkdir(dom0, tx, fe);
    err |= dom0->ops->xs_set_perms(dom0, tx, fe, fe_perms, 2);
    err |= tx_write(dom0, tx, fe, VG_KEY_BACKEND, be);
    snprintf(num, sizeof(num), "%u", t->be_domid);
    err |= tx_write(dom0, tx, fe, VG_KEY_BACKEND_ID, num);
    err |= tx_write(dom0, tx, fe, VG_KEY_STATE, "1");
    if (err) {
        errno = EIO;       /* never retried: a test set-up mistake */
        return -1;
    }
    return 0;
}

int rf_toolstack_attach(struct vg_hyp *dom0, uint16_t fe_domid, unsigned devid,
                        uint16_t be_domid, const struct rf_attach *a)
{
    struct rf_attach_tx t = { .fe_domid = fe_domid, .be_domid = be_domid,
                              .a = a };

    vg_path(t.be, sizeof(t.be), "/local/domain/%u/backend/" VG_XS_CLASS
            "/%u/%u", be_domid, fe_domid, devid);
    vg_path(t.fe, sizeof(t.fe), "/local/domain/%u/device/" VG_XS_CLASS "/%u",
            fe_domid, devid);
    if (a->attach_id)
        snprintf(t.id, sizeof(t.id), "%s", a->attach_id);
    else if (vg_attach_id_new(t.id, sizeof(t.id)))
        return -1;
    return vg_xs_transact(dom0, rf_attach_body, &t, NULL) ? -1 : 0;
}

int rf_open(struct rawfront *rf, struct vg_fake_world *w, uint16_t domid,
            unsigned devid, uint16_t be_domid)
{
    memset(rf, 0, sizeof(*rf));
    rf->w = w;
    rf->domid = domid;
    rf->devid = devid;
    rf->be_domid = be_domid;
    rf->port = -1;
    vg_path(rf->fe_path, sizeof(rf->fe_path),
            "/local/domain/%u/device/" VG_XS_CLASS "/%u", domid, devid);
    vg_path(rf->be_path, sizeof(rf->be_path),
            "/local/domain/%u/backend/" VG_XS_CLASS "/%u/%u", be_domid, domid,
            devid);
    rf->h = vg_fake_open(w, domid);
    return rf->h ? 0 : -1;
}

void rf_close(struct rawfront *rf)
{
    if (!rf->h)
        return;
    for (unsigned i = 0; i < RF_MAX_SHARES; i++)
        if (rf->shares[i].addr)
            rf->h->ops->unshare_pages(rf->h, rf->shares[i].addr,
                                      rf->shares[i].count);
    vg_hyp_close(rf->h);
    rf->h = NULL;
}

void *rf_share(struct rawfront *rf, uint32_t npages, bool writable,
               vg_gref_t *ref)
{
    vg_gref_t refs[64];
    void *p;
    unsigned slot;

    if (npages == 0 || npages > 64)
        return NULL;
    for (slot = 0; slot < RF_MAX_SHARES && rf->shares[slot].addr; slot++)
        ;
    if (slot == RF_MAX_SHARES)
        return NULL;
    p = rf->h->ops->share_pages(rf->h, rf->be_domid, npages, refs, writable);
    if (!p)
        return NULL;
    for (uint32_t i = 1; i < npages; i++)
        if (refs[i] != refs[0] + i) {
            fprintf(stderr, "rawfront: share gave non-consecutive refs\n");
            rf->h->ops->unshare_pages(rf->h, p, npages);
            return NULL;
        }
    rf->shares[slot].addr = p;
    rf->shares[slot].count = npages;
    *ref = refs[0];
    return p;
}

int rf_unshare(struct rawfront *rf, void *addr)
{
    for (unsigned i = 0; addr && i < RF_MAX_SHARES; i++)
        if (rf->shares[i].addr == addr) {
            int rc = rf->h->ops->unshare_pages(rf->h, addr,
                                               rf->shares[i].count);
            rf->shares[i].addr = NULL;
            return rc;
        }
    errno = ENOENT;
    return -1;
}

static uint32_t pages_for(size_t bytes)
{
    return (uint32_t)((bytes + VG_PAGE_SIZE - 1) / VG_PAGE_SIZE);
}

int rf_setup_rings(struct rawfront *rf, uint16_t num)
{
    rf->num = num;
    rf->desc = rf_share(rf, pages_for(vg_ring_desc_bytes(num)), true,
                        &rf->desc_ref);
    rf->avail = rf_share(rf, pages_for(vg_ring_avail_bytes(num)), true,
                         &rf->avail_ref);
    rf->used = rf_share(rf, pages_for(vg_ring_used_bytes(num)), true,
                        &rf->used_ref);
    if (!rf->desc || !rf->avail || !rf->used)
        return -1;
    rf->port = rf->h->ops->evtchn_bind_unbound(rf->h, rf->be_domid);
    return rf->port < 0 ? -1 : 0;
}

int rf_drop_rings(struct rawfront *rf)
{
    int err = 0;

    /* rf_setup_rings_at shares one run starting at desc */
    if (rf->desc)
        err |= rf_unshare(rf, rf->desc);
    if (rf->avail && rf_unshare(rf, rf->avail) && errno != ENOENT)
        err = -1;
    if (rf->used && rf_unshare(rf, rf->used) && errno != ENOENT)
        err = -1;
    if (rf->port >= 0)
        err |= rf->h->ops->evtchn_unbind(rf->h, (vg_port_t)rf->port);
    rf->desc = NULL;
    rf->avail = NULL;
    rf->used = NULL;
    rf->desc_ref = rf->avail_ref = rf->used_ref = 0;
    rf->avail_off = rf->used_off = 0;
    rf->port = -1;
    rf->num = 0;
    rf->avail_idx = rf->used_seen = rf->next_desc = 0;
    return err ? -1 : 0;
}

int rf_setup_rings_at(struct rawfront *rf, uint16_t num, uint32_t npages,
                      uint32_t driver_at, uint32_t device_at)
{
    vg_gref_t ref;
    uint8_t *run;

    rf->num = num;
    run = rf_share(rf, npages, true, &ref);
    if (!run)
        return -1;
    rf->desc = (struct vring_desc *)run;
    rf->desc_ref = ref;
    rf->avail = (struct vring_avail *)(run + driver_at);
    rf->avail_ref = ref + driver_at / VG_PAGE_SIZE;
    rf->avail_off = driver_at % VG_PAGE_SIZE;
    rf->used = (struct vring_used *)(run + device_at);
    rf->used_ref = ref + device_at / VG_PAGE_SIZE;
    rf->used_off = device_at % VG_PAGE_SIZE;
    rf->port = rf->h->ops->evtchn_bind_unbound(rf->h, rf->be_domid);
    return rf->port < 0 ? -1 : 0;
}

int rf_write(struct rawfront *rf, const char *key, const char *value)
{
    return vg_xs_write_fmt(rf->h, VG_XS_NO_TX, rf->fe_path, key, "%s", value);
}

int rf_remove(struct rawfront *rf, const char *key)
{
    char path[VG_XS_PATH_MAX];

    vg_path(path, sizeof(path), "%s/%s", rf->fe_path, key);
    return rf->h->ops->xs_rm(rf->h, VG_XS_NO_TX, path);
}

int rf_write_keys(struct rawfront *rf, uint64_t features)
{
    struct vg_hyp *h = rf->h;
    const char *d = rf->fe_path;
    int err = 0;

    err |= vg_xs_write_fmt(h, 0, d, VG_KEY_FEATURES, "0x%llx",
                           (unsigned long long)features);
    err |= vg_xs_write_fmt(h, 0, d, VG_KEY_NUM_QUEUES, "1");
    err |= vg_xs_write_fmt(h, 0, d, "queue-0/size", "%u", rf->num);
    err |= vg_xs_write_fmt(h, 0, d, "queue-0/desc", "0x%llx",
                           (unsigned long long)vg_grant_addr(rf->desc_ref, 0));
    err |= vg_xs_write_fmt(h, 0, d, "queue-0/driver", "0x%llx",
                           (unsigned long long)vg_grant_addr(rf->avail_ref,
                                                              rf->avail_off));
    err |= vg_xs_write_fmt(h, 0, d, "queue-0/device", "0x%llx",
                           (unsigned long long)vg_grant_addr(rf->used_ref,
                                                              rf->used_off));
    err |= vg_xs_write_fmt(h, 0, d, "queue-0/event-channel", "%d", rf->port);
    return err ? -1 : 0;
}

int rf_set_state(struct rawfront *rf, enum vg_xenbus_state s)
{
    return vg_xs_write_state(rf->h, rf->fe_path, s);
}

int rf_connect(struct rawfront *rf, uint16_t num)
{
    if (rf_setup_rings(rf, num) ||
        rf_write_keys(rf, VG_FEATURES_REQUIRED |
                          VG_FEATURE(VIRTIO_RING_F_EVENT_IDX)))
        return -1;
    return rf_set_state(rf, VG_XB_INITIALISED);
}

enum vg_xenbus_state rf_backend_state(struct rawfront *rf)
{
    return vg_xs_read_state(rf->h, rf->be_path);
}

uint16_t rf_add_chain(struct rawfront *rf, const struct rf_buf *b, unsigned n)
{
    uint16_t head = rf->next_desc;

    for (unsigned i = 0; i < n; i++) {
        uint16_t idx = (uint16_t)((head + i) % rf->num);
        struct vring_desc *d = &rf->desc[idx];

        d->addr = b[i].addr;
        d->len = b[i].len;
        d->flags = (uint16_t)((b[i].write ? VRING_DESC_F_WRITE : 0) |
                              (i + 1 < n ? VRING_DESC_F_NEXT : 0));
        d->next = (uint16_t)((idx + 1) % rf->num);
    }
    rf->next_desc = (uint16_t)((head + n) % rf->num);
    rf_publish(rf, head);
    return head;
}

void rf_publish(struct rawfront *rf, uint16_t head)
{
    rf->avail->ring[rf->avail_idx % rf->num] = head;
    rf->avail_idx++;
    __atomic_store_n(&rf->avail->idx, rf->avail_idx, __ATOMIC_RELEASE);
}

int rf_kick(struct rawfront *rf)
{
    return rf->h->ops->evtchn_notify(rf->h, (vg_port_t)rf->port);
}

bool rf_get_used(struct rawfront *rf, uint32_t *id, uint32_t *len)
{
    uint16_t idx = __atomic_load_n(&rf->used->idx, __ATOMIC_ACQUIRE);
    struct vring_used_elem *e;

    if (idx == rf->used_seen)
        return false;
    e = &rf->used->ring[rf->used_seen % rf->num];
    *id = e->id;
    *len = e->len;
    rf->used_seen++;
    return true;
}

int rf_blk_prepare(struct rawfront *rf, struct rf_blk *r, uint32_t type,
                   uint64_t sector, uint32_t data_len, bool data_ro)
{
    bool dev_writes = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;

    memset(r, 0, sizeof(*r));
    r->hdr = rf_share(rf, 1, false, &r->hdr_ref);
    r->status = rf_share(rf, 1, true, &r->status_ref);
    if (!r->hdr || !r->status)
        return -1;
    r->hdr->type = type;
    r->hdr->sector = sector;
    *r->status = 0xff;
    r->data_len = data_len;
    if (data_len) {
        r->data = rf_share(rf, pages_for(data_len), dev_writes && !data_ro,
                           &r->data_ref);
        if (!r->data)
            return -1;
    }
    return 0;
}

void rf_blk_submit(struct rawfront *rf, struct rf_blk *r)
{
    bool dev_writes = r->hdr->type == VIRTIO_BLK_T_IN ||
                      r->hdr->type == VIRTIO_BLK_T_GET_ID;
    struct rf_buf b[3];
    unsigned n = 0;

    b[n++] = (struct rf_buf){ vg_grant_addr(r->hdr_ref, 0), 16, false };
    if (r->data_len)
        b[n++] = (struct rf_buf){ vg_grant_addr(r->data_ref, 0), r->data_len,
                                  dev_writes };
    b[n++] = (struct rf_buf){ vg_grant_addr(r->status_ref, 0), 1, true };
    *r->status = 0xff;
    r->head = rf_add_chain(rf, b, n);
}
