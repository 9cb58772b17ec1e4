-- grid_swap.lua: an arithmetic grid on a USDT perpetual swap around a base position, long below `shang` and short
-- above it, closing it all and turning at the far edges.
--
-- Source: fmzquant/strategies, "简易等差合约网格.md" ("简易等差合约网格", a simple arithmetic contract grid; by 诺宝,
-- https://www.fmz.com/strategy/330440), Python. Its backtest: Futures_Binance, BTC_USDT, 2500 USDT, 1-minute bars,
-- with H = 30, n1 = 0.001, grid = 300, xia = 50000.
--
-- What it does: on the "swap" contract at margin level M, the grid's two prices start at Last - grid (buyp) and
-- Last + grid (sellp), kept in _G. Flat, it opens a base position of n1 * H at market: short when Last is above
-- `shang`, else long. Holding a long, it quotes two limit orders of n1: a buy opening more long at buyp and a sell
-- closing long at sellp; once one of the two has filled (one order left open), it cancels the other and moves both
-- prices a grid step up (the sell filled) or down (the buy filled), then quotes again. A short is the mirror image
-- (a sell opening more short at sellp, a buy closing short at buyp). When Last passes `shang` while long, or falls
-- under `xia` while short, it closes the whole position at market; flat again, it opens the base position on the
-- side Last is on. After each step it logs the account's Balance as read at the start of the loop (LogProfit).
--
-- Config: a futures exchange (docs/exchange.md), e.g. `exchange = { kind = "futures", currency = "BTC_USDT",
-- balance = 10000 }`; the strategy sets the contract and the margin level itself. Amounts are contracts of ct_val
-- coins: the source's Binance amounts are in BTC (ct_val = 1); the defaults (H = 50 grids of n1 = 1) are 50 BTC,
-- far beyond a small account: give n1 (the source's own backtest used 0.001) and the prices for the market.
--
-- What changed in the port, and why:
-- * Python to Lua: `position[0].Amount` -> `position[1].Amount`, `exchanges[0]` -> `exchanges[1]` (1-based);
--   `len(x)` -> `#x`; `range(len(orders))` -> `for j = 1, #orders` (the source's `j=j+1` inside the loop changes
--   nothing in Python and is left out); `float(shang)` -> `tonumber(shang)`; dict and attribute reads are `t.field`.
-- * One addition: `Sleep(LoopInterval)` at the end of each loop (default 1000 ms). The source loops without ever
--   sleeping; a loop that never sleeps never lets a replay's clock move (docs/bots.md), and live it would poll the
--   venue as fast as the CPU allows.
-- * The parameter table's `n1` default reads "true" (the platform's table shows Python's True, which is 1 as a
--   number): the default is 1. The parameters are globals with the source's defaults, settable with -p.
-- Kept as the source has it, and worth knowing: `position` and `account` are read at the top of the loop, so the
-- log lines and LogProfit show the amounts and the Balance from before the step; when both grid orders fill before
-- the next look (a candle that spans both), the prices do not move and the same two are quoted again; when the last
-- n1 of the position is closed by the grid, the open grid order is left open and a new base position opened.
-- Nothing else: same prices, amounts, order of calls.

M = M or 20                  -- the margin level
H = H or 50                  -- the base position, in grids
n1 = n1 or 1                 -- one grid's amount ("true" = 1 in the source's table)
grid = grid or 200           -- the grid step (price)
xia = xia or 35000           -- under this a short is closed
shang = shang or 60000       -- above this a long is closed; flat above it, the base position is short
LoopInterval = LoopInterval or 1000   -- added: ms between loops (the source never sleeps)

local function CancelPendingOrders()
  local orders = _C(exchanges[1].GetOrders)
  if #orders > 0 then
    for j = 1, #orders do
      exchanges[1].CancelOrder(orders[j].Id, orders[j])
    end
  end
end

function main()
  exchange.SetContractType('swap')
  exchange.SetMarginLevel(M)
  local currency = exchange.GetCurrency()
  local buyp, sellp
  if _G('buyp') and _G('sellp') then
    buyp = _G('buyp')
    sellp = _G('sellp')
    Log('读取网格价格')
  else
    local ticker = exchange.GetTicker()
    buyp = ticker.Last - grid
    sellp = ticker.Last + grid
    _G('buyp', buyp)
    _G('sellp', sellp)
    Log('网格数据初始化')
  end
  while true do
    local account = exchange.GetAccount()
    local ticker = exchange.GetTicker()
    local position = exchange.GetPosition()
    exchange.GetOrders()        -- the source's orders = ..., never read before the next one: the call is kept
    local orders
    if #position == 0 then
      if ticker.Last > shang then
        exchange.SetDirection('sell')
        exchange.Sell(-1, n1 * H)
        Log(currency, '到达开空区域,买入空头底仓')
      else
        exchange.SetDirection('buy')
        exchange.Buy(-1, n1 * H)
        Log(currency, '到达开多区域,买入多头底仓')
      end
    end
    if #position == 1 then
      if position[1].Type == 1 then
        if ticker.Last < xia then
          Log(currency, '空单全部止盈反手')
          exchange.SetDirection('closesell')
          exchange.Buy(-1, position[1].Amount)
        else
          orders = exchange.GetOrders()
          if #orders == 0 then
            exchange.SetDirection('sell')
            exchange.Sell(sellp, n1)
            exchange.SetDirection('closesell')
            exchange.Buy(buyp, n1)
          end
          if #orders == 1 then
            if orders[1].Type == 1 then -- 止盈成交
              Log(currency, '网格减仓,当前份数:', position[1].Amount)
              CancelPendingOrders()
              buyp = buyp - grid
              sellp = sellp - grid
              LogProfit(account.Balance)
            end
            if orders[1].Type == 0 then
              Log(currency, '网格加仓,当前份数:', position[1].Amount)
              CancelPendingOrders()
              buyp = buyp + grid
              sellp = sellp + grid
              LogProfit(account.Balance)
            end
          end
        end
      end

      if position[1].Type == 0 then
        if ticker.Last > tonumber(shang) then
          Log(currency, '多单全部止盈反手')
          exchange.SetDirection('closebuy')
          exchange.Sell(-1, position[1].Amount)
        else
          orders = exchange.GetOrders()
          if #orders == 0 then
            exchange.SetDirection('buy')
            exchange.Buy(buyp, n1)
            exchange.SetDirection('closebuy')
            exchange.Sell(sellp, n1)
          end
          if #orders == 1 then
            if orders[1].Type == 0 then -- 止盈成交
              Log(currency, '网格减仓,当前份数:', position[1].Amount)
              CancelPendingOrders()
              buyp = buyp + grid
              sellp = sellp + grid
              LogProfit(account.Balance)
            end
            if orders[1].Type == 1 then
              Log(currency, '网格加仓,当前份数:', position[1].Amount)
              CancelPendingOrders()
              buyp = buyp - grid
              sellp = sellp - grid
              LogProfit(account.Balance)
            end
          end
        end
      end
    end
    Sleep(LoopInterval)
  end
end
