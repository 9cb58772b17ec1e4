-- turtle_spot.lua: a turtle-style Donchian breakout, long only, on spot BTC.
--
-- Source: fmzquant/strategies, "海龟策略btc现货版.md" ("海龟策略btc现货版", the turtle strategy, BTC spot version; by
-- groot, https://www.fmz.com/strategy/186598), Python.
--
-- What it does: once every `fresh_rete` hours it reads bars of that period. Flat, it buys when the last close breaks
-- above the highest High of the channel (the bars from DC_range back up to the third-last); holding, it adds when
-- the close rises more than half an ATR above the last entry's close. The unit is the smaller of (1 % of the account
-- value) / ATR and the cash / (Last + 100), rounded to 4 decimals; the buy is a limit at Last + 10, which fills at
-- once. It sells everything at market when the close falls under the lowest Low of the half channel (the bars from
-- DC_range / 2 back up to the third-last) or more than 2 ATR under the last entry's close.
--
-- What changed in the port, and why:
-- * Python to Lua: the pandas DataFrames become plain Lua: `hisorder` (the entries of the open position) is a list of
--   tables, `len(hisorder)` is `#hisorder`, `hisorder.iloc[-1]['price']` is `hisorder[#hisorder].price`; the
--   channel `df[-DC_range:-2]['High'].max()` is a loop over records[#records - DC_range + 1 .. #records - 2] (with
--   the slice clipped at the first record as pandas clips it, and NaN when empty as pandas' max of nothing is);
--   `records[-1]` is `records[#records]`, `TA.ATR(...)[-1]` is the last element; `int(DC_range / 2)` is
--   `DC_range // 2`; Python's `round(x, 4)` is a local round (half away from zero; Python rounds exact ties to
--   even, which only differs on an exact tie of 5 decimals); `opensign | addsign` on booleans is `or`; the numpy,
--   pandas and datetime imports go (nothing else of them was used).
-- * `_D(records[-1]['Time']/1000)`: the platform's Python _D takes seconds (its library's Python strategies write
--   `_D(time.time())`); stratrun's _D takes milliseconds, as the platform's JavaScript one does, so the port passes
--   the record's Time as it is. The value is only stored.
-- * `orderinfo = exchange.GetOrder(id)` (unused) is `if id then exchange.GetOrder(id) end`: when the buy is
--   refused (the limit at Last + 10 plus the taker fee can cost more than the cash the unit was sized on, above
--   about 45000 with a 0.2 % fee) id is nil, and stratrun's GetOrder raises on a nil id (a wrong argument type) and
--   would stop the bot, where the source goes on.
-- * The parameters (the source's parameter table) are globals with the same defaults, settable with -p.
-- Nothing else: same signals, unit, prices, order of calls.

fresh_rete = fresh_rete or 24          -- the trading period (hours)
trade_percent = trade_percent or 0.01  -- the share of the account value a unit risks per ATR
DC_range = DC_range or 30              -- the channel's length (bars)
atrlength = atrlength or 24            -- the ATR's length (bars)

hisorder = {}

local function round(x, digits)
  local m = 10 ^ digits
  if x >= 0 then return math.floor(x * m + 0.5) / m end
  return -math.floor(-x * m + 0.5) / m
end

-- max / min of field over records[from..to] (from clipped at 1); NaN when the range is empty, as pandas
local function column_max(records, from, to, field)
  local m = 0 / 0
  for i = math.max(from, 1), to do
    if m ~= m or records[i][field] > m then m = records[i][field] end
  end
  return m
end

local function column_min(records, from, to, field)
  local m = 0 / 0
  for i = math.max(from, 1), to do
    if m ~= m or records[i][field] < m then m = records[i][field] end
  end
  return m
end

local function turtle()
  local acct = exchange.GetAccount()

  local records = exchange.GetRecords(fresh_rete * 60 * 60)

  local ticker = exchange.GetTicker()

  local portfolio_value = acct.Balance + acct.FrozenBalance + (acct.Stocks + acct.FrozenStocks) * records[#records].Close
  local atrs = TA.ATR(records, atrlength)
  local atr = atrs[#atrs]
  -- the unit
  local value = portfolio_value * trade_percent
  local unit = math.min(round(value / atr, 4), round(acct.Balance / (ticker.Last + 100), 4))

  local n = #records
  local current_price = records[n].Close
  local last_price = 0
  if #hisorder ~= 0 then
    last_price = hisorder[#hisorder].price
  end
  local max_price = column_max(records, n - DC_range + 1, n - 2, "High")
  local min_price = column_min(records, n - DC_range // 2 + 1, n - 2, "Low")

  local opensign = #hisorder == 0 and current_price > max_price

  local addsign = #hisorder ~= 0 and current_price > last_price + 0.5 * atr

  local stopsign = #hisorder ~= 0 and current_price < min_price

  local closesign = #hisorder ~= 0 and current_price < (last_price - 2 * atr)

  if opensign or addsign then
    if acct.Balance >= (ticker.Last + 10) * unit and unit > 0 then
      local id = exchange.Buy(ticker.Last + 10, unit)
      if id then exchange.GetOrder(id) end   -- the source's orderinfo, never used: the call is kept
      local data = { ordertime = _D(records[n].Time), id = id, price = records[n].Close }
      hisorder[#hisorder + 1] = data
      Log('买入后，最新账户信息：', exchange.GetAccount())
      Log("opensign", opensign, "addsign", addsign)
    end
  end
  if stopsign or closesign then
    exchange.Sell(-1, acct.Stocks + acct.FrozenStocks)
    hisorder = {}
    Log('卖出后，最新账户信息：', exchange.GetAccount())
    Log("stopsign", stopsign, "closesign", closesign)
  end
end

function main()
  while true do
    turtle()
    Sleep(fresh_rete * 60 * 60 * 1000)
  end
end
