/* SPDX-License-Identifier: MIT */
/*
 * vgrantd's control socket (backend/control.h) against a daemon in the
 * fake world: the stats protocol, its strict parser, and clients that
 * send garbage, too much, nothing at all, or too many connections.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "control.h"
#include "vgd_opts.h"
#include "rawfront.h"
#include "vgrant/log.h"
#include "vgrant/stats_prom.h"
#include "vgrantd.h"

#define MAX_ROUNDS 400

struct cw {
    struct vg_fake_world *w;
    struct vg_hyp *be, *ts;
    struct vgd *d;
    struct vgd_control *c;
    struct rawfront rf;
    bool have_rf;
    char dir[64];
    char path[96];
    char image[64];
};

static void make_image(char *path, size_t size)
{
    int fd;

    snprintf(path, size, "/tmp/vgd-ctl-img-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 64 * 1024), 0);
    close(fd);
}

static struct cw *cw_new(void)
{
    struct cw *t = calloc(1, sizeof(*t));

    assert_non_null(t);
    t->w = vg_fake_world_new();
    t->be = vg_fake_open(t->w, 0);
    t->ts = vg_fake_open(t->w, 0);
    assert_non_null(t->be);
    assert_non_null(t->ts);
    t->d = vgd_new(t->be, NULL);
    assert_non_null(t->d);
    assert_int_equal(vgd_start(t->d), 0);
    snprintf(t->dir, sizeof(t->dir), "/tmp/vgd-ctl-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    /* a directory that does not exist yet: vgd_control_open creates it */
    snprintf(t->path, sizeof(t->path), "%s/run/control.sock", t->dir);
    t->c = vgd_control_open(t->d, t->path);
    assert_non_null(t->c);
    make_image(t->image, sizeof(t->image));
    return t;
}

static void cw_free(struct cw *t)
{
    char sub[160];

    if (t->have_rf)
        rf_close(&t->rf);
    vgd_control_close(t->c);
    vgd_free(t->d);
    vg_hyp_close(t->be);
    vg_hyp_close(t->ts);
    vg_fake_world_free(t->w);
    unlink(t->image);
    snprintf(sub, sizeof(sub), "%s/run", t->dir);
    rmdir(sub);
    rmdir(t->dir);
    free(t);
}

/* A connected device dom 5 dev 0, so stats have something to report. */
static void add_device(struct cw *t)
{
    struct rf_attach a = { .target = t->image };

    assert_int_equal(vg_fake_domain_create(t->w, 5), 0);
    assert_int_equal(rf_toolstack_attach(t->ts, 5, 0, 0, &a), 0);
    assert_int_equal(rf_open(&t->rf, t->w, 5, 0, 0), 0);
    t->have_rf = true;
    for (int i = 0; i < MAX_ROUNDS && rf_backend_state(&t->rf) != VG_XB_INITWAIT; i++)
        assert_int_equal(vgd_run_once(t->d, 0), 0);
    assert_int_equal(rf_connect(&t->rf, 8), 0);
    for (int i = 0; i < MAX_ROUNDS && rf_backend_state(&t->rf) != VG_XB_CONNECTED; i++)
        assert_int_equal(vgd_run_once(t->d, 0), 0);
    assert_int_equal(rf_backend_state(&t->rf), VG_XB_CONNECTED);
}

static int client_connect(const struct cw *t)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", t->path);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

