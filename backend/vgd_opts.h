/* SPDX-License-Identifier: MIT */
/*
 * vgrantd's command line, and its reload (SIGHUP, `systemctl reload
 * vgrantd`): the options are re-read from the VGRANTD_OPTS line of the
 * file named by --options-file (/etc/default/vgrantd in the packages) and
 * those that can change while devices run are applied to the running
 * daemon; no device is closed.
 */
#ifndef VGRANT_BACKEND_VGD_OPTS_H
#define VGRANT_BACKEND_VGD_OPTS_H

#include <stdbool.h>
#include <stddef.h>

#include "vgrantd.h"

#define VGD_MAX_BYTE_BUDGET (1024ull * 1024 * 1024)
/* longest options file line and most words read from it */
#define VGD_OPTS_FILE_MAX_LINE 4096u
#define VGD_OPTS_FILE_MAX_WORDS 64u

struct vgd_cmdline {
    struct vgd_options opts;   /* 0 fields: the daemon's defaults */
    bool foreground;
    const char *pidfile;       /* NULL: none */
    const char *control_path;  /* NULL: no control socket */
    const char *options_file;  /* NULL: a reload has nothing to re-read */
    int level;                 /* enum vg_log_level */
};

enum vgd_parse_result {
    VGD_PARSE_OK = 0,
    VGD_PARSE_HELP,            /* -h: print the help, exit 0 */
    VGD_PARSE_VERSION,         /* -V: print the version, exit 0 */
    VGD_PARSE_ERROR,           /* err says what; exit 2 */
};

/* Defaults, then argv[1..argc-1].  The strings of c point into argv. */
enum vgd_parse_result vgd_cmdline_parse(int argc, char **argv,
                                        struct vgd_cmdline *c,
                                        char *err, size_t errlen);

/* Read the last "VGRANTD_OPTS=..." line of path (the /etc/default format:
 * the value is words separated by blanks, optionally in one pair of ' or "
 * quotes; '$', '`', '\\' and inner quotes are refused, there is no shell
 * expansion; '#' lines are comments; no such line = no options) and parse
 * it as a command line.  *words gets the storage the strings of c point
 * into (free it with free()).  0, or -1 with err saying what and where. */
int vgd_options_file_parse(const char *path, struct vgd_cmdline *c,
                           char **words, char *err, size_t errlen);

/* Apply next to the running daemon d: --log-level, --budget, --byte-budget
 * and --auto-threshold take effect at once; a change of any other option
 * is logged as needing a restart.  Logs one line per change (or that
 * nothing changed).  running is updated to what is now in force.
 * Returns the number of options applied. */
unsigned vgd_reload_apply(struct vgd *d, struct vgd_cmdline *running,
                          const struct vgd_cmdline *next);

#endif /* VGRANT_BACKEND_VGD_OPTS_H */
