/* SPDX-License-Identifier: MIT */
/*
 * vgrantd core: the backend daemon as a library, so that main()
 * (backend/vgrantd.c) and the unit tests drive the very same code.
 *
 * A struct vgd acts as backend domain B through one hypervisor handle.  It
 * watches /local/domain/<B>/backend/virtio-grant, runs the xenbus state
 * machine of protocol.h for every device found there, maps the frontend's
 * rings and buffers through grants and serves requests with a device model
 * (backend/devmodel.h).  Everything runs in the caller's thread: one call
 * of vgd_run_once is one round of the event loop.
 *
 * Fairness (XSA-391): each ready queue is served at most `budget_per_queue`
 * requests and about `byte_budget_per_queue` bytes per round, round-robin,
 * so a guest that kicks in a loop, or asks for huge transfers, gets the
 * same share per round as every other queue.
 */
#ifndef VGRANTD_H
#define VGRANTD_H

#include <stdbool.h>
#include <stdint.h>

#include "vgrant/hyp.h"

#define VGD_DEFAULT_BUDGET 64u
#define VGD_MAX_BUDGET     4096u
/* Bytes (device-readable plus device-writable) served per queue per round
 * before the next queue gets its turn; the request that crosses it is
 * still served, so every queue makes progress.  What it bounds is the
 * work done in the event loop for one queue's turn: with synchronous
 * transfers the reads and writes themselves (1 MiB); with io_uring only
 * the round's map batch or grant copies, the transfers running in the
 * kernel meanwhile (4 MiB: about a millisecond of copying, and rounds of
 * 1 MiB requests are not cut to one request each, which cost a round's
 * notification per request -- make bench, 2026-12-01).  The 4 MiB
 * default is for models whose transfers go to the executor (blk); one
 * that does its work in the loop (rng, net) keeps 1 MiB unless
 * --byte-budget is given. */
#define VGD_DEFAULT_BYTE_BUDGET (1024u * 1024)
#define VGD_DEFAULT_BYTE_BUDGET_AIO (4u * 1024 * 1024)
/* vgrantd's --coalesce-ms default, and the largest value accepted: the
 * longest an idle queue waits in all for a round's worth of requests
 * (serve.c, gathered). */
#define VGD_DEFAULT_COALESCE_MS 20u
#define VGD_MAX_COALESCE_MS 100u
/* vgd_options.input_stall_ms from the command line: long enough for a
 * guest descheduled for a while (under emulation round trips of 2 s were
 * seen), short enough that a guest that never refills costs little. */
#define VGD_DEFAULT_INPUT_STALL_MS 2000u
/* After this long in InitWait without a frontend, vgrantd tells the user
 * what to check (once per wait). */
#define VGD_FRONTEND_LATE_MS 30000u

struct vgd_aio;

enum { VGD_IO_URING = 0, VGD_IO_SYNC = 1 };
/* Submission queue entries of the daemon's io_uring (in-flight transfers
 * are not bounded by it: each queue bounds its own, serve.c). */
#define VGD_AIO_ENTRIES 256u

