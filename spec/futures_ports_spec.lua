-- Spec for the futures ports of the platform's strategy library (strategies/ports/chase_swap.lua and grid_swap.lua):
-- each is replayed by a real `stratrun replay` on a USDT-margined futures paper account (exchange.kind "futures") on
-- a candle file this spec writes, and what it did is checked against what the source must do on those candles.
--
-- Expected values are computed here, apart from the runtime and the ports: the ticker from the candle closes in
-- integer cents (docs/exchange.md: Sell = Last x 1.0001 rounded up, Buy = Last x 0.9999 rounded down); the futures
-- rules from the platform's conventions (hedge mode: a long and a short position apart; a limit order below the
-- ask (above the bid) rests and fills at its price when a later candle reaches it, a market order fills at the
-- touch; fees maker 0.0002, taker 0.0005 of the notional; a close realizes (exit - entry) x amount x ct_val, the
-- opposite for a short; a position's Profit is that at Last, its Margin the entry notional / leverage, and the
-- account's Balance the margin free: wallet + unrealized - positions' margin - margin frozen in open orders). The
-- strategies' rules are written again from the sources. The facts read back are the order lines of each bot's
-- log.txt (`Buy 43050.73 0.012 open long BTC_USDT.swap (order 3)`, `Filled buy 0.012 at 43050.73, fee 0.1 USDT
-- (order 3)`, `..., profit 5.2 USDT (order 4)` for a close, `Cancel 3 ...`), the strategies' own lines and the
-- `--json` summary's `futures` table.
local h = require("helpers")

local T0 = 1704067200000          -- 2024-01-01T00:00:00Z
local MIN = 60000

-- ---- candle files ------------------------------------------------------------------------------------------------

local market, closed, quotes = h.candle_market, h.closed_at, h.quotes_at

-- ---- replays and what they leave ---------------------------------------------------------------------------------

local CONFIG = 'exchange = { kind = "futures", currency = "BTC_USDT", balance = 10000, ct_val = 1, leverage = 10, '
  .. 'maker_fee = 0.0002, taker_fee = 0.0005, maintenance_margin = 0.004, funding_rate = %s, '
  .. 'funding_interval = %d }\n'

-- Runs `stratrun replay` of one port on a futures config's text (h.replay_port).
local function replay(script, id, csv, params, config)
  return h.replay_port(script, id, csv, params, { config = config, timeout = 120 })
end

local ok = h.assert_ok

local parse_log = h.parse_order_log

local of_kind = h.of_kind

local function near(want, got, tol, what)
  assert(type(got) == "number" and math.abs(want - got) <= tol,
    string.format("%s: want %.10g, got %s", what, want, tostring(got)))
end

local function cents(x) return math.floor(x * 100 + 0.5) end

-- _N(x, 3): truncated to 3 decimals (on the shortest decimal form, hence the nudge)
local function trunc3(x) return math.floor(x * 1000 + 1e-7) / 1000 end

-- The positions, realized P&L and fees that the fills of a log make, from the order lines (hedge mode, ct_val 1):
-- {long = {amount, price}, short = {...}}, realized, fees, and each close fill's own profit checked.
local function book_of(log)
  local orders, pos, realized, fees = {}, { long = { amount = 0, price = 0 }, short = { amount = 0, price = 0 } }, 0, 0
  for _, e in ipairs(log) do
    if e.kind == "order" then
      orders[e.id] = e
    elseif e.kind == "fill" then
      local o = assert(orders[e.id], "a fill of an order never placed: " .. e.msg)
      assert.are.equal(o.side, e.side, e.msg)
      near(o.amount, e.amount, 1e-9, "fills whole: " .. e.msg)
      local open, dir = o.offset:match("^(%a+) (%a+)$")
      local p = pos[dir]
      if open == "open" then
        assert.is_nil(e.profit, e.msg)
        p.price = (p.price * p.amount + e.price * e.amount) / (p.amount + e.amount)
        p.amount = p.amount + e.amount
      else
        local pnl = (dir == "long" and 1 or -1) * (e.price - p.price) * e.amount
        near(pnl, e.profit, 1e-6, "the profit of " .. e.msg)
        realized = realized + pnl
        p.amount = p.amount - e.amount
        if p.amount < 1e-9 then p.amount, p.price = 0, 0 end
      end
      fees = fees + e.fee
    end
  end
  return pos, realized, fees
