/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk driver over libvgrant (see vgrant_blk.h).
 *
 * Each caller I/O becomes one or more virtio requests ("parts") of
 * header (device-readable), data, status byte (device-writable).  A part
 * succeeds only if the backend reports exactly the bytes it had to write
 * and a status of VIRTIO_BLK_S_OK: the status byte starts as 0xff, so a
 * backend that never writes it cannot fake success.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "vgrant/clock.h"
#include "vgrant/log.h"
#include "vgrant/protocol.h"
#include "vgrant_blk.h"

#define BLK_STATUS_UNSET 0xffu
#define SECTOR VIRTIO_BLK_SECTOR_SIZE

struct blk_io {
    void *cookie;
    unsigned parts_left;
    int err;                 /* first failure, 0 if none */
};

struct blk_part {
    struct blk_io *io;
    struct virtio_blk_req_hdr hdr;
    uint8_t status;
    uint32_t type;
    uint32_t expect_len;     /* device-writable bytes: data (reads) + 1 */
};

struct vgf_blk {
    struct vgf_dev *dev;
    uint16_t domid;          /* ours, for the log */
    unsigned devid;
    uint64_t capacity;       /* bytes */
    uint32_t size_max, seg_max, blk_size;
    bool readonly, flush;
    size_t max_request;      /* data bytes per part */
    unsigned ios;            /* outstanding I/Os */
};

