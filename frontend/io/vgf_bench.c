/* SPDX-License-Identifier: MIT */
/*
 * vgrant-io bench / bench-file / memcpy (vgf_bench.h): option parsing,
 * the matrix, statistics and output.  The two I/O drivers are
 * vgf_bench_blk (virtio-grant) and vgf_bench_file (a block device file).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "vgrant/clock.h"
#include "libvgrant.h"
#include "vgf_bench.h"
#include "vgf_bench_drv.h"
#include "vgrant/hyp.h"
#include "vgrant/log.h"
#include "vgrant/xsutil.h"

#define EXIT_IO     1
#define EXIT_USAGE  2
#define MAX_LIST    16
#define SECTOR      512u
#define DEFAULT_IOS       256u
#define DEFAULT_MAX_BYTES (32ull << 20)
#define DEFAULT_SPAN      (32ull << 20)
#define MEMCPY_BUF        (16u << 20)

static const char bench_usage[] =
"    vgrant-io bench DEVID [BENCH-OPTIONS] [COMMON]\n"
"    vgrant-io bench-file PATH [BENCH-OPTIONS]\n"
"    vgrant-io memcpy [--seconds S] [--csv]\n"
"\n"
"    bench        Measure virtio-grant device DEVID: for every operation,\n"
"                 size and depth, issue I/Os of that size at consecutive\n"
"                 (--random: random) offsets inside --span, keeping DEPTH\n"
"                 of them in flight, and report MB/s, IOPS and the\n"
"                 50th/99th percentile of the per-request latency (submit\n"
"                 to completion, CLOCK_MONOTONIC).\n"
"                 `depth` I/Os before each point are not measured (warm-up).\n"
"                 WRITE OPERATIONS OVERWRITE the first --span bytes.\n"
"    bench-file   The same on a block device or file with O_DIRECT, one\n"
"                 thread per request in flight (pread/pwrite): Xen's PV\n"
"                 block driver is measured as bench-file /dev/xvda.\n"
"    memcpy       Guest memcpy bandwidth (16 MiB buffers), the physical\n"
"                 reference: prints \"memcpy_mbps <MB/s>\".\n"
"\n"
"  BENCH-OPTIONS\n"
"    --sizes LIST     request sizes, multiples of 512 (default\n"
"                     512,4K,16K,64K,256K,1M)\n"
"    --depths LIST    requests in flight (default 1,16)\n"
"    --ops LIST       read, write or both (default read,write)\n"
"    --ios N          I/Os per point at most (default 256) ...\n"
"    --max-bytes B    ... and at most B bytes per point (default 32M), but\n"
"                     at least max(16, 2*depth) I/Os\n"
"    --seconds S      instead: run each point for S seconds (fractions ok)\n"
"    --span BYTES     offsets stay in [0, BYTES) (default 32M)\n"
"    --label NAME     the mode column (default: the device's transport\n"
"                     mode; pvblock for bench-file)\n"
"    --random         random offsets, multiples of the size inside the span\n"
"                     (xorshift64* of the seed and the I/O number)\n"
"    --seed N         seed of --random (default 1): the same seed, the same\n"
"                     offsets\n"
"    --csv            print " VGF_BENCH_CSV_HEADER "\n"
"                     rows (size in bytes) instead of a table\n"
"    --progress       print \"progress LABEL OP SIZE qdDEPTH I/N\" on\n"
"                     standard error before each point\n"
"    --phase-cmd CMD  one depth at a time, on one connection: for\n"
"                     each depth D, a warm-up pass (every op and size at\n"
"                     depth D, D+1 I/Os per point, not measured, no row),\n"
"                     then `/bin/sh -c 'CMD warmD'`, then the measured\n"
"                     points of depth D, then `CMD dD`; CMD failing stops\n"
"                     the run (make bench: a phase boundary for dom0's\n"
"                     counters)\n"
"    --start-at T     once the device is open and the first point warmed\n"
"                     up, sleep until T (seconds since the epoch,\n"
"                     CLOCK_REALTIME, fractions ok) before its measured\n"
"                     I/Os, so benchmarks in several guests measure at\n"
"                     the same time; after each point's row print\n"
"                     \"window LABEL,OP,SIZE,DEPTH,START,END\": the measured\n"
"                     I/Os' span, CLOCK_REALTIME seconds\n";

const char *vgf_bench_usage(void)
{
    return bench_usage;
}

bool vgf_bench_is_command(const char *cmd)
{
    return !strcmp(cmd, "bench") || !strcmp(cmd, "bench-file") ||
           !strcmp(cmd, "memcpy");
}

struct bench_cfg {
    uint64_t sizes[MAX_LIST];
    unsigned nsizes;
    uint64_t depths[MAX_LIST];
    unsigned ndepths;
    bool op_read, op_write;
    unsigned ios;
    uint64_t max_bytes;
    double seconds;
    uint64_t span;
    const char *label;
    const char *phase_cmd;     /* --phase-cmd, or NULL */
    bool csv, progress, random;
    uint64_t seed;
    double start_at;           /* --start-at, 0: none */
    struct vgf_opts opts;
};

