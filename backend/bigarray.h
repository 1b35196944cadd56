/* SPDX-License-Identifier: MIT */
/*
 * The large per-queue arrays sized for the worst case at connect (a
 * round's grant refs, copy segments and iovecs: hundreds of KiB to a few
 * MiB per queue, most of it never touched): each in an anonymous mapping
 * of its own, zeroed and lazily backed, ending exactly at an inaccessible
 * guard page, so that running past the end faults at once, in production
 * too.  Unlike calloc, a sanitizer build does not poison and unpoison the
 * shadow of the whole size (with page faults, madvise and munmap) on every
 * queue set-up and tear-down: that was the largest cost of the fuzz
 * harnesses that connect a queue per input (tests/fuzz/README.md "Speed").
 */
#ifndef VGRANT_BACKEND_BIGARRAY_H
#define VGRANT_BACKEND_BIGARRAY_H

#include <stddef.h>

/* nmemb zeroed elements of size bytes, or NULL (errno ENOMEM; EINVAL for
 * an empty array).  size must be a multiple of the element's alignment
 * (sizeof always is): the array ends at the guard page. */
void *vgd_big_calloc(size_t nmemb, size_t size);
/* Free what vgd_big_calloc(nmemb, size) returned; NULL is a no-op. */
void vgd_big_free(void *p, size_t nmemb, size_t size);

#endif
