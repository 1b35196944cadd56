/* SPDX-License-Identifier: MIT */
/*
 * The per-device xenbus state machine of the backend (protocol.h "XENBUS
 * STATE MACHINE").  Every watch event that concerns a device ends up in
 * vgd_dev_changed, which re-reads what it needs and moves the device; the
 * function is idempotent, so spurious or coalesced events are harmless.
 *
 *   first look   toolstack keys complete? validate, open the model,
 *                publish device keys, InitWait.  (State 3..4 found with no
 *                one serving it: daemon restart -> Closing.)
 *   InitWait     frontend Initialised/Connected: validate every frontend
 *                key, map rings, bind ports -> Connected.
 *   Connected    frontend Closing/Closed, online=0, frontend dir or domain
 *                gone -> tear down, Closing -> Closed.
 *   any          protocol violation -> tear down, Closing; Closed once the
 *                frontend acknowledges (Closing/Closed) or goes away.
 *   Closed       frontend back to Initialising -> InitWait (reconnect).
 *
 * The keys themselves are validated in xenbus_keys.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vgrant/clock.h"
#include "device.h"
#include "vgrant/guest_stats.h"
#include "vgrant/log.h"
#include "vgrant/virtio.h"

/* Every line of the state machine can be triggered by the guest (it
 * flips its state or rewrites its keys at will), so each device's lines
 * share one limiter (log.h: a burst, then a count of what was dropped);
 * debug lines, off by default, are not limited. */
void vgd_xb_log(struct vgd_dev *dev, enum vg_log_level level,
                const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (level == VG_LOG_DEBUG)
        vg_dev_log(level, dev->fe_domid, dev->devid, "%s", msg);
    else
        vg_rl_log(&dev->state_rl, level, "dom %u dev %u: %s", dev->fe_domid,
                  dev->devid, msg);
}

/* ------------------------------------------------------------------ */
/* xenstore helpers                                                    */

static bool xs_dir_exists(struct vg_hyp *h, const char *path)
{
    unsigned n = 0;
    char **names = h->ops->xs_directory(h, VG_XS_NO_TX, path, &n);

    if (names) {
        free(names);
        return true;
    }
    return errno != ENOENT;   /* on other errors assume it is there */
}

/* Inside transaction tx: is the backend directory still the one attach we
 * serve?  A re-attach writes a new attach-id with its other keys, so a
 * write checked here can never land in a directory that belongs to a
 * newer device.  0: ours (or nothing recorded yet: before the first
 * look); 1: another attach's, or removed; -1: unreadable (errno). */
int vgd_xb_identity_in_tx(struct vgd_dev *dev, struct vg_hyp *h,
                          vg_xs_tx_t tx)
{
    char *v;
    int rc;

    if (!dev->attach_id[0])
        return 0;
    v = vg_xs_read_str(h, tx, dev->be_path, VG_KEY_ATTACH_ID);
    if (!v)
        return errno == ENOENT ? 1 : -1;
    rc = strcmp(v, dev->attach_id) ? 1 : 0;
    free(v);
    return rc;
}

/* write_state's transaction: only while the state key exists and the
 * directory is still ours: writing into a removed directory would
 * recreate it behind the toolstack's back, and writing into a re-created
 * one would hand the old device's state to the new attach. */
struct state_tx {
    struct vgd_dev *dev;
    enum vg_xenbus_state s;
    bool write_failed;
};

static int state_tx_body(struct vg_hyp *h, vg_xs_tx_t tx, void *arg)
{
    struct state_tx *t = arg;
    char *old = vg_xs_read_str(h, tx, t->dev->be_path, VG_KEY_STATE);
    int id;

    t->write_failed = false;
    if (!old)
        return errno == ENOENT ? 1 : -1;   /* removed: leave it */
    free(old);
    id = vgd_xb_identity_in_tx(t->dev, h, tx);
    if (id)
        return id;                          /* re-created: not ours */
    if (vg_xs_write_fmt(h, tx, t->dev->be_path, VG_KEY_STATE, "%u",
                        (unsigned)t->s)) {
        t->write_failed = true;
        return -1;
    }
    return 0;
}

