-- tradelib.lua: the platform's spot trading template ("数字货币交易类库", the library's most imported template:
-- `$.Buy`, `$.Sell`, `$.CancelPendingOrders`, `$.GetAccount`, `$.Cross`, `$.CTA` in JavaScript, `ext.` in Python),
-- written for stratrun from the template's published behaviour. A strategy reaches it as `require("stratrun.ext")`
-- (stdlib/platform.lua), which also holds the plotting template (stdlib/plotlib.lua): a port writes
-- `local ext = require("stratrun.ext")` and then `ext.Buy(...)` where the source had `$.Buy(...)`.
--
-- On the platform a template's parameters are set beside the strategy's; here they are the module's settings,
-- changed with ext.Configure{...} (a strategy's own globals of the same names are not read: a strategy parameter
-- called MaxAmount must not change how the template trades). The defaults are the template's:
--
--   OpMode 0        0: take the other side (buy at the ask + SlidePrice); 1: rest on one's own side (buy at the bid
--                   + SlidePrice) and chase it while it moves more than MaxSpace
--   MaxSpace 0.5    how far the price may move from a resting order's before it is cancelled and placed again
--   SlidePrice 0.1  added to a buy's price, taken from a sell's
--   MaxAmount 0.8   the largest single order; a larger Buy/Sell is several orders
--   RetryDelay 500  ms between the tries
--   MAType 0        what Cross(periodA, periodB) averages with: 0 TA.EMA, 1 TA.MA, 2 talib.KAMA
--   MinStock 0.01   an amount below this is not traded (the template's _GetMinStocks)
--
-- Buy(amount) / Buy(e, amount), Sell(...): trades amount of the base currency on exchange e (default `exchange`)
-- at the ticker, one order at a time (at most MaxAmount each), until what the account shows has changed by
-- amount (less what is under MinStock), the money runs out (a buy spends at most 95 % of the free balance), or the
-- stocks do. Every order not the current one is cancelled as it goes, and the account is read only when nothing is
-- frozen. Returns {price = the average price paid or got, amount = what was bought or sold}, as the account's
-- change measures them, or nil when nothing traded. A Buy or Sell blocks its bot until it is done, as on the
-- platform (a replay's clock moves RetryDelay at each try).

local M = {}

local SRC = debug.getinfo(1, "S").short_src
local raise = require("caller")(SRC)

local settings = { OpMode = 0, MaxSpace = 0.5, SlidePrice = 0.1, MaxAmount = 0.8, RetryDelay = 500, MAType = 0,
                   MinStock = 0.01 }

local function show(v)
  if type(v) == "string" then return string.format("%q", v) end
  return tostring(v)
end

local function finite(v) return type(v) == "number" and v == v and v > -math.huge and v < math.huge end

-- What each setting allows: a check, and the words of the refusal.
local ALLOWED = {
  OpMode = { function(v) return v == 0 or v == 1 end, "0 (take) or 1 (rest)" },
  MaxSpace = { function(v) return finite(v) and v >= 0 end, "a number >= 0" },
  SlidePrice = { function(v) return finite(v) and v >= 0 end, "a number >= 0" },
  MaxAmount = { function(v) return finite(v) and v > 0 end, "a number > 0" },
  RetryDelay = { function(v) return finite(v) and v >= 0 and v <= 3600000 end, "ms from 0 to 3600000" },
  MAType = { function(v) return v == 0 or v == 1 or v == 2 end, "0 (TA.EMA), 1 (TA.MA) or 2 (talib.KAMA)" },
  MinStock = { function(v) return finite(v) and v > 0 end, "a number > 0" },
}

-- Configure{OpMode = 1, ...}: changes the named settings; every name and value is checked before any changes.
-- Returns a copy of the settings now in force (Configure() reads them).
function M.Configure(t)
  if t ~= nil and type(t) ~= "table" then raise("ext.Configure: expects a table of settings, not " .. show(t)) end
  for k, v in pairs(t or {}) do
    local rule = ALLOWED[k]
    if not rule then
      local names = {}
      for n in pairs(ALLOWED) do names[#names + 1] = n end
      table.sort(names)
      raise("ext.Configure: no setting " .. show(k) .. " (the settings: " .. table.concat(names, ", ") .. ")")
    end
    if not rule[1](v) then raise("ext.Configure: " .. k .. " must be " .. rule[2] .. ", not " .. show(v)) end
  end
  for k, v in pairs(t or {}) do settings[k] = v end
  local copy = {}
  for k, v in pairs(settings) do copy[k] = v end
  return copy
end

local function exchange_or(e, fn)
  if e == nil then return _G.exchange end
  if type(e) ~= "table" or type(e.GetAccount) ~= "function" then
    raise("ext." .. fn .. ": the first argument must be an exchange (exchange, exchanges[i]) or the amount, not "
      .. show(e))
  end
  return e
end

-- e and amount from (amount) or (e, amount).
local function trade_args(fn, e, amount)
  if type(e) == "number" then e, amount = nil, e end
  e = exchange_or(e, fn)
  if not finite(amount) or amount < 0 then
    raise("ext." .. fn .. ": the amount must be a number >= 0, not " .. show(amount))
  end
  return e, amount
end

-- Cancels the open orders of e (only those of orderType, ORDER_TYPE_BUY or ORDER_TYPE_SELL, when given) until
-- none is left, RetryDelay between cancels.
local function cancel_pending(e, orderType)
  while true do
    local orders = e.GetOrders()
    if type(orders) ~= "table" then
      Sleep(settings.RetryDelay)
    else
      local processed = 0
      for j, o in ipairs(orders) do
        if orderType == nil or o.Type == orderType then
          e.CancelOrder(o.Id, o)
          processed = processed + 1
          if j < #orders then Sleep(settings.RetryDelay) end
        end
      end
      if processed == 0 then return end
    end
  end
end

-- The account of e; with waitFrozen, only once nothing is frozen (logged once while it waits).
local function account_of(e, waitFrozen)
  local alerted = false
  while true do
    local a = _C(e.GetAccount)
    if not waitFrozen or (a.FrozenStocks < settings.MinStock and a.FrozenBalance < 0.01) then return a end
    if not alerted then
      alerted = true
      Log("ext: the account has frozen money or stocks; waiting until it has none", a)
    end
    Sleep(settings.RetryDelay)
  end
end

-- Cancels every open order of e but keepId's; returns keepId's order (nil when it is no longer open).
local function strip_orders(e, keepId)
  local kept
  while true do
    local dropped = 0
    for _, o in ipairs(_C(e.GetOrders)) do
      if keepId ~= nil and o.Id == keepId then
        kept = o
      else
        e.CancelOrder(o.Id, o.Type == ORDER_TYPE_BUY and "buy order" or "sell order",
          o.DealAmount > 0 and ("filled " .. o.DealAmount) or "not filled")
        dropped = dropped + 1
      end
    end
    if dropped == 0 then return kept end
    Sleep(settings.RetryDelay)
  end
end

local function trade(fn, e, isBuy, amount)
  local s = settings
  local mode, slide, maxAmount, maxSpace = s.OpMode, s.SlidePrice, s.MaxAmount, s.MaxSpace
  local place = isBuy and e.Buy or e.Sell
  local initAccount = account_of(e, true)
  if initAccount.Equity ~= nil then   -- a futures account (Equity, UPnL): its orders need a contract and a direction
    raise("ext." .. fn .. ": the trading template trades spot; " .. e.GetLabel() .. " is a futures exchange (its "
      .. "orders take SetContractType and SetDirection: docs/futures.md)")
  end
  local nowAccount = initAccount
  local orderId, prePrice, dealAmount, diffMoney, first = nil, 0, 0, 0, true
  while true do
    local ticker = _C(e.GetTicker)
    local price
    if isBuy then
      price = _N((mode == 0 and ticker.Sell or ticker.Buy) + slide, 4)
    else
      price = _N((mode == 0 and ticker.Buy or ticker.Sell) - slide, 4)
    end
    if not orderId then
      if first then first = false else nowAccount = account_of(e, true) end
      local doAmount
      if isBuy then
        diffMoney = _N(initAccount.Balance - nowAccount.Balance, 4)
        dealAmount = _N(nowAccount.Stocks - initAccount.Stocks, 8)
        doAmount = math.min(maxAmount, amount - dealAmount, _N(nowAccount.Balance * 0.95 / price, 4))
      else
        diffMoney = _N(nowAccount.Balance - initAccount.Balance, 4)
        dealAmount = _N(initAccount.Stocks - nowAccount.Stocks, 8)
        doAmount = math.min(maxAmount, amount - dealAmount, nowAccount.Stocks)
      end
      if doAmount < s.MinStock then break end
      prePrice = price
      orderId = place(price, doAmount, ticker)
      if not orderId then cancel_pending(e, isBuy and ORDER_TYPE_BUY or ORDER_TYPE_SELL) end
    else
      if mode == 0 or math.abs(price - prePrice) > maxSpace then orderId = nil end
      if not strip_orders(e, orderId) then orderId = nil end
    end
    Sleep(s.RetryDelay)
  end
  if dealAmount <= 0 then return nil end
  return { price = _N(diffMoney / dealAmount, 4), amount = dealAmount }
end

function M.Buy(e, amount)
  e, amount = trade_args("Buy", e, amount)
  return trade("Buy", e, true, amount)
end

function M.Sell(e, amount)
  e, amount = trade_args("Sell", e, amount)
  return trade("Sell", e, false, amount)
end

-- CancelPendingOrders([e] [, orderType]): cancels e's open orders (those of orderType when given).
function M.CancelPendingOrders(e, orderType)
  if orderType == nil and type(e) == "number" then e, orderType = nil, e end
  e = exchange_or(e, "CancelPendingOrders")
  if orderType ~= nil and orderType ~= ORDER_TYPE_BUY and orderType ~= ORDER_TYPE_SELL then
    raise("ext.CancelPendingOrders: orderType must be ORDER_TYPE_BUY or ORDER_TYPE_SELL, not " .. show(orderType))
  end
  cancel_pending(e, orderType)
end

-- GetAccount([e]): e's account, retried with _C until it comes.
function M.GetAccount(e)
  e = exchange_or(e, "GetAccount")
  return _C(e.GetAccount)
end

local function average(records, n)
  local t = settings.MAType
  if t == 0 then return TA.EMA(records, n) end
  if t == 1 then return TA.MA(records, n) end
  return talib.KAMA(records, n)
end

-- Cross(a, b): with two arrays, _Cross(a, b): how many elements a has been above b (positive) or below (negative),
-- counted back from the last. With two periods, the same of the MAType averages of exchange.GetRecords() over
-- those periods, once the records are longer than both (waiting RetryDelay between reads).
function M.Cross(a, b)
  if type(a) == "table" and type(b) == "table" then return _Cross(a, b) end
  for i, v in ipairs({ a, b }) do
    if not (math.type(v) == "integer" or (finite(v) and v == math.floor(v))) or v < 1 then
      raise("ext.Cross: argument " .. i .. " must be an array or a period (a whole number >= 1), not " .. show(v))
    end
  end
  local records
  while true do
    records = _G.exchange.GetRecords()
    if records and #records > a and #records > b then break end
    Sleep(settings.RetryDelay)
  end
  return _Cross(average(records, a), average(records, b))
end

-- CTA(symbol, onTick [, interval]): the template's loop for a signal strategy on a spot pair. Every interval ms
-- (default 500) it reads exchange.GetRecords() and calls onTick(st), st = {records = ..., position = {amount =
-- the base bought (+) or sold (-) since CTA started, price = its average price, profit = its profit at the
-- last close}}. onTick returns a number n (or {n, callback}): n > 0 buys n, n < 0 sells -n, through Buy and Sell
-- above; callback(result) is then called with their result. Anything else trades nothing. symbol must be the
-- exchange's own pair ("BTC_USDT"): a spot account has no contract codes. CTA returns only when onTick raises
-- or the bot stops.
function M.CTA(symbol, onTick, interval)
  local e = _G.exchange
  if type(symbol) ~= "string" or symbol ~= e.GetCurrency() then
    raise("ext.CTA: symbol must be the exchange's pair " .. show(e.GetCurrency()) .. ", not " .. show(symbol))
  end
  if type(onTick) ~= "function" then raise("ext.CTA: onTick must be a function, not " .. show(onTick)) end
  if interval == nil then interval = 500 end
  if not finite(interval) or interval < 0 then
    raise("ext.CTA: interval must be ms >= 0, not " .. show(interval))
  end
  local hold, cost = 0, 0             -- base held since the start, and what it cost (quote)
  while true do
    local r = e.GetRecords()
    if r and #r > 0 then
      local close = r[#r].Close
      local position = { amount = hold, price = hold ~= 0 and _N(cost / hold, 8) or 0,
                         profit = _N(hold * close - cost, 8) }
      local n = onTick({ records = r, position = position })
      local callback
      if type(n) == "table" then n, callback = n[1], n[2] end
      if finite(n) and n ~= 0 then
        local ret = n > 0 and M.Buy(e, n) or M.Sell(e, -n)
        if ret then
          local signed = n > 0 and ret.amount or -ret.amount
          hold = _N(hold + signed, 8)
          cost = cost + signed * ret.price
          if math.abs(hold) < settings.MinStock then hold, cost = 0, 0 end
        end
        if type(callback) == "function" then callback(ret) end
      end
    end
    Sleep(interval)
  end
end

return M
