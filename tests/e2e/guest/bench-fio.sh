# Sourced by guest/bench.sh: the benchmark matrix with fio on a block
# device of the guest kernel -- the load generator of every row that goes
# through a kernel block driver (kernel-* modes: virtio_blk over
# virtio_grant.ko; pvblock: xen-blkfront), so those rows compare like for
# like.  One job per point, the same for every device:
#   ioengine=libaio direct=1 rw=<read|write> bs=<size> iodepth=<depth>
#   size=32M (consecutive offsets from 0, the span of vgrant-io bench)
#   io_size=<n * size>, n as vgrant-io bench: max-bytes/size, at least
#   max(2*depth, 16), at most ios
#   lat_percentiles=1 percentile_list=50:99 (submit to completion)
# One fio run per op and depth, the sizes as stonewalled jobs (fio's
# start-up costs seconds under emulation), JSON output turned into CSV
# rows by fio-rows.awk.  Depth by depth, in the order given: a warm-up
# pass (the same jobs as the measured pass, output discarded: with depth+1
# I/Os a point, as vgrant-io bench's warm-up, virtio_grant.ko's persistent
# pool had not reached its depth-16 working set and vgrantd mapped 32-43
# new pool pages in the measured phase), phase warm<D>, the measured pass,
# phase d<D>; a phase is guest/bench-phase.sh (BENCH_PHASE_CMD overrides:
# "CMD LABEL NAME"), which waits for dom0's ack.
#
#   fio_matrix LABEL DEV    prints "progress ..." lines, CSV rows and
#                           "phase LABEL NAME done" lines
#   guest_ops LABEL DEVID   prints "guestops LABEL,<counters>" from
#                           virtio_grant.ko's sysfs counters of the device
# Needs ops, depths, sizes, ios, maxbytes (guest/bench.sh sets them) and
# to_bytes from kernel-lib.sh.

# the columns of "guestops" lines (bench/results/guest-ops.csv)
GUEST_OPS_COUNTERS="requests completed grants setup_grants zero_copy_bytes bounce_bytes bounced_maps arena_full map_errors failed_requests"

# I/Os of one point, as vgrant-io bench's point_ios()
fio_point_ios() {
    _n=$(($2 / $1)) _floor=$(($3 * 2))
    [ "$_floor" -lt 16 ] && _floor=16
    [ "$_n" -lt "$_floor" ] && _n=$_floor
    [ "$_n" -gt "$4" ] && _n=$4
    echo "$_n"
}

# fio_job OP DEPTH WARM > job file: the sizes as stonewalled jobs; WARM=1:
# depth+1 I/Os each
fio_job() {
    echo "[global]"
    echo "filename=$_dev"
    echo "ioengine=libaio"
    echo "direct=1"
    echo "rw=$1"
    echo "iodepth=$2"
    echo "size=32M"
    echo "lat_percentiles=1"
    echo "clat_percentiles=0"
    echo "percentile_list=50:99"
    for _s in $(echo "$sizes" | tr ',' ' '); do
        _b=$(to_bytes "$_s")
        if [ "$3" = 1 ]; then
            _n=$(($2 + 1))
        else
            _n=$(fio_point_ios "$_b" "$_mb" "$2" "$ios")
        fi
        echo "[$1-$_b-$2]"
        echo "stonewall"
        echo "bs=$_b"
        echo "io_size=$((_n * _b))"
    done
}

# fio_run JOB WHAT: fio on a job file, JSON in JOB.json; 1 (and its
# errors on the console) when fio fails
fio_run() {
    fio --output-format=json "$1" >"$1.json" 2>"$1.err"
    _frc=$?
    [ "$_frc" = 0 ] && return 0
    echo "bench-fio: fio $2 on $_dev failed (rc $_frc):"
    sed 's/^/bench-fio:   /' "$1.err" | head -n 20
    return 1
}

fio_matrix() {
    _label=$1 _dev=$2
    _phase=${BENCH_PHASE_CMD:-sh /e2e/guest/bench-phase.sh}
    _mb=$(to_bytes "$maxbytes")
    _nsz=$(echo "$sizes" | tr ',' '\n' | grep -c .)
    _nd=$(echo "$depths" | tr ',' '\n' | grep -c .)
    _nop=$(echo "$ops" | tr ',' '\n' | grep -c .)
    _total=$((_nsz * _nd * _nop)) _i=0 _rc=0
    _sz=$(cat "/sys/block/${_dev#/dev/}/size" 2>/dev/null)
    echo "bench-fio: $(fio --version) on $_dev${_sz:+ ($((_sz / 2048)) MiB)}"
    for _d in $(echo "$depths" | tr ',' ' '); do
        for _op in $(echo "$ops" | tr ',' ' '); do
            _job=${TMPDIR:-/tmp}/bench-warm-$_op-$_d.fio
            fio_job "$_op" "$_d" 0 >"$_job"
            fio_run "$_job" "$_op qd$_d (warm-up)" || return 1
        done
        $_phase "$_label" "warm$_d" || return 1
        for _op in $(echo "$ops" | tr ',' ' '); do
            _job=${TMPDIR:-/tmp}/bench-$_op-$_d.fio
            fio_job "$_op" "$_d" 0 >"$_job"
            echo "progress $_label $_op $(echo "$sizes" | tr ',' '-') qd$_d $((_i + 1))-$((_i + _nsz))/$_total"
            _i=$((_i + _nsz))
            fio_run "$_job" "$_op qd$_d" || _rc=1
            awk -v label="$_label" -f "${FIO_ROWS_AWK:-/e2e/guest/fio-rows.awk}" "$_job.json"
        done
        $_phase "$_label" "d$_d" || return 1
    done
    return $_rc
}

guest_ops() {
    _dir=/sys/bus/xen/devices/virtio-grant-$2/vgrant
    if [ ! -d "$_dir" ]; then
        echo "bench-fio: no counters at $_dir"
        return 1
    fi
    _line=$1
    for _c in $GUEST_OPS_COUNTERS; do
        _v=$(cat "$_dir/$_c" 2>/dev/null)
        case $_v in ''|*[!0-9]*) echo "bench-fio: counter $_dir/$_c reads '$_v'"; return 1 ;; esac
        _line="$_line,$_v"
    done
    echo "guestops $_line"
}
