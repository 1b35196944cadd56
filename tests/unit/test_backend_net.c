/* SPDX-License-Identifier: MIT */
/*
 * The virtio-net device (backend/net.c) end to end in the fake world: the
 * toolstack's code (or rawfront) attaches it, the real vgrantd core serves
 * it, and a hand-played guest puts exactly the rx and tx chains it wants
 * into its two queues.  The tap is replaced by a SOCK_SEQPACKET socketpair
 * (vgd_net_set_port): the test holds the other end and reads what the
 * guest sent, or writes what the guest should receive.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "control.h"
#include "devmodel.h"
#include "net.h"
#include "rawfront.h"
#include "vgdrive.h"
#include "vgrant/devtype.h"
#include "vgrant/log.h"
#include "vgrant/stats_prom.h"
#include "vgrant/toolstack.h"
#include "vgrantd.h"

#define HDR 12u
#define MAX_PORTS 8

/* ------------------------------------------------------------------ */
/* the port: a socketpair per device                                   */

struct port {
    bool open, closed;
    uint16_t domid;
    unsigned devid;
    int peer;                  /* the test's end */
    char ifname[16], bridge[16];
    unsigned mtu;
};

static struct port ports[MAX_PORTS];
static unsigned nports;
static bool small_sndbuf;      /* the next port's model end: tiny buffer */

static int sp_open(const struct vgd_net_port_params *p, char *err,
                   size_t errlen)
{
    int sv[2];
    struct port *pt;

    if (nports == MAX_PORTS ||
        socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   sv)) {
        snprintf(err, errlen, "test port: no socketpair");
        return -1;
    }
    if (small_sndbuf) {
        int sz = 1;     /* the kernel's minimum */

        assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz,
                                    sizeof(sz)), 0);
    }
    pt = &ports[nports++];
    *pt = (struct port){ .open = true, .domid = p->domid, .devid = p->devid,
                         .peer = sv[1], .mtu = p->mtu };
    snprintf(pt->ifname, sizeof(pt->ifname), "%s", p->ifname);
    snprintf(pt->bridge, sizeof(pt->bridge), "%s", p->bridge);
    return sv[0];
}

static void sp_close(int fd, const struct vgd_net_port_params *p)
{
    for (unsigned i = 0; i < nports; i++)
        if (ports[i].open && !ports[i].closed && ports[i].domid == p->domid &&
            ports[i].devid == p->devid)
            ports[i].closed = true;
    close(fd);
}

static const struct vgd_net_port_ops sp_ops = {
    .open = sp_open,
    .close = sp_close,
};

static struct port *port_of(uint16_t domid, unsigned devid)
{
    for (unsigned i = nports; i-- > 0;)
        if (ports[i].domid == domid && ports[i].devid == devid)
            return &ports[i];
    fail_msg("no port opened for dom %u dev %u", domid, devid);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* fixture                                                             */

struct tw {
    struct vg_fake_world *w;
    struct vg_hyp *be, *ts;
    struct vgd *d;
};

static char logbuf[32768];
static size_t loglen;

static void log_sink(enum vg_log_level level, const char *msg, void *arg)
{
    int n;

    (void)level;
    (void)arg;
    n = snprintf(logbuf + loglen, sizeof(logbuf) - loglen, "%s\n", msg);
    if (n > 0 && (size_t)n < sizeof(logbuf) - loglen)
        loglen += (size_t)n;
}

static void log_clear(void)
{
    loglen = 0;
    logbuf[0] = '\0';
}

static void assert_log_has(const char *needle)
{
    if (!strstr(logbuf, needle))
        fail_msg("log lacks \"%s\"; log:\n%s", needle, logbuf);
}

static void print_log(void)
{
    fprintf(stderr, "log:\n%s", logbuf);
}

static struct tw *tw_new(void)
{
    struct tw *t = calloc(1, sizeof(*t));

    assert_non_null(t);
    vg_log_init("test_backend_net", VG_LOG_INFO);
    vg_log_set_sink(log_sink, NULL);
    vd_on_fail = print_log;
    log_clear();
    for (unsigned i = 0; i < nports; i++)
        if (ports[i].peer >= 0)
            close(ports[i].peer);
    nports = 0;
    small_sndbuf = false;
    vgd_net_set_port(&sp_ops);
    t->w = vg_fake_world_new();
    assert_non_null(t->w);
    assert_int_equal(vg_fake_domain_create(t->w, 0), 0);
    t->be = vg_fake_open(t->w, 0);
    t->ts = vg_fake_open(t->w, 0);
    assert_non_null(t->be);
    assert_non_null(t->ts);
    t->d = vgd_new(t->be, NULL);
    assert_non_null(t->d);
    assert_int_equal(vgd_start(t->d), 0);
    return t;
}

static void tw_free(struct tw *t)
{
    vgd_free(t->d);
    vg_hyp_close(t->be);
    vg_hyp_close(t->ts);
    vg_fake_world_free(t->w);
    vg_log_set_sink(NULL, NULL);
    vd_on_fail = NULL;
    for (unsigned i = 0; i < nports; i++) {
        close(ports[i].peer);
        ports[i].peer = -1;
    }
    nports = 0;
    vgd_net_set_port(NULL);
    free(t);
}

static void ensure_domain(struct tw *t, uint16_t dom)
{
    if (vg_fake_domain_create(t->w, dom))
        assert_int_equal(errno, EEXIST);
}

/* A guest's net device: rx is queue 0, tx queue 1, each played by a
 * rawfront of its own over the same device. */
struct guest {
    struct rawfront rx, tx;
};

#define GUEST_FEATURES (VG_FEATURES_REQUIRED | \
                        VG_FEATURE(VIRTIO_RING_F_EVENT_IDX) | \
                        VG_FEATURE(VIRTIO_NET_F_MAC) | \
                        VG_FEATURE(VIRTIO_NET_F_STATUS) | \
                        VG_FEATURE(VIRTIO_NET_F_MTU))

