/* SPDX-License-Identifier: MIT */
/*
 * Fake hypervisor (see hyp_fake.c): the grant table.  A grant maps only for
 * the domain it was granted to, only while it is not revoked; read-only
 * grants map PROT_READ so a write really faults.  Granted pages live in one
 * memfd per domain, so both sides really share memory and a
 * revoked-but-mapped page stays valid until unmapped.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xen/grant_table.h>

#include "vgrant/hyp.h"
#include "vgrant/log.h"
#include "vgrant/protocol.h"

#include "hyp_fake_int.h"

#define FAKE_MEM_GROW_PAGES 1024u

static int cmp_page_desc(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? 1 : x > y ? -1 : 0;
}

/* Zero the dirty pages (a hole punched per run of consecutive pages) and
 * stack them, highest first, so that they are handed out in ascending
 * order.  A page whose hole cannot be punched is leaked rather than
 * handed out with stale data. */
static void pages_recycle(struct fake_domain *d)
{
    uint32_t *p = d->dirty_pages, n = d->ndirty;

    qsort(p, n, sizeof(*p), cmp_page_desc);
    for (uint32_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && p[j] + 1 == p[j - 1]; j++)
            ;
        if (fallocate(d->mem_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                      (off_t)p[j - 1] * VG_PAGE_SIZE,
                      (off_t)(j - i) * VG_PAGE_SIZE) < 0) {
            vg_warn("fake: dom %u cannot recycle pages %u-%u: %s", d->domid,
                    p[j - 1], p[i], strerror(errno));
            continue;
        }
        memcpy(d->free_pages + d->nfree, p + i, (j - i) * sizeof(*p));
        d->nfree += j - i;
    }
    d->ndirty = 0;
}

/* A zeroed page of d's memfd. */
static int page_alloc(struct fake_domain *d, uint32_t *page)
{
    if (!d->nfree && d->ndirty)
        pages_recycle(d);
    if (d->nfree) {
        *page = d->free_pages[--d->nfree];
        return 0;
    }
    if (d->mem_fd < 0) {
        d->mem_fd = memfd_create("vgrant-fake-grants", MFD_CLOEXEC);
        if (d->mem_fd < 0)
            return -1;
    }
    if (!d->free_pages) {
        d->free_pages = malloc(FAKE_MAX_GRANTS * sizeof(*d->free_pages));
        d->dirty_pages = malloc(FAKE_MAX_GRANTS * sizeof(*d->dirty_pages));
        if (!d->free_pages || !d->dirty_pages)
            return -1;
    }
    if (d->mem_used == FAKE_MAX_GRANTS) {
        errno = ENOSPC;
        return -1;
    }
    if (d->mem_used == d->mem_pages) {
        uint32_t pages = d->mem_pages + FAKE_MEM_GROW_PAGES;
        if (pages > FAKE_MAX_GRANTS)
            pages = FAKE_MAX_GRANTS;
        if (ftruncate(d->mem_fd, (off_t)pages * VG_PAGE_SIZE) < 0)
            return -1;
        d->mem_pages = pages;
    }
    *page = d->mem_used++;
    return 0;
}

/* Give the page back; it is zeroed before anyone gets it again. */
static void page_free(struct fake_domain *d, uint32_t page)
{
    d->dirty_pages[d->ndirty++] = page;
}

/* Map the pages behind count refs of d at base: one mmap per run of
 * consecutive pages of d's memfd. */
static int map_runs(void *base, const struct fake_domain *d,
                    const vg_gref_t *refs, uint32_t count, int prot)
{
    for (uint32_t i = 0, j; i < count; i = j) {
        uint32_t first = d->grants[refs[i]].page;
        for (j = i + 1; j < count && d->grants[refs[j]].page == first + (j - i); j++)
            ;
        if (mmap((char *)base + (size_t)i * VG_PAGE_SIZE,
                 (size_t)(j - i) * VG_PAGE_SIZE, prot, MAP_SHARED | MAP_FIXED,
                 d->mem_fd, (off_t)first * VG_PAGE_SIZE) == MAP_FAILED)
            return -1;
    }
    return 0;
}

