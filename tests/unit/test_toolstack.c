/* SPDX-License-Identifier: MIT */
/*
 * The toolstack side (common/toolstack.c): device spec parsing, attach
 * (keys, permissions, devid allocation), detach (with and without a
 * backend that closes), list.  Runs on the fake world with dom0 and guests
 * 1 and 2.
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

/* ------------------------------------------------------------------ */
/* spec parsing                                                        */
/* ------------------------------------------------------------------ */

static void parse_ok(const char *text, struct vg_attach_spec *s)
{
    char err[512] = "untouched";

    memset(s, 0xa5, sizeof(*s));
    if (vg_attach_spec_parse(text, s, err, sizeof(err)) != 0)
        fail_msg("'%s' rejected: %s", text, err);
    assert_string_equal(err, "");
}

/* The spec must be rejected with EINVAL, *out untouched, and a message
 * containing every one of the given fragments (key and value). */
static void parse_fails(const char *text, const char *frag1, const char *frag2)
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

/* The slot of type key name in s (the spec must have it). */
static char *tval(struct vg_attach_spec *s, const char *name)
{
    const char *v = vg_spec_value(s, name);

    if (!v)
        fail_msg("spec has no %s", name);
    return (char *)v;
}

static void test_spec_defaults(void **state)
{
    struct vg_attach_spec s;
    (void)state;

    parse_ok("type=blk,target=/srv/disk.img", &s);
    assert_string_equal(s.type, "blk");
    assert_string_equal(tval(&s, "target"), "/srv/disk.img");
    assert_int_equal(s.backend_domid, 0);
    assert_string_equal(tval(&s, "readonly"), "0");
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

    parse_ok("type=blk, target=/dev/vg0/data,  backend=3, readonly=1, "
             "queues=8, queue-size=1024, mode=static, region=16M, devid=7", &s);
    assert_string_equal(tval(&s, "target"), "/dev/vg0/data");
    assert_int_equal(s.backend_domid, 3);
    assert_string_equal(tval(&s, "readonly"), "1");
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

    parse_ok("mode=static,target=/img,type=blk", &s);
    assert_int_equal(s.region_bytes, 4u << 20);
    parse_ok("type=blk,target=/img,mode=static,region=4096", &s);
    assert_int_equal(s.region_bytes, 4096);
    parse_ok("type=blk,target=/img,mode=static,region=256M", &s);
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
        parse_ok(text, &s);
        assert_string_equal(s.mode, modes[i]);
    }
    parse_ok("type=blk,target=/i,queue-size=2,queues=1,devid=65535,"
             "backend=32751", &s);
    assert_int_equal(s.queue_size, 2);
    assert_int_equal(s.devid, 65535);
    assert_int_equal(s.backend_domid, 32751);
}

static void test_hostile_config_unknown_type(void **state)
{
    (void)state;
    parse_fails("type=net,target=/img", "type", "net");
    parse_fails("type=,target=/img", "type", "''");
    parse_fails("type=blkblkblkblkblkblkblk,target=/img", "type",
                "blkblkblkblkblkblkblk");
}

static void test_hostile_config_missing_type(void **state)
{
    (void)state;
    parse_fails("target=/img", "type", NULL);
}

static void test_hostile_config_missing_target(void **state)
{
    (void)state;
    parse_fails("type=blk", "target", NULL);
    parse_fails("type=blk,mode=grant", "target", NULL);
}

static void test_hostile_config_relative_target(void **state)
{
    (void)state;
    parse_fails("type=blk,target=disk.img", "target", "disk.img");
    parse_fails("type=blk,target=", "target", "''");
    parse_fails("type=blk,target=/a\nb", "target", "control");
}

static void test_hostile_config_long_target(void **state)
{
    char text[1200] = "type=blk,target=/";
    (void)state;

    memset(text + strlen(text), 'x', 1050);
    parse_fails(text, "target", "xxxx");
}

static void test_hostile_config_bad_mode(void **state)
{
    (void)state;
    parse_fails("type=blk,target=/img,mode=fast", "mode", "fast");
    parse_fails("type=blk,target=/img,mode=GRANT", "mode", "GRANT");
    parse_fails("type=blk,target=/img,mode=", "mode", "''");
}

static void test_hostile_config_bad_region(void **state)
{
    (void)state;
    parse_fails("type=blk,target=/i,mode=static,region=lots", "region", "lots");
    parse_fails("type=blk,target=/i,mode=static,region=5000", "region", "5000");
    parse_fails("type=blk,target=/i,mode=static,region=0", "region", "'0'");
    parse_fails("type=blk,target=/i,mode=static,region=512M", "region", "512M");
    parse_fails("type=blk,target=/i,mode=static,region=-4K", "region", "-4K");
    parse_fails("type=blk,target=/i,mode=static,region=99999999999999999999G",
                "region", "99999999999999999999G");
}

static void test_hostile_config_region_without_static(void **state)
{
    (void)state;
    parse_fails("type=blk,target=/i,region=4M", "region=4M", "mode=grant");
    parse_fails("type=blk,target=/i,region=8K,mode=copy", "region=8K",
                "mode=copy");
}

static void test_hostile_config_bad_queue_size(void **state)
{
    (void)state;
    parse_fails("type=blk,target=/i,queue-size=100", "queue-size", "100");
    parse_fails("type=blk,target=/i,queue-size=1", "queue-size", "'1'");
    parse_fails("type=blk,target=/i,queue-size=0", "queue-size", "'0'");
    parse_fails("type=blk,target=/i,queue-size=2048", "queue-size", "2048");
    parse_fails("type=blk,target=/i,queue-size=0x100", "queue-size", "0x100");
}

static void test_hostile_config_bad_queues(void **state)
{
    (void)state;
    parse_fails("type=blk,target=/i,queues=0", "queues", "'0'");
    parse_fails("type=blk,target=/i,queues=9", "queues", "'9'");
    parse_fails("type=blk,target=/i,queues=+1", "queues", "+1");
}

