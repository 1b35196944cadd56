/* SPDX-License-Identifier: MIT */
/*
 * Serving one queue, a round at a time: pop up to q->nslots chains (within
 * the queue's request and byte budgets), map their buffers (the grant mode
 * in one batch per protection for the whole round), start each request in
 * its model, run the transfers the model asks for, and once every request
 * of the round is done unmap everything, push the used entries and notify
 * once if the driver asked for it.
 *
 * With an executor (aio.h, io_uring) the transfers of a round are all in
 * the kernel at once and complete in any order; the round then stays open
 * while the daemon serves other queues, and the last completion closes it
 * (round_done).  A queue has at most one round open: that is its in-flight
 * cap (at most min(budget, VGD_ROUND_SLOTS) requests), and a slow or
 * failing backing file holds up only its own queue.  Without an executor
 * the transfers run synchronously and the round closes before
 * vgd_serve_queue returns.
 *
 * Ordering: a FLUSH is submitted only after every request before it in
 * the round has completed (and every earlier round of the queue has), so
 * fdatasync covers every write the guest had seen completed when it sent
 * the flush, and every write before it on this queue.  Requests after it
 * wait for it.  Other queues' writes in flight are not covered: the guest
 * has not seen them complete.
 *
 * Nothing is allocated per request: slots, their iovecs and the mapper
 * arrays are per queue, sized at connect.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "device.h"
#include "vgrant/log.h"

static void queue_broken(struct vgd_queue *q)
{
    struct vgd_dev *dev = q->dev;

    snprintf(dev->fatal_why, sizeof(dev->fatal_why),
             "queue %u broken: %s (value %llu)", q->index,
             vq_error_str(q->vq.error), (unsigned long long)q->vq.error_value);
    vg_dev_log(VG_LOG_ERR, dev->fe_domid, dev->devid, "%s; closing the device",
               dev->fatal_why);
    dev->fatal = true;
}

/* The model's first look at one mapped (or status-only) request: after
 * it the slot is DONE, or READY with its transfer in s->io. */
static void start_model(struct vgd_queue *q, struct vgd_slot *s)
{
    struct vgd_dev *dev = q->dev;
    const struct vgd_model *model = dev->model;

    s->req.queue = q->index;
    s->req.now_ms = vgd_clock_ms(dev->d);
    s->state = VGD_SLOT_DONE;
    switch (s->mapped) {
    case VGD_MAPPED_ALL:
        if (!model->start)
            model->handle(dev->mstate, &s->req, &s->res);
        else if (model->start(dev->mstate, &s->req, &s->res, &s->io))
            s->state = VGD_SLOT_READY;
        break;
    case VGD_MAPPED_STATUS:
        model->fail(dev->mstate, &s->req, &s->res);
        s->res.failed = true;
        break;
    case VGD_MAPPED_NONE:
    default:
        s->res.failed = true;
        break;
    }
}

static void io_done(struct vgd_queue *q, struct vgd_slot *s, ssize_t result)
{
    struct vgd_dev *dev = q->dev;

    dev->model->done(dev->mstate, &s->req, &s->res, &s->io, result);
    s->state = VGD_SLOT_DONE;
}

static void aop_done(struct vgd_aio_op *op, ssize_t result);

/* Map the round's requests, every one before any of them runs. */
static void map_round(struct vgd_queue *q, unsigned n)
{
    struct vgd_dev *dev = q->dev;
    const struct vgd_transport *x = dev->xport;
    unsigned status_bytes = dev->model->fail ? dev->model->status_bytes : 0;

    for (unsigned i = 0; i < n; i++) {
        memset(&q->slots[i].res, 0, sizeof(q->slots[i].res));
        q->slots[i].state = VGD_SLOT_IDLE;
        q->slots[i].aop.done = aop_done;
    }
    if (x->map_round) {
        x->map_round(q, q->slots, n, status_bytes);
        return;
    }
    for (unsigned i = 0; i < n; i++) {
        struct vgd_slot *s = &q->slots[i];

        if (x->map_request(q, s) == 0)
            s->mapped = VGD_MAPPED_ALL;
        else if (status_bytes && x->map_status(q, s, status_bytes) == 0)
            s->mapped = VGD_MAPPED_STATUS;
        else
            s->mapped = VGD_MAPPED_NONE;
    }
}

