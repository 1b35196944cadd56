#!/usr/bin/env bash
# tests/e2e/guest/fio-rows.awk turns fio's JSON (a recorded run of fio 3.33,
# the guest's fio, on a file: tests/scripts/fixtures/) into the benchmark
# CSV rows, and gives a "bench-fio:" line instead of a row for a job that
# failed or measured nothing.
set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
awkf=$repo/tests/e2e/guest/fio-rows.awk
fx=$repo/tests/scripts/fixtures/fio-3.33-write-qd16.json
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=lib.sh
. "$repo/tests/scripts/lib.sh"

# 1. both jobs of the recording: bw_bytes/1e6, iops, lat percentiles in us
got=$(awk -v label=kernel-grant -f "$awkf" "$fx")
expect "rows of a recorded fio run" \
"kernel-grant,write,4096,16,104.86,25600.0,313.3,440.3
kernel-grant,write,1048576,16,1766.02,1684.2,8454.1,16908.3" "$got"

# 2. a job fio reports an error for gives no row, the other one still does
awk '/"jobname" : "write-1048576-16"/ { j = 1 } j && /"error" :/ && !d { sub(/0,/, "5,"); d = 1 } { print }' \
    "$fx" >"$tmp/err.json"
got=$(awk -v label=k -f "$awkf" "$tmp/err.json")
expect "failed job: a message, no row" \
"k,write,4096,16,104.86,25600.0,313.3,440.3
bench-fio: job write-1048576-16: fio reports error 5: no row" "$got"

# 3. no total-latency percentiles (fio run without --lat_percentiles=1)
grep -v '"50.000000"\|"99.000000"' "$fx" >"$tmp/nopct.json"
got=$(awk -v label=k -f "$awkf" "$tmp/nopct.json" | head -n1)
expect "no percentiles: no row" \
"bench-fio: job write-4096-16: no latency percentiles in fio's output (--lat_percentiles=1 --percentile_list=50:99?): no row" "$got"

# 4. a job name that is not <op>-<bytes>-<depth>; output that is not fio's
sed 's/"jobname" : "write-4096-16"/"jobname" : "warmup"/' "$fx" >"$tmp/name.json"
got=$(awk -v label=k -f "$awkf" "$tmp/name.json")
expect "foreign job ignored" \
"bench-fio: job name 'warmup' is not <read|write>-<bytes>-<depth>: ignored
k,write,1048576,16,1766.02,1684.2,8454.1,16908.3" "$got"
got=$(echo "fio: cannot open /dev/vda: No such file" | awk -v label=k -f "$awkf")
expect "no JSON at all" "bench-fio: no row in fio's output" "$got"

# 5. the guest's busybox awk, when the host has one (the guest runs that)
if command -v busybox >/dev/null 2>&1 && busybox awk 'BEGIN{}' 2>/dev/null; then
    got=$(busybox awk -v label=kernel-grant -f "$awkf" "$fx")
    expect "busybox awk: same rows" \
"kernel-grant,write,4096,16,104.86,25600.0,313.3,440.3
kernel-grant,write,1048576,16,1766.02,1684.2,8454.1,16908.3" "$got"
fi
[ "$fails" = 0 ]
