#!/usr/bin/env bash
# Write the benchmark report (markdown) from the CSV of tools/bench/bench.sh.
#   tools/bench/report.sh [RESULTS_DIR [OUT]]
# defaults: <repo>/bench/results, <repo>/docs/benchmarks.md.  Reads
# latest.csv, net.csv, netops.csv, net.png, ops.csv, rounds.csv, guest-ops.csv, memcpy.txt, skipped.txt, run-info.txt,
# the PNGs of plot.sh, scale.csv and scale-run-info.txt (only to link to
# make bench-scale's docs/benchmarks-scale.md), and discussion.md
# (hand-written about one run: its first line "<!-- run: <date>,
# <commit> -->" names the run; the report says so when it is not the run
# of the figures).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../lib/need.sh
. "$repo/tools/lib/need.sh"
need_cmd awk sort
results=${1:-$repo/bench/results}
out=${2:-$repo/docs/benchmarks.md}
csv=$results/latest.csv
[ -s "$csv" ] || { echo "report: $csv is missing or empty" >&2; exit 1; }
head -n1 "$csv" | grep -qx 'mode,op,size,depth,mbps,iops,p50_us,p99_us' ||
    { echo "report: $csv does not start with the expected header" >&2; exit 1; }
memcpy=$(cat "$results/memcpy.txt" 2>/dev/null || true)
outdir=$(cd "$(dirname "$out")" && pwd)
relres=$(realpath --relative-to="$outdir" "$results" 2>/dev/null || echo "$results")

# shellcheck source=modes.sh
. "$repo/tools/bench/modes.sh"
info=$results/run-info.txt
# (a missing file gives empty values, not a failed pipeline)
info_get() { [ -f "$info" ] && sed -n "s/^$1: //p" "$info" | head -n1; return 0; }
run_date=$(info_get date)
run_commit=$(info_get commit)
run_host=$(info_get host)
run_emul=$(info_get emulation)
run_knobs=$(info_get knobs)
lib_modes=$(bench_modes_present "$csv" vgrant-io | tr '\n' ' ')
fio_modes=$(bench_modes_present "$csv" fio | tr '\n' ' ')
has() { case " $1 " in *" $2 "*) return 0 ;; esac; return 1; }

# awk helper: size label
AWK_SZ='
function sz(s) { return s >= 1048576 && s % 1048576 == 0 ? s / 1048576 "M" : s >= 1024 && s % 1024 == 0 ? s / 1024 "K" : s }
BEGIN { FS = "," }'

# results_table "MODE..." : every row of these modes, in that order
results_table() {
    echo "| mode | op | size | depth | MB/s | IOPS | p50 µs | p99 µs |"
    echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    awk -v modes="$1" "$AWK_SZ"'
    BEGIN { n = split(modes, o, " "); for (i = 1; i <= n; i++) rank[o[i]] = i }
    NR > 1 && ($1 in rank) {
        printf "%d %s %09d %04d|| %s | %s | %s | %s | %s | %s | %s | %s |\n", rank[$1], $2, $3, $4, $1, $2, sz($3), $4, $5, $6, $7, $8 }' "$csv" |
        sort -k1,1n -k2,2 -k4,4 -k3,3 | sed 's/^[^|]*||/|/'
}

# ratio_table "MODE..." "REF..." : throughput of each mode divided by that
# of each reference at the same point (modes of one load generator only)
ratio_table() {
    awk -v modes="$1" -v refs="$2" "$AWK_SZ"'
    NR > 1 { key = $2 "," $3 "," $4; v[$1, key] = $5; pts[key] = 1 }
    END {
        nm = split(modes, m, " "); nr = split(refs, r, " ")
        for (j = 1; j <= nr; j++) refidx[r[j]] = j
        # a reference against an earlier one only (kernel-static/pvblock,
        # not also pvblock/kernel-static)
        for (i = 1; i <= nm; i++) for (j = 1; j <= nr; j++)
            use[i, j] = m[i] != r[j] && !((m[i] in refidx) && refidx[m[i]] > j)
        hdr = "| op | size | depth |"; sep = "| --- | ---: | ---: |"
        for (i = 1; i <= nm; i++) for (j = 1; j <= nr; j++) if (use[i, j]) {
            hdr = hdr " " m[i] "/" r[j] " |"; sep = sep " ---: |" }
        print hdr; print sep
        n = 0
        for (k in pts) keys[++n] = k
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) {
            split(keys[i], a, ","); split(keys[j], b, ",")
            if (a[1] > b[1] || (a[1] == b[1] && (a[3] + 0 > b[3] + 0 || (a[3] == b[3] && a[2] + 0 > b[2] + 0)))) { t = keys[i]; keys[i] = keys[j]; keys[j] = t }
        }
        for (x = 1; x <= n; x++) {
            k = keys[x]; split(k, a, ",")
            line = "| " a[1] " | " sz(a[2]) " | " a[3] " |"
            for (i = 1; i <= nm; i++) for (j = 1; j <= nr; j++) if (use[i, j]) {
                ok = (m[i], k) in v && (r[j], k) in v && v[r[j], k] > 0 && v[m[i], k] > 0
                line = line " " (ok ? sprintf("%.2f", v[m[i], k] / v[r[j], k]) : "–") " |"
                if (ok) { lsum[i, j] += log(v[m[i], k] / v[r[j], k]); cnt[i, j]++ }
            }
            print line
        }
        # over the whole matrix: geometric mean of the ratios, points measured
        line = "| **geometric mean** | | |"
        for (i = 1; i <= nm; i++) for (j = 1; j <= nr; j++) if (use[i, j])
            line = line " " (cnt[i, j] ? sprintf("**%.2f** (%d)", exp(lsum[i, j] / cnt[i, j]), cnt[i, j]) : "–") " |"
        print line
    }' "$csv"
}

