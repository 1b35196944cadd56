#!/usr/bin/env bash
# The fuzzing part of `make test`: every harness in build-fuzz/fuzz/ runs
# each input of its seed corpus (tests/fuzz/corpus/<name>/) once and must
# neither crash nor break an invariant.  Prints cmocka-style summary lines
# (one test per harness) for tools/run-tests.sh.
root=$(cd "$(dirname "$0")/../.." && pwd)
exec "$root/tools/run-fuzz.sh" --smoke "$root"/build-fuzz/fuzz/fuzz_*
