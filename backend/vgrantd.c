/* SPDX-License-Identifier: MIT */
/*
 * vgrantd: the virtio-grant backend daemon.  Parses options, opens the
 * Xen interfaces, optionally daemonizes, and runs the core (vgrantd.h)
 * until SIGTERM/SIGINT, which arrive through a signalfd in the same event
 * loop so shutdown always happens between two rounds.
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
#include "vgrantd.h"

#define VGRANTD_VERSION "0.1"
/* long-only options (transport modes) */
#define OPT_AUTO_THRESHOLD   1000
#define OPT_PERSISTENT_CACHE 1001
#define OPT_BYTE_BUDGET      1002
#define MAX_BYTE_BUDGET      (1024ull * 1024 * 1024)
#define MAX_DOMID 0x7fefu

enum { EXIT_OK = 0, EXIT_FATAL = 1, EXIT_USAGE = 2 };

static void usage(FILE *out)
{
    fprintf(out,
"NAME\n"
"    vgrantd - virtio-grant backend daemon\n"
"\n"
"SYNOPSIS\n"
"    vgrantd [-F] [-l LEVEL] [-p FILE] [-b N] [-d DOMID] [-c PATH]\n"
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
"    block device).  No buffer stays mapped after its request completes.\n"
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
"    interfaces and logs to syslog (facility daemon).\n"
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
"        4096..%llu (default %u); the request that crosses it is still\n"
"        served.  Bounds how long one guest's huge requests delay another\n"
"        guest's small one.\n"
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
"    -V, --version\n"
"        Print the version and exit.\n"
"    -h, --help\n"
"        Print this help and exit.\n"
"\n"
"SIGNALS\n"
"    SIGTERM, SIGINT\n"
"        Close every device cleanly (all grants unmapped, all event\n"
"        channels unbound, devices left Closed), log a summary, exit 0.\n"
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
            VGD_MAX_BUDGET, VGD_DEFAULT_BUDGET, MAX_BYTE_BUDGET,
            VGD_DEFAULT_BYTE_BUDGET);
}

static void on_signal_fd(struct vgd *d, int fd, void *arg)
{
    struct signalfd_siginfo si;
    (void)arg;

    while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
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
    static const struct option longopts[] = {
        { "foreground",    no_argument,       NULL, 'F' },
        { "log-level",     required_argument, NULL, 'l' },
        { "pidfile",       required_argument, NULL, 'p' },
        { "budget",        required_argument, NULL, 'b' },
        { "backend-domid", required_argument, NULL, 'd' },
        { "auto-threshold", required_argument, NULL, OPT_AUTO_THRESHOLD },
        { "persistent-cache", required_argument, NULL, OPT_PERSISTENT_CACHE },
        { "byte-budget",   required_argument, NULL, OPT_BYTE_BUDGET },
        { "control",       required_argument, NULL, 'c' },
        { "version",       no_argument,       NULL, 'V' },
        { "help",          no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct vgd_options opts = { 0 };
    bool foreground = false;
    const char *pidfile = NULL;
    const char *control_path = VGD_CONTROL_DEFAULT_PATH;
    struct vgd_control *control = NULL;
    int level = VG_LOG_INFO;
    struct vg_hyp *h = NULL;
    struct vgd *d = NULL;
    struct vgd_totals tot;
    sigset_t sigs;
    int sfd = -1, c, rc = EXIT_FATAL;
    uint64_t v;

    vg_log_init("vgrantd", VG_LOG_INFO);
    while ((c = getopt_long(argc, argv, "Fl:p:b:d:c:Vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'F':
            foreground = true;
            break;
        case 'l':
            level = vg_log_parse_level(optarg);
            if (level < 0) {
                fprintf(stderr, "vgrantd: --log-level '%s': expected err, "
                        "warn, info or debug\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'p':
            pidfile = optarg;
            break;
        case 'b':
            if (vg_parse_uint(optarg, VGD_MAX_BUDGET, &v) || v == 0) {
                fprintf(stderr, "vgrantd: --budget '%s': expected a number in "
                        "[1, %u]\n", optarg, VGD_MAX_BUDGET);
                return EXIT_USAGE;
            }
            opts.budget_per_queue = (unsigned)v;
            break;
        case 'd':
            if (vg_parse_uint(optarg, MAX_DOMID, &v) || v == 0) {
                fprintf(stderr, "vgrantd: --backend-domid '%s': expected a "
                        "domain id in [1, %u]\n", optarg, MAX_DOMID);
                return EXIT_USAGE;
            }
            opts.backend_domid_override_or_0 = (uint16_t)v;
            break;
        case 'c':
            control_path = strcmp(optarg, "none") ? optarg : NULL;
            break;
        case OPT_AUTO_THRESHOLD:
            if (vg_parse_uint(optarg, 64u * 1024 * 1024, &v) || v == 0) {
                fprintf(stderr, "vgrantd: --auto-threshold '%s': expected "
                        "bytes in [1, 67108864]\n", optarg);
                return EXIT_USAGE;
            }
            opts.auto_threshold = (unsigned)v;
            break;
        case OPT_PERSISTENT_CACHE:
            if (vg_parse_uint(optarg, 65536, &v) || v == 0) {
                fprintf(stderr, "vgrantd: --persistent-cache '%s': expected "
                        "pages in [1, 65536]\n", optarg);
                return EXIT_USAGE;
            }
            opts.persistent_cache_pages = (unsigned)v;
            break;
        case OPT_BYTE_BUDGET:
            if (vg_parse_uint(optarg, MAX_BYTE_BUDGET, &v) || v < 4096) {
                fprintf(stderr, "vgrantd: --byte-budget '%s': expected bytes "
                        "in [4096, %llu]\n", optarg, MAX_BYTE_BUDGET);
                return EXIT_USAGE;
            }
            opts.byte_budget_per_queue = v;
            break;
        case 'V':
            printf("vgrantd %s\n", VGRANTD_VERSION);
            return EXIT_OK;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        default:
            fprintf(stderr, "Try 'vgrantd --help'.\n");
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vgrantd: unexpected argument '%s'\nTry 'vgrantd "
                "--help'.\n", argv[optind]);
        return EXIT_USAGE;
    }
    vg_log_set_level((enum vg_log_level)level);

    /* Signals go through a signalfd in the event loop, never a handler. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
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
    if (vgd_add_fd(d, sfd, on_signal_fd, NULL) || vgd_start(d))
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
