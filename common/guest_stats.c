/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vgrant/guest_stats.h"
#include "vgrant/xsutil.h"

static const struct {
    const char *name;
    size_t off;
} fields[] = {
#define F(n, f) { n, offsetof(struct vg_guest_stats, f) }
    F("requests", requests), F("completed", completed), F("failed", failed),
    F("pages-shared", pages_shared), F("throttle-waits", throttle_waits),
    F("region-high-water", region_high_water),
    F("bounce-bytes", bounce_bytes), F("zero-copy-bytes", zero_copy_bytes),
#undef F
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

static uint64_t *field(struct vg_guest_stats *s, unsigned i)
{
    return (uint64_t *)((char *)s + fields[i].off);
}

int vg_format_guest_stats(char *buf, size_t size, const struct vg_guest_stats *s)
{
    size_t used = 0;

    for (unsigned i = 0; i < NFIELDS; i++) {
        int n = snprintf(buf + used, size - used, "%s%s=%llu", i ? " " : "",
                         fields[i].name,
                         (unsigned long long)*field((struct vg_guest_stats *)s, i));
        if (n < 0 || (size_t)n >= size - used) {
            errno = E2BIG;
            return -1;
        }
        used += (size_t)n;
    }
    return 0;
}

int vg_parse_guest_stats(const char *line, struct vg_guest_stats *s,
                         const char **bad)
{
    struct vg_guest_stats out = { 0 };
    unsigned seen = 0;            /* bit per field */
    const char *p = line;
    char word[48];

    if (!line || !*line)
        goto fail;
    while (*p) {
        size_t n = strcspn(p, " ");
        const char *eq;
        unsigned i;

        if (n == 0 || n >= sizeof(word))
            goto fail;
        memcpy(word, p, n);
        word[n] = '\0';
        eq = strchr(word, '=');
        if (!eq)
            goto fail;
        for (i = 0; i < NFIELDS; i++)
            if (strlen(fields[i].name) == (size_t)(eq - word) &&
                !strncmp(word, fields[i].name, (size_t)(eq - word)))
                break;
        if (i == NFIELDS || (seen & (1u << i)) ||
            vg_parse_uint(eq + 1, UINT64_MAX, field(&out, i)))
            goto fail;
        seen |= 1u << i;
        p += n;
        if (*p == ' ') {
            p++;
            if (!*p)
                goto fail;        /* trailing space */
        }
    }
    if (seen != (1u << NFIELDS) - 1) {
        p = line;                 /* a name is missing */
        goto fail;
    }
    *s = out;
    return 0;
fail:
    if (bad)
        *bad = p;
    errno = EINVAL;
    return -1;
}
