# Sourced by the guest jobs of the kernel-* scenarios: the stock kernel's
# virtio drivers over virtio_grant.ko.
#
#   kernel_setup           console shows kernel warnings, hung tasks are
#                          reported after 60 s, ext4 + virtio drivers +
#                          virtio_grant.ko loaded (GUEST-KMOD line)
#   find_disk MiB SECONDS  print the vdX whose size is MiB (wait for it;
#                          xvdX too, for the pv=1 self-test)
#   make_tree DIR N BIG    write N files of 1 B .. 256 KiB in a tree under
#                          DIR (a tmpfs) plus the sizes in BIG (comma-
#                          separated, K/M suffixes); print "sha256  path"
#                          lines (the checksums of the data generated)
#   kernel_done            dump the kernel log (GUEST-KMSG lines) for the
#                          scenario's BUG/Oops/WARNING check
#
# A failed step prints "GUEST-ERROR <what>" and the job exits non-zero.

gerr() { echo "GUEST-ERROR $*"; kernel_done; exit 1; }

now_s() { cut -d' ' -f1 /proc/uptime; }
elapsed() { awk -v a="$1" -v b="$(now_s)" 'BEGIN { printf "%.1f", b - a }'; }

kernel_setup() {
    # levels 0-4 (up to KERN_WARNING) on the console: a WARN/BUG/Oops is
    # in the console log even if the guest dies right after it
    echo 5 >/proc/sys/kernel/printk
    [ -w /proc/sys/kernel/hung_task_timeout_secs ] && echo 60 >/proc/sys/kernel/hung_task_timeout_secs
    for m in crc32c_generic ext4 virtio_blk virtio_rng; do
        modprobe "$m" || gerr "modprobe $m failed"
    done
    if [ "${pv:-0}" = 1 ]; then
        # harness self-test: Xen's blkfront disks stand in for virtio-grant
        echo "GUEST-KMOD none (pv=1: xen-blkfront disks)"
        return 0
    fi
    # extra/ (make kmod) or updates/dkms/ (the DKMS package, make e2e-deb):
    # wherever modules.dep, which modprobe reads, says
    _kd=/lib/modules/$(uname -r)
    ko=$(sed -n 's|^\([^:]*/virtio_grant\.ko\):.*|\1|p' "$_kd/modules.dep" | sed -n 1p)
    [ -n "$ko" ] && [ -f "$_kd/$ko" ] || gerr "no virtio_grant.ko in the guest image (the harness built none: frontend/linux and make kmod, see build-kmod.sh)"
    ko=$_kd/$ko
    # shellcheck disable=SC2086
    modprobe virtio_grant ${kmod_args:-} || gerr "modprobe virtio_grant failed"
    echo "GUEST-KMOD loaded $(sed -n 's/^\(virtio_grant\) .*/\1/p' /proc/modules) ${ko#"$_kd"/} $(md5sum "$ko" | cut -c1-8)"
}

# find_disk MiB SECONDS -> vdX
find_disk() {
    _want=$(($1 * 2048)) _i=0
    while :; do
        for _b in /sys/block/vd* /sys/block/xvd*; do
            [ -e "$_b/size" ] || continue
            if [ "$(cat "$_b/size")" = "$_want" ]; then
                echo "${_b##*/}"
                return 0
            fi
        done
        _i=$((_i + 1))
        [ "$_i" -gt $(($2 * 2)) ] && return 1
        sleep 0.5
    done
}

# size with K/M suffix -> bytes
to_bytes() {
    case $1 in
        *K) echo $((${1%K} * 1024)) ;;
        *M) echo $((${1%M} * 1048576)) ;;
        *) echo "$1" ;;
    esac
}

# make_tree DIR N BIG: files of many sizes, page- and sector-unaligned ones
# included, spread over 24 directories; random contents.  DIR should be a
# tmpfs: the tree is generated once and copied to each filesystem under
# test.  One process per file (a fork+exec costs ~0.1 s under emulation),
# the checksums in one go at the end; "sha256  path" lines on stdout.
make_tree() {
    _dir=$1 _n=$2 _big=$3
    _sizes="1 7 100 511 512 513 1000 2047 4095 4096 4097 8191 8192 12345 16384 32769 65535 65536 100000 131072 200000 262149"
    mkdir -p "$_dir/big" "$_dir"/d0/e0 "$_dir"/d0/e1 "$_dir"/d0/e2 "$_dir"/d1/e0 "$_dir"/d1/e1 "$_dir"/d1/e2 \
        "$_dir"/d2/e0 "$_dir"/d2/e1 "$_dir"/d2/e2 "$_dir"/d3/e0 "$_dir"/d3/e1 "$_dir"/d3/e2 \
        "$_dir"/d4/e0 "$_dir"/d4/e1 "$_dir"/d4/e2 "$_dir"/d5/e0 "$_dir"/d5/e1 "$_dir"/d5/e2 \
        "$_dir"/d6/e0 "$_dir"/d6/e1 "$_dir"/d6/e2 "$_dir"/d7/e0 "$_dir"/d7/e1 "$_dir"/d7/e2 || return 1
    _i=0
    set -- $_sizes
    _nsz=$#
    while [ "$_i" -lt "$_n" ]; do
        eval "_sz=\${$((_i % _nsz + 1))}"
        head -c "$_sz" /dev/urandom >"$_dir/d$((_i % 8))/e$((_i % 3))/f$_i-$_sz" || return 1
        _i=$((_i + 1))
    done
    for _b in $(echo "$_big" | tr ',' ' '); do
        _sz=$(to_bytes "$_b")
        head -c "$_sz" /dev/urandom >"$_dir/big/f$_i-$_sz" || return 1
        _i=$((_i + 1))
    done
    (cd "$_dir" && find . -type f | sed 's,^\./,,' | sort | xargs sha256sum)
}

kernel_done() {
    dmesg | sed 's/^/GUEST-KMSG /'
}
