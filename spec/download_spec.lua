-- Spec for `stratrun data download` (runtime/host/datatool.c, runtime/data/history.c; docs/tools.md): historical
-- candles from a venue's REST API into a CSV file that a replay takes. The venue is tests/httpd.c on loopback with
-- its `klines` directive: Binance's GET /api/v3/klines, candles generated for whatever span and interval a request
-- asks (the formula is written again below, so every value written is checked independently).
local h = require("helpers")
local httpd = require("httpd")

local MIN, HOUR, DAY = 60000, 3600000, 86400000
local JAN1 = 1704067200000     -- 2024-01-01T00:00:00Z

-- The test venue's candle opening at t (ms) of a period of p ms (tests/httpd.c, klines_of), as the venue sends it
-- (decimal strings of 8 places), read back as numbers.
local function price(m) return 100 + (m % 1000) / 100 end
local function venue_candle(t, p)
  local m, k = t // MIN, p // MIN
  local o, c = price(m), price(m + k - 1)
  local function n(x) return tonumber(string.format("%.8f", x)) end
  return { time = t, open = n(o), high = n(math.max(o, c) + 0.5), low = n(math.min(o, c) - 0.5), close = n(c),
           volume = n(1 + m % 7) }
end

-- The rows of a CSV the download wrote: its header, then {time, open, high, low, close, volume} numbers.
local function read_csv(path)
  local text = assert(h.read(path), "no file " .. path)
  local header, rows = text:match("^([^\n]*)\n"), {}
  for line in text:gmatch("\n([^\n]+)") do
    local f = {}
    for v in line:gmatch("[^,]+") do f[#f + 1] = tonumber(v) end
    rows[#rows + 1] = { time = f[1], open = f[2], high = f[3], low = f[4], close = f[5], volume = f[6] }
  end
  return header, rows
end

-- Asserts that rows are exactly the venue's candles of period p opening at each time of times.
local function assert_candles(rows, times, p)
  assert.are.equal(#times, #rows)
  for i, t in ipairs(times) do
    assert.are.same(venue_candle(t, p), rows[i], "row " .. i)
  end
end

local function span(from, to, step, skip_from, skip_to)
  local t = {}
  for x = from, to - 1, step do
    if not (skip_from and x >= skip_from and x < skip_to) then t[#t + 1] = x end
  end
  return t
end

-- The query parameters of each klines request the venue received.
local function klines_requests(srv)
  local out = {}
  for _, r in ipairs(srv:requests()) do
    local q = r:match("^GET /api/v3/klines%?(%S+)")
    if q then
      local p = {}
      for k, v in q:gmatch("([^&=]+)=([^&]*)") do p[k] = tonumber(v) or v end
      out[#out + 1] = p
    end
  end
  return out
end

local function venue(how)
  local srv = httpd.start()
  local lines = { "klines " .. JAN1, "symbol BTCUSDT" }
  for _, l in ipairs(how or {}) do lines[#lines + 1] = l end
  srv:put("/api/v3/klines", nil, lines)
  return srv
end

-- Runs a download of BTC_USDT from srv into dir/out.csv with the arguments given; returns run's result.
local function download(srv, dir, ...)
  return h.run { dir = dir, timeout = 60, "data", "download", "--market", "rest:" .. srv.base, "--symbol", "BTC_USDT",
                 ... }
end

-- The temp files a download left in dir (none may stay).
local function temp_files(dir)
  local p = io.popen("ls -A " .. h.quote(dir))
  local left = {}
  for name in p:read("a"):gmatch("[^\n]+") do
    if name:match("%.tmp$") then left[#left + 1] = name end
  end
  p:close()
  return left
end

local procs = {}

describe("stratrun data download", function()
  after_each(function() h.kill_all(procs) end)

  it("pages through two days of 1-minute candles, 1,000 a request, into a CSV that a replay takes", function()
    local srv, dir = venue(), h.tmpdir()
    local r = download(srv, dir, "--period", "1m", "--from", "2024-01-01", "--to", "2024-01-03", "out.csv")
    h.assert_ok(r)
    assert.are.equal("wrote 2880 BTC_USDT 1m candles, 2024-01-01T00:00:00Z to 2024-01-02T23:59:00Z, to out.csv "
      .. "(3 requests)\n", r.out)
    local header, rows = read_csv(dir .. "/out.csv")
    assert.are.equal("time,open,high,low,close,volume", header)
    assert_candles(rows, span(JAN1, JAN1 + 2 * DAY, MIN), MIN)
    -- Each page starts where the last one ended, within the span, at the venue's largest page.
    local q = klines_requests(srv)
    assert.are.equal(3, #q)
    for i, p in ipairs(q) do
      assert.are.same({ symbol = "BTCUSDT", interval = "1m", startTime = JAN1 + (i - 1) * 1000 * MIN,
                        endTime = JAN1 + 2 * DAY - 1, limit = 1000 }, p)
    end
    assert.are.same({}, temp_files(dir))
    -- The file replays: the strategy sees the venue's last candle as the last closed one.
    h.script(dir, [[
function main() while true do Sleep(60000) end end
function onexit()
  local r = exchange.GetRecords()
  Log("bars", #r, "last", r[#r].Time, r[#r].Close)
end]])
    local rr = h.run { dir = dir, "replay", "--data-dir", dir .. "/d", "--market", "out.csv", "--quiet",
                       "strategy.lua" }
    h.assert_ok(rr)
    local log = h.read(dir .. "/d/replay/bots/strategy/log.txt")
    local last = venue_candle(JAN1 + 2 * DAY - MIN, MIN)
    h.assert_has(log, string.format("last %d %s", last.time, tostring(last.close)))
  end)

  -- What a person sees in a terminal (tmux, capture-pane): one progress line, drawn again in place after each page,
  -- then erased for the final line. Each page of the venue takes a second, so the spec sees the line between pages.
  it("shows its progress on one line in a terminal, then the final line in its place", function()
    if h.sh("command -v tmux >/dev/null") ~= 0 then
      pending("tmux is not installed (scripts/setup.sh installs it)")
      return
    end
    local srv, dir = venue { "delay 1000" }, h.tmpdir()
    local screen, kill = h.tmux(string.format("cd %s && %s data download --market rest:%s --symbol BTC_USDT --from "
      .. "2024-01-01 --to 2024-01-03 out.csv; echo $? > rc; sleep 60", h.quote(dir), h.quote(h.bin), srv.base), 160, 10)
    finally(kill)
    -- the lines the terminal shows, without trailing blanks
    local function shown()
      local lines = {}
      for line in screen():gmatch("[^\n]*") do
        line = line:gsub("%s+$", "")
        if line ~= "" then lines[#lines + 1] = line end
      end
      return lines
    end
    local seen = {}
    local started = UnixNano()
    while not h.exists(dir .. "/rc") and UnixNano() - started < 30e9 * h.time_scale do
      local lines = shown()
      if lines[1] and lines[1]:find("^downloading") then
        assert.are.equal(1, #lines, "the progress is one line, drawn in place:\n" .. table.concat(lines, "\n"))
        if seen[#seen] ~= lines[1] then seen[#seen + 1] = lines[1] end
      end
      Sleep(50)
    end
    assert.are.equal("0\n", h.read(dir .. "/rc"))
    -- after the first page and after the second (the third's 100 % is erased at once)
    assert.are.same({ "downloading: up to 2024-01-01T16:39:00Z (35 %)",
                      "downloading: up to 2024-01-02T09:19:00Z (69 %)" }, { seen[1], seen[2] })
    assert.are.same({ "wrote 2880 BTC_USDT 1m candles, 2024-01-01T00:00:00Z to 2024-01-02T23:59:00Z, to out.csv "
      .. "(3 requests)" }, shown())
  end)

  it("aligns --from to the period, reports the venue's gaps, and writes 1-hour and 1-day candles", function()
    local gap_from, gap_to = JAN1 + 5 * HOUR, JAN1 + 8 * HOUR
    local srv, dir = venue { "gap " .. gap_from .. " " .. gap_to, "gap " .. (JAN1 + 22 * HOUR) .. " " .. (JAN1 + DAY) },
      h.tmpdir()
    -- the second request, from 22:00, finds the venue has nothing more
    local r = download(srv, dir, "--period", "1h", "--from", "2024-01-01T00:30:00Z", "--to", "2024-01-02T00:00:00Z",
                       "hours.csv")
    h.assert_ok(r)
    assert.are.equal("wrote 18 BTC_USDT 1h candles, 2024-01-01T01:00:00Z to 2024-01-01T21:00:00Z, to hours.csv "
      .. "(2 requests)\nthe venue has no candles after 2024-01-01T21:00:00Z: the 2 candles from there to the end of "
      .. "the span are not in the file\nthe venue has no candles in 1 gap (3 candles missing; the longest, 3 candles, "
      .. "from 2024-01-01T05:00:00Z); a replay shows no candle there\n", r.out)
    local _, rows = read_csv(dir .. "/hours.csv")
    assert_candles(rows, span(JAN1 + HOUR, JAN1 + 22 * HOUR, HOUR, gap_from, gap_to), HOUR)

    -- A venue listed after --from: the file starts at its first candle. No --to: up to the last closed day.
    local late = httpd.start()
    late:put("/api/v3/klines", nil, { "klines " .. (JAN1 + 10 * DAY) })
    r = h.run { dir = dir, "data", "download", "--market", "rest:" .. late.base .. "/", "--symbol", "BTC_USDT",
                "--period", "1d", "--from", "2024-01-01", "days.csv" }
    h.assert_ok(r)
    h.assert_has(r.out, "\nthe venue has no candles before 2024-01-11T00:00:00Z: the 10 candles from --from to there "
      .. "are not in the file (listed later?)\n")
    _, rows = read_csv(dir .. "/days.csv")
    local today = os.time() * 1000 // DAY * DAY
    assert.are.equal(JAN1 + 10 * DAY, rows[1].time)
    assert.are.equal(today - DAY, rows[#rows].time)     -- today's candle has not closed
    assert_candles(rows, span(JAN1 + 10 * DAY, today, DAY), DAY)
  end)

  it("waits out a 429's Retry-After and tries again after a 503, losing no candle", function()
    local srv, dir = venue { "once 2 429", "once 3 503", "header Retry-After: 1" }, h.tmpdir()
    local r = download(srv, dir, "--from", "2024-01-01", "--to", "2024-01-02T12:00:00Z", "out.csv")
    h.assert_ok(r)
    local err = h.lines(r.err)
    assert.are.equal(2, #err, r.err)
    assert.are.equal("stratrun data download: the venue answered HTTP 429 Too Many Requests: waiting 1 s (its "
      .. "Retry-After)", err[1])
    assert.truthy(err[2]:find("^stratrun data download: GET http://127%.0%.0%.1:%d+/api/v3/klines%?symbol=BTCUSDT&"
      .. "interval=1m&startTime=1704127200000&endTime=1704196799999&limit=1000: HTTP status 503; trying again in 1 s "
      .. "%(1 of 5%)$"), err[2])
    h.assert_has(r.out, "wrote 2160 BTC_USDT 1m candles")
    local _, rows = read_csv(dir .. "/out.csv")
    assert_candles(rows, span(JAN1, JAN1 + 36 * HOUR, MIN), MIN)
    -- The second page was asked for three times (429, 503, then its candles): 5 requests.
    local q = klines_requests(srv)
    assert.are.equal(5, #q)
    assert.are.same({ JAN1, JAN1 + 1000 * MIN, JAN1 + 1000 * MIN, JAN1 + 1000 * MIN, JAN1 + 2000 * MIN },
      { q[1].startTime, q[2].startTime, q[3].startTime, q[4].startTime, q[5].startTime })
  end)

  it("stops for the rest of the venue's minute when the used weight nears the limit", function()
    -- The download runs under faketime two seconds before a minute ends, so the wait is short; the venue reports
    -- a used weight of 4,802 of 6,000 (80 % is the line).
    if h.time_scale > 1 or h.sanitizer() == "tsan" then
      -- valgrind takes longer to start than the two seconds left of the minute
      pending(h.time_scale > 1 and "two seconds of a faked minute: not checked with STRATRUN_TIME_SCALE=" ..
        h.time_scale or h.FAKETIME_TSAN)
      return
    end
    local srv, dir = venue { "weight-base 4800" }, h.tmpdir()
    local r = h.run { dir = dir, timeout = 60, env = { FAKETIME = "@2026-01-01 10:00:58", LD_PRELOAD =
      "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1", ASAN_OPTIONS = (os.getenv("ASAN_OPTIONS") or "") ..
      ":verify_asan_link_order=0" }, "data", "download", "--market", "rest:" .. srv.base,
      "--symbol", "BTC_USDT", "--from", "2024-01-01", "--to", "2024-01-01T20:00:00Z", "out.csv" }
    h.assert_ok(r)
    -- one wait, between the two pages: none after the last one, which needs no more requests
    assert.truthy(r.err:find("^stratrun data download: used weight 4802 of 6000 per minute %(X%-MBX%-USED%-WEIGHT%-1M%): "
      .. "waiting %d s, until the venue's minute ends\n$"), r.err)
    local wait = tonumber(r.err:match("waiting (%d) s"))
    assert.truthy(wait >= 2 and wait <= 4, r.err)
    h.assert_has(r.out, "wrote 1200 BTC_USDT 1m candles")
    assert.are.equal(2, #klines_requests(srv))
  end)

  it("refuses what the venue sends that is not its klines, and leaves no file or a file as it was", function()
    local dir = h.tmpdir()
    -- An unknown symbol: the venue's own message, no file.
    local srv = venue()
    local r = h.run { dir = dir, "data", "download", "--market", "rest:" .. srv.base, "--symbol", "ETH_USDT",
                      "--from", "2024-01-01", "--to", "2024-01-02", "eth.csv" }
    assert.are.equal(1, r.code, r.err)
    assert.truthy(r.err:find("^stratrun data download: GET http://127%.0%.0%.1:%d+/api/v3/klines%?symbol=ETHUSDT&"
      .. "interval=1m&startTime=1704067200000&endTime=1704153599999&limit=1000: HTTP status 400: the venue's error "
      .. "%-1121: Invalid symbol%.\n$"), r.err)
    assert.is_false(h.exists(dir .. "/eth.csv"))

    -- Bodies that are not klines, each over a file that exists (--force): it stays as it was.
    h.write(dir .. "/keep.csv", "time,open,high,low,close,volume\n1,1,1,1,1,1\n")
    local bad = httpd.start()
    for _, c in ipairs {
      { "[[1704067200000,\"1\",\"2\",\"0.5\",\"1.5\",\"3\",0", "malformed JSON" },
      { "[[1704067200001,\"1\",\"2\",\"0.5\",\"1.5\",\"3\"]]", "kline 1 is not [openTime on the period's grid" },
      { "[[1704067200000,\"1\",\"1.2\",\"0.5\",\"1.5\",\"3\"]]", "kline 1: high/low do not contain open and close" },
      { "[[1704067260000,\"1\",\"2\",\"0.5\",\"1.5\",\"3\"],[1704067200000,\"1\",\"2\",\"0.5\",\"1.5\",\"3\"]]",
        "kline 2: openTime goes backwards or repeats" },
      { "[[1704153600000,\"1\",\"2\",\"0.5\",\"1.5\",\"3\"]]", "kline 1 opens at 1704153600000 ms, outside the span "
        .. "asked (1704067200000 to 1704153599999 ms)" },
      { "{\"code\":-1003,\"msg\":\"Too much request weight used.\"}", "the venue's error -1003: Too much request "
        .. "weight used." },
    } do
      bad:put("/api/v3/klines", c[1])
      r = h.run { dir = dir, "data", "download", "--market", "rest:" .. bad.base, "--symbol", "BTC_USDT", "--from",
                  "2024-01-01", "--to", "2024-01-02", "--force", "keep.csv" }
      assert.are.equal(1, r.code, r.err)
      assert.are.equal(1, #h.lines(r.err), r.err)
      h.assert_has(r.err, "the answer is not the venue's klines: " .. c[2])
      assert.are.equal("time,open,high,low,close,volume\n1,1,1,1,1,1\n", h.read(dir .. "/keep.csv"))
    end

    -- A venue that keeps failing: tried --retries times more, then one line.
    bad:put("/api/v3/klines", "", { "status 503" })
    r = h.run { dir = dir, "data", "download", "--market", "rest:" .. bad.base, "--symbol", "BTC_USDT", "--from",
                "2024-01-01", "--to", "2024-01-02", "--retries", "1", "gone.csv" }
    assert.are.equal(1, r.code, r.err)
    local err = h.lines(r.err)
    assert.are.equal(2, #err, r.err)
    assert.truthy(err[2]:find("failed 2 times: HTTP status 503$"), err[2])
    assert.is_false(h.exists(dir .. "/gone.csv"))

    -- A failure that asking again cannot mend is not retried: a body over the cap, one request.
    bad:put("/api/v3/klines", nil, { "huge 5000000" })
    local n0 = #bad:requests()
    r = h.run { dir = dir, "data", "download", "--market", "rest:" .. bad.base, "--symbol", "BTC_USDT", "--from",
                "2024-01-01", "--to", "2024-01-02", "big.csv" }
    assert.are.equal(1, r.code, r.err)
    assert.truthy(r.err:find("^stratrun data download: GET [^\n]+: response body larger than 4194304 bytes\n$"), r.err)
    assert.are.equal(n0 + 1, #bad:requests())

    -- A file that appears while the download runs is kept without --force (and the download said so).
    bad:put("/api/v3/klines", nil, { "klines " .. 1704067200000, "delay 1500" })
    local p = h.spawn { dir = dir, "data", "download", "--market", "rest:" .. bad.base, "--symbol", "BTC_USDT",
                        "--from", "2024-01-01", "--to", "2024-01-01T01:00:00Z", "race.csv" }
    procs[#procs + 1] = p
    assert.truthy(h.eventually(function() return #bad:requests() > n0 + 1 end, 20))
    h.write(dir .. "/race.csv", "my notes\n")
    assert.are.equal(1, p:wait(20))
    assert.are.equal("my notes\n", h.read(dir .. "/race.csv"))
    local _, perr = p:output()
    assert.are.equal("stratrun data download: race.csv exists already\n", perr)

    -- A file that exists is kept unless --force: nothing is asked of the venue.
    local before = #bad:requests()
    r = h.run { dir = dir, "data", "download", "--market", "rest:" .. bad.base, "--symbol", "BTC_USDT", "--from",
                "2024-01-01", "keep.csv" }
    assert.are.equal(1, r.code)
    assert.are.equal("stratrun data download: keep.csv exists already: nothing was downloaded (--force replaces "
      .. "it)\n", r.err)
    assert.are.equal(before, #bad:requests())
    assert.are.same({}, temp_files(dir))
  end)

  it("ends on SIGINT mid-download, a request in flight too, with no file and no temp file", function()
    local srv, dir = venue { "delay 20000" }, h.tmpdir()
    local p = h.spawn { dir = dir, "data", "download", "--market", "rest:" .. srv.base, "--symbol", "BTC_USDT",
                        "--from", "2024-01-01", "--to", "2024-02-01", "--timeout", "60000", "out.csv" }
    procs[#procs + 1] = p
    assert.truthy(h.eventually(function() return #klines_requests(srv) >= 1 end, 20))
    p:signal("INT")
    assert.are.equal(130, p:wait(3))        -- not the 20 s the venue takes to answer
    local _, err = p:output()
    assert.are.equal("stratrun data download: stopped by a signal\n", err)
    assert.is_false(h.exists(dir .. "/out.csv"))
    assert.are.same({}, temp_files(dir))
  end)

  it("says what is wrong with each argument in one line, exit 2", function()
    local D = { "data", "download" }
    local function c(args, want)
      local a = { table.unpack(D) }
      for _, x in ipairs(args) do a[#a + 1] = x end
      return { a, want }
    end
    local M = { "--market", "rest:http://127.0.0.1:9" }
    local S = { "--symbol", "BTC_USDT" }
    local F = { "--from", "2024-01-01" }
    local function with(...)
      local out = {}
      for _, l in ipairs { ... } do for _, x in ipairs(l) do out[#out + 1] = x end end
      return out
    end
    h.assert_usage_errors(h.tmpdir(), {
      { { "data" }, "stratrun data: a subcommand is needed: allowed is download" },
      { { "data", "upload" }, "stratrun data: 'upload': allowed is download" },
      c(with(S, F, { "o.csv" }), "stratrun data download: --market rest:BASE-URL is needed" ),
      c(with({ "--market", "csv:x.csv" }, S, F, { "o.csv" }), "stratrun data download: --market 'csv:x.csv': allowed "
        .. "is rest:BASE-URL with an http:// or https:// URL"),
      c(with({ "--market", "rest:http://h,symbol=ETH_USDT" }, S, F, { "o.csv" }), "stratrun data download: --market "
        .. "'rest:http://h,symbol=ETH_USDT': a download takes the base URL only"),
      c(with(M, F, { "o.csv" }), "stratrun data download: --symbol is needed"),
      c(with(M, { "--symbol", "btcusdt" }, F, { "o.csv" }), "stratrun data download: --symbol 'btcusdt': allowed is "
        .. "BASE_QUOTE"),
      c(with(M, S, F, { "--period", "7m", "o.csv" }), "stratrun data download: --period '7m': allowed are 1m, 3m, "
        .. "5m, 15m, 30m, 1h, 2h, 4h, 6h, 8h, 12h, 1d"),
      c(with(M, S, { "o.csv" }), "stratrun data download: --from is needed"),
      c(with(M, S, { "--from", "yesterday", "o.csv" }), "stratrun data download: --from 'yesterday': allowed is a "
        .. "time from 1970 on"),
      c(with(M, S, F, { "--to", "2023-12-31", "o.csv" }), "stratrun data download: --to (2023-12-31) must be after "
        .. "--from (2024-01-01)"),
      c(with(M, S, F), "stratrun data download: name the file to write"),
      c(with(M, S, F, { "a.csv", "b.csv" }), "stratrun data download: takes one OUT.csv: 'b.csv' is one too many"),
      c(with(M, S, F, { "--timeout", "5", "o.csv" }), "stratrun data download: --timeout '5': allowed are ms from 100"),
      c(with(M, S, F, { "--retries", "99", "o.csv" }), "stratrun data download: --retries '99': allowed are 0 to 20"),
      c(with(M, S, F, { "--weight", "-1", "o.csv" }), "stratrun data download: --weight '-1': allowed are 0"),
      c(with(M, S, F, { "--frm", "x", "o.csv" }), "stratrun data download: unknown option '--frm'"),
      c(with(M, S, { "--from" }), "stratrun data download: option --from needs a value"),
      c(with({ "--data-dir", "/tmp" }, M, S, F, { "o.csv" }), "stratrun data download: --data-dir: a download writes "
        .. "OUT.csv"),
    })
    -- --help, as every tool's.
    local r = h.run { "data", "download", "--help" }
    assert.are.equal(0, r.code)
    h.assert_has(r.out, "usage: stratrun data download --market rest:BASE-URL --symbol SYMBOL")
  end)
end)
