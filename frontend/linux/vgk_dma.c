// SPDX-License-Identifier: GPL-2.0
/*
 * DMA through grants: the dma_map_ops of a virtio-grant device's parent.
 *
 * Every address virtio_ring puts in a descriptor comes from here, so the
 * backend can reach exactly the memory mapped here and nothing else:
 *
 *  - rings (alloc/free): pages granted with consecutive refs, the grant
 *    address of the first page is the dma handle;
 *  - grant mode: a buffer that covers whole pages of non-slab memory is
 *    granted in place (read-only when DMA_TO_DEVICE), consecutive refs for
 *    a multi-page run; anything else (a 16-byte header, a status byte, an
 *    unaligned or sub-page buffer, slab memory) is bounced through the
 *    arena, pages that hold nothing but this device's DMA data;
 *  - persistent mode: every buffer is bounced through the pool, granted
 *    once at connect (no grant operation per request on either side);
 *  - static mode: every buffer is bounced through the region, granted once
 *    at connect; the dma address is the byte offset into the region.
 *
 * map_page runs with interrupts off (virtio_blk maps under its vq lock):
 * nothing here sleeps or allocates with GFP_KERNEL.  A full arena refuses
 * the map with DMA_MAPPING_ERROR, which virtio_blk turns into
 * BLK_STS_RESOURCE: the block layer requeues the request.
 */
#include <linux/bitmap.h>
#include <linux/dma-map-ops.h>
#include <linux/mm.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <xen/page.h>

#include "vgk.h"

static inline struct vgk_dev *to_vgk(struct device *dev)
{
	return dev_get_drvdata(dev);
}

/* ------------------------------------------------------------------ */
/* failure                                                             */

/* The device cannot be trusted to have let go of memory: no more DMA, and
 * the close work tears the session down (from any context). */
void vgk_device_failed(struct vgk_dev *d, const char *why)
{
	if (!READ_ONCE(d->dead))
		dev_alert(&d->xdev->dev, "device failed: %s\n", why);
	WRITE_ONCE(d->dead, true);
	WRITE_ONCE(d->broken, true);
	/* also while the device is being removed: its I/O fails at once
	 * (a driver's remove may wait for it); vgk_do_remove cancels the
	 * work again after the teardown, before d is freed */
	queue_work(vgk_wq, &d->close_work);
}

/* A grant the backend still maps at revocation.  The page is never given
 * back while the backend can reach it: gnttab_end_foreign_access() keeps
 * the ref and a page reference until the backend unmaps (freed then, or
 * never).  A caller's page stays pinned; ours is handed over. */
static void revoke_failed(struct vgk_dev *d, grant_ref_t ref, struct page *pg,
			  bool caller_page)
{
	atomic64_inc(&d->st.revoke_failures);
	dev_alert_ratelimited(&d->xdev->dev,
			      "grant ref %u still mapped by dom %u at unmap: page leaked until it lets go\n",
			      ref, d->domid);
	if (pg) {
		if (caller_page)
			get_page(pg);
		gnttab_end_foreign_access(ref, pg);
	}
	/* without the page the ref simply stays allocated: leaked */
	vgk_device_failed(d, "backend kept a grant mapped past unmap");
}

/* ------------------------------------------------------------------ */
/* outstanding heads (see struct vgk_queue)                            */

void vgk_track(struct vgk_queue *q)
{
	struct virtio_device *vdev;
	const struct vring *vr;
	unsigned int mask = q->num - 1, n;
	u16 idx;

	if (!q->vq)
		return;
	vdev = q->vq->vdev;
	vr = virtqueue_get_vring(q->vq);

	idx = virtio16_to_cpu(vdev, READ_ONCE(vr->avail->idx));
	virt_rmb();
	for (n = 0; q->shadow_avail != idx && n <= q->num; n++) {
		u16 h = virtio16_to_cpu(vdev,
				READ_ONCE(vr->avail->ring[q->shadow_avail & mask]));
		if (h < q->num)
			q->owed[h]++;
		q->shadow_avail++;
	}
	if (n)
		atomic64_add(n, &q->d->st.requests);
	q->shadow_avail = idx;

	idx = virtio16_to_cpu(vdev, READ_ONCE(vr->used->idx));
	virt_rmb();
	for (n = 0; q->shadow_used != idx && n <= q->num; n++) {
		u32 id = virtio32_to_cpu(vdev,
				READ_ONCE(vr->used->ring[q->shadow_used & mask].id));
		if (id < q->num)
			q->owed[id]--;
		q->shadow_used++;
	}
	if (n)
		atomic64_add(n, &q->d->st.completed);
	q->shadow_used = idx;
}

