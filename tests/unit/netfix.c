/* SPDX-License-Identifier: MIT */
/* The net tests' world, see netfix.h. */
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

#include "netfix.h"
#include "vgdrive.h"
#include "vgrant/log.h"

/* ------------------------------------------------------------------ */
/* the port: a socketpair per device                                   */

struct nf_port nf_ports[NF_MAX_PORTS];
unsigned nf_nports;
bool nf_small_sndbuf;

static int sp_open(const struct vgd_net_port_params *p, char *err,
                   size_t errlen)
{
    int sv[2];
    struct nf_port *pt;

    if (nf_nports == NF_MAX_PORTS ||
        socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   sv)) {
        snprintf(err, errlen, "test port: no socketpair");
        return -1;
    }
    if (nf_small_sndbuf) {
        int sz = 1;     /* the kernel's minimum */

        assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz,
                                    sizeof(sz)), 0);
    }
    pt = &nf_ports[nf_nports++];
    *pt = (struct nf_port){ .open = true, .domid = p->domid, .devid = p->devid,
                         .peer = sv[1], .mtu = p->mtu };
    snprintf(pt->ifname, sizeof(pt->ifname), "%s", p->ifname);
    snprintf(pt->bridge, sizeof(pt->bridge), "%s", p->bridge);
    return sv[0];
}

static void sp_close(int fd, const struct vgd_net_port_params *p)
{
    for (unsigned i = 0; i < nf_nports; i++) {
        struct nf_port *pt = &nf_ports[i];

        if (pt->open && !pt->closed && pt->domid == p->domid &&
            pt->devid == p->devid)
            pt->closed = true;
    }
    close(fd);
}

static const struct vgd_net_port_ops sp_ops = {
    .open = sp_open,
    .close = sp_close,
};

struct nf_port *nf_port_of(uint16_t domid, unsigned devid)
{
    for (unsigned i = nf_nports; i-- > 0;)
        if (nf_ports[i].domid == domid && nf_ports[i].devid == devid)
            return &nf_ports[i];
    fail_msg("no port opened for dom %u dev %u", domid, devid);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* fixture                                                             */

struct nf_world *nf_tw_new(void)
{
    return nf_tw_new_opts(NULL);
}

struct nf_world *nf_tw_new_opts(const struct vgd_options *o)
{
    struct nf_world *t = calloc(1, sizeof(*t));

    assert_non_null(t);
    vg_log_init("test_backend_net", VG_LOG_INFO);
    lc_start();
    vd_on_fail = lc_print;
    for (unsigned i = 0; i < nf_nports; i++)
        if (nf_ports[i].peer >= 0)
            close(nf_ports[i].peer);
    nf_nports = 0;
    nf_small_sndbuf = false;
    vgd_net_set_port(&sp_ops);
    t->w = vg_fake_world_new();
    assert_non_null(t->w);
    assert_int_equal(vg_fake_domain_create(t->w, 0), 0);
    t->be = vg_fake_open(t->w, 0);
    t->ts = vg_fake_open(t->w, 0);
    assert_non_null(t->be);
    assert_non_null(t->ts);
    t->d = vgd_new(t->be, o);
    assert_non_null(t->d);
    assert_int_equal(vgd_start(t->d), 0);
    return t;
}

void nf_tw_free(struct nf_world *t)
{
    vgd_free(t->d);
    vg_hyp_close(t->be);
    vg_hyp_close(t->ts);
    vg_fake_world_free(t->w);
    lc_stop();
    vd_on_fail = NULL;
    for (unsigned i = 0; i < nf_nports; i++) {
        close(nf_ports[i].peer);
        nf_ports[i].peer = -1;
    }
    nf_nports = 0;
    vgd_net_set_port(NULL);
    free(t);
}

void nf_ensure_domain(struct nf_world *t, uint16_t dom)
{
    if (vg_fake_domain_create(t->w, dom))
        assert_int_equal(errno, EEXIST);
}



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
void nf_guest_connect(struct nf_world *t, struct nf_guest *g, uint16_t dom,
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
void nf_net_up(struct nf_world *t, struct nf_guest *g, uint16_t dom,
               unsigned devid, const struct rf_attach *a, uint64_t features)
{
    nf_ensure_domain(t, dom);
    assert_int_equal(rf_toolstack_attach(t->ts, dom, devid, 0, a), 0);
    nf_guest_connect(t, g, dom, devid, features);
}

void nf_guest_close(struct nf_guest *g)
{
    rf_close(&g->rx);
    rf_close(&g->tx);
}

struct vgd_dev_stats nf_stats(struct nf_world *t, uint16_t dom,
                              unsigned devid)
{
    return vd_dev_stats(t->d, dom, devid);
}

/* A buffer of len bytes at offset off of fresh zeroed pages. */
uint8_t *nf_buf(struct rawfront *rf, uint32_t off, uint32_t len,
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

void nf_frame_fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 8));
}

/* Post one tx chain: header h (NULL: zeros) in one buffer, the frame of
 * len bytes (pattern seed) in the next, crossing a page. */
uint16_t nf_tx_post(struct nf_guest *g, const struct virtio_net_hdr *h,
                    size_t len, unsigned seed)
{
    struct rf_buf b[2];
    uint8_t *hp = nf_buf(&g->tx, 100, NF_HDR, false, &b[0]);
    uint8_t *fp = nf_buf(&g->tx, VG_PAGE_SIZE - 30, (uint32_t)len, false,
                         &b[1]);

    if (h)
        memcpy(hp, h, NF_HDR);
    nf_frame_fill(fp, len, seed);
    return rf_add_chain(&g->tx, b, len ? 2 : 1);
}

/* Run the daemon until the used entry of head comes on rf. */
uint32_t nf_used_of(struct nf_world *t, struct rawfront *rf, uint16_t head)
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
    lc_print();
    fail_msg("chain %u never completed", head);
    return 0;
}

/* The next frame the port received from the guest, or -1. */
ssize_t nf_port_recv(struct nf_port *pt, uint8_t *out, size_t max)
{
    return recv(pt->peer, out, max, MSG_DONTWAIT);
}

void nf_port_send(struct nf_port *pt, size_t len, unsigned seed)
{
    uint8_t f[70000];

    assert_true(len <= sizeof(f));
    nf_frame_fill(f, len, seed);
    assert_int_equal(send(pt->peer, f, len, MSG_DONTWAIT), (ssize_t)len);
}

/* Post n rx chains of one writable buffer of len bytes each. */
void nf_rx_post(struct nf_guest *g, unsigned n, uint32_t len, uint8_t **bufs,
                uint16_t *heads)
{
    for (unsigned i = 0; i < n; i++) {
        struct rf_buf b;
        uint8_t *p = nf_buf(&g->rx, 0, len, true, &b);

        if (bufs)
            bufs[i] = p;
        heads[i] = rf_add_chain(&g->rx, &b, 1);
    }
}

/* Collect the next rx used entry, running the daemon for it. */
bool nf_rx_used(struct nf_world *t, struct nf_guest *g, uint32_t *id,
                uint32_t *len)
{
    for (int i = 0; i < 20; i++) {
        if (rf_get_used(&g->rx, id, len))
            return true;
        vd_round(t->d);
    }
    return false;
}

void nf_assert_frame(const uint8_t *p, size_t len, unsigned seed)
{
    uint8_t want[70000];

    nf_frame_fill(want, len, seed);
    assert_memory_equal(p, want, len);
}

void nf_hdr_of(const uint8_t *p, struct virtio_net_hdr *h)
{
    memcpy(h, p, NF_HDR);
}
