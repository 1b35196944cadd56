#!/bin/sh
# kernel-fs: the stock Debian guest kernel's virtio_blk over virtio_grant.ko,
# one device per transport mode (grant, persistent, copy, auto, static with
# a 4 MiB region), each backed by its own file in dom0 and given its own
# size so the guest can tell them apart.  In the guest (guest/kernel-fs.sh),
# per device: /dev/vdX appears with the image's size; mkfs.ext4, mount,
# a tree of 300 files of 1 B to 256 KiB plus files of 1, 2, 4 and 8 MiB,
# sync, umount, fsck.ext4 -fn clean, mount again with caches dropped, every
# checksum matches.  Then in dom0: no BUG/Oops/WARNING on the guest console,
# vgrantd connected each device in its mode, detach releases every mapping,
# and dom0's own e2fsck -fn and loop mount of each image file find the same
# checksums the guest computed when it generated the data.
#
# Environment: E2E_KERNEL_MODES (default "grant persistent copy auto
# static"), E2E_KERNEL_FILES (300), E2E_KERNEL_BIG (1M,2M,4M,8M),
# E2E_KERNEL_DISK=pv runs the same guest job on Xen's blkfront disks instead
# (a self-test of the harness that needs no virtio_grant.ko).
. "$(dirname "$0")/lib.sh"
need_bin vgrantd vgrant xl e2fsck losetup sha256sum

modes=$(echo "${E2E_KERNEL_MODES:-grant persistent copy auto static}" | tr ",+" "  ")
files=${E2E_KERNEL_FILES:-300}
big=${E2E_KERNEL_BIG:-1M,2M,4M,8M}
pv=0
[ "${E2E_KERNEL_DISK:-}" = pv ] && pv=1

# dom0: gntdev may cap the grants one process maps
limit=/sys/module/xen_gntdev/parameters/limit
if [ -w "$limit" ]; then echo 1048576 >"$limit"; fi

labels="" sizes="" i=0 disks=""
for m in $modes; do
    labels="$labels${labels:+,}$m"
    sizes="$sizes${sizes:+,}$((64 + i))"
    if [ "$pv" = 1 ]; then
        dev=$(make_disk "kfs-$m" $((64 + i)))
        disks="$disks${disks:+, }\"phy:$dev,xvd$(echo abcdefgh | cut -c$((i + 1))),w\""
    else
        img=$E2E_WORK/kfs-$m.img
        scratch "$img"
        dd if=/dev/zero of="$img" bs=1M count=0 seek=$((64 + i)) 2>/dev/null || fail "cannot create $img"
    fi
    i=$((i + 1))
done

t0=$(_now)
if [ "$pv" = 1 ]; then
    start_guest -k -m 256 -a pv=1 -a labels="$labels" -a sizes="$sizes" -a files="$files" -a big="$big" \
        kfs kernel-fs "disk = [ $disks ]" || fail "xl create of kfs failed"
else
    start_vgrantd vgrantd --log-level info
    start_guest -k -m 256 -a labels="$labels" -a sizes="$sizes" -a files="$files" -a big="$big" \
        kfs kernel-fs || fail "xl create of kfs failed"
    domid=$(guest_domid kfs)
    i=0
    for m in $modes; do
        extra=""
        [ "$m" = static ] && extra=",region=4M"
        check "vgrant attach dev $i mode=$m ($((64 + i)) MiB)" \
            vgrant attach "$domid" "type=blk,target=$E2E_WORK/kfs-$m.img,devid=$i,mode=$m$extra"
        i=$((i + 1))
    done
fi

wait_guest kfs 1200
rc=$?
guest_log kfs | grep -v '^GUEST-SUM \|^GUEST-KMSG ' | sed 's/^/    kfs| /'
kernel_console_check kfs
if [ "$rc" != 0 ]; then
    [ "$pv" = 1 ] || bg_log vgrantd | grep -v ': connected: \|: blk: ' | tail -n 30
    fail "guest job failed (rc $rc)$(guest_log kfs | sed -n 's/^GUEST-ERROR /: /p' | tr '\n' ';' | cut -c1-300)"
fi
log "guest done after $(($(_now) - t0)) s"

i=0
for m in $modes; do
    line=$(guest_log kfs | grep "^GUEST-FS $m ok")
    [ -n "$line" ] || fail "mode $m: $(guest_log kfs | sed -n "s/^GUEST-ERROR $m: //p" | head -n1)"
    log "mode $m: ${line#GUEST-FS }"
    if [ "$pv" = 0 ]; then
        bg_log vgrantd | grep -q "dev $i: connected: .*mode $m" ||
            fail "mode $m: vgrantd never connected dev $i in mode $m"
    fi
    i=$((i + 1))
done

if [ "$pv" = 0 ]; then
    i=0
    for m in $modes; do
        check "vgrant detach $i ($m)" vgrant detach "$domid" "$i"
        i=$((i + 1))
    done
    i=0
    for m in $modes; do
        released_ok "$domid" "$i" 30
        i=$((i + 1))
    done
fi
stop_guest kfs

for m in $modes; do
    guest_sums kfs tree "$E2E_WORK/kfs-$m.sums"
    if [ "$pv" = 1 ]; then img=$E2E_WORK/disk-kfs-$m.img; else img=$E2E_WORK/kfs-$m.img; fi
    image_check "$m" "$img" "$E2E_WORK/kfs-$m.sums"
done
[ "$pv" = 1 ] && for m in $modes; do drop_disk "kfs-$m"; done
log "all checks passed"
