/* SPDX-License-Identifier: MIT */
/*
 * fuzz_vq: the device-side ring walker (common/virtqueue.c: vq_dev_pop,
 * vq_dev_push, vq_dev_should_notify, vq_dev_enable_notify) feeding the blk
 * model (backend/blk.c start/done/fail) directly, without a daemon, so it runs
 * fast enough for tens of millions of inputs.  The fuzzer writes the
 * descriptor table, the avail ring and its index, the buffers (a 64 KiB
 * "guest memory" in which a descriptor address is an offset, as in static
 * mode) and decides when the device pops, holds and completes chains.
 *
 * Checked beyond "no crash":
 *   - a popped chain has 1..num elements, readable ones first, byte
 *     counts equal to the sum of its elements, a head < num that is not
 *     already held;
 *   - never more than num chains held; once a queue is broken every pop
 *     fails and the error has a name;
 *   - the blk model never reports more bytes written than the chain's
 *     device-writable bytes, never touches memory outside the buffers it
 *     was given (ASan: buffers are exact-size heap copies), and writes a
 *     status byte whenever there is a writable byte;
 *   - used->idx equals the number of pushes.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "devmodel.h"
#include "fz.h"
#include "vgrant/protocol.h"
#include "vgrant/virtqueue.h"
#include "vgrant/xsutil.h"

#define MEM_BYTES (64u * 1024)
#define MAX_OPS   512u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void *g_blk;
static uint8_t g_mem[MEM_BYTES];
static struct vring_desc g_desc[VG_MAX_QUEUE_SIZE];
static uint8_t g_avail[4 + 2 * VG_MAX_QUEUE_SIZE + 2];
static uint8_t g_used[4 + 8 * VG_MAX_QUEUE_SIZE + 2];

static void open_blk(void)
{
    struct vg_fake_world *w;
    struct vg_hyp *h;
    struct vgd_model_params p = { .be_path = "/local/domain/0/fuzzblk",
                                  .frontend_domid = 1, .devid = 0 };

    fz_quiet_logs();
    w = vg_fake_world_new();
    FZ_CHECK(w, "world");
    h = vg_fake_open(w, 0);
    FZ_CHECK(h, "handle");
    FZ_CHECK(vg_xs_write_fmt(h, 0, p.be_path, VG_KEY_TARGET, "%s",
                             fz_image()) == 0, "target key");
    p.h = h;
    g_blk = vgd_model_blk.open(&p);
    FZ_CHECK(g_blk, "blk open");
    /* The model keeps no reference to the handle. */
    vg_hyp_close(h);
    vg_fake_world_free(w);
}

struct held {
    struct vq_chain c;
    struct vq_elem *elem;      /* [num], allocated on first use */
};

struct fq {
    struct fz_in in;
    struct vq_device vq;
    uint16_t num;
    uint16_t avail_idx;        /* the driver's private index */
    unsigned pushes;
    struct held *held;         /* [num] chains popped, not completed */
    unsigned nheld;
    uint8_t *busy;             /* [num] our own view of held heads */
    bool broken;
};

static void write_avail_idx(uint16_t v)
{
    struct vring_avail *a = (struct vring_avail *)g_avail;
    __atomic_store_n(&a->idx, htole16(v), __ATOMIC_RELEASE);
}

/* Give the blk model exact-size private copies of the chain's buffers (so
 * ASan sees any overrun), copy the writable ones back, return the used
 * length the way serve.c computes it. */
