/* SPDX-License-Identifier: MIT */
/*
 * The scripted backend ("sb") of the libvgrant tests (test_frontend.c,
 * test_frontend_blk.c): it runs in a thread as dom 0 of the fake world,
 * plays the xenbus handshake, maps the frontend's rings and buffers with
 * map_grants (so it sees exactly what a real backend could see) and serves
 * an echo device or a RAM block device; hostile modes misbehave on cue.
 */
#ifndef VGRANT_TEST_SBACKEND_H
#define VGRANT_TEST_SBACKEND_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "libvgrant.h"
#include "vgrant/hyp.h"
#include "vgrant/protocol.h"
#include "vgrant/virtqueue.h"
#include "vgrant/xsutil.h"

#define BE_DOM   0
#define FE_DOM   1
#define DEVID    3
#define DISK_BYTES (4u * 1024 * 1024)
#define MAX_RECORDS 64
#define SHORT_TIMEOUT_MS 300
#define TIMEOUT_MS 5000

enum sb_device { SB_ECHO, SB_BLK };

enum sb_hostile {
    SB_OK = 0,
    SB_HOLD,          /* pop requests, complete only when told */
    SB_BAD_ID,        /* complete with an id never in flight */
    SB_DUP,           /* complete the first request twice */
    SB_LONG_LEN,      /* used len far beyond the writable buffers */
    SB_REFUSE,        /* go Closing when the frontend is Initialised */
    SB_SHORT_LEN,     /* blk: report 0 bytes written */
};

/* What the backend saw of one descriptor: the whole first page mapped. */
struct sb_record {
    uint64_t addr;
    uint32_t len;
    bool write;
    uint8_t page[VG_PAGE_SIZE];
};

struct sb {
    struct vg_fake_world *w;
    struct vg_hyp *h;
    char be_dir[VG_XS_PATH_MAX], fe_dir[VG_XS_PATH_MAX];
    enum sb_device device;
    enum sb_hostile hostile;
    uint64_t features;
    uint32_t seg_max, size_max;
    unsigned max_qsize;
    bool readonly;
    uint64_t fail_sector;  /* blk: I/O error for requests starting here */
    bool no_get_id;        /* blk: GET_ID unsupported */
    bool corrupt_reads;    /* blk: flip a byte of every read */

    pthread_t thread;
    bool running;
    pthread_mutex_t lock;
    bool stop;
    bool complete_held;   /* SB_HOLD: finish the held requests */
    bool go_closing;      /* close the device as if the backend gave up */

    /* session */
    bool connected;
    int state;
    int port;
    uint16_t num;
    void *ring[3];
    uint32_t ring_pages[3];
    struct vq_device vq;
    struct vq_elem *elems;
    uint16_t raw_used;    /* hostile completions bypass vqdev */
    uint16_t held[VG_MAX_QUEUE_SIZE];
    uint32_t held_len[VG_MAX_QUEUE_SIZE];
    unsigned nheld;

    /* observations */
    unsigned popped, served, kicks_seen, max_chain;
    unsigned nrec;
    struct sb_record rec[MAX_RECORDS];
    uint8_t *disk;
};

/* ------------------------------------------------------------------ */

/* A fresh backend serving device dev, misbehaving as hostile; its world
 * has dom BE_DOM and FE_DOM and the device's directories written. */
void sb_init(struct sb *s, enum sb_device dev, enum sb_hostile hostile);
/* Run it in its thread / stop it and free everything. */
void sb_start(struct sb *s);
void sb_fini(struct sb *s);
/* Set *flag (one of s's cue fields) under the backend's lock. */
void sb_poke(struct sb *s, bool *flag);
/* Wait (bounded) until the backend has popped n requests. */
void sb_wait_popped(struct sb *s, unsigned n);
/* Write dir/key = fmt... (aborts on failure). */
void sb_xs_put(struct vg_hyp *h, const char *dir, const char *key,
               const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The backend's device keys (device-id, features, config, mode...). */
void sb_put_device_keys(struct sb *s);
/* A frontend key of the device as a number. */
int sb_fe_read_uint(struct sb *s, const char *key, uint64_t *v);

extern const struct vgf_opts sb_fast_opts;
/* Open the device from FE_DOM (*feh: its handle) with sb_fast_opts. */
struct vgf_dev *sb_open_fe(struct sb *s, struct vg_hyp **feh);
/* n bytes of a pattern of seed. */
void sb_fill(uint8_t *p, size_t n, unsigned seed);

/* Ring pages: three areas of one page each at queue size 256. */
#define RING_PAGES 3u

#endif /* VGRANT_TEST_SBACKEND_H */
