-- Spec for the `local` channel backend (runtime/core/backend_local.c) across processes: real stratrun processes share
-- one data dir, as bots on one host do. Publishers, readers and the repo's sample strategies run side by side;
-- the spec kills, corrupts and restarts them and checks what the readers saw. The single-process semantics,
-- on every backend, are in channel_spec.lua.
local h = require("helpers")
local lfs = require("lfs")

local STRATEGIES = h.source .. "/strategies/"

-- Strategies, each run with -p parameters. They report with out() (helpers.report_prelude).
local SCRIPTS = {
  -- follows channel `follow` and prints every change of its seq: "S <seq> <json>" (the first call: "S 0 nil")
  reader = [[
function main()
  local last = -1
  local stop = UnixNano() + (seconds or 25) * 1000000000
  out("ready")
  while UnixNano() < stop do
    local v, m = GetChannelData(follow)
    local seq = m and m.seq or 0
    if seq ~= last then
      out("S", seq, enc(v))
      last = seq
    end
    Sleep(pause or 1)
  end
end
]],
  -- the state of channel `follow` once it has one
  read_once = [[
function main()
  GetChannelData(follow)
  local v, m = await(follow)
  out("state", enc(v), m.seq)
end
]],
  publish_once = [[
function main()
  out("set", tostring(SetChannelData({v = v})))
end
]],
  -- publishes {i = 1..n} as fast as it can, then leaves at once by `how`: main's return, os.exit or an error
  publish_n = [[
function main()
  for i = 1, n do SetChannelData({i = i}) end
  if how == "os.exit" then os.exit(0) end
  if how == "error" then error("the strategy failed") end
end
]],
  -- publishes {who, i} every few ms until stopped, saying "tick i" every 50; onexit publishes one last state
  -- marked final
  publish_every = [[
local i = 0
function main()
  while true do
    i = i + 1
    SetChannelData({who = _G(), i = i})
    if i == 1 then out("up") end
    if i % 50 == 0 then out("tick", i) end
    Sleep(pause or 5)
  end
end
function onexit()
  SetChannelData({who = _G(), i = i, final = true})
  out("onexit", i)
end
]],
  -- publishes {i = 1..n}, lets the engine write the last, says "done" and waits to be killed
  publish_hold = [[
function main()
  for i = 1, n do SetChannelData({i = i}) end
  Sleep(300)
  out("done")
  Sleep(600000)
end
]],
  -- publishes {i = ...} in a tight loop for `ms` ms, then the last state {i = i, last = true}, and exits
  publish_for = [[
function main()
  local i, stop = 0, UnixNano() + ms * 1000000
  while UnixNano() < stop do
    i = i + 1
    SetChannelData({i = i})
  end
  SetChannelData({i = i + 1, last = true})
  out("published", i + 1)
end
]],
  -- publishes self-checking states in a tight loop, never sleeping: a state is valid when pad and sum match i
  publish_tight = [[
function main()
  local i = 0
  while true do
    i = i + 1
    SetChannelData({i = i, pad = string.rep("p", i % 700), sum = i * 3})
    if i == 1 then out("running") end
  end
end
]],
}

local function script(dir, name)
  local path = dir .. "/" .. name .. ".lua"
  if not h.exists(path) then h.script(dir, h.report_prelude .. SCRIPTS[name], name .. ".lua") end
  return path
end

-- A data dir shared by the processes of one test (env.vars: their environment).
local function shared()
  local dir = h.tmpdir()
  return {dir = dir, data = dir .. "/data", channels = dir .. "/data/channels"}
end

-- Processes still running when a test ends (failed) are killed by after_each.
local running = {}

