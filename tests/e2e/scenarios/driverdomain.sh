#!/bin/sh
# driverdomain: the backend is not dom0.  A PV domU "vgdd" (driver_domain=1)
# runs vgrantd and owns the backing image, in its own tmpfs; dom0 runs only
# the toolstack (`vgrant attach ... backend=<vgdd>`).  vgdd has no privcmd
# (its job takes /proc/xen and /dev/xen/privcmd away), so vgrantd runs
# without libxenctrl and says so.  A second domU writes/reads/verifies
# through virtio-grant, its grants going to vgdd (backend-id); vgdd runs
# `vgrant stats` on its own control socket; after `vgrant detach` vgdd's
# vgrantd logs the device released with nothing left mapped, and both
# directories are gone; finally the guest's checksum of the span must equal
# the checksum vgdd computes of its own image (and differ from zeroes).
#
# dom0 <-> vgdd handshake (bounded on both sides), through vgdd's xenstore
# home: vgdd writes data/vgdd-ready=1 once vgrantd runs; dom0 writes
# data/vgdd-cmd="stats G 0" (vgdd prints DD-STATS| lines, acks in
# data/vgdd-ack), then data/vgdd-cmd=finish when the guest is done and
# detached; vgdd then prints DD-CKSUM, stops vgrantd and ends its job
# (guest job vgrant-dd).  Each wait is bounded: 120 s for vgdd to come up,
# 300 s for the guest, 30 s for stats, 60 s for vgdd's end; vgdd gives up
# on dom0 after wait_s=400 s.
. "$(dirname "$0")/lib.sh"
need_bin vgrant xl xenstore-read xenstore-write

ddimg=/run/vgdd/disk.img       # a path inside vgdd, not in dom0
span=$((16 * 1024 * 1024))

start_driver_domain "$ddimg" 32 "$span"
log "driver domain vgdd is domain $dd_dom"

# vgdd's console minus the stats table (printed once on its own)
ddlog() { guest_log vgdd | grep -v '^DD-STATS|' | sed 's/^/    vgdd| /'; }
log "vgrantd runs in domain $dd_dom"
# no libxenctrl there: vgrantd must say so and carry on
guest_log vgdd | grep -q '^DD-NO-PRIVCMD' || fail "vgdd still had privcmd"
guest_log vgdd | grep -q 'vgrantd: info: not the control domain' ||
    { ddlog; fail "vgrantd in vgdd did not report running without libxenctrl"; }

start_guest -k -m 128 -a devid=0 -a span=$span -a cksum=1 -a seed=23 ddguest blk-verify ||
    fail "xl create of ddguest failed"
g_dom=$(guest_domid ddguest)
check "vgrant attach to dom $g_dom with backend=$dd_dom" \
    vgrant attach "$g_dom" "type=blk,target=$ddimg,backend=$dd_dom"
vgrant list

# where the toolstack put the device, and who may touch it
be=/local/domain/$dd_dom/backend/virtio-grant/$g_dom/0
fe=/local/domain/$g_dom/device/virtio-grant/0
[ "$(xenstore-read "$fe/backend-id")" = "$dd_dom" ] ||
    fail "$fe/backend-id is '$(xenstore-read "$fe/backend-id" 2>&1)', expected $dd_dom"
[ "$(xenstore-read "$fe/backend")" = "$be" ] ||
    fail "$fe/backend is '$(xenstore-read "$fe/backend" 2>&1)', expected $be"

wait_guest ddguest 300
rc=$?
guest_log ddguest | sed 's/^/    ddguest| /'
[ "$rc" = 0 ] || { ddlog; fail "guest job failed (rc $rc)"; }
guest_sum=$(guest_log ddguest | sed -n 's/^GUEST-CKSUM //p' | tail -1)
[ -n "$guest_sum" ] || fail "guest printed no checksum"
grep -h '^verified' "$(guest_log_path ddguest)" | sed 's/^/    /'

guest_log vgdd | grep -q "dom $g_dom dev 0: connected" || {
    ddlog
    fail "vgrantd in vgdd never logged 'dom $g_dom dev 0: connected'"
}

# vgrantd's control socket is inside vgdd: vgdd runs `vgrant stats` itself
xenstore-write "$ddhome/data/vgdd-cmd" "stats $g_dom 0" ||
    fail "cannot write $ddhome/data/vgdd-cmd"
wait_xs "$ddhome/data/vgdd-ack" "stats $g_dom 0" 30 || { ddlog; fail "vgdd did not run vgrant stats within 30 s"; }
guest_log vgdd | grep '^DD-STATS|' | sed 's/^/    /'
guest_log vgdd | grep -q "^DD-STATS| .*dom $g_dom dev 0" ||
    fail "vgrant stats in vgdd did not report dom $g_dom dev 0"

# detach while vgdd serves: the backend in vgdd must close and release
check "vgrant detach (backend in domain $dd_dom)" vgrant detach "$g_dom" 0
i=0
until guest_log vgdd | grep -q "dom $g_dom dev 0: released"; do
    i=$((i + 1))
    [ "$i" -gt 40 ] && { ddlog; fail "vgrantd in vgdd never logged the device released"; }
    sleep 0.5
done
rel=$(guest_log vgdd | grep "dom $g_dom dev 0: released" | tail -1)
log "vgdd: $rel"
echo "$rel" | grep -q "released: 0 pages mapped, 0 ports bound" ||
    fail "vgrantd in vgdd kept grants or ports: $rel"
xenstore-read "$be/state" >/dev/null 2>&1 && fail "backend directory $be still exists after detach"
xenstore-read "$fe/state" >/dev/null 2>&1 && fail "frontend directory $fe still exists after detach"
stop_guest ddguest

# vgdd checksums its own image and stops vgrantd
xenstore-write "$ddhome/data/vgdd-cmd" finish ||
    fail "cannot write $ddhome/data/vgdd-cmd"
wait_guest vgdd 60
rc=$?
ddlog
[ "$rc" = 0 ] || fail "driver domain job failed (rc $rc)"
dd_sum=$(guest_log vgdd | sed -n 's/^DD-CKSUM //p' | tail -1)
log "guest cksum: $guest_sum  vgdd's cksum of its image: $dd_sum"
[ -n "$dd_sum" ] || fail "vgdd printed no checksum"
[ "$guest_sum" = "$dd_sum" ] || fail "checksums differ: guest '$guest_sum' vgdd '$dd_sum'"
zero_sum=$(dd if=/dev/zero bs=1M count=$((span / 1048576)) 2>/dev/null | cksum)
[ "$dd_sum" != "$zero_sum" ] || fail "vgdd's image is still all zeroes: the guest's writes never reached it"
guest_log vgdd | grep -q "DD-VGRANTD-EXIT rc=0" || fail "vgrantd in vgdd did not stop cleanly on SIGTERM"
log "all checks passed"
