/* SPDX-License-Identifier: MIT */
/*
 * vgrantd's control socket (control.h).
 *
 * The listening socket, the clients and a timer live in a private epoll
 * set; only that epoll fd is in the daemon's loop (vgd_add_fd), so any
 * number of client fds costs one extra-fd slot and no API to remove fds.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vgrant/clock.h"
#include "control.h"
#include "vgrant/log.h"
#include "vgrant/xsutil.h"

#define TAG_LISTEN    0xffffffffu
#define TAG_TIMER     0xfffffffeu
#define TICK_MS       250
#define EVENTS_PER_CB 16

struct ctl_client {
    int fd;                    /* -1: free slot */
    char in[VGD_CONTROL_MAX_REQUEST];
    size_t in_len;
    char *out;                 /* reply being sent, NULL while reading */
    size_t out_len, out_off;
    uint64_t deadline_ms;
};

struct vgd_control {
    struct vgd *d;
    int listen_fd, ep, timer_fd;
    bool timer_armed;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    struct ctl_client cl[VGD_CONTROL_MAX_CLIENTS];
};

/* ------------------------------------------------------------------ */
/* the reply                                                           */

/* Every counter of struct vgd_dev_stats, in the order clients show them.
 * A counter added to the struct needs one line here. */
static const struct {
    const char *name;
    size_t off;
    bool net;                  /* net devices only (vgd_dev_stats.net) */
} counters[] = {
#define C(f) { #f, offsetof(struct vgd_dev_stats, f), false }
#define N(f) { #f, offsetof(struct vgd_dev_stats, f), true }
    C(requests), C(bytes_read), C(bytes_written), C(errors),
    C(maps), C(unmaps), C(map_batches), C(unmap_batches),
    C(grant_copies), C(notifies_sent), C(kicks_received),
    C(live_mappings), C(in_flight), C(max_in_flight), C(rounds),
    C(max_round), C(async_rounds), C(throttled),
    C(rounds_1), C(rounds_2_3), C(rounds_4_7), C(rounds_8_15),
    C(rounds_16_up), C(gathers), C(gathers_short),
    /* transport modes */
    C(copy_batches), C(bounce_bytes), C(cache_hits), C(cache_misses),
    C(cache_evictions), C(cache_size), C(region_bytes), C(auto_copied),
    C(auto_mapped), C(bounce_pages),
    /* the guest's word (frontend key "stats") */
    C(guest_reported), C(guest_requests), C(guest_failed),
    C(guest_throttle_waits), C(guest_region_high_water),
    C(guest_bounce_bytes), C(guest_zero_copy_bytes),
    /* type=net only */
    N(net_rx_packets), N(net_rx_bytes), N(net_tx_packets), N(net_tx_bytes),
    N(net_rx_no_buffer), N(net_rx_small_buffer), N(net_rx_bad_length),
    N(net_rx_bad_chain), N(net_tx_bad_length), N(net_tx_bad_header),
    N(net_tx_busy), N(net_errors),
#undef N
#undef C
};

struct reply {
    char *buf;
    size_t size, len;
    bool overflow;
};

static void __attribute__((format(printf, 2, 3)))
put(struct reply *r, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (r->overflow)
        return;
    va_start(ap, fmt);
    n = vsnprintf(r->buf + r->len, r->size - r->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= r->size - r->len) {
        r->overflow = true;
        return;
    }
    r->len += (size_t)n;
}

static size_t error_reply(char *out, size_t size, const char *why)
{
    int n = snprintf(out, size, "error %s\n", why);

    return n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}

struct stats_query {
    long domid;                /* -1: all */
    long devid;                /* -1: all */
    bool json;
    unsigned count;
    struct reply *r;
};

static bool wanted(const struct stats_query *q, const struct vgd_dev_stats *s)
{
    return (q->domid < 0 || q->domid == s->frontend_domid) &&
           (q->devid < 0 || q->devid == (long)s->devid);
}

static int count_cb(const struct vgd_dev_stats *s, void *arg)
{
    struct stats_query *q = arg;

    if (wanted(q, s))
        q->count++;
    return 0;
}

static uint64_t counter_value(const struct vgd_dev_stats *s, size_t i)
{
    uint64_t v;

    memcpy(&v, (const char *)s + counters[i].off, sizeof(v));
    return v;
}

/* A name safe inside a key=value line and a JSON string. */
static const char *token_or_dash(const char *s)
{
    if (!s || !*s || strlen(s) > 32)
        return "-";
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
            return "-";
    return s;
}

