/* SPDX-License-Identifier: MIT */
/*
 * Fixture of the vgrantd tests (test_backend*.c): a fake world, vgrantd
 * driven by hand (vgdrive.h) against hand-crafted frontends (rawfront.h),
 * image files with a known pattern, and a capture of what the daemon logs.
 */
#ifndef VGRANT_TEST_TWFIX_H
#define VGRANT_TEST_TWFIX_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "rawfront.h"
#include "vgdrive.h"
#include "vgrantd.h"

#define IMAGE_SECTORS 128u
#define FEATURES_STD  (VG_FEATURES_REQUIRED | VG_FEATURE(VIRTIO_RING_F_EVENT_IDX))
#define MAX_ROUNDS    200

struct tw {
    struct vg_fake_world *w;
    struct vg_hyp *be;         /* vgrantd's handle (dom0) */
    struct vg_hyp *ts;         /* the toolstack's handle (dom0) */
    struct vgd *d;
    char image[64];
    char image_ro[64];
};

void tw_fill_image(const char *path);
void tw_make_image(char *path, size_t size);
struct tw *tw_new(unsigned budget);
struct tw *tw_new_opts(const struct vgd_options *opts);
void tw_free(struct tw *t);
void tw_pump(struct tw *t, int rounds);
void tw_wait_backend_state(struct tw *t, struct rawfront *rf,
                           enum vg_xenbus_state s);
void tw_ensure_domain(struct tw *t, uint16_t dom);
/* Toolstack attach + open the guest side, up to backend InitWait. */
void tw_attach(struct tw *t, struct rawfront *rf, uint16_t dom,
               unsigned devid, const struct rf_attach *a);
void tw_attach_connect(struct tw *t, struct rawfront *rf, uint16_t dom,
                       unsigned devid, uint16_t num,
                       const struct rf_attach *a);
/* Kick and serve until the request completes; returns its status. */
uint8_t tw_blk_complete(struct tw *t, struct rawfront *rf,
                        struct rf_blk *r, uint32_t *len_out);
uint8_t tw_blk_do(struct tw *t, struct rawfront *rf, struct rf_blk *r);
struct vgd_dev_stats tw_dev_stats(struct tw *t, uint16_t dom, unsigned devid);
off_t tw_file_size(const char *path);
void tw_read_sector(const char *path, uint64_t s, uint8_t *buf);
bool tw_sector_is(const char *path, uint64_t s, uint8_t v);
void tw_capture_start(void);
char *tw_capture_stop(void);
/* Before failing inside a capture: give cmocka its stderr back. */
void tw_capture_abort(void);
void tw_assert_log_has(const char *log, const char *needle);

#endif /* VGRANT_TEST_TWFIX_H */
