#!/bin/sh
# Guest job of kernel-saverestore: format and mount the disk of $size MiB
# and write files (4 KiB .. 512 KiB, random, checksummed as generated) one
# after the other, a sync every 8, printing GUEST-SR-FILE <n> after each,
# until dom0 writes data/stop=1 into this domain's xenstore directory (after
# a restore that is the new domain's) or $max files.  Meanwhile fio keeps
# direct I/O in flight on a file of the same filesystem (4 s runs of random
# writes, 4-64 KiB, queue depth 16, crc32c verified as it goes), so a
# suspend finds requests to drain.  Then sync, umount, fsck.ext4 -fn, mount
# again with caches dropped, check every checksum, and print them
# (GUEST-SUM sr ...) for dom0's own check of the image.  Last, leave a
# process reading the disk every second (GUEST-SR-PROBE ok|fail|gone).
. /e2e/guest/kernel-lib.sh
size=${size:-128}
max=${max:-400}

kernel_setup
vd=$(find_disk "$size" 120) || gerr "no /dev/vd* of $size MiB within 120 s"
mkdir -p /mnt/sr
mkfs.ext4 -q -F "/dev/$vd" || gerr "mkfs.ext4 failed"
mount -t ext4 "/dev/$vd" /mnt/sr || gerr "mount failed"
echo "GUEST-SR-MOUNTED $vd"
rm -f /tmp/sr.stop /tmp/sr.fio
(
    runs=0
    while [ ! -e /tmp/sr.stop ]; do
        if ! fio --name=srbg --filename=/mnt/sr/fio.dat --size=16M --rw=randwrite \
            --bsrange=4k-64k --iodepth=16 --ioengine=libaio --direct=1 \
            --verify=crc32c --verify_fatal=1 --verify_backlog=16 --do_verify=1 \
            --randrepeat=0 --time_based --runtime=4 >/tmp/srbg.out 2>&1; then
            sed 's/^/    srbg| /' /tmp/srbg.out
            echo "runs=$runs failed=1" >/tmp/sr.fio
            exit 1
        fi
        runs=$((runs + 1))
    done
    echo "runs=$runs failed=0" >/tmp/sr.fio
) &
fio_pid=$!
set -- 4096 12345 65536 100003 262144 524288 8191 1000000
n=0
: >/tmp/sr.sums
while [ "$n" -lt "$max" ]; do
    eval "sz=\${$((n % 8 + 1))}"
    d=d$((n % 16))
    mkdir -p "/mnt/sr/$d" || gerr "mkdir failed at file $n"
    s=$(head -c "$sz" /dev/urandom | tee "/mnt/sr/$d/f$n" | sha256sum | cut -d' ' -f1)
    [ -f "/mnt/sr/$d/f$n" ] || gerr "writing file $n failed"
    echo "$s  $d/f$n" >>/tmp/sr.sums
    n=$((n + 1))
    if [ $((n % 8)) = 0 ]; then
        sync || echo "GUEST-SR sync failed at file $n"
    fi
    echo "GUEST-SR-FILE $n"
    [ "$(xenstore-read data/stop 2>/dev/null)" = 1 ] && break
done
touch /tmp/sr.stop
wait "$fio_pid"
echo "GUEST-SR-FIO $(cat /tmp/sr.fio 2>/dev/null || echo 'runs=? failed=1')"
grep -q 'failed=0' /tmp/sr.fio 2>/dev/null || gerr "the background fio failed (verify error or I/O error)"
sync || gerr "final sync failed"
umount /mnt/sr || gerr "umount failed"
fsck.ext4 -fn "/dev/$vd" >/tmp/sr.fsck 2>&1 || { sed 's/^/    fsck| /' /tmp/sr.fsck; gerr "fsck.ext4 -fn not clean after the save/restore"; }
echo 3 >/proc/sys/vm/drop_caches
mount -t ext4 -o ro "/dev/$vd" /mnt/sr || gerr "second mount failed"
(cd /mnt/sr && sha256sum -c /tmp/sr.sums >/tmp/sr.check 2>&1)
crc=$?
umount /mnt/sr
if [ "$crc" != 0 ]; then
    grep -v ': OK$' /tmp/sr.check | head -n 20 | sed 's/^/    check| /'
    gerr "$(grep -vc ': OK$' /tmp/sr.check) file(s) differ after the save/restore"
fi
sed 's/^/GUEST-SUM sr /' /tmp/sr.sums
c=/sys/bus/xen/devices/virtio-grant-0/vgrant
echo "GUEST-SR-COUNTERS disk=$vd resumes=$(cat $c/resumes) sessions=$(cat $c/sessions) failed_requests=$(cat $c/failed_requests) revoke_failures=$(cat $c/revoke_failures)"
echo "GUEST-SR-OK files=$n"
# for the scenario's last step (a restore with no backend): read the disk
# every second, say when that works, when it starts failing and when the
# disk is gone
(
    last=""
    while [ -e "/sys/block/$vd" ]; do
        if dd if="/dev/$vd" of=/dev/null bs=4096 count=16 iflag=direct 2>/dev/null; then st=ok; else st=fail; fi
        [ "$st" = "$last" ] || echo "GUEST-SR-PROBE $st"
        last=$st
        sleep 1
    done
    echo "GUEST-SR-PROBE gone"
) &
kernel_done
exit 0
