# TCP transfers with checksums (kernel-net), sourced by guest/net-tool.sh
# in the guests and by scenarios/kernel-net.sh in dom0 (whose image has
# /e2e/guest/ too).  busybox only (nc, sha256sum, mkfifo).  DIR is a tmpfs
# directory for the data block, FIFOs and results.
#
#   net_send HOST PORT MIB DIR   send MIB MiB (a multiple of 4) to
#                                HOST:PORT, where a listener must be;
#                                print NET-SENT bytes=<n> sha256=<hex>
#                                secs=<s> sum_secs=<s>; non-zero if nc
#                                failed
#   net_recv PORT DIR            listen on PORT in the background (returns
#                                once the socket listens, 30 s at most);
#                                the stream's sha256 goes to
#                                DIR/net-recv-PORT.sum when it ends; print
#                                NET-LISTENING port=<PORT>
#   net_sum PORT SECONDS DIR     wait for it; print NET-RECV port=<PORT>
#                                sha256=<hex> secs=<s since net_recv>
#   net_stop PORT DIR            kill that listener (a connection that
#                                will never end: detach, destroy)
#   net_flood HOST PORT DIR      send zeros to HOST:PORT in the background
#                                until the connection or the guest dies
#   net_ping COUNT INTERVAL HOST ping -q, and NET-ICMP in_echo_reps=<n>:
#                                the replies the kernel received
#
# The data is a 4 MiB block of /dev/urandom repeated (one cat of MIB/4
# copies): 256 MiB of fresh randomness would cost more than the transfer
# under TCG, and TCP never reorders whole 4 MiB blocks.  The sender
# checksums the stream before it sends it (the same cat of the same
# files into sha256sum: sum_secs), the receiver what it receives.  Nothing
# but nc touches the bytes on the way: a tee and a second reader of every
# byte in the sender made it, not the network, the limit (kernel-net,
# 2026-12-02: ~150 KB/s guest -> dom0), and a tee keeping the first block
# in dom0's receiver held guest -> dom0 at ~0.35 MB/s where guest ->
# guest, received without one, moved 0.8 MB/s.  A listener's stdin is a
# FIFO opened read-write: busybox nc quits at EOF on its stdin, and that
# FIFO never has one.

net_now() { cut -d' ' -f1 /proc/uptime; }

# the kernel's count of ICMP echo replies received (/proc/net/snmp)
net_echo_reps() {
    awk '/^Icmp:/ { if (!c) { for (i = 1; i <= NF; i++) if ($i == "InEchoReps") c = i } else print $c }' /proc/net/snmp
}

# net_ping COUNT INTERVAL HOST: busybox ping -q, then how many echo
# replies the kernel took in meanwhile: NET-ICMP in_echo_reps=<n>.  When
# ping counts fewer than the kernel, the replies were lost between the
# kernel and ping (busybox sets its raw socket's SO_RCVBUF to 7 KiB plus
# twice the payload: a few replies queue there while ping does not run)
net_ping() {
    _ne0=$(net_echo_reps)
    ping -c "$1" -i "$2" -W 10 -q "$3"
    _nrc=$?
    echo "NET-ICMP in_echo_reps=$(($(net_echo_reps) - _ne0))"
    return "$_nrc"
}

net_send() {
    _nh=$1 _np=$2 _nm=$3 _nd=$4
    case $_nm in ''|*[!0-9]*) echo "net_send: '$_nm' MiB is not a number"; return 2 ;; esac
    if [ "$_nm" = 0 ] || [ $((_nm % 4)) != 0 ]; then
        echo "net_send: $_nm MiB is not a positive multiple of 4"
        return 2
    fi
    if [ ! -s "$_nd/net-block" ]; then
        head -c 4194304 /dev/urandom >"$_nd/net-block.tmp" && mv "$_nd/net-block.tmp" "$_nd/net-block" ||
            { echo "net_send: cannot make the 4 MiB block $_nd/net-block"; return 1; }
    fi
    rm -f "$_nd/net-send-$_np.rc"
    set --
    _ni=0
    while [ "$_ni" -lt $((_nm / 4)) ]; do
        set -- "$@" "$_nd/net-block"
        _ni=$((_ni + 1))
    done
    _nt0=$(net_now)
    _nsum=$(cat "$@" | sha256sum | cut -d' ' -f1)
    _nt1=$(net_now)
    (cat "$@" | nc "$_nh" "$_np"; echo "$?" >"$_nd/net-send-$_np.rc") &
    wait "$!"
    _nt2=$(net_now)
    echo "NET-SENT bytes=$((_nm * 1048576)) sha256=$_nsum secs=$(awk -v a="$_nt1" -v b="$_nt2" 'BEGIN { printf "%.1f", b - a }') sum_secs=$(awk -v a="$_nt0" -v b="$_nt1" 'BEGIN { printf "%.1f", b - a }')"
    _nrc=$(cat "$_nd/net-send-$_np.rc" 2>/dev/null)
    if [ "$_nrc" != 0 ]; then
        echo "net_send: nc to $_nh:$_np failed (rc ${_nrc:-none})"
        return 1
    fi
}

net_recv() {
    _np=$1 _nd=$2
    _nb=$_nd/net-recv-$_np
    rm -f "$_nb.in" "$_nb.out" "$_nb.sum" "$_nb.tmp" "$_nb.pid"
    mkfifo "$_nb.in" "$_nb.out" || { echo "net_recv: mkfifo in $_nd failed"; return 1; }
    net_now >"$_nb.t0"
    (sha256sum <"$_nb.out" >"$_nb.tmp" && mv "$_nb.tmp" "$_nb.sum") >/dev/null 2>&1 &
    nc -l -p "$_np" <>"$_nb.in" >"$_nb.out" 2>"$_nb.err" &
    echo $! >"$_nb.pid"
    _nx=$(printf '%04X' "$_np")
    _ni=0
    # busybox nc listens on IPv6 (tcp6) when the kernel has it
    until cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | grep -q ":$_nx [0-9A-F]*:0000 0A "; do
        _ni=$((_ni + 1))
        if [ "$_ni" -gt 150 ]; then
            echo "net_recv: nc does not listen on port $_np after 30 s: $(cat "$_nb.err" 2>/dev/null)"
            return 1
        fi
        sleep 0.2
    done
    echo "NET-LISTENING port=$_np"
}

net_sum() {
    _np=$1 _nd=$3
    _nb=$_nd/net-recv-$_np
    _ni=0
    until [ -s "$_nb.sum" ]; do
        _ni=$((_ni + 1))
        if [ "$_ni" -gt $(($2 * 2)) ]; then
            echo "net_sum: no end of the stream on port $_np within $2 s"
            return 1
        fi
        sleep 0.5
    done
    rm -f "$_nb.pid"             # nc is gone: never kill a reused pid
    echo "NET-RECV port=$_np sha256=$(cut -d' ' -f1 "$_nb.sum") secs=$(awk -v a="$(cat "$_nb.t0")" -v b="$(net_now)" 'BEGIN { printf "%.1f", b - a }')"
}

net_stop() {
    _nb=$2/net-recv-$1
    [ -f "$_nb.pid" ] && kill "$(cat "$_nb.pid")" 2>/dev/null
    rm -f "$_nb.pid"
    return 0
}

net_flood() {
    (cat /dev/zero | nc "$1" "$2") >"$3/net-flood-$2.log" 2>&1 &
    echo "NET-FLOOD to $1:$2 started"
}
