/* SPDX-License-Identifier: MIT */
/*
 * vg-hostile: a test-only hostile frontend for the e2e fault scenarios.
 * Runs in a guest against the real hypervisor (hyp_xen) and a real
 * vgrantd.  It connects to virtio-grant device DEVID like a frontend
 * would (one queue of 16 entries, rings in granted pages, one event
 * channel), then:
 *
 *   flood    notifies the backend in a tight loop while the guest's
 *            xenstore key data/<key> (default hostile-cmd) reads "flood"
 *            or until --seconds have passed; the ring stays empty, so every
 *            event is work for nothing;
 *   garbage  breaks the ring the way --garbage says and waits (10 s at
 *            most) for the backend to close the device:
 *              loop   a descriptor chain that loops (0 -> 1 -> 0)
 *              avail  an avail index num + 7 entries ahead of used
 *              len    a descriptor of 1 GiB through an ungranted ref
 *
 * Output lines (the e2e scenario greps them):
 *   HOSTILE-CONNECTED dev D port P
 *   HOSTILE-FLOOD dev D notifies N in S.S s (R/s)
 *   HOSTILE-GARBAGE dev D KIND
 *   HOSTILE-CLOSED dev D backend state S after T ms
 *   HOSTILE-NOT-CLOSED dev D backend state S
 * Exit status: 0 when the backend closed the device after the garbage
 * (or no garbage was asked for), 1 when it did not, 2 on setup errors.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vgrant/clock.h"
#include "vgrant/hyp.h"
#include "vgrant/log.h"
#include "vgrant/protocol.h"
#include "vgrant/virtio.h"
#include "vgrant/xsutil.h"

#define QNUM 16u

struct hostile {
    struct vg_hyp *h;
    unsigned devid;
    uint16_t be_domid;
    char fe[VG_XS_PATH_MAX];
    char be[VG_XS_PATH_MAX];
    char data[VG_XS_PATH_MAX];
    struct vring_desc *desc;
    struct vring_avail *avail;
    struct vring_used *used;
    vg_gref_t desc_ref, avail_ref, used_ref;
    int port;
};

static void die(const char *what)
{
    fprintf(stderr, "vg-hostile: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void *share_one(struct hostile *x, vg_gref_t *ref)
{
    void *p = x->h->ops->share_pages(x->h, x->be_domid, 1, ref, true);

    if (!p)
        die("share_pages");
    return p;
}

static enum vg_xenbus_state wait_backend(struct hostile *x, unsigned want,
                                         uint64_t timeout_ms)
{
    uint64_t end = vg_now_ms() + timeout_ms;
    enum vg_xenbus_state s;

    for (;;) {
        s = vg_xs_read_state(x->h, x->be);
        if ((unsigned)s >= want || vg_now_ms() >= end)
            return s;
        usleep(50 * 1000);
    }
}

static void connect_dev(struct hostile *x)
{
    uint64_t beid;
    char *be;
    enum vg_xenbus_state s;

    vg_path(x->fe, sizeof(x->fe), "/local/domain/%u/device/" VG_XS_CLASS
            "/%u", x->h->domid, x->devid);
    vg_path(x->data, sizeof(x->data), "/local/domain/%u/data", x->h->domid);
    for (int i = 0; i < 600; i++) {
        if (!vg_xs_read_uint(x->h, VG_XS_NO_TX, x->fe, VG_KEY_BACKEND_ID,
                             0x7fef, &beid))
            break;
        usleep(100 * 1000);
    }
    if (vg_xs_read_uint(x->h, VG_XS_NO_TX, x->fe, VG_KEY_BACKEND_ID, 0x7fef,
                        &beid))
        die("reading backend-id");
    be = vg_xs_read_str(x->h, VG_XS_NO_TX, x->fe, VG_KEY_BACKEND);
    if (!be)
        die("reading backend");
    vg_copy_trunc(x->be, sizeof(x->be), be);
    free(be);
    x->be_domid = (uint16_t)beid;

    s = wait_backend(x, VG_XB_INITWAIT, 30000);
    if (s != VG_XB_INITWAIT) {
        fprintf(stderr, "vg-hostile: backend state %u, not InitWait\n", s);
        exit(2);
    }
    x->desc = share_one(x, &x->desc_ref);
    x->avail = share_one(x, &x->avail_ref);
    x->used = share_one(x, &x->used_ref);
    x->port = x->h->ops->evtchn_bind_unbound(x->h, x->be_domid);
    if (x->port < 0)
        die("evtchn_bind_unbound");

    if (vg_xs_write_fmt(x->h, 0, x->fe, VG_KEY_FEATURES, "0x%llx",
                        (unsigned long long)VG_FEATURES_REQUIRED) ||
        vg_xs_write_fmt(x->h, 0, x->fe, VG_KEY_NUM_QUEUES, "1") ||
        vg_xs_write_fmt(x->h, 0, x->fe, "queue-0/size", "%u", QNUM) ||
        vg_xs_write_fmt(x->h, 0, x->fe, "queue-0/desc", "0x%llx",
                        (unsigned long long)vg_grant_addr(x->desc_ref, 0)) ||
        vg_xs_write_fmt(x->h, 0, x->fe, "queue-0/driver", "0x%llx",
                        (unsigned long long)vg_grant_addr(x->avail_ref, 0)) ||
        vg_xs_write_fmt(x->h, 0, x->fe, "queue-0/device", "0x%llx",
                        (unsigned long long)vg_grant_addr(x->used_ref, 0)) ||
        vg_xs_write_fmt(x->h, 0, x->fe, "queue-0/event-channel", "%d",
                        x->port) ||
        vg_xs_write_state(x->h, x->fe, VG_XB_INITIALISED))
        die("writing the frontend keys");
    s = wait_backend(x, VG_XB_CONNECTED, 30000);
    if (s != VG_XB_CONNECTED) {
        fprintf(stderr, "vg-hostile: backend state %u, not Connected\n", s);
        exit(2);
    }
    vg_xs_write_state(x->h, x->fe, VG_XB_CONNECTED);
    printf("HOSTILE-CONNECTED dev %u port %d\n", x->devid, x->port);
    fflush(stdout);
}

static bool keep_flooding(struct hostile *x, const char *key, uint64_t end)
{
    char *v;
    bool go;

    if (vg_now_ms() >= end)
        return false;
    if (!key)
        return true;
    v = vg_xs_read_str(x->h, VG_XS_NO_TX, x->data, key);
    go = v && !strcmp(v, "flood");
    free(v);
    return go;
}

static void flood(struct hostile *x, const char *key, unsigned seconds)
{
    uint64_t t0 = vg_now_ms(), end = t0 + (uint64_t)seconds * 1000, n = 0;
    uint64_t next_check = t0;
    double s;

    for (;;) {
        uint64_t now;

        if (x->h->ops->evtchn_notify(x->h, (vg_port_t)x->port))
            die("evtchn_notify");
        n++;
        if ((n & 1023) == 0) {
            /* drain our own pending events so the fd does not fill */
            int p;

            while ((p = x->h->ops->evtchn_pending(x->h)) >= 0)
                x->h->ops->evtchn_unmask(x->h, (vg_port_t)p);
            now = vg_now_ms();
            if (now >= next_check) {
                next_check = now + 200;
                if (!keep_flooding(x, key, end))
                    break;
            }
        }
    }
    s = (double)(vg_now_ms() - t0) / 1000.0;
    printf("HOSTILE-FLOOD dev %u notifies %" PRIu64 " in %.1f s (%.0f/s)\n",
           x->devid, n, s, s > 0 ? (double)n / s : 0.0);
    fflush(stdout);
}

