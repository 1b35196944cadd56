#!/bin/sh
# xl-driverdomain: the patched xl (make e2e-xl) with the backend in a driver
# domain.  A PV domU "vgdd" (driver_domain=1) runs vgrantd and owns the
# backing image (guest job vgrant-dd, as in the driverdomain scenario); a
# guest is created with
#     virtio_grant = [ "type=blk, target=<path in vgdd>, backend=vgdd" ]
# and no `vgrant attach`: xl resolves the name, libxl writes the two
# directories (backend one owned by vgdd) and waits for vgdd's vgrantd to
# answer.  The keys and permissions are checked (backend directory owned by
# vgdd, frontend readable by vgdd, backend-id = vgdd), the guest verifies
# its data, and the checksum vgdd computes of its image matches the
# guest's.  Removal: `xl virtio-grant-detach` gets the device closed by
# vgdd's vgrantd (nothing left mapped) but, as vgdd runs no `xl devd`,
# gives up after libxl's 10 s naming the backend directory; `-f` removes
# it; a hot-plugged device (`xl virtio-grant-attach ... backend=vgdd`)
# goes away with `xl destroy` of the guest, leaving no directory behind.
. "$(dirname "$0")/lib.sh"
need_bin xl xenstore-read xenstore-write xenstore-ls

need_patched_xl

ddimg=/run/vgdd/disk.img       # a path inside vgdd, not in dom0
span=$((8 * 1024 * 1024))

perms_of() {
    xenstore-ls -p "${1%/*}" 2>/dev/null |
        sed -n "s/^${1##*/} = .*(\([^()]*\))\$/\1/p" | head -n1
}

start_driver_domain "$ddimg" 16 "$span"
ddlog() { guest_log vgdd | sed 's/^/    vgdd| /'; }
log "vgrantd runs in driver domain vgdd (domain $dd_dom)"

# the guest names its backend by the driver domain's name
start_guest -k -m 128 -a devids=0 -a span=$span -a cksum=1 -a seed=41 xlddg xl-verify \
    "virtio_grant = [ \"type=blk, target=$ddimg, backend=vgdd\" ]" ||
    { ddlog; fail "xl create of a guest with backend=vgdd failed"; }
g_dom=$(guest_domid xlddg)
[ -n "$g_dom" ] || fail "no domid for xlddg"

be=$ddhome/backend/virtio-grant/$g_dom/0
fe=/local/domain/$g_dom/device/virtio-grant/0
[ "$(xenstore-read "$fe/backend-id")" = "$dd_dom" ] ||
    fail "$fe/backend-id is '$(xenstore-read "$fe/backend-id" 2>&1)', expected $dd_dom"
[ "$(xenstore-read "$fe/backend")" = "$be" ] ||
    fail "$fe/backend is '$(xenstore-read "$fe/backend" 2>&1)', expected $be"
[ "$(xenstore-read "$be/target")" = "$ddimg" ] || fail "$be/target is not $ddimg"
[ "$(perms_of "$be")" = "n$dd_dom,r$g_dom" ] ||
    fail "$be has permissions '$(perms_of "$be")', expected n$dd_dom,r$g_dom"
[ "$(perms_of "$fe")" = "n$g_dom,r$dd_dom" ] ||
    fail "$fe has permissions '$(perms_of "$fe")', expected n$g_dom,r$dd_dom"
log "ok: backend directory $be owned by vgdd, frontend grants to domain $dd_dom"
xl virtio-grant-list xlddg | sed 's/^/    /'

wait_guest xlddg 300
rc=$?
guest_log xlddg | sed 's/^/    xlddg| /'
[ "$rc" = 0 ] || { ddlog; fail "guest job failed (rc $rc)"; }
guest_sum=$(guest_log xlddg | sed -n 's/^GUEST-CKSUM-0 //p' | tail -n1)
[ -n "$guest_sum" ] || fail "guest printed no checksum"
guest_log vgdd | grep -q "dom $g_dom dev 0: connected" ||
    { ddlog; fail "vgrantd in vgdd never logged 'dom $g_dom dev 0: connected'"; }

# xl virtio-grant-detach: vgdd's vgrantd closes the device (online=0 ->
# Closed) at once, but removing the backend directory is the driver
# domain's job (`xl devd`, which this vgdd does not run): libxl gives up
# after its 10 s device timeout, naming the directory.
t0=$(_now)
if xl virtio-grant-detach xlddg 0 >"$E2E_WORK/detach.log" 2>&1; then
    fail "xl virtio-grant-detach succeeded although vgdd runs no xl devd"
