// SPDX-License-Identifier: GPL-2.0
/*
 * virtio_grant.ko: module parameters, the work queue and the xenbus
 * driver's registration.  The module is split by job:
 *
 *   vgk_xenbus.c   the xenbus frontend: probe/remove/resume and the
 *                  session state machine (connect, close, reconnect)
 *   vgk_keys.c     the xenstore keys of a session: the backend's, read
 *                  and checked; ours, written in one transaction
 *   vgk_virtio.c   the virtio transport: virtio_config_ops, queues and
 *                  their event channels, failing owed I/O
 *   vgk_pm.c       suspend and resume of the virtio device
 *   vgk_dma.c      DMA through grants: the dma_map_ops and the arena
 *   vgk_stats.c    counters: sysfs attributes and the "stats" key
 */
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/workqueue.h>
#include <xen/xen.h>

#include "vgk.h"

struct workqueue_struct *vgk_wq;

bool vgk_zero_copy = true;
module_param_named(zero_copy, vgk_zero_copy, bool, 0644);
MODULE_PARM_DESC(zero_copy, "grant mode: grant whole-page buffers in place instead of bouncing them (default Y)");

unsigned int vgk_max_queue_size = 256;
module_param_named(max_queue_size, vgk_max_queue_size, uint, 0644);
MODULE_PARM_DESC(max_queue_size, "largest virtqueue size used, a power of two (default 256; the backend's max-queue-size also caps it)");

unsigned int vgk_bounce_pages = 256;
module_param_named(bounce_pages, vgk_bounce_pages, uint, 0444);
MODULE_PARM_DESC(bounce_pages, "grant mode: pages of the per-device bounce area for sub-page and unaligned buffers (default 256)");

unsigned int vgk_pool_pages = 1024;
module_param_named(pool_pages, vgk_pool_pages, uint, 0444);
MODULE_PARM_DESC(pool_pages, "persistent mode: pages of the per-device pool granted once at connect (default 1024, at least 130)");

/* The backend domain writes "region" (the toolstack does, but nothing stops
 * the backend rewriting it), and the guest allocates and grants that much
 * at every connect: a guest-side cap, so that a backend cannot make a
 * small guest's kernel allocate 256 MiB or empty its grant table. */
unsigned int vgk_max_region_pages = 4096;
module_param_named(max_region_pages, vgk_max_region_pages, uint, 0644);
MODULE_PARM_DESC(max_region_pages, "static mode: largest region the guest allocates and grants for a backend, in pages (default 4096 = 16 MiB; the protocol's limit is 65536)");

unsigned int vgk_close_timeout_ms = 5000;
module_param_named(close_timeout_ms, vgk_close_timeout_ms, uint, 0644);
MODULE_PARM_DESC(close_timeout_ms, "how long to wait for the backend to close before revoking anyway, and for a stalled backend to complete anything while suspending or while a driver is removed (default 5000)");

unsigned int vgk_resume_timeout_ms = 10000;
module_param_named(resume_timeout_ms, vgk_resume_timeout_ms, uint, 0644);
MODULE_PARM_DESC(resume_timeout_ms, "after a restore or cancelled suspend: how long to wait for the backend before failing the device's I/O (default 10000)");

static int __init vgk_init(void)
{
	int err;

	if (!xen_domain())
		return -ENODEV;
	/* freezable: nothing of ours runs between suspend and resume */
	vgk_wq = alloc_workqueue("virtio_grant",
				 WQ_UNBOUND | WQ_MEM_RECLAIM | WQ_FREEZABLE, 0);
	if (!vgk_wq)
		return -ENOMEM;
	err = xenbus_register_frontend(&vgk_driver);
	if (err)
		destroy_workqueue(vgk_wq);
	return err;
}

static void __exit vgk_exit(void)
{
	xenbus_unregister_driver(&vgk_driver);
	destroy_workqueue(vgk_wq);
}

module_init(vgk_init);
module_exit(vgk_exit);

MODULE_DESCRIPTION("virtio transport over Xen grants (virtio-grant frontend)");
MODULE_LICENSE("GPL");
MODULE_ALIAS("xen:" VG_XS_CLASS);
MODULE_SOFTDEP("pre: virtio_blk virtio_rng");
