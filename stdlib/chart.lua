-- chart.lua: the platform's Chart(config) and KLineChart(options), kept in the bot's folder for the replay report
-- and the dashboard to draw. Loaded at the first Chart() or KLineChart() call (stdlib/platform.lua).
--
-- A bot has one chart, as the platform's strategy page has one chart area: a later Chart() or KLineChart() call
-- replaces it, and the object an earlier call returned then refuses to draw. The chart lives in
-- <bot dir>/chart.jsonl (replay/bots/<id>/chart.jsonl in a replay), one JSON object a line:
--
--   {"t":"chart","version":1,"kind":"chart"|"kline","gen":G,"time":MS,"max_points":N,"series":[...],"config":...}
--       always the first line: what the chart is (Chart's config, or KLineChart's options), and gen, which grows
--       by one each time the file is replaced whole
--   {"t":"point","s":S,"n":N,"time":MS,"p":POINT}      Chart: point number N of series S (N new: appended; N known:
--                                                      replaced, chart.add's index)
--   {"t":"bar","x":T,"time":MS,"bar":{...},"draw":[...]}  KLineChart: the bar at time T and what was drawn on it
--                                                      (T new: added in time order; T known: replaced)
--   {"t":"update","time":MS,"series":[...],"config":...}   chart.update(config)
--
-- Lines are only ever appended, each whole with one write(2) (require("stratrun.files").append, as LogProfit), and an
-- appended line never takes anything away; whatever does (reset, del, an update that drops series, a new Chart(),
-- the compaction that bounds the file) replaces the file atomically (.replace, as LogProfitReset), with gen + 1. A
-- reader follows the file as tail -F does (docs/platform.md, "Charts"). A series keeps its last MAX_POINTS
-- points and a KLineChart its last MAX_POINTS bars; the file is compacted (rewritten with what is kept) once it is
-- more than twice what it holds plus 1 MiB. A live bot's chart is kept across restarts, until reset, as the
-- platform's is; a replay's starts empty, as every replay's folder does. A replay writes its lines in batches of
-- 64 KiB (the rest when the bot ends): whole lines still, one write(2) a batch instead of an open, a write and a
-- close a line.

local json, UnixNano, Log = json, UnixNano, Log
local files = require("stratrun.files")    -- append, replace, read: the bot-folder primitives (files.c)
local warn = require("stratrun.log").warn
local ok_config, config = pcall(require, "stratrun.config")
local replay = ok_config and type(config) == "table" and config.replay or false

local FILE = "chart.jsonl"
local MAX_POINTS = 10000            -- per series, and bars of a KLineChart
local MAX_RECORD = 16 * 1024        -- bytes of one point or one bar (with its drawings) as JSON
local MAX_CONFIG = 1024 * 1024      -- bytes of a config as JSON
local SLACK = 1024 * 1024           -- the file is compacted past 2 x what it holds + SLACK
local MAX_READ = 256 * 1024 * 1024  -- what a restart reads back at most
local FLUSH = 64 * 1024             -- a replay's batch
local RETRY_MS = 1000               -- after a failed write, how often the file is tried again

local M = {}

-- Raises msg at the strategy's line: the first caller outside this file.
local SRC = debug.getinfo(1, "S").short_src
local raise = require("caller")(SRC)

-- A value as a message shows it: JSON for tables, strings quoted, at most 80 characters.
local function show(v)
  local s
  if type(v) == "string" then
    s = string.format("%q", v)
  elseif type(v) == "table" then
    local ok, text = pcall(json.encode, v)
    s = ok and text or "a table that is not JSON"
  elseif v == json.null then
    s = "json.null"
  elseif v ~= v then
    s = "nan"
  else
    s = tostring(v)
  end
  if #s > 80 then s = s:sub(1, 77) .. "..." end
  return s
end

local function is_num(v)
  return type(v) == "number" and v == v and v - v == 0
end

local function now_ms()
  return UnixNano() // 1000000
end

-- A whole number (5.0 counts) or nil.
local function whole(v)
  return type(v) == "number" and math.tointeger(v) or nil
end

local function encode(what, v)
  local ok, text = pcall(json.encode, v)
  if not ok then raise(what .. " is not JSON: " .. tostring(text):gsub("^json%.encode: ", "")) end
  return text
end

-- ---- the chart the bot draws, and its file ----

-- store: nil until Chart or KLineChart; then {kind, obj, gen, body (the header's "series" and "config" members),
-- config (Chart's config as JSON), series and nseries (Chart: each series' chart, name, type and point shape),
-- S (Chart: S[s] = {first, last, line = {[n] = line}}) or B and bar (KLineChart: B.times[B.head..] ascending,
-- B.pl[T] the bar's payload, B.tm[T] its write time; bar the one begun), state (bytes the records hold), size
-- (bytes of the file), broken (the last failed write: {msg, at})}
local store
-- A replay's lines not written yet. Its finalizer writes them when the bot's Lua state closes (every object's
-- finalizer runs then); the closures of Chart and KLineChart hold it until then.
local buf = { lines = {}, bytes = 0 }

local function header(st)
  return string.format('{"t":"chart","version":1,"kind":"%s","gen":%d,"time":%d,"max_points":%d,%s}\n', st.kind,
    st.gen, now_ms(), MAX_POINTS, st.body)
end

local function bar_line(T, ms, payload)
  return '{"t":"bar","x":' .. T .. ',"time":' .. ms .. ',' .. payload .. '}\n'
end

-- The whole file: the header, then every record kept, series by series or bar by bar.
local function content(st)
  local out = { header(st) }
  if st.kind == "chart" then
    for s = 0, st.nseries - 1 do
      local ser = st.S[s]
      for n = ser.first, ser.last do out[#out + 1] = ser.line[n] end
    end
  else
    local B, times = st.B, {}
    for i = B.head, #B.times do
      local T = B.times[i]
      times[#times + 1] = T
      out[#out + 1] = bar_line(T, B.tm[T], B.pl[T])
    end
    B.times, B.head = times, 1
  end
  return table.concat(out)
end

local function failed(st, msg)
  if not st.broken or st.broken.msg ~= msg then
    warn(string.format("chart: %s; the chart is kept in memory and %s is written whole again once the disk "
      .. "takes it (said once until a write succeeds)", msg, FILE))
  end
  st.broken = { msg = msg, at = now_ms() }
end

-- Replaces the file with what the chart holds (atomically: a reader sees the old file or the new one).
local function rewrite(st)
  buf.lines, buf.bytes = {}, 0
  st.gen = st.gen + 1
  local text = content(st)
  local ok, msg = files.replace(FILE, text)
  st.size = #text
  if not ok then return failed(st, msg) end
  if st.broken then
    st.broken = nil
    Log("chart: " .. FILE .. " is written again")
  end
end

local function flush()
  if buf.bytes == 0 then return end
  local text = table.concat(buf.lines)
  buf.lines, buf.bytes = {}, 0
  local ok, msg = files.append(FILE, text)
  if not ok and store then failed(store, msg) end
end
setmetatable(buf, { __gc = flush })

-- Appends one record's line, or rewrites the file when it has grown past its bound or a write failed before.
local function emit(st, line)
  st.size = st.size + #line
  if st.broken then
    if now_ms() - st.broken.at >= RETRY_MS then rewrite(st) end
    return
  end
  if replay then
    buf.lines[#buf.lines + 1] = line
    buf.bytes = buf.bytes + #line
    if buf.bytes >= FLUSH then flush() end
  else
    local ok, msg = files.append(FILE, line)
    if not ok then return failed(st, msg) end
  end
  if st.size > SLACK + 2 * st.state then rewrite(st) end
end

-- Chart: puts line as point n of series s (n = last + 1 appends; first <= n <= last replaces). false: n is
-- neither (a line of a damaged file).
local function point_put(st, s, n, line)
  local ser = st.S[s]
  if ser.last < ser.first then
    ser.first, ser.last = n, n - 1
  end
  if n == ser.last + 1 then
    ser.last = n
    ser.line[n] = line
    st.state = st.state + #line
    if ser.last - ser.first + 1 > MAX_POINTS then
      st.state = st.state - #ser.line[ser.first]
      ser.line[ser.first] = nil
      ser.first = ser.first + 1
    end
  elseif n >= ser.first and n <= ser.last then
    st.state = st.state + #line - #ser.line[n]
    ser.line[n] = line
  else
    return false
  end
  return true
end

local BAR_EXTRA = 48        -- the bytes of a bar's line besides its payload, about

-- KLineChart: puts the bar at time T (payload: its "bar" and "draw" members). false: nothing changed (the same
-- drawing again, or a bar older than every one kept when MAX_POINTS are).
local function bar_put(st, T, ms, payload)
  local B = st.B
  local old = B.pl[T]
  if old then
    if old == payload then return false end
    st.state = st.state + #payload - #old
    B.pl[T], B.tm[T] = payload, ms
    return true
  end
  local times, n = B.times, #B.times
  if n < B.head or T > times[n] then
    times[n + 1] = T
  else
    if n - B.head + 1 >= MAX_POINTS and T < times[B.head] then return false end
    local lo, hi = B.head, n          -- the first time after T
    while lo < hi do
      local mid = (lo + hi) // 2
      if times[mid] > T then hi = mid else lo = mid + 1 end
    end
    table.insert(times, lo, T)
  end
  B.pl[T], B.tm[T] = payload, ms
  st.state = st.state + #payload + BAR_EXTRA
  if #times - B.head + 1 > MAX_POINTS then
    local oldest = times[B.head]
    st.state = st.state - #B.pl[oldest] - BAR_EXTRA
    B.pl[oldest], B.tm[oldest] = nil, nil
    B.head = B.head + 1     -- times below head stay until the next rewrite: # needs a sequence
  end
  return true
end

local function new_state(kind, body, nseries)
  local st = { kind = kind, body = body, nseries = nseries, state = 0, size = 0, gen = 0 }
  if kind == "chart" then
    st.S = {}
    for s = 0, nseries - 1 do st.S[s] = { first = 0, last = -1, line = {} } end
  else
    st.B = { times = {}, head = 1, pl = {}, tm = {} }
  end
  return st
end

-- The chart a live bot's earlier run left in its folder, as a state to take the records from (nil if none).
local function load()
  local text, msg = files.read(FILE, MAX_READ)
  if not text then
    if msg then warn("chart: " .. msg .. "; the chart starts empty") end    -- nil alone: no file yet
    return nil
  end
  local head = text:match("^([^\n]*)\n")
  local ok, h = pcall(json.decode, head or "")
  if not ok or type(h) ~= "table" or h.t ~= "chart" or (h.kind ~= "chart" and h.kind ~= "kline") then
    if text ~= "" then
      warn("chart: " .. FILE .. " does not begin with a chart's header; the chart starts empty")
    end
    return nil
  end
  local st = new_state(h.kind, "", 0)
  st.gen = whole(h.gen) or 0
  local skipped = 0
  -- Whole lines only: a line without its newline is one a killed bot left unfinished.
  for line in text:gmatch("[^\n]*\n", #head + 2) do
    if st.kind == "chart" then
      local s, n = line:match('^{"t":"point","s":(%d+),"n":(%d+),"time":%-?%d+,"p":')
      s, n = tonumber(s), tonumber(n)
      if s then
        st.S[s] = st.S[s] or { first = 0, last = -1, line = {} }
        st.nseries = math.max(st.nseries, s + 1)
        if not point_put(st, s, n, line) then skipped = skipped + 1 end
      elseif not line:find('^{"t":"update",') then
        skipped = skipped + 1
      end
    else
      local T, ms, payload = line:match('^{"t":"bar","x":(%-?%d+),"time":(%-?%d+),(.*)}\n$')
      if T then bar_put(st, math.tointeger(tonumber(T)), math.tointeger(tonumber(ms)), payload)
      else skipped = skipped + 1 end
    end
  end
  if skipped > 0 then
    warn(string.format("chart: %d lines of %s are not records of its chart and are left out", skipped, FILE))
  end
  return st
end

-- Makes a new chart the bot's: the records of the one before (this run's, or the earlier run's file) are kept
-- when it is of the same kind, for the series the new one has; then the file is written whole.
local loaded = false
local function start(kind, body, nseries)
  local prev = store
  if not loaded then
    loaded = true
    prev = load()
  end
  local st = new_state(kind, body, nseries)
  if prev then
    st.gen = prev.gen
    if prev.kind == kind then
      if kind == "chart" then
        for s = 0, math.min(nseries, prev.nseries) - 1 do
          local ser = prev.S[s]
          if ser then
            st.S[s] = ser
            for n = ser.first, ser.last do st.state = st.state + #ser.line[n] end
          end
        end
      else
        st.B, st.state = prev.B, prev.state
      end
    end
    st.broken = prev.broken
  end
  store = st
  rewrite(st)
  return st
end

-- ---- Chart ----

-- Point shapes by series type (Highcharts'): what add takes for a series of that type.
local SHAPES = {
  ohlc = { keys = { "open", "high", "low", "close" }, text = "[x, open, high, low, close] or {x = ..., open = ..., "
    .. "high = ..., low = ..., close = ...}" },
  range = { keys = { "low", "high" }, text = "[x, low, high] or {x = ..., low = ..., high = ...}" },
  xyz = { keys = { "y", "z" }, text = "[x, y, z] or {x = ..., y = ..., z = ...}" },
  box = { keys = { "low", "q1", "median", "q3", "high" }, text = "[x, low, q1, median, q3, high] or {x = ..., "
    .. "low = ..., q1 = ..., median = ..., q3 = ..., high = ...}" },
  y = { keys = { "y" }, text = "y, [x, y] or {x = ..., y = ...}" },
  -- a flag sits on the x axis or on the series its onSeries names: y is optional
  flags = { keys = {}, text = "{x = ..., title = ..., text = ...} (y optional)" },
}
local SHAPE_OF = {
  candlestick = SHAPES.ohlc, ohlc = SHAPES.ohlc, hollowcandlestick = SHAPES.ohlc, heikinashi = SHAPES.ohlc,
  arearange = SHAPES.range, areasplinerange = SHAPES.range, columnrange = SHAPES.range, errorbar = SHAPES.range,
  dumbbell = SHAPES.range, bubble = SHAPES.xyz, boxplot = SHAPES.box, flags = SHAPES.flags,
}

-- Chart's config: one Highcharts options table, or an array of them (several charts, whose series are numbered
-- on from one chart to the next). Returns the body of the header ("series":[...],"config":...), the series, and the
-- config as JSON (a copy: the strategy may change its table for a later update).
local function parse_config(fn, config)
  if type(config) ~= "table" then
    raise(fn .. ": config must be a table (a Highcharts options table, or an array of them for several charts), "
      .. "not " .. show(config))
  end
  local several = rawget(config, 1) ~= nil
  local charts = several and config or { config }
  local copies, series = {}, {}
  for c = 1, several and #charts or 1 do
    local cfg = charts[c]
    local where = several and string.format("config[%d]", c) or "config"
    if type(cfg) ~= "table" then
      raise(string.format("%s: %s must be a chart's options table, not %s", fn, where, show(cfg)))
    end
    local copy = {}
    for k, v in pairs(cfg) do copy[k] = v end
    local default = type(cfg.chart) == "table" and type(cfg.chart.type) == "string" and cfg.chart.type or "line"
    local list = cfg.series
    if list ~= nil then
      if type(list) ~= "table" then
        raise(string.format("%s: %s.series must be an array of series ({name = ..., data = {}}), not %s", fn, where,
          show(list)))
      end
      local out = {}
      for i = 1, #list do
        local se = list[i]
        if type(se) ~= "table" or (se.type ~= nil and type(se.type) ~= "string") then
          raise(string.format("%s: %s.series[%d] must be a series table ({name = ..., type = \"line\", data = {}}), "
            .. "not %s", fn, where, i, show(se)))
        end
        local sc = {}
        for k, v in pairs(se) do sc[k] = v end
        if type(sc.data) == "table" and next(sc.data) == nil then sc.data = json.array({}) end
        out[i] = sc
        local ty = se.type or default
        series[#series + 1] = { chart = c - 1, name = type(se.name) == "string" and se.name or nil, type = ty,
                                shape = SHAPE_OF[ty] or SHAPES.y }
      end
      copy.series = json.array(out)
    end
    copies[c] = copy
  end
  local text = encode(fn .. ": config", several and json.array(copies) or copies[1])
  if #text > MAX_CONFIG then
    raise(string.format("%s: config is %d bytes as JSON, more than the %d allowed", fn, #text, MAX_CONFIG))
  end
  local meta = {}
  for i, se in ipairs(series) do meta[i] = { chart = se.chart, name = se.name, type = se.type } end
  return '"series":' .. json.encode(json.array(meta)) .. ',"config":' .. text, series, text
end

-- A value of a point: a finite number, or json.null (a gap).
local function check_value(fn, s, key, v)
  if v == json.null or is_num(v) then return end
  local hint = type(v) == "number" and ": write json.null for a gap" or ""
  raise(string.format("%s: series %d: %s must be a number or json.null (a gap), not %s%s%s", fn, s, key, show(v),
    type(v) == "string" and " (a string)" or "", hint))
end

local function bad_point(fn, s, se, p, hint)
  raise(string.format("%s: series %d (%s) takes %s, not %s%s", fn, s, se.type, se.shape.text, show(p), hint or ""))
end

-- Checks a point against its series' shape; returns it as JSON.
local function point_json(fn, s, se, p)
  local shape = se.shape
  if shape == SHAPES.flags then
    if type(p) ~= "table" or rawget(p, 1) ~= nil or not (is_num(p.x) or type(p.x) == "string") then
      bad_point(fn, s, se, p)
    end
    if p.y ~= nil then check_value(fn, s, "y", p.y) end
  elseif type(p) == "number" or type(p) == "string" then
    if shape ~= SHAPES.y or type(p) ~= "number" then bad_point(fn, s, se, p) end
    check_value(fn, s, "y", p)
  elseif type(p) ~= "table" then
    bad_point(fn, s, se, p)
  elseif rawget(p, 1) ~= nil then
    local n, count = #shape.keys + 1, 0
    for _ in pairs(p) do count = count + 1 end
    if #p == n - 1 and count == n - 1 then
      bad_point(fn, s, se, p, " (a nil ends a Lua table early: write json.null for a gap)")
    end
    if #p ~= n or count ~= n or not (is_num(p[1]) or type(p[1]) == "string") then bad_point(fn, s, se, p) end
    for i, key in ipairs(shape.keys) do check_value(fn, s, key, p[i + 1]) end
  else
    if p.x ~= nil and not (is_num(p.x) or type(p.x) == "string") then bad_point(fn, s, se, p) end
    for _, key in ipairs(shape.keys) do
      if p[key] == nil then bad_point(fn, s, se, p) end
      check_value(fn, s, key, p[key])
    end
  end
  local text = encode(fn .. ": the point", p)
  if #text > MAX_RECORD then
    raise(string.format("%s: the point is %d bytes as JSON, more than the %d allowed", fn, #text, MAX_RECORD))
  end
  return text
end

local function check_series(fn, st, s)
  local i = whole(s)
  if not i or i < 0 or i >= st.nseries then
    if st.nseries == 0 then
      raise(string.format("%s: series %s does not exist: the chart has no series (config.series)", fn, show(s)))
    end
    raise(string.format("%s: series %s does not exist: the chart has %d series (0 to %d)", fn, show(s), st.nseries,
      st.nseries - 1))
  end
  return i
end

local function check_keep(fn, keep)
  if keep == nil then return 0 end
  local n = whole(keep)
  if not n or n < 0 then
    raise(fn .. ": the number of points to keep must be a whole number >= 0, not " .. show(keep))
  end
  return n
end

local function check_current(fn, st, kind)
  if store ~= st then
    raise(fn .. ": this " .. kind .. " was replaced by a later Chart() or KLineChart() call (a bot has one chart, "
      .. "as on the platform): draw with the object that call returned")
  end
end

local chart_calls = {}

-- chart.add(series, point [, index]) or chart.add({series, point [, index]}): appends point to the series, or
-- replaces its point at index (0 the oldest kept, -1 the latest).
function chart_calls.add(st, s, p, index)
  if type(s) == "table" and rawget(s, 1) ~= nil and p == nil then s, p, index = s[1], s[2], s[3] end
  check_current("Chart.add", st, "Chart")
  s = check_series("Chart.add", st, s)
  local text = point_json("Chart.add", s, st.series[s + 1], p)
  local ser = st.S[s]
  local n = ser.last + 1
  if index ~= nil then
    local i, count = whole(index), ser.last - ser.first + 1
    if not i then
      raise("Chart.add: index must be a whole number (0 the oldest point kept, -1 the latest), not " .. show(index))
    end
    if i >= count or i < -count then
      if count == 0 then
        raise(string.format("Chart.add: index %s: series %d has no points yet (add one without an index)",
          show(index), s))
      end
      raise(string.format("Chart.add: index %s is out of range: series %d has %d point%s (index 0 to %d, or %d to "
        .. "-1)", show(index), s, count, count == 1 and "" or "s", count - 1, -count))
    end
    n = i >= 0 and ser.first + i or ser.last + 1 + i
  end
  local line = '{"t":"point","s":' .. s .. ',"n":' .. n .. ',"time":' .. now_ms() .. ',"p":' .. text .. '}\n'
  point_put(st, s, n, line)
  emit(st, line)
end

-- chart.update(config): the chart's new config; the points stay, those of series it no longer has excepted.
function chart_calls.update(st, config)
  check_current("Chart.update", st, "Chart")
  local body, series, text = parse_config("Chart.update", config)
  if body == st.body then return end
  local dropped = #series < st.nseries
  for s = st.nseries, #series - 1 do st.S[s] = { first = 0, last = -1, line = {} } end
  for s = #series, st.nseries - 1 do
    local ser = st.S[s]
    for n = ser.first, ser.last do st.state = st.state - #ser.line[n] end
    st.S[s] = nil
  end
  st.body, st.series, st.nseries, st.config = body, series, #series, text
  if dropped then return rewrite(st) end
  emit(st, string.format('{"t":"update","time":%d,%s}\n', now_ms(), body))
end

-- chart.reset([keep]): the points of every series but the last keep of each.
function chart_calls.reset(st, keep)
  check_current("Chart.reset", st, "Chart")
  keep = check_keep("Chart.reset", keep)
  for s = 0, st.nseries - 1 do
    local ser = st.S[s]
    while ser.last - ser.first + 1 > keep do
      st.state = st.state - #ser.line[ser.first]
      ser.line[ser.first] = nil
      ser.first = ser.first + 1
    end
  end
  rewrite(st)
end

-- chart.del(series): removes the series, its config and its points; the series after it move down by one.
function chart_calls.del(st, s)
  check_current("Chart.del", st, "Chart")
  s = check_series("Chart.del", st, s)
  local cfg = json.decode(st.config)
  local se = st.series[s + 1]
  local chart = rawget(cfg, 1) ~= nil and cfg[se.chart + 1] or cfg
  local pos = 0     -- the series' place in its chart's own list
  for i = 1, s do if st.series[i].chart == se.chart then pos = pos + 1 end end
  table.remove(chart.series, pos + 1)
  local body, series, text = parse_config("Chart.del", cfg)
  local old = st.S[s]
  for n = old.first, old.last do st.state = st.state - #old.line[n] end
  for i = s, #series - 1 do
    local ser = st.S[i + 1]
    for n = ser.first, ser.last do
      ser.line[n] = ser.line[n]:gsub('^{"t":"point","s":%d+', '{"t":"point","s":' .. i, 1)
    end
    st.S[i] = ser
  end
  st.S[#series] = nil
  st.body, st.series, st.nseries, st.config = body, series, #series, text
  rewrite(st)
end

-- ---- the objects Chart and KLineChart return ----

-- Every call also works with a colon (chart:add(...)), a common slip when porting; reading a call the object
-- does not have raises, naming the ones it has.
local function make_object(name, calls, st)
  local obj, list = {}, {}
  for k, f in pairs(calls) do
    list[#list + 1] = k
    obj[k] = function(a, ...)
      if rawequal(a, obj) then return f(st, ...) end
      return f(st, a, ...)
    end
  end
  table.sort(list)
  return setmetatable(obj, { __index = function(_, k)
    raise(string.format("%s has no %s (its calls: %s)", name, show(k), table.concat(list, ", ")))
  end })
end

-- Chart(config): the bot's chart, drawn from the Highcharts options config (or an array of them).
function M.Chart(config)
  local body, series, text = parse_config("Chart", config)
  local st = start("chart", body, #series)
  st.series, st.config = series, text
  st.obj = make_object("Chart", chart_calls, st)
  return st.obj
end

-- ---- KLineChart ----

local STR, NUM, BOOL = "a string", "a number", "a boolean"
local function enum(...) return { ... } end
local DISPLAY = enum("none", "all")
local LOCATION = enum("abovebar", "belowbar", "top", "bottom", "absolute")
local SIZE = enum("10px", "14px", "20px", "40px", "80px")
-- What each option takes: a type, or the list of its values.
local OPTION = {
  title = STR, color = STR, linewidth = NUM, trackprice = BOOL, histbase = NUM, offset = NUM, join = BOOL,
  editable = BOOL, show_last = NUM, display = DISPLAY, overlay = BOOL, linestyle = enum("dashed", "dotted", "solid"),
  colorup = STR, colordown = STR, minheight = NUM, maxheight = NUM, location = LOCATION, text = STR,
  textcolor = STR, size = SIZE, char = STR, wickcolor = STR, bordercolor = STR, fillgaps = BOOL,
  style = enum("stepline_diamond", "stepline", "cross", "areabr", "area", "circles", "columns", "histogram", "linebr",
    "line"),
}
local SHAPE_STYLE = enum("diamond", "square", "label_down", "label_up", "arrow_down", "arrow_up", "circle", "flag",
  "triangle_down", "triangle_up", "cross", "xcross")
local SIGNALS = { buy = true, long = true, sell = true, short = true, closebuy = true, closelong = true,
                  closesell = true, closeshort = true }

-- The drawing calls (the platform's, from Pine): the arguments they require, and their optional ones in the
-- order they may be given positionally; an options table may come last instead (or after some of them).
local DRAW = {
  barcolor = { args = { "color" }, opts = { "offset", "editable", "show_last", "title", "display" } },
  bgcolor = { args = { "color" }, opts = { "offset", "editable", "show_last", "title", "display", "overlay" } },
  plot = { args = { "series" }, plot = true, opts = { "title", "color", "linewidth", "style", "trackprice",
    "histbase", "offset", "join", "editable", "show_last", "display", "overlay" } },
  hline = { args = { "price" }, plot = true, opts = { "title", "color", "linestyle", "linewidth", "editable",
    "display", "overlay" } },
  plotarrow = { args = { "series" }, opts = { "title", "colorup", "colordown", "offset", "minheight", "maxheight",
    "editable", "show_last", "display", "overlay" } },
  plotshape = { args = { "series" }, opts = { "title", "style", "location", "color", "offset", "text", "textcolor",
    "editable", "size", "show_last", "display", "overlay" }, style = SHAPE_STYLE },
  plotchar = { args = { "series" }, opts = { "title", "char", "location", "color", "offset", "text", "textcolor",
    "editable", "size", "show_last", "display", "overlay" }, needs = "char" },
  plotcandle = { args = { "open", "high", "low", "close" }, opts = { "title", "color", "wickcolor", "editable",
    "show_last", "bordercolor", "display", "overlay" } },
  fill = { args = { "plot1", "plot2" }, opts = { "color", "title", "editable", "fillgaps", "display" } },
}

-- Checks an option's value against what it takes.
local function check_option(fn, key, v, styles)
  local want = key == "style" and styles or OPTION[key]
  if type(want) == "table" then
    for _, allowed in ipairs(want) do if v == allowed then return end end
    raise(string.format("%s: %s must be one of %s, not %s", fn, key, table.concat(want, ", "), show(v)))
  end
  local ok = want == STR and type(v) == "string" or want == BOOL and type(v) == "boolean" or want == NUM and is_num(v)
  if not ok then raise(string.format("%s: %s must be %s, not %s", fn, key, want, show(v))) end
end

-- A drawing's value: a finite number; nil and NaN draw nothing on this bar (null); booleans where allowed.
local function draw_value(fn, key, v, booleans)
  if v == nil or v ~= v then return json.null end
  if is_num(v) or booleans and type(v) == "boolean" then return v end
  raise(string.format("%s: %s must be a number%s, not %s", fn, key, booleans and " or a boolean" or "", show(v)))
end

local kline_calls = {}

local function current_bar(fn, st)
  check_current(fn, st, "KLineChart")
  if not st.bar then raise(fn .. ": draw between c.begin(bar) and c.close(): no bar is begun") end
  return st.bar
end

for name, spec in pairs(DRAW) do
  local fn = "KLineChart." .. name
  kline_calls[name] = function(st, ...)
    local bar = current_bar(fn, st)
    local item, nargs = { f = name }, select("#", ...)
    local args = { ... }
    for i, key in ipairs(spec.args) do
      local v = args[i]
      if name == "barcolor" or name == "bgcolor" then
        if type(v) ~= "string" then raise(string.format("%s: color must be a string, not %s", fn, show(v))) end
      elseif name == "fill" then
        local p = whole(v)
        if not p or p < 0 or p >= bar.plots then
          raise(string.format("%s: %s must be a number c.plot or c.hline returned on this bar (%s), not %s", fn, key,
            bar.plots == 0 and "none yet" or "0 to " .. (bar.plots - 1), show(v)))
        end
        v = p
      else
        v = draw_value(fn, key, v, name == "plotshape" or name == "plotchar")
        if name == "hline" or name == "plotcandle" then
          if v == json.null then raise(string.format("%s: %s must be a number, not %s", fn, key, show(args[i]))) end
        end
      end
      item[key] = v
    end
    local first = #spec.args + 1
    for i = first, nargs do
      local v = args[i]
      if type(v) == "table" and i == nargs then
        for k, ov in pairs(v) do
          local known = false
          for _, o in ipairs(spec.opts) do if o == k then known = true end end
          if not known then
            raise(string.format("%s has no option %s (its options: %s)", fn, show(k), table.concat(spec.opts, ", ")))
          end
          if item[k] ~= nil then raise(string.format("%s: %s is given twice", fn, k)) end
          check_option(fn, k, ov, spec.style)
          item[k] = ov
        end
      elseif v ~= nil then
        local key = spec.opts[i - first + 1]
        if not key then
          raise(string.format("%s takes at most %d arguments and an options table, not %s as argument %d", fn,
            #spec.args + #spec.opts, show(v), i))
        end
        check_option(fn, key, v, spec.style)
        item[key] = v
      end
    end
    if spec.needs and item[spec.needs] == nil then
      raise(string.format("%s: %s is required ({%s = \"X\"})", fn, spec.needs, spec.needs))
    end
    bar.draw[#bar.draw + 1] = item
    if spec.plot then
      item.index = bar.plots
      bar.plots = bar.plots + 1
      return item.index
    end
  end
end

-- c.signal(direction, price, qty [, id]): a trade's mark on this bar.
function kline_calls.signal(st, direction, price, qty, id)
  local fn = "KLineChart.signal"
  local bar = current_bar(fn, st)
  if not SIGNALS[direction] then
    raise(fn .. ": direction must be one of buy, long, sell, short, closebuy, closelong, closesell, closeshort, not "
      .. show(direction))
  end
  if not is_num(price) then raise(fn .. ": price must be a number, not " .. show(price)) end
  if not is_num(qty) then raise(fn .. ": qty must be a number, not " .. show(qty)) end
  if id ~= nil and type(id) ~= "string" then raise(fn .. ": id must be a string, not " .. show(id)) end
  bar.draw[#bar.draw + 1] = { f = "signal", direction = direction, price = price, qty = qty, id = id or direction }
end

local BAR_FIELDS = { "Open", "High", "Low", "Close" }

-- c.begin(bar): starts drawing on bar (a record of exchange.GetRecords()).
function kline_calls.begin(st, bar)
  local fn = "KLineChart.begin"
  check_current(fn, st, "KLineChart")
  if st.bar then
    raise(string.format("%s: the bar at %d is still begun: end it with c.close() first", fn, st.bar.T))
  end
  if type(bar) ~= "table" then raise(fn .. ": bar must be a record {Time, Open, High, Low, Close, Volume}, not "
    .. show(bar)) end
  local T = whole(bar.Time)
  if not T then raise(fn .. ": bar.Time must be a whole number of ms, not " .. show(bar.Time)) end
  local rec = { Time = T }
  for _, k in ipairs(BAR_FIELDS) do
    if not is_num(bar[k]) then raise(string.format("%s: bar.%s must be a number, not %s", fn, k, show(bar[k]))) end
    rec[k] = bar[k]
  end
  for _, k in ipairs({ "Volume", "OpenInterest" }) do
    if bar[k] ~= nil then
      if not is_num(bar[k]) then raise(string.format("%s: bar.%s must be a number, not %s", fn, k, show(bar[k]))) end
      rec[k] = bar[k]
    end
  end
  st.bar = { T = T, rec = rec, draw = {}, plots = 0 }
end

-- c.close([bar]): ends the bar begun and puts it on the chart (replacing what was drawn on a bar of that time).
function kline_calls.close(st)
  local fn = "KLineChart.close"
  check_current(fn, st, "KLineChart")
  local bar = st.bar
  if not bar then raise(fn .. ": no bar is begun (c.begin(bar) starts one)") end
  st.bar = nil
  local payload = encode(fn .. ": the drawings", { bar = bar.rec, draw = json.array(bar.draw) }):sub(2, -2)
  if #payload > MAX_RECORD then
    raise(string.format("%s: the bar at %d is %d bytes as JSON with its drawings, more than the %d allowed", fn, bar.T,
      #payload, MAX_RECORD))
  end
  local ms = now_ms()
  if bar_put(st, bar.T, ms, payload) then emit(st, bar_line(bar.T, ms, payload)) end
end

-- c.reset([keep]): the bars but the last keep.
function kline_calls.reset(st, keep)
  check_current("KLineChart.reset", st, "KLineChart")
  keep = check_keep("KLineChart.reset", keep)
  local B = st.B
  while #B.times - B.head + 1 > keep do
    local T = B.times[B.head]
    st.state = st.state - #B.pl[T] - BAR_EXTRA
    B.pl[T], B.tm[T] = nil, nil
    B.head = B.head + 1
  end
  st.bar = nil
  rewrite(st)
end

local KLINE_OPTIONS = { overlay = BOOL, pricePrecision = NUM, volumePrecision = NUM }

-- KLineChart([options]): the bot's chart, candles drawn bar by bar as Pine draws them.
function M.KLineChart(options)
  local fn = "KLineChart"
  if options ~= nil and type(options) ~= "table" then
    raise(fn .. ": options must be a table ({overlay = true, pricePrecision = 2, volumePrecision = 4}), not "
      .. show(options))
  end
  local copy = { __isCandle = true }
  for k, v in pairs(options or {}) do
    local want = KLINE_OPTIONS[k]
    if want == BOOL and type(v) ~= "boolean" then
      raise(string.format("%s: %s must be a boolean, not %s", fn, k, show(v)))
    end
    if want == NUM and (not whole(v) or v < 0 or v > 20) then
      raise(string.format("%s: %s must be a whole number of decimals from 0 to 20, not %s", fn, k, show(v)))
    end
    copy[k] = v
  end
  local body = '"series":[],"config":' .. encode(fn .. ": options", copy)
  if #body > MAX_CONFIG then raise(string.format("%s: options are more than the %d bytes allowed", fn, MAX_CONFIG)) end
  local st = start("kline", body, 0)
  st.obj = make_object("KLineChart", kline_calls, st)
  return st.obj
end

-- For a replay's results (docs/report.md, runtime/host/replay.c): the series of the bot's Chart as
-- {{title = ..., series = {{name, type, time = {x...}, value = {y...}}}}}, one entry per chart of its config; each
-- point as (x, y): x its own when a number (else the time it was added), y its y, or the last of its values (an
-- OHLC point's close, a range's high). Gaps (json.null) and flags are left out. nil without a Chart (a
-- KLineChart's bars are the market's candles, which the report draws anyway).
function M._results()
  local st = store
  if not st or st.kind ~= "chart" then return nil end
  local ok, head = pcall(json.decode, "{" .. st.body .. "}")
  if not ok or type(head) ~= "table" then return nil end
  local configs = head.config
  if type(configs) ~= "table" or rawget(configs, 1) == nil then configs = { configs } end
  local out = {}
  for c = 1, #configs do
    local cfg, title = configs[c], nil
    if type(cfg) == "table" then
      title = type(cfg.title) == "table" and cfg.title.text or cfg.title
    end
    out[c] = { title = type(title) == "string" and title or nil, series = json.array({}) }
  end
  for s = 0, st.nseries - 1 do
    local meta, ser = head.series[s + 1], st.S[s]
    local chart = out[(type(meta) == "table" and math.tointeger(meta.chart) or 0) + 1]
    if chart and ser and meta.type ~= "flags" then
      local xs, ys, shape = {}, {}, SHAPE_OF[meta.type] or SHAPES.y
      for n = ser.first, ser.last do
        local okp, rec = pcall(json.decode, ser.line[n])
        local p = okp and type(rec) == "table" and rec.p
        local x, y = okp and type(rec) == "table" and rec.time, nil
        if type(p) == "number" then
          y = p
        elseif type(p) == "table" and rawget(p, 1) ~= nil then
          if type(p[1]) == "number" then x = p[1] end
          y = p[#shape.keys + 1]
        elseif type(p) == "table" then
          if type(p.x) == "number" then x = p.x end
          y = p[shape.keys[#shape.keys]]
        end
        if type(x) == "number" and type(y) == "number" then
          xs[#xs + 1], ys[#ys + 1] = x, y
        end
      end
      chart.series[#chart.series + 1] = { name = type(meta.name) == "string" and meta.name or nil, type = meta.type,
        time = json.array(xs), value = json.array(ys) }
    end
  end
  return json.array(out)
end

return M
