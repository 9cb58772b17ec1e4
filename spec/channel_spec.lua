-- Spec for channels (runtime/lua/channel.c, engine.c and every backend): SetChannelData and GetChannelData as a
-- strategy uses them. Each case runs a small strategy in a real stratrun process that reports what it saw with
-- out() (helpers.report_prelude); the spec parses and checks it. The same cases run against every backend:
-- memory, local, and redis against a redis-server this spec starts on a free loopback port (emptied before each
-- case, stopped at the end). The cases that need several processes live in channel_local_spec.lua and
-- channel_redis_spec.lua.
local h = require("helpers")

local ID = "632799"

-- The --channel URL of each backend; redis's is set once its server runs.
local CHANNEL = {memory = "memory", ["local"] = "local"}

-- Runs body (Lua source defining main) as bot ID on backend. Returns {code, out, err, rows, by, data} where
-- rows are the out() lines and by[key] the first line whose first field is key.
local function run(backend, body, id)
  local dir = h.tmpdir()
  local script = h.script(dir, h.report_prelude .. body)
  local r = h.run{"--channel", CHANNEL[backend] or backend, "--data-dir", dir .. "/data", "--id", id or ID, script,
                  dir = dir, timeout = 30}
  r.data = dir .. "/data"
  r.rows = h.fields(r.out)
  r.by = {}
  for _, f in ipairs(r.rows) do r.by[f[1]] = r.by[f[1]] or f end
  return r
end

local function ok(r)
  assert.are.equal(0, r.code, "stratrun failed:\n" .. r.out .. r.err)
end

