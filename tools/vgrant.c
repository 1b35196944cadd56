/* SPDX-License-Identifier: MIT */
/*
 * vgrant: attach, detach and list virtio-grant devices from dom0, for Xen
 * without the xl patch.  All the xenstore work is in common/toolstack*.c;
 * this file is argument parsing, help text and the list table; stats is
 * vgrant_stats.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vgrant/clock.h"
#include "vgrant/devtype.h"
#include "vgrant/domname.h"
#include "vgrant/log.h"
#include "vgrant/protocol.h"
#include "vgrant/toolstack.h"
#include "vgrant/xsutil.h"
#include "vgrant_cli.h"

#define DEFAULT_DETACH_TIMEOUT_S 10.0
#define MAX_DETACH_TIMEOUT_S 3600.0

static const char attach_help[] =
"  attach <domain> <spec>\n"
"      Create a virtio-grant device for guest <domain> and print its devid\n"
"      on standard output.  <spec> is a comma-separated list of key=value\n"
"      entries, as in an xl.cfg device line; spaces after a comma are\n"
"      ignored, and a spec split over several arguments is joined with\n"
"      commas.  Keys of every device type:\n"
"        type=TYPE         device model (required), see below\n"
"        backend=DOMID     domain running vgrantd (default 0)\n"
"        queues=N          virtqueues offered, 1..8 (default 1; rng: 1)\n"
"        queue-size=N      entries per queue, a power of two in\n"
"                          2..1024 (default 256)\n"
"        mode=MODE         transport: grant (default), persistent, copy,\n"
"                          auto or static (see docs/modes.md)\n"
"        region=SIZE       static mode only: size of the pre-shared\n"
"                          region, a multiple of 4K up to 256M, with\n"
"                          optional K, M or G suffix (default 4M)\n"
"        devid=N           device id, 0..65535 (default: first free)\n"
"%s"
"      Both domains must exist.  The backend and frontend directories are\n"
"      written in one xenstore transaction, owned by the backend and the\n"
"      guest respectively and readable only by the other side.\n";

/* Append text to buf at *n, wrapped at 76 columns; continuation lines
 * (and the first, if first_col is past the indent) start at column indent. */
static void wrap(char *buf, size_t size, size_t *n, const char *text,
                 unsigned first_col, unsigned indent)
{
    unsigned col = first_col;

    while (*text && *n + 1 < size) {
        size_t w = strcspn(text, " ");

        if (col > indent && col + 1 + w > 76) {
            *n += (size_t)snprintf(buf + *n, size - *n, "\n%*s", indent, "");
            col = indent;
        } else if (col > indent) {
            *n += (size_t)snprintf(buf + *n, size - *n, " ");
            col++;
        } else {
            while (col < indent && *n + 1 < size) {
                buf[(*n)++] = ' ';
                col++;
            }
            buf[*n] = '\0';
        }
        if (*n + w + 1 >= size)
            break;
        memcpy(buf + *n, text, w);
        *n += w;
        buf[*n] = '\0';
        col += (unsigned)w;
        text += w;
        while (*text == ' ')
            text++;
    }
    if (*n + 1 < size) {
        buf[(*n)++] = '\n';
        buf[*n] = '\0';
    }
}

/* The device types and their own keys, from the table vgrantd uses too
 * (common/devtype.c). */
static const char *types_help(void)
{
    static char buf[4096];
    size_t n = 0;

    if (buf[0])
        return buf;
    n += (size_t)snprintf(buf, sizeof(buf), "      Device types and their "
                          "own keys:\n");
    for (unsigned i = 0; i < vg_ndevtypes && n < sizeof(buf); i++) {
        const struct vg_devtype *t = vg_devtypes[i];
        char text[512];

        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "        type=%-13s",
                              t->name);
        wrap(buf, sizeof(buf), &n, t->help, 26, 26);
        for (unsigned k = 0; k < t->nkeys && n < sizeof(buf); k++) {
            const struct vg_tkey *key = &t->keys[k];
            char lhs[32];

            snprintf(lhs, sizeof(lhs), "%s=%s", key->name,
                     key->kind == VG_TKEY_PATH ? "PATH" :
                     key->kind == VG_TKEY_BOOL ? "0|1" :
                     key->kind == VG_TKEY_MAC ? "MAC" :
                     key->kind == VG_TKEY_IFNAME ? "NAME" : "N");
            if (key->kind == VG_TKEY_UINT || key->kind == VG_TKEY_SIZE)
                snprintf(text, sizeof(text), "%s%s, %llu..%llu",
                         key->required ? "(required) " : "", key->help,
                         (unsigned long long)key->min,
                         (unsigned long long)key->max);
            else
                snprintf(text, sizeof(text), "%s%s%s%s",
                         key->required ? "(required) " : "", key->help,
                         key->dflt ? "; default " : "",
                         key->dflt ? key->dflt : "");
            n += (size_t)snprintf(buf + n, sizeof(buf) - n, "          %-15s ",
                                  lhs);
            if (n < sizeof(buf))
                wrap(buf, sizeof(buf), &n, text, 26, 26);
        }
    }
    return buf;
}

