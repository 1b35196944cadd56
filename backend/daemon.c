/* SPDX-License-Identifier: MIT */
/*
 * vgrantd core: the event loop (vgrantd.h).
 *
 * One epoll set holds the xenstore fd, the one event channel fd shared by
 * every port, a stop eventfd and the caller's extra fds.  A round:
 *   1. wait (timeout 0 while work is left over);
 *   2. handle at most watch_budget xenstore watch events;
 *   3. drain pending ports: each names a queue through the port table (an
 *      unknown port is ignored), the queue goes on the ready list;
 *   4. serve each ready queue at most `budget` requests and about
 *      `byte_budget` bytes, round-robin; a queue with work left stays on
 *      the list for the next round;
 *   5. finish closing devices whose transfers in flight at close have
 *      finished (a close never waits for them in the loop: the guest's
 *      slow file would hold up everyone), close devices that broke the
 *      protocol, free removed devices.
 * A guest that kicks in a tight loop only keeps its queue on the ready
 * list; it gets one budget per round like every other queue (XSA-391).
 * Watch events only mark devices dirty; each dirty device is re-evaluated
 * once per round, so rewriting xenstore in a loop buys no extra work.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "vgrant/clock.h"
#include "aio.h"
#include "device.h"
#include "vgrant/log.h"

#define PORT_BUCKETS          256u
#define DEFAULT_WATCH_BUDGET  256u
#define MAX_EXTRA_FDS         4u
#define MAX_PENDING_PER_ROUND 1024u

#define TOKEN_BACKEND "vgd-be"
#define TOKEN_RELEASE "vgd-rel"
#define TOKEN_FE_PREFIX "vgd-fe/"
#define RELEASE_PATH  "@releaseDomain"

/* epoll data.u64: the tag in the low 32 bits; for TAG_INPUT the slot in
 * d->inputs in the high 32 (TAG_EXTRA + i: the caller's extra fd i). */
enum { TAG_XS, TAG_EVTCHN, TAG_STOP, TAG_AIO, TAG_INPUT, TAG_EXTRA };

struct extra_fd {
    int fd;
    vgd_fd_cb cb;
    void *arg;
};

struct vgd {
    struct vg_hyp *h;
    uint16_t be_domid;
    unsigned budget;
    uint64_t byte_budget;
    bool byte_budget_given;    /* by the administrator, for every model */
    unsigned watch_budget;
    unsigned auto_threshold;       /* transport options, see vgd_options */
    unsigned coalesce_ms;          /* serve.c's wait for a round's worth */
    unsigned input_stall_ms;       /* serve.c's wait for rx buffers */
    unsigned persistent_pages;
    bool direct;               /* --direct */
    char base[VG_XS_PATH_MAX];

    int epfd;
    int stop_fd;
    volatile sig_atomic_t stop;
    bool watching_base, watching_release;
    bool watch_backlog;        /* watch budget ran out last round */
    bool port_backlog;         /* pending-port drain ran out last round */

    TAILQ_HEAD(dev_list, vgd_dev) devs;
    TAILQ_HEAD(ready_list, vgd_queue) ready;
    TAILQ_HEAD(defer_list, vgd_queue) deferred;   /* throttled queues */
    uint64_t (*clock_ms)(void);
    struct vgd_queue *ports[PORT_BUCKETS];
    vg_port_t pending[MAX_PENDING_PER_ROUND];
    struct extra_fd extra[MAX_EXTRA_FDS];
    unsigned nextra;
    /* input queues whose model fd we poll (vgd_input_add), NULL: free */
    struct vgd_queue **inputs;
    unsigned ninputs;

    struct vgd_aio *aio;       /* file transfers; NULL: synchronous */
    bool own_aio;              /* ours to free (not a test's) */

    struct vgd_totals closed;  /* totals of devices already freed */
    uint64_t last_late_check_ms;
    unsigned frontend_late_ms;
    uint64_t rounds;
};

/* ------------------------------------------------------------------ */
/* services for the other backend files                                */

struct vg_hyp *vgd_hyp(struct vgd *d)
{
    return d->h;
}

uint16_t vgd_backend_domid(const struct vgd *d)
{
    return d->be_domid;
}

int vgd_port_add(struct vgd *d, struct vgd_queue *q)
{
    struct vgd_queue **b = &d->ports[q->port % PORT_BUCKETS];

    for (struct vgd_queue *o = *b; o; o = o->port_next)
        if (o->port == q->port) {
            errno = EEXIST;
            return -1;
        }
    q->port_next = *b;
    *b = q;
    return 0;
}