static void test_hostile_config_unknown_key(void **state)
{
    (void)state;
    parse_fails("type=blk,target=/i,colour=red", "colour", "red");
    parse_fails("type=blk,target=/i,Mode=grant", "Mode", "grant");
}

static void test_hostile_config_duplicate_key(void **state)
{
    (void)state;
    parse_fails("type=blk,target=/i,mode=grant,mode=copy", "mode", "copy");
    parse_fails("type=blk,target=/a,target=/b", "target", "/b");
}

static void test_hostile_config_bad_readonly(void **state)
{
    (void)state;
    parse_fails("type=blk,target=/i,readonly=yes", "readonly", "yes");
    parse_fails("type=blk,target=/i,readonly=2", "readonly", "'2'");
}

static void test_hostile_config_bad_backend(void **state)
{
    (void)state;
    parse_fails("type=blk,target=/i,backend=dom0", "backend", "dom0");
    parse_fails("type=blk,target=/i,backend=-1", "backend", "-1");
    parse_fails("type=blk,target=/i,backend=32752", "backend", "32752");
    parse_fails("type=blk,target=/i,backend=", "backend", "''");
}

static void test_hostile_config_bad_devid(void **state)
{
    (void)state;
    parse_fails("type=blk,target=/i,devid=65536", "devid", "65536");
    parse_fails("type=blk,target=/i,devid=x", "devid", "'x'");
}

/* type=rng: no keys of its own but rate, which takes a size. */
static void test_spec_rng(void **state)
{
    struct vg_attach_spec s;
    (void)state;

    parse_ok("type=rng", &s);
    assert_string_equal(s.type, "rng");
    assert_int_equal(s.ntkeys, 0);
    assert_null(vg_spec_value(&s, "rate"));
    assert_null(vg_spec_value(&s, "target"));
    assert_string_equal(s.mode, "grant");
    assert_int_equal(s.queues, 1);

    parse_ok("type=rng, rate=64K, mode=copy, backend=3, devid=2", &s);
    assert_string_equal(tval(&s, "rate"), "65536");
    assert_string_equal(s.mode, "copy");
    assert_int_equal(s.backend_domid, 3);
    assert_int_equal(s.devid, 2);
    parse_ok("rate=1,type=rng", &s);              /* type need not be first */
    assert_string_equal(tval(&s, "rate"), "1");
    parse_ok("type=rng,rate=1G", &s);
    assert_string_equal(tval(&s, "rate"), "1073741824");
    parse_ok("type=rng,rate=1000,queues=1,mode=static", &s);
    assert_int_equal(s.region_bytes, 4u << 20);
}

/* Hostile rng specs: each refused, the message naming the device type
 * and the key=value at fault. */
static void test_hostile_config_rng(void **state)
{
    (void)state;
    /* unknown key */
    parse_fails("type=rng,colour=red", "rng", "colour=red");
    /* rate out of range, or not a rate */
    parse_fails("type=rng,rate=0", "rng", "rate '0'");
    parse_fails("type=rng,rate=1073741825", "rng", "1073741825");
    parse_fails("type=rng,rate=2G", "rng", "rate '2G'");
    parse_fails("type=rng,rate=fast", "rng", "rate 'fast'");
    parse_fails("type=rng,rate=-1", "rng", "rate '-1'");
    parse_fails("type=rng,rate=", "rng", "rate ''");
    parse_fails("type=rng,rate=0x10", "rng", "0x10");
    parse_fails("type=rng,rate=99999999999999999999G", "rng", "rate");
    parse_fails("type=rng,rate=1,rate=2", "rate", "rate=2");
    /* the keys of another type */
    parse_fails("type=rng,target=/srv/disk.img", "rng",
                "target=/srv/disk.img");
    parse_fails("type=rng,readonly=1", "rng", "readonly=1");
    parse_fails("type=blk,target=/i,rate=100", "blk", "rate=100");
    parse_fails("rate=100,target=/i,type=blk", "blk", "rate=100");
    /* one queue only */
    parse_fails("type=rng,queues=2", "rng", "queues=2");
    /* the type itself */
    parse_fails("type=RNG", "type", "RNG");
    parse_fails("type=rng,type=blk", "type", "type=blk");
    parse_fails("rate=5", "type", NULL);
}

static void test_hostile_config_malformed_entries(void **state)
{
    (void)state;
    parse_fails("type=blk,,target=/i", "empty entry", NULL);
    parse_fails("type=blk,target=/i,", "empty entry", NULL);
    parse_fails("", "empty entry", NULL);
    parse_fails("type=blk,target", "target", "key=value");
    parse_fails("type=blk,target=/i,=5", "unknown key", "=5");
}

/* ------------------------------------------------------------------ */
/* fake world fixture                                                  */
/* ------------------------------------------------------------------ */

struct world {
    struct vg_fake_world *w;
    struct vg_hyp *dom0;
    struct vg_hyp *g1;
    struct vg_hyp *g2;
};

static int world_setup(void **state)
{
    struct world *t = calloc(1, sizeof(*t));

    if (!t)
        return -1;
    t->w = vg_fake_world_new();
    if (!t->w || vg_fake_domain_create(t->w, 0) || vg_fake_domain_create(t->w, 1) ||
        vg_fake_domain_create(t->w, 2))
        return -1;
    t->dom0 = vg_fake_open(t->w, 0);
    t->g1 = vg_fake_open(t->w, 1);
    t->g2 = vg_fake_open(t->w, 2);
    if (!t->dom0 || !t->g1 || !t->g2)
        return -1;
    *state = t;
    return 0;
}

static int world_teardown(void **state)
{
    struct world *t = *state;

    vg_hyp_close(t->g2);
    vg_hyp_close(t->g1);
    vg_hyp_close(t->dom0);
    vg_fake_world_free(t->w);
    free(t);
    return 0;
}

static struct vg_attach_spec spec_of(const char *text)
{
    struct vg_attach_spec s;