static void write_queue_keys(struct rawfront *keys, struct rawfront *q,
                             unsigned i)
{
    char k[32];

    snprintf(k, sizeof(k), "queue-%u/size", i);
    assert_int_equal(vg_xs_write_fmt(keys->h, 0, keys->fe_path, k, "%u",
                                     q->num), 0);
    snprintf(k, sizeof(k), "queue-%u/desc", i);
    assert_int_equal(vg_xs_write_fmt(keys->h, 0, keys->fe_path, k, "0x%llx",
                     (unsigned long long)vg_grant_addr(q->desc_ref, 0)), 0);
    snprintf(k, sizeof(k), "queue-%u/driver", i);
    assert_int_equal(vg_xs_write_fmt(keys->h, 0, keys->fe_path, k, "0x%llx",
                     (unsigned long long)vg_grant_addr(q->avail_ref,
                                                       q->avail_off)), 0);
    snprintf(k, sizeof(k), "queue-%u/device", i);
    assert_int_equal(vg_xs_write_fmt(keys->h, 0, keys->fe_path, k, "0x%llx",
                     (unsigned long long)vg_grant_addr(q->used_ref,
                                                       q->used_off)), 0);
    snprintf(k, sizeof(k), "queue-%u/event-channel", i);
    assert_int_equal(vg_xs_write_fmt(keys->h, 0, keys->fe_path, k, "%d",
                                     q->port), 0);
}

/* Both queues (64 entries each), the features, Connected. */
static void guest_connect(struct tw *t, struct guest *g, uint16_t dom,
                          unsigned devid, uint64_t features)
{
    assert_int_equal(rf_open(&g->rx, t->w, dom, devid, 0), 0);
    assert_int_equal(rf_open(&g->tx, t->w, dom, devid, 0), 0);
    vd_wait_backend_state(t->d, &g->rx, VG_XB_INITWAIT);
    assert_int_equal(rf_setup_rings(&g->rx, 64), 0);
    assert_int_equal(rf_setup_rings(&g->tx, 64), 0);
    assert_int_equal(vg_xs_write_fmt(g->rx.h, 0, g->rx.fe_path,
                                     VG_KEY_FEATURES, "0x%llx",
                                     (unsigned long long)features), 0);
    assert_int_equal(vg_xs_write_fmt(g->rx.h, 0, g->rx.fe_path,
                                     VG_KEY_NUM_QUEUES, "2"), 0);
    write_queue_keys(&g->rx, &g->rx, 0);
    write_queue_keys(&g->rx, &g->tx, 1);
    assert_int_equal(rf_set_state(&g->rx, VG_XB_INITIALISED), 0);
    vd_wait_backend_state(t->d, &g->rx, VG_XB_CONNECTED);
    assert_int_equal(rf_set_state(&g->rx, VG_XB_CONNECTED), 0);
    vd_pump(t->d, 2);
}

/* Attach through rawfront's toolstack keys and connect. */
static void net_up(struct tw *t, struct guest *g, uint16_t dom,
                   unsigned devid, const struct rf_attach *a,
                   uint64_t features)
{
    ensure_domain(t, dom);
    assert_int_equal(rf_toolstack_attach(t->ts, dom, devid, 0, a), 0);
    guest_connect(t, g, dom, devid, features);
}

static void guest_close(struct guest *g)
{
    rf_close(&g->rx);
    rf_close(&g->tx);
}

static struct vgd_dev_stats stats(struct tw *t, uint16_t dom, unsigned devid)
{
    return vd_dev_stats(t->d, dom, devid);
}

/* A buffer of len bytes at offset off of fresh zeroed pages. */
static uint8_t *buf(struct rawfront *rf, uint32_t off, uint32_t len,
                    bool writable, struct rf_buf *b)
{
    vg_gref_t ref;
    uint32_t pages = (off + len + VG_PAGE_SIZE - 1) / VG_PAGE_SIZE;
    uint8_t *p = rf_share(rf, pages ? pages : 1, writable, &ref);

    assert_non_null(p);
    *b = (struct rf_buf){ vg_grant_addr(ref + off / VG_PAGE_SIZE,
                                        off % VG_PAGE_SIZE), len, writable };
    return p + off;
}

static void frame_fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 8));
}

/* Post one tx chain: header h (NULL: zeros) in one buffer, the frame of
 * len bytes (pattern seed) in the next, crossing a page. */
static uint16_t tx_post(struct guest *g, const struct virtio_net_hdr *h,
                        size_t len, unsigned seed)
{
    struct rf_buf b[2];
    uint8_t *hp = buf(&g->tx, 100, HDR, false, &b[0]);
    uint8_t *fp = buf(&g->tx, VG_PAGE_SIZE - 30, (uint32_t)len, false, &b[1]);

    if (h)
        memcpy(hp, h, HDR);
    frame_fill(fp, len, seed);
    return rf_add_chain(&g->tx, b, len ? 2 : 1);
}

/* Run the daemon until the used entry of head comes on rf. */
static uint32_t used_of(struct tw *t, struct rawfront *rf, uint16_t head)
{
    uint32_t id, len;

    assert_int_equal(rf_kick(rf), 0);
    for (int i = 0; i < VD_MAX_ROUNDS; i++) {
        if (rf_get_used(rf, &id, &len)) {
            assert_int_equal(id, head);
            return len;
        }
        vd_round(t->d);
    }
    print_log();
    fail_msg("chain %u never completed", head);
    return 0;
}

/* The next frame the port received from the guest, or -1. */
static ssize_t port_recv(struct port *pt, uint8_t *out, size_t max)
{
    return recv(pt->peer, out, max, MSG_DONTWAIT);
}

