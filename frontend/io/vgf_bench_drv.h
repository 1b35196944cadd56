/* SPDX-License-Identifier: MIT */
/*
 * The I/O drivers behind vgrant-io's benchmark (vgf_bench.c): one point
 * of the matrix is "I/Os of `size` bytes at consecutive (or, with
 * --random, random size-aligned) offsets inside [0, span), `depth` in
 * flight", each I/O's latency recorded.
 */
#ifndef VGRANT_VGF_BENCH_DRV_H
#define VGRANT_VGF_BENCH_DRV_H

#include <stdbool.h>
#include <stdint.h>

#include "libvgrant.h"

struct vgf_bench_point {
    unsigned ios;              /* I/Os to measure; 0: run for `seconds` */
    bool random;               /* offsets: vgf_bench_random_offset, not
                                  consecutive */
    uint64_t seed;
    double seconds;
    double measure_at;         /* > 0: once the warm-up is done, sleep
                                  until this CLOCK_REALTIME before the
                                  measured I/Os (--start-at) */
    double late;               /* out: seconds past measure_at when the
                                  measured I/Os started (0: on time) */
    double *lat_us;            /* [cap] latency of each measured I/O */
    unsigned cap;
    unsigned done;             /* out: I/Os measured */
    double elapsed;            /* out: seconds from first submit to last
                                  completion of the measured I/Os */
};

/* Offset of I/O number n of `size` bytes for --random: one of the
 * span/size size-aligned slots of [0, span), picked by xorshift64* of
 * seed and n (stateless, so threads and points need no shared state; the
 * same seed gives the same sequence).  span >= size > 0. */
uint64_t vgf_bench_random_offset(uint64_t seed, uint64_t n, uint64_t size,
                                 uint64_t span);

/* --start-at: parse seconds since the epoch (fractions ok, in
 * [1e9, 1e10)); 0, or -1 for anything else. */
int vgf_bench_parse_epoch(const char *s, double *out);
/* CLOCK_REALTIME in seconds (comparable across Xen guests: their wall
 * clocks come from the hypervisor's). */
double vgf_bench_realtime(void);
/* Sleep until CLOCK_REALTIME t; returns how late it is then (0 when on
 * time; the time already past t when called after it, without
 * sleeping). */
double vgf_bench_wait_until(double t);

struct vgf_bench_driver {
    /* 0, or -1 with errno (the point is then unusable). */
    int (*run)(void *ctx, bool write, uint64_t size, unsigned depth,
               uint64_t span, struct vgf_bench_point *pt);
};


/* virtio-grant device through vgrant_blk's asynchronous API */
struct vgf_bench_blk;
struct vgf_bench_blk *vgf_bench_blk_open(unsigned devid, const struct vgf_opts *o);
void vgf_bench_blk_close(struct vgf_bench_blk *bb);
const char *vgf_bench_blk_mode(const struct vgf_bench_blk *bb);
uint64_t vgf_bench_blk_capacity(const struct vgf_bench_blk *bb);
extern const struct vgf_bench_driver vgf_bench_blk_driver;

/* block device file, O_DIRECT, one thread per request in flight */
struct vgf_bench_file;
struct vgf_bench_file *vgf_bench_file_open(const char *path);
void vgf_bench_file_close(struct vgf_bench_file *bf);
uint64_t vgf_bench_file_capacity(const struct vgf_bench_file *bf);
extern const struct vgf_bench_driver vgf_bench_file_driver;

#endif /* VGRANT_VGF_BENCH_DRV_H */
