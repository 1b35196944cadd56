#!/bin/sh
# Run e2e scenarios in a Xen dom0 and print one result marker per scenario:
#   E2E-BEGIN <name>
#   E2E-RESULT <name> PASS
#   E2E-RESULT <name> FAIL <reason>
#
#   runner.sh [-t SECONDS] NAME...
#
# Used by the dom0 init inside QEMU (as /e2e/runner.sh) and usable as is on a
# real Xen host (as root in dom0): scenarios are looked up in
# $E2E_SCENARIO_DIR (default: the scenarios/ folder beside this script).
# Exit status: 0 if every scenario passed, 1 otherwise.
# With E2E_SAN=1 (make e2e SAN=1: dom0's programs are an ASan/UBSan build)
# ASan/LSan reports go to files in $E2E_WORK/san/ (ASAN_OPTIONS log_path);
# UBSan's, in a program built with both, ignore log_path and go to the
# program's stderr, so the daemon logs of the scenario ($E2E_WORK/*.log,
# lib.sh's start_bg) are searched too.  A scenario during which a report
# appeared (an "ERROR: AddressSanitizer", "ERROR: LeakSanitizer" or
# "runtime error:" line; daemons stopped at its end included) FAILs with
# the report's first line; the reports are printed.
# POSIX sh (busybox ash in the emulated dom0).

TMO=${E2E_SCENARIO_TIMEOUT:-300}
if [ "${1:-}" = "-t" ]; then TMO=$2; shift 2; fi

here=$(cd "$(dirname "$0")" && pwd)
E2E_SCENARIO_DIR=${E2E_SCENARIO_DIR:-$here/scenarios}
E2E_WORK=${E2E_WORK:-/run/e2e}
export E2E_SCENARIO_DIR E2E_WORK
mkdir -p "$E2E_WORK"

SAN_DIR=""
if [ "${E2E_SAN:-0}" = 1 ]; then
    SAN_DIR=$E2E_WORK/san
    mkdir -p "$SAN_DIR"
    # log_path: the ASan/LSan report of any sanitized program (daemons,
    # the CLI) lands in a file whatever became of its stderr; <prefix>.<pid>
    export ASAN_OPTIONS="log_path=$SAN_DIR/asan:halt_on_error=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
    export UBSAN_OPTIONS="log_path=$SAN_DIR/ubsan:print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
    echo "E2E-SAN: sanitizer reports go to $SAN_DIR (ASAN_OPTIONS=$ASAN_OPTIONS)"
fi

SAN_PAT='ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:'

# san_check STAMP: print the sanitizer reports of this scenario (report
# files, and daemon logs not older than STAMP that hold one); SAN_FIRST
# gets the first error line of the first one; fails (1) if there is one
san_check() {
    SAN_FIRST=""
    for _r in "$E2E_WORK"/*.log; do
        [ -f "$_r" ] || continue
        [ "$_r" -ot "$1" ] && continue
        grep -q "$SAN_PAT" "$_r" || continue
        echo "----- sanitizer report in the daemon log $_r"
        grep -A 12 "$SAN_PAT" "$_r" | sed 's/^/    san| /'
        [ -n "$SAN_FIRST" ] || SAN_FIRST=$(grep -m1 "$SAN_PAT" "$_r" | sed 's/^==[0-9]*==//' | cut -c1-200)
    done
    for _r in "$SAN_DIR"/*; do
        [ -f "$_r" ] || continue
        echo "----- sanitizer report $_r"
        sed 's/^/    san| /' "$_r"
        [ -n "$SAN_FIRST" ] || SAN_FIRST=$(grep -m1 "$SAN_PAT" "$_r" |
            sed 's/^==[0-9]*==//' | cut -c1-200)
        [ -n "$SAN_FIRST" ] || SAN_FIRST="sanitizer output in ${_r##*/}: $(head -n1 "$_r" | cut -c1-160)"
    done
    [ -z "$SAN_FIRST" ]
}

