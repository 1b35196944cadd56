/* SPDX-License-Identifier: MIT */
/*
 * The virtio-net device's receive side (backend/net.c, the daemon's input
 * queues in serve.c) in the fake world (netfix.h): frames the test writes
 * to the port land in the buffers the guest posted -- one, or several
 * with MRG_RXBUF -- or are dropped and counted when the guest posted too
 * few or too small ones, while the daemon serves everyone else.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "netfix.h"
#include "vgdrive.h"

/* ------------------------------------------------------------------ */
/* rx                                                                  */

/* A frame from the port lands in the guest's next rx buffer behind a
 * header: no flags, num_buffers 1, used length header + frame; nothing
 * past it written.  Without input, posted buffers stay in the ring. */
static void test_net_rx_one_buffer(void **state)
{
    struct nf_world *t = nf_tw_new();
    struct rf_attach a = { .type = "net" };
    struct nf_guest g;
    struct nf_port *pt;
    struct vgd_dev_stats s;
    struct virtio_net_hdr h;
    uint8_t *bufs[2];
    uint16_t heads[2];
    uint32_t id, len;
    (void)state;

    nf_net_up(t, &g, 1, 0, &a, NF_FEATURES);
    pt = nf_port_of(1, 0);
    nf_rx_post(&g, 2, NF_HDR + 1518, bufs, heads);
    assert_int_equal(rf_kick(&g.rx), 0);
    vd_pump(t->d, 10);
    /* no packet: nothing popped, nothing completed */
    assert_false(rf_get_used(&g.rx, &id, &len));
    s = nf_stats(t, 1, 0);
    assert_int_equal(s.in_flight, 0);
    assert_int_equal(s.requests, 0);

    nf_port_send(pt, 100, 7);
    assert_true(nf_rx_used(t, &g, &id, &len));
    assert_int_equal(id, heads[0]);
    assert_int_equal(len, NF_HDR + 100);
    nf_hdr_of(bufs[0], &h);
    assert_int_equal(h.flags, 0);
    assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_NONE);
    assert_int_equal(h.num_buffers, 1);
    nf_assert_frame(bufs[0] + NF_HDR, 100, 7);
    assert_int_equal(bufs[0][NF_HDR + 100], 0);

    /* the largest frame, MTU + 18, fills the second exactly */
    nf_port_send(pt, 1518, 8);
    assert_true(nf_rx_used(t, &g, &id, &len));
    assert_int_equal(id, heads[1]);
    assert_int_equal(len, NF_HDR + 1518);
    nf_assert_frame(bufs[1] + NF_HDR, 1518, 8);
    s = nf_stats(t, 1, 0);
    assert_int_equal(s.net_rx_packets, 2);
    assert_int_equal(s.net_rx_bytes, 100 + 1518);
    nf_guest_close(&g);
    nf_tw_free(t);
}

/* MRG_RXBUF: a frame larger than one buffer spans as many chains as it
 * needs, each filled before the next, num_buffers in the first header;
 * the chain it does not need stays for the next frame. */
