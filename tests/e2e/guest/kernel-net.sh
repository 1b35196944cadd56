#!/bin/sh
# Guest job of kernel-net: the stock kernel's virtio_net over
# virtio_grant.ko.  Argument ip=A.B.C.D/NN.  Loads virtio_grant and
# virtio_net (with napi_tx=<0|1> from the argument of that name, default
# the driver's own 1), waits (180 s at most) for an interface bound to virtio_net
# (the device dom0 attaches with `vgrant attach <dom> type=net,...`),
# gives it the address, brings it up and prints
#   GUEST-NET-UP if=<name> mac=<mac> mtu=<mtu> driver=virtio_net
# then runs the commands dom0 hands over (guest/remote.sh: RCMD-OUT/END
# lines), e.g. ping and guest/net-tool.sh, until it is destroyed (start it
# with -k).
# Argument driver=netfront (make bench's netfront rows): Xen's own PV
# network driver instead, for a card of the guest's config (vif=[...]):
# loads xen-netfront (no virtio_grant.ko) and waits for an interface bound
# to it (driver "vif"); the rest is the same.
. /e2e/guest/kernel-lib.sh
[ -n "${ip:-}" ] || gerr "no ip= argument"
case ${driver:-virtio_net} in
    virtio_net)
        kernel_setup
        # busybox modprobe loads the dependencies modules.dep lists, not
        # theirs: net_failover needs failover
        for m in failover net_failover; do
            modprobe "$m" || gerr "modprobe $m failed"
        done
        case ${napi_tx:-1} in 0|1) ;; *) gerr "napi_tx '$napi_tx' is not 0 or 1" ;; esac
        modprobe virtio_net napi_tx="${napi_tx:-1}" || gerr "modprobe virtio_net napi_tx=${napi_tx:-1} failed"
        drv=virtio_net
        ;;
    netfront)
        echo 5 >/proc/sys/kernel/printk
        modprobe xen-netfront || gerr "modprobe xen-netfront failed"
        echo "GUEST-KMOD none (driver=netfront: xen-netfront)"
        drv=vif
        ;;
    *) gerr "driver '$driver' is not virtio_net or netfront" ;;
esac

i=0 ifc=""
while [ -z "$ifc" ]; do
    for n in /sys/class/net/*; do
        [ -e "$n/device/driver" ] || continue
        case $(readlink "$n/device/driver") in
            */"$drv") ifc=${n##*/} ;;
        esac
    done
    [ -n "$ifc" ] && break
    i=$((i + 1))
    [ "$i" -gt 360 ] && gerr "no $drv interface within 180 s (interfaces: $(ls /sys/class/net | tr '\n' ' '))"
    sleep 0.5
done
ip link set lo up
ip addr add "$ip" dev "$ifc" || gerr "ip addr add $ip dev $ifc failed"
ip link set "$ifc" up || gerr "ip link set $ifc up failed"
i=0
until [ "$(cat "/sys/class/net/$ifc/carrier" 2>/dev/null)" = 1 ]; do
    i=$((i + 1))
    [ "$i" -gt 60 ] && gerr "$ifc has no carrier after 30 s (operstate $(cat "/sys/class/net/$ifc/operstate"))"
    sleep 0.5
done
echo "GUEST-NET-UP if=$ifc mac=$(cat "/sys/class/net/$ifc/address") mtu=$(cat "/sys/class/net/$ifc/mtu") driver=$drv"
wait=0
. /e2e/guest/remote.sh
