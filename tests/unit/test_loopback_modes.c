/* SPDX-License-Identifier: MIT */
/*
 * Loopback per transport mode: libvgrant + vgrant_blk against the vgrantd
 * core over the hypervisor test double, one device per mode, at least
 * 16 MiB verified each (in the guest and independently in the backing
 * file), then the hypervisor operations that DEFINE each mode:
 *   grant       maps == unmaps, no grant copies, nothing left mapped;
 *   copy        no map at all after connect, copies > 0;
 *   auto        both paths used (small requests copied, large mapped);
 *   static      one map batch for the region at connect, none per request;
 *                a small region makes the submitter wait (throttle), the
 *                I/O never fails;
 *   persistent  maps bounded by the cache, cache hits > 0, zero-copy I/O
 *                from the pool.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vgrant/hyp.h"
#include "vgrant/log.h"
#include "vgrant/toolstack.h"
#include "vgrant/xsutil.h"
#include "vgrantd.h"
#include "vgrant_blk.h"
#include "loopfix.h"

#define GUEST        LOOP_GUEST
#define IMAGE_BYTES  LOOP_IMAGE_BYTES
#define TARGET_BYTES (16ull * 1024 * 1024)
#define RING_PAGES   3u

static struct loop *mode_start(const char *spec, const struct vgd_options *o)
{
    return loop_start("test_loopback_modes", spec, o);
}

static int stats_cb(const struct vgd_dev_stats *s, void *arg)
{
    *(struct vgd_dev_stats *)arg = *s;
    return 0;
}

/* Only read from the test thread while the backend thread is idle (all
 * I/O completed): the counters are plain fields of the daemon. */
static void dev_stats(struct loop *l, struct vgd_dev_stats *s)
{
    memset(s, 0, sizeof(*s));
    vgd_foreach_dev(l->vgd, stats_cb, s);
}

/* Sync I/O of many sizes and alignments, then queue depth.  bufs come
 * from the caller (the pool in persistent mode).  Returns bytes verified. */
static uint64_t move_verified(struct loop *l, struct vgf_blk *b, uint8_t *wbuf,
                              uint8_t *rbuf, unsigned depth)
{
    static const size_t sizes[] = {
        512, 1024, 4096, 4608, 16384, 65536, 131072 + 512, 262144, 1048576,
    };
    static const uint64_t misalign[] = { 0, 512, 1536, 3584 };
    uint8_t *fbuf = malloc(1048576);
    uint64_t verified = 0;
    uint32_t pass = 0;

    assert_non_null(fbuf);
    while (verified < TARGET_BYTES) {
        for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
            size_t len = sizes[si];
            uint64_t off = ((uint64_t)pass * 7919 * 4096 + si * 1048576) %
                           (IMAGE_BYTES - len - 4096);

            off = (off & ~4095ull) + misalign[(pass + si) % 4];
            loop_fill_pattern(wbuf, len, off, pass);
            assert_int_equal(vgf_blk_write(b, off, wbuf, len), 0);
            memset(rbuf, 0xa5, len);
            assert_int_equal(vgf_blk_read(b, off, rbuf, len), 0);
            if (memcmp(wbuf, rbuf, len))
                fail_msg("read-back mismatch at %llu size %zu",
                         (unsigned long long)off, len);
            assert_int_equal(pread(l->image_fd, fbuf, len, (off_t)off),
                             (ssize_t)len);
            if (memcmp(wbuf, fbuf, len))
                fail_msg("backing file mismatch at %llu size %zu",
                         (unsigned long long)off, len);
            verified += 2 * len;
        }
        pass++;
    }

    /* depth x 64 KiB in flight (throttles in a small static region) */
    enum { CHUNK = 65536 };
    uint8_t *qw = malloc((size_t)depth * CHUNK), *qr = malloc((size_t)depth * CHUNK);
    assert_non_null(qw);
    assert_non_null(qr);
    for (int round = 0; round < 4; round++) {
        uint64_t base = (uint64_t)round * depth * CHUNK % (IMAGE_BYTES / 2);

        for (unsigned i = 0; i < depth; i++) {
            loop_fill_pattern(qw + (size_t)i * CHUNK, CHUNK,
                         base + (uint64_t)i * CHUNK, 77 + round);
            while (vgf_blk_submit_write(b, base + (uint64_t)i * CHUNK,
                                        qw + (size_t)i * CHUNK, CHUNK,
                                        (void *)(uintptr_t)(i + 1))) {
                void *c = NULL;
                assert_int_equal(errno, EAGAIN);   /* queue full: wait */
                assert_int_equal(vgf_blk_wait(b, &c, 10000), 0);
            }
        }
        while (vgf_blk_in_flight(b)) {
            void *c = NULL;
            assert_int_equal(vgf_blk_wait(b, &c, 10000), 0);
        }
        memset(qr, 0, (size_t)depth * CHUNK);
        for (unsigned i = 0; i < depth; i++) {
            while (vgf_blk_submit_read(b, base + (uint64_t)i * CHUNK,
                                       qr + (size_t)i * CHUNK, CHUNK,
                                       (void *)(uintptr_t)(i + 1))) {
                void *c = NULL;
                assert_int_equal(errno, EAGAIN);
                assert_int_equal(vgf_blk_wait(b, &c, 10000), 0);
            }
        }
        while (vgf_blk_in_flight(b)) {
            void *c = NULL;
            assert_int_equal(vgf_blk_wait(b, &c, 10000), 0);
        }
        assert_memory_equal(qw, qr, (size_t)depth * CHUNK);
        verified += 2ull * depth * CHUNK;
    }
    assert_int_equal(vgf_blk_flush(b), 0);
    free(qw);
    free(qr);
    free(fbuf);
    return verified;
}

