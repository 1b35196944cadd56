# shellcheck shell=bash
# need_cmd NAME...: fail with a message naming the missing host command and
# the fix (make deps).  Sourced by the scripts under tools/; tests/e2e has
# the same in common.sh.  Every external command a script relies on is
# declared with need_cmd, and tools/deps.list maps each to its Debian
# package (tests/scripts/test_deps_cover.sh checks that).
need_cmd() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 ||
            { echo "${0##*/}: required host command '$c' not found in PATH (make deps, or see tools/deps.list)" >&2; exit 1; }
    done
}
