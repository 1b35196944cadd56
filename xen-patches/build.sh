#!/usr/bin/env bash
# Build Xen 4.17's xl and libxl (Debian's source package) with the
# virtio-grant patch series of this directory, and cache the result.
#
#   xen-patches/build.sh [-f]        (-f: rebuild even if cached)
#
# The last line of output is a directory holding
#   xl                      tools/xl/xl
#   libxenlight.so.4.17.0   tools/libs/light
#   libxlutil.so.4.17.0     tools/libs/util
#   xen-init-dom0, init-xenstore-domain
#                           tools/helpers: the other Xen programs linked
#                           with libxenlight; the series adds a field to
#                           libxl_domain_config, so they must be built
#                           with it too (the packaged ones abort)
# Install them over the packaged ones in dom0 (docs/xl.md says how), or
# give the directory to the e2e tests as VGRANT_E2E_XL_DIR (make e2e-xl).
#
# What it does, each step skipped when its result is already there:
#  1. installs the build dependencies with apt-get when some are missing;
#  2. downloads the source package with `apt-get source --download-only`
#     through a private apt configuration (a deb-src line for bookworm, its
#     own package lists) under the cache, so the host's apt sources are
#     left as they are;
#  3. unpacks it (Debian's patches applied), applies 0*.patch with
#     `patch -p1` (a hunk that does not apply stops everything), runs
#     autogen.sh and configure, and builds tools/include, tools/libs,
#     tools/xl and tools/helpers (Xen builds with -Werror);
#  4. copies the files into the cache, keyed on the source version, the
#     patches and the configure flags.
#
# Environment:
#   VGRANT_XL_CACHE        cache directory (~/.cache/virtio-grant/xl)
#   VGRANT_XL_XEN_VERSION  Debian source version (4.17.5+72-g01140da4e8-1,
#                          bookworm's; the 4.17.7 security source cannot be
#                          downloaded this way)
#   VGRANT_XL_MIRROR       Debian mirror for the deb-src line
#                          (http://deb.debian.org/debian)
#   VGRANT_XL_SUITE        suite for the deb-src line (bookworm)
#   VGRANT_XL_JOBS         parallel make jobs (number of CPUs)
#   VGRANT_XL_KEEP=1       keep the build tree (cache/build/<key>/xen)
#   VGRANT_XL_REBUILD=1    same as -f
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${VGRANT_XL_CACHE:-$HOME/.cache/virtio-grant/xl}
VERSION=${VGRANT_XL_XEN_VERSION:-4.17.5+72-g01140da4e8-1}
MIRROR=${VGRANT_XL_MIRROR:-http://deb.debian.org/debian}
SUITE=${VGRANT_XL_SUITE:-bookworm}
JOBS=${VGRANT_XL_JOBS:-$(nproc 2>/dev/null || echo 2)}
REBUILD=${VGRANT_XL_REBUILD:-0}
[ "${1:-}" = -f ] && REBUILD=1

log() { echo "[xl-build $(date +%H:%M:%S)] $*" >&2; }
die() { echo "[xl-build] error: $*" >&2; exit 1; }

# Debian's paths, so the result is a drop-in for the packaged xl; the rest
# as in /work/shared/xen-in-qemu.md (no stubdom, qemu, firmware, docs).
CONFIGURE_FLAGS=(
    --prefix=/usr --includedir=/usr/include
    --libdir=/usr/lib/x86_64-linux-gnu
    --with-libexec-libdir-suffix=/x86_64-linux-gnu
    --with-libexec-leaf-dir=xen-4.17
    --sysconfdir=/etc --localstatedir=/var
    --disable-stubdom --disable-docs --disable-qemu-traditional
    --with-system-qemu=/usr/libexec/xen-qemu-system-i386
    --disable-seabios --disable-rombios --disable-ipxe
    --disable-ocamltools --disable-xsmpolicy --disable-golang
    --disable-pvshim --disable-systemd
)
OUTPUTS=(
    tools/xl/xl
    tools/libs/light/libxenlight.so.4.17.0
    tools/libs/util/libxlutil.so.4.17.0
    tools/helpers/xen-init-dom0
    tools/helpers/init-xenstore-domain
)
# Commands and Debian packages the build needs (xen-in-qemu.md).
BUILD_PKGS="build-essential autoconf automake bison flex acpica-tools pkg-config
python3-dev libyajl-dev uuid-dev zlib1g-dev libncurses-dev libglib2.0-dev
libpixman-1-dev libzstd-dev liblzma-dev libbz2-dev libfdt-dev dpkg-dev"

shopt -s nullglob
PATCHES=("$HERE"/0*.patch)
shopt -u nullglob
[ "${#PATCHES[@]}" -gt 0 ] || die "no 0*.patch in $HERE"

KEY=$({
    echo "source $VERSION"
    echo "configure ${CONFIGURE_FLAGS[*]}"
    echo "outputs ${OUTPUTS[*]}"
    for p in "${PATCHES[@]}"; do
        echo "patch ${p##*/} $(sha256sum <"$p" | cut -c1-64)"
    done
} | sha256sum | cut -c1-16)
OUT=$CACHE/out/$KEY

if [ "$REBUILD" != 1 ] && [ -f "$OUT/.complete" ]; then
    log "cached build of xen $VERSION + ${#PATCHES[@]} patches: $OUT"
    echo "$OUT"
    exit 0
fi
t_start=$SECONDS

# ------------------------------------------------------ 1. dependencies --
missing_pkgs() {
    local p st
    for p in $BUILD_PKGS; do
        st=$(dpkg-query -W -f '${Status}' "$p" 2>/dev/null || true)
        case $st in *" installed") ;; *) echo "$p" ;; esac
    done
}
mkdir -p "$CACHE"
missing=$(missing_pkgs | tr '\n' ' ')
if [ -n "${missing// /}" ]; then
    [ "$(id -u)" = 0 ] || die "missing build dependencies: $missing(run as root, or: apt-get install $missing)"
    log "installing build dependencies: $missing"
    export DEBIAN_FRONTEND=noninteractive
    alog=$CACHE/apt-install.log
    # shellcheck disable=SC2086
    if ! apt-get install -y --no-install-recommends $missing >"$alog" 2>&1; then
        log "apt-get install failed; refreshing the package lists once"
        apt-get update >>"$alog" 2>&1 || true
        # shellcheck disable=SC2086
        apt-get install -y --no-install-recommends $missing >>"$alog" 2>&1 ||
            die "apt-get install $missing failed: $(tail -n 5 "$alog")"
    fi
