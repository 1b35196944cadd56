#!/usr/bin/env bash
# Build (or reuse) the boot images of the e2e environment:
#   xen.bin     the hypervisor (multiboot ELF, from xen-hypervisor-4.17-amd64)
#   vmlinuz     the Debian kernel, used for dom0 and for every domU
#   dom0.img    dom0 initramfs: busybox, Xen tools + libs, xenstored,
#               xenconsoled, xl, kernel modules, the scenarios (and the
#               guest jobs' folder, whose helpers some scenarios source),
#               the daemon side's project programs (DOM0_PROGRAMS), and the
#               domU kernel + domU.img to start guests with
#   domU.img    domU initramfs: busybox, xenstore-utils, kernel modules, the
#               guest jobs, the guest side's project programs
#               (DOMU_PROGRAMS); e2fsprogs and fio, and virtio_grant.ko
#               built for the guest kernel (build-kmod.sh)
#
#   tests/e2e/build-images.sh [BINDIR]
#
# BINDIR (default $VGRANT_E2E_BINDIR or <repo>/build/bin) holds the project's
# binaries.  Each image gets only the programs its side runs (DOM0_PROGRAMS,
# DOMU_PROGRAMS below) in /opt/vgrant/bin, with their shared libraries
# (found with ldd); an executable of BINDIR in neither list stops the
# build.  dom0's programs come from $VGRANT_E2E_DOM0_BINDIR if set (make
# e2e SAN=1: the ASan/UBSan build-san/bin, whose runtime libraries then go
# to dom0 only), else from BINDIR.  *.so* files beside the programs or in
# ../lib go to /opt/vgrant/lib of the image they feed; *.ko files in BINDIR
# or BINDIR/../modules go to the domU's /opt/vgrant/modules.  A missing or
# empty BINDIR is fine (the images then hold no project binary).
#
# Each image is two concatenated gzip'ed cpio archives (the kernel unpacks
# both): a base part keyed on the Debian package versions, the host's glibc
# and this script, rebuilt rarely; and an overlay keyed on the project
# binaries + init/, scenarios/, guest/, runner.sh, rebuilt in a second or two.
#
# Prints the path of a file of shell assignments (E2E_XEN, E2E_KERNEL,
# E2E_DOM0_IMG, E2E_DOMU_IMG, E2E_KVER) on stdout.
#
# Environment:
#   VGRANT_E2E_CACHE              cache directory
#   VGRANT_E2E_BINDIR             default BINDIR
#   VGRANT_E2E_DOM0_BINDIR        dom0's programs from here (default BINDIR)
#   VGRANT_E2E_DOM0_MODULES_EXTRA extra kernel modules put in dom0 (not loaded)
#   VGRANT_E2E_DOMU_MODULES_EXTRA extra kernel modules put in domU (not loaded)
#   VGRANT_E2E_REBUILD=1          ignore cached images
#   VGRANT_E2E_DEBS               a directory of the project's .debs (make deb's
#                                 build/debs): the images get the packages'
#                                 files at their own paths instead of
#                                 BINDIR's programs (tests/e2e/image-debs.sh),
#                                 and virtio_grant.ko built from the DKMS
#                                 package; only the test-only programs
#                                 (vg-dm, vg-hostile) still come from BINDIR
#   VGRANT_E2E_XL_DIR             a directory holding xl, libxenlight.so.4.17.0
#                                 and libxlutil.so.4.17.0 (xen-patches/build.sh)
#                                 that replace the packaged ones in dom0, and
#                                 the other programs linked with libxenlight
#                                 (xen-init-dom0, init-xenstore-domain), which
#                                 must match its changed libxl_domain_config
set -euo pipefail
. "$(dirname "$0")/common.sh"
E2E_WHERE=build-images.sh

BINDIR=${1:-${VGRANT_E2E_BINDIR:-$E2E_REPO/build/bin}}
DOM0_BINDIR=${VGRANT_E2E_DOM0_BINDIR:-$BINDIR}

# Which project programs each image gets.  dom0 runs the daemon side:
# vgrantd, its CLI, and vg-dm (device-mapper for fault-eio).  A domU runs
# the guest side: vgrant-io, the hostile frontend vg-hostile, and, as a
# driver domain (guest job vgrant-dd: driverdomain, xl-driverdomain), the
# daemon and its CLI too.  A sanitizer build (VGRANT_E2E_DOM0_BINDIR) thus
# only reaches dom0: the guests keep BINDIR's plain programs.
DOM0_PROGRAMS="vgrantd vgrant vg-dm"
DOMU_PROGRAMS="vgrant-io vg-hostile vgrantd vgrant"
# From the packages (VGRANT_E2E_DEBS): the packages bring vgrantd, vgrant
# and vgrant-io; BINDIR gives only the test-only programs.
DEBDIR=${VGRANT_E2E_DEBS:-}
if [ -n "$DEBDIR" ]; then
    [ -d "$DEBDIR" ] || die "VGRANT_E2E_DEBS=$DEBDIR is not a directory (run make deb)"
    DEBDIR=$(cd "$DEBDIR" && pwd)
    # shellcheck source=tests/e2e/image-debs.sh
    . "$E2E_DIR/image-debs.sh"
    DOM0_PROGRAMS="vg-dm"
    DOMU_PROGRAMS="vg-hostile"
