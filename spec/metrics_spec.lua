-- metrics_spec.lua: the replay's figures (stdlib/metrics.lua, docs/report.md "Figures") against values worked out
-- by hand on a small equity path and a few fills.
local metrics = require("metrics")

local DAY = 86400000

local function near(want, got, what)
  assert(type(got) == "number", what .. ": no value")
  assert(math.abs(got - want) <= 1e-9 * math.max(1, math.abs(want)), string.format("%s: want %.17g, got %.17g", what,
    want, got))
end

describe("the figures of an equity series", function()
  -- Daily bars: 100 at the start, then 110, 99, 121, 110. Returns +10 %, -10 %, +22.2 %, -9.09 %.
  local e = { time = { DAY, 2 * DAY, 3 * DAY, 4 * DAY }, value = { 110.0, 99.0, 121.0, 110.0 } }
  local f = metrics.series(e, 100.0, 0, 4 * DAY, DAY)

  it("has the total and annualized return", function()
    near(0.1, f.total_return, "total return")
    near(1.1 ^ (365 / 4) - 1, f.annual_return, "annual return")     -- 5984.25: four days at +10 %
    near(110, f.end_equity, "end equity")
  end)

  it("has the deepest drawdown and the longest time under a peak", function()
    -- 110 -> 99 is -10 %; 121 -> 110 only -9.09 %. The peak of day 1 is regained on day 3 (2 days); the peak
    -- of day 3 is not regained by the end (1 day).
    near(0.1, f.max_drawdown, "max drawdown")
    assert.are.equal(2 * DAY, f.max_drawdown_duration)
  end)

  it("has Sharpe and Sortino annualized over 365 daily bars", function()
    -- mean of the 4 returns 0.0328283; their sample deviation 0.1563505; downside deviation
    -- sqrt((0.1^2 + 0.0909091^2) / 4) = 0.0675724; times sqrt(365)
    near(4.011395190299982, f.sharpe, "Sharpe")
    near(9.281563549948677, f.sortino, "Sortino")
  end)

  it("leaves out what does not exist: no returns, no losses, an overflow", function()
    local flat = metrics.series({ time = { DAY }, value = { 100.0 } }, 100.0, 0, DAY, DAY)
    assert.are.equal(0, flat.max_drawdown)
    assert.is_nil(flat.sharpe)
    assert.is_nil(flat.sortino)
    -- +50 % in one minute, annualized: beyond a double; JSON has no infinity
    local steep = metrics.series({ time = { 60000 }, value = { 150.0 } }, 100.0, 0, 60000, 60000)
    near(0.5, steep.total_return, "total return")
    assert.is_nil(steep.annual_return)
  end)
end)

describe("round trips", function()
  it("match each sell first in, first out against the buys and the coins held at the start", function()
    -- 1 coin held at the start (valued at the first close, 10, no fee); buy 2 at 12 (fee 0.24); sell 2 at 15
    -- (fee 0.3): the held coin (+5) and 1 of the bought (+3, less its 0.12 of the buy fee), less the sell fee:
    -- 5 + 3 - 0.12 - 0.3 = 7.58; sell 1 at 11 (fee 0.11): the other bought coin, -1 - 0.12 - 0.11 = -1.23
    local trips = metrics.round_trips({
      { side = "buy", price = 12, amount = 2, fee = 0.24 },
      { side = "sell", price = 15, amount = 2, fee = 0.3 },
      { side = "sell", price = 11, amount = 1, fee = 0.11 },
    }, 1, 10)
    assert.are.equal(2, #trips)
    near(7.58, trips[1], "first round trip")
    near(-1.23, trips[2], "second round trip")
    local f = {}
    metrics.trade_stats(f, trips)
    assert.are.equal(2, f.round_trips)
    near(0.5, f.win_rate, "win rate")
    near(7.58 / 1.23, f.profit_factor, "profit factor")
  end)

  it("of futures take the exchange's realized profit less the fees of the open and the close", function()
    local trips = metrics.round_trips({
      { side = "buy", price = 100, amount = 2, fee = 0.1, effect = "open", position = "long" },
      { side = "sell", price = 90, amount = 1, fee = 0.2, effect = "open", position = "short" },
      { side = "sell", price = 110, amount = 1, fee = 0.05, effect = "close", position = "long", pnl = 10 },
      { side = "buy", price = 95, amount = 1, fee = 0, effect = "liquidation", position = "short", pnl = -5 },
    })
    near(10 - 0.05 - 0.05, trips[1], "long closed")      -- half the open's fee
    near(-5 - 0.2, trips[2], "short liquidated")
    local f = {}
    metrics.trade_stats(f, trips)
    near(0.5, f.win_rate, "win rate")
  end)

  it("without a losing one have no profit factor", function()
    local f = {}
    metrics.trade_stats(f, { 1.0, 2.0 })
    assert.are.equal(1, f.win_rate)
    assert.is_nil(f.profit_factor)
    metrics.trade_stats(f, {})
    assert.is_nil(f.win_rate)
  end)
end)

it("adds two equity series at the first one's times, the second's latest value at or before each", function()
  local a = { time = { 10, 20, 30 }, value = { 1.0, 2.0, 3.0 } }
  local b = { time = { 15, 30 }, value = { 100.0, 200.0 } }
  local s = metrics.add(a, b, 50.0)
  assert.are.same({ 10, 20, 30 }, s.time)
  assert.are.same({ 51.0, 102.0, 203.0 }, s.value)
end)
