// SPDX-License-Identifier: GPL-2.0
/*
 * virtio_grant.ko: the xenbus frontend for device class "virtio-grant" and
 * the virtio transport on top of it.  The same handshake as libvgrant
 * (frontend/vgf_xenbus.c), the wire contract of include/vgrant/protocol.h.
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
 *                       "suspend and resume" below.
 *
 * Nothing that waits runs on the xenwatch thread: backend state changes
 * only queue work.
 */
#include <linux/delay.h>
#include <linux/dma-map-ops.h>
#include <linux/interrupt.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>
#include <xen/events.h>
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
MODULE_PARM_DESC(pool_pages, "persistent mode: pages of the per-device pool granted once at connect (default 1024)");

unsigned int vgk_close_timeout_ms = 5000;
module_param_named(close_timeout_ms, vgk_close_timeout_ms, uint, 0644);
MODULE_PARM_DESC(close_timeout_ms, "how long to wait for the backend to close before revoking anyway, and for a stalled backend to complete anything while suspending (default 5000)");

unsigned int vgk_resume_timeout_ms = 10000;
module_param_named(resume_timeout_ms, vgk_resume_timeout_ms, uint, 0644);
MODULE_PARM_DESC(resume_timeout_ms, "after a restore or cancelled suspend: how long to wait for the backend before failing the device's I/O (default 10000)");

#define VGK_FEATURES_REQUIRED \
	(BIT_ULL(VIRTIO_F_VERSION_1) | BIT_ULL(VIRTIO_F_ACCESS_PLATFORM))

static inline struct vgk_dev *vd(struct virtio_device *vdev)
{
	return container_of(vdev, struct vgk_vdev, vdev)->d;
}

/* ------------------------------------------------------------------ */
/* backend keys                                                        */

static void bad_key(struct vgk_dev *d, const char *key, const char *v,
		    const char *why)
{
	dev_err(&d->xdev->dev, "backend dom %u wrote bad %s/%s '%.40s': %s\n",
		d->xdev->otherend_id, d->xdev->otherend, key, v ? v : "(missing)", why);
}

static char *be_read(struct vgk_dev *d, const char *key)
{
	char *v = xenbus_read(XBT_NIL, d->xdev->otherend, key, NULL);

	return IS_ERR(v) ? NULL : v;
}

static int be_uint(struct vgk_dev *d, const char *key, u64 min, u64 max,
		   u64 *out)
{
	char *v = be_read(d, key);
	int err = -EPROTO;

	if (!v) {
		bad_key(d, key, NULL, "missing");
		return -EPROTO;
	}
	if (v[0] >= '0' && v[0] <= '9' && !kstrtoull(v, 10, out) &&
	    *out >= min && *out <= max)
		err = 0;
	else
		bad_key(d, key, v, "not a decimal number in range");
	kfree(v);
	return err;
}

/* Refresh the config cache from "config"/"config-generation".  Returns 1
 * when it changed, 0 when not, negative on a bad key (cache kept). */
static int read_config(struct vgk_dev *d)
{
	u8 *buf = kmalloc(VG_MAX_CONFIG_BYTES, GFP_KERNEL);
	int attempt, ret = -EPROTO;

	if (!buf)
		return -ENOMEM;
	for (attempt = 0; attempt < 4; attempt++) {
		u64 gen = 0, gen2 = 0;
		char *v, *g;
		size_t n;
		unsigned long fl;

		g = be_read(d, VG_KEY_CONFIG_GENERATION);
		if (g && kstrtoull(g, 10, &gen))
			gen = 0;
		kfree(g);
		v = be_read(d, VG_KEY_CONFIG);
		if (!v) {
			bad_key(d, VG_KEY_CONFIG, NULL, "missing");
			break;
		}
		n = strlen(v);
		if (n % 2 || n / 2 > VG_MAX_CONFIG_BYTES || hex2bin(buf, v, n / 2)) {
			bad_key(d, VG_KEY_CONFIG, v, "not hex byte pairs of at most 256 bytes");
			kfree(v);
			break;
		}
		kfree(v);
		g = be_read(d, VG_KEY_CONFIG_GENERATION);
		if (g && kstrtoull(g, 10, &gen2))
			gen2 = 0;
		kfree(g);
		if (gen2 != gen)
			continue;      /* changed while we read: again */
		spin_lock_irqsave(&d->cfg_lock, fl);
		ret = d->cfg_len != n / 2 || d->cfg_gen != (u32)gen ||
		      memcmp(d->config, buf, n / 2);
		memcpy(d->config, buf, n / 2);
		d->cfg_len = n / 2;
		d->cfg_gen = (u32)gen;
		spin_unlock_irqrestore(&d->cfg_lock, fl);
		break;
	}
	kfree(buf);
	return ret;
}

