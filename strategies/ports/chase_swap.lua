-- chase_swap.lua: momentum on a USDT perpetual swap: go long after a 5 % rise, short after a 5 % fall, exit on a
-- return on margin of +StopGain or -StopLoss.
--
-- Source: fmzquant/strategies, "Python版追涨杀跌策略教学币安USDT永续合约.md" ("Python版追涨杀跌策略教学币安USDT永续合约",
-- the chase-the-rise, sell-the-fall strategy for teaching, Binance USDT perpetual swap version; by 韬奋量化,
-- https://www.fmz.com/strategy/286091), Python. Its backtest: Futures_Binance, BTC_USDT, 1-minute bars.
--
-- What it does: on the "swap" contract, every half second it reads the ticker. basePrice starts at the first Last.
-- When Last is more than `ratio` (5 %) above basePrice and it holds no position (as last read) it places a limit
-- buy opening a long at Last, for Balance * ratio / Last contracts (3 decimals), and moves basePrice to Last; more
-- than 5 % below, likewise a limit sell opening a short. After placing, when more than 300 s have passed since the
-- last time it did so, it cancels every open order (the one just placed among them). Holding one position, it
-- closes it at market when Profit / Margin exceeds StopGain or falls under -StopLoss.
--
-- Config: a futures exchange (docs/exchange.md), e.g. `exchange = { kind = "futures", currency = "BTC_USDT",
-- balance = 10000 }`; the strategy sets the contract ("swap"), the margin level (`leverage`) and the precision
-- (prices 2 decimals, amounts 3) itself. Amounts are contracts of ct_val coins: ct_val = 1 (the default) gives
-- Binance's amounts in BTC, which the source assumes.
--
-- What changed in the port, and why:
-- * Python to Lua: `pos[0]["Profit"]` -> `pos[1].Profit` (1-based); `len(x)` -> `#x`; `range(len(orders))` ->
--   `for i = 1, #orders`; `elif` -> `elseif`; `CancelAll` is a local defined before use. The module-level names
--   (basePrice, acc, pos, lastCancelAll, minStocks, ratio) stay globals, read at load as in the source, so the
--   account and the positions are read once before main sets the contract; `pos` inside main is main's own (Python
--   makes it local there: main assigns it and does not declare it global), so the global stays that first read.
-- * That first read of the positions, at load, comes before main sets the contract: the paper exchange answers it
--   as the platform does (every position of the account: none), so `_C(exchange.GetPosition)` stays as it is.
-- * `time.time()` is `UnixNano() / 1e9`: the same float seconds live; in a replay it is the virtual clock. (The
--   platform's backtester gives Python the wall clock, on which a whole backtest passes in less than 300 s: there the
--   cancel-all runs once; here it runs whenever an order is placed more than 300 s after the previous one, as live.)
-- * The parameter table's `leverage` default reads "true" (the platform's table shows Python's True, which is 1 as
--   a number): the default is 1.
-- * `LogProfit(_N(float(acc["Info"]["totalWalletBalance"], 4)))` runs only on a live "Futures_Binance" exchange
--   (never in a replay, where IsVirtual() is true); as in the source, `float` given two arguments raises (Python's
--   TypeError), by a local `float` that does the same.
-- * The parameters (the source's parameter table) are globals with the same defaults, settable with -p; `ratio`
--   and `minStocks` are the source's module constants and stay constants.
-- Kept as the source has it, and worth knowing: the first signal's order is always cancelled at once (the
-- cancel-all's clock starts at 0); a resting order that fills later is not seen until the next signal or exit reads
-- the positions again (the up branch reads them only after it trades); Profit / Margin is the platform's return on
-- margin, so with leverage 10 the exits are 0.5 % price moves.
-- Nothing else: same signals, prices, amounts, order of calls and sleeps.

leverage = leverage or 1          -- the margin level ("true" = 1 in the source's table)
StopGain = StopGain or 0.05       -- take profit at this return on margin
StopLoss = StopLoss or 0.05       -- stop loss at this return on margin

basePrice = -1
ratio = 0.05
acc = _C(exchange.GetAccount)
pos = _C(exchange.GetPosition)
lastCancelAll = 0
minStocks = 0.01

-- Python's float(x); with a second argument it raises, as Python's TypeError
local function float(x, ...)
  if select("#", ...) > 0 then
    error("TypeError: float expected at most 1 argument, got " .. (select("#", ...) + 1), 2)
  end
  return tonumber(x)
end

local function CancelAll()
  while true do
    local orders = _C(exchange.GetOrders)
    for i = 1, #orders do
      exchange.CancelOrder(orders[i].Id, orders[i])
    end
    if #orders == 0 then
      break
    end
    Sleep(1000)
  end
end

function main()
  --Log(StopLoss * -1)
  exchange.SetContractType("swap")
  exchange.SetMarginLevel(leverage)
  exchange.SetPrecision(2, 3)
  local pos = _C(exchange.GetPosition)
  while true do
    local ticker = _C(exchange.GetTicker)
    if basePrice == -1 then
      basePrice = ticker.Last
    end
    if ticker.Last - basePrice > 0 and (ticker.Last - basePrice) / basePrice > ratio then
      acc = _C(exchange.GetAccount)
      if acc.Balance * ratio * leverage / ticker.Last > minStocks and #pos == 0 then
        exchange.SetDirection("buy")
        exchange.Buy(_N(ticker.Last, 2), _N(acc.Balance * ratio / ticker.Last, 3))
        basePrice = ticker.Last
        local ts = UnixNano() / 1e9
        if ts - lastCancelAll > 60 * 5 then
          CancelAll()
          lastCancelAll = ts
        end
        pos = _C(exchange.GetPosition)
      end
    end
    if ticker.Last - basePrice < 0 and (basePrice - ticker.Last) / basePrice > ratio then
      acc = _C(exchange.GetAccount)
      pos = _C(exchange.GetPosition)
      if acc.Balance * ratio * leverage / ticker.Last > minStocks and #pos == 0 then
        exchange.SetDirection("sell")
        exchange.Sell(_N(ticker.Last, 2), _N(acc.Balance * ratio / ticker.Last, 3))
        basePrice = ticker.Last
        local ts = UnixNano() / 1e9
        if ts - lastCancelAll > 60 * 5 then
          CancelAll()
          lastCancelAll = ts
        end
        pos = _C(exchange.GetPosition)
      end
    end
    if #pos == 1 then
      --Log(pos)
      if pos[1].Profit / pos[1].Margin > StopGain then
        if pos[1].Type == 0 then
          exchange.SetDirection("closebuy")
          exchange.Sell(-1, pos[1].Amount)
          pos = _C(exchange.GetPosition)
        elseif pos[1].Type == 1 then
          exchange.SetDirection("closesell")
          exchange.Buy(-1, pos[1].Amount)
          pos = _C(exchange.GetPosition)
        end
      elseif pos[1].Profit / pos[1].Margin < StopLoss * -1 then
        if pos[1].Type == 0 then
          exchange.SetDirection("closebuy")
          exchange.Sell(-1, pos[1].Amount)
          pos = _C(exchange.GetPosition)
        elseif pos[1].Type == 1 then
          exchange.SetDirection("closesell")
          exchange.Buy(-1, pos[1].Amount)
          pos = _C(exchange.GetPosition)
        end
      end
    end

    LogStatus(_D(), "\n", "行情信息:", ticker, "\n", "账户信息:", acc)
    if exchange.GetName() == "Futures_Binance" and IsVirtual() == false then
      LogProfit(_N(float(acc.Info.totalWalletBalance, 4)))
    end
    Sleep(500)
  end
end
