/* SPDX-License-Identifier: MIT */
/*
 * The attach-id backend key (protocol.h "Identity"): one value per
 * toolstack attach, so the backend can tell a re-created device directory
 * from the one it has been serving.
 */
#ifndef VGRANT_ATTACH_ID_H
#define VGRANT_ATTACH_ID_H

#include <stdbool.h>
#include <stddef.h>

#include "vgrant/protocol.h"

/* Room for an attach-id and its terminating NUL. */
#define VG_ATTACH_ID_BUF (VG_MAX_ATTACH_ID + 1)

/* A fresh attach-id: 32 lowercase hex digits of getrandom(2) output.
 * size must be at least 33.  0, or -1 with errno set. */
int vg_attach_id_new(char *buf, size_t size);

/* True if v is a well-formed attach-id: 1..VG_MAX_ATTACH_ID characters
 * from [0-9a-f-]. */
bool vg_attach_id_valid(const char *v);

#endif /* VGRANT_ATTACH_ID_H */
