#!/usr/bin/env bash
# make bench must leave no process behind, on success and on Ctrl-C
# (issue 14.1: a `tail -F` and a bench.sh subshell used to survive).
# Runs tools/bench/bench.sh with a fake runner in a session of its own,
# then looks for any process still in that session.
set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

# A runner that behaves like tests/e2e/run.sh -l <logdir>: writes the
# serial log a line at a time, then exits (or hangs until killed).
cat >"$tmp/runner" <<'RUNNER'
#!/usr/bin/env bash
while [ $# -gt 0 ]; do case $1 in -l) logdir=$2; shift 2 ;; *) shift ;; esac; done
log=$logdir/run.log
: >"$log"; ln -sf "$log" "$logdir/latest.log"
echo "BENCH-MODE grant" >>"$log"
sleep 1
echo "BENCH-MEMCPY 1234" >>"$log"
[ "${FAKE_HANG:-0}" = 1 ] && sleep 600
exit 0
RUNNER
chmod +x "$tmp/runner"

# Live processes of session $1: their pids and command lines.
leftovers() {
    local f s rest sid
    for f in /proc/[0-9]*/stat; do
        { read -r s <"$f"; } 2>/dev/null || continue
        rest=${s##*) }
        read -r state _ _ sid _ <<<"$rest"
        # a zombie has finished; only an init that does not reap keeps it
        [ "$sid" = "$1" ] && [ "$state" != Z ] || continue
        f=${f#/proc/}; f=${f%/stat}
        echo "$f $(tr '\0' ' ' <"/proc/$f/cmdline" 2>/dev/null)"
    done
}

check() {   # name sid
    local left
    sleep 0.5
    left=$(leftovers "$2")
    if [ -n "$left" ]; then
        echo "FAIL $1: processes left behind:"; echo "$left"
        fails=$((fails + 1))
        # do not leave them to the next test either
        for p in $(awk '{print $1}' <<<"$left"); do kill -9 "$p" 2>/dev/null; done
    else
        echo "ok   $1"
    fi
}

# bench.sh in a session of its own, in the foreground under timeout(1):
# run_bench <results-dir> <signal> <seconds>; its session id ends up in
# <results-dir>/sid.  timeout delivers the signal as Ctrl-C or kill would.
run_bench() {
    mkdir -p "$1"
    VGRANT_BENCH_RUNNER=$tmp/runner BENCH_RESULTS=$1 \
        timeout -s "$2" "$3" setsid bash -c \
        'echo $$ >"$0/sid"; exec bash "$1/tools/bench/bench.sh"' \
        "$1" "$repo" >"$1.out" 2>&1 </dev/null
}

# 1. a run that completes
run_bench "$tmp/ok" KILL 60; rc=$?
[ "$rc" = 0 ] || { echo "FAIL success run: rc $rc"; cat "$tmp/ok.out"; fails=$((fails + 1)); }
check "success run" "$(cat "$tmp/ok/sid")"

# 2. Ctrl-C (SIGINT) while the run is in progress, 3. SIGTERM
export FAKE_HANG=1
run_bench "$tmp/int" INT 3
check "interrupted run" "$(cat "$tmp/int/sid")"
run_bench "$tmp/term" TERM 3
check "terminated run" "$(cat "$tmp/term/sid")"

[ "$fails" = 0 ]
