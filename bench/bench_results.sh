#!/usr/bin/env bash
# What a replay's results cost beyond the replay itself (docs/report.md): master + follower + monitor over a year
# of 1-minute candles (as bench_replay.sh), once with the summary only and once each with --json, --csv and
# --report. Prints, per run, the replay's own time (its "replay took" line), the time after it until the process
# ended, and the size of what was written.
#   bench/bench_results.sh [BUILD_DIR] [BARS]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$here/build}/stratrun
bars=${2:-525600}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$here"
printf '%-10s %12s %14s %14s\n' output "replay (s)" "beyond it (s)" "size (bytes)"
for out in none json csv report; do
  data=$work/data-$out
  case $out in
    none) opt=() ;;
    json) opt=(--json "$work/r.json") ;;
    csv) opt=(--csv "$work/csv") ;;
    report) opt=(--report "$work/r.html") ;;
  esac
  start=$(date +%s.%N)
  "$bin" replay --data-dir "$data" --market "sim:seed=42,bars=$bars" --quiet "${opt[@]}" \
    -p interval=60000 -p master=632799 -p bots=632799,632800 \
    strategies/master.lua@632799 strategies/follower.lua@632800 strategies/monitor.lua@632802 \
    > "$work/out.txt" 2> "$work/err.txt"
  end=$(date +%s.%N)
  took=$(sed -n 's/^replay took \([0-9.]*\) s.*/\1/p' "$work/err.txt")
  case $out in
    none) size=- ;;
    json) size=$(stat -c %s "$work/r.json") ;;
    csv) size=$(($(stat -c %s "$work/csv/fills.csv") + $(stat -c %s "$work/csv/equity.csv"))) ;;
    report) size=$(stat -c %s "$work/r.html") ;;
  esac
  awk -v o="$out" -v t="$took" -v s="$start" -v e="$end" -v z="$size" \
    'BEGIN { printf "%-10s %12.2f %14.2f %14s\n", o, t, e - s - t, z }'
  rm -rf "$data"
done
