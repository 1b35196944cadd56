#!/usr/bin/env bash
# Fetch the Debian packages the e2e environment is built from and unpack
# them (dpkg -x, nothing is installed on the host) into the cache.
#
#   tests/e2e/fetch.sh            # resolve, download, unpack (cached)
#
# Cache: ${VGRANT_E2E_CACHE:-$HOME/.cache/virtio-grant/e2e}
#   debs/                 the downloaded .deb files (named pkg_version_arch.deb)
#   root/<key>/           one unpacked tree per exact set of package versions
#   root/<key>/MANIFEST   "package version" lines the key is computed from
#   current.env           E2E_ROOT / E2E_PKG_KEY / E2E_KVER of the last fetch
#
# Environment:
#   VGRANT_E2E_CACHE        cache directory (see above)
#   VGRANT_E2E_KERNEL_PKG   kernel package (default: what linux-image-amd64
#                           depends on, e.g. linux-image-6.1.0-NN-amd64)
#   VGRANT_E2E_XEN_VER      Xen series (default 4.17)
#   VGRANT_E2E_EXTRA_PKGS   extra packages to fetch and unpack (space separated)
#   VGRANT_E2E_OFFLINE=1    never talk to apt: reuse the last fetched tree
#
# If qemu-system-x86_64 is missing it is installed with apt-get (the only
# thing this script installs on the host) and the script says so; if it
# still cannot be had the script fails.
set -euo pipefail
. "$(dirname "$0")/common.sh"
E2E_WHERE=fetch.sh

XENV=${VGRANT_E2E_XEN_VER:-4.17}
DEBS=$E2E_CACHE/debs
ROOTS=$E2E_CACHE/root
mkdir -p "$DEBS" "$ROOTS"

need_cmd dpkg dpkg-deb sha256sum

# ---------------------------------------------------------------- qemu ----
ensure_qemu() {
    if command -v qemu-system-x86_64 >/dev/null 2>&1; then
        return 0
    fi
    [ "${VGRANT_E2E_OFFLINE:-0}" = 1 ] && die "qemu-system-x86_64 is not installed and VGRANT_E2E_OFFLINE=1 forbids installing it"
    need_cmd apt-get
    [ "$(id -u)" = 0 ] || die "qemu-system-x86_64 is not installed and we are not root: run 'apt-get install qemu-system-x86' first"
    log "qemu-system-x86_64 not found: INSTALLING qemu-system-x86 on the host (apt-get install -y)"
    apt-get update -qq || warn "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-system-x86 >&2 ||
        die "apt-get install qemu-system-x86 failed: the e2e tests cannot run without QEMU"
    command -v qemu-system-x86_64 >/dev/null 2>&1 ||
        die "qemu-system-x86 was installed but qemu-system-x86_64 is still not in PATH"
    log "installed: $(qemu-system-x86_64 --version | sed -n 1p)"
}
ensure_qemu

# ------------------------------------------------------ offline reuse -----
use_previous() {
    [ -f "$E2E_CACHE/current.env" ] || die "$1, and no previously fetched tree exists in $E2E_CACHE"
    # shellcheck disable=SC1091
    . "$E2E_CACHE/current.env"
    [ -f "${E2E_ROOT:-/nonexistent}/.complete" ] || die "$1, and the previous tree ${E2E_ROOT:-?} is incomplete"
    warn "$1: reusing the previously fetched tree $E2E_ROOT"
    echo "$E2E_ROOT"
    exit 0
}
[ "${VGRANT_E2E_OFFLINE:-0}" = 1 ] && use_previous "VGRANT_E2E_OFFLINE=1"

need_cmd apt-get apt-cache

updated=0
apt_update() {
    [ "$updated" = 1 ] && return 1
    updated=1
    log "running apt-get update"
    apt-get update -qq >&2 || { warn "apt-get update failed"; return 1; }
}

