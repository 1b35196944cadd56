/* SPDX-License-Identifier: MIT */
/* The log capture of logcap.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "logcap.h"
#include "vgrant/log.h"

char lc_buf[LC_BYTES];
static size_t lc_len;

static void lc_sink(enum vg_log_level level, const char *msg, void *arg)
{
    int n;

    (void)level;
    (void)arg;
    n = snprintf(lc_buf + lc_len, sizeof(lc_buf) - lc_len, "%s\n", msg);
    if (n > 0 && (size_t)n < sizeof(lc_buf) - lc_len)
        lc_len += (size_t)n;
}

void lc_clear(void)
{
    lc_len = 0;
    lc_buf[0] = '\0';
}

void lc_start(void)
{
    vg_log_set_sink(lc_sink, NULL);
    lc_clear();
}

void lc_stop(void)
{
    vg_log_set_sink(NULL, NULL);
}

void lc_assert_has(const char *needle)
{
    if (!strstr(lc_buf, needle))
        fail_msg("log lacks \"%s\"; log:\n%s", needle, lc_buf);
}

void lc_print(void)
{
    fprintf(stderr, "log:\n%s", lc_buf);
}
