/* SPDX-License-Identifier: MIT */
/*
 * fuzz_control: vgrantd's control socket (backend/control.c), the one
 * interface local users of the backend domain talk to.  One daemon for the
 * whole run serves two devices (one connected, one waiting for its guest);
 * each input:
 *   - optionally has the connected guest publish a fuzzer-written "stats"
 *     key (guest text that ends up in every stats reply),
 *   - then either asks vgd_control_answer() directly for the request line
 *     (reply buffer size also fuzzed, down to the 128-byte minimum), or
 *     sends the bytes through the real unix socket in fuzzer-chosen
 *     chunks (client_read/client_reply/epoll path) and reads the reply.
 * Checked: every reply is one NUL-terminated, '\n'-terminated text that
 * fits the buffer, starts with "ok ", "error " or {"devices":[, contains
 * no control byte other than its newlines, and an "ok <n>" reply has
 * exactly n device lines and "end"; JSON replies are one line with
 * balanced braces and brackets; the daemon keeps at most
 * VGD_CONTROL_MAX_CLIENTS clients and drops each after its reply.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "fz.h"
#include "rawfront.h"
#include "vgrantd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vg_fake_world *g_w;
static struct vg_hyp *g_be, *g_ts;
static struct vgd *g_d;
static struct vgd_control *g_ctl;
static struct rawfront g_rf, g_rf2;
static char g_dir[64], g_sock[96];

static void cleanup(void)
{
    vgd_control_close(g_ctl);
    if (g_sock[0])
        unlink(g_sock);
    if (g_dir[0])
        rmdir(g_dir);
}

static void pump(int n)
{
    for (int i = 0; i < n; i++)
        FZ_CHECK(vgd_run_once(g_d, 0) == 0, "vgd_run_once");
}

static void setup(void)
{
    struct rf_attach a = { .target = fz_image() };

    fz_quiet_logs();
    g_w = vg_fake_world_new();
    FZ_CHECK(g_w && vg_fake_domain_create(g_w, 3) == 0 &&
             vg_fake_domain_create(g_w, 4) == 0, "world");
    g_be = vg_fake_open(g_w, 0);
    g_ts = vg_fake_open(g_w, 0);
    g_d = vgd_new(g_be, NULL);
    FZ_CHECK(g_d && vgd_start(g_d) == 0, "vgd");
    FZ_CHECK(rf_toolstack_attach(g_ts, 3, 0, 0, &a) == 0 &&
             rf_toolstack_attach(g_ts, 4, 7, 0, &a) == 0, "attach");
    FZ_CHECK(rf_open(&g_rf, g_w, 3, 0, 0) == 0 &&
             rf_open(&g_rf2, g_w, 4, 7, 0) == 0, "rf_open");
    pump(6);
    FZ_CHECK(rf_connect(&g_rf, 8) == 0, "connect");
    pump(6);
    rf_set_state(&g_rf, VG_XB_CONNECTED);
    pump(3);
    FZ_CHECK(rf_backend_state(&g_rf) == VG_XB_CONNECTED, "device connected");

    snprintf(g_dir, sizeof(g_dir), "/tmp/vgrant-fuzz-ctl-XXXXXX");
    FZ_CHECK(mkdtemp(g_dir), "mkdtemp");
    snprintf(g_sock, sizeof(g_sock), "%s/control.sock", g_dir);
    g_ctl = vgd_control_open(g_d, g_sock);
    FZ_CHECK(g_ctl, "control socket");
    atexit(cleanup);
}

/* The reply invariants; len as returned (direct) or as read (socket). */
static void check_reply(const char *out, size_t len, size_t size)
{
    unsigned lines = 0, devices = 0, n = 0;
    int depth = 0;

    FZ_CHECK(len > 0 && len < size, "reply length %zu, buffer %zu", len, size);
    FZ_CHECK(strlen(out) == len, "reply has a NUL inside or is unterminated");
    FZ_CHECK(out[len - 1] == '\n', "reply not newline-terminated");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)out[i];
        FZ_CHECK(c == '\n' || (c >= 0x20 && c < 0x7f), "byte 0x%02x at %zu "
                 "in the reply", c, i);
        lines += c == '\n';
    }
    if (!strncmp(out, "error ", 6)) {
        FZ_CHECK(lines == 1, "error reply of %u lines", lines);
        return;
    }
    if (!strncmp(out, "{\"devices\":[", 12)) {
        FZ_CHECK(lines == 1, "JSON reply of %u lines", lines);
        for (size_t i = 0; i < len; i++) {
            if (out[i] == '{' || out[i] == '[')
                depth++;
            if (out[i] == '}' || out[i] == ']')
                depth--;
            FZ_CHECK(depth >= 0, "unbalanced JSON");
        }
        FZ_CHECK(depth == 0 && !strcmp(out + len - 3, "]}\n"),
                 "unbalanced JSON");
        return;
    }
    FZ_CHECK(sscanf(out, "ok %u\n", &n) == 1, "reply starts '%.16s'", out);
    for (const char *p = strchr(out, '\n'); p && p[1]; p = strchr(p + 1, '\n'))
        devices += !strncmp(p + 1, "device ", 7);
    FZ_CHECK(devices == n && lines == n + 2 && !strcmp(out + len - 4, "end\n"),
             "ok %u with %u device lines, %u lines", n, devices, lines);
    FZ_CHECK(n <= 2, "ok %u: only 2 devices exist", n);
}

