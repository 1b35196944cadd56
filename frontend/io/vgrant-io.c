/* SPDX-License-Identifier: MIT */
/*
 * vgrant-io: verified block I/O from inside a guest over a virtio-grant
 * device (libvgrant + vgrant_blk), and reading a virtio-rng device.  See
 * usage() for the manual; the rng command is vgrant-io-rng.c.
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

static void usage(FILE *f)
{
    fprintf(f,
"NAME\n"
"    vgrant-io - verified block I/O on a virtio-grant device, from the guest\n"
"\n"
"SYNOPSIS\n"
"    vgrant-io info   DEVID [COMMON]\n"
"    vgrant-io verify DEVID [--sizes LIST] [--offsets LIST | --stride BYTES]\n"
"                           [--count N] [--depth D] [--seed S] [--span BYTES]\n"
"                           [--rounds N] [--reconnect]\n"
"                           [COMMON]\n"
"    vgrant-io write  DEVID --offset O --length L [--seed S] [COMMON]\n"
"    vgrant-io seqwrite DEVID --length L [--offset O] [--span BYTES]\n"
"                           [--seed S] [--count N | --stop-file F]\n"
"                           [--reconnect] [COMMON]\n"
"    vgrant-io cksum  DEVID --offset O --length L [COMMON]\n"
"    vgrant-io read   DEVID --offset O --length L [COMMON] > FILE\n"
"    vgrant-io rng    DEVID [--length L] [--sizes B] [--depth D] [COMMON]\n"
"    vgrant-io bench | bench-file | memcpy ...   (see BENCHMARKS)\n"
"\n"
"DESCRIPTION\n"
"    Opens virtio-grant device DEVID of this domain (xenstore\n"
"    /local/domain/<self>/device/virtio-grant/DEVID), connects to its\n"
"    backend (vgrantd) and does block I/O through pages granted per\n"
"    request.  Needs /dev/xen/gntalloc, /dev/xen/evtchn and xenstore access.\n"
"    Sizes and offsets take K, M, G suffixes (binary units).\n"
"\n"
"    info     Print the negotiated features, capacity, read-only flag,\n"
"             seg_max, size_max, block size, queue size, transport mode and\n"
"             device id.\n"
"\n"
"    verify   For each size, write a deterministic pattern at COUNT\n"
"             non-overlapping offsets (sector aligned, at every 512-byte\n"
"             position inside a page, so most are not page aligned), keeping\n"
"             up to D requests in flight, flush, read everything back and\n"
"             compare.  The pattern of each 8-byte word depends on the seed\n"
"             and its absolute device offset, so data landing at the wrong\n"
"             place is caught too.  Prints one line per size and a summary:\n"
"               verified <bytes> bytes in <n> requests, <MB/s> MB/s write,\n"
"               <MB/s> MB/s read\n"
"             and exits 1 naming offset and size on the first mismatch.\n"
"             THIS OVERWRITES DATA on the device inside the first --span bytes.\n"
"\n"
"    write    Write the pattern of --seed over [O, O+L); prints its cksum.\n"
"             O and L must be multiples of 512.\n"
"\n"
"    seqwrite Numbered writes of L bytes, one after the other in one\n"
"             session, until --count writes are done or file F exists\n"
"             (checked before each write).  Write n goes to O + (n mod P) * L,\n"
"             P = the blocks of L that fit in --span (default: the rest of\n"
"             the device), with the pattern of seed S + n, and is flushed.\n"
"             Each write the device completed is printed as\n"
"               SEQ-DONE <n> <offset> <cksum CRC> <L>\n"
"             (compare with dd if=IMAGE bs=L skip=offset/L count=1 | cksum);\n"
"             a failed one as SEQ-FAIL <n> ...; with --reconnect the session\n"
"             is then closed, a new one opened (SEQ-RECONNECTED <n> ...) and\n"
"             write n tried again, so every position holds the last\n"
"             SEQ-DONE write to it.  Ends with SEQ-END writes=<n>\n"
"             failed=<f> reconnects=<r>.  Exits 1 if a write fails without\n"
"             --reconnect or no new session opens within 60 attempts.\n"
"\n"
"    cksum    Read [O, O+L) and print its POSIX cksum CRC and length, in\n"
"             exactly cksum(1)'s format \"CRC LENGTH\", so the backend side\n"
"             can compare with: dd if=IMAGE bs=512 skip=O/512 count=L/512 |\n"
"             cksum.  O and L may be unaligned.\n"
"\n"
"    read     Copy [O, O+L) to standard output.  O and L may be unaligned.\n"
"\n"
"    rng      DEVID is a virtio-rng device (type=rng): read L bytes (default\n"
"             64K) in requests of B bytes (default 64, as Linux's virtio_rng)\n"
"             with up to D in flight, check they look random (not all zero,\n"
"             no 16-byte block twice, every byte value in 16K or more) and\n"
"             print the rate achieved, then \"RNG-OK bytes=N requests=R\n"
"             short=S ms=T\" (S: requests the device completed short, e.g.\n"
"             under its rate= limit).  Exits 1 on a failed or empty request\n"
"             or bytes that do not look random.\n"
"\n"
"OPTIONS\n"
"    --sizes LIST     comma-separated request sizes, multiples of 512\n"
"                     (default 512,4K,64K,1M)\n"
"    --offsets LIST   comma-separated byte offsets used for every size\n"
"                     (multiples of 512, must not overlap for any size)\n"
"    --stride BYTES   offsets 0, STRIDE, 2*STRIDE, ... instead\n"
"    --count N        offsets per size (default %u)\n"
"    --depth D        requests in flight (default %u)\n"
"    --seed S         pattern seed (default: from the clock, printed)\n"
"    --span BYTES     keep verify inside [0, BYTES) (default min(capacity,\n"
"                     256M))\n"
"    --rounds N       verify N times in one device session, seed S, S+1, ...\n"
"    --reconnect      when a round fails with an I/O error because the backend\n"
"                     closed the device (vgrantd stopped or restarted), open a\n"
"                     new session and run that round again (data mismatches\n"
"                     still fail at once)\n"
"    --offset O, --length L   the range of write, cksum and read\n"
"    --stop-file F    seqwrite: stop before the next write once F exists\n"
"\n"
"  COMMON\n"
"    --timeout MS     handshake and per-request timeout (default %d)\n"
"    --queue-size N   ring entries to ask for (default: backend's, <= 256)\n"
"    --log-level L    err, warn, info or debug (default warn)\n"
"    -h, --help       this text\n"
"\n"
"BENCHMARKS\n"
"%s"
"\n"
"EXIT STATUS\n"
"    0 success; 1 I/O error or data mismatch; 2 usage error or the device\n"
"    could not be opened.\n"
"\n"
"EXAMPLES\n"
"    vgrant-io info 0\n"
"    vgrant-io verify 0 --sizes 512,4K,64K,1M --count 16 --depth 8\n"
"    vgrant-io write 0 --offset 1M --length 8M --seed 42\n"
"    vgrant-io cksum 0 --offset 1M --length 8M\n"
"    vgrant-io rng 1 --length 1M --sizes 4K --depth 4\n"
"    vgrant-io bench 0 --sizes 4K,1M --depths 1,16 --ops read --csv\n"
"    vgrant-io bench-file /dev/xvda --sizes 4K,1M --depths 1,16 --ios 200\n",
            DEFAULT_COUNT, DEFAULT_DEPTH, VGF_DEFAULT_TIMEOUT_MS,
            vgf_bench_usage());
}

/* ------------------------------------------------------------------ */
/* helpers                                                              */
/* ------------------------------------------------------------------ */