fi
missing=$(missing_pkgs | tr '\n' ' ')
[ -z "${missing// /}" ] || die "build dependencies still missing: $missing"
need_cmd() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || die "command $c not found (it comes with the build dependencies: $BUILD_PKGS)"
    done
}
need_cmd gcc make patch python3 autoconf automake bison flex iasl pkg-config dpkg-source apt-get

# ------------------------------------------------------------ 2. source --
SRC=$CACHE/src
DSC=$SRC/xen_${VERSION}.dsc
mkdir -p "$SRC"

# Every file the .dsc names is there (a download stopped halfway is not).
source_complete() {
    local f
    [ -f "$DSC" ] || return 1
    for f in $(sed -n '/^Files:/,/^[^ ]/ { /^ / { s/.* //p } }' "$DSC"); do
        [ -s "$SRC/$f" ] || return 1
    done
}

if source_complete; then
    log "source package $VERSION already downloaded: $SRC"
else
    APT=$CACHE/apt
    mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/sources.list.d"
    echo "deb-src $MIRROR $SUITE main" >"$APT/sources.list"
    APT_OPTS=(
        -o "Dir::Etc::SourceList=$APT/sources.list"
        -o "Dir::Etc::SourceParts=$APT/sources.list.d"
        -o "Dir::State::Lists=$APT/lists"
        -o "Dir::Cache=$APT/cache"
        -o "APT::Sandbox::User=root"
    )
    log "fetching the source list of $SUITE from $MIRROR (private apt configuration in $APT)"
    apt-get "${APT_OPTS[@]}" update >"$APT/update.log" 2>&1 ||
        die "apt-get update of the deb-src list failed: $(tail -n 5 "$APT/update.log")"
    log "downloading source package xen=$VERSION"
    (cd "$SRC" && apt-get "${APT_OPTS[@]}" source --download-only "xen=$VERSION") >"$APT/source.log" 2>&1 ||
        die "apt-get source --download-only xen=$VERSION failed (is that version still in $SUITE? set VGRANT_XL_XEN_VERSION): $(tail -n 5 "$APT/source.log")"
    source_complete || die "the download of xen $VERSION is incomplete (see $APT/source.log)"