static void direct(struct fz_in *in)
{
    static char out[VGD_CONTROL_MAX_RESPONSE];
    size_t size = (fz_u8(in) & 1) ? 128 + fz_u16(in) % 4096 : sizeof(out);
    char line[VGD_CONTROL_MAX_REQUEST + 64];
    size_t len = fz_bytes(in, line, in->left < sizeof(line) ? in->left
                                                             : sizeof(line));
    size_t n = vgd_control_answer(g_d, line, len, out, size);

    check_reply(out, n, size);
}

static void via_socket(struct fz_in *in)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    char reply[8192];
    size_t got = 0;
    int fd, rounds = 0;
    bool sent_all = false, closed = false;

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", g_sock);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    FZ_CHECK(fd >= 0, "socket");
    FZ_CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect: %s",
             strerror(errno));
    while (rounds++ < 64 && !closed) {
        if (!sent_all) {
            uint8_t chunk = fz_u8(in);
            uint8_t buf[300];
            size_t n = fz_bytes(in, buf, chunk % 200 + 1);
            if (n && send(fd, buf, n, MSG_NOSIGNAL) < 0 && errno != EAGAIN)
                sent_all = true;
            if (fz_done(in)) {
                sent_all = true;
                if (chunk & 1)
                    shutdown(fd, SHUT_WR);
            }
        }
        pump(1);
        for (;;) {
            ssize_t r = recv(fd, reply + got, sizeof(reply) - 1 - got,
                             MSG_DONTWAIT);
            if (r > 0) {
                got += (size_t)r;
                if (got == sizeof(reply) - 1)
                    break;
                continue;
            }
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
                closed = true;
            break;
        }
        if (sent_all && !closed && rounds > 40)
            break;   /* unfinished line: the daemon times it out later */
    }
    close(fd);
    pump(1);
    reply[got] = '\0';
    if (closed && got)
        check_reply(reply, got, sizeof(reply));
    FZ_CHECK(vgd_control_clients(g_ctl) <= VGD_CONTROL_MAX_CLIENTS,
             "%u clients", vgd_control_clients(g_ctl));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_in in;
    uint8_t b0;

    if (!g_d)
        setup();
    fz_in_init(&in, data, size);
    b0 = fz_u8(&in);
    if (b0 & 2) {
        char stats[VG_MAX_XS_VALUE / 8];
        fz_str(&in, stats, sizeof(stats));
        rf_write(&g_rf, VG_KEY_STATS, stats);
    }
    if (b0 & 1)
        via_socket(&in);
    else
        direct(&in);
    return 0;
}
