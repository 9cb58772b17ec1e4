-- Spec for the replay's HTML report (stdlib/report.lua, docs/report.md, issue #15): the page is rendered from
-- tables built here and, with `stratrun replay --report`, from a real replay, then opened in headless chromium (the
-- slow tier: a browser start is seconds). What the browser's DOM holds is checked against the data: the charts by
-- their ids, one triangle per fill with its hover text, the summary's exact figures, the channel timeline, a
-- strategy's hostile strings kept as text; and the page makes no request (chromium runs with every host name
-- unresolvable), writes nothing on the console, is the same bytes for the same data, and screenshots as a real
-- picture. On the README's sample replay every figure of the summary is recomputed here from the --json fills and
-- equity (docs/report.md's definitions, not stdlib/metrics.lua); the other samples of strategies/ are replayed with
-- --report and their pages loaded. The screenshots and pages are kept in $STRATRUN_ARTIFACTS when set.
local h = require("helpers")
local report = require("report")

local CHROMIUM = "/usr/bin/chromium"
local MIN = 60000
local T0 = 1704067200000          -- 2024-01-01T00:00:00Z

-- Runs headless chromium on the file with the extra arguments, no host name resolvable (so any request would
-- fail and show), a throwaway profile, and the page's console written to stderr; returns its stdout.
local function chromium(dir, path, args)
  assert(h.exists(CHROMIUM), CHROMIUM .. " is missing: apt-get install -y --no-install-recommends chromium")
  -- (scripts/memcheck.sh caps the address space of what it runs, softly; chromium reserves far more than it uses)
  local cmd = string.format("ulimit -S -v unlimited 2> /dev/null; timeout -s KILL 60 %s --headless --no-sandbox --disable-gpu --user-data-dir=%s "
    .. "--host-resolver-rules=%s --enable-logging=stderr --v=0 %s %s 2> %s", CHROMIUM, h.quote(h.tmpdir()),
    h.quote("MAP * ~NOTFOUND"), args, h.quote("file://" .. path), h.quote(dir .. "/chromium.err"))
  local f = assert(io.popen(cmd))
  local out = f:read("a")
  f:close()
  return out
end

-- The page's DOM after chromium loaded it, and what the page wrote to the console meanwhile: a script's error
-- ("Uncaught ..."), a script, style or request that the Content-Security-Policy blocked, a console call. The page
-- has no script, so a report that loads cleanly has none of them.
local function dump_dom(dir, path)
  local dom = chromium(dir, path, "--dump-dom")
  local err = h.read(dir .. "/chromium.err") or ""
  assert(dom:find("</html>", 1, true), "no DOM from chromium: " .. err)
  local console = {}
  for line in err:gmatch("[^\n]+") do
    if line:find(":CONSOLE", 1, true) then console[#console + 1] = line end
  end
  return dom, console
end

-- An svg element of the DOM by its id, whole.
local function svg(dom, id)
  return dom:match('<svg id="' .. id:gsub("%p", "%%%0") .. '".-</svg>')
end

local function count(text, plain)
  local n, at = 0, 1
  while true do
    local s, e = text:find(plain, at, true)
    if not s then return n end
    n, at = n + 1, e + 1
  end
end

-- The cells of a table row: {text, v = data-v as a number or nil} each.
local function cells(row)
  local out = {}
  for attrs, body in row:gmatch("<td([^>]*)>(.-)</td>") do
    out[#out + 1] = { text = body, v = tonumber(attrs:match('data%-v="([^"]+)"')) }
  end
  return out
end

-- The summary's columns after bot and status, in order (stdlib/report.lua's FIGS marked for the summary).
local SUMMARY = { "total_return", "annual_return", "max_drawdown", "max_drawdown_duration", "sharpe", "sortino",
  "win_rate", "profit_factor", "exposure", "trades", "fees", "buy_hold_return" }

local function summary_row(dom, attr)
  local row = dom:match("<tr " .. attr:gsub("%p", "%%%0") .. ">(.-)</tr>")
  assert(row, "no summary row " .. attr)
  local c = cells(row)
  local fig = {}
  for i, k in ipairs(SUMMARY) do fig[k] = c[i + 2] end
  return fig, c
end

local function close(a, b, tol)
  return a and b and math.abs(a - b) <= (tol or 1e-12) * math.max(1, math.abs(b))
end

-- A replay's table as the host builds it: master publishes signals, follower reads them and trades, broadcaster
-- publishes without a market of its own, monitor reads everyone and ended with exit status 3. Prices from an LCG.
local function sample(n_bars)
  local rnd = h.lcg(7)
  local candles = { time = {}, open = {}, high = {}, low = {}, close = {} }
  local price, p = {}, 43000
  for i = 1, n_bars do
    local o = p
    p = p * (1 + (rnd() - 0.5) * 0.004)
    price[i] = p
    candles.time[i], candles.open[i], candles.close[i] = T0 + (i - 1) * MIN, o, p
    candles.high[i], candles.low[i] = math.max(o, p) * 1.0005, math.min(o, p) * 0.9995
  end
  local function eq(f)
    local e = { time = {}, value = {} }
    for i = 1, n_bars do e.time[i], e.value[i] = T0 + i * MIN, f(i) end
    return e
  end
  local trades = {}
  for k = 1, 7 do
    local i = k * 12
    trades[k] = { time = T0 + i * MIN, side = k % 2 == 1 and "buy" or "sell", price = price[i], amount = 0.05,
      fee = price[i] * 0.05 * 0.001, order = k, exchange = 1 }
  end
  local master_pubs, master_reads_f = {}, {}
  for k = 1, 5 do
    master_pubs[k] = { time = T0 + k * 10 * MIN, seq = k, data = string.format('{"signal":"HOLD","n":%d}', k) }
    master_reads_f[k] = { time = T0 + (k * 10 + 1) * MIN, channel = "632799", seq = k }
  end
  local fig = function(tr, dd)
    return { start_equity = 10000, end_equity = 10000 * (1 + tr), total_return = tr, annual_return = tr * 365,
      max_drawdown = dd, max_drawdown_duration = 5 * 3600000, sharpe = 1.2345678, sortino = 0 / 0,
      round_trips = 3, win_rate = 2 / 3, profit_factor = math.huge, exposure = 0.4321, trades = #trades,
      fees = 1.5, buy_hold_return = 0.0123 }
  end
  return {
    from = T0, to = T0 + n_bars * MIN, period = MIN, figures = fig(0.0456, 0.0789),
    equity = eq(function(i) return 30000 + 200 * math.sin(i / 9) end),
    bots = {
      { id = "632799", script = "strategies/master.lua", status = 0, orders = 0, fills = 0, fees = 0,
        symbol = "BTC_USDT", quote = "USDT", trades = {}, equity = eq(function() return 10000 end),
        candles = candles, figures = fig(0, 0), publications = master_pubs, reads = {} },
      { id = "632800", script = "strategies/follower.lua", status = 0, orders = 7, fills = #trades, fees = 1.5,
        symbol = "BTC_USDT", quote = "USDT", trades = trades, candles = candles, figures = fig(0.1234567, 0.0421),
        equity = eq(function(i) return 10000 + 300 * math.sin(i / 13) - i end),
        profit = { time = { T0 + 30 * MIN, T0 + 90 * MIN }, value = { 1.5, -2.25 } },
        charts = { { title = "Spread </h4><img src=x>", series = { { name = "bid", time = { T0, T0 + 60 * MIN },
          value = { 1, 2 } } } } }, reads = master_reads_f },
      { id = "632801", script = "strategies/broadcaster.lua", status = 0, trades = {},
        equity = eq(function() return 10000 end), figures = {},
        publications = { { time = T0 + 30 * MIN, seq = 1, data = '"</code><img src=x onerror=alert(1)>"' } } },
      { id = "632802", script = "<script>document.title='pwned'</script>", status = 3, trades = {},
        reads = { { time = T0 + 31 * MIN, channel = "632801", seq = 1 }, { time = T0 + 25 * MIN, channel = "632799",
          seq = 2 } } },
    },
  }
end

-- The same table rebuilt with every key inserted in reverse order, so that pairs() would see another order.
local function rebuilt(v)
  if type(v) ~= "table" then return v end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  local t = {}
  for i = #keys, 1, -1 do t[keys[i]] = rebuilt(v[keys[i]]) end
  return t
end

local function png_size(path)
  local s = h.read(path)
  assert(s and s:sub(1, 8) == "\137PNG\r\n\26\n", "not a PNG: " .. path)
  return #s, string.unpack(">I4", s, 17), string.unpack(">I4", s, 21)
end

describe("the HTML report", function()
  local dir, data, html, path, dom, console
  setup(function()
    dir = h.tmpdir()
    data = sample(240)
    html = report.render(data)
    path = h.write(dir .. "/report.html", html)
    dom, console = dump_dom(dir, path)
  end)

  it("is the same bytes for the same data, whatever order its tables were built in", function()
    assert.are.equal(html, report.render(data))
    assert.are.equal(html, report.render(rebuilt(data)))
  end)

  it("asks no server for anything: no script, stylesheet, image or link out, and a CSP of default-src 'none'", function()
    for _, attr in ipairs({ "src", "href", "action", "url(" }) do
      for at in html:gmatch(attr .. "[%s=]*[\"']?(%a+:)") do
        assert(at ~= "http:" and at ~= "https:" and at ~= "ftp:", attr .. " to " .. at)
      end
    end
    assert.is_nil(html:find("<script", 1, true))
    assert.is_nil(html:find("<link", 1, true))
    assert.is_nil(html:find("<img", 1, true))
    h.assert_has(html, "default-src 'none'")
    -- and it rendered whole with every host name unresolvable, with nothing on the console (a hostile string that
    -- became a script or an image would be blocked by the CSP, and say so there)
    h.assert_has(dom, '<table id="summary">')
    assert(dom:find("</section>%s*</body></html>"), "the page did not render to its end")
    assert.are.same({}, console)
  end)

  it("draws each bot's candles with a triangle per fill, its equity and drawdown, LogProfit and Chart()", function()
    local candles = assert(svg(dom, "bot-632800-candles"), "no candle chart")
    local buys, sells = 0, 0
    for _, tr in ipairs(data.bots[2].trades) do
      if tr.side == "buy" then buys = buys + 1 else sells = sells + 1 end
    end
    assert.are.equal(buys, count(candles, '<path class="buy"'))
    assert.are.equal(sells, count(candles, '<path class="sell"'))
    assert.are.equal(1, count(candles, '<path class="up"'))
    assert.are.equal(1, count(candles, '<path class="down"'))
    -- each triangle's hover text: its time, side, amount and price
    local first = data.bots[2].trades[1]
    h.assert_has(candles, string.format("<title>2024-01-01 00:12:00 buy 0.05 @ %.10g</title>", first.price))
    for _, id in ipairs({ "whole-equity", "whole-drawdown", "bot-632799-equity", "bot-632800-equity",
      "bot-632800-drawdown", "bot-632800-profit", "bot-632800-chart-1", "bot-632799-candles", "timeline" }) do
      assert(svg(dom, id), "no svg " .. id)
    end
    -- the master has no fills, the broadcaster no market, the monitor nothing at all
    assert.are.equal(0, count(svg(dom, "bot-632799-candles"), 'class="buy"'))
    h.assert_has(dom:match('<section class="bot" id="bot%-632801">.-</section>'), "No market data and no fills.")
    local monitor = dom:match('<section class="bot" id="bot%-632802">.-</section>')
    h.assert_has(monitor, "exit status 3")
    h.assert_has(monitor, "No equity points.")
    h.assert_has(monitor, "No fills.")
    assert.is_nil(svg(dom, "bot-632802-equity"))
  end)

  it("sums up every bot and the whole replay with the exact figures", function()
    local fig = summary_row(dom, 'data-bot="632800"')
    local want = data.bots[2].figures
    for _, k in ipairs({ "total_return", "annual_return", "max_drawdown", "sharpe", "win_rate", "exposure",
      "buy_hold_return", "fees", "trades", "max_drawdown_duration" }) do
      assert(close(fig[k].v, want[k]), k .. ": " .. tostring(fig[k].v) .. " vs " .. tostring(want[k]))
    end
    assert.are.equal("12.35 %", fig.total_return.text)
    assert.are.equal("4.21 %", fig.max_drawdown.text)
    assert.are.equal("5h 00m", fig.max_drawdown_duration.text)
    assert.are.equal("1.235", fig.sharpe.text)
    assert.are.equal("–", fig.sortino.text)          -- NaN
    assert.are.equal("∞", fig.profit_factor.text)    -- no losing trade
    assert.are.equal("7", fig.trades.text)
    local whole = summary_row(dom, 'class="whole"')
    assert(close(whole.total_return.v, 0.0456))
    assert.are.equal("7.89 %", whole.max_drawdown.text)
    -- a bot without figures has a row of dashes, and its status
    local _, c = summary_row(dom, 'data-bot="632802"')
    h.assert_has(c[2].text, "exit status 3")
    for i = 3, #c do assert.are.equal("–", c[i].text) end
  end)

  it("shows the channel publications, who read each and when", function()
    local tl = svg(dom, "timeline")
    assert.are.equal(6, count(tl, '<circle class="pub"'))
    assert.are.equal(5, count(tl, 'data-bot="632799"'))
    local rows = dom:match('<table id="publications">.-</table>')
    assert.are.equal(6 + 1, count(rows, "<tr>"))
    -- the follower read every master publication a minute later; the monitor read seq 2 early and the broadcaster's
    h.assert_has(rows, '<span data-reader="632800">632800 at 2024-01-01 00:11:00</span>')
    h.assert_has(rows, '<span data-reader="632802">632802 at 2024-01-01 00:25:00</span>')
    h.assert_has(rows, '<span data-reader="632802">632802 at 2024-01-01 00:31:00</span>')
    -- a line per read: 5 + 2
    local reads = tl:match('<path class="reads" d="([^"]*)"')
    assert.are.equal(7, count(reads, "M"))
  end)

  it("keeps a strategy's hostile strings as text", function()
    assert.is_nil(dom:find("<img", 1, true))
    assert.is_nil(dom:find("<script", 1, true))
    h.assert_has(dom, "<title>stratrun replay report</title>")
    h.assert_has(dom, "&lt;script&gt;document.title='pwned'&lt;/script&gt;")
    h.assert_has(dom, "&lt;/code&gt;&lt;img src=x onerror=alert(1)&gt;")
    h.assert_has(dom, "Spread &lt;/h4&gt;&lt;img src=x&gt;")
  end)

  it("screenshots as a real picture (kept in $STRATRUN_ARTIFACTS)", function()
    local png = dir .. "/report.png"
    chromium(dir, path, "--screenshot=" .. h.quote(png) .. " --window-size=1400,3000 --hide-scrollbars")
    local bytes, w, ht = png_size(png)
    assert.are.equal(1400, w)
    assert.are.equal(3000, ht)
    assert(bytes > 50000, "a near-empty screenshot: " .. bytes .. " bytes")
    local keep = os.getenv("STRATRUN_ARTIFACTS")
    if keep then assert(h.sh("mkdir -p " .. h.quote(keep) .. " && cp " .. h.quote(png) .. " " .. h.quote(keep)
      .. "/report.png") == 0) end
  end)
end)

describe("the HTML report on awkward data", function()
  it("renders what is missing, NaN, inf, null, negative or empty as such", function()
    local null = json.null
    local bad = {
      from = null, to = 0 / 0, figures = { total_return = null, sharpe = math.huge, trades = "x" },
      equity = { time = { T0, T0 + MIN, T0 + 2 * MIN }, value = { 100, null, -50 } },
      bots = { { id = 7, status = null, trades = { { side = "hold", time = T0 }, "x", { time = null, side = "buy" } },
        equity = { time = { T0, T0 + MIN, T0 + 2 * MIN, T0 + 3 * MIN }, value = { 10, -5, 0 / 0, -20 } },
        candles = { time = { T0 }, open = { 1 }, high = { null }, low = { 1 }, close = { 1 } },
        charts = { "x", { series = { { time = { T0 }, value = { math.huge } } } } }, publications = { { data = {} } },
        reads = { 5, { channel = {}, seq = {} } } }, "not a bot" },
    }
    for _, d in ipairs({ {}, { bots = "x" }, bad }) do
      local out = report.render(d)
      h.assert_has(out, "</body></html>")
      assert.are.equal(out, report.render(d))
    end
    local out = report.render(bad)
    h.assert_has(out, 'id="bot-7-equity"')
    h.assert_has(out, 'id="bot-7-drawdown"')       -- negative equity still has an underwater chart
    h.assert_has(out, ">∞</td>")                  -- an infinite Sharpe
    h.assert_has(out, "No market data and no fills.")
    -- the non-buy/sell fill is listed, not marked
    h.assert_has(out, "<td>hold</td>")
  end)

  it("decimates a year of minutes for the charts and lists the first 500 fills", function()
    local n = 525600
    local e = { time = {}, value = {} }
    for i = 1, n do e.time[i], e.value[i] = T0 + i * MIN, 1000 + (i % 1440) - i / 1000 end
    local trades = {}
    for k = 1, 600 do trades[k] = { time = T0 + k * 800 * MIN, side = "buy", price = 1, amount = 1, fee = 0 } end
    local out = report.render({ from = T0, to = T0 + n * MIN, equity = e,
      bots = { { id = "a", equity = e, trades = trades } } })
    local d = out:match('<svg id="bot%-a%-equity".-<path class="line equity" d="([^"]*)"')
    local points = count(d, "M") + count(d, "L")
    assert(points <= 2400 and points > 1000, points .. " points drawn")
    h.assert_has(out, "525600 points, drawn as the lowest and highest of each of 1200 pixel columns")
    local fills = out:match('<table class="fills">.-</table>')
    assert.are.equal(500, count(fills, "<tr>") - 1)
    h.assert_has(out, "100 more in --json/--csv.")
    assert(#out < 1000000, #out .. " bytes")
  end)

  it("says on hover what each futures fill did, and what a merged triangle stands for", function()
    -- 1,200 minutes on 1,200 pixel columns: two opening buys a minute, and every 100 minutes three closing sells
    -- on the bot's second exchange: 2,436 fills, more than are marked one by one, so merged per side and column
    local trades = {}
    for m = 0, 1199 do
      for k = 0, 1 do
        trades[#trades + 1] = { time = T0 + m * MIN + k * 1000, side = "buy", price = 43000, amount = 0.5, fee = 8.6,
          order = #trades + 1, effect = "open", position = "long", pnl = 0 }
      end
      if m % 100 == 0 then
        for k, pnl in ipairs({ 50, 12.5, -3 }) do
          trades[#trades + 1] = { time = T0 + m * MIN + (k + 1) * 1000, side = "sell", price = 43100, amount = 0.25,
            fee = 4.3, order = #trades + 1, effect = "close", position = "long", pnl = pnl, exchange = 2 }
        end
      end
    end
    local out = report.render({ from = T0, to = T0 + 1200 * MIN, bots = { { id = "f", trades = trades } } })
    local candles = assert(svg(out, "bot-f-candles"))
    local titles = {}
    for side, title in candles:gmatch('<path class="(%a+)" d="[^"]*"><title>(.-)</title>') do
      titles[#titles + 1] = { side, title }
    end
    assert.are.equal(1200 + 12, #titles)
    assert.are.same({ "buy", "2024-01-01 00:00:00 buy 0.5 @ 43000 (open long) (and 1 more buy in this pixel column)" },
      titles[1])
    assert.are.same({ "sell", "2024-01-01 00:00:02 sell 0.25 @ 43100 (close long, P&amp;L 50, exchange 2) (and 2 more "
      .. "sells in this pixel column)" }, titles[2])
    -- every one: time, side, amount @ price, then what it did, each part set off by a space
    for _, t in ipairs(titles) do
      assert(t[2]:find("^%d%d%d%d%-%d%d%-%d%d %d%d:%d%d:%d%d " .. t[1] .. " %d[%d.]* @ %d[%d.]* %((%a+) long[^()]*%) "
        .. "%(and %d+ more %a+ in this pixel column%)$"), t[2])
    end
    h.assert_has(out, "2436 fills marked by 1212 triangles")
    -- the fills table: the position of each, and a close's realized P&L as the data carry it (an open's 0 is none)
    local fills = out:match('<table class="fills">.-</table>')
    h.assert_has(fills, "<th>effect</th><th>position</th><th>realized P&amp;L</th><th>exchange</th>")
    local rows = {}
    for row in fills:gmatch("<tr>(.-)</tr>") do rows[#rows + 1] = row end
    h.assert_has(rows[2], "<td>open</td><td>long</td><td></td><td>–</td>")
    h.assert_has(rows[4], '<td>close</td><td>long</td><td class="n pnl" data-v="50">50</td><td>2</td>')
    h.assert_has(rows[6], '<td>close</td><td>long</td><td class="n pnl" data-v="-3">-3</td><td>2</td>')
    -- a spot bot's table has neither column
    local spot = report.render({ bots = { { id = "s", trades = { { time = T0, side = "buy", price = 1, amount = 1,
      fee = 0 } } } } })
    assert.is_nil(spot:find("realized P&amp;L", 1, true))
  end)
end)

-- ---- the figures of a replay, recomputed from its --json fills and equity by docs/report.md's definitions ----

local YEAR = 365 * 86400000

-- A number as the page writes it: "–" when missing; fixed decimals, never "-0.00".
local function shown(x, f)
  if x == nil then return "–" end
  local s = string.format(f, x)
  return (s:gsub("^%-(0[.0]*)$", "%1"))
end
local function shown_pct(x) return x == nil and "–" or shown(x * 100, "%.2f") .. " %" end
local function shown_duration(ms)
  if ms < 60000 then return shown(ms / 1000, "%.3g") .. " s" end
  local m = ms // 60000
  local d, hh, mm = m // 1440, m // 60 % 24, m % 60
  if d > 0 then return string.format("%dd %02dh %02dm", d, hh, mm) end
  return hh > 0 and string.format("%dh %02dm", hh, mm) or string.format("%dm", mm)
end
-- The summary's columns as shown: each figure's display.
local SHOWN = { total_return = shown_pct, annual_return = shown_pct, max_drawdown = shown_pct,
  max_drawdown_duration = shown_duration, sharpe = function(x) return shown(x, "%.3f") end,
  sortino = function(x) return shown(x, "%.3f") end, win_rate = shown_pct,
  profit_factor = function(x) return shown(x, "%.3f") end, exposure = shown_pct,
  trades = function(x) return shown(x, "%.0f") end, fees = function(x) return shown(x, "%.4f") end,
  buy_hold_return = shown_pct }

-- The figures of an equity path: v_0 = start at `from`, then v[i] at t[i] (every bar's close), the span from..to
-- and the bar period. Total and annualized return, max drawdown from the running peak and the longest stay under a
-- peak, Sharpe and Sortino of the bar-to-bar returns.
local function path_figures(start, t, v, from, to, period)
  local n = #v
  local f = { total_return = v[n] / start - 1 }
  local annual = (v[n] / start) ^ (YEAR / (to - from)) - 1
  if annual == annual and math.abs(annual) < math.huge then f.annual_return = annual end
  -- a peak, the time it was reached and, while under it, since when
  local peak, peak_at, under = start, from, false
  local deepest, longest = 0, 0
  for i = 1, n do
    if v[i] < peak then
      under = true
      deepest = math.max(deepest, 1 - v[i] / peak)
    else
      if under then longest = math.max(longest, t[i] - peak_at) end
      peak, peak_at, under = v[i], t[i], false
    end
  end
  if under then longest = math.max(longest, t[n] - peak_at) end
  f.max_drawdown, f.max_drawdown_duration = deepest, longest
  -- returns: a bar after one without positive equity has none
  local r = {}
  for i = 1, n do
    local prev = i == 1 and start or v[i - 1]
    if prev > 0 then r[#r + 1] = v[i] / prev - 1 end
  end
  if #r >= 2 then
    local mean = 0
    for _, x in ipairs(r) do mean = mean + x end
    mean = mean / #r
    local dev2, down2 = 0, 0
    for _, x in ipairs(r) do
      dev2 = dev2 + (x - mean) ^ 2
      down2 = down2 + math.min(x, 0) ^ 2
    end
    local annualize = math.sqrt(YEAR / period)
    if dev2 > 0 then f.sharpe = mean / math.sqrt(dev2 / (#r - 1)) * annualize end
    if down2 > 0 then f.sortino = mean / math.sqrt(down2 / #r) * annualize end
  end
  return f
end

-- Win rate and profit factor of a list of round trips' profits.
local function trip_figures(f, profits)
  local wins, won, lost = 0, 0, 0
  for _, p in ipairs(profits) do
    if p > 0 then wins, won = wins + 1, won + p else lost = lost - p end
  end
  if #profits > 0 then f.win_rate = wins / #profits end
  if lost > 0 then f.profit_factor = won / lost end
end

-- The bar close from which a fill is in the account: a change inside a bar counts at its close. An order filled
-- when it was placed is in at the first close at or after its time; a fill made by a later candle has a time inside
-- that candle, [open, open + period), so it is in at that candle's close. The bot's log tells them apart: the first
-- kind's "Filled" line is written at the fill's time, the second's only when the bot next calls the exchange,
-- after the candle closed.
local function in_from(tr, filled_at, period)
  if filled_at[tr.order] == tr.time then return tr.time end
  return tr.time // period * period + period
end

-- The share of the bar closes t[i] at which the account held coins: the coins at the start, plus what the fills
-- in by then bought, less what they sold.
local function exposure(t, trades, coins, filled_at, period)
  local changes = {}
  for _, tr in ipairs(trades) do
    changes[#changes + 1] = { at = in_from(tr, filled_at, period), d = tr.side == "buy" and tr.amount or -tr.amount }
  end
  table.sort(changes, function(a, b) return a.at < b.at end)
  local held, k = 0, 0
  for i = 1, #t do
    while changes[k + 1] and changes[k + 1].at <= t[i] do
      k = k + 1
      coins = coins + changes[k].d
    end
    if coins > 1e-9 then held = held + 1 end
  end
  return held / #t
end

-- The summary row shown for a bot or the whole replay against the figures wanted: each cell's text as the page
-- shows the figure, and its data-v the figure itself.
local function check_row(fig, want, who)
  for _, k in ipairs(SUMMARY) do
    local what = who .. " " .. k
    assert.are.equal(SHOWN[k](want[k]), fig[k].text, what)
    if want[k] == nil then
      assert.is_nil(fig[k].v, what)
    else
      local v = fig[k].v
      assert(v and math.abs(v - want[k]) <= 1e-9 * math.max(math.abs(v), math.abs(want[k])) + 1e-15,
        string.format("%s: page %s, recomputed %.17g", what, v, want[k]))
    end
  end
end

-- A fill's hover text on its triangle: "2024-01-01 00:01:00 buy 0.5 @ 43000", then in parentheses, set off by
-- commas, what it did on futures ("open long"), a close's realized P&L, and its exchange when not the first.
local function g(x) return math.type(x) == "integer" and string.format("%d", x) or string.format("%.10g", x) end
local function fill_title(tr)
  local s = os.date("!%Y-%m-%d %H:%M:%S", tr.time // 1000)
  if tr.time % 1000 ~= 0 then s = s .. string.format(".%03d", tr.time % 1000) end
  s = s .. " " .. tr.side .. " " .. g(tr.amount) .. " @ " .. g(tr.price)
  local what = {}
  if tr.effect then what[#what + 1] = tr.effect .. " " .. tr.position end
  if tr.effect and tr.effect ~= "open" then what[#what + 1] = "P&amp;L " .. g(tr.pnl) end
  if tr.exchange and tr.exchange ~= 1 then what[#what + 1] = "exchange " .. g(tr.exchange) end
  return #what > 0 and s .. " (" .. table.concat(what, ", ") .. ")" or s
end

-- Each fill of the bot has its triangle, in order, of its side and with its hover text (one by one: up to 2,000).
local function check_marks(dom, bot)
  local candles = assert(svg(dom, "bot-" .. bot.id .. "-candles"), "no candles of " .. bot.id)
  local marks = {}
  for side, title in candles:gmatch('<path class="(%a+)" d="[^"]*"><title>(.-)</title>') do
    marks[#marks + 1] = { side, title }
  end
  local want = {}
  for i, tr in ipairs(bot.trades) do want[i] = { tr.side, fill_title(tr) } end
  assert(#want <= 2000)
  assert.are.same(want, marks)
end

-- The real thing: README.md's sample replay, its --report read back and held against figures recomputed here from
-- its --json file's fills and equity.
describe("stratrun replay --report", function()
  local dir, j, dom, console
  setup(function()
    dir = h.tmpdir()
    local src = h.source .. "/strategies/"
    local r = h.run({ "replay", "--data-dir", dir .. "/data", "--market", "sim:seed=42,bars=2880",
      "--json", dir .. "/r.json", "--report", dir .. "/r.html",
      "-p", "master=632799", "-p", "bots=632799,632800,632801", "-p", "632801.rounds=30",
      "-p", "632801.interval=60000", src .. "master.lua@632799", src .. "follower.lua@632800",
      src .. "broadcaster.lua@632801", src .. "monitor.lua@632802", dir = dir, env = { TZ = "UTC" }, timeout = 120 })
    h.assert_ok(r)
    j = json.decode(assert(h.read(dir .. "/r.json")))
    dom, console = dump_dom(dir, dir .. "/r.html")
  end)

  it("writes the page of the sample replay: its --json rendered, loaded with nothing on the console", function()
    assert.are.equal(assert(h.read(dir .. "/r.html")), report.render(j))  -- the host renders the --json table
    assert.are.same({}, console)
    for _, bot in ipairs(j.bots) do
      h.assert_has(dom, '<section class="bot" id="bot-' .. bot.id .. '"><h2>Bot ' .. bot.id .. " — ")
    end
    -- the broadcaster's 30 rounds and the master's signals are on the timeline
    assert(count(svg(dom, "timeline"), '<circle class="pub"') > 30)
  end)

  it("shows in its summary the figures recomputed from the --json's fills and equity", function()
    local from, to, period = j.from, j.to, j.period
    -- the market's close at the first bar: the master publishes the ticker at every bar close, from the first;
    -- at the last, the last candle's close
    local master = j.bots[1]
    assert.are.equal(from, master.publications[1].time)
    local first_close = json.decode(master.publications[1].data).price
    local last_close = master.candles.close[#master.candles.close]
    assert.are.equal(to, master.publications[#master.publications].time)
    assert.are.equal(last_close, json.decode(master.publications[#master.publications].data).price)
    local whole_t, whole_v, whole_start, all_profits, all_fees, all_fills = nil, {}, 0, {}, 0, 0
    for b, bot in ipairs(j.bots) do
      local t, v = bot.equity.time, bot.equity.value
      assert.are.equal(from, t[1])
      assert.are.equal(to, t[#t])
      -- the coins it started with: those it ends with, less what it bought, plus what it sold
      local coins, fees = bot.stocks, 0
      for _, tr in ipairs(bot.trades) do
        coins = coins - (tr.side == "buy" and tr.amount or -tr.amount)
        fees = fees + tr.fee
      end
      local filled_at = {}
      for _, e in ipairs(h.of_kind(h.parse_order_log(assert(h.read(dir .. "/data/replay/bots/" .. bot.id
        .. "/log.txt"))), "fill")) do
        filled_at[e.id] = e.ms
      end
      local want = path_figures(bot.start_value, t, v, from, to, period)
      local profits = h.spot_round_trips(bot.trades, coins, first_close)
      trip_figures(want, profits)
      want.exposure = exposure(t, bot.trades, coins, filled_at, period)
      want.trades, want.fees = #bot.trades, fees
      want.buy_hold_return = last_close / first_close - 1
      check_row(summary_row(dom, 'data-bot="' .. bot.id .. '"'), want, bot.id)
      -- the whole replay: the sum of the bots' equities (all at the same closes here), all their round trips
      if b == 1 then whole_t = t end
      for i = 1, #t do
        assert.are.equal(whole_t[i], t[i])
        whole_v[i] = (whole_v[i] or 0) + v[i]
      end
      whole_start = whole_start + bot.start_value
      for _, p in ipairs(profits) do all_profits[#all_profits + 1] = p end
      all_fees, all_fills = all_fees + fees, all_fills + #bot.trades
    end
    local want = path_figures(whole_start, whole_t, whole_v, from, to, period)
    trip_figures(want, all_profits)
    want.trades, want.fees, want.buy_hold_return = all_fills, all_fees, last_close / first_close - 1
    check_row(summary_row(dom, 'class="whole"'), want, "whole replay")
    -- what the sample shows: only the follower trades, a losing two days, and both kinds of missing figure
    local follower = summary_row(dom, 'data-bot="632800"')
    assert.are.equal("-0.78 %", follower.total_return.text)
    assert(#all_profits > 50, "the follower's round trips")
    assert.are.equal("–", summary_row(dom, 'data-bot="632799"').sharpe.text)
    assert.are.equal("–", summary_row(dom, 'class="whole"').exposure.text)
  end)

  it("marks each fill on its bot's candles with its time, side, amount and price on hover", function()
    for _, bot in ipairs(j.bots) do
      assert.are.equal(#bot.trades, summary_row(dom, 'data-bot="' .. bot.id .. '"').trades.v)
      check_marks(dom, bot)
    end
    assert(#j.bots[2].trades > 100)
  end)

  it("screenshots as a real picture (kept in $STRATRUN_ARTIFACTS)", function()
    local png = dir .. "/sample.png"
    chromium(dir, dir .. "/r.html", "--screenshot=" .. h.quote(png) .. " --window-size=1400,4000 --hide-scrollbars")
    local bytes, w = png_size(png)
    assert.are.equal(1400, w)
    assert(bytes > 50000, "a near-empty screenshot: " .. bytes .. " bytes")
    local keep = os.getenv("STRATRUN_ARTIFACTS")
    if keep then
      assert(h.sh("mkdir -p " .. h.quote(keep) .. " && cp " .. h.quote(png) .. " " .. h.quote(keep)
        .. "/sample-report.png && cp " .. h.quote(dir .. "/r.html") .. " " .. h.quote(keep) .. "/sample-report.html")
        == 0)
    end
  end)
end)

-- The other samples of strategies/, each replayed with the bots it is meant to run with (docs/channels.md,
-- "Application scenarios"; README.md): the page of each loads in chromium with nothing on the console, has a section
-- and a summary row per bot, a triangle per fill with its hover text (futures ones say what they opened or closed
-- and the P&L realized), the realized P&L of each futures close in the fills table, and a dot per publication.
-- Each page is kept in $STRATRUN_ARTIFACTS as NAME-report.html.
describe("stratrun replay --report of the other samples", function()
  local S = h.source .. "/strategies/"
  local SAMPLES = {
    { name = "sync", bots = { "632810", "632811", "632812" }, futures = true,
      args = { "--config", S .. "sync.conf", "-p", "632811.ratio=0.5", "-p", "632812.ratio=0.25",
        "-p", "632812.interval=180000", S .. "sync_leader.lua@632810", S .. "sync_follower.lua@632811",
        S .. "sync_follower.lua@632812" } },
    { name = "indicators", bots = { "632820", "632821", "632822" },
      args = { "--config", S .. "indicators.conf", "-p", "632820.rounds=48", "-p", "632822.on_stale=wait",
        S .. "indicator_publisher.lua@632820", S .. "indicator_consumer.lua@632821",
        S .. "indicator_consumer.lua@632822" } },
    -- subscriber.lua follows channels 632799 and 632801 by default: two broadcasters, one of them for 30 rounds
    { name = "subscriber", bots = { "632799", "632801", "632800" },
      args = { "--market", "sim:seed=5,bars=120", "-p", "632799.rounds=30", S .. "broadcaster.lua@632799",
        S .. "broadcaster.lua@632801", S .. "subscriber.lua@632800" } },
    { name = "hello", bots = { "hello" }, args = { "--market", "sim:seed=5,bars=60", S .. "hello.lua" } },
  }

  for _, sm in ipairs(SAMPLES) do
    it(sm.name .. ": the page loads with each bot's section, its fills marked and nothing on the console", function()
      local dir = h.tmpdir()
      local argv = { "replay", "--data-dir", dir .. "/data", "--quiet", "--json", dir .. "/r.json", "--report",
        dir .. "/r.html", dir = dir, env = { TZ = "UTC" }, timeout = 120 }
      for _, a in ipairs(sm.args) do argv[#argv + 1] = a end
      h.assert_ok(h.run(argv))
      local page = assert(h.read(dir .. "/r.html"))
      local keep = os.getenv("STRATRUN_ARTIFACTS")
      if keep and keep ~= "" then
        assert(h.sh("mkdir -p " .. h.quote(keep)) == 0)
        h.write(keep .. "/" .. sm.name .. "-report.html", page)
      end
      local j = json.decode(assert(h.read(dir .. "/r.json")))
      assert.are.equal(page, report.render(j))
      local dom, console = dump_dom(dir, dir .. "/r.html")
      assert.are.same({}, console)
      assert.is_nil(dom:find("<script", 1, true))
      assert(dom:find("</section>%s*</body></html>"), "the page did not render to its end")
      local ids, pubs, closes = {}, 0, 0
      for i, bot in ipairs(j.bots) do
        ids[i] = bot.id
        h.assert_has(dom, '<section class="bot" id="bot-' .. bot.id .. '"><h2>Bot ' .. bot.id
          .. ' — <span class="status-ok">status 0</span></h2>')
        local fig = summary_row(dom, 'data-bot="' .. bot.id .. '"')
        assert.are.equal(#bot.trades, fig.trades.v)
        assert(svg(dom, "bot-" .. bot.id .. "-equity"), "no equity chart of " .. bot.id)
        check_marks(dom, bot)
        -- the fills table: a futures close's realized P&L, exactly the --json's
        local section = dom:match('<section class="bot" id="bot%-' .. bot.id .. '">.-</section>')
        local rows = {}
        for row in (section:match('<table class="fills">.-</table>') or ""):gmatch("<tr>(.-)</tr>") do
          rows[#rows + 1] = row
        end
        for k = 1, math.min(#bot.trades, 500) do
          local tr, c = bot.trades[k], cells(rows[k + 1])
          if tr.effect and tr.effect ~= "open" then
            closes = closes + 1
            assert.are.equal(tr.pnl, c[9].v, bot.id .. " fill " .. k)
            assert.are.equal(tr.position, c[8].text)
          end
        end
        pubs = pubs + #(bot.publications or {})
      end
      assert.are.same(sm.bots, ids)
      if sm.futures then assert(closes > 100, closes .. " futures closes") end
      -- a dot per publication (all drawn: fewer than 2,000)
      assert(pubs <= 2000)
      if pubs > 0 then assert.are.equal(pubs, count(svg(dom, "timeline"), '<circle class="pub"')) end
      if sm.name == "subscriber" then
        -- the subscriber read both broadcasters' channels, and the table says so
        local readers = dom:match('<table id="publications">.-</table>')
        h.assert_has(readers, '<td>632799</td><td class="n">')
        h.assert_has(readers, '<td>632801</td><td class="n">')
        h.assert_has(readers, '<span data-reader="632800">632800 at ')
        assert.are.same({ ["632799"] = true, ["632801"] = true }, (function()
          local chans = {}
          for _, rd in ipairs(j.bots[3].reads) do chans[rd.channel] = true end
          return chans
        end)())
      end
    end)
  end
end)
