#!/bin/sh
# bench: the benchmark matrix (request sizes x depths 1,16 x read,write) on
# one guest disk per transport mode, one guest at a time.  Two load
# generators, and a row's mode says which:
#   grant persistent copy auto static          libvgrant in the guest,
#       measured with vgrant-io bench (its asynchronous API)
#   kernel-grant kernel-persistent kernel-copy kernel-auto kernel-static
#       the guest kernel's virtio_blk over virtio_grant.ko, and
#   pvblock  Xen's own PV block driver (blkback/blkfront),
#       both measured with the same fio job per point (guest/bench-fio.sh:
#       libaio, direct, sequential, the same sizes, depths and I/O counts)
# Not a test: it passes when it ran; a mode that does not connect is
# reported as skipped (BENCH-SKIP) and the others still run.  Output on
# dom0's console, for tools/bench/bench.sh to collect:
#   BENCH-PROGRESS <mode> <op> <size> qd<depth> <i>/<n>
#   BENCH-ROW <mode,op,size,depth,mbps,iops,p50_us,p99_us>
#   BENCH-MEMCPY <MB/s>
#   BENCH-PHASE <mode> <phase>
#   BENCH-OPS <mode,phase,requests,...,max_round,max_in_flight>  vgrantd's
#       counters over one phase (columns: OPS_DELTA then OPS_HIGH below)
#   BENCH-GUESTOPS <mode,requests,completed,grants,...>   virtio_grant.ko's
#   BENCH-SKIP <mode>: <reason>
#   BENCH-MODE <mode> done in <s>s, <n> rows
# Phases: the guest runs the matrix one depth at a time, in the order of
# BENCH_DEPTHS: warm<D> (every op and size at depth D, D+1 I/Os a point,
# no rows), then d<D> (the measured points).  At the end of each it prints
# "phase <mode> <name> done" and waits; follow_guest reads vgrantd's
# counters of the mode's device (pvblock has none), prints the BENCH-OPS
# line of the phase and acks by writing <name> into the guest's xenstore
# key data/bench-ack (guest/bench-phase.sh).
# Then the network rows (scenarios/bench-net.lib, which says what they
# measure and prints): BENCH_NET_MODES (default net-grant net-persistent
# net-copy net-auto net-static netfront; "none": no network rows), with
# BENCH_NET_SECONDS, BENCH_NET_UDP_RATE, BENCH_NET_PINGS, BENCH_NET_REGION,
# BENCH_NET_MODE_TIMEOUT.  BENCH_MODES=none runs the network rows only.
# Environment: BENCH_MODES (default: all of the above), BENCH_IOS (I/Os per
# point, default 128), BENCH_MAXBYTES (bytes per point, default 8M),
# BENCH_SIZES, BENCH_DEPTHS, BENCH_MODE_TIMEOUT (s per mode, default 600),
# BENCH_COALESCE_MS (vgrantd --coalesce-ms; default: vgrantd's own).
# Lists are separated by ',' or '+' (the dom0 command line takes no ',').
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/net.lib"
. "$(dirname "$0")/bench-net.lib"
need_bin vgrantd vgrant xl losetup
need_guest_bin vgrant-io

modes=$(echo "${BENCH_MODES:-grant persistent copy auto static kernel-grant kernel-persistent kernel-copy kernel-auto kernel-static pvblock}" | tr ',+' '  ')
[ "$modes" = none ] && modes=""
net_modes=$(echo "${BENCH_NET_MODES:-net-grant net-persistent net-copy net-auto net-static netfront}" | tr ',+' '  ')
[ "$net_modes" = none ] && net_modes=""
if [ -n "$net_modes" ]; then
    # shellcheck disable=SC2086
    net_check_modes $net_modes
    net_knobs
    need_bin iperf3 ip
fi
ios=${BENCH_IOS:-128}
maxbytes=${BENCH_MAXBYTES:-8M}
sizes=$(echo "${BENCH_SIZES:-512,4K,16K,64K,256K,1M}" | tr '+' ',')
depths=$(echo "${BENCH_DEPTHS:-1,16}" | tr '+' ',')
per_mode_timeout=${BENCH_MODE_TIMEOUT:-600}
coalesce=${BENCH_COALESCE_MS:-}
case $coalesce in
    *[!0-9]*) fail "BENCH_COALESCE_MS: '$coalesce' is not a number of milliseconds" ;;
esac
for m in $modes; do
    case $m in
        grant|persistent|copy|auto|static|pvblock) ;;
        kernel-grant|kernel-persistent|kernel-copy|kernel-auto|kernel-static) ;;
        *) fail "BENCH_MODES: unknown mode '$m'" ;;
    esac
done
# kernel grant mode at depth 16 x 1 MiB maps thousands of pages at once
limit=/sys/module/xen_gntdev/parameters/limit
if [ -w "$limit" ]; then echo 1048576 >"$limit"; fi

