/* SPDX-License-Identifier: MIT */
/*
 * One backend device and its queues, as shared by the files of the daemon:
 *   daemon.c          event loop, device list, port table, ready list
 *   xenbus_backend.c  the per-device xenbus state machine
 *   xenbus_keys.c     its key validation (toolstack and frontend keys)
 *   serve.c           serving one queue: pop, map, start, transfer (aio.h),
 *                     unmap, push
 *   grant_mapper.c    grant mode mapping engine and the "grant" transport
 * Not part of the public API (that is vgrantd.h).
 */
#ifndef VGRANT_BACKEND_DEVICE_H
#define VGRANT_BACKEND_DEVICE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "vgrant/attach_id.h"
#include "vgrant/hyp.h"
#include "vgrant/protocol.h"
#include "vgrant/virtqueue.h"
#include "vgrant/xsutil.h"
#include "devmodel.h"
#include "grant_mapper.h"
#include "transport.h"
#include "vgrantd.h"

struct vgd_dev;

/* One lane's round: n requests popped into its slots (0: the lane is
 * free), the first `next` started, `pending` transfers in the executor;
 * seq orders the rounds of a queue (a FLUSH waits for older ones). */
struct vgd_round {
    unsigned n, next, pending;
    uint64_t seq;
};

struct vgd_queue {
    struct vgd_dev *dev;
    unsigned index;
    uint16_t num;
    bool connected;            /* rings mapped, vq initialised, port bound */

    /* ring areas, mapped at connect */
    void *desc_map, *avail_map, *used_map;
    uint32_t desc_pages, avail_pages, used_pages;
    struct vq_device vq;
    bool vq_init;

    vg_port_t remote_port;
    vg_port_t port;            /* our end */
    bool port_bound;
    struct vgd_queue *port_next;   /* port table bucket chain */

    bool ready;                /* on the daemon's ready list */
    TAILQ_ENTRY(vgd_queue) ready_link;
    /* throttled by its model (wait_ms): back on the ready list at wake_ms */
    bool deferred;
    uint64_t wake_ms;
    TAILQ_ENTRY(vgd_queue) defer_link;

    /* per-request state, sized at connect, reused for every round */
    struct vgd_slot *slots;    /* [nslots]: the requests of a round */
    unsigned nslots;
    /* the rounds (serve.c), one per lane of lane_slots slots: lane L
     * holds slots [L * lane_slots, (L + 1) * lane_slots) */
    unsigned nlanes, lane_slots;
    struct vgd_round round[VGD_LANES];
    uint64_t round_seq;        /* rounds started on this queue */
    /* stopped (no port, not ready) while its open rounds' transfers are
     * still in the kernel: unmapped once they finish (vgd_dev_reap);
     * completions do not put it back on the ready list */
    bool draining;
    /* serve.c's gathering on an idle queue: the results handed back to
     * the guest since a round last began on an idle queue; while waiting
     * for min(it, a lane) requests, when the wait began and until when it
     * lasts (vgd_clock_ms; 0 = not waiting) and how many chains were
     * there at the last look */
    unsigned returned;
    uint64_t gather_start, gather_until;
    unsigned gather_seen;
    unsigned gather_pace;      /* ms per request coming, x16 (0: unknown) */
    /* the requests of this queue its transport failed: count and log
     * limiter (log.h), kept across connections (a guest that reconnects
     * gets no fresh burst of lines) and summed up when the device goes */
    struct vg_ratelimit failures;
    struct vgd_grant_mapper gm;
    bool gm_init;
    /* transport mode state (transport.h); which ones are live depends on
     * dev->xport */
    struct vgd_copier cp;
    bool cp_init;
    struct vgd_pqueue pq;
    bool pq_init;
    bool xport_init;           /* queue_init succeeded */
    /* an input queue (devmodel.h input_fd): its chains are popped only
     * for input; input_slot >= 0 while the daemon polls the model's fd */
    bool input;
    int input_slot, input_fd;
    /* serve.c's wait for rx buffers: the ring had too few for the input
     * the model holds since starved_since (vgd_clock_ms); the fd rests
     * (input_paused) until the guest posts more or the stall ends */
    bool starved, input_paused;
    uint64_t starved_since;
};

struct vgd_dev {
    struct vgd *d;
    TAILQ_ENTRY(vgd_dev) link;

