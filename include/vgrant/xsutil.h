/* SPDX-License-Identifier: MIT */
/*
 * Small helpers over the hypervisor interface's xenstore calls: formatted
 * paths, strict integer parsing of values written by the other domain,
 * xenbus state names.
 */
#ifndef VGRANT_XSUTIL_H
#define VGRANT_XSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vgrant/hyp.h"
#include "vgrant/protocol.h"

#define VG_XS_PATH_MAX 256

/* Strict parsers: whole string, no sign, no spaces, in range.  Decimal for
 * uint; "0x" + 1..16 hex digits for hex64.  Return 0 or -1 (errno EINVAL /
 * ERANGE). */
int vg_parse_uint(const char *s, uint64_t max, uint64_t *out);
int vg_parse_hex64(const char *s, uint64_t *out);
/* The value of one hex digit (either case), -1 for any other char. */
int vg_hex_digit(char c);
/* A list of exactly `count` decimal grant refs separated by single spaces
 * (static mode's region-refs-<k>); no leading/trailing space, each ref a
 * strict decimal <= UINT32_MAX.  0 or -1/EINVAL. */
int vg_parse_ref_list(const char *s, uint32_t *refs, unsigned count);
/* Format refs[0..count) that way into buf; -1/E2BIG if it does not fit. */
int vg_format_ref_list(char *buf, size_t size, const uint32_t *refs,
                       unsigned count);
/* Sizes like "4M", "512K", "65536", "1G" (binary units). */
int vg_parse_size(const char *s, uint64_t *out);

/* Read dir/key into a malloc'd string (NULL + errno on failure, ENOENT if
 * missing, E2BIG if longer than VG_MAX_XS_VALUE). */
char *vg_xs_read_str(struct vg_hyp *h, vg_xs_tx_t tx, const char *dir,
                     const char *key);
/* Read and strictly parse; -1 with errno ENOENT (missing) or EINVAL/ERANGE
 * (garbage). */
int vg_xs_read_uint(struct vg_hyp *h, vg_xs_tx_t tx, const char *dir,
                    const char *key, uint64_t max, uint64_t *out);
int vg_xs_read_hex64(struct vg_hyp *h, vg_xs_tx_t tx, const char *dir,
                     const char *key, uint64_t *out);
int vg_xs_write_fmt(struct vg_hyp *h, vg_xs_tx_t tx, const char *dir,
                    const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* ---- transactions ----
 * xenstored answers a commit with EAGAIN when someone changed what the
 * transaction read or wrote meanwhile: the transaction is to be redone.
 * Every transaction of the daemon, the library and the tools goes through
 * vg_xs_transact, so all of them retry alike and a peer that rewrites its
 * keys in a loop cannot keep one of them busy forever. */
#define VG_XS_TX_ATTEMPTS 16

/* Body of a transaction: read and write through tx.  Returns 0 to commit,
 * a positive value to abort without an error (nothing to change: the
 * value is passed on), -1 with errno to abort and fail -- errno EAGAIN
 * (a read or write inside the transaction hit a conflict) redoes it. */
typedef int (*vg_xs_tx_fn)(struct vg_hyp *h, vg_xs_tx_t tx, void *arg);

/* Start a transaction, run fn, commit; redo the whole thing (fn included,
 * so fn must not keep state from an earlier attempt) while the commit or
 * fn fail with EAGAIN, at most VG_XS_TX_ATTEMPTS attempts in all.
 * Returns 0 once committed, fn's positive value if it aborted, or -1 with
 * errno: the transaction could not start, fn failed, the commit failed,
 * or EAGAIN after the last attempt.  *attempts (may be NULL) gets the
 * number of attempts made. */
int vg_xs_transact(struct vg_hyp *h, vg_xs_tx_fn fn, void *arg,
                   unsigned *attempts);

/* xenbus state of dir ("state" key); VG_XB_UNKNOWN if missing or garbage. */
enum vg_xenbus_state vg_xs_read_state(struct vg_hyp *h, const char *dir);
int vg_xs_write_state(struct vg_hyp *h, const char *dir, enum vg_xenbus_state s);
const char *vg_xenbus_state_name(unsigned s);

/* Copy src into dst[size], truncated and NUL-terminated (the contract of
 * xs_next_watch); no-op when dst is NULL or size 0. */
void vg_copy_trunc(char *dst, size_t size, const char *src);

/* snprintf that returns -1/ENAMETOOLONG instead of truncating. */
int vg_path(char *buf, unsigned size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Format an error message into err[errlen] (nothing if err is NULL or
 * errlen 0): the one helper behind every "char *err, size_t errlen"
 * out-parameter of the toolstack side. */
void vg_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* VGRANT_XSUTIL_H */
