/* SPDX-License-Identifier: MIT */
/*
 * fuzz_xport: the static-region transport (backend/xport_static.c: the
 * region-pages / region-refs-<k> keys, offsets checked against the region)
 * and the persistent mapping cache (backend/xport_persistent.c: LRU of
 * single-page mappings, bound 1..8 pages so eviction and the strict
 * overflow path run constantly), served by the whole vgrantd.  Engine and
 * checked invariants: fz_backend.c (mappings never exceed rings + region
 * or rings + cache bound; none left after close).
 */
#include "fz_backend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fzb_run(data, size, FZB_STATIC | FZB_PERSISTENT);
    return 0;
}
