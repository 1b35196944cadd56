/* SPDX-License-Identifier: MIT */
/*
 * CLOCK_MONOTONIC for timeouts, rate limits and measured durations: one
 * helper for the daemon, the library and the tools.
 */
#ifndef VGRANT_CLOCK_H
#define VGRANT_CLOCK_H

#include <stdint.h>

uint64_t vg_now_ms(void);   /* milliseconds */
double vg_now_s(void);      /* seconds, with nanosecond resolution */

#endif /* VGRANT_CLOCK_H */