static void write_state(struct vgd_dev *dev, enum vg_xenbus_state s)
{
    struct state_tx t = { .dev = dev, .s = s };
    int rc;

    if (s == VG_XB_INITWAIT && dev->state != VG_XB_INITWAIT) {
        dev->initwait_since_ms = vg_now_ms();
        dev->initwait_warned = false;
    } else if (s != VG_XB_INITWAIT) {
        dev->initwait_since_ms = 0;
    }
    dev->state = s;
    rc = vg_xs_transact(vgd_hyp(dev->d), state_tx_body, &t, NULL);
    if (rc == 0)
        vgd_xb_log(dev, VG_LOG_DEBUG, "backend state %s",
                   vg_xenbus_state_name(s));
    else if (rc < 0)
        vgd_xb_log(dev, VG_LOG_ERR, "cannot %s state %s: %s",
                   t.write_failed ? "write" : "commit",
                   vg_xenbus_state_name(s), strerror(errno));
}

/* ------------------------------------------------------------------ */
/* device lifetime                                                     */

struct vgd_dev *vgd_dev_new(struct vgd *d, uint16_t fe_domid, unsigned devid)
{
    struct vg_hyp *h = vgd_hyp(d);
    struct vgd_dev *dev = calloc(1, sizeof(*dev));

    if (!dev)
        return NULL;
    dev->d = d;
    dev->fe_domid = fe_domid;
    dev->devid = devid;
    dev->state = VG_XB_UNKNOWN;
    for (unsigned i = 0; i < VG_MAX_QUEUES; i++) {
        dev->q[i].dev = dev;
        dev->q[i].index = i;
        dev->q[i].input_slot = -1;
        dev->q[i].input_fd = -1;
    }
    if (vg_path(dev->be_path, sizeof(dev->be_path),
                "/local/domain/%u/backend/" VG_XS_CLASS "/%u/%u",
                vgd_backend_domid(d), fe_domid, devid) ||
        vg_path(dev->fe_path, sizeof(dev->fe_path),
                "/local/domain/%u/device/" VG_XS_CLASS "/%u", fe_domid, devid) ||
        vg_path(dev->fe_token, sizeof(dev->fe_token), "vgd-fe/%u/%u",
                fe_domid, devid))
        goto fail;
    /* The frontend path is fixed by protocol.h; the toolstack's "frontend"
     * key must name exactly this, so it can be watched right away. */
    if (h->ops->xs_watch(h, dev->fe_path, dev->fe_token)) {
        vgd_xb_log(dev, VG_LOG_ERR, "cannot watch %s: %s", dev->fe_path,
                   strerror(errno));
        goto fail;
    }
    dev->fe_watched = true;
    return dev;
fail:
    free(dev);
    return NULL;
}

/* What a queue holds of the frontend once the kernel is done with its
 * buffers: the transport's state, the rings, the slots. */
static void queue_release(struct vgd_dev *dev, struct vgd_queue *q)
{
    struct vg_hyp *h = vgd_hyp(dev->d);

    if (q->draining) {
        q->draining = false;
        dev->draining--;
    }
    if (q->xport_init) {
        dev->xport->queue_free(q);
        q->xport_init = false;
    }
    if (q->vq_init) {
        vq_dev_free(&q->vq);
        q->vq_init = false;
    }
    vgd_gm_unmap_area(h, q->desc_map, q->desc_pages, &dev->mc);
    vgd_gm_unmap_area(h, q->avail_map, q->avail_pages, &dev->mc);
    vgd_gm_unmap_area(h, q->used_map, q->used_pages, &dev->mc);
    q->desc_map = q->avail_map = q->used_map = NULL;
    for (unsigned i = 0; q->slots && i < q->nslots; i++) {
        free(q->slots[i].chain.elem);
        free(q->slots[i].io.iov);
    }
    free(q->slots);
    q->slots = NULL;
    q->nslots = 0;
    q->nlanes = 0;
}

/* Stop serving the queue: no port, no input, off the ready list.  A queue
 * with transfers in the kernel keeps its mappings until they finish
 * (draining; vgd_dev_reap); the others release everything now. */
static void queue_stop(struct vgd_dev *dev, struct vgd_queue *q)
{
    struct vg_hyp *h = vgd_hyp(dev->d);

    if (q->draining)
        return;             /* stopped already */
    vgd_input_del(dev->d, q);
    q->input = false;
    q->connected = false;   /* before clear_ready: nothing puts it back */
    vgd_queue_clear_ready(dev->d, q);
    if (q->port_bound) {
        vgd_port_del(dev->d, q);
        if (h->ops->evtchn_unbind(h, q->port))
            vgd_xb_log(dev, VG_LOG_WARN, "queue %u: cannot unbind port %u: %s",
                       q->index, q->port, strerror(errno));
        q->port_bound = false;
    }
    if (!vgd_serve_settle(q)) {
        q->draining = true;
        dev->draining++;
        return;
    }
    queue_release(dev, q);
}

