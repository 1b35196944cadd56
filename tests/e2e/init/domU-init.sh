#!/bin/sh
# /init of an e2e domU (busybox sh).  Loads the Xen device modules, then runs
# the guest job named on the kernel command line and prints its exit status:
#   GUEST-BEGIN job=<job> domid=<id>
#   GUEST-DONE rc=<rc>
# on the guest console (hvc0), which dom0's xenconsoled logs to
# /var/log/xen/console/guest-<name>.log.
#
# Kernel command line words read here (lib.sh's start_guest writes them):
#   vgjob=JOB          run /e2e/guest/JOB.sh
#   vgname=NAME        the domain's name, exported as E2E_GUEST_NAME
#   vgarg_KEY=VALUE    exported as KEY=VALUE and passed as "KEY=VALUE"
#                      positional arguments to the job, in order
#   vgkeep=1           stay up after the job (default: power off)
export PATH=/opt/vgrant/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LD_LIBRARY_PATH=/opt/vgrant/lib
export HOME=/root
umask 022

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
exec </dev/console >/dev/console 2>&1
echo 1 >/proc/sys/kernel/printk
# an image built from the project's .debs (make e2e-deb)
[ -f /etc/e2e/packages ] && export E2E_PACKAGED=1

JOB="" KEEP=0
set --
for w in $(cat /proc/cmdline); do
    case $w in
        vgjob=*) JOB=${w#vgjob=} ;;
        vgname=*) export E2E_GUEST_NAME="${w#vgname=}" ;;
        vgkeep=1) KEEP=1 ;;
        vgarg_*=*)
            w=${w#vgarg_}
            export "${w%%=*}=${w#*=}"
            set -- "$@" "$w"
            ;;
    esac
done

for m in $(cat /etc/e2e/modules.load); do
    args=
    # gntalloc lets userspace grant 1024 pages by default: too few for a
    # static region of 4 MiB plus the rings (module parameter "limit")
    case $m in */xen-gntalloc.ko*) args="limit=65536" ;; esac
    insmod "/lib/modules/$(uname -r)/$m" $args || echo "GUEST-WARN insmod $m failed"
done
mkdir -p /proc/xen
mount -t xenfs xenfs /proc/xen 2>/dev/null || echo "GUEST-WARN cannot mount xenfs"

# devtmpfs creates the /dev/xen nodes as the drivers register; wait for the
# ones the guest tools rely on (xenbus is libxenstore's way to xenstore)
i=0
while [ ! -c /dev/xen/xenbus ] || [ ! -c /dev/xen/evtchn ] || [ ! -c /dev/xen/gntalloc ] || [ ! -c /dev/xen/gntdev ]; do
    i=$((i + 1))
    if [ "$i" -gt 50 ]; then
        echo "GUEST-WARN missing /dev/xen nodes: $(ls /dev/xen 2>/dev/null | tr '\n' ' ')"
        break
    fi
    sleep 0.1
done

domid=$(xenstore-read domid 2>/dev/null || echo '?')
echo "GUEST-BEGIN job=${JOB:-<none>} domid=$domid"
if [ -z "$JOB" ]; then
    echo "GUEST-ERROR no vgjob= on the kernel command line"
    rc=127
elif [ ! -f "/e2e/guest/$JOB.sh" ]; then
    echo "GUEST-ERROR no such guest job /e2e/guest/$JOB.sh"
    rc=127
else
    export E2E_GUEST_JOB="$JOB"
    sh "/e2e/guest/$JOB.sh" "$@"
    rc=$?
fi
echo "GUEST-DONE rc=$rc"

if [ "$KEEP" = 1 ]; then
    # stay alive: dom0 destroys or shuts us down
    while :; do sleep 3600; done
fi
# give xenconsoled time to drain the console ring before the domain goes
sleep 1
poweroff -f
