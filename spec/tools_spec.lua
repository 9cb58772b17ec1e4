-- Spec for the shell tools over a data dir (runtime/host/tools.c, docs/tools.md): stratrun ps, stop and logs, on
-- real bot processes.
local h = require("helpers")

local T = h.time_scale

-- Logs "tick N" every 50 ms, and each command it takes; its onexit logs "bye from ID" after `linger` ms (a parameter, default 200).
local TICKER = [[
linger = linger or 200
function main()
  local n = 0
  while true do
    n = n + 1
    Log("tick " .. n)
    local c = GetCommand()
    if c then Log("command " .. c) end
    Sleep(50)
  end
end
function onexit() Sleep(linger) Log("bye from " .. _G()) end
]]

local function lines_of(text)
  local t = {}
  for l in text:gmatch("[^\n]+") do t[#t + 1] = l end
  return t
end

-- ps's rows by ID: {state, pid, since, script, last}.
local function ps(dir, ...)
  local r = h.run { dir = dir, "ps", "--data-dir", dir .. "/d", ... }
  assert.are.equal(0, r.code, r.err)
  local ls = lines_of(r.out)
  assert.truthy(ls[1]:match("^ID +STATE +PID +SINCE +SCRIPT +LAST LOG LINE$"), r.out)
  local rows = {}
  for i = 2, #ls do
    local id, state, pid, since, script, last =
      ls[i]:match("^(%S+) +(%S+) +(%S+) +(%d%d%d%d%-%d%d%-%d%d %d%d:%d%d:%d%d) +(%S+) +(.*)$")
    if not id then id, state, pid, since, script, last = ls[i]:match("^(%S+) +(%S+) +(%S+) +(%-) +(%S+) +(.*)$") end
    assert.truthy(id, "a row ps printed: " .. ls[i])
    rows[id] = { state = state, pid = pid, since = since, script = script, last = last }
  end
  return rows, r
end

describe("stratrun ps, stop and logs", function()
  local procs = {}
  after_each(function() h.kill_all(procs) end)

  local function start(dir, ...)
    local p = h.spawn { dir = dir, "--data-dir", dir .. "/d", ... }
    procs[#procs + 1] = p
    return p
  end

  it("ps lists running and stopped bots with PID, script and last log line; stop waits for onexit", function()
    local dir = h.tmpdir()
    h.write(dir .. "/ticker.lua", TICKER)
    local solo = start(dir, "--id", "solo", "ticker.lua")
    local pair = start(dir, "run", "ticker.lua@left", "ticker.lua@right")
    assert.truthy(solo:wait_for("tick 2", 10), (solo:output()))
    assert.truthy(pair:wait_for("[right] tick 2", 10), (pair:output()))
    local rows = ps(dir)
    local script = h.read(dir .. "/d/bots/solo/lock"):match("\n([^\n]+)\n")
    assert.truthy(script and script:match("/ticker%.lua$"), tostring(script))
    assert.are.equal("running", rows.solo.state)
    assert.are.equal(tostring(solo:pid()), rows.solo.pid)
    assert.are.equal(tostring(pair:pid()), rows.left.pid)
    assert.are.equal(tostring(pair:pid()), rows.right.pid)
    assert.are.equal(script, rows.left.script)
    assert.truthy(rows.solo.last:match(" tick %d+$"), rows.solo.last)
    assert.truthy(rows.right.last:match(" %[right%] tick %d+$"), rows.right.last)

    -- --data-dir before the subcommand, for cmd as for the tools
    local c = h.run { dir = dir, "--data-dir", dir .. "/d", "cmd", "solo", "hello" }
    assert.are.same({ 0, "" }, { c.code, c.err })
    assert.truthy(solo:wait_for(" command hello\n", 10), (solo:output()))

    -- stop: SIGTERM, then it waits for onexit and says how the log ends: the stop line after onexit's
    local r = h.run { dir = dir, "stop", "--data-dir", dir .. "/d", "solo" }
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.out:match("^bot solo %(process " .. solo:pid() .. "%) stopped in [%d.]+ s; its log ends: "
      .. "[%d:. -]+ stop: solo ran 0 h %d%d min %d%d s; exit status 143 %(stopped by SIGTERM%)\n$"), r.out)
    h.assert_has(h.read(dir .. "/d/bots/solo/log.txt"), " bye from solo\n")
    assert.are.equal(143, solo:wait(10))   -- 128 + SIGTERM: stopped by the signal, after its onexit
    rows = ps(dir)
    assert.are.same({ "stopped", "-", "-" }, { rows.solo.state, rows.solo.pid, rows.solo.since })
    assert.are.equal(script, rows.solo.script)     -- the last run's script, still named
    assert.truthy(rows.solo.last:match("stop: solo ran 0 h %d%d min %d%d s; exit status 143 %(stopped by SIGTERM%)$"),
      rows.solo.last)

    -- A bot that is not running, one that never ran
    r = h.run { dir = dir, "stop", "--data-dir", dir .. "/d", "solo" }
    assert.are.same({ 1, "", "stratrun stop: bot solo is not running\n" }, { r.code, r.out, r.err })
    r = h.run { dir = dir, "stop", "--data-dir", dir .. "/d", "ghost" }
    assert.are.equal(1, r.code)
    h.assert_has(r.err, "stratrun stop: bot ghost has never run in " .. dir .. "/d")

    -- One bot of a `run` process: stopping it would stop its neighbour, so it is refused until both are named
    r = h.run { dir = dir, "stop", "--data-dir", dir .. "/d", "left" }
    assert.are.equal(2, r.code)
    assert.are.equal("stratrun stop: bot left runs in process " .. pair:pid() .. " with right (one stratrun run): "
      .. "stopping it stops them all; to do that, name them all: stratrun stop left right\n", r.err)
    assert.are.equal("running", ps(dir).right.state)
    r = h.run { dir = dir, "--data-dir", dir .. "/d", "stop", "right", "left" }    -- the option before the tool
    assert.are.equal(0, r.code, r.err)
    local said = lines_of(r.out)
    assert.are.equal(2, #said, r.out)
    for _, id in ipairs({ "left", "right" }) do
      assert.truthy(r.out:find("bot " .. id .. " (process " .. pair:pid() .. ") stopped in", 1, true), r.out)
      assert.truthy(r.out:find("%[" .. id .. "%] stop: " .. id .. " ran 0 h %d%d min %d%d s; exit status 143 %(stopped by "
        .. "SIGTERM%)\n"), r.out)
      h.assert_has(h.read(dir .. "/d/bots/" .. id .. "/log.txt"), "[" .. id .. "] bye from " .. id .. "\n")
    end
    assert.are.equal(143, pair:wait(10))
  end)

  it("stop --timeout says a bot still runs, and a second stop ends it at once", function()
    local dir = h.tmpdir()
    h.write(dir .. "/ticker.lua", TICKER)
    local p = start(dir, "--id", "slow", "-p", "linger=30000", "ticker.lua")
    assert.truthy(p:wait_for("tick 1", 10))
    local r = h.run { dir = dir, "stop", "--data-dir", dir .. "/d", "--timeout", "0.5", "slow" }
    assert.are.equal(1, r.code, r.out)
    assert.are.equal("stratrun stop: bot slow (process " .. p:pid() .. ") still runs after 0.5 s: its onexit may "
      .. "still be running; stratrun stop slow again ends it at once, cutting onexit short\n", r.err)
    Sleep(1100)    -- the same signal within a second is taken as the same stop (docs/bots.md)
    r = h.run { dir = dir, "stop", "--data-dir", dir .. "/d", "slow" }
    assert.are.equal(0, r.code, r.err)
    assert.are.equal(143, p:wait(10))
    local _, err = p:output()
    h.assert_has(err, "second SIGTERM: exiting now; onexit is cut short")
  end)

  it("stop still waits for the bots it signalled when another bot's process cannot be signalled", function()
    local nobody = "setpriv --reuid=65534 --regid=65534 --clear-groups "
    if h.sh(nobody .. "true >/dev/null 2>&1") ~= 0 then
      pending("setpriv cannot switch to user nobody here (needs root)")
      return
    end
    -- everything as user nobody, in a folder nobody owns: a bot of its own, and a bot folder whose lock is held
    -- (flock) and names process 1, which nobody may not signal
    local dir = string.format("/dev/shm/stratrun-stop-%d-%d", UnixNano() % 1000000007, math.random(1, 1e9))
    local function as_nobody(cmd) return h.sh(nobody .. "sh -c " .. h.quote(cmd)) end
    assert.are.equal(0, as_nobody("mkdir -m 0700 " .. h.quote(dir) .. " && mkdir -p -m 0700 " .. h.quote(dir ..
      "/d/bots/other")))
    local ok, err = pcall(function()
      assert.are.equal(0, as_nobody("printf '%s' " .. h.quote(TICKER) .. " > " .. h.quote(dir .. "/ticker.lua")))
      assert.are.equal(0, as_nobody(string.format("cd %s && (%s --data-dir d --id mine ticker.lua > mine.out 2>&1 &) "
        .. "&& printf '1\n/x.lua\n' > d/bots/other/lock && (flock -x d/bots/other/lock sleep 30 > /dev/null 2>&1 &)",
        h.quote(dir), h.quote(h.bin))))
      assert.truthy(h.eventually(function() return (h.read(dir .. "/mine.out") or ""):find("tick 1", 1, true) end, 10))
      local out = dir .. "/stop.out"
      local code = as_nobody(string.format("cd %s && %s stop --data-dir d mine other > stop.out 2> stop.err",
        h.quote(dir), h.quote(h.bin)))
      assert.are.equal(1, code)
      assert.are.equal("stratrun stop: cannot signal process 1 of bot other: Operation not permitted\n",
        h.read(dir .. "/stop.err"))
      assert.truthy(h.read(out):match("^bot mine %(process %d+%) stopped in [%d.]+ s; its log ends: [^\n]+ stop: mine "
        .. "ran [^\n]+exit status 143 %(stopped by SIGTERM%)\n$"), h.read(out))
    end)
    h.sh("pkill -u 65534 -f " .. h.quote("sleep 30") .. " ; rm -rf " .. h.quote(dir))
    assert(ok, err)
  end)

  it("logs prints the last lines and, with -f, the lines written after it started", function()
    local dir = h.tmpdir()
    h.write(dir .. "/ticker.lua", TICKER)
    local p = start(dir, "--id", "tail", "ticker.lua")
    assert.truthy(p:wait_for("tick 5", 10))
    local r = h.run { dir = dir, "logs", "--data-dir", dir .. "/d", "-n", "2", "tail" }
    assert.are.equal(0, r.code, r.err)
    local got = lines_of(r.out)
    assert.are.equal(2, #got, r.out)
    local a, b = tonumber(got[1]:match(" tick (%d+)$")), tonumber(got[2]:match(" tick (%d+)$"))
    assert.are.equal(a + 1, b, r.out)
    local log = h.read(dir .. "/d/bots/tail/log.txt")
    assert.truthy(log:find(r.out, 1, true), "the last lines of log.txt as they are")

    local f = h.spawn { dir = dir, "--data-dir", dir .. "/d", "logs", "-f", "-n", "1", "tail" }
    procs[#procs + 1] = f
    assert.truthy(f:wait_for(" tick ", 10))
    local first = tonumber((f:output()):match(" tick (%d+)\n"))
    assert.truthy(f:wait_for(" tick " .. (first + 3) .. "\n", 10), (f:output()))
    h.run { dir = dir, "stop", "--data-dir", dir .. "/d", "tail" }
    assert.truthy(f:wait_for("bye from tail\n", 10), (f:output()))
    -- every line once, in order, from where it started
    local out = f:output()
    local n = first
    for l in out:gmatch("[^\n]+") do
      if l:match(" tick %d+$") then
        assert.are.equal(n, tonumber(l:match(" tick (%d+)$")), out)
        n = n + 1
      end
    end
    f:signal("TERM")
    assert.are.equal(0, f:wait(10))

    r = h.run { dir = dir, "logs", "--data-dir", dir .. "/d", "nobody" }
    assert.are.equal(1, r.code)
    h.assert_has(r.err, "stratrun logs: bot nobody has never run in " .. dir .. "/d")
  end)

  it("each tool has --help, and says what is wrong with bad input in one line, exit 2", function()
    local dir = h.tmpdir()
    for _, tool in ipairs({ "ps", "stop", "logs" }) do
      local r = h.run { dir = dir, tool, "--help" }
      assert.are.equal(0, r.code)
      assert.truthy(r.out:match("^usage: stratrun " .. tool .. " "), r.out)
    end
    local cases = {
      { { "ps", "--bogus" }, "stratrun ps: unknown option '--bogus' (see stratrun ps --help)\n" },
      { { "ps", "x" }, "stratrun ps: takes no bot ID ('x') (see stratrun ps --help)\n" },
      { { "stop" }, "stratrun stop: name the bot IDs to stop (see stratrun stop --help)\n" },
      { { "stop", "--timeout", "soon", "a" }, "stratrun stop: --timeout 'soon': seconds, 0 to 86400 (see stratrun stop --help)\n" },
      { { "stop", "../x" }, "stratrun stop: bot ID '../x': " },
      { { "logs", "-n", "-1", "a" }, "stratrun logs: -n '-1': a whole number of lines, 0 to 1000000000 (see stratrun logs --help)\n" },
      { { "logs", "a", "b" }, "stratrun logs: takes one bot ID, not 2 (see stratrun logs --help)\n" },
      { { "logs", "--data-dir" }, "stratrun logs: option --data-dir needs a value (see stratrun logs --help)\n" },
    }
    h.assert_usage_errors(dir, cases)
    -- a bot's last line with escape sequences reaches the terminal of whoever runs ps as plain characters
    h.script(dir, 'Log("\\27[2J\\27]0;title\\7cleared") while true do Sleep(50) end', "esc.lua")
    local esc = h.spawn { dir = dir, "--data-dir", dir .. "/d", "--id", "esc", "esc.lua" }
    procs[#procs + 1] = esc
    assert.is_true(esc:wait_for("cleared", 10))
    local rows = ps(dir)
    assert.truthy(rows.esc.last:match(" %?%[2J%?%]0;title%?cleared$"), rows.esc.last)
    esc:signal("TERM")
    esc:wait(10)
    local r = h.run { dir = dir, "ps", "--data-dir", dir .. "/empty" }
    assert.are.same({ 0, "" }, { r.code, r.out })
    assert.are.equal("stratrun ps: no bots in " .. dir .. "/empty (it has no bots folder: is --data-dir the bots'?)\n",
      r.err)
  end)
end)
