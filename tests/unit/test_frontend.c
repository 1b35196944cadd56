/* SPDX-License-Identifier: MIT */
/*
 * libvgrant and its virtio-blk helper against a scripted backend in the
 * fake world.  The scripted backend ("sb") runs in a thread as dom 0: it
 * plays the xenbus handshake, maps the frontend's rings and buffers with
 * map_grants (so it sees exactly what a real backend could see) and serves
 * an echo device or a RAM block device; hostile modes misbehave on cue.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "libvgrant.h"
#include "vgf_check.h"
#include "vgf_verify.h"
#include "vgrant_blk.h"
#include "vgrant/hyp.h"
#include "vgrant/log.h"
#include "vgrant/protocol.h"
#include "vgrant/virtio.h"
#include "vgrant/virtqueue.h"
#include "vgrant/xsutil.h"

#define BE_DOM   0
#define FE_DOM   1
#define DEVID    3
#define DISK_BYTES (4u * 1024 * 1024)
#define MAX_RECORDS 64
#define SHORT_TIMEOUT_MS 300
#define TIMEOUT_MS 5000

/* The backend thread must not use cmocka's asserts (they longjmp into the
 * test's thread): a broken expectation there aborts the test program. */
#define SB_CHECK(c)                                                         \
    do {                                                                    \
        if (!(c)) {                                                         \
            fprintf(stderr, "scripted backend: %s:%d: %s\n", __FILE__,      \
                    __LINE__, #c);                                          \
            abort();                                                        \
        }                                                                   \
    } while (0)

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
/* toolstack part: the two directories                                  */
/* ------------------------------------------------------------------ */

static void xs_put(struct vg_hyp *h, const char *dir, const char *key,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void xs_put(struct vg_hyp *h, const char *dir, const char *key,
                   const char *fmt, ...)
{
    char path[VG_XS_PATH_MAX], val[512];
    va_list ap;

    snprintf(path, sizeof(path), "%s/%s", dir, key);
    va_start(ap, fmt);
    vsnprintf(val, sizeof(val), fmt, ap);
    va_end(ap);
    SB_CHECK(h->ops->xs_write(h, VG_XS_NO_TX, path, val) == 0);
}

static void make_dirs(struct sb *s)
{
    struct vg_hyp *h = s->h;
    struct vg_xs_perm be_perms[2] = { { BE_DOM, VG_XS_PERM_NONE },
                                      { FE_DOM, VG_XS_PERM_READ } };
    struct vg_xs_perm fe_perms[2] = { { FE_DOM, VG_XS_PERM_NONE },
                                      { BE_DOM, VG_XS_PERM_READ } };

    snprintf(s->be_dir, sizeof(s->be_dir),
             "/local/domain/%u/backend/virtio-grant/%u/%u", BE_DOM, FE_DOM, DEVID);
    snprintf(s->fe_dir, sizeof(s->fe_dir),
             "/local/domain/%u/device/virtio-grant/%u", FE_DOM, DEVID);
    assert_int_equal(h->ops->xs_mkdir(h, VG_XS_NO_TX, s->be_dir), 0);
    assert_int_equal(h->ops->xs_set_perms(h, VG_XS_NO_TX, s->be_dir, be_perms, 2), 0);
    assert_int_equal(h->ops->xs_mkdir(h, VG_XS_NO_TX, s->fe_dir), 0);
    assert_int_equal(h->ops->xs_set_perms(h, VG_XS_NO_TX, s->fe_dir, fe_perms, 2), 0);
    xs_put(h, s->be_dir, "frontend", "%s", s->fe_dir);
    xs_put(h, s->be_dir, "frontend-id", "%u", FE_DOM);
    xs_put(h, s->be_dir, "online", "1");
    xs_put(h, s->be_dir, "state", "1");
    xs_put(h, s->fe_dir, "backend", "%s", s->be_dir);
    xs_put(h, s->fe_dir, "backend-id", "%u", BE_DOM);
    xs_put(h, s->fe_dir, "state", "1");
}

static void put_config(struct sb *s)
{
    char hex[2 * 24 + 1];
    uint8_t cfg[24] = { 0 };
    uint64_t sectors = DISK_BYTES / 512;

    memcpy(cfg, &sectors, 8);
    memcpy(cfg + 8, &s->size_max, 4);
    memcpy(cfg + 12, &s->seg_max, 4);
    cfg[20] = 0x00; cfg[21] = 0x02;   /* blk_size 512 */
    for (unsigned i = 0; i < sizeof(cfg); i++)
        sprintf(hex + 2 * i, "%02x", cfg[i]);
    xs_put(s->h, s->be_dir, "config", "%s", hex);
}

/* The keys a backend publishes before InitWait. */
static void put_device_keys(struct sb *s)
{
    xs_put(s->h, s->be_dir, "device-id", "%u",
           s->device == SB_BLK ? VIRTIO_ID_BLOCK : 42u);
    xs_put(s->h, s->be_dir, "features", "0x%llx", (unsigned long long)s->features);
    xs_put(s->h, s->be_dir, "max-queues", "1");
    xs_put(s->h, s->be_dir, "max-queue-size", "%u", s->max_qsize);
    put_config(s);
    xs_put(s->h, s->be_dir, "config-generation", "1");
    xs_put(s->h, s->be_dir, "mode", "grant");
}

static void sb_init(struct sb *s, enum sb_device dev, enum sb_hostile hostile)
{
    memset(s, 0, sizeof(*s));
    s->w = vg_fake_world_new();
    assert_non_null(s->w);
    assert_int_equal(vg_fake_domain_create(s->w, FE_DOM), 0);
    s->h = vg_fake_open(s->w, BE_DOM);
    assert_non_null(s->h);
    s->device = dev;
    s->hostile = hostile;
    s->features = VG_FEATURES_REQUIRED | VG_FEATURE(VIRTIO_RING_F_EVENT_IDX) |
                  VG_FEATURE(VIRTIO_BLK_F_SEG_MAX) | VG_FEATURE(VIRTIO_BLK_F_SIZE_MAX) |
                  VG_FEATURE(VIRTIO_BLK_F_BLK_SIZE) | VG_FEATURE(VIRTIO_BLK_F_FLUSH);
    s->seg_max = 128;
    s->size_max = 1u << 20;
    s->max_qsize = 256;
    s->port = -1;
    s->state = 1;
    pthread_mutex_init(&s->lock, NULL);
    s->disk = calloc(1, DISK_BYTES);
    assert_non_null(s->disk);
    make_dirs(s);
}

/* ------------------------------------------------------------------ */
/* the scripted backend                                                 */
/* ------------------------------------------------------------------ */

static void sb_set_state(struct sb *s, int st)
{
    s->state = st;
    xs_put(s->h, s->be_dir, "state", "%d", st);
}

static int fe_read_uint(struct sb *s, const char *key, uint64_t *v)
{
    return vg_xs_read_uint(s->h, VG_XS_NO_TX, s->fe_dir, key, UINT64_MAX, v);
}

static int sb_connect(struct sb *s)
{
    static const char *const area_key[3] = { "queue-0/desc", "queue-0/driver",
                                             "queue-0/device" };
    size_t bytes[3];
    uint64_t num, port, addr;

    if (fe_read_uint(s, "queue-0/size", &num) ||
        fe_read_uint(s, "queue-0/event-channel", &port))
        return -1;
    s->num = (uint16_t)num;
    bytes[0] = vg_ring_desc_bytes(s->num);
    bytes[1] = vg_ring_avail_bytes(s->num);
    bytes[2] = vg_ring_used_bytes(s->num);
    for (int i = 0; i < 3; i++) {
        vg_gref_t refs[8];
        uint32_t n = (uint32_t)((bytes[i] + VG_PAGE_SIZE - 1) / VG_PAGE_SIZE);

        if (vg_xs_read_hex64(s->h, VG_XS_NO_TX, s->fe_dir, area_key[i], &addr) ||
            !vg_grant_addr_valid(addr) || vg_grant_addr_offset(addr))
            return -1;
        for (uint32_t k = 0; k < n; k++)
            refs[k] = vg_grant_addr_ref(addr) + k;
        s->ring[i] = s->h->ops->map_grants(s->h, FE_DOM, n, refs,
                                           i == 2 /* only used is written */);
        if (!s->ring[i])
            return -1;
        s->ring_pages[i] = n;
    }
    s->port = s->h->ops->evtchn_bind_interdomain(s->h, FE_DOM, (vg_port_t)port);
    if (s->port < 0)
        return -1;
    if (vqdev_init(&s->vq, s->num, s->ring[0], s->ring[1], s->ring[2], true))
        return -1;
    s->elems = calloc(s->num, sizeof(*s->elems));
    s->raw_used = 0;
    s->nheld = 0;
    s->connected = true;
    return 0;
}

static void sb_disconnect(struct sb *s)
{
    if (s->connected)
        vqdev_free(&s->vq);
    for (int i = 0; i < 3; i++) {
        if (s->ring[i])
            s->h->ops->unmap_grants(s->h, s->ring[i], s->ring_pages[i]);
        s->ring[i] = NULL;
    }
    if (s->port >= 0)
        s->h->ops->evtchn_unbind(s->h, (vg_port_t)s->port);
    s->port = -1;
    free(s->elems);
    s->elems = NULL;
    s->connected = false;
}

/* Map the pages of one descriptor; returns the buffer start. */
static uint8_t *sb_map(struct sb *s, const struct vq_elem *e, void **base,
                       uint32_t *npages)
{
    uint32_t off = vg_grant_addr_offset(e->addr);
    vg_gref_t refs[512];
    uint32_t n = (uint32_t)((off + (uint64_t)e->len + VG_PAGE_SIZE - 1) / VG_PAGE_SIZE);

    if (!vg_grant_addr_valid(e->addr) || n == 0 || n > 512)
        return NULL;
    for (uint32_t k = 0; k < n; k++)
        refs[k] = vg_grant_addr_ref(e->addr) + k;
    *base = s->h->ops->map_grants(s->h, FE_DOM, n, refs, e->write);
    if (!*base)
        return NULL;
    *npages = n;
    if (s->nrec < MAX_RECORDS) {
        struct sb_record *r = &s->rec[s->nrec++];
        r->addr = e->addr;
        r->len = e->len;
        r->write = e->write;
        memcpy(r->page, *base, VG_PAGE_SIZE);
    }
    return (uint8_t *)*base + off;
}

/* Copy between a chain and a flat buffer: out elements -> flat when
 * to_flat, flat -> in elements otherwise. */
static uint32_t sb_xfer(struct sb *s, const struct vq_chain *c, unsigned first,
                        unsigned last, uint8_t *flat, uint32_t flat_len,
                        bool to_flat)
{
    uint32_t done = 0;

    for (unsigned i = first; i < last && done < flat_len; i++) {
        void *base;
        uint32_t np, n = c->elem[i].len;
        uint8_t *p = sb_map(s, &c->elem[i], &base, &np);

        SB_CHECK(p);
        if (n > flat_len - done)
            n = flat_len - done;
        if (to_flat)
            memcpy(flat + done, p, n);
        else
            memcpy(p, flat + done, n);
        done += n;
        s->h->ops->unmap_grants(s->h, base, np);
    }
    return done;
}

/* Serve one chain; returns the used length. */
static uint32_t sb_serve_echo(struct sb *s, const struct vq_chain *c)
{
    uint32_t n = c->out_bytes < c->in_bytes ? c->out_bytes : c->in_bytes;
    uint8_t *tmp = calloc(1, c->out_bytes + 1);
    uint32_t got;

    SB_CHECK(tmp);
    got = sb_xfer(s, c, 0, c->n_out, tmp, c->out_bytes, true);
    SB_CHECK((got) == (c->out_bytes));
    for (uint32_t i = 0; i < n; i++)
        tmp[i] ^= 0xff;   /* so an echo is not mistaken for untouched memory */
    if (n)
        sb_xfer(s, c, c->n_out, c->n, tmp, n, false);
    free(tmp);
    return n;
}

static uint32_t sb_serve_blk(struct sb *s, const struct vq_chain *c)
{
    struct virtio_blk_req_hdr hdr;
    uint8_t status = VIRTIO_BLK_S_OK;
    uint32_t data_in = c->in_bytes - 1, data_out = c->out_bytes - 16;
    uint64_t off;

    SB_CHECK(c->n >= 2);
    SB_CHECK((sb_xfer(s, c, 0, 1, (uint8_t *)&hdr, 16, true)) == (16));
    off = hdr.sector * 512;
    if (s->fail_sector && hdr.sector == s->fail_sector)
        hdr.type = 0xdead;
    if (s->no_get_id && hdr.type == VIRTIO_BLK_T_GET_ID)
        hdr.type = 0xbeef;
    switch (hdr.type) {
    case 0xdead:
        status = VIRTIO_BLK_S_IOERR;
        break;
    case VIRTIO_BLK_T_IN:
        if (off + data_in > DISK_BYTES)
            status = VIRTIO_BLK_S_IOERR;
        else if (s->corrupt_reads) {
            uint8_t *tmp = malloc(data_in);
            SB_CHECK(tmp);
            memcpy(tmp, s->disk + off, data_in);
            tmp[data_in / 2] ^= 0x40;
            sb_xfer(s, c, c->n_out, c->n - 1, tmp, data_in, false);
            free(tmp);
        } else
            sb_xfer(s, c, c->n_out, c->n - 1, s->disk + off, data_in, false);
        break;
    case VIRTIO_BLK_T_OUT:
        if (s->readonly || off + data_out > DISK_BYTES) {
            status = VIRTIO_BLK_S_IOERR;
        } else {
            uint8_t *tmp = malloc(data_out);
            SB_CHECK((sb_xfer(s, c, 1, c->n_out, tmp, data_out, true)) == (data_out));
            memcpy(s->disk + off, tmp, data_out);
            free(tmp);
        }
        break;
    case VIRTIO_BLK_T_FLUSH:
        break;
    case VIRTIO_BLK_T_GET_ID: {
        uint8_t id[20] = "sb-disk-\x01";
        sb_xfer(s, c, c->n_out, c->n - 1, id, data_in < 20 ? data_in : 20, false);
        break;
    }
    default:
        status = VIRTIO_BLK_S_UNSUPP;
        break;
    }
    sb_xfer(s, c, c->n - 1, c->n, &status, 1, false);
    if (s->hostile == SB_SHORT_LEN)
        return 0;
    return c->in_bytes;
}

/* A used entry written by hand, outside vqdev's bookkeeping. */
static void sb_raw_used(struct sb *s, uint32_t id, uint32_t len)
{
    struct vring_used *u = s->ring[2];

    u->ring[s->raw_used % s->num].id = id;
    u->ring[s->raw_used % s->num].len = len;
    __atomic_store_n(&u->idx, (uint16_t)(s->raw_used + 1), __ATOMIC_RELEASE);
    s->raw_used++;
}

static void sb_complete(struct sb *s, uint16_t head, uint32_t len)
{
    switch (s->hostile) {
    case SB_BAD_ID:
        sb_raw_used(s, s->num + 5u, 0);
        break;
    case SB_DUP:
        sb_raw_used(s, head, len);
        sb_raw_used(s, head, len);
        break;
    case SB_LONG_LEN:
        sb_raw_used(s, head, 1u << 30);
        break;
    default:
        SB_CHECK((vqdev_push(&s->vq, head, len)) == (0));
        s->raw_used = s->vq.used_idx;
        break;
    }
    s->served++;
}

static void sb_serve(struct sb *s)
{
    struct vq_chain c = { .elem = s->elems };
    bool pushed = false;
    int rc;

    for (;;) {
        while ((rc = vqdev_pop(&s->vq, &c)) == 1) {
            uint32_t len = s->device == SB_BLK ? sb_serve_blk(s, &c)
                                               : sb_serve_echo(s, &c);
            s->popped++;
            if (c.n > s->max_chain)
                s->max_chain = c.n;
            if (s->hostile == SB_HOLD || s->hostile == SB_DUP) {
                s->held[s->nheld] = c.head;
                s->held_len[s->nheld++] = len;
                continue;
            }
            sb_complete(s, c.head, len);
            pushed = true;
        }
        SB_CHECK((rc) != (-1));
        if (!vqdev_enable_notify(&s->vq))
            break;
    }
    if (s->hostile == SB_DUP && s->nheld >= 2) {
        /* first request twice, the second one never */
        sb_complete(s, s->held[0], s->held_len[0]);
        s->nheld = 0;
        pushed = true;
    }
    if (s->complete_held && s->nheld) {
        for (unsigned i = 0; i < s->nheld; i++)
            sb_complete(s, s->held[i], s->held_len[i]);
        s->nheld = 0;
        pushed = true;
    }
    if (pushed && (s->hostile != SB_OK || vqdev_should_notify(&s->vq)))
        s->h->ops->evtchn_notify(s->h, (vg_port_t)s->port);
}

static void *sb_thread(void *arg)
{
    struct sb *s = arg;
    struct vg_hyp *h = s->h;
    char fe_state_path[VG_XS_PATH_MAX + 8];

    snprintf(fe_state_path, sizeof(fe_state_path), "%s/state", s->fe_dir);
    h->ops->xs_watch(h, fe_state_path, "sb");
    put_device_keys(s);
    sb_set_state(s, 2);

    for (;;) {
        struct pollfd pfd[2] = {
            { .fd = h->ops->evtchn_fd(h), .events = POLLIN },
            { .fd = h->ops->xs_fd(h), .events = POLLIN },
        };
        char p[256], t[16];
        unsigned fe;
        int port;

        poll(pfd, 2, 5);
        while ((port = h->ops->evtchn_pending(h)) >= 0) {
            s->kicks_seen++;
            h->ops->evtchn_unmask(h, (vg_port_t)port);
        }
        while (h->ops->xs_next_watch(h, p, sizeof(p), t, sizeof(t)) == 0)
            ;

        pthread_mutex_lock(&s->lock);
        if (s->stop) {
            pthread_mutex_unlock(&s->lock);
            break;
        }
        fe = vg_xs_read_state(h, s->fe_dir);
        if (s->state == 2 && fe == VG_XB_INITIALISED) {
            if (s->hostile == SB_REFUSE || sb_connect(s)) {
                sb_disconnect(s);
                sb_set_state(s, 5);
            } else {
                sb_set_state(s, 4);
            }
        } else if (s->state == 4 && (fe == VG_XB_CLOSING || fe == VG_XB_CLOSED ||
                                     fe == VG_XB_UNKNOWN || s->go_closing)) {
            sb_disconnect(s);
            sb_set_state(s, 5);
            s->go_closing = false;
        } else if (s->state == 5) {
            sb_set_state(s, 6);
        } else if (s->state == 6 && fe == VG_XB_INITIALISING) {
            sb_set_state(s, 2);
        } else if (s->state == 4 && s->connected) {
            sb_serve(s);
        }
        pthread_mutex_unlock(&s->lock);
    }
    h->ops->xs_unwatch(h, fe_state_path, "sb");
    return NULL;
}

static void sb_start(struct sb *s)
{
    assert_int_equal(pthread_create(&s->thread, NULL, sb_thread, s), 0);
    s->running = true;
}

static void sb_fini(struct sb *s)
{
    if (s->running) {
        pthread_mutex_lock(&s->lock);
        s->stop = true;
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->thread, NULL);
    }
    sb_disconnect(s);
    vg_hyp_close(s->h);
    vg_fake_world_free(s->w);
    free(s->disk);
    pthread_mutex_destroy(&s->lock);
}

static void sb_poke(struct sb *s, bool *flag)
{
    pthread_mutex_lock(&s->lock);
    *flag = true;
    pthread_mutex_unlock(&s->lock);
}

/* Wait (bounded) until the backend has popped n requests. */
static void sb_wait_popped(struct sb *s, unsigned n)
{
    for (int i = 0; i < 2000; i++) {
        unsigned popped;
        pthread_mutex_lock(&s->lock);
        popped = s->popped;
        pthread_mutex_unlock(&s->lock);
        if (popped >= n)
            return;
        usleep(1000);
    }
    fail_msg("backend popped fewer than %u requests", n);
}

static const struct vgf_opts fast_opts = {
    .features_wanted = VGF_FEATURES_DEFAULT, .timeout_ms = TIMEOUT_MS,
};

static struct vgf_dev *open_fe(struct sb *s, struct vg_hyp **feh)
{
    struct vgf_dev *d;

    *feh = vg_fake_open(s->w, FE_DOM);
    assert_non_null(*feh);
    d = vgf_open(*feh, DEVID, &fast_opts);
    assert_non_null(d);
    return d;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 7 + seed);
}