void vgd_port_del(struct vgd *d, struct vgd_queue *q)
{
    for (struct vgd_queue **p = &d->ports[q->port % PORT_BUCKETS]; *p;
         p = &(*p)->port_next)
        if (*p == q) {
            *p = q->port_next;
            q->port_next = NULL;
            return;
        }
}

static struct vgd_queue *port_lookup(struct vgd *d, vg_port_t port)
{
    for (struct vgd_queue *q = d->ports[port % PORT_BUCKETS]; q; q = q->port_next)
        if (q->port == port && q->port_bound)
            return q;
    return NULL;
}

void vgd_queue_set_ready(struct vgd *d, struct vgd_queue *q)
{
    if (q->ready || !q->connected)
        return;
    TAILQ_INSERT_TAIL(&d->ready, q, ready_link);
    q->ready = true;
}

void vgd_queue_clear_ready(struct vgd *d, struct vgd_queue *q)
{
    if (q->deferred) {
        TAILQ_REMOVE(&d->deferred, q, defer_link);
        q->deferred = false;
    }
    if (!q->ready)
        return;
    TAILQ_REMOVE(&d->ready, q, ready_link);
    q->ready = false;
}

void vgd_queue_defer(struct vgd *d, struct vgd_queue *q, uint64_t wake_ms)
{
    vgd_queue_clear_ready(d, q);
    if (!q->connected)
        return;
    q->wake_ms = wake_ms;
    q->deferred = true;
    TAILQ_INSERT_TAIL(&d->deferred, q, defer_link);
}

uint64_t vgd_clock_ms(const struct vgd *d)
{
    return d->clock_ms();
}

int vgd_input_add(struct vgd *d, struct vgd_queue *q, int fd)
{
    struct epoll_event ev = { .events = EPOLLIN };
    unsigned i = 0;

    while (i < d->ninputs && d->inputs[i])
        i++;
    if (i == d->ninputs) {
        unsigned n = d->ninputs ? 2 * d->ninputs : 8;
        struct vgd_queue **grown = realloc(d->inputs, n * sizeof(*grown));

        if (!grown)
            return -1;
        memset(grown + d->ninputs, 0, (n - d->ninputs) * sizeof(*grown));
        d->inputs = grown;
        d->ninputs = n;
    }
    ev.data.u64 = (uint64_t)i << 32 | TAG_INPUT;
    if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev))
        return -1;
    d->inputs[i] = q;
    q->input_slot = (int)i;
    q->input_fd = fd;
    q->input_paused = false;
    q->starved = false;
    return 0;
}

void vgd_input_pause(struct vgd *d, struct vgd_queue *q, bool pause)
{
    struct epoll_event ev = { .events = pause ? 0 : EPOLLIN };

    if (q->input_slot < 0 || q->input_paused == pause)
        return;
    ev.data.u64 = (uint64_t)q->input_slot << 32 | TAG_INPUT;
    if (epoll_ctl(d->epfd, EPOLL_CTL_MOD, q->input_fd, &ev)) {
        vg_dev_log(VG_LOG_WARN, q->dev->fe_domid, q->dev->devid, "queue %u: "
                   "cannot %s polling fd %d: %s", q->index,
                   pause ? "pause" : "resume", q->input_fd, strerror(errno));
        return;
    }
    q->input_paused = pause;
}

void vgd_input_del(struct vgd *d, struct vgd_queue *q)
{
    unsigned i = (unsigned)q->input_slot;

    if (q->input_slot < 0 || i >= d->ninputs || d->inputs[i] != q)
        return;
    /* the fd is still open: the model closes it after this */
    if (epoll_ctl(d->epfd, EPOLL_CTL_DEL, q->input_fd, NULL))
        vg_dev_log(VG_LOG_WARN, q->dev->fe_domid, q->dev->devid, "queue %u: "
                   "cannot stop polling fd %d: %s", q->index, q->input_fd,
                   strerror(errno));
    d->inputs[i] = NULL;
    q->input_slot = -1;
    q->input_fd = -1;
    q->input_paused = false;
    q->starved = false;
}

struct vgd_aio *vgd_aio(struct vgd *d)
{
    return d->aio;
}

