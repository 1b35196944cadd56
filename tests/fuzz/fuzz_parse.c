/* SPDX-License-Identifier: MIT */
/* fuzz_parse: the strict xenstore value parsers alone (see fuzz_xenstore.c,
 * which this file builds with FZ_PARSERS_ONLY). */
#define FZ_PARSERS_ONLY 1
#include "fuzz_xenstore.c"
