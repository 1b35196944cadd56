/* SPDX-License-Identifier: MIT */
/*
 * fuzz_frontend: libvgrant (frontend/) against a hostile backend.  Each
 * input plays the backend domain in a fake world:
 *   - it publishes the device keys (device-id, features, max-queues,
 *     max-queue-size, config, config-generation, mode, region), valid or
 *     fuzzer-distorted, and InitWait;
 *   - a helper thread (one for the process, woken per input) answers the
 *     handshake the way a backend would (maps the three ring areas the
 *     frontend names, binds its event channel, Connected), so vgf_open
 *     returns;
 *   - then the fuzzer submits requests through vgf_submit and, as the
 *     backend, writes used entries with real or bogus ids and lengths,
 *     moves used->idx by any amount, kicks or not, changes its config and
 *     its xenbus state, while the guest collects with vgf_complete and
 *     reads the config.
 * Checked: vgf_complete only ever returns a cookie that is in flight, at
 * most once, with a length within the request's writable bytes (and EIO /
 * ENOTCONN / ENODATA / ETIMEDOUT with the documented cookie); the library
 * never writes outside a caller's in[] buffer (ASan: exact-size buffers);
 * vgf_config_read stays inside the published config; and after vgf_close
 * the guest has no grant and no event channel left.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "fz.h"
#include "libvgrant.h"
#include "rawfront.h"
#include "vgrant/protocol.h"
#include "vgrant/virtio.h"
#include "vgrant/xsutil.h"

#define FE     6
#define DEVID  1
#define MAXREQ 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fz_world g_fw;   /* no toolstack handle: g_fw.be plays it */
/* the handshake helper thread (helper_main) */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static struct answer *g_job;     /* input being answered, NULL: idle */
static int g_stop_fd = -1;       /* eventfd: main pokes the helper */

struct answer {              /* the handshake thread's view */
    char fe_dir[VG_XS_PATH_MAX], be_dir[VG_XS_PATH_MAX];
    bool connected;
    uint16_t num;
    void *ring[3];
    uint32_t pages[3];
    int port;                /* our end, -1: none */
    bool stop;               /* vgf_open returned: give up waiting */
};

struct req {
    bool busy;
    uint32_t in_bytes;
    uint8_t *in, *out;       /* exact-size caller buffers */
};

struct ff {
    struct fz_in in;
    struct vgf_dev *d;
    struct vg_hyp *fe;
    struct answer a;
    struct req r[MAXREQ];
    uint16_t used_idx;       /* backend's next used entry */
    uint16_t avail_seen;
};

static size_t ring_bytes(unsigned which, unsigned num)
{
    return which == 0 ? vg_ring_desc_bytes(num) :
           which == 1 ? vg_ring_avail_bytes(num) : vg_ring_used_bytes(num);
}

/* The backend's side of the handshake: wait for Initialised, map what the
 * frontend names, bind its port, Connected. */
static void answer(struct answer *a)
{
    static const char *const area[3] = { "queue-0/desc", "queue-0/driver",
                                         "queue-0/device" };
    char path[VG_XS_PATH_MAX], tok[16];
    uint64_t v;

    /* Block on a watch of the frontend's state (no polling): the
     * frontend's writes, or main's poke once vgf_open returned, wake us. */
    vg_path(path, sizeof(path), "%s/" VG_KEY_STATE, a->fe_dir);
    FZ_CHECK(g_fw.be->ops->xs_watch(g_fw.be, path, "fz-answer") == 0, "watch");
    for (;;) {
        enum vg_xenbus_state st = vg_xs_read_state(g_fw.be, a->fe_dir);
        struct pollfd p[2] = { { g_fw.be->ops->xs_fd(g_fw.be), POLLIN, 0 },
                               { g_stop_fd, POLLIN, 0 } };
        if (st == VG_XB_INITIALISED)
            break;
        if (st == VG_XB_CLOSED || st == VG_XB_CLOSING ||
            __atomic_load_n(&a->stop, __ATOMIC_ACQUIRE) ||
            poll(p, 2, 3000) <= 0)
            goto out;
        while (g_fw.be->ops->xs_next_watch(g_fw.be, path, sizeof(path), tok,
                                        sizeof(tok)) == 0)
            ;
    }
    if (vg_xs_read_uint(g_fw.be, 0, a->fe_dir, "queue-0/size", VG_MAX_QUEUE_SIZE, &v))
        goto refuse;
    a->num = (uint16_t)v;
    for (unsigned k = 0; k < 3; k++) {
        vg_gref_t refs[8];
        uint64_t addr;
        if (vg_xs_read_hex64(g_fw.be, 0, a->fe_dir, area[k], &addr))
            goto refuse;
        a->pages[k] = (uint32_t)((ring_bytes(k, a->num) + VG_PAGE_SIZE - 1) /
                                 VG_PAGE_SIZE);
        if (a->pages[k] > 8)
            goto refuse;
        for (unsigned p = 0; p < a->pages[k]; p++)
            refs[p] = vg_grant_addr_ref(addr) + p;
        a->ring[k] = g_fw.be->ops->map_grants(g_fw.be, FE, a->pages[k], refs, true);
        if (!a->ring[k])
            goto refuse;
    }
    if (vg_xs_read_uint(g_fw.be, 0, a->fe_dir, "queue-0/event-channel", 4095, &v))
        goto refuse;
    a->port = g_fw.be->ops->evtchn_bind_interdomain(g_fw.be, FE, (vg_port_t)v);
    if (a->port < 0)
        goto refuse;
    a->connected = true;
    vg_xs_write_state(g_fw.be, a->be_dir, VG_XB_CONNECTED);
    goto out;
refuse:
    vg_xs_write_state(g_fw.be, a->be_dir, VG_XB_CLOSING);
out:
    vg_path(path, sizeof(path), "%s/" VG_KEY_STATE, a->fe_dir);
    g_fw.be->ops->xs_unwatch(g_fw.be, path, "fz-answer");
}