static void grant_release(struct fake_domain *d, vg_gref_t ref)
{
    if (d->grants[ref].state == GRANT_ACTIVE)
        d->live_grants--;
    page_free(d, d->grants[ref].page);
    memset(&d->grants[ref], 0, sizeof(d->grants[ref]));
}

/* Revoke: no new maps; the entry lives on while someone has it mapped. */
void grant_revoke(struct fake_domain *d, vg_gref_t ref)
{
    struct fake_grant *g = &d->grants[ref];

    if (g->state != GRANT_ACTIVE)
        return;
    if (g->map_count > 0) {
        g->state = GRANT_REVOKED;
        d->live_grants--;
    } else
        grant_release(d, ref);
}

static void grant_unmapped(struct fake_domain *d, vg_gref_t ref,
                           bool writable)
{
    struct fake_grant *g = &d->grants[ref];

    if (writable && g->map_rw_count > 0)
        g->map_rw_count--;
    if (g->map_count > 0) {
        g->map_count--;
        d->live_maps--;
    }
    if (g->state == GRANT_REVOKED && g->map_count == 0)
        grant_release(d, ref);
}

/* Sequential allocation: refs are not reused until the table wraps, which
 * makes a stale ref fail instead of reaching someone else's page. */
static int grant_alloc(struct fake_domain *d, vg_gref_t *ref)
{
    for (uint32_t i = d->grant_cursor; i < d->grant_cap; i++) {
        if (d->grants[i].state == GRANT_FREE) {
            d->grant_cursor = i + 1;
            *ref = i;
            return 0;
        }
    }
    if (d->grant_cap < FAKE_MAX_GRANTS) {
        uint32_t cap = d->grant_cap ? d->grant_cap * 2 : 256;
        if (cap > FAKE_MAX_GRANTS)
            cap = FAKE_MAX_GRANTS;
        struct fake_grant *g = realloc(d->grants, cap * sizeof(*g));
        if (!g)
            return -1;
        memset(g + d->grant_cap, 0, (cap - d->grant_cap) * sizeof(*g));
        *ref = d->grant_cap > FAKE_FIRST_REF ? d->grant_cap : FAKE_FIRST_REF;
        d->grants = g;
        d->grant_cap = cap;
        d->grant_cursor = *ref + 1;
        return 0;
    }
    for (uint32_t i = FAKE_FIRST_REF; i < d->grant_cap; i++) {
        if (d->grants[i].state == GRANT_FREE) {
            d->grant_cursor = i + 1;
            *ref = i;
            return 0;
        }
    }
    errno = ENOSPC;
    return -1;
}

/* The entry `ref` of d if it is live and granted to `grantee`; else NULL
 * with errno (ENOENT: no such live grant, EPERM: someone else's or
 * read-only when writable was asked).  On Xen a map batch with any such
 * ref fails as a whole as here, but always with EINVAL (Linux's gntdev
 * turns every refused ref's status into EINVAL from mmap): the fake keeps
 * the reason for the tests, so nothing may branch on this errno. */
static struct fake_grant *grant_lookup(struct fake_domain *d, vg_gref_t ref,
                                       uint16_t grantee, bool writable)
{
    if (ref < FAKE_FIRST_REF || ref >= d->grant_cap ||
        d->grants[ref].state != GRANT_ACTIVE) {
        errno = ENOENT;
        return NULL;
    }
    struct fake_grant *g = &d->grants[ref];
    if (g->grantee != grantee || (writable && !g->writable)) {
        errno = EPERM;
        return NULL;
    }
    return g;
}

