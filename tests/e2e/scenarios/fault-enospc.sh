#!/bin/sh
# fault-enospc: the backing store is full.  The image is a 32 MiB sparse
# file on a 6 MiB tmpfs: writes into holes fail with ENOSPC once the tmpfs
# is full, which the guest sees as an I/O error (vgrant-io write fails),
# while reads and writes of blocks already allocated keep working and
# vgrantd keeps serving.  After the tmpfs grows, the same writes succeed
# and the data verifies; detach releases everything, vgrantd is alive, a
# second guest verifies.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fault.lib"
need_bin vgrantd vgrant xl cksum
need_guest_bin vgrant-io

mnt=$E2E_WORK/small
mkdir -p "$mnt"
mount -t tmpfs -o size=6m tmpfs "$mnt" || fail "cannot mount a small tmpfs"
img=$mnt/sparse.img
dd if=/dev/zero of="$img" bs=1M count=0 seek=32 2>/dev/null || fail "cannot create $img"
log "sparse 32 MiB image on a 6 MiB tmpfs: $(du -k "$img" | cut -f1) KiB allocated"

vgd_start
survivor_start
start_guest -k -m 128 enospc remote || fail "xl create enospc"
ndom=$(guest_domid enospc)
check "attach $img to dom $ndom" vgrant attach "$ndom" "type=blk,target=$img"

gcmd enospc 200 "vgrant-io verify 0 --sizes 4K,64K --count 8 --depth 4 --span 4M --seed 7" ||
    fail "verify inside the first 4 MiB failed"
gcmd enospc 100 "vgrant-io write 0 --offset 0 --length 4M --seed 8" || fail "writing the first 4 MiB failed"
first=$(echo "$GOUT" | sed -n 's/.*cksum //p')
log "allocated: $(du -k "$img" | cut -f1) KiB; tmpfs: $(df -k "$mnt" | tail -n1)"

# --- the fault: 8 MiB more cannot fit
gcmd enospc 200 "vgrant-io write 0 --offset 16M --length 8M --seed 9" &&
    fail "writing 8 MiB more into a full 6 MiB tmpfs succeeded"
echo "$GOUT" | grep -qi 'error' || fail "the failed write reported no I/O error: $GOUT"
bg_log vgrantd | grep "dom $ndom dev 0: blk: write of " | head -2 | sed 's/^/    vgrantd| /'
bg_log vgrantd | grep -q "dom $ndom dev 0: blk: write of .*No space left on device" ||
    fail "vgrantd did not log ENOSPC"
log "tmpfs now: $(df -k "$mnt" | tail -n1)"
vgd_alive
# nothing else broke: allocated blocks still read and write
gcmd enospc 100 "vgrant-io cksum 0 --offset 0 --length 4M" || fail "reading allocated blocks failed on a full store"
[ "$(echo "$GOUT" | tail -n1)" = "$first" ] || fail "data of the first 4 MiB changed"
gcmd enospc 200 "vgrant-io verify 0 --sizes 4K,64K --count 8 --depth 4 --span 4M --seed 10" ||
    fail "verify of allocated blocks failed on a full store"
# an I/O error is an answer, not a protocol violation: the device is never
# closed by the backend for it (each session above ended with the guest's
# own close)
bg_log vgrantd | grep "dom $ndom dev 0: " | grep -q 'broken\|protocol violation\|closing the device' &&
    fail "vgrantd closed the device because of ENOSPC"
survivor_verify "while the other store is full"

# --- space again
mount -o remount,size=64m "$mnt" || fail "cannot grow the tmpfs"
log "tmpfs grown to 64 MiB"
gcmd enospc 200 "vgrant-io write 0 --offset 16M --length 8M --seed 9" || fail "write after the store has room again failed"
want=$(echo "$GOUT" | sed -n 's/.*cksum //p')
have=$(img_cksum "$img" 16 8)
[ "$want" = "$have" ] || fail "after ENOSPC cleared: guest wrote '$want', image holds '$have'"
log "ok: the write that failed with ENOSPC succeeds once there is room ($have)"

vgd_alive
check "detach dom $ndom dev 0" vgrant detach "$ndom" 0
released_ok "$ndom" 0
stop_guest enospc
vgrant detach "$sdom" 0 >/dev/null
released_ok "$sdom" 0
stop_guest survivor
umount "$mnt"
log "all checks passed"
