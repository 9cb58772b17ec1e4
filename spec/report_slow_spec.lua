-- Spec for the replay's HTML report (stdlib/report.lua, docs/report.md, issue #15): the page is rendered from
-- tables built here and, with `stratrun replay --report`, from a real replay, then opened in headless chromium (the
-- slow tier: a browser start is seconds). What the browser's DOM holds is checked against the data: the charts by
-- their ids, one triangle per fill, the summary's exact figures, the channel timeline, a strategy's hostile strings
-- kept as text; and the page makes no request (chromium runs with every host name unresolvable), is the same bytes
-- for the same data, and screenshots as a real picture. The screenshot is kept in $STRATRUN_ARTIFACTS when set.
local h = require("helpers")
local report = require("report")

local CHROMIUM = "/usr/bin/chromium"
local MIN = 60000
local T0 = 1704067200000          -- 2024-01-01T00:00:00Z

-- Runs headless chromium on the file with the extra arguments, no host name resolvable (so any request would
-- fail and show), a throwaway profile; returns its stdout.
local function chromium(dir, path, args)
  assert(h.exists(CHROMIUM), CHROMIUM .. " is missing: apt-get install -y --no-install-recommends chromium")
  -- (scripts/memcheck.sh caps the address space of what it runs, softly; chromium reserves far more than it uses)
  local cmd = string.format("ulimit -S -v unlimited 2> /dev/null; timeout -s KILL 60 %s --headless --no-sandbox --disable-gpu --user-data-dir=%s "
    .. "--host-resolver-rules=%s %s %s 2> %s", CHROMIUM, h.quote(h.tmpdir()), h.quote("MAP * ~NOTFOUND"), args,
    h.quote("file://" .. path), h.quote(dir .. "/chromium.err"))
  local f = assert(io.popen(cmd))
  local out = f:read("a")
  f:close()
  return out
end

local function dump_dom(dir, path)
  local dom = chromium(dir, path, "--dump-dom")
  assert(dom:find("</html>", 1, true), "no DOM from chromium: " .. (h.read(dir .. "/chromium.err") or ""))
  return dom
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
  local dir, data, html, path, dom
  setup(function()
    dir = h.tmpdir()
    data = sample(240)
    html = report.render(data)
    path = h.write(dir .. "/report.html", html)
    dom = dump_dom(dir, path)
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
    -- and it rendered whole with every host name unresolvable
    h.assert_has(dom, '<table id="summary">')
    assert(dom:find("</section>%s*</body></html>"), "the page did not render to its end")
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
    -- a buy's apex is at its price: the triangle's first point lies on the price axis's scale between the labels
    h.assert_has(candles, "<title>buy 0.05 at ")
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
end)

-- The real thing: README.md's sample replay, its --report read back and held against figures recomputed here from
-- its --json file's trades and equity.
describe("stratrun replay --report", function()
  it("writes the page of the sample replay, with figures that agree with its --json", function()
    local dir = h.tmpdir()
    local src = h.source .. "/strategies/"
    local r = h.run({ "replay", "--data-dir", dir .. "/data", "--market", "sim:seed=42,bars=2880",
      "--json", dir .. "/r.json", "--report", dir .. "/r.html",
      "-p", "master=632799", "-p", "bots=632799,632800,632801", "-p", "632801.rounds=30",
      "-p", "632801.interval=60000", src .. "master.lua@632799", src .. "follower.lua@632800",
      src .. "broadcaster.lua@632801", src .. "monitor.lua@632802", dir = dir, env = { TZ = "UTC" }, timeout = 120 })
    h.assert_ok(r)
    local j = json.decode(assert(h.read(dir .. "/r.json")))
    local page = assert(h.read(dir .. "/r.html"))
    assert.are.equal(page, report.render(j))          -- the host renders the --json table, nothing else
    local dom = dump_dom(dir, dir .. "/r.html")
    for _, bot in ipairs(j.bots) do
      local fig = summary_row(dom, 'data-bot="' .. bot.id .. '"')
      local values = bot.equity and bot.equity.value or {}
      if #values > 0 then
        -- total return from the last equity sample over the start; max drawdown from the running peak
        local start = type(bot.figures.start_equity) == "number" and bot.figures.start_equity or values[1]
        local peak, mdd = start, 0
        for _, v in ipairs(values) do
          peak = math.max(peak, v)
          if peak > 0 then mdd = math.max(mdd, (peak - v) / peak) end
        end
        assert(close(fig.total_return.v, values[#values] / start - 1, 1e-9), bot.id .. " total return")
        assert(close(fig.max_drawdown.v, mdd, 1e-9), bot.id .. " max drawdown")
      end
      local buys, sells = 0, 0
      for _, tr in ipairs(bot.trades or {}) do
        if tr.side == "buy" then buys = buys + 1 elseif tr.side == "sell" then sells = sells + 1 end
      end
      assert.are.equal(buys + sells, #(bot.trades or {}))
      assert.are.equal(#(bot.trades or {}), fig.trades.v or 0)
      local candles = svg(dom, "bot-" .. bot.id .. "-candles") or ""
      assert.are.equal(buys, count(candles, '<path class="buy"'))
      assert.are.equal(sells, count(candles, '<path class="sell"'))
    end
    -- the broadcaster's 30 rounds and the master's signals are on the timeline
    assert(count(svg(dom, "timeline"), '<circle class="pub"') > 30)
    -- the page as a person sees it, kept for one to look at
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
