/* SPDX-License-Identifier: MIT */
/*
 * Key validation of the backend's xenbus state machine
 * (xenbus_backend.c): the toolstack's keys of a device (checked, the
 * model opened, the device keys published: vgd_dev_prepare) and the
 * frontend's keys (vgd_read_frontend_keys).
 *
 * Frontend values are untrusted: each is parsed strictly and a bad one is
 * logged as "dom F dev N: <key> <value> <why>".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "vgrant/log.h"
#include "vgrant/virtio.h"

#define DEFAULT_QUEUES      1u
#define DEFAULT_QUEUE_SIZE  256u
/* Bits this transport offers on top of the model's. */
#define TRANSPORT_FEATURES  (VG_FEATURES_REQUIRED | \
                             VG_FEATURE(VIRTIO_RING_F_EVENT_IDX))

/* ------------------------------------------------------------------ */
/* toolstack keys, model, published keys                               */

static enum vgd_prep read_toolstack_uint(struct vgd_dev *dev, const char *key,
                                     uint64_t dflt, uint64_t min, uint64_t max,
                                     bool pow2, uint64_t *out)
{
    struct vg_hyp *h = vgd_hyp(dev->d);
    char *v = vg_xs_read_str(h, VG_XS_NO_TX, dev->be_path, key);

    if (!v) {
        if (errno == ENOENT) {
            *out = dflt;
            return VGD_PREP_OK;
        }
        vgd_xb_log(dev, VG_LOG_ERR, "backend key %s unreadable: %s", key,
                   strerror(errno));
        return VGD_PREP_BAD;
    }
    if (vg_parse_uint(v, max, out) || *out < min || (pow2 && !vgd_is_power_of_two(*out))) {
        vgd_xb_log(dev, VG_LOG_ERR, "backend key %s '%s' is not %s in [%llu, %llu]",
                   key, VG_ESC(v),
                   pow2 ? "a power of two" : "a number",
                   (unsigned long long)min, (unsigned long long)max);
        free(v);
        return VGD_PREP_BAD;
    }
    free(v);
    return VGD_PREP_OK;
}

/* The attach-id of the keys we are about to use (protocol.h "Identity").
 * Missing: the toolstack has not written it (yet, or it predates it).
 * Returns 0 with dev->attach_id set, or -1 with *rc set. */
static int read_attach_id(struct vgd_dev *dev, enum vgd_prep *rc)
{
    char *v = vg_xs_read_str(vgd_hyp(dev->d), VG_XS_NO_TX, dev->be_path,
                             VG_KEY_ATTACH_ID);

    if (!v) {
        if (errno == ENOENT && !dev->attach_id_warned) {
            dev->attach_id_warned = true;
            vgd_xb_log(dev, VG_LOG_WARN, "waiting for backend key attach-id: "
                       "attach the device with vgrant attach or an xl with the "
                       "virtio-grant patches of this release");
        }
        *rc = errno == ENOENT ? VGD_PREP_NOT_READY : VGD_PREP_BAD;
        return -1;
    }
    if (!vg_attach_id_valid(v)) {
        vgd_xb_log(dev, VG_LOG_ERR, "backend key attach-id '%s' is not 1..%u "
                   "characters of [0-9a-f-]", VG_ESC(v),
                   VG_MAX_ATTACH_ID);
        free(v);
        *rc = VGD_PREP_BAD;
        return -1;
    }
    snprintf(dev->attach_id, sizeof(dev->attach_id), "%s", v);
    free(v);
    return 0;
}

static enum vgd_prep check_toolstack_keys(struct vgd_dev *dev)
{
    struct vg_hyp *h = vgd_hyp(dev->d);
    char *fe = NULL, *type = NULL, *mode = NULL;
    uint64_t v;
    enum vgd_prep rc = VGD_PREP_BAD;