/* Milliseconds until the first deferred queue wakes (-1: none). */
static int deferred_timeout(struct vgd *d)
{
    uint64_t now = d->clock_ms(), first = UINT64_MAX;
    struct vgd_queue *q;

    TAILQ_FOREACH(q, &d->deferred, defer_link)
        if (q->wake_ms < first)
            first = q->wake_ms;
    if (first == UINT64_MAX)
        return -1;
    return first <= now ? 0 : first - now > 60000 ? 60000 : (int)(first - now);
}

static void wake_deferred(struct vgd *d)
{
    uint64_t now = d->clock_ms();
    struct vgd_queue *q, *next;

    for (q = TAILQ_FIRST(&d->deferred); q; q = next) {
        next = TAILQ_NEXT(q, defer_link);
        if (q->wake_ms <= now) {
            vgd_queue_clear_ready(d, q);
            vgd_queue_set_ready(d, q);
        }
    }
}

/* ------------------------------------------------------------------ */
/* devices                                                             */

static struct vgd_dev *find_dev(struct vgd *d, uint16_t fe_domid, unsigned devid)
{
    struct vgd_dev *dev;

    TAILQ_FOREACH(dev, &d->devs, link)
        if (dev->fe_domid == fe_domid && dev->devid == devid)
            return dev;
    return NULL;
}

/* The device named by a backend directory we saw, created on first sight
 * (only if its directory exists: events also report removals). */
static struct vgd_dev *get_dev(struct vgd *d, uint16_t fe_domid, unsigned devid)
{
    struct vgd_dev *dev = find_dev(d, fe_domid, devid);
    char path[VG_XS_PATH_MAX];
    unsigned n = 0;
    char **names;

    if (dev)
        return dev;
    if (vg_path(path, sizeof(path), "%s/%u/%u", d->base, fe_domid, devid))
        return NULL;
    names = d->h->ops->xs_directory(d->h, VG_XS_NO_TX, path, &n);
    if (!names)
        return NULL;
    free(names);
    dev = vgd_dev_new(d, fe_domid, devid);
    if (!dev)
        return NULL;
    TAILQ_INSERT_TAIL(&d->devs, dev, link);
    vg_dev_log(VG_LOG_DEBUG, fe_domid, devid, "new device %s", dev->be_path);
    return dev;
}

static void add_totals(struct vgd_totals *t, const struct vgd_dev *dev)
{
    t->requests += dev->requests;
    t->errors += dev->errors;
    t->bytes_read += dev->bytes_read;
    t->bytes_written += dev->bytes_written;
}

/* After serving: close devices that broke the protocol, free removed ones. */
/* A device whose frontend never answers InitWait is the most common
 * set-up mistake (no frontend in the guest, or missing guest drivers):
 * say so once per wait, naming what to check, instead of waiting
 * silently. */
static void warn_late_frontends(struct vgd *d)
{
    uint64_t now = vg_now_ms();
    struct vgd_dev *dev;

    if (now - d->last_late_check_ms < 1000)
        return;
    d->last_late_check_ms = now;
    TAILQ_FOREACH(dev, &d->devs, link) {
        if (dev->state != VG_XB_INITWAIT || !dev->initwait_since_ms ||
            dev->initwait_warned ||
            now - dev->initwait_since_ms < d->frontend_late_ms)
            continue;
        dev->initwait_warned = true;
        vg_dev_log(VG_LOG_WARN, dev->fe_domid, dev->devid,
                   "frontend has not connected after %u s (its state is %s): "
                   "is a virtio-grant frontend (libvgrant, vgrant-io) running "
                   "in domain %u, with xen-gntalloc and xen-evtchn loaded? "
                   "Device directory: %s",
                   (d->frontend_late_ms + 999) / 1000,
                   vg_xenbus_state_name(vg_xs_read_state(d->h, dev->fe_path)),
                   dev->fe_domid, dev->fe_path);
    }
}

static void reap_devices(struct vgd *d)
{
    struct vgd_dev *dev, *next;

    for (dev = TAILQ_FIRST(&d->devs); dev; dev = next) {
        next = TAILQ_NEXT(dev, link);
        if (vgd_dev_reap(dev))
            vgd_dev_changed(dev);
        if (dev->fatal)
            vgd_dev_fail(dev);
        if (vgd_dev_removed(dev)) {
            TAILQ_REMOVE(&d->devs, dev, link);
            add_totals(&d->closed, dev);
            d->closed.devices++;
            vgd_dev_free(dev);
        }
    }
}

