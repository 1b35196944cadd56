# shellcheck shell=bash
# Shared helpers for the host-side e2e scripts (fetch.sh, build-images.sh,
# run.sh).  Sourced, never executed.  Everything here runs on the build host,
# not inside the emulated machine.

# shellcheck disable=SC2034  # used by the scripts that source this file
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_REPO=$(cd "$E2E_DIR/../.." && pwd)
E2E_CACHE=${VGRANT_E2E_CACHE:-${HOME:-/root}/.cache/virtio-grant/e2e}

e2e_ts() { date +%H:%M:%S; }
log()  { printf '[e2e %s] %s\n' "$(e2e_ts)" "$*" >&2; }
warn() { printf '[e2e %s] WARNING: %s\n' "$(e2e_ts)" "$*" >&2; }
die()  { printf '[e2e %s] ERROR (%s): %s\n' "$(e2e_ts)" "${E2E_WHERE:-${0##*/}}" "$*" >&2; exit 1; }

need_cmd() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || die "required host command '$c' not found in PATH"
    done
}

# dom0's own kernel lines in a serial log on stdin (guests' consoles reach
# it indented behind their names, Xen's behind "(XEN)"): "FAIL <line>" for
# an oops, a BUG or a WARNING; "STALL <line>" for a soft lockup, an RCU
# stall or a hung task, which run.sh reports without failing: seen only
# with dom0's idle task on the CPU after heavy guest teardown under TCG
# (the vCPU was not run; docs/e2e.md).
e2e_dom0_kernel_check() {
    awk '
        !/^\[ *[0-9]+\.[0-9]+\] / { next }
        /BUG: soft lockup|rcu: INFO|self-detected stall|blocked for more than/ { print "STALL " $0; next }
        /Oops|kernel BUG at|BUG: |WARNING: CPU|general protection fault/ { print "FAIL " $0 }'
}

# sha256 of stdin, first 16 hex digits: used as cache keys.
short_hash() { sha256sum | cut -c1-16; }

# Hash a list of files/dirs (names relative to their root + contents + mode
# bits) deterministically.  Missing paths hash as "missing".
hash_tree() {
    local p
    for p in "$@"; do
        if [ -d "$p" ]; then
            (cd "$p" && find . \( -type f -o -type l \) -print0 | LC_ALL=C sort -z |
                while IFS= read -r -d '' f; do
                    if [ -L "$f" ]; then
                        printf 'L %s %s\n' "$f" "$(readlink "$f")"
                    else
                        printf 'F %s %s %s\n' "$f" "$(stat -c %a "$f")" "$(sha256sum <"$f" | cut -c1-64)"
                    fi
                done)
        elif [ -f "$p" ]; then
            printf 'F %s %s\n' "$p" "$(sha256sum <"$p" | cut -c1-64)"
        else
            printf 'missing %s\n' "$p"
        fi
    done | short_hash
}

# Keep only the $2 most recently modified entries of directory $1 (never the
# one named $3).
prune_dir() {
    local dir=$1 keep=$2 protect=${3:-} n=0 e
    [ -d "$dir" ] || return 0
    while IFS= read -r e; do
        n=$((n + 1))
        [ "$n" -le "$keep" ] && continue
        [ -n "$protect" ] && [ "$e" = "$protect" ] && continue
        case $e in .*|*.tmp.*) continue ;; esac
        rm -rf -- "${dir:?}/$e"
    done < <(ls -1t "$dir" 2>/dev/null)
}

# Note for these scripts: they run with pipefail, so never end a pipeline
# early (head, grep -q, awk '{exit}') inside $(...): the writer's SIGPIPE
# would make the assignment fail and set -e exit without a message.

# Say where a script stopped when set -e ends it.
set -E
# shellcheck disable=SC2154
trap 'rc=$?; printf "[e2e %s] ERROR (%s): command failed with status %s at %s line %s: %s\n" "$(e2e_ts)" "${E2E_WHERE:-${0##*/}}" "$rc" "${BASH_SOURCE[0]##*/}" "$LINENO" "$BASH_COMMAND" >&2' ERR
