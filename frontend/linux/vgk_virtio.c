// SPDX-License-Identifier: GPL-2.0
/*
 * The virtio transport of a session: the virtio_config_ops the stock
 * drivers call (config space from the cache vgk_keys.c fills, features,
 * status, reset), their virtqueues (vring_create_virtqueue over our
 * dma_map_ops, one event channel per queue: notify = event, interrupt =
 * vring_interrupt with late EOI), and failing every request the device
 * still owes when the backend goes away.
 */
#include <linux/delay.h>
#include <linux/interrupt.h>
#include <linux/kernel.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <xen/events.h>

#include "vgk.h"

/* ------------------------------------------------------------------ */
/* queues                                                              */

static irqreturn_t vgk_interrupt(int irq, void *data)
{
	struct vgk_queue *q = data;
	struct virtqueue *vq = READ_ONCE(q->vq);
	bool fresh = false;

	if (vq) {
		const struct vring *vr = virtqueue_get_vring(vq);
		u16 used = virtio16_to_cpu(vq->vdev, READ_ONCE(vr->used->idx));

		spin_lock(&q->track_lock);
		vgk_track(q);
		spin_unlock(&q->track_lock);
		fresh = used != q->irq_used;
		q->irq_used = used;
		if (vring_interrupt(irq, vq) == IRQ_HANDLED)
			fresh = true;
		/*
		 * A queue the backend broke (a used entry naming no request in
		 * flight, or a length virtio_ring refuses: BAD_RING) takes no
		 * more completions, yet 6.1's vring_interrupt says IRQ_HANDLED
		 * for it whenever used->idx moved (no HARDEN_NOTIFICATION in
		 * Debian's config): fail the device, which fails what it owes,
		 * and count every further event spurious so that Xen throttles
		 * a backend that keeps sending them.  (A queue broken by our
		 * own teardown has the device dead already; before DRIVER_OK a
		 * hardened kernel keeps every queue broken on purpose.)
		 */
		if (virtqueue_is_broken(vq) &&
		    (READ_ONCE(q->d->status) & VIRTIO_CONFIG_S_DRIVER_OK)) {
			if (!READ_ONCE(q->d->dead))
				vgk_device_failed(q->d, "the backend broke a virtqueue (bad used entry)");
			fresh = false;
		}
	}
	/*
	 * Nothing published since the last event: let Xen's lateeoi
	 * throttle a backend that storms.  Its delay grows with every
	 * spurious event in a row, up to a second with the channel masked,
	 * so an honest backend must never count: flagging the events whose
	 * entries virtio_net's NAPI poll had already taken (vring_interrupt
	 * says IRQ_NONE) held its rx and tx completions back for up to
	 * seconds (kernel-net: pings of 0.6 ms to 4 s).
	 */
	xen_irq_lateeoi(irq, fresh ? 0 : XEN_EOI_FLAG_SPURIOUS);
	return IRQ_HANDLED;
}

static bool vgk_notify(struct virtqueue *vq)
{
	struct vgk_queue *q = vq->priv;

	if (q->irq > 0)
		notify_remote_via_irq(q->irq);
	return true;
}

void vgk_kick_all(struct vgk_dev *d)
{
	unsigned int i;

	mutex_lock(&d->vq_mutex);
	for (i = 0; i < d->nq; i++)
		if (d->q[i]->irq > 0)
			notify_remote_via_irq(d->q[i]->irq);
	mutex_unlock(&d->vq_mutex);
}

static void del_queue(struct vgk_dev *d, struct vgk_queue *q)
{
	unsigned long fl;

	if (q->irq > 0)
		unbind_from_irqhandler(q->irq, q);   /* also closes the port */
	spin_lock_irqsave(&d->qlist_lock, fl);
	d->q[q->index] = NULL;
	spin_unlock_irqrestore(&d->qlist_lock, fl);
	if (q->vq)
		vring_del_virtqueue(q->vq);
	kfree(q->owed);
	kfree(q);
}

