/* SPDX-License-Identifier: MIT */
/* vgrantd operations: its command line, the options file a reload
 * re-reads (vgd_opts.h), and journal priorities on stderr (log.h). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "control.h"
#include "vgd_opts.h"
#include "vgrant/log.h"

static enum vgd_parse_result parse(struct vgd_cmdline *c, char *err, ...)
{
    char *argv[32];
    int argc = 0;
    va_list ap;

    argv[argc++] = "vgrantd";
    va_start(ap, err);
    for (char *a; (a = va_arg(ap, char *)) && argc < 31;)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    err[0] = '\0';
    return vgd_cmdline_parse(argc, argv, c, err, 256);
}

static void test_cmdline_defaults_and_every_option(void **state)
{
    struct vgd_cmdline c;
    char err[256];

    (void)state;
    assert_int_equal(parse(&c, err, NULL), VGD_PARSE_OK);
    assert_false(c.foreground);
    assert_int_equal(c.level, VG_LOG_INFO);
    assert_string_equal(c.control_path, VGD_CONTROL_DEFAULT_PATH);
    assert_null(c.options_file);
    assert_int_equal(c.opts.budget_per_queue, 0);
    assert_int_equal(c.opts.io_mode, VGD_IO_URING);
    assert_int_equal(c.opts.coalesce_ms, VGD_DEFAULT_COALESCE_MS);

    assert_int_equal(parse(&c, err, "-F", "-l", "debug", "-p", "/run/v.pid",
                           "-b", "32", "--byte-budget", "65536", "-d", "7",
                           "-c", "none", "--auto-threshold", "8192",
                           "--persistent-cache", "64", "--options-file",
                           "/etc/default/vgrantd", "--io", "sync",
                           "--direct", "--coalesce-ms", "0", NULL),
                     VGD_PARSE_OK);
    assert_int_equal(c.opts.coalesce_ms, 0);
    assert_int_equal(c.opts.io_mode, VGD_IO_SYNC);
    assert_true(c.opts.direct);
    assert_true(c.foreground);
    assert_int_equal(c.level, VG_LOG_DEBUG);
    assert_string_equal(c.pidfile, "/run/v.pid");
    assert_int_equal(c.opts.budget_per_queue, 32);
    assert_int_equal(c.opts.byte_budget_per_queue, 65536);
    assert_int_equal(c.opts.backend_domid_override_or_0, 7);
    assert_null(c.control_path);
    assert_int_equal(c.opts.auto_threshold, 8192);
    assert_int_equal(c.opts.persistent_cache_pages, 64);
    assert_string_equal(c.options_file, "/etc/default/vgrantd");
    /* parsing again starts over (a reload parses a second time) */
    assert_int_equal(parse(&c, err, "--budget", "8", NULL), VGD_PARSE_OK);
    assert_int_equal(c.opts.budget_per_queue, 8);
    assert_false(c.foreground);
    assert_int_equal(parse(&c, err, "-h", NULL), VGD_PARSE_HELP);
    assert_int_equal(parse(&c, err, "--version", NULL), VGD_PARSE_VERSION);
}