static int read_backend_keys(struct vgk_dev *d)
{
	char *v;
	u64 x;

	if (be_uint(d, VG_KEY_DEVICE_ID, 1, 0xffff, &x))
		return -EPROTO;
	d->device_id = x;
	switch (d->device_id) {
	case VIRTIO_ID_BLOCK:
	case VIRTIO_ID_RNG:
	case VIRTIO_ID_CONSOLE:
	case VIRTIO_ID_NET:
		break;
	default:
		/* only drivers known to do all their DMA through virtqueues */
		dev_err(&d->xdev->dev, "virtio device id %u is not supported over grants\n",
			d->device_id);
		return -EOPNOTSUPP;
	}

	v = be_read(d, VG_KEY_FEATURES);
	if (!v || v[0] != '0' || v[1] != 'x' || strlen(v) > 18 ||
	    kstrtoull(v, 16, &d->offered)) {
		bad_key(d, VG_KEY_FEATURES, v, "not 0x-prefixed hex of at most 16 digits");
		kfree(v);
		return -EPROTO;
	}
	if ((d->offered & VGK_FEATURES_REQUIRED) != VGK_FEATURES_REQUIRED) {
		bad_key(d, VG_KEY_FEATURES, v, "VIRTIO_F_VERSION_1 or VIRTIO_F_ACCESS_PLATFORM missing");
		kfree(v);
		return -EPROTO;
	}
	kfree(v);

	if (be_uint(d, VG_KEY_MAX_QUEUES, 1, VG_MAX_QUEUES, &x))
		return -EPROTO;
	d->max_queues = x;
	if (be_uint(d, VG_KEY_MAX_QUEUE_SIZE, VG_MIN_QUEUE_SIZE, VG_MAX_QUEUE_SIZE, &x))
		return -EPROTO;
	if (!is_power_of_2(x)) {
		bad_key(d, VG_KEY_MAX_QUEUE_SIZE, "", "not a power of two");
		return -EPROTO;
	}
	d->max_queue_size = x;

	if (read_config(d) < 0)
		return -EPROTO;

	v = be_read(d, VG_KEY_MODE);
	d->mode = VGK_GRANT;
	d->region_bytes = 0;
	strscpy(d->mode_name, VG_MODE_GRANT, sizeof(d->mode_name));
	if (v) {
		if (!strcmp(v, VG_MODE_GRANT) || !strcmp(v, VG_MODE_COPY) ||
		    !strcmp(v, VG_MODE_AUTO)) {
			/* copy and auto are the backend's business */
		} else if (!strcmp(v, VG_MODE_PERSISTENT)) {
			d->mode = VGK_PERSISTENT;
		} else if (!strcmp(v, VG_MODE_STATIC)) {
			d->mode = VGK_STATIC;
			if (be_uint(d, VG_KEY_REGION, VG_PAGE_SIZE, VG_MAX_REGION_BYTES, &x) ||
			    x % VG_PAGE_SIZE) {
				kfree(v);
				return -EPROTO;
			}
			d->region_bytes = x;
		} else {
			bad_key(d, VG_KEY_MODE, v, "unknown transport mode");
			kfree(v);
			return -EPROTO;
		}
		strscpy(d->mode_name, v, sizeof(d->mode_name));
		kfree(v);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* our keys                                                            */

static int write_region_refs(struct vgk_dev *d, struct xenbus_transaction xbt)
{
	const char *dir = d->xdev->nodename;
	unsigned int k, i, n = d->arena.npages;
	char *val, key[32];
	int err;

	err = xenbus_printf(xbt, dir, VG_KEY_REGION_PAGES, "%u", n);
	if (err)
		return err;
	val = kmalloc(VG_MAX_XS_VALUE, GFP_KERNEL);
	if (!val)
		return -ENOMEM;
	for (k = 0; k * VG_REGION_REFS_PER_KEY < n; k++) {
		size_t len = 0;

		for (i = k * VG_REGION_REFS_PER_KEY;
		     i < n && i < (k + 1) * VG_REGION_REFS_PER_KEY; i++)
			len += scnprintf(val + len, VG_MAX_XS_VALUE - len, "%s%u",
					 len ? " " : "", d->arena.refs[i]);
		snprintf(key, sizeof(key), VG_KEY_REGION_REFS_FMT, k);
		err = xenbus_write(xbt, dir, key, val);
		if (err)
			break;
	}
	kfree(val);
	return err;
}

/* Everything the backend needs, in one transaction, then Initialised. */
static int publish(struct vgk_dev *d)
{
	struct virtio_device *vdev = &d->vv->vdev;
	const char *dir = d->xdev->nodename;
	struct xenbus_transaction xbt;
	unsigned int i;
	int err;

again:
	err = xenbus_transaction_start(&xbt);
	if (err)
		goto fail;
	err = xenbus_printf(xbt, dir, VG_KEY_FEATURES, "0x%llx", vdev->features);
	if (!err)
		err = xenbus_printf(xbt, dir, VG_KEY_NUM_QUEUES, "%u", d->nq);
	for (i = 0; !err && i < d->nq; i++) {
		struct vgk_queue *q = d->q[i];
		char qd[16];

		snprintf(qd, sizeof(qd), VG_KEY_QUEUE_FMT "/", i);
#define QW(key, fmt, val) \
		(err = err ? err : xenbus_printf(xbt, dir, key, fmt, val))
		{
			char k[40];

			snprintf(k, sizeof(k), "%s%s", qd, VG_KEY_Q_SIZE);
			QW(k, "%u", q->num);
			snprintf(k, sizeof(k), "%s%s", qd, VG_KEY_Q_DESC);
			QW(k, "0x%llx", (unsigned long long)virtqueue_get_desc_addr(q->vq));
			snprintf(k, sizeof(k), "%s%s", qd, VG_KEY_Q_DRIVER);
			QW(k, "0x%llx", (unsigned long long)virtqueue_get_avail_addr(q->vq));
			snprintf(k, sizeof(k), "%s%s", qd, VG_KEY_Q_DEVICE);
			QW(k, "0x%llx", (unsigned long long)virtqueue_get_used_addr(q->vq));
			snprintf(k, sizeof(k), "%s%s", qd, VG_KEY_Q_EVTCHN);
			QW(k, "%u", q->port);
		}
#undef QW
	}
	if (!err && d->mode == VGK_STATIC)
		err = write_region_refs(d, xbt);
	if (err) {
		xenbus_transaction_end(xbt, 1);
		goto fail;
	}
	err = xenbus_transaction_end(xbt, 0);
	if (err == -EAGAIN)
		goto again;
	if (err)
		goto fail;
	/* before the state: the backend's Connected may come back at once */
	d->published = true;
	err = xenbus_switch_state(d->xdev, XenbusStateInitialised);
	if (err) {
		d->published = false;
		goto fail;
	}
	return 0;
fail:
	xenbus_dev_error(d->xdev, err, "writing our keys");
	return err;
}

static bool be_closed_enough(enum xenbus_state s)
{
	return s == XenbusStateClosing || s == XenbusStateClosed ||
	       s == XenbusStateUnknown || s == XenbusStateInitialising ||
	       s == XenbusStateInitWait;
}

/* Tell the backend we are done with this session and give it a bounded
 * time to let go of everything (it unmaps before it says Closing).
 * Polls: may run on the xenwatch thread (device removal). */
static void close_handshake(struct vgk_dev *d)
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
/* queues                                                              */

static irqreturn_t vgk_interrupt(int irq, void *data)
{
	struct vgk_queue *q = data;
	struct virtqueue *vq = READ_ONCE(q->vq);
	irqreturn_t r = IRQ_NONE;

	if (vq) {
		spin_lock(&q->track_lock);
		vgk_track(q);
		spin_unlock(&q->track_lock);
		r = vring_interrupt(irq, vq);
	}
	/* nothing new: let Xen's lateeoi throttle a backend that storms */
	xen_irq_lateeoi(irq, r == IRQ_NONE ? XEN_EOI_FLAG_SPURIOUS : 0);
	return IRQ_HANDLED;
}

static bool vgk_notify(struct virtqueue *vq)
{
	struct vgk_queue *q = vq->priv;

	if (q->irq > 0)
		notify_remote_via_irq(q->irq);
	return true;
}

static void kick_all(struct vgk_dev *d)
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
	err = vgk_coh_set_readonly(d, desc, used - desc);
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

static void vgk_del_vqs(struct virtio_device *vdev)
{
	struct vgk_dev *d = vd(vdev);
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
	struct vgk_dev *d = vd(vdev);
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
	/* deliver them (and whatever the backend did complete) */
	local_irq_save(fl);
	vring_interrupt(q->irq, q->vq);
	local_irq_restore(fl);
	if (q->irq > 0)
		enable_irq(q->irq);
}

static void fail_io(struct vgk_dev *d)
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
	if (d->nq && d->vv)
		virtio_break_device(&d->vv->vdev);   /* later adds: -EIO */
	mutex_unlock(&d->vq_mutex);
}

/* ------------------------------------------------------------------ */
/* virtio_config_ops                                                   */

static void vgk_get(struct virtio_device *vdev, unsigned int offset,
		    void *buf, unsigned int len)
{
	struct vgk_dev *d = vd(vdev);
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
	dev_warn_once(&vd(vdev)->xdev->dev, "config space writes are not part of the protocol; ignored\n");
}

static u32 vgk_generation(struct virtio_device *vdev)
{
	return READ_ONCE(vd(vdev)->cfg_gen);
}

static u8 vgk_get_status(struct virtio_device *vdev)
{
	return vd(vdev)->status;
}

static void vgk_set_status(struct virtio_device *vdev, u8 status)
{
	struct vgk_dev *d = vd(vdev);

	if ((status & VIRTIO_CONFIG_S_DRIVER_OK) &&
	    !(d->status & VIRTIO_CONFIG_S_DRIVER_OK) && !d->published &&
	    !d->offline) {
		if (READ_ONCE(d->dead) || publish(d)) {
			status |= VIRTIO_CONFIG_S_FAILED;
			vgk_device_failed(d, "could not publish the queues");
		}
	}
	d->status = status;
}

static void vgk_reset(struct virtio_device *vdev)
{
	struct vgk_dev *d = vd(vdev);

	if (d->published) {
		/* the device must stop touching memory: end the session */
		WRITE_ONCE(d->dead, true);
		close_handshake(d);
	}
	d->status = 0;
}

static u64 vgk_get_features(struct virtio_device *vdev)
{
	return vd(vdev)->offered;
}

static int vgk_finalize_features(struct virtio_device *vdev)
{
	struct vgk_dev *d = vd(vdev);

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
	struct vgk_dev *d = vd(vdev);
	unsigned int i;

	mutex_lock(&d->vq_mutex);
	for (i = 0; i < d->nq; i++)
		if (d->q[i]->irq > 0)
			synchronize_irq(d->q[i]->irq);
	mutex_unlock(&d->vq_mutex);
}

static const char *vgk_bus_name(struct virtio_device *vdev)
{
	return dev_name(&vd(vdev)->xdev->dev);
}

static const struct virtio_config_ops vgk_config_ops = {
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

static void vgk_vdev_release(struct device *dev)
{
	kfree(container_of(dev_to_virtio(dev), struct vgk_vdev, vdev));
}

/* ------------------------------------------------------------------ */
/* sessions                                                            */

static int session_arena(struct vgk_dev *d)
{
	switch (d->mode) {
	case VGK_PERSISTENT:
		return vgk_arena_setup(d, max(vgk_pool_pages, 64u), true);
	case VGK_STATIC:
		return vgk_arena_setup(d, d->region_bytes >> PAGE_SHIFT, false);
	default:
		return vgk_arena_setup(d, max(vgk_bounce_pages, 16u), true);
	}
}

/* The guest's counters for `vgrant stats` (include/vgrant/guest_stats.h
 * names and order); informational only. */
static void write_stats(struct vgk_dev *d)
{
	struct vgk_stats *st = &d->st;
	struct xenbus_transaction xbt;
	unsigned long fl, high;

	spin_lock_irqsave(&d->arena.lock, fl);
	high = d->arena.high << VGK_UNIT_SHIFT;
	spin_unlock_irqrestore(&d->arena.lock, fl);

	/* never recreate a directory the toolstack removed */
	if (xenbus_transaction_start(&xbt))
		return;
	if (!xenbus_exists(xbt, d->xdev->nodename, VG_KEY_STATE)) {
		xenbus_transaction_end(xbt, 1);
		return;
	}
	xenbus_printf(xbt, d->xdev->nodename, VG_KEY_STATS,
		      "requests=%lld completed=%lld failed=%lld pages-shared=%lld throttle-waits=%lld region-high-water=%lu bounce-bytes=%lld zero-copy-bytes=%lld",
		      (long long)atomic64_read(&st->requests),
		      (long long)atomic64_read(&st->completed),
		      (long long)atomic64_read(&st->failed_requests),
		      (long long)atomic64_read(&st->grants),
		      (long long)atomic64_read(&st->arena_full), high,
		      (long long)atomic64_read(&st->bounce_bytes),
		      (long long)atomic64_read(&st->zero_copy_bytes));
	xenbus_transaction_end(xbt, 0);
}

static void stats_work(struct work_struct *w)
{
	struct vgk_dev *d = container_of(to_delayed_work(w), struct vgk_dev, stats_work);

	write_stats(d);
	if (READ_ONCE(d->up))
		queue_delayed_work(vgk_wq, &d->stats_work, 2 * HZ);
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
		unregister_virtio_device(&d->vv->vdev);
		d->vv = NULL;
	}
	if (d->published)
		close_handshake(d);
	d->up = false;
	cancel_delayed_work_sync(&d->stats_work);
	write_stats(d);
	vgk_arena_release(d);
	WRITE_ONCE(d->poison, false);
	WRITE_ONCE(d->dead, false);
	d->status = 0;
}

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
 *            the arena is revoked.  A watchdog bounds the drain: a backend
 *            that completes nothing for close_timeout_ms gets its requests
 *            failed (EIO) instead of a guest that never suspends.
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
static void drain_watch(struct work_struct *w)
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
		dev_warn(&d->xdev->dev, "suspend: backend dom %u completed none of %u request(s) in %u ms; failing them\n",
			 d->domid, owed, vgk_close_timeout_ms);
		fail_io(d);
		return;
	}
	queue_delayed_work(system_unbound_wq, &d->drain_watch, HZ / 4);
}

