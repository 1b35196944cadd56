/* SPDX-License-Identifier: MIT */
/*
 * Device models: what a virtio device does with a request once the
 * transport has mapped its buffers.  A model is a small table of callbacks
 * (one file per model: blk.c, rng.c, later console.c, null.c) and knows
 * nothing about grants, rings or xenstore watches.
 *
 * Buffers handed to a model live in memory the guest shares and may still
 * change under us: a model copies any control structure (a request header)
 * into private memory exactly once and uses only the copy (XSA-155).
 */
#ifndef VGRANT_DEVMODEL_H
#define VGRANT_DEVMODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "vgrant/devtype.h"
#include "vgrant/hyp.h"

struct vgd_dev_stats;   /* vgrantd.h */

/* What a model needs to open one device. */
struct vgd_model_params {
    struct vg_hyp *h;          /* to read the model's own backend keys */
    const char *be_path;       /* backend directory ("target", "readonly") */
    uint16_t frontend_domid;
    unsigned devid;
    bool direct;               /* vgrantd --direct: O_DIRECT where it can */
};

/* Input queues (see input_peek below): the input a chain carries part
 * of.  count 0: the queue is not an input queue. */
struct vgd_req_input {
    uint64_t id;               /* the model's vgd_input.id */
    unsigned index, count;     /* this chain is chain `index` of `count` */
    uint64_t bytes;            /* device-writable bytes of all of them */
};

struct vq_chain;

/* One request with its buffers mapped: out[] are device-readable,
 * in[] device-writable, in chain order.  A transport may cut one guest
 * buffer into several iovecs (persistent mode: one per page piece);
 * limits the device published per buffer (blk seg_max, size_max) apply
 * to the chain's descriptors, which chain describes as the guest wrote
 * them (lengths and directions checked by the transport, never NULL for
 * a mapped request). */
struct vgd_request {
    const struct vq_chain *chain;
    const struct iovec *out;
    unsigned n_out;
    size_t out_bytes;
    const struct iovec *in;
    unsigned n_in;
    size_t in_bytes;
    unsigned queue;
    uint64_t now_ms;           /* the daemon's clock (vgd_options.clock_ms) */
    struct vgd_req_input input;
};

/* The next input of an input queue, as input_peek describes it. */
struct vgd_input {
    uint64_t id;               /* comes back in vgd_request.input.id */
    size_t need;               /* device-writable bytes it takes */
    unsigned max_chains;       /* most chains it may span (>= 1) */
};

enum vgd_input_state {
    VGD_INPUT_NONE,            /* nothing pending */
    VGD_INPUT_READY,           /* *in describes the next input */
    VGD_INPUT_LATER,           /* pending, but the inputs this round
                                  already took are all the model holds */
};

/* A transfer on the backing file a model asks the daemon to run for one
 * request (aio.h): asynchronously with the other requests of its round,
 * or synchronously without an executor.  The model fills op, fd, offset,
 * len and iov[0..niov) (iov has room for iov_cap entries, provided by the
 * daemon: max_request_pages + max_request_buffers); iov points into the
 * request's mapped buffers, which stay mapped until done() has run. */
enum vgd_io_op {
    VGD_IO_READ = 1,           /* preadv: file -> in[] */
    VGD_IO_WRITE,              /* pwritev: out[] -> file */
    VGD_IO_FLUSH,              /* fdatasync: no data */
};

struct vgd_io {
    enum vgd_io_op op;
    int fd;
    uint64_t offset;
    size_t len;                /* sum of iov[].iov_len; 0 for FLUSH */
    struct iovec *iov;
    unsigned niov, iov_cap;
};

/* What a model reports for one request. */
struct vgd_result {
    /* The used length: bytes written into in[].  A model writes a prefix
     * of in[] of written - status_bytes bytes and, when written >=
     * status_bytes, its status in the last status_bytes bytes of in[]
     * (so a GET_ID of 20 bytes into a longer buffer reports 21 and leaves
     * the bytes between untouched).  Copy mode copies back exactly these
     * bytes. */
    uint32_t written;
    uint32_t read;             /* bytes consumed from out[] (statistics) */
    bool failed;               /* counted as an error in the statistics */
};

struct vgd_model {
    const char *name;          /* backend key "type" */
    uint32_t device_id;        /* VIRTIO_ID_* */
    unsigned max_queues;       /* the model serves at most this many */
    /* 0, or the queues the device always has whatever the queues key
     * says (net: receive and transmit; its queues key counts pairs) */
    unsigned fixed_queues;
    /* The guest sends about as many requests as it got results back (a
     * block device's queue depth): an idle queue may wait for them
     * (serve.c, --coalesce-ms).  Not for traffic the guest does not pace
     * by completions: a transmitted packet waits for nothing. */
    bool gathers;

    /* Open the device described by the backend keys; returns the model's
     * private state or NULL after logging why (naming the key and value). */
    void *(*open)(const struct vgd_model_params *p);
    void (*close)(void *m);