# BENCH-OPS columns after mode,phase: counters summed over the phase (the
# difference of vgrantd's cumulative counters since the previous phase),
# then high-water marks since the device was attached, read at phase end.
# Keep in step with tools/bench/bench.sh (ops.csv header) and report.sh.
OPS_DELTA="requests map_batches maps unmap_batches unmaps copy_batches grant_copies notifies_sent kicks_received rounds cache_hits cache_misses"
OPS_HIGH="max_round max_in_flight"
# BENCH-ROUNDS columns after mode,phase: how the phase's rounds were made
# (sizes, and the idle queue's waits), summed over the phase.  Keep in
# step with tools/bench/bench.sh (rounds.csv header).
ROUNDS_DELTA="rounds rounds_1 rounds_2_3 rounds_4_7 rounds_8_15 rounds_16_up gathers gathers_short"

# ops_reset: the counters of a device just attached (all 0)
ops_reset() {
    for _k in $OPS_DELTA $ROUNDS_DELTA; do eval "prev_$_k=0"; done
    ops_lines=0
}

# phase_counters MODE PHASE JSON KEYS...: "MODE,PHASE,v1,..." into _ops:
# for each key its value in JSON minus the one at the previous phase (the
# high-water marks of OPS_HIGH as they are); the keys JSON lacks in _miss.
phase_counters() {
    _ops="$1,$2" _miss=""
    _ph=$2 _md=$1 _js=$3
    shift 3
    for _k in "$@"; do
        _v=$(echo "$_js" | sed -n "s/.*\"$_k\":\([0-9]*\).*/\1/p")
        [ -n "$_v" ] || { _miss="$_miss $_k"; continue; }
        case " $OPS_HIGH " in
            *" $_k "*) _ops="$_ops,$_v" ;;
            *)
                eval "_p=\$prev_$_k"
                if [ "$_v" -lt "$_p" ]; then
                    log "mode $_md phase $_ph: vgrantd's $_k went back from $_p to $_v (device reset?): counting from 0"
                    _p=0
                fi
                _ops="$_ops,$((_v - _p))"
                ;;
        esac
    done
}

# phase_commit KEYS...: the values just read become the previous phase's
phase_commit() {
    for _k in "$@"; do
        _v=$(echo "$_js" | sed -n "s/.*\"$_k\":\([0-9]*\).*/\1/p")
        [ -n "$_v" ] && eval "prev_$_k=$_v"
    done
}

# bench_phase MODE PHASE ACKDOM DEVDOM: the phase's BENCH-OPS and
# BENCH-ROUNDS lines (DEVDOM empty: no vgrantd device, pvblock), then the
# ack the guest waits for
bench_phase() {
    echo "BENCH-PHASE $1 $2"
    if [ -n "$4" ]; then
        _json=$(vgrant stats "$4" 0 --json 2>&1)
        phase_counters "$1" "$2" "$_json" $OPS_DELTA $OPS_HIGH
        if [ -n "$_miss" ]; then
            log "mode $1 phase $2: vgrant stats $4 0 --json lacks$_miss: no BENCH-OPS line (it said: $(echo "$_json" | head -c 200))"
        else
            echo "BENCH-OPS $_ops"
            ops_lines=$((ops_lines + 1))
        fi
        phase_counters "$1" "$2" "$_json" $ROUNDS_DELTA
        if [ -n "$_miss" ]; then
            log "mode $1 phase $2: vgrant stats $4 0 --json lacks$_miss: no BENCH-ROUNDS line"
        else
            echo "BENCH-ROUNDS $_ops"
        fi
        phase_commit $OPS_DELTA $ROUNDS_DELTA
    fi
    xenstore-write "/local/domain/$3/data/bench-ack" "$2" ||
        log "mode $1 phase $2: cannot write /local/domain/$3/data/bench-ack: the guest will time out"
}

# Print the guest's new benchmark lines as they arrive, until GUEST-DONE;
# answer its phase lines (bench_phase); returns the job's exit status (124
# timeout, 125 guest gone).  follow_guest NAME TIMEOUT MODE [DEVDOM]
follow_guest() {
    _name=$1 _tmo=$2 _mode=$3 _devdom=${4:-} _seen=0
    _log=$(guest_log_path "$_name")
    _end=$(($(_now) + _tmo))
    _gdom=$(guest_domid "$_name")
    while :; do
        if [ -f "$_log" ]; then
            tr -d '\r' <"$_log" >"$E2E_WORK/follow.txt"
            _n=$(wc -l <"$E2E_WORK/follow.txt")
            if [ "$_n" -gt "$_seen" ]; then
                sed -n "$((_seen + 1)),${_n}p" "$E2E_WORK/follow.txt" >"$E2E_WORK/follow.new"
                _seen=$_n
                sed -n 's/^progress /BENCH-PROGRESS /p; s/^memcpy_mbps /BENCH-MEMCPY /p; s/^guestops /BENCH-GUESTOPS /p' "$E2E_WORK/follow.new"
                grep -E '^[a-z-]+,(read|write),[0-9]+,[0-9]+,' "$E2E_WORK/follow.new" | sed 's/^/BENCH-ROW /'
                grep -E '^(vgrant-io|bench-fio|bench|GUEST-ERROR)[: ]' "$E2E_WORK/follow.new" | sed 's/^/    guest| /'
                for _ph in $(sed -nE "s/^phase $_mode ((warm|d)[0-9]+) done\$/\1/p" "$E2E_WORK/follow.new"); do
                    bench_phase "$_mode" "$_ph" "$_gdom" "$_devdom"
                done
                _rc=$(sed -n 's/.*GUEST-DONE rc=\([0-9]*\).*/\1/p' "$E2E_WORK/follow.new" | tail -n1)
                [ -n "$_rc" ] && return "$_rc"
            fi
        fi
        if ! xl domid "$_name" >/dev/null 2>&1; then
            log "guest $_name is gone without GUEST-DONE"
            return 125
        fi
        [ "$(_now)" -ge "$_end" ] && { log "guest $_name: no GUEST-DONE within ${_tmo}s"; return 124; }
        sleep 0.5
    done
}