/* Ring pages: three areas of one page each at queue size 256. */
#define RING_PAGES 3u

/* ------------------------------------------------------------------ */
/* handshake                                                            */
/* ------------------------------------------------------------------ */

static void test_handshake_connects_and_close_cleans_up(void **state)
{
    struct sb s;
    struct vg_hyp *feh;
    struct vgf_dev *d;
    uint64_t v;
    uint8_t cfg[8];

    (void)state;
    sb_init(&s, SB_ECHO, SB_OK);
    sb_start(&s);
    d = open_fe(&s, &feh);

    assert_true(vgf_connected(d));
    assert_int_equal(vgf_device_id(d), 42);
    assert_int_equal(vgf_features(d), VG_FEATURES_REQUIRED |
                     VG_FEATURE(VIRTIO_RING_F_EVENT_IDX));
    assert_int_equal(vgf_queue_size(d), 256);
    assert_string_equal(vgf_mode(d), "grant");
    assert_int_equal(vgf_config_size(d), 24);
    assert_int_equal(vgf_config_read(d, 0, cfg, 8), 0);
    assert_int_equal(cfg[2], (DISK_BYTES / 512) >> 16 & 0xff);
    assert_int_equal(vgf_config_read(d, 20, cfg, 8), -1);
    assert_int_equal(errno, EINVAL);

    /* what the backend reads */
    assert_int_equal(vg_xs_read_hex64(s.h, 0, s.fe_dir, "features", &v), 0);
    assert_int_equal(v, vgf_features(d));
    assert_int_equal(fe_read_uint(&s, "num-queues", &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(vg_xs_read_state(s.h, s.fe_dir), VG_XB_CONNECTED);
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), RING_PAGES);
    assert_int_equal(vg_fake_bound_ports(s.w, FE_DOM), 1);

    vgf_close(d);
    assert_int_equal(vg_xs_read_state(s.h, s.fe_dir), VG_XB_CLOSED);
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), 0);
    assert_int_equal(vg_fake_bound_ports(s.w, FE_DOM), 0);
    assert_int_equal(vg_fake_live_mappings(s.w, FE_DOM), 0);

    /* a second open of the same device works: Closed -> Initialising */
    d = vgf_open(feh, DEVID, &fast_opts);
    assert_non_null(d);
    vgf_close(d);
    vg_hyp_close(feh);
    sb_fini(&s);
}

