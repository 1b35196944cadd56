#!/usr/bin/env bash
# Run each test binary, show its cmocka output, and end with one summary
# line "N passed, N failed" counting test binaries.
set -u
passed=0
failed=0
failed_names=()
for t in "$@"; do
    echo "=== ${t##*/}"
    if "$t"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failed_names+=("${t##*/}")
    fi
done
echo
if [ "$failed" -ne 0 ]; then
    echo "failed test programs: ${failed_names[*]}"
fi
echo "test programs: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
