#!/bin/sh
# destroy: `xl destroy` a domU in the middle of heavy I/O.  vgrantd must log
# it, release every mapping and port of that guest (its "released:" line
# reports 0 pages mapped and 0 ports bound, and `vgrant stats` shows 0 live
# mappings before the detach), and keep serving another domU
# whose data still verifies.
. "$(dirname "$0")/lib.sh"
need_bin vgrantd vgrant xl cksum
need_guest_bin vgrant-io

dd if=/dev/zero of="$E2E_WORK/victim.img" bs=1M count=40 2>/dev/null || fail "cannot create victim.img"
dd if=/dev/zero of="$E2E_WORK/survivor.img" bs=1M count=32 2>/dev/null || fail "cannot create survivor.img"

start_vgrantd vgrantd --log-level info
start_guest -k -m 128 victim blk-loop || fail "xl create victim"
vdom=$(guest_domid victim)
check "attach victim" vgrant attach "$vdom" "type=blk,target=$E2E_WORK/victim.img"

# wait until the victim is in its second round of heavy I/O
i=0
until grep -q 'GUEST-LOOP 2' "$(guest_log_path victim)" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 240 ] && { guest_log victim; fail "victim never started its I/O loop"; }
    sleep 0.5
done
start_guest -k -m 128 -a seed=31 -a span=16M -a cksum=1 -a sizes=4K,64K,1M -a count=16 survivor blk-verify ||
    fail "xl create survivor"
sdom=$(guest_domid survivor)
check "attach survivor" vgrant attach "$sdom" "type=blk,target=$E2E_WORK/survivor.img"
sleep 2
log "destroying victim (dom $vdom) in the middle of its I/O: $(tail -n1 "$(guest_log_path victim)" | tr -d '\r')"
check "xl destroy victim" xl destroy victim

i=0
until bg_log vgrantd | grep -q "dom $vdom dev 0: released"; do
    i=$((i + 1)); [ $i -gt 60 ] && { bg_log vgrantd | tail -20; fail "vgrantd did not release dom $vdom"; }
    sleep 0.5
done
rel=$(bg_log vgrantd | grep "dom $vdom dev 0: released" | tail -1)
log "vgrantd: $rel"
echo "$rel" | grep -q "released: 0 pages mapped, 0 ports bound" ||
    fail "mappings or ports of dom $vdom left after destroy: $rel"
bg_log vgrantd | grep "dom $vdom " | sed 's/^/    vgrantd| /'

# the same seen through the control socket, before the detach
vgrant stats "$vdom" 0 >"$E2E_WORK/victim-stats.txt" 2>&1 ||
    { cat "$E2E_WORK/victim-stats.txt"; fail "vgrant stats $vdom 0 failed after the destroy"; }
sed 's/^/    stats| /' "$E2E_WORK/victim-stats.txt"
live=$(sed -n 's/^live mappings  *//p' "$E2E_WORK/victim-stats.txt" | tr -d ' ')
[ "$live" = 0 ] || fail "vgrant stats reports '$live' live mappings of destroyed dom $vdom"
vgrant stats "$vdom" 0 --json | grep -q '"live_mappings":0[,}]' ||
    fail "vgrant stats --json does not report 0 live mappings of dom $vdom"
log "ok: vgrant stats: 0 live mappings of destroyed dom $vdom"

wait_guest survivor 400
rc=$?
guest_log survivor | sed 's/^/    survivor| /'
[ "$rc" = 0 ] || { bg_log vgrantd | tail -30; fail "survivor failed (rc $rc)"; }
gs=$(guest_log survivor | sed -n 's/^GUEST-CKSUM //p' | tail -1)
hs=$(dd if="$E2E_WORK/survivor.img" bs=1M count=16 2>/dev/null | cksum)
[ -n "$gs" ] && [ "$gs" = "$hs" ] || fail "survivor: checksums differ: guest '$gs' dom0 '$hs'"
log "survivor data verified: $gs"
check "detach the destroyed guest's device" vgrant detach "$vdom" 0
vgrant list
vgrant list | grep -q "^$vdom " && fail "device of destroyed dom $vdom still listed"
vgrant detach "$sdom" 0 >/dev/null; stop_guest survivor
log "all checks passed"