static void report(const char *mode, uint64_t verified, struct loop *l,
                   const struct vgd_dev_stats *s)
{
    printf("loopback mode %-10s verified %.1f MiB; backend: %llu maps in %llu "
           "batches, %llu unmaps, %llu copy batches (%llu segments, %llu "
           "bytes), cache %llu hits/%llu misses/%llu evictions, region %llu "
           "bytes\n", mode, verified / 1048576.0,
           (unsigned long long)l->dom0->counters.maps,
           (unsigned long long)l->dom0->counters.map_batches,
           (unsigned long long)l->dom0->counters.unmaps,
           (unsigned long long)s->copy_batches,
           (unsigned long long)s->grant_copies,
           (unsigned long long)s->bounce_bytes,
           (unsigned long long)s->cache_hits,
           (unsigned long long)s->cache_misses,
           (unsigned long long)s->cache_evictions,
           (unsigned long long)s->region_bytes);
}

static void test_mode_grant(void **state)
{
    struct loop *l = mode_start("mode=grant", NULL);
    struct vgf_blk *b = vgf_blk_open(l->guest, 0, NULL);
    uint8_t *w = malloc(1048576), *r = malloc(1048576);
    struct vgd_dev_stats s;
    uint64_t v;

    (void)state;
    assert_non_null(b);
    assert_string_equal(vgf_mode(vgf_blk_dev(b)), "grant");
    v = move_verified(l, b, w, r, 16);
    dev_stats(l, &s);
    report("grant", v, l, &s);
    assert_true(v >= TARGET_BYTES);
    assert_string_equal(s.mode, "grant");
    assert_int_equal(s.grant_copies, 0);
    /* strict: every request mapping undone; only the rings stay */
    assert_int_equal(s.maps - s.unmaps, RING_PAGES);
    assert_int_equal(vg_fake_live_mappings(l->w, GUEST), RING_PAGES);
    vgf_blk_close(b);
    assert_int_equal(vg_fake_live_grants(l->w, GUEST), 0);
    free(w);
    free(r);
    loop_stop(l);
}

static void test_mode_copy(void **state)
{
    struct loop *l = mode_start("mode=copy", NULL);
    struct vgf_blk *b = vgf_blk_open(l->guest, 0, NULL);
    uint8_t *w = malloc(1048576), *r = malloc(1048576);
    struct vgd_dev_stats s;
    uint64_t maps_at_connect = l->dom0->counters.maps, v;

    (void)state;
    assert_non_null(b);
    assert_string_equal(vgf_mode(vgf_blk_dev(b)), "copy");
    v = move_verified(l, b, w, r, 16);
    dev_stats(l, &s);
    report("copy", v, l, &s);
    assert_true(v >= TARGET_BYTES);
    /* the rings are the only mappings ever made */
    assert_int_equal(maps_at_connect, RING_PAGES);
    assert_int_equal(l->dom0->counters.maps, RING_PAGES);
    assert_true(s.grant_copies > 0);
    assert_true(s.copy_batches > 0);
    /* at most two batches per request: in and back out */
    assert_true(s.copy_batches <= 2 * s.requests);
    assert_true(s.bounce_bytes >= v);
    assert_int_equal(l->dom0->counters.copies, s.grant_copies);
    vgf_blk_close(b);
    assert_int_equal(vg_fake_live_grants(l->w, GUEST), 0);
    free(w);
    free(r);
    loop_stop(l);
}

