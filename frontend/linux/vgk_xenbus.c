// SPDX-License-Identifier: GPL-2.0
/*
 * virtio_grant.ko: the xenbus frontend for device class "virtio-grant"; the
 * virtio transport on top of it is vgk_virtio.c.  The same handshake as
 * libvgrant (frontend/vgf_xenbus.c), the wire contract of
 * include/vgrant/protocol.h.
 *
 * A session is one backend connection and one registered virtio_device:
 *
 *   backend InitWait    connect work: read and check the backend's keys,
 *                       grant the mode's arena, register a virtio_device;
 *                       the stock driver (virtio_blk, virtio_rng) probes,
 *                       negotiates, creates queues (find_vqs: rings granted,
 *                       one event channel per queue) and sets DRIVER_OK:
 *                       our keys in one transaction, state Initialised.
 *   backend Connected   state Connected, kick every queue.
 *   backend Closing/    close work: refuse further DMA, complete every
 *   Closed/gone         request the device still owes with an error,
 *                       unregister the virtio_device (the driver's remove
 *                       resets us: Closing, wait for the backend, Closed),
 *                       revoke the arena; then, if the toolstack still has
 *                       the device online, Initialising again: the next
 *                       backend InitWait starts a new session (a new
 *                       virtio_device, e.g. a new /dev/vdX).
 *   suspend/resume      (xl save/restore, migration, a cancelled suspend)
 *                       the virtio_device stays: its PM freeze drains and
 *                       closes the session, its thaw/restore opens a new
 *                       one under the same device (same /dev/vdX); see
 *                       vgk_pm.c.
 *
 * Nothing that waits runs on the xenwatch thread: backend state changes
 * only queue work.
 */
#include <linux/delay.h>
#include <linux/dma-map-ops.h>
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/virtio_config.h>

#include "vgk.h"

/* ------------------------------------------------------------------ */
/* the close handshake                                                 */

static bool be_closed_enough(enum xenbus_state s)
{
	return s == XenbusStateClosing || s == XenbusStateClosed ||
	       s == XenbusStateUnknown || s == XenbusStateInitialising ||
	       s == XenbusStateInitWait;
}

/* Tell the backend we are done with this session and give it a bounded
 * time to let go of everything (it unmaps before it says Closing).
 * Polls: may run on the xenwatch thread (device removal). */
void vgk_close_handshake(struct vgk_dev *d)
{
	struct xenbus_device *xdev = d->xdev;
	unsigned long deadline = jiffies + msecs_to_jiffies(vgk_close_timeout_ms);
	enum xenbus_state be;

	if (xdev->state == XenbusStateInitialised || xdev->state == XenbusStateConnected)
		xenbus_switch_state(xdev, XenbusStateClosing);
	for (;;) {
		be = xenbus_read_driver_state(xdev->otherend);
		if (be_closed_enough(be))
			break;
		if (time_after(jiffies, deadline)) {
			dev_warn(&xdev->dev, "backend dom %u still in state %d after %u ms; revoking anyway\n",
				 xdev->otherend_id, be, vgk_close_timeout_ms);
			break;
		}
		msleep(20);
	}
	if (xdev->state != XenbusStateClosed)
		xenbus_switch_state(xdev, XenbusStateClosed);
	d->published = false;
}

/* ------------------------------------------------------------------ */
/* sessions                                                            */

int vgk_session_arena(struct vgk_dev *d)
{
	switch (d->mode) {
	case VGK_PERSISTENT:
		return vgk_arena_setup(d, max(vgk_pool_pages, VGK_POOL_MIN_PAGES),
				       true);
	case VGK_STATIC:
		return vgk_arena_setup(d, d->region_bytes >> PAGE_SHIFT, false);
	default:
		return vgk_arena_setup(d, max(vgk_bounce_pages, 16u), true);
	}
}

/* d->lock held.  Unregister the virtio device (its driver's remove resets
 * us, which closes the handshake), revoke the arena. */
static void session_end(struct vgk_dev *d)
{
	unsigned long fl;

	if (d->vv) {
		spin_lock_irqsave(&d->cfg_lock, fl);
		d->vv_ready = false;
		spin_unlock_irqrestore(&d->cfg_lock, fl);
		/* the driver's remove drains its I/O (virtio_blk waits for
		 * every request) before it resets us: a backend still
		 * Connected but silent would hold it, and a sysfs unbind or the
		 * xenwatch thread with it, for ever */
		vgk_drain_watch_start(d, "remove");
		unregister_virtio_device(&d->vv->vdev);
		vgk_drain_watch_stop(d);
		d->vv = NULL;
	}
	if (d->published)
		vgk_close_handshake(d);
	d->up = false;
	cancel_delayed_work_sync(&d->stats_work);
	vgk_write_stats(d);
	vgk_arena_release(d);
	WRITE_ONCE(d->poison, false);
	WRITE_ONCE(d->dead, false);
	d->status = 0;
}

