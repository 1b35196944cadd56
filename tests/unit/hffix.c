/* SPDX-License-Identifier: MIT */
/* Fixture of the fake hypervisor's tests: see hffix.h. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "vgrant/hyp.h"

#include "hffix.h"

int hft_setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));
    assert_non_null(e);
    e->w = vg_fake_world_new();
    assert_non_null(e->w);
    assert_int_equal(vg_fake_domain_create(e->w, FRONT), 0);
    assert_int_equal(vg_fake_domain_create(e->w, OTHER), 0);
    e->dom0 = vg_fake_open(e->w, 0);
    e->front = vg_fake_open(e->w, FRONT);
    e->other = vg_fake_open(e->w, OTHER);
    assert_non_null(e->dom0);
    assert_non_null(e->front);
    assert_non_null(e->other);
    *state = e;
    return 0;
}

int hft_teardown(void **state)
{
    struct env *e = *state;
    vg_hyp_close(e->dom0);
    vg_hyp_close(e->front);
    vg_hyp_close(e->other);
    vg_fake_world_free(e->w);
    free(e);
    return 0;
}

bool hft_fd_readable(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* Drain all queued watch events; returns how many. */
unsigned hft_drain_watches(struct vg_hyp *h)
{
    char path[256], token[64];
    unsigned n = 0;
    while (h->ops->xs_next_watch(h, path, sizeof(path), token, sizeof(token)) == 0)
        n++;
    assert_int_equal(errno, EAGAIN);
    return n;
}

/* True if the next watch event is exactly (path, token). */
void hft_expect_watch(struct vg_hyp *h, const char *path, const char *token)
{
    char p[256], t[64];
    assert_int_equal(h->ops->xs_next_watch(h, p, sizeof(p), t, sizeof(t)), 0);
    assert_string_equal(p, path);
    assert_string_equal(t, token);
}

/* Connect front (offering) to dom0; returns both ports. */
void hft_connect_pair(struct env *e, vg_port_t *fport, vg_port_t *bport)
{
    int fp = e->front->ops->evtchn_bind_unbound(e->front, 0);
    assert_true(fp > 0);
    int bp = e->dom0->ops->evtchn_bind_interdomain(e->dom0, FRONT, (vg_port_t)fp);
    assert_true(bp > 0);
    *fport = (vg_port_t)fp;
    *bport = (vg_port_t)bp;
}
