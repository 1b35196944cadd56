// SPDX-License-Identifier: GPL-2.0
/*
 * Suspend and resume of a virtio-grant device (xl save/restore,
 * migration, a cancelled suspend): the virtio device, and the disk on it,
 * stays registered while its session is closed and reopened under it.
 */
#include <linux/delay.h>
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/virtio_config.h>

#include "vgk.h"

/* ------------------------------------------------------------------ */
/* suspend and resume: xl save/restore, migration, a cancelled suspend */
/*
 * The virtio bus has no PM callbacks, so the virtio device gets ours
 * through its device_type.  Children freeze before parents and restore
 * after them, so the xenbus device's .resume (which re-reads the backend
 * path after a restore) has run when ours does.  vgk_wq is freezable:
 * none of our work items runs while this path does.
 *
 *   freeze   the driver's own freeze quiesces and drains its queues
 *            (virtio_blk: blk_mq_freeze_queue waits for every request),
 *            resets the device (the session closes: Closing, the backend
 *            unmaps, Closed) and deletes its queues (rings revoked); then
 *            the arena is revoked.  The drain watch (vgk_virtio.c) bounds
 *            the drain: a backend that completes nothing for
 *            close_timeout_ms gets its requests failed (EIO) instead of a
 *            guest that never suspends.
 *   thaw /   (cancelled suspend: the same backend; restore: the backend
 *   restore  the toolstack set up for the new domain) Initialising, wait
 *            up to resume_timeout_ms for the backend's InitWait, check it
 *            offers what the driver negotiated, grant the arena and let
 *            the driver restore its queues over the new session: the same
 *            virtio device, the same /dev/vdX.  If the backend does not
 *            come, or offers something else, the driver restores over
 *            queues that fail every request, and the close work then
 *            removes the device as if the backend had gone away.
 */
#ifdef CONFIG_PM_SLEEP
static int vgk_pm_freeze(struct device *dev)
{
	struct virtio_device *vdev = dev_to_virtio(dev);
	struct vgk_dev *d = vgk_from_vdev(vdev);
	s64 done;
	int err;

	/* queued, not running (frozen): this path does their job */
	cancel_work_sync(&d->close_work);
	cancel_work_sync(&d->connect_work);
	cancel_delayed_work_sync(&d->stats_work);
	mutex_lock(&d->lock);
	WRITE_ONCE(d->frozen, true);
	done = atomic64_read(&d->st.completed);
	vgk_drain_watch_start(d, "suspend");
	if (READ_ONCE(d->dead))
		vgk_fail_io(d);    /* a failing session whose close work we dropped */
	d->nq_frozen = d->nq;
	err = virtio_device_freeze(vdev);
	vgk_drain_watch_stop(d);
	if (!err && d->nq) {
		/* a driver without a freeze callback still uses its queues */
		dev_err(&d->xdev->dev, "suspend: the driver of %s kept its queues; cannot suspend\n",
			dev_name(&vdev->dev));
		err = -EBUSY;
	}
	if (err) {
		/* the suspend is aborted; the session goes on */
		dev_err(&d->xdev->dev, "suspend: the driver refused to freeze: %d\n", err);
		WRITE_ONCE(d->frozen, false);
		queue_delayed_work(vgk_wq, &d->stats_work, 2 * HZ);
		mutex_unlock(&d->lock);
		return err;
	}
	if (d->published)
		vgk_close_handshake(d);    /* a driver that did not reset */
	vgk_write_stats(d);
	vgk_arena_release(d);
	WRITE_ONCE(d->poison, false);
	d->status = 0;
	dev_info(&d->xdev->dev, "suspend: session with backend dom %u closed after %lld completion(s) while draining; %s kept for the resume\n",
		 d->domid, (long long)(atomic64_read(&d->st.completed) - done),
		 dev_name(&vdev->dev));
	mutex_unlock(&d->lock);
	return 0;
}

/* What the driver was set up against: kept for a restore without a
 * backend, whatever a new backend wrote. */