static void connect_work(struct work_struct *w)
{
	struct vgk_dev *d = container_of(w, struct vgk_dev, connect_work);
	struct xenbus_device *xdev = d->xdev;
	struct vgk_vdev *vv;
	enum xenbus_state be;
	unsigned long fl;
	int err;

	mutex_lock(&d->lock);
	if (d->up || d->removing || READ_ONCE(d->frozen) ||
	    xdev->state != XenbusStateInitialising ||
	    xenbus_read_driver_state(xdev->otherend) != XenbusStateInitWait)
		goto out;
	d->domid = xdev->otherend_id;     /* may change across save/restore */
	err = vgk_read_backend_keys(d);
	if (err) {
		xenbus_dev_fatal(xdev, err, "reading the keys of backend dom %u", xdev->otherend_id);
		goto out;
	}
	err = vgk_session_arena(d);
	if (err) {
		xenbus_dev_fatal(xdev, err, "granting the %s area", d->mode_name);
		goto out;
	}
	vv = kzalloc(sizeof(*vv), GFP_KERNEL);
	if (!vv) {
		vgk_arena_release(d);
		goto out;
	}
	vv->d = d;
	vv->vdev.dev.parent = &xdev->dev;     /* whose dma_ops are ours */
	vv->vdev.dev.release = vgk_vdev_release;
	vv->vdev.dev.type = &vgk_vdev_type;   /* suspend/resume: vgk_pm.c */
	vv->vdev.config = &vgk_config_ops;
	vv->vdev.id.device = d->device_id;
	vv->vdev.id.vendor = VIRTIO_DEV_ANY_ID;
	d->vv = vv;
	WRITE_ONCE(d->up, true);
	d->published = false;
	d->status = 0;
	atomic64_inc(&d->st.sessions);
	/*
	 * A backend that left InitWait while the keys were read and the area
	 * granted (Closing, Closed: a restart, or on purpose) had its event
	 * dropped by backend_changed, as the session was not up yet; the
	 * probe below would then wait on it for ever.  Up is set first, so
	 * an event from now on queues the close work itself; this read sees
	 * any state written before that.  The close work fails the probe's
	 * I/O and ends the session once the probe returns.
	 */
	smp_mb();
	be = xenbus_read_driver_state(xdev->otherend);
	if (be != XenbusStateInitWait && be != XenbusStateConnected)
		queue_work(vgk_wq, &d->close_work);
	dev_info_ratelimited(&xdev->dev, "backend dom %u: virtio device %u, mode %s, features 0x%llx, %u queue(s) of up to %u\n",
		 xdev->otherend_id, d->device_id, d->mode_name, d->offered,
		 d->max_queues, d->max_queue_size);
	err = register_virtio_device(&vv->vdev);
	if (err) {
		dev_err(&xdev->dev, "registering the virtio device: %d\n", err);
		put_device(&vv->vdev.dev);
		d->vv = NULL;
		session_end(d);
		xenbus_dev_fatal(xdev, err, "registering the virtio device");
		goto out;
	}
	spin_lock_irqsave(&d->cfg_lock, fl);
	d->vv_ready = true;
	spin_unlock_irqrestore(&d->cfg_lock, fl);
	queue_delayed_work(vgk_wq, &d->stats_work, 2 * HZ);
out:
	mutex_unlock(&d->lock);
}

static void close_work(struct work_struct *w)
{
	struct vgk_dev *d = container_of(w, struct vgk_dev, close_work);
	struct xenbus_device *xdev = d->xdev;
	unsigned long deadline;
	enum xenbus_state be;

	if (READ_ONCE(d->frozen))
		return;    /* the resume decides (vgk_pm_restore) */
	if (READ_ONCE(d->up))
		vgk_fail_io(d);
	/* a probe blocked on I/O has its answer now */
	flush_work(&d->connect_work);
	mutex_lock(&d->lock);
	if (d->removing)
		goto out;
	if (d->up) {
		session_end(d);
		dev_info_ratelimited(&xdev->dev, "session with backend dom %u ended\n", xdev->otherend_id);
	}
	if (xdev->state != XenbusStateClosed && xdev->state != XenbusStateInitialising)
		xenbus_switch_state(xdev, XenbusStateClosed);
	if (READ_ONCE(d->broken) || !vgk_backend_online(d))
		goto out;    /* stay Closed: the toolstack removes the device */
	/* reconnect: the backend reruns the handshake once it is Closed */
	deadline = jiffies + msecs_to_jiffies(vgk_close_timeout_ms);
	for (;;) {
		be = xenbus_read_driver_state(xdev->otherend);
		if (be == XenbusStateClosed || be == XenbusStateInitWait ||
		    be == XenbusStateInitialising || time_after(jiffies, deadline))
			break;
		msleep(20);
	}
	if (be != XenbusStateClosed && be != XenbusStateInitWait &&
	    be != XenbusStateInitialising)
		goto out;    /* its next state change brings us back here */
	if (xdev->state != XenbusStateInitialising)
		xenbus_switch_state(xdev, XenbusStateInitialising);
	if (xenbus_read_driver_state(xdev->otherend) == XenbusStateInitWait)
		queue_work(vgk_wq, &d->connect_work);
out:
	mutex_unlock(&d->lock);
}

