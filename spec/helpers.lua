-- helpers.lua: what the specs share: start real stratrun processes on scripts written to real temp files, and
-- read back what they printed, logged and stored.
--
-- The specs themselves run inside a stratrun process (ctest starts busted in the binary), with STRATRUN_BIN
-- naming the binary under test (by default the running one) and STRATRUN_TEST_TMP a scratch folder. tests/soak.lua
-- uses them too.
local M = {}

local function running_binary()
  local stat = io.open("/proc/self/stat")
  local pid = stat:read("l"):match("^(%d+)")
  stat:close()
  local f = io.popen("readlink /proc/" .. pid .. "/exe")
  local path = f:read("l")
  f:close()
  return path
end
M.bin = os.getenv("STRATRUN_BIN") or running_binary()
M.source = os.getenv("STRATRUN_SOURCE") or "."
-- How many times slower the processes under test run than a plain build (scripts/memcheck.sh sets
-- STRATRUN_TIME_SCALE for valgrind). The time limits below (run, wait, wait_for, eventually) stretch by it, and so
-- do the specs' own bounds that only a slower process would miss (the catalogue's "within 5 s").
M.time_scale = tonumber(os.getenv("STRATRUN_TIME_SCALE")) or 1
-- The processes under test run under valgrind (scripts/memcheck.sh): their /proc/PID/cmdline and environ are
-- valgrind's own, which the program cannot change.
M.valgrind = os.getenv("STRATRUN_VALGRIND") ~= nil
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

-- A generator of floats in [0, 1) from a seed, independent of math.random: a 64-bit LCG (Lua integers wrap), its
-- top 53 bits.
function M.lcg(seed)
  local x = seed
  return function()
    x = x * 6364136223846793005 + 1442695040888963407
    return (x >> 11) / 9007199254740992.0
  end
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
    q(opts.cwd or dir), env, math.ceil((opts.timeout or 20) * M.time_scale), q(M.bin), table.concat(args, " "),
    q(out), q(err),
    opts.stdin and q(M.write(dir .. "/.in", opts.stdin)) or "/dev/null")
  local code = M.sh(cmd)
  return { code = code, out = M.read(out) or "", err = M.read(err) or "" }
end