    /* Device feature bits (model bits only; the transport adds its own). */
    uint64_t (*features)(void *m);
    /* Fill the config space; returns its length (<= max). */
    size_t (*config_space)(void *m, uint8_t *buf, size_t max);
    /* Most guest pages one request may name; requests naming more are
     * failed without mapping anything, so a request cannot make us map
     * unbounded memory. */
    unsigned (*max_request_pages)(void *m);
    /* Most buffers (descriptors) one request may have. */
    unsigned (*max_request_buffers)(void *m);

    /* Rate-limited models (NULL: never waits): 0 when a request on queue
     * can be served at time now_ms, else how many milliseconds until one
     * can.  The daemon then leaves the queue's chains in the ring --
     * nothing popped, nothing mapped, kicks off -- and comes back after
     * that time, without holding up any other queue.  Counted in the
     * device's "throttled" statistic. */
    uint64_t (*wait_ms)(void *m, unsigned queue, uint64_t now_ms);

    /* Input queues (net receive; NULL: the model has none).  Chains on
     * an input queue are buffers the guest posts for data that arrives
     * on the backend's side, so they are popped only when there is
     * input, never otherwise (they stay in the ring, kicks are not
     * needed).  input_fd names the fd whose readability means input for
     * queue *queue; the daemon polls it while that queue is connected
     * and makes the queue ready when it is readable.  Serving the queue,
     * the daemon asks input_peek for the next input (round_start: first
     * of a round; every earlier round of the queue has closed, since
     * input models serve with handle), pops chains until their
     * device-writable bytes reach in->need (at most in->max_chains, and
     * at most a round's worth) and calls input_take(dropped = false);
     * the chains then come to handle in order, in the same round, with
     * req->input naming the input.  If the ring runs out first, the
     * chains go back to the ring and input_take(dropped = true): the
     * model drops the input and counts it; the daemon never waits for
     * the guest.  If the round is full, the chains go back and the input
     * comes first in the next round.  Drops count against the queue's
     * budget. */
    int (*input_fd)(void *m, unsigned *queue);
    enum vgd_input_state (*input_peek)(void *m, unsigned queue,
                                       bool round_start,
                                       struct vgd_input *in);
    void (*input_take)(void *m, unsigned queue, bool dropped);
    /* The features the driver accepted, when it connects (NULL: not
     * needed). */
    void (*set_features)(void *m, uint64_t negotiated);
    /* The model's own counters into *s (vgrant stats; NULL: none). */
    void (*stats)(void *m, struct vgd_dev_stats *s);

    /* Serve one request, synchronously (rng).  A model sets either
     * handle, or start and done. */
    void (*handle)(void *m, const struct vgd_request *req,
                   struct vgd_result *res);
    /* Serve one request in two steps (blk): start checks it and either
     * completes it at once (returns false, *res final) or describes the
     * one transfer it needs in *io (returns true); once the daemon ran it,
     * done gets its result -- io->len bytes (FLUSH: 0) or -errno, never a
     * short count -- and completes *res.  Between the two the request's
     * buffers stay mapped and other requests run: the model keeps nothing
     * of the request outside *res and *io. */
    bool (*start)(void *m, const struct vgd_request *req,
                  struct vgd_result *res, struct vgd_io *io);
    void (*done)(void *m, const struct vgd_request *req,
                 struct vgd_result *res, const struct vgd_io *io,
                 ssize_t result);

    /* The last status_bytes bytes of a request's device-writable part are
     * its status.  When the transport cannot map the request it maps only
     * those bytes (as in[], exactly status_bytes long) and calls fail so
     * the guest still learns the request failed.  0: no status. */
    unsigned status_bytes;
    void (*fail)(void *m, const struct vgd_request *status_only,
                 struct vgd_result *res);
};

/* One request start to end in the calling thread: handle, or start, the
 * transfer (aio.h vgd_io_run_sync) and done.  io->iov must have room for
 * max_request_pages + max_request_buffers entries.  (The daemon runs
 * transfers through its executor instead, serve.c; this is for tools and
 * the fuzz harnesses.) */
void vgd_model_serve_sync(const struct vgd_model *m, void *state,
                          const struct vgd_request *req,
                          struct vgd_result *res, struct vgd_io *io);

/* Model for a backend "type" value, NULL if none. */
const struct vgd_model *vgd_model_find(const char *type);

/* Read key `key` of device type `type` (include/vgrant/devtype.h) from the
 * backend directory and check it with the validator the toolstack uses.
 * Returns 1 with *value (malloc'd, canonical) and *num (numeric kinds)
 * when the key is there -- or absent with a default, which is used then;
 * 0 when it is absent and optional (*value NULL); -1 after logging
 * "<type>: backend key <key> '<value>' <why>" (bad, or required and
 * missing).  value and num may be NULL. */
int vgd_model_key(const struct vgd_model_params *p,
                  const struct vg_devtype *type, const char *key,
                  char **value, uint64_t *num);

/* The models, one file each; each has an entry in vg_devtypes too. */
extern const struct vgd_model vgd_model_blk;
extern const struct vgd_model vgd_model_rng;
extern const struct vgd_model vgd_model_net;

#endif /* VGRANT_DEVMODEL_H */
