-- soak.lua: twenty bots in five processes publish and follow each other for a bounded time while publishers are
-- killed (kill -9 or SIGTERM) and restarted at random; then every claim of issue 7's soak is checked. Run by the
-- stratrun binary itself, as a strategy (Sleep, json, UnixNano are its globals):
--
--   build/stratrun --data-dir D tests/soak.lua [SECONDS] [--redis-seconds N] [--no-redis] [--pause MS] [--no-rss]
--
-- SECONDS (default 60) is how long the bots publish; give 600 or 3600 for a longer soak. The work folder is
-- D/soak (emptied first). When redis-server is on PATH a second, shorter soak (default SECONDS / 3, at least 40 s)
-- runs the same bots on the redis backend against a redis-server of its own on a free loopback port. --no-rss
-- skips the memory check, for a binary built with a sanitizer (TSan's shadow memory grows by design).
--
-- Layout: processes p1 and p2 (bots s01-s08) live from start to end: their memory and file descriptors are
-- measured. p3-p5 (s09-s20) are the churn: one of them is stopped every 1-3 s, by kill -9 or SIGTERM at random,
-- and started again. Every bot publishes {id, n, check, pad} every PAUSE ms (n persists in its _G store, so it
-- grows across restarts; check and pad are functions of n, so a torn or mixed state shows) and follows five
-- others (mostly in other processes), logging "VIOLATION ..." when a state is torn, its seq goes back, or a newer
-- seq carries an older n.
-- At the end time the bots stop publishing and keep following; each writes {n, done, holds} as its status panel.
--
-- Checks, each a line "ok ..." or "FAIL ...": every bot holds each followed bot's final n; no VIOLATION in any
-- log; no process exited other than by the driver's signals; resident memory of p1 and p2 flat after warm-up;
-- their fd counts equal at warm-up and at the end; no temp file left in the channel folder or a bot folder; all
-- processes stop with 143 on SIGTERM. The figures are printed at the end. Exit status 0 when every check passed, else 1.

local SECONDS, REDIS_SECONDS, PAUSE, USE_REDIS, CHECK_RSS = 60, nil, 40, true, true
do
  local i = 1
  while arg[i] do
    local a = arg[i]
    if a == "--no-redis" then USE_REDIS = false
    elseif a == "--no-rss" then CHECK_RSS = false
    elseif a == "--redis-seconds" then i = i + 1; REDIS_SECONDS = assert(tonumber(arg[i]), "--redis-seconds N")
    elseif a == "--pause" then i = i + 1; PAUSE = assert(tonumber(arg[i]), "--pause MS")
    elseif tonumber(a) then SECONDS = tonumber(a)
    else
      error("usage: stratrun --data-dir D tests/soak.lua [SECONDS] [--redis-seconds N] [--no-redis] [--pause MS] "
        .. "[--no-rss]", 0)
    end
    i = i + 1
  end
  assert(SECONDS >= 20, "a soak needs at least 20 seconds")
  REDIS_SECONDS = REDIS_SECONDS or math.max(40, SECONDS // 3)
end

-- ---- helpers: spec/helpers.lua's, and a few of its own ----

package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "../spec/?.lua;" .. package.path
local h = require("helpers")
local q, sh, read, write = h.quote, h.sh, h.read, h.write

local function capture(cmd)
  local f = assert(io.popen(cmd))
  local s = f:read("a")
  f:close()
  return s
end

local function now_ms()
  return UnixNano() // 1000000
end

local function say(fmt, ...)
  io.write(string.format(fmt, ...), "\n")
  io.stdout:flush()
end

-- The binary under test is this process's own (or $STRATRUN_BIN); the data dir is the one it was given.
local BIN = h.bin
local DATA_DIR
do
  local argv = {}
  for a in (read("/proc/self/cmdline") or ""):gmatch("([^%z]*)%z") do argv[#argv + 1] = a end
  for k, a in ipairs(argv) do
    if a == "--data-dir" then DATA_DIR = argv[k + 1] end
    DATA_DIR = a:match("^%-%-data%-dir=(.*)") or DATA_DIR
  end
  DATA_DIR = DATA_DIR or os.getenv("STRATRUN_HOME")
  assert(DATA_DIR, "give --data-dir D: the soak works in D/soak")
  if DATA_DIR:sub(1, 1) ~= "/" then DATA_DIR = capture("pwd"):gsub("%s+$", "") .. "/" .. DATA_DIR end
end
local ROOT = DATA_DIR .. "/soak"

local function rss_kb(pid)
  local s = read("/proc/" .. pid .. "/status")
  return s and tonumber(s:match("VmRSS:%s*(%d+)"))
end

-- The descriptors of process pid: how many, less its doorbells (the FIFOs `.bell.*` of the local backend's slot
-- table: its own, and one for each live process following a channel it publishes, which come and go with the churn
-- processes), and how many doorbells.
local function fd_count(pid)
  local out = capture("ls -l /proc/" .. pid .. "/fd 2>/dev/null")
  local n, bells = 0, 0
  for line in out:gmatch("[^\n]+") do
    if line:find(" -> ", 1, true) then
      -- a doorbell whose follower's exit removed it reads "/DIR/.bell.TOKEN (deleted)"
      if line:find("/%.bell%.%x+") then bells = bells + 1 else n = n + 1 end
    end
  end
  if out == "" then return nil end
  return n, bells
end

local function median(list)
  local t = {table.unpack(list)}
  table.sort(t)
  return t[(#t + 1) // 2]
end

-- ---- the bot every process runs (four per process, `stratrun run`) ----

local BOT = [[
-- one soak bot (written by tests/soak.lua): publishes {id, n, check, pad} every `pause` ms until `stop_at`
-- (ms since the epoch), follows the bots in `follow`, and logs VIOLATION lines for what must never happen.
local follows = {}
for id in tostring(follow):gmatch("[^,]+") do follows[#follows + 1] = id end
local function check(n) return n * 7 % 1000003 end
local function pad(n) return string.rep(string.char(97 + n % 26), n % 64) end

function main()
  local me = _G()
  local n = _G("n") or 0
  local held = {}
  for _, id in ipairs(follows) do GetChannelData(id) end
  local next_status = 0
  while true do
    local now = UnixNano() // 1000000
    local publishing = now < stop_at
    if publishing then
      n = n + 1
      _G("n", n)            -- stored before it is published: a restart continues above any n a reader saw
      local ok, msg = SetChannelData({id = me, n = n, check = check(n), pad = pad(n)})
      if not ok then Log("VIOLATION publish refused:", msg) end
    end
    for _, id in ipairs(follows) do
      local v, m = GetChannelData(id)
      if v ~= nil then
        local h = held[id]
        if type(v) ~= "table" or v.id ~= id or math.type(v.n) ~= "integer" or v.check ~= check(v.n)
            or v.pad ~= pad(v.n) then
          Log("VIOLATION torn state from", id, json.encode(v))
        elseif h and m.seq < h.seq then
          Log("VIOLATION seq went back on", id, h.seq, m.seq)
        elseif h and m.seq > h.seq and v.n <= h.n then
          Log("VIOLATION newer seq with older n on", id, h.n, v.n)
        else
          held[id] = {seq = m.seq, n = v.n}
        end
      end
    end
    if now >= next_status then
      local holds = {}
      for id, h in pairs(held) do holds[id] = h.n end
      LogStatus(json.encode({n = n, done = not publishing, holds = holds}))
      next_status = now + 200
    end
    Sleep(pause)
  end
end
]]

-- ---- one soak ----

local PROCS = {     -- {name, first bot, last bot, stable}
  {"p1", 1, 4, true}, {"p2", 5, 8, true}, {"p3", 9, 12}, {"p4", 13, 16}, {"p5", 17, 20},
}
local NBOTS = 20
local LIVE = {}     -- every process started, for onexit

local function bot_id(i)
  return string.format("s%02d", (i - 1) % NBOTS + 1)
end

-- Bot i follows the bots 1, 4, 7, 10 and 13 places after it: mostly in other processes, sometimes its own.
local function follows(i)
  local list = {}
  for _, step in ipairs({1, 4, 7, 10, 13}) do list[#list + 1] = bot_id(i + step) end
  return list
end

-- Runs one soak on channel URL for `seconds`; returns the list of failures and the figures.
local function soak(label, channel, seconds)
  local dir = ROOT .. "/" .. label
  local data = dir .. "/data"
  assert(sh("mkdir -p " .. q(dir .. "/proc")) == 0)
  write(dir .. "/bot.lua", BOT)
  local failures, figures = {}, {label = label, seconds = seconds, bots = NBOTS, processes = #PROCS}
  local function fail(fmt, ...)
    local msg = string.format(fmt, ...)
    failures[#failures + 1] = msg
    say("FAIL [%s] %s", label, msg)
  end
  local function ok(fmt, ...)
    say("ok   [%s] " .. fmt, label, ...)
  end

  local t0 = now_ms()
  local stop_at = t0 + seconds * 1000
  local warmup_at = t0 + math.min(15000, seconds * 500)       -- half the run, at most 15 s
  local kills_end = stop_at - 4000

  local procs = {}
  for k, p in ipairs(PROCS) do
    procs[k] = {name = p[1], first = p[2], last = p[3], stable = p[4] or false, runs = 0, rss = {}, peak = 0}
  end

  local function start(p)
    p.runs = p.runs + 1
    p.tag = string.format("%s/proc/%s.%d", dir, p.name, p.runs)
    local args = {q(BIN), "run", "--data-dir", q(data), "--channel", q(channel), "-p", "stop_at=" .. stop_at,
                  "-p", "pause=" .. PAUSE}
    for i = p.first, p.last do
      args[#args + 1] = "-p"
      args[#args + 1] = q(bot_id(i) .. ".follow=" .. table.concat(follows(i), ","))
    end
    for i = p.first, p.last do args[#args + 1] = q(dir .. "/bot.lua@" .. bot_id(i)) end
    local t = p.tag
    LIVE[#LIVE + 1] = t
    assert(sh(string.format("(%s > %s.out 2> %s.err < /dev/null & echo $! > %s.pid; wait $!; echo $? > %s.rc) "
      .. "> /dev/null 2>&1 &", table.concat(args, " "), q(t), q(t), q(t), q(t))) == 0)
    p.pid = nil
    for _ = 1, 500 do
      local s = read(t .. ".pid")
      p.pid = s and tonumber(s:match("%d+"))
      if p.pid then break end
      Sleep(10)
    end
    assert(p.pid, "process " .. p.name .. " did not start")
    p.signalled = nil
  end

  local function exit_code(p)
    local s = read(p.tag .. ".rc")
    return s and tonumber(s:match("%d+"))
  end

  local function stop(p, sig, want)
    p.signalled = sig
    sh(string.format("kill -%s %d 2>/dev/null", sig, p.pid))
    local code
    for _ = 1, 1000 do
      code = exit_code(p)
      if code then break end
      Sleep(10)
    end
    if code ~= want then
      fail("%s (run %d) stopped by SIG%s exited %s, not %d: %s", p.name, p.runs, sig, tostring(code), want,
        (read(p.tag .. ".err") or ""):sub(-400))
    end
    return code
  end

  for _, p in ipairs(procs) do start(p) end
  say("[%s] %d bots in %d processes on %s for %d s (pid %s ...)", label, NBOTS, #procs, channel, seconds,
    procs[1].pid)

  local kills, terms = 0, 0
  local next_kill = t0 + 2000
  local next_sample = t0
  local fd_warm = {}
  -- The smallest of ten counts 20 ms apart: a file being written (a temp file, the folder opened for its fsync:
  -- the engine thread of a process publishing for four bots is writing most of the time, slower under TSan) is
  -- not a leak.
  local bells_end = {}
  local function fds_now(p)
    local best
    for _ = 1, 10 do
      local n, bells = fd_count(p.pid)
      if n and (not best or n < best) then best = n end
      bells_end[p.name] = bells or bells_end[p.name]
      Sleep(20)
    end
    return best
  end

  while now_ms() < stop_at do
    local now = now_ms()
    for _, p in ipairs(procs) do
      local code = exit_code(p)
      if code and not p.signalled then
        fail("%s (run %d) exited %d on its own: %s", p.name, p.runs, code, (read(p.tag .. ".err") or ""):sub(-400))
        start(p)
      end
    end
    if now >= next_sample then
      for _, p in ipairs(procs) do
        local kb = rss_kb(p.pid)
        if kb then
          p.peak = math.max(p.peak, kb)
          if p.stable then p.rss[#p.rss + 1] = {t = now, kb = kb} end
        end
      end
      next_sample = now + 2000
    end
    if not fd_warm.done and now >= warmup_at then
      for _, p in ipairs(procs) do
        if p.stable then fd_warm[p.name] = fds_now(p) end
      end
      fd_warm.done = true
    end
    if now >= next_kill and now < kills_end then
      local churn = {}
      for _, p in ipairs(procs) do
        if not p.stable then churn[#churn + 1] = p end
      end
      local p = churn[math.random(#churn)]
      if math.random(2) == 1 then
        stop(p, "KILL", 137)
        kills = kills + 1
      else
        stop(p, "TERM", 143)
        terms = terms + 1
      end
      Sleep(math.random(0, 300))
      start(p)
      next_kill = now_ms() + math.random(1000, 3000)
    end
    Sleep(100)
  end
  figures.kills, figures.terms = kills, terms
  figures.restarts = kills + terms

  -- Every bot now stops publishing. Each must come to hold the final n of every bot it follows.
  local function statuses()
    local st = {}
    for i = 1, NBOTS do
      local text = read(data .. "/bots/" .. bot_id(i) .. "/status.txt")
      local okd, v = pcall(json.decode, text or "")
      st[bot_id(i)] = okd and type(v) == "table" and v or nil
    end
    return st
  end
  local function mismatches(st)
    local list = {}
    for i = 1, NBOTS do
      local me = bot_id(i)
      if not (st[me] and st[me].done) then
        list[#list + 1] = me .. " has not reported its final state"
      else
        for _, f in ipairs(follows(i)) do
          local want = st[f] and st[f].done and st[f].n
          local got = st[me].holds[f]
          if want == nil or got ~= want then
            list[#list + 1] = string.format("%s holds n=%s of %s, whose final n is %s", me, tostring(got), f,
              tostring(want))
          end
        end
      end
    end
    return list
  end
  local settle_deadline = now_ms() + 15000
  local wrong
  repeat
    Sleep(200)
    wrong = mismatches(statuses())
  until #wrong == 0 or now_ms() > settle_deadline
  figures.settle_ms = now_ms() - stop_at
  if #wrong == 0 then
    local total = 0
    for _, s in pairs(statuses()) do total = total + s.n end
    figures.published = total
    ok("every bot holds the final state of each of the %d bots it follows (%d states published in all, "
      .. "settled %.1f s after the end)", #follows(1), total, figures.settle_ms / 1000)
  else
    fail("%d followed states are not the publisher's final one after 15 s, e.g. %s", #wrong,
      table.concat(wrong, "; ", 1, math.min(5, #wrong)))
  end

  -- Memory and descriptors of the long-lived processes.
  local fd_end = {}
  for _, p in ipairs(procs) do
    if p.stable then fd_end[p.name] = fds_now(p) end
  end
  for _, p in ipairs(procs) do
    local kb = rss_kb(p.pid)
    if kb then p.peak = math.max(p.peak, kb) end
  end
  figures.rss, figures.fds = {}, {}
  for _, p in ipairs(procs) do
    if p.stable then
      local after = {}
      for _, s in ipairs(p.rss) do
        if s.t >= warmup_at then after[#after + 1] = s.kb end
      end
      local third = math.max(1, #after // 3)
      local early = median({table.unpack(after, 1, third)})
      local late = median({table.unpack(after, #after - third + 1, #after)})
      local allowed = 256 + early // 100       -- 256 KB + 1 %: in steady state RSS moves by tens of KB
      figures.rss[p.name] = {early = early, late = late, peak = p.peak, samples = #after}
      if not CHECK_RSS then
        say("note [%s] %s: resident memory %d KB -> %d KB after warm-up (not checked: --no-rss)", label, p.name,
          early or 0, late or 0)
      elseif not early or not late then
        fail("%s: too few memory samples after warm-up", p.name)
      elseif late - early > allowed then
        fail("%s: resident memory grew from %d KB to %d KB after warm-up (allowed %d KB)", p.name, early, late,
          allowed)
      else
        ok("%s: resident memory flat after warm-up: %d KB -> %d KB (peak %d KB, %d samples)", p.name, early, late,
          p.peak, #after)
      end
      figures.fds[p.name] = {fd_warm[p.name], fd_end[p.name]}
      -- A leak only grows: fewer at the end means a write was in flight at warm-up.
      if fd_warm[p.name] == nil or fd_end[p.name] == nil or fd_end[p.name] > fd_warm[p.name] then
        fail("%s: %s file descriptors at warm-up, %s at the end", p.name, tostring(fd_warm[p.name]),
          tostring(fd_end[p.name]))
      else
        ok("%s: %d file descriptors at warm-up, %d at the end (no more)", p.name, fd_warm[p.name], fd_end[p.name])
      end
      -- doorbells: its own and at most one per other process; a publisher keeping those of exited followers
      -- (ringing no one) would hold more
      local bells = bells_end[p.name] or 0
      if bells > #procs + 1 then
        fail("%s: %d doorbell descriptors at the end, for %d processes", p.name, bells, #procs)
      else
        ok("%s: %d doorbell descriptors at the end, for %d processes", p.name, bells, #procs)
      end
    end
  end
  local churn_peak = 0
  for _, p in ipairs(procs) do
    if not p.stable then churn_peak = math.max(churn_peak, p.peak) end
  end
  figures.churn_peak = churn_peak

  -- Stop everything: SIGTERM, 143 from each.
  for _, p in ipairs(procs) do stop(p, "TERM", 143) end

  -- What the bots logged.
  local violations = capture("cat " .. q(data) .. "/bots/*/log.txt 2>/dev/null | grep -c VIOLATION")
  violations = tonumber(violations) or 0
  if violations > 0 then
    fail("%d VIOLATION lines in the bots' logs, e.g.:\n%s", violations,
      capture("grep -h VIOLATION " .. q(data) .. "/bots/*/log.txt | head -5"))
  else
    ok("no torn state, no seq going back, no older n after a newer one in any bot's log")
  end
  local errors = tonumber(capture("cat " .. q(data) .. "/bots/*/log.txt 2>/dev/null | grep -c ' error: '")) or 0
  figures.error_lines = errors
  if errors > 0 then
    fail("%d error lines in the bots' logs, e.g.:\n%s", errors,
      capture("grep -h ' error: ' " .. q(data) .. "/bots/*/log.txt | head -5"))
  end

  -- Temp files: none may be left, in the channel folder or in a bot folder (.store.json.PID.tmp,
  -- .status.txt.PID.tmp): every process killed mid-write was started again, and a start sweeps dead writers' ones.
  local stray = capture("find " .. q(data) .. " -name '.*.tmp' | head -5")
  figures.temps = tonumber(capture("find " .. q(data) .. " -name '.*.tmp' | wc -l")) or 0
  if stray ~= "" then
    fail("%d temp files left behind, e.g.:\n%s", figures.temps, stray)
  else
    ok("no temp file left in the channel folder or a bot folder")
  end
  return failures, figures
end

-- ---- main ----

function main()
  math.randomseed(UnixNano())
  assert(sh("rm -rf " .. q(ROOT) .. " && mkdir -p " .. q(ROOT)) == 0)
  say("soak: %s, work folder %s", BIN, ROOT)
  local all_failures, all_figures = {}, {}
  local failures, figures = soak("local", "local", SECONDS)
  for _, f in ipairs(failures) do all_failures[#all_failures + 1] = "local: " .. f end
  all_figures[#all_figures + 1] = figures

  local has_redis = USE_REDIS and sh("command -v redis-server > /dev/null 2>&1") == 0
  if has_redis then
    -- a server of its own on a free loopback port, killed by a watchdog should this process die first
    local server = h.redis()
    failures, figures = soak("redis", server:url(), REDIS_SECONDS)
    h.redis_stop_all()
    for _, f in ipairs(failures) do all_failures[#all_failures + 1] = "redis: " .. f end
    all_figures[#all_figures + 1] = figures
  else
    say("soak: no redis soak (%s)", USE_REDIS and "redis-server is not on PATH" or "--no-redis")
  end

  say("\nfigures:")
  for _, f in ipairs(all_figures) do
    say("  %s: %d s, %d bots in %d processes, %d restarts (%d kill -9, %d SIGTERM), %s states published, "
      .. "final states settled in %.1f s", f.label, f.seconds, f.bots, f.processes, f.restarts, f.kills, f.terms,
      tostring(f.published or "?"), (f.settle_ms or 0) / 1000)
    for _, name in ipairs({"p1", "p2"}) do
      local r, d = f.rss[name] or {}, f.fds[name] or {}
      say("  %s: %s RSS after warm-up %s KB -> %s KB, peak %s KB; fds %s -> %s", f.label, name, tostring(r.early),
        tostring(r.late), tostring(r.peak), tostring(d[1]), tostring(d[2]))
    end
    say("  %s: churn processes' peak RSS %d KB; temp files left: %d", f.label, f.churn_peak, f.temps)
  end
  if #all_failures > 0 then
    say("\nsoak FAILED (%d):", #all_failures)
    for _, f in ipairs(all_failures) do say("  %s", f) end
    io.stdout:flush()
    os.exit(1)
  end
  say("\nsoak passed")
end

-- Interrupted (SIGINT, SIGTERM): no process and no server outlives the driver. A process whose .rc exists has
-- exited (its pid may belong to another process by now) and is left alone.
function onexit()
  for _, tag in ipairs(LIVE) do
    local pid = (read(tag .. ".pid") or ""):match("%d+")
    if pid and not read(tag .. ".rc") then sh("kill -9 " .. pid .. " 2>/dev/null") end
  end
  h.redis_stop_all()
end