/* The device's part, once no queue holds anything any more. */
static void dev_release(struct vgd_dev *dev)
{
    if (dev->xport_connected) {
        dev->xport->disconnect(dev);
        dev->xport_connected = false;
    }
    /* The account a user (and the e2e destroy scenario) checks: nothing of
     * this guest may stay mapped or bound once we stop serving it. */
    if (dev->was_serving)
        vgd_xb_log(dev, VG_LOG_INFO, "released: %llu pages mapped, 0 ports bound "
                   "(%llu maps, %llu unmaps since the device appeared)",
                   (unsigned long long)dev->mc.live_mappings,
                   (unsigned long long)dev->mc.maps,
                   (unsigned long long)dev->mc.unmaps);
    dev->was_serving = false;
}

/* Stop serving: nothing of the frontend stays mapped or bound, at once or
 * (dev->draining) as soon as the transfers still in the kernel finish. */
static void dev_disconnect(struct vgd_dev *dev)
{
    unsigned waiting = dev->draining;

    if (dev->nqueues)
        dev->was_serving = true;
    for (unsigned i = 0; i < VG_MAX_QUEUES; i++)
        queue_stop(dev, &dev->q[i]);
    dev->nqueues = 0;
    dev->negotiated = 0;
    dev->fatal = false;
    if (dev->draining > waiting)
        vgd_xb_log(dev, VG_LOG_INFO, "stopped; %u queue(s) wait for their "
                   "transfers in flight before unmapping",
                   dev->draining - waiting);
    if (!dev->draining)
        dev_release(dev);
}

/* Blocking: only when the daemon itself goes (shutdown, vgd_free). */
static void dev_drain_wait(struct vgd_dev *dev)
{
    for (unsigned i = 0; dev->draining && i < VG_MAX_QUEUES; i++)
        if (dev->q[i].draining)
            vgd_serve_drain(&dev->q[i]);
    vgd_dev_reap(dev);
    /* a drain that failed (executor error): unmap anyway, as before */
    for (unsigned i = 0; dev->draining && i < VG_MAX_QUEUES; i++)
        if (dev->q[i].draining)
            queue_release(dev, &dev->q[i]);
    dev_release(dev);       /* idempotent: disconnects and logs once */
}

/* Closing then Closed; Closed once the transfers in flight finished. */
static void close_when_drained(struct vgd_dev *dev)
{
    if (dev->state != VG_XB_CLOSING)
        write_state(dev, VG_XB_CLOSING);
    if (dev->draining)
        dev->close_pending = true;
    else
        write_state(dev, VG_XB_CLOSED);
}

bool vgd_dev_reap(struct vgd_dev *dev)
{
    if (!dev->draining)
        return false;
    for (unsigned i = 0; i < VG_MAX_QUEUES; i++) {
        struct vgd_queue *q = &dev->q[i];

        if (q->draining && vgd_serve_settle(q))
            queue_release(dev, q);
    }
    if (dev->draining)
        return false;
    dev_release(dev);
    if (dev->close_pending) {
        dev->close_pending = false;
        write_state(dev, VG_XB_CLOSED);
    }
    return true;
}

static void dev_close_now(struct vgd_dev *dev, const char *why)
{
    vgd_xb_log(dev, VG_LOG_INFO, "closing: %s", why);
    dev_disconnect(dev);
    close_when_drained(dev);
}

void vgd_dev_fail(struct vgd_dev *dev)
{
    vgd_xb_log(dev, VG_LOG_WARN, "protocol violation: device Closing until the "
               "frontend acknowledges");
    dev_disconnect(dev);
    write_state(dev, VG_XB_CLOSING);
}

/* The transports' failures of each queue not logged yet, summed up, once
 * the device goes (or another attach takes its directory). */
static void flush_failures(struct vgd_dev *dev)
{
    for (unsigned i = 0; i < VG_MAX_QUEUES; i++) {
        vgd_xport_warn_flush(dev, i, &dev->q[i].failures);
        memset(&dev->q[i].failures, 0, sizeof(dev->q[i].failures));
    }
}

/* Stop serving and close what the model opened in this domain: the
 * transport (mappings, ports) first, then the model (the image, the tap).
 * Used when the device goes, when its frontend domain died and when
 * another attach took its directory.  False while transfers are still in
 * flight: the model (whose completions they call) stays open until then,
 * and the caller tries again once the device is looked at again. */