void *fake_map_grants(struct vg_hyp *h, uint16_t domid, uint32_t count,
                             const vg_gref_t *refs, bool writable)
{
    struct fake_hyp *fh = fake_of(h);
    struct vg_fake_world *w = fh->world;
    struct fake_mapping *m = NULL;
    void *addr = MAP_FAILED;
    size_t len = (size_t)count * VG_PAGE_SIZE;
    int prot = writable ? PROT_READ | PROT_WRITE : PROT_READ;

    world_lock(w);
    if (!handle_alive(fh))
        goto fail;
    if (count == 0 || count > FAKE_MAX_BATCH_PAGES || !refs) {
        errno = EINVAL;
        goto fail;
    }
    struct fake_domain *granter = domain_find_any(w, domid);
    if (!granter) {
        errno = ESRCH;
        goto fail;
    }
    /* Check the whole batch before touching anything: all or nothing. */
    for (uint32_t i = 0; i < count; i++) {
        if (!grant_lookup(granter, refs[i], h->domid, writable)) {
            vg_debug("fake: dom %u cannot map ref %u of dom %u%s: %s",
                     h->domid, refs[i], domid, writable ? " writable" : "",
                     strerror(errno));
            goto fail;
        }
    }
    m = malloc(sizeof(*m) + count * sizeof(m->refs[0]));
    if (!m)
        goto fail;
    addr = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                -1, 0);
    if (addr == MAP_FAILED)
        goto fail;
    if (map_runs(addr, granter, refs, count, prot) < 0)
        goto fail;
    for (uint32_t i = 0; i < count; i++) {
        granter->grants[refs[i]].map_count++;
        granter->live_maps++;
        granter->grants[refs[i]].map_rw_count += writable;
    }
    memcpy(m->refs, refs, count * sizeof(m->refs[0]));
    m->writable = writable;
    m->addr = addr;
    m->count = count;
    m->granter = granter;
    m->next = fh->maps;
    fh->maps = m;
    h->counters.map_batches++;
    h->counters.maps += count;
    world_unlock(w);
    return addr;

fail:
    if (addr != MAP_FAILED) {
        int saved = errno;
        munmap(addr, len);
        errno = saved;
    }
    free(m);
    world_unlock(w);
    return NULL;
}

void mapping_release(struct fake_mapping *m)
{
    munmap(m->addr, (size_t)m->count * VG_PAGE_SIZE);
    for (uint32_t i = 0; i < m->count; i++)
        grant_unmapped(m->granter, m->refs[i], m->writable);
    free(m);
}

int fake_unmap_grants(struct vg_hyp *h, void *addr, uint32_t count)
{
    struct fake_hyp *fh = fake_of(h);
    struct vg_fake_world *w = fh->world;
    int ret = -1;

    world_lock(w);
    if (!handle_alive(fh))
        goto out;
    for (struct fake_mapping **pm = &fh->maps; *pm; pm = &(*pm)->next) {
        struct fake_mapping *m = *pm;
        if (m->addr == addr && m->count == count) {
            *pm = m->next;
            mapping_release(m);
            h->counters.unmap_batches++;
            h->counters.unmaps += count;
            ret = 0;
            goto out;
        }
    }
    errno = EINVAL;
out:
    world_unlock(w);
    return ret;
}

static int16_t copy_one(struct vg_fake_world *w, uint16_t self, struct vg_copy_seg *s)
{
    struct fake_domain *d = domain_find_any(w, s->domid);
    if (!d)
        return GNTST_bad_domain;
    if ((uint32_t)s->offset + s->len > VG_PAGE_SIZE)
        return GNTST_bad_copy_arg;
    if (s->len && !s->local)
        return GNTST_general_error;
    struct fake_grant *g = grant_lookup(d, s->ref, self, s->to_foreign);
    if (!g)
        return errno == EPERM ? GNTST_permission_denied : GNTST_bad_gntref;
    off_t off = (off_t)g->page * VG_PAGE_SIZE + s->offset;
    ssize_t n = s->to_foreign ? pwrite(d->mem_fd, s->local, s->len, off)
                              : pread(d->mem_fd, s->local, s->len, off);
    return n == (ssize_t)s->len ? GNTST_okay : GNTST_general_error;
}

