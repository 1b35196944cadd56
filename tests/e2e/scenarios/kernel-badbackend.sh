#!/bin/sh
# kernel-badbackend: virtio_grant.ko against a hostile backend.  No
# vgrantd: after `vgrant attach` (the toolstack's keys), the scenario
# writes the backend's keys itself and says InitWait, for two devices:
#   0: features = "0x300000000<newline>VGFORGED line<ESC>[2J", a value
#      that also tries to forge a line of the guest's kernel log and to
#      clear its console;
#   1: device-id = "4<newline>" (kstrtoull alone would take it);
#   2: mode = static, region = 268435456 (256 MiB: the protocol's limit,
#      above the module's max_region_pages, 16 MiB by default): the guest
#      (160 MiB) must refuse it, not allocate it (before the cap it
#      allocated and granted it at every connect);
#   3: a net device (device-id 1) offering VIRTIO_NET_F_CTRL_VQ: the guest
#      must say it does not pass it on (virtio_net spins, RTNL held, for
#      the control queue's answers), and go on.
# The guest must refuse the first three, each with one kernel log line naming the
# backend directory, the key and the value escaped (\n, \e), no line of
# its kernel log or console may start with VGFORGED, the devices must
# leave the guest's xen bus when dom0 removes them, and its kernel must
# report no BUG/Oops/WARNING.
. "$(dirname "$0")/lib.sh"
need_bin vgrant xl xenstore-write
# a vgrantd would answer these devices itself
pgrep -x vgrantd >/dev/null 2>&1 && fail "a vgrantd is already running in dom0"

start_guest -k -m 160 -a expect=3 -a masked=1 kbb kernel-badbe || fail "xl create of kbb failed"
dom=$(guest_domid kbb)
nl='
'
esc=$(printf '\033')
for dev in 0 1 2 3; do
    vgrant attach "$dom" "type=rng" >"$E2E_WORK/kbb-attach-$dev.log" 2>&1 ||
        fail "vgrant attach $dom type=rng: $(tr '\n' ' ' <"$E2E_WORK/kbb-attach-$dev.log")"
    be=/local/domain/0/backend/virtio-grant/$dom/$dev
    case $dev in
    0) id=4 features="0x300000000${nl}VGFORGED line${esc}[2J" ;;
    1) id="4${nl}" features=0x300000000 ;;
    2) id=4 features=0x300000000 ;;
    3) id=1 features=0x300020000 ;;   # VIRTIO_NET_F_CTRL_VQ (bit 17)
    esac
    xenstore-write "$be/device-id" "$id" "$be/features" "$features" \
        "$be/max-queues" 1 "$be/max-queue-size" 256 "$be/config" "" \
        "$be/config-generation" 0 || fail "writing dev $dev's backend keys"
    if [ "$dev" = 2 ]; then
        xenstore-write "$be/mode" static "$be/region" 268435456 ||
            fail "writing dev 2's region"
    fi
    xenstore-write "$be/state" 2 || fail "writing dev $dev's state"
done

i=0
until guest_log kbb | grep -q '^GUEST-BADBE-REFUSED'; do
    i=$((i + 1))
    if [ "$i" -gt 480 ] || ! guest_domid kbb >/dev/null; then
        guest_log kbb | grep -v '^GUEST-KMSG' | tail -n 20 | sed 's/^/    kbb| /'
        fail "the guest did not refuse the three backends within 240 s"
    fi
    sleep 0.5
done
guest_log kbb | grep '^GUEST-BADKEY' | sed 's/^/    kbb| /'
# the values as the guest logged them: escaped, on one line each
guest_log kbb | grep '^GUEST-BADKEY' | grep -F "virtio-grant/$dom/0/features" |
    grep -qF "'0x300000000\\nVGFORGED line\\e[2J'" ||
    fail "no kernel line of the guest shows dev 0's features escaped"
guest_log kbb | grep '^GUEST-BADKEY' | grep -F "virtio-grant/$dom/1/device-id" |
    grep -qF "'4\\n'" ||
    fail "no kernel line of the guest refuses dev 1's device-id '4\\n'"
guest_log kbb | grep '^GUEST-BADKEY' | grep -F "virtio-grant/$dom/2/region" |
    grep -F "'268435456'" | grep -qF "max_region_pages" ||
    fail "no kernel line of the guest refuses dev 2's region of 256 MiB"
guest_log kbb | grep '^GUEST-MASKED' | sed 's/^/    kbb| /'
guest_log kbb | grep '^GUEST-MASKED' | grep -F "virtio-grant-3" |
    grep -qF "control queue features 0x20000: not passed on" ||
    fail "the guest did not say it keeps dev 3's control queue from virtio_net"
forged=$(guest_log kbb | grep -E '(^|\] |^GUEST-KMSG )VGFORGED' | head -n 1)
[ -z "$forged" ] || fail "the backend's text made a line of its own in the guest's log: $forged"
log "ok: all three refused, values escaped, no forged line"

for dev in 0 1 2 3; do
    check "vgrant detach dev $dev" vgrant detach "$dom" "$dev" --timeout 3
done
wait_guest kbb 180
rc=$?
guest_log kbb | grep '^GUEST-BADBE-REMOVED\|^GUEST-ERROR' | sed 's/^/    kbb| /'
[ "$rc" = 0 ] || fail "guest job failed (rc $rc)$(guest_log kbb | sed -n 's/^GUEST-ERROR /: /p' | head -n1)"
kernel_console_check kbb
stop_guest kbb
log "all checks passed"