# beats A B : per op and depth, the smallest size where A is faster than B
beats() {
    awk -v A="$1" -v B="$2" "$AWK_SZ"'
    NR > 1 { v[$1, $2, $4, $3] = $5; ops[$2] = 1; dep[$2, $4] = 1; sizes[$3] = 1; seen[$1] = 1 }
    END {
        if (!(A in seen) || !(B in seen)) { print "Not determined: " A " or " B " not measured in this run."; exit }
        ns = 0; for (s in sizes) ss[++ns] = s + 0
        for (i = 1; i <= ns; i++) for (j = i + 1; j <= ns; j++) if (ss[i] > ss[j]) { t = ss[i]; ss[i] = ss[j]; ss[j] = t }
        for (o in ops) for (d = 1; d <= 1024; d++) {
            if (!((o, d) in dep)) continue
            cross = ""
            for (i = 1; i <= ns; i++) {
                s = ss[i]
                if (!((A, o, d, s) in v) || !((B, o, d, s) in v)) continue
                if (v[A, o, d, s] > v[B, o, d, s]) { cross = s; break }
            }
            printf "- %s, depth %d: %s\n", o, d, cross == "" ? "none in this range (" sz(ss[1]) " – " sz(ss[ns]) ")" : "from " sz(cross) " (smallest size where " A " is faster)"
        }
    }' "$csv" | sort -k2,2 -k4,4n
}

# crossover GRANT COPY : the auto threshold evidence (map from which size on)
crossover() {
    awk -v G="$1" -v C="$2" "$AWK_SZ"'
    NR > 1 { v[$1, $2, $4, $3] = $5; ops[$2] = 1; dep[$2, $4] = 1; sizes[$3] = 1; seen[$1] = 1 }
    END {
        if (!(G in seen) || !(C in seen)) { print "Not determined: " G " or " C " not measured in this run."; exit }
        ns = 0; for (s in sizes) ss[++ns] = s + 0
        for (i = 1; i <= ns; i++) for (j = i + 1; j <= ns; j++) if (ss[i] > ss[j]) { t = ss[i]; ss[i] = ss[j]; ss[j] = t }
        found = 0; best = 0; total = 0
        for (o in ops) for (d = 1; d <= 1024; d++) {
            if (!((o, d) in dep)) continue
            cross = ""
            for (i = ns; i >= 1; i--) {
                s = ss[i]
                if (!((G, o, d, s) in v) || !((C, o, d, s) in v)) continue
                if (v[G, o, d, s] > v[C, o, d, s]) cross = s; else break
            }
            printf "- %s, depth %d: %s\n", o, d, cross == "" ? "none: " C " is as fast or faster up to " sz(ss[ns]) : "map from " sz(cross)
            total++
            if (cross != "") { found++; if (cross > best) best = cross }
        }
        print ""
        if (found == 0)
            printf "**Measured (%s vs %s): no crossover on this machine; copying is the better choice here.**\n", G, C
        else if (found < total)
            printf "**Measured (%s vs %s): only %d of %d op/depth combinations have a crossover (map from %s at most); the others favour copy at every size.**\n", G, C, found, total, sz(best)
        else
            printf "**Measured (%s vs %s): mapping wins from %s on in every op and depth.**\n", G, C, sz(best)
    }' "$csv"
}