int fake_grant_copy(struct vg_hyp *h, uint32_t count, struct vg_copy_seg *segs)
{
    struct fake_hyp *fh = fake_of(h);
    struct vg_fake_world *w = fh->world;
    int ret = -1;

    world_lock(w);
    if (!handle_alive(fh))
        goto out;
    if (count > FAKE_MAX_COPY_SEGS || (count && !segs)) {
        errno = EINVAL;
        goto out;
    }
    for (uint32_t i = 0; i < count; i++)
        segs[i].status = copy_one(w, h->domid, &segs[i]);
    h->counters.copy_batches++;
    h->counters.copies += count;
    ret = 0;
out:
    world_unlock(w);
    return ret;
}

void *fake_share_pages(struct vg_hyp *h, uint16_t domid, uint32_t count,
                              vg_gref_t *refs_out, bool writable)
{
    struct fake_hyp *fh = fake_of(h);
    struct vg_fake_world *w = fh->world;
    struct fake_domain *d = fh->dom;
    struct fake_share *s = NULL;
    void *addr = MAP_FAILED;
    size_t len = (size_t)count * VG_PAGE_SIZE;
    uint32_t done = 0;

    world_lock(w);
    if (!handle_alive(fh))
        goto fail;
    if (count == 0 || count > FAKE_MAX_BATCH_PAGES || !refs_out) {
        errno = EINVAL;
        goto fail;
    }
    s = malloc(sizeof(*s) + count * sizeof(s->refs[0]));
    if (!s)
        goto fail;
    addr = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                -1, 0);
    if (addr == MAP_FAILED)
        goto fail;
    for (done = 0; done < count; done++) {
        vg_gref_t ref;
        uint32_t page;
        if (grant_alloc(d, &ref) < 0)
            goto fail;
        if (page_alloc(d, &page) < 0)
            goto fail;
        d->grants[ref] = (struct fake_grant){
            .state = GRANT_ACTIVE, .grantee = domid, .writable = writable, .page = page,
        };
        d->live_grants++;
        s->refs[done] = ref;
    }
    if (map_runs(addr, d, s->refs, count, PROT_READ | PROT_WRITE) < 0)
        goto fail;
    memcpy(refs_out, s->refs, count * sizeof(s->refs[0]));
    s->addr = addr;
    s->count = count;
    s->next = fh->shares;
    fh->shares = s;
    h->counters.shares += count;
    world_unlock(w);
    return addr;

fail: {
        int saved = errno;
        if (addr != MAP_FAILED)
            munmap(addr, len);
        for (uint32_t i = 0; i < done; i++)
            grant_release(d, s->refs[i]);
        free(s);
        errno = saved;
    }
    world_unlock(w);
    return NULL;
}

void share_release(struct fake_domain *d, struct fake_share *s)
{
    munmap(s->addr, (size_t)s->count * VG_PAGE_SIZE);
    for (uint32_t i = 0; i < s->count; i++)
        grant_revoke(d, s->refs[i]);
    free(s);
}

int fake_unshare_pages(struct vg_hyp *h, void *addr, uint32_t count)
{
    struct fake_hyp *fh = fake_of(h);
    struct vg_fake_world *w = fh->world;
    int ret = -1;

    world_lock(w);
    if (!handle_alive(fh))
        goto out;
    for (struct fake_share **ps = &fh->shares; *ps; ps = &(*ps)->next) {
        struct fake_share *s = *ps;
        if (s->addr == addr && s->count == count) {
            *ps = s->next;
            share_release(fh->dom, s);
            h->counters.unshares += count;
            ret = 0;
            goto out;
        }
    }
    errno = EINVAL;
out:
    world_unlock(w);
    return ret;
}
