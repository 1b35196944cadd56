/* SPDX-License-Identifier: MIT */
/* Loopback fixture, see loopfix.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vgrant/log.h"
#include "vgrant/toolstack.h"
#include "loopfix.h"

static void *backend_thread(void *arg)
{
    struct loop *l = arg;

    while (!__atomic_load_n(&l->stop, __ATOMIC_ACQUIRE))
        if (vgd_run_once(l->vgd, 20) < 0)
            break;
    return NULL;
}

void loop_fill_pattern(uint8_t *buf, size_t len, uint64_t offset,
                       uint32_t pass)
{
    for (size_t i = 0; i < len; i += 8) {
        uint64_t v = ((offset + i) * 0x9e3779b97f4a7c15ull) ^
                     ((uint64_t)pass << 48);
        memcpy(buf + i, &v, 8);
    }
}

static struct loop *start(const char *name, const char *full_spec,
                          const char *extra_spec, const struct vgd_options *o)
{
    struct loop *l = calloc(1, sizeof(*l));
    struct vg_attach_spec spec;
    char err[256], specstr[256];
    struct vg_hyp *tool;

    assert_non_null(l);
    vg_log_init(name, VG_LOG_WARN);
    snprintf(l->image, sizeof(l->image), "/tmp/vgrant-loop-XXXXXX");
    l->image_fd = mkstemp(l->image);
    assert_true(l->image_fd >= 0);
    assert_int_equal(ftruncate(l->image_fd, LOOP_IMAGE_BYTES), 0);
    l->w = vg_fake_world_new();
    assert_non_null(l->w);
    assert_int_equal(vg_fake_domain_create(l->w, 0), 0);
    assert_int_equal(vg_fake_domain_create(l->w, LOOP_GUEST), 0);
    l->dom0 = vg_fake_open(l->w, 0);
    l->guest = vg_fake_open(l->w, LOOP_GUEST);
    assert_non_null(l->dom0);
    assert_non_null(l->guest);
    /* The toolstack's own code writes both directories, as `vgrant attach`
     * would on Xen.  A separate dom0 handle, like a separate process. */
    if (full_spec)
        snprintf(specstr, sizeof(specstr), "%s", full_spec);
    else
        snprintf(specstr, sizeof(specstr),
                 "type=blk,target=%s,queue-size=256%s%s", l->image,
                 extra_spec && *extra_spec ? "," : "",
                 extra_spec ? extra_spec : "");
    if (vg_attach_spec_parse(specstr, &spec, err, sizeof(err)))
        fail_msg("spec %s: %s", specstr, err);
    tool = vg_fake_open(l->w, 0);
    assert_int_equal(vg_toolstack_attach(tool, LOOP_GUEST, &spec, &l->devid,
                                         err, sizeof(err)), 0);
    vg_hyp_close(tool);
    l->vgd = vgd_new(l->dom0, o);
    assert_non_null(l->vgd);
    assert_int_equal(vgd_start(l->vgd), 0);
    assert_int_equal(pthread_create(&l->thread, NULL, backend_thread, l), 0);
    return l;
}

struct loop *loop_start(const char *name, const char *extra_spec,
                        const struct vgd_options *o)
{
    return start(name, NULL, extra_spec, o);
}

struct loop *loop_start_spec(const char *name, const char *spec,
                             const struct vgd_options *o)
{
    return start(name, spec, NULL, o);
}

void loop_stop(struct loop *l)
{
    __atomic_store_n(&l->stop, 1, __ATOMIC_RELEASE);
    vgd_request_stop(l->vgd);
    pthread_join(l->thread, NULL);
    vgd_free(l->vgd);
    /* Nothing of the guest is mapped or bound once the daemon is gone. */
    assert_int_equal(vg_fake_live_mappings(l->w, LOOP_GUEST), 0);
    assert_int_equal(vg_fake_bound_ports(l->w, 0), 0);
    vg_hyp_close(l->guest);
    vg_hyp_close(l->dom0);
    vg_fake_world_free(l->w);
    close(l->image_fd);
    unlink(l->image);
    free(l);
}
