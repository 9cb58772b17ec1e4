-- ta: technical-analysis indicators, set by the host as the global TA (the hosted platform's names and shapes).
--
--   TA.MA(r, n=9), TA.SMA(r, n=9)        simple moving average of the last n values
--   TA.EMA(r, n=9)                       exponential, alpha = 2/(n+1), seeded with the SMA of the first n values
--   TA.MACD(r, fast=12, slow=26, signal=9) -> {dif, dea, hist}
--                                        dif = EMA(fast) - EMA(slow), dea = EMA(dif, signal), hist = dif - dea
--   TA.BOLL(r, n=20, k=2)                -> {up, mid, low}: mid = MA(n), bands k population standard deviations away
--   TA.RSI(r, n=14)                      Wilder: the first n changes averaged, then avg = (avg*(n-1) + x) / n
--   TA.ATR(r, n=14)                      Wilder smoothing of the true range from bar n, the running mean before it;
--                                        the first bar's true range is High-Low
--   TA.KDJ(r, n=9, k=3, d=3)             -> {K, D, J}: RSV over n bars (100 when the bars have no range, as on the
--                                        platform), K and D start from 50, J = 3K - 2D
--   TA.Highest(r, n, attr), TA.Lowest    one number: the extreme of the n values before the last one (n = 0: all
--                                        of them), of field attr of records or of a plain array; NONE if < 2 values
--   TA.OBV(r)                            on-balance volume: +Volume when Close >= the previous Close, else -Volume
--   TA.CMF(r, n=20)                      Chaikin money flow over the last n bars (fewer at the start)
--   TA.Alligator(r, jaw=13, teeth=8, lips=5) -> {jaw, teeth, lips}: SMMAs of (High+Low)/2 shifted forward by 8, 5
--                                        and 3 bars, so the lines are #r+8, #r+5 and #r+3 long
--   TA.NONE, TA.isnone(v)                the warm-up placeholder and its test
--
-- r is records (an array of {Time, Open, High, Low, Close, Volume}, oldest first: Close is used, and High, Low and
-- Volume by ATR, KDJ, OBV, CMF and Alligator, which need records) or a plain array of numbers. Every output array
-- (Alligator's aside) has exactly #r elements and element i belongs to bar i, so the platform's `ma[#ma]` is the
-- latest value.
-- Input values must be finite numbers: NaN or an infinity in the data raises, naming the element (the platform
-- lets it spread NaN through every later output). Integers are read as floats, so sums of large integers do not
-- wrap around. Periods are integers from 1 to 2^31 - 1; anything larger raises.
--
-- The warm-up placeholder is TA.NONE, a NaN, rather than false (or a nil hole, which would break `#`):
--   * it is a number, so outputs are plain arrays of numbers; string.format("%.2f") and tostring print "nan";
--   * every comparison with it is false, so the platform's crossover test ported as is,
--     `ma5[#ma5] > ma20[#ma20] and ma5[#ma5-1] <= ma20[#ma20-1]`, reads "no cross" while the previous MA20 is still
--     warming up (exactly 20 records); with false it would raise "attempt to compare" and stop the bot, and the
--     platform's JS null compares as 0, which can even fire a spurious signal;
--   * it is what TA-Lib, numpy and pandas put there, so developers coming from Python expect it.
-- The price: NaN ~= NaN, so test with TA.isnone(v) (or v ~= v), never v == TA.NONE. Arithmetic carries it along
-- instead of raising, and json.encode refuses it naming the path, so a warm-up value is never published silently.
-- A plain array may itself start with placeholders (another indicator's output): they count as warm-up, so
-- TA.EMA(TA.MA(r, 5), 3) works. A placeholder after the first real value is an error.
--
-- Each call is O(#r) (CMF O(#r * n)) and allocates only its output arrays and at most a few working arrays (never
-- a table per element). Running window sums are recomputed from scratch every max(n, 128) bars, so rounding cannot
-- drift over long inputs while the usual 100-record call never pays for a recount.
-- TA.MA/SMA, EMA, RSI and MACD run their arithmetic in C (runtime/lua/ta.c, require "stratrun.ta") when the host
-- provides it: the same floating-point operations in the same order as the Lua kernels below, so the values are the
-- same to the bit, 2 to 3 times faster (bench/bench_ta.lua; docs/platform.md, "TA and talib"). The C code takes
-- only plain calls (no metatable on r, every value read a finite number, periods valid); anything else, and every
-- call in plain lua5.4, runs the Lua code below, so what this comment says holds either way.
-- Misuse raises "bad argument #i to 'TA.X' (name: ...)" at the caller's line.
-- Where each call differs from the platform's: docs/platform.md, "TA and talib". TA._internal holds the helpers
-- stdlib/talib.lua shares; it is not part of the API.

local M = {}

-- The C kernels, when the host has them (not in plain lua5.4).
local C
do
  local ok, m = pcall(require, "stratrun.ta")
  if ok and type(m) == "table" then C = m end
end
local c_sma, c_ema, c_rsi, c_macd = C and C.sma, C and C.ema, C and C.rsi, C and C.macd

local format, sqrt, tointeger, unpack = string.format, math.sqrt, math.tointeger, table.unpack

-- fabs clears the sign bit, so the placeholder prints "nan" on every platform (0/0 is -nan on x86).
local NONE = math.abs(0 / 0)

M.NONE = NONE

-- True for the placeholder (any NaN), and for nil, what indexing outside an output array gives.
function M.isnone(v)
  return v == nil or v ~= v
end

-- The files whose frames a message skips: this one, and stdlib/talib.lua, which checks its input with the
-- helpers below.
local INTERNAL = {[debug.getinfo(1, "S").source] = true}

-- Raises at the first stack level outside the indicator files, so the message points at the strategy's call of
-- TA.X however deep inside the module the check ran. fname is "MA" for TA.MA, or a full name ("talib.SMA").
local function raise(fname, argn, msg)
  local level = 2
  while true do
    local info = debug.getinfo(level, "S")
    if not info or not INTERNAL[info.source] then break end
    level = level + 1
  end
  if not fname:find(".", 1, true) then fname = "TA." .. fname end
  error(format("bad argument #%d to '%s' (%s)", argn, fname, msg), level)
end

local function show(v)
  if v ~= v then return "nan" end  -- not "-nan", as 0/0 prints on x86
  if type(v) == "number" then return tostring(v) end
  if type(v) == "string" then return format("string %q", v) end
  return type(v)
end

-- Periods above this are refused: no input is that long, and index arithmetic on them could overflow.
local MAX_PERIOD = 2147483647

-- A period argument: an integer >= 1 (5.0 is accepted as 5), or the default when nil.
local function period(fname, argn, name, v, default)
  if v == nil then v = default end
  local i = type(v) == "number" and tointeger(v)
  if not i or i < 1 then
    raise(fname, argn, format("%s: integer >= 1 expected, got %s", name, show(v)))
  end
  if i > MAX_PERIOD then
    raise(fname, argn, format("%s: integer <= %d expected, got %s", name, MAX_PERIOD, show(v)))
  end
  return i
end

local function multiplier(fname, argn, name, v, default)
  if v == nil then v = default end
  if type(v) ~= "number" or not (v >= 0 and v < math.huge) then
    raise(fname, argn, format("%s: finite number >= 0 expected, got %s", name, show(v)))
  end
  return v
end

-- New arrays are cut from a template of placeholders: one allocation at the final size instead of a rehash at
-- every power of two while filling (about 1 us saved per 100-element array), and the warm-up is already there.
local CAP = 2048
local FILL = {}
for i = 1, CAP do FILL[i] = NONE end

local function placeholders(len)
  if len <= CAP then return {unpack(FILL, 1, len)} end
  local t = {unpack(FILL)}
  for i = CAP + 1, len do t[i] = NONE end
  return t
end

-- Input values must be finite numbers (a leading placeholder of a plain array aside): NaN or an infinity inside
-- the data is an error, not a value that would silently turn every later output into NaN.
-- The input loops check `v + 0 ~= v or v * 0 ~= 0` rather than calling type() per element, which would add some
-- 40% to TA.MA: the first is true for NaN and for numeric strings (arithmetic coerces them), the second for an
-- infinity, and arithmetic raises on anything else. Either way the caller rescans slowly to raise a precise message.
-- Values are copied as floats (v * 1.0 leaves a float as it is), so sums of large integers cannot wrap around.
local function fast_field(r, len, key, out)
  for i = 1, len do
    local v = r[i][key]
    if v + 0 ~= v or v * 0 ~= 0 then return nil end
    out[i] = v * 1.0
  end
  return out
end

local function fast_numbers(r, s, len, out)
  for i = s, len do
    local x = r[i]
    if x + 0 ~= x or x * 0 ~= 0 then return nil end
    out[i] = x * 1.0
  end
  return out
end

local function bad_value(v)
  return type(v) ~= "number" and "number" or (v ~= v or v * 0 ~= 0) and "finite number"
end

-- Closes copied out of records are read and dropped within the call, so for the usual sizes they go to one
-- reused array instead of a new one per call (a fifth of the cost of TA.MA on 100 records, and its garbage).
local SCRATCH = {}

-- r[i][key] for every record, as an array: a new one, or SCRATCH when the caller only reads it and len <= CAP.
local function field(fname, r, len, key, scratch)
  local ok, out = pcall(fast_field, r, len, key, (scratch and len <= CAP) and SCRATCH or placeholders(len))
  if ok and out then return out end
  for i = 1, len do
    local bar = r[i]
    if type(bar) ~= "table" then raise(fname, 1, format("record %d: table expected, got %s", i, show(bar))) end
    local v = bar[key]
    local want = bad_value(v)
    if want then raise(fname, 1, format("record %d: %s must be a %s, got %s", i, key, want, show(v))) end
  end
  error(out, 0)  -- not a bad value after all (a metamethod raised): pass the error on
end

local function not_table(fname, r)
  raise(fname, 1, "records or array of numbers expected, got " .. show(r))
end

-- The series an indicator reads (and never keeps or returns): the Close of each record, or the plain array's
-- values. Returns the values, their count, and the index of the first real value (a plain array may start with
-- placeholders; the values before it are not read).
local function closes(fname, r)
  if type(r) ~= "table" then not_table(fname, r) end
  local len = #r
  if type(r[1]) == "table" then return field(fname, r, len, "Close", true), len, 1 end
  local s = 1
  while s <= len and r[s] ~= r[s] do s = s + 1 end
  local ok, xs = pcall(fast_numbers, r, s, len, len <= CAP and SCRATCH or {})
  if not (ok and xs) then
    for i = s, len do
      local x = r[i]
      local want = bad_value(x)
      if want then raise(fname, 1, format("element %d: %s expected, got %s", i, want, show(x))) end
    end
    error(xs, 0)
  end
  return xs, len, s
end

-- The length of records; a plain array of numbers cannot give a High, a Low or a Volume.
local function records(fname, r, needs)
  if type(r) ~= "table" then not_table(fname, r) end
  local len = #r
  if len > 0 and type(r[1]) ~= "table" then
    raise(fname, 1, format("records expected (%s are needed), got an array of %ss", needs, type(r[1])))
  end
  return len
end

-- High, Low and Close arrays of records.
local function hlc(fname, r)
  local len = records(fname, r, "High, Low and Close")
  return field(fname, r, len, "High"), field(fname, r, len, "Low"), field(fname, r, len, "Close"), len
end

-- Bars between two recounts of a running window sum.
local function recount(n)
  return n > 128 and n or 128
end

-- Simple moving average of xs[s..len]: defined from s+n-1.
local function sma(xs, len, s, n)
  local top = s + n - 1
  local out = placeholders(len)
  if top > len then return out end
  local sum = 0
  for j = s, top do sum = sum + xs[j] end
  out[top] = sum / n
  local every = recount(n)
  local fresh = every
  for i = top + 1, len do
    fresh = fresh - 1
    if fresh == 0 then
      sum, fresh = 0, every
      for j = i - n + 1, i do sum = sum + xs[j] end
    else
      sum = sum + xs[i] - xs[i - n]
    end
    out[i] = sum / n
  end
  return out
end

-- Exponential moving average of xs[s..len], seeded at s+n-1 with the mean of the first n values.
local function ema(xs, len, s, n)
  local top = s + n - 1
  local out = placeholders(len)
  if top > len then return out end
  local v = 0
  for j = s, top do v = v + xs[j] end
  v = v / n
  out[top] = v
  local a = 2 / (n + 1)
  local b = 1 - a
  for i = top + 1, len do
    v = a * xs[i] + b * v
    out[i] = v
  end
  return out
end

-- The fields TA.Highest and TA.Lowest can read from records.
local ATTRS = {Open = true, High = true, Low = true, Close = true, Volume = true, OpenInterest = true}

-- The platform's window: the n values before the last one (the current bar is left out, so a breakout test
-- `Close > TA.Highest(r, 20, "High")` compares with the bars before it); n = 0 or more than there are means all
-- of them. Fewer than two values give the placeholder.
local function extreme(fname, better)
  return function(r, n, attr)
    if type(r) ~= "table" then not_table(fname, r) end
    local i = type(n) == "number" and tointeger(n)
    if not i or i < 0 then raise(fname, 2, "n: integer >= 0 expected, got " .. show(n)) end
    local xs, len, s
    if type(r[1]) == "table" then
      if not ATTRS[attr] then
        raise(fname, 3, "attr: Open, High, Low, Close, Volume or OpenInterest expected, got " .. show(attr))
      end
      len, s = #r, 1
      xs = field(fname, r, len, attr, true)
    elseif attr ~= nil then
      raise(fname, 3, "attr: nil expected for an array of numbers, got " .. show(attr))
    else
      xs, len, s = closes(fname, r)
    end
    local from = len - i
    if i == 0 or from < s then from = s end
    if from > len - 1 then return NONE end
    local v = xs[from]
    for j = from + 1, len - 1 do
      if better(xs[j], v) then v = xs[j] end
    end
    return v
  end
end

M.Highest = extreme("Highest", function(a, b) return a > b end)
M.Lowest = extreme("Lowest", function(a, b) return a < b end)

local function moving_average(fname)
  return function(r, n)
    local out = c_sma and c_sma(r, n)  -- nil unless the call is plain
    if out then return out end
    local xs, len, s = closes(fname, r)
    return sma(xs, len, s, period(fname, 2, "n", n, 9))
  end
end

M.MA = moving_average("MA")
M.SMA = moving_average("SMA")

function M.EMA(r, n)
  local out = c_ema and c_ema(r, n)
  if out then return out end
  local xs, len, s = closes("EMA", r)
  return ema(xs, len, s, period("EMA", 2, "n", n, 9))
end

-- The MACD lines from the fast and the slow EMA, both defined from top: dif, dea = EMA(dif, signal) and hist from
-- top + signal - 1, and that bar.
local function macd(fe, se, len, top, signal)
  local dif = placeholders(len)
  for i = top, len do dif[i] = fe[i] - se[i] end
  local dea = ema(dif, len, top, signal)
  local top2 = top + signal - 1
  local hist = placeholders(len)
  for i = top2, len do hist[i] = dif[i] - dea[i] end
  return dif, dea, hist, top2
end

function M.MACD(r, fast, slow, signal)
  local out = c_macd and c_macd(r, fast, slow, signal)
  if out then return out end
  local xs, len, s = closes("MACD", r)
  fast = period("MACD", 2, "fast", fast, 12)
  slow = period("MACD", 3, "slow", slow, 26)
  signal = period("MACD", 4, "signal", signal, 9)
  local fe, se = ema(xs, len, s, fast), ema(xs, len, s, slow)
  local dif, dea, hist = macd(fe, se, len, s + (fast > slow and fast or slow) - 1, signal)
  return {dif, dea, hist}
end

-- The mean is the same running sum as sma (so mid equals TA.MA exactly); the sum of squared deviations is updated
-- with the sliding form of Welford's method, stable where a running sum of squares would cancel.
function M.BOLL(r, n, k)
  local xs, len, s = closes("BOLL", r)
  n = period("BOLL", 2, "n", n, 20)
  k = multiplier("BOLL", 3, "k", k, 2)
  local top = s + n - 1
  local up, mid, low = placeholders(len), placeholders(len), placeholders(len)
  local every = recount(n)
  local sum, mean, m2, fresh = 0, 0, 0, 1
  for i = top, len do
    fresh = fresh - 1
    if fresh == 0 then
      sum, m2, fresh = 0, 0, every
      for j = i - n + 1, i do sum = sum + xs[j] end
      mean = sum / n
      for j = i - n + 1, i do
        local dv = xs[j] - mean
        m2 = m2 + dv * dv
      end
    else
      local new, old = xs[i], xs[i - n]
      sum = sum + new - old
      local m = sum / n
      m2 = m2 + (new - old) * (new - m + old - mean)
      if m2 < 0 then m2 = 0 end
      mean = m
    end
    local w = k * sqrt(m2 / n)
    up[i], mid[i], low[i] = mean + w, mean, mean - w
  end
  return {up, mid, low}
end

-- Wilder's average gain g and average loss l of xs[s..len] (the first n changes averaged, then
-- avg = (avg*(n-1) + x) / n), turned into each output by value(g, l) from s+n on: RSI, and talib's CMO.
local function gain_loss(xs, len, s, n, value)
  local top = s + n
  local out = placeholders(len)
  if top > len then return out end
  local g, l = 0, 0
  for i = s + 1, top do
    local dv = xs[i] - xs[i - 1]
    if dv > 0 then g = g + dv else l = l - dv end
  end
  g, l = g / n, l / n
  out[top] = value(g, l)
  local keep = n - 1
  for i = top + 1, len do
    local dv = xs[i] - xs[i - 1]
    if dv > 0 then
      g, l = (g * keep + dv) / n, l * keep / n
    else
      g, l = g * keep / n, (l * keep - dv) / n
    end
    out[i] = value(g, l)
  end
  return out
end

-- 100 * gain / (gain + loss) is 100 - 100 / (1 + RS) without the division by a zero loss.
-- Wilder's RSI of xs[s..len], first at s+n. flat is the value where nothing moved: a neutral 50 for TA, TA-Lib's
-- 0 for talib.
local function rsi(xs, len, s, n, flat)
  return gain_loss(xs, len, s, n, function(g, l)
    local t = g + l
    if t == 0 then return flat end
    return 100 * g / t
  end)
end

function M.RSI(r, n)
  local out = c_rsi and c_rsi(r, n)
  if out then return out end
  local xs, len, s = closes("RSI", r)
  return rsi(xs, len, s, period("RSI", 2, "n", n, 14), 50)
end

-- The true range of bar i >= 2: the largest of High - Low and the distances from the previous Close.
local function true_range(hs, ls, cs, i)
  local h, l, pc = hs[i], ls[i], cs[i - 1]
  local tr = h - l
  if h - pc > tr then tr = h - pc end
  if pc - l > tr then tr = pc - l end
  return tr
end

-- Wilder's smoothed moving average of xs[s..len], seeded at s+n-1 with the mean of the first n values.
local function smma(xs, len, s, n)
  local top = s + n - 1
  local out = placeholders(len)
  if top > len then return out end
  local v = 0
  for j = s, top do v = v + xs[j] end
  v = v / n
  out[top] = v
  local keep = n - 1
  for i = top + 1, len do
    v = (v * keep + xs[i]) / n
    out[i] = v
  end
  return out
end

-- The first bar's true range is its High - Low. The bars before the n-th hold the mean of the true ranges so far,
-- as the platform's ta.js (no warm-up NaN); from the n-th on, Wilder's ATR.
function M.ATR(r, n)
  local hs, ls, cs, len = hlc("ATR", r)
  n = period("ATR", 2, "n", n, 14)
  local tr = placeholders(len)
  if len > 0 then tr[1] = hs[1] - ls[1] end
  for i = 2, len do tr[i] = true_range(hs, ls, cs, i) end
  local out, sum = smma(tr, len, 1, n), 0
  for i = 1, math.min(n - 1, len) do
    sum = sum + tr[i]
    out[i] = sum / i
  end
  return out
end

-- Highest High and lowest Low of the last n bars come from monotonic deques of indices (each index enters and
-- leaves once, so O(len) whatever n). A bar range of zero gives RSV 100, the platform's value.
function M.KDJ(r, n, k, d)
  local hs, ls, cs, len = hlc("KDJ", r)
  n = period("KDJ", 2, "n", n, 9)
  k = period("KDJ", 3, "k", k, 3)
  d = period("KDJ", 4, "d", d, 3)
  local K, D, J = placeholders(len), placeholders(len), placeholders(len)
  local hq, hh, ht = {}, 1, 0
  local lq, lh, lt = {}, 1, 0
  local kv, dv = 50, 50
  for i = 1, len do
    local h, l = hs[i], ls[i]
    while ht >= hh and hs[hq[ht]] <= h do ht = ht - 1 end
    ht = ht + 1
    hq[ht] = i
    if hq[hh] <= i - n then hh = hh + 1 end
    while lt >= lh and ls[lq[lt]] >= l do lt = lt - 1 end
    lt = lt + 1
    lq[lt] = i
    if lq[lh] <= i - n then lh = lh + 1 end
    if i >= n then
      local hi, lo = hs[hq[hh]], ls[lq[lh]]
      local rsv = hi == lo and 100 or 100 * (cs[i] - lo) / (hi - lo)
      kv = ((k - 1) * kv + rsv) / k
      dv = ((d - 1) * dv + kv) / d
      K[i], D[i], J[i] = kv, dv, 3 * kv - 2 * dv
    end
  end
  return {K, D, J}
end

-- On Balance Volume: the running sum of Volume, added when Close is not below the previous Close, else taken away.
function M.OBV(r)
  local len = records("OBV", r, "Close and Volume")
  local cs, vs = field("OBV", r, len, "Close"), field("OBV", r, len, "Volume")
  local out = placeholders(len)
  local v = 0.0
  for i = 1, len do
    if i == 1 or cs[i] >= cs[i - 1] then v = v + vs[i] else v = v - vs[i] end
    out[i] = v
  end
  return out
end

-- Chaikin Money Flow over the last n bars (fewer while there are fewer): the sum of each bar's money-flow volume,
-- ((Close - Low) - (High - Close)) / (High - Low) * Volume (0 when High == Low), over the sum of Volume.
-- A window without volume gives the placeholder.
function M.CMF(r, n)
  local len = records("CMF", r, "High, Low, Close and Volume")
  local hs, ls, cs, vs = field("CMF", r, len, "High"), field("CMF", r, len, "Low"), field("CMF", r, len, "Close"),
    field("CMF", r, len, "Volume")
  n = period("CMF", 2, "n", n, 20)
  local out = placeholders(len)
  local mfv = {}
  for i = 1, len do
    local range = hs[i] - ls[i]
    mfv[i] = range == 0 and 0 or ((cs[i] - ls[i]) - (hs[i] - cs[i])) / range * vs[i]
    local flow, volume = 0, 0
    for j = (i > n and i - n + 1 or 1), i do
      flow, volume = flow + mfv[j], volume + vs[j]
    end
    if volume ~= 0 then out[i] = flow / volume end
  end
  return out
end

-- Bill Williams' Alligator: SMMAs of the median price (High + Low) / 2 shifted forward by 8, 5 and 3 bars (fixed,
-- whatever the lengths), so each line is longer than the input and its last entries project into the future.
function M.Alligator(r, jaw, teeth, lips)
  local hs, ls, _, len = hlc("Alligator", r)
  local lengths = {period("Alligator", 2, "jaw", jaw, 13), period("Alligator", 3, "teeth", teeth, 8),
    period("Alligator", 4, "lips", lips, 5)}
  local median = placeholders(len)
  for i = 1, len do median[i] = (hs[i] + ls[i]) / 2 end
  local lines = {}
  for j, shift in ipairs({8, 5, 3}) do
    local line = smma(median, len, 1, lengths[j])
    local out = placeholders(len + shift)
    for i = 1, len do out[i + shift] = line[i] end
    lines[j] = out
  end
  return lines
end

-- For stdlib/talib.lua, which reads its input and raises the way TA does; not part of the TA API.
M._internal = {
  INTERNAL = INTERNAL, raise = raise, show = show, period = period, multiplier = multiplier,
  placeholders = placeholders, closes = closes, records = records, field = field, hlc = hlc, sma = sma, ema = ema,
  smma = smma, rsi = rsi, gain_loss = gain_loss, true_range = true_range, macd = macd,
}

return M
