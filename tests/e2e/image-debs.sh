# shellcheck shell=bash
# The project's files in the e2e images from its Debian packages instead of
# build/bin (make e2e-deb: VGRANT_E2E_DEBS=<dir of .debs>).  Sourced by
# build-images.sh; uses its copy_libs and common.sh's helpers.
#
# The images have no dpkg, no package database, no perl and no systemd
# (busybox is their init, their shell and their tools), so a package
# cannot be `dpkg -i`'d into them and its maintainer scripts (systemd
# enabling, DKMS) cannot run there.  Instead:
#   - the payload of each package, exactly (dpkg-deb -x), lands at its own
#     paths (/usr/sbin/vgrantd, /usr/lib/x86_64-linux-gnu/libvgrant.so.0,
#     /lib/systemd/system/vgrantd.service, /etc/default/vgrantd, ...), with
#     /lib, /bin and /sbin folded into /usr as the images' merged /usr
#     has them (an archive directory named lib would replace the /lib
#     symlink of the base image);
#   - what dpkg would record is written where dpkg keeps it: the package's
#     own md5sums (from its control area) as
#     /var/lib/dpkg/info/<package>.md5sums, its file list as <package>.list,
#     and "<package> <version> <sha256 of the .deb>" in /etc/e2e/packages,
#     so a scenario checks with `md5sum -c` that the files it runs are the
#     packaged ones;
#   - the libraries the packaged programs need that the image lacks are
#     added with copy_libs (those of the package itself are not copied
#     from anywhere else);
#   - the DKMS module is built on the build host, by build-kmod.sh running
#     the MAKE line of the package's dkms.conf in a copy of its
#     /usr/src/virtio-grant-<version> (as `dkms build` does), for the guest
#     kernel; deb_kmod_dest gives where DKMS installs it.
# dom0's init starts no daemon of the packages: a scenario starts vgrantd
# as vgrantd.service says (lib.sh start_vgrantd, scenarios/unit.lib).

# Packages each image gets: dom0 runs the daemon side; a domU the guest
# side, and the daemon side too as a driver domain (guest job vgrant-dd).
# shellcheck disable=SC2034  # used by build-images.sh
DEB_DOM0_PKGS="virtio-grant"
DEB_DOMU_PKGS="virtio-grant-guest virtio-grant"
DEB_DKMS_PKG="virtio-grant-dkms"
DEB_ALL_PKGS="virtio-grant virtio-grant-guest virtio-grant-dkms"

need_cmd dpkg-deb tar sha256sum

# deb_file DIR PACKAGE: the newest PACKAGE_*.deb of DIR (dies if none)
deb_file() {
    local f
    f=$(find "$1" -maxdepth 1 -name "${2}_*.deb" | sort -V | tail -n1)
    [ -n "$f" ] || die "no ${2}_*.deb in $1 (run make deb)"
    echo "$f"
}

# debs_state DIR: hash of the .debs the images would be built from
debs_state() {
    local p
    for p in $DEB_ALL_PKGS; do hash_tree "$(deb_file "$1" "$p")"; done | short_hash
}

# add_deb DEB TREE: the payload of DEB into the image tree TREE (see above)
add_deb() {
    local deb=$1 tree=$2 x pkg ver d f
    pkg=$(dpkg-deb -f "$deb" Package) || die "dpkg-deb -f $deb failed"
    ver=$(dpkg-deb -f "$deb" Version) || die "dpkg-deb -f $deb failed"
    x=$(mktemp -d "$tree.deb.XXXXXX")
    dpkg-deb -x "$deb" "$x/root" || die "dpkg-deb -x $deb failed"
    dpkg-deb -e "$deb" "$x/control" || die "dpkg-deb -e $deb failed"
    for d in lib lib64 bin sbin; do
        [ -d "$x/root/$d" ] || continue
        [ ! -L "$x/root/$d" ] || die "$deb: /$d is a symbolic link in the package"
        mkdir -p "$x/root/usr/$d"
        cp -a "$x/root/$d/." "$x/root/usr/$d/"
        rm -rf "${x:?}/root/$d"
    done
    mkdir -p "$tree/var/lib/dpkg/info" "$tree/etc/e2e"
    cp -a "$x/root/." "$tree/"
    dpkg-deb --fsys-tarfile "$deb" | tar -t | sed 's|^\./|/|; s|/$||; /^$/d; /^\.$/d' \
        >"$tree/var/lib/dpkg/info/$pkg.list" || die "cannot list the files of $deb"
    [ -f "$x/control/md5sums" ] || die "$deb has no md5sums in its control area"
    cp "$x/control/md5sums" "$tree/var/lib/dpkg/info/$pkg.md5sums"
    echo "$pkg $ver $(sha256sum <"$deb" | cut -c1-64)" >>"$tree/etc/e2e/packages"
    # the libraries its programs need (libvgrant.so.0 is in the tree already)
    while IFS= read -r f; do
        case $f in /lib/*|/lib64/*|/bin/*|/sbin/*) f=/usr$f ;; esac
        f=$tree$f
        if [ -L "$f" ] || [ ! -f "$f" ] || ! is_elf "$f"; then continue; fi
        LDD_EXTRA="$tree/usr/lib/x86_64-linux-gnu" copy_libs "$f" "$tree"
    done <"$tree/var/lib/dpkg/info/$pkg.list"
    rm -rf "$x"
    log "package $pkg $ver unpacked into ${tree##*/} ($(wc -l <"$tree/var/lib/dpkg/info/$pkg.list") paths)"
}

# deb_programs TREE: names of the executables the packages put in TREE
deb_programs() {
    local f
    for f in "$1"/usr/bin/* "$1"/usr/sbin/*; do
        [ -f "$f" ] && [ -x "$f" ] && echo "${f##*/}"
    done
    return 0
}

# deb_dkms_src DEB DIR: unpack the DKMS package into DIR and print its
# module source directory (usr/src/<name>-<version>, with dkms.conf)
deb_dkms_src() {
    local src
    dpkg-deb -x "$1" "$2" || die "dpkg-deb -x $1 failed"
    src=$(find "$2/usr/src" -mindepth 2 -maxdepth 2 -name dkms.conf | sed -n 1p)
    [ -n "$src" ] || die "$1 holds no usr/src/*/dkms.conf"
    dirname "$src"
}

# deb_kmod_dest: where DKMS installs the module, relative to
# /lib/modules/<kver> (Debian's dkms always uses updates/dkms)
deb_kmod_dest() { echo updates/dkms; }