static uint32_t serve(struct fq *q, const struct vq_chain *c)
{
    const struct vgd_model *m = &vgd_model_blk;
    struct iovec iov[VG_MAX_QUEUE_SIZE];
    struct vgd_request req = { 0 };
    struct vgd_result res = { 0 };
    bool mappable = c->n <= m->max_request_buffers(g_blk);
    uint32_t written;
    unsigned i;

    (void)q;
    for (i = 0; i < c->n; i++) {
        const struct vq_elem *e = &c->elem[i];
        iov[i].iov_base = NULL;
        iov[i].iov_len = e->len;
        if (e->addr > MEM_BYTES || e->len > MEM_BYTES - e->addr)
            mappable = false;
    }
    if (mappable) {
        for (i = 0; i < c->n; i++) {
            iov[i].iov_base = malloc(c->elem[i].len ? c->elem[i].len : 1);
            FZ_CHECK(iov[i].iov_base, "malloc");
            memcpy(iov[i].iov_base, g_mem + c->elem[i].addr, c->elem[i].len);
        }
        req.chain = c;
        req.out = iov;
        req.n_out = c->n_out;
        req.out_bytes = c->out_bytes;
        req.in = iov + c->n_out;
        req.n_in = c->n - c->n_out;
        req.in_bytes = c->in_bytes;
        {
            static struct iovec io_iov[VG_MAX_QUEUE_SIZE * 2 + 4096];
            struct vgd_io io = { .iov = io_iov,
                                 .iov_cap = sizeof(io_iov) / sizeof(io_iov[0]) };

            FZ_CHECK(m->max_request_pages(g_blk) +
                     m->max_request_buffers(g_blk) <= io.iov_cap, "iov room");
            vgd_model_serve_sync(m, g_blk, &req, &res, &io);
        }
        FZ_CHECK(res.written <= c->in_bytes, "blk wrote %u bytes, chain has "
                 "%u writable", res.written, c->in_bytes);
        FZ_CHECK(res.read <= c->out_bytes, "blk read %u of %u bytes",
                 res.read, c->out_bytes);
        for (i = c->n_out; i < c->n; i++)
            memcpy(g_mem + c->elem[i].addr, iov[i].iov_base, c->elem[i].len);
        for (i = 0; i < c->n; i++)
            free(iov[i].iov_base);
    } else if (c->n > c->n_out) {
        /* the transport could not map it: status byte only */
        const struct vq_elem *e = &c->elem[c->n - 1];
        uint8_t status = 0x5a;
        struct iovec s = { &status, 1 };

        if (e->len >= 1 && e->addr < MEM_BYTES &&
            e->len - 1 < MEM_BYTES - e->addr) {
            req.in = &s;
            req.n_in = 1;
            req.in_bytes = 1;
            m->fail(g_blk, &req, &res);
            FZ_CHECK(status == VIRTIO_BLK_S_IOERR, "fail wrote status %u",
                     status);
            g_mem[e->addr + e->len - 1] = status;
        }
    }
    written = res.written <= c->in_bytes ? res.written : c->in_bytes;
    return written;
}

static void check_chain(struct fq *q, const struct vq_chain *c)
{
    uint64_t out = 0, in = 0;

    FZ_CHECK(c->n >= 1 && c->n <= q->num, "chain of %u elements, num %u",
             c->n, q->num);
    FZ_CHECK(c->head < q->num, "head %u", c->head);
    FZ_CHECK(!q->busy[c->head], "head %u popped twice", c->head);
    FZ_CHECK(c->n_out <= c->n, "n_out %u > n %u", c->n_out, c->n);
    for (unsigned i = 0; i < c->n; i++) {
        FZ_CHECK(c->elem[i].write == (i >= c->n_out), "element %u of %u "
                 "(n_out %u) has write=%d", i, c->n, c->n_out,
                 c->elem[i].write);
        if (c->elem[i].write)
            in += c->elem[i].len;
        else
            out += c->elem[i].len;
    }
    FZ_CHECK(out == c->out_bytes && in == c->in_bytes, "byte counts "
             "%llu/%llu vs %u/%u", (unsigned long long)out,
             (unsigned long long)in, c->out_bytes, c->in_bytes);
}

static void complete(struct fq *q, unsigned k)
{
    struct held *hd = &q->held[k];
    uint32_t len = serve(q, &hd->c);

    FZ_CHECK(vq_dev_push(&q->vq, hd->c.head, len) == 0, "push of held head "
             "%u failed", hd->c.head);
    q->busy[hd->c.head] = 0;
    q->pushes++;
    q->nheld--;
    if (k != q->nheld) {   /* swap with the last held slot */
        struct held last = q->held[q->nheld];
        q->held[q->nheld] = *hd;
        *hd = last;
    }
}

