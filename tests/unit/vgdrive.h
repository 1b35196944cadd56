/* SPDX-License-Identifier: MIT */
/*
 * Driving the vgrantd core by hand from a test: the daemon runs in the
 * test's thread (vgd_run_once, no timeout) against a hand-played guest
 * (rawfront.h).  Shared by test_backend.c and test_modes.c.
 */
#ifndef VGRANT_TEST_VGDRIVE_H
#define VGRANT_TEST_VGDRIVE_H

#include <stdbool.h>
#include <stdint.h>

#include "rawfront.h"
#include "vgrantd.h"

/* Rounds the daemon gets to reach a state or complete a request. */
#define VD_MAX_ROUNDS 200

/* Called (if set) just before a helper below fails the test, e.g. to stop
 * capturing the log so it gets printed. */
extern void (*vd_on_fail)(void);

/* rounds rounds of the daemon, each must succeed. */
/* One round of the daemon: timeout 0, or waiting for file transfers in
 * flight (io_uring completes them on its own time). */
void vd_round(struct vgd *d);
void vd_pump(struct vgd *d, int rounds);
/* Run the daemon until the backend state of rf's device is s; fails the
 * test naming both states after VD_MAX_ROUNDS. */
void vd_wait_backend_state(struct vgd *d, struct rawfront *rf,
                           enum vg_xenbus_state s);
/* Publish rf's rings (num entries), wait for Connected, say Connected
 * ourselves and let the daemon see it. */
void vd_connect(struct vgd *d, struct rawfront *rf, uint16_t num);
/* Kick, then run the daemon until a used entry comes: true with *id and
 * *len set, false after VD_MAX_ROUNDS. */
bool vd_serve_until_used(struct vgd *d, struct rawfront *rf, uint32_t *id,
                         uint32_t *len);
/* Does the daemon hold device (dom, devid)? */
bool vd_has_dev(struct vgd *d, uint16_t dom, unsigned devid);
/* The daemon's counters of device (dom, devid); fails if it has none. */
struct vgd_dev_stats vd_dev_stats(struct vgd *d, uint16_t dom,
                                  unsigned devid);

#endif /* VGRANT_TEST_VGDRIVE_H */
