-- Spec for live trading on Binance USDⓈ-M perpetuals (venue "binance-futures": stdlib/live.lua over
-- runtime/lua/venue.c; docs/live.md): real strategies in real stratrun processes against the fake venue's /fapi
-- endpoints (tests/fake_binance.py, written from Binance's public futures API documentation), whose account is read
-- back through its admin endpoints; the shapes the calls return are compared with the paper futures exchange's.
local h = require("helpers")
local fake = require("fake_venue")

local procs = {}
teardown(fake.stop_all)
after_each(function() h.kill_all(procs) end)

local function config(dir, v, extra, keys)
  fake.config(dir, v, extra, keys, "binance-futures")
end

local function run(dir, text, env)
  return h.run_bot(text, { dir = dir, env = env, timeout = 30 })
end

-- A fake venue (fault: its admin settings, first) and a bot's folder configured for it (extra: more settings).
local function session(extra, fault)
  local v, dir = fake.start(), h.tmpdir()
  if fault then v.admin("fault", fault) end
  config(dir, v, extra)
  return v, dir
end

-- A strategy whose main sets the swap and a direction, then runs body.
local function on_swap(direction, body)
  return string.format('function main()\n  exchange.SetContractType("swap")\n  exchange.SetDirection("%s")\n%send\n',
    direction, body)
end

-- Each of want in out.
local function has_all(out, want)
  for _, w in ipairs(want) do h.assert_has(out, w) end
end

-- The fields of what the futures calls return, one line each: the same on the paper exchange and on the venue.
local SHAPES = [[
local function keys(t)
  local out = {}
  for k in pairs(t or {}) do if k ~= "ClientOrderId" then out[#out + 1] = k end end
  table.sort(out)
  return table.concat(out, ",")
end
function main()
  Log("shape contract", keys(exchange.SetContractType("swap")))
  exchange.SetMarginLevel(10)
  exchange.SetDirection("buy")
  local id = exchange.Buy(-1, 0.01)
  Log("shape order", keys(exchange.GetOrder(id)))
  Log("shape position", keys(exchange.GetPosition()[1]), #exchange.GetPosition(), exchange.GetPosition()[1].Type == PD_LONG)
  Log("shape positions", keys(exchange.GetPositions("BTC_USDT.swap")[1]))
  Log("shape account", keys(exchange.GetAccount()))
  Log("shape assets", keys(exchange.GetAssets()[1]), #exchange.GetAssets())
  Log("shape funding", keys(exchange.GetFundings()[1]))
  Log("shape market", keys(exchange.GetMarkets()["BTC_USDT.swap"]))
  Log("shape ticker", keys(exchange.GetTicker()))
end
]]

local function shapes(out)
  local lines = {}
  for line in out:gmatch("shape [^\n]*") do lines[#lines + 1] = line end
  return lines
end

describe("a live exchange on Binance USDⓈ-M futures", function()
  it("opens a long, adds, closes part and the rest, then a short, at the venue, with the leverage set there", function()
    local v, dir = session()
    local r = run(dir, string.format([[
local function book(ask, bid)
  HttpQuery("%s/__admin/book", { method = "POST", body = json.encode({ asks = { { ask, "5" } }, bids = { { bid, "5" } } }) })
end
local function pos()
  local out = {}
  for _, p in ipairs(exchange.GetPosition()) do
    out[#out + 1] = string.format("%%s %%s@%%s x%%s frozen %%s", p.Type == PD_LONG and "long" or "short",
      _N(p.Amount, 4), _N(p.Price, 2), p.MarginLevel, _N(p.FrozenAmount, 4))
  end
  return table.concat(out, "; ")
end
function main()
  Log("contract", json.encode(exchange.SetContractType("swap")))
  Log("quarter", exchange.SetContractType("quarter"))
  Log("leverage", exchange.SetMarginLevel(5))
  exchange.SetDirection("buy")
  local id = exchange.Buy(-1, 0.01)
  local o = exchange.GetOrder(id)
  Log("open", o.Status == ORDER_STATE_CLOSED, o.Offset == ORDER_OFFSET_OPEN, o.DealAmount, o.AvgPrice, o.Symbol)
  book("44001.0", "43999.0")
  exchange.Buy(44100, 0.03)                      -- a limit through the ask: fills at 44001
  Log("added", pos())
  exchange.SetDirection("closebuy")
  local c = exchange.Sell(-1, 0.01)
  Log("closed part", pos(), exchange.GetOrder(c).Offset == ORDER_OFFSET_CLOSE)
  Log("rest", exchange.Sell(45000.04, 0.03) ~= nil, pos())   -- rests at the venue: its contracts held for it
  Log("resting", #exchange.GetOrders(), exchange.GetOrders()[1].Price, exchange.GetOrders()[1].Offset)
  HttpQuery("%s/__admin/fill", { method = "POST", body = json.encode({ orderId = exchange.GetOrders()[1].Id }) })
  Log("flat", #exchange.GetPosition(), #exchange.GetOrders())
  exchange.SetDirection("sell")
  exchange.Sell(-1, 0.02)
  Log("short", pos())
  exchange.SetDirection("closesell")
  exchange.Buy(-1, 0.02)
  Log("flat again", #exchange.GetPosition())
  local a = exchange.GetAccount()
  Log("account", a.Balance == a.Equity, a.UPnL, a.FrozenBalance)
end
]], v.base, v.base))
    h.assert_ok(r)
    has_all(r.out, {
      "exchange: binance-futures BTC_USDT.swap at " .. v.base .. ": clock offset ",
      " ms, 0 open orders, one-way mode, positions: none\n",
      'contract {"ContractType":"swap","CtVal":1,"Expiry":0,"InstrumentID":"BTCUSDT","Symbol":"BTC_USDT.swap"}',
      "exchange.SetContractType: contract type 'quarter' is not traded here: venue binance-futures trades the "
        .. "perpetual swap only (\"swap\")\n",
      "quarter null", "leverage true",
      "Buy market 0.01 open long BTC_USDT.swap (order ", "open true true 0.01 43001 BTC_USDT.swap",
      "Buy 44100 0.03 open long BTC_USDT.swap (order ",
      "added long 0.04@43751 x5 frozen 0",                 -- (0.01 x 43001 + 0.03 x 44001) / 0.04
      "Sell market 0.01 close long BTC_USDT.swap (order ",
      "closed part long 0.03@43751 x5 frozen 0 true",      -- a close leaves the entry price
      "Sell 45000.1 0.03 close long BTC_USDT.swap",        -- a sell's price up to the tick
      "rest true long 0.03@43751 x5 frozen 0.03", "resting 1 45000.1 1", "flat 0 0",
      "short short 0.02@43999 x5 frozen 0", "flat again 0", "account true 0 0" })
    local f = v.state().futures
    assert.are.equal(5, f.leverage)
    assert.are.same({ amt = "0", entry = "0" }, f.positions.BOTH)
    -- the orders as the venue took them: one-way mode, closes reduceOnly
    local sent = {}
    for _, o in ipairs(f.orders) do sent[#sent + 1] = o.side .. " " .. o.type .. " " .. o.origQty .. " " .. tostring(o.reduceOnly) end
    assert.are.same({ "BUY MARKET 0.01 false", "BUY LIMIT 0.03 false", "SELL MARKET 0.01 true", "SELL LIMIT 0.03 true",
      "SELL MARKET 0.02 false", "BUY MARKET 0.02 true" }, sent)
    -- the wallet as the venue counted it: realized (43999 - 43751) x 0.01 + (45000.1 - 43751) x 0.03 + (43999 -
    -- 44001) x 0.02, less the taker fees of five fills and the maker fee of the one that rested
    assert.are.equal("10037.6679844", f.wallet)
  end)

  it("returns what the paper futures exchange returns, field for field", function()
    local _, dir = session()
    local live = run(dir, SHAPES)
    h.assert_ok(live)
    local pdir = h.tmpdir()
    h.write(pdir .. "/c.lua", 'exchange = { kind = "futures", balance = 10000 }\n')
    h.write(pdir .. "/strategy.lua", SHAPES)
    local paper = h.run({ dir = pdir, "replay", "--market", "sim:seed=1,bars=50", "--config", pdir .. "/c.lua",
      pdir .. "/strategy.lua" })
    assert.are.equal(0, paper.code, paper.err)
    assert.are.equal(9, #shapes(paper.out))
    assert.are.same(shapes(paper.out), shapes(live.out))
  end)

  it("sees its position and open orders at the venue before main on a restart", function()
    local _, dir = session()
    local r = run(dir, on_swap("buy", [[
  exchange.Buy(-1, 0.01)
  exchange.SetDirection("closebuy")
  Log("resting", exchange.Sell(45000, 0.004))
]]))
    h.assert_ok(r)
    local id = r.out:match("resting (%d+)")
    assert.truthy(id, r.out)
    r = run(dir, [[
Log("top")
function main()
  local p = exchange.GetPosition()[1]
  Log("position", p.Amount, p.FrozenAmount, p.Price, p.Type == PD_LONG)
  local o = exchange.GetOrders()[1]
  Log("order", o.Id, o.Offset == ORDER_OFFSET_CLOSE, o.ContractType)
end
]])
    h.assert_ok(r)
    local start = r.out:find("exchange: binance-futures BTC_USDT.swap", 1, true)
    assert.truthy(start and start < r.out:find("position ", 1, true), r.out)
    has_all(r.out, { string.format(" ms, 1 open order (%s), one-way mode, positions: long 0.01 at 43001\n", id),
      "position 0.01 0.004 43001 true", "order " .. id .. " true swap" })
  end)

  it("refuses locally, in one line, a close over the position, an open over a guard and a netting open", function()
    local v, dir = session(", max_position = 0.02, max_order_value = 2000, max_orders_per_minute = 3")
    local r = run(dir, on_swap("buy", [[
  Log("open", exchange.Buy(-1, 0.01) ~= nil)
  Log("resting", exchange.Buy(42000, 0.005) ~= nil)     -- pending: counts toward max_position
  Log("over", exchange.Buy(-1, 0.01))
  Log("value", exchange.Buy(42000, 0.05))
  Log("small", exchange.Buy(42000, 0.002))            -- 84 USDT, under the pair's MIN_NOTIONAL of 100
  exchange.SetDirection("closebuy")
  Log("close over", exchange.Sell(-1, 0.02))
  exchange.SetDirection("sell")
  Log("netting", exchange.Sell(-1, 0.01))
  Log("no direction", exchange.Buy(-1, 0.01))
  exchange.SetDirection("closebuy")
  Log("close", exchange.Sell(-1, 0.01) ~= nil)        -- a close is no increase: max_position does not apply
  exchange.SetDirection("buy")
  Log("rate", exchange.Buy(42000, 0.003))             -- the fourth order within a minute
]]))
    h.assert_ok(r)
    has_all(r.out, { "open true", "resting true", "over null", "close over null", "close true", "rate null", "small null",
      "exchange.Buy: the order's value 84 is below the venue's minimum notional 100: not sent\n",
      "exchange.Buy: refused by max_orders_per_minute: 3 orders in the last minute, the limit is 3\n",
      "exchange.Buy: refused by max_position: holdings would be 0.025, above 0.02\n",
      "exchange.Buy: refused by max_order_value: the order's value 2100 is above 2000\n",
      "exchange.Sell: closes 0.02 of the long BTC_USDT.swap position, which holds 0.01 (0 in pending close orders): a "
        .. "close never opens the opposite position: not sent\n",
      "exchange.Sell: the account is in one-way mode and holds a long position or pending opens of it: an open short "
        .. "would net against it at the venue; close it first, or put the account in hedge mode: not sent\n",
      "exchange.Buy: the direction is 'sell'; Buy needs \"buy\" (open a long) or \"closesell\" (close a short)\n" })
    assert.are.equal(3, v.state().order_posts)
  end)

  it("trades both sides at once in hedge mode, with positionSide on every order", function()
    local v, dir = session("", { dual = true })
    local r = run(dir, on_swap("buy", [[
  exchange.Buy(-1, 0.01)
  exchange.SetDirection("sell")
  exchange.Sell(-1, 0.02)
  for _, p in ipairs(exchange.GetPosition()) do Log("position", p.Type, p.Amount, p.Price) end
  exchange.SetDirection("closesell")
  exchange.Buy(-1, 0.02)
  Log("left", #exchange.GetPosition(), exchange.GetPosition()[1].Type)
]]))
    h.assert_ok(r)
    has_all(r.out, { ", hedge mode, positions: none\n", "position 0 0.01 43001", "position 1 0.02 42999", "left 1 0" })
    local sent = {}
    for _, o in ipairs(v.state().futures.orders) do sent[#sent + 1] = o.side .. " " .. o.positionSide .. " " .. tostring(o.reduceOnly) end
    assert.are.same({ "BUY LONG false", "SELL SHORT false", "BUY SHORT false" }, sent)
  end)

  it("reads the funding rate from the venue's premium index", function()
    local _, dir = session("", { funding_rate = "-0.00025000" })
    local r = run(dir, [[
function main()
  local f = exchange.GetFundings()[1]
  Log("funding", f.Rate, f.Interval, f.Time % f.Interval, f.Time <= UnixNano() // 1000000, f.Symbol)
end
]])
    h.assert_ok(r)
    h.assert_has(r.out, "funding -0.00025 28800000 0 true BTC_USDT.swap")
  end)

  it("with dry_run only logs orders and leverage changes", function()
    local v, dir = session(", dry_run = true")
    local r = run(dir, on_swap("buy", [[
  Log("leverage", exchange.SetMarginLevel(3))
  Log("buy", exchange.Buy(-1, 0.01))
  Log("position", #exchange.GetPosition())
]]))
    h.assert_ok(r)
    has_all(r.out, { "(dry_run: orders are only logged)", "buy null", "position 0",
      "exchange.SetMarginLevel: dry_run: not sent: POST /fapi/v1/leverage symbol=BTCUSDT&leverage=3\n",
      "exchange.Buy: dry_run: not sent: POST /fapi/v1/order symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.01&"
        .. "newClientOrderId=sr" })
    local st = v.state()
    assert.are.equal(0, st.order_posts)
    assert.are.equal(20, st.futures.leverage)
  end)

  it("resolves an order whose answer timed out by its client order ID: exactly one order", function()
    local v, dir = session("", { hang_after_order = 3 * h.time_scale })
    local r = run(dir, on_swap("buy", [[
  local id = exchange.Buy(-1, 0.01)
  Log("id", id, exchange.GetPosition()[1].Amount)
]]))
    h.assert_ok(r)
    h.assert_has(r.out, "exchange.Buy: binance POST: timed out after " .. fake.TIMEOUT .. " ms; the venue has the order (client id sr")
    local st = v.state()
    assert.are.equal(1, st.order_posts)
    assert.are.equal(1, #st.futures.orders)
    h.assert_has(r.out, "id " .. st.futures.orders[1].orderId .. " 0.01")
  end)

  it("keeps the keys out of the output and the bot's files, and sends them to the venue only", function()
    local v, dir = fake.start(), h.tmpdir()
    config(dir, v, "", false)
    local r = run(dir, on_swap("buy", [[
  exchange.SetMarginLevel(7)
  Log("order", exchange.Buy(-1, 0.01) ~= nil, #exchange.GetPosition())
  Log("env", os.getenv("STRATRUN_BINANCE_API_KEY"))
  Log(pcall(exchange.SetMarginLevel, 200))
]]), { STRATRUN_BINANCE_API_KEY = fake.KEY, STRATRUN_BINANCE_SECRET_KEY = fake.SECRET })
    h.assert_ok(r)
    has_all(r.out, { "order true 1", "env null",
      "exchange.SetMarginLevel: the level must be a whole number from 1 to 125, got 200\n" })
    local files = ""
    for path in io.popen("find " .. h.quote(dir .. "/d") .. " -type f"):lines() do files = files .. (h.read(path) or "") end
    for _, text in ipairs { r.out, r.err, files } do
      assert.falsy(text:find("vmKEY", 1, true))
      assert.falsy(text:find("vmSECRET", 1, true))
    end
    assert.are.same({ fake.KEY }, v.state().keys_seen)
    assert.are.equal(7, v.state().futures.leverage)
    -- the user-data stream's listen key, got at start, is not in them either
    local keys = v.state().listen_keys
    assert.are.equal(1, #keys)
    for _, text in ipairs { r.out, r.err, files } do assert.falsy(text:find(keys[1], 1, true)) end
  end)

  it("takes stream and stream_url: the user-data stream at stream_url with the listen key's path", function()
    local v = fake.start()
    local dir = h.tmpdir()
    config(dir, v, ', stream = true, stream_url = "' .. v.base:gsub("^http", "ws") .. '/"')
    h.script(dir, on_swap("buy", "  while true do exchange.GetOrders() Sleep(50) end\n"))
    local p = h.spawn { dir = dir, "--data-dir", dir .. "/d", "--id", "bot1", "strategy.lua" }
    procs[#procs + 1] = p
    assert(p:wait_for("exchange: the venue's user-data stream is up: orders are read from it", 20),
      table.concat({ p:output() }, "\n"))
    local st = v.state()
    assert.are.equal(1, st.stream.subscribed)
    assert.are.equal(1, st.requests["POST /fapi/v1/listenKey"])
  end)
end)
