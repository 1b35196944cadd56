/* SPDX-License-Identifier: MIT */
/*
 * Device specs of the toolstack (common/toolstack_spec.c,
 * vg_attach_spec_parse): defaults, every key and mode, xl's spaces, the
 * rng type, and every malformed or hostile spec refused with a message
 * naming the key and the value.
 */
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

/* ------------------------------------------------------------------ */
/* spec parsing                                                        */
/* ------------------------------------------------------------------ */

static void test_spec_defaults(void **state)
{
    struct vg_attach_spec s;
    (void)state;

    spec_parse_ok("type=blk,target=/srv/disk.img", &s);
    assert_string_equal(s.type, "blk");
    assert_string_equal(spec_tval(&s, "target"), "/srv/disk.img");
    assert_int_equal(s.backend_domid, 0);
    assert_string_equal(spec_tval(&s, "readonly"), "0");
    assert_int_equal(s.queues, 1);
    assert_int_equal(s.queue_size, 256);
    assert_string_equal(s.mode, "grant");
    assert_int_equal(s.region_bytes, 0);
    assert_int_equal(s.devid, -1);
}

static void test_spec_every_key_with_xl_spaces(void **state)
{
    struct vg_attach_spec s;
    (void)state;

    spec_parse_ok("type=blk, target=/dev/vg0/data,  backend=3, readonly=1, "
             "queues=8, queue-size=1024, mode=static, region=16M, devid=7", &s);
    assert_string_equal(spec_tval(&s, "target"), "/dev/vg0/data");
    assert_int_equal(s.backend_domid, 3);
    assert_string_equal(spec_tval(&s, "readonly"), "1");
    assert_int_equal(s.queues, 8);
    assert_int_equal(s.queue_size, 1024);
    assert_string_equal(s.mode, "static");
    assert_int_equal(s.region_bytes, 16u << 20);
    assert_int_equal(s.devid, 7);
}

static void test_spec_static_default_region(void **state)
{
    struct vg_attach_spec s;
    (void)state;

    spec_parse_ok("mode=static,target=/img,type=blk", &s);
    assert_int_equal(s.region_bytes, 4u << 20);
    spec_parse_ok("type=blk,target=/img,mode=static,region=4096", &s);
    assert_int_equal(s.region_bytes, 4096);
    spec_parse_ok("type=blk,target=/img,mode=static,region=256M", &s);
    assert_int_equal(s.region_bytes, VG_MAX_REGION_BYTES);
}

static void test_spec_every_mode_and_limits(void **state)
{
    static const char *const modes[] = {
        "grant", "persistent", "copy", "auto", "static",
    };
    struct vg_attach_spec s;
    char text[128];
    (void)state;

    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        snprintf(text, sizeof(text), "type=blk,target=/i,mode=%s", modes[i]);
        spec_parse_ok(text, &s);
        assert_string_equal(s.mode, modes[i]);
    }
    spec_parse_ok("type=blk,target=/i,queue-size=2,queues=1,devid=65535,"
             "backend=32751", &s);
    assert_int_equal(s.queue_size, 2);
    assert_int_equal(s.devid, 65535);
    assert_int_equal(s.backend_domid, 32751);
}

static void test_hostile_config_unknown_type(void **state)
{
    (void)state;
    spec_parse_fails("type=net,target=/img", "type", "net");
    spec_parse_fails("type=,target=/img", "type", "''");
    spec_parse_fails("type=blkblkblkblkblkblkblk,target=/img", "type",
                "blkblkblkblkblkblkblk");
}

static void test_hostile_config_missing_type(void **state)
{
    (void)state;
    spec_parse_fails("target=/img", "type", NULL);
}

static void test_hostile_config_missing_target(void **state)
{
    (void)state;
    spec_parse_fails("type=blk", "target", NULL);
    spec_parse_fails("type=blk,mode=grant", "target", NULL);
}

static void test_hostile_config_relative_target(void **state)
{
    (void)state;
    spec_parse_fails("type=blk,target=disk.img", "target", "disk.img");
    spec_parse_fails("type=blk,target=", "target", "''");
    spec_parse_fails("type=blk,target=/a\nb", "target", "control");
}

static void test_hostile_config_long_target(void **state)
{
    char text[1200] = "type=blk,target=/";
    (void)state;

    memset(text + strlen(text), 'x', 1050);
    spec_parse_fails(text, "target", "xxxx");
}