struct vgk_sess_keys {
	u32 device_id, max_queues, max_queue_size;
	u64 offered, region_bytes;
	enum vgk_mode mode;
	char mode_name[16];
};

static void keys_save(struct vgk_dev *d, struct vgk_sess_keys *k)
{
	k->device_id = d->device_id;
	k->max_queues = d->max_queues;
	k->max_queue_size = d->max_queue_size;
	k->offered = d->offered;
	k->region_bytes = d->region_bytes;
	k->mode = d->mode;
	memcpy(k->mode_name, d->mode_name, sizeof(k->mode_name));
}

static void keys_restore(struct vgk_dev *d, const struct vgk_sess_keys *k)
{
	d->device_id = k->device_id;
	d->max_queues = k->max_queues;
	d->max_queue_size = k->max_queue_size;
	d->offered = k->offered;
	d->region_bytes = k->region_bytes;
	d->mode = k->mode;
	memcpy(d->mode_name, k->mode_name, sizeof(d->mode_name));
}

/* d->lock held, frozen.  Wait for the backend, read and check its keys,
 * grant the arena.  0: a session the driver can restore over; otherwise
 * the keys of the last session are back in place. */
static int resume_session(struct vgk_dev *d, bool *cfg_changed)
{
	struct xenbus_device *xdev = d->xdev;
	struct virtio_device *vdev = &d->vv->vdev;
	u32 old_gen = d->cfg_gen;
	unsigned int old_len = d->cfg_len;
	struct vgk_sess_keys old;
	unsigned long deadline, fl;
	enum xenbus_state be;
	u8 *old_cfg;
	int err;

	if (READ_ONCE(d->broken)) {
		dev_err(&xdev->dev, "resume: a page of the last session is still mapped by dom %u; not reconnecting\n",
			d->domid);
		return -EIO;
	}
	if (!xdev->otherend) {
		dev_err(&xdev->dev, "resume: no backend for %s in xenstore\n", xdev->nodename);
		return -ENODEV;
	}
	deadline = jiffies + msecs_to_jiffies(vgk_resume_timeout_ms);
	for (;;) {
		be = xenbus_read_driver_state(xdev->otherend);
		/* the backend reruns the handshake once it has seen us Closed
		 * (a cancelled suspend: the same backend, maybe still closing) */
		if (xdev->state != XenbusStateInitialising &&
		    (be == XenbusStateClosed || be == XenbusStateInitWait ||
		     be == XenbusStateInitialising || be == XenbusStateUnknown))
			xenbus_switch_state(xdev, XenbusStateInitialising);
		if (be == XenbusStateInitWait &&
		    xdev->state == XenbusStateInitialising)
			break;
		if (time_after(jiffies, deadline)) {
			dev_err(&xdev->dev, "resume: backend %s (dom %u) not ready within %u ms (state %d)\n",
				xdev->otherend, xdev->otherend_id, vgk_resume_timeout_ms, be);
			return -ETIMEDOUT;
		}
		msleep(20);
	}
	d->domid = xdev->otherend_id;     /* a new backend domain, maybe */
	old_cfg = kmemdup(d->config, sizeof(d->config), GFP_KERNEL);
	if (!old_cfg)
		return -ENOMEM;
	keys_save(d, &old);
	err = vgk_read_backend_keys(d);
	*cfg_changed = !err && (d->cfg_len != old_len || d->cfg_gen != old_gen ||
				memcmp(d->config, old_cfg, old_len));
	if (err)
		goto fail;
	err = -EPROTO;
	if (d->device_id != old.device_id || d->mode != old.mode ||
	    d->region_bytes != old.region_bytes) {
		dev_err(&xdev->dev, "resume: backend dom %u offers device %u in mode %s (region %llu), not device %u in mode %s (region %llu) as before\n",
			d->domid, d->device_id, d->mode_name, d->region_bytes,
			old.device_id, old.mode_name, old.region_bytes);
		goto fail;
	}
	if (vdev->features & ~d->offered) {
		dev_err(&xdev->dev, "resume: backend dom %u offers features 0x%llx, the driver uses 0x%llx\n",
			d->domid, d->offered, vdev->features);
		goto fail;
	}
	if (d->max_queues < d->nq_frozen) {
		dev_err(&xdev->dev, "resume: backend dom %u offers %u queue(s), the driver uses %u\n",
			d->domid, d->max_queues, d->nq_frozen);
		goto fail;
	}
	err = vgk_session_arena(d);
	if (err)
		goto fail;
	WRITE_ONCE(d->poison, false);
	WRITE_ONCE(d->dead, false);
	d->published = false;
	d->status = 0;
	atomic64_inc(&d->st.sessions);
	kfree(old_cfg);
	return 0;
fail:
	/* the driver restores without a backend over what it knew */
	keys_restore(d, &old);
	spin_lock_irqsave(&d->cfg_lock, fl);
	memcpy(d->config, old_cfg, sizeof(d->config));
	d->cfg_len = old_len;
	d->cfg_gen = old_gen;
	spin_unlock_irqrestore(&d->cfg_lock, fl);
	kfree(old_cfg);
	return err;
}

