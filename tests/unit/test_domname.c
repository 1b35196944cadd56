/* SPDX-License-Identifier: MIT */
/* Domains by id or by name (vgrant attach guest1 ...), issue 14.2. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "vgrant/domname.h"
#include "vgrant/xsutil.h"

struct env {
    struct vg_fake_world *w;
    struct vg_hyp *dom0;
};

static int setup(void **state)
{
    static struct env e;

    e.w = vg_fake_world_new();
    assert_non_null(e.w);
    for (uint16_t d = 0; d <= 5; d++)
        assert_int_equal(vg_fake_domain_create(e.w, d), 0);
    e.dom0 = vg_fake_open(e.w, 0);
    assert_non_null(e.dom0);
    assert_int_equal(vg_xs_write_fmt(e.dom0, 0, "/local/domain/0", "name",
                                     "Domain-0"), 0);
    assert_int_equal(vg_xs_write_fmt(e.dom0, 0, "/local/domain/3", "name",
                                     "guest1"), 0);
    assert_int_equal(vg_xs_write_fmt(e.dom0, 0, "/local/domain/4", "name",
                                     "twin"), 0);
    assert_int_equal(vg_xs_write_fmt(e.dom0, 0, "/local/domain/5", "name",
                                     "twin"), 0);
    *state = &e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;

    vg_hyp_close(e->dom0);
    vg_fake_world_free(e->w);
    return 0;
}

static void test_ids_and_names(void **state)
{
    struct env *e = *state;
    char err[256];
    uint16_t id = 0xffff;

    assert_int_equal(vg_domain_resolve(e->dom0, "7", &id, err, sizeof(err)), 0);
    assert_int_equal(id, 7);
    assert_int_equal(vg_domain_resolve(e->dom0, "guest1", &id, err,
                                       sizeof(err)), 0);
    assert_int_equal(id, 3);
    assert_int_equal(vg_domain_resolve(e->dom0, "Domain-0", &id, err,
                                       sizeof(err)), 0);
    assert_int_equal(id, 0);
    /* ids need no xenstore */
    assert_int_equal(vg_domain_resolve(NULL, "32751", &id, err, sizeof(err)), 0);
    assert_int_equal(id, 32751);
}

static void test_hostile_domain_names(void **state)
{
    struct env *e = *state;
    char err[256];
    uint16_t id = 42;

    assert_int_equal(vg_domain_resolve(e->dom0, "nosuch", &id, err,
                                       sizeof(err)), -1);
    assert_int_equal(errno, ENOENT);
    assert_non_null(strstr(err, "no domain is named 'nosuch'"));

    assert_int_equal(vg_domain_resolve(e->dom0, "twin", &id, err,
                                       sizeof(err)), -1);
    assert_int_equal(errno, ENOTUNIQ);
    assert_non_null(strstr(err, "ambiguous: domains 4, 5"));

    assert_int_equal(vg_domain_resolve(e->dom0, "32752", &id, err,
                                       sizeof(err)), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(vg_domain_resolve(e->dom0, "3x", &id, err,
                                       sizeof(err)), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(vg_domain_resolve(e->dom0, "", &id, err, sizeof(err)), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(vg_domain_resolve(e->dom0, "a/b", &id, err,
                                       sizeof(err)), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(vg_domain_resolve(e->dom0, "bad\nname", &id, err,
                                       sizeof(err)), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(id, 42);       /* untouched on failure */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids_and_names),
        cmocka_unit_test(test_hostile_domain_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