static void port_send(struct port *pt, size_t len, unsigned seed)
{
    uint8_t f[70000];

    assert_true(len <= sizeof(f));
    frame_fill(f, len, seed);
    assert_int_equal(send(pt->peer, f, len, MSG_DONTWAIT), (ssize_t)len);
}

/* Post n rx chains of one writable buffer of len bytes each. */
static void rx_post(struct guest *g, unsigned n, uint32_t len, uint8_t **bufs,
                    uint16_t *heads)
{
    for (unsigned i = 0; i < n; i++) {
        struct rf_buf b;
        uint8_t *p = buf(&g->rx, 0, len, true, &b);

        if (bufs)
            bufs[i] = p;
        heads[i] = rf_add_chain(&g->rx, &b, 1);
    }
}

/* Collect the next rx used entry, running the daemon for it. */
static bool rx_used(struct tw *t, struct guest *g, uint32_t *id,
                    uint32_t *len)
{
    for (int i = 0; i < 20; i++) {
        if (rf_get_used(&g->rx, id, len))
            return true;
        vd_round(t->d);
    }
    return false;
}

static void assert_frame(const uint8_t *p, size_t len, unsigned seed)
{
    uint8_t want[70000];

    frame_fill(want, len, seed);
    assert_memory_equal(p, want, len);
}

static void hdr_of(const uint8_t *p, struct virtio_net_hdr *h)
{
    memcpy(h, p, HDR);
}

/* ------------------------------------------------------------------ */
/* the device                                                          */

/* A net device: id 1, MAC/STATUS/MTU/MRG_RXBUF offered (no offload),
 * config space mac/status/pairs/mtu, two queues whatever queues says;
 * the port gets the keys. */
static void test_net_device_keys(void **state)
{
    struct tw *t = tw_new();
    struct rf_attach a = { .type = "net", .mac = "00:16:3E:0A:0b:0C",
                           .bridge = "xenbr0", .vif = "vif7.0",
                           .mtu = "9000" };
    struct rawfront rf;
    uint64_t v;
    char *cfg;
    struct port *pt;
    (void)state;

    ensure_domain(t, 1);
    assert_int_equal(rf_toolstack_attach(t->ts, 1, 0, 0, &a), 0);
    assert_int_equal(rf_open(&rf, t->w, 1, 0, 0), 0);
    vd_wait_backend_state(t->d, &rf, VG_XB_INITWAIT);
    assert_int_equal(vg_xs_read_uint(rf.h, 0, rf.be_path, VG_KEY_DEVICE_ID,
                                     UINT32_MAX, &v), 0);
    assert_int_equal(v, VIRTIO_ID_NET);
    assert_int_equal(vg_xs_read_hex64(rf.h, 0, rf.be_path, VG_KEY_FEATURES,
                                      &v), 0);
    assert_int_equal(v, VG_FEATURES_REQUIRED |
                        VG_FEATURE(VIRTIO_RING_F_EVENT_IDX) |
                        VG_FEATURE(VIRTIO_NET_F_MAC) |
                        VG_FEATURE(VIRTIO_NET_F_STATUS) |
                        VG_FEATURE(VIRTIO_NET_F_MTU) |
                        VG_FEATURE(VIRTIO_NET_F_MRG_RXBUF));
    assert_false(v & VG_FEATURE(VIRTIO_NET_F_CSUM));
    assert_false(v & VG_FEATURE(VIRTIO_NET_F_GUEST_CSUM));
    assert_int_equal(vg_xs_read_uint(rf.h, 0, rf.be_path, VG_KEY_MAX_QUEUES,
                                     8, &v), 0);
    assert_int_equal(v, 2);
    cfg = vg_xs_read_str(rf.h, 0, rf.be_path, VG_KEY_CONFIG);
    assert_non_null(cfg);
    /* mac 00:16:3e:0a:0b:0c, status 1, pairs 1, mtu 9000 (0x2328) */
    assert_string_equal(cfg, "00163e0a0b0c010001002823");
    free(cfg);
    /* the MAC the toolstack wrote is kept as written */
    cfg = vg_xs_read_str(rf.h, 0, rf.be_path, VG_KEY_MAC);
    assert_string_equal(cfg, "00:16:3E:0A:0b:0C");
    free(cfg);
    pt = port_of(1, 0);
    assert_string_equal(pt->ifname, "vif7.0");
    assert_string_equal(pt->bridge, "xenbr0");
    assert_int_equal(pt->mtu, 9000);
    assert_log_has("net: interface vif7.0 in bridge xenbr0, MAC "
                   "00:16:3e:0a:0b:0c, MTU 9000");
    rf_close(&rf);
    tw_free(t);
}

/* No mac key: a random locally administered unicast MAC, written back to
 * the backend directory and the same in the config space; the default
 * interface name vg<dom>.<dev>, no bridge, MTU 1500. */
static void test_net_random_mac_written_back(void **state)
{
    struct tw *t = tw_new();
    struct rf_attach a = { .type = "net" };
    struct rawfront rf;
    char *mac, *cfg, hex[13];
    uint8_t m[6];
    struct port *pt;
    (void)state;

    ensure_domain(t, 3);
    assert_int_equal(rf_toolstack_attach(t->ts, 3, 5, 0, &a), 0);
    assert_int_equal(rf_open(&rf, t->w, 3, 5, 0), 0);
    vd_wait_backend_state(t->d, &rf, VG_XB_INITWAIT);
    mac = vg_xs_read_str(rf.h, 0, rf.be_path, VG_KEY_MAC);
    assert_non_null(mac);
    assert_int_equal(vg_parse_mac(mac, m), 0);
    assert_int_equal(m[0] & 1, 0);          /* unicast */
    assert_int_equal(m[0] & 2, 2);          /* locally administered */
    snprintf(hex, sizeof(hex), "%02x%02x%02x%02x%02x%02x", m[0], m[1], m[2],
             m[3], m[4], m[5]);
    cfg = vg_xs_read_str(rf.h, 0, rf.be_path, VG_KEY_CONFIG);
    assert_non_null(cfg);
    assert_memory_equal(cfg, hex, 12);
    assert_string_equal(cfg + 12, "01000100dc05");   /* up, 1 pair, 1500 */
    pt = port_of(3, 5);
    assert_string_equal(pt->ifname, "vg3.5");
    assert_string_equal(pt->bridge, "");
    assert_int_equal(pt->mtu, 1500);
    free(mac);
    free(cfg);
    rf_close(&rf);
    tw_free(t);
}