static void test_hostile_config_bad_mode(void **state)
{
    (void)state;
    spec_parse_fails("type=blk,target=/img,mode=fast", "mode", "fast");
    spec_parse_fails("type=blk,target=/img,mode=GRANT", "mode", "GRANT");
    spec_parse_fails("type=blk,target=/img,mode=", "mode", "''");
}

static void test_hostile_config_bad_region(void **state)
{
    (void)state;
    spec_parse_fails("type=blk,target=/i,mode=static,region=lots", "region", "lots");
    spec_parse_fails("type=blk,target=/i,mode=static,region=5000", "region", "5000");
    spec_parse_fails("type=blk,target=/i,mode=static,region=0", "region", "'0'");
    spec_parse_fails("type=blk,target=/i,mode=static,region=512M", "region", "512M");
    spec_parse_fails("type=blk,target=/i,mode=static,region=-4K", "region", "-4K");
    spec_parse_fails("type=blk,target=/i,mode=static,region=99999999999999999999G",
                "region", "99999999999999999999G");
}

static void test_hostile_config_region_without_static(void **state)
{
    (void)state;
    spec_parse_fails("type=blk,target=/i,region=4M", "region=4M", "mode=grant");
    spec_parse_fails("type=blk,target=/i,region=8K,mode=copy", "region=8K",
                "mode=copy");
}

static void test_hostile_config_bad_queue_size(void **state)
{
    (void)state;
    spec_parse_fails("type=blk,target=/i,queue-size=100", "queue-size", "100");
    spec_parse_fails("type=blk,target=/i,queue-size=1", "queue-size", "'1'");
    spec_parse_fails("type=blk,target=/i,queue-size=0", "queue-size", "'0'");
    spec_parse_fails("type=blk,target=/i,queue-size=2048", "queue-size", "2048");
    spec_parse_fails("type=blk,target=/i,queue-size=0x100", "queue-size", "0x100");
}

static void test_hostile_config_bad_queues(void **state)
{
    (void)state;
    spec_parse_fails("type=blk,target=/i,queues=0", "queues", "'0'");
    spec_parse_fails("type=blk,target=/i,queues=9", "queues", "'9'");
    spec_parse_fails("type=blk,target=/i,queues=+1", "queues", "+1");
}

static void test_hostile_config_unknown_key(void **state)
{
    (void)state;
    spec_parse_fails("type=blk,target=/i,colour=red", "colour", "red");
    spec_parse_fails("type=blk,target=/i,Mode=grant", "Mode", "grant");
}

static void test_hostile_config_duplicate_key(void **state)
{
    (void)state;
    spec_parse_fails("type=blk,target=/i,mode=grant,mode=copy", "mode", "copy");
    spec_parse_fails("type=blk,target=/a,target=/b", "target", "/b");
}

static void test_hostile_config_bad_readonly(void **state)
{
    (void)state;
    spec_parse_fails("type=blk,target=/i,readonly=yes", "readonly", "yes");
    spec_parse_fails("type=blk,target=/i,readonly=2", "readonly", "'2'");
}

static void test_hostile_config_bad_backend(void **state)
{
    (void)state;
    spec_parse_fails("type=blk,target=/i,backend=dom0", "backend", "dom0");
    spec_parse_fails("type=blk,target=/i,backend=-1", "backend", "-1");
    spec_parse_fails("type=blk,target=/i,backend=32752", "backend", "32752");
    spec_parse_fails("type=blk,target=/i,backend=", "backend", "''");
}

static void test_hostile_config_bad_devid(void **state)
{
    (void)state;
    spec_parse_fails("type=blk,target=/i,devid=65536", "devid", "65536");
    spec_parse_fails("type=blk,target=/i,devid=x", "devid", "'x'");
}