/* Pop up to budget chains; hold some (the fuzzer decides), serve others. */
static void device_round(struct fq *q)
{
    uint8_t budget = 1 + fz_u8(&q->in) % 16, hold = fz_u8(&q->in);

    vq_dev_disable_notify(&q->vq);
    for (unsigned i = 0; i < budget; i++) {
        struct held *hd;
        int rc;

        if (q->nheld == q->num) {
            /* a full device must refuse, not overrun */
            struct vq_elem tmp[VG_MAX_QUEUE_SIZE];
            struct vq_chain c = { .elem = tmp };
            rc = vq_dev_pop(&q->vq, &c);
            FZ_CHECK(rc <= 0, "popped chain %u beyond %u in flight",
                     q->nheld + 1, q->num);
        } else {
            hd = &q->held[q->nheld];
            if (!hd->elem) {
                hd->elem = malloc(q->num * sizeof(*hd->elem));
                FZ_CHECK(hd->elem, "malloc");
            }
            hd->c.elem = hd->elem;
            rc = vq_dev_pop(&q->vq, &hd->c);
            if (rc == 1) {
                check_chain(q, &hd->c);
                q->busy[hd->c.head] = 1;
                q->nheld++;
                FZ_CHECK(q->vq.in_flight == q->nheld, "in_flight %u, held %u",
                         q->vq.in_flight, q->nheld);
                if (!((hold >> (i & 7)) & 1))
                    complete(q, q->nheld - 1);
            }
        }
        if (rc < 0) {
            FZ_CHECK(q->vq.error != VQ_OK, "pop failed without an error");
            FZ_CHECK(vq_error_str(q->vq.error) != NULL, "unnamed error");
            q->broken = true;
            break;
        }
        if (rc == 0)
            break;
    }
    (void)vq_dev_should_notify(&q->vq);
    if (!q->broken)
        (void)vq_dev_enable_notify(&q->vq);
}

static void op_desc(struct fq *q)
{
    uint16_t i = fz_u16(&q->in) % q->num;
    uint8_t shape = fz_u8(&q->in);
    struct vring_desc *d = &g_desc[i];
    uint64_t addr;
    uint32_t len;
    uint16_t flags;

    if (shape & 0x80)
        addr = fz_u64(&q->in);
    else
        addr = fz_u16(&q->in) % MEM_BYTES;
    if (shape & 0x40)
        len = fz_u32(&q->in);
    else
        len = fz_u16(&q->in) % 8192;
    flags = shape & 3;
    if ((shape & 0x3c) == 0x3c)
        flags = fz_u16(&q->in);
    d->addr = htole64(addr);
    d->len = htole32(len);
    d->flags = htole16(flags);
    d->next = htole16((shape & 0x20) ? fz_u16(&q->in)
                                     : (uint16_t)(fz_u8(&q->in) % q->num));
}

/* A plausible blk chain at descriptor i: header, data, status. */
static void op_blk(struct fq *q)
{
    uint16_t i = fz_u16(&q->in) % q->num;
    uint8_t t = fz_u8(&q->in), s = fz_u8(&q->in), l = fz_u8(&q->in);
    static const uint32_t types[] = { VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT,
                                      VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID,
                                      7 };
    uint32_t type = types[t % 5];
    bool dw = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
    uint32_t dlen = (l % 9) * 512u + ((l & 0x80) ? 1 : 0);
    uint16_t j = (uint16_t)((i + 1) % q->num), k = (uint16_t)((i + 2) % q->num);
    struct virtio_blk_req_hdr h = { htole32(type), 0,
                                    htole64(s % (FZ_IMAGE_SECTORS + 4)) };
    uint32_t hoff = (t >> 3) * 16u;

    memcpy(g_mem + hoff, &h, sizeof(h));
    g_desc[i] = (struct vring_desc){ htole64(hoff), htole32(16),
                                     htole16(VRING_DESC_F_NEXT), htole16(j) };
    g_desc[j] = (struct vring_desc){ htole64(8192), htole32(dlen),
                                     htole16(VRING_DESC_F_NEXT |
                                             (dw ? VRING_DESC_F_WRITE : 0)),
                                     htole16(k) };
    g_desc[k] = (struct vring_desc){ htole64(60000 + (t & 7)), htole32(1),
                                     htole16(VRING_DESC_F_WRITE), 0 };
    if (dlen == 0)   /* header straight to status */
        g_desc[i].next = htole16(k);
}

