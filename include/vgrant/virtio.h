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
#define VIRTIO_ID_NET     1
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

/* ---- virtio-net (VIRTIO 1.x section 5.1) ---- */
#define VIRTIO_NET_F_CSUM        0
#define VIRTIO_NET_F_GUEST_CSUM  1
#define VIRTIO_NET_F_MTU         3
#define VIRTIO_NET_F_MAC         5
#define VIRTIO_NET_F_GUEST_TSO4  7
#define VIRTIO_NET_F_HOST_TSO4   11
#define VIRTIO_NET_F_MRG_RXBUF   15
#define VIRTIO_NET_F_STATUS      16

#define VIRTIO_NET_S_LINK_UP     1

/* virtio_net_hdr flags and gso_type */
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2
#define VIRTIO_NET_HDR_GSO_NONE     0
#define VIRTIO_NET_HDR_GSO_ECN      0x80

/* The header in front of every packet, both ways.  With VERSION_1 it
 * always has num_buffers (12 bytes), MRG_RXBUF or not. */
struct virtio_net_hdr {
    uint8_t flags;
    uint8_t gso_type;
    uint16_t hdr_len;
    uint16_t gso_size;
    uint16_t csum_start;
    uint16_t csum_offset;
    uint16_t num_buffers;     /* rx: buffers (chains) this packet uses */
};

struct virtio_net_config {
    uint8_t mac[6];
    uint16_t status;          /* VIRTIO_NET_S_* */
    uint16_t max_virtqueue_pairs;
    uint16_t mtu;
} __attribute__((packed));

_Static_assert(sizeof(struct virtio_net_hdr) == 12, "net header layout");
_Static_assert(offsetof(struct virtio_net_config, mtu) == 10, "net config");

#endif /* VGRANT_VIRTIO_H */
