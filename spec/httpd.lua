-- httpd.lua: the local HTTP server of the http and market_rest specs (tests/httpd.c, built beside stratrun and
-- named by STRATRUN_HTTPD). Each server listens on a loopback port the kernel picks and serves a folder of its own,
-- which the spec fills; no spec reaches outside the machine.
--
--   local srv = httpd.start()
--   srv:put("/api/v3/depth", body, {"delay 2000", "status 503"})   -- a file, and how it is served (tests/httpd.c)
--   srv:url("/api/v3/depth")   srv.base   srv.refused (a port nothing listens on)
--   httpd.venue()              a server with Binance's ticker, depth and klines of spec/fixtures/binance in place
--   srv:requests()             every request so far, raw, oldest first
--   srv:stop()
--
-- A server stops by itself when the spec process is gone, or after 10 minutes.
local h = require("helpers")

local M = {}
M.bin = assert(os.getenv("STRATRUN_HTTPD"), "STRATRUN_HTTPD is not set: run the specs through ctest")

local self_pid = (h.read("/proc/self/stat") or ""):match("^(%d+)")

local Server = {}
Server.__index = Server

-- Writes text to path atomically, so the server (or a poller reading through it) never sees half a file.
local function put_file(path, text)
  h.write(path .. ".tmp", text)
  assert(os.rename(path .. ".tmp", path))
end

function Server:url(path)
  return self.base .. path
end

-- Serves body at path; how: a list of directives (tests/httpd.c), or nil for a plain 200.
function Server:put(path, body, how)
  local file = self.root .. path
  assert(h.sh("mkdir -p " .. h.quote(file:match("^(.*)/"))) == 0)
  if how then put_file(file .. ".how", table.concat(how, "\n") .. "\n") else os.remove(file .. ".how") end
  if body then put_file(file, body) else os.remove(file) end
end

-- Copies a file of spec/fixtures to path on the server.
function Server:fixture(name, path)
  local text = assert(h.read(h.source .. "/spec/fixtures/" .. name), "no fixture " .. name)
  self:put(path, text)
  return text
end

function Server:requests()
  local log, out, pos = h.read(self.root .. "/.requests") or "", {}, 1
  while true do
    local s, e, n = log:find("^REQUEST (%d+)\n", pos)
    if not s then break end
    out[#out + 1] = log:sub(e + 1, e + tonumber(n))
    pos = e + tonumber(n) + 2
  end
  return out
end

function Server:stop()
  h.write(self.root .. "/.stop", "")
end

function M.start()
  local dir = h.tmpdir()
  local root = dir .. "/www"
  assert(h.sh("mkdir -p " .. h.quote(root)) == 0)
  assert(h.sh(string.format("%s %s --watch %s --lifetime 600 > %s 2>&1 &", h.quote(M.bin), h.quote(root), self_pid,
    h.quote(dir .. "/httpd.log"))) == 0)
  local port = h.eventually(function()
    local p = h.read(root .. "/.port")
    return p and tonumber(p:match("%d+"))
  end, 10)
  assert(port, "the test HTTP server did not start: " .. (h.read(dir .. "/httpd.log") or ""))
  return setmetatable({ root = root, dir = dir, port = port, base = "http://127.0.0.1:" .. port,
                        refused = tonumber(h.read(root .. "/.refused"):match("%d+")) }, Server)
end

function M.venue()
  local srv = M.start()
  for _, path in ipairs { "ticker/24hr", "depth", "klines" } do
    srv:fixture("binance/api/v3/" .. path, "/api/v3/" .. path)
  end
  return srv
end

return M
