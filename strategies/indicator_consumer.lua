-- indicator_consumer.lua: trades its exchange's symbol on the indicators an indicator_publisher.lua bot shares,
-- instead of computing them (the platform's "Data Sharing", consumer side). Once per new M15 bar: long when the H1
-- close is above the H1 MA and the M15 RSI above rsi_level, sized risk / ATR(M15) coins (at most what 95 % of the
-- free balance buys); flat otherwise. When the
-- publisher is silent for over `stale` ms (meta.published), or has never published `stale` ms after the start,
-- on_stale = "fallback" computes the same indicators here from its own exchange, and on_stale = "wait" trades no
-- more and holds its position until the publisher is back. Its log says which values each trade used.
--   stratrun replay --config strategies/indicators.conf strategies/indicator_publisher.lua@632820 strategies/indicator_consumer.lua@632821 ...
-- Config: its exchange trades one of the publisher's symbols (strategies/indicators.conf: 632821 BTC_USDT,
-- 632822 ETH_USDT); for the fallback, on the same market as the publisher's exchange of that symbol.
-- Parameters: publisher (live ID, default 632820), risk in USDT per ATR (default 20), rsi_level (default 50),
-- on_stale ("fallback" or "wait", default "fallback"), stale in ms (default 1800000), interval in ms (default
-- 60000); ma, rsi, atr (defaults 20, 14, 14: the publisher's, for the fallback).

publisher = tostring(publisher or "632820")
risk = risk or 20
rsi_level = rsi_level or 50
on_stale = on_stale or "fallback"
stale = stale or 1800000
interval = interval or 60000
ma = ma or 20
rsi = rsi or 14
atr = atr or 14

assert(on_stale == "fallback" or on_stale == "wait", "on_stale must be \"fallback\" or \"wait\", got " ..
       tostring(on_stale))

-- The fallback: indicator_publisher.lua's computation, on this bot's own exchange.
local function indicators(period)
  local r = exchange.GetRecords(period)
  if not r or #r <= math.max(ma, rsi, atr) then return nil end
  local n = #r
  local m, s, a = TA.MA(r, ma), TA.RSI(r, rsi), TA.ATR(r, atr)
  return { T = r[n].Time, C = r[n].Close, MA = _N(m[n], 2), RSI = _N(s[n], 2), ATR = _N(a[n], 2) }
end

-- Another bot's data is not trusted: a symbol entry without the numbers this rule needs is no data.
local function usable(v)
  return type(v) == "table" and type(v.M15) == "table" and type(v.H1) == "table" and math.type(v.M15.T)
    and math.type(v.M15.RSI) and math.type(v.M15.ATR) and v.M15.ATR > 0 and math.type(v.H1.C)
    and math.type(v.H1.MA)
end

local function amount_step()
  local _, m = next(exchange.GetMarkets() or {})
  return m and m.AmountSize or 1e-8
end

function main()
  local symbol, step = exchange.GetCurrency(), amount_step()
  local started = UnixNano() // 1000000
  local lastBar, mode, trades = nil, nil, 0
  Log("Indicator consumer started on", symbol, "following", publisher, "(when stale: " .. on_stale .. ")")
  while true do
    local now = UnixNano() // 1000000
    local state, meta = GetChannelData(publisher)
    local v, source, age
    if type(state) == "table" and meta and type(state.s) == "table" then age = now - meta.published end
    if age and age <= stale and usable(state.s[symbol]) then
      v, source = state.s[symbol], "shared #" .. tostring(state.n)
    elseif (age or now - started) > stale then
      if on_stale == "fallback" then
        local m15, h1 = indicators(PERIOD_M15), indicators(PERIOD_H1)
        if m15 and h1 then v, source = { M15 = m15, H1 = h1 }, "own" end
      end
    end
    local newMode = v and (source == "own" and "own" or "shared") or ((age or now - started) > stale and "waiting")
      or "starting"
    if newMode ~= mode then
      if newMode == "own" then
        Log("Publisher", publisher, "silent: computing the indicators here")
      elseif newMode == "waiting" then
        Log("Publisher", publisher, "silent: waiting for it, holding the position")
      elseif newMode == "shared" and (mode == "own" or mode == "waiting") then
        Log("Publisher", publisher, "is back: trading on its indicators")
      end
      mode = newMode
    end
    local holding = (exchange.GetAccount() or {}).Stocks or 0
    if v and v.M15.T ~= lastBar then
      lastBar = v.M15.T
      local long = v.H1.C > v.H1.MA and v.M15.RSI > rsi_level
      local t = exchange.GetTicker()
      if t and long and holding < step / 2 then
        local free = (exchange.GetAccount() or {}).Balance or 0
        local coins = math.min(risk / v.M15.ATR, free * 0.95 / t.Sell)
        local amount = _N(math.floor(coins / step) * step, 8)
        if amount >= step / 2 and exchange.Buy(t.Sell, amount) then
          trades = trades + 1
          Log("Enter long", symbol, amount, "on", source, v)
        end
      elseif t and not long and holding >= step / 2 then
        if exchange.Sell(t.Buy, holding) then
          trades = trades + 1
          Log("Exit long", symbol, holding, "on", source, v)
        end
      end
      holding = (exchange.GetAccount() or {}).Stocks or 0
    end
    local rows = {}
    if v then
      for _, p in ipairs({ "M15", "H1" }) do
        local x = v[p]
        rows[#rows + 1] = { p, math.type(x.T) and _D(x.T) or "-", tostring(x.C), tostring(x.MA), tostring(x.RSI),
                            tostring(x.ATR) }
      end
    end
    LogStatus(string.format("Indicator consumer on %s: %s\nIndicators: %s%s\nPosition: %s, trades: %d\n", symbol,
      mode == "shared" and "trading on the publisher's indicators" or mode == "own" and "publisher silent, "
      .. "computing the indicators here" or mode == "waiting" and "publisher silent, waiting (position held)"
      or "waiting for the publisher's first update", source or "none",
      age and string.format(" (publisher's last update %d s ago)", age // 1000) or "", tostring(holding), trades)
      .. "`" .. json.encode({ type = "table", title = "Indicators used", cols = { "Period", "Bar", "Close", "MA",
      "RSI", "ATR" }, rows = rows }) .. "`")
    Sleep(interval)
  end
end
