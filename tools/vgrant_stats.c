/* SPDX-License-Identifier: MIT */
/*
 * vgrant stats: a client of vgrantd's control socket (backend/control.c)
 * that prints the counters of one guest's devices as a table or JSON.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vgrant/clock.h"
#include "vgrant/devtype.h"
#include "vgrant/domname.h"
#include "vgrant/log.h"
#include "vgrant/protocol.h"
#include "vgrant/stats_prom.h"
#include "vgrant/toolstack.h"
#include "vgrant/xsutil.h"
#include "vgrant_cli.h"

#define STATS_DEFAULT_CONTROL "/run/vgrantd/control.sock"
#define STATS_MAX_REPLY       (512u * 1024)
#define STATS_TIMEOUT_MS      5000
#define STATS_MAX_DEVICES     64
#define STATS_MAX_FIELDS      128   /* the reply has 62 today */

const char vgrant_stats_help[] =
"  stats [<domain> [<devid>]] [--json | --prometheus] [--control PATH]\n"
"      Ask the running vgrantd (through its control socket, default\n"
"      " STATS_DEFAULT_CONTROL ", root only) for the counters of the\n"
"      devices of guest <domain> (every guest if omitted), or of one\n"
"      device, since the device appeared.  Printed as a table with one\n"
"      column per device, as one JSON object with --json, or in the\n"
"      Prometheus text format with --prometheus (vgrant_device_info and\n"
"      one vgrant_<row> metric per row, labelled domid and devid; no\n"
"      device at all is an empty scrape, exit 0).  Rows:\n"
"        state           backend xenbus state\n"
"        queues          connected virtqueues\n"
"        requests        requests completed (any status)\n"
"        bytes read      bytes the backend read from the guest (writes)\n"
"        bytes written   bytes the backend wrote into the guest (reads)\n"
"        errors          requests failed\n"
"        maps, unmaps    grant pages mapped and unmapped\n"
"        map batches,    map and unmap hypercall batches\n"
"        unmap batches\n"
"        grant copies    grant copy operations\n"
"        notifies sent   event channel notifications to the guest\n"
"        kicks received  event channel notifications from the guest\n"
"        live mappings   pages of this guest mapped right now (0 when idle\n"
"                        in grant mode, and after the guest is destroyed)\n"
"        in flight/max   requests being served now / high-water mark\n"
"        throttled       times a rate limit (rng rate=) made the device\n"
"                        wait with requests left in the ring\n"
"      followed by the counters of the transport modes (bounce bytes,\n"
"      cache hits, evictions, ...) as far as this vgrantd has them, and\n"
"      for type=net devices only (- for others):\n"
"        net rx/tx packets, bytes   frames through the tap, each way\n"
"        net rx no buffer  dropped: the guest had posted no rx buffers\n"
"        net rx small buffer  dropped: its rx buffers were too small\n"
"        net rx bad length  dropped: tap frame < 14 or > MTU + 18 bytes\n"
"        net rx bad chain  dropped: an rx chain with readable buffers or\n"
"                        one that could not be mapped\n"
"        net tx bad length, bad header  dropped: guest frame < 14 or\n"
"                        > MTU + 18 bytes; offload asked for, or a\n"
"                        writable buffer\n"
"        net tx busy     dropped: the tap would have blocked\n"
"        net errors      other tap read/write errors\n"
"      Exit status 1 if vgrantd is not running or serves no such device.\n";

/* ---- stats: a client of vgrantd's control socket ---- */

/* Send request, read the whole reply (bounded size and time) into a
 * malloc'ed NUL-terminated string. */
