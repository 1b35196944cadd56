#!/bin/sh
# Guest job of a driver domain: serve virtio-grant devices to other domUs.
# Creates a backing image in this domain's tmpfs, runs vgrantd (its log goes
# to this console, so dom0 sees it in the console log), tells dom0 it is
# ready, then waits for dom0's word before checksumming the image itself.
#
# Arguments (environment):
#   img=PATH      backing image to create (default /run/vgdd/disk.img)
#   size=MiB      its size (default 32)
#   span=BYTES    bytes to checksum at the end (default 16 MiB)
#   wait_s=SECONDS  how long to wait for dom0 (default 600)
#
# Xenstore, under this domain's home (dom0 reads/writes it by absolute path):
#   data/vgdd-ready = 1       written once vgrantd runs
#   data/vgdd-cmd   = written by dom0:
#       "stats DOMID DEVID"   print `vgrant stats DOMID DEVID` (vgrantd's
#                             control socket is in this domain) as DD-STATS|
#                             lines, then copy the command to data/vgdd-ack
#       "finish"              the guest is done: print "DD-CKSUM <cksum of
#                             span bytes>", stop vgrantd, end the job
img=${img:-/run/vgdd/disk.img}
size=${size:-32}
span=${span:-16777216}
wait_s=${wait_s:-600}

mkdir -p "${img%/*}" || exit 2
dd if=/dev/zero of="$img" bs=1M count="$size" 2>/dev/null || {
    echo "DD-ERROR cannot create $img"
    exit 2
}
echo "DD-IMAGE $img ${size} MiB"

# A driver domain needs no privcmd (libxenctrl): take away the ones this
# image has (xenfs's /proc/xen/privcmd, the kernel's /dev/xen/privcmd) so
# that vgrantd proves it.  xenstore goes through /dev/xen/xenbus.
umount /proc/xen 2>/dev/null
rm -f /dev/xen/privcmd
for f in /proc/xen/privcmd /dev/xen/privcmd; do
    if [ -e "$f" ]; then
        echo "DD-ERROR $f is still there"
        exit 2
    fi
done
echo "DD-NO-PRIVCMD"

vgrantd --foreground --log-level info &
vgpid=$!

# vgrantd opens its control socket once it has opened Xen and watches its
# backend directory: that is "ready" (30 s at most)
i=0
until [ -S /run/vgrantd/control.sock ]; do
    if ! kill -0 "$vgpid" 2>/dev/null; then
        wait "$vgpid"
        echo "DD-ERROR vgrantd exited at start (rc $?)"
        exit 3
    fi
    i=$((i + 1))
    if [ "$i" -gt 60 ]; then
        echo "DD-ERROR vgrantd has no control socket after 30 s"
        kill "$vgpid"
        exit 3
    fi
    sleep 0.5
done
xenstore-write data/vgdd-ready 1 || {
    echo "DD-ERROR cannot write data/vgdd-ready"
    kill "$vgpid"
    exit 4
}
echo "DD-READY vgrantd pid $vgpid"

# dom0's commands, each acknowledged by copying it to data/vgdd-ack
rc=0
i=0
last=""
while :; do
    cmd=$(xenstore-read data/vgdd-cmd 2>/dev/null)
    if [ -n "$cmd" ] && [ "$cmd" != "$last" ]; then
        last=$cmd
        case $cmd in
            finish) break ;;
            "stats "*[!0-9\ ]*) echo "DD-ERROR bad command '$cmd'" ;;
            "stats "*)
                # the control socket is in this domain: ask vgrantd here
                vgrant stats ${cmd#stats } 2>&1 | sed 's/^/DD-STATS| /'
                xenstore-write data/vgdd-ack "$cmd"
                ;;
            *) echo "DD-ERROR unknown command '$cmd'" ;;
        esac
    fi
    if ! kill -0 "$vgpid" 2>/dev/null; then
        echo "DD-ERROR vgrantd died while serving"
        rc=5
        break
    fi
    i=$((i + 1))
    if [ "$i" -gt $((wait_s * 2)) ]; then
        echo "DD-ERROR no 'finish' from dom0 (data/vgdd-cmd) within ${wait_s}s"
        rc=6
        break
    fi
    sleep 0.5
done

if [ "$rc" = 0 ]; then
    # cksum's byte count is the span, as the guest's `vgrant-io cksum` prints
    echo "DD-CKSUM $(dd if="$img" bs=1M count=$((span / 1048576)) 2>/dev/null | cksum)"
fi
kill "$vgpid" 2>/dev/null
i=0
while kill -0 "$vgpid" 2>/dev/null && [ "$i" -lt 20 ]; do
    sleep 0.25
    i=$((i + 1))
done
kill -9 "$vgpid" 2>/dev/null
wait "$vgpid"
echo "DD-VGRANTD-EXIT rc=$?"
exit "$rc"