    fe = vg_xs_read_str(h, VG_XS_NO_TX, dev->be_path, VG_KEY_FRONTEND);
    type = vg_xs_read_str(h, VG_XS_NO_TX, dev->be_path, VG_KEY_TYPE);
    if (!fe || !type) {
        rc = VGD_PREP_NOT_READY;   /* toolstack still writing */
        goto out;
    }
    if (read_attach_id(dev, &rc))
        goto out;
    if (strcmp(fe, dev->fe_path)) {
        vgd_xb_log(dev, VG_LOG_ERR, "backend key frontend '%s' is not %s",
                   VG_ESC(fe), dev->fe_path);
        goto out;
    }
    if (vg_xs_read_uint(h, VG_XS_NO_TX, dev->be_path, VG_KEY_FRONTEND_ID,
                        VG_MAX_DOMID, &v)) {
        if (errno == ENOENT) {
            rc = VGD_PREP_NOT_READY;
            goto out;
        }
        vgd_xb_log(dev, VG_LOG_ERR, "backend key frontend-id is not a domain id");
        goto out;
    }
    if (v != dev->fe_domid) {
        vgd_xb_log(dev, VG_LOG_ERR, "backend key frontend-id %llu does not match "
                   "the directory (%u)", (unsigned long long)v, dev->fe_domid);
        goto out;
    }
    dev->model = vgd_model_find(type);
    if (!dev->model) {
        vgd_xb_log(dev, VG_LOG_ERR, "backend key type '%s': unknown device type",
                   VG_ESC(type));
        goto out;
    }
    mode = vg_xs_read_str(h, VG_XS_NO_TX, dev->be_path, VG_KEY_MODE);
    dev->xport = vgd_transport_find(mode ? mode : VG_MODE_GRANT);
    if (!dev->xport) {
        vgd_xb_log(dev, VG_LOG_ERR, "backend key mode '%s': unknown transport "
                   "mode (grant, persistent, copy, auto or static)",
                   VG_ESC(mode));
        goto out;
    }
    dev->region_size = 0;
    if (dev->xport == &vgd_transport_static) {
        if (vg_xs_read_uint(h, VG_XS_NO_TX, dev->be_path, VG_KEY_REGION,
                            VG_MAX_REGION_BYTES, &v) || v < VG_PAGE_SIZE ||
            v % VG_PAGE_SIZE) {
            char *r = vg_xs_read_str(h, VG_XS_NO_TX, dev->be_path,
                                     VG_KEY_REGION);
            vgd_xb_log(dev, VG_LOG_ERR, "backend key region '%s': static mode "
                       "needs a multiple of 4096 in [4096, %u]",
                       VG_ESC(r),
                       VG_MAX_REGION_BYTES);
            free(r);
            goto out;
        }
        dev->region_size = v;
    }
    if (read_toolstack_uint(dev, VG_KEY_QUEUES, DEFAULT_QUEUES, 1,
                            VG_MAX_QUEUES, false, &v) != VGD_PREP_OK)
        goto out;
    dev->max_queues = (unsigned)v;
    if (dev->max_queues > dev->model->max_queues)
        dev->max_queues = dev->model->max_queues;
    if (dev->model->fixed_queues)
        dev->max_queues = dev->model->fixed_queues;
    if (read_toolstack_uint(dev, VG_KEY_QUEUE_SIZE, DEFAULT_QUEUE_SIZE,
                            VG_MIN_QUEUE_SIZE, VG_MAX_QUEUE_SIZE, true,
                            &v) != VGD_PREP_OK)
        goto out;
    dev->max_queue_size = (unsigned)v;
    rc = VGD_PREP_OK;
out:
    free(fe);
    free(type);
    free(mode);
    return rc;
}

/* publish_keys's transaction: every device key at once. */
struct publish_tx {
    struct vgd_dev *dev;
    const char *hex;
    uint64_t gen;
    bool stale;         /* the directory belongs to another attach now */
};

static int publish_tx_body(struct vg_hyp *h, vg_xs_tx_t tx, void *arg)
{
    struct publish_tx *t = arg;
    struct vgd_dev *dev = t->dev;
    int id = vgd_xb_identity_in_tx(dev, h, tx);

    t->stale = id == 1;
    if (id)
        return id;
    if (vg_xs_write_fmt(h, tx, dev->be_path, VG_KEY_DEVICE_ID, "%u",
                        dev->model->device_id) ||
        vg_xs_write_fmt(h, tx, dev->be_path, VG_KEY_FEATURES, "0x%016llx",
                        (unsigned long long)dev->offered) ||
        vg_xs_write_fmt(h, tx, dev->be_path, VG_KEY_MAX_QUEUES, "%u",
                        dev->max_queues) ||
        vg_xs_write_fmt(h, tx, dev->be_path, VG_KEY_MAX_QUEUE_SIZE, "%u",
                        dev->max_queue_size) ||
        vg_xs_write_fmt(h, tx, dev->be_path, VG_KEY_CONFIG, "%s", t->hex) ||
        vg_xs_write_fmt(h, tx, dev->be_path, VG_KEY_CONFIG_GENERATION,
                        "%llu", (unsigned long long)t->gen) ||
        vg_xs_write_fmt(h, tx, dev->be_path, VG_KEY_MODE, "%s",
                        dev->xport->name))
        return -1;
    return 0;
}

