#!/bin/sh
# bench: the benchmark matrix (request sizes x depths 1,16 x read,write) on
# one guest disk per transport mode -- virtio-grant in modes grant,
# persistent, copy, auto and static, and Xen's own PV block driver
# (blkback/blkfront) -- one guest at a time.  Not a test: it passes when
# it ran; a mode that does not connect is reported as skipped
# (BENCH-SKIP) and the others still run.  Output on dom0's console, for
# tools/bench/bench.sh to collect:
#   BENCH-PROGRESS <mode> <op> <size> qd<depth> <i>/<n>
#   BENCH-ROW <mode,op,size,depth,mbps,iops,p50_us,p99_us>
#   BENCH-MEMCPY <MB/s>
#   BENCH-SKIP <mode>: <reason>
#   BENCH-MODE <mode> done in <s>s, <n> rows
# Environment: BENCH_MODES (default "grant persistent copy auto static
# pvblock"), BENCH_IOS (I/Os per point, default 128), BENCH_MAXBYTES
# (bytes per point, default 8M), BENCH_SIZES, BENCH_DEPTHS.
. "$(dirname "$0")/lib.sh"
need_bin vgrantd vgrant xl losetup
need_guest_bin vgrant-io

modes=${BENCH_MODES:-grant persistent copy auto static pvblock}
ios=${BENCH_IOS:-128}
maxbytes=${BENCH_MAXBYTES:-8M}
sizes=${BENCH_SIZES:-512,4K,16K,64K,256K,1M}
depths=${BENCH_DEPTHS:-1,16}
per_mode_timeout=${BENCH_MODE_TIMEOUT:-300}

# Print the guest's new benchmark lines as they arrive, until GUEST-DONE;
# returns the job's exit status (124 timeout, 125 guest gone).
follow_guest() {
    _name=$1 _tmo=$2 _seen=0
    _log=$(guest_log_path "$_name")
    _end=$(($(_now) + _tmo))
    while :; do
        if [ -f "$_log" ]; then
            tr -d '\r' <"$_log" >"$E2E_WORK/follow.txt"
            _n=$(wc -l <"$E2E_WORK/follow.txt")
            if [ "$_n" -gt "$_seen" ]; then
                sed -n "$((_seen + 1)),${_n}p" "$E2E_WORK/follow.txt" >"$E2E_WORK/follow.new"
                _seen=$_n
                sed -n 's/^progress /BENCH-PROGRESS /p; s/^memcpy_mbps /BENCH-MEMCPY /p' "$E2E_WORK/follow.new"
                grep -E '^[a-z]+,(read|write),[0-9]+,[0-9]+,' "$E2E_WORK/follow.new" | sed 's/^/BENCH-ROW /'
                grep -E '^vgrant-io: ' "$E2E_WORK/follow.new" | sed 's/^/    guest| /'
                _rc=$(sed -n 's/.*GUEST-DONE rc=\([0-9]*\).*/\1/p' "$E2E_WORK/follow.new" | tail -n1)
                [ -n "$_rc" ] && return "$_rc"
            fi
        fi
        if ! xl domid "$_name" >/dev/null 2>&1; then
            log "guest $_name is gone without GUEST-DONE"
            return 125
        fi
        [ "$(_now)" -ge "$_end" ] && { log "guest $_name: no GUEST-DONE within ${_tmo}s"; return 124; }
        sleep 1
    done
}

start_bg vgrantd vgrantd --foreground --log-level warn
first=1
for m in $modes; do
    t0=$(_now)
    name=bench-$m
    margs="-a label=$m -a sizes=$sizes -a depths=$depths -a ios=$ios -a maxbytes=$maxbytes"
    [ "$first" = 1 ] && margs="$margs -a memcpy=1"
    log "mode $m: starting"
    if [ "$m" = pvblock ]; then
        dev=$(make_disk bench 64) || fail "cannot create the pvblock disk"
        # shellcheck disable=SC2086
        if ! start_guest -k -m 256 $margs -a kind=file "$name" bench "disk = [ \"phy:$dev,xvda,w\" ]"; then
            echo "BENCH-SKIP $m: xl create failed"
            drop_disk bench
            continue
        fi
    else
        img=$E2E_WORK/bench-$m.img
        dd if=/dev/zero of="$img" bs=1M count=0 seek=64 2>/dev/null || fail "cannot create $img"
        # shellcheck disable=SC2086
        if ! start_guest -k -m 256 $margs -a kind=vg -a devid=0 "$name" bench; then
            echo "BENCH-SKIP $m: xl create failed"
            rm -f "$img"
            continue
        fi
        dom=$(guest_domid "$name")
        if ! vgrant attach "$dom" "type=blk,target=$img,mode=$m" >/dev/null; then
            echo "BENCH-SKIP $m: vgrant attach refused mode=$m"
            stop_guest "$name"
            rm -f "$img"
            continue
        fi
    fi
    first=0
    follow_guest "$name" "$per_mode_timeout"
    rc=$?
    rows=$(tr -d '\r' <"$(guest_log_path "$name")" | grep -cE "^$m,(read|write),")
    if [ "$rc" != 0 ] || [ "$rows" = 0 ]; then
        why=$(tr -d '\r' <"$(guest_log_path "$name")" | grep -E '^vgrant-io: ' | tail -n1)
        echo "BENCH-SKIP $m: guest job rc=$rc after $rows rows${why:+ ($why)}"
        [ "$m" = pvblock ] || bg_log vgrantd | grep "dom $dom " | tail -n 3 | sed 's/^/    vgrantd| /'
    fi
    if [ "$m" != pvblock ]; then
        vgrant stats "$dom" 0 2>&1 | sed 's/^/    stats| /'
        # hypervisor operations of the whole matrix of this mode, from
        # vgrantd's counters: the figure that carries over to hardware
        js=$(vgrant stats "$dom" 0 --json 2>/dev/null)
        ops=$m
        for k in requests map_batches maps unmap_batches unmaps copy_batches \
                 grant_copies notifies_sent kicks_received; do
            v=$(echo "$js" | sed -n "s/.*\"$k\":\([0-9]*\).*/\1/p")
            ops="$ops,${v:-0}"
        done
        echo "BENCH-OPS $ops"
        vgrant detach "$dom" 0 >/dev/null 2>&1
    fi
    stop_guest "$name"
    if [ "$m" = pvblock ]; then
        sleep 1
        drop_disk bench
    else
        rm -f "$img"
    fi
    echo "BENCH-MODE $m done in $(($(_now) - t0))s, $rows rows"
    eval "rows_$m=$rows"
done

for m in grant pvblock; do
    case " $modes " in *" $m "*) ;; *) continue ;; esac
    eval "n=\${rows_$m:-0}"
    [ "$n" -gt 0 ] || fail "mode $m produced no benchmark rows"
done
log "benchmark finished"