/* One helper thread for the whole process answers each input's handshake
 * (a thread per input cost more than the input under ASan). */
static void *helper_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&g_mu);
    for (;;) {
        while (!g_job)
            pthread_cond_wait(&g_cv, &g_mu);
        pthread_mutex_unlock(&g_mu);
        answer(g_job);
        pthread_mutex_lock(&g_mu);
        g_job = NULL;
        pthread_cond_broadcast(&g_cv);
    }
    return NULL;
}

static void helper_start(struct answer *a)
{
    static pthread_t tid;
    static bool started;

    if (!started) {
        g_stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        FZ_CHECK(g_stop_fd >= 0, "eventfd");
        FZ_CHECK(pthread_create(&tid, NULL, helper_main, NULL) == 0, "thread");
        started = true;
    }
    pthread_mutex_lock(&g_mu);
    g_job = a;
    pthread_cond_broadcast(&g_cv);
    pthread_mutex_unlock(&g_mu);
}

/* vgf_open returned: the helper gives up waiting (if it still is). */
static void helper_finish(struct answer *a)
{
    uint64_t one = 1;

    __atomic_store_n(&a->stop, true, __ATOMIC_RELEASE);
    FZ_CHECK(write(g_stop_fd, &one, sizeof(one)) == sizeof(one), "poke");
    pthread_mutex_lock(&g_mu);
    while (g_job)
        pthread_cond_wait(&g_cv, &g_mu);
    pthread_mutex_unlock(&g_mu);
    FZ_CHECK(read(g_stop_fd, &one, sizeof(one)) == sizeof(one), "unpoke");
}

/* Device keys: each valid unless the fuzzer distorts it. */
static void publish_device(struct ff *f)
{
    const char *be = f->a.be_dir;
    uint8_t distort = fz_u8(&f->in), m = fz_u8(&f->in);
    static const char *const modes[] = { VG_MODE_GRANT, VG_MODE_COPY,
                                         VG_MODE_PERSISTENT, VG_MODE_STATIC,
                                         VG_MODE_AUTO };
    char raw[80];
    uint64_t features = VG_FEATURES_REQUIRED |
                        VG_FEATURE(VIRTIO_RING_F_EVENT_IDX) |
                        VG_FEATURE(VIRTIO_BLK_F_SEG_MAX);

    if (distort & 0x40)
        features = fz_u64(&f->in);
    vg_xs_write_fmt(g_fw.be, 0, be, VG_KEY_DEVICE_ID, "%u", VIRTIO_ID_BLOCK);
    vg_xs_write_fmt(g_fw.be, 0, be, VG_KEY_FEATURES, "0x%" PRIx64, features);
    vg_xs_write_fmt(g_fw.be, 0, be, VG_KEY_MAX_QUEUES, "%u", 1 + (m >> 5) % 2);
    vg_xs_write_fmt(g_fw.be, 0, be, VG_KEY_MAX_QUEUE_SIZE, "%u",
                    1u << (1 + (m >> 3) % 4));     /* 2 .. 16 */
    vg_xs_write_fmt(g_fw.be, 0, be, VG_KEY_CONFIG, "%s",
                    "0010000000000000000001000040000000020000");
    vg_xs_write_fmt(g_fw.be, 0, be, VG_KEY_CONFIG_GENERATION, "1");
    vg_xs_write_fmt(g_fw.be, 0, be, VG_KEY_MODE, "%s", modes[m % 5]);
    vg_xs_write_fmt(g_fw.be, 0, be, VG_KEY_REGION, "%u", 16 * VG_PAGE_SIZE);
    if (distort & 0x80) {   /* one key replaced by fuzzer text */
        static const char *const keys[] = {
            VG_KEY_DEVICE_ID, VG_KEY_FEATURES, VG_KEY_MAX_QUEUES,
            VG_KEY_MAX_QUEUE_SIZE, VG_KEY_CONFIG, VG_KEY_CONFIG_GENERATION,
            VG_KEY_MODE, VG_KEY_REGION,
        };
        fz_str(&f->in, raw, sizeof(raw));
        vg_xs_write_fmt(g_fw.be, 0, be, keys[distort % 8], "%s", raw);
    }
    vg_xs_write_state(g_fw.be, be, VG_XB_INITWAIT);
}

