#!/usr/bin/env bash
# tools/fuzz-campaign.sh keeps the count a long fuzz campaign is judged by:
# every chunk, the one stopped by SIGTERM included, is one ledger line with
# libFuzzer's own execution count; a crash is a failed line that ends the
# campaign; `total` sums one binary only and fails when any of its chunks
# failed; an edit of the script under a running campaign (or a running
# tools/run-fuzz.sh) breaks nothing.
# Driven with a stand-in harness (fixtures/fake-libfuzzer.c) that
# prints what libFuzzer prints, so the test takes seconds.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export VGRANT_FUZZ_CAMPAIGN_DIR=$tmp/campaign VGRANT_FUZZ_BIN_DIR=$tmp/bin \
       VGRANT_FUZZ_LEDGER_DIR=$tmp/ledger
mkdir -p "$tmp/bin"
run_or_stop "$tmp/cc.log" cc -Wall -Wextra -Werror -o "$tmp/bin/fuzz_fake" \
    "$here/fixtures/fake-libfuzzer.c"
camp=$repo/tools/fuzz-campaign.sh
ledger=$tmp/ledger/fuzz_fake.ledger
sha=$(sha256sum "$tmp/bin/fuzz_fake" | cut -d' ' -f1)
lines() { grep -v '^#' "$ledger" | awk -F'\t' -v s="$1" '$3 == s' ; }

# 1. chunks of 3 s, stopped by SIGTERM in the middle of the second
"$camp" run -c 0 -s 3 fuzz_fake >"$tmp/run1.out" 2>&1 &
pid=$!
sleep 4.5
kill -TERM $pid
wait $pid
expect "a campaign stopped by SIGTERM exits 0" 0 $?
n=$(lines "$sha" | wc -l)
[ "$n" -ge 2 ] && ok "one ledger line per chunk ($n)" || bad "ledger lines: $n, want >= 2"
expect "every chunk ok" "" "$(lines "$sha" | awk -F'\t' '$12 != "ok"')"
last=$(lines "$sha" | tail -1)
# a whole chunk of 3 s is at most 2100 of the stand-in's executions (7
# per 10 ms); the interrupted one, about 1.5 s into its chunk, fewer
last_execs=$(cut -f7 <<<"$last")
[ "$last_execs" -gt 0 ] && [ "$last_execs" -lt 2100 ] &&
    ok "the interrupted chunk counts its executions ($last_execs)" ||
    bad "interrupted chunk: '$last'"
grep -q 'run interrupted' "$tmp"/campaign/fuzz_fake-*/logs/chunk-*.log &&
    ok "the chunk was stopped by libFuzzer's SIGINT path" || bad "no chunk log says 'run interrupted'"
sum=$(lines "$sha" | awk -F'\t' '{ s += $7 } END { print s }')
out=$("$camp" total fuzz_fake)
expect "total exits 0" 0 $?
expect "total sums the chunks" "fuzz_fake ${sha:0:12}: $sum executions in $n chunk(s)" \
    "$(sed 's/, [0-9]* s,.*//' <<<"$out")"
grep -q "$tmp/campaign/fuzz_fake-${sha:0:12}/fuzz_fake " "$tmp/campaign/fuzz_fake-${sha:0:12}"/logs/chunk-*.log &&
    ok "chunks run the campaign's copy of the binary" || bad "chunk command line"

# 2. another binary: its own lines, its own total; then it crashes
run_or_stop "$tmp/cc2.log" cc -Wall -Wextra -Werror -DFAKE_VARIANT=2 \
    -o "$tmp/bin/fuzz_fake" "$here/fixtures/fake-libfuzzer.c"
sha2=$(sha256sum "$tmp/bin/fuzz_fake" | cut -d' ' -f1)
[ "$sha2" != "$sha" ] || { bad "the second binary should differ"; exit 1; }
FAKE_FUZZ_MODE=crash "$camp" run -c 0 -s 2 fuzz_fake >"$tmp/run2.out" 2>&1
expect "a crash ends the campaign with status 1" 1 $?
expect "one line for the crashed chunk" 1 "$(lines "$sha2" | wc -l)"
expect "the crashed chunk is failed, with its artefact" \
    "failed $tmp/campaign/fuzz_fake-${sha2:0:12}/crashes/fuzz_fake-crash-0123" \
    "$(lines "$sha2" | cut -f12,13 | tr '\t' ' ')"
