/* SPDX-License-Identifier: MIT */
/*
 * virtio-rng device model (VIRTIO 1.x section 5.4): one request queue; a
 * request is one or more device-writable buffers, which the device fills
 * with bytes from the backend domain's /dev/urandom.  The used length is
 * exactly the number of bytes written.  No feature bits, no config space.
 *
 * Backend keys (vg_devtype_rng in common/devtype.c): rate, optional, bytes
 * per second in [1, VG_RNG_MAX_RATE].
 *
 * Rate limit: a token bucket holding at most one second's worth (`rate`
 * bytes), full when the device opens, refilled continuously from the
 * daemon's clock.  A request is served once the bucket holds
 * RNG_WAKE_BYTES (or all it can hold, if rate is smaller) and gets
 * min(its buffers, the bucket) bytes: it may be completed short, never
 * empty.  The spec allows exactly that ("The device MUST place one or
 * more random bytes into the buffer, but it MAY use less than the entire
 * buffer length"), and Linux's virtio_rng, which queues one buffer at a
 * time and waits for it, stops asking after a zero-length completion, so
 * requests over budget are never dropped or emptied: they wait.  While
 * they wait the queue is left alone (wait_ms: nothing popped, nothing
 * mapped); the daemon comes back when the bucket has refilled and serves
 * every other device meanwhile.
 *
 * Hostile requests: a device-readable buffer (virtio-rng has none) or a
 * request with no writable byte is failed -- used length 0, counted as
 * an error, logged through the daemon's one rate limiter (log.h) -- and
 * the device keeps serving, as blk does with a malformed request.  Malformed chains (loops, bad indices)
 * close the device as for every model (virtqueue.c).  One request fills
 * at most RNG_MAX_BYTES and may name at most RNG_MAX_BUFFERS buffers, so
 * a guest cannot make one request cost more than that.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devmodel.h"
#include "vgrant/log.h"
#include "vgrant/protocol.h"
#include "vgrant/virtio.h"

#define RNG_SOURCE      "/dev/urandom"
#define RNG_MAX_BUFFERS 16u
#define RNG_MAX_BYTES   (64u * 1024)
/* A throttled queue waits until the bucket holds this much (one Linux
 * virtio_rng buffer), so a slow rate is not served a byte at a time. */
#define RNG_WAKE_BYTES  64u

struct rng {
    int fd;
    uint16_t domid;
    unsigned devid;
    struct vg_ratelimit bad;  /* bad requests: count and log limiter */
    /* token bucket, in milli-bytes so that slow rates refill exactly;
     * rate 0: no limit */
    uint64_t rate;            /* bytes per second */
    uint64_t tokens_mb;       /* <= rate * 1000 */
    uint64_t last_ms;         /* clock at the last refill */
    bool clock_started;
};

