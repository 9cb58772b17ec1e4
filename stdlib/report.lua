-- report.lua: the replay's HTML report (`stratrun replay --report FILE.html`, issue #15; docs/report.md).
--
-- report.render(data) -> html
--   data is the table the --json file holds. The page is self-contained: inline CSS, charts as inline SVG drawn
--   here, no script and no request to any server (its Content-Security-Policy forbids them too, so an escaping
--   mistake still cannot fetch anything), so it opens offline and its DOM can be checked. The same table gives the
--   same bytes: nothing whose order reaches the page is iterated with pairs(), and every number goes through a
--   fixed format. Long series are cut per pixel column for the charts (at most two points a column); the tables
--   keep the exact figures. Every string of the data is a strategy's, hence hostile, and is escaped.
local M = {}

local fmt, concat, floor, abs, huge = string.format, table.concat, math.floor, math.abs, math.huge
local min, max = math.min, math.max

local PW, ML, MT, MB = 1200, 80, 10, 24       -- plot width (one pixel column each), left, top and bottom margins
local SVGW = ML + PW + 40                      -- room for the last time label
local MAX_FILL_ROWS, MAX_PUB_ROWS = 500, 200  -- table rows; the --json and --csv files hold the rest
local MAX_MARKS, MAX_DOTS = 2000, 2000        -- beyond these, markers and dots are merged per pixel column
local MAX_LINES = 300                         -- publications whose reads the timeline draws
local PALETTE = { "#2563eb", "#d97706", "#059669", "#7c3aed", "#db2777", "#0891b2", "#65a30d", "#9f1239" }
local EMPTY = {}

-- JSON null arrives as a sentinel and NaN or inf as numbers: all of them are "missing" to a chart.
local function finite(x) return type(x) == "number" and x == x and x > -huge and x < huge end
local function tbl(x) return type(x) == "table" and x or EMPTY end

local ESC = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }
-- Escaped for text and attribute values alike; control bytes, which HTML does not allow, become U+FFFD.
local function esc(s)
  return (s:gsub("[&<>\"']", ESC):gsub("[\0-\8\11\12\14-\31\127]", "\u{FFFD}"))
end

-- Any value of the data as escaped text: "–" for what is neither a string nor a finite number.
local function text(x)
  if type(x) == "string" then return esc(x) end
  if math.type(x) == "integer" then return fmt("%d", x) end
  if finite(x) then return fmt("%.10g", x) end
  return "–"
end

-- The first n bytes of a string, cut before a UTF-8 continuation byte, escaped.
local function preview(s, n)
  if type(s) ~= "string" then return text(s) end
  if #s <= n then return esc(s) end
  while n > 0 and (s:byte(n + 1) or 0) & 0xC0 == 0x80 do n = n - 1 end
  return esc(s:sub(1, n)) .. "…"
end

-- A number in format f: "–" when missing, "∞" for infinities, and never "-0.00".
local function num(x, f)
  if x == huge then return "∞" elseif x == -huge then return "−∞" elseif not finite(x) then return "–" end
  local s = fmt(f, x)
  if s:find("^%-[0.]*$") then s = s:sub(2) end
  return s
end

local function pct(x) return finite(x) and num(x * 100, "%.2f") .. " %" or num(x, "") end

local civil = require("civil")     -- days since 1970-01-01 to (year, month, day)

