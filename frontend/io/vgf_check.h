/* SPDX-License-Identifier: MIT */
/*
 * Data checking for verified I/O: a deterministic test pattern and the
 * POSIX cksum CRC, so a guest and dom0 can compare what went through a
 * device without moving the data twice.
 */
#ifndef VGRANT_VGF_CHECK_H
#define VGRANT_VGF_CHECK_H

#include <stddef.h>
#include <stdint.h>

/* Fill buf with the pattern of [off, off+len) on a device: every 8-byte
 * word is a function of seed and its absolute offset, so data that lands
 * at the wrong place does not match either.  off and len multiples of 8. */
void vgf_pattern_fill(uint8_t *buf, uint64_t off, size_t len, uint64_t seed);

/* POSIX cksum(1): start with crc = 0, update over the data, finish with
 * the total length; prints as "%u %llu" like `cksum < file`. */
uint32_t vgf_cksum_update(uint32_t crc, const void *data, size_t len);
uint32_t vgf_cksum_finish(uint32_t crc, uint64_t total_len);

/* splitmix64 step, for reproducible choices from a seed. */
uint64_t vgf_mix64(uint64_t x);

#endif /* VGRANT_VGF_CHECK_H */
