#!/bin/sh
# bench-scale: how one vgrantd scales with the number of guests (issue 9
# item 4).  Per step of N guests (ascending), guests are booted up to N
# (1 vCPU, BENCH_SCALE_GUEST_MEM MiB each; earlier ones stay up) and wait;
# then, per mode (modes inside
# steps, so a run cut short still has every mode of its first steps), each of the
# first N guests gets two virtio-grant blk devices of that mode on one
# vgrantd, and every point (op x size, depth 16, random offsets) runs on
# all 2N devices at once: dom0 writes the point's command into every
# guest's data/scale-go-<n> in one loop, each guest (guest/bench-scale.sh,
# woken by a xenstore watch on its data/) starts one vgrant-io bench per
# device together.  The command carries a start time START, LEAD seconds
# ahead: every vgrant-io opens its device and does its warm-up I/Os,
# then sleeps until START (--start-at, CLOCK_REALTIME, which all guests
# take from Xen) before measuring, so the devices' measured windows
# coincide whatever the connect and warm-up times (the warm-up used to
# come after START: at 8 guests its 16 I/Os took 3-5 s on some devices); each reports its window (SCALE-WIN) and dom0
# how well they overlapped (SCALE-SYNC).
# Each device runs for BENCH_SCALE_SECONDS.  The devices are detached after
# their step, so vgrantd serves only the step's devices.
# Not a test: it passes when it ran.  Output on dom0's console, for
# tools/bench/bench-scale.sh to collect:
#   SCALE-ROW guests,devices,mode,op,size,depth,agg_mbps,min_dev_mbps,max_dev_mbps,vgrantd_cpu_s,vgrantd_rss_kib
#   SCALE-DEV guests,mode,op,size,guest,devid,mbps,iops,p50_us,p99_us,start_s,end_s
#     (start_s, end_s: the device's measured window, seconds after START)
#   SCALE-SYNC guests,mode,op,size,start_spread_s,overlap_pct
#     (latest minus earliest window start; the time every device was
#     measuring, in % of the mean window)
#   SCALE-SKIP <guests> <mode> <op> <size>: <reason>
#   SCALE-PROGRESS <mode> <guests> <op> <size> <i>/<n>
# vgrantd_cpu_s: utime+stime of vgrantd (/proc/<pid>/stat) from just before
# the go commands to the last guest's done: it includes the 2N device
# connects and disconnects of the point.  vgrantd_rss_kib: VmHWM over the
# same window (reset first through /proc/<pid>/clear_refs).
# Environment (lists separated by ',' or '+'): BENCH_SCALE_GUESTS
# (default 1,2,4,8), BENCH_SCALE_MODES (grant,persistent), BENCH_SCALE_SIZES
# (64K,4K), BENCH_SCALE_LARGE (0: off) and BENCH_SCALE_LARGE_SIZES (the
# first of BENCH_SCALE_SIZES): if set, a
# step of BENCH_SCALE_LARGE guests or more runs only the sizes of
# BENCH_SCALE_LARGE_SIZES (its points cost the most under TCG: 2N device
# connects each; docs/e2e.md, "How long make bench-scale takes"), BENCH_SCALE_OPS
# (read,write), BENCH_SCALE_DEPTH (16),
# BENCH_SCALE_SECONDS (3), BENCH_SCALE_SPAN (MiB per device, 8),
# BENCH_SCALE_GUEST_MEM (MiB, 128: the guest kernel panics unpacking its
# initramfs with 96), BENCH_SCALE_LEAD (s from the go keys to START; by
# default 3 + 2N for N guests, raised for the rest of the run whenever a
# device opened late (SCALE-LATE: its vgrant-io's lateness) to the late
# lead plus that lateness plus 2 s, so later points start together).
# A point whose guests are not all done within lead + 180 + 30N s of its
# go keys (one deadline for all its guests) fails the scenario (with the
# guests', xenstore's and vgrantd's state).
# After each step (and mode) `xl list` shows every domain's CPU time.
. "$(dirname "$0")/lib.sh"
need_bin vgrantd vgrant xl xenstore-write xenstore-read
need_guest_bin vgrant-io