    parse_ok(text, &s);
    return s;
}

static unsigned attach_ok(struct world *t, uint16_t fe, const char *text)
{
    struct vg_attach_spec s = spec_of(text);
    char err[512] = "";
    unsigned devid = 9999;

    if (vg_toolstack_attach(t->dom0, fe, &s, &devid, err, sizeof(err)))
        fail_msg("attach %u '%s' failed: %s", fe, text, err);
    return devid;
}

/* Value of dir/key as domain h sees it; NULL (errno set) if unreadable. */
static char *read_as(struct vg_hyp *h, const char *dir, const char *key)
{
    char path[VG_XS_PATH_MAX];
    unsigned len;

    snprintf(path, sizeof(path), "%s%s%s", dir, key ? "/" : "", key ? key : "");
    return h->ops->xs_read(h, VG_XS_NO_TX, path, &len);
}

static void assert_key(struct vg_hyp *h, const char *dir, const char *key,
                       const char *want)
{
    char *v = read_as(h, dir, key);

    if (!v)
        fail_msg("%s/%s unreadable: %s", dir, key, strerror(errno));
    if (strcmp(v, want))
        fail_msg("%s/%s = '%s', want '%s'", dir, key, v, want);
    free(v);
}

static bool exists(struct world *t, const char *path)
{
    char *v = read_as(t->dom0, path, NULL);

    free(v);
    return v != NULL;
}

static int write_as(struct vg_hyp *h, const char *dir, const char *key,
                    const char *value)
{
    char path[VG_XS_PATH_MAX];

    snprintf(path, sizeof(path), "%s/%s", dir, key);
    return h->ops->xs_write(h, VG_XS_NO_TX, path, value);
}

/* The perms of path equal want[0..n). */
static void assert_perms(struct world *t, const char *path,
                         const struct vg_xs_perm *want, unsigned n)
{
    unsigned num = 0;
    struct vg_xs_perm *p = t->dom0->ops->xs_get_perms(t->dom0, VG_XS_NO_TX,
                                                      path, &num);

    if (!p)
        fail_msg("perms of %s: %s", path, strerror(errno));
    if (num != n)
        fail_msg("%s has %u perms, want %u", path, num, n);
    for (unsigned i = 0; i < n; i++)
        if (p[i].domid != want[i].domid || p[i].perm != want[i].perm)
            fail_msg("%s perm %u = {%u, %u}, want {%u, %u}", path, i,
                     p[i].domid, p[i].perm, want[i].domid, want[i].perm);
    free(p);
}

#define BE0(fe, devid) "/local/domain/0/backend/virtio-grant/" #fe "/" #devid
#define FE(fe, devid) "/local/domain/" #fe "/device/virtio-grant/" #devid

/* ------------------------------------------------------------------ */
/* attach                                                              */
/* ------------------------------------------------------------------ */

static void test_attach_writes_every_key(void **state)
{
    struct world *t = *state;

    assert_int_equal(attach_ok(t, 1, "type=blk,target=/srv/a.img,readonly=1,"
                               "queues=2,queue-size=128,mode=copy"), 0);
    assert_key(t->dom0, BE0(1, 0), "frontend", FE(1, 0));
    assert_key(t->dom0, BE0(1, 0), "frontend-id", "1");
    assert_key(t->dom0, BE0(1, 0), "online", "1");
    assert_key(t->dom0, BE0(1, 0), "state", "1");
    assert_key(t->dom0, BE0(1, 0), "type", "blk");
    assert_key(t->dom0, BE0(1, 0), "target", "/srv/a.img");
    assert_key(t->dom0, BE0(1, 0), "readonly", "1");
    assert_key(t->dom0, BE0(1, 0), "mode", "copy");
    assert_key(t->dom0, BE0(1, 0), "queues", "2");
    assert_key(t->dom0, BE0(1, 0), "queue-size", "128");
    /* region only in static mode */
    assert_null(read_as(t->dom0, BE0(1, 0), "region"));
    assert_int_equal(errno, ENOENT);

    assert_key(t->dom0, FE(1, 0), "backend", BE0(1, 0));
    assert_key(t->dom0, FE(1, 0), "backend-id", "0");
    assert_key(t->dom0, FE(1, 0), "state", "1");
}

static void test_attach_static_writes_region(void **state)
{
    struct world *t = *state;

    assert_int_equal(attach_ok(t, 1, "type=blk,target=/i,mode=static"), 0);
    assert_key(t->dom0, BE0(1, 0), "mode", "static");
    assert_key(t->dom0, BE0(1, 0), "region", "4194304");
    assert_key(t->dom0, BE0(1, 0), "readonly", "0");
    assert_key(t->dom0, BE0(1, 0), "queues", "1");
    assert_key(t->dom0, BE0(1, 0), "queue-size", "256");
}

/* type=rng writes its own keys only: rate when given, never target or
 * readonly. */
static void test_attach_rng_writes_keys(void **state)
{
    struct world *t = *state;

    assert_int_equal(attach_ok(t, 1, "type=rng,rate=4K"), 0);
    assert_key(t->dom0, BE0(1, 0), "type", "rng");
    assert_key(t->dom0, BE0(1, 0), "rate", "4096");
    assert_key(t->dom0, BE0(1, 0), "mode", "grant");
    assert_key(t->dom0, BE0(1, 0), "queues", "1");
    assert_null(read_as(t->dom0, BE0(1, 0), "target"));
    assert_int_equal(errno, ENOENT);
    assert_null(read_as(t->dom0, BE0(1, 0), "readonly"));
    assert_int_equal(errno, ENOENT);
    assert_key(t->dom0, FE(1, 0), "backend", BE0(1, 0));

    assert_int_equal(attach_ok(t, 1, "type=rng"), 1);
    assert_key(t->dom0, BE0(1, 1), "type", "rng");
    assert_null(read_as(t->dom0, BE0(1, 1), "rate"));
    assert_int_equal(errno, ENOENT);
}

