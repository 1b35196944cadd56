#!/bin/sh
# restart: stop vgrantd (SIGTERM) while a guest's device is connected and
# busy, then start it again.  The daemon closes every device on the way out
# (state Closing/Closed, all grants unmapped); the guest's I/O in flight fails
# with a clear error instead of hanging; its next run reconnects through a
# fresh handshake and carries on.  No data may be corrupted: the guest's
# final checksum matches the backing file.
. "$(dirname "$0")/lib.sh"
need_bin vgrantd vgrant xl cksum
need_guest_bin vgrant-io

dd if=/dev/zero of="$E2E_WORK/restart.img" bs=1M count=16 2>/dev/null || fail "cannot create restart.img"
start_vgrantd vgrantd --log-level info
start_guest -k -m 128 -a rounds=30 restart1 blk-retry || fail "xl create restart1"
dom=$(guest_domid restart1)
check "attach" vgrant attach "$dom" "type=blk,target=$E2E_WORK/restart.img"
i=0
until grep -q '^round 3 ok' "$(guest_log_path restart1)" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 240 ] && { guest_log restart1; fail "guest never got going"; }
    sleep 0.5
done
log "stopping vgrantd with SIGTERM while dom $dom is connected"
stop_bg vgrantd
bg_log vgrantd | tail -5 | sed 's/^/    vgrantd(1)| /'
bg_log vgrantd | grep -q "released: 0 pages mapped, 0 ports bound" ||
    fail "the stopping vgrantd did not report releasing everything"
sleep 3
log "starting vgrantd again"
start_vgrantd vgrantd2 --log-level info

wait_guest restart1 400
rc=$?
guest_log restart1 | sed 's/^/    restart1| /'
bg_log vgrantd2 | sed 's/^/    vgrantd(2)| /' | head -20
[ "$rc" = 0 ] || fail "guest failed after the daemon restart (rc $rc)"
gs=$(guest_log restart1 | sed -n 's/^GUEST-CKSUM //p' | tail -1)
hs=$(dd if="$E2E_WORK/restart.img" bs=1M count=8 2>/dev/null | cksum)
[ -n "$gs" ] && [ "$gs" = "$hs" ] || fail "checksums differ: guest '$gs' dom0 '$hs'"
guest_log restart1 | grep -q 'I/O failed' || fail "the daemon stop did not hit the guest's I/O (no failed round): the scenario proved nothing"
guest_log restart1 | grep -q '^reconnected' || fail "the guest never reconnected"
log "after restart: $(guest_log restart1 | grep 'rounds verified'), data verified ($gs)"
bg_log vgrantd2 | grep -q "dom $dom dev 0: connected" || fail "the guest never reconnected to the new vgrantd"
vgrant detach "$dom" 0 >/dev/null; stop_guest restart1
log "all checks passed"
