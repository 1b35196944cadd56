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
# POSIX sh (busybox ash in the emulated dom0).

TMO=${E2E_SCENARIO_TIMEOUT:-300}
if [ "${1:-}" = "-t" ]; then TMO=$2; shift 2; fi

here=$(cd "$(dirname "$0")" && pwd)
E2E_SCENARIO_DIR=${E2E_SCENARIO_DIR:-$here/scenarios}
E2E_WORK=${E2E_WORK:-/run/e2e}
export E2E_SCENARIO_DIR E2E_WORK
mkdir -p "$E2E_WORK"

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
    if [ "$rc" = 0 ]; then
        echo "E2E-RESULT $name PASS (${secs}s)"
    else
        reason=$(head -n1 "$reason_file" 2>/dev/null)
        [ -n "$reason" ] || reason="exit status $rc"
        dump_guest_logs "$stamp"
        echo "E2E-RESULT $name FAIL $reason (${secs}s)"
        all_ok=1
    fi
    # stop daemons the scenario left running (lib.sh's start_bg records
    # them; a scenario killed by the timeout never ran its exit hook)
    for f in "$E2E_WORK"/*.pid; do
        [ -f "$f" ] || continue
        kill "$(cat "$f")" 2>/dev/null
        rm -f "$f"
    done
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