fi

need_cmd cpio gzip ldd ldconfig sha256sum find sort readelf nm gcc

ROOT=$("$E2E_DIR/fetch.sh" | tail -n1)
# shellcheck disable=SC1091
. "$E2E_CACHE/current.env"
[ "$ROOT" = "$E2E_ROOT" ] || die "fetch.sh returned $ROOT but current.env says $E2E_ROOT"
KVER=$E2E_KVER
XENV=$E2E_XENV
MODDIR=lib/modules/$KVER
XENBIN=usr/lib/xen-$XENV/bin

# Modules loaded at boot (in this order, dependencies first) and modules
# only put in the image (modprobe-able later from a scenario / guest job).
DOM0_MODULES="xenfs xen-evtchn xen-gntdev xen-gntalloc xen-privcmd loop xen-blkback"
# dm-mod: the fault-eio scenario puts a device-mapper error target under
# vgrantd; ext4: dom0 loop-mounts the images the kernel scenarios' guests
# formatted; tun and bridge: vgrantd's taps for type=net and the bridge
# kernel-net puts them in; xen-netback: Xen's own PV network backend, make
# bench's netfront rows (vif=[...] through the same bridge)
DOM0_MODULES_EXTRA="dm-mod dm-delay crc32c_generic ext4 tun bridge xen-netback ${VGRANT_E2E_DOM0_MODULES_EXTRA:-}"
DOMU_MODULES="xen-evtchn xen-gntdev xen-gntalloc xenfs xen-blkfront"
# the stock kernel's virtio drivers (virtio_grant.ko makes them run over
# grants) and ext4 (crc32c_generic first: qemu64 has no SSE4.2 for
# crc32c-intel, and nothing would load it on demand); virtio_net brings
# net_failover and failover; xen-netfront: Xen's own PV network driver (make
# bench's netfront rows)
DOMU_MODULES_EXTRA="virtio virtio_ring virtio_blk virtio_console virtio-rng virtio_net xen-netfront crc32c_generic ext4 ${VGRANT_E2E_DOMU_MODULES_EXTRA:-}"

LIBPATH="$ROOT/usr/lib/x86_64-linux-gnu:$ROOT/lib/x86_64-linux-gnu"

# ----------------------------------------------------------- helpers ------

# Path a file of the unpacked tree or of the host gets inside the image
# (the images use the merged-/usr layout: /lib -> usr/lib etc.).
PROJECT_LIBDIRS=()
img_path() {
    local p=$1 d
    for d in "${PROJECT_LIBDIRS[@]}"; do
        case $p in "$d"/*) echo "/opt/vgrant/lib/${p##*/}"; return ;; esac
    done
    case $p in "$ROOT"/*) p=${p#"$ROOT"} ;; esac
    case $p in
        /lib/*|/lib64/*|/bin/*|/sbin/*) p=/usr$p ;;
    esac
    echo "$p"
}

# copy_file SRC IMGDIR [DST]: copy (dereferenced) keeping the mode.
copy_file() {
    local src=$1 img=$2 dst=${3:-}
    [ -n "$dst" ] || dst=$(img_path "$src")
    mkdir -p "$img$(dirname "$dst")"
    cp -L --preserve=mode "$src" "$img$dst" || die "cannot copy $src to image path $dst"
}

is_elf() { [ "$(od -An -c -N4 "$1" 2>/dev/null | tr -d ' ')" = '177ELF' ]; }

# copy the shared libraries (and the ELF interpreter) an ELF file needs.
# extra library dirs for the lookup in $LDD_EXTRA.
copy_libs() {
    local f=$1 img=$2 out lib
    is_elf "$f" || return 0
    out=$(LD_LIBRARY_PATH="${LDD_EXTRA:+$LDD_EXTRA:}$LIBPATH" ldd "$f" 2>&1) || {
        case $out in *"not a dynamic executable"*|*"statically linked"*) return 0 ;; esac
        die "ldd $f failed: $out"
    }
    if grep -q 'not found' <<<"$out"; then
        die "$f needs libraries found neither in the fetched packages nor on the host:
$(grep 'not found' <<<"$out")
(add the Debian package that ships them to VGRANT_E2E_EXTRA_PKGS, or install it on the host)"
    fi
    while read -r lib; do
        [ -n "$lib" ] || continue
        case $lib in "$img"/*) continue ;; esac   # in the image tree already
        [ -e "$img$(img_path "$lib")" ] && continue
        copy_file "$lib" "$img"
    done < <(awk '/=> \// { print $3; next } /^[[:space:]]*\/[^ ]+ \(0x/ { print $1 }' <<<"$out")
}

# add_elf SRC IMGDIR [DST]: copy a program and its libraries
add_elf() {
    copy_file "$1" "$2" "${3:-}"
    copy_libs "$1" "$2"
}

# The name the kernel uses for a module (dashes become underscores).
modname() { local n=${1##*/}; n=${n%.ko}; echo "${n//-/_}"; }

