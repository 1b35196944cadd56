#!/bin/sh
# Guest job of kernel-badbackend: virtio_grant.ko against backends that
# dom0 plays by hand with hostile keys.  Loads the module, waits until it
# has refused $expect of them (kernel log lines "wrote bad <dir>/<key>")
# and kept $masked offers of features from the drivers ("not passed
# on"), prints each as a GUEST-BADKEY or GUEST-MASKED line and
# GUEST-BADBE-REFUSED, then waits
# until dom0 has removed the devices (no virtio-grant-N left on the xen
# bus) and prints GUEST-BADBE-REMOVED.
. /e2e/guest/kernel-lib.sh
expect=${expect:-2}
masked=${masked:-0}
kernel_setup
i=0
until [ "$(dmesg | grep -c 'wrote bad')" -ge "$expect" ] &&
      [ "$(dmesg | grep -c 'not passed on')" -ge "$masked" ]; do
    i=$((i + 1))
    [ "$i" -gt 360 ] && gerr "virtio_grant.ko refused $(dmesg | grep -c 'wrote bad') of the $expect hostile backends and masked $(dmesg | grep -c 'not passed on') of $masked offers within 180 s"
    sleep 0.5
done
dmesg | grep 'wrote bad' | sed 's/^/GUEST-BADKEY /'
dmesg | grep 'not passed on' | sed 's/^/GUEST-MASKED /'
echo "GUEST-BADBE-REFUSED"
i=0
while ls /sys/bus/xen/devices/ | grep -q '^virtio-grant-'; do
    i=$((i + 1))
    [ "$i" -gt 240 ] && gerr "still on the xen bus 120 s after dom0 removed the devices: $(ls /sys/bus/xen/devices | tr '\n' ' ')"
    sleep 0.5
done
echo "GUEST-BADBE-REMOVED"
kernel_done
exit 0