/* Parse a decimal path component [s, end) strictly. */
static int parse_component(const char *s, size_t len, uint64_t max,
                           uint64_t *out)
{
    char buf[24];

    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return vg_parse_uint(buf, max, out);
}

/* Walk the backend directory: new devices, removed devices. */
static void rescan(struct vgd *d)
{
    struct vg_hyp *h = d->h;
    struct vgd_dev *dev;
    unsigned nf = 0;
    char **fes = h->ops->xs_directory(h, VG_XS_NO_TX, d->base, &nf);

    for (unsigned i = 0; fes && i < nf; i++) {
        char path[VG_XS_PATH_MAX];
        unsigned nd = 0;
        char **devids;
        uint64_t f;

        if (parse_component(fes[i], strlen(fes[i]), VG_MAX_DOMID, &f) ||
            vg_path(path, sizeof(path), "%s/%s", d->base, fes[i]))
            continue;
        devids = h->ops->xs_directory(h, VG_XS_NO_TX, path, &nd);
        for (unsigned j = 0; devids && j < nd; j++) {
            uint64_t id;

            if (parse_component(devids[j], strlen(devids[j]), VG_MAX_DEVID, &id))
                continue;
            get_dev(d, (uint16_t)f, (unsigned)id);
        }
        free(devids);
    }
    free(fes);
    TAILQ_FOREACH(dev, &d->devs, link)
        dev->dirty = true;
}

/* Re-evaluate each device a watch named, once, however many events named
 * it this round: a guest rewriting its own directory in a loop costs one
 * evaluation per round, not one per write. */
static void process_dirty(struct vgd *d)
{
    struct vgd_dev *dev;

    TAILQ_FOREACH(dev, &d->devs, link) {
        if (!dev->dirty)
            continue;
        dev->dirty = false;
        vgd_dev_changed(dev);
    }
}

/* ------------------------------------------------------------------ */
/* watch events                                                        */

static void backend_event(struct vgd *d, const char *path)
{
    size_t blen = strlen(d->base);
    const char *p = path + blen, *slash;
    uint64_t f, id;
    struct vgd_dev *dev;

    if (strncmp(path, d->base, blen) || (*p && *p != '/'))
        return;
    if (*p == '/')
        p++;
    slash = strchr(p, '/');
    if (!*p || !slash) {
        rescan(d);       /* the class or a whole frontend's dir changed */
        return;
    }
    if (parse_component(p, (size_t)(slash - p), VG_MAX_DOMID, &f))
        return;
    p = slash + 1;
    slash = strchr(p, '/');
    if (parse_component(p, slash ? (size_t)(slash - p) : strlen(p),
                        VG_MAX_DEVID, &id))
        return;
    dev = get_dev(d, (uint16_t)f, (unsigned)id);
    if (dev)
        dev->dirty = true;
}

static void frontend_event(struct vgd *d, const char *token)
{
    unsigned f, id;
    char tail;
    struct vgd_dev *dev;

    /* our own token, written by vgd_dev_new */
    if (sscanf(token + strlen(TOKEN_FE_PREFIX), "%u/%u%c", &f, &id, &tail) != 2 ||
        f > VG_MAX_DOMID)
        return;
    dev = find_dev(d, (uint16_t)f, id);
    if (dev)
        dev->dirty = true;
}

static void release_event(struct vgd *d)
{
    struct vgd_dev *dev;

    /* Someone died: each device checks its own frontend domain. */
    TAILQ_FOREACH(dev, &d->devs, link)
        dev->dirty = true;
}

static void handle_watches(struct vgd *d)
{
    char path[VG_XS_PATH_MAX + 64], token[64];

    for (unsigned i = 0; i < d->watch_budget; i++) {
        if (d->h->ops->xs_next_watch(d->h, path, sizeof(path), token,
                                     sizeof(token))) {
            if (errno != EAGAIN)
                vg_err("reading xenstore watch events: %s", strerror(errno));
            d->watch_backlog = false;
            return;
        }
        vg_debug("watch %s %s", token, VG_ESC(path));
        if (!strcmp(token, TOKEN_BACKEND))
            backend_event(d, path);
        else if (!strcmp(token, TOKEN_RELEASE))
            release_event(d);
        else if (!strncmp(token, TOKEN_FE_PREFIX, strlen(TOKEN_FE_PREFIX)))
            frontend_event(d, token);
    }
    d->watch_backlog = true;
}

