/* SPDX-License-Identifier: MIT */
/*
 * The frontend half of the xenbus handshake (protocol.h "XENBUS STATE
 * MACHINE"): reset a stale session, wait for the backend's InitWait,
 * validate its keys, negotiate, publish ours in one transaction, wait for
 * Connected; and the way down again (close, backend gone, reconnect).
 * Every key the backend wrote is parsed strictly; a bad one fails the open
 * with EPROTO and a log line naming the key and the value.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vgf_internal.h"

#define VGF_CLOSE_WAIT_MS   5000
#define VGF_DEVICE_BITS     0xffffffULL   /* feature bits 0..23 */

int vgf_bad_key(struct vgf_dev *d, const char *key, const char *value,
                const char *why)
{
    vgf_log(d, VG_LOG_ERR, "backend dom %u wrote bad %s/%s '%s': %s",
            d->backend_id, d->be_dir, key, VG_ESC(value), why);
    errno = EPROTO;
    return -1;
}

int vgf_read_be_uint(struct vgf_dev *d, const char *key, uint64_t min,
                     uint64_t max, uint64_t *out)
{
    char *v = vg_xs_read_str(d->h, VG_XS_NO_TX, d->be_dir, key);
    int rc = 0;

    if (!v)
        return vgf_bad_key(d, key, NULL, strerror(errno));
    if (vg_parse_uint(v, max, out) || *out < min) {
        char why[64];
        snprintf(why, sizeof(why), "not a decimal in [%" PRIu64 ", %" PRIu64 "]",
                 min, max);
        rc = vgf_bad_key(d, key, v, why);
    }
    free(v);
    return rc;
}

