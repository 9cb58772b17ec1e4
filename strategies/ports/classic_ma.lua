-- classic_ma.lua: the classic moving-average crossover on spot, through the platform's trading template.
--
-- Source: fmzquant/strategies, "经典均线策略.md" ("经典均线策略", the classic moving-average strategy,
-- https://www.fmz.com/strategy/12348), JavaScript, with the template library "数字货币交易类库" imported ($.Cross,
-- $.Buy, $.Sell), which stratrun ships as require("stratrun.ext") (docs/platform.md, "Template libraries").
--
-- What it does: flat, it asks $.Cross(FastPeriod, SlowPeriod) (how many bars the fast EMA of the records has stayed
-- above the slow one, negative below); from EnterPeriod bars on it buys PositionRatio of the balance's worth
-- (above) or sells PositionRatio of the stocks (below) with $.Buy / $.Sell, and remembers the price the template
-- reports. In a position it leaves when $.Cross(ExitFastPeriod, ExitSlowPeriod) has turned against it for
-- ExitPeriod bars, or when the price passes StopLossRatio beyond the entry (the bid under it for a long, the ask
-- over it for a short); it trades back what the account gained or lost since the start, and logs the profit
-- (LogProfit: the balance's change).
--
-- What changed in the port, and why:
-- * JavaScript to Lua: `$.` is `ext.` (`local ext = require("stratrun.ext")`), `Math.abs` is `math.abs`, `var` is
--   `local`, `===` is `==`, `a ? b : c` is an if.
-- * `ExitPeriod` defaults to `true` in the source's parameter table, which JavaScript compares as 1 in
--   `Math.abs(n) >= ExitPeriod`; Lua cannot compare a boolean with a number, so the default is 1.
-- * `opAmount = obj.amount` assigned an undeclared global that nothing read: dropped.
-- * The parameters (the source's parameter table) are globals with the same defaults, settable with -p.
-- Nothing else: same signals, amounts, prices, order of calls.

local ext = require("stratrun.ext")

FastPeriod = FastPeriod or 5            -- entry fast period
SlowPeriod = SlowPeriod or 15           -- entry slow period
EnterPeriod = EnterPeriod or 2          -- bars the entry cross must have lasted
ExitFastPeriod = ExitFastPeriod or 7    -- exit fast period
ExitSlowPeriod = ExitSlowPeriod or 15   -- exit slow period
ExitPeriod = ExitPeriod or 1            -- bars the exit cross must have lasted
PositionRatio = PositionRatio or 0.8    -- the share of the balance (or stocks) an entry trades
StopLossRatio = StopLossRatio or 0.05   -- the stop, from the entry price
Interval = Interval or 10               -- seconds between rounds

function main()
  local STATE_IDLE = -1
  local state = STATE_IDLE
  local entryPrice = 0
  local initAccount = _C(exchange.GetAccount)
  Log(initAccount)
  while true do
    if state == STATE_IDLE then
      local n = ext.Cross(FastPeriod, SlowPeriod)
      if math.abs(n) >= EnterPeriod then
        local account = _C(exchange.GetAccount)
        local ticker = _C(exchange.GetTicker)
        local obj
        if n > 0 then
          obj = ext.Buy(_N(account.Balance * PositionRatio / ticker.Sell, 3))
        else
          obj = ext.Sell(_N(account.Stocks * PositionRatio, 3))
        end
        if obj then
          entryPrice = obj.price
          state = n > 0 and PD_LONG or PD_SHORT
          Log("开仓详情", obj, "交叉周期", n)
        end
      end
    else
      local n = ext.Cross(ExitFastPeriod, ExitSlowPeriod)
      local needCover = math.abs(n) >= ExitPeriod and ((state == PD_LONG and n < 0) or (state == PD_SHORT and n > 0))
      if needCover then
        Log("离市平仓")
      else
        local ticker = _C(exchange.GetTicker)
        if state == PD_LONG then
          if ticker.Buy < entryPrice * (1 - StopLossRatio) then
            needCover = true
            Log("止损平仓")
          end
        else
          if ticker.Sell > entryPrice * (1 + StopLossRatio) then
            needCover = true
            Log("止损平仓")
          end
        end
      end
      if needCover then
        local nowAccount = _C(exchange.GetAccount)
        local obj
        if state == PD_LONG then
          obj = ext.Sell(_N(nowAccount.Stocks - initAccount.Stocks, 3))
        else
          obj = ext.Buy(_N(initAccount.Stocks - nowAccount.Stocks, 3))
        end
        state = STATE_IDLE
        nowAccount = _C(exchange.GetAccount)
        LogProfit(nowAccount.Balance - initAccount.Balance, '钱:', nowAccount.Balance, '币:', nowAccount.Stocks,
          '平仓详情:', obj, "交叉周期", n)
      end
    end
    Sleep(Interval * 1000)
  end
end
