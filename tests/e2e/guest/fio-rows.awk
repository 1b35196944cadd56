# fio's JSON output (--output-format=json, fio 3.x) of the bench jobs ->
# the benchmark CSV rows label,op,size,depth,mbps,iops,p50_us,p99_us
# (the columns of vgrant-io bench --csv: MB/s in 10^6 bytes/s, latency in
# microseconds submit to completion).
#
#   awk -v label=kernel-grant -f fio-rows.awk fio.json
#
# Each job is named <op>-<size in bytes>-<depth> (guest/bench-fio.sh) and
# runs with --lat_percentiles=1 --clat_percentiles=0
# --percentile_list=50:99, so the only percentiles are those of the total
# latency.  A job fio reports an error for, or that did no I/O, gives a
# "bench-fio: ..." line instead of a row (never a row of zeros).  fio
# prints one "key" : value per line, which is all this relies on.

function key(s) {
    if (s !~ /^ *"[^"]*" *:/)
        return ""
    sub(/^ *"/, "", s)
    sub(/".*/, "", s)
    return s
}
function val(s) {
    sub(/^ *"[^"]*" *: */, "", s)
    sub(/ *,? *$/, "", s)
    gsub(/"/, "", s)
    return s
}
function flush() {
    if (job == "")
        return
    if (err != "0") {
        printf "bench-fio: job %s: fio reports error %s: no row\n", job, err
    } else if (ios + 0 <= 0 || runtime + 0 <= 0) {
        printf "bench-fio: job %s: no %s I/O measured (%s I/Os in %s ms): no row\n", job, op, ios + 0, runtime + 0
    } else if (p50 == "" || p99 == "") {
        printf "bench-fio: job %s: no latency percentiles in fio's output (--lat_percentiles=1 --percentile_list=50:99?): no row\n", job
    } else {
        printf "%s,%s,%s,%s,%.2f,%.1f,%.1f,%.1f\n", label, op, size, depth,
            bw / 1e6, iops, p50 / 1000, p99 / 1000
        rows++
    }
    job = ""
}
BEGIN { job = ""; rows = 0; if (label == "") label = "fio" }
{
    k = key($0)
    if (k == "")
        next
}
k == "jobname" {
    flush()
    job = val($0)
    n = split(job, p, "-")
    if (n != 3 || p[1] !~ /^(read|write)$/ || p[2] !~ /^[0-9]+$/ || p[3] !~ /^[0-9]+$/) {
        printf "bench-fio: job name '%s' is not <read|write>-<bytes>-<depth>: ignored\n", job
        job = ""
        next
    }
    op = p[1]; size = p[2]; depth = p[3]
    sect = ""; inlat = 0; err = ""; ios = 0; runtime = 0; bw = 0; iops = 0; p50 = ""; p99 = ""
    next
}
job == "" { next }
k == "error" && sect == "" { err = val($0); next }
k == "read" || k == "write" || k == "trim" || k == "sync" { sect = k; inlat = 0; next }
sect != op { next }
k == "bw_bytes" { bw = val($0); next }
k == "iops" { iops = val($0); next }
k == "total_ios" { ios = val($0); next }
k == "runtime" { runtime = val($0); next }
k == "lat_ns" { inlat = 1; next }
k == "bw_min" { inlat = 0; next }
inlat && k == "50.000000" { p50 = val($0); next }
inlat && k == "99.000000" { p99 = val($0); next }
END {
    flush()
    if (rows == 0)
        print "bench-fio: no row in fio's output"
}
