/* SPDX-License-Identifier: MIT */
/*
 * Serving one queue, a round at a time: pop up to a lane's worth of
 * chains (within the queue's request and byte budgets), map their buffers
 * (the grant mode in one batch per protection for the whole round), start
 * each request in its model, run the transfers the model asks for, and
 * once every request of the round is done unmap everything, push the used
 * entries and notify once if the driver asked for it.
 *
 * With an executor (aio.h, io_uring) the transfers of a round are all in
 * the kernel at once and complete in any order; the round stays open while
 * the daemon serves other queues, and its last completion closes it
 * (aop_done).  A queue's slots form VGD_LANES lanes: while one lane's
 * round is in the kernel, the requests the guest publishes meanwhile
 * start as a round in the other, so the guest's whole queue depth is in
 * flight (up to VGD_ROUND_SLOTS); with every lane busy the rest waits in
 * the ring -- that is the per-queue in-flight cap, and a slow or failing
 * backing file holds up only its own queue.  The second round waits until
 * half a lane of requests is there (coalesce_want), so rounds stay large
 * when a guest publishes one request at a time.  Without an executor the
 * transfers run synchronously and each round closes before the next one
 * is popped.
 *
 * Ordering: a FLUSH is submitted only after every transfer of its queue
 * started before it has completed -- those earlier in its round and those
 * of older rounds still open in the other lane -- so fdatasync covers
 * every write the guest had seen completed when it sent the flush, and
 * more.  Requests after the FLUSH in its round wait for it.  Other queues'
 * writes in flight are not covered: the guest has not seen them complete.
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
    /* through the device's limiter: a guest can break its ring at every
     * connect */
    vgd_xb_log(dev, VG_LOG_ERR, "%s; closing the device", dev->fatal_why);
    dev->fatal = true;
}

/* The model's first look at one mapped (or status-only) request: after
 * it the slot is DONE, or READY with its transfer in s->io. */
