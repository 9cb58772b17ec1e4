-- talib: TA-Lib's functions under their TA-Lib names, set by the host as the global talib (as on the platform).
--
--   talib.SMA(r, n=30), talib.EMA(r, n=30)  EMA seeded with the SMA of the first n values, alpha = 2/(n+1)
--   talib.MA(r, n=30, matype=0)             matype 0 = SMA, 1 = EMA (TA-Lib's other types are not available)
--   talib.RSI(r, n=14)                      Wilder; 0 where nothing moved (TA-Lib's value)
--   talib.ATR(r, n=14)                      Wilder smoothing of the true range, which starts at the second bar
--   talib.MACD(r, fast=12, slow=26, signal=9) -> {macd, signal, hist}
--   talib.STDDEV(r, n=5, nbdev=1)           population standard deviation times nbdev
--   talib.BBANDS(r, n=5, up=2, down=2, matype=0) -> {upper, middle, lower}
--   talib.ADX(r, n=14)                      Wilder's average directional index
--   talib.SAR(r, acceleration=0.02, maximum=0.2) parabolic SAR
--   talib.LINEARREG_SLOPE(r, n=14)          least-squares slope of the last n values per bar
--   talib.STOCHRSI(r, n=14, fastk=5, fastd=3, matype=0) -> {fastk, fastd}: STOCHF on the RSI
--   talib.WMA(r, n=30)                      weighted moving average, weights 1..n (the latest value n)
--   talib.CMO(r, n=14)                      Chande: 100 (g - l) / (g + l) on RSI's Wilder averages; 0 where flat
--   talib.CCI(r, n=14)                      (typical price - its mean) / (0.015 mean deviation) over n bars
--   talib.PLUS_DI(r, n=14), talib.MINUS_DI(r, n=14)  100 * Wilder's +DM (-DM) / Wilder's TR, as ADX smooths them
--   talib.CDL3BLACKCROWS(r)                 -100 on the third of three black crows, else 0
--
-- r is records (Close is read; ATR, ADX, CCI, PLUS_DI and MINUS_DI read High, Low and Close, SAR High and Low,
-- CDL3BLACKCROWS Open, High, Low and Close, so they need records) or a plain array of numbers, read as TA reads it
-- (a plain array may start with placeholders, which count as warm-up; NaN or an infinity after them raises). Every
-- output array has #r elements, element i belonging to bar i, and holds TA.NONE (a NaN; test with TA.isnone) for
-- the first TA-Lib "lookback" bars, as TA-Lib's Python wrapper puts NaN there: SMA, EMA, WMA, STDDEV, BBANDS,
-- LINEARREG_SLOPE, CCI n-1; RSI, CMO, ATR, PLUS_DI and MINUS_DI n (the DIs 1 for n = 1); MACD's three outputs
-- slow+signal-2; ADX 2n-1; SAR 1; STOCHRSI's two outputs n+fastk+fastd-2; CDL3BLACKCROWS 13.
-- The values follow TA-Lib's algorithms with its default settings (no unstable period, no Metastock mode, the
-- default candle settings), including its quirks: MACD seeds the fast EMA at the slow EMA's first bar with the SMA
-- of the fast period, and its first MACD value is given only once the signal line has one; PLUS_DI and MINUS_DI
-- with n = 1 give DM / TR, not times 100. Periods have TA-Lib's ranges (2 to 100000, 1 to 100000 for ATR's, WMA's,
-- the DIs', MACD's signal and STOCHRSI's fastk and fastd); misuse raises "bad argument #i to 'talib.X' (...)",
-- and reading a TA-Lib function stratrun does not have (talib.KAMA) raises naming it.

local TA = require("ta")
local I = TA._internal
I.INTERNAL[debug.getinfo(1, "S").source] = true

local format, sqrt, abs = string.format, math.sqrt, math.abs
local raise, show, placeholders, closes, sma, ema = I.raise, I.show, I.placeholders, I.closes, I.sma, I.ema
local true_range = I.true_range

local M = {}

local MAX_PERIOD = 100000

-- A period in TA-Lib's range [low, 100000], or the default when nil.
local function period(fname, argn, name, v, default, low)
  if v == nil then v = default end
  local i = type(v) == "number" and math.tointeger(v)
  if not i or i < low or i > MAX_PERIOD then
    raise(fname, argn, format("%s: integer from %d to %d expected, got %s", name, low, MAX_PERIOD, show(v)))
  end
  return i
end

local function real(fname, argn, name, v, default)
  if v == nil then v = default end
  if type(v) ~= "number" or v ~= v or v * 0 ~= 0 then
    raise(fname, argn, format("%s: finite number expected, got %s", name, show(v)))
  end
  return v
end

-- Moving averages by TA-Lib's MA type number, over xs[s..len].
local MATYPES = {[0] = sma, [1] = ema}

local function matype(fname, argn, v)
  if v == nil then return sma end
  local f = type(v) == "number" and MATYPES[math.tointeger(v)]
  if not f then
    raise(fname, argn, "matype: 0 (SMA) or 1 (EMA) expected, got " .. show(v))
  end
  return f
end

-- Placeholders over out[1..upto-1]: TA-Lib gives one first index for every output of a function.
local function blank(out, upto)
  for i = 1, upto - 1 do out[i] = TA.NONE end
  return out
end

-- A function of one series and one period n in [low, 100000] (low 2 unless given): f(xs, len, s, n).
local function one_period(name, f, default, low)
  local fname = "talib." .. name
  return function(r, n)
    local xs, len, s = closes(fname, r)
    return f(xs, len, s, period(fname, 2, "n", n, default, low or 2))
  end
end

M.SMA = one_period("SMA", sma, 30)
M.EMA = one_period("EMA", ema, 30)

function M.MA(r, n, kind)
  local xs, len, s = closes("talib.MA", r)
  n = period("talib.MA", 2, "n", n, 30, 2)
  return matype("talib.MA", 3, kind)(xs, len, s, n)
end

local function rsi(xs, len, s, n)
  return I.rsi(xs, len, s, n, 0)
end

M.RSI = one_period("RSI", rsi, 14)

-- Chande's momentum oscillator on the same Wilder averages of gains g and losses l as RSI (TA-Lib since 0.4).
M.CMO = one_period("CMO", function(xs, len, s, n)
  return I.gain_loss(xs, len, s, n, function(g, l)
    local t = g + l
    if t == 0 then return 0.0 end
    return 100 * ((g - l) / t)
  end)
end, 14)

-- TA-Lib's running sums: sum holds the window's values times their weights 1..n, sub their plain sum; each bar adds
-- n times the new value, gives sum / (1 + ... + n), then takes sub away, which lowers every weight by one. With
-- n = 1 the values are copied, as TA-Lib does (the sums would leave rounding residue).
M.WMA = one_period("WMA", function(xs, len, s, n)
  local out = placeholders(len)
  local top = s + n - 1
  if top > len then return out end
  if n == 1 then
    for i = s, len do out[i] = xs[i] end
    return out
  end
  local divider = n * (n + 1) // 2
  local sum, sub, trailing = 0.0, 0.0, 0.0
  for k = 1, n - 1 do
    local v = xs[s + k - 1]
    sub, sum = sub + v, sum + v * k
  end
  for i = top, len do
    local v = xs[i]
    sub = sub + v - trailing
    sum = sum + v * n
    trailing = xs[i - n + 1]
    out[i] = sum / divider
    sum = sum - sub
  end
  return out
end, 30, 1)

-- The true range starts at bar 2; the first ATR is the mean of the first n of them.
function M.ATR(r, n)
  local hs, ls, cs, len = I.hlc("talib.ATR", r)
  n = period("talib.ATR", 2, "n", n, 14, 1)
  local tr = placeholders(len)
  for i = 2, len do tr[i] = true_range(hs, ls, cs, i) end
  return I.smma(tr, len, 2, n)
end

function M.MACD(r, fast, slow, signal)
  local fname = "talib.MACD"
  local xs, len, s = closes(fname, r)
  fast = period(fname, 2, "fast", fast, 12, 2)
  slow = period(fname, 3, "slow", slow, 26, 2)
  signal = period(fname, 4, "signal", signal, 9, 1)
  if slow < fast then fast, slow = slow, fast end
  local top = s + slow - 1
  if top > len then return {placeholders(len), placeholders(len), placeholders(len)} end
  -- Both EMAs start at the slow one's first bar, the fast one seeded with the mean of the fast period before it.
  local fe, se = ema(xs, len, top - fast + 1, fast), ema(xs, len, s, slow)
  local line, sig, hist, first = I.macd(fe, se, len, top, signal)
  return {blank(line, first), sig, hist}
end

-- Population standard deviation of each window of n values of xs[s..len], worked out in two passes.
local function stddev(xs, len, s, n)
  local out = placeholders(len)
  for i = s + n - 1, len do
    local sum = 0.0
    for j = i - n + 1, i do sum = sum + xs[j] end
    local mean, m2 = sum / n, 0.0
    for j = i - n + 1, i do m2 = m2 + (xs[j] - mean) ^ 2 end
    out[i] = sqrt(m2 / n)
  end
  return out
end

function M.STDDEV(r, n, nbdev)
  local xs, len, s = closes("talib.STDDEV", r)
  n = period("talib.STDDEV", 2, "n", n, 5, 2)
  nbdev = real("talib.STDDEV", 3, "nbdev", nbdev, 1)
  local out = stddev(xs, len, s, n)
  for i = s + n - 1, len do out[i] = out[i] * nbdev end
  return out
end

function M.BBANDS(r, n, up, down, kind)
  local fname = "talib.BBANDS"
  local xs, len, s = closes(fname, r)
  n = period(fname, 2, "n", n, 5, 2)
  up = real(fname, 3, "nbdevup", up, 2)
  down = real(fname, 4, "nbdevdn", down, 2)
  local mid = matype(fname, 5, kind)(xs, len, s, n)
  local sd = stddev(xs, len, s, n)
  local upper, lower = placeholders(len), placeholders(len)
  for i = s + n - 1, len do
    upper[i], lower[i] = mid[i] + up * sd[i], mid[i] - down * sd[i]
  end
  return {upper, mid, lower}
end

-- Directional movement from bar i-1 to bar i: only the larger of the up move and the down move counts.
local function moves(hs, ls, i)
  local up, down = hs[i] - hs[i - 1], ls[i - 1] - ls[i]
  if down > 0 and up < down then return 0, down end
  if up > 0 and up > down then return up, 0 end
  return 0, 0
end

-- Wilder's smoothing of +DM, -DM and TR, TA-Lib's way: each summed over the n-1 moves of bars 2..n, then at every
-- bar from n+1 on x - x/n + the bar's own, which each(i, pdm, mdm, tr) is given. Nothing on n or fewer bars.
local function directional(hs, ls, cs, len, n, each)
  if n >= len then return end
  local pdm, mdm, tr = 0.0, 0.0, 0.0
  for i = 2, n do
    local p, m = moves(hs, ls, i)
    pdm, mdm, tr = pdm + p, mdm + m, tr + true_range(hs, ls, cs, i)
  end
  for i = n + 1, len do
    local p, m = moves(hs, ls, i)
    pdm, mdm = pdm - pdm / n + p, mdm - mdm / n + m
    tr = tr - tr / n + true_range(hs, ls, cs, i)
    each(i, pdm, mdm, tr)
  end
end

-- Wilder's ADX: DX = 100 |+DI - -DI| / (+DI + -DI) on the smoothed sums; the first ADX the mean of the first n DX
-- (bars n+1..2n), then Wilder-smoothed. As in TA-Lib, a bar whose smoothed TR or DI sum is zero adds no DX (the
-- mean still divides by n) and leaves the ADX unchanged.
function M.ADX(r, n)
  local hs, ls, cs, len = I.hlc("talib.ADX", r)
  n = period("talib.ADX", 2, "n", n, 14, 2)
  local out = placeholders(len)
  local first = 2 * n
  if first > len then return out end
  local sum, adx = 0.0, nil
  directional(hs, ls, cs, len, n, function(i, pdm, mdm, tr)
    local dx
    if tr ~= 0 then
      local pdi, mdi = 100 * pdm / tr, 100 * mdm / tr
      if pdi + mdi ~= 0 then dx = 100 * abs(pdi - mdi) / (pdi + mdi) end
    end
    if i <= first then
      sum = sum + (dx or 0)
      if i == first then
        adx = sum / n
        out[i] = adx
      end
    else
      if dx then adx = (adx * (n - 1) + dx) / n end
      out[i] = adx
    end
  end)
  return out
end

-- talib.PLUS_DI and talib.MINUS_DI: 100 * (smoothed +DM (-DM) / smoothed TR) from bar n+1, 0 where the TR is 0.
-- With n = 1 there is no smoothing, and TA-Lib's special case for it gives the bar's DM / TR, not times 100.
local function di(name, plus)
  local fname = "talib." .. name
  return function(r, n)
    local hs, ls, cs, len = I.hlc(fname, r)
    n = period(fname, 2, "n", n, 14, 1)
    local out = placeholders(len)
    local scale = n == 1 and 1 or 100
    directional(hs, ls, cs, len, n, function(i, pdm, mdm, tr)
      out[i] = tr == 0 and 0.0 or scale * ((plus and pdm or mdm) / tr)
    end)
    return out
  end
end

M.PLUS_DI = di("PLUS_DI", true)
M.MINUS_DI = di("MINUS_DI", false)

-- TA-Lib's commodity channel index: over the typical prices (High + Low + Close) / 3 of the last n bars, their
-- mean, their mean absolute deviation from it, and (the last one - mean) / (0.015 deviation); 0 where either is 0.
-- Both sums run in TA-Lib's order, from the slot 0 of its circular buffer (the window's bar b with b-1 a multiple
-- of n) round to the bar before it, so the values are TA-Lib's to the bit. A window of equal typical prices gives 0
-- too: their mean can miss them by a rounding residue, which an exact test would divide into a spurious +-66.67
-- (TA-Lib now tests against an epsilon there).
function M.CCI(r, n)
  local hs, ls, cs, len = I.hlc("talib.CCI", r)
  n = period("talib.CCI", 2, "n", n, 14, 2)
  local out = placeholders(len)
  local tp = placeholders(len)
  for i = 1, len do tp[i] = (hs[i] + ls[i] + cs[i]) / 3 end
  local window = {}
  for i = n, len do
    local from = i - (i - 1) % n
    for k = 1, n do
      local j = from + k - 1
      if j > i then j = j - n end
      window[k] = tp[j]
    end
    local last, sum, flat = tp[i], 0.0, true
    for k = 1, n do
      sum = sum + window[k]
      if window[k] ~= last then flat = false end
    end
    local mean = sum / n
    local dev = 0.0
    for k = 1, n do dev = dev + abs(window[k] - mean) end
    local d = last - mean
    out[i] = (flat or d == 0 or dev == 0) and 0.0 or d / (0.015 * (dev / n))
  end
  return out