struct vgd_options {
    /* Act as this backend domain instead of the handle's own domid (a
     * driver domain that does not know its id; tests).  0 = h->domid. */
    uint16_t backend_domid_override_or_0;
    /* Requests served per queue per round; 0 = VGD_DEFAULT_BUDGET. */
    unsigned budget_per_queue;
    /* Bytes served per queue per round (at least one request is always
     * served); 0 = VGD_DEFAULT_BYTE_BUDGET.  Counting requests alone lets
     * a guest with a ring of 4 MiB requests take 256 MiB per round while
     * another guest's 512-byte read waits. */
    uint64_t byte_budget_per_queue;
    /* xenstore watch events handled per round; 0 = a default.  Bounds the
     * work a frontend rewriting its keys in a loop can cause per round. */
    unsigned watch_budget;
    /* Warn when a frontend has not connected this long after InitWait;
     * 0 = VGD_FRONTEND_LATE_MS. */
    unsigned frontend_late_ms;
    /* mode auto: requests of fewer bytes than this are grant-copied,
     * larger ones mapped; 0 = VGD_DEFAULT_AUTO_THRESHOLD (16 KiB). */
    unsigned auto_threshold;
    /* mode persistent: most guest pages kept mapped per device;
     * 0 = VGD_DEFAULT_PERSISTENT_PAGES (1024). */
    unsigned persistent_cache_pages;
    /* How file transfers run (aio.h): VGD_IO_URING (0, the default:
     * io_uring, or synchronously with a log line saying why if the kernel
     * refuses it) or VGD_IO_SYNC (in the serving loop, one at a time). */
    unsigned io_mode;
    /* Open blk targets a second time with O_DIRECT and use it for every
     * transfer whose buffers, lengths and offset are aligned to the
     * target's logical block size (the others, and flushes, go through
     * the page cache as without it). */
    bool direct;
    /* After a round of k requests closed and its queue went idle, wait up
     * to this many milliseconds for min(k, 8) requests before starting the
     * next round (with EVENT_IDX only: the driver kicks at that entry, so
     * a guest that comes back with as many as it got pays no delay).  0 =
     * off, every kick starts a round at once.  The command line's default
     * is VGD_DEFAULT_COALESCE_MS; a zeroed vgd_options (tests) is off. */
    unsigned coalesce_ms;
    /* An input queue (net receive) whose guest has posted too few
     * buffers for the next input keeps that input (and leaves the rest in
     * the model's fd, the tap's own queue) for up to this many
     * milliseconds from when the ring first ran short, as a NIC waits for
     * its driver to refill; then it drops inputs, counted, while the ring
     * stays short.  The command line's default is
     * VGD_DEFAULT_INPUT_STALL_MS; a zeroed vgd_options (tests) drops at
     * once. */
    unsigned input_stall_ms;
    /* Tests: an executor of their own, used instead and not freed. */
    struct vgd_aio *aio;
    /* Monotonic milliseconds for rate limits (rng rate=) and the timers
     * of throttled queues; NULL = vg_now_ms.  Tests pass a fake clock. */
    uint64_t (*clock_ms)(void);
};

struct vgd;

/* The options that can change while devices run (a reload): requests and
 * bytes per queue per round, the auto mode's threshold; 0 = the default.
 * Take effect from the next round on. */
void vgd_set_tunables(struct vgd *d, unsigned budget_per_queue,
                      uint64_t byte_budget_per_queue, unsigned auto_threshold);
void vgd_get_tunables(const struct vgd *d, unsigned *budget_per_queue,
                      uint64_t *byte_budget_per_queue, unsigned *auto_threshold);

/* The daemon does not own h: the caller closes it after vgd_free. */
struct vgd *vgd_new(struct vg_hyp *h, const struct vgd_options *o);

/* Register watches on the backend subtree and @releaseDomain and pick up
 * devices that already exist (a device in state 3..4 that we are not
 * serving is moved to Closing: the daemon restarted under it). */
int vgd_start(struct vgd *d);

/* One round: wait up to timeout_ms (-1 = forever; 0 is used anyway while
 * work is left over from the previous round), handle watch events and
 * pending ports, serve ready queues within budget.  Returns 0, or -1 only
 * on a fatal error of the daemon itself (never because of a guest). */
int vgd_run_once(struct vgd *d, int timeout_ms);

/* File transfers submitted and not yet completed (aio.h); a caller
 * polling with timeout 0 (tests) waits for them instead while > 0. */
unsigned vgd_transfers_in_flight(const struct vgd *d);

/* Async-signal-safe: ask the loop to stop; wakes a blocked vgd_run_once. */
void vgd_request_stop(struct vgd *d);
bool vgd_stop_requested(const struct vgd *d);

/* Add an extra fd to the event loop (main uses it for its signalfd); cb
 * runs from vgd_run_once when fd is readable.  At most a few such fds. */
typedef void (*vgd_fd_cb)(struct vgd *d, int fd, void *arg);
int vgd_add_fd(struct vgd *d, int fd, vgd_fd_cb cb, void *arg);

/* Close every device cleanly (every grant unmapped, every port unbound,
 * state Closing then Closed where the backend directory still exists),
 * remove the watches and free.  NULL is a no-op. */
void vgd_free(struct vgd *d);

