-- Spec for several exchanges per bot (docs/exchange.md "Several exchanges per bot"): the config's `exchanges` list
-- and `bots.ID.exchanges`, each exchange on its own market, pair and account; the order lines, messages, replay
-- summary and account files that tell them apart; and what a wrong list gets. Real stratrun processes on real
-- candle files and config files.
local h = require("helpers")

local T0 = 1704067200000          -- 2024-01-01T00:00:00Z
local MIN = 60000

-- Writes n one-minute candles from T0 whose close k is price + k (and open the previous close) to dir/name.
local function csv(dir, name, n, price)
  local lines = { "time,open,high,low,close,volume" }
  for k = 1, n do
    local c, o = price + k, price + k - 1
    lines[#lines + 1] = string.format("%d,%d,%d,%d,%d,10", T0 + (k - 1) * MIN, o, c + 1, o - 1, c)
  end
  return h.write(dir .. "/" .. name, table.concat(lines, "\n") .. "\n")
end

-- Runs stratrun with argv (a list) in dir, the config text in dir/stratrun.conf, the script text in dir/s.lua.
local function run(dir, config, script, argv)
  h.write(dir .. "/stratrun.conf", config)
  h.script(dir, script, "s.lua")
  local args = { dir = dir }
  if argv[1] == "replay" then args[1] = table.remove(argv, 1) end
  for _, a in ipairs({ "--config", dir .. "/stratrun.conf", "--data-dir", dir .. "/data" }) do args[#args + 1] = a end
  for _, a in ipairs(argv) do args[#args + 1] = a end
  return h.run(args)
end

local ok, has = h.assert_ok, h.assert_has

describe("several exchanges per bot", function()
  it("gives each entry of exchanges its own market, pair, account and order IDs, exchanges[1] being exchange", function()
    local dir = h.tmpdir()
    csv(dir, "btc.csv", 60, 40000)
    csv(dir, "eth.csv", 60, 2000)
    local r = run(dir, string.format([[
market = "csv:%s/btc.csv"
exchange = { taker_fee = 0.001, balance = 1000 }
exchanges = {
  { name = "Binance", currency = "BTC_USDT" },
  { name = "Binance", label = "ETH", currency = "ETH_USDT", stocks = 2, market = "csv:%s/eth.csv" },
}
]], dir, dir), [[
function main()
  Sleep(10 * 60000)                 -- from the first close (00:01) to 00:11: candle 11 has closed
  Log("n", #exchanges, exchanges[1] == exchange, exchanges[2] ~= exchange)
  for i, e in ipairs(exchanges) do
    local t, a = e.GetTicker(), e.GetAccount()
    Log("ex", i, e.GetName(), e.GetLabel(), e.GetCurrency(), t.Last, e.GetRecords()[#e.GetRecords()].Close,
      a.Balance, a.Stocks)
  end
  local id1 = exchanges[2].Sell(-1, 0.5)
  local id2 = exchange.Buy(-1, 100)
  Log("ids", id1, id2)
  Log("after", exchanges[1].GetAccount().Stocks, exchanges[2].GetAccount().Stocks, exchanges[2].GetAccount().Balance)
  Log("orders", exchanges[2].GetOrder(1).Type, exchange.GetOrder(1).Type)
  exchanges[2].GetDepth("BTC_USDT")
end
]], { "replay", "--json", dir .. "/sum.json", "s.lua@multi" })
    ok(r)
    has(r.out, "n 2 true true")
    -- each reads its own candles: close 11 of each file (on the default grid, as every price)
    has(r.out, "ex 1 Binance Binance BTC_USDT 40011.0 40011.0 1000.0 0.0")
    has(r.out, "ex 2 Binance ETH ETH_USDT 2011.0 2011.0 1000.0 2.0")
    -- order ids count per exchange; order lines carry the exchange's label; a fill is at its own market's price
    has(r.out, "ids 1 1")
    has(r.out, "[ETH] Sell market 0.5 (order 1)")
    has(r.out, "[ETH] Filled sell 0.5 at 2010.79, fee 1.005395 USDT (order 1)")
    has(r.out, "[Binance] Buy market 100 (order 1)")
    has(r.out, "orders 1 0")
    has(r.out, "after 0.00249 1.5 2004.389605")
    -- a failed call names the exchange by its place
    has(r.out, "exchanges[2].GetDepth: this exchange trades ETH_USDT only, got symbol 'BTC_USDT'")
    -- the summary: a row for each, and the second's figures in the JSON
    assert.truthy(r.out:find("\nmulti +0 +1 +1 ", 1), r.out)
    assert.truthy(r.out:find("\nmulti%[2%] +1 +1 +1%.0054 +2004%.3896 +1%.50000000 "), r.out)
    local sum = json.decode(h.read(dir .. "/sum.json"))
    local b = sum.bots[1]
    assert.are.equal(0.00249, b.stocks)
    assert.are.equal(1, #b.exchanges)
    assert.are.same({ "ETH", "ETH_USDT", 1.5, 1 },
      { b.exchanges[1].label, b.exchanges[1].currency, b.exchanges[1].stocks, b.exchanges[1].orders })
  end)

  it("gives a bot its own list with bots.ID.exchanges, and the others the config's", function()
    local dir = h.tmpdir()
    csv(dir, "btc.csv", 30, 40000)
    csv(dir, "eth.csv", 30, 2000)
    csv(dir, "sol.csv", 30, 100)
    local r = run(dir, string.format([[
market = "csv:%s/btc.csv"
exchange = { balance = 500 }
exchanges = { {}, { currency = "ETH_USDT", market = "csv:%s/eth.csv" } }
bots = { three = { exchanges = { {}, { currency = "ETH_USDT", market = "csv:%s/eth.csv" },
                                 { currency = "SOL_USDT", market = "csv:%s/sol.csv", balance = 7 } } } }
]], dir, dir, dir, dir), [[
function main()
  Sleep(5 * 60000)
  local t = {}
  for i, e in ipairs(exchanges) do t[i] = e.GetCurrency() .. "=" .. e.GetTicker().Last .. "/" .. e.GetAccount().Balance end
  Log("list", #exchanges, table.concat(t, " "))
end
]], { "replay", "s.lua@two", "s.lua@three" })
    ok(r)
    has(r.out, "list 2 BTC_USDT=40006.0/500.0 ETH_USDT=2006.0/500.0")
    has(r.out, "list 3 BTC_USDT=40006.0/500.0 ETH_USDT=2006.0/500.0 SOL_USDT=106.0/7.0")
  end)

  it("keeps a live bot's accounts apart, account.json and account-2.json, across a restart", function()
    local dir = h.tmpdir()
    local config = [[
market = "sim:seed=1"
exchanges = { {}, { label = "E", currency = "ETH_USDT", market = "sim:seed=2,price=2000", stocks = 1 } }
]]
    local script = [[
function main()
  local n = (_G("runs") or 0) + 1
  _G("runs", n)
  local id = exchanges[2].Sell(-1, 0.25)
  Log("run", n, "order", id, exchanges[2].GetAccount().Stocks, exchange.GetAccount().Stocks, #exchanges[2].GetOrders())
end
]]
    local r1 = run(dir, config, script, { "--id", "live2", "s.lua" })
    ok(r1)
    has(r1.out, "run 1 order 1 0.75 0.0 0")
    local r2 = run(dir, config, script, { "--id", "live2", "s.lua" })
    ok(r2)
    has(r2.out, "run 2 order 2 0.5 0.0 0")
    local a2 = json.decode(h.read(dir .. "/data/bots/live2/account-2.json"))
    assert.are.equal("ETH_USDT", a2.currency)
    assert.are.equal(3, a2.next_id)
    -- the first exchange never traded: its file is not written
    assert.is_false(h.exists(dir .. "/data/bots/live2/account.json"))
  end)

  it("refuses an account file of another place in the list, and tells apart exchanges of the same label", function()
    local dir = h.tmpdir()
    local script = [[
function main()
  exchanges[2].Buy(-1, 100)
  Log("stocks", exchanges[2].GetAccount().Stocks > 0, exchanges[1].GetAccount().Stocks)
end
]]
    local r = run(dir, 'market = "sim:seed=1"\nexchanges = { { label = "A" }, { label = "B" } }\n', script,
      { "--id", "same", "s.lua" })
    ok(r)
    has(r.out, "[B] Buy market 100 (order 1)")
    assert.are.equal("B", json.decode(h.read(dir .. "/data/bots/same/account-2.json")).label)
    -- the list reordered: the second place's file is B's, and the second exchange is now A
    local swapped = run(dir, 'market = "sim:seed=1"\nexchanges = { { label = "B" }, { label = "A" } }\n', script,
      { "--id", "same", "s.lua" })
    assert.are_not.equal(0, swapped.code)
    has(swapped.err, "account-2.json cannot be used (it is the account of the exchange labelled 'B', this is 'A': "
      .. "was the config's exchanges list reordered or relabelled? Rename the account files with it)")
    assert.falsy(swapped.out:find("Buy market", 1, true))
    -- the list shortened to one: the first place's file is A's, and the only exchange is now B
    local script1 = [[function main() exchanges[1].Buy(-1, 50) end]]
    ok(run(dir, 'market = "sim:seed=1"\nexchanges = { { label = "A" }, { label = "B" } }\n', script1,
      { "--id", "same", "s.lua" }))
    local shrunk = run(dir, 'market = "sim:seed=1"\nexchange = { label = "B" }\n', script1, { "--id", "same", "s.lua" })
    assert.are_not.equal(0, shrunk.code)
    has(shrunk.err, "account.json cannot be used (it is the account of the exchange labelled 'A', this is 'B'")
    -- two exchanges of one label: the order lines say which by its place
    local same = run(h.tmpdir(), 'market = "sim:seed=1"\nexchanges = { {}, {} }\n', script, { "--id", "dup", "s.lua" })
    ok(same)
    has(same.out, "[Paper #2] Buy market 100 (order 1)")
  end)

  it("refuses a wrong list or market at start, in one line naming it (exit status 2)", function()
    local dir = h.tmpdir()
    csv(dir, "btc.csv", 30, 40000)
    local head = string.format('market = "csv:%s/btc.csv"\n', dir)
    local cases = {
      { "exchanges = {}", "stratrun.conf:2: exchanges is empty: give at least one exchange table" },
      { "exchanges = { {}, x = {} }", "stratrun.conf:2: exchanges must be a list of exchange tables "
        .. '({{currency = "BTC_USDT"}, {currency = "ETH_USDT", market = "csv:eth.csv"}}), but it has the key x' },
      { "exchanges = { " .. string.rep("{}, ", 17) .. "}", "stratrun.conf:2: exchanges has 17 exchanges; a bot has at most 16" },
      { "exchanges = { {}, 5 }", "stratrun.conf:2: exchanges[2] must be a table, not number" },
      { 'exchanges = { {}, { currency = "ETHUSDT" } }',
        "exchanges[2]: exchange.currency must be BASE_QUOTE such as BTC_USDT, got 'ETHUSDT'" },
      { "exchanges = { {}, { market = 7 } }", "exchanges[2]: exchange.market must be a string, not number" },
      { 'exchanges = { {}, { market = "csv:' .. dir .. '/none.csv" } }',
        "stratrun: config exchanges[2].market: cannot open " .. dir .. "/none.csv: No such file or directory" },
      { 'bots = { s = { exchanges = { {}, { market = "rest:http://127.0.0.1:9" } } } }',
        "stratrun: config bots.s.exchanges[2].market 'rest:http://127.0.0.1:9' is live data: a replay needs recorded candles" },
      { 'bots = { s = { exchanges = 1 } }', "bots.s.exchanges must be a table, not number" },
      { 'bots = { s = { exchanges = { { period = 90 } } } }',
        "exchange: invalid config: exchange.period 90 s is not a multiple of the market's period of 60 s "
          .. "(the config's bots.s.exchanges[1] over its exchange)" },
      { 'exchanges = { {}, { period = 90 } }',
        "exchanges[2]: invalid config: exchange.period 90 s is not a multiple of the market's period of 60 s" },
    }
    for _, c in ipairs(cases) do
      local r = run(dir, head .. c[1] .. "\n", "function main() Log('ran') end", { "replay", "s.lua@s" })
      assert.are.equal(2, r.code, c[1] .. "\n" .. r.out .. r.err)
      has(r.err, c[2])
      assert.falsy(r.out:find("ran", 1, true), c[1])
      local lines = 0
      for _ in r.err:gmatch("[^\n]+") do lines = lines + 1 end
      assert.are.equal(1, lines, r.err)
    end
  end)
end)