static void start_model(struct vgd_queue *q, struct vgd_slot *s)
{
    struct vgd_dev *dev = q->dev;
    const struct vgd_model *model = dev->model;

    s->req.chain = &s->chain;
    s->req.queue = q->index;
    s->req.now_ms = vgd_clock_ms(dev->d);
    s->req.input = s->input;
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

/* Map the n requests of lane l's round, every one before any of them
 * runs. */
static void map_round(struct vgd_queue *q, struct vgd_slot *r, unsigned n)
{
    struct vgd_dev *dev = q->dev;
    const struct vgd_transport *x = dev->xport;
    unsigned status_bytes = dev->model->fail ? dev->model->status_bytes : 0;

    for (unsigned i = 0; i < n; i++) {
        memset(&r[i].res, 0, sizeof(r[i].res));
        r[i].state = VGD_SLOT_IDLE;
        r[i].aop.done = aop_done;
    }
    if (x->map_round) {
        x->map_round(q, r, n, status_bytes);
        return;
    }
    for (unsigned i = 0; i < n; i++) {
        struct vgd_slot *s = &r[i];

        if (x->map_request(q, s) == 0)
            s->mapped = VGD_MAPPED_ALL;
        else if (status_bytes && x->map_status(q, s, status_bytes) == 0)
            s->mapped = VGD_MAPPED_STATUS;
        else
            s->mapped = VGD_MAPPED_NONE;
    }
}

/* Unmap (strict modes) or copy back (copy) a whole round. */
static void finish_round(struct vgd_queue *q, struct vgd_slot *r, unsigned n)
{
    const struct vgd_transport *x = q->dev->xport;

    if (x->finish_round) {
        x->finish_round(q, r, n);
        return;
    }
    for (unsigned i = 0; i < n; i++)
        x->finish_request(q, &r[i]);
}

static struct vgd_slot *lane_slots(struct vgd_queue *q, unsigned l)
{
    return &q->slots[l * q->lane_slots];
}

/* Transfers of q's rounds older than lane l's still in the executor? */
static bool older_pending(const struct vgd_queue *q, unsigned l)
{
    for (unsigned k = 0; k < q->nlanes; k++)
        if (k != l && q->round[k].n && q->round[k].pending &&
            q->round[k].seq < q->round[l].seq)
            return true;
    return false;
}

/* Start lane l's requests from its `next` on, up to a FLUSH that must
 * wait for transfers before it.  Returns true once every request of the
 * round is done. */
static bool round_advance(struct vgd_queue *q, unsigned l)
{
    struct vgd_aio *aio = vgd_aio(q->dev->d);
    struct vgd_round *rd = &q->round[l];
    struct vgd_slot *r = lane_slots(q, l);
    bool queued = false;

    while (rd->next < rd->n) {
        struct vgd_slot *s = &r[rd->next];

        if (s->state == VGD_SLOT_IDLE)
            start_model(q, s);
        if (s->state == VGD_SLOT_READY) {
            /* the ordering rule above: everything before it completed */
            if (s->io.op == VGD_IO_FLUSH &&
                (rd->pending || older_pending(q, l)))
                break;
            if (aio && aio->ops->submit(aio, &s->aop) == 0) {
                s->state = VGD_SLOT_IN_FLIGHT;
                rd->pending++;
                queued = true;
                if (s->io.op == VGD_IO_FLUSH) {
                    rd->next++;
                    break;  /* what follows waits for the flush */
                }
            } else {
                io_done(q, s, vgd_io_run_sync(&s->io, 0));
            }
        }
        rd->next++;
    }
    if (queued)
        aio->ops->flush(aio);
    return rd->next == rd->n && rd->pending == 0;
}

/* Publish n used entries, all at once (the chains of one virtio-net
 * packet appear together); -1 once the ring is broken. */
static int push_round(struct vgd_queue *q, struct vgd_slot *r, unsigned n)
{
    struct vgd_dev *dev = q->dev;

    for (unsigned i = 0; i < n; i++) {
        struct vgd_slot *s = &r[i];
        uint32_t written = s->res.written <= s->chain.in_bytes ?
                           s->res.written : s->chain.in_bytes;

        if (vq_dev_push_hold(&q->vq, s->chain.head, written)) {
            vq_dev_publish(&q->vq);
            queue_broken(q);
            return -1;
        }
        dev->requests++;
        dev->bytes_read += s->res.read;
        dev->bytes_written += written;
        if (s->res.failed)
            dev->errors++;
    }
    vq_dev_publish(&q->vq);
    return 0;
}

/* Every request of lane l's round is done: unmap everything of it, then
 * let the guest see the results; the lane is free again.  -1 once the
 * ring is broken. */
static int round_close(struct vgd_queue *q, unsigned l)
{
    struct vgd_slot *r = lane_slots(q, l);
    unsigned n = q->round[l].n;

    finish_round(q, r, n);
    q->round[l].n = 0;
    q->round[l].next = 0;
    if (q->returned < UINT16_MAX)
        q->returned += n;
    return push_round(q, r, n);
}

static void notify(struct vgd_queue *q)
{
    struct vgd_dev *dev = q->dev;
    struct vg_hyp *h = vgd_hyp(dev->d);

    /* a queue stopped while its transfers finish has no port any more:
     * the guest closed it and looks for no completion */
    if (!q->port_bound || !vq_dev_should_notify(&q->vq))
        return;
    if (h->ops->evtchn_notify(h, q->port))
        vg_dev_log(VG_LOG_WARN, dev->fe_domid, dev->devid,
                   "queue %u: cannot notify port %u", q->index, q->port);
    else
        dev->notifies_sent++;
}

/* Lanes whose round can move on (a FLUSH that waited, or a round whose
 * last transfer just completed): start, close, push.  Returns how many
 * rounds closed, -1 once the ring is broken. */
static int advance_lanes(struct vgd_queue *q)
{
    int closed = 0;

    for (unsigned l = 0; l < q->nlanes; l++) {
        struct vgd_round *rd = &q->round[l];

        if (!rd->n || rd->pending || !round_advance(q, l))
            continue;
        if (round_close(q, l))
            return -1;
        closed++;
    }
    return closed;
}

/* An executor finished one transfer of an open round. */
static void aop_done(struct vgd_aio_op *op, ssize_t result)
{
    struct vgd_slot *s = (struct vgd_slot *)((char *)op -
                                             offsetof(struct vgd_slot, aop));
    struct vgd_queue *q = s->q;
    int closed;

    io_done(q, s, result);
    q->round[s->index / q->lane_slots].pending--;
    closed = advance_lanes(q);
    if (closed <= 0)
        return;             /* still running, or broken: the daemon closes */
    notify(q);
    /* a lane is free, more may be waiting and kicks may be off */
    if (!q->draining)
        vgd_queue_set_ready(q->dev->d, q);
}

static bool any_open(const struct vgd_queue *q)
{
    for (unsigned l = 0; l < q->nlanes; l++)
        if (q->round[l].n)
            return true;
    return false;
}

/* Coalescing: with a round of the queue already in the kernel, the next
 * one starts only once half a lane of chains waits (or, through
 * aop_done, when the open round closes and the queue is idle again).
 * Without it a guest that publishes one request at a time gets rounds of
 * one or two, each paying its own map batches, unmap batches and
 * notification; with it a round holds about half the queue depth or
 * more, and a request waits at most for the round already in the kernel,
 * which the device had to finish anyway. */
static unsigned coalesce_want(const struct vgd_queue *q)
{
    return (q->lane_slots + 1) / 2;
}

/* Gathering on an idle queue: a guest that got k results back usually
 * sends about k requests again, one at a time.  Starting a round at its
 * first kick would split them into rounds of one or two; instead ask for
 * a kick at the min(k, a lane)-th (EVENT_IDX) and start then.  If fewer
 * come (the guest is winding down, or waits for something else), the
 * round starts with what came once a gap passes with no new request, or
 * once coalesce_ms have passed in all.
 * k counts every result handed back since a round last began on an idle
 * queue, not the size of the last round: when rounds overlap (one starts
 * in a second lane while the first is in the kernel) the guest's depth
 * is split between them, and expecting only the last round's share
 * would keep it split for good (make bench, kernel-persistent at depth
 * 16: 120 of 212 rounds held 2-3 requests).
 * The gap follows the guest's own pace: four times the time a request
 * took to come in the last gatherings (coalesce_ms until one ended), so
 * a guest that publishes a request every few microseconds waits 1 ms for
 * one that is not coming, and a slow one (under emulation requests come
 * milliseconds apart) is still gathered.
 * 0: start at once (nothing to expect, gathering off, or no EVENT_IDX to
 * ask with). */
static unsigned gather_expect(const struct vgd_queue *q)
{
    unsigned want = q->lane_slots;

    if (!q->dev->model->gathers || !q->vq.event_idx ||
        !vgd_coalesce_ms(q->dev->d) || q->returned < 2)
        return 0;
    return q->returned < want ? q->returned : want;
}

/* The gap: 4 x the pace (1/16 ms units, at least 1), in whole ms, so at
 * least 1 ms, and at most coalesce_ms.  Requests do not come evenly (the
 * guest reacts to the completions first, then publishes at its pace, and
 * an emulated guest stalls now and then): twice the mean ended too many
 * gatherings early (make bench, 2026-12-01: grant 3.8 requests per round). */
static uint64_t gather_gap(const struct vgd_queue *q)
{
    uint64_t max = vgd_coalesce_ms(q->dev->d), gap;

    if (!q->gather_pace)
        return max;
    gap = (4 * (uint64_t)q->gather_pace + 15) / 16;
    return gap > max ? max : gap;
}

/* When the wait that began at q->gather_start looks again: a gap from
 * now, but not past coalesce_ms in all. */
static uint64_t gather_next(const struct vgd_queue *q, uint64_t now)
{
    uint64_t end = q->gather_start + vgd_coalesce_ms(q->dev->d);
    uint64_t next = now + gather_gap(q);

    return next < end ? next : end;
}

/* A wait ended with have requests after elapsed ms: fold its pace per
 * request into the average (3/4 old, 1/4 new). */
static void gather_learn(struct vgd_queue *q, uint64_t elapsed, unsigned have)
{
    uint64_t per = elapsed * 16 / have, cap = 16ull * VGD_MAX_COALESCE_MS;

    if (per > cap)
        per = cap;
    if (!per)
        per = 1;    /* all within the same ms: fast (0 means unknown) */
    q->gather_pace = q->gather_pace ?
        (unsigned)((3 * (uint64_t)q->gather_pace + per) / 4) : (unsigned)per;
}

/* Whether to start a round now on an idle queue; if not, *expect is the
 * number to wait for and q->gather_until is set. */
static bool gathered(struct vgd_queue *q, unsigned *expect)
{
    uint64_t now;
    unsigned have;

    *expect = gather_expect(q);
    have = vq_dev_avail_count(&q->vq);
    if (!*expect)
        return true;
    now = vgd_clock_ms(q->dev->d);
    if (have >= *expect) {
        if (q->gather_until)
            gather_learn(q, now - q->gather_start, have);
        return true;
    }
    if (!q->gather_until) {
        q->dev->gathers++;
        q->gather_start = now;
        q->gather_until = gather_next(q, now);
        q->gather_seen = have;
        return false;
    }
    if (now < q->gather_until)
        return false;
    if (have > q->gather_seen &&
        now < q->gather_start + vgd_coalesce_ms(q->dev->d)) {
        /* still coming: one more gap */
        q->gather_seen = have;
        q->gather_until = gather_next(q, now);
        return false;
    }
    /* Nothing at all yet (the guest is slow to start, or done): nothing
     * to start either; the caller asks for the first kick, which begins
     * a new wait with the same expectation. */
    if (!have)
        return true;
    /* fewer came: start with them (what they give back is expected
     * next); and learn from this wait too (its quiet gap included:
     * learning from complete waits only would see only the times the
     * guest was quick) */
    q->dev->gathers_short++;
    gather_learn(q, now - q->gather_start, have);
    return true;
}

/* An input queue (devmodel.h input_peek): the chains for the model's
 * next input, popped into r[n..] (at most the rest of the lane). */
enum input_pop {
    IP_POPPED,      /* *k chains, as the input needs them */
    IP_IDLE,        /* no input: the queue rests until the fd is readable */
    IP_ROUND_FULL,  /* the input starts the next round */
    IP_DROPPED,     /* too few chains in the ring: the model dropped it */
    IP_STARVED,     /* too few chains in the ring: the input waits */
    IP_BROKEN,      /* the ring is broken (q->vq.error) */
};

/* The ring has too few buffers for the input the model holds: wait for
 * the guest to post more (the input stays with the model, what follows
 * stays in its fd) for input_stall_ms from when the ring first ran
 * short, as a NIC's receive ring waits for its driver; after that drop,
 * and go on dropping while it stays short, so a guest that never posts
 * buffers costs a bounded amount of work per round and nothing else. */
static bool input_hold(struct vgd_queue *q)
{
    uint64_t stall = vgd_input_stall_ms(q->dev->d);
    uint64_t now = vgd_clock_ms(q->dev->d);

    if (!stall)
        return false;
    if (!q->starved) {
        q->starved = true;
        q->starved_since = now;
    }
    return now - q->starved_since < stall;
}

static enum input_pop pop_input(struct vgd_queue *q, struct vgd_slot *r,
                                unsigned n, unsigned *k)
{
    struct vgd_dev *dev = q->dev;
    const struct vgd_model *model = dev->model;
    struct vgd_input in;
    unsigned room = q->lane_slots - n, max, got = 0;
    uint64_t have = 0;
    bool ran_out = false;

    switch (model->input_peek(dev->mstate, q->index, n == 0, &in)) {
    case VGD_INPUT_READY:
        break;
    case VGD_INPUT_LATER:
        /* (n == 0: a model that takes nothing in a fresh round: idle) */
        return n ? IP_ROUND_FULL : IP_IDLE;
    case VGD_INPUT_NONE:
    default:
        return IP_IDLE;
    }
    max = in.max_chains < q->lane_slots ? in.max_chains : q->lane_slots;
    if (!max)
        max = 1;
    /* got == room only with n > 0: a fresh round has room for max */
    while (have < in.need && got < max && got < room) {
        int rc = vq_dev_pop(&q->vq, &r[n + got].chain);

        if (rc < 0)
            return IP_BROKEN;
        if (rc == 0) {
            ran_out = true;
            break;
        }
        have += r[n + got].chain.in_bytes;
        got++;
    }
    if (have < in.need && got < max) {
        /* the ring or the round ran out: the chains go back */
        while (got)
            if (vq_dev_unpop(&q->vq, r[n + --got].chain.head))
                return IP_BROKEN;
        if (!ran_out)
            return IP_ROUND_FULL;
        if (input_hold(q))
            return IP_STARVED;
        model->input_take(dev->mstate, q->index, true);
        return IP_DROPPED;
    }
    q->starved = false;
    /* enough, or as many as it may span: the model checks the sizes */
    for (unsigned i = 0; i < got; i++)
        r[n + i].input = (struct vgd_req_input){
            .id = in.id, .index = i, .count = got, .bytes = have };
    model->input_take(dev->mstate, q->index, false);
    *k = got;
    return IP_POPPED;
}

static int free_lane(const struct vgd_queue *q)
{
    for (unsigned l = 0; l < q->nlanes; l++)
        if (!q->round[l].n)
            return (int)l;
    return -1;
}

bool vgd_serve_queue(struct vgd_queue *q, unsigned budget,
                     uint64_t byte_budget)
{
    struct vgd_dev *dev = q->dev;
    unsigned served = 0, pushed = 0;
    uint64_t bytes = 0;
    bool exhausted = false, empty = false, throttled = false, idle = false;
    bool starved = false;
    bool coalescing = false, gathering = false;
    unsigned expect = 0;
    int l;

    if (!q->connected || dev->fatal)
        return false;

    vq_dev_disable_notify(&q->vq);
    while (!exhausted && !empty && !throttled && !idle && !starved &&
           (l = free_lane(q)) >= 0) {
        struct vgd_slot *r = lane_slots(q, (unsigned)l);
        struct vgd_round *rd = &q->round[l];
        unsigned n = 0;
        bool from_idle = !q->input && !any_open(q);

        /* (an input queue's rounds follow its input, not its kicks) */
        if (q->input) {
            /* no coalescing */
        } else if (any_open(q)) {
            if (vq_dev_avail_count(&q->vq) < coalesce_want(q)) {
                coalescing = true;
                break;
            }
        } else if (!gathered(q, &expect)) {
            gathering = true;
            break;
        }
        q->gather_until = 0;
        /* Pop a round into the free lane, within the budgets. */
        while (n < q->lane_slots && !exhausted) {
            struct vgd_slot *s = &r[n];
            int rc;

            if (q->input) {
                unsigned k = 0;
                enum input_pop ip = pop_input(q, r, n, &k);

                if (ip == IP_BROKEN) {
                    queue_broken(q);
                    return false;
                }
                if (ip == IP_IDLE)
                    idle = true;
                if (ip == IP_STARVED)
                    starved = true;
                if (ip == IP_IDLE || ip == IP_ROUND_FULL || ip == IP_STARVED)
                    break;
                served += ip == IP_DROPPED ? 1 : k;
                for (unsigned i = 0; i < k; i++)
                    bytes += r[n + i].chain.in_bytes;
                n += k;
                if (q->vq.in_flight > dev->max_in_flight)
                    dev->max_in_flight = q->vq.in_flight;
                exhausted = served >= budget || bytes >= byte_budget;
                continue;
            }

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
        if (from_idle)
            q->returned = 0;
        dev->rounds++;
        if (n > dev->max_round)
            dev->max_round = n;
        dev->rounds_by_size[n >= 16 ? 4 : n >= 8 ? 3 : n >= 4 ? 2 : n >= 2 ? 1 : 0]++;
        /* open before mapping: persistent pins pages of open rounds */
        rd->n = n;
        rd->next = 0;
        rd->pending = 0;
        rd->seq = ++q->round_seq;
        map_round(q, r, n);
        if (!round_advance(q, (unsigned)l)) {
            /* in the kernel: its last completion closes it, notifies and
             * puts the queue back on the ready list; meanwhile the next
             * round may start in another lane */
            dev->async_rounds++;
            continue;
        }
        if (round_close(q, (unsigned)l))
            return false;
        pushed += n;
    }

    if (pushed)
        notify(q);
    if (q->input && !starved)
        vgd_input_pause(dev->d, q, false);
    if (starved) {
        /* the fd stays readable: rest it; the guest's kick when it posts
         * another buffer, or the stall's end, brings the queue back (and
         * a buffer posted before the kick was asked for, at once) */
        uint16_t had = vq_dev_avail_count(&q->vq);

        vgd_input_pause(dev->d, q, true);
        vgd_queue_defer(dev->d, q,
                        q->starved_since + vgd_input_stall_ms(dev->d));
        if (q->vq.event_idx)
            return vq_dev_enable_notify_at(&q->vq, (uint16_t)(had + 1));
        (void)vq_dev_enable_notify(&q->vq);
        return vq_dev_avail_count(&q->vq) > had;
    }
    if (gathering) {
        /* the expect-th kick or the timer brings it back */
        if (vq_dev_enable_notify_at(&q->vq, (uint16_t)expect))
            return true;
        vgd_queue_defer(dev->d, q, q->gather_until);
        return false;
    }
    if (q->deferred)
        return false;  /* throttled: the timer brings it back, kicks off */
    if (idle)
        return false;  /* input queue, no input: its fd brings it back */
    if (exhausted)
        return true;   /* budget used up: more next round, kicks stay off */
    if (coalescing)    /* a kick at the want-th chain, or the open round's
                        * close, brings it back */
        return vq_dev_enable_notify_at(&q->vq, (uint16_t)coalesce_want(q));
    if (!empty && free_lane(q) < 0)
        return false;  /* every lane busy: a completion brings it back */
    /* Empty: ask for a kick, and catch a chain published meanwhile. */
    return vq_dev_enable_notify(&q->vq);
}

static unsigned pending_total(const struct vgd_queue *q)
{
    unsigned n = 0;

    for (unsigned l = 0; l < q->nlanes; l++)
        n += q->round[l].pending;
    return n;
}

bool vgd_serve_settle(struct vgd_queue *q)
{
    /* every transfer done but a round still open: a FLUSH that waited for
     * them is left to start (it runs, or finishes synchronously) */
    if (any_open(q) && !pending_total(q))
        advance_lanes(q);
    return !any_open(q);
}

void vgd_serve_drain(struct vgd_queue *q)
{
    struct vgd_aio *aio = vgd_aio(q->dev->d);
    bool was_draining = q->draining;

    if (!any_open(q))
        return;
    q->draining = true;
    /* The kernel may still be reading into or writing from the rounds'
     * mapped buffers: they are unmapped only after their last transfer. */
    while (any_open(q)) {
        unsigned pending = pending_total(q);

        if (!pending) {
            /* a FLUSH left to start: start it (or finish synchronously) */
            if (advance_lanes(q) < 0)
                break;
            if (!pending_total(q) && any_open(q))
                break;      /* cannot happen: every round moves on */
            continue;
        }
        if (!aio || aio->ops->wait(aio)) {
            vg_dev_log(VG_LOG_ERR, q->dev->fe_domid, q->dev->devid,
                       "queue %u: waiting for %u transfers: %s", q->index,
                       pending, aio ? strerror(errno) : "no executor");
            break;
        }
    }
    q->draining = was_draining;
}
