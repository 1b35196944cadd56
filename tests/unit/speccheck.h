/* SPDX-License-Identifier: MIT */
/*
 * Checks of vg_attach_spec_parse shared by test_toolstack_spec.c and
 * test_toolstack.c.
 */
#ifndef VGRANT_TEST_SPECCHECK_H
#define VGRANT_TEST_SPECCHECK_H

#include "vgrant/toolstack.h"

/* text must parse, with an empty error message. */
void spec_parse_ok(const char *text, struct vg_attach_spec *s);
/* The spec must be rejected with EINVAL, *out untouched, and a message
 * containing every one of the given fragments (key and value; NULL: no
 * check). */
void spec_parse_fails(const char *text, const char *frag1, const char *frag2);
/* The slot of type key name in s (the spec must have it). */
char *spec_tval(struct vg_attach_spec *s, const char *name);

#endif /* VGRANT_TEST_SPECCHECK_H */
