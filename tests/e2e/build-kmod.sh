#!/usr/bin/env bash
# Build the guest kernel module virtio_grant.ko for exactly the kernel the
# e2e domUs boot, against that kernel's Debian headers as fetch.sh unpacked
# them (linux-headers-<kver>, -common and linux-kbuild-<series>; nothing is
# installed on the host), and print the path of the .ko on stdout (nothing
# when there is no module source).
#
#   tests/e2e/build-kmod.sh
#
# Source, in this order:
#   VGRANT_E2E_KMOD_DKMS=DIR  a DKMS module source tree (the
#                             /usr/src/virtio-grant-<version> of the
#                             virtio-grant-dkms package, with its
#                             dkms.conf): the MAKE[0] line of dkms.conf is
#                             run in a copy of DIR with ${kernel_source_dir}
#                             = the headers and ${kernelver} = the guest
#                             kernel, as `dkms build` runs it, and the
#                             module is BUILT_MODULE_LOCATION[0]/
#                             BUILT_MODULE_NAME[0].ko (make e2e-deb); its
#                             copy goes to <cache>/kmod/<kver>/dkms/
#   VGRANT_E2E_KMOD_SRC=DIR   a kbuild directory (Kbuild/Makefile with obj-m);
#                             built with `make -C KDIR M=<copy of DIR>` in the
#                             cache (for trying a module out of tree)
#   otherwise the project's `make kmod KDIR=<headers>` when the top Makefile
#   has a kmod target and frontend/linux/ exists; the .ko is then looked for
#   in frontend/linux/ and build/ (newest wins)
# VGRANT_E2E_KMOD=0 builds nothing (the images then hold no virtio_grant.ko
# and the kernel-* scenarios fail saying so).
#
# The .ko is copied to <cache>/kmod/<kver>/virtio_grant.ko, after checking
# that its vermagic names the guest kernel.  A failed build is fatal: an e2e
# run must not silently test an old module.
set -euo pipefail
. "$(dirname "$0")/common.sh"
E2E_WHERE=build-kmod.sh

[ "${VGRANT_E2E_KMOD:-1}" = 0 ] && { log "VGRANT_E2E_KMOD=0: no guest kernel module"; exit 0; }

"$E2E_DIR/fetch.sh" >/dev/null
# shellcheck disable=SC1091
. "$E2E_CACHE/current.env"
KDIR=${E2E_KDIR:-$E2E_ROOT/usr/src/linux-headers-$E2E_KVER}
[ -f "$KDIR/Makefile" ] || die "kernel headers for $E2E_KVER not found at $KDIR (fetch.sh fetches linux-headers-$E2E_KVER)"
need_cmd make gcc-12
OUT=$E2E_CACHE/kmod/$E2E_KVER
mkdir -p "$OUT"
MAKE_J=-j$(nproc 2>/dev/null || echo 2)