/* Heads the device still owes on this queue (avail, not yet used). */
unsigned int vgk_owed(struct vgk_queue *q)
{
	unsigned int h, n = 0;
	unsigned long fl;

	spin_lock_irqsave(&q->track_lock, fl);
	vgk_track(q);
	for (h = 0; h < q->num; h++)
		if (q->owed[h] > 0)
			n++;
	spin_unlock_irqrestore(&q->track_lock, fl);
	return n;
}

void vgk_track_all(struct vgk_dev *d)
{
	unsigned long fl;
	unsigned int i;

	spin_lock_irqsave(&d->qlist_lock, fl);
	for (i = 0; i < VG_MAX_QUEUES; i++) {
		struct vgk_queue *q = d->q[i];

		if (q) {
			spin_lock(&q->track_lock);
			vgk_track(q);
			spin_unlock(&q->track_lock);
		}
	}
	spin_unlock_irqrestore(&d->qlist_lock, fl);
}

/* ------------------------------------------------------------------ */
/* the arena                                                           */

/* Back to empty.  The lock stays (sysfs readers may hold it; it was
 * initialised at probe): the fields before it are cleared under it. */
static void arena_clear(struct vgk_arena *a)
{
	unsigned long fl;

	spin_lock_irqsave(&a->lock, fl);
	memset(a, 0, offsetof(struct vgk_arena, lock));
	spin_unlock_irqrestore(&a->lock, fl);
}

int vgk_arena_setup(struct vgk_dev *d, unsigned int npages, bool consecutive)
{
	struct vgk_arena *a = &d->arena;
	grant_ref_t first = 0;
	unsigned int i;

	arena_clear(a);
	if (!npages)
		return 0;
	/* sized by the backend's keys (bounded by module parameters): fail
	 * the connect rather than push the guest into reclaim or OOM */
	a->pages = kvcalloc(npages, sizeof(*a->pages), GFP_KERNEL | __GFP_NOWARN);
	a->refs = kvcalloc(npages, sizeof(*a->refs), GFP_KERNEL | __GFP_NOWARN);
	a->nunits = (unsigned long)npages * VGK_UNITS_PER_PAGE;
	a->bits = bitmap_zalloc(a->nunits, GFP_KERNEL | __GFP_NOWARN);
	a->orig = kvcalloc(a->nunits, sizeof(*a->orig), GFP_KERNEL | __GFP_NOWARN);
	if (!a->pages || !a->refs || !a->bits || !a->orig)
		goto nomem;
	for (i = 0; i < npages; i++) {
		a->pages[i] = alloc_page(GFP_KERNEL | __GFP_ZERO | __GFP_NORETRY |
					 __GFP_NOWARN);
		if (!a->pages[i])
			goto nomem;
	}
	a->va = vmap(a->pages, npages, VM_MAP, PAGE_KERNEL);
	if (!a->va)
		goto nomem;
	if (consecutive && gnttab_alloc_grant_reference_seq(npages, &first)) {
		dev_err(&d->xdev->dev, "no run of %u consecutive grant refs for the %s\n",
			npages, d->mode == VGK_PERSISTENT ? "pool" : "bounce area");
		goto fail;
	}
	for (i = 0; i < npages; i++) {
		unsigned long gfn = xen_page_to_gfn(a->pages[i]);

		if (consecutive) {
			a->refs[i] = first + i;
			gnttab_grant_foreign_access_ref(a->refs[i], d->domid, gfn, 0);
		} else {
			int r = gnttab_grant_foreign_access(d->domid, gfn, 0);

			if (r < 0) {
				dev_err(&d->xdev->dev, "granting region page %u: %d\n", i, r);
				a->npages = i;     /* release what was granted */
				goto fail_granted;
			}
			a->refs[i] = r;
		}
	}
	a->npages = npages;
	atomic64_add(npages, &d->st.setup_grants);
	return 0;

fail_granted:
	for (i = 0; i < a->npages; i++)
		gnttab_end_foreign_access(a->refs[i], NULL);
	a->npages = 0;
	goto fail;
nomem:
	dev_err(&d->xdev->dev, "out of memory for %u arena pages\n", npages);
fail:
	if (a->va)
		vunmap(a->va);
	for (i = 0; a->pages && i < npages; i++)
		if (a->pages[i])
			__free_page(a->pages[i]);
	kvfree(a->pages);
	kvfree(a->refs);
	bitmap_free(a->bits);
	kvfree(a->orig);
	arena_clear(a);
	return -ENOMEM;
}