/* ---- statistics ---- */
struct vgd_dev_stats {
    uint16_t frontend_domid;
    unsigned devid;
    unsigned state;            /* backend xenbus state we last wrote */
    unsigned queues;           /* connected queues, 0 when not Connected */
    uint64_t requests;         /* requests completed (any status) */
    uint64_t bytes_read;       /* bytes the device read from the guest */
    uint64_t bytes_written;    /* bytes the device wrote into the guest */
    uint64_t errors;           /* requests failed (mapping or model) */
    uint64_t map_batches, maps, unmap_batches, unmaps;
    uint64_t grant_copies;
    uint64_t notifies_sent;
    uint64_t kicks_received;
    uint64_t live_mappings;    /* pages of this guest mapped right now */
    uint64_t in_flight;        /* chains popped and not yet completed */
    uint64_t max_in_flight;    /* high-water mark of in_flight, any queue */
    uint64_t rounds;           /* rounds served: requests popped and
                                  completed together (serve.c) */
    uint64_t max_round;        /* most requests in one round so far */
    /* rounds by size: 1, 2-3, 4-7, 8-15, 16 or more requests */
    uint64_t rounds_1, rounds_2_3, rounds_4_7, rounds_8_15, rounds_16_up;
    uint64_t gathers;          /* waits of an idle queue for a round's
                                  worth of requests (--coalesce-ms) */
    uint64_t gathers_short;    /* ...that ended with fewer than expected */
    uint64_t async_rounds;     /* rounds whose file transfers ran in the
                                  kernel while other queues were served */
    uint64_t throttled;        /* times the device model made a queue wait
                                  (rng rate=): requests left in the ring */
    /* transport modes (docs/modes.md) */
    const char *mode;          /* VG_MODE_* in use, static string */
    uint64_t copy_batches;     /* grant_copy calls (grant_copies: segments) */
    uint64_t bounce_bytes;     /* bytes copied through private buffers */
    uint64_t cache_hits, cache_misses, cache_evictions;
    uint64_t cache_size;       /* persistent: pages cached now */
    uint64_t region_bytes;     /* static: region bytes mapped now */
    uint64_t auto_copied, auto_mapped;   /* auto: requests per path */
    uint64_t bounce_pages;     /* copy/auto: private bounce pages resident
                                  now (at most ~16 MiB per queue between
                                  rounds, docs/security.md) */
    /* net devices (type=net, backend/net.c): net is true and the
     * counters below are packets and bytes through the tap each way, and
     * packets dropped, by reason; vgrant stats shows them only for net */
    bool net;
    uint64_t net_rx_packets, net_rx_bytes, net_tx_packets, net_tx_bytes;
    uint64_t net_rx_no_buffer;      /* the guest posted too few buffers */
    uint64_t net_rx_small_buffer;   /* its buffers were too small */
    uint64_t net_rx_bad_length;     /* tap frame < 14 or > MTU + 18 */
    uint64_t net_rx_bad_chain;      /* rx chain unusable (readable part,
                                       or not mappable) */
    uint64_t net_tx_bad_length;     /* guest frame < 14 or > MTU + 18 */
    uint64_t net_tx_bad_header;     /* offloads not offered, or a
                                       writable part */
    uint64_t net_tx_busy;           /* tap would block (EAGAIN) */
    uint64_t net_errors;            /* other tap read/write errors */
    /* the guest's own counters (frontend key "stats", guest_stats.h):
     * its word, shown to the administrator, never acted upon */
    uint64_t guest_reported;   /* 1: the guest published a valid line */
    uint64_t guest_requests, guest_failed, guest_throttle_waits;
    uint64_t guest_region_high_water, guest_bounce_bytes;
    uint64_t guest_zero_copy_bytes;
};

/* Called once per device known to the daemon; a non-zero return stops the
 * walk and is returned by vgd_foreach_dev. */
typedef int (*vgd_dev_cb)(const struct vgd_dev_stats *s, void *arg);
int vgd_foreach_dev(struct vgd *d, vgd_dev_cb cb, void *arg);

/* Totals of a whole run, for the summary main logs at exit. */
struct vgd_totals {
    unsigned devices;
    uint64_t requests, errors, bytes_read, bytes_written;
    uint64_t rounds;
};
void vgd_get_totals(const struct vgd *d, struct vgd_totals *t);

#endif /* VGRANTD_H */
