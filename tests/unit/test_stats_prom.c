/* SPDX-License-Identifier: MIT */
/* vgrant stats --prometheus: the control reply in the text exposition
 * format, and replies that must be refused whole. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vgrant/stats_prom.h"

/* Run the converter; *out gets what it wrote (caller frees). */
static int convert(const char *reply, char **out)
{
    size_t len = 0;
    FILE *f = open_memstream(out, &len);
    int rc;

    assert_non_null(f);
    rc = vg_stats_prometheus(reply, f);
    assert_int_equal(fclose(f), 0);
    return rc;
}

static void assert_line(const char *text, const char *line)
{
    char *want = malloc(strlen(line) + 3);

    assert_non_null(want);
    sprintf(want, "\n%s\n", line);
    if (!strstr(text, want) && strncmp(text, want + 1, strlen(want + 1)))
        fail_msg("line '%s' missing from:\n%s", line, text);
    free(want);
}

static void test_prom_two_devices(void **state)
{
    const char *reply =
        "ok 2\n"
        "device domid=5 devid=0 state=Connected mode=grant queues=1 requests=10 bytes_read=4096 live_mappings=3\n"
        "device domid=7 devid=2 state=InitWait mode=copy queues=2 requests=0 bytes_read=0 live_mappings=0\n"
        "end\n";
    char *out = NULL;

    (void)state;
    assert_int_equal(convert(reply, &out), 2);
    assert_line(out, "# TYPE vgrant_device_info gauge");
    assert_line(out, "vgrant_device_info{domid=\"5\",devid=\"0\",state=\"Connected\",mode=\"grant\"} 1");
    assert_line(out, "vgrant_device_info{domid=\"7\",devid=\"2\",state=\"InitWait\",mode=\"copy\"} 1");
    /* counters get _total, gauges do not */
    assert_line(out, "# TYPE vgrant_requests_total counter");
    assert_line(out, "vgrant_requests_total{domid=\"5\",devid=\"0\"} 10");
    assert_line(out, "vgrant_requests_total{domid=\"7\",devid=\"2\"} 0");
    assert_line(out, "# TYPE vgrant_bytes_read_total counter");
    assert_line(out, "vgrant_bytes_read_total{domid=\"5\",devid=\"0\"} 4096");
    assert_line(out, "# TYPE vgrant_live_mappings gauge");
    assert_line(out, "vgrant_live_mappings{domid=\"5\",devid=\"0\"} 3");
    assert_line(out, "# TYPE vgrant_queues gauge");
    assert_line(out, "vgrant_queues{domid=\"7\",devid=\"2\"} 2");
    /* a family's samples follow its TYPE line: both requests samples come
     * before the next family's HELP */
    {
        const char *t = strstr(out, "# TYPE vgrant_requests_total counter\n");
        const char *next = strstr(t + 1, "# HELP");
        const char *s7 = strstr(out, "vgrant_requests_total{domid=\"7\"");

        assert_non_null(next);
        assert_true(s7 > t && s7 < next);
    }
    /* each family declared once */
    assert_null(strstr(strstr(out, "# TYPE vgrant_requests_total") + 1, "# TYPE vgrant_requests_total"));
    free(out);
}

static void test_prom_no_device(void **state)
{
    char *out = NULL;

    (void)state;
    assert_int_equal(convert("ok 0\nend\n", &out), 0);
    assert_non_null(strstr(out, "# TYPE vgrant_device_info gauge\n"));
    assert_null(strstr(out, "vgrant_device_info{"));
    free(out);
}

/* a label value is escaped, never breaks the line */
static void test_prom_label_escaped(void **state)
{
    char *out = NULL;

    (void)state;
    assert_int_equal(convert("ok 1\ndevice domid=1 devid=0 state=a\"b\\c mode=x requests=1\nend\n", &out), 1);
    assert_line(out, "vgrant_device_info{domid=\"1\",devid=\"0\",state=\"a\\\"b\\\\c\",mode=\"x\"} 1");
    free(out);
}

static void test_hostile_prom_malformed_replies(void **state)
{
    static const char *const bad[] = {
        "",                                                     /* nothing */
        "error no such thing\n",                                /* an error */
        "ok 1\nend\n",                                          /* fewer devices */
        "ok 0\ndevice domid=1 devid=0 requests=1\nend\n",      /* more devices */
        "ok 1\ndevice domid=1 devid=0 requests=1\n",           /* no end */
        "ok 1\ndevice domid=1 devid=0 requests=1x\nend\n",     /* not a number */
        "ok 1\ndevice domid=1 devid=0 requests=-1\nend\n",     /* sign */
        "ok 1\ndevice domid=1 devid=0 Requests=1\nend\n",      /* bad metric name */
        "ok 1\ndevice domid=1 devid=0 req{x}=1\nend\n",        /* injection */
        "ok 1\ndevice domid=x devid=0 requests=1\nend\n",      /* bad domid */
        "ok 1\ndevice devid=0 requests=1\nend\n",              /* no domid */
        "ok 1\ndevice domid=1 devid=0 requests\nend\n",        /* no '=' */
        "ok 1\ndevice domid=1 devid=0 requests=\nend\n",       /* empty value */
        "ok 1\ndevice domid=1 devid=0 requests=123456789012345678901\nend\n", /* 21 digits */
        "ok 1\nnot a device\nend\n",
        "ok 1\ndevice domid=1 devid=0 requests=1\nend\ntrailing\n",
        "ok 99999999\nend\n",                                   /* absurd count */
        "ok 1 2\ndevice domid=1 devid=0 requests=1\nend\n",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *out = NULL;

        errno = 0;
        if (convert(bad[i], &out) != -1)
            fail_msg("reply %zu accepted: %s", i, bad[i]);
        assert_int_equal(errno, EPROTO);
        /* nothing written for a refused reply */
        assert_string_equal(out, "");
        free(out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prom_two_devices),
        cmocka_unit_test(test_prom_no_device),
        cmocka_unit_test(test_prom_label_escaped),
        cmocka_unit_test(test_hostile_prom_malformed_replies),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
