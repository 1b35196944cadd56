/* SPDX-License-Identifier: MIT */
/*
 * Benchmark driver for a block device file (Xen's blkfront /dev/xvda, or
 * anything else): O_DIRECT, and for depth N, N threads each doing
 * synchronous pread/pwrite, which keeps N requests in flight without
 * libaio.  The I/Os are numbered; thread k does those with number k mod N
 * at offset (number * size) mod span, or with --random at
 * vgf_bench_random_offset(seed, number).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vgrant/clock.h"
#include "vgf_bench_drv.h"

struct vgf_bench_file {
    int fd;
    uint64_t capacity;
};

/* Threads start together, or not at all when one could not be created. */
struct start_gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int go;                    /* 0 wait, 1 run, -1 give up */
};

struct worker {
    pthread_t tid;
    struct vgf_bench_file *bf;
    struct start_gate *gate;
    bool write;
    uint64_t size, span;
    unsigned index, stride;    /* I/O numbers index, index+stride, ... */
    unsigned count;            /* total I/Os of the point; 0: until stop_at */
    bool random;
    uint64_t seed;
    double stop_at;
    double *lat;
    unsigned cap;
    unsigned done;
    int err;
};

static int gate_wait(struct start_gate *g)
{
    int go;

    pthread_mutex_lock(&g->lock);
    while (g->go == 0)
        pthread_cond_wait(&g->cond, &g->lock);
    go = g->go;
    pthread_mutex_unlock(&g->lock);
    return go;
}

static void gate_open(struct start_gate *g, int go)
{
    pthread_mutex_lock(&g->lock);
    g->go = go;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
}

struct vgf_bench_file *vgf_bench_file_open(const char *path)
{
    struct vgf_bench_file *bf = calloc(1, sizeof(*bf));
    struct stat st;

    if (!bf)
        return NULL;
    bf->fd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
    if (bf->fd < 0 || fstat(bf->fd, &st)) {
        fprintf(stderr, "vgrant-io: bench-file: cannot open %s with O_DIRECT: %s\n",
                path, strerror(errno));
        goto fail;
    }
    if (S_ISBLK(st.st_mode)) {
        if (ioctl(bf->fd, BLKGETSIZE64, &bf->capacity)) {
            fprintf(stderr, "vgrant-io: bench-file: %s: BLKGETSIZE64: %s\n",
                    path, strerror(errno));
            goto fail;
        }
    } else {
        bf->capacity = (uint64_t)st.st_size;
    }
    if (bf->capacity < 4096) {
        fprintf(stderr, "vgrant-io: bench-file: %s is too small (%llu bytes)\n",
                path, (unsigned long long)bf->capacity);
        goto fail;
    }
    return bf;
fail:
    if (bf->fd >= 0)
        close(bf->fd);
    free(bf);
    return NULL;
}

void vgf_bench_file_close(struct vgf_bench_file *bf)
{
    if (!bf)
        return;
    close(bf->fd);
    free(bf);
}

uint64_t vgf_bench_file_capacity(const struct vgf_bench_file *bf)
{
    return bf->capacity;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    uint64_t slots = w->span / w->size;
    void *buf = NULL;

    if (gate_wait(w->gate) < 0)
        return NULL;
    if (posix_memalign(&buf, 4096, w->size)) {
        w->err = ENOMEM;
        return NULL;
    }
    memset(buf, (int)(0x40 + w->index), w->size);
    for (uint64_t n = w->index; w->count == 0 || n < w->count; n += w->stride) {
        off_t off = (off_t)(w->random ? vgf_bench_random_offset(w->seed, n, w->size, w->span)
                                      : (n % slots) * w->size);
        double t0 = vg_now_s(), t1;
        ssize_t r = w->write ? pwrite(w->bf->fd, buf, w->size, off)
                             : pread(w->bf->fd, buf, w->size, off);

        t1 = vg_now_s();
        if (r != (ssize_t)w->size) {
            w->err = r < 0 ? errno : EIO;
            break;
        }
        if (w->lat && w->done < w->cap)
            w->lat[w->done] = (t1 - t0) * 1e6;
        w->done++;
        if (w->count == 0 && (t1 >= w->stop_at || w->done >= w->cap))
            break;
    }
    free(buf);
    return NULL;
}

/* One batch: count I/Os (0: until seconds passed), latencies gathered
 * into lat[cap] (may be NULL). */
static int run_threads(struct vgf_bench_file *bf, bool write, uint64_t size,
                       unsigned depth, uint64_t span, bool random,
                       uint64_t seed, unsigned count,
                       double seconds, double *lat, unsigned cap,
                       unsigned *done_out, double *elapsed)
{
    struct worker *w = calloc(depth, sizeof(*w));
    struct start_gate gate = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
    unsigned started = 0, done = 0;
    double t0 = vg_now_s();
    int err = 0;

    *done_out = 0;
    *elapsed = 0;
    if (!w)
        return -1;
    for (unsigned i = 0; i < depth && !err; i++) {
        w[i] = (struct worker){
            .bf = bf, .gate = &gate, .write = write, .size = size,
            .span = span, .index = i, .stride = depth, .count = count,
            .random = random, .seed = seed,
            .stop_at = t0 + seconds, .cap = lat ? cap / depth + 1 : 1,
        };
        if (lat && !(w[i].lat = calloc(w[i].cap, sizeof(double))))
            err = ENOMEM;
    }
    for (unsigned i = 0; i < depth && !err; i++) {
        if (pthread_create(&w[i].tid, NULL, worker_main, &w[i]))
            err = EAGAIN;
        else
            started++;
    }
    t0 = vg_now_s();
    for (unsigned i = 0; i < depth; i++)
        w[i].stop_at = t0 + seconds;
    gate_open(&gate, err ? -1 : 1);
    for (unsigned i = 0; i < started; i++)
        pthread_join(w[i].tid, NULL);
    *elapsed = vg_now_s() - t0;
    for (unsigned i = 0; i < depth && !err; i++) {
        if (w[i].err)
            err = w[i].err;
        for (unsigned j = 0; lat && j < w[i].done && j < w[i].cap && done < cap; j++)
            lat[done++] = w[i].lat[j];
        if (!lat)
            done += w[i].done;
    }
    for (unsigned i = 0; i < depth; i++)
        free(w[i].lat);
    free(w);
    *done_out = done;
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}

static int file_run(void *ctx, bool write, uint64_t size, unsigned depth,
                    uint64_t span, struct vgf_bench_point *pt)
{
    struct vgf_bench_file *bf = ctx;
    unsigned warm_done;
    double warm_secs;

    if (size % 512) {
        errno = EINVAL;
        return -1;
    }
    /* the warm-up's random offsets are not those of the measured I/Os */
    if (run_threads(bf, write, size, depth, span, pt->random, ~pt->seed,
                    depth, 0, NULL, 0, &warm_done, &warm_secs))
        return -1;
    pt->late = pt->measure_at > 0 ? vgf_bench_wait_until(pt->measure_at) : 0;
    return run_threads(bf, write, size, depth, span, pt->random, pt->seed,
                       pt->ios, pt->seconds,
                       pt->lat_us, pt->cap, &pt->done, &pt->elapsed);
}

const struct vgf_bench_driver vgf_bench_file_driver = { .run = file_run };