static const char *attach_text(void)
{
    static char buf[8192];

    if (!buf[0])
        snprintf(buf, sizeof(buf), attach_help, types_help());
    return buf;
}

static const char detach_help[] =
"  detach <domain> <devid> [--timeout S]\n"
"      Remove device <devid> of guest <domain>: tell the backend to go\n"
"      offline, wait up to S seconds (default 10, fractions allowed) for\n"
"      it to close, then remove the device's xenstore directories.  If the\n"
"      backend does not close in time the directories are removed anyway\n"
"      and a warning says so.\n";

static const char list_help[] =
"  list [<domain>]\n"
"      Show the virtio-grant devices of guest <domain>, or of every guest,\n"
"      one line each:\n"
"        Dom       frontend (guest) domain id\n"
"        DevId     device id\n"
"        BE        backend domain id\n"
"        Type      device model\n"
"        Mode      transport mode\n"
"        RO        1 if read-only\n"
"        BE-state  backend xenbus state\n"
"        FE-state  frontend xenbus state\n"
"        Target    what the backend serves\n";

static void usage_full(FILE *out)
{
    fprintf(out,
"NAME\n"
"  vgrant - manage virtio-grant devices of Xen guests\n"
"\n"
"SYNOPSIS\n"
"  vgrant [-v] attach <domain> <spec>\n"
"  vgrant [-v] detach <domain> <devid> [--timeout S]\n"
"  vgrant [-v] list [<domain>]\n"
"  vgrant [-v] stats [<domain> [<devid>]] [--json | --prometheus]\n"
"                    [--control PATH]\n"
"  vgrant --help | vgrant <command> --help\n"
"\n"
"  <domain> is a domain id or a domain name, as for xl.\n"
"\n"
"DESCRIPTION\n"
"  virtio-grant gives a Xen guest virtio devices whose backend (vgrantd,\n"
"  in dom0 or a driver domain) reaches only the memory the guest grants\n"
"  it.  vgrant does in xenstore what `xl` does for PV devices, for a Xen\n"
"  whose xl has no virtio_grant support: it creates and removes the\n"
"  backend directory /local/domain/<B>/backend/virtio-grant/<F>/<devid>\n"
"  and the frontend directory /local/domain/<F>/device/virtio-grant/<devid>\n"
"  (see docs/protocol.md).  vgrantd and the guest's frontend do the rest.\n"
"\n"
"  Run it in dom0.  Domains are given by numeric id only (see `xl list`),\n"
"  not by name.\n"
"\n"
"OPTIONS\n"
"  -v, --verbose   log debug detail to standard error\n"
"  -h, --help      show this help, or a command's help after the command\n"
"\n"
"COMMANDS\n"
"%s\n%s\n%s\n%s"
"\n"
"EXAMPLES\n"
"  Give guest 3 a disk served by vgrantd in dom0:\n"
"    vgrant attach 3 type=blk,target=/srv/disk.img\n"
"  Read-only, two queues, served by driver domain 5:\n"
"    vgrant attach 3 'type=blk, target=/dev/vg0/data, backend=5, readonly=1, queues=2'\n"
"  The static-region baseline with a 16 MiB region:\n"
"    vgrant attach 3 type=blk,target=/srv/disk.img,mode=static,region=16M\n"
"  An entropy source for guest 3, at most 64 KiB/s:\n"
"    vgrant attach 3 type=rng,rate=64K\n"
"  List, then remove device 0 of guest 3, waiting at most 5 s:\n"
"    vgrant list 3\n"
"    vgrant detach 3 0 --timeout 5\n"
"  Counters of device 0 of guest 3, as a table and as JSON:\n"
"    vgrant stats 3 0\n"
"    vgrant stats 3 0 --json\n"
"\n"
"EXIT STATUS\n"
"  0  success (detach also when it had to remove a device whose backend\n"
"     did not close; a warning is printed)\n"
"  1  the operation failed; the message names the domain, device, key or\n"
"     value at fault\n"
"  2  usage error\n"
"\n"
"SEE ALSO\n"
"  vgrantd(8), xl(1), xl.cfg(5), docs/protocol.md\n",
            attach_text(), detach_help, list_help, vgrant_stats_help);
}

