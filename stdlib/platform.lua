-- platform.lua: the platform's retry helper, _C(fn, ...) and _CDelay(ms), IsVirtual(), _Cross, and the doors to
-- stdlib/chart.lua (Chart, KLineChart). Every field of this module becomes a global (runtime/lua/api.c).
--
-- _C calls fn with the given arguments until its first result is neither nil nor false, and returns all its
-- results. After each failed try it logs one line naming the function and the try, then Sleeps the retry
-- interval (3000 ms, or what _CDelay set): a replay's clock moves, a live bot waits, other bots run meanwhile.
-- An error raised by fn is not retried: it goes up to the caller, as the platform's _C lets exceptions through.

local Sleep, Log = Sleep, Log
local delay = 3000

local M = {}

local function describe(fn)
  local info = debug.getinfo(fn, "S")
  if info.what == "C" then return tostring(fn) end
  return "the function at " .. info.short_src .. ":" .. info.linedefined
end

-- Chart(config) and KLineChart(options): stdlib/chart.lua, compiled at the first call. Most strategies draw no
-- chart, and compiling it at every bot's start cost ~0.6 ms of the start. A tail call, so that chart.lua's errors
-- still name the strategy's line (stdlib/caller.lua looks past chart.lua's own frames only).
for _, name in ipairs({ "Chart", "KLineChart" }) do
  M[name] = function(...)
    return require("chart")[name](...)
  end
end

-- require("stratrun.ext"): the platform's two most imported template libraries, its `$` (JavaScript) or `ext`
-- (Python): the trading template (stdlib/tradelib.lua) and the plotting one (stdlib/plotlib.lua) in one table, as
-- a strategy that imports both sees them on the platform. Loaded only when a strategy asks for it.
package.preload["stratrun.ext"] = function()
  local ext = {}
  for _, name in ipairs({ "tradelib", "plotlib" }) do
    for k, v in pairs(require(name)) do ext[k] = v end
  end
  return ext
end

-- IsVirtual() -> true in a replay (the platform's backtest), false live.
local replay = require("stratrun.config").replay
function M.IsVirtual()
  return replay
end

-- _Cross(a, b) -> how many periods ago a crossed b, counted from the last element back while a stays on the same
-- side: positive while a is above b (a crossed above), negative while below, 0 when the last elements are equal.
-- A warm-up value (NaN, TA.NONE) ends the count as a tie does; arrays of different lengths raise, as the platform's.
function M._Cross(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then
    error("_Cross: expects two arrays of numbers, got " .. type(a) .. " and " .. type(b), 2)
  end
  if #a ~= #b then error(("_Cross: the arrays differ in length (%d and %d)"):format(#a, #b), 2) end
  local n = 0
  for i = #a, 1, -1 do
    local x, y = a[i], b[i]
    if type(x) ~= "number" or type(y) ~= "number" then break end
    if x > y then
      if n < 0 then break end
      n = n + 1
    elseif x < y then
      if n > 0 then break end
      n = n - 1
    else
      break
    end
  end
  return n
end

-- _CDelay(ms): the interval between _C's tries, for the rest of the run.
function M._CDelay(ms)
  if type(ms) ~= "number" or not (ms >= 0 and ms <= 1e12) then
    error(("_CDelay: ms must be a number from 0 to 1e12, not %s"):format(type(ms) == "number" and ms or type(ms)), 2)
  end
  delay = ms
end

-- _C(fn, ...): retries fn(...) while it returns nil or false.
function M._C(fn, ...)
  if type(fn) ~= "function" then
    error(("_C: the first argument must be the function itself (_C(exchange.GetTicker), not "
      .. "_C(exchange.GetTicker())), not a %s"):format(type(fn)), 2)
  end
  local try = 0
  while true do
    local r = table.pack(fn(...))
    if r[1] ~= nil and r[1] ~= false then return table.unpack(r, 1, r.n) end
    try = try + 1
    Log(("_C: %s returned %s (try %d); next try in %s ms"):format(describe(fn), tostring(r[1]), try, delay))
    Sleep(delay)
  end
end

return M
