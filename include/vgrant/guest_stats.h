/* SPDX-License-Identifier: MIT */
/*
 * Guest-side counters a frontend publishes for the administrator: the
 * frontend key "stats" (see protocol.h), one line of "name=value" words.
 * Only the guest knows them (how often a static-region submit had to wait,
 * the region's high-water mark), so `vgrant stats` shows them next to
 * vgrantd's own counters.  They are the guest's word: informational,
 * parsed strictly, never used to make a decision.
 */
#ifndef VGRANT_GUEST_STATS_H
#define VGRANT_GUEST_STATS_H

#include <stddef.h>
#include <stdint.h>

struct vg_guest_stats {
    uint64_t requests;            /* submitted */
    uint64_t completed;           /* completed successfully */
    uint64_t failed;
    uint64_t pages_shared;        /* pages granted per request */
    uint64_t throttle_waits;      /* static: submits that waited for space */
    uint64_t region_high_water;   /* static/persistent: most bytes in use */
    uint64_t bounce_bytes;        /* bytes copied into/out of region/pool */
    uint64_t zero_copy_bytes;     /* persistent: bytes used in place */
};

/* Longest line vg_format_guest_stats writes (8 names + 20-digit values),
 * well inside xenstored's 2048-byte limit on a guest's values. */
#define VG_GUEST_STATS_MAX 400

/* "requests=1 completed=1 ..." in a fixed order; -1/E2BIG if too small. */
int vg_format_guest_stats(char *buf, size_t size, const struct vg_guest_stats *s);
/* Strict: exactly the names vg_format_guest_stats writes, each once, in
 * any order, single spaces, decimal values.  0, or -1/EINVAL with *bad
 * (if not NULL) pointing at the offending word. */
int vg_parse_guest_stats(const char *line, struct vg_guest_stats *s,
                         const char **bad);

#endif /* VGRANT_GUEST_STATS_H */
