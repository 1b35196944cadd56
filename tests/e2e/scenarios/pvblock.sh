#!/bin/sh
# pvblock: Xen's own PV block driver (blkback in dom0, blkfront in the
# domU) works in this environment -- the comparison point for virtio-grant.
# dom0 gives the guest a loop device as xvda; the guest writes 8 MiB of
# a pattern with O_DIRECT, reads it back, and publishes the checksum in
# xenstore; dom0 checks the same bytes landed in the backing file.
. "$(dirname "$0")/lib.sh"

need_bin xl losetup
dev=$(make_disk pv1 64) || fail "cannot create the backing disk"
log "backing device $dev"

start_guest -k pvb1 pvblock "disk = [ \"phy:$dev,xvda,w\" ]" || fail "xl create of guest pvb1 failed"
domid=$(guest_domid pvb1)
wait_guest pvb1 180
rc=$?
guest_log pvb1 | sed 's/^/    pvb1| /'
[ "$rc" = 0 ] || fail "guest job pvblock failed (rc $rc)"

want=$(xenstore-read "/local/domain/$domid/data/e2e-md5" 2>/dev/null) || fail "guest published no checksum"
got=$(dd if="$E2E_WORK/disk-pv1.img" bs=1M count=8 2>/dev/null | md5sum | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "backing file holds $got, the guest wrote $want"
log "ok: backing file checksum $got matches what the guest wrote"

stop_guest pvb1
drop_disk pv1
log "all checks passed"