static double mb_per_s(uint64_t bytes, double secs)
{
    return secs > 0 ? (double)bytes / 1e6 / secs : 0.0;
}

static int parse_size_arg(const char *opt, const char *s, uint64_t *out)
{
    if (vg_parse_size(s, out)) {
        fprintf(stderr, "vgrant-io: %s: '%s' is not a size (e.g. 4096, 64K, 1M)\n",
                opt, s);
        return -1;
    }
    return 0;
}

static int parse_list(const char *opt, const char *s, uint64_t *out,
                      unsigned max, unsigned *n)
{
    char *copy = strdup(s), *save = NULL, *tok;
    int rc = 0;

    if (!copy)
        return -1;
    *n = 0;
    for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (*n == max) {
            fprintf(stderr, "vgrant-io: %s: at most %u entries\n", opt, max);
            rc = -1;
            break;
        }
        if (parse_size_arg(opt, tok, &out[*n])) {
            rc = -1;
            break;
        }
        (*n)++;
    }
    if (!rc && *n == 0) {
        fprintf(stderr, "vgrant-io: %s: empty list\n", opt);
        rc = -1;
    }
    free(copy);
    return rc;
}

/* ------------------------------------------------------------------ */
/* commands                                                             */
/* ------------------------------------------------------------------ */