/* ------------------------------------------------------------------ */
/* options                                                             */

static int parse_list(const char *opt, const char *s, uint64_t *out,
                      unsigned *n, bool sizes)
{
    char *copy = strdup(s), *save = NULL, *tok;
    int rc = 0;

    if (!copy)
        return -1;
    *n = 0;
    for (tok = strtok_r(copy, ",", &save); tok && !rc; tok = strtok_r(NULL, ",", &save)) {
        if (*n == MAX_LIST)
            rc = -1;
        else if (sizes ? vg_parse_size(tok, &out[*n]) || out[*n] == 0 || out[*n] % SECTOR
                       : vg_parse_uint(tok, VG_MAX_QUEUE_SIZE, &out[*n]) || out[*n] == 0)
            rc = -1;
        else
            (*n)++;
    }
    if (rc || *n == 0)
        fprintf(stderr, "vgrant-io: %s '%s': expected a comma-separated list of "
                "at most %u %s\n", opt, s, MAX_LIST,
                sizes ? "sizes, multiples of 512 (e.g. 4K,1M)"
                      : "depths in [1, 1024]");
    free(copy);
    return rc || *n == 0 ? -1 : 0;
}

static int parse_ops(const char *s, struct bench_cfg *c)
{
    char *copy = strdup(s), *save = NULL, *tok;
    int rc = 0;

    if (!copy)
        return -1;
    c->op_read = c->op_write = false;
    for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (!strcmp(tok, "read"))
            c->op_read = true;
        else if (!strcmp(tok, "write"))
            c->op_write = true;
        else
            rc = -1;
    }
    free(copy);
    if (rc || !(c->op_read || c->op_write)) {
        fprintf(stderr, "vgrant-io: --ops '%s': expected read, write or read,write\n", s);
        return -1;
    }
    return 0;
}

static int parse_seconds(const char *s, double *out)
{
    char *end;

    errno = 0;
    *out = strtod(s, &end);
    if (errno || end == s || *end || !(*out > 0) || *out > 3600) {
        fprintf(stderr, "vgrant-io: --seconds '%s': expected a number in (0, 3600]\n", s);
        return -1;
    }
    return 0;
}

enum {
    O_SIZES = 300, O_DEPTHS, O_OPS, O_IOS, O_MAXB, O_SECS, O_SPAN, O_LABEL,
    O_CSV, O_PROGRESS, O_TIMEOUT, O_QSIZE, O_LOGLEVEL, O_PHASECMD, O_RANDOM,
    O_SEED, O_START_AT,
};

#define MAX_PHASE_CMD 256

