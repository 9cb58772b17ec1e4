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