int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "vgrant: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'vgrant --help'.\n");
    return EXIT_USAGE;
}

bool wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return true;
    return false;
}

static struct vg_hyp *open_xen(void);

/* "cmd: err" as a format without conversions, for usage_error. */
static const char *cmd_err(const char *cmd, const char *err)
{
    static char buf[320];
    size_t j = 0;

    for (const char *p = cmd; *p && j + 2 < sizeof(buf); p++)
        buf[j++] = *p;
    buf[j++] = ':';
    buf[j++] = ' ';
    for (const char *p = err; *p && j + 2 < sizeof(buf); p++) {
        if (*p == '%')
            buf[j++] = '%';     /* a '%' of the user's input, escaped */
        buf[j++] = *p;
    }
    buf[j] = '\0';
    return buf;
}

/* A domain given by id or by name, as xl takes it.  0 with *out set;
 * otherwise the error is printed and the exit status returned (2 for a
 * malformed argument, 1 when the name cannot be resolved). */
int resolve_domid(const char *cmd, const char *s, uint16_t *out)
{
    char err[256];
    struct vg_hyp *h;
    int rc;

    if (s[0] >= '0' && s[0] <= '9') {
        if (vg_domain_resolve(NULL, s, out, err, sizeof(err)) == 0)
            return 0;
        return usage_error(cmd_err(cmd, err), "");
    }
    h = vg_hyp_xen_open(VG_HYP_NEED_XS);
    if (!h) {
        vg_err("%s: cannot open xenstore to look up domain '%s': %s", cmd,
               s, strerror(errno));
        return 1;
    }
    rc = vg_domain_resolve(h, s, out, err, sizeof(err));
    vg_hyp_close(h);
    if (rc) {
        if (errno == EINVAL)
            return usage_error(cmd_err(cmd, err), "");
        vg_err("%s: %s", cmd, err);
        return 1;
    }
    return 0;
}

static struct vg_hyp *open_xen(void)
{
    struct vg_hyp *h = vg_hyp_xen_open(VG_HYP_NEED_XS | VG_HYP_NEED_CTRL);

    if (!h)
        vg_err("vgrant needs xenstore and the Xen control interface (%s): "
               "run it as root in dom0", strerror(errno));
    return h;
}

/* "a=1," "b=2" -> "a=1,b=2": a spec the shell split at ", " */
static char *join_spec(int argc, char **argv)
{
    size_t len = 1;
    char *spec;

    for (int i = 0; i < argc; i++)
        len += strlen(argv[i]) + 1;
    spec = calloc(1, len);
    if (!spec)
        return NULL;
    for (int i = 0; i < argc; i++) {
        size_t n = strlen(spec);
        if (i > 0 && n > 0 && spec[n - 1] != ',')
            strcat(spec, ",");
        strcat(spec, argv[i]);
    }
    return spec;
}

static int cmd_attach(int argc, char **argv)
{
    struct vg_attach_spec spec;
    char err[1280];
    struct vg_hyp *h;
    uint16_t domid;
    unsigned devid;
    char *text;
    int rc;

    if (wants_help(argc, argv)) {
        printf("Usage:\n%s", attach_text());
        return 0;
    }
    if (argc < 3)
        return usage_error("attach needs <domain> and <spec>%s", "");
    if ((rc = resolve_domid("attach", argv[1], &domid)))
        return rc;
    text = join_spec(argc - 2, argv + 2);
    if (!text) {
        vg_err("out of memory");
        return 1;
    }
    rc = vg_attach_spec_parse(text, &spec, err, sizeof(err));
    free(text);
    if (rc) {
        vg_err("attach to domain %u: %s", domid, err);
        return 1;
    }

    h = open_xen();
    if (!h)
        return 1;
    rc = vg_toolstack_attach(h, domid, &spec, &devid, err, sizeof(err));
    vg_hyp_close(h);
    if (rc) {
        vg_err("attach to domain %u: %s", domid, err);
        return 1;
    }
    vg_debug("domain %u: virtio-grant %s device %u, backend domain %u, "
             "mode %s", domid, spec.type, devid, spec.backend_domid,
             spec.mode);
    for (unsigned i = 0; i < spec.ntkeys; i++)
        vg_debug("  %s=%s", spec.tkeys[i].name, VG_ESC(spec.tkeys[i].value));
    printf("%u\n", devid);
    return 0;
}

static int parse_timeout(const char *s, int *timeout_ms)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0) || v > MAX_DETACH_TIMEOUT_S)
        return -1;
    *timeout_ms = (int)(v * 1000.0 + 0.5);
    return 0;
}