steps=$(echo "${BENCH_SCALE_GUESTS:-1,2,4,8}" | tr ',+' '  ')
modes=$(echo "${BENCH_SCALE_MODES:-grant,persistent}" | tr ',+' '  ')
sizes=$(echo "${BENCH_SCALE_SIZES:-64K,4K}" | tr ',+' '  ')
large=${BENCH_SCALE_LARGE:-0}
large_sizes=$(echo "${BENCH_SCALE_LARGE_SIZES:-${sizes%% *}}" | tr ',+' '  ')
ops=$(echo "${BENCH_SCALE_OPS:-read,write}" | tr ',+' '  ')
depth=${BENCH_SCALE_DEPTH:-16}
seconds=${BENCH_SCALE_SECONDS:-3}
span_mib=${BENCH_SCALE_SPAN:-8}
gmem=${BENCH_SCALE_GUEST_MEM:-128}
lead=${BENCH_SCALE_LEAD:-}
maxg=0
for n in $steps; do
    case $n in ''|*[!0-9]*) fail "BENCH_SCALE_GUESTS: '$n' is not a number" ;; esac
    { [ "$n" -ge 1 ] && [ "$n" -le 16 ]; } || fail "BENCH_SCALE_GUESTS: $n is not in [1, 16]"
    # guests are booted step by step and stay up: ascending steps only
    [ "$n" -gt "$maxg" ] || fail "BENCH_SCALE_GUESTS: $n after $maxg: steps must be ascending (e.g. 1,2,4)"
    maxg=$n
done
for m in $modes; do
    case $m in grant|persistent|copy|auto) ;; *) fail "BENCH_SCALE_MODES: unknown or unsupported mode '$m'" ;; esac
done
for o in $ops; do
    case $o in read|write) ;; *) fail "BENCH_SCALE_OPS: '$o' is not read or write" ;; esac
done
for v in "$depth" "$span_mib" "$gmem" "${lead:-0}" "$large"; do
    case $v in ''|*[!0-9]*) fail "BENCH_SCALE_DEPTH/SPAN/GUEST_MEM/LEAD/LARGE: '$v' is not a number" ;; esac
done
case $seconds in ''|*[!0-9.]*) fail "BENCH_SCALE_SECONDS: '$seconds' is not a number" ;; esac
# sizes in bytes for the CSV (vgrant-io prints bytes too)
bytes() {
    case $1 in
        *K) echo $((${1%K} * 1024)) ;;
        *M) echo $((${1%M} * 1048576)) ;;
        *[!0-9]*|'') fail "BENCH_SCALE_SIZES: '$1' is not a size (e.g. 4K, 64K)" ;;
        *) echo "$1" ;;
    esac
}
for s in $sizes $large_sizes; do bytes "$s" >/dev/null; done
# sizes_for N: the sizes a step of N guests runs
sizes_for() {
    if [ "$large" -gt 0 ] && [ "$1" -ge "$large" ]; then echo "$large_sizes"; else echo "$sizes"; fi
}

tck=$(getconf CLK_TCK 2>/dev/null || echo 100)
log "steps: $steps guests; modes: $modes; sizes: $sizes$([ "$large" -gt 0 ] && echo " (from $large guests: $large_sizes)"); ops: $ops; depth $depth; ${seconds}s per point; span ${span_mib} MiB; guests of $gmem MiB; start ${lead:-3 + 2N} s after the go keys; CLK_TCK $tck"
log "dom0 memory: $(awk '/^MemTotal|^MemAvailable/ { printf "%s %d MiB  ", $1, $2 / 1024 }' /proc/meminfo); Xen free: $(xl info 2>/dev/null | awk '/^free_memory/ { print $3 }') MiB"

# every guest's memory at once, with 64 MiB to spare for Xen's own use
free=$(xl info 2>/dev/null | awk '/^free_memory/ { print $3 }')
[ -n "$free" ] && [ "$free" -lt $((maxg * gmem + 64)) ] &&
    fail "Xen has $free MiB free, $maxg guests of $gmem MiB need $((maxg * gmem + 64)) (VGRANT_E2E_MEM, BENCH_SCALE_GUEST_MEM)"