/* ------------------------------------------------------------------ */
/* ports and serving                                                   */

static void handle_ports(struct vgd *d)
{
    struct vg_hyp *h = d->h;
    unsigned n = 0;

    /* A pending port stays masked until we unmask it, so each port shows
     * up at most once in this drain however often the guest notifies. */
    while (n < MAX_PENDING_PER_ROUND) {
        int port = h->ops->evtchn_pending(h);
        struct vgd_queue *q;

        if (port < 0)
            break;
        d->pending[n++] = (vg_port_t)port;
        q = port_lookup(d, (vg_port_t)port);
        if (!q) {
            vg_debug("event on unknown port %d ignored", port);
            continue;
        }
        q->dev->kicks_received++;
        vgd_queue_set_ready(d, q);
    }
    d->port_backlog = n == MAX_PENDING_PER_ROUND;
    for (unsigned i = 0; i < n; i++)
        h->ops->evtchn_unmask(h, d->pending[i]);
}

/* The default byte budget of 4 MiB with io_uring assumes the transfers
 * run in the kernel; a model that does its work in the loop (rng reads
 * /dev/urandom, net reads and writes its tap: no start()) gets the
 * synchronous default, unless the administrator gave --byte-budget. */
static uint64_t queue_byte_budget(const struct vgd *d,
                                  const struct vgd_queue *q)
{
    if (!d->byte_budget_given && !q->dev->model->start &&
        d->byte_budget > VGD_DEFAULT_BYTE_BUDGET)
        return VGD_DEFAULT_BYTE_BUDGET;
    return d->byte_budget;
}

static void serve_ready(struct vgd *d)
{
    struct vgd_queue *q;
    unsigned count = 0;

    TAILQ_FOREACH(q, &d->ready, ready_link)
        count++;
    /* Each queue that was ready at the start of the round gets one turn. */
    for (unsigned i = 0; i < count && (q = TAILQ_FIRST(&d->ready)); i++) {
        bool more;

        vgd_queue_clear_ready(d, q);
        if (!q->connected || q->dev->fatal)
            continue;
        more = vgd_serve_queue(q, d->budget, queue_byte_budget(d, q));
        if (more && !q->dev->fatal)
            vgd_queue_set_ready(d, q);
    }
}

/* ------------------------------------------------------------------ */
/* public API                                                          */

static int epoll_add(struct vgd *d, int fd, uint32_t tag)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

    return epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev);
}

unsigned vgd_coalesce_ms(const struct vgd *d)
{
    return d->coalesce_ms;
}

unsigned vgd_input_stall_ms(const struct vgd *d)
{
    return d->input_stall_ms;
}

unsigned vgd_auto_threshold(const struct vgd *d)
{
    return d->auto_threshold;
}

bool vgd_direct_io(const struct vgd *d)
{
    return d->direct;
}

unsigned vgd_persistent_pages(const struct vgd *d)
{
    return d->persistent_pages;
}

/* --byte-budget's default: see VGD_DEFAULT_BYTE_BUDGET. */
static uint64_t default_byte_budget(const struct vgd *d)
{
    return d->aio ? VGD_DEFAULT_BYTE_BUDGET_AIO : VGD_DEFAULT_BYTE_BUDGET;
}

/* --byte-budget: the administrator's, for every queue, or 0: the
 * defaults (default_byte_budget, queue_byte_budget). */
static void set_byte_budget(struct vgd *d, uint64_t bytes)
{
    d->byte_budget = bytes ? bytes : default_byte_budget(d);
    d->byte_budget_given = bytes != 0;
}

void vgd_set_tunables(struct vgd *d, unsigned budget_per_queue,
                      uint64_t byte_budget_per_queue, unsigned auto_threshold)
{
    d->budget = budget_per_queue ? budget_per_queue : VGD_DEFAULT_BUDGET;
    if (d->budget > VGD_MAX_BUDGET)
        d->budget = VGD_MAX_BUDGET;
    set_byte_budget(d, byte_budget_per_queue);
    d->auto_threshold = auto_threshold ? auto_threshold
                                       : VGD_DEFAULT_AUTO_THRESHOLD;
}

void vgd_get_tunables(const struct vgd *d, unsigned *budget_per_queue,
                      uint64_t *byte_budget_per_queue, unsigned *auto_threshold)
{
    *budget_per_queue = d->budget;
    *byte_budget_per_queue = d->byte_budget;
    *auto_threshold = d->auto_threshold;
}