static int emit_cb(const struct vgd_dev_stats *s, void *arg)
{
    struct stats_query *q = arg;
    const char *state = vg_xenbus_state_name(s->state);
    const char *mode = token_or_dash(s->mode);

    if (!wanted(q, s))
        return 0;
    if (q->json) {
        put(q->r, "%s{\"domid\":%u,\"devid\":%u,\"state\":\"%s\","
            "\"mode\":\"%s\",\"queues\":%u", q->count++ ? "," : "",
            s->frontend_domid, s->devid, state, mode, s->queues);
        for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
            if (!counters[i].net || s->net)
                put(q->r, ",\"%s\":%" PRIu64, counters[i].name,
                    counter_value(s, i));
        put(q->r, "}");
    } else {
        put(q->r, "device domid=%u devid=%u state=%s mode=%s queues=%u",
            s->frontend_domid, s->devid, state, mode, s->queues);
        for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
            if (!counters[i].net || s->net)
                put(q->r, " %s=%" PRIu64, counters[i].name,
                    counter_value(s, i));
        put(q->r, "\n");
    }
    return q->r->overflow ? 1 : 0;
}

/* Split line into at most max tokens separated by single spaces. */
static int tokenize(char *line, char **tok, unsigned max, unsigned *n)
{
    char *p = line;

    *n = 0;
    if (!*line)
        return -1;
    for (;;) {
        char *sp = strchr(p, ' ');

        if (*n == max || sp == p || !*p)
            return -1;         /* too many, double space, or trailing space */
        tok[(*n)++] = p;
        if (!sp)
            return 0;
        *sp = '\0';
        p = sp + 1;
    }
}

/* Decimal, no sign, no leading zero: one spelling per number. */
static int parse_number(const char *s, uint64_t max, uint64_t *out)
{
    if (s[0] == '0' && s[1])
        return -1;
    return vg_parse_uint(s, max, out);
}

size_t vgd_control_answer(struct vgd *d, const char *line, size_t len,
                          char *out, size_t size)
{
    char copy[VGD_CONTROL_MAX_REQUEST];
    struct reply r = { .buf = out, .size = size };
    struct stats_query q = { .domid = -1, .devid = -1, .r = &r };
    char *tok[5];
    unsigned ntok, nnum;
    uint64_t v;

    if (len >= sizeof(copy))
        return error_reply(out, size, "request too long");
    for (size_t i = 0; i < len; i++)
        if (line[i] < 0x20 || line[i] > 0x7e)
            return error_reply(out, size, "request contains a control or "
                               "non-ASCII byte");
    memcpy(copy, line, len);
    copy[len] = '\0';
    if (tokenize(copy, tok, 5, &ntok))
        return error_reply(out, size, "malformed request (expected: stats "
                           "[<domid> [<devid>]] [json])");
    if (strcmp(tok[0], "stats"))
        return error_reply(out, size, "unknown command (known: stats)");
    if (ntok > 1 && !strcmp(tok[ntok - 1], "json")) {
        q.json = true;
        ntok--;
    }
    nnum = ntok - 1;
    if (nnum > 2)
        return error_reply(out, size, "too many arguments (expected: stats "
                           "[<domid> [<devid>]] [json])");
    if (nnum >= 1) {
        if (parse_number(tok[1], VG_MAX_DOMID, &v))
            return error_reply(out, size, "bad domid (a number in [0, 32751])");
        q.domid = (long)v;
    }
    if (nnum == 2) {
        if (parse_number(tok[2], VG_MAX_DEVID, &v))
            return error_reply(out, size, "bad devid (a number in [0, 65535])");
        q.devid = (long)v;
    }

    vgd_foreach_dev(d, count_cb, &q);
    if (q.json)
        put(&r, "{\"devices\":[");
    else
        put(&r, "ok %u\n", q.count);
    q.count = 0;
    vgd_foreach_dev(d, emit_cb, &q);
    put(&r, q.json ? "]}\n" : "end\n");
    if (r.overflow)
        return error_reply(out, size, "reply too large: ask for one domain");
    return r.len;
}

/* ------------------------------------------------------------------ */
/* clients                                                             */

static void client_drop(struct vgd_control *c, struct ctl_client *cl)
{
    epoll_ctl(c->ep, EPOLL_CTL_DEL, cl->fd, NULL);
    close(cl->fd);
    free(cl->out);
    memset(cl, 0, sizeof(*cl));
    cl->fd = -1;
}

static void arm_timer(struct vgd_control *c, bool on)
{
    struct itimerspec its = { 0 };

    if (on == c->timer_armed)
        return;
    if (on) {
        its.it_interval.tv_nsec = TICK_MS * 1000000L;
        its.it_value = its.it_interval;
    }
    if (timerfd_settime(c->timer_fd, 0, &its, NULL) == 0)
        c->timer_armed = on;
}

