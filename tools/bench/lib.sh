# shellcheck shell=bash
# What make bench (tools/bench/bench.sh) and make bench-scale
# (tools/bench/bench-scale.sh) share: run one e2e scenario on real Xen
# under QEMU in the background, follow its serial log as it arrives,
# collect its tagged lines into result files, describe the run.
#
# Sourced after setting:
#   repo        the checkout
#   bench_name  the prefix of every message ("bench", "bench-scale")
# It sets the traps (nothing started here may outlive the script: success,
# failure or Ctrl-C) and these variables:
#   runner      the run itself (tests/e2e/run.sh; tests substitute a fake
#               one through VGRANT_BENCH_RUNNER)
#   dom0_args   dom0's extra command line (bench_knobs adds to it)
#   knobs       "VAR=value ..." of the knobs that were set (bench_knobs)
#   t0, run_start, run_commit   (bench_start)
#   rc          the runner's exit status (bench_wait)
#   clean       the serial log without carriage returns (bench_log)

# shellcheck source=../lib/proctree.sh
. "$repo/tools/lib/proctree.sh"
runner=${VGRANT_BENCH_RUNNER:-$repo/tests/e2e/run.sh}
run_pid=""
follow_pid=""
cleanup() { proctree_kill "$follow_pid" "$run_pid"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
dom0_args=${VGRANT_E2E_DOM0_ARGS:-}
knobs=""

# bench_knobs VAR...: each VAR set in the environment reaches the scenario
# as vgenv_VAR on dom0's command line (QEMU's -initrd takes no comma:
# lists travel with '+').  A value with other characters stops the script.
bench_knobs() {
    local v val
    for v in "$@"; do
        val=${!v:-}
        [ -n "$val" ] || continue
        case $val in *[!A-Za-z0-9,+._-]*) echo "$bench_name: $v='$val': letters, digits, '-', ',' or '+' only (no spaces)" >&2; exit 2 ;; esac
        dom0_args="$dom0_args vgenv_$v=${val//,/+}"
        knobs="$knobs $v=$val"
    done
}

# bench_start SCENARIO TIMEOUT LOGDIR OUT: start the runner in the
# background, its own output into OUT, the serial log into LOGDIR.
bench_start() {
    t0=$SECONDS
    run_start=$(date +%s)
    run_commit=$(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)
    VGRANT_E2E_DOM0_ARGS=$dom0_args "$runner" -t "$2" -l "$3" "$1" >"$4" 2>&1 &
    run_pid=$!
}

# Follow LOGDIR/latest.log as QEMU writes it, each line (without its
# carriage return) to the function HANDLER.
_bench_follow() {   # LOGDIR HANDLER
    local i=0 line
    while [ ! -e "$1/latest.log" ] && kill -0 "$run_pid" 2>/dev/null; do
        sleep 1
        i=$((i + 1))
        [ $((i % 30)) = 0 ] && echo "$bench_name: still preparing images ($i s)"
    done
    [ -e "$1/latest.log" ] || return 0
    # no tr in this pipe: it would buffer the lines into bursts
    tail -n +1 -F "$1/latest.log" 2>/dev/null | while IFS= read -r line; do
        "$2" "${line%$'\r'}"
    done
}

# bench_follow LOGDIR HANDLER: _bench_follow in the background.
bench_follow() {
    _bench_follow "$1" "$2" &
    follow_pid=$!
}

# bench_wait: wait for the runner (its status in rc), then stop the
# follower: a pipeline (tail | while read), stopped all at once.
bench_wait() {
    wait "$run_pid"
    rc=$?
    run_pid=""
    sleep 1
    proctree_kill "$follow_pid"
    follow_pid=""
}

# bench_log LOGDIR OUT: the serial log into $clean; without one the run
# did not start: show OUT and stop.
bench_log() {
    local log
    log=$(readlink -f "$1/latest.log" 2>/dev/null || true)
    if [ -z "$log" ] || [ ! -f "$log" ]; then
        cat "$2"
        echo "$bench_name: no serial log: the run did not start" >&2
        exit 1
    fi
    clean=$(tr -d '\r' <"$log")
}

# bench_csv FILE HEADER TAG: HEADER, then every "TAG <row>" line's row.
bench_csv() {
    {
        echo "$2"
        sed -n "s/^$3 //p" <<<"$clean"
    } >"$1"
}

# bench_run_info: the lines of run-info that every run has.
bench_run_info() {
    echo "date: $(date -u -d "@$run_start" '+%Y-%m-%d %H:%M UTC')"
    echo "commit: $run_commit"
    echo "host: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), $(awk '/^MemTotal/ { printf "%d GiB RAM", $2 / 1048576 }' /proc/meminfo)"
    echo "emulation: Xen under QEMU $("${VGRANT_E2E_QEMU:-qemu-system-x86_64}" --version 2>/dev/null | sed -n '1s/.*version \([^ ]*\).*/\1/p'), ${VGRANT_E2E_ACCEL:-tcg,thread=multi}"
}

# bench_finish CSV SKIPPED OUT PLOT REPORT RESULTS DOC [NOTE [CSV2]]: the
# end of the runner's output OUT, how many rows CSV (and CSV2) hold (then
# NOTE) and what SKIPPED lists; with rows in either, PLOT RESULTS and
# REPORT RESULTS DOC (a failure of either sets rc); the time the run took.
bench_finish() {
    local nrows n2=0
    nrows=$(($(wc -l <"$1") - 1))
    tail -n 4 "$3"
    echo "$bench_name: $nrows rows in $1${8:-}"
    if [ -n "${9:-}" ] && [ -f "$9" ]; then
        n2=$(($(wc -l <"$9") - 1))
        echo "$bench_name: $n2 rows in $9"
    fi
    [ -s "$2" ] && sed "s/^/$bench_name: skipped: /" "$2"
    if [ "$nrows" -gt 0 ] || [ "$n2" -gt 0 ]; then
        "$4" "$6" || rc=1
        "$5" "$6" "$7" || rc=1
    fi
    echo "$bench_name: took $((SECONDS - t0)) s"
}