static void test_open_resets_stale_session(void **state)
{
    struct sb s;
    struct vg_hyp *feh1, *feh2;
    struct vgf_dev *old, *d;
    uint8_t out[64], in[64];
    struct vgf_iov o = { out, 64 }, i = { in, 64 };
    void *cookie;
    uint32_t len;

    (void)state;
    sb_init(&s, SB_ECHO, SB_OK);
    sb_start(&s);
    /* A session some earlier process left Connected ... */
    old = open_fe(&s, &feh1);
    assert_int_equal(vg_xs_read_state(s.h, s.fe_dir), VG_XB_CONNECTED);
    /* ... is closed and restarted by the next open. */
    feh2 = vg_fake_open(s.w, FE_DOM);
    d = vgf_open(feh2, DEVID, &fast_opts);
    assert_non_null(d);
    assert_true(vgf_connected(d));
    fill(out, 64, 4);
    assert_int_equal(vgf_submit(d, 0, &o, 1, &i, 1, NULL), 0);
    assert_int_equal(vgf_complete(d, 0, &cookie, &len, TIMEOUT_MS), 0);
    assert_int_equal(in[63], (uint8_t)~out[63]);
    vgf_close(d);
    /* the old session finds its state Closed and only revokes */
    vgf_close(old);
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), 0);
    assert_int_equal(vg_fake_bound_ports(s.w, FE_DOM), 0);
    vg_hyp_close(feh1);
    vg_hyp_close(feh2);
    sb_fini(&s);
}

static void test_open_missing_device_is_enoent(void **state)
{
    struct sb s;
    struct vg_hyp *feh;

    (void)state;
    sb_init(&s, SB_ECHO, SB_OK);
    feh = vg_fake_open(s.w, FE_DOM);
    assert_null(vgf_open(feh, DEVID + 1, &fast_opts));
    assert_int_equal(errno, ENOENT);
    vg_hyp_close(feh);
    sb_fini(&s);
}

static void test_hostile_backend_never_answers(void **state)
{
    struct vgf_opts o = { .timeout_ms = SHORT_TIMEOUT_MS };
    struct sb s;
    struct vg_hyp *feh;

    (void)state;
    sb_init(&s, SB_ECHO, SB_OK);   /* no thread: state stays 1 */
    feh = vg_fake_open(s.w, FE_DOM);
    assert_null(vgf_open(feh, DEVID, &o));
    assert_int_equal(errno, ETIMEDOUT);
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), 0);
    assert_int_equal(vg_fake_bound_ports(s.w, FE_DOM), 0);

    /* InitWait, but it never connects after we publish */
    put_device_keys(&s);
    xs_put(s.h, s.be_dir, "state", "2");
    assert_null(vgf_open(feh, DEVID, &o));
    assert_int_equal(errno, ETIMEDOUT);
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), 0);
    assert_int_equal(vg_fake_bound_ports(s.w, FE_DOM), 0);
    /* told the backend our keys are void */
    assert_int_equal(vg_xs_read_state(s.h, s.fe_dir), VG_XB_CLOSED);
    vg_hyp_close(feh);
    sb_fini(&s);
}

static void test_hostile_backend_refuses_connection(void **state)
{
    struct sb s;
    struct vg_hyp *feh;

    (void)state;
    sb_init(&s, SB_ECHO, SB_REFUSE);
    sb_start(&s);
    feh = vg_fake_open(s.w, FE_DOM);
    assert_null(vgf_open(feh, DEVID, &fast_opts));
    assert_int_equal(errno, EPROTO);
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), 0);
    assert_int_equal(vg_fake_bound_ports(s.w, FE_DOM), 0);
    vg_hyp_close(feh);
    sb_fini(&s);
}

