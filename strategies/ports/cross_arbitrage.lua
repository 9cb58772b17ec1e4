-- cross_arbitrage.lua: arbitrage between two exchanges trading the same coin: sell where it is dear, buy where it
-- is cheap, when the dear bid is at least minRate times the cheap ask.
--
-- Source: fmzquant/strategies, "跨平台套利新手测试.md" ("跨平台套利新手测试", a beginner's cross-exchange arbitrage
-- test; by cnxzcxy, https://www.fmz.com/strategy/115574), JavaScript. Its backtest ran two exchanges, Bitfinex and
-- OKCoin_EN, each with 5000 of cash and 10 coins: the config's `exchanges` list (docs/exchange.md).
--
-- What it does: for each ordered pair (sell on one exchange, buy on the other) it reads both books' second level
-- (the source's `Bids[1]` and `Asks[1]`, 0-based), bounds the amount by both levels' amounts, the seller's coins
-- and what the buyer's cash buys at the ask, and when sellPrice / buyPrice reaches minRate it sends a market buy
-- of that amount on the cheap exchange and a market sell of it on the dear one, then logs the trade and both
-- accounts. It checks both directions, again and again.
--
-- What changed in the port, and why:
-- * JavaScript to Lua: `var` and the source's implicit globals -> `local`; `exchanges[0]`, `exchanges[1]` ->
--   `exchanges[1]`, `exchanges[2]`, and the books' `Bids[1]`, `Asks[1]` -> `Bids[2]`, `Asks[2]` (Lua counts from 1);
--   the `a > b ? b : a` expressions -> `if`; `while (true)` -> `while true`.
-- * One addition: `Sleep(LoopInterval)` at the end of each loop (default 1000 ms). The source loops without ever
--   sleeping; a loop that never sleeps never lets a replay's clock move (docs/bots.md), and live it would poll the
--   venue as fast as the CPU allows. Nothing else: same levels, bounds, rate test, orders and log lines.
-- * Kept as the source has it, and worth knowing before running it: on the platform a market buy's amount is
--   quote currency (docs/exchange.md), and the source passes the coin amount, so each buy spends `amount` of cash
--   (it buys amount / price coins) while the sell sells `amount` coins.

minRate = minRate or 1.02          -- the price ratio that triggers a trade
LoopInterval = LoopInterval or 1000

local function calc(sellExchange, buyExchange)
  local date = _D()
  local sellDepth = sellExchange.GetDepth()
  local sellAccount = sellExchange.GetAccount()
  local sellPrice = sellDepth.Bids[2].Price
  local sellAmount = sellDepth.Bids[2].Amount

  local buyDepth = buyExchange.GetDepth()
  local buyAccount = buyExchange.GetAccount()
  local buyPrice = buyDepth.Asks[2].Price
  local buyAmount = buyDepth.Asks[2].Amount

  local amount = sellAmount
  if sellAmount > buyAmount then amount = buyAmount end
  if amount > sellAccount.Stocks then amount = sellAccount.Stocks end
  if amount > buyAccount.Balance / buyPrice then amount = buyAccount.Balance / buyPrice end
  local priceRate = sellPrice / buyPrice
  if amount > 0 then
    if priceRate >= minRate then
      buyExchange.Buy(-1, amount)
      sellExchange.Sell(-1, amount)
      Log(date)
      Log("卖出:", sellExchange.GetName(), "卖出价格:", sellPrice, "买入:", buyExchange.GetName(), " 买入价格:", buyPrice,
        " 比例:", priceRate, " 总量:", amount)
      Log('统计资产...')
      Log('交易所:', exchanges[1].GetName(), ' 账户:', exchanges[1].GetAccount())
      Log('交易所:', exchanges[2].GetName(), ' 账户:', exchanges[2].GetAccount())
    end
  end
end

function main()
  while true do
    calc(exchanges[1], exchanges[2])
    calc(exchanges[2], exchanges[1])
    Sleep(LoopInterval)
  end
end