static void test_net_rx_mergeable(void **state)
{
    struct nf_world *t = nf_tw_new();
    struct rf_attach a = { .type = "net" };
    struct nf_guest g;
    struct nf_port *pt;
    struct virtio_net_hdr h;
    uint8_t *bufs[4], whole[2048], want[2048];
    uint16_t heads[4];
    uint32_t id, len;
    size_t at = 0;
    (void)state;

    nf_net_up(t, &g, 1, 0, &a, NF_FEATURES |
                            VG_FEATURE(VIRTIO_NET_F_MRG_RXBUF));
    pt = nf_port_of(1, 0);
    nf_rx_post(&g, 4, 500, bufs, heads);
    nf_port_send(pt, 1400, 3);            /* 1412 bytes: 500 + 500 + 412 */
    for (unsigned i = 0; i < 3; i++) {
        assert_true(nf_rx_used(t, &g, &id, &len));
        assert_int_equal(id, heads[i]);
        assert_int_equal(len, i < 2 ? 500 : 412);
        memcpy(whole + at, bufs[i], len);
        at += len;
    }
    assert_int_equal(at, NF_HDR + 1400);
    nf_hdr_of(whole, &h);
    assert_int_equal(h.num_buffers, 3);
    assert_int_equal(h.flags, 0);
    nf_frame_fill(want, 1400, 3);
    assert_memory_equal(whole + NF_HDR, want, 1400);
    assert_false(rf_get_used(&g.rx, &id, &len));

    /* the fourth buffer takes the next frame alone */
    nf_port_send(pt, 60, 4);
    assert_true(nf_rx_used(t, &g, &id, &len));
    assert_int_equal(id, heads[3]);
    assert_int_equal(len, NF_HDR + 60);
    nf_hdr_of(bufs[3], &h);
    assert_int_equal(h.num_buffers, 1);
    nf_assert_frame(bufs[3] + NF_HDR, 60, 4);
    assert_int_equal(nf_stats(t, 1, 0).net_rx_packets, 2);
    nf_guest_close(&g);
    nf_tw_free(t);
}

/* A guest that posts no rx buffers: every frame is dropped and counted
 * (rx_no_buffer), the daemon does not wait for it and serves another
 * guest's device meanwhile; once buffers come, new frames arrive. */
static void test_net_rx_no_buffers_drops(void **state)
{
    struct nf_world *t = nf_tw_new();
    struct rf_attach a = { .type = "net" };
    struct nf_guest g, other;
    struct nf_port *pt, *pt2;
    uint8_t *bufs[1], got[256];
    uint16_t heads[1], head;
    uint32_t id, len;
    (void)state;

    nf_net_up(t, &g, 1, 0, &a, NF_FEATURES);
    nf_net_up(t, &other, 2, 0, &a, NF_FEATURES);
    pt = nf_port_of(1, 0);
    pt2 = nf_port_of(2, 0);
    for (unsigned i = 0; i < 5; i++)
        nf_port_send(pt, 64, i);
    /* the other guest's frame goes out while dom 1 has no buffers */
    head = nf_tx_post(&other, NULL, 80, 11);
    assert_int_equal(nf_used_of(t, &other.tx, head), 0);
    assert_int_equal(nf_port_recv(pt2, got, sizeof(got)), 80);
    vd_pump(t->d, 5);
    assert_int_equal(nf_stats(t, 1, 0).net_rx_no_buffer, 5);
    assert_int_equal(nf_stats(t, 1, 0).net_rx_packets, 0);
    assert_int_equal(rf_backend_state(&g.rx), VG_XB_CONNECTED);

    /* buffers now: the next frame (not the dropped ones) arrives */
    nf_rx_post(&g, 1, 256, bufs, heads);
    nf_port_send(pt, 70, 42);
    assert_true(nf_rx_used(t, &g, &id, &len));
    assert_int_equal(id, heads[0]);
    assert_int_equal(len, NF_HDR + 70);
    nf_assert_frame(bufs[0] + NF_HDR, 70, 42);
    assert_int_equal(nf_stats(t, 1, 0).net_rx_no_buffer, 5);
    nf_guest_close(&g);
    nf_guest_close(&other);
    nf_tw_free(t);
}

static uint64_t stall_now;
static uint64_t stall_clock(void)
{
    return stall_now;
}

/* With --input-stall (vgrantd's default 2 s), frames for a guest with no
 * rx buffers wait for it, as on a NIC: none is dropped while it refills
 * late, each arrives in order once it posts buffers, and the daemon
 * neither spins on the readable tap nor holds up another guest.  A guest
 * that posts none for the whole stall loses the frames from then on,
 * counted, until it posts buffers again. */