static void test_hostile_backend_garbage_keys(void **state)
{
    static const struct { const char *key, *value; int err; } cases[] = {
        { "features", "0x1", EPROTO },                   /* no VERSION_1 */
        { "features", "0x100000000", EPROTO },           /* no ACCESS_PLATFORM */
        { "features", "300000000", EPROTO },             /* no 0x */
        { "features", "0x3000000001234567890", EPROTO }, /* > 64 bits */
        { "max-queue-size", "3", EPROTO },
        { "max-queue-size", "96", EPROTO },
        { "max-queue-size", "4096", EPROTO },
        { "max-queue-size", "-256", EPROTO },
        { "max-queues", "0", EPROTO },
        { "max-queues", "9", EPROTO },
        { "device-id", "blk", EPROTO },
        { "config", "zz", EPROTO },
        { "config", "abc", EPROTO },
        { "config", "0x00", EPROTO },
        { "mode", "bogus", EPROTO },
        { "mode", "static", EPROTO },   /* static without a region key */
        { "device-id", "", EPROTO },
    };
    struct vgf_opts o = { .timeout_ms = SHORT_TIMEOUT_MS };
    struct sb s;
    struct vg_hyp *feh;
    char big[2 * VG_MAX_CONFIG_BYTES + 3];

    (void)state;
    sb_init(&s, SB_ECHO, SB_OK);
    feh = vg_fake_open(s.w, FE_DOM);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        put_device_keys(&s);
        xs_put(s.h, s.be_dir, cases[i].key, "%s", cases[i].value);
        xs_put(s.h, s.be_dir, "state", "2");
        errno = 0;
        assert_null(vgf_open(feh, DEVID, &o));
        if (errno != cases[i].err)
            fail_msg("%s=%s: errno %d", cases[i].key, cases[i].value, errno);
        assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), 0);
        assert_int_equal(vg_fake_bound_ports(s.w, FE_DOM), 0);
        assert_int_not_equal(vg_xs_read_state(s.h, s.fe_dir), VG_XB_INITIALISED);
    }
    /* config longer than VG_MAX_CONFIG_BYTES */
    put_device_keys(&s);
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    xs_put(s.h, s.be_dir, "config", "%s", big);
    assert_null(vgf_open(feh, DEVID, &o));
    assert_int_equal(errno, EPROTO);
    /* wrong "backend" path in our own directory */
    put_device_keys(&s);
    xs_put(s.h, s.fe_dir, "backend", "/local/domain/0/backend/vbd/1/3");
    assert_null(vgf_open(feh, DEVID, &o));
    assert_int_equal(errno, EPROTO);
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), 0);
    vg_hyp_close(feh);
    sb_fini(&s);
}

/* ------------------------------------------------------------------ */
/* request path                                                         */
/* ------------------------------------------------------------------ */

static void test_echo_roundtrip_revokes_grants(void **state)
{
    struct sb s;
    struct vg_hyp *feh;
    struct vgf_dev *d;
    uint8_t out[3000], in[3000];
    struct vgf_iov o = { out, sizeof(out) }, i = { in, sizeof(in) };
    struct vgf_stats st;
    void *cookie;
    uint32_t len;

    (void)state;
    sb_init(&s, SB_ECHO, SB_OK);
    sb_start(&s);
    d = open_fe(&s, &feh);
    fill(out, sizeof(out), 1);
    for (int round = 0; round < 50; round++) {
        memset(in, 0, sizeof(in));
        assert_int_equal(vgf_submit(d, 0, &o, 1, &i, 1, &s), 0);
        assert_int_equal(vgf_complete(d, 0, &cookie, &len, TIMEOUT_MS), 0);
        assert_ptr_equal(cookie, &s);
        assert_int_equal(len, sizeof(in));
        for (size_t k = 0; k < sizeof(in); k++)
            assert_int_equal(in[k], (uint8_t)~out[k]);
        /* nothing but the rings stays granted */
        assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), RING_PAGES);
    }
    assert_int_equal(vgf_complete(d, 0, &cookie, &len, 0), -1);
    assert_int_equal(errno, ENODATA);
    vgf_get_stats(d, &st);
    assert_int_equal(st.requests, 50);
    assert_int_equal(st.completed, 50);
    assert_int_equal(st.share_calls, 100);
    assert_int_equal(st.pages_shared, 100);
    assert_int_equal(st.bad_completions, 0);
    assert_true(st.kicks + st.kicks_suppressed == 50);
    vgf_close(d);
    vg_hyp_close(feh);
    sb_fini(&s);
}

static void test_many_in_flight_and_queue_full(void **state)
{
    struct sb s;
    struct vg_hyp *feh;
    struct vgf_dev *d;
    static uint8_t out[256][64], in[256][64];
    bool seen[256] = { false };
    void *cookie;
    uint32_t len;
    unsigned n = 0;

    (void)state;
    sb_init(&s, SB_ECHO, SB_HOLD);
    sb_start(&s);
    d = open_fe(&s, &feh);
    /* two descriptors per request: 128 fit a 256 ring */
    for (;;) {
        struct vgf_iov o = { out[n], 64 }, i = { in[n], 64 };
        fill(out[n], 64, n);
        if (vgf_submit(d, 0, &o, 1, &i, 1, &seen[n]))
            break;
        n++;
    }
    assert_int_equal(errno, ENOSPC);
    assert_int_equal(n, 128);
    assert_int_equal(vgf_in_flight(d, 0), 128);
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), RING_PAGES + 2 * 128);
    sb_wait_popped(&s, 128);
    sb_poke(&s, &s.complete_held);
    for (unsigned k = 0; k < n; k++) {
        bool *flag;
        assert_int_equal(vgf_complete(d, 0, &cookie, &len, TIMEOUT_MS), 0);
        flag = cookie;
        assert_false(*flag);
        *flag = true;
        assert_int_equal(len, 64);
        size_t idx = (size_t)(flag - seen);
        for (unsigned b = 0; b < 64; b++)
            assert_int_equal(in[idx][b], (uint8_t)~out[idx][b]);
    }
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), RING_PAGES);
    vgf_close(d);
    vg_hyp_close(feh);
    sb_fini(&s);
}

static void test_multipage_buffer_descriptors(void **state)
{
    struct sb s;
    struct vg_hyp *feh;
    struct vgf_dev *d;
    size_t n = 64 * 1024 + 100;
    uint8_t *out = malloc(n), *in = malloc(n);
    struct vgf_iov o = { out, n }, i = { in, n };
    struct vgf_stats st;
    void *cookie;
    uint32_t len;

    (void)state;
    sb_init(&s, SB_ECHO, SB_OK);
    sb_start(&s);
    d = open_fe(&s, &feh);
    fill(out, n, 3);
    assert_int_equal(vgf_submit(d, 0, &o, 1, &i, 1, NULL), 0);
    assert_int_equal(vgf_complete(d, 0, &cookie, &len, TIMEOUT_MS), 0);
    assert_int_equal(len, n);
    for (size_t k = 0; k < n; k++)
        assert_int_equal(in[k], (uint8_t)~out[k]);
    vgf_get_stats(d, &st);
    /* 17 pages each way, fresh refs come out consecutive in the fake */
    assert_int_equal(st.pages_shared, 34);
    assert_int_equal(st.descriptors, 2);

    /* a segment limit cuts descriptors, the data still arrives whole */
    vgf_set_max_segment(d, 4096);
    assert_int_equal(vgf_submit(d, 0, &o, 1, &i, 1, NULL), 0);
    assert_int_equal(vgf_complete(d, 0, &cookie, &len, TIMEOUT_MS), 0);
    vgf_get_stats(d, &st);
    assert_int_equal(st.descriptors, 2 + 34);
    for (size_t k = 0; k < n; k++)
        assert_int_equal(in[k], (uint8_t)~out[k]);
    assert_int_equal(s.max_chain, 34);
    vgf_close(d);
    vg_hyp_close(feh);
    sb_fini(&s);
    free(out);
    free(in);
}

static void test_frontend_subpage_buffer_isolation(void **state)
{
    struct sb s;
    struct vg_hyp *feh;
    struct vgf_dev *d;
    uint8_t *mem = malloc(3 * VG_PAGE_SIZE);
    uint8_t *out, *in;
    struct vgf_iov o, i;
    void *cookie;
    uint32_t len;

    (void)state;
    sb_init(&s, SB_ECHO, SB_OK);
    sb_start(&s);
    d = open_fe(&s, &feh);
    /* secrets all around two 512-byte buffers at odd addresses */
    memset(mem, 0xA5, 3 * VG_PAGE_SIZE);
    out = mem + 1000 + 3;
    in = mem + 2 * VG_PAGE_SIZE - 300;   /* crosses a page boundary */
    fill(out, 512, 9);
    o = (struct vgf_iov){ out, 512 };
    i = (struct vgf_iov){ in, 512 };
    assert_int_equal(vgf_submit(d, 0, &o, 1, &i, 1, NULL), 0);
    assert_int_equal(vgf_complete(d, 0, &cookie, &len, TIMEOUT_MS), 0);

    pthread_mutex_lock(&s.lock);
    assert_int_equal(s.nrec, 2);
    for (unsigned r = 0; r < 2; r++) {
        const struct sb_record *rec = &s.rec[r];
        assert_int_equal(rec->len, 512);
        assert_int_equal(vg_grant_addr_offset(rec->addr), 0);
        assert_int_equal(rec->write, r == 1);
        /* the page the backend could map: the request's data, then zeros */
        for (unsigned b = 0; b < VG_PAGE_SIZE; b++) {
            if (r == 0 && b < 512)
                assert_int_equal(rec->page[b], out[b]);
            else
                assert_int_equal(rec->page[b], 0);
        }
    }
    pthread_mutex_unlock(&s.lock);
    /* the secrets around the in buffer are intact */
    assert_int_equal(in[-1], 0xA5);
    assert_int_equal(in[512], 0xA5);
    assert_int_equal(in[0], (uint8_t)~out[0]);
    vgf_close(d);
    vg_hyp_close(feh);
    sb_fini(&s);
    free(mem);
}

