-- Spec for the _G store's bound and for full disks (issue 12): _G refuses a write past its limit and the store it
-- keeps loads again; _G, LogStatus and log.txt on a real full tmpfs say each condition once and never leave a torn
-- line; --record writes whole rows, trims a torn last row and resumes when space returns.
local h = require("helpers")

local STAMP = "^%d%d%d%d%-%d%d%-%d%d %d%d:%d%d:%d%d%.%d%d%d "

local function count(text, plain)
  local n, at = 0, 1
  while true do
    local i, j = text:find(plain, at, true)
    if not i then return n end
    n, at = n + 1, j + 1
  end
end

-- Every line of text is a whole log line: stamped, and the text ends with a newline.
local function assert_whole_lines(text)
  assert.are.equal("\n", text:sub(-1), "the file ends inside a line")
  for line in text:gmatch("([^\n]*)\n") do
    assert.truthy(line:match(STAMP), "torn or foreign line in log.txt: " .. line)
  end
end

-- A real tmpfs of size bytes, or nil when mount is refused (not root, no CAP_SYS_ADMIN in this container).
local mounts = {}
local function tmpfs(size)
  local dir = h.tmpdir() .. "/mnt"
  assert(h.sh("mkdir -p " .. h.quote(dir)) == 0)
  if h.sh("mount -t tmpfs -o size=" .. size .. " tmpfs " .. h.quote(dir) .. " 2>/dev/null") ~= 0 then return nil end
  mounts[#mounts + 1] = dir
  return dir
end
local NO_MOUNT = "mount -t tmpfs is refused here (needs root with CAP_SYS_ADMIN): a full disk cannot be made"

after_each(function()
  for i = #mounts, 1, -1 do
    h.sh("umount -l " .. h.quote(mounts[i]) .. " 2>/dev/null")
    mounts[i] = nil
  end
end)

-- Lua for a strategy: fill(dir) fills the file system of dir to the last byte (dir/fill), free(dir) removes it.
local FILL = [[
local function fill(dir)
  local f = assert(io.open(dir .. "/fill", "wb"))
  f:setvbuf("no")
  local chunk = string.rep("x", 4096)
  while f:write(chunk) do end
  while f:write("x") do end
  f:close()
end
local function free(dir) assert(os.remove(dir .. "/fill")) end
]]

describe("a bot folder that refuses writes", function()
  local procs = {}
  after_each(function() h.kill_all(procs) end)

  it("_G and LogStatus say it once (Permission denied), and once that it works again", function()
    if h.sh("command -v setpriv >/dev/null") ~= 0 then return pending("setpriv is missing: cannot run as nobody") end
    local dir = h.tmpdir()
    local data = dir .. "/data"
    assert(h.sh("mkdir -p " .. h.quote(data) .. " && chown -R nobody " .. h.quote(dir)) == 0)
    h.script(dir, string.format("local bot = %q\n", data .. "/bots/ro") .. [[
      assert(_G("a", 1) == true)
      LogStatus("before")
      local function sh(cmd)                             -- os.execute, or an error that says how it ended
        local ok, how, code = os.execute(cmd)
        if not ok then error(cmd .. ": " .. tostring(how) .. " " .. tostring(code), 2) end
      end
      sh("chmod 500 '" .. bot .. "'")                    -- the folder: no new files, so no temp files
      for i = 1, 3 do print("G", _G("k", i)) end
      for i = 1, 3 do LogStatus("refused " .. i) end
      sh("chmod 700 '" .. bot .. "'")
      print("G", _G("k", 4))
      LogStatus("after")
    ]])
    assert(h.sh("chown -R nobody " .. h.quote(dir)) == 0)
    local p = h.spawn { dir = dir, prefix = { "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups" },
                        "--data-dir", data, "--id", "ro", "strategy.lua" }
    procs[#procs + 1] = p
    local code = p:wait()
    local out, err = p:output()
    assert.are.equal(0, code, err)
    assert.are.equal(3, select(2, out:gsub("G\tnil\t_G: not stored: [^\n]*Permission denied\n", "")), out)
    assert.truthy(out:find("G\ttrue\n", 1, true), out)
    assert.are.equal(1, count(err, "_G: not stored"), err)
    assert.are.equal(1, count(out, "_G: the store is written again"), out)
    assert.are.equal(1, count(err, "status.txt"), err)
    assert.are.equal(1, count(out, "status.txt is written again"), out)
    assert.are.equal(4, json.decode(h.read(data .. "/bots/ro/store.json")).k)
  end)
end)

describe("the _G store's limit", function()
  it("refuses a write past 32 MiB with nil, message, keeps the store, and the store loads again", function()
    local dir = h.tmpdir()
    local function run(text)
      h.script(dir, text)
      return h.run { dir = dir, "--data-dir", dir .. "/data", "--id", "big", "strategy.lua", timeout = 60 }
    end
    local r = run([[
      local half = 16 * 1024 * 1024
      print("a", _G("a", string.rep("x", half)))
      print("b", _G("b", string.rep("y", half - 100)))   -- the store is now 81 bytes under 32 MiB
      print("c", _G("c", 1))
      print("d", _G("d", string.rep("z", 100)))
      print("d2", _G("d", string.rep("z", 200)))
      print("dv", _G("d"))
    ]])
    assert.are.equal(0, r.code, r.err)
    local out = r.out
    assert.truthy(out:find("a\ttrue\nb\ttrue\nc\ttrue\n", 1, true), out)
    local msg = out:match("\nd\tnil\t([^\n]*)\n")
    assert.truthy(msg, out)
    assert.truthy(msg:match("^_G: not stored: the store would be 335544%d%d bytes, over its limit of 33554432 bytes "
      .. "%(32 MiB%); the previous store is kept$"), msg)
    assert.truthy(out:find("\nd2\tnil\t_G: not stored: the store would be", 1, true), out)
    assert.truthy(out:find("\ndv\tnil\n", 1, true), out)
    assert.are.equal(1, count(r.err, "_G: not stored"), r.err)    -- said once, returned each time
    local size = #h.read(dir .. "/data/bots/big/store.json")
    assert.truthy(size <= 32 * 1024 * 1024 and size > 32 * 1024 * 1024 - 100, tostring(size))

    r = run('print(#_G("a"), #_G("b"), _G("c"), _G("d"))')
    assert.are.equal(0, r.code, r.err)
    assert.are.equal(string.format("%d\t%d\t1\tnil\n", 16 * 1024 * 1024, 16 * 1024 * 1024 - 100), r.out)
  end)
end)

describe("a full disk", function()
  it("_G, LogStatus and log.txt say it once, then once that it recovered; log.txt holds no torn line", function()
    local mnt = tmpfs("256k")
    if not mnt then return pending(NO_MOUNT) end
    local dir = h.tmpdir()
    h.script(dir, FILL .. string.format("local T = %q\n", mnt) .. [[
      assert(_G("a", 1) == true)
      LogStatus("before")
      Log("before")   -- log.txt's last page is part full: a line that crosses into the next one is a short write
      fill(T)
      for i = 1, 3 do print("G", _G("k", string.rep("v", 10000))) end
      for i = 1, 3 do LogStatus("full " .. i) end
      for i = 1, 200 do Log("line " .. i .. " " .. string.rep("y", 80)) end
      free(T)
      print("G", _G("k", "after"))
      LogStatus("after")
      Log("after the disk was freed")
    ]])
    local r = h.run { dir = dir, "--data-dir", mnt .. "/data", "--id", "full", "strategy.lua" }
    assert.are.equal(0, r.code, r.err)
    local bot = mnt .. "/data/bots/full"

    -- _G: nil, message on each refused call; logged once, and once more when it works again.
    local refused = select(2, r.out:gsub("G\tnil\t_G: not stored: [^\n]*No space left on device\n", ""))
    assert.are.equal(3, refused, r.out)
    assert.truthy(r.out:find("G\ttrue\n", 1, true), r.out)
    assert.are.equal(1, count(r.err, "_G: not stored"), r.err)
    assert.are.equal(1, count(r.out, "_G: the store is written again"), r.out)
    assert.are.equal("after", json.decode(h.read(bot .. "/store.json")).k)

    -- LogStatus: the same.
    assert.are.equal(1, count(r.err, "status.txt"), r.err)
    assert.are.equal(1, count(r.out, "LogStatus: " .. bot .. "/status.txt is written again"), r.out)
    assert.are.equal("after\n", h.read(bot .. "/status.txt"))

    -- log.txt: whole lines only; the lost ones counted and said once, when it takes lines again.
    assert.are.equal(1, count(r.err, "cannot write log.txt: No space left on device"), r.err)
    local said = r.err:match("warning: (%d+) log lines were not written to log.txt: No space left on device\n")
    assert.truthy(said, r.err)
    assert.are.equal(1, count(r.err, "log lines were not written to log.txt"), r.err)
    local log = h.read(bot .. "/log.txt")
    assert_whole_lines(log)
    assert.truthy(log:find("warning: " .. said .. " log lines were not written to log.txt", 1, true), log)
    assert.truthy(log:find("after the disk was freed\n", 1, true), log)
    local kept = select(2, log:gsub("line %d+ y+\n", ""))
    -- Each Log line is kept or counted (the lines about _G and the status may have been lost too).
    assert.truthy(kept < 200 and kept + tonumber(said) >= 200 and kept + tonumber(said) <= 202, log)
  end)

end)

-- The rows of a record file after its header, checked whole: {time, ...} in order.
local function record_rows(text)
  assert.are.equal("time,open,high,low,close,volume\n", text:sub(1, 32))
  assert.are.equal("\n", text:sub(-1), "the record file ends inside a row")
  local times = {}
  for line in text:sub(33):gmatch("([^\n]*)\n") do
    local t = line:match("^(%d+),[%d.e+-]+,[%d.e+-]+,[%d.e+-]+,[%d.e+-]+,[%d.e+-]+$")
    assert.truthy(t, "torn row in the record file: " .. line)
    times[#times + 1] = tonumber(t)
  end
  return times
end

-- Asserts times[from..] go up by period, with no gap and no row twice.
local function assert_contiguous(times, from, period)
  for i = from + 1, #times do
    assert.are.equal(period, times[i] - times[i - 1], "rows " .. (i - 1) .. " and " .. i)
  end
end

describe("--record on a full disk", function()
  local procs = {}
  after_each(function() h.kill_all(procs) end)

  it("writes whole rows, says each failure once, and resumes when space returns", function()
    local mnt = tmpfs("256k")
    if not mnt then return pending(NO_MOUNT) end
    -- A record file of exactly one page (header, old rows): the disk is full for its next row.
    local csv, rows = mnt .. "/rec.csv", { "time,open,high,low,close,volume\n" }
    local len, t = #rows[1], 0
    while len < 4096 - 40 do
      t = t + 1000
      rows[#rows + 1] = string.format("%d,1,1,1,1,1\n", t)
      len = len + #rows[#rows]
    end
    local last = string.format("%d,1,1,1,1,1.", t + 1000)
    rows[#rows + 1] = last .. string.rep("0", 4096 - len - #last - 1) .. "\n"
    h.write(csv, table.concat(rows))
    local before = #rows - 1
    assert.are.equal(4096, #h.read(csv))
    h.write(mnt .. "/fill1", string.rep("x", 32 * 1024))
    local f = assert(io.open(mnt .. "/fill2", "wb"))
    f:setvbuf("no")
    while f:write(string.rep("x", 4096)) do end
    while f:write("x") do end
    f:close()

    local dir = h.tmpdir()
    local stop = dir .. "/stop"
    h.script(dir, string.format("local stop = %q\n", stop) .. [[
      while not io.open(stop) do exchange.GetRecords() Sleep(50) end
    ]])
    local p = h.spawn { dir = dir, "--data-dir", dir .. "/data", "--id", "rec", "--market", "sim:seed=7,period=1000",
                        "--record", csv, "strategy.lua" }
    procs[#procs + 1] = p
    local function err_count(text)
      return count(select(2, p:output()), text)
    end
    local FAIL, AGAIN = "--record " .. csv .. ": cannot write: No space left on device", "--record " .. csv .. ": writing again"
    assert.truthy(h.eventually(function() return err_count(FAIL) == 1 end), (select(2, p:output())))
    -- 32 KiB of room: the rows held in memory fill it, the last one is cut short and taken back; said once more.
    assert(os.remove(mnt .. "/fill1"))
    assert.truthy(h.eventually(function() return err_count(FAIL) == 2 end), (select(2, p:output())))
    assert.are.equal(1, err_count(AGAIN))
    record_rows(h.read(csv))
    -- All the room: every row is written, in order.
    assert(os.remove(mnt .. "/fill2"))
    assert.truthy(h.eventually(function() return err_count(AGAIN) == 2 end), (select(2, p:output())))
    h.write(stop, "")
    assert.are.equal(0, p:wait(), (select(2, p:output())))
    local _, err = p:output()
    assert.are.equal(2, count(err, FAIL), err)
    local times = record_rows(h.read(csv))
    assert.truthy(#times > before + 1000, tostring(#times))
    assert_contiguous(times, before + 1, 1000)
  end)

  it("trims a torn last row at the next start with one warning, and goes on recording", function()
    local dir = h.tmpdir()
    local csv = dir .. "/rec.csv"
    h.write(csv, "time,open,high,low,close,volume\n1000,1,1,1,1,1\n2000,1,1,1,1,1\n3000,1.5,1")
    local r = h.run { dir = dir, "--data-dir", dir .. "/data", "--id", "rec", "--market", "sim:seed=7,period=1000",
                      "--record", csv, h.script(dir, "Sleep(10)") }
    assert.are.equal(0, r.code, r.err)
    assert.are.equal(1, count(r.err, "warning: --record " .. csv .. ": its last line was incomplete (a write was cut "
      .. "off): 10 bytes removed"), r.err)
    local times = record_rows(h.read(csv))
    assert.are.same({ 1000, 2000 }, { times[1], times[2] })
    assert.truthy(#times >= 1002, tostring(#times))
    assert_contiguous(times, 3, 1000)
  end)
end)

describe("a store over 1 MiB", function()
  local procs = {}
  after_each(function() h.kill_all(procs) end)

  it("is written by the bot's writer thread: a failure is returned by the next call, the last store by the end",
    function()
    local mnt = tmpfs("8m")
    if not mnt then return pending(NO_MOUNT) end
    local dir = h.tmpdir()
    h.script(dir, FILL .. string.format("local T = %q\n", mnt) .. [[
      local store = T .. "/data/bots/bigw/store.json"
      local function size()
        local f = io.open(store, "rb")
        if not f then return 0 end
        local n = f:seek("end")
        f:close()
        return n
      end
      assert(_G("big", string.rep("b", 1536 * 1024)) == true)
      while size() < 1536 * 1024 do Sleep(10) end   -- written by the writer
      fill(T)
      print("r1", _G("k", 1))   -- handed to the writer, which fails
      local n, ok, msg = 1, true, nil
      repeat                    -- the next write says so, once the writer has failed, and fails itself
        Sleep(20)
        n = n + 1
        ok, msg = _G("k", n)
      until not ok or n == 1000
      print("r2", ok, msg)
      print("r3", _G("k", n + 1))   -- written before it returns while writes fail
      free(T)
      print("r4", _G("k", n + 2))   -- the same: works
      print("r5", _G("k", 5))       -- handed to the writer again; the end of the bot writes it
    ]])
    local r = h.run { dir = dir, "--data-dir", mnt .. "/data", "--id", "bigw", "strategy.lua" }
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.out:find("r1\ttrue\n", 1, true), r.out)
    assert.truthy(r.out:match("r2\tnil\t_G: not stored: [^\n]*No space left on device\n"), r.out)
    assert.truthy(r.out:match("r3\tnil\t_G: not stored: [^\n]*No space left on device\n"), r.out)
    assert.truthy(r.out:find("r4\ttrue\nr5\ttrue\n", 1, true), r.out)
    assert.are.equal(1, count(r.err, "_G: not stored"), r.err)
    assert.are.equal(1, count(r.out, "_G: the store is written again"), r.out)
    local store = json.decode(h.read(mnt .. "/data/bots/bigw/store.json"))
    assert.are.equal(5, store.k)
    assert.are.equal(1536 * 1024, #store.big)
  end)

  it("is in store.json within a second of _G returning: a kill -9 then keeps it", function()
    local dir = h.tmpdir()
    h.script(dir, [[
      _G("big", string.rep("b", 4 * 1024 * 1024))
      for i = 1, 50 do _G("n", i) end
      print("done") io.stdout:flush()
      while true do Sleep(1000) end
    ]])
    local p = h.spawn { dir = dir, "--data-dir", dir .. "/data", "--id", "killed", "strategy.lua" }
    procs[#procs + 1] = p
    assert.truthy(p:wait_for("done"))
    Sleep(1000 * h.time_scale)
    p:signal("KILL")
    p:wait()
    local store = json.decode(h.read(dir .. "/data/bots/killed/store.json"))
    assert.are.equal(50, store.n)
  end)
end)