static int cmd_detach(int argc, char **argv)
{
    int timeout_ms = (int)(DEFAULT_DETACH_TIMEOUT_S * 1000);
    const char *operand[2];
    unsigned noperands = 0;
    char err[1280];
    struct vg_hyp *h;
    uint16_t domid;
    uint64_t devid;
    int rc;

    if (wants_help(argc, argv)) {
        printf("Usage:\n%s", detach_help);
        return 0;
    }
    /* --timeout may come before, between or after the operands */
    for (int i = 1; i < argc; i++) {
        const char *t = NULL;

        if (!strcmp(argv[i], "--timeout") || !strcmp(argv[i], "-t")) {
            if (i + 1 >= argc)
                return usage_error("detach: %s needs a number of seconds",
                                   argv[i]);
            t = argv[++i];
        } else if (!strncmp(argv[i], "--timeout=", 10)) {
            t = argv[i] + 10;
        } else if (argv[i][0] == '-') {
            return usage_error("detach: unknown option '%s'", argv[i]);
        } else if (noperands < 2) {
            operand[noperands++] = argv[i];
            continue;
        } else {
            return usage_error("detach: unexpected argument '%s'", argv[i]);
        }
        if (parse_timeout(t, &timeout_ms))
            return usage_error("detach: --timeout '%s' is not a number of "
                               "seconds in [0, 3600]", t);
    }
    if (noperands < 2)
        return usage_error("detach needs <domain> and <devid>%s", "");
    if ((rc = resolve_domid("detach", operand[0], &domid)))
        return rc;
    if (vg_parse_uint(operand[1], VG_MAX_DEVID, &devid))
        return usage_error("detach: devid '%s' is not a number in "
                           "[0, 65535]", operand[1]);

    h = open_xen();
    if (!h)
        return 1;
    rc = vg_toolstack_detach(h, domid, (unsigned)devid, timeout_ms, err,
                             sizeof(err));
    vg_hyp_close(h);
    if (rc < 0) {
        vg_err("detach domain %u device %u: %s", domid, (unsigned)devid, err);
        return 1;
    }
    if (rc > 0)
        vg_warn("%s", err);
    return 0;
}

static int print_device(const struct vg_device_info *d, void *arg)
{
    (void)arg;
    printf("%-5u %-5u %-5u %-5s %-10s %-2u %-13s %-13s %s\n",
           d->frontend_domid, d->devid, d->backend_domid,
           d->type[0] ? d->type : "-", d->mode[0] ? d->mode : "-",
           d->readonly ? 1u : 0u,
           vg_xenbus_state_name(d->be_state),
           vg_xenbus_state_name(d->fe_state),
           d->target[0] ? d->target : "-");
    return 0;
}

static int cmd_list(int argc, char **argv)
{
    char err[1280];
    struct vg_hyp *h;
    int want = -1, rc;

    if (wants_help(argc, argv)) {
        printf("Usage:\n%s", list_help);
        return 0;
    }
    if (argc > 2)
        return usage_error("list: unexpected argument '%s'", argv[2]);
    if (argc == 2) {
        uint16_t domid;
        if ((rc = resolve_domid("list", argv[1], &domid)))
            return rc;
        want = domid;
    }

    h = open_xen();
    if (!h)
        return 1;
    printf("%-5s %-5s %-5s %-5s %-10s %-2s %-13s %-13s %s\n", "Dom", "DevId",
           "BE", "Type", "Mode", "RO", "BE-state", "FE-state", "Target");
    rc = vg_toolstack_list(h, want, print_device, NULL, err, sizeof(err));
    vg_hyp_close(h);
    if (rc < 0) {
        vg_err("list: %s", err);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int argc, char **argv);
    } cmds[] = {
        { "attach", cmd_attach },
        { "detach", cmd_detach },
        { "list", cmd_list },
        { "stats", cmd_stats },
    };
    int i = 1;

    vg_log_init("vgrant", VG_LOG_INFO);
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage_full(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose"))
            vg_log_set_level(VG_LOG_DEBUG);
        else
            return usage_error("unknown option '%s'", argv[i]);
    }
    if (i >= argc)
        return usage_error("no command given%s", "");
    if (!strcmp(argv[i], "help")) {
        usage_full(stdout);
        return 0;
    }
    for (size_t c = 0; c < sizeof(cmds) / sizeof(cmds[0]); c++)
        if (!strcmp(argv[i], cmds[c].name))
            return cmds[c].run(argc - i, argv + i);
    return usage_error("unknown command '%s' (attach, detach, list or stats)",
                       argv[i]);
}

