#!/usr/bin/env bash
# Plot the scaling CSV of tools/bench/bench-scale.sh: one PNG per mode,
#   RESULTS_DIR/scale-<mode>.png
# left: aggregate MB/s of all devices against the number of guests, one
# line per operation and size; right: each device's own MB/s, the mean
# with a bar from the slowest to the fastest device (fairness).
#   tools/bench/plot-scale.sh [RESULTS_DIR]    (default <repo>/bench/results)
# Needs gnuplot (gnuplot-nox: make deps).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
results=${1:-$repo/bench/results}
csv=$results/scale.csv
header='guests,devices,mode,op,size,depth,agg_mbps,min_dev_mbps,max_dev_mbps,vgrantd_cpu_s,vgrantd_rss_kib'
[ -s "$csv" ] || { echo "plot-scale: $csv is missing or empty" >&2; exit 1; }
head -n1 "$csv" | grep -qx "$header" ||
    { echo "plot-scale: $csv does not start with the header $header" >&2; exit 1; }

# shellcheck source=../lib/need.sh
. "$repo/tools/lib/need.sh"
need_cmd gnuplot awk sort

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
term=png
gnuplot -e "set terminal pngcairo" >/dev/null 2>&1 && term=pngcairo
# plots of an earlier run whose modes are gone would mislead
rm -f "$results"/scale-*.png

sz() { awk -v s="$1" 'BEGIN { print (s >= 1048576 && s % 1048576 == 0 ? s / 1048576 "M" : s >= 1024 && s % 1024 == 0 ? s / 1024 "K" : s) }'; }
for mode in $(awk -F, 'NR > 1 { print $3 }' "$csv" | sort -u); do
    agg="" dev="" i=0
    while IFS=, read -r op size; do
        f=$work/$mode-$op-$size.dat
        # guests agg mean_per_device min max
        awk -F, -v m="$mode" -v o="$op" -v s="$size" \
            'NR > 1 && $3 == m && $4 == o && $5 == s { print $1, $7, $7 / $2, $8, $9 }' "$csv" | sort -n >"$f"
        [ -s "$f" ] || continue
        t="$op $(sz "$size")"
        # side by side bars: a small offset per line
        off=$(awk -v i="$i" 'BEGIN { printf "%.3f", 1 + (i - 1.5) * 0.04 }')
        agg="$agg${agg:+, }'$f' using 1:2 with linespoints lw 2 pt 7 lc $((i + 1)) title '$t'"
        dev="$dev${dev:+, }'$f' using (\$1*$off):3:4:5 with yerrorlines lw 2 pt 7 lc $((i + 1)) title '$t'"
        i=$((i + 1))
    done < <(awk -F, -v m="$mode" 'NR > 1 && $3 == m { print $4 "," $5 }' "$csv" | sort -t, -k1,1 -k2,2nr -u)
    [ -n "$agg" ] || continue
    out=$results/scale-$mode.png
    gnuplot <<GP
set terminal $term size 1300,560
set output '$out'
set multiplot layout 1,2 title "$mode mode: guests with two devices each on one vgrantd, random offsets (Xen under QEMU/TCG, 2 host cores)"
set logscale x 2
set xrange [0.8:10]
set xtics (1, 2, 4, 8, 16)
set grid
set key top left
set yrange [0:*]
set xlabel 'guests (2 devices each)'
set ylabel 'MB/s, all devices together'
set title 'aggregate throughput'
plot $agg
set ylabel 'MB/s of one device'
set title 'per device: mean, bar from slowest to fastest device'
set key top right
plot $dev
unset multiplot
GP
    echo "plot-scale: $out"
done
