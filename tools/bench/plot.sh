#!/usr/bin/env bash
# Plot the benchmark CSV: one PNG per load generator, operation and queue
# depth, throughput (MB/s) against request size (log scale), one line per
# mode.  A plot only holds rows of one load generator (tools/bench/modes.sh):
#   RESULTS_DIR/<op>-qd<depth>.png      libvgrant modes (vgrant-io bench)
#   RESULTS_DIR/fio-<op>-qd<depth>.png  kernel-* modes and pvblock (fio)
#   RESULTS_DIR/net.png                 the network rows (net.csv): TCP
#                                       Mbit/s both ways, UDP 64-byte
#                                       datagrams/s, ping p50/p99, per mode
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

# the network rows: three panels, one bar (group) per mode in net.csv's order
plot_net() {
    local ncsv=$results/net.csv out=$results/net.png modes
    rm -f "$out"
    [ -f "$ncsv" ] && [ "$(wc -l <"$ncsv")" -gt 1 ] || return 0
    head -n1 "$ncsv" | grep -qx 'mode,test,mbps,pps,p50_us,p99_us' ||
        { echo "plot: $ncsv does not start with the expected header" >&2; return 1; }
    modes=$(awk -F, 'NR > 1 && !seen[$1]++ { print $1 }' "$ncsv")
    # one line per mode: mode tcp-tx tcp-rx udp64-pps p50 p99 ("?" = missing)
    for m in $modes; do
        awk -F, -v m="$m" '
            function g(x) { return x == "" ? "?" : x }
            NR > 1 && $1 == m { v[$2, "mbps"] = $3; v[$2, "pps"] = $4; v[$2, "p50"] = $5; v[$2, "p99"] = $6 }
            END { print m, g(v["tcp-tx", "mbps"]), g(v["tcp-rx", "mbps"]), g(v["udp64", "pps"]), g(v["ping", "p50"]), g(v["ping", "p99"]) }' "$ncsv"
    done >"$work/net.dat"
    # a panel whose columns are all missing would stop gnuplot: an empty
    # panel that says so instead
    local p_tcp p_udp p_ping none
    none="set xrange [0:1]; set yrange [0:1]; unset xtics; set label 1 'not measured' at graph 0.5, 0.5 center; plot -1 notitle; unset label 1; set xtics; set autoscale x; set yrange [0:*]"
    p_tcp=$none p_udp=$none p_ping=$none
    awk '$2 != "?" || $3 != "?" { f = 1 } END { exit !f }' "$work/net.dat" &&
        p_tcp="plot '$work/net.dat' using 2:xtic(1) title 'guest -> dom0 (tcp-tx)', '' using 3 title 'dom0 -> guest (tcp-rx)'"
    awk '$4 != "?" { f = 1 } END { exit !f }' "$work/net.dat" &&
        p_udp="plot '$work/net.dat' using 4:xtic(1) title 'udp64'"
    awk '$5 != "?" || $6 != "?" { f = 1 } END { exit !f }' "$work/net.dat" &&
        p_ping="plot '$work/net.dat' using 5:xtic(1) title 'p50', '' using 6 title 'p99'"
    gnuplot <<GP
set terminal $term size 1500,520
set output '$out'
set datafile missing '?'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
# room above the highest bar for the key
set offsets 0, 0, graph 0.25, 0
set grid ytics
set yrange [0:*]
set xtics rotate by -30
set multiplot layout 1,3 title "Network, Xen under QEMU/TCG (same iperf3/ping in every guest)"
set title 'TCP throughput (iperf3, Mbit/s)'
set key top right
$p_tcp
set title 'UDP 64-byte datagrams received / s (guest -> dom0)'
unset key
$p_udp
set title 'ping guest -> dom0, round trip (µs)'
set key top right
$p_ping
unset multiplot
GP
    echo "plot: $out"
}
plot_net
