/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtio_grant.ko: a virtio transport over Xen grants for stock Linux
 * guests.  One xenbus device of class "virtio-grant" becomes one
 * virtio_device; all of its DMA goes through grants (vgk_dma.c).
 * The wire contract is include/vgrant/protocol.h.
 */
#ifndef VGK_H
#define VGK_H

#include <linux/atomic.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/virtio.h>
#include <linux/workqueue.h>
#include <xen/grant_table.h>
#include <xen/xenbus.h>
#include <xen/interface/event_channel.h>

#include "vgrant/protocol.h"

#define VGK_UNIT_SHIFT   6                 /* arena allocation unit: 64 bytes */
#define VGK_UNIT         (1UL << VGK_UNIT_SHIFT)
#define VGK_UNITS_PER_PAGE (PAGE_SIZE >> VGK_UNIT_SHIFT)
/* Persistent mode: the segments of the largest request, vgrantd's blk
 * seg_max (vgk_max_mapping_size sizes segments by it); the smallest pool
 * whose half holds one such request of one-page segments and its status
 * byte (a smaller one could requeue that request for ever). */
#define VGK_POOL_SEGS      64u
#define VGK_POOL_MIN_PAGES (2 * (VGK_POOL_SEGS + 1))

enum vgk_mode { VGK_GRANT, VGK_PERSISTENT, VGK_STATIC };

#define VGK_FEATURES_REQUIRED \
	(BIT_ULL(VIRTIO_F_VERSION_1) | BIT_ULL(VIRTIO_F_ACCESS_PLATFORM))

/* One virtqueue and its event channel. */
struct vgk_queue {
	struct vgk_dev *d;
	unsigned int index;
	unsigned int num;
	struct virtqueue *vq;
	evtchn_port_t port;
	int irq;
	/*
	 * Which heads the device still owes us: +1 per avail entry, -1 per
	 * used entry, caught up on every map, every interrupt and at failure.
	 * When the backend goes away, the transport completes every head still
	 * owed (length 0, bounced status 0xff) so the driver's I/O ends with
	 * an error instead of hanging.
	 */
	spinlock_t track_lock;
	u16 shadow_avail, shadow_used;
	s16 *owed;
	/*
	 * used->idx as the interrupt handler last saw it (only it touches
	 * this): an event is spurious, for Xen's lateeoi throttling, only if
	 * the backend published nothing since the last one.  Whether the
	 * driver finds new entries is no measure: virtio_net consumes them
	 * outside the interrupt (NAPI polls, tx buffers reaped in xmit).
	 */
	u16 irq_used;
	char name[40];
};

/* A dma_alloc_coherent area (a vring): pages granted with consecutive refs. */
struct vgk_coh {
	struct list_head node;
	void *cpu;
	unsigned int npages;
	grant_ref_t ref;
};

/*
 * Pages granted once per session: the bounce area of grant mode, the pool
 * of persistent mode, the region of static mode.  Allocation in 64-byte
 * units, first fit from a moving hint, under an irq-safe lock (map_page
 * runs with interrupts off).
 */
struct vgk_arena {
	unsigned int npages;
	struct page **pages;
	grant_ref_t *refs;         /* grant/persistent: consecutive */
	void *va;                  /* vmap of pages */
	unsigned long *bits;
	unsigned long nunits, used, high, hint;
	void **orig;               /* per unit: the caller's buffer (copy-back) */
	spinlock_t lock;           /* last: arena_clear keeps it */
};

struct vgk_stats {
	atomic64_t requests;        /* avail entries published by the driver */
	atomic64_t completed;       /* used entries returned by the backend */
	atomic64_t grants;          /* refs granted per request (zero-copy) */
	atomic64_t setup_grants;    /* refs granted at connect (rings, arena) */
	atomic64_t zero_copy_bytes;
	atomic64_t bounce_bytes;    /* bytes copied into / out of the arena */
	atomic64_t bounced_maps;
	atomic64_t arena_full;      /* maps refused: arena full (I/O requeued) */
	atomic64_t map_errors;      /* maps refused for other reasons */
	atomic64_t revoke_failures; /* grants the backend still held at unmap */
	atomic64_t failed_requests; /* heads completed by us with an error */
	atomic64_t sessions;
	atomic64_t resumes;         /* sessions resumed under the same device */
	atomic64_t config_changes;
};

struct vgk_vdev {
	struct virtio_device vdev;
	struct vgk_dev *d;
};

static inline struct vgk_dev *vgk_from_vdev(struct virtio_device *vdev)
{
	return container_of(vdev, struct vgk_vdev, vdev)->d;
}