declare -A MODFILE=()
index_modules() {
    local f n
    # no $(modname) here: a subshell per module (4000 of them) costs minutes
    # on a loaded machine
    while IFS= read -r f; do
        n=${f##*/}; n=${n%.ko}; n=${n//-/_}
        MODFILE[$n]=${f#"$ROOT/$MODDIR/"}
    done < <(find "$ROOT/$MODDIR/kernel" -name '*.ko')
}

mod_depends() { # relative module path -> its dependencies' names
    tr '\0' '\n' <"$ROOT/$MODDIR/$1" | sed -n 's/^depends=//p' | sed -n 1p | tr ',' ' '
}

is_builtin() {
    local n
    n=$(modname "$1")
    sed 's,.*/,,; s,\.ko$,,; s,-,_,g' "$ROOT/$MODDIR/modules.builtin" | grep -cx "$n" >/dev/null
}

# resolve MODULE names into relative paths, dependencies first (appends to
# the global array ORDER, skipping duplicates). Unknown modules are fatal
# when $2 = required.
declare -A SEEN=()
ORDER=()
resolve_module() {
    local n rel d
    n=$(modname "$1")
    [ -n "${SEEN[$n]:-}" ] && return 0
    SEEN[$n]=1
    rel=${MODFILE[$n]:-}
    if [ -z "$rel" ]; then
        if is_builtin "$1"; then return 0; fi
        if [ "$2" = required ]; then die "kernel module $1 not found in $ROOT/$MODDIR"; fi
        warn "optional kernel module $1 not found in $KVER, skipped"
        return 0
    fi
    for d in $(mod_depends "$rel"); do resolve_module "$d" required; done
    ORDER+=("$rel")
}

# add_modules IMGDIR "load list" "extra list"
add_modules() {
    local img=$1 m rel
    SEEN=(); ORDER=()
    for m in $2; do resolve_module "$m" required; done
    mkdir -p "$img/etc/e2e"
    printf '%s\n' "${ORDER[@]}" >"$img/etc/e2e/modules.load"
    for m in $3; do resolve_module "$m" optional; done
    mkdir -p "$img/$MODDIR"
    : >"$img/$MODDIR/modules.dep"
    for rel in "${ORDER[@]}"; do
        copy_file "$ROOT/$MODDIR/$rel" "$img" "/$MODDIR/$rel"
        local deps="" d
        for d in $(mod_depends "$rel"); do deps="$deps ${MODFILE[$(modname "$d")]:-}"; done
        echo "$rel:$deps" >>"$img/$MODDIR/modules.dep"
    done
    cp "$ROOT/$MODDIR/modules.builtin" "$ROOT/$MODDIR/modules.order" "$img/$MODDIR/" 2>/dev/null || true
}

add_busybox() {
    local img=$1 l p
    copy_file "$ROOT/bin/busybox" "$img" /usr/bin/busybox
    while IFS= read -r l; do
        p=/$l
        case $p in /bin/*|/sbin/*) p=/usr$p ;; esac
        [ -e "$img$p" ] || [ -L "$img$p" ] && continue
        [ -d "$img${p%/*}" ] || mkdir -p "$img${p%/*}"
        ln -s /usr/bin/busybox "$img$p"
    done < <("$ROOT/bin/busybox" --list-full)
}

add_skeleton() {
    local img=$1 d
    for d in usr/bin usr/sbin usr/lib/x86_64-linux-gnu usr/lib64 proc sys dev run tmp \
        etc root mnt var/log var/lib/xen opt/vgrant/bin opt/vgrant/lib opt/vgrant/modules e2e; do
        mkdir -p "$img/$d"
    done
    ln -s usr/bin "$img/bin"
    ln -s usr/sbin "$img/sbin"
    ln -s usr/lib "$img/lib"
    ln -s usr/lib64 "$img/lib64"
    ln -s ../run "$img/var/run"
    chmod 1777 "$img/tmp"
    echo 'root:x:0:0:root:/root:/bin/sh' >"$img/etc/passwd"
    echo 'root:x:0:' >"$img/etc/group"
    printf '/usr/lib/x86_64-linux-gnu\n/opt/vgrant/lib\n' >"$img/etc/ld.so.conf"
    echo "$KVER" >"$img/etc/e2e-kver"
}

add_xen_libs() {
    local img=$1 f
    # every libxen* runtime library (project binaries may want any of them)
    for f in "$ROOT"/usr/lib/x86_64-linux-gnu/lib{xen,yajl}*.so.*; do
        [ -e "$f" ] || continue
        copy_file "$f" "$img"
        copy_libs "$f" "$img"
    done
    # xl (pthread_cancel) dlopens libgcc_s: not visible to ldd
    local gcc_s
    gcc_s=$(ldconfig -p | awk '/libgcc_s\.so\.1 .*x86-64/ && !done { done = 1; print $NF }')
    [ -n "$gcc_s" ] || gcc_s=$(gcc -print-file-name=libgcc_s.so.1 2>/dev/null || true)
    [ -f "$gcc_s" ] || die "libgcc_s.so.1 not found on the host (package libgcc-s1)"
    copy_file "$gcc_s" "$img" /usr/lib/x86_64-linux-gnu/libgcc_s.so.1
}

add_xenstore_utils() {
    local img=$1 f
    for f in "$ROOT"/usr/bin/xenstore*; do add_elf "$f" "$img"; done
}

# rm first: the destination may be a busybox applet symlink, and copying
# onto it would write through the link
add_prog() { # SRC IMGDIR DST
    rm -f "$2$3"
    add_elf "$1" "$2" "$3"
}

# e2fsprogs: mkfs.ext4, fsck.ext4 (and their long names), debugfs, dumpe2fs
add_e2fsprogs() {
    local img=$1 p
    for p in mke2fs mkfs.ext4 e2fsck fsck.ext4 debugfs dumpe2fs; do
        [ -f "$ROOT/sbin/$p" ] || die "e2fsprogs: $ROOT/sbin/$p missing"
        add_prog "$ROOT/sbin/$p" "$img" "/usr/sbin/$p"
    done
    copy_file "$ROOT/etc/mke2fs.conf" "$img" /etc/mke2fs.conf
    # e2fsck/mke2fs check for mounted filesystems through mtab
    [ -e "$img/etc/mtab" ] || ln -s /proc/mounts "$img/etc/mtab"
}

# iperf3 from Debian (make bench's network rows, in dom0 and the guests)
add_iperf3() {
    [ -x "$ROOT/usr/bin/iperf3" ] || die "iperf3 not found in the fetched packages ($ROOT/usr/bin/iperf3)"
    add_prog "$ROOT/usr/bin/iperf3" "$1" /usr/bin/iperf3
}

# fio from Debian.  Its binary links the libraries of every I/O engine it
# was built with (ceph's librados/librbd, glusterfs, libnbd, rdma, pmem):
# their closure is ~100 MB (libicu alone is 36 MB).  The scenarios use the
# libaio engine only, so those libraries are replaced by stubs with the same
# soname and symbol versions whose functions print their name and abort; the
# libraries fio's core needs (libc, libm, zlib, libaio, libnuma) are real.
FIO_REAL_LIBS="libc.so.6 libm.so.6 libz.so.1 libaio.so.1 libnuma.so.1"
add_fio() {
    local img=$1 fio=$ROOT/usr/bin/fio stub=$2 lib needed f
    [ -x "$fio" ] || die "fio not found in the fetched packages ($fio)"
    mkdir -p "$stub"
    needed=$(readelf -d "$fio" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
    # version -> file, from the version-needs section
    readelf -V -W "$fio" | awk '
        /File: / { for (i = 1; i <= NF; i++) if ($i == "File:") file = $(i + 1); next }
        /Name: / && file != "" { for (i = 1; i <= NF; i++) if ($i == "Name:") print $(i + 1), file }' >"$stub/versions"
    # undefined symbols: "name version" (version "-" when unversioned)
    readelf --dyn-syms -W "$fio" | awk '$7 == "UND" && $8 != "" && $5 != "WEAK" {
        n = $8; v = "-"; i = index(n, "@"); if (i) { v = substr(n, i + 1); n = substr(n, 1, i - 1) }
        print n, v }' >"$stub/undef"
    # unversioned symbols the real libraries do not define belong to a stub
    : >"$stub/defined"
    for lib in $FIO_REAL_LIBS; do
        f=$(LD_LIBRARY_PATH="$LIBPATH" ldd "$fio" | awk -v l="$lib" '$1 == l { print $3 }')
        [ -n "$f" ] || die "fio needs $lib, found neither in the fetched packages nor on the host"
        nm -D --defined-only "$f" | awk '{ n = $NF; sub(/@.*/, "", n); print n }' >>"$stub/defined"
    done
    for lib in $needed; do
        case " $FIO_REAL_LIBS " in *" $lib "*) continue ;; esac
        {
            echo '#include <stdio.h>'
            echo '#include <stdlib.h>'
            echo 'static void stub(const char *f) { fprintf(stderr, "fio: %s is a stub in the e2e image (only the libaio engine is provided)\n", f); abort(); }'
            awk -v l="$lib" 'NR == FNR { if ($2 == l) mine[$1] = 1; next }
                ($2 in mine) { print "void " $1 "(void) { stub(\"" $1 "\"); }" }' "$stub/versions" "$stub/undef"
            awk 'NR == FNR { d[$1] = 1; next } $2 == "-" && !($1 in d) { print "void " $1 "(void) { stub(\"" $1 "\"); }" }' \
                "$stub/defined" "$stub/undef"
        } >"$stub/$lib.c"
        awk -v l="$lib" 'NR == FNR { if ($2 == l) { vers[$1] = 1; order[++n] = $1 } next }
            ($2 in vers) { syms[$2] = syms[$2] " " $1 ";" }
            END { for (i = 1; i <= n; i++) printf "%s {\n global:%s\n%s};\n", order[i], syms[order[i]], (i == n ? " local: stub;\n" : "") }' \
            "$stub/versions" "$stub/undef" >"$stub/$lib.map"
        local vs=""
        [ -s "$stub/$lib.map" ] && vs="-Wl,--version-script=$stub/$lib.map"
        # shellcheck disable=SC2086
        gcc -shared -fPIC -O1 -w -o "$stub/$lib" -Wl,-soname,"$lib" $vs "$stub/$lib.c" ||
            die "cannot build the stub $lib for fio"
        copy_file "$stub/$lib" "$img" "/usr/lib/x86_64-linux-gnu/$lib"
    done
    rm -f "$img/usr/bin/fio"
    copy_file "$fio" "$img" /usr/bin/fio
    LDD_EXTRA=$stub copy_libs "$fio" "$img"
}

