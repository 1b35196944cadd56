#!/usr/bin/env bash
# make bench-scale: run the scaling scenario (tests/e2e/scenarios/
# bench-scale.sh: 1, 2, 4, 8 guests by default, from 8 guests the 64K points
# only, two virtio-grant blk devices each, one
# vgrantd, the same random-offset workload on every device at once) on real
# Xen under QEMU, show its progress, then collect:
#   bench/results/scale.csv          guests,devices,mode,op,size,depth,
#                                    agg_mbps,min_dev_mbps,max_dev_mbps,
#                                    vgrantd_cpu_s,vgrantd_rss_kib
#   bench/results/scale-devices.csv  every device's own row of every point,
#                                    with its measured window
#   bench/results/scale-sync.csv     per point: how far apart the devices
#                                    started, how much their windows overlap
#   bench/results/scale-skipped.txt  points that did not give all rows
#   bench/results/scale-run-info.txt when, which commit, which machine, knobs
#   bench/results/scale-<mode>.png   (plot-scale.sh)
#   docs/benchmarks-scale.md         (report-scale.sh)
# It leaves latest.csv, ops.csv and the other files of make bench alone.
# Environment: BENCH_SCALE_TIMEOUT (QEMU run, s, default 3000: the default
# steps are expected to take about 25 min, docs/e2e.md, "How long make
# bench-scale takes"; a stuck point ends sooner, by the scenario's own
# per-point limit, with its diagnostics),
# BENCH_SCALE_GUESTS, BENCH_SCALE_MODES, BENCH_SCALE_SIZES, BENCH_SCALE_OPS,
# BENCH_SCALE_LARGE, BENCH_SCALE_LARGE_SIZES,
# BENCH_SCALE_DEPTH, BENCH_SCALE_SECONDS, BENCH_SCALE_SPAN,
# BENCH_SCALE_GUEST_MEM, BENCH_SCALE_LEAD (passed to the scenario, see its header; lists
# separated by ',' or '+', e.g. BENCH_SCALE_GUESTS=1,2 for a short run),
# BENCH_RESULTS (default <repo>/bench/results), BENCH_SCALE_DOC (default
# <repo>/docs/benchmarks-scale.md), VGRANT_E2E_MEM (QEMU memory, MiB,
# default 2560 here: 8 guests of 128 MiB and dom0's 1024 MiB).
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
bench_name=bench-scale
# shellcheck source=lib.sh
. "$repo/tools/bench/lib.sh"
results=${BENCH_RESULTS:-$repo/bench/results}
doc=${BENCH_SCALE_DOC:-$repo/docs/benchmarks-scale.md}
logdir=$results/logs-scale
timeout=${BENCH_SCALE_TIMEOUT:-3000}
mkdir -p "$logdir"
rm -f "$logdir/latest.log"

# 8 guests of 128 MiB next to dom0's 1024 MiB: more than make e2e's 2048
export VGRANT_E2E_MEM=${VGRANT_E2E_MEM:-2560}
bench_knobs BENCH_SCALE_GUESTS BENCH_SCALE_MODES BENCH_SCALE_SIZES BENCH_SCALE_OPS \
    BENCH_SCALE_LARGE BENCH_SCALE_LARGE_SIZES BENCH_SCALE_DEPTH BENCH_SCALE_SECONDS \
    BENCH_SCALE_SPAN BENCH_SCALE_GUEST_MEM BENCH_SCALE_LEAD

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
echo "bench-scale: booting Xen under QEMU (timeout ${timeout}s); serial log in $logdir"
bench_start bench-scale "$timeout" "$logdir" "$results/scale-run.out"

on_line() {
    case $1 in
        SCALE-PROGRESS\ *)
            set -- ${1#SCALE-PROGRESS }
            printf 'bench-scale: [%4ss] %-10s %s guest(s) %-5s %4s point %s\n' \
                "$((SECONDS - t0))" "$1" "$2" "$3" "$4" "$5" ;;
        SCALE-ROW\ *)  echo "bench-scale:   ${1#SCALE-ROW }" ;;
        SCALE-SKIP\ *) echo "bench-scale: SKIPPED ${1#SCALE-SKIP }" ;;
        SCALE-SYNC\ *) echo "bench-scale:   windows (start spread s, overlap %): ${1#SCALE-SYNC }" ;;
        *"| SCALE-LATE "*) echo "bench-scale:   late: ${1#*| SCALE-LATE }" ;;
        "[bench-scale] "*|"E2E-RESULT "*) echo "bench-scale: ${1#\[bench-scale\] }" ;;
    esac
}
bench_follow "$logdir" on_line
bench_wait

bench_log "$logdir" "$results/scale-run.out"
bench_csv "$results/scale.csv" \
    "guests,devices,mode,op,size,depth,agg_mbps,min_dev_mbps,max_dev_mbps,vgrantd_cpu_s,vgrantd_rss_kib" \
    SCALE-ROW
bench_csv "$results/scale-devices.csv" \
    "guests,mode,op,size,guest,devid,mbps,iops,p50_us,p99_us,start_s,end_s" SCALE-DEV
bench_csv "$results/scale-sync.csv" "guests,mode,op,size,start_spread_s,overlap_pct" SCALE-SYNC
sed -n 's/^SCALE-SKIP //p' <<<"$clean" >"$results/scale-skipped.txt"
{
    bench_run_info
    echo "knobs:${knobs:- (defaults)}"
    echo "memory: QEMU $VGRANT_E2E_MEM MiB, dom0 ${VGRANT_E2E_DOM0_MEM:-1024} MiB"
    echo "command: make bench-scale"
    echo "duration: $((SECONDS - t0)) s"
    echo "load: $load_start / $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$results/scale-run-info.txt"

bench_finish "$results/scale.csv" "$results/scale-skipped.txt" "$results/scale-run.out" \
    "$repo/tools/bench/plot-scale.sh" "$repo/tools/bench/report-scale.sh" "$results" "$doc"
exit "$rc"