static void publish(struct hostile *x, uint16_t idx)
{
    __atomic_store_n(&x->avail->idx, idx, __ATOMIC_RELEASE);
    x->h->ops->evtchn_notify(x->h, (vg_port_t)x->port);
}

static int garbage(struct hostile *x, const char *kind)
{
    uint16_t used_idx = __atomic_load_n(&x->used->idx, __ATOMIC_ACQUIRE);
    uint64_t t0;
    enum vg_xenbus_state s;
    vg_gref_t hdr_ref;
    uint8_t *hdr = share_one(x, &hdr_ref);

    memset(hdr, 0, 16);   /* a read request header: type IN, sector 0 */
    if (!strcmp(kind, "loop")) {
        x->desc[0] = (struct vring_desc){ vg_grant_addr(hdr_ref, 0), 16,
                                          VRING_DESC_F_NEXT, 1 };
        x->desc[1] = (struct vring_desc){ vg_grant_addr(hdr_ref, 0), 16,
                                          VRING_DESC_F_NEXT, 0 };
        x->avail->ring[used_idx % QNUM] = 0;
        publish(x, (uint16_t)(used_idx + 1));
    } else if (!strcmp(kind, "avail")) {
        for (unsigned i = 0; i < QNUM; i++)
            x->avail->ring[i] = 0xbeef;
        publish(x, (uint16_t)(used_idx + QNUM + 7));
    } else if (!strcmp(kind, "len")) {
        x->desc[0] = (struct vring_desc){ vg_grant_addr(hdr_ref, 0), 16,
                                          VRING_DESC_F_NEXT, 1 };
        x->desc[1] = (struct vring_desc){ vg_grant_addr(0xfffff, 0),
                                          1u << 30, VRING_DESC_F_WRITE, 0 };
        x->avail->ring[used_idx % QNUM] = 0;
        publish(x, (uint16_t)(used_idx + 1));
    } else {
        fprintf(stderr, "vg-hostile: unknown garbage '%s'\n", kind);
        exit(2);
    }
    printf("HOSTILE-GARBAGE dev %u %s\n", x->devid, kind);
    fflush(stdout);
    t0 = vg_now_ms();
    s = wait_backend(x, VG_XB_CLOSING, 10000);
    if (s >= VG_XB_CLOSING && s <= VG_XB_CLOSED) {
        printf("HOSTILE-CLOSED dev %u backend state %u after %" PRIu64 " ms\n",
               x->devid, s, vg_now_ms() - t0);
        return 0;
    }
    printf("HOSTILE-NOT-CLOSED dev %u backend state %u\n", x->devid, s);
    return 1;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: vg-hostile DEVID [--flood-key KEY] [--seconds S] "
               "[--garbage loop|avail|len|none]\n"
               "  (test-only hostile frontend; see the source header)\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "flood-key", required_argument, NULL, 'k' },
        { "seconds", required_argument, NULL, 's' },
        { "garbage", required_argument, NULL, 'g' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct hostile x;
    const char *key = NULL, *kind = "loop";
    unsigned seconds = 0;
    uint64_t v;
    int opt, rc = 0;

    memset(&x, 0, sizeof(x));
    vg_log_init("vg-hostile", VG_LOG_WARN);
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'k': key = optarg; break;
        case 's':
            if (vg_parse_uint(optarg, 3600, &v)) {
                usage(stderr);
                return 2;
            }
            seconds = (unsigned)v;
            break;
        case 'g': kind = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind + 1 != argc || vg_parse_uint(argv[optind], VG_MAX_DEVID, &v)) {
        usage(stderr);
        return 2;
    }
    x.devid = (unsigned)v;
    if (key && !seconds)
        seconds = 3600;

    x.h = vg_hyp_xen_open(VG_HYP_NEED_GNTSHR | VG_HYP_NEED_EVTCHN |
                          VG_HYP_NEED_XS);
    if (!x.h)
        die("opening Xen");
    connect_dev(&x);
    if (seconds)
        flood(&x, key, seconds);
    if (strcmp(kind, "none"))
        rc = garbage(&x, kind);
    /* leave the grants to the kernel: the process exits, gntalloc revokes
     * them once the backend has unmapped */
    vg_hyp_close(x.h);
    return rc;
}