# check_programs DIR: every executable of DIR must be in DOM0_PROGRAMS or
# DOMU_PROGRAMS, so a new program is placed in an image on purpose
check_programs() {
    local f n
    [ -d "$1" ] || return 0
    for f in "$1"/*; do
        if [ ! -f "$f" ] || [ ! -x "$f" ]; then continue; fi
        n=${f##*/}
        case $n in *.so|*.so.*|*.ko) continue ;; esac
        case " $DOM0_PROGRAMS $DOMU_PROGRAMS " in
            *" $n "*) ;;
            *) die "$f is in neither DOM0_PROGRAMS nor DOMU_PROGRAMS of $0: add it to the image(s) that run it" ;;
        esac
    done
}

# add_project TREE DIR "PROGRAMS" [modules]: those programs of DIR (in
# TREE/opt/vgrant/bin) with their shared libraries, the *.so* of DIR and
# DIR/../lib, and with "modules" the *.ko of DIR and DIR/../modules.
# NPROG: how many programs were added.
NPROG=0
add_project() {
    local tree=$1 dir=$2 progs=$3 f p
    NPROG=0
    mkdir -p "$tree"
    if [ ! -d "$dir" ]; then
        warn "project binary directory $dir does not exist: $tree gets no project program"
        return 0
    fi
    LDD_EXTRA="$dir:$dir/../lib"
    PROJECT_LIBDIRS=("$(cd "$dir" && pwd)")
    [ -d "$dir/../lib" ] && PROJECT_LIBDIRS+=("$(cd "$dir/../lib" && pwd)")
    PROJECT_LIBDIRS+=("$dir" "$dir/../lib")
    for f in "$dir"/*.so* "$dir"/../lib/*.so*; do
        [ -f "$f" ] || continue
        copy_file "$f" "$tree" "/opt/vgrant/lib/${f##*/}"
    done
    if [ "${4:-}" = modules ]; then
        for f in "$dir"/*.ko "$dir"/../modules/*.ko; do
            [ -f "$f" ] || continue
            copy_file "$f" "$tree" "/opt/vgrant/modules/${f##*/}"
        done
    fi
    for p in $progs; do
        f=$dir/$p
        if [ -f "$f" ] && [ -x "$f" ]; then
            add_elf "$f" "$tree" "/opt/vgrant/bin/$p"
            NPROG=$((NPROG + 1))
        else
            warn "$f missing: the image built from $dir has no $p"
        fi
    done
    unset LDD_EXTRA
    PROJECT_LIBDIRS=()
}