void vgk_arena_release(struct vgk_dev *d)
{
	struct vgk_arena *a = &d->arena;
	unsigned int i, kept = 0;

	if (!a->pages)
		return;
	if (a->va)
		vunmap(a->va);
	for (i = 0; i < a->npages; i++) {
		if (gnttab_try_end_foreign_access(a->refs[i])) {
			__free_page(a->pages[i]);
		} else {
			/* ours: hand it over, freed when the backend lets go */
			gnttab_end_foreign_access(a->refs[i], a->pages[i]);
			kept++;
		}
	}
	if (kept) {
		atomic64_add(kept, &d->st.revoke_failures);
		dev_alert(&d->xdev->dev, "%u arena pages still mapped by dom %u: kept until it lets go\n",
			  kept, d->domid);
		WRITE_ONCE(d->broken, true);
	}
	kvfree(a->pages);
	kvfree(a->refs);
	bitmap_free(a->bits);
	kvfree(a->orig);
	arena_clear(a);
}

static dma_addr_t arena_dma(struct vgk_dev *d, unsigned long off)
{
	if (d->mode == VGK_STATIC)
		return off;
	return vg_grant_addr(d->arena.refs[0] + (u32)(off >> PAGE_SHIFT),
			     (u32)(off & ~PAGE_MASK));
}

/* Is addr inside the arena?  Its byte offset then. */
static bool arena_lookup(struct vgk_dev *d, dma_addr_t addr, unsigned long *off)
{
	struct vgk_arena *a = &d->arena;
	u32 ref;

	if (!a->va)
		return false;
	if (d->mode == VGK_STATIC) {
		if (addr >= (u64)a->npages << PAGE_SHIFT)
			return false;
		*off = addr;
		return true;
	}
	if (!(addr & VG_GRANT_ADDR_FLAG))
		return false;
	ref = vg_grant_addr_ref(addr);
	if (ref < a->refs[0] || ref - a->refs[0] >= a->npages)
		return false;
	*off = ((unsigned long)(ref - a->refs[0]) << PAGE_SHIFT) +
	       vg_grant_addr_offset(addr);
	return true;
}

/* First fit from `from`; a slot of at most a page never straddles two
 * pages, a larger one starts on a page (fewest page pieces for vgrantd's
 * persistent mode, which maps page by page). */
static unsigned long find_slot(struct vgk_arena *a, unsigned long from,
			       unsigned long hi, unsigned long units,
			       unsigned long align)
{
	unsigned long start = from;

	for (;;) {
		start = bitmap_find_next_zero_area(a->bits, hi, start, units, align);
		if (start >= hi)
			return a->nunits;
		if (units > VGK_UNITS_PER_PAGE ||
		    (start % VGK_UNITS_PER_PAGE) + units <= VGK_UNITS_PER_PAGE)
			return start;
		start = round_up(start + 1, VGK_UNITS_PER_PAGE);
		if (start >= hi)
			return a->nunits;
	}
}

static dma_addr_t map_bounce(struct vgk_dev *d, void *va, size_t size,
			     enum dma_data_direction dir, unsigned long attrs)
{
	struct vgk_arena *a = &d->arena;
	unsigned long units = DIV_ROUND_UP(size, VGK_UNIT), start, fl;
	unsigned long align = size >= PAGE_SIZE ? VGK_UNITS_PER_PAGE - 1 : 0;
	unsigned long lo = 0, hi = a->nunits;
	void *slot;

