#!/bin/sh
# fault-reattach: the re-attach race and domid reuse on real Xen.
# 1. Guest ra uses device 0 (image A, read-write).  vgrantd is stopped
#    (SIGSTOP) so it cannot see what follows: `vgrant detach` (gives up
#    waiting after 1 s and removes the device anyway) and `vgrant attach`
#    of the same domain and devid with image B and readonly=1; then SIGCONT.
#    The guest must now see a read-only device holding B's data, its write
#    must be refused, and A must be unchanged since the detach.
# 2. Domain reuse: ra is destroyed (its device stays in xenstore, no
#    detach).  Xen's xl does not reuse a domid soon, so dom0 writes what a
#    new domain with the same id would find: the frontend directory
#    /local/domain/<id>/device/virtio-grant/0 pointing at the old backend,
#    state Initialising -- once with vgrantd running, once while it is
#    stopped across the destroy.  vgrantd must keep the dead domain's
#    device Closed (never InitWait or Connected again, nothing mapped).
# Ends with vgrantd alive, 0 pages/0 ports released and a second guest
# verifying.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fault.lib"
need_bin vgrantd vgrant xl cksum xenstore-write xenstore-rm
need_guest_bin vgrant-io

imga=$E2E_WORK/ra-a.img imgb=$E2E_WORK/ra-b.img
dd if=/dev/zero of="$imga" bs=1M count=16 2>/dev/null || fail "cannot create $imga"
dd if=/dev/zero of="$imgb" bs=1M count=16 2>/dev/null || fail "cannot create $imgb"
dd if=/dev/urandom of="$imgb" bs=1M count=4 conv=notrunc 2>/dev/null
b_sum=$(img_cksum "$imgb" 0 4)

vgd_start
survivor_start
start_guest -k -m 128 ra remote || fail "xl create ra"
rdom=$(guest_domid ra)
be=/local/domain/0/backend/virtio-grant/$rdom/0
check "attach A to dom $rdom" vgrant attach "$rdom" "type=blk,target=$imga"
id1=$(xenstore-read "$be/attach-id")
gcmd ra 200 "vgrant-io info 0 && vgrant-io verify 0 --sizes 4K,64K --count 8 --depth 4 --span 4M --seed 12" ||
    fail "first attach: verify failed"
echo "$GOUT" | grep -q '^read-only: *no' || fail "first attach is not read-write"
a_sum=$(img_cksum "$imga" 0 16)

# --- the race: detach + re-attach while vgrantd cannot look
pid=$(vgd_pid)
kill -STOP "$pid" || fail "cannot stop vgrantd"
log "vgrantd (pid $pid) stopped"
vgrant detach "$rdom" 0 --timeout 1 >"$E2E_WORK/ra-detach.txt" 2>&1
drc=$?
sed 's/^/    detach| /' "$E2E_WORK/ra-detach.txt"
[ "$drc" = 0 ] || { kill -CONT "$pid"; fail "vgrant detach failed (rc $drc)"; }
vgrant attach "$rdom" "type=blk,target=$imgb,readonly=1" || { kill -CONT "$pid"; fail "re-attach failed"; }
id2=$(xenstore-read "$be/attach-id")
kill -CONT "$pid"
log "vgrantd continued; attach-id $id1 -> $id2"
[ -n "$id2" ] && [ "$id2" != "$id1" ] || fail "the re-attach did not get a new attach-id"

gcmd ra 100 "vgrant-io info 0" || fail "info after the re-attach failed"
echo "$GOUT" | grep -q '^read-only: *yes' || fail "after the re-attach the guest does not see a read-only device"
gcmd ra 100 "vgrant-io cksum 0 --offset 0 --length 4M" || fail "reading after the re-attach failed"
[ "$(echo "$GOUT" | tail -n1)" = "$b_sum" ] ||
    fail "after the re-attach the guest reads '$(echo "$GOUT" | tail -n1)', image B holds '$b_sum' (old image served?)"
gcmd ra 100 "vgrant-io write 0 --offset 0 --length 64K --seed 13" &&
    fail "a write to the re-attached read-only device succeeded"
