#!/usr/bin/env bash
# The man pages under docs/man/ render without a warning (groff -ww), each
# has the NAME/SYNOPSIS-or-DESCRIPTION sections man and apropos need, and
# every long option `vgrantd --help` lists is documented in vgrantd(8).
set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
fail=0
err() { echo "test_man: FAIL: $*" >&2; fail=1; }
command -v groff >/dev/null || { err "groff not found (groff-base: make deps)"; exit 1; }
pages="vgrantd.8 vgrant.8 vgrant-io.1 virtio-grant.7"
for p in $pages; do
    f=$repo/docs/man/$p
    [ -f "$f" ] || { err "docs/man/$p is missing"; continue; }
    warn=$(groff -man -Tutf8 -ww -z "$f" 2>&1)
    [ -z "$warn" ] || err "docs/man/$p: groff warns: $warn"
    text=$(groff -man -Tutf8 "$f" 2>/dev/null | sed 's/.\x08//g')
    name=${p%.*}
    sec=${p##*.}
    grep -q "^NAME" <<<"$text" || err "docs/man/$p renders no NAME section"
    grep -qE "^ +$name - " <<<"$text" || err "docs/man/$p: NAME line is not '$name - ...'"
    head -n1 "$f" | grep -qiE "^\.TH ${name//-/\\\\?-} $sec " || err "docs/man/$p: .TH does not name $name section $sec"
    grep -q "^DESCRIPTION" <<<"$text" || err "docs/man/$p renders no DESCRIPTION section"
done
# vgrantd(8) documents every long option of the binary's --help
vgrantd=$repo/${VGRANT_BUILD:-build}/bin/vgrantd
if [ -x "$vgrantd" ]; then
    opts=$("$vgrantd" --help | grep -oE '^ +(-[A-Za-z], )?--[a-z-]+' | grep -oE -- '--[a-z-]+' | sort -u)
    [ -n "$opts" ] || err "could not read the options of vgrantd --help"
    man8=$(groff -man -Tutf8 "$repo/docs/man/vgrantd.8" 2>/dev/null | sed 's/.\x08//g')
    for o in $opts; do
        grep -qe "$o" <<<"$man8" || err "vgrantd --help has $o, docs/man/vgrantd.8 does not"
    done
else
    err "$vgrantd not built (make test builds it first)"
fi
[ "$fail" = 0 ] && echo "test_man: $pages render without warnings; vgrantd(8) has all $(wc -w <<<"$opts") options of --help"
exit "$fail"
