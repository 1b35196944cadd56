/* SPDX-License-Identifier: MIT */
/*
 * Internals shared by the toolstack's files (not installed):
 *   toolstack_spec.c  device specs: parse, check
 *   toolstack.c       attach, detach
 *   toolstack_list.c  list
 *   toolstack_xs.c    the xenstore helpers below
 * Functions taking err/errlen describe a failure there (vg_errf).
 */
#ifndef VGRANT_TOOLSTACK_INT_H
#define VGRANT_TOOLSTACK_INT_H

#include <stdint.h>

#include "vgrant/hyp.h"
#include "vgrant/toolstack.h"

/* toolstack_spec.c: the spec may come from vg_attach_spec_parse or be
 * filled in by a caller (the xl patch): check what ends up in xenstore
 * either way. */
int ts_check_spec(const struct vg_attach_spec *s, char *err, size_t errlen);

/* 1 if path exists, 0 if not, -1 with errno on error. */
int ts_node_exists(struct vg_hyp *h, vg_xs_tx_t tx, const char *path);
/* Create path owned by owner (nobody else may look) unless it exists;
 * intermediate directories the toolstack creates must belong to the
 * domain whose subtree they are in, as with libxl. */
int ts_ensure_dir(struct vg_hyp *h, vg_xs_tx_t tx, const char *path,
                  uint16_t owner, char *err, size_t errlen);
/* Write dir/key and give it the device directory's permissions. */
int ts_write_key(struct vg_hyp *h, vg_xs_tx_t tx, const char *dir,
                 const struct vg_xs_perm *perms, unsigned nperms,
                 char *err, size_t errlen, const char *key,
                 const char *fmt, ...)
    __attribute__((format(printf, 9, 10)));
/* List dir into *names (one free() releases all).  A missing or empty
 * directory gives *names = NULL, *num = 0 and returns 0. */
int ts_read_dir(struct vg_hyp *h, vg_xs_tx_t tx, const char *dir,
                char ***names, unsigned *num);
/* Domain ids listed under /local/domain, sorted; malloc'd (NULL + errno on
 * error). */
uint16_t *ts_list_domains(struct vg_hyp *h, vg_xs_tx_t tx, unsigned *num);
/* Mark the devids listed under dir in used[]; a missing dir adds nothing. */
int ts_mark_devids(struct vg_hyp *h, vg_xs_tx_t tx, const char *dir,
                   uint8_t *used);
/* The device's backend / frontend directory. */
void ts_backend_dir(char *buf, unsigned size, uint16_t be, uint16_t fe,
                    unsigned devid);
void ts_frontend_dir(char *buf, unsigned size, uint16_t fe, unsigned devid);

#endif /* VGRANT_TOOLSTACK_INT_H */
