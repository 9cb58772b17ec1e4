-- Spec for the paper account across restarts (stdlib/exchange.lua with runtime/lua/files.c; docs/exchange.md,
-- "The account across restarts"): a live bot's balances, pending orders and order-ID counter survive a stop and a
-- start, --reset-account starts afresh, and a replay never reads nor writes the account file.
local h = require("helpers")

local P = 60000
local T0 = 1704067200000

-- What the strategies print: one line per fact, "key<TAB>json".
local REPORT = [[
local function out(k, v) io.stdout:write(k, "\t", json.encode(v), "\n") io.stdout:flush() end
]]

local function facts(text)
  local f = {}
  for k, v in text:gmatch("([%w_]+)\t([^\n]*)\n") do f[k] = json.decode(v) end
  return f
end

describe("the paper account of a live bot", function()
  local procs = {}
  after_each(function() h.kill_all(procs) end)

  it("keeps balances, the open order and its ID across a stop and a restart; new IDs continue", function()
    local dir = h.tmpdir()
    h.script(dir, REPORT .. [[
function main()
  local t = exchange.GetTicker()
  local rest = exchange.Buy(t.Last * 0.5, 0.01)      -- rests: far below the market
  local done = exchange.Buy(-1, 100)                 -- fills at once
  _G("rest", rest)
  _G("done", done)
  out("ids", {rest, done})
  out("account", exchange.GetAccount())
  out("order", exchange.GetOrder(rest))
  while true do Sleep(1000) end
end
]], "first.lua")
    h.script(dir, REPORT .. [[
function main()
  out("account", exchange.GetAccount())
  out("order", exchange.GetOrder(_G("rest")))
  out("done", exchange.GetOrder(_G("done")))
  out("open", exchange.GetOrders())
  out("next", exchange.Buy(-1, 10))
end
]], "again.lua")
    local p = h.spawn { dir = dir, "--data-dir", dir .. "/data", "--id", "paper", "first.lua" }
    procs[#procs + 1] = p
    local first = h.eventually(function()
      local f = facts(h.read(p.tag .. ".out") or "")
      return f.order and f
    end, 10)
    assert.is_truthy(first, "the first run did not report")
    p:signal("TERM")
    assert.are.equal(143, p:wait(10))   -- 128 + SIGTERM, after onexit
    assert.are.same({ 1, 2 }, first.ids)
    assert.is_true(h.exists(dir .. "/data/bots/paper/account.json"))

    local r = h.run { dir = dir, "--data-dir", dir .. "/data", "--id", "paper", "again.lua" }
    assert.are.equal(0, r.code, r.err)
    local again = facts(r.out)
    assert.are.same(first.account, again.account)
    assert.are.same(first.order, again.order)
    assert.are.equal(0, again.order.Status)
    assert.are.equal(1, again.done.Status)
    assert.are.equal(1, #again.open)
    assert.are.equal(1, again.open[1].Id)
    assert.are.equal(3, again.next)

    -- --reset-account: the config's account, no orders, IDs from 1
    r = h.run { dir = dir, "--data-dir", dir .. "/data", "--id", "paper", "--reset-account", "again.lua" }
    assert.are.equal(0, r.code, r.err)
    local fresh = facts(r.out)
    assert.are.same({ Balance = 10000, FrozenBalance = 0, Stocks = 0, FrozenStocks = 0 }, fresh.account)
    assert.is_nil(fresh.order)
    assert.matches("exchange.GetOrder: no order with id 1", r.out, 1, true)
    assert.are.same({}, fresh.open)
    assert.are.equal(1, fresh.next)
  end)

  it("refuses to start on an account file it cannot use, naming the file and the way out", function()
    local dir = h.tmpdir()
    h.script(dir, "function main() Log(exchange.GetAccount().Balance) end")
    h.sh("mkdir -p " .. h.quote(dir .. "/data/bots/paper"))
    h.write(dir .. "/data/bots/paper/account.json", '{"version": 1, "balance": ')
    local r = h.run { dir = dir, "--data-dir", dir .. "/data", "--id", "paper", "strategy.lua" }
    assert.are.equal(2, r.code)
    assert.matches("paper account " .. dir .. "/data/bots/paper/account.json cannot be used", r.out .. r.err, 1,
      true)
    assert.matches("--reset-account", r.out .. r.err, 1, true)
    h.write(dir .. "/data/bots/paper/account.json",
      '{"version":1,"currency":"BTC_USDT","balance":1,"stocks":0,"next_id":2,"orders":[{"Id":1}]}')
    r = h.run { dir = dir, "--data-dir", dir .. "/data", "--id", "paper", "strategy.lua" }
    assert.are.equal(2, r.code)
    assert.matches("cannot be used (order 1 of the file is not an order it can read)", r.err, 1, true)
    r = h.run { dir = dir, "--data-dir", dir .. "/data", "--id", "paper", "--reset-account", "strategy.lua" }
    assert.are.equal(0, r.code, r.err)
    assert.matches("10000", r.out, 1, true)
  end)

  it("is neither read nor written by a replay, and --reset-account is refused there", function()
    local dir = h.tmpdir()
    h.script(dir, "function main() Log('balance', exchange.GetAccount().Balance, exchange.Buy(-1, 100)) end")
    h.sh("mkdir -p " .. h.quote(dir .. "/data/bots/strategy"))
    local kept = '{"version":1,"currency":"BTC_USDT","balance":5,"stocks":0,"next_id":7,"orders":[]}'
    h.write(dir .. "/data/bots/strategy/account.json", kept)
    local r = h.run { dir = dir, "replay", "--data-dir", dir .. "/data", "--market", "sim:seed=1,bars=50",
      "strategy.lua" }
    assert.are.equal(0, r.code, r.err)
    assert.matches("balance 10000.0 1", r.out, 1, true)
    assert.are.equal(kept, h.read(dir .. "/data/bots/strategy/account.json"))
    r = h.run { dir = dir, "replay", "--reset-account", "--market", "sim:seed=1,bars=50", "strategy.lua" }
    assert.are.equal(2, r.code)
    assert.matches("option --reset-account is for live runs", r.err, 1, true)
  end)
end)

describe("a restored account", function()
  -- A private exchange on flat candles at 100 with an in-memory account file; candle k's low can be changed.
  local function world(file, at)
    local w = { candles = {}, logs = {}, t = T0 + at * P + 5 }
    for i = 1, 100 do w.candles[i] = { T0 + (i - 1) * P, 100, 100, 100, 100, 1 } end
    local market = {
      at = function(t)
        local k = (t - T0) // P
        if k < 1 then return nil end
        return math.min(k, #w.candles)
      end,
      candle = function(i) return table.unpack(w.candles[i], 1, 6) end,
      info = function() return { url = "fake", count = #w.candles, period = P } end,
    }
    w.ex = exchange._new {
      market = market, now = function() return w.t end,
      log = function(msg) w.logs[#w.logs + 1] = msg end,
      keep = { read = function() return file.text end, write = function(t) file.text = t return true end,
               path = "mem" },
    }
    return w
  end

  it("fills its pending orders on candles that close after the restart, not on those settled before it", function()
    local file = {}
    local a = world(file, 10)
    local id = a.ex.Buy(90, 1)      -- saved with the clock just after candle 10 closed
    local b = world(file, 12)       -- restart; candle 10 reaches 90 in this market's history, before the order
    b.candles[10] = { T0 + 9 * P, 100, 100, 80, 100, 1 }
    b.t = T0 + 13 * P + 5
    assert.are.equal(0, b.ex.GetOrder(id).Status)
    b.candles[14] = { T0 + 13 * P, 100, 100, 85, 100, 1 }
    b.t = T0 + 14 * P + 5
    local o = b.ex.GetOrder(id)
    assert.are.equal(1, o.Status)
    assert.are.equal(90, o.AvgPrice)
    assert.are.equal(2, b.ex.Buy(-1, 10))
    assert.are.same({}, b.logs)
  end)
end)