static bool dev_close_model(struct vgd_dev *dev)
{
    dev_disconnect(dev);
    if (dev->draining)
        return false;
    if (dev->mstate)
        dev->model->close(dev->mstate);
    dev->mstate = NULL;
    return true;
}

void vgd_dev_free(struct vgd_dev *dev)
{
    struct vg_hyp *h;

    if (!dev)
        return;
    h = vgd_hyp(dev->d);
    dev_disconnect(dev);
    dev_drain_wait(dev);
    dev_close_model(dev);
    flush_failures(dev);
    vg_rl_flush(&dev->state_rl, VG_LOG_INFO, "dom %u dev %u: state machine "
                "messages", dev->fe_domid, dev->devid);
    if (dev->fe_watched)
        h->ops->xs_unwatch(h, dev->fe_path, dev->fe_token);
    free(dev);
}

void vgd_dev_shutdown(struct vgd_dev *dev)
{
    bool was_up;

    dev_disconnect(dev);
    dev_drain_wait(dev);
    was_up = dev->state != VG_XB_UNKNOWN && dev->state != VG_XB_CLOSED;
    if (was_up && !dev->removed) {
        write_state(dev, VG_XB_CLOSING);
        write_state(dev, VG_XB_CLOSED);
    }
    vgd_dev_free(dev);
}

bool vgd_dev_removed(const struct vgd_dev *dev)
{
    return dev->removed;
}

/* Map one ring area of queue q named by the frontend key `key`; the device
 * only reads the descriptor table and the driver area. */
static void *map_ring_area(struct vgd_dev *dev, struct vgd_queue *q,
                           const char *key, uint64_t addr, size_t bytes,
                           bool writable, uint32_t *pages)
{
    const char *why = NULL;
    void *p = vgd_gm_map_area(vgd_hyp(dev->d), dev->fe_domid, addr, bytes,
                              writable, pages, &dev->mc, &why);

    /* errno: on Xen, gntdev answers EINVAL for a batch in which the
     * hypervisor refused any ref (not granted to us, revoked, read-only),
     * whatever the reason.  A frontend that has left Initialised since we
     * read the key withdrew it (docs/protocol.md "Giving up before
     * Connected"): not an error of ours or of its. */
    if (!p) {
        int err = errno;
        enum vg_xenbus_state fe = vg_xs_read_state(vgd_hyp(dev->d),
                                                   dev->fe_path);
        bool still = fe == VG_XB_INITIALISED || fe == VG_XB_CONNECTED;

        if (still)
            vgd_xb_log(dev, VG_LOG_ERR, "queue %u %s 0x%llx: %s (%s; on Xen "
                       "a ref not granted to us, revoked or read-only, or "
                       "Xen's maptrack limit: dom0's kernel log then says "
                       "'maptrack limit reached')", q->index, key,
                       (unsigned long long)addr, why, strerror(err));
        else
            vgd_xb_log(dev, VG_LOG_INFO, "queue %u %s 0x%llx: %s (%s); the "
                       "frontend is now %s", q->index, key,
                       (unsigned long long)addr, why, strerror(err),
                       vg_xenbus_state_name(fe));
    }
    return p;
}

static unsigned max_bufs_for(struct vgd_dev *dev, uint16_t num)
{
    unsigned max_bufs = dev->model->max_request_buffers(dev->mstate);

    return max_bufs > num ? num : max_bufs;
}

/* The requests of a round (serve.c): VGD_ROUND_SLOTS chains, or one for
 * a rate-limited model, or at most the queue size; each chain can hold
 * the longest chain the queue can carry, and for a model with transfers
 * (start/done) each slot has room for the iovecs of the longest one: a
 * piece per page plus one per buffer. */
