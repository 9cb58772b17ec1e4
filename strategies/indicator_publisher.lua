-- indicator_publisher.lua: computes indicators once and shares them on its channel, so that indicator_consumer.lua
-- bots trade on them without computing them (the platform's "Data Sharing"). For every exchange of the bot (one per
-- symbol) and each period, M15 and H1: the last closed bar's time T and close C, MA(ma), RSI(rsi) and ATR(atr) over
-- exchange.GetRecords(period), rounded to 2 decimals. It recomputes when a new M15 bar has closed and publishes
-- every interval all the same, so consumers can tell a live publisher from a silent one by meta.published.
--   stratrun replay --config strategies/indicators.conf -p 632820.rounds=48 strategies/indicator_publisher.lua@632820 strategies/indicator_consumer.lua@632821 ...
-- Config: one exchange per symbol (`exchanges`; strategies/indicators.conf has BTC_USDT and ETH_USDT), on a market
-- of 15-minute bars or shorter, with enough history for MA(ma) of hours.
-- Parameters: ma (default 20), rsi (default 14), atr (default 14), interval in ms (default 60000), rounds (stop
-- after that many computations, default: never; a test of the consumers' fallback).
-- Channel state: {n = update number, time = ms, s = {[symbol] = {M15 = {T, C, MA, RSI, ATR}, H1 = {...}}}}:
-- about 200 bytes a symbol, so four symbols fit in a channel's 1024.

ma = ma or 20
rsi = rsi or 14
atr = atr or 14
interval = interval or 60000
rounds = rounds                 -- no default: nil runs until stopped (docs/editor.md, parameters)

local PERIODS = { { "M15", PERIOD_M15 }, { "H1", PERIOD_H1 } }

-- The indicators of one exchange and period, or nil while it has too few closed bars.
local function indicators(e, period)
  local r = e.GetRecords(period)
  if not r or #r <= math.max(ma, rsi, atr) then return nil end
  local n = #r
  local m, s, a = TA.MA(r, ma), TA.RSI(r, rsi), TA.ATR(r, atr)
  return { T = r[n].Time, C = r[n].Close, MA = _N(m[n], 2), RSI = _N(s[n], 2), ATR = _N(a[n], 2) }
end

function main()
  Log("Indicator publisher started, Bot ID:", _G(), "symbols:", #exchanges)
  local n, lastBar, shared = 0, nil, {}
  while rounds == nil or n < rounds do
    local bar = (exchange.GetRecords(PERIOD_M15) or {})
    bar = bar[#bar] and bar[#bar].Time
    if bar and bar ~= lastBar then
      local s, complete = {}, true
      for _, e in ipairs(exchanges) do
        local one = {}
        for _, p in ipairs(PERIODS) do
          one[p[1]] = indicators(e, p[2])
          complete = complete and one[p[1]] ~= nil
        end
        s[e.GetCurrency()] = one
      end
      if complete then
        n, lastBar, shared = n + 1, bar, s
        Log("Published update", n, s)
      end
    end
    if n > 0 then
      SetChannelData({ n = n, time = UnixNano() // 1000000, s = shared })
    end
    local rows = {}
    for _, e in ipairs(exchanges) do
      for _, p in ipairs(PERIODS) do
        local v = shared[e.GetCurrency()] and shared[e.GetCurrency()][p[1]]
        if v then rows[#rows + 1] = { e.GetCurrency(), p[1], _D(v.T), v.C, v.MA, v.RSI, v.ATR } end
      end
    end
    LogStatus("Indicator publisher: update #" .. n .. " at " .. _D() .. "\n`" .. json.encode({ type = "table",
      title = "Shared indicators", cols = { "Symbol", "Period", "Bar", "Close", "MA" .. ma, "RSI" .. rsi,
      "ATR" .. atr }, rows = rows }) .. "`")
    Sleep(interval)
  end
  Log("Indicator publisher stops after", n, "updates")
end
