-- Spec for `stratrun replay` (runtime/host/scheduler.c, clock.c, replay.c, main.c, market.c) and for several bots in
-- one live process (`stratrun run`): virtual time, the scheduler's order, channels between bots, the span, the
-- fresh _G, errors, the summary, and the documented scenarios (master/follower, monitor) replayed with the
-- samples in strategies/.
--
-- Every case starts real stratrun processes on temp files (helpers.lua). Expected outcomes are computed here,
-- independently of the runtime and of the strategies: crossovers with integer arithmetic on the closes of a CSV
-- this spec writes, wake orders from the intervals and the listing order.
local h = require("helpers")

local STRATEGIES = h.source .. "/strategies/"
local MIN = 60000
local T0 = 1704067200000          -- 2024-01-01T00:00:00Z: the sim market's default start, and the CSV's

-- "YYYY-MM-DD HH:MM:SS.mmm" (UTC) of ms since the epoch, as log lines stamp it under TZ=UTC.
local function stamp(ms)
  return os.date("!%Y-%m-%d %H:%M:%S", ms // 1000) .. string.format(".%03d", ms % 1000)
end

-- _D()'s default format of ms, under TZ=UTC.
local function D(ms)
  return os.date("!%Y-%m-%d %H:%M:%S", ms // 1000)
end

-- Runs `stratrun replay` with args (a list) in a new temp folder (or opts.dir). Returns {code, out, err, dir, data,
-- rows} where data is the --data-dir given and rows the out() lines (helpers.report_prelude) as field lists.
local function replay(args, opts)
  opts = opts or {}
  local dir = opts.dir or h.tmpdir()
  local data = opts.data or (dir .. "/data")
  local cmd = { "replay", "--data-dir", data, dir = dir, env = { TZ = "UTC" }, timeout = opts.timeout or 30 }
  for _, a in ipairs(args) do cmd[#cmd + 1] = a end
  local r = h.run(cmd)
  r.dir, r.data = dir, data
  r.rows = {}
  for _, f in ipairs(h.fields(r.out)) do
    if f[1] and f[2] and not f[1]:find("^%d%d%d%d%-") then r.rows[#r.rows + 1] = f end
  end
  return r
end

local function ok(r)
  assert.are.equal(0, r.code, "stratrun failed (" .. tostring(r.code) .. "):\n" .. r.out .. r.err)
end

-- The out() rows whose first field is tag.
local function tagged(r, tag)
  local t = {}
  for _, f in ipairs(r.rows) do
    if f[1] == tag then t[#t + 1] = f end
  end
  return t
end

-- Log lines of text as {ms = virtual time, id = bot ID or nil, msg = the rest}; stamps read as UTC.
local function log_lines(text)
  local t = {}
  for line in text:gmatch("[^\n]+") do
    local ms, rest = h.log_line(line)
    if ms then
      local id, msg = rest:match("^%[([%w_%-]+)%] (.*)$")
      t[#t + 1] = { ms = ms, id = id, msg = msg or rest, line = line }
    end
  end
  return t
end

-- The rows of the summary table on stdout, by bot ID: {status, orders, fills} as numbers.
local function summary_table(out)
  local rows, inside = {}, false
  for line in out:gmatch("[^\n]+") do
    if line:find("^bot%s+status%s+orders%s+fills") then
      inside = true
    elseif inside then
      local id, status, orders, fills = line:match("^(%S+)%s+(%-?%d+)%s+(%S+)%s+(%S+)")
      if id then rows[id] = { status = tonumber(status), orders = tonumber(orders), fills = tonumber(fills) } end
    end
  end
  return rows
end

-- The rows of a rendered status table (status.txt): each a list of trimmed cells, header row included.
local function table_rows(text)
  local rows = {}
  for line in text:gmatch("[^\n]+") do
    if line:find("^|") then
      local cells = {}
      for cell in line:gmatch("|([^|]*)") do
        cells[#cells + 1] = cell:match("^%s*(.-)%s*$")
      end
      if cells[#cells] == "" then cells[#cells] = nil end
      rows[#rows + 1] = cells
    end
  end
  return rows
end

-- ---- a market with known crossovers ----------------------------------------------------------------------------

-- n one-minute candles from T0 whose closes (in integer cents) are a sine wave on a trend. open is the previous
-- close; high and low are 50 cents beyond open/close, so a limit order at a close fills on the next candle.
local function wave(n)
  local closes = {}
  for i = 0, n - 1 do
    local x = 100 + 0.02 * i + 4 * math.sin(2 * math.pi * i / 37) + 1.5 * math.sin(2 * math.pi * i / 11)
    closes[i] = math.floor(x * 100 + 0.5)
  end
  return closes
end

local function cents(c)
  return string.format("%d.%02d", c // 100, c % 100)
end

local function write_csv(path, closes, n)
  local lines = { "time,open,high,low,close,volume" }
  for i = 0, n - 1 do
    local o = i > 0 and closes[i - 1] or closes[i]
    local c = closes[i]
    lines[#lines + 1] = string.format("%d,%s,%s,%s,%s,1.5", T0 + i * MIN, cents(o), cents(math.max(o, c) + 50),
      cents(math.min(o, c) - 50), cents(c))
  end
  h.write(path, table.concat(lines, "\n") .. "\n")
end

-- MA5 - MA20 at bar i, times 20 (an integer: 4 * sum of 5 closes - sum of 20), or nil before bar 19.
local function spread20(closes, i)
  if i < 19 then return nil end
  local s5, s20 = 0, 0
  for k = i - 19, i do s20 = s20 + closes[k] end
  for k = i - 4, i do s5 = s5 + closes[k] end
  return 4 * s5 - s20
end

-- The crossovers of MA5 over MA20: {bar, side = "buy"/"sell", close} for every bar i >= 20 where the spread turns
-- positive (from <= 0) or negative (from >= 0). Also checks the series has no exact tie, so a float MA cannot
-- disagree with this integer one.
local function crossovers(closes, n)
  local t = {}
  for i = 19, n - 1 do
    assert(spread20(closes, i) ~= 0, "the fixture has an exact MA tie at bar " .. i .. ": change the wave")
  end
  for i = 20, n - 1 do
    local d, prev = spread20(closes, i), spread20(closes, i - 1)
    if d > 0 and prev <= 0 then
      t[#t + 1] = { bar = i, side = "buy", close = closes[i] }
    elseif d < 0 and prev >= 0 then
      t[#t + 1] = { bar = i, side = "sell", close = closes[i] }
    end
  end
  return t
end

-- The follower's "Executing buy/sell" lines from a replay's stdout: {ms, side, price, id}.
local function executions(out)
  local t = {}
  for _, l in ipairs(log_lines(out)) do
    local side, price = l.msg:match("^Executing (%a+), Price: (%S+)$")
    if side then t[#t + 1] = { ms = l.ms, side = side, price = tonumber(price), id = l.id } end
  end
  return t
end

-- ---- strategies the cases use ---------------------------------------------------------------------------------

-- Loops forever, reporting every wake; onexit reports its time.
local LOOP = h.report_prelude .. [[
interval = interval or 60000
function main()
  while true do
    out("wake", _G(), UnixNano() // 1000000)
    Sleep(interval)
  end
end
function onexit()
  out("onexit", _G(), UnixNano() // 1000000)
end
]]

describe("stratrun replay", function()

  describe("determinism", function()
    -- master + follower + monitor over a few thousand bars of the seeded walk, twice in the same data dir.
    local function run_three(dir, json_name)
      local r = replay({ "--market", "sim:seed=2024,bars=4000", "--json", dir .. "/" .. json_name,
        "-p", "632802.bots=632799,632800",
        STRATEGIES .. "master.lua@632799", STRATEGIES .. "follower.lua@632800", STRATEGIES .. "monitor.lua@632802" },
        { dir = dir })
      ok(r)
      r.logs, r.status = {}, {}
      for _, id in ipairs({ "632799", "632800", "632802" }) do
        r.logs[id] = h.read(r.data .. "/replay/bots/" .. id .. "/log.txt")
        r.status[id] = h.read(r.data .. "/replay/bots/" .. id .. "/status.txt")
      end
      r.json = h.read(dir .. "/" .. json_name)
      return r
    end

    -- The summary's first line reports the wall-clock duration and speed, which no replay can repeat.
    local function without_wall_clock(out)
      return (out:gsub("\nreplay [^\n]- UTC, %d+ bots?, [%d.]+ s, %d+ bot%-iterations/s\n", "\nreplay <wall clock>\n"))
    end

    local a, b
    setup(function()
      local dir = h.tmpdir()
      a = run_three(dir, "a.json")
      b = run_three(dir, "b.json")
    end)

    it("gives byte-identical logs, status panels and --json summaries, run after run", function()
      -- Not vacuous: the follower traded, and every bot logged or reported.
      assert.is_true(#executions(a.out) >= 20, "expected the follower to trade:\n" .. a.out:sub(1, 2000))
      assert.is_truthy(a.logs["632800"]:find("Executing buy", 1, true))
      for _, id in ipairs({ "632799", "632800", "632802" }) do
        assert.is_truthy(a.logs[id], "no log.txt for " .. id)
        assert.is_truthy(a.status[id], "no status.txt for " .. id)
        assert.are.equal(a.logs[id], b.logs[id], "log.txt of " .. id .. " differs between runs")
        assert.are.equal(a.status[id], b.status[id], "status.txt of " .. id .. " differs between runs")
      end
      assert.is_truthy(a.json)
      assert.are.equal(a.json, b.json)
      assert.are.same(json.decode(a.json), json.decode(b.json))
      -- The log lines on stdout and the summary table are the same too (the wall-clock line aside, see below).
      assert.are.equal(without_wall_clock(a.out), without_wall_clock(b.out))
    end)

    it("prints a summary whose stdout is byte-identical run after run (the speed goes to stderr)",
      function()
        -- The lines that differ, so a failure shows them rather than two whole outputs.
        local la, lb = {}, {}
        for line in a.out:gmatch("[^\n]*") do la[#la + 1] = line end
        for line in b.out:gmatch("[^\n]*") do lb[#lb + 1] = line end
        local diffs = {}
        for i = 1, math.max(#la, #lb) do
          if la[i] ~= lb[i] then diffs[#diffs + 1] = { line = i, first = la[i], second = lb[i] } end
        end
        assert.are.same({}, diffs)
        assert.are.equal(a.out, b.out)
      end)
  end)

  describe("virtual time", function()
    it("Sleep(60000) advances _D(), Unix() and UnixNano() by exactly 60 s, from the first close", function()
      local dir = h.tmpdir()
      local script = h.script(dir, h.report_prelude .. [[
function main()
  out("t", Unix(), UnixNano(), _D())
  Sleep(60000)
  out("t", Unix(), UnixNano(), _D())
  Sleep(1.5)
  out("t", Unix(), UnixNano(), _D())
end
]])
      local r = replay({ "--market", "sim:seed=5,bars=10", script }, { dir = dir })
      ok(r)
      local t = tagged(r, "t")
      assert.are.equal(3, #t)
      local first = T0 + MIN     -- the close of the first candle
      assert.are.same({ "t", tostring(first // 1000), tostring(first * 1000000), D(first) }, t[1])
      local second = first + 60000
      assert.are.same({ "t", tostring(second // 1000), tostring(second * 1000000), D(second) }, t[2])
      assert.are.equal(tostring(second * 1000000 + 1500000), t[3][3])
    end)

    it("resumes the earliest wake first, ties in the order the bots were listed", function()
      local dir = h.tmpdir()
      local script = h.script(dir, LOOP, "trace.lua")
      -- zeta is listed first: ties go to it although it sorts after alpha.
      local r = replay({ "--market", "sim:seed=5,bars=4", "-p", "zeta.interval=3000", "-p", "alpha.interval=5000",
        "-p", "mid.interval=7500", script .. "@zeta", script .. "@alpha", script .. "@mid" }, { dir = dir })
      ok(r)
      local start, stop = T0 + MIN, T0 + 4 * MIN
      local expected = {}
      for _, b in ipairs({ { "zeta", 3000, 1 }, { "alpha", 5000, 2 }, { "mid", 7500, 3 } }) do
        for t = start, stop, b[2] do expected[#expected + 1] = { b[1], t, b[3] } end
      end
      table.sort(expected, function(x, y)
        if x[2] ~= y[2] then return x[2] < y[2] end
        return x[3] < y[3]
      end)
      local want = {}
      for i, e in ipairs(expected) do want[i] = e[1] .. "@" .. (e[2] - start) end
      local got = {}
      for i, w in ipairs(tagged(r, "wake")) do got[i] = w[2] .. "@" .. (tonumber(w[3]) - start) end
      assert.are.same(want, got)
    end)

    it("replays a year of one-minute candles (525,600 bars) to its end", function()
      local dir = h.tmpdir()
      local script = h.script(dir, h.report_prelude .. [[
local n = 0
function main()
  while true do
    n = n + 1
    Sleep(60000)
  end
end
function onexit() out("done", n, _D()) end
]])
      local r = replay({ "--market", "sim:seed=9,bars=525600", script }, { dir = dir, timeout = 60 })
      ok(r)
      -- From the first close (00:01 on Jan 1) to the last (00:00 on Dec 31 of the leap year 2024), once a minute.
      assert.are.same({ { "done", "525600", "2024-12-31 00:00:00" } }, r.rows)
    end)
  end)

  describe("the master/follower scenario (strategies/master.lua, follower.lua)", function()
    local N = 400
    local closes, crosses, csv

    setup(function()
      closes = wave(N)
      crosses = crossovers(closes, N)
      csv = h.tmpdir() .. "/wave.csv"
      write_csv(csv, closes, N)
    end)

    -- The fixture itself: enough crossovers of both kinds, the last one well before the data ends.
    local function check_fixture()
      assert.is_true(#crosses >= 10, "the wave has only " .. #crosses .. " crossovers")
      local buys, sells = 0, 0
      for _, c in ipairs(crosses) do
        if c.side == "buy" then buys = buys + 1 else sells = sells + 1 end
      end
      assert.is_true(buys >= 4 and sells >= 4)
      assert.is_true(crosses[#crosses].bar <= N - 3)
    end

    -- Replays master and follower in the given listing order; returns the run, its executions and its summary.
    local function run(order)
      local dir = h.tmpdir()
      local bots = {
        master = STRATEGIES .. "master.lua@632799",
        follower = STRATEGIES .. "follower.lua@632800",
      }
      local args = { "--market", csv, "--json", dir .. "/summary.json" }
      for _, name in ipairs(order) do args[#args + 1] = bots[name] end
      local r = replay(args, { dir = dir })
      ok(r)
      r.exec = executions(r.out)
      r.summary = json.decode(assert(h.read(dir .. "/summary.json"), "no --json summary"))
      return r
    end

    -- What the follower must do: one order per crossover, at the close of the crossing bar (when the master,
    -- waking at every close, publishes it) plus delay, at that bar's close.
    local function expected(delay)
      local t = {}
      for _, c in ipairs(crosses) do
        t[#t + 1] = { ms = T0 + (c.bar + 1) * MIN + delay, side = c.side, price = tonumber(cents(c.close)) }
      end
      return t
    end

    local function shown(list)
      local t = {}
      for i, e in ipairs(list) do t[i] = string.format("%s %s %s", stamp(e.ms), e.side, tostring(e.price)) end
      return t
    end

    it("the follower executes the master's crossovers one for one, at the master's publish time", function()
      check_fixture()
      local r = run({ "master", "follower" })
      -- Listed after the master, the follower wakes at the same virtual time as each publish (its 5 s grid
      -- contains every minute) and runs after it: it acts at once.
      assert.are.same(shown(expected(0)), shown(r.exec))
      for _, e in ipairs(r.exec) do assert.are.equal("632800", e.id) end
    end)

    it("listed before the master, the follower acts at its next wake, 5 s after the publish", function()
      check_fixture()
      local r = run({ "follower", "master" })
      assert.are.same(shown(expected(5000)), shown(r.exec))
    end)

    it("the summary counts the follower's orders and fills, and none for the master", function()
      check_fixture()
      local r = run({ "master", "follower" })
      -- Every buy succeeds; a sell succeeds when a buy came before it (the previous buy has filled by then: the
      -- candle after it reaches 50 cents below its price). Every order fills on the next candle.
      local orders, holding = 0, false
      for _, c in ipairs(crosses) do
        if c.side == "buy" then
          orders, holding = orders + 1, true
        elseif holding then
          orders, holding = orders + 1, false
        end
      end
      local by = {}
      for _, b in ipairs(r.summary.bots) do by[b.id] = b end
      assert.are.equal(orders, by["632800"].orders)
      assert.are.equal(orders, by["632800"].fills)
      assert.are.equal(0, by["632799"].orders)
      assert.are.equal(0, by["632799"].fills)
      assert.is_true(by["632800"].fees > 0)
      local tbl = summary_table(r.out)
      assert.are.same({ status = 0, orders = orders, fills = orders }, tbl["632800"])
      assert.are.same({ status = 0, orders = 0, fills = 0 }, tbl["632799"])
    end)
  end)

  describe("the monitor scenario (strategies/monitor.lua, broadcaster.lua)", function()
    local function run(extra)
      local dir = h.tmpdir()
      local args = { "--market", "sim:seed=77,bars=40",
        "-p", "632801.rounds=3", "-p", "632801.interval=60000", "-p", "632802.bots=632799,632801,632800" }
      for _, a in ipairs(extra or {}) do args[#args + 1] = a end
      for _, s in ipairs({ "master.lua@632799", "follower.lua@632800", "broadcaster.lua@632801",
        "monitor.lua@632802" }) do
        args[#args + 1] = STRATEGIES .. s
      end
      local r = replay(args, { dir = dir })
      ok(r)
      local status = h.read(r.data .. "/replay/bots/632802/status.txt")
      assert.is_truthy(status, "the monitor wrote no status.txt")
      r.table = table_rows(status)
      r.by = {}
      for _, row in ipairs(r.table) do r.by[row[1]] = row end
      return r
    end

    it("shows Running for the master, Abnormal for the broadcaster that stopped, Waiting for Data for the follower",
      function()
        local r = run()
        -- The broadcaster published at 00:01, 00:02, 00:03 (3 rounds) and stopped; the replay runs to 00:40,
        -- where the master publishes (listed first) just before the monitor's last look.
        assert.are.same({ "Live ID", "Status", "Last Update", "Trading Pair", "Current Price", "P&L" }, r.table[1])
        assert.are.equal(4, #r.table)
        assert.are.same({ "632799", "Running", D(T0 + 40 * MIN) }, { table.unpack(r.by["632799"], 1, 3) })
        assert.are.same({ "632801", "Abnormal", D(T0 + 3 * MIN) }, { table.unpack(r.by["632801"], 1, 3) })
        assert.are.same({ "632800", "Waiting for Data", "-", "-", "-", "-" }, r.by["632800"])
        -- In the monitor's order.
        assert.are.same({ "632799", "632801", "632800" }, { r.table[2][1], r.table[3][1], r.table[4][1] })
      end)

    it("shows Running for the broadcaster while its last update is under 120 s old", function()
      -- Ending at 00:04:50: the monitor's last look (every 10 s from 00:01) is 110 s after the last update;
      -- the master (it needs 21 candles) has them from the first bar, in the sim's history, and has published.
      local r = run({ "--to", tostring(T0 + 4 * MIN + 50000) })
      assert.are.same({ "632801", "Running", D(T0 + 3 * MIN) }, { table.unpack(r.by["632801"], 1, 3) })
      assert.are.equal("Running", r.by["632799"][2])
    end)
  end)

  describe("channels", function()
    it("stamps meta.received with virtual time in a replay",
      function()
        -- docs/replay.md: every time the runtime hands a strategy, channel metadata included, reads the virtual
        -- clock. The memory backend delivers as SetChannelData returns, so a state is received when published.
        local dir = h.tmpdir()
        local pub = h.script(dir, "function main() SetChannelData({a = 1}) Sleep(1000) end\n", "pub.lua")
        local sub = h.script(dir, h.report_prelude .. [[
function main()
  GetChannelData("pub")
  Sleep(1000)
  local v, meta = GetChannelData("pub")
  out("meta", meta.published, meta.received)
end
]], "sub.lua")
        local r = replay({ "--market", "sim:seed=5,bars=10", pub .. "@pub", sub .. "@sub" }, { dir = dir })
        ok(r)
        local row = tagged(r, "meta")[1]
        assert.is_truthy(row, r.out .. r.err)
        assert.are.equal(tostring(T0 + MIN), row[2])
        assert.are.equal(tostring(T0 + MIN), row[3], "meta.received is not the virtual time of delivery")
      end)


    it("first call nil, meta.published the publisher's virtual time, ties in listing order", function()
      local dir = h.tmpdir()
      local pub = h.script(dir, h.report_prelude .. [[
function main()
  for v = 1, 3 do
    SetChannelData({v = v})
    out("pub", v, UnixNano() // 1000000)
    Sleep(1000)
  end
end
]], "pub.lua")
      local sub = h.script(dir, h.report_prelude .. [[
function main()
  for _ = 1, 4 do
    local v, meta = GetChannelData("pub")
    out("sub", _G(), UnixNano() // 1000000, enc(v), meta and meta.published or "nil", meta and meta.seq or "nil")
    Sleep(1000)
  end
end
]], "sub.lua")
      local r = replay({ "--market", "sim:seed=5,bars=10", sub .. "@early", pub .. "@pub", sub .. "@late" },
        { dir = dir })
      ok(r)
      local t0 = T0 + MIN
      local seen = { early = {}, late = {} }
      local seqs = { early = {}, late = {} }
      for _, f in ipairs(tagged(r, "sub")) do
        local v = h.dec(f[4])
        local k = #seen[f[2]] + 1
        seen[f[2]][k] = { tonumber(f[3]) - t0, v and v.v or "nil", f[5] == "nil" and "nil" or tonumber(f[5]) - t0 }
        seqs[f[2]][k] = tonumber(f[6]) or 0
      end
      -- early runs before the publisher at each time: it sees the state published one wake earlier.
      assert.are.same({ { 0, "nil", "nil" }, { 1000, 1, 0 }, { 2000, 2, 1000 }, { 3000, 3, 2000 } }, seen.early)
      -- late runs after it: the state of the same virtual time (but its first call is nil all the same).
      assert.are.same({ { 0, "nil", "nil" }, { 1000, 2, 1000 }, { 2000, 3, 2000 }, { 3000, 3, 2000 } }, seen.late)
      assert.is_true(seqs.early[3] > seqs.early[2])
      assert.is_true(seqs.early[4] > seqs.early[3])
      assert.are.equal(seqs.early[4], seqs.late[3])
      assert.are.equal(seqs.late[3], seqs.late[4])
    end)
  end)

  describe("the span", function()
    it("has history before its first bar: every period up to a day has closed bars at once", function()
      -- At the first bar (00:01 of the sim's 2024-01-01 start) a strategy reading the last H4 or D1 bar must find
      -- one, as on the platform's backtester; the span's own bars are the same with or without history.
      local dir = h.tmpdir()
      local script = h.script(dir, h.report_prelude .. [[
local first = true
function main()
  while true do
    if first then
      local d, h4, m = exchange.GetRecords(PERIOD_D1), exchange.GetRecords(PERIOD_H4), exchange.GetRecords()
      out("first", #d, #h4, #m, d[#d] and d[#d].Time, m[#m].Time, m[#m - 1] and m[#m - 1].Close == m[#m].Open)
      first = false
    end
    local r = exchange.GetRecords(nil, nil, 1)[1]
    out("bar", r.Time, r.Open, r.High, r.Low, r.Close, r.Volume)
    Sleep(60000)
  end
end
]])
      local with = replay({ "--market", "sim:seed=9,bars=30", script }, { dir = dir })
      ok(with)
      assert.are.same({ "first", "3", "18", "100", tostring(T0 - 86400000), tostring(T0), "true" },
        tagged(with, "first")[1])
      local without = replay({ "--market", "sim:seed=9,bars=30,history=0", script }, { dir = dir })
      ok(without)
      assert.are.same({ "first", "0", "0", "1" }, { table.unpack(tagged(without, "first")[1] or {}, 1, 4) })
      assert.are.equal(30, #tagged(with, "bar"))
      assert.are.same(tagged(without, "bar"), tagged(with, "bar"))
      local long = replay({ "--market", "sim:seed=9,bars=30,history=20000", script }, { dir = dir })
      ok(long)
      assert.are.same({ "first", "13", "83", "100" }, { table.unpack(tagged(long, "first")[1], 1, 4) })
      local live = h.run{ dir = dir, "--data-dir", dir .. "/live", "--id", "x", "--market", "sim:seed=1,history=5",
                          script }
      assert.are.equal(2, live.code)
      assert.matches("history is for a sim of bars=N (a replay's span); an open-ended sim starts with 1,000 bars "
        .. "of history", live.err, 1, true)
    end)

    it("ends even when an onexit never returns: it is cut off 5 virtual minutes after the end",
      function()
        -- The platform limits hooks to 5 minutes (reference/platform-api.md, Lifecycle). In a replay an onexit
        -- that sleeps forever would move the virtual clock forever; it is stopped 5 virtual minutes after the end
        -- (a hang would be killed by the helper's timeout: exit 137).
        local dir = h.tmpdir()
        local script = h.script(dir, [[
function main() while true do Sleep(60000) end end
function onexit() while true do Sleep(1000) end end
]], "stuck.lua")
        local r = replay({ "--market", "sim:seed=5,bars=5", script }, { dir = dir, timeout = 4 })
        assert.are_not.equal(137, r.code, "the replay did not end (killed after 4 s)")
        assert.are.equal(1, r.code)
        assert.is_truthy(r.out:find("\nbot%s+status"), r.out)
        assert.matches("onexit still running 5 minutes after the end", r.err, 1, true)
      end)

    it("ends when the market data ends: an endless bot's onexit runs at the last close", function()
      local dir = h.tmpdir()
      local script = h.script(dir, LOOP)
      local r = replay({ "--market", "sim:seed=5,bars=10", script .. "@forever" }, { dir = dir })
      ok(r)
      local wakes = tagged(r, "wake")
      assert.are.equal(10, #wakes)
      assert.are.equal(tostring(T0 + MIN), wakes[1][3])
      assert.are.equal(tostring(T0 + 10 * MIN), wakes[#wakes][3])
      assert.are.same({ { "onexit", "forever", tostring(T0 + 10 * MIN) } }, tagged(r, "onexit"))
    end)

    it("--from and --to limit it (ISO 8601 or ms), and the --json summary says so", function()
      local dir = h.tmpdir()
      local script = h.script(dir, LOOP)
      local from, to = T0 + 5 * MIN, T0 + 12 * MIN + 30000
      local r = replay({ "--market", "sim:seed=5,bars=30", "--from", "2024-01-01T00:05:00Z", "--to", tostring(to),
        "--json", dir .. "/s.json", script .. "@span" }, { dir = dir })
      ok(r)
      local wakes = tagged(r, "wake")
      assert.are.equal(tostring(from), wakes[1][3])
      assert.are.equal(tostring(T0 + 12 * MIN), wakes[#wakes][3])
      assert.are.equal(8, #wakes)
      assert.are.same({ { "onexit", "span", tostring(to) } }, tagged(r, "onexit"))
      local s = json.decode(h.read(dir .. "/s.json"))
      assert.are.equal(from, s.from)
      assert.are.equal(to, s.to)
    end)

    local function usage_error(r)
      assert.are.equal(2, r.code, r.out .. r.err)
      local lines = {}
      for line in r.err:gmatch("[^\n]+") do lines[#lines + 1] = line end
      assert.are.equal(1, #lines, "expected one line on stderr:\n" .. r.err)
      assert.are.equal("", r.out)
      return lines[1]
    end

    it("--to before --from is a usage error", function()
      local dir = h.tmpdir()
      local script = h.script(dir, LOOP)
      local line = usage_error(replay({ "--market", "sim:seed=5,bars=30", "--from", "2024-01-01T00:20:00Z",
        "--to", "2024-01-01T00:10:00Z", script }, { dir = dir }))
      assert.is_truthy(line:find("--from", 1, true), line)
    end)

    it("takes times on days the calendar has, 29 February of a leap year included, and refuses others", function()
      local dir = h.tmpdir()
      local script = h.script(dir, LOOP)
      local leap = 1709164800000    -- 2024-02-29T00:00:00Z
      local r = replay({ "--market", "sim:seed=5,bars=30,start=2024-02-29", "--from", "2024-02-29T00:05:00+00:00",
        script .. "@leap" }, { dir = dir })
      ok(r)
      assert.are.equal(tostring(leap + 5 * MIN), tagged(r, "wake")[1][3])
      for _, bad in ipairs({ "2023-02-29", "2024-02-30", "2024-04-31", "2024-02-29T24:00:00Z", "2024-02-29T00:60Z",
        "2024-02-29T00:00+24:00", "2024-02-29T00:00+01:60" }) do
        local line = usage_error(replay({ "--market", "sim:seed=5,bars=30,start=2024-02-29", "--from", bad, script },
          { dir = dir }))
        assert.are.equal("stratrun: option --from: '" .. bad .. "' is neither ISO 8601 (2024-01-31T12:00:00Z) nor "
          .. "milliseconds", line)
      end
    end)

    it("an open-ended market without --to is a usage error", function()
      local dir = h.tmpdir()
      local script = h.script(dir, LOOP)
      local line = usage_error(replay({ "--market", "sim:seed=5", script }, { dir = dir }))
      assert.is_truthy(line:find("--to", 1, true), line)
    end)
  end)

  describe("_G", function()
    it("is fresh in every replay, and a replay leaves the live store alone", function()
      local dir = h.tmpdir()
      local data = dir .. "/data"
      local script = h.script(dir, h.report_prelude .. [[
function main()
  out("seen", enc(_G("k")))
  _G("k", tag)
end
]])
      local live = h.run{ "--data-dir", data, "--id", "keeper", "-p", "tag=live", script, dir = dir,
        env = { TZ = "UTC" } }
      assert.are.equal(0, live.code, live.err)
      local args = { "--market", "sim:seed=5,bars=5", "-p", "tag=replay", script .. "@keeper" }
      local r1 = replay(args, { dir = dir, data = data })
      ok(r1)
      assert.are.same({ { "seen", "nil" } }, r1.rows)
      local r2 = replay(args, { dir = dir, data = data })
      ok(r2)
      assert.are.same({ { "seen", "nil" } }, r2.rows, "the second replay saw the first one's _G")
      local again = h.run{ "--data-dir", data, "--id", "keeper", "-p", "tag=live", script, dir = dir,
        env = { TZ = "UTC" } }
      assert.are.equal(0, again.code, again.err)
      assert.are.same({ { "seen", '"live"' } }, h.fields(again.out))
    end)
  end)

  describe("errors", function()
    it("a bot that raises has status 1 and the exit status is 1; the others run to the end", function()
      local dir = h.tmpdir()
      local loop = h.script(dir, LOOP, "loop.lua")
      local bad = h.script(dir, [[
function main()
  Sleep(120000)
  error("deliberate failure")
end
]], "bad.lua")
      local r = replay({ "--market", "sim:seed=5,bars=10", "--json", dir .. "/s.json", loop .. "@fine",
        bad .. "@bad" }, { dir = dir })
      assert.are.equal(1, r.code, r.out .. r.err)
      assert.is_truthy(r.err:find("deliberate failure", 1, true), r.err)
      assert.are.same({ { "onexit", "fine", tostring(T0 + 10 * MIN) } }, tagged(r, "onexit"))
      assert.are.equal(10, #tagged(r, "wake"))
      local tbl = summary_table(r.out)
      assert.are.equal(1, tbl.bad.status)
      assert.are.equal(0, tbl.fine.status)
      local s = json.decode(h.read(dir .. "/s.json"))
      assert.are.equal("fine", s.bots[1].id)
      assert.are.equal(0, s.bots[1].status)
      assert.are.equal("bad", s.bots[2].id)
      assert.are.equal(1, s.bots[2].status)
    end)

    it("a missing script exits 2", function()
      local dir = h.tmpdir()
      local loop = h.script(dir, LOOP, "loop.lua")
      local r = replay({ "--market", "sim:seed=5,bars=10", loop .. "@fine", dir .. "/missing.lua@gone" },
        { dir = dir })
      assert.are.equal(2, r.code, r.out .. r.err)
      assert.is_truthy(r.err:find("missing.lua", 1, true), r.err)
    end)

    it("two bots with the same ID exit 2 with one line, before running anything", function()
      local dir = h.tmpdir()
      local loop = h.script(dir, LOOP, "loop.lua")
      local r = replay({ "--market", "sim:seed=5,bars=10", loop .. "@twin", loop .. "@twin" }, { dir = dir })
      assert.are.equal(2, r.code, r.out .. r.err)
      assert.are.equal("", r.out)
      local n = select(2, r.err:gsub("\n", "\n"))
      assert.are.equal(1, n, r.err)
      assert.is_truthy(r.err:find("twin", 1, true), r.err)
    end)

    it("Sleep inside a coroutine raises an error that says so", function()
      local dir = h.tmpdir()
      local caught = h.script(dir, h.report_prelude .. [[
function main()
  local t = UnixNano()
  local ok, err = pcall(coroutine.wrap(function() Sleep(1000) end))
  out("caught", tostring(ok), tostring(err), UnixNano() - t)
end
]], "caught.lua")
      local r = replay({ "--market", "sim:seed=5,bars=10", caught }, { dir = dir })
      ok(r)
      local row = tagged(r, "caught")[1]
      assert.is_truthy(row, r.out .. r.err)
      assert.are.equal("false", row[2])
      assert.is_truthy(row[3]:find("Sleep", 1, true), row[3])
      assert.is_truthy(row[3]:find("coroutine", 1, true), row[3])
      assert.are.equal("0", row[4], "the clock moved")

      local uncaught = h.script(dir, [[
function main() coroutine.wrap(function() Sleep(1000) end)() end
]], "uncaught.lua")
      local r2 = replay({ "--market", "sim:seed=5,bars=10", uncaught }, { dir = dir })
      assert.are.equal(1, r2.code, r2.out .. r2.err)
      assert.is_truthy(r2.err:find("coroutine", 1, true), r2.err)
    end)
  end)

  describe("the --json summary", function()
    it("is valid JSON with from, to and per bot id, script, status, orders, fills, fees, balance, stocks, value, pnl",
      function()
        local dir = h.tmpdir()
        -- Both bots last to the end of the data, so the summary's span is the whole market's.
        local trader = h.script(dir, [[
function main()
  exchange.Buy(-1, 100)          -- a market buy of 100 quote: fills at once
  Sleep(60000)
  exchange.Sell(-1, exchange.GetAccount().Stocks)
  while true do Sleep(60000) end
end
]], "trader.lua")
        local idle = h.script(dir, "function main() while true do Sleep(5000) end end\n", "idle.lua")
        local r = replay({ "--market", "sim:seed=5,bars=10", "--json", dir .. "/s.json", trader, idle },
          { dir = dir })
        ok(r)
        local text = assert(h.read(dir .. "/s.json"), "no summary file")
        local ok_, s = pcall(json.decode, text)
        assert.is_true(ok_, "not JSON: " .. text)
        assert.are.equal(T0 + MIN, s.from)
        assert.are.equal(T0 + 10 * MIN, s.to)
        assert.are.equal(2, #s.bots)
        for i, name in ipairs({ "trader", "idle" }) do
          local b = s.bots[i]
          assert.are.equal(name, b.id)
          assert.are.equal(dir .. "/" .. name .. ".lua", b.script)
          assert.are.equal(0, b.status)
          for _, k in ipairs({ "orders", "fills", "fees", "balance", "stocks", "value", "pnl" }) do
            assert.are.equal("number", type(b[k]), name .. "." .. k)
          end
        end
        local t, i = s.bots[1], s.bots[2]
        assert.are.equal(2, t.orders)
        assert.are.equal(2, t.fills)
        assert.is_true(t.fees > 0)
        assert.is_true(math.abs(t.pnl - (t.value - 10000)) < 1e-6)
        assert.are.same({ 0, 0, 0, 10000, 0, 10000, 0 }, { i.orders, i.fills, i.fees, i.balance, i.stocks, i.value,
          i.pnl })
      end)
  end)
end)

describe("stratrun run (several bots, live)", function()
  it("runs two bots in one process that exchange channel data, with log lines prefixed by the bot ID", function()
    local dir = h.tmpdir()
    local data = dir .. "/data"
    local script = h.script(dir, h.report_prelude .. [[
function main()
  Log("started as", _G())
  SetChannelData({from = _G(), n = #_G()})
  GetChannelData(peer)
  local v = await(peer)
  out("got", _G(), enc(v), Unix())
  Log("done with", peer)
end
]], "peer.lua")
    local r = h.run{ "run", "--data-dir", data, "-p", "x.peer=y", "-p", "y.peer=x", script .. "@x", script .. "@y",
      dir = dir, env = { TZ = "UTC" } }
    assert.are.equal(0, r.code, r.out .. r.err)
    local got = {}
    for _, f in ipairs(h.fields(r.out)) do
      if f[1] == "got" then
        got[f[2]] = h.dec(f[3])
        -- The real clock, not a replay's.
        assert.is_true(math.abs(tonumber(f[4]) - Unix()) < 60, "not the real clock: " .. f[4])
      end
    end
    assert.are.same({ x = { from = "y", n = 1 }, y = { from = "x", n = 1 } }, got)
    local logged = {}
    for _, l in ipairs(log_lines(r.out)) do logged[#logged + 1] = (l.id or "?") .. ": " .. l.msg end
    table.sort(logged)
    assert.are.same({ "x: done with y", "x: started as x", "y: done with x", "y: started as y" }, logged)
    -- Each bot's log file holds its own lines; the channels live in the data dir.
    local xlog = h.read(data .. "/bots/x/log.txt") or ""
    assert.is_truthy(xlog:find("[x] started as x", 1, true), xlog)
    assert.is_falsy(xlog:find("[y]", 1, true), xlog)
    assert.are.equal(0, h.sh("test -d " .. h.quote(data .. "/channels")))
  end)
end)

describe("every sample strategy", function()
  -- CI replays each sample in strategies/ (the documented examples and hello): each runs to the end of a day of
  -- candles with status 0, and the channel samples see each other.
  it("replays without an error, together, over a day of candles", function()
    local samples = {}
    for name in io.popen("ls " .. h.quote(STRATEGIES)):lines() do
      if name:match("%.lua$") then samples[#samples + 1] = name end
    end
    table.sort(samples)
    assert.is_true(#samples >= 6, "samples found: " .. #samples)
    local ids = {
      ["broadcaster.lua"] = "632801", ["master.lua"] = "632799", ["follower.lua"] = "632800",
      ["monitor.lua"] = "632802", ["subscriber.lua"] = "632803",
    }
    local args = { "--market", "sim:seed=11,bars=1440", "--json", "", "-p", "master=632799",
      "-p", "channel1=632801", "-p", "channel2=632799", "-p", "bots=632799,632800,632801" }
    local dir = h.tmpdir()
    args[4] = dir .. "/s.json"
    for _, name in ipairs(samples) do
      args[#args + 1] = STRATEGIES .. name .. "@" .. (ids[name] or name:gsub("%.lua$", ""))
    end
    local r = replay(args, { dir = dir })
    ok(r)
    local summary = json.decode(h.read(dir .. "/s.json"))
    assert.are.equal(#samples, #summary.bots)
    for _, b in ipairs(summary.bots) do assert.are.equal(0, b.status, b.script) end
    -- The subscriber's last panel shows the broadcaster's state, not "Waiting".
    local panel = h.read(r.data .. "/replay/bots/632803/status.txt") or ""
    assert.matches("Channel 1 %[632801%] ═══\nUpdate ID: #%d+", panel)
  end)
end)

-- A replay into a file or a pipe writes its lines in batches (runtime/core/outq.h, outq_batch): none may be lost,
-- reordered or held back at the end, and a reader that goes away is said once, as live.
describe("a replay's stdout in a pipe", function()
  local CHATTY = 'function main() local n = 0 while true do n = n + 1 Log("line", n) Sleep(60000) end end\n'

  it("gets every line, in order, up to the summary", function()
    local dir = h.tmpdir()
    h.script(dir, CHATTY, "chatty.lua")
    local cmd = string.format("cd %s && TZ=UTC %s replay --data-dir d --market sim:seed=1,bars=3000 chatty.lua 2> err"
      .. " | cat > out", h.quote(dir), h.quote(h.bin))
    assert.are.equal(0, h.sh(cmd))
    local out = h.read(dir .. "/out")
    local n = 0
    for k in out:gmatch(" line (%d+)\n") do
      n = n + 1
      assert.are.equal(n, tonumber(k))
    end
    assert.are.equal(3000, n, out:sub(-2000))
    assert.matches("\nreplay [^\n]+, 1 bot, 3000 bot%-iterations\n", out)
    assert.matches("\nchatty%s+0 ", out)
  end)

  it("runs to its end when the reader is gone, and says once how many lines could not be shown", function()
    local dir = h.tmpdir()
    h.script(dir, CHATTY, "chatty.lua")
    local cmd = string.format("cd %s && (TZ=UTC %s replay --data-dir d --market sim:seed=1,bars=20000 chatty.lua"
      .. " 2> err; echo $? > rc) | head -n 1 > out", h.quote(dir), h.quote(h.bin))
    h.sh(cmd)
    assert.are.equal("0\n", h.read(dir .. "/rc"), h.read(dir .. "/err"))
    assert.matches("line 1\n$", h.read(dir .. "/out"))
    local told = select(2, h.read(dir .. "/err"):gsub("lines could not be shown on stdout", ""))
    assert.are.equal(1, told, h.read(dir .. "/err"))
    assert.matches(" line 20000\n", h.read(dir .. "/d/replay/bots/chatty/log.txt"))
  end)
end)
