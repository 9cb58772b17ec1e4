-- Spec for a live exchange's user-data stream (stdlib/live.lua over runtime/lua/venue_stream.c; docs/live.md#the-
-- user-data-stream): real bots in real stratrun processes against tests/fake_binance.py, whose WebSocket at
-- /ws-api/v3 answers the signed subscription and pushes an executionReport at every order state change, and whose
-- futures stream at /ws/<listenKey> (the key from POST /fapi/v1/listenKey) pushes ORDER_TRADE_UPDATE. The fake's
-- request counts prove which calls were answered from the stream.
local h = require("helpers")

local fake_venue = require("fake_venue")
local KEY, SECRET = fake_venue.KEY, fake_venue.SECRET
local procs = {}
local fake = fake_venue.start

teardown(fake_venue.stop_all)
after_each(function() h.kill_all(procs) end)

-- A folder with a 0600 config for fake f (extra: more of the exchange table, as Lua text; venue: "binance" unless
-- given) and the strategy text.
local function bot_dir(f, extra, text, venue)
  local dir = h.tmpdir()
  fake_venue.config(dir, f, extra, nil, venue)
  h.script(dir, text)
  return dir
end

local function spawn(dir)
  local p = h.spawn { dir = dir, "--data-dir", dir .. "/d", "--id", "bot1", "strategy.lua" }
  procs[#procs + 1] = p
  return p
end

local function out(p) return table.concat({ p:output() }, "\n") end

local function wait_for(p, text, timeout)
  assert(p:wait_for(text, timeout or 20), "want «" .. text .. "» in:\n" .. out(p))
end

local function order_reads(f) return f.state().requests["GET /api/v3/order"] or 0 end

-- Every order placed, then GetOrder of each every 50 ms, a line when one is seen filled: "filled ID DEAL AVG
-- OPEN-ORDERS". On binance-futures (FUT) the orders are long opens and the line has the Offset after AVG; with CLOSE,
-- a filled open's resting close (reduceOnly at the venue) is placed and watched too.
local WATCH = [[
function main()
  if FUT then
    exchange.SetContractType("swap")
    exchange.SetDirection("buy")
  end
  local ids, told = {}, {}
  for i = 1, N do ids[i] = exchange.Buy(42000 - i, FUT and 0.01 or 0.001) end
  Log("placed", table.concat(ids, " "))
  while true do
    for _, id in ipairs(ids) do
      local o = exchange.GetOrder(id)
      if o and o.Status == ORDER_STATE_CLOSED and not told[id] then
        told[id] = true
        Log("filled", id, o.DealAmount, math.floor(o.AvgPrice + 0.5) .. (FUT and " " .. o.Offset or ""),
          #exchange.GetOrders())
        if CLOSE and o.Offset == ORDER_OFFSET_OPEN then
          exchange.SetDirection("closebuy")
          ids[#ids + 1] = exchange.Sell(45000, 0.01)
          Log("close", ids[#ids])
        end
      end
    end
    Sleep(50)
  end
end
]]

local function watch(n) return "local N = " .. n .. "\n" .. WATCH end
local function futures_watch(close)
  return function(n) return string.format("local N, FUT, CLOSE = %d, true, %s\n", n, tostring(close)) .. WATCH end
end

-- A fake venue and a bot watching n orders on it (extra: more of the exchange table), once its output has ready;
-- returns the fake, the process and the orders' ids. text, venue: another strategy and venue (futures').
local function start(n, extra, ready, text, venue)
  local f = fake()
  local dir = bot_dir(f, extra, (text or watch)(n), venue)
  local p = spawn(dir)
  wait_for(p, ready)
  local ids = {}
  for id in assert(out(p):match("placed ([%d ]+)")):gmatch("%d+") do ids[#ids + 1] = id end
  return f, p, ids, dir
end

-- Fills order id at the venue and waits for the bot's line (want); returns how many GET /api/v3/order (reads: the
-- fake's count of another path's) that took.
local function fill(f, p, id, want, reads)
  reads = reads or order_reads
  local before = reads(f)
  f.admin("fill", { orderId = tonumber(id) })
  wait_for(p, want)
  return reads(f) - before
end

local UP = "exchange: the venue's user-data stream is up: orders are read from it"
local BACK = "exchange: the venue's user-data stream is back: orders are read from it"

describe("a live exchange's user-data stream", function()
  it("shows a resting order's fill through GetOrder from the stream, with no REST read of the order", function()
    local f, p, ids, dir = start(1, "", UP)
    assert.are.equal(0, fill(f, p, ids[1], "filled " .. ids[1] .. " 0.001 41999 0"))   -- from the stream
    local st = f.state()
    assert.are.equal(1, st.stream.subscribed)
    assert.are.equal("FILLED", st.orders[1].status)
    -- stopped, the bot exits at once and its stream connection closes
    p:signal("TERM")
    assert.are.equal(143, p:wait(10))
    assert.truthy(h.eventually(function() return f.state().stream.open == 0 end, 5))
    -- the API key went to the venue over the stream, and is nowhere in the output or the bot's folder
    local files = ""
    for path in io.popen("find " .. h.quote(dir .. "/d") .. " -type f"):lines() do files = files .. (h.read(path) or "") end
    for _, text in ipairs { out(p), files } do
      assert.falsy(text:find(KEY, 1, true))
      assert.falsy(text:find(SECRET, 1, true))
    end
  end)

  it("reads REST while the stream is down, logs down and back once each, and after it reads the stream again", function()
    local f, p, ids = start(2, "", UP)
    -- dropped, and reconnects refused for 2 s: a fill meanwhile is seen by REST
    f.admin("fault", { stream_refuse = 2 * h.time_scale })
    f.admin("fault", { stream_drop = true })
    wait_for(p, "exchange: the venue's user-data stream is down (the server closed the connection): orders are read "
      .. "by REST until it is back")
    assert.truthy(fill(f, p, ids[1], "filled " .. ids[1] .. " 0.001 41999 1") > 0)
    -- back with a new subscription; a fill is then seen from the stream again
    wait_for(p, BACK)
    assert.are.equal(0, fill(f, p, ids[2], "filled " .. ids[2] .. " 0.001 41998 0"))
    local st = f.state()
    assert.are.equal(2, st.stream.subscribed)
    assert.truthy(st.stream.handshakes >= 2)
    local text = out(p)
    assert.are.equal(1, select(2, text:gsub("stream is down", "")))     -- not once per refused attempt
    assert.are.equal(1, select(2, text:gsub("stream is back", "")))
  end)

  it("opens the stream again when the venue ends the subscription (eventStreamTerminated)", function()
    local f, p, ids = start(1, "", UP)
    f.admin("fault", { stream_expire = true })
    wait_for(p, "exchange: the venue's user-data stream is down (the venue ended it: eventStreamTerminated)")
    wait_for(p, BACK)
    assert.are.equal(0, fill(f, p, ids[1], "filled " .. ids[1]))
    assert.are.equal(2, f.state().stream.subscribed)
  end)

  it("with stream = false reads orders by REST, as without a stream, and opens no connection", function()
    local f, p, ids = start(1, ", stream = false", "placed")
    assert.truthy(fill(f, p, ids[1], "filled " .. ids[1] .. " 0.001 41999 0") > 0)
    assert.are.equal(0, f.state().stream.handshakes)
    assert.falsy(out(p):find("user-data stream", 1, true))
  end)

  it("refuses a bad stream or stream_url in one line", function()
    local f = fake()
    for _, c in ipairs {
      { ', stream = "yes"', "exchange.stream must be true or false, not string" },
      { ', stream_url = "http://127.0.0.1:1/ws"', "exchange.stream_url must be ws(s)://HOST[:PORT][/PATH] without a "
        .. "query or spaces, got 'http://127.0.0.1:1/ws'" },
      { ', stream_url = 7', 'exchange.stream_url must be a string such as "wss://ws-api.binance.com:443/ws-api/v3"' },
    } do
      local dir = bot_dir(f, c[1], "function main() end")
      local r = h.run { dir = dir, "--data-dir", dir .. "/d", "--id", "bot1", "strategy.lua" }
      assert.are.equal(2, r.code)
      h.assert_has(r.err, c[2])
      assert.are.equal(1, select(2, r.err:gsub("\n", "")), r.err)
    end
  end)
end)

local function futures_reads(f) return f.state().requests["GET /fapi/v1/order"] or 0 end

-- The text of the bot's output and of every file in its folder.
local function seen_text(p, dir)
  local text = out(p)
  for path in io.popen("find " .. h.quote(dir .. "/d") .. " -type f"):lines() do text = text .. (h.read(path) or "") end
  return text
end

describe("a binance-futures exchange's user-data stream (listen key)", function()
  it("shows a resting open's and then its close's fill through GetOrder from the stream, with no REST read", function()
    local f, p, ids, dir = start(1, "", UP, futures_watch(true), "binance-futures")
    assert.are.equal(0, fill(f, p, ids[1], "filled " .. ids[1] .. " 0.01 41999 0 0", futures_reads))
    wait_for(p, "close ")
    local close = assert(out(p):match("close (%d+)"))
    -- the close's reduceOnly came over the stream: its Offset is a close's
    assert.are.equal(0, fill(f, p, close, "filled " .. close .. " 0.01 45000 1 0", futures_reads))
    local st = f.state()
    assert.are.equal(1, #st.listen_keys)
    assert.are.equal(1, st.stream.subscribed)
    assert.are.equal(1, st.requests["POST /fapi/v1/listenKey"])
    assert.are.same({ "FILLED", "FILLED" }, { st.futures.orders[1].status, st.futures.orders[2].status })
    p:signal("TERM")
    assert.are.equal(143, p:wait(10))
    assert.truthy(h.eventually(function() return f.state().stream.open == 0 end, 5))
    -- the listen key (and the keys) in neither the output nor the bot's folder
    local text = seen_text(p, dir)
    for _, secret in ipairs { st.listen_keys[1], KEY, SECRET } do assert.falsy(text:find(secret, 1, true)) end
  end)

  it("reads REST while the stream is down, and back on it with the listen key reads the stream again", function()
    local f, p, ids = start(2, "", UP, futures_watch(false), "binance-futures")
    f.admin("fault", { stream_refuse = 2 * h.time_scale })
    f.admin("fault", { stream_drop = true })
    wait_for(p, "exchange: the venue's user-data stream is down (the server closed the connection): orders are read "
      .. "by REST until it is back")
    assert.truthy(fill(f, p, ids[1], "filled " .. ids[1] .. " 0.01 41999 0 1", futures_reads) > 0)
    wait_for(p, BACK)
    assert.are.equal(0, fill(f, p, ids[2], "filled " .. ids[2] .. " 0.01 41998 0 0", futures_reads))
    local st = f.state()
    assert.are.equal(1, #st.listen_keys)      -- the active key, asked for again (POST), not a new one
    assert.are.equal(2, st.stream.subscribed)
    local text = out(p)
    assert.are.equal(1, select(2, text:gsub("stream is down", "")))
    assert.are.equal(1, select(2, text:gsub("stream is back", "")))
  end)

  it("gets a new listen key when the venue says the old one expired (listenKeyExpired)", function()
    local f, p, ids, dir = start(1, "", UP, futures_watch(false), "binance-futures")
    f.admin("fault", { stream_expire = true })
    wait_for(p, "exchange: the venue's user-data stream is down (the venue's listen key expired)")
    wait_for(p, BACK)
    assert.are.equal(0, fill(f, p, ids[1], "filled " .. ids[1] .. " 0.01 41999 0 0", futures_reads))
    local st = f.state()
    assert.are.equal(2, #st.listen_keys)
    local text = seen_text(p, dir)
    for _, key in ipairs(st.listen_keys) do assert.falsy(text:find(key, 1, true)) end
  end)

  it("with stream = false asks for no listen key and reads orders by REST", function()
    local f, p, ids = start(1, ", stream = false", "placed", futures_watch(false), "binance-futures")
    assert.truthy(fill(f, p, ids[1], "filled " .. ids[1] .. " 0.01 41999 0 0", futures_reads) > 0)
    local st = f.state()
    assert.are.equal(0, st.stream.handshakes)
    assert.are.equal(0, #st.listen_keys)
    assert.falsy(out(p):find("user-data stream", 1, true))
  end)

  it("refuses a bad stream_url in one line, naming the futures stream's base", function()
    local f = fake()
    local dir = bot_dir(f, ", stream_url = 7", "function main() end", "binance-futures")
    local r = h.run { dir = dir, "--data-dir", dir .. "/d", "--id", "bot1", "strategy.lua" }
    assert.are.equal(2, r.code)
    h.assert_has(r.err, 'exchange.stream_url must be a string such as "wss://fstream.binance.com"')
    assert.are.equal(1, select(2, r.err:gsub("\n", "")), r.err)
  end)
end)
