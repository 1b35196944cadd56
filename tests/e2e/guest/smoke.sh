#!/bin/sh
# Guest job of the smoke scenario (runs in the domU, busybox sh).
# Arguments: token=VALUE (also in the environment as $token).
rc=0
ok()  { echo "GUEST-CHECK ok   $*"; }
bad() { echo "GUEST-CHECK FAIL $*"; rc=1; }

echo "args: $*"
for d in evtchn gntalloc gntdev xenbus; do
    if [ -c /dev/xen/$d ]; then ok "/dev/xen/$d"; else bad "/dev/xen/$d missing"; fi
done

domid=$(xenstore-read domid 2>&1)
case $domid in
    ''|*[!0-9]*) bad "xenstore-read domid: $domid" ;;
    0) bad "domid is 0 (this should be a domU)" ;;
    *) ok "xenstore-read domid = $domid" ;;
esac

if xenstore-write data/e2e-smoke ok; then ok "xenstore-write data/e2e-smoke"; else bad "xenstore-write data/e2e-smoke"; fi
if [ -n "${token:-}" ]; then
    if xenstore-write data/e2e-token "$token"; then ok "token $token written back"; else bad "xenstore-write data/e2e-token"; fi
else
    bad "no token argument reached the guest"
fi
exit $rc
