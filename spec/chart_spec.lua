-- Spec for the platform's Chart and KLineChart (stdlib/chart.lua, with the bot-folder primitives of
-- runtime/lua/log.c), through real stratrun processes, live and in replays: what <bot dir>/chart.jsonl holds after
-- a run, read the way the replay report and the dashboard read it (docs/platform.md, "Charts": the chart file).
local h = require("helpers")

local function run(text, mode, extra, dir)
  return h.run_bot(text, { mode = mode, args = extra, dir = dir })
end

-- The file's whole lines, each decoded, and whether it ends in a line without its newline.
local function lines(path)
  local text = assert(h.read(path), "no " .. path)
  local out = {}
  for line in text:gmatch("([^\n]*)\n") do out[#out + 1] = json.decode(line) end
  return out, text:sub(-1) ~= "\n" and text ~= "", text
end

-- What a reader makes of the records: the header, each series' points by number, the bars by time.
local function apply(view, rec)
  if rec.t == "chart" then
    view.header, view.series, view.bars = rec, {}, {}
  elseif rec.t == "point" then
    view.series[rec.s] = view.series[rec.s] or {}
    view.series[rec.s][rec.n] = rec.p
  elseif rec.t == "bar" then
    view.bars[rec.x] = rec
  elseif rec.t == "update" then
    view.header.config, view.header.series = rec.config, rec.series
  end
  return view
end

local function view_of(path)
  local view = {}
  for _, rec in ipairs((lines(path))) do apply(view, rec) end
  return view
end

-- The numbers of a series' points, in order.
local function numbers(points)
  local ns = {}
  for n in pairs(points or {}) do ns[#ns + 1] = n end
  table.sort(ns)
  return ns
end

describe("Chart", function()
  it("keeps the config, the series and every point in the bot's folder, updates by index and the array form", function()
    local r = run([[
      local c = Chart({
        title = { text = "Spread" }, xAxis = { type = "datetime" },
        series = { { name = "Bid", data = {} }, { name = "Ask", type = "spline", data = {} } },
      })
      c.add(0, { 1000, 1.5 })
      c.add(1, { 1000, 2.5 })
      c:add(0, { 2000, 1.75 })             -- with a colon too
      c.add({ 1, { 2000, json.null } })    -- the platform's array form; json.null is a gap
      c.add(0, { 2000, 1.8 }, -1)          -- replaces the latest point
      c.add(1, { 1000, 2.25 }, 0)          -- and the oldest
      c.add({ 0, { name = "note", x = 3000, y = 2 } })
    ]])
    assert.are.equal(0, r.code, r.err)
    local recs, torn, text = lines(r.bot .. "/chart.jsonl")
    assert.is_false(torn)
    local head = recs[1]
    assert.are.equal("chart", head.t)
    assert.are.equal(1, head.version)
    assert.are.equal("chart", head.kind)
    assert.are.equal(1, head.gen)
    assert.are.equal(10000, head.max_points)
    assert.are.same({ { chart = 0, name = "Bid", type = "line" }, { chart = 0, name = "Ask", type = "spline" } },
      head.series)
    assert.are.same({ text = "Spread" }, head.config.title)
    assert.truthy(text:find('"data":[],"name":"Bid"', 1, true), text)   -- an empty data stays an array
    -- every call one line, in the order made, on the bot's clock
    local now = os.time() * 1000
    local got = {}
    for i = 2, #recs do
      local rec = recs[i]
      assert.are.equal("point", rec.t)
      assert.truthy(math.abs(rec.time - now) < 120000, rec.time)
      got[#got + 1] = { rec.s, rec.n, rec.p }
    end
    assert.are.same({
      { 0, 0, { 1000, 1.5 } }, { 1, 0, { 1000, 2.5 } }, { 0, 1, { 2000, 1.75 } }, { 1, 1, { 2000, json.null } },
      { 0, 1, { 2000, 1.8 } }, { 1, 0, { 1000, 2.25 } }, { 0, 2, { name = "note", x = 3000, y = 2 } },
    }, got)
    local view = view_of(r.bot .. "/chart.jsonl")
    assert.are.same({ [0] = { 1000, 1.5 }, [1] = { 2000, 1.8 }, [2] = { name = "note", x = 3000, y = 2 } },
      view.series[0])
    assert.are.same({ [0] = { 1000, 2.25 }, [1] = { 2000, json.null } }, view.series[1])
  end)

  it("in a replay: the replay's clock, written whole when the bot ends, the same file every time", function()
    local text = [[
      function main()
        local c = Chart({ series = { { name = "Last" }, { name = "k", type = "candlestick" } } })
        for i = 1, 5 do
          local t = exchange.GetTicker()
          c.add(0, { t.Time, t.Last })
          c.add(1, { t.Time, t.Open, t.High, t.Low, t.Last })
          Sleep(60000)
        end
      end
    ]]
    local r1, r2 = run(text, "replay"), run(text, "replay")
    assert.are.equal(0, r1.code, r1.err)
    local recs = lines(r1.bot .. "/chart.jsonl")
    assert.are.equal(11, #recs)
    -- 2024-01-01 00:01 UTC is 1704067260000 ms: two points a minute
    for i = 2, 11 do
      assert.are.equal(1704067260000 + (i - 2) // 2 * 60000, recs[i].time)
      assert.are.equal((i - 2) % 2, recs[i].s)
    end
    assert.are.equal(5, #recs[3].p)
    assert.are.equal(h.read(r1.bot .. "/chart.jsonl"), h.read(r2.bot .. "/chart.jsonl"))
  end)

  it("numbers the series of several charts on from one chart to the next; reset, del and update", function()
    local r = run([[
      local function snap(name)
        local f = io.open(BOT .. "/chart.jsonl"); local t = f:read("a"); f:close()
        f = io.open(name, "w"); f:write(t); f:close()
      end
      local c = Chart({
        { title = { text = "prices" }, series = { { name = "a" }, { name = "b" } } },
        { chart = { type = "column" }, series = { { name = "c" } } },
      })
      for i = 1, 4 do c.add(0, i); c.add(1, i * 10); c.add(2, { i, i * 100 }) end
      c.reset(2)
      snap("reset.jsonl")
      c.del(1)                       -- b goes; c is series 1 now
      c.add(1, { 5, 500 })
      snap("del.jsonl")
      c.update({ { title = { text = "new" }, series = { { name = "a" } } }, { series = { { name = "c" } } } })
      snap("update.jsonl")
      c.update({ { series = { { name = "a" } } } })      -- drops series 1: the file is written whole
      snap("drop.jsonl")
      c.reset()
    ]], "live", { "-p", "BOT=d/bots/bot1" })
    assert.are.equal(0, r.code, r.err)
    local reset = view_of(r.dir .. "/reset.jsonl")
    assert.are.equal(2, reset.header.gen)
    assert.are.same({ { chart = 0, name = "a", type = "line" }, { chart = 0, name = "b", type = "line" },
      { chart = 1, name = "c", type = "column" } }, reset.header.series)
    assert.are.same({ [2] = 3, [3] = 4 }, reset.series[0])
    assert.are.same({ [2] = 30, [3] = 40 }, reset.series[1])
    assert.are.same({ [2] = { 3, 300 }, [3] = { 4, 400 } }, reset.series[2])
    assert.are.equal(7, #lines(r.dir .. "/reset.jsonl"))      -- the header and the points kept, nothing else

    local del = view_of(r.dir .. "/del.jsonl")
    assert.are.equal(3, del.header.gen)
    assert.are.same({ { chart = 0, name = "a", type = "line" }, { chart = 1, name = "c", type = "column" } },
      del.header.series)
    assert.are.same({ { name = "a" } }, del.header.config[1].series)
    assert.are.same({ [2] = 3, [3] = 4 }, del.series[0])
    assert.are.same({ [2] = { 3, 300 }, [3] = { 4, 400 }, [4] = { 5, 500 } }, del.series[1])

    local upd, ulines = view_of(r.dir .. "/update.jsonl"), lines(r.dir .. "/update.jsonl")
    assert.are.equal(3, upd.header.gen)                                -- appended to, not replaced
    assert.are.equal("update", ulines[#ulines].t)
    assert.are.same({ text = "new" }, upd.header.config[1].title)
    assert.are.same({ [2] = { 3, 300 }, [3] = { 4, 400 }, [4] = { 5, 500 } }, upd.series[1])

    local drop = view_of(r.dir .. "/drop.jsonl")
    assert.are.equal(4, drop.header.gen)
    assert.are.same({ { chart = 0, name = "a", type = "line" } }, drop.header.series)
    assert.is_nil(drop.series[1])

    local last = lines(r.bot .. "/chart.jsonl")
    assert.are.equal(1, #last)
    assert.are.equal(5, last[1].gen)
  end)

  it("of a live bot is kept across restarts, series by series; a later chart replaces it", function()
    local r = run([[
      local c = Chart({ series = { { name = "a" }, { name = "b" } } })
      c.add(0, 1); c.add(0, 2); c.add(1, 10)
    ]])
    assert.are.equal(0, r.code, r.err)
    local r2 = run([[
      local c = Chart({ series = { { name = "a" } } })   -- the platform's idiom would reset() here
      c.add(0, 3)
      c.add(0, 2.5, 1)
      local f = io.open(BOT .. "/chart.jsonl"); local t = f:read("a"); f:close()
      f = io.open("kept.jsonl", "w"); f:write(t); f:close()
      local k = KLineChart()
      print(pcall(c.add, 0, 4))
      k.begin({ Time = 60000, Open = 1, High = 2, Low = 0.5, Close = 1.5 })
      k.close()
    ]], nil, { "-p", "BOT=d/bots/bot1" }, r.dir)
    assert.are.equal(0, r2.code, r2.err)
    assert.are.equal("false\tChart.add: this Chart was replaced by a later Chart() or KLineChart() call (a bot has one "
      .. "chart, as on the platform): draw with the object that call returned\n", r2.out)
    -- the second run's Chart kept series a's points, and b's went with b
    local kept = view_of(r.dir .. "/kept.jsonl")
    assert.are.equal(2, kept.header.gen)
    assert.are.same({ { chart = 0, name = "a", type = "line" } }, kept.header.series)
    assert.are.same({ [0] = 1, [1] = 2.5, [2] = 3 }, kept.series[0])
    assert.is_nil(kept.series[1])
    local recs = lines(r.bot .. "/chart.jsonl")
    assert.are.equal("kline", recs[1].kind)
    assert.are.equal(3, recs[1].gen)
    assert.are.same({ "chart", "bar" }, { recs[1].t, recs[2].t })
    assert.are.equal(2, #recs)
    local r3 = run([[Chart({ series = { { name = "a" } } }).add(0, 1)]], nil, nil, r.dir)
    assert.are.equal(0, r3.code, r3.err)
    local v = view_of(r.bot .. "/chart.jsonl")
    assert.are.equal(4, v.header.gen)
    assert.are.same({ [0] = 1 }, v.series[0])         -- a KLineChart's bars are not a Chart's points
  end)

  it("keeps the last 10,000 points of a series, numbers counting on, and bounds the file", function()
    local r = run([[
      function main()
        local c = Chart({ series = { { name = "x" } } })
        for i = 0, 49999 do c.add(0, { i, i }) end
        c.add(0, { 49999, -1 }, -1)     -- the latest
        c.add(0, { 40000, -2 }, 0)      -- the oldest kept
        print(pcall(c.add, 0, { 0, 0 }, -10001))
      end
    ]], "replay")
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.out:find("index -10001 is out of range: series 0 has 10000 points (index 0 to 9999, or -10000 "
      .. "to -1)", 1, true), r.out)
    local recs, torn, text = lines(r.bot .. "/chart.jsonl")
    assert.is_false(torn)
    assert.truthy(recs[1].gen > 1, "compacted at least once")
    local view = view_of(r.bot .. "/chart.jsonl")
    -- a reader keeps what the bot keeps: the last max_points by number
    local ns, kept, bytes = numbers(view.series[0]), {}, #json.encode(recs[1]) + 1
    for _, n in ipairs(ns) do if n > ns[#ns] - recs[1].max_points then kept[#kept + 1] = n end end
    assert.are.equal(10000, #kept)
    assert.are.same({ 40000, 49999 }, { kept[1], kept[#kept] })
    assert.are.same({ 40000, -2 }, view.series[0][40000])
    assert.are.same({ 49999, -1 }, view.series[0][49999])
    assert.are.same({ 45000, 45000 }, view.series[0][45000])
    for _, n in ipairs(kept) do
      bytes = bytes + #string.format('{"t":"point","s":0,"n":%d,"time":1704067260000,"p":%s}\n', n,
        json.encode(view.series[0][n]))
    end
    assert.truthy(#text <= 2 * bytes + 1024 * 1024, #text .. " bytes for " .. bytes)
  end)

  it("refuses, in one line naming the value and what is allowed, a config, series, point or index that cannot be", function()
    local r = run([[
      local function try(f, ...) print(select(2, pcall(f, ...))) end
      try(Chart, 5)
      try(Chart, { series = 5 })
      try(Chart, { series = { 5 } })
      try(Chart, { { series = {} }, 5 })
      try(Chart, { title = { formatter = print } })
      local c = Chart({ series = { { name = "p" }, { name = "k", type = "candlestick" },
                                   { name = "r", type = "arearange" } } })
      try(c.add, 3, 1)
      try(c.add, 0, "1")
      try(c.add, 0, { 1, "2" })
      try(c.add, 0, { 1, nil })
      try(c.add, 0, { 1, 0/0 })
      try(c.add, 0, { 1, 2, 3 })
      try(c.add, 0, { x = 1 })
      try(c.add, 1, { 1, 2 })
      try(c.add, 2, 5)
      try(c.add, 0, { 1, 2 }, 0)
      c.add(0, { 1, 2 })
      try(c.add, 0, { 1, 2 }, 1)
      try(c.add, 0, { 1, 2 }, 0.5)
      try(c.reset, -1)
      try(c.del, 3)
      try(function() return c.nope end)
    ]])
    assert.are.equal(0, r.code, r.err)
    assert.are.same({
      "Chart: config must be a table (a Highcharts options table, or an array of them for several charts), not 5",
      "Chart: config.series must be an array of series ({name = ..., data = {}}), not 5",
      'Chart: config.series[1] must be a series table ({name = ..., type = "line", data = {}}), not 5',
      "Chart: config[2] must be a chart's options table, not 5",
      "Chart: config is not JSON: cannot encode function at title.formatter",
      "Chart.add: series 3 does not exist: the chart has 3 series (0 to 2)",
      'Chart.add: series 0 (line) takes y, [x, y] or {x = ..., y = ...}, not "1"',
      'Chart.add: series 0: y must be a number or json.null (a gap), not "2" (a string)',
      "Chart.add: series 0 (line) takes y, [x, y] or {x = ..., y = ...}, not [1] (a nil ends a Lua table early: "
        .. "write json.null for a gap)",
      "Chart.add: series 0: y must be a number or json.null (a gap), not nan: write json.null for a gap",
      "Chart.add: series 0 (line) takes y, [x, y] or {x = ..., y = ...}, not [1,2,3]",
      'Chart.add: series 0 (line) takes y, [x, y] or {x = ..., y = ...}, not {"x":1}',
      "Chart.add: series 1 (candlestick) takes [x, open, high, low, close] or {x = ..., open = ..., high = ..., "
        .. "low = ..., close = ...}, not [1,2]",
      "Chart.add: series 2 (arearange) takes [x, low, high] or {x = ..., low = ..., high = ...}, not 5",
      "Chart.add: index 0: series 0 has no points yet (add one without an index)",
      "Chart.add: index 1 is out of range: series 0 has 1 point (index 0 to 0, or -1 to -1)",
      "Chart.add: index must be a whole number (0 the oldest point kept, -1 the latest), not 0.5",
      "Chart.reset: the number of points to keep must be a whole number >= 0, not -1",
      "Chart.del: series 3 does not exist: the chart has 3 series (0 to 2)",
      'strategy.lua:24: Chart has no "nope" (its calls: add, del, reset, update)',
    }, h.lines(r.out))
  end)

  it("takes flags points without a y, as Highcharts draws them, and refuses one without its x", function()
    local r = run([[
      local function try(f, ...) print(select(2, pcall(f, ...))) end
      function main()
        local c = Chart({ series = { { name = "close" }, { type = "flags", onSeries = "close", name = "signals" } } })
        c.add(0, { 1704067200000, 42000 })
        c.add(1, { x = 1704067200000, color = "#ff0000", shape = "flag", title = "B", text = "buy" })
        c.add(1, { x = 1704067260000, y = 42010, title = "S" })
        try(c.add, 1, { title = "B" })
        try(c.add, 1, { 1704067200000, 42000 })
        try(c.add, 1, { x = 1, y = "high" })
      end
    ]])
    assert.are.equal(0, r.code, r.err)
    assert.are.same({
      'Chart.add: series 1 (flags) takes {x = ..., title = ..., text = ...} (y optional), not {"title":"B"}',
      "Chart.add: series 1 (flags) takes {x = ..., title = ..., text = ...} (y optional), not [1704067200000,42000]",
      'Chart.add: series 1: y must be a number or json.null (a gap), not "high" (a string)',
    }, h.lines(r.out))
    local chart = h.read(r.bot .. "/chart.jsonl")
    assert.matches('"title":"B"', chart, 1, true)
    assert.matches('"y":42010', chart, 1, true)
  end)

  it("keeps a bot running when its file cannot be written, says so once, and writes it whole when it can", function()
    local r = run([[
      function main()
        os.execute("mkdir " .. BOT .. "/chart.jsonl")     -- a folder where the file goes
        local c = Chart({ series = { { name = "x" } } })
        c.add(0, 1)
        Sleep(60000)
        c.add(0, 2)
        os.execute("rmdir " .. BOT .. "/chart.jsonl")
        Sleep(60000)
        c.add(0, 3)
        Log("still running")
      end
    ]], "replay", { "-p", "BOT=d/replay/bots/strategy" })
    assert.are.equal(0, r.code, r.err)
    local warned = h.warnings(r.err, "cannot replace")
    assert.are.equal(1, #warned, r.err)
    assert.truthy(warned[1]:find("/d/replay/bots/strategy/chart.jsonl: Is a directory; the chart is kept in memory "
      .. "and chart.jsonl is written whole again once the disk takes it (said once until a write succeeds)", 1, true),
      r.err)
    assert.truthy(r.out:find("00:03:00.000 chart: chart.jsonl is written again\n", 1, true), r.out)
    assert.truthy(r.out:find("still running", 1, true), r.out)
    assert.are.same({ [0] = 1, [1] = 2, [2] = 3 }, view_of(r.bot .. "/chart.jsonl").series[0])
  end)
end)

describe("KLineChart", function()
  it("keeps each bar with what was drawn on it, once; a bar drawn again differently replaces it", function()
    local r = run([[
      function main()
        local c = KLineChart({ overlay = true, pricePrecision = 2 })
        local last
        for step = 1, 3 do
          local r = exchange.GetRecords()
          for i = #r - 2, #r do            -- the last three bars each step: two were drawn the step before
            local bar = r[i]
            c.begin(bar)
            c.barcolor("#ff0000")
            local h = c.plot(bar.High, "high", "#00ff00", 2)
            local l = c:plot(0/0, { title = "gap", style = "linebr" })
            c.fill(h, l, { color = "rgba(255, 0, 0, 0.2)" })
            print("plots", h, l, c.hline(bar.High, "top", { linestyle = "dashed" }))
            c.plotshape(true, "up", { style = "diamond", location = "abovebar" })
            c.plotchar(bar.Close, { char = "X" })
            c.plotarrow(-1)
            c.plotcandle(bar.Open, bar.High, bar.Low, bar.Close, "c")
            c.signal("long", bar.High, 1.5)
            c.close(bar)
            last = bar
          end
          Sleep(60000)
        end
        c.begin(last)
        c.bgcolor("#0000ff", { overlay = false })
        c.close()
      end
    ]], "replay")
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.out:find("plots\t0\t1\t2\n", 1, true), r.out)
    local recs, _, text = lines(r.bot .. "/chart.jsonl")
    assert.are.equal("kline", recs[1].kind)
    assert.are.same({ __isCandle = true, overlay = true, pricePrecision = 2 }, recs[1].config)
    -- three bars, then one new bar a step, then the last bar again, drawn differently
    assert.are.equal(1 + 3 + 1 + 1 + 1, #recs)
    local xs = {}
    for i = 2, #recs do xs[#xs + 1] = recs[i].x end
    assert.are.same({ xs[1], xs[1] + 60000, xs[1] + 120000, xs[1] + 180000, xs[1] + 240000, xs[1] + 240000 }, xs)
    local bar = recs[2]
    assert.are.same({ "Close", "High", "Low", "Open", "Time", "Volume" }, numbers(bar.bar))
    assert.are.equal(bar.x, bar.bar.Time)
    assert.are.same({
      { f = "barcolor", color = "#ff0000" },
      { f = "plot", series = bar.bar.High, title = "high", color = "#00ff00", linewidth = 2, index = 0 },
      { f = "plot", title = "gap", style = "linebr", index = 1 },         -- series null: nothing on this bar
      { f = "fill", plot1 = 0, plot2 = 1, color = "rgba(255, 0, 0, 0.2)" },
      { f = "hline", price = bar.bar.High, title = "top", linestyle = "dashed", index = 2 },
      { f = "plotshape", series = true, title = "up", style = "diamond", location = "abovebar" },
      { f = "plotchar", series = bar.bar.Close, char = "X" },
      { f = "plotarrow", series = -1 },
      { f = "plotcandle", open = bar.bar.Open, high = bar.bar.High, low = bar.bar.Low, close = bar.bar.Close,
        title = "c" },
      { f = "signal", direction = "long", price = bar.bar.High, qty = 1.5, id = "long" },
    }, bar.draw)
    assert.truthy(text:find('"f":"plot","index":1,"series":null', 1, true), text)
    local view = view_of(r.bot .. "/chart.jsonl")
    assert.are.same({ { f = "bgcolor", color = "#0000ff", overlay = false } }, view.bars[xs[5]].draw)
  end)

  it("reset keeps the last bars; a bar older than the kept ones when 10,000 are kept is not drawn", function()
    local r = run([[
      local c = KLineChart()
      local function draw(t, v)
        c.begin({ Time = t, Open = v, High = v, Low = v, Close = v })
        c.plot(v)
        c.close()
      end
      for i = 1, 10050 do draw(i * 60000, i) end
      draw(60000, 7)                  -- gone already
      draw(100 * 60000, -1)           -- kept: drawn anew
      draw(10049 * 60000 + 30000, 0)  -- between two bars (not the latest)
      draw(10049 * 60000 + 30000, 0)  -- the same again: nothing new
      local f = io.open(BOT .. "/chart.jsonl"); local t = f:read("a"); f:close()
      f = io.open("before.jsonl", "w"); f:write(t); f:close()
      c.reset(3)
    ]], nil, { "-p", "BOT=d/bots/bot1" })
    assert.are.equal(0, r.code, r.err)
    local before = view_of(r.dir .. "/before.jsonl")
    local xs = numbers(before.bars)
    local kept = {}
    for i = #xs - 9999, #xs do kept[#kept + 1] = xs[i] end
    assert.are.same({ 52 * 60000, 10050 * 60000 }, { kept[1], kept[#kept] })
    assert.are.equal(-1, before.bars[100 * 60000].bar.Close)
    assert.are_not.equal(7, before.bars[60000] and before.bars[60000].bar.Close)
    local tail = 0
    for _, line in ipairs(lines(r.dir .. "/before.jsonl")) do
      if line.x == 10049 * 60000 + 30000 then tail = tail + 1 end
    end
    assert.are.equal(1, tail)
    local recs = lines(r.bot .. "/chart.jsonl")
    assert.are.equal(4, #recs)
    assert.are.same({ 10049 * 60000, 10049 * 60000 + 30000, 10050 * 60000 },
      numbers(view_of(r.bot .. "/chart.jsonl").bars))
  end)

  it("refuses, in one line, a drawing outside a bar, a bar that is not one, an option it does not have", function()
    local r = run([[
      local function try(f, ...) print(select(2, pcall(f, ...))) end
      try(KLineChart, 5)
      try(KLineChart, { overlay = 1 })
      local k = KLineChart()
      try(k.plot, 1)
      try(k.close)
      try(k.begin, { Time = 1.5, Open = 1, High = 1, Low = 1, Close = 1 })
      try(k.begin, { Time = 1, Open = "1", High = 1, Low = 1, Close = 1 })
      k.begin({ Time = 60000, Open = 1, High = 2, Low = 0.5, Close = 1.5 })
      try(k.begin, { Time = 120000, Open = 1, High = 2, Low = 0.5, Close = 1.5 })
      try(k.plot, "x")
      try(k.plot, 1, { colour = "red" })
      try(k.plot, 1, { style = "dots" })
      try(k.plot, 1, "t", 5)
      try(k.fill, 0, 1)
      try(k.plotchar, 1)
      try(k.signal, "hold", 1, 1)
      try(k.hline, 0/0)
      try(function() return k.add end)
    ]])
    assert.are.equal(0, r.code, r.err)
    assert.are.same({
      "KLineChart: options must be a table ({overlay = true, pricePrecision = 2, volumePrecision = 4}), not 5",
      "KLineChart: overlay must be a boolean, not 1",
      "KLineChart.plot: draw between c.begin(bar) and c.close(): no bar is begun",
      "KLineChart.close: no bar is begun (c.begin(bar) starts one)",
      "KLineChart.begin: bar.Time must be a whole number of ms, not 1.5",
      'KLineChart.begin: bar.Open must be a number, not "1"',
      "KLineChart.begin: the bar at 60000 is still begun: end it with c.close() first",
      'KLineChart.plot: series must be a number, not "x"',
      'KLineChart.plot has no option "colour" (its options: title, color, linewidth, style, trackprice, histbase, '
        .. "offset, join, editable, show_last, display, overlay)",
      "KLineChart.plot: style must be one of stepline_diamond, stepline, cross, areabr, area, circles, columns, "
        .. 'histogram, linebr, line, not "dots"',
      "KLineChart.plot: color must be a string, not 5",
      "KLineChart.fill: plot1 must be a number c.plot or c.hline returned on this bar (none yet), not 0",
      'KLineChart.plotchar: char is required ({char = "X"})',
      "KLineChart.signal: direction must be one of buy, long, sell, short, closebuy, closelong, closesell, "
        .. 'closeshort, not "hold"',
      "KLineChart.hline: price must be a number, not nan",
      'strategy.lua:19: KLineChart has no "add" (its calls: barcolor, begin, bgcolor, close, fill, hline, plot, '
        .. "plotarrow, plotcandle, plotchar, plotshape, reset, signal)",
    }, h.lines(r.out))
  end)
end)

describe("the chart file", function()
  local procs = {}
  after_each(function() h.kill_all(procs) end)

  -- Follows path as docs/platform.md tells a reader to: whole lines only, from where it left off; when the file at
  -- path has another header (it was replaced whole), from the start of the new one.
  local function follower(path)
    local F = { off = 0, rest = "", replaced = 0, view = {} }
    function F.poll()
      local g = io.open(path, "rb")
      if not g then return end
      local first = g:read("l")
      if not F.f or first ~= F.first then
        if F.f then F.f:close(); F.replaced = F.replaced + 1 end
        F.f, F.first, F.off, F.rest, F.view = g, first, 0, "", {}
      else
        g:close()
      end
      F.f:seek("set", F.off)
      local data = F.f:read("a") or ""
      F.off = F.off + #data
      data = F.rest .. data
      local upto = data:match(".*\n()") or 1
      F.rest = data:sub(upto)
      for line in data:sub(1, upto - 1):gmatch("([^\n]*)\n") do apply(F.view, json.decode(line)) end
    end
    return F
  end

  it("can be followed while the bot writes and compacts it; a killed bot leaves whole lines, kept at its restart", function()
    local dir = h.tmpdir()
    h.script(dir, [[
      local c = Chart({ series = { { name = "a" }, { name = "b" } } })
      Log("ready")
      local i = 0
      while true do
        i = i + 1
        c.add(i % 2, { i, i })
        if i % 7 == 0 then c.add(0, { i, -i }, -1) end
        if i % 500 == 0 then Sleep(1) end
      end
    ]])
    local p = h.spawn{ dir = dir, "--data-dir", dir .. "/d", "--id", "bot1", "strategy.lua" }
    procs[#procs + 1] = p
    assert.truthy(p:wait_for("ready"))
    local path = dir .. "/d/bots/bot1/chart.jsonl"
    local F = follower(path)
    local gen0
    assert.truthy(h.eventually(function()
      F.poll()
      gen0 = gen0 or (F.view.header and F.view.header.gen)
      return F.view.header and F.view.header.gen >= gen0 + 2      -- compacted twice while followed
    end, 60))
    p:signal("KILL")
    p:wait()
    F.poll()
    F.f:close()
    local recs, torn = lines(path)
    assert.is_false(torn)
    assert.are.same(view_of(path), F.view)
    assert.truthy(F.replaced >= 2)
    local ns = numbers(F.view.series[0])
    assert.truthy(#ns > 1000, #ns)
    assert.truthy(ns[#ns] - ns[1] + 1 == #ns)                 -- no point missing between the first and the last
    -- the restart keeps the points the bot kept (the last max_points of each series), in a file written whole
    local r = run([[Chart({ series = { { name = "a" }, { name = "b" } } })]], nil, nil, dir)
    assert.are.equal(0, r.code, r.err)
    local after = view_of(path)
    assert.are.equal(recs[1].gen + 1, after.header.gen)
    for s = 0, 1 do
      local all, want = numbers(F.view.series[s]), {}
      for _, n in ipairs(all) do
        if n > all[#all] - recs[1].max_points then want[n] = F.view.series[s][n] end
      end
      assert.are.same(want, after.series[s])
    end
  end)
end)
