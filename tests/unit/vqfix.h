/* SPDX-License-Identifier: MIT */
/*
 * Fixture of the virtqueue tests (test_virtqueue.c, test_vq_hostile_driver.c,
 * test_vq_hostile_device.c): one ring whose areas are allocated at exactly
 * their size (so under AddressSanitizer any index the device failed to
 * check is a reported out-of-bounds access), a driver and a device attached
 * to it, and raw access to the shared memory as a (hostile) peer does it.
 */
#ifndef VGRANT_TEST_VQFIX_H
#define VGRANT_TEST_VQFIX_H

#include <stdbool.h>
#include <stdint.h>

#include "vgrant/virtqueue.h"

struct ring {
    uint16_t num;
    bool event_idx;
    struct vring_desc *desc;
    struct vring_avail *avail;
    struct vring_used *used;
    struct vq_driver drv;
    struct vq_device dev;
    struct vq_chain chain;        /* chain.elem holds exactly num entries */
    uint16_t raw_avail_idx;       /* hostile driver's own avail idx */
};

void vqt_ring_alloc(struct ring *r, uint16_t num, bool event_idx);
/* Both sides attached. */
void vqt_ring_setup(struct ring *r, uint16_t num, bool event_idx);
/* Only the device attached: the test plays a (hostile) driver. */
void vqt_ring_setup_device_only(struct ring *r, uint16_t num);
void vqt_ring_teardown(struct ring *r);
void *vqt_token_of(unsigned i);
void vqt_raw_desc(struct ring *r, uint16_t i, uint64_t addr, uint32_t len,
                  uint16_t flags, uint16_t next);
/* Hostile driver: put head in the next avail slot and publish it. */
void vqt_raw_publish(struct ring *r, uint16_t head);
void vqt_raw_set_avail_idx(struct ring *r, uint16_t idx);
uint16_t vqt_raw_used_idx(const struct ring *r);
/* Hostile device: write a used entry and publish it. */
void vqt_raw_used(struct ring *r, uint16_t slot_idx, uint32_t id, uint32_t len);
void vqt_raw_set_used_idx(struct ring *r, uint16_t idx);
/* avail_event: the uint16 right after the used ring's num entries */
uint16_t *vqt_avail_event_ptr(const struct ring *r);
void vqt_raw_set_avail_event(struct ring *r, uint16_t v);
void vqt_raw_set_used_event(struct ring *r, uint16_t v);
/* The device asked to be notified when the index moves from old to new:
 * event in [old, new) modulo 2^16, written independently of the code
 * under test. */
bool vqt_event_in_window(uint16_t event, uint16_t old, uint16_t new_idx);
/* Pop one chain and expect the queue to break with error e / value v. */
void vqt_expect_pop_breaks(struct ring *r, enum vq_error e, uint64_t v);
/* xorshift32: reproducible choices from a seed. */
uint32_t vqt_rng_next(uint32_t *s);

#endif /* VGRANT_TEST_VQFIX_H */
