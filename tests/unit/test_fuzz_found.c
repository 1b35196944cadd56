/* SPDX-License-Identifier: MIT */
/*
 * Regression tests for what the libFuzzer harnesses (tests/fuzz/) found,
 * one test per finding, each driving the real code the way the harness
 * input did.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "rawfront.h"
#include "vgrant/log.h"
#include "vgrantd.h"

#define GUEST 7
#define REGION_PAGES 4u

/* Log lines seen, and whether one carried a control byte. */
static unsigned lines_seen;
static char bad_line[256];

static void sink(enum vg_log_level level, const char *msg, void *arg)
{
    (void)level;
    (void)arg;
    lines_seen++;
    for (const unsigned char *p = (const unsigned char *)msg; *p; p++)
        if (*p < 0x20 || *p == 0x7f) {
            snprintf(bad_line, sizeof(bad_line), "%s", msg);
            return;
        }
}

/* fuzz_xport: a guest whose region-refs-0 holds a newline made vgrantd
 * log it raw ("... (starts '1\nforged...')"), i.e. a guest could forge
 * a line of the daemon's log (issue 13, finding 3, static mode path). */
static void test_hostile_fuzz_static_region_refs_logged_escaped(void **state)
{
    struct vg_fake_world *w = vg_fake_world_new();
    struct vg_hyp *be;
    struct rf_attach a = { .mode = VG_MODE_STATIC };
    struct rawfront rf;
    struct vgd *d;
    vg_gref_t ref;
    char image[] = "/tmp/vgd-fuzzfound-XXXXXX";
    int fd = mkstemp(image);

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 65536), 0);
    close(fd);
    a.target = image;
    assert_non_null(w);
    assert_int_equal(vg_fake_domain_create(w, GUEST), 0);
    be = vg_fake_open(w, 0);
    assert_non_null(be);
    assert_int_equal(rf_toolstack_attach(be, GUEST, 0, 0, &a), 0);
    assert_int_equal(rf_open(&rf, w, GUEST, 0, 0), 0);
    assert_int_equal(vg_xs_write_fmt(be, VG_XS_NO_TX, rf.be_path, VG_KEY_REGION,
                                     "%u", REGION_PAGES * VG_PAGE_SIZE), 0);
    d = vgd_new(be, NULL);
    assert_non_null(d);
    assert_int_equal(vgd_start(d), 0);
    for (int i = 0; i < 20 && rf_backend_state(&rf) != VG_XB_INITWAIT; i++)
        assert_int_equal(vgd_run_once(d, 0), 0);
    assert_int_equal(rf_backend_state(&rf), VG_XB_INITWAIT);

    assert_non_null(rf_share(&rf, REGION_PAGES, true, &ref));
    assert_int_equal(rf_write(&rf, VG_KEY_REGION_PAGES, "4"), 0);
    assert_int_equal(rf_write(&rf, "region-refs-0",
                              "1\nvgrantd: error: forged\x1b[2J"), 0);
    vg_log_init("test_fuzz_found", VG_LOG_ERR);
    lines_seen = 0;
    bad_line[0] = '\0';
    vg_log_set_sink(sink, NULL);
    assert_int_equal(rf_connect(&rf, 8), 0);
    for (int i = 0; i < 20 && rf_backend_state(&rf) != VG_XB_CLOSING; i++)
        assert_int_equal(vgd_run_once(d, 0), 0);
    vg_log_set_sink(NULL, NULL);
    assert_int_equal(rf_backend_state(&rf), VG_XB_CLOSING);
    assert_true(lines_seen > 0);
    if (bad_line[0])
        fail_msg("log line with a control byte: %s", bad_line);

    rf_close(&rf);
    vgd_free(d);
    assert_int_equal(vg_fake_live_mappings(w, GUEST), 0);
    vg_hyp_close(be);
    vg_fake_world_free(w);
    unlink(image);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_fuzz_static_region_refs_logged_escaped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
