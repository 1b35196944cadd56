#!/bin/sh
# TCP transfers with checksums for the kernel-net scenario, in a guest: the
# commands dom0 hands to guest/kernel-net.sh.  The functions are in
# guest/net-lib.sh, which the kernel-net scenario sources in dom0 too (the
# dom0 image has /e2e/guest/ as well).  busybox only: nc, sha256sum.
#
#   net-tool.sh send HOST PORT MIB   send MIB MiB to HOST:PORT (a listener
#                                    must be there), print
#                                    NET-SENT bytes=<n> sha256=<hex> secs=<s>
#                                    sum_secs=<s> (net-lib.sh)
#   net-tool.sh recv PORT            listen on PORT in the background; the
#                                    received stream's sha256 and size go
#                                    to /tmp/net-recv-PORT.{sum,bytes};
#                                    print NET-LISTENING port=<PORT>
#   net-tool.sh sum PORT SECONDS     wait for that listener's result, print
#                                    NET-RECV bytes=<n> sha256=<hex>
#   net-tool.sh flood HOST PORT      send zeros to HOST:PORT in the
#                                    background until the connection or
#                                    the guest dies (detach/destroy tests)
#   net-tool.sh ping N SECS HOST     ping -c N -i SECS -q HOST, then
#                                    NET-ICMP in_echo_reps=<n>
#
. /e2e/guest/net-lib.sh
cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
    send) [ $# = 3 ] || { echo "usage: net-tool.sh send HOST PORT MIB" >&2; exit 2; }
          net_send "$1" "$2" "$3" /tmp ;;
    recv) [ $# = 1 ] || { echo "usage: net-tool.sh recv PORT" >&2; exit 2; }
          net_recv "$1" /tmp ;;
    sum)  [ $# = 2 ] || { echo "usage: net-tool.sh sum PORT SECONDS" >&2; exit 2; }
          net_sum "$1" "$2" /tmp ;;
    ping) [ $# = 3 ] || { echo "usage: net-tool.sh ping COUNT INTERVAL HOST" >&2; exit 2; }
          net_ping "$1" "$2" "$3" ;;
    flood) [ $# = 2 ] || { echo "usage: net-tool.sh flood HOST PORT" >&2; exit 2; }
          net_flood "$1" "$2" /tmp ;;
    *) echo "net-tool.sh: unknown command '$cmd' (send, recv, sum, flood, ping)" >&2; exit 2 ;;
esac