static int alloc_slots(struct vgd_queue *q, uint16_t num)
{
    struct vgd_dev *dev = q->dev;
    const struct vgd_model *model = dev->model;
    unsigned n = model->wait_ms ? 1 : VGD_ROUND_SLOTS;
    unsigned iov_cap = model->max_request_pages(dev->mstate) +
                       max_bufs_for(dev, num);

    if (n > num)
        n = num;
    q->slots = calloc(n, sizeof(*q->slots));
    if (!q->slots)
        return -1;
    q->nslots = n;
    /* n is 1 or a power of two (the queue size is one) */
    q->nlanes = n >= VGD_LANES ? VGD_LANES : 1;
    q->lane_slots = n / q->nlanes;
    memset(q->round, 0, sizeof(q->round));
    for (unsigned i = 0; i < n; i++) {
        struct vgd_slot *s = &q->slots[i];

        s->q = q;
        s->index = i;
        s->aop.io = &s->io;
        s->aop.done = NULL;
        s->chain.elem = calloc(num, sizeof(*s->chain.elem));
        if (!s->chain.elem)
            return -1;      /* queue_disconnect frees what was allocated */
        if (model->start) {
            s->io.iov = calloc(iov_cap, sizeof(*s->io.iov));
            if (!s->io.iov)
                return -1;
            s->io.iov_cap = iov_cap;
        }
    }
    return 0;
}

static int queue_connect(struct vgd_dev *dev, struct vgd_queue *q,
                         const struct vgd_fe_queue *fq)
{
    struct vg_hyp *h = vgd_hyp(dev->d);
    uint16_t num = (uint16_t)fq->size;
    bool event_idx = dev->negotiated & VG_FEATURE(VIRTIO_RING_F_EVENT_IDX);
    int port;

    q->num = num;
    q->desc_map = map_ring_area(dev, q, VG_KEY_Q_DESC, fq->desc,
                                vg_ring_desc_bytes(num), false, &q->desc_pages);
    q->avail_map = q->desc_map ?
        map_ring_area(dev, q, VG_KEY_Q_DRIVER, fq->driver,
                      vg_ring_avail_bytes(num), false, &q->avail_pages) : NULL;
    q->used_map = q->avail_map ?
        map_ring_area(dev, q, VG_KEY_Q_DEVICE, fq->device,
                      vg_ring_used_bytes(num), true, &q->used_pages) : NULL;
    if (!q->used_map)
        return -1;          /* the caller's disconnect unmaps what was mapped */
    if (vq_dev_init(&q->vq, num, q->desc_map, q->avail_map, q->used_map,
                   event_idx)) {
        vgd_xb_log(dev, VG_LOG_ERR, "queue %u: cannot initialise: %s", q->index,
                   strerror(errno));
        return -1;
    }
    q->vq_init = true;

    if (alloc_slots(q, num) ||
        dev->xport->queue_init(q, dev->model->max_request_pages(dev->mstate),
                               max_bufs_for(dev, num))) {
        vgd_xb_log(dev, VG_LOG_ERR, "queue %u: out of memory", q->index);
        return -1;
    }
    q->xport_init = true;

    port = h->ops->evtchn_bind_interdomain(h, dev->fe_domid,
                                           (vg_port_t)fq->port);
    if (port < 0) {
        vgd_xb_log(dev, VG_LOG_ERR, "queue %u event-channel %llu: cannot bind: %s",
                   q->index, (unsigned long long)fq->port, strerror(errno));
        return -1;
    }
    q->remote_port = (vg_port_t)fq->port;
    q->port = (vg_port_t)port;
    q->port_bound = true;
    if (vgd_port_add(dev->d, q)) {
        h->ops->evtchn_unbind(h, q->port);
        q->port_bound = false;
        vgd_xb_log(dev, VG_LOG_ERR, "queue %u: port %u already in use", q->index,
                   q->port);
        return -1;
    }
    q->connected = true;
    return 0;
}

/* A model with an input queue (devmodel.h input_fd): poll its fd while
 * the queue is connected. */
static int connect_input(struct vgd_dev *dev)
{
    unsigned qi = 0;
    int fd;

    if (!dev->model->input_fd)
        return 0;
    fd = dev->model->input_fd(dev->mstate, &qi);
    if (fd < 0 || qi >= dev->nqueues)
        return 0;           /* no input, or the driver left its queue out */
    dev->q[qi].input = true;
    if (vgd_input_add(dev->d, &dev->q[qi], fd)) {
        vgd_xb_log(dev, VG_LOG_ERR, "queue %u: cannot poll the model's fd %d: "
                   "%s", qi, fd, strerror(errno));
        return -1;
    }
    return 0;
}

