/* SPDX-License-Identifier: MIT */
/*
 * Fixture of the toolstack tests (test_toolstack.c, test_toolstack_detach.c):
 * a fake world with dom0 and guests 1 and 2, and checks of what attach
 * wrote to xenstore.
 */
#ifndef VGRANT_TEST_TSFIX_H
#define VGRANT_TEST_TSFIX_H

#include <stdbool.h>
#include <stdint.h>

#include "vgrant/hyp.h"
#include "vgrant/toolstack.h"
#include "vgrant/xsutil.h"

struct world {
    struct vg_fake_world *w;
    struct vg_hyp *dom0;
    struct vg_hyp *g1;
    struct vg_hyp *g2;
};

/* cmocka setup/teardown: *state is a struct world. */
int tsf_world_setup(void **state);
int tsf_world_teardown(void **state);
/* text parsed (it must parse). */
struct vg_attach_spec tsf_spec_of(const char *text);
/* Attach text to guest fe from dom0 (it must succeed); the devid. */
unsigned tsf_attach_ok(struct world *t, uint16_t fe, const char *text);
/* Value of dir/key as domain h sees it; NULL (errno set) if unreadable. */
char *tsf_read_as(struct vg_hyp *h, const char *dir, const char *key);
/* dir/key as h sees it equals want. */
void tsf_assert_key(struct vg_hyp *h, const char *dir, const char *key,
                    const char *want);
bool tsf_exists(struct world *t, const char *path);
int tsf_write_as(struct vg_hyp *h, const char *dir, const char *key,
                 const char *value);
/* The perms of path equal want[0..n). */
void tsf_assert_perms(struct world *t, const char *path,
                      const struct vg_xs_perm *want, unsigned n);

#define BE0(fe, devid) "/local/domain/0/backend/virtio-grant/" #fe "/" #devid
#define FE(fe, devid) "/local/domain/" #fe "/device/virtio-grant/" #devid

#endif /* VGRANT_TEST_TSFIX_H */
