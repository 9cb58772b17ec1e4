-- Spec for stratrun channel ls | get | watch (runtime/host/chantool.c, docs/tools.md): real bots publish with
-- SetChannelData, and the tool reads their channels as another process does, over the local backend and over a
-- real redis-server (with the ACL recipe of scripts/redis-acl.lua: a password from the environment, a channel
-- Redis refuses).
local h = require("helpers")

-- Publishes {n = N, who = ID} every `every` ms (default 50), logging "published N", until `count` states
-- (default: no end); then it idles until stopped.
local PUBLISHER = [[
function main()
  local n = 0
  while true do
    if n < (count or math.huge) then
      n = n + 1
      SetChannelData({ n = n, who = _G() })
      Log("published " .. n)
    end
    Sleep(every or 50)
  end
end
]]

local function lines_of(text)
  local t = {}
  for l in text:gmatch("[^\n]+") do t[#t + 1] = l end
  return t
end

-- ls's rows by ID: {seq, published, age, bytes}; "-" for a channel with no state. args: ls's arguments; env: the
-- environment's additions.
local function ls(dir, args, env)
  local r = h.run { dir = dir, env = env, "channel", "ls", table.unpack(args) }
  assert.are.equal(0, r.code, r.err)
  local ls_lines = lines_of(r.out)
  assert.truthy(ls_lines[1] and ls_lines[1]:match("^ID +SEQ +PUBLISHED +AGE +BYTES$"), r.out)
  local rows, order = {}, {}
  for i = 2, #ls_lines do
    local id, seq, published, age, bytes =
      ls_lines[i]:match("^(%S+) +(%d+) +(%d%d%d%d%-%d%d%-%d%d %d%d:%d%d:%d%d%.%d%d%d) +([%d.]+ %a+) +(%d+)$")
    if not id then  -- a publisher's clock ahead of this one (another host's): "0.3 s ahead"
      id, seq, published, age, bytes =
        ls_lines[i]:match("^(%S+) +(%d+) +(%d%d%d%d%-%d%d%-%d%d %d%d:%d%d:%d%d%.%d%d%d) +([%d.]+ %a+ ahead) +(%d+)$")
    end
    if not id then
      id, seq, published, age, bytes = ls_lines[i]:match("^(%S+) +(%-) +(%-) +(%-) +(%-)$")
    end
    assert.truthy(id, "a row ls printed: " .. ls_lines[i])
    rows[id] = { seq = seq, published = published, age = age, bytes = bytes }
    order[#order + 1] = id
  end
  return rows, order, r
end

-- One watch line: the published time, seq and the state's JSON.
local function watched(line)
  local t, seq, data = line:match("^(%d%d%d%d%-%d%d%-%d%d %d%d:%d%d:%d%d%.%d%d%d) (%d+) (.*)$")
  assert.truthy(t, "a line watch printed: " .. line)
  return { time = t, seq = tonumber(seq), data = json.decode(data) }
end

describe("stratrun channel", function()
  local procs = {}
  after_each(function() h.kill_all(procs) end)

  -- Starts stratrun in dir with the arguments of t (and t.env), killed after the case.
  local function start(dir, t)
    t.dir = dir
    local p = h.spawn(t)
    procs[#procs + 1] = p
    return p
  end

  it("ls, get and watch the channels of a data dir on the local backend", function()
    local dir = h.tmpdir()
    local d = dir .. "/d"
    h.write(dir .. "/pub.lua", PUBLISHER)
    h.write(dir .. "/idle.lua", "function main() while true do Sleep(1000) end end\n")
    local alpha = start(dir, { "--data-dir", d, "--id", "alpha", "-p", "count=3", "pub.lua" })
    local beta = start(dir, { "--data-dir", d, "--id", "beta", "pub.lua" })
    start(dir, { "--data-dir", d, "--id", "quiet", "idle.lua" })
    -- a bot of another data dir publishing into this one's channel folder: ls lists its file too
    local guest = start(dir, { "--data-dir", dir .. "/other", "--channel", "local:" .. d .. "/channels", "--id",
      "guest", "-p", "count=1", "pub.lua" })
    for _, p in ipairs({ alpha, beta, guest }) do assert.truthy(p:wait_for("published 1\n", 10), (p:output())) end
    assert.truthy(alpha:wait_for("published 3\n", 10))
    assert.truthy(h.eventually(function() return h.exists(d .. "/bots/quiet/lock") end))
    assert.truthy(h.eventually(function()      -- alpha's third state reached its file
      local frame = h.read(d .. "/channels/alpha")
      return frame and frame:find('{"n":3,', 1, true)
    end))

    -- get: the latest state's JSON, on one line
    local r = h.run { dir = dir, "channel", "get", "alpha", "--data-dir", d }
    assert.are.same({ 0, '{"n":3,"who":"alpha"}\n', "" }, { r.code, r.out, r.err })
    -- --meta: with its seq, published and received times, as GetChannelData's meta; --data-dir before the tool
    r = h.run { dir = dir, "--data-dir", d, "channel", "get", "--meta", "alpha" }
    assert.are.equal(0, r.code, r.err)
    local m = json.decode(r.out)
    assert.are.same({ "alpha", { n = 3, who = "alpha" } }, { m.id, m.data })
    assert.truthy(math.type(m.seq) == "integer" and m.seq > 0, r.out)
    assert.truthy(m.received >= m.published and m.received - m.published < 60000, r.out)

    -- ls: every bot of the data dir (quiet publishes nothing) and every channel file of its folder (guest)
    local rows, order = ls(dir, { "--data-dir", d })
    assert.are.same({ "alpha", "beta", "guest", "quiet" }, order)
    assert.are.equal(tostring(m.seq), rows.alpha.seq)
    assert.are.equal(_D(m.published, "yyyy-MM-dd HH:mm:ss.SSS"), rows.alpha.published)
    assert.are.equal(tostring(#'{"n":3,"who":"alpha"}'), rows.alpha.bytes)
    assert.truthy(rows.alpha.age:match("^%d+%.%d s$"), rows.alpha.age)
    assert.are.equal(tostring(#'{"n":1,"who":"guest"}'), rows.guest.bytes)
    assert.are.same({ "-", "-", "-", "-" }, { rows.quiet.seq, rows.quiet.published, rows.quiet.age,
      rows.quiet.bytes })
    -- the IDs named, and only those
    rows, order = ls(dir, { "--data-dir", d, "quiet", "alpha", "nobody" })
    assert.are.same({ "alpha", "nobody", "quiet" }, order)
    assert.are.equal(tostring(m.seq), rows.alpha.seq)

    -- get of a channel with no state: exit 1 at once (no file to wait for)
    local t0 = UnixNano()
    r = h.run { dir = dir, "channel", "get", "quiet", "--data-dir", d }
    assert.are.same({ 1, "", "stratrun channel get: channel quiet has no state: no file " .. d .. "/channels/quiet\n" },
      { r.code, r.out, r.err })
    assert.truthy(UnixNano() - t0 < 1.5e9 * h.time_scale, "get waited for a channel that has no file")

    -- watch: the current state first, then each new one as it comes, until SIGINT (exit 0)
    local w = start(dir, { "channel", "watch", "beta", "--data-dir", d })
    local first = h.eventually(function()
      local l = lines_of((w:output()))
      return #l >= 4 and l
    end)
    assert.truthy(first, "watch printed fewer than 4 states: " .. (w:output()))
    local prev
    for _, l in ipairs(first) do
      local s = watched(l)
      assert.are.equal("beta", s.data.who)
      if prev then
        assert.truthy(s.seq > prev.seq and s.data.n > prev.data.n, (w:output()))
      end
      prev = s
    end
    w:signal("INT")
    assert.are.equal(0, w:wait(10))
    assert.are.equal("", select(2, w:output()))
    -- a channel whose publisher stopped publishing: its last state, once
    w = start(dir, { "channel", "watch", "alpha", "--data-dir", d })
    assert.truthy(w:wait_for('{"n":3,"who":"alpha"}\n', 5), (w:output()))
    Sleep(200)
    w:signal("TERM")
    assert.are.equal(0, w:wait(10))
    assert.are.equal(1, #lines_of((w:output())), (w:output()))
    assert.are.equal(tostring(m.seq), tostring(watched(lines_of((w:output()))[1]).seq))
  end)

  it("reads channels through Redis: ls, get and watch, a password from the environment, a refused channel", function()
    local admin = "admin-" .. math.random(1, 1e9)
    local server, dir = h.redis { password = admin }, h.tmpdir()
    finally(h.redis_stop_all)
    -- alice and carol publish; the tool reads as bob, who may follow alice only
    local acl = h.run { dir = dir, "--data-dir", dir .. "/helper", "--id", "acl-helper",
      h.source .. "/scripts/redis-acl.lua", "alice", "carol", "bob:alice" }
    assert.are.equal(0, acl.code, acl.err)
    h.write(dir .. "/acl.txt", acl.out)
    assert.are.equal("OK\nOK\nOK\n", server:pipe(dir .. "/acl.txt"))
    local pw = {}
    for id, p in acl.out:gmatch("ACL SETUSER stratrun%-(%S+) reset on >(%x+) ") do pw[id] = p end
    h.write(dir .. "/pub.lua", PUBLISHER)
    local pubs = {}
    for _, id in ipairs({ "alice", "carol" }) do
      pubs[id] = start(dir, { "--data-dir", dir .. "/d", "--id", id, "--channel",
        server:url { user = "stratrun-" .. id }, "pub.lua", env = { STRATRUN_REDIS_PASSWORD = pw[id] } })
      assert.truthy(pubs[id]:wait_for("published 2\n", 10), (pubs[id]:output()))
    end
    local url, env = server:url { user = "stratrun-bob" }, { STRATRUN_REDIS_PASSWORD = pw.bob }

    local r = h.run { dir = dir, env = env, "channel", "get", "alice", "--channel", url }
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("alice", json.decode(r.out).who)
    -- Redis refuses bob carol's key: said in one line, exit 1
    r = h.run { dir = dir, env = env, "channel", "get", "carol", "--channel", url }
    assert.are.same({ 1, "" }, { r.code, r.out })
    assert.truthy(r.err:match("stratrun channel get: channel carol: [^\n]*NOPERM[^\n]*\n$"), r.err)
    -- ls: the data dir's bots (whose folders are here), carol refused
    local rows, order, lr = ls(dir, { "--data-dir", dir .. "/d", "--channel", url }, env)
    assert.are.same({ "alice", "carol" }, order)
    assert.truthy(rows.alice.seq:match("^%d+$"), lr.out .. lr.err)
    assert.are.equal("-", rows.carol.seq)
    assert.truthy(lr.err:find("stratrun channel ls: channel carol: ", 1, true), lr.err)
    -- no state within the wait: exit 1
    r = h.run { dir = dir, "channel", "get", "dave", "--channel", server:url { user = "default", pass = admin } }
    assert.are.same({ 1, "" }, { r.code, r.out })
    h.assert_has(r.err, "stratrun channel get: channel dave has no state (none came through redis within 2 s)\n")

    -- watch, with the password in the URL: it is starred out of the command line others can read
    local w = start(dir, { "channel", "watch", "alice", "--channel", server:url { user = "default", pass = admin } })
    assert.truthy(h.eventually(function() return #lines_of((w:output())) >= 3 end), (w:output()))
    if not h.valgrind then
      local cmdline = h.read("/proc/" .. w:pid() .. "/cmdline") or ""
      assert.falsy(cmdline:find(admin, 1, true), "the password is on the command line")
      h.assert_has(cmdline, "redis://default:" .. string.rep("*", #admin) .. "@")
    end
    w:signal("INT")
    assert.are.equal(0, w:wait(10))
    local ns = {}
    for _, l in ipairs(lines_of((w:output()))) do ns[#ns + 1] = watched(l).data.n end
    for i = 2, #ns do assert.truthy(ns[i] > ns[i - 1], table.concat(ns, " ")) end
  end)

  it("has --help, refuses the memory backend, and says what is wrong with bad input in one line", function()
    local dir = h.tmpdir()
    local r = h.run { dir = dir, "channel", "--help" }
    assert.are.equal(0, r.code)
    assert.truthy(r.out:match("^usage: stratrun channel ls "), r.out)
    r = h.run { dir = dir, "channel", "get", "--help" }
    assert.are.equal(0, r.code)
    assert.truthy(r.out:match("^usage: stratrun channel ls "), r.out)
    local see = " (see stratrun channel --help)\n"
    local cases = {
      { { "channel" }, "stratrun channel: name a command: ls, get ID or watch ID" .. see },
      { { "channel", "cat", "x" }, "stratrun channel: unknown command 'cat' (allowed: ls, get ID, watch ID)" .. see },
      { { "channel", "get", "../x" }, "stratrun channel: channel ID '../x': it has a character outside A-Z a-z 0-9 _ - "
        .. "(an ID is 1-64 characters of A-Z a-z 0-9 _ -)" .. see },
      { { "channel", "ls", string.rep("a", 65) }, "stratrun channel: channel ID '" .. string.rep("a", 65)
        .. "': it is longer than 64 characters" },
      { { "channel", "get" }, "stratrun channel: get takes one channel ID, not 0" .. see },
      { { "channel", "watch", "a", "b" }, "stratrun channel: watch takes one channel ID, not 2" .. see },
      { { "channel", "ls", "--meta" }, "stratrun channel: --meta goes with get" .. see },
      { { "channel", "ls", "--bogus" }, "stratrun channel: unknown option '--bogus'" .. see },
      { { "channel", "ls", "--channel" }, "stratrun channel: option --channel needs a value" .. see },
      { { "channel", "get", "a", "--channel", "memory" }, "stratrun channel: --channel memory: a memory channel lives "
        .. "inside one process, where no other process can read it (allowed: local, local:DIR, redis://host:port)"
        .. see },
      { { "channel", "ls", "--channel", "carrier-pigeon" }, "stratrun channel: --channel: unknown channel backend "
        .. "'carrier-pigeon'" },
    }
    h.assert_usage_errors(dir, cases)
    -- A data dir with no channel folder: nothing to read, and nothing made
    r = h.run { dir = dir, "channel", "get", "a", "--data-dir", dir .. "/none" }
    assert.are.same({ 1, "", "stratrun channel get: no channel folder " .. dir .. "/none/channels: no bot has "
      .. "published there (is --data-dir the bots'?)\n" }, { r.code, r.out, r.err })
    r = h.run { dir = dir, "channel", "ls", "--data-dir", dir .. "/none" }
    assert.are.same({ 0, "" }, { r.code, r.out })
    h.assert_has(r.err, "stratrun channel ls: no channels in " .. dir .. "/none: no bot has run there")
    r = h.run { dir = dir, "channel", "watch", "a", "--channel", "local:" .. dir .. "/none" }
    assert.are.equal(1, r.code)
    assert.is_false(h.exists(dir .. "/none"), "the tool made the folder")
  end)
end)
