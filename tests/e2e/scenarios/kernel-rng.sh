#!/bin/sh
# kernel-rng: a virtio-grant rng device (`vgrant attach <dom> type=rng`)
# under the stock kernel's virtio_rng over virtio_grant.ko: virtio_rng binds
# (hw_random lists virtio_rng.N), /dev/hwrng yields 2 x 64 KiB that are
# full, not constant and differ; `vgrant stats` counts the requests and the
# bytes written into the guest's buffers; no BUG/Oops/WARNING; detach
# releases everything.  Needs vgrantd's rng device type.
. "$(dirname "$0")/lib.sh"
need_bin vgrantd vgrant xl

start_vgrantd vgrantd --log-level info
start_guest -k -m 160 -a bytes=65536 krng kernel-rng || fail "xl create of krng failed"
dom=$(guest_domid krng)
vgrant attach "$dom" "type=rng" >"$E2E_WORK/krng-attach.log" 2>&1 ||
    fail "vgrant attach $dom type=rng failed (does this vgrant know the rng type?): $(tr '\n' ' ' <"$E2E_WORK/krng-attach.log")"
wait_guest krng 300
rc=$?
guest_log krng | grep -v '^GUEST-KMSG ' | sed 's/^/    krng| /'
kernel_console_check krng
[ "$rc" = 0 ] || fail "guest job failed (rc $rc)$(guest_log krng | sed -n 's/^GUEST-ERROR /: /p' | head -n1)"
guest_log krng | grep -q '^GUEST-RNG-OK' || fail "the guest did not read the rng"
s=$(vgrant stats "$dom" 0 --json) || fail "vgrant stats $dom 0 failed"
num() { echo "$s" | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }
req=$(num requests) wr=$(num bytes_written) err=$(num errors)
log "vgrant stats: $req requests, $wr bytes written, ${err:-?} errors"
[ -n "$req" ] && [ "$req" -gt 0 ] || fail "vgrant stats counted no request ('$req')"
[ -n "$wr" ] && [ "$wr" -ge 131072 ] || fail "vgrant stats counted $wr bytes written, the guest read 128 KiB"
[ "${err:-0}" = 0 ] || fail "vgrant stats counted $err errors"
check "vgrant detach" vgrant detach "$dom" 0
released_ok "$dom" 0 30
stop_guest krng
log "all checks passed"