struct vgk_dev {
	struct xenbus_device *xdev;
	u64 dma_mask;
	domid_t domid;

	struct mutex lock;          /* session setup and teardown */
	struct work_struct connect_work, close_work;
	struct delayed_work stats_work;   /* frontend key "stats" */
	bool up;                    /* a session exists */
	bool removing;
	bool broken;                /* a grant could not be revoked */
	bool published;             /* our keys are out, state Initialised+ */
	bool dead;                  /* READ_ONCE: refuse DMA, device failing */
	bool poison;                /* READ_ONCE: bounced reads return 0xff */
	/*
	 * Suspend (xl save, migration, a cancelled suspend): the virtio device
	 * stays registered (same /dev/vdX) while its session is closed.
	 * frozen: from the device's PM freeze to its thaw/restore; backend
	 * state changes are then the PM path's business.  offline: the driver
	 * is restoring over no session (the backend did not come back): rings
	 * are not granted, nothing is published, every request fails.
	 */
	bool frozen;                /* READ_ONCE */
	bool offline;
	/* a driver's drain (freeze, remove) whose backend stalls */
	struct delayed_work drain_watch;
	const char *drain_why;
	s64 drain_done;
	unsigned long drain_since;
	unsigned int nq_frozen;     /* queues the driver had before the freeze */

	/* backend keys of this session */
	u32 device_id;
	u64 offered;
	u32 max_queues, max_queue_size;
	enum vgk_mode mode;
	char mode_name[16];
	u64 region_bytes;

	/* config space cache */
	spinlock_t cfg_lock;
	u8 config[VG_MAX_CONFIG_BYTES];
	unsigned int cfg_len;
	u32 cfg_gen;
	bool vv_ready;
	struct xenbus_watch cfg_watch;
	bool cfg_watching;

	struct vgk_vdev *vv;
	u8 status;

	struct mutex vq_mutex;      /* queue creation/deletion/failure */
	spinlock_t qlist_lock;      /* q[] as seen from atomic context */
	struct vgk_queue *q[VG_MAX_QUEUES];
	unsigned int nq;

	spinlock_t coh_lock;
	struct list_head coh;
	struct vgk_arena arena;

	struct page **zc_page;      /* zero-copy: first ref -> first page */
	unsigned long zc_size;

	struct vgk_stats st;
};

/* vgk_dma.c */
extern const struct dma_map_ops vgk_dma_ops;
int vgk_arena_setup(struct vgk_dev *d, unsigned int npages, bool consecutive);
void vgk_arena_release(struct vgk_dev *d);
int vgk_coh_grant(struct vgk_dev *d, dma_addr_t start, size_t ro_bytes);
void vgk_track_all(struct vgk_dev *d);
void vgk_track(struct vgk_queue *q);
void vgk_device_failed(struct vgk_dev *d, const char *why);
unsigned int vgk_owed(struct vgk_queue *q);

/* vgk_xenbus.c */
extern struct xenbus_driver vgk_driver;
void vgk_close_handshake(struct vgk_dev *d);
int vgk_session_arena(struct vgk_dev *d);

/* vgk_keys.c */
int vgk_read_config(struct vgk_dev *d);
int vgk_read_backend_keys(struct vgk_dev *d);
bool vgk_backend_online(struct vgk_dev *d);
int vgk_publish(struct vgk_dev *d);

/* vgk_virtio.c */
extern const struct virtio_config_ops vgk_config_ops;
void vgk_vdev_release(struct device *dev);
void vgk_kick_all(struct vgk_dev *d);
void vgk_del_vqs(struct virtio_device *vdev);
void vgk_fail_io(struct vgk_dev *d);
void vgk_drain_watch(struct work_struct *w);
void vgk_drain_watch_start(struct vgk_dev *d, const char *why);
void vgk_drain_watch_stop(struct vgk_dev *d);

/* vgk_pm.c */
extern const struct device_type vgk_vdev_type;

/* vgk_stats.c */
extern const struct attribute_group vgk_group;
void vgk_write_stats(struct vgk_dev *d);
void vgk_stats_work(struct work_struct *w);

/* vgk_main.c: the work queue and the module parameters */
extern struct workqueue_struct *vgk_wq;
extern bool vgk_zero_copy;
extern unsigned int vgk_max_queue_size;
extern unsigned int vgk_bounce_pages;
extern unsigned int vgk_pool_pages;
extern unsigned int vgk_max_region_pages;
extern unsigned int vgk_close_timeout_ms;
extern unsigned int vgk_resume_timeout_ms;

#endif /* VGK_H */
