#!/bin/sh
# kernel-stall: a backend that stays Connected but answers nothing must
# not hang the guest's removal of the device, which runs on its xenwatch
# thread (every xenbus device of the guest waits behind it), nor a sysfs
# unbind (the same path).  vgrantd serves the guest's disk (grant mode)
# while the guest reads it; dom0 then SIGSTOPs vgrantd: its state stays
# Connected, the read in flight is never answered.  Once the guest sees
# its reads stall, dom0 removes the device's frontend directory (as a
# toolstack that gave up on the backend would): virtio_blk's remove waits
# for that read, and the module's drain watch must fail it after
# close_timeout_ms (5 s) of no progress.  Checked, before vgrantd is let
# go on: the removal finishes (the xenbus device is gone) and the read
# loop ends, within 120 s; the guest's kernel says which backend
# completed none of how many requests, no hung task/BUG/WARNING; after
# SIGCONT vgrantd releases the device (0 pages mapped, 0 ports).
. "$(dirname "$0")/lib.sh"
need_bin vgrantd vgrant xl xenstore-read xenstore-rm

dd if=/dev/zero of="$E2E_WORK/kst.img" bs=1M count=0 seek=64 2>/dev/null || fail "cannot create kst.img"
scratch "$E2E_WORK/kst.img"

start_vgrantd vgrantd --log-level info
vpid=$(cat "$E2E_WORK/vgrantd.pid")
cont() { kill -CONT "$vpid" 2>/dev/null; }
start_guest -k -m 160 -a size=64 kst kernel-stall || fail "xl create kst"
dom=$(guest_domid kst)
check "attach kst" vgrant attach "$dom" "type=blk,target=$E2E_WORK/kst.img"
guest_wait_line kst '^GUEST-READING' 180 || fail "kst: the guest's reads did not start within 180 s"
sleep 1
log "SIGSTOP to vgrantd (pid $vpid): dom $dom's device stays Connected, unanswered"
kill -STOP "$vpid" || fail "cannot stop vgrantd"
state=$(xenstore-read "/local/domain/0/backend/virtio-grant/$dom/0/state" 2>/dev/null)
[ "$state" = 4 ] || { cont; fail "backend state is '$state', not Connected (4), with vgrantd stopped"; }
if ! guest_wait_line kst '^GUEST-STALLED' 120; then
    cont
    fail "kst: the guest did not see its reads stall within 120 s of the SIGSTOP"
fi
fe=/local/domain/$dom/device/virtio-grant/0
log "removing $fe (the backend still says Connected)"
xenstore-rm "$fe" || { cont; fail "xenstore-rm $fe failed"; }
if ! guest_wait_line kst '^GUEST-REMOVED' 150; then
    cont
    fail "the guest's removal of the device did not finish within 150 s (a silent Connected backend holds the driver's remove, on the guest's xenwatch thread)"
fi
log "kst: $(guest_log kst | grep '^GUEST-REMOVED' | head -n 1 | sed 's/^GUEST-//')"
log "SIGCONT to vgrantd"
cont
wait_guest kst 120
rc=$?
guest_log kst | grep '^GUEST-STALLED\|^GUEST-READER\|^GUEST-DRAIN\|^GUEST-ERROR' | sed 's/^/    kst| /'
[ "$rc" = 0 ] || fail "kst's job failed (rc $rc)$(guest_log kst | sed -n 's/^GUEST-ERROR /: /p' | head -n1)"
guest_log kst | grep '^GUEST-DRAIN' | grep -q "remove: backend dom 0 completed none of [1-9][0-9]* request(s)" ||
    fail "the guest's kernel did not say it failed the requests of the silent backend"
guest_log kst | grep -q '^GUEST-READER ' || fail "the guest's read loop did not end"
kernel_console_check kst
released_ok "$dom" 0 60
check "vgrant detach kst" vgrant detach "$dom" 0
stop_guest kst
log "all checks passed"
