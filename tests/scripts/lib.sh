# shellcheck shell=bash
# What the script tests (tests/scripts/test_*.sh) share: a count of failed
# checks and the checks' lines.  Sourced; the test ends with
# `[ "$fails" = 0 ]`.
#   ok NAME                 a check that passed
#   bad NAME                a check that failed (counted)
#   expect NAME WANT GOT    WANT and GOT equal, else both shown
#   section HEADING         the lines of the markdown file $out under the
#                           line HEADING, up to the next heading
#   run_or_stop LOG CMD...  CMD, its output into LOG; if it fails, say so
#                           with LOG and stop the test (what follows
#                           would check its output)
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails + 1)); }
expect() {
    if [ "$2" = "$3" ]; then ok "$1"; else
        bad "$1"; echo "  expected: $2" | sed 's/^/    /'; echo "  got:      $3" | sed 's/^/    /'
    fi
}
section() { awk -v h="$1" '$0 == h { on = 1; next } on && /^#/ { exit } on' "$out"; }
run_or_stop() {
    local log=$1
    shift
    if ! "$@" >"$log" 2>&1; then
        bad "$* failed: $(cat "$log")"
        exit 1
    fi
}