static char *control_query(const char *path, const char *request)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    uint64_t t0;
    size_t len = 0;
    char *buf = NULL;
    int fd = -1;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        vg_err("stats: control socket path %s is too long", path);
        return NULL;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
        vg_err("stats: cannot connect to vgrantd's control socket %s: %s "
               "(is vgrantd running, and are you root?)", path, strerror(errno));
        goto fail;
    }
    if (send(fd, request, strlen(request), MSG_NOSIGNAL) != (ssize_t)strlen(request)) {
        vg_err("stats: sending the request to %s: %s", path, strerror(errno));
        goto fail;
    }
    buf = malloc(STATS_MAX_REPLY + 1);
    if (!buf)
        goto fail;
    t0 = vg_now_ms();
    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        long waited;
        ssize_t n;

        waited = (long)(vg_now_ms() - t0);
        if (waited >= STATS_TIMEOUT_MS || poll(&p, 1, (int)(STATS_TIMEOUT_MS - waited)) == 0) {
            vg_err("stats: vgrantd did not answer within %d ms", STATS_TIMEOUT_MS);
            goto fail;
        }
        if (len == STATS_MAX_REPLY) {
            vg_err("stats: reply longer than %u bytes", STATS_MAX_REPLY);
            goto fail;
        }
        n = read(fd, buf + len, STATS_MAX_REPLY - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            vg_err("stats: reading the reply: %s", strerror(errno));
            goto fail;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    return buf;
fail:
    if (fd >= 0)
        close(fd);
    free(buf);
    return NULL;
}

struct stats_table {
    unsigned ndev, nfield;
    const char *field[STATS_MAX_FIELDS];
    const char *value[STATS_MAX_DEVICES][STATS_MAX_FIELDS];
};

static int field_index(struct stats_table *t, const char *name)
{
    for (unsigned i = 0; i < t->nfield; i++)
        if (!strcmp(t->field[i], name))
            return (int)i;
    if (t->nfield == STATS_MAX_FIELDS)
        return -1;
    t->field[t->nfield] = name;
    return (int)t->nfield++;
}

/* "device k=v k=v ..." lines, edited in place. */
static int parse_stats_reply(char *reply, struct stats_table *t)
{
    char *save = NULL, *line = strtok_r(reply, "\n", &save);
    unsigned announced;

    if (!line || sscanf(line, "ok %u", &announced) != 1)
        return -1;
    while ((line = strtok_r(NULL, "\n", &save)) && strcmp(line, "end")) {
        char *s2 = NULL, *kv;

        if (strncmp(line, "device ", 7) || t->ndev == STATS_MAX_DEVICES)
            return -1;
        for (kv = strtok_r(line + 7, " ", &s2); kv; kv = strtok_r(NULL, " ", &s2)) {
            char *eq = strchr(kv, '=');
            int i;

            if (!eq)
                return -1;
            *eq = '\0';
            i = field_index(t, kv);
            if (i >= 0)
                t->value[t->ndev][i] = eq + 1;
        }
        t->ndev++;
    }
    return line && t->ndev == announced ? 0 : -1;
}

/* "bytes_read" -> "bytes read" */
static const char *stats_label(const char *field)
{
    static char label[32];

    snprintf(label, sizeof(label), "%s", field);
    for (char *p = label; *p; p++)
        if (*p == '_')
            *p = ' ';
    return label;
}

static void print_stats_table(const struct stats_table *t)
{
    int fi = -1, mi = -1;
    char head[32];

    printf("%-16s", "");
    for (unsigned d = 0; d < t->ndev; d++) {
        int dom = -1, dev = -1;
        for (unsigned f = 0; f < t->nfield; f++) {
            if (!strcmp(t->field[f], "domid") && t->value[d][f])
                dom = atoi(t->value[d][f]);
            if (!strcmp(t->field[f], "devid") && t->value[d][f])
                dev = atoi(t->value[d][f]);
        }
        snprintf(head, sizeof(head), "dom %d dev %d", dom, dev);
        printf(" %20s", head);
    }
    printf("\n");
    for (unsigned f = 0; f < t->nfield; f++) {
        if (!strcmp(t->field[f], "in_flight"))
            fi = (int)f;
        if (!strcmp(t->field[f], "max_in_flight"))
            mi = (int)f;
    }
    for (unsigned f = 0; f < t->nfield; f++) {
        const char *name = t->field[f];

        if (!strcmp(name, "domid") || !strcmp(name, "devid") || (int)f == mi)
            continue;
        if ((int)f == fi && mi >= 0) {
            printf("%-16s", "in flight/max");
            for (unsigned d = 0; d < t->ndev; d++) {
                snprintf(head, sizeof(head), "%s / %s",
                         t->value[d][fi] ? t->value[d][fi] : "-",
                         t->value[d][mi] ? t->value[d][mi] : "-");
                printf(" %20s", head);
            }
            printf("\n");
            continue;
        }
        printf("%-16s", stats_label(name));
        for (unsigned d = 0; d < t->ndev; d++)
            printf(" %20s", t->value[d][f] ? t->value[d][f] : "-");
        printf("\n");
    }
}