static void test_mode_auto(void **state)
{
    struct loop *l = mode_start("mode=auto", NULL);
    struct vgf_blk *b = vgf_blk_open(l->guest, 0, NULL);
    uint8_t *w = malloc(1048576), *r = malloc(1048576);
    struct vgd_dev_stats s;
    uint64_t v;

    (void)state;
    assert_non_null(b);
    assert_string_equal(vgf_mode(vgf_blk_dev(b)), "auto");
    v = move_verified(l, b, w, r, 16);
    dev_stats(l, &s);
    report("auto", v, l, &s);
    assert_true(v >= TARGET_BYTES);
    assert_true(s.auto_copied > 0);      /* 512 B .. 4 KiB requests */
    assert_true(s.auto_mapped > 0);      /* 64 KiB .. 1 MiB requests */
    assert_true(s.grant_copies > 0);
    assert_true(s.maps > RING_PAGES);
    assert_int_equal(s.maps - s.unmaps, RING_PAGES);
    vgf_blk_close(b);
    free(w);
    free(r);
    loop_stop(l);
}

static void test_mode_static(void **state)
{
    /* 2 MiB region, 48 x 64 KiB in flight: the submitter must wait */
    struct loop *l = mode_start("mode=static,region=2M", NULL);
    struct vgf_blk *b = vgf_blk_open(l->guest, 0, NULL);
    uint8_t *w = malloc(1048576), *r = malloc(1048576);
    struct vgd_dev_stats s;
    struct vgf_stats fs;
    uint64_t maps_at_connect, batches_at_connect, v;

    (void)state;
    assert_non_null(b);
    assert_string_equal(vgf_mode(vgf_blk_dev(b)), "static");
    maps_at_connect = l->dom0->counters.maps;
    batches_at_connect = l->dom0->counters.map_batches;
    /* rings + the whole region, the region in one batch */
    assert_int_equal(maps_at_connect, RING_PAGES + 512);
    assert_int_equal(batches_at_connect, RING_PAGES + 1);
    v = move_verified(l, b, w, r, 48);
    dev_stats(l, &s);
    report("static", v, l, &s);
    assert_true(v >= TARGET_BYTES);
    /* zero hypervisor operations per request after connect */
    assert_int_equal(l->dom0->counters.maps, maps_at_connect);
    assert_int_equal(l->dom0->counters.map_batches, batches_at_connect);
    assert_int_equal(l->dom0->counters.unmaps, 0);
    assert_int_equal(l->dom0->counters.copies, 0);
    assert_int_equal(s.region_bytes, 2u * 1024 * 1024);
    vgf_get_stats(vgf_blk_dev(b), &fs);
    printf("  frontend: %llu throttle waits, region high water %llu bytes, "
           "%llu bytes bounced, %llu pages shared per request\n",
           (unsigned long long)fs.throttle_waits,
           (unsigned long long)fs.region_high_water,
           (unsigned long long)fs.bounce_bytes,
           (unsigned long long)fs.pages_shared);
    assert_true(fs.throttle_waits > 0);
    assert_true(fs.region_high_water <= 2u * 1024 * 1024);
    assert_true(fs.bounce_bytes >= v);
    assert_int_equal(fs.pages_shared, 0);
    assert_int_equal(fs.failed, 0);
    vgf_blk_close(b);
    assert_int_equal(vg_fake_live_grants(l->w, GUEST), 0);
    free(w);
    free(r);
    loop_stop(l);
}

