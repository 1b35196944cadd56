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

#define GUEST       3
#define IMAGE_BYTES (16u * 1024 * 1024)
#define TARGET_BYTES (64ull * 1024 * 1024)

struct loop {
    struct vg_fake_world *w;
    struct vg_hyp *dom0;
    struct vg_hyp *guest;
    struct vgd *vgd;
    pthread_t thread;
    volatile int stop;
    char image[64];
    int image_fd;
};

static void *backend_thread(void *arg)
{
    struct loop *l = arg;

    while (!__atomic_load_n(&l->stop, __ATOMIC_ACQUIRE))
        if (vgd_run_once(l->vgd, 20) < 0)
            break;
    return NULL;
}

/* Deterministic pattern: every 8-byte word names its absolute offset and
 * the pass, so a misplaced or stale block is caught, not just a flipped bit. */
static void fill_pattern(uint8_t *buf, size_t len, uint64_t offset, uint32_t pass)
{
    for (size_t i = 0; i < len; i += 8) {
        uint64_t v = ((offset + i) * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)pass << 48);
        memcpy(buf + i, &v, 8);
    }
}

static int setup(void **state)
{
    struct loop *l = calloc(1, sizeof(*l));
    struct vg_attach_spec spec;
    char err[256];
    unsigned devid;

    assert_non_null(l);
    vg_log_init("test_loopback", VG_LOG_WARN);
    snprintf(l->image, sizeof(l->image), "/tmp/vgrant-loop-XXXXXX");
    l->image_fd = mkstemp(l->image);
    assert_true(l->image_fd >= 0);
    assert_int_equal(ftruncate(l->image_fd, IMAGE_BYTES), 0);

    l->w = vg_fake_world_new();
    assert_non_null(l->w);
    assert_int_equal(vg_fake_domain_create(l->w, 0), 0);
    assert_int_equal(vg_fake_domain_create(l->w, GUEST), 0);
    l->dom0 = vg_fake_open(l->w, 0);
    l->guest = vg_fake_open(l->w, GUEST);
    assert_non_null(l->dom0);
    assert_non_null(l->guest);

    /* The toolstack's own code writes both directories, as `vgrant attach`
     * would on Xen.  A separate dom0 handle, like a separate process. */
    char specstr[160];
    snprintf(specstr, sizeof(specstr), "type=blk,target=%s,queue-size=256", l->image);
    assert_int_equal(vg_attach_spec_parse(specstr, &spec, err, sizeof(err)), 0);
    struct vg_hyp *tool = vg_fake_open(l->w, 0);
    assert_int_equal(vg_toolstack_attach(tool, GUEST, &spec, &devid, err, sizeof(err)), 0);
    assert_int_equal(devid, 0);
    vg_hyp_close(tool);

    struct vgd_options o = { 0 };
    l->vgd = vgd_new(l->dom0, &o);
    assert_non_null(l->vgd);
    assert_int_equal(vgd_start(l->vgd), 0);
    assert_int_equal(pthread_create(&l->thread, NULL, backend_thread, l), 0);
    *state = l;
    return 0;
}

static int teardown(void **state)
{
    struct loop *l = *state;

    __atomic_store_n(&l->stop, 1, __ATOMIC_RELEASE);
    vgd_request_stop(l->vgd);
    pthread_join(l->thread, NULL);
    vgd_free(l->vgd);
    /* Nothing of the guest is mapped or bound once the daemon is gone. */
    assert_int_equal(vg_fake_live_mappings(l->w, GUEST), 0);
    assert_int_equal(vg_fake_bound_ports(l->w, 0), 0);
    vg_hyp_close(l->guest);
    vg_hyp_close(l->dom0);
    vg_fake_world_free(l->w);
    close(l->image_fd);
    unlink(l->image);
    free(l);
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

            fill_pattern(w, len, off, pass);
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
            fill_pattern(qw + (size_t)i * CHUNK, CHUNK, base + (uint64_t)i * CHUNK, 1000 + round);
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
