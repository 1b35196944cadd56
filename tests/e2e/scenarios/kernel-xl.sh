#!/bin/sh
# kernel-xl: `xl create` of a guest whose config names its virtio-grant
# devices, `virtio_grant = [ "type=blk, target=<ext4 image>", "type=rng" ]`,
# with the patched xl (VGRANT_E2E_XL_DIR; `make e2e-xl`) and no `vgrant
# attach`: the stock kernel's virtio_blk and virtio_rng over virtio_grant.ko
# bind; the guest mounts the disk and reads back every file dom0 put into
# the image (checksums equal), writes a file dom0 then finds in the image,
# fsck.ext4 -fn is clean, /dev/hwrng yields data; no BUG/Oops/WARNING; after
# `xl destroy` vgrantd has released both devices and no xenstore directory
# of the guest's devices remains.
. "$(dirname "$0")/lib.sh"
need_bin vgrantd xl mkfs.ext4 e2fsck sha256sum

need_patched_xl

src=$E2E_WORK/kxl-src
img=$E2E_WORK/kxl.img
rm -rf "$src"
scratch "$src" "$img"
mkdir -p "$src/docs" "$src/data"
i=0
for sz in 1 4096 4097 65536 1048576 2500000; do
    head -c "$sz" /dev/urandom >"$src/data/d$i"
    head -c "$sz" /dev/urandom >"$src/docs/e$i"
    i=$((i + 1))
done
(cd "$src" && find . -type f | sort | sed 's,^\./,,' | while read -r f; do sha256sum "$f"; done) >"$E2E_WORK/kxl-dom0.sums"
rm -f "$img"
check "mkfs.ext4 -d of the image" mkfs.ext4 -q -F -d "$src" "$img" 64M

start_vgrantd vgrantd --log-level info
sleep 1
start_guest -k -m 160 -a size=64 kxl kernel-xl \
    "virtio_grant = [ \"type=blk, target=$img\", \"type=rng\" ]" ||
    { bg_log vgrantd | tail -n 10; fail "xl create with virtio_grant = [ blk, rng ] failed"; }
dom=$(guest_domid kxl)
wait_guest kxl 300
rc=$?
guest_log kxl | grep -v '^GUEST-KMSG \|^GUEST-SUM ' | sed 's/^/    kxl| /'
kernel_console_check kxl
[ "$rc" = 0 ] || fail "guest job failed (rc $rc)$(guest_log kxl | sed -n 's/^GUEST-ERROR /: /p' | head -n1)"
guest_sums kxl xl "$E2E_WORK/kxl-guest.sums"
cmp -s "$E2E_WORK/kxl-guest.sums" "$E2E_WORK/kxl-dom0.sums" ||
    { diff "$E2E_WORK/kxl-dom0.sums" "$E2E_WORK/kxl-guest.sums" | head -n 20; fail "the files the guest read differ from dom0's"; }
log "ok: $(wc -l <"$E2E_WORK/kxl-dom0.sums") files read back equal dom0's; $(guest_log kxl | grep '^GUEST-RNG-OK')"
check "xl destroy" xl destroy kxl
released_ok "$dom" 0 30
released_ok "$dom" 1 30
sleep 2
for p in "/local/domain/0/backend/virtio-grant/$dom" "/local/domain/$dom"; do
    xenstore-read "$p" >/dev/null 2>&1 || xenstore-list "$p" >/dev/null 2>&1 && fail "$p remains after xl destroy"
done
guest_sums kxl xlnew "$E2E_WORK/kxl-new.sums"
cat "$E2E_WORK/kxl-dom0.sums" >>"$E2E_WORK/kxl-new.sums"
image_check xl "$img" "$E2E_WORK/kxl-new.sums"
log "all checks passed"
