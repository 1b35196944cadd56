/* SPDX-License-Identifier: MIT */
/*
 * Block benchmark engine of vgrant-io: a matrix of request sizes x queue
 * depths x operations, each point measured as MB/s, IOPS and per-request
 * latency percentiles, against either a virtio-grant device (libvgrant's
 * asynchronous API) or a block device file such as blkfront's /dev/xvda
 * (O_DIRECT, one thread per request in flight).  Also a memcpy bandwidth
 * reference.
 *
 * CSV rows (--csv), exactly:  mode,op,size,depth,mbps,iops,p50_us,p99_us
 * with size in bytes.  A benchmark is a measurement, not a test: nothing
 * here judges a number.
 */
#ifndef VGRANT_VGF_BENCH_H
#define VGRANT_VGF_BENCH_H

#include <stdbool.h>

#define VGF_BENCH_CSV_HEADER "mode,op,size,depth,mbps,iops,p50_us,p99_us"

/* True for the commands vgf_bench_main handles: bench, bench-file, memcpy. */
bool vgf_bench_is_command(const char *cmd);

/* argv[0] is the command; parses its own options (see vgf_bench_usage).
 * Returns an exit status: 0, 1 (I/O error), 2 (usage, cannot open). */
int vgf_bench_main(int argc, char **argv);

/* The manual section of these commands, for vgrant-io --help. */
const char *vgf_bench_usage(void);

#endif /* VGRANT_VGF_BENCH_H */