fi
took=$(($(_now) - t0))
sed 's/^/    detach: /' "$E2E_WORK/detach.log"
grep -q "timed out while waiting for $be to be removed" "$E2E_WORK/detach.log" ||
    fail "xl virtio-grant-detach did not name $be"
[ "$took" -le 40 ] || fail "xl virtio-grant-detach took $took s to give up"
[ "$(xenstore-read "$be/state")" = 6 ] ||
    fail "backend state is '$(xenstore-read "$be/state" 2>&1)' after the detach, expected 6 (Closed)"
i=0
until guest_log vgdd | grep -q "dom $g_dom dev 0: released"; do
    i=$((i + 1))
    [ "$i" -gt 40 ] && { ddlog; fail "vgrantd in vgdd never released the device"; }
    sleep 0.5
done
rel=$(guest_log vgdd | grep "dom $g_dom dev 0: released" | tail -1)
echo "$rel" | grep -q "released: 0 pages mapped, 0 ports bound" ||
    fail "vgrantd in vgdd kept grants or ports: $rel"
log "ok: detach without xl devd gave up after $took s; vgdd closed the device: $rel"

# -f removes the directories anyway (xl still reports the timeout)
t0=$(_now)
xl virtio-grant-detach -f xlddg 0 >"$E2E_WORK/detach-f.log" 2>&1
frc=$?
sed 's/^/    detach -f: /' "$E2E_WORK/detach-f.log"
for p in "$be" "$fe" "/libxl/$g_dom/device/virtio-grant/0"; do
    if xenstore-read "$p" >/dev/null 2>&1 || xenstore-list "$p" >/dev/null 2>&1; then
        fail "$p remains after xl virtio-grant-detach -f"
    fi
done
i=0
until guest_log vgdd | grep -q "dom $g_dom dev 0: backend directory removed"; do
    i=$((i + 1))
    [ "$i" -gt 40 ] && { ddlog; fail "vgrantd in vgdd did not see its backend directory go"; }
    sleep 0.5
done
log "ok: detach -f (rc $frc after $(($(_now) - t0)) s) removed device 0; vgdd saw its directory go"

# hot-plug a device served by vgdd, then xl destroy the guest with it
check "xl virtio-grant-attach backend=vgdd" \
    xl virtio-grant-attach xlddg "type=blk,target=$ddimg,backend=vgdd,readonly=1"
hdev=$(xl virtio-grant-list xlddg | sed -n "s|^$g_dom  *\([0-9]*\)  *$dd_dom  *blk .*$ddimg\$|\1|p")
[ -n "$hdev" ] || fail "xl virtio-grant-list does not show the hot-plugged device"
st=$(xenstore-read "$ddhome/backend/virtio-grant/$g_dom/$hdev/state")
case $st in 2|3|4) ;; *) fail "hot-plugged device $hdev: backend state '$st' (vgdd did not answer)" ;; esac
log "ok: hot-plugged device $hdev, vgdd answered (backend state $st)"

# xl destroy: libxl removes both directories, vgdd's vgrantd lets go
removed_line="dom $g_dom dev $hdev: backend directory removed"
removed_before=$(guest_log vgdd | grep -c "$removed_line")
stop_guest xlddg
xl domid xlddg >/dev/null 2>&1 && fail "xlddg still exists after xl destroy"
for p in "$ddhome/backend/virtio-grant/$g_dom" "/local/domain/$g_dom" "/libxl/$g_dom"; do
    if xenstore-read "$p" >/dev/null 2>&1 || xenstore-list "$p" >/dev/null 2>&1; then
        fail "$p remains after xl destroy"
    fi
done
log "ok: after xl destroy no directory of domain $g_dom remains"
i=0
until [ "$(guest_log vgdd | grep -c "$removed_line")" -gt "$removed_before" ]; do
    i=$((i + 1))
    [ "$i" -gt 40 ] && { ddlog; fail "vgrantd in vgdd did not see its backend directory go"; }
    sleep 0.5
done

xenstore-write "$ddhome/data/vgdd-cmd" finish || fail "cannot write $ddhome/data/vgdd-cmd"
wait_guest vgdd 60
rc=$?
guest_log vgdd | grep -v '^DD-STATS|' | sed 's/^/    vgdd| /'
[ "$rc" = 0 ] || fail "driver domain job failed (rc $rc)"
dd_sum=$(guest_log vgdd | sed -n 's/^DD-CKSUM //p' | tail -1)
log "guest cksum: $guest_sum  vgdd's cksum of its image: $dd_sum"
[ -n "$dd_sum" ] || fail "vgdd printed no checksum"
[ "$guest_sum" = "$dd_sum" ] || fail "checksums differ: guest '$guest_sum' vgdd '$dd_sum'"
log "all checks passed"