static void client_send(int fd, const char *data, size_t len)
{
    assert_int_equal(send(fd, data, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Run the daemon until the server closes fd; returns what it sent. */
static char *client_reply(struct cw *t, int fd)
{
    static char buf[64 * 1024];
    size_t len = 0;

    for (int i = 0; i < MAX_ROUNDS; i++) {
        ssize_t n;

        assert_int_equal(vgd_run_once(t->d, 10), 0);
        for (;;) {
            n = recv(fd, buf + len, sizeof(buf) - 1 - len, MSG_DONTWAIT);
            if (n <= 0)
                break;
            len += (size_t)n;
        }
        if (n == 0 || (n < 0 && errno == ECONNRESET)) {
            buf[len] = '\0';
            close(fd);
            return buf;
        }
        assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
    }
    fail_msg("the control socket never closed the connection");
    return NULL;
}

static char *ask(struct cw *t, const char *request)
{
    int fd = client_connect(t);

    client_send(fd, request, strlen(request));
    return client_reply(t, fd);
}

static void assert_has(const char *text, const char *needle)
{
    if (!strstr(text, needle))
        fail_msg("expected '%s' in:\n%s", needle, text);
}

static void assert_alive(struct cw *t)
{
    char *r = ask(t, "stats\n");

    assert_true(!strncmp(r, "ok ", 3));
    assert_has(r, "\nend\n");
}

/* ------------------------------------------------------------------ */

static void test_control_stats_text_and_json(void **state)
{
    struct cw *t = cw_new();
    char *r;

    (void)state;
    r = ask(t, "stats\n");
    assert_string_equal(r, "ok 0\nend\n");
    add_device(t);

    r = ask(t, "stats 5\n");
    assert_true(!strncmp(r, "ok 1\ndevice domid=5 devid=0 state=Connected ", 44));
    /* the three ring pages of the one queue, and no buffer */
    assert_has(r, " live_mappings=3 ");
    assert_has(r, " requests=0 ");
    assert_has(r, " max_in_flight=");
    assert_has(r, "\nend\n");

    r = ask(t, "stats 5 0 json\n");
    assert_true(!strncmp(r, "{\"devices\":[{\"domid\":5,\"devid\":0,\"state\":\"Connected\"", 52));
    assert_has(r, "\"live_mappings\":3");
    assert_has(r, "}]}\n");

    /* the daemon's own reply converts to Prometheus text
     * (vgrant stats --prometheus) */
    {
        char *prom = NULL;
        size_t plen = 0;
        FILE *f = open_memstream(&prom, &plen);

        assert_non_null(f);
        assert_int_equal(vg_stats_prometheus(ask(t, "stats 5 0\n"), f), 1);
        fclose(f);
        assert_has(prom, "vgrant_device_info{domid=\"5\",devid=\"0\",state=\"Connected\",mode=\"grant\"} 1\n");
        assert_has(prom, "\nvgrant_live_mappings{domid=\"5\",devid=\"0\"} 3\n");
        assert_has(prom, "\nvgrant_requests_total{domid=\"5\",devid=\"0\"} 0\n");
        assert_has(prom, "\n# TYPE vgrant_guest_requests_total counter\n");
        free(prom);
    }

    /* filters that match nothing */
    assert_string_equal(ask(t, "stats 6\n"), "ok 0\nend\n");
    assert_string_equal(ask(t, "stats 5 1\n"), "ok 0\nend\n");
    assert_string_equal(ask(t, "stats 6 json\n"), "{\"devices\":[]}\n");
    cw_free(t);
}

static void test_control_socket_is_private(void **state)
{
    struct cw *t = cw_new();
    struct vgd_control *second;
    struct stat st;

    (void)state;
    assert_int_equal(stat(t->path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);
    /* a second daemon on the same live socket is refused */
    second = vgd_control_open(t->d, t->path);
    assert_null(second);
    assert_int_equal(errno, EADDRINUSE);
    assert_alive(t);
    cw_free(t);
}

static void test_control_stale_socket_replaced(void **state)
{
    struct cw *t = cw_new();

    (void)state;
    /* a daemon that died leaves its socket file behind: closing the fds
     * without unlinking is what a crash leaves */
    vgd_control_close(t->c);
    t->c = NULL;
    {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", t->path);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        close(fd);
    }
    t->c = vgd_control_open(t->d, t->path);
    assert_non_null(t->c);
    assert_alive(t);
    cw_free(t);
}

/* The parser, directly: exact grammar, nothing else. */
static void test_hostile_control_requests_parsed_strictly(void **state)
{
    static const char *bad[] = {
        "", " ", "stats ", " stats", "stats  5", "stats 5 ", "STATS", "stat",
        "stats x", "stats -1", "stats +5", "stats 05", "stats 5 0 0",
        "stats 32752", "stats 5 65536", "stats json 5", "stats 5 json json",
        "stats\t5", "stats\r", "stats 5 99999999999999999999999",
        "stats 0x5", "json", "stats 5 0 json x", "\xff\xfe",
    };
    static const char *good[] = {
        "stats", "stats json", "stats 0", "stats 32751", "stats 5 65535",
        "stats 5 0 json",
    };
    struct cw *t = cw_new();
    char out[512];
    size_t n;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n = vgd_control_answer(t->d, bad[i], strlen(bad[i]), out, sizeof(out));
        if (strncmp(out, "error ", 6))
            fail_msg("request '%s' accepted: %s", bad[i], out);
        assert_int_equal(out[n - 1], '\n');
        assert_int_equal(strlen(out), n);
    }
    /* a NUL byte inside the line */
    n = vgd_control_answer(t->d, "stats\0 5", 8, out, sizeof(out));
    assert_true(!strncmp(out, "error ", 6));
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        vgd_control_answer(t->d, good[i], strlen(good[i]), out, sizeof(out));
        if (!strncmp(out, "error ", 6))
            fail_msg("request '%s' refused: %s", good[i], out);
    }
    /* a reply that does not fit is an error, never a truncated table */
    add_device(t);
    n = vgd_control_answer(t->d, "stats", 5, out, 128);
    assert_true(!strncmp(out, "error reply too large", 21));
    assert_true(n < 128);
    cw_free(t);
}

static void test_hostile_control_garbage_line(void **state)
{
    struct cw *t = cw_new();
    static const char garbage[] = "\x01\x02\x7f\x80 garbage \x1b[2J\n";
    char *r;

    (void)state;
    add_device(t);
    r = ask(t, garbage);
    assert_true(!strncmp(r, "error ", 6));
    r = ask(t, "please give me stats\n");
    assert_true(!strncmp(r, "error unknown command", 21));
    r = ask(t, "stats 5 0 json extra\n");
    assert_true(!strncmp(r, "error ", 6));
    /* two requests in one connection: only one is allowed */
    r = ask(t, "stats\nstats\n");
    assert_true(!strncmp(r, "error data after the request line", 33));
    assert_alive(t);
    assert_int_equal(rf_backend_state(&t->rf), VG_XB_CONNECTED);
    cw_free(t);
}

static void test_hostile_control_unknown_command(void **state)
{
    struct cw *t = cw_new();
    char *r;

    (void)state;
    r = ask(t, "shutdown\n");
    assert_string_equal(r, "error unknown command (known: stats)\n");
    r = ask(t, "detach 5 0\n");
    assert_string_equal(r, "error unknown command (known: stats)\n");
    assert_alive(t);
    cw_free(t);
}

static void test_hostile_control_overlong_line(void **state)
{
    struct cw *t = cw_new();
    char big[4096];
    int fd;
    char *r;

    (void)state;
    memset(big, 'a', sizeof(big));
    fd = client_connect(t);
    /* the daemon stops reading at VGD_CONTROL_MAX_REQUEST bytes */
    client_send(fd, big, VGD_CONTROL_MAX_REQUEST + 100);
    r = client_reply(t, fd);
    assert_string_equal(r, "error request too long\n");

    /* exactly one byte too long, newline included */
    memcpy(big, "stats ", 6);
    big[VGD_CONTROL_MAX_REQUEST] = '\n';
    fd = client_connect(t);
    client_send(fd, big, VGD_CONTROL_MAX_REQUEST + 1);
    r = client_reply(t, fd);
    assert_string_equal(r, "error request too long\n");
    assert_alive(t);
    cw_free(t);
}

static void test_hostile_control_no_newline_then_eof(void **state)
{
    struct cw *t = cw_new();
    int fd;
    char *r;

    (void)state;
    fd = client_connect(t);
    client_send(fd, "stats", 5);
    assert_int_equal(shutdown(fd, SHUT_WR), 0);
    r = client_reply(t, fd);
    assert_string_equal(r, "error request not terminated by a newline\n");
    /* connect and close at once */
    fd = client_connect(t);
    close(fd);
    assert_int_equal(vgd_run_once(t->d, 10), 0);
    assert_alive(t);
    cw_free(t);
}

static uint64_t ms_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Silent clients do not block the loop or other clients, and are dropped
 * after the client timeout. */
static void test_hostile_control_silent_clients(void **state)
{
    struct cw *t = cw_new();
    int silent[VGD_CONTROL_MAX_CLIENTS];
    uint64_t start;
    char *r;
    int fd;

    (void)state;
    add_device(t);
    for (unsigned i = 0; i < VGD_CONTROL_MAX_CLIENTS; i++) {
        silent[i] = client_connect(t);
        if (i == 0)
            client_send(silent[i], "sta", 3);   /* half a request */
    }
    for (int i = 0; i < 5; i++)
        assert_int_equal(vgd_run_once(t->d, 0), 0);
    assert_int_equal(vgd_control_clients(t->c), VGD_CONTROL_MAX_CLIENTS);

    /* one client too many: told so, not queued */
    fd = client_connect(t);
    r = client_reply(t, fd);
    assert_string_equal(r, "error busy: too many control clients\n");

    /* the device keeps being served meanwhile */
    assert_int_equal(rf_backend_state(&t->rf), VG_XB_CONNECTED);

    /* every silent client is dropped after the timeout */
    start = ms_now();
    while (vgd_control_clients(t->c) > 0 &&
           ms_now() - start < VGD_CONTROL_CLIENT_TIMEOUT_MS * 3)
        assert_int_equal(vgd_run_once(t->d, 50), 0);
    assert_int_equal(vgd_control_clients(t->c), 0);
    for (unsigned i = 0; i < VGD_CONTROL_MAX_CLIENTS; i++) {
        char c;
        assert_int_equal(recv(silent[i], &c, 1, MSG_DONTWAIT), 0);
        close(silent[i]);
    }
    assert_alive(t);
    cw_free(t);
}

/* A client that sends a request and never reads: whatever part of the
 * reply does not fit its socket buffer waits, the loop goes on, and the
 * client is gone within the timeout. */
static void test_hostile_control_reply_never_read(void **state)
{
    struct cw *t = cw_new();
    uint64_t start;
    int fd, small = 1;

    (void)state;
    add_device(t);
    fd = client_connect(t);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    client_send(fd, "stats json\n", 11);
    start = ms_now();
    while (vgd_control_clients(t->c) > 0 &&
           ms_now() - start < VGD_CONTROL_CLIENT_TIMEOUT_MS * 3)
        assert_int_equal(vgd_run_once(t->d, 50), 0);
    assert_int_equal(vgd_control_clients(t->c), 0);
    close(fd);
    assert_alive(t);
    cw_free(t);
}

/* The guest's own counters (frontend key "stats") reach `vgrant stats`;
 * a garbage line is ignored, not half-used, and the daemon carries on. */
static void test_hostile_control_guest_stats(void **state)
{
    struct cw *t = cw_new();
    char *r;

    (void)state;
    add_device(t);
    assert_int_equal(rf_write(&t->rf, VG_KEY_STATS,
                              "requests=10 completed=9 failed=1 pages-shared=30 "
                              "throttle-waits=4 region-high-water=65536 "
                              "bounce-bytes=4096 zero-copy-bytes=0"), 0);
    r = ask(t, "stats 5 0\n");
    assert_has(r, " guest_reported=1 ");
    assert_has(r, " guest_throttle_waits=4 ");
    assert_has(r, " guest_region_high_water=65536 ");
    assert_has(r, " guest_failed=1 ");

    assert_int_equal(rf_write(&t->rf, VG_KEY_STATS,
                              "requests=10 throttle-waits=99999 evil=1"), 0);
    r = ask(t, "stats 5 0\n");
    assert_has(r, " guest_reported=0 ");
    assert_has(r, " guest_throttle_waits=0 ");
    assert_alive(t);
    cw_free(t);
}

/* A reload (SIGHUP) applies the live options to the running daemon and
 * closes no device: the connected device stays Connected and keeps its
 * counters; an option that needs a restart is only reported. */
static void log_to(enum vg_log_level level, const char *msg, void *arg)
{
    char *buf = arg;

    (void)level;
    strncat(buf, msg, 4095 - strlen(buf));
    strncat(buf, "\n", 4095 - strlen(buf));
}

static void test_reload_keeps_devices(void **state)
{
    struct cw *t = cw_new();
    struct vgd_cmdline running, next;
    char path[] = "/tmp/vgd-reload-XXXXXX", err[512], *words = NULL;
    static char logged[4096];
    const char *text = "VGRANTD_OPTS=\"--log-level warn --budget 7 "
                       "--byte-budget 8192 --auto-threshold 512 "
                       "--persistent-cache 16\"\n";
    unsigned budget, threshold;
    uint64_t bytes;
    int fd;

    (void)state;
    add_device(t);
    char *argv[] = { "vgrantd", "-F", "-l", "err", NULL };
    assert_int_equal(vgd_cmdline_parse(4, argv, &running, err, sizeof(err)), VGD_PARSE_OK);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    assert_int_equal(vgd_options_file_parse(path, &next, &words, err, sizeof(err)), 0);
    unlink(path);

    logged[0] = '\0';
    vg_log_set_sink(log_to, logged);
    vg_log_set_level(VG_LOG_INFO);   /* see the reload's lines */
    running.level = VG_LOG_INFO;
    assert_int_equal(vgd_reload_apply(t->d, &running, &next), 4);
    vg_log_set_sink(NULL, NULL);
    free(words);
    assert_int_equal(vg_log_get_level(), VG_LOG_WARN);
    vg_log_set_level(VG_LOG_ERR);
    vgd_get_tunables(t->d, &budget, &bytes, &threshold);
    assert_int_equal(budget, 7);
    assert_int_equal(bytes, 8192);
    assert_int_equal(threshold, 512);
    assert_non_null(strstr(logged, "reload: budget 64 -> 7"));
    assert_non_null(strstr(logged, "reload: --persistent-cache changed: takes effect at the next start"));
    assert_non_null(strstr(logged, "no device closed"));

    /* the device is still served */
    for (int i = 0; i < 20; i++)
        assert_int_equal(vgd_run_once(t->d, 0), 0);
    assert_int_equal(rf_backend_state(&t->rf), VG_XB_CONNECTED);
    assert_has(ask(t, "stats 5 0\n"), "device domid=5 devid=0 state=Connected ");

    /* the same options again: nothing to apply */
    logged[0] = '\0';
    vg_log_set_sink(log_to, logged);
    vg_log_set_level(VG_LOG_INFO);
    running.level = VG_LOG_INFO;
    next.level = VG_LOG_INFO;
    running.opts.persistent_cache_pages = next.opts.persistent_cache_pages;
    assert_int_equal(vgd_reload_apply(t->d, &running, &next), 0);
    vg_log_set_sink(NULL, NULL);
    vg_log_set_level(VG_LOG_ERR);
    assert_non_null(strstr(logged, "reload: no option changed"));
    cw_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_control_stats_text_and_json),
        cmocka_unit_test(test_hostile_control_guest_stats),
        cmocka_unit_test(test_control_socket_is_private),
        cmocka_unit_test(test_control_stale_socket_replaced),
        cmocka_unit_test(test_hostile_control_requests_parsed_strictly),
        cmocka_unit_test(test_hostile_control_garbage_line),
        cmocka_unit_test(test_hostile_control_unknown_command),
        cmocka_unit_test(test_hostile_control_overlong_line),
        cmocka_unit_test(test_hostile_control_no_newline_then_eof),
        cmocka_unit_test(test_hostile_control_silent_clients),
        cmocka_unit_test(test_hostile_control_reply_never_read),
        cmocka_unit_test(test_reload_keeps_devices),
    };

    vg_log_init("test_control", VG_LOG_ERR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
