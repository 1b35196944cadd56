#!/bin/sh
# kernel-saverestore: suspend and resume of a guest whose virtio-grant disk
# (grant mode, stock virtio_blk over virtio_grant.ko) is mounted, with files
# being written and fio keeping direct I/O in flight on the same filesystem,
# twice:
#  1. `xl save -c` (a checkpoint: the guest suspends, is saved and resumes
#     as a *cancelled* suspend, the same domain and backend): the module's
#     freeze drains and closes the session (vgrantd releases it, 0 pages
#     mapped), its thaw reconnects (vgrantd connects the same domain again)
#     and the guest writes on;
#  2. `xl save`, then `xl restore -p`, `vgrant attach` to the new domain
#     (libxl recreates only the devices it knows), `xl unpause`: the module
#     reconnects the same virtio device (same /dev/vdX, the filesystem stays
#     mounted) to the new domain's backend and the guest writes on.
# Then fsck.ext4 -fn in the guest is clean, every file's checksum matches in
# the guest, and dom0's e2fsck and loop mount of the image find the same
# checksums.  The module reports 2 resumes and 0 failed requests.
#  3. `xl save`, `xl restore` with no `vgrant attach`: the module fails the
#     device (a reader in the guest sees its disk fail and disappear), the
#     resume does not hang.
# No BUG/Oops/WARNING in the guest's console.
. "$(dirname "$0")/lib.sh"
need_bin vgrantd vgrant xl e2fsck

img=$E2E_WORK/ksr.img
save=$E2E_WORK/ksr.save
scratch "$img" "$save"
dd if=/dev/zero of="$img" bs=1M count=0 seek=128 2>/dev/null || fail "cannot create $img"
files_now() { guest_log ksr | sed -n 's/^GUEST-SR-FILE //p' | tail -n 1; }

start_vgrantd vgrantd --log-level info
start_guest -k -m 128 -a size=128 ksr kernel-sr || fail "xl create of ksr failed"
dom=$(guest_domid ksr)
check "vgrant attach" vgrant attach "$dom" "type=blk,target=$img"
i=0
until [ "$(files_now)" -ge 20 ] 2>/dev/null; do
    i=$((i + 1))
    [ "$i" -gt 600 ] && { guest_log ksr | grep -v GUEST-KMSG | tail -n 20; fail "the guest never got to writing files"; }
    sleep 0.5
done
# write N more files than now, or fail saying WHAT
writes_on() {
    _at=$(files_now) _i=0
    until [ "$(files_now)" -ge $((_at + $1)) ] 2>/dev/null; do
        _i=$((_i + 1))
        if [ "$_i" -gt 480 ]; then
            guest_log ksr | grep -v GUEST-KMSG | tail -n 20 | sed 's/^/    ksr| /'
            bg_log vgrantd | tail -n 10
            fail "the guest wrote nothing $2 (still at file $(files_now))"
        fi
        sleep 0.5
    done
    log "the guest wrote on $2: file $(files_now)"
}
connects() { bg_log vgrantd | grep -c "dom $1 dev 0: connected"; }

# 1. a cancelled suspend: xl save -c resumes the same domain
t0=$(_now)
log "xl save -c (checkpoint) of dom $dom at file $(files_now), writing on"
check "xl save -c" xl save -c ksr "$save"
log "checkpointed in $(($(_now) - t0)) s at file $(files_now)"
rm -f "$save"
[ "$(guest_domid ksr)" = "$dom" ] || fail "the checkpointed guest is not dom $dom any more"
released_ok "$dom" 0 30
writes_on 10 "after the cancelled suspend"
[ "$(connects "$dom")" -ge 2 ] || { bg_log vgrantd | tail -n 20; fail "dom $dom did not connect again after the cancelled suspend"; }

# 2. save and restore into a new domain
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
writes_on 10 "after the restore"
xenstore-write "/local/domain/$ndom/data/stop" 1 || fail "cannot write data/stop"
wait_guest ksr 600
rc=$?
guest_log ksr | grep -v '^GUEST-KMSG \|^GUEST-SUM \|^GUEST-SR-FILE ' | sed 's/^/    ksr| /'
kernel_console_check ksr
[ "$rc" = 0 ] || fail "guest job failed (rc $rc)$(guest_log ksr | sed -n 's/^GUEST-ERROR /: /p' | head -n1)"
bg_log vgrantd | grep -q "dom $ndom dev 0: connected" || fail "the restored domain never connected to vgrantd"
log "$(guest_log ksr | grep '^GUEST-SR-OK')"
log "background fio: $(guest_log ksr | sed -n 's/^GUEST-SR-FIO //p' | tail -n 1)"
# the same virtio device both times, nothing failed on the way
ctr=$(guest_log ksr | sed -n 's/^GUEST-SR-COUNTERS //p' | tail -n 1)
log "module counters: $ctr"
case " $ctr " in
    *" resumes=2 "*) ;;
    *) fail "the module did not resume its device twice ($ctr)" ;;
esac
case " $ctr " in
    *" failed_requests=0 "*) ;;
    *) fail "requests failed across the suspends ($ctr)" ;;
esac
guest_log ksr | grep 'GUEST-KMSG.*virtio-grant.*\(suspend:\|resume\)' | sed 's/^GUEST-KMSG /    ksr| /'
[ "$(guest_log ksr | grep -c 'GUEST-KMSG.*resumed: virtio[0-9]* reconnected')" = 2 ] ||
    fail "the guest's log does not show two reconnects of the same virtio device"

# 3. a restore with no backend (the toolstack does not recreate the
# device): the module gives up on the device instead of hanging, the
# guest's reader sees the disk fail and go, the kernel stays clean
i=0
until guest_log ksr | grep -q '^GUEST-SR-PROBE ok'; do
    i=$((i + 1))
    [ "$i" -gt 60 ] && fail "the guest's disk reader never reported"
    sleep 0.5
done
check "xl save (3)" xl save ksr "$save"
released_ok "$ndom" 0 30
check "vgrant detach of the saved domain's device" vgrant detach "$ndom" 0
check "xl restore without the device" xl restore "$save"
rm -f "$save"
i=0
until guest_log ksr | grep -q '^GUEST-SR-PROBE gone'; do
    i=$((i + 1))
    if [ "$i" -gt 180 ]; then
        guest_log ksr | grep -v '^GUEST-KMSG \|^GUEST-SUM \|^GUEST-SR-FILE ' | tail -n 15 | sed 's/^/    ksr| /'
        fail "after a restore with no backend the disk neither failed nor went away within 90 s"
    fi
    sleep 0.5
done
guest_log ksr | grep 'GUEST-SR-PROBE\|virtio-grant.*resume' | grep -v GUEST-KMSG | tail -n 6 | sed 's/^/    ksr| /'
guest_log ksr | grep -v GUEST-KMSG | grep -q 'resume: virtio[0-9]* has no backend: its I/O fails' ||
    fail "the module did not report the device it gave up on"
log "ok: restored with no backend: the disk failed and was removed after $((i / 2)) s"
kernel_console_check ksr
stop_guest ksr
guest_sums ksr sr "$E2E_WORK/ksr.sums"
image_check sr "$img" "$E2E_WORK/ksr.sums"
log "all checks passed"