#define blk_log(b, level, fmt, ...) \
    vg_dev_log(level, (b)->domid, (b)->devid, fmt, ##__VA_ARGS__)

static uint32_t le32_at(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return le32toh(v);
}

static uint64_t le64_at(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return le64toh(v);
}

static bool has(const struct vgf_blk *b, unsigned bit)
{
    return vgf_features(b->dev) & VG_FEATURE(bit);
}

/* Descriptors a data buffer of len bytes may take at worst: cut at every
 * max_seg and at every page boundary. */
static uint64_t data_descs_worst(const struct vgf_blk *b, size_t len)
{
    uint64_t n = (len + VG_PAGE_SIZE - 1) / VG_PAGE_SIZE;
    uint32_t seg = vgf_max_segment(b->dev);

    if (seg)
        n += (len + seg - 1) / seg;
    return n;
}

static uint64_t part_descs_worst(const struct vgf_blk *b, size_t len)
{
    return 2 + (len ? data_descs_worst(b, len) : 0);
}

static int read_config(struct vgf_blk *b)
{
    uint8_t cfg[VG_MAX_CONFIG_BYTES];
    unsigned len = vgf_config_size(b->dev);
    uint64_t sectors;

    if (len < 8 || vgf_config_read(b->dev, 0, cfg, len)) {
        blk_log(b, VG_LOG_ERR, "block config of %u bytes has no capacity", len);
        goto bad;
    }
    sectors = le64_at(cfg + 0);
    if (sectors > UINT64_MAX / SECTOR) {
        blk_log(b, VG_LOG_ERR, "capacity %" PRIu64 " sectors overflows", sectors);
        goto bad;
    }
    b->capacity = sectors * SECTOR;

    if (has(b, VIRTIO_BLK_F_SIZE_MAX)) {
        if (len < 12 || (b->size_max = le32_at(cfg + 8)) < SECTOR) {
            blk_log(b, VG_LOG_ERR, "size_max %u is missing or below 512",
                    len < 12 ? 0 : le32_at(cfg + 8));
            goto bad;
        }
    }
    if (has(b, VIRTIO_BLK_F_SEG_MAX)) {
        if (len < 16 || (b->seg_max = le32_at(cfg + 12)) == 0) {
            blk_log(b, VG_LOG_ERR, "seg_max is missing or 0");
            goto bad;
        }
    }
    b->blk_size = SECTOR;
    if (has(b, VIRTIO_BLK_F_BLK_SIZE)) {
        uint32_t bs = len < 24 ? 0 : le32_at(cfg + 20);
        if (bs < SECTOR || bs > 65536 || (bs & (bs - 1))) {
            blk_log(b, VG_LOG_ERR, "blk_size %u is not a power of two in "
                    "[512, 65536]", bs);
            goto bad;
        }
        b->blk_size = bs;
    }
    b->readonly = has(b, VIRTIO_BLK_F_RO);
    b->flush = has(b, VIRTIO_BLK_F_FLUSH);
    return 0;
bad:
    errno = EPROTO;
    return -1;
}

/* Largest multiple of 512 whose part fits seg_max and the queue. */
static int size_requests(struct vgf_blk *b)
{
    uint64_t seg_limit = vgf_queue_size(b->dev) - 2u;
    size_t len;

    if (b->size_max)
        /* whole sectors per descriptor */
        vgf_set_max_segment(b->dev, b->size_max / SECTOR * SECTOR);
    if (b->seg_max && b->seg_max < seg_limit)
        seg_limit = b->seg_max;
    for (len = VGF_BLK_MAX_REQUEST_BYTES; len >= SECTOR; len -= SECTOR)
        if (data_descs_worst(b, len) <= seg_limit)
            break;
    if (len < SECTOR) {
        blk_log(b, VG_LOG_ERR, "no room for one sector per request "
                "(queue size %u, seg_max %u)", vgf_queue_size(b->dev), b->seg_max);
        errno = EINVAL;
        return -1;
    }
    b->max_request = len;
    return 0;
}

struct vgf_blk *vgf_blk_open(struct vg_hyp *h, unsigned devid,
                             const struct vgf_opts *opts)
{
    struct vgf_opts o = { .features_wanted = VGF_FEATURES_DEFAULT };
    struct vgf_blk *b;
    int err;

    if (opts)
        o = *opts;
    o.features_wanted |= VGF_BLK_FEATURES;
    b = calloc(1, sizeof(*b));
    if (!b) {
        errno = ENOMEM;
        return NULL;
    }
    b->domid = h->domid;
    b->devid = devid;
    b->dev = vgf_open(h, devid, &o);
    if (!b->dev)
        goto fail;
    if (vgf_device_id(b->dev) != VIRTIO_ID_BLOCK) {
        blk_log(b, VG_LOG_ERR, "device is virtio type %u, not a block device",
                vgf_device_id(b->dev));
        errno = ENODEV;
        goto fail;
    }
    if (read_config(b) || size_requests(b))
        goto fail;
    return b;
fail:
    err = errno;
    vgf_close(b->dev);
    free(b);
    errno = err;
    return NULL;
}

void vgf_blk_close(struct vgf_blk *b)
{
    if (!b)
        return;
    vgf_close(b->dev);
    free(b);
}

struct vgf_dev *vgf_blk_dev(struct vgf_blk *b) { return b->dev; }
uint64_t vgf_blk_capacity(const struct vgf_blk *b) { return b->capacity; }
bool vgf_blk_readonly(const struct vgf_blk *b) { return b->readonly; }
bool vgf_blk_has_flush(const struct vgf_blk *b) { return b->flush; }
uint32_t vgf_blk_seg_max(const struct vgf_blk *b) { return b->seg_max; }
uint32_t vgf_blk_size_max(const struct vgf_blk *b) { return b->size_max; }
uint32_t vgf_blk_block_size(const struct vgf_blk *b) { return b->blk_size; }
size_t vgf_blk_max_request(const struct vgf_blk *b) { return b->max_request; }
unsigned vgf_blk_in_flight(const struct vgf_blk *b) { return b->ios; }

static int check_range(const struct vgf_blk *b, uint64_t offset, size_t len)
{
    if (len == 0 || offset % SECTOR || len % SECTOR || len > b->capacity ||
        offset > b->capacity - len) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

/* Queue one virtio request.  data may be NULL (flush). */
static int submit_part(struct vgf_blk *b, struct blk_io *io, uint32_t type,
                       uint64_t offset, void *data, size_t len)
{
    struct vgf_iov out[2], in[2];
    unsigned n_out = 0, n_in = 0;
    struct blk_part *p = calloc(1, sizeof(*p));

    if (!p) {
        errno = ENOMEM;
        return -1;
    }
    p->io = io;
    p->type = type;
    p->hdr.type = htole32(type);
    p->hdr.sector = htole64(offset / SECTOR);
    p->status = BLK_STATUS_UNSET;

    out[n_out++] = (struct vgf_iov){ &p->hdr, sizeof(p->hdr) };
    if (len && type == VIRTIO_BLK_T_OUT)
        out[n_out++] = (struct vgf_iov){ data, len };
    if (len && type != VIRTIO_BLK_T_OUT) {
        in[n_in++] = (struct vgf_iov){ data, len };
        p->expect_len = (uint32_t)len;
    }
    in[n_in++] = (struct vgf_iov){ &p->status, 1 };
    p->expect_len += 1;

    if (vgf_submit(b->dev, 0, out, n_out, in, n_in, p)) {
        int err = errno;
        free(p);
        errno = err;
        return -1;
    }
    io->parts_left++;
    return 0;
}

static int submit_io(struct vgf_blk *b, uint32_t type, uint64_t offset,
                     void *buf, size_t len, void *cookie)
{
    uint64_t need = 0;
    struct blk_io *io;
    size_t done;

    if (type == VIRTIO_BLK_T_OUT && b->readonly) {
        errno = EROFS;
        return -1;
    }
    if (!vgf_connected(b->dev)) {
        errno = EIO;
        return -1;
    }
    /* Room for every part at worst, or none is sent. */
    for (done = 0; done < len; ) {
        size_t n = len - done < b->max_request ? len - done : b->max_request;
        need += part_descs_worst(b, n);
        done += n;
    }
    if (need > vgf_queue_size(b->dev)) {
        errno = E2BIG;
        return -1;
    }
    if (need > vgf_queue_free(b->dev, 0)) {
        errno = EAGAIN;
        return -1;
    }

    io = calloc(1, sizeof(*io));
    if (!io) {
        errno = ENOMEM;
        return -1;
    }
    io->cookie = cookie;
    done = 0;
    do {
        size_t n = len - done < b->max_request ? len - done : b->max_request;

        if (submit_part(b, io, type, offset + done,
                        buf ? (uint8_t *)buf + done : NULL, n)) {
            if (io->parts_left == 0) {
                int err = errno == ENOSPC ? EAGAIN : errno;
                free(io);
                errno = err;
                return -1;
            }
            /* Parts already in flight: report the failure with them. */
            io->err = errno == EAGAIN || errno == ENOSPC ? ENOBUFS : errno;
            break;
        }
        done += n;
    } while (done < len);
    b->ios++;
    return 0;
}

int vgf_blk_submit_read(struct vgf_blk *b, uint64_t offset, void *buf,
                        size_t len, void *cookie)
{
    if (!b || !buf || check_range(b, offset, len)) {
        errno = EINVAL;
        return -1;
    }
    return submit_io(b, VIRTIO_BLK_T_IN, offset, buf, len, cookie);
}

int vgf_blk_submit_write(struct vgf_blk *b, uint64_t offset, const void *buf,
                         size_t len, void *cookie)
{
    if (!b || !buf || check_range(b, offset, len)) {
        errno = EINVAL;
        return -1;
    }
    /* Only ever read from: out buffers are copied, never written. */
    return submit_io(b, VIRTIO_BLK_T_OUT, offset, (void *)buf, len, cookie);
}

static const char *type_name(uint32_t type)
{
    switch (type) {
    case VIRTIO_BLK_T_IN: return "read";
    case VIRTIO_BLK_T_OUT: return "write";
    case VIRTIO_BLK_T_FLUSH: return "flush";
    case VIRTIO_BLK_T_GET_ID: return "get-id";
    default: return "request";
    }
}

/* errno for a part the backend completed, 0 if it succeeded. */
static int part_result(struct vgf_blk *b, const struct blk_part *p,
                       uint32_t used_len)
{
    uint64_t sector = le64toh(p->hdr.sector);

    if (used_len != p->expect_len) {
        blk_log(b, VG_LOG_ERR, "%s at sector %" PRIu64 ": backend reported "
                "%u bytes written, expected %u", type_name(p->type), sector,
                used_len, p->expect_len);
        return EIO;
    }
    switch (p->status) {
    case VIRTIO_BLK_S_OK:
        return 0;
    case VIRTIO_BLK_S_IOERR:
        blk_log(b, VG_LOG_ERR, "%s at sector %" PRIu64 ": I/O error",
                type_name(p->type), sector);
        return p->type == VIRTIO_BLK_T_OUT && b->readonly ? EROFS : EIO;
    case VIRTIO_BLK_S_UNSUPP:
        blk_log(b, VG_LOG_ERR, "%s at sector %" PRIu64 ": not supported by "
                "the device", type_name(p->type), sector);
        return EOPNOTSUPP;
    default:
        blk_log(b, VG_LOG_ERR, "%s at sector %" PRIu64 ": bad status %u",
                type_name(p->type), sector, p->status);
        return EIO;
    }
}

int vgf_blk_wait(struct vgf_blk *b, void **cookie, int timeout_ms)
{
    uint64_t deadline;
    void *dummy;

    if (!cookie)
        cookie = &dummy;
    *cookie = NULL;
    if (!b) {
        errno = EINVAL;
        return -1;
    }
    if (timeout_ms < 0)
        timeout_ms = vgf_timeout_ms(b->dev);
    deadline = vg_now_ms() + (uint64_t)timeout_ms;

    for (;;) {
        uint64_t now = vg_now_ms();
        int left = now >= deadline ? 0 : (int)(deadline - now);
        struct blk_part *p = NULL;
        struct blk_io *io;
        uint32_t len = 0;
        int err;

        if (vgf_complete(b->dev, 0, (void **)&p, &len, left) == 0) {
            err = part_result(b, p, len);
        } else if (errno == EIO && p) {
            err = EIO;
        } else {
            return -1;   /* ETIMEDOUT, ENODATA, ENOTCONN */
        }
        io = p->io;
        free(p);
        if (err && !io->err)
            io->err = err;
        if (--io->parts_left)
            continue;
        *cookie = io->cookie;
        err = io->err;
        free(io);
        b->ios--;
        if (err) {
            errno = err;
            return -1;
        }
        return 0;
    }
}

/* Synchronous I/O: as many parts in flight as the queue holds. */
static int sync_io(struct vgf_blk *b, uint32_t type, uint64_t offset,
                   void *buf, size_t len)
{
    size_t done = 0;
    int first_err = 0;

    if (b->ios) {
        errno = EBUSY;
        return -1;
    }
    while ((done < len && !first_err) || b->ios) {
        void *c;

        if (done < len && !first_err) {
            size_t n = len - done < b->max_request ? len - done : b->max_request;

            if (submit_io(b, type, offset + done, (uint8_t *)buf + done, n,
                          NULL) == 0) {
                done += n;
                continue;
            }
            if (errno != EAGAIN || b->ios == 0) {
                first_err = errno;
                continue;
            }
        }
        if (vgf_blk_wait(b, &c, -1) && !first_err)
            first_err = errno;
        if (first_err && !c && b->ios) {
            /* device down or timed out: nothing more will come back */
            break;
        }
    }
    if (first_err) {
        errno = first_err;
        return -1;
    }
    return 0;
}

int vgf_blk_read(struct vgf_blk *b, uint64_t offset, void *buf, size_t len)
{
    if (!b || !buf || check_range(b, offset, len)) {
        errno = EINVAL;
        return -1;
    }
    return sync_io(b, VIRTIO_BLK_T_IN, offset, buf, len);
}

int vgf_blk_write(struct vgf_blk *b, uint64_t offset, const void *buf,
                  size_t len)
{
    if (!b || !buf || check_range(b, offset, len)) {
        errno = EINVAL;
        return -1;
    }
    if (b->readonly) {
        errno = EROFS;
        return -1;
    }
    return sync_io(b, VIRTIO_BLK_T_OUT, offset, (void *)buf, len);
}

/* One request without data-sized splitting: flush or get-id. */
static int sync_single(struct vgf_blk *b, uint32_t type, void *data,
                       size_t len)
{
    struct blk_io *io;
    void *c = NULL;

    if (b->ios) {
        errno = EBUSY;
        return -1;
    }
    if (!vgf_connected(b->dev)) {
        errno = EIO;
        return -1;
    }
    io = calloc(1, sizeof(*io));
    if (!io) {
        errno = ENOMEM;
        return -1;
    }
    if (submit_part(b, io, type, 0, data, len)) {
        int err = errno;
        free(io);
        errno = err;
        return -1;
    }
    b->ios++;
    return vgf_blk_wait(b, &c, -1);
}

int vgf_blk_flush(struct vgf_blk *b)
{
    if (!b) {
        errno = EINVAL;
        return -1;
    }
    if (!b->flush)
        return 0;
    return sync_single(b, VIRTIO_BLK_T_FLUSH, NULL, 0);
}

int vgf_blk_get_id(struct vgf_blk *b, char id[VIRTIO_BLK_ID_BYTES + 1])
{
    char raw[VIRTIO_BLK_ID_BYTES] = { 0 };
    unsigned i;

    if (!b || !id) {
        errno = EINVAL;
        return -1;
    }
    if (sync_single(b, VIRTIO_BLK_T_GET_ID, raw, sizeof(raw)))
        return -1;
    for (i = 0; i < VIRTIO_BLK_ID_BYTES && raw[i]; i++)
        id[i] = raw[i] >= 0x20 && raw[i] < 0x7f ? raw[i] : '?';
    id[i] = '\0';
    return 0;
}