/* A caller filling an rng spec by hand is held to the type's table. */
static void test_hostile_attach_unparsed_rng_spec(void **state)
{
    struct world *t = *state;
    struct vg_attach_spec s = spec_of("type=rng");
    char err[512] = "";
    unsigned devid;

    assert_int_equal(vg_spec_set(&s, "target", "/srv/x"), 0);
    errno = 0;
    assert_int_equal(vg_toolstack_attach(t->dom0, 1, &s, &devid, err,
                                         sizeof(err)), -1);
    assert_int_equal(errno, EINVAL);
    assert_non_null(strstr(err, "rng"));
    assert_non_null(strstr(err, "target"));

    s = spec_of("type=rng");
    assert_int_equal(vg_spec_set(&s, "rate", "0"), 0);
    assert_int_equal(vg_toolstack_attach(t->dom0, 1, &s, &devid, err,
                                         sizeof(err)), -1);
    assert_non_null(strstr(err, "rate '0'"));

    s = spec_of("type=rng,rate=64K");
    assert_int_equal(vg_spec_set(&s, "rate", "64K"), 0);   /* not canonical */
    assert_int_equal(vg_toolstack_attach(t->dom0, 1, &s, &devid, err,
                                         sizeof(err)), -1);
    assert_non_null(strstr(err, "rate '64K'"));

    s = spec_of("type=rng");
    s.queues = 2;
    assert_int_equal(vg_toolstack_attach(t->dom0, 1, &s, &devid, err,
                                         sizeof(err)), -1);
    assert_non_null(strstr(err, "queues 2"));

    s = spec_of("type=blk,target=/i");
    memset(&s.tkeys[0].name, 'n', sizeof(s.tkeys[0].name));  /* no NUL */
    assert_int_equal(vg_toolstack_attach(t->dom0, 1, &s, &devid, err,
                                         sizeof(err)), -1);
    assert_non_null(strstr(err, "blk"));
    s = spec_of("type=blk,target=/i");
    s.ntkeys = 200;
    assert_int_equal(vg_toolstack_attach(t->dom0, 1, &s, &devid, err,
                                         sizeof(err)), -1);
    s = spec_of("type=blk,readonly=1,target=/i");
    snprintf(s.tkeys[1].name, sizeof(s.tkeys[1].name), "target");
    assert_int_equal(vg_toolstack_attach(t->dom0, 1, &s, &devid, err,
                                         sizeof(err)), -1);
    assert_non_null(strstr(err, "twice"));
    /* blk without target */
    s = spec_of("type=blk,target=/i");
    s.ntkeys = 0;
    assert_int_equal(vg_toolstack_attach(t->dom0, 1, &s, &devid, err,
                                         sizeof(err)), -1);
    assert_non_null(strstr(err, "missing target"));
    assert_false(exists(t, "/local/domain/1/device/virtio-grant"));
}

