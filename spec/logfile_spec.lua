-- Spec for a bot's log file (runtime/core/logsink.c, runtime/host/bot.c; docs/bots.md "The log file"): its start
-- and stop lines, its size-based rotation (log_max_size, log_keep), and the readers that follow it across a
-- rotation (stratrun logs -n and -f, runtime/host/botdir.c's logtail).
local h = require("helpers")

local T = h.time_scale
local STAMP = "^%d%d%d%d%-%d%d%-%d%d %d%d:%d%d:%d%d%.%d%d%d "

local procs = {}
after_each(function() h.kill_all(procs) end)

-- Logs "line N xxx..." (a 100-byte line with its stamp) for N = 1..count, then ends.
local function lines_bot(count)
  return string.format([[
function main()
  for i = 1, %d do Log(string.format("line %%06d %%s", i, string.rep("x", 64))) end
end]], count)
end

-- The numbers of the "line N" lines of text, in order.
local function numbers(text)
  local t = {}
  for n in text:gmatch("line (%d+) x") do t[#t + 1] = tonumber(n) end
  return t
end

local function assert_run(from, to, got, what)
  assert.are.equal(to - from + 1, #got, what)
  for i, n in ipairs(got) do
    if n ~= from + i - 1 then error(string.format("%s: line %d is %d, want %d", what, i, n, from + i - 1)) end
  end
end

describe("a bot's log file", function()
  it("starts with a line naming the script, the version, the PID (live) and the mode, and ends with how it ended",
    function()
    local dir = h.tmpdir()
    -- Live, ended by SIGTERM.
    -- (the signal goes once main runs: before, the script has not defined onexit yet)
    h.script(dir, "function main() Log('ready') while true do Sleep(50) end end\nfunction onexit() Log('bye') end",
      "live.lua")
    local p = h.spawn { dir = dir, "--data-dir", dir .. "/d", "--id", "live1", "live.lua" }
    procs[#procs + 1] = p
    local log = dir .. "/d/bots/live1/log.txt"
    assert.is_true(p:wait_for(" ready\n", 10))
    p:signal("TERM")
    assert.are.equal(143, p:wait(10 * T))
    local lines = h.lines(h.read(log))
    local version = h.run { "--version" }.out:match("stratrun (%S+)")
    assert.are.equal(string.format("start: live1 runs live.lua (stratrun %s, PID %d, live)", version, p:pid()),
      lines[1])
    assert.are.same({ "ready", "bye" }, { lines[2], lines[#lines - 1] })
    assert.truthy(lines[#lines]:match("^stop: live1 ran 0 h %d%d min %d%d s; exit status 143 %(stopped by SIGTERM%)$"),
      lines[#lines])
    -- An onexit that fails after the stop signal: the bot's status is 1, the process's 143; the line says both.
    h.script(dir, "function main() Log('ready') while true do Sleep(50) end end\nfunction onexit() error('oops') end",
      "bad.lua")
    local b = h.spawn { dir = dir, "--data-dir", dir .. "/d", "--id", "bad1", "bad.lua" }
    procs[#procs + 1] = b
    assert.is_true(b:wait_for(" ready\n", 10))
    b:signal("TERM")
    assert.are.equal(143, b:wait(10 * T))
    local bl = h.lines(h.read(dir .. "/d/bots/bad1/log.txt"))
    assert.truthy(bl[#bl]:match("^stop: bad1 ran 0 h %d%d min %d%d s; exit status 1 %(an error or a limit ended it, "
      .. "after SIGTERM%)$"), bl[#bl])
    -- Every line of the file is stamped, the start and stop lines too.
    for line in h.read(log):gmatch("[^\n]+") do assert.truthy(line:match(STAMP), line) end

    -- A replay: its clock's times, "replay", and an error's exit status. Neither line reaches stdout.
    local r = h.run_bot("function main() Sleep(3600 * 1000) error('boom') end", { mode = "replay", dir = dir, market = "sim:seed=1,bars=120" })
    assert.are.equal(1, r.code)
    assert.is_nil(r.out:find("start:", 1, true))
    local text = h.read(r.bot .. "/log.txt")
    lines = h.lines(text)
    -- no PID in a replay: its log is the same from run to run
    assert.truthy(lines[1]:match("^start: strategy runs strategy%.lua %(stratrun %S+, replay%)$"), lines[1])
    assert.are.equal("stop: strategy ran 1 h 00 min 00 s; exit status 1 (an error or a limit ended it)",
      lines[#lines])
    -- stamped with the replay's clock: an hour apart
    local t1 = text:match("^(%d%d%d%d%-%d%d%-%d%d %d%d:%d%d)")
    local t2 = text:match("\n(%d%d%d%d%-%d%d%-%d%d %d%d:%d%d):%d%d%.%d%d%d stop:")
    assert.are_not.equal(t1, t2)
  end)

  it("rotates past log_max_size into log.txt.1 .. log.txt.N (log_keep), losing no line and keeping no more", function()
    local dir = h.tmpdir()
    h.script(dir, lines_bot(2000))
    -- 0.01 MiB = 10,485 bytes: 104 lines of 101 bytes a file.
    local r = h.run { dir = dir, "--data-dir", dir .. "/d", "--id", "rot", "--log-max-size", "0.01", "--log-keep",
                      "3", "strategy.lua" }
    h.assert_ok(r)
    local bot = dir .. "/d/bots/rot/"
    local files = { h.read(bot .. "log.txt.3"), h.read(bot .. "log.txt.2"), h.read(bot .. "log.txt.1"),
                    h.read(bot .. "log.txt") }
    for i, f in ipairs(files) do
      assert.truthy(f, "file " .. i)
      assert.truthy(#f <= 10485, "file " .. i .. " holds " .. #f .. " bytes")
      assert.are.equal("\n", f:sub(-1))    -- whole lines only
    end
    assert.is_false(h.exists(bot .. "log.txt.4"))
    -- The four files, oldest first, are one unbroken run of lines ending with the last one and the stop line.
    local all = table.concat(files)
    local got = numbers(all)
    assert_run(2000 - #got + 1, 2000, got, "the rotated files")
    assert.truthy(#got > 300 and #got < 420, #got)
    assert.truthy(all:match("stop: rot ran [^\n]+; exit status 0\n$"))
    -- stdout had every line: rotation is the file's only
    assert_run(1, 2000, numbers(r.out), "stdout")

    -- logs -n reaches back into log.txt.1 when log.txt holds fewer lines than asked.
    local in_last = #numbers(files[4])
    local lr = h.run { dir = dir, "logs", "--data-dir", dir .. "/d", "-n", tostring(in_last + 20), "rot" }
    assert.are.equal(0, lr.code, lr.err)
    local shown = h.lines(lr.out)
    assert.are.equal(in_last + 20, #shown)
    assert_run(2000 - in_last - 18, 2000, numbers(lr.out), "logs -n")

    -- log_max_size = 0 never rotates; the keys are checked in the config as the options are.
    h.write(dir .. "/stratrun.conf", "log_max_size = 0\n")
    h.assert_ok(h.run { dir = dir, "--data-dir", dir .. "/d2", "--id", "norot", "strategy.lua" })
    assert.is_false(h.exists(dir .. "/d2/bots/norot/log.txt.1"))
    assert.truthy(#h.read(dir .. "/d2/bots/norot/log.txt") > 200000)
    for _, c in ipairs {
      { "log_max_size = -1", "key 'log_max_size' must be 0 (never rotated) or a number of MiB from 0.01 to 1048576, "
        .. "not -1" },
      { "log_keep = 0", "key 'log_keep' must be a whole number of rotated files from 1 to 100, not 0" },
      { "log_keep = 2.5", "key 'log_keep' must be a whole number of rotated files from 1 to 100, not 2.5" },
    } do
      h.write(dir .. "/stratrun.conf", c[1] .. "\n")
      local cr = h.run { dir = dir, "--data-dir", dir .. "/d2", "--id", "norot", "strategy.lua" }
      assert.are.equal(2, cr.code)
      h.assert_has(cr.err, c[2])
    end
    os.remove(dir .. "/stratrun.conf")
    h.assert_usage_errors(dir, {
      { { "--log-max-size", "0.001", "strategy.lua" }, "stratrun: option --log-max-size: '0.001' is not allowed (0 "
        .. "(never rotated) or a number of MiB from 0.01 to 1048576)" },
      { { "--log-keep", "101", "strategy.lua" }, "stratrun: option --log-keep: '101' is not allowed (a whole number of "
        .. "rotated files from 1 to 100)" },
    })
  end)

  it("is followed across rotations by logs -f, every line once and in order", function()
    local dir = h.tmpdir()
    -- 600 lines once told to: about six rotations of 0.01 MiB, 200 ms apart (the follower looks every 100 ms).
    h.script(dir, [[
function main()
  while not GetCommand() do Sleep(20) end
  for i = 1, 600 do
    Log(string.format("line %06d %s", i, string.rep("x", 64)))
    if i % 10 == 0 then Sleep(20) end
  end
end]])
    local bot = h.spawn { dir = dir, "--data-dir", dir .. "/d", "--id", "tail", "--log-max-size", "0.01",
                          "--log-keep", "2", "strategy.lua" }
    procs[#procs + 1] = bot
    assert.truthy(h.eventually(function() return h.exists(dir .. "/d/bots/tail/log.txt") end))
    local f = h.spawn { dir = dir, "logs", "--data-dir", dir .. "/d", "-f", "tail" }
    procs[#procs + 1] = f
    assert.is_true(f:wait_for("start: tail runs", 10))
    h.assert_ok(h.run { dir = dir, "cmd", "--data-dir", dir .. "/d", "tail", "go" })
    assert.are.equal(0, bot:wait(30 * T))
    assert.is_true(f:wait_for("stop: tail ran", 10))
    f:signal("INT")
    f:wait(10)
    local out = f:output()
    assert_run(1, 600, numbers(out), "logs -f")
    assert.truthy(h.exists(dir .. "/d/bots/tail/log.txt.2"))     -- it did rotate, more than once
  end)

  it("loses its rotated files at LogReset, rotating or not", function()
    local r = h.run_bot(lines_bot(400) .. "\nfunction onexit() LogReset(5) Log('after reset') end",
      { args = { "--log-max-size", "0.01" } })
    h.assert_ok(r)
    assert.is_false(h.exists(r.bot .. "/log.txt.1"))
    local got = numbers(h.read(r.bot .. "/log.txt"))
    assert_run(396, 400, got, "the lines kept")
    h.assert_has(h.read(r.bot .. "/log.txt"), "after reset")
    -- rotated files of an earlier run go too when this run does not rotate
    h.assert_ok(h.run_bot(lines_bot(400), { dir = r.dir, args = { "--log-max-size", "0.01" } }))
    assert.truthy(h.exists(r.bot .. "/log.txt.1"))
    h.assert_ok(h.run_bot("LogReset() Log('fresh')", { dir = r.dir, args = { "--log-max-size", "0" } }))
    assert.is_false(h.exists(r.bot .. "/log.txt.1"))
    local lr = h.run { dir = r.dir, "logs", "--data-dir", r.dir .. "/d", "-n", "50", "bot1" }
    assert.are.same({}, numbers(lr.out))
    h.assert_has(lr.out, " fresh\n")
  end)
end)