static int vgk_pm_freeze(struct device *dev)
{
	struct virtio_device *vdev = dev_to_virtio(dev);
	struct vgk_dev *d = vd(vdev);
	s64 done;
	int err;

	/* queued, not running (frozen): this path does their job */
	cancel_work_sync(&d->close_work);
	cancel_work_sync(&d->connect_work);
	cancel_delayed_work_sync(&d->stats_work);
	mutex_lock(&d->lock);
	WRITE_ONCE(d->frozen, true);
	done = atomic64_read(&d->st.completed);
	d->drain_done = done;
	d->drain_since = jiffies;
	queue_delayed_work(system_unbound_wq, &d->drain_watch, HZ / 4);
	if (READ_ONCE(d->dead))
		fail_io(d);    /* a failing session whose close work we dropped */
	d->nq_frozen = d->nq;
	err = virtio_device_freeze(vdev);
	cancel_delayed_work_sync(&d->drain_watch);
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
		close_handshake(d);    /* a driver that did not reset */
	write_stats(d);
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
	err = read_backend_keys(d);
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
	err = session_arena(d);
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
		close_handshake(d);
	vgk_arena_release(d);
	WRITE_ONCE(d->dead, true);
	d->offline = true;
	err = virtio_device_restore(vdev);
	if (!err)
		fail_io(d);
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
	struct vgk_dev *d = vd(vdev);
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

static const struct device_type vgk_vdev_type = {
	.name = "virtio-grant",
#ifdef CONFIG_PM_SLEEP
	.pm = &vgk_vdev_pm,
#endif
};

static void connect_work(struct work_struct *w)
{
	struct vgk_dev *d = container_of(w, struct vgk_dev, connect_work);
	struct xenbus_device *xdev = d->xdev;
	struct vgk_vdev *vv;
	unsigned long fl;
	int err;

	mutex_lock(&d->lock);
	if (d->up || d->removing || READ_ONCE(d->frozen) ||
	    xdev->state != XenbusStateInitialising ||
	    xenbus_read_driver_state(xdev->otherend) != XenbusStateInitWait)
		goto out;
	d->domid = xdev->otherend_id;     /* may change across save/restore */
	err = read_backend_keys(d);
	if (err) {
		xenbus_dev_fatal(xdev, err, "reading the keys of backend dom %u", xdev->otherend_id);
		goto out;
	}
	err = session_arena(d);
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
	vv->vdev.dev.type = &vgk_vdev_type;   /* suspend/resume, above */
	vv->vdev.config = &vgk_config_ops;
	vv->vdev.id.device = d->device_id;
	vv->vdev.id.vendor = VIRTIO_DEV_ANY_ID;
	d->vv = vv;
	d->up = true;
	d->published = false;
	d->status = 0;
	atomic64_inc(&d->st.sessions);
	dev_info(&xdev->dev, "backend dom %u: virtio device %u, mode %s, features 0x%llx, %u queue(s) of up to %u\n",
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

static bool online(struct vgk_dev *d)
{
	char *v = be_read(d, VG_KEY_ONLINE);
	bool on = v && !strcmp(v, "1");

	kfree(v);
	return on;
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
		fail_io(d);
	/* a probe blocked on I/O has its answer now */
	flush_work(&d->connect_work);
	mutex_lock(&d->lock);
	if (d->removing)
		goto out;
	if (d->up) {
		session_end(d);
		dev_info(&xdev->dev, "session with backend dom %u ended\n", xdev->otherend_id);
	}
	if (xdev->state != XenbusStateClosed && xdev->state != XenbusStateInitialising)
		xenbus_switch_state(xdev, XenbusStateClosed);
	if (READ_ONCE(d->broken) || !online(d))
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
			kick_all(d);
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

	if (!READ_ONCE(d->up) || READ_ONCE(d->frozen) || read_config(d) <= 0)
		return;    /* between sessions: the next connect reads it */
	atomic64_inc(&d->st.config_changes);
	spin_lock_irqsave(&d->cfg_lock, fl);
	if (d->vv_ready && d->vv)
		virtio_config_changed(&d->vv->vdev);
	spin_unlock_irqrestore(&d->cfg_lock, fl);
}

/* ------------------------------------------------------------------ */
/* sysfs: /sys/bus/xen/devices/virtio-grant-N/vgrant/                  */

#define VGK_STAT_ATTR(name)						\
static ssize_t name##_show(struct device *dev,				\
			   struct device_attribute *attr, char *buf)	\
{									\
	struct vgk_dev *d = dev_get_drvdata(dev);			\
	return sysfs_emit(buf, "%lld\n", (long long)atomic64_read(&d->st.name)); \
}									\
static DEVICE_ATTR_RO(name)

VGK_STAT_ATTR(requests);
VGK_STAT_ATTR(completed);
VGK_STAT_ATTR(grants);
VGK_STAT_ATTR(setup_grants);
VGK_STAT_ATTR(zero_copy_bytes);
VGK_STAT_ATTR(bounce_bytes);
VGK_STAT_ATTR(bounced_maps);
VGK_STAT_ATTR(arena_full);
VGK_STAT_ATTR(map_errors);
VGK_STAT_ATTR(revoke_failures);
VGK_STAT_ATTR(failed_requests);
VGK_STAT_ATTR(sessions);
VGK_STAT_ATTR(resumes);
VGK_STAT_ATTR(config_changes);

static ssize_t mode_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	struct vgk_dev *d = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%s\n", d->up ? d->mode_name : "none");
}
static DEVICE_ATTR_RO(mode);

static ssize_t arena_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	struct vgk_dev *d = dev_get_drvdata(dev);
	struct vgk_arena *a = &d->arena;
	unsigned long fl, used, high, pages;

	spin_lock_irqsave(&a->lock, fl);
	used = a->used;
	high = a->high;
	pages = a->npages;
	spin_unlock_irqrestore(&a->lock, fl);
	return sysfs_emit(buf, "pages=%lu used_bytes=%lu high_water_bytes=%lu\n",
			  pages, used << VGK_UNIT_SHIFT, high << VGK_UNIT_SHIFT);
}
static DEVICE_ATTR_RO(arena);

