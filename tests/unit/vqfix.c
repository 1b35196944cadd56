/* SPDX-License-Identifier: MIT */
/* Fixture of the virtqueue tests, see vqfix.h. */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vgrant/protocol.h"
#include "vgrant/virtqueue.h"
#include "vqfix.h"

void vqt_ring_alloc(struct ring *r, uint16_t num, bool event_idx)
{
    memset(r, 0, sizeof(*r));
    r->num = num;
    r->event_idx = event_idx;
    r->desc = calloc(1, vg_ring_desc_bytes(num));
    r->avail = calloc(1, vg_ring_avail_bytes(num));
    r->used = calloc(1, vg_ring_used_bytes(num));
    r->chain.elem = calloc(num, sizeof(*r->chain.elem));
    assert_non_null(r->desc);
    assert_non_null(r->avail);
    assert_non_null(r->used);
    assert_non_null(r->chain.elem);
}

/* Both sides attached. */
void vqt_ring_setup(struct ring *r, uint16_t num, bool event_idx)
{
    vqt_ring_alloc(r, num, event_idx);
    assert_int_equal(vq_drv_init(&r->drv, num, r->desc, r->avail, r->used,
                              event_idx), 0);
    assert_int_equal(vq_dev_init(&r->dev, num, r->desc, r->avail, r->used,
                                event_idx), 0);
}

/* Only the device attached: the test plays a (hostile) driver. */
void vqt_ring_setup_device_only(struct ring *r, uint16_t num)
{
    vqt_ring_alloc(r, num, false);
    assert_int_equal(vq_dev_init(&r->dev, num, r->desc, r->avail, r->used,
                                false), 0);
}

void vqt_ring_teardown(struct ring *r)
{
    vq_drv_free(&r->drv);
    vq_dev_free(&r->dev);
    free(r->desc);
    free(r->avail);
    free(r->used);
    free(r->chain.elem);
}

void *vqt_token_of(unsigned i)
{
    return (void *)(uintptr_t)(i + 1);
}

/* ---- raw shared-memory access, as a peer would do it ---- */

void vqt_raw_desc(struct ring *r, uint16_t i, uint64_t addr, uint32_t len,
                  uint16_t flags, uint16_t next)
{
    r->desc[i].addr = htole64(addr);
    r->desc[i].len = htole32(len);
    r->desc[i].flags = htole16(flags);
    r->desc[i].next = htole16(next);
}

/* Hostile driver: put head in the next avail slot and publish it. */
void vqt_raw_publish(struct ring *r, uint16_t head)
{
    r->avail->ring[r->raw_avail_idx % r->num] = htole16(head);
    r->raw_avail_idx++;
    r->avail->idx = htole16(r->raw_avail_idx);
}

void vqt_raw_set_avail_idx(struct ring *r, uint16_t idx)
{
    r->avail->idx = htole16(idx);
}

uint16_t vqt_raw_used_idx(const struct ring *r)
{
    return le16toh(r->used->idx);
}

/* Hostile device: write a used entry and publish it. */
void vqt_raw_used(struct ring *r, uint16_t slot_idx, uint32_t id, uint32_t len)
{
    r->used->ring[slot_idx % r->num].id = htole32(id);
    r->used->ring[slot_idx % r->num].len = htole32(len);
}

void vqt_raw_set_used_idx(struct ring *r, uint16_t idx)
{
    r->used->idx = htole16(idx);
}

/* avail_event: the uint16 right after the used ring's num entries */
uint16_t *vqt_avail_event_ptr(const struct ring *r)
{
    return (uint16_t *)((uintptr_t)r->used + offsetof(struct vring_used, ring) +
                        (size_t)r->num * sizeof(struct vring_used_elem));
}

void vqt_raw_set_avail_event(struct ring *r, uint16_t v)
{
    *vqt_avail_event_ptr(r) = htole16(v);
}

void vqt_raw_set_used_event(struct ring *r, uint16_t v)
{
    r->avail->ring[r->num] = htole16(v);
}

/* The device asked to be notified when the index moves from old to new:
 * event in [old, new) modulo 2^16, written independently of the code
 * under test. */
bool vqt_event_in_window(uint16_t event, uint16_t old, uint16_t new_idx)
{
    return (uint16_t)(event - old) < (uint16_t)(new_idx - old);
}

/* Pop one chain and expect the queue to break with error e / value v. */
void vqt_expect_pop_breaks(struct ring *r, enum vq_error e, uint64_t v)
{
    assert_int_equal(vq_dev_pop(&r->dev, &r->chain), -1);
    assert_int_equal(r->dev.error, e);
    assert_int_equal(r->dev.error_value, v);
    assert_true(r->dev.in_flight <= r->num);
    /* sticky */
    assert_int_equal(vq_dev_pop(&r->dev, &r->chain), -1);
    assert_int_equal(r->dev.error, e);
    assert_false(vq_dev_enable_notify(&r->dev));
}

uint32_t vqt_rng_next(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}