-- UTC "YYYY-MM-DD HH:MM:SS", with ".mmm" when there are milliseconds; short: "MM-DD HH:MM"; day: "YYYY-MM-DD".
local function clock(ms, how)
  if not finite(ms) or abs(ms) > 9e15 then return "–" end
  local t = floor(ms)
  local r = t % 86400000
  local y, m, d = civil(t // 86400000)
  if how == "day" then return fmt("%04d-%02d-%02d", y, m, d) end
  if how == "short" then return fmt("%02d-%02d %02d:%02d", m, d, r // 3600000, r // 60000 % 60) end
  local s = fmt("%04d-%02d-%02d %02d:%02d:%02d", y, m, d, r // 3600000, r // 60000 % 60, r // 1000 % 60)
  return r % 1000 ~= 0 and s .. fmt(".%03d", r % 1000) or s
end

local function duration(ms)
  if not finite(ms) or ms < 0 or ms > 1e15 then return "–" end
  if ms < 60000 then return num(ms / 1000, "%.3g") .. " s" end
  local m = floor(ms / 60000)
  local d, h = m // 1440, m // 60 % 24
  if d > 0 then return fmt("%dd %02dh %02dm", d, h, m % 60) end
  return h > 0 and fmt("%dh %02dm", h, m % 60) or fmt("%dm", m)
end

-- The figures, each with its label and how it is shown. The summary shows those marked so.
local FIGS = {
  { "start_equity", "start equity", "num" }, { "end_equity", "end equity", "num" },
  { "total_return", "total return", "pct", true }, { "annual_return", "annualized return", "pct", true },
  { "max_drawdown", "max drawdown", "pct", true }, { "max_drawdown_duration", "max drawdown duration", "dur", true },
  { "sharpe", "Sharpe", "ratio", true }, { "sortino", "Sortino", "ratio", true },
  { "round_trips", "round trips", "int" }, { "win_rate", "win rate", "pct", true },
  { "profit_factor", "profit factor", "ratio", true }, { "exposure", "exposure", "pct", true },
  { "trades", "trades", "int", true }, { "fees", "fees", "num", true },
  { "buy_hold_return", "buy and hold return", "pct", true },
}
-- The bot's own account figures (the summary line of the replay).
local ACCOUNT = { { "orders", "orders", "int" }, { "fills", "fills", "int" }, { "fees", "fees", "num" },
  { "balance", "balance", "num" }, { "stocks", "stocks", "g" }, { "value", "value", "num" }, { "pnl", "pnl", "num" },
  { "start_value", "start value", "num" } }
local SHOW = { pct = pct, dur = duration, num = function(x) return num(x, "%.4f") end,
  ratio = function(x) return num(x, "%.3f") end, int = function(x) return num(x, "%.0f") end,
  g = function(x) return num(x, "%.10g") end }

-- A table cell for a figure; data-v holds the exact value for whoever reads the DOM.
local function cell(x, kind)
  if finite(x) then return fmt('<td class="n" data-v="%.17g">%s</td>', x, SHOW[kind](x)) end
  return fmt('<td class="n">%s</td>', SHOW[kind](x))
end

-- ---- charts ----

-- A series' times, values and usable length.
local function series(s)
  s = tbl(s)
  local t, v = tbl(s.time), tbl(s.value)
  return t, v, min(#t, #v)
end

-- A series cut into the plot's pixel columns over [t0, t1]: per column its lowest and highest value in the order
-- they came (so the line keeps its shape), at most 2 * PW points however long the series. With underwater, also
-- each column's deepest drawdown from the running peak, (v - peak) / |peak| (so a negative equity still reads
-- down), in the same pass. The loop runs 525,600 times per bot for a year of minutes, hence the checks inline.
local function columns(times, values, n, t0, t1, underwater)
  local k = (PW - 1) / (t1 - t0)
  local col, a, b, deep, m = {}, {}, {}, {}, 0
  local cur, lo, hi, ilo, ihi, dlo = nil, 0, 0, 0, 0, 0
  local peak, glo, ghi, gdlo = -huge, huge, -huge, 0
  for i = 1, n do
    local t, v = times[i], values[i]
    if type(v) == "number" and type(t) == "number" and v == v and v > -huge and v < huge and t == t then
      local dd = 0
      if underwater then
        if v > peak then peak = v end
        if peak ~= 0 then dd = (v - peak) / abs(peak) end
      end
      local c = (t - t0) * k
      c = c < 0 and 0 or c > PW - 1 and PW - 1 or floor(c)
      if c ~= cur then
        if cur then
          m = m + 1
          col[m], a[m], b[m], deep[m] = cur, ilo <= ihi and lo or hi, ilo <= ihi and hi or lo, dlo
        end
        cur, lo, hi, ilo, ihi, dlo = c, v, v, i, i, dd
      else
        if v < lo then lo, ilo = v, i elseif v > hi then hi, ihi = v, i end
        if dd < dlo then dlo = dd end
      end
      if v < glo then glo = v end
      if v > ghi then ghi = v end
      if dd < gdlo then gdlo = dd end
    end
  end
  if cur then
    m = m + 1
    col[m], a[m], b[m], deep[m] = cur, ilo <= ihi and lo or hi, ilo <= ihi and hi or lo, dlo
  end
  return { col = col, a = a, b = b, n = m, lo = glo, hi = ghi, points = n },
    { col = col, a = deep, b = deep, n = m, lo = gdlo, hi = 0, points = n }
end

-- Round values from lo to hi, about n of them (1, 2 or 5 times a power of ten apart).
local function ticks(lo, hi, n)
  local raw = (hi - lo) / n
  if not (raw > 0 and raw < huge) then return {} end
  local mag = 10 ^ floor(math.log(raw, 10))
  local step = mag
  for _, f in ipairs({ 2, 5, 10 }) do if step < raw then step = mag * f end end
  local out = {}
  for k = math.ceil(lo / step), floor(hi / step) do out[#out + 1] = k * step end
  return out
end

-- A chart's frame: an SVG of a PW x h plot over times [t0, t1] and values [lo, hi], with round-value grid lines
-- (labelled by ylabel; none when ylabel is false) and six time labels. Returns the plot: x(t), y(v), add(s), svg().
local function frame(id, h, t0, t1, lo, hi, ylabel)
  if not (hi > lo) then
    local pad = hi ~= 0 and abs(hi) * 0.01 or 1
    lo, hi = lo - pad, hi + pad
  end
  local kx, ky = PW / (t1 - t0), h / (hi - lo)
  local p, parts = {}, {}
  function p.x(t) return ML + max(0, min(PW, (t - t0) * kx)) end
  function p.y(v)
    local y = MT + (hi - v) * ky
    return y == y and max(MT - 4, min(MT + h + 4, y)) or MT + h
  end
  function p.add(s) parts[#parts + 1] = s end
  p.add(fmt('<svg id="%s" class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" '
    .. 'height="%d"><rect class="plot" x="%d" y="%d" width="%d" height="%d"/>',
    esc(id), SVGW, h + MT + MB, SVGW, h + MT + MB, ML, MT, PW, h))
  if ylabel ~= false then
    local grid = {}
    for _, v in ipairs(ticks(lo, hi, 5)) do
      local y = p.y(v)
      grid[#grid + 1] = fmt("M%d %.1fh%d", ML, y, PW)
      p.add(fmt('<text class="yl" x="%d" y="%.1f">%s</text>', ML - 4, y + 4, ylabel(v)))
    end
    p.add(fmt('<path class="grid" d="%s"/>', concat(grid)))
    if lo < 0 and hi > 0 then p.add(fmt('<path class="zero" d="M%d %.1fh%d"/>', ML, p.y(0), PW)) end
  end
  local how = t1 - t0 >= 3 * 86400000 and "day" or "short"
  for k = 0, 5 do
    local t = t0 + (t1 - t0) * k / 5
    p.add(fmt('<text class="xl" x="%.1f" y="%d">%s</text>', p.x(t), MT + h + 16, clock(t, how)))
  end
  function p.svg() return concat(parts) .. "</svg>" end
  return p
end

local function ynum(v) return num(v, "%.6g") end
local function ypct(v) return num(v * 100, "%.4g") .. " %" end

-- The path through a column set's points.
local function line_path(p, d)
  local out = {}
  for i = 1, d.n do
    local x = ML + d.col[i] + 0.5
    out[#out + 1] = fmt("%s%.1f %.1f", i == 1 and "M" or "L", x, p.y(d.a[i]))
    if d.b[i] ~= d.a[i] then out[#out + 1] = fmt("L%.1f %.1f", x, p.y(d.b[i])) end
  end
  return concat(out)
end

-- A line chart of column sets {d, name, cls or color}; area: filled down to zero (the underwater chart). nil
-- when no set has a point.
local function line_chart(id, h, sets, t0, t1, ylabel, area)
  local lo, hi = area and -0.01 or huge, area and 0 or -huge    -- a drawdown chart shows at least 1 %
  for _, s in ipairs(sets) do lo, hi = min(lo, s.d.lo), max(hi, s.d.hi) end
  if lo > hi or (area and sets[1].d.n == 0) then return nil end
  local p = frame(id, h, t0, t1, lo, hi, ylabel)
  for i, s in ipairs(sets) do
    local d = s.d
    if d.n > 0 then
      local path = line_path(p, d)
      if area then
        path = fmt("M%.1f %.1f", ML + d.col[1] + 0.5, p.y(0)) .. path:gsub("^M", "L")
          .. fmt("L%.1f %.1fZ", ML + d.col[d.n] + 0.5, p.y(0))
      end
      p.add(fmt('<path class="line %s" %sd="%s"/>', s.cls or "", s.cls and ""
        or fmt('stroke="%s" ', PALETTE[(i - 1) % #PALETTE + 1]), path))
    end
  end
  return p.svg()
end

-- What a column set's drawing leaves out, for the caption.
local function decimated(d, what)
  if d.points <= d.n then return "" end
  return fmt('<p class="note">%s: %d points, drawn as the lowest and highest of each of %d pixel columns.</p>',
    what, d.points, d.n)
end

-- What a fill did on futures, "open long", "close short", ...: its effect and position, those that are strings.
local function effect_text(tr)
  local e, pos = tr.effect, tr.position
  if type(e) ~= "string" then return nil end
  return type(pos) == "string" and esc(e) .. " " .. esc(pos) or esc(e)
end

-- A fill's hover text: "2024-01-01 00:01:00 buy 0.5 @ 43000", and in parentheses what it did on futures ("open
-- long"; a close, liquidation or settlement with its realized P&L, before fees) and its exchange when it is not the
-- bot's first.
local function fill_title(tr)
  local what = {}
  local e = effect_text(tr)
  if e then what[#what + 1] = e end
  if e and tr.effect ~= "open" and finite(tr.pnl) then what[#what + 1] = "P&amp;L " .. text(tr.pnl) end
  if finite(tr.exchange) and tr.exchange ~= 1 then what[#what + 1] = "exchange " .. text(tr.exchange) end
  return fmt("%s %s %s @ %s%s", clock(tr.time), tr.side, text(tr.amount), text(tr.price),
    #what > 0 and " (" .. concat(what, ", ") .. ")" or "")
end

-- The candles of the bot's market with a marker at each fill: a triangle up at a buy's time and price, down at a
-- sell's. The host sends at most 1000 candles; more would be merged per pixel column all the same.
local function candle_chart(id, c, trades, t0, t1)
  c = tbl(c)
  local ct, co, chi, clo, cc = tbl(c.time), tbl(c.open), tbl(c.high), tbl(c.low), tbl(c.close)
  local n = min(#ct, #co, #chi, #clo, #cc)
  local kx = (PW - 1) / (t1 - t0)
  local bars, lastcol = {}, nil
  local lo, hi = huge, -huge
  for i = 1, n do
    local t, o, hh, l, cl = ct[i], co[i], chi[i], clo[i], cc[i]
    if finite(t) and finite(o) and finite(hh) and finite(l) and finite(cl) then
      local col = n > PW and floor(max(0, min(PW - 1, (t - t0) * kx))) or i
      local last = bars[#bars]
      if col == lastcol then
        last.h, last.l, last.c = max(last.h, hh), min(last.l, l), cl
      else
        bars[#bars + 1] = { t = t, o = o, h = hh, l = l, c = cl }
      end
      lastcol = col
      lo, hi = min(lo, l, o, cl), max(hi, hh, o, cl)
    end
  end
  local marks = {}
  for _, tr in ipairs(trades) do
    tr = tbl(tr)
    if (tr.side == "buy" or tr.side == "sell") and finite(tr.time) and finite(tr.price) then
      marks[#marks + 1] = tr
      lo, hi = min(lo, tr.price), max(hi, tr.price)
    end
  end
  if lo > hi then return '<p class="none">No market data and no fills.</p>' end
  local p = frame(id, 320, t0, t1, lo, hi, ynum)
  local paths = { up = {}, down = {} }
  local w = max(0.6, min(10, PW / max(1, #bars) * 0.7))
  for i, b in ipairs(bars) do
    local gap = bars[i + 1] and bars[i + 1].t - b.t or (bars[i - 1] and b.t - bars[i - 1].t or 0)
    local x = p.x(b.t + gap / 2)
    local out = paths[b.c >= b.o and "up" or "down"]
    out[#out + 1] = fmt("M%.1f %.1fV%.1fM%.1f %.1fH%.1fV%.1fH%.1fZ", x, p.y(b.h), p.y(b.l),
      x - w / 2, p.y(b.o), x + w / 2, p.y(b.c), x - w / 2)
  end
  for _, k in ipairs({ "up", "down" }) do
    if #paths[k] > 0 then p.add(fmt('<path class="%s" d="%s"/>', k, concat(paths[k]))) end
  end
  -- Too many fills to mark one by one: the first of each side in a pixel column stands for the rest of them.
  local merge, first, count, shown = #marks > MAX_MARKS, {}, {}, {}
  for _, tr in ipairs(marks) do
    local key = merge and floor(p.x(tr.time)) * 2 + (tr.side == "buy" and 0 or 1) or #shown + 1
    if first[key] then count[key] = count[key] + 1
    else first[key], count[key], shown[#shown + 1] = tr, 1, key end
  end
  for _, key in ipairs(shown) do
    local tr = first[key]
    local more = count[key] > 1 and fmt(" (and %d more %s%s in this pixel column)", count[key] - 1, tr.side,
      count[key] > 2 and "s" or "") or ""
    p.add(fmt('<path class="%s" d="M%.1f %.1fl-4.5 %s8h9z"><title>%s%s</title></path>', tr.side, p.x(tr.time),
      p.y(tr.price), tr.side == "buy" and "" or "-", fill_title(tr), more))
  end
  local note = fmt('<p class="note">%d candles, %d fills marked%s.</p>', #bars, #marks,
    merge and fmt(" by %d triangles (one per side and pixel column)", #shown) or "")
  return p.svg() .. note
end

-- ---- tables ----

-- The first fills, exact. A bot with futures fills gets their position and, on what closes (a close, liquidation
-- or settlement), the realized P&L the exchange booked (before fees: the fee is its own column), as the data carry
-- it; a spot fill has no P&L of its own (a sell's depends on which buys it is matched with), so none is made up.
local function fills_table(trades)
  if #trades == 0 then return '<p class="none">No fills.</p>' end
  local futures = false
  for i = 1, min(#trades, MAX_FILL_ROWS) do
    if type(tbl(trades[i]).effect) == "string" then futures = true; break end
  end
  local out = { '<div class="scroll"><table class="fills"><thead><tr><th>time</th><th>side</th><th>price</th>'
    .. "<th>amount</th><th>fee</th><th>order</th><th>effect</th>"
    .. (futures and "<th>position</th><th>realized P&amp;L</th>" or "") .. "<th>exchange</th></tr></thead><tbody>" }
  for i = 1, min(#trades, MAX_FILL_ROWS) do
    local tr = tbl(trades[i])
    local side = (tr.side == "buy" or tr.side == "sell") and tr.side
    local fut = ""
    if futures then
      local closes = type(tr.effect) == "string" and tr.effect ~= "open" and tr.pnl ~= nil
      fut = fmt('<td>%s</td>%s', tr.position == nil and "" or text(tr.position),
        closes and cell(tr.pnl, "g"):gsub('^<td class="n"', '<td class="n pnl"') or "<td></td>")
    end
    out[#out + 1] = fmt('<tr><td>%s</td><td%s>%s</td>%s%s%s<td>%s</td><td>%s</td>%s<td>%s</td></tr>', clock(tr.time),
      side and ' class="side-' .. side .. '"' or "", text(tr.side), cell(tr.price, "g"), cell(tr.amount, "g"),
      cell(tr.fee, "g"), tr.order == nil and "" or text(tr.order), tr.effect == nil and "spot" or text(tr.effect), fut,
      text(tr.exchange))
  end
  out[#out + 1] = "</tbody></table></div>"
  if #trades > MAX_FILL_ROWS then
    out[#out + 1] = fmt('<p class="note">%d more in --json/--csv.</p>', #trades - MAX_FILL_ROWS)
  end
  return concat(out)
end

local function figures_table(bot)
  local out, fig = { '<table class="figures"><tbody>' }, tbl(bot.figures)
  for _, f in ipairs(FIGS) do
    out[#out + 1] = fmt('<tr data-key="%s"><th>%s</th>%s</tr>', f[1], f[2], cell(fig[f[1]], f[3]))
  end
  for _, f in ipairs(ACCOUNT) do
    out[#out + 1] = fmt('<tr data-key="account-%s"><th>%s</th>%s</tr>', f[1], f[2], cell(bot[f[1]], f[3]))
  end
  return concat(out) .. "</tbody></table>"
end

local function status_text(s)
  if s == 0 then return '<span class="status-ok">status 0</span>' end
  return fmt('<span class="status-bad">exit status %s</span>', text(s))
end

local function summary_table(data, bots, anchors)
  local out = { '<div class="scroll"><table id="summary"><thead><tr><th>bot</th><th>status</th>' }
  for _, f in ipairs(FIGS) do
    if f[4] then out[#out + 1] = "<th>" .. f[2] .. "</th>" end
  end
  out[#out + 1] = "</tr></thead><tbody>"
  local function row(attrs, name, status, fig)
    out[#out + 1] = fmt("<tr %s><td>%s</td><td>%s</td>", attrs, name, status)
    for _, f in ipairs(FIGS) do
      if f[4] then out[#out + 1] = cell(fig[f[1]], f[3]) end
    end
    out[#out + 1] = "</tr>"
  end
  for i, bot in ipairs(bots) do
    row(fmt('data-bot="%s"', text(bot.id)), fmt('<a href="#%s">%s</a>', anchors[i], text(bot.id)),
      status_text(bot.status), tbl(bot.figures))
  end
  row('class="whole"', "whole replay", "", tbl(data.figures))
  return concat(out) .. "</tbody></table></div>"
end

-- ---- the channel timeline ----

-- A bot's publications with a time, in time order (as the host writes them; a list that is not is sorted).
local function by_time(list)
  local ok, prev = true, -huge
  for i = 1, #list do
    local e = list[i]
    local t = type(e) == "table" and e.time
    if not (type(t) == "number" and t >= prev and t > -huge and t < huge) then ok = false; break end
    prev = t
  end
  if ok then return list end
  local out, pos = {}, {}
  for _, e in ipairs(list) do
    if type(e) == "table" and finite(e.time) then out[#out + 1], pos[e] = e, #out + 1 end
  end
  table.sort(out, function(x, y) if x.time ~= y.time then return x.time < y.time end return pos[x] < pos[y] end)
  return out
end

-- One lane per bot, a dot per publication and a line from it to each reader's first read of its seq; then a table
-- of the first publications with who read them and when.
local function timeline(bots, ids, t0, t1)
  local lists, total = {}, 0
  for i, bot in ipairs(bots) do
    lists[i] = by_time(tbl(bot.publications))
    total = total + #lists[i]
  end
  if total == 0 then return '<p class="none">No channel publications.</p>' end
  -- Publications shown (dots, table rows) by channel and seq, so that the reads find theirs without a search.
  local index = {}
  local function entry(lane, pub)
    local by = index[ids[lane]] or {}
    index[ids[lane]] = by
    local e = pub.seq ~= nil and by[pub.seq] or { lane = lane, pub = pub, readers = {}, more = 0 }
    if pub.seq ~= nil then by[pub.seq] = e end
    return e
  end
  local p = frame("timeline", 28 * #bots, t0, t1, 0, #bots, false)
  local function lane_y(i) return MT + (i - 0.5) * 28 end
  -- Too many to draw one by one: the first publication of each pixel column stands for the column's others, found
  -- by bisection on the time-ordered list (a year of minutes is 525,600 publications a bot).
  local dots = {}
  for i, list in ipairs(lists) do
    local j, n = 1, #list
    while j <= n do
      local e, next = entry(i, list[j]), j + 1
      if total > MAX_DOTS then
        local col, lo, hi = floor(p.x(list[j].time)), j + 1, n + 1
        while lo < hi do
          local mid = (lo + hi) // 2
          if floor(p.x(list[mid].time)) > col then hi = mid else lo = mid + 1 end
        end
        next, e.more = lo, lo - j - 1
      end
      dots[#dots + 1], j = e, next
    end
  end
  -- The first publications of all lanes merged in time order (ties: the lane listed first).
  local rows, at = {}, {}
  for i = 1, #lists do at[i] = 1 end
  while #rows < MAX_PUB_ROWS do
    local best
    for i, list in ipairs(lists) do
      local pub = list[at[i]]
      if pub and (not best or pub.time < lists[best][at[best]].time) then best = i end
    end
    if not best then break end
    rows[#rows + 1] = entry(best, lists[best][at[best]])
    at[best] = at[best] + 1
  end
  for j, bot in ipairs(bots) do
    local reads = tbl(bot.reads)
    for k = 1, #reads do
      local r = reads[k]
      local by = type(r) == "table" and index[r.channel]
      local e = by and r.seq ~= nil and by[r.seq]
      if e and finite(r.time) then e.readers[#e.readers + 1] = { lane = j, time = r.time } end
    end
  end
  local lanes, lines, ends = {}, {}, {}
  for i = 1, #bots do
    lanes[#lanes + 1] = fmt("M%d %.1fh%d", ML, lane_y(i), PW)
    p.add(fmt('<text class="yl" x="%d" y="%.1f">%s</text>', ML - 4, lane_y(i) + 4, preview(ids[i], 12)))
  end
  p.add(fmt('<path class="lane" d="%s"/>', concat(lanes)))
  -- Lines from more than a few hundred dots only paint the lanes over: beyond, every step-th dot keeps its lines.
  local step = (#dots + MAX_LINES - 1) // MAX_LINES
  for k = 1, #dots, step do
    local e = dots[k]
    for _, r in ipairs(e.readers) do
      lines[#lines + 1] = fmt("M%.1f %.1fL%.1f %.1f", p.x(e.pub.time), lane_y(e.lane), p.x(r.time), lane_y(r.lane))
      ends[#ends + 1] = fmt("M%.1f %.1fh3v-3h-3z", p.x(r.time) - 1.5, lane_y(r.lane) + 1.5)
    end
  end
  p.add(fmt('<path class="reads" d="%s"/><path class="read" d="%s"/>', concat(lines), concat(ends)))
  for _, e in ipairs(dots) do
    p.add(fmt('<circle class="pub" data-bot="%s" data-seq="%s" cx="%.1f" cy="%.1f" r="3.5"><title>%s seq %s at %s%s:'
      .. ' %s</title></circle>', esc(ids[e.lane]), text(e.pub.seq), p.x(e.pub.time), lane_y(e.lane),
      esc(ids[e.lane]), text(e.pub.seq), clock(e.pub.time),
      e.more > 0 and fmt(" (and %d more in this pixel column)", e.more) or "", preview(e.pub.data, 80)))
  end
  local out = { p.svg(), fmt('<p class="note">%d publications%s; a line joins each to every reader\'s first read '
    .. "of it%s.</p>", total, total > MAX_DOTS and fmt(", %d dots (the first of each bot's pixel column)", #dots) or "",
    step > 1 and fmt(" (drawn for every %dth dot)", step) or ""),
    '<div class="scroll"><table id="publications"><thead><tr><th>time</th><th>bot</th><th>seq</th><th>data</th>'
    .. "<th>read by</th></tr></thead><tbody>" }
  for _, e in ipairs(rows) do
    local readers = {}
    for _, r in ipairs(e.readers) do
      readers[#readers + 1] = fmt('<span data-reader="%s">%s at %s</span>', esc(ids[r.lane]), esc(ids[r.lane]),
        clock(r.time))
    end
    out[#out + 1] = fmt('<tr><td>%s</td><td>%s</td><td class="n">%s</td><td><code>%s</code></td><td>%s</td></tr>',
      clock(e.pub.time), esc(ids[e.lane]), text(e.pub.seq), preview(e.pub.data, 120), concat(readers, ", "))
  end
  out[#out + 1] = "</tbody></table></div>"
  if total > #rows then out[#out + 1] = fmt('<p class="note">%d more in --json.</p>', total - #rows) end
  return concat(out)
end

-- ---- the page ----

local CSS = [[
body{font:14px/1.45 system-ui,sans-serif;margin:16px 24px;color:#1f2328;background:#fff}h1{font-size:22px;margin:0 0 4px}
h2{font-size:18px;margin:32px 0 8px;border-bottom:1px solid #d0d7de}h3{font-size:15px;margin:18px 0 4px}h4{margin:12px 0 2px}
table{border-collapse:collapse;font-variant-numeric:tabular-nums;margin:6px 0}tr.whole{font-weight:600}
th,td{padding:2px 8px;border-bottom:1px solid #eaeef2;text-align:left;white-space:nowrap}td.n{text-align:right}
code{font-size:12px;white-space:pre-wrap;word-break:break-all}.scroll{overflow:auto;max-height:480px}
.note,.none{color:#57606a;margin:2px 0 8px}.none{font-style:italic}.legend span{margin-right:14px}.meta{margin:0 0 8px}
svg.chart{display:block;width:100%;max-width:1320px;height:auto}#summary th{white-space:normal}
.plot{fill:none;stroke:#d0d7de}.grid,.lane{fill:none;stroke:#eaeef2}.zero{fill:none;stroke:#8c959f}
text{font-size:11px;fill:#57606a}.yl{text-anchor:end}.xl{text-anchor:middle}.line{fill:none;stroke-width:1.2}
.equity{stroke:#2563eb}.profit{stroke:#7c3aed}.dd{fill:#dc262633;stroke:#dc2626;stroke-width:.8}
.up{fill:#9cc9a8;stroke:#9cc9a8}.down{fill:#e0a3a3;stroke:#e0a3a3}.side-buy{color:#0a7d32}.side-sell{color:#c01818}
.buy{fill:#0a7d32;stroke:#fff;stroke-width:.6}.sell{fill:#c01818;stroke:#fff;stroke-width:.6}
.pub{fill:#2563eb;stroke:#fff}.reads{fill:none;stroke:#2563eb;stroke-opacity:.35}.read{fill:#d97706}
.status-ok{color:#0a7d32}.status-bad{color:#c01818;font-weight:600}
]]

-- The equity and underwater charts of one equity series, with their captions.
local function equity_charts(prefix, eq, t0, t1)
  local times, values, n = series(eq)
  local d, dd = columns(times, values, n, t0, t1, true)
  if d.n == 0 then return '<p class="none">No equity points.</p>' end
  return "<h3>Equity</h3>" .. line_chart(prefix .. "-equity", 200, { { d = d, cls = "equity" } }, t0, t1, ynum)
    .. decimated(d, "equity") .. "<h3>Drawdown</h3>"
    .. line_chart(prefix .. "-drawdown", 120, { { d = dd, cls = "dd" } }, t0, t1, ypct, true)
end

local function bot_section(bot, anchor, t0, t1)
  local trades = tbl(bot.trades)
  local out = { fmt('<section class="bot" id="%s"><h2>Bot %s — %s</h2><p class="meta">script <code>%s</code>',
    anchor, text(bot.id), status_text(bot.status), text(bot.script)) }
  if bot.symbol ~= nil then out[#out + 1] = fmt(", market %s", text(bot.symbol)) end
  if bot.quote ~= nil then out[#out + 1] = fmt(" (quote %s)", text(bot.quote)) end
  out[#out + 1] = "</p>" .. figures_table(bot) .. "<h3>Market and fills</h3>"
    .. candle_chart(anchor .. "-candles", bot.candles, trades, t0, t1) .. equity_charts(anchor, bot.equity, t0, t1)
  local pt, pv, pn = series(bot.profit)
  local pd = columns(pt, pv, pn, t0, t1)
  if pd.n > 0 then
    out[#out + 1] = "<h3>LogProfit</h3>" .. line_chart(anchor .. "-profit", 160, { { d = pd, cls = "profit" } }, t0,
      t1, ynum) .. decimated(pd, "LogProfit")
  end
  local charts = tbl(bot.charts)
  if #charts > 0 then out[#out + 1] = "<h3>Charts</h3>" end
  for k, ch in ipairs(charts) do
    ch = tbl(ch)
    local sets, legend = {}, {}
    for i, s in ipairs(tbl(ch.series)) do
      local st, sv, sn = series(s)
      sets[i] = { d = columns(st, sv, sn, t0, t1) }
      legend[i] = fmt('<span style="color:%s">■ %s</span>', PALETTE[(i - 1) % #PALETTE + 1], text(tbl(s).name))
    end
    out[#out + 1] = fmt('<h4>%s</h4><p class="legend">%s</p>', text(ch.title), concat(legend))
      .. (line_chart(fmt("%s-chart-%d", anchor, k), 160, sets, t0, t1, ynum) or '<p class="none">No points.</p>')
  end
  out[#out + 1] = fmt("<h3>Fills (%d)</h3>", #trades) .. fills_table(trades) .. "</section>"
  return concat(out)
end

-- The replay's span: from and to, else what the series cover.
local function span(data, bots)
  if finite(data.from) and finite(data.to) and data.to > data.from then return data.from, data.to end
  local lo, hi = huge, -huge
  local function see(s)
    local t = tbl(tbl(s).time)
    if finite(t[1]) then lo = min(lo, t[1]) end
    if finite(t[#t]) then hi = max(hi, t[#t]) end
  end
  see(data.equity)
  for _, bot in ipairs(bots) do see(bot.equity); see(bot.candles); see(bot.profit) end
  if lo > hi then return 0, 1 end
  return lo, hi > lo and hi or lo + 1
end

function M.render(data)
  data = tbl(data)
  local bots = {}
  for _, bot in ipairs(tbl(data.bots)) do bots[#bots + 1] = tbl(bot) end
  local t0, t1 = span(data, bots)
  -- Element ids from bot ids: only [A-Za-z0-9_-], and unique.
  local ids, anchors, used = {}, {}, {}
  for i, bot in ipairs(bots) do
    ids[i] = type(bot.id) == "string" and bot.id or text(bot.id)
    local a = "bot-" .. ids[i]:gsub("[^%w_-]", "_")
    if used[a] then a = a .. "-" .. i end
    used[a], anchors[i] = true, a
  end
  local out = { '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
    .. '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'">'
    .. '<meta name="viewport" content="width=device-width, initial-scale=1"><title>stratrun replay report</title>'
    .. "<style>" .. CSS .. "</style></head><body><h1>Replay report</h1>",
    fmt('<p class="meta">%s to %s UTC (%s), bars of %s, %d bots</p>', clock(data.from), clock(data.to),
      duration(finite(data.from) and finite(data.to) and data.to - data.from or nil), duration(data.period), #bots),
    "<h2>Summary</h2>", summary_table(data, bots, anchors),
    '<p class="note">The tables hold the exact figures; the charts are drawn from at most two points per pixel '
    .. "column.</p><h2>Whole replay</h2>",
    equity_charts("whole", data.equity, t0, t1), "<h2>Channel publications</h2>", timeline(bots, ids, t0, t1) }
  for i, bot in ipairs(bots) do out[#out + 1] = bot_section(bot, anchors[i], t0, t1) end
  out[#out + 1] = "</body></html>\n"
  return concat(out)
end

return M