/* Send what the socket takes now; drop the client when all is sent or
 * the peer is gone. */
static void client_flush(struct vgd_control *c, struct ctl_client *cl)
{
    while (cl->out_off < cl->out_len) {
        ssize_t n = send(cl->fd, cl->out + cl->out_off,
                         cl->out_len - cl->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct epoll_event ev = { .events = EPOLLOUT,
                                      .data.u32 = (uint32_t)(cl - c->cl) };
            if (epoll_ctl(c->ep, EPOLL_CTL_MOD, cl->fd, &ev))
                break;
            return;            /* the rest when the client reads */
        }
        if (n <= 0)
            break;
        cl->out_off += (size_t)n;
    }
    client_drop(c, cl);
}

static void client_reply(struct vgd_control *c, struct ctl_client *cl,
                         const char *line, size_t len, const char *error)
{
    size_t size = error ? 256 : VGD_CONTROL_MAX_RESPONSE;

    cl->out = malloc(size);
    if (!cl->out) {
        client_drop(c, cl);
        return;
    }
    cl->out_len = error ? error_reply(cl->out, size, error)
                        : vgd_control_answer(c->d, line, len, cl->out, size);
    cl->out_off = 0;
    client_flush(c, cl);
}

static void client_read(struct vgd_control *c, struct ctl_client *cl)
{
    for (;;) {
        size_t room = sizeof(cl->in) - cl->in_len;
        ssize_t n;
        char *nl;

        if (room == 0) {
            vg_warn("control socket: request longer than %u bytes, refused",
                    VGD_CONTROL_MAX_REQUEST - 1);
            client_reply(c, cl, NULL, 0, "request too long");
            return;
        }
        n = recv(cl->fd, cl->in + cl->in_len, room, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n < 0) {
            client_drop(c, cl);
            return;
        }
        if (n == 0) {
            if (cl->in_len == 0)
                client_drop(c, cl);
            else
                client_reply(c, cl, NULL, 0, "request not terminated by a "
                             "newline");
            return;
        }
        nl = memchr(cl->in + cl->in_len, '\n', (size_t)n);
        cl->in_len += (size_t)n;
        if (nl) {
            if ((size_t)(nl - cl->in) + 1 != cl->in_len) {
                client_reply(c, cl, NULL, 0, "data after the request line");
                return;
            }
            client_reply(c, cl, cl->in, (size_t)(nl - cl->in), NULL);
            return;
        }
    }
}

static bool peer_allowed(int fd)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);

    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
        return false;
    return cred.uid == 0 || cred.uid == geteuid();
}

