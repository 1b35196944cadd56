#!/usr/bin/env bash
# The bench-scale scenario and its guest job (tests/e2e/scenarios/
# bench-scale.sh, tests/e2e/guest/bench-scale.sh) against fake xl, vgrant,
# vgrantd, xenstore-read/-write and vgrant-io (no Xen): every guest of a
# step gets each point's go key, runs one vgrant-io bench per device with
# --random at depth 16, and the scenario turns the devices' rows into one
# SCALE-ROW per point (sum, min, max) with SCALE-DEV rows; all devices of
# a point get the same --start-at and their windows make one SCALE-SYNC
# (start spread, overlap); a device that starts late raises the lead of
# the later points; each step's devices are attached with fresh ids and
# detached after it, and `xl list` is logged after each; a step's guests
# are booted when it begins (steps ascend).
set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
# shellcheck source=lib.sh
. "$repo/tests/scripts/lib.sh"
cleanup() {
    # the fake guests' jobs: started by the fake xl below, nothing else
    for f in "$tmp"/pid-* "$tmp"/r2/pid-*; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/bin" "$tmp/xs" "$tmp/console" "$tmp/work" "$tmp/doms"
export FAKE_ROOT=$tmp

cat >"$tmp/bin/xenstore-read" <<'EOF'
#!/bin/sh
[ "$1" = domid ] && { echo "$FAKE_DOM"; exit 0; }
p=$1; case $p in /*) ;; *) p=/local/domain/$FAKE_DOM/$p ;; esac
[ -f "$FAKE_ROOT/xs$p" ] && cat "$FAKE_ROOT/xs$p"
EOF
# a watch that fires at once and then every 0.2 s (the job must cope with
# events that are not its go key)
cat >"$tmp/bin/xenstore-watch" <<'EOF'
#!/bin/sh
while echo "$1"; do sleep 0.2; done
EOF
cat >"$tmp/bin/xenstore-write" <<'EOF'
#!/bin/sh
p=$1; case $p in /*) ;; *) p=/local/domain/$FAKE_DOM/$p ;; esac
# a go key of dom D: "START WRITTEN" (the time it was written) into go.D
case $p in */data/scale-go-*)
    dom=${p#/local/domain/}; dom=${dom%%/*}
    echo "$2" | awk -v now="$(date +%s)" '$1 == "run" { print $5, now }' >>"$FAKE_ROOT/go.$dom" ;;
esac
mkdir -p "$(dirname "$FAKE_ROOT/xs$p")" && echo "$2" >"$FAKE_ROOT/xs$p"
EOF
# vgrant-io bench DEVID ...: a row whose MB/s is 10 + DEVID % 2 + guest
# number/10, after checking the options the scenario must give
cat >"$tmp/bin/vgrant-io" <<'EOF'
#!/bin/sh
d=$2; shift 2; args=" $* "
echo "$FAKE_DOM $d$args" >>"$FAKE_ROOT/vgrant-io.calls"
case $args in *" --random "*) ;; *) echo "vgrant-io: fake: no --random"; exit 2 ;; esac
case $args in *" --depths 16 "*) ;; *) echo "vgrant-io: fake: not depth 16"; exit 2 ;; esac
[ -f "$FAKE_ROOT/xs/local/domain/$FAKE_DOM/device/virtio-grant/$d/backend-id" ] ||
    { echo "vgrant-io: fake: device $d not attached"; exit 2; }