struct vgd *vgd_new(struct vg_hyp *h, const struct vgd_options *o)
{
    struct vgd *d = calloc(1, sizeof(*d));

    if (!d)
        return NULL;
    d->h = h;
    d->epfd = -1;
    d->stop_fd = -1;
    TAILQ_INIT(&d->devs);
    TAILQ_INIT(&d->ready);
    TAILQ_INIT(&d->deferred);
    d->clock_ms = o && o->clock_ms ? o->clock_ms : vg_now_ms;
    d->be_domid = o && o->backend_domid_override_or_0 ?
                  o->backend_domid_override_or_0 : h->domid;
    d->budget = o && o->budget_per_queue ? o->budget_per_queue
                                         : VGD_DEFAULT_BUDGET;
    if (d->budget > VGD_MAX_BUDGET)
        d->budget = VGD_MAX_BUDGET;
    d->watch_budget = o && o->watch_budget ? o->watch_budget
                                           : DEFAULT_WATCH_BUDGET;
    d->frontend_late_ms = o && o->frontend_late_ms ? o->frontend_late_ms
                                                   : VGD_FRONTEND_LATE_MS;
    d->auto_threshold = o && o->auto_threshold ? o->auto_threshold
                                               : VGD_DEFAULT_AUTO_THRESHOLD;
    d->direct = o && o->direct;
    d->coalesce_ms = o && o->coalesce_ms <= VGD_MAX_COALESCE_MS ?
                     o->coalesce_ms : 0;
    d->input_stall_ms = o ? o->input_stall_ms : 0;
    d->persistent_pages = o && o->persistent_cache_pages ?
                          o->persistent_cache_pages :
                          VGD_DEFAULT_PERSISTENT_PAGES;
    if (d->persistent_pages > VGD_MAX_PERSISTENT_PAGES)
        d->persistent_pages = VGD_MAX_PERSISTENT_PAGES;
    if (vg_path(d->base, sizeof(d->base), "/local/domain/%u/backend/" VG_XS_CLASS,
                d->be_domid))
        goto fail;

    d->epfd = epoll_create1(EPOLL_CLOEXEC);
    d->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (d->epfd < 0 || d->stop_fd < 0) {
        vg_err("cannot create the event loop: %s", strerror(errno));
        goto fail;
    }
    if (epoll_add(d, h->ops->xs_fd(h), TAG_XS) ||
        epoll_add(d, h->ops->evtchn_fd(h), TAG_EVTCHN) ||
        epoll_add(d, d->stop_fd, TAG_STOP)) {
        vg_err("cannot watch the xenstore/event channel fds: %s",
               strerror(errno));
        goto fail;
    }
    if (o && o->aio) {
        d->aio = o->aio;
    } else if (!o || o->io_mode == VGD_IO_URING) {
        d->aio = vgd_aio_uring_new(VGD_AIO_ENTRIES);
        if (!d->aio)
            vg_warn("io_uring is not available (%s): transfers run one at a "
                    "time in the event loop", strerror(errno));
        d->own_aio = d->aio != NULL;
    }
    if (d->aio && d->aio->ops->fd(d->aio) >= 0 &&
        epoll_add(d, d->aio->ops->fd(d->aio), TAG_AIO)) {
        vg_err("cannot watch the %s fd: %s", d->aio->ops->name,
               strerror(errno));
        goto fail;
    }
    /* (after the executor: the default depends on it) */
    set_byte_budget(d, o ? o->byte_budget_per_queue : 0);
    return d;
fail:
    if (d->own_aio)
        d->aio->ops->free(d->aio);
    if (d->epfd >= 0)
        close(d->epfd);
    if (d->stop_fd >= 0)
        close(d->stop_fd);
    free(d);
    return NULL;
}

int vgd_start(struct vgd *d)
{
    struct vg_hyp *h = d->h;

    if (h->ops->xs_watch(h, d->base, TOKEN_BACKEND)) {
        vg_err("cannot watch %s: %s", d->base, strerror(errno));
        return -1;
    }
    d->watching_base = true;
    if (h->ops->xs_watch(h, RELEASE_PATH, TOKEN_RELEASE)) {
        vg_err("cannot watch " RELEASE_PATH ": %s", strerror(errno));
        return -1;
    }
    d->watching_release = true;
    vg_info("serving %s", d->base);
    rescan(d);
    process_dirty(d);
    reap_devices(d);
    return 0;
}

