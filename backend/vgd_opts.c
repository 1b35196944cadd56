/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vgrant/log.h"
#include "vgrant/xsutil.h"
#include "control.h"
#include "vgd_opts.h"

/* long-only options */
enum {
    OPT_AUTO_THRESHOLD = 1000,
    OPT_PERSISTENT_CACHE,
    OPT_BYTE_BUDGET,
    OPT_OPTIONS_FILE,
    OPT_IO,
    OPT_DIRECT,
    OPT_COALESCE,
};

static const char *const level_names[] = { "err", "warn", "info", "debug" };

static enum vgd_parse_result __attribute__((format(printf, 3, 4)))
bad(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return VGD_PARSE_ERROR;
}

enum vgd_parse_result vgd_cmdline_parse(int argc, char **argv,
                                        struct vgd_cmdline *c,
                                        char *err, size_t errlen)
{
    static const struct option longopts[] = {
        { "foreground",       no_argument,       NULL, 'F' },
        { "log-level",        required_argument, NULL, 'l' },
        { "pidfile",          required_argument, NULL, 'p' },
        { "budget",           required_argument, NULL, 'b' },
        { "backend-domid",    required_argument, NULL, 'd' },
        { "auto-threshold",   required_argument, NULL, OPT_AUTO_THRESHOLD },
        { "persistent-cache", required_argument, NULL, OPT_PERSISTENT_CACHE },
        { "byte-budget",      required_argument, NULL, OPT_BYTE_BUDGET },
        { "control",          required_argument, NULL, 'c' },
        { "options-file",     required_argument, NULL, OPT_OPTIONS_FILE },
        { "io",               required_argument, NULL, OPT_IO },
        { "direct",           no_argument,       NULL, OPT_DIRECT },
        { "coalesce-ms",      required_argument, NULL, OPT_COALESCE },
        { "version",          no_argument,       NULL, 'V' },
        { "help",             no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    uint64_t v;
    int ch;

    memset(c, 0, sizeof(*c));
    c->control_path = VGD_CONTROL_DEFAULT_PATH;
    c->level = VG_LOG_INFO;
    c->opts.coalesce_ms = VGD_DEFAULT_COALESCE_MS;
    c->opts.input_stall_ms = VGD_DEFAULT_INPUT_STALL_MS;
    optind = 0;                /* glibc: start over (a reload parses again) */
    opterr = 0;                /* the messages are ours */
    while ((ch = getopt_long(argc, argv, "+Fl:p:b:d:c:Vh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'F':
            c->foreground = true;
            break;
        case 'l':
            c->level = vg_log_parse_level(optarg);
            if (c->level < 0)
                return bad(err, errlen, "--log-level '%s': expected err, "
                           "warn, info or debug", VG_ESC(optarg));
            break;
        case 'p':
            c->pidfile = optarg;
            break;
        case 'b':
            if (vg_parse_uint(optarg, VGD_MAX_BUDGET, &v) || v == 0)
                return bad(err, errlen, "--budget '%s': expected a number "
                           "in [1, %u]", VG_ESC(optarg), VGD_MAX_BUDGET);
            c->opts.budget_per_queue = (unsigned)v;
            break;
        case 'd':
            if (vg_parse_uint(optarg, VG_MAX_DOMID, &v) || v == 0)
                return bad(err, errlen, "--backend-domid '%s': expected a "
                           "domain id in [1, %u]", VG_ESC(optarg), VG_MAX_DOMID);
            c->opts.backend_domid_override_or_0 = (uint16_t)v;
            break;
        case 'c':
            c->control_path = strcmp(optarg, "none") ? optarg : NULL;
            break;
        case OPT_AUTO_THRESHOLD:
            if (vg_parse_uint(optarg, 64u * 1024 * 1024, &v) || v == 0)
                return bad(err, errlen, "--auto-threshold '%s': expected "
                           "bytes in [1, 67108864]", VG_ESC(optarg));
            c->opts.auto_threshold = (unsigned)v;
            break;
        case OPT_PERSISTENT_CACHE:
            if (vg_parse_uint(optarg, 65536, &v) || v == 0)
                return bad(err, errlen, "--persistent-cache '%s': expected "
                           "pages in [1, 65536]", VG_ESC(optarg));
            c->opts.persistent_cache_pages = (unsigned)v;
            break;
        case OPT_BYTE_BUDGET:
            if (vg_parse_uint(optarg, VGD_MAX_BYTE_BUDGET, &v) || v < 4096)
                return bad(err, errlen, "--byte-budget '%s': expected bytes "
                           "in [4096, %llu]", VG_ESC(optarg),
                           (unsigned long long)VGD_MAX_BYTE_BUDGET);
            c->opts.byte_budget_per_queue = v;
            break;
        case OPT_OPTIONS_FILE:
            c->options_file = optarg;
            break;
        case OPT_COALESCE:
            if (vg_parse_uint(optarg, VGD_MAX_COALESCE_MS, &v))
                return bad(err, errlen, "--coalesce-ms '%s': expected "
                           "milliseconds in [0, %u]", VG_ESC(optarg),
                           VGD_MAX_COALESCE_MS);
            c->opts.coalesce_ms = (unsigned)v;
            break;
        case OPT_DIRECT:
            c->opts.direct = true;
            break;
        case OPT_IO:
            if (!strcmp(optarg, "uring"))
                c->opts.io_mode = VGD_IO_URING;
            else if (!strcmp(optarg, "sync"))
                c->opts.io_mode = VGD_IO_SYNC;
            else
                return bad(err, errlen, "--io '%s': expected uring or sync",
                           VG_ESC(optarg));
            break;
        case 'V':
            return VGD_PARSE_VERSION;
        case 'h':
            return VGD_PARSE_HELP;
        default:
            return bad(err, errlen, "unknown option or missing value: '%s'",
                       VG_ESC(argv[optind - 1 < argc ? optind - 1 : argc - 1]));
        }
    }
    if (optind < argc)
        return bad(err, errlen, "unexpected argument '%s'", VG_ESC(argv[optind]));
    return VGD_PARSE_OK;
}

/* The value of a VGRANTD_OPTS= line, unquoted, in place; NULL if bad. */
static char *opts_value(char *v, const char **why)
{
    size_t n = strlen(v);

    if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
        v[n - 1] = '\0';
        v++;
    }
    for (char *p = v; *p; p++) {
        if (*p == '$' || *p == '`' || *p == '\\' || *p == '"' || *p == '\'') {
            *why = "quotes around the whole value only, and no $, ` or \\ "
                   "(there is no shell expansion)";
            return NULL;
        }
        if ((unsigned char)*p < 0x20 && *p != '\t') {
            *why = "a control character";
            return NULL;
        }
    }
    return v;
}

int vgd_options_file_parse(const char *path, struct vgd_cmdline *c,
                           char **words, char *err, size_t errlen)
{
    char line[VGD_OPTS_FILE_MAX_LINE + 2];
    char *value = NULL, *argv[VGD_OPTS_FILE_MAX_WORDS + 2], *save = NULL;
    const char *why = NULL;
    unsigned lineno = 0, found_at = 0;
    int argc = 0;
    FILE *f;

    *words = NULL;
    f = fopen(path, "re");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        size_t n = strlen(line);
        char *p = line;

        lineno++;
        if (n && line[n - 1] == '\n')
            line[--n] = '\0';
        else if (!feof(f)) {
            snprintf(err, errlen, "%s:%u: line longer than %u bytes", path,
                     lineno, VGD_OPTS_FILE_MAX_LINE);
            goto fail;
        }
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncmp(p, "VGRANTD_OPTS=", 13))
            continue;            /* comments, other variables */
        free(value);
        value = strdup(p + 13);
        if (!value) {
            snprintf(err, errlen, "%s: out of memory", path);
            goto fail;
        }
        found_at = lineno;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error", path);
        goto fail;
    }
    fclose(f);
    f = NULL;
    argv[argc++] = "vgrantd";
    if (value) {
        char *v = opts_value(value, &why);

        if (!v) {
            snprintf(err, errlen, "%s:%u: VGRANTD_OPTS: %s", path, found_at, why);
            goto fail;
        }
        for (char *w = strtok_r(v, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
            if (argc == VGD_OPTS_FILE_MAX_WORDS + 1) {
                snprintf(err, errlen, "%s:%u: VGRANTD_OPTS: more than %u words",
                         path, found_at, VGD_OPTS_FILE_MAX_WORDS);
                goto fail;
            }
            argv[argc++] = w;
        }
    }
    argv[argc] = NULL;
    {
        char perr[256];

        if (vgd_cmdline_parse(argc, argv, c, perr, sizeof(perr)) != VGD_PARSE_OK) {
            snprintf(err, errlen, "%s:%u: VGRANTD_OPTS: %s", path, found_at,
                     perr[0] ? perr : "--help and --version do not belong here");
            goto fail;
        }
    }
    *words = value;
    return 0;
fail:
    if (f)
        fclose(f);
    free(value);
    return -1;
}

static bool str_differs(const char *a, const char *b)
{
    return (a == NULL) != (b == NULL) || (a && strcmp(a, b));
}

unsigned vgd_reload_apply(struct vgd *d, struct vgd_cmdline *running,
                          const struct vgd_cmdline *next)
{
    unsigned budget, auto_threshold, applied = 0, restart = 0;
    uint64_t byte_budget;
    unsigned nb, na;
    uint64_t nbb;

    /* the new log level is set last: the lines of this reload are logged
     * at the level in force when it started */
    if (next->level != running->level) {
        vg_info("reload: log level %s -> %s", level_names[running->level],
                level_names[next->level]);
        applied++;
    }
    vgd_get_tunables(d, &budget, &byte_budget, &auto_threshold);
    vgd_set_tunables(d, next->opts.budget_per_queue,
                     next->opts.byte_budget_per_queue,
                     next->opts.auto_threshold);
    vgd_get_tunables(d, &nb, &nbb, &na);
    if (nb != budget) {
        vg_info("reload: budget %u -> %u requests per queue per round", budget, nb);
        applied++;
    }
    if (nbb != byte_budget) {
        vg_info("reload: byte budget %" PRIu64 " -> %" PRIu64 " bytes per queue per round",
                byte_budget, nbb);
        applied++;
    }
    if (na != auto_threshold) {
        vg_info("reload: auto threshold %u -> %u bytes", auto_threshold, na);
        applied++;
    }
    running->opts.budget_per_queue = next->opts.budget_per_queue;
    running->opts.byte_budget_per_queue = next->opts.byte_budget_per_queue;
    running->opts.auto_threshold = next->opts.auto_threshold;

    /* the rest is fixed for the daemon's life */
    if (next->opts.persistent_cache_pages != running->opts.persistent_cache_pages) {
        vg_warn("reload: --persistent-cache changed: takes effect at the next "
                "start (systemctl restart vgrantd closes every device)");
        restart++;
    }
    if (next->opts.backend_domid_override_or_0 != running->opts.backend_domid_override_or_0) {
        vg_warn("reload: --backend-domid changed: takes effect at the next "
                "start (systemctl restart vgrantd closes every device)");
        restart++;
    }
    if (str_differs(next->control_path, running->control_path)) {
        vg_warn("reload: --control changed: takes effect at the next start "
                "(systemctl restart vgrantd closes every device)");
        restart++;
    }
    if (next->opts.io_mode != running->opts.io_mode) {
        vg_warn("reload: --io changed: takes effect at the next start "
                "(systemctl restart vgrantd closes every device)");
        restart++;
    }
    if (next->opts.coalesce_ms != running->opts.coalesce_ms) {
        vg_warn("reload: --coalesce-ms changed: takes effect at the next "
                "start (systemctl restart vgrantd closes every device)");
        restart++;
    }
    if (next->opts.direct != running->opts.direct) {
        vg_warn("reload: --direct changed: takes effect for devices "
                "attached after the next start (systemctl restart vgrantd "
                "closes every device)");
        restart++;
    }
    if (str_differs(next->pidfile, running->pidfile)) {
        vg_warn("reload: --pidfile changed: takes effect at the next start");
        restart++;
    }
    if (!applied && !restart)
        vg_info("reload: no option changed");
    else
        vg_info("reload: %u option(s) applied, %u need a restart; no device closed",
                applied, restart);
    vg_log_set_level((enum vg_log_level)next->level);
    running->level = next->level;
    return applied;
}
