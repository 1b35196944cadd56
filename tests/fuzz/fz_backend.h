/* SPDX-License-Identifier: MIT */
/*
 * The backend engine shared by fuzz_ring and fuzz_xport: a whole vgrantd
 * (struct vgd, the real xenbus state machine, transports and blk model) in
 * a fake world, facing a hand-played guest (tests/unit/rawfront.c)
 * whose ring bytes, descriptors, buffers and state changes come from the
 * fuzzer.  See fz_backend.c for the input layout.
 */
#ifndef VGRANT_FUZZ_FZ_BACKEND_H
#define VGRANT_FUZZ_FZ_BACKEND_H

#include <stddef.h>
#include <stdint.h>

/* Modes a harness lets the input choose from (bit per mode). */
#define FZB_GRANT      1u
#define FZB_COPY       2u
#define FZB_AUTO       4u
#define FZB_STATIC     8u
#define FZB_PERSISTENT 16u

void fzb_run(const uint8_t *data, size_t size, unsigned modes);

#endif