static struct vg_hyp *hyp;

static struct vgf_blk *open_blk(const struct cli *c)
{
    struct vgf_blk *b;

    hyp = vg_hyp_xen_open(VG_HYP_NEED_GNTSHR | VG_HYP_NEED_EVTCHN | VG_HYP_NEED_XS);
    if (!hyp) {
        fprintf(stderr, "vgrant-io: opening Xen interfaces: %s (run inside a "
                "Xen guest, as root, with xen gntalloc/evtchn available)\n",
                strerror(errno));
        return NULL;
    }
    b = vgf_blk_open(hyp, c->devid, &c->opts);
    if (!b)
        fprintf(stderr, "vgrant-io: opening virtio-grant device %u: %s\n",
                c->devid, strerror(errno));
    return b;
}

static void close_blk(struct vgf_blk *b)
{
    vgf_blk_close(b);
    vg_hyp_close(hyp);
    hyp = NULL;
}

static void print_features(uint64_t f)
{
    static const struct { unsigned bit; const char *name; } names[] = {
        { VIRTIO_BLK_F_SIZE_MAX, "SIZE_MAX" }, { VIRTIO_BLK_F_SEG_MAX, "SEG_MAX" },
        { VIRTIO_BLK_F_RO, "RO" }, { VIRTIO_BLK_F_BLK_SIZE, "BLK_SIZE" },
        { VIRTIO_BLK_F_FLUSH, "FLUSH" },
        { VIRTIO_RING_F_INDIRECT_DESC, "INDIRECT_DESC" },
        { VIRTIO_RING_F_EVENT_IDX, "EVENT_IDX" },
        { VIRTIO_F_VERSION_1, "VERSION_1" },
        { VIRTIO_F_ACCESS_PLATFORM, "ACCESS_PLATFORM" },
    };

    printf("features:     0x%016" PRIx64, f);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (f & VG_FEATURE(names[i].bit))
            printf(" %s", names[i].name);
    printf("\n");
}

static int cmd_info(const struct cli *c)
{
    struct vgf_blk *b = open_blk(c);
    struct vgf_dev *d;
    char id[VIRTIO_BLK_ID_BYTES + 1];

    if (!b)
        return EXIT_USAGE;
    d = vgf_blk_dev(b);
    printf("device:       %u (virtio-blk), backend domain %u\n", c->devid,
           vgf_backend_id(d));
    printf("mode:         %s\n", vgf_mode(d));
    print_features(vgf_features(d));
    printf("capacity:     %" PRIu64 " bytes (%" PRIu64 " sectors)\n",
           vgf_blk_capacity(b), vgf_blk_capacity(b) / SECTOR);
    printf("read-only:    %s\n", vgf_blk_readonly(b) ? "yes" : "no");
    printf("seg_max:      %u\n", vgf_blk_seg_max(b));
    printf("size_max:     %u\n", vgf_blk_size_max(b));
    printf("blk_size:     %u\n", vgf_blk_block_size(b));
    printf("flush:        %s\n", vgf_blk_has_flush(b) ? "yes" : "no (write-through)");
    printf("queues:       %u x %u entries\n", vgf_num_queues(d), vgf_queue_size(d));
    printf("max request:  %zu bytes\n", vgf_blk_max_request(b));
    if (vgf_blk_get_id(b, id) == 0)
        printf("id:           %s\n", id);
    else
        printf("id:           (not available: %s)\n", strerror(errno));
    close_blk(b);
    return 0;
}

