/* SPDX-License-Identifier: MIT */
/*
 * The virtio-net device (backend/net.c) end to end in the fake world
 * (netfix.h): its keys and config space, the transmit side, bad keys in
 * a backend directory and in `vgrant attach` specs, attach and detach
 * through the toolstack code, and its counters on the control socket.
 * The receive side is test_backend_net_rx.c.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "control.h"
#include "netfix.h"
#include "vgdrive.h"
#include "vgrant/devtype.h"
#include "vgrant/stats_prom.h"
#include "vgrant/toolstack.h"

/* ------------------------------------------------------------------ */
/* the device                                                          */

/* A net device: id 1, MAC/STATUS/MTU/MRG_RXBUF offered (no offload),
 * config space mac/status/pairs/mtu, two queues whatever queues says;
 * the port gets the keys. */
static void test_net_device_keys(void **state)
{
    struct nf_world *t = nf_tw_new();
    struct rf_attach a = { .type = "net", .mac = "00:16:3E:0A:0b:0C",
                           .bridge = "xenbr0", .vif = "vif7.0",
                           .mtu = "9000" };
    struct rawfront rf;
    uint64_t v;
    char *cfg;
    struct nf_port *pt;
    (void)state;

    nf_ensure_domain(t, 1);
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
    pt = nf_port_of(1, 0);
    assert_string_equal(pt->ifname, "vif7.0");
    assert_string_equal(pt->bridge, "xenbr0");
    assert_int_equal(pt->mtu, 9000);
    lc_assert_has("net: interface vif7.0 in bridge xenbr0, MAC "
                   "00:16:3e:0a:0b:0c, MTU 9000");
    rf_close(&rf);
    nf_tw_free(t);
}

/* No mac key: a random locally administered unicast MAC, written back to
 * the backend directory and the same in the config space; the default
 * interface name vg<dom>.<dev>, no bridge, MTU 1500. */
static void test_net_random_mac_written_back(void **state)
{
    struct nf_world *t = nf_tw_new();
    struct rf_attach a = { .type = "net" };
    struct rawfront rf;
    char *mac, *cfg, hex[13];
    uint8_t m[6];
    struct nf_port *pt;
    (void)state;

    nf_ensure_domain(t, 3);
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
    pt = nf_port_of(3, 5);
    assert_string_equal(pt->ifname, "vg3.5");
    assert_string_equal(pt->bridge, "");
    assert_int_equal(pt->mtu, 1500);
    free(mac);
    free(cfg);
    rf_close(&rf);
    nf_tw_free(t);
}

/* ------------------------------------------------------------------ */
/* tx                                                                  */

/* Frames the guest sends reach the port intact, one message each, from
 * the smallest to MTU + 18 bytes; the chains complete with used length
 * 0; the counters add up. */
static void test_net_tx_reaches_port(void **state)
{
    static const size_t lens[] = { 14, 60, 1514, 1518 };
    struct nf_world *t = nf_tw_new();
    struct rf_attach a = { .type = "net" };
    struct nf_guest g;
    struct nf_port *pt;
    struct vgd_dev_stats s;
    uint8_t got[2048];
    uint64_t bytes = 0;
    (void)state;

    nf_net_up(t, &g, 1, 0, &a, NF_FEATURES);
    pt = nf_port_of(1, 0);
    for (unsigned i = 0; i < 4; i++) {
        uint16_t head = nf_tx_post(&g, NULL, lens[i], i);

        assert_int_equal(nf_used_of(t, &g.tx, head), 0);
        assert_int_equal(nf_port_recv(pt, got, sizeof(got)), (ssize_t)lens[i]);
        nf_assert_frame(got, lens[i], i);
        bytes += lens[i];
    }
    assert_int_equal(nf_port_recv(pt, got, sizeof(got)), -1);
    s = nf_stats(t, 1, 0);
    assert_int_equal(s.net_tx_packets, 4);
    assert_int_equal(s.net_tx_bytes, bytes);
    assert_int_equal(s.errors, 0);
    assert_int_equal(s.net_tx_bad_length + s.net_tx_bad_header, 0);
    nf_guest_close(&g);
    nf_tw_free(t);
}

static uint64_t frozen_clock(void)
{
    return 1000;
}

/* Transmit never waits for more packets (vgd_model.gathers is blk's):
 * with --coalesce-ms 20 and a clock that does not move, a lone packet
 * after a round of four still goes at its kick. */