[ "$(img_cksum "$imga" 0 16)" = "$a_sum" ] || fail "image A changed after its detach"
[ "$(img_cksum "$imgb" 0 4)" = "$b_sum" ] || fail "read-only image B changed"
bg_log vgrantd | grep "dom $rdom dev 0" | grep -i 're-attached\|removed\|blk:' | sed 's/^/    vgrantd| /'
log "ok: the re-attach serves image B read-only; A unchanged"

# --- domid reuse, vgrantd running
log "destroying ra (dom $rdom) with its device still attached"
check "xl destroy ra" xl destroy ra
i=0
until bg_log vgrantd | grep -q "dom $rdom dev 0: .*frontend domain $rdom is gone"; do
    i=$((i + 1)); [ $i -gt 60 ] && { bg_log vgrantd | tail; fail "vgrantd did not notice dom $rdom is gone"; }
    sleep 0.5
done
wait_xs "$be/state" 6 20 || fail "the dead domain's device is not Closed ($(xenstore-read "$be/state"))"
forge_frontend() {
    fe=/local/domain/$rdom/device/virtio-grant/0
    xenstore-write "$fe/backend" "$be" "$fe/backend-id" 0 "$fe/state" 1 ||
        fail "cannot write $fe"
}
nlines=$(bg_log vgrantd | wc -l)
forge_frontend
log "wrote a frontend directory for a new dom $rdom (state Initialising)"
sleep 4
xenstore-write "/local/domain/$rdom/device/virtio-grant/0/state" 1   # poke again
sleep 2
st=$(xenstore-read "$be/state")
[ "$st" = 6 ] || fail "the dead domain's device went to state $st for the forged frontend"
bg_log vgrantd | tail -n +$((nlines + 1)) | grep "dom $rdom dev 0" | sed 's/^/    vgrantd| /'
bg_log vgrantd | tail -n +$((nlines + 1)) | grep -q "dom $rdom dev 0: \(frontend reconnecting\|connected\)" &&
    fail "vgrantd served the dead domain's device again"
live_zero "$rdom" 0
xenstore-rm "/local/domain/$rdom" 2>/dev/null
check "detach the dead dom $rdom's device" vgrant detach "$rdom" 0
released_ok "$rdom" 0

# --- domid reuse, vgrantd stopped across the destroy
start_guest -k -m 128 rb remote || fail "xl create rb"
rdom=$(guest_domid rb)
be=/local/domain/0/backend/virtio-grant/$rdom/0
check "attach A to dom $rdom" vgrant attach "$rdom" "type=blk,target=$imga"
gcmd rb 200 "vgrant-io verify 0 --sizes 4K --count 4 --depth 4 --span 1M --seed 14" || fail "rb: verify failed"
kill -STOP "$pid"
xl destroy rb || { kill -CONT "$pid"; fail "xl destroy rb"; }
forge_frontend
nlines=$(bg_log vgrantd | wc -l)
kill -CONT "$pid"
log "dom $rdom destroyed and its frontend directory forged while vgrantd was stopped"
sleep 5
st=$(xenstore-read "$be/state")
bg_log vgrantd | tail -n +$((nlines + 1)) | grep "dom $rdom dev 0" | sed 's/^/    vgrantd| /'
[ "$st" = 6 ] || [ "$st" = 5 ] || fail "the dead domain's device is in state $st"
bg_log vgrantd | tail -n +$((nlines + 1)) | grep -q "dom $rdom dev 0: \(frontend reconnecting\|connected\)" &&
    fail "vgrantd served the dead domain's device again"
live_zero "$rdom" 0
xenstore-rm "/local/domain/$rdom" 2>/dev/null
log "ok: the dead domain's device was not served to the forged new domain"

survivor_verify
vgd_alive
check "detach the dead domain's device" vgrant detach "$rdom" 0
released_ok "$rdom" 0
vgrant detach "$sdom" 0 >/dev/null
released_ok "$sdom" 0
stop_guest survivor
log "all checks passed"
