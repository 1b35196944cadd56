/* SPDX-License-Identifier: MIT */
/*
 * The guest-facing check helpers every part of the tree shares (review
 * issue 13): escaping of text another domain controls (log.h vg_esc), the
 * one rate limiter for warnings a guest can trigger at will (log.h
 * vg_ratelimit), the one xenstore transaction retry loop (xsutil.h
 * vg_xs_transact) and the one grant-run check (protocol.h vg_grant_run).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
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
/* log capture                                                         */

struct cap {
    char line[128][1024];
    unsigned n;
};

static void cap_sink(enum vg_log_level level, const char *msg, void *arg)
{
    struct cap *c = arg;

    (void)level;
    if (c->n < sizeof(c->line) / sizeof(c->line[0]))
        snprintf(c->line[c->n++], sizeof(c->line[0]), "%s", msg);
}

static struct cap *cap_start(void)
{
    struct cap *c = calloc(1, sizeof(*c));

    assert_non_null(c);
    vg_log_init("test_guards", VG_LOG_DEBUG);
    vg_log_set_sink(cap_sink, c);
    return c;
}

static void cap_stop(void)
{
    vg_log_set_sink(NULL, NULL);
    vg_log_init("test_guards", VG_LOG_ERR);
}

/* ------------------------------------------------------------------ */
/* vg_esc                                                              */

static void test_esc_printable_unchanged(void **state)
{
    char buf[64];

    (void)state;
    assert_string_equal(vg_esc("queue-0/size '64 ' ~!", buf, sizeof(buf)),
                        "queue-0/size '64 ' ~!");
    assert_string_equal(vg_esc("", buf, sizeof(buf)), "");
    assert_string_equal(vg_esc(NULL, buf, sizeof(buf)), "(missing)");
    assert_string_equal(VG_ESC("/srv/guest5.img"), "/srv/guest5.img");
}

static void test_esc_control_and_non_ascii(void **state)
{
    char buf[128];

    (void)state;
    assert_string_equal(vg_esc("a\nb\rc\td\x1b[2Je\x7f\x01", buf, sizeof(buf)),
                        "a\\x0ab\\x0dc\\x09d\\x1b[2Je\\x7f\\x01");
    /* non-ASCII byte by byte; the backslash itself, so an escape in the
     * output always comes from vg_esc */
    assert_string_equal(vg_esc("caf\xc3\xa9 \\x41", buf, sizeof(buf)),
                        "caf\\xc3\\xa9 \\x5cx41");
    assert_string_equal(VG_ESC("\xff"), "\\xff");
}

static void test_esc_truncation_is_marked_and_bounded(void **state)
{
    char big[5000], buf[48], small[8];
    const char *out;

    (void)state;
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    out = vg_esc(big, buf, sizeof(buf));
    assert_true(strlen(out) <= sizeof(buf) - 1);
    assert_non_null(strstr(out, "...[4999 bytes]"));
    assert_int_equal(strncmp(out, "aaaa", 4), 0);

    /* an escape is never cut in half by the mark */
    memset(big, '\n', 100);
    big[100] = '\0';
    out = vg_esc(big, buf, sizeof(buf));
    assert_true(strlen(out) <= sizeof(buf) - 1);
    assert_non_null(strstr(out, "...[100 bytes]"));
    for (const char *p = out; *p != '.'; p += 4)
        assert_memory_equal(p, "\\x0a", 4);

    /* exactly fitting: no mark */
    out = vg_esc("abcdefg", small, sizeof(small));
    assert_string_equal(out, "abcdefg");
    /* a buffer too small for the mark gets what fits, terminated */
    out = vg_esc("abcdefgh", small, sizeof(small));
    assert_int_equal(strlen(out), sizeof(small) - 1);
    assert_string_equal(vg_esc("x", small, 0), "");

    /* VG_ESC: bounded by VG_ESC_SIZE */
    memset(big, 'b', sizeof(big) - 1);
    assert_true(strlen(VG_ESC(big)) <= VG_ESC_SIZE - 1);
}

/* The review's case: a value with "\n" and "\x1b" is one log line with
 * both escaped. */