local function error_lines(r)
  local n = {}
  for _, line in ipairs(h.lines(r.err)) do
    if line:find("^error: ") then n[#n + 1] = line end
  end
  return n
end

-- Lines on stderr other than the notices a server backend gives when it connects.
local function stderr_lines(r)
  local n = {}
  for _, line in ipairs(h.lines(r.err)) do
    if not line:find("^channel backend %S+ %S+: connected$") then n[#n + 1] = line end
  end
  return n
end

-- What a new process reads on channel id through the given backend, as JSON (or "nil").
local function read_back(backend, data, id)
  local dir = h.tmpdir()
  local script = h.script(dir, h.report_prelude .. string.format([[
function main()
  GetChannelData(%q)
  out("settled", enc((await(%q))))
end
]], id or ID, id or ID))
  local rr = h.run{"--channel", CHANNEL[backend], "--data-dir", data, "--id", "settled-reader", script, dir = dir}
  assert.are.equal(0, rr.code, rr.err)
  return h.fields(rr.out)[1][2]
end

-- The state a reader gets once the publisher is done, as JSON (or "nil"). memory delivers on the publisher's
-- own thread, so what the strategy read right after its last call (its `final` line) is already that state;
-- local and redis are read back by a new process (from the shared folder, from the server) after the publisher
-- flushed at exit.
local SETTLED = {
  memory = function(r)
    return r.by.final and r.by.final[2]
  end,
  ["local"] = function(r, id) return read_back("local", r.data, id) end,
  redis = function(r, id) return read_back("redis", r.data, id) end,
}

-- Every value SetChannelData must refuse, as Lua source, with a word its message must contain.
local INVALID = {
  {"a function", "function() end", "function"},
  {"userdata (io.stdout)", "io.stdout", "userdata"},
  {"a coroutine", "coroutine.create(function() end)", "thread"},
  {"a table with a cycle", "(function() local t = {a = {}}; t.a.up = t; return t end)()", "cycle"},
  {"NaN", "0/0", "nan"},
  {"math.huge", "math.huge", "inf"},
  {"-math.huge", "-math.huge", "inf"},
  {"a float key", "{[1.5] = 1}", "key"},
  {"a boolean key", "{[true] = 1}", "key"},
}

-- Robot IDs GetChannelData must refuse, as Lua source, with a word its message must contain.
local HOSTILE = {
  {"'../x'", "character"},
  {"'a/b'", "character"},
  {"'.'", "character"},
  {"'..'", "character"},
  {"''", "empty"},
  {"string.rep('a', 65)", "64"},
  {"'*'", "character"},
  {"'a\\0b'", "character"},
  {"{}", "table"},
  {"1.5", "integer"},
}

for _, backend in ipairs({"memory", "local", "redis"}) do
  describe("channels on " .. backend, function()
    if backend == "redis" then
      local server
      setup(function()
        server = h.redis()
        CHANNEL.redis = server:url()
      end)
      teardown(function() h.redis_stop_all() end)
      -- every case starts from an empty server, as the others start from an empty data dir
      before_each(function()
        local out, code = server:cli("FLUSHALL")
        assert.are.equal(0, code, out)
      end)
    end

    it("returns nil on the first call, even once the channel has a state, and the state on later ones", function()
      local r = run(backend, [[
function main()
  out("set", tostring(SetChannelData({symbol = "BTC_USDT", lastPrice = 43000.5})))
  out("first", enc(GetChannelData(_G())))
  out("later", enc((await(_G()))))
end
]])
      ok(r)
      assert.are.equal("nil", r.by.first[2])
      assert.are.equal("true", r.by.set[2])
      assert.are.same({symbol = "BTC_USDT", lastPrice = 43000.5}, h.dec(r.by.later[2]))
    end)

    it("keeps only the newest state: a new state overwrites the previous one", function()
      local r = run(backend, [[
function main()
  local me = _G()
  GetChannelData(me)
  for n = 1, 3 do SetChannelData({n = n}) end
  out("final", enc(GetChannelData(me)))
  local seen = {}
  await(me, function(v)
    if v then seen[#seen + 1] = v.n end
    return v and v.n == 3
  end)
  for _ = 1, 20 do
    local v = GetChannelData(me)
    seen[#seen + 1] = v and v.n or "nil"
    Sleep(1)
  end
  out("seen", table.concat(seen, ","))
end
]])
      ok(r)
      local seen = {}
      for n in r.by.seen[2]:gmatch("[^,]+") do seen[#seen + 1] = tonumber(n) or n end
      for i = 2, #seen do
        assert.is_true(type(seen[i]) == "number" and seen[i] >= seen[i - 1], "went back: " .. r.by.seen[2])
      end
      assert.are.equal(3, seen[#seen])
      -- a reader coming later gets the newest state itself, not the ones before it
      assert.are.same({n = 3}, h.dec(SETTLED[backend](r)))
    end)

    it("makes the last of several back-to-back publishes the state, every time", function()
      local r = run(backend, [[
function main()
  local me = _G()
  GetChannelData(me)
  for k = 1, 200 do
    for n = 1, 3 do SetChannelData({k = k, n = n}) end
    local v = await(me, function(v) return v and v.k == k and v.n == 3 end, 2000)
    out("round", k, enc(v))
  end
end
]])
      ok(r)
      assert.are.equal(200, #r.rows)
    end)

    it("follows several channels at once: its own gets its state, unknown ones stay nil", function()
      local r = run(backend, [[
local others = {"ghost-1", "ghost_2", 700001, "X"}
function main()
  local me = _G()
  for _, id in ipairs(others) do out("first", id, enc(GetChannelData(id))) end
  GetChannelData(me)
  SetChannelData({mine = true})
  out("own", enc((await(me))))
  for _ = 1, 20 do
    for _, id in ipairs(others) do
      local v = GetChannelData(id)
      if v ~= nil then out("unexpected", id, enc(v)) end
    end
    Sleep(1)
  end
  out("own-again", enc((GetChannelData(me))))
end
]])
      ok(r)
      local firsts = 0
      for _, f in ipairs(r.rows) do
        if f[1] == "first" then
          firsts = firsts + 1
          assert.are.equal("nil", f[3])
        end
      end
      assert.are.equal(4, firsts)
      assert.is_nil(r.by.unexpected)
      assert.are.same({mine = true}, h.dec(r.by.own[2]))
      assert.are.same({mine = true}, h.dec(r.by["own-again"][2]))
    end)

    it("treats a number ID and its decimal string as the same channel", function()
      local r = run(backend, [[
function main()
  SetChannelData({n = 1})
  GetChannelData(632799)
  local v, meta = await(632799)
  out("number", enc(v), meta.seq)
  -- already followed under its number: the string form is no first call, it has the state at once
  local w, wmeta = GetChannelData("632799")
  out("string", enc(w), wmeta and wmeta.seq)
end
]])
      ok(r)
      assert.are.same({n = 1}, h.dec(r.by.number[2]))
      assert.are.same({n = 1}, h.dec(r.by.string[2]))
      assert.are.equal(r.by.number[3], r.by.string[3])
    end)

    it("returns a fresh copy that the caller may change without changing the channel", function()
      local r = run(backend, [[
function main()
  local me = _G()
  GetChannelData(me)
  SetChannelData({a = 1, nested = {x = 1}, list = {1, 2, 3}})
  local v = await(me)
  v.a = 99
  v.nested.x = 99
  v.list[4] = 4
  v.added = true
  local w = GetChannelData(me)
  out("next", enc(w))
  out("distinct", tostring(not rawequal(v, w) and not rawequal(v.nested, w.nested)))
end
]])
      ok(r)
      assert.are.same({a = 1, nested = {x = 1}, list = {1, 2, 3}}, h.dec(r.by.next[2]))
      assert.are.equal("true", r.by.distinct[2])
    end)

    it("returns meta {seq, published, received} as integers, seq growing with each publish", function()
      local r = run(backend, [[
function main()
  local me = _G()
  GetChannelData(me)
  local last = 0
  for n = 1, 3 do
    local t0 = UnixNano() // 1000000
    SetChannelData({n = n})
    local t1 = UnixNano() // 1000000
    local _, m = await(me, function(v) return v and v.n == n end)
    local now = UnixNano() // 1000000
    out("meta", n, math.type(m.seq), math.type(m.published), math.type(m.received),
        m.seq, m.published, m.received, t0, t1, now)
  end
end
]])
      ok(r)
      local prev = 0
      local count = 0
      for _, f in ipairs(r.rows) do
        if f[1] == "meta" then
          count = count + 1
          assert.are.same({"integer", "integer", "integer"}, {f[3], f[4], f[5]})
          local seq, published, received = math.tointeger(f[6]), math.tointeger(f[7]), math.tointeger(f[8])
          local t0, t1, now = math.tointeger(f[9]), math.tointeger(f[10]), math.tointeger(f[11])
          assert.is_true(seq > prev, "seq did not grow: " .. prev .. " then " .. seq)
          prev = seq
          -- published is the publisher's clock at the call; received is this process's clock, later
          assert.is_true(published >= t0 and published <= t1,
            string.format("published %d not within the call [%d, %d]", published, t0, t1))
          assert.is_true(received >= published and received <= now,
            string.format("received %d not within [%d, %d]", received, published, now))
        end
      end
      assert.are.equal(3, count)
    end)

    it("never shows an older state after a newer one across 1000 rapid publishes", function()
      local r = run(backend, [[
function main()
  local me = _G()
  GetChannelData(me)
  for i = 1, 1000 do
    SetChannelData({i = i})
    local v, m = GetChannelData(me)
    if v then out("obs", m.seq, v.i) end
  end
  local v, m = await(me, function(v) return v and v.i == 1000 end)
  out("obs", m.seq, v.i)
end
]])
      ok(r)
      local prev_seq, prev_i, count = 0, 0, 0
      for _, f in ipairs(r.rows) do
        if f[1] == "obs" then
          count = count + 1
          local seq, i = math.tointeger(f[2]), math.tointeger(f[3])
          assert.is_true(seq >= prev_seq, "seq went back: " .. prev_seq .. " then " .. seq)
          if seq == prev_seq then
            assert.are.equal(prev_i, i)
          else
            assert.is_true(i > prev_i, "state went back: update " .. prev_i .. " then " .. i)
          end
          prev_seq, prev_i = seq, i
        end
      end
      assert.is_true(count >= 1)
      assert.are.equal(1000, prev_i)
    end)

    it("publishes any JSON value, not only objects", function()
      local r = run(backend, [[
local values = {"hello", 42, 2.5, true, false, {1, 2, 3}, {}}
function main()
  local me = _G()
  GetChannelData(me)
  local last = 0
  for k, value in ipairs(values) do
    SetChannelData(value)
    local v, m = await(me, function(_, m) return m and m.seq > last end)
    last = m.seq
    out("value", k, type(v), math.type(v) or "", enc(v))
  end
end
]])
      ok(r)
      local expected = {
        {"string", "", "hello"}, {"number", "integer", 42}, {"number", "float", 2.5}, {"boolean", "", true},
        {"boolean", "", false}, {"table", "", {1, 2, 3}}, {"table", "", {}},
      }
      local got = {}
      for _, f in ipairs(r.rows) do
        if f[1] == "value" then got[#got + 1] = {f[3], f[4], h.dec(f[5])} end
      end
      assert.are.same(expected, got)
    end)

    it("accepts a state of exactly 1024 bytes of JSON and refuses 1025 with the size in the message", function()
      local r = run(backend, [[
function main()
  local me = _G()
  GetChannelData(me)
  local ok1, msg1 = SetChannelData(string.rep("x", 1022))     -- "xx...x": 1022 + 2 quotes = 1024 bytes
  out("r1024", tostring(ok1), enc(msg1))
  local v = await(me)
  out("got", #v)
  local ok2, msg2 = SetChannelData(string.rep("x", 1023))     -- 1025 bytes
  out("r1025", tostring(ok2), enc(msg2))
  out("final", enc(GetChannelData(me)))
end
]])
      ok(r)
      assert.are.same({"true", "nil"}, {r.by.r1024[2], r.by.r1024[3]})
      assert.are.equal("1022", r.by.got[2])
      assert.are.equal("nil", r.by.r1025[2])
      local msg = h.dec(r.by.r1025[3])
      assert.is_string(msg)
      assert.matches("1025", msg, 1, true)
      local errors = error_lines(r)
      assert.are.equal(1, #errors, r.err)
      assert.matches("1025", errors[1], 1, true)
      assert.are.equal(string.rep("x", 1022), h.dec(SETTLED[backend](r)))
    end)

    for _, case in ipairs(INVALID) do
      local what, expr, word = case[1], case[2], case[3]
      it("refuses " .. what .. " (alone or inside a table) with nil and a message, keeping the previous state",
        function()
        local r = run(backend, string.format([[
function main()
  local me = _G()
  GetChannelData(me)
  SetChannelData({good = 1})
  local _, before = await(me)
  out("before", before.seq)
  local bad = %s
  local ok1, msg1 = SetChannelData(bad)
  out("root", tostring(ok1), enc(msg1))
  local ok2, msg2 = SetChannelData({symbol = "BTC_USDT", nested = {bad}})
  out("nested", tostring(ok2), enc(msg2))
  local v, m = GetChannelData(me)
  out("final", enc(v))
  out("seq", m.seq)
end
]], expr))
        ok(r)
        for _, key in ipairs({"root", "nested"}) do
          assert.are.equal("nil", r.by[key][2], key)
          local msg = h.dec(r.by[key][3])
          assert.is_string(msg, key)
          assert.matches(word, msg:lower(), 1, true)
        end
        assert.are.equal(r.by.before[2], r.by.seq[2])
        assert.are.equal(2, #error_lines(r), r.err)     -- one line per refused call
        assert.are.same({good = 1}, h.dec(SETTLED[backend](r)))
      end)
    end

    it("keeps integers and floats exact: 64-bit integers stay integers, floats stay floats", function()
      local r = run(backend, [[
local keys = {"big", "tenth", "third", "five", "max", "min", "tiny", "huge"}
function main()
  local me = _G()
  GetChannelData(me)
  SetChannelData({big = 1732590000123456789, tenth = 0.1, third = 1/3, five = 5.0,
                  max = math.maxinteger, min = math.mininteger, tiny = -5e-324, huge = 1.7976931348623157e308})
  local v = await(me)
  for _, k in ipairs(keys) do
    local t = math.type(v[k])
    out("num", k, t, string.format(t == "integer" and "%d" or "%a", v[k]))
  end
end
]])
      ok(r)
      local got = {}
      for _, f in ipairs(r.rows) do
        if f[1] == "num" then got[f[2]] = {f[3], f[4]} end
      end
      assert.are.same({
        big = {"integer", "1732590000123456789"},
        tenth = {"float", string.format("%a", 0.1)},
        third = {"float", string.format("%a", 1 / 3)},
        five = {"float", string.format("%a", 5.0)},
        max = {"integer", string.format("%d", math.maxinteger)},
        min = {"integer", string.format("%d", math.mininteger)},
        tiny = {"float", string.format("%a", -5e-324)},
        huge = {"float", string.format("%a", 1.7976931348623157e308)},
      }, got)
    end)

    it("refuses hostile robot IDs with nil and a message naming the problem, and keeps running", function()
      local list = {}
      for k, case in ipairs(HOSTILE) do list[k] = case[1] end
      local r = run(backend, string.format([[
local ids = {%s}
function main()
  for k = 1, %d do
    for call = 1, 2 do      -- no first-call nil: both calls say what is wrong
      local v, msg = GetChannelData(ids[k])
      out("id", k, call, enc(v), enc(msg))
    end
  end
  out("alive")
end
]], table.concat(list, ", "), #HOSTILE))
      ok(r)
      assert.is_truthy(r.by.alive)
      local checked = 0
      for _, f in ipairs(r.rows) do
        if f[1] == "id" then
          local case = HOSTILE[tonumber(f[2])]
          assert.are.equal("nil", f[4], case[1])
          local msg = h.dec(f[5])
          assert.is_string(msg, case[1])
          assert.matches(case[2], msg:lower(), 1, true)
          checked = checked + 1
        end
      end
      assert.are.equal(2 * #HOSTILE, checked)
    end)

    it("publishes null for SetChannelData(nil): readers get nil with the new state's meta", function()
      local r = run(backend, [[
function main()
  local me = _G()
  GetChannelData(me)
  SetChannelData({a = 1})
  local _, before = await(me)
  out("before", before.seq)
  out("set", tostring(SetChannelData(nil)))
  local v, m = await(me, function(_, m) return m and m.seq > before.seq end)
  out("after", enc(v), type(m), m.seq)
end
]])
      ok(r)
      assert.are.equal("true", r.by.set[2])
      assert.are.equal("nil", r.by.after[2])
      assert.are.equal("table", r.by.after[3])
      assert.is_true(math.tointeger(r.by.after[4]) > math.tointeger(r.by.before[2]))
    end)

    it("lets finalizers that run at exit still publish and read, and keeps what they published", function()
      local r = run(backend, [[
function main()
  GetChannelData("someone-else")
  -- collected when the state closes, after main and onexit: the engine must still be there
  setmetatable({}, {__gc = function()
    GetChannelData("someone-else")
    SetChannelData({from = "finalizer"})
  end})
  out("done")
end
]])
      ok(r)
      assert.are.same({}, stderr_lines(r), "stderr: " .. r.err)
      -- (redis: not read back here; a bot that exits before its engine connected loses its last state, a bug
      -- that channel_redis_spec.lua shows on its own)
      if backend == "local" then
        assert.are.equal('{"from":"finalizer"}', SETTLED["local"](r))
      end
    end)
  end)
end

describe("channel backend URL", function()
  it("refuses an unknown backend as a usage error (exit 2) naming the allowed ones", function()
    local r = run("nosuch", "function main() out('ran') end")
    assert.are.equal(2, r.code)
    assert.is_nil(r.by.ran)
    assert.matches("nosuch", r.err, 1, true)
    assert.matches("memory", r.err, 1, true)
  end)
end)