static void echo_check(struct vgf_dev *d, unsigned rounds)
{
    uint8_t out[5000], in[5000];
    struct vgf_iov o = { out, sizeof(out) }, i = { in, sizeof(in) };
    void *cookie;
    uint32_t len;

    for (unsigned r = 0; r < rounds; r++) {
        fill(out, sizeof(out), r);
        assert_int_equal(vgf_submit(d, 0, &o, 1, &i, 1, NULL), 0);
        assert_int_equal(vgf_complete(d, 0, &cookie, &len, TIMEOUT_MS), 0);
        assert_int_equal(len, sizeof(in));
        assert_int_equal(in[4999], (uint8_t)~out[4999]);
    }
}

static void test_large_queue_uses_multipage_rings(void **state)
{
    struct vgf_opts opts = fast_opts;
    struct sb s;
    struct vg_hyp *feh;
    struct vgf_dev *d;

    (void)state;
    sb_init(&s, SB_ECHO, SB_OK);
    s.max_qsize = 1024;
    sb_start(&s);
    feh = vg_fake_open(s.w, FE_DOM);
    opts.queue_size = 1024;
    d = vgf_open(feh, DEVID, &opts);
    assert_non_null(d);
    assert_int_equal(vgf_queue_size(d), 1024);
    /* desc 4 pages, avail 1, used 3 */
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), 8);
    echo_check(d, 1500);   /* wraps the 1024-entry ring */
    vgf_close(d);
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), 0);
    vg_hyp_close(feh);
    sb_fini(&s);
}

/* share_pages that reports a multi-page share's refs out of order, as a
 * real grant table may hand them out. */
static const struct vg_hyp_ops *real_ops;

static void *scattered_share_pages(struct vg_hyp *h, uint16_t domid,
                                   uint32_t count, vg_gref_t *refs, bool w)
{
    void *p = real_ops->share_pages(h, domid, count, refs, w);

    if (p && count > 1) {
        vg_gref_t t = refs[0];
        refs[0] = refs[1];
        refs[1] = t;
    }
    return p;
}

static void test_scattered_ring_refs_fall_back_to_one_page_queue(void **state)
{
    struct vgf_opts opts = fast_opts;
    struct vg_hyp_ops scattered;
    struct sb s;
    struct vg_hyp *feh;
    struct vgf_dev *d;

    (void)state;
    sb_init(&s, SB_ECHO, SB_OK);
    s.max_qsize = 1024;
    sb_start(&s);
    feh = vg_fake_open(s.w, FE_DOM);
    real_ops = feh->ops;
    scattered = *feh->ops;
    scattered.share_pages = scattered_share_pages;
    feh->ops = &scattered;
    opts.queue_size = 512;
    d = vgf_open(feh, DEVID, &opts);
    feh->ops = real_ops;   /* only the rings were shared through it */
    assert_non_null(d);
    assert_int_equal(vgf_queue_size(d), 256);
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), RING_PAGES);
    echo_check(d, 10);
    vgf_close(d);
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), 0);
    vg_hyp_close(feh);
    sb_fini(&s);
}

static void test_submit_rejects_bad_arguments(void **state)
{
    struct sb s;
    struct vg_hyp *feh;
    struct vgf_dev *d;
    uint8_t buf[16];
    struct vgf_iov ok = { buf, 16 }, zero = { buf, 0 }, null = { NULL, 16 };
    struct vgf_iov many[300];

    (void)state;
    sb_init(&s, SB_ECHO, SB_OK);
    sb_start(&s);
    d = open_fe(&s, &feh);
    assert_int_equal(vgf_submit(d, 1, &ok, 1, NULL, 0, NULL), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(vgf_submit(d, 0, NULL, 0, NULL, 0, NULL), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(vgf_submit(d, 0, &zero, 1, NULL, 0, NULL), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(vgf_submit(d, 0, &null, 1, NULL, 0, NULL), -1);
    assert_int_equal(errno, EINVAL);
    for (int k = 0; k < 300; k++)
        many[k] = ok;
    assert_int_equal(vgf_submit(d, 0, many, 300, NULL, 0, NULL), -1);
    assert_int_equal(errno, E2BIG);
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), RING_PAGES);
    vgf_close(d);
    vg_hyp_close(feh);
    sb_fini(&s);
}

/* ------------------------------------------------------------------ */
/* hostile completions                                                  */
/* ------------------------------------------------------------------ */

/* An in buffer with guard bytes on both sides. */
struct guarded {
    uint8_t before[64];
    uint8_t buf[100];
    uint8_t after[4096];
};

static void guarded_init(struct guarded *g)
{
    memset(g, 0xC3, sizeof(*g));
}

static void guarded_check(const struct guarded *g)
{
    for (size_t k = 0; k < sizeof(g->before); k++)
        assert_int_equal(g->before[k], 0xC3);
    for (size_t k = 0; k < sizeof(g->after); k++)
        assert_int_equal(g->after[k], 0xC3);
}

static void expect_device_failed(struct sb *s, struct vgf_dev *d)
{
    struct vgf_stats st;

    assert_false(vgf_connected(d));
    vgf_get_stats(d, &st);
    assert_true(st.bad_completions >= 1);
    assert_int_equal(vg_fake_live_grants(s->w, FE_DOM), 0);
    assert_int_equal(vg_fake_bound_ports(s->w, FE_DOM), 0);
    assert_int_equal(vg_xs_read_state(s->h, s->fe_dir), VG_XB_CLOSING);
}

static void hostile_single(enum sb_hostile mode)
{
    struct sb s;
    struct vg_hyp *feh;
    struct vgf_dev *d;
    struct guarded g;
    uint8_t out[100];
    struct vgf_iov o = { out, sizeof(out) }, i = { g.buf, sizeof(g.buf) };
    void *cookie;
    uint32_t len;

    sb_init(&s, SB_ECHO, mode);
    sb_start(&s);
    d = open_fe(&s, &feh);
    guarded_init(&g);
    fill(out, sizeof(out), 5);
    assert_int_equal(vgf_submit(d, 0, &o, 1, &i, 1, &g), 0);
    assert_int_equal(vgf_complete(d, 0, &cookie, &len, TIMEOUT_MS), -1);
    assert_int_equal(errno, EIO);
    assert_ptr_equal(cookie, &g);
    guarded_check(&g);
    expect_device_failed(&s, d);
    assert_int_equal(vgf_complete(d, 0, &cookie, &len, TIMEOUT_MS), -1);
    assert_int_equal(errno, ENOTCONN);
    assert_null(cookie);
    assert_int_equal(vgf_submit(d, 0, &o, 1, &i, 1, &g), -1);
    assert_int_equal(errno, EIO);
    vgf_close(d);
    assert_int_equal(vg_xs_read_state(s.h, s.fe_dir), VG_XB_CLOSED);
    vg_hyp_close(feh);
    sb_fini(&s);
}

static void test_hostile_backend_bad_used_id(void **state)
{
    (void)state;
    hostile_single(SB_BAD_ID);
}

static void test_hostile_backend_used_len_too_long(void **state)
{
    (void)state;
    hostile_single(SB_LONG_LEN);
}

static void test_hostile_backend_duplicate_completion(void **state)
{
    struct sb s;
    struct vg_hyp *feh;
    struct vgf_dev *d;
    struct guarded a, b;
    uint8_t out[100];
    struct vgf_iov o = { out, sizeof(out) };
    struct vgf_iov ia = { a.buf, sizeof(a.buf) }, ib = { b.buf, sizeof(b.buf) };
    void *cookie;
    uint32_t len;

    (void)state;
    sb_init(&s, SB_ECHO, SB_DUP);
    sb_start(&s);
    d = open_fe(&s, &feh);
    guarded_init(&a);
    guarded_init(&b);
    fill(out, sizeof(out), 6);
    assert_int_equal(vgf_submit(d, 0, &o, 1, &ia, 1, &a), 0);
    assert_int_equal(vgf_submit(d, 0, &o, 1, &ib, 1, &b), 0);
    /* the first completion is genuine */
    assert_int_equal(vgf_complete(d, 0, &cookie, &len, TIMEOUT_MS), 0);
    assert_ptr_equal(cookie, &a);
    assert_int_equal(len, 100);
    assert_int_equal(a.buf[0], (uint8_t)~out[0]);
    /* the duplicate must not complete b */
    assert_int_equal(vgf_complete(d, 0, &cookie, &len, TIMEOUT_MS), -1);
    assert_int_equal(errno, EIO);
    assert_ptr_equal(cookie, &b);
    for (size_t k = 0; k < sizeof(b.buf); k++)
        assert_int_equal(b.buf[k], 0xC3);
    guarded_check(&a);
    guarded_check(&b);
    expect_device_failed(&s, d);
    vgf_close(d);
    vg_hyp_close(feh);
    sb_fini(&s);
}

static void test_hostile_backend_vanishes(void **state)
{
    struct sb s;
    struct vg_hyp *feh;
    struct vgf_dev *d;
    uint8_t out[3][100], in[3][100];
    bool got[3] = { false };
    void *cookie;
    uint32_t len;

    (void)state;
    sb_init(&s, SB_ECHO, SB_HOLD);
    sb_start(&s);
    d = open_fe(&s, &feh);
    for (int k = 0; k < 3; k++) {
        struct vgf_iov o = { out[k], 100 }, i = { in[k], 100 };
        memset(in[k], 0x11, 100);
        assert_int_equal(vgf_submit(d, 0, &o, 1, &i, 1, &got[k]), 0);
    }
    sb_wait_popped(&s, 3);
    sb_poke(&s, &s.go_closing);
    for (int k = 0; k < 3; k++) {
        assert_int_equal(vgf_complete(d, 0, &cookie, &len, TIMEOUT_MS), -1);
        assert_int_equal(errno, EIO);
        assert_non_null(cookie);
        assert_false(*(bool *)cookie);
        *(bool *)cookie = true;
    }
    for (int k = 0; k < 3; k++) {
        assert_true(got[k]);
        assert_int_equal(in[k][0], 0x11);   /* nothing copied back */
    }
    assert_int_equal(vgf_complete(d, 0, &cookie, &len, TIMEOUT_MS), -1);
    assert_int_equal(errno, ENOTCONN);
    assert_false(vgf_connected(d));
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), 0);
    assert_int_equal(vg_fake_bound_ports(s.w, FE_DOM), 0);
    assert_int_equal(vg_xs_read_state(s.h, s.fe_dir), VG_XB_CLOSED);

    /* the backend comes back: reconnect and work again */
    pthread_mutex_lock(&s.lock);
    s.hostile = SB_OK;
    pthread_mutex_unlock(&s.lock);
    assert_int_equal(vgf_reconnect(d), 0);
    assert_true(vgf_connected(d));
    {
        struct vgf_iov o = { out[0], 100 }, i = { in[0], 100 };
        fill(out[0], 100, 8);
        assert_int_equal(vgf_submit(d, 0, &o, 1, &i, 1, NULL), 0);
        assert_int_equal(vgf_complete(d, 0, &cookie, &len, TIMEOUT_MS), 0);
        assert_int_equal(in[0][99], (uint8_t)~out[0][99]);
    }
    vgf_close(d);
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), 0);
    vg_hyp_close(feh);
    sb_fini(&s);
}

