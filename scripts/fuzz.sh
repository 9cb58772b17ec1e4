#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang into build-fuzz (ASan + UBSan) and runs each for SECONDS
# (default 60) through `ctest -L fuzz`, then prints each target's executions and libFuzzer's final coverage line.
# Needs what scripts/setup.sh installs (clang, libclang-rt-14-dev). See tests/fuzz/README.md. The seed is fixed
# (STRATRUN_FUZZ_SEED, default 1) so that CI repeats the same search; STRATRUN_FUZZ_SEED=0 picks a new one.
#   scripts/fuzz.sh [SECONDS]
#   scripts/fuzz.sh build        build only (scripts/test.sh does this early, so that a target that no longer
#                                compiles fails the suite in its first minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
dir=build-fuzz
[ "$seconds" = build ] && seconds=60

[ "${1:-}" = build ] || echo "=== fuzz targets, ${seconds}s each"
# -O1 -g without NDEBUG: fast enough to fuzz, asserts kept, readable stacks.
cmake -S . -B "$dir" -DCMAKE_C_COMPILER=clang -DSTRATRUN_FUZZ=ON -DSTRATRUN_FUZZ_SECONDS="$seconds" \
      -DSTRATRUN_FUZZ_SEED="${STRATRUN_FUZZ_SEED:-1}" -DSTRATRUN_WERROR=ON \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g" > /dev/null
cmake --build "$dir" -j "$(nproc)" > /dev/null
[ "${1:-}" = build ] && exit 0
rm -f "$dir"/tests/fuzz/fuzz-logs/*.log
status=0
ctest --test-dir "$dir" -L fuzz --output-on-failure -j "$(nproc)" || status=$?

echo "=== figures (${seconds}s per target)"
printf '%-12s %12s  %s\n' target executions "final libFuzzer line"
for log in "$dir"/tests/fuzz/fuzz-logs/*.log; do
  [ -e "$log" ] || continue
  name=$(basename "$log" .log)
  runs=$(grep -oE 'Done [0-9]+ runs' "$log" | tail -1 | grep -oE '[0-9]+' || true)
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 | tr -s '\t ' ' ' || true)
  printf '%-12s %12s  %s\n' "$name" "${runs:-crashed}" "${done_line:-(no DONE line: see $log)}"
done
exit "$status"
