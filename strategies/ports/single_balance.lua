-- single_balance.lua: keeps half of the account's value in coin and half in cash (a 50/50 rebalancer).
--
-- Source: fmzquant/strategies, "单平台均衡策略.md" ("单平台均衡策略", the single-exchange balance strategy; by Zero,
-- https://www.fmz.com/strategy/345), JavaScript.
--
-- What it does: every LoopInterval seconds it compares the cash (Balance) with the coin's value at the ask
-- (Stocks * ticker.Sell). diffAsset is half the difference and ratio = diffAsset / Balance. When |ratio| reaches
-- `threshold` it trades diffAsset's worth back toward 50/50: it buys (cash is worth more) at the ask plus the
-- spread, or sells (coin is worth more) at the bid minus the spread, both priced through the book so they fill at
-- once; amounts are truncated to XPrecision decimals and nothing under MinStock is traded. After a trade it waits a
-- second, cancels whatever is still open and logs the account. Starting from cash only, its first trade buys half.
--
-- What changed in the port, and why:
-- * JavaScript to Lua: `var` -> `local`; the functions are `local` and defined before use (JavaScript hoists
--   function declarations); `orders.length` -> `#orders`, `orders[j]` with j from 1; `Math.abs`, `Math.max` ->
--   `math.abs`, `math.max`; `while (!(orders = exchange.GetOrders()))` becomes a loop that breaks once the call
--   returns a table (Lua has no assignment inside an expression); `while (1)` -> `while true` (in Lua 0 and 1 are
--   both true, so `while 1` would work too, but it reads as a mistake).
-- * The parameters (the source's parameter table) are globals with the same defaults, settable with -p.
-- Nothing else: same formula, prices, truncation, extra arguments in the order lines, sleeps.

threshold = threshold or 0.05        -- rebalance when |ratio| reaches this
Interval = Interval or 2000          -- retry interval (ms)
LoopInterval = LoopInterval or 60    -- polling interval (s)
MinStock = MinStock or 0.001         -- the smallest amount traded
XPrecision = XPrecision or 4         -- amount decimals
ZPrecision = ZPrecision or 8         -- price decimals

local function CancelPendingOrders()
  local ret = false
  while true do
    local orders
    while true do
      orders = exchange.GetOrders()
      if orders then break end
      Sleep(Interval)
    end

    if #orders == 0 then
      return ret
    end

    for j = 1, #orders do
      exchange.CancelOrder(orders[j].Id)
      ret = true
      if j < #orders then
        Sleep(Interval)
      end
    end
  end
end

InitAccount = nil

local function onTick()
  local acc = _C(exchange.GetAccount)
  local ticker = _C(exchange.GetTicker)
  local spread = ticker.Sell - ticker.Buy
  local diffAsset = (acc.Balance - (acc.Stocks * ticker.Sell)) / 2
  local ratio = diffAsset / acc.Balance
  LogStatus('ratio:', ratio, _D())
  if math.abs(ratio) < threshold then
    return false
  end
  if ratio > 0 then
    local buyPrice = _N(ticker.Sell + spread, ZPrecision)
    local buyAmount = _N(diffAsset / buyPrice, XPrecision)
    if buyAmount < MinStock then
      return false
    end
    exchange.Buy(buyPrice, buyAmount, diffAsset, ratio)
  else
    local sellPrice = _N(ticker.Buy - spread, ZPrecision)
    local sellAmount = _N(-diffAsset / sellPrice, XPrecision)
    if sellAmount < MinStock then
      return false
    end
    exchange.Sell(sellPrice, sellAmount, diffAsset, ratio)
  end
  return true
end

function main()
  InitAccount = _C(exchange.GetAccount)
  LoopInterval = math.max(LoopInterval, 1)
  while true do
    if onTick() then
      Sleep(1000)
      CancelPendingOrders()
      Log(_C(exchange.GetAccount))
    end
    Sleep(LoopInterval * 1000)
  end
end