int vgd_add_fd(struct vgd *d, int fd, vgd_fd_cb cb, void *arg)
{
    if (d->nextra == MAX_EXTRA_FDS || !cb) {
        errno = ENOSPC;
        return -1;
    }
    if (epoll_add(d, fd, TAG_EXTRA + d->nextra))
        return -1;
    d->extra[d->nextra++] = (struct extra_fd){ .fd = fd, .cb = cb, .arg = arg };
    return 0;
}

int vgd_run_once(struct vgd *d, int timeout_ms)
{
    struct epoll_event ev[8];
    int n;

    if (d->stop)
        return 0;
    if (!TAILQ_EMPTY(&d->ready) || d->watch_backlog || d->port_backlog)
        timeout_ms = 0;
    if (!TAILQ_EMPTY(&d->deferred)) {
        int t = deferred_timeout(d);
        if (t >= 0 && (timeout_ms < 0 || t < timeout_ms))
            timeout_ms = t;
    }
    n = epoll_wait(d->epfd, ev, 8, timeout_ms);
    if (n < 0) {
        if (errno == EINTR)
            return 0;
        vg_err("epoll_wait: %s", strerror(errno));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        uint32_t tag = (uint32_t)ev[i].data.u64;

        if (tag == TAG_INPUT) {
            unsigned slot = (unsigned)(ev[i].data.u64 >> 32);

            /* a slot freed earlier in this batch is NULL (or reused: a
             * spurious ready costs one look) */
            if (slot < d->ninputs && d->inputs[slot])
                vgd_queue_set_ready(d, d->inputs[slot]);
        } else if (tag == TAG_STOP) {
            uint64_t v;
            if (read(d->stop_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
                vg_debug("stop eventfd: %s", strerror(errno));
        } else if (tag >= TAG_EXTRA && tag - TAG_EXTRA < d->nextra) {
            struct extra_fd *x = &d->extra[tag - TAG_EXTRA];
            x->cb(d, x->fd, x->arg);
        }
    }
    if (d->stop)
        return 0;
    /* Poll every source each round: cheap, and independent of how an fd
     * reports readiness.  Completions first: they reopen their queues. */
    if (d->aio)
        d->aio->ops->reap(d->aio);
    handle_watches(d);
    process_dirty(d);
    handle_ports(d);
    wake_deferred(d);
    serve_ready(d);
    reap_devices(d);
    warn_late_frontends(d);
    d->rounds++;
    return 0;
}

unsigned vgd_transfers_in_flight(const struct vgd *d)
{
    return d->aio ? d->aio->in_flight : 0;
}

void vgd_request_stop(struct vgd *d)
{
    uint64_t one = 1;
    ssize_t r;

    d->stop = 1;
    r = write(d->stop_fd, &one, sizeof(one));   /* async-signal-safe */
    (void)r;
}

bool vgd_stop_requested(const struct vgd *d)
{
    return d->stop != 0;
}

int vgd_foreach_dev(struct vgd *d, vgd_dev_cb cb, void *arg)
{
    struct vgd_dev *dev;
    struct vgd_dev_stats s;
    int rc;

    TAILQ_FOREACH(dev, &d->devs, link) {
        vgd_dev_get_stats(dev, &s);
        rc = cb(&s, arg);
        if (rc)
            return rc;
    }
    return 0;
}

void vgd_get_totals(const struct vgd *d, struct vgd_totals *t)
{
    const struct vgd_dev *dev;

    *t = d->closed;
    TAILQ_FOREACH(dev, &d->devs, link) {
        add_totals(t, dev);
        t->devices++;
    }
    t->rounds = d->rounds;
}

void vgd_free(struct vgd *d)
{
    struct vgd_dev *dev;

    if (!d)
        return;
    while ((dev = TAILQ_FIRST(&d->devs))) {
        TAILQ_REMOVE(&d->devs, dev, link);
        vgd_dev_shutdown(dev);
    }
    if (d->watching_base)
        d->h->ops->xs_unwatch(d->h, d->base, TOKEN_BACKEND);
    if (d->watching_release)
        d->h->ops->xs_unwatch(d->h, RELEASE_PATH, TOKEN_RELEASE);
    /* every queue drained its round when it was torn down */
    if (d->own_aio)
        d->aio->ops->free(d->aio);
    close(d->epfd);
    close(d->stop_fd);
    free(d->inputs);
    free(d);
}