/* Unmap (strict modes) or copy back (copy) the whole round. */
static void finish_round(struct vgd_queue *q, unsigned n)
{
    const struct vgd_transport *x = q->dev->xport;

    if (x->finish_round) {
        x->finish_round(q, q->slots, n);
        return;
    }
    for (unsigned i = 0; i < n; i++)
        x->finish_request(q, &q->slots[i]);
}

/* Start the round's requests from q->round_next on, up to a FLUSH that
 * must wait for the transfers before it.  Returns true once every
 * request of the round is done. */
static bool round_advance(struct vgd_queue *q)
{
    struct vgd_aio *aio = vgd_aio(q->dev->d);
    bool queued = false;

    while (q->round_next < q->round_n) {
        struct vgd_slot *s = &q->slots[q->round_next];

        if (s->state == VGD_SLOT_IDLE)
            start_model(q, s);
        if (s->state == VGD_SLOT_READY) {
            if (s->io.op == VGD_IO_FLUSH && q->round_pending)
                break;      /* the ordering rule above */
            if (aio && aio->ops->submit(aio, &s->aop) == 0) {
                s->state = VGD_SLOT_IN_FLIGHT;
                q->round_pending++;
                queued = true;
                if (s->io.op == VGD_IO_FLUSH) {
                    q->round_next++;
                    break;  /* what follows waits for the flush */
                }
            } else {
                if (aio)
                    aio->sync_fallbacks++;
                io_done(q, s, vgd_io_run_sync(&s->io, 0));
            }
        }
        q->round_next++;
    }
    if (queued)
        aio->ops->flush(aio);
    return q->round_next == q->round_n && q->round_pending == 0;
}

/* Publish the round's used entries; -1 once the ring is broken. */
static int push_round(struct vgd_queue *q, unsigned n)
{
    struct vgd_dev *dev = q->dev;

    for (unsigned i = 0; i < n; i++) {
        struct vgd_slot *s = &q->slots[i];
        uint32_t written = s->res.written <= s->chain.in_bytes ?
                           s->res.written : s->chain.in_bytes;

        if (vq_dev_push(&q->vq, s->chain.head, written)) {
            queue_broken(q);
            return -1;
        }
        dev->requests++;
        dev->bytes_read += s->res.read;
        dev->bytes_written += written;
        if (s->res.failed)
            dev->errors++;
    }
    return 0;
}

/* Every request of the open round is done: unmap everything, then let
 * the guest see the results.  -1 once the ring is broken. */
static int round_close(struct vgd_queue *q)
{
    unsigned n = q->round_n;

    finish_round(q, n);
    q->round_n = 0;
    q->round_next = 0;
    return push_round(q, n);
}

static void notify(struct vgd_queue *q)
{
    struct vgd_dev *dev = q->dev;
    struct vg_hyp *h = vgd_hyp(dev->d);

    if (!vq_dev_should_notify(&q->vq))
        return;
    if (h->ops->evtchn_notify(h, q->port))
        vg_dev_log(VG_LOG_WARN, dev->fe_domid, dev->devid,
                   "queue %u: cannot notify port %u", q->index, q->port);
    else
        dev->notifies_sent++;
}

/* An executor finished one transfer of an open round. */
static void aop_done(struct vgd_aio_op *op, ssize_t result)
{
    struct vgd_slot *s = (struct vgd_slot *)((char *)op -
                                             offsetof(struct vgd_slot, aop));
    struct vgd_queue *q = s->q;

    io_done(q, s, result);
    q->round_pending--;
    if (q->round_pending || !round_advance(q))
        return;
    if (round_close(q))
        return;             /* broken: the daemon closes the device */
    notify(q);
    /* more may be waiting, and kicks are still off: serve it again */
    if (!q->draining)
        vgd_queue_set_ready(q->dev->d, q);
}

