#!/bin/sh
# demo: the README's main job, in one guest.  vgrantd serves a 64 MiB image
# in dom0; `vgrant attach` gives it to a PV domU as virtio-grant device 0;
# the guest writes and verifies patterns of 4 KiB to 1 MiB through
# per-request grants, and dom0 checks the backing file independently.
# Lines starting with "DEMO:" make the summary demo.sh prints.
. "$(dirname "$0")/lib.sh"
need_bin vgrantd vgrant xl cksum
need_guest_bin vgrant-io

img=$E2E_WORK/demo.img
dd if=/dev/zero of="$img" bs=1M count=64 2>/dev/null || fail "cannot create $img"
start_vgrantd vgrantd --log-level info
start_guest -k -m 128 -a seed=42 -a span=32M -a cksum=1 -a sizes=4K,64K,1M -a count=16 -a depth=8 demo1 blk-verify ||
    fail "xl create demo1 failed"
dom=$(guest_domid demo1)
check "vgrant attach $dom type=blk,target=$img" vgrant attach "$dom" "type=blk,target=$img"
wait_guest demo1 300
rc=$?
[ "$rc" = 0 ] || { guest_log demo1; bg_log vgrantd | tail; fail "guest job failed (rc $rc)"; }

gs=$(guest_log demo1 | sed -n 's/^GUEST-CKSUM //p' | tail -1)
hs=$(dd if="$img" bs=1M count=32 2>/dev/null | cksum)
[ -n "$gs" ] && [ "$gs" = "$hs" ] || fail "checksums differ: guest '$gs' dom0 '$hs'"

xenver=$(xl info | sed -n 's/^xen_version *: *//p')
echo "DEMO: hypervisor      Xen $xenver under QEMU (software emulation), Linux $(uname -r) dom0"
echo "DEMO: backend         vgrantd in dom0, serving $img (64 MiB raw image)"
echo "DEMO: guest           PV domU 'demo1' (domain $dom), virtio-grant device 0, mode grant"
guest_log demo1 | sed -n 's/^\(size .*\)/DEMO: guest I\/O       \1/p'
guest_log demo1 | sed -n 's/^verified \(.*\)/DEMO: result          verified \1/p'
echo "DEMO: end to end      guest cksum of the first 32 MiB = $gs; dom0 cksum of the file = $hs (match)"
vgrant detach "$dom" 0 >/dev/null
rel=$(bg_log vgrantd | grep "dom $dom dev 0: released" | tail -1 | sed 's/.*released: //')
echo "DEMO: grants          on detach vgrantd released everything: $rel"
stop_guest demo1
log "all checks passed"
