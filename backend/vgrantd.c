/* SPDX-License-Identifier: MIT */
/*
 * vgrantd: the virtio-grant backend daemon.  Parses options, opens the
 * Xen interfaces, optionally daemonizes, and runs the core (vgrantd.h)
 * until SIGTERM/SIGINT, which arrive through a signalfd in the same event
 * loop so shutdown always happens between two rounds; SIGHUP reloads the
 * options (vgd_opts.h) the same way, between two rounds.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vgrant/hyp.h"
#include "vgrant/log.h"
#include "vgrant/xsutil.h"
#include "control.h"
#include "vgd_opts.h"
#include "vgrantd.h"

#define VGRANTD_VERSION "0.1"

enum { EXIT_OK = 0, EXIT_FATAL = 1, EXIT_USAGE = 2 };

static void usage(FILE *out)
{
    fprintf(out,
"NAME\n"
"    vgrantd - virtio-grant backend daemon\n"
"\n"
"SYNOPSIS\n"
"    vgrantd [-F] [-l LEVEL] [-p FILE] [-b N] [-d DOMID] [-c PATH]\n"
"            [--options-file FILE] [...]\n"
"    vgrantd --help | --version\n"
"\n"
"DESCRIPTION\n"
"    vgrantd serves virtio devices to Xen guests over grant references.\n"
"    It runs in the backend domain (dom0 or a driver domain), watches\n"
"    /local/domain/<B>/backend/virtio-grant in xenstore and, for every\n"
"    device the toolstack (xl with the virtio-grant patch, or `vgrant\n"
"    attach`) creates there, runs the xenbus handshake with the guest,\n"
"    maps only the pages the guest grants for each request, and serves\n"
"    the request with a device model (today: blk, a raw image file or\n"
"    block device; rng).  No buffer stays mapped after its request\n"
"    completes.  Each queue has at most two rounds of requests in the\n"
"    kernel (each at most 16 requests and --budget), so a slow backing\n"
"    file delays only its own queue.\n"
"\n"
"    Every value coming from a guest is validated.  A guest that breaks\n"
"    the protocol has its device moved to Closing with a log line naming\n"
"    the domain, the device and the bad value; other guests are not\n"
"    affected.  Each queue is served at most N requests (--budget) and\n"
"    about B bytes (--byte-budget) per round of the event loop, so a\n"
"    guest flooding its queue, its event channel or asking for huge\n"
"    transfers cannot starve the others.\n"
"\n"
"    A device whose guest has not connected 30 s after vgrantd offered it\n"
"    (InitWait) gets one warning naming the domain, the device and what\n"
"    to check in the guest (a libvgrant frontend such as vgrant-io, the\n"
"    xen-gntalloc and xen-evtchn drivers).\n"
"\n"
"    Without -F, vgrantd detaches from the terminal after opening the Xen\n"
"    interfaces and logs to syslog (facility daemon).  With -F it logs to\n"
"    standard error; when that is the systemd journal (JOURNAL_STREAM)\n"
"    each line carries its priority.  Lines about a device start with\n"
"    \"dom F dev N:\".\n"
"\n"
"OPTIONS\n"
"    -F, --foreground\n"
"        Stay in the foreground and log to standard error.\n"
"    -l, --log-level LEVEL\n"
"        err, warn, info (default) or debug.\n"
"    -p, --pidfile FILE\n"
"        Write the daemon's pid to FILE; removed on clean exit.\n"
"    -b, --budget N\n"
"        Requests served per queue per round, 1..%u (default %u).\n"
"    --byte-budget BYTES\n"
"        Bytes served per queue per round before the next queue's turn,\n"
"        4096..%llu (default %u with --io sync and for rng and net,\n"
"        which do their work in the loop; %u for blk with io_uring,\n"
"        whose transfers run in the kernel meanwhile); given, it applies\n"
"        to every device.  The request that crosses it is still served.\n"
"        Bounds how long one guest's huge requests delay another guest's\n"
"        small one.\n"
"    -d, --backend-domid DOMID\n"
"        Serve /local/domain/DOMID/backend instead of the backend path of\n"
"        the domain vgrantd runs in (a driver domain that cannot find out\n"
"        its own id).\n"
"    -c, --control PATH\n"
"        Serve the control socket (statistics for `vgrant stats`) at PATH,\n"
"        mode 0600, root only (default " VGD_CONTROL_DEFAULT_PATH ";\n"
"        \"none\" disables it).  Its directory is created if missing.\n"
"    --auto-threshold BYTES\n"
"        Mode auto: requests of fewer bytes are grant-copied, larger ones\n"
"        mapped (default 16384; see docs/modes.md).\n"
"    --persistent-cache PAGES\n"
"        Mode persistent: most guest pages kept mapped per device,\n"
"        1..65536 (default 1024).  Those pages stay mapped between\n"
"        requests: opt-in, see docs/modes.md.\n"
"    --io uring|sync\n"
"        How the file transfers of requests run.  uring (default): through\n"
"        io_uring, up to two rounds of a queue's requests (16 each) in the\n"
"        kernel at once, completing in any order, while other queues are\n"
"        served; if the\n"
"        kernel refuses io_uring, vgrantd says so and falls back to sync.\n"
"        sync: one at a time in the event loop.\n"
"    --coalesce-ms MS\n"
"        When a block queue's round of k requests closed and the queue is\n"
"        idle, the next round waits for min(k, 16) requests, the guest being\n"
"        asked (EVENT_IDX) to notify only then.  If fewer come, what came\n"
"        starts once a gap passes with no new request (4x the guest's\n"
"        own pace per request, 1 ms at least) or MS milliseconds in all\n"
"        (0..%u, default %u; 0: never wait).  A guest that sends again as\n"
"        many as it got back pays no delay; fewer grant operations and\n"
"        notifications per request.  With a round already in the kernel\n"
"        the next one waits for 8 requests or that round's end, whatever\n"
"        this option.\n"
"    --direct\n"
"        Also open every blk target with O_DIRECT and use it for each\n"
"        transfer whose buffers, lengths and offset are aligned to the\n"
"        target's logical block size: no copy through dom0's page cache.\n"
"        Unaligned transfers and flushes go through the page cache; a\n"
"        target whose filesystem refuses O_DIRECT is served as without it\n"
"        (logged).\n"
"    --options-file FILE\n"
"        On SIGHUP, re-read the options from the VGRANTD_OPTS=\"...\" line\n"
"        of FILE (/etc/default/vgrantd format, no shell expansion) and\n"
"        apply --log-level, --budget, --byte-budget and --auto-threshold\n"
"        without closing any device (others need a restart; logged).\n"
"    -V, --version\n"
"        Print the version and exit.\n"
"    -h, --help\n"
"        Print this help and exit.\n"
"\n"
"SIGNALS\n"
"    SIGTERM, SIGINT\n"
"        Close every device cleanly (all grants unmapped, all event\n"
"        channels unbound, devices left Closed), log a summary, exit 0.\n"
"    SIGHUP\n"
"        Reload the options of --options-file (see there).\n"
"\n"
"FILES\n"
"    /dev/xen/gntdev, /dev/xen/evtchn, /dev/xen/xenbus\n"
"        Xen interfaces; need the xen-gntdev and xen-evtchn drivers, xenbus\n"
"        (or xenfs) and root.\n"
"    /proc/xen/capabilities, /dev/xen/privcmd\n"
"        In the control domain (dom0) vgrantd also uses libxenctrl to see a\n"
"        guest die at once; a driver domain works without it (liveness\n"
"        through xenstore and the guest's device directory).\n"
"    /local/domain/<B>/backend/virtio-grant/<F>/<devid>   (xenstore)\n"
"        Device directories vgrantd serves; see docs/protocol.md.\n"
"    " VGD_CONTROL_DEFAULT_PATH "\n"
"        Control socket: one line \"stats [<domid> [<devid>]] [json]\"\n"
"        per connection (see backend/control.h).\n"
"\n"
"EXIT STATUS\n"
"    0   stopped by SIGTERM/SIGINT after closing every device\n"
"    1   fatal error (cannot open Xen interfaces, xenstore failure, ...)\n"
"    2   bad command line\n",
            VGD_MAX_BUDGET, VGD_DEFAULT_BUDGET, VGD_MAX_BYTE_BUDGET,
            VGD_DEFAULT_BYTE_BUDGET, VGD_DEFAULT_BYTE_BUDGET_AIO,
            VGD_MAX_COALESCE_MS,
            VGD_DEFAULT_COALESCE_MS);
}

/* SIGHUP: re-read --options-file and apply what can change live. */
static void reload(struct vgd *d, struct vgd_cmdline *running)
{
    struct vgd_cmdline next;
    char err[512], *words = NULL;

    if (!running->options_file) {
        vg_warn("received SIGHUP, but vgrantd was started without "
                "--options-file: nothing to re-read");
        return;
    }
    vg_info("received SIGHUP: re-reading %s", running->options_file);
    if (vgd_options_file_parse(running->options_file, &next, &words, err,
                               sizeof(err))) {
        vg_err("reload failed, options unchanged: %s", err);
        return;
    }
    vgd_reload_apply(d, running, &next);
    free(words);
}