/* type=rng: no keys of its own but rate, which takes a size. */
static void test_spec_rng(void **state)
{
    struct vg_attach_spec s;
    (void)state;

    spec_parse_ok("type=rng", &s);
    assert_string_equal(s.type, "rng");
    assert_int_equal(s.ntkeys, 0);
    assert_null(vg_spec_value(&s, "rate"));
    assert_null(vg_spec_value(&s, "target"));
    assert_string_equal(s.mode, "grant");
    assert_int_equal(s.queues, 1);

    spec_parse_ok("type=rng, rate=64K, mode=copy, backend=3, devid=2", &s);
    assert_string_equal(spec_tval(&s, "rate"), "65536");
    assert_string_equal(s.mode, "copy");
    assert_int_equal(s.backend_domid, 3);
    assert_int_equal(s.devid, 2);
    spec_parse_ok("rate=1,type=rng", &s);              /* type need not be first */
    assert_string_equal(spec_tval(&s, "rate"), "1");
    spec_parse_ok("type=rng,rate=1G", &s);
    assert_string_equal(spec_tval(&s, "rate"), "1073741824");
    spec_parse_ok("type=rng,rate=1000,queues=1,mode=static", &s);
    assert_int_equal(s.region_bytes, 4u << 20);
}

/* Hostile rng specs: each refused, the message naming the device type
 * and the key=value at fault. */
static void test_hostile_config_rng(void **state)
{
    (void)state;
    /* unknown key */
    spec_parse_fails("type=rng,colour=red", "rng", "colour=red");
    /* rate out of range, or not a rate */
    spec_parse_fails("type=rng,rate=0", "rng", "rate '0'");
    spec_parse_fails("type=rng,rate=1073741825", "rng", "1073741825");
    spec_parse_fails("type=rng,rate=2G", "rng", "rate '2G'");
    spec_parse_fails("type=rng,rate=fast", "rng", "rate 'fast'");
    spec_parse_fails("type=rng,rate=-1", "rng", "rate '-1'");
    spec_parse_fails("type=rng,rate=", "rng", "rate ''");
    spec_parse_fails("type=rng,rate=0x10", "rng", "0x10");
    spec_parse_fails("type=rng,rate=99999999999999999999G", "rng", "rate");
    spec_parse_fails("type=rng,rate=1,rate=2", "rate", "rate=2");
    /* the keys of another type */
    spec_parse_fails("type=rng,target=/srv/disk.img", "rng",
                "target=/srv/disk.img");
    spec_parse_fails("type=rng,readonly=1", "rng", "readonly=1");
    spec_parse_fails("type=blk,target=/i,rate=100", "blk", "rate=100");
    spec_parse_fails("rate=100,target=/i,type=blk", "blk", "rate=100");
    /* one queue only */
    spec_parse_fails("type=rng,queues=2", "rng", "queues=2");
    /* the type itself */
    spec_parse_fails("type=RNG", "type", "RNG");
    spec_parse_fails("type=rng,type=blk", "type", "type=blk");
    spec_parse_fails("rate=5", "type", NULL);
}

static void test_hostile_config_malformed_entries(void **state)
{
    (void)state;
    spec_parse_fails("type=blk,,target=/i", "empty entry", NULL);
    spec_parse_fails("type=blk,target=/i,", "empty entry", NULL);
    spec_parse_fails("", "empty entry", NULL);
    spec_parse_fails("type=blk,target", "target", "key=value");
    spec_parse_fails("type=blk,target=/i,=5", "unknown key", "=5");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_defaults),
        cmocka_unit_test(test_spec_every_key_with_xl_spaces),
        cmocka_unit_test(test_spec_static_default_region),
        cmocka_unit_test(test_spec_every_mode_and_limits),
        cmocka_unit_test(test_hostile_config_unknown_type),
        cmocka_unit_test(test_hostile_config_missing_type),
        cmocka_unit_test(test_hostile_config_missing_target),
        cmocka_unit_test(test_hostile_config_relative_target),
        cmocka_unit_test(test_hostile_config_long_target),
        cmocka_unit_test(test_hostile_config_bad_mode),
        cmocka_unit_test(test_hostile_config_bad_region),
        cmocka_unit_test(test_hostile_config_region_without_static),
        cmocka_unit_test(test_hostile_config_bad_queue_size),
        cmocka_unit_test(test_hostile_config_bad_queues),
        cmocka_unit_test(test_hostile_config_unknown_key),
        cmocka_unit_test(test_hostile_config_duplicate_key),
        cmocka_unit_test(test_hostile_config_bad_readonly),
        cmocka_unit_test(test_hostile_config_bad_backend),
        cmocka_unit_test(test_hostile_config_bad_devid),
        cmocka_unit_test(test_hostile_config_malformed_entries),
        cmocka_unit_test(test_spec_rng),
        cmocka_unit_test(test_hostile_config_rng),
    };

    vg_log_init("test_toolstack_spec", VG_LOG_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

