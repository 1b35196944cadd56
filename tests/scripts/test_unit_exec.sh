#!/usr/bin/env bash
# tests/e2e/scenarios/unit.lib, which the e2e dom0 (no systemd) uses to
# start the packaged vgrantd the way debian/virtio-grant.vgrantd.service
# says: on the real unit file, the command line must be its ExecStart with
# /etc/default/vgrantd's VGRANTD_OPTS split into words (as systemd expands
# an unbraced $VAR), ExecReload must name the main pid, and what the
# mapping cannot do as systemd would (quotes, $ in the options, prefixes)
# must be refused, not run differently.  Runs under busybox sh too when
# the host has it (dom0's shell).
set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
unit=$repo/debian/virtio-grant.vgrantd.service
lib=$repo/tests/e2e/scenarios/unit.lib
fail=0
err() { echo "test_unit_exec: FAIL: $*" >&2; fail=1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

shells=(sh)
command -v busybox >/dev/null && shells+=("busybox sh")

# run SHELL ROOT [KEY]: the words unit_exec_args prints, joined by '|'
run() {
    local sh=$1 root=$2 key=${3:-ExecStart}
    # shellcheck disable=SC2086
    UNIT_MAINPID=4242 $sh -c '. "$1"; unit_exec_args "$2" "$3" "$4"' x "$lib" "$unit" "$root" "$key" 2>"$tmp/stderr" |
        tr '\n' '|'
}

mkdir -p "$tmp/root/etc/default"
for sh in "${shells[@]}"; do
    # the packaged default file: empty options
    cp "$repo/debian/virtio-grant.vgrantd.default" "$tmp/root/etc/default/vgrantd"
    got=$(run "$sh" "$tmp/root")
    want='/usr/sbin/vgrantd|-F|--options-file|/etc/default/vgrantd|'
    [ "$got" = "$want" ] || err "$sh: packaged defaults: got '$got', want '$want' ($(cat "$tmp/stderr"))"

    echo 'VGRANTD_OPTS="--log-level info   --budget 32"' >"$tmp/root/etc/default/vgrantd"
    got=$(run "$sh" "$tmp/root")
    want='/usr/sbin/vgrantd|-F|--options-file|/etc/default/vgrantd|--log-level|info|--budget|32|'
    [ "$got" = "$want" ] || err "$sh: options: got '$got', want '$want' ($(cat "$tmp/stderr"))"

    got=$(run "$sh" "$tmp/root" ExecReload)
    [ "$got" = '/bin/kill|-HUP|4242|' ] || err "$sh: ExecReload: got '$got' ($(cat "$tmp/stderr"))"

    # EnvironmentFile=- : a missing file is no error, $VGRANTD_OPTS empty
    got=$(run "$sh" "$tmp/none")
    [ "$got" = '/usr/sbin/vgrantd|-F|--options-file|/etc/default/vgrantd|' ] ||
        err "$sh: missing optional environment file: got '$got' ($(cat "$tmp/stderr"))"

    # refused: what systemd would treat differently from this mapping
    for bad in 'VGRANTD_OPTS="--log-level $(reboot)"' "VGRANTD_OPTS='--log-level info'" \
               'VGRANTD_OPTS="a \"b c\""' 'VGRANTD OPTS=x' 'VGRANTD_OPTS="--x `id`"'; do
        printf '%s\n' "$bad" >"$tmp/root/etc/default/vgrantd"
        got=$(run "$sh" "$tmp/root")
        [ -z "$got" ] || err "$sh: accepted '$bad': '$got'"
        grep -q 'unit.lib: .*etc/default/vgrantd line 1' "$tmp/stderr" || err "$sh: no message naming the file and line for '$bad': $(cat "$tmp/stderr")"
    done
done
# a unit whose ExecStart this mapping cannot run as systemd would
sed 's|^ExecStart=/usr|ExecStart=-/usr|' "$unit" >"$tmp/prefix.service"
sh -c '. "$1"; unit_exec_args "$2"' x "$lib" "$tmp/prefix.service" >/dev/null 2>"$tmp/stderr" &&
    err "an ExecStart with a '-' prefix was accepted"
grep -q 'absolute path' "$tmp/stderr" || err "no reason given for the prefixed ExecStart: $(cat "$tmp/stderr")"
v=$(sh -c '. "$1"; unit_value "$2" RuntimeDirectoryMode' x "$lib" "$unit")
[ "$v" = 0700 ] || err "unit_value RuntimeDirectoryMode: '$v'"
[ "$fail" = 0 ] && echo "test_unit_exec: vgrantd.service's ExecStart/ExecReload mapped as systemd would (${shells[*]}); 5 unsupported forms refused"
exit "$fail"