# net_section: the network rows (net.csv, netops.csv of tools/bench/bench.sh,
# measured by tests/e2e/scenarios/bench-net.lib)
net_section() {
    local ncsv=$results/net.csv nops=$results/netops.csv nmodes
    echo "## Network"
    echo
    if ! [ -f "$ncsv" ] || [ "$(wc -l <"$ncsv")" -le 1 ] || ! head -n1 "$ncsv" | grep -qx 'mode,test,mbps,pps,p50_us,p99_us'; then
        echo "Not measured in this run (\`net.csv\` has no rows; \`BENCH_NET_MODES\`)."
        echo
        return 0
    fi
    nmodes=$(awk -F, 'NR > 1 && !seen[$1]++ { printf "%s ", $1 }' "$ncsv")
    echo "Raw data: \`net.csv\` (\`mode,test,mbps,pps,p50_us,p99_us\`) and \`netops.csv\`."
    echo "One PV guest at a time (1 vCPU, 256 MiB, the stock Debian 12 kernel) on the"
    echo "bridge \`xenbr0\` in dom0 (dom0 10.99.0.1, the guest 10.99.0.2):"
    echo
    echo "- \`net-<mode>\`: the guest kernel's \`virtio_net\` (loaded with \`napi_tx=0\`) over"
    echo "  \`virtio_grant.ko\`, \`vgrant attach <dom> type=net,bridge=xenbr0,mode=<mode>\`"
    echo "  (vgrantd's tap \`vg<dom>.0\` in the bridge; static: the region of"
    echo "  \`BENCH_NET_REGION\`, default 4 MiB);"
    echo "- \`netfront\`: Xen's own PV network driver, \`vif = [ 'bridge=xenbr0,...' ]\`"
    echo "  (\`xen-netfront\` in the guest, netback's \`vif<dom>.0\` in the same bridge)."
    echo
    echo "Durations and rates: \`BENCH_NET_SECONDS\` s per iperf3 test (default 5),"
    echo "\`BENCH_NET_UDP_RATE\` offered (default 10M bit/s, far above what a guest sends"
    echo "under TCG), \`BENCH_NET_PINGS\` pings (default 200); this run's knobs:"
    echo "${run_knobs:-not recorded}."
    echo
    echo "The same load generator in every guest (tests/e2e/guest/bench-net.sh): iperf3 3.12"
    echo "from Debian against \`iperf3 -s\` in dom0, and busybox ping. The two drivers do not"
    echo "offer the same features: vgrantd's net model has no offloads (docs/net.md: no"
    echo "checksum offload, no TSO; the guest segments and checksums every frame, at most"
    echo "MTU + 18 bytes), while xen-netfront and netback negotiate scatter-gather, checksum"
    echo "offload and TSO, so netfront's TCP frames can carry up to 64 KiB each (its"
    echo "packets/s and per-packet figures count those large frames)."
    echo
    echo "| test | direction | what | Mbit/s | packets/s | p50, p99 |"
    echo "| --- | --- | --- | --- | --- | --- |"
    echo "| \`tcp-tx\` | guest → dom0 | \`iperf3 -c dom0 -t N\`, one TCP stream | receiver's payload rate | frames the guest's interface sent / s | – |"
    echo "| \`tcp-rx\` | dom0 → guest | the same with \`-R\` | receiver's payload rate | frames it received / s | – |"
    echo "| \`udp64\` | guest → dom0 | \`iperf3 -u -l 64 -b <rate>\`: 64-byte datagrams offered at a fixed rate | receiver's payload rate | datagrams received / s (iperf3's receiver: total − lost) | – |"
    echo "| \`ping\` | guest → dom0 → guest | \`ping -c <n> -i 0.01\` | – | – | per-ping round trip, µs |"
    echo
    if [ -f "$results/net.png" ]; then
        echo "![net]($relres/net.png)"
        echo
    fi
    if [ -s "$results/skipped.txt" ] && grep -qE '^(net-[a-z]+|netfront):' "$results/skipped.txt"; then
        echo "Skipped or suspect:"
        echo
        grep -E '^(net-[a-z]+|netfront):' "$results/skipped.txt" | sed 's/^\([^:]*\): /- `\1`: /'
        echo
    fi
    echo "### Results"
    echo
    echo "| mode | test | Mbit/s | packets/s | p50 µs | p99 µs |"
    echo "| --- | --- | ---: | ---: | ---: | ---: |"
    awk -F, 'function g(x) { return x == "" ? "–" : x } NR > 1 { printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, g($3), g($4), g($5), g($6) }' "$ncsv"
    echo
    echo "### Against Xen's netfront"
    echo
    if has "$nmodes" netfront; then
        echo "Each figure divided by netfront's in the same run: for throughput and packet"
        echo "rate above 1 means faster than netfront; for the ping round trips below 1 means quicker."
        echo
        echo "| mode | tcp-tx Mbit/s | tcp-rx Mbit/s | udp64 packets/s | ping p50 | ping p99 |"
        echo "| --- | ---: | ---: | ---: | ---: | ---: |"
        awk -F, '
            NR > 1 { v[$1, $2, 3] = $3; v[$1, $2, 4] = $4; v[$1, $2, 5] = $5; v[$1, $2, 6] = $6; if (!seen[$1]++) o[++n] = $1 }
            function r(m, t, c) { return (v[m, t, c] != "" && v["netfront", t, c] + 0 > 0) ? sprintf("%.2f", v[m, t, c] / v["netfront", t, c]) : "–" }
            END { for (i = 1; i <= n; i++) if (o[i] != "netfront")
                printf "| %s | %s | %s | %s | %s | %s |\n", o[i], r(o[i], "tcp-tx", 3), r(o[i], "tcp-rx", 3), r(o[i], "udp64", 4), r(o[i], "ping", 5), r(o[i], "ping", 6) }' "$ncsv"
    else
        echo "netfront was not measured in this run: no ratios."
    fi
    echo
    echo "### Hypervisor operations per packet"
    echo
    echo "The backend's counters over each test (\`netops.csv\`), divided by the packets it"
    echo "carried both ways (frames the guest sent + frames delivered to it: TCP's"
    echo "acknowledgements count too). For \`net-*\`, vgrantd's counters (\`vgrant stats\`"
    echo "before and after the test): a map batch is one gntdev map ioctl, copy batches"
    echo "grant-copy ioctls, grant copies their segments, notifications the event channel"
    echo "sends of vgrantd, kicks the guest's sends it received, a round what it took from"
    echo "a queue at once. For \`netfront\`, netback's counters are the kernel's own and"
    echo "its grant operations and notifications are not counted (\"n/c\"): the packets are"
    echo "those of its \`vif<dom>.0\` in dom0, kicks the interrupts of its event channels"
    echo "in dom0. Guest interrupts, for every mode: the interrupts of the guest's event"
    echo "channels of its network device (\`/proc/interrupts\` in the guest), i.e. the"
    echo "backend's notifications the guest took."
    echo
    if [ -f "$nops" ] && [ "$(wc -l <"$nops")" -gt 1 ]; then
        echo "| mode | test | packets (guest sent + received) | map batches / pkt | pages mapped / pkt | unmap batches / pkt | pages unmapped / pkt | copy batches / pkt | grant copies / pkt | notifications / pkt | kicks / pkt | guest interrupts / pkt | packets / round |"
        echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        awk -F, '
            function c(name) { return $(col[name]) }
            function per(name) { return (!(name in col) || c(name) == "") ? "n/c" : sprintf("%.3f", c(name) / p) }
            NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
            {
                p = c("tx_packets") + c("rx_packets")
                if (p <= 0) { printf "| %s | %s | 0 | – | – | – | – | – | – | – | – | – | – |\n", $1, $2; next }
                printf "| %s | %s | %d + %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2,
                    c("tx_packets"), c("rx_packets"),
                    per("map_batches"), per("maps"), per("unmap_batches"), per("unmaps"), per("copy_batches"),
                    per("grant_copies"), per("notifies_sent"), per("kicks_received"), per("guest_irqs"),
                    c("rounds") == "" ? "n/c" : (c("rounds") > 0 ? sprintf("%.2f", p / c("rounds")) : "–")
            }' "$nops"
    else
        echo "Not recorded in this run."
    fi
    echo
}

