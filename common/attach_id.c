/* SPDX-License-Identifier: MIT */
/* The attach-id key: generation and validation (attach_id.h). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "vgrant/attach_id.h"

int vg_attach_id_new(char *buf, size_t size)
{
    uint8_t raw[16];
    size_t got = 0;

    if (size < 2 * sizeof(raw) + 1) {
        errno = EINVAL;
        return -1;
    }
    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        got += (size_t)n;
    }
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(buf + 2 * i, 3, "%02x", raw[i]);
    return 0;
}

bool vg_attach_id_valid(const char *v)
{
    size_t n;

    if (!v)
        return false;
    n = strlen(v);
    if (n == 0 || n > VG_MAX_ATTACH_ID)
        return false;
    return strspn(v, "0123456789abcdef-") == n;
}
