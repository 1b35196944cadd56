#!/usr/bin/env bash
# make bench-scale: run the scaling scenario (tests/e2e/scenarios/
# bench-scale.sh: 1, 2, 4 guests by default, two virtio-grant blk devices each, one
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
# Environment: BENCH_SCALE_TIMEOUT (QEMU run, s, default 1800),
# BENCH_SCALE_GUESTS, BENCH_SCALE_MODES, BENCH_SCALE_SIZES, BENCH_SCALE_OPS,
# BENCH_SCALE_DEPTH, BENCH_SCALE_SECONDS, BENCH_SCALE_SPAN,
# BENCH_SCALE_GUEST_MEM, BENCH_SCALE_LEAD (passed to the scenario, see its header; lists
# separated by ',' or '+', e.g. BENCH_SCALE_GUESTS=1,2 for a short run),
# BENCH_RESULTS (default <repo>/bench/results), BENCH_SCALE_DOC (default
# <repo>/docs/benchmarks-scale.md), VGRANT_E2E_MEM (QEMU memory, MiB,
# default 2560 here: 8 guests of 128 MiB and dom0's 1024 MiB).
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../lib/proctree.sh
. "$repo/tools/lib/proctree.sh"
runner=${VGRANT_BENCH_RUNNER:-$repo/tests/e2e/run.sh}
run_pid=""
follow_pid=""
cleanup() { proctree_kill "$follow_pid" "$run_pid"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
results=${BENCH_RESULTS:-$repo/bench/results}
doc=${BENCH_SCALE_DOC:-$repo/docs/benchmarks-scale.md}
logdir=$results/logs-scale
timeout=${BENCH_SCALE_TIMEOUT:-1800}
mkdir -p "$logdir"
rm -f "$logdir/latest.log"

# 8 guests of 128 MiB next to dom0's 1024 MiB: more than make e2e's 2048
export VGRANT_E2E_MEM=${VGRANT_E2E_MEM:-2560}
dom0_args=${VGRANT_E2E_DOM0_ARGS:-}
knobs=""
for v in BENCH_SCALE_GUESTS BENCH_SCALE_MODES BENCH_SCALE_SIZES BENCH_SCALE_OPS \
         BENCH_SCALE_DEPTH BENCH_SCALE_SECONDS BENCH_SCALE_SPAN BENCH_SCALE_GUEST_MEM \
         BENCH_SCALE_LEAD; do
    val=${!v:-}
    [ -n "$val" ] || continue
    case $val in *[!A-Za-z0-9,+._-]*) echo "bench-scale: $v='$val': letters, digits, '-', ',' or '+' only (no spaces)" >&2; exit 2 ;; esac
    dom0_args="$dom0_args vgenv_$v=${val//,/+}"
    knobs="$knobs $v=$val"
done

t0=$SECONDS
run_start=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
run_commit=$(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)
echo "bench-scale: booting Xen under QEMU (timeout ${timeout}s); serial log in $logdir"
VGRANT_E2E_DOM0_ARGS=$dom0_args "$runner" -t "$timeout" -l "$logdir" bench-scale \
    >"$results/scale-run.out" 2>&1 &
run_pid=$!

follow() {
    local i=0
    while [ ! -e "$logdir/latest.log" ] && kill -0 "$run_pid" 2>/dev/null; do
        sleep 1
        i=$((i + 1))
        [ $((i % 30)) = 0 ] && echo "bench-scale: still preparing images ($i s)"
    done
    [ -e "$logdir/latest.log" ] || return 0
    tail -n +1 -F "$logdir/latest.log" 2>/dev/null | while IFS= read -r line; do
        line=${line%$'\r'}
        case $line in
            SCALE-PROGRESS\ *)
                set -- ${line#SCALE-PROGRESS }
                printf 'bench-scale: [%4ss] %-10s %s guest(s) %-5s %4s point %s\n' \
                    "$((SECONDS - t0))" "$1" "$2" "$3" "$4" "$5" ;;
            SCALE-ROW\ *)  echo "bench-scale:   ${line#SCALE-ROW }" ;;
            SCALE-SKIP\ *) echo "bench-scale: SKIPPED ${line#SCALE-SKIP }" ;;
            SCALE-SYNC\ *) echo "bench-scale:   windows (start spread s, overlap %): ${line#SCALE-SYNC }" ;;
            *"| SCALE-LATE "*) echo "bench-scale:   late: ${line#*| SCALE-LATE }" ;;
            "[bench-scale] "*|"E2E-RESULT "*) echo "bench-scale: ${line#\[bench-scale\] }" ;;
        esac
    done
}
follow &
follow_pid=$!
wait "$run_pid"
rc=$?
run_pid=""
sleep 1
proctree_kill "$follow_pid"
follow_pid=""

log=$(readlink -f "$logdir/latest.log" 2>/dev/null || true)
if [ -z "$log" ] || [ ! -f "$log" ]; then
    cat "$results/scale-run.out"
    echo "bench-scale: no serial log: the run did not start" >&2
    exit 1
fi
clean=$(tr -d '\r' <"$log")
{
    echo "guests,devices,mode,op,size,depth,agg_mbps,min_dev_mbps,max_dev_mbps,vgrantd_cpu_s,vgrantd_rss_kib"
    sed -n 's/^SCALE-ROW //p' <<<"$clean"
} >"$results/scale.csv"
{
    echo "guests,mode,op,size,guest,devid,mbps,iops,p50_us,p99_us,start_s,end_s"
    sed -n 's/^SCALE-DEV //p' <<<"$clean"
} >"$results/scale-devices.csv"
{
    echo "guests,mode,op,size,start_spread_s,overlap_pct"
    sed -n 's/^SCALE-SYNC //p' <<<"$clean"
} >"$results/scale-sync.csv"
sed -n 's/^SCALE-SKIP //p' <<<"$clean" >"$results/scale-skipped.txt"
{
    echo "date: $(date -u -d "@$run_start" '+%Y-%m-%d %H:%M UTC')"
    echo "commit: $run_commit"
    echo "host: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), $(awk '/^MemTotal/ { printf "%d GiB RAM", $2 / 1048576 }' /proc/meminfo)"
    echo "emulation: Xen under QEMU $("${VGRANT_E2E_QEMU:-qemu-system-x86_64}" --version 2>/dev/null | sed -n '1s/.*version \([^ ]*\).*/\1/p'), ${VGRANT_E2E_ACCEL:-tcg,thread=multi}"
    echo "knobs:${knobs:- (defaults)}"
    echo "memory: QEMU $VGRANT_E2E_MEM MiB, dom0 ${VGRANT_E2E_DOM0_MEM:-1024} MiB"
    echo "command: make bench-scale"
    echo "duration: $((SECONDS - t0)) s"
    echo "load: $load_start / $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$results/scale-run-info.txt"
nrows=$(($(wc -l <"$results/scale.csv") - 1))

tail -n 4 "$results/scale-run.out"
echo "bench-scale: $nrows rows in $results/scale.csv"
[ -s "$results/scale-skipped.txt" ] && sed 's/^/bench-scale: skipped: /' "$results/scale-skipped.txt"
if [ "$nrows" -gt 0 ]; then
    "$repo/tools/bench/plot-scale.sh" "$results" || rc=1
    "$repo/tools/bench/report-scale.sh" "$results" "$doc" || rc=1
fi
echo "bench-scale: took $((SECONDS - t0)) s"
exit "$rc"