/* ------------------------------------------------------------------ */
/* tx                                                                  */

/* Frames the guest sends reach the port intact, one message each, from
 * the smallest to MTU + 18 bytes; the chains complete with used length
 * 0; the counters add up. */
static void test_net_tx_reaches_port(void **state)
{
    static const size_t lens[] = { 14, 60, 1514, 1518 };
    struct tw *t = tw_new();
    struct rf_attach a = { .type = "net" };
    struct guest g;
    struct port *pt;
    struct vgd_dev_stats s;
    uint8_t got[2048];
    uint64_t bytes = 0;
    (void)state;

    net_up(t, &g, 1, 0, &a, GUEST_FEATURES);
    pt = port_of(1, 0);
    for (unsigned i = 0; i < 4; i++) {
        uint16_t head = tx_post(&g, NULL, lens[i], i);

        assert_int_equal(used_of(t, &g.tx, head), 0);
        assert_int_equal(port_recv(pt, got, sizeof(got)), (ssize_t)lens[i]);
        assert_frame(got, lens[i], i);
        bytes += lens[i];
    }
    assert_int_equal(port_recv(pt, got, sizeof(got)), -1);
    s = stats(t, 1, 0);
    assert_int_equal(s.net_tx_packets, 4);
    assert_int_equal(s.net_tx_bytes, bytes);
    assert_int_equal(s.errors, 0);
    assert_int_equal(s.net_tx_bad_length + s.net_tx_bad_header, 0);
    guest_close(&g);
    tw_free(t);
}

/* Hostile tx chains: header only, frames too short or too long, a header
 * asking for checksum or segmentation offload (not offered), a chain
 * with a writable buffer: each dropped and counted, never sent, the
 * chain completed and the device still serving. */
static void test_net_tx_hostile(void **state)
{
    struct tw *t = tw_new();
    struct rf_attach a = { .type = "net" };
    struct guest g;
    struct port *pt;
    struct vgd_dev_stats s;
    struct virtio_net_hdr csum = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM };
    struct virtio_net_hdr tso = { .gso_type = 1 /* TCPV4 */, .gso_size = 1448 };
    struct rf_buf b[3];
    uint8_t got[2048];
    uint16_t head;
    (void)state;

    net_up(t, &g, 1, 0, &a, GUEST_FEATURES);
    pt = port_of(1, 0);

    head = tx_post(&g, NULL, 0, 0);                 /* header only */
    assert_int_equal(used_of(t, &g.tx, head), 0);
    head = tx_post(&g, NULL, 13, 0);                /* runt */
    assert_int_equal(used_of(t, &g.tx, head), 0);
    head = tx_post(&g, NULL, 1519, 0);              /* MTU + 19 */
    assert_int_equal(used_of(t, &g.tx, head), 0);
    /* 8 bytes: not even a header */
    buf(&g.tx, 0, 8, false, &b[0]);
    head = rf_add_chain(&g.tx, b, 1);
    assert_int_equal(used_of(t, &g.tx, head), 0);
    s = stats(t, 1, 0);
    assert_int_equal(s.net_tx_bad_length, 4);

    head = tx_post(&g, &csum, 100, 1);
    assert_int_equal(used_of(t, &g.tx, head), 0);
    head = tx_post(&g, &tso, 1000, 2);
    assert_int_equal(used_of(t, &g.tx, head), 0);
    /* header + frame + a device-writable buffer */
    buf(&g.tx, 0, HDR, false, &b[0]);
    buf(&g.tx, 0, 64, false, &b[1]);
    buf(&g.tx, 0, 64, true, &b[2]);
    head = rf_add_chain(&g.tx, b, 3);
    assert_int_equal(used_of(t, &g.tx, head), 0);
    s = stats(t, 1, 0);
    assert_int_equal(s.net_tx_bad_header, 3);
    assert_int_equal(s.net_tx_packets, 0);
    assert_int_equal(port_recv(pt, got, sizeof(got)), -1);
    assert_log_has("no offload was offered");

    /* still serving: a good frame goes through */
    head = tx_post(&g, NULL, 200, 9);
    assert_int_equal(used_of(t, &g.tx, head), 0);
    assert_int_equal(port_recv(pt, got, sizeof(got)), 200);
    assert_frame(got, 200, 9);
    assert_int_equal(rf_backend_state(&g.rx), VG_XB_CONNECTED);
    guest_close(&g);
    tw_free(t);
}

/* A port that would block (nobody reads the other end): frames are
 * dropped and counted as tx_busy, the daemon never waits, every chain
 * completes. */
static void test_net_tx_port_busy_drops(void **state)
{
    struct tw *t = tw_new();
    struct rf_attach a = { .type = "net" };
    struct guest g;
    struct vgd_dev_stats s;
    uint16_t heads[40];
    uint32_t id, len;
    unsigned done = 0;
    (void)state;

    small_sndbuf = true;
    net_up(t, &g, 1, 0, &a, GUEST_FEATURES);
    for (unsigned i = 0; i < 40; i++)
        heads[i] = tx_post(&g, NULL, 1500, i);
    assert_int_equal(rf_kick(&g.tx), 0);
    for (int r = 0; r < 50 && done < 40; r++) {
        vd_round(t->d);
        while (rf_get_used(&g.tx, &id, &len)) {
            assert_int_equal(id, heads[done]);
            assert_int_equal(len, 0);
            done++;
        }
    }
    assert_int_equal(done, 40);
    s = stats(t, 1, 0);
    assert_true(s.net_tx_busy > 0);
    assert_int_equal(s.net_tx_packets + s.net_tx_busy, 40);
    assert_int_equal(s.net_errors, 0);
    guest_close(&g);
    tw_free(t);
}