{
echo "# Benchmarks"
echo
echo "Generated by \`make bench\` (tools/bench/bench.sh → tests/e2e/scenarios/bench.sh,"
echo "tools/bench/plot.sh, tools/bench/report.sh). Raw data: \`bench/results/latest.csv\`"
echo "(\`mode,op,size,depth,mbps,iops,p50_us,p99_us\`), \`ops.csv\`, \`guest-ops.csv\`,"
echo "\`run-info.txt\`."
echo
echo "- run: ${run_date:-date not recorded}, commit \`${run_commit:-unknown}\`"
echo "- machine: ${run_host:-not recorded}"
echo "- ${run_emul:-Xen under QEMU (TCG)}: Xen 4.17, dom0 and the guests are emulated"
echo
echo "**These numbers come from Xen 4.17 running under QEMU's software emulator (TCG),"
echo "not from hardware. Read the ratios and the operation counts, not the absolute values;"
echo "see [What emulation distorts](#what-emulation-distorts).**"
echo
echo "## Setup"
echo
echo "- One PV guest (1 vCPU, 256 MiB, the stock Debian 12 kernel) at a time, dom0 with"
echo "  2 vCPUs; each mode gets a fresh guest and a fresh 64 MiB sparse image on dom0's tmpfs"
echo "  (pvblock: the same, as a loop device given to the guest as \`phy:/dev/loopN,xvda,w\`)."
echo "  virtio-grant modes: \`vgrant attach <dom> type=blk,target=...,mode=<mode>\` (static:"
echo "  the default 4 MiB region)."
echo "- **Two load generators**; a mode's name says which, and tables and plots never put"
echo "  rows of different generators side by side:"
echo "  - \`grant\`, \`persistent\`, \`copy\`, \`auto\`, \`static\`: **libvgrant** in the guest"
echo "    (user space), measured with \`vgrant-io bench\` (libvgrant's asynchronous API keeps"
echo "    *depth* requests in flight; *depth* unmeasured warm-up I/Os first)."
echo "  - \`kernel-grant\`, \`kernel-persistent\`, \`kernel-copy\`, \`kernel-auto\`, \`kernel-static\`:"
echo "    the guest kernel's own \`virtio_blk\` over \`virtio_grant.ko\` (docs/kernel.md) on the"
echo "    same vgrantd modes; \`pvblock\`: Xen's PV block driver (blkback/\`xen-blkfront\`)."
echo "    All measured with **the same fio job** per point (tests/e2e/guest/bench-fio.sh):"
echo "    \`ioengine=libaio direct=1 rw=read|write bs=<size> iodepth=<depth> size=32M\`,"
echo "    \`io_size\` = the I/O count below × size, \`lat_percentiles=1\` (fio 3.33 from"
echo "    Debian 12, JSON output; its percentiles are histogram bins, within ~3 %)."
echo "- Each point: I/Os of one size at consecutive offsets inside the first 32 MiB; the I/O"
echo "  count is (8 MiB / size) bounded to [max(2 × depth, 16), 128], the same for both"
echo "  generators. Latency is per request, submit to completion. Short runs: expect noise"
echo "  of ±10–20 % between runs."
echo
echo "## Physical reference"
echo
if [ -n "$memcpy" ]; then
    echo "Guest \`memcpy\` bandwidth (16 MiB buffers, \`vgrant-io memcpy\`): **$memcpy MB/s**."
    echo "Every byte a block request moves costs at least one such copy somewhere, so no mode"
    echo "can exceed this; the copy, persistent and static modes pay it once more by design."
else
    echo "The memcpy reference was not measured in this run."
fi
echo
echo "## Modes"
echo
for m in $fio_modes; do
    echo "- \`$m\` (fio): $(awk -F, -v m="$m" 'NR > 1 && $1 == m { n++ } END { print n + 0 }' "$csv") points measured"
done
for m in $lib_modes; do
    echo "- \`$m\` (vgrant-io bench): $(awk -F, -v m="$m" 'NR > 1 && $1 == m { n++ } END { print n + 0 }' "$csv") points measured"
done
if [ -s "$results/skipped.txt" ]; then
    while IFS= read -r l; do
        echo "- \`${l%%:*}\`: **skipped or suspect** — ${l#*: }"
    done <"$results/skipped.txt"
fi
echo
echo "## Plots"
echo
for gen in vgrant-io fio; do
    prefix="" title="libvgrant modes (vgrant-io bench)"
    [ "$gen" = fio ] && prefix="fio-" title="Kernel block drivers: virtio_grant.ko modes and xen-blkfront (fio)"
    n=0
    for p in "$results"/"$prefix"read-qd*.png "$results"/"$prefix"write-qd*.png; do
        [ -f "$p" ] || continue
        [ "$n" = 0 ] && { echo "### $title"; echo; }
        n=$((n + 1))
        b=$(basename "$p" .png)
        echo "![$b]($relres/$b.png)"
        echo
    done
done
echo "## Results"
echo
if [ -n "$fio_modes" ]; then
    echo "### Kernel block drivers (fio)"
    echo
    results_table "$fio_modes"
    echo
fi
if [ -n "$lib_modes" ]; then
    echo "### libvgrant (vgrant-io bench)"
    echo
    results_table "$lib_modes"
    echo
fi
echo "## Ratios"
echo
echo "Throughput of one mode divided by that of another at the same point, within one"
echo "load generator; > 1 means faster. \"–\" where a mode was not measured. The last"
echo "row is the geometric mean over the points both modes measured (their number)."
echo
if [ -n "$fio_modes" ]; then
    refs=""
    has "$fio_modes" kernel-static && refs="kernel-static"
    has "$fio_modes" pvblock && refs="$refs pvblock"
    echo "### Kernel block drivers (fio): against \`kernel-static\` and Xen's PV block driver"
    echo
    if [ -n "$refs" ]; then ratio_table "$fio_modes" "$refs"; else echo "Neither kernel-static nor pvblock was measured."; fi
    echo
fi
if [ -n "$lib_modes" ]; then
    echo "### libvgrant (vgrant-io bench): against \`static\`, the pre-shared region baseline"
    echo
    if has "$lib_modes" static; then ratio_table "$lib_modes" static; else echo "static was not measured."; fi
    echo
fi
echo "## Where grant beats static"
echo
if [ -n "$fio_modes" ]; then
    echo "Kernel (fio), \`kernel-grant\` against \`kernel-static\`:"
    echo
    beats kernel-grant kernel-static
    echo
fi
if [ -n "$lib_modes" ]; then
    echo "libvgrant (vgrant-io bench), \`grant\` against \`static\`:"
    echo
    beats grant static
    echo
fi
echo "## Hypervisor operations per request"
echo
echo "From vgrantd's own counters (\`vgrant stats\`), read by dom0 at the end of"
echo "each phase of a mode's run: under emulation this is the figure that carries"
echo "over to hardware. The guest runs the matrix one depth at a time: a warm-up"
echo "phase (every op and size at that depth, no rows: depth + 1 I/Os per point"
echo "with vgrant-io, fio's measured jobs again for the kernel rows),"
echo "then the measured phase (the points of the results tables); the counters of"
echo "each phase are the difference from the previous phase's. A map batch is one"
echo "gntdev map ioctl (its hypercall), an unmap one munmap; copy batches are"
echo "grant-copy ioctls; notifications are event channel sends by the backend,"
echo "kicks those it received. A round is the requests vgrantd popped from a"
echo "queue and served together (grant mode maps a whole round in one batch per"
echo "protection, read-only or writable); the in-flight high water is the most"
echo "requests vgrantd held at once since the device was attached, read at the"
echo "end of the phase (depth 1 runs first, so its figure is depth 1's). The"
echo "kernel-* rows count the guest kernel's own requests too, and the block layer"
echo "splits requests larger than the module's \`max_mapping_size\` (persistent"
echo "mode: 256 KiB) before they reach the ring. Xen's PV block driver keeps its"
echo "own counters in the kernel and is not in these tables."
echo
ops=$results/ops.csv
# ops_rows PREFIX: a table row per mode and phase PREFIX<depth>, the modes in
# the order of modes.sh, then by depth; columns looked up by header name
ops_rows() {
    awk -F, -v pre="$1" -v order="$BENCH_MODES_VGRANT_IO $BENCH_MODES_FIO" -v lib="$BENCH_MODES_VGRANT_IO" '
    function c(name) { return $(col[name]) + 0 }
    function per(name) { return sprintf("%.2f", c(name) / c("requests")) }
    BEGIN {
        n = split(order, o, " "); for (i = 1; i <= n; i++) rank[o[i]] = i
        n = split(lib, l, " "); for (i = 1; i <= n; i++) islib[l[i]] = 1
    }
    NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    substr($2, 1, length(pre)) == pre && substr($2, length(pre) + 1) ~ /^[0-9]+$/ {
        d = substr($2, length(pre) + 1) + 0
        if (c("requests") == 0) {
            line = sprintf("| %s | %s | %d | 0 | – | – | – | – | – | – | – | – | %d | %d |",
                $1, ($1 in islib) ? "vgrant-io" : "fio", d, c("max_round"), c("max_in_flight"))
        } else {
            line = sprintf("| %s | %s | %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %d | %d |",
                $1, ($1 in islib) ? "vgrant-io" : "fio", d, c("requests"), per("map_batches"),
                per("maps"), per("unmap_batches"), per("copy_batches"), per("grant_copies"),
                per("notifies_sent"), per("kicks_received"),
                c("rounds") > 0 ? sprintf("%.2f", c("requests") / c("rounds")) : "–",
                c("max_round"), c("max_in_flight"))
        }
        printf "%03d %s %06d|%s\n", ($1 in rank) ? rank[$1] : 999, $1, d, line
    }' "$ops" | sort -k1,1n -k2,2 -k3,3n | sed 's/^[^|]*|//'
}
OPS_TABLE_HEAD="| mode | load generator | depth | requests | map batches / req | pages mapped / req | unmap batches / req | copy batches / req | copy segments / req | notifications / req | kicks / req | req / round | largest round | in-flight high water |
| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"

# ops_targets: issue 9's targets at depth 16, each with the figure of
# every mode it concerns and whether it is met
ops_targets() {
    awk -F, -v order="$BENCH_MODES_VGRANT_IO $BENCH_MODES_FIO" '
    function c(name) { return $(col[name]) + 0 }
    function row(target, m, figure, met) {
        printf "%03d %03d %s|| %s | `%s` | %s | %s |\n", tn, ($1 in rank) ? rank[$1] : 999, m, target, m, figure, met ? "met" : "**not met**"
    }
    BEGIN { n = split(order, o, " "); for (i = 1; i <= n; i++) rank[o[i]] = i }
    NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    $2 == "d16" && c("requests") > 0 {
        r = c("requests"); m = $1
        if (m == "grant" || m == "kernel-grant") {
            tn = 1; x = c("map_batches") / r; row("grant mode: map batches / request ≤ 0.5", m, sprintf("%.3f", x), x <= 0.5)
            tn = 2; x = c("unmap_batches") / r; row("grant mode: unmap batches / request ≤ 0.5", m, sprintf("%.3f", x), x <= 0.5)
        }
        tn = 3; x = c("notifies_sent") / r; row("notifications sent by vgrantd / request ≤ 0.15", m, sprintf("%.3f", x), x <= 0.15)
        if (m == "persistent" || m == "kernel-persistent") {
            tn = 4; row("persistent mode: 0 map operations / request after warm-up", m, sprintf("%d maps over %d requests", c("maps"), r), c("maps") == 0)
        }
        tn = 5; row("in-flight high water ≥ 16", m, c("max_in_flight"), c("max_in_flight") >= 16)
    }' "$ops" | sort -k1,1n -k2,2n | sed 's/^[^|]*||/|/'
}
if [ -s "$ops" ] && [ "$(wc -l <"$ops")" -gt 1 ] && head -n1 "$ops" | tr ',' '\n' | grep -qx phase; then
    echo "Raw figures: \`ops.csv\`, one row per mode and phase (\`warm<depth>\`,"
    echo "\`d<depth>\`), columns \`$(head -n1 "$ops" | sed 's/,/, /g')\`: the counters"
    echo "are summed over the phase, \`max_round\` and \`max_in_flight\` are the"
    echo "high-water marks at its end."
    echo
    echo "### Measured phases, per depth"
    echo
    echo "$OPS_TABLE_HEAD"
    ops_rows d
    echo
    echo "### Warm-up phases"
    echo
    echo "The phase before each measured one, at the same depth. The first (depth 1)"
    echo "also holds the connection: the ring pages (3 per queue) are mapped then, and"
    echo "for the kernel-* modes the kernel's partition scan. Persistent mode fills its"
    echo "cache of mappings here."
    echo
    echo "$OPS_TABLE_HEAD"
    ops_rows warm
    echo
    echo "### Targets of issue 9, at depth 16"
    echo
    echo "Benchmark figures of this run, not test assertions: each target of issue 9"
    echo "item 5 against the depth 16 measured phase of every mode it concerns."
    echo
    targets=$(ops_targets)
    if [ -n "$targets" ]; then
        echo "| target | mode | measured | |"
        echo "| --- | --- | ---: | --- |"
        echo "$targets"
        echo
        nmiss=$(grep -c 'not met' <<<"$targets" || true)
        echo "$(grep -c . <<<"$targets") figures, $nmiss not met."
    else
        echo "No depth 16 phase was measured in this run."
    fi
elif [ -s "$ops" ] && [ "$(wc -l <"$ops")" -gt 1 ]; then
    echo "\`ops.csv\` has no phase column: it comes from a run before the counters"
    echo "were read per depth (one row per mode over both depths); re-run \`make bench\`."
else
    echo "Not recorded in this run."
fi
echo
rounds=$results/rounds.csv
if [ -s "$rounds" ] && [ "$(wc -l <"$rounds")" -gt 1 ]; then
    echo "### How the rounds were made, at each measured depth"
    echo
    echo "From \`rounds.csv\` (vgrantd's counters over each phase): rounds by the"
    echo "number of requests they held, and the waits of an idle queue for as many"
    echo "requests as it last gave back (\`--coalesce-ms\`; short: fewer came)."
    echo
    echo "| mode | depth | rounds | 1 | 2–3 | 4–7 | 8–15 | 16+ | waits | short |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    awk -F, -v order="$BENCH_MODES_VGRANT_IO $BENCH_MODES_FIO" '
    function c(name) { return $(col[name]) + 0 }
    BEGIN { n = split(order, o, " "); for (i = 1; i <= n; i++) rank[o[i]] = i }
    NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    $2 ~ /^d[0-9]+$/ {
        d = substr($2, 2) + 0
        printf "%03d %06d|| %s | %d | %d | %d | %d | %d | %d | %d | %d | %d |\n",
            ($1 in rank) ? rank[$1] : 999, d, $1, d, c("rounds"), c("rounds_1"),
            c("rounds_2_3"), c("rounds_4_7"), c("rounds_8_15"), c("rounds_16_up"),
            c("gathers"), c("gathers_short")
    }' "$rounds" | sort -k1,1n -k2,2n | sed 's/^[^|]*||/|/'
    echo
fi
echo "### Guest side: virtio_grant.ko's grant operations per request"
echo
echo "From the module's sysfs counters of the device (docs/kernel.md, \"Counters\"),"
echo "read in the guest after its matrix. A grant is one grant-table entry the"
echo "guest writes for a request and revokes at unmap (zero-copy pages in grant,"
echo "copy and auto mode); persistent and static grant their pool or region once"
echo "at connect (\"setup grants\") and copy every buffer into it instead"
echo "(\"bytes copied / req\"). Requests the module published to the ring."
echo
gops=$results/guest-ops.csv
if [ -s "$gops" ] && [ "$(wc -l <"$gops")" -gt 1 ]; then
    echo "| mode | requests | grants / req | setup grants | bytes granted in place / req | bytes copied / req | buffers copied / req | area full (requeued) | map errors | failed requests |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    awk -F, 'NR > 1 && $2 > 0 {
        printf "| %s | %d | %.2f | %d | %.0f | %.0f | %.2f | %d | %d | %d |\n",
            $1, $2, $4 / $2, $5, $6 / $2, $7 / $2, $8 / $2, $9, $10, $11
    }' "$gops"
