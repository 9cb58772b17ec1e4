-- hft_2014.lua: a quasi high-frequency market maker that quotes inside the book where the depth has piled up.
--
-- Source: fmzquant/strategies, "2014年的简易比特币高频策略机器人.md" ("2014年的简易比特币高频策略机器人", a simple
-- bitcoin high-frequency bot from 2014; by 小草, https://www.fmz.com/strategy/1088), JavaScript.
--
-- What it does: every `sleeptime` ms it reads the depth and walks down the bids until their cumulated amount exceeds
-- `floatamountbuy`, and bids one cent above that level; likewise it offers one cent under the ask level where the
-- asks' cumulated amount exceeds `floatamountsell`. When the two prices are `diffprice` or less apart it widens them
-- by 10 each. Then it cancels every open order and quotes again: a sell of all its coin (truncated to 2 decimals)
-- and a buy of all its cash (Balance / price - 0.1, truncated to 2 decimals), each only when over 0.02. No position
-- management and no stop: a fill is kept until the other side fills.
--
-- What changed in the port, and why:
-- * JavaScript to Lua: depth levels are 1-based (`depth.Bids[0]` -> `depth.Bids[1]`), so the source's
--   `for (var i = 0; i < 20; i++)` is `for i = 1, 20`; `orders.length` -> `#orders`; `+=` is spelled out; the
--   functions are `local` and defined before use.
-- * As in the source, the walk reads up to 20 levels and stops with an error on a missing one. The paper exchange's
--   book has 10 levels of (candle volume / 20) each, so with the default 8 BTC and a quiet market the walk runs past
--   level 10 and the bot stops there (`attempt to index a nil value`), as the source does on a venue that shows
--   fewer than 20 levels. Give smaller amounts on such a book: -p floatamountbuy=0.5 -p floatamountsell=0.5 on the
--   random walk, whose quietest minutes show less than 1 BTC over the 10 levels.
-- * The parameters (the source's parameter table) are globals with the same defaults, settable with -p.
-- Nothing else: same prices, amounts, order of calls and sleeps.

sleeptime = sleeptime or 3500             -- ms between rounds
floatamountbuy = floatamountbuy or 8      -- cumulated bid amount to quote above (BTC)
floatamountsell = floatamountsell or 8    -- cumulated ask amount to quote below (BTC)
diffprice = diffprice or 1.5              -- the smallest spread kept between the two quotes

-- cancel every open order
local function CancelPendingOrders()
  local orders = _C(exchange.GetOrders)
  for j = 1, #orders do
    exchange.CancelOrder(orders[j].Id, orders[j])
  end
end

-- the price to quote at
local function GetPrice(Type, depth)
  local amountBids = 0
  local amountAsks = 0
  -- the buy price: where the cumulated bids reach floatamountbuy
  if Type == "Buy" then
    for i = 1, 20 do
      amountBids = amountBids + depth.Bids[i].Amount
      if amountBids > floatamountbuy then
        -- one cent above, to stand first in the queue
        return depth.Bids[i].Price + 0.01
      end
    end
  end
  -- the same for the sell price
  if Type == "Sell" then
    for j = 1, 20 do
      amountAsks = amountAsks + depth.Asks[j].Amount
      if amountAsks > floatamountsell then
        return depth.Asks[j].Price - 0.01
      end
    end
  end
  -- the whole depth did not hold the amount: return a price anyway
  return depth.Asks[1].Price
end

local function onTick()
  local depth = _C(exchange.GetDepth)
  local buyPrice = GetPrice("Buy", depth)
  local sellPrice = GetPrice("Sell", depth)
  -- quotes closer than diffprice: quote deeper
  if (sellPrice - buyPrice) <= diffprice then
    buyPrice = buyPrice - 10
    sellPrice = sellPrice + 10
  end
  -- cancel everything open (the new price is often the same as the old one's; no matter)
  CancelPendingOrders()
  -- how much cash and coin there is
  local account = _C(exchange.GetAccount)
  -- the coin the cash can buy
  local amountBuy = _N((account.Balance / buyPrice - 0.1), 2)
  -- the coin to sell: all of it, no position limit
  local amountSell = _N((account.Stocks), 2)
  if amountSell > 0.02 then
    exchange.Sell(sellPrice, amountSell)
  end
  if amountBuy > 0.02 then
    exchange.Buy(buyPrice, amountBuy)
  end
  -- sleep until the next round
  Sleep(sleeptime)
end

function main()
  while true do
    onTick()
  end
end
