-- simple_grid.lua: a buy-low, sell-higher grid on a fixed price ladder.
--
-- Source: fmzquant/strategies, "Python版简单网格策略教学.md" ("Python版简单网格策略教学", a simple grid strategy in
-- Python, for teaching; by 小小梦, https://www.fmz.com/strategy/180385), Python.
--
-- What it does: the ladder has a node every `distance` from `beginPrice` up to `endPrice`. When the ask (ticker.Sell)
-- lies between an idle node's price and the next node's, it places a limit buy of `amount` at the node's price (the
-- node is then "pending"); once that buy has left the open orders (filled), it places a sell of the same amount at
-- the node's price + `pointProfit` ("cover"); once the sell has left the open orders, the node is idle again and can
-- buy again. No buy is placed while the free balance is under `minBalance`. The status panel shows the nodes, the
-- last 20 messages and the open orders.
--
-- What changed in the port, and why:
-- * Python to Lua: the nodes are Lua tables (1-based, so the panel's node index starts at 1, not 0); dict lookups
--   `arrNet[i]["state"]` and attribute reads `ticker.Sell` are both `t.field`; `json.dumps` is `json.encode`;
--   `arrMsg.pop(0)` is `table.remove(arrMsg, 1)`; `for i in range(n)` is `for i = 1, n`; the helper functions
--   are `local` and defined before they are used (Python resolves names at call time, Lua at compile time).
-- * The parameters were module constants in the source (it has no parameter table); here they are globals with the
--   same defaults, so `-p beginPrice=42000` can set them. The defaults are for BTC at 5000 to 8000 USDT (2019).
-- * `findOrder`'s default argument `ordersList = []` is `ordersList or {}`; the order of `not findOrder(...) and
--   state == ...` is kept, so findOrder (and its Sleep(1000) when the order is not open) runs for every node, as in
--   the source.
-- * The status tables' rows start as `json.array()` so an empty list shows as `[]`, as Python's `[]` does.
-- Nothing else: same nodes, prices, amounts, order of calls and sleeps.

beginPrice = beginPrice or 5000      -- the ladder's first node
endPrice = endPrice or 8000          -- the ladder ends below this price
distance = distance or 20            -- between nodes
pointProfit = pointProfit or 50      -- a node sells at its price + pointProfit
amount = amount or 0.01              -- each node's order amount
minBalance = minBalance or 300       -- no buy while the free balance is below this

-- global state
arrNet = {}
arrMsg = {}
acc = nil

local function findOrder(orderId, NumOfTimes, ordersList)
  ordersList = ordersList or {}
  for _ = 1, NumOfTimes do
    local orders
    if #ordersList == 0 then
      orders = _C(exchange.GetOrders)
    else
      orders = ordersList
    end
    for i = 1, #orders do
      if orderId == orders[i].Id then
        return true
      end
    end
    Sleep(1000)
  end
  return false
end

local function cancelOrder(price, orderType)
  local orders = _C(exchange.GetOrders)
  for i = 1, #orders do
    if price == orders[i].Price and orderType == orders[i].Type then
      exchange.CancelOrder(orders[i].Id)
      Sleep(500)
    end
  end
end

local function checkOpenOrders(orders, ticker)
  for i = 1, #arrNet do
    if not findOrder(arrNet[i].id, 1, orders) and arrNet[i].state == "pending" then
      local orderId = exchange.Sell(arrNet[i].coverPrice, arrNet[i].amount, arrNet[i], ticker)
      if orderId then
        arrNet[i].state = "cover"
        arrNet[i].id = orderId
      else
        -- cancel
        cancelOrder(arrNet[i].coverPrice, ORDER_TYPE_SELL)
        arrMsg[#arrMsg + 1] = "挂单失败!" .. json.encode(arrNet[i]) .. ", time:" .. _D()
      end
    end
  end
end

local function checkCoverOrders(orders, _ticker)
  for i = 1, #arrNet do
    if not findOrder(arrNet[i].id, 1, orders) and arrNet[i].state == "cover" then
      arrNet[i].id = -1
      arrNet[i].state = "idle"
      Log(arrNet[i], "节点平仓，重置为空闲状态。", "#FF0000")
    end
  end
end

local function onTick()
  local ticker = _C(exchange.GetTicker)
  for i = 1, #arrNet do
    if i ~= #arrNet and arrNet[i].state == "idle" and ticker.Sell > arrNet[i].price
        and ticker.Sell < arrNet[i + 1].price then
      acc = _C(exchange.GetAccount)
      if acc.Balance < minBalance then
        arrMsg[#arrMsg + 1] = "资金不足" .. json.encode(acc) .. "！" .. ", time:" .. _D()
        break
      end

      local orderId = exchange.Buy(arrNet[i].price, arrNet[i].amount, arrNet[i], ticker)
      if orderId then
        arrNet[i].state = "pending"
        arrNet[i].id = orderId
      else
        -- cancel
        cancelOrder(arrNet[i].price, ORDER_TYPE_BUY)
        arrMsg[#arrMsg + 1] = "挂单失败!" .. json.encode(arrNet[i]) .. ", time:" .. _D()
      end
    end
  end
  Sleep(1000)
  local orders = _C(exchange.GetOrders)
  checkOpenOrders(orders, ticker)
  Sleep(1000)
  orders = _C(exchange.GetOrders)
  checkCoverOrders(orders, ticker)

  local tbl = {
    type = "table",
    title = "网格状态",
    cols = { "节点索引", "详细信息" },
    rows = json.array(),
  }
  for i = 1, #arrNet do
    tbl.rows[#tbl.rows + 1] = { i, json.encode(arrNet[i]) }
  end

  local errTbl = {
    type = "table",
    title = "记录",
    cols = { "节点索引", "详细信息" },
    rows = json.array(),
  }

  local orderTbl = {
    type = "table",
    title = "orders",
    cols = { "节点索引", "详细信息" },
    rows = json.array(),
  }

  while #arrMsg > 20 do
    table.remove(arrMsg, 1)
  end

  for i = 1, #arrMsg do
    errTbl.rows[#errTbl.rows + 1] = { i, json.encode(arrMsg[i]) }
  end

  for i = 1, #orders do
    orderTbl.rows[#orderTbl.rows + 1] = { i, json.encode(orders[i]) }
  end

  LogStatus(_D(), "\n", acc, "\n", "arrMsg length:", #arrMsg, "\n", "`" .. json.encode({ tbl, errTbl, orderTbl }) .. "`")
end

function main()
  for i = 0, math.floor((endPrice - beginPrice) / distance) - 1 do
    arrNet[#arrNet + 1] = {
      price = beginPrice + i * distance,
      amount = amount,
      state = "idle",    -- pending / cover / idle
      coverPrice = beginPrice + i * distance + pointProfit,
      id = -1,
    }
  end

  while true do
    onTick()
    Sleep(500)
  end
end
