#!/bin/sh
# xl-net: virtio-grant network cards the way users make them, with the
# patched xl (xen-patches/0008, `make e2e-xl`, VGRANT_E2E_XL_DIR) and no
# `vgrant attach`; the guest's stock virtio_net over virtio_grant.ko, on
# bridge xenbr0 (10.99.0.1/24) in dom0, vgrantd in dom0:
#   - `xl virtio-grant-attach` refuses bad net keys (a multicast MAC, a
#     bridge name with a slash, an MTU below 68, mac= on an rng device),
#     each message naming the value, and leaves xenstore as it was;
#   - `xl create` of a guest whose config has `virtio_grant = [ "type=net,
#     bridge=xenbr0, mac=00:16:3e:0a:99:05" ]`: virtio_net binds with that
#     MAC, the tap vg<dom>.0 is in the bridge, `xl virtio-grant-list` shows
#     the card; 100 pings to dom0, none lost; 8 MiB dom0 -> guest over TCP,
#     sha256 equal at both ends;
#   - `xl virtio-grant-attach <dom> type=net,bridge=xenbr0` hot-plugs a
#     second card: the backend picks a locally administered unicast MAC
#     and writes it back, the guest gets a second virtio_net interface
#     with it, its tap is in the bridge; `xl virtio-grant-detach` takes it
#     away (vgrantd releases it, the tap goes) and the first card still
#     pings;
#   - `xl destroy`: vgrantd releases the card (0 pages mapped, 0 ports
#     bound), the tap is gone, no xenstore directory of the guest's devices
#     remains, vgrantd logged no error, the guest kernel no BUG/Oops/WARNING.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fault.lib"
. "$(dirname "$0")/net.lib"
. "$(dirname "$0")/../guest/net-lib.sh"
need_bin vgrantd vgrant xl ip nc sha256sum ping mkfifo xenstore-read

need_patched_xl

GIP=10.99.0.5 DOM0IP=10.99.0.1 MAC=00:16:3e:0a:99:05 MIB=8

net_cleanup_at_exit 5005

net_bridge "$NET_BR" "$DOM0IP/24"
start_vgrantd vgrantd --log-level info

start_guest -k -m 192 -a ip=$GIP/24 xn kernel-net \
    "virtio_grant = [ \"type=net, bridge=$NET_BR, mac=$MAC\" ]" ||
    { bg_log vgrantd | tail -n 10; fail "xl create with virtio_grant = [ \"type=net, ...\" ] failed"; }
dom=$(guest_domid xn)
NET_DIAG_DEVS="$dom:0" NET_DIAG_GUESTS=xn
be=/local/domain/0/backend/virtio-grant/$dom

# ------------------------------------------------- refused net keys -----
xs_devs() { xenstore-list "$be" 2>/dev/null | tr '\n' ' '; }
bad_attach() { # EXPECTED-TEXT SPEC
    _before=$(xs_devs)
    if xl virtio-grant-attach xn "$2" >"$E2E_WORK/xn-bad.log" 2>&1; then
        fail "xl virtio-grant-attach accepted '$2'"
    fi
    grep -qF -- "$1" "$E2E_WORK/xn-bad.log" ||
        fail "xl virtio-grant-attach refused '$2' without naming '$1': $(tr '\n' ' ' <"$E2E_WORK/xn-bad.log")"
    [ "$(xs_devs)" = "$_before" ] ||
        fail "the backend directories changed after the refused '$2': '$_before' -> '$(xs_devs)'"
    log "ok: refused '$2': $(grep -F -- "$1" "$E2E_WORK/xn-bad.log" | head -n1)"
}
bad_attach "mac=01:00:5e:00:00:01: a multicast or zero address" "type=net,bridge=$NET_BR,mac=01:00:5e:00:00:01"
bad_attach "bridge=a/b: not an interface name" "type=net,bridge=a/b"
bad_attach "mtu=9: must be a number in [68, 65535]" "type=net,bridge=$NET_BR,mtu=9"
bad_attach "mac=: type rng has no key mac" "type=rng,mac=$MAC"

