#!/bin/sh
# smoke: proves the e2e framework itself.
# - dom0: Xen's own grant-table check (test-resource) passes;
# - one PV domU boots from the domU image, gets the guest argument passed
#   with start_guest -a, sees /dev/xen/{evtchn,gntalloc,gntdev,xenbus}, reads
#   its domid through libxenstore over /dev/xen/xenbus and writes under its
#   xenstore data/ dir, which dom0 then reads back.
. "$(dirname "$0")/lib.sh"

need_bin xl xenstore-read test-resource

log "xl info: $(xl info | sed -n 's/^xen_version *: *//p'), free memory $(xl info | sed -n 's/^free_memory *: *//p') MiB"
check "test-resource (grant table / acquire_resource) passes in dom0" test-resource

token=smoke-$$-$(date +%s)
start_guest -k -a token="$token" smoke1 smoke || fail "xl create of guest smoke1 failed"
domid=$(guest_domid smoke1)
[ -n "$domid" ] || fail "guest smoke1 has no domid"

wait_guest smoke1 180
rc=$?
guest_log smoke1 | sed 's/^/    smoke1| /'
[ "$rc" = 0 ] || fail "guest job smoke failed (rc $rc)"

got=$(xenstore-read "/local/domain/$domid/data/e2e-smoke" 2>/dev/null) ||
    fail "dom0 cannot read /local/domain/$domid/data/e2e-smoke"
[ "$got" = ok ] || fail "data/e2e-smoke is '$got', expected 'ok'"
got=$(xenstore-read "/local/domain/$domid/data/e2e-token" 2>/dev/null) ||
    fail "dom0 cannot read /local/domain/$domid/data/e2e-token"
[ "$got" = "$token" ] || fail "guest argument did not arrive: data/e2e-token is '$got', expected '$token'"
log "ok: guest $domid wrote data/e2e-smoke=ok and echoed the token"

stop_guest smoke1
log "all checks passed"