start_bg vgrantd vgrantd --foreground --log-level warn
vpid=$(cat "$E2E_WORK/vgrantd.pid")
sleep 0.5
[ "$(cat "/proc/$vpid/comm" 2>/dev/null)" = vgrantd ] || fail "pid $vpid from start_bg is not vgrantd ($(cat "/proc/$vpid/comm" 2>/dev/null))"
# upto N: 1 2 ... N, one a line
upto() {
    _u=1
    while [ "$_u" -le "$1" ]; do echo "$_u"; _u=$((_u + 1)); done
}
# wait_xs_set PATH TIMEOUT: until PATH exists (0) or time out (1)
wait_xs_set() {
    _end=$(($(_now) + $2))
    until xenstore-read "$1" >/dev/null 2>&1; do
        [ "$(_now)" -ge "$_end" ] && return 1
        sleep 0.5
    done
    return 0
}
# point_diag G DOM: what a point that did not finish left behind: the
# guest's console, its data/ and device keys, the backend's side, vgrantd
point_diag() {
    guest_log "scale$1" | tail -n 20 | sed "s/^/    scale$1| /"
    xenstore-ls -f "/local/domain/$2/data" 2>&1 | sed "s/^/    xs-data| /"
    xenstore-ls -f "/local/domain/$2/device/virtio-grant" 2>&1 | sed "s/^/    xs-front| /"
    xenstore-ls -f "/local/domain/0/backend/virtio-grant/$2" 2>&1 | sed "s/^/    xs-back| /"
    vgrant list 2>&1 | sed 's/^/    list| /'
    bg_log vgrantd | tail -n 30 | sed 's/^/    vgrantd| /'
    top -b -n 1 2>/dev/null | head -n 15 | sed 's/^/    top| /'
    xl list 2>&1 | sed 's/^/    xl| /'
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$vpid/stat"; }
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$vpid/status"; }

for g in $(upto "$maxg"); do
    for d in 0 1; do
        img=$E2E_WORK/scale-$g-$d.img
        dd if=/dev/zero of="$img" bs=1M count=0 seek="$span_mib" 2>/dev/null || fail "cannot create $img"
        scratch "$img"
    done
done

# boot_upto N: guests 1..N up and waiting (those not booted yet are
# booted now, between steps).  A step of N guests runs with exactly N
# guests: under TCG an idle guest is not free (each of the 4 idle guests of
# the run of 2026-12-01 16:18, f8be8da, used about 14% of a CPU), so
# guests booted for a later step would slow the earlier ones.
booted=0
boot_upto() {
    _b0=$booted
    for g in $(upto "$1"); do
        [ "$g" -le "$_b0" ] && continue
        start_guest -k -m "$gmem" -a g="$g" -a seconds="$seconds" -a depth="$depth" \
            -a span="${span_mib}M" "scale$g" bench-scale || fail "xl create scale$g (guest $g of $maxg, $gmem MiB each)"
    done
    for g in $(upto "$1"); do
        [ "$g" -le "$_b0" ] && continue
        i=0
        until guest_log "scale$g" | grep -q '^SCALE-READY'; do
            i=$((i + 1))
            if ! xl domid "scale$g" >/dev/null 2>&1; then
                guest_log "scale$g" | tail -n 20 | sed "s/^/    scale$g| /"
                fail "guest scale$g died before its job started ($gmem MiB: $(guest_log "scale$g" | grep -m1 -oE 'Kernel panic[^]]*' | cut -c1-100))"
            fi
            if [ "$i" -gt 600 ]; then
                guest_log "scale$g" | tail -n 20 | sed "s/^/    scale$g| /"
                fail "guest scale$g did not come up within 300 s"
            fi
            sleep 0.5
        done
        eval "dom_$g=$(guest_domid "scale$g")"
        eval "next_$g=0"
    done
    booted=$1
    log "$1 guest(s) up; Xen free memory now $(xl info 2>/dev/null | awk '/^free_memory/ { print $3 }') MiB"
}

npoints=0
for m in $modes; do for n in $steps; do for o in $ops; do for s in $(sizes_for "$n"); do
    npoints=$((npoints + 1))
done; done; done; done

point=0 k=0 rows=0 auto_lead=0
for n in $steps; do
    boot_upto "$n"
    for m in $modes; do
        # this step's devices: devids 2k and 2k+1 in each of guests 1..n
        # (new ids every step: no id is reused after a detach)
        d0=$((2 * k)) d1=$((2 * k + 1))
        k=$((k + 1))
        for g in $(upto "$n"); do
            eval "dom=\$dom_$g"
            for d in 0 1; do
                devid=$((2 * (k - 1) + d))
                vgrant attach "$dom" "type=blk,target=$E2E_WORK/scale-$g-$d.img,devid=$devid,mode=$m" >/dev/null ||
                    fail "vgrant attach scale$g (dom $dom) devid $devid mode=$m"
            done
        done
        log "mode $m, $n guest(s): $((2 * n)) devices attached (devids $d0 $d1)"
        for o in $ops; do
            for s in $(sizes_for "$n"); do
                point=$((point + 1))
                sb=$(bytes "$s")
                echo "SCALE-PROGRESS $m $n $o $s $point/$npoints"
                echo 5 >"/proc/$vpid/clear_refs" 2>/dev/null || log "cannot reset vgrantd's VmHWM: the RSS column is the peak since it started"
                c0=$(cpu_ticks)
                # the lead: fixed, or 3 + 2N raised by what earlier points needed
                use_lead=${lead:-$((3 + 2 * n))}
                [ -z "$lead" ] && [ "$auto_lead" -gt "$use_lead" ] && use_lead=$auto_lead
                t_start=$(($(date +%s) + use_lead))
                for g in $(upto "$n"); do
                    eval "dom=\$dom_$g nx=\$next_$g"
                    xenstore-write "/local/domain/$dom/data/scale-go-$nx" "run $m $o $s $t_start $d0 $d1" ||
                        fail "xenstore-write go to scale$g"
                done
                # one deadline for the whole point, not one per guest: a
                # point takes at most its limit however many guests wait
                limit=$((use_lead + 180 + 30 * n))
                deadline=$(($(_now) + limit))
                for g in $(upto "$n"); do
                    eval "dom=\$dom_$g nx=\$next_$g"
                    left=$((deadline - $(_now)))
                    [ "$left" -gt 0 ] || left=1
                    if ! wait_xs_set "/local/domain/$dom/data/scale-done-$nx" "$left"; then
                        point_diag "$g" "$dom"
                        fail "scale$g: point $nx ($m $o $s) not done within $limit s (start $use_lead s after the go key)"
                    fi
                done
                c1=$(cpu_ticks)
                hwm=$(hwm_kib)
                # the guests' rows of this point
                : >"$E2E_WORK/scale-point.csv"
                : >"$E2E_WORK/scale-win.txt"
                : >"$E2E_WORK/scale-late.txt"
                for g in $(upto "$n"); do
                    eval "nx=\$next_$g"
                    guest_log "scale$g" >"$E2E_WORK/scale-guest.log"
                    sed -n "s/^SCALE-ROW $nx \([0-9]*\) /$g \1 /p" "$E2E_WORK/scale-guest.log" >>"$E2E_WORK/scale-point.csv"
                    sed -n "s/^SCALE-WIN $nx \([0-9]*\) /$g \1 /p" "$E2E_WORK/scale-guest.log" >>"$E2E_WORK/scale-win.txt"
                    grep -E "^SCALE-(FAIL|LATE) $nx " "$E2E_WORK/scale-guest.log" | sed "s/^/    scale$g| /"
                    grep "^SCALE-LATE $nx " "$E2E_WORK/scale-guest.log" >>"$E2E_WORK/scale-late.txt"
                    eval "next_$g=$((nx + 1))"
                done
                # "started X s late": the next points get a longer lead
                # (by a second or more: a few ms late is scheduling noise)
                late_s=$(sed -n 's/.*started \([0-9.]*\) s late.*/\1/p' "$E2E_WORK/scale-late.txt" | sort -g | tail -n 1)
                late=${late_s%.*}
                if [ -z "$lead" ] && [ "${late:-0}" -ge 1 ] && [ $((use_lead + late + 3)) -gt "$auto_lead" ]; then
                    auto_lead=$((use_lead + late + 3))
                    log "a device opened $late_s s after the start time: the next points start $auto_lead s after the go keys"
                fi
                while read -r g dv row; do
                    # the window relative to START ("," "," without one)
                    win=$(awk -v g="$g" -v d="$dv" -v t="$t_start" '$1 == g && $2 == d { split($3, w, ","); printf "%.3f,%.3f", w[1] - t, w[2] - t }' "$E2E_WORK/scale-win.txt")
                    echo "SCALE-DEV $n,$m,$o,$sb,$g,$dv,$(echo "$row" | cut -d, -f5-),${win:-,}"
                done <"$E2E_WORK/scale-point.csv"
                awk -v n="$n" -v m="$m" -v o="$o" -v sb="$sb" -v want=$((2 * n)) '
                    { split($3, w, ","); if (NR == 1 || w[1] > s1) s1 = w[1]; if (NR == 1 || w[1] < s0) s0 = w[1]
                      if (NR == 1 || w[2] < e0) e0 = w[2]; len += w[2] - w[1] }
                    END { if (NR != want || len <= 0) exit
                          ov = (e0 - s1) / (len / NR) * 100; if (ov < 0) ov = 0
                          printf "SCALE-SYNC %d,%s,%s,%d,%.3f,%.1f\n", n, m, o, sb, s1 - s0, ov }' "$E2E_WORK/scale-win.txt"
                got=$(wc -l <"$E2E_WORK/scale-point.csv")
                if [ "$got" != $((2 * n)) ]; then
                    echo "SCALE-SKIP $n $m $o $s: $got of $((2 * n)) devices gave a row"
                    continue
                fi
                awk -v n="$n" -v m="$m" -v o="$o" -v sb="$sb" -v dp="$depth" \
                    -v cpu=$((c1 - c0)) -v tck="$tck" -v hwm="$hwm" '
                    { split($3, f, ","); v = f[5] + 0; agg += v
                      if (NR == 1 || v < mn) mn = v; if (NR == 1 || v > mx) mx = v }
                    END { printf "SCALE-ROW %d,%d,%s,%s,%d,%d,%.2f,%.2f,%.2f,%.2f,%d\n",
                          n, 2 * n, m, o, sb, dp, agg, mn, mx, cpu / tck, hwm }' "$E2E_WORK/scale-point.csv"
                rows=$((rows + 1))
            done
        done
        # where the CPU went: every domain's CPU seconds so far
        log "domains after mode $m, $n guest(s) (Time(s): CPU seconds since boot):"
        xl list 2>&1 | sed 's/^/    xl| /'
        # vgrantd's counters of one device of the step (requests per round)
        vgrant stats "$dom_1" "$d0" 2>&1 | sed 's/^/    stats| /'
        for g in $(upto "$n"); do
            eval "dom=\$dom_$g"
            vgrant detach "$dom" "$d0" >/dev/null 2>&1 || log "vgrant detach scale$g $d0 failed"
            vgrant detach "$dom" "$d1" >/dev/null 2>&1 || log "vgrant detach scale$g $d1 failed"
        done
    done
done
for g in $(upto "$booted"); do
    eval "dom=\$dom_$g nx=\$next_$g"
    xenstore-write "/local/domain/$dom/data/scale-go-$nx" stop 2>/dev/null
done
sleep 2
for g in $(upto "$booted"); do stop_guest "scale$g"; done
[ "$rows" -gt 0 ] || fail "no scaling rows"
log "benchmark finished: $rows of $npoints points"
