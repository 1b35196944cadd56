#!/usr/bin/env bash
# Every host command the project's scripts declare is installed by
# tools/install-deps.sh: each name on a `need_cmd NAME...` line of a script
# under tests/, tools/ or xen-patches/ (the in-image scripts under
# tests/e2e/{scenarios,guest,init} run inside the emulated machine and use
# need_bin for what the images carry, so they are not host commands), and
# each name of NEED_CMDS in the Makefile, must have a line in tools/deps.list
# mapping it to a Debian package.  A declaration must be literal words (no
# $VAR) so that it can be checked.
set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo" || exit 1
table=tools/deps.list
fail=0
err() { echo "test_deps_cover: FAIL: $*" >&2; fail=1; }

[ -r "$table" ] || { err "$table is missing"; exit 1; }
# command -> package from the table (skip comments and library-only lines)
declare -A pkg_of=()
while read -r group cmd pkg _; do
    case $group in ''|'#'*) continue ;; esac
    [ -n "${pkg:-}" ] || { err "$table: line '$group $cmd' names no package"; continue; }
    [ "$cmd" = - ] && continue
    pkg_of[$cmd]=$pkg
done <"$table"
[ ${#pkg_of[@]} -gt 10 ] || err "$table maps only ${#pkg_of[@]} commands: parse error?"

# "file command" for every declared command
declared=$(mktemp)
trap 'rm -f "$declared"' EXIT
find tests tools xen-patches -name '*.sh' \
     -not -path 'tests/e2e/scenarios/*' -not -path 'tests/e2e/guest/*' \
     -not -path 'tests/e2e/init/*' -not -path 'tests/scripts/*' | sort |
while read -r f; do
    # need_cmd at the start of a command (line start, or after ; && || {)
    grep -E '(^|[;&|{]|\|\|)[[:space:]]*need_cmd[[:space:]]' "$f" | grep -vE '^[[:space:]]*#' |
    sed -E 's/.*need_cmd[[:space:]]+//; s/[;&|}#].*//' | tr -s ' \t' '\n\n' |
    while read -r c; do [ -n "$c" ] && echo "$f $c"; done
done >"$declared"
make_cmds=$(sed -n 's/^NEED_CMDS[[:space:]]*:=//p' Makefile)
[ -n "$make_cmds" ] || err "Makefile has no NEED_CMDS := line"
for c in $make_cmds; do echo "Makefile $c"; done >>"$declared"

n=$(wc -l <"$declared")
[ "$n" -gt 20 ] || err "found only $n declared commands: the extraction is broken"
files=$(cut -d' ' -f1 "$declared" | sort -u | wc -l)
while read -r f c; do
    case $c in
    *'$'*|*'`'*) err "$f: need_cmd '$c' is not a literal command name" ;;
    *) [ -n "${pkg_of[$c]:-}" ] ||
           err "$f needs host command '$c', which $table maps to no Debian package (tools/install-deps.sh would not install it)" ;;
    esac
done <"$declared"
# the installer really reads the table
grep -q 'deps.list' tools/install-deps.sh || err "tools/install-deps.sh does not read $table"
[ "$fail" = 0 ] && echo "test_deps_cover: $n command declarations in $files files, all mapped to a package"
exit "$fail"