else
    echo "Not recorded in this run (no kernel-* mode ran)."
fi
echo
echo "## Copy or map: the auto threshold"
echo
echo "\`auto\` copies requests smaller than \`vgrantd --auto-threshold\` (default"
echo "16 KiB) with grant copy and maps larger ones. The measured crossover is the"
echo "smallest size from which mapping (grant mode) beats copy mode at that size and"
echo "every larger one, per load generator:"
echo
if [ -n "$fio_modes" ]; then
    echo "Kernel (fio), \`kernel-grant\` against \`kernel-copy\`:"
    echo
    crossover kernel-grant kernel-copy
    echo
fi
if [ -n "$lib_modes" ]; then
    echo "libvgrant (vgrant-io bench), \`grant\` against \`copy\`:"
    echo
    crossover grant copy
    echo
fi
echo "Decide \`--auto-threshold\` (or \`mode=copy\`) on the target host with its own \`make bench\`."
echo
disc=$results/discussion.md
if [ -s "$disc" ]; then
    drun=$(sed -n 's/^<!-- run: \(.*\) -->$/\1/p' "$disc" | head -n1)
    echo "## Discussion"
    echo
    if [ -n "$run_date" ] && [ "$drun" != "$run_date, $run_commit" ]; then
        echo "**This discussion was written for the run of ${drun:-an unrecorded date}, not for the"
        echo "figures above ($run_date, \`$run_commit\`): its numbers may not match them.**"
        echo
    fi
    grep -v '^<!-- run: ' "$disc"
    echo
