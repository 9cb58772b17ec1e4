-- exchange_settings.lua: the one check of the paper exchange's settings (the config's `exchange` table), and their
-- defaults. stdlib/exchange.lua builds every exchange from what check returns; the config loader
-- (runtime/host/options.c) runs the same check on the config file's table when it is assigned, so a wrong setting stops
-- stratrun at start (exit status 2, the file and line named). docs/exchange.md says why the check lives here.
--
-- Plain Lua on plain values, through the string and math tables only: it also runs in the config's sandboxed
-- state, where strings have no methods.

local DEFAULTS = {
  name = "Paper", label = "", currency = "BTC_USDT", balance = 10000, stocks = 0,
  maker_fee = 0.001, taker_fee = 0.002, slippage = 0,
  tick_size = 0.01, amount_size = 0.00001, min_notional = 0,   -- Binance's BTC_USDT grid; no minimum order value
  period = 0,                                                   -- GetRecords()'s period in s; 0: the market's
  usd_cny = 0,                                                  -- GetUSDCNY(); 0: none configured
  market = "",                                                  -- its market data URL; "": the process's market
  kind = "spot",                                                -- "futures": a USDT-margined futures account
  -- futures only (docs/futures.md): contract value in base coins, the margin level until SetMarginLevel, the
  -- venue's highest, the maintenance margin rate, the funding rate per interval and the interval in seconds
  ct_val = 1, leverage = 10, max_leverage = 125, maintenance_margin = 0.004, funding_rate = 0.0001,
  funding_interval = 28800,
  -- a live exchange (docs/live.md): the venue; the config loader moves its other settings and keys into C
  -- (runtime/lua/venue.c) and leaves the slot that holds them
  venue = "", venue_slot = 0,
}
local ALLOWED = "name, label, currency, balance, stocks, maker_fee, taker_fee, slippage, tick_size, amount_size, min_notional, period, usd_cny, market, kind, ct_val, leverage, max_leverage, maintenance_margin, funding_rate, funding_interval, venue and with it base_url, api_key, secret_key, recv_window, timeout, weight_limit, max_order_value, max_orders_per_minute, max_position, dry_run, cancel_on_stop, stream, stream_url, kill_switch"
-- A futures account's defaults where the spot ones would be wrong: Binance USDⓈ-M's regular fees and BTCUSDT's
-- quantity step.
local FUTURES_DEFAULTS = { maker_fee = 0.0002, taker_fee = 0.0005, amount_size = 0.001, name = "Futures_Paper" }
local WHOLE = { leverage = true, max_leverage = true, funding_interval = true }
local GRID = { tick_size = true, amount_size = true }                       -- steps of a grid: above 0
local FRACTION = { maker_fee = true, taker_fee = true, slippage = true, maintenance_margin = true }    -- of a price: below 1
local AMOUNT_MAX = 1e15                                                     -- balance, stocks

-- A number as messages show it.
local function show(x)
  if type(x) ~= "number" then return tostring(x) end
  if x ~= x then return "nan" end
  if math.type(x) == "integer" then return tostring(x) end
  return string.format("%.10g", x)
end

local function finite(x)
  return x == x and x > -math.huge and x < math.huge
end

-- The settings of cfg, defaults filled in, with base and quote split from currency; or nil and what is wrong.
local function check(cfg)
  if type(cfg) ~= "table" then return nil, "the exchange config must be a table, not " .. type(cfg) end
  for k, v in pairs(cfg) do
    if DEFAULTS[k] == nil then return nil, "unknown key exchange." .. tostring(k) .. " (allowed: " .. ALLOWED .. ")" end
    if type(v) ~= type(DEFAULTS[k]) then
      return nil, string.format("exchange.%s must be a %s, not %s", k, type(DEFAULTS[k]), type(v))
    end
  end
  local futures = cfg.kind == "futures" or cfg.venue == "binance-futures"   -- a live futures venue: futures
  if cfg.kind ~= nil and not futures and cfg.kind ~= "spot" then
    return nil, "exchange.kind must be \"spot\" or \"futures\", got '" .. cfg.kind .. "'"
  end
  if cfg.kind == "spot" and futures then
    return nil, "exchange.venue \"binance-futures\" trades futures: leave exchange.kind out or set it to \"futures\""
  end
  local s = {}
  for k, d in pairs(DEFAULTS) do
    local v = cfg[k]
    if v == nil then v = futures and FUTURES_DEFAULTS[k] or d end
    if k == "funding_rate" then
      if not (finite(v) and v > -1 and v < 1) then
        return nil, "exchange.funding_rate is a fraction per interval between -1 and 1, got " .. show(v)
      end
      v = v + 0.0
    elseif type(v) == "number" then
      if not (finite(v) and v >= 0) then return nil, "exchange." .. k .. " must be a finite number >= 0, got " .. show(v) end
      if WHOLE[k] and (v ~= math.floor(v) or v < 1 or v > (k == "funding_interval" and 604800 or 1000)) then
        return nil, string.format("exchange.%s is a whole number from 1 to %d, got %s", k,
          k == "funding_interval" and 604800 or 1000, show(v))
      end
      if k == "period" and (v ~= math.floor(v) or v > 31 * 86400) then
        return nil, "exchange.period is a whole number of seconds from 0 (the market's) to 2678400, got " .. show(v)
      end
      if (GRID[k] or k == "ct_val") and v < 1e-12 then
        return nil, "exchange." .. k .. " is the step of a grid and must be at least 1e-12, got " .. show(v)
      end
      if FRACTION[k] and v >= 1 then
        return nil, "exchange." .. k .. " is a fraction and must be < 1, got " .. show(v)
      end
      if not FRACTION[k] and v > AMOUNT_MAX then
        return nil, "exchange." .. k .. " is an amount and must be <= 1e15, got " .. show(v)
      end
      v = v + 0.0
    end
    s[k] = v
  end
  s.base, s.quote = string.match(s.currency, "^([^_]+)_([^_]+)$")
  if not s.base then return nil, "exchange.currency must be BASE_QUOTE such as BTC_USDT, got '" .. s.currency .. "'" end
  if s.name == "" then return nil, "exchange.name must not be empty" end
  if s.label == "" then s.label = s.name end
  s.futures = futures
  if s.venue ~= "" and s.venue_slot < 1 then
    return nil, "exchange.venue is set but the config loader did not take its settings (set it in the config file)"
  end
  if s.venue == "binance" and futures then
    return nil, "exchange.venue \"binance\" is Binance spot: USDⓈ-M futures are venue = \"binance-futures\" (docs/live.md)"
  end
  if futures then
    if s.stocks ~= 0 then
      return nil, "exchange.stocks is a spot account's coins; a futures account holds only its margin (balance, in "
        .. s.quote .. "): leave stocks out"
    end
    if s.leverage > s.max_leverage then
      return nil, string.format("exchange.leverage %s is above exchange.max_leverage %s", show(s.leverage),
        show(s.max_leverage))
    end
    if 86400 % s.funding_interval ~= 0 then
      return nil, string.format("exchange.funding_interval is counted from 00:00 UTC and must divide a day (86400 "
        .. "s: 28800 for 8 hours), got %s", show(s.funding_interval))
    end
    if s.maintenance_margin * s.max_leverage >= 1 then
      return nil, string.format("exchange.maintenance_margin %s at max_leverage %s would liquidate a position as it "
        .. "opens: keep it below 1/max_leverage", show(s.maintenance_margin), show(s.max_leverage))
    end
  end
  return s
end

return { check = check, show = show, finite = finite }
