/* SPDX-License-Identifier: MIT */
/*
 * What the files of the vgrant command share:
 *   vgrant.c        main, help, attach, detach, list
 *   vgrant_stats.c  stats (vgrantd's control socket)
 */
#ifndef VGRANT_TOOLS_VGRANT_CLI_H
#define VGRANT_TOOLS_VGRANT_CLI_H

#include <stdbool.h>
#include <stdint.h>

#define EXIT_USAGE 2

/* "vgrant: <fmt with arg>" and a hint on stderr; returns EXIT_USAGE. */
int usage_error(const char *fmt, const char *arg);
/* --help or -h among argv[1..]. */
bool wants_help(int argc, char **argv);
/* A domain given by id or by name, as xl takes it.  0 with *out set;
 * otherwise the error is printed and the exit status returned (2 for a
 * malformed argument, 1 when the name cannot be resolved). */
int resolve_domid(const char *cmd, const char *s, uint16_t *out);

/* vgrant_stats.c */
extern const char vgrant_stats_help[];
int cmd_stats(int argc, char **argv);

#endif /* VGRANT_TOOLS_VGRANT_CLI_H */