/* "config": hex byte pairs, no 0x, at most VG_MAX_CONFIG_BYTES bytes. */
static int read_config(struct vgf_dev *d, uint8_t *cfg, unsigned *cfg_len)
{
    char *v = vg_xs_read_str(d->h, VG_XS_NO_TX, d->be_dir, VG_KEY_CONFIG);
    size_t n;
    int rc = 0;

    if (!v)
        return vgf_bad_key(d, VG_KEY_CONFIG, NULL, strerror(errno));
    n = strlen(v);
    if (n % 2 || n / 2 > VG_MAX_CONFIG_BYTES) {
        rc = vgf_bad_key(d, VG_KEY_CONFIG, v, "not whole hex byte pairs of at most 256 bytes");
        goto out;
    }
    for (size_t i = 0; i < n / 2; i++) {
        int hi = vg_hex_digit(v[2 * i]), lo = vg_hex_digit(v[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            rc = vgf_bad_key(d, VG_KEY_CONFIG, v, "not hex");
            goto out;
        }
        cfg[i] = (uint8_t)(hi << 4 | lo);
    }
    *cfg_len = (unsigned)(n / 2);
out:
    free(v);
    return rc;
}

static uint64_t read_config_gen(struct vgf_dev *d)
{
    uint64_t gen = 0;

    /* Optional for a device whose config never changes. */
    if (vg_xs_read_uint(d->h, VG_XS_NO_TX, d->be_dir, VG_KEY_CONFIG_GENERATION,
                        UINT64_MAX, &gen))
        gen = 0;
    return gen;
}

static int read_mode(struct vgf_dev *d)
{
    char *v = vg_xs_read_str(d->h, VG_XS_NO_TX, d->be_dir, VG_KEY_MODE);
    const struct vgf_xport *x;
    int rc = 0;

    if (!v) {
        if (errno != ENOENT)
            return vgf_bad_key(d, VG_KEY_MODE, NULL, strerror(errno));
        snprintf(d->mode, sizeof(d->mode), "%s", VG_MODE_GRANT);
        return 0;
    }
    d->xport = &vgf_xport_grant;
    d->region_bytes = 0;
    x = vgf_xport_find(v);
    if (!x) {
        rc = vgf_bad_key(d, VG_KEY_MODE, v, "unknown transport mode");
    } else {
        snprintf(d->mode, sizeof(d->mode), "%s", v);
        if (x->read_keys && x->read_keys(d))
            rc = -1;
        else
            d->xport = x;
    }
    free(v);
    return rc;
}

static int read_device_keys(struct vgf_dev *d)
{
    uint64_t v;

    if (vgf_read_be_uint(d, VG_KEY_DEVICE_ID, 1, UINT16_MAX, &v))
        return -1;
    d->device_id = (unsigned)v;

    if (vg_xs_read_hex64(d->h, VG_XS_NO_TX, d->be_dir, VG_KEY_FEATURES, &v)) {
        char *raw = vg_xs_read_str(d->h, VG_XS_NO_TX, d->be_dir, VG_KEY_FEATURES);
        vgf_bad_key(d, VG_KEY_FEATURES, raw, "not 0x-prefixed hex of at most 16 digits");
        free(raw);
        return -1;
    }
    if ((v & VG_FEATURES_REQUIRED) != VG_FEATURES_REQUIRED) {
        char hex[24];
        snprintf(hex, sizeof(hex), "0x%" PRIx64, v);
        return vgf_bad_key(d, VG_KEY_FEATURES, hex,
                       "VIRTIO_F_VERSION_1 or VIRTIO_F_ACCESS_PLATFORM missing");
    }
    d->offered = v;

    if (vgf_read_be_uint(d, VG_KEY_MAX_QUEUES, 1, VG_MAX_QUEUES, &v))
        return -1;
    d->max_queues = (unsigned)v;
    if (vgf_read_be_uint(d, VG_KEY_MAX_QUEUE_SIZE, VG_MIN_QUEUE_SIZE,
                     VG_MAX_QUEUE_SIZE, &v))
        return -1;
    if (v & (v - 1)) {
        char s[24];
        snprintf(s, sizeof(s), "%" PRIu64, v);
        return vgf_bad_key(d, VG_KEY_MAX_QUEUE_SIZE, s, "not a power of two");
    }
    d->max_queue_size = (unsigned)v;

    d->config_gen = read_config_gen(d);
    if (read_config(d, d->config, &d->config_len))
        return -1;
    return read_mode(d);
}

static void negotiate(struct vgf_dev *d)
{
    uint64_t wanted = d->opts.features_wanted &
                      (VGF_DEVICE_BITS | VG_FEATURE(VIRTIO_RING_F_EVENT_IDX));

    d->features = d->offered & (VG_FEATURES_REQUIRED | wanted);
    d->num_queues = d->opts.num_queues;
    if (d->num_queues > d->max_queues) {
        vgf_log(d, VG_LOG_INFO, "backend offers %u queues, using %u instead of %u",
                d->max_queues, d->max_queues, d->num_queues);
        d->num_queues = d->max_queues;
    }
}

static int write_queue_keys(struct vgf_dev *d, vg_xs_tx_t tx,
                            const struct vgf_queue *q)
{
    char qdir[VG_XS_PATH_MAX], name[16];
    struct vg_hyp *h = d->h;

    snprintf(name, sizeof(name), VG_KEY_QUEUE_FMT, q->index);
    if (vg_path(qdir, sizeof(qdir), "%s/%s", d->fe_dir, name))
        return -1;
    if (vg_xs_write_fmt(h, tx, qdir, VG_KEY_Q_SIZE, "%u", q->size) ||
        vg_xs_write_fmt(h, tx, qdir, VG_KEY_Q_DESC, "0x%" PRIx64,
                        vg_grant_addr(q->desc.first_ref, 0)) ||
        vg_xs_write_fmt(h, tx, qdir, VG_KEY_Q_DRIVER, "0x%" PRIx64,
                        vg_grant_addr(q->driver.first_ref, 0)) ||
        vg_xs_write_fmt(h, tx, qdir, VG_KEY_Q_DEVICE, "0x%" PRIx64,
                        vg_grant_addr(q->device.first_ref, 0)) ||
        vg_xs_write_fmt(h, tx, qdir, VG_KEY_Q_EVTCHN, "%d", q->port))
        return -1;
    return 0;
}

/* publish's transaction: every key, then state Initialised. */
static int publish_tx(struct vg_hyp *h, vg_xs_tx_t tx, void *arg)
{
    struct vgf_dev *d = arg;

    if (vg_xs_write_fmt(h, tx, d->fe_dir, VG_KEY_FEATURES, "0x%" PRIx64,
                        d->features) ||
        vg_xs_write_fmt(h, tx, d->fe_dir, VG_KEY_NUM_QUEUES, "%u",
                        d->num_queues))
        return -1;
    for (unsigned i = 0; i < d->num_queues; i++)
        if (write_queue_keys(d, tx, &d->queues[i]))
            return -1;
    if (d->xport->publish && d->xport->publish(d, tx))
        return -1;
    return vg_xs_write_fmt(h, tx, d->fe_dir, VG_KEY_STATE, "%u",
                           VG_XB_INITIALISED);
}

/* Our keys and state Initialised, all or nothing. */
static int publish(struct vgf_dev *d)
{
    if (vg_xs_transact(d->h, publish_tx, d, NULL) == 0)
        return 0;
    vgf_log(d, VG_LOG_ERR, "writing our keys under %s: %s", d->fe_dir,
            strerror(errno));
    return -1;
}

static bool st_initwait(unsigned st) { return st == VG_XB_INITWAIT; }
static bool st_connect_answer(unsigned st)
{
    return st == VG_XB_CONNECTED || st == VG_XB_CLOSING ||
           st == VG_XB_CLOSED || st == VG_XB_UNKNOWN;
}
static bool st_closed_enough(unsigned st)
{
    return st == VG_XB_CLOSING || st == VG_XB_CLOSED || st == VG_XB_UNKNOWN;
}
static bool st_idle(unsigned st)
{
    return st == VG_XB_INITIALISING || st == VG_XB_INITWAIT ||
           st == VG_XB_CLOSED || st == VG_XB_UNKNOWN;
}

static int close_wait_ms(const struct vgf_dev *d)
{
    return d->opts.timeout_ms < VGF_CLOSE_WAIT_MS ? d->opts.timeout_ms
                                                  : VGF_CLOSE_WAIT_MS;
}

static void write_own_state(struct vgf_dev *d, enum vg_xenbus_state s)
{
    if (vg_xs_write_state(d->h, d->fe_dir, s))
        vgf_log(d, VG_LOG_WARN, "writing %s/state = %u: %s", d->fe_dir, s,
                strerror(errno));
}

/* A session a previous process (or this one) left behind: close it so the
 * backend lets go of it, then start from Initialising. */
static void reset_session(struct vgf_dev *d)
{
    unsigned own = vg_xs_read_state(d->h, d->fe_dir), be;

    if (own >= VG_XB_INITWAIT && own <= VG_XB_CLOSING) {
        vgf_log(d, VG_LOG_INFO, "resetting the session left in state %u (%s)",
                own, vg_xenbus_state_name(own));
        write_own_state(d, VG_XB_CLOSING);
        if (vgf_wait_backend(d, st_idle, close_wait_ms(d), &be))
            vgf_log(d, VG_LOG_WARN, "backend dom %u still in state %u (%s) "
                    "after we closed; starting over anyway", d->backend_id,
                    be, vg_xenbus_state_name(be));
        write_own_state(d, VG_XB_CLOSED);
    }
    if (own != VG_XB_INITIALISING)
        write_own_state(d, VG_XB_INITIALISING);
}

static void explain_timeout(struct vgf_dev *d, const char *waiting_for,
                            unsigned st)
{
    const char *hint;

    switch (st) {
    case VG_XB_UNKNOWN:
        hint = "its state key is missing or garbage: is the device attached "
               "(vgrant attach / xl) and is the backend domain alive?";
        break;
    case VG_XB_INITIALISING:
    case VG_XB_CLOSED:
        hint = "is vgrantd running in the backend domain? (see its log)";
        break;
    default:
        hint = "the backend is stuck; see vgrantd's log in the backend domain";
        break;
    }
    vgf_log(d, VG_LOG_ERR, "timed out after %d ms waiting for %s: backend "
            "dom %u state is %u (%s); %s", d->opts.timeout_ms, waiting_for,
            d->backend_id, st, vg_xenbus_state_name(st), hint);
}

/* Everything from our Initialising to both sides Connected. */
static int handshake(struct vgf_dev *d)
{
    unsigned st;

    reset_session(d);
    if (vgf_wait_backend(d, st_initwait, d->opts.timeout_ms, &st)) {
        explain_timeout(d, "the backend to publish its device (InitWait)", st);
        return -1;
    }
    if (read_device_keys(d))
        return -1;
    negotiate(d);
    d->teardown_done = false;
    if (vgf_queues_setup(d) ||
        (d->xport->setup && d->xport->setup(d)) || publish(d))
        return -1;
    if (vgf_wait_backend(d, st_connect_answer, d->opts.timeout_ms, &st)) {
        explain_timeout(d, "the backend to connect", st);
        return -1;
    }
    if (st != VG_XB_CONNECTED) {
        vgf_log(d, VG_LOG_ERR, "backend dom %u refused the connection: it went "
                "to state %u (%s); its log says why", d->backend_id, st,
                vg_xenbus_state_name(st));
        errno = EPROTO;
        return -1;
    }
    if (vg_xs_write_state(d->h, d->fe_dir, VG_XB_CONNECTED)) {
        vgf_log(d, VG_LOG_ERR, "writing %s/state: %s", d->fe_dir,
                strerror(errno));
        return -1;
    }
    d->link = VGF_LINK_CONNECTED;
    vgf_log(d, VG_LOG_DEBUG, "connected to dom %u: features 0x%" PRIx64
            ", %u queue(s) of %u, mode %s", d->backend_id, d->features,
            d->num_queues, d->queues[0].size, d->mode);
    return 0;
}

/* Undo a failed handshake: nothing granted, nothing bound stays.  A
 * backend that may have seen our keys is told they are gone (Closed)
 * before the grants go: one that fails to map them then reads our state
 * and knows we withdrew them, not that they were bad (docs/protocol.md
 * "Giving up before Connected"). */
static void handshake_undo(struct vgf_dev *d)
{
    int err = errno;
    unsigned own = vg_xs_read_state(d->h, d->fe_dir);

    if (own == VG_XB_INITIALISED || own == VG_XB_CONNECTED)
        write_own_state(d, VG_XB_CLOSED);
    vgf_queues_teardown(d);
    d->link = VGF_LINK_DOWN;
    d->teardown_done = true;
    d->xport = &vgf_xport_grant;   /* until the backend names its mode */
    errno = err;
}

static int locate(struct vgf_dev *d)
{
    char expect[VG_XS_PATH_MAX];
    uint16_t self = d->h->domid;
    uint64_t be_id;
    char *be;

    if (vg_path(d->fe_dir, sizeof(d->fe_dir), "/local/domain/%u/device/%s/%u",
                self, VG_XS_CLASS, d->devid))
        return -1;
    if (vg_xs_read_uint(d->h, VG_XS_NO_TX, d->fe_dir, VG_KEY_BACKEND_ID,
                        UINT16_MAX, &be_id)) {
        int err = errno;
        if (err == ENOENT)
            vgf_log(d, VG_LOG_ERR, "no virtio-grant device %u: %s/%s is missing "
                    "(attach it in the backend's toolstack: vgrant attach or xl)",
                    d->devid, d->fe_dir, VG_KEY_BACKEND_ID);
        else
            vgf_log(d, VG_LOG_ERR, "reading %s/%s: %s", d->fe_dir,
                    VG_KEY_BACKEND_ID, strerror(err));
        errno = err == ENOENT ? ENOENT : EPROTO;
        return -1;
    }
    d->backend_id = (uint16_t)be_id;

    if (vg_path(expect, sizeof(expect), "/local/domain/%u/backend/%s/%u/%u",
                d->backend_id, VG_XS_CLASS, self, d->devid))
        return -1;
    be = vg_xs_read_str(d->h, VG_XS_NO_TX, d->fe_dir, VG_KEY_BACKEND);
    if (!be || strcmp(be, expect)) {
        vgf_log(d, VG_LOG_ERR, "%s/%s is '%s', expected '%s'", d->fe_dir,
                VG_KEY_BACKEND, VG_ESC(be), expect);
        free(be);
        errno = EPROTO;
        return -1;
    }
    free(be);
    snprintf(d->be_dir, sizeof(d->be_dir), "%s", expect);
    return vg_path(d->be_state_path, sizeof(d->be_state_path), "%s/%s",
                   d->be_dir, VG_KEY_STATE);
}

struct vgf_dev *vgf_open(struct vg_hyp *h, unsigned devid,
                         const struct vgf_opts *opts)
{
    struct vgf_dev *d;
    int err;

    if (!h || devid > VG_MAX_DEVID) {
        errno = EINVAL;
        return NULL;
    }
    d = calloc(1, sizeof(*d));
    if (!d) {
        errno = ENOMEM;
        return NULL;
    }
    d->h = h;
    d->devid = devid;
    d->teardown_done = true;
    if (opts)
        d->opts = *opts;
    else
        d->opts.features_wanted = VGF_FEATURES_DEFAULT;
    if (d->opts.num_queues == 0)
        d->opts.num_queues = 1;
    if (d->opts.timeout_ms <= 0)
        d->opts.timeout_ms = VGF_DEFAULT_TIMEOUT_MS;
    if (d->opts.pool_pages == 0)
        d->opts.pool_pages = VGF_DEFAULT_POOL_PAGES;
    if (d->opts.pool_pages > VGF_MAX_POOL_PAGES)
        d->opts.pool_pages = VGF_MAX_POOL_PAGES;

    if (locate(d))
        goto fail;
    snprintf(d->watch_token, sizeof(d->watch_token), "vgf-%u-%p", devid,
             (void *)d);
    if (h->ops->xs_watch(h, d->be_state_path, d->watch_token)) {
        vgf_log(d, VG_LOG_ERR, "watching %s: %s", d->be_state_path,
                strerror(errno));
        goto fail;
    }
    d->watching = true;
    if (handshake(d)) {
        handshake_undo(d);
        goto fail;
    }
    return d;

fail:
    err = errno;
    if (d->watching)
        h->ops->xs_unwatch(h, d->be_state_path, d->watch_token);
    free(d);
    errno = err;
    return NULL;
}

void vgf_check_backend(struct vgf_dev *d)
{
    unsigned st;

    if (d->link != VGF_LINK_CONNECTED)
        return;
    st = vg_xs_read_state(d->h, d->be_dir);
    if (st == VG_XB_CONNECTED)
        return;
    vgf_log(d, VG_LOG_WARN, "backend dom %u left Connected: state %u (%s); "
            "failing outstanding requests", d->backend_id, st,
            vg_xenbus_state_name(st));
    vgf_fail_all(d);
    write_own_state(d, VG_XB_CLOSED);
}

void vgf_backend_broken(struct vgf_dev *d, const char *why)
{
    vgf_log(d, VG_LOG_ERR, "backend dom %u broke the ring: %s; closing the "
            "device and failing outstanding requests", d->backend_id, why);
    vgf_fail_all(d);
    write_own_state(d, VG_XB_CLOSING);
}

static void session_end(struct vgf_dev *d)
{
    unsigned own = vg_xs_read_state(d->h, d->fe_dir), be;

    vgf_stats_publish(d, true);

    if (own >= VG_XB_INITIALISED && own <= VG_XB_CLOSING) {
        if (own != VG_XB_CLOSING)
            write_own_state(d, VG_XB_CLOSING);
        if (vgf_wait_backend(d, st_closed_enough, close_wait_ms(d), &be))
            vgf_log(d, VG_LOG_WARN, "backend dom %u did not close within %d ms "
                    "(state %u, %s); revoking our grants anyway", d->backend_id,
                    close_wait_ms(d), be, vg_xenbus_state_name(be));
    }
    vgf_fail_all(d);
    vgf_drop_failed(d);
    vgf_queues_teardown(d);
    if (own != VG_XB_UNKNOWN && own != VG_XB_CLOSED)
        write_own_state(d, VG_XB_CLOSED);
}

void vgf_close(struct vgf_dev *d)
{
    if (!d)
        return;
    session_end(d);
    if (d->watching)
        d->h->ops->xs_unwatch(d->h, d->be_state_path, d->watch_token);
    free(d);
}

int vgf_reconnect(struct vgf_dev *d)
{
    if (!d) {
        errno = EINVAL;
        return -1;
    }
    session_end(d);
    if (handshake(d)) {
        handshake_undo(d);
        return -1;
    }
    return 0;
}

bool vgf_connected(const struct vgf_dev *d)
{
    return d && d->link == VGF_LINK_CONNECTED;
}

uint64_t vgf_features(const struct vgf_dev *d) { return d->features; }
unsigned vgf_device_id(const struct vgf_dev *d) { return d->device_id; }
unsigned vgf_num_queues(const struct vgf_dev *d) { return d->num_queues; }
unsigned vgf_queue_size(const struct vgf_dev *d)
{
    return d->queues ? d->queues[0].size : 0;
}
const char *vgf_mode(const struct vgf_dev *d) { return d->mode; }
unsigned vgf_devid(const struct vgf_dev *d) { return d->devid; }
uint16_t vgf_backend_id(const struct vgf_dev *d) { return d->backend_id; }
unsigned vgf_config_size(const struct vgf_dev *d) { return d->config_len; }

void vgf_set_max_segment(struct vgf_dev *d, uint32_t max_seg)
{
    d->max_seg = max_seg;
}

uint32_t vgf_max_segment(const struct vgf_dev *d) { return d->max_seg; }
int vgf_timeout_ms(const struct vgf_dev *d) { return d->opts.timeout_ms; }

void vgf_get_stats(const struct vgf_dev *d, struct vgf_stats *out)
{
    *out = d->stats;
}

/* Re-read config when config-generation moved; a generation that moves
 * while we read means read again (bounded). */
static void refresh_config(struct vgf_dev *d)
{
    for (int attempt = 0; attempt < 4; attempt++) {
        uint64_t gen = read_config_gen(d), gen2;
        uint8_t cfg[VG_MAX_CONFIG_BYTES];
        unsigned len;

        if (gen == d->config_gen)
            return;
        if (read_config(d, cfg, &len))
            return;   /* keep the last good config; logged */
        gen2 = read_config_gen(d);
        if (gen2 != gen)
            continue;
        memcpy(d->config, cfg, len);
        d->config_len = len;
        d->config_gen = gen;
        return;
    }
}

int vgf_config_read(struct vgf_dev *d, unsigned offset, void *buf,
                    unsigned len)
{
    if (!d || (!buf && len)) {
        errno = EINVAL;
        return -1;
    }
    if (d->link == VGF_LINK_CONNECTED)
        refresh_config(d);
    if (offset > d->config_len || len > d->config_len - offset) {
        errno = EINVAL;
        return -1;
    }
    memcpy(buf, d->config + offset, len);
    return 0;
}
