#!/usr/bin/env bash
# make bench: run the benchmark scenario (tests/e2e/scenarios/bench.sh) on
# real Xen under QEMU, show its progress as it arrives on the serial
# console, then collect the results:
#   bench/results/latest.csv    mode,op,size,depth,mbps,iops,p50_us,p99_us
#   bench/results/ops.csv       vgrantd's counters per virtio-grant mode and
#                               phase (warm<D>, d<D>; OPS_HEADER below)
#   bench/results/guest-ops.csv virtio_grant.ko's counters per kernel-* mode
#   bench/results/memcpy.txt    the guest's memcpy bandwidth (MB/s)
#   bench/results/skipped.txt   modes that did not run (or are suspect), and why
#   bench/results/run-info.txt  when, which commit, which machine
#   bench/results/<op>-qd<depth>.png (libvgrant rows, vgrant-io bench),
#   bench/results/fio-<op>-qd<depth>.png (kernel-* and pvblock rows, fio),
#   docs/benchmarks.md (plot.sh, report.sh)
# Environment: BENCH_TIMEOUT (QEMU run, s, default 3600), BENCH_MODES,
# BENCH_IOS, BENCH_MAXBYTES, BENCH_SIZES, BENCH_DEPTHS, BENCH_MODE_TIMEOUT
# (passed to the scenario, see its header; lists separated by ',' or '+',
# e.g. BENCH_MODES=kernel-grant,pvblock BENCH_SIZES=4K,1M for a short
# run), BENCH_RESULTS (default <repo>/bench/results).
set -uo pipefail
# ops.csv: mode, phase, then the counters summed over the phase, then the
# high-water marks at its end (tests/e2e/scenarios/bench.sh, OPS_DELTA and
# OPS_HIGH: the BENCH-OPS lines carry these columns in this order)
OPS_HEADER=mode,phase,requests,map_batches,maps,unmap_batches,unmaps,copy_batches,grant_copies,notifies_sent,kicks_received,rounds,cache_hits,cache_misses,max_round,max_in_flight
repo=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../lib/proctree.sh
. "$repo/tools/lib/proctree.sh"
# The run itself (tests/e2e/run.sh); tests substitute a fake one.
runner=${VGRANT_BENCH_RUNNER:-$repo/tests/e2e/run.sh}
run_pid=""
follow_pid=""
# Nothing this script started may outlive it: success, failure or Ctrl-C.
cleanup() { proctree_kill "$follow_pid" "$run_pid"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
results=${BENCH_RESULTS:-$repo/bench/results}
logdir=$results/logs
timeout=${BENCH_TIMEOUT:-3600}
mkdir -p "$logdir"
rm -f "$logdir/latest.log"

# the scenario reads BENCH_* through vgenv_ on dom0's command line
dom0_args=${VGRANT_E2E_DOM0_ARGS:-}
# (QEMU's -initrd takes no comma: lists travel with '+')
for v in BENCH_MODES BENCH_IOS BENCH_MAXBYTES BENCH_SIZES BENCH_DEPTHS BENCH_MODE_TIMEOUT; do
    val=${!v:-}
    [ -n "$val" ] || continue
    case $val in *[!A-Za-z0-9,+._-]*) echo "bench: $v='$val': letters, digits, '-', ',' or '+' only (no spaces)" >&2; exit 2 ;; esac
    dom0_args="$dom0_args vgenv_$v=${val//,/+}"
done

t0=$SECONDS
run_start=$(date +%s)
run_commit=$(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)
echo "bench: booting Xen under QEMU for the benchmark (timeout ${timeout}s); serial log in $logdir"
VGRANT_E2E_DOM0_ARGS=$dom0_args "$runner" -t "$timeout" -l "$logdir" bench \
    >"$results/run.out" 2>&1 &
run_pid=$!

