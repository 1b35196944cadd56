/* SPDX-License-Identifier: MIT */
/*
 * The verify engine (see vgf_verify.h): chunks of at most one virtio
 * request each, a bounded pool of buffers in flight, the pattern
 * generated when a chunk is submitted (write) or checked when it comes
 * back (read), so memory stays depth * max request whatever the sizes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vgrant/clock.h"
#include "vgf_check.h"
#include "vgf_verify.h"
#include "vgrant/protocol.h"

#define SECTOR 512u

static double mb_per_s(uint64_t bytes, double secs)
{
    return secs > 0 ? (double)bytes / 1e6 / secs : 0.0;
}


struct slot {
    bool busy;
    uint64_t io_off;        /* the request this chunk belongs to */
    uint64_t io_size;
    uint64_t off;           /* this chunk */
    size_t len;
    uint8_t *buf;
};

struct engine {
    struct vgf_blk *blk;
    bool write;
    uint64_t seed;
    unsigned depth;
    size_t chunk;
    struct slot *slots;
    unsigned busy;
    unsigned requests;      /* chunks completed */
    int failed;             /* 0, or VGF_VERIFY_FAILED */
    bool mismatch;
    uint64_t bad_offset, bad_size;
};

static int engine_init(struct engine *e, struct vgf_blk *blk, unsigned depth)
{
    memset(e, 0, sizeof(*e));
    e->blk = blk;
    e->depth = depth;
    e->chunk = vgf_blk_max_request(blk);
    e->slots = calloc(depth, sizeof(*e->slots));
    if (!e->slots)
        return -1;
    for (unsigned i = 0; i < depth; i++) {
        e->slots[i].buf = malloc(e->chunk);
        if (!e->slots[i].buf)
            return -1;
    }
    return 0;
}

static void engine_free(struct engine *e)
{
    for (unsigned i = 0; e->slots && i < e->depth; i++)
        free(e->slots[i].buf);
    free(e->slots);
}

static void report_mismatch(struct engine *e, const struct slot *s)
{
    uint8_t *want = malloc(s->len);
    size_t i = 0;

    if (want) {
        vgf_pattern_fill(want, s->off, s->len, e->seed);
        while (i < s->len && want[i] == s->buf[i])
            i++;
    }
    fprintf(stderr, "vgrant-io: MISMATCH in request at offset %" PRIu64
            " size %" PRIu64 ": first bad byte at device offset %" PRIu64
            " (expected 0x%02x, read 0x%02x)\n", s->io_off, s->io_size,
            s->off + i, want && i < s->len ? want[i] : 0,
            i < s->len ? s->buf[i] : 0);
    free(want);
    if (!e->mismatch) {
        e->mismatch = true;
        e->bad_offset = s->io_off;
        e->bad_size = s->io_size;
    }
}

/* Collect one chunk. */
static void engine_reap(struct engine *e)
{
    struct slot *s = NULL;

    if (vgf_blk_wait(e->blk, (void **)&s, -1)) {
        int err = errno;
        if (!s) {
            fprintf(stderr, "vgrant-io: waiting for %u requests: %s\n", e->busy,
                    strerror(err));
            /* nothing more will come back */
            for (unsigned i = 0; i < e->depth; i++)
                e->slots[i].busy = false;
            e->busy = 0;
            e->failed = VGF_VERIFY_FAILED;
            return;
        }
        fprintf(stderr, "vgrant-io: %s at offset %" PRIu64 " size %" PRIu64
                " (chunk at %" PRIu64 ", %zu bytes) failed: %s\n",
                e->write ? "write" : "read", s->io_off, s->io_size, s->off,
                s->len, strerror(err));
        e->failed = VGF_VERIFY_FAILED;
        if (!e->bad_size) {
            e->bad_offset = s->io_off;
            e->bad_size = s->io_size;
        }
    } else {
        e->requests++;
        if (!e->write) {
            bool ok = true;
            /* compare word by word against the pattern */
            for (size_t i = 0; i < s->len && ok; i += 8) {
                uint8_t want[8];
                vgf_pattern_fill(want, s->off + i, 8, e->seed);
                ok = memcmp(want, s->buf + i, 8) == 0;
            }
            if (!ok) {
                report_mismatch(e, s);
                e->failed = VGF_VERIFY_FAILED;
            }
        }
    }
    s->busy = false;
    e->busy--;
}

