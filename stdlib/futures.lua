-- futures.lua: the calendar and the arithmetic of the paper exchange's futures (stdlib/exchange.lua keeps the
-- account; docs/futures.md says which venue rules they follow). Plain functions on numbers: no market, no clock.
--
-- Times are ms since the epoch, UTC. Dated contracts expire on Fridays at 08:00 UTC, the quarterly ones on the last
-- Friday of March, June, September and December (Binance's delivery contracts, OKX's weeklies).

local M = {}

local civil = require("civil")     -- days since 1970-01-01 to (year, month, day)

local HOUR, DAY = 3600000, 86400000
local WEEK = 7 * DAY
local FIRST_EXPIRY = DAY + 8 * HOUR     -- 1970-01-02, a Friday, 08:00 UTC

-- The contract types a futures exchange knows, in the platform's names.
M.TYPE_ORDER = { "swap", "this_week", "next_week", "quarter", "next_quarter" }
M.TYPES = {}
for _, k in ipairs(M.TYPE_ORDER) do M.TYPES[k] = true end
M.TYPE_LIST = table.concat(M.TYPE_ORDER, ", ")

-- Days since 1970-01-01 of a civil date (H. Hinnant's days_from_civil).
local function days(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = y // 400
  local yoe = y - era * 400
  local doy = (153 * ((m + 9) % 12) + 2) // 5 + d - 1
  return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
end

-- The last Friday of month m of year y, 08:00 UTC, in ms.
local function last_friday(y, m)
  local last = m == 12 and days(y + 1, 1, 1) - 1 or days(y, m + 1, 1) - 1
  local weekday = (last + 4) % 7      -- 0 Sunday; 1970-01-01 was a Thursday
  return (last - (weekday - 5) % 7) * DAY + 8 * HOUR
end

-- The first weekly expiry strictly after t.
local function next_friday(t)
  return FIRST_EXPIRY + ((t - FIRST_EXPIRY) // WEEK + 1) * WEEK
end

-- The first quarterly expiry strictly after t, and the one after it.
local function quarters(t)
  local y = 1970 + t // (365 * DAY) - 1     -- a year at or before t's
  local found = {}
  while #found < 2 do
    for _, m in ipairs({ 3, 6, 9, 12 }) do
      local e = last_friday(y, m)
      if e > t and #found < 2 then found[#found + 1] = e end
    end
    y = y + 1
  end
  return found[1], found[2]
end

-- The expiry (ms) of contract type `kind` traded at t; 0 for the perpetual swap.
function M.expiry(kind, t)
  if kind == "swap" then return 0 end
  if kind == "this_week" then return next_friday(t) end
  if kind == "next_week" then return next_friday(t) + WEEK end
  local q, nq = quarters(t)
  return kind == "quarter" and q or nq
end

-- The venue's instrument name: BTCUSDT for the swap, BTCUSDT_240329 for a contract expiring 2024-03-29.
function M.instrument(base, quote, expiry)
  if expiry == 0 then return base .. quote end
  local y, m, d = civil(expiry // DAY)
  return string.format("%s%s_%02d%02d%02d", base, quote, y % 100, m, d)
end

-- The funding times in (from, to]: multiples of interval ms since the epoch (00:00, 08:00, 16:00 UTC for 8 hours).
function M.fundings(from, to, interval)
  local out, f = {}, (from // interval + 1) * interval
  while f <= to do
    out[#out + 1] = f
    f = f + interval
  end
  return out
end

-- Cross margin: equity(p) - maintenance(p) = A + B * p for positions {amount, price, dir (0 long, 1 short)} of
-- ct-coin contracts over wallet w, at maintenance margin rate mmr of the notional. Returns A, B.
function M.margin_line(w, positions, ct, mmr)
  local a, b = w, 0.0
  for _, p in ipairs(positions) do
    local q = p.amount * ct
    local sign = p.dir == 0 and 1 or -1
    a = a - sign * q * p.price
    b = b + sign * q - mmr * q
  end
  return a, b
end

-- The price inside [lo, hi], from open op, at which equity first reaches the maintenance margin (A + B p = 0), or
-- nil when it does not within the candle. A candle that opens below it liquidates at the open.
function M.liquidation_price(a, b, op, hi, lo)
  if a + b * op < 0 then return op end
  local worst = b > 0 and lo or hi     -- the side where equity falls
  if a + b * worst >= 0 then return nil end
  return -a / b
end

return M
