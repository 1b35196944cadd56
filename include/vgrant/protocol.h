/* SPDX-License-Identifier: MIT */
/*
 * virtio-grant wire contract.
 *
 * Everything a frontend (the guest, domain F) and a backend (vgrantd in
 * domain B) must agree on: the xenstore layout, the xenbus state machine,
 * how virtqueue rings and buffers are named by grant references, and the
 * limits each side enforces on the other.  docs/protocol.md is the prose
 * version of this file; when they disagree this file wins.
 *
 * ---------------------------------------------------------------------------
 * XENSTORE LAYOUT
 * ---------------------------------------------------------------------------
 *
 * Backend directory  /local/domain/<B>/backend/virtio-grant/<F>/<devid>
 *   owned by B, readable by F.
 * Frontend directory /local/domain/<F>/device/virtio-grant/<devid>
 *   owned by F, readable by B.
 *
 * <devid> is a decimal integer in [0, VG_MAX_DEVID].
 * Every integer below is written in decimal unless it says "hex"; hex values
 * are written with a leading "0x".  A reader rejects leading/trailing junk,
 * signs, empty strings and values out of the stated range.
 *
 * Toolstack-written keys (vgrant attach, or libxl with the xl patch):
 *
 *  backend dir:
 *   frontend        string  path of the frontend directory
 *   frontend-id     uint    F
 *   online          0|1     1 while the device should exist
 *   state           uint    xenbus state, initially 1 (Initialising)
 *   type            string  device model: "blk", "rng" or "net" (see
 *                           VG_TYPE_*)
 *   target          string  blk: path of the image file or block device
 *   readonly        0|1     blk: device is read-only (VIRTIO_BLK_F_RO)
 *   rate            uint    rng, optional: bytes per second the device
 *                           delivers at most, in [1, VG_RNG_MAX_RATE];
 *                           absent = no limit
 *   mac             string  net, optional: the guest's MAC address, six
 *                           two-digit hex bytes separated by ':' (xl vif
 *                           style, 00:16:3e:xx:xx:xx), unicast (bit 0 of
 *                           the first byte clear), not all zero; written
 *                           lower case.  Absent: the backend picks a
 *                           random locally administered unicast address
 *                           and writes it here itself
 *   bridge          string  net, optional: the bridge the backend attaches
 *                           the device's tap interface to; an interface
 *                           name (1..15 of [A-Za-z0-9_.-], not "." or
 *                           ".."); absent: the tap is left unattached
 *   vif             string  net, optional: the tap interface's name (as
 *                           bridge); absent: vg<F>.<devid>
 *   mtu             uint    net: MTU in [VG_NET_MIN_MTU, VG_NET_MAX_MTU],
 *                           default 1500, offered as VIRTIO_NET_F_MTU
 *   mode            string  transport mode, see VG_MODE_* (default "grant")
 *   queues          uint    [1, VG_MAX_QUEUES] queues the backend offers
 *                           (net: queue pairs, 1 only: the device always
 *                           has queue 0 = receive and queue 1 = transmit)
 *   queue-size      uint    power of two in [VG_MIN_QUEUE_SIZE,
 *                           VG_MAX_QUEUE_SIZE], largest size offered
 *   region          uint    static mode: region size in bytes, a multiple
 *                           of 4096 in [4096, VG_MAX_REGION_BYTES]
 *   attach-id       string  identity of this attach: 1..VG_MAX_ATTACH_ID
 *                           characters from [0-9a-f-] (vgrant writes 32
 *                           random hex digits), written in the same
 *                           transaction as the keys above and different
 *                           for every attach.  The backend records it when
 *                           it first looks at the device and re-reads it
 *                           inside every transaction that writes to the
 *                           backend directory: a different (or missing)
 *                           value means the directory was removed and
 *                           re-created by a new attach, so the backend
 *                           drops everything of the old device (open
 *                           image, mode, limits, mappings) and starts over
 *                           from the new keys, and never writes the old
 *                           device's state into the new directory.
 *
 *  frontend dir:
 *   backend         string  path of the backend directory
 *   backend-id      uint    B
 *   state           uint    xenbus state, initially 1 (Initialising)
 *
 * Backend-written keys (before it enters InitWait):
 *   device-id       uint    virtio device id (VIRTIO_ID_*)
 *   features        hex     64-bit device feature bits offered; always
 *                           includes VIRTIO_F_VERSION_1 and
 *                           VIRTIO_F_ACCESS_PLATFORM
 *   max-queues      uint    [1, VG_MAX_QUEUES]
 *   max-queue-size  uint    power of two in [VG_MIN_QUEUE_SIZE,
 *                           VG_MAX_QUEUE_SIZE]
 *   config          hex     device config space as a string of hex byte
 *                           pairs, no "0x", at most VG_MAX_CONFIG_BYTES bytes
 *   config-generation uint  bumped after every change of "config"
 *   mode            string  transport mode actually in use
 *
 * Frontend-written keys (before it enters Initialised):
 *   features        hex     accepted feature bits: a subset of the offered
 *                           bits that includes VIRTIO_F_VERSION_1 and
 *                           VIRTIO_F_ACCESS_PLATFORM
 *   num-queues      uint    [1, max-queues]
 *   queue-<n>/size         uint  power of two, <= max-queue-size
 *   queue-<n>/desc         hex   grant address of the descriptor table
 *   queue-<n>/driver       hex   grant address of the driver (avail) area
 *   queue-<n>/device       hex   grant address of the device (used) area
 *   queue-<n>/event-channel uint port in F, unbound and offered to B
 *  optional, any time:
 *   stats           string  the guest's own counters for the administrator
 *                           (include/vgrant/guest_stats.h): "name=value"
 *                           words; informational only, the backend never
 *                           acts on them
 *  static mode only:
 *   region-pages    uint    number of pages in the pre-shared region, equal
 *                           to the backend's region / 4096
 *   region-refs-<k> string  grant refs of region pages 128k .. 128k+127
 *                           (fewer in the last key): decimal refs separated
 *                           by single spaces, k in [0, ceil(region-pages /
 *                           VG_REGION_REFS_PER_KEY)).  Packed because
 *                           xenstored limits a guest to 1000 nodes by
 *                           default: one key per page would cap the region
 *                           below 4 MiB; 128 because a guest's value is
 *                           limited to 2048 bytes.
 *
 * Each ring area is a run of consecutive grant refs starting at the ref
 * named by its grant address; the run covers the pages holding
 * [offset, offset + area size) for the queue size (see vg_ring_*_bytes in
 * virtio.h), where offset is the grant address's offset inside the first
 * page.  The descriptor table's offset must be 0; the driver area's offset
 * must be a multiple of 2 and the device area's a multiple of 4 (VIRTIO
 * 1.x alignment), so a frontend may lay the three areas out in one
 * allocation the way Linux's vring code does.  The descriptor table and
 * the driver area should be granted read-only (the backend only reads
 * them and maps them read-only, whatever the grant allows), the device
 * area writable.  A frontend whose pages
 * cannot be granted with consecutive refs keeps each area within one page
 * (queue-size <= 256).
 *
 * ---------------------------------------------------------------------------
 * XENBUS STATE MACHINE
 * ---------------------------------------------------------------------------
 *
 *  Backend                               Frontend
 *  1 Initialising (toolstack)            1 Initialising (toolstack)
 *  reads type/target/mode, opens the
 *  target, publishes device keys
 *  2 InitWait  -------------------->     reads device keys, negotiates,
 *                                        grants rings, allocates ports,
 *                                        writes its keys in a transaction
 *              <--------------------     3 Initialised
 *  validates every frontend key,
 *  maps rings, binds ports
 *  4 Connected -------------------->     4 Connected
 *
 *  Either side may go to 5 Closing at any time.  The backend, on frontend
 *  Closing/Closed or on any protocol violation, stops serving, completes or
 *  drops in-flight requests, unmaps every grant, unbinds every port and
 *  goes 5 Closing then 6 Closed.  The frontend, on backend Closing, fails
 *  every outstanding request, revokes every grant and goes 6 Closed.
 *
 *  Reconnect: a frontend in Closed may go back to 1 Initialising; a backend
 *  in Closed that sees it returns to 2 InitWait and the handshake reruns.
 *  A backend that starts and finds a device it is not serving in state
 *  3..4 (daemon restart) moves it to 5 Closing so the frontend resets.
 *
 *  Removal: the toolstack sets online=0 and the backend closes; the
 *  toolstack removes both directories once the backend is Closed (or the
 *  frontend domain is gone).  A backend also closes a device whose
 *  frontend directory or domain disappears.
 *
 *  Identity: a device is one toolstack attach, named by attach-id.  A
 *  re-attach of the same <F>/<devid> (even before the backend saw the
 *  removal) carries a new attach-id and is a new device.  A device whose
 *  frontend domain died stays Closed for good: a new domain that reuses
 *  the domid is never served the dead domain's device; only a new attach
 *  (new attach-id) brings it back.
 *
 * ---------------------------------------------------------------------------
 * DATA PLANE
 * ---------------------------------------------------------------------------
 *
 *  Split virtqueues per VIRTIO 1.x (little-endian), living in pages granted
 *  by F to B.
 *
 *  Grant address (modes grant, persistent, copy, auto), as in Linux's
 *  grant-dma-ops:
 *      bit 63           VG_GRANT_ADDR_FLAG, must be set
 *      bits 62..12      grant reference of the first page
 *      bits 11..0       offset inside that page
 *  A buffer crossing a page boundary uses consecutive refs: page k of the
 *  buffer is ref + k.
 *
 *  Static mode: a descriptor address is a byte offset into the region;
 *  [addr, addr + len) must lie inside it.
 *
 *  Notifications: one interdomain event channel per queue, used both ways
 *  (F kicks B after publishing avail entries, B signals F after publishing
 *  used entries).  With VIRTIO_RING_F_EVENT_IDX both sides suppress needless
 *  notifications with used_event/avail_event.
 */
