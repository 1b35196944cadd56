#!/bin/sh
# kernel-saverestore: `xl save` and `xl restore` of a guest whose
# virtio-grant disk (grant mode, stock virtio_blk over virtio_grant.ko) is
# mounted with files being written.  The old domain's device is released by
# vgrantd (0 pages mapped); the restore is paused until dom0 has attached
# the disk to the new domain (`xl restore -p`, `vgrant attach`, `xl
# unpause`: libxl recreates only the devices it knows); the module
# reconnects on resume (vgrantd logs a connection of the new domain) and
# the guest goes on writing; then fsck.ext4 -fn in the guest is clean,
# every file's checksum matches in the guest, and dom0's e2fsck and loop
# mount of the image find the same checksums.  No BUG/Oops/WARNING.
. "$(dirname "$0")/lib.sh"
need_bin vgrantd vgrant xl e2fsck

img=$E2E_WORK/ksr.img
save=$E2E_WORK/ksr.save
scratch "$img" "$save"
dd if=/dev/zero of="$img" bs=1M count=0 seek=128 2>/dev/null || fail "cannot create $img"
files_now() { guest_log ksr | sed -n 's/^GUEST-SR-FILE //p' | tail -n 1; }

start_bg vgrantd vgrantd --foreground --log-level info
start_guest -k -m 128 -a size=128 ksr kernel-sr || fail "xl create of ksr failed"
dom=$(guest_domid ksr)
check "vgrant attach" vgrant attach "$dom" "type=blk,target=$img"
i=0
until [ "$(files_now)" -ge 20 ] 2>/dev/null; do
    i=$((i + 1))
    [ "$i" -gt 360 ] && { guest_log ksr | grep -v GUEST-KMSG | tail -n 20; fail "the guest never got to writing files"; }
    sleep 0.5
done
before=$(files_now)
t0=$(_now)
log "xl save of dom $dom with $before files written, writing on"
check "xl save" xl save ksr "$save"
log "saved in $(($(_now) - t0)) s ($(du -m "$save" | cut -f1) MiB) at file $(files_now)"
released_ok "$dom" 0 30
check "vgrant detach of the saved domain's device" vgrant detach "$dom" 0
t0=$(_now)
check "xl restore -p" xl restore -p "$save"
ndom=$(guest_domid ksr)
[ -n "$ndom" ] && [ "$ndom" != "$dom" ] || fail "no new domain after the restore (domid '$ndom')"
check "vgrant attach to the restored dom $ndom" vgrant attach "$ndom" "type=blk,target=$img"
check "xl unpause" xl unpause ksr
log "restored as dom $ndom in $(($(_now) - t0)) s"
rm -f "$save"
# the guest writes on: 10 more files than it had when it was suspended
at=$(files_now)
i=0
until [ "$(files_now)" -ge $((at + 10)) ] 2>/dev/null; do
    i=$((i + 1))
    if [ "$i" -gt 240 ]; then
        guest_log ksr | grep -v GUEST-KMSG | tail -n 20 | sed 's/^/    ksr| /'
        bg_log vgrantd | tail -n 10
        fail "the guest wrote nothing after the restore (still at file $(files_now))"
    fi
    sleep 0.5
done
log "the guest wrote on after the restore: file $(files_now)"
xenstore-write "/local/domain/$ndom/data/stop" 1 || fail "cannot write data/stop"
wait_guest ksr 600
rc=$?
guest_log ksr | grep -v '^GUEST-KMSG \|^GUEST-SUM \|^GUEST-SR-FILE ' | sed 's/^/    ksr| /'
kernel_console_check ksr
[ "$rc" = 0 ] || fail "guest job failed (rc $rc)$(guest_log ksr | sed -n 's/^GUEST-ERROR /: /p' | head -n1)"
bg_log vgrantd | grep -q "dom $ndom dev 0: connected" || fail "the restored domain never connected to vgrantd"
log "$(guest_log ksr | grep '^GUEST-SR-OK')"
check "vgrant detach" vgrant detach "$ndom" 0
released_ok "$ndom" 0 30
stop_guest ksr
guest_sums ksr sr "$E2E_WORK/ksr.sums"
image_check sr "$img" "$E2E_WORK/ksr.sums"
log "all checks passed"
