-- Spec for a live exchange's guards beyond an order's own (docs/live.md, "Guards" and "Rate limits"): the kill switch
-- file, the venue's order-count limits, and the 429/418 back-off shared by the stratrun processes of a data dir. Real
-- stratrun processes against the fake Binance spot venue (tests/fake_binance.py), whose counts are read back.
local h = require("helpers")

local fake = require("fake_venue")
local procs = {}
local start_venue, config = fake.start, fake.config

teardown(fake.stop_all)
after_each(function() h.kill_all(procs) end)

local function spawn(dir, id, script)
  local p = h.spawn { dir = dir, "--data-dir", dir .. "/d", "--id", id, script }
  procs[#procs + 1] = p
  return p
end

-- Strategy text: waits until the venue's 10 s window (on the fake's clock, ours) has at least 5 s left.
local WINDOW = [[
local function fresh_window()
  local left = 10000 - UnixNano() // 1000000 % 10000
  if left < 5000 then Sleep(left + 100) end
end
]]

describe("a live exchange's kill switch", function()
  it("refuses every order while its file exists and stops the bot, whose onexit runs, then cancel_on_stop", function()
    local v, dir = start_venue(), h.tmpdir()
    local switch = dir .. "/STOP"
    config(dir, v, string.format(', cancel_on_stop = true, kill_switch = "%s"', switch))
    h.script(dir, [[
function onexit() Log("onexit", exchange.Buy(42000, 0.001)) end
function main()
  Log("placed", exchange.Buy(42000, 0.001))
  while true do Sleep(50) end
end
]])
    local p = spawn(dir, "bot1", "strategy.lua")
    assert(p:wait_for("placed", 20), table.concat({ p:output() }, "\n"))
    local id = v.state().orders[1].orderId
    h.write(switch, "")         -- pulled from outside while the bot sleeps: it stops within about a second
    assert.are.equal(1, p:wait(20))
    local out, err = p:output()
    h.assert_has(err, "kill_switch: " .. switch .. " exists: bot bot1 stops (its onexit runs, then cancel_on_stop)\n")
    h.assert_has(out, "exchange.Buy: refused by kill_switch: " .. switch .. " exists\n")
    h.assert_has(out, "onexit null\n")
    h.assert_has(out, "Cancel " .. id .. " (cancel_on_stop)")
    local st = v.state()
    assert.are.equal(1, st.order_posts)
    assert.are.equal("CANCELED", st.orders[1].status)
    -- while it exists a bot does not start: one line, exit status 1, not a request sent
    local before = st.requests
    local r = h.run_bot('function main() Log("main ran") end', { dir = dir, timeout = 30 })
    assert.are.equal(1, r.code)
    h.assert_has(r.err, "exchange: cannot start on the venue: refused by kill_switch: " .. switch .. " exists\n")
    assert.falsy(r.err:find("traceback", 1, true), r.err)     -- the one line, no stack of stdlib frames
    assert.falsy(r.out:find("main ran", 1, true))
    assert.are.same(before, v.state().requests)
    -- removed, the bot trades again
    os.remove(switch)
    h.assert_ok(h.run_bot('function main() Log("buy", exchange.Buy(42000, 0.001) ~= nil) end', { dir = dir, timeout = 30 }))
    assert.are.equal(2, v.state().order_posts)
  end)

  it("refuses an order from the strategy that pulled it, which then stops", function()
    local v, dir = start_venue(), h.tmpdir()
    local switch = dir .. "/STOP"
    config(dir, v, string.format(', kill_switch = "%s"', switch))
    local r = h.run_bot(string.format([[
function main()
  io.open(%q, "w"):close()
  Log("buy", exchange.Buy(42000, 0.001))
  while true do Sleep(50) end
end
]], switch), { dir = dir, timeout = 30 })
    assert.are.equal(1, r.code)
    h.assert_has(r.out, "exchange.Buy: refused by kill_switch: " .. switch .. " exists\n")
    -- "buy null" follows unless the step was preempted (a slow machine, valgrind) and the scheduler's look at the
    -- switch stopped the bot first: both are right, so it is not asked for
    h.assert_has(r.err, "kill_switch: " .. switch .. " exists: bot bot1 stops")
    assert.are.equal(0, v.state().order_posts)
  end)

  it("is checked at start: an absolute path in a folder that exists", function()
    local v, dir = start_venue(), h.tmpdir()
    for _, c in ipairs {
      { '"STOP"', 'exchange.kill_switch must be an absolute path of a file, such as "/run/stratrun/STOP", got STOP' },
      { "true", "exchange.kill_switch must be an absolute path of a file, such as \"/run/stratrun/STOP\", got boolean" },
      { string.format("%q", dir .. "/no/STOP"), "exchange.kill_switch " .. dir .. "/no/STOP: its folder " .. dir
        .. "/no is not there: the switch could never be pulled" },
    } do
      config(dir, v, ", kill_switch = " .. c[1])
      local r = h.run_bot("function main() end", { dir = dir })
      assert.are.equal(2, r.code, r.err)
      h.assert_has(r.err, c[2])
      assert.are.equal(1, select(2, r.err:gsub("\n", "")), r.err)
    end
    h.write(dir .. "/paper.conf", 'exchange = { kill_switch = "/tmp/STOP" }\n')
    local r = h.run { dir = dir, "--config", "paper.conf", "--data-dir", dir .. "/d", "strategy.lua" }
    assert.are.equal(2, r.code)
    h.assert_has(r.err, 'exchange.kill_switch belongs to a live exchange: set exchange.venue = "binance" too')
  end)
end)