static void test_cmdline_errors_say_what(void **state)
{
    struct vgd_cmdline c;
    char err[256];

    (void)state;
    assert_int_equal(parse(&c, err, "--budget", "0", NULL), VGD_PARSE_ERROR);
    assert_non_null(strstr(err, "--budget '0'"));
    assert_int_equal(parse(&c, err, "--byte-budget", "4095", NULL), VGD_PARSE_ERROR);
    assert_non_null(strstr(err, "--byte-budget '4095'"));
    assert_int_equal(parse(&c, err, "--io", "aio", NULL), VGD_PARSE_ERROR);
    assert_non_null(strstr(err, "--io 'aio': expected uring or sync"));
    assert_int_equal(parse(&c, err, "--coalesce-ms", "101", NULL), VGD_PARSE_ERROR);
    assert_non_null(strstr(err, "--coalesce-ms '101': expected milliseconds in [0, 100]"));
    assert_int_equal(parse(&c, err, "--coalesce-ms", "2ms", NULL), VGD_PARSE_ERROR);
    assert_non_null(strstr(err, "--coalesce-ms '2ms'"));
    assert_int_equal(parse(&c, err, "-l", "loud", NULL), VGD_PARSE_ERROR);
    assert_non_null(strstr(err, "--log-level 'loud'"));
    assert_int_equal(parse(&c, err, "--frobnicate", NULL), VGD_PARSE_ERROR);
    assert_non_null(strstr(err, "--frobnicate"));
    assert_int_equal(parse(&c, err, "--budget", NULL), VGD_PARSE_ERROR);
    assert_int_equal(parse(&c, err, "extra", NULL), VGD_PARSE_ERROR);
    assert_non_null(strstr(err, "unexpected argument 'extra'"));
    /* a value with control characters is escaped in the message */
    assert_int_equal(parse(&c, err, "-l", "a\nb", NULL), VGD_PARSE_ERROR);
    assert_null(strchr(err, '\n'));
}

