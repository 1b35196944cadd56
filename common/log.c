/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>

#include "vgrant/clock.h"
#include "vgrant/log.h"

static const char *log_prog = "vgrant";
static enum vg_log_level log_level = VG_LOG_INFO;
static int log_syslog;
static int log_journal;
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

bool vg_log_detect_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    char end;

    log_journal = 0;
    if (!js || sscanf(js, "%llu:%llu%c", &dev, &ino, &end) != 2 ||
        fstat(2, &st))
        return false;
    log_journal = (unsigned long long)st.st_dev == dev &&
                  (unsigned long long)st.st_ino == ino;
    return log_journal;
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
    if (log_journal)   /* sd-daemon(3) priority prefix */
        fprintf(stderr, "<%d>%s: %s: %s\n", prio[level], log_prog,
                level_names[level], msg);
    else
        fprintf(stderr, "%s: %s: %s\n", log_prog, level_names[level], msg);
}

void vg_log(enum vg_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vg_vlog(level, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------------ */
/* text another domain controls                                        */

static size_t esc_width(unsigned char c)
{
    return (c >= 0x20 && c < 0x7f && c != '\\') ? 1 : 4;
}

const char *vg_esc(const char *s, char *buf, size_t size)
{
    static const char hex[] = "0123456789abcdef";
    char mark[40];
    size_t len, total = 0, limit, used = 0, room;

    if (!s)
        return "(missing)";
    if (!buf || size == 0)
        return "";
    room = size - 1;
    len = strlen(s);
    for (size_t i = 0; i < len; i++)
        total += esc_width((unsigned char)s[i]);
    mark[0] = '\0';
    limit = room;
    if (total > room) {
        /* cut short: leave room for the mark (a tiny buffer gets what fits) */
        snprintf(mark, sizeof(mark), "...[%zu bytes]", len);
        limit = room > strlen(mark) ? room - strlen(mark) : 0;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (used + esc_width(c) > limit)
            break;
        if (esc_width(c) == 1) {
            buf[used++] = (char)c;
        } else {
            buf[used++] = '\\';
            buf[used++] = 'x';
            buf[used++] = hex[c >> 4];
            buf[used++] = hex[c & 15];
        }
    }
    for (size_t m = 0; mark[m] && used < room; m++)
        buf[used++] = mark[m];
    buf[used] = '\0';
    return buf;
}

/* ------------------------------------------------------------------ */
/* rate-limited warnings                                               */

bool vg_ratelimit_at(struct vg_ratelimit *rl, uint64_t now_ms,
                     uint64_t *suppressed)
{
    rl->events++;
    if (rl->events == 1 || now_ms - rl->window_start_ms >= VG_RL_WINDOW_MS ||
        now_ms < rl->window_start_ms) {
        rl->window_start_ms = now_ms;
        rl->window_lines = 0;
    }
    if (rl->window_lines >= VG_RL_BURST) {
        rl->suppressed++;
        return false;
    }
    rl->window_lines++;
    *suppressed = rl->suppressed;
    rl->suppressed = 0;
    return true;
}

void vg_rl_vlog_at(struct vg_ratelimit *rl, uint64_t now_ms,
                   enum vg_log_level level, const char *fmt, va_list ap)
{
    uint64_t dropped = 0;
    char msg[896];

    if (!vg_ratelimit_at(rl, now_ms, &dropped) || level > log_level)
        return;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (dropped)
        vg_log(level, "%s (suppressed %llu similar messages)", msg,
               (unsigned long long)dropped);
    else
        vg_log(level, "%s", msg);
}

void vg_rl_log(struct vg_ratelimit *rl, enum vg_log_level level,
               const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vg_rl_vlog_at(rl, vg_now_ms(), level, fmt, ap);
    va_end(ap);
}

void vg_rl_dev_vevent(struct vg_ratelimit *rl, uint16_t domid, unsigned devid,
                      const char *event, const char *fmt, va_list ap)
{
    char msg[256];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    /* vg_rl_log counts this one: it is #events + 1 */
    vg_rl_log(rl, VG_LOG_WARN, "dom %u dev %u: %s (%s #%llu)", domid, devid,
              msg, event, (unsigned long long)rl->events + 1);
}

void vg_rl_flush(struct vg_ratelimit *rl, enum vg_log_level level,
                 const char *fmt, ...)
{
    char msg[896];
    va_list ap;

    if (!rl->suppressed)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    vg_log(level, "%s: suppressed %llu similar messages", msg,
           (unsigned long long)rl->suppressed);
    rl->suppressed = 0;
}