static void rng_bad(struct rng *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A guest can produce bad requests as fast as we serve them: rate-limited
 * (log.h). */
static void rng_bad(struct rng *r, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vg_rl_dev_vevent(&r->bad, r->domid, r->devid, "bad request", fmt, ap);
    va_end(ap);
}

static void *rng_open(const struct vgd_model_params *p)
{
    struct rng *r = calloc(1, sizeof(*r));
    uint64_t rate = 0;

    if (!r)
        return NULL;
    r->fd = -1;
    r->domid = p->frontend_domid;
    r->devid = p->devid;
    if (vgd_model_key(p, &vg_devtype_rng, VG_KEY_RATE, NULL, &rate) < 0)
        goto fail;
    r->rate = rate;
    r->tokens_mb = rate * 1000;
    r->fd = open(RNG_SOURCE, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        vg_dev_log(VG_LOG_ERR, r->domid, r->devid, "rng: cannot open "
                   RNG_SOURCE ": %s", strerror(errno));
        goto fail;
    }
    if (rate)
        vg_dev_log(VG_LOG_INFO, r->domid, r->devid, "rng: " RNG_SOURCE ", at "
                   "most %llu bytes/s", (unsigned long long)rate);
    else
        vg_dev_log(VG_LOG_INFO, r->domid, r->devid, "rng: " RNG_SOURCE
                   ", no rate limit");
    return r;
fail:
    free(r);
    return NULL;
}

static void rng_close(void *m)
{
    struct rng *r = m;

    if (!r)
        return;
    vg_rl_flush(&r->bad, VG_LOG_INFO, "dom %u dev %u: rng: bad requests",
                r->domid, r->devid);
    if (r->fd >= 0)
        close(r->fd);
    free(r);
}

static uint64_t rng_features(void *m)
{
    (void)m;
    return 0;
}

static size_t rng_config_space(void *m, uint8_t *buf, size_t max)
{
    (void)m;
    (void)buf;
    (void)max;
    return 0;
}

static unsigned rng_max_request_pages(void *m)
{
    (void)m;
    /* each buffer may start and end in a page of its own */
    return RNG_MAX_BYTES / VG_PAGE_SIZE + 2 * RNG_MAX_BUFFERS;
}

static unsigned rng_max_request_buffers(void *m)
{
    (void)m;
    return RNG_MAX_BUFFERS;
}

static void refill(struct rng *r, uint64_t now)
{
    uint64_t elapsed;

    if (!r->clock_started) {
        r->clock_started = true;
        r->last_ms = now;
        return;
    }
    if (now <= r->last_ms)
        return;                 /* clocks do not go back; ignore if they do */
    elapsed = now - r->last_ms;
    r->last_ms = now;
    if (elapsed >= 1000) {      /* a second refills the whole bucket */
        r->tokens_mb = r->rate * 1000;
        return;
    }
    r->tokens_mb += elapsed * r->rate;
    if (r->tokens_mb > r->rate * 1000)
        r->tokens_mb = r->rate * 1000;
}

static uint64_t wake_bytes(const struct rng *r)
{
    return r->rate < RNG_WAKE_BYTES ? r->rate : RNG_WAKE_BYTES;
}

static uint64_t rng_wait_ms(void *m, unsigned queue, uint64_t now)
{
    struct rng *r = m;
    uint64_t need;

    (void)queue;
    if (!r->rate)
        return 0;
    refill(r, now);
    need = wake_bytes(r) * 1000;
    if (r->tokens_mb >= need)
        return 0;
    /* ceil((need - tokens) / rate) ms, at least 1 */
    return (need - r->tokens_mb + r->rate - 1) / r->rate;
}

/* Fill len bytes of the writable buffers from the source. */
static int fill(struct rng *r, const struct iovec *iov, unsigned n, size_t len)
{
    for (unsigned i = 0; i < n && len; i++) {
        char *p = iov[i].iov_base;
        size_t l = iov[i].iov_len < len ? iov[i].iov_len : len;

        len -= l;
        while (l) {
            ssize_t got = read(r->fd, p, l);

            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0) {
                vg_dev_log(VG_LOG_ERR, r->domid, r->devid, "rng: reading "
                           RNG_SOURCE ": %s",
                           got < 0 ? strerror(errno) : "end of file");
                return -1;
            }
            p += got;
            l -= (size_t)got;
        }
    }
    return 0;
}

static void rng_handle(void *m, const struct vgd_request *req,
                       struct vgd_result *res)
{
    struct rng *r = m;
    size_t len;

    res->written = 0;
    res->read = 0;
    if (req->n_out || req->out_bytes) {
        rng_bad(r, "rng: request has %u device-readable buffer(s) (%zu bytes); "
                "virtio-rng requests are device-writable only; request failed",
                req->n_out,
                req->out_bytes);
        res->failed = true;
        return;
    }
    if (req->in_bytes == 0) {
        rng_bad(r, "rng: request has no device-writable byte; request failed");
        res->failed = true;
        return;
    }
    len = req->in_bytes < RNG_MAX_BYTES ? req->in_bytes : RNG_MAX_BYTES;
    if (r->rate) {
        uint64_t avail;

        refill(r, req->now_ms);
        avail = r->tokens_mb / 1000;
        if (avail == 0) {
            /* wait_ms said we could serve: only a clock that went back
             * gets here.  Never complete empty; one byte on credit. */
            avail = 1;
        }
        if (len > avail)
            len = (size_t)avail;
        r->tokens_mb -= r->tokens_mb >= len * 1000ull ? len * 1000ull
                                                        : r->tokens_mb;
    }
    if (fill(r, req->in, req->n_in, len)) {
        res->failed = true;
        return;
    }
    res->written = (uint32_t)len;
}

const struct vgd_model vgd_model_rng = {
    .name = VG_TYPE_RNG,
    .device_id = VIRTIO_ID_RNG,
    .max_queues = 1,
    .open = rng_open,
    .close = rng_close,
    .features = rng_features,
    .config_space = rng_config_space,
    .max_request_pages = rng_max_request_pages,
    .max_request_buffers = rng_max_request_buffers,
    .wait_ms = rng_wait_ms,
    .handle = rng_handle,
    .status_bytes = 0,
    .fail = NULL,
};