# what a guest console looks like when it is dumped after a failure
dump_guest_logs() {
    for l in "${E2E_CONSOLE_LOG_DIR:-/var/log/xen/console}"/guest-*.log; do
        [ -f "$l" ] || continue
        [ "$l" -nt "$1" ] || continue
        echo "----- $l (last 40 lines)"
        tail -n 40 "$l" | tr -d '\r' | sed 's/^/    | /'
    done
}

all_ok=0
for name in "$@"; do
    echo "E2E-BEGIN $name"
    script=$E2E_SCENARIO_DIR/$name.sh
    reason_file=$E2E_WORK/$name.reason
    stamp=$E2E_WORK/$name.start
    rm -f "$reason_file"
    : >"$stamp"
    [ -n "$SAN_DIR" ] && rm -f "$SAN_DIR"/*
    if [ ! -f "$script" ]; then
        echo "E2E-RESULT $name FAIL no such scenario $script"
        all_ok=1
        continue
    fi
    t0=$(cut -d' ' -f1 /proc/uptime)
    # no pipe here: a daemon a scenario leaves running would hold it open
    E2E_SCENARIO=$name E2E_REASON_FILE=$reason_file \
        timeout "$TMO" sh "$script" </dev/null 2>&1
    rc=$?
    t1=$(cut -d' ' -f1 /proc/uptime)
    secs=$(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }")
    if [ "$rc" != 0 ] && [ ! -s "$reason_file" ]; then
        if awk "BEGIN { exit !($t1 - $t0 >= $TMO - 1) }"; then
            echo "timed out after ${TMO}s" >"$reason_file"
        fi
    fi
    # stop daemons the scenario left running (lib.sh's start_bg records
    # them; a scenario killed by the timeout never ran its exit hook)
    left=""
    for f in "$E2E_WORK"/*.pid; do
        [ -f "$f" ] || continue
        p=$(cat "$f")
        kill "$p" 2>/dev/null && left="$left $p"
        rm -f "$f"
    done
    if [ -n "$SAN_DIR" ]; then
        # their exit (LeakSanitizer runs then) belongs to this scenario
        i=0
        for p in $left; do
            while kill -0 "$p" 2>/dev/null && [ "$i" -lt 40 ]; do
                sleep 0.25
                i=$((i + 1))
            done
        done
        if ! san_check "$stamp"; then
            # the scenario's own reason, if any, after the report's
            old=$(head -n1 "$reason_file" 2>/dev/null)
            echo "sanitizer report: $SAN_FIRST${old:+ (scenario: $old)}" >"$reason_file"
            rc=1
        fi
    fi
    if [ "$rc" = 0 ]; then
        echo "E2E-RESULT $name PASS (${secs}s)"
    else
        reason=$(head -n1 "$reason_file" 2>/dev/null)
        [ -n "$reason" ] || reason="exit status $rc"
        dump_guest_logs "$stamp"
        echo "E2E-RESULT $name FAIL $reason (${secs}s)"
        all_ok=1
    fi
    # leave none of the guests this scenario started (lib.sh records them)
    if [ -f "$E2E_WORK/guests" ]; then
        for g in $(cat "$E2E_WORK/guests"); do
            xl destroy "$g" >/dev/null 2>&1
        done
        rm -f "$E2E_WORK/guests"
    fi
    # Scenario images live in dom0's /run tmpfs, i.e. in dom0's RAM, and one
    # boot runs many scenarios: nothing of one may fill the space of the
    # next (a full /run once failed kernel-fs's last disk with ENOSPC).
    # Loop devices still holding a deleted image would keep its pages, so
    # release those first.
    for l in /sys/block/loop*/loop/backing_file; do
        [ -f "$l" ] || continue
        case $(cat "$l" 2>/dev/null) in
        "$E2E_WORK"/*) d=${l#/sys/block/}; losetup -d "/dev/${d%%/*}" 2>/dev/null ;;
        esac
    done
    rm -f "$E2E_WORK"/*.img
    echo "E2E-SPACE $name: $(df -m "$E2E_WORK" | awk 'NR == 2 { print $3 " MiB used, " $4 " MiB free" }') in $E2E_WORK after cleanup"
done
exit $all_ok
