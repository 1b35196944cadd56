/* SPDX-License-Identifier: MIT */
/*
 * vgrant-io rng: read a virtio-rng device through libvgrant and check that
 * the bytes look random (no repeated 16-byte blocks, no constant runs).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "libvgrant.h"
#include "vgf_bench.h"
#include "vgf_check.h"
#include "vgf_verify.h"
#include "vgrant_blk.h"
#include "vgrant/clock.h"
#include "vgrant/hyp.h"
#include "vgrant/log.h"
#include "vgrant/xsutil.h"
#include "vgrant_io.h"

/* Open for the command and closed before it returns. */
static struct vg_hyp *hyp;

static int cmp_block16(const void *a, const void *b)
{
    return memcmp(*(const uint8_t *const *)a, *(const uint8_t *const *)b, 16);
}

/* What random bytes must not look like: all zero, a 16-byte block seen
 * twice, a byte value missing from 16 KiB or more.  NULL if fine. */
static const char *rng_suspicious(const uint8_t *p, size_t n)
{
    size_t nonzero = 0, nblocks = n / 16;
    unsigned hist[256] = { 0 };
    const uint8_t **blocks;
    const char *why = NULL;

    for (size_t i = 0; i < n; i++) {
        nonzero += p[i] != 0;
        hist[p[i]]++;
    }
    if (n && !nonzero)
        return "every byte is zero";
    if (n >= 16384)
        for (unsigned v = 0; v < 256; v++)
            if (!hist[v])
                return "a byte value never occurs";
    if (nblocks < 2)
        return NULL;
    blocks = malloc(nblocks * sizeof(*blocks));
    if (!blocks)
        return NULL;
    for (size_t i = 0; i < nblocks; i++)
        blocks[i] = p + 16 * i;
    qsort(blocks, nblocks, sizeof(*blocks), cmp_block16);
    for (size_t i = 1; i < nblocks && !why; i++)
        if (!memcmp(blocks[i - 1], blocks[i], 16))
            why = "a 16-byte block repeats";
    free(blocks);
    return why;
}

/* Read --length bytes (default 64K) from a virtio-rng device in requests
 * of --sizes[0] bytes (default 64, what Linux's virtio_rng asks for), up
 * to --depth in flight, and check they look random. */
int cmd_rng(const struct cli *c, bool sizes_given)
{
    uint64_t total = c->have_length ? c->length : 65536;
    uint64_t bufsz = sizes_given ? c->sizes[0] : 64;
    uint64_t got = 0, queued = 0, requests = 0, shorts = 0;
    unsigned depth = c->depth, inflight = 0;
    uint8_t *out = NULL, *slots = NULL;
    bool *busy = NULL;
    struct vgf_dev *d = NULL;
    const char *why;
    double t0, secs;
    int rc = EXIT_MISMATCH;

    if (total == 0 || total > (256u << 20) || bufsz == 0 ||
        bufsz > (1u << 20)) {
        fprintf(stderr, "vgrant-io rng: --length must be in [1, 256M] and "
                "the buffer size (--sizes) in [1, 1M]\n");
        return EXIT_USAGE;
    }
    hyp = vg_hyp_xen_open(VG_HYP_NEED_GNTSHR | VG_HYP_NEED_EVTCHN |
                          VG_HYP_NEED_XS);
    if (!hyp) {
        fprintf(stderr, "vgrant-io: opening Xen interfaces: %s (run inside a "
                "Xen guest, as root, with xen gntalloc/evtchn available)\n",
                strerror(errno));
        return EXIT_USAGE;
    }
    d = vgf_open(hyp, c->devid, &c->opts);
    if (!d) {
        fprintf(stderr, "vgrant-io: opening virtio-grant device %u: %s\n",
                c->devid, strerror(errno));
        rc = EXIT_USAGE;
        goto out;
    }
    if (vgf_device_id(d) != VIRTIO_ID_RNG) {
        fprintf(stderr, "vgrant-io rng: device %u is not a virtio-rng (device "
                "id %u)\n", c->devid, vgf_device_id(d));
        rc = EXIT_USAGE;
        goto out;
    }
    if (depth > vgf_queue_size(d))
        depth = vgf_queue_size(d);
    out = malloc(total);
    slots = malloc(depth * bufsz);
    busy = calloc(depth, sizeof(*busy));
    if (!out || !slots || !busy) {
        fprintf(stderr, "vgrant-io rng: out of memory\n");
        goto out;
    }
    t0 = vg_now_s();
    while (got < total) {
        void *cookie;
        uint32_t len = 0;
        unsigned slot;

        /* keep depth requests in flight while bytes are still wanted */
        while (inflight < depth && queued < total - got) {
            struct vgf_iov in;

            for (slot = 0; slot < depth && busy[slot]; slot++)
                ;
            in = (struct vgf_iov){ slots + (size_t)slot * bufsz,
                                   (size_t)bufsz };
            if (vgf_submit(d, 0, NULL, 0, &in, 1,
                           (void *)(uintptr_t)(slot + 1))) {
                fprintf(stderr, "vgrant-io rng: submit: %s\n",
                        strerror(errno));
                goto out;
            }
            busy[slot] = true;
            inflight++;
            queued += bufsz;
        }
        if (vgf_complete(d, 0, &cookie, &len, -1)) {
            fprintf(stderr, "vgrant-io rng: request %" PRIu64 " failed: %s\n",
                    requests, strerror(errno));
            goto out;
        }
        inflight--;
        queued -= bufsz;
        requests++;
        slot = (unsigned)((uintptr_t)cookie - 1);
        busy[slot] = false;
        if (len == 0) {
            fprintf(stderr, "vgrant-io rng: request %" PRIu64 " completed "
                    "with no bytes\n", requests);
            goto out;
        }
        if (len < bufsz)
            shorts++;
        if (len > total - got)
            len = (uint32_t)(total - got);
        memcpy(out + got, slots + (size_t)slot * bufsz, len);
        got += len;
    }
    /* requests still in flight: collect them (their bytes are not kept) */
    while (inflight) {
        void *cookie;
        uint32_t len;

        if (vgf_complete(d, 0, &cookie, &len, -1))
            break;
        inflight--;
    }
    secs = vg_now_s() - t0;
    why = rng_suspicious(out, (size_t)total);
    printf("rng: device %u (virtio-rng), mode %s, backend domain %u: %" PRIu64
           " bytes in %" PRIu64 " requests of %" PRIu64 " bytes (%" PRIu64
           " short), %.3f s, %.0f bytes/s\n", c->devid, vgf_mode(d),
           vgf_backend_id(d), got, requests, bufsz, shorts, secs,
           secs > 0 ? (double)got / secs : 0.0);
    if (why) {
        fprintf(stderr, "vgrant-io rng: the bytes do not look random: %s\n",
                why);
        goto out;
    }
    printf("RNG-OK bytes=%" PRIu64 " requests=%" PRIu64 " short=%" PRIu64
           " ms=%.0f\n", got, requests, shorts, secs * 1000.0);
    rc = 0;
out:
    free(out);
    free(slots);
    free(busy);
    if (d)
        vgf_close(d);
    vg_hyp_close(hyp);
    hyp = NULL;
    return rc;
}