static int dev_connect(struct vgd_dev *dev)
{
    struct vgd_fe_queue fq[VG_MAX_QUEUES];
    unsigned nq = 0;

    if (vgd_xb_read_frontend_keys(dev, &nq, fq))
        return -1;
    if (dev->xport->connect(dev))
        return -1;
    dev->xport_connected = true;
    for (unsigned i = 0; i < nq; i++) {
        if (queue_connect(dev, &dev->q[i], &fq[i])) {
            dev_disconnect(dev);
            return -1;
        }
    }
    dev->nqueues = nq;
    if (dev->model->set_features)
        dev->model->set_features(dev->mstate, dev->negotiated);
    if (connect_input(dev)) {
        dev_disconnect(dev);
        return -1;
    }
    write_state(dev, VG_XB_CONNECTED);
    vgd_xb_log(dev, VG_LOG_INFO, "connected: %u queue(s), features 0x%llx, "
               "mode %s", nq, (unsigned long long)dev->negotiated,
               dev->xport->name);
    /* Chains published before we bound the port sent no kick we saw. */
    for (unsigned i = 0; i < nq; i++)
        vgd_queue_set_ready(dev->d, &dev->q[i]);
    return 0;
}

/* ------------------------------------------------------------------ */
/* the state machine                                                   */

/* dev_connect failed on keys read while the frontend was in state `was`.
 * A frontend that gives up (its handshake timed out) writes Closed and
 * then revokes its grants; if it left `was` while we connected, what we
 * could not map or bind was withdrawn, not bad: close as for a frontend
 * that closed before connecting.  Still in `was`: the keys were bad. */
static void connect_failed(struct vgd_dev *dev, enum vg_xenbus_state was)
{
    enum vg_xenbus_state now = vg_xs_read_state(vgd_hyp(dev->d), dev->fe_path);
    char why[128];

    if (now == was) {
        vgd_dev_fail(dev);
        return;
    }
    snprintf(why, sizeof(why), "the frontend went from %s to %s while we "
             "connected: it withdrew its keys and grants",
             vg_xenbus_state_name(was), vg_xenbus_state_name(now));
    dev_close_now(dev, why);
}

/* First look at a device: pick up whatever state it is in. */
static void first_look(struct vgd_dev *dev)
{
    struct vg_hyp *h = vgd_hyp(dev->d);
    uint64_t st;
    enum vgd_prep rc;

    if (vg_xs_read_uint(h, VG_XS_NO_TX, dev->be_path, VG_KEY_STATE, 255, &st)) {
        if (errno == ENOENT)
            return;     /* toolstack not done yet */
        vgd_xb_log(dev, VG_LOG_ERR, "backend key state is not a number");
        st = VG_XB_UNKNOWN;
    }
    rc = vgd_xb_prepare(dev);
    if (rc == VGD_PREP_NOT_READY)
        return;

    switch (st) {
    case VG_XB_INITIALISING:
    case VG_XB_INITWAIT:
        write_state(dev, rc == VGD_PREP_OK ? VG_XB_INITWAIT : VG_XB_CLOSING);
        break;
    case VG_XB_INITIALISED:
    case VG_XB_CONNECTED:
        vgd_xb_log(dev, VG_LOG_WARN, "found in state %s with no one serving it "
                   "(daemon restart?): closing so the frontend resets",
                   vg_xenbus_state_name((unsigned)st));
        write_state(dev, VG_XB_CLOSING);
        break;
    case VG_XB_CLOSING:
        dev->state = VG_XB_CLOSING;
        break;
    case VG_XB_CLOSED:
        dev->state = VG_XB_CLOSED;
        break;
    default:
        vgd_xb_log(dev, VG_LOG_ERR, "backend state %llu is not a state we know",
                   (unsigned long long)st);
        write_state(dev, VG_XB_CLOSING);
        break;
    }
}

/* The directory now belongs to another attach: drop every trace of the
 * device we were serving (mappings, ports, the open image, mode, limits)
 * without writing anything into the new directory, and look at it afresh. */
static bool dev_forget(struct vgd_dev *dev, const char *new_id)
{
    if (!dev_close_model(dev)) {
        vgd_xb_log(dev, VG_LOG_INFO, "re-attached (attach-id %s -> %s): "
                   "dropping the old device once its transfers in flight "
                   "finish", dev->attach_id, VG_ESC(new_id));
        return false;
    }
    vgd_xb_log(dev, VG_LOG_INFO, "re-attached (attach-id %s -> %s): dropping "
               "the old device and starting over from the new keys",
               dev->attach_id, VG_ESC(new_id));
    flush_failures(dev);
    dev->model = NULL;
    dev->xport = NULL;
    dev->offered = 0;
    dev->region_size = 0;
    dev->prepared = false;
    dev->config_bad = false;
    dev->fe_dead = false;
    dev->attach_id_warned = false;
    dev->attach_id[0] = '\0';
    dev->state = VG_XB_UNKNOWN;
    dev->close_pending = false;
    dev->initwait_since_ms = 0;
    return true;
}