fi

# ----------------------------------------------------- 3. patch + build --
BUILD=$CACHE/build/$KEY
TREE=$BUILD/xen
BLOG=$BUILD/build.log
rm -rf "$BUILD"
mkdir -p "$BUILD"
trap '[ "${VGRANT_XL_KEEP:-0}" = 1 ] || rm -rf "$BUILD"' EXIT

log "unpacking xen $VERSION (with Debian's patches)"
dpkg-source -x "$DSC" "$TREE" >"$BLOG" 2>&1 || die "dpkg-source -x $DSC failed: $(tail -n 5 "$BLOG")"

for p in "${PATCHES[@]}"; do
    log "applying ${p##*/}"
    if ! out=$(cd "$TREE" && patch -p1 --forward --batch --no-backup-if-mismatch <"$p" 2>&1); then
        echo "$out" >&2
        die "${p##*/} does not apply to xen $VERSION"
    fi
    echo "$out" >>"$BLOG"
done

# run a build step; on failure show the end of its output
step() { # DESCRIPTION CMD...
    local what=$1
    shift
    echo "=== $what: $*" >>"$BLOG"
    if ! (cd "$TREE" && "$@") >>"$BLOG" 2>&1; then
        grep -E 'error:|\*\*\*' "$BLOG" | tail -n 20 >&2 || true
        tail -n 30 "$BLOG" >&2
        die "$what failed (full log: $BLOG; VGRANT_XL_KEEP=1 keeps the tree)"
    fi
}

log "autogen.sh + configure"
cp /usr/share/misc/config.guess /usr/share/misc/config.sub "$TREE/"
step autogen ./autogen.sh
step configure ./configure "${CONFIGURE_FLAGS[@]}"
log "building tools/include, tools/libs, tools/xl, tools/helpers (make -j$JOBS)"
step "make tools/include" make -C tools/include
step "make tools/libs" make -j"$JOBS" -C tools/libs
step "make tools/xl" make -j"$JOBS" -C tools/xl
step "make tools/helpers" make -j"$JOBS" -C tools/helpers

# ----------------------------------------------------------- 4. cache ----
rm -rf "$OUT" "$OUT.tmp"
mkdir -p "$OUT.tmp"
for f in "${OUTPUTS[@]}"; do
    [ -f "$TREE/$f" ] || die "the build did not produce $f"
    cp "$TREE/$f" "$OUT.tmp/"
done
{
    echo "xen source $VERSION (Debian), Debian patches applied"
    for p in "${PATCHES[@]}"; do echo "patch ${p##*/}"; done
    echo "configure ${CONFIGURE_FLAGS[*]}"
    echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) in $((SECONDS - t_start)) s"
} >"$OUT.tmp/MANIFEST"
touch "$OUT.tmp/.complete"
mv "$OUT.tmp" "$OUT"

# keep the three most recent results
ls -1dt "$CACHE"/out/*/ 2>/dev/null | tail -n +4 | while IFS= read -r old; do
    rm -rf "$old"
done

log "built in $((SECONDS - t_start)) s: $OUT"
echo "$OUT"
