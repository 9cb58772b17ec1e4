-- sync_leader.lua: trades its accounts and publishes their positions and balances on its channel, for
-- sync_follower.lua bots to mirror on their own accounts (the platform's "Multi-account Synchronization", leader
-- side). Its own rule is a plain trend filter on exchange's candles: close above MA(ma) holds `amount` coins on
-- every spot exchange and a long of `contracts` on every futures exchange (swap), close below holds no coins and
-- a short of `contracts`. The rule is only there to make positions move: the channel part is publish().
--   stratrun replay --config strategies/sync.conf strategies/sync_leader.lua@632810 strategies/sync_follower.lua@632811 ...
-- Config: one or more exchanges (`exchanges`, or `bots.ID.exchanges`), spot and/or `kind = "futures"`; futures
-- ones are told by their account's Equity. strategies/sync.conf is an example (a spot and a futures account).
-- Parameters: ma (default 20), amount in coins (default 0.01), contracts (default 1), leverage (default 5),
-- interval in ms (default 60000).
-- Channel state (at most 1024 bytes of JSON, so a handful of exchanges):
--   {n = update number, time = ms, ex = {{kind = "spot", label, currency, Stocks, Balance}, {kind = "futures",
--    label, currency, Balance, Equity, MarginLevel, Positions = {{ContractType, Type, Amount, Price}, ...}}}}
-- n grows only when the accounts changed; the state is published every interval all the same, so a follower
-- can tell a live leader from a silent one by meta.published.

ma = ma or 20
amount = amount or 0.01
contracts = contracts or 1
leverage = leverage or 5
interval = interval or 60000

local function is_futures(e)
  local a = e.GetAccount()
  return a ~= nil and a.Equity ~= nil
end

-- One exchange's account as the channel carries it (frozen amounts count: they are still this account's).
local function snapshot(e, futures)
  local a = e.GetAccount()
  if not a then return nil end
  if not futures then
    return { kind = "spot", label = e.GetLabel(), currency = e.GetCurrency(),
             Stocks = _N(a.Stocks + a.FrozenStocks, 8), Balance = _N(a.Balance + a.FrozenBalance, 8) }
  end
  local ps = {}
  for _, p in ipairs(e.GetPositions() or {}) do
    if p.Amount > 0 then
      ps[#ps + 1] = { ContractType = p.ContractType, Type = p.Type, Amount = _N(p.Amount, 8), Price = _N(p.Price, 8) }
    end
  end
  return { kind = "futures", label = e.GetLabel(), currency = e.GetCurrency(), Balance = _N(a.Balance, 8),
           Equity = _N(a.Equity, 8), MarginLevel = leverage, Positions = ps }
end

-- Moves a spot account to `target` coins with orders priced through the touch (they fill at once).
local function trade_spot(e, target)
  local a, t = e.GetAccount(), e.GetTicker()
  if not a or not t then return end
  local diff = _N(target - a.Stocks, 8)      -- both on the amount grid: the difference only needs float noise off
  if diff > 0 then e.Buy(t.Sell, diff) elseif diff < 0 then e.Sell(t.Buy, -diff) end
end

-- Moves a futures account to a long (side 1) or a short (side -1) of `contracts` on the swap.
local function trade_futures(e, side)
  local t = e.GetTicker()
  if not t then return end
  local long, short = 0, 0
  for _, p in ipairs(e.GetPosition() or {}) do
    if p.Type == PD_LONG then long = p.Amount else short = p.Amount end
  end
  if side > 0 and short > 0 then e.SetDirection("closesell"); e.Buy(t.Sell, short) end
  if side < 0 and long > 0 then e.SetDirection("closebuy"); e.Sell(t.Buy, long) end
  if side > 0 and long < contracts then e.SetDirection("buy"); e.Buy(t.Sell, _N(contracts - long, 8)) end
  if side < 0 and short < contracts then e.SetDirection("sell"); e.Sell(t.Buy, _N(contracts - short, 8)) end
end

function main()
  local futures = {}
  for i, e in ipairs(exchanges) do
    futures[i] = is_futures(e)
    if futures[i] then
      e.SetContractType("swap")
      e.SetMarginLevel(leverage)
    end
  end
  Log("Sync leader started, Bot ID:", _G(), "exchanges:", #exchanges)
  local n, last = 0, nil
  while true do
    local records = exchange.GetRecords()
    if records and #records > ma then
      local m = TA.MA(records, ma)
      local up = records[#records].Close > m[#records]
      for i, e in ipairs(exchanges) do
        if futures[i] then trade_futures(e, up and 1 or -1) else trade_spot(e, up and amount or 0) end
      end
    end
    local ex = {}
    for i, e in ipairs(exchanges) do ex[i] = snapshot(e, futures[i]) end
    local text = json.encode(ex)
    if text ~= last then
      n, last = n + 1, text
      Log("Published update", n, ex)
    end
    SetChannelData({ n = n, time = UnixNano() // 1000000, ex = ex })
    local rows = {}
    for _, s in ipairs(ex) do
      if s.kind == "spot" then
        rows[#rows + 1] = { s.label .. " " .. s.currency, "spot", s.Stocks, s.Balance }
      else
        local pos = {}
        for _, p in ipairs(s.Positions) do
          pos[#pos + 1] = string.format("%s %s %s", p.ContractType, p.Type == PD_LONG and "long" or "short", p.Amount)
        end
        rows[#rows + 1] = { s.label .. " " .. s.currency, "futures", #pos > 0 and table.concat(pos, ", ") or "flat",
                            s.Equity }
      end
    end
    LogStatus("Sync leader: update #" .. n .. " at " .. _D() .. "\n`" .. json.encode({ type = "table",
      title = "Published accounts", cols = { "Exchange", "Kind", "Stocks / Positions", "Balance / Equity" },
      rows = rows }) .. "`")
    Sleep(interval)
  end
end
