-- Spec for require("stratrun.ext"): the platform's trading template (stdlib/tradelib.lua) and plotting template
-- (stdlib/plotlib.lua), through real replays. What each call did is read back from the bot's log (order, fill and
-- cancel lines), its chart.jsonl and the strategy's own lines, and checked against the template's rules written
-- again here.
local h = require("helpers")

local function replay(text, opts)
  opts = opts or {}
  local r = h.run_bot(text, { mode = "replay", market = opts.market or "sim:seed=3,bars=400", args = opts.args })
  h.assert_ok(r)
  r.log = h.parse_order_log(r.out)
  return r
end

-- The strategy's own "tag json" lines, decoded, in order.
local function tagged(out, tag)
  local t = {}
  for line in out:gmatch("[^\n]+") do
    local _, msg = h.log_line(line)
    local v = msg and msg:match("^" .. tag .. " (.*)$")
    if v then t[#t + 1] = json.decode(v) end
  end
  return t
end

local function near(want, got, tol, what)
  assert(math.abs(want - got) <= tol, string.format("%s: want %.10g, got %.10g", what, want, got))
end

describe("ext trading template", function()
  it("Buy and Sell trade the amount in orders of at most MaxAmount at the touch +/- SlidePrice, and return what "
    .. "the account's change measures", function()
    local r = replay([[
      local ext = require("stratrun.ext")
      function main()
        ext.Configure({ MaxAmount = 0.05 })
        local a0 = exchange.GetAccount()
        local b = ext.Buy(0.12)
        local a1 = exchange.GetAccount()
        local s = ext.Sell(exchange, 0.07)
        local a2 = exchange.GetAccount()
        Log("result " .. json.encode({ a0 = a0, b = b, a1 = a1, s = s, a2 = a2 }))
      end
    ]])
    local res = tagged(r.out, "result")[1]
    local orders, fills = h.of_kind(r.log, "order"), h.of_kind(r.log, "fill")
    -- 0.12 in orders of 0.05, 0.05, 0.02, then 0.07 as 0.05, 0.02; each fills whole at once (OpMode 0 takes)
    local amounts = {}
    for i, o in ipairs(orders) do amounts[i] = o.amount end
    assert.are.same({ 0.05, 0.05, 0.02, 0.05, 0.02 }, amounts)
    assert.are.equal(5, #fills)
    for i, o in ipairs(orders) do
      assert.are.equal(o.id, fills[i].id)
      assert.are.equal(i <= 3 and "buy" or "sell", o.side)
      -- the order line's extra argument is the ticker the price came from: the ask + 0.1 for a buy, the bid - 0.1
      -- for a sell (to the tick, towards the trader)
      local t = json.decode(o.rest)
      if o.side == "buy" then near(t.Sell + 0.1, o.price, 0.0100001, "buy price") else near(t.Buy - 0.1, o.price, 0.0100001, "sell price") end
    end
    -- what Buy returned is the account's change: amount = stocks gained, price = quote spent / amount (fees in)
    near(0.12, res.b.amount, 1e-9, "bought")
    near(res.a1.Stocks - res.a0.Stocks, res.b.amount, 1e-9, "bought vs account")
    local spent = 0
    for i = 1, 3 do spent = spent + fills[i].price * fills[i].amount + fills[i].fee end
    near(spent / 0.12, res.b.price, 1e-3, "average buy price")
    near(0.07, res.s.amount, 1e-9, "sold")
    local got = 0
    for i = 4, 5 do got = got + fills[i].price * fills[i].amount - fills[i].fee end
    near(got / 0.07, res.s.price, 1e-3, "average sell price")
  end)

  it("Buy spends at most 95 % of the balance and stops under MinStock; Sell stops at the stocks", function()
    local r = replay([[
      local ext = require("stratrun.ext")
      function main()
        ext.Configure({ MaxAmount = 100 })
        local b = ext.Buy(100)          -- far more than 10000 USDT buys
        local a = exchange.GetAccount()
        local s = ext.Sell(100)
        Log("result " .. json.encode({ b = b, a = a, s = s, after = exchange.GetAccount(), none = ext.Sell(1) or "nil" }))
      end
    ]])
    local res = tagged(r.out, "result")[1]
    local fills = h.of_kind(r.log, "fill")
    -- the first buy is 95 % of 10000 at the price, then 95 % of what is left, until the next would be < 0.01
    assert.is_true(#fills >= 2)
    near(10000 * 0.95 / fills[1].price, fills[1].amount, 1e-4, "first buy")
    assert.is_true(res.a.Balance * 0.95 / fills[1].price < 0.01, "money left over: " .. res.a.Balance)
    near(res.a.Stocks, res.b.amount, 1e-9, "bought")
    near(res.b.amount, res.s.amount, 1e-9, "sold what there was")
    assert.is_true(res.after.Stocks < 0.01)
    assert.are.equal("nil", res.none)
  end)

  it("OpMode 1 rests on its own side and replaces the order only when the price moves more than MaxSpace", function()
    -- 20 minutes rising 0.1 % a minute with no wicks (a bid is never reached), then falling: the resting buy fills
    local dir = h.tmpdir()
    h.candle_market(dir .. "/m.csv", { price = 40000, noise = 0, wick = 0, period = 60000, bars = 60,
      shape = function(k) return k <= 20 and 1 + 0.001 * k or 1.02 - 0.002 * (k - 20) end })
    local function run(space)
      return replay(string.format([[
        local ext = require("stratrun.ext")
        function main()
          ext.Configure({ OpMode = 1, MaxSpace = %s, SlidePrice = 0, MaxAmount = 1, RetryDelay = 20000 })
          Log("result " .. json.encode(ext.Buy(0.01) or {}))
        end
      ]], space), { market = "csv:" .. dir .. "/m.csv" })
    end
    -- MaxSpace huge: one order at the bid, left to rest until the fall reaches it
    local r = run("1e9")
    local orders = h.of_kind(r.log, "order")
    assert.are.equal(1, #orders, r.out)
    near(json.decode(orders[1].rest).Buy, orders[1].price, 1e-9, "resting at the bid")
    assert.are.equal(0, #h.of_kind(r.log, "cancel"))
    near(0.01, tagged(r.out, "result")[1].amount, 1e-9, "bought")
    -- MaxSpace 40: each rise of the bid by more than 40 cancels the resting order and places one at the new bid;
    -- never two open at once
    r = run("40")
    orders = h.of_kind(r.log, "order")
    assert.is_true(#orders >= 10, r.out)
    assert.are.equal(#orders - 1, #h.of_kind(r.log, "cancel"))
    local open = {}
    for _, e in ipairs(r.log) do
      if e.kind == "order" then
        assert.are.equal(nil, next(open), "two orders open at once: " .. e.msg)
        open[e.id] = true
      elseif e.kind == "fill" or e.kind == "cancel" then
        open[e.id] = nil
      end
    end
    for i = 2, #orders do
      assert.is_true(orders[i].price - orders[i - 1].price > 40, "replaced after a move of 40 or less")
      near(json.decode(orders[i].rest).Buy, orders[i].price, 1e-9, "at the bid")
    end
    near(0.01, tagged(r.out, "result")[1].amount, 1e-9, "bought")
  end)

  it("CancelPendingOrders cancels the open orders of one type, or all; Buy waits while money is frozen", function()
    local r = replay([[
      local ext = require("stratrun.ext")
      function main()
        local t = exchange.GetTicker()
        ext.Buy(0.02)
        exchange.Buy(_N(t.Last * 0.9, 2), 0.01)
        exchange.Buy(_N(t.Last * 0.8, 2), 0.01)
        exchange.Sell(_N(t.Last * 1.2, 2), 0.01)
        ext.CancelPendingOrders(ORDER_TYPE_BUY)
        local left = exchange.GetOrders()
        Log("left " .. json.encode({ n = #left, type = left[1].Type }))
        exchange.Buy(_N(t.Last * 0.9, 2), 0.01)
        ext.CancelPendingOrders()
        Log("left " .. json.encode({ n = #exchange.GetOrders() }))
        Log(select(2, pcall(ext.CancelPendingOrders, 7)))
        exchange.Buy(_N(t.Last * 0.5, 2), 0.01)
        ext.Buy(0.01)                   -- waits for the frozen money until the replay ends
        Log("not reached")
      end
    ]], { market = "sim:seed=3,bars=60" })
    local left = tagged(r.out, "left")
    assert.are.same({ n = 1, type = 1 }, left[1])
    assert.are.same({ n = 0 }, left[2])
    assert.truthy(r.out:find("ext.CancelPendingOrders: orderType must be ORDER_TYPE_BUY or ORDER_TYPE_SELL, not 7", 1, true), r.out)
    local _, waits = r.out:gsub("ext: the account has frozen money or stocks; waiting until it has none", "")
    assert.are.equal(1, waits)
    assert.is_nil(r.out:find("not reached", 1, true))
    local orders = h.of_kind(r.log, "order")
    assert.are.equal(0.01, orders[#orders].amount)   -- the last order is the resting one: Buy placed none
    assert.are.equal(4, #h.of_kind(r.log, "cancel"))   -- the two buys, then the sell and the new buy
  end)

  it("Cross(a, b) counts the bars one average has stayed above (+) or below (-) the other, EMA or MA by MAType", function()
    local r = replay([[
      local ext = require("stratrun.ext")
      function main()
        for i = 1, 30 do
          local r = exchange.GetRecords()
          local closes = {}
          for k = 1, #r do closes[k] = r[k].Close end
          ext.Configure({ MAType = i % 2 })
          Log("cross " .. json.encode({ type = i % 2, n = ext.Cross(5, 15), closes = closes }))
          Sleep(60000 * 7)
        end
      end
    ]], { market = "sim:seed=5,bars=400,history=100" })
    local function sma(xs, n)
      local out = {}
      for i = n, #xs do
        local s = 0
        for k = i - n + 1, i do s = s + xs[k] end
        out[i] = s / n
      end
      return out
    end
    local seen = { [0] = 0, [1] = 0 }
    local signs = {}
    for _, c in ipairs(tagged(r.out, "cross")) do
      local avg = c.type == 0 and h.ema or sma
      local n = h.cross_count(avg(c.closes, 5), avg(c.closes, 15), #c.closes)
      assert.are.equal(n, c.n, "MAType " .. c.type)
      seen[c.type] = seen[c.type] + 1
      signs[n > 0 and "+" or "-"] = true
    end
    assert.are.same({ [0] = 15, [1] = 15 }, seen)
    assert.is_true(signs["+"] and signs["-"], "both sides crossed")
  end)

  it("CTA calls onTick with the records and the position it built, and trades what onTick returns", function()
    local r = replay([[
      local ext = require("stratrun.ext")
      function main()
        local ticks = 0
        Log("ended " .. json.encode(select(2, pcall(ext.CTA, "BTC_USDT", function(st)
          ticks = ticks + 1
          Log("tick " .. json.encode({ n = ticks, bars = #st.records, last = st.records[#st.records].Time, pos = st.position }))
          if ticks == 1 then return 0.1 end
          if ticks == 3 then return { -0.04, function(ret) Log("back " .. json.encode(ret)) end } end
          if ticks == 5 then error("done", 0) end
        end, 60000))))
      end
    ]])
    assert.are.same({ "done" }, tagged(r.out, "ended"))
    local ticks = tagged(r.out, "tick")
    assert.are.equal(5, #ticks)
    local fills = h.of_kind(r.log, "fill")
    local bought, cost = 0, 0
    for _, f in ipairs(fills) do
      if f.side == "buy" then bought = bought + f.amount; cost = cost + f.amount * f.price + f.fee end
    end
    near(0.1, bought, 1e-9, "bought")
    assert.are.equal(0, ticks[1].pos.amount)
    near(0.1, ticks[2].pos.amount, 1e-9, "position after the buy")
    near(cost / 0.1, ticks[2].pos.price, 1e-3, "position's price")
    near(0.06, ticks[4].pos.amount, 1e-9, "position after the sell")
    near(0.04, tagged(r.out, "back")[1].amount, 1e-9, "the callback's result")
    for i = 2, 5 do assert.is_true(ticks[i].last > ticks[i - 1].last, "a new bar at each tick") end
  end)

  it("refuses bad settings and arguments with one line naming the value", function()
    local r = replay([[
      local ext = require("stratrun.ext")
      function main()
        for _, f in ipairs({
          function() ext.Configure({ OpMode = 2 }) end,
          function() ext.Configure({ MaxAmount = 0 }) end,
          function() ext.Configure({ Slide = 1 }) end,
          function() ext.Configure({ MAType = 0, RetryDelay = -1 }) end,
          function() ext.Buy("1") end,
          function() ext.Buy({}, 1) end,
          function() ext.Sell(-1) end,
          function() ext.Cross(5, 0) end,
          function() ext.CTA("ETH_USDT", function() end) end,
        }) do
          Log("err " .. json.encode(select(2, pcall(f))))
        end
        Log("settings " .. json.encode(ext.Configure()))
      end
    ]])
    assert.are.same({
      "strategy.lua:4: ext.Configure: OpMode must be 0 (take) or 1 (rest), not 2",
      "strategy.lua:5: ext.Configure: MaxAmount must be a number > 0, not 0",
      "strategy.lua:6: ext.Configure: no setting \"Slide\" (the settings: MAType, MaxAmount, MaxSpace, MinStock, "
        .. "OpMode, RetryDelay, SlidePrice)",
      "strategy.lua:7: ext.Configure: RetryDelay must be ms from 0 to 3600000, not -1",
      "strategy.lua:8: ext.Buy: the first argument must be an exchange (exchange, exchanges[i]) or the amount, not "
        .. "\"1\"",
      "strategy.lua:9: ext.Buy: the first argument must be an exchange (exchange, exchanges[i]) or the amount, not "
        .. "table",
      "strategy.lua:10: ext.Sell: the amount must be a number >= 0, not -1",
      "strategy.lua:11: ext.Cross: argument 2 must be an array or a period (a whole number >= 1), not 0",
      "strategy.lua:12: ext.CTA: symbol must be the exchange's pair \"BTC_USDT\", not \"ETH_USDT\"",
    }, (function()
      local t = tagged(r.out, "err")
      t[6] = t[6]:gsub("table: 0x%x+", "table")
      return t
    end)())
    -- a futures exchange is refused (its orders need a contract and a direction), not retried for ever
    local dir = h.tmpdir()
    local f = h.run_bot([[
      local ext = require("stratrun.ext")
      function main() Log("err " .. json.encode(select(2, pcall(function() ext.Buy(0.01) end)))) end
    ]], { mode = "replay", dir = dir, args = { "--config", h.write(dir .. "/f.conf",
      'exchange = { kind = "futures", currency = "BTC_USDT", balance = 10000 }\n') } })
    h.assert_ok(f)
    assert.are.same({ "strategy.lua:2: ext.Buy: the trading template trades spot; Futures_Paper is a futures exchange "
      .. "(its orders take SetContractType and SetDirection: docs/futures.md)" }, tagged(f.out, "err"))
    -- a refused Configure changed nothing
    assert.are.same({ OpMode = 0, MaxSpace = 0.5, SlidePrice = 0.1, MaxAmount = 0.8, RetryDelay = 500, MAType = 0,
                      MinStock = 0.01 }, tagged(r.out, "settings")[1])
  end)
end)

describe("ext plotting template", function()
  it("draws records, lines, flags, horizontal lines and titles on the bot's chart", function()
    local r = replay([[
      local ext = require("stratrun.ext")
      function main()
        for i = 1, 3 do
          local rs = exchange.GetRecords()
          ext.PlotRecords(rs, "BTC")
          ext.PlotLine("last", exchange.GetTicker().Last)
          ext.PlotLine("last", 1, UnixNano() // 1000000)       -- the same time: replaces the dot
          if i == 1 then ext.PlotFlag(rs[#rs].Time, "Start", "S") end
          ext.PlotHLine(rs[#rs].Close * i, "Close")
          ext.PlotTitle("round " .. i, "main")
          Log("bars " .. json.encode({ n = #rs, first = rs[1].Time, last = rs[#rs].Time }))
          Sleep(60000)
        end
        Log(select(2, pcall(ext.PlotLine, "x", "1")))
        Log(select(2, pcall(ext.PlotFlag, 1.5, "t", "T")))
      end
    ]])
    local chart = h.read(r.bot .. "/chart.jsonl")
    -- what the file says, replayed as a reader does: the latest config, and each series' points by number
    local cfg, points = nil, {}
    for line in chart:gmatch("[^\n]+") do
      local e = json.decode(line)
      if e.t == "chart" or e.t == "update" then cfg = e.config end
      if e.t == "point" then
        points[e.s] = points[e.s] or {}
        points[e.s][e.n] = e.p
      end
    end
    assert.are.same({ "candlestick", "line", "flags" }, { cfg.series[1].type, cfg.series[2].type, cfg.series[3].type })
    assert.are.equal("BTC", cfg.series[1].name)
    assert.are.equal("primary", cfg.series[1].id)
    assert.are.equal("last", cfg.series[2].name)
    assert.are.equal("primary", cfg.series[3].onSeries)
    assert.are.equal("round 3", cfg.subtitle.text)
    assert.are.equal("main", cfg.title.text)
    -- one horizontal line labelled Close, moved each round
    assert.are.equal(1, #cfg.yAxis.plotLines)
    local bars = tagged(r.out, "bars")
    -- every bar once, in time order: the records of the first round, then one new bar a round
    local candles = points[0]
    local n = 0
    for k in pairs(candles) do n = math.max(n, k + 1) end
    assert.are.equal(bars[1].n + 2, n)
    assert.are.equal(bars[1].first, candles[0][1])
    assert.are.equal(bars[3].last, candles[n - 1][1])
    for k = 1, n - 1 do assert.is_true(candles[k][1] > candles[k - 1][1]) end
    -- the line: one dot a round, its value the second call's (the same time replaced it)
    local dots = points[1]
    assert.are.equal(1, dots[0][2])
    assert.are.equal(1, dots[2][2])
    assert.is_nil(dots[3])
    assert.are.equal("Start", points[2][0].text)
    assert.truthy(r.out:find("ext.PlotLine: the value must be a number, not \"1\"", 1, true), r.out)
    assert.truthy(r.out:find("ext.PlotFlag: the time must be a time in whole ms, not 1.5", 1, true), r.out)
  end)
end)
