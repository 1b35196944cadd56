#!/usr/bin/env bash
# make e2e SAN=1: tests/e2e/runner.sh with E2E_SAN=1 must FAIL a scenario
# during which a sanitized program reported an error (ASan, UBSan, LSan,
# also a daemon that reports only when the runner stops it after the
# scenario), PASS a clean one, and not carry a report over to the next
# scenario.  Runs the real runner.sh on the host with scenarios of its own
# and small sanitized programs (no Xen needed).
set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
CC=${CC:-cc}

mkdir -p "$tmp/scen" "$tmp/work" "$tmp/console"
cat >"$tmp/prog.c" <<'EOF'
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static volatile sig_atomic_t term;
static void on_term(int s) { (void)s; term = 1; }
int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "clean";
    char *p = malloc(16);
    volatile int big = INT_MAX;

    if (!strcmp(what, "overflow"))
        p[16] = 1;                     /* heap-buffer-overflow */
    if (!strcmp(what, "ub"))
        big = big + argc;              /* signed overflow */
    if (!strcmp(what, "leak")) {
        p = NULL;                      /* reported at exit */
        return 0;
    }
    if (!strcmp(what, "daemon")) {     /* a use after free once stopped */
        signal(SIGTERM, on_term);
        while (!term)
            pause();
        free(p);
        return p[0];
    }
    free(p);
    return big == 0;
}
EOF
$CC -g -O0 -fsanitize=address,undefined -fno-sanitize-recover=undefined \
    -o "$tmp/prog" "$tmp/prog.c" || { echo "FAIL: cannot build a sanitized program with $CC"; exit 1; }

# scenarios: each ignores its program's status, as a daemon's report
# would go unnoticed by the scenario itself
for w in clean overflow leak; do
    printf '#!/bin/sh\n"%s" %s >/dev/null 2>&1\nexit 0\n' "$tmp/prog" "$w" >"$tmp/scen/$w.sh"
done
# UBSan (built together with ASan) ignores log_path: its report is in the
# program's stderr, here a daemon log as lib.sh's start_bg writes it
printf '#!/bin/sh\n"%s" ub >"$E2E_WORK/ubd.log" 2>&1\nexit 0\n' "$tmp/prog" >"$tmp/scen/ub.sh"
cat >"$tmp/scen/daemon.sh" <<EOF
#!/bin/sh
"$tmp/prog" daemon >/dev/null 2>&1 &
echo \$! >"\$E2E_WORK/daemon.pid"
sleep 0.5
exit 0
EOF
cp "$tmp/scen/clean.sh" "$tmp/scen/clean2.sh"

out=$(E2E_SAN=1 E2E_WORK=$tmp/work E2E_SCENARIO_DIR=$tmp/scen \
      E2E_CONSOLE_LOG_DIR=$tmp/console \
      sh "$repo/tests/e2e/runner.sh" -t 60 clean overflow ub leak daemon clean2 2>&1)
rc=$?

expect() { # NAME PATTERN
    local line
    line=$(grep "^E2E-RESULT $1 " <<<"$out")
    if grep -q -- "$2" <<<"$line"; then
        echo "ok: $line"
    else
        echo "FAIL: $1: expected '$2', got '${line:-no result}'"
        fails=$((fails + 1))
    fi
}
expect clean 'PASS'
expect overflow 'FAIL sanitizer report: ERROR: AddressSanitizer: heap-buffer-overflow'
expect ub 'FAIL sanitizer report: .*runtime error: signed integer overflow'
expect leak 'FAIL sanitizer report: ERROR: LeakSanitizer: detected memory leaks'
expect daemon 'FAIL sanitizer report: ERROR: AddressSanitizer: heap-use-after-free'
expect clean2 'PASS'
grep -q '    san| .*runtime error: signed integer overflow' <<<"$out" ||
    { echo "FAIL: the UBSan report was not printed"; fails=$((fails + 1)); }
grep -q '    san| .*heap-buffer-overflow' <<<"$out" ||
    { echo "FAIL: the overflow report was not printed"; fails=$((fails + 1)); }
[ "$rc" = 1 ] || { echo "FAIL: runner.sh exited $rc, not 1"; fails=$((fails + 1)); }
if [ "$fails" -ne 0 ]; then
    echo "----- runner output"
    echo "$out"
fi
[ "$fails" -eq 0 ]
