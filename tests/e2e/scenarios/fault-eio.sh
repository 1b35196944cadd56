#!/bin/sh
# fault-eio: the backing store returns EIO.  vgrantd serves a device-mapper
# device (linear over a loop device on tmpfs); in the middle of the guest's
# life dom0 swaps its table for the "error" target (vg-dm reload, the same
# as dmsetup reload + resume) and drops the page cache: the guest's reads,
# and its writes at the latest at the flush, fail with an I/O error that
# vgrant-io reports; vgrantd logs the failing read/write/flush and
# keeps serving.  Then the table goes back to linear: the same device
# verifies again, its data matches the image, detach releases everything
# (0 pages, 0 ports), vgrantd is alive and a second guest verifies.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fault.lib"
need_bin vgrantd vgrant vg-dm xl losetup cksum
need_guest_bin vgrant-io

dm_linear vgeio 32
sectors=$dm_sectors mm=$dm_mm

vgd_start
survivor_start
start_guest -k -m 128 eio remote || fail "xl create eio"
edom=$(guest_domid eio)
check "attach $dmdev to dom $edom" vgrant attach "$edom" "type=blk,target=$dmdev"

gcmd eio 200 "vgrant-io verify 0 --sizes 4K,64K,1M --count 4 --depth 4 --span 8M --seed 3" ||
    fail "verify before the fault failed"
gcmd eio 100 "vgrant-io write 0 --offset 8M --length 4M --seed 4" || fail "write before the fault failed"
before=$(echo "$GOUT" | sed -n 's/.*cksum //p')
sync
blockdev --flushbufs "$dmdev" 2>/dev/null

# --- the fault
check "swap $dmdev to the error target" vg-dm reload vgeio $sectors error
blockdev --flushbufs "$dmdev" 2>/dev/null
echo 3 >/proc/sys/vm/drop_caches
log "fault on: every read and write of $dmdev fails with EIO"
gcmd eio 100 "vgrant-io cksum 0 --offset 8M --length 4M" &&
    fail "a read of the failing device succeeded: $GOUT"
echo "$GOUT" | grep -qi 'error' || fail "the failed read reported no I/O error: $GOUT"
# whole pages: the writes land in dom0's page cache, the flush (fdatasync)
# must report that they never reached the device
gcmd eio 200 "vgrant-io verify 0 --sizes 64K --offsets 0,1M,2M,3M --depth 4 --seed 5" &&
    fail "verify on the failing device succeeded"
echo "$GOUT" | grep -q 'flush: Input/output error' || fail "the flush did not report the lost writes: $GOUT"
# sub-page writes need a read of the page first: they fail at once
gcmd eio 200 "vgrant-io verify 0 --sizes 4K --count 4 --depth 4 --span 8M --seed 15" &&
    fail "verify on the failing device succeeded"
echo "$GOUT" | grep -q 'write .*Input/output error' || fail "the failed write reported no I/O error: $GOUT"
bg_log vgrantd | grep "dom $edom dev 0: blk: \(read\|write\|flush\) of " | head -3 | sed 's/^/    vgrantd| /'
bg_log vgrantd | grep -q "dom $edom dev 0: blk: \(read\|write\|flush\) of .*Input/output error" ||
    fail "vgrantd did not log the EIO of the backing device"
bg_log vgrantd | grep "dom $edom dev 0: " | grep -q 'broken\|protocol violation\|closing the device' &&
    fail "vgrantd closed the device because of EIO"
vgd_alive
errs=$(vgrant stats "$edom" 0 --json | sed -n 's/.*"errors":\([0-9]*\).*/\1/p')
log "vgrant stats: $errs failed requests on dom $edom dev 0"
[ "${errs:-0}" -gt 0 ] || fail "vgrant stats counts no failed request"

# --- the fault clears
check "swap $dmdev back to linear" vg-dm reload vgeio $sectors linear "$mm 0"
log "fault off"
gcmd eio 100 "vgrant-io cksum 0 --offset 8M --length 4M" || fail "read after the fault cleared failed"
[ "$(echo "$GOUT" | tail -n1)" = "$before" ] ||
    fail "data written before the fault changed: '$before' -> '$(echo "$GOUT" | tail -n1)'"
after="vgrant-io verify 0 --sizes 4K,64K,1M --count 4 --depth 4 --span 8M --seed 6 && vgrant-io cksum 0 --offset 0 --length 8M"
if ! gcmd eio 200 "$after"; then
    # Linux reports a writeback error once per open file: a write the
    # fault lost after its flush can still show up at the first flush
    echo "$GOUT" | grep -q 'flush: Input/output error' ||
        fail "the device is not usable after the fault cleared"
    log "the first flush after the fault reported writes the fault lost; again"
    gcmd eio 200 "$after" || fail "the device is not usable after the fault cleared"
fi
gs=$(echo "$GOUT" | tail -n1)
sync
hs=$(img_cksum "$dmdev" 0 8)
[ "$gs" = "$hs" ] || fail "after the fault: guest cksum '$gs', dom0 cksum of $dmdev '$hs'"
log "ok: device usable again after the fault, data verified ($gs)"

survivor_verify "after the fault"
vgd_alive
check "detach dom $edom dev 0" vgrant detach "$edom" 0
released_ok "$edom" 0
stop_guest eio
vgrant detach "$sdom" 0 >/dev/null
released_ok "$sdom" 0
stop_guest survivor
cleanup_dm
log "all checks passed"
