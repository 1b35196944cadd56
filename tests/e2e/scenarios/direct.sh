#!/bin/sh
# direct: vgrantd --direct on real Xen.  Two devices of one guest: a loop
# block device (takes O_DIRECT) and an image file on dom0's tmpfs (which
# refuses O_DIRECT before Linux 6.6).  The guest verifies both (patterns
# from 512 B to 1 MiB at page-unaligned offsets, so some transfers are
# aligned and some are not) and checksums them; dom0's checksums must
# agree.  vgrantd must say which device got O_DIRECT and must not have
# had to give it up ("O_DIRECT ... refused": grant-mapped pages it could
# not pin) -- that line would mean every aligned transfer fell back to the
# page cache.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fault.lib"
need_bin vgrantd vgrant xl losetup cksum
need_guest_bin vgrant-io

dev=$(make_disk direct 32) || fail "cannot create the loop disk"
img=$E2E_WORK/direct-file.img
dd if=/dev/zero of="$img" bs=1M count=32 2>/dev/null || fail "cannot create $img"

start_bg vgrantd vgrantd --foreground --log-level info --direct
i=0
until [ -S /run/vgrantd/control.sock ] && grep -q 'started' "$E2E_WORK/vgrantd.log" 2>/dev/null; do
    i=$((i + 1))
    [ "$i" -gt 40 ] && { bg_log vgrantd; fail "vgrantd --direct did not start"; }
    sleep 0.25
done
start_guest -k -m 128 direct remote || fail "xl create direct"
ddom=$(guest_domid direct)
check "attach $dev (loop) as dev 0" vgrant attach "$ddom" "type=blk,target=$dev"
check "attach $img (tmpfs file) as dev 1" vgrant attach "$ddom" "type=blk,target=$img"

for d in 0 1; do
    gcmd direct 300 "vgrant-io verify $d --sizes 512,4K,64K,1M --count 4 --depth 8 --span 8M --seed $((40 + d)) && vgrant-io cksum $d --offset 0 --length 8M" ||
        fail "verify of dev $d failed"
    gs=$(echo "$GOUT" | tail -n1)
    if [ "$d" = 0 ]; then
        sync
        blockdev --flushbufs "$dev" 2>/dev/null
        hs=$(img_cksum "$dev" 0 8)
    else
        hs=$(img_cksum "$img" 0 8)
    fi
    [ "$gs" = "$hs" ] || fail "dev $d: guest cksum '$gs', dom0 '$hs'"
    log "ok: dev $d verified, cksum $gs matches dom0"
done

bg_log vgrantd | grep "dom $ddom dev [01]: blk: " | sed 's/^/    vgrantd| /'
bg_log vgrantd | grep -q "dom $ddom dev 0: blk: $dev, .*O_DIRECT" ||
    fail "vgrantd did not open the loop device with O_DIRECT"
bg_log vgrantd | grep -q "dom $ddom dev [01]: blk: O_DIRECT .* refused" &&
    fail "an O_DIRECT transfer on grant-mapped pages was refused"
if bg_log vgrantd | grep -q "dom $ddom dev 1: blk: .*O_DIRECT refused"; then
    log "the tmpfs file is served through the page cache (its filesystem refuses O_DIRECT)"
fi
vgd_alive
for d in 0 1; do
    check "detach dev $d" vgrant detach "$ddom" "$d"
    released_ok "$ddom" "$d"
done
stop_guest direct
drop_disk direct
log "all checks passed"
