#!/usr/bin/env bash
# make bench and make bench-scale must leave no process behind, on success
# and on Ctrl-C (issue 14.1: a `tail -F` and a bench.sh subshell used to
# survive).  Runs tools/bench/bench.sh and bench-scale.sh (both on
# tools/bench/lib.sh) with a fake runner in a session of their own, then
# looks for any process still in that session; on success, also that the
# serial log's lines were followed and collected.
set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=lib.sh
. "$repo/tests/scripts/lib.sh"

# A runner that behaves like tests/e2e/run.sh -l <logdir>: writes the
# serial log a line at a time, then exits (or hangs until killed).
cat >"$tmp/runner" <<'RUNNER'
#!/usr/bin/env bash
while [ $# -gt 0 ]; do case $1 in -l) logdir=$2; shift 2 ;; *) shift ;; esac; done
log=$logdir/run.log
: >"$log"; ln -sf "$log" "$logdir/latest.log"
echo "BENCH-MODE grant" >>"$log"
echo "SCALE-SYNC 2,grant,read,65536,0.200,90.0" >>"$log"
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
        bad "$1: processes left behind:"; echo "$left"
        # do not leave them to the next test either
        for p in $(awk '{print $1}' <<<"$left"); do kill -9 "$p" 2>/dev/null; done
    else
        ok "$1"
    fi
}

# A script of tools/bench in a session of its own, in the foreground under
# timeout(1): run_bench <script> <results-dir> <signal> <seconds>; its
# session id ends up in <results-dir>/sid.  timeout delivers the signal as
# Ctrl-C or kill would.
run_bench() {
    mkdir -p "$2"
    VGRANT_BENCH_RUNNER=$tmp/runner BENCH_RESULTS=$2 BENCH_SCALE_DOC=$2/doc.md \
        timeout -s "$3" "$4" setsid bash -c \
        'echo $$ >"$0/sid"; exec bash "$1/tools/bench/$2.sh"' \
        "$2" "$repo" "$1" >"$2.out" 2>&1 </dev/null
}

expect_line() {   # name file line
    if grep -qxF -- "$3" "$2"; then ok "$1"; else
        bad "$1: no line '$3' in $2:"; cat "$2"; fi
}

for script in bench bench-scale; do
    unset FAKE_HANG
    # 1. a run that completes
    run_bench "$script" "$tmp/$script-ok" KILL 60; rc=$?
    [ "$rc" = 0 ] || { bad "$script: success run: rc $rc"; cat "$tmp/$script-ok.out"; }
    check "$script: success run" "$(cat "$tmp/$script-ok/sid")"

    # 2. Ctrl-C (SIGINT) while the run is in progress, 3. SIGTERM
    export FAKE_HANG=1
    run_bench "$script" "$tmp/$script-int" INT 3
    check "$script: interrupted run" "$(cat "$tmp/$script-int/sid")"
    run_bench "$script" "$tmp/$script-term" TERM 3
    check "$script: terminated run" "$(cat "$tmp/$script-term/sid")"
done

# what the success runs followed and collected
expect_line "bench: progress followed" "$tmp/bench-ok.out" "bench: guest memcpy 1234 MB/s"
expect_line "bench: memcpy collected" "$tmp/bench-ok/memcpy.txt" "1234"
expect_line "bench-scale: progress followed" "$tmp/bench-scale-ok.out" \
    "bench-scale:   windows (start spread s, overlap %): 2,grant,read,65536,0.200,90.0"
expect_line "bench-scale: windows collected" "$tmp/bench-scale-ok/scale-sync.csv" "2,grant,read,65536,0.200,90.0"
expect_line "bench-scale: CSV header without rows" "$tmp/bench-scale-ok/scale.csv" \
    "guests,devices,mode,op,size,depth,agg_mbps,min_dev_mbps,max_dev_mbps,vgrantd_cpu_s,vgrantd_rss_kib"

[ "$fails" = 0 ]