static void test_hostile_backend_directory_removed(void **state)
{
    struct sb s;
    struct vg_hyp *feh;
    struct vgf_dev *d;
    uint8_t out[100], in[100];
    struct vgf_iov o = { out, 100 }, i = { in, 100 };
    void *cookie;
    uint32_t len;

    (void)state;
    sb_init(&s, SB_ECHO, SB_HOLD);
    sb_start(&s);
    d = open_fe(&s, &feh);
    assert_int_equal(vgf_submit(d, 0, &o, 1, &i, 1, &s), 0);
    sb_wait_popped(&s, 1);
    pthread_mutex_lock(&s.lock);
    assert_int_equal(s.h->ops->xs_rm(s.h, VG_XS_NO_TX, s.be_dir), 0);
    pthread_mutex_unlock(&s.lock);
    assert_int_equal(vgf_complete(d, 0, &cookie, &len, TIMEOUT_MS), -1);
    assert_int_equal(errno, EIO);
    assert_ptr_equal(cookie, &s);
    assert_false(vgf_connected(d));
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), 0);
    vgf_close(d);   /* bounded: the backend state reads as gone */
    vg_hyp_close(feh);
    sb_fini(&s);
}

static bool share_fails;

static void *failing_share_pages(struct vg_hyp *h, uint16_t domid,
                                 uint32_t count, vg_gref_t *refs, bool w)
{
    if (share_fails) {
        errno = ENOSPC;
        return NULL;
    }
    return real_ops->share_pages(h, domid, count, refs, w);
}

static void test_grant_space_exhausted(void **state)
{
    struct vg_hyp_ops failing;
    struct sb s;
    struct vg_hyp *feh;
    struct vgf_dev *d;
    uint8_t out[100], in[100];
    struct vgf_iov o = { out, 100 }, i = { in, 100 };
    struct vgf_stats st;
    void *cookie;
    uint32_t len;

    (void)state;
    sb_init(&s, SB_ECHO, SB_HOLD);
    sb_start(&s);
    d = open_fe(&s, &feh);
    real_ops = feh->ops;
    failing = *feh->ops;
    failing.share_pages = failing_share_pages;
    feh->ops = &failing;

    share_fails = true;
    /* nothing in flight: a real failure */
    assert_int_equal(vgf_submit(d, 0, &o, 1, &i, 1, NULL), -1);
    assert_int_equal(errno, ENOSPC);
    share_fails = false;
    assert_int_equal(vgf_submit(d, 0, &o, 1, &i, 1, &s), 0);
    share_fails = true;
    /* one in flight: completing it frees grant space, so try again */
    assert_int_equal(vgf_submit(d, 0, &o, 1, &i, 1, NULL), -1);
    assert_int_equal(errno, EAGAIN);
    share_fails = false;
    /* the failed submissions left nothing behind */
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), RING_PAGES + 2);
    assert_int_equal(vgf_in_flight(d, 0), 1);
    vgf_get_stats(d, &st);
    assert_int_equal(st.requests, 1);

    sb_poke(&s, &s.complete_held);
    assert_int_equal(vgf_complete(d, 0, &cookie, &len, TIMEOUT_MS), 0);
    assert_ptr_equal(cookie, &s);
    feh->ops = real_ops;
    vgf_close(d);
    vg_hyp_close(feh);
    sb_fini(&s);
}

static void test_frontend_spurious_events(void **state)
{
    struct sb s;
    struct vg_hyp *feh;
    struct vgf_dev *d;
    uint8_t out[100], in[100];
    struct vgf_iov o = { out, 100 }, i = { in, 100 };
    struct vgf_stats st;
    void *cookie;
    uint32_t len;

    (void)state;
    sb_init(&s, SB_ECHO, SB_HOLD);
    sb_start(&s);
    d = open_fe(&s, &feh);
    fill(out, 100, 2);
    memset(in, 0, sizeof(in));
    assert_int_equal(vgf_submit(d, 0, &o, 1, &i, 1, &s), 0);
    sb_wait_popped(&s, 1);
    for (int round = 0; round < 5; round++) {
        pthread_mutex_lock(&s.lock);
        for (int k = 0; k < 200; k++)
            assert_int_equal(s.h->ops->evtchn_notify(s.h, (vg_port_t)s.port), 0);
        pthread_mutex_unlock(&s.lock);
        assert_int_equal(vgf_complete(d, 0, &cookie, &len, 20), -1);
        assert_int_equal(errno, ETIMEDOUT);
        assert_null(cookie);
    }
    assert_int_equal(in[0], 0);
    vgf_get_stats(d, &st);
    assert_true(st.events >= 1);
    assert_true(st.spurious_events >= 1);
    assert_int_equal(st.completed, 0);
    sb_poke(&s, &s.complete_held);
    assert_int_equal(vgf_complete(d, 0, &cookie, &len, TIMEOUT_MS), 0);
    assert_ptr_equal(cookie, &s);
    assert_int_equal(in[0], (uint8_t)~out[0]);
    vgf_close(d);
    vg_hyp_close(feh);
    sb_fini(&s);
}

/* ------------------------------------------------------------------ */
/* virtio-blk                                                           */
/* ------------------------------------------------------------------ */

static struct vgf_blk *open_blk(struct sb *s, struct vg_hyp **feh)
{
    struct vgf_blk *b;

    *feh = vg_fake_open(s->w, FE_DOM);
    assert_non_null(*feh);
    b = vgf_blk_open(*feh, DEVID, &fast_opts);
    assert_non_null(b);
    return b;
}

