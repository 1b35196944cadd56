#!/usr/bin/env bash
# A long libFuzzer campaign, kept in a ledger that survives the end of a
# session and a new machine.  Ten million executions of the daemon-level
# harnesses take tens of CPU hours here; they are run in chunks, across
# sessions, and counted per binary.
#
#   tools/fuzz-campaign.sh run [-c CPU] [-s CHUNK_SECONDS] [-u DEADLINE] HARNESS
#   tools/fuzz-campaign.sh total HARNESS [SHA256]
#   tools/fuzz-campaign.sh merge HARNESS
#
# run    fuzzes build-fuzz/fuzz/HARNESS (`make fuzz-build` first) in chunks
#        of CHUNK_SECONDS (default 1800) until DEADLINE (anything `date -d`
#        reads, at least a minute ahead; default: until stopped), pinned
#        to CPU (taskset) at nice 19, with the options of tools/run-fuzz.sh
#        (lib/fuzzlog.sh) plus -reload=0 (one process per corpus).
#        SIGTERM (or ^C) to this script stops the chunk in progress with
#        SIGINT, which libFuzzer answers with its final statistics, so
#        the chunk still counts; only a SIGKILL loses one.
#        (Started with & from a script, it ignores SIGINT: use SIGTERM.)
#        A crash, timeout or invariant failure ends the campaign.
# total  sums the ledger's executions for one binary (default: the one in
#        build-fuzz/fuzz/) and says whether any chunk of it failed.
# merge  adds to the committed seeds (tests/fuzz/corpus/HARNESS) the
#        campaign's inputs that bring new features (libFuzzer -merge=1), so
#        that a campaign resumed on a fresh machine starts where it was.
#
# The binary is named by its sha256: the fuzz build keeps the checkout's
# path out of it (Makefile, -ffile-prefix-map), so the same sources and
# clang give the same file in any clone.  Each chunk appends one line to
# tests/fuzz/campaign/HARNESS.ledger (commit it); its log, the growing
# corpus and any crash input live in
# ${VGRANT_FUZZ_CAMPAIGN_DIR:-~/.cache/virtio-grant/fuzz-campaign}/HARNESS-SHA12/.
# VGRANT_FUZZ_BIN_DIR and VGRANT_FUZZ_LEDGER_DIR replace build-fuzz/fuzz
# and tests/fuzz/campaign (tests/scripts/test_fuzz_campaign.sh).
set -u
# shellcheck source=lib/need.sh
. "$(dirname "$0")/lib/need.sh"
# shellcheck source=lib/fuzzlog.sh
. "$(dirname "$0")/lib/fuzzlog.sh"
need_cmd nice taskset sha256sum awk date uname

root=$(cd "$(dirname "$0")/.." && pwd)
base=${VGRANT_FUZZ_CAMPAIGN_DIR:-$HOME/.cache/virtio-grant/fuzz-campaign}
bindir=${VGRANT_FUZZ_BIN_DIR:-$root/build-fuzz/fuzz}
ledgers=${VGRANT_FUZZ_LEDGER_DIR:-$root/tests/fuzz/campaign}

usage() {
    sed -n '7,9s/^#   //p' "$0" >&2
    exit 2
}

ledger_of() { echo "$ledgers/$1.ledger"; }

binary_of() {
    local bin=$bindir/$1
    [ -x "$bin" ] || { echo "fuzz-campaign: $bin not built: make fuzz-build" >&2; exit 1; }
    echo "$bin"
}

cmd_total() {
    local h=$1 sha=${2:-}
    [ -n "$sha" ] || sha=$(sha256sum "$(binary_of "$h")" | cut -d' ' -f1)
    local ledger
    ledger=$(ledger_of "$h")
    [ -f "$ledger" ] || { echo "$h ${sha:0:12}: no ledger ($ledger)"; return 1; }
    awk -F'\t' -v sha="$sha" -v h="$h" '
        /^#/ || $3 != sha { next }
        { n++; execs += $7; secs += $6; if ($12 != "ok") bad++ }
        END {
            printf "%s %s: %d executions in %d chunk(s), %d s, %d failed chunk(s)\n",
                   h, substr(sha, 1, 12), execs, n, secs, bad
            exit bad > 0
        }' "$ledger"
}

cmd_merge() {
    local h=$1 bin sha dir
    bin=$(binary_of "$h")
    sha=$(sha256sum "$bin" | cut -d' ' -f1)
    dir=$base/$h-${sha:0:12}
    [ -d "$dir/corpus" ] || { echo "fuzz-campaign: no campaign corpus in $dir" >&2; exit 1; }
    local before after
    before=$(find "$root/tests/fuzz/corpus/$h" -type f | wc -l)
    "$bin" "${FUZZ_OPTS[@]}" -merge=1 \
        "$root/tests/fuzz/corpus/$h" "$dir/corpus" >"$dir/logs/merge.log" 2>&1 ||
        { echo "fuzz-campaign: merge failed, see $dir/logs/merge.log" >&2; exit 1; }
    after=$(find "$root/tests/fuzz/corpus/$h" -type f | wc -l)
    echo "$h: seeds $before -> $after inputs (merged from $dir/corpus)"
}

child=0
stopping=0
on_signal() {
    stopping=1
    [ "$child" -gt 0 ] && kill -INT "$child" 2>/dev/null
}