/* The guest-side counters a user sizes a static region or pool with. */
static void print_frontend_stats(struct vgf_blk *b)
{
    struct vgf_stats s;

    vgf_get_stats(vgf_blk_dev(b), &s);
    printf("frontend: mode %s, %" PRIu64 " requests, %" PRIu64 " pages granted "
           "per request, %" PRIu64 " kicks (%" PRIu64 " suppressed), %" PRIu64
           " events; region/pool high water %" PRIu64 " bytes, %" PRIu64
           " throttle waits, %" PRIu64 " bytes bounced, %" PRIu64
           " bytes zero-copy\n", vgf_mode(vgf_blk_dev(b)), s.requests,
           s.pages_shared, s.kicks, s.kicks_suppressed, s.events,
           s.region_high_water, s.throttle_waits, s.bounce_bytes,
           s.zero_copy_bytes);
}

/* One device session: open, verify `rounds` rounds (seed + round), close.
 * With --reconnect, a round that fails with an I/O error (the backend
 * closed the device or went away: not a data mismatch) closes the session,
 * opens a new one (a fresh handshake, waiting up to --timeout for the
 * backend) and runs that round again. */
static int cmd_verify(const struct cli *c)
{
    struct vgf_verify_opts o = {
        .sizes = c->sizes, .nsizes = c->nsizes,
        .offsets = c->offsets, .noffsets = c->noffsets,
        .stride = c->stride, .count = c->count, .depth = c->depth,
        .seed = c->seed, .span = c->span ? c->span : DEFAULT_SPAN,
        .out = stdout,
    };
    unsigned rounds = c->rounds ? c->rounds : 1, reconnects = 0;
    struct vgf_verify_result r;
    struct vgf_blk *b;
    int rc = 0;

    for (unsigned i = 0; i < c->nsizes; i++)
        if (c->sizes[i] == 0 || c->sizes[i] % SECTOR) {
            fprintf(stderr, "vgrant-io: size %" PRIu64 " is not a multiple of 512\n",
                    c->sizes[i]);
            return EXIT_USAGE;
        }
    if (!(b = open_blk(c)))
        return EXIT_USAGE;
    for (unsigned round = 1; round <= rounds; round++) {
        o.seed = c->seed + round - 1;
        rc = vgf_verify_run(b, &o, &r);
        if (rc == VGF_VERIFY_OK) {
            if (rounds > 1)
                printf("round %u ok\n", round);
            fflush(stdout);
            continue;
        }
        if (r.mismatch || !c->reconnect || rc != VGF_VERIFY_FAILED)
            break;
        /* An I/O error, not bad data: the backend closed or vanished. */
        printf("round %u: I/O failed (device %s); reconnecting\n", round,
               vgf_connected(vgf_blk_dev(b)) ? "still connected" : "closed by the backend");
        fflush(stdout);
        close_blk(b);
        if (++reconnects > 8 || !(b = open_blk(c))) {
            fprintf(stderr, "vgrant-io: device %u: cannot reconnect (after %u attempts)\n",
                    c->devid, reconnects);
            return EXIT_FAILURE;
        }
        printf("reconnected to device %u (reconnect %u)\n", c->devid, reconnects);
        round--;   /* run the interrupted round again */
    }
    if (rc && r.bad_size)
        fprintf(stderr, "vgrant-io: verify FAILED at offset %" PRIu64 " size %"
                PRIu64 "%s\n", r.bad_offset, r.bad_size,
                r.mismatch ? " (data mismatch)" : "");
    if (rounds > 1 && rc == 0)
        printf("%u rounds verified, %u reconnects\n", rounds, reconnects);
    print_frontend_stats(b);
    fflush(stdout);
    close_blk(b);
    return rc;
}

