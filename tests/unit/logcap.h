/* SPDX-License-Identifier: MIT */
/*
 * What the code under test logs, kept for assertions: a vg_log sink into
 * one buffer, shared by the tests that check log lines.
 */
#ifndef VGRANT_TEST_LOGCAP_H
#define VGRANT_TEST_LOGCAP_H

#define LC_BYTES 32768

/* The lines logged since lc_start / lc_clear, each ending in '\n' (what
 * does not fit is dropped). */
extern char lc_buf[LC_BYTES];

/* Route vg_log to the buffer, emptied. */
void lc_start(void);
/* Back to vg_log's own output. */
void lc_stop(void);
void lc_clear(void);
/* Fail the test unless the buffer holds needle. */
void lc_assert_has(const char *needle);
/* The buffer on stderr (a vd_on_fail hook). */
void lc_print(void);

#endif /* VGRANT_TEST_LOGCAP_H */
