/* SPDX-License-Identifier: MIT */
/*
 * A manual check of vgrantd's tap (backend/net_tap.c), which the unit
 * tests replace by a socketpair: it needs root (CAP_NET_ADMIN) and
 * /dev/net/tun, and creates network interfaces, so `make test` does not
 * run it.  Build and run by hand, as root, on a machine where a scratch
 * bridge does no harm:
 *
 *   make && cc -D_GNU_SOURCE -Ibackend -Iinclude \
 *       -o /tmp/net_tap_check tests/manual/net_tap_check.c \
 *       build/lib/libvgbackend.a build/lib/libvgcommon.a
 *   ip link add vgtbr0 type bridge && ip link set vgtbr0 up
 *   /tmp/net_tap_check vgt9.0 vgtbr0 9000     # name, bridge ("" none), MTU
 *   ip link del vgtbr0
 *
 * It opens the tap as vgrantd does, prints `ip -d link` (expect: UP, the
 * MTU, link/ether fe:ff:ff:ff:ff:ff, master <bridge>), writes one
 * 64-byte broadcast frame (the tap's RX counters show it), waits up to a
 * second for a frame from the bridge, closes the fd and prints `ip link`
 * again (expect: the device does not exist).  Exit 1 if the open fails,
 * with vgrantd's error text.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "net.h"

static void sh(const char *fmt, const char *arg)
{
    char cmd[256];

    snprintf(cmd, sizeof(cmd), fmt, arg);
    fflush(stdout);
    if (system(cmd) < 0)
        perror(cmd);
}

int main(int argc, char **argv)
{
    struct vgd_net_port_params p = { .domid = 0, .devid = 0 };
    unsigned char out[64] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                              0x02, 0, 0, 0, 0, 1, 0x88, 0xb5 };
    unsigned char in[65536];
    struct pollfd pf;
    char err[256];
    ssize_t n;
    int fd;

    if (argc != 4) {
        fprintf(stderr, "usage: %s IFNAME BRIDGE|\"\" MTU\n", argv[0]);
        return 2;
    }
    p.ifname = argv[1];
    p.bridge = argv[2];
    p.mtu = (unsigned)atoi(argv[3]);
    fd = vgd_net_tap.open(&p, err, sizeof(err));
    if (fd < 0) {
        printf("open: %s\n", err);
        return 1;
    }
    sh("ip -d link show dev %s | head -3", p.ifname);
    printf("write 64-byte frame: %zd\n", write(fd, out, sizeof(out)));
    sh("ip -s link show dev %s | sed -n 3,4p", p.ifname);
    pf = (struct pollfd){ .fd = fd, .events = POLLIN };
    n = poll(&pf, 1, 1000) > 0 ? read(fd, in, sizeof(in)) : -1;
    printf("a frame from the bridge within 1 s: %zd bytes\n", n);
    vgd_net_tap.close(fd, &p);
    printf("closed\n");
    sh("ip link show dev %s 2>&1 | head -1", p.ifname);
    return 0;
}
