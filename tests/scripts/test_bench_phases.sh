#!/usr/bin/env bash
# The bench guest job's phases (make bench, issue 9 item 5): the matrix
# runs one depth at a time, a warm-up pass (no rows) then the measured
# pass, each followed by a phase boundary where the guest waits for dom0's
# ack.  Checked here without Xen:
#   1. guest/bench-phase.sh prints "phase LABEL NAME done" and returns once
#      data/bench-ack holds NAME; without the ack it fails loudly
#   2. bench-fio.sh's fio_matrix (a fake fio that records its job files):
#      phase order, warm-up jobs as the measured ones, no warm-up rows, a failing
#      phase stops the matrix
#   3. vgrant-io's --phase-cmd (bench-file on a file: the same matrix code
#      as bench): the order, no rows in warm-up, a failing command stops it
set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
guest=$repo/tests/e2e/guest
mkdir -p "$repo/build"
# under build/: vgrant-io bench-file opens with O_DIRECT, which tmpfs may refuse
tmp=$(mktemp -d -p "$repo/build" test_bench_phases.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=lib.sh
. "$repo/tests/scripts/lib.sh"

# 1. the phase boundary, with a xenstore-read that reads a file
mkdir -p "$tmp/bin"
cat >"$tmp/bin/xenstore-read" <<'XS'
#!/bin/sh
[ "$1" = data/bench-ack ] || { echo "fake xenstore-read: unexpected key $1" >&2; exit 1; }
cat "$FAKE_ACK" 2>/dev/null || exit 1
XS
chmod +x "$tmp/bin/xenstore-read"
export FAKE_ACK=$tmp/ack
echo d16 >"$FAKE_ACK"
got=$(PATH=$tmp/bin:$PATH sh "$guest/bench-phase.sh" grant d16; echo "rc=$?")
expect "acked phase" "phase grant d16 done
rc=0" "$got"
echo warm16 >"$FAKE_ACK"
got=$(PATH=$tmp/bin:$PATH phase_timeout=1 sh "$guest/bench-phase.sh" grant d16; echo "rc=$?")
expect "no ack: says so, exit 1" "phase grant d16 done
bench: phase grant d16: no ack from dom0 within 1 s (data/bench-ack is 'warm16')
rc=1" "$got"

# 2. fio_matrix with a fake fio: its JSON is the recorded run (two jobs,
# two rows) whatever the job; every job file it ran is kept
cat >"$tmp/bin/fio" <<'FIO'
#!/bin/sh
[ "$1" = --version ] && { echo fio-3.33; exit 0; }
n=$(ls "$FAKE_JOBS" | wc -l)
cp "$2" "$FAKE_JOBS/$(printf %02d "$n")-$(basename "$2")"
cat "$FAKE_JSON"
FIO
chmod +x "$tmp/bin/fio"
mkdir -p "$tmp/jobs"
fio_out() {   # fio_matrix's output, phases through echo (or $1)
    (
        export PATH=$tmp/bin:$PATH FAKE_JOBS=$tmp/jobs FAKE_JSON=$repo/tests/scripts/fixtures/fio-3.33-write-qd16.json
        export FIO_ROWS_AWK=$guest/fio-rows.awk TMPDIR=$tmp BENCH_PHASE_CMD=${1:-echo phase}
        # shellcheck disable=SC1091
        . "$guest/kernel-lib.sh"
        # shellcheck disable=SC1091
        . "$guest/bench-fio.sh"
        # shellcheck disable=SC2034   # read by fio_matrix
        ops=write depths=1,16 sizes=4K,1M ios=128 maxbytes=8M
        fio_matrix kl /dev/null-disk
        echo "rc=$?"
    )
}
out=$(fio_out)
expect "fio: phases in order, rows only from measured passes" \
"phase kl warm1
progress kl write 4K-1M qd1 1-2/4
kl,write,4096,16,104.86,25600.0,313.3,440.3
kl,write,1048576,16,1766.02,1684.2,8454.1,16908.3
phase kl d1
phase kl warm16
progress kl write 4K-1M qd16 3-4/4
kl,write,4096,16,104.86,25600.0,313.3,440.3
kl,write,1048576,16,1766.02,1684.2,8454.1,16908.3
phase kl d16
rc=0" "$(grep -v '^bench-fio: fio-3.33 on' <<<"$out")"
# job files: warm1, d1, warm16, d16; io_size per size job
jobs_run() { find "$tmp/jobs" -type f -printf '%f\n' | sort | tr '\n' ' ' | sed 's/ $//'; }
sizes_of() { grep '^io_size=' "$1" | cut -d= -f2 | tr '\n' ' '; }
expect "fio: jobs run" "00-bench-warm-write-1.fio 01-bench-write-1.fio 02-bench-warm-write-16.fio 03-bench-write-16.fio" \
    "$(jobs_run)"
expect "fio: warm-up io_size = the measured pass's" "524288 16777216 |524288 33554432 " \
    "$(sizes_of "$tmp/jobs/00-bench-warm-write-1.fio")|$(sizes_of "$tmp/jobs/02-bench-warm-write-16.fio")"
expect "fio: measured io_size as before (8M / size in [max(2d,16), 128])" "524288 16777216 |524288 33554432 " \
    "$(sizes_of "$tmp/jobs/01-bench-write-1.fio")|$(sizes_of "$tmp/jobs/03-bench-write-16.fio")"
expect "fio: warm-up at the phase's depth" "iodepth=16" "$(grep '^iodepth=' "$tmp/jobs/02-bench-warm-write-16.fio")"
rm -f "$tmp/jobs"/*
cat >"$tmp/bin/phase-fails" <<'PF'
#!/bin/sh
echo "phase $1 $2 done"
[ "$2" = warm1 ] && exit 1
exit 0
PF
chmod +x "$tmp/bin/phase-fails"
out=$(fio_out "$tmp/bin/phase-fails")
expect "fio: a phase without ack stops the matrix" "phase kl warm1 done
rc=1" "$(grep -v '^bench-fio: fio-3.33 on' <<<"$out")"
expect "fio: nothing measured after it" "00-bench-warm-write-1.fio" "$(jobs_run)"

# 3. vgrant-io --phase-cmd (make builds it before make test runs this)
vio=$repo/${VGRANT_BUILD:-build}/bin/vgrant-io
# the Debian build links it without a RUNPATH (debian/rules IO_RPATH=):
# its libvgrant.so.0 is in the build's lib/
vio_run() {
    LD_LIBRARY_PATH="$repo/${VGRANT_BUILD:-build}/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$vio" "$@"
}
if [ ! -x "$vio" ]; then
    expect "vgrant-io built" "$vio" "missing"
else
    dd if=/dev/zero of="$tmp/disk" bs=1M count=4 2>/dev/null
    out=$(vio_run bench-file "$tmp/disk" --sizes 4K,64K --depths 1,4 --ops read,write \
        --ios 20 --span 1M --csv --label t --phase-cmd "echo phase t" 2>&1; echo "rc=$?")
    expect "vgrant-io: phases in order, rows of the measured passes only" \
"mode,op,size,depth,mbps,iops,p50_us,p99_us
phase t warm1
t read 4096 1
t read 65536 1
t write 4096 1
t write 65536 1
phase t d1
phase t warm4
t read 4096 4
t read 65536 4
t write 4096 4
t write 65536 4
phase t d4
rc=0" "$(sed -E 's/^(t),(read|write),([0-9]+),([0-9]+),.*/\1 \2 \3 \4/' <<<"$out")"
    out=$(vio_run bench-file "$tmp/disk" --sizes 4K --depths 1,4 --ops read --ios 20 --span 1M \
        --csv --label t --phase-cmd "exit 3 #" 2>&1; echo "rc=$?")
    expect "vgrant-io: a failing phase command stops the run" "mode,op,size,depth,mbps,iops,p50_us,p99_us
vgrant-io: phase warm1: 'exit 3 # warm1' exited with 3: stopping
rc=1" "$out"
    # 4. --start-at: the warm-up runs before the start time, the measured
    # I/Os after it (bench-scale lines the devices' windows up on it)
    t0=$(date +%s.%N)
    at=$(awk -v t="$t0" 'BEGIN { printf "%.3f", t + 1.5 }')
    out=$(vio_run bench-file "$tmp/disk" --sizes 4K --depths 4 --ops read --ios 20 \
        --span 1M --csv --label t --start-at "$at" 2>&1; echo "rc=$?")
    win=$(sed -n 's/^window t,read,4096,4,//p' <<<"$out")
    expect "vgrant-io --start-at: exits 0" "rc=0" "$(tail -n1 <<<"$out")"
    expect "vgrant-io --start-at: the measured window starts within 1 s after the start time" \
        "after" "$(awk -v at="$at" -v w="$win" 'BEGIN { split(w, x, ","); print (w != "" && x[1] >= at && x[1] < at + 1 ? "after" : "window " w " vs " at) }')"
    expect "vgrant-io --start-at: not late" "" "$(grep 'late' <<<"$out")"
    at=$(awk -v t="$t0" 'BEGIN { printf "%.3f", t - 5 }')
    out=$(vio_run bench-file "$tmp/disk" --sizes 4K --depths 4 --ops read --ios 20 \
        --span 1M --csv --label t --start-at "$at" 2>&1; echo "rc=$?")
    expect "vgrant-io --start-at in the past: measures at once, says how late" \
        "late rc=0" "$(grep -q '^vgrant-io: --start-at: started [0-9.]* s late$' <<<"$out" && echo late) $(tail -n1 <<<"$out")"
    out=$(vio_run bench-file "$tmp/disk" --phase-cmd "" 2>&1; echo "rc=$?")
    expect "vgrant-io: empty --phase-cmd refused" "vgrant-io: --phase-cmd: 1..256 characters
rc=2" "$out"
fi
[ "$fails" = 0 ]