static int need_range(const struct cli *c, bool aligned)
{
    if (!c->have_offset || !c->have_length) {
        fprintf(stderr, "vgrant-io: %s needs --offset and --length\n", c->cmd);
        return -1;
    }
    if (aligned && (c->offset % SECTOR || c->length % SECTOR)) {
        fprintf(stderr, "vgrant-io: %s: --offset and --length must be multiples "
                "of 512\n", c->cmd);
        return -1;
    }
    return 0;
}

static int check_capacity(const struct cli *c, struct vgf_blk *b)
{
    if (c->offset > vgf_blk_capacity(b) ||
        c->length > vgf_blk_capacity(b) - c->offset) {
        fprintf(stderr, "vgrant-io: range [%" PRIu64 ", +%" PRIu64 ") is beyond "
                "the device's %" PRIu64 " bytes\n", c->offset, c->length,
                vgf_blk_capacity(b));
        return -1;
    }
    return 0;
}

static int cmd_write(const struct cli *c)
{
    struct vgf_blk *b;
    double secs = 0;
    int rc;

    if (need_range(c, true))
        return EXIT_USAGE;
    if (!(b = open_blk(c)))
        return EXIT_USAGE;
    if (check_capacity(c, b)) {
        close_blk(b);
        return EXIT_USAGE;
    }
    rc = vgf_write_pattern(b, c->offset, c->length, c->seed, c->depth, &secs);
    close_blk(b);
    if (rc)
        return rc;
    /* the checksum of what was written, for comparing in dom0 */
    printf("wrote %" PRIu64 " bytes at offset %" PRIu64 " with seed %" PRIu64
           ", %.1f MB/s; cksum %u %" PRIu64 "\n", c->length, c->offset, c->seed,
           mb_per_s(c->length, secs),
           vgf_pattern_cksum(c->offset, c->length, c->seed), c->length);
    return 0;
}

#define SEQ_RECONNECT_TRIES 60

static bool stop_requested(const struct cli *c)
{
    return c->stop_file && access(c->stop_file, F_OK) == 0;
}

/* After a failed write: a new session (each attempt waits up to
 * --timeout for the backend), or NULL once SEQ_RECONNECT_TRIES failed or
 * the stop file appeared. */
static struct vgf_blk *seq_reopen(const struct cli *c)
{
    for (unsigned i = 1; i <= SEQ_RECONNECT_TRIES && !stop_requested(c); i++) {
        struct vgf_blk *b = open_blk(c);

        if (b)
            return b;
        sleep(1);
    }
    return NULL;
}

