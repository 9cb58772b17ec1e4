-- Spec for runtime/lua/format.c (_N, _D) and runtime/lua/clock.c (Unix, UnixNano, Sleep). These specs run inside stratrun,
-- so the functions are called directly; only the time zone check starts a process of its own.
local h = require("helpers")

describe("_N", function()
  it("truncates to the given number of decimals", function()
    assert.are.equal(3.14, _N(3.1415, 2))
    assert.are.equal(2.67, _N(2.679, 2))
    assert.are.equal(123456789.987, _N(123456789.987654321, 3))
  end)

  it("truncates, never rounds up", function()
    assert.are.equal(1.99, _N(1.999, 2))
    assert.are.equal(0.0, _N(0.00999, 2))
  end)

  it("keeps a value already at the precision exact (0.29, not 0.28)", function()
    assert.are.equal(0.29, _N(0.29, 2))
    assert.are.equal(1.1, _N(1.1, 1))
    assert.are.equal(0.3, _N(0.1 + 0.2, 2))
  end)

  it("with a negative precision truncates to tens, hundreds, thousands", function()
    assert.are.equal(1000, _N(1300, -3))
    assert.are.equal(1200, _N(1299, -2))
    assert.are.equal(1000.0, _N(1300.7, -3))
  end)

  it("keeps integers integers", function()
    assert.are.equal("integer", math.type(_N(1300, -3)))
    assert.are.equal("integer", math.type(_N(5)))
    assert.are.equal(1732590000123456789, _N(1732590000123456789, 2))
  end)

  it("truncates negative numbers toward zero", function()
    assert.are.equal(-3.14, _N(-3.1415, 2))
    assert.are.equal(-0.29, _N(-0.29, 2))
    assert.are.equal(-1300, _N(-1399, -2))
    assert.are.equal(-1.0, _N(-1.99, 0))
  end)

  it("defaults to 4 decimals", function()
    assert.are.equal(1.2345, _N(1.23456789))
    assert.are.equal(-0.0001, _N(-0.00019))
  end)

  it("raises on an argument that is not a number", function()
    local ok, err = pcall(_N, {}, 2)
    assert.is_false(ok)
    assert.matches("_N", err, 1, true)
  end)
end)

describe("_D", function()
  local TS = 1732590000123      -- a fixed instant, in milliseconds
  local SECS = TS // 1000

  it("formats now as yyyy-MM-dd hh:mm:ss in local time by default", function()
    local before = os.time()
    local got = _D()
    local after = os.time()
    local seen = {}
    for t = before, after + 1 do seen[os.date("%Y-%m-%d %H:%M:%S", t)] = true end
    assert.is_true(seen[got], got)
  end)

  it("formats a timestamp in milliseconds as local time", function()
    assert.are.equal(os.date("%Y-%m-%d %H:%M:%S", SECS), _D(TS))
  end)

  it("follows a custom format with yyyy yy MM dd HH mm ss SSS", function()
    assert.are.equal(os.date("%Y/%m/%d %H:%M:%S", SECS) .. ".123", _D(TS, "yyyy/MM/dd HH:mm:ss.SSS"))
    assert.are.equal(os.date("%y%m%d", SECS), _D(TS, "yyMMdd"))
  end)

  it("copies text that is not a token", function()
    assert.are.equal("at " .. os.date("%H:%M", SECS) .. " local", _D(TS, "at HH:mm local"))
  end)

  it("uses 24-hour time for hh, as the platform does", function()
    local t = SECS
    while os.date("*t", t).hour < 13 do t = t + 3600 end
    assert.are.equal(os.date("%H", t), _D(t * 1000, "hh"))
  end)

  it("pads milliseconds to three digits", function()
    assert.are.equal("007", _D(1732590000007, "SSS"))
  end)

  it("pads years to four characters, a minus sign included, as C's %04d", function()
    -- in the process's TZ, as the other cases: the year of os.date, padded as _D pads it
    for _, ms in ipairs { -62135596800000, -62167219200000, -62198755200000, -99999999999999, 253402300799999 } do
      local y = os.date("*t", ms // 1000).year
      assert.are.equal(string.format("%04d|%02d", y, math.fmod(y, 100)), _D(ms, "yyyy|yy"))
    end
  end)

  it("uses the TZ of the process", function()
    local dir = h.tmpdir()
    h.script(dir, 'print(_D(0)) print(_D(0, "yyyy-MM-dd HH:mm"))')
    -- POSIX TZ with a half-hour offset: UTC+05:30 written as "XYZ-05:30".
    local r = h.run { dir = dir, env = { TZ = "XYZ-05:30" }, "--data-dir", dir .. "/data", "--id", "tz", "strategy.lua" }
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("1970-01-01 05:30:00\n1970-01-01 05:30\n", r.out)
  end)

  it("raises on a timestamp that is not a number", function()
    assert.is_false(pcall(_D, "yesterday"))
    assert.is_false(pcall(_D, 0 / 0))
  end)
end)

describe("Unix and UnixNano", function()
  it("Unix() is an integer number of seconds close to os.time()", function()
    local u = Unix()
    assert.are.equal("integer", math.type(u))
    assert.is_true(math.abs(u - os.time()) <= 1)
  end)

  it("UnixNano() is an integer number of nanoseconds agreeing with Unix()", function()
    local before = Unix()
    local n = UnixNano()
    local after = Unix()
    assert.are.equal("integer", math.type(n))
    assert.is_true(n // 1000000000 >= before and n // 1000000000 <= after)
    assert.is_true(n % 1000000000 >= 0)
  end)
end)

describe("Sleep", function()
  it("sleeps at least the milliseconds asked", function()
    local t0 = UnixNano()
    Sleep(150)
    assert.is_true(UnixNano() - t0 >= 149 * 1000000)
  end)

  it("accepts fractions of a millisecond", function()
    local t0 = UnixNano()
    Sleep(0.5)
    Sleep(2.5)
    assert.is_true(UnixNano() - t0 >= 2.9 * 1000000)
  end)

  it("accepts 0", function()
    assert.has_no.errors(function() Sleep(0) end)
  end)

  it("raises on a negative time", function()
    local ok, err = pcall(Sleep, -1)
    assert.is_false(ok)
    assert.matches("Sleep", err, 1, true)
  end)

  it("raises on an argument that is not a number", function()
    assert.is_false(pcall(Sleep, "soon"))
    assert.is_false(pcall(Sleep))
  end)
end)