/* Once we have looked at the device: is its directory still that attach?
 * False while the old device waits for its transfers to finish. */
static bool check_identity(struct vgd_dev *dev)
{
    bool done = true;
    char *v;

    if (!dev->attach_id[0])
        return true;
    v = vg_xs_read_str(vgd_hyp(dev->d), VG_XS_NO_TX, dev->be_path,
                       VG_KEY_ATTACH_ID);
    if (!v && errno != ENOENT)
        return true;    /* unreadable now: the next event decides */
    if (!v || strcmp(v, dev->attach_id))
        done = dev_forget(dev, v);
    free(v);
    return done;
}

void vgd_dev_changed(struct vgd_dev *dev)
{
    struct vg_hyp *h = vgd_hyp(dev->d);

    if (dev->removed)
        return;
    /* Transfers of the device's last connection still in the kernel:
     * nothing moves until they finish (vgd_dev_reap looks again then). */
    if (dev->draining)
        return;
    if (!xs_dir_exists(h, dev->be_path)) {
        /* the toolstack removed the device */
        vgd_xb_log(dev, VG_LOG_INFO, "backend directory removed");
        dev_disconnect(dev);
        if (!dev->draining)
            dev->removed = true;
        return;
    }
    if (!check_identity(dev))
        return;
    if (dev->state == VG_XB_UNKNOWN) {
        first_look(dev);
        if (dev->state == VG_XB_UNKNOWN)
            return;
    }

    /* A few passes: one event can justify two steps (Closed ->
     * InitWait -> Connected when the frontend is already Initialised). */
    for (int pass = 0; pass < 4; pass++) {
        enum vg_xenbus_state before = dev->state, fe;
        uint64_t online = 0;
        bool fe_dir, alive, gone;
        const char *why = NULL;

        if (vg_xs_read_uint(h, VG_XS_NO_TX, dev->be_path, VG_KEY_ONLINE, 1,
                            &online))
            online = dev->prepared ? 0 : 1;
        fe_dir = xs_dir_exists(h, dev->fe_path);
        alive = h->ops->domain_alive(h, dev->fe_domid) != 0;
        fe = fe_dir ? vg_xs_read_state(h, dev->fe_path) : VG_XB_UNKNOWN;
        gone = !online || !fe_dir || !alive;
        if (!alive && !dev->fe_dead) {
            /* Final for this attach: a new domain that gets the same id
             * must not inherit the device (protocol.h "Identity"). */
            dev->fe_dead = true;
            vgd_xb_log(dev, VG_LOG_INFO, "frontend domain %u is gone: the "
                       "device stays closed until the toolstack attaches it "
                       "again", dev->fe_domid);
        }
        if (!alive)
            why = "frontend domain is gone";
        else if (!fe_dir)
            why = "frontend directory is gone";
        else if (!online)
            why = "online is 0";

        switch (dev->state) {
        case VG_XB_INITWAIT:
            if (gone)
                dev_close_now(dev, why);
            else if (fe == VG_XB_CLOSING || fe == VG_XB_CLOSED)
                dev_close_now(dev, "frontend closed before connecting");
            else if ((fe == VG_XB_INITIALISED || fe == VG_XB_CONNECTED) &&
                     dev_connect(dev))
                connect_failed(dev, fe);
            break;
        case VG_XB_CONNECTED:
            if (gone)
                dev_close_now(dev, why);
            else if (fe == VG_XB_CLOSING || fe == VG_XB_CLOSED)
                dev_close_now(dev, "frontend is closing");
            else if (fe == VG_XB_INITIALISING)
                dev_close_now(dev, "frontend reset without closing");
            else if (fe != VG_XB_INITIALISED && fe != VG_XB_CONNECTED) {
                vgd_xb_log(dev, VG_LOG_ERR, "frontend state %u invalid while "
                           "connected; closing", (unsigned)fe);
                vgd_dev_fail(dev);
            }
            break;
        case VG_XB_CLOSING:
            if (gone || fe == VG_XB_CLOSING || fe == VG_XB_CLOSED ||
                fe == VG_XB_UNKNOWN || fe == VG_XB_INITIALISING) {
                dev_disconnect(dev);
                close_when_drained(dev);
            }
            break;
        case VG_XB_CLOSED:
            if (!gone && fe == VG_XB_INITIALISING && dev->prepared &&
                !dev->config_bad && !dev->fe_dead) {
                vgd_xb_log(dev, VG_LOG_INFO, "frontend reconnecting");
                write_state(dev, VG_XB_INITWAIT);
            }
            break;
        default:
            break;
        }
        if (dev->state == before || dev->draining)
            break;
    }
    /* A dead frontend's device is never served again (only a new attach
     * revives the directory, through dev_forget), so what the model holds
     * goes now, not when the toolstack gets round to removing the
     * directory: `xl destroy` of a guest with a type=net device must not
     * leave its tap in the bridge. */
    if (dev->fe_dead && dev->mstate && !dev->draining) {
        vgd_xb_log(dev, VG_LOG_INFO, "closing the %s model: the frontend "
                   "domain is gone", dev->model->name);
        dev_close_model(dev);
    }
}

