-- helpers.lua: what the specs share: start real stratrun processes on scripts written to real temp files, and
-- read back what they printed, logged and stored.
--
-- The specs themselves run inside a stratrun process (ctest starts busted in the binary), with STRATRUN_BIN
-- naming the binary under test and STRATRUN_TEST_TMP a scratch folder.
local M = {}

M.bin = assert(os.getenv("STRATRUN_BIN"), "STRATRUN_BIN is not set: run the specs through ctest")
M.source = os.getenv("STRATRUN_SOURCE") or "."
local tmp_root = os.getenv("STRATRUN_TEST_TMP") or "/tmp/stratrun-spec"

local function q(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
M.quote = q

function M.sh(cmd)
  local ok, how, code = os.execute(cmd)
  if how == "signal" then return 128 + code end
  return code
end

function M.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

function M.write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  return path
end

function M.exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

local counter = 0
-- A new empty folder for one test.
function M.tmpdir()
  counter = counter + 1
  local dir = string.format("%s/%d-%d-%d", tmp_root, UnixNano() % 1000000007, counter, math.random(1, 1e9))
  assert(M.sh("rm -rf " .. q(dir) .. " && mkdir -p " .. q(dir)) == 0)
  return dir
end

-- Writes a strategy script into dir and returns its path.
function M.script(dir, text, name)
  return M.write(dir .. "/" .. (name or "strategy.lua"), text)
end

-- Runs stratrun to completion: run{args..., dir=, stdin=, env=, timeout=} -> {code, out, err}.
-- args are passed as separate arguments (quoted); the run has a timeout (default 20 s) so a hang fails the test.
function M.run(opts)
  local dir = opts.dir or M.tmpdir()
  local args = {}
  for i, a in ipairs(opts) do args[i] = q(a) end
  local env = ""
  for k, v in pairs(opts.env or {}) do env = env .. k .. "=" .. q(v) .. " " end
  local out, err = dir .. "/.out", dir .. "/.err"
  local cmd = string.format("cd %s && %s timeout -s KILL %d %s %s > %s 2> %s < %s",
    q(opts.cwd or dir), env, opts.timeout or 20, q(M.bin), table.concat(args, " "), q(out), q(err),
    opts.stdin and q(M.write(dir .. "/.in", opts.stdin)) or "/dev/null")
  local code = M.sh(cmd)
  return { code = code, out = M.read(out) or "", err = M.read(err) or "" }
end

-- Starts stratrun in the background: spawn{args..., dir=} -> proc with :pid(), :signal(sig), :wait(), :output().
function M.spawn(opts)
  local dir = opts.dir or M.tmpdir()
  counter = counter + 1
  local tag = string.format("%s/.proc%d", dir, counter)
  local args = {}
  for i, a in ipairs(opts) do args[i] = q(a) end
  local env = ""
  for k, v in pairs(opts.env or {}) do env = env .. k .. "=" .. q(v) .. " " end
  -- The shell records the exit status of the child when it ends, so wait() works after the fact.
  local cmd = string.format("cd %s && (%s %s %s > %s.out 2> %s.err < /dev/null & echo $! > %s.pid; wait $!; echo $? > %s.rc) "
    .. "> /dev/null 2>&1 &", q(opts.cwd or dir), env, q(M.bin), table.concat(args, " "), tag, tag, tag, tag)
  assert(M.sh(cmd) == 0)
  local proc = { tag = tag }
  function proc:pid()
    for _ = 1, 500 do
      local p = M.read(tag .. ".pid")
      if p and p:match("%d+") then return tonumber(p:match("%d+")) end
      Sleep(10)
    end
    error("process did not start")
  end
  function proc:signal(sig)
    return M.sh(string.format("kill -%s %d 2>/dev/null", sig, self:pid()))
  end
  -- Waits for the exit (at most timeout s, default 20) and returns its exit code, or nil on timeout.
  function proc:wait(timeout)
    local deadline = Unix() + (timeout or 20)
    repeat
      local rc = M.read(tag .. ".rc")
      if rc and rc:match("%d+") then return tonumber(rc:match("%d+")) end
      Sleep(20)
    until Unix() > deadline
    return nil
  end
  function proc:output()
    return M.read(tag .. ".out") or "", M.read(tag .. ".err") or ""
  end
  -- Polls the process's stdout until it contains pattern (plain text), for at most timeout s.
  function proc:wait_for(text, timeout)
    local deadline = Unix() + (timeout or 10)
    repeat
      local out = M.read(tag .. ".out") or ""
      if out:find(text, 1, true) then return true end
      Sleep(20)
    until Unix() > deadline
    return false
  end
  proc:pid()
  return proc
end

-- Polls fn() until it returns a truthy value, for at most timeout seconds; returns that value or nil.
function M.eventually(fn, timeout)
  local deadline = UnixNano() + (timeout or 10) * 1e9
  repeat
    local v = fn()
    if v then return v end
    Sleep(10)
  until UnixNano() > deadline
  return nil
end

-- Log lines without their "YYYY-MM-DD HH:MM:SS.mmm " prefix.
function M.lines(text)
  local t = {}
  for line in text:gmatch("[^\n]+") do
    t[#t + 1] = line:gsub("^%d%d%d%d%-%d%d%-%d%d %d%d:%d%d:%d%d%.%d%d%d ", "")
  end
  return t
end

-- Lua source to put before a strategy that reports to a spec (the channel specs use it):
--   out(...)             one line of tab-separated fields on stdout, flushed at once (a spec may be polling it)
--   enc(v)               v as JSON, or "nil"
--   await(id, pred, n)   polls GetChannelData(id) with Sleep(1) until pred(v, meta) (default: v ~= nil), at most n
--                        times (default 5000); returns v, meta or raises, so a lost state fails rather than hangs
M.report_prelude = [[
local function out(...)
  local t = table.pack(...)
  for i = 1, t.n do t[i] = tostring(t[i]) end
  io.write(table.concat(t, "\t"), "\n")
  io.stdout:flush()
end
local function enc(v)
  if v == nil then return "nil" end
  return json.encode(v)
end
local function await(id, pred, n)
  pred = pred or function(v) return v ~= nil end
  for _ = 1, n or 5000 do
    local v, meta = GetChannelData(id)
    if pred(v, meta) then return v, meta end
    Sleep(1)
  end
  error("no matching state on channel " .. tostring(id))
end
]]

-- The lines printed by out(), each as a list of its fields.
function M.fields(text)
  local rows = {}
  for line in text:gmatch("[^\n]+") do
    local f = {}
    for field in (line .. "\t"):gmatch("(.-)\t") do f[#f + 1] = field end
    rows[#rows + 1] = f
  end
  return rows
end

-- enc() undone: "nil" is nil, anything else JSON.
function M.dec(s)
  if s == nil or s == "nil" then return nil end
  return json.decode(s)
end

return M
