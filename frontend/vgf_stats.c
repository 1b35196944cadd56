/* SPDX-License-Identifier: MIT */
/*
 * The guest's counters, published for the administrator of the backend
 * domain (`vgrant stats`): the frontend key "stats", one line in the
 * format of include/vgrant/guest_stats.h.  Informational: a failed write
 * is ignored, and the key is written at most once a second.
 */
#include "vgrant/clock.h"
#include "vgf_internal.h"
#include "vgrant/guest_stats.h"
#include "vgrant/xsutil.h"

#include <errno.h>
#include <stdlib.h>

struct stats_tx {
    struct vgf_dev *d;
    const char *line;
};

static int stats_tx_body(struct vg_hyp *h, vg_xs_tx_t tx, void *arg)
{
    const struct stats_tx *t = arg;
    char *state;

    /* The toolstack may have removed the device: do not recreate it. */
    state = vg_xs_read_str(h, tx, t->d->fe_dir, VG_KEY_STATE);
    if (!state)
        return errno == EAGAIN ? -1 : 1;
    free(state);
    return vg_xs_write_fmt(h, tx, t->d->fe_dir, VG_KEY_STATS, "%s", t->line);
}

void vgf_stats_publish(struct vgf_dev *d, bool force)
{
    char line[VG_GUEST_STATS_MAX];
    const struct vgf_stats *st = &d->stats;
    struct vg_guest_stats g = {
        .requests = st->requests, .completed = st->completed,
        .failed = st->failed, .pages_shared = st->pages_shared,
        .throttle_waits = st->throttle_waits,
        .region_high_water = st->region_high_water,
        .bounce_bytes = st->bounce_bytes,
        .zero_copy_bytes = st->zero_copy_bytes,
    };
    struct stats_tx t = { .d = d, .line = line };
    uint64_t now = vg_now_ms();

    if (!force && now - d->stats_published_ms < VGF_STATS_PUBLISH_MS)
        return;
    d->stats_published_ms = now;
    if (st->requests == 0 || vg_format_guest_stats(line, sizeof(line), &g))
        return;
    (void)vg_xs_transact(d->h, stats_tx_body, &t, NULL);
}
