#!/usr/bin/env bash
# Plot the benchmark CSV: one PNG per load generator, operation and queue
# depth, throughput (MB/s) against request size (log scale), one line per
# mode.  A plot only holds rows of one load generator (tools/bench/modes.sh):
#   RESULTS_DIR/<op>-qd<depth>.png      libvgrant modes (vgrant-io bench)
#   RESULTS_DIR/fio-<op>-qd<depth>.png  kernel-* modes and pvblock (fio)
#   tools/bench/plot.sh [RESULTS_DIR]      (default <repo>/bench/results)
# Needs gnuplot (gnuplot-nox: make deps).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
results=${1:-$repo/bench/results}
csv=$results/latest.csv
[ -s "$csv" ] || { echo "plot: $csv is missing or empty" >&2; exit 1; }
head -n1 "$csv" | grep -qx 'mode,op,size,depth,mbps,iops,p50_us,p99_us' ||
    { echo "plot: $csv does not start with the expected header" >&2; exit 1; }

# shellcheck source=../lib/need.sh
. "$repo/tools/lib/need.sh"
need_cmd gnuplot awk sort

# shellcheck source=modes.sh
. "$repo/tools/bench/modes.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
term=png
gnuplot -e "set terminal pngcairo" >/dev/null 2>&1 && term=pngcairo
# plots of an earlier run whose generator or points are gone would mislead
rm -f "$results"/*-qd*.png

# plot_generator GEN PREFIX WHAT: the PNGs of GEN's rows
plot_generator() {
local gen=$1 prefix=$2 what=$3 modes op depth plots m f out
modes=$(bench_modes_present "$csv" "$gen")
[ -n "$modes" ] || return 0
for op in $(awk -F, 'NR > 1 { print $2 }' "$csv" | sort -u); do
    for depth in $(awk -F, -v op="$op" 'NR > 1 && $2 == op { print $4 }' "$csv" | sort -n -u); do
        plots=""
        for m in $modes; do
            f=$work/$op-$depth-$m.dat
            awk -F, -v op="$op" -v d="$depth" -v m="$m" \
                'NR > 1 && $1 == m && $2 == op && $4 == d { print $3, $5 }' "$csv" | sort -n >"$f"
            [ -s "$f" ] || continue
            plots="$plots${plots:+, }'$f' using 1:2 with linespoints lw 2 pt 7 title '$m'"
        done
        [ -n "$plots" ] || continue
        out=$results/$prefix$op-qd$depth.png
        gnuplot <<GP
set terminal $term size 900,560
set output '$out'
set title "$op, queue depth $depth ($what): MB/s vs request size, Xen under QEMU/TCG"
set xlabel 'request size (bytes, log scale)'
set ylabel 'MB/s'
set logscale x 2
set xtics ("512" 512, "4K" 4096, "16K" 16384, "64K" 65536, "256K" 262144, "1M" 1048576)
set grid
set key top left
set yrange [0:*]
plot $plots
GP
        echo "plot: $out"
    done
done
}

plot_generator vgrant-io "" "libvgrant in the guest, vgrant-io bench"
plot_generator fio fio- "guest kernel block drivers, fio"
