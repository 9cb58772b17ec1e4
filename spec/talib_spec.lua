-- Spec for stdlib/talib.lua: the talib global's TA-Lib functions against values worked out by hand from TA-Lib's
-- documented algorithms (the arithmetic is in the comments), and against straightforward recomputations written
-- here from the definitions (window by window, no running sums), on long series; TA-Lib's lookback (the leading
-- placeholders), its seeds and its quirks; bad arguments; and the global in a real strategy.
local h = require("helpers")
local TA = require("ta")
local talib = require("talib")

local I = require("indicators")
local W, series, identical, walk, error_of = I.W, I.series, I.identical, I.walk, I.error_of

local function fail(fmt, ...)
  error(string.format(fmt, ...), 3)
end

-- A reference array (W up to first - 1, then want(i)) compared with actual within a relative tolerance.
local function against(actual, len, first, want, label)
  local expected = {}
  for i = 1, len do
    if i < first then expected[i] = W else expected[i] = want(i) end
  end
  assert.are.equal(len, #actual, label)
  for i = 1, len do
    local e, a = expected[i], actual[i]
    if e == W then
      if a == a then fail("%s[%d] = %.12g, expected the placeholder", label, i, a) end
    elseif not (math.abs(a - e) <= 1e-9 * math.max(1, math.abs(e))) then
      fail("%s[%d] = %.15g, the reference gives %.15g", label, i, a, e)
    end
  end
end

local function closes_of(r)
  local xs = {}
  for i, b in ipairs(r) do xs[i] = b.Close end
  return xs
end

local function hl_records(rows)
  local r = {}
  for i, row in ipairs(rows) do r[i] = {High = row[1], Low = row[2], Close = row[3] or row[2], Volume = 1} end
  return r
end

local function walk_records(count)
  return hl_records(I.walk_bars(count))
end

-- The mean of xs[i-n+1..i].
local function mean(xs, i, n)
  local sum = 0
  for j = i - n + 1, i do sum = sum + xs[j] end
  return sum / n
end

-- EMA by its definition: the SMA of the first n values, then alpha = 2/(n+1).
local function ema_ref(xs, n)
  local out, v = {}, nil
  for i = n, #xs do
    v = i == n and mean(xs, n, n) or (xs[i] - v) * 2 / (n + 1) + v
    out[i] = v
  end
  return out
end

-- Wilder's RSI: the first n gains and losses averaged, then smoothed; 100 g / (g + l), 0 where nothing moved.
local function rsi_ref(xs, n)
  local out, g, l = {}, 0, 0
  for i = 2, #xs do
    local up, down = math.max(xs[i] - xs[i - 1], 0), math.max(xs[i - 1] - xs[i], 0)
    if i <= n + 1 then
      g, l = g + up / n, l + down / n
    else
      g, l = (g * (n - 1) + up) / n, (l * (n - 1) + down) / n
    end
    if i >= n + 1 then out[i] = (g + l == 0) and 0 or 100 * g / (g + l) end
  end
  return out
end

describe("talib.SMA, talib.EMA and talib.MA", function()
  it("average the last n values, 30 by default, first at bar n", function()
    series({W, 1.5, 2.5, 3.5}, talib.SMA({1, 2, 3, 4}, 2), 0)
    local xs = walk(300, 100, 2)
    against(talib.SMA(xs), #xs, 30, function(i) return mean(xs, i, 30) end, "SMA(30)")
    against(talib.MA(xs), #xs, 30, function(i) return mean(xs, i, 30) end, "MA(30)")
    against(talib.MA(xs, 7, 0), #xs, 7, function(i) return mean(xs, i, 7) end, "MA(7, SMA)")
  end)

  it("seed the EMA with the SMA of the first n values (TA-Lib's default), then alpha = 2/(n+1)", function()
    -- EMA3 of 1, 2, 3, 7, 3: seed (1+2+3)/3 = 2 at bar 3, then 0.5*7 + 0.5*2 = 4.5, 0.5*3 + 0.5*4.5 = 3.75.
    series({W, W, 2, 4.5, 3.75}, talib.EMA({1, 2, 3, 7, 3}, 3), 1e-12)
    local xs = walk(300, 100, 2)
    local ref30, ref9 = ema_ref(xs, 30), ema_ref(xs, 9)
    against(talib.EMA(xs), #xs, 30, function(i) return ref30[i] end, "EMA(30)")
    against(talib.MA(xs, 9, 1), #xs, 9, function(i) return ref9[i] end, "MA(9, EMA)")
  end)

  it("read the Close of records", function()
    local r = walk_records(80)
    local xs = closes_of(r)
    identical(talib.SMA(xs, 10), talib.SMA(r, 10), "SMA")
    identical(talib.EMA(xs, 10), talib.EMA(r, 10), "EMA")
    identical(talib.RSI(xs), talib.RSI(r), "RSI")
  end)
end)

describe("talib.RSI", function()
  it("is Wilder's, first at bar n+1, 14 by default", function()
    -- n = 2 on 1, 3, 2, 5: changes +2, -1, +3. Seed g = 2/2 = 1, l = 1/2: RSI 100*1/1.5 = 66.67 at bar 3;
    -- then g = (1 + 3)/2 = 2, l = (0.5 + 0)/2 = 0.25: 100*2/2.25 = 88.89.
    series({W, W, 200 / 3, 800 / 9}, talib.RSI({1, 3, 2, 5}, 2), 1e-12)
    local xs = walk(400, 100, 3)
    local ref = rsi_ref(xs, 14)
    against(talib.RSI(xs), #xs, 15, function(i) return ref[i] end, "RSI(14)")
  end)

  it("is 0 where nothing moved, TA-Lib's value (TA.RSI gives 50)", function()
    series({W, W, 0, 0}, talib.RSI({5, 5, 5, 5}, 2), 0)
    assert.are.equal(50, TA.RSI({5, 5, 5, 5}, 2)[4])
  end)
end)

describe("talib.ATR", function()
  it("averages the first n true ranges from bar 2, then smooths the Wilder way", function()
    -- Bars (H, L, C): (10, 8, 9), (11, 9, 10), (12, 10.5, 11), (14, 11, 13). True ranges from bar 2: max(2, 2, 0)
    -- = 2; max(1.5, 2, -0.5) = 2; max(3, 3, 0) = 3. n = 2: (2 + 2)/2 = 2 at bar 3, then (2*1 + 3)/2 = 2.5.
    local r = hl_records({{10, 8, 9}, {11, 9, 10}, {12, 10.5, 11}, {14, 11, 13}})
    series({W, W, 2, 2.5}, talib.ATR(r, 2), 1e-12)
  end)

  it("matches a straightforward recomputation with the default 14", function()
    local r = walk_records(300)
    local tr = {}
    for i = 2, #r do
      local b, pc = r[i], r[i - 1].Close
      tr[i] = math.max(b.High - b.Low, math.abs(b.High - pc), math.abs(b.Low - pc))
    end
    local ref, v = {}, 0
    for i = 2, #r do
      if i <= 15 then v = v + tr[i] / 14 else v = (v * 13 + tr[i]) / 14 end
      ref[i] = v
    end
    against(talib.ATR(r), #r, 15, function(i) return ref[i] end, "ATR(14)")
  end)
end)

describe("talib.MACD", function()
  it("seeds the fast EMA at the slow EMA's first bar and gives all three from the signal's first bar", function()
    -- fast 2, slow 3, signal 2 on 1, 2, 4, 7, 11. Slow EMA3 (alpha 1/2): (1+2+4)/3 = 7/3 at bar 3, then 14/3,
    -- 47/6. Fast EMA2 (alpha 2/3), seeded at bar 3 with the mean of bars 2..3 = 3 (TA-Lib's seed; a standalone EMA2
    -- would give 19/6 there), then 17/3, 83/9. MACD line: 2/3, 1, 25/18. Signal EMA2 of it: (2/3 + 1)/2 = 5/6 at
    -- bar 4, then 2/3*25/18 + 1/3*5/6 = 65/54. Histogram 1/6, 5/27. The line's bar-3 value is not given, as in
    -- TA-Lib, whose three outputs start together.
    local m = talib.MACD({1, 2, 4, 7, 11}, 2, 3, 2)
    assert.are.equal(3, #m)
    series({W, W, W, 1, 25 / 18}, m[1], 1e-12, "macd")
    series({W, W, W, 5 / 6, 65 / 54}, m[2], 1e-12, "signal")
    series({W, W, W, 1 / 6, 5 / 27}, m[3], 1e-12, "hist")
  end)

  it("defaults to 12, 26, 9 (first values at bar 34) and matches a recomputation", function()
    local xs = walk(300, 100, 2)
    local slow = ema_ref(xs, 26)
    -- The fast EMA restarted at bar 26 from the mean of bars 15..26.
    local fast, v = {}, nil
    for i = 26, #xs do
      v = i == 26 and mean(xs, 26, 12) or (xs[i] - v) * 2 / 13 + v
      fast[i] = v
    end
    local line = {}
    for i = 26, #xs do line[#line + 1] = fast[i] - slow[i] end
    local sig = ema_ref(line, 9)
    local m = talib.MACD(xs)
    against(m[1], #xs, 34, function(i) return line[i - 25] end, "macd")
    against(m[2], #xs, 34, function(i) return sig[i - 25] end, "signal")
    against(m[3], #xs, 34, function(i) return line[i - 25] - sig[i - 25] end, "hist")
  end)
end)

describe("talib.STDDEV and talib.BBANDS", function()
  local function sd(xs, i, n)
    local m, s = mean(xs, i, n), 0
    for j = i - n + 1, i do s = s + (xs[j] - m) ^ 2 end
    return math.sqrt(s / n)
  end

  it("STDDEV is the population standard deviation times nbdev, over 5 values by default", function()
    -- 2, 4, 4, 4, 5, 5, 7, 9 over all 8: mean 5, squared deviations 9+1+1+1+0+0+4+16 = 32, sd sqrt(32/8) = 2.
    assert.are.equal(2, talib.STDDEV({2, 4, 4, 4, 5, 5, 7, 9}, 8)[8])
    assert.are.equal(3, talib.STDDEV({2, 4, 4, 4, 5, 5, 7, 9}, 8, 1.5)[8])
    local xs = walk(200, 100, 4)
    against(talib.STDDEV(xs), #xs, 5, function(i) return sd(xs, i, 5) end, "STDDEV(5)")
  end)

  it("BBANDS returns {upper, middle, lower}: the MA, and nbdevup and nbdevdn deviations from it", function()
    local xs = walk(200, 100, 4)
    local b = talib.BBANDS(xs)
    assert.are.equal(3, #b)
    against(b[2], #xs, 5, function(i) return mean(xs, i, 5) end, "middle")
    against(b[1], #xs, 5, function(i) return mean(xs, i, 5) + 2 * sd(xs, i, 5) end, "upper")
    against(b[3], #xs, 5, function(i) return mean(xs, i, 5) - 2 * sd(xs, i, 5) end, "lower")
    local e = talib.BBANDS(xs, 10, 1, 3, 1)
    local ref = ema_ref(xs, 10)
    against(e[2], #xs, 10, function(i) return ref[i] end, "EMA middle")
    against(e[1], #xs, 10, function(i) return ref[i] + sd(xs, i, 10) end, "EMA upper")
    against(e[3], #xs, 10, function(i) return ref[i] - 3 * sd(xs, i, 10) end, "EMA lower")
  end)
end)

describe("talib.ADX", function()
  it("smooths +DM, -DM and TR the Wilder way and averages the first n DX, first at bar 2n", function()
    -- n = 2. Bars (H, L, C): (10, 8, 9), (12, 9, 11), (13, 11, 12), (12, 9, 10), (14, 11, 13).
    -- Moves: bar 2 +DM 2 (up 2, down -1), TR 3; bar 3 +DM 1, TR 2; bar 4 -DM 2 (up -1, down 2), TR 3;
    -- bar 5 +DM 2, TR max(3, 4, 1) = 4. Sums over the first n-1 = 1 move: +DM 2, -DM 0, TR 3. Then x - x/2 + move:
    -- bar 3: +DM 2, -DM 0, TR 3.5: DX 100; bar 4: +DM 1, -DM 2, TR 4.75: DX 100*1/3; ADX (100 + 100/3)/2 = 200/3.
    -- bar 5: +DM 2.5, -DM 1, TR 6.375: DX 100*1.5/3.5 = 300/7; ADX (200/3 + 300/7)/2 = 1150/21.
    local r = hl_records({{10, 8, 9}, {12, 9, 11}, {13, 11, 12}, {12, 9, 10}, {14, 11, 13}})
    series({W, W, W, 200 / 3, 1150 / 21}, talib.ADX(r, 2), 1e-12)
  end)

  it("matches a straightforward recomputation with the default 14", function()
    local r = walk_records(300)
    local n = 14
    local pdm, mdm, tr = {}, {}, {}
    for i = 2, #r do
      local up, down = r[i].High - r[i - 1].High, r[i - 1].Low - r[i].Low
      pdm[i] = (up > down and up > 0) and up or 0
      mdm[i] = (down > up and down > 0) and down or 0
      local pc = r[i - 1].Close
      tr[i] = math.max(r[i].High - r[i].Low, math.abs(r[i].High - pc), math.abs(r[i].Low - pc))
    end
    local sp, sm, st = 0, 0, 0
    for i = 2, n do sp, sm, st = sp + pdm[i], sm + mdm[i], st + tr[i] end
    local dx = {}
    for i = n + 1, #r do
      sp, sm, st = sp * (n - 1) / n + pdm[i], sm * (n - 1) / n + mdm[i], st * (n - 1) / n + tr[i]
      local pdi, mdi = 100 * sp / st, 100 * sm / st
      dx[i] = 100 * math.abs(pdi - mdi) / (pdi + mdi)
    end
    local ref, adx = {}, 0
    for i = n + 1, 2 * n do adx = adx + dx[i] / n end
    ref[2 * n] = adx
    for i = 2 * n + 1, #r do
      adx = (adx * (n - 1) + dx[i]) / n
      ref[i] = adx
    end
    against(talib.ADX(r), #r, 2 * n, function(i) return ref[i] end, "ADX(14)")
  end)
end)

describe("talib.SAR", function()
  it("starts long unless bar 2 has a -DM, and reverses to the extreme point when the SAR is reached", function()
    -- Bars (H, L): (10, 9), (11, 9.5): up 1, down -0.5, no -DM: long, SAR = bar 1's Low 9, EP = bar 2's High 11.
    -- Bar 2: 9; next 9 + 0.02*(11 - 9) = 9.04. Bar 3 (12, 10.5): 9.04; new EP 12, AF 0.04: 9.04 + 0.04*2.96 =
    -- 9.1584. Bar 4 (11.5, 9): Low 9 <= 9.1584, reverse: SAR = EP 12 (not below the last two Highs, 12 and 11.5);
    -- then AF 0.02, EP 9: 12 - 0.06 = 11.94, raised to the Highs: 12. Bar 5 (11.8, 8.5): 12; EP 8.5, AF 0.04:
    -- 12 - 0.14 = 11.86. Bar 6 (12, 11): High 12 >= 11.86, reverse: SAR = EP 8.5.
    local r = hl_records({{10, 9}, {11, 9.5}, {12, 10.5}, {11.5, 9}, {11.8, 8.5}, {12, 11}})
    series({W, 9, 9.04, 12, 12, 8.5}, talib.SAR(r), 1e-12)
    -- (10, 9), (9.8, 8): down 1 > up -0.2, a -DM: short, SAR = bar 1's High 10, EP 8; then 10 - 0.02*2 = 9.96.
    series({W, 10, 9.96}, talib.SAR(hl_records({{10, 9}, {9.8, 8}, {9.5, 7}})), 1e-12)
  end)

  it("caps the acceleration at the maximum", function()
    -- A steady rise: the EP rises every bar, AF 0.1, 0.2, then capped at 0.25 with acceleration 0.1.
    local rows = {}
    for i = 1, 6 do rows[i] = {10 + i, 9 + i} end
    local out = talib.SAR(hl_records(rows), 0.1, 0.25)
    -- SAR 10 (bar 1's Low), EP 12. Bar 3: 10 + 0.1*2 = 10.2; EP 13, AF 0.2: 10.2 + 0.2*2.8 = 10.76;
    -- EP 14, AF 0.25: 10.76 + 0.25*3.24 = 11.57; EP 15: 11.57 + 0.25*3.43 = 12.4275.
    series({W, 10, 10.2, 10.76, 11.57, 12.4275}, out, 1e-12)
  end)
end)

describe("talib.LINEARREG_SLOPE", function()
  it("is the least-squares slope per bar of the last n values, 14 by default", function()
    local line = {}
    for i = 1, 20 do line[i] = 5 + 3 * i end
    against(talib.LINEARREG_SLOPE(line), 20, 14, function() return 3 end, "a line")
    local xs = walk(200, 100, 3)
    against(talib.LINEARREG_SLOPE(xs, 9), #xs, 9, function(i)
      local mx, my = 5, mean(xs, i, 9)
      local num, den = 0, 0
      for k = 1, 9 do
        num = num + (k - mx) * (xs[i - 9 + k] - my)
        den = den + (k - mx) ^ 2
      end
      return num / den
    end, "slope(9)")
  end)
end)

describe("talib.STOCHRSI", function()
  it("is STOCHF on the RSI: {fastk, fastd}, both from bar n + fastk + fastd - 1", function()
    local xs = walk(300, 100, 3)
    local rsi = rsi_ref(xs, 14)
    local k = {}
    for i = 19, #xs do
      local hi, lo = -math.huge, math.huge
      for j = i - 4, i do hi, lo = math.max(hi, rsi[j]), math.min(lo, rsi[j]) end
      k[i] = hi == lo and 0 or 100 * (rsi[i] - lo) / (hi - lo)
    end
    local s = talib.STOCHRSI(xs)
    assert.are.equal(2, #s)
    against(s[1], #xs, 21, function(i) return k[i] end, "fastk")
    against(s[2], #xs, 21, function(i) return mean(k, i, 3) end, "fastd")
  end)

  it("gives fast K 0 where the RSI has no range", function()
    local s = talib.STOCHRSI({1, 2, 3, 4, 5, 6, 7}, 2, 2, 1)
    series({W, W, W, 0, 0, 0, 0}, s[1], 0, "fastk")  -- the RSI is 100 throughout
  end)
end)

describe("talib input", function()
  it("skips leading placeholders of a plain array, as TA-Lib's Python wrapper does", function()
    series({W, W, W, 1.5, 2.5}, talib.SMA({TA.NONE, TA.NONE, 1, 2, 3}, 2), 0)
    assert.are.same({}, talib.EMA({}, 5))
  end)

  it("gives only placeholders on fewer bars than the lookback", function()
    series({W, W, W}, talib.RSI({1, 2, 3}, 3), 0)
    series({W, W, W}, talib.ADX(hl_records({{2, 1}, {3, 2}, {4, 3}}), 2), 0)
    for _, out in ipairs(talib.MACD({1, 2, 3})) do series({W, W, W}, out, 0) end
  end)

  it("computes in floating point on large integers", function()
    local big = math.maxinteger
    assert.are.equal(2.0 ^ 63, talib.SMA({big, big}, 2)[2])
    -- Changes +2^63 and -2^64 (minint - maxint wraps to +1 in integer arithmetic, which would read as a rise):
    -- g = 2^62, l = 2^63, RSI 100/3.
    series({W, W, 100 / 3}, talib.RSI({0, big, math.mininteger}, 2), 1e-12)
  end)
end)

describe("talib bad arguments", function()
  local xs = {1, 2, 3, 4, 5}
  local bars = hl_records({{2, 1}, {3, 2}, {4, 3}})
  local cases = {
    {talib.SMA, {xs, 1}, "bad argument #2 to 'talib.SMA' (n: integer from 2 to 100000 expected, got 1)"},
    {talib.EMA, {xs, 100001}, "bad argument #2 to 'talib.EMA' (n: integer from 2 to 100000 expected, got 100001)"},
    {talib.RSI, {xs, 2.5}, "bad argument #2 to 'talib.RSI' (n: integer from 2 to 100000 expected, got 2.5)"},
    {talib.MA, {xs, 5, 3}, "bad argument #3 to 'talib.MA' (matype: 0 (SMA) or 1 (EMA) expected, got 3)"},
    {talib.MACD, {xs, 12, 26, 0},
      "bad argument #4 to 'talib.MACD' (signal: integer from 1 to 100000 expected, got 0)"},
    {talib.STDDEV, {xs, 5, 0 / 0}, "bad argument #3 to 'talib.STDDEV' (nbdev: finite number expected, got nan)"},
    {talib.BBANDS, {xs, 5, 2, "2"},
      "bad argument #4 to 'talib.BBANDS' (nbdevdn: finite number expected, got string \"2\")"},
    {talib.ATR, {xs},
      "bad argument #1 to 'talib.ATR' (records expected (High, Low and Close are needed), got an array of numbers)"},
    {talib.ADX, {bars, 1}, "bad argument #2 to 'talib.ADX' (n: integer from 2 to 100000 expected, got 1)"},
    {talib.SAR, {xs},
      "bad argument #1 to 'talib.SAR' (records expected (High and Low are needed), got an array of numbers)"},
    {talib.SAR, {bars, -0.02}, "bad argument #2 to 'talib.SAR' (acceleration: number >= 0 expected, got -0.02)"},
    {talib.STOCHRSI, {xs, 14, 0},
      "bad argument #3 to 'talib.STOCHRSI' (fastk: integer from 1 to 100000 expected, got 0)"},
    {talib.LINEARREG_SLOPE, {{1, 2, 1 / 0}},
      "bad argument #1 to 'talib.LINEARREG_SLOPE' (element 3: finite number expected, got inf)"},
    {talib.SMA, {"BTC_USDT"},
      "bad argument #1 to 'talib.SMA' (records or array of numbers expected, got string \"BTC_USDT\")"},
    {talib.ATR, {{{High = 2, Low = 1, Close = 1}, {High = 2, Low = 0 / 0, Close = 1}}},
      "bad argument #1 to 'talib.ATR' (record 2: Low must be a finite number, got nan)"},
  }
  for _, case in ipairs(cases) do
    local f, args, message = case[1], case[2], case[3]
    it("raises " .. message, function() I.bad_argument(f, args, message) end)
  end
end)

describe("a TA-Lib function stratrun does not have", function()
  it("raises naming it and the docs where it is read, not as a call of nil", function()
    local err = error_of(function() return talib.CCI({1, 2, 3}, 2) end)
    assert.matches("talib_spec%.lua:%d+: talib%.CCI is not available in stratrun %(see docs/platform%.md", err)
  end)
end)

describe("the talib global", function()
  it("is there in a strategy, next to TA, and agrees with it where both define the same thing", function()
    local dir = h.tmpdir()
    h.script(dir, [[
function main()
  local r = exchange.GetRecords()
  local a, b = talib.SMA(r, 5), TA.MA(r, 5)
  local e1, e2 = talib.EMA(r, 5), TA.EMA(r, 5)
  Log("talib", #a == #r, a[#a] == b[#b], math.abs(e1[#e1] - e2[#e2]) < 1e-9, TA.isnone(talib.SMA(r, 5)[4]))
end
]])
    local r = h.run {dir = dir, "--data-dir", dir .. "/data", "--id", "talibbot", "strategy.lua"}
    assert.are.equal(0, r.code, r.err)
    assert.matches("talib true true true true", r.out, 1, true)
  end)

  it("is there in a replay, where ADX's lookback and TA.Highest's window hold on the replayed bars", function()
    local dir = h.tmpdir()
    h.script(dir, [[
function main()
  local r = exchange.GetRecords()
  while #r < 60 do
    Sleep(60000)
    r = exchange.GetRecords()
  end
  local adx, sum = talib.ADX(r), 0
  for i = #r - 4, #r do sum = sum + r[i].Close end
  local high = -math.huge
  for i = #r - 20, #r - 1 do high = math.max(high, r[i].High) end
  Log("talib", #r, TA.isnone(adx[27]) and not TA.isnone(adx[28]), math.abs(talib.SMA(r, 5)[#r] - sum / 5) < 1e-9,
    TA.Highest(r, 20, "High") == high)
end
]])
    local r = h.run {dir = dir, "replay", "--data-dir", dir .. "/data", "--market", "sim:seed=7,bars=300,history=0",
                 "strategy.lua"}
    assert.are.equal(0, r.code, r.err)
    assert.matches("talib 60 true true true", r.out, 1, true)
  end)
end)