finish_libs() { ldconfig -r "$1" 2>/dev/null || warn "ldconfig -r $1 failed (ld.so falls back to default paths)"; }

mkcpio() { # DIR OUT
    (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -1 >"$2.tmp"
    mv "$2.tmp" "$2"
}

# ------------------------------------------------------------ base --------
IMAGES=$E2E_CACHE/images
mkdir -p "$IMAGES/base" "$IMAGES/run"

host_libs=$(dpkg-query -W -f '${Package} ${Version}\n' libc6 libgcc-s1 2>/dev/null || true)
BASE_KEY=$({
    echo "$E2E_PKG_KEY"
    echo "$host_libs"
    echo "$DOM0_MODULES|$DOM0_MODULES_EXTRA|$DOMU_MODULES|$DOMU_MODULES_EXTRA"
    hash_tree "$E2E_DIR/build-images.sh" "$E2E_DIR/common.sh"
} | short_hash)
BASE=$IMAGES/base/$BASE_KEY

if [ -f "$BASE/.complete" ] && [ "${VGRANT_E2E_REBUILD:-0}" != 1 ]; then
    log "base images unchanged: $BASE"
else
    t0=$SECONDS
    log "building base images in $BASE"
    rm -rf "$BASE"
    work=$(mktemp -d "$IMAGES/base/.$BASE_KEY.tmp.XXXXXX")
    trap 'rm -rf "$work"' EXIT

    # hypervisor and kernel
    zcat "$ROOT/boot/xen-$XENV-amd64.gz" >"$work/xen.bin" || die "cannot unpack the hypervisor"
    cp "$ROOT/boot/vmlinuz-$KVER" "$work/vmlinuz"
    index_modules

    # --- dom0 ---
    d0=$work/dom0
    add_skeleton "$d0"
    add_busybox "$d0"
    mkdir -p "$d0/var/log/xen/console" "$d0/var/lib/xenstored" "$d0/e2e/domU"
    for f in "$ROOT/$XENBIN"/*; do
        case ${f##*/} in oxenstored) continue ;; esac   # C xenstored is used
        is_elf "$f" || continue                          # python/shell tools need more than busybox
        add_elf "$f" "$d0" "/$XENBIN/${f##*/}"
    done
    add_xenstore_utils "$d0"
    # POSIX cksum (busybox has none): dom0 checks backing files with it
    add_elf /usr/bin/cksum "$d0" /usr/bin/cksum
    add_xen_libs "$d0"
    # the kernel scenarios make and check ext4 images in dom0
    add_e2fsprogs "$d0"
    add_iperf3 "$d0"
    cp -a "$ROOT/etc/xen" "$d0/etc/"
    add_modules "$d0" "$DOM0_MODULES" "$DOM0_MODULES_EXTRA"
    cp "$ROOT/boot/vmlinuz-$KVER" "$d0/e2e/domU/vmlinuz"
    finish_libs "$d0"

    # --- domU ---
    du=$work/domU
    add_skeleton "$du"
    add_busybox "$du"
    add_xenstore_utils "$du"
    # a driver domain (guest job vgrant-dd) checksums the images it serves
    add_elf /usr/bin/cksum "$du" /usr/bin/cksum
    add_xen_libs "$du"
    add_modules "$du" "$DOMU_MODULES" "$DOMU_MODULES_EXTRA"
    cp "$du/$MODDIR/modules.dep" "$work/domU-modules.dep"
    # the kernel scenarios: ext4 tools and fio in the guest
    add_e2fsprogs "$du"
    add_fio "$du" "$work/fio-stubs"
    add_iperf3 "$du"
    rm -rf "$work/fio-stubs"
    finish_libs "$du"

    mkcpio "$d0" "$work/dom0-base.cpio.gz"
    mkcpio "$du" "$work/domU-base.cpio.gz"
    rm -rf "$d0" "$du"
    touch "$work/.complete"
    mv "$work" "$BASE"
    trap - EXIT
    prune_dir "$IMAGES/base" 3 "$BASE_KEY"
    log "base images built in $((SECONDS - t0)) s ($(du -sh "$BASE" | cut -f1))"