/* ------------------------------------------------------------------ */
/* rx                                                                  */

/* A frame from the port lands in the guest's next rx buffer behind a
 * header: no flags, num_buffers 1, used length header + frame; nothing
 * past it written.  Without input, posted buffers stay in the ring. */
static void test_net_rx_one_buffer(void **state)
{
    struct tw *t = tw_new();
    struct rf_attach a = { .type = "net" };
    struct guest g;
    struct port *pt;
    struct vgd_dev_stats s;
    struct virtio_net_hdr h;
    uint8_t *bufs[2];
    uint16_t heads[2];
    uint32_t id, len;
    (void)state;

    net_up(t, &g, 1, 0, &a, GUEST_FEATURES);
    pt = port_of(1, 0);
    rx_post(&g, 2, HDR + 1518, bufs, heads);
    assert_int_equal(rf_kick(&g.rx), 0);
    vd_pump(t->d, 10);
    /* no packet: nothing popped, nothing completed */
    assert_false(rf_get_used(&g.rx, &id, &len));
    s = stats(t, 1, 0);
    assert_int_equal(s.in_flight, 0);
    assert_int_equal(s.requests, 0);

    port_send(pt, 100, 7);
    assert_true(rx_used(t, &g, &id, &len));
    assert_int_equal(id, heads[0]);
    assert_int_equal(len, HDR + 100);
    hdr_of(bufs[0], &h);
    assert_int_equal(h.flags, 0);
    assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_NONE);
    assert_int_equal(h.num_buffers, 1);
    assert_frame(bufs[0] + HDR, 100, 7);
    assert_int_equal(bufs[0][HDR + 100], 0);

    /* the largest frame, MTU + 18, fills the second exactly */
    port_send(pt, 1518, 8);
    assert_true(rx_used(t, &g, &id, &len));
    assert_int_equal(id, heads[1]);
    assert_int_equal(len, HDR + 1518);
    assert_frame(bufs[1] + HDR, 1518, 8);
    s = stats(t, 1, 0);
    assert_int_equal(s.net_rx_packets, 2);
    assert_int_equal(s.net_rx_bytes, 100 + 1518);
    guest_close(&g);
    tw_free(t);
}

/* MRG_RXBUF: a frame larger than one buffer spans as many chains as it
 * needs, each filled before the next, num_buffers in the first header;
 * the chain it does not need stays for the next frame. */
static void test_net_rx_mergeable(void **state)
{
    struct tw *t = tw_new();
    struct rf_attach a = { .type = "net" };
    struct guest g;
    struct port *pt;
    struct virtio_net_hdr h;
    uint8_t *bufs[4], whole[2048], want[2048];
    uint16_t heads[4];
    uint32_t id, len;
    size_t at = 0;
    (void)state;

    net_up(t, &g, 1, 0, &a, GUEST_FEATURES |
                            VG_FEATURE(VIRTIO_NET_F_MRG_RXBUF));
    pt = port_of(1, 0);
    rx_post(&g, 4, 500, bufs, heads);
    port_send(pt, 1400, 3);            /* 1412 bytes: 500 + 500 + 412 */
    for (unsigned i = 0; i < 3; i++) {
        assert_true(rx_used(t, &g, &id, &len));
        assert_int_equal(id, heads[i]);
        assert_int_equal(len, i < 2 ? 500 : 412);
        memcpy(whole + at, bufs[i], len);
        at += len;
    }
    assert_int_equal(at, HDR + 1400);
    hdr_of(whole, &h);
    assert_int_equal(h.num_buffers, 3);
    assert_int_equal(h.flags, 0);
    frame_fill(want, 1400, 3);
    assert_memory_equal(whole + HDR, want, 1400);
    assert_false(rf_get_used(&g.rx, &id, &len));

    /* the fourth buffer takes the next frame alone */
    port_send(pt, 60, 4);
    assert_true(rx_used(t, &g, &id, &len));
    assert_int_equal(id, heads[3]);
    assert_int_equal(len, HDR + 60);
    hdr_of(bufs[3], &h);
    assert_int_equal(h.num_buffers, 1);
    assert_frame(bufs[3] + HDR, 60, 4);
    assert_int_equal(stats(t, 1, 0).net_rx_packets, 2);
    guest_close(&g);
    tw_free(t);
}

/* A guest that posts no rx buffers: every frame is dropped and counted
 * (rx_no_buffer), the daemon does not wait for it and serves another
 * guest's device meanwhile; once buffers come, new frames arrive. */
static void test_net_rx_no_buffers_drops(void **state)
{
    struct tw *t = tw_new();
    struct rf_attach a = { .type = "net" };
    struct guest g, other;
    struct port *pt, *pt2;
    uint8_t *bufs[1], got[256];
    uint16_t heads[1], head;
    uint32_t id, len;
    (void)state;

    net_up(t, &g, 1, 0, &a, GUEST_FEATURES);
    net_up(t, &other, 2, 0, &a, GUEST_FEATURES);
    pt = port_of(1, 0);
    pt2 = port_of(2, 0);
    for (unsigned i = 0; i < 5; i++)
        port_send(pt, 64, i);
    /* the other guest's frame goes out while dom 1 has no buffers */
    head = tx_post(&other, NULL, 80, 11);
    assert_int_equal(used_of(t, &other.tx, head), 0);
    assert_int_equal(port_recv(pt2, got, sizeof(got)), 80);
    vd_pump(t->d, 5);
    assert_int_equal(stats(t, 1, 0).net_rx_no_buffer, 5);
    assert_int_equal(stats(t, 1, 0).net_rx_packets, 0);
    assert_int_equal(rf_backend_state(&g.rx), VG_XB_CONNECTED);

    /* buffers now: the next frame (not the dropped ones) arrives */
    rx_post(&g, 1, 256, bufs, heads);
    port_send(pt, 70, 42);
    assert_true(rx_used(t, &g, &id, &len));
    assert_int_equal(id, heads[0]);
    assert_int_equal(len, HDR + 70);
    assert_frame(bufs[0] + HDR, 70, 42);
    assert_int_equal(stats(t, 1, 0).net_rx_no_buffer, 5);
    guest_close(&g);
    guest_close(&other);
    tw_free(t);
}