# "package candidate-version" for every package apt knows a candidate of
# (one apt-cache call: each call costs ~0.3 s)
candidates() {
    apt-cache policy "$@" 2>/dev/null |
        awk '/^[^ \t].*:$/ { p = substr($0, 1, length($0) - 1); next }
             /^  Candidate:/ && p != "" { if ($2 != "(none)") print p, $2; p = "" }'
}

# ----------------------------------------------------- package list -------
kernel_pkg() {
    local k
    k=$(apt-cache depends linux-image-amd64 2>/dev/null |
        awk '/Depends: linux-image-[0-9]/ && !done { done = 1; print $2 }')
    echo "$k"
}
KPKG=${VGRANT_E2E_KERNEL_PKG:-}
if [ -z "$KPKG" ]; then
    KPKG=$(kernel_pkg)
    if [ -z "$KPKG" ]; then
        apt_update || true
        KPKG=$(kernel_pkg)
    fi
    [ -n "$KPKG" ] || use_previous "cannot resolve the kernel package linux-image-amd64 depends on (apt lists empty?)"
fi

KVER=${KPKG#linux-image-}
KSERIES=$(echo "$KVER" | sed -n 's/^\([0-9]*\.[0-9]*\)\..*/\1/p')
[ -n "$KSERIES" ] || die "cannot tell the kernel series (e.g. 6.1) of $KPKG"

PKGS=(
    "xen-hypervisor-$XENV-amd64"
    "$KPKG"
    "xen-utils-$XENV" xen-utils-common xenstore-utils
    "libxenmisc$XENV" libxencall1 libxenstore4 libxengnttab1 libxenevtchn1
    libxentoolcore1 libxenforeignmemory1 libxendevicemodel1 libxentoollog1
    libxenhypfs1 libyajl2
    busybox-static
    # runtime libraries of libxenlight / xl that are not glibc: fetched so the
    # image does not depend on what happens to be installed on the host.
    libext2fs2 libcom-err2 libuuid1 libncurses6 libtinfo6 libzstd1 zlib1g liblzma5
    # the guest kernel's own headers and kbuild, to build virtio_grant.ko for
    # exactly this kernel on the host (build-kmod.sh)
    "linux-headers-$KVER" "linux-headers-${KVER%-amd64}-common" "linux-kbuild-$KSERIES"
    # guest tools of the kernel scenarios: mkfs/fsck/debugfs and fio (its
    # libaio engine; the libraries of its other engines are stubbed by
    # build-images.sh)
    e2fsprogs libblkid1 libss2 fio libaio1 libnuma1
    # make bench's network rows: iperf3 in dom0 and the guests (its library
    # and that library's: SCTP, OpenSSL for its optional authentication)
    iperf3 libiperf0 libsctp1 libssl3
)
# shellcheck disable=SC2206
PKGS+=(${VGRANT_E2E_EXTRA_PKGS:-})

resolve_all() {
    MANIFEST=""
    MISSING=""
    local p v
    declare -A cand=()
    while read -r p v; do cand[$p]=$v; done < <(candidates "${PKGS[@]}")
    for p in "${PKGS[@]}"; do
        v=${cand[$p]:-}
        if [ -z "$v" ]; then MISSING="$MISSING $p"; continue; fi
        MANIFEST+="$p $v"$'\n'
    done
}
resolve_all
if [ -n "$MISSING" ]; then
    apt_update && resolve_all
fi
if [ -n "$MISSING" ]; then
    use_previous "no installable candidate for:$MISSING"
fi
MANIFEST=$(printf '%s' "$MANIFEST" | LC_ALL=C sort)
# the headers must be those of the very kernel the guests boot
kv=$(awk -v p="$KPKG" '$1 == p { print $2 }' <<<"$MANIFEST")
for p in "linux-headers-$KVER" "linux-headers-${KVER%-amd64}-common" "linux-kbuild-$KSERIES"; do
    v=$(awk -v p="$p" '$1 == p { print $2 }' <<<"$MANIFEST")
    [ "$v" = "$kv" ] || warn "$p is version $v but $KPKG is $kv: a module built against it may not load"
done
KEY=$(printf '%s\n' "$MANIFEST" | short_hash)

# file name apt-get download gives pkg=version (epoch ':' becomes %3a)
deb_glob() { local v=${2//:/%3a}; echo "${1}_${v}_"; }

have_deb() { compgen -G "$DEBS/$(deb_glob "$1" "$2")*.deb" >/dev/null; }

ROOT=$ROOTS/$KEY
if [ -f "$ROOT/.complete" ]; then
    log "packages unchanged (key $KEY): reusing $ROOT"
else
    # ------------------------------------------------------ download ------
    todo=()
    while read -r p v; do
        have_deb "$p" "$v" || todo+=("$p=$v")
    done <<<"$MANIFEST"
    if [ "${#todo[@]}" -gt 0 ]; then
        log "downloading ${#todo[@]} package(s) into $DEBS: ${todo[*]}"
        tmpd=$(mktemp -d "$DEBS/.dl.XXXXXX")
        dl() { (cd "$tmpd" && apt-get download -q -o APT::Sandbox::User=root "${todo[@]}" >&2); }
        if ! dl; then
            warn "apt-get download failed; refreshing the package lists and retrying"
            apt_update || true
            dl || { rm -rf "$tmpd"; die "apt-get download ${todo[*]} failed (is the Debian mirror reachable?)"; }
        fi
        mv -f "$tmpd"/*.deb "$DEBS"/
        rmdir "$tmpd"
    else
        log "all .deb files already in $DEBS"
    fi

    # --------------------------------------------------------- unpack -----
    log "unpacking into $ROOT"
    tmpr=$(mktemp -d "$ROOTS/.$KEY.tmp.XXXXXX")
    while read -r p v; do
        f=$(compgen -G "$DEBS/$(deb_glob "$p" "$v")*.deb" | sed -n 1p)
        [ -n "$f" ] || die "downloaded file for $p $v not found in $DEBS"
        dpkg -x "$f" "$tmpr" || die "dpkg -x $f failed"
    done <<<"$MANIFEST"
    # linux-headers-<kver>/Makefile includes the -common tree by its
    # absolute /usr/src path; unpacked here it must name the one beside it
    # (the only absolute path in the headers and kbuild: make -C works then)
    for mk in "$tmpr"/usr/src/linux-headers-*/Makefile; do
        [ -f "$mk" ] || continue
        sed -i 's,^include /usr/src/\(linux-headers-[^/]*\)/Makefile$,include $(dir $(lastword $(MAKEFILE_LIST)))../\1/Makefile,' "$mk"
        ! grep -q '^include /' "$mk" || die "$mk still includes an absolute path: $(grep '^include /' "$mk")"
    done
    printf '%s\n' "$MANIFEST" >"$tmpr/MANIFEST"
    touch "$tmpr/.complete"
    rm -rf "$ROOT"
    mv "$tmpr" "$ROOT"
    # old unpacked trees (other package versions) are large: keep two
    prune_dir "$ROOTS" 2 "$KEY"
fi

[ -d "$ROOT/lib/modules/$KVER" ] || die "kernel modules for $KVER not found in $ROOT/lib/modules"
[ -f "$ROOT/boot/vmlinuz-$KVER" ] || die "kernel $ROOT/boot/vmlinuz-$KVER missing"
compgen -G "$ROOT/boot/xen-$XENV-amd64.gz" >/dev/null || die "hypervisor $ROOT/boot/xen-$XENV-amd64.gz missing"

cat >"$E2E_CACHE/current.env.tmp" <<EOF
E2E_ROOT=$ROOT
E2E_PKG_KEY=$KEY
E2E_KVER=$KVER
E2E_XENV=$XENV
E2E_KDIR=$ROOT/usr/src/linux-headers-$KVER
EOF
mv "$E2E_CACHE/current.env.tmp" "$E2E_CACHE/current.env"
echo "$ROOT"