static void test_blk_read_write_roundtrip(void **state)
{
    static const struct { uint64_t off; size_t len; } io[] = {
        { 0, 512 }, { 512, 512 }, { 4096 + 1536, 4096 }, { 7 * 512, 64 * 1024 },
        { 3 * 512, 1024 * 1024 + 512 }, { DISK_BYTES - 512, 512 },
    };
    struct sb s;
    struct vg_hyp *feh;
    struct vgf_blk *b;
    uint8_t *wbuf = malloc(2 << 20), *rbuf = malloc(2 << 20);
    char id[21];

    (void)state;
    sb_init(&s, SB_BLK, SB_OK);
    s.seg_max = 16;          /* forces 1M+ I/O into many requests */
    sb_start(&s);
    b = open_blk(&s, &feh);
    assert_int_equal(vgf_blk_capacity(b), DISK_BYTES);
    assert_false(vgf_blk_readonly(b));
    assert_int_equal(vgf_blk_seg_max(b), 16);
    assert_true(vgf_blk_max_request(b) <= 16 * 4096);
    assert_true(vgf_blk_has_flush(b));

    for (size_t k = 0; k < sizeof(io) / sizeof(io[0]); k++) {
        fill(wbuf, io[k].len, (unsigned)k + 1);
        memset(rbuf, 0, io[k].len);
        assert_int_equal(vgf_blk_write(b, io[k].off, wbuf, io[k].len), 0);
        assert_memory_equal(s.disk + io[k].off, wbuf, io[k].len);
        assert_int_equal(vgf_blk_read(b, io[k].off, rbuf, io[k].len), 0);
        assert_memory_equal(rbuf, wbuf, io[k].len);
    }
    assert_true(s.max_chain <= 16 + 2);
    assert_int_equal(vgf_blk_flush(b), 0);
    assert_int_equal(vgf_blk_get_id(b, id), 0);
    assert_string_equal(id, "sb-disk-?");

    /* argument checks */
    assert_int_equal(vgf_blk_read(b, 100, rbuf, 512), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(vgf_blk_read(b, 0, rbuf, 100), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(vgf_blk_read(b, DISK_BYTES, rbuf, 512), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(vgf_blk_write(b, UINT64_MAX - 511, wbuf, 512), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), RING_PAGES);
    vgf_blk_close(b);
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), 0);
    vg_hyp_close(feh);
    sb_fini(&s);
    free(wbuf);
    free(rbuf);
}

static void test_blk_async_depth(void **state)
{
    struct sb s;
    struct vg_hyp *feh;
    struct vgf_blk *b;
    enum { N = 40, SZ = 8192 };
    static uint8_t bufs[N][SZ];
    bool done[N] = { false };
    unsigned submitted = 0, completed = 0, max_depth = 0;

    (void)state;
    sb_init(&s, SB_BLK, SB_OK);
    sb_start(&s);
    b = open_blk(&s, &feh);
    while (completed < N) {
        while (submitted < N) {
            fill(bufs[submitted], SZ, submitted);
            if (vgf_blk_submit_write(b, (uint64_t)submitted * SZ, bufs[submitted],
                                     SZ, &done[submitted]))
                break;
            submitted++;
            if (vgf_blk_in_flight(b) > max_depth)
                max_depth = vgf_blk_in_flight(b);
        }
        void *c;
        assert_int_equal(vgf_blk_wait(b, &c, TIMEOUT_MS), 0);
        assert_false(*(bool *)c);
        *(bool *)c = true;
        completed++;
    }
    assert_true(max_depth > 1);
    assert_int_equal(vgf_blk_wait(b, NULL, 0), -1);
    assert_int_equal(errno, ENODATA);
    for (unsigned k = 0; k < N; k++)
        assert_memory_equal(s.disk + (size_t)k * SZ, bufs[k], SZ);
    vgf_blk_close(b);
    vg_hyp_close(feh);
    sb_fini(&s);
}

static void test_blk_errors_are_reported(void **state)
{
    struct sb s;
    struct vg_hyp *feh;
    struct vgf_blk *b;
    uint8_t buf[4096] = { 0 };
    char id[21];

    (void)state;
    sb_init(&s, SB_BLK, SB_OK);
    s.features |= VG_FEATURE(VIRTIO_BLK_F_RO);
    s.readonly = true;
    s.fail_sector = 16;
    s.no_get_id = true;
    sb_start(&s);
    b = open_blk(&s, &feh);
    assert_true(vgf_blk_readonly(b));
    /* refused before anything is sent */
    assert_int_equal(vgf_blk_write(b, 0, buf, 512), -1);
    assert_int_equal(errno, EROFS);
    assert_int_equal(vgf_blk_submit_write(b, 0, buf, 512, NULL), -1);
    assert_int_equal(errno, EROFS);
    assert_int_equal(s.popped, 0);
    assert_int_equal(vgf_blk_read(b, 0, buf, 512), 0);
    /* VIRTIO_BLK_S_IOERR */
    assert_int_equal(vgf_blk_read(b, 16 * 512, buf, 4096), -1);
    assert_int_equal(errno, EIO);
    /* VIRTIO_BLK_S_UNSUPP */
    assert_int_equal(vgf_blk_get_id(b, id), -1);
    assert_int_equal(errno, EOPNOTSUPP);
    /* the device still works after failed requests */
    assert_int_equal(vgf_blk_read(b, 0, buf, 4096), 0);
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), RING_PAGES);
    vgf_blk_close(b);
    vg_hyp_close(feh);
    sb_fini(&s);

    sb_init(&s, SB_BLK, SB_OK);
    s.features &= ~VG_FEATURE(VIRTIO_BLK_F_FLUSH);
    sb_start(&s);
    b = open_blk(&s, &feh);
    assert_false(vgf_blk_has_flush(b));
    assert_int_equal(vgf_blk_flush(b), 0);   /* write-through: nothing sent */
    assert_int_equal(s.popped, 0);
    vgf_blk_close(b);
    vg_hyp_close(feh);
    sb_fini(&s);
}

static void test_hostile_backend_blk_status_not_written(void **state)
{
    struct sb s;
    struct vg_hyp *feh;
    struct vgf_blk *b;
    uint8_t buf[4096];

    (void)state;
    sb_init(&s, SB_BLK, SB_SHORT_LEN);   /* claims 0 bytes written */
    sb_start(&s);
    b = open_blk(&s, &feh);
    memset(buf, 0x77, sizeof(buf));
    assert_int_equal(vgf_blk_read(b, 0, buf, sizeof(buf)), -1);
    assert_int_equal(errno, EIO);
    /* nothing copied: used len 0 */
    assert_int_equal(buf[0], 0x77);
    assert_int_equal(vgf_blk_write(b, 0, buf, 512), -1);
    assert_int_equal(errno, EIO);
    vgf_blk_close(b);
    vg_hyp_close(feh);
    sb_fini(&s);
}

static void test_hostile_backend_blk_bad_config(void **state)
{
    struct sb s;
    struct vg_hyp *feh;

    (void)state;
    sb_init(&s, SB_BLK, SB_OK);
    s.seg_max = 0;             /* SEG_MAX offered with 0 segments */
    sb_start(&s);
    feh = vg_fake_open(s.w, FE_DOM);
    assert_null(vgf_blk_open(feh, DEVID, &fast_opts));
    assert_int_equal(errno, EPROTO);
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), 0);
    vg_hyp_close(feh);
    sb_fini(&s);

    sb_init(&s, SB_ECHO, SB_OK);  /* not a block device */
    sb_start(&s);
    feh = vg_fake_open(s.w, FE_DOM);
    assert_null(vgf_blk_open(feh, DEVID, &fast_opts));
    assert_int_equal(errno, ENODEV);
    assert_int_equal(vg_fake_live_grants(s.w, FE_DOM), 0);
    vg_hyp_close(feh);
    sb_fini(&s);
}

/* ------------------------------------------------------------------ */
/* verification helpers of vgrant-io                                    */
/* ------------------------------------------------------------------ */

static void test_cksum_matches_posix_cksum(void **state)
{
    uint8_t *buf = calloc(1, 100000);
    uint32_t crc;

    (void)state;
    /* reference values from coreutils cksum */
    assert_int_equal(vgf_cksum_finish(vgf_cksum_update(0, "123456789", 9), 9),
                     930766865u);
    assert_int_equal(vgf_cksum_finish(0, 0), 4294967295u);
    assert_int_equal(vgf_cksum_finish(vgf_cksum_update(0, buf, 100000), 100000),
                     1260869142u);
    fill(buf, 70000, 3);
    /* in pieces, as the CLI streams it */
    crc = vgf_cksum_update(0, buf, 4096);
    crc = vgf_cksum_update(crc, buf + 4096, 70000 - 4096);
    assert_int_equal(vgf_cksum_finish(crc, 70000), 396058721u);
    free(buf);
}