static int publish_keys(struct vgd_dev *dev)
{
    struct vg_hyp *h = vgd_hyp(dev->d);
    struct publish_tx t = { .dev = dev };
    int rc;
    uint8_t cfg[VG_MAX_CONFIG_BYTES];
    char hex[2 * VG_MAX_CONFIG_BYTES + 1];
    size_t cfg_len;
    uint64_t gen = 0;
    char *old_cfg;

    cfg_len = dev->model->config_space(dev->mstate, cfg, sizeof(cfg));
    for (size_t i = 0; i < cfg_len; i++)
        snprintf(hex + 2 * i, 3, "%02x", cfg[i]);
    hex[2 * cfg_len] = '\0';

    /* Bump the generation only when the config actually changed (a
     * restarted daemon re-publishes the same values). */
    old_cfg = vg_xs_read_str(h, VG_XS_NO_TX, dev->be_path, VG_KEY_CONFIG);
    if (vg_xs_read_uint(h, VG_XS_NO_TX, dev->be_path, VG_KEY_CONFIG_GENERATION,
                        UINT32_MAX - 1, &gen))
        gen = 0;
    if (!old_cfg || strcmp(old_cfg, hex))
        gen++;
    free(old_cfg);

    t.hex = hex;
    t.gen = gen;
    rc = vg_xs_transact(h, publish_tx_body, &t, NULL);
    if (rc == 0)
        return 0;
    if (t.stale) {
        vgd_xb_log(dev, VG_LOG_INFO, "re-attached while publishing its keys: "
                   "starting over");
        errno = ESTALE;
        return -1;
    }
    vgd_xb_log(dev, VG_LOG_ERR, "cannot publish device keys in %s: %s",
               dev->be_path, strerror(errno));
    return -1;
}

/* Validate the toolstack keys, open the model, publish the device keys. */
enum vgd_prep vgd_xb_prepare(struct vgd_dev *dev)
{
    struct vgd_model_params p = {
        .h = vgd_hyp(dev->d),
        .be_path = dev->be_path,
        .frontend_domid = dev->fe_domid,
        .devid = dev->devid,
        .direct = vgd_direct_io(dev->d),
    };
    enum vgd_prep rc;

    if (dev->prepared)
        return VGD_PREP_OK;
    if (dev->config_bad)
        return VGD_PREP_BAD;
    rc = check_toolstack_keys(dev);
    if (rc == VGD_PREP_NOT_READY)
        return rc;
    if (rc == VGD_PREP_OK) {
        dev->mstate = dev->model->open(&p);
        if (!dev->mstate)
            rc = VGD_PREP_BAD;   /* the model logged why */
    }
    if (rc == VGD_PREP_OK) {
        dev->offered = TRANSPORT_FEATURES | dev->model->features(dev->mstate);
        if (publish_keys(dev))
            rc = VGD_PREP_BAD;
    }
    if (rc != VGD_PREP_OK) {
        if (dev->mstate)
            dev->model->close(dev->mstate);
        dev->mstate = NULL;
        dev->config_bad = true;
        vgd_xb_log(dev, VG_LOG_ERR, "device not created: fix the backend keys "
                   "in %s and re-attach", dev->be_path);
        return VGD_PREP_BAD;
    }
    dev->prepared = true;
    return VGD_PREP_OK;
}

/* ------------------------------------------------------------------ */
/* frontend keys and connect                                           */

static int fe_read_uint(struct vgd_dev *dev, const char *key, uint64_t min,
                        uint64_t max, bool pow2, uint64_t *out)
{
    char *v = vg_xs_read_str(vgd_hyp(dev->d), VG_XS_NO_TX, dev->fe_path, key);

    if (!v) {
        vgd_xb_log(dev, VG_LOG_ERR, "frontend key %s: %s", key,
                   errno == ENOENT ? "missing" : strerror(errno));
        return -1;
    }
    if (vg_parse_uint(v, max, out) || *out < min ||
        (pow2 && !vgd_is_power_of_two(*out))) {
        vgd_xb_log(dev, VG_LOG_ERR, "frontend key %s '%s' is not %s in "
                   "[%llu, %llu]", key, VG_ESC(v),
                   pow2 ? "a power of two" : "a decimal number",
                   (unsigned long long)min, (unsigned long long)max);
        free(v);
        return -1;
    }
    free(v);
    return 0;
}

