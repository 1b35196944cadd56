/* SPDX-License-Identifier: MIT */
/* Checks of vg_attach_spec_parse, see speccheck.h. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vgrant/hyp.h"
#include "vgrant/log.h"
#include "vgrant/protocol.h"
#include "vgrant/toolstack.h"
#include "vgrant/xsutil.h"

#include "speccheck.h"

void spec_parse_ok(const char *text, struct vg_attach_spec *s)
{
    char err[512] = "untouched";

    memset(s, 0xa5, sizeof(*s));
    if (vg_attach_spec_parse(text, s, err, sizeof(err)) != 0)
        fail_msg("'%s' rejected: %s", text, err);
    assert_string_equal(err, "");
}

void spec_parse_fails(const char *text, const char *frag1, const char *frag2)
{
    struct vg_attach_spec s;
    char err[512] = "";

    memset(&s, 0xa5, sizeof(s));
    errno = 0;
    assert_int_equal(vg_attach_spec_parse(text, &s, err, sizeof(err)), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(((unsigned char *)&s)[0], 0xa5);
    if (frag1 && !strstr(err, frag1))
        fail_msg("'%s': message '%s' does not name '%s'", text, err, frag1);
    if (frag2 && !strstr(err, frag2))
        fail_msg("'%s': message '%s' does not name '%s'", text, err, frag2);
}

char *spec_tval(struct vg_attach_spec *s, const char *name)
{
    const char *v = vg_spec_value(s, name);

    if (!v)
        fail_msg("spec has no %s", name);
    return (char *)v;
}