# dkms_var NAME: the value of NAME="..." in dkms.conf (quotes removed)
dkms_var() {
    local v
    v=$(sed -n "s/^$1=//p" "$src/dkms.conf" | sed -n '$p')
    v=${v#\"}; v=${v%\"}
    echo "$v"
}

ko=""
if [ -n "${VGRANT_E2E_KMOD_DKMS:-}" ]; then
    src=$(cd "$VGRANT_E2E_KMOD_DKMS" && pwd) || die "VGRANT_E2E_KMOD_DKMS=$VGRANT_E2E_KMOD_DKMS is not a directory"
    [ -f "$src/dkms.conf" ] || die "$src has no dkms.conf"
    OUT=$OUT/dkms
    mkdir -p "$OUT"
    mk=$(dkms_var 'MAKE\[0\]') name=$(dkms_var 'BUILT_MODULE_NAME\[0\]')
    loc=$(dkms_var 'BUILT_MODULE_LOCATION\[0\]')
    [ -n "$mk" ] && [ -n "$name" ] || die "$src/dkms.conf lacks MAKE[0] or BUILT_MODULE_NAME[0]"
    case $mk in *'`'*|*'$('*) die "$src/dkms.conf: MAKE[0] runs a command substitution: $mk" ;; esac
    mk=${mk//'${kernel_source_dir}'/$KDIR}
    mk=${mk//'${kernelver}'/$E2E_KVER}
    case $mk in *'$'*) die "$src/dkms.conf: MAKE[0] uses a variable dkms would set that this script does not: $mk" ;; esac
    bld=$OUT/src-build
    rm -rf "$bld"
    mkdir -p "$bld"
    cp -a "$src/." "$bld/"
    log "building the DKMS source $src as dkms would: $mk"
    (cd "$bld" && sh -c "$mk") >"$OUT/build.log" 2>&1 ||
        { tail -n 40 "$OUT/build.log" >&2; die "dkms.conf's MAKE[0] failed in $src (log: $OUT/build.log)"; }
    ko=$bld/${loc%/}/$name.ko
    [ -f "$ko" ] || die "dkms.conf's MAKE[0] succeeded but $ko (BUILT_MODULE_LOCATION/BUILT_MODULE_NAME) is missing"
elif [ -n "${VGRANT_E2E_KMOD_SRC:-}" ]; then
    src=$(cd "$VGRANT_E2E_KMOD_SRC" && pwd) || die "VGRANT_E2E_KMOD_SRC=$VGRANT_E2E_KMOD_SRC is not a directory"
    bld=$OUT/src-build
    rm -rf "$bld"
    mkdir -p "$bld"
    cp -a "$src/." "$bld/"
    log "building $src against $KDIR"
    make -s $MAKE_J -C "$KDIR" M="$bld" modules >"$OUT/build.log" 2>&1 ||
        { tail -n 40 "$OUT/build.log" >&2; die "building the module in $src failed (log: $OUT/build.log)"; }
    ko=$(find "$bld" -name virtio_grant.ko | sed -n 1p)
elif [ -d "$E2E_REPO/frontend/linux" ] && grep -q '^kmod:' "$E2E_REPO/Makefile"; then
    log "building virtio_grant.ko: make kmod KDIR=$KDIR"
    : >"$OUT/.stamp"
    if ! make -s -C "$E2E_REPO" kmod KDIR="$KDIR" >"$OUT/build.log" 2>&1; then
        tail -n 40 "$OUT/build.log" >&2
        die "make kmod KDIR=$KDIR failed (log: $OUT/build.log)"
    fi
    ko=$(find "$E2E_REPO/frontend/linux" "$E2E_REPO/build" -name virtio_grant.ko -newer "$OUT/.stamp" 2>/dev/null | sed -n 1p)
    [ -n "$ko" ] || ko=$(ls -t "$E2E_REPO"/frontend/linux/virtio_grant.ko "$E2E_REPO"/build*/*/virtio_grant.ko 2>/dev/null | sed -n 1p || true)
    [ -n "$ko" ] || die "make kmod succeeded but no virtio_grant.ko was found in frontend/linux/ or build/"
else
    log "no module source (frontend/linux/ with a kmod target in the Makefile, or VGRANT_E2E_KMOD_SRC): no virtio_grant.ko"
    rm -f "$OUT/virtio_grant.ko"
    exit 0
fi
[ -f "$ko" ] || die "no virtio_grant.ko after the build"

vermagic=$(tr '\0' '\n' <"$ko" | sed -n 's/^vermagic=//p' | sed -n 1p)
case $vermagic in
    "$E2E_KVER "*) ;;
    *) die "$ko has vermagic '$vermagic', not the guest kernel $E2E_KVER" ;;
esac
cp "$ko" "$OUT/virtio_grant.ko.tmp"
mv "$OUT/virtio_grant.ko.tmp" "$OUT/virtio_grant.ko"
log "virtio_grant.ko for $E2E_KVER: $(du -h "$OUT/virtio_grant.ko" | cut -f1) (from $ko)"
echo "$OUT/virtio_grant.ko"
