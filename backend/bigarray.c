/* SPDX-License-Identifier: MIT */
/* Large zeroed arrays between a mapping's start and a guard page, see
 * bigarray.h. */
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bigarray.h"

static size_t host_page(void)
{
    long pg = sysconf(_SC_PAGESIZE);

    return pg > 0 ? (size_t)pg : 4096;
}

/* Bytes of the mapping for an array of bytes: whole pages, plus the
 * guard; 0 on overflow. */
static size_t span_for(size_t bytes, size_t g)
{
    size_t pages = bytes / g + (bytes % g != 0);

    if (pages >= SIZE_MAX / g)
        return 0;
    return (pages + 1) * g;
}

void *vgd_big_calloc(size_t nmemb, size_t size)
{
    size_t g = host_page(), bytes, span;
    uint8_t *p;

    if (nmemb == 0 || size == 0) {
        errno = EINVAL;
        return NULL;
    }
    if (nmemb > SIZE_MAX / size || !(span = span_for(nmemb * size, g))) {
        errno = ENOMEM;
        return NULL;
    }
    bytes = nmemb * size;
    p = mmap(NULL, span, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        errno = ENOMEM;
        return NULL;
    }
    if (mprotect(p + span - g, g, PROT_NONE)) {
        munmap(p, span);
        errno = ENOMEM;
        return NULL;
    }
    return p + span - g - bytes;
}

void vgd_big_free(void *p, size_t nmemb, size_t size)
{
    size_t g = host_page(), span;
    uintptr_t base;

    if (!p)
        return;
    span = span_for(nmemb * size, g);
    base = (uintptr_t)p & ~(uintptr_t)(g - 1);
    munmap((void *)base, span);
}
