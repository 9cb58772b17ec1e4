-- sync_follower.lua: mirrors a sync_leader.lua bot's accounts on its own, at `ratio` of the leader's positions (the
-- platform's "Multi-account Synchronization", follower side). Its exchanges[i] mirrors the leader's i-th exchange:
-- a spot one holds ratio x the leader's coins, a futures one ratio x each of its positions (per contract and
-- direction) at the leader's margin level. Every `interval` it compares that target with what its account actually
-- holds and trades the difference: it never replays the leader's updates, so updates it missed, a late start, a
-- restart, a manual trade or a refused order are all corrected at the next pass the same way. Balances are shown
-- beside ratio x the leader's, not traded on: they follow from the fills (equal when both fill at the same prices).
--   stratrun replay --config strategies/sync.conf -p 632811.ratio=0.5 strategies/sync_leader.lua@632810 strategies/sync_follower.lua@632811 ...
-- Config: the same kinds of exchange in the same order as the leader's (strategies/sync.conf: spot, futures).
-- Parameters: leader (the leader's live ID, default 632810), ratio (default 1), interval in ms (default 10000),
-- stale in ms (default 300000: a leader silent for longer is not followed, the account is held as it is).

leader = tostring(leader or "632810")
ratio = ratio or 1
interval = interval or 10000
stale = stale or 300000

local function is_futures(e)
  local a = e.GetAccount()
  return a ~= nil and a.Equity ~= nil
end

-- The exchange's amount step (spot: coins, futures: contracts), for rounding targets onto the order grid.
local function amount_step(e)
  local _, m = next(e.GetMarkets() or {})
  return m and m.AmountSize or 1e-8
end

local function on_grid(x, step)
  return _N(math.floor(x / step + 0.5) * step, 8)
end

-- Cancels what is pending (a resting order is not a position yet, and a restart may find one): the account is
-- then compared as it stands.
local function cancel_pending(e)
  for _, o in ipairs(e.GetOrders() or {}) do e.CancelOrder(o.Id, "sync: pending orders are not positions") end
end

-- Returns rows for the status table and whether everything was in sync before trading.
local function sync_spot(e, s, step, rows)
  cancel_pending(e)
  local a, t = e.GetAccount(), e.GetTicker()
  if not a or not t then
    rows[#rows + 1] = { e.GetLabel(), "Stocks", s.Stocks, "-", "-", "no market data" }
    return false
  end
  local target = on_grid(s.Stocks * ratio, step)
  local diff = on_grid(target - a.Stocks, step)
  local state = "in sync"
  if math.abs(diff) >= step / 2 then
    Log("Drift on", e.GetLabel(), "Stocks: target", target, "actual", a.Stocks, "->", diff > 0 and "buy" or "sell",
        math.abs(diff))
    local id
    if diff > 0 then id = e.Buy(t.Sell, diff, "sync") else id = e.Sell(t.Buy, -diff, "sync") end
    state = id and "corrected" or "order refused"
    a = e.GetAccount()
  end
  rows[#rows + 1] = { e.GetLabel() .. " " .. e.GetCurrency(), "Stocks", s.Stocks, target, a.Stocks, state }
  rows[#rows + 1] = { "", "Balance", s.Balance, _N(s.Balance * ratio, 8), _N(a.Balance + a.FrozenBalance, 8),
                      "follows fills" }
  return state == "in sync"
end

local function sync_futures(e, s, step, rows)
  cancel_pending(e)
  local t = e.GetTicker()
  if not t then
    rows[#rows + 1] = { e.GetLabel(), "Positions", "-", "-", "-", "no market data" }
    return false
  end
  if math.type(s.MarginLevel) then e.SetMarginLevel(s.MarginLevel) end
  -- Target and actual per contract and direction; contracts either side holds.
  local want, have, keys = {}, {}, {}
  local function key(ct, typ)
    local k = ct .. (typ == PD_LONG and " long" or " short")
    if not want[k] then want[k], have[k], keys[#keys + 1] = 0, 0, { k = k, ct = ct, typ = typ } end
    return k
  end
  for _, p in ipairs(s.Positions or {}) do
    local k = key(p.ContractType, p.Type)
    want[k] = on_grid(p.Amount * ratio, step)
  end
  for _, p in ipairs(e.GetPositions() or {}) do
    local k = key(p.ContractType, p.Type)
    have[k] = have[k] + p.Amount
  end
  table.sort(keys, function(x, y) return x.k < y.k end)
  -- Closes first, so the margin they free pays for the opens.
  local all = true
  local states = {}
  for pass = 1, 2 do
    for _, c in ipairs(keys) do
      local diff = on_grid(want[c.k] - have[c.k], step)
      if math.abs(diff) >= step / 2 and ((pass == 1) == (diff < 0)) then
        all = false
        Log("Drift on", e.GetLabel(), c.k .. ": target", want[c.k], "actual", have[c.k], "->",
            diff > 0 and "open" or "close", math.abs(diff))
        e.SetContractType(c.ct)
        local id
        if c.typ == PD_LONG then
          e.SetDirection(diff > 0 and "buy" or "closebuy")
          if diff > 0 then id = e.Buy(t.Sell, diff, "sync") else id = e.Sell(t.Buy, -diff, "sync") end
        else
          e.SetDirection(diff > 0 and "sell" or "closesell")
          if diff > 0 then id = e.Sell(t.Buy, diff, "sync") else id = e.Buy(t.Sell, -diff, "sync") end
        end
        states[c.k] = id and "corrected" or "order refused"
      end
    end
  end
  local now = {}
  for _, p in ipairs(e.GetPositions() or {}) do
    local k = p.ContractType .. (p.Type == PD_LONG and " long" or " short")
    now[k] = (now[k] or 0) + p.Amount
  end
  for _, c in ipairs(keys) do
    local lead = 0
    for _, p in ipairs(s.Positions or {}) do
      if p.ContractType == c.ct and p.Type == c.typ then lead = p.Amount end
    end
    rows[#rows + 1] = { e.GetLabel() .. " " .. e.GetCurrency(), c.k, lead, want[c.k], now[c.k] or 0,
                        states[c.k] or "in sync" }
  end
  local a = e.GetAccount()
  rows[#rows + 1] = { "", "Equity", s.Equity, _N(s.Equity * ratio, 8), _N(a.Equity, 8), "follows fills" }
  return all
end

-- What the account holds now, for the log line after a correction (the spec reads it).
local function holdings(futures)
  local out = {}
  for i, e in ipairs(exchanges) do
    local a = e.GetAccount()
    if futures[i] then
      local ps = {}
      for _, p in ipairs(e.GetPositions() or {}) do
        ps[p.ContractType .. (p.Type == PD_LONG and " long" or " short")] = p.Amount
      end
      out[i] = { Equity = _N(a.Equity, 8), Positions = ps }
    else
      out[i] = { Stocks = a.Stocks, Balance = _N(a.Balance + a.FrozenBalance, 8) }
    end
  end
  return out
end

function main()
  local futures, steps = {}, {}
  for i, e in ipairs(exchanges) do
    futures[i] = is_futures(e)
    steps[i] = amount_step(e)
    if futures[i] then e.SetContractType("swap") end
  end
  Log("Sync follower started, following", leader, "at ratio", ratio)
  local corrections = 0
  while true do
    local state, meta = GetChannelData(leader)
    local head
    local rows = {}
    if type(state) ~= "table" or type(state.ex) ~= "table" or not meta then
      head = "Waiting for leader " .. leader .. "..."
    else
      local age = UnixNano() // 1000000 - meta.published
      head = string.format("Leader %s update #%s published %s (%d s ago), ratio %s", leader, tostring(state.n),
                           _D(meta.published), age // 1000, tostring(ratio))
      if age > stale then
        head = head .. "\nLeader silent for over " .. stale // 1000 .. " s: not followed, account held as it is"
      else
        local synced = true
        for i, e in ipairs(exchanges) do
          local s = state.ex[i]
          if type(s) ~= "table" or (s.kind == "futures") ~= futures[i] then
            rows[#rows + 1] = { e.GetLabel(), "-", "-", "-", "-", "leader has no " ..
                                (futures[i] and "futures" or "spot") .. " exchange #" .. i }
          elseif futures[i] then
            synced = sync_futures(e, s, steps[i], rows) and synced
          else
            synced = sync_spot(e, s, steps[i], rows) and synced
          end
        end
        if not synced then
          corrections = corrections + 1
          Log("Corrected to update", state.n, holdings(futures))
        end
        head = head .. "\n" .. (synced and "In sync" or "Corrected") .. ", corrections so far: " .. corrections
      end
    end
    LogStatus("Sync follower\n" .. head .. "\n`" .. json.encode({ type = "table", title = "Sync state",
      cols = { "Exchange", "Item", "Leader", "Target", "Actual", "State" }, rows = rows }) .. "`")
    Sleep(interval)
  end
end