static void test_hostile_net_rx_waits_for_buffers_then_drops(void **state)
{
    struct vgd_options o = { .input_stall_ms = 2000,
                             .clock_ms = stall_clock };
    struct nf_world *t;
    struct rf_attach a = { .type = "net" };
    struct nf_guest g, other;
    struct nf_port *pt, *pt2;
    uint8_t *bufs[3], got[256];
    uint16_t heads[3], head;
    uint32_t id, len;
    (void)state;

    stall_now = 5000;
    t = nf_tw_new_opts(&o);
    nf_net_up(t, &g, 1, 0, &a, NF_FEATURES);
    nf_net_up(t, &other, 2, 0, &a, NF_FEATURES);
    pt = nf_port_of(1, 0);
    pt2 = nf_port_of(2, 0);

    /* late refill: three frames wait, nothing dropped */
    for (unsigned i = 0; i < 3; i++)
        nf_port_send(pt, 60 + i, i);
    vd_pump(t->d, 5);
    stall_now += 1500;
    vd_pump(t->d, 5);
    assert_int_equal(nf_stats(t, 1, 0).net_rx_no_buffer, 0);
    assert_int_equal(nf_stats(t, 1, 0).net_rx_packets, 0);
    /* the other guest is served meanwhile */
    head = nf_tx_post(&other, NULL, 80, 11);
    assert_int_equal(nf_used_of(t, &other.tx, head), 0);
    assert_int_equal(nf_port_recv(pt2, got, sizeof(got)), 80);
    nf_rx_post(&g, 3, 256, bufs, heads);
    assert_int_equal(rf_kick(&g.rx), 0);        /* virtio_net kicks */
    for (unsigned i = 0; i < 3; i++) {
        assert_true(nf_rx_used(t, &g, &id, &len));
        assert_int_equal(id, heads[i]);
        assert_int_equal(len, NF_HDR + 60 + i);
        nf_assert_frame(bufs[i] + NF_HDR, 60 + i, i);
    }
    assert_int_equal(nf_stats(t, 1, 0).net_rx_no_buffer, 0);

    /* no refill at all: after the stall the frames go, counted, and the
     * next ones go at once while the ring stays empty */
    nf_port_send(pt, 64, 20);
    nf_port_send(pt, 64, 21);
    vd_pump(t->d, 5);
    assert_int_equal(nf_stats(t, 1, 0).net_rx_no_buffer, 0);
    stall_now += 2000;
    vd_pump(t->d, 5);
    assert_int_equal(nf_stats(t, 1, 0).net_rx_no_buffer, 2);
    nf_port_send(pt, 64, 22);
    vd_pump(t->d, 5);
    assert_int_equal(nf_stats(t, 1, 0).net_rx_no_buffer, 3);

    /* buffers again: the next frame arrives, and waiting starts afresh */
    nf_rx_post(&g, 1, 256, bufs, heads);
    assert_int_equal(rf_kick(&g.rx), 0);
    nf_port_send(pt, 70, 42);
    assert_true(nf_rx_used(t, &g, &id, &len));
    assert_int_equal(id, heads[0]);
    assert_int_equal(len, NF_HDR + 70);
    nf_assert_frame(bufs[0] + NF_HDR, 70, 42);
    nf_port_send(pt, 64, 23);
    vd_pump(t->d, 5);
    assert_int_equal(nf_stats(t, 1, 0).net_rx_no_buffer, 3);
    assert_int_equal(rf_backend_state(&g.rx), VG_XB_CONNECTED);
    nf_guest_close(&g);
    nf_guest_close(&other);
    nf_tw_free(t);
}

/* Buffers too small: without MRG_RXBUF one buffer must hold header and
 * frame; with it the first must hold the header and all the chains a
 * packet may span the packet.  Each such packet is dropped and counted,
 * its chains complete with used length 0, the next packet is served. */
