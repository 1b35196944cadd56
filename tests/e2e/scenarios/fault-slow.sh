#!/bin/sh
# fault-slow: one guest's backing store is slow; another guest's I/O does
# not wait for it.  vgrantd serves guest "slow" a device-mapper "delay"
# device (every bio held DELAY_MS, over a loop device on tmpfs) and guest
# "survivor" a plain image file, both from the one daemon.  The slow guest
# keeps 16 reads in flight for SLOW_S seconds; while it does, the survivor
# verifies its device (writes, flush, reads, compared with dom0's cksum)
# and must finish long before the slow job ends -- with requests served
# one at a time in the event loop every survivor request would queue
# behind a full second of the slow device.  vgrant stats on the slow
# device must show more than one request in flight and rounds of several
# (the values are logged).  Then the slow job ends
# without error, detach releases everything (0 pages, 0 ports) and
# vgrantd is alive.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fault.lib"
need_bin vgrantd vgrant vg-dm xl losetup cksum
need_guest_bin vgrant-io

DELAY_MS=1000
SLOW_S=60

dm_linear vgslow 32
modprobe dm-delay 2>/dev/null || modprobe dm_delay 2>/dev/null
vg-dm reload vgslow "$dm_sectors" delay "$dm_mm 0 $DELAY_MS" ||
    { cleanup_dm; fail "vg-dm reload vgslow to the delay target (dm-delay loaded?) failed"; }
log "device-mapper $dmdev: every bio delayed ${DELAY_MS} ms"

vgd_start
survivor_start
start_guest -k -m 128 slow remote || fail "xl create slow"
wdom=$(guest_domid slow)
check "attach $dmdev to dom $wdom" vgrant attach "$wdom" "type=blk,target=$dmdev"
survivor_verify "before the slow job"
surv_before=$SURV_MBS

# the slow job, in the background of the guest: 64 KiB reads, 16 in flight
gcmd slow 60 "(vgrant-io bench 0 --ops read --sizes 64K --depths 16 --seconds $SLOW_S --span 32M --csv; echo rc=\$? >/tmp/slow.rc) >/tmp/slow.out 2>&1 &" ||
    fail "cannot start the slow job"
t0=$(_now)
# wait until the slow device has a round in the kernel
i=0
while :; do
    js=$(vgrant stats "$wdom" 0 --json 2>/dev/null)
    inf=$(echo "$js" | sed -n 's/.*"in_flight":\([0-9]*\).*/\1/p')
    [ "${inf:-0}" -ge 2 ] && break
    i=$((i + 1))
    [ $i -gt 100 ] && fail "the slow device never had 2 requests in flight: $js"
    sleep 0.2
done
log "slow device busy: in_flight $inf"

ts=$(_now)
survivor_verify "while the slow device is busy"
te=$(_now)
gcmd slow 10 "cat /tmp/slow.rc 2>/dev/null || echo running" || true
echo "$GOUT" | grep -q '^running$' ||
    fail "the slow job ended before the survivor's verify did (${SLOW_S}s): the test proves nothing"
log "ok: survivor verified in $((te - ts)) s while the slow device (${DELAY_MS} ms a bio) was busy; MB/s write/read before: ${surv_before:-?}, during: ${SURV_MBS:-?}"

js=$(vgrant stats "$wdom" 0 --json)
maxinf=$(echo "$js" | sed -n 's/.*"max_in_flight":\([0-9]*\).*/\1/p')
maxround=$(echo "$js" | sed -n 's/.*"max_round":\([0-9]*\).*/\1/p')
arounds=$(echo "$js" | sed -n 's/.*"async_rounds":\([0-9]*\).*/\1/p')
log "vgrant stats dom $wdom dev 0: max_in_flight $maxinf, max_round $maxround, async_rounds $arounds"
# in flight at once and rounds of several requests (how many depends on
# how the guest's submissions fall into rounds: the figure of 16 at depth
# 16 is a benchmark target, make bench, not asserted here)
[ "${maxinf:-0}" -ge 2 ] || fail "the slow device never had 2 requests in flight: $js"
[ "${maxround:-0}" -ge 2 ] || fail "no round of the slow device held 2 requests: $js"
[ "${arounds:-0}" -gt 0 ] || fail "no round of the slow device ran asynchronously: $js"

# the slow job ends on its own, without an error
end=$((t0 + SLOW_S + 120))
while :; do
    gcmd slow 10 "cat /tmp/slow.rc 2>/dev/null || echo running" || true
    echo "$GOUT" | grep -q '^rc=' && break
    [ "$(_now)" -ge "$end" ] && fail "the slow job did not end"
    sleep 3
done
echo "$GOUT" | grep -q '^rc=0$' || { gcmd slow 10 "cat /tmp/slow.out"; fail "the slow job failed"; }
gcmd slow 10 "cat /tmp/slow.out" || true
log "ok: the slow job completed: $(echo "$GOUT" | grep '^[a-z]*,read,' | head -n1)"

vgd_alive
check "detach dom $wdom dev 0" vgrant detach "$wdom" 0
released_ok "$wdom" 0
stop_guest slow
vgrant detach "$sdom" 0 >/dev/null
released_ok "$sdom" 0
stop_guest survivor
cleanup_dm
log "all checks passed"