start_vgrantd vgrantd --log-level warn ${coalesce:+--coalesce-ms $coalesce}
first=1
for m in $modes; do
    t0=$(_now)
    name=bench-$m
    margs="-a label=$m -a sizes=$sizes -a depths=$depths -a ios=$ios -a maxbytes=$maxbytes"
    [ "$first" = 1 ] && margs="$margs -a memcpy=1"
    log "mode $m: starting"
    dom=""
    case $m in
        pvblock)
            dev=$(make_disk bench 64) || fail "cannot create the pvblock disk"
            # shellcheck disable=SC2086
            if ! start_guest -k -m 256 $margs -a kind=file -a mib=64 "$name" bench "disk = [ \"phy:$dev,xvda,w\" ]"; then
                echo "BENCH-SKIP $m: xl create failed"
                drop_disk bench
                continue
            fi
            ;;
        *)
            # kernel-<mode>: the same vgrantd mode, the guest kernel's
            # virtio_blk over virtio_grant.ko instead of libvgrant
            vmode=${m#kernel-} kind=vg
            [ "$vmode" != "$m" ] && kind=kernel
            img=$E2E_WORK/bench-$m.img
            dd if=/dev/zero of="$img" bs=1M count=0 seek=64 2>/dev/null || fail "cannot create $img"
            # shellcheck disable=SC2086
            if ! start_guest -k -m 256 $margs -a kind=$kind -a devid=0 -a mib=64 "$name" bench; then
                echo "BENCH-SKIP $m: xl create failed"
                rm -f "$img"
                continue
            fi
            dom=$(guest_domid "$name")
            if ! vgrant attach "$dom" "type=blk,target=$img,mode=$vmode" >/dev/null; then
                echo "BENCH-SKIP $m: vgrant attach refused mode=$vmode"
                stop_guest "$name"
                rm -f "$img"
                continue
            fi
            ;;
    esac
    first=0
    ops_reset
    follow_guest "$name" "$per_mode_timeout" "$m" "$dom"
    rc=$?
    rows=$(guest_log "$name" | grep -cE "^$m,(read|write),")
    if [ "$rc" != 0 ] || [ "$rows" = 0 ]; then
        why=$(guest_log "$name" | grep -E '^(vgrant-io|bench-fio|bench|GUEST-ERROR)[: ]' | tail -n1)
        echo "BENCH-SKIP $m: guest job rc=$rc after $rows rows${why:+ ($why)}"
        [ -n "$dom" ] && bg_log vgrantd | grep "dom $dom " | tail -n 3 | sed 's/^/    vgrantd| /'
    fi
    case $m in
        kernel-*|pvblock)
            # rows of a guest whose kernel complained are not to be trusted
            bad=$(guest_log "$name" | grep -E "$KERNEL_LINE_RE" | grep -E "$KERNEL_BAD_RE" | head -n 1 | sed 's/^GUEST-KMSG //' | cut -c1-120)
            [ -n "$bad" ] && echo "BENCH-SKIP $m: rows kept, but the guest kernel reported: $bad"
            ;;
    esac
    if [ -n "$dom" ]; then
        vgrant stats "$dom" 0 2>&1 | sed 's/^/    stats| /'
        # every depth has two phases, each one BENCH-OPS line
        want=$(($(echo "$depths" | tr ',' '\n' | grep -c .) * 2))
        [ "$rc" = 0 ] && [ "$ops_lines" != "$want" ] &&
            echo "BENCH-SKIP $m: rows kept, but vgrantd's counters were read for $ops_lines of $want phases"
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
    eval "rows_$(echo "$m" | tr '-' '_')=$rows"
done

if [ -n "$net_modes" ]; then
    # shellcheck disable=SC2086
    bench_net $net_modes
fi

for m in grant kernel-grant pvblock; do
    case " $modes " in *" $m "*) ;; *) continue ;; esac
    eval "n=\${rows_$(echo "$m" | tr '-' '_'):-0}"
    [ "$n" -gt 0 ] || fail "mode $m produced no benchmark rows"
done
log "benchmark finished"
