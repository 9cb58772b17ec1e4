-- bench_ta.lua: TA.MA(r, 20), TA.EMA(r, 20), TA.RSI(r, 14) and TA.MACD(r) on 100 records, per call (median and
-- p99 of batches of 100 calls), with the C kernels (runtime/lua/ta.c) and with the pure-Lua path of the same
-- stdlib/ta.lua (what every call ran before the kernels, and what plain lua5.4 still runs), in the same run; also
-- checks that both give the same values to the bit. Prints figures, asserts nothing about time (bench/README.md).
--   build/stratrun bench/bench_ta.lua [BARS]       (default 100)
local BARS = tonumber(arg and arg[1]) or 100

-- The same stdlib/ta.lua twice: once with "stratrun.ta" (the C kernels), once without it (the Lua path).
local function load_ta(with_c)
  local saved = package.loaded["stratrun.ta"]
  if not with_c then package.loaded["stratrun.ta"] = nil end
  package.loaded.ta = nil
  local ok, ta = pcall(require, "ta")
  package.loaded["stratrun.ta"] = saved
  package.loaded.ta = nil
  assert(ok, ta)
  return ta
end

local TA_C, TA_LUA = load_ta(true), load_ta(false)
if not package.loaded["stratrun.ta"] then
  print("note: no stratrun.ta module here (plain lua5.4?): both columns run the Lua path")
end

-- A 64-bit LCG (integers wrap), its top 53 bits: the same records on every machine.
local x = 42
local function rnd()
  x = x * 6364136223846793005 + 1442695040888963407
  return (x >> 11) / 9007199254740992.0
end
local r, p = {}, 43000
for i = 1, BARS do
  local o = p
  p = p * (1 + (rnd() - 0.5) * 0.004)
  r[i] = {Time = 1704067200000 + i * 60000, Open = o, High = math.max(o, p) + rnd() * 5,
    Low = math.min(o, p) - rnd() * 5, Close = p, Volume = rnd() * 10}
end

local now = os.clock
local ok_unix, unix_nano = pcall(function() return UnixNano end)
if ok_unix and type(unix_nano) == "function" then
  now = function() return unix_nano() / 1e9 end
end

local BATCH, SAMPLES = 100, 300

-- Median and p99 in microseconds per call.
local function measure(f)
  for _ = 1, 2000 do f(r) end  -- warm up (and let the collector reach its pace)
  local t = {}
  for k = 1, SAMPLES do
    local c = now()
    for _ = 1, BATCH do f(r) end
    t[k] = (now() - c) / BATCH * 1e6
  end
  table.sort(t)
  return t[(SAMPLES + 1) // 2], t[math.ceil(SAMPLES * 0.99)]
end

local function bits(v)
  return string.pack("<d", v) .. math.type(v)
end

local function same(a, b)
  if type(a[1]) == "table" then
    for k = 1, #a do if not same(a[k], b[k]) then return false end end
    return #a == #b
  end
  if #a ~= #b then return false end
  for i = 1, #a do if bits(a[i]) ~= bits(b[i]) then return false end end
  return true
end

local cases = {
  {"TA.MA(r, 20)", function(ta) return function(rr) return ta.MA(rr, 20) end end},
  {"TA.EMA(r, 20)", function(ta) return function(rr) return ta.EMA(rr, 20) end end},
  {"TA.RSI(r, 14)", function(ta) return function(rr) return ta.RSI(rr, 14) end end},
  {"TA.MACD(r)", function(ta) return function(rr) return ta.MACD(rr) end end},
}

print(string.format("%d records, per call in microseconds (median of %d batches of %d calls; p99)", BARS, SAMPLES,
  BATCH))
print(string.format("%-14s %10s %10s %10s %10s %8s  %s", "call", "Lua p50", "Lua p99", "C p50", "C p99", "ratio",
  "values"))
for _, case in ipairs(cases) do
  local fl, fc = case[2](TA_LUA), case[2](TA_C)
  local lm, lp = measure(fl)
  local cm, cp = measure(fc)
  print(string.format("%-14s %10.3f %10.3f %10.3f %10.3f %7.1fx  %s", case[1], lm, lp, cm, cp, lm / cm,
    same(fl(r), fc(r)) and "identical" or "DIFFER"))
end
