-- metrics.lua: the figures of a replay's results (docs/report.md, "Figures"), from an equity series and a list of
-- fills. Pure functions of their arguments: used by the paper exchange for each bot (stdlib/exchange.lua,
-- _summary) and by the host for the whole replay (runtime/host/replay.c), and checked against hand-computed values
-- (spec/report_spec.lua).
local M = {}

local YEAR_MS = 365 * 86400 * 1000  -- crypto markets trade every day: a year is 365 days of bars

-- The equity series' figures. e = {time = {ms...}, value = {...}} sampled at each bar's close, start the equity
-- before the first sample, from/to the span (ms), period the bar (ms).
function M.series(e, start, from, to, period)
  local t, v = e.time, e.value
  local n = #v
  local f = { start_equity = start, end_equity = n > 0 and v[n] or start }
  if not (start and start > 0) then return f end
  f.total_return = f.end_equity / start - 1
  local span = to - from
  if span > 0 then
    f.annual_return = f.end_equity > 0 and (f.end_equity / start) ^ (YEAR_MS / span) - 1 or -1.0
  end
  -- drawdown: the deepest fall from a running peak, and the longest time from a peak until the equity is back at
  -- it (or the end, not back)
  local peak, peak_t, dd, dd_t, below = start, from, 0.0, 0, false
  -- returns bar to bar (from the start), for Sharpe and Sortino: leaving out a bar whose previous equity is not
  -- positive (a ruined account has no return)
  local prev, sum, sum2, down2, m = start, 0.0, 0.0, 0.0, 0
  for i = 1, n do
    local x = v[i]
    if x >= peak then
      if below and t[i] - peak_t > dd_t then dd_t = t[i] - peak_t end
      peak, peak_t, below = x, t[i], false
    else
      below = true
      local d = peak > 0 and (peak - x) / peak or 0.0
      if d > dd then dd = d end
    end
    if prev > 0 then
      local r = x / prev - 1
      sum, sum2, m = sum + r, sum2 + r * r, m + 1
      if r < 0 then down2 = down2 + r * r end
    end
    prev = x
  end
  if below and t[n] - peak_t > dd_t then dd_t = t[n] - peak_t end
  f.max_drawdown, f.max_drawdown_duration = dd, dd_t
  if m >= 2 and period > 0 then
    local mean = sum / m
    local var = (sum2 - m * mean * mean) / (m - 1)
    local k = math.sqrt(YEAR_MS / period)
    if var > 0 then f.sharpe = mean / math.sqrt(var) * k end
    if down2 > 0 then f.sortino = mean / math.sqrt(down2 / m) * k end
  end
  -- a figure that overflows (the annual return of a short, steep span) is left out: JSON has no infinity
  for key, x in pairs(f) do
    if x ~= x or x == math.huge or x == -math.huge then f[key] = nil end
  end
  return f
end

-- The round trips of a list of fills (each {side, price, amount, fee, effect, position, pnl}): every fill that
-- closes something is one, matched first in, first out against what opened it. Spot: a sell closes the bought
-- coins (coins held at the start are bought at `first`, without a fee), its profit (sell - buy) x amount less both
-- fees' shares; futures: a close, liquidation or settlement of a long or short, its profit the exchange's
-- realized P&L less the fees' shares. Returns the list of profits.
function M.round_trips(trades, coins, first)
  local lots = {}          -- key -> FIFO {price, amount, fee per unit}, with a head index
  local function book(key)
    local b = lots[key]
    if not b then b = { head = 1 } lots[key] = b end
    return b
  end
  if coins and coins > 0 and first then
    local b = book("spot")
    b[1] = { first, coins, 0.0 }
  end
  local out = {}
  for _, tr in ipairs(trades) do
    local key = tr.effect and tr.position or "spot"
    local opens = (tr.effect == nil and tr.side == "buy") or tr.effect == "open"
    local b = book(key)
    if opens then
      b[#b + 1] = { tr.price, tr.amount, tr.amount > 0 and tr.fee / tr.amount or 0.0 }
    else
      local left, gross, fees = tr.amount, 0.0, tr.fee
      while left > 1e-12 and b.head <= #b do
        local lot = b[b.head]
        local q = math.min(left, lot[2])
        gross = gross + (tr.price - lot[1]) * q
        fees = fees + lot[3] * q
        lot[2], left = lot[2] - q, left - q
        if lot[2] <= 1e-12 then b.head = b.head + 1 end
      end
      out[#out + 1] = (tr.pnl or gross) - fees
    end
  end
  return out
end

-- The round trips' figures into f: round_trips, wins (those with a profit > 0), gross_profit, gross_loss (>= 0),
-- win_rate (nil without round trips) and profit_factor (nil without a losing one: it would be infinite).
function M.trade_stats(f, pnls)
  local wins, gain, loss = 0, 0.0, 0.0
  for _, p in ipairs(pnls) do
    if p > 0 then wins, gain = wins + 1, gain + p else loss = loss - p end
  end
  f.round_trips, f.wins, f.gross_profit, f.gross_loss = #pnls, wins, gain, loss
  f.win_rate = #pnls > 0 and wins / #pnls or nil
  f.profit_factor = loss > 0 and gain / loss or nil
end

-- a + b, two equity series sampled at times of their own: at a's times, each plus the latest value of b at or
-- before it (b's start before its first sample).
function M.add(a, b, b_start)
  local t, v = {}, {}
  local k, at, av, bt, bv = 0, a.time, a.value, b.time, b.value
  local nb = #bt
  for i = 1, #at do
    local ti = at[i]
    while k < nb and bt[k + 1] <= ti do k = k + 1 end
    t[i], v[i] = ti, av[i] + (k > 0 and bv[k] or b_start)
  end
  return { time = t, value = v }
end

return M
