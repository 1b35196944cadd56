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
    E2E_SCENARIO=$name E2E_REASON_FILE=$reason_file \
        timeout "$TMO" sh "$script" 2>&1 | sed "s/^/[$name] /"
    # exit status of the scenario, not of sed (no pipefail in ash)
    rc=$(cat "$E2E_WORK/$name.rc" 2>/dev/null || echo "")
    t1=$(cut -d' ' -f1 /proc/uptime)
    secs=$(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }")
    if [ -z "$rc" ]; then
        # the scenario did not reach lib.sh's exit hook: killed by the
        # timeout, or it does not use lib.sh
        if [ -f "$reason_file" ]; then
            rc=1
        else
            rc=${_rc:-1}
            echo "timeout after ${TMO}s or scenario exited without lib.sh" >"$reason_file"
        fi
    fi
    rm -f "$E2E_WORK/$name.rc"
    if [ "$rc" = 0 ]; then
        echo "E2E-RESULT $name PASS (${secs}s)"
    else
        reason=$(head -n1 "$reason_file" 2>/dev/null)
        [ -n "$reason" ] || reason="exit status $rc"
        dump_guest_logs "$stamp"
        echo "E2E-RESULT $name FAIL $reason (${secs}s)"
        all_ok=1
    fi
    # leave no guest behind for the next scenario
    for d in $(xl list 2>/dev/null | awk 'NR > 2 { print $1 }'); do
        xl destroy "$d" >/dev/null 2>&1
    done
done
exit $all_ok
