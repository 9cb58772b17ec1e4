-- Spec for the editor files (editor/, docs/editor.md): the LuaLS annotations (editor/stratrun.lua) and the luacheck
-- standard (editor/.luacheckrc) name exactly what a real bot's runtime defines, no more and no less, and luacheck
-- with that standard finds nothing in strategies/ and still finds what it is there for.
local h = require("helpers")

local EDITOR = h.source .. "/editor/"

-- Lua 5.4's own globals (the reference manual, section 6) and the script's arg: not the runtime's to annotate.
local STANDARD = {}
for name in ([[_G _VERSION assert collectgarbage coroutine debug dofile error getmetatable io ipairs load loadfile
  math next os package pairs pcall print rawequal rawget rawlen rawset require select setmetatable string table
  tonumber tostring type utf8 warn xpcall arg]]):gmatch("%S+") do
  STANDARD[name] = true
end

-- What a real bot sees, from a replay of two bots (a spot exchange and a futures one): the globals, the constants'
-- values, the public fields of exchange, TA, talib and json (a leading _ marks the runtime's internals), and the
-- keys of each kind of table the calls return, by the class editor/stratrun.lua gives it.
local PROBE = [=[
local id, samples = _G(), {}
local function sample(class, t)
  assert(type(t) == "table", class .. " is not a table: " .. tostring(t))
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  samples[#samples + 1] = { class = class, keys = ks }
end
local function public(t)
  local ks = {}
  for k in pairs(t) do if not k:find("^_") then ks[#ks + 1] = k end end
  return ks
end
-- the globals before this script defines main: pairs and rawget, as _G's __index raises on the platform's names
local out = { samples = samples, globals = {}, constants = {} }
for k, v in pairs(_G) do
  if not STANDARD[k] then out.globals[#out.globals + 1] = k end
  if type(v) == "number" then out.constants[k] = v end
end
out.exchange, out.TA, out.talib, out.json = public(exchange), public(TA), public(talib), public(json)
out.same = rawget(_G, "exchanges")[1] == exchange
out.ext = public(require("stratrun.ext"))
function main()
  local e = exchange
  if id == "spot" then
    sample("Ticker", e.GetTicker()); sample("Ticker", e.GetTickers()[1])
    local d = e.GetDepth()
    sample("Depth", d); sample("DepthLevel", d.Asks[1]); sample("DepthLevel", d.Bids[1])
    sample("Record", e.GetRecords()[1]); sample("Account", e.GetAccount()); sample("Asset", e.GetAssets()[1])
    sample("Trade", e.GetTrades()[1]); sample("Fee", e.GetFee())
    for _, m in pairs(e.GetMarkets()) do sample("Market", m) end
    sample("Order", e.GetOrder(e.Buy(-1, 100))); sample("Order", e.GetOrder(e.Buy(1, 0.01)))
    sample("Routine", e.Go("GetTicker"))
    sample("DBResult", DBExec(":SELECT 1 AS a")); sample("DBResult", DBExec(":CREATE TABLE t(a)"))
    sample("ChartObject", Chart({ series = { { name = "a", data = {} } } })); sample("KLineChartObject", KLineChart())
    SetChannelData(1); GetChannelData(id); Sleep(1000)
    local _, meta = GetChannelData(id)
    sample("ChannelMeta", meta)
  else
    sample("Contract", e.SetContractType("swap")); e.SetDirection("buy")
    sample("Order", e.GetOrder(e.Buy(-1, 0.5))); sample("Position", e.GetPosition()[1])
    sample("Account", e.GetAccount()); sample("Asset", e.GetAssets()[1]); sample("Funding", e.GetFundings()[1])
  end
  local f = assert(io.open(id .. ".json", "w"))
  f:write(json.encode(out))
  f:close()
end
]=]

local runtime
local function probe()
  if runtime then return runtime end
  local dir = h.tmpdir()
  local standard = {}
  for k in pairs(STANDARD) do standard[#standard + 1] = string.format("[%q] = true", k) end
  h.write(dir .. "/probe.lua", "local STANDARD = {" .. table.concat(standard, ", ") .. "}\n" .. PROBE)
  h.write(dir .. "/probe.conf", 'bots = { fut = { exchange = { kind = "futures" } } }\n')
  local r = h.run{ dir = dir, "replay", "--quiet", "--config", "probe.conf", "--data-dir", "d", "--market",
    "sim:seed=1,bars=10", "probe.lua@spot", "probe.lua@fut" }
  h.assert_ok(r)
  runtime = json.decode(h.read(dir .. "/spot.json"))
  for _, s in ipairs(json.decode(h.read(dir .. "/fut.json")).samples) do runtime.samples[#runtime.samples + 1] = s end
  return runtime
end

-- editor/stratrun.lua run in an empty environment: its top-level declarations (assignments and functions) become
-- the environment's fields, the exchange's, TA's, talib's and json's calls their fields. Anything the file does
-- besides declaring (a call) fails here.
local declared
local function annotations()
  if declared then return declared end
  local text = assert(h.read(EDITOR .. "stratrun.lua"))
  local env = {}
  assert(load(text, "@editor/stratrun.lua", "t", env))()
  declared = { env = env, text = text }
  return declared
end

-- editor/stratrun_ext.lua run in an empty environment: it returns its module table, whose fields are ext's calls.
local ext_declared
local function ext_annotations()
  if ext_declared then return ext_declared end
  local text = assert(h.read(EDITOR .. "stratrun_ext.lua"))
  local module = assert(load(text, "@editor/stratrun_ext.lua", "t", {}))()
  ext_declared = { module = module, text = text }
  return ext_declared
end

local function keys(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  return out
end

-- Asserts that the names of list got (from file) are those of list want, naming what is missing from file and what
-- file has that it should not (the names "but" is said of).
local function same_names(what, want, got, file, but)
  local w, g, missing, extra = {}, {}, {}, {}
  for _, k in ipairs(want) do w[k] = true end
  for _, k in ipairs(got) do g[k] = true end
  for k in pairs(w) do if not g[k] then missing[#missing + 1] = k end end
  for k in pairs(g) do if not w[k] then extra[#extra + 1] = k end end
  table.sort(missing)
  table.sort(extra)
  local msg = {}
  if #missing > 0 then msg[#msg + 1] = what .. " missing from " .. file .. ": " .. table.concat(missing, ", ") end
  if #extra > 0 then msg[#msg + 1] = what .. " in " .. file .. " but " .. but .. ": " .. table.concat(extra, ", ") end
  assert(#msg == 0, table.concat(msg, "\n"))
end

describe("editor/stratrun.lua, the LuaLS annotations", function()
  it("declares every global a bot's runtime defines, and nothing else", function()
    local rt, a = probe(), annotations()
    same_names("globals", rt.globals, keys(a.env), "editor/stratrun.lua", "not defined by the runtime")
    assert.is_true(rt.same, "exchanges[1] is exchange")
  end)

  it("declares the exchange's calls, TA's, talib's and json's fields, and nothing else", function()
    local rt, env = probe(), annotations().env
    for _, name in ipairs({ "exchange", "TA", "talib", "json" }) do
      same_names(name .. "'s fields", rt[name], keys(env[name]), "editor/stratrun.lua", "not the runtime's")
    end
  end)

  it("declares require('stratrun.ext')'s fields in editor/stratrun_ext.lua, and nothing else", function()
    local rt, a = probe(), ext_annotations()
    assert.are.equal("---@meta stratrun.ext\n", a.text:match("^[^\n]*\n"))
    same_names("ext's fields", rt.ext, keys(a.module), "editor/stratrun_ext.lua", "not the runtime's")
  end)

  it("gives each constant the runtime's value and type", function()
    local rt, env = probe(), annotations().env
    for name, v in pairs(rt.constants) do
      assert.are.equal(math.type(v), math.type(env[name]), name)
      assert.are.equal(v, env[name], name)
    end
  end)

  it("gives each declaration a line of doc", function()
    local lines = {}
    for l in (annotations().text .. "\n" .. ext_annotations().text .. "\n"):gmatch("(.-)\n") do
      lines[#lines + 1] = l
    end
    local undocumented = {}
    for i, l in ipairs(lines) do
      local name = l:match("^function ([%w_.]+)%(") or l:match("^([%a_][%w_.]*)%s*=")
      if name then
        local j, doc = i - 1, false
        while j > 0 and lines[j]:find("^%-%-%-") do
          if lines[j]:find("^%-%-%-%s*[^@%s]") then doc = true end
          j = j - 1
        end
        if not doc then undocumented[#undocumented + 1] = name end
      end
    end
    assert(#undocumented == 0, "without a doc line: " .. table.concat(undocumented, ", "))
  end)

  it("names the fields of each record the runtime returns: every key there, every required field in each", function()
    local text = annotations().text
    local classes, class = {}, nil
    for l in (text .. "\n"):gmatch("(.-)\n") do
      local c = l:match("^%-%-%-@class ([%w_.]+)")
      if c then
        class = c
        classes[c] = classes[c] or {}
      elseif class and l:find("^%-%-%-@field ") then
        local name, opt = l:match("^%-%-%-@field ([%w_]+)(%??)")
        classes[class][name] = opt == "?" and "optional" or "required"
      elseif not l:find("^%-%-%-") then
        class = nil
      end
    end
    local seen = {}
    for _, s in ipairs(probe().samples) do
      local fields = classes[s.class]
      assert(fields, "no ---@class " .. s.class .. " in editor/stratrun.lua")
      local have = {}
      for _, k in ipairs(s.keys) do
        have[k] = true
        assert(fields[k], s.class .. "." .. k .. " is returned by the runtime but not a ---@field of " .. s.class)
      end
      for k, how in pairs(fields) do
        assert(how == "optional" or have[k], s.class .. "." .. k .. " is a required field, missing from a sample")
      end
      seen[s.class] = true
    end
    for _, c in ipairs({ "Record", "Ticker", "Depth", "Order", "Position", "Account", "Trade" }) do
      assert(seen[c], c .. " was not sampled")
    end
  end)

  it("are the library editor/.luarc.json gives LuaLS, for Lua 5.4", function()
    local rc = json.decode(assert(h.read(EDITOR .. ".luarc.json")))
    assert.are.equal("Lua 5.4", rc["runtime.version"])
    assert.are.same({ "stratrun.lua", "stratrun_ext.lua" }, rc["workspace.library"])
  end)
end)

describe("editor/.luacheckrc, the luacheck standard", function()
  -- The standard as luacheck reads it: the config run with only what it uses.
  local function standard()
    local env = { stds = {}, ipairs = ipairs, pairs = pairs }
    assert(loadfile(EDITOR .. ".luacheckrc", "t", env))()
    return env
  end

  it("is Lua 5.4 with the stratrun standard, whose names are exactly the annotated ones", function()
    local conf, env = standard(), annotations().env
    assert.are.equal("lua54+stratrun", conf.std)
    local std = conf.stds.stratrun
    same_names("globals", keys(env), keys(std.read_globals), "editor/.luacheckrc", "not in editor/stratrun.lua")
    for _, name in ipairs({ "exchange", "TA", "talib", "json" }) do
      same_names(name .. "'s fields", keys(env[name]), keys(std.read_globals[name].fields), "editor/.luacheckrc",
        "not in editor/stratrun.lua")
    end
    assert.are.same({ "init", "main", "onexit", "onerror" }, std.globals)
  end)

  local luacheck = h.sh("command -v luacheck > /dev/null") == 0

  it("finds nothing in strategies/ (luacheck --config .luacheckrc strategies)", function()
    if not luacheck then
      pending("luacheck is not installed (Debian's lua-check)")
      return
    end
    local dir = h.tmpdir()
    local code = h.sh(string.format("cd %s && luacheck --no-color --codes --config .luacheckrc strategies > %s 2>&1",
      h.quote(h.source), h.quote(dir .. "/out")))
    local out = h.read(dir .. "/out")
    assert(code == 0, "luacheck exited " .. code .. ":\n" .. out)
    h.assert_has(out, "Total: 0 warnings / 0 errors in ")
  end)

  it("still finds an unknown global, an unknown exchange call and a global set inside a function", function()
    if not luacheck then
      pending("luacheck is not installed (Debian's lua-check)")
      return
    end
    -- a strategy's folder as a user has it: the standard copied beside the script
    local dir = h.tmpdir()
    assert(h.sh("cp " .. h.quote(EDITOR .. ".luacheckrc") .. " " .. h.quote(dir)) == 0)
    h.script(dir, table.concat({
      "interval = interval or 1000",
      "function main()",
      "  Lgo(exchange.GetTicekr())",
      "  count = 1",
      "  Sleep(interval)",
      "end",
    }, "\n") .. "\n")
    local code = h.sh(string.format("cd %s && luacheck --no-color --codes strategy.lua > out 2>&1", h.quote(dir)))
    local out = h.read(dir .. "/out")
    assert.are.equal(1, code, out)
    h.assert_has(out, "strategy.lua:3:3: (W113) accessing undefined variable 'Lgo'")
    h.assert_has(out, "strategy.lua:3:7: (W143) accessing undefined field 'GetTicekr' of global 'exchange'")
    h.assert_has(out, "strategy.lua:4:3: (W111) setting non-module global variable 'count'")
    h.assert_has(out, "Total: 3 warnings / 0 errors in 1 file")
  end)
end)