static void test_net_rx_small_buffers(void **state)
{
    struct nf_world *t = nf_tw_new();
    struct rf_attach a = { .type = "net" };
    struct nf_guest g, m;
    struct nf_port *pt;
    uint8_t *bufs[17];
    uint16_t heads[17];
    uint32_t id, len;
    (void)state;

    /* no MRG_RXBUF: 100-byte buffer, 200-byte frame */
    nf_net_up(t, &g, 1, 0, &a, NF_FEATURES);
    pt = nf_port_of(1, 0);
    nf_rx_post(&g, 1, 100, bufs, heads);
    nf_port_send(pt, 200, 1);
    assert_true(nf_rx_used(t, &g, &id, &len));
    assert_int_equal(id, heads[0]);
    assert_int_equal(len, 0);
    assert_int_equal(nf_stats(t, 1, 0).net_rx_small_buffer, 1);
    lc_assert_has("MRG_RXBUF not negotiated");

    /* MRG_RXBUF: a first buffer smaller than the header */
    nf_net_up(t, &m, 2, 0, &a, NF_FEATURES |
                            VG_FEATURE(VIRTIO_NET_F_MRG_RXBUF));
    pt = nf_port_of(2, 0);
    nf_rx_post(&m, 1, 8, bufs, heads);
    nf_rx_post(&m, 1, 50, bufs + 1, heads + 1);
    nf_port_send(pt, 30, 2);
    /* the packet took both (8 + 50 >= 12 + 30); both come back empty */
    for (unsigned i = 0; i < 2; i++) {
        assert_true(nf_rx_used(t, &m, &id, &len));
        assert_int_equal(id, heads[i]);
        assert_int_equal(len, 0);
    }
    assert_int_equal(nf_stats(t, 2, 0).net_rx_small_buffer, 1);
    lc_assert_has("smaller than the 12-byte header");
    /* a 2000-byte buffer takes the next frame */
    nf_rx_post(&m, 1, 2000, bufs + 1, heads + 1);
    nf_port_send(pt, 100, 3);
    assert_true(nf_rx_used(t, &m, &id, &len));
    assert_int_equal(id, heads[1]);
    assert_int_equal(len, NF_HDR + 100);
    nf_assert_frame(bufs[1] + NF_HDR, 100, 3);

    /* 16 buffers of 64 bytes (the most one packet spans) cannot hold a
     * 1500-byte frame: all 16 complete empty, the 17th is left */
    nf_rx_post(&m, 17, 64, bufs, heads);
    nf_port_send(pt, 1500, 4);
    for (unsigned i = 0; i < 16; i++) {
        assert_true(nf_rx_used(t, &m, &id, &len));
        assert_int_equal(id, heads[i]);
        assert_int_equal(len, 0);
    }
    assert_false(nf_rx_used(t, &m, &id, &len));
    assert_int_equal(nf_stats(t, 2, 0).net_rx_small_buffer, 2);
    assert_int_equal(nf_stats(t, 2, 0).net_rx_packets, 1);
    nf_guest_close(&g);
    nf_guest_close(&m);
    nf_tw_free(t);
}

/* Frames from the port that are not Ethernet frames of this MTU (shorter
 * than the Ethernet header, longer than MTU + 18) are dropped before
 * they take a guest buffer. */
static void test_net_rx_bad_port_frames(void **state)
{
    struct nf_world *t = nf_tw_new();
    struct rf_attach a = { .type = "net", .mtu = "576" };
    struct nf_guest g;
    struct nf_port *pt;
    uint8_t *bufs[1];
    uint16_t heads[1];
    uint32_t id, len;
    (void)state;

    nf_net_up(t, &g, 1, 0, &a, NF_FEATURES |
                            VG_FEATURE(VIRTIO_NET_F_MRG_RXBUF));
    pt = nf_port_of(1, 0);
    nf_rx_post(&g, 1, 4096, bufs, heads);
    nf_port_send(pt, 10, 1);
    nf_port_send(pt, 576 + 19, 2);
    nf_port_send(pt, 576 + 18, 3);
    assert_true(nf_rx_used(t, &g, &id, &len));
    assert_int_equal(id, heads[0]);
    assert_int_equal(len, NF_HDR + 576 + 18);
    nf_assert_frame(bufs[0] + NF_HDR, 576 + 18, 3);
    assert_int_equal(nf_stats(t, 1, 0).net_rx_bad_length, 2);
    lc_assert_has("gave a short frame (10 bytes");
    lc_assert_has("gave a long frame (595 bytes");
    nf_guest_close(&g);
    nf_tw_free(t);
}

