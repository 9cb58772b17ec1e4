-- Spec for the host (runtime/host/bot.c, runtime/host/options.c, runtime/main.c): the lifecycle of a strategy, signals, the
-- command line, the config file and the bot's identity, all through real stratrun processes.
local h = require("helpers")

-- Runs text as a strategy in a new folder (its cwd), with its own data dir and --id unless told otherwise.
-- opts: id (false: no --id), name, options (before the script), args (after it), env, conf (./stratrun.conf).
-- Returns {code, out, err, dir, data, bot}.
local function strategy(text, opts)
  opts = opts or {}
  local dir = h.tmpdir()
  local name = opts.name or "strategy.lua"
  if text then h.script(dir, text, name) end
  if opts.conf then h.write(dir .. "/stratrun.conf", opts.conf) end
  local id = opts.id == nil and "bot1" or opts.id
  local argv = { dir = dir, env = opts.env, timeout = opts.timeout }
  if opts.data_dir ~= false then
    argv[#argv + 1] = "--data-dir"
    argv[#argv + 1] = dir .. "/data"
  end
  if id then
    argv[#argv + 1] = "--id"
    argv[#argv + 1] = id
  end
  for _, a in ipairs(opts.options or {}) do argv[#argv + 1] = a end
  argv[#argv + 1] = name
  for _, a in ipairs(opts.args or {}) do argv[#argv + 1] = a end
  local r = h.run(argv)
  r.dir, r.data = dir, dir .. "/data"
  r.bot = r.data .. "/bots/" .. tostring(id)
  return r
end

-- Memoizes one run shared by several its that check different parts of it.
local function once(fn)
  local r
  return function()
    if not r then r = fn() end
    return r
  end
end

-- True when s is exactly one line of text (a trailing newline allowed).
local function one_line(s)
  return s:match("^[^\n]+\n?$") ~= nil
end

-- Waits for a spawned process; kills it if it is still running after timeout, so a failed test leaves nothing.
local function finish(proc, timeout)
  local code = proc:wait(timeout)
  if code == nil then
    proc:signal("KILL")
    proc:wait(5)
  end
  return code
end

local function plain(text)
  return (text:gsub("%p", "%%%0"))
end

describe("the lifecycle", function()
  it("runs the chunk, then init, then main, then onexit, and exits 0", function()
    local r = strategy([[
      Log("chunk")
      function init() Log("init") end
      function main() Log("main") end
      function onexit() Log("onexit") end
      Log("chunk end")
    ]])
    assert.are.equal(0, r.code)
    assert.are.same({ "chunk", "chunk end", "init", "main", "onexit" }, h.lines(r.out))
  end)

  it("runs a script without main as a plain chunk and exits 0", function()
    local r = strategy([[
      Log("one")
      Log("two")
    ]])
    assert.are.equal(0, r.code)
    assert.are.same({ "one", "two" }, h.lines(r.out))
  end)

  it("sets parameters as globals before init runs", function()
    local r = strategy([[
      function init() Log("init sees", Symbol) end
      function main() end
    ]], { options = { "-p", "Symbol=BTC_USDT" } })
    assert.are.equal(0, r.code)
    assert.are.same({ "init sees BTC_USDT" }, h.lines(r.out))
  end)

  it("passes script arguments in arg and in ...", function()
    local r = strategy([[
      local dots = { ... }
      print(json.encode({ arg0 = arg[0], arg = { arg[1], arg[2], arg[3] }, dots = dots, n = select("#", ...) }))
    ]], { args = { "alpha", "42", "two words" } })
    assert.are.equal(0, r.code)
    local got = json.decode(r.out)
    assert.are.equal("strategy.lua", got.arg0)
    assert.are.same({ "alpha", "42", "two words" }, got.arg)
    assert.are.same({ "alpha", "42", "two words" }, got.dots)
    assert.are.equal(3, got.n)
  end)

  it("shows a channel URL's password in arg[] masked, and keeps it out of stratrun.config", function()
    for _, opts in ipairs { { "--channel", "redis://user:s3cret@127.0.0.1:1" },
                            { "--channel=redis://:s3cret@127.0.0.1:1" } } do
      local r = strategy([[
        local words = {}
        local i = -1
        while arg[i] do words[#words + 1] = arg[i]; i = i - 1 end
        local c = require("stratrun.config")
        print(table.concat(words, " "), c.channel == nil)
      ]], { options = opts })
      assert.are.equal(0, r.code, r.err)
      assert.is_nil(r.out:find("s3cret", 1, true))
      assert.matches(":***@127.0.0.1:1", r.out, 1, true)
      assert.matches("true\n$", r.out)
    end
  end)
end)

describe("an uncaught error", function()
  local SCRIPT = [[
function onerror(msg) Log("onerror got: " .. msg) end
function onexit() Log("onexit ran") end
function main()
  error("boom")
end
]]
  local run = once(function() return strategy(SCRIPT) end)

  it("exits 1", function()
    assert.are.equal(1, run().code)
  end)

  it("calls onerror with the message", function()
    assert.are.same({ "onerror got: strategy.lua:4: boom" }, h.lines(run().out))
  end)

  it("prints file:line: message and a stack traceback on stderr", function()
    local err = run().err
    assert.matches("strategy%.lua:4: boom", err)
    assert.matches("stack traceback:", err, 1, true)
    assert.matches("strategy%.lua:4:", err:match("stack traceback:.*"))
  end)

  it("does not run onexit", function()
    assert.is_nil(run().out:find("onexit ran", 1, true))
  end)

  it("in init also goes to onerror and exits 1 without running main", function()
    local r = strategy([[
function onerror(msg) Log("onerror got: " .. msg) end
function init() error("bad init") end
function main() Log("main ran") end
]])
    assert.are.equal(1, r.code)
    assert.are.same({ "onerror got: strategy.lua:2: bad init" }, h.lines(r.out))
  end)

  it("in the top-level chunk exits 1 naming file and line", function()
    local r = strategy('local x = 1\nerror("at load")\n')
    assert.are.equal(1, r.code)
    assert.matches("strategy%.lua:2: at load", r.err)
  end)

  -- Global runtime functions once made Lua name strategy functions after a runtime module in tracebacks
  -- ("stratrun.format.main"); which name wins depends on the hash seed, so the script runs several times.
  it("names the strategy's functions in the traceback as the script defines them", function()
    for _ = 1, 8 do
      local tb = strategy(SCRIPT).err:match("stack traceback:.*") or ""
      assert.matches("in function 'main'", tb, 1, true)
      assert.is_nil(tb:find("stratrun.", 1, true), "traceback names functions after a runtime module:\n" .. tb)
    end
  end)
end)

describe("a syntax error", function()
  it("names the file and line and exits 1", function()
    local r = strategy("local ok = 1\nx = = 1\n", { name = "broken.lua" })
    assert.are.equal(1, r.code)
    assert.matches("broken%.lua:2:", r.err)
  end)
end)

describe("a missing script", function()
  it("exits 2 with one line naming it", function()
    local r = strategy(nil, { name = "nowhere.lua" })
    assert.are.equal(2, r.code)
    assert.is_true(one_line(r.err), r.err)
    assert.matches("nowhere%.lua", r.err)
  end)

  it("exits 2 with one line naming it when no --id is given", function()
    local r = strategy(nil, { name = "nowhere.lua", id = false })
    assert.are.equal(2, r.code)
    assert.is_true(one_line(r.err), r.err)
    assert.matches("nowhere%.lua", r.err)
  end)
end)

describe("stratrun run and replay with one missing or broken script", function()
  -- Every script is checked before any bot starts: the good bot never runs (no log line, no bot folder), the
  -- command exits 2 with one line naming the bad script.
  for _, case in ipairs({
    {"missing", nil, "cannot open missing%.lua"},
    {"broken", "function main( Log(1) end\n", "broken%.lua:1:"},
  }) do
    for _, mode in ipairs({"run", "replay"}) do
      it(mode .. ": a " .. case[1] .. " script refuses the whole command before any bot starts", function()
        local dir = h.tmpdir()
        h.script(dir, 'function main() Log("good ran") Sleep(100) end\n', "good.lua")
        if case[2] then h.script(dir, case[2], case[1] .. ".lua") end
        local r = h.run{mode, "--data-dir", dir .. "/d", "good.lua", case[1] .. ".lua", dir = dir, timeout = 10}
        assert.are.equal(2, r.code, r.err)
        assert.is_true(one_line(r.err), r.err)
        assert.matches(case[3], r.err)
        assert.matches("no bot was started", r.err, 1, true)
        assert.is_nil(r.out:find("good ran", 1, true), r.out)
        assert.is_false(h.exists(dir .. "/d/bots/good") or h.exists(dir .. "/d/replay/bots/good"))
      end)
    end
  end
end)

describe("signals", function()
  local SLEEPER = [[
function main() Log("ready") Sleep(60000) Log("sleep returned") end
function onexit() Log("onexit ran") end
]]

  local function interrupt(text, sig)
    local dir = h.tmpdir()
    h.script(dir, text)
    local proc = h.spawn { dir = dir, "--data-dir", dir .. "/data", "--id", "sig", "strategy.lua" }
    assert.is_true(proc:wait_for("ready", 10))
    proc:signal(sig)
    local code = finish(proc, 5)     -- generous: "promptly", not a timing measurement
    return code, proc:output()
  end

  it("SIGINT during Sleep runs onexit and exits 130 promptly", function()
    local code, out = interrupt(SLEEPER, "INT")
    assert.are.equal(130, code)
    assert.are.same({ "ready", "onexit ran" }, h.lines(out))
  end)

  it("SIGTERM during Sleep runs onexit and exits 143 promptly", function()
    local code, out = interrupt(SLEEPER, "TERM")
    assert.are.equal(143, code)
    assert.are.same({ "ready", "onexit ran" }, h.lines(out))
  end)

  it("SIGINT stops a busy loop that never sleeps", function()
    local code, out = interrupt([[
function main() Log("ready") local x = 0 while true do x = x + 1 end end
function onexit() Log("onexit ran") end
]], "INT")
    assert.are.equal(130, code)
    assert.are.same({ "ready", "onexit ran" }, h.lines(out))
  end)

  it("SIGTERM stops a plain chunk sleeping", function()
    local code, out = interrupt('Log("ready") Sleep(60000) Log("after")', "TERM")
    assert.are.equal(143, code)
    assert.are.same({ "ready" }, h.lines(out))
  end)

  it("a signal that comes while onexit runs does not cut it short", function()
    local dir = h.tmpdir()
    h.script(dir, [[
function main() end
function onexit() Log("ready") Sleep(1500) Log("onexit finished") end
]])
    local proc = h.spawn { dir = dir, "--data-dir", dir .. "/data", "--id", "sig3", "strategy.lua" }
    assert.is_true(proc:wait_for("ready", 10))
    proc:signal("INT")
    assert.are.equal(130, finish(proc, 10))
    assert.are.same({ "ready", "onexit finished" }, h.lines((proc:output())))
  end)

  it("a second SIGINT a second or more after the first exits at once while onexit is still running", function()
    local dir = h.tmpdir()
    h.script(dir, [[
function main() Log("ready") Sleep(60000) end
function onexit() Log("onexit started") Sleep(60000) Log("onexit finished") end
]])
    local proc = h.spawn { dir = dir, "--data-dir", dir .. "/data", "--id", "sig2", "strategy.lua" }
    assert.is_true(proc:wait_for("ready", 10))
    proc:signal("INT")
    assert.is_true(proc:wait_for("onexit started", 5))
    os.execute("sleep 1.2")    -- within a second it would be the same stop delivered twice
    proc:signal("INT")
    assert.are.equal(130, finish(proc, 5))
    local out, err = proc:output()
    assert.matches("second SIGINT: exiting now; onexit is cut short", err, 1, true)
    assert.is_nil(out:find("onexit finished", 1, true))
  end)
end)

describe("-p NAME=VALUE", function()
  local run = once(function()
    return strategy([[
for _, name in ipairs({ "n", "neg", "x", "t", "f", "s", "later" }) do
  local v = _ENV[name]
  print(name, type(v), math.type(v) or "-", tostring(v))
end
]], { options = { "-p", "n=42", "-p", "neg=-7", "-p", "x=1.5", "-p", "t=true", "-p", "f=false",
      "-p", "s=BTC_USDT", "-p", "later=1", "-p", "later=second" } })
  end)

  local function param(name)
    local r = run()
    assert.are.equal(0, r.code, r.err)
    for line in r.out:gmatch("[^\n]+") do
      local n, typ, sub, text = line:match("^([^\t]+)\t([^\t]+)\t([^\t]+)\t(.*)$")
      if n == name then return typ, sub, text end
    end
  end

  it("reads an integer as a Lua integer", function()
    assert.are.same({ "number", "integer", "42" }, { param("n") })
    assert.are.same({ "number", "integer", "-7" }, { param("neg") })
  end)

  it("reads a decimal as a float", function()
    assert.are.same({ "number", "float", "1.5" }, { param("x") })
  end)

  it("reads true and false as booleans", function()
    assert.are.same({ "boolean", "-", "true" }, { param("t") })
    assert.are.same({ "boolean", "-", "false" }, { param("f") })
  end)

  it("reads anything else as a string", function()
    assert.are.same({ "string", "-", "BTC_USDT" }, { param("s") })
  end)

  it("lets a later -p for the same name win", function()
    assert.are.same({ "string", "-", "second" }, { param("later") })
  end)

  it("rejects a name that is not a Lua identifier with exit 2 and one line", function()
    for _, bad in ipairs({ "1x=5", "a-b=5", "=5", "novalue" }) do
      local r = strategy('print("ran")', { options = { "-p", bad } })
      assert.are.equal(2, r.code, bad)
      assert.is_true(one_line(r.err), r.err)
      assert.matches(plain(bad), r.err)
      assert.are.equal("", r.out)
    end
  end)
end)

describe("--id", function()
  local BAD = {
    { "", "empty" },
    { string.rep("a", 65), "65 characters" },
    { "../x", "a path" },
    { "a/b", "a slash" },
    { "*", "a glob" },
    { ".", "a dot" },
  }
  for _, case in ipairs(BAD) do
    it("rejects " .. case[2] .. " with exit 2 and one line naming the ID", function()
      local r = strategy('print("ran")', { id = case[1] })
      assert.are.equal(2, r.code)
      assert.is_true(one_line(r.err), r.err)
      assert.matches("'" .. plain(case[1]) .. "'", r.err)
      assert.matches("ID", r.err, 1, true)
      assert.are.equal("", r.out)
      assert.is_false(h.exists(r.data .. "/bots/" .. case[1] .. "/log.txt"))
    end)
  end

  it("accepts 64 characters of A-Z a-z 0-9 _ - and makes it the bot's ID", function()
    local id = "Az09_-" .. string.rep("x", 58)
    local r = strategy("print(_G())", { id = id })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal(id .. "\n", r.out)
  end)

  it("accepts a number, used as its decimal string", function()
    local r = strategy("print(_G(), type(_G()))", { id = "632799" })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("632799\tstring\n", r.out)
  end)
end)

describe("the command line", function()
  it("--help prints the usage and exits 0", function()
    for _, opt in ipairs({ "--help", "-h" }) do
      local r = h.run { opt }
      assert.are.equal(0, r.code)
      assert.matches("usage: stratrun", r.out, 1, true)
      assert.matches("--id", r.out, 1, true)
    end
  end)

  it("--version prints the version and exits 0", function()
    for _, opt in ipairs({ "--version", "-V" }) do
      local r = h.run { opt }
      assert.are.equal(0, r.code)
      assert.matches("^stratrun %d+%.%d+%.%d+\n$", r.out)
    end
  end)

  it("an unknown option exits 2 with one line naming it", function()
    local r = strategy('print("ran")', { options = { "--frobnicate" } })
    assert.are.equal(2, r.code)
    assert.is_true(one_line(r.err), r.err)
    assert.matches("--frobnicate", r.err, 1, true)
    assert.are.equal("", r.out)
  end)

  it("no script exits 2 with one line", function()
    local r = h.run { "--id", "x" }
    assert.are.equal(2, r.code)
    assert.is_true(one_line(r.err), r.err)
  end)

  it("an option missing its value exits 2 with one line", function()
    local r = h.run { "--id" }
    assert.are.equal(2, r.code)
    assert.is_true(one_line(r.err), r.err)
    assert.matches("--id", r.err, 1, true)
  end)
end)

describe("the config file", function()
  it("./stratrun.conf in the cwd sets id and data_dir", function()
    local dir = h.tmpdir()
    h.script(dir, 'Log("from", _G())')
    h.write(dir .. "/stratrun.conf", string.format('id = "632799"\ndata_dir = %q\n', dir .. "/confdata"))
    local r = h.run { dir = dir, "strategy.lua" }
    assert.are.equal(0, r.code, r.err)
    assert.are.same({ "from 632799" }, h.lines(r.out))
    assert.is_true(h.exists(dir .. "/confdata/bots/632799/log.txt"))
  end)

  it("accepts a numeric id, used as its decimal string", function()
    local r = strategy("print(_G())", { id = false, conf = "id = 12345\n" })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("12345\n", r.out)
  end)

  it("channel chooses the channel backend", function()
    local r = strategy('print("ran")', { conf = 'channel = "nosuchbackend"\n' })
    assert.are.equal(2, r.code)
    assert.is_true(one_line(r.err), r.err)
    assert.matches("nosuchbackend", r.err, 1, true)
    local ok = strategy('print("ran")', { conf = 'channel = "memory"\n' })
    assert.are.equal(0, ok.code, ok.err)
  end)

  it("params sets typed globals", function()
    local r = strategy('print(Symbol, Qty, math.type(Qty), Live)',
      { conf = 'params = { Symbol = "ETH_USDT", Qty = 3, Live = true }\n' })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("ETH_USDT\t3\tinteger\ttrue\n", r.out)
  end)

  it("--config FILE reads that file", function()
    local dir = h.tmpdir()
    h.script(dir, "print(_G())")
    h.write(dir .. "/other.conf", 'id = "from-other"\n')
    h.write(dir .. "/stratrun.conf", 'id = "from-default"\n')
    local r = h.run { dir = dir, "--data-dir", dir .. "/data", "--config", "other.conf", "strategy.lua" }
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("from-other\n", r.out)
  end)

  it("is overridden by --id and --data-dir", function()
    local dir = h.tmpdir()
    h.script(dir, "print(_G())")
    h.write(dir .. "/stratrun.conf", string.format('id = "conf-id"\ndata_dir = %q\nchannel = "nosuchbackend"\n',
      dir .. "/confdata"))
    local r = h.run { dir = dir, "--id", "cli-id", "--data-dir", dir .. "/clidata", "--channel", "memory",
      "strategy.lua" }
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("cli-id\n", r.out)
    assert.is_true(h.exists(dir .. "/clidata/bots/cli-id/log.txt"))
    assert.is_false(h.exists(dir .. "/confdata"))
  end)

  -- Fails with the cfg_param bug above: the config's params table never loads.
  it("params is overridden by -p", function()
    local r = strategy('print(Symbol, Qty)', { conf = 'params = { Symbol = "ETH_USDT", Qty = 3 }\n',
      options = { "-p", "Qty=7" } })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("ETH_USDT\t7\n", r.out)
  end)

  local function bad_config(text)
    local dir = h.tmpdir()
    h.script(dir, 'print("ran")')
    h.write(dir .. "/bad.conf", text)
    local r = h.run { dir = dir, timeout = 10, "--data-dir", dir .. "/data", "--config", "bad.conf", "strategy.lua" }
    r.dir = dir
    return r
  end

  it("an unknown key exits 2 with one line naming file, line and key", function()
    local r = bad_config('id = "ok"\nfavourite_colour = "blue"\n')
    assert.are.equal(2, r.code)
    assert.is_true(one_line(r.err), r.err)
    assert.matches("bad.conf:2:", r.err, 1, true)
    assert.matches("favourite_colour", r.err, 1, true)
    assert.are.equal("", r.out)
  end)

  it("a wrong type exits 2 with one line naming file, line and key", function()
    local r = bad_config('id = "ok"\n\ndata_dir = 5\n')
    assert.are.equal(2, r.code)
    assert.is_true(one_line(r.err), r.err)
    assert.matches("bad.conf:3:", r.err, 1, true)
    assert.matches("data_dir", r.err, 1, true)
  end)

  -- Fails with the cfg_param bug above: the message is about the key, never reaching the type check.
  it("a wrong type inside params exits 2 naming file, line and key", function()
    local r = bad_config('id = "ok"\nparams = { Qty = {} }\n')
    assert.are.equal(2, r.code)
    assert.is_true(one_line(r.err), r.err)
    assert.matches("bad.conf:2:", r.err, 1, true)
    assert.matches("Qty", r.err, 1, true)
  end)

  it("an invalid id exits 2 naming file, line and the ID", function()
    local r = bad_config('\nid = "../x"\n')
    assert.are.equal(2, r.code)
    assert.is_true(one_line(r.err), r.err)
    assert.matches("bad.conf:2:", r.err, 1, true)
    assert.matches("'../x'", r.err, 1, true)
  end)

  it("a syntax error exits 2 with one line naming file and line", function()
    local r = bad_config('id = "ok"\nchannel = = "x"\n')
    assert.are.equal(2, r.code)
    assert.is_true(one_line(r.err), r.err)
    assert.matches("bad.conf:2:", r.err, 1, true)
  end)

  it("a config that loops forever is stopped with exit 2 and one line naming the file", function()
    local r = bad_config('id = "ok"\nwhile true do end\n')
    assert.are.equal(2, r.code)      -- not 137: the run's timeout did not have to kill it
    assert.is_true(one_line(r.err), r.err)
    assert.matches("bad.conf", r.err, 1, true)
  end)

  it("cannot reach the OS: os.execute fails with exit 2 and runs nothing", function()
    local r = bad_config('os.execute("touch pwned")\n')
    assert.are.equal(2, r.code)
    assert.is_true(one_line(r.err), r.err)
    assert.matches("bad.conf:1:", r.err, 1, true)
    assert.is_false(h.exists(r.dir .. "/pwned"))
  end)

  it("cannot require modules or open files", function()
    for _, text in ipairs({ 'require("os")\n', 'io.open("x", "w")\n', 'load("return 1")\n' }) do
      local r = bad_config(text)
      assert.are.equal(2, r.code, text)
      assert.matches("bad.conf:1:", r.err, 1, true)
    end
  end)

  it("a missing --config file exits 2 with one line naming it", function()
    local dir = h.tmpdir()
    h.script(dir, 'print("ran")')
    local r = h.run { dir = dir, "--data-dir", dir .. "/data", "--config", "absent.conf", "strategy.lua" }
    assert.are.equal(2, r.code)
    assert.is_true(one_line(r.err), r.err)
    assert.matches("absent.conf", r.err, 1, true)
    assert.are.equal("", r.out)
  end)
end)

describe("the bot ID", function()
  it("is generated when none is given, and kept across runs of the same script", function()
    local dir = h.tmpdir()
    h.script(dir, "print(_G())", "one.lua")
    local a = h.run { dir = dir, "--data-dir", dir .. "/data", "one.lua" }
    local b = h.run { dir = dir, "--data-dir", dir .. "/data", "one.lua" }
    assert.are.equal(0, a.code, a.err)
    assert.are.equal(0, b.code, b.err)
    local id = a.out:match("^([%w_-]+)\n$")
    assert.is_truthy(id, a.out)
    assert.is_true(#id <= 64)
    assert.are.equal(a.out, b.out)
  end)

  it("generated for another script differs", function()
    local dir = h.tmpdir()
    h.script(dir, "print(_G())", "one.lua")
    h.script(dir, "print(_G())", "two.lua")
    local a = h.run { dir = dir, "--data-dir", dir .. "/data", "one.lua" }
    local b = h.run { dir = dir, "--data-dir", dir .. "/data", "two.lua" }
    assert.are.equal(0, a.code, a.err)
    assert.are.equal(0, b.code, b.err)
    assert.are_not.equal(a.out, b.out)
  end)

  it("is held by one process at a time: a second one exits 2 saying it is already running", function()
    local dir = h.tmpdir()
    h.script(dir, 'Log("ready") Sleep(60000)')
    local first = h.spawn { dir = dir, "--data-dir", dir .. "/data", "--id", "solo", "strategy.lua" }
    assert.is_true(first:wait_for("ready", 10))
    local second = h.run { dir = dir, "--data-dir", dir .. "/data", "--id", "solo", "strategy.lua" }
    first:signal("TERM")
    finish(first, 5)
    assert.are.equal(2, second.code)
    assert.is_true(one_line(second.err), second.err)
    assert.matches("already running", second.err, 1, true)
    assert.matches("solo", second.err, 1, true)
    assert.are.equal("", second.out)
  end)
end)

describe("the data dir", function()
  it("holds bots/<id>/log.txt, status.txt and store.json", function()
    local r = strategy('Log("hello") LogStatus("all good") _G("k", 1)', { id = "layout" })
    assert.are.equal(0, r.code, r.err)
    assert.matches("hello\n", h.read(r.data .. "/bots/layout/log.txt"), 1, true)
    assert.matches("all good", h.read(r.data .. "/bots/layout/status.txt"), 1, true)
    assert.are.same({ k = 1 }, json.decode(h.read(r.data .. "/bots/layout/store.json")))
  end)

  it("defaults to $STRATRUN_HOME", function()
    local dir = h.tmpdir()
    h.script(dir, 'Log("hello")')
    local r = h.run { dir = dir, env = { STRATRUN_HOME = dir .. "/home" }, "--id", "homebot", "strategy.lua" }
    assert.are.equal(0, r.code, r.err)
    assert.is_true(h.exists(dir .. "/home/bots/homebot/log.txt"))
  end)
end)
