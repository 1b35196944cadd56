/* SPDX-License-Identifier: MIT */
/*
 * Serving one queue: pop a chain, map its buffers, let the model handle
 * it, unmap, push the used entry, notify if the driver asked for it.
 *
 * Requests are served synchronously, so a queue holds at most one chain
 * between pop and push, far below the queue size vqdev enforces; nothing
 * is allocated per request (the chain and mapper arrays are per queue).
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

static void serve_one(struct vgd_queue *q)
{
    struct vgd_dev *dev = q->dev;
    const struct vgd_model *model = dev->model;
    struct vgd_request req;
    struct vgd_result res;
    uint32_t written;

    memset(&res, 0, sizeof(res));
    if (dev->xport->map_request(q, &q->chain, &req) == 0) {
        req.queue = q->index;
        req.now_ms = vgd_clock_ms(dev->d);
        model->handle(dev->mstate, &req, &res);
    } else {
        res.failed = true;
        if (model->status_bytes && model->fail &&
            dev->xport->map_status(q, &q->chain, model->status_bytes,
                                   &req) == 0) {
            req.queue = q->index;
            req.now_ms = vgd_clock_ms(dev->d);
            model->fail(dev->mstate, &req, &res);
            res.failed = true;
        }
    }
    /* Unmap (strict modes) or copy back (copy) before the guest can see
     * the request completed. */
    dev->xport->finish_request(q, &res);

    written = res.written <= q->chain.in_bytes ? res.written : q->chain.in_bytes;
    if (vq_dev_push(&q->vq, q->chain.head, written)) {
        queue_broken(q);
        return;
    }
    dev->requests++;
    dev->bytes_read += res.read;
    dev->bytes_written += written;
    if (res.failed)
        dev->errors++;
}

bool vgd_serve_queue(struct vgd_queue *q, unsigned budget,
                     uint64_t byte_budget)
{
    struct vgd_dev *dev = q->dev;
    struct vg_hyp *h = vgd_hyp(dev->d);
    unsigned served = 0;
    uint64_t bytes = 0;
    bool exhausted = false;

    if (!q->connected || dev->fatal)
        return false;

    vq_dev_disable_notify(&q->vq);
    while (!exhausted) {
        int rc;

        /* A rate-limited model: leave the chains in the ring (nothing
         * popped, nothing mapped) and come back when it can serve.  An
         * empty ring just waits for its next kick. */
        if (dev->model->wait_ms && vq_dev_has_avail(&q->vq)) {
            uint64_t now = vgd_clock_ms(dev->d);
            uint64_t wait = dev->model->wait_ms(dev->mstate, q->index, now);

            if (wait) {
                dev->throttled++;
                vgd_queue_defer(dev->d, q, now + wait);
                break;
            }
        }
        rc = vq_dev_pop(&q->vq, &q->chain);

        if (rc == 0)
            break;
        if (rc < 0) {
            queue_broken(q);
            return false;
        }
        if (q->vq.in_flight > dev->max_in_flight)
            dev->max_in_flight = q->vq.in_flight;
        /* The sizes the chain claims (validated by the pop): what the
         * model may move for it, so what this request costs the round. */
        bytes += (uint64_t)q->chain.out_bytes + q->chain.in_bytes;
        serve_one(q);
        if (dev->fatal)
            return false;
        served++;
        exhausted = served >= budget || bytes >= byte_budget;
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