static void accept_clients(struct vgd_control *c)
{
    for (unsigned tries = 0; tries < VGD_CONTROL_MAX_CLIENTS * 2; tries++) {
        int fd = accept4(c->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        struct ctl_client *cl = NULL;
        struct epoll_event ev = { .events = EPOLLIN };
        const char *refuse = NULL;

        if (fd < 0)
            return;
        for (unsigned i = 0; i < VGD_CONTROL_MAX_CLIENTS; i++)
            if (c->cl[i].fd < 0) {
                cl = &c->cl[i];
                break;
            }
        if (!peer_allowed(fd))
            refuse = "error permission denied\n";
        else if (!cl)
            refuse = "error busy: too many control clients\n";
        if (refuse) {
            /* our own reply, without its "error " and its newline */
            vg_warn("control socket: client refused: %.*s",
                    (int)strlen(refuse + 6) - 1, refuse + 6);
            if (send(fd, refuse, strlen(refuse), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
                vg_debug("control socket: %s", strerror(errno));
            close(fd);
            continue;
        }
        cl->fd = fd;
        cl->in_len = 0;
        cl->deadline_ms = vg_now_ms() + VGD_CONTROL_CLIENT_TIMEOUT_MS;
        ev.data.u32 = (uint32_t)(cl - c->cl);
        if (epoll_ctl(c->ep, EPOLL_CTL_ADD, fd, &ev)) {
            close(fd);
            cl->fd = -1;
        }
    }
}

static void expire_clients(struct vgd_control *c)
{
    uint64_t ticks, now = vg_now_ms();

    if (read(c->timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
        vg_debug("control timer: %s", strerror(errno));
    for (unsigned i = 0; i < VGD_CONTROL_MAX_CLIENTS; i++)
        if (c->cl[i].fd >= 0 && now >= c->cl[i].deadline_ms) {
            vg_warn("control socket: client too slow (%s after %u ms), "
                    "dropped", c->cl[i].out ? "reply unread" : "no request",
                    VGD_CONTROL_CLIENT_TIMEOUT_MS);
            client_drop(c, &c->cl[i]);
        }
}

static void on_control_ready(struct vgd *d, int fd, void *arg)
{
    struct vgd_control *c = arg;
    struct epoll_event ev[EVENTS_PER_CB];
    int n = epoll_wait(fd, ev, EVENTS_PER_CB, 0);

    (void)d;
    for (int i = 0; i < n; i++) {
        uint32_t tag = ev[i].data.u32;
        struct ctl_client *cl;

        if (tag == TAG_LISTEN) {
            accept_clients(c);
        } else if (tag == TAG_TIMER) {
            expire_clients(c);
        } else if (tag < VGD_CONTROL_MAX_CLIENTS && c->cl[tag].fd >= 0) {
            cl = &c->cl[tag];
            if (cl->out)
                client_flush(c, cl);
            else
                client_read(c, cl);
        }
    }
    arm_timer(c, vgd_control_clients(c) > 0);
}

/* ------------------------------------------------------------------ */
/* the socket                                                          */

unsigned vgd_control_clients(const struct vgd_control *c)
{
    unsigned n = 0;

    for (unsigned i = 0; i < VGD_CONTROL_MAX_CLIENTS; i++)
        n += c->cl[i].fd >= 0;
    return n;
}

static int make_parent_dir(const char *path)
{
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char *slash;

    snprintf(dir, sizeof(dir), "%s", path);
    slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = '\0';
    if (mkdir(dir, 0700) && errno != EEXIST) {
        vg_err("control socket: cannot create directory %s: %s", VG_ESC(dir),
               strerror(errno));
        return -1;
    }
    return 0;
}

/* A socket file left by a daemon that died is removed; one that still
 * answers belongs to a running vgrantd. */
static int clear_stale(const struct sockaddr_un *sa)
{
    struct stat st;
    int fd, rc;

    if (lstat(sa->sun_path, &st))
        return 0;
    if (!S_ISSOCK(st.st_mode)) {
        vg_err("control socket: %s exists and is not a socket",
               VG_ESC(sa->sun_path));
        errno = EEXIST;
        return -1;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
    close(fd);
    if (rc == 0) {
        vg_err("control socket: %s is in use (another vgrantd running?)",
               VG_ESC(sa->sun_path));
        errno = EADDRINUSE;
        return -1;
    }
    return unlink(sa->sun_path);
}

static int ep_add(int ep, int fd, uint32_t tag)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };

    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

struct vgd_control *vgd_control_open(struct vgd *d, const char *path)
{
    struct vgd_control *c = calloc(1, sizeof(*c));
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    mode_t old_umask;
    int rc, saved;

    if (!c)
        return NULL;
    c->d = d;
    c->listen_fd = c->ep = c->timer_fd = -1;
    for (unsigned i = 0; i < VGD_CONTROL_MAX_CLIENTS; i++)
        c->cl[i].fd = -1;
    if (!path || !*path || strlen(path) >= sizeof(sa.sun_path)) {
        vg_err("control socket: path '%s' is empty or longer than %zu bytes",
               path ? VG_ESC(path) : "", sizeof(sa.sun_path) - 1);
        errno = ENAMETOOLONG;
        goto fail;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    if (make_parent_dir(path) || clear_stale(&sa))
        goto fail;

    c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->listen_fd < 0)
        goto fail_errno;
    old_umask = umask(0177);   /* the socket is born 0600 */
    rc = bind(c->listen_fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old_umask);
    if (rc)
        goto fail_errno;
    snprintf(c->path, sizeof(c->path), "%s", path);
    if (chmod(path, 0600) || listen(c->listen_fd, 16))
        goto fail_errno;

    c->ep = epoll_create1(EPOLL_CLOEXEC);
    c->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (c->ep < 0 || c->timer_fd < 0 || ep_add(c->ep, c->listen_fd, TAG_LISTEN) ||
        ep_add(c->ep, c->timer_fd, TAG_TIMER) ||
        vgd_add_fd(d, c->ep, on_control_ready, c))
        goto fail_errno;
    vg_info("control socket %s", VG_ESC(path));
    return c;

fail_errno:
    vg_err("control socket %s: %s", path, strerror(errno));
fail:
    saved = errno;
    vgd_control_close(c);
    errno = saved;
    return NULL;
}

void vgd_control_close(struct vgd_control *c)
{
    if (!c)
        return;
    for (unsigned i = 0; i < VGD_CONTROL_MAX_CLIENTS; i++)
        if (c->cl[i].fd >= 0)
            client_drop(c, &c->cl[i]);
    if (c->listen_fd >= 0)
        close(c->listen_fd);
    if (c->path[0])
        unlink(c->path);
    if (c->timer_fd >= 0)
        close(c->timer_fd);
    if (c->ep >= 0)
        close(c->ep);
    free(c);
}
