-- Spec for the dashboard's page in a real browser (web/, runtime/host/serve.c, docs/dashboard.md): headless
-- Chromium driven through the DevTools protocol (tests/cdp.c) over a real `stratrun serve` and a real bot. It clicks
-- a status table's button and reads the bot's GetCommand, sees a log line written after the page loaded, and checks
-- that what the bot wrote stays text. Its screenshot is kept in $STRATRUN_ARTIFACTS.
local h = require("helpers")
local d = require("dashboard_helpers")

local CDP = os.getenv("STRATRUN_CDP")
local CHROMIUM = "/usr/bin/chromium"

-- A JS expression that polls cond (a JS expression) every 100 ms, for at most s seconds, and returns its value.
local function poll(cond, s)
  return string.format("(async () => { for (let i = 0; i < %d; i++) { const v = (() => { try { return %s; } catch (e) "
    .. "{ return null; } })(); if (v) return v; await new Promise(r => setTimeout(r, 100)); } return null; })()",
    math.ceil(s * 10 * h.time_scale), cond)
end

-- Opens url and evaluates each expression in turn; returns their values (nil for an exception, with its text).
local function browse(url, exprs)
  assert(CDP and h.exists(CDP), "STRATRUN_CDP (tests/cdp.c) is not built")
  assert(h.exists(CHROMIUM), CHROMIUM .. " is missing: apt-get install -y --no-install-recommends chromium")
  local args = {}
  for i, e in ipairs(exprs) do args[i] = h.quote(e) end
  -- (scripts/memcheck.sh caps the address space softly; chromium reserves far more than it uses)
  local f = assert(io.popen(string.format("ulimit -S -v unlimited 2> /dev/null; %s --timeout %d %s %s 2>&1",
    h.quote(CDP), math.ceil(90 * h.time_scale), h.quote(url), table.concat(args, " "))))
  local out = f:read("a")
  f:close()
  local values, n = {}, 0
  for line in out:gmatch("[^\n]+") do
    n = n + 1
    local ok, msg = pcall(json.decode, line)
    assert(ok and type(msg) == "table", "cdp: " .. out)
    local r = msg.result
    if not r or r.exceptionDetails then
      values[n] = { error = line }
    else
      values[n] = { value = r.result.value }
    end
  end
  assert(n == #exprs, "cdp answered " .. n .. " of " .. #exprs .. ":\n" .. out)
  return values
end

describe("the dashboard in a browser", function()
  local procs = {}
  after_each(function() h.kill_all(procs) end)

  it("shows the bot, its status table with a button that reaches GetCommand, and its live log", function()
    local s = d.start(procs)
    local url = s.base .. "/#token=" .. s.token
    -- The bot logs "mark" lines only once it has the command "mark", sent after the page loaded.
    local v = browse(url, {
      poll([[document.querySelector('#bots li[data-id="demo"]') && document.querySelector('#status table') && 'ready']], 20),
      -- the page took the token out of its address
      "location.hash",
      -- the hostile cell is text, and no element came from it
      [[(() => { const tds = [...document.querySelectorAll('#status td')];
         return JSON.stringify({ cell: tds.some(td => td.textContent === '<script>alert(1)</script>'),
                                 scripts: document.querySelectorAll('#status script, #log script').length,
                                 wide: tds.some(td => td.textContent === 'wide' && td.colSpan === 2) }); })()]],
      -- a red line: the colour of Log's #ff0000, the suffix not shown
      poll([[[...document.querySelectorAll('#log li')].some(li => li.style.color === 'rgb(255, 0, 0)' &&
         / tick \d+$/.test(li.textContent)) && 'red']], 10),
      -- the charts: LogProfit's curve and Chart's two series
      poll([[document.querySelectorAll('#profit svg path').length === 1 &&
         document.querySelectorAll('#chart svg path').length === 2 && 'charts']], 10),
      -- the channels table: the bot's latest state, as text
      poll([[[...document.querySelectorAll('#channels tr')].some(tr => tr.dataset.id === 'demo' &&
         tr.lastChild.textContent.includes('"note":"<b>bold</b>"')) && 'channel']], 10),
      -- click the status table's button
      poll([[(() => { const b = document.querySelector('#status button[data-cmd="buy"]'); b.click(); return 'clicked'; })()]], 10),
      poll([[document.getElementById('command-result').textContent]], 10),
      -- a line the bot writes after the page loaded arrives through the stream
      poll([[(() => { const li = [...document.querySelectorAll('#log li')].find(li => li.textContent.endsWith(' command buy'));
         return li && li.textContent; })()]], 20),
    })
    for i, r in ipairs(v) do assert.is_nil(r.error, "expression " .. i .. ": " .. tostring(r.error)) end
    assert.are.equal("ready", v[1].value)
    assert.are.equal("#bot=demo", v[2].value)
    assert.are.same({ cell = true, scripts = 0, wide = true }, json.decode(v[3].value))
    assert.are.equal("red", v[4].value)
    assert.are.equal("charts", v[5].value)
    assert.are.equal("channel", v[6].value)
    assert.are.equal("sent: buy", v[8].value)
    -- the bot took it with GetCommand, and the page showed the bot's line about it, as log.txt has it
    assert.truthy(s.bot:wait_for(" command buy\n", 10), (s.bot:output()))
    local line = v[9].value
    assert.truthy(h.read(s.dir .. "/d/bots/demo/log.txt"):find(line .. "\n", 1, true), line)

    -- The page's picture, for a person to look at.
    local keep = os.getenv("STRATRUN_ARTIFACTS")
    if keep and keep ~= "" then
      h.sh("mkdir -p " .. h.quote(keep))
      h.sh(string.format("ulimit -S -v unlimited 2> /dev/null; timeout -s KILL 60 %s --headless --no-sandbox --disable-gpu "
        .. "--user-data-dir=%s --window-size=1280,900 --virtual-time-budget=4000 --screenshot=%s %s > /dev/null 2>&1",
        CHROMIUM, h.quote(h.tmpdir()), h.quote(keep .. "/dashboard.png"), h.quote(url)))
    end
  end)

  it("draws a chart the plotting template made (its series added by chart.update), one line a series", function()
    -- ext.PlotRecords and ext.PlotLine make the chart empty and add each series with chart.update: chart.jsonl's
    -- series come in "update" lines, which the page must read as the report does
    local s = d.start(procs, { bot = [[
local ext = require("stratrun.ext")
function main()
  local n = 0
  while true do
    n = n + 1
    Log("tick " .. n)
    ext.PlotRecords(exchange.GetRecords(), "BTC")
    ext.PlotLine("last", exchange.GetTicker().Last)
    Sleep(100)
  end
end
]] })
    local v = browse(s.base .. "/#token=" .. s.token, {
      poll([[document.querySelector('#bots li[data-id="demo"]') && 'ready']], 20),
      poll([[(() => { const t = [...document.querySelectorAll('#chart svg path title')].map(e => e.textContent);
         return t.length === 2 && JSON.stringify(t); })()]], 20),
    })
    for i, r in ipairs(v) do assert.is_nil(r.error, "expression " .. i .. ": " .. tostring(r.error)) end
    assert.are.equal("ready", v[1].value)
    assert.are.same({ "BTC", "last" }, json.decode(assert(v[2].value, "the chart's two lines were not drawn")))
  end)

  it("without the token, shows the bots read-only and sends no command", function()
    local s = d.start(procs)
    local v = browse(s.base .. "/", {
      poll([[document.querySelector('#status button[data-cmd="buy"]') && 'ready']], 20),
      [[document.getElementById('token-state').textContent]],
      [[(() => { document.querySelector('#status button[data-cmd="buy"]').click();
         return document.getElementById('command-result').textContent; })()]],
    })
    assert.are.equal("ready", v[1].value)
    assert.truthy(v[2].value:find("read only", 1, true), v[2].value)
    assert.truthy(v[3].value:find("commands need the token", 1, true), v[3].value)
    Sleep(500)
    assert.falsy((s.bot:output()):find("command buy", 1, true))
  end)
end)
