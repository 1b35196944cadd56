#!/bin/sh
# Guest job of kernel-fs: for each disk (labels=a,b,..., sizes=MiB,MiB,...:
# the disk of each label is the vdX of that size), mkfs.ext4, mount, write a
# tree of $files files of 1 B .. 256 KiB plus the $big ones, sync, umount,
# fsck.ext4 -fn, mount again (cold: caches dropped), every checksum must
# match.  Prints per disk
#   GUEST-DISK <label> <vdX> <bytes>
#   GUEST-SUM <label> <sha256>  <path>     (one per file, for dom0's check)
#   GUEST-FS <label> ok files=N bytes=B write=Ss check=Ss
# and GUEST-ERROR lines on failure.
. /e2e/guest/kernel-lib.sh
labels=${labels:-grant}
sizes=${sizes:-64}
files=${files:-300}
big=${big:-1M,2M,4M,8M}

kernel_setup
set -- $(echo "$sizes" | tr ',' ' ')
rc=0
for label in $(echo "$labels" | tr ',' ' '); do
    mib=$1
    shift
    vd=$(find_disk "$mib" 120) || gerr "$label: no /dev/vd* of $mib MiB within 120 s ($(ls /sys/block | tr '\n' ' '))"
    echo "GUEST-DISK $label $vd $(($(cat /sys/block/$vd/size) * 512))"
    mnt=/mnt/$label
    mkdir -p "$mnt"
    t0=$(now_s)
    mkfs.ext4 -q -F "/dev/$vd" || gerr "$label: mkfs.ext4 /dev/$vd failed"
    mount -t ext4 "/dev/$vd" "$mnt" || gerr "$label: mount /dev/$vd failed"
    make_tree "$mnt" "$files" "$big" >"/tmp/$label.sums" || gerr "$label: writing the tree failed"
    sync || gerr "$label: sync failed"
    umount "$mnt" || gerr "$label: umount failed"
    tw=$(elapsed "$t0")
    t0=$(now_s)
    fsck.ext4 -fn "/dev/$vd" >"/tmp/$label.fsck" 2>&1 || {
        sed 's/^/    fsck| /' "/tmp/$label.fsck"
        gerr "$label: fsck.ext4 -fn /dev/$vd is not clean"
    }
    echo 3 >/proc/sys/vm/drop_caches
    mount -t ext4 -o ro "/dev/$vd" "$mnt" || gerr "$label: second mount failed"
    (cd "$mnt" && sha256sum -c "/tmp/$label.sums" >"/tmp/$label.check" 2>&1)
    crc=$?
    umount "$mnt" || gerr "$label: second umount failed"
    tc=$(elapsed "$t0")
    if [ "$crc" != 0 ]; then
        grep -v ': OK$' "/tmp/$label.check" | head -n 20 | sed 's/^/    check| /'
        gerr "$label: $(grep -vc ': OK$' "/tmp/$label.check") file(s) read back differ"
    fi
    n=$(wc -l <"/tmp/$label.sums")
    bytes=$(awk '{ n = split($2, a, "-"); s += a[n] } END { print s }' "/tmp/$label.sums")
    sed "s/^/GUEST-SUM $label /" "/tmp/$label.sums"
    echo "GUEST-FS $label ok files=$n bytes=$bytes write=${tw}s check=${tc}s"
done
kernel_done
exit $rc
