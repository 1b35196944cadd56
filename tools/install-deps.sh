#!/usr/bin/env bash
# Install the Debian 12 packages virtio-grant needs to build and test, when
# they are missing.  Needs root (or sudo) only if something is missing.
set -euo pipefail
# build and unit tests
# clang + libclang-rt-14-dev: the libFuzzer harnesses (make fuzz, and their
# seed-corpus replay in make test); libFuzzer ships in libclang-rt-14-dev,
# which clang only recommends.
need=(build-essential pkg-config libxen-dev libcmocka-dev clang libclang-rt-14-dev)
# e2e on real Xen under QEMU (tests/e2e): the emulator; apt-get/dpkg-deb to
# fetch and unpack Debian packages; cpio, gzip, ldd/ldconfig, readelf/nm
# (binutils) and gcc to build the images; timeout and flock around QEMU.
# The guest kernel module (virtio_grant.ko) is built against the unpacked
# linux-headers/linux-kbuild packages: their prebuilt kbuild programs need
# libelf1 and libssl3 and the headers name gcc-12.
need+=(qemu-system-x86 cpio gzip binutils gcc-12 make libc-bin coreutils
       util-linux dpkg apt libelf1 libssl3)
missing=()
for p in "${need[@]}"; do
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
