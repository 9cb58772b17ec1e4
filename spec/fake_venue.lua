-- fake_venue.lua: starts tests/fake_binance.py, the fake Binance spot venue of the live specs (live_spec,
-- live_guards_spec), and talks to its admin endpoints.
local h = require("helpers")

local M = {}
local self_pid = (h.read("/proc/self/stat") or ""):match("^(%d+)")

-- A fake venue of its own with these keys, added to list (whose pids the spec kills at its teardown):
-- {base, pid, admin(path, body) -> decoded answer, state() -> its state}. It exits with the spec's process too.
function M.start(key, secret, list)
  local dir = h.tmpdir()
  assert(h.sh(string.format("/usr/bin/python3 %s/tests/fake_binance.py %s %s - %s > %s/port 2> %s/err & echo $! > %s/pid",
    h.quote(h.source), key, secret, self_pid, h.quote(dir), h.quote(dir), h.quote(dir))) == 0)
  local port = h.eventually(function() return (h.read(dir .. "/port") or ""):match("^(%d+)\n") end, 10)
  assert(port, h.read(dir .. "/err"))
  local v = { base = "http://127.0.0.1:" .. port, pid = h.read(dir .. "/pid"):match("%d+") }
  function v.admin(path, body)
    local r = assert(HttpQuery(v.base .. "/__admin/" .. path, body and { method = "POST", body = json.encode(body) } or nil))
    return json.decode(r)
  end
  function v.state() return v.admin("state") end
  list[#list + 1] = v
  return v
end

return M
