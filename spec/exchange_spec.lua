-- Spec for the paper exchange (stdlib/exchange.lua), as docs/exchange.md describes it.
--
-- Most cases drive a private instance (exchange._new) on a market of known candles and a clock the test moves, so
-- every price, fill and fee is exact and nothing depends on timing. The last block runs real stratrun processes on
-- CSV files and config files, through the real market module and the real clock.
local h = require("helpers")

local P = 60000                 -- the period of the test markets: one minute
local T0 = 1704067200000        -- 2024-01-01T00:00:00Z, a Monday: the first candle's start

local function close_of(k) return T0 + k * P end

local fake_market = h.fake_market

-- A private exchange on n flat candles at price 100 (volume 1), with the clock just after candle `at` closed.
-- opts: n (200), at (150), config ({}), period (P).
local function world(opts)
  opts = opts or {}
  local w = { candles = {}, logs = {}, lines = {}, period = opts.period or P }
  for i = 1, opts.n or 200 do w.candles[i] = { T0 + (i - 1) * w.period, 100, 100, 100, 100, 1 } end
  w.t = T0 + (opts.at or 150) * w.period + 5
  w.market = fake_market(w.candles, w.period)
  w.ex = exchange._new {
    config = opts.config or {},
    market = w.market,
    now = function() return w.t end,
    log = function(msg) w.logs[#w.logs + 1] = msg end,
    say = function(...)     -- an order line, its values joined as Log joins them
      local t = table.pack(...)
      for i = 1, t.n do t[i] = tostring(t[i]) end
      w.lines[#w.lines + 1] = table.concat(t, " ", 1, t.n)
    end,
  }
  return w
end

-- Candle k becomes open, high, low, close (volume v or 1).
local function bar(w, k, o, hi, lo, c, v)
  w.candles[k] = { T0 + (k - 1) * w.period, o, hi, lo, c, v or 1 }
end

-- The clock moves to ms after candle k's close.
local function to(w, k, ms)
  w.t = T0 + k * w.period + (ms or 5)
end

local function last_log(w) return w.logs[#w.logs] end

local function keys(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  table.sort(out)
  return out
end

local function near(a, b)
  return math.abs(a - b) <= 1e-9 * math.max(1, math.abs(a), math.abs(b))
end

-- Prices on the default tick grid of 0.01, up (asks, buys' fills) and down (bids, sells' fills).
local function cents_up(x) return math.ceil(x * 100 - 1e-6) / 100 end
local function cents_down(x) return math.floor(x * 100 + 1e-6) / 100 end

local function assert_near(expected, actual, what)
  assert(type(actual) == "number" and near(expected, actual),
    string.format("%s: expected %.17g, got %s", what or "value", expected, tostring(actual)))
end

-- Calls fn and checks it raised an error whose message contains msg.
local function raises(msg, fn, ...)
  local ok, err = pcall(fn, ...)
  assert(not ok, "no error, expected: " .. msg)
  assert(tostring(err):find(msg, 1, true), "expected an error with '" .. msg .. "', got: " .. tostring(err))
end

local ORDER_KEYS = { "Amount", "AvgPrice", "DealAmount", "Id", "Price", "Status", "Symbol", "Time", "Type" }

describe("the exchange's market data", function()
  it("shows the latest closed candle in a ticker with a one-basis-point spread around Last, on the tick grid", function()
    local w = world()
    bar(w, 150, 99, 103, 98, 101.5, 7.25)
    local t = w.ex.GetTicker()
    assert.are.same({ "Buy", "High", "Last", "Low", "Open", "Sell", "Symbol", "Time", "Volume" }, keys(t))
    assert.are.equal("BTC_USDT", t.Symbol)
    assert.are.equal(w.t, t.Time)
    assert.are.same({ 99, 103, 98, 101.5, 7.25 }, { t.Open, t.High, t.Low, t.Last, t.Volume })
    -- 101.5 * 1.0001 = 101.510150 and 101.5 * 0.9999 = 101.489850, out to the next cent away from Last: the
    -- common Buy(_N(ticker.Sell, 2), q) then buys at Sell instead of resting a tenth of a cent below it
    assert.are.equal(101.52, t.Sell)
    assert.are.equal(101.48, t.Buy)
  end)

  it("shows records on the tick grid, as the ticker, of the base period and of longer ones", function()
    local w = world({ config = { tick_size = 5 } })
    for k = 141, 150 do bar(w, k, 42999.04, 43003.87, 42991.2, 42997.6, 1) end
    local t, r, m5 = w.ex.GetTicker(), w.ex.GetRecords(), w.ex.GetRecords(PERIOD_M5)
    assert.are.same({ 43000, 43005, 42990, 43000 }, { r[100].Open, r[100].High, r[100].Low, r[100].Close })
    assert.are.same({ t.Last, t.High }, { r[100].Close, r[100].High })
    assert.are.same({ 43000, 43005, 42990, 43000 }, { m5[#m5].Open, m5[#m5].High, m5[#m5].Low, m5[#m5].Close })
    w.ex.SetPrecision(1, 3)                   -- a new grid: records made on the old one are made again
    r = w.ex.GetRecords()
    assert.are.same({ 42999, 43003.9, 42991.2, 42997.6 }, { r[100].Open, r[100].High, r[100].Low, r[100].Close })
  end)

  it("puts Last on the tick grid and keeps Sell and Buy at least one tick away from it", function()
    local w = world({ config = { tick_size = 0.5 } })
    bar(w, 150, 99, 103, 98, 101.3)
    local t = w.ex.GetTicker()
    assert.are.same({ 101.5, 102, 101 }, { t.Last, t.Sell, t.Buy })    -- 101.3 is nearest 101.5
    local d = w.ex.GetDepth()
    for k = 1, 10 do                                                      -- a basis point is below a tick here
      assert.are.equal(101.5 + k * 0.5, d.Asks[k].Price)
      assert.are.equal(101.5 - k * 0.5, d.Bids[k].Price)
    end
    w = world()
    bar(w, 150, 99, 103, 98, 43050.73)
    t = w.ex.GetTicker()
    assert.are.same({ 43050.73, 43055.04, 43046.42 }, { t.Last, t.Sell, t.Buy })
    assert.are.equal(t.Sell, _N(t.Sell, 2))
  end)

  it("never shows a candle before it has closed", function()
    local w = world()
    bar(w, 151, 100, 120, 100, 120)
    to(w, 151, -1)      -- 1 ms before candle 151 closes
    assert.are.equal(100, w.ex.GetTicker().Last)
    assert.are.equal(close_of(149), w.ex.GetRecords()[100].Time)
    to(w, 151, 0)
    assert.are.equal(120, w.ex.GetTicker().Last)
    assert.are.equal(close_of(150), w.ex.GetRecords()[100].Time)
  end)

  it("derives depth from the same candle: ten levels a side, best ask = Sell, best bid = Buy", function()
    local w = world()
    bar(w, 150, 100, 100, 100, 250, 40)
    local d, t = w.ex.GetDepth(), w.ex.GetTicker()
    assert.are.same({ "Asks", "Bids", "Time" }, keys(d))
    assert.are.equal(w.t, d.Time)
    assert.are.equal(10, #d.Asks)
    assert.are.equal(10, #d.Bids)
    assert.are.equal(t.Sell, d.Asks[1].Price)
    assert.are.equal(t.Buy, d.Bids[1].Price)
    for k = 1, 10 do
      assert.are.same({ "Amount", "Price" }, keys(d.Asks[k]))
      assert.are.same({ "Amount", "Price" }, keys(d.Bids[k]))
      assert.are.equal(cents_up(250 * (1 + k * 0.0001)), d.Asks[k].Price, "ask " .. k)
      assert.are.equal(cents_down(250 * (1 - k * 0.0001)), d.Bids[k].Price, "bid " .. k)
      assert.are.equal(2, d.Asks[k].Amount)      -- the candle's volume over 20 levels
      assert.are.equal(2, d.Bids[k].Amount)
      if k > 1 then
        assert.is_true(d.Asks[k].Price > d.Asks[k - 1].Price)
        assert.is_true(d.Bids[k].Price < d.Bids[k - 1].Price)
      end
    end
  end)

  it("returns 100 records by default, oldest first, ending at the current candle", function()
    local w = world()
    for k = 1, 200 do bar(w, k, k, k + 1, k - 0.5, k + 0.5, k / 10) end
    local r = w.ex.GetRecords()
    assert.are.equal(100, #r)
    for i, rec in ipairs(r) do
      local k = 50 + i
      assert.are.same({ Time = T0 + (k - 1) * P, Open = k, High = k + 1, Low = k - 0.5, Close = k + 0.5,
                        Volume = k / 10 }, rec)
    end
    assert.are.equal(w.ex.GetTicker().Last, r[100].Close)
    local few = w.ex.GetRecords(nil, nil, 20)
    assert.are.equal(20, #few)
    assert.are.same(r[100], few[20])
    assert.are.same(r[81], few[1])
    assert.are.equal(150, #w.ex.GetRecords("BTC_USDT", nil, 1000))   -- all there is
    assert.are.same(few, w.ex.GetRecords("BTC_USDT", 60, 20))       -- the market's own period
    assert.are.same(few, w.ex.GetRecords(PERIOD_M1, 20))            -- GetRecords(period, limit)
  end)

  it("returns a fresh array each call, sharing the record tables between calls", function()
    local w = world()
    local a, b = w.ex.GetRecords(), w.ex.GetRecords()
    assert.are_not.equal(a, b)
    assert.are.equal(a[100], b[100])
    table.remove(a)
    assert.are.equal(100, #w.ex.GetRecords())
  end)

  it("returns the right records for any sequence of limits and clock moves", function()
    local w = world({ n = 3000, at = 1 })
    for k = 1, 3000 do bar(w, k, k, k + 1, k - 1, k + 0.5, k) end
    local rnd, k = 7, 1
    for _ = 1, 300 do
      rnd = (rnd * 1103515245 + 12345) % 2147483648
      local move = rnd % 4 == 0 and rnd % 400 or rnd % 3      -- mostly a bar or two, sometimes a jump
      k = math.min(k + move, 3000)
      to(w, k)
      local limit = 1 + (rnd // 7) % 250
      local r = w.ex.GetRecords(nil, nil, limit)
      local first = math.max(1, k - limit + 1)
      assert.are.equal(k - first + 1, #r)
      for i, rec in ipairs(r) do
        local j = first + i - 1
        assert(rec.Time == T0 + (j - 1) * P and rec.Open == j and rec.Close == j + 0.5 and rec.Volume == j,
          string.format("record %d of GetRecords at candle %d, limit %d, is not candle %d", i, k, limit, j))
      end
    end
  end)

  it("aggregates the same bars as a build from scratch, for any periods, limits, clock moves and gaps", function()
    -- the bars of period pms closed at time t, built from every candle up to the last closed one
    local function brute(w, k, pms, t)
      local off = pms % (7 * 86400000) == 0 and 4 * 86400000 or 0
      local out = {}
      for j = 1, k do
        local c = w.candles[j]
        local b = (c[1] - off) // pms * pms + off
        local r = out[#out]
        if r and r.Time == b then
          r.High, r.Low = math.max(r.High, c[3]), math.min(r.Low, c[4])
          r.Close, r.Volume = c[5], r.Volume + c[6]
        else
          out[#out + 1] = { Time = b, Open = c[2], High = c[3], Low = c[4], Close = c[5], Volume = c[6] }
        end
      end
      if out[#out] and out[#out].Time + pms > t then out[#out] = nil end
      if w.candles[1][1] ~= ((w.candles[1][1] - off) // pms * pms + off) then   -- a first bar the data starts
        table.remove(out, 1)                                                    -- inside lacks candles
      end
      return out
    end
    local w = world({ n = 6000, at = 1 })
    local rnd, t = 11, T0
    for k = 1, 6000 do       -- one-minute candles with gaps of up to 40 minutes now and then
      rnd = (rnd * 1103515245 + 12345) % 2147483648
      t = t + P * (rnd % 50 == 0 and 1 + rnd % 40 or 1)
      local o = 100 + rnd % 97
      w.candles[k] = { t, o, o + rnd % 13, o - rnd % 11, o + rnd % 7 - 3, 1 + rnd % 5 }
    end
    local periods = { 180, 300, 900, 3600, 14400, 86400, 604800 }
    local k = 1
    for _ = 1, 400 do
      rnd = (rnd * 1103515245 + 12345) % 2147483648
      k = math.min(6000, k + (rnd % 5 == 0 and rnd % 900 or rnd % 4))
      w.t = w.candles[k][1] + P + rnd % P
      local period, limit = periods[1 + rnd % #periods], 1 + (rnd // 13) % 120
      local want = brute(w, k, period * 1000, w.t)
      want = table.move(want, math.max(1, #want - limit + 1), #want, 1, {})
      assert.are.same(want, w.ex.GetRecords(period, limit),
        string.format("period %d, limit %d, at candle %d", period, limit, k))
    end
  end)

  it("aggregates to a multiple of the market's period, closed bars only", function()
    local w = world({ at = 7 })
    for k = 1, 10 do bar(w, k, 10 + k, 20 + k, k, 15 + k, k) end
    local r = w.ex.GetRecords(PERIOD_M3)     -- candles 1-3, 4-6; candle 7 starts a bar still open
    assert.are.same({
      { Time = T0, Open = 11, High = 23, Low = 1, Close = 18, Volume = 6 },
      { Time = T0 + 3 * P, Open = 14, High = 26, Low = 4, Close = 21, Volume = 15 },
    }, r)
    assert.are.same({ r[2] }, w.ex.GetRecords(nil, 180, 1))
    to(w, 9)
    assert.are.equal(3, #w.ex.GetRecords(180))
  end)

  it("starts weekly bars on Mondays, UTC", function()
    local day = 86400000
    local w = world({ period = day, n = 20, at = 15 })   -- 2024-01-01 (a Monday) to 2024-01-15
    local r = w.ex.GetRecords(PERIOD_W1)
    assert.are.equal(2, #r)
    assert.are.equal(T0, r[1].Time)
    assert.are.equal(T0 + 7 * day, r[2].Time)
    assert.are.equal(7, r[1].Volume)
  end)

  it("refuses another symbol, a period that is not a multiple, and a bad limit with nil and a log line", function()
    local w = world()
    local cases = {
      { function() return w.ex.GetTicker("ETH_USDT") end,
        "exchange.GetTicker: this exchange trades BTC_USDT only, got symbol 'ETH_USDT'" },
      { function() return w.ex.GetDepth("ETH_USDT") end,
        "exchange.GetDepth: this exchange trades BTC_USDT only, got symbol 'ETH_USDT'" },
      { function() return w.ex.GetRecords("ETH_USDT") end,
        "exchange.GetRecords: this exchange trades BTC_USDT only, got symbol 'ETH_USDT'" },
      { function() return w.ex.GetOrders("ETH_USDT") end,
        "exchange.GetOrders: this exchange trades BTC_USDT only, got symbol 'ETH_USDT'" },
      { function() return w.ex.GetRecords(90) end,
        "exchange.GetRecords: period 90 s is not a multiple of the market's period of 60 s" },
      { function() return w.ex.GetRecords(30) end,
        "exchange.GetRecords: period 30 s is not a multiple of the market's period of 60 s" },
      { function() return w.ex.GetRecords(nil, 0 / 0) end,
        "exchange.GetRecords: period nan s is not a multiple of the market's period of 60 s" },
      { function() return w.ex.GetRecords(nil, nil, 0) end,
        "exchange.GetRecords: limit must be a whole number >= 1, got 0" },
      { function() return w.ex.GetRecords(nil, nil, 2.5) end,
        "exchange.GetRecords: limit must be a whole number >= 1, got 2.5" },
    }
    for _, c in ipairs(cases) do
      assert.is_nil(c[1]())
      assert.are.equal(c[2], last_log(w))
    end
  end)

  it("returns nil and says so before the first candle has closed", function()
    local w = world()
    w.t = T0 + P - 1
    for _, name in ipairs({ "GetTicker", "GetDepth", "GetRecords" }) do
      assert.is_nil(w.ex[name]())
      assert.are.equal("exchange." .. name .. ": no candle has closed yet at " .. w.t
        .. " ms (the market starts later)", last_log(w))
    end
    assert.is_nil(w.ex.Buy(-1, 10))
    assert.matches("^exchange.Buy: no candle has closed yet", last_log(w))
    assert.are.same({ Balance = 10000, FrozenBalance = 0, Stocks = 0, FrozenStocks = 0 }, w.ex.GetAccount())
  end)
end)

describe("the exchange's account", function()
  it("defaults to Paper, BTC_USDT, 10000 quote and 0 base", function()
    local w = world()
    assert.are.equal("Paper", w.ex.GetName())
    assert.are.equal("BTC_USDT", w.ex.GetCurrency())
    local a = w.ex.GetAccount()
    assert.are.same({ "Balance", "FrozenBalance", "FrozenStocks", "Stocks" }, keys(a))
    assert.are.same({ Balance = 10000, FrozenBalance = 0, Stocks = 0, FrozenStocks = 0 }, a)
  end)

  it("takes name, currency and balances from the config", function()
    local w = world({ config = { name = "Sim", currency = "ETH_BTC", balance = 3, stocks = 40 } })
    assert.are.equal("Sim", w.ex.GetName())
    assert.are.equal("ETH_BTC", w.ex.GetCurrency())
    assert.are.equal("ETH_BTC", w.ex.GetTicker().Symbol)
    assert.are.same({ Balance = 3, FrozenBalance = 0, Stocks = 40, FrozenStocks = 0 }, w.ex.GetAccount())
  end)

  it("raises on every call but GetName and GetCurrency when the config is invalid", function()
    local bad = {
      { { taker_fee = 1 }, "exchange.taker_fee is a fraction and must be < 1, got 1" },
      { { slippage = 2.5 }, "exchange.slippage is a fraction and must be < 1, got 2.5" },
      { { balance = -1 }, "exchange.balance must be a finite number >= 0, got -1" },
      { { currency = "BTCUSDT" }, "exchange.currency must be BASE_QUOTE such as BTC_USDT, got 'BTCUSDT'" },
      { { spread = 1 }, "unknown key exchange.spread" },
      { { name = 5 }, "exchange.name must be a string, not number" },
    }
    for _, b in ipairs(bad) do
      local w = world({ config = b[1] })
      assert.are.equal("Paper", w.ex.GetName())
      for _, call in ipairs({ "GetTicker", "GetAccount", "GetOrders", "Buy" }) do
        raises("exchange: invalid config: " .. b[2], w.ex[call], -1, 1)
      end
    end
  end)
end)

describe("market orders", function()
  local cfg = { maker_fee = 0.001, taker_fee = 0.002, slippage = 0.001, stocks = 5 }

  it("buy for an amount of quote currency, fee included, at Sell plus slippage, whole amount steps", function()
    local w = world({ config = cfg })
    local id = w.ex.Buy(-1, 1000)
    assert.are.equal(1, id)
    local px = 100.12       -- Sell 100.01 plus slippage is 100.11001: a buy's fill goes up to the cent
    -- 1000 / 1.002 / 100.12 = 9.9680781... BTC: 9.96807 whole steps of 0.00001, costing 998.0031684 and a fee of
    -- 1.9960063368; the rest of the 1000 stays
    local fee = 9.96807 * 100.12 * 0.002
    local a = w.ex.GetAccount()
    assert_near(10000 - 9.96807 * 100.12 - fee, a.Balance, "Balance")
    assert_near(5 + 9.96807, a.Stocks, "Stocks")
    local o = w.ex.GetOrder(id)
    assert.are.same(ORDER_KEYS, keys(o))
    assert.are.same({ Id = 1, Time = w.t, Price = -1, Amount = 1000, DealAmount = 9.96807, Status = 1, Type = 0,
                      Symbol = "BTC_USDT" }, { Id = o.Id, Time = o.Time, Price = o.Price, Amount = o.Amount,
                      DealAmount = o.DealAmount, Status = o.Status, Type = o.Type, Symbol = o.Symbol })
    assert_near(px, o.AvgPrice, "AvgPrice")
    local s = w.ex._summary()
    assert.are.equal(1, s.orders)
    assert.are.equal(1, s.fills)
    assert_near(fee, s.fees, "fees")
  end)

  it("sell an amount of base currency at Buy minus slippage, the fee taken from the proceeds", function()
    local w = world({ config = cfg })
    local id = w.ex.Sell(-1, 2)
    local px = 99.89        -- Buy 99.99 less slippage is 99.89001: a sell's fill goes down to the cent
    local a = w.ex.GetAccount()
    assert.are.equal(3, a.Stocks)
    assert_near(10000 + 2 * px * (1 - 0.002), a.Balance, "Balance")
    local o = w.ex.GetOrder(id)
    assert.are.same({ -1, 2, 2, 1, 1 }, { o.Price, o.Amount, o.DealAmount, o.Status, o.Type })
    assert_near(px, o.AvgPrice, "AvgPrice")
    assert_near(2 * px * 0.002, w.ex._summary().fees, "fees")
  end)

  it("spend the whole balance with Buy(-1, Balance), but for less than one amount step's cost", function()
    local w = world({ config = cfg })
    assert.is_number(w.ex.Buy(-1, w.ex.GetAccount().Balance))
    local left = w.ex.GetAccount().Balance
    assert(left >= 0 and left < 100.12 * 0.00001 * 1.002, "left: " .. left)
    assert.is_nil(w.ex.Buy(-1, left))
    assert.matches("exchange.Buy: %S+ USDT buys less than the amount step 1e%-05 at 100.12", last_log(w))
  end)

  it("are refused with nil and the reason when funds are short, changing nothing", function()
    local w = world({ config = cfg })
    assert.is_nil(w.ex.Buy(-1, 10000.5))
    assert.are.equal("exchange.Buy: insufficient balance: needs 10000.5 USDT, has 10000 USDT free "
      .. "(0 frozen in orders)", last_log(w))
    assert.is_nil(w.ex.Sell(-1, 5.5))
    assert.are.equal("exchange.Sell: insufficient stocks: needs 5.5 BTC, has 5 BTC free (0 frozen in orders)",
      last_log(w))
    assert.are.same({ Balance = 10000, FrozenBalance = 0, Stocks = 5, FrozenStocks = 0 }, w.ex.GetAccount())
    assert.are.equal(0, w.ex._summary().orders)
    assert.are.equal(1, w.ex.Buy(-1, 1))     -- refused orders take no id
  end)
end)

describe("limit orders", function()
  local cfg = { maker_fee = 0.001, taker_fee = 0.002, slippage = 0, stocks = 5 }

  it("rest below the market, freezing price x amount plus the maker fee", function()
    local w = world({ config = cfg })
    local id = w.ex.Buy(95, 10)
    local a = w.ex.GetAccount()
    assert_near(950.95, a.FrozenBalance, "FrozenBalance")
    assert_near(10000, a.Balance + a.FrozenBalance, "Balance + FrozenBalance")
    local orders = w.ex.GetOrders()
    assert.are.equal(1, #orders)
    assert.are.same({ Id = id, Time = w.t, Price = 95, Amount = 10, DealAmount = 0, AvgPrice = 0, Status = 0,
                      Type = 0, Symbol = "BTC_USDT" }, orders[1])
    assert.are.same(orders[1], w.ex.GetOrder(id))
  end)

  it("fill at their price on the first later candle whose low reaches it, as makers", function()
    local w = world({ config = cfg })
    local id = w.ex.Buy(95, 10)
    bar(w, 151, 100, 100, 95.01, 99)
    bar(w, 152, 99, 99, 94.5, 97)
    to(w, 151)
    assert.are.equal(0, w.ex.GetOrder(id).Status)
    to(w, 152, -1)
    assert.are.equal(0, w.ex.GetOrder(id).Status)     -- candle 152 has not closed: no look-ahead
    to(w, 152)
    local o = w.ex.GetOrder(id)
    assert.are.same({ 1, 10, 95 }, { o.Status, o.DealAmount, o.AvgPrice })
    local a = w.ex.GetAccount()
    assert_near(10000 - 950 - 0.95, a.Balance, "Balance")
    assert.are.same({ 0, 15, 0 }, { a.FrozenBalance, a.Stocks, a.FrozenStocks })
    assert.are.same({}, w.ex.GetOrders())
    assert_near(0.95, w.ex._summary().fees, "fees")
  end)

  it("fill when the low only touches the price", function()
    local w = world({ config = cfg })
    local id = w.ex.Buy(95, 1)
    bar(w, 152, 99, 99, 95, 97)
    to(w, 152)
    assert.are.equal(1, w.ex.GetOrder(id).Status)
  end)

  it("fill at the open when a later candle opens through the price", function()
    local w = world({ config = cfg })
    local id = w.ex.Buy(95, 10)
    bar(w, 152, 90, 91, 89, 90)
    to(w, 153)
    assert.are.equal(90, w.ex.GetOrder(id).AvgPrice)
    local a = w.ex.GetAccount()
    assert_near(10000 - 900 - 0.9, a.Balance, "Balance")   -- the unused part of the frozen funds comes back
    assert.are.equal(0, a.FrozenBalance)
  end)

  it("fill at their price, not the open, on the candle that was forming when they were placed", function()
    local w = world({ config = cfg })
    local id = w.ex.Buy(95, 10)     -- candle 151 started 5 ms before the order
    bar(w, 151, 90, 91, 89, 90)
    to(w, 151)
    assert.are.equal(95, w.ex.GetOrder(id).AvgPrice)
  end)

  it("sell when the high reaches the price, at the open on a gap up", function()
    local w = world({ config = cfg })
    local a, b = w.ex.Sell(105, 2), w.ex.Sell(108, 1)
    local acc = w.ex.GetAccount()
    assert.are.same({ 10000, 0, 2, 3 }, { acc.Balance, acc.FrozenBalance, acc.Stocks, acc.FrozenStocks })
    bar(w, 152, 101, 106, 100, 104)
    bar(w, 153, 110, 112, 109, 111)
    to(w, 152)
    assert.are.same({ 1, 105 }, { w.ex.GetOrder(a).Status, w.ex.GetOrder(a).AvgPrice })
    assert.are.equal(0, w.ex.GetOrder(b).Status)
    to(w, 153)
    assert.are.same({ 1, 110 }, { w.ex.GetOrder(b).Status, w.ex.GetOrder(b).AvgPrice })
    acc = w.ex.GetAccount()
    assert_near(10000 + 210 * 0.999 + 110 * 0.999, acc.Balance, "Balance")
    assert.are.same({ 2, 0 }, { acc.Stocks, acc.FrozenStocks })
  end)

  it("fill whole whatever the candle's volume (no partial fills)", function()
    local w = world({ config = cfg })
    local id = w.ex.Buy(95, 50)
    bar(w, 152, 99, 99, 94, 97, 0.001)
    to(w, 152)
    local o = w.ex.GetOrder(id)
    assert.are.same({ 1, 50 }, { o.Status, o.DealAmount })
  end)

  it("all fill when one candle crosses several", function()
    local w = world({ config = { balance = 1000, maker_fee = 0 } })
    local first, second = w.ex.Buy(96, 5), w.ex.Buy(97, 5)
    bar(w, 152, 99, 99, 90, 95)
    to(w, 152)
    assert.are.same({ 1, 1 }, { w.ex.GetOrder(first).Status, w.ex.GetOrder(second).Status })
    assert.are.equal(1000 - 480 - 485, w.ex.GetAccount().Balance)
  end)

  it("priced through the market fill at once at the touch, as takers", function()
    local w = world({ config = cfg })
    local buy = w.ex.Buy(102, 1)
    local o = w.ex.GetOrder(buy)
    assert.are.same({ 1, 1 }, { o.Status, o.DealAmount })
    assert_near(100.01, o.AvgPrice, "buy AvgPrice")
    local sell = w.ex.Sell(98, 2)
    assert_near(99.99, w.ex.GetOrder(sell).AvgPrice, "sell AvgPrice")
    local a = w.ex.GetAccount()
    assert_near(10000 - 100.01 * 1.002 + 2 * 99.99 * 0.998, a.Balance, "Balance")
    assert.are.equal(4, a.Stocks)
    assert.are.equal(0, #w.ex.GetOrders())
  end)

  it("priced through the market never fill worse than their price, slippage included", function()
    local w = world({ config = { slippage = 0.05, stocks = 5 } })
    assert.are.equal(102, w.ex.GetOrder(w.ex.Buy(102, 1)).AvgPrice)      -- the touch + slippage is 105.01
    assert.are.equal(97, w.ex.GetOrder(w.ex.Sell(97, 1)).AvgPrice)
  end)

  it("priced inside the spread rest", function()
    local w = world({ config = cfg })
    assert.are.equal(0, w.ex.GetOrder(w.ex.Buy(100.005, 1)).Status)
    assert.are.equal(0, w.ex.GetOrder(w.ex.Sell(99.995, 1)).Status)
  end)

  it("are refused when the balance cannot cover price x amount plus the fee", function()
    local w = world({ config = { balance = 1000, maker_fee = 0.001, stocks = 1 } })
    assert.is_nil(w.ex.Buy(100, 10))
    assert.are.equal("exchange.Buy: insufficient balance: needs 1001 USDT, has 1000 USDT free (0 frozen in orders)",
      last_log(w))
    assert.is_number(w.ex.Buy(90, 10))
    assert.is_nil(w.ex.Buy(-1, 500))
    assert.are.equal("exchange.Buy: insufficient balance: needs 500 USDT, has 99.1 USDT free (900.9 frozen in "
      .. "orders)", last_log(w))
    assert.is_number(w.ex.Sell(110, 1))
    assert.is_nil(w.ex.Sell(-1, 0.5))
    assert.are.equal("exchange.Sell: insufficient stocks: needs 0.5 BTC, has 0 BTC free (1 frozen in orders)",
      last_log(w))
  end)
end)

describe("CancelOrder", function()
  it("cancels a pending buy and returns exactly its frozen balance", function()
    local w = world({ config = { maker_fee = 0.001 } })
    local id = w.ex.Buy(93.7, 3.3)
    local before = w.ex.GetAccount()
    assert.is_true(w.ex.CancelOrder(id))
    local after = w.ex.GetAccount()
    assert.are.equal(before.Balance + before.FrozenBalance, after.Balance)
    assert.are.equal(0, after.FrozenBalance)
    assert.are.equal(2, w.ex.GetOrder(id).Status)
    assert.are.equal(0, w.ex.GetOrder(id).DealAmount)
  end)

  it("cancels a pending sell and returns its stocks", function()
    local w = world({ config = { stocks = 2.5 } })
    local id = w.ex.Sell(120, 1.25)
    assert.is_true(w.ex.CancelOrder(id))
    local a = w.ex.GetAccount()
    assert.are.same({ 2.5, 0 }, { a.Stocks, a.FrozenStocks })
  end)

  it("leaves GetOrders an empty array", function()
    local w = world()
    local orders = w.ex.GetOrders()
    assert.are.equal("table", type(orders))
    assert.is_nil(next(orders))
    assert.are.equal("[]", json.encode(orders))
    w.ex.CancelOrder(w.ex.Buy(90, 1))
    assert.are.equal("[]", json.encode(w.ex.GetOrders()))
  end)

  it("returns false and says why for an order that is not pending or does not exist", function()
    local w = world()
    local id = w.ex.Buy(90, 1)
    assert.is_true(w.ex.CancelOrder(id))
    assert.is_false(w.ex.CancelOrder(id))
    assert.are.equal("exchange.CancelOrder: order 1 is not pending (it is canceled)", last_log(w))
    local filled = w.ex.Buy(-1, 100)
    assert.is_false(w.ex.CancelOrder(filled))
    assert.are.equal("exchange.CancelOrder: order 2 is not pending (it is closed)", last_log(w))
    assert.is_false(w.ex.CancelOrder(99))
    assert.are.equal("exchange.CancelOrder: no order with id 99", last_log(w))
    assert.is_nil(w.ex.GetOrder(99))
    assert.are.equal("exchange.GetOrder: no order with id 99", last_log(w))
  end)

  it("cannot cancel an order a closed candle has already filled", function()
    local w = world()
    local id = w.ex.Buy(95, 1)
    bar(w, 152, 99, 99, 94, 97)
    to(w, 152)
    assert.is_false(w.ex.CancelOrder(id))
    assert.are.equal(1, w.ex.GetOrder(id).Status)
  end)
end)

describe("the price and amount grid", function()
  it("puts a limit price on the tick on the trader's side and an amount down on the step", function()
    local w = world({ config = { stocks = 1 } })
    local b = w.ex.GetOrder(w.ex.Buy(99.987, 0.1234567))
    assert.are.same({ 99.98, 0.12345 }, { b.Price, b.Amount })       -- never pays more than 99.987
    local s = w.ex.GetOrder(w.ex.Sell(100.011, 0.000019))
    assert.are.same({ 100.02, 0.00001 }, { s.Price, s.Amount })     -- never sells below 100.011
    assert.are.equal(10000 - 99.98 * 0.12345 * 1.001, w.ex.GetAccount().Balance + 0.0)
  end)

  it("sells all that is held when the amount is within float noise of it", function()
    local w = world({ config = { balance = 100000 } })
    for _, a in ipairs({ 0.1988, 0.1462, 0.0001 }) do w.ex.Buy(101, a) end
    local held = w.ex.GetAccount().Stocks
    assert.are_not.equal(0.3451, held)                  -- 0.34509999999999996: a float sum
    local id = w.ex.Sell(-1, held)
    assert.is_number(id, last_log(w))
    assert.are.equal(0, w.ex.GetAccount().Stocks)
    assert.is_nil(w.ex.Sell(-1, 0.00002))              -- more than float noise over what is held: refused
    assert.matches("insufficient stocks", last_log(w), 1, true)
  end)

  it("refuses what the grid leaves nothing of, and orders worth less than min_notional", function()
    local w = world({ config = { min_notional = 5, stocks = 1 } })
    assert.is_nil(w.ex.Buy(0.004, 1))
    assert.are.equal("exchange.Buy: price 0.004 is below the tick size 0.01", last_log(w))
    assert.is_nil(w.ex.Sell(120, 0.000009))
    assert.are.equal("exchange.Sell: amount 9e-06 is below the amount step 1e-05", last_log(w))
    assert.is_nil(w.ex.Buy(99, 0.05))
    assert.are.equal("exchange.Buy: order value 4.95 USDT is below the minimum of 5 USDT (min_notional)", last_log(w))
    assert.is_nil(w.ex.Buy(-1, 4.99))
    assert.are.equal("exchange.Buy: order value 4.99 USDT is below the minimum of 5 USDT (min_notional)", last_log(w))
    assert.is_nil(w.ex.Sell(-1, 0.04))      -- at the bid 99.99
    assert.are.equal("exchange.Sell: order value 3.9996 USDT is below the minimum of 5 USDT (min_notional)",
      last_log(w))
    assert.are.same({ Balance = 10000, FrozenBalance = 0, Stocks = 1, FrozenStocks = 0 }, w.ex.GetAccount())
    assert.is_number(w.ex.Buy(99, 0.06))
  end)

  it("describes the grid in GetMarkets, and SetPrecision changes it as the platform's does", function()
    local w = world({ config = { currency = "ETH_BTC", tick_size = 0.00001, amount_size = 0.001, min_notional = 0.0001 } })
    assert.are.same({ ETH_BTC = {
      Symbol = "ETH_BTC", BaseAsset = "ETH", QuoteAsset = "BTC", TickSize = 0.00001, AmountSize = 0.001,
      PricePrecision = 5, AmountPrecision = 3, MinQty = 0.001, MaxQty = 1e15, MinNotional = 0.0001,
      MaxNotional = 1e15 } }, w.ex.GetMarkets())
    w.ex.SetPrecision(1, 2)
    local m = w.ex.GetMarkets().ETH_BTC
    assert.are.same({ 0.1, 0.01, 1, 2 }, { m.TickSize, m.AmountSize, m.PricePrecision, m.AmountPrecision })
    bar(w, 150, 100, 100, 100, 100.04)
    local t = w.ex.GetTicker()
    assert.are.same({ 100, 100.1, 99.9 }, { t.Last, t.Sell, t.Buy })
    local o = w.ex.GetOrder(w.ex.Buy(99.87, 0.129))
    assert.are.same({ 99.8, 0.12 }, { o.Price, o.Amount })
    raises("exchange.SetPrecision: the price precision must be a whole number of decimals from 0 to 12, got 2.5",
      w.ex.SetPrecision, 2.5, 1)
    raises("exchange.SetPrecision: the amount precision must be a whole number of decimals from 0 to 12, got 13",
      w.ex.SetPrecision, 2, 13)
  end)

  it("refuses a grid step of 0 in the config", function()
    local w = world({ config = { tick_size = 0 } })
    raises("exchange: invalid config: exchange.tick_size is the step of a grid and must be at least 1e-12, got 0",
      w.ex.GetTicker)
  end)
end)

describe("the platform's smaller exchange calls", function()
  it("name the exchange, its label and its currencies, and list the account as assets", function()
    local w = world({ config = { name = "Binance", label = "main account", currency = "ETH_USDT", stocks = 2 } })
    assert.are.same({ "Binance", "main account", "ETH", "USDT" },
      { w.ex.GetName(), w.ex.GetLabel(), w.ex.GetBaseCurrency(), w.ex.GetQuoteCurrency() })
    assert.are.equal("Paper", world().ex.GetLabel())          -- the label defaults to the name
    w.ex.Sell(200, 0.5)
    assert.are.same({ { Currency = "ETH", Amount = 1.5, FrozenAmount = 0.5 },
                      { Currency = "USDT", Amount = 10000, FrozenAmount = 0 } }, w.ex.GetAssets())
    assert.are.same({ 0.00001, 0.01 }, { w.ex.GetMinStock(), w.ex.GetMinPrice() })
  end)

  it("give the tickers of every pair (one) and a trade per recent candle", function()
    local w = world()
    bar(w, 149, 100, 101, 99, 100.5, 3)
    bar(w, 150, 100.5, 101, 99, 99.5, 4)
    assert.are.same({ w.ex.GetTicker() }, w.ex.GetTickers())
    local trades = w.ex.GetTrades()
    assert.are.equal(20, #trades)
    assert.are.same({ Id = 149, Time = T0 + 149 * P - 1, Price = 100.5, Amount = 3, Type = ORDER_TYPE_BUY },
      trades[19])
    assert.are.same({ Id = 150, Time = T0 + 150 * P - 1, Price = 99.5, Amount = 4, Type = ORDER_TYPE_SELL },
      trades[20])
  end)

  it("return as many records without a limit as SetMaxBarLen says, and the last answer as JSON", function()
    local w = world()
    assert.are.equal(100, #w.ex.GetRecords())
    w.ex.SetMaxBarLen(120)
    assert.are.equal(120, #w.ex.GetRecords())
    assert.are.equal(5, #w.ex.GetRecords(nil, nil, 5))
    raises("exchange.SetMaxBarLen: n must be a whole number from 1 to 1000000, got 0", w.ex.SetMaxBarLen, 0)
    local t = w.ex.GetTicker()
    assert.are.same(t, json.decode(w.ex.GetRawJSON()))
    w.ex.GetName()                            -- not a data call: the raw JSON stays the ticker's
    assert.are.same(t, json.decode(w.ex.GetRawJSON()))
  end)

  it("give the configured USD/CNY rate, or nil and why", function()
    assert.are.equal(7.12, world({ config = { usd_cny = 7.12 } }).ex.GetUSDCNY())
    local w = world()
    assert.is_nil(w.ex.GetUSDCNY())
    assert.are.equal("exchange.GetUSDCNY: no USD/CNY rate is configured: set exchange.usd_cny in the config", last_log(w))
  end)

  it("give the fee rates the exchange charges with GetFee: Buy and Sell in percent, Maker and Taker fractions", function()
    local fee = world({ config = { maker_fee = 0.0002, taker_fee = 0.0005 } }).ex.GetFee()
    assert.are.same({ Buy = 0.05, Sell = 0.05, Maker = 0.0002, Taker = 0.0005 }, fee)
    -- and an order that fills at once pays Taker of its value
    local w = world({ config = { maker_fee = 0.0002, taker_fee = 0.0005, balance = 100 } })
    local id = w.ex.Buy(150, 0.5)                         -- priced through the book: fills at once, at the ask
    local o = w.ex.GetOrder(id)
    assert.are.equal(ORDER_STATE_CLOSED, o.Status)
    assert.is_true(near(100 - o.AvgPrice * 0.5 * (1 + fee.Taker), w.ex.GetAccount().Balance))
  end)

  it("take SetTimeout's timeout (every call of the paper exchange answers at once) and refuse a wrong one", function()
    local w = world()
    w.ex.SetTimeout(500)
    exchange.SetTimeout(1)
    assert.is_table(w.ex.GetTicker())
    raises("exchange.SetTimeout: the timeout must be a number of ms above 0, at most 3600000, got 0", w.ex.SetTimeout, 0)
    raises("exchange.SetTimeout: the timeout must be a number of ms above 0, at most 3600000, got nil", w.ex.SetTimeout)
  end)

  it("keep SetBase's address for GetBase, name it when IO(\"api\") is refused, and refuse what is not a URL", function()
    local w = world()
    assert.are.equal("", w.ex.GetBase())
    w.ex.SetBase("https://fapi.binance.com/")
    assert.are.equal("https://fapi.binance.com", w.ex.GetBase())
    local ok_, err = pcall(w.ex.IO, "api", "POST", "/sapi/v1/asset/transfer", "type=UMFUTURE_MAIN")
    assert.is_false(ok_)
    assert.truthy(err:find("the paper exchange has no venue to send it to (its base address "
      .. "https://fapi.binance.com names none)", 1, true), err)
    raises("exchange.SetBase: ftp://x.example is not an http:// or https:// URL with a host (\"\" clears it)",
      w.ex.SetBase, "ftp://x.example")
    raises("exchange.SetBase: https:// is not an http:// or https:// URL with a host (\"\" clears it)",
      w.ex.SetBase, "https://")
    raises("exchange.SetBase: expects a URL string (at most 2048 bytes, no spaces), got nil", w.ex.SetBase)
    assert.are.equal("https://fapi.binance.com", w.ex.GetBase())      -- a refused address changed nothing
    w.ex.SetBase("")
    assert.are.equal("", w.ex.GetBase())
  end)

  it("place orders with CreateOrder's sides and list the finished ones with GetHistoryOrders", function()
    local w = world({ config = { stocks = 1 } })
    local a = w.ex.CreateOrder("BTC_USDT", "buy", 101, 0.5, "through")           -- fills at once
    w.t = w.t + 1
    local b = w.ex.CreateOrder("", "sell;{\"timeInForce\":\"GTC\"}", 120, 0.25)  -- rests
    w.t = w.t + 1
    local c = w.ex.CreateOrder("BTC_USDT", "buy", 90, 0.1)
    w.ex.CancelOrder(c)
    assert.are.same({ 1, 0, 2 }, { w.ex.GetOrder(a).Status, w.ex.GetOrder(b).Status, w.ex.GetOrder(c).Status })
    assert.are.equal("Buy 101 0.5 (order 1) through", w.lines[1])
    local hist = w.ex.GetHistoryOrders()
    assert.are.same({ a, c }, { hist[1].Id, hist[2].Id })
    assert.are.equal(1, #w.ex.GetHistoryOrders("BTC_USDT", 0, 1))
    assert.are.equal(c, w.ex.GetHistoryOrders(w.t)[1].Id)                        -- since, without a symbol
    assert.are.equal(0, #w.ex.GetHistoryOrders(w.t + 1))
    assert.is_nil(w.ex.CreateOrder("ETH_USDT", "buy", 101, 1))
    assert.are.equal("exchange.CreateOrder: this exchange trades BTC_USDT only, got symbol 'ETH_USDT'", last_log(w))
    raises("exchange.CreateOrder: side 'long' is not one of buy, sell, closebuy, closesell", w.ex.CreateOrder,
      "BTC_USDT", "long", -1, 1)
    raises("are not {\"timeInForce\":\"GTC\"}", w.ex.CreateOrder, "BTC_USDT", "buy;{\"timeInForce\":\"IOC\"}", 1, 1)
    assert.is_nil(w.ex.GetHistoryOrders(nil, nil, 2.5))
  end)

  it("run a call through Go at once, its result taken once by wait, with or without a colon", function()
    local w = world({ config = { stocks = 1 } })
    local gt, gb = w.ex.Go("GetTicker"), w.ex.Go("Sell", 120, 0.5, "through Go")
    assert.are.same(w.ex.GetTicker(), gt.wait())
    assert.are.equal(1, gb:wait(1000))
    assert.are.same({ "Sell 120 0.5 (order 1) through Go" }, w.lines)
    raises("wait: routine 2 already finished: its result was taken", gb.wait)
    raises("wait: timeout must be a number of ms, got string", w.ex.Go("GetAccount").wait, "1s")
    raises("exchange.Go: method must name a call of the exchange such as \"GetTicker\" or \"Buy\", got 'GetTicekr'",
      w.ex.Go, "GetTicekr")
    assert.is_nil(w.ex.Go("GetOrder", 99).wait())       -- a failed call's nil, as the call returns it
  end)

  it("convert every price shown by SetRate's rate, and the prices of orders back", function()
    local w = world()
    bar(w, 150, 100, 103, 98, 101.5, 7.25)
    local t, d, r = w.ex.GetTicker(), w.ex.GetDepth(), w.ex.GetRecords()
    w.ex.SetRate(7)
    assert.are.equal(7, w.ex.GetRate())
    local t7, d7, r7 = w.ex.GetTicker(), w.ex.GetDepth(), w.ex.GetRecords()
    for _, k in ipairs({ "Open", "High", "Low", "Sell", "Buy", "Last" }) do assert.are.equal(t[k] * 7, t7[k], k) end
    assert.are.same({ t.Volume, t.Time }, { t7.Volume, t7.Time })
    assert.are.equal(d.Asks[3].Price * 7, d7.Asks[3].Price)
    assert.are.equal(d.Bids[10].Price * 7, d7.Bids[10].Price)
    assert.are.same({ r[100].Close * 7, r[100].Volume }, { r7[100].Close, r7[100].Volume })
    assert.are.equal(101.5, w.ex.GetRecords()[100].Close / 7)      -- the shared records themselves are unchanged
    local id = w.ex.Buy(t7.Sell, 1)                                -- a price in the shown currency: fills at Sell
    local o = w.ex.GetOrder(id)
    assert.are.same({ 1, t7.Sell, t7.Sell }, { o.Status, o.Price, o.AvgPrice })
    assert.are.equal(10000 - t.Sell * 1.002, w.ex.GetAccount().Balance)   -- balances stay in the quote currency
    assert.are.same({ "Buy 101.52 1 (order 1)", "Filled buy 1 at 101.52, fee 0.20304 USDT (order 1)" }, w.lines)
    assert.are.same(t7, w.ex.Go("GetTicker").wait())             -- Go goes through the conversion too
    assert.are.same(w.ex.GetOrder(id), w.ex.Go("GetOrder", id).wait())
    assert.is_nil(w.ex.Buy(-7, 1))                                 -- -7 / 7 is not a market order
    assert.are.equal("exchange.Buy: price must be > 0, or -1 for a market order, got -7", last_log(w))
    assert.is_nil(w.ex.Buy(0.02, 1))
    assert.are.equal("exchange.Buy: price 0.02 (0.002857142857 USDT at rate 7) is below the tick size 0.01",
      last_log(w))
    w.ex.SetRate(7.1)                     -- a price rounded in the shown currency still buys at Sell
    local t71 = w.ex.GetTicker()
    local o71 = w.ex.GetOrder(w.ex.Buy(_N(t71.Sell, 2), 0.5))
    assert.are.same({ 1, t.Sell }, { o71.Status, o71.AvgPrice / 7.1 })
    w.ex.SetRate(1)
    assert.are.same(t, w.ex.GetTicker())
    raises("exchange.SetRate: the rate must be a finite number > 0 (1: no conversion), got 0", w.ex.SetRate, 0)
  end)

  it("switch to their own pair only, with SetCurrency or IO, and refuse the venues' IO commands", function()
    local w = world()
    w.ex.SetCurrency("BTC_USDT")
    w.ex.IO("currency", "BTC_USDT")
    raises("exchange.SetCurrency: this exchange trades BTC_USDT, on its market only; ETH_USDT needs an exchange of "
      .. "its own: add one to the config's exchanges (docs/exchange.md)", w.ex.IO, "currency", "ETH_USDT")
    raises("exchange.IO(\"api\", ...) sends a request to a venue's own API: the paper exchange has no venue to send "
      .. "it to (docs/platform.md)", w.ex.IO, "api", "GET", "/api/v3/account")
    raises("exchange.IO: 'trade_margin' is not a command of the paper exchange", w.ex.IO, "trade_margin")
  end)

  it("sign with HMAC and Encode as the global Encode does, refusing the account-key templates", function()
    local w = world()
    assert.are.equal(Encode("sha256", "raw", "hex", "data", "raw", "key"), w.ex.HMAC("sha256", "hex", "data", "key"))
    assert.are.equal("5031fe3d989c6d1537a013fa6e739da23463fdaec3b70137d828e36ace221bd0",
      w.ex.HMAC("sha256", "hex", "data", "key"))
    raises("exchange.HMAC: {{secretkey}} names a key of the account, and the paper exchange has no keys",
      w.ex.HMAC, "sha256", "hex", "data", "{{secretkey}}")
    assert.are.equal(MD5("abc"), w.ex.Encode("md5", "raw", "hex", "abc"))
  end)
end)

describe("order lines", function()
  it("are logged for Buy, Sell, CancelOrder and every fill, with the extra arguments", function()
    local w = world({ config = { stocks = 1 } })
    w.ex.Buy(-1, 1000, "market buy")
    w.ex.Buy(100.02, 0.5, "through", 2)
    local id = w.ex.Sell(101, 0.25)
    local rest = w.ex.Buy(98, 1)
    w.ex.CancelOrder(rest, "too far")
    bar(w, 151, 100, 101.5, 100, 101)
    to(w, 151)
    w.ex.GetAccount()
    assert.are.same({
      "Buy market 1000 (order 1) market buy",
      "Filled buy 9.97904 at 100.01, fee 1.9960075808 USDT (order 1)",
      "Buy 100.02 0.5 (order 2) through 2",
      "Filled buy 0.5 at 100.01, fee 0.10001 USDT (order 2)",
      "Sell 101 0.25 (order 3)",
      "Buy 98 1 (order 4)",
      "Cancel 4 too far",
      "Filled sell 0.25 at 101, fee 0.02525 USDT (order 3)",
    }, w.lines)
    assert.are.equal(ORDER_STATE_CLOSED, w.ex.GetOrder(id).Status)
  end)

  it("are logged by exchange.Log for orders not placed, and switched off and on by EnableLog", function()
    local w = world()
    w.ex.Log(LOG_TYPE_BUY, 100, 0.5, "signal")
    w.ex.Log(LOG_TYPE_CANCEL, 7)
    raises("exchange.Log: the type must be LOG_TYPE_BUY, LOG_TYPE_SELL or LOG_TYPE_CANCEL, got 5", w.ex.Log, 5, 1)
    EnableLog(false)
    local ok, err = pcall(function()
      w.ex.Log(LOG_TYPE_SELL, 100, 0.5)
      w.ex.Buy(-1, 100)
      assert.is_nil(w.ex.Buy(-1, 1e9))      -- errors are not order lines: still logged
    end)
    EnableLog(true)
    assert(ok, err)
    w.ex.Sell(101, 0.5)
    assert.are.same({ "Buy 100 0.5 signal", "Cancel 7", "Sell 101 0.5 (order 2)" }, w.lines)
    assert.matches("insufficient balance", last_log(w), 1, true)
    raises("EnableLog: expects true or false, got number (a Lua 0 is true: write false)", EnableLog, 0)
  end)
end)

describe("invalid arguments", function()
  for _, call in ipairs({ "Buy", "Sell" }) do
    it("to " .. call .. " return nil with the reason when out of range, and raise when not numbers", function()
      local w = world({ config = { stocks = 10 } })
      local refused = {
        { 100, 0, "amount must be > 0, got 0" },
        { 100, -1, "amount must be > 0, got -1" },
        { -1, -1, "amount must be > 0, got -1" },
        { 100, 0 / 0, "amount must be > 0, got nan" },
        { 100, math.huge, "amount must be > 0, got inf" },
        { 0, 1, "price must be > 0, or -1 for a market order, got 0" },
        { -2, 1, "price must be > 0, or -1 for a market order, got -2" },
        { 0 / 0, 1, "price must be > 0, or -1 for a market order, got nan" },
        { math.huge, 1, "price must be > 0, or -1 for a market order, got inf" },
      }
      for _, r in ipairs(refused) do
        assert.is_nil(w.ex[call](r[1], r[2]))
        assert.are.equal("exchange." .. call .. ": " .. r[3], last_log(w))
      end
      local raised = {
        { "100", 1, "price must be a number, got string" },
        { 100, "1", "amount must be a number, got string" },
        { 100, nil, "amount must be a number, got nil" },
        { nil, 1, "price must be a number, got nil" },
        { {}, 1, "price must be a number, got table" },
      }
      for _, r in ipairs(raised) do
        raises("exchange." .. call .. ": " .. r[3], w.ex[call], r[1], r[2])
      end
      assert.are.same({ Balance = 10000, FrozenBalance = 0, Stocks = 10, FrozenStocks = 0 }, w.ex.GetAccount())
      assert.are.equal(0, w.ex._summary().orders)
    end)
  end

  it("of other types raise in the data and order calls", function()
    local w = world()
    raises("exchange.GetTicker: symbol must be a string, got number", w.ex.GetTicker, 42)
    raises("exchange.GetRecords: period must be a number, got string", w.ex.GetRecords, nil, "60")
    raises("exchange.GetRecords: limit must be a number, got string", w.ex.GetRecords, nil, nil, "5")
    raises("exchange.GetOrder: id must be a number, got table", w.ex.GetOrder, {})
    raises("exchange.CancelOrder: id must be a number, got nil", w.ex.CancelOrder)
  end)
end)

describe("the exchange object", function()
  it("works with a colon too, as ported code often calls it", function()
    local w = world()
    assert.are.same(w.ex.GetTicker(), w.ex:GetTicker())
    local id = w.ex:Buy(90, 1)
    assert.are.same(w.ex.GetOrder(id), w.ex:GetOrder(id))
    assert.is_true(w.ex:CancelOrder(id))
    assert.are.equal("Paper", w.ex:GetName())
  end)

  it("settles resting orders lazily: no candle is read while no order is pending", function()
    local w = world({ n = 20000, at = 10 })
    w.ex.GetAccount()
    local calls = w.market.candle_calls
    to(w, 19000)
    w.ex.GetAccount()
    assert.are.equal(calls, w.market.candle_calls)
    local id = w.ex.Buy(50, 1)          -- reads the current candle once for its price
    calls = w.market.candle_calls
    to(w, 19010)
    w.ex.GetAccount()
    assert.are.equal(calls + 10, w.market.candle_calls)
    assert.is_true(w.ex.CancelOrder(id))
    to(w, 19990)
    w.ex.GetAccount()
    assert.are.equal(calls + 10, w.market.candle_calls)
  end)

  it("reads only the candles GetRecords returns, and each once, however far the clock jumps", function()
    local w = world({ n = 20000, at = 10 })
    w.ex.GetRecords()
    local calls = w.market.candle_calls
    to(w, 15000)
    assert.are.equal(100, #w.ex.GetRecords())
    assert.are.equal(calls + 100, w.market.candle_calls)
    to(w, 15001)
    w.ex.GetRecords()
    assert.are.equal(calls + 101, w.market.candle_calls)
  end)

  it("sums up orders, fills, fees and value at the current Last for the host", function()
    local w = world({ config = { balance = 1000, stocks = 1, maker_fee = 0.001, taker_fee = 0.002 } })
    w.ex.Buy(90, 2)                 -- rests: 180.18 frozen
    w.ex.Sell(-1, 0.5)              -- at 99.99
    w.ex.Sell(150, 0.25)            -- rests
    bar(w, 152, 100, 100, 100, 120)
    to(w, 152)
    local s = w.ex._summary()
    assert.are.same({ "balance", "fees", "fills", "frozen_balance", "frozen_stocks", "orders", "pnl",
                      "start_value", "stocks", "value" }, keys(s))
    assert.are.same({ 3, 1, 0.25, 0.25 }, { s.orders, s.fills, s.stocks, s.frozen_stocks })
    assert_near(0.5 * 99.99 * 0.002, s.fees, "fees")
    assert_near(1000 - 180.18 + 0.5 * 99.99 * 0.998, s.balance, "balance")
    assert_near(180.18, s.frozen_balance, "frozen_balance")
    assert_near(1000 + 120, s.start_value, "start_value")
    assert_near(s.balance + s.frozen_balance + 0.5 * 120, s.value, "value")
    assert_near(s.value - s.start_value, s.pnl, "pnl")
  end)
end)

local lcg = h.lcg

-- Drives an exchange through `steps` random calls on a random walk and checks the account after each one against
-- a model the test keeps from the documented rules (which orders fill, at what price, with which fee).
local function random_run(seed, steps)
  local rnd = lcg(seed)
  local cfg = { balance = 10000, stocks = 20, maker_fee = 0.001, taker_fee = 0.002, slippage = 0.0005 }
  local w = world({ n = 1500, at = 50, config = cfg })
  local price = 100
  for k = 1, 1500 do
    local o = price * (1 + (rnd() - 0.5) * 0.01)
    local c = o * (1 + (rnd() - 0.5) * 0.04)
    bar(w, k, o, math.max(o, c) * (1 + rnd() * 0.01), math.min(o, c) * (1 - rnd() * 0.01), c, rnd() * 10)
    price = c
  end
  local k = 50                -- the latest closed candle
  local settled = 50          -- the model has settled its pending orders up to this candle
  local model = {}            -- id -> {side, price, amount, time, rate, status, px}
  local ids = {}

  local function check(where)
    local a = w.ex.GetAccount()
    -- the model settles the candles that closed since, by the documented rule
    for j = settled + 1, k do
      local c = w.candles[j]
      for _, id in ipairs(ids) do
        local m = model[id]
        if m.status == 0 then
          if m.side == 0 and c[4] <= m.price then
            m.status, m.px = 1, (c[1] >= m.time and c[2] < m.price) and math.min(m.price, cents_up(c[2])) or m.price
          elseif m.side == 1 and c[3] >= m.price then
            m.status, m.px = 1, (c[1] >= m.time and c[2] > m.price) and math.max(m.price, cents_down(c[2]))
              or m.price
          end
        end
      end
    end
    settled = k
    local fees, bought, sold, base_in, base_out, fb, fs, pending, fills = 0, 0, 0, 0, 0, 0, 0, {}, 0
    for _, id in ipairs(ids) do
      local m, o = model[id], w.ex.GetOrder(id)
      assert(o.Status == m.status, string.format("%s: order %d status %d, the model says %d", where, id, o.Status,
        m.status))
      if m.status == 1 then
        fills = fills + 1
        assert_near(m.px, o.AvgPrice, where .. ": AvgPrice of order " .. id)
        if m.price == -1 and m.side == 0 then     -- DealAmount is the base bought, for at most Amount
          local value = o.DealAmount * o.AvgPrice
          assert(value * (1 + m.rate) <= o.Amount + 1e-9 and o.Amount - value * (1 + m.rate) < o.AvgPrice * 1e-5
            * (1 + m.rate) + 1e-9, where .. ": a market buy spends its amount to the last step")
          fees, bought, base_in = fees + value * m.rate, bought + value, base_in + o.DealAmount
        else
          local value = o.AvgPrice * o.Amount
          fees = fees + value * m.rate
          if m.side == 0 then bought, base_in = bought + value, base_in + o.Amount
          else sold, base_out = sold + value, base_out + o.Amount end
        end
      elseif m.status == 0 then
        pending[#pending + 1] = id
        if m.side == 0 then fb = fb + m.price * m.amount * (1 + cfg.maker_fee) else fs = fs + m.amount end
      end
    end
    assert(a.Balance >= 0 and a.Stocks >= 0 and a.FrozenBalance >= 0 and a.FrozenStocks >= 0, where)
    assert_near(cfg.balance + sold, a.Balance + a.FrozenBalance + fees + bought, where .. ": quote conservation")
    assert_near(cfg.stocks + base_in - base_out, a.Stocks + a.FrozenStocks, where .. ": base conservation")
    assert_near(fb, a.FrozenBalance, where .. ": FrozenBalance")
    assert_near(fs, a.FrozenStocks, where .. ": FrozenStocks")
    local got = {}
    for i, o in ipairs(w.ex.GetOrders()) do got[i] = o.Id end
    assert.are.same(pending, got)
    local s = w.ex._summary()
    assert_near(fees, s.fees, where .. ": summary fees")
    assert.are.equal(fills, s.fills)
    assert.are.equal(#ids, s.orders)
  end

  local function order(side, price, amount, where)
    local t = w.ex.GetTicker()
    local before = w.ex.GetAccount()
    local id = (side == 0 and w.ex.Buy or w.ex.Sell)(price, amount)
    -- what the exchange makes of them: the price on the cent on the trader's side, the amount down to 1e-5
    if price ~= -1 then price = side == 0 and cents_down(price) or cents_up(price) end
    if not (price == -1 and side == 0) then amount = math.floor(amount * 1e5 + 1e-6) / 1e5 end
    if not id then
      assert.matches("insufficient", w.logs[#w.logs], 1, true)
      assert.are.same(before, w.ex.GetAccount())
      return
    end
    local m = { side = side, price = price, amount = amount, time = w.t, status = 0, rate = cfg.maker_fee }
    local through = price == -1 or (side == 0 and price >= t.Sell) or (side == 1 and price <= t.Buy)
    if through then
      m.status, m.rate = 1, cfg.taker_fee
      local px = side == 0 and cents_up(t.Sell * (1 + cfg.slippage)) or cents_down(t.Buy * (1 - cfg.slippage))
      if price ~= -1 then px = side == 0 and math.min(price, px) or math.max(price, px) end
      m.px = px
    end
    model[id] = m
    ids[#ids + 1] = id
    assert.are.equal(#ids, id, where .. ": ids increase by one")
  end

  for step = 1, steps do
    local where = string.format("seed %d step %d", seed, step)
    local r = rnd()
    local last = w.candles[k][5]
    if r < 0.25 then
      k = math.min(k + math.floor(rnd() * 4), 1500)
      w.t = math.max(w.t, close_of(k) + math.floor(rnd() * (P - 1)))
    elseif r < 0.45 then
      order(0, last * (0.95 + rnd() * 0.1), rnd() * 20, where)
    elseif r < 0.6 then
      order(1, last * (0.95 + rnd() * 0.1), rnd() * 10, where)
    elseif r < 0.7 then
      order(0, -1, rnd() * 3000, where)
    elseif r < 0.8 then
      order(1, -1, rnd() * 8, where)
    else
      local id = math.floor(rnd() * (#ids + 2)) + 1
      local m = model[id]
      local before = w.ex.GetAccount()
      if w.ex.CancelOrder(id) then
        assert(m and m.status == 0, where .. ": canceled an order that was not pending")
        m.status = 2
        local a = w.ex.GetAccount()
        if m.side == 0 then
          assert_near(before.Balance + m.price * m.amount * (1 + cfg.maker_fee), a.Balance, where .. ": refund")
        else
          assert_near(before.Stocks + m.amount, a.Stocks, where .. ": stocks back")
        end
      else
        assert(not m or m.status ~= 0, where .. ": could not cancel a pending order")
      end
    end
    check(where)
  end
  return #ids
end

describe("random order sequences", function()
  it("keep balances, frozen amounts, fees and fills consistent after every step", function()
    local total = 0
    for seed = 1, 5 do total = total + random_run(seed, 400) end
    assert.is_true(total > 500, "too few orders were accepted to mean anything: " .. total)
  end)
end)

describe("in a stratrun process", function()
  -- Runs script with a config file (Lua text) in a new folder; returns {code, out, err, dir}.
  local function run(script, conf, params)
    local dir = h.tmpdir()
    h.script(dir, h.report_prelude .. script)
    h.write(dir .. "/stratrun.conf", conf)
    local argv = { dir = dir, "--data-dir", dir .. "/data", "--id", "ex1", "--config", dir .. "/stratrun.conf" }
    for name, v in pairs(params or {}) do
      argv[#argv + 1] = "-p"
      argv[#argv + 1] = name .. "=" .. tostring(v)
    end
    argv[#argv + 1] = "strategy.lua"
    local r = h.run(argv)
    r.dir = dir
    return r
  end

  -- A CSV of candles {time, open, high, low, close, volume}; times as ms or as ISO 8601 UTC.
  local function csv(dir, name, candles, iso)
    local lines = { "time,open,high,low,close,volume" }
    for _, c in ipairs(candles) do
      local t = iso and os.date("!%Y-%m-%dT%H:%M:%SZ", c[1] // 1000) or tostring(c[1])
      lines[#lines + 1] = string.format("%s,%.17g,%.17g,%.17g,%.17g,%.17g", t, c[2], c[3], c[4], c[5], c[6])
    end
    return h.write(dir .. "/" .. name, table.concat(lines, "\n") .. "\n")
  end

  local history = {}
  for k = 1, 150 do
    local p = 1000 + k
    history[k] = { T0 + (k - 1) * P, p, p + 2, p - 3, p + 1, k / 4 }
  end

  local report = [[
    local t = exchange.GetTicker()
    t.Time = nil
    local r = exchange.GetRecords()
    out(enc(t), #r, enc(r[1]), enc(r[#r]), #exchange.GetRecords(nil, nil, 20), enc(exchange.GetRecords(PERIOD_M5, 2)))
  ]]

  it("reads the same market from a CSV with ms times and one with ISO times", function()
    local dir = h.tmpdir()
    local results = {}
    for _, iso in ipairs({ false, true }) do
      local file = csv(dir, iso and "iso.csv" or "ms.csv", history, iso)
      local r = run(report, string.format("market = %q", "csv:" .. file))
      assert.are.equal(0, r.code, r.err)
      results[#results + 1] = h.fields(r.out)[1]
    end
    assert.are.same(results[1], results[2])
    local f = results[1]
    local t = h.dec(f[1])
    assert.are.equal(1151.12, t.Sell)      -- 1151.1151 up to the cent
    assert.are.equal(1150.88, t.Buy)       -- 1150.8849 down
    t.Sell, t.Buy = nil, nil
    assert.are.same({ Symbol = "BTC_USDT", Open = 1150, High = 1152, Low = 1147, Last = 1151, Volume = 37.5 }, t)
    assert.are.equal("100", f[2])
    assert.are.same({ Time = T0 + 50 * P, Open = 1051, High = 1053, Low = 1048, Close = 1052, Volume = 12.75 },
      h.dec(f[3]))
    assert.are.same({ Time = T0 + 149 * P, Open = 1150, High = 1152, Low = 1147, Close = 1151, Volume = 37.5 },
      h.dec(f[4]))
    assert.are.equal("20", f[5])
    assert.are.same({
      { Time = T0 + 140 * P, Open = 1141, High = 1147, Low = 1138, Close = 1146, Volume = 141 / 4 + 142 / 4 + 143 / 4
        + 144 / 4 + 145 / 4 },
      { Time = T0 + 145 * P, Open = 1146, High = 1152, Low = 1143, Close = 1151, Volume = 146 / 4 + 147 / 4 + 148 / 4
        + 149 / 4 + 150 / 4 },
    }, h.dec(f[6]))
  end)

  it("names order states, types, offsets, positions and log types with the platform's constants", function()
    -- A grid that compares order.Type with ORDER_TYPE_BUY must see a buy as a buy: with the constants missing it
    -- compared nil with nil and sent its sell ladder as buys.
    local dir = h.tmpdir()
    local file = csv(dir, "m.csv", history)
    local r = run([[
      EnableLog(false)      -- no order lines between the rows (they have their own case)
      local b = exchange.GetOrder(exchange.Buy(-1, 100))
      local rest = exchange.Sell(5000, 0.01)
      local s = exchange.GetOrder(rest)
      exchange.CancelOrder(rest)
      local c = exchange.GetOrder(rest)
      out(b.Type == ORDER_TYPE_BUY, b.Type == ORDER_TYPE_SELL, b.Status == ORDER_STATE_CLOSED,
          s.Type == ORDER_TYPE_SELL, s.Status == ORDER_STATE_PENDING, c.Status == ORDER_STATE_CANCELED)
      out(ORDER_STATE_PENDING, ORDER_STATE_CLOSED, ORDER_STATE_CANCELED, ORDER_STATE_UNKNOWN, ORDER_TYPE_BUY,
          ORDER_TYPE_SELL, ORDER_OFFSET_OPEN, ORDER_OFFSET_CLOSE, PD_LONG, PD_SHORT, PD_LONG_YD, PD_SHORT_YD,
          LOG_TYPE_BUY, LOG_TYPE_SELL, LOG_TYPE_CANCEL, math.type(ORDER_TYPE_SELL))
    ]], string.format("market = %q\nexchange = {balance = 1000, stocks = 1}", "csv:" .. file))
    assert.are.equal(0, r.code, r.err)
    local rows = h.fields(r.out)
    assert.are.same({"true", "false", "true", "true", "true", "true"}, rows[1])
    assert.are.same({"0", "1", "2", "3", "0", "1", "0", "1", "0", "1", "2", "3", "0", "1", "2", "integer"}, rows[2])
  end)

  it("takes the account from the config's exchange table and trades on the CSV's prices", function()
    local dir = h.tmpdir()
    local file = csv(dir, "m.csv", history)
    local r = run([[
      EnableLog(false)
      out(exchange.GetName(), exchange.GetCurrency(), enc(exchange.GetAccount()))
      local id = exchange.Sell(-1, 0.5)
      out(id, enc(exchange.GetOrder(id)), enc(exchange.GetAccount()))
      out(tostring(exchange.Buy(-1, 5000)))
      out(tostring(exchange.GetTicker("BTC_USDT")))
    ]], string.format([[
      market = %q
      exchange = {name = "Sim", currency = "ETH_USDT", balance = 500, stocks = 2, maker_fee = 0, taker_fee = 0.01,
                  slippage = 0.01}
    ]], "csv:" .. file))
    assert.are.equal(0, r.code, r.err)
    local rows = h.fields(r.out)
    local lines = h.lines(r.out)
    assert.are.same({ "Sim", "ETH_USDT" }, { rows[1][1], rows[1][2] })
    assert.are.same({ Balance = 500, FrozenBalance = 0, Stocks = 2, FrozenStocks = 0 }, h.dec(rows[1][3]))
    local px = 1139.37        -- Buy 1150.88 less 1 % slippage is 1139.3712, down to the cent
    local o = h.dec(rows[2][2])
    assert.are.same({ 1, -1, 0.5, 0.5, 1, 1, "ETH_USDT" }, { o.Id, o.Price, o.Amount, o.DealAmount, o.Status,
                                                            o.Type, o.Symbol })
    assert_near(px, o.AvgPrice, "AvgPrice")
    local a = h.dec(rows[2][3])
    assert_near(500 + 0.5 * px * 0.99, a.Balance, "Balance")
    assert.are.equal(1.5, a.Stocks)
    -- out() lines and the exchange's Log lines, in order
    assert.matches("^exchange.Buy: insufficient balance: needs 5000 USDT, has %d+%.?%d* USDT free %(0 frozen",
      lines[3])
    assert.are.equal("nil", lines[4])
    assert.are.equal("exchange.GetTicker: this exchange trades ETH_USDT only, got symbol 'BTC_USDT'", lines[5])
    assert.are.equal("nil", lines[6])
    assert.are.equal(6, #lines)
  end)

  it("reads bars of the configured period with GetRecords(), one period per bot with the config's bots", function()
    local dir = h.tmpdir()
    h.script(dir, h.report_prelude .. [[
      Sleep(3 * 3600000)
      local r = exchange.GetRecords()
      out(exchange.GetPeriod(), r[#r].Time - r[#r - 1].Time, exchange.GetLabel())
    ]])
    h.write(dir .. "/stratrun.conf", [[
      market = "sim:seed=3,bars=600"
      exchange = { period = 300 }
      bots = { hourly = { exchange = { period = 3600, label = "H1" } } }
    ]])
    local r = h.run{ dir = dir, "replay", "--data-dir", dir .. "/d", "strategy.lua@five", "strategy.lua@hourly" }
    assert.are.equal(0, r.code, r.err)
    local rows = h.fields(r.out)
    assert.are.same({ { "300", "300000", "Paper" }, { "3600", "3600000", "H1" } }, { rows[1], rows[2] })
    -- refused at start: a bots entry for no bot of the run, a bad value; at the first call: not a multiple
    local bad = {
      { 'bots = { hourly = { exchange = {} } }', "config: bots.hourly names no bot of this run (its bots: five)" },
      { 'bots = { five = { exchange = { period = 1.5 } } }', "config stratrun.conf:2: bots.five.exchange: exchange.period is "
        .. "a whole number of seconds from 0 (the market's) to 2678400, got 1.5" },
      { 'bots = { five = { speed = 1 } }', "config stratrun.conf:2: unknown key bots.five.speed (allowed: exchange, exchanges)" },
      { 'bots = { [5] = {} }', 'bots: every key must be a bot ID as a string of 1 to 64 characters (write ["632800"]' },
    }
    for _, b in ipairs(bad) do
      h.write(dir .. "/stratrun.conf", 'market = "sim:seed=3,bars=60"\n' .. b[1])
      r = h.run{ dir = dir, "replay", "--data-dir", dir .. "/d", "strategy.lua@five" }
      assert.are.equal(2, r.code, b[1])
      assert.matches(b[2], r.err, 1, true)
    end
    h.write(dir .. "/stratrun.conf", 'market = "sim:seed=3,bars=600"\nexchange = { period = 90 }')
    r = h.run{ dir = dir, "replay", "--data-dir", dir .. "/d", "strategy.lua@five" }
    assert.are.equal(2, r.code, r.out .. r.err)          -- refused at start: no bot runs on it
    assert.matches("stratrun: exchange: invalid config: exchange.period 90 s is not a multiple of the market's "
      .. "period of 60 s\n", r.err, 1, true)
    h.write(dir .. "/stratrun.conf", 'market = "sim:seed=3,bars=600"\nbots = { hourly = { exchange = { period = 90 } } }')
    r = h.run{ dir = dir, "replay", "--data-dir", dir .. "/d", "strategy.lua@five", "strategy.lua@hourly" }
    assert.are.equal(2, r.code, r.out .. r.err)
    assert.matches("exchange.period 90 s is not a multiple of the market's period of 60 s (the config's exchange "
      .. "with bots.hourly.exchange over it)", r.err, 1, true)
  end)

  it("is a global in every bot, with the platform's PERIOD_ constants", function()
    local dir = h.tmpdir()
    local r = run([[
      out(exchange == require("exchange"), PERIOD_M1, PERIOD_H1, PERIOD_D1, type(exchange._summary), exchange:GetName())
    ]], string.format("market = %q", "csv:" .. csv(dir, "m.csv", history)))
    assert.are.equal(0, r.code, r.err)
    assert.are.same({ "true", "60", "3600", "86400", "function", "Paper" }, h.fields(r.out)[1])
  end)

  it("raises where the strategy called it with an argument of the wrong type", function()
    local dir = h.tmpdir()
    local r = run('\nexchange.Buy("100", 1)\n', string.format("market = %q", "csv:" .. csv(dir, "m.csv", history)))
    assert.are.equal(1, r.code)
    -- the prelude is one chunk with the script: the call is on its last line
    local line = select(2, h.report_prelude:gsub("\n", "")) + 2
    assert.matches("strategy.lua:" .. line .. ": exchange.Buy: price must be a number, got string", r.err, 1, true)
  end)

  -- A resting order filled by a candle that closes after the order was placed, on the live clock. The CSV's last
  -- candle closes `ahead` ms after the file is written; if the process started so late that it is already there,
  -- the run says "late" and is repeated with more time.
  it("fills a resting order when a later candle arrives on the live clock", function()
    local period = 1000
    for _, ahead in ipairs({ 1500, 4000, 10000 }) do
      local dir = h.tmpdir()
      local now = UnixNano() // 1000000
      local candles = {}
      for i = 1, 5 do candles[i] = { now - 1000 - (6 - i) * period, 100, 100, 100, 100, 1 } end
      local future = now + ahead - period
      candles[6] = { future, 99, 99, 94, 97, 1 }
      local r = run([[
        EnableLog(false)
        local r = exchange.GetRecords()
        if r[#r].Time ~= seen then out("late") return end
        local id = exchange.Buy(95, 2)
        -- the later candle must close after the order was placed: a slow process (valgrind) may reach it in between
        r = exchange.GetRecords()
        if r[#r].Time ~= seen then out("late") return end
        out(enc(exchange.GetOrder(id)))
        repeat
          Sleep(10)
          r = exchange.GetRecords()
        until r[#r].Time == future
        out(enc(exchange.GetOrder(id)), enc(exchange.GetAccount()))
      ]], string.format("market = %q\nexchange = {maker_fee = 0.001}", "csv:" .. csv(dir, "m.csv", candles)),
        { seen = candles[5][1], future = future })
      assert.are.equal(0, r.code, r.err)
      local rows = h.fields(r.out)
      if rows[1][1] ~= "late" then
        local before, after, account = h.dec(rows[1][1]), h.dec(rows[2][1]), h.dec(rows[2][2])
        assert.are.same({ 0, 0 }, { before.Status, before.DealAmount })
        assert.are.same({ 1, 2, 95 }, { after.Status, after.DealAmount, after.AvgPrice })
        assert_near(10000 - 190 * 1.001, account.Balance, "Balance")
        assert.are.same({ 0, 2, 0 }, { account.FrozenBalance, account.Stocks, account.FrozenStocks })
        return
      end
    end
    error("every run started after its future candle had closed")
  end)
end)

describe("the spec runner's own exchange", function()
  it("trades on the process's market (sim:seed=42 on the wall clock)", function()
    local t = exchange.GetTicker()
    assert.is_true(t.Last > 0 and t.Sell > t.Last and t.Buy < t.Last)
    assert.are.equal(100, #exchange.GetRecords())
    assert.are.equal(0, #exchange.GetOrders())
  end)
end)
