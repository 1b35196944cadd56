// SPDX-License-Identifier: GPL-2.0
/*
 * The xenstore keys of a session.  The backend's (device-id, features,
 * queue limits, config space, mode, region, online) come from another
 * domain: each is parsed strictly and checked, and a bad one is logged
 * with the backend, the key and the value.  Ours (features, queues,
 * static region refs) go out in one transaction, then Initialised.
 * The key names and limits are include/vgrant/protocol.h.
 */
#include <linux/ctype.h>
#include <linux/kernel.h>
#include <linux/log2.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>

#include "vgk.h"

/* ------------------------------------------------------------------ */
/* backend keys                                                        */

/*
 * virtio-net's control queue and what needs it.  virtnet_send_command()
 * spins (cpu_relax, RTNL held) until the device answers: a backend that
 * never does would hang the guest's whole network stack, at probe already.
 * vgrantd offers none of them; another backend's offer is not passed on
 * (the driver then uses the config space's MAC and one queue pair).
 */
#define VGK_NET_CTRL_FEATURES \
	(BIT_ULL(VIRTIO_NET_F_CTRL_VQ) | BIT_ULL(VIRTIO_NET_F_CTRL_RX) | \
	 BIT_ULL(VIRTIO_NET_F_CTRL_VLAN) | BIT_ULL(VIRTIO_NET_F_CTRL_RX_EXTRA) | \
	 BIT_ULL(VIRTIO_NET_F_GUEST_ANNOUNCE) | BIT_ULL(VIRTIO_NET_F_MQ) | \
	 BIT_ULL(VIRTIO_NET_F_CTRL_MAC_ADDR) | \
	 BIT_ULL(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) | \
	 BIT_ULL(VIRTIO_NET_F_NOTF_COAL) | BIT_ULL(VIRTIO_NET_F_HASH_REPORT) | \
	 BIT_ULL(VIRTIO_NET_F_RSS))

/* The value is the other domain's text: at most 40 bytes of it, escaped
 * (%*pE: what isprint() refuses, i.e. control bytes and DEL, as \n, \e,
 * \ooo; the kernel's ctype takes Latin-1 0xa0-0xff as printable, so
 * those go raw), so that a newline in it cannot forge a line of this
 * guest's kernel log. */
static void bad_key(struct vgk_dev *d, const char *key, const char *v,
		    const char *why)
{
	dev_err_ratelimited(&d->xdev->dev, "backend dom %u wrote bad %s/%s '%*pE'%s: %s\n",
		d->xdev->otherend_id, d->xdev->otherend, key,
		v ? (int)strnlen(v, 40) : 0, v ? v : "",
		v ? (strnlen(v, 41) > 40 ? "..." : "") : " (missing)", why);
}

static char *be_read(struct vgk_dev *d, const char *key)
{
	char *v = xenbus_read(XBT_NIL, d->xdev->otherend, key, NULL);

	return IS_ERR(v) ? NULL : v;
}

/* A backend number: the whole value digits of the base, nothing else (no
 * sign, no space, and no trailing newline, which kstrtoull alone takes). */
static int be_digits(const char *v, unsigned int base, u64 *out)
{
	const char *p;

	if (!*v)
		return -EINVAL;
	for (p = v; *p; p++)
		if (base == 16 ? !isxdigit(*p) : !isdigit(*p))
			return -EINVAL;
	return kstrtoull(v, base, out);
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
	if (!be_digits(v, 10, out) && *out >= min && *out <= max)
		err = 0;
	else
		bad_key(d, key, v, "not a decimal number in range");
	kfree(v);
	return err;
}

/* Refresh the config cache from "config"/"config-generation".  Returns 1
 * when it changed, 0 when not, negative on a bad key (cache kept). */
int vgk_read_config(struct vgk_dev *d)
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
		if (g && be_digits(g, 10, &gen))
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
		if (g && be_digits(g, 10, &gen2))
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

int vgk_read_backend_keys(struct vgk_dev *d)
{
	char *v;
	u64 x;

	if (be_uint(d, VG_KEY_DEVICE_ID, 1, 0xffff, &x))
		return -EPROTO;
	d->device_id = x;
	switch (d->device_id) {
	case VIRTIO_ID_BLOCK:
	case VIRTIO_ID_RNG:
	case VIRTIO_ID_NET:
		break;
	default:
		/* only drivers known to do all their DMA through virtqueues
		 * (and not virtio_console, which does, but spins with
		 * interrupts off until the device takes what it sent: a silent
		 * backend would lock a CPU of the guest) */
		dev_err(&d->xdev->dev, "virtio device id %u is not supported over grants\n",
			d->device_id);
		return -EOPNOTSUPP;
	}

	v = be_read(d, VG_KEY_FEATURES);
	if (!v || v[0] != '0' || v[1] != 'x' || strlen(v) > 18 ||
	    be_digits(v + 2, 16, &d->offered)) {
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
	if (d->device_id == VIRTIO_ID_NET && (d->offered & VGK_NET_CTRL_FEATURES)) {
		dev_info(&d->xdev->dev, "backend dom %u offers virtio-net control queue features 0x%llx: not passed on (virtio_net waits for the device's answer with RTNL held)\n",
			 d->xdev->otherend_id, d->offered & VGK_NET_CTRL_FEATURES);
		d->offered &= ~VGK_NET_CTRL_FEATURES;
	}

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

	if (vgk_read_config(d) < 0)
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
			if (x / VG_PAGE_SIZE > READ_ONCE(vgk_max_region_pages)) {
				char *r = be_read(d, VG_KEY_REGION);

				bad_key(d, VG_KEY_REGION, r, "larger than this guest's max_region_pages (module parameter)");
				kfree(r);
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

/* The backend's "online": does the toolstack still want the device? */
bool vgk_backend_online(struct vgk_dev *d)
{
	char *v = be_read(d, VG_KEY_ONLINE);
	bool on = v && !strcmp(v, "1");

	kfree(v);
	return on;
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
int vgk_publish(struct vgk_dev *d)
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
