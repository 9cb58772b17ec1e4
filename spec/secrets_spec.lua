-- secrets_spec.lua: the Redis password never reaches anything a strategy or another user can read through
-- stratrun: error lines, logs, status, arg[], stratrun.config, the process's own command line (/proc/PID/cmdline,
-- what ps shows) and environment (/proc/PID/environ, os.getenv, children). Real processes, a real redis-server
-- that requires the password (docs/redis.md, "Secrets").
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local h = require("helpers")

local PASS = "s3cret-Pw-4711"

-- Every file under dir, concatenated (logs, status, store, channel files).
local function all_files(dir)
  local f = io.popen("find " .. h.quote(dir) .. " -type f -exec cat {} + 2>/dev/null")
  local text = f:read("a")
  f:close()
  return text
end

describe("a channel URL that stratrun refuses", function()
  -- Malformed URLs are exactly the ones error messages quote; each is named, its password as ***.
  for _, url in ipairs({
    "redis:/:" .. PASS .. "@127.0.0.1:6379",        -- one slash
    "rediss://:" .. PASS .. "@127.0.0.1:6379",      -- an unknown scheme
    "redis://:" .. PASS .. "@127.0.0.1:99999",      -- a port out of range
    "redis://bob:" .. PASS .. "@127.0.0.1:6379/x",  -- a db that is not a number
    "redis://:" .. PASS .. "@[::1:6379",            -- an unclosed bracket
  }) do
    it("is named without its password: " .. url:gsub(PASS, "PASS"), function()
      local dir = h.tmpdir()
      h.script(dir, "function main() end\n", "s.lua")
      local r = h.run{"--data-dir", dir .. "/d", "--id", "sec1", "--channel", url, "s.lua", dir = dir}
      assert.are.equal(2, r.code, r.err)
      assert.is_nil(r.err:find(PASS, 1, true), r.err)
      assert.is_nil(r.out:find(PASS, 1, true), r.out)
      assert.matches(":***@", r.err, 1, true)
      assert.is_nil(all_files(dir .. "/d"):find(PASS, 1, true))
    end)
  end
end)

describe("a bot on a Redis server that requires a password", function()
  local server
  before_each(function() server = h.redis{password = PASS} end)
  after_each(function() h.redis_stop_all() end)

  -- The strategy looks everywhere it could find the password and logs what it found; it also publishes, so the
  -- test knows the password did reach Redis.
  local SPY = [[
local function has(s) return s and s:find(PASS, 1, true) ~= nil end
local function read(path) local f = io.open(path, "rb") if not f then return "" end local t = f:read("a") f:close() return t end
function main()
  SetChannelData({up = true})
  local found = {}
  if has(read("/proc/self/cmdline")) then found[#found + 1] = "cmdline" end
  if has(read("/proc/self/environ")) then found[#found + 1] = "environ" end
  if has(os.getenv("STRATRUN_REDIS_PASSWORD")) or os.getenv("STRATRUN_REDIS_PASSWORD") then found[#found + 1] = "getenv" end
  local p = io.popen("env; cat /proc/$PPID/cmdline | tr '\\0' ' '")
  if has(p:read("a")) then found[#found + 1] = "child" end
  p:close()
  for k, v in pairs(arg) do if has(tostring(v)) then found[#found + 1] = "arg" .. k end end
  if has(json.encode(package.loaded["stratrun.config"] or {})) then found[#found + 1] = "config" end
  Log("found: [" .. table.concat(found, ",") .. "]")
  LogStatus("status " .. json.encode(arg))
  Sleep(200)
end
]]

  local function run_spy(url, env)
    local dir = h.tmpdir()
    h.script(dir, "local PASS = " .. string.format("%q", PASS) .. "\n" .. SPY, "spy.lua")
    local r = h.run{"--data-dir", dir .. "/d", "--id", "spy1", "--channel", url, "spy.lua", dir = dir, env = env}
    return r, dir
  end

  it("with the password in the URL on the command line: found nowhere, and the bot did publish", function()
    local r, dir = run_spy(string.format("redis://:%s@127.0.0.1:%d", PASS, server.port))
    assert.are.equal(0, r.code, r.err)
    assert.matches("found: []", r.out, 1, true)
    assert.is_nil((r.out .. r.err):find(PASS, 1, true))
    assert.is_nil(all_files(dir .. "/d"):find(PASS, 1, true))
    assert.matches('"up":true', server:cli("GET", "stratrun:ch:spy1"), 1, true)
  end)

  it("with the password in STRATRUN_REDIS_PASSWORD: found nowhere, and the bot did publish", function()
    local r, dir = run_spy(string.format("redis://127.0.0.1:%d", server.port), {STRATRUN_REDIS_PASSWORD = PASS})
    assert.are.equal(0, r.code, r.err)
    assert.matches("found: []", r.out, 1, true)
    assert.is_nil((r.out .. r.err):find(PASS, 1, true))
    assert.is_nil(all_files(dir .. "/d"):find(PASS, 1, true))
    assert.matches('"up":true', server:cli("GET", "stratrun:ch:spy1"), 1, true)
  end)

  it("with --channel=URL as one word: found nowhere", function()
    local dir = h.tmpdir()
    h.script(dir, "local PASS = " .. string.format("%q", PASS) .. "\n" .. SPY, "spy.lua")
    local r = h.run{"--data-dir", dir .. "/d", "--id", "spy1",
                    string.format("--channel=redis://:%s@127.0.0.1:%d", PASS, server.port), "spy.lua", dir = dir}
    assert.are.equal(0, r.code, r.err)
    assert.matches("found: []", r.out, 1, true)
  end)

  it("whose server goes away: the reconnect warnings name the server, not the password", function()
    local dir = h.tmpdir()
    h.script(dir, "function main() for i = 1, 30 do SetChannelData(i) Sleep(50) end end\n", "s.lua")
    local port = server.port
    server:stop()
    local r = h.run{"--data-dir", dir .. "/d", "--id", "sec2", "--channel",
                    string.format("redis://:%s@127.0.0.1:%d", PASS, port), "s.lua", dir = dir}
    assert.matches("127.0.0.1:" .. port, r.out .. r.err, 1, true)
    assert.is_nil((r.out .. r.err):find(PASS, 1, true))
    assert.is_nil(all_files(dir .. "/d"):find(PASS, 1, true))
  end)
end)