-- Runs text as one bot, strategy.lua in opts.dir (default a new folder) with its data dir d/: opts.mode "live"
-- (--id bot1, the default) or "replay" (on opts.market, default sim:seed=1,bars=50), opts.args before the script,
-- opts.env its environment.
-- Returns run's {code, out, err} and dir and bot (the bot's folder).
function M.run_bot(text, opts)
  opts = opts or {}
  local dir = opts.dir or M.tmpdir()
  M.script(dir, text)
  local argv = { dir = dir, timeout = opts.timeout, env = opts.env, "--data-dir", dir .. "/d" }
  if opts.mode == "replay" then
    table.insert(argv, 1, "replay")
    argv[#argv + 1] = "--market"
    argv[#argv + 1] = opts.market or "sim:seed=1,bars=50"
  else
    argv[#argv + 1] = "--id"
    argv[#argv + 1] = "bot1"
  end
  for _, a in ipairs(opts.args or {}) do argv[#argv + 1] = a end
  argv[#argv + 1] = "strategy.lua"
  local r = M.run(argv)
  r.dir = dir
  r.bot = dir .. "/d" .. (opts.mode == "replay" and "/replay/bots/strategy" or "/bots/bot1")
  return r
end

-- Asserts that run's result r exited 0, showing what it printed when it did not.
function M.assert_ok(r)
  assert(r.code == 0, "stratrun failed (" .. tostring(r.code) .. "):\n" .. r.out .. r.err)
end

-- Runs stratrun with each case {args, want} (plus the arguments in extra) in dir and asserts a usage error: exit 2,
-- nothing on stdout, and exactly one line on stderr, which starts with want (the shell tools' rule, docs/tools.md).
function M.assert_usage_errors(dir, cases, extra)
  local assert = require("luassert")     -- busted's, which a module does not see as a global
  for _, c in ipairs(cases) do
    local args = { dir = dir, table.unpack(c[1]) }
    for _, a in ipairs(extra or {}) do args[#args + 1] = a end
    local r = M.run(args)
    local what = table.concat(c[1], " ")
    assert.are.equal(2, r.code, what .. ": " .. r.err)
    assert.are.equal("", r.out, what)
    assert.are.equal(c[2], r.err:sub(1, #c[2]), what)
    assert.are.equal(1, select(2, r.err:gsub("\n", "")), r.err)
  end
end

-- Asserts that text holds plain (no pattern), showing the text when it does not.
function M.assert_has(text, plain)
  assert(text:find(plain, 1, true), "want «" .. plain .. "» in:\n" .. text)
end

-- Starts stratrun in the background: spawn{args..., dir=, env=, prefix=} -> proc with :pid(), :signal(sig),
-- :wait(), :output(). prefix: words run before the binary (e.g. {"ip", "netns", "exec", "ns1"}), which must exec it.
function M.spawn(opts)
  local dir = opts.dir or M.tmpdir()
  counter = counter + 1
  local tag = string.format("%s/.proc%d", dir, counter)
  local args = {}
  for i, a in ipairs(opts) do args[i] = q(a) end
  local env = ""
  for k, v in pairs(opts.env or {}) do env = env .. k .. "=" .. q(v) .. " " end
  for _, w in ipairs(opts.prefix or {}) do env = env .. q(w) .. " " end
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
    local deadline = Unix() + (timeout or 20) * M.time_scale
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
    local deadline = Unix() + (timeout or 10) * M.time_scale
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

-- Kills (SIGKILL, after SIGCONT for a stopped one) the processes in list that have not exited, and empties list:
-- the after_each of specs that spawn.
function M.kill_all(list)
  for _, proc in ipairs(list) do
    if not M.exists(proc.tag .. ".rc") then proc:signal("CONT"); proc:signal("KILL") end
  end
  for k in pairs(list) do list[k] = nil end
end

-- Starts tests/fake_binance.py (the live specs' fake venue) with these keys; it ends with the spec's process.
-- Returns {base, pid, admin(path, body) -> its decoded answer, state() -> its state}.
function M.fake_binance(key, secret)
  local dir = M.tmpdir()
  local self_pid = (M.read("/proc/self/stat") or ""):match("^(%d+)")
  assert(M.sh(string.format("/usr/bin/python3 %s/tests/fake_binance.py %s %s - %s > %s/port 2> %s/err & echo $! > %s/pid",
    q(M.source), key, secret, self_pid, q(dir), q(dir), q(dir))) == 0)
  local port = M.eventually(function() return (M.read(dir .. "/port") or ""):match("^(%d+)\n") end, 10)
  assert(port, M.read(dir .. "/err"))
  local v = { base = "http://127.0.0.1:" .. port, pid = M.read(dir .. "/pid"):match("%d+") }
  function v.admin(path, body)
    local r = assert(HttpQuery(v.base .. "/__admin/" .. path, body and { method = "POST", body = json.encode(body) } or nil))
    return json.decode(r)
  end
  function v.state() return v.admin("state") end
  return v
end

-- Polls fn() until it returns a truthy value, for at most timeout seconds; returns that value or nil.
function M.eventually(fn, timeout)
  local deadline = UnixNano() + (timeout or 10) * 1e9 * M.time_scale
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

-- The lines of text that hold "warning: " (or the plain text what), timestamps removed.
function M.warnings(text, what)
  local list = {}
  for _, line in ipairs(M.lines(text)) do
    if line:find(what or "warning: ", 1, true) then list[#list + 1] = line end
  end
  return list
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

-- ---- redis-server, for the specs of the redis channel backend (channel_spec.lua, channel_redis_spec.lua) ----
--
-- M.redis{conf = {...}, bind = "127.0.0.1", prefix = {...}, password = "..."} starts a redis-server of its own on a
-- free port, with its own folder and config (--port P --bind ... --save "" --appendonly no --daemonize no, plus the
-- lines of conf in a config file), in the background, and waits until it accepts connections. It returns a server:
--   server.port, server.host, server.dir, server.pid, server:log()
--   server:url{user=, pass=, db=, ttl=, host=}    "redis://[user[:pass]@]host:port[/db][?ttl=MS]"
--   server:cli(...)                              redis-cli as the admin (the default user) -> output, exit code
--   server:cli_as(user, pass, ...)                the same as another user
--   server:cli_file(path, ...)                    the same with the last argument read from a file (-x)
--   server:pipe(path)                             the commands in a file, one per line, as the admin
--   server:signal(sig)                            e.g. "STOP", "CONT"
--   server:stop()                                 SIGTERM (SIGKILL if it lingers); the data is not saved
--   server:start()                                again, on the same port (loading dump.rdb if a SAVE left one)
-- password sets the default user's password (requirepass), which server:cli then uses.
-- Every server is stopped by M.redis_stop_all() (call it in teardown or after_each), and, should the spec process
-- die first, by a watchdog started with it.

local self_pid = (M.read("/proc/self/stat") or ""):match("^(%d+)")
local redis_servers = {}

local Redis = {}
Redis.__index = Redis

function Redis:log()
  return M.read(self.dir .. "/redis.log") or ""
end

function Redis:url(o)
  o = o or {}
  local auth = ""
  if o.user or o.pass then auth = (o.user or "") .. (o.pass and ":" .. o.pass or "") .. "@" end
  return string.format("redis://%s%s:%d%s%s", auth, o.host or self.host, self.port, o.db and "/" .. o.db or "",
    o.ttl and "?ttl=" .. o.ttl or "")
end

local function words(list)
  local t = {}
  for i, w in ipairs(list or {}) do t[i] = q(w) end
  return table.concat(t, " ")
end

-- redis-cli with auth (options) and args; stdin: a file whose content is the last argument (-x).
local function cli_cmd(self, auth, args, stdin)
  return string.format("%s timeout -s KILL 20 redis-cli -h %s -p %d %s %s %s < %s 2>&1", words(self.prefix),
    q(self.host), self.port, auth, stdin and "-x" or "", words(args), stdin and q(stdin) or "/dev/null")
end

local function capture(cmd)
  local f = assert(io.popen(cmd))
  local out = f:read("a")
  local _, how, code = f:close()
  return out, how == "signal" and 128 + code or code
end

function Redis:cli(...)
  local auth = self.password and "--no-auth-warning -a " .. q(self.password) or ""
  return capture(cli_cmd(self, auth, {...}))
end

function Redis:cli_as(user, pass, ...)
  return capture(cli_cmd(self, "--no-auth-warning --user " .. q(user) .. " --pass " .. q(pass), {...}))
end

-- Runs the commands in file path, one per line, as the admin.
function Redis:pipe(path)
  local auth = self.password and "--no-auth-warning -a " .. q(self.password) or ""
  return capture(string.format("%s timeout -s KILL 20 redis-cli -h %s -p %d %s < %s 2>&1", words(self.prefix),
    q(self.host), self.port, auth, q(path)))
end

-- The last argument is the content of path, byte for byte (redis-cli -x).
function Redis:cli_file(path, ...)
  local auth = self.password and "--no-auth-warning -a " .. q(self.password) or ""
  return capture(cli_cmd(self, auth, {...}, path))
end

function Redis:alive()
  return not M.exists(self.dir .. "/redis.rc")
end

function Redis:signal(sig)
  return M.sh(string.format("kill -%s %d 2>/dev/null", sig, self.pid))
end

-- Starts the server on self.port. Returns true once it accepts connections, false when the port is taken.
function Redis:start()
  local rc, pidfile = self.dir .. "/redis.rc", self.dir .. "/redis.pid"
  os.remove(rc)
  os.remove(pidfile)
  os.remove(self.dir .. "/redis.log")
  local args = {"redis-server", self.dir .. "/redis.conf", "--port", tostring(self.port), "--save", "",
                "--appendonly", "no", "--daemonize", "no", "--dir", self.dir, "--logfile", self.dir .. "/redis.log",
                "--bind"}
  for a in self.bind:gmatch("%S+") do args[#args + 1] = a end
  if self.password then args[#args + 1] = "--requirepass"; args[#args + 1] = self.password end
  -- The shell waits for the server and records its exit; beside it a watchdog kills the server if the spec
  -- process is gone (a crash, a timeout), so no server outlives its spec.
  local cmd = string.format("(%s %s > %s 2>&1 & p=$!; echo $p > %s; "
    .. "(while kill -0 %s 2>/dev/null && kill -0 $p 2>/dev/null; do sleep 1; done; kill -9 $p 2>/dev/null) "
    .. "> /dev/null 2>&1 & w=$!; wait $p; echo $? > %s; kill $w 2>/dev/null) > /dev/null 2>&1 &",
    words(self.prefix), words(args), q(self.dir .. "/redis.out"), q(pidfile), self_pid, q(rc))
  assert(M.sh(cmd) == 0)
  local deadline = UnixNano() + 10e9
  repeat
    local pid = M.read(pidfile)
    if pid and pid:match("%d+") then self.pid = tonumber(pid:match("%d+")) end
    local log = self:log()
    if self.pid and log:find("Ready to accept connections", 1, true) then return true end
    if M.exists(rc) then
      if (log .. (M.read(self.dir .. "/redis.out") or "")):find("already in use", 1, true) then return false end
      error("redis-server did not start:\n" .. log .. (M.read(self.dir .. "/redis.out") or ""))
    end
    Sleep(10)
  until UnixNano() > deadline
  error("redis-server did not get ready within 10 s:\n" .. self:log())
end

-- Stops the server (even a frozen one) and waits until it has exited.
function Redis:stop()
  if not self.pid or not self:alive() then return end
  self:signal("CONT")
  self:signal("TERM")
  local deadline = UnixNano() + 5e9
  while self:alive() and UnixNano() < deadline do Sleep(10) end
  if self:alive() then
    self:signal("KILL")
    while self:alive() do Sleep(10) end
  end
end

-- A port nothing listens on now (the server can then be started on it later, with opts.start == false).
local function free_port()
  for _ = 1, 100 do
    local port = math.random(20000, 32000)     -- below the ephemeral range, where connections take ports
    local out = capture("ss -Htln 'sport = :" .. port .. "' 2>/dev/null")
    if out == "" then return port end
  end
  error("no free port found")
end

function M.redis(opts)
  opts = opts or {}
  local s = setmetatable({bind = opts.bind or "127.0.0.1", host = opts.host or (opts.bind or "127.0.0.1"):match("^%S+"),
                          prefix = opts.prefix, password = opts.password, dir = M.tmpdir()}, Redis)
  M.write(s.dir .. "/redis.conf", table.concat(opts.conf or {}, "\n") .. "\n")
  redis_servers[#redis_servers + 1] = s
  for _ = 1, 20 do
    s.port = opts.port or free_port()
    if opts.start == false or s:start() then return s end
    if opts.port then error("port " .. opts.port .. " is taken") end
  end
  error("could not start redis-server on a free port")
end

function M.redis_stop_all()
  for _, s in ipairs(redis_servers) do s:stop() end
  redis_servers = {}
end

-- CRC-32 (IEEE) and the frame a channel state travels in outside the process (runtime/core/chanframe.h), so a spec
-- can plant states in a backend the way a foreign writer could:
--   SRCH1 <seq> <published ms> <length of JSON> <crc32 of JSON, 8 hex digits>\n<JSON>
function M.crc32(s)
  local crc = 0xFFFFFFFF
  for i = 1, #s do
    crc = crc ~ s:byte(i)
    for _ = 1, 8 do crc = (crc >> 1) ~ (0xEDB88320 & -(crc & 1)) end
  end
  return crc ~ 0xFFFFFFFF
end

function M.chanframe(seq, published, json_text)
  return string.format("SRCH1 %d %d %d %08x\n%s", seq, published, #json_text, M.crc32(json_text), json_text)
end

-- Days since 1970-01-01 of a civil date (proleptic Gregorian), for reading log stamps as UTC.
-- The sanitizer the binary under test is built with: "tsan", "asan" or nil (ldd names its runtime library).
local sanitizer
function M.sanitizer()
  if sanitizer == nil then
    local f = io.popen("ldd " .. q(M.bin) .. " 2>/dev/null")
    local s = f:read("a")
    f:close()
    sanitizer = s:find("libtsan", 1, true) and "tsan" or s:find("libasan", 1, true) and "asan" or false
  end
  return sanitizer or nil
end

-- libfaketime's pthread_cond_timedwait calls the real one behind ThreadSanitizer's back, which then sees the
-- mutex the wait re-took as locked twice: specs that move a process's clock with faketime are pending under TSan.
M.FAKETIME_TSAN = "libfaketime under ThreadSanitizer: its pthread_cond_timedwait hides the mutex from TSan"

function M.days_from_civil(y, m, d)
  y = m <= 2 and y - 1 or y
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local doy = (153 * (m + (m > 2 and -3 or 9)) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

-- Asserts that docs/reliability.md shows the markdown table want (a list of lines) line for line; what names the
-- table in the failure, spec the file that prints it.
function M.assert_doc_table(want, what, spec)
  local doc = M.read(M.source .. "/docs/reliability.md") or ""
  local at = doc:find(want[1] .. "\n", 1, true)
  assert(at, "docs/reliability.md has no " .. what)
  local shown = {}
  for line in doc:sub(at):gmatch("[^\n]*") do
    if line:sub(1, 1) ~= "|" then break end
    shown[#shown + 1] = line
  end
  for i = 1, math.max(#want, #shown) do
    assert(want[i] == shown[i], "docs/reliability.md's table differs at line " .. i .. " (regenerate it; see the top "
      .. "of " .. spec .. "): want " .. tostring(want[i]) .. ", shown " .. tostring(shown[i]))
  end
end

-- A market with the interface of runtime/data/market.c's module (indices 1-based, candle k shown once it closed),
-- over candles {time, open, high, low, close, volume}. It counts candle() calls.
function M.fake_market(candles, period)
  local m = { candle_calls = 0 }
  function m.at(t)
    local lo, hi, found = 1, #candles, nil
    while lo <= hi do
      local mid = (lo + hi) // 2
      if candles[mid][1] + period <= t then found, lo = mid, mid + 1 else hi = mid - 1 end
    end
    return found
  end
  function m.candle(i)
    m.candle_calls = m.candle_calls + 1
    local c = candles[i]
    if c then return table.unpack(c, 1, 6) end
  end
  function m.info()
    return { url = "fake", count = #candles, period = period, first_close = candles[1][1] + period,
             last_close = candles[#candles][1] + period }
  end
  return m
end

-- The platform's EMA of xs (numbers) over n, written apart from stdlib/ta.lua: seeded with the mean of the first n,
-- then alpha = 2 / (n + 1); out[i] for i >= n, nil before (the warm-up).
function M.ema(xs, n)
  local out, prev = {}, nil
  for i = n, #xs do
    if prev == nil then
      prev = 0
      for k = 1, n do prev = prev + xs[k] end
      prev = prev / n
    else
      prev = xs[i] * 2 / (n + 1) + prev * (1 - 2 / (n + 1))
    end
    out[i] = prev
  end
  return out
end

-- The platform's cross count (_Cross, the trading template's Cross) of arrays a and b of length len: from the last
-- element back, how many a stays above b (+) or below (-); a tie or a warm-up (nil) ends it.
function M.cross_count(a, b, len)
  local n = 0
  for i = len, 1, -1 do
    if not a[i] or not b[i] or a[i] == b[i] then break end
    if a[i] < b[i] then
      if n > 0 then break end
      n = n - 1
    else
      if n < 0 then break end
      n = n + 1
    end
  end
  return n
end

-- Runs `stratrun replay` of strategies/ports/<script> as bot id on the candle file csv, with params {NAME = VALUE}
-- (given in sorted order) and opts.config (a config file's text), opts.timeout (s, default 60). Returns run's
-- {code, out, err} and bot (its folder), summary (its --json entry) and logtext (its log.txt).
function M.replay_port(script, id, csv, params, opts)
  opts = opts or {}
  local dir = M.tmpdir()
  local argv = { "replay", "--data-dir", dir .. "/data", "--json", dir .. "/summary.json", "--market", "csv:" .. csv,
    dir = dir, env = { TZ = "UTC" }, timeout = opts.timeout or 60 }
  if opts.config then
    argv[#argv + 1] = "--config"
    argv[#argv + 1] = M.write(dir .. "/stratrun.conf", opts.config)
  end
  local names = {}
  for k in pairs(params or {}) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do
    argv[#argv + 1] = "-p"
    argv[#argv + 1] = k .. "=" .. tostring(params[k])
  end
  table.insert(argv, 2, "--report")
  table.insert(argv, 3, dir .. "/report.html")
  argv[#argv + 1] = M.source .. "/strategies/ports/" .. script .. "@" .. id
  local r = M.run(argv)
  r.bot = dir .. "/data/replay/bots/" .. id
  local summary = json.decode(M.read(dir .. "/summary.json") or "null")
  r.summary = summary and summary.bots[1]
  r.logtext = M.read(r.bot .. "/log.txt") or ""
  r.report = M.read(dir .. "/report.html")
  if r.summary then M.check_report(r.report, r.summary, script:gsub("%.lua$", "") .. "-" .. id) end
  return r
end

-- Runs the shell command cmd in a real terminal: a detached tmux session of cols x rows. Returns a function that
-- reads what the terminal shows (capture-pane) and a function that ends the session (for finally).
function M.tmux(cmd, cols, rows)
  local session = "stratrun-spec-" .. tostring(UnixNano())
  assert(M.sh(string.format("tmux new-session -d -s %s -x %d -y %d %s", session, cols, rows, q(cmd))) == 0,
    "tmux could not start " .. cmd)
  local function capture(from)
    local f = io.popen("tmux capture-pane -p " .. from .. "-t " .. session)
    local text = f:read("a")
    f:close()
    return text
  end
  -- The third value: history() is the scrollback and the screen, resize(cols, rows) resizes the window.
  local more = {
    history = function() return capture("-S - ") end,
    resize = function(c, r)
      assert(M.sh(string.format("tmux resize-window -t %s -x %d -y %d", session, c, r)) == 0)
    end,
  }
  return function() return capture("") end, function() M.sh("tmux kill-session -t " .. session .. " 2>/dev/null") end,
    more
end

-- The replay's HTML report of a bot (docs/report.md) holds its market's chart with a triangle per fill (up to the
-- 2,000 drawn one by one); kept in $STRATRUN_ARTIFACTS, when set, as NAME.html.
function M.check_report(html, bot, name)
  assert(html, "no report written")
  assert(html:find('id="bot-' .. bot.id .. '-candles"', 1, true), "the report has no candles chart of " .. bot.id)
  local marks = 0
  for _ in html:gmatch('<path class="[bs][ue][yl]l?"') do marks = marks + 1 end
  local fills = #(bot.trades or {})
  if fills <= 2000 then
    assert(marks == fills, string.format("the report marks %d fills of %s, the --json has %d", marks, bot.id, fills))
  end
  local keep = os.getenv("STRATRUN_ARTIFACTS")
  if keep and keep ~= "" then
    M.sh("mkdir -p " .. q(keep))
    M.write(keep .. "/" .. name .. ".html", html)
  end
end

-- A log.txt line's time in ms since the epoch (UTC) and its message; nil for a line that is not one.
function M.log_line(line)
  local y, mo, d, hh, mi, ss, ms, msg = line:match("^(%d+)%-(%d+)%-(%d+) (%d+):(%d+):(%d+)%.(%d+) (.*)$")
  if not y then return nil end
  return ((M.days_from_civil(tonumber(y), tonumber(mo), tonumber(d)) * 86400 + tonumber(hh) * 3600
    + tonumber(mi) * 60 + tonumber(ss)) * 1000) + tonumber(ms), msg
end

-- Whether a log message (without its stamp) is one of the host's start and stop lines (docs/bots.md#the-log-file).
function M.host_line(msg)
  msg = msg:gsub("^%[[^%]]+%] ", "")
  return msg:match("^start: %S+ runs .- %(stratrun %S+, [^)]*%)$") ~= nil
    or msg:match("^stop: %S+ ran %d+ h %d+ min %d+ s; exit status %d+") ~= nil
end

-- A log file's text without the host's start and stop lines: what the strategy and the runtime logged.
function M.without_host_lines(text)
  local out = {}
  for line in text:gmatch("[^\n]*\n?") do
    if line ~= "" then
      local _, msg = M.log_line(line:gsub("\n$", ""))
      if not (msg and M.host_line(msg)) then out[#out + 1] = line end
    end
  end
  return table.concat(out)
end

-- The entries of a parsed log whose kind is kind, in order.
function M.of_kind(log, kind)
  local t = {}
  for _, e in ipairs(log) do
    if e.kind == kind then t[#t + 1] = e end
  end
  return t
end

-- The profits of a spot bot's round trips, by docs/report.md's definition: each sell against the coins bought
-- before it, first in first out (coins held at the start bought at first_price without a fee), (sell - buy) x amount
-- less the sell's fee and the bought coins' share of their buys' fees. fills: {side, price, amount, fee}, in order
-- (a replay's --json trades, or a log's fill lines). The specs of the results and the report recompute the win rate
-- and profit factor from them.
function M.spot_round_trips(fills, coins, first_price)
  local queue = {}
  if coins > 1e-12 then queue[1] = { price = first_price, left = coins, fee_per_coin = 0 } end
  local profits = {}
  for _, tr in ipairs(fills) do
    assert(tr.effect == nil, "a spot bot's fill")
    if tr.side == "buy" then
      queue[#queue + 1] = { price = tr.price, left = tr.amount, fee_per_coin = tr.fee / tr.amount }
    else
      local need, profit = tr.amount, -tr.fee
      while need > 1e-12 do
        local lot = assert(queue[1], "a sell of more coins than were held")
        local q = math.min(need, lot.left)
        profit = profit + q * (tr.price - lot.price - lot.fee_per_coin)
        lot.left, need = lot.left - q, need - q
        if lot.left <= 1e-12 then table.remove(queue, 1) end
      end
      profits[#profits + 1] = profit
    end
  end
  return profits
end

local PORT_T0 = 1704067200000        -- 2024-01-01T00:00:00Z

-- Candle files for the ports' specs (spec/ports_spec.lua, spec/futures_ports_spec.lua).
-- n candles of period ms from 2024-01-01 (PORT_T0), prices in integer cents: close_k = price * shape(k) * (1 +
-- noise * u), u uniform in [-1, 1); open is the previous close; high and low reach a further wick * price * u'
-- beyond open and close; volume is constant. Returns {t, o, h, l, c, v} candles (1-based) and writes them to path as CSV.
function M.candle_market(path, o)
  local rnd = M.lcg(o.seed or 1)
  local shape = o.shape or function() return 1 end
  local candles, lines = {}, { "time,open,high,low,close,volume" }
  local prev
  for k = 1, o.bars do
    local c = math.floor(o.price * shape(k) * (1 + o.noise * (2 * rnd() - 1)) * 100 + 0.5)
    local op = prev or c
    local hi = math.max(op, c) + math.floor(o.wick * o.price * rnd() * 100)
    local lo = math.min(op, c) - math.floor(o.wick * o.price * rnd() * 100)
    local cd = { t = PORT_T0 + (k - 1) * o.period, o = op, h = hi, l = lo, c = c, v = o.volume or 10 }
    candles[k] = cd
    lines[#lines + 1] = string.format("%d,%d.%02d,%d.%02d,%d.%02d,%d.%02d,%s", cd.t, op // 100, op % 100,
      hi // 100, hi % 100, lo // 100, lo % 100, c // 100, c % 100, tostring(cd.v))
    prev = c
  end
  M.write(path, table.concat(lines, "\n") .. "\n")
  candles.period = o.period
  return candles
end

-- The number of candles closed at time t (ms): the exchange shows candles[closed(...)] (docs/exchange.md).
function M.closed_at(candles, t)
  return math.min((t - PORT_T0) // candles.period, #candles)
end

-- What the exchange shows at t, in cents: Last, Sell, Buy, and depth level k (1-based) of each side.
function M.quotes_at(candles, t)
  local c = candles[M.closed_at(candles, t)].c
  local q = { last = c, candle = candles[M.closed_at(candles, t)] }
  q.sell = math.max((c * 10001 + 9999) // 10000, c + 1)
  q.buy = math.min((c * 9999) // 10000, c - 1)
  function q.ask(k) return (c * (10000 + k) + 9999) // 10000 end
  function q.bid(k) return (c * (10000 - k)) // 10000 end
  return q
end

-- The lines of a bot's log.txt as {ms, msg}, the exchange's lines among them parsed (docs/exchange.md,
-- docs/futures.md):
--   kind "order": side ("buy"/"sell"), price (nil for market), amount, id, rest (the extra arguments as Log wrote
--     them); a futures order also offset ("open long", "close short", ...) and symbol (BTC_USDT.swap)
--   kind "fill": side, amount, price, fee, id, and profit for a futures close;  kind "cancel": id, rest
--   kind "profit": value (LogProfit)
-- With several exchanges an order line starts with its exchange's label, "[OKCoin_EN] Buy ...": that is ex.
function M.parse_order_log(text)
  local t = {}
  for line in text:gmatch("[^\n]+") do
    local at, msg = M.log_line(line)
    if at and not M.host_line(msg) then
      local e = { ms = at, msg = msg }
      local tag, untagged = msg:match("^%[([^%]]+)%] (.*)$")
      if tag then e.ex, msg = tag, untagged end
      local side, price, amount, oc, ls, sym, id, rest =
        msg:match("^(%a+) (%S+) (%S+) (%a+) (%a+) (%S+) %(order (%d+)%) ?(.*)$")
      if oc == "open" or oc == "close" then
        e.offset, e.symbol = oc .. " " .. ls, sym
      else
        side, price, amount, id, rest = msg:match("^(%a+) (%S+) (%S+) %(order (%d+)%) ?(.*)$")
      end
      local fside, famount, fprice, fee, more, fid =
        msg:match("^Filled (%a+) (%S+) at (%S+), fee (%S+) %u+(.-) %(order (%d+)%)$")
      local cid, crest = msg:match("^Cancel (%d+) ?(.*)$")
      local profit = msg:match("^Profit: (%S+)")
      if (side == "Buy" or side == "Sell") and id then
        e.kind, e.side, e.id, e.rest, e.amount = "order", side:lower(), tonumber(id), rest, tonumber(amount)
        if price ~= "market" then e.price = tonumber(price) end
      elseif fside then
        e.kind, e.side, e.amount, e.price, e.fee, e.id = "fill", fside, tonumber(famount), tonumber(fprice),
          tonumber(fee), tonumber(fid)
        e.profit = tonumber(more:match("^, profit (%S+) %u+$"))
      elseif cid then
        e.kind, e.id, e.rest = "cancel", tonumber(cid), crest
      elseif profit then
        e.kind, e.value = "profit", tonumber(profit)
      end
      t[#t + 1] = e
    end
  end
  return t
end

return M
