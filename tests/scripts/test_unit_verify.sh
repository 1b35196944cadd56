#!/usr/bin/env bash
# debian/virtio-grant.vgrantd.service passes `systemd-analyze verify` with
# no message at all: an unknown or misspelt key (a hardening option this
# systemd does not know), a value that does not parse, a missing
# dependency or an ExecStart that is not executable each print a line, and
# any line fails the test.  The unit is checked in a scratch root
# (--root) holding it as /etc/systemd/system/vgrantd.service, the host's
# own unit directory (for sysinit.target and the like) and the built
# vgrantd as /usr/sbin/vgrantd; --man=no because the man pages are checked
# by test_man.sh.  To show the check can fail, a copy with one misspelt
# hardening key must be reported.  systemd-analyze comes from the systemd
# package (tools/deps.list, make deps); this is no test under a running
# systemd (docs/install.md).
set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=${VGRANT_BUILD:-build}
unit=$repo/debian/virtio-grant.vgrantd.service
fail=0
err() { echo "test_unit_verify: FAIL: $*" >&2; fail=1; }
command -v systemd-analyze >/dev/null ||
    { err "systemd-analyze not found (package systemd: make deps)"; exit 1; }
[ -d /usr/lib/systemd/system ] || [ -d /lib/systemd/system ] ||
    { err "no system unit directory on this host to verify against"; exit 1; }
[ -x "$repo/$build/bin/vgrantd" ] || { err "$build/bin/vgrantd not built"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# mkroot DIR UNITFILE
mkroot() {
    mkdir -p "$1/usr/sbin" "$1/usr/bin" "$1/usr/lib/systemd" "$1/etc/systemd/system"
    ln -s usr/bin "$1/bin"
    cp -r "$(readlink -f /usr/lib/systemd/system 2>/dev/null || echo /lib/systemd/system)" "$1/usr/lib/systemd/system"
    cp "$repo/$build/bin/vgrantd" "$1/usr/sbin/vgrantd"
    cp "$(command -v kill)" "$1/usr/bin/kill" 2>/dev/null || printf '#!/bin/sh\n' >"$1/usr/bin/kill"
    chmod 755 "$1/usr/bin/kill"
    cp "$2" "$1/etc/systemd/system/vgrantd.service"
}

mkroot "$tmp/ok" "$unit"
out=$(systemd-analyze verify --man=no --root="$tmp/ok" vgrantd.service 2>&1); rc=$?
[ "$rc" = 0 ] || err "systemd-analyze verify exited $rc"
[ -z "$out" ] || err "systemd-analyze verify reports on vgrantd.service:
$out"

sed 's/^ProtectClock=yes/ProtectClok=yes/' "$unit" >"$tmp/typo.service"
grep -q ProtectClok "$tmp/typo.service" || err "the unit has no ProtectClock=yes line to misspell"
mkroot "$tmp/typo" "$tmp/typo.service"
out=$(systemd-analyze verify --man=no --root="$tmp/typo" vgrantd.service 2>&1)
grep -q "Unknown key 'ProtectClok'" <<<"$out" ||
    err "a misspelt hardening key went unreported, the check proves nothing: $out"

[ "$fail" = 0 ] && echo "test_unit_verify: systemd-analyze verify ($(systemd-analyze --version | sed -n '1s/ (.*//p')): vgrantd.service clean; a misspelt key is reported"
exit "$fail"