static void test_mode_persistent(void **state)
{
    struct vgd_options o = { .persistent_cache_pages = 1024 };
    struct loop *l = mode_start("mode=persistent", &o);
    struct vgf_opts fo = { .features_wanted = VGF_FEATURES_DEFAULT,
                           .pool_pages = 768 };
    struct vgf_blk *b = vgf_blk_open(l->guest, 0, &fo);
    struct vgf_dev *dev;
    struct vgd_dev_stats s;
    struct vgf_stats fs;
    uint8_t *w, *r;
    uint64_t v;

    (void)state;
    assert_non_null(b);
    dev = vgf_blk_dev(b);
    assert_string_equal(vgf_mode(dev), "persistent");
    /* application buffers straight from the pool: zero-copy */
    w = vgf_pool_alloc(dev, 1048576);
    r = vgf_pool_alloc(dev, 1048576);
    assert_non_null(w);
    assert_non_null(r);
    v = move_verified(l, b, w, r, 16);
    dev_stats(l, &s);
    report("persistent", v, l, &s);
    assert_true(v >= TARGET_BYTES);
    assert_true(s.cache_hits > 0);
    /* every pool page at most twice (read-only and writable) */
    assert_true(s.maps <= RING_PAGES + 2 * 768);
    assert_true(s.cache_size <= 1024);
    assert_true(s.cache_hits > s.cache_misses);
    vgf_get_stats(dev, &fs);
    printf("  frontend: %llu bytes zero-copy, %llu bounced, %llu throttle "
           "waits, pool high water %llu\n",
           (unsigned long long)fs.zero_copy_bytes,
           (unsigned long long)fs.bounce_bytes,
           (unsigned long long)fs.throttle_waits,
           (unsigned long long)fs.region_high_water);
    assert_true(fs.zero_copy_bytes > 0);
    assert_int_equal(fs.pages_shared, 0);
    vgf_pool_free(dev, w, 1048576);
    vgf_pool_free(dev, r, 1048576);
    vgf_blk_close(b);
    assert_int_equal(vg_fake_live_grants(l->w, GUEST), 0);
    loop_stop(l);
}

/* Review finding (issue 13): the backend only reads the descriptor table
 * and the driver (avail) area, so the frontend grants them read-only and
 * only the device (used) area writable; the backend maps them the same
 * way.  Checked on the grants themselves in the hypervisor double, with
 * I/O done (the backend really works with read-only rings). */
static void test_hostile_ring_grants_least_access(void **state)
{
    static const struct {
        const char *key;
        bool writable;
    } areas[] = {
        { "queue-0/desc", false },
        { "queue-0/driver", false },
        { "queue-0/device", true },
    };
    struct loop *l = mode_start("mode=grant", NULL);
    struct vgf_blk *b = vgf_blk_open(l->guest, 0, NULL);
    char fe[64];
    uint8_t buf[4096];

    (void)state;
    assert_non_null(b);
    memset(buf, 0x3c, sizeof(buf));
    assert_int_equal(vgf_blk_write(b, 4096, buf, sizeof(buf)), 0);
    memset(buf, 0, sizeof(buf));
    assert_int_equal(vgf_blk_read(b, 4096, buf, sizeof(buf)), 0);
    assert_int_equal(buf[4095], 0x3c);
    snprintf(fe, sizeof(fe), "/local/domain/%u/device/virtio-grant/0", GUEST);
    for (unsigned i = 0; i < sizeof(areas) / sizeof(areas[0]); i++) {
        struct vg_fake_grant_info gi;
        uint64_t addr;

        assert_int_equal(vg_xs_read_hex64(l->dom0, VG_XS_NO_TX, fe,
                                          areas[i].key, &addr), 0);
        assert_int_equal(vg_fake_grant_info(l->w, GUEST,
                                            vg_grant_addr_ref(addr), &gi), 0);
        assert_true(gi.active);
        assert_int_equal(gi.grantee, 0);
        if (gi.writable != areas[i].writable)
            fail_msg("%s is granted %s", areas[i].key,
                     gi.writable ? "writable" : "read-only");
        /* the backend has it mapped, writable only where it must write */
        assert_int_equal(gi.maps, 1);
        assert_int_equal(gi.maps_writable, areas[i].writable ? 1 : 0);
    }
    vgf_blk_close(b);
    assert_int_equal(vg_fake_live_grants(l->w, GUEST), 0);
    loop_stop(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mode_grant),
        cmocka_unit_test(test_mode_copy),
        cmocka_unit_test(test_mode_auto),
        cmocka_unit_test(test_mode_static),
        cmocka_unit_test(test_mode_persistent),
        cmocka_unit_test(test_hostile_ring_grants_least_access),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