    uint16_t fe_domid;
    unsigned devid;
    char be_path[VG_XS_PATH_MAX];
    char fe_path[VG_XS_PATH_MAX];
    char fe_token[48];
    char fe_watch_path[VG_XS_PATH_MAX];   /* watched, may differ from fe_path
                                             until the toolstack keys are valid */
    bool fe_watched;

    enum vg_xenbus_state state;   /* backend state we last wrote */
    uint64_t initwait_since_ms;   /* when we entered InitWait, 0: not in it */
    bool initwait_warned;         /* told the user the frontend is late */
    bool prepared;                /* model open, device keys published */
    bool config_bad;              /* toolstack keys invalid: stay down */
    bool removed;                 /* backend directory is gone */
    bool dirty;                   /* a watch fired: re-evaluate this round */
    /* identity (protocol.h "Identity"): the attach-id of the toolstack
     * attach we are serving, "" before the first look */
    char attach_id[VG_ATTACH_ID_BUF];
    bool attach_id_warned;        /* told the user it is missing */
    bool fe_dead;                 /* the frontend domain died: stay Closed */
    /* every line the state machine logs for this device (a guest can
     * flip its state, or rewrite bad keys, in a loop): log.h's policy */
    struct vg_ratelimit state_rl;
    bool fatal;                   /* violation seen while serving: close
                                     after this round */
    /* Closing a device whose transfers are still in the kernel never
     * waits for them in the daemon's loop (the guest's own slow file
     * would stall every other guest): its queues stop, and `draining`
     * of them keep their mappings until their rounds finish; meanwhile
     * the state machine rests (vgd_dev_changed looks at the device again
     * once they are done) and Closed, if it was due, is written then */
    unsigned draining;
    bool close_pending;
    bool was_serving;             /* for the "released" line */
    char fatal_why[160];

    const struct vgd_model *model;
    void *mstate;
    uint64_t offered;
    uint64_t negotiated;
    unsigned max_queues;
    unsigned max_queue_size;
    unsigned nqueues;             /* connected queues */
    struct vgd_queue q[VG_MAX_QUEUES];

    /* transport mode (backend key "mode") and its device-wide state */
    const struct vgd_transport *xport;
    uint64_t region_size;         /* static: backend key "region", bytes */
    void *region_map;             /* static: the region, mapped at connect */
    uint32_t region_pages;
    struct vgd_pcache pcache;     /* persistent */
    bool pcache_init;
    bool xport_connected;
    struct vgd_xport_counters xc;

    /* statistics */
    struct vgd_map_counters mc;
    uint64_t requests, bytes_read, bytes_written, errors;
    uint64_t notifies_sent, kicks_received;
    uint64_t max_in_flight;
    uint64_t rounds, max_round;     /* serve.c */
    uint64_t rounds_by_size[5];     /* 1, 2-3, 4-7, 8-15, 16+ */
    uint64_t gathers, gathers_short;
    uint64_t async_rounds;        /* rounds left open for the executor */
    uint64_t throttled;           /* times the model made a queue wait */
};

/* ---- daemon.c services used by the other files ---- */
struct vg_hyp *vgd_hyp(struct vgd *d);
uint16_t vgd_backend_domid(const struct vgd *d);
int vgd_port_add(struct vgd *d, struct vgd_queue *q);
void vgd_port_del(struct vgd *d, struct vgd_queue *q);
void vgd_queue_set_ready(struct vgd *d, struct vgd_queue *q);
/* Also cancels a deferral: a queue is either ready, deferred or idle. */
void vgd_queue_clear_ready(struct vgd *d, struct vgd_queue *q);
/* Put q back on the ready list at wake_ms (vgd_clock_ms time). */
void vgd_queue_defer(struct vgd *d, struct vgd_queue *q, uint64_t wake_ms);
uint64_t vgd_clock_ms(const struct vgd *d);
/* Poll fd while input queue q is connected: readable makes q ready
 * (vgd_queue_set_ready); sets q->input_slot.  -1 (errno) if it cannot. */