/* vgrant-io seqwrite: see usage(). */
static int cmd_seqwrite(const struct cli *c)
{
    struct vgf_seq s = { .start = c->have_offset ? c->offset : 0,
                         .block = c->length, .seed = c->seed };
    uint64_t n = 0, fails = 0, reconnects = 0, cap;
    struct vgf_blk *b;
    uint32_t crc;
    int rc = 0;

    if (!c->have_length || !c->length || c->length % SECTOR || s.start % SECTOR) {
        fprintf(stderr, "vgrant-io: seqwrite needs --length, a non-zero multiple "
                "of 512, and an --offset that is a multiple of 512\n");
        return EXIT_USAGE;
    }
    if (!c->have_count && !c->stop_file) {
        fprintf(stderr, "vgrant-io: seqwrite needs --count or --stop-file\n");
        return EXIT_USAGE;
    }
    if (!(b = open_blk(c)))
        return EXIT_USAGE;
    cap = vgf_blk_capacity(b);
    if (s.start < cap)
        s.nblocks = (cap - s.start) / s.block;
    if (c->span && c->span / s.block < s.nblocks)
        s.nblocks = c->span / s.block;
    if (!s.nblocks) {
        fprintf(stderr, "vgrant-io: seqwrite: no block of %" PRIu64 " bytes fits "
                "at offset %" PRIu64 " of the device's %" PRIu64 " bytes\n",
                s.block, s.start, cap);
        close_blk(b);
        return EXIT_USAGE;
    }
    printf("SEQ-START %" PRIu64 " positions of %" PRIu64 " bytes from offset %"
           PRIu64 ", seed %" PRIu64 "\n", s.nblocks, s.block, s.start, s.seed);
    fflush(stdout);
    while (!stop_requested(c) && !(c->have_count && n >= c->count)) {
        if (vgf_seq_write(b, &s, n, &crc) == VGF_VERIFY_OK) {
            printf("SEQ-DONE %" PRIu64 " %" PRIu64 " %u %" PRIu64 "\n", n,
                   vgf_seq_offset(&s, n), crc, s.block);
            fflush(stdout);
            n++;
            continue;
        }
        fails++;
        printf("SEQ-FAIL %" PRIu64 " (device %s)\n", n,
               vgf_connected(vgf_blk_dev(b)) ? "still connected" :
               "closed by the backend");
        fflush(stdout);
        if (!c->reconnect) {
            rc = EXIT_MISMATCH;
            break;
        }
        close_blk(b);
        if (!(b = seq_reopen(c))) {
            if (stop_requested(c))
                break;
            fprintf(stderr, "vgrant-io: device %u: no new session after %u "
                    "attempts\n", c->devid, SEQ_RECONNECT_TRIES);
            rc = EXIT_MISMATCH;
            break;
        }
        reconnects++;
        printf("SEQ-RECONNECTED %" PRIu64 " (reconnect %" PRIu64 ")\n", n,
               reconnects);
        fflush(stdout);
    }
    printf("SEQ-END writes=%" PRIu64 " failed=%" PRIu64 " reconnects=%" PRIu64
           "\n", n, fails, reconnects);
    if (b)
        close_blk(b);
    return rc;
}

/* Stream [offset, offset+length) in order, unaligned allowed. */
static int stream_range(const struct cli *c, struct vgf_blk *b,
                        int (*sink)(const uint8_t *p, size_t n, void *arg),
                        void *arg)
{
    uint64_t start = c->offset / SECTOR * SECTOR;
    uint64_t end = c->offset + c->length;
    uint8_t *buf = malloc(STREAM_CHUNK);
    int rc = 0;

    if (end % SECTOR)
        end += SECTOR - end % SECTOR;
    if (!buf)
        return EXIT_MISMATCH;
    for (uint64_t pos = start; pos < end && !rc; pos += STREAM_CHUNK) {
        size_t n = end - pos < STREAM_CHUNK ? (size_t)(end - pos) : STREAM_CHUNK;
        uint64_t lo = pos < c->offset ? c->offset - pos : 0;
        uint64_t hi = pos + n > c->offset + c->length ? c->offset + c->length - pos : n;

        if (vgf_blk_read(b, pos, buf, n)) {
            fprintf(stderr, "vgrant-io: read at offset %" PRIu64 " size %zu: %s\n",
                    pos, n, strerror(errno));
            rc = EXIT_MISMATCH;
            break;
        }
        if (hi > lo && sink(buf + lo, (size_t)(hi - lo), arg))
            rc = EXIT_MISMATCH;
    }
    free(buf);
    return rc;
}

static int crc_sink(const uint8_t *p, size_t n, void *arg)
{
    uint32_t *crc = arg;
    *crc = vgf_cksum_update(*crc, p, n);
    return 0;
}

static int stdout_sink(const uint8_t *p, size_t n, void *arg)
{
    (void)arg;
    if (fwrite(p, 1, n, stdout) != n) {
        fprintf(stderr, "vgrant-io: writing to standard output: %s\n",
                strerror(errno));
        return -1;
    }
    return 0;
}

