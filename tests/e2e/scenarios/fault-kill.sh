#!/bin/sh
# fault-kill: vgrantd killed with SIGKILL in the middle of the guest's
# write session, then started again.
#
# "In the middle" holds by construction, not by timing: the guest (job
# kill-writer) runs one `vgrant-io seqwrite` session of numbered 64 KiB
# writes (write n: the pattern of seed 1000 + n, flushed) that only ends
# when dom0 writes data/kw-stop.  dom0 waits until vgrantd has served
# KILL_AFTER writes of the device (`vgrant stats`: a write and a flush per
# block), then SIGKILLs it: the guest is inside its session, with more
# writes to come.  Its next write cannot complete (no one serves the ring),
# times out (SEQ-FAIL) and is retried in a new session.  Only once that
# failure is seen does dom0 start a new vgrantd, which finds the device
# Connected with no one serving it, closes it, and the guest reconnects.
# dom0 waits until the new vgrantd has served AFTER writes, then stops the
# guest.  Every write the guest saw complete (SEQ-DONE, numbered 0, 1, ...
# without a gap) must be in the image with the checksum the guest
# computed, the new vgrantd is alive, detach releases everything and a
# second guest verifies.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fault.lib"
need_bin vgrantd vgrant xl xenstore-write cksum
need_guest_bin vgrant-io

block=65536
KILL_AFTER=24       # writes served by the first vgrantd before the kill
AFTER=16            # writes served by the second one before the stop
img=$E2E_WORK/kill.img
T0=$(_now)
el() { echo "t+$(($(_now) - T0))s"; }
# 64 MiB, sparse: 1024 positions, far more than the writes of a run (the
# writer wraps around if it ever gets there; the check below allows that)
rm -f "$img"
dd if=/dev/zero of="$img" bs=1048576 count=0 seek=64 2>/dev/null || fail "cannot create $img"

# requests vgrantd has completed for device 0 of a domain (0 if none yet)
dev_requests() {
    _js=$(vgrant stats "$1" 0 --json 2>/dev/null)
    _rq=$(echo "$_js" | sed -n 's/.*"requests":\([0-9]*\).*/\1/p')
    echo "${_rq:-0}"
}

# wait until vgrantd has completed at least $2 requests of dom $1 dev 0
# (timeout $3 s); fails early if the guest's writer ended
wait_requests() {
    _end=$(($(_now) + $3))
    until [ "$(dev_requests "$1")" -ge "$2" ]; do
        if [ "$(_now)" -ge "$_end" ] || guest_log kwriter | grep -q '^KW-ALL'; then
            guest_log kwriter | tail -n 20 | sed 's/^/    kwriter| /'
            fail "vgrantd served $(dev_requests "$1") requests of dom $1 dev 0, not the $2 waited for (${3}s)"
        fi
        sleep 0.2
    done
}

vgd_start vgrantd
survivor_start
start_guest -k -m 128 -a block=$block -a tmo=5000 kwriter kill-writer ||
    fail "xl create kwriter"
kdom=$(guest_domid kwriter)
check "attach dom $kdom" vgrant attach "$kdom" "type=blk,target=$img"

wait_requests "$kdom" $((2 * KILL_AFTER)) 300
pid=$(vgd_pid vgrantd)
fails_before=$(guest_log kwriter | grep -c '^SEQ-FAIL')
kill -9 "$pid" || fail "cannot kill vgrantd (pid $pid)"
rm -f "$E2E_WORK/vgrantd.pid"
last=$(guest_log kwriter | sed -n 's/^SEQ-DONE \([0-9]*\) .*/\1/p' | tail -n1)
log "$(el): SIGKILL to vgrantd (pid $pid) after it served >= $((2 * KILL_AFTER)) requests of dom $kdom dev 0; the guest had seen writes 0..${last:-none} complete and is still writing"
guest_log kwriter | grep -q '^SEQ-END' && fail "the guest's session had ended before the kill"

# the guest's write in flight (or its next one) cannot complete: wait for
# its failure before a new vgrantd exists, so the kill provably hit it
_end=$(($(_now) + 120))
until [ "$(guest_log kwriter | grep -c '^SEQ-FAIL')" -gt "$fails_before" ]; do
    [ "$(_now)" -ge "$_end" ] && { guest_log kwriter | tail -n 20 | sed 's/^/    kwriter| /'; fail "no write of the guest failed within 120 s of the kill"; }
    sleep 0.2
