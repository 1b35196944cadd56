/* SPDX-License-Identifier: MIT */
/*
 * What the files of vgrant-io share:
 *   vgrant-io.c      main, usage, argument parsing, the block commands
 *   vgrant-io-rng.c  the rng command
 */
#ifndef VGRANT_IO_CLI_H
#define VGRANT_IO_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "libvgrant.h"

#define EXIT_MISMATCH 1
#define EXIT_USAGE    2
#define SECTOR        512u
#define MAX_SIZES     32
#define MAX_OFFSETS   4096
#define DEFAULT_COUNT 8
#define DEFAULT_DEPTH 8
#define DEFAULT_SPAN  (256ull << 20)
#define STREAM_CHUNK  (1u << 20)

struct cli {
    const char *cmd;
    unsigned devid;
    uint64_t sizes[MAX_SIZES];
    unsigned nsizes;
    uint64_t *offsets;
    unsigned noffsets;
    uint64_t stride;
    unsigned count;
    bool have_count;
    unsigned depth;
    uint64_t seed;
    bool have_seed;
    uint64_t span;
    uint64_t offset, length;
    bool have_offset, have_length;
    unsigned rounds;
    bool reconnect;
    const char *stop_file;
    struct vgf_opts opts;
};

/* vgrant-io-rng.c: read the rng device c->devid, check the bytes. */
int cmd_rng(const struct cli *c, bool sizes_given);

#endif /* VGRANT_IO_CLI_H */