/* The backend did not come back: the driver restores over queues that
 * are granted to nobody and fail every request; the close work removes
 * the device after the resume. */
static void restore_offline(struct vgk_dev *d)
{
	struct virtio_device *vdev = &d->vv->vdev;
	int err;

	if (d->nq)
		vgk_del_vqs(vdev);
	if (d->published)
		vgk_close_handshake(d);
	vgk_arena_release(d);
	WRITE_ONCE(d->dead, true);
	d->offline = true;
	err = virtio_device_restore(vdev);
	if (!err)
		vgk_fail_io(d);
	d->offline = false;
	if (err)
		dev_err(&d->xdev->dev, "resume: the driver could not restore %s even without a backend (%d): its I/O waits until the device is removed\n",
			dev_name(&vdev->dev), err);
	else
		dev_warn(&d->xdev->dev, "resume: %s has no backend: its I/O fails, the device will be removed\n",
			 dev_name(&vdev->dev));
}

static int vgk_pm_restore(struct device *dev)
{
	struct virtio_device *vdev = dev_to_virtio(dev);
	struct vgk_dev *d = vgk_from_vdev(vdev);
	bool cfg_changed = false;
	enum xenbus_state be;
	int err;

	mutex_lock(&d->lock);
	if (!READ_ONCE(d->frozen)) {
		mutex_unlock(&d->lock);
		return 0;
	}
	err = resume_session(d, &cfg_changed);
	if (!err) {
		if (cfg_changed)
			virtio_config_changed(vdev);   /* delivered once restored */
		err = virtio_device_restore(vdev);
		if (err)
			dev_err(&d->xdev->dev, "resume: the driver failed to restore over the new session: %d\n", err);
	}
	if (err)
		restore_offline(d);
	else {
		atomic64_inc(&d->st.resumes);
		dev_info(&d->xdev->dev, "resumed: %s reconnected to backend dom %u, mode %s, %u queue(s)\n",
			 dev_name(&vdev->dev), d->domid, d->mode_name, d->nq);
	}
	WRITE_ONCE(d->frozen, false);
	queue_delayed_work(vgk_wq, &d->stats_work, 2 * HZ);
	/* a state change we ignored while frozen, or no session at all */
	be = d->xdev->otherend ? xenbus_read_driver_state(d->xdev->otherend) :
				 XenbusStateUnknown;
	if (err || be == XenbusStateClosing || be == XenbusStateClosed ||
	    be == XenbusStateUnknown)
		queue_work(vgk_wq, &d->close_work);
	mutex_unlock(&d->lock);
	return 0;
}

static const struct dev_pm_ops vgk_vdev_pm = {
	.freeze = vgk_pm_freeze,
	.thaw = vgk_pm_restore,
	.restore = vgk_pm_restore,
};
#endif /* CONFIG_PM_SLEEP */

const struct device_type vgk_vdev_type = {
	.name = "virtio-grant",
#ifdef CONFIG_PM_SLEEP
	.pm = &vgk_vdev_pm,
#endif
};
