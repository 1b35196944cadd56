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

# one_disk LABEL MiB: the whole check on one disk; 1 (and a GUEST-ERROR
# line) on failure, so the other disks are still checked
bad() { echo "GUEST-ERROR $label: $*"; return 1; }
one_disk() {
    label=$1
    vd=$(find_disk "$2" 120) || { bad "no /dev/vd* of $2 MiB within 120 s ($(ls /sys/block | tr '\n' ' '))"; return 1; }
    echo "GUEST-DISK $label $vd $(($(cat /sys/block/$vd/size) * 512))"
    mnt=/mnt/$label
    mkdir -p "$mnt"
    t0=$(now_s)
    mkfs.ext4 -q -F "/dev/$vd" || { bad "mkfs.ext4 /dev/$vd failed"; return 1; }
    mount -t ext4 "/dev/$vd" "$mnt" || { bad "mount /dev/$vd failed"; return 1; }
    cp -a "$src/." "$mnt/" || echo "GUEST-ERROR $label: copying the tree failed"
    sync || echo "GUEST-ERROR $label: sync failed"
    umount "$mnt" || { bad "umount failed"; return 1; }
    tw=$(elapsed "$t0")
    t0=$(now_s)
    if ! fsck.ext4 -fn "/dev/$vd" >"/tmp/$label.fsck" 2>&1; then
        sed 's/^/    fsck| /' "/tmp/$label.fsck" | head -n 30
        bad "fsck.ext4 -fn /dev/$vd is not clean"
        return 1
    fi
    echo 3 >/proc/sys/vm/drop_caches
    mount -t ext4 -o ro "/dev/$vd" "$mnt" || { bad "second mount failed"; return 1; }
    (cd "$mnt" && sha256sum -c /tmp/tree.sums >"/tmp/$label.check" 2>&1)
    crc=$?
    umount "$mnt" || { bad "second umount failed"; return 1; }
    tc=$(elapsed "$t0")
    if [ "$crc" != 0 ]; then
        grep -v ': OK$' "/tmp/$label.check" | head -n 20 | sed 's/^/    check| /'
        bad "$(grep -c ': FAILED' "/tmp/$label.check") file(s) read back differ"
        return 1
    fi
    echo "GUEST-FS $label ok files=$n kib=$bytes write=${tw}s check=${tc}s"
}

rc=0
set -- $(echo "$sizes" | tr ',' ' ')
for l in $(echo "$labels" | tr ',' ' '); do
    one_disk "$l" "$1" || rc=1
    shift
done
kernel_done
exit $rc