describe("the venue's order-count limits", function()
  it("refuses locally an order over the venue's count in its 10 s window, and never sends it", function()
    local v, dir = start_venue(), h.tmpdir()
    v.admin("fault", { order_limit_10s = 3 })
    config(dir, v)
    local r = h.run_bot(WINDOW .. [[
function main()
  fresh_window()
  for i = 1, 4 do Log("order", i, exchange.Buy(42000, 0.001) ~= nil) end
end
]], { dir = dir, timeout = 40 })
    h.assert_ok(r)
    h.assert_has(r.out, "order 3 true\n")
    h.assert_has(r.out, "order 4 false\n")
    assert.truthy(r.out:find("exchange.Buy: refused by the venue's order limit: 3 orders in its 10S window, the limit "
      .. "is 3; %d+ s left in the window\n"), r.out)
    local st = v.state()
    assert.are.equal(3, st.order_posts)         -- the fourth never reached the venue
    assert.are.equal(3, st.order_counts["10S"])
    assert.is_nil(st.statuses["429"])
    -- the day's limit the same way
    local v2 = start_venue()
    v2.admin("fault", { order_limit_1d = 2 })
    config(dir, v2)
    r = h.run_bot('function main() for i = 1, 3 do Log("order", i, exchange.Buy(42000, 0.001) ~= nil) end end',
      { dir = dir, timeout = 30 })
    h.assert_ok(r)
    h.assert_has(r.out, "order 2 true\n")
    h.assert_has(r.out, "exchange.Buy: refused by the venue's order limit: 2 orders in its 1D window, the limit is 2; ")
    assert.are.equal(2, v2.state().order_posts)
  end)

  it("takes the venue's -1015 (HTTP 429) on an order as a 429: not placed, the host left alone, no 418", function()
    local v, dir = start_venue(), h.tmpdir()
    config(dir, v)
    local r = h.run_bot(WINDOW .. string.format([[
function main()
  fresh_window()
  -- the venue lowers its limit after this bot read it at start
  HttpQuery("%s/__admin/fault", { method = "POST", body = '{"order_limit_10s": 1}' })
  Log("first", exchange.Buy(42000, 0.001) ~= nil)
  Log("second", exchange.Buy(42000, 0.001))
  Log("ticker", exchange.GetTicker())
end
]], v.base), { dir = dir, timeout = 40 })
    h.assert_ok(r)
    h.assert_has(r.out, "first true\n")
    h.assert_has(r.out, ": 429 Too Many Requests, retry after ")
    h.assert_has(r.out, "second null\n")
    h.assert_has(r.out, "ticker null\n")
    local st = v.state()
    assert.are.equal(2, st.order_posts)
    assert.are.equal(1, #st.orders)
    assert.are.equal(1, st.statuses["429"])
    assert.is_nil(st.statuses["418"])
    assert.is_nil(st.requests["GET /api/v3/order"])   -- an order answered 429 is not asked for: it was not placed
  end)
end)

describe("a 429 back-off shared by the processes of a data dir", function()
  it("holds back another process's requests, and one that starts meanwhile waits; the venue never answers 418", function()
    local v, dir = start_venue(), h.tmpdir()
    config(dir, v)
    v.admin("fault", { retry_after = math.ceil(4 * h.time_scale) })
    h.script(dir, [[
function main()
  Log("B ready", exchange.GetTicker() ~= nil)
  while not io.open("go") do Sleep(50) end
  local t, sent = nil, 0
  repeat
    t = exchange.GetTicker()
    if not t then sent = sent + 1 end
    Sleep(200)
  until t
  Log("B held back", sent, "then ticker", t.Sell)
end
]], "b.lua")
    local b = spawn(dir, "B", "b.lua")
    assert(b:wait_for("B ready true", 20), table.concat({ b:output() }, "\n"))
    -- process A goes over the venue's weight: answered 429 with Retry-After
    v.admin("fault", { weight_limit = v.state().weight + 30 })
    local r = h.run_bot('function main() for i = 1, 20 do exchange.GetTicker() end end', { dir = dir, timeout = 30 })
    h.assert_has(r.out, ": 429 Too Many Requests, retry after ")
    v.admin("fault", { weight_limit = 6000 })
    h.write(dir .. "/go", "")
    -- a third process, started during the wait, waits it out before its first request
    r = h.run_bot('function main() Log("C ticker", exchange.GetTicker() ~= nil) end', { dir = dir, timeout = 30 })
    h.assert_ok(r)
    h.assert_has(r.out, "s more (a 429 or 418 before this start): waiting")
    h.assert_has(r.out, "C ticker true")
    assert.are.equal(0, b:wait(30))
    local out = b:output()
    assert.truthy(out:find("B held back [1-9]%d* then ticker 43001"), out)
    h.assert_has(out, "exchange.GetTicker: binance GET: not sent: http://127.0.0.1:")
    local st = v.state()
    assert.are.equal(1, st.statuses["429"])
    assert.is_nil(st.statuses["418"])
  end)

  it("does not obey a shared file whose wait is longer than any the venue gives, or that is not one", function()
    local v, dir = start_venue(), h.tmpdir()
    config(dir, v)
    local host = v.base
    local file = dir .. "/d/backoff/" .. host:gsub("[^a-z0-9.-]", "_")
    assert(h.sh("mkdir -p " .. h.quote(dir .. "/d/backoff")) == 0)
    for _, text in ipairs { host .. " 99999999999999 429 1\n", host .. " 1 2 3 4\n", "garbage" } do
      h.write(file, text)
      local r = h.run_bot('function main() Log("ticker", exchange.GetTicker() ~= nil) end', { dir = dir, timeout = 30 })
      h.assert_ok(r)
      h.assert_has(r.out, "ticker true\n")
      assert.falsy(r.out:find("waiting", 1, true), r.out)
    end
  end)
end)
