#!/bin/sh
# Guest job of the pvblock scenario: write a pattern to /dev/xvda through
# blkfront with O_DIRECT, read it back, publish the checksum.
i=0
while [ ! -b /dev/xvda ]; do
    i=$((i + 1))
    [ "$i" -gt 100 ] && { echo "GUEST-CHECK FAIL /dev/xvda did not appear"; exit 1; }
    sleep 0.1
done
echo "GUEST-CHECK ok   /dev/xvda ($(cat /sys/block/xvda/size) sectors)"

# 8 MiB of non-trivial data: a repeated counter text
seq 1 2000000 | head -c 8388608 >/tmp/pattern
[ "$(wc -c </tmp/pattern)" = 8388608 ] || { echo "GUEST-CHECK FAIL cannot build the pattern"; exit 1; }
want=$(md5sum </tmp/pattern | cut -d' ' -f1)
dd if=/tmp/pattern of=/dev/xvda bs=64k oflag=direct 2>/dev/null || { echo "GUEST-CHECK FAIL write to /dev/xvda"; exit 1; }
got=$(dd if=/dev/xvda bs=64k count=128 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)
[ "$got" = "$want" ] || { echo "GUEST-CHECK FAIL read back $got, wrote $want"; exit 1; }
echo "GUEST-CHECK ok   8 MiB written and read back with O_DIRECT (md5 $got)"
xenstore-write data/e2e-md5 "$got" || { echo "GUEST-CHECK FAIL xenstore-write"; exit 1; }
exit 0