end

-- TA-Lib's candle setting ShadowVeryShort: a shadow is very short below 0.1 times the mean High - Low of the 10
-- candles before its own.
local VERY_SHORT_PERIOD, VERY_SHORT_FACTOR = 10, 0.1

-- Three black crows, as TA-Lib's CDL3BLACKCROWS finds them: a white candle (Close >= Open), then three black ones
-- (Close < Open) with falling Closes, each after the first opening within the previous one's body (below its Open,
-- above its Close), the first closing under the white candle's High, each with a very short lower shadow. -100 on
-- the third crow, else 0, from bar 14 (the first crow's average needs the 10 candles before it). The three running
-- sums of ranges are kept as TA-Lib keeps them, one per crow, so a shadow at the limit reads as it does there.
function M.CDL3BLACKCROWS(r)
  local fname = "talib.CDL3BLACKCROWS"
  local len = I.records(fname, r, "Open, High, Low and Close")
  local op, hs = I.field(fname, r, len, "Open"), I.field(fname, r, len, "High")
  local ls, cs = I.field(fname, r, len, "Low"), I.field(fname, r, len, "Close")
  local out = placeholders(len)
  local p = VERY_SHORT_PERIOD
  local first = p + 4
  if first > len then return out end
  -- total[t]: the sum of High - Low over the p candles before candle i - t.
  local total = {[0] = 0.0, 0.0, 0.0}
  for j = first - p, first - 1 do
    for t = 0, 2 do total[t] = total[t] + (hs[j - t] - ls[j - t]) end
  end
  local function crow(k, t)
    return cs[k] < op[k] and cs[k] - ls[k] < VERY_SHORT_FACTOR * (total[t] / p)
  end
  local trail = first - p
  for i = first, len do
    local a, b = i - 2, i - 1
    local hit = cs[i - 3] >= op[i - 3] and crow(a, 2) and crow(b, 1) and crow(i, 0)
      and op[b] < op[a] and op[b] > cs[a] and op[i] < op[b] and op[i] > cs[b]
      and hs[i - 3] > cs[a] and cs[a] > cs[b] and cs[b] > cs[i]
    out[i] = hit and -100 or 0
    for t = 0, 2 do
      total[t] = total[t] + ((hs[i - t] - ls[i - t]) - (hs[trail - t] - ls[trail - t]))
    end
    trail = trail + 1
  end
  return out
end

-- Parabolic SAR, TA-Lib's way: the first trend is short if the second bar's Low falls below the first's by more
-- than its High rises (a positive -DM), else long; the SAR starts at the first bar's Low (long) or High (short),
-- the extreme point at the second bar's High or Low; the SAR never enters the last two bars' range, and a bar
-- that reaches it reverses the trend, the SAR jumping to the extreme point.
function M.SAR(r, acceleration, maximum)
  local fname = "talib.SAR"
  local len = I.records(fname, r, "High and Low")
  local hs, ls = I.field(fname, r, len, "High"), I.field(fname, r, len, "Low")
  acceleration = real(fname, 2, "acceleration", acceleration, 0.02)
  maximum = real(fname, 3, "maximum", maximum, 0.2)
  if acceleration < 0 then raise(fname, 2, "acceleration: number >= 0 expected, got " .. show(acceleration)) end
  if maximum < 0 then raise(fname, 3, "maximum: number >= 0 expected, got " .. show(maximum)) end
  if acceleration > maximum then acceleration = maximum end
  local out = placeholders(len)
  if len < 2 then return out end
  local _, m = moves(hs, ls, 2)
  local long = not (m > 0)
  local af, ep, sar
  af = acceleration
  if long then ep, sar = hs[2], ls[1] else ep, sar = ls[2], hs[1] end
  local nh, nl = hs[2], ls[2]
  for i = 2, len do
    local ph, pl = nh, nl
    nh, nl = hs[i], ls[i]
    if long then
      if nl <= sar then
        long, sar = false, ep
        if sar < ph then sar = ph end
        if sar < nh then sar = nh end
        out[i] = sar
        af, ep = acceleration, nl
        sar = sar + af * (ep - sar)
        if sar < ph then sar = ph end
        if sar < nh then sar = nh end
      else
        out[i] = sar
        if nh > ep then
          ep, af = nh, af + acceleration
          if af > maximum then af = maximum end
        end
        sar = sar + af * (ep - sar)
        if sar > pl then sar = pl end
        if sar > nl then sar = nl end
      end
    else
      if nh >= sar then
        long, sar = true, ep
        if sar > pl then sar = pl end
        if sar > nl then sar = nl end
        out[i] = sar
        af, ep = acceleration, nh
        sar = sar + af * (ep - sar)
        if sar > pl then sar = pl end
        if sar > nl then sar = nl end
      else
        out[i] = sar
        if nl < ep then
          ep, af = nl, af + acceleration
          if af > maximum then af = maximum end
        end
        sar = sar + af * (ep - sar)
        if sar < ph then sar = ph end
        if sar < nh then sar = nh end
      end
    end
  end
  return out
end

M.LINEARREG_SLOPE = one_period("LINEARREG_SLOPE", function(xs, len, s, n)
  local out = placeholders(len)
  -- x = 0 .. n-1 within the window: sum x = n(n-1)/2, sum x^2 = n(n-1)(2n-1)/6.
  local sx, sxx = n * (n - 1) / 2, n * (n - 1) * (2 * n - 1) / 6
  local d = n * sxx - sx * sx
  for i = s + n - 1, len do
    local sy, sxy = 0.0, 0.0
    for k = 0, n - 1 do
      local y = xs[i - n + 1 + k]
      sy, sxy = sy + y, sxy + k * y
    end
    out[i] = (n * sxy - sx * sy) / d
  end
  return out
end, 14)

-- STOCHF on the RSI: fast K = 100 (RSI - lowest RSI) / (highest - lowest) over fastk bars (0 without range),
-- fast D its moving average over fastd bars; both given from fast D's first bar.
function M.STOCHRSI(r, n, fastk, fastd, kind)
  local fname = "talib.STOCHRSI"
  local xs, len, s = closes(fname, r)
  n = period(fname, 2, "n", n, 14, 2)
  fastk = period(fname, 3, "fastk", fastk, 5, 1)
  fastd = period(fname, 4, "fastd", fastd, 3, 1)
  local average = matype(fname, 5, kind)
  local rs = rsi(xs, len, s, n)
  local from = s + n + fastk - 1
  local k = placeholders(len)
  for i = from, len do
    local hi, lo = rs[i], rs[i]
    for j = i - fastk + 1, i - 1 do
      local v = rs[j]
      if v > hi then hi = v end
      if v < lo then lo = v end
    end
    k[i] = hi == lo and 0 or 100 * (rs[i] - lo) / (hi - lo)
  end
  local d = average(k, len, from, fastd)
  return {blank(k, from + fastd - 1), d}
end

-- The platform's talib has TA-Lib's whole list; a function stratrun does not have fails where it is called, naming
-- it, rather than as "attempt to call a nil value".
return setmetatable(M, {__index = function(_, name)
  error(format("talib.%s is not available in stratrun (see docs/platform.md, \"TA and talib\")", tostring(name)), 2)
end})