int vgd_input_add(struct vgd *d, struct vgd_queue *q, int fd);
/* Stop polling q's fd (nothing if it is not polled). */
void vgd_input_del(struct vgd *d, struct vgd_queue *q);
/* Stop (pause) or resume polling q's model fd; it stays registered. */
void vgd_input_pause(struct vgd *d, struct vgd_queue *q, bool pause);
/* vgd_options.input_stall_ms (serve.c). */
unsigned vgd_input_stall_ms(const struct vgd *d);
/* The daemon's executor for file transfers (aio.h); NULL: synchronous. */
struct vgd_aio *vgd_aio(struct vgd *d);
/* vgd_options.coalesce_ms (serve.c). */
unsigned vgd_coalesce_ms(const struct vgd *d);
/* Transport options of the daemon (vgd_options, with defaults). */
unsigned vgd_auto_threshold(const struct vgd *d);
unsigned vgd_persistent_pages(const struct vgd *d);
bool vgd_direct_io(const struct vgd *d);

/* ---- xenbus_backend.c ---- */
struct vgd_dev *vgd_dev_new(struct vgd *d, uint16_t fe_domid, unsigned devid);
/* Something under the device's backend or frontend directory changed, or
 * a domain died: re-read what matters and move the state machine.  The
 * daemon calls it at most once per device per round (dev->dirty). */
void vgd_dev_changed(struct vgd_dev *dev);
/* Protocol violation found while serving: logged by the caller; closes
 * the device (Closing, waiting for the frontend to acknowledge). */
void vgd_dev_fail(struct vgd_dev *dev);
/* Every round: a closing device whose queues were waiting for their
 * transfers (dev->draining) unmaps those that finished; true once all
 * have and the device finished closing (Closed if due): the caller looks
 * at it again (vgd_dev_changed), for what changed meanwhile. */
bool vgd_dev_reap(struct vgd_dev *dev);
/* True once the backend directory is gone: the daemon frees the device. */
bool vgd_dev_removed(const struct vgd_dev *dev);
/* Daemon shutdown: tear down, Closing then Closed, free. */
void vgd_dev_shutdown(struct vgd_dev *dev);
/* Free without touching xenstore state (after removal). */
void vgd_dev_free(struct vgd_dev *dev);
void vgd_dev_get_stats(const struct vgd_dev *dev, struct vgd_dev_stats *s);

/* Between xenbus_backend.c and xenbus_keys.c: */
/* A line of the state machine, rate-limited per device (dev->state_rl),
 * prefixed "dom F dev N:"; debug lines are not limited. */
void vgd_xb_log(struct vgd_dev *dev, enum vg_log_level level,
                const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Is the backend directory still the one of the attach this device
 * serves?  0: ours (or nothing recorded yet); 1: another attach's, or
 * removed; -1: unreadable (errno). */
int vgd_xb_identity_in_tx(struct vgd_dev *dev, struct vg_hyp *h,
                          vg_xs_tx_t tx);

/* ---- xenbus_keys.c ---- */
enum vgd_prep { VGD_PREP_OK, VGD_PREP_NOT_READY, VGD_PREP_BAD };
/* Validate the toolstack keys, open the model, publish the device keys.
 * NOT_READY: the toolstack has not written everything yet. */
enum vgd_prep vgd_xb_prepare(struct vgd_dev *dev);
/* One queue as the frontend's keys describe it. */
struct vgd_fe_queue {
    uint64_t size, desc, driver, device, port;
};
/* Read and check every frontend key before touching anything: *nq
 * queues into fq[] (room for dev->max_queues), dev->negotiated set.
 * -1 after a log line naming the key and the value. */
int vgd_xb_read_frontend_keys(struct vgd_dev *dev, unsigned *nq,
                              struct vgd_fe_queue *fq);

static inline bool vgd_is_power_of_two(uint64_t v)
{
    return v && !(v & (v - 1));
}

/* ---- serve.c ---- */
/* Serve up to budget requests, stopping after the request that reaches
 * byte_budget bytes; returns true if the queue has work left. */
bool vgd_serve_queue(struct vgd_queue *q, unsigned budget,
                     uint64_t byte_budget);
/* A queue that stopped serving (its device is closing) with rounds still
 * open: true once none is, i.e. once the kernel is done with every buffer
 * of the queue and it can be unmapped.  Never blocks: the completions
 * come through the daemon's loop (aop_done) while it serves everyone
 * else; this only starts a FLUSH that was waiting for them. */
bool vgd_serve_settle(struct vgd_queue *q);
/* The blocking form, for the daemon's own shutdown only: wait for the
 * transfers of the queue's open rounds, then close them as usual (unmap,
 * push).  Other queues' completions run meanwhile. */
void vgd_serve_drain(struct vgd_queue *q);

#endif /* VGRANT_BACKEND_DEVICE_H */