#ifndef VGRANT_PROTOCOL_H
#define VGRANT_PROTOCOL_H

#ifdef __KERNEL__
/* frontend/linux (virtio_grant.ko) includes this header too. */
#include <linux/types.h>
#include <linux/limits.h>
#ifndef UINT32_MAX
#define UINT32_MAX U32_MAX
#endif
#else
#include <stdint.h>
#endif

/* xenstore device class, under backend/ and device/ */
#define VG_XS_CLASS          "virtio-grant"

/* xenbus states (identical to xen/include/public/io/xenbus.h) */
enum vg_xenbus_state {
    VG_XB_UNKNOWN       = 0,
    VG_XB_INITIALISING  = 1,
    VG_XB_INITWAIT      = 2,
    VG_XB_INITIALISED   = 3,
    VG_XB_CONNECTED     = 4,
    VG_XB_CLOSING       = 5,
    VG_XB_CLOSED        = 6,
    VG_XB_RECONFIGURING = 7,
    VG_XB_RECONFIGURED  = 8,
};

/* Limits enforced by both sides. */
#define VG_MAX_DOMID          0x7fefu  /* highest real domain id
                                          (DOMID_FIRST_RESERVED - 1) */
#define VG_MAX_DEVID          65535u
#define VG_MAX_QUEUES         8u
#define VG_MIN_QUEUE_SIZE     2u
#define VG_MAX_QUEUE_SIZE     1024u
#define VG_MAX_CONFIG_BYTES   256u
#define VG_MAX_REGION_BYTES   (256u * 1024 * 1024)
#define VG_MAX_REGION_PAGES   (VG_MAX_REGION_BYTES / VG_PAGE_SIZE)
#define VG_MAX_XS_VALUE       4096u   /* longest xenstore value either side reads */
#define VG_MAX_ATTACH_ID      64u     /* characters of the attach-id key */

