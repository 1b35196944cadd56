#!/bin/sh
# Guest job of kernel-rng (and kernel-xl): the stock kernel's virtio_rng over
# virtio_grant.ko.  Waits until hw_random lists a virtio_rng device, makes
# it the current one, reads $bytes (default 64K) from /dev/hwrng twice:
# both reads must be full, not constant, and differ.  Prints
#   GUEST-RNG available=<...> current=<...>
#   GUEST-RNG-OK bytes=<n> first=<sha256 prefix> second=<sha256 prefix>
. /e2e/guest/kernel-lib.sh
bytes=${bytes:-65536}
[ "${kmod_loaded:-0}" = 1 ] || kernel_setup
hw=/sys/class/misc/hw_random
i=0
until grep -q virtio_rng "$hw/rng_available" 2>/dev/null; do
    i=$((i + 1))
    [ "$i" -gt 240 ] && gerr "no virtio_rng in $hw/rng_available within 120 s ('$(cat "$hw/rng_available" 2>/dev/null)')"
    sleep 0.5
done
dev=$(tr ' ' '\n' <"$hw/rng_available" | grep virtio_rng | head -n 1)
[ "$(cat "$hw/rng_current")" = "$dev" ] || echo "$dev" >"$hw/rng_current" || gerr "cannot select $dev"
echo "GUEST-RNG available=$(cat "$hw/rng_available" | tr ' ' ',') current=$(cat "$hw/rng_current")"
[ -c /dev/hwrng ] || gerr "no /dev/hwrng"
for n in 1 2; do
    dd if=/dev/hwrng of=/tmp/rng$n bs=4096 count=$((bytes / 4096)) iflag=fullblock 2>/dev/null ||
        head -c "$bytes" /dev/hwrng >/tmp/rng$n || gerr "reading /dev/hwrng failed"
    got=$(wc -c </tmp/rng$n)
    [ "$got" = "$bytes" ] || gerr "read $got bytes of $bytes from /dev/hwrng"
    # not constant: more than 200 distinct byte values in 64 KiB
    distinct=$(od -An -v -tu1 /tmp/rng$n | tr -s ' ' '\n' | sort -u | wc -l)
    [ "$distinct" -gt 200 ] || gerr "read $n from /dev/hwrng has only $distinct distinct byte values"
done
s1=$(sha256sum </tmp/rng1 | cut -c1-16)
s2=$(sha256sum </tmp/rng2 | cut -c1-16)
[ "$s1" != "$s2" ] || gerr "two reads of /dev/hwrng returned the same bytes"
echo "GUEST-RNG-OK bytes=$bytes first=$s1 second=$s2"
[ "${kmod_loaded:-0}" = 1 ] || kernel_done
exit 0