static char *write_file(const char *text)
{
    static char path[64];
    int fd;

    snprintf(path, sizeof(path), "/tmp/vgd-opts-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

/* parse text as an options file: 0 or -1, err filled */
static int parse_file(const char *text, struct vgd_cmdline *c, char *err)
{
    char *path = write_file(text), *words = NULL;
    int rc;

    err[0] = '\0';
    rc = vgd_options_file_parse(path, c, &words, err, 512);
    free(words);               /* the tests read no string of c */
    unlink(path);
    return rc;
}

static void test_options_file_default_format(void **state)
{
    struct vgd_cmdline c;
    char err[512];

    (void)state;
    assert_int_equal(parse_file("# comment\nVGRANTD_OPTS=\"--log-level debug --budget 32\"\n",
                                &c, err), 0);
    assert_int_equal(c.level, VG_LOG_DEBUG);
    assert_int_equal(c.opts.budget_per_queue, 32);
    /* single quotes, tabs, no final newline, the last line wins */
    assert_int_equal(parse_file("VGRANTD_OPTS='--budget 9'\n  VGRANTD_OPTS='--budget\t10 --auto-threshold 4096'",
                                &c, err), 0);
    assert_int_equal(c.opts.budget_per_queue, 10);
    assert_int_equal(c.opts.auto_threshold, 4096);
    /* unquoted, and empty */
    assert_int_equal(parse_file("VGRANTD_OPTS=--byte-budget=8192\n", &c, err), 0);
    assert_int_equal(c.opts.byte_budget_per_queue, 8192);
    assert_int_equal(parse_file("VGRANTD_OPTS=\"\"\n", &c, err), 0);
    assert_int_equal(c.opts.budget_per_queue, 0);
    assert_int_equal(c.level, VG_LOG_INFO);
    /* no VGRANTD_OPTS line at all: the defaults */
    assert_int_equal(parse_file("# VGRANTD_OPTS=\"--budget 3\"\nOTHER=1\n", &c, err), 0);
    assert_int_equal(c.opts.budget_per_queue, 0);
}

static void test_hostile_options_file_refused_with_place(void **state)
{
    static const char *const bad[] = {
        "VGRANTD_OPTS=\"--budget $BUDGET\"\n",       /* no expansion */
        "VGRANTD_OPTS=\"--budget `echo 3`\"\n",
        "VGRANTD_OPTS=\"--budget \\\"3\\\"\"\n",
        "VGRANTD_OPTS=\"--budget 3\n",               /* unbalanced */
        "VGRANTD_OPTS=\"--frobnicate\"\n",
        "VGRANTD_OPTS=\"--budget 0\"\n",
        "VGRANTD_OPTS=\"--help\"\n",
        "VGRANTD_OPTS=\"stray\"\n",
    };
    struct vgd_cmdline c;
    char err[512], *words = NULL;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parse_file(bad[i], &c, err) != -1)
            fail_msg("accepted: %s", bad[i]);
        /* the message names the file and the line */
        if (!strstr(err, "/tmp/vgd-opts-") || !strstr(err, ":1: VGRANTD_OPTS"))
            fail_msg("message without file:line for %s: %s", bad[i], err);
    }
    /* too many words */
    {
        char text[1024] = "VGRANTD_OPTS=\"";

        for (int i = 0; i < 40; i++)
            strcat(text, "-F -F ");
        strcat(text, "\"\n");
        assert_int_equal(parse_file(text, &c, err), -1);
        assert_non_null(strstr(err, "more than"));
    }
    /* a line longer than the limit */
    {
        size_t n = VGD_OPTS_FILE_MAX_LINE + 100;
        char *text = malloc(n + 2);

        assert_non_null(text);
        memset(text, 'x', n);
        memcpy(text, "VGRANTD_OPTS=", 13);
        text[n] = '\n';
        text[n + 1] = '\0';
        assert_int_equal(parse_file(text, &c, err), -1);
        assert_non_null(strstr(err, "longer than"));
        free(text);
    }
    assert_int_equal(vgd_options_file_parse("/nonexistent/vgrantd", &c, &words,
                                            err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/nonexistent/vgrantd: "));
    assert_null(words);
}

/* stderr into a file whose device:inode JOURNAL_STREAM names, or not */
static char *log_through_stderr(const char *journal_stream)
{
    char path[] = "/tmp/vgd-journal-XXXXXX", env[64];
    int fd = mkstemp(path), saved = dup(2);
    struct stat st;
    static char out[512];
    ssize_t n;

    assert_true(fd >= 0 && saved >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    if (journal_stream && !strcmp(journal_stream, "match")) {
        snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
                 (unsigned long long)st.st_ino);
        setenv("JOURNAL_STREAM", env, 1);
    } else if (journal_stream) {
        setenv("JOURNAL_STREAM", journal_stream, 1);
    } else {
        unsetenv("JOURNAL_STREAM");
    }
    fflush(stderr);
    assert_int_equal(dup2(fd, 2), 2);
    vg_log_detect_journal();
    vg_log_set_level(VG_LOG_INFO);
    vg_err("dom 5 dev 0: bad ring");
    vg_info("started");
    fflush(stderr);
    assert_int_equal(dup2(saved, 2), 2);
    close(saved);
    n = pread(fd, out, sizeof(out) - 1, 0);
    assert_true(n > 0);
    out[n] = '\0';
    close(fd);
    unlink(path);
    unsetenv("JOURNAL_STREAM");
    vg_log_detect_journal();
    vg_log_set_level(VG_LOG_ERR);
    return out;
}

static void test_journal_priorities(void **state)
{
    (void)state;
    assert_string_equal(log_through_stderr("match"),
                        "<3>test_vgrantd_ops: error: dom 5 dev 0: bad ring\n"
                        "<6>test_vgrantd_ops: info: started\n");
    /* not the journal: the plain format */
    assert_string_equal(log_through_stderr(NULL),
                        "test_vgrantd_ops: error: dom 5 dev 0: bad ring\n"
                        "test_vgrantd_ops: info: started\n");
    assert_string_equal(log_through_stderr("1:2"),
                        "test_vgrantd_ops: error: dom 5 dev 0: bad ring\n"
                        "test_vgrantd_ops: info: started\n");
    assert_string_equal(log_through_stderr("garbage"),
                        "test_vgrantd_ops: error: dom 5 dev 0: bad ring\n"
                        "test_vgrantd_ops: info: started\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cmdline_defaults_and_every_option),
        cmocka_unit_test(test_cmdline_errors_say_what),
        cmocka_unit_test(test_options_file_default_format),
        cmocka_unit_test(test_hostile_options_file_refused_with_place),
        cmocka_unit_test(test_journal_priorities),
    };

    vg_log_init("test_vgrantd_ops", VG_LOG_ERR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
