/* SPDX-License-Identifier: MIT */
/*
 * Fixture of the fake hypervisor's own tests (test_hyp_fake.c: grants and
 * event channels; test_hyp_fake_xs.c: xenstore and domain destruction): a
 * world with dom0 and two guests, each with an open handle, and helpers
 * for watch events and event channel pairs.
 */
#ifndef VGRANT_TEST_HFFIX_H
#define VGRANT_TEST_HFFIX_H

#include <stdbool.h>

#include "vgrant/hyp.h"

#define FRONT 1
#define OTHER 2

struct env {
    struct vg_fake_world *w;
    struct vg_hyp *dom0;
    struct vg_hyp *front;
    struct vg_hyp *other;
};

/* cmocka setup/teardown: *state is a struct env. */
int hft_setup(void **state);
int hft_teardown(void **state);
bool hft_fd_readable(int fd);
/* Drain all queued watch events; returns how many. */
unsigned hft_drain_watches(struct vg_hyp *h);
/* Asserts the next watch event is exactly (path, token). */
void hft_expect_watch(struct vg_hyp *h, const char *path, const char *token);
/* Connect front (offering) to dom0; returns both ports. */
void hft_connect_pair(struct env *e, vg_port_t *fport, vg_port_t *bport);

#endif
