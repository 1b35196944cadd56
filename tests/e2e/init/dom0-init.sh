#!/bin/sh
# /init of the e2e dom0 (busybox sh).  Brings Xen's services up in the order
# xen-in-qemu.md documents, runs the scenarios named on the kernel command
# line with /e2e/runner.sh, and powers the machine off.
#
# Kernel command line words read here:
#   vgscen=a:b:c      scenarios to run (':'-separated; commas would split
#                     QEMU's multiboot module list)
#   vgtimeout=N       per-scenario timeout in seconds (runner default if unset)
#   vgshell=1         drop to a shell on the console instead of powering off
#   vgenv_KEY=VALUE   exported to the scenarios as KEY=VALUE
export PATH=/usr/lib/xen-4.17/bin:/opt/vgrant/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LD_LIBRARY_PATH=/opt/vgrant/lib
export HOME=/root TERM=${TERM:-vt100}
umask 022

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
exec </dev/console >/dev/console 2>&1
# keep kernel chatter off the console the markers are read from
echo 1 >/proc/sys/kernel/printk
hostname dom0

say() { echo "E2E-DOM0: $*"; }

SCEN="" TMO="" SHELL_AT_END=0
for w in $(cat /proc/cmdline); do
    case $w in
        vgscen=*) SCEN=$(echo "${w#vgscen=}" | tr ':' ' ') ;;
        vgtimeout=*) TMO=${w#vgtimeout=} ;;
        vgshell=1) SHELL_AT_END=1 ;;
        vgenv_*=*) w=${w#vgenv_}; export "${w%%=*}=${w#*=}" ;;
    esac
done

finish() {
    echo "E2E-DONE"
    sync
    if [ "$SHELL_AT_END" = 1 ]; then
        say "vgshell=1: starting a shell (exit it to power off)"
        setsid cttyhack sh
    fi
    poweroff -f
    sleep 5
    echo o >/proc/sysrq-trigger
}

# setup_failed REASON: every requested scenario fails with REASON
setup_failed() {
    say "setup FAILED: $*"
    for s in $SCEN; do echo "E2E-RESULT $s FAIL dom0 setup: $*"; done
    [ -n "$SCEN" ] || echo "E2E-RESULT setup FAIL dom0 setup: $*"
    for l in /var/log/xen/*.log; do [ -f "$l" ] && { echo "----- $l"; tail -n 30 "$l"; }; done
    finish
}

say "kernel $(uname -r), scenarios: ${SCEN:-<none>}"
# an image built from the project's .debs (make e2e-deb, image-debs.sh):
# the scenarios start vgrantd as its unit says (lib.sh start_vgrantd)
if [ -f /etc/e2e/packages ]; then
    export E2E_PACKAGED=1
    say "project files from the packages: $(cut -d' ' -f1,2 /etc/e2e/packages | tr '\n' ' ')"
fi

# ---- kernel modules (list made by build-images.sh, dependencies first)
while read -r m; do
    [ -n "$m" ] || continue
    insmod "/lib/modules/$(uname -r)/$m" || setup_failed "insmod $m failed"
done </etc/e2e/modules.load

mkdir -p /proc/xen
mount -t xenfs xenfs /proc/xen || setup_failed "cannot mount xenfs on /proc/xen"
grep -q control_d /proc/xen/capabilities 2>/dev/null || setup_failed "not running as Xen dom0 (/proc/xen/capabilities lacks control_d)"

mkdir -p /run/xen /run/xenstored /var/log/xen/console /var/lib/xen /var/lib/xenstored /run/e2e

# ---- xenstored
say "starting xenstored"
xenstored --pid-file=/run/xenstored.pid >/var/log/xen/xenstored.out 2>&1 ||
    setup_failed "xenstored exited with $?"
i=0
until xenstore-read / >/dev/null 2>&1 || xenstore-exists / 2>/dev/null; do
    i=$((i + 1))
    [ "$i" -gt 60 ] && setup_failed "xenstored did not answer within 30 s"
    sleep 0.5
done

# ---- xen-init-dom0 (dom0's xenstore entries, /local/domain/0 ...)
say "running xen-init-dom0"
xen-init-dom0 >/var/log/xen/xen-init-dom0.log 2>&1 || setup_failed "xen-init-dom0 failed (rc $?)"

# ---- xenconsoled, logging every guest console to
#      /var/log/xen/console/guest-<name>.log
say "starting xenconsoled"
xenconsoled --pid-file=/run/xenconsoled.pid --log=guest --log-dir=/var/log/xen/console \
    >/var/log/xen/xenconsoled.out 2>&1 || setup_failed "xenconsoled exited with $?"
i=0
until [ -s /run/xenconsoled.pid ]; do
    i=$((i + 1))
    [ "$i" -gt 40 ] && setup_failed "xenconsoled did not write its pid file"
    sleep 0.25
done

say "Xen services up ($(xl info 2>/dev/null | sed -n 's/^xen_version *: */xen /p'), $(cut -d' ' -f1 /proc/uptime) s since boot)"

export E2E_GUEST_KERNEL=/e2e/domU/vmlinuz
export E2E_GUEST_RAMDISK=/e2e/domU/domU.img
export E2E_CONSOLE_LOG_DIR=/var/log/xen/console
export E2E_IN_QEMU=1

if [ -n "$SCEN" ]; then
    sh /e2e/runner.sh ${TMO:+-t "$TMO"} $SCEN
else
    say "no scenario requested (vgscen=)"
fi
finish