end

-- The summary's positions as {long = {amount, price}, short = ...}.
local function summary_positions(s)
  local out = { long = { amount = 0, price = 0 }, short = { amount = 0, price = 0 } }
  for _, p in ipairs(s.futures.positions) do
    local k = p.Type == 0 and "long" or "short"
    assert.are.equal(0, out[k].amount, "one position a side")
    assert.are.equal("BTC_USDT.swap", p.Symbol)
    out[k] = { amount = p.Amount, price = p.Price }
  end
  return out
end

-- ---- the ports ---------------------------------------------------------------------------------------------------

describe("futures ports of the platform's strategy library", function()

  -- their headers and the names they read: spec/ports_spec.lua's first case, as every port's

  -- ---- momentum on the swap ----------------------------------------------------------------------------------------

  -- 1-minute bars at 40,000: flat, a fast rally, flat, a fast slide, flat, a fast slide, flat, a fast rally, flat
  local function chase_shape(k)
    local legs = { { 20, 0 }, { 12, 0.012 }, { 30, 0 }, { 14, -0.012 }, { 30, 0 }, { 12, -0.012 }, { 30, 0 },
                   { 14, 0.012 }, { 40, 0 } }
    local level, start = 1, 0
    for _, leg in ipairs(legs) do
      if k <= start + leg[1] then return level + leg[2] * (k - start) end
      level, start = level + leg[2] * leg[1], start + leg[1]
    end
    return level
  end
  local CHASE_BARS = 212

  -- The source's loop, run again here on the candles with a model of the futures account: returns the events it
  -- must log, in order ({kind, t, ...} as parse_log gives them).
  local function chase_expected(candles, P)
    local lev, gain, loss = P.leverage, P.StopGain, P.StopLoss
    local ratio, minStocks = 0.05, 0.01
    local t_end = T0 + #candles * candles.period
    local t = T0 + candles.period                  -- the replay starts at the first candle's close
    local events, pending, next_id, seen = {}, {}, 1, 1
    local wallet = 10000
    local pos = {}                                   -- pos[dir] = {amount, price}, dir 0 long, 1 short
    local order_of = {}                              -- in opening order, for GetPosition's list
    local function ev(e) e.t = t; events[#events + 1] = e end
    local function fill(o, px, rate)
      local fee, pnl = px * o.amount * rate, nil
      local p = pos[o.dir]
      if o.offset == 0 then
        if not p then
          p = { amount = 0, price = 0 }
          pos[o.dir] = p
          order_of[#order_of + 1] = o.dir
        end
        p.price = (p.price * p.amount + px * o.amount) / (p.amount + o.amount)
        p.amount = p.amount + o.amount
      else
        pnl = (o.dir == 0 and 1 or -1) * (px - p.price) * o.amount
        p.amount = p.amount - o.amount
        if p.amount < 1e-9 then
          pos[o.dir] = nil
          for i, d in ipairs(order_of) do if d == o.dir then table.remove(order_of, i) break end end
        end
      end
      wallet = wallet + (pnl or 0) - fee
      ev({ kind = "fill", id = o.id, price = px, fee = fee, profit = pnl })
    end
    -- every exchange call first settles the candles closed since the last one
    local function sync()
      local k = closed(candles, t)
      while seen < k do
        seen = seen + 1
        local c = candles[seen]
        local rest = {}
        for _, o in ipairs(pending) do
          local px
          if o.side == "buy" and c.l / 100 <= o.price then
            px = (c.t >= o.t and c.o / 100 < o.price) and c.o / 100 or o.price
          elseif o.side == "sell" and c.h / 100 >= o.price then
            px = (c.t >= o.t and c.o / 100 > o.price) and c.o / 100 or o.price
          end
          if px then fill(o, px, 0.0002) else rest[#rest + 1] = o end
        end
        pending = rest
      end
      return quotes(candles, t)
    end
    local function positions()
      local q = sync()
      local out = {}
      for _, d in ipairs(order_of) do
        local p = pos[d]
        out[#out + 1] = { Type = d, Amount = p.amount, Price = p.price,
          Profit = (d == 0 and 1 or -1) * (q.last / 100 - p.price) * p.amount, Margin = p.price * p.amount / lev }
      end
      return out
    end
    local function balance()
      local q = sync()
      local u, used, frozen = 0, 0, 0
      for d, p in pairs(pos) do
        u = u + (d == 0 and 1 or -1) * (q.last / 100 - p.price) * p.amount
        used = used + p.price * p.amount / lev
      end
      for _, o in ipairs(pending) do frozen = frozen + o.price * o.amount / lev + o.price * o.amount * 0.0002 end
      return math.max(wallet + u - used - frozen, 0)
    end
    local function place(side, offset, dir, price, amount)
      local q = sync()
      local o = { id = next_id, side = side, offset = offset, dir = dir, price = price, amount = amount, t = t }
      next_id = next_id + 1
      ev({ kind = "order", id = o.id, side = side, price = price ~= -1 and price or nil, amount = amount,
           offset = (offset == 0 and "open " or "close ") .. (dir == 0 and "long" or "short") })
      if price == -1 then
        fill(o, side == "buy" and q.sell / 100 or q.buy / 100, 0.0005)
      elseif (side == "buy" and cents(price) >= q.sell) or (side == "sell" and cents(price) <= q.buy) then
        fill(o, side == "buy" and math.min(price, q.sell / 100) or math.max(price, q.buy / 100), 0.0005)
      else
        pending[#pending + 1] = o
      end
    end
    local function cancel_all()
      while true do
        sync()
        local list = pending
        for _, o in ipairs(list) do ev({ kind = "cancel", id = o.id }) end
        pending = {}
        if #list == 0 then break end
        t = t + 1000
      end
    end

    local basePrice, lastCancelAll = -1, 0
    local p = positions()
    while t <= t_end do
      local q = sync()
      local last = q.last / 100
      if basePrice == -1 then basePrice = last end
      if last - basePrice > 0 and (last - basePrice) / basePrice > ratio then
        local b = balance()
        if b * ratio * lev / last > minStocks and #p == 0 then
          place("buy", 0, 0, last, trunc3(b * ratio / last))
          basePrice = last
          if t / 1000 - lastCancelAll > 300 then
            cancel_all()
            lastCancelAll = t / 1000
          end
          p = positions()
        end
      end
      if last - basePrice < 0 and (basePrice - last) / basePrice > ratio then
        local b = balance()
        p = positions()
        if b * ratio * lev / last > minStocks and #p == 0 then
          place("sell", 0, 1, last, trunc3(b * ratio / last))
          basePrice = last
          if t / 1000 - lastCancelAll > 300 then
            cancel_all()
            lastCancelAll = t / 1000
          end
          p = positions()
        end
      end
      if #p == 1 then
        local roe = p[1].Profit / p[1].Margin
        if roe > gain or roe < -loss then
          if p[1].Type == 0 then place("sell", 1, 0, -1, p[1].Amount) else place("buy", 1, 1, -1, p[1].Amount) end
          p = positions()
        end
      end
      t = t + 500
    end
    return events, pos, wallet
  end

  it("chase_swap opens at Last after a 5 % move from its base, cancels by its 300 s clock, exits on the return on " ..
     "margin", function()
    local dir = h.tmpdir()
    local candles = market(dir .. "/m.csv", { bars = CHASE_BARS, period = MIN, price = 40000, noise = 0.0005,
      wick = 0.0005, seed = 3, shape = chase_shape })
    local P = { leverage = 10, StopGain = 0.05, StopLoss = 0.05 }
    local r = replay("chase_swap.lua", "chase", dir .. "/m.csv", { leverage = 10 }, string.format(CONFIG, "0", 28800))
    ok(r)
    local log = parse_log(r.logtext)
    local want, want_pos, want_wallet = chase_expected(candles, P)
    local got = {}
    for _, e in ipairs(log) do
      if e.kind == "order" or e.kind == "fill" or e.kind == "cancel" then got[#got + 1] = e end
    end
    -- the same events, in the same order, at the same times
    for i = 1, math.max(#want, #got) do
      local w, g = want[i], got[i]
      local where = string.format("event %d: want %s, got %s", i, w and json.encode(w) or "none", g and g.msg or "none")
      assert.is_not_nil(w, where)
      assert.is_not_nil(g, where)
      assert.are.equal(w.kind, g.kind, where)
      assert.are.equal(w.t, g.ms, where)
      assert.are.equal(w.id, g.id, where)
      if w.kind == "order" then
        assert.are.equal(w.side, g.side, where)
        assert.are.equal(w.offset, g.offset, where)
        assert.are.equal("BTC_USDT.swap", g.symbol, where)
        if w.price then assert.are.equal(cents(w.price), cents(g.price), where) else assert.is_nil(g.price, where) end
        near(w.amount, g.amount, 1e-9, where)
      elseif w.kind == "fill" then
        assert.are.equal(cents(w.price), cents(g.price), where)
        near(w.fee, g.fee, 1e-6, where)
        if w.profit then near(w.profit, g.profit, 1e-6, where) else assert.is_nil(g.profit, where) end
      end
    end
    -- the candles made it trade both ways: an order cancelled by the 300 s clock, a long and a short filled, closes
    local kinds = {}
    for _, e in ipairs(got) do
      local k = e.kind == "order" and e.offset or e.kind
      kinds[k] = (kinds[k] or 0) + 1
    end
    assert.is_true((kinds.cancel or 0) >= 2, json.encode(kinds))
    assert.is_true((kinds["open long"] or 0) >= 2 and (kinds["open short"] or 0) >= 2, json.encode(kinds))
    assert.is_true((kinds["close long"] or 0) + (kinds["close short"] or 0) >= 2, json.encode(kinds))
    -- the first signal's order is always cancelled: the source's cancel-all clock starts at 0
    assert.are.equal("order", got[1].kind)
    assert.are.equal("cancel", got[2].kind)
    assert.are.equal(got[1].id, got[2].id)

    -- the summary: the positions, the realized P&L and the fees the fills make, and the wallet they leave
    local s = r.summary
    local pos, realized, fees = book_of(log)
    local spos = summary_positions(s)
    for _, k in ipairs({ "long", "short" }) do
      near(pos[k].amount, spos[k].amount, 1e-9, k .. " amount")
      near(pos[k].price, spos[k].price, 1e-6, k .. " entry")
      local d = k == "long" and 0 or 1
      near(want_pos[d] and want_pos[d].amount or 0, spos[k].amount, 1e-9, k .. " amount (model)")
    end
    near(realized, s.futures.realized, 1e-6, "realized")
    near(fees, s.futures.fees, 1e-6, "fees")
    near(fees, s.fees, 1e-6, "fees")
    assert.are.equal(0, s.futures.funding)
    assert.are.equal(0, s.futures.liquidations)
    near(10000 + realized - fees, s.balance, 1e-6, "wallet")
    near(want_wallet, s.balance, 1e-6, "wallet (model)")
    local last = candles[#candles].c / 100
    local u = (spos.long.amount * (last - spos.long.price)) - (spos.short.amount * (last - spos.short.price))
    near(u, s.futures.unrealized, 1e-6, "unrealized")
    near(s.balance + u - 10000, s.pnl, 1e-6, "pnl")
    local n_orders, n_fills = #of_kind(log, "order"), #of_kind(log, "fill")
    assert.are.equal(n_orders, s.orders)
    assert.are.equal(n_fills, s.fills)
  end)

  -- ---- the grid on the swap ----------------------------------------------------------------------------------------

  -- 1-minute bars: swings of +-1.5 % around 40,000; a jump past shang (42,000) to swings around 43,000; a drop
  -- under xia (38,000) to swings around 37,500. The jumps cross a grid order and the edge in one candle, so the
  -- close-all at market comes right after that grid order filled; see the case below for one that does not.
  local function grid_shape(k)
    if k <= 300 then return 1 + 0.015 * math.sin(2 * math.pi * k / 100) end
    if k <= 500 then return 1.075 + 0.015 * math.sin(2 * math.pi * (k - 300) / 100) end
    return 0.9375 + 0.01 * math.sin(2 * math.pi * (k - 500) / 100)
  end

  it("grid_swap opens the base position at market, quotes the two grid orders a step away and moves them a step " ..
     "after each fill, and closes all past the edges", function()
    local dir = h.tmpdir()
    local candles = market(dir .. "/m.csv", { bars = 700, period = MIN, price = 40000, noise = 0.0008,
      wick = 0.0008, seed = 5, shape = grid_shape })
    local P = { M = 10, H = 10, n1 = 0.01, grid = 200, xia = 38000, shang = 42000, LoopInterval = 5000 }
    local r = replay("grid_swap.lua", "grid", dir .. "/m.csv", P, string.format(CONFIG, "0.0001", 3600))
    ok(r)
    local log = parse_log(r.logtext)
    local orders, fills = {}, {}
    for _, e in ipairs(log) do
      if e.kind == "order" then orders[e.id] = e elseif e.kind == "fill" then fills[e.id] = e end
    end
    -- the grid's prices start a step either side of the first Last and move by the source's rules
    local q0 = quotes(candles, T0 + MIN)
    local buyp, sellp = q0.last / 100 - P.grid, q0.last / 100 + P.grid
    assert.truthy(log[1].msg:find("网格数据初始化", 1, true), log[1].msg)
    local pos = { long = 0, short = 0 }             -- from the fills so far
    local pending = {}                               -- the open grid orders by id
    local steps, bases, closes_all, pairs_quoted = 0, 0, 0, 0
    local i = 1
    while i <= #log do
      local e = log[i]
      if e.kind == "order" and e.price == nil and e.offset:find("^open") then
        -- a base position: flat, on the side Last is on, n1 * H at market
        local q = quotes(candles, e.ms)
        assert.are.equal(0, pos.long + pos.short, "a base position only when flat: " .. e.msg)
        assert.are.equal(q.last > P.shang * 100 and "open short" or "open long", e.offset, e.msg)
        near(P.n1 * P.H, e.amount, 1e-9, "base amount")
        assert.are.equal(cents(fills[e.id].price), e.side == "buy" and q.sell or q.buy, "a market order at the touch")
        bases = bases + 1
      elseif e.kind == "order" and e.price == nil then
        -- closing all at market: a long when Last passed shang, a short when it fell under xia
        local q = quotes(candles, e.ms)
        if e.offset == "close long" then
          assert.is_true(q.last > P.shang * 100, e.msg)
          near(pos.long, e.amount, 1e-9, "closes the whole long")
        else
          assert.is_true(q.last < P.xia * 100, e.msg)
          near(pos.short, e.amount, 1e-9, "closes the whole short")
        end
        closes_all = closes_all + 1
      elseif e.kind == "order" and e.second then
        -- the second order of a pair, checked with the first
      elseif e.kind == "order" then
        -- the grid's two orders, placed together: long: buy at buyp (open), sell at sellp (close); short: sell at
        -- sellp (open), buy at buyp (close)
        local f = log[i + 1].kind == "fill" and log[i + 2] or log[i + 1]
        assert.are.equal("order", f.kind, "the grid's orders come in pairs: " .. e.msg)
        local long = e.offset == "open long"
        assert.are.equal(long and "open long" or "open short", e.offset, e.msg)
        assert.are.equal(long and "close long" or "close short", f.offset, f.msg)
        assert.are.equal(cents(long and buyp or sellp), cents(e.price), e.msg)
        assert.are.equal(cents(long and sellp or buyp), cents(f.price), f.msg)
        near(P.n1, e.amount, 1e-9, "n1")
        near(P.n1, f.amount, 1e-9, "n1")
        assert.are.equal(0, next(pending) and 1 or 0, "quoted only with no order open")
        pending[e.id], pending[f.id] = e, f
        f.second = true
        pairs_quoted = pairs_quoted + 1
      elseif e.kind == "cancel" then
        assert.is_not_nil(pending[e.id], "cancels an open grid order: " .. e.msg)
        pending[e.id] = nil
      elseif e.kind == "fill" then
        local o = orders[e.id]
        local open, side = o.offset:match("^(%a+) (%a+)$")
        pos[side] = pos[side] + (open == "open" and e.amount or -e.amount)
        if pos[side] < 1e-9 then pos[side] = 0 end
        if o.price then
          -- a resting grid order fills at its price or better
          if o.side == "buy" then assert.is_true(e.price <= o.price, e.msg) else assert.is_true(e.price >= o.price, e.msg) end
          pending[e.id] = nil
        end
      elseif e.msg:find("网格减仓", 1, true) or e.msg:find("网格加仓", 1, true) then
        -- one grid order left open: the source reads its Type against the position's side (read at the top of the
        -- loop): long: a buy left (the sell filled) is 网格减仓 and moves the grid up, a sell left moves it down
        -- (网格加仓); short: a sell left is 网格减仓 and down, a buy left 网格加仓 and up. The order left may be one
        -- quoted for the other side, when the grid closed the last n1 and a new base position opened (the source's).
        local left = {}
        for _, o in pairs(pending) do left[#left + 1] = o end
        assert.are.equal(1, #left, "one grid order left: " .. e.msg)
        assert.is_true((pos.long > 0) ~= (pos.short > 0), "one position: " .. e.msg)
        local long, up = pos.long > 0, left[1].side == "buy"
        assert.are.equal(up == long and "网格减仓" or "网格加仓",
          e.msg:find("网格减仓", 1, true) and "网格减仓" or "网格加仓",
          string.format("%s at %d: left %s, grid %s / %s", e.msg, e.ms, left[1].msg, buyp, sellp))
        near(long and pos.long or pos.short, tonumber(e.msg:match("当前份数: (%S+)$")), 1e-9, "the amount it logs")
        local d = up and P.grid or -P.grid
        buyp, sellp = buyp + d, sellp + d
        steps = steps + 1
      end
      i = i + 1
    end
    assert.is_true(steps >= 10, "grid steps: " .. steps)
    assert.is_true(bases >= 2, "base positions: " .. bases)
    assert.is_true(closes_all >= 2, "closes at the edges: " .. closes_all)
    assert.is_true(pairs_quoted >= 10, "grid pairs: " .. pairs_quoted)
    -- LogProfit logs the Balance read at the top of the step: a number for each step
    assert.are.equal(steps, #of_kind(log, "profit"))

    -- the summary: positions, realized P&L and fees from the fills; funding paid on the swap while holding
    local s = r.summary
    local bpos, realized, fees = book_of(log)
    local spos = summary_positions(s)
    near(bpos.long.amount, spos.long.amount, 1e-9, "long")
    near(bpos.short.amount, spos.short.amount, 1e-9, "short")
    near(pos.long, spos.long.amount, 1e-9, "long (walk)")
    near(pos.short, spos.short.amount, 1e-9, "short (walk)")
    near(realized, s.futures.realized, 1e-6, "realized")
    near(fees, s.futures.fees, 1e-6, "fees")
    assert.is_true(s.futures.funding ~= 0, "funding was paid or received")
    assert.are.equal(0, s.futures.liquidations)
    near(10000 + realized - fees + s.futures.funding, s.balance, 1e-6, "wallet")
    local last = candles[#candles].c / 100
    local u = (spos.long.amount * (last - spos.long.price)) - (spos.short.amount * (last - spos.short.price))
    near(u, s.futures.unrealized, 1e-6, "unrealized")
    assert.are.equal(#of_kind(log, "order"), s.orders)
    assert.are.equal(#of_kind(log, "fill"), s.fills)
  end)
end)
