/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "fz.h"
#include "vgrant/log.h"

void fz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    for (int i = 0; i < 2; i++) {
        FILE *f = i ? stdout : stderr;
        fprintf(f, "fuzz invariant failed at %s:%d: %s: %s\n", file, line,
                cond, msg);
        fflush(f);
    }
    abort();
}

size_t fz_str(struct fz_in *in, char *buf, size_t max)
{
    size_t n = fz_u8(in), i;

    if (max == 0)
        return 0;
    if (n > max - 1)
        n = max - 1;
    for (i = 0; i < n && !fz_done(in); i++) {
        char c = (char)fz_u8(in);
        buf[i] = c ? c : 'x';
    }
    buf[i] = '\0';
    return i;
}

size_t fz_bytes(struct fz_in *in, void *dst, size_t n)
{
    size_t k = n < in->left ? n : in->left;

    memcpy(dst, in->p, k);
    memset((uint8_t *)dst + k, 0, n - k);
    in->p += k;
    in->left -= k;
    return k;
}

/* Every line the daemon or the library logs goes through here: guest- or
 * backend-controlled text must reach a log escaped, so a line may not
 * carry a control byte (a newline would forge a line of its own). */
static void check_line(enum vg_log_level level, const char *msg, void *arg)
{
    (void)level;
    (void)arg;
    for (const unsigned char *p = (const unsigned char *)msg; *p; p++)
        FZ_CHECK(*p >= 0x20 && *p != 0x7f, "log line carries byte 0x%02x at "
                 "%zu: %.*s", *p, (size_t)(p - (const unsigned char *)msg),
                 (int)(p - (const unsigned char *)msg), msg);
}

void fz_quiet_logs(void)
{
    static bool done;
    const char *lvl = getenv("VGRANT_FUZZ_LOG_LEVEL");
    int level = lvl ? vg_log_parse_level(lvl) : -1;

    if (done)
        return;
    done = true;
    /* Only errors by default (lines below the level are not even
     * formatted, which keeps the harnesses fast); `make fuzz` runs with
     * -close_fd_mask=2 on top so what is printed goes nowhere.  Every
     * formatted line is checked by check_line. */
    vg_log_init("fuzz", level >= 0 ? (enum vg_log_level)level : VG_LOG_ERR);
    vg_log_set_sink(check_line, NULL);
}

static char image_path[64];

static void image_remove(void)
{
    if (image_path[0])
        unlink(image_path);
}

const char *fz_image(void)
{
    static const char *const dirs[] = { "/dev/shm", "/tmp" };
    uint8_t sector[512];
    int fd = -1;

    if (image_path[0])
        return image_path;
    for (unsigned i = 0; i < 2 && fd < 0; i++) {
        snprintf(image_path, sizeof(image_path), "%s/vgrant-fuzz-XXXXXX",
                 dirs[i]);
        fd = mkstemp(image_path);
    }
    FZ_CHECK(fd >= 0, "cannot create a scratch image");
    for (unsigned s = 0; s < FZ_IMAGE_SECTORS; s++) {
        memset(sector, (int)s, sizeof(sector));
        FZ_CHECK(pwrite(fd, sector, sizeof(sector), (off_t)s * 512) == 512,
                 "writing the scratch image");
    }
    close(fd);
    atexit(image_remove);
    return image_path;
}

/* Shallow malloc stacks: the allocator's stack depot was a tenth of the
 * time of the slow harnesses.  ASAN_OPTIONS overrides this for a crash
 * being investigated. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "malloc_context_size=4:quarantine_size_mb=64";
}

bool fz_world_due(const struct fz_world *fw)
{
    return fw->w && (fw->uses + 1) % FZ_WORLD_USES == 0;
}

bool fz_fresh_mode(void)
{
    static int fresh = -1;

    if (fresh < 0) {
        const char *e = getenv("VGRANT_FUZZ_FRESH");
        fresh = e && *e && strcmp(e, "0") != 0;
    }
    return fresh;
}

void fz_world_get(struct fz_world *fw, uint16_t fe, bool toolstack)
{
    if (fw->w && ++fw->uses % FZ_WORLD_USES == 0) {
        vg_hyp_close(fw->be);
        if (fw->ts)
            vg_hyp_close(fw->ts);
        vg_fake_world_free(fw->w);
        fw->w = NULL;
        fw->be = fw->ts = NULL;
    }
    if (!fw->w) {
        fw->w = vg_fake_world_new();
        FZ_CHECK(fw->w, "world");
        fw->be = vg_fake_open(fw->w, 0);
        FZ_CHECK(fw->be, "backend handle");
        if (toolstack) {
            fw->ts = vg_fake_open(fw->w, 0);
            FZ_CHECK(fw->ts, "toolstack handle");
        }
    }
    if (vg_fake_domain_create(fw->w, fe))
        FZ_CHECK(errno == EEXIST, "domain %u: %s", fe, strerror(errno));
}