static void test_attach_permissions(void **state)
{
    static const struct vg_xs_perm be_perms[] = { { 0, VG_XS_PERM_NONE },
                                                  { 1, VG_XS_PERM_READ } };
    static const struct vg_xs_perm fe_perms[] = { { 1, VG_XS_PERM_NONE },
                                                  { 0, VG_XS_PERM_READ } };
    static const char *const be_keys[] = {
        "frontend", "frontend-id", "online", "state", "type", "target",
        "readonly", "mode", "queues", "queue-size",
    };
    static const char *const fe_keys[] = { "backend", "backend-id", "state" };
    struct world *t = *state;
    char *v;

    attach_ok(t, 1, "type=blk,target=/i");
    assert_perms(t, BE0(1, 0), be_perms, 2);
    assert_perms(t, FE(1, 0), fe_perms, 2);
    for (size_t i = 0; i < sizeof(be_keys) / sizeof(be_keys[0]); i++) {
        char path[VG_XS_PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", BE0(1, 0), be_keys[i]);
        assert_perms(t, path, be_perms, 2);
    }
    for (size_t i = 0; i < sizeof(fe_keys) / sizeof(fe_keys[0]); i++) {
        char path[VG_XS_PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", FE(1, 0), fe_keys[i]);
        assert_perms(t, path, fe_perms, 2);
    }

    /* the guest drives its frontend and reads the backend */
    assert_int_equal(write_as(t->g1, FE(1, 0), "state", "3"), 0);
    assert_int_equal(write_as(t->g1, FE(1, 0), "features", "0x300000000"), 0);
    assert_key(t->g1, BE0(1, 0), "target", "/i");
    assert_key(t->g1, BE0(1, 0), "state", "1");
    assert_key(t->dom0, FE(1, 0), "state", "3");

    /* ... and cannot touch the backend directory */
    assert_int_equal(write_as(t->g1, BE0(1, 0), "state", "4"), -1);
    assert_int_equal(errno, EACCES);
    assert_int_equal(write_as(t->g1, BE0(1, 0), "target", "/etc/shadow"), -1);
    assert_int_equal(write_as(t->g1, BE0(1, 0), "device-id", "2"), -1);
    assert_int_equal(t->g1->ops->xs_rm(t->g1, VG_XS_NO_TX, BE0(1, 0)), -1);
    assert_key(t->dom0, BE0(1, 0), "state", "1");
    assert_key(t->dom0, BE0(1, 0), "target", "/i");

    /* a third domain sees neither directory */
    v = read_as(t->g2, BE0(1, 0), "target");
    assert_null(v);
    v = read_as(t->g2, BE0(1, 0), NULL);
    assert_null(v);
    v = read_as(t->g2, FE(1, 0), "state");
    assert_null(v);
    v = read_as(t->g2, FE(1, 0), NULL);
    assert_null(v);
    assert_int_equal(write_as(t->g2, FE(1, 0), "state", "6"), -1);
    assert_int_equal(write_as(t->g2, BE0(1, 0), "online", "0"), -1);
    assert_key(t->dom0, FE(1, 0), "state", "3");
    assert_key(t->dom0, BE0(1, 0), "online", "1");
}

/* Backend in driver domain 2 for guest 1: domain 2 owns the backend
 * directory and the directories above it it needs to watch and clean. */
static void test_attach_driver_domain_backend(void **state)
{
    static const struct vg_xs_perm be_perms[] = { { 2, VG_XS_PERM_NONE },
                                                  { 1, VG_XS_PERM_READ } };
    static const char be[] = "/local/domain/2/backend/virtio-grant/1/0";
    struct world *t = *state;
    unsigned n = 0;
    char **names;

    assert_int_equal(attach_ok(t, 1, "type=blk,target=/i,backend=2"), 0);
    assert_perms(t, be, be_perms, 2);
    assert_key(t->dom0, FE(1, 0), "backend", be);
    assert_key(t->dom0, FE(1, 0), "backend-id", "2");
    assert_key(t->g2, FE(1, 0), "state", "1");
    assert_key(t->g1, be, "frontend-id", "1");

    /* the driver domain runs the state machine and can list its devices */
    assert_int_equal(write_as(t->g2, be, "state", "2"), 0);
    assert_int_equal(write_as(t->g2, be, "device-id", "2"), 0);
    names = t->g2->ops->xs_directory(t->g2, VG_XS_NO_TX,
                                     "/local/domain/2/backend/virtio-grant",
                                     &n);
    assert_non_null(names);
    assert_int_equal(n, 1);
    assert_string_equal(names[0], "1");
    free(names);
    /* the guest cannot write its backend, nor the frontend of dom0's */
    assert_int_equal(write_as(t->g1, be, "state", "4"), -1);
    assert_int_equal(write_as(t->g2, FE(1, 0), "state", "4"), -1);
    /* nothing landed in dom0's backend tree */
    assert_false(exists(t, "/local/domain/0/backend/virtio-grant/1"));
}

/* Frontend and backend in the same domain (a userspace frontend in dom0
 * against vgrantd in dom0): one owner, nobody else. */
static void test_attach_loopback_in_dom0(void **state)
{
    static const struct vg_xs_perm only_dom0[] = { { 0, VG_XS_PERM_NONE } };
    struct world *t = *state;

    assert_int_equal(attach_ok(t, 0, "type=blk,target=/i"), 0);
    assert_perms(t, BE0(0, 0), only_dom0, 1);
    assert_perms(t, FE(0, 0), only_dom0, 1);
    assert_key(t->dom0, FE(0, 0), "backend", BE0(0, 0));
    assert_null(read_as(t->g1, BE0(0, 0), "target"));
    assert_null(read_as(t->g1, FE(0, 0), "state"));
}

static void test_attach_devid_allocation(void **state)
{
    struct world *t = *state;
    struct vg_attach_spec s = spec_of("type=blk,target=/i,devid=1");
    char err[512] = "";
    unsigned devid = 77;

    assert_int_equal(attach_ok(t, 1, "type=blk,target=/a"), 0);
    assert_int_equal(attach_ok(t, 1, "type=blk,target=/b"), 1);
    assert_int_equal(attach_ok(t, 1, "type=blk,target=/c"), 2);
    /* devids are per frontend */
    assert_int_equal(attach_ok(t, 2, "type=blk,target=/d"), 0);
    /* a requested devid that is taken */
    errno = 0;
    assert_int_equal(vg_toolstack_attach(t->dom0, 1, &s, &devid, err,
                                         sizeof(err)), -1);
    assert_int_equal(errno, EEXIST);
    assert_int_equal(devid, 77);
    assert_non_null(strstr(err, "domain 1"));
    assert_non_null(strstr(err, "devid=1"));
    assert_key(t->dom0, BE0(1, 1), "target", "/b");
    /* a requested free one, then allocation fills the gap below it */
    assert_int_equal(attach_ok(t, 1, "type=blk,target=/e,devid=5"), 5);
    assert_int_equal(attach_ok(t, 1, "type=blk,target=/f"), 3);
    assert_key(t->dom0, BE0(1, 5), "target", "/e");
    assert_key(t->dom0, FE(1, 5), "backend", BE0(1, 5));
}

/* Two toolstacks attaching at once: the transactions conflict, retry,
 * and every device gets its own devid.  Each thread commits 10 times, so
 * the other sees at most 10 conflicts, below the retry bound. */
struct attacher {
    struct vg_hyp *h;
    unsigned devids[10];
    int failures;
};

static void *attacher_main(void *arg)
{
    struct attacher *a = arg;
    struct vg_attach_spec s;
    char err[256];

    vg_attach_spec_parse("type=blk,target=/race", &s, err, sizeof(err));
    for (unsigned i = 0; i < 10; i++)
        if (vg_toolstack_attach(a->h, 1, &s, &a->devids[i], err, sizeof(err)))
            a->failures++;
    return NULL;
}

static void test_attach_concurrent_distinct_devids(void **state)
{
    struct world *t = *state;
    struct attacher a[2] = { { .h = t->dom0 }, { .h = vg_fake_open(t->w, 0) } };
    pthread_t th[2];
    bool seen[20] = { false };

    assert_non_null(a[1].h);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, attacher_main, &a[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    vg_hyp_close(a[1].h);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(a[i].failures, 0);
        for (unsigned j = 0; j < 10; j++) {
            assert_true(a[i].devids[j] < 20);
            assert_false(seen[a[i].devids[j]]);
            seen[a[i].devids[j]] = true;
        }
    }
    assert_key(t->dom0, BE0(1, 19), "target", "/race");
    assert_key(t->dom0, FE(1, 19), "backend", BE0(1, 19));
}

/* The guest owns its frontend directory and may delete it; the devid stays
 * taken while a backend directory holds it. */
static void test_hostile_guest_hides_devid(void **state)
{
    struct world *t = *state;

    assert_int_equal(attach_ok(t, 1, "type=blk,target=/a"), 0);
    assert_int_equal(t->g1->ops->xs_rm(t->g1, VG_XS_NO_TX, FE(1, 0)), 0);
    assert_false(exists(t, FE(1, 0)));
    assert_int_equal(attach_ok(t, 1, "type=blk,target=/b"), 1);
    assert_key(t->dom0, BE0(1, 0), "target", "/a");
    /* and junk names in its class directory do not confuse allocation */
    assert_int_equal(write_as(t->g1, "/local/domain/1/device/virtio-grant",
                              "2", ""), 0);
    assert_int_equal(write_as(t->g1, "/local/domain/1/device/virtio-grant",
                              "junk", "x"), 0);
    assert_int_equal(write_as(t->g1, "/local/domain/1/device/virtio-grant",
                              "99999999", "x"), 0);
    assert_int_equal(attach_ok(t, 1, "type=blk,target=/c"), 3);
}

static void test_hostile_attach_missing_frontend_domain(void **state)
{
    struct world *t = *state;
    struct vg_attach_spec s = spec_of("type=blk,target=/i");
    char err[512] = "";
    unsigned devid = 77;

    errno = 0;
    assert_int_equal(vg_toolstack_attach(t->dom0, 7, &s, &devid, err,
                                         sizeof(err)), -1);
    assert_int_equal(errno, ESRCH);
    assert_non_null(strstr(err, "frontend domain 7"));
    assert_int_equal(devid, 77);
    assert_false(exists(t, "/local/domain/0/backend/virtio-grant/7"));
    assert_false(exists(t, "/local/domain/0/backend/virtio-grant"));
    assert_false(exists(t, "/local/domain/7"));
}

static void test_hostile_attach_missing_backend_domain(void **state)
{
    struct world *t = *state;
    struct vg_attach_spec s = spec_of("type=blk,target=/i,backend=9");
    char err[512] = "";
    unsigned devid = 77;

    errno = 0;
    assert_int_equal(vg_toolstack_attach(t->dom0, 1, &s, &devid, err,
                                         sizeof(err)), -1);
    assert_int_equal(errno, ESRCH);
    assert_non_null(strstr(err, "backend domain 9"));
    assert_false(exists(t, "/local/domain/1/device/virtio-grant"));
    assert_false(exists(t, "/local/domain/9"));

    /* a destroyed domain is no better */
    assert_int_equal(vg_fake_domain_destroy(t->w, 2), 0);
    s = spec_of("type=blk,target=/i,backend=2");
    assert_int_equal(vg_toolstack_attach(t->dom0, 1, &s, &devid, err,
                                         sizeof(err)), -1);
    assert_int_equal(errno, ESRCH);
    assert_non_null(strstr(err, "backend domain 2"));
    assert_false(exists(t, "/local/domain/1/device/virtio-grant"));
}

/* A caller (the xl patch) may fill the struct without the parser. */
static void test_hostile_attach_unparsed_spec(void **state)
{
    struct world *t = *state;
    struct vg_attach_spec s = spec_of("type=blk,target=/i");
    char err[512] = "";
    unsigned devid;

    s.queue_size = 100;
    errno = 0;
    assert_int_equal(vg_toolstack_attach(t->dom0, 1, &s, &devid, err,
                                         sizeof(err)), -1);
    assert_int_equal(errno, EINVAL);
    assert_non_null(strstr(err, "queue-size 100"));

    s = spec_of("type=blk,target=/i");
    memset(tval(&s, "target"), 'a', VG_TKEY_VALUE_MAX);   /* no terminator */
    assert_int_equal(vg_toolstack_attach(t->dom0, 1, &s, &devid, err,
                                         sizeof(err)), -1);
    assert_non_null(strstr(err, "target"));

    s = spec_of("type=blk,target=/i,mode=static");
    s.region_bytes = 4097;
    assert_int_equal(vg_toolstack_attach(t->dom0, 1, &s, &devid, err,
                                         sizeof(err)), -1);
    assert_non_null(strstr(err, "region 4097"));
    assert_false(exists(t, "/local/domain/1/device/virtio-grant"));
}

/* ------------------------------------------------------------------ */
/* detach                                                              */
/* ------------------------------------------------------------------ */

/* A minimal backend in dom0: waits for online=0 on one device, then goes
 * Closing and Closed as protocol.h "Removal" asks. */
struct coop_backend {
    struct vg_hyp *h;
    char dir[VG_XS_PATH_MAX];
    bool closed;
    bool stop;
    pthread_mutex_t lock;
};

static bool coop_should_stop(struct coop_backend *b)
{
    bool stop;

    pthread_mutex_lock(&b->lock);
    stop = b->stop;
    pthread_mutex_unlock(&b->lock);
    return stop;
}

static void *coop_backend_main(void *arg)
{
    struct coop_backend *b = arg;
    char online[VG_XS_PATH_MAX + 16], path[VG_XS_PATH_MAX], token[32];

    snprintf(online, sizeof(online), "%s/online", b->dir);
    if (b->h->ops->xs_watch(b->h, online, "coop"))
        return NULL;
    /* bounded: 100 s of 50 ms polls at most, never a hung test */
    for (int i = 0; i < 2000 && !coop_should_stop(b); i++) {
        struct pollfd pfd = { .fd = b->h->ops->xs_fd(b->h), .events = POLLIN };
        uint64_t v = 1;

        poll(&pfd, 1, 50);
        while (b->h->ops->xs_next_watch(b->h, path, sizeof(path), token,
                                        sizeof(token)) == 0)
            ;
        if (vg_xs_read_uint(b->h, VG_XS_NO_TX, b->dir, "online", 1, &v) == 0 &&
            v == 0) {
            vg_xs_write_state(b->h, b->dir, VG_XB_CLOSING);
            vg_xs_write_state(b->h, b->dir, VG_XB_CLOSED);
            pthread_mutex_lock(&b->lock);
            b->closed = true;
            pthread_mutex_unlock(&b->lock);
            break;
        }
    }
    b->h->ops->xs_unwatch(b->h, online, "coop");
    return NULL;
}

static void test_detach_with_cooperating_backend(void **state)
{
    struct world *t = *state;
    struct coop_backend b = { .lock = PTHREAD_MUTEX_INITIALIZER };
    char err[512] = "untouched";
    pthread_t thread;

    assert_int_equal(attach_ok(t, 1, "type=blk,target=/a"), 0);
    assert_int_equal(attach_ok(t, 1, "type=blk,target=/b"), 1);
    b.h = vg_fake_open(t->w, 0);
    assert_non_null(b.h);
    snprintf(b.dir, sizeof(b.dir), "%s", BE0(1, 0));
    assert_int_equal(pthread_create(&thread, NULL, coop_backend_main, &b), 0);

    /* generous timeout: the backend answers long before */
    assert_int_equal(vg_toolstack_detach(t->dom0, 1, 0, 60000, err,
                                         sizeof(err)), 0);
    assert_string_equal(err, "");
    pthread_mutex_lock(&b.lock);
    b.stop = true;
    pthread_mutex_unlock(&b.lock);
    pthread_join(thread, NULL);
    assert_true(b.closed);

    assert_false(exists(t, BE0(1, 0)));
    assert_false(exists(t, FE(1, 0)));
    /* the other device is untouched */
    assert_key(t->dom0, BE0(1, 1), "online", "1");
    assert_key(t->dom0, FE(1, 1), "state", "1");
    vg_hyp_close(b.h);

    /* with the last device gone, its per-frontend directory goes too */
    assert_int_equal(vg_toolstack_detach(t->dom0, 1, 1, 0, err,
                                         sizeof(err)), 1);
    assert_false(exists(t, "/local/domain/0/backend/virtio-grant/1"));
    /* and devid 0 is free again */
    assert_int_equal(attach_ok(t, 1, "type=blk,target=/c"), 0);
}

static void test_detach_without_backend_times_out(void **state)
{
    struct world *t = *state;
    char err[512] = "";

    assert_int_equal(attach_ok(t, 1, "type=blk,target=/a"), 0);
    assert_int_equal(vg_toolstack_detach(t->dom0, 1, 0, 200, err,
                                         sizeof(err)), 1);
    assert_non_null(strstr(err, "vgrantd"));
    assert_non_null(strstr(err, "domain 0"));
    assert_non_null(strstr(err, "0.2 s"));
    assert_false(exists(t, BE0(1, 0)));
    assert_false(exists(t, FE(1, 0)));
}

/* Nothing to wait for once the guest is gone, however long the timeout. */
static void test_detach_after_frontend_domain_destroyed(void **state)
{
    struct world *t = *state;
    char err[512] = "";

    assert_int_equal(attach_ok(t, 1, "type=blk,target=/a"), 0);
    assert_int_equal(vg_fake_domain_destroy(t->w, 1), 0);
    assert_int_equal(vg_toolstack_detach(t->dom0, 1, 0, 600000, err,
                                         sizeof(err)), 0);
    assert_false(exists(t, BE0(1, 0)));
    assert_false(exists(t, "/local/domain/0/backend/virtio-grant/1"));
}

static void test_detach_unknown_device(void **state)
{
    struct world *t = *state;
    char err[512] = "";

    assert_int_equal(attach_ok(t, 1, "type=blk,target=/a"), 0);
    errno = 0;
    assert_int_equal(vg_toolstack_detach(t->dom0, 1, 4, 0, err,
                                         sizeof(err)), -1);
    assert_int_equal(errno, ENOENT);
    assert_non_null(strstr(err, "domain 1"));
    assert_non_null(strstr(err, "device 4"));
    assert_int_equal(vg_toolstack_detach(t->dom0, 2, 0, 0, err,
                                         sizeof(err)), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(vg_toolstack_detach(t->dom0, 1, 70000, 0, err,
                                         sizeof(err)), -1);
    assert_int_equal(errno, EINVAL);
    assert_non_null(strstr(err, "70000"));
    assert_key(t->dom0, BE0(1, 0), "online", "1");
}

/* The guest rewrites backend-id/backend in its frontend directory: detach
 * finds the real backend from the backend directories and leaves the
 * domain the guest named alone. */
static void test_hostile_detach_forged_backend_id(void **state)
{
    struct world *t = *state;
    char err[512] = "";

    assert_int_equal(attach_ok(t, 1, "type=blk,target=/a"), 0);
    assert_int_equal(attach_ok(t, 2, "type=blk,target=/b,backend=2"), 0);
    assert_int_equal(write_as(t->g1, FE(1, 0), "backend-id", "2"), 0);
    assert_int_equal(write_as(t->g1, FE(1, 0), "backend",
                              "/local/domain/2/backend/virtio-grant/2/0"), 0);
    assert_int_equal(vg_toolstack_detach(t->dom0, 1, 0, 0, err,
                                         sizeof(err)), 1);
    assert_non_null(strstr(err, "domain 0"));
    assert_false(exists(t, BE0(1, 0)));
    assert_false(exists(t, FE(1, 0)));
    assert_key(t->dom0, "/local/domain/2/backend/virtio-grant/2/0", "online",
               "1");
    assert_key(t->dom0, FE(2, 0), "backend-id", "2");
}

/* ------------------------------------------------------------------ */
/* list                                                                */
/* ------------------------------------------------------------------ */

struct collected {
    struct vg_device_info dev[8];
    unsigned n;
    unsigned stop_after;      /* 0 = never */
};

static int collect(const struct vg_device_info *d, void *arg)
{
    struct collected *c = arg;

    assert_true(c->n < 8);
    c->dev[c->n++] = *d;
    return c->stop_after && c->n >= c->stop_after;
}

static void test_list_reports_devices(void **state)
{
    struct world *t = *state;
    struct collected c = { .n = 0 };
    char err[512] = "";

    assert_int_equal(vg_toolstack_list(t->dom0, -1, collect, &c, err,
                                       sizeof(err)), 0);
    assert_int_equal(c.n, 0);

    attach_ok(t, 2, "type=blk,target=/two,backend=2,mode=static");
    attach_ok(t, 1, "type=blk,target=/one-a,readonly=1");
    attach_ok(t, 1, "type=blk,target=/one-b,mode=persistent,backend=2");
    assert_int_equal(write_as(t->g1, FE(1, 0), "state", "4"), 0);
    assert_int_equal(write_as(t->g2,
                              "/local/domain/2/backend/virtio-grant/1/1",
                              "state", "2"), 0);

    assert_int_equal(vg_toolstack_list(t->dom0, -1, collect, &c, err,
                                       sizeof(err)), 3);
    assert_int_equal(c.n, 3);
    /* ordered by frontend, devid */
    assert_int_equal(c.dev[0].frontend_domid, 1);
    assert_int_equal(c.dev[0].devid, 0);
    assert_int_equal(c.dev[0].backend_domid, 0);
    assert_string_equal(c.dev[0].type, "blk");
    assert_string_equal(c.dev[0].mode, "grant");
    assert_string_equal(c.dev[0].target, "/one-a");
    assert_true(c.dev[0].readonly);
    assert_int_equal(c.dev[0].be_state, VG_XB_INITIALISING);
    assert_int_equal(c.dev[0].fe_state, VG_XB_CONNECTED);

    assert_int_equal(c.dev[1].frontend_domid, 1);
    assert_int_equal(c.dev[1].devid, 1);
    assert_int_equal(c.dev[1].backend_domid, 2);
    assert_string_equal(c.dev[1].mode, "persistent");
    assert_false(c.dev[1].readonly);
    assert_int_equal(c.dev[1].be_state, VG_XB_INITWAIT);
    assert_int_equal(c.dev[1].fe_state, VG_XB_INITIALISING);

    assert_int_equal(c.dev[2].frontend_domid, 2);
    assert_int_equal(c.dev[2].devid, 0);
    assert_int_equal(c.dev[2].backend_domid, 2);
    assert_string_equal(c.dev[2].mode, "static");
    assert_string_equal(c.dev[2].target, "/two");

    /* one frontend only */
    c.n = 0;
    assert_int_equal(vg_toolstack_list(t->dom0, 2, collect, &c, err,
                                       sizeof(err)), 1);
    assert_int_equal(c.dev[0].frontend_domid, 2);
    c.n = 0;
    assert_int_equal(vg_toolstack_list(t->dom0, 5, collect, &c, err,
                                       sizeof(err)), 0);
    assert_int_equal(c.n, 0);

    /* the callback can stop the walk */
    c.n = 0;
    c.stop_after = 1;
    errno = 0;
    assert_int_equal(vg_toolstack_list(t->dom0, -1, collect, &c, err,
                                       sizeof(err)), -1);
    assert_int_equal(errno, ECANCELED);
    assert_int_equal(c.n, 1);

    /* a bad filter is refused */
    assert_int_equal(vg_toolstack_list(t->dom0, 70000, collect, &c, err,
                                       sizeof(err)), -1);
    assert_non_null(strstr(err, "70000"));
}

/* A driver domain owns its backend directory and may write anything into
 * it: list shows it bounded and without terminal escapes, and garbage
 * states as Unknown. */
static void test_hostile_list_backend_garbage(void **state)
{
    static const char be[] = "/local/domain/2/backend/virtio-grant/1/0";
    struct world *t = *state;
    struct collected c = { .n = 0 };
    char err[512] = "";
    char long_mode[200];

    attach_ok(t, 1, "type=blk,target=/a,backend=2");
    memset(long_mode, 'm', sizeof(long_mode) - 1);
    long_mode[sizeof(long_mode) - 1] = '\0';
    assert_int_equal(write_as(t->g2, be, "target", "/x\x1b[2J\x07y"), 0);
    assert_int_equal(write_as(t->g2, be, "mode", long_mode), 0);
    assert_int_equal(write_as(t->g2, be, "state", "4junk"), 0);
    assert_int_equal(write_as(t->g2, be, "readonly", "7"), 0);
    assert_int_equal(write_as(t->g2, be, "type", ""), 0);
    /* devid names that are not devids are skipped */
    assert_int_equal(write_as(t->g2, "/local/domain/2/backend/virtio-grant/1",
                              "evil", "x"), 0);

    assert_int_equal(vg_toolstack_list(t->dom0, -1, collect, &c, err,
                                       sizeof(err)), 1);
    assert_string_equal(c.dev[0].target, "/x?[2J?y");
    assert_int_equal(strlen(c.dev[0].mode), sizeof(c.dev[0].mode) - 1);
    assert_int_equal(c.dev[0].be_state, VG_XB_UNKNOWN);
    assert_false(c.dev[0].readonly);
    assert_string_equal(c.dev[0].type, "");
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
#define W(f) cmocka_unit_test_setup_teardown(f, world_setup, world_teardown)
        W(test_attach_rng_writes_keys),
        W(test_hostile_attach_unparsed_rng_spec),
        W(test_attach_writes_every_key),
        W(test_attach_static_writes_region),
        W(test_attach_permissions),
        W(test_attach_driver_domain_backend),
        W(test_attach_loopback_in_dom0),
        W(test_attach_devid_allocation),
        W(test_attach_concurrent_distinct_devids),
        W(test_hostile_guest_hides_devid),
        W(test_hostile_attach_missing_frontend_domain),
        W(test_hostile_attach_missing_backend_domain),
        W(test_hostile_attach_unparsed_spec),
        W(test_detach_with_cooperating_backend),
        W(test_detach_without_backend_times_out),
        W(test_detach_after_frontend_domain_destroyed),
        W(test_detach_unknown_device),
        W(test_hostile_detach_forged_backend_id),
        W(test_list_reports_devices),
        W(test_hostile_list_backend_garbage),
#undef W
    };

    vg_log_init("test_toolstack", VG_LOG_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
