#!/bin/sh
# kernel-ro: a read-only virtio-grant disk (vgrant attach ...,readonly=1,
# grant mode) under the stock kernel's virtio_blk over virtio_grant.ko.
# dom0 makes an ext4 image with a tree of files (mkfs.ext4 -d); the guest
# mounts it -o ro and every file's checksum equals dom0's; a file write on
# the mount, a remount rw and a raw O_DIRECT write to /dev/vdX all fail with
# an error; the device reports ro=1; the image file is byte-for-byte
# unchanged afterwards; no BUG/Oops/WARNING on the console; detach releases
# everything.
. "$(dirname "$0")/lib.sh"
need_bin vgrantd vgrant xl mkfs.ext4 sha256sum cksum

src=$E2E_WORK/ro-src
img=$E2E_WORK/kro.img
rm -rf "$src"
scratch "$src" "$img"
mkdir -p "$src/a/b" "$src/c"
i=0
for sz in 1 511 4096 4097 65536 100000 1048576 3000000; do
    head -c "$sz" /dev/urandom >"$src/a/f$i"
    head -c "$sz" /dev/urandom >"$src/a/b/g$i"
    head -c "$sz" /dev/urandom >"$src/c/h$i"
    i=$((i + 1))
done
(cd "$src" && find . -type f | sort | sed 's,^\./,,' | while read -r f; do sha256sum "$f"; done) >"$E2E_WORK/ro-dom0.sums"
rm -f "$img"
check "mkfs.ext4 -d of the read-only image" mkfs.ext4 -q -F -d "$src" "$img" 64M
before=$(cksum <"$img")

pvarg="" cfg=""
if [ "${E2E_KERNEL_DISK:-}" = pv ]; then
    dev=$(losetup -f) && losetup -r "$dev" "$img" || fail "losetup -r $img failed"
    pvarg="-a pv=1"
    cfg="disk = [ \"phy:$dev,xvda,r\" ]"
else
    start_vgrantd vgrantd --log-level info
fi
# shellcheck disable=SC2086
start_guest -k -m 192 $pvarg -a size=64 kro kernel-ro ${cfg:+"$cfg"} || fail "xl create of kro failed"
domid=$(guest_domid kro)
[ -n "$cfg" ] || check "vgrant attach read-only" vgrant attach "$domid" "type=blk,target=$img,readonly=1"

wait_guest kro 300
rc=$?
guest_log kro | grep -v '^GUEST-KMSG ' | sed 's/^/    kro| /'
kernel_console_check kro
[ "$rc" = 0 ] || fail "guest job failed (rc $rc)$(guest_log kro | sed -n 's/^GUEST-ERROR /: /p' | head -n1)"
guest_log kro | grep -q '^GUEST-RO-OK' || fail "the guest did not confirm every write failed"
guest_sums kro ro "$E2E_WORK/ro-guest.sums"
[ -s "$E2E_WORK/ro-guest.sums" ] || fail "the guest printed no checksums"
if ! cmp -s "$E2E_WORK/ro-guest.sums" "$E2E_WORK/ro-dom0.sums"; then
    diff "$E2E_WORK/ro-dom0.sums" "$E2E_WORK/ro-guest.sums" | head -n 20 | sed 's/^/    diff| /'
    fail "the files the guest read differ from dom0's"
fi
log "ok: $(wc -l <"$E2E_WORK/ro-guest.sums") files read back equal dom0's"
for w in file remount raw; do
    log "write refused ($w): $(guest_log kro | sed -n "s/^GUEST-RO $w //p" | head -n1)"
done
if [ -z "$cfg" ]; then
    check "vgrant detach" vgrant detach "$domid" 0
    released_ok "$domid" 0 30
fi
stop_guest kro
[ -n "$cfg" ] && losetup -d "$dev"
after=$(cksum <"$img")
[ "$before" = "$after" ] || fail "the read-only image changed: $before -> $after"
log "ok: image unchanged ($after)"
log "all checks passed"