static int cmd_read_or_cksum(const struct cli *c, bool cksum)
{
    uint32_t crc = 0;
    struct vgf_blk *b;
    int rc;

    if (need_range(c, false))
        return EXIT_USAGE;
    if (!cksum && isatty(STDOUT_FILENO)) {
        fprintf(stderr, "vgrant-io: read writes binary data; redirect standard "
                "output to a file\n");
        return EXIT_USAGE;
    }
    if (!(b = open_blk(c)))
        return EXIT_USAGE;
    if (check_capacity(c, b)) {
        close_blk(b);
        return EXIT_USAGE;
    }
    rc = stream_range(c, b, cksum ? crc_sink : stdout_sink, &crc);
    if (!rc && cksum)
        printf("%u %" PRIu64 "\n", vgf_cksum_finish(crc, c->length), c->length);
    if (!rc && !cksum && fflush(stdout)) {
        fprintf(stderr, "vgrant-io: writing to standard output: %s\n",
                strerror(errno));
        rc = EXIT_MISMATCH;
    }
    close_blk(b);
    return rc;
}

/* ------------------------------------------------------------------ */
/* argument parsing                                                     */
/* ------------------------------------------------------------------ */

enum {
    OPT_SIZES = 256, OPT_OFFSETS, OPT_STRIDE, OPT_COUNT, OPT_DEPTH, OPT_SEED,
    OPT_SPAN, OPT_OFFSET, OPT_LENGTH, OPT_TIMEOUT, OPT_QSIZE, OPT_LOGLEVEL, OPT_ROUNDS, OPT_RECONNECT,
    OPT_STOPFILE,
};

static int parse_uint_opt(const char *opt, const char *s, uint64_t max,
                          uint64_t *out)
{
    if (vg_parse_uint(s, max, out)) {
        fprintf(stderr, "vgrant-io: %s: '%s' is not a number in [0, %" PRIu64 "]\n",
                opt, s, max);
        return -1;
    }
    return 0;
}