/* Buffers too small: without MRG_RXBUF one buffer must hold header and
 * frame; with it the first must hold the header and all the chains a
 * packet may span the packet.  Each such packet is dropped and counted,
 * its chains complete with used length 0, the next packet is served. */
static void test_net_rx_small_buffers(void **state)
{
    struct tw *t = tw_new();
    struct rf_attach a = { .type = "net" };
    struct guest g, m;
    struct port *pt;
    uint8_t *bufs[17];
    uint16_t heads[17];
    uint32_t id, len;
    (void)state;

    /* no MRG_RXBUF: 100-byte buffer, 200-byte frame */
    net_up(t, &g, 1, 0, &a, GUEST_FEATURES);
    pt = port_of(1, 0);
    rx_post(&g, 1, 100, bufs, heads);
    port_send(pt, 200, 1);
    assert_true(rx_used(t, &g, &id, &len));
    assert_int_equal(id, heads[0]);
    assert_int_equal(len, 0);
    assert_int_equal(stats(t, 1, 0).net_rx_small_buffer, 1);
    assert_log_has("MRG_RXBUF not negotiated");

    /* MRG_RXBUF: a first buffer smaller than the header */
    net_up(t, &m, 2, 0, &a, GUEST_FEATURES |
                            VG_FEATURE(VIRTIO_NET_F_MRG_RXBUF));
    pt = port_of(2, 0);
    rx_post(&m, 1, 8, bufs, heads);
    rx_post(&m, 1, 50, bufs + 1, heads + 1);
    port_send(pt, 30, 2);
    /* the packet took both (8 + 50 >= 12 + 30); both come back empty */
    for (unsigned i = 0; i < 2; i++) {
        assert_true(rx_used(t, &m, &id, &len));
        assert_int_equal(id, heads[i]);
        assert_int_equal(len, 0);
    }
    assert_int_equal(stats(t, 2, 0).net_rx_small_buffer, 1);
    assert_log_has("smaller than the 12-byte header");
    /* a 2000-byte buffer takes the next frame */
    rx_post(&m, 1, 2000, bufs + 1, heads + 1);
    port_send(pt, 100, 3);
    assert_true(rx_used(t, &m, &id, &len));
    assert_int_equal(id, heads[1]);
    assert_int_equal(len, HDR + 100);
    assert_frame(bufs[1] + HDR, 100, 3);

    /* 16 buffers of 64 bytes (the most one packet spans) cannot hold a
     * 1500-byte frame: all 16 complete empty, the 17th is left */
    rx_post(&m, 17, 64, bufs, heads);
    port_send(pt, 1500, 4);
    for (unsigned i = 0; i < 16; i++) {
        assert_true(rx_used(t, &m, &id, &len));
        assert_int_equal(id, heads[i]);
        assert_int_equal(len, 0);
    }
    assert_false(rx_used(t, &m, &id, &len));
    assert_int_equal(stats(t, 2, 0).net_rx_small_buffer, 2);
    assert_int_equal(stats(t, 2, 0).net_rx_packets, 1);
    guest_close(&g);
    guest_close(&m);
    tw_free(t);
}

/* Frames from the port that are not Ethernet frames of this MTU (shorter
 * than the Ethernet header, longer than MTU + 18) are dropped before
 * they take a guest buffer. */
static void test_net_rx_bad_port_frames(void **state)
{
    struct tw *t = tw_new();
    struct rf_attach a = { .type = "net", .mtu = "576" };
    struct guest g;
    struct port *pt;
    uint8_t *bufs[1];
    uint16_t heads[1];
    uint32_t id, len;
    (void)state;

    net_up(t, &g, 1, 0, &a, GUEST_FEATURES |
                            VG_FEATURE(VIRTIO_NET_F_MRG_RXBUF));
    pt = port_of(1, 0);
    rx_post(&g, 1, 4096, bufs, heads);
    port_send(pt, 10, 1);
    port_send(pt, 576 + 19, 2);
    port_send(pt, 576 + 18, 3);
    assert_true(rx_used(t, &g, &id, &len));
    assert_int_equal(id, heads[0]);
    assert_int_equal(len, HDR + 576 + 18);
    assert_frame(bufs[0] + HDR, 576 + 18, 3);
    assert_int_equal(stats(t, 1, 0).net_rx_bad_length, 2);
    assert_log_has("gave a short frame (10 bytes");
    assert_log_has("gave a long frame (595 bytes");
    guest_close(&g);
    tw_free(t);
}

/* rx chains that are not device-writable only: the packet is dropped,
 * the chain completes, the device keeps serving. */
static void test_net_rx_readable_chain(void **state)
{
    struct tw *t = tw_new();
    struct rf_attach a = { .type = "net" };
    struct guest g;
    struct port *pt;
    struct rf_buf b[2];
    uint8_t *p;
    uint16_t head, heads[1];
    uint32_t id, len;
    (void)state;

    net_up(t, &g, 1, 0, &a, GUEST_FEATURES);
    pt = port_of(1, 0);
    buf(&g.rx, 0, 64, false, &b[0]);
    buf(&g.rx, 0, 2048, true, &b[1]);
    head = rf_add_chain(&g.rx, b, 2);
    port_send(pt, 100, 1);
    assert_true(rx_used(t, &g, &id, &len));
    assert_int_equal(id, head);
    assert_int_equal(len, 0);
    assert_int_equal(stats(t, 1, 0).net_rx_bad_chain, 1);
    rx_post(&g, 1, 2048, &p, heads);
    port_send(pt, 100, 2);
    assert_true(rx_used(t, &g, &id, &len));
    assert_int_equal(id, heads[0]);
    assert_int_equal(len, HDR + 100);
    guest_close(&g);
    tw_free(t);
}