"$camp" total fuzz_fake >"$tmp/total2.out"
expect "total of a binary with a failed chunk exits 1" 1 $?
grep -q ' 1 failed chunk(s)' "$tmp/total2.out" && ok "total names the failed chunk" ||
    bad "total: $(cat "$tmp/total2.out")"
out=$("$camp" total fuzz_fake "$sha")
expect "the first binary's total is unchanged" 0 $?
expect "... and its sum" "$sum" "$(sed -n 's/.*: \([0-9]*\) executions.*/\1/p' <<<"$out")"

# 3. what a user gets wrong
"$camp" run fuzz_none >"$tmp/none.out" 2>&1
expect "a harness not built is refused" 1 $?
grep -q 'make fuzz-build' "$tmp/none.out" && ok "... with the fix named" || bad "$(cat "$tmp/none.out")"
"$camp" frob >/dev/null 2>&1
expect "an unknown command prints the usage" 2 $?
# a time of day already past today (as '02:05' given at 23:40) ran nothing
# and said nothing
n0=$(lines "$sha" | wc -l)
"$camp" run -u '1 hour ago' fuzz_fake >"$tmp/past.out" 2>&1
expect "a deadline already past is refused" 2 $?
grep -q "name the day" "$tmp/past.out" && ok "... with the fix named" || bad "$(cat "$tmp/past.out")"
expect "... and no chunk is run" "$n0" "$(lines "$sha" | wc -l)"

# rewrite a script in place, 512 bytes longer, as an editor saving over it
# does: a running bash that still reads it would then read shifted text
grow_in_place() {
    local body
    body=$(cat "$1")
    printf '%s\n%s\n' "$(printf '#%.0s' $(seq 511))" "$body" >"$1"
}

# 4. editing the script under a running campaign (bash reads a script by
# offset as it goes) neither breaks the runner nor loses its chunk
mkdir -p "$tmp/copy/tools"
cp -r "$repo/tools/lib" "$camp" "$tmp/copy/tools/"
VGRANT_FUZZ_LEDGER_DIR=$tmp/ledger4 "$tmp/copy/tools/fuzz-campaign.sh" run -c 0 -s 2 fuzz_fake >"$tmp/run4.out" 2>&1 &
pid=$!
sleep 1
grow_in_place "$tmp/copy/tools/fuzz-campaign.sh"
sleep 2
kill -TERM $pid
wait $pid
expect "a campaign whose script was edited meanwhile exits 0" 0 $?
grep -Eq 'syntax error|command not found|unexpected' "$tmp/run4.out" &&
    bad "the edited script broke the runner: $(cat "$tmp/run4.out")" ||
    ok "... without running a line of the edited file"
grep -q "^fuzz_fake ${sha2:0:12}: [0-9]* executions in 2 chunk(s), .* 0 failed chunk(s)" "$tmp/run4.out" &&
    ok "... and its two chunks counted" || bad "total: $(cat "$tmp/run4.out")"

# 5. the same for tools/run-fuzz.sh, whose long runs (-t hours) share the
# hazard: its summary and status come after the harness ran
cp "$repo/tools/run-fuzz.sh" "$tmp/copy/tools/"
"$tmp/copy/tools/run-fuzz.sh" -t 2 "$tmp/bin/fuzz_fake" >"$tmp/run5.out" 2>&1 &
pid=$!
sleep 1
grow_in_place "$tmp/copy/tools/run-fuzz.sh"
wait $pid
expect "run-fuzz.sh whose script was edited meanwhile exits 0" 0 $?
expect "... with one summary line and nothing else" 1 "$(wc -l <"$tmp/run5.out")"
grep -q '^fuzz_fake: [0-9]* execs in [0-9]* s, .* crashes 0$' "$tmp/run5.out" &&
    ok "... which is the harness's" || bad "run-fuzz.sh: $(cat "$tmp/run5.out")"

[ "$fails" = 0 ]
