#!/bin/sh
# many: three domUs at once, each with its own virtio-grant blk device
# served by one vgrantd; the third device is read-only: its writes must
# fail with a clear error and its file must stay unchanged.  Each guest's
# data is checked against its own backing file (no cross-talk).
. "$(dirname "$0")/lib.sh"
need_bin vgrantd vgrant xl cksum
need_guest_bin vgrant-io

mib=16
for g in 1 2 3; do
    dd if=/dev/zero of="$E2E_WORK/many$g.img" bs=1M count=32 2>/dev/null || fail "cannot create many$g.img"
done
# the read-only image holds data of its own, to see it is read correctly
dd if=/dev/urandom of="$E2E_WORK/many3.img" bs=1M count=4 conv=notrunc 2>/dev/null
ro_before=$(cksum <"$E2E_WORK/many3.img")

start_vgrantd vgrantd --log-level info
start_guest -k -m 128 -a seed=21 -a span=${mib}M -a cksum=1 many1 blk-verify || fail "xl create many1"
start_guest -k -m 128 -a seed=22 -a span=${mib}M -a cksum=1 many2 blk-verify || fail "xl create many2"
start_guest -k -m 128 -a span=4M many3 blk-readonly || fail "xl create many3"
for g in 1 2; do
    check "attach many$g" vgrant attach "$(guest_domid many$g)" "type=blk,target=$E2E_WORK/many$g.img"
done
check "attach many3 read-only" vgrant attach "$(guest_domid many3)" "type=blk,target=$E2E_WORK/many3.img,readonly=1"
vgrant list

for g in 1 2 3; do
    wait_guest many$g 400
    rc=$?
    guest_log many$g | sed "s/^/    many$g| /"
    [ "$rc" = 0 ] || { bg_log vgrantd | tail -30; fail "guest many$g failed (rc $rc)"; }
done

for g in 1 2; do
    gs=$(guest_log many$g | sed -n 's/^GUEST-CKSUM //p' | tail -1)
    hs=$(dd if="$E2E_WORK/many$g.img" bs=1M count=$mib 2>/dev/null | cksum)
    log "many$g: guest $gs, dom0 $hs"
    [ -n "$gs" ] && [ "$gs" = "$hs" ] || fail "many$g: checksums differ: guest '$gs' dom0 '$hs'"
done
# different seeds: equal images would mean one guest's data reached the other
[ "$(cksum <"$E2E_WORK/many1.img")" != "$(cksum <"$E2E_WORK/many2.img")" ] ||
    fail "many1 and many2 images are identical: cross-talk"
gs=$(guest_log many3 | sed -n 's/^GUEST-CKSUM //p' | tail -1)
hs=$(dd if="$E2E_WORK/many3.img" bs=1M count=4 2>/dev/null | cksum)
[ -n "$gs" ] && [ "$gs" = "$hs" ] || fail "many3 (read-only) read back '$gs', file has '$hs'"
[ "$(cksum <"$E2E_WORK/many3.img")" = "$ro_before" ] || fail "read-only image many3.img was modified"
log "read-only image unchanged: $ro_before"
for g in 1 2 3; do grep -h '^verified\|refused' "$(guest_log_path many$g)" | sed "s/^/    many$g: /"; done
for g in 1 2 3; do vgrant detach "$(guest_domid many$g)" 0 >/dev/null; stop_guest many$g; done
log "all checks passed"
