/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vgrant/xsutil.h"

int vg_path(char *buf, unsigned size, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    if (n < 0 || (unsigned)n >= size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

int vg_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;

    if (!s || !*s || strlen(s) > 20)
        goto bad;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            goto bad;
        if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10) {
            errno = ERANGE;
            return -1;
        }
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v > max) {
        errno = ERANGE;
        return -1;
    }
    *out = v;
    return 0;
bad:
    errno = EINVAL;
    return -1;
}

int vg_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int vg_parse_hex64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    size_t n;

    if (!s || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
        goto bad;
    s += 2;
    n = strlen(s);
    if (n == 0 || n > 16)
        goto bad;
    for (; *s; s++) {
        int d = vg_hex_digit(*s);

        if (d < 0)
            goto bad;
        v = (v << 4) | (unsigned)d;
    }
    *out = v;
    return 0;
bad:
    errno = EINVAL;
    return -1;
}

int vg_parse_ref_list(const char *s, uint32_t *refs, unsigned count)
{
    char one[12];
    uint64_t v;

    if (!s || count == 0)
        goto bad;
    for (unsigned i = 0; i < count; i++) {
        size_t n = strcspn(s, " ");
        if (n == 0 || n >= sizeof(one))
            goto bad;
        memcpy(one, s, n);
        one[n] = '\0';
        if (vg_parse_uint(one, UINT32_MAX, &v))
            goto bad;
        refs[i] = (uint32_t)v;
        s += n;
        if (i + 1 < count) {
            if (*s != ' ')
                goto bad;       /* too few refs */
            s++;
        }
    }
    if (*s == '\0')
        return 0;               /* else: junk or too many refs */
bad:
    errno = EINVAL;
    return -1;
}

int vg_format_ref_list(char *buf, size_t size, const uint32_t *refs,
                       unsigned count)
{
    size_t used = 0;

    if (size == 0)
        goto too_big;
    buf[0] = '\0';
    for (unsigned i = 0; i < count; i++) {
        int n = snprintf(buf + used, size - used, i ? " %u" : "%u", refs[i]);
        if (n < 0 || (size_t)n >= size - used)
            goto too_big;
        used += (size_t)n;
    }
    return 0;
too_big:
    errno = E2BIG;
    return -1;
}

int vg_parse_size(const char *s, uint64_t *out)
{
    char digits[24];
    size_t n;
    unsigned shift = 0;
    uint64_t v;

    if (!s || !*s)
        goto bad;
    n = strlen(s);
    switch (s[n - 1]) {
    case 'k': case 'K': shift = 10; n--; break;
    case 'm': case 'M': shift = 20; n--; break;
    case 'g': case 'G': shift = 30; n--; break;
    default: break;
    }
    if (n == 0 || n >= sizeof(digits))
        goto bad;
    memcpy(digits, s, n);
    digits[n] = '\0';
    if (vg_parse_uint(digits, UINT64_MAX >> shift, &v))
        return -1;
    *out = v << shift;
    return 0;
bad:
    errno = EINVAL;
    return -1;
}

char *vg_xs_read_str(struct vg_hyp *h, vg_xs_tx_t tx, const char *dir,
                     const char *key)
{
    char path[VG_XS_PATH_MAX];
    unsigned len = 0;
    char *v;

    if (vg_path(path, sizeof(path), "%s/%s", dir, key))
        return NULL;
    v = h->ops->xs_read(h, tx, path, &len);
    if (!v)
        return NULL;
    if (len > VG_MAX_XS_VALUE || strlen(v) != len) {
        /* too long, or an embedded NUL: neither is a value we wrote */
        free(v);
        errno = len > VG_MAX_XS_VALUE ? E2BIG : EINVAL;
        return NULL;
    }
    return v;
}

int vg_xs_read_uint(struct vg_hyp *h, vg_xs_tx_t tx, const char *dir,
                    const char *key, uint64_t max, uint64_t *out)
{
    char *v = vg_xs_read_str(h, tx, dir, key);
    int rc;

    if (!v)
        return -1;
    rc = vg_parse_uint(v, max, out);
    free(v);
    return rc;
}

int vg_xs_read_hex64(struct vg_hyp *h, vg_xs_tx_t tx, const char *dir,
                     const char *key, uint64_t *out)
{
    char *v = vg_xs_read_str(h, tx, dir, key);
    int rc;

    if (!v)
        return -1;
    rc = vg_parse_hex64(v, out);
    free(v);
    return rc;
}

int vg_xs_write_fmt(struct vg_hyp *h, vg_xs_tx_t tx, const char *dir,
                    const char *key, const char *fmt, ...)
{
    char path[VG_XS_PATH_MAX];
    char val[VG_MAX_XS_VALUE + 1];
    va_list ap;
    int n;

    if (vg_path(path, sizeof(path), "%s/%s", dir, key))
        return -1;
    va_start(ap, fmt);
    n = vsnprintf(val, sizeof(val), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(val)) {
        errno = E2BIG;
        return -1;
    }
    return h->ops->xs_write(h, tx, path, val);
}

enum vg_xenbus_state vg_xs_read_state(struct vg_hyp *h, const char *dir)
{
    uint64_t v;

    if (vg_xs_read_uint(h, VG_XS_NO_TX, dir, VG_KEY_STATE, VG_XB_RECONFIGURED, &v))
        return VG_XB_UNKNOWN;
    return (enum vg_xenbus_state)v;
}

int vg_xs_write_state(struct vg_hyp *h, const char *dir, enum vg_xenbus_state s)
{
    return vg_xs_write_fmt(h, VG_XS_NO_TX, dir, VG_KEY_STATE, "%u", (unsigned)s);
}

const char *vg_xenbus_state_name(unsigned s)
{
    static const char *const names[] = {
        "Unknown", "Initialising", "InitWait", "Initialised", "Connected",
        "Closing", "Closed", "Reconfiguring", "Reconfigured",
    };
    return s < sizeof(names) / sizeof(names[0]) ? names[s] : "Invalid";
}

void vg_copy_trunc(char *dst, size_t size, const char *src)
{
    size_t l;

    if (!dst || size == 0)
        return;
    l = strlen(src);
    if (l >= size)
        l = size - 1;
    memcpy(dst, src, l);
    dst[l] = '\0';
}

int vg_xs_transact(struct vg_hyp *h, vg_xs_tx_fn fn, void *arg,
                   unsigned *attempts)
{
    unsigned n = 0;
    int rc;

    for (;;) {
        vg_xs_tx_t tx = h->ops->xs_tx_start(h);
        int err;

        n++;
        if (attempts)
            *attempts = n;
        if (tx == VG_XS_NO_TX) {
            if (errno == 0)
                errno = EIO;
            return -1;
        }
        rc = fn(h, tx, arg);
        if (rc != 0) {
            err = errno;
            h->ops->xs_tx_end(h, tx, true);
            errno = err;
            if (rc > 0)
                return rc;
            if (err != EAGAIN || n >= VG_XS_TX_ATTEMPTS)
                return -1;
            continue;
        }
        if (h->ops->xs_tx_end(h, tx, false) == 0)
            return 0;
        if (errno != EAGAIN || n >= VG_XS_TX_ATTEMPTS)
            return -1;
    }
}

void vg_errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || !errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}
