/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueue (VIRTIO 1.x, little-endian), driver and device side.
 *
 * Every access to ring memory goes through the shared_* helpers below: one
 * relaxed atomic load or store of the whole field, so the compiler can
 * neither tear nor repeat it.  Ordering between those accesses is given by
 * explicit fences, each commented with the ordering it protects.
 *
 * The device side never trusts the driver: it reads each shared field once
 * into a local, validates the local and uses only the local (XSA-155), and
 * holds at most num chains.  The driver side never trusts the device: used
 * ids, lengths and index movement are checked against private state, and
 * descriptors are reclaimed through a private free list, never through the
 * next fields in shared memory (XSA-396).
 */
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "vgrant/protocol.h"
#include "vgrant/virtqueue.h"

/* Release: earlier stores are visible before later stores. */
#define vg_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
/* Acquire: earlier loads complete before later loads. */
#define vg_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
/* Full: earlier stores are visible before later loads. */
#define vg_mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)

static inline uint16_t shared_load16(const uint16_t *p)
{
    return le16toh(__atomic_load_n(p, __ATOMIC_RELAXED));
}

static inline uint32_t shared_load32(const uint32_t *p)
{
    return le32toh(__atomic_load_n(p, __ATOMIC_RELAXED));
}

static inline uint64_t shared_load64(const uint64_t *p)
{
    return le64toh(__atomic_load_n(p, __ATOMIC_RELAXED));
}

static inline void shared_store16(uint16_t *p, uint16_t v)
{
    __atomic_store_n(p, htole16(v), __ATOMIC_RELAXED);
}

static inline void shared_store32(uint32_t *p, uint32_t v)
{
    __atomic_store_n(p, htole32(v), __ATOMIC_RELAXED);
}

static inline void shared_store64(uint64_t *p, uint64_t v)
{
    __atomic_store_n(p, htole64(v), __ATOMIC_RELAXED);
}

/* used_event follows the avail ring, avail_event follows the used ring. */
static inline uint16_t *used_event_of(const struct vring_avail *avail,
                                      uint16_t num)
{
    return (uint16_t *)((uintptr_t)avail + offsetof(struct vring_avail, ring) +
                        (size_t)num * sizeof(avail->ring[0]));
}

static inline uint16_t *avail_event_of(const struct vring_used *used,
                                       uint16_t num)
{
    return (uint16_t *)((uintptr_t)used + offsetof(struct vring_used, ring) +
                        (size_t)num * sizeof(used->ring[0]));
}

/* True if the peer asked to be notified when the index moved from old to
 * new_idx, i.e. event lies in [old, new_idx) modulo 2^16. */
