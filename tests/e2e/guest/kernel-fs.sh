#!/bin/sh
# Guest job of kernel-fs: generate a tree of $files files of 1 B .. 256 KiB
# plus the $big ones in a tmpfs and checksum it (printed once as GUEST-SUM
# tree lines, for dom0's check of every image).  Then for each disk
# (labels=a,b,..., sizes=MiB,MiB,...: the disk of each label is the vdX of
# that size): mkfs.ext4, mount, copy the tree in, sync, umount, fsck.ext4
# -fn clean, mount again (read-only, caches dropped), every checksum must
# match.  Prints per disk
#   GUEST-DISK <label> <vdX> <bytes>
#   GUEST-FS <label> ok files=N bytes=B write=Ss check=Ss
# and GUEST-ERROR lines on failure.
. /e2e/guest/kernel-lib.sh
labels=${labels:-grant}
sizes=${sizes:-64}
files=${files:-300}
big=${big:-1M,2M,4M,8M}

kernel_setup
t0=$(now_s)
src=/tmp/tree
rm -rf "$src"
mkdir -p "$src"
make_tree "$src" "$files" "$big" >/tmp/tree.sums || gerr "generating the tree failed"
n=$(wc -l </tmp/tree.sums)
bytes=$(du -s -k "$src" | cut -f1)
echo "GUEST-TREE files=$n kib=$bytes in $(elapsed "$t0") s"
sed 's/^/GUEST-SUM tree /' /tmp/tree.sums

set -- $(echo "$sizes" | tr ',' ' ')
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
    cp -a "$src/." "$mnt/" || gerr "$label: copying the tree failed"
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
    (cd "$mnt" && sha256sum -c /tmp/tree.sums >"/tmp/$label.check" 2>&1)
    crc=$?
    umount "$mnt" || gerr "$label: second umount failed"
    tc=$(elapsed "$t0")
    if [ "$crc" != 0 ]; then
        grep -v ': OK$' "/tmp/$label.check" | head -n 20 | sed 's/^/    check| /'
        gerr "$label: $(grep -c ': FAILED' "/tmp/$label.check") file(s) read back differ"
    fi
    echo "GUEST-FS $label ok files=$n kib=$bytes write=${tw}s check=${tc}s"
done
kernel_done
exit 0