static struct attribute *vgk_attrs[] = {
	&dev_attr_mode.attr,
	&dev_attr_arena.attr,
	&dev_attr_requests.attr,
	&dev_attr_completed.attr,
	&dev_attr_grants.attr,
	&dev_attr_setup_grants.attr,
	&dev_attr_zero_copy_bytes.attr,
	&dev_attr_bounce_bytes.attr,
	&dev_attr_bounced_maps.attr,
	&dev_attr_arena_full.attr,
	&dev_attr_map_errors.attr,
	&dev_attr_revoke_failures.attr,
	&dev_attr_failed_requests.attr,
	&dev_attr_sessions.attr,
	&dev_attr_resumes.attr,
	&dev_attr_config_changes.attr,
	NULL,
};

static const struct attribute_group vgk_group = {
	.name = "vgrant",
	.attrs = vgk_attrs,
};

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
	INIT_DELAYED_WORK(&d->stats_work, stats_work);
#ifdef CONFIG_PM_SLEEP
	INIT_DELAYED_WORK(&d->drain_watch, drain_watch);
#endif

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
		fail_io(d);
	mutex_lock(&d->lock);
	d->removing = true;
	mutex_unlock(&d->lock);
	cancel_work_sync(&d->connect_work);
	cancel_work_sync(&d->close_work);
	cancel_delayed_work_sync(&d->stats_work);
	mutex_lock(&d->lock);
	if (d->up)
		session_end(d);
	mutex_unlock(&d->lock);

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

static struct xenbus_driver vgk_driver = {
	.ids = vgk_ids,
	.probe = vgk_probe,
	.remove = vgk_remove,
	.otherend_changed = backend_changed,
	.resume = vgk_resume,
	.not_essential = true,
};

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
