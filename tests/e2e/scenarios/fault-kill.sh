#!/bin/sh
# fault-kill: vgrantd killed with SIGKILL in the middle of the guest's
# writes, then started again.  The guest (job kill-writer) writes numbered
# 256 KiB chunks, each in its own session, and logs every write it saw
# complete (KW-DONE n cksum) and every failed attempt (KW-FAIL n), which
# it retries.  The killed daemon cannot close anything: the guest's request
# in flight times out, the new vgrantd finds the device Connected with no
# one serving it, closes it, and the guest's next session reconnects.  At
# the end every chunk the guest saw complete must be in the image with the
# checksum the guest computed, at least one attempt must have failed (the
# kill hit the guest), detach releases everything, the new vgrantd is alive
# and a second guest verifies.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fault.lib"
need_bin vgrantd vgrant vgrant-io xl cksum

writes=16
chunk=262144
img=$E2E_WORK/kill.img
dd if=/dev/zero of="$img" bs=$chunk count=$writes 2>/dev/null || fail "cannot create $img"
vgd_start vgrantd
survivor_start
start_guest -k -m 128 -a writes=$writes -a chunk=$chunk -a tmo=8000 kwriter kill-writer ||
    fail "xl create kwriter"
kdom=$(guest_domid kwriter)
check "attach dom $kdom" vgrant attach "$kdom" "type=blk,target=$img"

i=0
until grep -q '^KW-DONE 4 ' "$(guest_log_path kwriter)" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 300 ] && { guest_log kwriter | tail; fail "the guest never got to its 5th write"; }
    sleep 0.2
done
# Kill it mid-write: wait until a write session is Connected, freeze
# vgrantd (SIGSTOP) so the guest's requests stay unanswered, and kill it
# only if the guest is still in that session a moment later (its frontend
# still Connected: it is waiting for its write); otherwise let it go on
# and try the next session.
pid=$(vgd_pid vgrantd)
be=/local/domain/0/backend/virtio-grant/$kdom/0
fe=/local/domain/$kdom/device/virtio-grant/0
hit=0
for try in 1 2 3 4 5 6 7 8 9 10; do
    wait_xs "$be/state" 4 60 || continue
    kill -STOP "$pid"
    sleep 1
    if [ "$(xenstore-read "$fe/state" 2>/dev/null)" = 4 ]; then
        hit=1
        break
    fi
    kill -CONT "$pid"
done
[ "$hit" = 1 ] || { kill -CONT "$pid"; fail "never caught a write session in the middle (10 tries)"; }
last=$(guest_log kwriter | grep '^KW-DONE' | tail -n1 | cut -d' ' -f2)
log "SIGKILL to vgrantd (pid $pid) while the guest waits for a write (write $last was the last completed)"
kill -9 "$pid" || fail "cannot kill vgrantd"
rm -f "$E2E_WORK/vgrantd.pid"
sleep 3
log "starting a new vgrantd"
vgd_start vgrantd2

i=0
until grep -q '^KW-ALL' "$(guest_log_path kwriter)" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt 900 ] || guest_log kwriter | grep -q '^GUEST-DONE rc=[1-9]'; then
        guest_log kwriter | tail -n 30 | sed 's/^/    kwriter| /'
        bg_log vgrantd2 | tail -n 20 | sed 's/^/    vgrantd2| /'
        fail "the guest did not finish its writes after the restart"
    fi
    sleep 0.2
done
guest_log kwriter | grep '^KW-FAIL\|^KW-ALL' | sed 's/^/    kwriter| /'
nfail=$(guest_log kwriter | grep -c '^KW-FAIL')
[ "$nfail" -gt 0 ] || fail "no write failed: the kill did not hit the guest, the scenario proved nothing"
bg_log vgrantd2 | grep "dom $kdom dev 0" | head -8 | sed 's/^/    vgrantd2| /'
bg_log vgrantd2 | grep -q "dom $kdom dev 0: connected" || fail "the guest never reconnected to the new vgrantd"

# every completed write is in the image
ndone=0
guest_log kwriter | sed -n 's/^KW-DONE \([0-9]*\) .*cksum \([0-9]* [0-9]*\)$/\1 \2/p' >"$E2E_WORK/kw-done.txt"
while read -r n crc len; do
    have=$(dd if="$img" bs=$chunk skip="$n" count=1 2>/dev/null | cksum)
    [ "$have" = "$crc $len" ] || fail "write $n completed in the guest ('$crc $len') but the image holds '$have'"
    ndone=$((ndone + 1))
done <"$E2E_WORK/kw-done.txt"
[ "$ndone" = "$writes" ] || fail "only $ndone of $writes completed writes found in the guest log"
log "ok: all $ndone writes the guest saw complete are in the image ($nfail failed attempts retried)"

survivor_verify "after the restart"
vgd_alive vgrantd2
check "detach dom $kdom dev 0" vgrant detach "$kdom" 0
released_ok "$kdom" 0 vgrantd2
vgrant detach "$sdom" 0 >/dev/null
released_ok "$sdom" 0 vgrantd2
stop_guest kwriter
stop_guest survivor
log "all checks passed"
