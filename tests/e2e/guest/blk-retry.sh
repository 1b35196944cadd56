#!/bin/sh
# Guest job for the restart scenario: one vgrant-io session verifying round
# after round while dom0 restarts vgrantd under it.  The round in flight
# fails with a clear I/O error (the backend closed the device), vgrant-io
# reconnects through a fresh handshake and runs it again.  Ends with
# GUEST-CKSUM of the span so dom0 can compare with the backing file.
. /e2e/guest/wait-device.sh
rounds=${rounds:-40}
vgrant-io verify "$devid" --sizes 4K,64K,256K --count 8 --depth 8 --seed 1 \
    --span 8M --rounds "$rounds" --reconnect --timeout 30000 || exit 1
sum=$(vgrant-io cksum "$devid" --offset 0 --length 8M) || exit 1
echo "GUEST-CKSUM $sum"
