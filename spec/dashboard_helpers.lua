-- What the dashboard's specs share (spec/dashboard_spec.lua, spec/dashboard_slow_spec.lua): a bot that shows
-- everything the dashboard draws, and a `stratrun serve` over its data dir on a free loopback port.
local h = require("helpers")

local M = {}

-- Logs a tick (every fifth red), publishes its count, LogProfit, a Chart point per series, a status table with a
-- button and a hostile cell, and logs each command it takes: "command TEXT".
M.BOT = [[
function main()
  local ch = Chart({title = {text = "demo"}, series = {{name = "price", data = {}}, {name = "ma", data = {}}}})
  local n = 0
  while true do
    n = n + 1
    Log("tick " .. n, n % 5 == 0 and "#ff0000" or "")
    SetChannelData({n = n, note = "<b>bold</b>"})
    LogProfit(n * 1.5)
    ch.add(0, {UnixNano() // 1000000, 100 + n})
    ch.add(1, {UnixNano() // 1000000, 90 + n})
    LogStatus("Mode: demo\n`" .. json.encode({type = "table", title = "Orders", cols = {"id", "act"},
      rows = {{1, {type = "button", cmd = "buy", name = "Buy"}}, {"<script>alert(1)</script>", {body = "wide", colspan = 2}}}})
      .. "`")
    local c = GetCommand()
    if c then Log("command " .. c) end
    Sleep(100)
  end
end
]]

-- Starts the bot `id` (opts.bot, else M.BOT, which must log "tick 2") and serve over dir/d with the extra serve arguments; returns
-- {serve, bot, port, token, base (http://127.0.0.1:PORT), out (serve's first lines)}. procs collects the processes.
function M.start(procs, opts)
  opts = opts or {}
  local dir = opts.dir or h.tmpdir()
  h.write(dir .. "/bot.lua", opts.bot or M.BOT)
  local bot = h.spawn { dir = dir, "--data-dir", dir .. "/d", "--id", opts.id or "demo", "bot.lua" }
  procs[#procs + 1] = bot
  assert(bot:wait_for("tick 2", 20), (bot:output()))
  local args = { dir = dir, "serve", "--data-dir", dir .. "/d", "--listen", opts.listen or "127.0.0.1:0" }
  for _, a in ipairs(opts.args or {}) do args[#args + 1] = a end
  local serve = h.spawn(args)
  procs[#procs + 1] = serve
  assert(serve:wait_for("(mode 0600)", 20), table.concat({ serve:output() }, "\n"))
  local out = serve:output()
  local host, port, token = out:match("is at http://([%d.]+):(%d+)/#token=(%x+)\n")
  assert(port, out)
  return { serve = serve, bot = bot, port = tonumber(port), token = token, dir = dir, out = out,
           base = "http://127.0.0.1:" .. port, host = host }
end

-- An HTTP request to the server: {StatusCode, Body, Header} (HttpQuery with debug).
function M.http(url, opts)
  opts = opts or {}
  local r, err = HttpQuery(url, { method = opts.method, body = opts.body, headers = opts.headers, debug = true,
                                  timeout = 10000 * h.time_scale })
  assert(r, err)
  return r
end

return M