	if (!a->va || units > a->nunits) {
		atomic64_inc(&d->st.map_errors);
		return DMA_MAPPING_ERROR;
	}
	/*
	 * Persistent mode: device-readable buffers in the first half of the
	 * pool, device-writable ones in the second, so vgrantd's cache (keyed
	 * by ref and writability, 1024 pages by default) holds each pool page
	 * once instead of thrashing between a read-only and a writable mapping.
	 */
	if (d->mode == VGK_PERSISTENT && a->nunits >= 2 * VGK_UNITS_PER_PAGE) {
		unsigned long half = round_down(a->nunits / 2, VGK_UNITS_PER_PAGE);

		if (dir == DMA_TO_DEVICE)
			hi = half;
		else
			lo = half;
	}
	spin_lock_irqsave(&a->lock, fl);
	start = a->nunits;
	/*
	 * Next fit from the hint spreads the bounces over the whole arena;
	 * the persistent pool takes the lowest free slot instead, so its
	 * working set is the pages a workload of this depth needs at once
	 * and vgrantd maps each of them once, during warm-up, not every
	 * pool page over the first few megabytes.
	 */
	if (d->mode != VGK_PERSISTENT && a->hint >= lo && a->hint < hi)
		start = find_slot(a, a->hint, hi, units, align);
	if (start >= a->nunits)
		start = find_slot(a, lo, hi, units, align);
	if (start >= a->nunits) {
		spin_unlock_irqrestore(&a->lock, fl);
		atomic64_inc(&d->st.arena_full);
		return DMA_MAPPING_ERROR;
	}
	bitmap_set(a->bits, start, units);
	a->used += units;
	if (a->used > a->high)
		a->high = a->used;
	a->hint = start + units < a->nunits ? start + units : 0;
	a->orig[start] = va;
	spin_unlock_irqrestore(&a->lock, fl);

	slot = a->va + (start << VGK_UNIT_SHIFT);
	if ((dir == DMA_TO_DEVICE || dir == DMA_BIDIRECTIONAL) &&
	    !(attrs & DMA_ATTR_SKIP_CPU_SYNC)) {
		memcpy(slot, va, size);
		/* never share stale bytes (XSA-403) */
		memset(slot + size, 0, (units << VGK_UNIT_SHIFT) - size);
		atomic64_add(size, &d->st.bounce_bytes);
	} else {
		memset(slot, 0, units << VGK_UNIT_SHIFT);
	}
	atomic64_inc(&d->st.bounced_maps);
	return arena_dma(d, start << VGK_UNIT_SHIFT);
}

static void unmap_bounce(struct vgk_dev *d, unsigned long off, size_t size,
			 enum dma_data_direction dir, unsigned long attrs)
{
	struct vgk_arena *a = &d->arena;
	unsigned long start = off >> VGK_UNIT_SHIFT;
	unsigned long units = DIV_ROUND_UP(size, VGK_UNIT), fl;
	void *orig;

	if ((off & (VGK_UNIT - 1)) || start + units > a->nunits) {
		dev_err_ratelimited(&d->xdev->dev, "unmap of a bounce address 0x%lx+%zu that was never mapped\n",
				    off, size);
		return;
	}
	orig = a->orig[start];
	if (orig && (dir == DMA_FROM_DEVICE || dir == DMA_BIDIRECTIONAL) &&
	    !(attrs & DMA_ATTR_SKIP_CPU_SYNC)) {
		if (READ_ONCE(d->poison))
			memset(orig, 0xff, size);   /* the request failed */
		else
			memcpy(orig, a->va + off, size);
		atomic64_add(size, &d->st.bounce_bytes);
	}
	spin_lock_irqsave(&a->lock, fl);
	a->orig[start] = NULL;
	bitmap_clear(a->bits, start, units);
	a->used -= units;
	spin_unlock_irqrestore(&a->lock, fl);
}

/* ------------------------------------------------------------------ */
/* zero-copy grants (grant mode, whole pages)                          */

