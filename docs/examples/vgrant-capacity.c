/* SPDX-License-Identifier: MIT */
/*
 * The smallest libvgrant program: open virtio-grant block device DEVID of
 * this guest, print its capacity and read its first sector.  Build it
 * against the installed library (package libvgrant-dev):
 *
 *   cc -o vgrant-capacity vgrant-capacity.c $(pkg-config --cflags --libs vgrant)
 *
 * Run it in a guest as root (modprobe xen-gntalloc xen-evtchn).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libvgrant.h>
#include <vgrant_blk.h>
#include <vgrant/log.h>

int main(int argc, char **argv)
{
    unsigned char sector[512];
    struct vg_hyp *h;
    struct vgf_blk *b;
    unsigned devid;
    char *end;
    int rc = 1;

    if (argc != 2 || (devid = (unsigned)strtoul(argv[1], &end, 10), *end)) {
        fprintf(stderr, "usage: %s DEVID\n", argv[0]);
        return 2;
    }
    vg_log_init("vgrant-capacity", VG_LOG_WARN);
    h = vg_hyp_xen_open(VG_HYP_NEED_GNTSHR | VG_HYP_NEED_EVTCHN | VG_HYP_NEED_XS);
    if (!h) {
        fprintf(stderr, "vgrant-capacity: cannot open the Xen interfaces: %s\n",
                strerror(errno));
        return 1;
    }
    b = vgf_blk_open(h, devid, NULL);
    if (!b) {
        fprintf(stderr, "vgrant-capacity: device %u: %s\n", devid, strerror(errno));
        goto out;
    }
    printf("device %u: %llu bytes%s, mode %s\n", devid,
           (unsigned long long)vgf_blk_capacity(b),
           vgf_blk_readonly(b) ? " (read-only)" : "", vgf_mode(vgf_blk_dev(b)));
    if (vgf_blk_read(b, 0, sector, sizeof(sector)))
        fprintf(stderr, "vgrant-capacity: reading sector 0: %s\n", strerror(errno));
    else
        rc = 0;
    vgf_blk_close(b);
out:
    vg_hyp_close(h);
    return rc;
}
