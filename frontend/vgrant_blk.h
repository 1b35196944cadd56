/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk over libvgrant: open a virtio-grant block device, read its
 * config, and do sector I/O synchronously or with several requests in
 * flight.
 *
 * Offsets and lengths are bytes and must be multiples of 512
 * (VIRTIO_BLK_SECTOR_SIZE), inside the capacity; otherwise EINVAL.  Large
 * I/O is split into virtio requests that respect the device's seg_max and
 * size_max and the queue size.  A request the device fails comes back as
 * -1 with errno EIO (VIRTIO_BLK_S_IOERR, or a completion the backend got
 * wrong), EOPNOTSUPP (VIRTIO_BLK_S_UNSUPP) or EROFS (a write to a
 * read-only device, refused before it is sent).
 *
 * One thread at a time per struct vgf_blk.  Do not mix the synchronous
 * calls with outstanding asynchronous ones (they fail with EBUSY).
 */
#ifndef VGRANT_VGRANT_BLK_H
#define VGRANT_VGRANT_BLK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libvgrant.h"

/* Upper bound of one virtio request's data; the device's limits may make
 * it smaller (vgf_blk_max_request). */
#define VGF_BLK_MAX_REQUEST_BYTES (1024u * 1024)

/* Feature bits vgf_blk_open always asks for (on top of opts). */
#define VGF_BLK_FEATURES                                                  \
    (VG_FEATURE(VIRTIO_BLK_F_SIZE_MAX) | VG_FEATURE(VIRTIO_BLK_F_SEG_MAX) | \
     VG_FEATURE(VIRTIO_BLK_F_BLK_SIZE) | VG_FEATURE(VIRTIO_BLK_F_RO) |      \
     VG_FEATURE(VIRTIO_BLK_F_FLUSH))

struct vgf_blk;

/* vgf_open + checks that the device is a block device (else ENODEV) with
 * a sane config (else EPROTO).  opts may be NULL. */
struct vgf_blk *vgf_blk_open(struct vg_hyp *h, unsigned devid,
                             const struct vgf_opts *opts);
void vgf_blk_close(struct vgf_blk *b);
struct vgf_dev *vgf_blk_dev(struct vgf_blk *b);

uint64_t vgf_blk_capacity(const struct vgf_blk *b);   /* bytes */
bool vgf_blk_readonly(const struct vgf_blk *b);
bool vgf_blk_has_flush(const struct vgf_blk *b);
uint32_t vgf_blk_seg_max(const struct vgf_blk *b);    /* 0: not offered */
uint32_t vgf_blk_size_max(const struct vgf_blk *b);   /* 0: not offered */
uint32_t vgf_blk_block_size(const struct vgf_blk *b); /* 512 if not offered */
size_t vgf_blk_max_request(const struct vgf_blk *b);  /* bytes per request */

int vgf_blk_read(struct vgf_blk *b, uint64_t offset, void *buf, size_t len);
int vgf_blk_write(struct vgf_blk *b, uint64_t offset, const void *buf,
                  size_t len);
/* A no-op returning 0 when the device has no VIRTIO_BLK_F_FLUSH (it is
 * then write-through by the virtio spec). */
int vgf_blk_flush(struct vgf_blk *b);
/* The device's id string, NUL-terminated, unprintable bytes as '?'. */
int vgf_blk_get_id(struct vgf_blk *b, char id[VIRTIO_BLK_ID_BYTES + 1]);

/*
 * Asynchronous I/O for queue depth.  Submit queues one I/O (split into as
 * many virtio requests as it needs) and returns at once; buf must stay
 * valid until vgf_blk_wait returns its cookie.  -1 with errno EAGAIN when
 * the queue or the grant space has no room for it right now (wait for one
 * first), E2BIG when it could never fit (submit smaller pieces),
 * EINVAL/EROFS/EIO as above.  An I/O larger than vgf_blk_max_request
 * becomes several requests; if the grant space runs out between them, the
 * I/O is reported by vgf_blk_wait as failed with ENOBUFS, so keep I/Os
 * within vgf_blk_max_request when grant space is tight.
 * After vgf_blk_wait times out, the I/Os stay outstanding (the sync calls
 * then fail with EBUSY) until collected or the device is closed.
 */
int vgf_blk_submit_read(struct vgf_blk *b, uint64_t offset, void *buf,
                        size_t len, void *cookie);
int vgf_blk_submit_write(struct vgf_blk *b, uint64_t offset, const void *buf,
                         size_t len, void *cookie);
/* Wait (timeout_ms < 0: the device's default) for one submitted I/O to
 * finish.  0: *cookie succeeded.  -1 with *cookie set: that I/O failed,
 * errno says why.  -1 with *cookie NULL: ETIMEDOUT, ENODATA (nothing
 * outstanding) or ENOTCONN (device down). */
int vgf_blk_wait(struct vgf_blk *b, void **cookie, int timeout_ms);
/* I/Os submitted and not yet returned by vgf_blk_wait. */
unsigned vgf_blk_in_flight(const struct vgf_blk *b);

#endif /* VGRANT_VGRANT_BLK_H */
