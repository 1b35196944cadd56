/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk device model over a raw image file or a block device.
 *
 * Backend keys (vg_devtype_blk in common/devtype.c): target (absolute
 * path, required), readonly (0|1, default 0).
 * Requests: IN, OUT, FLUSH, GET_ID.  Layout of every request:
 *   device-readable:  16-byte header [+ data for OUT]
 *   device-writable:  [data for IN / GET_ID] + 1 status byte (last byte)
 * The header is copied out of guest memory once and only the copy is used
 * (XSA-155): a guest flipping it under us cannot turn a checked sector
 * into an unchecked one.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aio.h"
#include "devmodel.h"
#include "vgrant/log.h"
#include "vgrant/protocol.h"
#include "vgrant/virtio.h"
#include "vgrant/virtqueue.h"
#include "vgrant/xsutil.h"

/* Published limits (config seg_max / size_max), enforced per request. */
#define BLK_SEG_MAX   64u
#define BLK_SIZE_MAX  (64u * 1024)

struct blk {
    int fd;
    int fd_direct;            /* --direct: the target with O_DIRECT, or -1 */
    bool direct_refused;      /* its transfers failed EINVAL/EFAULT: no
                                 new ones (those in flight keep the fd) */
    unsigned dio_align;       /* its logical block size */
    bool readonly;
    uint64_t capacity;        /* 512-byte sectors */
    uint16_t domid;
    unsigned devid;
    struct vg_ratelimit bad;  /* bad requests: count and log limiter */
    struct vg_ratelimit ioerr;    /* failed transfers of the backing store */
    char id[VIRTIO_BLK_ID_BYTES];
};