at=""
while [ $# -gt 0 ]; do case $1 in --label) l=$2 ;; --ops) o=$2 ;; --sizes) s=$2 ;; --start-at) at=$2 ;; esac; shift; done
[ -n "$at" ] || { echo "vgrant-io: fake: no --start-at"; exit 2; }
now=$(date +%s)
# (60 s of slack behind: on a loaded host, e.g. under make test-san, a
# fake guest's shells can take longer than the lead to get here)
{ [ "$at" -gt $((now - 60)) ] && [ "$at" -le $((now + 30)) ]; } ||
    { echo "vgrant-io: fake: --start-at $at is not near now ($now)"; exit 2; }
case $s in *K) b=$((${s%K} * 1024)) ;; *) b=$s ;; esac
sleep 0.2
echo "mode,op,size,depth,mbps,iops,p50_us,p99_us"
echo "$l,$o,$b,16,$((10 + d % 2)).$FAKE_DOM,100.0,1.0,2.0"
# windows: device 1 of guest 2 starts 0.5 s late, all run 1 s
late=0; [ "$FAKE_DOM" = 2 ] && [ $((d % 2)) = 1 ] && late=0.5
# the first 2-guest point (devid 5, guest 2's point 0): its open took 4.2 s
# longer than the lead
[ "$FAKE_DOM" = 2 ] && [ "$d" = 5 ] && [ ! -f "$FAKE_ROOT/was-late" ] &&
    { touch "$FAKE_ROOT/was-late"; echo "vgrant-io: --start-at: started 4.200 s late" >&2; }
awk -v t="$at" -v l="$late" -v lab="$l" -v o="$o" -v b="$b" 'BEGIN { printf "window %s,%s,%d,16,%.3f,%.3f\n", lab, o, b, t + l, t + l + 1 }'
echo "$at" >>"$FAKE_ROOT/start-at.$FAKE_DOM"
EOF
cat >"$tmp/bin/xl" <<'EOF'
#!/bin/sh
case $1 in
domid) [ -f "$FAKE_ROOT/doms/$2" ] && cat "$FAKE_ROOT/doms/$2" ;;
create)
    name=$(sed -n 's/^name = "\(.*\)"/\1/p' "$2")
    extra=$(sed -n 's/^extra = "\(.*\)"/\1/p' "$2")
    dom=$(($(ls "$FAKE_ROOT/doms" | wc -l) + 1))
    echo "$dom" >"$FAKE_ROOT/doms/$name"
    job=$(echo "$extra" | tr ' ' '\n' | sed -n 's/^vgjob=//p')
    envs=$(echo "$extra" | tr ' ' '\n' | sed -n 's/^vgarg_//p' | tr '\n' ' ')
    # shellcheck disable=SC2086
    (env FAKE_DOM="$dom" $envs sh "$FAKE_REPO/tests/e2e/guest/$job.sh"; echo "GUEST-DONE rc=$?") \
        >"$FAKE_ROOT/console/guest-$name.log" 2>&1 &
    echo $! >"$FAKE_ROOT/pid-$name" ;;
destroy) rm -f "$FAKE_ROOT/doms/$2" ;;
list) echo "Name  ID  Mem VCPUs State Time(s)"; echo "Domain-0  0  1024  2  r-----  12.5" ;;
info) echo "free_memory            : 900" ;;
esac
EOF
cat >"$tmp/bin/vgrant" <<'EOF'
#!/bin/sh
echo "$*" >>"$FAKE_ROOT/vgrant.calls"
case $1 in
attach) d=$(echo "$3" | sed -n 's/.*devid=\([0-9]*\).*/\1/p')
        mkdir -p "$FAKE_ROOT/xs/local/domain/$2/device/virtio-grant/$d"
        echo 0 >"$FAKE_ROOT/xs/local/domain/$2/device/virtio-grant/$d/backend-id" ;;