static int parse_args(int argc, char **argv, struct cli *c)
{
    static const struct option longopts[] = {
        { "sizes", required_argument, NULL, OPT_SIZES },
        { "offsets", required_argument, NULL, OPT_OFFSETS },
        { "stride", required_argument, NULL, OPT_STRIDE },
        { "count", required_argument, NULL, OPT_COUNT },
        { "depth", required_argument, NULL, OPT_DEPTH },
        { "seed", required_argument, NULL, OPT_SEED },
        { "span", required_argument, NULL, OPT_SPAN },
        { "offset", required_argument, NULL, OPT_OFFSET },
        { "length", required_argument, NULL, OPT_LENGTH },
        { "timeout", required_argument, NULL, OPT_TIMEOUT },
        { "queue-size", required_argument, NULL, OPT_QSIZE },
        { "log-level", required_argument, NULL, OPT_LOGLEVEL },
        { "rounds", required_argument, NULL, OPT_ROUNDS },
        { "reconnect", no_argument, NULL, OPT_RECONNECT },
        { "stop-file", required_argument, NULL, OPT_STOPFILE },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    uint64_t v;
    int opt;

    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            usage(stdout);
            exit(0);
        case OPT_SIZES:
            if (parse_list("--sizes", optarg, c->sizes, MAX_SIZES, &c->nsizes))
                return -1;
            break;
        case OPT_OFFSETS:
            if (!c->offsets && !(c->offsets = calloc(MAX_OFFSETS, sizeof(uint64_t))))
                return -1;
            if (parse_list("--offsets", optarg, c->offsets, MAX_OFFSETS, &c->noffsets))
                return -1;
            break;
        case OPT_STRIDE:
            if (parse_size_arg("--stride", optarg, &c->stride))
                return -1;
            if (c->stride == 0 || c->stride % SECTOR) {
                fprintf(stderr, "vgrant-io: --stride must be a non-zero multiple of 512\n");
                return -1;
            }
            break;
        case OPT_COUNT:
            if (parse_uint_opt("--count", optarg, MAX_OFFSETS, &v) || v == 0)
                return -1;
            c->count = (unsigned)v;
            c->have_count = true;
            break;
        case OPT_DEPTH:
            if (parse_uint_opt("--depth", optarg, VG_MAX_QUEUE_SIZE, &v) || v == 0)
                return -1;
            c->depth = (unsigned)v;
            break;
        case OPT_SEED:
            if (parse_uint_opt("--seed", optarg, UINT64_MAX, &c->seed))
                return -1;
            c->have_seed = true;
            break;
        case OPT_SPAN:
            if (parse_size_arg("--span", optarg, &c->span))
                return -1;
            break;
        case OPT_ROUNDS:
            if (parse_uint_opt("--rounds", optarg, 1000000, &v) || v == 0)
                return -1;
            c->rounds = (unsigned)v;
            break;
        case OPT_RECONNECT:
            c->reconnect = true;
            break;
        case OPT_STOPFILE:
            c->stop_file = optarg;
            break;
        case OPT_OFFSET:
            if (parse_size_arg("--offset", optarg, &c->offset))
                return -1;
            c->have_offset = true;
            break;
        case OPT_LENGTH:
            if (parse_size_arg("--length", optarg, &c->length))
                return -1;
            c->have_length = true;
            break;
        case OPT_TIMEOUT:
            if (parse_uint_opt("--timeout", optarg, 3600000, &v) || v == 0)
                return -1;
            c->opts.timeout_ms = (int)v;
            break;
        case OPT_QSIZE:
            if (parse_uint_opt("--queue-size", optarg, VG_MAX_QUEUE_SIZE, &v))
                return -1;
            c->opts.queue_size = (unsigned)v;
            break;
        case OPT_LOGLEVEL: {
            int l = vg_log_parse_level(optarg);
            if (l < 0) {
                fprintf(stderr, "vgrant-io: --log-level: '%s' is not err, warn, "
                        "info or debug\n", optarg);
                return -1;
            }
            vg_log_set_level((enum vg_log_level)l);
            break;
        }
        default:
            return -1;
        }
    }
    if (argc - optind != 2) {
        fprintf(stderr, "vgrant-io: expected a command and a device id "
                "(vgrant-io --help)\n");
        return -1;
    }
    c->cmd = argv[optind];
    if (parse_uint_opt("DEVID", argv[optind + 1], VG_MAX_DEVID, &v))
        return -1;
    c->devid = (unsigned)v;
    if (c->noffsets && c->stride) {
        fprintf(stderr, "vgrant-io: give --offsets or --stride, not both\n");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct cli c = {
        .count = DEFAULT_COUNT,
        .depth = DEFAULT_DEPTH,
        .opts = { .features_wanted = VGF_FEATURES_DEFAULT },
    };
    int rc;

    vg_log_init("vgrant-io", VG_LOG_WARN);
    /* the benchmark commands come first and parse their own options */
    if (argc > 1 && vgf_bench_is_command(argv[1]))
        return vgf_bench_main(argc - 1, argv + 1);
    if (parse_args(argc, argv, &c)) {
        free(c.offsets);
        return EXIT_USAGE;
    }
    if (!strcmp(c.cmd, "rng")) {
        rc = cmd_rng(&c, c.nsizes > 0);
        free(c.offsets);
        return rc;
    }
    if (c.nsizes == 0) {
        static const uint64_t defaults[] = { 512, 4096, 65536, 1 << 20 };
        memcpy(c.sizes, defaults, sizeof(defaults));
        c.nsizes = 4;
    }
    if (!c.have_seed)
        c.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);

    if (!strcmp(c.cmd, "info"))
        rc = cmd_info(&c);
    else if (!strcmp(c.cmd, "verify"))
        rc = cmd_verify(&c);
    else if (!strcmp(c.cmd, "write"))
        rc = cmd_write(&c);
    else if (!strcmp(c.cmd, "seqwrite"))
        rc = cmd_seqwrite(&c);
    else if (!strcmp(c.cmd, "cksum"))
        rc = cmd_read_or_cksum(&c, true);
    else if (!strcmp(c.cmd, "read"))
        rc = cmd_read_or_cksum(&c, false);
    else {
        fprintf(stderr, "vgrant-io: unknown command '%s' (vgrant-io --help)\n",
                c.cmd);
        rc = EXIT_USAGE;
    }
    free(c.offsets);
    return rc;
}