fi

# --------------------------------------------------------- overlay --------
bin_state="none" dom0_bin_state="none"
if [ -n "$DEBDIR" ]; then
    bin_state="debs $(debs_state "$DEBDIR") $(hash_tree "$BINDIR/vg-hostile" "$BINDIR/vg-dm" "$E2E_DIR/image-debs.sh")"
    dom0_bin_state=$bin_state
else
    [ -d "$BINDIR" ] && bin_state=$(hash_tree "$BINDIR" "$BINDIR/../lib" "$BINDIR/../modules")
    [ -d "$DOM0_BINDIR" ] && dom0_bin_state=$(hash_tree "$DOM0_BINDIR" "$DOM0_BINDIR/../lib")
fi
# a patched xl + libxl (xen-patches/build.sh) over the packaged ones
XL_DIR=${VGRANT_E2E_XL_DIR:-}
XL_FILES="xl libxenlight.so.4.17.0 libxlutil.so.4.17.0 xen-init-dom0 init-xenstore-domain"
# virtio_grant.ko for the guest kernel (build-kmod.sh: make kmod against the
# fetched headers); it goes to the domU's /lib/modules/<kver>/extra with a
# modules.dep line, so `modprobe virtio_grant` loads virtio + virtio_ring
# (from the packages: built from virtio-grant-dkms's source by its dkms.conf)
if [ -n "$DEBDIR" ]; then
    dkms_x=$(mktemp -d "$IMAGES/run/.dkms.XXXXXX")
    dkms_src=$(deb_dkms_src "$(deb_file "$DEBDIR" "$DEB_DKMS_PKG")" "$dkms_x")
    KMOD=$(VGRANT_E2E_KMOD_DKMS=$dkms_src "$E2E_DIR/build-kmod.sh" | tail -n1) ||
        { rm -rf "$dkms_x"; die "building virtio_grant.ko from the DKMS package failed"; }
    rm -rf "$dkms_x"
    [ -n "$KMOD" ] || die "the DKMS package gave no virtio_grant.ko"
    KMOD_DEST=$(deb_kmod_dest)