static void test_pattern_depends_on_offset_and_seed(void **state)
{
    uint8_t a[1024], b[1024], c[512];

    (void)state;
    vgf_pattern_fill(a, 4096, sizeof(a), 7);
    vgf_pattern_fill(b, 4096, sizeof(b), 7);
    assert_memory_equal(a, b, sizeof(a));
    /* a piece generated on its own equals the same range of a larger one */
    vgf_pattern_fill(c, 4096 + 512, sizeof(c), 7);
    assert_memory_equal(a + 512, c, sizeof(c));
    /* the same data one sector off, or with another seed, differs */
    vgf_pattern_fill(b, 4096 + 512, sizeof(b), 7);
    assert_memory_not_equal(a, b, 512);
    vgf_pattern_fill(b, 4096, sizeof(b), 8);
    assert_memory_not_equal(a, b, 512);
}

static void test_verify_engine_roundtrip(void **state)
{
    static const uint64_t sizes[] = { 512, 4096, 65536, 1 << 20 };
    struct vgf_verify_opts o = {
        .sizes = sizes, .nsizes = 4, .count = 3, .depth = 4, .seed = 99,
    };
    struct vgf_verify_result r;
    struct sb s;
    struct vg_hyp *feh;
    struct vgf_blk *b;
    uint8_t want[512];

    (void)state;
    sb_init(&s, SB_BLK, SB_OK);
    sb_start(&s);
    b = open_blk(&s, &feh);
    assert_int_equal(vgf_verify_run(b, &o, &r), VGF_VERIFY_OK);
    assert_false(r.mismatch);
    assert_int_equal(r.bytes, 3 * (512 + 4096 + 65536 + (1 << 20)));
    assert_int_equal(r.requests, 2 * 3 * 4);

    /* vgrant-io write: what lands on the disk is the pattern */
    assert_int_equal(vgf_write_pattern(b, 8192, 512, 5, 2, NULL), VGF_VERIFY_OK);
    vgf_pattern_fill(want, 8192, 512, 5);
    assert_memory_equal(s.disk + 8192, want, 512);
    assert_int_equal(vgf_write_pattern(b, 100, 512, 5, 2, NULL), VGF_VERIFY_USAGE);

    /* overlapping explicit offsets are refused before any I/O */
    {
        static const uint64_t offs[] = { 0, 4096 };
        struct vgf_verify_opts bad = o;
        bad.offsets = offs;
        bad.noffsets = 2;
        assert_int_equal(vgf_verify_run(b, &bad, &r), VGF_VERIFY_USAGE);
    }
    vgf_blk_close(b);
    vg_hyp_close(feh);
    sb_fini(&s);
}

/* vgrant-io seqwrite's steps: write n lands at its position (wrapping)
 * with the pattern of seed + n and the cksum dom0 would compute; a write
 * the backend never completes (it closed the device) fails and leaves the
 * block alone, and the same write completes in a new session. */
static void test_seq_write_numbered_blocks_and_reconnect(void **state)
{
    const struct vgf_seq q = { .start = 8192, .block = 4096, .nblocks = 3,
                               .seed = 1000 };
    uint8_t want[4096], before[4096];
    struct sb s;
    struct vg_hyp *feh;
    struct vgf_blk *b;
    uint32_t crc = 0;

    (void)state;
    sb_init(&s, SB_BLK, SB_OK);
    sb_start(&s);
    b = open_blk(&s, &feh);
    for (uint64_t n = 0; n < 5; n++) {
        assert_int_equal(vgf_seq_write(b, &q, n, &crc), VGF_VERIFY_OK);
        assert_int_equal(vgf_seq_offset(&q, n), 8192 + (n % 3) * 4096);
        assert_int_equal(crc, vgf_cksum_finish(vgf_cksum_update(0,
                         s.disk + vgf_seq_offset(&q, n), 4096), 4096));
    }
    /* writes 3 and 4 replaced 0 and 1; write 2 is still there */
    for (uint64_t pos = 0; pos < 3; pos++) {
        uint64_t n = pos == 2 ? 2 : pos + 3;

        vgf_pattern_fill(want, 8192 + pos * 4096, 4096, 1000 + n);
        assert_memory_equal(s.disk + 8192 + pos * 4096, want, 4096);
    }
    assert_int_equal(vgf_pattern_cksum(8192 + 4096, 4096, 1004), crc);

    /* the backend goes away: write 5 fails, its block keeps write 2 */
    memcpy(before, s.disk + vgf_seq_offset(&q, 5), 4096);
    sb_poke(&s, &s.go_closing);
    for (int i = 0; i < 2000 && vg_xs_read_state(s.h, s.be_dir) != VG_XB_CLOSED; i++)
        usleep(1000);
    assert_int_equal(vg_xs_read_state(s.h, s.be_dir), VG_XB_CLOSED);
    assert_int_equal(vgf_seq_write(b, &q, 5, &crc), VGF_VERIFY_FAILED);
    assert_memory_equal(s.disk + vgf_seq_offset(&q, 5), before, 4096);
    vgf_blk_close(b);
    vg_hyp_close(feh);

    /* a new session: write 5 completes */
    b = open_blk(&s, &feh);
    assert_int_equal(vgf_seq_write(b, &q, 5, &crc), VGF_VERIFY_OK);
    vgf_pattern_fill(want, vgf_seq_offset(&q, 5), 4096, 1005);
    assert_memory_equal(s.disk + vgf_seq_offset(&q, 5), want, 4096);

    /* a sequence that cannot be placed is refused before any I/O */
    {
        struct vgf_seq bad = q;
        bad.nblocks = 0;
        assert_int_equal(vgf_seq_write(b, &bad, 0, &crc), VGF_VERIFY_USAGE);
        bad = q;
        bad.block = 1000;
        assert_int_equal(vgf_seq_write(b, &bad, 0, &crc), VGF_VERIFY_USAGE);
    }
    vgf_blk_close(b);
    vg_hyp_close(feh);
    sb_fini(&s);
}

static void test_hostile_backend_corrupts_reads_verify_fails(void **state)
{
    static const uint64_t sizes[] = { 4096 };
    static const uint64_t offs[] = { 512 * 9 };
    struct vgf_verify_opts o = {
        .sizes = sizes, .nsizes = 1, .offsets = offs, .noffsets = 1,
        .depth = 2, .seed = 1,
    };
    struct vgf_verify_result r;
    struct sb s;
    struct vg_hyp *feh;
    struct vgf_blk *b;

    (void)state;
    sb_init(&s, SB_BLK, SB_OK);
    s.corrupt_reads = true;
    sb_start(&s);
    b = open_blk(&s, &feh);
    assert_int_equal(vgf_verify_run(b, &o, &r), VGF_VERIFY_FAILED);
    assert_true(r.mismatch);
    assert_int_equal(r.bad_offset, 512 * 9);
    assert_int_equal(r.bad_size, 4096);
    vgf_blk_close(b);
    vg_hyp_close(feh);
    sb_fini(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_connects_and_close_cleans_up),
        cmocka_unit_test(test_open_resets_stale_session),
        cmocka_unit_test(test_open_missing_device_is_enoent),
        cmocka_unit_test(test_hostile_backend_never_answers),
        cmocka_unit_test(test_hostile_backend_refuses_connection),
        cmocka_unit_test(test_hostile_backend_garbage_keys),
        cmocka_unit_test(test_echo_roundtrip_revokes_grants),
        cmocka_unit_test(test_many_in_flight_and_queue_full),
        cmocka_unit_test(test_multipage_buffer_descriptors),
        cmocka_unit_test(test_frontend_subpage_buffer_isolation),
        cmocka_unit_test(test_large_queue_uses_multipage_rings),
        cmocka_unit_test(test_scattered_ring_refs_fall_back_to_one_page_queue),
        cmocka_unit_test(test_submit_rejects_bad_arguments),
        cmocka_unit_test(test_hostile_backend_bad_used_id),
        cmocka_unit_test(test_hostile_backend_used_len_too_long),
        cmocka_unit_test(test_hostile_backend_duplicate_completion),
        cmocka_unit_test(test_hostile_backend_vanishes),
        cmocka_unit_test(test_hostile_backend_directory_removed),
        cmocka_unit_test(test_grant_space_exhausted),
        cmocka_unit_test(test_frontend_spurious_events),
        cmocka_unit_test(test_blk_read_write_roundtrip),
        cmocka_unit_test(test_blk_async_depth),
        cmocka_unit_test(test_blk_errors_are_reported),
        cmocka_unit_test(test_hostile_backend_blk_status_not_written),
        cmocka_unit_test(test_hostile_backend_blk_bad_config),
        cmocka_unit_test(test_cksum_matches_posix_cksum),
        cmocka_unit_test(test_pattern_depends_on_offset_and_seed),
        cmocka_unit_test(test_verify_engine_roundtrip),
        cmocka_unit_test(test_seq_write_numbered_blocks_and_reconnect),
        cmocka_unit_test(test_hostile_backend_corrupts_reads_verify_fails),
    };

    vg_log_init("test_frontend", VG_LOG_ERR);
    if (getenv("VG_TEST_DEBUG"))
        vg_log_set_level(VG_LOG_DEBUG);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
