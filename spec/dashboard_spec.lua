-- Spec for `stratrun serve`'s JSON API and its security (runtime/host/serve.c, docs/dashboard.md), with real HTTP
-- requests to a real serve over a real bot's data dir. The page in a browser: spec/dashboard_slow_spec.lua.
local h = require("helpers")
local d = require("dashboard_helpers")

describe("stratrun serve's API", function()
  local procs = {}
  after_each(function() h.kill_all(procs) end)

  it("lists the bots and gives one bot's status blocks, log, profit and chart, and every channel", function()
    local s = d.start(procs)
    local r = d.http(s.base .. "/api/bots")
    assert.are.equal(200, r.StatusCode, r.Body)
    assert.are.equal("application/json; charset=utf-8", r.Header["content-type"])
    local bots = json.decode(r.Body).bots
    assert.are.equal(1, #bots, r.Body)
    assert.are.same({ "demo", "running", s.bot:pid() }, { bots[1].id, bots[1].state, bots[1].pid })
    assert.truthy(bots[1].script:match("/bot%.lua$"), bots[1].script)
    assert.truthy(bots[1].last_log:match("^%d%d%d%d%-%d%d%-%d%d "), bots[1].last_log)

    r = d.http(s.base .. "/api/bots/demo")
    assert.are.equal(200, r.StatusCode, r.Body)
    local b = json.decode(r.Body)
    -- the status as blocks: the text, then the table with its button, colspan and the hostile cell as text
    local status = json.decode(b.status)
    assert.are.equal("Mode: demo\n", status.blocks[1].text)
    local t = status.blocks[2].table
    assert.are.equal("Orders", t.title)
    assert.are.equal("id,act,", table.concat(t.cols, ","))   -- the colspan of 2 from column 2 makes a third
    assert.are.same({ cmd = "buy", name = "Buy", text = "[Buy]", colspan = 1, rowspan = 1 }, t.rows[1][2])
    assert.are.same({ text = "<script>alert(1)</script>", colspan = 1, rowspan = 1 }, t.rows[2][1])
    assert.are.same({ text = "wide", colspan = 2, rowspan = 1 }, t.rows[2][2])
    assert.truthy(b.status_text:find("| <script>alert(1)</script> |", 1, true), b.status_text)
    -- the log: whole lines, the last ones of log.txt, and where it ended
    assert.truthy(#b.log >= 2, r.Body)
    local log = h.read(s.dir .. "/d/bots/demo/log.txt")
    assert.truthy(log:sub(1, b.log_end):find(b.log[#b.log] .. "\n", 1, true), "the last line sent is in log.txt")
    assert.are.equal("\n", log:sub(b.log_end, b.log_end))
    -- LogProfit's points, as numbers; Chart's lines as strings of JSON
    assert.truthy(#b.profit >= 2)
    assert.are.equal(1.5, b.profit[1][2])
    assert.truthy(math.type(b.profit[1][1]) == "integer" and b.profit[1][1] > 1.7e12)
    assert.are.equal("chart", json.decode(b.chart[1]).t)
    assert.are.equal("point", json.decode(b.chart[2]).t)

    -- channels: the bot's, followed through the backend, with its meta; the state as the bot published it
    local ch = h.eventually(function()
      local c = json.decode(d.http(s.base .. "/api/channels").Body)
      return c.channels[1] and c.channels[1].seq > 0 and c
    end, 10)
    assert.truthy(ch, "the channel's state never showed")
    assert.are.equal("local", ch.backend)
    assert.are.equal("demo", ch.channels[1].id)
    local state = json.decode(ch.channels[1].data)
    assert.are.equal("<b>bold</b>", state.note)
    assert.truthy(math.type(state.n) == "integer" and state.n > 0)
    assert.truthy(ch.channels[1].published > 1.7e12)
  end)

  it("streams the log lines written after the point the page's first look ended, each once, in order", function()
    local s = d.start(procs)
    local b = json.decode(d.http(s.base .. "/api/bots/demo").Body)
    -- a stream never ends by itself: read 1.5 s of it through bash's /dev/tcp
    local f = io.popen(string.format("bash -c %s 2>&1", h.quote(string.format("exec 3<>/dev/tcp/127.0.0.1/%d; "
      .. "printf 'GET /api/bots/demo/stream?from=%d HTTP/1.1\\r\\nHost: 127.0.0.1:%d\\r\\n\\r\\n' >&3; "
      .. "timeout %g cat <&3", s.port, b.log_end, s.port, 1.5 * h.time_scale))))
    local out = f:read("a")
    f:close()
    assert.truthy(out:lower():find("content-type: text/event-stream", 1, true), out)
    local events = {}
    for line in out:gmatch("\ndata: ([^\r\n]*)") do events[#events + 1] = line end
    assert.truthy(#events >= 3, out)
    local want = {}
    for line in h.read(s.dir .. "/d/bots/demo/log.txt"):sub(b.log_end + 1):gmatch("([^\n]*)\n") do
      want[#want + 1] = line
    end
    for i = 1, #events do assert.are.equal(want[i], events[i]) end

    -- a line over 8 KiB is one event: its first 8 KiB and how much was left out
    local lines = {}
    -- (HTTP/1.0: the stream comes unchunked; from the log's size now, however late the request arrives)
    local from = #h.read(s.dir .. "/d/bots/demo/log.txt")
    local f2 = io.popen(string.format("bash -c %s 2>&1", h.quote(string.format("exec 3<>/dev/tcp/127.0.0.1/%d; "
      .. "printf 'GET /api/bots/demo/stream?from=%d HTTP/1.0\\r\\nHost: 127.0.0.1:%d\\r\\n\\r\\n' >&3; timeout %g "
      .. "cat <&3", s.port, from, s.port, 2 * h.time_scale))))
    local long = string.rep("y", 20000)
    local fh = assert(io.open(s.dir .. "/d/bots/demo/log.txt", "ab"))
    fh:setvbuf("full", 65536)     -- one write(2): the bot appends lines of its own meanwhile
    fh:write(long .. "\nafter\n")
    fh:close()
    for line in f2:read("a"):gmatch("data: ([^\n]*)") do lines[#lines + 1] = line end
    f2:close()
    local at
    for i, l in ipairs(lines) do if l:sub(1, 1) == "y" then at = i end end
    assert.truthy(at, table.concat(lines, "\n"):sub(1, 500))
    assert.are.equal(string.rep("y", 8192) .. " [... 11808 bytes more: the whole line is in log.txt]", lines[at])
    assert.are.equal("after", lines[at + 1])
  end)

  it("takes a command only with the token, from no other site's page; refuses another Host", function()
    local s = d.start(procs)
    local url = s.base .. "/api/bots/demo/command"
    -- the token file: the one printed, 0600
    assert.are.equal(s.token .. "\n", h.read(s.dir .. "/d/serve.token"))
    local f = io.popen("stat -c %a " .. h.quote(s.dir .. "/d/serve.token"))
    assert.are.equal("600\n", f:read("a"))
    f:close()
    local r = d.http(url, { method = "POST", body = "sell" })
    assert.are.equal(401, r.StatusCode)
    assert.are.equal("this request needs the token stratrun serve keeps in " .. s.dir .. "/d/serve.token, in the "
      .. "header X-Stratrun-Token", json.decode(r.Body).error)
    -- one character off (the last one changed, whatever it was)
    local off = s.token:sub(1, 63) .. (s.token:sub(64) == "0" and "1" or "0")
    r = d.http(url, { method = "POST", body = "sell", headers = { ["X-Stratrun-Token"] = off } })
    assert.are.equal(401, r.StatusCode)
    r = d.http(url, { method = "POST", body = "sell", headers = { ["X-Stratrun-Token"] = s.token,
                                                                  Origin = "http://evil.example" } })
    assert.are.equal(403, r.StatusCode)
    assert.truthy(json.decode(r.Body).error:find("http://evil.example", 1, true), r.Body)
    r = d.http(s.base .. "/api/bots", { headers = { Host = "evil.example:" .. s.port } })
    assert.are.equal(403, r.StatusCode)
    assert.truthy(json.decode(r.Body).error:find("Host 'evil.example:" .. s.port .. "' is not this server", 1, true))
    r = d.http(url, { method = "POST", body = string.rep("x", 1025), headers = { ["X-Stratrun-Token"] = s.token } })
    assert.are.equal(413, r.StatusCode)
    -- none of those reached the bot; this one does
    r = d.http(url, { method = "POST", body = "sell 1", headers = { ["X-Stratrun-Token"] = s.token,
                                                                   Origin = s.base } })
    assert.are.equal(200, r.StatusCode, r.Body)
    assert.are.same({ queued = true }, json.decode(r.Body))
    assert.truthy(s.bot:wait_for("command sell 1\n", 10))
    local out = s.bot:output()
    assert.falsy(out:find("command sell\n", 1, true), out)
    -- a bot that is not running, one that never ran, a path that is no API, a method it does not serve
    r = d.http(s.base .. "/api/bots/ghost/command", { method = "POST", body = "x", headers = { ["X-Stratrun-Token"] = s.token } })
    assert.are.equal(409, r.StatusCode)
    assert.truthy(json.decode(r.Body).error:find("bot 'ghost' has never run", 1, true), r.Body)
    assert.are.equal(404, d.http(s.base .. "/api/bots/ghost").StatusCode)
    assert.are.equal(404, d.http(s.base .. "/api/bots/ghost/stream").StatusCode)
    assert.are.equal(404, d.http(s.base .. "/api/nothing").StatusCode)
    assert.are.equal(404, d.http(s.base .. "/api/bots/..%2Fx").StatusCode)
    assert.are.equal(405, d.http(s.base .. "/api/bots", { method = "PUT", body = "x" }).StatusCode)
    -- the page: its own script only, never framed
    r = d.http(s.base .. "/")
    assert.are.equal(200, r.StatusCode)
    assert.truthy(r.Header["content-security-policy"]:find("script-src 'self'", 1, true))
    assert.are.equal("DENY", r.Header["x-frame-options"])
    assert.truthy(r.Body:find('<script src="/app.js"', 1, true))
  end)

  it("is neither hung by a FIFO in a bot's folder nor flooded by a huge log line", function()
    local s = d.start(procs)
    local bot = s.dir .. "/d/bots/odd"
    assert(h.sh(string.format("mkdir -p %s && touch %s/lock && mkfifo %s/status.json %s/chart.jsonl %s/profit.csv",
      h.quote(bot), h.quote(bot), h.quote(bot), h.quote(bot), h.quote(bot))) == 0)
    -- one line of 6 MB, then a short one: the log is read from its last 4 MiB, the cut line left out
    h.write(bot .. "/log.txt", string.rep("x", 6 * 1024 * 1024) .. "\n2026-01-01 00:00:00.000 bad \xff\xc3( \"q\"\n"
      .. "2026-01-01 00:00:00.000 tail\n")
    local r = d.http(s.base .. "/api/bots")
    assert.are.equal(200, r.StatusCode, r.Body)
    r = d.http(s.base .. "/api/bots/odd")
    assert.are.equal(200, r.StatusCode, r.Body)
    assert.truthy(#r.Body < 64 * 1024, #r.Body)
    local b = json.decode(r.Body)
    -- bytes that are not UTF-8 arrive as U+FFFD, the rest as written
    assert.are.same({ '2026-01-01 00:00:00.000 bad \u{FFFD}\u{FFFD}( "q"', "2026-01-01 00:00:00.000 tail" }, b.log)
    assert.is_nil(b.status)         -- (null: the FIFO is not read)
    assert.is_nil(b.status_text)
    assert.are.equal("2026-01-01 00:00:00.000 tail", b.bot.last_log)
    -- and a FIFO where the log is: the stream says so rather than waiting on it
    assert(h.sh("rm " .. h.quote(bot .. "/log.txt") .. " && mkfifo " .. h.quote(bot .. "/log.txt")) == 0)
    assert.are.equal(200, d.http(s.base .. "/api/bots/odd").StatusCode)
    s.serve:signal("TERM")
    assert.are.equal(0, s.serve:wait(10))
  end)

  it("reads files no strategy can forge: stratrun.files refuses the folder's own files", function()
    local r = h.run_bot([[
local files = require("stratrun.files")
for _, name in ipairs { "lock", "log.txt", "log.txt.1", "store.json", "status.txt", "status.json", "profit.csv",
                        "commands" } do
  local ok, err = pcall(files.replace, name, "forged")
  Log(name, ok and "replaced" or err)
  ok = pcall(files.append, name, "forged\n")
  Log(name, ok and "appended" or "append refused")
end
Log("chart", files.replace("chart.jsonl", "") and "ok")]])
    h.assert_ok(r)
    for _, name in ipairs { "lock", "log.txt", "log.txt.1", "store.json", "status.txt", "status.json", "profit.csv",
                            "commands" } do
      h.assert_has(r.out, " " .. name .. " stratrun.files: '" .. name .. "' is written by stratrun itself")
      h.assert_has(r.out, " " .. name .. " append refused\n")
    end
    h.assert_has(r.out, " chart ok\n")       -- the stdlib's own files stay writable
    assert.is_nil(h.read(r.bot .. "/lock"):find("forged", 1, true))
    assert.is_false(h.exists(r.bot .. "/status.json"))
  end)

  it("on any other address, needs the token for every API request", function()
    local s = d.start(procs, { listen = "0.0.0.0:0" })
    h.assert_has(s.out, "not a loopback address: every API request needs it")
    local r = d.http(s.base .. "/api/bots")
    assert.are.equal(401, r.StatusCode)
    r = d.http(s.base .. "/api/bots", { headers = { ["X-Stratrun-Token"] = s.token } })
    assert.are.equal(200, r.StatusCode)
    assert.are.equal("demo", json.decode(r.Body).bots[1].id)
    assert.are.equal(401, d.http(s.base .. "/api/channels").StatusCode)
    assert.are.equal(401, d.http(s.base .. "/api/bots/demo/stream").StatusCode)
    assert.are.equal(200, d.http(s.base .. "/").StatusCode)     -- the page holds no data
  end)

  it("keeps its token across starts, stops on SIGTERM, and says what is wrong with its options", function()
    local s = d.start(procs)
    s.serve:signal("TERM")
    assert.are.equal(0, s.serve:wait(10))
    h.assert_has((s.serve:output()), "stratrun serve: stopped\n")
    local again = h.spawn { dir = s.dir, "--data-dir", s.dir .. "/d", "serve", "--listen", "127.0.0.1:0" }
    procs[#procs + 1] = again
    assert.truthy(again:wait_for("#token=" .. s.token .. "\n", 10), (again:output()))
    local cases = {
      { { "serve", "--listen", "localhost:80" }, "stratrun serve: --listen 'localhost:80': 'localhost' is not an IPv4 address" },
      { { "serve", "--listen", "127.0.0.1" }, "stratrun serve: --listen '127.0.0.1': ADDR:PORT, an IPv4 address and a port 0-65535" },
      { { "serve", "--listen", "127.0.0.1:70000" }, "stratrun serve: --listen '127.0.0.1:70000': ADDR:PORT" },
      { { "serve", "--follow", "a,../b" }, "stratrun serve: --follow: channel '../b': " },
      { { "serve", "--bogus" }, "stratrun serve: unknown option '--bogus'" },
      { { "serve", "--channel", "nosuch://x" }, "stratrun serve: --channel: " },
    }
    h.assert_usage_errors(s.dir, cases, { "--data-dir", s.dir .. "/d" })
    -- a port another process holds: right options, a machine that refuses them (exit 1, not the usage code)
    local busy = again:output():match("http://127%.0%.0%.1:(%d+)/")
    local taken = h.run { dir = s.dir, "--data-dir", s.dir .. "/d", "serve", "--listen", "127.0.0.1:" .. busy }
    assert.are.same({ 1, "", "stratrun serve: cannot listen on 127.0.0.1:" .. busy .. ": Address already in use\n" },
      { taken.code, taken.out, taken.err })
    local r = h.run { dir = s.dir, "serve", "--help" }
    assert.are.equal(0, r.code)
    assert.truthy(r.out:match("^usage: stratrun serve "), r.out)
  end)
end)
