#!/usr/bin/env bash
# Replays master + follower + monitor over one year of 1-minute candles (525,600 bars of the seeded walk) with this
# build and with commit 0050188 (the baseline of issue 17), in turns, and prints both replays' times and the ratio.
#   bench/bench_replay.sh [BUILD_DIR] [BARS] [ROUNDS]
# The baseline is built once, Release, in a temporary `git worktree` removed on exit. BASE_BIN=PATH skips that
# build and uses a stratrun built from 0050188 already. Each build replays its own commit's strategies/ (0050188's
# monitor.lua lacks the clock_ahead lines, which do nothing in a replay), with the same options, which both accept.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$here/build}/stratrun
bars=${2:-525600}
rounds=${3:-3}
base=0050188
case $bars in ''|*[!0-9]*|0) echo "bench_replay.sh: BARS '$bars' must be a whole number above 0" >&2; exit 2 ;; esac
case $rounds in ''|*[!0-9]*|0) echo "bench_replay.sh: ROUNDS '$rounds' must be a whole number above 0" >&2; exit 2 ;; esac
[ -x "$bin" ] || { echo "bench_replay.sh: no stratrun at '$bin' (build it, or give BUILD_DIR)" >&2; exit 2; }
tmp=$(mktemp -d)
wt=
cleanup() {
  if [ -n "$wt" ]; then git -C "$here" worktree remove --force "$wt" >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

if [ -n "${BASE_BIN:-}" ]; then
  base_bin=$BASE_BIN
  base_src=$tmp/base-src
  mkdir -p "$base_src"
  git -C "$here" archive "$base" strategies | tar -x -C "$base_src"
else
  wt=$tmp/base
  git -C "$here" worktree add --detach "$wt" "$base" >/dev/null 2>&1
  echo "building $base (Release) in a temporary worktree..." >&2
  # 0050188 always builds with -Werror, and at -O3 this GCC warns of two truncations it did not see at -O2.
  cmake -S "$wt" -B "$wt/build" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_FLAGS="-Wno-format-truncation -Wno-stringop-truncation" >/dev/null
  cmake --build "$wt/build" -j1 --target stratrun >/dev/null
  base_bin=$wt/build/stratrun
  base_src=$wt
fi

# replay BIN SRC NAME: one replay, from SRC (for its strategies/); prints its wall time in seconds.
# Every bot wakes once a bar (interval = the bar period), as a minute strategy does.
replay() {
  local out=$tmp/$3.txt start end
  rm -rf "$tmp/data"
  start=$(date +%s.%N)
  (cd "$2" && "$1" replay --data-dir "$tmp/data" --market "sim:seed=42,bars=$bars" \
    -p interval=60000 -p master=632799 -p bots=632799,632800 \
    strategies/master.lua@632799 strategies/follower.lua@632800 strategies/monitor.lua@632802) > "$out" 2> "$out.err"
  end=$(date +%s.%N)
  awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f", e - s }'
}

printf 'bars: %d; wall time of each replay, start-up and summary included\n' "$bars"
printf '%-6s %12s %12s %8s\n' round "$base (s)" "this (s)" ratio
for r in $(seq 1 "$rounds"); do
  tb=$(replay "$base_bin" "$base_src" base)
  tn=$(replay "$bin" "$here" this)
  printf '%-6s %12s %12s %7.2fx\n' "$r" "$tb" "$tn" "$(awk -v b="$tb" -v n="$tn" 'BEGIN { print b / n }')"
  echo "$tb $tn" >> "$tmp/times"
done
# The medians, and each replay's own line (its time without start-up, and bot-iterations/s).
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
mb=$(cut -d' ' -f1 "$tmp/times" | median)
mn=$(cut -d' ' -f2 "$tmp/times" | median)
printf '%-6s %12s %12s %7.2fx\n' median "$mb" "$mn" "$(awk -v b="$mb" -v n="$mn" 'BEGIN { print b / n }')"
echo "ratio: $base's time / this build's (issue 17 asks for 4x or more)"
printf '%s: %s\n' "$base" "$(grep -h 'replay took' "$tmp/base.txt.err" | tail -1)"
printf 'this:    %s\n' "$(grep -h 'replay took' "$tmp/this.txt.err" | tail -1)"
grep -E '^bot |^6327|^6328' "$tmp/this.txt" || true
