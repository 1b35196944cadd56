#!/bin/sh
# fault-hostile: a hostile guest program (vg-hostile, a test-only frontend
# over the real hypervisor) floods its event channels, then writes ring
# garbage: a descriptor loop on device 0, an avail index far past the ring
# on device 1.  vgrantd must close both devices with a logged reason,
# release everything (0 pages, 0 ports), stay alive, and keep serving a
# second guest: the survivor's verify throughput is measured before and
# during the flood (the ratio is reported, not asserted), and its data
# verifies.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fault.lib"
need_bin vgrantd vgrant xl cksum xenstore-write
need_guest_bin vgrant-io vg-hostile

vgd_start
survivor_start 24
start_guest -k -m 128 hostile hostile || fail "xl create hostile"
hdom=$(guest_domid hostile)
for d in 0 1; do
    dd if=/dev/zero of="$E2E_WORK/hostile$d.img" bs=1M count=8 2>/dev/null || fail "cannot create hostile$d.img"
    check "attach hostile dev $d" vgrant attach "$hdom" "type=blk,target=$E2E_WORK/hostile$d.img,devid=$d"
done

TPUT=""
tput() { # SEED LABEL: one timed verify in the survivor -> TPUT="MB/s-write MB/s-read"
    gcmd survivor 400 "vgrant-io verify 0 --sizes 64K,1M --count 8 --depth 8 --span 16M --seed $1" ||
        fail "survivor: verify $2 failed"
    TPUT=$(echo "$GOUT" | sed -n 's/^verified .* requests, \([0-9.]*\) MB\/s write, \([0-9.]*\) MB\/s read.*/\1 \2/p' | tail -n1)
}
tput 81 "before the flood"
t_before=$TPUT
log "survivor before the flood: $t_before MB/s (write read)"

xenstore-write "/local/domain/$hdom/data/hostile-cmd" flood || fail "cannot start the flood"
i=0
until [ "$(guest_log hostile | grep -c '^HOSTILE-CONNECTED')" -ge 2 ]; do
    i=$((i + 1))
    [ $i -gt 200 ] && { guest_log hostile | tail; bg_log vgrantd | tail; fail "the hostile frontend did not connect"; }
    sleep 0.2
done
log "hostile frontends connected, flooding"
kicks0=$(vgrant stats "$hdom" 0 --json | sed -n 's/.*"kicks_received":\([0-9]*\).*/\1/p')
tput 82 "during the flood"
t_during=$TPUT
kicks1=$(vgrant stats "$hdom" 0 --json | sed -n 's/.*"kicks_received":\([0-9]*\).*/\1/p')
log "survivor during the flood: $t_during MB/s (write read); vgrantd took $((kicks1 - kicks0)) kicks of dev 0 meanwhile"
vgd_alive
xenstore-write "/local/domain/$hdom/data/hostile-cmd" garbage

wait_guest hostile 60
rc=$?
guest_log hostile | grep '^HOSTILE' | sed 's/^/    hostile| /'
[ "$rc" = 0 ] || { bg_log vgrantd | tail -20; fail "the backend did not close the hostile devices (rc $rc)"; }
for d in 0 1; do
    why=$(bg_log vgrantd | grep "dom $hdom dev $d: .*closing the device" | head -n1)
    [ -n "$why" ] || fail "vgrantd logged no reason for closing hostile dev $d"
    log "vgrantd: $why"
    released_ok "$hdom" "$d"
    live_zero "$hdom" "$d"
done
echo "$t_before $t_during" | awk '{ if ($1 > 0 && $2 > 0) printf "[fault-hostile] survivor throughput during/before the flood: write %.2f, read %.2f\n", $3 / $1, $4 / $2 }'
survivor_verify "after the hostile guest"
vgd_alive
for d in 0 1; do check "detach hostile dev $d" vgrant detach "$hdom" "$d"; done
stop_guest hostile
vgrant detach "$sdom" 0 >/dev/null
stop_guest survivor
log "all checks passed"
