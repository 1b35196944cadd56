/* SPDX-License-Identifier: MIT */
/*
 * The net model's port in vgrantd: a tap interface in the backend domain.
 *
 * vgrantd creates it itself (no hotplug script): /dev/net/tun with
 * IFF_TAP | IFF_NO_PI, so every read is one Ethernet frame and every
 * write sends one, non-blocking.  The tap is not persistent: it exists
 * while vgrantd holds the fd, so closing the fd (device gone, daemon
 * exit or crash) removes the interface and takes it out of its bridge.
 *
 * Its MAC is fe:ff:ff:ff:ff:ff, as Xen's vif-bridge does for netback's
 * vifs: a bridge takes the lowest MAC of its ports as its own, and this
 * one is never the lowest, so adding a guest does not change the
 * bridge's address.  (The guest's own MAC, key mac, is in the config
 * space; the tap is the wire, not the guest.)
 *
 * Creating a tap and adding it to a bridge needs CAP_NET_ADMIN, which
 * vgrantd has as root in dom0.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"
#include "vgrant/xsutil.h"

#define TUN_PATH "/dev/net/tun"

static void ifreq_named(struct ifreq *ifr, const char *name)
{
    memset(ifr, 0, sizeof(*ifr));
    /* names were validated: at most VG_IFNAME_MAX < IFNAMSIZ characters */
    snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", name);
}

/* MAC, MTU and up, through a socket for the interface ioctls. */
static int configure(int s, const struct vgd_net_port_params *p, char *err,
                     size_t errlen)
{
    struct ifreq ifr;

    ifreq_named(&ifr, p->ifname);
    ifr.ifr_hwaddr.sa_family = 1;   /* ARPHRD_ETHER */
    memset(ifr.ifr_hwaddr.sa_data, 0xff, 6);
    ifr.ifr_hwaddr.sa_data[0] = (char)0xfe;
    if (ioctl(s, SIOCSIFHWADDR, &ifr)) {
        vg_errf(err, errlen, "tap %s: cannot set its MAC: %s", p->ifname,
                strerror(errno));
        return -1;
    }
    ifreq_named(&ifr, p->ifname);
    ifr.ifr_mtu = (int)p->mtu;
    if (ioctl(s, SIOCSIFMTU, &ifr)) {
        vg_errf(err, errlen, "tap %s: cannot set MTU %u: %s%s", p->ifname,
                p->mtu, strerror(errno),
                errno == EINVAL ? " (Linux taps take 68 to 65521)" : "");
        return -1;
    }
    ifreq_named(&ifr, p->ifname);
    if (ioctl(s, SIOCGIFFLAGS, &ifr)) {
        vg_errf(err, errlen, "tap %s: cannot read its flags: %s", p->ifname,
                strerror(errno));
        return -1;
    }
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr)) {
        vg_errf(err, errlen, "tap %s: cannot bring it up: %s", p->ifname,
                strerror(errno));
        return -1;
    }
    return 0;
}

static int join_bridge(int s, const struct vgd_net_port_params *p, char *err,
                       size_t errlen)
{
    struct ifreq ifr;
    unsigned idx = if_nametoindex(p->ifname);

    if (!idx) {
        vg_errf(err, errlen, "tap %s: no interface index: %s", p->ifname,
                strerror(errno));
        return -1;
    }
    ifreq_named(&ifr, p->bridge);
    ifr.ifr_ifindex = (int)idx;
    if (ioctl(s, SIOCBRADDIF, &ifr)) {
        vg_errf(err, errlen, "bridge %s: cannot add tap %s: %s%s", p->bridge,
                p->ifname, strerror(errno),
                errno == ENODEV ? " (no such bridge in the backend domain?)"
                : errno == EOPNOTSUPP || errno == EINVAL ?
                  " (is it a bridge?)" : "");
        return -1;
    }
    return 0;
}

static int tap_open(const struct vgd_net_port_params *p, char *err,
                    size_t errlen)
{
    struct ifreq ifr;
    int fd, s = -1;

    fd = open(TUN_PATH, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        vg_errf(err, errlen, "tap %s: cannot open " TUN_PATH ": %s%s",
                p->ifname, strerror(errno),
                errno == ENOENT ? " (modprobe tun)" : "");
        return -1;
    }
    ifreq_named(&ifr, p->ifname);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (ioctl(fd, TUNSETIFF, &ifr)) {
        vg_errf(err, errlen, "tap %s: cannot create it: %s%s", p->ifname,
                strerror(errno),
                errno == EBUSY ? " (an interface of that name is in use: "
                                 "choose another with vif=)"
                : errno == EPERM ? " (vgrantd needs CAP_NET_ADMIN)" : "");
        goto fail;
    }
    s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        vg_errf(err, errlen, "tap %s: no socket to configure it: %s",
                p->ifname, strerror(errno));
        goto fail;
    }
    if (configure(s, p, err, errlen) ||
        (p->bridge[0] && join_bridge(s, p, err, errlen)))
        goto fail;
    close(s);
    return fd;
fail:
    if (s >= 0)
        close(s);
    close(fd);              /* not persistent: the tap goes with it */
    return -1;
}

static void tap_close(int fd, const struct vgd_net_port_params *p)
{
    (void)p;
    /* the kernel takes it out of the bridge and deletes it */
    close(fd);
}

const struct vgd_net_port_ops vgd_net_tap = {
    .open = tap_open,
    .close = tap_close,
};