static struct vgk_queue *setup_queue(struct vgk_dev *d, unsigned int index,
				     vq_callback_t *cb, const char *name, bool ctx)
{
	struct virtio_device *vdev = &d->vv->vdev;
	unsigned int num = min(d->max_queue_size,
			       max(rounddown_pow_of_two(max(vgk_max_queue_size, 2u)), 2u));
	struct vgk_queue *q;
	unsigned long fl;
	dma_addr_t desc, used;
	int err;

	q = kzalloc(sizeof(*q), GFP_KERNEL);
	if (!q)
		return ERR_PTR(-ENOMEM);
	q->d = d;
	q->index = index;
	q->num = num;
	q->irq = -1;
	spin_lock_init(&q->track_lock);
	snprintf(q->name, sizeof(q->name), "%s-q%u", dev_name(&d->xdev->dev), index);
	q->owed = kcalloc(num, sizeof(*q->owed), GFP_KERNEL);
	if (!q->owed) {
		kfree(q);
		return ERR_PTR(-ENOMEM);
	}
	/* one allocation, areas page-aligned from the used ring on: the
	 * descriptor table and driver area can then be granted read-only */
	q->vq = vring_create_virtqueue(index, num, PAGE_SIZE, vdev, true, false,
				       ctx, vgk_notify, cb, name);
	if (!q->vq) {
		dev_err(&d->xdev->dev, "queue %u: cannot allocate a ring of %u\n", index, num);
		kfree(q->owed);
		kfree(q);
		return ERR_PTR(-ENOMEM);
	}
	q->vq->priv = q;
	desc = virtqueue_get_desc_addr(q->vq);
	used = virtqueue_get_used_addr(q->vq);
	err = vgk_coh_grant(d, desc, used - desc);
	if (err) {
		dev_err(&d->xdev->dev, "queue %u: ring layout unexpected\n", index);
		goto fail;
	}
	spin_lock_irqsave(&d->qlist_lock, fl);
	d->q[index] = q;
	spin_unlock_irqrestore(&d->qlist_lock, fl);

	if (d->offline)
		return q;     /* no backend: no event channel either */
	err = xenbus_alloc_evtchn(d->xdev, &q->port);
	if (err)
		goto fail;
	err = bind_evtchn_to_irqhandler_lateeoi(q->port, vgk_interrupt, 0, q->name, q);
	if (err < 0) {
		xenbus_free_evtchn(d->xdev, q->port);
		goto fail;
	}
	q->irq = err;
	return q;
fail:
	del_queue(d, q);
	return ERR_PTR(err < 0 ? err : -EIO);
}

void vgk_del_vqs(struct virtio_device *vdev)
{
	struct vgk_dev *d = vgk_from_vdev(vdev);
	unsigned int i;

	mutex_lock(&d->vq_mutex);
	for (i = 0; i < VG_MAX_QUEUES; i++)
		if (d->q[i])
			del_queue(d, d->q[i]);
	d->nq = 0;
	mutex_unlock(&d->vq_mutex);
}

static int vgk_find_vqs(struct virtio_device *vdev, unsigned int nvqs,
			struct virtqueue *vqs[], vq_callback_t *callbacks[],
			const char * const names[], const bool *ctx,
			struct irq_affinity *desc)
{
	struct vgk_dev *d = vgk_from_vdev(vdev);
	unsigned int i, index = 0;
	int err = 0;

	mutex_lock(&d->vq_mutex);
	if ((READ_ONCE(d->dead) && !d->offline) || d->nq) {
		err = -ENODEV;
		goto out;
	}
	for (i = 0; i < nvqs; i++) {
		struct vgk_queue *q;

		if (!names[i]) {
			vqs[i] = NULL;
			continue;
		}
		if (index >= d->max_queues) {
			dev_err(&d->xdev->dev, "driver wants more than the %u queue(s) offered\n",
				d->max_queues);
			err = -ENOENT;
			break;
		}
		q = setup_queue(d, index, callbacks[i], names[i], ctx ? ctx[i] : false);
		if (IS_ERR(q)) {
			err = PTR_ERR(q);
			break;
		}
		vqs[i] = q->vq;
		index++;
		d->nq = index;
	}
out:
	mutex_unlock(&d->vq_mutex);
	if (err && d->nq)
		vgk_del_vqs(vdev);
	return err;
}

/* The backend is gone or failed: no more DMA, and every request it still
 * owes completes now with an error, so nothing above us waits forever. */
