// SPDX-License-Identifier: GPL-2.0
/*
 * A device's counters (struct vgk_stats): the sysfs attributes under
 * /sys/bus/xen/devices/virtio-grant-N/vgrant/, and the frontend key
 * "stats" that `vgrant stats` reads in the backend domain.
 */
#include <linux/device.h>
#include <linux/kernel.h>
#include <linux/sysfs.h>

#include "vgk.h"

/* ------------------------------------------------------------------ */
/* the frontend key "stats"                                            */

/* The guest's counters for `vgrant stats` (include/vgrant/guest_stats.h
 * names and order); informational only. */
void vgk_write_stats(struct vgk_dev *d)
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

void vgk_stats_work(struct work_struct *w)
{
	struct vgk_dev *d = container_of(to_delayed_work(w), struct vgk_dev, stats_work);

	vgk_write_stats(d);
	if (READ_ONCE(d->up))
		queue_delayed_work(vgk_wq, &d->stats_work, 2 * HZ);
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

const struct attribute_group vgk_group = {
	.name = "vgrant",
	.attrs = vgk_attrs,
};