static dma_addr_t map_zero_copy(struct vgk_dev *d, struct page *page,
				unsigned int n, enum dma_data_direction dir)
{
	int ro = dir == DMA_TO_DEVICE;
	grant_ref_t first;
	unsigned int k;

	if (n == 1) {
		int r = gnttab_grant_foreign_access(d->domid, xen_page_to_gfn(page), ro);

		if (r < 0)
			goto nogrant;
		first = r;
	} else {
		if (gnttab_alloc_grant_reference_seq(n, &first))
			goto nogrant;
		for (k = 0; k < n; k++)
			gnttab_grant_foreign_access_ref(first + k, d->domid,
							xen_page_to_gfn(page + k), ro);
	}
	if (first + n > d->zc_size) {
		/* not yet published anywhere: revocation cannot fail */
		for (k = 0; k < n; k++)
			gnttab_end_foreign_access(first + k, NULL);
		atomic64_inc(&d->st.map_errors);
		return DMA_MAPPING_ERROR;
	}
	WRITE_ONCE(d->zc_page[first], page);
	atomic64_add(n, &d->st.grants);
	atomic64_add((u64)n << PAGE_SHIFT, &d->st.zero_copy_bytes);
	return vg_grant_addr(first, 0);

nogrant:
	dev_warn_ratelimited(&d->xdev->dev, "out of grant refs for %u page(s); request requeued\n", n);
	atomic64_inc(&d->st.map_errors);
	return DMA_MAPPING_ERROR;
}

static void unmap_zero_copy(struct vgk_dev *d, dma_addr_t addr, size_t size)
{
	u32 first = vg_grant_addr_ref(addr);
	unsigned int n = DIV_ROUND_UP(vg_grant_addr_offset(addr) + size, PAGE_SIZE);
	struct page *page = first < d->zc_size ? READ_ONCE(d->zc_page[first]) : NULL;
	unsigned int k;

	for (k = 0; k < n; k++)
		if (!gnttab_try_end_foreign_access(first + k))
			revoke_failed(d, first + k, page ? page + k : NULL, true);
}

/* ------------------------------------------------------------------ */
/* dma_map_ops                                                         */

static dma_addr_t vgk_map_page(struct device *dev, struct page *page,
			       unsigned long offset, size_t size,
			       enum dma_data_direction dir, unsigned long attrs)
{
	struct vgk_dev *d = to_vgk(dev);

	page += offset >> PAGE_SHIFT;
	offset &= ~PAGE_MASK;
	/* before the request that calls us is published: see struct vgk_queue */
	vgk_track_all(d);
	if (READ_ONCE(d->dead) || !size || dir == DMA_NONE) {
		atomic64_inc(&d->st.map_errors);
		return DMA_MAPPING_ERROR;
	}
	if (d->mode == VGK_GRANT && vgk_zero_copy && !offset &&
	    !(size & ~PAGE_MASK) && !PageSlab(page))
		return map_zero_copy(d, page, size >> PAGE_SHIFT, dir);
	return map_bounce(d, page_address(page) + offset, size, dir, attrs);
}

static void vgk_unmap_page(struct device *dev, dma_addr_t addr, size_t size,
			   enum dma_data_direction dir, unsigned long attrs)
{
	struct vgk_dev *d = to_vgk(dev);
	unsigned long off;

	if (arena_lookup(d, addr, &off)) {
		unmap_bounce(d, off, size, dir, attrs);
		return;
	}
	if (d->mode == VGK_STATIC || !(addr & VG_GRANT_ADDR_FLAG)) {
		dev_err_ratelimited(&d->xdev->dev, "unmap of 0x%llx, never mapped\n",
				    (unsigned long long)addr);
		return;
	}
	unmap_zero_copy(d, addr, size);
}

static int vgk_map_sg(struct device *dev, struct scatterlist *sgl, int nents,
		      enum dma_data_direction dir, unsigned long attrs)
{
	struct scatterlist *sg;
	int i;

