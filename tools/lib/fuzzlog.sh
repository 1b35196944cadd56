# shellcheck shell=bash
# What tools/run-fuzz.sh and tools/fuzz-campaign.sh share about a libFuzzer
# run, so that both judge a run the same way.  Sourced.
#   FUZZ_OPTS            the options of every run (-artifact_prefix apart)
#   fuzz_log_read LOG    sets fz_execs and fz_eps (libFuzzer's final
#                        statistics; empty if it printed none) and fz_cov,
#                        fz_ft, fz_corp (its last status line)
#   fuzz_log_failed LOG  true if the log holds a sanitizer report, a
#                        deadly signal or a harness invariant failure
# shellcheck disable=SC2034  # the fz_* results are the callers'
FUZZ_OPTS=(-close_fd_mask=2 -print_final_stats=1 -timeout=30 -rss_limit_mb=4096)

fuzz_log_read() {
    local last
    fz_execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$1" | tail -1)
    fz_eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$1" | tail -1)
    last=$(grep -E '^#[0-9]+[[:space:]]+(DONE|INITED|pulse|NEW|REDUCE)' "$1" | tail -1)
    fz_cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    fz_ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    fz_corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$last")
}

fuzz_log_failed() {
    grep -qE '^==[0-9]+==ERROR|fuzz invariant failed|deadly signal|runtime error:' "$1"
}