static int parse_bench_args(int argc, char **argv, struct bench_cfg *c,
                            const char **operand)
{
    static const struct option longopts[] = {
        { "sizes", required_argument, NULL, O_SIZES },
        { "depths", required_argument, NULL, O_DEPTHS },
        { "ops", required_argument, NULL, O_OPS },
        { "ios", required_argument, NULL, O_IOS },
        { "max-bytes", required_argument, NULL, O_MAXB },
        { "seconds", required_argument, NULL, O_SECS },
        { "span", required_argument, NULL, O_SPAN },
        { "label", required_argument, NULL, O_LABEL },
        { "csv", no_argument, NULL, O_CSV },
        { "progress", no_argument, NULL, O_PROGRESS },
        { "timeout", required_argument, NULL, O_TIMEOUT },
        { "queue-size", required_argument, NULL, O_QSIZE },
        { "log-level", required_argument, NULL, O_LOGLEVEL },
        { "phase-cmd", required_argument, NULL, O_PHASECMD },
        { "random", no_argument, NULL, O_RANDOM },
        { "seed", required_argument, NULL, O_SEED },
        { "start-at", required_argument, NULL, O_START_AT },
        { NULL, 0, NULL, 0 },
    };
    uint64_t v;
    int o;

    optind = 1;
    while ((o = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (o) {
        case O_SIZES:
            if (parse_list("--sizes", optarg, c->sizes, &c->nsizes, true))
                return -1;
            break;
        case O_DEPTHS:
            if (parse_list("--depths", optarg, c->depths, &c->ndepths, false))
                return -1;
            break;
        case O_OPS:
            if (parse_ops(optarg, c))
                return -1;
            break;
        case O_IOS:
            if (vg_parse_uint(optarg, 10000000, &v) || v == 0) {
                fprintf(stderr, "vgrant-io: --ios '%s': expected a number in [1, 10000000]\n", optarg);
                return -1;
            }
            c->ios = (unsigned)v;
            break;
        case O_MAXB:
        case O_SPAN:
            if (vg_parse_size(optarg, &v) || v == 0 || v % SECTOR) {
                fprintf(stderr, "vgrant-io: %s '%s': expected a size, a multiple of 512\n",
                        o == O_SPAN ? "--span" : "--max-bytes", optarg);
                return -1;
            }
            *(o == O_SPAN ? &c->span : &c->max_bytes) = v;
            break;
        case O_SECS:
            if (parse_seconds(optarg, &c->seconds))
                return -1;
            break;
        case O_LABEL:
            if (!*optarg || strlen(optarg) > 32 || strpbrk(optarg, ", \t\n")) {
                fprintf(stderr, "vgrant-io: --label '%s': 1..32 characters, no commas or spaces\n", optarg);
                return -1;
            }
            c->label = optarg;
            break;
        case O_CSV:
            c->csv = true;
            break;
        case O_RANDOM:
            c->random = true;
            break;
        case O_SEED:
            if (vg_parse_uint(optarg, UINT32_MAX, &v)) {
                fprintf(stderr, "vgrant-io: --seed '%s': expected a number in [0, 4294967295]\n", optarg);
                return -1;
            }
            c->seed = v;
            break;
        case O_START_AT:
            if (vgf_bench_parse_epoch(optarg, &c->start_at)) {
                fprintf(stderr, "vgrant-io: --start-at '%s': expected seconds since "
                        "the epoch (e.g. $(date +%%s) + 5), after 2001 and "
                        "before 2286\n", optarg);
                return -1;
            }
            break;
        case O_PHASECMD:
            if (!*optarg || strlen(optarg) > MAX_PHASE_CMD) {
                fprintf(stderr, "vgrant-io: --phase-cmd: 1..%u characters\n",
                        MAX_PHASE_CMD);
                return -1;
            }
            c->phase_cmd = optarg;
            break;
        case O_PROGRESS:
            c->progress = true;
            break;
        case O_TIMEOUT:
            if (vg_parse_uint(optarg, 3600000, &v) || v == 0) {
                fprintf(stderr, "vgrant-io: --timeout '%s': expected milliseconds\n", optarg);
                return -1;
            }
            c->opts.timeout_ms = (int)v;
            break;
        case O_QSIZE:
            if (vg_parse_uint(optarg, VG_MAX_QUEUE_SIZE, &v)) {
                fprintf(stderr, "vgrant-io: --queue-size '%s': expected a number\n", optarg);
                return -1;
            }
            c->opts.queue_size = (unsigned)v;
            break;
        case O_LOGLEVEL: {
            int l = vg_log_parse_level(optarg);
            if (l < 0) {
                fprintf(stderr, "vgrant-io: --log-level '%s': err, warn, info or debug\n", optarg);
                return -1;
            }
            vg_log_set_level((enum vg_log_level)l);
            break;
        }
        default:
            return -1;
        }
    }
    if (operand) {
        if (argc - optind != 1) {
            fprintf(stderr, "vgrant-io: %s needs exactly one %s (vgrant-io --help)\n",
                    argv[0], !strcmp(argv[0], "bench") ? "DEVID" : "PATH");
            return -1;
        }
        *operand = argv[optind];
    } else if (argc - optind != 0) {
        fprintf(stderr, "vgrant-io: %s: unexpected argument '%s'\n", argv[0], argv[optind]);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* statistics and output                                               */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v[n]: rank ceil(p/100 * n). */
static double percentile(const double *v, unsigned n, unsigned p)
{
    unsigned rank = (unsigned)(((uint64_t)p * n + 99) / 100);

    if (n == 0)
        return 0;
    if (rank < 1)
        rank = 1;
    return v[rank - 1];
}

static void size_name(uint64_t size, char *out, size_t len)
{
    if (size >= (1u << 20) && size % (1u << 20) == 0)
        snprintf(out, len, "%" PRIu64 "M", size >> 20);
    else if (size >= 1024 && size % 1024 == 0)
        snprintf(out, len, "%" PRIu64 "K", size >> 10);
    else
        snprintf(out, len, "%" PRIu64, size);
}

static void print_point(const struct bench_cfg *c, const char *label,
                        const char *op, uint64_t size, unsigned depth,
                        const struct vgf_bench_point *pt)
{
    double mbps = pt->elapsed > 0 ? (double)pt->done * (double)size / 1e6 / pt->elapsed : 0;
    double iops = pt->elapsed > 0 ? pt->done / pt->elapsed : 0;
    double p50, p99;
    char sz[24];

    qsort(pt->lat_us, pt->done, sizeof(double), cmp_double);
    p50 = percentile(pt->lat_us, pt->done, 50);
    p99 = percentile(pt->lat_us, pt->done, 99);
    if (c->csv) {
        printf("%s,%s,%" PRIu64 ",%u,%.2f,%.1f,%.1f,%.1f\n", label, op, size,
               depth, mbps, iops, p50, p99);
    } else {
        size_name(size, sz, sizeof(sz));
        printf("%-10s %-5s %6s %5u %10.2f %10.1f %10.1f %10.1f %8u\n", label,
               op, sz, depth, mbps, iops, p50, p99, pt->done);
    }
    fflush(stdout);
}

/* I/Os of one point: fixed count, bounded by --ios and --max-bytes. */
static unsigned point_ios(const struct bench_cfg *c, uint64_t size, unsigned depth)
{
    uint64_t n = c->max_bytes / size, floor_n = depth * 2u > 16 ? depth * 2u : 16;

    if (n < floor_n)
        n = floor_n;
    if (n > c->ios)
        n = c->ios;
    return (unsigned)n;
}

/* What run_matrix passes to each point. */
uint64_t vgf_bench_random_offset(uint64_t seed, uint64_t n, uint64_t size,
                                 uint64_t span)
{
    /* never a zero state: xorshift would stay at zero */
    uint64_t x = (seed + 1) * 0x9e3779b97f4a7c15ull ^ (n + 1) * 0xbf58476d1ce4e5b9ull;

    if (!x)
        x = 0x2545f4914f6cdd1dull;
    for (int i = 0; i < 2; i++) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
    }
    x *= 0x2545f4914f6cdd1dull;
    return ((x >> 11) % (span / size)) * size;
}

int vgf_bench_parse_epoch(const char *s, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    /* 1e9 is 2001-09-09, 1e10 is 2286: anything else is not a date */
    if (errno || end == s || *end || !(v >= 1e9 && v < 1e10))
        return -1;
    *out = v;
    return 0;
}

double vgf_bench_realtime(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double vgf_bench_wait_until(double t)
{
    struct timespec ts;
    double now = vgf_bench_realtime();

    if (now >= t)
        return now - t;
    ts.tv_sec = (time_t)t;
    ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L)
        ts.tv_nsec = 999999999L;
    /* absolute: a signal or a clock step does not move the deadline */
    while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
    now = vgf_bench_realtime();
    return now > t ? now - t : 0;
}

struct matrix_run {
    const struct bench_cfg *c;
    const char *label;
    const struct vgf_bench_driver *drv;
    void *ctx;
    uint64_t span;
    struct vgf_bench_point pt;
    unsigned index, total;
    double start_at;           /* --start-at, until the first measured
                                  point took it */
};

/* One point; warm: depth+1 I/Os (the driver's own depth warm-up, then
 * one), neither measured nor printed. */
static int run_point(struct matrix_run *m, bool write, uint64_t size,
                     unsigned depth, bool warm)
{
    const struct bench_cfg *c = m->c;
    const char *op = write ? "write" : "read";
    char sz[24];

    size_name(size, sz, sizeof(sz));
    if (c->progress && !warm) {
        fprintf(stderr, "progress %s %s %s qd%u %u/%u\n", m->label, op, sz,
                depth, ++m->index, m->total);
        fflush(stderr);
    }
    m->pt.ios = warm ? 1 : c->seconds > 0 ? 0 : point_ios(c, size, depth);
    m->pt.seconds = warm ? 0 : c->seconds;
    m->pt.random = c->random;
    m->pt.seed = c->seed;
    m->pt.done = 0;
    m->pt.measure_at = warm ? 0 : m->start_at;
    m->pt.late = 0;
    if (m->drv->run(m->ctx, write, size, depth, m->span, &m->pt)) {
        fprintf(stderr, "vgrant-io: %s %s %s qd%u%s failed: %s\n", m->label,
                op, sz, depth, warm ? " (warm-up)" : "", strerror(errno));
        return EXIT_IO;
    }
    if (!warm && m->start_at > 0) {
        m->start_at = 0;
        /* late by more than a scheduling hiccup: the device took longer
         * to open and warm up than the caller allowed; the window lines
         * show it */
        if (m->pt.late > 0.05)
            fprintf(stderr, "vgrant-io: --start-at: started %.3f s late\n",
                    m->pt.late);
    }
    if (!warm)
        print_point(c, m->label, op, size, depth, &m->pt);
    if (!warm && c->start_at > 0) {
        /* elapsed runs from the first measured submit to the last
         * completion, which was just now */
        double end = vgf_bench_realtime();

        printf("window %s,%s,%" PRIu64 ",%u,%.3f,%.3f\n", m->label, op, size,
               depth, end - m->pt.elapsed, end);
        fflush(stdout);
    }
    return 0;
}

/* Every op and size at one depth. */
static int run_depth(struct matrix_run *m, unsigned depth, bool warm)
{
    for (int w = 0; w < 2; w++) {
        bool write = w == 1;

        if (write ? !m->c->op_write : !m->c->op_read)
            continue;
        for (unsigned si = 0; si < m->c->nsizes; si++)
            if (run_point(m, write, m->c->sizes[si], depth, warm))
                return EXIT_IO;
    }
    return 0;
}

/* --phase-cmd: `CMD <phase>` through the shell; 0 when it exits 0. */
static int run_phase_cmd(const struct bench_cfg *c, const char *phase)
{
    char cmd[MAX_PHASE_CMD + 32];
    int st;

    snprintf(cmd, sizeof(cmd), "%s %s", c->phase_cmd, phase);
    fflush(stdout);
    fflush(stderr);
    st = system(cmd);
    if (st == -1) {
        fprintf(stderr, "vgrant-io: phase %s: cannot run '%s': %s\n", phase,
                cmd, strerror(errno));
        return EXIT_IO;
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "vgrant-io: phase %s: '%s' %s %d: stopping\n", phase,
                cmd, WIFEXITED(st) ? "exited with" : "was killed by signal",
                WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        return EXIT_IO;
    }
    return 0;
}

static int run_matrix(const struct bench_cfg *c, const char *label,
                      const struct vgf_bench_driver *drv, void *ctx,
                      uint64_t capacity)
{
    struct matrix_run m = {
        .c = c, .label = label, .drv = drv, .ctx = ctx,
        .span = c->span < capacity ? c->span : capacity,
        .total = c->nsizes * c->ndepths * ((unsigned)c->op_read + c->op_write),
    };
    unsigned max_ios = c->ios;
    int rc = 0;

    if (c->seconds > 0)
        max_ios = 10000000;   /* grows as needed below */
    for (unsigned i = 0; i < c->nsizes; i++)
        if (c->sizes[i] > m.span) {
            fprintf(stderr, "vgrant-io: size %" PRIu64 " is larger than the span "
                    "%" PRIu64 "\n", c->sizes[i], m.span);
            return EXIT_USAGE;
        }
    if (!c->csv)
        printf("%-10s %-5s %6s %5s %10s %10s %10s %10s %8s\n", "mode", "op",
               "size", "depth", "MB/s", "IOPS", "p50_us", "p99_us", "ios");
    else
        printf("%s\n", VGF_BENCH_CSV_HEADER);
    fflush(stdout);
    m.pt.cap = c->seconds > 0 ? 1u << 16 : max_ios;
    m.pt.lat_us = malloc(m.pt.cap * sizeof(double));
    if (!m.pt.lat_us)
        return EXIT_IO;
    m.start_at = c->start_at;
    if (c->phase_cmd) {
        /* depth by depth: warm-up, phase, measured points, phase */
        for (unsigned di = 0; di < c->ndepths && !rc; di++) {
            unsigned depth = (unsigned)c->depths[di];
            char phase[32];

            rc = run_depth(&m, depth, true);
            snprintf(phase, sizeof(phase), "warm%u", depth);
            if (!rc)
                rc = run_phase_cmd(c, phase);
            if (!rc)
                rc = run_depth(&m, depth, false);
            snprintf(phase, sizeof(phase), "d%u", depth);
            if (!rc)
                rc = run_phase_cmd(c, phase);
        }
    } else {
        for (int w = 0; w < 2 && !rc; w++) {
            bool write = w == 1;

            if (write ? !c->op_write : !c->op_read)
                continue;
            for (unsigned si = 0; si < c->nsizes && !rc; si++)
                for (unsigned di = 0; di < c->ndepths && !rc; di++)
                    rc = run_point(&m, write, c->sizes[si],
                                   (unsigned)c->depths[di], false);
        }
    }
    free(m.pt.lat_us);
    return rc;
}

/* ------------------------------------------------------------------ */
/* commands                                                            */

static void cfg_defaults(struct bench_cfg *c)
{
    static const uint64_t sizes[] = { 512, 4096, 16384, 65536, 262144, 1048576 };

    memset(c, 0, sizeof(*c));
    memcpy(c->sizes, sizes, sizeof(sizes));
    c->nsizes = 6;
    c->depths[0] = 1;
    c->depths[1] = 16;
    c->ndepths = 2;
    c->op_read = c->op_write = true;
    c->ios = DEFAULT_IOS;
    c->max_bytes = DEFAULT_MAX_BYTES;
    c->span = DEFAULT_SPAN;
    c->seed = 1;
    c->opts.features_wanted = VGF_FEATURES_DEFAULT;
}

static int cmd_bench_blk(int argc, char **argv)
{
    struct bench_cfg c;
    const char *devid_s = NULL;
    struct vgf_bench_blk *bb;
    uint64_t devid;
    int rc;

    cfg_defaults(&c);
    if (parse_bench_args(argc, argv, &c, &devid_s))
        return EXIT_USAGE;
    if (vg_parse_uint(devid_s, VG_MAX_DEVID, &devid)) {
        fprintf(stderr, "vgrant-io: DEVID '%s' is not a number in [0, 65535]\n", devid_s);
        return EXIT_USAGE;
    }
    bb = vgf_bench_blk_open((unsigned)devid, &c.opts);
    if (!bb)
        return EXIT_USAGE;
    rc = run_matrix(&c, c.label ? c.label : vgf_bench_blk_mode(bb),
                    &vgf_bench_blk_driver, bb, vgf_bench_blk_capacity(bb));
    vgf_bench_blk_close(bb);
    return rc;
}

static int cmd_bench_file(int argc, char **argv)
{
    struct bench_cfg c;
    const char *path = NULL;
    struct vgf_bench_file *bf;
    int rc;

    cfg_defaults(&c);
    if (parse_bench_args(argc, argv, &c, &path))
        return EXIT_USAGE;
    bf = vgf_bench_file_open(path);
    if (!bf)
        return EXIT_USAGE;
    rc = run_matrix(&c, c.label ? c.label : "pvblock", &vgf_bench_file_driver,
                    bf, vgf_bench_file_capacity(bf));
    vgf_bench_file_close(bf);
    return rc;
}

static int cmd_memcpy(int argc, char **argv)
{
    struct bench_cfg c;
    double t0, t, secs;
    uint64_t bytes = 0;
    char *src, *dst;
    unsigned rounds = 0;

    cfg_defaults(&c);
    c.seconds = 1.0;
    if (parse_bench_args(argc, argv, &c, NULL))
        return EXIT_USAGE;
    src = malloc(MEMCPY_BUF);
    dst = malloc(MEMCPY_BUF);
    if (!src || !dst) {
        fprintf(stderr, "vgrant-io: memcpy: out of memory\n");
        free(src);
        free(dst);
        return EXIT_IO;
    }
    memset(src, 0x5a, MEMCPY_BUF);
    memset(dst, 0xa5, MEMCPY_BUF);   /* fault every page in before timing */
    t0 = vg_now_s();
    do {
        memcpy(dst, src, MEMCPY_BUF);
        src[rounds % MEMCPY_BUF] ^= dst[(rounds * 7919u) % MEMCPY_BUF];
        bytes += MEMCPY_BUF;
        rounds++;
        t = vg_now_s();
    } while (t - t0 < c.seconds);
    secs = t - t0;
    if (c.csv)
        printf("memcpy_mbps %.1f\n", (double)bytes / 1e6 / secs);
    else
        printf("memcpy: %.1f MB/s (%u copies of %u MiB in %.2f s)\n",
               (double)bytes / 1e6 / secs, rounds, MEMCPY_BUF >> 20, secs);
    free(src);
    free(dst);
    return 0;
}

int vgf_bench_main(int argc, char **argv)
{
    if (!strcmp(argv[0], "bench"))
        return cmd_bench_blk(argc, argv);
    if (!strcmp(argv[0], "bench-file"))
        return cmd_bench_file(argc, argv);
    return cmd_memcpy(argc, argv);
}
