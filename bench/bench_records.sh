#!/usr/bin/env bash
# GetRecords per call, in a replay over a year of 1-minute candles (the seeded walk): one call per bar for each
# period, base (1 minute), H1, H4 and D1, 100 records each; prints the median and p99 CPU time per call of each
# and their ratio to the base period's (docs/exchange.md, "Records of longer periods").
#   bench/bench_records.sh [BUILD_DIR] [BARS]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$here/build}/stratrun
bars=${2:-525600}
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
cat > "$data/bench.lua" <<'LUA'
local periods = { { "M1", PERIOD_M1 }, { "H1", PERIOD_H1 }, { "H4", PERIOD_H4 }, { "D1", PERIOD_D1 } }
local times = {}
for i = 1, #periods do times[i] = {} end
local clock = os.clock
function main()
  Sleep(86400 * 1000 * 2)          -- two days of history first: every period has bars
  while true do
    for i, p in ipairs(periods) do
      local t0 = clock()
      local r = exchange.GetRecords(p[2])
      local t = times[i]
      t[#t + 1] = clock() - t0
      assert(#r > 0)
    end
    Sleep(60000)
  end
end
function onexit()
  local base
  for i, p in ipairs(periods) do
    local t = times[i]
    table.sort(t)
    local med, p99 = t[#t // 2 + 1] * 1e6, t[math.floor(#t * 0.99) + 1] * 1e6
    base = base or med
    print(string.format("GetRecords(PERIOD_%s): median %.2f us, p99 %.2f us, %.2fx the base period's median (%d calls)",
      p[1], med, p99, med / base, #t))
  end
end
LUA
"$bin" replay --data-dir "$data" --market "sim:seed=42,bars=$bars" "$data/bench.lua" | grep '^GetRecords'
