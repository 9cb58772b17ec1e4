-- Helpers shared by the indicator specs (spec/ta_spec.lua, spec/talib_spec.lua): expected series with warm-up
-- positions, bit-for-bit comparison, the error of a call, and a deterministic random walk.
local M = {}

M.W = false  -- in an expected series: a warm-up (lookback) position, which must hold the placeholder

-- Raises at the line of the spec that called series or identical.
local function fail(fmt, ...)
  error(string.format(fmt, ...), 3)
end

-- actual must have exactly #expected elements: the placeholder where expected has W, else a number within tol.
function M.series(expected, actual, tol, label)
  label = label or "series"
  if type(actual) ~= "table" then fail("%s: a table expected, got %s", label, type(actual)) end
  if #actual ~= #expected then fail("%s: %d elements, expected %d", label, #actual, #expected) end
  for i, e in ipairs(expected) do
    local a = actual[i]
    if e == M.W then
      if not (type(a) == "number" and a ~= a) then fail("%s[%d] = %s, expected the placeholder", label, i, a) end
    elseif type(a) ~= "number" or not (math.abs(a - e) <= tol) then
      fail("%s[%d] = %.12g, expected %.12g (tolerance %g)", label, i, a, e, tol)
    end
  end
end

-- Same length and bit-for-bit the same numbers, placeholders included.
function M.identical(a, b, label)
  label = label or "series"
  if #a ~= #b then fail("%s: %d elements vs %d", label, #a, #b) end
  for i = 1, #a do
    local x, y = a[i], b[i]
    if not (x == y or (x ~= x and y ~= y)) then fail("%s[%d]: %.17g vs %.17g", label, i, x, y) end
  end
end

-- The error message of f(...). f is called from a line of this file (not as a tail call, which would leave no
-- caller line to report), so a message that points at its caller names indicators.lua.
function M.error_of(f, ...)
  local args = table.pack(...)
  local ok, err = pcall(function()
    local result = f(table.unpack(args, 1, args.n))
    return result
  end)
  if ok then error("expected an error", 2) end
  return err
end

-- f(table.unpack(args)) must raise exactly message, at the caller's line (error_of's, in this file), not at a
-- line inside ta.lua or talib.lua.
function M.bad_argument(f, args, message)
  local err = M.error_of(f, table.unpack(args, 1, 5))
  if type(err) ~= "string" then fail("a string error expected, got %s", type(err)) end
  local where, text = err:match("^(.-indicators%.lua:%d+): (.*)$")
  if not where then fail("no position in this file: %s", err) end
  if text ~= message then fail("error\n  %s\nexpected\n  %s", text, message) end
end

-- A deterministic random walk (an LCG, so every run and every platform sees the same numbers) of count values from
-- start, steps up to step/2 either way.
function M.walk(count, start, step)
  local state, x, out = 12345, start, {}
  for i = 1, count do
    state = (state * 1103515245 + 12345) % 2147483648
    x = x + (state / 2147483648 - 0.5) * step
    out[i] = x
  end
  return out
end

-- count bars {High, Low, Close} around a walk from 30000, each with a range.
function M.walk_bars(count)
  local closes, spread = M.walk(count, 30000, 40), M.walk(count, 0, 7)
  local bars = {}
  for i, c in ipairs(closes) do
    local w = math.abs(spread[i]) + 1
    bars[i] = {c + w * 0.7, c - w * 0.6, c}
  end
  return bars
end

return M
