# Sourced by the guest jobs of the kernel-* scenarios: the stock kernel's
# virtio drivers over virtio_grant.ko.
#
#   kernel_setup           console shows kernel warnings, hung tasks are
#                          reported after 30 s, ext4 + virtio drivers +
#                          virtio_grant.ko loaded (GUEST-KMOD line)
#   find_disk MiB SECONDS  print the vdX whose size is MiB (wait for it;
#                          xvdX too, for the pv=1 self-test)
#   make_tree DIR N BIG    write N files of 1 B .. 256 KiB in a tree under
#                          DIR plus the sizes in BIG (comma-separated, with
#                          K/M suffixes); print "sha256  path" lines (the
#                          checksum of the data as it was generated)
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
    [ -w /proc/sys/kernel/hung_task_timeout_secs ] && echo 30 >/proc/sys/kernel/hung_task_timeout_secs
    for m in crc32c_generic ext4 virtio_blk virtio_rng; do
        modprobe "$m" || gerr "modprobe $m failed"
    done
    if [ "${pv:-0}" = 1 ]; then
        # harness self-test: Xen's blkfront disks stand in for virtio-grant
        echo "GUEST-KMOD none (pv=1: xen-blkfront disks)"
        return 0
    fi
    ko=/lib/modules/$(uname -r)/extra/virtio_grant.ko
    [ -f "$ko" ] || gerr "no virtio_grant.ko in the guest image (the harness built none: frontend/linux and make kmod, see build-kmod.sh)"
    # shellcheck disable=SC2086
    modprobe virtio_grant ${kmod_args:-} || gerr "modprobe virtio_grant failed"
    echo "GUEST-KMOD loaded $(sed -n 's/^\(virtio_grant\) .*/\1/p' /proc/modules) $(md5sum "$ko" | cut -c1-8)"
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
# included, spread over 24 directories; random contents.
make_tree() {
    _dir=$1 _n=$2 _big=$3
    _sizes="1 7 100 511 512 513 1000 2047 4095 4096 4097 8191 8192 12345 16384 32769 65535 65536 100000 131072 200000 262149"
    _i=0
    set -- $_sizes
    _nsz=$#
    while [ "$_i" -lt "$_n" ]; do
        _k=$((_i % _nsz + 1))
        eval "_sz=\${$_k}"
        _d=d$((_i % 8))/e$((_i % 3))
        mkdir -p "$_dir/$_d"
        _f=$_d/f$_i-$_sz
        _s=$(head -c "$_sz" /dev/urandom | tee "$_dir/$_f" | sha256sum | cut -d' ' -f1)
        echo "$_s  $_f"
        _i=$((_i + 1))
    done
    for _b in $(echo "$_big" | tr ',' ' '); do
        _sz=$(to_bytes "$_b")
        mkdir -p "$_dir/big"
        _f=big/f$_i-$_sz
        _s=$(head -c "$_sz" /dev/urandom | tee "$_dir/$_f" | sha256sum | cut -d' ' -f1)
        echo "$_s  $_f"
        _i=$((_i + 1))
    done
}

kernel_done() {
    dmesg | sed 's/^/GUEST-KMSG /'
}