static void fail_queue(struct vgk_dev *d, struct vgk_queue *q)
{
	struct virtio_device *vdev = q->vq->vdev;
	const struct vring *vr = virtqueue_get_vring(q->vq);
	unsigned int h, failed = 0, mask = q->num - 1;
	unsigned long fl;
	u16 idx;

	if (q->irq > 0)
		disable_irq(q->irq);
	spin_lock_irqsave(&q->track_lock, fl);
	vgk_track(q);
	idx = q->shadow_used;
	for (h = 0; h < q->num; h++) {
		if (q->owed[h] <= 0)
			continue;
		vr->used->ring[idx & mask].id = cpu_to_virtio32(vdev, h);
		vr->used->ring[idx & mask].len = cpu_to_virtio32(vdev, 0);
		q->owed[h] = 0;
		idx++;
		failed++;
	}
	if (failed) {
		virt_wmb();
		vr->used->idx = cpu_to_virtio16(vdev, idx);
		q->shadow_used = idx;
	}
	spin_unlock_irqrestore(&q->track_lock, fl);
	if (failed) {
		atomic64_add(failed, &d->st.failed_requests);
		dev_warn(&d->xdev->dev, "queue %u: %u request(s) never completed by the backend: failing them\n",
			 q->index, failed);
	}
	/* deliver them (and whatever the backend did complete), as an
	 * interrupt would: with interrupts off, and bottom halves off so that
	 * the softirq a callback raises (virtio_net's napi_schedule) runs at
	 * local_bh_enable instead of waiting for some later interrupt */
	local_bh_disable();
	local_irq_save(fl);
	vring_interrupt(q->irq, q->vq);
	local_irq_restore(fl);
	local_bh_enable();
	if (q->irq > 0)
		enable_irq(q->irq);
}

/*
 * Give the drivers a bounded time to take the used entries fail_queue
 * published before the device breaks: a broken virtqueue hands out no
 * more buffers, yet virtqueue_enable_cb_delayed() still compares the
 * ring's used index with what the driver took, so virtio_net (which
 * takes them later, in NAPI) would loop in virtnet_poll_cleantx()
 * forever (kernel-net: soft lockup after `vgrant detach` mid-transfer).
 * virtio_blk takes them inside the interrupt: nothing to wait for.
 *
 * virtio_ring has no read-only way to learn what the driver took;
 * virtqueue_enable_cb_prepare() returns it, and its side effects (ask
 * for callbacks, move used_event) may race with the driver's own calls
 * but cannot matter here: the backend is gone and interrupts no more.
 */
static void wait_consumed(struct vgk_dev *d)
{
	unsigned long deadline = jiffies + msecs_to_jiffies(1000);
	unsigned int i;

	for (;;) {
		bool pending = false;

		for (i = 0; i < d->nq; i++) {
			struct vgk_queue *q = d->q[i];
			const struct vring *vr = virtqueue_get_vring(q->vq);
			u16 taken = (u16)virtqueue_enable_cb_prepare(q->vq);

			if (taken != virtio16_to_cpu(q->vq->vdev, READ_ONCE(vr->used->idx)))
				pending = true;
		}
		if (!pending)
			return;
		if (time_after(jiffies, deadline)) {
			dev_warn(&d->xdev->dev, "the driver did not take its failed requests within 1 s; breaking the device anyway\n");
			return;
		}
		msleep(10);
	}
}

void vgk_fail_io(struct vgk_dev *d)
{
	unsigned int i;

	WRITE_ONCE(d->dead, true);
	/* every map that started before now has finished, and so has the
	 * publication of its request (both under the driver's vq lock) */
	synchronize_rcu();
	mutex_lock(&d->vq_mutex);
	WRITE_ONCE(d->poison, true);
	for (i = 0; i < d->nq; i++)
		fail_queue(d, d->q[i]);
	wait_consumed(d);
	if (d->nq && d->vv)
		virtio_break_device(&d->vv->vdev);   /* later adds: -EIO */
	mutex_unlock(&d->vq_mutex);
}

/*
 * A driver draining its queues (its freeze before a suspend, its remove)
 * waits for every request in flight, and only a backend can complete
 * them: one that stays Connected but completes nothing for
 * close_timeout_ms gets them failed instead (EIO), so that the suspend,
 * the sysfs unbind or the device's removal (on the xenwatch thread, which
 * every xenbus device of the guest waits behind) ends.  Progress, not
 * the total time, is what is bounded: a slow backend that still completes
 * something is waited for.
 */
void vgk_drain_watch(struct work_struct *w)
{
	struct vgk_dev *d = container_of(to_delayed_work(w), struct vgk_dev, drain_watch);
	unsigned int i, owed = 0;
	s64 done;

	if (READ_ONCE(d->dead))
		return;    /* the driver has reset the device: drained */
	mutex_lock(&d->vq_mutex);
	for (i = 0; i < d->nq; i++)
		owed += vgk_owed(d->q[i]);
	mutex_unlock(&d->vq_mutex);
	done = atomic64_read(&d->st.completed);
	if (!owed || done != d->drain_done) {
		d->drain_done = done;
		d->drain_since = jiffies;
	} else if (time_after(jiffies, d->drain_since +
			      msecs_to_jiffies(vgk_close_timeout_ms))) {
		dev_warn(&d->xdev->dev, "%s: backend dom %u completed none of %u request(s) in %u ms; failing them\n",
			 d->drain_why, d->domid, owed, vgk_close_timeout_ms);
		vgk_fail_io(d);
		return;
	}
	queue_delayed_work(system_unbound_wq, &d->drain_watch, HZ / 4);
}

