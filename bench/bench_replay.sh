#!/usr/bin/env bash
# Replays master + follower + monitor over one year of 1-minute candles (525,600 bars of the seeded walk) and
# prints the wall time and bot-iterations per second (the replay's own summary line).
#   bench/bench_replay.sh [BUILD_DIR] [BARS]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$here/build}/stratrun
bars=${2:-525600}
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
cd "$here"
# Every bot wakes once a bar (interval = the bar period), as a minute strategy does.
start=$(date +%s.%N)
"$bin" replay --data-dir "$data" --market "sim:seed=42,bars=$bars" \
  -p interval=60000 -p master=632799 -p bots=632799,632800 \
  strategies/master.lua@632799 strategies/follower.lua@632800 strategies/monitor.lua@632802 > "$data/out.txt"
end=$(date +%s.%N)
grep -E '^replay |^bot |^6327|^6328' "$data/out.txt"
awk -v s="$start" -v e="$end" -v b="$bars" 'BEGIN { printf "bars: %d; wall time including start-up: %.2f s\n", b, e - s }'