/* xenwatch thread: queue work, never wait. */
static void backend_changed(struct xenbus_device *xdev, enum xenbus_state be)
{
	struct vgk_dev *d = dev_get_drvdata(&xdev->dev);

	/* suspended: only the restore's own handshake concerns us */
	if (READ_ONCE(d->frozen) && be != XenbusStateConnected)
		return;
	switch (be) {
	case XenbusStateInitWait:
		if (xdev->state == XenbusStateInitialising)
			queue_work(vgk_wq, &d->connect_work);
		break;
	case XenbusStateConnected:
		/* xenbus_switch_state() records our new state only after
		 * writing it, so Initialising may still show here */
		if (d->published && (xdev->state == XenbusStateInitialised ||
				     xdev->state == XenbusStateInitialising)) {
			xenbus_switch_state(xdev, XenbusStateConnected);
			/* kicks sent before the backend bound the ports were lost */
			vgk_kick_all(d);
		}
		break;
	case XenbusStateClosing:
	case XenbusStateClosed:
	case XenbusStateUnknown:
		if (xdev->state != XenbusStateInitialising || READ_ONCE(d->up))
			queue_work(vgk_wq, &d->close_work);
		break;
	default:
		break;
	}
}

static void config_changed(struct xenbus_watch *w, const char *path,
			   const char *token)
{
	struct vgk_dev *d = container_of(w, struct vgk_dev, cfg_watch);
	unsigned long fl;

	if (!READ_ONCE(d->up) || READ_ONCE(d->frozen) || vgk_read_config(d) <= 0)
		return;    /* between sessions: the next connect reads it */
	atomic64_inc(&d->st.config_changes);
	spin_lock_irqsave(&d->cfg_lock, fl);
	if (d->vv_ready && d->vv)
		virtio_config_changed(&d->vv->vdev);
	spin_unlock_irqrestore(&d->cfg_lock, fl);
}

/* ------------------------------------------------------------------ */
/* xenbus driver                                                       */

static int vgk_probe(struct xenbus_device *xdev, const struct xenbus_device_id *id)
{
	struct vgk_dev *d;
	unsigned long refs;
	int err;

	d = kzalloc(sizeof(*d), GFP_KERNEL);
	if (!d)
		return -ENOMEM;
	d->xdev = xdev;
	d->domid = xdev->otherend_id;
	mutex_init(&d->lock);
	mutex_init(&d->vq_mutex);
	spin_lock_init(&d->cfg_lock);
	spin_lock_init(&d->qlist_lock);
	spin_lock_init(&d->coh_lock);
	spin_lock_init(&d->arena.lock);
	INIT_LIST_HEAD(&d->coh);
	INIT_WORK(&d->connect_work, connect_work);
	INIT_WORK(&d->close_work, close_work);
	INIT_DELAYED_WORK(&d->stats_work, vgk_stats_work);
	INIT_DELAYED_WORK(&d->drain_watch, vgk_drain_watch);

	/* zero-copy maps remember their page by first ref, for the one case
	 * that needs it (a grant the backend will not give back) */
	refs = (unsigned long)gnttab_max_grant_frames() *
	       (XEN_PAGE_SIZE / sizeof(struct grant_entry_v1));
	d->zc_page = vzalloc(array_size(refs, sizeof(*d->zc_page)));
	if (!d->zc_page) {
		kfree(d);
		return -ENOMEM;
	}
	d->zc_size = refs;
	dev_set_drvdata(&xdev->dev, d);

	/* the xenbus device becomes the virtio device's DMA device */
	d->dma_mask = DMA_BIT_MASK(64);
	xdev->dev.dma_mask = &d->dma_mask;
	xdev->dev.coherent_dma_mask = DMA_BIT_MASK(64);
	set_dma_ops(&xdev->dev, &vgk_dma_ops);

	err = sysfs_create_group(&xdev->dev.kobj, &vgk_group);
	if (err)
		dev_warn(&xdev->dev, "no sysfs counters: %d\n", err);
	err = xenbus_watch_pathfmt(xdev, &d->cfg_watch, NULL, config_changed,
				   "%s/%s", xdev->otherend, VG_KEY_CONFIG_GENERATION);
	if (err)
		dev_warn(&xdev->dev, "no config-change watch: %d\n", err);
	else
		d->cfg_watching = true;

	/* a session a previous instance left behind: start over */
	if (xdev->state != XenbusStateInitialising)
		xenbus_switch_state(xdev, XenbusStateInitialising);
	if (xenbus_read_driver_state(xdev->otherend) == XenbusStateInitWait)
		queue_work(vgk_wq, &d->connect_work);
	return 0;
}

