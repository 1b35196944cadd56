/* SPDX-License-Identifier: MIT */
/*
 * Loopback: the real frontend library (libvgrant + vgrant_blk) and the real
 * backend daemon core (vgd + virtio-blk model) talk through the hypervisor
 * test double, in grant mode, exactly as they do on Xen: the toolstack code
 * creates the xenstore directories, the guest grants every buffer, the
 * daemon maps them in batches and unmaps before completing.
 *
 * Moves at least 64 MiB through virtio-blk with every byte verified, in the
 * guest buffers and independently in the backing file, then checks that no
 * grant, mapping or port is left behind.
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

#include "vgrant/guest_stats.h"
#include "vgrant/hyp.h"
#include "vgrant/log.h"
#include "vgrant/toolstack.h"
#include "vgrantd.h"
#include "vgrant_blk.h"
#include "loopfix.h"

#define GUEST       LOOP_GUEST
#define IMAGE_BYTES LOOP_IMAGE_BYTES
#define TARGET_BYTES (64ull * 1024 * 1024)

static int setup(void **state)
{
    struct vgd_options o = { 0 };
    struct loop *l = loop_start("test_loopback", NULL, &o);

    assert_int_equal(l->devid, 0);
    *state = l;
    return 0;
}

static int teardown(void **state)
{
    loop_stop(*state);
    return 0;
}

/* Write then read back patterns of many sizes at aligned and page-unaligned
 * (sector-aligned) offsets until TARGET_BYTES have been verified, using
 * synchronous and queue-depth I/O, then check the file independently. */
static void test_loopback_64mib_verified(void **state)
{
    static const size_t sizes[] = {
        512, 1024, 4096, 4608, 16384, 65536, 131072 + 512, 262144, 1048576,
    };
    static const uint64_t misalign[] = { 0, 512, 1536, 3584 };
    struct loop *l = *state;
    struct vgf_blk *b = vgf_blk_open(l->guest, 0, NULL);
    uint8_t *wbuf = malloc(1048576 + 4096), *rbuf = malloc(1048576 + 4096);
    uint8_t *fbuf = malloc(1048576 + 4096);
    uint64_t verified = 0, requests = 0;
    uint32_t pass = 0;

    assert_non_null(b);
    assert_non_null(wbuf);
    assert_non_null(rbuf);
    assert_non_null(fbuf);
    assert_int_equal(vgf_blk_capacity(b), IMAGE_BYTES);
    assert_false(vgf_blk_readonly(b));

    char id[VIRTIO_BLK_ID_BYTES + 1];
    assert_int_equal(vgf_blk_get_id(b, id), 0);
    assert_true(strlen(id) > 0);

    while (verified < TARGET_BYTES) {
        for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
            size_t len = sizes[si];
            uint64_t off = ((uint64_t)pass * 7919 * 4096 + si * 1048576) %
                           (IMAGE_BYTES - len - 4096);
            off = (off & ~4095ull) + misalign[(pass + si) % 4];
            /* Unaligned user buffers too: the library must bounce them. */
            uint8_t *w = wbuf + (si % 3) * 8, *r = rbuf + (si % 5) * 8;

            loop_fill_pattern(w, len, off, pass);
            assert_int_equal(vgf_blk_write(b, off, w, len), 0);
            memset(r, 0xa5, len);
            assert_int_equal(vgf_blk_read(b, off, r, len), 0);
            if (memcmp(w, r, len) != 0)
                fail_msg("guest read-back mismatch at offset %llu size %zu pass %u",
                         (unsigned long long)off, len, pass);
            /* Independently: what the daemon wrote into the file. */
            assert_int_equal(pread(l->image_fd, fbuf, len, (off_t)off), (ssize_t)len);
            if (memcmp(w, fbuf, len) != 0)
                fail_msg("backing file mismatch at offset %llu size %zu",
                         (unsigned long long)off, len);
            verified += 2 * len;
            requests += 2;
        }
        pass++;
    }

    /* Queue depth: 16 writes of 64 KiB in flight, then 16 reads. */
    enum { DEPTH = 16, CHUNK = 65536 };
    uint8_t *qw = malloc(DEPTH * CHUNK), *qr = malloc(DEPTH * CHUNK);
    assert_non_null(qw);
    assert_non_null(qr);
    for (int round = 0; round < 8; round++) {
        uint64_t base = (uint64_t)round * DEPTH * CHUNK;
        for (int i = 0; i < DEPTH; i++) {
            loop_fill_pattern(qw + (size_t)i * CHUNK, CHUNK, base + (uint64_t)i * CHUNK, 1000 + round);
            assert_int_equal(vgf_blk_submit_write(b, base + (uint64_t)i * CHUNK,
                                                  qw + (size_t)i * CHUNK, CHUNK,
                                                  (void *)(uintptr_t)(i + 1)), 0);
        }
        for (int i = 0; i < DEPTH; i++) {
            void *cookie = NULL;
            assert_int_equal(vgf_blk_wait(b, &cookie, 10000), 0);
            assert_non_null(cookie);
        }
        memset(qr, 0, DEPTH * CHUNK);
        for (int i = 0; i < DEPTH; i++)
            assert_int_equal(vgf_blk_submit_read(b, base + (uint64_t)i * CHUNK,
                                                 qr + (size_t)i * CHUNK, CHUNK,
                                                 (void *)(uintptr_t)(i + 1)), 0);
        for (int i = 0; i < DEPTH; i++) {
            void *cookie = NULL;
            assert_int_equal(vgf_blk_wait(b, &cookie, 10000), 0);
        }
        assert_memory_equal(qw, qr, DEPTH * CHUNK);
        verified += 2ull * DEPTH * CHUNK;
        requests += 2 * DEPTH;
    }
    assert_int_equal(vgf_blk_flush(b), 0);

    /* Grant mode is strict: nothing stays mapped between requests. */
    assert_int_equal(vg_fake_live_mappings(l->w, GUEST), 3 /* ring pages */ );

    printf("loopback: verified %llu bytes (%.1f MiB) in %llu I/Os through "
           "virtio-blk in grant mode; backend maps %llu in %llu batches, "
           "unmaps %llu\n",
           (unsigned long long)verified, verified / 1048576.0,
           (unsigned long long)requests,
           (unsigned long long)l->dom0->counters.maps,
           (unsigned long long)l->dom0->counters.map_batches,
           (unsigned long long)l->dom0->counters.unmaps);
    assert_true(verified >= TARGET_BYTES);

    vgf_blk_close(b);
    /* The guest left its own counters for `vgrant stats`. */
    char path[128];
    struct vg_guest_stats gs;
    unsigned glen;
    snprintf(path, sizeof(path), "/local/domain/%u/device/virtio-grant/0/stats", GUEST);
    char *line = l->dom0->ops->xs_read(l->dom0, VG_XS_NO_TX, path, &glen);
    assert_non_null(line);
    assert_int_equal(vg_parse_guest_stats(line, &gs, NULL), 0);
    assert_true(gs.completed >= requests);
    assert_int_equal(gs.failed, 0);
    assert_int_equal(gs.throttle_waits, 0);
    free(line);
    /* Closing the device revokes every grant of the guest. */
    assert_int_equal(vg_fake_live_grants(l->w, GUEST), 0);
    free(qw);
    free(qr);
    free(wbuf);
    free(rbuf);
    free(fbuf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_loopback_64mib_verified, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
