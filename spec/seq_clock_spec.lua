-- Spec for issue 12's clocks: times in CSV files (runtime/core/timeparse.c, runtime/data/source_csv.c) and the
-- limits of the runtime's clock, as docs/replay.md describes them; seq across restarts and a publisher's clock
-- ahead, on the local and redis backends (runtime/core/engine.c, runtime/lua/channel.c), as docs/channels.md
-- describes them. Real stratrun processes, real files, a real redis-server; faketime moves a process's clock.
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
    refused(r, { "m.csv:3", "'9999999999999'", "out of range", "2262-04-11T23:47:16.854Z", "µs 1e14" })
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

  it("honours a --from before 1970 (it was taken for 'not given')", function()
    local r, seen = replay_csv("time,open,high,low,close,volume\n1960-01-01T00:00:00.250Z,1,1,1,1,1\n"
      .. "1960-01-01T00:01:00.250Z,1,1,1,1,1\n1960-01-01T00:02:00.250Z,1,1,1,1,1\n",
      { "--from", "1960-01-01T00:02:00.250Z" })
    assert.are.equal(0, r.code, r.out .. r.err)
    assert.are.same({ -315619139750, "1960-01-01 00:01:00.250" }, seen[1])
  end)
end)
