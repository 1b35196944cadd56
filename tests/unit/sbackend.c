/* SPDX-License-Identifier: MIT */
/* The scripted backend of the libvgrant tests, see sbackend.h. */
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
#include "vgrant/hyp.h"
#include "vgrant/log.h"
#include "vgrant/protocol.h"
#include "vgrant/virtio.h"
#include "vgrant/virtqueue.h"
#include "vgrant/xsutil.h"
#include "sbackend.h"

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

/* toolstack part: the two directories                                  */
/* ------------------------------------------------------------------ */

void sb_xs_put(struct vg_hyp *h, const char *dir, const char *key,
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
    sb_xs_put(h, s->be_dir, "frontend", "%s", s->fe_dir);
    sb_xs_put(h, s->be_dir, "frontend-id", "%u", FE_DOM);
    sb_xs_put(h, s->be_dir, "online", "1");
    sb_xs_put(h, s->be_dir, "state", "1");
    sb_xs_put(h, s->fe_dir, "backend", "%s", s->be_dir);
    sb_xs_put(h, s->fe_dir, "backend-id", "%u", BE_DOM);
    sb_xs_put(h, s->fe_dir, "state", "1");
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
    sb_xs_put(s->h, s->be_dir, "config", "%s", hex);
}

/* The keys a backend publishes before InitWait. */
void sb_put_device_keys(struct sb *s)
{
    sb_xs_put(s->h, s->be_dir, "device-id", "%u",
           s->device == SB_BLK ? VIRTIO_ID_BLOCK : 42u);
    sb_xs_put(s->h, s->be_dir, "features", "0x%llx", (unsigned long long)s->features);
    sb_xs_put(s->h, s->be_dir, "max-queues", "1");
    sb_xs_put(s->h, s->be_dir, "max-queue-size", "%u", s->max_qsize);
    put_config(s);
    sb_xs_put(s->h, s->be_dir, "config-generation", "1");
    sb_xs_put(s->h, s->be_dir, "mode", "grant");
}

void sb_init(struct sb *s, enum sb_device dev, enum sb_hostile hostile)
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
    sb_xs_put(s->h, s->be_dir, "state", "%d", st);
}

int sb_fe_read_uint(struct sb *s, const char *key, uint64_t *v)
{
    return vg_xs_read_uint(s->h, VG_XS_NO_TX, s->fe_dir, key, UINT64_MAX, v);
}

static int sb_connect(struct sb *s)
{
    static const char *const area_key[3] = { "queue-0/desc", "queue-0/driver",
                                             "queue-0/device" };
    size_t bytes[3];
    uint64_t num, port, addr;

    if (sb_fe_read_uint(s, "queue-0/size", &num) ||
        sb_fe_read_uint(s, "queue-0/event-channel", &port))
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
    if (vq_dev_init(&s->vq, s->num, s->ring[0], s->ring[1], s->ring[2], true))
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
        vq_dev_free(&s->vq);
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
        SB_CHECK((vq_dev_push(&s->vq, head, len)) == (0));
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
        while ((rc = vq_dev_pop(&s->vq, &c)) == 1) {
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
        if (!vq_dev_enable_notify(&s->vq))
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
    if (pushed && (s->hostile != SB_OK || vq_dev_should_notify(&s->vq)))
        s->h->ops->evtchn_notify(s->h, (vg_port_t)s->port);
}

static void *sb_thread(void *arg)
{
    struct sb *s = arg;
    struct vg_hyp *h = s->h;
    char fe_state_path[VG_XS_PATH_MAX + 8];

    snprintf(fe_state_path, sizeof(fe_state_path), "%s/state", s->fe_dir);
    h->ops->xs_watch(h, fe_state_path, "sb");
    sb_put_device_keys(s);
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

void sb_start(struct sb *s)
{
    assert_int_equal(pthread_create(&s->thread, NULL, sb_thread, s), 0);
    s->running = true;
}

void sb_fini(struct sb *s)
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

void sb_poke(struct sb *s, bool *flag)
{
    pthread_mutex_lock(&s->lock);
    *flag = true;
    pthread_mutex_unlock(&s->lock);
}

void sb_wait_popped(struct sb *s, unsigned n)
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

const struct vgf_opts sb_fast_opts = {
    .features_wanted = VGF_FEATURES_DEFAULT, .timeout_ms = TIMEOUT_MS,
};

struct vgf_dev *sb_open_fe(struct sb *s, struct vg_hyp **feh)
{
    struct vgf_dev *d;

    *feh = vg_fake_open(s->w, FE_DOM);
    assert_non_null(*feh);
    d = vgf_open(*feh, DEVID, &sb_fast_opts);
    assert_non_null(d);
    return d;
}

void sb_fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 7 + seed);
}
