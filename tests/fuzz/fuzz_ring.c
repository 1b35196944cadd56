/* SPDX-License-Identifier: MIT */
/*
 * fuzz_ring: the device-side ring walker (common/virtqueue.c vq_dev_*)
 * with the blk model (backend/blk.c), served by the whole vgrantd in the
 * strict transport modes grant, copy and auto, against a guest whose ring
 * memory, descriptors, buffers and xenbus states the fuzzer writes.
 * Engine and checked invariants: fz_backend.c.
 */
#include "fz_backend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fzb_run(data, size, FZB_GRANT | FZB_COPY | FZB_AUTO);
    return 0;
}