void vgk_drain_watch_start(struct vgk_dev *d, const char *why)
{
	d->drain_why = why;
	d->drain_done = atomic64_read(&d->st.completed);
	d->drain_since = jiffies;
	queue_delayed_work(system_unbound_wq, &d->drain_watch, HZ / 4);
}

void vgk_drain_watch_stop(struct vgk_dev *d)
{
	cancel_delayed_work_sync(&d->drain_watch);
}

/* ------------------------------------------------------------------ */
/* virtio_config_ops                                                   */

static void vgk_get(struct virtio_device *vdev, unsigned int offset,
		    void *buf, unsigned int len)
{
	struct vgk_dev *d = vgk_from_vdev(vdev);
	unsigned long fl;

	memset(buf, 0, len);
	spin_lock_irqsave(&d->cfg_lock, fl);
	if (offset < d->cfg_len)
		memcpy(buf, d->config + offset, min(len, d->cfg_len - offset));
	spin_unlock_irqrestore(&d->cfg_lock, fl);
}

static void vgk_set(struct virtio_device *vdev, unsigned int offset,
		    const void *buf, unsigned int len)
{
	dev_warn_once(&vgk_from_vdev(vdev)->xdev->dev, "config space writes are not part of the protocol; ignored\n");
}

static u32 vgk_generation(struct virtio_device *vdev)
{
	return READ_ONCE(vgk_from_vdev(vdev)->cfg_gen);
}

static u8 vgk_get_status(struct virtio_device *vdev)
{
	return vgk_from_vdev(vdev)->status;
}

static void vgk_set_status(struct virtio_device *vdev, u8 status)
{
	struct vgk_dev *d = vgk_from_vdev(vdev);

	if ((status & VIRTIO_CONFIG_S_DRIVER_OK) &&
	    !(d->status & VIRTIO_CONFIG_S_DRIVER_OK) && !d->published &&
	    !d->offline) {
		if (READ_ONCE(d->dead) || vgk_publish(d)) {
			status |= VIRTIO_CONFIG_S_FAILED;
			vgk_device_failed(d, "could not publish the queues");
		}
	}
	d->status = status;
}

static void vgk_reset(struct virtio_device *vdev)
{
	struct vgk_dev *d = vgk_from_vdev(vdev);

	if (d->published) {
		/* the device must stop touching memory: end the session */
		WRITE_ONCE(d->dead, true);
		vgk_close_handshake(d);
	}
	d->status = 0;
}

static u64 vgk_get_features(struct virtio_device *vdev)
{
	return vgk_from_vdev(vdev)->offered;
}

static int vgk_finalize_features(struct virtio_device *vdev)
{
	struct vgk_dev *d = vgk_from_vdev(vdev);

	vring_transport_features(vdev);
	__virtio_clear_bit(vdev, VIRTIO_F_RING_PACKED);   /* split rings only */
	vdev->features &= d->offered;
	if ((vdev->features & VGK_FEATURES_REQUIRED) != VGK_FEATURES_REQUIRED) {
		dev_err(&d->xdev->dev, "VIRTIO_F_VERSION_1 and VIRTIO_F_ACCESS_PLATFORM are required\n");
		return -ENODEV;
	}
	return 0;
}

static void vgk_synchronize_cbs(struct virtio_device *vdev)
{
	struct vgk_dev *d = vgk_from_vdev(vdev);
	unsigned int i;

	mutex_lock(&d->vq_mutex);
	for (i = 0; i < d->nq; i++)
		if (d->q[i]->irq > 0)
			synchronize_irq(d->q[i]->irq);
	mutex_unlock(&d->vq_mutex);
}

static const char *vgk_bus_name(struct virtio_device *vdev)
{
	return dev_name(&vgk_from_vdev(vdev)->xdev->dev);
}

const struct virtio_config_ops vgk_config_ops = {
	.get = vgk_get,
	.set = vgk_set,
	.generation = vgk_generation,
	.get_status = vgk_get_status,
	.set_status = vgk_set_status,
	.reset = vgk_reset,
	.find_vqs = vgk_find_vqs,
	.del_vqs = vgk_del_vqs,
	.synchronize_cbs = vgk_synchronize_cbs,
	.get_features = vgk_get_features,
	.finalize_features = vgk_finalize_features,
	.bus_name = vgk_bus_name,
};

void vgk_vdev_release(struct device *dev)
{
	kfree(container_of(dev_to_virtio(dev), struct vgk_vdev, vdev));
}
