#!/usr/bin/env bash
# Install the Debian 12 packages virtio-grant's make targets need, when they
# are missing.  The packages are those of tools/deps.list (command ->
# package table; tests/scripts/test_deps_cover.sh checks it covers every
# need_cmd of the scripts).
#
#   tools/install-deps.sh            every group but deb (make deps)
#   tools/install-deps.sh deb        only the package build tools (make deb)
#   tools/install-deps.sh GROUP...   those groups (build e2e xl bench deb)
#
# Needs root (or sudo) only if something is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
table=$here/deps.list
[ -r "$table" ] || { echo "install-deps: $table is missing" >&2; exit 1; }
groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=(build e2e xl bench)
for g in "${groups[@]}"; do
    grep -qE "^$g[[:space:]]" "$table" ||
        { echo "install-deps: unknown group '$g' (groups: $(awk '!/^#/ && NF { print $1 }' "$table" | sort -u | tr '\n' ' '))" >&2; exit 2; }
done
need=$(awk -v gs=" ${groups[*]} " '!/^#/ && NF >= 3 && index(gs, " " $1 " ") { print $3 }' "$table" | sort -u)
missing=()
for p in $need; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}"
SUDO=
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then SUDO=sudo; else
        echo "install-deps: missing packages ${missing[*]} and not root (no sudo): install them with apt-get" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}"; then
    $SUDO apt-get update || true
    $SUDO apt-get install -y --no-install-recommends "${missing[@]}" || {
        echo "install-deps: cannot install ${missing[*]}: is a Debian 12 (bookworm) apt source reachable?" >&2
        exit 1
    }
fi