/* rx chains that are not device-writable only: the packet is dropped,
 * the chain completes, the device keeps serving. */
static void test_net_rx_readable_chain(void **state)
{
    struct nf_world *t = nf_tw_new();
    struct rf_attach a = { .type = "net" };
    struct nf_guest g;
    struct nf_port *pt;
    struct rf_buf b[2];
    uint8_t *p;
    uint16_t head, heads[1];
    uint32_t id, len;
    (void)state;

    nf_net_up(t, &g, 1, 0, &a, NF_FEATURES);
    pt = nf_port_of(1, 0);
    nf_buf(&g.rx, 0, 64, false, &b[0]);
    nf_buf(&g.rx, 0, 2048, true, &b[1]);
    head = rf_add_chain(&g.rx, b, 2);
    nf_port_send(pt, 100, 1);
    assert_true(nf_rx_used(t, &g, &id, &len));
    assert_int_equal(id, head);
    assert_int_equal(len, 0);
    assert_int_equal(nf_stats(t, 1, 0).net_rx_bad_chain, 1);
    nf_rx_post(&g, 1, 2048, &p, heads);
    nf_port_send(pt, 100, 2);
    assert_true(nf_rx_used(t, &g, &id, &len));
    assert_int_equal(id, heads[0]);
    assert_int_equal(len, NF_HDR + 100);
    nf_guest_close(&g);
    nf_tw_free(t);
}

/* Every transport mode carries frames both ways. */
static void test_net_every_mode(void **state)
{
    static const char *const modes[] = { "grant", "copy", "auto",
                                         "persistent" };
    (void)state;

    for (unsigned i = 0; i < 4; i++) {
        struct nf_world *t = nf_tw_new();
        struct rf_attach a = { .type = "net", .mode = modes[i] };
        struct nf_guest g;
        struct nf_port *pt;
        uint8_t *bufs[2], got[2048];
        uint16_t heads[2], head;
        uint32_t id, len;

        nf_net_up(t, &g, 1, 0, &a, NF_FEATURES |
                                VG_FEATURE(VIRTIO_NET_F_MRG_RXBUF));
        pt = nf_port_of(1, 0);
        head = nf_tx_post(&g, NULL, 1000, i);
        assert_int_equal(nf_used_of(t, &g.tx, head), 0);
        assert_int_equal(nf_port_recv(pt, got, sizeof(got)), 1000);
        nf_assert_frame(got, 1000, i);
        nf_rx_post(&g, 2, 1024, bufs, heads);
        nf_port_send(pt, 1500, i + 10);
        assert_true(nf_rx_used(t, &g, &id, &len));
        assert_int_equal(len, 1024);
        memcpy(got, bufs[0], 1024);
        assert_true(nf_rx_used(t, &g, &id, &len));
        assert_int_equal(len, NF_HDR + 1500 - 1024);
        memcpy(got + 1024, bufs[1], len);
        assert_int_equal(((struct virtio_net_hdr *)got)->num_buffers, 2);
        nf_assert_frame(got + NF_HDR, 1500, i + 10);
        nf_guest_close(&g);
        nf_tw_free(t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_net_rx_one_buffer),
        cmocka_unit_test(test_net_rx_mergeable),
        cmocka_unit_test(test_net_rx_no_buffers_drops),
        cmocka_unit_test(test_hostile_net_rx_waits_for_buffers_then_drops),
        cmocka_unit_test(test_net_rx_small_buffers),
        cmocka_unit_test(test_net_rx_bad_port_frames),
        cmocka_unit_test(test_net_rx_readable_chain),
        cmocka_unit_test(test_net_every_mode),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
