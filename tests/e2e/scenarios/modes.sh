#!/bin/sh
# modes: one PV domU with one virtio-grant blk device per transport mode
# (grant, persistent, copy, auto, static with a 256 KiB region), each backed
# by its own file in dom0.  The guest verifies patterned I/O on each and
# checksums its span; dom0 checksums each backing file: they must agree.
# vgrantd's per-device release line must show nothing left mapped.
. "$(dirname "$0")/lib.sh"
need_bin vgrantd vgrant xl
need_guest_bin vgrant-io

span=$((8 * 1024 * 1024))
modes="grant persistent copy auto static"
# dom0: gntdev may cap mapped grants per process on some kernels
for p in /sys/module/xen_gntdev/parameters/limit; do
    [ -w "$p" ] && echo 1048576 >"$p"
done

start_vgrantd vgrantd --log-level info
start_guest -k -m 160 -a devids=0,1,2,3,4 -a span=$span -a seed=21 \
    modes1 blk-modes || fail "xl create of modes1 failed"
domid=$(guest_domid modes1)

devid=0
for m in $modes; do
    img=$E2E_WORK/modes-$m.img
    dd if=/dev/zero of="$img" bs=1M count=16 2>/dev/null || fail "cannot create $img"
    extra=""
    [ "$m" = static ] && extra=",region=4M"
    check "vgrant attach dev $devid mode=$m" \
        vgrant attach "$domid" "type=blk,target=$img,devid=$devid,mode=$m$extra"
    devid=$((devid + 1))
done
vgrant list

wait_guest modes1 400
rc=$?
guest_log modes1 | sed 's/^/    modes1| /'
[ "$rc" = 0 ] || { bg_log vgrantd | tail -30; fail "guest job failed (rc $rc)"; }

devid=0
for m in $modes; do
    img=$E2E_WORK/modes-$m.img
    guest_sum=$(guest_log modes1 | sed -n "s/^GUEST-CKSUM $devid //p" | tail -1)
    host_sum=$(dd if="$img" bs=1M count=8 2>/dev/null | cksum)
    log "mode $m (dev $devid): guest cksum '$guest_sum', dom0 cksum '$host_sum'"
    [ -n "$guest_sum" ] || fail "mode $m: guest printed no checksum"
    [ "$guest_sum" = "$host_sum" ] || fail "mode $m: checksums differ"
    bg_log vgrantd | grep -q "dev $devid: connected: .*mode $m" ||
        fail "mode $m: vgrantd never connected dev $devid in mode $m"
    devid=$((devid + 1))
done

devid=0
for m in $modes; do
    check "vgrant detach $devid ($m)" vgrant detach "$domid" "$devid"
    devid=$((devid + 1))
done
sleep 1
bg_log vgrantd | grep "released:" | sed 's/^/    /'
if bg_log vgrantd | grep "released:" | grep -vq "released: 0 pages mapped, 0 ports"; then
    fail "a device left pages mapped or ports bound"
fi
stop_guest modes1
log "all checks passed"