static void blk_bad(struct blk *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A guest can produce bad requests as fast as we serve them: rate-limited
 * (log.h). */
static void blk_bad(struct blk *b, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vg_rl_dev_vevent(&b->bad, b->domid, b->devid, "bad request", fmt, ap);
    va_end(ap);
}

/* --direct: the target a second time, with O_DIRECT (aligned transfers go
 * there, blk_start); a filesystem that refuses it leaves the device
 * buffered, said once. */
static void open_direct(struct blk *b, const char *target, const char *shown,
                        bool is_blk)
{
    int ssz = 0;

    b->fd_direct = open(target, (b->readonly ? O_RDONLY : O_RDWR) |
                        O_DIRECT | O_CLOEXEC);
    if (b->fd_direct < 0) {
        vg_dev_log(VG_LOG_INFO, b->domid, b->devid, "blk: %s: O_DIRECT "
                   "refused (%s): served through the page cache", shown,
                   strerror(errno));
        return;
    }
    b->dio_align = VIRTIO_BLK_SECTOR_SIZE;
    if (is_blk && ioctl(b->fd_direct, BLKSSZGET, &ssz) == 0 && ssz > 0 &&
        (unsigned)ssz <= VG_PAGE_SIZE)
        b->dio_align = (unsigned)ssz;
}

/* Can io go to the O_DIRECT fd: offset, length and every buffer aligned? */
static bool direct_ok(const struct blk *b, const struct vgd_io *io)
{
    uintptr_t mask = b->dio_align - 1;

    if (b->fd_direct < 0 || b->direct_refused || (io->offset & mask) ||
        (io->len & mask))
        return false;
    for (unsigned i = 0; i < io->niov; i++)
        if (((uintptr_t)io->iov[i].iov_base & mask) ||
            (io->iov[i].iov_len & mask))
            return false;
    return true;
}

static void *blk_open(const struct vgd_model_params *p)
{
    struct blk *b;
    char *target = NULL, *ro = NULL;
    char shown[4 * VG_ESC_SIZE];   /* the target, escaped for the log */
    struct stat st;
    uint64_t bytes;

    b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->fd = -1;
    b->fd_direct = -1;
    b->domid = p->frontend_domid;
    b->devid = p->devid;

    /* the keys of vg_devtype_blk, checked as the toolstack checks them */
    if (vgd_model_key(p, &vg_devtype_blk, VG_KEY_TARGET, &target, NULL) != 1 ||
        vgd_model_key(p, &vg_devtype_blk, VG_KEY_READONLY, &ro, NULL) < 0)
        goto fail;
    b->readonly = ro && ro[0] == '1';
    vg_esc(target, shown, sizeof(shown));

    b->fd = open(target, (b->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (b->fd < 0) {
        vg_dev_log(VG_LOG_ERR, b->domid, b->devid, "blk: cannot open target "
                   "%s %s: %s", shown, b->readonly ? "read-only" : "read-write",
                   strerror(errno));
        goto fail;
    }
    if (fstat(b->fd, &st)) {
        vg_dev_log(VG_LOG_ERR, b->domid, b->devid, "blk: cannot stat %s: %s",
                   shown, strerror(errno));
        goto fail;
    }
    if (S_ISREG(st.st_mode)) {
        bytes = (uint64_t)st.st_size;
    } else if (S_ISBLK(st.st_mode)) {
        if (ioctl(b->fd, BLKGETSIZE64, &bytes)) {
            vg_dev_log(VG_LOG_ERR, b->domid, b->devid, "blk: cannot get the "
                       "size of block device %s: %s", shown, strerror(errno));
            goto fail;
        }
    } else {
        vg_dev_log(VG_LOG_ERR, b->domid, b->devid, "blk: target %s is neither "
                   "a regular file nor a block device", shown);
        goto fail;
    }
    b->capacity = bytes / VIRTIO_BLK_SECTOR_SIZE;
    if (p->direct)
        open_direct(b, target, shown, S_ISBLK(st.st_mode));
    /* strncpy semantics wanted: the id is zero-padded, not terminated */
    snprintf(b->id, sizeof(b->id), "vgrant-%u-%u", b->domid, b->devid);

    vg_dev_log(VG_LOG_INFO, b->domid, b->devid, "blk: %s, %llu sectors%s%s",
               shown, (unsigned long long)b->capacity,
               b->readonly ? ", read-only" : "",
               b->fd_direct >= 0 ? ", O_DIRECT" : "");
    free(target);
    free(ro);
    return b;

fail:
    if (b->fd >= 0)
        close(b->fd);
    if (b->fd_direct >= 0)
        close(b->fd_direct);
    free(target);
    free(ro);
    free(b);
    return NULL;
}

static void blk_close(void *m)
{
    struct blk *b = m;

    if (!b)
        return;
    vg_rl_flush(&b->bad, VG_LOG_WARN, "dom %u dev %u: blk: %llu bad requests "
                "in all", b->domid, b->devid,
                (unsigned long long)b->bad.events);
    vg_rl_flush(&b->ioerr, VG_LOG_ERR, "dom %u dev %u: blk: %llu I/O errors "
                "of the backing store in all", b->domid, b->devid,
                (unsigned long long)b->ioerr.events);
    close(b->fd);
    if (b->fd_direct >= 0)
        close(b->fd_direct);
    free(b);
}

static uint64_t blk_features(void *m)
{
    struct blk *b = m;
    uint64_t f = VG_FEATURE(VIRTIO_BLK_F_SIZE_MAX) |
                 VG_FEATURE(VIRTIO_BLK_F_SEG_MAX) |
                 VG_FEATURE(VIRTIO_BLK_F_BLK_SIZE) |
                 VG_FEATURE(VIRTIO_BLK_F_FLUSH);

    if (b->readonly)
        f |= VG_FEATURE(VIRTIO_BLK_F_RO);
    return f;
}

static size_t blk_config_space(void *m, uint8_t *buf, size_t max)
{
    struct blk *b = m;
    struct virtio_blk_config c;

    if (max < sizeof(c))
        return 0;
    memset(&c, 0, sizeof(c));
    c.capacity = htole64(b->capacity);
    c.size_max = htole32(BLK_SIZE_MAX);
    c.seg_max = htole32(BLK_SEG_MAX);
    c.blk_size = htole32(VIRTIO_BLK_SECTOR_SIZE);
    memcpy(buf, &c, sizeof(c));
    return sizeof(c);
}

static unsigned blk_max_request_pages(void *m)
{
    (void)m;
    /* header (16 bytes, may straddle two pages) + status (1 page) + data
     * segments, each at most size_max and possibly unaligned. */
    return 2 + 1 + BLK_SEG_MAX * (BLK_SIZE_MAX / VG_PAGE_SIZE + 1);
}

static unsigned blk_max_request_buffers(void *m)
{
    (void)m;
    return BLK_SEG_MAX + 2;
}

/* Copy len bytes at byte offset `from` of an iovec list into dst; returns
 * the bytes copied. */
static size_t iov_copy_out(const struct iovec *iov, unsigned n, size_t from,
                           void *dst, size_t len)
{
    size_t done = 0;

    for (unsigned i = 0; i < n && done < len; i++) {
        size_t l = iov[i].iov_len;

        if (from >= l) {
            from -= l;
            continue;
        }
        l -= from;
        if (l > len - done)
            l = len - done;
        memcpy((char *)dst + done, (char *)iov[i].iov_base + from, l);
        done += l;
        from = 0;
    }
    return done;
}

static size_t iov_copy_in(const struct iovec *iov, unsigned n, size_t to,
                          const void *src, size_t len)
{
    size_t done = 0;

    for (unsigned i = 0; i < n && done < len; i++) {
        size_t l = iov[i].iov_len;

        if (to >= l) {
            to -= l;
            continue;
        }
        l -= to;
        if (l > len - done)
            l = len - done;
        memcpy((char *)iov[i].iov_base + to, (const char *)src + done, l);
        done += l;
        to = 0;
    }
    return done;
}

/* Check the data part [from, from+len) of the device-readable (in=false)
 * or device-writable part of the chain against seg_max and size_max: the
 * guest's descriptors, however the transport cut them into iovecs. */
static int data_segments_ok(struct blk *b, const struct vgd_request *req,
                            bool in, size_t from, size_t len)
{
    const struct vq_chain *c = req->chain;
    unsigned segs = 0, i = in ? c->n_out : 0, end = in ? c->n : c->n_out;

    for (; i < end && len; i++) {
        size_t l = c->elem[i].len;

        if (from >= l) {
            from -= l;
            continue;
        }
        l -= from;
        if (l > len)
            l = len;
        if (l > BLK_SIZE_MAX) {
            blk_bad(b, "blk: data segment of %zu bytes exceeds size_max %u",
                    l, BLK_SIZE_MAX);
            return -1;
        }
        if (++segs > BLK_SEG_MAX) {
            blk_bad(b, "blk: more than seg_max %u data segments", BLK_SEG_MAX);
            return -1;
        }
        len -= l;
        from = 0;
    }
    return 0;
}

/* The data part [from, from + len) of an iovec list as io's iovecs; -1 if
 * io has no room (it has max_request_pages + max_request_buffers). */
static int iov_slice(struct vgd_io *io, const struct iovec *iov, unsigned n,
                     size_t from, size_t len)
{
    io->niov = 0;
    io->len = len;
    for (unsigned i = 0; i < n && len; i++) {
        size_t l = iov[i].iov_len;

        if (from >= l) {
            from -= l;
            continue;
        }
        l -= from;
        if (l > len)
            l = len;
        if (io->niov == io->iov_cap)
            return -1;
        io->iov[io->niov].iov_base = (char *)iov[i].iov_base + from;
        io->iov[io->niov].iov_len = l;
        io->niov++;
        len -= l;
        from = 0;
    }
    return 0;
}

/* [sector, sector + bytes/512) inside the disk, without overflow. */
static int range_ok(struct blk *b, uint64_t sector, size_t bytes)
{
    uint64_t nsect;

    if (bytes % VIRTIO_BLK_SECTOR_SIZE) {
        blk_bad(b, "blk: data length %zu is not a multiple of %u", bytes,
                VIRTIO_BLK_SECTOR_SIZE);
        return -1;
    }
    nsect = bytes / VIRTIO_BLK_SECTOR_SIZE;
    if (sector > b->capacity || nsect > b->capacity - sector) {
        blk_bad(b, "blk: sector %llu + %llu sectors is past the end (%llu "
                "sectors)", (unsigned long long)sector,
                (unsigned long long)nsect, (unsigned long long)b->capacity);
        return -1;
    }
    return 0;
}

/* The status byte is the last byte of in[] (checked: in_bytes >= 1). */
static void put_status(const struct vgd_request *req, struct vgd_result *res,
                       uint8_t status)
{
    iov_copy_in(req->in, req->n_in, req->in_bytes - 1, &status, 1);
    if (status != VIRTIO_BLK_S_OK)
        res->failed = true;
}

static bool blk_start(void *m, const struct vgd_request *req,
                      struct vgd_result *res, struct vgd_io *io)
{
    struct blk *b = m;
    struct virtio_blk_req_hdr hdr;   /* the one private copy */
    uint32_t type;
    uint64_t sector;
    size_t data_in, data_out, id_len;
    uint8_t status = VIRTIO_BLK_S_IOERR;

    res->written = 0;
    res->read = 0;
    if (req->in_bytes < 1) {
        blk_bad(b, "blk: request has no device-writable status byte");
        res->failed = true;
        return false;
    }
    data_in = req->in_bytes - 1;
    res->written = 1;

    if (req->out_bytes < sizeof(hdr) ||
        iov_copy_out(req->out, req->n_out, 0, &hdr, sizeof(hdr)) != sizeof(hdr)) {
        blk_bad(b, "blk: request header is %zu readable bytes, need %zu",
                req->out_bytes, sizeof(hdr));
        goto done;
    }
    type = le32toh(hdr.type);
    sector = le64toh(hdr.sector);
    data_out = req->out_bytes - sizeof(hdr);
    res->read = sizeof(hdr);

    switch (type) {
    case VIRTIO_BLK_T_IN:
        if (data_out) {
            blk_bad(b, "blk: read request carries %zu readable data bytes",
                    data_out);
            break;
        }
        if (range_ok(b, sector, data_in) ||
            data_segments_ok(b, req, true, 0, data_in))
            break;
        if (iov_slice(io, req->in, req->n_in, 0, data_in))
            break;
        io->op = VGD_IO_READ;
        io->offset = sector * VIRTIO_BLK_SECTOR_SIZE;
        io->fd = direct_ok(b, io) ? b->fd_direct : b->fd;
        return true;

    case VIRTIO_BLK_T_OUT:
        if (b->readonly) {
            blk_bad(b, "blk: write to read-only device (sector %llu)",
                    (unsigned long long)sector);
            break;
        }
        if (data_in) {
            blk_bad(b, "blk: write request has %zu writable data bytes",
                    data_in);
            break;
        }
        if (range_ok(b, sector, data_out) ||
            data_segments_ok(b, req, false, sizeof(hdr), data_out))
            break;
        if (iov_slice(io, req->out, req->n_out, sizeof(hdr), data_out))
            break;
        io->op = VGD_IO_WRITE;
        io->offset = sector * VIRTIO_BLK_SECTOR_SIZE;
        io->fd = direct_ok(b, io) ? b->fd_direct : b->fd;
        return true;

    case VIRTIO_BLK_T_FLUSH:
        if (data_out || data_in) {
            blk_bad(b, "blk: flush request carries data (%zu/%zu bytes)",
                    data_out, data_in);
            break;
        }
        if (b->readonly) {
            status = VIRTIO_BLK_S_OK;   /* nothing of ours to make durable */
            break;
        }
        io->op = VGD_IO_FLUSH;
        io->fd = b->fd;
        io->offset = 0;
        io->len = 0;
        io->niov = 0;
        return true;

    case VIRTIO_BLK_T_GET_ID:
        if (data_out || data_in == 0) {
            blk_bad(b, "blk: get-id request with %zu readable, %zu writable "
                    "data bytes", data_out, data_in);
            break;
        }
        id_len = data_in < sizeof(b->id) ? data_in : sizeof(b->id);
        iov_copy_in(req->in, req->n_in, 0, b->id, id_len);
        res->written = (uint32_t)id_len + 1;
        status = VIRTIO_BLK_S_OK;
        break;

    default:
        blk_bad(b, "blk: unsupported request type %u", type);
        status = VIRTIO_BLK_S_UNSUPP;
        break;
    }

done:
    put_status(req, res, status);
    return false;
}

/* The transfer blk_start asked for has run: result is io->len (0 for a
 * flush) or -errno.  A failing backing store (EIO, ENOSPC) fails this
 * request only; the device keeps serving. */
static void blk_done(void *m, const struct vgd_request *req,
                     struct vgd_result *res, const struct vgd_io *io,
                     ssize_t result)
{
    struct blk *b = m;
    static const char *const what[] = {
        [VGD_IO_READ] = "read", [VGD_IO_WRITE] = "write",
        [VGD_IO_FLUSH] = "flush",
    };

    if (result < 0 && io->fd == b->fd_direct &&
        (result == -EINVAL || result == -EFAULT)) {
        /* the buffers cannot take direct I/O (memory the kernel cannot
         * pin): through the page cache, now and from now on */
        struct vgd_io again = *io;

        if (!b->direct_refused)
            vg_dev_log(VG_LOG_WARN, b->domid, b->devid, "blk: O_DIRECT %s "
                       "refused (%s): served through the page cache from "
                       "now on", what[io->op], strerror((int)-result));
        b->direct_refused = true;
        again.fd = b->fd;
        result = vgd_io_run_sync(&again, 0);
    }
    if (result < 0) {
        vg_rl_log(&b->ioerr, VG_LOG_ERR, "dom %u dev %u: blk: %s of %zu "
                  "bytes at byte %llu: %s (I/O error #%llu)", b->domid,
                  b->devid, what[io->op], io->len,
                  (unsigned long long)io->offset, strerror((int)-result),
                  (unsigned long long)b->ioerr.events + 1);
        put_status(req, res, VIRTIO_BLK_S_IOERR);
        return;
    }
    if (io->op == VGD_IO_READ)
        res->written = (uint32_t)io->len + 1;
    else if (io->op == VGD_IO_WRITE)
        res->read += (uint32_t)io->len;
    put_status(req, res, VIRTIO_BLK_S_OK);
}

static void blk_fail(void *m, const struct vgd_request *status_only,
                     struct vgd_result *res)
{
    uint8_t status = VIRTIO_BLK_S_IOERR;

    (void)m;
    iov_copy_in(status_only->in, status_only->n_in, 0, &status, 1);
    res->written = 1;
    res->failed = true;
}

const struct vgd_model vgd_model_blk = {
    .name = VG_TYPE_BLK,
    .device_id = VIRTIO_ID_BLOCK,
    .max_queues = VG_MAX_QUEUES,
    .gathers = true,
    .open = blk_open,
    .close = blk_close,
    .features = blk_features,
    .config_space = blk_config_space,
    .max_request_pages = blk_max_request_pages,
    .max_request_buffers = blk_max_request_buffers,
    .start = blk_start,
    .done = blk_done,
    .status_bytes = 1,
    .fail = blk_fail,
};