# run_chunk H BIN SHA DIR CPU SECONDS: one libFuzzer process, one ledger line
run_chunk() {
    local h=$1 bin=$2 sha=$3 dir=$4 cpu=$5 secs=$6
    local start log rc t0
    start=$(date -u '+%Y-%m-%dT%H:%M:%SZ')
    t0=$(date +%s)
    log=$dir/logs/chunk-$(date -u '+%Y%m%dT%H%M%S').log
    local cmd=(taskset -c "$cpu" nice -n 19 "$bin" "${FUZZ_OPTS[@]}" -reload=0
               -artifact_prefix="$dir/crashes/$h-" -max_total_time="$secs"
               "$dir/corpus" "$root/tests/fuzz/corpus/$h")
    echo "# $start ${cmd[*]}" >"$log"
    "${cmd[@]}" >>"$log" 2>&1 &
    child=$!
    wait "$child"; rc=$?
    # a trapped signal ends that wait early (status > 128): wait again for
    # the chunk's final statistics and its own status
    if [ $rc -gt 128 ] && [ $stopping -eq 1 ]; then wait "$child"; rc=$?; fi
    child=0
    local secs_run corp result artifact
    secs_run=$(( $(date +%s) - t0 ))
    fuzz_log_read "$log"
    corp=$(find "$dir/corpus" -type f | wc -l)
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    # an interrupted run exits 72 (clang 14's libFuzzer has no
    # -interrupted_exit_code) after its final statistics
    [ $rc -eq 72 ] && grep -q 'libFuzzer: run interrupted; exiting' "$log" && rc=0
    result=ok
    if [ -n "$artifact" ] || [ $rc -ne 0 ] || fuzz_log_failed "$log"; then
        result=failed
    elif [ -z "$fz_execs" ]; then
        result=nostats
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$start" "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" "$sha" "$(uname -n)" "$cpu" \
        "$secs_run" "${fz_execs:-0}" "${fz_eps:-0}" "${fz_cov:-?}" "${fz_ft:-?}" \
        "$corp" "$result" "${artifact:--}" >>"$(ledger_of "$h")"
    echo "$h: chunk of $secs_run s: ${fz_execs:-0} executions," \
         "${fz_eps:-0}/s, cov ${fz_cov:-?} ft ${fz_ft:-?}, corpus $corp, $result (log $log)"
    [ "$result" = ok ]
}

cmd_run() {
    # no chunk shorter than this is started, so a deadline nearer than
    # it would run nothing
    local cpu=0 chunk=1800 deadline="" opt min_secs=60 when
    OPTIND=1
    while getopts c:s:u: opt; do
        case $opt in
        c) cpu=$OPTARG ;;
        s) chunk=$OPTARG ;;
        u) deadline=$(date -d "$OPTARG" +%s) || exit 2
           # a bare time of day is today's: '02:05' given at 23:40 is past
           if [ "$deadline" -lt $(( $(date +%s) + min_secs )) ]; then
               when=$(date -u -d "@$deadline" '+%Y-%m-%d %H:%M UTC')
               echo "fuzz-campaign: deadline '$OPTARG' ($when) is less than" \
                    "a minute away; name the day, e.g. -u 'tomorrow $OPTARG'" >&2
               exit 2
           fi ;;
        *) usage ;;
        esac
    done
    shift $((OPTIND - 1))
    [ $# -eq 1 ] || usage
    local h=$1 bin sha dir
    bin=$(binary_of "$h")
    sha=$(sha256sum "$bin" | cut -d' ' -f1)
    dir=$base/$h-${sha:0:12}
    mkdir -p "$dir/corpus" "$dir/crashes" "$dir/logs" "$ledgers"
    # the chunks run a copy: a rebuild meanwhile cannot change the binary
    [ -x "$dir/$h" ] || cp "$bin" "$dir/$h"
    local ledger
    ledger=$(ledger_of "$h")
    [ -f "$ledger" ] || printf '# %s\n' \
        "start end sha256 host cpu seconds executions exec/s cov ft corpus result artifact" \
        "one line per chunk of tools/fuzz-campaign.sh run; tab-separated" >"$ledger"
    trap on_signal INT TERM
    echo "$h: binary ${sha:0:12}, campaign dir $dir, CPU $cpu"
    while [ $stopping -eq 0 ]; do
        local secs=$chunk
        if [ -n "$deadline" ]; then
            secs=$(( deadline - $(date +%s) ))
            [ $secs -ge $min_secs ] || break
            [ $secs -le "$chunk" ] || secs=$chunk
        fi
        run_chunk "$h" "$dir/$h" "$sha" "$dir" "$cpu" "$secs" || { cmd_total "$h" "$sha"; exit 1; }
    done
    cmd_total "$h" "$sha"
}

[ $# -ge 1 ] || usage
sub=$1; shift
# bash reads a script by offset as it runs it: the exit is parsed with the
# case, so a campaign of hours reads nothing of this file once it has begun
# and editing the script cannot break a running one
case $sub in
run) cmd_run "$@" ;;
total) [ $# -ge 1 ] || usage; cmd_total "$@" ;;
merge) [ $# -eq 1 ] || usage; cmd_merge "$1" ;;
*) usage ;;
esac; exit