else
    KMOD=$("$E2E_DIR/build-kmod.sh" | tail -n1) || die "building virtio_grant.ko failed"
    KMOD_DEST=extra
fi
kmod_state="none"
[ -n "$KMOD" ] && kmod_state=$(sha256sum <"$KMOD" | cut -c1-64)
xl_state="none"
if [ -n "$XL_DIR" ]; then
    for f in $XL_FILES; do
        [ -f "$XL_DIR/$f" ] || die "VGRANT_E2E_XL_DIR=$XL_DIR has no $f (xen-patches/build.sh makes them)"
    done
    missing=$(LD_LIBRARY_PATH="$XL_DIR:$LIBPATH" ldd "$XL_DIR/xl" 2>&1 | grep 'not found' || true)
    [ -z "$missing" ] || die "the patched $XL_DIR/xl needs libraries the image does not have:
$missing"
    xl_state=$(cd "$XL_DIR" && hash_tree $XL_FILES)
fi
OV_KEY=$({
    echo "$BASE_KEY"
    echo "$bin_state"
    echo "dom0 $dom0_bin_state"
    echo "xl $xl_state"
    echo "kmod $kmod_state"
    echo "kmod-dest $KMOD_DEST"
    hash_tree "$E2E_DIR/init" "$E2E_DIR/scenarios" "$E2E_DIR/guest" "$E2E_DIR/runner.sh"
} | short_hash)
RUN=$IMAGES/run/$OV_KEY

if [ -f "$RUN/paths.env" ] && [ "${VGRANT_E2E_REBUILD:-0}" != 1 ]; then
    log "images unchanged: $RUN"