# ------------------------------------------------ the config's card -----
kmod_loaded xn
net_up xn "$dom" 0
# net_up compared the guest's MAC with the backend directory's
[ "$(xenstore-read "$be/0/mac")" = "$MAC" ] || fail "the backend directory lost the config's mac=$MAC"
log "ok: the MAC is the config's, $MAC"
tap_in_bridge "$dom" 0
xl virtio-grant-list xn | tee "$E2E_WORK/xn-list.txt" | sed 's/^/    /'
grep -q "^$dom  *0  *0  *net  *grant " "$E2E_WORK/xn-list.txt" ||
    fail "xl virtio-grant-list does not show device 0 (net, grant)"

ping_ok xn "$DOM0IP" 100

log "TCP: $MIB MiB dom0 -> xn"
gcmd xn 60 "sh /e2e/guest/net-tool.sh recv 5005" || fail "xn: cannot listen on port 5005"
net_send "$GIP" 5005 "$MIB" "$E2E_WORK" >"$E2E_WORK/net-send.out" 2>&1 ||
    soft_fail "dom0: $(tr '\n' ' ' <"$E2E_WORK/net-send.out")"
sent=$(grep '^NET-SENT' "$E2E_WORK/net-send.out")
gcmd xn 120 "sh /e2e/guest/net-tool.sh sum 5005 60" || soft_fail "xn: no checksum of the received stream"
got=$(echo "$GOUT" | grep '^NET-RECV')
same_sums dom0 xn "$sent" "$got"

# --------------------------------------------- a hot-plugged card -------
check "xl virtio-grant-attach xn type=net,bridge=$NET_BR" \
    xl virtio-grant-attach xn "type=net,bridge=$NET_BR"
i=0
until hmac=$(xenstore-read "$be/1/mac" 2>/dev/null) && [ -n "$hmac" ]; do
    i=$((i + 1))
    [ "$i" -gt 60 ] && fail "no $be/1/mac 30 s after the attach: the backend wrote no MAC for the hot-plugged card"
    sleep 0.5
done
# locally administered (bit 1 of the first byte), unicast (bit 0 clear)
case $hmac in
    ?[26aeAE]:??:??:??:??:??) log "ok: the backend chose $hmac (locally administered, unicast)" ;;
    *) fail "the backend's MAC for the hot-plugged card is '$hmac', not a locally administered unicast one" ;;
esac
NET_DIAG_DEVS="$dom:0 $dom:1"
i=0
while :; do
    gcmd xn 60 "for n in /sys/class/net/*; do case \$(readlink \$n/device/driver) in */virtio_net) echo \"IF \${n##*/} \$(cat \$n/address)\";; esac; done" || true
    echo "$GOUT" | grep -q "^IF .* $hmac\$" && break
    i=$((i + 1))
    [ "$i" -gt 30 ] && fail "xn has no virtio_net interface with MAC $hmac 60 s after the attach"
    sleep 2
done
log "ok: xn has a second virtio_net interface, $(echo "$GOUT" | grep "$hmac")"
tap_in_bridge "$dom" 1
check "xl virtio-grant-detach xn 1" xl virtio-grant-detach xn 1
released_ok "$dom" 1
tap_gone "$dom" 1
gcmd xn 60 "ls /sys/class/net | tr '\n' ' '; echo" || fail "xn does not answer after the detach"
echo "$GOUT" | grep -qw eth1 && fail "xn still has eth1 after xl virtio-grant-detach: $GOUT"
log "ok: xn's interfaces after the detach: $GOUT"
ping_ok xn "$DOM0IP" 20

# ---------------------------------------------------- xl destroy --------
kernel_console_check xn
check "xl destroy xn" xl destroy xn
released_ok "$dom" 0
tap_gone "$dom" 0
sleep 2
for p in "$be" "/local/domain/$dom"; do
    xenstore-read "$p" >/dev/null 2>&1 || xenstore-list "$p" >/dev/null 2>&1 && fail "$p remains after xl destroy"
done
vgd_alive vgrantd
bad=$(bg_log vgrantd | grep -E ' (error|crit|alert|emerg):' | head -n 5)
[ -z "$bad" ] || fail "vgrantd logged errors: $(echo "$bad" | head -n1)"
net_soft_end
log "all checks passed"