detach) rm -rf "$FAKE_ROOT/xs/local/domain/$2/device/virtio-grant/$3" ;;
stats) echo "requests 1" ;;
esac
EOF
# a process whose name is vgrantd (a script keeps its own name)
printf '#!/bin/sh\nwhile :; do sleep 1; done\n' >"$tmp/bin/vgrantd"
chmod +x "$tmp"/bin/*

PATH=$tmp/bin:$PATH FAKE_REPO=$repo E2E_WORK=$tmp/work E2E_CONSOLE_LOG_DIR=$tmp/console \
E2E_GUEST_KERNEL=$repo/Makefile E2E_GUEST_RAMDISK=$repo/Makefile E2E_DOMU_PROGRAMS=/nonexistent \
BENCH_SCALE_GUESTS=1,2 BENCH_SCALE_MODES=grant,persistent BENCH_SCALE_SIZES=4K BENCH_SCALE_OPS=read,write \
BENCH_SCALE_SECONDS=1 timeout 120 sh "$repo/tests/e2e/scenarios/bench-scale.sh" >"$tmp/out" 2>&1
rc=$?
[ "$rc" = 0 ] && ok "scenario ran (rc 0)" || { bad "scenario rc $rc"; tail -n 20 "$tmp/out"; }

rows=$(sed -n 's/^SCALE-ROW //p' "$tmp/out")
[ "$(wc -l <<<"$rows")" = 8 ] && ok "8 points: 2 modes x 2 steps x read, write" ||
    { bad "rows: $rows"; grep -E '^SCALE-SKIP|SCALE-FAIL' "$tmp/out"; }
# 1 guest (dom 1): devices 10.1 and 11.1; 2 guests: 10.1 11.1 10.2 11.2
grep -qx '1,2,grant,read,4096,16,21.20,10.10,11.10,[0-9.]*,[0-9]*' <<<"$rows" &&
grep -qx '2,4,persistent,write,4096,16,42.60,10.10,11.20,[0-9.]*,[0-9]*' <<<"$rows" &&
    ok "aggregate is the sum, min and max the slowest and fastest device" || { bad "row values"; echo "$rows"; }
[ "$(grep -c '^SCALE-DEV 2,persistent,write,4096,' "$tmp/out")" = 4 ] && ok "one SCALE-DEV per device" || bad "SCALE-DEV rows"
grep -qx 'SCALE-DEV 2,grant,read,4096,2,5,11.2,100.0,1.0,2.0,0.500,1.500' "$tmp/out" &&
grep -qx 'SCALE-DEV 1,grant,read,4096,1,0,10.1,100.0,1.0,2.0,0.000,1.000' "$tmp/out" &&
    ok "SCALE-DEV carries the device's window relative to the start time" || { bad "SCALE-DEV windows"; grep '^SCALE-DEV' "$tmp/out" | head -n 6; }
sync=$(sed -n 's/^SCALE-SYNC //p' "$tmp/out")
# 1 guest: both windows [0, 1]; 2 guests: one starts 0.5 s late, overlap
# 0.5 s of a mean window of 1 s
[ "$(wc -l <<<"$sync")" = 8 ] && grep -qx '1,grant,read,4096,0.000,100.0' <<<"$sync" &&
grep -qx '2,persistent,write,4096,0.500,50.0' <<<"$sync" &&
    ok "SCALE-SYNC: start spread and overlap of every point" || { bad "SCALE-SYNC"; echo "$sync"; }
# every guest of a point got the same start time: guests 1 and 2 hold the
# same list for the 2-guest points (guest 1's last 8)
[ "$(tail -n 8 "$tmp/start-at.1")" = "$(cat "$tmp/start-at.2")" ] &&
    ok "the devices of a point share one --start-at" || { bad "start times differ"; tail -n 8 "$tmp/start-at.1"; cat "$tmp/start-at.2"; }
# step k (0-based over steps x modes) uses devids 2k, 2k+1, never again
grep -q '^attach 2 type=blk,target=.*scale-2-1.img,devid=5,mode=grant$' "$tmp/vgrant.calls" &&
grep -q '^attach 1 type=blk,target=.*scale-1-0.img,devid=6,mode=persistent$' "$tmp/vgrant.calls" &&
    ok "each step attaches fresh devids in its mode" || { bad "attach calls"; cat "$tmp/vgrant.calls"; }
[ "$(grep -c '^attach' "$tmp/vgrant.calls")" = "$(grep -c '^detach' "$tmp/vgrant.calls")" ] &&
    ok "every attached device is detached" || bad "attach/detach counts differ"
# guest 2 took part in the 2-guest steps only: 2 points x 2 devices x 2 modes
[ "$(grep -c '^2 ' "$tmp/vgrant-io.calls")" = 8 ] && [ "$(grep -c '^1 ' "$tmp/vgrant-io.calls")" = 16 ] &&
    ok "each guest runs only the steps it is part of" || { bad "vgrant-io calls"; cat "$tmp/vgrant-io.calls"; }
grep -q 'SCALE-STOP' "$tmp/console/guest-scale1.log" && ok "guests told to stop at the end" || bad "no stop"
# leads (START minus the time dom0 wrote the go key) of guest 2's points:
# 7 s (3 + 2N) for the first, then 7 + 4 + 3 = 14 s after its 4.2 s late
# open (from the go key, not from when the fake guest got to vgrant-io:
# on a loaded host that took 2 s)
leads=$(awk '{ print $1 - $2 }' "$tmp/go.2" | tr '\n' ' ')
first=$(awk 'NR == 1 { print $1 - $2 }' "$tmp/go.2")
last=$(awk 'END { print $1 - $2 }' "$tmp/go.2")
{ [ "$first" -ge 6 ] && [ "$first" -le 7 ] && [ "$last" -ge 13 ] && [ "$last" -le 14 ]; } &&
grep -q 'a device opened 4.200 s after the start time: the next points start 14 s after the go keys' "$tmp/out" &&
    ok "a late open raises the lead of the later points" || { bad "leads: $leads"; grep 'opened' "$tmp/out"; }
# guests are booted step by step: guest 2 only after the 1-guest steps
order=$(grep -E '^\[bench-scale\] (starting guest|mode )' "$tmp/out" | sed 's/ (job.*//; s/, [0-9]* guest.*//' | tr '\n' '|')
[ "$order" = "[bench-scale] starting guest scale1|[bench-scale] mode grant|[bench-scale] mode persistent|[bench-scale] starting guest scale2|[bench-scale] mode grant|[bench-scale] mode persistent|" ] &&
    ok "a step's guests are booted when the step begins" || bad "boot order: $order"
