/* SPDX-License-Identifier: MIT */
/* Fixture of the vgrantd tests, see twfix.h. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "rawfront.h"
#include "vgdrive.h"
#include "vgrant/log.h"
#include "vgrantd.h"
#include "twfix.h"

void tw_fill_image(const char *path)
{
    int fd = open(path, O_RDWR);
    uint8_t sector[VIRTIO_BLK_SECTOR_SIZE];

    assert_true(fd >= 0);
    for (unsigned s = 0; s < IMAGE_SECTORS; s++) {
        memset(sector, (int)(s & 0xff), sizeof(sector));
        assert_int_equal(pwrite(fd, sector, sizeof(sector),
                                (off_t)s * VIRTIO_BLK_SECTOR_SIZE),
                         (ssize_t)sizeof(sector));
    }
    close(fd);
}

void tw_make_image(char *path, size_t size)
{
    int fd;

    snprintf(path, size, "/tmp/vgd-test-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    tw_fill_image(path);
}

struct tw *tw_new(unsigned budget)
{
    struct vgd_options o = { .budget_per_queue = budget };

    return tw_new_opts(&o);
}

struct tw *tw_new_opts(const struct vgd_options *opts)
{
    struct tw *t = calloc(1, sizeof(*t));
    struct vgd_options o = *opts;

    assert_non_null(t);
    t->w = vg_fake_world_new();
    assert_non_null(t->w);
    t->be = vg_fake_open(t->w, 0);
    t->ts = vg_fake_open(t->w, 0);
    assert_non_null(t->be);
    assert_non_null(t->ts);
    tw_make_image(t->image, sizeof(t->image));
    tw_make_image(t->image_ro, sizeof(t->image_ro));
    t->d = vgd_new(t->be, &o);
    assert_non_null(t->d);
    assert_int_equal(vgd_start(t->d), 0);
    return t;
}

void tw_free(struct tw *t)
{
    vgd_free(t->d);
    vg_hyp_close(t->be);
    vg_hyp_close(t->ts);
    vg_fake_world_free(t->w);
    unlink(t->image);
    unlink(t->image_ro);
    free(t);
}

void tw_pump(struct tw *t, int rounds)
{
    vd_pump(t->d, rounds);
}

void tw_wait_backend_state(struct tw *t, struct rawfront *rf,
                           enum vg_xenbus_state s)
{
    vd_wait_backend_state(t->d, rf, s);
}

void tw_ensure_domain(struct tw *t, uint16_t dom)
{
    if (vg_fake_domain_create(t->w, dom))
        assert_int_equal(errno, EEXIST);
}

/* Toolstack attach + open the guest side, up to backend InitWait. */
void tw_attach(struct tw *t, struct rawfront *rf, uint16_t dom,
               unsigned devid, const struct rf_attach *a)
{
    struct rf_attach dflt = { .target = t->image };

    tw_ensure_domain(t, dom);
    assert_int_equal(rf_toolstack_attach(t->ts, dom, devid, 0, a ? a : &dflt), 0);
    assert_int_equal(rf_open(rf, t->w, dom, devid, 0), 0);
    tw_wait_backend_state(t, rf, VG_XB_INITWAIT);
}

void tw_attach_connect(struct tw *t, struct rawfront *rf, uint16_t dom,
                       unsigned devid, uint16_t num,
                       const struct rf_attach *a)
{
    tw_attach(t, rf, dom, devid, a);
    vd_connect(t->d, rf, num);
}

/* Kick and serve until the request completes; returns its status. */
uint8_t tw_blk_complete(struct tw *t, struct rawfront *rf,
                        struct rf_blk *r, uint32_t *len_out)
{
    uint32_t id, len;

    if (!vd_serve_until_used(t->d, rf, &id, &len))
        fail_msg("request never completed");
    assert_int_equal(id, r->head);
    if (len_out)
        *len_out = len;
    return *r->status;
}

uint8_t tw_blk_do(struct tw *t, struct rawfront *rf, struct rf_blk *r)
{
    rf_blk_submit(rf, r);
    return tw_blk_complete(t, rf, r, NULL);
}

struct vgd_dev_stats tw_dev_stats(struct tw *t, uint16_t dom, unsigned devid)
{
    return vd_dev_stats(t->d, dom, devid);
}

off_t tw_file_size(const char *path)
{
    struct stat st;

    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

void tw_read_sector(const char *path, uint64_t s, uint8_t *buf)
{
    int fd = open(path, O_RDONLY);

    assert_true(fd >= 0);
    assert_int_equal(pread(fd, buf, VIRTIO_BLK_SECTOR_SIZE,
                           (off_t)(s * VIRTIO_BLK_SECTOR_SIZE)),
                     VIRTIO_BLK_SECTOR_SIZE);
    close(fd);
}

bool tw_sector_is(const char *path, uint64_t s, uint8_t v)
{
    uint8_t buf[VIRTIO_BLK_SECTOR_SIZE];

    tw_read_sector(path, s, buf);
    for (unsigned i = 0; i < sizeof(buf); i++)
        if (buf[i] != v)
            return false;
    return true;
}

/* Capture what the daemon logs (log.c writes to stderr). */
static int saved_stderr = -1;
static FILE *capture_file;

void tw_capture_start(void)
{
    fflush(stderr);
    capture_file = tmpfile();
    assert_non_null(capture_file);
    saved_stderr = dup(2);
    dup2(fileno(capture_file), 2);
}

char *tw_capture_stop(void)
{
    long n;
    char *buf;

    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    saved_stderr = -1;
    n = ftell(capture_file);
    buf = calloc(1, (size_t)n + 1);
    assert_non_null(buf);
    rewind(capture_file);
    assert_int_equal(fread(buf, 1, (size_t)n, capture_file), (size_t)n);
    fclose(capture_file);
    fputs(buf, stderr);     /* still show it */
    return buf;
}

/* Before failing inside a capture: give cmocka its stderr back. */
void tw_capture_abort(void)
{
    if (saved_stderr >= 0)
        free(tw_capture_stop());
}

void tw_assert_log_has(const char *log, const char *needle)
{
    if (!strstr(log, needle))
        fail_msg("log lacks \"%s\"", needle);
}

