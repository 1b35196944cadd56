#!/usr/bin/env bash
# tools/bench/report-scale.sh on a fake scale.csv: one table per mode with
# the aggregate, the aggregate against 1 guest, the per-device min/max and
# their ratio (fairness), the devices' window overlap (scale-sync.csv),
# vgrantd's CPU and RSS; the summary compares the largest step with 1 guest
# and gives the worst start spread and overlap; skipped points are listed;
# a CSV with another header is refused.
set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=lib.sh
. "$repo/tests/scripts/lib.sh"

cat >"$tmp/scale.csv" <<'EOF'
guests,devices,mode,op,size,depth,agg_mbps,min_dev_mbps,max_dev_mbps,vgrantd_cpu_s,vgrantd_rss_kib
1,2,grant,read,65536,16,20.00,9.00,11.00,1.50,2000
1,2,grant,read,4096,16,4.00,1.90,2.10,1.20,2000
2,4,grant,read,4096,16,6.00,1.00,2.00,2.20,2100
2,4,grant,read,65536,16,30.00,5.00,10.00,2.50,2100
8,16,grant,read,65536,16,40.00,1.00,4.00,6.00,2600
1,2,persistent,write,65536,16,40.00,20.00,20.00,0.50,3000
2,4,persistent,write,65536,16,40.00,8.00,12.00,0.90,3100
EOF
cat >"$tmp/scale-sync.csv" <<'EOF'
guests,mode,op,size,start_spread_s,overlap_pct
1,grant,read,65536,0.010,99.5
2,grant,read,65536,0.200,90.0
8,grant,read,65536,0.900,70.0
2,persistent,write,65536,0.050,97.0
EOF
printf 'date: 2026-01-01 00:00 UTC\ncommit: abc1234\nhost: 2 cores\nknobs: BENCH_SCALE_GUESTS=1,2,8\ncommand: make bench-scale\nduration: 100 s\n' >"$tmp/scale-run-info.txt"
echo "4 grant read 4K: 7 of 8 devices gave a row" >"$tmp/scale-skipped.txt"
out=$tmp/report.md
run_or_stop "$tmp/report.log" bash "$repo/tools/bench/report-scale.sh" "$tmp" "$out"

grant=$(section '## `grant` mode')
pers=$(section '## `persistent` mode')
[ -n "$grant" ] && [ -n "$pers" ] && ok "one table per mode" || bad "a mode's table is missing"
grep -q '^| guests | devices | op | size | aggregate MB/s | × 1 guest | per device min | max | min/max | windows overlap % | vgrantd CPU s | vgrantd peak RSS KiB |$' <<<"$grant" &&
    ok "table header" || bad "table header"
# aggregate, against 1 guest, min, max, min/max, overlap, CPU, RSS (no
# sync row for 4K: "–")
grep -qx '| 2 | 4 | read | 64K | 30.00 | 1.50 | 5.00 | 10.00 | 0.50 | 90.0 | 2.50 | 2100 |' <<<"$grant" &&
grep -qx '| 8 | 16 | read | 64K | 40.00 | 2.00 | 1.00 | 4.00 | 0.25 | 70.0 | 6.00 | 2600 |' <<<"$grant" &&
grep -qx '| 1 | 2 | read | 4K | 4.00 | 1.00 | 1.90 | 2.10 | 0.90 | – | 1.20 | 2000 |' <<<"$grant" &&
    ok "aggregate, scaling against 1 guest, fairness and overlap columns" || { bad "grant rows"; echo "$grant"; }
grep -qx '| 2 | 4 | write | 64K | 40.00 | 1.00 | 8.00 | 12.00 | 0.67 | 97.0 | 0.90 | 3100 |' <<<"$pers" &&
    ok "persistent rows" || { bad "persistent rows"; echo "$pers"; }
if grep -q 'persistent\|write' <<<"$grant" || grep -q '| grant\| read ' <<<"$pers"; then bad "a table holds another mode's rows"; else ok "each table holds its own mode only"; fi
# order: by op, size from large to small, then guests
order=$(grep '^| [0-9]' <<<"$grant" | awk -F' \\| ' '{ print $1 $4 }' | tr -d '| ' | tr '\n' ' ')
[ "$order" = "164K 264K 864K 14K 24K " ] && ok "rows ordered by size (large first), then guests" || bad "row order: $order"
grep -qx -- '- grant, read 64K: 8 guests move 2.00× the data of 1 guest (40.00 against 20.00 MB/s); slowest device at 25% of the fastest; vgrantd CPU 6.00 s against 1.50 s' "$out" &&
    ok "summary: largest step against 1 guest" || { bad "summary"; section '## Summary'; }
grep -qx -- '- Measured windows (4 points): the devices of a point started at most 0.900 s apart; the time all of them were measuring at once was at least 70.0% of their mean window (worst: 8 guest(s), grant read 64K).' "$out" &&
    ok "summary: worst start spread and overlap" || { bad "sync summary"; section '## Summary'; }
grep -qx -- '- 4 guest(s), grant read 4K: 7 of 8 devices gave a row' "$out" && ok "skipped points listed" || bad "skipped points"
grep -q 'Run: 2026-01-01 00:00 UTC, commit `abc1234`, `make bench-scale` with BENCH_SCALE_GUESTS=1,2,8' "$out" &&
    ok "run date, commit and knobs" || bad "run info: $(grep '^Run' "$out")"
grep -q 'what emulation distorts' "$out" && ok "caveats section" || bad "no caveats section"

# hand-written notes: shown under their own heading, with a warning when
# they were written for another run
printf '<!-- run: 2026-01-01 00:00 UTC, abc1234 -->\nEight guests did not finish.\n' >"$tmp/scale-notes.md"
bash "$repo/tools/bench/report-scale.sh" "$tmp" "$out" >/dev/null 2>&1
notes=$(section '## Notes on the run')
grep -qx 'Eight guests did not finish.' <<<"$notes" && ! grep -q 'not for the' <<<"$notes" && ! grep -q 'run: ' <<<"$notes" &&
    ok "notes of this run shown as they are" || { bad "notes"; echo "$notes"; }
printf '<!-- run: 2025-12-31 00:00 UTC, 0000000 -->\nOld.\n' >"$tmp/scale-notes.md"
bash "$repo/tools/bench/report-scale.sh" "$tmp" "$out" >/dev/null 2>&1
section '## Notes on the run' | grep -q 'written for the run of 2025-12-31 00:00 UTC, 0000000, not for the' &&
    ok "notes of another run are flagged" || { bad "stale notes not flagged"; section '## Notes on the run'; }

sed -i '1s/agg_mbps/aggregate/' "$tmp/scale.csv"
if bash "$repo/tools/bench/report-scale.sh" "$tmp" "$tmp/bad.md" >/dev/null 2>&1; then bad "a CSV with another header was accepted"; else ok "a CSV with another header is refused"; fi
[ "$fails" = 0 ]
