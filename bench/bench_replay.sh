#!/usr/bin/env bash
# Replays master + follower + monitor over one year of 1-minute candles (525,600 bars of the seeded walk) with this
# build and with commit 0050188 (the baseline of issue 17), in turns, and prints both replays' wall and CPU times and
# the ratios.
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

# replay BIN SRC NAME: one replay, from SRC (for its strategies/); prints its wall time and its CPU time (user +
# system, every thread) in seconds. On a machine other work loads, the CPU time moves less than the wall time.
# Every bot wakes once a bar (interval = the bar period), as a minute strategy does.
replay() {
  local out=$tmp/$3.txt t
  rm -rf "$tmp/data"
  t=$( { TIMEFORMAT='%R %U %S'; time (cd "$2" && "$1" replay --data-dir "$tmp/data" \
    --market "sim:seed=42,bars=$bars" -p interval=60000 -p master=632799 -p bots=632799,632800 \
    strategies/master.lua@632799 strategies/follower.lua@632800 strategies/monitor.lua@632802 \
    > "$out" 2> "$out.err"); } 2>&1 )
  echo "$t" | awk '{ printf "%.2f %.2f", $1, $2 + $3 }'
}

ratio() { awk -v b="$1" -v n="$2" 'BEGIN { printf "%.2fx", b / n }'; }
printf 'bars: %d; each replay with its start-up and summary, in seconds
' "$bars"
printf '%-6s %14s %14s %8s %14s %14s %8s
' round "$base wall" "this wall" ratio "$base CPU" "this CPU" ratio
for r in $(seq 1 "$rounds"); do
  read -r wb cb <<< "$(replay "$base_bin" "$base_src" base)"
  read -r wn cn <<< "$(replay "$bin" "$here" this)"
  printf '%-6s %14s %14s %8s %14s %14s %8s\n' "$r" "$wb" "$wn" "$(ratio "$wb" "$wn")" "$cb" "$cn" "$(ratio "$cb" "$cn")"
  echo "$wb $wn $cb $cn" >> "$tmp/times"
done
# The medians, and each replay's own line (its time without start-up and summary, and bot-iterations/s).
median() { cut -d' ' -f"$1" "$tmp/times" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
wb=$(median 1) wn=$(median 2) cb=$(median 3) cn=$(median 4)
printf '%-6s %14s %14s %8s %14s %14s %8s\n' median "$wb" "$wn" "$(ratio "$wb" "$wn")" "$cb" "$cn" "$(ratio "$cb" "$cn")"
echo "ratio: $base's time / this build's (issue 17 asks for 4x or more)"
printf '%s: %s\n' "$base" "$(grep -h 'replay took' "$tmp/base.txt.err" | tail -1)"
printf 'this:    %s\n' "$(grep -h 'replay took' "$tmp/this.txt.err" | tail -1)"
grep -E '^bot |^6327|^6328' "$tmp/this.txt" || true