static inline bool vring_need_event(uint16_t event, uint16_t new_idx,
                                    uint16_t old)
{
    return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

static bool queue_size_valid(uint16_t num)
{
    return num >= VG_MIN_QUEUE_SIZE && num <= VG_MAX_QUEUE_SIZE &&
           (num & (num - 1)) == 0;
}

/* ======================================================================
 * Driver side
 * ====================================================================== */

int vq_drv_init(struct vq_driver *vq, uint16_t num, void *desc, void *avail,
             void *used, bool event_idx)
{
    if (!vq || !desc || !avail || !used || !queue_size_valid(num)) {
        errno = EINVAL;
        return -1;
    }
    memset(vq, 0, sizeof(*vq));
    vq->next_free = calloc(num, sizeof(*vq->next_free));
    vq->slots = calloc(num, sizeof(*vq->slots));
    if (!vq->next_free || !vq->slots)
        goto fail_nomem;

    vq->num = num;
    vq->event_idx = event_idx;
    vq->desc = desc;
    vq->avail = avail;
    vq->used = used;
    /* Every descriptor is free; the link of the last one is never used. */
    for (uint16_t i = 0; i < num; i++)
        vq->next_free[i] = (uint16_t)(i + 1);
    vq->free_head = 0;
    vq->num_free = num;

    /* Interrupts enabled from the start: flags 0, used_event 0. */
    shared_store16(&vq->avail->flags, 0);
    shared_store16(used_event_of(vq->avail, num), 0);
    shared_store16(&vq->avail->idx, 0);
    return 0;

fail_nomem:
    free(vq->next_free);
    free(vq->slots);
    memset(vq, 0, sizeof(*vq));
    errno = ENOMEM;
    return -1;
}

void vq_drv_free(struct vq_driver *vq)
{
    if (!vq)
        return;
    free(vq->next_free);
    free(vq->slots);
    memset(vq, 0, sizeof(*vq));
}

int vq_drv_add(struct vq_driver *vq, const struct vq_buf *bufs, unsigned out_n,
            unsigned in_n, void *token)
{
    uint64_t total = 0, in_bytes = 0;
    unsigned n, i;
    uint16_t head, idx, last = 0;

    if (!token || !bufs || out_n + in_n == 0 || out_n > vq->num ||
        in_n > vq->num) {
        errno = EINVAL;
        return -1;
    }
    n = out_n + in_n;
    if (n > vq->num) {
        /* could never fit, waiting for space would wait forever */
        errno = E2BIG;
        return -1;
    }
    if (n > vq->num_free) {
        errno = ENOSPC;
        return -1;
    }
    for (i = 0; i < n; i++) {
        total += bufs[i].len;
        if (i >= out_n)
            in_bytes += bufs[i].len;
    }
    if (total > UINT32_MAX) {
        /* the device would reject the chain and break the queue */
        errno = EOVERFLOW;
        return -1;
    }

    /* Take n descriptors off the private free list; the private links of
     * the chain stay in next_free until it is reclaimed. */
    head = idx = vq->free_head;
    for (i = 0; i < n; i++) {
        struct vring_desc *d = &vq->desc[idx];
        uint16_t flags = i >= out_n ? VRING_DESC_F_WRITE : 0;
        uint16_t next = 0;

        if (i + 1 < n) {
            flags |= VRING_DESC_F_NEXT;
            next = vq->next_free[idx];
        }
        shared_store64(&d->addr, bufs[i].addr);
        shared_store32(&d->len, bufs[i].len);
        shared_store16(&d->flags, flags);
        shared_store16(&d->next, next);
        last = idx;
        idx = vq->next_free[idx];
    }
    vq->free_head = vq->next_free[last];
    vq->num_free = (uint16_t)(vq->num_free - n);

    vq->slots[head].token = token;
    vq->slots[head].ndesc = (uint16_t)n;
    vq->slots[head].in_bytes = (uint32_t)in_bytes;
    vq->chains_in_flight++;

    /* Descriptors are written before the avail ring entry naming them. */
    vg_wmb();
    shared_store16(&vq->avail->ring[vq->avail_idx & (vq->num - 1)], head);
    vq->avail_idx++;
    return 0;
}

bool vq_drv_kick_prepare(struct vq_driver *vq)
{
    uint16_t old = vq->last_kick_idx, new_idx = vq->avail_idx;
    bool need;

    if (old == new_idx)
        return false;
    /* Avail ring entries are written before avail->idx publishes them. */
    vg_wmb();
    shared_store16(&vq->avail->idx, new_idx);
    /* avail->idx store is visible before we read avail_event / flags, or
     * the device could go to sleep without seeing our entries. */
    vg_mb();
    if (vq->event_idx)
        need = vring_need_event(shared_load16(avail_event_of(vq->used, vq->num)),
                                new_idx, old);
    else
        need = !(shared_load16(&vq->used->flags) & VRING_USED_F_NO_NOTIFY);
    vq->last_kick_idx = new_idx;
    return need;
}

/* Return the descriptors of the chain at head to the private free list,
 * following the private links written by vq_drv_add. */
static void reclaim_chain(struct vq_driver *vq, uint16_t head)
{
    struct vq_driver_slot *slot = &vq->slots[head];
    uint16_t last = head;

    for (uint16_t i = 1; i < slot->ndesc; i++)
        last = vq->next_free[last];
    vq->next_free[last] = vq->free_head;
    vq->free_head = head;
    vq->num_free = (uint16_t)(vq->num_free + slot->ndesc);
    slot->token = NULL;
    slot->ndesc = 0;
    slot->in_bytes = 0;
    vq->chains_in_flight--;
}

void *vq_drv_get_used(struct vq_driver *vq, uint32_t *len)
{
    uint16_t used_idx, pending;

    used_idx = shared_load16(&vq->used->idx);
    /* used->idx is read before the used entries it publishes. */
    vg_rmb();
    pending = (uint16_t)(used_idx - vq->last_used_idx);
    if (pending == 0)
        return NULL;
    if (pending > vq->chains_in_flight) {
        /* The device claims more completions than we have requests:
         * trust none of them.  A later sane used->idx is honoured. */
        vq->bad_used_idx++;
        return NULL;
    }

    /* Bounded: pending <= chains_in_flight <= num. */
    for (; pending > 0; pending--) {
        struct vring_used_elem *e =
            &vq->used->ring[vq->last_used_idx & (vq->num - 1)];
        uint32_t id = shared_load32(&e->id);
        uint32_t used_len = shared_load32(&e->len);
        void *token;

        vq->last_used_idx++;
        if (id >= vq->num || !vq->slots[id].token) {
            /* out of range, never added, or already completed */
            vq->bad_used_id++;
            continue;
        }
        if (used_len > vq->slots[id].in_bytes) {
            vq->bad_used_len++;
            used_len = vq->slots[id].in_bytes;
        }
        token = vq->slots[id].token;
        reclaim_chain(vq, (uint16_t)id);
        if (len)
            *len = used_len;
        return token;
    }
    return NULL;
}

bool vq_drv_used_pending(const struct vq_driver *vq)
{
    uint16_t used_idx = shared_load16(&vq->used->idx);

    vg_rmb();
    return used_idx != vq->last_used_idx;
}

bool vq_drv_enable_cb(struct vq_driver *vq)
{
    if (vq->event_idx)
        shared_store16(used_event_of(vq->avail, vq->num), vq->last_used_idx);
    else
        shared_store16(&vq->avail->flags, 0);
    /* used_event / flags store is visible before we re-read used->idx, or
     * a completion pushed in between would never interrupt us. */
    vg_mb();
    return shared_load16(&vq->used->idx) != vq->last_used_idx;
}

void vq_drv_disable_cb(struct vq_driver *vq)
{
    if (vq->event_idx)
        /* An entry we already consumed: at most one more interrupt, then
         * none until the index wraps. */
        shared_store16(used_event_of(vq->avail, vq->num),
                       (uint16_t)(vq->last_used_idx - 1));
    else
        shared_store16(&vq->avail->flags, VRING_AVAIL_F_NO_INTERRUPT);
}

unsigned vq_drv_in_flight(const struct vq_driver *vq)
{
    return vq->chains_in_flight;
}

/* ======================================================================
 * Device side
 * ====================================================================== */

const char *vq_error_str(enum vq_error e)
{
    switch (e) {
    case VQ_OK:               return "no error";
    case VQ_ERR_AVAIL_IDX:    return "avail index moved more than the queue size";
    case VQ_ERR_HEAD_RANGE:   return "chain head index out of range";
    case VQ_ERR_NEXT_RANGE:   return "descriptor next index out of range";
    case VQ_ERR_LOOP:         return "descriptor chain longer than the queue (loop)";
    case VQ_ERR_LEN_OVERFLOW: return "chain length does not fit 32 bits";
    case VQ_ERR_ORDER:        return "device-readable descriptor after a writable one";
    case VQ_ERR_INDIRECT:     return "indirect descriptor without the feature";
    case VQ_ERR_TOO_MANY:     return "more chains in flight than the queue size";
    case VQ_ERR_USED_ID:      return "used entry for a head not in flight";
    }
    return "unknown virtqueue error";
}

int vq_dev_init(struct vq_device *vq, uint16_t num, const void *desc,
               const void *avail, void *used, bool event_idx)
{
    if (!vq || !desc || !avail || !used || !queue_size_valid(num)) {
        errno = EINVAL;
        return -1;
    }
    memset(vq, 0, sizeof(*vq));
    vq->head_busy = calloc(num, sizeof(*vq->head_busy));
    if (!vq->head_busy) {
        errno = ENOMEM;
        return -1;
    }
    vq->num = num;
    vq->event_idx = event_idx;
    vq->desc = desc;
    vq->avail = avail;
    vq->used = used;
    /* Nothing signalled yet and used idx 0: the first push is judged
     * against used_event as a move from 0. */
    vq->signalled_used = 0;
    vq->signalled_valid = true;

    shared_store16(&vq->used->flags, 0);
    shared_store16(avail_event_of(vq->used, num), 0);
    shared_store16(&vq->used->idx, 0);
    return 0;
}

void vq_dev_free(struct vq_device *vq)
{
    if (!vq)
        return;
    free(vq->head_busy);
    memset(vq, 0, sizeof(*vq));
}

static int queue_broken(struct vq_device *vq, enum vq_error e, uint64_t value)
{
    vq->error = e;
    vq->error_value = value;
    return -1;
}

/* One descriptor, copied out of shared memory exactly once. */
static void fetch_desc(const struct vring_desc *shared, struct vring_desc *copy)
{
    copy->addr = shared_load64(&shared->addr);
    copy->len = shared_load32(&shared->len);
    copy->flags = shared_load16(&shared->flags);
    copy->next = shared_load16(&shared->next);
}

int vq_dev_pop(struct vq_device *vq, struct vq_chain *chain)
{
    uint16_t avail_idx, pending, head, idx, n = 0, n_out = 0;
    uint64_t out_bytes = 0, in_bytes = 0;
    bool seen_write = false;

    if (vq->error)
        return -1;

    avail_idx = shared_load16(&vq->avail->idx);
    /* avail->idx is read before the ring entries and descriptors it
     * publishes. */
    vg_rmb();
    pending = (uint16_t)(avail_idx - vq->last_avail_idx);
    if (pending == 0)
        return 0;
    if (pending > vq->num)
        return queue_broken(vq, VQ_ERR_AVAIL_IDX, avail_idx);
    if (vq->in_flight >= vq->num)
        return queue_broken(vq, VQ_ERR_TOO_MANY, vq->in_flight);

    head = shared_load16(&vq->avail->ring[vq->last_avail_idx & (vq->num - 1)]);
    if (head >= vq->num)
        return queue_broken(vq, VQ_ERR_HEAD_RANGE, head);
    if (vq->head_busy[head])
        /* the driver re-published a chain we still hold */
        return queue_broken(vq, VQ_ERR_TOO_MANY, head);

    for (idx = head;;) {
        struct vring_desc d;

        if (n >= vq->num)
            return queue_broken(vq, VQ_ERR_LOOP, n);
        fetch_desc(&vq->desc[idx], &d);
        /* Only the copy d is used from here on. */
        if (d.flags & VRING_DESC_F_INDIRECT)
            return queue_broken(vq, VQ_ERR_INDIRECT, idx);
        if (d.flags & VRING_DESC_F_WRITE) {
            seen_write = true;
            in_bytes += d.len;
        } else {
            if (seen_write)
                return queue_broken(vq, VQ_ERR_ORDER, idx);
            out_bytes += d.len;
            n_out++;
        }
        if (out_bytes + in_bytes > UINT32_MAX)
            return queue_broken(vq, VQ_ERR_LEN_OVERFLOW, out_bytes + in_bytes);
        chain->elem[n].addr = d.addr;
        chain->elem[n].len = d.len;
        chain->elem[n].write = (d.flags & VRING_DESC_F_WRITE) != 0;
        n++;
        if (!(d.flags & VRING_DESC_F_NEXT))
            break;
        if (d.next >= vq->num)
            return queue_broken(vq, VQ_ERR_NEXT_RANGE, d.next);
        idx = d.next;
    }

    chain->head = head;
    chain->n = n;
    chain->n_out = n_out;
    chain->out_bytes = (uint32_t)out_bytes;
    chain->in_bytes = (uint32_t)in_bytes;
    vq->last_avail_idx++;
    vq->head_busy[head] = 1;
    vq->in_flight++;
    return 1;
}

int vq_dev_unpop(struct vq_device *vq, uint16_t head)
{
    /* Nothing of the guest's is read: if it rewrote the avail entry
     * meanwhile, the next pop finds and validates whatever is there. */
    if (vq->error || head >= vq->num || !vq->head_busy[head] ||
        !vq->in_flight) {
        errno = EINVAL;
        return -1;
    }
    vq->last_avail_idx--;
    vq->head_busy[head] = 0;
    vq->in_flight--;
    return 0;
}

int vq_dev_push_hold(struct vq_device *vq, uint16_t head, uint32_t len)
{
    struct vring_used_elem *e;

    if (head >= vq->num || !vq->head_busy[head]) {
        if (!vq->error)
            queue_broken(vq, VQ_ERR_USED_ID, head);
        errno = EINVAL;
        return -1;
    }
    e = &vq->used->ring[vq->used_idx & (vq->num - 1)];
    shared_store32(&e->id, head);
    shared_store32(&e->len, len);
    vq->used_idx++;
    vq->head_busy[head] = 0;
    vq->in_flight--;
    return 0;
}

void vq_dev_publish(struct vq_device *vq)
{
    /* The used entries are written before used->idx publishes them. */
    vg_wmb();
    shared_store16(&vq->used->idx, vq->used_idx);
}

int vq_dev_push(struct vq_device *vq, uint16_t head, uint32_t len)
{
    if (vq_dev_push_hold(vq, head, len))
        return -1;
    vq_dev_publish(vq);
    return 0;
}

bool vq_dev_should_notify(struct vq_device *vq)
{
    uint16_t old = vq->signalled_used, new_idx = vq->used_idx;
    bool need;

    /* used->idx store is visible before we read used_event / flags, or
     * the driver could go to sleep without seeing our entries. */
    vg_mb();
    if (vq->signalled_valid && old == new_idx)
        return false;
    if (vq->event_idx)
        need = !vq->signalled_valid ||
               vring_need_event(shared_load16(used_event_of(vq->avail, vq->num)),
                                new_idx, old);
    else
        need = !(shared_load16(&vq->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
    vq->signalled_used = new_idx;
    vq->signalled_valid = true;
    return need;
}

bool vq_dev_enable_notify(struct vq_device *vq)
{
    if (vq->event_idx)
        shared_store16(avail_event_of(vq->used, vq->num), vq->last_avail_idx);
    else
        shared_store16(&vq->used->flags, 0);
    /* avail_event / flags store is visible before we re-check avail->idx,
     * or a chain published in between would never kick us. */
    vg_mb();
    if (vq->error)
        return false;   /* broken: nothing to pop, do not spin */
    return shared_load16(&vq->avail->idx) != vq->last_avail_idx;
}

bool vq_dev_enable_notify_at(struct vq_device *vq, uint16_t want)
{
    if (!want)
        want = 1;
    /* The driver kicks when it publishes the entry at index avail_event:
     * the want-th one not popped yet.  Without EVENT_IDX there is no way
     * to ask for the want-th, and a kick per entry is what coalescing
     * avoids: kicks stay off, the caller comes back for another reason. */
    if (vq->event_idx)
        shared_store16(avail_event_of(vq->used, vq->num),
                       (uint16_t)(vq->last_avail_idx + want - 1));
    /* avail_event store is visible before we re-count, or the want-th
     * entry published in between would never kick us. */
    vg_mb();
    return vq_dev_avail_count(vq) >= want;
}

uint16_t vq_dev_avail_count(const struct vq_device *vq)
{
    uint16_t n;

    if (vq->error)
        return 0;
    n = (uint16_t)(shared_load16(&vq->avail->idx) - vq->last_avail_idx);
    /* more than num is a broken ring: vq_dev_pop says so */
    return n > vq->num ? vq->num : n;
}

bool vq_dev_has_avail(const struct vq_device *vq)
{
    if (vq->error)
        return false;
    return shared_load16(&vq->avail->idx) != vq->last_avail_idx;
}

void vq_dev_disable_notify(struct vq_device *vq)
{
    /* With EVENT_IDX a stale avail_event already suppresses kicks. */
    if (!vq->event_idx)
        shared_store16(&vq->used->flags, VRING_USED_F_NO_NOTIFY);
}