static void op_publish(struct fq *q)
{
    struct vring_avail *a = (struct vring_avail *)g_avail;
    uint16_t v = fz_u16(&q->in);

    a->ring[q->avail_idx & (q->num - 1)] =
        htole16((v & 0x8000) ? v : (uint16_t)(v % q->num));
    q->avail_idx++;
    write_avail_idx(q->avail_idx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fq q;
    uint8_t b0;
    bool event_idx;

    if (!g_blk)
        open_blk();
    memset(&q, 0, sizeof(q));
    fz_in_init(&q.in, data, size);
    b0 = fz_u8(&q.in);
    q.num = (uint16_t)(1u << (1 + (b0 & 15) % 10));
    event_idx = b0 & 0x10;
    memset(g_desc, 0, sizeof(g_desc));
    memset(g_avail, 0, sizeof(g_avail));
    memset(g_used, 0, sizeof(g_used));
    FZ_CHECK(vq_dev_init(&q.vq, q.num, g_desc, g_avail, g_used, event_idx) == 0,
             "vq_dev_init(%u)", q.num);
    q.held = calloc(q.num, sizeof(*q.held));
    q.busy = calloc(q.num, 1);
    FZ_CHECK(q.held && q.busy, "calloc");

    for (unsigned ops = 0; ops < MAX_OPS && !fz_done(&q.in); ops++) {
        uint8_t op = fz_u8(&q.in);
        struct vring_avail *a = (struct vring_avail *)g_avail;

        switch (op % 12) {
        case 0: case 1: op_desc(&q); break;
        case 2: case 3: op_publish(&q); break;
        case 4: op_blk(&q); break;
        case 5: case 6: device_round(&q); break;
        case 7:   /* complete one held chain */
            if (q.nheld)
                complete(&q, fz_u8(&q.in) % q.nheld);
            break;
        case 8:   /* raw index / flags / used_event / ring slot */
            switch (fz_u8(&q.in) % 4) {
            case 0: q.avail_idx = fz_u16(&q.in); write_avail_idx(q.avail_idx); break;
            case 1: a->flags = htole16(fz_u16(&q.in)); break;
            case 2: a->ring[q.num] = htole16(fz_u16(&q.in)); break;
            default: a->ring[fz_u16(&q.in) % q.num] = htole16(fz_u16(&q.in)); break;
            }
            break;
        case 9: {   /* raw guest memory */
            uint16_t off = fz_u16(&q.in) % MEM_BYTES;
            uint8_t n = fz_u8(&q.in) & 63;
            uint8_t buf[64];
            fz_bytes(&q.in, buf, n);
            if (off + n <= MEM_BYTES)
                memcpy(g_mem + off, buf, n);
            break;
        }
        case 10: {  /* the device pushes a head it does not hold */
            uint16_t h = fz_u16(&q.in);
            if (h < q.num && q.busy[h])
                break;
            FZ_CHECK(vq_dev_push(&q.vq, h, 0) == -1, "push of head %u not "
                     "in flight succeeded", h);
            q.broken = true;   /* the queue is marked broken by design */
            break;
        }
        default:
            device_round(&q);
            break;
        }
        FZ_CHECK(le16toh(((struct vring_used *)g_used)->idx) ==
                 (uint16_t)q.pushes, "used->idx %u after %u pushes",
                 le16toh(((struct vring_used *)g_used)->idx), q.pushes);
        if (q.broken) {
            struct vq_elem tmp[VG_MAX_QUEUE_SIZE];
            struct vq_chain c = { .elem = tmp };
            FZ_CHECK(vq_dev_pop(&q.vq, &c) == -1, "pop on a broken queue");
        }
    }
    while (q.nheld)
        complete(&q, q.nheld - 1);
    vq_dev_free(&q.vq);
    for (unsigned i = 0; i < q.num; i++)
        free(q.held[i].elem);
    free(q.held);
    free(q.busy);
    return 0;
}