	for_each_sg(sgl, sg, nents, i) {
		sg->dma_address = vgk_map_page(dev, sg_page(sg), sg->offset,
					       sg->length, dir, attrs);
		if (sg->dma_address == DMA_MAPPING_ERROR)
			goto fail;
		sg_dma_len(sg) = sg->length;
	}
	return nents;
fail:
	{
		struct scatterlist *s;
		int j;

		for_each_sg(sgl, s, i, j)
			vgk_unmap_page(dev, s->dma_address, sg_dma_len(s), dir,
				       attrs | DMA_ATTR_SKIP_CPU_SYNC);
	}
	return -EIO;
}

static void vgk_unmap_sg(struct device *dev, struct scatterlist *sgl, int nents,
			 enum dma_data_direction dir, unsigned long attrs)
{
	struct scatterlist *sg;
	int i;

	for_each_sg(sgl, sg, nents, i)
		vgk_unmap_page(dev, sg->dma_address, sg_dma_len(sg), dir, attrs);
}

static void vgk_sync_for_cpu(struct device *dev, dma_addr_t addr, size_t size,
			     enum dma_data_direction dir)
{
	struct vgk_dev *d = to_vgk(dev);
	struct vgk_arena *a = &d->arena;
	unsigned long off;

	if (dir == DMA_TO_DEVICE || !arena_lookup(d, addr, &off))
		return;
	/* the slot's caller buffer is recorded at its first unit only */
	if (!(off & (VGK_UNIT - 1)) && a->orig[off >> VGK_UNIT_SHIFT])
		memcpy(a->orig[off >> VGK_UNIT_SHIFT], a->va + off, size);
}

static void vgk_sync_for_device(struct device *dev, dma_addr_t addr,
				size_t size, enum dma_data_direction dir)
{
	struct vgk_dev *d = to_vgk(dev);
	struct vgk_arena *a = &d->arena;
	unsigned long off;

	if (dir == DMA_FROM_DEVICE || !arena_lookup(d, addr, &off))
		return;
	if (!(off & (VGK_UNIT - 1)) && a->orig[off >> VGK_UNIT_SHIFT])
		memcpy(a->va + off, a->orig[off >> VGK_UNIT_SHIFT], size);
}

/* Rings: one allocation, consecutive refs, reserved here and granted by
 * vgk_coh_grant once the queue knows which pages the backend only reads. */
static void *vgk_alloc(struct device *dev, size_t size, dma_addr_t *handle,
		       gfp_t gfp, unsigned long attrs)
{
	struct vgk_dev *d = to_vgk(dev);
	unsigned int n = DIV_ROUND_UP(size, PAGE_SIZE);
	struct vgk_coh *c;
	unsigned long fl;

	c = kzalloc(sizeof(*c), gfp & ~__GFP_ZERO);
	if (!c)
		return NULL;
	c->cpu = alloc_pages_exact((size_t)n << PAGE_SHIFT,
				   (gfp & ~__GFP_COMP) | __GFP_ZERO);
	if (!c->cpu)
		goto fail;
	if (gnttab_alloc_grant_reference_seq(n, &c->ref)) {
		free_pages_exact(c->cpu, (size_t)n << PAGE_SHIFT);
		goto fail;
	}
	c->npages = n;
	spin_lock_irqsave(&d->coh_lock, fl);
	list_add(&c->node, &d->coh);
	spin_unlock_irqrestore(&d->coh_lock, fl);
	*handle = vg_grant_addr(c->ref, 0);
	return c->cpu;
fail:
	kfree(c);
	return NULL;
}

/* The ring allocation holding ref; unlink_cpu: unlink it if it is the
 * one at that address (a mismatch stays listed). */
static struct vgk_coh *coh_find(struct vgk_dev *d, u32 ref, void *unlink_cpu)
{
	struct vgk_coh *c, *found = NULL;
	unsigned long fl;

	spin_lock_irqsave(&d->coh_lock, fl);
	list_for_each_entry(c, &d->coh, node) {
		if (ref >= c->ref && ref - c->ref < c->npages) {
			found = c;
			if (unlink_cpu && c->cpu == unlink_cpu)
				list_del(&c->node);
			break;
		}
	}
	spin_unlock_irqrestore(&d->coh_lock, fl);
	return found;
}

