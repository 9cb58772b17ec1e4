-- Spec for the paper exchange's futures (stdlib/exchange.lua, stdlib/futures.lua), as docs/futures.md describes
-- them: contracts, directions, margin, fees, funding, liquidation, expiry, the account file, bad input, and the
-- invariants a long random replay must keep.
--
-- Most cases drive a private instance (exchange._new) on a market of known candles and a clock the test moves, so
-- every price, margin and fee is exact. The last two blocks run real stratrun processes on CSV files.
local h = require("helpers")

local H = 3600000               -- the period of the test markets: one hour
local T_SCALE = h.time_scale    -- limits that only catch hangs stretch under valgrind
local T0 = 1704067200000        -- 2024-01-01T00:00:00Z, a Monday

-- A private futures exchange on n flat hourly candles at price px, the clock just after candle `at` closed.
local function world(opts)
  opts = opts or {}
  local w = { candles = {}, logs = {}, lines = {}, notes = {} }
  for i = 1, opts.n or 200 do
    local p = opts.px or 40000
    w.candles[i] = { T0 + (i - 1) * H, p, p, p, p, 10 }
  end
  w.t = T0 + (opts.at or 1) * H + 5
  local cfg = { kind = "futures", balance = 10000 }
  for k, v in pairs(opts.config or {}) do cfg[k] = v end
  w.ex = exchange._new {
    config = cfg,
    market = h.fake_market(w.candles, H),
    now = function() return w.t end,
    log = function(msg) w.logs[#w.logs + 1] = msg end,
    note = function(msg) w.notes[#w.notes + 1] = msg end,
    say = function(...)
      local t = table.pack(...)
      for i = 1, t.n do t[i] = tostring(t[i]) end
      w.lines[#w.lines + 1] = table.concat(t, " ", 1, t.n)
    end,
    keep = opts.keep,
    who = opts.who,
  }
  return w
end

-- A long of 1 (filled at the ask, 40004) at 50x on 1000 USDT: a candle down to 39000 liquidates it.
local function long_at_50x(opts)
  opts = opts or {}
  opts.config = { balance = 1000, leverage = 50 }
  local w = world(opts)
  w.ex.SetContractType("swap")
  w.ex.SetDirection("buy")
  w.ex.Buy(-1, 1)
  return w
end

-- Candle k (1-based) becomes open, high, low, close.
local function bar(w, k, o, hi, lo, c)
  w.candles[k] = { T0 + (k - 1) * H, o, hi, lo, c, 10 }
end

-- Candles from k on all at price p.
local function level(w, k, p)
  for i = k, #w.candles do w.candles[i] = { T0 + (i - 1) * H, p, p, p, p, 10 } end
end

local function to(w, k) w.t = T0 + k * H + 5 end

local function near(a, b, what)
  assert(type(b) == "number" and math.abs(a - b) <= 1e-9 * math.max(1, math.abs(a), math.abs(b)),
    string.format("%s: expected %.17g, got %s", what or "value", a, tostring(b)))
end

local function last(list) return list[#list] end

describe("a futures exchange's orders", function()
  it("opens a long with Buy after SetDirection('buy') and closes it with Sell after 'closebuy', realizing the move", function()
    local w = world()
    local c = w.ex.SetContractType("swap")
    assert.are.same({ ContractType = "swap", Symbol = "BTC_USDT.swap", InstrumentID = "BTCUSDT", CtVal = 1,
                      Expiry = 0 }, c)
    assert.is_true(w.ex.SetDirection("buy"))
    -- the ask is 40000 x 1.0001 = 40004; the taker fee 0.05 %
    local id = w.ex.Buy(-1, 1)
    assert.are.equal(1, id)
    local o = w.ex.GetOrder(id)
    assert.are.same({ 1, 40004, 0, "swap", "BTC_USDT.swap" }, { o.DealAmount, o.AvgPrice, o.Offset, o.ContractType,
                                                              o.Symbol })
    assert.are.equal("Buy market 1 open long BTC_USDT.swap (order 1)", w.lines[1])
    level(w, 3, 41000)
    to(w, 3)
    local p = w.ex.GetPosition()
    assert.are.equal(1, #p)
    assert.are.same({ 10, 1, 0, 40004, PD_LONG, "swap", "BTC_USDT.swap" },
      { p[1].MarginLevel, p[1].Amount, p[1].FrozenAmount, p[1].Price, p[1].Type, p[1].ContractType, p[1].Symbol })
    near(996, p[1].Profit, "Profit at the mark 41000")
    near(4000.4, p[1].Margin, "Margin: 40004 / 10")
    local a = w.ex.GetAccount()
    local wallet = 10000 - 40004 * 0.0005
    near(wallet + 996, a.Equity, "Equity")
    near(996, a.UPnL, "UPnL")
    near(wallet + 996 - 4000.4, a.Balance, "Balance: the margin free")
    assert.is_true(w.ex.SetDirection("closebuy"))
    assert.is_number(w.ex.Sell(-1, 1))
    -- the bid is 41000 x 0.9999 = 40995.9
    near(wallet + (40995.9 - 40004) - 40995.9 * 0.0005, w.ex.GetAccount().Equity, "Equity after the close")
    assert.are.same({}, w.ex.GetPositions())
    assert.matches("^Filled sell 1 at 40995.9, fee 20.49795 USDT, profit 991.9%d* USDT %(order 2%)$", last(w.lines))
  end)

  it("keeps a long and a short apart (hedge mode), and CreateOrder takes the current API's symbols and sides", function()
    local w = world({ config = { balance = 30000 } })
    w.ex.SetContractType("swap")
    assert.is_number(w.ex.CreateOrder("BTC_USDT.swap", "buy", -1, 2))
    assert.is_number(w.ex.CreateOrder("BTC_USDT.swap", "sell", -1, 1))
    local ps = w.ex.GetPositions("BTC_USDT.swap")
    assert.are.same({ PD_LONG, 2, 40004 }, { ps[1].Type, ps[1].Amount, ps[1].Price })
    assert.are.same({ PD_SHORT, 1, 39996 }, { ps[2].Type, ps[2].Amount, ps[2].Price })
    assert.is_number(w.ex.CreateOrder("BTC_USDT.swap", "closesell", -1, 1))
    ps = w.ex.GetPositions()
    assert.are.equal(1, #ps)
    assert.are.equal(PD_LONG, ps[1].Type)
  end)

  it("rests a limit order below the ask with its margin frozen, and fills it as a maker when a candle reaches it", function()
    local w = world()
    w.ex.SetContractType("swap")
    w.ex.SetDirection("buy")
    local id = w.ex.Buy(39000, 1)
    local a = w.ex.GetAccount()
    near(3900 + 39000 * 0.0002, a.FrozenBalance, "FrozenBalance: margin and maker fee")
    near(10000 - a.FrozenBalance, a.Balance, "Balance")
    assert.are.same({}, w.ex.GetPosition())
    bar(w, 3, 40000, 40000, 38900, 39500)
    to(w, 3)
    local o = w.ex.GetOrder(id)
    assert.are.same({ ORDER_STATE_CLOSED, 1, 39000 }, { o.Status, o.DealAmount, o.AvgPrice })
    local p = w.ex.GetPosition()[1]
    assert.are.same({ 1, 39000 }, { p.Amount, p.Price })
    near(10000 - 39000 * 0.0002, w.ex.GetAccount().Equity - p.Profit, "the wallet paid the maker fee")
    assert.are.equal(0, w.ex.GetAccount().FrozenBalance)
  end)

  it("averages the opens' fill prices and freezes the contracts of a pending close", function()
    local w = world({ config = { balance = 30000 } })
    w.ex.SetContractType("swap")
    w.ex.SetDirection("buy")
    w.ex.Buy(-1, 1)
    level(w, 3, 42000)
    to(w, 3)
    w.ex.Buy(-1, 3)                   -- at 42004.2
    local p = w.ex.GetPosition()[1]
    near((40004 + 3 * 42004.2) / 4, p.Price, "the fill-weighted average")
    w.ex.SetDirection("closebuy")
    w.ex.Sell(50000, 3)               -- rests above the bid
    p = w.ex.GetPosition()[1]
    assert.are.same({ 4, 3 }, { p.Amount, p.FrozenAmount })
    assert.is_nil(w.ex.Sell(-1, 2))
    assert.matches("closes 2 of the long BTC_USDT.swap position, which holds 4 %(3 in pending close orders%)",
      last(w.logs))
  end)

  it("counts contracts of ct_val 0.01: margin, Profit, fees, funding, realized P&L of amount x ct_val coins", function()
    local w = world({ config = { balance = 20000, ct_val = 0.01, amount_size = 1, funding_rate = 0.0001 } })
    assert.are.equal(0.01, w.ex.SetContractType("swap").CtVal)
    w.ex.SetDirection("buy")
    w.ex.Buy(-1, 200)                       -- 200 contracts of 0.01 BTC: 2 BTC at the ask, 40004
    assert.are.equal("Filled buy 200 at 40004, fee 40.004 USDT (order 1)", last(w.lines))
    local p = w.ex.GetPosition()[1]
    assert.are.same({ 200, 40004, 0.01 * 200 }, { p.Amount, p.Price, w.ex._summary().stocks })
    near(8000.8, p.Margin, "Margin: 40004 x 200 x 0.01 / 10")
    near(-8, p.Profit, "Profit at the mark 40000: (40000 - 40004) x 200 x 0.01")
    level(w, 3, 41000)
    to(w, 3)
    local wallet = 20000 - 40.004
    p = w.ex.GetPosition()[1]
    near(1992, p.Profit, "Profit at the mark 41000")
    local a = w.ex.GetAccount()
    near(wallet + 1992, a.Equity, "Equity")
    near(wallet + 1992 - 8000.8, a.Balance, "Balance: the equity less the margin")
    -- a short of 100 contracts resting above the bid: its margin and maker fee are frozen
    w.ex.SetDirection("sell")
    w.ex.Sell(41500, 100)
    near(41500 * 100 * 0.01 * (1 / 10 + 0.0002), w.ex.GetAccount().FrozenBalance, "FrozenBalance: 4158.3")
    -- 150 of the long closed at the bid, 40995.9: (40995.9 - 40004) x 150 x 0.01 realized, 0.05 % of 40995.9 x 1.5
    -- paid
    w.ex.SetDirection("closebuy")
    w.ex.Sell(-1, 150)
    assert.are.equal("Filled sell 150 at 40995.9, fee 30.746925 USDT, profit 1487.85 USDT (order 3)", last(w.lines))
    bar(w, 4, 41000, 41600, 41000, 41000)   -- reaches the short's 41500: it fills as a maker, 8.3 of fee
    to(w, 4)
    assert.are.equal(0, w.ex.GetAccount().FrozenBalance)     -- a call settles the candles closed since the last
    assert.are.equal("Filled sell 100 at 41500, fee 8.3 USDT (order 2)", last(w.lines))
    bar(w, 8, 40500, 41000, 40500, 41000)   -- the candle that closes at 08:00, the funding's time
    to(w, 10)                               -- at its close, 41000: the long of 0.5 BTC pays 2.05, the short of 1 BTC
    local sm = w.ex._summary()              -- receives 4.1
    near(1487.85, sm.futures.realized, "realized")
    near(40.004 + 30.746925 + 8.3, sm.fees, "fees")
    near(-2.05 + 4.1, sm.futures.funding, "funding")
    near(20000 + 1487.85 - (40.004 + 30.746925 + 8.3) + 2.05, sm.balance, "the wallet")
    near(0.5 - 1, sm.stocks, "the net position in BTC")
    near(996 * 0.5 + 500 * 1, sm.futures.unrealized, "unrealized: the long's 996 x 0.5, the short's 500 x 1")
    local ps = w.ex.GetPositions()
    assert.are.same({ PD_LONG, 50, PD_SHORT, 100 }, { ps[1].Type, ps[1].Amount, ps[2].Type, ps[2].Amount })
    near(40004 * 50 * 0.01 / 10, ps[1].Margin, "the long's Margin: 2000.2")
    near(41500 * 100 * 0.01 / 10, ps[2].Margin, "the short's Margin: 4150")
    -- a long of 100 contracts (1 BTC) at 50x on 1000 USDT liquidates where a long of 1 contract of 1 BTC does
    local l = world({ config = { balance = 1000, leverage = 50, ct_val = 0.01, amount_size = 1 } })
    l.ex.SetContractType("swap")
    l.ex.SetDirection("buy")
    l.ex.Buy(-1, 100)
    near(800.08, l.ex.GetPosition()[1].Margin, "Margin at 50x")
    local lp = (40004 - (1000 - 40004 * 0.0005)) / 0.996
    bar(l, 3, 40000, 40000, 39000, 39500)
    to(l, 3)
    sm = l.ex._summary()
    assert.are.same({ 1, 0 }, { sm.futures.liquidations, sm.balance })
    near(lp - 40004, sm.futures.realized, "the close at the liquidation price")
    near(0.004 * lp, sm.futures.forfeit, "the maintenance margin forfeit")
  end)
end)

describe("a futures exchange's bad input", function()
  it("refuses each with one line naming the call and the value, returns nil and leaves the account as it was", function()
    local w = world()
    local before = w.ex.GetAccount()
    assert.is_nil(w.ex.Buy(-1, 1))
    assert.matches("^exchange.Buy: no contract is set: call exchange.SetContractType%(\"swap\"%) first", last(w.logs))
    assert.is_nil(w.ex.SetContractType("month"))
    assert.matches("unknown contract type 'month' %(the paper exchange has swap, this_week", last(w.logs))
    w.ex.SetContractType("swap")
    assert.is_nil(w.ex.Buy(-1, 1))
    assert.matches("no direction is set: Buy needs exchange.SetDirection", last(w.logs))
    assert.is_nil(w.ex.SetDirection("long"))
    assert.matches("^exchange.SetDirection: the direction must be one of buy, sell, closebuy, closesell, got 'long'",
      last(w.logs))
    w.ex.SetDirection("buy")
    assert.is_nil(w.ex.Sell(-1, 1))
    assert.matches("^exchange.Sell: the direction is 'buy', which Buy takes; Sell needs \"sell\"", last(w.logs))
    assert.is_nil(w.ex.Buy(-1, 0.0015))
    assert.matches("^exchange.Buy: amount 0.0015 is not a whole number of amount steps of 0.001", last(w.logs))
    w.ex.SetDirection("closesell")
    assert.is_nil(w.ex.Buy(-1, 1))
    assert.matches("closes 1 of the short BTC_USDT.swap position, which holds 0 .*never opens the opposite", last(w.logs))
    for _, n in ipairs({ 0, 126, 2.5 }) do
      assert.is_nil(w.ex.SetMarginLevel(n))
      assert.matches("^exchange.SetMarginLevel: the level must be a whole number from 1 to 125 %(max_leverage%), got "
        .. tostring(n):gsub("%.", "%%."), last(w.logs))
    end
    assert.is_nil(w.ex.GetPositions("BTC_USDT.month"))
    assert.is_nil(w.ex.GetPositions("ETH_USDT.swap"))
    w.ex.SetDirection("buy")
    assert.is_nil(w.ex.Buy(-1, 3))         -- 3 x 40004 / 10 = 12001.2 of margin: more than the 10000
    assert.matches("^exchange.Buy: insufficient margin: needs 12061.2%d* USDT %(margin at 10x and fee%)", last(w.logs))
    assert.are.same(before, w.ex.GetAccount())
    assert.are.same({}, w.ex.GetPositions())
  end)

  it("refuses the futures calls on a spot exchange, with the config key that makes one", function()
    local w = world({ config = { kind = "spot" } })
    for _, call in ipairs({ "SetContractType", "SetDirection", "SetMarginLevel", "GetPosition", "GetPositions",
                            "GetFundings", "GetContractType" }) do
      assert.is_nil(w.ex[call](call == "SetMarginLevel" and 10 or "swap"))
      assert.are.equal("exchange." .. call .. ": this is a spot exchange; futures need exchange.kind = \"futures\" in "
        .. "the config (docs/futures.md)", last(w.logs))
    end
    assert.is_nil(w.ex.CreateOrder("", "closebuy", -1, 1))
    assert.matches("side 'closebuy' closes a futures position: this is a spot exchange", last(w.logs))
  end)

  it("checks the futures settings at start, naming the key and what is allowed", function()
    local check = require("exchange_settings").check
    local cases = {
      { { kind = "margin" }, "exchange.kind must be \"spot\" or \"futures\", got 'margin'" },
      { { kind = "futures", stocks = 1 }, "exchange.stocks is a spot account's coins; a futures account holds only" },
      { { kind = "futures", leverage = 200 }, "exchange.leverage 200 is above exchange.max_leverage 125" },
      { { kind = "futures", leverage = 2.5 }, "exchange.leverage is a whole number from 1 to 1000, got 2.5" },
      { { kind = "futures", maintenance_margin = 0.01 }, "exchange.maintenance_margin 0.01 at max_leverage 125 would "
        .. "liquidate a position as it opens" },
      { { kind = "futures", funding_rate = 1.5 }, "exchange.funding_rate is a fraction per interval between -1 and 1, "
        .. "got 1.5" },
      { { kind = "futures", ct_val = 0 }, "exchange.ct_val is the step of a grid and must be at least 1e-12, got 0" },
      { { kind = "futures", funding_interval = 25200 }, "exchange.funding_interval is counted from 00:00 UTC and must "
        .. "divide a day (86400 s: 28800 for 8 hours), got 25200" },
    }
    for _, c in ipairs(cases) do
      local s, err = check(c[1])
      assert.is_nil(s)
      assert.are.equal(c[2], err:sub(1, #c[2]))
    end
    local s = check({ kind = "futures" })
    assert.are.same({ 0.0002, 0.0005, 0.001, "Futures_Paper" }, { s.maker_fee, s.taker_fee, s.amount_size, s.name })
  end)
end)

describe("a futures account over time", function()
  it("pays funding on a long and receives it on a short, at each 8-hour time, at the close's price", function()
    local w = world({ config = { funding_rate = 0.0001, balance = 30000 } })
    w.ex.SetContractType("swap")
    w.ex.CreateOrder("", "buy", -1, 2)
    w.ex.CreateOrder("", "sell", -1, 1)
    local wallet = 30000 - (2 * 40004 + 39996) * 0.0005
    bar(w, 8, 40000, 40000, 40000, 40100)       -- the candle that closes at 08:00 UTC
    to(w, 10)
    local sm = w.ex._summary()
    near(-0.0001 * 2 * 40100 + 0.0001 * 40100, sm.futures.funding, "funding: the long pays, the short receives")
    near(wallet + sm.futures.funding, sm.balance, "the wallet")
    local f = w.ex.GetFundings()
    assert.are.same({ T0 + 8 * H, 0.0001, 8 * H, "BTC_USDT.swap" }, { f[1].Time, f[1].Rate, f[1].Interval, f[1].Symbol })
  end)

  it("liquidates every position where the equity meets the maintenance margin, and logs the price and amounts", function()
    local w = long_at_50x()                   -- 40004, margin 800.08
    w.ex.Buy(30000, 0.001)                    -- a pending order: canceled by the liquidation
    local wallet = 1000 - 40004 * 0.0005
    -- equity(p) = wallet + (p - 40004) meets 0.4 % of p at p = (40004 - wallet) / 0.996
    local lp = (40004 - wallet) / 0.996
    bar(w, 3, 40000, 40000, 39000, 39500)
    to(w, 3)
    local sm = w.ex._summary()
    assert.are.same({ 1, 0, 0 }, { sm.futures.liquidations, sm.balance, #sm.futures.positions })
    near(lp - 40004 , sm.futures.realized, "the close at the liquidation price")
    near(0.004 * lp, sm.futures.forfeit, "the maintenance margin forfeit")
    assert.matches("^exchange: liquidated at 39180%.7%d on 2024%-01%-01 02:00 UTC: equity .* reached the maintenance "
      .. "margin of .*closed long 1 BTC_USDT%.swap entered at 40004", w.notes[1])
    assert.are.equal(ORDER_STATE_CANCELED, w.ex.GetOrder(2).Status)
    assert.are.same({}, w.ex.GetOrders())
  end)

  it("settles a dated contract at the close of the candle it expires in, and this_week then names the next one", function()
    local w = world({ n = 300 })
    local c = w.ex.SetContractType("this_week")
    assert.are.same({ "BTCUSDT_240105", T0 + 4 * 86400000 + 8 * H }, { c.InstrumentID, c.Expiry })
    assert.are.equal("BTCUSDT_240329", w.ex.SetContractType("quarter").InstrumentID)
    assert.are.equal("BTCUSDT_240628", w.ex.SetContractType("next_quarter").InstrumentID)
    assert.are.equal("BTCUSDT_240112", w.ex.SetContractType("next_week").InstrumentID)
    w.ex.SetContractType("this_week")
    w.ex.SetDirection("sell")
    w.ex.Sell(-1, 1)                                  -- 39996
    bar(w, 104, 39000, 39000, 39000, 39000.5)         -- Friday 07:00-08:00: the expiry's candle
    to(w, 110)
    assert.are.same({}, w.ex.GetPositions())
    assert.are.equal("Settled short 1 BTC_USDT.this_week (BTCUSDT_240105) at 39000.5, profit 995.5 USDT", last(w.lines))
    near(995.5, w.ex._summary().futures.realized, "realized")
    assert.are.equal("BTCUSDT_240112", w.ex.SetContractType("this_week").InstrumentID)
  end)

  it("settles a next_week contract at its own expiry, after this_week's, as this week's contract by then", function()
    local w = world({ n = 300 })
    local c = w.ex.SetContractType("next_week")
    assert.are.same({ "BTCUSDT_240112", T0 + 11 * 86400000 + 8 * H }, { c.InstrumentID, c.Expiry })
    w.ex.SetDirection("sell")
    w.ex.Sell(-1, 1)                                  -- 39996
    w.ex.SetContractType("this_week")
    w.ex.SetDirection("buy")
    w.ex.Buy(-1, 1)                                   -- 40004, BTCUSDT_240105
    bar(w, 104, 40000, 40000, 40000, 40100)           -- Friday 5 January 07:00-08:00: this week's expiry candle
    to(w, 110)
    assert.are.equal(1, #w.ex.GetPositions())
    assert.are.equal("Settled long 1 BTC_USDT.this_week (BTCUSDT_240105) at 40100, profit 96 USDT", last(w.lines))
    -- the next week's contract is this week's now, and next_week names the one after
    assert.are.equal("BTCUSDT_240112", w.ex.SetContractType("this_week").InstrumentID)
    local p = w.ex.GetPosition()
    assert.are.same({ 1, "BTCUSDT_240112", PD_SHORT, 1, 39996, "this_week", "BTC_USDT.this_week" },
      { #p, p[1].InstrumentID, p[1].Type, p[1].Amount, p[1].Price, p[1].ContractType, p[1].Symbol })
    assert.are.equal("BTCUSDT_240119", w.ex.SetContractType("next_week").InstrumentID)
    assert.are.same({}, w.ex.GetPosition())
    bar(w, 272, 39000, 39000, 38000, 38000.5)         -- Friday 12 January 07:00-08:00: its expiry candle
    to(w, 271)
    assert.are.equal(1, #w.ex.GetPositions(), "held until its expiry")
    to(w, 280)
    assert.are.same({}, w.ex.GetPositions())
    assert.are.equal("Settled short 1 BTC_USDT.this_week (BTCUSDT_240112) at 38000.5, profit 1995.5 USDT",
      last(w.lines))
    local sm = w.ex._summary()
    near(96 + 1995.5, sm.futures.realized, "realized")
    assert.are.equal(0, sm.futures.funding, "a dated contract pays no funding")
    near(10000 - (39996 + 40004) * 0.0005 + 96 + 1995.5, sm.balance, "the wallet: no fee at settlement")
  end)

  it("settles a quarter contract on the last Friday of March, and next_quarter is then the quarter", function()
    local D = 86400000
    local w = world({ n = 2200, config = { balance = 30000 } })
    local q = w.ex.SetContractType("quarter")
    assert.are.same({ "BTCUSDT_240329", T0 + 88 * D + 8 * H }, { q.InstrumentID, q.Expiry })
    w.ex.SetDirection("buy")
    w.ex.Buy(-1, 2)                                   -- 40004
    local nq = w.ex.SetContractType("next_quarter")
    assert.are.same({ "BTCUSDT_240628", T0 + 179 * D + 8 * H }, { nq.InstrumentID, nq.Expiry })
    w.ex.SetDirection("sell")
    w.ex.Sell(-1, 1)                                  -- 39996
    -- in its expiry's week this_week names the quarter's contract: a close through it closes the quarter's position
    to(w, 87 * 24 + 10)                               -- Thursday 28 March 10:00
    assert.are.equal("BTCUSDT_240329", w.ex.SetContractType("this_week").InstrumentID)
    local p = w.ex.GetPosition()
    assert.are.same({ 1, PD_LONG, 2, "BTCUSDT_240329" }, { #p, p[1].Type, p[1].Amount, p[1].InstrumentID })
    w.ex.SetDirection("closebuy")
    w.ex.Sell(-1, 0.5)                                -- at 39996: (39996 - 40004) x 0.5 = -4
    bar(w, 88 * 24 + 8, 40000, 40000, 40000, 42000.5)  -- Friday 29 March 07:00-08:00: the expiry candle
    to(w, 88 * 24 + 7)
    assert.are.equal(2, #w.ex.GetPositions(), "held until its expiry")
    to(w, 88 * 24 + 12)
    local ps = w.ex.GetPositions()
    assert.are.same({ 1, "BTCUSDT_240628", PD_SHORT }, { #ps, ps[1].InstrumentID, ps[1].Type })
    assert.are.equal("Settled long 1.5 BTC_USDT.quarter (BTCUSDT_240329) at 42000.5, profit 2994.75 USDT",
      last(w.lines))
    -- the next quarter's contract is the quarter's now
    assert.are.equal("BTCUSDT_240628", w.ex.SetContractType("quarter").InstrumentID)
    assert.are.equal("BTCUSDT_240927", w.ex.SetContractType("next_quarter").InstrumentID)
    assert.are.same({}, w.ex.GetPosition())
    p = w.ex.GetPositions("BTC_USDT.quarter")
    assert.are.same({ 1, PD_SHORT, 1, "quarter", "BTC_USDT.quarter" },
      { #p, p[1].Type, p[1].Amount, p[1].ContractType, p[1].Symbol })
    local sm = w.ex._summary()
    near(-4 + 2994.75, sm.futures.realized, "realized")
    assert.are.equal(0, sm.futures.funding, "a dated contract pays no funding")
  end)

  it("keeps positions, leverage and P&L in a live bot's account file, and will not read a spot account as futures", function()
    local file = {}
    local keep = { read = function() return file.text end, write = function(t) file.text = t return true end,
                   path = "mem" }
    local a = world({ keep = keep })
    a.ex.SetContractType("swap")
    a.ex.SetMarginLevel(20)
    a.ex.SetDirection("sell")
    a.ex.Sell(-1, 1.5)
    a.ex.SetDirection("closesell")
    a.ex.Buy(30000, 0.5)
    local b = world({ keep = keep })
    b.ex.SetContractType("swap")
    local p = b.ex.GetPosition()[1]
    assert.are.same({ PD_SHORT, 1.5, 0.5, 39996, 20 }, { p.Type, p.Amount, p.FrozenAmount, p.Price, p.MarginLevel })
    assert.are.same(a.ex.GetAccount(), b.ex.GetAccount())
    local ok, err = pcall(world, { keep = keep, config = { kind = "spot" } })
    assert.is_false(ok)
    assert.matches("it is a futures account, the exchange is now spot", err)
  end)
end)

describe("a futures account never favours the trader", function()
  it("liquidates before a take-profit the same candle reaches, since the candle does not say which came first", function()
    local w = long_at_50x()
    w.ex.SetDirection("closebuy")
    local tp = w.ex.Sell(41000, 1)
    bar(w, 3, 40000, 41500, 39000, 40000)     -- reaches both the take-profit and the liquidation price
    to(w, 3)
    assert.are.equal(ORDER_STATE_CANCELED, w.ex.GetOrder(tp).Status)
    assert.are.equal(1, w.ex._summary().futures.liquidations)
  end)

  it("refreezes pending opens at a new margin level, and refuses a level their margin does not fit", function()
    local w = world({ config = { balance = 1000, leverage = 100 } })
    w.ex.SetContractType("swap")
    w.ex.SetMarginLevel(100)
    w.ex.SetDirection("buy")
    w.ex.Buy(39000, 2)                        -- rests: 780 of margin at 100x
    assert.is_nil(w.ex.SetMarginLevel(1))
    assert.matches("^exchange.SetMarginLevel: at 1x the positions and pending opens hold 78015.6 USDT of margin, more "
      .. "than the equity 1000 USDT; the level stays 100x", last(w.logs))
    assert.is_true(w.ex.SetMarginLevel(80))
    near(39000 * 2 * (1 / 80 + 0.0002), w.ex.GetAccount().FrozenBalance, "the open's margin at 80x")
  end)

  it("keeps the amount step of an account with positions, and a close never books without its position", function()
    local w = world()
    w.ex.SetContractType("swap")
    w.ex.SetDirection("buy")
    w.ex.Buy(-1, 1.4)
    w.ex.SetDirection("closebuy")
    w.ex.Sell(44000, 0.4)
    w.ex.SetPrecision(1, 0)
    assert.matches("^exchange.SetPrecision: the amount step of a futures account with positions or pending orders "
      .. "stays 0.001 %(asked 1%)", last(w.logs))
    assert.is_number(w.ex.Sell(-1, 1))
    local p = w.ex.GetPosition()[1]
    assert.are.same({ 0.4, 0.4 }, { p.Amount, p.FrozenAmount })
    assert.are.equal(0.1, w.ex.GetMarkets()["BTC_USDT.swap"].TickSize)
  end)

  it("settles a dated contract at the last close before its expiry when the expiry falls inside a candle", function()
    local D = 86400000
    local candles, logs, lines = {}, {}, {}
    for i = 1, 20 do candles[i] = { T0 + (i - 1) * D, 40000, 40000, 40000, 40000, 10 } end
    candles[4] = { T0 + 3 * D, 40000, 41000, 40000, 41000, 10 }     -- Thursday: closes at Friday 00:00
    candles[5] = { T0 + 4 * D, 41000, 45000, 41000, 45000, 10 }     -- Friday: the expiry at 08:00 is inside it
    local t = T0 + D + 5
    local ex = exchange._new { config = { kind = "futures", balance = 10000 }, market = h.fake_market(candles, D),
      now = function() return t end, log = function(m) logs[#logs + 1] = m end,
      say = function(...)
        local a = table.pack(...)
        for i = 1, a.n do a[i] = tostring(a[i]) end
        lines[#lines + 1] = table.concat(a, " ", 1, a.n)
      end }
    ex.SetContractType("this_week")
    ex.SetDirection("buy")
    ex.Buy(-1, 1)                                                   -- 40004
    t = T0 + 4 * D + 9 * H                                          -- Friday 09:00: expired, its candle still open
    assert.are.same({}, ex.GetPositions())
    assert.are.equal("Settled long 1 BTC_USDT.this_week (BTCUSDT_240105) at 41000, profit 996 USDT", lines[#lines])
    t = T0 + 6 * D
    near(996, ex._summary().futures.realized, "settled once, at 41000")
  end)

  it("converts the positions' prices with SetRate, as the ticker's", function()
    local w = world()
    w.ex.SetContractType("swap")
    w.ex.SetDirection("buy")
    w.ex.Buy(-1, 1)
    w.ex.SetRate(7)
    assert.are.equal(40004 * 7, w.ex.GetPosition()[1].Price)
    assert.are.equal(40000 * 7, w.ex.GetTicker().Last)
  end)

  it("names exchanges[2] in its liquidation line", function()
    local w = long_at_50x({ who = "exchanges[2]" })
    bar(w, 3, 40000, 40000, 39000, 39500)
    to(w, 3)
    assert.are.equal(0, w.ex.GetAccount().Equity)
    assert.matches("^exchanges%[2%]: liquidated at ", w.notes[1])
  end)

  it("keeps a level set without an order across a restart, and refuses a file of other contracts", function()
    local file = {}
    local keep = { read = function() return file.text end, write = function(t) file.text = t return true end,
                   path = "mem" }
    local a = world({ keep = keep })
    a.ex.SetContractType("swap")
    a.ex.SetMarginLevel(33)
    local b = world({ keep = keep })
    b.ex.SetContractType("swap")
    b.ex.SetDirection("buy")
    b.ex.Buy(-1, 1)
    assert.are.equal(33, b.ex.GetPosition()[1].MarginLevel)
    local ok, err = pcall(world, { keep = keep, config = { ct_val = 0.01 } })
    assert.is_false(ok)
    assert.matches("its contracts are of ct_val 1 and amount step 0.001, the config's of 0.01 and 0.001", err, 1, true)
  end)
end)

-- The invariants of docs/futures.md, after every step of a long random replay: random directions, market and limit
-- orders, cancels and leverage changes on a random walk, with gaps that liquidate.
describe("the futures invariants", function()
  local function run(seed, steps)
    local rnd = h.lcg(seed)
    local n = steps + 10
    local w = world({ n = n, config = { balance = 20000, funding_rate = 0.0003 } })
    local p = 40000
    for i = 1, n do
      local o = p
      p = math.max(1000, p * (1 + (rnd() - 0.5) * (rnd() < 0.02 and 0.2 or 0.02)))
      local hi, lo = math.max(o, p) * (1 + rnd() * 0.005), math.min(o, p) * (1 - rnd() * 0.005)
      w.candles[i] = { T0 + (i - 1) * H, o, hi, lo, p, 10 }
    end
    w.ex.SetContractType("swap")
    local model = {}            -- per direction: amount and cost of the opens since flat, as the spec sees fills
    local seen, pending = {}, {}
    local dirs = { "buy", "sell", "closebuy", "closesell" }
    local liq_before = 0
    local function apply(o)
      assert(not seen[o.Id], "order " .. o.Id .. " filled twice")
      seen[o.Id] = true
      local m = model[o.Offset == 0 and (o.Type == ORDER_TYPE_BUY and 0 or 1) or (o.Type == ORDER_TYPE_SELL and 0 or 1)]
      if o.Offset == 0 then
        m.amount, m.cost = m.amount + o.DealAmount, m.cost + o.DealAmount * o.AvgPrice
      else
        local avg = m.cost / m.amount
        m.amount = m.amount - o.DealAmount
        m.cost = m.amount > 1e-9 and avg * m.amount or 0.0
      end
    end
    model[0], model[1] = { amount = 0.0, cost = 0.0 }, { amount = 0.0, cost = 0.0 }
    for step = 1, steps do
      to(w, step + 1)
      local r = rnd()
      local t = w.ex.GetTicker()
      if r < 0.5 then
        local d = dirs[1 + math.floor(rnd() * 4)]
        w.ex.SetDirection(d)
        local price = rnd() < 0.5 and -1 or math.floor(t.Last * (0.98 + rnd() * 0.04) * 100) / 100
        local amount = (1 + math.floor(rnd() * 300)) / 1000
        local id = (d == "buy" or d == "closesell") and w.ex.Buy(price, amount) or w.ex.Sell(price, amount)
        if id then pending[#pending + 1] = id end
      elseif r < 0.6 and #pending > 0 then
        w.ex.CancelOrder(pending[1 + math.floor(rnd() * #pending)])
      elseif r < 0.65 then
        w.ex.SetMarginLevel(1 + math.floor(rnd() * 50))
      end
      local sm = w.ex._summary()
      local f = sm.futures
      if f.liquidations > liq_before then      -- every position closed, every order canceled
        liq_before = f.liquidations
        assert.are.equal(0, sm.balance)
        model[0], model[1] = { amount = 0.0, cost = 0.0 }, { amount = 0.0, cost = 0.0 }
        for _, id in ipairs(pending) do seen[id] = seen[id] or w.ex.GetOrder(id).Status == ORDER_STATE_CLOSED end
        pending = {}
      end
      local still = {}
      for _, id in ipairs(pending) do
        local o = w.ex.GetOrder(id)
        assert(o.DealAmount <= o.Amount)
        if o.Status == ORDER_STATE_CLOSED then apply(o) elseif o.Status == ORDER_STATE_PENDING then
          still[#still + 1] = id
        end
      end
      pending = still
      local a, ps = w.ex.GetAccount(), w.ex.GetPositions()
      local upnl, mm = 0.0, 0.0
      local mark = w.ex.GetTicker().Last
      for _, q in ipairs(ps) do
        upnl = upnl + q.Profit
        mm = mm + 0.004 * mark * q.Amount
        local m = model[q.Type]
        near(m.amount, q.Amount, "step " .. step .. ": the position's amount")
        near(m.cost / m.amount, q.Price, "step " .. step .. ": the fill-weighted average of the opens")
      end
      for d = 0, 1 do
        local held = 0
        for _, q in ipairs(ps) do if q.Type == d then held = q.Amount end end
        near(model[d].amount, held, "step " .. step .. ": the model's amount")
      end
      near(sm.balance + upnl, a.Equity, "step " .. step .. ": Equity = wallet + unrealized P&L")
      near(20000 + f.realized - f.fees + f.funding - f.forfeit, sm.balance, "step " .. step .. ": the wallet's sum")
      assert(mm <= a.Equity + 1e-6, string.format("step %d: maintenance margin %.6f above equity %.6f", step, mm, a.Equity))
    end
    return w.ex._summary()
  end

  it("holds at every step of 3000 random hours, liquidations included, and a second run gives the same account", function()
    local first = run(7, 3000)
    assert(first.fills > 300, "fills: " .. first.fills)
    assert(first.futures.liquidations >= 1, "the walk's gaps liquidate at least once")
    assert(first.futures.funding ~= 0)
    assert.are.same(first, run(7, 3000))
  end)
end)

-- Writes dir/m.csv: n flat hourly candles from T0 at price(i) (i from 0), with a funding_rate column when rate(i)
-- is given. Returns its lines.
local function hourly(dir, n, price, rate)
  local lines = { "time,open,high,low,close,volume" .. (rate and ",funding_rate" or "") }
  for i = 0, n - 1 do
    local p = price(i)
    lines[#lines + 1] = string.format("%d,%d,%d,%d,%d,10", T0 + i * H, p, p, p, p) .. (rate and "," .. rate(i) or "")
  end
  h.write(dir .. "/m.csv", table.concat(lines, "\n") .. "\n")
  return lines
end

describe("a futures bot in a real replay", function()
  it("shows its realized and unrealized P&L, funding and positions in the summary and in --json", function()
    local dir = h.tmpdir()
    hourly(dir, 48, function(i) return 40000 + i * 50 end)
    h.write(dir .. "/c.lua", 'exchange = { kind = "futures", balance = 10000, funding_rate = 0.0001 }\n')
    h.script(dir, [[
function main()
  exchange.SetContractType("swap")
  exchange.SetDirection("buy")
  exchange.Buy(-1, 2)
  Sleep(10 * 3600 * 1000)
  exchange.SetDirection("closebuy")
  exchange.Sell(-1, 1)
  Sleep(3600 * 1000)
end
]])
    local r = h.run({ "replay", "--market", dir .. "/m.csv", "--config", dir .. "/c.lua", "--json",
      dir .. "/out.json", dir .. "/strategy.lua" })
    h.assert_ok(r)
    h.assert_has(r.out, "\n  futures: realized ")
    h.assert_has(r.out, "liquidations 0; open: long 1 BTC_USDT.swap at ")
    local j = json.decode(h.read(dir .. "/out.json")).bots[1]
    local f = j.futures
    assert.are.same({ 1, PD_LONG, "BTC_USDT.swap" }, { #f.positions, f.positions[1].Type, f.positions[1].Symbol })
    assert(f.funding < 0, "a long pays funding at a positive rate")
    assert(f.realized > 0 and f.unrealized > 0)
    near(10000 + f.realized - f.fees + f.funding, j.balance, "balance")
    near(j.balance + f.unrealized, j.value, "value: the equity")
  end)

  it("takes the funding rate from a candle file's funding_rate column, signed, and refuses one that is not a rate", function()
    local dir = h.tmpdir()
    -- the candle closing at 08:00 carries -0.0005, the one closing at 16:00 0.0002; the others a rate never used,
    -- or none (an empty cell)
    local lines = hourly(dir, 24, function() return 40000 end,
      function(i) return (i == 7 and "-0.0005") or (i == 15 and "0.0002") or (i % 2 == 0 and "0.03") or "" end)
    h.write(dir .. "/c.lua", 'exchange = { kind = "futures", balance = 10000, funding_rate = 0.01 }\n')
    h.script(dir, [[
function main()
  exchange.SetContractType("swap")
  exchange.SetDirection("sell")
  exchange.Sell(-1, 1)
  Sleep(20 * 3600 * 1000)
  local f = exchange.GetFundings()[1]
  Log("funding", f.Time, f.Rate)
end
]])
    local r = h.run({ "replay", "--market", dir .. "/m.csv", "--config", dir .. "/c.lua", "--json",
      dir .. "/out.json", dir .. "/strategy.lua" })
    h.assert_ok(r)
    local f = json.decode(h.read(dir .. "/out.json")).bots[1].futures
    -- a short receives a positive rate and pays a negative one: 40000 x (-0.0005 + 0.0002) per contract
    near(40000 * (-0.0005 + 0.0002), f.funding, "funding from the file's rates")
    h.assert_has(r.out, "funding " .. tostring(T0 + 16 * H) .. " 0.0002")
    lines[4] = lines[4]:gsub(",0%.03$", ",2")
    h.write(dir .. "/m.csv", table.concat(lines, "\n") .. "\n")
    r = h.run({ "replay", "--market", dir .. "/m.csv", "--config", dir .. "/c.lua", dir .. "/strategy.lua" })
    assert.are.equal(2, r.code)
    h.assert_has(r.err, "m.csv:4: funding_rate '2' is not a rate between -1 and 1")
  end)

  it("keeps a live bot's positions and leverage across a restart, in its account.json", function()
    local dir = h.tmpdir()
    h.write(dir .. "/c.lua", 'exchange = { kind = "futures", balance = 10000 }\n')
    h.script(dir, [[
function main()
  exchange.SetContractType("swap")
  exchange.SetMarginLevel(5)
  exchange.SetDirection("sell")
  exchange.Sell(-1, 0.25)
  local p = exchange.GetPosition()[1]
  print("opened", p.Type, p.Amount, p.Price, p.MarginLevel)
end
]], "open.lua")
    h.script(dir, [[
function main()
  exchange.SetContractType("swap")
  local p = exchange.GetPosition()[1]
  print("held", p.Type, p.Amount, p.Price, p.MarginLevel)
end
]], "again.lua")
    local r = h.run({ dir = dir, "--data-dir", dir .. "/data", "--config", dir .. "/c.lua", "--id", "fut", "open.lua" })
    h.assert_ok(r)
    local opened = r.out:match("opened\t(.-)\n")
    assert.is_truthy(opened, r.out)
    assert.matches('"kind":"futures"', h.read(dir .. "/data/bots/fut/account.json"), 1, true)
    r = h.run({ dir = dir, "--data-dir", dir .. "/data", "--config", dir .. "/c.lua", "--id", "fut", "again.lua" })
    h.assert_ok(r)
    assert.are.equal(opened, r.out:match("held\t(.-)\n"))
    assert.matches("^1\t0.25\t[%d.]+\t5$", opened)
  end)

  it("prints what docs/futures.md shows for its example, and its liquidation line", function()
    local doc = assert(h.read(h.source .. "/docs/futures.md"))
    local blocks = {}
    for b in doc:gmatch("\n```lua\n(.-)\n```\n") do blocks[#blocks + 1] = b end
    local shown = doc:match("the futures line:\n\n```\n(.-)\n```")
    local prose = doc:gsub("%s*\n%s*", " ")
    local buy_line = prose:match("%(`(Buy market [^`]+)`")
    local sell_line = prose:match("`(Filled sell [^`]+)`")
    assert.is_truthy(shown and buy_line and sell_line and #blocks >= 2, "the example's parts in docs/futures.md")
    local dir = h.tmpdir()
    h.write(dir .. "/config.lua", blocks[1] .. "\n")
    h.write(dir .. "/strategy.lua", blocks[2] .. "\n")
    assert.matches("`stratrun replay --market sim:seed=1,bars=5000 --config config.lua strategy.lua`", doc, 1, true)
    local r = h.run({ dir = dir, env = { TZ = "UTC" }, "replay", "--data-dir", "d", "--market", "sim:seed=1,bars=5000",
      "--config", "config.lua", "strategy.lua" })
    h.assert_ok(r)
    h.assert_has(r.out, " " .. buy_line .. "\n")
    h.assert_has(r.out, " " .. sell_line .. "\n")
    h.assert_has(r.out, "\n" .. shown .. "\n")
    -- the liquidation line: a long of 1 at 50x on 1000 USDT, sim:seed=1
    local liq = prose:match("`(exchange: liquidated at [^`]+)`")
    assert.is_truthy(liq, "the liquidation line in docs/futures.md")
    h.write(dir .. "/c50.lua", 'exchange = { kind = "futures", balance = 1000 }\n')
    h.write(dir .. "/l.lua", [[
function main()
  exchange.SetContractType("swap")
  exchange.SetMarginLevel(50)
  exchange.SetDirection("buy")
  exchange.Buy(-1, 1)
  while true do Sleep(60000) end
end
]])
    r = h.run({ dir = dir, env = { TZ = "UTC" }, "replay", "--data-dir", "d", "--market", "sim:seed=1,bars=3000",
      "--config", "c50.lua", "l.lua" })
    h.assert_ok(r)
    h.assert_has(r.out, " " .. liq .. "\n")
  end)

  -- The summary as a person sees it: the docs' example replayed in a real terminal (tmux, 160x40, capture-pane).
  it("shows the futures line under its bot's row in a real terminal", function()
    if h.sh("command -v tmux >/dev/null") ~= 0 then pending("tmux is not installed (scripts/setup.sh installs it)") return end
    local doc = assert(h.read(h.source .. "/docs/futures.md"))
    local blocks = {}
    for b in doc:gmatch("\n```lua\n(.-)\n```\n") do blocks[#blocks + 1] = b end
    local dir = h.tmpdir()
    h.write(dir .. "/config.lua", blocks[1] .. "\n")
    h.write(dir .. "/strategy.lua", blocks[2] .. "\n")
    local capture, kill = h.tmux(string.format("cd %s && TZ=UTC %s replay --data-dir d --market sim:seed=1,bars=5000 "
      .. "--config config.lua strategy.lua 2>/dev/null; touch done; sleep 60", h.quote(dir), h.quote(h.bin)), 160, 40)
    finally(kill)
    assert.truthy(h.eventually(function() return h.exists(dir .. "/done") end, 20 * T_SCALE))
    local screen = capture()
    local header, row, line = screen:match("\n(bot +status +orders[^\n]*)\n(strategy [^\n]*)\n(  futures: [^\n]*)\n")
    assert.is_truthy(header, "the summary's header, the bot's row and its futures line, in that order:\n" .. screen)
    assert.are.equal(#header, #row, "the row lines up with the header:\n" .. screen)
    assert.are.equal("  futures: realized 105.5150, unrealized 0.0000, funding 0.0000, liquidations 0; open: none", line)
  end)

  it("stops at start on a futures setting that cannot be, naming it", function()
    local dir = h.tmpdir()
    h.write(dir .. "/c.lua", 'exchange = { kind = "futures", stocks = 2 }\n')
    h.script(dir, "function main() end\n")
    local r = h.run({ "replay", "--market", "sim:seed=1,bars=10", "--config", dir .. "/c.lua",
      dir .. "/strategy.lua" })
    assert.are.equal(2, r.code)
    h.assert_has(r.err, "exchange.stocks is a spot account's coins; a futures account holds only its margin")
  end)
end)

-- The invariants of docs/futures.md again, on a real `stratrun replay`: four bots with their own seeds trade at
-- random for 1,500 hours on a candle file with gaps and a funding_rate column, through SetDirection with Buy and
-- Sell and through CreateOrder with the current API's sides, on the swap and on weekly contracts that expire during
-- the replay, with contracts of 0.01 BTC. Each bot logs, at every hour before it acts, its GetAccount, GetPositions,
-- Last and number of pending orders; the spec rebuilds the account from nothing but the candle file and the bot's
-- log.txt (order, fill, cancel, settlement and liquidation lines), by the rules of docs/futures.md, and checks every
-- figure the bot saw and the --json results against it.
describe("the futures invariants in a real replay", function()
  local N, CT, START, RATE = 1500, 0.01, 20000, 0.0001      -- hours; ct_val; balance; the config's funding rate
  local TAKER, MAKER, MMR = 0.0005, 0.0002, 0.004
  local FUND = 8 * H
  local TOL = 1e-9      -- relative: the log's numbers have 14 digits, its liquidation line 10, --json 17
  local BOTS = { a = { 11, 0, 0.2 }, b = { 23, 0, 0.3 }, c = { 37, 0, 0.3 }, d = { 41, 1, 0.7 } }   -- seed, bold, size

  -- The candle file: a random walk in cents with 1.5 % of candles opening on a gap of 5 to 12 %; the candles that
  -- close at a funding time carry a random rate, signed, or an empty cell (the config's rate then); the others an
  -- empty cell or 0.05, a rate that must never be used. Returns the candles {t, o, h, l, c, rate} (prices in cents).
  local function walk(path, seed)
    local rnd = h.lcg(seed)
    local c, lines = {}, { "time,open,high,low,close,volume,funding_rate" }
    local p = 4000000
    local function cents(v) return string.format("%d.%02d", v // 100, v % 100) end
    for k = 1, N do
      local op = p
      if rnd() < 0.015 then op = math.floor(p * (1 + (rnd() < 0.5 and -1 or 1) * (0.05 + rnd() * 0.07)) + 0.5) end
      local cl = math.max(100000, math.floor(op * (1 + (rnd() - 0.5) * 0.02) + 0.5))
      local hi = math.max(op, cl) + math.floor(op * rnd() * 0.004)
      local lo = math.min(op, cl) - math.floor(op * rnd() * 0.004)
      local rate, cell
      if (T0 + k * H) % FUND == 0 then
        if rnd() < 0.25 then
          cell = ""
        else
          rate = math.floor((rnd() - 0.45) * 1600 + 0.5) / 1e6
          cell = string.format("%.6f", rate)
        end
      else
        cell = rnd() < 0.5 and "" or "0.05"
      end
      c[k] = { t = T0 + (k - 1) * H, o = op, h = hi, l = lo, c = cl, rate = rate }
      lines[#lines + 1] = string.format("%d,%s,%s,%s,%s,10,%s", T0 + (k - 1) * H, cents(op), cents(hi), cents(lo),
        cents(cl), cell)
      p = cl
    end
    h.write(path, table.concat(lines, "\n") .. "\n")
    return c
  end

  local STRATEGY = [[
local H = 3600000
local x = math.tointeger(SEED)
local function rnd()
  x = x * 6364136223846793005 + 1442695040888963407
  return (x >> 11) / 9007199254740992.0
end
local function pick(t) return t[1 + math.floor(rnd() * #t)] end
local LEVELS = BOLD == 1 and { 5, 10, 20, 50 } or { 1, 2, 3, 5, 10 }
local lev = 10
function main()
  while true do
    local a, ps, t, pend = exchange.GetAccount(), exchange.GetPositions(), exchange.GetTicker(), exchange.GetOrders()
    Log("S " .. json.encode({ a = a, ps = ps, last = t.Last, n = #pend }))
    local r = rnd()
    if r < 0.6 then
      local alias = pick({ "swap", "swap", "this_week", "next_week" })
      local c = exchange.SetContractType(alias)
      local d = pick({ "buy", "sell", "buy", "sell", "closebuy", "closesell" })
      local price = rnd() < 0.5 and -1 or math.floor(t.Last * (0.985 + rnd() * 0.03) * 100 + 0.5) / 100
      local amount
      if d == "buy" or d == "sell" then
        amount = math.floor(a.Balance * lev * rnd() * SIZE / ((price > 0 and price or t.Last) * c.CtVal))
      else
        local held = 0
        for _, p in ipairs(ps) do
          if p.InstrumentID == c.InstrumentID and p.Type == (d == "closebuy" and PD_LONG or PD_SHORT) then
            held = p.Amount - p.FrozenAmount
          end
        end
        amount = math.floor(held * (0.3 + rnd() * 0.9))   -- now and then more than the position holds: refused
      end
      if amount >= 1 then
        if r < 0.3 then         -- the order line ends with the way it was placed
          exchange.SetDirection(d)
          if d == "buy" or d == "closesell" then
            exchange.Buy(price, amount, "SetDirection")
          else
            exchange.Sell(price, amount, "SetDirection")
          end
        else
          exchange.CreateOrder("BTC_USDT." .. alias, d, price, amount, "CreateOrder")
        end
      end
    elseif r < 0.7 then
      if #pend > 0 then exchange.CancelOrder(pick(pend).Id) end
    elseif r < 0.74 then
      local n = pick(LEVELS)
      local ok = exchange.SetMarginLevel(n)
      if ok then lev = n end
      Log("L " .. n .. " " .. tostring(ok))
    end
    Sleep(H)
  end
end
]]

  -- The contract a type names at t (ms): its instrument and expiry (the next Friday 08:00 UTC strictly after t for
  -- this_week, a week later for next_week; 0 for the swap). T0 is a Monday.
  local function contract(alias, t)
    if alias == "swap" then return "BTCUSDT", 0 end
    local week, fri = 7 * 86400000, T0 + 4 * 86400000 + 8 * H
    local exp = fri + ((t - fri) // week + 1) * week
    if alias == "next_week" then exp = exp + week end
    return "BTCUSDT_" .. os.date("!%y%m%d", exp // 1000), exp
  end

  local function close_to(want, got, what)
    assert(type(got) == "number" and math.abs(want - got) <= TOL * math.max(1, math.abs(want)),
      string.format("%s: expected %.12g, got %s", what, want, tostring(got)))
  end

  local function sign(dir) return dir == "long" and 1 or -1 end

  -- Rebuilds bot id's account from its log, checking as it goes; returns the model and what it saw.
  local function check_bot(id, text, candles)
    local log = h.parse_order_log(text)
    local wallet, realized, fees, funding, forfeit, liqs = START, 0.0, 0.0, 0.0, 0.0, 0
    local lev = 10
    local pos = {}            -- inst .. " " .. dir -> {inst, exp, dir, amount, cost}
    local orders, pending = {}, {}     -- by id; pending: id -> order
    local events = {}         -- the fills, settlements and liquidation closes, as --json's trades should list them
    local seen = { samples = 0, fills = 0, closes = 0, settled = 0, liquidated = 0, fundings = 0, csv_rates = 0,
                   config_rates = 0, immediate = 0, resting = 0, refused_closes = 0, ["SetDirection open"] = 0,
                   ["SetDirection close"] = 0, ["CreateOrder open"] = 0, ["CreateOrder close"] = 0 }
    local prev_s, liq_bar, pre, post
    -- the checks name the bot, the time and the log line they were at (made only when one fails)
    local e
    local function where()
      return string.format("bot %s, %s: %s", id, os.date("!%Y-%m-%d %H:%M", e.ms // 1000), e.msg)
    end
    local function ok(cond, what, ...)
      if not cond then error(string.format(what, ...) .. ", " .. where(), 2) end
      return cond
    end
    local function same(want, got, what)
      if want ~= got then error(string.format("%s: expected %s, got %s, %s", what, tostring(want), tostring(got),
        where()), 2) end
    end
    local function num(want, got, what)
      if not (type(got) == "number" and math.abs(want - got) <= TOL * math.max(1, math.abs(want))) then
        error(string.format("%s: expected %.12g, got %s, %s", what, want, tostring(got), where()), 2)
      end
    end
    local function candle_at(s) return candles[(s - T0) // H] end    -- the candle that closed at s
    local function mark_at(s) return candle_at(s).c / 100 end
    local function snapshot()
      local ps = {}
      for _, p in pairs(pos) do ps[#ps + 1] = { dir = p.dir, amount = p.amount, price = p.cost / p.amount } end
      return { wallet = wallet, ps = ps }
    end
    -- equity and maintenance margin of a snapshot at price px
    local function eq_mm(snap, px)
      local eq, mm = snap.wallet, 0.0
      for _, p in ipairs(snap.ps) do
        eq = eq + sign(p.dir) * (px - p.price) * p.amount * CT
        mm = mm + MMR * px * p.amount * CT
      end
      return eq, mm
    end
    -- the bar's range never took the snapshot's equity below its maintenance margin (a line in the price: its ends)
    local function bar_holds(snap, cd, what)
      for _, px in ipairs({ cd.l / 100, cd.h / 100, cd.o / 100 }) do
        local eq, mm = eq_mm(snap, px)
        ok(eq - mm >= -1e-6, "the bar that closed then (%s): at %.2f the equity %.6f is below the maintenance margin "
          .. "%.6f, and no liquidation line", what, px, eq, mm)
      end
    end
    local function pending_count() local n = 0 for _ in pairs(pending) do n = n + 1 end return n end
    local function wallet_ok()
      ok(wallet >= -1e-6 or next(pos) ~= nil, "the wallet went negative with no position")
    end
    for i, entry in ipairs(log) do
      e = entry
      -- the first line of a new hour: the candle that closed then is being settled against what the last step left
      if prev_s and e.ms > prev_s and not pre then pre = snapshot() end
      local msg = e.msg:gsub("^%[" .. id .. "%] ", "")     -- several bots: each line has its bot's id
      if e.kind == "order" then
        local alias = e.symbol:match("^BTC_USDT%.(.+)$")
        local oc, dir = e.offset:match("^(%a+) (%a+)$")
        same((oc == "open") == (dir == "long") and "buy" or "sell", e.side, "the order's side")
        local inst, exp = contract(alias, e.ms)
        local o = { id = e.id, side = e.side, open = oc == "open", dir = dir, inst = inst, exp = exp, price = e.price,
                    amount = e.amount, t = e.ms }
        ok(orders[e.id] == nil, "order ids are unique")
        orders[e.id] = o
        local via = seen[e.rest .. " " .. e.offset:match("^%a+")]
        ok(via, "the order line ends with SetDirection or CreateOrder")
        seen[e.rest .. " " .. e.offset:match("^%a+")] = via + 1
        if not o.open then      -- a close needs the contracts its position has that no pending close holds
          local p, held = pos[inst .. " " .. dir], 0
          for _, q in pairs(pending) do
            if not q.open and q.inst == inst and q.dir == dir then held = held + q.amount end
          end
          ok(p and p.amount - held >= o.amount - 1e-9, "a close beyond its position was taken")
        end
        pending[e.id] = o
      elseif e.kind == "fill" then
        local o = ok(orders[e.id], "a fill of no order")
        ok(pending[e.id], "an order filled twice, or after its cancel")
        same(o.side, e.side, "the fill's side")
        num(o.amount, e.amount, "an order fills whole")
        local q = h.quotes_at(candles, e.ms)
        local immediate = e.ms == o.t and i > 1 and log[i - 1].kind == "order" and log[i - 1].id == e.id
        local px
        if immediate then      -- at the touch: a market order, or a limit through it
          px = (o.side == "buy" and q.sell or q.buy) / 100
          seen.immediate = seen.immediate + 1
        else                   -- resting: at its price, or at the open of a candle that opened through it
          ok(o.price, "a market order rested")
          local cd = candle_at(e.ms)
          px = o.price
          local op = cd.o / 100
          if cd.t >= o.t and (o.side == "buy" and op < o.price or o.side == "sell" and op > o.price) then px = op end
          ok(o.side == "buy" and cd.l / 100 <= o.price or o.side == "sell" and cd.h / 100 >= o.price,
            "a fill its candle did not reach")
          seen.resting = seen.resting + 1
        end
        num(px, e.price, "the fill price")
        local fee = (immediate and TAKER or MAKER) * e.price * e.amount * CT
        num(fee, e.fee, "the fee: rate x price x amount x ct_val")
        local key = o.inst .. " " .. o.dir
        local pnl
        if o.open then
          ok(e.profit == nil, "an open realizes nothing")
          local p = pos[key] or { inst = o.inst, exp = o.exp, dir = o.dir, amount = 0.0, cost = 0.0 }
          p.amount, p.cost = p.amount + e.amount, p.cost + e.amount * e.price
          pos[key] = p
        else
          local p = ok(pos[key], "a close without its position")
          local entry = p.cost / p.amount
          pnl = sign(o.dir) * (e.price - entry) * e.amount * CT
          num(pnl, e.profit, "realized: (exit - entry) x amount x ct_val")
          p.amount = p.amount - e.amount
          p.cost = entry * p.amount
          if p.amount < 1e-9 then pos[key] = nil end
          realized = realized + pnl
          seen.closes = seen.closes + 1
        end
        wallet = wallet + (pnl or 0) - fee
        fees = fees + fee
        pending[e.id] = nil
        seen.fills = seen.fills + 1
        events[#events + 1] = { order = o.id, price = e.price, amount = e.amount, fee = fee, pnl = pnl,
          effect = o.open and "open" or "close", position = o.dir }
        wallet_ok()
      elseif e.kind == "cancel" then
        ok(pending[e.id], "a cancel of an order not pending")
        pending[e.id] = nil
      elseif msg:match("^S {") then
        local s = e.ms
        ok(not prev_s or s == prev_s + H, "one step an hour")
        local cd, mark = candle_at(s), mark_at(s)
        if prev_s and not post then post = snapshot() end
        -- the bar that closed at s: the positions held as it opened, and those its fills left, stayed above their
        -- maintenance margin over its whole range, unless it is the bar that liquidated
        if prev_s and liq_bar ~= s then
          bar_holds(pre or snapshot(), cd, "the positions it opened with")
          bar_holds(post, cd, "the positions after its fills")
          -- a resting order its range reached filled in it
          for _, o in pairs(pending) do
            if o.t < s then
              ok(not (o.side == "buy" and cd.l / 100 <= o.price or o.side == "sell" and cd.h / 100 >= o.price),
                "order %d at %s was reached and did not fill", o.id, o.price)
            end
          end
        end
        -- funding at its time, on the swap's positions at the close: a long pays rate x amount x ct_val x close
        if s % FUND == 0 then
          local rate = cd.rate or RATE
          for _, p in pairs(pos) do
            if p.exp == 0 then
              local paid = -sign(p.dir) * rate * p.amount * CT * mark
              wallet, funding = wallet + paid, funding + paid
              seen.fundings = seen.fundings + 1
              if cd.rate then seen.csv_rates = seen.csv_rates + 1 else seen.config_rates = seen.config_rates + 1 end
            end
          end
        end
        local v = json.decode(msg:sub(3))
        num(mark, v.last, "Last: the close")
        -- the positions the bot sees are the model's
        local upnl, used, mm = 0.0, 0.0, 0.0
        local shown = {}
        for _, q in ipairs(v.ps) do
          local dir = q.Type == PD_LONG and "long" or "short"
          local p = pos[q.InstrumentID .. " " .. dir]
          ok(p, "a position the model does not have: %s %s", q.InstrumentID, dir)
          ok(p.exp == 0 or p.exp > s, "an expired contract still held")
          shown[p] = true
          local entry = p.cost / p.amount
          num(p.amount, q.Amount, "Amount")
          num(entry, q.Price, "Price: the fill-weighted average of the opens")
          local profit = sign(dir) * (mark - entry) * p.amount * CT
          num(profit, q.Profit, "Profit: (mark - entry) x amount x ct_val")
          same(lev, q.MarginLevel, "MarginLevel")
          num(entry * p.amount * CT / lev, q.Margin, "Margin")
          local frozen = 0.0
          for _, o in pairs(pending) do
            if not o.open and o.inst == p.inst and o.dir == dir then frozen = frozen + o.amount end
          end
          num(frozen, q.FrozenAmount, "FrozenAmount: the pending closes' contracts")
          upnl, used, mm = upnl + profit, used + q.Margin, mm + MMR * mark * p.amount * CT
        end
        for _, p in pairs(pos) do ok(shown[p], "a position the bot does not see: %s", p.inst) end
        local frozen = 0.0
        for _, o in pairs(pending) do
          if o.open then frozen = frozen + o.price * o.amount * CT * (1 / lev + MAKER) end
        end
        same(pending_count(), v.n, "pending orders")
        local a = v.a
        num(upnl, a.UPnL, "UPnL")
        num(wallet + upnl, a.Equity, "Equity = wallet + unrealized P&L")
        num(frozen, a.FrozenBalance, "FrozenBalance: the pending opens' margin and maker fee")
        num(math.max(0, a.Equity - used - frozen), a.Balance, "Balance: the margin free")
        ok(mm <= a.Equity + 1e-6, "the maintenance margin %.6f above the equity %.6f", mm, a.Equity)
        ok(a.Equity >= -1e-6 and a.Balance >= 0 and a.FrozenBalance >= 0, "a figure below 0")
        wallet_ok()
        seen.samples = seen.samples + 1
        prev_s, pre, post, liq_bar = s, nil, nil, nil
      elseif msg:match("^L %d") then
        local n, done = msg:match("^L (%d+) (%a+)$")
        if done == "true" then lev = tonumber(n) end
      elseif msg:match("^Settled ") then
        local dir, amount, inst, px, pnl =
          msg:match("^Settled (%a+) (%S+) BTC_USDT%.%S+ %((%S+)%) at (%S+), profit (%S+) USDT$")
        if not post then post = snapshot() end
        local p = ok(pos[inst .. " " .. dir], "a settlement of no position")
        same(p.exp, e.ms, "settled at its expiry")
        num(p.amount, tonumber(amount), "the amount settled")
        num(mark_at(p.exp), tonumber(px), "settled at the close of its expiry's candle")
        local want = sign(dir) * (tonumber(px) - p.cost / p.amount) * p.amount * CT
        num(want, tonumber(pnl), "the settlement's profit")
        for _, o in pairs(pending) do ok(o.inst ~= inst, "an order of an expired contract pending") end
        events[#events + 1] = { time = p.exp, price = tonumber(px), amount = p.amount, fee = 0, pnl = want,
          effect = "settlement", position = dir }
        realized, wallet = realized + want, wallet + want
        pos[inst .. " " .. dir] = nil
        seen.settled = seen.settled + 1
        wallet_ok()
      elseif msg:match("^exchange: liquidated at ") then
        local lp, eqs, mms, fs = msg:match("^exchange: liquidated at (%S+) on .- UTC: equity (%S+) USDT reached the "
          .. "maintenance margin of (%S+) USDT %(0%.4%% of the positions' value%); closed .*; (%S+) USDT forfeit$")
        ok(lp, "the liquidation line")
        lp = tonumber(lp)
        local cd = candle_at(e.ms)
        ok(next(pending) == nil, "every pending order canceled first")
        ok(lp >= cd.l / 100 - 1e-9 and lp <= cd.h / 100 + 1e-9 or lp == cd.o / 100, "in the bar's range")
        local snap = snapshot()
        -- equity(p) - maintenance(p) = A + B p: the price where it is 0, which the line shows on the tick grid
        local a_, b_ = snap.wallet, 0.0
        for _, p in ipairs(snap.ps) do
          a_ = a_ - sign(p.dir) * p.amount * CT * p.price
          b_ = b_ + sign(p.dir) * p.amount * CT - MMR * p.amount * CT
        end
        local eq_open, mm_open = eq_mm(snap, cd.o / 100)
        if eq_open > mm_open then       -- reached within the bar
          local exact = -a_ / b_
          ok(math.abs(exact - lp) <= 0.005 + 1e-9, "the liquidation price %.17g", exact)
          lp = exact
        else                            -- a gap through it: liquidated at the open
          same(cd.o / 100, lp, "a gap through it: liquidated at the open")
        end
        local eq, mm = eq_mm(snap, lp)
        num(eq, tonumber(eqs), "the equity at the liquidation price")
        num(mm, tonumber(mms), "the maintenance margin at the liquidation price")
        for _, p in pairs(pos) do
          local pnl = sign(p.dir) * (lp - p.cost / p.amount) * p.amount * CT
          realized, wallet = realized + pnl, wallet + pnl
          events[#events + 1] = { time = cd.t, price = lp, amount = p.amount, fee = 0, pnl = pnl,
            effect = "liquidation", position = p.dir }
        end
        num(wallet, tonumber(fs), "the forfeit: what the account had left")
        forfeit, wallet, pos = forfeit + wallet, 0.0, {}
        liqs, liq_bar = liqs + 1, e.ms
        seen.liquidated = seen.liquidated + 1
      elseif msg:match("closes %S+ of the %a+ BTC_USDT%.%S+ position, which holds") then
        -- a close larger than its position: refused, with one line
        local amount, dir, held, frozen = msg:match("closes (%S+) of the (%a+) BTC_USDT%.%S+ position, which holds "
          .. "(%S+) %((%S+) in pending close orders%)")
        ok(tonumber(amount) > tonumber(held) - tonumber(frozen), "a close refused within its position")
        seen.refused_closes = seen.refused_closes + 1
      end
    end
    return { wallet = wallet, realized = realized, fees = fees, funding = funding, forfeit = forfeit,
             liquidations = liqs, pos = pos, events = events, seen = seen, last = prev_s }
  end

  -- --json's results of a bot against the model: its figures, its open positions, and its trades one by one
  local function check_json(id, j, m)
    local f = j.futures
    close_to(m.realized, f.realized, id .. ": --json realized")
    close_to(m.fees, f.fees, id .. ": --json fees")
    close_to(m.funding, f.funding, id .. ": --json funding (received, less paid)")
    close_to(m.forfeit, f.forfeit, id .. ": --json forfeit")
    assert.are.equal(m.liquidations, f.liquidations, id .. ": --json liquidations")
    close_to(m.wallet, j.balance, id .. ": --json balance, the wallet")
    close_to(START + m.realized - m.fees + m.funding - m.forfeit, j.balance, id .. ": the wallet's sum")
    local upnl, n = 0.0, 0
    for _ in pairs(m.pos) do n = n + 1 end
    assert.are.equal(n, #f.positions, id .. ": --json positions")
    for _, q in ipairs(f.positions) do
      local p = assert(m.pos[q.InstrumentID .. " " .. (q.Type == PD_LONG and "long" or "short")], id .. ": a position")
      close_to(p.amount, q.Amount, id .. ": --json position amount")
      close_to(p.cost / p.amount, q.Price, id .. ": --json position price")
      upnl = upnl + q.Profit
    end
    close_to(upnl, f.unrealized, id .. ": --json unrealized")
    close_to(j.balance + f.unrealized, j.value, id .. ": --json value, the equity")
    local by_order, rest, mrest = {}, {}, {}
    for _, t in ipairs(j.trades) do
      if t.order then
        assert.is_nil(by_order[t.order], id .. ": order " .. t.order .. " fills once")
        by_order[t.order] = t
      else
        rest[#rest + 1] = t
      end
    end
    local orders = 0
    for _, ev in ipairs(m.events) do
      if ev.order then
        orders = orders + 1
        local t = assert(by_order[ev.order], id .. ": --json has the fill of order " .. ev.order)
        local what = id .. ": --json trade of order " .. ev.order
        assert.are.same({ ev.effect, ev.position }, { t.effect, t.position }, what)
        close_to(ev.price, t.price, what .. ", price")
        close_to(ev.amount, t.amount, what .. ", amount")
        close_to(ev.fee, t.fee, what .. ", fee")
        if ev.pnl then close_to(ev.pnl, t.pnl, what .. ", pnl") else assert.is_nil(t.pnl, what) end
      else
        mrest[#mrest + 1] = ev
      end
    end
    assert.are.equal(orders, #j.trades - #rest, id .. ": --json's order fills")
    assert.are.equal(m.seen.fills, j.fills, id .. ": --json fills")
    local function order(a, b)
      if a.time ~= b.time then return a.time < b.time end
      if a.effect ~= b.effect then return a.effect < b.effect end
      if a.position ~= b.position then return a.position < b.position end
      if a.amount ~= b.amount then return a.amount < b.amount end
      return a.pnl < b.pnl
    end
    table.sort(rest, order)
    table.sort(mrest, order)
    assert.are.equal(#mrest, #rest, id .. ": --json's settlements and liquidation closes")
    for i, ev in ipairs(mrest) do
      local t, what = rest[i], id .. ": --json " .. ev.effect .. " " .. i
      assert.are.same({ ev.time, ev.effect, ev.position, 0.0 }, { t.time, t.effect, t.position, t.fee }, what)
      close_to(ev.price, t.price, what .. ", price")
      close_to(ev.amount, t.amount, what .. ", amount")
      close_to(ev.pnl, t.pnl, what .. ", pnl")
    end
  end

  it("hold for four bots trading at random for 1,500 hours on the swap and expiring weekly contracts of ct_val "
    .. "0.01, checked from the log and --json of the run", function()
    local dir = h.tmpdir()
    local candles = walk(dir .. "/m.csv", 5)
    candles.period = H
    h.write(dir .. "/c.lua", string.format('exchange = { kind = "futures", balance = %d, ct_val = %s, amount_size = 1, '
      .. 'funding_rate = %s }\n', START, CT, RATE))
    h.script(dir, STRATEGY)
    local argv = { dir = dir, env = { TZ = "UTC" }, timeout = 60, "replay", "--quiet", "--data-dir", dir .. "/d",
      "--market", "csv:" .. dir .. "/m.csv", "--config", dir .. "/c.lua", "--json", dir .. "/out.json" }
    local ids = {}
    for id in pairs(BOTS) do ids[#ids + 1] = id end
    table.sort(ids)
    for _, id in ipairs(ids) do
      for k, name in ipairs({ "SEED", "BOLD", "SIZE" }) do
        argv[#argv + 1] = "-p"
        argv[#argv + 1] = id .. "." .. name .. "=" .. BOTS[id][k]
      end
    end
    for _, id in ipairs(ids) do argv[#argv + 1] = "strategy.lua@" .. id end
    local r = h.run(argv)
    h.assert_ok(r)
    local out = json.decode(h.read(dir .. "/out.json"))
    local total = { fills = 0, closes = 0, settled = 0, liquidated = 0, csv_rates = 0, config_rates = 0,
                    immediate = 0, resting = 0, refused_closes = 0, ["SetDirection open"] = 0,
                    ["SetDirection close"] = 0, ["CreateOrder open"] = 0, ["CreateOrder close"] = 0 }
    for k, j in ipairs(out.bots) do
      local id = ids[k]
      assert.are.equal(id, j.id)
      local m = check_bot(id, assert(h.read(dir .. "/d/replay/bots/" .. id .. "/log.txt")), candles)
      assert.are.equal(N, m.seen.samples, id .. ": a sample every hour")
      assert.are.equal(T0 + N * H, m.last, id .. ": the last sample at the end")
      check_json(id, j, m)
      for key in pairs(total) do total[key] = total[key] + m.seen[key] end
    end
    -- what the run went through, that the checks above saw
    assert(total.fills > 1000 and total.closes > 200, "fills " .. total.fills .. ", closes " .. total.closes)
    assert(total.immediate > 100 and total.resting > 100, "immediate fills " .. total.immediate .. ", resting "
      .. total.resting)
    assert(total.settled >= 4, "settlements: " .. total.settled)
    assert(total.liquidated >= 1, "liquidations: " .. total.liquidated)
    assert(total.csv_rates > 50 and total.config_rates > 10, "fundings at the file's rate " .. total.csv_rates
      .. ", at the config's " .. total.config_rates)
    assert(total.refused_closes >= 1, "closes refused: " .. total.refused_closes)
    for _, way in ipairs({ "SetDirection open", "SetDirection close", "CreateOrder open", "CreateOrder close" }) do
      assert(total[way] > 100, way .. ": " .. total[way])
    end
    -- a replay is deterministic: a second run gives the same results
    for k = 1, #argv do if argv[k] == dir .. "/out.json" then argv[k] = dir .. "/again.json" end end
    h.assert_ok(h.run(argv))
    assert.are.same(out.bots, json.decode(h.read(dir .. "/again.json")).bots)
  end)
end)