static void test_esc_log_line_cannot_be_forged(void **state)
{
    struct cap *c = cap_start();

    (void)state;
    vg_warn("frontend key stats '%s' ignored",
            VG_ESC("x=1\nvgrantd: error: forged\x1b[31m"));
    cap_stop();
    assert_int_equal(c->n, 1);
    assert_null(strchr(c->line[0], '\n'));
    assert_null(strchr(c->line[0], '\x1b'));
    assert_string_equal(c->line[0], "frontend key stats 'x=1\\x0avgrantd: "
                        "error: forged\\x1b[31m' ignored");
    free(c);
}

/* ------------------------------------------------------------------ */
/* rate limiter                                                        */

static void rl_log_at(struct vg_ratelimit *rl, uint64_t now_ms,
                      const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void rl_log_at(struct vg_ratelimit *rl, uint64_t now_ms,
                      const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vg_rl_vlog_at(rl, now_ms, VG_LOG_WARN, fmt, ap);
    va_end(ap);
}

static void test_ratelimit_burst_then_suppressed_summary(void **state)
{
    struct vg_ratelimit rl = { 0 };
    struct cap *c = cap_start();
    const uint64_t t0 = 1000000;

    (void)state;
    /* a flood: 1000 events inside one window */
    for (unsigned i = 0; i < 1000; i++)
        rl_log_at(&rl, t0 + i % (VG_RL_WINDOW_MS - 1), "bad request %u", i);
    assert_int_equal(c->n, VG_RL_BURST);
    for (unsigned i = 0; i < c->n; i++)
        assert_null(strstr(c->line[i], "suppressed"));
    assert_int_equal(rl.events, 1000);
    /* the next window: the first line says what was dropped */
    rl_log_at(&rl, t0 + VG_RL_WINDOW_MS, "bad request %u", 1000u);
    assert_int_equal(c->n, VG_RL_BURST + 1);
    assert_string_equal(c->line[VG_RL_BURST], "bad request 1000 (suppressed "
                        "990 similar messages)");
    /* and the count starts over */
    rl_log_at(&rl, t0 + VG_RL_WINDOW_MS + 1, "bad request %u", 1001u);
    assert_string_equal(c->line[VG_RL_BURST + 1], "bad request 1001");
    assert_int_equal(rl.events, 1002);
    cap_stop();
    free(c);
}

static void test_ratelimit_bounded_per_window(void **state)
{
    struct vg_ratelimit rl = { 0 };
    uint64_t dropped = 0, allowed = 0;

    (void)state;
    /* 100 s of one event per millisecond: at most BURST per window */
    for (uint64_t t = 0; t < 100000; t++) {
        uint64_t d;

        if (vg_ratelimit_at(&rl, 5000000 + t, &d)) {
            allowed++;
            dropped += d;
        }
    }
    assert_true(allowed <= (100000 / VG_RL_WINDOW_MS + 1) * VG_RL_BURST);
    assert_true(allowed >= 100000 / VG_RL_WINDOW_MS * VG_RL_BURST);
    /* every event is either logged, reported as suppressed, or pending */
    assert_int_equal(allowed + dropped + rl.suppressed, 100000);
}

static void test_ratelimit_flush_reports_the_rest(void **state)
{
    struct vg_ratelimit rl = { 0 };
    struct cap *c = cap_start();

    (void)state;
    vg_rl_flush(&rl, VG_LOG_WARN, "nothing");
    assert_int_equal(c->n, 0);
    for (unsigned i = 0; i < VG_RL_BURST + 7; i++)
        rl_log_at(&rl, 42, "e%u", i);
    vg_rl_flush(&rl, VG_LOG_WARN, "dom %u dev %u: teardown", 1u, 2u);
    assert_int_equal(c->n, VG_RL_BURST + 1);
    assert_string_equal(c->line[VG_RL_BURST], "dom 1 dev 2: teardown: "
                        "suppressed 7 similar messages");
    vg_rl_flush(&rl, VG_LOG_WARN, "again");
    assert_int_equal(c->n, VG_RL_BURST + 1);
    cap_stop();
    free(c);
}

/* ------------------------------------------------------------------ */
/* vg_xs_transact                                                      */

/* A handle whose commits fail as told, in front of a fake one. */
struct flaky {
    struct vg_hyp pub;
    struct vg_hyp *inner;
    unsigned fail_commits;     /* this many commits fail ... */
    int commit_errno;          /* ... with this errno */
    unsigned starts, commits_tried;
};

static struct flaky *flaky_of(struct vg_hyp *h)
{
    return (struct flaky *)h;
}

static vg_xs_tx_t flaky_tx_start(struct vg_hyp *h)
{
    struct flaky *f = flaky_of(h);

    f->starts++;
    return f->inner->ops->xs_tx_start(f->inner);
}

static int flaky_tx_end(struct vg_hyp *h, vg_xs_tx_t tx, bool abort)
{
    struct flaky *f = flaky_of(h);

    if (abort)
        return f->inner->ops->xs_tx_end(f->inner, tx, true);
    f->commits_tried++;
    if (f->fail_commits) {
        f->fail_commits--;
        f->inner->ops->xs_tx_end(f->inner, tx, true);
        errno = f->commit_errno;
        return -1;
    }
    return f->inner->ops->xs_tx_end(f->inner, tx, false);
}

static struct vg_hyp_ops flaky_ops;

struct world {
    struct vg_fake_world *w;
    struct flaky f;
};

static int world_setup(void **state)
{
    struct world *t = calloc(1, sizeof(*t));

    assert_non_null(t);
    t->w = vg_fake_world_new();
    assert_non_null(t->w);
    t->f.inner = vg_fake_open(t->w, 0);
    assert_non_null(t->f.inner);
    flaky_ops = *t->f.inner->ops;
    flaky_ops.xs_tx_start = flaky_tx_start;
    flaky_ops.xs_tx_end = flaky_tx_end;
    t->f.pub.ops = &flaky_ops;
    t->f.pub.domid = 0;
    *state = t;
    return 0;
}

static int world_teardown(void **state)
{
    struct world *t = *state;

    vg_hyp_close(t->f.inner);
    vg_fake_world_free(t->w);
    free(t);
    return 0;
}

/* The toolstack's transactions (attach, detach) are vg_xs_transact's:
 * redone on EAGAIN, at most VG_XS_TX_ATTEMPTS times, and a commit that
 * never goes through is reported with the attempt count.  The toolstack
 * calls every op of its handle, so the commits fail in the fake handle's
 * own ops table (an interposer on xs_tx_end), not behind a wrapper. */
static const struct vg_hyp_ops *ts_real_ops;
static unsigned ts_fail_commits, ts_commits_tried;

static int ts_tx_end(struct vg_hyp *h, vg_xs_tx_t tx, bool abort)
{
    if (abort)
        return ts_real_ops->xs_tx_end(h, tx, true);
    ts_commits_tried++;
    if (ts_fail_commits) {
        ts_fail_commits--;
        ts_real_ops->xs_tx_end(h, tx, true);
        errno = EAGAIN;
        return -1;
    }
    return ts_real_ops->xs_tx_end(h, tx, false);
}

static void ts_commits(unsigned fail)
{
    ts_fail_commits = fail;
    ts_commits_tried = 0;
}

static void test_xs_transact_is_the_toolstacks(void **state)
{
    struct world *t = *state;
    struct vg_hyp *h = t->f.inner;
    struct vg_hyp_ops ops = *h->ops;
    struct vg_attach_spec s;
    char err[512];
    unsigned devid = 99;
    char *v;

    for (uint16_t dom = 0; dom <= 1; dom++)
        if (vg_fake_domain_create(t->w, dom))
            assert_int_equal(errno, EEXIST);
    assert_int_equal(vg_attach_spec_parse("type=rng", &s, err, sizeof(err)), 0);
    ts_real_ops = h->ops;
    ops.xs_tx_end = ts_tx_end;
    h->ops = &ops;

    ts_commits(1000);
    assert_int_equal(vg_toolstack_attach(h, 1, &s, &devid, err,
                                         sizeof(err)), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(ts_commits_tried, VG_XS_TX_ATTEMPTS);
    assert_non_null(strstr(err, "cannot commit device 0 of domain 1 "
                                "(attempt 16)"));
    assert_int_equal(VG_XS_TX_ATTEMPTS, 16);

    ts_commits(3);
    assert_int_equal(vg_toolstack_attach(h, 1, &s, &devid, err,
                                         sizeof(err)), 0);
    assert_int_equal(devid, 0);
    assert_int_equal(ts_commits_tried, 4);
    v = vg_xs_read_str(h, VG_XS_NO_TX,
                       "/local/domain/0/backend/" VG_XS_CLASS "/1/0", "type");
    assert_non_null(v);
    assert_string_equal(v, "rng");
    free(v);

    ts_commits(1000);
    assert_int_equal(vg_toolstack_detach(h, 1, 0, 0, err, sizeof(err)), -1);
    assert_int_equal(ts_commits_tried, VG_XS_TX_ATTEMPTS);
    assert_non_null(strstr(err, "cannot commit removal of device 0 of "
                                "domain 1"));
    ts_commits(2);
    assert_true(vg_toolstack_detach(h, 1, 0, 0, err, sizeof(err)) >= 0);
    assert_int_equal(ts_commits_tried, 3);
    assert_null(vg_xs_read_str(h, VG_XS_NO_TX,
                               "/local/domain/1/device/" VG_XS_CLASS "/0",
                               "backend"));
    h->ops = ts_real_ops;
}

/* Body: writes /test/key = "v<call>", or fails / aborts as told. */
struct body {
    struct vg_hyp *inner;
    unsigned calls;
    unsigned fail_calls;       /* this many calls return -1 ... */
    int fail_errno;            /* ... with this errno */
    int abort_with;            /* > 0: return this instead of writing */
};

static int body_fn(struct vg_hyp *h, vg_xs_tx_t tx, void *arg)
{
    struct body *b = arg;

    (void)h;
    b->calls++;
    if (b->fail_calls) {
        b->fail_calls--;
        errno = b->fail_errno;
        return -1;
    }
    if (b->abort_with)
        return b->abort_with;
    return vg_xs_write_fmt(b->inner, tx, "/test", "key", "v%u", b->calls);
}

static char *read_key(struct world *t)
{
    return vg_xs_read_str(t->f.inner, VG_XS_NO_TX, "/test", "key");
}

static void test_xs_transact_commits_first_time(void **state)
{
    struct world *t = *state;
    struct body b = { .inner = t->f.inner };
    unsigned attempts = 0;
    char *v;

    assert_int_equal(vg_xs_transact(&t->f.pub, body_fn, &b, &attempts), 0);
    assert_int_equal(attempts, 1);
    assert_int_equal(b.calls, 1);
    v = read_key(t);
    assert_string_equal(v, "v1");
    free(v);
}

static void test_xs_transact_eagain_retried(void **state)
{
    struct world *t = *state;
    struct body b = { .inner = t->f.inner };
    unsigned attempts = 0;
    char *v;

    t->f.fail_commits = 3;
    t->f.commit_errno = EAGAIN;
    assert_int_equal(vg_xs_transact(&t->f.pub, body_fn, &b, &attempts), 0);
    assert_int_equal(attempts, 4);
    assert_int_equal(b.calls, 4);        /* the body reruns each time */
    v = read_key(t);
    assert_string_equal(v, "v4");
    free(v);
}

static void test_xs_transact_eagain_up_to_the_limit(void **state)
{
    struct world *t = *state;
    struct body b = { .inner = t->f.inner };
    unsigned attempts = 0;

    t->f.fail_commits = 1000;
    t->f.commit_errno = EAGAIN;
    errno = 0;
    assert_int_equal(vg_xs_transact(&t->f.pub, body_fn, &b, &attempts), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(attempts, VG_XS_TX_ATTEMPTS);
    assert_int_equal(t->f.commits_tried, VG_XS_TX_ATTEMPTS);
    assert_int_equal(t->f.starts, VG_XS_TX_ATTEMPTS);
    assert_null(read_key(t));            /* nothing ever committed */
    assert_int_equal(errno, ENOENT);
}

static void test_xs_transact_other_errors_not_retried(void **state)
{
    struct world *t = *state;
    struct body b = { .inner = t->f.inner };
    unsigned attempts = 0;

    /* a commit refused for another reason */
    t->f.fail_commits = 1;
    t->f.commit_errno = EACCES;
    assert_int_equal(vg_xs_transact(&t->f.pub, body_fn, &b, &attempts), -1);
    assert_int_equal(errno, EACCES);
    assert_int_equal(attempts, 1);

    /* the body fails: aborted at once, its errno kept */
    b.calls = 0;
    b.fail_calls = 1;
    b.fail_errno = EPERM;
    assert_int_equal(vg_xs_transact(&t->f.pub, body_fn, &b, &attempts), -1);
    assert_int_equal(errno, EPERM);
    assert_int_equal(attempts, 1);
    assert_int_equal(b.calls, 1);
    assert_null(read_key(t));

    /* the body hits a conflict (EAGAIN): redone */
    b.calls = 0;
    b.fail_calls = 2;
    b.fail_errno = EAGAIN;
    assert_int_equal(vg_xs_transact(&t->f.pub, body_fn, &b, &attempts), 0);
    assert_int_equal(attempts, 3);
    free(read_key(t));
}

static void test_xs_transact_body_aborts(void **state)
{
    struct world *t = *state;
    struct body b = { .inner = t->f.inner, .abort_with = 7 };
    unsigned attempts = 0;

    assert_int_equal(vg_xs_transact(&t->f.pub, body_fn, &b, &attempts), 7);
    assert_int_equal(attempts, 1);
    assert_int_equal(t->f.commits_tried, 0);
    assert_null(read_key(t));
}

/* ------------------------------------------------------------------ */
/* vg_grant_run and VG_MAX_DOMID                                       */

static void test_grant_run(void **state)
{
    uint32_t ref = 0, off = 0;
    uint64_t pages = 0;

    (void)state;
    assert_int_equal(vg_grant_run(vg_grant_addr(10, 100), 4000, &ref, &off,
                                  &pages), VG_GRANT_RUN_OK);
    assert_int_equal(ref, 10);
    assert_int_equal(off, 100);
    assert_int_equal(pages, 2);
    assert_int_equal(vg_grant_run(vg_grant_addr(10, 0), 4096, &ref, &off,
                                  &pages), VG_GRANT_RUN_OK);
    assert_int_equal(pages, 1);
    assert_int_equal(vg_grant_run(vg_grant_addr(10, 0), 0, &ref, &off,
                                  &pages), VG_GRANT_RUN_OK);
    assert_int_equal(pages, 0);
    /* no grant bit; a ref above 32 bits */
    assert_int_equal(vg_grant_run(0x1000, 512, &ref, &off, &pages),
                     VG_GRANT_RUN_NOT_GRANT);
    assert_int_equal(vg_grant_run(VG_GRANT_ADDR_FLAG | (1ULL << 44), 512,
                                  &ref, &off, &pages),
                     VG_GRANT_RUN_NOT_GRANT);
    /* the last ref fits, one more page does not */
    assert_int_equal(vg_grant_run(vg_grant_addr(UINT32_MAX, 0), 4096, &ref,
                                  &off, &pages), VG_GRANT_RUN_OK);
    assert_int_equal(vg_grant_run(vg_grant_addr(UINT32_MAX, 1), 4096, &ref,
                                  &off, &pages), VG_GRANT_RUN_OVERFLOW);
    assert_int_equal(pages, 2);
    assert_int_equal(vg_grant_run(vg_grant_addr(UINT32_MAX - 3, 0),
                                  UINT32_MAX, &ref, &off, &pages),
                     VG_GRANT_RUN_OVERFLOW);
    assert_int_equal(VG_MAX_DOMID, 0x7ff0 - 1);   /* DOMID_FIRST_RESERVED - 1 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_esc_printable_unchanged),
        cmocka_unit_test(test_esc_control_and_non_ascii),
        cmocka_unit_test(test_esc_truncation_is_marked_and_bounded),
        cmocka_unit_test(test_esc_log_line_cannot_be_forged),
        cmocka_unit_test(test_ratelimit_burst_then_suppressed_summary),
        cmocka_unit_test(test_ratelimit_bounded_per_window),
        cmocka_unit_test(test_ratelimit_flush_reports_the_rest),
        cmocka_unit_test_setup_teardown(test_xs_transact_commits_first_time,
                                        world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_xs_transact_eagain_retried,
                                        world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_xs_transact_eagain_up_to_the_limit,
                                        world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_xs_transact_other_errors_not_retried,
                                        world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_xs_transact_body_aborts,
                                        world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_xs_transact_is_the_toolstacks,
                                        world_setup, world_teardown),
        cmocka_unit_test(test_grant_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
