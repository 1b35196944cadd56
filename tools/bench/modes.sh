# shellcheck shell=bash
# Sourced by tools/bench/plot.sh and report.sh: the benchmark's modes and
# which load generator measured each (tests/e2e/scenarios/bench.sh).  Rows
# of different load generators are never put side by side.
#   vgrant-io  libvgrant in the guest (vgrant-io bench): the transport modes
#   fio        a guest kernel block driver under the same fio job per point
#              (guest/bench-fio.sh): virtio_blk over virtio_grant.ko in
#              each mode (kernel-*), Xen's xen-blkfront (pvblock)
BENCH_MODES_VGRANT_IO="grant persistent copy auto static"
BENCH_MODES_FIO="kernel-grant kernel-persistent kernel-copy kernel-auto kernel-static pvblock"

# bench_gen MODE -> vgrant-io | fio
bench_gen() {
    case $1 in kernel-*|pvblock) echo fio ;; *) echo vgrant-io ;; esac
}

# bench_modes_present CSV GEN: the modes of GEN in the CSV, known ones in
# the order above, then unknown ones of that generator sorted
bench_modes_present() {
    local m known
    known=$BENCH_MODES_VGRANT_IO
    [ "$2" = fio ] && known=$BENCH_MODES_FIO
    for m in $known; do
        awk -F, -v m="$m" 'NR > 1 && $1 == m { found = 1 } END { exit !found }' "$1" && echo "$m"
    done
    for m in $(awk -F, 'NR > 1 { print $1 }' "$1" | sort -u); do
        case " $BENCH_MODES_VGRANT_IO $BENCH_MODES_FIO " in *" $m "*) continue ;; esac
        [ "$(bench_gen "$m")" = "$2" ] && echo "$m"
    done
    return 0
}