static void on_signal_fd(struct vgd *d, int fd, void *arg)
{
    struct signalfd_siginfo si;
    struct vgd_cmdline *running = arg;

    while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGHUP) {
            reload(d, running);
            continue;
        }
        vg_info("received %s, closing every device", strsignal((int)si.ssi_signo));
        vgd_request_stop(d);
    }
}

static int write_pidfile(const char *path)
{
    FILE *f = fopen(path, "w");

    if (!f) {
        vg_err("cannot write pidfile %s: %s", path, strerror(errno));
        return -1;
    }
    fprintf(f, "%ld\n", (long)getpid());
    if (fclose(f)) {
        vg_err("cannot write pidfile %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int daemonize(void)
{
    pid_t pid = fork();
    int fd;

    if (pid < 0) {
        vg_err("fork: %s", strerror(errno));
        return -1;
    }
    if (pid > 0)
        _exit(EXIT_OK);
    if (setsid() < 0) {
        vg_err("setsid: %s", strerror(errno));
        return -1;
    }
    if (chdir("/"))
        return -1;
    umask(022);
    fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        if (fd > STDERR_FILENO)
            close(fd);
    }
    vg_log_use_syslog();
    return 0;
}

int main(int argc, char **argv)
{
    static struct vgd_cmdline cmd;   /* the signal handler's, for reloads */
    struct vgd_options opts;
    bool foreground;
    const char *pidfile, *control_path;
    struct vgd_control *control = NULL;
    struct vg_hyp *h = NULL;
    struct vgd *d = NULL;
    struct vgd_totals tot;
    sigset_t sigs;
    int sfd = -1, rc = EXIT_FATAL;
    char err[512];

    vg_log_init("vgrantd", VG_LOG_INFO);
    switch (vgd_cmdline_parse(argc, argv, &cmd, err, sizeof(err))) {
    case VGD_PARSE_OK:
        break;
    case VGD_PARSE_VERSION:
        printf("vgrantd %s\n", VGRANTD_VERSION);
        return EXIT_OK;
    case VGD_PARSE_HELP:
        usage(stdout);
        return EXIT_OK;
    default:
        fprintf(stderr, "vgrantd: %s\nTry 'vgrantd --help'.\n", err);
        return EXIT_USAGE;
    }
    opts = cmd.opts;
    foreground = cmd.foreground;
    pidfile = cmd.pidfile;
    control_path = cmd.control_path;
    vg_log_set_level((enum vg_log_level)cmd.level);
    if (foreground)
        vg_log_detect_journal();

    /* Signals go through a signalfd in the event loop, never a handler. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &sigs, NULL)) {
        vg_err("sigprocmask: %s", strerror(errno));
        return EXIT_FATAL;
    }
    signal(SIGPIPE, SIG_IGN);

    /* Open Xen before detaching so that errors reach the terminal. */
    /* libxenctrl only tells dead guests sooner: a driver domain has no
     * use for it (and often no privcmd), so it is not required. */
    h = vg_hyp_xen_open(VG_HYP_NEED_GNTTAB | VG_HYP_NEED_EVTCHN |
                        VG_HYP_NEED_XS | VG_HYP_WANT_CTRL);
    if (!h) {
        vg_err("cannot open the Xen interfaces (%s): vgrantd must run as "
               "root in dom0 or a driver domain, with /dev/xen/xenbus (or "
               "xenfs) and the xen-gntdev and xen-evtchn modules loaded", strerror(errno));
        return EXIT_FATAL;
    }
    if (!foreground && daemonize())
        goto out;
    if (pidfile && write_pidfile(pidfile)) {
        pidfile = NULL;
        goto out;
    }

    sfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd < 0) {
        vg_err("signalfd: %s", strerror(errno));
        goto out;
    }
    d = vgd_new(h, &opts);
    if (!d)
        goto out;
    if (vgd_add_fd(d, sfd, on_signal_fd, &cmd) || vgd_start(d))
        goto out;
    if (control_path && !(control = vgd_control_open(d, control_path)))
        goto out;
    vg_info("vgrantd %s started (budget %u per queue per round)",
            VGRANTD_VERSION,
            opts.budget_per_queue ? opts.budget_per_queue : VGD_DEFAULT_BUDGET);

    while (!vgd_stop_requested(d)) {
        /* wake at least every second: late-frontend hints are timed */
        if (vgd_run_once(d, 1000)) {
            vg_err("event loop failed; closing every device");
            goto out;
        }
    }
    rc = EXIT_OK;

out:
    if (d) {
        vgd_get_totals(d, &tot);
        vgd_free(d);
        vg_info("stopped: %u device(s) seen, %llu requests (%llu failed), "
                "%llu bytes read, %llu bytes written, %llu rounds",
                tot.devices, (unsigned long long)tot.requests,
                (unsigned long long)tot.errors,
                (unsigned long long)tot.bytes_read,
                (unsigned long long)tot.bytes_written,
                (unsigned long long)tot.rounds);
    }
    vgd_control_close(control);
    if (sfd >= 0)
        close(sfd);
    vg_hyp_close(h);
    if (pidfile)
        unlink(pidfile);
    return rc;
}
