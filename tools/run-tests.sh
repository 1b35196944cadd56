#!/usr/bin/env bash
# Run each cmocka test program, show its output, and end with the totals:
# "unit: N passed, N failed" counting the individual tests of all programs
# (a program that crashes before its summary counts as one failed test).
# A *.sh argument is a script test: one test, passed if it exits 0.
set -u
passed=0
failed=0
bad_programs=()
for t in "$@"; do
    name=${t##*/}
    echo "=== $name"
    case $t in
    *.sh)   # a script test is one test: its exit status decides
        if bash "$t"; then passed=$((passed + 1)); else
            failed=$((failed + 1)); bad_programs+=("$name"); fi
        continue ;;
    esac
    out=$(mktemp)
    "$t" 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\..*/\1/p' "$out" | tail -1)
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:.*/\1/p' "$out" | tail -1)
    rm -f "$out"
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0}))
    if [ "$rc" -ne 0 ]; then
        bad_programs+=("$name")
        [ -z "$f" ] && failed=$((failed + 1))
    fi
done
echo
[ ${#bad_programs[@]} -ne 0 ] && echo "failing test programs: ${bad_programs[*]}"
echo "unit: $passed passed, $failed failed"
[ ${#bad_programs[@]} -eq 0 ]
