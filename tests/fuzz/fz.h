/* SPDX-License-Identifier: MIT */
/*
 * Shared pieces of the libFuzzer harnesses (tests/fuzz/README.md):
 * a cursor over the fuzzer's bytes, an invariant check that aborts (so
 * libFuzzer records the input as a crash), quiet logging, and the scratch
 * disk image the blk model serves.
 */
#ifndef VGRANT_FUZZ_FZ_H
#define VGRANT_FUZZ_FZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "vgrant/hyp.h"

/* An invariant of the code under test broke: report and abort, which
 * libFuzzer turns into a saved crash input.  Printed on stdout too:
 * `make fuzz` runs with -close_fd_mask=2 (the daemon's own log lines
 * would flood stderr), which keeps libFuzzer's and the sanitizers' reports
 * but not ours. */
void fz_fail(const char *file, int line, const char *cond, const char *fmt,
             ...) __attribute__((noreturn, format(printf, 4, 5)));
#define FZ_CHECK(cond, ...)                                                 \
    do {                                                                    \
        if (!(cond))                                                        \
            fz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                \
    } while (0)

/* Consumes the input front to back; reads past the end yield zeros. */
struct fz_in {
    const uint8_t *p;
    size_t left;
};

static inline void fz_in_init(struct fz_in *in, const uint8_t *data, size_t n)
{
    in->p = data;
    in->left = n;
}

static inline bool fz_done(const struct fz_in *in) { return in->left == 0; }

static inline uint8_t fz_u8(struct fz_in *in)
{
    if (!in->left)
        return 0;
    in->left--;
    return *in->p++;
}

static inline uint16_t fz_u16(struct fz_in *in)
{
    uint16_t v = fz_u8(in);
    return (uint16_t)(v | (uint16_t)fz_u8(in) << 8);
}

static inline uint32_t fz_u32(struct fz_in *in)
{
    uint32_t v = fz_u16(in);
    return v | (uint32_t)fz_u16(in) << 16;
}

static inline uint64_t fz_u64(struct fz_in *in)
{
    uint64_t v = fz_u32(in);
    return v | (uint64_t)fz_u32(in) << 32;
}

/* Up to max bytes as a NUL-terminated string: a length byte, then bytes
 * (NULs inside become 'x' so the string keeps its length). */
size_t fz_str(struct fz_in *in, char *buf, size_t max);
/* Copy up to n bytes of input into dst (the rest zeroed); returns copied. */
size_t fz_bytes(struct fz_in *in, void *dst, size_t n);

/* Log errors only (VGRANT_FUZZ_LOG_LEVEL=warn|info|debug for more) and
 * check every formatted line for control bytes (unescaped peer text). */
void fz_quiet_logs(void);

/* Path of a scratch raw image of FZ_IMAGE_SECTORS sectors, created once
 * per process (removed at exit). */
#define FZ_IMAGE_SECTORS 64u

/* Harnesses that need a fake world keep one for this many inputs, then
 * start a fresh one: a world per input costs more than most inputs, and
 * one world forever slows down as refs and dead domains pile up.  An
 * input therefore runs in a world at most FZ_WORLD_USES - 1 inputs old;
 * every input checks it left nothing mapped, granted or bound. */
#define FZ_WORLD_USES 32u

/* The world a harness keeps (FZ_WORLD_USES): dom 0's handle be, a second
 * dom 0 handle ts for the toolstack if asked for, the guest domain fe. */
struct fz_world {
    struct vg_fake_world *w;
    struct vg_hyp *be, *ts;
    unsigned uses;
};

/* Before each input: replace the world every FZ_WORLD_USES inputs, create
 * it (and its handles) when there is none, make sure domain fe exists. */
void fz_world_get(struct fz_world *fw, uint16_t fe, bool toolstack);
/* Will the next fz_world_get replace the world?  (What lives in it, a
 * daemon kept across inputs, must go first.) */
bool fz_world_due(const struct fz_world *fw);
/* VGRANT_FUZZ_FRESH=1 in the environment: the daemon-level harnesses
 * start a fresh daemon (and device) for every input instead of keeping
 * one across inputs (tests/fuzz/README.md "Speed"). */
bool fz_fresh_mode(void);
const char *fz_image(void);

#endif /* VGRANT_FUZZ_FZ_H */