static void test_net_tx_does_not_gather(void **state)
{
    struct vgd_options o = { .coalesce_ms = 20, .clock_ms = frozen_clock };
    struct nf_world *t = nf_tw_new_opts(&o);
    struct rf_attach a = { .type = "net" };
    struct nf_guest g;
    struct nf_port *pt;
    uint8_t got[2048];
    uint32_t id, len;
    unsigned used = 0;
    (void)state;

    nf_net_up(t, &g, 1, 0, &a, NF_FEATURES);
    pt = nf_port_of(1, 0);
    for (unsigned i = 0; i < 4; i++)
        nf_tx_post(&g, NULL, 60, 7);
    assert_int_equal(rf_kick(&g.tx), 0);
    for (int i = 0; i < VD_MAX_ROUNDS && used < 4; i++) {
        vd_round(t->d);
        while (rf_get_used(&g.tx, &id, &len))
            used++;
    }
    assert_int_equal(used, 4);
    assert_int_equal(nf_stats(t, 1, 0).rounds_4_7, 1);
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(nf_port_recv(pt, got, sizeof(got)), 60);
    /* the lone one */
    nf_used_of(t, &g.tx, nf_tx_post(&g, NULL, 60, 7));
    assert_int_equal(nf_port_recv(pt, got, sizeof(got)), 60);
    assert_int_equal(nf_stats(t, 1, 0).gathers, 0);
    nf_guest_close(&g);
    nf_tw_free(t);
}

/* Hostile tx chains: header only, frames too short or too long, a header
 * asking for checksum or segmentation offload (not offered), a chain
 * with a writable buffer: each dropped and counted, never sent, the
 * chain completed and the device still serving. */
static void test_net_tx_hostile(void **state)
{
    struct nf_world *t = nf_tw_new();
    struct rf_attach a = { .type = "net" };
    struct nf_guest g;
    struct nf_port *pt;
    struct vgd_dev_stats s;
    struct virtio_net_hdr csum = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM };
    struct virtio_net_hdr tso = { .gso_type = 1 /* TCPV4 */,
                                  .gso_size = 1448 };
    struct rf_buf b[3];
    uint8_t got[2048];
    uint16_t head;
    (void)state;

    nf_net_up(t, &g, 1, 0, &a, NF_FEATURES);
    pt = nf_port_of(1, 0);

    head = nf_tx_post(&g, NULL, 0, 0);                 /* header only */
    assert_int_equal(nf_used_of(t, &g.tx, head), 0);
    head = nf_tx_post(&g, NULL, 13, 0);                /* runt */
    assert_int_equal(nf_used_of(t, &g.tx, head), 0);
    head = nf_tx_post(&g, NULL, 1519, 0);              /* MTU + 19 */
    assert_int_equal(nf_used_of(t, &g.tx, head), 0);
    /* 8 bytes: not even a header */
    nf_buf(&g.tx, 0, 8, false, &b[0]);
    head = rf_add_chain(&g.tx, b, 1);
    assert_int_equal(nf_used_of(t, &g.tx, head), 0);
    s = nf_stats(t, 1, 0);
    assert_int_equal(s.net_tx_bad_length, 4);

    head = nf_tx_post(&g, &csum, 100, 1);
    assert_int_equal(nf_used_of(t, &g.tx, head), 0);
    head = nf_tx_post(&g, &tso, 1000, 2);
    assert_int_equal(nf_used_of(t, &g.tx, head), 0);
    /* header + frame + a device-writable buffer */
    nf_buf(&g.tx, 0, NF_HDR, false, &b[0]);
    nf_buf(&g.tx, 0, 64, false, &b[1]);
    nf_buf(&g.tx, 0, 64, true, &b[2]);
    head = rf_add_chain(&g.tx, b, 3);
    assert_int_equal(nf_used_of(t, &g.tx, head), 0);
    s = nf_stats(t, 1, 0);
    assert_int_equal(s.net_tx_bad_header, 3);
    assert_int_equal(s.net_tx_packets, 0);
    assert_int_equal(nf_port_recv(pt, got, sizeof(got)), -1);
    lc_assert_has("no offload was offered");

    /* still serving: a good frame goes through */
    head = nf_tx_post(&g, NULL, 200, 9);
    assert_int_equal(nf_used_of(t, &g.tx, head), 0);
    assert_int_equal(nf_port_recv(pt, got, sizeof(got)), 200);
    nf_assert_frame(got, 200, 9);
    assert_int_equal(rf_backend_state(&g.rx), VG_XB_CONNECTED);
    nf_guest_close(&g);
    nf_tw_free(t);
}

/* A port that would block (nobody reads the other end): frames are
 * dropped and counted as tx_busy, the daemon never waits, every chain
 * completes. */