#define VG_PAGE_SHIFT 12
#define VG_PAGE_SIZE  (1u << VG_PAGE_SHIFT)

/* Transport modes (backend key "mode"). */
#define VG_MODE_GRANT       "grant"
#define VG_MODE_PERSISTENT  "persistent"
#define VG_MODE_COPY        "copy"
#define VG_MODE_AUTO        "auto"
#define VG_MODE_STATIC      "static"

/* Device model names (backend key "type").  The keys each type takes,
 * with their limits, are listed in common/devtype.c (vg_devtypes). */
#define VG_TYPE_BLK         "blk"
#define VG_TYPE_RNG         "rng"
#define VG_TYPE_NET         "net"

/* rng: most bytes per second key "rate" may ask for (1 GiB/s). */
#define VG_RNG_MAX_RATE     (1u << 30)

/* net: limits of key "mtu" (the IPv4 minimum, the largest IP datagram). */
#define VG_NET_MIN_MTU      68u
#define VG_NET_MAX_MTU      65535u
#define VG_NET_DEFAULT_MTU  "1500"

/* xenstore key names */
#define VG_KEY_FRONTEND          "frontend"
#define VG_KEY_FRONTEND_ID       "frontend-id"
#define VG_KEY_BACKEND           "backend"
#define VG_KEY_BACKEND_ID        "backend-id"
#define VG_KEY_ONLINE            "online"
#define VG_KEY_STATE             "state"
#define VG_KEY_TYPE              "type"
#define VG_KEY_TARGET            "target"
#define VG_KEY_READONLY          "readonly"
#define VG_KEY_RATE              "rate"
#define VG_KEY_MAC               "mac"
#define VG_KEY_BRIDGE            "bridge"
#define VG_KEY_VIF               "vif"
#define VG_KEY_MTU               "mtu"
#define VG_KEY_MODE              "mode"
#define VG_KEY_QUEUES            "queues"
#define VG_KEY_QUEUE_SIZE        "queue-size"
#define VG_KEY_REGION            "region"
#define VG_KEY_ATTACH_ID         "attach-id"
#define VG_KEY_DEVICE_ID         "device-id"
#define VG_KEY_FEATURES          "features"
#define VG_KEY_MAX_QUEUES        "max-queues"
#define VG_KEY_MAX_QUEUE_SIZE    "max-queue-size"
#define VG_KEY_CONFIG            "config"
#define VG_KEY_CONFIG_GENERATION "config-generation"
#define VG_KEY_NUM_QUEUES        "num-queues"
#define VG_KEY_QUEUE_FMT         "queue-%u"        /* directory per queue */
#define VG_KEY_Q_SIZE            "size"
#define VG_KEY_Q_DESC            "desc"
#define VG_KEY_Q_DRIVER          "driver"
#define VG_KEY_Q_DEVICE          "device"
#define VG_KEY_Q_EVTCHN          "event-channel"
#define VG_KEY_STATS             "stats"           /* frontend, optional */
#define VG_KEY_REGION_PAGES      "region-pages"
#define VG_KEY_REGION_REFS_FMT   "region-refs-%u"
#define VG_REGION_REFS_PER_KEY   128u   /* 128 * 11 chars < 2048, xenstored's
                                           default node size quota for guests */

