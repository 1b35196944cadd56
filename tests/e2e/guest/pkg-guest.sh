#!/bin/sh
# Guest job of the pkg scenario: the guest side runs the packaged files.
# Prints PKG-LIB (where the loader found libvgrant.so.0) and PKG-DKMS
# (the module DKMS would have installed) for dom0 to see; exits non-zero
# with a GUEST-ERROR line on the first mismatch.
# Arguments (environment): devid (default 0), span (bytes, default 8M).
devid=${devid:-0}
span=${span:-8M}
gerr() { echo "GUEST-ERROR $*"; exit 1; }

[ "${E2E_PACKAGED:-0}" = 1 ] || gerr "not an image built from the packages (no /etc/e2e/packages)"
(cd / && md5sum -c /var/lib/dpkg/info/virtio-grant-guest.md5sums) || gerr "files differ from the virtio-grant-guest package"
io=$(command -v vgrant-io)
[ "$io" = /usr/bin/vgrant-io ] || gerr "vgrant-io in PATH is '$io', not the packaged /usr/bin/vgrant-io"
lib=$(sed -n 's|^[0-9a-f]*  \(.*/libvgrant\.so\.[0-9]*\)$|/\1|p' /var/lib/dpkg/info/virtio-grant-guest.md5sums)
[ -n "$lib" ] || gerr "virtio-grant-guest's md5sums list no libvgrant.so.N"

# ldd's way: the loader lists what it resolves without running the program
res=$(LD_TRACE_LOADED_OBJECTS=1 "$io" 2>&1 | sed -n 's/^[[:space:]]*\(libvgrant\.so\.[0-9]*\) => \([^ ]*\) .*/\1 \2/p')
[ -n "$res" ] || gerr "the loader does not load libvgrant for $io: $(LD_TRACE_LOADED_OBJECTS=1 "$io" 2>&1 | tr '\n' ' ')"
resolved=$(readlink -f "${res#* }")
[ "$resolved" = "$(readlink -f "$lib")" ] || gerr "libvgrant resolves to ${res#* } ($resolved), not the packaged $lib"
echo "PKG-LIB $(echo "$res" | sed 's/ / => /') (packaged $lib)"

. /e2e/guest/wait-device.sh
# the real run: the loader's own record of the library it mapped
rm -f /tmp/ld.*
LD_DEBUG=files LD_DEBUG_OUTPUT=/tmp/ld "$io" verify "$devid" --sizes 512,4K,64K,1M --count 4 --depth 4 \
    --seed 5 --span "$span" || gerr "vgrant-io verify failed"
grep -h 'calling init: .*libvgrant\.so' /tmp/ld.* >/tmp/ld.init || gerr "vgrant-io verify ran without initialising libvgrant.so (LD_DEBUG=files)"
used=$(sed -n 's/.*calling init: \(.*libvgrant\.so\.[0-9]*\).*/\1/p' /tmp/ld.init | sed -n 1p)
[ "$(readlink -f "$used")" = "$(readlink -f "$lib")" ] || gerr "vgrant-io verify used $used, not the packaged $lib"
echo "PKG-RUN vgrant-io verify used $used"

# the module virtio-grant-dkms builds, where DKMS installs it
kv=$(uname -r)
line=$(grep '^updates/dkms/virtio_grant\.ko:' "/lib/modules/$kv/modules.dep") ||
    gerr "modules.dep has no updates/dkms/virtio_grant.ko (the DKMS build)"
[ -f "/lib/modules/$kv/updates/dkms/virtio_grant.ko" ] || gerr "/lib/modules/$kv/updates/dkms/virtio_grant.ko missing"
echo "PKG-DKMS $line"
exit 0