fi
net_section
# make bench-scale writes its own report (tools/bench/report-scale.sh):
# this section only points to it, so neither run overwrites the other
echo "## Scaling"
echo
echo "Many guests on one vgrantd (1, 2, 4, 8 guests with two devices each, the same"
echo "random-offset workload on every device at once; aggregate and per-device MB/s,"
echo "vgrantd CPU time and peak RSS) is measured by \`make bench-scale\`, not by this run:"
scale_info=$results/scale-run-info.txt
if [ -s "$results/scale.csv" ] && [ -s "$scale_info" ]; then
    echo "see [benchmarks-scale.md](benchmarks-scale.md) (its run: $(sed -n 's/^date: //p' "$scale_info" | head -n1),"
    echo "commit \`$(sed -n 's/^commit: //p' "$scale_info" | head -n1)\`)."
else
    echo "see [benchmarks-scale.md](benchmarks-scale.md) (no scaling run in $relres yet)."
fi
echo
cat <<'TXT'
## What emulation distorts

Everything above ran inside QEMU's TCG, a binary translator: no KVM, no
hardware virtualisation, so Xen, dom0 and the guest are all emulated
instructions. That changes the *relative* cost of the operations the modes
trade against each other:

- **Hypercalls and page-table updates are disproportionately expensive.**
  A grant map or unmap is a hypercall plus page-table edits in Xen, and TCG
  pays for each guest page-table change with translation-cache and softmmu
  TLB flushes. Plain `memcpy`, by contrast, is translated into a tight host
  loop and runs at a sizeable fraction of host speed. So modes that map
  per request (grant) look worse against copying modes (copy, static, the
  copy half of auto) than they would on hardware, and the crossover size
  where mapping beats copying moves up.