/* Queue request [off, off+size) as chunks; returns when all are queued. */
static void engine_request(struct engine *e, uint64_t off, uint64_t size)
{
    for (uint64_t done = 0; done < size && !e->failed; ) {
        struct slot *s = NULL;
        int rc;

        while (e->busy == e->depth)
            engine_reap(e);
        if (e->failed)
            return;
        for (unsigned i = 0; i < e->depth; i++)
            if (!e->slots[i].busy) {
                s = &e->slots[i];
                break;
            }
        s->io_off = off;
        s->io_size = size;
        s->off = off + done;
        s->len = size - done < e->chunk ? (size_t)(size - done) : e->chunk;
        if (e->write) {
            vgf_pattern_fill(s->buf, s->off, s->len, e->seed);
            rc = vgf_blk_submit_write(e->blk, s->off, s->buf, s->len, s);
        } else {
            memset(s->buf, 0, s->len);
            rc = vgf_blk_submit_read(e->blk, s->off, s->buf, s->len, s);
        }
        if (rc) {
            if (errno == EAGAIN && e->busy) {
                engine_reap(e);
                continue;
            }
            fprintf(stderr, "vgrant-io: %s at offset %" PRIu64 " size %" PRIu64
                    ": %s\n", e->write ? "write" : "read", off, size,
                    strerror(errno));
            e->failed = VGF_VERIFY_FAILED;
            return;
        }
        s->busy = true;
        e->busy++;
        done += s->len;
    }
}

static void engine_drain(struct engine *e)
{
    while (e->busy)
        engine_reap(e);
}

static bool overlaps(const uint64_t *offs, unsigned n, uint64_t size)
{
    for (unsigned i = 0; i < n; i++)
        for (unsigned j = i + 1; j < n; j++)
            if (offs[i] < offs[j] + size && offs[j] < offs[i] + size)
                return true;
    return false;
}

/* COUNT non-overlapping offsets for one size, each in its own slot of
 * size + 4K, at every 512-byte position inside a page in turn. */
static int pick_offsets(const struct vgf_verify_opts *c, uint64_t size, uint64_t span,
                        uint64_t *offs, unsigned *n, uint64_t rng)
{
    uint64_t slot = size + VG_PAGE_SIZE, nslots = span / slot;
    unsigned want = c->count;

    if (c->noffsets) {
        memcpy(offs, c->offsets, c->noffsets * sizeof(*offs));
        *n = c->noffsets;
    } else if (c->stride) {
        for (unsigned k = 0; k < want; k++)
            offs[k] = (uint64_t)k * c->stride;
        *n = want;
    } else {
        if (nslots == 0) {
            fprintf(stderr, "vgrant-io: --span %" PRIu64 " too small for size "
                    "%" PRIu64 "\n", span, size);
            return -1;
        }
        if (want > nslots) {
            fprintf(stderr, "vgrant-io: size %" PRIu64 ": only room for %" PRIu64
                    " offsets in the span, using that many\n", size, nslots);
            want = (unsigned)nslots;
        }
        for (unsigned k = 0; k < want; k++) {
            uint64_t s;
            bool dup;
            do {
                rng = vgf_mix64(rng);
                s = want * 2 > nslots ? k : rng % nslots;
                dup = false;
                for (unsigned j = 0; j < k && !dup; j++)
                    dup = offs[j] / slot == s;
            } while (dup);
            offs[k] = s * slot + (uint64_t)(k % (VG_PAGE_SIZE / SECTOR)) * SECTOR;
        }
        *n = want;
    }
    for (unsigned k = 0; k < *n; k++) {
        if (offs[k] % SECTOR || offs[k] + size > span || offs[k] + size < size) {
            fprintf(stderr, "vgrant-io: offset %" PRIu64 " with size %" PRIu64
                    " is unaligned or outside [0, %" PRIu64 ")\n", offs[k], size,
                    span);
            return -1;
        }
    }
    if (overlaps(offs, *n, size)) {
        fprintf(stderr, "vgrant-io: offsets overlap for size %" PRIu64
                "; give a larger --stride or other --offsets\n", size);
        return -1;
    }
    return 0;
}

int vgf_verify_run(struct vgf_blk *b, const struct vgf_verify_opts *o,
                   struct vgf_verify_result *r)
{
    uint64_t *offs = NULL, span;
    struct engine e = { 0 };
    int rc = VGF_VERIFY_OK;

    memset(r, 0, sizeof(*r));
    if (o->nsizes == 0 || o->depth == 0 || (!o->noffsets && o->count == 0))
        return VGF_VERIFY_USAGE;
    for (unsigned i = 0; i < o->nsizes; i++)
        if (o->sizes[i] == 0 || o->sizes[i] % SECTOR) {
            fprintf(stderr, "vgrant-io: size %" PRIu64 " is not a multiple of 512\n",
                    o->sizes[i]);
            return VGF_VERIFY_USAGE;
        }
    if (vgf_blk_readonly(b)) {
        fprintf(stderr, "vgrant-io: the device is read-only; verify writes\n");
        return VGF_VERIFY_FAILED;
    }
    span = o->span && o->span < vgf_blk_capacity(b) ? o->span : vgf_blk_capacity(b);
    offs = calloc(o->noffsets > o->count ? o->noffsets : o->count, sizeof(*offs));
    if (!offs || engine_init(&e, b, o->depth)) {
        fprintf(stderr, "vgrant-io: out of memory\n");
        rc = VGF_VERIFY_FAILED;
        goto out;
    }
    if (o->out)
        fprintf(o->out, "seed %" PRIu64 ", depth %u, span %" PRIu64 " bytes, "
                "max request %zu bytes\n", o->seed, o->depth, span,
                vgf_blk_max_request(b));

