/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>

#include "vgrant/log.h"

static const char *log_prog = "vgrant";
static enum vg_log_level log_level = VG_LOG_INFO;
static int log_syslog;
static vg_log_sink log_sink;
static void *log_sink_arg;

void vg_log_set_sink(vg_log_sink fn, void *arg)
{
    log_sink = fn;
    log_sink_arg = arg;
}

static const char *const level_names[] = { "error", "warning", "info", "debug" };

void vg_log_init(const char *prog, enum vg_log_level level)
{
    log_prog = prog;
    log_level = level;
}

void vg_log_set_level(enum vg_log_level level) { log_level = level; }
enum vg_log_level vg_log_get_level(void) { return log_level; }

int vg_log_parse_level(const char *s)
{
    static const char *const alias[] = { "err", "warn", "info", "debug" };
    for (int i = 0; i <= VG_LOG_DEBUG; i++)
        if (!strcasecmp(s, alias[i]) || !strcasecmp(s, level_names[i]))
            return i;
    return -1;
}

void vg_log_use_syslog(void)
{
    openlog(log_prog, LOG_PID, LOG_DAEMON);
    log_syslog = 1;
}

void vg_vlog(enum vg_log_level level, const char *fmt, va_list ap)
{
    static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
    char msg[1024];

    if (level > log_level)
        return;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (log_sink)
        log_sink(level, msg, log_sink_arg);
    if (log_syslog) {
        syslog(prio[level], "%s", msg);
        return;
    }
    fprintf(stderr, "%s: %s: %s\n", log_prog, level_names[level], msg);
}

void vg_log(enum vg_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vg_vlog(level, fmt, ap);
    va_end(ap);
}
