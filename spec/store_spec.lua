-- Spec for runtime/lua/store.c: _G, the bot's persistent key-value store, through real stratrun processes that share
-- a data dir, so persistence, damage and kill -9 are seen the way a user sees them.
local h = require("helpers")

-- A bot folder for one test: run(text) runs text as a strategy there with --id storebot.
local function bot()
  local dir = h.tmpdir()
  local b = { dir = dir, store = dir .. "/data/bots/storebot/store.json" }
  function b.run(text)
    h.script(dir, text)
    return h.run { dir = dir, "--data-dir", dir .. "/data", "--id", "storebot", "strategy.lua" }
  end
  -- Runs text and returns its stdout, asserting it exited 0.
  function b.out(text)
    local r = b.run(text)
    assert.are.equal(0, r.code, r.err)
    return r.out
  end
  return b
end

describe("_G", function()
  it("stays Lua's global table", function()
    assert.are.equal("42\ttrue\n", bot().out('x = 42 print(_G.x, _G["print"] == print)'))
  end)

  it("_G() returns the bot's ID as a string", function()
    assert.are.equal("storebot\tstring\n", bot().out("print(_G(), type(_G()))"))
  end)

  it("_G(k) of a key never set is nil", function()
    assert.are.equal("nil\n", bot().out('print(_G("never"))'))
  end)

  it("round-trips integers as integers, over the whole 64-bit range", function()
    local out = bot().out([[
      _G("a", 5) _G("big", 1732590000123456789) _G("min", math.mininteger) _G("neg", -3)
      for _, k in ipairs({ "a", "big", "min", "neg" }) do print(math.type(_G(k)), _G(k)) end
    ]])
    assert.are.equal("integer\t5\ninteger\t1732590000123456789\ninteger\t" .. math.mininteger
      .. "\ninteger\t-3\n", out)
  end)

  it("round-trips floats exactly", function()
    local out = bot().out([[
      local vs = { 0.1, 1.5, 2.0, 1e300, -123.456, 0.1 + 0.2 }
      for i, v in ipairs(vs) do _G("f" .. i, v) end
      for i, v in ipairs(vs) do local g = _G("f" .. i) print(math.type(g), g == v) end
    ]])
    assert.are.equal(string.rep("float\ttrue\n", 6), out)
  end)

  it("round-trips strings and booleans", function()
    local out = bot().out([[
      _G("s", "BTC_USDT \"quoted\" ñ\n") _G("t", true) _G("f", false)
      print(_G("s") == "BTC_USDT \"quoted\" ñ\n", _G("t"), _G("f"), type(_G("f")))
    ]])
    assert.are.equal("true\ttrue\tfalse\tboolean\n", out)
  end)

  it("round-trips tables, a copy not the same table", function()
    local out = bot().out([[
      local t = { orders = { { id = 1, price = 100.5 }, { id = 2, price = 99 } }, note = "x" }
      _G("state", t)
      t.note = "changed after storing"
      local g = _G("state")
      print(g ~= t, math.type(g.orders[2].price))
      print(json.encode(g))
    ]])
    local flags, text = out:match("^([^\n]*)\n([^\n]*)\n$")
    assert.are.equal("true\tinteger", flags)
    assert.are.same({ note = "x", orders = { { id = 1, price = 100.5 }, { id = 2, price = 99 } } }, json.decode(text))
  end)

  it("keys are case-insensitive", function()
    local out = bot().out([[
      _G("LastPrice", 1)
      print(_G("lastprice"), _G("LASTPRICE"))
      _G("LASTprice", 2)
      print(_G("LastPrice"))
    ]])
    assert.are.equal("1\t1\n2\n", out)
  end)

  it("_G(k, nil) deletes the key", function()
    local b = bot()
    assert.are.equal("nil\t7\n", b.out('_G("gone", 1) _G("kept", 7) _G("Gone", nil) print(_G("gone"), _G("kept"))'))
    assert.are.equal("nil\t7\n", b.out('print(_G("gone"), _G("kept"))'))
  end)

  it("_G(nil) clears the store", function()
    local b = bot()
    assert.are.equal("nil\tnil\n", b.out('_G("a", 1) _G("b", 2) _G(nil) print(_G("a"), _G("b"))'))
    assert.are.equal("nil\tnil\n", b.out('print(_G("a"), _G("b"))'))
  end)

  it("survives a restart: another process with the same ID and data dir reads it", function()
    local b = bot()
    b.out('_G("Big", 1732590000123456789) _G("pos", {qty = 3, side = "long"}) _G("flag", false)')
    local out = b.out('print(math.type(_G("big")), _G("big"), _G("flag"), _G("pos").qty, _G("pos").side)')
    assert.are.equal("integer\t1732590000123456789\tfalse\t3\tlong\n", out)
  end)

  it("is per bot: another ID in the same data dir does not see it", function()
    local b = bot()
    b.out('_G("k", 1)')
    h.script(b.dir, 'print(_G("k"))')
    local r = h.run { dir = b.dir, "--data-dir", b.dir .. "/data", "--id", "otherbot", "strategy.lua" }
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("nil\n", r.out)
  end)

  describe("with a value that is not JSON", function()
    local CASES = {
      { "a function", '_G("bad", function() end)', "function" },
      { "a cycle", 'local t = {} t.me = t _G("bad", t)', "cycle" },
      { "NaN", '_G("bad", 0/0)', "NaN" },
      { "NaN inside a table", '_G("bad", { orders = { { price = 0/0 } } })', "orders[1].price" },
      { "infinity", '_G("bad", math.huge)', "nf" },
    }
    for _, case in ipairs(CASES) do
      it("raises a clear error for " .. case[1] .. ", exits 1 and leaves the store as it was", function()
        local b = bot()
        b.out('_G("bad", "old value") _G("other", 1)')
        local before = h.read(b.store)
        local r = b.run(case[2] .. '\nprint("not reached")')
        assert.are.equal(1, r.code)
        assert.are.equal("", r.out)
        assert.matches("strategy%.lua:1:", r.err)
        assert.matches("_G", r.err, 1, true)
        assert.matches("'bad'", r.err, 1, true)
        assert.matches(case[3], r.err, 1, true)
        assert.are.equal(before, h.read(b.store))
        assert.are.equal("old value\t1\n", b.out('print(_G("bad"), _G("other"))'))
      end)
    end
  end)

  describe("with a store file damaged by hand", function()
    local CASES = {
      { "truncated JSON", '{\n"a":1,\n"b":{"x":' },
      { "foreign text", "this is not json at all\n" },
      { "an empty file", "" },
      { "a JSON array", "[1,2,3]\n" },
      { "an empty JSON array", "[]\n" },
      { "a JSON string", '"hello"\n' },
    }
    for _, case in ipairs(CASES) do
      it("refuses to start with exit 2 naming the file and leaves it untouched: " .. case[1], function()
        local b = bot()
        b.out('_G("a", 1)')
        h.write(b.store, case[2])
        local r = b.run('_G("a", 2) print("started")')
        assert.are.equal(2, r.code)
        assert.are.equal("", r.out)
        assert.matches("^[^\n]+\n$", r.err)
        assert.matches(b.store, r.err, 1, true)
        assert.are.equal(case[2], h.read(b.store))
      end)
    end
  end)

  it("is never left unloadable by kill -9 during a tight loop of writes", function()
    local b = bot()
    h.script(b.dir, [[
      local pad = string.rep("x", 2000)
      local i = 0
      Log("ready")
      while true do
        i = i + 1
        _G("k" .. (i % 7), { i = i, pad = pad, nested = { i, i + 1 } })
        _G("last", i)
      end
    ]], "writer.lua")
    for round = 1, 5 do
      local proc = h.spawn { dir = b.dir, "--data-dir", b.dir .. "/data", "--id", "storebot", "writer.lua" }
      assert.is_true(proc:wait_for("ready", 10))
      Sleep(20 + 40 * round)
      proc:signal("KILL")
      assert.are.equal(137, proc:wait(10))
      local text = h.read(b.store)
      assert.is_string(text, "round " .. round .. ": no store file")
      local ok, stored = pcall(json.decode, text)
      assert.is_true(ok, "round " .. round .. ": store does not parse: " .. tostring(stored))
      assert.is_table(stored)
      -- Every value is whole: none half-written.
      for k, v in pairs(stored) do
        if k ~= "last" then
          assert.are.equal(2000, #v.pad, k)
          assert.are.same({ v.i, v.i + 1 }, v.nested)
        end
      end
      local r = b.run('print(math.type(_G("last")))')
      assert.are.equal(0, r.code, "round " .. round .. ": " .. r.err)
      assert.are.equal("integer\n", r.out)
    end
  end)
end)