    for (unsigned si = 0; si < o->nsizes; si++) {
        uint64_t size = o->sizes[si], bytes;
        unsigned n;
        double t0, t1, t2;

        if (pick_offsets(o, size, span, offs, &n, o->seed ^ size)) {
            rc = VGF_VERIFY_USAGE;
            break;
        }
        e.seed = vgf_mix64(o->seed + si);   /* each size writes new data */
        e.write = true;
        t0 = vg_now_s();
        for (unsigned k = 0; k < n && !e.failed; k++)
            engine_request(&e, offs[k], size);
        engine_drain(&e);
        if (!e.failed && vgf_blk_flush(b)) {
            fprintf(stderr, "vgrant-io: flush: %s\n", strerror(errno));
            e.failed = VGF_VERIFY_FAILED;
        }
        t1 = vg_now_s();
        e.write = false;
        for (unsigned k = 0; k < n && !e.failed; k++)
            engine_request(&e, offs[k], size);
        engine_drain(&e);
        t2 = vg_now_s();
        if (e.failed) {
            fprintf(stderr, "vgrant-io: size %" PRIu64 ": FAILED\n", size);
            rc = e.failed;
            break;
        }
        bytes = size * n;
        if (o->out)
            fprintf(o->out, "size %8" PRIu64 ": %u offsets, %" PRIu64 " bytes "
                    "written and read back OK, %.1f MB/s write, %.1f MB/s read\n",
                    size, n, bytes, mb_per_s(bytes, t1 - t0),
                    mb_per_s(bytes, t2 - t1));
        r->bytes += bytes;
        r->requests += 2ull * n;
        r->write_s += t1 - t0;
        r->read_s += t2 - t1;
    }
    r->mismatch = e.mismatch;
    r->bad_offset = e.bad_offset;
    r->bad_size = e.bad_size;
    if (!rc && o->out)
        fprintf(o->out, "verified %" PRIu64 " bytes in %" PRIu64 " requests, "
                "%.1f MB/s write, %.1f MB/s read\n", r->bytes, r->requests,
                mb_per_s(r->bytes, r->write_s), mb_per_s(r->bytes, r->read_s));
out:
    engine_free(&e);
    free(offs);
    return rc;
}

int vgf_write_pattern(struct vgf_blk *b, uint64_t off, uint64_t len,
                      uint64_t seed, unsigned depth, double *seconds)
{
    struct engine e = { 0 };
    double t0 = vg_now_s();
    int rc;

    if (off % SECTOR || len % SECTOR || depth == 0)
        return VGF_VERIFY_USAGE;
    if (engine_init(&e, b, depth)) {
        engine_free(&e);
        return VGF_VERIFY_FAILED;
    }
    e.write = true;
    e.seed = seed;
    if (len)
        engine_request(&e, off, len);
    engine_drain(&e);
    if (!e.failed && vgf_blk_flush(b)) {
        fprintf(stderr, "vgrant-io: flush: %s\n", strerror(errno));
        e.failed = VGF_VERIFY_FAILED;
    }
    rc = e.failed;
    engine_free(&e);
    if (seconds)
        *seconds = vg_now_s() - t0;
    return rc;
}

uint32_t vgf_pattern_cksum(uint64_t off, uint64_t len, uint64_t seed)
{
    uint8_t buf[4096];
    uint32_t crc = 0;

    for (uint64_t done = 0; done < len; ) {
        size_t n = len - done < sizeof(buf) ? (size_t)(len - done) : sizeof(buf);

        vgf_pattern_fill(buf, off + done, n, seed);
        crc = vgf_cksum_update(crc, buf, n);
        done += n;
    }
    return vgf_cksum_finish(crc, len);
}

uint64_t vgf_seq_offset(const struct vgf_seq *s, uint64_t n)
{
    return s->start + (n % s->nblocks) * s->block;
}

int vgf_seq_write(struct vgf_blk *b, const struct vgf_seq *s, uint64_t n,
                  uint32_t *crc)
{
    uint64_t off;
    int rc;

    if (!s->nblocks || !s->block || s->block % SECTOR || s->start % SECTOR)
        return VGF_VERIFY_USAGE;
    off = vgf_seq_offset(s, n);
    rc = vgf_write_pattern(b, off, s->block, s->seed + n, 1, NULL);
    if (rc == VGF_VERIFY_OK && crc)
        *crc = vgf_pattern_cksum(off, s->block, s->seed + n);
    return rc;
}
