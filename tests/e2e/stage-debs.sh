#!/usr/bin/env bash
# Lay out the programs of the built Debian packages (make deb) as the
# binary directory the e2e images are built from (build-images.sh BINDIR),
# so an e2e run proves the packaged files, not build/bin:
#
#   tests/e2e/stage-debs.sh DEBDIR OUTDIR      prints OUTDIR/bin
#
# Unpacks (dpkg-deb -x, nothing is installed on the host) virtio-grant and
# virtio-grant-guest from DEBDIR into OUTDIR/root, then copies their
# programs (usr/sbin, usr/bin) to OUTDIR/bin and libvgrant.so.* to
# OUTDIR/lib (build-images.sh puts both under /opt/vgrant in the images).
# The test-only programs of the fault scenarios (vg-hostile, vg-dm) are not
# packaged: they come from build/bin when present.
set -euo pipefail
. "$(dirname "$0")/common.sh"
E2E_WHERE=stage-debs.sh
need_cmd dpkg-deb find

[ $# -eq 2 ] || die "usage: $0 DEBDIR OUTDIR"
debdir=$1
out=$2
rm -rf "$out"
mkdir -p "$out/root" "$out/bin" "$out/lib"
n=0
for p in virtio-grant virtio-grant-guest; do
    deb=$(find "$debdir" -maxdepth 1 -name "${p}_*.deb" | sort | tail -n1)
    [ -n "$deb" ] || die "no ${p}_*.deb in $debdir (run make deb)"
    dpkg-deb -x "$deb" "$out/root" || die "dpkg-deb -x $deb failed"
    log "unpacked ${deb##*/}"
    n=$((n + 1))
done
for f in "$out"/root/usr/sbin/* "$out"/root/usr/bin/*; do
    [ -f "$f" ] && cp -p "$f" "$out/bin/"
done
find "$out/root/usr/lib" -name 'libvgrant.so.*' -exec cp -p {} "$out/lib/" \;
for t in vg-hostile vg-dm; do
    if [ -x "$E2E_REPO/build/bin/$t" ]; then
        cp -p "$E2E_REPO/build/bin/$t" "$out/bin/"
    else
        warn "test-only program build/bin/$t missing: the fault scenarios that need it will fail"
    fi
done
for b in vgrantd vgrant vgrant-io; do
    [ -x "$out/bin/$b" ] || die "the packages hold no $b"
done
[ -n "$(ls "$out/lib")" ] || die "virtio-grant-guest holds no libvgrant.so.*"
log "staged $(ls "$out/bin" | tr '\n' ' ')and $(ls "$out/lib" | tr '\n' ' ')from $n packages"
echo "$out/bin"