static void vgk_free(struct device *dev, size_t size, void *cpu,
		     dma_addr_t handle, unsigned long attrs)
{
	struct vgk_dev *d = to_vgk(dev);
	struct vgk_coh *c = coh_find(d, vg_grant_addr_ref(handle), cpu);
	unsigned int k, kept = 0;

	if (!c || c->cpu != cpu) {
		dev_err(&d->xdev->dev, "freeing a ring that was never allocated\n");
		return;
	}
	for (k = 0; k < c->npages; k++) {
		void *p = c->cpu + k * PAGE_SIZE;

		if (gnttab_try_end_foreign_access(c->ref + k)) {
			free_page((unsigned long)p);
		} else {
			gnttab_end_foreign_access(c->ref + k, virt_to_page(p));
			kept++;
		}
	}
	if (kept) {
		atomic64_add(kept, &d->st.revoke_failures);
		dev_alert(&d->xdev->dev, "%u ring pages still mapped by dom %u at free: kept until it lets go\n",
			  kept, d->domid);
		WRITE_ONCE(d->broken, true);
	}
	kfree(c);
}

/*
 * Grant a ring allocation's pages to the backend: the ro_bytes from start
 * (descriptor table and driver area, which the backend only reads)
 * read-only, the rest (the used ring) writable.  Each entry is written
 * once, before the ring addresses are published.  Never rewrite a granted
 * entry: refs are easy to guess, so the backend may already map it, and
 * Xen keeps a mapping made under the old permission (a writable
 * descriptor table), while the rewrite clears the entry's in-use bits, so
 * the free would think the page unmapped and give it back while the
 * backend still reaches it.
 */
int vgk_coh_grant(struct vgk_dev *d, dma_addr_t start, size_t ro_bytes)
{
	u32 ref = vg_grant_addr_ref(start);
	struct vgk_coh *c = coh_find(d, ref, NULL);
	unsigned int k, first, n = ro_bytes >> PAGE_SHIFT;

	if (!c || vg_grant_addr_offset(start) || (ro_bytes & ~PAGE_MASK) ||
	    ref - c->ref + n > c->npages)
		return -EINVAL;
	if (d->offline)
		return 0;    /* a restore without a backend: refs never granted */
	first = ref - c->ref;
	for (k = 0; k < c->npages; k++)
		gnttab_grant_foreign_access_ref(c->ref + k, d->domid,
						virt_to_gfn(c->cpu + k * PAGE_SIZE),
						k >= first && k < first + n);
	atomic64_add(c->npages, &d->st.setup_grants);
	return 0;
}

static int vgk_dma_supported(struct device *dev, u64 mask)
{
	return mask == DMA_BIT_MASK(64);
}

static size_t vgk_max_mapping_size(struct device *dev)
{
	struct vgk_dev *d = to_vgk(dev);
	size_t arena = (size_t)d->arena.npages << PAGE_SHIFT;

	/*
	 * Persistent mode: whole pages, so that three of the largest requests
	 * (VGK_POOL_SEGS segments and a status byte) fit one half of the pool
	 * at once.  Fewer, larger segments take fewer ring descriptors, but
	 * the pool's bytes bound what is in flight: segments sized so that
	 * one request fills a half would leave a 1 MiB I/O alone in flight
	 * (docs/kernel.md).  With the default 1024 pages: two (8 KiB).
	 */
	if (d->mode == VGK_PERSISTENT) {
		size_t pages = d->arena.npages / 2 / (3 * (VGK_POOL_SEGS + 1));

		return clamp_t(size_t, pages, 1, 64) << PAGE_SHIFT;
	}
	/* a bounced segment must fit the arena with room to spare */
	if (arena)
		return min_t(size_t, arena / 4, 256 * 1024);
	return 256 * 1024;
}

const struct dma_map_ops vgk_dma_ops = {
	.alloc = vgk_alloc,
	.free = vgk_free,
	.map_page = vgk_map_page,
	.unmap_page = vgk_unmap_page,
	.map_sg = vgk_map_sg,
	.unmap_sg = vgk_unmap_sg,
	.sync_single_for_cpu = vgk_sync_for_cpu,
	.sync_single_for_device = vgk_sync_for_device,
	.dma_supported = vgk_dma_supported,
	.max_mapping_size = vgk_max_mapping_size,
};
