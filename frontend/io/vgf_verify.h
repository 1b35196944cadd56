/* SPDX-License-Identifier: MIT */
/*
 * Verified block I/O: write the vgf_check.h pattern at chosen offsets with
 * several requests in flight, read it back and compare.  The engine behind
 * `vgrant-io verify` and `vgrant-io write`, in the library so the tests
 * can run it against a scripted backend.
 */
#ifndef VGRANT_VGF_VERIFY_H
#define VGRANT_VGF_VERIFY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "vgrant_blk.h"

#define VGF_VERIFY_OK       0
#define VGF_VERIFY_FAILED   1   /* mismatch or I/O error */
#define VGF_VERIFY_USAGE    2   /* bad sizes/offsets */

struct vgf_verify_opts {
    const uint64_t *sizes;      /* request sizes, multiples of 512 */
    unsigned nsizes;
    const uint64_t *offsets;    /* NULL: chosen (see count/stride) */
    unsigned noffsets;
    uint64_t stride;            /* offsets k * stride, k < count */
    unsigned count;             /* offsets per size */
    unsigned depth;             /* chunks in flight, >= 1 */
    uint64_t seed;
    uint64_t span;              /* stay inside [0, span); 0: capacity */
    FILE *out;                  /* per-size and summary lines; NULL: none */
};

struct vgf_verify_result {
    uint64_t bytes;             /* verified */
    uint64_t requests;          /* writes + reads of whole offsets */
    double write_s, read_s;
    bool mismatch;
    uint64_t bad_offset, bad_size;    /* first failing request */
};

/* Chosen offsets are non-overlapping, sector aligned, and step through
 * every 512-byte position inside a page.  Each size writes data of its own
 * (seed mixed with the size index).  Returns VGF_VERIFY_*; errors and the
 * first mismatch (offset, size, first bad byte) go to stderr. */
int vgf_verify_run(struct vgf_blk *b, const struct vgf_verify_opts *o,
                   struct vgf_verify_result *r);

/* Write the pattern of seed over [off, off+len) with depth chunks in
 * flight, then flush.  *seconds gets the elapsed time.  VGF_VERIFY_*. */
int vgf_write_pattern(struct vgf_blk *b, uint64_t off, uint64_t len,
                      uint64_t seed, unsigned depth, double *seconds);

/* The POSIX cksum(1) CRC of the pattern of seed over [off, off+len): what
 * dom0's `dd ... | cksum` of that range shows once it was written. */
uint32_t vgf_pattern_cksum(uint64_t off, uint64_t len, uint64_t seed);

/*
 * A numbered write sequence (`vgrant-io seqwrite`, the fault-kill
 * scenario).  Write n covers [start + (n % nblocks) * block, +block) with
 * the pattern of seed + n, so the data of a block says which write put it
 * there.  The writer retries write n until it completes before it starts
 * write n + 1, so each position holds the last completed write to it.
 */
struct vgf_seq {
    uint64_t start;             /* multiple of 512 */
    uint64_t block;             /* multiple of 512, > 0 */
    uint64_t nblocks;           /* positions, > 0 */
    uint64_t seed;
};

uint64_t vgf_seq_offset(const struct vgf_seq *s, uint64_t n);

/* Write number n, then flush (VGF_VERIFY_*).  On VGF_VERIFY_OK *crc is the
 * cksum CRC of the block as written (vgf_pattern_cksum). */
int vgf_seq_write(struct vgf_blk *b, const struct vgf_seq *s, uint64_t n,
                  uint32_t *crc);

#endif /* VGRANT_VGF_VERIFY_H */