else
    t0=$SECONDS
    log "building images in $RUN (project binaries from ${BINDIR})"
    rm -rf "$RUN"
    work=$(mktemp -d "$IMAGES/run/.$OV_KEY.tmp.XXXXXX")
    trap 'rm -rf "$work"' EXIT

    # project programs -> one tree per image
    if [ -n "$DEBDIR" ]; then
        # only the test-only programs from BINDIR, without its libraries
        # (a build/lib/libvgrant.so.0 in /opt/vgrant/lib would shadow the
        # packaged one)
        mkdir -p "$work/testbin"
        for p in $DOM0_PROGRAMS $DOMU_PROGRAMS; do
            [ -x "$BINDIR/$p" ] && cp -p "$BINDIR/$p" "$work/testbin/"
        done
        BINDIR=$work/testbin DOM0_BINDIR=$work/testbin
    else
        check_programs "$BINDIR"
        [ "$DOM0_BINDIR" = "$BINDIR" ] || check_programs "$DOM0_BINDIR"
    fi
    pu=$work/project-domU p0=$work/project-dom0
    add_project "$pu" "$BINDIR" "$DOMU_PROGRAMS" modules
    nbin=$NPROG
    add_project "$p0" "$DOM0_BINDIR" "$DOM0_PROGRAMS"
    nbin=$((nbin + NPROG))
    [ -d "$pu/opt/vgrant/bin" ] && log "domU programs (from $BINDIR): $(cd "$pu/opt/vgrant/bin" && echo *)"
    [ -d "$p0/opt/vgrant/bin" ] && log "dom0 programs (from $DOM0_BINDIR): $(cd "$p0/opt/vgrant/bin" && echo *)"

    # domU overlay
    ou=$work/ovu
    mkdir -p "$ou/e2e"
    cp -a "$pu/." "$ou/"
    install -m 0755 "$E2E_DIR/init/domU-init.sh" "$ou/init"
    if [ -n "$DEBDIR" ]; then
        for p in $DEB_DOMU_PKGS; do add_deb "$(deb_file "$DEBDIR" "$p")" "$ou"; done
    fi
    if [ -n "$KMOD" ]; then
        # usr/lib, never lib: /lib is a symlink in the base, and a directory
        # "lib" in this archive would replace it when the kernel unpacks it
        install -D -m 0644 "$KMOD" "$ou/usr/$MODDIR/$KMOD_DEST/virtio_grant.ko"
        # its dependencies and theirs (busybox modprobe does not recurse)
        kdeps=""
        for d in $(tr '\0' '\n' <"$KMOD" | sed -n 's/^depends=//p' | sed -n 1p | tr ',' ' '); do
            line=$(grep "^[^:]*/${d//_/[-_]}\.ko:" "$BASE/domU-modules.dep" | sed -n 1p || true)
            [ -n "$line" ] || die "virtio_grant.ko depends on $d, which is not in the domU image (DOMU_MODULES_EXTRA)"
            for rel in ${line#*:} ${line%%:*}; do
                case " $kdeps " in *" $rel "*) ;; *) kdeps="$kdeps $rel" ;; esac
            done
        done
        { cat "$BASE/domU-modules.dep"; echo "$KMOD_DEST/virtio_grant.ko:$kdeps"; } >"$ou/usr/$MODDIR/modules.dep"
        log "virtio_grant.ko in the domU image as $KMOD_DEST/virtio_grant.ko (depends:${kdeps:- none})"
    fi
    cp -a "$E2E_DIR/guest" "$ou/e2e/guest"
    mkcpio "$ou" "$work/domU-ov.cpio.gz"
    cat "$BASE/domU-base.cpio.gz" "$work/domU-ov.cpio.gz" >"$work/domU.img"

    # dom0 overlay (carries the complete domU image)
    o0=$work/ov0
    mkdir -p "$o0/e2e/domU"
    cp -a "$p0/." "$o0/"
    if [ -n "$DEBDIR" ]; then
        for p in $DEB_DOM0_PKGS; do add_deb "$(deb_file "$DEBDIR" "$p")" "$o0"; done
    fi
    # what the guests can run (lib.sh's need_guest_bin)
    {
        [ -d "$pu/opt/vgrant/bin" ] && (cd "$pu/opt/vgrant/bin" && ls)
        [ -z "$DEBDIR" ] || deb_programs "$ou"
    } >"$o0/e2e/domU/programs"
    install -m 0755 "$E2E_DIR/init/dom0-init.sh" "$o0/init"
    install -m 0755 "$E2E_DIR/runner.sh" "$o0/e2e/runner.sh"
    install -D -m 0755 "$E2E_DIR/init/xen-block-hotplug" "$o0/etc/xen/scripts/block"
    install -D -m 0755 "$E2E_DIR/init/xen-vif-hotplug" "$o0/etc/xen/scripts/vif-bridge"
    if [ -n "$XL_DIR" ]; then
        log "patched xl and libxl from $XL_DIR"
        for f in xl xen-init-dom0 init-xenstore-domain; do
            install -D -m 0755 "$XL_DIR/$f" "$o0/$XENBIN/$f"
        done
        for v in 4.17 4.17.0; do
            install -D -m 0644 "$XL_DIR/libxenlight.so.4.17.0" "$o0/usr/lib/x86_64-linux-gnu/libxenlight.so.$v"
            install -D -m 0644 "$XL_DIR/libxlutil.so.4.17.0" "$o0/usr/lib/x86_64-linux-gnu/libxlutil.so.$v"
        done
    fi
    cp -a "$E2E_DIR/scenarios" "$o0/e2e/scenarios"
    # the guest jobs' helpers some scenarios source too (kernel-net:
    # guest/net-lib.sh, as ../guest/ from the scenarios, as in the tree)
    cp -a "$E2E_DIR/guest" "$o0/e2e/guest"
    cp "$work/domU.img" "$o0/e2e/domU/domU.img"
    mkcpio "$o0" "$work/dom0-ov.cpio.gz"
    cat "$BASE/dom0-base.cpio.gz" "$work/dom0-ov.cpio.gz" >"$work/dom0.img"

    rm -rf "$pu" "$p0" "$ou" "$o0" "$work"/*-ov.cpio.gz "$work/testbin"
    cat >"$work/paths.env" <<EOF
E2E_XEN=$BASE/xen.bin
E2E_KERNEL=$BASE/vmlinuz
E2E_DOM0_IMG=$RUN/dom0.img
E2E_DOMU_IMG=$RUN/domU.img
E2E_KVER=$KVER
E2E_IMAGE_KEY=$OV_KEY
E2E_PROJECT_BINARIES=$nbin
E2E_DOM0_BINDIR=$DOM0_BINDIR
E2E_KMOD=${KMOD}
E2E_DEBS=${DEBDIR}
EOF
    mv "$work" "$RUN"
    trap - EXIT
    prune_dir "$IMAGES/run" 6 "$OV_KEY"
    log "images built in $((SECONDS - t0)) s: dom0.img $(du -h "$RUN/dom0.img" | cut -f1), domU.img $(du -h "$RUN/domU.img" | cut -f1)"
fi
touch "$RUN" "$BASE"   # most recently used, for pruning
echo "$RUN/paths.env"
