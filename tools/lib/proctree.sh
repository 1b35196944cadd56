# shellcheck shell=bash
# Stopping background work without leaving anything behind.  Sourced by
# the scripts that start background jobs (tools/bench/lib.sh, ...).
#
# proctree_kill PID...  send SIGTERM to each PID and to every descendant
#                       of it, children first collected, then signalled
#                       top-down so a pipeline cannot be re-parented out
#                       of reach between the two steps.  Uses /proc only
#                       (no procps needed).

# Every descendant of $1, parents before children, from one pass over
# /proc/<pid>/stat (field 4 is the parent; the command name in field 2 may
# contain spaces, so the fields are read after its closing ')').
proctree_list() {
    local f s rest pid ppid
    local -A kids=()
    for f in /proc/[0-9]*/stat; do
        { read -r s <"$f"; } 2>/dev/null || continue
        rest=${s##*) }            # "<state> <ppid> ..."
        rest=${rest#* }           # "<ppid> ..."
        ppid=${rest%% *}
        pid=${f#/proc/}; pid=${pid%/stat}
        kids[$ppid]+="$pid "
    done
    local queue=("$1") p
    while [ ${#queue[@]} -gt 0 ]; do
        p=${queue[0]}; queue=("${queue[@]:1}")
        for pid in ${kids[$p]:-}; do
            echo "$pid"
            queue+=("$pid")
        done
    done
}

proctree_kill() {
    local p all
    for p in "$@"; do
        [ -n "$p" ] || continue
        # Snapshot the whole tree first: once a parent dies its children
        # are re-parented to init and can no longer be found from it.
        all="$p $(proctree_list "$p")"
        # shellcheck disable=SC2086
        kill -TERM $all 2>/dev/null || true
    done
    for p in "$@"; do
        [ -n "$p" ] && wait "$p" 2>/dev/null
    done
    return 0
}
