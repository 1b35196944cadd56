/* SPDX-License-Identifier: MIT */
/*
 * Logging shared by the daemon, the CLI tools and the frontend library.
 * Every line names where it comes from; device code uses vg_dev_log so each
 * line says "dom F dev N" and a user can grep one guest's story.
 */
#ifndef VGRANT_LOG_H
#define VGRANT_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum vg_log_level { VG_LOG_ERR = 0, VG_LOG_WARN, VG_LOG_INFO, VG_LOG_DEBUG };

/* Defaults: level INFO, to stderr, prefix = program name. */
void vg_log_init(const char *prog, enum vg_log_level level);
void vg_log_set_level(enum vg_log_level level);
enum vg_log_level vg_log_get_level(void);
/* Parse "err|warn|info|debug"; -1 if unknown. */
int vg_log_parse_level(const char *s);
/* Send log lines to syslog instead of stderr (daemon mode). */
void vg_log_use_syslog(void);
/* If standard error is the systemd journal (JOURNAL_STREAM holds the
 * "device:inode" of fd 2), start every stderr line with its syslog
 * priority as "<N>" (sd-daemon(3)), so the journal files warnings as
 * warnings.  Returns whether it is. */
bool vg_log_detect_journal(void);

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

/* ---- text another domain (or a config) controls ----------------------
 *
 * Every string read from xenstore or the other domain, and every config
 * value, goes through vg_esc before it reaches a log line or an error
 * message, so a peer cannot forge a log line (a "\n"), drive the
 * administrator's terminal (an ESC sequence) or flood a line:
 *   - bytes 0x20..0x7e are copied, except '\\';
 *   - every other byte ('\\', control characters, DEL, anything non-ASCII)
 *     becomes "\xNN" (two lower-case hex digits);
 *   - the result fits buf[size] and is always NUL-terminated; a value cut
 *     short ends in the mark "...[N bytes]", N being the value's length;
 *   - NULL reads "(missing)".
 * Returns buf (or the static "(missing)"). */
const char *vg_esc(const char *s, char *buf, size_t size);

/* Room for one escaped value in a log line. */
#define VG_ESC_SIZE 128
/* vg_esc into a temporary that lives until the end of the enclosing
 * block: vg_warn("key '%s'", VG_ESC(value)). */
#define VG_ESC(s) vg_esc((s), (char[VG_ESC_SIZE]){ 0 }, VG_ESC_SIZE)

/* ---- rate-limited warnings --------------------------------------------
 *
 * A guest can produce bad requests as fast as the daemon serves them.  One
 * policy for every warning a peer can trigger at will: per limiter (one per
 * device, queue or failure counter) at most VG_RL_BURST lines in any window
 * of VG_RL_WINDOW_MS; further events are counted, and the next line that
 * is logged says how many were suppressed ("(suppressed K similar
 * messages)").  vg_rl_flush reports a remainder nobody logged (at
 * teardown).  Not thread-safe: one limiter belongs to one thread. */
#define VG_RL_BURST     10u
#define VG_RL_WINDOW_MS 5000u

struct vg_ratelimit {
    uint64_t events;          /* every event counted, logged or not */
    uint64_t window_start_ms;
    unsigned window_lines;    /* lines logged in the current window */
    uint64_t suppressed;      /* events not logged since the last line */
};

/* Count one event at time now_ms.  true: log it, and report *suppressed
 * events that were dropped before it (then reset to 0). */
bool vg_ratelimit_at(struct vg_ratelimit *rl, uint64_t now_ms,
                     uint64_t *suppressed);

/* Count one event and log it if the limiter allows, appending
 * " (suppressed K similar messages)" when K > 0.  The _at variant takes
 * the time (tests). */
void vg_rl_log(struct vg_ratelimit *rl, enum vg_log_level level,
               const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void vg_rl_vlog_at(struct vg_ratelimit *rl, uint64_t now_ms,
                   enum vg_log_level level, const char *fmt, va_list ap);

/* One event of a device that a guest can repeat at will, through rl:
 * "dom <F> dev <N>: <fmt...> (<event> #<n>)" at warning level, n counting
 * this one.  The va_list form is for a model's own variadic wrapper. */
void vg_rl_dev_vevent(struct vg_ratelimit *rl, uint16_t domid, unsigned devid,
                      const char *event, const char *fmt, va_list ap);

/* If events were suppressed since the last line, log
 * "<fmt...>: suppressed K similar messages" and reset the count. */
void vg_rl_flush(struct vg_ratelimit *rl, enum vg_log_level level,
                 const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif /* VGRANT_LOG_H */