static unsigned find_req(struct ff *f, void *cookie)
{
    for (unsigned i = 0; i < MAXREQ; i++)
        if (cookie == &f->r[i])
            return i;
    FZ_CHECK(0, "vgf_complete returned cookie %p we never submitted", cookie);
    return 0;
}

static void op_submit(struct ff *f)
{
    unsigned k;
    uint8_t shape = fz_u8(&f->in);
    uint32_t out_len = 1 + fz_u16(&f->in) % 9000;
    uint32_t in_len = 1 + fz_u16(&f->in) % 9000;
    struct vgf_iov out = { 0 }, in = { 0 };
    struct req *r;

    for (k = 0; k < MAXREQ && f->r[k].busy; k++)
        ;
    if (k == MAXREQ)
        return;
    r = &f->r[k];
    r->out = malloc(out_len);
    r->in = malloc(in_len);
    FZ_CHECK(r->out && r->in, "malloc");
    memset(r->out, 0xa5, out_len);
    memset(r->in, 0x5a, in_len);
    out = (struct vgf_iov){ r->out, out_len };
    in = (struct vgf_iov){ r->in, in_len };
    if (vgf_submit(f->d, 0, (shape & 1) ? &out : NULL, (shape & 1) ? 1 : 0,
                   (shape & 2) ? &in : NULL, (shape & 2) ? 1 : 0, r) == 0) {
        r->busy = true;
        r->in_bytes = (shape & 2) ? in_len : 0;
    } else {
        free(r->out);
        free(r->in);
        r->out = r->in = NULL;
    }
}

static void req_done(struct req *r)
{
    free(r->out);
    free(r->in);
    memset(r, 0, sizeof(*r));
}

static void op_complete(struct ff *f)
{
    void *cookie = (void *)1;
    uint32_t len = 0xdeadbeef;
    int rc = vgf_complete(f->d, 0, &cookie, &len, 0);

    if (rc == 0) {
        unsigned k = find_req(f, cookie);
        FZ_CHECK(f->r[k].busy, "cookie %u completed twice", k);
        FZ_CHECK(len <= f->r[k].in_bytes, "used length %u, request had %u "
                 "writable bytes", len, f->r[k].in_bytes);
        req_done(&f->r[k]);
        return;
    }
    if (errno == EIO) {
        unsigned k = find_req(f, cookie);
        FZ_CHECK(f->r[k].busy, "failed cookie %u returned twice", k);
        req_done(&f->r[k]);
        return;
    }
    FZ_CHECK(errno == ENOTCONN || errno == ENODATA || errno == ETIMEDOUT,
             "vgf_complete errno %d", errno);
    FZ_CHECK(cookie == NULL, "errno %d with a cookie", errno);
}

/* The backend publishes a used entry: a head it saw, or anything. */
static void op_used(struct ff *f)
{
    struct vring_avail *avail = f->a.ring[1];
    struct vring_used *used = f->a.ring[2];
    uint8_t how = fz_u8(&f->in);
    uint32_t id, len;

    if (!used)
        return;
    if ((how & 3) != 3 && f->avail_seen != le16toh(avail->idx)) {
        id = le16toh(avail->ring[f->avail_seen % f->a.num]);
        f->avail_seen++;
    } else {
        id = (how & 4) ? fz_u32(&f->in) : fz_u8(&f->in) % (f->a.num + 1u);
    }
    len = (how & 8) ? fz_u32(&f->in) : fz_u16(&f->in) % 10000;
    used->ring[f->used_idx % f->a.num].id = htole32(id);
    used->ring[f->used_idx % f->a.num].len = htole32(len);
    f->used_idx++;
    if (how & 0x10)
        f->used_idx = (uint16_t)(f->used_idx + fz_u8(&f->in));   /* jump */
    __atomic_store_n(&used->idx, htole16(f->used_idx), __ATOMIC_RELEASE);
    if (!(how & 0x20) && f->a.port >= 0)
        g_fw.be->ops->evtchn_notify(g_fw.be, (vg_port_t)f->a.port);
}