static int fe_read_hex(struct vgd_dev *dev, const char *key, uint64_t *out)
{
    char *v = vg_xs_read_str(vgd_hyp(dev->d), VG_XS_NO_TX, dev->fe_path, key);

    if (!v) {
        vgd_xb_log(dev, VG_LOG_ERR, "frontend key %s: %s", key,
                   errno == ENOENT ? "missing" : strerror(errno));
        return -1;
    }
    if (vg_parse_hex64(v, out)) {
        vgd_xb_log(dev, VG_LOG_ERR, "frontend key %s '%s' is not 0x + 1..16 hex "
                   "digits", key, VG_ESC(v));
        free(v);
        return -1;
    }
    free(v);
    return 0;
}

/* A ring area's grant address.  align 0: the area must start on a page
 * (offset 0); otherwise the in-page offset must be a multiple of align
 * (VIRTIO 1.x: driver area 2, device area 4 bytes). */
static int fe_read_ring_addr(struct vgd_dev *dev, const char *key,
                             unsigned align, uint64_t *out)
{
    uint32_t off;

    if (fe_read_hex(dev, key, out))
        return -1;
    if (!vg_grant_addr_valid(*out)) {
        vgd_xb_log(dev, VG_LOG_ERR, "frontend key %s 0x%llx is not a grant "
                   "address", key, (unsigned long long)*out);
        return -1;
    }
    off = vg_grant_addr_offset(*out);
    if (align == 0 && off) {
        vgd_xb_log(dev, VG_LOG_ERR, "frontend key %s 0x%llx is not a grant "
                   "address with offset 0", key, (unsigned long long)*out);
        return -1;
    }
    if (align && off % align) {
        vgd_xb_log(dev, VG_LOG_ERR, "frontend key %s 0x%llx: offset 0x%x is not "
                   "%u-byte aligned", key, (unsigned long long)*out, off, align);
        return -1;
    }
    return 0;
}

/* Read and check every frontend key before touching anything. */
int vgd_xb_read_frontend_keys(struct vgd_dev *dev, unsigned *nq,
                              struct vgd_fe_queue *fq)
{
    uint64_t features, n;
    char key[64];

    if (fe_read_hex(dev, VG_KEY_FEATURES, &features))
        return -1;
    if (features & ~dev->offered) {
        vgd_xb_log(dev, VG_LOG_ERR, "frontend key features 0x%llx accepts bits "
                   "never offered (0x%llx)", (unsigned long long)features,
                   (unsigned long long)(features & ~dev->offered));
        return -1;
    }
    if ((features & VG_FEATURES_REQUIRED) != VG_FEATURES_REQUIRED) {
        vgd_xb_log(dev, VG_LOG_ERR, "frontend key features 0x%llx lacks "
                   "VERSION_1/ACCESS_PLATFORM", (unsigned long long)features);
        return -1;
    }
    if (fe_read_uint(dev, VG_KEY_NUM_QUEUES, 1, dev->max_queues, false, &n))
        return -1;
    *nq = (unsigned)n;
    for (unsigned i = 0; i < *nq; i++) {
#define QKEY(name) (snprintf(key, sizeof(key), VG_KEY_QUEUE_FMT "/%s", i, name), key)
        if (fe_read_uint(dev, QKEY(VG_KEY_Q_SIZE), VG_MIN_QUEUE_SIZE,
                         dev->max_queue_size, true, &fq[i].size) ||
            fe_read_ring_addr(dev, QKEY(VG_KEY_Q_DESC), 0, &fq[i].desc) ||
            fe_read_ring_addr(dev, QKEY(VG_KEY_Q_DRIVER), 2, &fq[i].driver) ||
            fe_read_ring_addr(dev, QKEY(VG_KEY_Q_DEVICE), 4, &fq[i].device) ||
            fe_read_uint(dev, QKEY(VG_KEY_Q_EVTCHN), 1, UINT32_MAX, false,
                         &fq[i].port))
            return -1;
#undef QKEY
    }
    dev->negotiated = features;
    return 0;
}