- **Event channel notifications and interrupts** cost an emulated trap
  into Xen and a virtual interrupt, again far more than on hardware;
  small-request IOPS and latencies are dominated by it.
- **Two vCPUs on two host threads**, shared by Xen, dom0 (backends) and the
  guest: depth 16 cannot overlap as much work as on a real machine.
- **The disk is dom0's tmpfs**, so no device latency is hidden; this
  measures the transport, which is the point, but absolute MB/s are not
  disk numbers.
- **The two load generators cost differently.** fio's per-I/O path
  (io_submit/io_getevents, the block layer, virtio_blk, the module's DMA
  ops) and libvgrant's (a user-space ring, no system call per request
  except the notification) are both emulated instructions; which one is
  cheaper under TCG says little about hardware. That is why the kernel
  rows are only compared with each other and with pvblock.

Absolute numbers here are therefore **not hardware numbers**. Compare the
ratios between modes at the same point, and treat crossovers as indicative
of direction only.

## Running the same benchmark on a real Xen host

The scenario and guest job are plain POSIX sh and run unchanged on a Xen
host (see docs/e2e.md, "runs as is on a real Xen host"):

1. Build (`make all`) and install `build/bin/{vgrantd,vgrant,vgrant-io}`
   in dom0's PATH; build a guest initramfs containing `vgrant-io`, `fio`,
   `virtio_grant.ko` for the guest kernel and `tests/e2e/guest/`
   (`tests/e2e/build-images.sh` does this), or use any PV/PVH guest with
   those files and `/dev/xen/{gntalloc,evtchn}`.
2. In dom0, as root, with xenconsoled logging guest consoles
   (`XENCONSOLED_TRACE=guest`), set `E2E_GUEST_KERNEL`,
   `E2E_GUEST_RAMDISK` and `E2E_CONSOLE_LOG_DIR`, then run
   `tests/e2e/runner.sh bench` and keep its output.
3. Turn the output into results with the same tools:
   `sed -n 's/^BENCH-ROW //p'` into `bench/results/latest.csv` after the
   header line, `BENCH-OPS` and `BENCH-GUESTOPS` lines into `ops.csv` and
   `guest-ops.csv` (headers: see tools/bench/bench.sh),
   `sed -n 's/^BENCH-MEMCPY //p'` into `memcpy.txt`, then
   `tools/bench/plot.sh` and `tools/bench/report.sh`.
   `BENCH_IOS`, `BENCH_MAXBYTES`, `BENCH_SIZES`, `BENCH_DEPTHS` and
   `BENCH_MODES` make the points longer or select modes; use larger
   values on hardware (e.g. `BENCH_IOS=20000 BENCH_MAXBYTES=1G`).
TXT
} >"$out"
echo "report: $out"