/* Every transport mode carries frames both ways. */
static void test_net_every_mode(void **state)
{
    static const char *const modes[] = { "grant", "copy", "auto",
                                         "persistent" };
    (void)state;

    for (unsigned i = 0; i < 4; i++) {
        struct tw *t = tw_new();
        struct rf_attach a = { .type = "net", .mode = modes[i] };
        struct guest g;
        struct port *pt;
        uint8_t *bufs[2], got[2048];
        uint16_t heads[2], head;
        uint32_t id, len;

        net_up(t, &g, 1, 0, &a, GUEST_FEATURES |
                                VG_FEATURE(VIRTIO_NET_F_MRG_RXBUF));
        pt = port_of(1, 0);
        head = tx_post(&g, NULL, 1000, i);
        assert_int_equal(used_of(t, &g.tx, head), 0);
        assert_int_equal(port_recv(pt, got, sizeof(got)), 1000);
        assert_frame(got, 1000, i);
        rx_post(&g, 2, 1024, bufs, heads);
        port_send(pt, 1500, i + 10);
        assert_true(rx_used(t, &g, &id, &len));
        assert_int_equal(len, 1024);
        memcpy(got, bufs[0], 1024);
        assert_true(rx_used(t, &g, &id, &len));
        assert_int_equal(len, HDR + 1500 - 1024);
        memcpy(got + 1024, bufs[1], len);
        assert_int_equal(((struct virtio_net_hdr *)got)->num_buffers, 2);
        assert_frame(got + HDR, 1500, i + 10);
        guest_close(&g);
        tw_free(t);
    }
}

/* ------------------------------------------------------------------ */
/* keys                                                                */

/* Bad net keys in a backend directory (hand-written or hostile): the
 * device is refused with a line naming the device, the key and the
 * value; no port is opened. */
static void test_net_bad_backend_keys(void **state)
{
    static const struct {
        struct rf_attach a;
        const char *expect;
    } cases[] = {
        { { .type = "net", .mac = "01:00:5e:00:00:01" },
          "backend key mac '01:00:5e:00:00:01' is a multicast address" },
        { { .type = "net", .mac = "00:16:3e:zz:00:01" },
          "backend key mac '00:16:3e:zz:00:01' is not a MAC address" },
        { { .type = "net", .mac = "00:16:3e:00:00" },
          "backend key mac '00:16:3e:00:00' is not a MAC address" },
        { { .type = "net", .mac = "00-16-3e-00-00-01" },
          "backend key mac '00-16-3e-00-00-01'" },
        { { .type = "net", .mac = "00:00:00:00:00:00" },
          "backend key mac '00:00:00:00:00:00' is the zero address" },
        { { .type = "net", .bridge = "br 0" },
          "backend key bridge 'br 0' has a character" },
        { { .type = "net", .bridge = "a-bridge-name-too-long" },
          "backend key bridge 'a-bridge-name-too-long' must be 1 to 15" },
        { { .type = "net", .vif = ".." },
          "backend key vif '..' is not an interface name" },
        { { .type = "net", .vif = "a/b" },
          "backend key vif 'a/b' has a character" },
        { { .type = "net", .vif = "" },
          "backend key vif '' must be 1 to 15" },
        { { .type = "net", .mtu = "67" },
          "backend key mtu '67' is out of range" },
        { { .type = "net", .mtu = "65536" },
          "backend key mtu '65536' is out of range" },
        { { .type = "net", .mtu = "1500x" },
          "backend key mtu '1500x' is not a number" },
    };
    struct tw *t = tw_new();
    struct rawfront rf;
    (void)state;

    ensure_domain(t, 1);
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char who[32];

        log_clear();
        assert_int_equal(rf_toolstack_attach(t->ts, 1, i, 0, &cases[i].a), 0);
        assert_int_equal(rf_open(&rf, t->w, 1, i, 0), 0);
        vd_wait_backend_state(t->d, &rf, VG_XB_CLOSED);
        snprintf(who, sizeof(who), "dom 1 dev %u: net:", i);
        assert_log_has(who);
        assert_log_has(cases[i].expect);
        rf_close(&rf);
    }
    assert_int_equal(nports, 0);
    tw_free(t);
}

/* `vgrant attach` specs: type=net with its keys accepted (the MAC in
 * canonical lower case); bad values refused naming them; queues=2 (two
 * pairs: no multiqueue) refused. */
static void test_net_attach_spec(void **state)
{
    static const struct {
        const char *spec, *expect;
    } bad[] = {
        { "type=net,mac=ff:ff:ff:ff:ff:ff", "mac 'ff:ff:ff:ff:ff:ff'" },
        { "type=net,mac=00:16:3e:1:2:3", "mac '00:16:3e:1:2:3'" },
        { "type=net,bridge=xen br0", "bridge 'xen br0'" },
        { "type=net,vif=vif1.0.toolongname", "vif 'vif1.0.toolongname'" },
        { "type=net,mtu=40", "mtu '40'" },
        { "type=net,queues=2", "queues" },
        { "type=net,target=/srv/x.img", "target" },
    };
    struct vg_attach_spec s;
    char err[512];
    (void)state;

    assert_int_equal(vg_attach_spec_parse("type=net,bridge=xenbr0,"
                                          "mac=00:16:3E:AA:bb:CC,mtu=9000,"
                                          "vif=guest1", &s, err, sizeof(err)),
                     0);
    assert_string_equal(s.type, "net");
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (!vg_attach_spec_parse(bad[i].spec, &s, err, sizeof(err)))
            fail_msg("'%s' accepted", bad[i].spec);
        if (!strstr(err, bad[i].expect))
            fail_msg("'%s': error '%s' lacks '%s'", bad[i].spec, err,
                     bad[i].expect);
    }
}

