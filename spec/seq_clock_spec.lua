-- Spec for issue 12's clocks: times in CSV files (runtime/core/timeparse.c, runtime/data/source_csv.c) and the
-- limits of the runtime's clock, as docs/replay.md describes them; seq across restarts and a publisher's clock
-- ahead, on the local and redis backends (runtime/core/engine.c, runtime/lua/channel.c), as docs/channels.md
-- describes them. Real stratrun processes, real files, a real redis-server; libfaketime moves a process's clock.
local h = require("helpers")

-- A strategy that logs "T <Time of the last candle> <_D of it, with ms>" for the first three candles it sees.
local SEES = [[
function main()
  for i = 1, 3 do
    local r = exchange.GetRecords()
    Log("T", r[#r].Time, _D(r[#r].Time, "yyyy-MM-dd HH:mm:ss.SSS"))
    Sleep(60000)
  end
end
]]

-- Replays SEES over a CSV file holding text; returns the run and the list of {time, text} the strategy saw.
local function replay_csv(text, extra)
  local dir = h.tmpdir()
  h.write(dir .. "/m.csv", text)
  local args = { "replay", "--data-dir", dir .. "/data", "--market", "csv:" .. dir .. "/m.csv", dir = dir,
                 env = { TZ = "UTC" } }
  for _, a in ipairs(extra or {}) do args[#args + 1] = a end
  args[#args + 1] = h.script(dir, SEES) .. "@b"
  local r = h.run(args)
  local seen = {}
  for t, d in r.out:gmatch("T (%-?%d+) (%d%d%d%d%-%d%d%-%d%d %d%d:%d%d:%d%d%.%d%d%d)") do
    seen[#seen + 1] = { tonumber(t), d }
  end
  return r, seen
end

-- The one line of stderr, checked to hold each of the parts.
local function refused(r, parts)
  assert.are.equal(2, r.code, r.out .. r.err)
  local lines = {}
  for l in r.err:gmatch("[^\n]+") do lines[#lines + 1] = l end
  assert.are.equal(1, #lines, r.err)
  for _, p in ipairs(parts) do assert.truthy(lines[1]:find(p, 1, true), "'" .. p .. "' not in: " .. lines[1]) end
end

-- Binance's public kline rows: open_time, open, high, low, close, volume, close_time, quote_volume, count,
-- taker_buy_volume, taker_buy_quote_volume, ignore. unit: 1 (ms, files before 2025) or 1000 (µs, since).
local function binance(t0_ms, unit)
  local rows = {}
  for i = 0, 2 do
    local t = (t0_ms + i * 60000) * unit
    local p = 42000 + i
    rows[#rows + 1] = string.format("%d,%.8f,%.8f,%.8f,%.8f,%.8f,%d,%.8f,%d,%.8f,%.8f,0", t, p, p + 5, p - 5,
      p + 1, 3.5, t + 60000 * unit - 1, 147000.5, 120, 1.75, 73500.25)
  end
  return table.concat(rows, "\n") .. "\n"
end

describe("times in CSV files", function()
  it("reads Binance's kline files as published: no header, 12 columns, ms before 2025", function()
    local r, seen = replay_csv(binance(1704067200000, 1))   -- 2024-01-01
    assert.are.equal(0, r.code, r.out .. r.err)
    assert.are.same({ { 1704067200000, "2024-01-01 00:00:00.000" }, { 1704067260000, "2024-01-01 00:01:00.000" },
                      { 1704067320000, "2024-01-01 00:02:00.000" } }, seen)
  end)

  it("reads Binance's kline files in microseconds (since 2025) as the same instants in ms", function()
    local r, seen = replay_csv(binance(1735689600000, 1000))   -- 2025-01-01
    assert.are.equal(0, r.code, r.out .. r.err)
    assert.are.same({ { 1735689600000, "2025-01-01 00:00:00.000" }, { 1735689660000, "2025-01-01 00:01:00.000" },
                      { 1735689720000, "2025-01-01 00:02:00.000" } }, seen)
  end)

  it("tells seconds, milliseconds, microseconds and nanoseconds apart by magnitude", function()
    local t0 = 1735689600   -- 2025-01-01T00:00:00Z in seconds
    for _, unit in ipairs({ { "s", 1, "" }, { "ms", 1000, "" }, { "us", 1000000, "" }, { "ns", 1000000000, "" },
                            { "ms+250", 1000, 250 } }) do
      local lines = { "time,open,high,low,close,volume" }
      for i = 0, 2 do
        local t = (t0 + i * 60) * unit[2]
        if unit[3] ~= "" then t = t + unit[3] end
        lines[#lines + 1] = string.format("%d,1,2,0.5,1.5,1", t)
      end
      local r, seen = replay_csv(table.concat(lines, "\n") .. "\n")
      assert.are.equal(0, r.code, unit[1] .. ": " .. r.out .. r.err)
      local extra = unit[3] ~= "" and unit[3] or 0
      assert.are.same({ { 1735689600000 + extra, string.format("2025-01-01 00:00:00.%03d", extra) },
                        { 1735689660000 + extra, string.format("2025-01-01 00:01:00.%03d", extra) },
                        { 1735689720000 + extra, string.format("2025-01-01 00:02:00.%03d", extra) } }, seen,
        unit[1])
    end
  end)

  it("takes Binance's header row (open_time, ...) too", function()
    local r, seen = replay_csv("open_time,open,high,low,close,volume,close_time,quote_volume,count,"
      .. "taker_buy_volume,taker_buy_quote_volume,ignore\n" .. binance(1735689600000, 1000))
    assert.are.equal(0, r.code, r.out .. r.err)
    assert.are.equal(3, #seen, r.out)
    assert.are.equal(1735689600000, seen[1][1])
  end)

  it("refuses a time the clock cannot hold with one line naming it and the range", function()
    -- 9999999999999 ms is in 2286, past the clock's end in 2262: once taken, it printed 1702-05-02 18:13:07.-710
    local r = replay_csv("time,open,high,low,close,volume\n1,1,1,1,1,1\n9999999999999,1,1,1,1,1\n")
    refused(r, { "m.csv:3", "'9999999999999'", "out of range", "2262-04-11T23:47:16.854Z", "µs 1e13" })
    r = replay_csv("time,open,high,low,close,volume\n2263-01-01,1,1,1,1,1\n2263-01-02,1,1,1,1,1\n")
    refused(r, { "m.csv:2", "'2263-01-01'", "out of range", "2262-04-11T23:47:16.854Z" })
    -- a µs value past 2262
    r = replay_csv(binance(9300000000000, 1000))
    refused(r, { "m.csv:1", "'9300000000000000'", "out of range" })
    -- a last candle that closes past the end of the clock
    r = replay_csv("time,open,high,low,close,volume\n9223372036700,1,1,1,1,1\n9223372036800,1,1,1,1,1\n")
    refused(r, { "the last candle closes after 2262-04-11T23:47:16.854Z" })
  end)

  it("refuses a file without a header that is not Binance's 12 columns", function()
    local r = replay_csv("1735689600000,1,2,0.5,1.5,1\n1735689660000,1,2,0.5,1.5,1\n")
    refused(r, { "m.csv:1", "6 columns and no header", "Binance kline file (12 columns)" })
  end)

  it("refuses --from, --to and sim's start= past the clock, naming the value and the range", function()
    local dir = h.tmpdir()
    local script = h.script(dir, SEES) .. "@b"
    for _, case in ipairs({ { "--from", "9999999999999" }, { "--to", "2263-01-01" }, { "--from", "1600-01-01" } }) do
      local r = h.run{ "replay", "--data-dir", dir .. "/data", "--market", "sim:bars=10", case[1], case[2], script,
                       dir = dir }
      refused(r, { "option " .. case[1], "'" .. case[2] .. "'", "out of range",
                   "1677-09-21T00:12:43.146Z to 2262-04-11T23:47:16.854Z" })
    end
    local r = h.run{ "replay", "--data-dir", dir .. "/data", "--market", "sim:start=9999999999999", script,
                     dir = dir }
    refused(r, { "start '9999999999999' is out of range", "2262-04-11T23:47:16.854Z" })
  end)

  it("never prints a negative millisecond part, before 1970 either", function()
    local r, seen = replay_csv("time,open,high,low,close,volume\n1960-01-01T00:00:00.250Z,1,1,1,1,1\n"
      .. "1960-01-01T00:01:00.250Z,1,1,1,1,1\n1960-01-01T00:02:00.250Z,1,1,1,1,1\n")
    assert.are.equal(0, r.code, r.out .. r.err)
    assert.are.same({ -315619199750, "1960-01-01 00:00:00.250" }, seen[1])
    -- the log line's own stamp: the strategy's clock at the close of the first candle
    assert.truthy(r.out:find("1960-01-01 00:01:00.250 T -315619199750", 1, true), r.out)
    assert.falsy(r.out:find("%.%-%d"), r.out)
  end)

  it("ends a replay at the clock's end: a Sleep past 2262 does not wrap to 1677", function()
    local dir = h.tmpdir()
    h.write(dir .. "/m.csv", "time,open,high,low,close,volume\n2262-04-11T23:45:00Z,1,1,1,1,1\n"
      .. "2262-04-11T23:46:00Z,1,1,1,1,1\n")
    local r = h.run{"replay", "--data-dir", dir .. "/data", "--market", "csv:" .. dir .. "/m.csv", dir = dir,
                    env = {TZ = "UTC"}, timeout = 20, h.script(dir, [[
function main() Sleep(1e12) Log("never") end
function onexit() while true do Log("onexit", _D(nil, "yyyy-MM-dd HH:mm:ss.SSS")) Sleep(60000) end end
]]) .. "@b"}
    assert.are.equal(1, r.code, r.out .. r.err)
    assert.falsy(r.out:find("never", 1, true), r.out)
    assert.truthy((r.out .. r.err):find("onexit still running 5 minutes after the end of the replay; stopped", 1,
      true), r.out .. r.err)
    local n = 0
    for d in r.out:gmatch("onexit (%d+%-%d+%-%d+ [%d:.]+)") do
      n = n + 1
      assert.is_true(d >= "2262-04-11 23:46:00.000" and d <= "2262-04-11 23:47:16.854", d)
    end
    assert.is_true(n >= 1 and n <= 3, r.out)
  end)

  it("honours a --from before 1970 (it was taken for 'not given')", function()
    local r, seen = replay_csv("time,open,high,low,close,volume\n1960-01-01T00:00:00.250Z,1,1,1,1,1\n"
      .. "1960-01-01T00:01:00.250Z,1,1,1,1,1\n1960-01-01T00:02:00.250Z,1,1,1,1,1\n",
      { "--from", "1960-01-01T00:02:00.250Z" })
    assert.are.equal(0, r.code, r.out .. r.err)
    assert.are.same({ -315619139750, "1960-01-01 00:01:00.250" }, seen[1])
  end)
end)

-- ---- seq across restarts ----

local ACL_HELPER = h.source .. "/scripts/redis-acl.lua"

-- follows `follow` and prints "S <seq> <v>" for every new state, until the file `stop` exists or 60 s pass
local READER = h.report_prelude .. [[
function main()
  local last, deadline = nil, UnixNano() + 60 * 1000000000
  out("ready")
  while UnixNano() < deadline do
    local v, m = GetChannelData(follow)
    if type(m) == "table" and m.seq ~= last then
      out("S", m.seq, v and v.v, m.clock_ahead and "ahead" or "-", m.ahead_ms or 0)
      last = m.seq
    elseif type(m) == "string" then
      out("E", m)
    end
    local f = io.open(stop, "rb")
    if f then f:close() break end
    Sleep(2)
  end
end
]]

-- publishes {v = from}, {v = from + 1}, ... {v = to}, `gap` ms apart, then exits
local PUBLISHER = [[
function main()
  for v = tonumber(from), tonumber(to) do
    assert(SetChannelData({v = v}))
    Sleep(tonumber(gap) or 100)
  end
end
]]

local running = {}

-- Runs PUBLISHER as bot "pub" on channel, from its data dir under dir (the same for every run: a restart), with
-- its clock moved by fake (libfaketime's offset, "-10m") when given, and env; waits for its end. libfaketime is
-- preloaded itself: the faketime wrapper names a semaphore and a shared memory object after its PID and leaves them
-- when it is killed, so with PIDs up to 32768 a later wrapper of the same PID failed ("sem_open: File exists").
local FAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
local function publish(dir, channel, from, to, fake, env)
  if fake then    -- libfaketime preloaded before ASan's runtime: tell ASan that is intended
    local e = {ASAN_OPTIONS = (os.getenv("ASAN_OPTIONS") or "") .. ":verify_asan_link_order=0",
               LD_PRELOAD = FAKETIME, FAKETIME = fake}
    for k, v in pairs(env or {}) do e[k] = v end
    env = e
  end
  local p = h.spawn{"--data-dir", dir .. "/pub", "--id", "pub", "--channel", channel, "-p", "from=" .. from,
                    "-p", "to=" .. to, h.script(dir, PUBLISHER, "publisher.lua"), dir = dir,
                    env = env}
  running[#running + 1] = p
  local code = p:wait(60)
  local out, err = p:output()
  assert.are.equal(0, code, out .. err)
  return out, err
end

-- The states a reader printed: {seq, v} in order.
local function states(reader)
  local list = {}
  for _, f in ipairs(h.fields((reader:output()))) do
    if f[1] == "S" then list[#list + 1] = { seq = tonumber(f[2]), v = tonumber(f[3]), ahead = f[4],
                                            skew = tonumber(f[5]) } end
  end
  return list
end

local function start_reader(dir, channel, env)
  local r = h.spawn{"--data-dir", dir .. "/reader", "--id", "rdr", "--channel", channel, "-p", "follow=pub",
                    "-p", "stop=" .. dir .. "/stop", h.script(dir, READER, "reader.lua"), dir = dir, env = env}
  running[#running + 1] = r
  assert.is_true(r:wait_for("ready"), table.concat({r:output()}, "\n"))
  return r
end

-- The reader saw 5 from the first publisher, then the restarted one's states, 101..140, in order.
local function saw_every_state(reader, dir)
  assert.truthy(h.eventually(function()
    local s = states(reader)
    return #s > 0 and s[#s].v == 140
  end, 20), "the reader never saw the restarted publisher's last state:\n" .. table.concat({reader:output()}, "\n"))
  h.write(dir .. "/stop", "")
  reader:wait(10)
  local s, seen = states(reader), {}
  for i, st in ipairs(s) do
    seen[#seen + 1] = st.v
    if i > 1 then assert.is_true(st.seq > s[i - 1].seq, "seq went back") end
  end
  -- A channel carries the latest state: a reader descheduled for a while (a loaded CI machine) sees the newest one
  -- after it and skips those between, which is right. A state refused for its seq is not: the restarted publisher's
  -- clock is 10 minutes behind, so a seq taken from it would hide every one of 101..140 from the reader. So: after
  -- 5, only restarted states, increasing, most of them, up to 140.
  local first = 1
  while first <= #seen and seen[first] ~= 5 do first = first + 1 end
  assert.is_true(first <= #seen, "the first publisher's last state, 5, was not seen: " .. table.concat(seen, " "))
  local after = { table.unpack(seen, first + 1) }
  for i, v in ipairs(after) do
    assert.is_true(v >= 101 and v <= 140 and (i == 1 or v > after[i - 1]),
      "after 5, the restarted publisher's states in order: " .. table.concat(seen, " "))
  end
  assert.is_true(#after >= 30, "most of the restarted publisher's 40 states were seen: " .. table.concat(seen, " "))
end

describe("seq across restarts, whatever the clocks do", function()
  after_each(function()
    h.kill_all(running)
    h.redis_stop_all()
  end)

  it("local: a publisher restarted 10 minutes behind after its channel file was deleted is seen at once", function()
    if h.sanitizer() == "tsan" then pending(h.FAKETIME_TSAN) return end
    local dir = h.tmpdir()
    local channel = "local:" .. dir .. "/channels"
    local reader = start_reader(dir, channel)
    publish(dir, channel, 1, 5)
    assert.truthy(h.eventually(function() local s = states(reader) return #s > 0 and s[#s].v == 5 end))
    assert.is_true(os.remove(dir .. "/channels/pub"))
    publish(dir, channel, 101, 140, "-10m")
    saw_every_state(reader, dir)
  end)

  it("local: restarts in a row never push seq more than a minute ahead of the clock", function()
    local dir = h.tmpdir()
    local channel = "local:" .. dir .. "/channels"
    for k = 1, 6 do publish(dir, channel, k, k) end
    local seq = tonumber(h.read(dir .. "/channels/pub"):match("^SRCH1 (%d+) "))
    local ahead_s = (seq - UnixNano() // 1000) / 1e6
    assert.is_true(ahead_s > 0 and ahead_s < 61, string.format("seq is %.1f s ahead of the clock", ahead_s))
    assert.is_true(tonumber(h.read(dir .. "/channels/.pub.seq")) >= seq)
  end)

  it("redis: a publisher restarted 10 minutes behind after its key expired is seen at once, under the ACL recipe",
    function()
    if h.sanitizer() == "tsan" then pending(h.FAKETIME_TSAN) return end
    local admin = "admin-" .. math.random(1, 1e9)
    local server, dir = h.redis{password = admin}, h.tmpdir()
    local r = h.run{"--data-dir", dir .. "/helper", "--id", "acl-helper", ACL_HELPER, "pub", "rdr:pub", dir = dir}
    assert.are.equal(0, r.code, r.err)
    h.write(dir .. "/acl.txt", r.out)
    assert.are.equal("OK\nOK\n", (server:pipe(dir .. "/acl.txt")))
    local pw = {}
    for id, p in r.out:gmatch("ACL SETUSER stratrun%-(%S+) reset on >(%x+) ") do pw[id] = p end
    local url = function(id) return server:url{user = "stratrun-" .. id, ttl = 1000} end
    local reader = start_reader(dir, url("rdr"), {STRATRUN_REDIS_PASSWORD = pw.rdr})
    local _, err = publish(dir, url("pub"), 1, 5, nil, {STRATRUN_REDIS_PASSWORD = pw.pub})
    assert.falsy(err:find("seq", 1, true), err)
    assert.truthy(h.eventually(function() local s = states(reader) return #s > 0 and s[#s].v == 5 end))
    -- the state's key expires (ttl 1 s); the seq floor stays
    assert.truthy(h.eventually(function() return server:cli("EXISTS", "stratrun:ch:pub"):match("^0") end, 10))
    assert.matches("^%d+", (server:cli("GET", "stratrun:seq:pub")))
    assert.matches("^%-1", (server:cli("TTL", "stratrun:seq:pub")))
    _, err = publish(dir, url("pub"), 101, 140, "-10m", {STRATRUN_REDIS_PASSWORD = pw.pub})
    assert.falsy(err:find("seq", 1, true), err)
    saw_every_state(reader, dir)
  end)

  it("redis: a user made without the seq key (the recipe before issue 12) still publishes, with one warning", function()
    local admin = "admin-" .. math.random(1, 1e9)
    local server, dir = h.redis{password = admin}, h.tmpdir()
    h.write(dir .. "/acl.txt", "ACL SETUSER stratrun-pub reset on >pw1 resetkeys ~stratrun:ch:pub resetchannels "
      .. "-@all +auth +select +ping +get +set +xadd +xread +xrevrange +pexpire +del\n")
    assert.are.equal("OK\n", (server:pipe(dir .. "/acl.txt")))
    local _, err = publish(dir, server:url{user = "stratrun-pub"}, 1, 5, nil, {STRATRUN_REDIS_PASSWORD = "pw1"})
    local said = h.warnings(err, "cannot keep its seq in key stratrun:seq:pub")
    assert.are.equal(1, #said, err)
    assert.truthy(said[1]:find("NOPERM", 1, true) and said[1]:find("scripts/redis-acl.lua", 1, true), said[1])
    assert.matches("v\":5", (server:cli("XREVRANGE", "stratrun:ch:pub", "+", "-", "COUNT", "1")))
  end)
end)

-- ---- a publisher's clock ahead ----

describe("a publisher whose clock is ahead", function()
  after_each(function() h.kill_all(running) end)

  it("is marked in meta (clock_ahead, ahead_ms), and the sample monitor does not show it Running forever",
    function()
    if h.sanitizer() == "tsan" then pending(h.FAKETIME_TSAN) return end
    local dir = h.tmpdir()
    local channel = "local:" .. dir .. "/channels"
    local reader = start_reader(dir, channel)
    local mon = h.spawn{"--data-dir", dir .. "/mon", "--id", "mon", "--channel", channel, "-p", "bots=pub",
                        "-p", "interval=100", "-p", "stale=3000", h.source .. "/strategies/monitor.lua", dir = dir}
    running[#running + 1] = mon
    local status = function() return h.read(dir .. "/mon/bots/mon/status.txt") or "" end
    -- in time: no mark
    publish(dir, channel, 1, 2)
    assert.truthy(h.eventually(function() local s = states(reader) return #s > 0 and s[#s].v == 2 end))
    local s = states(reader)
    assert.are.equal("-", s[#s].ahead)
    assert.truthy(h.eventually(function() return status():find("| pub%s+| Running%s+|") end), status())
    -- 10 minutes ahead
    publish(dir, channel, 3, 5, "+10m")
    assert.truthy(h.eventually(function() local s = states(reader) return #s > 0 and s[#s].v == 5 end))
    s = states(reader)
    assert.are.equal("ahead", s[#s].ahead)
    assert.is_true(s[#s].skew > 590000 and s[#s].skew < 610000, tostring(s[#s].skew))
    -- the publisher is gone: after `stale` ms the monitor says Abnormal, marked, not Running for 10 minutes
    assert.truthy(h.eventually(function() return status():find("| pub%s+| Abnormal %(clock %+600 s%)") end, 15),
      status())
    h.write(dir .. "/stop", "")
  end)

  -- The same panel as a person sees it: the monitor live in a real terminal (tmux, 160x40), read with capture-pane.
  it("shows the marked row once, in a table whose lines line up, in a real terminal", function()
    if h.sanitizer() == "tsan" then pending(h.FAKETIME_TSAN) return end
    if h.sh("command -v tmux >/dev/null") ~= 0 then pending("tmux is not installed (scripts/setup.sh installs it)") return end
    local dir = h.tmpdir()
    local channel = "local:" .. dir .. "/channels"
    local screen, kill = h.tmux(string.format("cd %s && exec %s --data-dir mon --id mon --channel %s -p bots=pub "
      .. "-p interval=100 -p stale=3000 %s", h.quote(dir), h.quote(h.bin), h.quote(channel),
      h.quote(h.source .. "/strategies/monitor.lua")), 160, 40)
    finally(kill)
    assert.truthy(h.eventually(function() return screen():find("Waiting for Data", 1, true) end, 10), screen())
    publish(dir, channel, 3, 5, "+10m")
    assert.truthy(h.eventually(function() return screen():find("Abnormal (clock +600 s)", 1, true) end, 15),
      screen())
    local text = screen()
    local rows, widths = 0, {}
    for line in text:gmatch("[^\n]+") do
      if line:find("| pub ", 1, true) then rows = rows + 1 end
      if line:match("^[|+]") then widths[#widths + 1] = #line end
    end
    assert.are.equal(1, rows, "the bot's row is on the screen once:\n" .. text)
    assert.is_true(#widths >= 5, text)
    for _, w in ipairs(widths) do assert.are.equal(widths[1], w, "the table's lines do not line up:\n" .. text) end
    assert.matches("| pub%s+| Abnormal %(clock %+600 s%) |", text)
  end)
end)
