#!/bin/sh
# fault-destroy-modes: a guest with one device per transport mode (grant,
# persistent, copy, auto, static) keeps verified I/O going on all five at
# once; dom0 destroys it in the middle.  For each device vgrantd must log
# the release with 0 pages mapped and 0 ports bound, `vgrant stats` must
# show 0 live mappings, and detach must remove it; vgrantd stays alive and
# a second guest verifies.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fault.lib"
need_bin vgrantd vgrant xl cksum
need_guest_bin vgrant-io

modes="grant persistent copy auto static"
for p in /sys/module/xen_gntdev/parameters/limit; do
    [ -w "$p" ] && echo 1048576 >"$p"
done
vgd_start
survivor_start
start_guest -k -m 192 -a devids=0,1,2,3,4 dvictim loop-modes || fail "xl create dvictim"
vdom=$(guest_domid dvictim)
devid=0
for m in $modes; do
    dd if=/dev/zero of="$E2E_WORK/dm-$m.img" bs=1M count=8 2>/dev/null || fail "cannot create dm-$m.img"
    extra=""
    [ "$m" = static ] && extra=",region=1M"
    check "attach dev $devid mode=$m" vgrant attach "$vdom" "type=blk,target=$E2E_WORK/dm-$m.img,devid=$devid,mode=$m$extra"
    devid=$((devid + 1))
done

# every device in its second round of I/O
for d in 0 1 2 3 4; do
    i=0
    until grep -q "^GUEST-LOOP $d 2" "$(guest_log_path dvictim)" 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt 600 ] && { guest_log dvictim | tail -n 20; bg_log vgrantd | tail; fail "dev $d never started its second round"; }
        sleep 0.2
    done
done
guest_log dvictim | grep -q 'GUEST-LOOP-FAIL' && { guest_log dvictim | grep 'GUEST-LOOP-FAIL'; fail "a device failed its I/O before the destroy"; }
busy=""
for d in 0 1 2 3 4; do
    busy="$busy $d:$(vgrant stats "$vdom" "$d" --json 2>/dev/null | sed -n 's/.*"in_flight":\([0-9]*\).*/\1/p')"
done
log "destroying dom $vdom; requests in flight per device:$busy"
check "xl destroy dvictim" xl destroy dvictim

devid=0
for m in $modes; do
    released_ok "$vdom" "$devid"
    bg_log vgrantd | grep "dom $vdom dev $devid: connected" | grep -q "mode $m" ||
        fail "dev $devid was never connected in mode $m"
    live_zero "$vdom" "$devid"
    devid=$((devid + 1))
done
bg_log vgrantd | grep -q "dom $vdom .*gone" || fail "vgrantd did not notice dom $vdom is gone"
survivor_verify "after the destroy"
vgd_alive
for d in 0 1 2 3 4; do
    check "detach dead dom $vdom dev $d" vgrant detach "$vdom" "$d"
done
vgrant list | grep -q "^$vdom " && fail "a device of the destroyed dom $vdom is still listed"
vgrant detach "$sdom" 0 >/dev/null
stop_guest survivor
log "all checks passed"
