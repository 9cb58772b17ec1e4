-- balance_orders.lua: a Shannon-style balance kept with resting orders, with its profit series.
--
-- Source: fmzquant/strategies, "平衡挂单策略教学.md" ("平衡挂单策略教学", the balance pending-order strategy, for
-- teaching; by 小小梦, https://www.fmz.com/strategy/225746), JavaScript.
--
-- What it does: from the account (cash Balance, coin Stocks) it plans a sell at the price where the coin would be
-- worth BalanceDistance more than the cash, (Balance + BalanceDistance) / Stocks, and a buy where it would be worth
-- BalanceDistance less, (Balance - BalanceDistance) / Stocks, each for BalanceDistance / 2 of value. It places both
-- and waits; when either fills it cancels the other, logs the profit against the starting account at the last price
-- (LogProfit) and plans again from the new account. It needs coin to start (Stocks > 0). Every call that reads the
-- market or the account goes through _C (retried until it answers). The starting account is kept in _G("account");
-- with IsReset the run resumes from it instead. The panel shows the plan and the accounts; the commands "stop" and
-- "continue" (GetCommand) pause and resume; at exit it cancels its orders.
--
-- What changed in the port, and why:
-- * JavaScript to Lua: the object literal `var Shannon = {...}` is a table whose methods take `self` (`this`) and
--   are called with `:`; `exchanges[0]` is `exchanges[1]`; `this.e.Sell` is kept as a plain function value
--   (stratrun's exchange calls work with `.` and `:`); `arr.push(x)` is `arr[#arr + 1] = x`; `JSON.stringify` is
--   `json.encode`, and the tables' rows start as `json.array()` so an empty list shows as `[]`; `a ? b : c` is
--   `a and b or c` (b is never false or nil here); string `+` is `..`; `var Shannon` is a local.
-- * The parameters (the source's parameter table) are globals with the same defaults, settable with -p; IsReset is
--   a boolean, so its default is set with `== nil` (`IsReset or false` would do too, but not for a default true).
-- Nothing else: same prices, amounts, order of calls and sleeps.

if IsReset == nil then IsReset = false end       -- resume from the stored starting account
BalanceDistance = BalanceDistance or 500          -- the balance's band (quote currency)

local Shannon = {
  -- members
  e = exchanges[1],
  arrPlanOrders = {},
  distance = BalanceDistance,
  account = nil,
  ticker = nil,
  initAccount = nil,
  isAskPending = false,
  isBidPending = false,
}

-- methods
function Shannon:CancelAllOrders(e)
  while true do
    local orders = _C(e.GetOrders)
    if #orders == 0 then
      return
    end
    Sleep(500)
    for i = 1, #orders do
      e.CancelOrder(orders[i].Id, orders[i])
      Sleep(500)
    end
  end
end

function Shannon:Balance()
  if #self.arrPlanOrders == 0 then
    self:CancelAllOrders(self.e)
    local acc = _C(self.e.GetAccount)
    self.account = acc
    local askPendingPrice = (self.distance + acc.Balance) / acc.Stocks
    local bidPendingPrice = (acc.Balance - self.distance) / acc.Stocks
    local askPendingAmount = self.distance / 2 / askPendingPrice
    local bidPendingAmount = self.distance / 2 / bidPendingPrice

    self.arrPlanOrders[#self.arrPlanOrders + 1] = { tradeType = "ask", price = askPendingPrice, amount = askPendingAmount }
    self.arrPlanOrders[#self.arrPlanOrders + 1] = { tradeType = "bid", price = bidPendingPrice, amount = bidPendingAmount }
  elseif self.isAskPending == false and self.isBidPending == false then
    for i = 1, #self.arrPlanOrders do
      local tradeFun = self.arrPlanOrders[i].tradeType == "ask" and self.e.Sell or self.e.Buy
      local id = tradeFun(self.arrPlanOrders[i].price, self.arrPlanOrders[i].amount)
      if id then
        self.isAskPending = self.arrPlanOrders[i].tradeType == "ask" and true or self.isAskPending
        self.isBidPending = self.arrPlanOrders[i].tradeType == "bid" and true or self.isBidPending
      else
        Log("挂单失败，清理！")
        self:CancelAllOrders(self.e)
        return
      end
    end
  end

  if self.isBidPending or self.isAskPending then
    local orders = _C(self.e.GetOrders)
    Sleep(1000)
    local ticker = _C(self.e.GetTicker)
    self.ticker = ticker
    if self.isAskPending then
      local isFoundAsk = false
      for i = 1, #orders do
        if orders[i].Type == ORDER_TYPE_SELL then
          isFoundAsk = true
        end
      end
      if not isFoundAsk then
        Log("卖单成交，撤销订单，重置")
        self:CancelAllOrders(self.e)
        self.arrPlanOrders = {}
        self.isAskPending = false
        self.isBidPending = false
        LogProfit(self:CalcProfit(ticker))
        return
      end
    end
    if self.isBidPending then
      local isFoundBid = false
      for i = 1, #orders do
        if orders[i].Type == ORDER_TYPE_BUY then
          isFoundBid = true
        end
      end
      if not isFoundBid then
        Log("买单成交，撤销订单，重置")
        self:CancelAllOrders(self.e)
        self.arrPlanOrders = {}
        self.isAskPending = false
        self.isBidPending = false
        LogProfit(self:CalcProfit(ticker))
        return
      end
    end
  end
end

function Shannon:ShowTab()
  local tblPlanOrders = {
    type = "table",
    title = "计划挂单",
    cols = { "方向", "价格", "数量" },
    rows = json.array(),
  }
  for i = 1, #self.arrPlanOrders do
    tblPlanOrders.rows[#tblPlanOrders.rows + 1] = { self.arrPlanOrders[i].tradeType, self.arrPlanOrders[i].price,
      self.arrPlanOrders[i].amount }
  end

  local tblAcc = {
    type = "table",
    title = "账户信息",
    cols = { "type", "Stocks", "FrozenStocks", "Balance", "FrozenBalance" },
    rows = json.array(),
  }
  tblAcc.rows[#tblAcc.rows + 1] = { "初始", self.initAccount.Stocks, self.initAccount.FrozenStocks,
    self.initAccount.Balance, self.initAccount.FrozenBalance }
  tblAcc.rows[#tblAcc.rows + 1] = { "当前", self.account.Stocks, self.account.FrozenStocks, self.account.Balance,
    self.account.FrozenBalance }

  return "时间：" .. _D() .. "\n `" .. json.encode({ tblPlanOrders, tblAcc }) .. "`" .. "\n" .. "ticker:"
    .. json.encode(self.ticker)
end

function Shannon:CalcProfit(ticker)
  local acc = _C(self.e.GetAccount)
  self.account = acc
  return (self.account.Balance - self.initAccount.Balance) + (self.account.Stocks - self.initAccount.Stocks) * ticker.Last
end

function Shannon:Init()
  self.initAccount = _C(self.e.GetAccount)
  if IsReset then
    local acc = _G("account")
    if acc then
      self.initAccount = acc
    else
      Log("恢复初始账户信息失败！以初始状态运行！")
      _G("account", self.initAccount)
    end
  else
    _G("account", self.initAccount)
    LogReset(1)
    LogProfitReset()
  end
end

function Shannon:Exit()
  Log("停止前，取消所有挂单...")
  self:CancelAllOrders(self.e)
end

function main()
  -- init
  Shannon:Init()

  -- main loop
  while true do
    Shannon:Balance()
    LogStatus(Shannon:ShowTab())
    -- commands
    local cmd = GetCommand()
    if cmd then
      if cmd == "stop" then
        while true do
          LogStatus("暂停", Shannon:ShowTab())
          cmd = GetCommand()
          if cmd then
            if cmd == "continue" then
              break
            end
          end
          Sleep(1000)
        end
      end
    end
    Sleep(5000)
  end
end

function onexit()
  Shannon:Exit()
end
