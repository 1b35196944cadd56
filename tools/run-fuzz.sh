#!/usr/bin/env bash
# Run libFuzzer harnesses (built by `make fuzz-build` into build-fuzz/fuzz/)
# one after the other, each under `nice -n 19`, and print per harness the
# executions, the coverage (cov/ft from libFuzzer's final stats) and the
# crashes.  Exit status 1 if any harness crashed or failed an invariant.
#
#   tools/run-fuzz.sh [-t SECONDS] [-c CPU] [--smoke] HARNESS_BINARY...
#
#   -t SECONDS  fuzz each harness this long (default 10), starting from its
#               seed corpus tests/fuzz/corpus/<name>/; new inputs go to
#               build-fuzz/corpus/<name>/, crash inputs to
#               build-fuzz/crashes/<name>-*, the full log to
#               build-fuzz/logs/<name>.log
#   -c CPU      run on that CPU only (taskset -c CPU, threads and io_uring
#               workers included): two harnesses side by side on a small
#               machine then do not share a core, and the fake
#               hypervisor's unmaps need no TLB shootdown on the other one
#   --smoke     no fuzzing: run every seed input once (-runs=0; log in
#               build-fuzz/logs/smoke-<name>.log), the
#               regression run of `make test`; ends with cmocka-style
#               summary lines so tools/run-tests.sh counts one test per
#               harness
# FUZZ_ARGS in the environment is appended to every libFuzzer command line;
# VGRANT_FUZZ_FRESH=1 (passed on, and noted in the log's first line) makes
# the daemon-level harnesses start a daemon per input (tests/fuzz/README.md).
set -u
# shellcheck source=lib/need.sh
. "$(dirname "$0")/lib/need.sh"
# shellcheck source=lib/fuzzlog.sh
. "$(dirname "$0")/lib/fuzzlog.sh"
need_cmd nice timeout awk
seconds=10
smoke=0
pin=()
while [ $# -gt 0 ]; do
    case "$1" in
    -t) seconds=$2; shift 2 ;;
    -c) need_cmd taskset; pin=(taskset -c "$2"); shift 2 ;;
    --smoke) smoke=1; shift ;;
    *) break ;;
    esac
done
[ $# -gt 0 ] || { echo "usage: $0 [-t SECONDS] [-c CPU] [--smoke] HARNESS..." >&2; exit 2; }

root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/build-fuzz
mkdir -p "$out/logs" "$out/crashes" "$out/corpus"
failed=()
passed=0

# one command from here to the end: bash reads a script by offset as it
# runs it, so a run of hours reads nothing more of this file and an edit
# of it meanwhile cannot break the summary (as tools/fuzz-campaign.sh)
{
    for bin in "$@"; do
        name=$(basename "$bin")
        seeds=$root/tests/fuzz/corpus/$name
        work=$out/corpus/$name
        log=$out/logs/$name.log
        [ $smoke -eq 1 ] && log=$out/logs/smoke-$name.log
        mkdir -p "$seeds" "$work"
        if [ ! -x "$bin" ]; then
            echo "$name: not built ($bin missing): make fuzz-build"
            failed+=("$name")
            continue
        fi
        common=("${FUZZ_OPTS[@]}" -artifact_prefix="$out/crashes/$name-")
        if [ $smoke -eq 1 ]; then
            cmd=("${pin[@]}" nice -n 19 "$bin" "${common[@]}" -runs=0 ${FUZZ_ARGS:-} "$seeds")
        else
            cmd=("${pin[@]}" nice -n 19 "$bin" "${common[@]}" -max_total_time="$seconds"
                 ${FUZZ_ARGS:-} "$work" "$seeds")
        fi
        start=$(date +%s)
        # the daemon-level harnesses' mode (tests/fuzz/README.md "Speed")
        mode=""
        [ -n "${VGRANT_FUZZ_FRESH:-}" ] && mode="VGRANT_FUZZ_FRESH=$VGRANT_FUZZ_FRESH "
        echo "# $(date -u '+%Y-%m-%d %H:%M:%S UTC') $mode${cmd[*]}" >"$log"
        "${cmd[@]}" >>"$log" 2>&1
        rc=$?
        secs=$(( $(date +%s) - start ))
        fuzz_log_read "$log"
        crash=0
        if [ $rc -ne 0 ] || fuzz_log_failed "$log"; then
            crash=1
        fi
        printf '%s: %s execs in %s s, cov %s ft %s, corpus %s, crashes %s\n' \
            "$name" "${fz_execs:-?}" "$secs" "${fz_cov:-?}" "${fz_ft:-?}" "${fz_corp:-?}" "$crash"
        if [ $crash -eq 1 ]; then
            failed+=("$name")
            grep -E 'fuzz invariant failed|ERROR|SUMMARY|runtime error|Test unit written|deadly' "$log" | head -8 | sed 's/^/    /'
            echo "    full log: $log"
        else
            passed=$((passed + 1))
        fi
    done

    if [ $smoke -eq 1 ]; then
        echo "[==========] ${#@} fuzz harness(es) replayed their seed corpus."
        echo "[  PASSED  ] $passed test(s)."
        if [ ${#failed[@]} -ne 0 ]; then
            echo "[  FAILED  ] ${#failed[@]} test(s), listed below:"
            for n in "${failed[@]}"; do echo "[  FAILED  ] $n"; done
        fi
    fi
    [ ${#failed[@]} -eq 0 ]
}; exit
