-- fake_venue.lua: the live specs' fake Binance (tests/fake_binance.py, spot and USDⓈ-M futures on one server), started
-- per case on 127.0.0.1, and the config of a live exchange on it (spec/live_spec.lua, spec/live_futures_spec.lua).
local h = require("helpers")

local M = {}
M.KEY, M.SECRET = "vmKEY7b1f0c2e9d", "vmSECRET4a8e6d0c31f"
M.TIMEOUT = math.floor(1000 * h.time_scale)     -- the venue's request timeout, ms (slower under valgrind)
local self_pid = (h.read("/proc/self/stat") or ""):match("^(%d+)")
local venues = {}

-- A fake venue of its own: {base, admin(path, body) -> decoded answer, state() -> its state}.
function M.start(key, secret)
  local dir = h.tmpdir()
  assert(h.sh(string.format("/usr/bin/python3 %s/tests/fake_binance.py %s %s - %s > %s/port 2> %s/err & echo $! > %s/pid",
    h.quote(h.source), key or M.KEY, secret or M.SECRET, self_pid, h.quote(dir), h.quote(dir), h.quote(dir))) == 0)
  local port = h.eventually(function() return (h.read(dir .. "/port") or ""):match("^(%d+)\n") end, 10)
  assert(port, h.read(dir .. "/err"))
  local v = { base = "http://127.0.0.1:" .. port, pid = h.read(dir .. "/pid"):match("%d+") }
  function v.admin(path, body)
    local r = assert(HttpQuery(v.base .. "/__admin/" .. path, body and { method = "POST", body = json.encode(body) } or nil))
    return json.decode(r)
  end
  function v.state() return v.admin("state") end
  venues[#venues + 1] = v
  return v
end

-- Every venue started: for the spec's teardown.
function M.stop_all()
  for _, v in ipairs(venues) do h.sh("kill " .. v.pid) end
end

-- A config for venue v (extra: more settings of the exchange table, as Lua text; keys false: none; name: the venue,
-- "binance" unless given), mode 0600.
function M.config(dir, v, extra, keys, name)
  local text = string.format('exchange = { venue = "%s", base_url = "%s", timeout = %d%s%s }\n', name or "binance",
    v.base, M.TIMEOUT, keys == false and "" or string.format(', api_key = "%s", secret_key = "%s"', M.KEY, M.SECRET),
    extra or "")
  h.write(dir .. "/stratrun.conf", text)
  assert(h.sh("chmod 600 " .. h.quote(dir .. "/stratrun.conf")) == 0)
end

return M
