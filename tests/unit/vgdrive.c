/* SPDX-License-Identifier: MIT */
/* Driving the vgrantd core by hand from a test, see vgdrive.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "vgrant/protocol.h"
#include "vgdrive.h"

void (*vd_on_fail)(void);

static void failing(void)
{
    if (vd_on_fail)
        vd_on_fail();
}

/* One round without sleeping, unless file transfers are in the kernel:
 * then wait for them (vgd_run_once returns as soon as one completes). */
void vd_round(struct vgd *d)
{
    assert_int_equal(vgd_run_once(d, vgd_transfers_in_flight(d) ? 1000 : 0), 0);
}

void vd_pump(struct vgd *d, int rounds)
{
    for (int i = 0; i < rounds; i++)
        vd_round(d);
}

void vd_wait_backend_state(struct vgd *d, struct rawfront *rf,
                           enum vg_xenbus_state s)
{
    for (int i = 0; i < VD_MAX_ROUNDS; i++) {
        if (rf_backend_state(rf) == s)
            return;
        vd_round(d);
    }
    failing();
    fail_msg("dom %u dev %u: backend state %s, expected %s", rf->domid,
             rf->devid, vg_xenbus_state_name(rf_backend_state(rf)),
             vg_xenbus_state_name(s));
}

void vd_connect(struct vgd *d, struct rawfront *rf, uint16_t num)
{
    assert_int_equal(rf_connect(rf, num), 0);
    vd_wait_backend_state(d, rf, VG_XB_CONNECTED);
    assert_int_equal(rf_set_state(rf, VG_XB_CONNECTED), 0);
    vd_pump(d, 2);
}

bool vd_serve_until_used(struct vgd *d, struct rawfront *rf, uint32_t *id,
                         uint32_t *len)
{
    assert_int_equal(rf_kick(rf), 0);
    for (int i = 0; i < VD_MAX_ROUNDS; i++) {
        if (rf_get_used(rf, id, len))
            return true;
        vd_round(d);
    }
    failing();
    return false;
}

struct find_arg {
    uint16_t dom;
    unsigned devid;
    struct vgd_dev_stats s;
    bool found;
};

static int find_cb(const struct vgd_dev_stats *s, void *arg)
{
    struct find_arg *f = arg;

    if (s->frontend_domid == f->dom && s->devid == f->devid) {
        f->s = *s;
        f->found = true;
        return 1;
    }
    return 0;
}

bool vd_has_dev(struct vgd *d, uint16_t dom, unsigned devid)
{
    struct find_arg f = { .dom = dom, .devid = devid };

    vgd_foreach_dev(d, find_cb, &f);
    return f.found;
}

struct vgd_dev_stats vd_dev_stats(struct vgd *d, uint16_t dom, unsigned devid)
{
    struct find_arg f = { .dom = dom, .devid = devid };

    vgd_foreach_dev(d, find_cb, &f);
    if (!f.found)
        failing();
    assert_true(f.found);
    return f.s;
}