-- Starts stratrun as bot id in env's data dir: start(env, id, script_or_path, {"-p", "x=y", ...}).
local function start(env, id, what, params)
  local args = {"--data-dir", env.data, "--id", id}
  for _, p in ipairs(params or {}) do args[#args + 1] = p end
  args[#args + 1] = SCRIPTS[what] and script(env.dir, what) or what
  args.dir = env.dir
  args.env = env.vars
  local proc = h.spawn(args)
  running[#running + 1] = proc
  return proc
end

-- Runs stratrun to completion: {code, out, err, rows}.
local function run(env, id, what, params)
  local args = {"--data-dir", env.data, "--id", id}
  for _, p in ipairs(params or {}) do args[#args + 1] = p end
  args[#args + 1] = SCRIPTS[what] and script(env.dir, what) or what
  args.dir = env.dir
  args.env = env.vars
  local r = h.run(args)
  r.rows = h.fields(r.out)
  return r
end

local function ok(r)
  assert.are.equal(0, r.code, "stratrun failed:\n" .. r.out .. r.err)
  return r
end

-- What a later process reads on channel id: its value and seq.
local function read_later(env, id)
  local r = ok(run(env, "later-reader", "read_once", {"-p", "follow=" .. id}))
  return h.dec(r.rows[1][2]), math.tointeger(r.rows[1][3])
end

-- The states a reader process printed, in order: {seq = n, v = value}.
local function seen(proc)
  local list = {}
  for _, f in ipairs(h.fields((proc:output()))) do
    if f[1] == "S" then list[#list + 1] = {seq = math.tointeger(f[2]), v = h.dec(f[3])} end
  end
  return list
end

-- Waits until the reader has printed a state for which pred(v, seq) holds.
local function reader_sees(proc, pred)
  return h.eventually(function()
    for _, s in ipairs(seen(proc)) do
      if pred(s.v, s.seq) then return s end
    end
  end)
end

local warnings = h.warnings

local function stop(proc)
  proc:signal("TERM")
  return proc:wait()
end

-- Puts bytes in place as the channel file of id the way a foreign writer could: whole, by rename.
local function plant(env, id, bytes)
  local tmp = env.channels .. "/.plant.tmp"
  h.write(tmp, bytes)
  assert(os.rename(tmp, env.channels .. "/" .. id))
end

-- A channel file framed as backend_local.c writes it (spec/helpers.lua).
local framed = h.chanframe

local function listdir(path)
  local names = {}
  for name in lfs.dir(path) do
    if name ~= "." and name ~= ".." then names[#names + 1] = name end
  end
  table.sort(names)
  return names
end

-- Section n of subscriber.lua's status panel ("═══ Channel n [id] ═══" up to the next channel).
local function section(status, n)
  local a = status and status:find("Channel " .. n .. " [", 1, true)
  if not a then return nil end
  local b = status:find("Channel " .. (n + 1) .. " [", a, true) or #status + 1
  return status:sub(a, b - 1)
end

-- The slot table of a channel folder (runtime/core/chanslots.c), opened for update, and the offset of channel id's
-- slot in it, or nil. Header: magic, then u32 version, slots, slot size; a slot: u32 used, u32 seqlock, u32 len,
-- u32 pad, the ID (72 bytes), 16 doorbells (u64), the frame at 216.
local SLOT_LOCK, SLOT_FRAME = 4, 216
local function slot_of(env, id)
  local f = assert(io.open(env.channels .. "/.slots", "r+b"))
  local nslots, size = string.unpack("<I4I4", f:read(64), 13)
  for i = 0, nslots - 1 do
    local at = 64 + i * size
    f:seek("set", at)
    local s = f:read(88)
    if string.unpack("<I4", s) == 1 and s:sub(17):match("^[^%z]*") == id then return f, at end
  end
  f:close()
end

local function bells(env)
  local list = {}
  for _, name in ipairs(listdir(env.channels)) do
    if name:match("^%.bell%.") then list[#list + 1] = name end
  end
  return list
end

local function update_id(status, n)
  local s = section(status, n)
  return s and tonumber(s:match("Update ID: #(%d+)"))
end

describe("local channels across processes", function()
  after_each(function() h.kill_all(running) end)

  describe("the sample strategies", function()
    local function subscriber(env)
      return start(env, "632800", STRATEGIES .. "subscriber.lua",
        {"-p", "channel1=632799", "-p", "channel2=632801", "-p", "interval=20", "-p", "rounds=1500"})
    end
    local function broadcaster(env)
      return start(env, "632799", STRATEGIES .. "broadcaster.lua", {"-p", "interval=50", "-p", "rounds=600"})
    end
    local function status_of(env)
      return h.read(env.data .. "/bots/632800/status.txt")
    end

    it("show a subscriber following a broadcaster in another process", function()
      local env = shared()
      local b = broadcaster(env)
      local s = subscriber(env)
      local first = h.eventually(function() return update_id(status_of(env), 1) end)
      assert.is_number(first, "the subscriber never showed an update of 632799")
      local later = h.eventually(function()
        local n = update_id(status_of(env), 1)
        return n and n > first and n
      end)
      assert.is_number(later, "the subscriber stopped following 632799 at update " .. first)
      local status = status_of(env)
      assert.matches("Trading Pair: BTC_USDT", section(status, 1), 1, true)
      assert.matches("Waiting", section(status, 2), 1, true)     -- 632801 has no publisher
      assert.are.equal(143, stop(s))
      assert.are.equal(143, stop(b))
      assert.are.same({}, warnings(select(2, s:output())))
    end)

    it("give a subscriber started before its publisher the state once it appears", function()
      local env = shared()
      local s = subscriber(env)
      assert.is_truthy(h.eventually(function()
        local sec = section(status_of(env), 1)
        return sec and sec:find("Waiting", 1, true)
      end), "the subscriber never showed channel 632799 waiting")
      local b = broadcaster(env)
      assert.is_number(h.eventually(function() return update_id(status_of(env), 1) end),
        "the subscriber never got 632799's state")
      assert.are.equal(143, stop(b))
      assert.are.equal(143, stop(s))
    end)
  end)

  describe("the last state", function()
    for _, exit in ipairs({{"return", 0}, {"os.exit", 0}, {"error", 1}}) do
      local how, code = exit[1], exit[2]
      it("is written out when the publisher exits by " .. how .. " right after publishing", function()
        -- a few publishers, several sizes of burst: each exit races the engine's last write
        for _, n in ipairs({1, 2, 100, 3000}) do
          local env = shared()
          local r = run(env, "pub", "publish_n", {"-p", "n=" .. n, "-p", "how=" .. how})
          assert.are.equal(code, r.code, r.err)
          assert.are.same({}, warnings(r.err))
          assert.are.same({i = n}, (read_later(env, "pub")), "after " .. n .. " publishes")
        end
      end)
    end

    it("is written out, onexit's included, when the publisher is stopped with SIGTERM", function()
      local env = shared()
      local p = start(env, "pub", "publish_every", {"-p", "pause=1"})
      assert.is_true(p:wait_for("up"))
      assert.are.equal(143, stop(p))
      assert.are.same({}, warnings(select(2, p:output())))
      local last = tonumber((p:output()):match("onexit\t(%d+)"))
      assert.is_number(last, "onexit did not run")
      assert.are.same({who = "pub", i = last, final = true}, (read_later(env, "pub")))
    end)
  end)

  describe("a publisher killed with kill -9 while publishing in a tight loop", function()
    it("leaves readers with valid states only, and its temp file is swept by the next publisher", function()
      local env = shared()
      local reader = start(env, "reader", "reader", {"-p", "follow=pub", "-p", "pause=0.2"})
      assert.is_true(reader:wait_for("ready"))
      local pub = start(env, "pub", "publish_tight")
      local killed = pub:pid()
      assert.is_truthy(h.eventually(function() return #seen(reader) >= 30 end), "the reader saw too few states")
      pub:signal("KILL")
      assert.are.equal(137, pub:wait())

      -- a new reader finds a valid state
      local v = read_later(env, "pub")
      assert.are.equal(string.rep("p", v.i % 700), v.pad)
      assert.are.equal(v.i * 3, v.sum)

      -- whether or not the kill landed mid-write, a dead publisher's temp file is what it would leave
      local stray = string.format(".pub.%d.tmp", killed)
      h.write(env.channels .. "/" .. stray, "SRCH1 half a wri")
      -- a temp file of a live writer (this process) must survive the sweep
      local mine = string.format(".other.%s.tmp", h.read("/proc/self/stat"):match("^(%d+)"))
      h.write(env.channels .. "/" .. mine, "in progress")

      -- a new publisher with the same ID sweeps the dead one's temp file, and the reader, still running, takes
      -- its state
      ok(run(env, "pub", "publish_once", {"-p", "v=2"}))
      assert.is_truthy(reader_sees(reader, function(v) return v and v.v == 2 end), "the reader stopped")
      assert.are.equal(143, stop(reader))
      local temps = {}
      for _, name in ipairs(listdir(env.channels)) do
        if name:match("%.tmp$") then temps[#temps + 1] = name end
      end
      assert.are.same({mine}, temps)

      local states = seen(reader)
      assert.is_nil(states[1].v)      -- the first call
      assert.are.same({v = 2}, states[#states].v)
      assert.is_true(#states >= 30)
      for k = 2, #states - 1 do
        local s = states[k]
        assert.is_table(s.v, "state " .. k .. " is not a table")
        assert.are.equal(string.rep("p", s.v.i % 700), s.v.pad, "torn state " .. k)
        assert.are.equal(s.v.i * 3, s.v.sum, "torn state " .. k)
        if k > 2 then assert.is_true(s.v.i > states[k - 1].v.i, "an older state came after a newer one at " .. k) end
      end
      for k = 3, #states do
        assert.is_true(states[k].seq > states[k - 1].seq, "seq did not grow at state " .. k)
      end
      assert.are.same({}, warnings(select(2, reader:output())))
    end)
  end)

  describe("a corrupt or foreign channel file", function()
    -- Each builds the planted file from a valid one holding {"v":1}, or plants it itself (returns nil).
    local KINDS = {
      {"garbage", function() return "\0\1\2 not a channel file \255\254\n{\"v\":9}" end},
      {"a truncated valid file", function(valid) return valid:sub(1, #valid - 3) end},
      {"a file with a bad checksum", function(valid)
        local bad, n = valid:gsub('"v":1}$', '"v":7}')
        assert.are.equal(1, n, "unexpected channel file: " .. valid)
        return bad
      end},
      {"a file larger than 2 KB", function(valid) return valid .. string.rep(" ", 2100) end},
      {"a FIFO", function(_, env)
        assert.are.equal(0, h.sh("mkfifo " .. h.quote(env.channels .. "/.fifo") .. " && mv "
          .. h.quote(env.channels .. "/.fifo") .. " " .. h.quote(env.channels .. "/pub")))
      end},
      {"a symlink to a newer valid state outside the folder", function(_, env)
        local other = {dir = env.dir, data = env.dir .. "/other"}
        ok(run(other, "pub", "publish_once", {"-p", "v=5"}))
        assert.are.equal(0, h.sh("ln -s " .. h.quote(other.data .. "/channels/pub") .. " "
          .. h.quote(env.channels .. "/.link") .. " && mv " .. h.quote(env.channels .. "/.link") .. " "
          .. h.quote(env.channels .. "/pub")))
      end},
    }

    for _, kind in ipairs(KINDS) do
      it("(" .. kind[1] .. ") is skipped with one warning; the reader keeps its state and runs on", function()
        local env = shared()
        ok(run(env, "pub", "publish_once", {"-p", "v=1"}))
        local valid = h.read(env.channels .. "/pub")
        local reader = start(env, "reader", "reader", {"-p", "follow=pub"})
        assert.is_truthy(reader_sees(reader, function(v) return v and v.v == 1 end))
        local bytes = kind[2](valid, env)
        if bytes then plant(env, "pub", bytes) end
        assert.is_truthy(h.eventually(function() return #warnings(select(2, reader:output())) > 0 end),
          "no warning for the planted file")
        ok(run(env, "pub", "publish_once", {"-p", "v=2"}))
        assert.is_truthy(reader_sees(reader, function(v) return v and v.v == 2 end), "the reader stopped")
        assert.are.equal(143, stop(reader))
        local values = {}
        for k, s in ipairs(seen(reader)) do values[k] = s.v or "nil" end
        assert.are.same({"nil", {v = 1}, {v = 2}}, values)
        local w = warnings(select(2, reader:output()))
        assert.are.equal(1, #w, table.concat(w, "\n"))
        assert.matches("pub", w[1], 1, true)
      end)
    end

    it("whose frame is valid but whose JSON is not is skipped with one warning; the reader keeps state and meta",
      function()
      local env = shared()
      ok(run(env, "pub", "publish_once", {"-p", "v=1"}))
      local valid = h.read(env.channels .. "/pub")
      -- the frame the spec builds is the one the backend reads: a copy of the valid state is accepted as it is
      local seq, published = valid:match("^SRCH1 (%d+) (%d+) ")
      seq, published = math.tointeger(seq), math.tointeger(published)
      assert.are.equal(valid, framed(seq, published, '{"v":1}'))
      local reader = start(env, "reader", "reader", {"-p", "follow=pub"})
      assert.is_truthy(reader_sees(reader, function(v) return v and v.v == 1 end))
      plant(env, "pub", framed(seq + 5, published, '{"v":'))
      assert.is_truthy(h.eventually(function() return #warnings(select(2, reader:output())) > 0 end),
        "no warning for a state that is not JSON")
      ok(run(env, "pub", "publish_once", {"-p", "v=2"}))
      assert.is_truthy(reader_sees(reader, function(v) return v and v.v == 2 end), "the reader stopped")
      assert.are.equal(143, stop(reader))
      assert.are.equal(1, #warnings(select(2, reader:output())))
      -- the reader prints a line whenever meta.seq moves: {"v":1} twice would mean the skipped state moved
      -- meta.seq while GetChannelData went on returning the previous value
      local states, shown = seen(reader), {}
      for k, st in ipairs(states) do shown[k] = st.v and json.encode(st.v) or "nil" end
      assert.are.same({"nil", '{"v":1}', '{"v":2}'}, shown,
        "GetChannelData moved meta.seq to the skipped state while returning the previous value")
      assert.are.equal(seq, states[2].seq)
    end)

    it("present when a reader starts is skipped with one warning until a valid state replaces it", function()
      local env = shared()
      assert(lfs.mkdir(env.data) and lfs.mkdir(env.channels))
      plant(env, "pub", "garbage, not a channel state")
      local reader = start(env, "reader", "reader", {"-p", "follow=pub"})
      assert.is_truthy(h.eventually(function() return #warnings(select(2, reader:output())) > 0 end))
      ok(run(env, "pub", "publish_once", {"-p", "v=2"}))
      assert.is_truthy(reader_sees(reader, function(v) return v and v.v == 2 end))
      assert.are.equal(143, stop(reader))
      local values = {}
      for k, s in ipairs(seen(reader)) do values[k] = s.v or "nil" end
      assert.are.same({"nil", {v = 2}}, values)
      assert.are.equal(1, #warnings(select(2, reader:output())))
    end)
  end)

  it("ignores a state older than the one a reader holds (a stale file put back)", function()
    local env = shared()
    local reader = start(env, "reader", "reader", {"-p", "follow=pub"})
    ok(run(env, "pub", "publish_once", {"-p", "v=1"}))
    assert.is_truthy(reader_sees(reader, function(v) return v and v.v == 1 end))
    local old = h.read(env.channels .. "/pub")
    ok(run(env, "pub", "publish_once", {"-p", "v=2"}))
    assert.is_truthy(reader_sees(reader, function(v) return v and v.v == 2 end))
    plant(env, "pub", old)
    ok(run(env, "pub", "publish_once", {"-p", "v=3"}))
    assert.is_truthy(reader_sees(reader, function(v) return v and v.v == 3 end))
    assert.are.equal(143, stop(reader))
    local values = {}
    for k, s in ipairs(seen(reader)) do values[k] = s.v or "nil" end
    assert.are.same({"nil", {v = 1}, {v = 2}, {v = 3}}, values)
  end)

  describe("a restarted publisher", function()
    it("continues with a larger seq than before, so a running reader takes its states", function()
      local env = shared()
      local reader = start(env, "reader", "reader", {"-p", "follow=pub"})
      ok(run(env, "pub", "publish_once", {"-p", "v=1"}))
      local first = reader_sees(reader, function(v) return v and v.v == 1 end)
      assert.is_truthy(first)
      ok(run(env, "pub", "publish_once", {"-p", "v=2"}))
      local second = reader_sees(reader, function(v) return v and v.v == 2 end)
      assert.is_truthy(second, "the reader never took the restarted publisher's state")
      assert.is_true(second.seq > first.seq)
      assert.are.equal(143, stop(reader))
    end)

    it("continues above the stored seq even when that is ahead of its own clock", function()
      local env = shared()
      local reader = start(env, "reader", "reader", {"-p", "follow=pub"})
      ok(run(env, "pub", "publish_once", {"-p", "v=1"}))
      assert.is_truthy(reader_sees(reader, function(v) return v and v.v == 1 end))
      -- the stored state as a publisher whose clock ran 11 days ahead would have left it
      local valid = h.read(env.channels .. "/pub")
      local seq = math.tointeger(valid:match("^SRCH1 (%d+) "))
      assert.is_number(seq, "unexpected channel file: " .. valid)
      local ahead = seq + 1000000000000
      plant(env, "pub", (valid:gsub("^SRCH1 %d+ ", "SRCH1 " .. ahead .. " ")))
      assert.is_truthy(reader_sees(reader, function(_, s) return s == ahead end))
      ok(run(env, "pub", "publish_once", {"-p", "v=2"}))
      local second = reader_sees(reader, function(v) return v and v.v == 2 end)
      assert.is_truthy(second, "the reader never took the restarted publisher's state")
      assert.is_true(second.seq > ahead)
      assert.are.equal(143, stop(reader))
    end)
  end)

  it("keeps a publisher running while its channel folder is unusable, and sends its newest state once it is back",
    function()
    local env = shared()
    local pub = start(env, "pub", "publish_every", {"-p", "pause=2"})
    assert.is_true(pub:wait_for("up"))
    local function last_tick()
      local n = 0
      for _, f in ipairs(h.fields((pub:output()))) do
        if f[1] == "tick" then n = math.tointeger(f[2]) end
      end
      return n
    end
    -- the folder moves away and a file takes its place: every write fails
    assert(os.rename(env.channels, env.channels .. ".away"))
    h.write(env.channels, "not a folder")
    assert.is_truthy(h.eventually(function() return #warnings(select(2, pub:output())) > 0 end),
      "no warning about the failing writes")
    local during = last_tick()
    assert.is_truthy(h.eventually(function() return last_tick() >= during + 100 end), "the strategy was blocked")
    Sleep(1500)     -- past the backend's once-a-second look for the folder: the file is not taken for it
    assert(os.remove(env.channels))
    assert(os.rename(env.channels .. ".away", env.channels))
    local after = last_tick()
    local v = h.eventually(function()
      local state = read_later(env, "pub")
      return state.i >= after and state
    end)
    assert.is_table(v, "the publisher's states never came back")
    assert.are.equal(143, stop(pub))
    -- one line per change of state, not one per attempt: writes fail / work again, folder gone / back
    local counts = {}
    for _, w in ipairs(warnings(select(2, pub:output()))) do
      for _, kind in ipairs({"will retry", "works again", "was removed or moved", "is back; following it again"}) do
        if w:find(kind, 1, true) then counts[kind] = (counts[kind] or 0) + 1 end
      end
    end
    for kind, n in pairs(counts) do assert.are.equal(1, n, "warnings saying '" .. kind .. "'") end
    assert.are.equal(1, counts["will retry"], "no warning when writes failed")
  end)

  it("keeps following after the channel folder is deleted and made again", function()
    local env = shared()
    assert.are.equal(0, ok(run(env, "pub", "publish_once", {"-p", "v=1"})).code)
    local reader = start(env, "reader", "reader", {"-p", "follow=pub", "-p", "pause=5"})
    assert.is_truthy(reader_sees(reader, function(v) return v and v.v == 1 end))
    assert.are.equal(0, h.sh("rm -rf " .. h.quote(env.channels)))
    Sleep(200)
    assert.are.equal(0, h.sh("mkdir " .. h.quote(env.channels)))
    ok(run(env, "pub", "publish_once", {"-p", "v=2"}))
    assert.is_truthy(reader_sees(reader, function(v) return v and v.v == 2 end),
      "the reader stopped following when its folder came back")
    reader:signal("TERM")
    reader:wait()
    local log = h.read(env.data .. "/bots/reader/log.txt")
    assert.is_truthy(log:find("removed or moved", 1, true), "the engine's warning is not in the bot's log file")
  end)

  it("lets several publishers run at once, and one subscriber see all three", function()
    local env = shared()
    local ids = {"pub-a", "pub-b", "pub-c"}
    local pubs = {}
    for k, id in ipairs(ids) do pubs[k] = start(env, id, "publish_every") end
    for _, p in ipairs(pubs) do assert.is_true(p:wait_for("up")) end
    local dir = env.dir
    h.script(dir, h.report_prelude .. [[
function main()
  local ids = {"pub-a", "pub-b", "pub-c"}
  for _, id in ipairs(ids) do GetChannelData(id) end
  for _, id in ipairs(ids) do out("got", id, enc((await(id)))) end
end
]], "three.lua")
    local r = ok(run(env, "sub", dir .. "/three.lua"))
    local got = {}
    for _, f in ipairs(r.rows) do
      if f[1] == "got" then got[f[2]] = h.dec(f[3]) end
    end
    for _, id in ipairs(ids) do
      assert.is_table(got[id], id)
      assert.are.equal(id, got[id].who)
    end
    for _, p in ipairs(pubs) do
      assert.are.equal(143, stop(p))
      assert.are.same({}, warnings(select(2, p:output())))
    end
  end)

  it("shares channels between data dirs through one folder given as local:DIR", function()
    local env = shared()
    local folder = env.dir .. "/shared-channels"
    local a = {dir = env.dir, data = env.dir .. "/a"}
    local b = {dir = env.dir, data = env.dir .. "/b"}
    ok(run(a, "pub", "publish_once", {"--channel", "local:" .. folder, "-p", "v=1"}))
    local r = ok(run(b, "sub", "read_once", {"--channel", "local:" .. folder, "-p", "follow=pub"}))
    assert.are.same({v = 1}, h.dec(r.rows[1][2]))
    assert.is_true(h.exists(folder .. "/pub"))
    assert.is_false(h.exists(a.data .. "/channels/pub"))
  end)

  describe("the slot table", function()
    it("left mid-write by a publisher killed -9 gives readers the state before, whole; the restarted publisher's "
       .. "next state reaches them", function()
      local env = shared()
      ok(run(env, "pub", "publish_once", {"-p", "v=1"}))
      local f, at = slot_of(env, "pub")
      assert.is_truthy(f, "pub has no slot")
      -- what a kill -9 in the middle of a slot write leaves: the seqlock odd, the frame half replaced
      f:seek("set", at + SLOT_LOCK)
      local lock = string.unpack("<I4", f:read(4))
      f:seek("set", at + SLOT_LOCK)
      f:write(string.pack("<I4", lock | 1))
      f:seek("set", at + SLOT_FRAME)
      f:write('SRCH1 99999999999999 0 7 00000000\n{"v":3')
      f:close()
      local r = ok(run(env, "later-reader", "read_once", {"-p", "follow=pub"}))
      assert.are.same({v = 1}, h.dec(r.rows[1][2]))
      assert.are.same({}, warnings(r.err))
      local reader = start(env, "reader", "reader", {"-p", "follow=pub"})
      assert.is_true(reader:wait_for("ready"))
      ok(run(env, "pub", "publish_once", {"-p", "v=2"}))
      assert.is_truthy(reader_sees(reader, function(v) return v and v.v == 2 end), "the reader missed v=2")
      assert.are.equal(143, stop(reader))
      assert.are.same({}, warnings(select(2, reader:output())))
      assert.are.same({v = 2}, (read_later(env, "pub")))
    end)

    it("keeps the last state of a publisher killed -9 for a process that starts later, and its restart "
       .. "continues above its seq", function()
      local env = shared()
      local pub = start(env, "pub", "publish_hold", {"-p", "n=5000"})
      assert.is_true(pub:wait_for("done"))
      pub:signal("KILL")
      assert.are.equal(137, pub:wait())
      local v, seq = read_later(env, "pub")
      assert.are.same({i = 5000}, v)
      ok(run(env, "pub", "publish_once", {"-p", "v=2"}))
      local v2, seq2 = read_later(env, "pub")
      assert.are.same({v = 2}, v2)
      assert.is_true(seq2 > seq)
    end)

    it("never lets a follower killed -9 or stopped block or slow its publisher; a stopped one gets the last "
       .. "state when it goes on", function()
      local env = shared()
      local dead = start(env, "dead", "reader", {"-p", "follow=pub", "-p", "seconds=60"})
      local stopped = start(env, "stopped", "reader", {"-p", "follow=pub", "-p", "seconds=60"})
      assert.is_true(dead:wait_for("ready"))
      assert.is_true(stopped:wait_for("ready"))
      -- each has its doorbell on pub's slot once its engine follows the channel
      assert.is_truthy(h.eventually(function() return #bells(env) == 2 end), "the readers have no doorbells")
      dead:signal("KILL")
      assert.are.equal(137, dead:wait())
      stopped:signal("STOP")
      -- 2 s of states as fast as they come: the stopped follower's doorbell (a FIFO of 64 KiB) fills up long
      -- before the end, and writes to it fail at once instead of waiting
      local r = ok(run(env, "pub", "publish_for", {"-p", "ms=2000"}))
      local n = tonumber(r.rows[1][2])
      assert.are.same({i = n, last = true}, (read_later(env, "pub")))
      -- the dead follower's doorbell was found without a reader, removed, and its place freed
      assert.are.equal(1, #bells(env))
      stopped:signal("CONT")
      assert.is_truthy(reader_sees(stopped, function(v) return v and v.last end), "the stopped reader missed it")
      assert.are.equal(143, stop(stopped))
      assert.are.same({}, bells(env))
    end)

    it("loses the doorbell of a follower killed -9 when the next process opens the folder", function()
      local env = shared()
      local dead = start(env, "dead", "reader", {"-p", "follow=quiet", "-p", "seconds=60"})
      assert.is_true(dead:wait_for("ready"))
      assert.is_truthy(h.eventually(function() return #bells(env) == 1 end), "the reader has no doorbell")
      dead:signal("KILL")
      assert.are.equal(137, dead:wait())
      assert.are.equal(1, #bells(env))
      -- a process publishing another channel: nobody rings the dead one's doorbell, the sweep at start removes it
      ok(run(env, "other", "publish_once", {"-p", "v=1"}))
      assert.are.same({}, bells(env))
    end)

    local damage = {
      {"garbage", function(path) h.write(path, "not a slot table") end, "not a slot table"},
      {"cut short", function(path) h.write(path, h.read(path):sub(1, 5000)) end, "wrong size"},
      {"a symlink", function(path, env)
        os.remove(path)
        h.write(env.dir .. "/target", "keep me")
        h.sh("ln -s " .. h.quote(env.dir .. "/target") .. " " .. h.quote(path))
      end, "Too many levels of symbolic links"},
      {"a FIFO", function(path) os.remove(path); h.sh("mkfifo " .. h.quote(path)) end, "not a regular file"},
    }
    local id_u = io.popen("id -u")
    if id_u:read("l") == "0" then
      damage[#damage + 1] = {"another user's", function(path) h.sh("chown 65534 " .. h.quote(path)) end,
        "owned by another user"}
    end
    id_u:close()
    for _, kind in ipairs(damage) do
      it("(" .. kind[1] .. ") is refused with one warning and made anew; states go on from the files", function()
        local env = shared()
        ok(run(env, "pub", "publish_once", {"-p", "v=1"}))
        local path = env.channels .. "/.slots"
        kind[2](path, env)
        local r = ok(run(env, "later-reader", "read_once", {"-p", "follow=pub"}))
        assert.are.same({v = 1}, h.dec(r.rows[1][2]))
        local w = warnings(r.err)
        assert.are.equal(1, #w, r.err)
        assert.matches(path .. ": " .. kind[3] .. ": made anew", w[1], 1, true)
        -- the new table works: no warning, the next state goes through its slot
        ok(run(env, "pub", "publish_once", {"-p", "v=2"}))
        local r2 = ok(run(env, "later-reader", "read_once", {"-p", "follow=pub"}))
        assert.are.same({v = 2}, h.dec(r2.rows[1][2]))
        assert.are.same({}, warnings(r2.err))
        local f = slot_of(env, "pub")
        assert.is_truthy(f, "pub has no slot in the new table")
        f:close()
        if env.dir and h.exists(env.dir .. "/target") then
          assert.are.equal("keep me", h.read(env.dir .. "/target"))
        end
      end)
    end

    it("carries states between two users' processes sharing a folder through --group", function()
      if h.sh("setpriv --reuid=65534 --regid=65534 --groups=users true >/dev/null 2>&1") ~= 0 then
        pending("setpriv cannot switch to user nobody here (needs root)")
        return
      end
      local env = shared()
      local folder = env.dir .. "/chan"
      local mine = {dir = env.dir, data = env.dir .. "/a", vars = env.vars}
      local theirs = {dir = env.dir, data = env.dir .. "/b"}
      assert(h.sh("chmod 755 " .. h.quote(env.dir) .. " && mkdir -m 700 " .. h.quote(theirs.data)
        .. " && chown 65534 " .. h.quote(theirs.data)) == 0)
      -- this user follows, so the other user's publisher must write its table and ring its doorbell
      local reader = start(mine, "reader", "reader", {"--group", "users", "--channel", "local:" .. folder, "-p",
        "follow=pub", "-p", "pause=1"})
      assert.is_true(reader:wait_for("ready"))
      assert.is_truthy(h.eventually(function() return #bells({channels = folder}) == 1 end), "no doorbell")
      local args = {"--data-dir", theirs.data, "--id", "pub", "--group", "users", "--channel", "local:" .. folder,
        "-p", "pause=5", script(env.dir, "publish_every"),
        dir = env.dir, prefix = {"setpriv", "--reuid=65534", "--regid=65534", "--groups=users"}}
      local pub = h.spawn(args)
      running[#running + 1] = pub
      assert.is_true(pub:wait_for("tick\t100"), "the other user's publisher did not run")
      -- 100 states in about half a second: the file is rewritten every 5 s, so most came through the slot
      assert.is_truthy(reader_sees(reader, function(v) return v and v.i >= 100 end), "the reader lags")
      local distinct = 0
      for _, st in ipairs(seen(reader)) do
        if st.v and st.v.who then distinct = distinct + 1 end
      end
      assert.is_true(distinct >= 20, "only " .. distinct .. " states reached the reader")
      stop(pub)
      assert.are.equal(143, stop(reader))
      assert.are.same({}, warnings(select(2, reader:output())))
      assert.are.same({}, warnings(select(2, pub:output())))
      local function mode(path)
        local f = io.popen("stat -c '%a %G' " .. h.quote(path))
        local m = f:read("l")
        f:close()
        return m
      end
      assert.are.equal("660 users", mode(folder .. "/.slots"))
    end)

    it("holds as many channels as it has slots; the others go by their files", function()
      local env = shared()
      env.vars = {STRATRUN_CHANNEL_SLOTS = "2"}
      h.script(env.dir, h.report_prelude .. [[
function main()
  local ids = {"c1", "c2", "c3", "c4"}
  for _, id in ipairs(ids) do GetChannelData(id) end
  out("ready")
  for _, id in ipairs(ids) do out("got", id, enc((await(id, function(v) return v and v.i >= 30 end)))) end
end
]], "four.lua")
      local sub = start(env, "sub", env.dir .. "/four.lua")
      assert.is_true(sub:wait_for("ready"))
      local pubs = {}
      for k = 1, 4 do pubs[k] = start(env, "c" .. k, "publish_every") end
      assert.are.equal(0, sub:wait())
      local got = {}
      for _, f in ipairs(h.fields((sub:output()))) do
        if f[1] == "got" then got[f[2]] = h.dec(f[3]) end
      end
      for k = 1, 4 do
        assert.is_table(got["c" .. k], "c" .. k)
        assert.are.equal("c" .. k, got["c" .. k].who)
        assert.are.equal(143, stop(pubs[k]))
        assert.are.same({}, warnings(select(2, pubs[k]:output())))
      end
      local slotted = 0
      for k = 1, 4 do
        local f = slot_of(env, "c" .. k)
        if f then
          slotted = slotted + 1
          f:close()
        end
      end
      assert.are.equal(2, slotted)
      assert.are.same({}, warnings(select(2, sub:output())))
    end)

    it("spares a follower whose channels all have its doorbell the renames of other channels' files; a publisher "
       .. "without the table still reaches it", function()
      local env = shared()
      local reader = start(env, "reader", "reader", {"-p", "follow=pub", "-p", "seconds=120", "-p", "pause=1000"})
      assert.is_true(reader:wait_for("ready"))
      assert.is_truthy(h.eventually(function() return #bells(env) == 1 end), "the reader never got a doorbell")
      -- The wake-ups of every thread of the reader's process (voluntary and involuntary context switches).
      local function wakeups()
        local n, task = 0, "/proc/" .. reader:pid() .. "/task"
        for t in lfs.dir(task) do
          local text = t:match("^%d+$") and h.read(task .. "/" .. t .. "/status") or ""
          for k in text:gmatch("ctxt_switches:%s*(%d+)") do n = n + tonumber(k) end
        end
        return n
      end
      -- A publisher without the table renames its channel file with every state: 200 a second, in the same folder.
      local noisy = {data = env.data, dir = env.dir, vars = {STRATRUN_CHANNEL_SLOTS = "0"}}
      local noise = start(noisy, "noise", "publish_every")
      assert.is_true(noise:wait_for("tick"))
      local before = wakeups()
      Sleep(2000)
      local woken = wakeups() - before
      -- Its own Sleep(1000), the engine's check each second and the threads around them: a few a second, not the
      -- 400 renames of the noise (each woke it before, as it still wakes a follower without a doorbell).
      -- (A process under valgrind wakes its threads in turns on valgrind's own lock: its count says nothing here.)
      if not h.valgrind then assert.is_true(woken < 100, "the reader woke " .. woken .. " times in 2 s") end
      -- A publisher without the table reaches it through its file, seen at the check of the folder each second.
      local r = ok(run(noisy, "pub", "publish_once", {"-p", "v=7"}))
      assert.are.same({"set", "true"}, r.rows[1])
      assert.is_truthy(reader_sees(reader, function(v) return v and v.v == 7 end), "the reader missed v=7")
      -- and a publisher with the table through the slot, at once
      ok(run(env, "pub", "publish_once", {"-p", "v=8"}))
      assert.is_truthy(reader_sees(reader, function(v) return v and v.v == 8 end), "the reader missed v=8")
      assert.are.equal(143, stop(noise))
      assert.are.equal(143, stop(reader))
      assert.are.same({}, warnings(select(2, reader:output())))
    end)

    it("reaches a follower with its doorbell from a publisher without the table on a file system whose clock ticks "
       .. "once a second: two renames in one second leave the folder's time as it was", function()
      local env = shared()
      -- ext4 with 128-byte inodes keeps whole seconds, as ext3 does (FAT: 2 s)
      local img, mnt = env.dir .. "/coarse.img", env.dir .. "/coarse"
      if h.sh("truncate -s 16M " .. h.quote(img) .. " && mkfs.ext4 -q -I 128 " .. h.quote(img) .. " >/dev/null 2>&1"
          .. " && mkdir " .. h.quote(mnt) .. " && mount -o loop " .. h.quote(img) .. " " .. h.quote(mnt)
          .. " 2>/dev/null") ~= 0 then
        pending("cannot mount a loop file system here (needs root and mkfs.ext4)")
        return
      end
      finally(function()
        h.kill_all(running)
        h.sh("umount -l " .. h.quote(mnt))
      end)
      local folder = mnt .. "/chan"
      -- Rounds of 10 states 95 ms apart within one wall-clock second, each when the test says, each from another
      -- point of the second: the reader's check of the folder (once a second, its phase its own) falls among the
      -- renames of one of them, after the first.
      h.script(env.dir, h.report_prelude .. [[
function main()
  for r, at in ipairs({10, 120, 60, 90, 30}) do
    repeat
      local f = io.open(go .. r)
      if f then f:close() end
      Sleep(20)
    until f
    repeat Sleep(1) until (UnixNano() // 1000000 - at) % 1000 < 10
    for i = 1, 10 do
      SetChannelData({r = r, i = i})
      if i < 10 then Sleep(95) end
    end
  end
  Sleep(600000)
end
]], "rounds.lua")
      local reader = start(env, "reader", "reader", {"--channel", "local:" .. folder, "-p", "follow=pub", "-p",
        "seconds=120", "-p", "pause=5"})
      assert.is_true(reader:wait_for("ready"))
      assert.is_truthy(h.eventually(function() return #bells({channels = folder}) == 1 end), "no doorbell")
      local go = env.dir .. "/go"
      local pub = start({data = env.dir .. "/p", dir = env.dir, vars = {STRATRUN_CHANNEL_SLOTS = "0"}}, "pub",
        env.dir .. "/rounds.lua", {"--channel", "local:" .. folder, "-p", "go=" .. go})
      for r = 1, 5 do
        h.write(go .. r, "")
        assert.is_truthy(reader_sees(reader, function(v) return v and v.r == r and v.i == 10 end),
          "the reader never saw the last state of round " .. r)
      end
      assert.are.equal(143, stop(pub))
      assert.are.equal(143, stop(reader))
      assert.are.same({}, warnings(select(2, reader:output())))
    end)

    it("locked by another process (flock held forever) stalls no publisher and no follower: a new channel goes "
       .. "by its file", function()
      local env = shared()
      ok(run(env, "first", "publish_once", {"-p", "v=0"}))
      local path = env.channels .. "/.slots"
      -- a co-user of a group folder (or a process stopped in the middle of giving a slot) holding the table's lock
      h.sh("(flock -o -x " .. h.quote(path) .. " sleep 120 > /dev/null 2>&1 & echo $! > "
        .. h.quote(env.dir .. "/holder.pid") .. ")")
      assert.is_truthy(h.eventually(function() return h.read(env.dir .. "/holder.pid") end))
      local holder = h.read(env.dir .. "/holder.pid"):match("%d+")
      finally(function() h.sh("kill " .. holder .. " 2>/dev/null") end)
      Sleep(200)
      local reader = start(env, "reader", "reader", {"-p", "follow=pub", "-p", "seconds=60"})
      assert.is_true(reader:wait_for("ready"))
      local r = ok(run(env, "pub", "publish_once", {"-p", "v=1"}))
      assert.are.same({"set", "true"}, r.rows[1])
      local w = warnings(r.err)
      assert.are.equal(1, #w, r.err)
      assert.matches(path .. ": locked by another process", w[1], 1, true)
      assert.are.same({v = 1}, (read_later(env, "pub")))
      assert.is_truthy(reader_sees(reader, function(v) return v and v.v == 1 end), "the reader missed v=1")
      -- no doorbell while the lock is held; once it is let go, the follower puts one on the channel's slot
      assert.are.same({}, bells(env))
      h.sh("kill " .. holder)
      assert.is_truthy(h.eventually(function() return #bells(env) == 1 end), "the reader never got a doorbell")
      ok(run(env, "pub", "publish_once", {"-p", "v=2"}))
      assert.is_truthy(reader_sees(reader, function(v) return v and v.v == 2 end), "the reader missed v=2")
      assert.are.equal(143, stop(reader))
    end)

    it("cut short under the running processes' mappings (ftruncate by another process) crashes neither the "
       .. "publisher nor its follower: both move to a new table and states go on", function()
      local env = shared()
      local reader = start(env, "reader", "reader", {"-p", "follow=pub", "-p", "seconds=60"})
      assert.is_true(reader:wait_for("ready"))
      local pub = start(env, "pub", "publish_every")
      assert.is_true(pub:wait_for("up"))
      assert.is_truthy(reader_sees(reader, function(v) return v and v.i >= 5 end), "the reader saw nothing")
      -- what a co-user of a group folder (or `: > .slots`) does: the same file, its header alone; every page past
      -- its end raises SIGBUS in a process that touches it, the publisher's next slot write the first
      local path = env.channels .. "/.slots"
      h.sh("truncate -s 64 " .. h.quote(path))
      local after = #seen(reader)
      assert.is_truthy(reader_sees(reader, function(v) return v and v.i >= 5 + 300 end),
        "the reader got no state after the table was cut short")
      assert.is_true(#seen(reader) > after)
      assert.are.equal(143, stop(pub))
      assert.are.equal(143, stop(reader))
      local w = warnings(select(2, pub:output()))
      for _, line in ipairs(warnings(select(2, reader:output()))) do w[#w + 1] = line end
      assert.is_true(#w >= 1 and #w <= 2, "warnings: " .. table.concat(w, "\n"))
      for _, line in ipairs(w) do assert.matches(path .. ": wrong size: made anew", line, 1, true) end
    end)
  end)

  describe("a channel ID", function()
    it("never becomes a path outside the channel folder", function()
      local env = shared()
      local name = "escape-" .. math.random(1, 1e9)
      local hostile = {"../" .. name, "../../" .. name, "../../../" .. name, "/tmp/" .. name, "a/" .. name,
                       "..", "."}
      h.script(env.dir, h.report_prelude .. string.format([[
local ids = {%q, %q, %q, %q, %q, %q, %q}
function main()
  for k, id in ipairs(ids) do
    local v, msg = GetChannelData(id)
    out("r", k, enc(v), enc(msg))
  end
  SetChannelData({ok = true})
  out("alive")
end
]], table.unpack(hostile)), "hostile.lua")
      local r = ok(run(env, "reader", env.dir .. "/hostile.lua"))
      local refused = 0
      for _, f in ipairs(r.rows) do
        if f[1] == "r" then
          assert.are.equal("nil", f[3])
          assert.is_string(h.dec(f[4]))
          refused = refused + 1
        end
      end
      assert.are.equal(#hostile, refused)
      local tmp_root = env.dir:match("^(.*)/[^/]+$")
      for _, path in ipairs({env.data .. "/" .. name, env.dir .. "/" .. name, tmp_root .. "/" .. name,
                             "/tmp/" .. name, env.channels .. "/a"}) do
        assert.is_false(h.exists(path), path .. " was created")
      end
      -- the bot's own channel, its seq floor, its publisher lock (files_spec) and the folder's slot table, nothing
      -- else
      assert.are.same({".reader.lock", ".reader.seq", ".slots", "reader"}, listdir(env.channels))
    end)

    it("that is hostile is refused as a bot's --id (exit 2) before anything is written", function()
      local env = shared()
      for _, id in ipairs({"../x", "a/b", ".."}) do
        local r = run(env, id, "publish_once", {"-p", "v=1"})
        assert.are.equal(2, r.code, id)
        assert.matches(id, r.err, 1, true)
      end
      assert.is_false(h.exists(env.data .. "/x"))
      assert.is_false(h.exists(env.dir .. "/x"))
      assert.is_false(h.exists(env.channels .. "/a"))
    end)
  end)
end)
