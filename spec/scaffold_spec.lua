-- Spec for stratrun new (runtime/host/scaffold.c, docs/tools.md): the folder it makes runs as it is (live until a
-- stop signal, a few rounds, with its config, in a replay), passes luacheck with the editor standard, holds the
-- editor files as editor/ has them, and nothing that exists is ever replaced.
local h = require("helpers")

local EDITOR_FILES = { "stratrun.lua", "stratrun_ext.lua", ".luarc.json", ".luacheckrc" }

local function has_luacheck()
  return h.sh("command -v luacheck > /dev/null 2>&1") == 0
end

-- luacheck's verdict on file with the standard at config: exit code and output.
local function luacheck(dir, config, file)
  local out = dir .. "/.luacheck"
  local code = h.sh(string.format("cd %s && luacheck --no-color --config %s %s > %s 2>&1", h.quote(dir),
    h.quote(config), h.quote(file), h.quote(out)))
  return code, h.read(out) or ""
end

describe("stratrun new", function()
  local procs = {}
  after_each(function() h.kill_all(procs) end)

  it("makes a folder whose strategy runs as it is, with its config and the editor files", function()
    local dir = h.tmpdir()
    local r = h.run { dir = dir, "new", "demo" }
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("stratrun new: made demo/ with demo.lua (the strategy), stratrun.conf (its config) and the "
      .. "editor files stratrun.lua, stratrun_ext.lua, .luarc.json, .luacheckrc\nrun it: cd demo && stratrun demo.lua\n", r.out)
    for _, f in ipairs(EDITOR_FILES) do
      assert.are.equal(h.read(h.source .. "/editor/" .. f), h.read(dir .. "/demo/" .. f), f .. " differs from editor/")
    end
    local ls = io.popen("ls -A " .. h.quote(dir .. "/demo"))
    local listed = ls:read("a")
    ls:close()
    assert.are.equal(".luacheckrc\n.luarc.json\ndemo.lua\nstratrun.conf\nstratrun.lua\nstratrun_ext.lua\n", listed)
    local lua = h.read(dir .. "/demo/demo.lua")
    for _, want in ipairs({ "function init()", "function main()", "function onexit()", "Log(", "LogStatus(",
      "Sleep(interval)", "rounds = rounds or 0", "if trade == nil then trade = true end" }) do
      h.assert_has(lua, want)
    end

    -- as it is, from the folder above (no config there): live until SIGINT, its status table written
    local p = h.spawn { dir = dir, "--data-dir", dir .. "/d", "--id", "demo1", "demo/demo.lua" }
    procs[#procs + 1] = p
    assert.truthy(p:wait_for("demo started as bot demo1 - fast 5 slow 20 amount 0.01\n", 10), (p:output()))
    local status = h.eventually(function() return h.read(dir .. "/d/bots/demo1/status.txt") end)
    assert.truthy(status and status:match("^demo\n%+%-+"), status)
    h.assert_has(status, "| Round | Time ")
    p:signal("INT")
    assert.are.equal(130, p:wait(10))
    assert.truthy((p:output()):match(" demo stopped; rounds: %d+ crossings: %d+\n$"), (p:output()))
    -- its channel holds its state
    r = h.run { dir = dir, "channel", "get", "demo1", "--data-dir", dir .. "/d" }
    assert.are.equal(0, r.code, r.err)
    assert.truthy(json.decode(r.out).round >= 1, r.out)

    -- in its folder, where it reads ./stratrun.conf, for a few rounds; and with --config from elsewhere
    r = h.run { dir = dir, cwd = dir .. "/demo", "--data-dir", dir .. "/d", "--id", "demo2", "-p", "rounds=3", "-p",
      "interval=10", "demo.lua" }
    assert.are.same({ 0, "" }, { r.code, r.err })
    h.assert_has(r.out, " demo stopped; rounds: 3 crossings: ")
    local conf, n = h.read(dir .. "/demo/stratrun.conf"):gsub("rounds = 0,", "rounds = 2,")
    assert.are.equal(1, n, conf)
    h.write(dir .. "/demo/stratrun.conf", conf)
    r = h.run { dir = dir, "--config", "demo/stratrun.conf", "--data-dir", dir .. "/d", "--id", "demo3", "-p",
      "interval=10", "demo/demo.lua" }
    assert.are.same({ 0, "" }, { r.code, r.err })
    h.assert_has(r.out, " demo stopped; rounds: 2 crossings: ")    -- the config's params were read

    -- in a replay: a day of minutes, where the averages cross and it trades
    r = h.run { dir = dir, "replay", "--data-dir", dir .. "/d", "--market", "sim:seed=1,bars=1440", "-p",
      "interval=60000", "--quiet", "demo/demo.lua" }
    assert.are.equal(0, r.code, r.err)
    local log = h.without_host_lines(h.read(dir .. "/d/replay/bots/demo/log.txt"))
    assert.truthy(log:match(" crossing 1 %a+ at "), log:sub(1, 2000))
    assert.truthy(log:match(" Filled buy 0%.01 at "), log:sub(1, 2000))
    assert.truthy(log:match(" demo stopped; rounds: 1440 crossings: %d+\n$"), log:sub(-300))
  end)

  local lint = has_luacheck() and it or pending
  lint("passes luacheck with the editor standard it writes, which still catches a typo", function()
    local dir = h.tmpdir()
    assert.are.equal(0, h.run { dir = dir, "new", "--dir", dir, "linted" }.code)
    local code, out = luacheck(dir, "linted/.luacheckrc", "linted/linted.lua")
    assert.are.equal(0, code, out)
    h.assert_has(out, "Total: 0 warnings / 0 errors in 1 file")
    -- the same standard warns on an exchange call stratrun has not and on a global nobody defined
    local lua = h.read(dir .. "/linted/linted.lua")
    h.write(dir .. "/linted/typo.lua", lua:gsub("exchange%.GetTicker%(%)", "exchange.GetTicekr()")
      :gsub("Sleep%(interval%)", "Sleep(intervall)"))
    code, out = luacheck(dir, "linted/.luacheckrc", "linted/typo.lua")
    assert.are.equal(1, code, out)
    h.assert_has(out, "accessing undefined field 'GetTicekr' of global 'exchange'")
    h.assert_has(out, "accessing undefined variable 'intervall'")
  end)

  it("never replaces what exists, and makes nothing on a name it refuses", function()
    local dir = h.tmpdir()
    assert.are.equal(0, h.run { dir = dir, "new", "keep" }.code)
    h.write(dir .. "/keep/keep.lua", "-- mine\n")
    local r = h.run { dir = dir, "new", "keep" }
    assert.are.same({ 1, "", "stratrun new: keep exists already: choose another name, or remove it first\n" },
      { r.code, r.out, r.err })
    assert.are.equal("-- mine\n", h.read(dir .. "/keep/keep.lua"))
    -- a file of that name, a link to a folder: refused too, and nothing is written through the link
    h.write(dir .. "/plain", "x")
    assert.are.equal(0, h.sh("mkdir " .. h.quote(dir .. "/target") .. " && ln -s target " .. h.quote(dir .. "/link")))
    for _, name in ipairs({ "plain", "link" }) do
      r = h.run { dir = dir, "new", name }
      assert.are.same({ 1, "stratrun new: " .. name .. " exists already: choose another name, or remove it first\n" },
        { r.code, r.err })
    end
    assert.are.equal("x", h.read(dir .. "/plain"))
    assert.is_false(h.exists(dir .. "/target/link.lua"))
    -- --dir: the folder made inside it; one that is not there is said
    r = h.run { dir = dir, "new", "inner", "--dir=target" }
    assert.are.equal(0, r.code, r.err)
    h.assert_has(r.out, "run it: cd target/inner && stratrun inner.lua\n")
    assert.truthy(h.exists(dir .. "/target/inner/inner.lua"))
    r = h.run { dir = dir, "new", "--dir", "missing", "x" }
    assert.are.equal(1, r.code)
    assert.are.equal("stratrun new: --dir missing: No such file or directory\n", r.err)
    assert.is_false(h.exists(dir .. "/missing"))
  end)

  it("has --help and says what is wrong with bad input in one line, exit 2", function()
    local dir = h.tmpdir()
    local r = h.run { dir = dir, "new", "--help" }
    assert.are.equal(0, r.code)
    assert.truthy(r.out:match("^usage: stratrun new NAME %[%-%-dir DIR%]\n"), r.out)
    local see = " (see stratrun new --help)\n"
    local rule = " (a name is 1-64 characters of A-Z a-z 0-9 _ -)" .. see
    local cases = {
      { { "new" }, "stratrun new: name the strategy: stratrun new NAME" .. see },
      { { "new", "../up" }, "stratrun new: name '../up': it has a character outside A-Z a-z 0-9 _ -" .. rule },
      { { "new", "a b" }, "stratrun new: name 'a b': it has a character outside A-Z a-z 0-9 _ -" .. rule },
      { { "new", "x.lua" }, "stratrun new: name 'x.lua': it has a character outside A-Z a-z 0-9 _ -" .. rule },
      { { "new", "" }, "stratrun new: name '': it is empty" .. rule },
      { { "new", string.rep("n", 65) }, "stratrun new: name '" .. string.rep("n", 65) .. "': it is longer than 64 "
        .. "characters" .. rule },
      { { "new", "a", "b" }, "stratrun new: takes one NAME: 'b' is one too many" .. see },
      { { "new", "a", "--force" }, "stratrun new: unknown option '--force'" .. see },
      { { "new", "a", "--dir" }, "stratrun new: option --dir needs a folder" .. see },
      { { "--data-dir", "d", "new", "a" }, "stratrun new: --data-dir: new makes a strategy's folder, not a data dir "
        .. "(its stratrun.conf has a data_dir line)" .. see },
    }
    h.assert_usage_errors(dir, cases)     -- each want is the whole line
    local ls = io.popen("ls -A " .. h.quote(dir))
    local left = ls:read("a")
    ls:close()
    assert.are.equal(".err\n.out\n", left)     -- h.run's own files: nothing was made
  end)
end)
