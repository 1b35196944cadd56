#!/bin/sh
# basic: vgrantd in dom0, one PV domU, `vgrant attach` a virtio-grant blk
# device backed by a file in dom0.  The guest writes patterns of 512 B to
# 1 MiB (page-unaligned offsets, multi-page buffers) through per-request
# grants, reads them back and verifies; then checksums the span, and dom0
# checksums the backing file independently: the two must agree.  The
# device is attached by the guest's name, as xl commands accept it.
. "$(dirname "$0")/lib.sh"
need_bin vgrantd vgrant xl
need_guest_bin vgrant-io

img=$E2E_WORK/basic.img
span=$((16 * 1024 * 1024))
dd if=/dev/zero of="$img" bs=1M count=32 2>/dev/null || fail "cannot create $img"

start_vgrantd vgrantd --log-level info
start_guest -k -m 128 -a devid=0 -a span=$span -a cksum=1 -a seed=11 basic1 blk-verify ||
    fail "xl create of basic1 failed"
domid=$(guest_domid basic1)
# by name, as xl takes domains; list and detach below by id
check "vgrant attach to basic1 (dom $domid)" vgrant attach basic1 "type=blk,target=$img"
check "vgrant list basic1" vgrant list basic1
vgrant list basic1 | grep -q "^$domid " || fail "vgrant list basic1 does not show dom $domid"
if vgrant attach nosuchguest "type=blk,target=$img" 2>"$E2E_WORK/noname.err"; then
    fail "vgrant attach to an unknown domain name succeeded"
fi
grep -q "no domain is named 'nosuchguest'" "$E2E_WORK/noname.err" ||
    fail "unclear error for an unknown domain name: $(cat "$E2E_WORK/noname.err")"

wait_guest basic1 300
rc=$?
guest_log basic1 | sed 's/^/    basic1| /'
[ "$rc" = 0 ] || { bg_log vgrantd | tail -20; fail "guest job failed (rc $rc)"; }

guest_sum=$(guest_log basic1 | sed -n 's/^GUEST-CKSUM //p' | tail -1)
host_sum=$(dd if="$img" bs=1M count=16 2>/dev/null | cksum)
log "guest cksum: $guest_sum  dom0 cksum of backing file: $host_sum"
[ -n "$guest_sum" ] || fail "guest printed no checksum"
[ "$guest_sum" = "$host_sum" ] || fail "checksums differ: guest '$guest_sum' dom0 '$host_sum'"
grep -h '^verified' "$(guest_log_path basic1)" | sed 's/^/    /'

check "vgrant detach" vgrant detach "$domid" 0
stop_guest basic1
log "all checks passed"
