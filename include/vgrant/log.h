/* SPDX-License-Identifier: MIT */
/*
 * Logging shared by the daemon, the CLI tools and the frontend library.
 * Every line names where it comes from; device code uses vg_dev_log so each
 * line says "dom F dev N" and a user can grep one guest's story.
 */
#ifndef VGRANT_LOG_H
#define VGRANT_LOG_H

#include <stdarg.h>

enum vg_log_level { VG_LOG_ERR = 0, VG_LOG_WARN, VG_LOG_INFO, VG_LOG_DEBUG };

/* Defaults: level INFO, to stderr, prefix = program name. */
void vg_log_init(const char *prog, enum vg_log_level level);
void vg_log_set_level(enum vg_log_level level);
enum vg_log_level vg_log_get_level(void);
/* Parse "err|warn|info|debug"; -1 if unknown. */
int vg_log_parse_level(const char *s);
/* Send log lines to syslog instead of stderr (daemon mode). */
void vg_log_use_syslog(void);

/* Also hand every emitted line to fn (tests check what was logged);
 * NULL removes it. */
typedef void (*vg_log_sink)(enum vg_log_level level, const char *msg, void *arg);
void vg_log_set_sink(vg_log_sink fn, void *arg);

void vg_log(enum vg_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void vg_vlog(enum vg_log_level level, const char *fmt, va_list ap);

#define vg_err(...)   vg_log(VG_LOG_ERR, __VA_ARGS__)
#define vg_warn(...)  vg_log(VG_LOG_WARN, __VA_ARGS__)
#define vg_info(...)  vg_log(VG_LOG_INFO, __VA_ARGS__)
#define vg_debug(...) vg_log(VG_LOG_DEBUG, __VA_ARGS__)

/* "dom <F> dev <N>: ..." */
#define vg_dev_log(level, domid, devid, fmt, ...) \
    vg_log(level, "dom %u dev %u: " fmt, (unsigned)(domid), (unsigned)(devid), ##__VA_ARGS__)

#endif /* VGRANT_LOG_H */
