#!/bin/sh
# Guest job: read from virtio-grant rng devices with vgrant-io rng.
#   devid (default 0)   a device without a rate limit: reads $length
#                       (default 256K) in 4 KiB requests, 4 in flight, then
#                       4 KiB in 64-byte requests one at a time (what
#                       Linux's virtio_rng asks for)
#   slow_devid          optional: a device attached with rate=$slow_rate
#                       (bytes/s); reads $slow_length in 4 KiB requests, 4
#                       in flight, and checks that it took at least as long
#                       as the rate allows beyond the one second of burst
#                       the device starts with (the emulated guest reads an
#                       unlimited device at some 50 KB/s in 4 KiB requests,
#                       so a limit of a few KiB/s is what holds it back)
# Each read prints "RNG-OK bytes=N requests=R short=S ms=T" (vgrant-io).
devid=${devid:-0}
length=${length:-256K}

. /e2e/guest/wait-device.sh
vgrant-io rng "$devid" --length "$length" --sizes 4K --depth 4 || exit 1
vgrant-io rng "$devid" --length 4K --sizes 64 --depth 1 || exit 1

if [ -n "${slow_devid:-}" ]; then
    devid=$slow_devid
    . /e2e/guest/wait-device.sh
    out=$(vgrant-io rng "$devid" --length "$slow_length" --sizes 4K --depth 4) ||
        { echo "$out"; exit 1; }
    echo "$out"
    ms=$(echo "$out" | sed -n 's/^RNG-OK .* ms=\([0-9]*\).*/\1/p')
    short=$(echo "$out" | sed -n 's/^RNG-OK .* short=\([0-9]*\).*/\1/p')
    # beyond the first second's bucket the device may deliver slow_rate/s
    min_ms=$(( (slow_length - slow_rate) * 1000 / slow_rate * 9 / 10 ))
    echo "RNG-RATE ms=$ms min_ms=$min_ms short=$short"
    [ -n "$ms" ] && [ "$ms" -ge "$min_ms" ] ||
        { echo "rate limit not held: $ms ms < $min_ms ms"; exit 1; }
    [ -n "$short" ] && [ "$short" -gt 0 ] ||
        { echo "no request completed short under the rate limit"; exit 1; }
fi
exit 0
