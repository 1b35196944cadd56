#!/bin/sh
# fault-hang: a guest whose backing store hangs goes away with reads in the
# kernel; vgrantd does not wait for them (review of 2026-12-03: it used to
# block its only thread in io_uring_wait_cqe until the store answered,
# serving no other guest, for good if the store never did).
#
# Guest "hang" is served a device-mapper "delay" device whose delay is
# then raised to HANG_MS (10 minutes: a hung store, as a dead NFS server);
# its background job puts 16 reads of 64 KiB in flight, and the guest is
# destroyed.  While the reads hang: vgrantd answers `vgrant stats` at
# once, the survivor (a plain image, same daemon) verifies its device, and
# the hung device shows state Closing with its pages still mapped (the
# kernel still holds its buffers).  Then the store answers (the delay
# table is replaced: dm-delay flushes what it held), the device finishes
# closing -- released with 0 pages and 0 ports -- and vgrantd is alive.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fault.lib"
need_bin vgrantd vgrant vg-dm xl losetup cksum timeout
need_guest_bin vgrant-io

HANG_MS=600000

stats_field() {     # JSON text, field: its number
    echo "$1" | sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p"
}

dm_linear vghang 32
modprobe dm-delay 2>/dev/null || modprobe dm_delay 2>/dev/null
vgd_start
survivor_start
start_guest -k -m 128 hang remote || fail "xl create hang"
hdom=$(guest_domid hang)
check "attach $dmdev to dom $hdom" vgrant attach "$hdom" "type=blk,target=$dmdev"
vg-dm reload vghang "$dm_sectors" delay "$dm_mm 0 $HANG_MS" ||
    { cleanup_dm; fail "vg-dm reload vghang to the delay target (dm-delay loaded?) failed"; }
log "device-mapper $dmdev: every bio now held ${HANG_MS} ms (the store hangs)"

gcmd hang 60 "(vgrant-io bench 0 --ops read --sizes 64K --depths 16 --seconds 30 --span 32M --csv; echo rc=\$?) >/tmp/hang.out 2>&1 &" ||
    fail "cannot start the reads"
i=0
while :; do
    js=$(vgrant stats "$hdom" 0 --json 2>/dev/null)
    inf=$(stats_field "$js" in_flight)
    [ "${inf:-0}" -ge 2 ] && break
    i=$((i + 1))
    [ $i -gt 150 ] && { cleanup_dm; fail "the hung device never had 2 requests in flight: $js"; }
    sleep 0.2
done
log "dom $hdom: $inf reads in flight on the hung store; destroying it"
check "xl destroy hang" xl destroy hang

# the daemon noticed, and is not waiting for the hung reads
i=0
until bg_log vgrantd | grep -q "dom $hdom dev 0: closing"; do
    i=$((i + 1))
    [ $i -gt 100 ] && { bg_log vgrantd | tail -20; cleanup_dm; fail "vgrantd did not start closing dom $hdom dev 0"; }
    sleep 0.2
done
js=$(timeout 20 vgrant stats "$hdom" 0 --json 2>&1) ||
    { cleanup_dm; fail "vgrantd did not answer vgrant stats within 20 s while dom $hdom's reads hang: $js"; }
log "ok: vgrantd answers while dom $hdom's reads hang: $js"
echo "$js" | grep -q '"state":"Closing"' ||
    { cleanup_dm; fail "dom $hdom dev 0 should stay Closing while its reads hang: $js"; }
live=$(stats_field "$js" live_mappings)
[ "${live:-0}" -gt 0 ] ||
    { cleanup_dm; fail "dom $hdom dev 0 unmapped pages the kernel still reads into: $js"; }
log "ok: dom $hdom dev 0 Closing, $live pages still mapped for the reads in the kernel"
survivor_verify "while the destroyed guest's reads hang"
vgd_alive

# the store answers: what it held completes, the device finishes closing
vg-dm reload vghang "$dm_sectors" linear "$dm_mm 0" ||
    { cleanup_dm; fail "vg-dm reload vghang back to linear failed"; }
log "device-mapper $dmdev: linear again (dm-delay flushed the held bios)"
released_ok "$hdom" 0
live_zero "$hdom" 0
js=$(vgrant stats "$hdom" 0 --json 2>&1)
echo "$js" | grep -q '"state":"Closed"' || fail "dom $hdom dev 0 not Closed once its reads ended: $js"
vgd_alive
check "detach dead dom $hdom dev 0" vgrant detach "$hdom" 0
survivor_verify "after the hung store answered"
vgrant detach "$sdom" 0 >/dev/null
released_ok "$sdom" 0
stop_guest survivor
cleanup_dm
log "all checks passed"