static void op_backend(struct ff *f)
{
    uint8_t what = fz_u8(&f->in);
    char raw[64];
    uint8_t cfg[64];

    switch (what % 4) {
    case 0:
        vg_xs_write_state(g_fw.be, f->a.be_dir, (enum vg_xenbus_state)(fz_u8(&f->in) % 9));
        break;
    case 1:   /* new config, maybe garbage, and a new generation */
        fz_str(&f->in, raw, sizeof(raw));
        vg_xs_write_fmt(g_fw.be, 0, f->a.be_dir, VG_KEY_CONFIG, "%s", raw);
        vg_xs_write_fmt(g_fw.be, 0, f->a.be_dir, VG_KEY_CONFIG_GENERATION, "%u",
                        fz_u8(&f->in));
        break;
    default: {
        unsigned off = fz_u16(&f->in) % 300, len = fz_u8(&f->in) % 64;
        if (vgf_config_read(f->d, off, cfg, len) == 0)
            FZ_CHECK(off + len <= vgf_config_size(f->d), "config read "
                     "[%u, +%u) of %u bytes", off, len, vgf_config_size(f->d));
        break;
    }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ff f;
    struct vgf_opts o = { .features_wanted = VGF_FEATURES_DEFAULT,
                          .timeout_ms = 2000, .pool_pages = 8 };
    struct rf_attach at = { .target = "/nonexistent" };
    char path[VG_XS_PATH_MAX];

    fz_quiet_logs();
    fz_world_get(&g_fw, FE, false);
    memset(&f, 0, sizeof(f));
    f.a.port = -1;
    fz_in_init(&f.in, data, size);
    FZ_CHECK(rf_toolstack_attach(g_fw.be, FE, DEVID, 0, &at) == 0, "attach");
    vg_path(f.a.fe_dir, sizeof(f.a.fe_dir), "/local/domain/%u/device/"
            VG_XS_CLASS "/%u", FE, DEVID);
    vg_path(f.a.be_dir, sizeof(f.a.be_dir), "/local/domain/0/backend/"
            VG_XS_CLASS "/%u/%u", FE, DEVID);
    publish_device(&f);
    o.queue_size = 1u << (fz_u8(&f.in) % 5);
    f.fe = vg_fake_open(g_fw.w, FE);
    FZ_CHECK(f.fe, "guest handle");
    helper_start(&f.a);
    f.d = vgf_open(f.fe, DEVID, &o);
    helper_finish(&f.a);

    if (f.d) {
        FZ_CHECK(f.a.connected, "vgf_open succeeded against a refusal");
        vgf_set_max_segment(f.d, fz_u8(&f.in) & 1 ? 4096 : 0);
        for (unsigned ops = 0; ops < 200 && !fz_done(&f.in); ops++) {
            switch (fz_u8(&f.in) % 8) {
            case 0: case 1: op_submit(&f); break;
            case 2: case 3: op_used(&f); break;
            case 4: case 5: op_complete(&f); break;
            case 6: op_backend(&f); break;
            default:
                if (f.a.port >= 0)
                    g_fw.be->ops->evtchn_notify(g_fw.be, (vg_port_t)f.a.port);
                break;
            }
        }
        /* The backend lets go, so vgf_close does not wait for it. */
        vg_xs_write_state(g_fw.be, f.a.be_dir, VG_XB_CLOSED);
        vgf_close(f.d);
        for (unsigned k = 0; k < MAXREQ; k++)
            if (f.r[k].busy)
                req_done(&f.r[k]);
    }
    for (unsigned k = 0; k < 3; k++)
        if (f.a.ring[k])
            g_fw.be->ops->unmap_grants(g_fw.be, f.a.ring[k], f.a.pages[k]);
    if (f.a.port >= 0)
        g_fw.be->ops->evtchn_unbind(g_fw.be, (vg_port_t)f.a.port);
    FZ_CHECK(vg_fake_live_grants(g_fw.w, FE) == 0, "%u guest grants left after "
             "vgf_close", vg_fake_live_grants(g_fw.w, FE));
    FZ_CHECK(vg_fake_bound_ports(g_fw.w, FE) == 0, "%u guest ports left after "
             "vgf_close", vg_fake_bound_ports(g_fw.w, FE));
    vg_hyp_close(f.fe);
    vg_path(path, sizeof(path), "/local/domain/0/backend/" VG_XS_CLASS "/%u", FE);
    g_fw.be->ops->xs_rm(g_fw.be, 0, path);
    vg_path(path, sizeof(path), "/local/domain/%u/device/" VG_XS_CLASS, FE);
    g_fw.be->ops->xs_rm(g_fw.be, 0, path);
    return 0;
}
