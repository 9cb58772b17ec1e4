#!/usr/bin/env bash
# Runs the whole test suite (docs/reliability.md): the specs of both tiers on a normal build (the bad-input catalogue
# included) and the install; builds with gcc at -O3 (Release) and with clang, and a configure without busted; the
# soak, the specs under valgrind memcheck, the specs again under AddressSanitizer + UndefinedBehaviorSanitizer, the
# threaded parts (channel engine, HTTP thread, rest poller, output queue, step watchdog) under ThreadSanitizer, and the fuzz targets for a bounded
# time each (STRATRUN_FUZZ_SECONDS, default 60). Every build has warnings as errors (STRATRUN_WERROR). Needs what
# scripts/setup.sh installs.
#   scripts/test.sh            everything
#   scripts/test.sh quick      the specs of both tiers on the normal build only
#   scripts/test.sh builds     the builds and the configure without busted only (nothing runs)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
# What the specs keep for a person to look at (the replay reports of the samples and the ports, a screenshot of
# one): CI's artifacts.
export STRATRUN_ARTIFACTS=${STRATRUN_ARTIFACTS:-$PWD/artifacts}
mkdir -p "$STRATRUN_ARTIFACTS"

run() {   # run NAME BUILD_DIR [cmake options...] -- [ctest options...]
  local name=$1 dir=$2; shift 2
  local copts=() topts=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do copts+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  topts=("$@")
  echo "=== $name"
  cmake -S . -B "$dir" -DSTRATRUN_WERROR=ON "${copts[@]}" > /dev/null
  cmake --build "$dir" -j "$jobs" > /dev/null
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" "${topts[@]}"
}

# Every target with the optimiser's warnings of gcc at -O3, and with clang's; built, not run (the fuzz targets are
# built with clang by scripts/fuzz.sh).
builds() {
  echo "=== Release build with gcc, warnings as errors"
  cmake -S . -B build-release -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Release -DSTRATRUN_WERROR=ON > /dev/null
  cmake --build build-release -j "$jobs" > /dev/null
  echo "=== Release build with clang, warnings as errors"
  cmake -S . -B build-clang -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Release -DSTRATRUN_WERROR=ON > /dev/null
  cmake --build build-clang -j "$jobs" > /dev/null
  echo "=== fuzz targets, built (they run last)"
  bash scripts/fuzz.sh build

  # busted is needed for the specs only: with no busted to find (a PATH of every tool but busted, and not CMake's
  # own search of /usr/bin), the configure works, says so, and adds no spec.
  echo "=== configure without busted"
  local tools dirs d log tests
  tools=$(mktemp -d)
  IFS=: read -ra dirs <<< "$PATH"
  for d in "${dirs[@]}"; do     # the first of a name on PATH is linked, as a search of PATH finds it
    [ -d "$d" ] && find -L "$d" -maxdepth 1 -type f ! -name busted -exec ln -s -t "$tools" {} + 2> /dev/null || true
  done
  rm -rf build-nobusted
  log=$(PATH=$tools cmake -S . -B build-nobusted -DCMAKE_FIND_USE_CMAKE_SYSTEM_PATH=OFF -DSTRATRUN_WERROR=ON)
  rm -rf "$tools"
  grep -qxF -- "-- busted not found: the specs (spec/*_spec.lua) are not added to the tests" <<< "$log" ||
    { echo "configure without busted: no line saying the specs are left out" >&2; exit 1; }
  tests=$(ctest --test-dir build-nobusted -N -C slow)
  if grep -q '_spec$' <<< "$tests"; then
    echo "configure without busted: specs were added" >&2; exit 1
  fi
}

case ${1:-} in
  quick)  run "specs, both tiers" build -DCMAKE_BUILD_TYPE=RelWithDebInfo -- -C slow -LE soak; exit 0 ;;
  builds) builds; exit 0 ;;
esac

run "specs, both tiers" build -DCMAKE_BUILD_TYPE=RelWithDebInfo -- -C slow -LE soak
builds

echo "=== soak"
ctest --test-dir build --output-on-failure -V -C slow -L soak     # -V: the figures are in the log

echo "=== specs under valgrind memcheck"
bash scripts/memcheck.sh build

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run "specs under ASan+UBSan" build-asan -DCMAKE_BUILD_TYPE=Debug -DSTRATRUN_SANITIZE=ON -- -C slow -LE soak

export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
run "threads under TSan" build-tsan -DCMAKE_BUILD_TYPE=Debug -DSTRATRUN_TSAN=ON -- -C slow -L "engine|http|threads"
echo "=== the soak under TSan"
build-tsan/stratrun --data-dir build-tsan/soak-home --id soak-driver tests/soak.lua 30 --redis-seconds 20 --no-rss

# Every parser of outside input under libFuzzer (ASan+UBSan), a bounded time each (tests/fuzz/README.md).
bash scripts/fuzz.sh "${STRATRUN_FUZZ_SECONDS:-60}"
