-- Spec for stdlib/ta.lua: the TA indicators against values worked out by hand (the arithmetic is in the comments)
-- or printed in published worked examples (the source is named where the numbers are), plus brute-force window
-- recomputations on long series, alignment, the warm-up placeholder, records vs plain arrays, and bad arguments.
local TA = require("ta")

local I = require("indicators")
local W, series, identical, walk, error_of = I.W, I.series, I.identical, I.walk, I.error_of
local walk_bars = I.walk_bars

local function records_of(closes)
  local r = {}
  for i, c in ipairs(closes) do
    r[i] = {Time = 1700000000000 + i * 60000, Open = c, High = c + 1, Low = c - 1, Close = c, Volume = 1}
  end
  return r
end

-- bars = {{High, Low, Close}, ...}
local function hlc_records(bars)
  local r = {}
  for i, b in ipairs(bars) do
    r[i] = {Time = 1700000000000 + i * 60000, Open = b[3], High = b[1], Low = b[2], Close = b[3], Volume = 1}
  end
  return r
end

describe("TA placeholder", function()
  it("is a NaN that TA.isnone recognises, as it does nil", function()
    assert.are.equal("number", type(TA.NONE))
    assert.is_true(TA.NONE ~= TA.NONE)
    assert.are.equal("nan", tostring(TA.NONE))
    assert.is_true(TA.isnone(TA.NONE))
    assert.is_true(TA.isnone(0 / 0))
    assert.is_true(TA.isnone(nil))
    assert.is_false(TA.isnone(0))
    assert.is_false(TA.isnone(-1.5))
    assert.is_false(TA.isnone(false))
  end)

  -- name, call, warm-up length (placeholders before the first value) with the arguments used
  local closes = walk(60, 100, 2)
  local bars = hlc_records(walk_bars(60))
  local cases = {
    {"MA(r, 7)", function(r) return {TA.MA(r, 7)} end, {6}},
    {"SMA(r, 7)", function(r) return {TA.SMA(r, 7)} end, {6}},
    {"EMA(r, 7)", function(r) return {TA.EMA(r, 7)} end, {6}},
    {"MACD(r, 5, 9, 4)", function(r) return TA.MACD(r, 5, 9, 4) end, {8, 11, 11}},
    {"BOLL(r, 6, 2)", function(r) return TA.BOLL(r, 6, 2) end, {5, 5, 5}},
    {"RSI(r, 6)", function(r) return {TA.RSI(r, 6)} end, {6}},
    {"ATR(r, 6)", function(r) return {TA.ATR(r, 6)} end, {0}, true},    -- the platform's: no warm-up
    {"KDJ(r, 6, 3, 3)", function(r) return TA.KDJ(r, 6, 3, 3) end, {5, 5, 5}, true},
  }

  for _, case in ipairs(cases) do
    local name, call, warm, needs_records = case[1], case[2], case[3], case[4]
    local input = needs_records and bars or closes

    it(name .. " returns arrays as long as the input, placeholders exactly in the warm-up", function()
      local outs = call(input)
      assert.are.equal(#warm, #outs)
      for j, out in ipairs(outs) do
        assert.are.equal(#input, #out)
        for i = 1, #input do
          assert.are.equal(i <= warm[j], TA.isnone(out[i]), string.format("output %d, element %d", j, i))
          assert.are.equal("number", type(out[i]))
        end
      end
    end)

    it(name .. " on fewer bars than its warm-up gives only placeholders, and {} on {}", function()
      local short = {table.unpack(input, 1, 4)}
      for j, out in ipairs(call(short)) do
        if warm[j] > 0 then series({W, W, W, W}, out, 0, name) end
      end
      for _, out in ipairs(call({})) do
        assert.are.same({}, out)
      end
    end)
  end

  it("lets the platform's crossover test run on exactly 20 records, and fire on the 21st", function()
    -- Nineteen closes at 10, then 20: MA5 = (4*10 + 20)/5 = 12 and MA20 = (19*10 + 20)/20 = 10.5 at the last bar.
    local closes20 = {}
    for i = 1, 19 do closes20[i] = 10 end
    closes20[20] = 20
    local r = records_of(closes20)
    local ma5, ma20 = TA.MA(r, 5), TA.MA(r, 20)
    assert.are.equal(12, ma5[#ma5])
    assert.are.equal(10.5, ma20[#ma20])
    -- ma20[19] is still warming up: the comparison is false, no error, no signal.
    assert.is_false(ma5[#ma5] > ma20[#ma20] and ma5[#ma5 - 1] <= ma20[#ma20 - 1])
    assert.is_false(ma5[#ma5] < ma20[#ma20] and ma5[#ma5 - 1] >= ma20[#ma20 - 1])
    -- Twenty closes at 10, then 20: at bar 20 both MAs are 10 (<=), at bar 21 MA5 = 12 > MA20 = 10.5: BUY.
    local closes21 = {}
    for i = 1, 20 do closes21[i] = 10 end
    closes21[21] = 20
    r = records_of(closes21)
    ma5, ma20 = TA.MA(r, 5), TA.MA(r, 20)
    assert.is_true(ma5[#ma5] > ma20[#ma20] and ma5[#ma5 - 1] <= ma20[#ma20 - 1])
  end)

  it("at the start of a plain array counts as warm-up, so indicators chain", function()
    -- MA2 of 1..6 = _, 1.5, 2.5, 3.5, 4.5, 5.5. EMA2 of that (alpha 2/3) is seeded at bar 3 with
    -- (1.5 + 2.5)/2 = 2, then 2/3*3.5 + 1/3*2 = 3, 2/3*4.5 + 1/3*3 = 4, 2/3*5.5 + 1/3*4 = 5.
    series({W, W, 2, 3, 4, 5}, TA.EMA(TA.MA({1, 2, 3, 4, 5, 6}, 2), 2), 1e-12)
    series({W, W, W, 1.5, 2.5, 3.5}, TA.MA({TA.NONE, 0 / 0, 1, 2, 3, 4}, 2), 0)
  end)

  it("after the first real value is an error", function()
    local err = error_of(TA.MA, {1, 2, TA.NONE, 4}, 2)
    assert.matches("bad argument #1 to 'TA.MA' (element 3: finite number expected, got nan)", err, 1, true)
  end)
end)

describe("TA.MA", function()
  it("averages the last n values", function()
    -- (10+11+15)/3 = 12, (11+15+12)/3 = 38/3, (15+12+20)/3 = 47/3, (12+20+8)/3 = 40/3
    series({W, W, 12, 38 / 3, 47 / 3, 40 / 3}, TA.MA({10, 11, 15, 12, 20, 8}, 3), 1e-12)
    -- (10+11+15+12+20+8)/6 = 76/6
    series({W, W, W, W, W, 76 / 6}, TA.MA({10, 11, 15, 12, 20, 8}, 6), 1e-12)
  end)

  it("is TA.SMA, and n = 1 gives the values back", function()
    local xs = walk(50, 100, 3)
    identical(TA.MA(xs, 9), TA.SMA(xs, 9))
    series(xs, TA.MA(xs, 1), 0)
    series({W, W, W}, TA.SMA({1, 2, 3}, 4), 0)
  end)

  it("matches a brute-force window sum at every bar of a long series", function()
    -- 20,000 prices around 30,000: a running sum that drifted would show here.
    local xs, n = walk(20000, 30000, 50), 50
    local ma = TA.MA(xs, n)
    assert.are.equal(#xs, #ma)
    for i = n, #xs do
      local s = 0
      for j = i - n + 1, i do s = s + xs[j] end
      if math.abs(ma[i] - s / n) > 1e-9 * math.abs(s / n) then
        error(string.format("MA[%d] = %.17g, window sum gives %.17g", i, ma[i], s / n))
      end
    end
  end)

  it("recovers exactly from a huge outlier once the window sum is recounted", function()
    -- 0.1 + 1e17 rounds to 1e17, so a running sum that only added and subtracted would stay wrong after the
    -- outlier left the window. The sum is recounted every 128 bars: from bar 10 + 5 + 128 on, MA5 is 0.1 again.
    local xs = {}
    for i = 1, 400 do xs[i] = 0.1 end
    xs[10] = 1e17
    local ma = TA.MA(xs, 5)
    for i = 10 + 5 + 128, 400 do
      if math.abs(ma[i] - 0.1) > 1e-12 then error(string.format("MA[%d] = %.17g", i, ma[i])) end
    end
  end)
end)

describe("TA.EMA", function()
  it("is seeded with the SMA of the first n values, then alpha = 2/(n+1)", function()
    -- n = 3, alpha = 1/2: seed (2+4+6)/3 = 4; (8+4)/2 = 6; (3+6)/2 = 4.5; (1+4.5)/2 = 2.75
    series({W, W, 4, 6, 4.5, 2.75}, TA.EMA({2, 4, 6, 8, 3, 1}, 3), 0)
    -- n = 4, alpha = 2/5: seed (1+2+3+4)/4 = 2.5; 0.4*9 + 0.6*2.5 = 5.1; 0.4*0 + 0.6*5.1 = 3.06
    series({W, W, W, 2.5, 5.1, 3.06}, TA.EMA({1, 2, 3, 4, 9, 0}, 4), 1e-12)
  end)

  it("with n = 1 follows the values", function()
    series({5, 7, 1}, TA.EMA({5, 7, 1}, 1), 0)
  end)
end)

describe("TA.MACD", function()
  it("returns {dif, dea, hist} with hist = dif - dea, not doubled", function()
    -- Closes 1, 4, 7, 4, 1, 4 with fast 2 (alpha 2/3), slow 3 (alpha 1/2), signal 2 (alpha 2/3).
    -- EMA2: seed (1+4)/2 = 5/2 at bar 2; 2/3*7 + 1/3*5/2 = 11/2; 2/3*4 + 1/3*11/2 = 9/2;
    --       2/3*1 + 1/3*9/2 = 13/6; 2/3*4 + 1/3*13/6 = 61/18
    -- EMA3: seed (1+4+7)/3 = 4 at bar 3; (4+4)/2 = 4; (1+4)/2 = 5/2; (4+5/2)/2 = 13/4
    -- dif = EMA2 - EMA3 from bar 3: 3/2, 1/2, 13/6 - 5/2 = -1/3, 61/18 - 13/4 = 5/36
    -- dea = EMA2 of dif, seeded at bar 4 with (3/2 + 1/2)/2 = 1; 2/3*(-1/3) + 1/3*1 = 1/9;
    --       2/3*5/36 + 1/3*1/9 = 7/54
    -- hist = dif - dea: 1/2 - 1 = -1/2, -1/3 - 1/9 = -4/9, 5/36 - 7/54 = 1/108
    local m = TA.MACD({1, 4, 7, 4, 1, 4}, 2, 3, 2)
    assert.are.equal(3, #m)
    series({W, W, 3 / 2, 1 / 2, -1 / 3, 5 / 36}, m[1], 1e-12, "dif")
    series({W, W, W, 1, 1 / 9, 7 / 54}, m[2], 1e-12, "dea")
    series({W, W, W, -1 / 2, -4 / 9, 1 / 108}, m[3], 1e-12, "hist")
  end)

  it("defaults to 12, 26, 9: dif from bar 26, dea and hist from bar 34", function()
    local xs = walk(40, 100, 2)
    local m = TA.MACD(xs)
    for i = 1, 40 do
      assert.are.equal(i < 26, TA.isnone(m[1][i]), "dif " .. i)
      assert.are.equal(i < 34, TA.isnone(m[2][i]), "dea " .. i)
      assert.are.equal(i < 34, TA.isnone(m[3][i]), "hist " .. i)
    end
    local explicit = TA.MACD(xs, 12, 26, 9)
    for j = 1, 3 do identical(explicit[j], m[j]) end
  end)
end)

describe("TA.BOLL", function()
  it("puts the bands k population standard deviations from the n-bar mean", function()
    -- Windows of 4 over 2, 4, 4, 4, 5, 5, 7, 9 (mean; squared deviations; population variance = sum/4):
    --   2 4 4 4: 3.5;  2.25 + 3*0.25 = 3;                 0.75
    --   4 4 4 5: 4.25; 3*0.0625 + 0.5625 = 0.75;           0.1875
    --   4 4 5 5: 4.5;  4*0.25 = 1;                          0.25
    --   4 5 5 7: 5.25; 1.5625 + 2*0.0625 + 3.0625 = 4.75;   1.1875
    --   5 5 7 9: 6.5;  2.25 + 2.25 + 0.25 + 6.25 = 11;      2.75
    local b = TA.BOLL({2, 4, 4, 4, 5, 5, 7, 9}, 4, 2)
    local mean = {3.5, 4.25, 4.5, 5.25, 6.5}
    local var = {0.75, 0.1875, 0.25, 1.1875, 2.75}
    local up, mid, low = {W, W, W}, {W, W, W}, {W, W, W}
    for i = 1, 5 do
      up[i + 3] = mean[i] + 2 * math.sqrt(var[i])
      mid[i + 3] = mean[i]
      low[i + 3] = mean[i] - 2 * math.sqrt(var[i])
    end
    assert.are.equal(3, #b)
    series(up, b[1], 1e-12, "up")
    series(mid, b[2], 1e-12, "mid")
    series(low, b[3], 1e-12, "low")
  end)

  it("uses the population, not the sample, standard deviation", function()
    -- 2, 4, 4, 4, 5, 5, 7, 9: mean 5, squared deviations 9+1+1+1+0+0+4+16 = 32, 32/8 = 4, sd 2
    -- (the sample sd, sqrt(32/7), would put the bands at 5 +- 4.276).
    local b = TA.BOLL({2, 4, 4, 4, 5, 5, 7, 9}, 8, 2)
    series({W, W, W, W, W, W, W, 9}, b[1], 1e-12, "up")
    series({W, W, W, W, W, W, W, 5}, b[2], 1e-12, "mid")
    series({W, W, W, W, W, W, W, 1}, b[3], 1e-12, "low")
    -- k = 1.5: 5 +- 3; k = 0: the bands sit on the mean
    series({W, W, W, W, W, W, W, 8}, TA.BOLL({2, 4, 4, 4, 5, 5, 7, 9}, 8, 1.5)[1], 1e-12, "up k=1.5")
    series({W, W, W, W, W, W, W, 5}, TA.BOLL({2, 4, 4, 4, 5, 5, 7, 9}, 8, 0)[3], 1e-12, "low k=0")
  end)

  it("matches the StockCharts Bollinger Bands example (20, 2)", function()
    -- Closes: StockCharts ChartSchool, "Bollinger Bands", calculation example spreadsheet (42 days).
    -- Expected (bars 20..42): the bands of that example as printed to 9 significant digits by a published numpy
    -- doctest (np.std, the population deviation), each digit confirmed by an exact rational recomputation
    -- (Python fractions) made for this spec. StockCharts prints them rounded to 2 decimals.
    local closes = {
      86.16, 89.09, 88.78, 90.32, 89.07, 91.15, 89.44, 89.18, 86.93, 87.68, 86.96, 89.43, 89.32, 88.72,
      87.45, 87.26, 89.50, 87.90, 89.13, 90.70, 92.90, 92.98, 91.80, 92.66, 92.68, 92.30, 92.77, 92.54,
      92.95, 93.20, 91.07, 89.83, 89.74, 90.40, 90.74, 88.02, 88.09, 88.84, 90.78, 90.54, 91.39, 90.65,
    }
    local rows = {
      {91.2919107, 88.7085000, 86.1250893}, {91.9497209, 89.0455000, 86.1412791},
      {92.6132536, 89.2400000, 85.8667464}, {92.9344497, 89.3910000, 85.8475503},
      {93.3114122, 89.5080000, 85.7045878}, {93.7270110, 89.6885000, 85.6499890},
      {93.8972812, 89.7460000, 85.5947188}, {94.2636418, 89.9125000, 85.5613582},
      {94.5630193, 90.0805000, 85.5979807}, {94.7851634, 90.3815000, 85.9778366},
      {95.0411874, 90.6575000, 86.2738126}, {94.9062071, 90.8630000, 86.8197929},
      {94.9015375, 90.8830000, 86.8644625}, {94.8939343, 90.9040000, 86.9140657},
      {94.8594576, 90.9880000, 87.1165424}, {94.6722663, 91.1525000, 87.6327337},
      {94.5543042, 91.1905000, 87.8266958}, {94.6761721, 91.1200000, 87.5638279},
      {94.5733946, 91.1670000, 87.7606054}, {94.5322396, 91.2495000, 87.9667604},
      {94.5303313, 91.2415000, 87.9526687}, {94.3672335, 91.1660000, 87.9647665},
      {94.1460689, 91.0495000, 87.9529311},
    }
    local expected = {{}, {}, {}}
    for j = 1, 3 do
      for i = 1, 19 do expected[j][i] = W end
      for i, row in ipairs(rows) do expected[j][19 + i] = row[j] end
    end
    local b = TA.BOLL(closes)  -- the defaults are 20, 2
    series(expected[1], b[1], 5e-8, "up")
    series(expected[2], b[2], 5e-8, "mid")
    series(expected[3], b[3], 5e-8, "low")
  end)

  it("has mid equal to TA.MA and bands equal to a two-pass deviation on a long series", function()
    local xs, n = walk(5000, 30000, 50), 20
    local b, ma = TA.BOLL(xs, n, 2), TA.MA(xs, n)
    identical(ma, b[2], "mid vs MA")
    for i = n, #xs do
      local s, q = 0, 0
      for j = i - n + 1, i do s = s + xs[j] end
      local mean = s / n
      for j = i - n + 1, i do q = q + (xs[j] - mean) ^ 2 end
      local w = 2 * math.sqrt(q / n)
      if math.abs(b[1][i] - (mean + w)) > 1e-9 * mean or math.abs(b[3][i] - (mean - w)) > 1e-9 * mean then
        error(string.format("bar %d: bands %.17g/%.17g, two-pass gives %.17g/%.17g",
          i, b[1][i], b[3][i], mean + w, mean - w))
      end
    end
  end)
end)

describe("TA.RSI", function()
  it("averages the first n changes, then smooths the Wilder way", function()
    -- n = 3 on 10, 12, 11, 13, 13, 10: changes +2, -1, +2, 0, -3.
    -- bar 4: gain (2+2)/3 = 4/3, loss 1/3: RSI = 100 * (4/3) / (5/3) = 80
    -- bar 5 (0): gain (2*4/3 + 0)/3 = 8/9, loss (2*1/3)/3 = 2/9: 100 * 8/10 = 80
    -- bar 6 (-3): gain (2*8/9)/3 = 16/27, loss (2*2/9 + 3)/3 = 31/27: 100 * 16/47
    series({W, W, W, 80, 80, 1600 / 47}, TA.RSI({10, 12, 11, 13, 13, 10}, 3), 1e-12)
  end)

  it("is 100 when only rising, 0 when only falling, 50 when flat", function()
    series({W, W, 100, 100}, TA.RSI({1, 2, 3, 4}, 2), 0)
    series({W, W, 0, 0}, TA.RSI({4, 3, 2, 1}, 2), 0)
    series({W, W, 50, 50}, TA.RSI({5, 5, 5, 5}, 2), 0)
  end)

  it("matches the StockCharts RSI example (14)", function()
    -- Closes and RSI: StockCharts ChartSchool, "Relative Strength Index (RSI)", calculation example
    -- spreadsheet (cs-rsi.xls): 33 closes with 4 decimals, RSI printed to 2 decimals from bar 15.
    -- PyAlgoTrade's RSI test (testRSIFunc) prints the first and last to 8 decimals: 70.53278948 and 37.77295211.
    local closes = {
      44.3389, 44.0902, 44.1497, 43.6124, 44.3278, 44.8264, 45.0955, 45.4245, 45.8433, 46.0826, 45.8931,
      46.0328, 45.6140, 46.2820, 46.2820, 46.0028, 46.0328, 46.4116, 46.2222, 45.6439, 46.2122, 46.2521,
      45.7137, 46.4515, 45.7835, 45.3548, 44.0288, 44.1783, 44.2181, 44.5672, 43.4205, 42.6628, 43.1314,
    }
    local printed = {
      70.53, 66.32, 66.55, 69.41, 66.36, 57.97, 62.93, 63.26, 56.06, 62.38, 54.71, 50.42, 39.99, 41.46,
      41.87, 45.46, 37.30, 33.08, 37.77,
    }
    local expected = {}
    for i = 1, 14 do expected[i] = W end
    for i, v in ipairs(printed) do expected[14 + i] = v end
    local rsi = TA.RSI(closes)  -- the default n is 14
    series(expected, rsi, 0.005 + 1e-9)
    assert.is_true(math.abs(rsi[15] - 70.53278948) <= 5e-9, rsi[15])
    assert.is_true(math.abs(rsi[33] - 37.77295211) <= 5e-9, rsi[33])
  end)
end)

describe("TA.ATR", function()
  it("smooths the true range, which reaches back to the previous close across gaps", function()
    -- n = 3. True ranges: bar 1 has no previous close: 10 - 8 = 2;
    --   bar 2: max(11-9, |11-9|, |9-9|) = 2; bar 3 gaps up: max(2, |14-10.5|, |12-10.5|) = 3.5;
    --   bar 4 gaps down: max(2, |12-13|, |10-13|) = 3; bar 5: max(0.5, |11-10.5|, |10.5-10.5|) = 0.5
    -- ATR: (2+2+3.5)/3 = 2.5 at bar 3; (2*2.5 + 3)/3 = 8/3; (2*8/3 + 0.5)/3 = 35/18. Before bar 3, as the platform's
    -- ta.js: the mean of the true ranges so far, 2 and (2+2)/2 = 2.
    local r = hlc_records({{10, 8, 9}, {11, 9, 10.5}, {14, 12, 13}, {12, 10, 10.5}, {11, 10.5, 11}})
    series({2, 2, 2.5, 8 / 3, 35 / 18}, TA.ATR(r, 3), 1e-12)
  end)

  it("matches the StockCharts ATR example (14)", function()
    -- High, Low, Close and ATR: StockCharts ChartSchool, "Average True Range (ATR)", calculation example
    -- spreadsheet (cs-atr.xls, as transcribed in PyAlgoTrade's ATR test, testStockChartsATR), ATR printed to
    -- 2 decimals from bar 14. The first ATR is the mean of the first 14 true ranges:
    -- 0.91 + 0.58 + 0.51 + 0.50 + 0.58 + 0.415 + 0.26 + 0.49 + 0.60 + 0.32 + 0.93 + 0.76 + 0.45 + 0.465 = 7.77,
    -- 7.77 / 14 = 0.555 (printed 0.56).
    local high = {
      48.70, 48.72, 48.90, 48.87, 48.82, 49.05, 49.20, 49.35, 49.92, 50.19, 50.12, 49.66, 49.88, 50.19, 50.36,
      50.57, 50.65, 50.43, 49.63, 50.33, 50.29, 50.17, 49.32, 48.50, 48.32, 46.80, 47.80, 48.39, 48.66, 48.79,
    }
    local low = {
      47.790, 48.140, 48.390, 48.370, 48.240, 48.635, 48.940, 48.860, 49.500, 49.870, 49.200, 48.900, 49.430,
      49.725, 49.260, 50.090, 50.300, 49.210, 48.980, 49.610, 49.200, 49.430, 48.080, 47.640, 41.550, 44.283,
      47.310, 47.200, 47.900, 47.730,
    }
    local close = {
      48.160, 48.610, 48.750, 48.630, 48.740, 49.030, 49.070, 49.320, 49.910, 50.130, 49.530, 49.500, 49.750,
      50.030, 50.310, 50.520, 50.410, 49.340, 49.370, 50.230, 49.238, 49.930, 48.430, 48.180, 46.570, 45.410,
      47.770, 47.720, 48.620, 47.850,
    }
    local printed = {
      0.56, 0.59, 0.59, 0.57, 0.62, 0.62, 0.64, 0.67, 0.69, 0.78, 0.78, 1.21, 1.30, 1.38, 1.37, 1.34, 1.32,
    }
    local bars, expected = {}, {}
    for i = 1, #high do bars[i] = {high[i], low[i], close[i]} end
    local trs, sum = { 0.91, 0.58, 0.51, 0.50, 0.58, 0.415, 0.26, 0.49, 0.60, 0.32, 0.93, 0.76, 0.45 }, 0
    for i = 1, 13 do    -- before bar 14, the platform's running mean of the true ranges (listed above)
      sum = sum + trs[i]
      expected[i] = sum / i
    end
    for i, v in ipairs(printed) do expected[13 + i] = v end
    local atr = TA.ATR(hlc_records(bars))  -- the default n is 14
    series(expected, atr, 0.005 + 1e-9)
    assert.is_true(math.abs(atr[14] - 0.555) <= 1e-12, atr[14])
  end)
end)

describe("TA.KDJ", function()
  it("takes RSV over n bars and smooths K and D from 50", function()
    -- n = k = d = 3. Bars (High, Low, Close); HHV and LLV over the last 3 bars; RSV = 100*(C-LLV)/(HHV-LLV);
    -- K = (2K + RSV)/3, D = (2D + K)/3, both starting from 50; J = 3K - 2D.
    --   1 (10, 6, 8)  2 (12, 7, 11): warm-up
    --   3 (11, 8, 9):    HHV 12, LLV 6: RSV 50;     K 50;                    D 50;                      J 50
    --   4 (14, 10, 14):  HHV 14, LLV 7: RSV 100;    K (100+100)/3 = 200/3;   D (100+200/3)/3 = 500/9;   J 800/9
    --   5 (13, 9, 9):    HHV 14, LLV 8: RSV 50/3;   K (400/3+50/3)/3 = 50;   D (1000/9+50)/3 = 1450/27; J 1150/27
    --   6 (9, 9, 9):     HHV 14, LLV 9: RSV 0;      K 100/3;  D (2900/27+100/3)/3 = 3800/81;            J 500/81
    --   7 (10, 9.5, 10): HHV 13 (bar 4's 14 left), LLV 9: RSV 25; K (200/3+25)/3 = 275/9;
    --                    D (7600/81+275/9)/3 = 10075/243; J 275/3 - 20150/243 = 2125/243
    local r = hlc_records({{10, 6, 8}, {12, 7, 11}, {11, 8, 9}, {14, 10, 14}, {13, 9, 9}, {9, 9, 9}, {10, 9.5, 10}})
    local kdj = TA.KDJ(r, 3, 3, 3)
    assert.are.equal(3, #kdj)
    series({W, W, 50, 200 / 3, 50, 100 / 3, 275 / 9}, kdj[1], 1e-12, "K")
    series({W, W, 50, 500 / 9, 1450 / 27, 3800 / 81, 10075 / 243}, kdj[2], 1e-12, "D")
    series({W, W, 50, 800 / 9, 1150 / 27, 500 / 81, 2125 / 243}, kdj[3], 1e-12, "J")
  end)

  it("reads a bar range of zero as RSV 100, the platform's value", function()
    -- K and D start from 50: K = (2*50 + 100)/3 = 200/3, D = (2*50 + 200/3)/3 = 500/9, J = 3K - 2D = 800/9;
    -- then K = (2*200/3 + 100)/3 = 700/9, D = (2*500/9 + 700/9)/3 = 1700/27, J = 2100/9 - 3400/27 = 2900/27.
    local r = hlc_records({{5, 5, 5}, {5, 5, 5}, {5, 5, 5}})
    local kdj = TA.KDJ(r, 2, 3, 3)
    series({W, 200 / 3, 700 / 9}, kdj[1], 1e-12, "K")
    series({W, 500 / 9, 1700 / 27}, kdj[2], 1e-12, "D")
    series({W, 800 / 9, 2900 / 27}, kdj[3], 1e-12, "J")
  end)

  it("matches a brute-force window scan on a long series (defaults 9, 3, 3)", function()
    local bars = walk_bars(3000)
    local kdj = TA.KDJ(hlc_records(bars))
    local K, D = 50, 50
    for i = 1, #bars do
      if i < 9 then
        assert.is_true(TA.isnone(kdj[1][i]) and TA.isnone(kdj[2][i]) and TA.isnone(kdj[3][i]), i)
      else
        local hi, lo = -math.huge, math.huge
        for j = i - 8, i do
          hi = math.max(hi, bars[j][1])
          lo = math.min(lo, bars[j][2])
        end
        K = (2 * K + 100 * (bars[i][3] - lo) / (hi - lo)) / 3
        D = (2 * D + K) / 3
        local got = {kdj[1][i], kdj[2][i], kdj[3][i]}
        local want = {K, D, 3 * K - 2 * D}
        for j = 1, 3 do
          if math.abs(got[j] - want[j]) > 1e-9 then
            error(string.format("bar %d, output %d: %.17g, brute force gives %.17g", i, j, got[j], want[j]))
          end
        end
      end
    end
  end)
end)

describe("TA defaults", function()
  it("are the platform's: a bare TA.MA, TA.SMA or TA.EMA averages 9 values", function()
    local xs = walk(40, 100, 2)
    identical(TA.MA(xs, 9), TA.MA(xs), "MA")
    identical(TA.MA(xs, 9), TA.SMA(xs), "SMA")
    identical(TA.EMA(xs, 9), TA.EMA(xs), "EMA")
    -- The first average is the mean of the first 9 values, at bar 9.
    local sum = 0
    for i = 1, 9 do sum = sum + xs[i] end
    assert.is_true(TA.isnone(TA.MA(xs)[8]))
    assert.is_true(math.abs(TA.MA(xs)[9] - sum / 9) < 1e-9)
  end)
end)

describe("TA.Highest and TA.Lowest", function()
  it("look at the n values before the last one, as the platform does", function()
    local xs = {4, 9, 1, 7, 3, 20}
    assert.are.equal(7, TA.Highest(xs, 2))   -- 7, 3: the last value (20) is not in the window
    assert.are.equal(3, TA.Lowest(xs, 2))
    assert.are.equal(9, TA.Highest(xs, 4))   -- 9, 1, 7, 3
    assert.are.equal(1, TA.Lowest(xs, 4))
  end)

  it("take all values before the last one for n = 0 or n past the start", function()
    local xs = {4, 9, 1, 7, 3, 20}
    assert.are.equal(9, TA.Highest(xs, 0))
    assert.are.equal(1, TA.Lowest(xs, 100))
    -- The true extremes, also for an all-negative series (the platform's seed gives 5e-324 there).
    assert.are.equal(-2, TA.Highest({-5, -2, -9, -1}, 0))
    assert.are.equal(-9, TA.Lowest({-5, -2, -9, -1}, 3))
  end)

  it("read the named field of records", function()
    local r = {
      {Open = 5, High = 12, Low = 3, Close = 6, Volume = 40},
      {Open = 6, High = 15, Low = 4, Close = 8, Volume = 10},
      {Open = 8, High = 11, Low = 2, Close = 9, Volume = 30},
      {Open = 9, High = 30, Low = 1, Close = 29, Volume = 99},
    }
    assert.are.equal(15, TA.Highest(r, 3, "High"))
    assert.are.equal(2, TA.Lowest(r, 3, "Low"))
    assert.are.equal(40, TA.Highest(r, 3, "Volume"))
    assert.are.equal(6, TA.Lowest(r, 2, "Open"))
    -- The breakout test a strategy writes: the last bar's close above the highest high before it.
    assert.is_true(r[#r].Close > TA.Highest(r, 3, "High"))
  end)

  it("give the placeholder on fewer than two values, and skip a plain array's warm-up", function()
    assert.is_true(TA.isnone(TA.Highest({}, 3)))
    assert.is_true(TA.isnone(TA.Lowest({5}, 3)))
    assert.is_true(TA.isnone(TA.Highest({TA.NONE, TA.NONE, 5}, 3)))
    assert.are.equal(4, TA.Highest({TA.NONE, 4, 2, 5}, 0))
  end)
end)

describe("TA.OBV", function()
  it("adds Volume when Close is not below the previous Close, else takes it away", function()
    -- Closes 10, 11, 11, 9 with volumes 5, 3, 2, 4: 5, 5 + 3 = 8, 8 + 2 = 10 (equal counts as up), 10 - 4 = 6.
    local r = {}
    for i, b in ipairs({{10, 5}, {11, 3}, {11, 2}, {9, 4}}) do
      r[i] = {High = b[1], Low = b[1], Close = b[1], Volume = b[2]}
    end
    series({5, 8, 10, 6}, TA.OBV(r), 0)
    assert.are.same({}, TA.OBV({}))
  end)
end)

describe("TA.CMF", function()
  it("is the money-flow volume over the volume of the last n bars, 0 for a bar without range", function()
    -- Money-flow volume ((C - L) - (H - C)) / (H - L) * V: (1.5 - 0.5)/2 * 100 = 50; (0 - 2)/2 * 200 = -200;
    -- 0 for the bar with H == L. Over 2 bars: 50/100, (50 - 200)/300, (-200 + 0)/250.
    local r = {
      {High = 10, Low = 8, Close = 9.5, Volume = 100},
      {High = 11, Low = 9, Close = 9, Volume = 200},
      {High = 12, Low = 12, Close = 12, Volume = 50},
    }
    series({0.5, -0.5, -0.8}, TA.CMF(r, 2), 1e-12)
  end)

  it("defaults to 20 bars and matches a brute-force window sum", function()
    local bars = walk_bars(200)
    local r = {}
    for i, b in ipairs(bars) do r[i] = {High = b[1], Low = b[2], Close = b[3], Volume = 1 + i % 7} end
    local out = TA.CMF(r)
    for i = 1, #r do
      local flow, volume = 0, 0
      for j = math.max(1, i - 19), i do
        local b = r[j]
        flow = flow + ((b.Close - b.Low) - (b.High - b.Close)) / (b.High - b.Low) * b.Volume
        volume = volume + b.Volume
      end
      assert.is_true(math.abs(out[i] - flow / volume) < 1e-12, i)
    end
  end)
end)

describe("TA.Alligator", function()
  it("shifts SMMAs of the median price forward by 8, 5 and 3 bars (defaults 13, 8, 5)", function()
    local bars = walk_bars(60)
    local r = hlc_records(bars)
    local lines = TA.Alligator(r)
    local lengths, shifts = {13, 8, 5}, {8, 5, 3}
    for j = 1, 3 do
      local line, n, shift = lines[j], lengths[j], shifts[j]
      assert.are.equal(#bars + shift, #line)
      -- Wilder's smoothing: the mean of the first n medians, then (prev * (n - 1) + median) / n.
      local v = 0
      for i = 1, n do v = v + (bars[i][1] + bars[i][2]) / 2 end
      v = v / n
      for i = 1, #bars do
        if i < n then
          assert.is_true(TA.isnone(line[i + shift]), i)
        else
          if i > n then v = (v * (n - 1) + (bars[i][1] + bars[i][2]) / 2) / n end
          assert.is_true(math.abs(line[i + shift] - v) < 1e-9, i)
        end
      end
      for i = 1, shift do assert.is_true(TA.isnone(line[i])) end
    end
    -- The platform's first valid index (0-based): jaw 20, teeth 12, lips 7.
    assert.is_true(TA.isnone(lines[1][20]) and not TA.isnone(lines[1][21]))
    assert.is_true(TA.isnone(lines[2][12]) and not TA.isnone(lines[2][13]))
    assert.is_true(TA.isnone(lines[3][7]) and not TA.isnone(lines[3][8]))
  end)
end)

describe("TA on large integers", function()
  it("computes in floating point, so sums and differences do not wrap around", function()
    local big = math.maxinteger
    assert.are.equal(2.0 ^ 63, TA.MA({big, big}, 2)[2])
    -- minint - maxint wraps to +1 in integer arithmetic, which would read as a rise.
    assert.are.equal(0, TA.RSI({0, big, math.mininteger}, 1)[3])
    local r = {
      {High = big, Low = math.mininteger, Close = 0, Volume = big},
      {High = big, Low = 0, Close = big, Volume = big},
    }
    assert.are.equal(2.0 ^ 64, TA.ATR(r, 1)[1])
    assert.are.equal(2.0 ^ 64, TA.OBV(r)[2])
  end)
end)

describe("TA input", function()
  it("gives the same result for records as for the array of their closes", function()
    local closes = walk(120, 50, 3)
    local r = records_of(closes)
    identical(TA.MA(closes, 10), TA.MA(r, 10), "MA")
    identical(TA.EMA(closes, 10), TA.EMA(r, 10), "EMA")
    identical(TA.RSI(closes), TA.RSI(r), "RSI")
    local a, b = TA.MACD(closes), TA.MACD(r)
    for j = 1, 3 do identical(a[j], b[j], "MACD " .. j) end
    a, b = TA.BOLL(closes), TA.BOLL(r)
    for j = 1, 3 do identical(a[j], b[j], "BOLL " .. j) end
  end)

  it("accepts a period written as a float with an integer value", function()
    local xs = walk(30, 10, 1)
    identical(TA.MA(xs, 5), TA.MA(xs, 5.0))
    identical(TA.RSI(xs, 6), TA.RSI(xs, 6.0))
  end)

  it("does not modify the input", function()
    local xs = {1, 2, 3, 4, 5}
    TA.MA(xs, 2)
    TA.BOLL(xs, 2)
    assert.are.same({1, 2, 3, 4, 5}, xs)
  end)
end)

describe("TA bad arguments", function()
  local xs = {1, 2, 3, 4, 5}
  local bars = hlc_records({{2, 1, 1.5}, {3, 2, 2.5}, {4, 3, 3.5}})
  local cases = {
    {TA.MA, {xs, 0}, "bad argument #2 to 'TA.MA' (n: integer >= 1 expected, got 0)"},
    {TA.MA, {xs, -3}, "bad argument #2 to 'TA.MA' (n: integer >= 1 expected, got -3)"},
    {TA.MA, {xs, 2.5}, "bad argument #2 to 'TA.MA' (n: integer >= 1 expected, got 2.5)"},
    {TA.MA, {xs, "5"}, "bad argument #2 to 'TA.MA' (n: integer >= 1 expected, got string \"5\")"},
    {TA.MA, {xs, math.maxinteger},
      "bad argument #2 to 'TA.MA' (n: integer <= 2147483647 expected, got 9223372036854775807)"},
    {TA.EMA, {xs, 2 ^ 40}, "bad argument #2 to 'TA.EMA' (n: integer <= 2147483647 expected, got 1099511627776.0)"},
    {TA.KDJ, {bars, 9, 2 ^ 31}, "bad argument #3 to 'TA.KDJ' (k: integer <= 2147483647 expected, got 2147483648.0)"},
    {TA.MA, {{1, 1 / 0, 3}, 2}, "bad argument #1 to 'TA.MA' (element 2: finite number expected, got inf)"},
    {TA.RSI, {{1, 2, -1 / 0}}, "bad argument #1 to 'TA.RSI' (element 3: finite number expected, got -inf)"},
    {TA.EMA, {{{Close = 1}, {Close = 0 / 0}}, 2},
      "bad argument #1 to 'TA.EMA' (record 2: Close must be a finite number, got nan)"},
    {TA.ATR, {{{High = 2, Low = 1, Close = 1}, {High = 1 / 0, Low = 1, Close = 1}}},
      "bad argument #1 to 'TA.ATR' (record 2: High must be a finite number, got inf)"},
    {TA.Highest, {xs}, "bad argument #2 to 'TA.Highest' (n: integer >= 0 expected, got nil)"},
    {TA.Lowest, {xs, -1}, "bad argument #2 to 'TA.Lowest' (n: integer >= 0 expected, got -1)"},
    {TA.Highest, {bars, 2},
      "bad argument #3 to 'TA.Highest' (attr: Open, High, Low, Close, Volume or OpenInterest expected, got nil)"},
    {TA.Lowest, {bars, 2, "low"},
      "bad argument #3 to 'TA.Lowest' (attr: Open, High, Low, Close, Volume or OpenInterest expected, got string \"low\")"},
    {TA.Highest, {xs, 2, "High"},
      "bad argument #3 to 'TA.Highest' (attr: nil expected for an array of numbers, got string \"High\")"},
    {TA.OBV, {xs},
      "bad argument #1 to 'TA.OBV' (records expected (Close and Volume are needed), got an array of numbers)"},
    {TA.OBV, {{{Close = 1}}}, "bad argument #1 to 'TA.OBV' (record 1: Volume must be a number, got nil)"},
    {TA.CMF, {xs},
      "bad argument #1 to 'TA.CMF' (records expected (High, Low, Close and Volume are needed), got an array of numbers)"},
    {TA.Alligator, {bars, 13, 0}, "bad argument #3 to 'TA.Alligator' (teeth: integer >= 1 expected, got 0)"},
    {TA.SMA, {xs, 0}, "bad argument #2 to 'TA.SMA' (n: integer >= 1 expected, got 0)"},
    {TA.EMA, {xs, 1 / 0}, "bad argument #2 to 'TA.EMA' (n: integer >= 1 expected, got inf)"},
    {TA.MA, {nil, 5}, "bad argument #1 to 'TA.MA' (records or array of numbers expected, got nil)"},
    {TA.RSI, {"BTC_USDT"},
      "bad argument #1 to 'TA.RSI' (records or array of numbers expected, got string \"BTC_USDT\")"},
    {TA.MA, {{1, 2, "3"}, 2}, "bad argument #1 to 'TA.MA' (element 3: number expected, got string \"3\")"},
    {TA.MA, {{1, 2, {}}, 2}, "bad argument #1 to 'TA.MA' (element 3: number expected, got table)"},
    {TA.EMA, {{{Close = 1}, {Close = "2"}}, 2},
      "bad argument #1 to 'TA.EMA' (record 2: Close must be a number, got string \"2\")"},
    {TA.EMA, {{{Close = 1}, {Open = 2}}, 2}, "bad argument #1 to 'TA.EMA' (record 2: Close must be a number, got nil)"},
    {TA.EMA, {{{Close = 1}, 2}, 2}, "bad argument #1 to 'TA.EMA' (record 2: table expected, got 2)"},
    {TA.MACD, {xs, 12, 0}, "bad argument #3 to 'TA.MACD' (slow: integer >= 1 expected, got 0)"},
    {TA.MACD, {xs, 0.5}, "bad argument #2 to 'TA.MACD' (fast: integer >= 1 expected, got 0.5)"},
    {TA.MACD, {xs, 12, 26, 1.5}, "bad argument #4 to 'TA.MACD' (signal: integer >= 1 expected, got 1.5)"},
    {TA.BOLL, {xs, 0}, "bad argument #2 to 'TA.BOLL' (n: integer >= 1 expected, got 0)"},
    {TA.BOLL, {xs, 20, -1}, "bad argument #3 to 'TA.BOLL' (k: finite number >= 0 expected, got -1)"},
    {TA.BOLL, {xs, 20, "2"}, "bad argument #3 to 'TA.BOLL' (k: finite number >= 0 expected, got string \"2\")"},
    {TA.RSI, {xs, 0}, "bad argument #2 to 'TA.RSI' (n: integer >= 1 expected, got 0)"},
    {TA.ATR, {xs},
      "bad argument #1 to 'TA.ATR' (records expected (High, Low and Close are needed), got an array of numbers)"},
    {TA.ATR, {bars, 1.5}, "bad argument #2 to 'TA.ATR' (n: integer >= 1 expected, got 1.5)"},
    {TA.ATR, {{{High = 2, Low = 1, Close = 1}, {High = 2, Close = 1}}},
      "bad argument #1 to 'TA.ATR' (record 2: Low must be a number, got nil)"},
    {TA.KDJ, {xs},
      "bad argument #1 to 'TA.KDJ' (records expected (High, Low and Close are needed), got an array of numbers)"},
    {TA.KDJ, {bars, 9, 0}, "bad argument #3 to 'TA.KDJ' (k: integer >= 1 expected, got 0)"},
    {TA.KDJ, {bars, 9, 3, -1}, "bad argument #4 to 'TA.KDJ' (d: integer >= 1 expected, got -1)"},
  }
  for _, case in ipairs(cases) do
    local f, args, message = case[1], case[2], case[3]
    it("raises " .. message, function() I.bad_argument(f, args, message) end)
  end
end)

-- In a bot, the globals TA and talib are whole from the strategy's first line, whatever it does first, and loaded
-- before it runs (runtime/lua/api.c): a module loaded at its first use would run with the strategy's globals.
describe("the globals TA and talib in a bot", function()
  local h = require("helpers")
  -- main prints TA.MA's and talib.SMA's last value over 30 bars
  local MAIN = [[
function main()
  local r = {}
  for i = 1, 30 do r[i] = {Time = i, Open = i, High = i + 1, Low = i - 1, Close = i, Volume = 1} end
  print("MA", TA.MA(r, 5)[30], "SMA", talib.SMA(r, 5)[30])
end
]]
  it("are whole at the first use, whatever it is: pairs, a missing name, a call", function()
    local r = h.run_bot([[
local n = 0
for _, v in pairs(TA) do if type(v) == "function" then n = n + 1 end end
print("TA functions", n >= 10, type(TA.MA))
print(pcall(function() return talib.NOPE end))
]] .. MAIN)
    assert.are.equal(0, r.code, r.err)
    h.assert_has(r.out, "TA functions\ttrue\tfunction\n")
    -- the first use of talib, a name it lacks: the error is at the strategy's line
    h.assert_has(r.out, 'false\tstrategy.lua:4: talib.NOPE is not available in stratrun (see docs/platform.md, '
      .. '"TA and talib")\n')
    h.assert_has(r.out, "MA\t28.0\tSMA\t28.0\n")
  end)

  it("are whole when the strategy replaced require, pairs and rawset before their first use", function()
    local r = h.run_bot("require, pairs, rawset, setmetatable = nil, nil, nil, nil\n" .. MAIN)
    assert.are.equal(0, r.code, r.err)
    h.assert_has(r.out, "MA\t28.0\tSMA\t28.0\n")
  end)
end)