PATH=$tmp/bin:$PATH E2E_WORK=$tmp/work2 E2E_CONSOLE_LOG_DIR=$tmp/console BENCH_SCALE_GUESTS=2,1 \
    timeout 20 sh "$repo/tests/e2e/scenarios/bench-scale.sh" >"$tmp/out2" 2>&1 &&
    bad "descending steps accepted" ||
    { grep -q 'steps must be ascending' "$tmp/out2" && ok "descending steps refused" || bad "descending steps: $(tail -n 2 "$tmp/out2")"; }
[ "$(grep -c '^    xl| Domain-0' "$tmp/out")" = 4 ] && ok "xl list (CPU time per domain) after each step and mode" || bad "xl list lines"

# with BENCH_SCALE_LARGE set (it is off by default), a step of that many
# guests or more runs only BENCH_SCALE_LARGE_SIZES (by default the first of
# BENCH_SCALE_SIZES),
# the other steps every size (a world of its own: fresh domids and keys)
r2=$tmp/r2
mkdir -p "$r2/xs" "$r2/console" "$r2/work" "$r2/doms"
FAKE_ROOT=$r2 PATH=$tmp/bin:$PATH FAKE_REPO=$repo E2E_WORK=$r2/work E2E_CONSOLE_LOG_DIR=$r2/console \
E2E_GUEST_KERNEL=$repo/Makefile E2E_GUEST_RAMDISK=$repo/Makefile E2E_DOMU_PROGRAMS=/nonexistent \
BENCH_SCALE_GUESTS=1,2 BENCH_SCALE_MODES=grant BENCH_SCALE_SIZES=64K,4K BENCH_SCALE_OPS=read \
BENCH_SCALE_LARGE=2 BENCH_SCALE_SECONDS=1 timeout 120 sh "$repo/tests/e2e/scenarios/bench-scale.sh" >"$r2/out" 2>&1
rc=$?
[ "$rc" = 0 ] && ok "large step: scenario ran (rc 0)" || { bad "large step: scenario rc $rc"; tail -n 20 "$r2/out"; }
got=$(sed -n 's/^SCALE-ROW \([0-9]*,[0-9]*,[a-z]*,[a-z]*,[0-9]*\),.*/\1/p' "$r2/out" | tr '\n' ' ')
expect "large step: 64K only, smaller steps every size" \
    "1,2,grant,read,65536 1,2,grant,read,4096 2,4,grant,read,65536 " "$got"
grep -qx 'SCALE-PROGRESS grant 2 read 64K 3/3' "$r2/out" &&
    ok "large step: the point count knows the large step's sizes" || { bad "large step: progress"; grep '^SCALE-PROGRESS' "$r2/out"; }
[ "$fails" = 0 ]
