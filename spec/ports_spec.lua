-- Spec for the ports of the platform's public strategy library (strategies/ports/, docs/porting.md): each port is
-- replayed by a real `stratrun replay` on a candle file this spec writes, and what it did is checked against what
-- the source strategy must do on those candles.
--
-- Expected values are computed here, apart from the runtime and the ports: the ticker and depth the paper exchange
-- shows at a time come from the candle closes with integer arithmetic in cents (docs/exchange.md: Sell = Last x
-- 1.0001 rounded up, depth levels one basis point apart); the strategies' rules (grid nodes, the rebalance ratio,
-- the Donchian channel and Wilder's ATR, the balance prices) are written again from the sources. The facts read
-- back are the order lines of each bot's log.txt (`Buy P A (order N) ...`, `Filled buy A at P, fee F USDT (order
-- N)`, `Cancel N ...`), the strategies' own log lines, profit.csv, store.json and the `--json` summary.
--
-- Also here: every port's header and the names it reads, and every Lua example of docs/porting.md, run and compared
-- with the lines the page shows. Two cases hold a bug the ports met (a sell of a float sum of Stocks was refused).
local h = require("helpers")

local PORTS = h.source .. "/strategies/ports/"
local T0 = 1704067200000          -- 2024-01-01T00:00:00Z
local MIN, DAY = 60000, 86400000

-- ---- candle files ------------------------------------------------------------------------------------------------


local market, closed, quotes = h.candle_market, h.closed_at, h.quotes_at

-- ---- replays and what they leave ---------------------------------------------------------------------------------

-- Runs `stratrun replay` of one port (h.replay_port): {code, out, err, logtext, summary = the --json bot, bot =
-- its folder}.
local replay = h.replay_port

local ok = h.assert_ok

local parse_log = h.parse_order_log

local of_kind = h.of_kind

-- Orders by id: {order = the order line, fill = its fill line or nil, cancel = its cancel line or nil}.
local function orders_of(log)
  local by = {}
  for _, e in ipairs(log) do
    if e.kind == "order" then
      assert.is_nil(by[e.id], "order " .. e.id .. " placed twice")
      by[e.id] = { order = e }
    elseif e.kind == "fill" or e.kind == "cancel" then
      local o = by[e.id]
      assert.is_not_nil(o, e.kind .. " of an order never placed: " .. e.msg)
      assert.is_nil(o.fill or o.cancel, "order " .. e.id .. " ended twice: " .. e.msg)
      o[e.kind] = e
    end
  end
  return by
end

-- The account the paper exchange must hold after these fills, from start {Balance, Stocks}: buys cost price x
-- amount + fee, sells bring price x amount - fee (docs/exchange.md). Market buys' amounts are quote currency.
local function account_after(start, fills)
  local b, s = start.Balance, start.Stocks
  for _, f in ipairs(fills) do
    if f.side == "buy" then
      b, s = b - f.price * f.amount - f.fee, s + f.amount
    else
      b, s = b + f.price * f.amount - f.fee, s - f.amount
    end
  end
  return b, s
end

local function near(want, got, tol, what)
  assert(math.abs(want - got) <= tol, string.format("%s: want %.10g, got %.10g", what, want, got))
end

local function count(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

local function cents(x) return math.floor(x * 100 + 0.5) end

-- ---- the ports ---------------------------------------------------------------------------------------------------

describe("ports of the platform's strategy library", function()

  it("every port names its source and changes, and reads only names stratrun has", function()
    local files = {}
    local p = io.popen("ls " .. h.quote(PORTS))
    for f in p:lines() do
      if f:find("%.lua$") then files[#files + 1] = f end
    end
    p:close()
    assert.is_true(#files >= 6)
    for _, f in ipairs(files) do
      local text = h.read(PORTS .. f)
      assert.truthy(text:find("^%-%- " .. f:gsub("%.lua$", "%%.lua") .. ": "), f .. " starts with its name")
      assert.truthy(text:find("%-%- Source: fmzquant/strategies, \"[^\"]+%.md\""), f .. " names its source file")
      assert.truthy(text:find("%-%- What changed in the port"), f .. " says what changed")
      -- a futures port names the config it needs; one exchange, but for the port that says it trades on the
      -- config's exchanges list
      if text:find("SetContractType") or text:find("SetDirection") then
        assert.truthy(text:find("%-%- Config: a futures exchange") and text:find('kind = "futures"', 1, true),
          f .. ": a futures port names the futures config")
      end
      if not text:find("the config's `exchanges` list", 1, true) then assert.falsy(text:find("exchanges%[[2-9]"), f) end
      -- every global it reads is one of stratrun's (this spec runs inside stratrun) or one it sets itself (its
      -- parameters and state), so no branch a replay does not reach can stop on a missing platform name
      local listing = io.popen("luac5.4 -l -p " .. h.quote(PORTS .. f) .. " 2>&1")
      local reads, sets = {}, {}
      for line in listing:lines() do
        local op, name = line:match("([GS]ETTABUP).-; _ENV \"([%w_]+)\"")
        if op == "GETTABUP" then reads[name] = true elseif op == "SETTABUP" then sets[name] = true end
      end
      listing:close()
      assert.is_true(reads.exchange or reads.exchanges, f .. ": the luac listing was read")
      for name in pairs(reads) do
        local ok_, v = pcall(function() return _G[name] end)
        assert.is_true(sets[name] or (ok_ and v ~= nil), f .. " reads global " .. name .. ", which stratrun lacks")
      end
      -- and every exchange call it names is one the exchange has (comments left out)
      local code = text:gsub("%-%-[^\n]*", "")
      for _, pat in ipairs({ "[eE]xchange%.([%a_][%w_]*)", "%f[%w_]e%.([%a_][%w_]*)", "exchanges%[%d+%]%.([%a_][%w_]*)" }) do
        for name in code:gmatch(pat) do
          local ok_, v = pcall(function() return exchange[name] end)
          assert.is_true(ok_ and type(v) == "function", f .. " calls exchange." .. name .. ", which stratrun lacks")
        end
      end
    end
    -- and docs/porting.md lists each of them
    local doc = h.read(h.source .. "/docs/porting.md") or ""
    for _, f in ipairs(files) do
      assert.truthy(doc:find("strategies/ports/" .. f, 1, true), "docs/porting.md lists " .. f)
    end
  end)

  it("every Lua example of docs/porting.md runs and logs what the page shows after it", function()
    local doc = assert(h.read(h.source .. "/docs/porting.md"))
    local n, at = 0, 1
    while true do
      local s, e = doc:find("\n```lua\n", at, true)
      if not s then break end
      local close = assert(doc:find("\n```\n", e, true), "an unclosed lua block")
      local code = doc:sub(e + 1, close)
      at = close + 4
      local want
      local ts, te = doc:find("^%s*```text\n", at)
      if ts then
        local tclose = assert(doc:find("\n```\n", te, true))
        want = doc:sub(te + 1, tclose)
      end
      n = n + 1
      local dir = h.tmpdir()
      h.write(dir .. "/example.lua", code)
      local r = h.run{ dir = dir, env = { TZ = "UTC" }, "replay", "--data-dir", "d", "--market", "sim:seed=42,bars=60",
        "example.lua" }
      assert.are.equal(0, r.code, "example " .. n .. " failed:\n" .. code .. r.out .. r.err)
      if want then
        assert.are.equal(want, h.without_host_lines(h.read(dir .. "/d/replay/bots/example/log.txt")),
          "example " .. n .. ":\n" .. code)
      end
    end
    assert.is_true(n >= 10, "examples: " .. n)
  end)

  -- ---- grid --------------------------------------------------------------------------------------------------------

  it("simple_grid keeps its ladder: buys at idle nodes under the ask, sells each fill pointProfit higher", function()
    local dir = h.tmpdir()
    local candles = market(dir .. "/m.csv", { bars = 1500, period = MIN, price = 30000, noise = 0.004,
      wick = 0.0006, seed = 11, shape = function(k) return 1 + 0.01 * math.sin(2 * math.pi * k / 500) end })
    -- amount 0.125, a binary fraction, keeps the account's Stocks exact: with 0.01 the paper exchange refuses a
    -- sell of 0.01 after the float sum of Stocks drifts to 0.009999999999999997 (the pending case below)
    local P = { beginPrice = 29500, endPrice = 30400, distance = 50, pointProfit = 50, amount = 0.125,
      minBalance = 300 }
    local r = replay("simple_grid.lua", "grid", dir .. "/m.csv", P, { config = "exchange = { balance = 100000 }\n" })
    ok(r)
    local log = parse_log(r.logtext)
    local orders = orders_of(log)
    local nodes = (P.endPrice - P.beginPrice) // P.distance

    -- node state machine, replayed from the order lines: idle -> (buy placed) pending -> (buy filled, sell placed)
    -- cover -> (sell filled) idle
    local state, live = {}, {}
    local round_trips, fills = 0, of_kind(log, "fill")
    for _, e in ipairs(log) do
      if e.kind == "order" then
        local node_json, ticker_json = e.rest:match("^(%b{}) (%b{})$")
        assert.truthy(node_json, "the order line carries the node and the ticker: " .. e.msg)
        local node, ticker = json.decode(node_json), json.decode(ticker_json)
        local i = (node.price - P.beginPrice) // P.distance + 1
        assert.are.equal(P.beginPrice + (i - 1) * P.distance, node.price)
        assert.are.equal(P.amount, e.amount)
        -- the ticker the decision used is the exchange's at its time
        local q = quotes(candles, ticker.Time)
        assert.are.equal(q.sell, cents(ticker.Sell))
        assert.are.equal(q.last, cents(ticker.Last))
        if e.side == "buy" then
          assert.is_true(i >= 1 and i < nodes, "buys never at the last node")
          assert.are.equal(node.price, e.price)
          assert.are.equal("idle", node.state)
          assert.is_true(state[i] == nil or state[i] == "idle", "node " .. i .. " buys again only when idle")
          assert.is_true(ticker.Sell > node.price and ticker.Sell < node.price + P.distance,
            "the ask lies in the node's step: " .. e.msg)
          state[i], live[i] = "pending", e.id
        else
          -- a tick that sells logs its ticker: its buy loop, just before, left no idle node under that ask
          local j = (cents(ticker.Sell) - P.beginPrice * 100) // (P.distance * 100) + 1
          if j >= 1 and j < nodes and cents(ticker.Sell) % (P.distance * 100) ~= 0 then
            assert.is_true(state[j] ~= nil and state[j] ~= "idle",
              "the tick at " .. ticker.Time .. " left node " .. j .. " idle under the ask " .. ticker.Sell)
          end
          assert.are.equal(node.price + P.pointProfit, e.price)
          assert.are.equal("pending", node.state)
          assert.are.equal("pending", state[i])
          assert.is_not_nil(orders[live[i]].fill, "node " .. i .. " sells only after its buy filled")
          assert.is_true(orders[live[i]].fill.ms <= e.ms)
          state[i], live[i] = "cover", e.id
        end
      elseif e.kind == "fill" then
        local o = orders[e.id].order
        if e.side == "buy" then assert.is_true(e.price <= o.price) else assert.is_true(e.price >= o.price) end
      elseif e.msg:find("节点平仓", 1, true) then
        local node = json.decode(e.msg:match("^(%b{})"))
        local i = (node.price - P.beginPrice) // P.distance + 1
        assert.are.equal("cover", state[i])
        assert.is_not_nil(orders[live[i]].fill, "a node is reset only after its sell filled")
        state[i], live[i] = "idle", nil
        round_trips = round_trips + 1
      end
    end
    assert.is_true(round_trips >= 20, "round trips: " .. round_trips)
    assert.is_nil(r.logtext:find("挂单失败", 1, true))
    -- no message (a failed order, or the balance under minBalance) ever reached the panel's list
    assert.truthy((h.read(r.bot .. "/status.txt") or ""):find("arrMsg length: 0", 1, true))

    -- the summary agrees with the order lines and the fills
    local s = r.summary
    assert.are.equal(count(orders), s.orders)
    assert.are.equal(#fills, s.fills)
    local b, st = account_after({ Balance = 100000, Stocks = 0 }, fills)
    near(b, s.balance + s.frozen_balance, 1e-6, "balance")
    near(st, s.stocks + s.frozen_stocks, 1e-9, "stocks")
  end)

  -- The paper account's Stocks is a float sum, which buys and sells of 0.01 drift to 0.009999999999999997; a sell
  -- of 0.01 was refused ("exchange.Sell: insufficient stocks: needs 0.01 BTC, has 0.01 BTC free") and the grid's
  -- node stayed pending for good, retrying every tick, until the exchange sold what is held for an amount within
  -- float noise of it.
  it("simple_grid with the source's amount 0.01 never has a cover sell refused", function()
    local dir = h.tmpdir()
    market(dir .. "/m.csv", { bars = 1500, period = MIN, price = 30000, noise = 0.004, wick = 0.0006, seed = 11,
      shape = function(k) return 1 + 0.01 * math.sin(2 * math.pi * k / 500) end })
    local r = replay("simple_grid.lua", "grid", dir .. "/m.csv", { beginPrice = 29500, endPrice = 30600,
      distance = 50 })
    ok(r)
    assert.is_nil(r.logtext:find("insufficient stocks", 1, true))
    assert.truthy((h.read(r.bot .. "/status.txt") or ""):find("arrMsg length: 0", 1, true))
  end)

  -- ---- market maker ------------------------------------------------------------------------------------------------

  it("hft_2014 quotes one cent inside the depth level that holds floatamount, cancelling every round", function()
    local dir = h.tmpdir()
    local candles = market(dir .. "/m.csv", { bars = 240, period = MIN, price = 30000, noise = 0.0015,
      wick = 0.0008, seed = 5, volume = 10 })
    -- the book's levels hold volume / 20 = 0.5 each: 2 BTC is passed (> 2) at the 5th level
    local r = replay("hft_2014.lua", "hft", dir .. "/m.csv", { floatamountbuy = 2, floatamountsell = 2 })
    ok(r)
    local log = parse_log(r.logtext)
    local orders = orders_of(log)
    local pending, rounds, last_round = {}, 0, nil
    local filled = { buy = 0, sell = 0 }
    for _, e in ipairs(log) do
      if e.kind == "order" then
        -- a round: at most one sell and one buy, placed after every older order was filled or cancelled
        if last_round ~= e.ms then
          if last_round then assert.are.equal(0, (e.ms - last_round) % 3500, "rounds are sleeptime apart") end
          rounds, last_round = rounds + 1, e.ms
          assert.are.equal(0, count(pending), "a round starts with nothing open")
        end
        local q = quotes(candles, e.ms)
        if e.side == "buy" then
          assert.are.equal(q.bid(5) + 1, cents(e.price), e.msg)
        else
          assert.are.equal(q.ask(5) - 1, cents(e.price), e.msg)
        end
        assert.are.equal(math.floor(e.amount * 100 + 1e-6) / 100, e.amount, "2 decimals")
        assert.is_true(e.amount > 0.02)
        pending[e.id] = true
      elseif e.kind == "fill" then
        pending[e.id] = nil
        filled[e.side] = filled[e.side] + 1
        local o = orders[e.id].order
        -- resting quotes fill at their price or better, on a candle that reached them
        if e.side == "buy" then assert.is_true(e.price <= o.price) else assert.is_true(e.price >= o.price) end
      elseif e.kind == "cancel" then
        assert.is_true(pending[e.id], "cancels only open orders")
        assert.are.equal(e.id, json.decode(e.rest).Id, "the cancel line carries the order")
        pending[e.id] = nil
      end
    end
    assert.is_true(rounds > 3000, "rounds: " .. rounds)
    assert.is_true(filled.buy >= 5 and filled.sell >= 5, "fills: " .. filled.buy .. " buys, " .. filled.sell .. " sells")
    local s = r.summary
    assert.are.equal(count(orders), s.orders)
    local b, st = account_after({ Balance = 10000, Stocks = 0 }, of_kind(log, "fill"))
    near(b, s.balance + s.frozen_balance, 1e-6, "balance")
    near(st, s.stocks + s.frozen_stocks, 1e-9, "stocks")
  end)

  it("hft_2014 with the source's 8 BTC walks past the paper book's 10 levels and stops, as the source would", function()
    local dir = h.tmpdir()
    market(dir .. "/m.csv", { bars = 5, period = MIN, price = 30000, noise = 0.001, wick = 0.0005, seed = 5 })
    local r = replay("hft_2014.lua", "hft", dir .. "/m.csv", {})
    assert.are.equal(1, r.code)
    assert.truthy(r.err:find("hft_2014.lua:%d+: attempt to index a nil value") or
      r.out:find("hft_2014.lua:%d+: attempt to index a nil value"), r.out .. r.err)
    assert.are.equal(0, r.summary.orders)
  end)

  -- ---- rebalancer --------------------------------------------------------------------------------------------------

  it("single_balance trades back to 50/50 exactly when the ratio reaches the threshold", function()
    local dir = h.tmpdir()
    local candles = market(dir .. "/m.csv", { bars = 3000, period = MIN, price = 30000, noise = 0.002,
      wick = 0.0005, seed = 3, shape = function(k) return 1 + 0.25 * math.sin(2 * math.pi * k / 1500) end })
    local r = replay("single_balance.lua", "bal", dir .. "/m.csv", {})
    ok(r)
    local log = parse_log(r.logtext)
    local orders = orders_of(log)
    local threshold = 0.05
    -- the accounts the port logged after each rebalance, in order
    local accounts = {}
    for _, e in ipairs(log) do
      if e.msg:find('^{"Balance"') then accounts[#accounts + 1] = json.decode(e.msg) end
    end
    local trades = of_kind(log, "order")
    assert.is_true(#trades >= 6, "rebalances: " .. #trades)
    assert.are.equal(#trades, #accounts)
    assert.is_nil(r.logtext:find("Cancel", 1, true), "every order fills at once")

    -- walk the port's wake times: main's first tick at the first close, then LoopInterval 60 s (+1 s after a trade)
    local acc = { Balance = 10000, Stocks = 0 }
    local t, n = T0 + MIN, 0
    while t <= candles[#candles].t + MIN do
      local q = quotes(candles, t)
      local sell, buy = q.sell / 100, q.buy / 100
      local diff = (acc.Balance - acc.Stocks * sell) / 2
      local ratio = diff / acc.Balance
      if math.abs(ratio) >= threshold then
        n = n + 1
        local e = trades[n]
        assert.is_not_nil(e, "a rebalance is due at " .. t)
        assert.are.equal(t, e.ms, "the rebalance happens at the tick where |ratio| reaches the threshold")
        local spread = sell - buy
        local d, rt = e.rest:match("^(%S+) (%S+)$")
        near(diff, tonumber(d), 1e-6, "diffAsset")
        near(ratio, tonumber(rt), 1e-9, "ratio")
        -- _N(x, 8) truncates a sum such as 25476.01 + 2.55 = 25478.559999999998 to 25478.55999999, which the
        -- exchange's grid takes down to 25478.55 for a buy (up for a sell): one tick at most
        if ratio > 0 then
          assert.are.equal("buy", e.side)
          local want = cents(sell + spread)
          assert.is_true(cents(e.price) == want or cents(e.price) == want - 1, e.msg)
        else
          assert.are.equal("sell", e.side)
          local want = cents(buy - spread)
          assert.is_true(cents(e.price) == want or cents(e.price) == want + 1, e.msg)
        end
        near(math.floor(math.abs(diff) / e.price * 10000 + 1e-9) / 10000, e.amount, 1e-12, "amount")
        local f = orders[e.id].fill
        assert.is_not_nil(f, "filled at once")
        assert.are.equal(e.ms, f.ms)
        assert.are.equal(ratio > 0 and sell or buy, f.price, "fills at the touch")
        -- the account after: as the fill says, and back near 50/50 (|ratio| far under the threshold)
        acc = accounts[n]
        local after = (acc.Balance - acc.Stocks * sell) / 2 / acc.Balance
        assert.is_true(math.abs(after) < 0.005, "ratio after the rebalance: " .. after)
        t = t + 1000
      end
      t = t + MIN
    end
    assert.are.equal(#trades, n, "no rebalance where none was due")
    local b, s = account_after({ Balance = 10000, Stocks = 0 }, of_kind(log, "fill"))
    near(b, r.summary.balance, 1e-6, "balance")
    near(s, r.summary.stocks, 1e-9, "stocks")
  end)

  -- ---- trend follower ----------------------------------------------------------------------------------------------

  -- 300 daily bars: a range, a rally, a slide, a range, a second rally, a crash
  local function turtle_market(path, seed)
    local function shape(k)
      if k <= 60 then return 1 + 0.03 * math.sin(k / 3) end
      if k <= 120 then return 1 + 0.25 * (k - 60) / 60 end
      if k <= 160 then return 1.25 - 0.2 * (k - 120) / 40 end
      if k <= 220 then return 1.05 + 0.03 * math.sin(k / 4) end
      if k <= 270 then return 1.05 + 0.2 * (k - 220) / 50 end
      return 1.25 - 0.3 * (k - 270) / 30
    end
    return market(path, { bars = 300, period = DAY, price = 30000, noise = 0.01, wick = 0.01, seed = seed,
      shape = shape })
  end

  it("turtle_spot buys only on a Donchian breakout (or half an ATR above its entry) and sells on the exits", function()
    local dir = h.tmpdir()
    local candles = turtle_market(dir .. "/m.csv", 1)
    local r = replay("turtle_spot.lua", "turtle", dir .. "/m.csv", {})
    ok(r)
    local log = parse_log(r.logtext)
    local orders = orders_of(log)
    local accounts = {}
    for _, e in ipairs(log) do
      local a = e.msg:match("^买入后，最新账户信息： (.*)$") or e.msg:match("^卖出后，最新账户信息： (.*)$")
      if a then accounts[#accounts + 1] = { ms = e.ms, acc = json.decode(a) } end
    end
    local by_day = {}
    for _, e in ipairs(of_kind(log, "order")) do by_day[e.ms] = by_day[e.ms] or {}; table.insert(by_day[e.ms], e) end

    -- The platform's ATR over records rs (its ta.js, as docs/platform.md): the mean of the true ranges so far up to
    -- bar n, then Wilder's smoothing
    local function atr(rs, n)
      local v, sum
      for i = 1, #rs do
        local tr = rs[i].h - rs[i].l
        if i > 1 then tr = math.max(tr, math.abs(rs[i].h - rs[i - 1].c), math.abs(rs[i].l - rs[i - 1].c)) end
        tr = tr / 100
        if i <= n then
          sum = (sum or 0) + tr
          v = sum / i
        else
          v = (v * (n - 1) + tr) / n
        end
      end
      return v
    end

    local acc = { Balance = 10000, Stocks = 0 }
    local entries, k_acc = {}, 0
    local buys, sells = 0, 0
    for day = 1, #candles do
      local t = T0 + day * DAY
      local rs = {}
      for i = math.max(1, day - 99), day do rs[#rs + 1] = candles[i] end
      local n = #rs
      local close = rs[n].c / 100
      local hi, lo = -math.huge, math.huge
      for i = math.max(1, n - 29), n - 2 do hi = math.max(hi, rs[i].h / 100) end
      for i = math.max(1, n - 14), n - 2 do lo = math.min(lo, rs[i].l / 100) end
      local a = atr(rs, 24)
      local last = entries[#entries] or 0
      local open = #entries == 0 and n >= 3 and close > hi
      local add = #entries > 0 and close > last + 0.5 * a
      local stop = #entries > 0 and n >= 3 and close < lo
      local close_sign = #entries > 0 and close < last - 2 * a
      local placed = by_day[t] or {}
      local want_buy = false
      if open or add then
        local q = quotes(candles, t)
        local value = (acc.Balance + acc.Stocks * close) * 0.01
        local function round4(x) return math.floor(x * 10000 + 0.5) / 10000 end
        local unit = math.min(round4(value / a), round4(acc.Balance / (q.last / 100 + 100)))
        want_buy = unit > 0 and acc.Balance >= (q.last / 100 + 10) * unit
        if want_buy then
          local e = placed[1]
          assert.is_not_nil(e, "a buy is due on day " .. day)
          assert.are.equal("buy", e.side)
          assert.are.equal(cents(q.last / 100 + 10), cents(e.price))
          near(unit, e.amount, 1e-9, "unit on day " .. day)
          assert.are.equal(q.sell / 100, orders[e.id].fill.price, "fills at the ask")
          entries[#entries + 1] = close
          buys = buys + 1
        end
      end
      local want_sell = stop or close_sign
      if want_sell then
        local e = placed[want_buy and 2 or 1]
        assert.is_not_nil(e, "a sell is due on day " .. day)
        assert.are.equal("sell", e.side)
        assert.is_nil(e.price, "a market sell")
        near(acc.Stocks, e.amount, 1e-9, "sells everything")
        entries = {}
        sells = sells + 1
      end
      assert.are.equal((want_buy and 1 or 0) + (want_sell and 1 or 0), #placed, "orders on day " .. day)
      -- the account the port logged after each trade of the day
      while accounts[k_acc + 1] and accounts[k_acc + 1].ms == t do
        k_acc = k_acc + 1
        acc = accounts[k_acc].acc
      end
    end
    assert.is_true(buys >= 2 and sells >= 2, buys .. " buys, " .. sells .. " sells")
    assert.are.equal(#accounts, k_acc)
    local b, s = account_after({ Balance = 10000, Stocks = 0 }, of_kind(log, "fill"))
    near(b, r.summary.balance, 1e-6, "balance")
    near(s, r.summary.stocks, 1e-9, "stocks")
  end)

  -- The account's Stocks is a float sum (0.1988 + 0.1462 + 0.0001 = 0.34509999999999996), and Sell(-1, Stocks)
  -- puts the amount on the step within float noise, up to 0.3451, more than is held: the exchange refused it
  -- ("insufficient stocks: needs 0.3451 BTC, has 0.3451 BTC free") and the turtle could not close a position it had
  -- added to (seed 9 meets it on day 277), until it sold what is held for an amount within float noise of it.
  it("turtle_spot sells everything it holds after adding to a position (seed 9)", function()
    local dir = h.tmpdir()
    turtle_market(dir .. "/m.csv", 9)
    local r = replay("turtle_spot.lua", "turtle", dir .. "/m.csv", {})
    ok(r)
    assert.is_nil(r.logtext:find("insufficient stocks", 1, true), r.logtext)
    assert.are.equal(0, r.summary.stocks)
  end)

  -- ---- _C and LogProfit --------------------------------------------------------------------------------------------

  it("balance_orders places the two balance orders, cancels the other on a fill and logs the profit", function()
    local dir = h.tmpdir()
    local candles = market(dir .. "/m.csv", { bars = 3000, period = MIN, price = 30000, noise = 0.002,
      wick = 0.0005, seed = 4, shape = function(k) return 1 + 0.1 * math.sin(2 * math.pi * k / 1000) end })
    local start = { Balance = 10000, Stocks = 0.33333 }
    local r = replay("balance_orders.lua", "bo", dir .. "/m.csv", {},
      { config = "exchange = { balance = 10000, stocks = 0.33333 }\n" })
    ok(r)
    local D = 500
    local log = parse_log(r.logtext)
    local orders = orders_of(log)
    local acc = { Balance = start.Balance, Stocks = start.Stocks }
    local cycles, profits = 0, {}
    local i = 1
    -- each cycle: a sell and a buy placed, one fills, the other is cancelled, then the profit
    while true do
      while log[i] and log[i].kind ~= "order" do i = i + 1 end
      if not log[i] then break end
      local ask, bid = log[i], log[i + 1]
      assert.are.equal("sell", ask.side, ask.msg)
      assert.are.equal("buy", bid.side, bid.msg)
      local ask_p, bid_p = (D + acc.Balance) / acc.Stocks, (acc.Balance - D) / acc.Stocks
      near(math.ceil(ask_p * 100 - 1e-6) / 100, ask.price, 0.0101, "ask price")
      near(math.floor(bid_p * 100 + 1e-6) / 100, bid.price, 0.0101, "bid price")
      near(math.floor(D / 2 / ask_p * 1e5 + 1e-6) / 1e5, ask.amount, 1.01e-5, "ask amount")
      near(math.floor(D / 2 / bid_p * 1e5 + 1e-6) / 1e5, bid.amount, 1.01e-5, "bid amount")
      local a, b = orders[ask.id], orders[bid.id]
      if not (a.fill or b.fill) then
        -- the last plan, still open at the end: cancelled by onexit
        assert.truthy(a.cancel and b.cancel)
        local exit_at = r.logtext:find("停止前，取消所有挂单...", 1, true)
        assert.truthy(exit_at)
        break
      end
      assert.is_true((a.fill ~= nil) ~= (b.fill ~= nil), "one side fills")
      local f, other = a.fill or b.fill, a.fill and b or a
      assert.is_not_nil(other.cancel, "the other is cancelled")
      assert.is_true(other.cancel.ms > f.ms)
      -- a resting order: the price had to come to it
      if f.side == "sell" then assert.is_true(f.price >= ask.price) else assert.is_true(f.price <= bid.price) end
      acc.Balance, acc.Stocks = account_after(acc, { f })
      -- the profit against the start, at the Last of the ticker read just before the line that reports the fill
      local j, seen = i, nil
      while log[j].kind ~= "profit" do
        if log[j].msg:find("单成交，撤销订单，重置", 1, true) then seen = log[j] end
        j = j + 1
      end
      assert.is_not_nil(seen, "the fill is reported")
      assert.truthy(seen.msg:find(f.side == "sell" and "^卖" or "^买"))
      local last = quotes(candles, seen.ms).last / 100
      near((acc.Balance - start.Balance) + (acc.Stocks - start.Stocks) * last, log[j].value, 1e-6, "profit")
      profits[#profits + 1] = log[j]
      assert.is_true(log[j].ms > other.cancel.ms)
      cycles = cycles + 1
      i = j + 1
    end
    assert.is_true(cycles >= 4, "cycles: " .. cycles)
    -- profit.csv holds the same series (LogProfitReset emptied it at start)
    local rows = {}
    for line in (h.read(r.bot .. "/profit.csv") or ""):gmatch("[^\n]+") do rows[#rows + 1] = line end
    assert.are.equal(#profits, #rows)
    for k, p in ipairs(profits) do
      local ms, v = rows[k]:match("^(%d+),(%S+)$")
      assert.are.equal(p.ms, tonumber(ms))
      assert.are.equal(p.value, tonumber(v))
    end
    -- the starting account kept in _G("account"), and nothing left open at the end
    local store = json.decode(h.read(r.bot .. "/store.json"))
    assert.are.equal(start.Balance, store.account.Balance)
    assert.are.equal(start.Stocks, store.account.Stocks)
    assert.are.equal(0, r.summary.frozen_balance)
    assert.are.equal(0, r.summary.frozen_stocks)
    near(acc.Balance, r.summary.balance, 1e-6, "balance")
    near(acc.Stocks, r.summary.stocks, 1e-9, "stocks")
  end)

  -- ---- the library's measure -----------------------------------------------------------------------------------------

  it("scripts/coverage.lua counts the trading strategies of a library folder and the platform names they lack", function()
    -- spec/fixtures/library: a JavaScript strategy that has everything (JSON and Math are JavaScript's, not the
    -- platform's), a Python one on futures (exchanges[1]. counts as exchange.; every call of it is there since the
    -- paper exchange has futures), one on a template library and EventLoop;
    -- a PineScript file and a JavaScript snippet without Sleep or exchange are not trading strategies
    local dir = h.tmpdir()
    local r = h.run({ "replay", "--data-dir", dir .. "/d", "--market", "sim:seed=1,bars=2", dir = dir,
      "-p", "library=" .. h.source .. "/spec/fixtures/library", "-p", "verbose=1", h.source .. "/scripts/coverage.lua" })
    ok(r)
    local lines = h.lines(r.out)
    assert.are.same({
      "template.md\tEventLoop $",
      "strategies: 3 (javascript 2, python 1)",
      "find every platform call: 2 (66.7 %; javascript 1, python 1)",
      "missing, by the number of strategies that name it:",
      "    1  $",
      "    1  EventLoop",
    }, { table.unpack(lines, 1, 6) })
  end)

  -- ---- several exchanges ---------------------------------------------------------------------------------------------

  it("cross_arbitrage sells on the dear exchange and buys on the cheap one, only while the gap reaches minRate", function()
    local dir = h.tmpdir()
    -- the same coin on two venues: B follows A (the same seed) but 3 % dearer in bars 30-40 and 3 % cheaper in 70-80
    local function gap(k) return (k >= 30 and k <= 40) and 1.03 or (k >= 70 and k <= 80) and 0.97 or 1 end
    local A = market(dir .. "/a.csv", { bars = 120, period = MIN, price = 2000, noise = 0.002, wick = 0.0005, seed = 9 })
    local B = market(dir .. "/b.csv", { bars = 120, period = MIN, price = 2000, noise = 0.002, wick = 0.0005, seed = 9,
      shape = gap })
    local r = replay("cross_arbitrage.lua", "arb", dir .. "/a.csv", {}, { config = [[
exchanges = {
  {name = "Bitfinex", currency = "ETH_USD", balance = 5000, stocks = 10},
  {name = "OKCoin_EN", currency = "ETH_USD", balance = 5000, stocks = 10, market = "csv:]] .. dir .. [[/b.csv"},
}
]] })
    ok(r)
    local log = parse_log(r.logtext)
    local candles = { Bitfinex = A, OKCoin_EN = B }
    local start = { Balance = 5000, Stocks = 10 }
    local fills = { Bitfinex = {}, OKCoin_EN = {} }
    local orders = { Bitfinex = 0, OKCoin_EN = 0 }
    local arbs = { Bitfinex = 0, OKCoin_EN = 0 }     -- by the exchange sold on
    for i, e in ipairs(log) do
      if e.kind == "order" then
        orders[e.ex] = orders[e.ex] + 1
        assert.is_nil(e.price, "market orders only: " .. e.msg)
      elseif e.kind == "fill" then
        table.insert(fills[e.ex], e)
      end
      local sell, sp, buy, bp, rate, amount =
        e.msg:match("^卖出: (%S+) 卖出价格: (%S+) 买入: (%S+)  买入价格: (%S+)  比例: (%S+)  总量: (%S+)$")
      if sell then
        sp, bp, rate, amount = tonumber(sp), tonumber(bp), tonumber(rate), tonumber(amount)
        -- the second level of each book at that moment (docs/exchange.md), and the rate test
        assert.are.equal(quotes(candles[sell], e.ms).bid(2), cents(sp), e.msg)
        assert.are.equal(quotes(candles[buy], e.ms).ask(2), cents(bp), e.msg)
        near(sp / bp, rate, 1e-9, "rate")
        assert.is_true(rate >= 1.02, e.msg)
        -- only inside the windows, and the dear side is the one the window makes dear
        local k = closed(A, e.ms)
        assert.are.equal(gap(k) > 1 and "OKCoin_EN" or "Bitfinex", sell, e.msg)
        assert.is_true(gap(k) ~= 1, e.msg)
        -- just before: the market sell of amount on the dear exchange, the buy (of amount cash) on the cheap one
        local j = i - 1
        while log[j].kind ~= "order" do j = j - 1 end
        assert.are.same({ sell, "sell", amount }, { log[j].ex, log[j].side, log[j].amount })
        assert.is_true(amount > 0 and amount <= 0.5)      -- a level's amount: volume 10 / 20
        arbs[sell] = arbs[sell] + 1
      end
    end
    assert.is_true(arbs.OKCoin_EN >= 1 and arbs.Bitfinex >= 1, "both directions traded")
    -- both windows last 11 bars: the arbitrage goes on while the seller has coins
    -- each exchange's account is what its own fills make, and the summary shows both
    local bal1, st1 = account_after(start, fills.Bitfinex)
    local bal2, st2 = account_after(start, fills.OKCoin_EN)
    near(bal1, r.summary.balance, 1e-6, "Bitfinex balance")
    near(st1, r.summary.stocks, 1e-9, "Bitfinex stocks")
    local second = r.summary.exchanges[1]
    assert.are.equal("OKCoin_EN", second.label)
    near(bal2, second.balance, 1e-6, "OKCoin_EN balance")
    near(st2, second.stocks, 1e-9, "OKCoin_EN stocks")
    assert.are.equal(orders.Bitfinex, r.summary.orders)
    assert.are.equal(orders.OKCoin_EN, second.orders)
    assert.truthy(r.out:find("\narb%[2%] +%d+ +" .. orders.OKCoin_EN .. " "), r.out)
  end)
end)
