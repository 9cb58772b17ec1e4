-- results.lua: a replay bot's results, for the host's summary, --json, --csv and --report (runtime/host/replay.c,
-- docs/report.md): its exchange's totals and results since `from` (ms; stdlib/exchange.lua, _summary), its
-- LogProfit series (profit.csv in its folder) and its Chart's series (stdlib/chart.lua, _results). The channel
-- publications and reads are added by the host, which kept them (runtime/lua/channel.c).
local files = require("stratrun.files")
local json = require("json")

local MAX_PROFIT = 64 * 1024 * 1024     -- bytes of profit.csv read at most (a line is ~30 bytes)

-- profit.csv's "time_ms,profit" lines as {time = {...}, value = {...}}.
local function profit()
  local t, v = {}, {}
  local text = files.read("profit.csv", MAX_PROFIT)
  if type(text) == "string" then
    for ms, p in text:gmatch("(%-?%d+),([^\n]+)\n") do
      local x = tonumber(p)
      if x then t[#t + 1], v[#v + 1] = math.tointeger(tonumber(ms)), x end
    end
  end
  return { time = json.array(t), value = json.array(v) }
end

return function(from)
  local sm = require("exchange")._summary(from)
  sm.profit = profit()
  local chart = package.loaded["chart"]
  sm.charts = chart and chart._results() or json.array({})
  return sm
end
