-- Spec for the paper exchange's futures (stdlib/exchange.lua, stdlib/futures.lua), as docs/futures.md describes
-- them: contracts, directions, margin, fees, funding, liquidation, expiry, the account file, bad input, and the
-- invariants a long random replay must keep.
--
-- Most cases drive a private instance (exchange._new) on a market of known candles and a clock the test moves, so
-- every price, margin and fee is exact. The last block runs real stratrun processes on a CSV file.
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
