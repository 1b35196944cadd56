#!/usr/bin/env bash
# tests/e2e/run.sh's check of dom0's own kernel lines in the serial log
# (e2e_dom0_kernel_check, tests/e2e/common.sh): an oops, BUG or WARNING of
# dom0 fails the run, a soft lockup or stall is reported, and the same
# words in a guest's console (indented) or Xen's are not dom0's.
set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../e2e/common.sh
. "$repo/tests/e2e/common.sh"
fails=0
expect() {
    if [ "$2" = "$3" ]; then echo "ok   $1"; else
        echo "FAIL $1"; echo "  expected: $2"; echo "  got:      $3"; fails=$((fails + 1)); fi
}

log='(XEN) WARNING: CPU 1 something of Xen
[    1.000000] Linux version 6.1.0
    kn-b| [  12.5] WARNING: CPU: 0 PID: 1 at a guest
    kn-b| [  13.0] BUG: unable to handle page fault in a guest
[  438.294825] watchdog: BUG: soft lockup - CPU#1 stuck for 27s! [swapper/1:0]
[  439.000000] WARNING: CPU: 1 PID: 949 at drivers/xen/gntdev.c:1 x
[  440.000000] BUG: kernel NULL pointer dereference, address: 0
[  441.000000] rcu: INFO: rcu_preempt self-detected stall on CPU
[  442.000000] Oops: 0000 [#1] SMP NOPTI
E2E-RESULT kernel-net PASS (419.2s)'
expect "dom0 lines sorted, guests' and Xen's left out" \
"STALL [  438.294825] watchdog: BUG: soft lockup - CPU#1 stuck for 27s! [swapper/1:0]
FAIL [  439.000000] WARNING: CPU: 1 PID: 949 at drivers/xen/gntdev.c:1 x
FAIL [  440.000000] BUG: kernel NULL pointer dereference, address: 0
STALL [  441.000000] rcu: INFO: rcu_preempt self-detected stall on CPU
FAIL [  442.000000] Oops: 0000 [#1] SMP NOPTI" "$(e2e_dom0_kernel_check <<<"$log")"
expect "a clean log: nothing" "" "$(printf '[    1.0] Linux\n    g| [ 2.0] Oops: 1\n' | e2e_dom0_kernel_check)"
[ "$fails" = 0 ]
