-- plotlib.lua: the platform's plotting template ("画线类库": `$.PlotRecords`, `$.PlotLine`, `$.PlotFlag`,
-- `$.PlotHLine`, `$.PlotTitle`, `$.GetCfg`), written for stratrun from the template's published behaviour, on the
-- bot's one Chart (stdlib/chart.lua): what it draws is in the replay report and on the dashboard like any chart.
-- Reached as `require("stratrun.ext")` with the trading template (stdlib/tradelib.lua).
--
-- One chart, made at the first call: a candlestick series for PlotRecords, a line series per label of PlotLine,
-- one flags series for PlotFlag (on the first series drawn), horizontal lines on the y axis for PlotHLine. A point
-- whose time is the series' latest replaces it (the current bar or dot moving), a later one is appended, an
-- earlier one is left out.

local M = {}

local SRC = debug.getinfo(1, "S").short_src
local raise = require("caller")(SRC)

local chart                         -- the Chart object, made at the first call
local series = {}                   -- the config's series, in the order they were added
local cfg = {
  tooltip = { xDateFormat = "%Y-%m-%d %H:%M:%S, %A" },
  legend = { enabled = true },
  plotOptions = { candlestick = { color = "#d75442", upColor = "#6ba583" } },
  rangeSelector = {
    buttons = { { type = "hour", count = 1, text = "1h" }, { type = "hour", count = 3, text = "3h" },
                { type = "hour", count = 8, text = "8h" }, { type = "all", text = "All" } },
    selected = 2, inputEnabled = true,
  },
  series = series,
}
local index = {}                    -- label -> series index (0-based, as Chart's add counts)
local last_time = {}                -- series index -> the time of its latest point
local has_primary = false

local function show(v)
  if type(v) == "string" then return string.format("%q", v) end
  return tostring(v)
end

local function the_chart()
  if not chart then
    chart = Chart(cfg)
    chart.reset()
  end
  return chart
end

-- The series of label (made with make() the first time).
local function series_of(label, make)
  local i = index[label]
  if i == nil then
    i = #series
    local s = make(i)
    s.id = has_primary and (s.id_prefix .. i) or "primary"
    s.id_prefix = nil
    series[#series + 1] = s
    index[label] = i
    the_chart().update(cfg)
  end
  return i
end

-- Adds point at time t to series i: replaces the latest when t is its time, appends when later.
local function put(i, t, point)
  local prev = last_time[i]
  if prev == t then
    the_chart().add(i, point, -1)
  elseif prev == nil or t > prev then
    last_time[i] = t
    the_chart().add(i, point)
  end
end

local function whole_ms(fn, what, v)
  if math.type(v) ~= "integer" and not (type(v) == "number" and v == math.floor(v) and v == v) then
    raise("ext." .. fn .. ": " .. what .. " must be a time in whole ms, not " .. show(v))
  end
  return math.tointeger(v)
end

-- GetCfg(): the chart's config (the table itself, as the template returns it).
function M.GetCfg() return cfg end

-- PlotRecords(records or one record [, title]): the bars as a candlestick series.
function M.PlotRecords(records, title)
  if type(records) ~= "table" then raise("ext.PlotRecords: expects records or a record, not " .. show(records)) end
  the_chart()
  local i = series_of("\0candlestick", function()
    cfg.__isStock = true
    return { type = "candlestick", name = title ~= nil and tostring(title) or "", id_prefix = "records_", data = {} }
  end)
  has_primary = true
  local list = records.Time ~= nil and { records } or records
  for _, bar in ipairs(list) do
    local t = whole_ms("PlotRecords", "a record's Time", bar.Time)
    put(i, t, { t, bar.Open, bar.High, bar.Low, bar.Close })
  end
  return chart
end

-- PlotLine(label, value [, time]): a point of the line series label (time: now, in ms).
function M.PlotLine(label, value, time)
  if type(label) ~= "string" and type(label) ~= "number" then
    raise("ext.PlotLine: the label must be a string, not " .. show(label))
  end
  if type(value) ~= "number" then raise("ext.PlotLine: the value must be a number, not " .. show(value)) end
  if not chart then cfg.xAxis = { type = "datetime" } end
  the_chart()
  local i = series_of(tostring(label), function()
    return { type = "line", id_prefix = "line_", yAxis = 0, showInLegend = true, name = tostring(label), data = {},
             tooltip = { valueDecimals = 5 } }
  end)
  has_primary = true
  local t = time == nil and UnixNano() // 1000000 or whole_ms("PlotLine", "the time", time)
  put(i, t, { t, value })
  return chart
end

-- PlotFlag(time, text, title [, shape [, color]]): a flag at time on the first series drawn.
function M.PlotFlag(time, text, title, shape, color)
  local t = whole_ms("PlotFlag", "the time", time)
  the_chart()
  local i = series_of("\0flag", function()
    return { type = "flags", onSeries = "primary", id_prefix = "flags_", data = {} }
  end)
  put(i, t, { x = t, color = color, shape = shape, title = title ~= nil and tostring(title) or "",
              text = text ~= nil and tostring(text) or "" })
  return chart
end

-- PlotHLine(value [, label [, color [, style]]]): a horizontal line at value; a label drawn before moves.
function M.PlotHLine(value, label, color, style)
  if type(value) ~= "number" then raise("ext.PlotHLine: the value must be a number, not " .. show(value)) end
  cfg.yAxis = cfg.yAxis or {}
  cfg.yAxis.plotLines = cfg.yAxis.plotLines or {}
  local line = { value = value, color = color or "red", width = 2, dashStyle = style or "Solid",
                 label = { text = label ~= nil and tostring(label) or "", align = "center" } }
  local lines, found = cfg.yAxis.plotLines, false
  for k, l in ipairs(lines) do
    if l.label.text == line.label.text then lines[k], found = line, true end
  end
  if not found then lines[#lines + 1] = line end
  if not chart then chart = Chart(cfg) else chart.update(cfg) end
end

-- PlotTitle(subtitle [, title]): the chart's subtitle, and its title when given.
function M.PlotTitle(title, chartTitle)
  cfg.subtitle = { text = tostring(title) }
  if chartTitle ~= nil then cfg.title = { text = tostring(chartTitle) } end
  if chart then chart.update(cfg) end
end

return M
