-- Spec for the two application scenarios of the platform's channel document that strategies/ shows besides
-- master/follower and monitoring (docs/channels.md, "Application scenarios"):
--   multi-account synchronization: strategies/sync_leader.lua and sync_follower.lua;
--   data sharing: strategies/indicator_publisher.lua and indicator_consumer.lua.
--
-- Every case replays the samples, unchanged, with real `stratrun replay` processes (several bots in one replay) on
-- candle files this spec writes, and reads back their log lines, status panels and --json summaries. What the bots
-- must have done is derived here from the candles: the leader's trend rule in integer arithmetic, and the
-- indicators from M15 and H1 bars this spec builds itself from the rows it wrote.
local h = require("helpers")

local STRATEGIES = h.source .. "/strategies/"
local MIN = 60000
local T0 = 1704067200000          -- 2024-01-01T00:00:00Z

-- Log lines of text as {ms = virtual time, id = bot ID, msg = the rest}; stamps read as UTC (the runs set TZ=UTC).
local function log_lines(text)
  local t = {}
  for line in text:gmatch("[^\n]+") do
    local ms, rest = h.log_line(line)
    if ms then
      local id, msg = rest:match("^%[([%w_%-]+)%] (.*)$")
      t[#t + 1] = { ms = ms, id = id, msg = msg or rest }
    end
  end
  return t
end

-- The log lines of bot id whose message starts with prefix, as {ms, rest = what follows the prefix}.
local function lines_of(r, id, prefix)
  local t = {}
  for _, l in ipairs(r.log) do
    if l.id == id and l.msg:sub(1, #prefix) == prefix then t[#t + 1] = { ms = l.ms, rest = l.msg:sub(#prefix + 1) } end
  end
  return t
end

-- Runs `stratrun replay --config dir/stratrun.conf --json dir/sum.json args...` in dir, under TZ=UTC.
local function replay(dir, config, args)
  h.write(dir .. "/stratrun.conf", config)
  local cmd = { "replay", "--data-dir", dir .. "/data", "--config", dir .. "/stratrun.conf", "--json",
                dir .. "/sum.json", dir = dir, env = { TZ = "UTC" }, timeout = 60 }
  for _, a in ipairs(args) do cmd[#cmd + 1] = a end
  local r = h.run(cmd)
  h.assert_ok(r)
  r.log = log_lines(r.out)
  r.summary = json.decode(assert(h.read(dir .. "/sum.json"), "no --json summary"))
  r.by = {}
  for _, b in ipairs(r.summary.bots) do r.by[b.id] = b end
  r.status = function(id) return h.read(dir .. "/data/replay/bots/" .. id .. "/status.txt") or "" end
  return r
end

local function near(a, b, tol, what)
  assert(type(a) == "number" and type(b) == "number" and math.abs(a - b) <= (tol or 1e-6),
    string.format("%s: %s vs %s", what or "value", tostring(a), tostring(b)))
end

-- Writes candles {time, open, high, low, close} as a CSV file.
local function write_csv(path, rows)
  local out = { "time,open,high,low,close,volume" }
  for _, c in ipairs(rows) do out[#out + 1] = string.format("%d,%d,%d,%d,%d,10", c[1], c[2], c[3], c[4], c[5]) end
  return h.write(path, table.concat(out, "\n") .. "\n")
end

-- n candles of period ms from T0: an integer random walk from price, moves up to step either way (seeded).
local function walk(n, period, price, step, seed)
  local rnd, rows, c = h.lcg(seed), {}, price
  for k = 1, n do
    local o = c
    c = o + math.floor((rnd() - 0.5) * 2 * step + 0.5)
    rows[k] = { T0 + (k - 1) * period, o, math.max(o, c) + step // 4 + 1, math.min(o, c) - step // 4 - 1, c }
  end
  return rows
end

describe("multi-account synchronization (strategies/sync_leader.lua, sync_follower.lua)", function()
  local N, MA = 150, 5
  local AMOUNT, CONTRACTS = 0.2, 1
  local dir, rows, up, r

  -- The leader's rule at the close of bar k (k bars closed): close above the MA of the last 5 closes, in integers.
  local function leader_up(k)
    if k <= MA then return nil end
    local sum = 0
    for i = k - MA + 1, k do sum = sum + rows[i][5] end
    assert(MA * rows[k][5] ~= sum, "the fixture has a tie with the MA at bar " .. k)
    return MA * rows[k][5] > sum
  end
  -- The leader's accounts once it has acted at minute k: {stocks, positions} as the follower logs them.
  local function want(k, ratio)
    local u = up[k]
    if u == nil then return { stocks = 0, pos = {} } end
    return { stocks = u and _N(AMOUNT * ratio, 8) or 0,
             pos = { [u and "swap long" or "swap short"] = _N(CONTRACTS * ratio, 8) } }
  end
  local function minute(ms) return (ms - T0) // MIN end

  setup(function()
    dir = h.tmpdir()
    rows = walk(N, MIN, 40000, 40, 7)
    write_csv(dir .. "/btc.csv", rows)
    up = {}
    for k = 1, N do up[k] = leader_up(k) end
    -- The late follower: the sample as it is, started 30 minutes late, and a manual trade on its account at 01:30
    -- (coins bought, the futures position closed) that the sample must notice and undo.
    h.script(dir, string.format([[
dofile(%q)
local sample_main, sleep, done = main, Sleep, false
function Sleep(ms)
  local r = sleep(ms)
  if not done and UnixNano() // 1000000 >= %d then
    done = true
    local t = exchange.GetTicker()
    exchange.Buy(t.Sell, 0.1, "manual")
    local f = exchanges[2]
    for _, p in ipairs(f.GetPosition()) do
      f.SetDirection(p.Type == PD_LONG and "closebuy" or "closesell")
      if p.Type == PD_LONG then f.Sell(t.Buy, p.Amount, "manual") else f.Buy(t.Sell, p.Amount, "manual") end
    end
  end
  return r
end
function main()
  sleep(30 * 60000)
  sample_main()
end
]], STRATEGIES .. "sync_follower.lua", T0 + 90 * MIN), "late_follower.lua")
    r = replay(dir, string.format([[
market = "csv:%s/btc.csv"
exchange = { taker_fee = 0.001 }
bots = {
  L = { exchanges = { { name = "Spot", balance = 10000 }, { name = "Futures", kind = "futures", balance = 10000 } } },
  A = { exchanges = { { name = "Spot", balance = 5000 }, { name = "Futures", kind = "futures", balance = 5000 } } },
  B = { exchanges = { { name = "Spot", balance = 2500 }, { name = "Futures", kind = "futures", balance = 2500 } } },
  C = { exchanges = { { name = "Spot", balance = 20000, stocks = 0.05 },
                      { name = "Futures", kind = "futures", balance = 5000 } } },
}
params = { leader = "L", interval = 60000 }
]], dir), { "-p", "L.ma=" .. MA, "-p", "L.amount=" .. AMOUNT, "-p", "L.contracts=" .. CONTRACTS,
      "-p", "A.ratio=0.5", "-p", "B.ratio=0.25", "-p", "B.interval=180000", "-p", "C.ratio=0.5",
      STRATEGIES .. "sync_leader.lua@L", STRATEGIES .. "sync_follower.lua@A", STRATEGIES .. "sync_follower.lua@B",
      dir .. "/late_follower.lua@C" })
  end)

  -- The leader's published states by minute: {n, ex}, the latest logged at or before each minute (it logs a state
  -- only when it differs from the previous one).
  local function published()
    local t, latest = {}, {}
    for _, l in ipairs(lines_of(r, "L", "Published update ")) do
      local n, js = l.rest:match("^(%d+) (.*)$")
      t[minute(l.ms)] = { n = tonumber(n), ex = json.decode(js) }
    end
    local last
    for k = 1, N do
      last = t[k] or last
      latest[k] = last
    end
    return latest
  end
  -- The follower's "Corrected to update" lines: {minute, n, holdings}.
  local function corrections(id)
    local t = {}
    for _, l in ipairs(lines_of(r, id, "Corrected to update ")) do
      local n, js = l.rest:match("^(%d+) (.*)$")
      t[#t + 1] = { k = minute(l.ms), n = tonumber(n), ex = json.decode(js) }
    end
    return t
  end
  local function check_holdings(c, w, what)
    assert.are.equal(w.stocks, c.ex[1].Stocks, what .. ": spot stocks")
    assert.are.same(w.pos, c.ex[2].Positions, what .. ": futures positions")
  end

  it("the fixture flips the leader's rule often, and twice within 3 minutes somewhere", function()
    local flips, quick = 0, 0
    for k = MA + 2, N do
      if up[k] ~= up[k - 1] then
        flips = flips + 1
        if up[k + 1] ~= nil and up[k + 1] ~= up[k] then quick = quick + 1 end
      end
    end
    assert.is_true(flips >= 15, "only " .. flips .. " flips")
    assert.is_true(quick >= 2, "no quick flips")
  end)

  it("the leader publishes its spot coins and futures position as its rule says, every minute it changes", function()
    local pub = published()
    for k = MA + 1, N do
      local p = assert(pub[k], "no publication at minute " .. k)
      local w = want(k, 1)
      assert.are.equal(w.stocks, p.ex[1].Stocks, "stocks at minute " .. k)
      assert.are.equal("spot", p.ex[1].kind)
      assert.are.equal("futures", p.ex[2].kind)
      assert.are.equal(1, #p.ex[2].Positions, "positions at minute " .. k)
      local pos = p.ex[2].Positions[1]
      assert.are.same({ "swap", up[k] and PD_LONG or PD_SHORT, CONTRACTS }, { pos.ContractType, pos.Type, pos.Amount })
    end
  end)

  it("a follower in step holds ratio x the leader's positions and balances after every sync", function()
    local pub, cs = published(), corrections("A")
    -- One correction at every minute the rule flips (and at the first position), none in between.
    local want_k = {}
    for k = MA + 1, N do
      if k == MA + 1 or up[k] ~= up[k - 1] then want_k[#want_k + 1] = k end
    end
    local got_k = {}
    for i, c in ipairs(cs) do got_k[i] = c.k end
    assert.are.same(want_k, got_k)
    for _, c in ipairs(cs) do
      local p = pub[c.k]
      assert.are.equal(p.n, c.n, "update number at minute " .. c.k)
      check_holdings(c, want(c.k, 0.5), "minute " .. c.k)
      -- It fills at the leader's prices with half its money: half its balances, to float rounding.
      near(c.ex[1].Balance, p.ex[1].Balance * 0.5, 1e-6, "spot balance at minute " .. c.k)
      near(c.ex[2].Equity, p.ex[2].Equity * 0.5, 1e-6, "futures equity at minute " .. c.k)
    end
    -- The end of the replay, from the summary.
    local L, A = r.by.L, r.by.A
    near(A.stocks, L.stocks * 0.5, 1e-9, "final stocks")
    near(A.balance, L.balance * 0.5, 1e-6, "final balance")
    near(A.exchanges[1].value, L.exchanges[1].value * 0.5, 1e-6, "final futures equity")
    assert.are.equal(L.orders, A.orders)
    -- Its last panel: the platform's table, a row per item, leader / target / actual.
    local panel, cells = r.status("A"), {}
    h.assert_has(panel, "In sync, corrections so far: " .. #cs)
    for line in panel:gmatch("[^\n]+") do
      if line:find("^| ") then
        local row = {}
        for cell in line:gmatch("|%s*([^|]-)%s*%f[|]") do row[#row + 1] = cell end
        cells[row[2]] = row
      end
    end
    local w, side = want(N, 0.5), up[N] and "swap long" or "swap short"
    assert.are.same({ "Spot BTC_USDT", "Stocks", up[N] and AMOUNT or 0, w.stocks, w.stocks, "in sync" },
      { cells.Stocks[1], cells.Stocks[2], tonumber(cells.Stocks[3]), tonumber(cells.Stocks[4]),
        tonumber(cells.Stocks[5]), cells.Stocks[6] })
    assert.are.same({ "Futures BTC_USDT", side, CONTRACTS, w.pos[side], w.pos[side], "in sync" },
      { cells[side][1], cells[side][2], tonumber(cells[side][3]), tonumber(cells[side][4]),
        tonumber(cells[side][5]), cells[side][6] })
  end)

  it("a follower that polls every 3 minutes goes straight to the latest target and skips what it missed", function()
    local cs = corrections("B")
    -- Its passes: 00:01 (the first GetChannelData returns nil), then every 3 minutes; at each, the target is the
    -- leader's state of that minute, and it trades only where that differs from the previous pass's.
    local want_k, held, leader_changes = {}, want(1, 0.25), 0
    for k = 4, N, 3 do
      local w = want(k, 0.25)
      if not (w.stocks == held.stocks and json.encode(w.pos) == json.encode(held.pos)) then want_k[#want_k + 1] = k end
      held = w
    end
    for k = MA + 1, N do
      if k == MA + 1 or up[k] ~= up[k - 1] then leader_changes = leader_changes + 1 end
    end
    local got_k = {}
    for i, c in ipairs(cs) do
      got_k[i] = c.k
      check_holdings(c, want(c.k, 0.25), "minute " .. c.k)
    end
    assert.are.same(want_k, got_k)
    assert.is_true(#cs < leader_changes, #cs .. " corrections for " .. leader_changes .. " leader changes")
    -- Never more than one order per item and pass: nothing is replayed.
    local per_pass = {}
    for _, l in ipairs(lines_of(r, "B", "Drift on ")) do
      local key = minute(l.ms) .. " " .. l.rest:match("^([^:]+):")
      assert.is_nil(per_pass[key], "two corrections of one item in one pass: " .. key)
      per_pass[key] = true
    end
  end)

  it("a follower started late, with coins it should not hold, catches up in one pass and undoes a manual trade",
    function()
      local cs = corrections("C")
      -- 30 minutes late: its first GetChannelData (00:31) returns nil, its first pass is 00:32.
      assert.are.equal(32, cs[1].k)
      check_holdings(cs[1], want(32, 0.5), "first pass")
      local drift = lines_of(r, "C", "Drift on ")
      assert.are.equal(T0 + 32 * MIN, drift[1].ms)
      -- The 0.05 coins it started with are gone in that one pass, whatever the leader did in the 31 minutes.
      local w = want(32, 0.5)
      if w.stocks ~= 0.05 then
        h.assert_has(drift[1].rest, string.format("Spot Stocks: target %s actual 0.05", w.stocks == 0 and "0.0" or
          tostring(w.stocks)))
      end
      -- The manual trade at 01:30 (minute 90): 0.1 coins bought, the futures position closed; the same pass sees
      -- the drift and restores ratio x the leader's.
      local after = {}
      for _, l in ipairs(drift) do
        if l.ms == T0 + 90 * MIN then after[#after + 1] = l.rest end
      end
      local w90 = want(90, 0.5)
      local side = next(w90.pos)
      assert.are.same({
        string.format("Spot Stocks: target %s actual %s -> sell 0.1", w90.stocks == 0 and "0.0" or w90.stocks,
          tostring(_N(w90.stocks + 0.1, 8))),
        string.format("Futures %s: target %s actual 0 -> open %s", side, w90.pos[side], w90.pos[side]),
      }, after)
      local c90
      for _, c in ipairs(cs) do if c.k == 90 then c90 = c end end
      assert.is_truthy(c90, "no correction at minute 90")
      check_holdings(c90, w90, "after the manual trade")
      -- Every later correction holds ratio x the leader's too, and the end of the replay as well.
      for _, c in ipairs(cs) do check_holdings(c, want(c.k, 0.5), "minute " .. c.k) end
      near(r.by.C.stocks, r.by.L.stocks * 0.5, 1e-9, "final stocks")
      h.assert_has(r.status("C"), "In sync")
    end)
end)

describe("data sharing (strategies/indicator_publisher.lua, indicator_consumer.lua)", function()
  local P15, H1 = 15 * MIN, 60 * MIN
  local FROM = T0 + 36 * H1                 -- 36 hours of history: more than MA20 of hours
  local BARS = 288                          -- three days of 15-minute bars
  local ROUNDS, STALE, RISK = 40, 30 * MIN, 2
  local dir, btc, eth, r

  -- The M15 and H1 records of rows closed by time c (the last 100 of each, as GetRecords gives), built here.
  local function records(rows, c)
    local m15, h1 = {}, {}
    for _, x in ipairs(rows) do
      if x[1] + P15 <= c then m15[#m15 + 1] = { Time = x[1], Open = x[2], High = x[3], Low = x[4], Close = x[5], Volume = 10 } end
    end
    for i = 1, #m15 - 3, 4 do
      local a, b = m15[i], m15[i + 3]
      if a.Time % H1 == 0 and b.Time == a.Time + 3 * P15 then
        local hi, lo = a.High, a.Low
        for j = i + 1, i + 3 do hi, lo = math.max(hi, m15[j].High), math.min(lo, m15[j].Low) end
        h1[#h1 + 1] = { Time = a.Time, Open = a.Open, High = hi, Low = lo, Close = b.Close, Volume = 40 }
      end
    end
    local function last(t)
      local out = {}
      for i = math.max(1, #t - 99), #t do out[#out + 1] = t[i] end
      return out
    end
    return last(m15), last(h1)
  end
  local function values(rr)
    local n = #rr
    local m, s, a = TA.MA(rr, 20), TA.RSI(rr, 14), TA.ATR(rr, 14)
    return { T = rr[n].Time, C = rr[n].Close, MA = _N(m[n], 2), RSI = _N(s[n], 2), ATR = _N(a[n], 2) }
  end
  local cache = {}
  local function at(rows, c)
    cache[rows] = cache[rows] or {}
    if not cache[rows][c] then
      local m15, h1 = records(rows, c)
      cache[rows][c] = { M15 = values(m15), H1 = values(h1) }
    end
    return cache[rows][c]
  end

  -- The consumer's decisions: {ms, bar close, source} (shared until the publisher's last update at P, none in the
  -- 30 minutes it is not yet stale, then, with the fallback, its own from P + 31 min on).
  local LAST = FROM + (ROUNDS - 1) * P15
  local function decisions(fallback)
    local t = { { ms = FROM + MIN, c = FROM, src = "shared" } }
    for c = FROM + P15, LAST, P15 do t[#t + 1] = { ms = c, c = c, src = "shared" } end
    if fallback then
      local first = LAST + STALE + MIN
      t[#t + 1] = { ms = first, c = first - (first - T0) % P15, src = "own" }
      for c = t[#t].c + P15, T0 + BARS * P15, P15 do t[#t + 1] = { ms = c, c = c, src = "own" } end
    end
    return t
  end
  -- The trades those decisions make: {ms, side, amount, src, bar}.
  local function trades(rows, fallback)
    local out, holding = {}, 0
    for _, d in ipairs(decisions(fallback)) do
      local v = at(rows, d.c)
      local long = v.H1.C > v.H1.MA and v.M15.RSI > 50
      if long and holding == 0 then
        holding = _N(math.floor(RISK / v.M15.ATR / 1e-5) * 1e-5, 8)
        out[#out + 1] = { ms = d.ms, side = "Enter", amount = holding, src = d.src, v = v }
      elseif not long and holding > 0 then
        out[#out + 1] = { ms = d.ms, side = "Exit", amount = holding, src = d.src, v = v }
        holding = 0
      end
    end
    return out
  end
  -- The consumer's trade lines: {ms, side, amount, src, n, v}.
  local function logged(id, symbol)
    local out = {}
    for _, l in ipairs(r.log) do
      if l.id == id then
        local side, amount, src, js = l.msg:match("^(%a+) long " .. symbol .. " (%S+) on (.-) ({.*})$")
        if side then
          out[#out + 1] = { ms = l.ms, side = side, amount = tonumber(amount), src = src, v = json.decode(js) }
        end
      end
    end
    return out
  end
  local function same_values(want, got, what)
    for _, p in ipairs({ "M15", "H1" }) do
      for _, k in ipairs({ "T", "C", "MA", "RSI", "ATR" }) do
        assert(want[p][k] == got[p][k], string.format("%s: %s.%s is %s, want %s", what, p, k, tostring(got[p][k]),
          tostring(want[p][k])))
      end
    end
  end

  setup(function()
    dir = h.tmpdir()
    btc = walk(BARS, P15, 40000, 120, 11)
    eth = walk(BARS, P15, 2000, 8, 13)
    write_csv(dir .. "/btc.csv", btc)
    write_csv(dir .. "/eth.csv", eth)
    r = replay(dir, string.format([[
market = "csv:%s/btc.csv"
exchanges = { { name = "Binance", currency = "BTC_USDT" },
              { name = "Binance", label = "ETH", currency = "ETH_USDT", market = "csv:%s/eth.csv" } }
bots = {
  F = { exchanges = { { name = "Binance", currency = "BTC_USDT" } } },
  W = { exchanges = { { name = "Binance", label = "ETH", currency = "ETH_USDT", market = "csv:%s/eth.csv" } } },
}
params = { publisher = "P", risk = %d, stale = %d }
]], dir, dir, dir, RISK, STALE), { "--from", tostring(FROM), "-p", "P.rounds=" .. ROUNDS, "-p", "W.on_stale=wait",
      STRATEGIES .. "indicator_publisher.lua@P", STRATEGIES .. "indicator_consumer.lua@F",
      STRATEGIES .. "indicator_consumer.lua@W" })
  end)

  it("the publisher publishes MA, RSI and ATR of M15 and H1 for both symbols, once per M15 bar, then stops",
    function()
      local pubs = lines_of(r, "P", "Published update ")
      assert.are.equal(ROUNDS, #pubs)
      for i, l in ipairs(pubs) do
        local n, js = l.rest:match("^(%d+) (.*)$")
        assert.are.equal(i, tonumber(n))
        local c = FROM + (i - 1) * P15
        assert.are.equal(c, l.ms)
        local s = json.decode(js)
        same_values(at(btc, c), s.BTC_USDT, "BTC update " .. i)
        same_values(at(eth, c), s.ETH_USDT, "ETH update " .. i)
      end
      h.assert_has(r.out, "Indicator publisher stops after " .. ROUNDS .. " updates")
      assert.are.equal(0, r.by.P.orders)
    end)

  it("a consumer trades on the shared values, and on its own once the publisher is silent (fallback)", function()
    local want, got = trades(btc, true), logged("F", "BTC_USDT")
    local shared, own = 0, 0
    for _, t in ipairs(want) do
      if t.src == "shared" then shared = shared + 1 else own = own + 1 end
    end
    assert.is_true(shared >= 3 and own >= 3, "the fixture gives " .. shared .. " shared and " .. own .. " own trades")
    assert.are.equal(#want, #got)
    local pubs = {}
    for _, l in ipairs(lines_of(r, "P", "Published update ")) do
      local n, js = l.rest:match("^(%d+) (.*)$")
      pubs[tonumber(n)] = json.decode(js).BTC_USDT
    end
    for i, w in ipairs(want) do
      local g = got[i]
      local what = "trade " .. i
      assert.are.same({ w.ms, w.side, w.amount }, { g.ms, g.side, g.amount }, what)
      same_values(w.v, g.v, what)
      if w.src == "shared" then
        local n = tonumber(g.src:match("^shared #(%d+)$"))
        assert.is_truthy(n, what .. ": source " .. g.src)
        same_values(pubs[n], g.v, what .. " against the published update " .. n)
      else
        assert.are.equal("own", g.src, what)
      end
    end
    assert.are.equal(#want, r.by.F.orders)
    local silent = lines_of(r, "F", "Publisher P silent: computing the indicators here")
    assert.are.same({ LAST + STALE + MIN }, { silent[1] and silent[1].ms })
    h.assert_has(r.status("F"), "publisher silent, computing the indicators here")
  end)

  it("a consumer with on_stale=wait trades on the shared values, then holds while the publisher is silent",
    function()
      local want, got = trades(eth, false), logged("W", "ETH_USDT")
      assert.is_true(#want >= 3, "the fixture gives " .. #want .. " trades")
      assert.are.equal(#want, #got)
      for i, w in ipairs(want) do
        assert.are.same({ w.ms, w.side, w.amount }, { got[i].ms, got[i].side, got[i].amount }, "trade " .. i)
        same_values(w.v, got[i].v, "trade " .. i)
        assert.is_truthy(got[i].src:match("^shared #%d+$"))
      end
      -- Trading on, it would have traded again after the publisher stopped: waiting is what stopped it.
      assert.is_true(#trades(eth, true) > #want, "the fixture has no trade after the publisher stops")
      assert.are.equal(#want, r.by.W.orders)
      local silent = lines_of(r, "W", "Publisher P silent: waiting for it, holding the position")
      assert.are.same({ LAST + STALE + MIN }, { silent[1] and silent[1].ms })
      h.assert_has(r.status("W"), "publisher silent, waiting (position held)")
    end)
end)
