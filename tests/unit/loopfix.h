/* SPDX-License-Identifier: MIT */
/*
 * Loopback fixture shared by test_loopback.c and test_loopback_modes.c:
 * the hypervisor test double with dom0 and guest LOOP_GUEST, a 16 MiB
 * image file attached by the toolstack's own code (vg_toolstack_attach,
 * as `vgrant attach` would), and the vgrantd core serving it from a
 * thread.  The guest side (libvgrant) is the test's.
 */
#ifndef VGRANT_TEST_LOOPFIX_H
#define VGRANT_TEST_LOOPFIX_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "vgrant/hyp.h"
#include "vgrantd.h"

#define LOOP_GUEST        3
#define LOOP_IMAGE_BYTES  (16u * 1024 * 1024)

struct loop {
    struct vg_fake_world *w;
    struct vg_hyp *dom0, *guest;
    struct vgd *vgd;
    pthread_t thread;
    int stop;
    char image[64];
    int image_fd;
    unsigned devid;          /* what the toolstack gave the device */
};

/* Attach "type=blk,target=<image>,queue-size=256[,extra_spec]" (extra_spec
 * NULL or "": nothing more) and start the daemon with options o; logs at
 * WARN as `name`.  Fails the test on any error. */
struct loop *loop_start(const char *name, const char *extra_spec,
                        const struct vgd_options *o);
/* The same with the whole device spec (its target, if any, the test's
 * own; l->image is still made). */
struct loop *loop_start_spec(const char *name, const char *spec,
                             const struct vgd_options *o);
/* Stop and free the daemon, check nothing of the guest stays mapped and
 * no port bound in dom0, free everything, remove the image. */
void loop_stop(struct loop *l);

/* Deterministic pattern: every 8-byte word names its absolute offset and
 * the pass, so a misplaced or stale block is caught, not just a flipped
 * bit.  len a multiple of 8. */
void loop_fill_pattern(uint8_t *buf, size_t len, uint64_t offset,
                       uint32_t pass);

#endif /* VGRANT_TEST_LOOPFIX_H */