/* The toolstack's attach writes the canonical keys, vgrantd serves them;
 * removing the device closes the port (the tap goes with it). */
static void test_net_toolstack_attach_detach(void **state)
{
    struct tw *t = tw_new();
    struct vg_attach_spec s;
    char err[512], *v;
    unsigned devid;
    struct rawfront rf;
    struct port *pt;
    (void)state;

    ensure_domain(t, 4);
    assert_int_equal(vg_attach_spec_parse("type=net,bridge=xenbr0,"
                                          "mac=00:16:3E:AA:bb:CC,mtu=9000",
                                          &s, err, sizeof(err)), 0);
    if (vg_toolstack_attach(t->ts, 4, &s, &devid, err, sizeof(err)))
        fail_msg("attach: %s", err);
    assert_int_equal(rf_open(&rf, t->w, 4, devid, 0), 0);
    vd_wait_backend_state(t->d, &rf, VG_XB_INITWAIT);
    v = vg_xs_read_str(rf.h, 0, rf.be_path, VG_KEY_MAC);
    assert_string_equal(v, "00:16:3e:aa:bb:cc");
    free(v);
    v = vg_xs_read_str(rf.h, 0, rf.be_path, VG_KEY_MTU);
    assert_string_equal(v, "9000");
    free(v);
    pt = port_of(4, devid);
    assert_string_equal(pt->bridge, "xenbr0");
    assert_false(pt->closed);
    if (vg_toolstack_detach(t->ts, 4, devid, 0, err, sizeof(err)) < 0)
        fail_msg("detach: %s", err);
    for (int i = 0; i < VD_MAX_ROUNDS && vd_has_dev(t->d, 4, devid); i++)
        vd_round(t->d);
    assert_false(vd_has_dev(t->d, 4, devid));
    assert_true(pt->closed);
    rf_close(&rf);
    tw_free(t);
}

/* vgrantd's control socket answers `stats` with the net counters for a
 * net device (text and JSON; vgrant stats and --prometheus read these)
 * and without them for other types. */
static void test_net_stats_reply(void **state)
{
    struct tw *t = tw_new();
    struct rf_attach a = { .type = "net" };
    struct rf_attach r = { .type = "rng" };
    struct guest g;
    struct rawfront rf;
    static char out[65536];
    uint16_t head;
    char *line;
    (void)state;

    net_up(t, &g, 1, 0, &a, GUEST_FEATURES);
    head = tx_post(&g, NULL, 100, 1);
    assert_int_equal(used_of(t, &g.tx, head), 0);
    head = tx_post(&g, NULL, 5, 1);
    assert_int_equal(used_of(t, &g.tx, head), 0);
    port_send(port_of(1, 0), 64, 2);            /* no rx buffer */
    vd_pump(t->d, 3);
    ensure_domain(t, 2);
    assert_int_equal(rf_toolstack_attach(t->ts, 2, 0, 0, &r), 0);
    assert_int_equal(rf_open(&rf, t->w, 2, 0, 0), 0);
    vd_wait_backend_state(t->d, &rf, VG_XB_INITWAIT);

    assert_true(vgd_control_answer(t->d, "stats 1", 7, out, sizeof(out)) > 0);
    line = strstr(out, "device domid=1 devid=0");
    assert_non_null(line);
    assert_non_null(strstr(line, " net_tx_packets=1 net_tx_bytes=100 "));
    assert_non_null(strstr(line, " net_rx_no_buffer=1 "));
    assert_non_null(strstr(line, " net_tx_bad_length=1 "));
    {
        char *prom = NULL;
        size_t plen = 0;
        FILE *f = open_memstream(&prom, &plen);

        assert_non_null(f);
        assert_int_equal(vg_stats_prometheus(out, f), 1);
        fclose(f);
        assert_non_null(strstr(prom, "vgrant_net_tx_packets_total{domid=\"1\","
                                     "devid=\"0\"} 1\n"));
        assert_non_null(strstr(prom, "vgrant_net_rx_no_buffer_total{"));
        free(prom);
    }
    assert_true(vgd_control_answer(t->d, "stats 1 json", 12, out,
                                   sizeof(out)) > 0);
    assert_non_null(strstr(out, "\"net_tx_packets\":1,"));
    assert_true(vgd_control_answer(t->d, "stats 2", 7, out, sizeof(out)) > 0);
    assert_non_null(strstr(out, "device domid=2 devid=0"));
    assert_null(strstr(out, "net_"));
    rf_close(&rf);
    guest_close(&g);
    tw_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_net_device_keys),
        cmocka_unit_test(test_net_random_mac_written_back),
        cmocka_unit_test(test_net_tx_reaches_port),
        cmocka_unit_test(test_net_tx_hostile),
        cmocka_unit_test(test_net_tx_port_busy_drops),
        cmocka_unit_test(test_net_rx_one_buffer),
        cmocka_unit_test(test_net_rx_mergeable),
        cmocka_unit_test(test_net_rx_no_buffers_drops),
        cmocka_unit_test(test_net_rx_small_buffers),
        cmocka_unit_test(test_net_rx_bad_port_frames),
        cmocka_unit_test(test_net_rx_readable_chain),
        cmocka_unit_test(test_net_every_mode),
        cmocka_unit_test(test_net_bad_backend_keys),
        cmocka_unit_test(test_net_attach_spec),
        cmocka_unit_test(test_net_toolstack_attach_detach),
        cmocka_unit_test(test_net_stats_reply),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
