/* SPDX-License-Identifier: MIT */
/*
 * Waiting with deadlines: every wait in libvgrant sleeps on the event
 * channel fd and the xenstore fd together, in slices of at most
 * VGF_RECHECK_MS, so a backend that never answers or vanishes is noticed
 * and no call blocks past its timeout.
 */
#include <errno.h>
#include <string.h>
#include <poll.h>
#include <time.h>

#include "vgrant/clock.h"
#include "vgf_internal.h"

static bool port_is_ours(const struct vgf_dev *d, int port)
{
    for (unsigned i = 0; i < d->num_queues && d->queues; i++)
        if (d->queues[i].port >= 0 && d->queues[i].port == port)
            return true;
    return false;
}

/* Bounded: a peer firing in a loop cannot keep us here forever. */
#define VGF_DRAIN_MAX 4096

unsigned vgf_sleep(struct vgf_dev *d, int timeout_ms, bool *xs_fired)
{
    struct vg_hyp *h = d->h;
    struct pollfd pfd[2];
    unsigned nfds = 0, ours = 0;
    int evfd = -1, xsfd = -1;

    *xs_fired = false;
    if (timeout_ms < 0 || timeout_ms > VGF_RECHECK_MS)
        timeout_ms = VGF_RECHECK_MS;

    evfd = h->ops->evtchn_fd ? h->ops->evtchn_fd(h) : -1;
    xsfd = h->ops->xs_fd ? h->ops->xs_fd(h) : -1;
    if (evfd >= 0)
        pfd[nfds++] = (struct pollfd){ .fd = evfd, .events = POLLIN };
    if (xsfd >= 0)
        pfd[nfds++] = (struct pollfd){ .fd = xsfd, .events = POLLIN };

    if (poll(pfd, nfds, timeout_ms) < 0 && errno != EINTR)
        vgf_log(d, VG_LOG_WARN, "poll: %s", strerror(errno));

    if (evfd >= 0) {
        for (unsigned n = 0; n < VGF_DRAIN_MAX; n++) {
            int port = h->ops->evtchn_pending(h);
            if (port < 0)
                break;
            if (port_is_ours(d, port)) {
                ours++;
                d->stats.events++;
            }
            /* Unmask every port, ours or not: a port left masked would
             * never wake anyone again. */
            h->ops->evtchn_unmask(h, (vg_port_t)port);
        }
    }
    if (xsfd >= 0) {
        char path[VG_XS_PATH_MAX], token[64];

        for (unsigned n = 0; n < VGF_DRAIN_MAX; n++) {
            if (h->ops->xs_next_watch(h, path, sizeof(path), token,
                                      sizeof(token)) < 0)
                break;
            *xs_fired = true;
        }
    }
    return ours;
}

int vgf_wait_backend(struct vgf_dev *d, bool (*accept)(unsigned st),
                     int timeout_ms, unsigned *last)
{
    uint64_t deadline = vg_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);

    for (;;) {
        unsigned st = vg_xs_read_state(d->h, d->be_dir);
        uint64_t now;
        bool xs_fired;

        *last = st;
        if (accept(st))
            return 0;
        now = vg_now_ms();
        if (now >= deadline) {
            errno = ETIMEDOUT;
            return -1;
        }
        vgf_sleep(d, (int)(deadline - now), &xs_fired);
    }
}