/* The guest's counters, read only when someone asks for statistics; a
 * line that does not parse is ignored (logged at debug: the guest may
 * write what it likes into its own directory). */
static void read_guest_stats(const struct vgd_dev *dev, struct vgd_dev_stats *s)
{
    struct vg_guest_stats g;
    const char *bad = NULL;
    char *line;

    line = vg_xs_read_str(vgd_hyp(dev->d), VG_XS_NO_TX, dev->fe_path,
                          VG_KEY_STATS);
    if (!line)
        return;
    if (vg_parse_guest_stats(line, &g, &bad)) {
        vg_dev_log(VG_LOG_DEBUG, dev->fe_domid, dev->devid,
                   "frontend key stats ignored: bad word at "
                "'%s'", VG_ESC(bad ? bad : ""));
    } else {
        s->guest_reported = 1;
        s->guest_requests = g.requests;
        s->guest_failed = g.failed;
        s->guest_throttle_waits = g.throttle_waits;
        s->guest_region_high_water = g.region_high_water;
        s->guest_bounce_bytes = g.bounce_bytes;
        s->guest_zero_copy_bytes = g.zero_copy_bytes;
    }
    free(line);
}

void vgd_dev_get_stats(const struct vgd_dev *dev, struct vgd_dev_stats *s)
{
    memset(s, 0, sizeof(*s));
    s->frontend_domid = dev->fe_domid;
    s->devid = dev->devid;
    s->state = dev->state;
    s->queues = dev->nqueues;
    s->requests = dev->requests;
    s->bytes_read = dev->bytes_read;
    s->bytes_written = dev->bytes_written;
    s->errors = dev->errors;
    s->map_batches = dev->mc.map_batches;
    s->maps = dev->mc.maps;
    s->unmap_batches = dev->mc.unmap_batches;
    s->unmaps = dev->mc.unmaps;
    s->live_mappings = dev->mc.live_mappings;
    s->notifies_sent = dev->notifies_sent;
    s->kicks_received = dev->kicks_received;
    s->max_in_flight = dev->max_in_flight;
    s->rounds = dev->rounds;
    s->max_round = dev->max_round;
    s->rounds_1 = dev->rounds_by_size[0];
    s->rounds_2_3 = dev->rounds_by_size[1];
    s->rounds_4_7 = dev->rounds_by_size[2];
    s->rounds_8_15 = dev->rounds_by_size[3];
    s->rounds_16_up = dev->rounds_by_size[4];
    s->gathers = dev->gathers;
    s->gathers_short = dev->gathers_short;
    s->async_rounds = dev->async_rounds;
    s->throttled = dev->throttled;
    s->mode = dev->xport ? dev->xport->name : VG_MODE_GRANT;
    s->grant_copies = dev->xc.grant_copies;
    s->copy_batches = dev->xc.copy_batches;
    s->bounce_bytes = dev->xc.bounce_bytes;
    s->cache_hits = dev->xc.cache_hits;
    s->cache_misses = dev->xc.cache_misses;
    s->cache_evictions = dev->xc.cache_evictions;
    s->cache_size = dev->xc.cache_size;
    s->region_bytes = dev->xc.region_bytes;
    s->auto_copied = dev->xc.auto_copied;
    s->auto_mapped = dev->xc.auto_mapped;
    s->bounce_pages = dev->xc.bounce_pages;
    for (unsigned i = 0; i < VG_MAX_QUEUES; i++)
        if (dev->q[i].vq_init)
            s->in_flight += dev->q[i].vq.in_flight;
    if (dev->model && dev->model->stats && dev->mstate)
        dev->model->stats(dev->mstate, s);
    read_guest_stats(dev, s);
}

