/* SPDX-License-Identifier: MIT */
/*
 * Serving one queue, a round at a time: pop up to q->nslots chains, map
 * their buffers (the grant mode in one batch per protection for the whole
 * round), let the model handle each, unmap everything, push the used
 * entries, notify once if the driver asked for it.
 *
 * Requests are served synchronously, so a queue holds at most a round of
 * chains between pop and push, far below the queue size vqdev enforces;
 * nothing is allocated per request (the slots and mapper arrays are per
 * queue, sized at connect).
 */
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

/* The model on one mapped (or status-only) request. */
static void run_model(struct vgd_queue *q, struct vgd_slot *s)
{
    struct vgd_dev *dev = q->dev;
    const struct vgd_model *model = dev->model;

    s->req.queue = q->index;
    s->req.now_ms = vgd_clock_ms(dev->d);
    switch (s->mapped) {
    case VGD_MAPPED_ALL:
        model->handle(dev->mstate, &s->req, &s->res);
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

/* Map, handle and unmap (strict modes) or copy back (copy) every request
 * of the round, all before the guest can see any of them completed. */
static void run_round(struct vgd_queue *q, unsigned n)
{
    struct vgd_dev *dev = q->dev;
    const struct vgd_transport *x = dev->xport;
    unsigned status_bytes = dev->model->fail ? dev->model->status_bytes : 0;

    for (unsigned i = 0; i < n; i++)
        memset(&q->slots[i].res, 0, sizeof(q->slots[i].res));
    if (x->map_round) {
        x->map_round(q, q->slots, n, status_bytes);
        for (unsigned i = 0; i < n; i++)
            run_model(q, &q->slots[i]);
        x->finish_round(q, q->slots, n);
        return;
    }
    for (unsigned i = 0; i < n; i++) {
        struct vgd_slot *s = &q->slots[i];

        if (x->map_request(q, &s->chain, &s->req) == 0)
            s->mapped = VGD_MAPPED_ALL;
        else if (status_bytes &&
                 x->map_status(q, &s->chain, status_bytes, &s->req) == 0)
            s->mapped = VGD_MAPPED_STATUS;
        else
            s->mapped = VGD_MAPPED_NONE;
        run_model(q, s);
        x->finish_request(q, &s->res);
    }
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

bool vgd_serve_queue(struct vgd_queue *q, unsigned budget,
                     uint64_t byte_budget)
{
    struct vgd_dev *dev = q->dev;
    struct vg_hyp *h = vgd_hyp(dev->d);
    unsigned served = 0;
    uint64_t bytes = 0;
    bool exhausted = false, empty = false, throttled = false;

    if (!q->connected || dev->fatal)
        return false;

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
        run_round(q, n);
        if (push_round(q, n))
            return false;
    }

    if (served && vq_dev_should_notify(&q->vq)) {
        if (h->ops->evtchn_notify(h, q->port))
            vg_dev_log(VG_LOG_WARN, dev->fe_domid, dev->devid,
                       "queue %u: cannot notify port %u", q->index, q->port);
        else
            dev->notifies_sent++;
    }
    if (q->deferred)
        return false;  /* throttled: the timer brings it back, kicks off */
    if (exhausted)
        return true;   /* budget used up: more next round, kicks stay off */
    /* Empty: ask for a kick, and catch a chain published meanwhile. */
    return vq_dev_enable_notify(&q->vq);
}
