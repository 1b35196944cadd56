/* SPDX-License-Identifier: MIT */
/*
 * The parts of VIRTIO 1.x that virtio-grant uses: feature bits, split
 * virtqueue layout, device ids and the virtio-blk device.  All multi-byte
 * fields are little-endian on the wire.
 */
#ifndef VGRANT_VIRTIO_H
#define VGRANT_VIRTIO_H

#include <stddef.h>
#include <stdint.h>

/* Device ids */
#define VIRTIO_ID_BLOCK   2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG     4

/* Transport feature bits */
#define VIRTIO_RING_F_INDIRECT_DESC 28
#define VIRTIO_RING_F_EVENT_IDX     29
#define VIRTIO_F_VERSION_1          32
#define VIRTIO_F_ACCESS_PLATFORM    33

#define VG_FEATURE(bit) (1ULL << (bit))

/* Features every virtio-grant device offers and every driver must accept. */
#define VG_FEATURES_REQUIRED \
    (VG_FEATURE(VIRTIO_F_VERSION_1) | VG_FEATURE(VIRTIO_F_ACCESS_PLATFORM))

/* Descriptor flags */
#define VRING_DESC_F_NEXT     1
#define VRING_DESC_F_WRITE    2
#define VRING_DESC_F_INDIRECT 4

/* avail->flags / used->flags (used when EVENT_IDX is not negotiated) */
#define VRING_AVAIL_F_NO_INTERRUPT 1
#define VRING_USED_F_NO_NOTIFY     1

struct vring_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

struct vring_avail {
    uint16_t flags;
    uint16_t idx;
    uint16_t ring[];          /* num entries, then uint16_t used_event */
};

struct vring_used_elem {
    uint32_t id;
    uint32_t len;
};

struct vring_used {
    uint16_t flags;
    uint16_t idx;
    struct vring_used_elem ring[]; /* num entries, then uint16_t avail_event */
};

_Static_assert(sizeof(struct vring_desc) == 16, "vring_desc layout");
_Static_assert(sizeof(struct vring_used_elem) == 8, "used elem layout");

/* Area sizes of a split virtqueue of num entries (alignment 4096 per area
 * is up to the allocator; the areas are independent). */
static inline size_t vg_ring_desc_bytes(unsigned num)
{
    return (size_t)num * sizeof(struct vring_desc);
}
static inline size_t vg_ring_avail_bytes(unsigned num)
{
    return 4 + 2 * (size_t)num + 2;   /* flags, idx, ring[num], used_event */
}
static inline size_t vg_ring_used_bytes(unsigned num)
{
    return 4 + 8 * (size_t)num + 2;   /* flags, idx, ring[num], avail_event */
}

/* ---- virtio-blk ---- */
#define VIRTIO_BLK_F_SIZE_MAX  1
#define VIRTIO_BLK_F_SEG_MAX   2
#define VIRTIO_BLK_F_RO        5
#define VIRTIO_BLK_F_BLK_SIZE  6
#define VIRTIO_BLK_F_FLUSH     9

#define VIRTIO_BLK_T_IN     0
#define VIRTIO_BLK_T_OUT    1
#define VIRTIO_BLK_T_FLUSH  4
#define VIRTIO_BLK_T_GET_ID 8

#define VIRTIO_BLK_S_OK     0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_ID_BYTES 20
#define VIRTIO_BLK_SECTOR_SIZE 512

struct virtio_blk_req_hdr {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
};

/* Device config space, the fields virtio-grant fills. */
struct virtio_blk_config {
    uint64_t capacity;        /* in 512-byte sectors */
    uint32_t size_max;
    uint32_t seg_max;
    struct {
        uint16_t cylinders;
        uint8_t heads;
        uint8_t sectors;
    } geometry;
    uint32_t blk_size;
} __attribute__((packed));

_Static_assert(sizeof(struct virtio_blk_req_hdr) == 16, "blk header layout");
_Static_assert(offsetof(struct virtio_blk_config, blk_size) == 20, "blk config");

#endif /* VGRANT_VIRTIO_H */