static void vgk_do_remove(struct xenbus_device *xdev)
{
	struct vgk_dev *d = dev_get_drvdata(&xdev->dev);
	enum xenbus_state be = xenbus_read_driver_state(xdev->otherend);

	if (d->cfg_watching) {
		unregister_xenbus_watch(&d->cfg_watch);
		kfree(d->cfg_watch.node);
		d->cfg_watching = false;
	}
	/* a healthy backend drains the driver's I/O; a gone one cannot */
	if (READ_ONCE(d->up) && be != XenbusStateConnected)
		vgk_fail_io(d);
	mutex_lock(&d->lock);
	WRITE_ONCE(d->removing, true);
	mutex_unlock(&d->lock);
	cancel_work_sync(&d->connect_work);
	cancel_work_sync(&d->close_work);
	cancel_delayed_work_sync(&d->stats_work);
	mutex_lock(&d->lock);
	if (d->up)
		session_end(d);
	mutex_unlock(&d->lock);
	/* the teardown may have failed the device (a grant the backend kept:
	 * vgk_device_failed queues the close work, which finds removing):
	 * whatever got queued finishes before d goes.  Nothing queues work
	 * after this: the backend's state watch went before the remove, the
	 * queues' interrupts and DMA with the session. */
	cancel_work_sync(&d->close_work);
	cancel_work_sync(&d->connect_work);
	cancel_delayed_work_sync(&d->stats_work);

	sysfs_remove_group(&xdev->dev.kobj, &vgk_group);
	set_dma_ops(&xdev->dev, NULL);
	xdev->dev.dma_mask = NULL;
	xdev->dev.coherent_dma_mask = 0;
	dev_set_drvdata(&xdev->dev, NULL);
	vfree(d->zc_page);
	kfree(d);
}

#ifdef VGK_XENBUS_REMOVE_INT
static int vgk_remove(struct xenbus_device *xdev)
{
	vgk_do_remove(xdev);
	return 0;
}
#else
static void vgk_remove(struct xenbus_device *xdev)
{
	vgk_do_remove(xdev);
}
#endif

/* The xenbus device's resume, after xl restore / migration (not after a
 * cancelled suspend): xenbus has re-read the backend path, which may have
 * changed (a new domain), so the config watch follows it.  A frozen
 * virtio device is reconnected by its own restore (vgk_pm_restore, which
 * runs after this); without one, start over. */
static int vgk_resume(struct xenbus_device *xdev)
{
	struct vgk_dev *d = dev_get_drvdata(&xdev->dev);
	int err;

	if (d->cfg_watching) {
		unregister_xenbus_watch(&d->cfg_watch);
		kfree(d->cfg_watch.node);
		d->cfg_watching = false;
	}
	if (xdev->otherend) {
		err = xenbus_watch_pathfmt(xdev, &d->cfg_watch, NULL, config_changed,
					   "%s/%s", xdev->otherend, VG_KEY_CONFIG_GENERATION);
		if (err)
			dev_warn(&xdev->dev, "resume: no config-change watch: %d\n", err);
		else
			d->cfg_watching = true;
	}
	if (READ_ONCE(d->frozen))
		return 0;
	if (READ_ONCE(d->up))
		dev_warn(&xdev->dev, "resumed without a suspended virtio device: failing owed I/O and reconnecting\n");
	queue_work(vgk_wq, &d->close_work);
	return 0;
}

static const struct xenbus_device_id vgk_ids[] = {
	{ VG_XS_CLASS },
	{ "" }
};

struct xenbus_driver vgk_driver = {
	.ids = vgk_ids,
	.probe = vgk_probe,
	.remove = vgk_remove,
	.otherend_changed = backend_changed,
	.resume = vgk_resume,
	.not_essential = true,
};