done
log "ok: $(el): the guest's write failed with no daemon: $(guest_log kwriter | grep '^SEQ-FAIL' | tail -n1)"

log "$(el): starting a new vgrantd"
vgd_start vgrantd2
wait_requests "$kdom" $((2 * AFTER)) 300
log "$(el): vgrantd2 served >= $((2 * AFTER)) requests: telling the guest to stop"
xenstore-write "/local/domain/$kdom/data/kw-stop" 1 || fail "cannot write dom $kdom's data/kw-stop"
_end=$(($(_now) + 120))
until guest_log kwriter | grep -q '^KW-ALL'; do
    [ "$(_now)" -ge "$_end" ] && { guest_log kwriter | tail -n 30 | sed 's/^/    kwriter| /'; fail "the guest did not stop writing within 120 s of data/kw-stop"; }
    sleep 0.2
done
log "$(el): the guest's writer ended"
guest_log kwriter | grep '^SEQ-START\|^SEQ-FAIL\|^SEQ-RECONNECTED\|^SEQ-END\|^KW-ALL' | sed 's/^/    kwriter| /'
guest_log kwriter | grep -q '^KW-ALL rc=0$' || fail "the guest's writer failed: $(guest_log kwriter | grep '^KW-ALL')"
bg_log vgrantd2 | grep "dom $kdom dev 0" | head -8 | sed 's/^/    vgrantd2| /'
bg_log vgrantd2 | grep -q "dom $kdom dev 0: connected" || fail "the guest never reconnected to the new vgrantd"

# the completed writes: numbered 0..k-1 in order, k as SEQ-END says, some
# of them after the reconnect
guest_log kwriter | sed -n 's/^SEQ-DONE \([0-9]*\) \([0-9]*\) \([0-9]*\) \([0-9]*\)$/\1 \2 \3 \4/p' >"$E2E_WORK/kw-done.txt"
ndone=$(wc -l <"$E2E_WORK/kw-done.txt")
gap=$(awk '$1 != NR - 1 { print "line " NR " is write " $1; exit }' "$E2E_WORK/kw-done.txt")
[ -z "$gap" ] || fail "the completed writes are not numbered 0, 1, 2, ...: $gap"
guest_log kwriter | grep -q "^SEQ-END writes=$ndone " ||
    fail "the guest logged $ndone SEQ-DONE lines but $(guest_log kwriter | grep '^SEQ-END')"
nafter=$(guest_log kwriter | sed -n '/^SEQ-RECONNECTED/,$p' | grep -c '^SEQ-DONE')
[ "$nafter" -gt 0 ] || fail "no write completed after the reconnect"
nfail=$(guest_log kwriter | grep -c '^SEQ-FAIL')

# every completed write is in the image: the last one to each position
# (all of them unless the writer wrapped around)
awk '{ last[$2] = $0 } END { for (o in last) print last[o] }' "$E2E_WORK/kw-done.txt" >"$E2E_WORK/kw-last.txt"
nchecked=0
while read -r n off crc len; do
    [ "$len" = "$block" ] || fail "write $n: length $len, not $block"
    have=$(dd if="$img" bs=$block skip=$((off / block)) count=1 2>/dev/null | cksum)
    [ "$have" = "$crc $len" ] || fail "write $n (offset $off) completed in the guest ('$crc $len') but the image holds '$have'"
    nchecked=$((nchecked + 1))
done <"$E2E_WORK/kw-last.txt"
[ "$nchecked" -gt 0 ] || fail "no completed write to check"
log "ok: all $ndone writes the guest saw complete are in the image ($nchecked positions checked, $nafter writes after the reconnect, $nfail failed attempts retried)"

survivor_verify "after the restart"
vgd_alive vgrantd2
check "detach dom $kdom dev 0" vgrant detach "$kdom" 0
released_ok "$kdom" 0 vgrantd2
vgrant detach "$sdom" 0 >/dev/null
released_ok "$sdom" 0 vgrantd2
stop_guest kwriter
stop_guest survivor
log "$(el): all checks passed"
