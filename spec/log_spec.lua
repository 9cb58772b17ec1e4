-- Spec for runtime/lua/log.c: Log and LogStatus, seen from outside: what a strategy prints, what lands in the bot's
-- log file and status file.
local h = require("helpers")

-- Runs text as a strategy with its own data dir and --id logbot. Returns {code, out, err, bot}.
local function strategy(text)
  local dir = h.tmpdir()
  h.script(dir, text)
  local r = h.run { dir = dir, "--data-dir", dir .. "/data", "--id", "logbot", "strategy.lua" }
  r.dir, r.bot = dir, dir .. "/data/bots/logbot"
  return r
end

-- The message of each stdout line, timestamp stripped; asserts the run succeeded.
local function logged(text)
  local r = strategy(text)
  assert.are.equal(0, r.code, r.err)
  return h.lines(r.out), r
end

local function status_file(r)
  return (h.read(r.bot .. "/status.txt") or ""):gsub("\n$", "")
end

describe("Log", function()
  it("joins its arguments with single spaces", function()
    assert.are.same({ "price 42 1.5 true text" }, logged('Log("price", 42, 1.5, true, "text")'))
  end)

  it("writes nil as null, also last", function()
    assert.are.same({ "a null b null" }, logged('Log("a", nil, "b", nil)'))
  end)

  it("writes tables as JSON, integers staying integers", function()
    assert.are.same({ '{"a":5}', "[1,2,3]", '{"id":1732590000123456789}', 'order {"price":0.1}' },
      logged('Log({a=5}) Log({1,2,3}) Log({id=1732590000123456789}) Log("order", {price=0.1})'))
  end)

  it("prefixes each line with the local time as YYYY-MM-DD HH:MM:SS.mmm", function()
    local before = os.time()
    local r = strategy('Log("stamped")')
    local after = os.time()
    assert.are.equal(0, r.code, r.err)
    local secs, ms, rest = r.out:match("^(%d%d%d%d%-%d%d%-%d%d %d%d:%d%d:%d%d)%.(%d%d%d) (.*)\n$")
    assert.is_truthy(secs, r.out)
    assert.are.equal("stamped", rest)
    local seen = {}
    for t = before - 1, after + 1 do seen[os.date("%Y-%m-%d %H:%M:%S", t)] = true end
    assert.is_true(seen[secs], secs .. " is not the local time of the run")
  end)

  it("uses the local time zone", function()
    local dir = h.tmpdir()
    h.script(dir, 'Log("x")')
    -- POSIX TZ with a half-hour offset: UTC+05:30 written as "XYZ-05:30".
    local r = h.run { dir = dir, env = { TZ = "XYZ-05:30" }, "--data-dir", dir .. "/data", "--id", "tz", "strategy.lua" }
    local now = os.time()
    assert.are.equal(0, r.code, r.err)
    local stamp = r.out:match("^(%d%d%d%d%-%d%d%-%d%d %d%d:%d%d):")
    local seen = {}
    for t = now - 60, now + 60, 30 do seen[os.date("!%Y-%m-%d %H:%M", t + 19800)] = true end
    assert.is_true(seen[stamp], r.out .. " is not UTC+05:30")
  end)

  it("appends the same lines to bots/<id>/log.txt, across runs", function()
    local dir = h.tmpdir()
    h.script(dir, 'Log("run", ...)')
    local outs = {}
    for i = 1, 2 do
      local r = h.run { dir = dir, "--data-dir", dir .. "/data", "--id", "logbot", "strategy.lua", tostring(i) }
      assert.are.equal(0, r.code, r.err)
      outs[i] = r.out
    end
    local file = h.read(dir .. "/data/bots/logbot/log.txt")
    assert.are.equal(outs[1] .. outs[2], h.without_host_lines(file))
    assert.are.same({ "run 1", "run 2" }, h.lines(outs[1] .. outs[2]))
    -- each run between its start and stop lines (docs/bots.md#the-log-file)
    local ls = h.lines(file)
    assert.are.equal(6, #ls, file)
    for i = 0, 1 do
      assert.truthy(ls[3 * i + 1]:match("^start: logbot runs strategy%.lua %(stratrun %S+, PID %d+, live%)$"), file)
      assert.are.equal("run " .. (i + 1), ls[3 * i + 2])
      assert.truthy(ls[3 * i + 3]:match("^stop: logbot ran 0 h %d%d min %d%d s; exit status 0$"), file)
    end
  end)

  it("of a table with a cycle does not stop the strategy and says so in the line", function()
    local lines = logged([[
      local t = { name = "loop" }
      t.self = t
      Log("state", t)
      Log("still running")
    ]])
    assert.are.equal(2, #lines)
    assert.matches("^state ", lines[1])
    assert.matches("cycle", lines[1], 1, true)
    assert.are.equal("still running", lines[2])
  end)

  it("of a table with a function does not stop the strategy and names the problem", function()
    local lines = logged([[
      Log("cb", { f = print })
      Log("still running")
    ]])
    assert.matches("^cb ", lines[1])
    assert.matches("function", lines[1], 1, true)
    assert.are.equal("still running", lines[2])
  end)
end)

describe("LogStatus", function()
  it("writes the panel to bots/<id>/status.txt", function()
    local _, r = logged('LogStatus("Balance: 100 USDT\\nPosition: none")')
    assert.are.equal("Balance: 100 USDT\nPosition: none", status_file(r))
  end)

  it("keeps only the latest panel", function()
    local _, r = logged('LogStatus("first panel, long text") LogStatus("second")')
    assert.are.equal("second", status_file(r))
  end)

  it("joins its arguments like Log", function()
    local _, r = logged('LogStatus("pos", 3, nil, {a=5})')
    assert.are.equal('pos 3 null {"a":5}', status_file(r))
  end)

  it("does not print the panel as a log line", function()
    local lines = logged('LogStatus("panel text") Log("logged")')
    assert.are.same({ "logged" }, lines)
  end)

  it("renders a backtick table with aligned columns", function()
    local _, r = logged([[
      local t = { type = "table", title = "Positions", cols = { "Symbol", "Qty" },
                  rows = { { "BTC_USDT", 1 }, { "ETH", 250 } } }
      LogStatus("Status\n`" .. json.encode(t) .. "`")
    ]])
    assert.are.equal([[
Status
Positions
+----------+-----+
| Symbol   | Qty |
+----------+-----+
| BTC_USDT | 1   |
| ETH      | 250 |
+----------+-----+]], status_file(r))
  end)

  describe("with malformed table JSON", function()
    local cached
    local function run()
      cached = cached or strategy([[
        LogStatus("Orders `{\"type\":\"table\",\"cols\":[\"Id\"` end")
        Log("still running")
      ]])
      return cached
    end

    it("shows the segment as text", function()
      assert.are.equal('Orders `{"type":"table","cols":["Id"` end', status_file(run()))
    end)

    it("prints one warning line naming LogStatus on stderr", function()
      local err = run().err
      assert.matches("^[^\n]+\n$", err)
      assert.matches("warning", err, 1, true)
      assert.matches("LogStatus", err, 1, true)
    end)

    it("keeps the strategy running", function()
      local r = run()
      assert.are.equal(0, r.code)
      assert.are.same({ "still running" }, h.lines(r.out))
    end)
  end)
end)
