#!/usr/bin/env bash
# `make help` lists every target once, one line each, and every target it
# lists exists as a rule of the Makefile (issue 14.5: bench, later
# e2e-kernel, were listed twice).
set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
fails=0
names=$(make --no-print-directory -C "$repo" help | sed -n 's/^  make \([a-z0-9-]*\).*/\1/p' | grep -v '^$')
[ -n "$names" ] || { echo "make help lists no target"; exit 1; }
dups=$(sort <<<"$names" | uniq -d)
if [ -n "$dups" ]; then
    echo "make help lists these more than once: $dups"
    fails=1
fi
for t in $names; do
    if ! grep -q "^$t:" "$repo/Makefile"; then
        echo "make help lists '$t' but the Makefile has no rule '$t:'"
        fails=1
    fi
done
# `make` alone (the first line) is the default goal, `all`
grep -q '^all:' "$repo/Makefile" || { echo "no 'all' rule"; fails=1; }
[ "$fails" = 0 ] && echo "make help: $(wc -w <<<"$names") targets, each once, each a rule"
exit $fails
