-- bench_report.lua: the HTML report (stdlib/report.lua) of a synthetic year of 1-minute bars for 3 bots: its size
-- in bytes and the render time (median of 5). Prints figures, asserts nothing about time (bench/README.md).
--   build/stratrun bench/bench_report.lua        (the embedded module)
--   lua5.4 -e 'package.path="stdlib/?.lua;"..package.path' bench/bench_report.lua
local report = require("report")

local BARS, MIN = 525600, 60000
local T0 = 1704067200000                      -- 2024-01-01T00:00:00Z

-- A 64-bit LCG (integers wrap), its top 53 bits: the same data on every machine, without math.random's state.
local function lcg(seed)
  local x = seed
  return function()
    x = x * 6364136223846793005 + 1442695040888963407
    return (x >> 11) / 9007199254740992.0
  end
end

local rnd = lcg(42)
local price = {}
local p = 43000
for i = 1, BARS do
  p = p * (1 + (rnd() - 0.5) * 0.002)
  price[i] = p
end

-- The host's display buckets: 1000 candles over the year.
local candles = { time = {}, open = {}, high = {}, low = {}, close = {} }
local per = BARS // 1000
for k = 1, 1000 do
  local a, b = (k - 1) * per + 1, k * per
  local hi, lo = -math.huge, math.huge
  for i = a, b do hi, lo = math.max(hi, price[i]), math.min(lo, price[i]) end
  candles.time[k], candles.open[k], candles.close[k] = T0 + (a - 1) * MIN, price[a], price[b]
  candles.high[k], candles.low[k] = hi, lo
end

local FIG = { start_equity = 10000, end_equity = 11234.5, total_return = 0.12345, annual_return = 0.12345,
  max_drawdown = 0.2345, max_drawdown_duration = 86400000 * 40, sharpe = 0.81, sortino = 1.1, round_trips = 2000,
  win_rate = 0.52, profit_factor = 1.07, exposure = 0.5, trades = 4000, fees = 812.5, buy_hold_return = 0.03 }

-- Bot k trades every 60 * k bars (4000 fills and more for the first), publishes every bar (the master's
-- signal), and reads the previous bot's channel a bar after each publication.
local function bot(k)
  local eq, trades, pubs, reads = { time = {}, value = {} }, {}, {}, {}
  local coins, cash = 0, 10000
  for i = 1, BARS do
    local t = T0 + i * MIN
    if i % (60 * k) == 0 then
      local side = coins > 0 and "sell" or "buy"
      local amount = side == "buy" and cash / price[i] * 0.999 or coins
      if side == "buy" then coins, cash = amount, 0 else cash, coins = coins * price[i] * 0.999, 0 end
      trades[#trades + 1] = { time = t, side = side, price = price[i], amount = amount, fee = 0.1,
        order = #trades + 1, exchange = 1 }
    end
    eq.time[i], eq.value[i] = t, cash + coins * price[i]
    pubs[i] = { time = t, seq = i, data = string.format('{"signal":"HOLD","price":%.2f,"bar":%d}', price[i], i) }
    if k > 1 then reads[i] = { time = t + MIN, channel = tostring(632798 + k), seq = i } end
  end
  return { id = tostring(632799 + k - 1), script = "strategies/bot" .. k .. ".lua", status = 0, orders = #trades,
    fills = #trades, fees = #trades * 0.1, balance = cash, stocks = coins, value = eq.value[BARS], pnl = 0,
    start_value = 10000, symbol = "BTC_USDT", quote = "USDT", trades = trades, equity = eq, candles = candles,
    figures = FIG, profit = { time = {}, value = {} }, charts = {}, publications = pubs, reads = reads }
end

local data = { from = T0, to = T0 + BARS * MIN, period = MIN, figures = FIG, bots = { bot(1), bot(2), bot(3) } }
local whole = { time = {}, value = {} }
for i = 1, BARS do
  whole.time[i] = T0 + i * MIN
  whole.value[i] = data.bots[1].equity.value[i] + data.bots[2].equity.value[i] + data.bots[3].equity.value[i]
end
data.equity = whole

local times, html = {}, nil

for run = 1, 5 do
  local c = os.clock()
  html = report.render(data)
  times[run] = os.clock() - c
end
table.sort(times)
print(string.format("report of 3 bots x %d bars (%d fills, %d publications): %d bytes of HTML, render %.3f s "
  .. "(median of 5; min %.3f, max %.3f)", BARS, #data.bots[1].trades + #data.bots[2].trades + #data.bots[3].trades,
  3 * BARS, #html, times[3], times[1], times[5]))