# follow the serial log as QEMU writes it
follow() {
    local i=0
    while [ ! -e "$logdir/latest.log" ] && kill -0 "$run_pid" 2>/dev/null; do
        sleep 1
        i=$((i + 1))
        [ $((i % 30)) = 0 ] && echo "bench: still preparing images ($i s)"
    done
    [ -e "$logdir/latest.log" ] || return 0
    # no tr in this pipe: it would buffer the lines into bursts
    tail -n +1 -F "$logdir/latest.log" 2>/dev/null | while IFS= read -r line; do
        line=${line%$'\r'}
        case $line in
            BENCH-PROGRESS\ *)
                set -- ${line#BENCH-PROGRESS }
                printf 'bench: [%4ss] %-10s %-5s %5s qd%-3s point %s\n' \
                    "$((SECONDS - t0))" "$1" "$2" "$3" "${4#qd}" "$5" ;;
            BENCH-SKIP\ *)    echo "bench: SKIPPED ${line#BENCH-SKIP }" ;;
            BENCH-MODE\ *)    echo "bench: mode ${line#BENCH-MODE }" ;;
            BENCH-PHASE\ *)   echo "bench: [$(printf '%4s' "$((SECONDS - t0))")s] phase ${line#BENCH-PHASE } done" ;;
            BENCH-MEMCPY\ *)  echo "bench: guest memcpy ${line#BENCH-MEMCPY } MB/s" ;;
            "[bench] mode "*|"E2E-RESULT "*) echo "bench: ${line#\[bench\] }" ;;
        esac
    done
}
follow &
follow_pid=$!
wait "$run_pid"
rc=$?
run_pid=""
sleep 1
# The follower is a pipeline (tail | while read): stop all of it at once.
proctree_kill "$follow_pid"
follow_pid=""

log=$(readlink -f "$logdir/latest.log" 2>/dev/null || true)
if [ -z "$log" ] || [ ! -f "$log" ]; then
    cat "$results/run.out"
    echo "bench: no serial log: the run did not start" >&2
    exit 1
fi
clean=$(tr -d '\r' <"$log")
{
    echo "mode,op,size,depth,mbps,iops,p50_us,p99_us"
    sed -n 's/^BENCH-ROW //p' <<<"$clean"
} >"$results/latest.csv"
sed -n 's/^BENCH-MEMCPY //p' <<<"$clean" | tail -n1 >"$results/memcpy.txt"
sed -n 's/^BENCH-SKIP //p' <<<"$clean" >"$results/skipped.txt"
{
    echo "$OPS_HEADER"
    sed -n 's/^BENCH-OPS //p' <<<"$clean"
} >"$results/ops.csv"
{
    echo "mode,requests,completed,grants,setup_grants,zero_copy_bytes,bounce_bytes,bounced_maps,arena_full,map_errors,failed_requests"
    sed -n 's/^BENCH-GUESTOPS //p' <<<"$clean"
} >"$results/guest-ops.csv"
{
    echo "date: $(date -u -d "@$run_start" '+%Y-%m-%d %H:%M UTC')"
    echo "commit: $run_commit"
    echo "host: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), $(awk '/^MemTotal/ { printf "%d GiB RAM", $2 / 1048576 }' /proc/meminfo)"
    echo "emulation: Xen under QEMU $("${VGRANT_E2E_QEMU:-qemu-system-x86_64}" --version 2>/dev/null | sed -n '1s/.*version \([^ ]*\).*/\1/p'), ${VGRANT_E2E_ACCEL:-tcg,thread=multi}"
    echo "duration: $((SECONDS - t0)) s"
} >"$results/run-info.txt"
nrows=$(($(wc -l <"$results/latest.csv") - 1))

tail -n 4 "$results/run.out"
echo "bench: $nrows rows in $results/latest.csv; memcpy $(cat "$results/memcpy.txt") MB/s"
[ -s "$results/skipped.txt" ] && sed 's/^/bench: skipped: /' "$results/skipped.txt"
if [ "$nrows" -gt 0 ]; then
    "$repo/tools/bench/plot.sh" "$results" || rc=1
    "$repo/tools/bench/report.sh" "$results" "$repo/docs/benchmarks.md" || rc=1
fi
echo "bench: took $((SECONDS - t0)) s"
exit "$rc"