/* Grant address encoding (grant-dma-ops compatible). */
#define VG_GRANT_ADDR_FLAG   (1ULL << 63)
#define VG_GRANT_REF_MAX     UINT32_MAX   /* Xen grant_ref_t is 32 bits */

static inline uint64_t vg_grant_addr(uint32_t gref, uint32_t offset)
{
    return VG_GRANT_ADDR_FLAG | ((uint64_t)gref << VG_PAGE_SHIFT) |
           (offset & (VG_PAGE_SIZE - 1));
}

static inline int vg_grant_addr_valid(uint64_t addr)
{
    /* A ref must fit Xen's 32-bit grant_ref_t. */
    return (addr & VG_GRANT_ADDR_FLAG) &&
           ((addr & ~VG_GRANT_ADDR_FLAG) >> VG_PAGE_SHIFT) <= UINT32_MAX;
}

static inline uint32_t vg_grant_addr_ref(uint64_t addr)
{
    return (uint32_t)((addr & ~VG_GRANT_ADDR_FLAG) >> VG_PAGE_SHIFT);
}

static inline uint32_t vg_grant_addr_offset(uint64_t addr)
{
    return (uint32_t)(addr & (VG_PAGE_SIZE - 1));
}

/* The grant run of a buffer of len bytes at grant address addr: page k of
 * the buffer is ref + k.  The one check of a buffer's (or ring area's)
 * grant address every transport applies before naming a ref. */
enum vg_grant_run_check {
    VG_GRANT_RUN_OK = 0,
    VG_GRANT_RUN_NOT_GRANT,    /* bit 63 clear, or a ref above 32 bits */
    VG_GRANT_RUN_OVERFLOW,     /* ref + pages - 1 passes VG_GRANT_REF_MAX */
};

/* Check addr and give its first ref, the offset in the first page and the
 * number of pages [addr, addr + len) touches (0 for len 0). */
static inline enum vg_grant_run_check
vg_grant_run(uint64_t addr, uint64_t len, uint32_t *ref, uint32_t *offset,
             uint64_t *pages)
{
    uint64_t n;

    if (!vg_grant_addr_valid(addr))
        return VG_GRANT_RUN_NOT_GRANT;
    *ref = vg_grant_addr_ref(addr);
    *offset = vg_grant_addr_offset(addr);
    n = len ? (*offset + len + VG_PAGE_SIZE - 1) >> VG_PAGE_SHIFT : 0;
    *pages = n;
    if (n && (uint64_t)*ref + n - 1 > VG_GRANT_REF_MAX)
        return VG_GRANT_RUN_OVERFLOW;
    return VG_GRANT_RUN_OK;
}

#endif /* VGRANT_PROTOCOL_H */