int cmd_stats(int argc, char **argv)
{
    const char *control = STATS_DEFAULT_CONTROL;
    const char *operand[2];
    unsigned noperands = 0;
    bool json = false, prom = false;
    char request[96];
    uint16_t domid = 0;
    uint64_t devid = 0;
    struct stats_table *t;
    char *reply;
    int rc = 1;

    if (wants_help(argc, argv)) {
        printf("Usage:\n%s", vgrant_stats_help);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!strcmp(argv[i], "--prometheus")) {
            prom = true;
        } else if (!strcmp(argv[i], "--control")) {
            if (i + 1 >= argc)
                return usage_error("stats: --control needs a path%s", "");
            control = argv[++i];
        } else if (!strncmp(argv[i], "--control=", 10)) {
            control = argv[i] + 10;
        } else if (argv[i][0] == '-') {
            return usage_error("stats: unknown option '%s'", argv[i]);
        } else if (noperands < 2) {
            operand[noperands++] = argv[i];
        } else {
            return usage_error("stats: unexpected argument '%s'", argv[i]);
        }
    }
    if (json && prom)
        return usage_error("stats: --json and --prometheus exclude each other%s", "");
    if (noperands >= 1 && (rc = resolve_domid("stats", operand[0], &domid)))
        return rc;
    if (noperands == 2 && vg_parse_uint(operand[1], VG_MAX_DEVID, &devid))
        return usage_error("stats: devid '%s' is not a number in [0, 65535]",
                           operand[1]);
    if (noperands == 0)
        snprintf(request, sizeof(request), "stats%s\n", json ? " json" : "");
    else if (noperands == 1)
        snprintf(request, sizeof(request), "stats %u%s\n", domid, json ? " json" : "");
    else
        snprintf(request, sizeof(request), "stats %u %u%s\n", domid,
                 (unsigned)devid, json ? " json" : "");

    reply = control_query(control, request);
    if (!reply)
        return 1;
    if (!strncmp(reply, "error ", 6)) {
        vg_err("stats: vgrantd answered: %s", reply + 6);
        goto out;
    }
    if (json) {
        if (reply[0] != '{') {
            vg_err("stats: unexpected reply from vgrantd");
            goto out;
        }
        fputs(reply, stdout);
        rc = strstr(reply, "\"devices\":[]") ? 1 : 0;
        if (rc)
            vg_err("stats: vgrantd serves no such device");
        goto out;
    }
    if (prom) {
        /* no device at all is a valid (empty) scrape; a device or domain
         * asked for by name must exist */
        int n = vg_stats_prometheus(reply, stdout);

        if (n < 0)
            vg_err("stats: malformed reply from vgrantd");
        else if (n == 0 && noperands > 0)
            vg_err("stats: vgrantd serves no such device");
        else
            rc = 0;
        goto out;
    }
    t = calloc(1, sizeof(*t));
    if (!t)
        goto out;
    if (parse_stats_reply(reply, t)) {
        vg_err("stats: malformed reply from vgrantd");
    } else if (t->ndev == 0) {
        if (noperands == 2)
            vg_err("stats: vgrantd serves no device %u of domain %u",
                   (unsigned)devid, domid);
        else if (noperands == 1)
            vg_err("stats: vgrantd serves no device of domain %u", domid);
        else
            vg_err("stats: vgrantd serves no device");
    } else {
        print_stats_table(t);
        rc = 0;
    }
    free(t);
out:
    free(reply);
    return rc;
}