static void test_net_tx_port_busy_drops(void **state)
{
    struct nf_world *t = nf_tw_new();
    struct rf_attach a = { .type = "net" };
    struct nf_guest g;
    struct vgd_dev_stats s;
    uint16_t heads[40];
    uint32_t id, len;
    unsigned done = 0;
    (void)state;

    nf_small_sndbuf = true;
    nf_net_up(t, &g, 1, 0, &a, NF_FEATURES);
    for (unsigned i = 0; i < 40; i++)
        heads[i] = nf_tx_post(&g, NULL, 1500, i);
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
    s = nf_stats(t, 1, 0);
    assert_true(s.net_tx_busy > 0);
    assert_int_equal(s.net_tx_packets + s.net_tx_busy, 40);
    assert_int_equal(s.net_errors, 0);
    nf_guest_close(&g);
    nf_tw_free(t);
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
    struct nf_world *t = nf_tw_new();
    struct rawfront rf;
    (void)state;

    nf_ensure_domain(t, 1);
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char who[32];

        lc_clear();
        assert_int_equal(rf_toolstack_attach(t->ts, 1, i, 0, &cases[i].a), 0);
        assert_int_equal(rf_open(&rf, t->w, 1, i, 0), 0);
        vd_wait_backend_state(t->d, &rf, VG_XB_CLOSED);
        snprintf(who, sizeof(who), "dom 1 dev %u: net:", i);
        lc_assert_has(who);
        lc_assert_has(cases[i].expect);
        rf_close(&rf);
    }
    assert_int_equal(nf_nports, 0);
    nf_tw_free(t);
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
    struct nf_world *t = nf_tw_new();
    struct vg_attach_spec s;
    char err[512], *v;
    unsigned devid;
    struct rawfront rf;
    struct nf_port *pt;
    (void)state;

    nf_ensure_domain(t, 4);
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
    pt = nf_port_of(4, devid);
    assert_string_equal(pt->bridge, "xenbr0");
    assert_false(pt->closed);
    if (vg_toolstack_detach(t->ts, 4, devid, 0, err, sizeof(err)) < 0)
        fail_msg("detach: %s", err);
    for (int i = 0; i < VD_MAX_ROUNDS && vd_has_dev(t->d, 4, devid); i++)
        vd_round(t->d);
    assert_false(vd_has_dev(t->d, 4, devid));
    assert_true(pt->closed);
    rf_close(&rf);
    nf_tw_free(t);
}

/* xl destroy mid-transfer: the frontend domain dies and the backend
 * directory stays (nobody removes a `vgrant attach`ed one at once); the
 * tap must go with the guest all the same, and a new attach of the same
 * domid and devid opens a fresh one. */
static void test_net_guest_destroy_closes_port(void **state)
{
    struct nf_world *t = nf_tw_new();
    struct rf_attach a = { .type = "net" };
    struct nf_guest g;
    struct nf_port *pt;
    uint8_t got[2048];
    uint16_t head;
    (void)state;

    nf_net_up(t, &g, 6, 0, &a, NF_FEATURES);
    pt = nf_port_of(6, 0);
    head = nf_tx_post(&g, NULL, 60, 1);
    assert_int_equal(nf_used_of(t, &g.tx, head), 0);
    assert_int_equal(nf_port_recv(pt, got, sizeof(got)), 60);
    assert_false(pt->closed);

    assert_int_equal(vg_fake_domain_destroy(t->w, 6), 0);
    for (int i = 0; i < VD_MAX_ROUNDS && !pt->closed; i++)
        vd_round(t->d);
    assert_true(pt->closed);
    assert_true(vd_has_dev(t->d, 6, 0));
    assert_int_equal(nf_stats(t, 6, 0).state, VG_XB_CLOSED);
    nf_guest_close(&g);

    /* the domid comes back with a new attach: a new port */
    nf_net_up(t, &g, 6, 0, &a, NF_FEATURES);
    assert_true(nf_port_of(6, 0) != pt);
    assert_false(nf_port_of(6, 0)->closed);
    nf_guest_close(&g);
    nf_tw_free(t);
}

/* vgrantd's control socket answers `stats` with the net counters for a
 * net device (text and JSON; vgrant stats and --prometheus read these)
 * and without them for other types. */
static void test_net_stats_reply(void **state)
{
    struct nf_world *t = nf_tw_new();
    struct rf_attach a = { .type = "net" };
    struct rf_attach r = { .type = "rng" };
    struct nf_guest g;
    struct rawfront rf;
    static char out[65536];
    uint16_t head;
    char *line;
    (void)state;

    nf_net_up(t, &g, 1, 0, &a, NF_FEATURES);
    head = nf_tx_post(&g, NULL, 100, 1);
    assert_int_equal(nf_used_of(t, &g.tx, head), 0);
    head = nf_tx_post(&g, NULL, 5, 1);
    assert_int_equal(nf_used_of(t, &g.tx, head), 0);
    nf_port_send(nf_port_of(1, 0), 64, 2);            /* no rx buffer */
    vd_pump(t->d, 3);
    nf_ensure_domain(t, 2);
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
    nf_guest_close(&g);
    nf_tw_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_net_device_keys),
        cmocka_unit_test(test_net_random_mac_written_back),
        cmocka_unit_test(test_net_tx_reaches_port),
        cmocka_unit_test(test_net_tx_does_not_gather),
        cmocka_unit_test(test_net_tx_hostile),
        cmocka_unit_test(test_net_tx_port_busy_drops),
        cmocka_unit_test(test_net_bad_backend_keys),
        cmocka_unit_test(test_net_attach_spec),
        cmocka_unit_test(test_net_toolstack_attach_detach),
        cmocka_unit_test(test_net_guest_destroy_closes_port),
        cmocka_unit_test(test_net_stats_reply),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