bool vgd_serve_queue(struct vgd_queue *q, unsigned budget,
                     uint64_t byte_budget)
{
    struct vgd_dev *dev = q->dev;
    unsigned served = 0;
    uint64_t bytes = 0;
    bool exhausted = false, empty = false, throttled = false;

    if (!q->connected || dev->fatal)
        return false;
    if (q->round_n)
        return false;   /* its last completion brings the queue back */

    vq_dev_disable_notify(&q->vq);
    while (!exhausted && !empty && !throttled) {
        unsigned n = 0;

        /* Pop a round: up to nslots chains within the budgets. */
        while (n < q->nslots && !exhausted) {
            struct vgd_slot *s = &q->slots[n];
            int rc;

            /* A rate-limited model: leave the chains in the ring (nothing
             * popped, nothing mapped) and come back when it can serve.  An
             * empty ring just waits for its next kick.  (Such a model has
             * one slot, so it is asked before every request.) */
            if (dev->model->wait_ms && vq_dev_has_avail(&q->vq)) {
                uint64_t now = vgd_clock_ms(dev->d);
                uint64_t wait = dev->model->wait_ms(dev->mstate, q->index, now);

                if (wait) {
                    dev->throttled++;
                    vgd_queue_defer(dev->d, q, now + wait);
                    throttled = true;
                    break;
                }
            }
            rc = vq_dev_pop(&q->vq, &s->chain);
            if (rc == 0) {
                empty = true;
                break;
            }
            if (rc < 0) {
                /* What was popped before is lost with the device. */
                queue_broken(q);
                return false;
            }
            if (q->vq.in_flight > dev->max_in_flight)
                dev->max_in_flight = q->vq.in_flight;
            /* The sizes the chain claims (validated by the pop): what the
             * model may move for it, so what this request costs the round. */
            bytes += (uint64_t)s->chain.out_bytes + s->chain.in_bytes;
            n++;
            served++;
            exhausted = served >= budget || bytes >= byte_budget;
        }
        if (n == 0)
            break;
        dev->rounds++;
        if (n > dev->max_round)
            dev->max_round = n;
        /* open before mapping: persistent pins pages of open rounds */
        q->round_n = n;
        q->round_next = 0;
        q->round_pending = 0;
        map_round(q, n);
        if (!round_advance(q)) {
            /* in flight: the last completion closes the round, notifies
             * and puts the queue back on the ready list */
            dev->async_rounds++;
            if (served > n)
                notify(q);      /* for the rounds already pushed */
            return false;
        }
        if (round_close(q))
            return false;
    }

    if (served)
        notify(q);
    if (q->deferred)
        return false;  /* throttled: the timer brings it back, kicks off */
    if (exhausted)
        return true;   /* budget used up: more next round, kicks stay off */
    /* Empty: ask for a kick, and catch a chain published meanwhile. */
    return vq_dev_enable_notify(&q->vq);
}

void vgd_serve_drain(struct vgd_queue *q)
{
    struct vgd_aio *aio = vgd_aio(q->dev->d);

    if (!q->round_n)
        return;
    q->draining = true;
    /* The kernel may still be reading into or writing from the round's
     * mapped buffers: they are unmapped only after its last transfer. */
    while (q->round_pending && aio) {
        if (aio->ops->wait(aio)) {
            vg_dev_log(VG_LOG_ERR, q->dev->fe_domid, q->dev->devid,
                       "queue %u: waiting for %u transfers: %s", q->index,
                       q->round_pending, strerror(errno));
            break;
        }
    }
    if (q->round_n && !q->round_pending) {
        /* a FLUSH left to start, or the round done without a close */
        if (round_advance(q) || !q->round_pending)
            round_close(q);
    }
    q->draining = false;
}
