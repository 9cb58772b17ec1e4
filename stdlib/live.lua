-- live.lua: an exchange on a real venue (docs/live.md): Binance spot through its REST API, with the paper
-- exchange's calls, fields and shapes (docs/exchange.md). stdlib/exchange.lua builds one for an exchange table with a
-- `venue`.
--
-- The keys, the signing and the guards are not here: runtime/lua/venue.c holds them in C, where the strategy's Lua
-- state cannot read them, and checks the guards on every order it sends. This file turns the platform's calls into
-- the venue's requests and its answers into the platform's shapes.
--
-- Before the strategy's main runs, the exchange starts: it measures the venue's clock (the offset signed requests
-- apply), reads the pair's filters (tick, step, minimum notional) and the venue's open orders of the pair, which
-- GetOrders shows from then on (a restart reconciles with the venue, never with a file). Every order carries a
-- client order ID; a request that fails without an answer (a timeout, a dropped connection) is resolved by asking
-- the venue for that ID, never by sending the order again.

local registry = debug.getregistry()    -- before runtime/lua/guard.c refuses it to the strategy
local venue = registry["stratrun.venue"]   -- not require-able, and guard.c refuses this file's upvalues
local json = require("json")

local BUY, SELL = 0, 1
local PENDING, CLOSED, CANCELED = 0, 1, 2
local STATUS = { NEW = PENDING, PARTIALLY_FILLED = PENDING, PENDING_NEW = PENDING, FILLED = CLOSED,
                 CANCELED = CANCELED, PENDING_CANCEL = CANCELED, REJECTED = CANCELED, EXPIRED = CANCELED,
                 EXPIRED_IN_MATCH = CANCELED }
local INTERVALS = { [60] = "1m", [180] = "3m", [300] = "5m", [900] = "15m", [1800] = "30m", [3600] = "1h",
                    [7200] = "2h", [14400] = "4h", [21600] = "6h", [28800] = "8h", [43200] = "12h",
                    [86400] = "1d", [259200] = "3d", [604800] = "1w" }
local starts, stops = {}, {}  -- every live exchange's start, run before main, and stop, run after onexit

-- The bot's main and onexit (runtime/host/bot.c runs these in their place): the exchanges start before the
-- strategy's main (a venue that cannot be read stops the bot), and cancel_on_stop cancels after its onexit.
registry["stratrun.main"] = function(...)
  for _, start in ipairs(starts) do start() end
  return rawget(_G, "main")(...)
end

-- The paper exchange's calls a live exchange does not have yet: calling one raises, naming it (docs/live.md).
local NOT_YET = {}
for name in ("Encode GetBase GetContractType GetFee GetFundings GetHistoryOrders GetMinPrice GetMinStock GetPosition "
  .. "GetPositions GetRate GetTickers GetUSDCNY Go HMAC IO Log SetBase SetContractType SetCurrency SetDirection "
  .. "SetMarginLevel SetPrecision SetRate SetTimeout"):gmatch("%S+") do
  NOT_YET[name] = true
end

local function number(x) return tonumber(x) end
local function num(x) return math.tointeger(x) or tonumber(string.format("%.12g", x)) end

-- s: the exchange's checked settings (exchange_settings.check); opts: exchange.lua's (log, note, say, who, now, and
-- lines(): whether order lines are on, EnableLog).
local function new(s, opts)
  local slot, log, note, say = math.tointeger(s.venue_slot), opts.log, opts.note, opts.say
  local info = venue.info(slot)
  local currency, base, quote = s.currency, s.base, s.quote
  local symbol = base .. quote
  local who = opts.who or "exchange"
  local E = {}
  local started, start_error
  local tick, step, min_notional, min_qty = s.tick_size, s.amount_size, s.min_notional, s.amount_size
  local max_qty, max_notional = 1e15, 1e15
  local raw
  local bar_len = 100                 -- GetRecords without a limit; SetMaxBarLen

  local function fail(call, msg)
    log(who .. "." .. call .. ": " .. msg)
    return nil
  end

  -- An answer's JSON, or nil and why: a transport failure, or the venue's error object with its code.
  local function decode(r, err)
    if not r then return nil, err end
    local ok, v = pcall(json.decode, r.Body)
    if not ok then return nil, string.format("HTTP %d, not JSON: %s", r.StatusCode, r.Body:sub(1, 200)) end
    if r.StatusCode ~= 200 or (type(v) == "table" and v.code and v.msg) then
      return nil, string.format("the venue's error %s: %s (HTTP %d)", tostring(v.code), tostring(v.msg),
        r.StatusCode), v.code
    end
    raw = r.Body
    return v
  end

  local function get(path, query, signed)
    return decode(venue.request(slot, "GET", path, query or "", signed))
  end

  local function order_view(o)
    local amount, deal = number(o.origQty), number(o.executedQty)
    local quote_done = number(o.cummulativeQuoteQty) or 0
    local price = number(o.price)
    if o.type == "MARKET" then
      price = -1
      if o.side == "BUY" and (amount or 0) == 0 then amount = number(o.origQuoteOrderQty) or 0 end
    end
    return { Id = math.tointeger(o.orderId) or o.orderId, Time = math.tointeger(o.time or o.transactTime),
             Price = price, Amount = amount, DealAmount = deal, AvgPrice = deal > 0 and quote_done / deal or 0,
             Status = STATUS[o.status] or PENDING, Type = o.side == "BUY" and BUY or SELL, Symbol = currency,
             ClientOrderId = o.clientOrderId }
  end

  -- The exchange's start: the venue's clock, the pair's filters, its open orders (reconciled from the venue).
  local function start()
    if started then return true end
    if start_error then return nil, start_error end
    local pulled = venue.kill_switch(slot)
    if pulled then return nil, pulled end   -- no trading, nor any request, while it exists
    -- a 429 or 418 of this process or of another of the data dir (a restart's predecessor): waited out first
    local wait = venue.backoff(slot)
    if wait > 0 then
      note(string.format("%s: the venue asked for no requests for %d s more (a 429 or 418 before this start): "
        .. "waiting", who, (wait + 999) // 1000))
      Sleep(wait)
    end
    local r, err = venue.sync(slot)
    local t
    t, err = decode(r, err)
    if not t then return nil, "cannot read the venue's clock: " .. err end
    local x
    x, err = get("/api/v3/exchangeInfo", "symbol=" .. symbol)
    if not x then return nil, "cannot read the pair's rules: " .. err end
    for _, l in ipairs(x.rateLimits or {}) do    -- the venue's order counts, refused over in venue.order
      if type(l) == "table" and l.rateLimitType == "ORDERS" and math.tointeger(l.intervalNum)
        and math.tointeger(l.limit) and type(l.interval) == "string" then
        venue.order_limit(slot, l.interval, math.tointeger(l.intervalNum), math.tointeger(l.limit))
      end
    end
    local sym = x.symbols and x.symbols[1]
    if not sym or sym.symbol ~= symbol then
      start_error = "the venue does not list " .. symbol
      return nil, start_error
    end
    for _, f in ipairs(sym.filters or {}) do
      if f.filterType == "PRICE_FILTER" then tick = number(f.tickSize)
      elseif f.filterType == "LOT_SIZE" then
        step, min_qty, max_qty = number(f.stepSize), number(f.minQty), number(f.maxQty)
      elseif f.filterType == "NOTIONAL" or f.filterType == "MIN_NOTIONAL" then
        min_notional, max_notional = number(f.minNotional) or 0, number(f.maxNotional) or 1e15
      end
    end
    local open
    open, err = get("/api/v3/openOrders", "symbol=" .. symbol, true)
    if not open then return nil, "cannot read the open orders: " .. err end
    started = true
    venue.attach(slot)      -- from now on its kill switch stops this bot (before, start refuses)
    local ids = {}
    for _, o in ipairs(open) do ids[#ids + 1] = tostring(o.orderId) end
    note(string.format("%s: %s %s at %s%s: clock offset %d ms, %d open order%s%s", who, info.venue, currency,
      info.base_url, info.dry_run and " (dry_run: orders are only logged)" or "", venue.offset(slot), #open,
      #open == 1 and "" or "s", #open > 0 and (" (" .. table.concat(ids, ", ") .. ")") or ""))
    return true
  end

  -- Every call: starts the exchange first; a call naming another pair fails.
  local function call(name, sym)
    local ok, err = start()
    if not ok then return fail(name, err) end
    if sym ~= nil and sym ~= currency then
      return fail(name, "this exchange trades " .. currency .. " only, got symbol '" .. tostring(sym) .. "'")
    end
    return true
  end

  local function floor_to(x, g) return math.floor(x / g + 1e-9) * g end
  local function ceil_to(x, g) return math.ceil(x / g - 1e-9) * g end

  local name = s.name == "Paper" and "Binance" or s.name     -- the paper exchange's default name is not this one's
  local label = s.label == "Paper" and name or s.label
  function E.GetName() return name end
  function E.GetLabel() return label end
  function E.GetCurrency() return currency end
  function E.GetQuoteCurrency() return quote end
  function E.GetBaseCurrency() return base end
  function E.GetRawJSON() return raw end
  function E.GetPeriod() return math.tointeger(s.period > 0 and s.period or 60) end

  -- SetMaxBarLen(n): how many records GetRecords returns without a limit (100 until set; the venue's most, 1000).
  function E.SetMaxBarLen(n)
    if not (type(n) == "number" and math.tointeger(n) and n >= 1 and n <= 1000) then
      error(who .. ".SetMaxBarLen: n must be a whole number from 1 to 1000 (the venue's most), got " .. tostring(n), 2)
    end
    bar_len = math.tointeger(n)
  end

  function E.GetTicker(sym)
    if not call("GetTicker", sym) then return nil end
    local t, err = get("/api/v3/ticker/24hr", "symbol=" .. symbol)
    if not t then return fail("GetTicker", err) end
    return { Symbol = currency, Time = math.tointeger(t.closeTime) or opts.now(), Open = number(t.openPrice),
             High = number(t.highPrice), Low = number(t.lowPrice), Sell = number(t.askPrice),
             Buy = number(t.bidPrice), Last = number(t.lastPrice), Volume = number(t.volume) }
  end

  function E.GetDepth(sym)
    if not call("GetDepth", sym) then return nil end
    local d, err = get("/api/v3/depth", "symbol=" .. symbol .. "&limit=20")
    if not d then return fail("GetDepth", err) end
    local function side(list)
      local out = {}
      for i, l in ipairs(list or {}) do out[i] = { Price = number(l[1]), Amount = number(l[2]) } end
      return out
    end
    return { Time = opts.now(), Asks = side(d.asks), Bids = side(d.bids) }
  end

  -- GetRecords([symbol] [, period] [, limit]), or GetRecords(period [, limit]): the venue's klines, oldest first.
  function E.GetRecords(a, b, c)
    local sym, period, limit = a, b, c
    if type(a) ~= "string" then sym, period, limit = nil, a, b end
    if not call("GetRecords", sym) then return nil end
    period = period or (s.period > 0 and s.period or 60)
    local interval = INTERVALS[period]
    if not interval then return fail("GetRecords", "period " .. tostring(period) .. " s is not one of the venue's") end
    local k, err = get("/api/v3/klines", string.format("symbol=%s&interval=%s&limit=%d", symbol, interval,
      math.min(math.tointeger(limit) or bar_len, 1000)))
    if not k then return fail("GetRecords", err) end
    local out = {}
    for i, r in ipairs(k) do
      out[i] = { Time = math.tointeger(r[1]), Open = number(r[2]), High = number(r[3]), Low = number(r[4]),
                 Close = number(r[5]), Volume = number(r[6]) }
    end
    return out
  end

  function E.GetTrades(sym)
    if not call("GetTrades", sym) then return nil end
    local t, err = get("/api/v3/trades", "symbol=" .. symbol .. "&limit=20")
    if not t then return fail("GetTrades", err) end
    local out = {}
    for i, x in ipairs(t) do
      out[i] = { Id = math.tointeger(x.id), Time = math.tointeger(x.time), Price = number(x.price),
                 Amount = number(x.qty), Type = x.isBuyerMaker and SELL or BUY }
    end
    return out
  end

  function E.GetMarkets()
    if not call("GetMarkets") then return nil end
    local function digits(g)
      local d = 0
      while d < 12 and math.abs(g * 10 ^ d - math.floor(g * 10 ^ d + 0.5)) > 1e-9 do d = d + 1 end
      return d
    end
    return { [currency] = { Symbol = currency, BaseAsset = base, QuoteAsset = quote, TickSize = tick,
      AmountSize = step, PricePrecision = digits(tick), AmountPrecision = digits(step), MinQty = min_qty,
      MaxQty = max_qty, MinNotional = min_notional, MaxNotional = max_notional } }
  end

  local function account()
    local a, err = get("/api/v3/account", "", true)
    if not a then return nil, err end
    local out = { Balance = 0, FrozenBalance = 0, Stocks = 0, FrozenStocks = 0 }
    for _, b in ipairs(a.balances or {}) do
      if b.asset == quote then out.Balance, out.FrozenBalance = number(b.free), number(b.locked) end
      if b.asset == base then out.Stocks, out.FrozenStocks = number(b.free), number(b.locked) end
    end
    return out
  end

  function E.GetAccount()
    if not call("GetAccount") then return nil end
    local a, err = account()
    if not a then return fail("GetAccount", err) end
    return a
  end

  -- GetAssets() -> {{Currency, Amount, FrozenAmount}, ...}: the base currency, then the quote.
  function E.GetAssets()
    if not call("GetAssets") then return nil end
    local a, err = account()
    if not a then return fail("GetAssets", err) end
    return json.array({ { Currency = base, Amount = a.Stocks, FrozenAmount = a.FrozenStocks },
                        { Currency = quote, Amount = a.Balance, FrozenAmount = a.FrozenBalance } })
  end

  -- An order without an answer: the venue is asked for its client ID (a few times while it does not answer);
  -- the order's id if it was placed, else nil. Never sent again.
  -- sent: our clock in ms just before the order was signed. The venue takes a request until its timestamp's
  -- recvWindow is over, so "no such order" means not placed only after that (a request may wait at the venue).
  local function resolve(call_name, cid, why, sent)
    local tries = 0
    while tries < 3 do
      tries = tries + 1
      local r, err, refused = venue.request(slot, "GET", "/api/v3/order", "symbol=" .. symbol
        .. "&origClientOrderId=" .. cid, true)
      local o, why2, code = decode(r, err)
      err = why2
      if o and o.orderId == nil then o, err = nil, "an answer without an order id" end
      if o then
        note(string.format("%s.%s: %s; the venue has the order (client id %s): id %s", who, call_name, why, cid,
          tostring(o.orderId)))
        return o
      end
      local left = sent + info.recv_window + 1000 - UnixNano() // 1000000
      if code == -2013 and left > 0 then
        note(string.format("%s.%s: %s; the venue has no order with client id %s yet: asking again in %d ms, when "
          .. "its recvWindow is over", who, call_name, why, cid, left))
        Sleep(left)
        tries = tries - 1       -- this one does not count
        sent = -math.huge       -- waited once
      elseif code == -2013 then
        return fail(call_name, why .. "; the venue has no order with client id " .. cid .. ": not placed")
      end
      if code ~= -2013 then
        why = why .. "; asking for it: " .. err
        if refused then break end     -- not sent: asking again now would not be either
      end
    end
    return fail(call_name, why .. "; whether order " .. cid .. " was placed is not known: see GetOrders")
  end

  local function place(call_name, side, price, amount, ...)
    if not call(call_name) then return nil end
    if type(price) ~= "number" or type(amount) ~= "number" then
      error(string.format("%s.%s: price and amount must be numbers", who, call_name), 2)
    end
    local market = price == -1
    local value, holdings, typ = 0, 0, market and "MARKET" or "LIMIT"
    if market and side == "SELL" or (market and info.max_position > 0) then
      local t, err = get("/api/v3/ticker/bookTicker", "symbol=" .. symbol)
      if not t then return fail(call_name, err) end
      price = side == "SELL" and number(t.bidPrice) or number(t.askPrice)
      value = side == "SELL" and price * amount or amount
    end
    if not market then
      price = side == "BUY" and floor_to(price, tick) or ceil_to(price, tick)
    end
    if not (market and side == "BUY") then amount = floor_to(amount, step) end
    if amount <= 0 then return fail(call_name, "the amount is below the venue's step " .. step) end
    -- the pair's filters checked here, in one line, rather than an order sent to be refused
    if not (market and side == "BUY") and min_qty and amount < min_qty then
      return fail(call_name, string.format("the amount %s is below the venue's minimum %s: not sent", num(amount),
        num(min_qty)))
    end
    local notional = (market and side == "BUY") and amount or price * amount
    if min_notional and notional < min_notional then
      return fail(call_name, string.format("the order's value %s is below the venue's minimum notional %s: not sent",
        num(notional), num(min_notional)))
    end
    if side == "BUY" and info.max_position > 0 then
      local a, err = account()
      if not a then return fail(call_name, err) end
      holdings = a.Stocks + a.FrozenStocks
      -- and what the open buy orders of the pair would add when they fill: else orders resting below the market,
      -- each under max_position, would together take the holdings past it
      local open, err2 = get("/api/v3/openOrders", "symbol=" .. symbol, true)
      if not open then return fail(call_name, err2) end
      for _, o in ipairs(open) do
        if o.side == "BUY" then
          local left = (number(o.origQty) or 0) - (number(o.executedQty) or 0)
          if o.type == "MARKET" and left <= 0 then left = math.huge end   -- a quote amount: not known in base
          holdings = holdings + math.max(left, 0)
        end
      end
    end
    local cid = venue.client_id()
    local sent = UnixNano() // 1000000
    local r, err, refused = venue.order(slot, symbol, side, typ, price, amount, cid, value, holdings)
    local px = market and "market" or num(price)
    if r == false then
      note(who .. "." .. call_name .. ": " .. err)
      return nil
    end
    local o
    if not r and refused then
      return fail(call_name, err)       -- a guard, a back-off, a 429: not placed
    elseif not r then
      o = resolve(call_name, cid, err, sent)  -- no answer: the order may stand
    else
      local code
      o, err, code = decode(r)
      if o and o.orderId == nil then
        o, err = nil, "HTTP " .. r.StatusCode .. " without an order id: " .. r.Body:sub(1, 200)
      end
      -- Only the venue's own refusal (a 4xx with its error code) is known not placed. A 5xx (Binance: execution
      -- status unknown), or an answer cut short or of another shape, may stand for a placed order: resolved.
      if not o and r.StatusCode >= 400 and r.StatusCode < 500 and type(code) == "number" then
        return fail(call_name, err)
      elseif not o then o = resolve(call_name, cid, err, sent) end
    end
    if not o then return nil end        -- resolve said why
    if opts.lines() then say(call_name, px, num(amount), "(order " .. tostring(o.orderId) .. ")", ...) end
    return math.tointeger(o.orderId) or o.orderId
  end

  function E.Buy(price, amount, ...) return place("Buy", "BUY", price, amount, ...) end
  function E.Sell(price, amount, ...) return place("Sell", "SELL", price, amount, ...) end

  -- CreateOrder(symbol, side, price, amount, ...): the current API's order call, "buy" or "sell" on this pair.
  function E.CreateOrder(sym, side, price, amount, ...)
    if side ~= "buy" and side ~= "sell" then
      error(who .. ".CreateOrder: side must be \"buy\" or \"sell\" on a live spot exchange, got " .. tostring(side), 2)
    end
    if sym ~= "" and sym ~= nil and sym ~= currency then
      return fail("CreateOrder", "this exchange trades " .. currency .. " only, got symbol '" .. tostring(sym) .. "'")
    end
    return place(side == "buy" and "Buy" or "Sell", side:upper(), price, amount, ...)
  end

  function E.GetOrder(id)
    if not call("GetOrder") then return nil end
    local o, err = get("/api/v3/order", "symbol=" .. symbol .. "&orderId=" .. tostring(math.tointeger(id) or id), true)
    if not o then return fail("GetOrder", err) end
    return order_view(o)
  end

  function E.GetOrders(sym)
    if not call("GetOrders", sym) then return nil end
    local list, err = get("/api/v3/openOrders", "symbol=" .. symbol, true)
    if not list then return fail("GetOrders", err) end
    local out = {}
    for i, o in ipairs(list) do out[i] = order_view(o) end
    table.sort(out, function(a, b) return a.Id < b.Id end)
    return json.array and json.array(out) or out
  end

  local function cancel(id, ...)
    local r, err = venue.request(slot, "DELETE", "/api/v3/order",
      "symbol=" .. symbol .. "&orderId=" .. tostring(math.tointeger(id) or id), true)
    if r == false then      -- dry_run
      note(who .. ".CancelOrder: " .. err)
      return false
    end
    local o
    o, err = decode(r, err)
    if not o then
      log(who .. ".CancelOrder: " .. err)
      return false
    end
    if opts.lines() then say("Cancel", id, ...) end
    return true
  end

  function E.CancelOrder(id, ...)
    if not call("CancelOrder") then return false end
    return cancel(id, ...)
  end

  starts[#starts + 1] = function()
    local ok, err = start()
    if not ok then error(who .. ": cannot start on the venue: " .. err, 0) end
  end
  if info.cancel_on_stop then
    stops[#stops + 1] = function()
      if not started then return end
      local list, err = get("/api/v3/openOrders", "symbol=" .. symbol, true)
      if not list then return log(who .. ": cancel_on_stop: cannot read the open orders: " .. err) end
      for _, o in ipairs(list) do cancel(o.orderId, "(cancel_on_stop)") end
    end
    registry["stratrun.onexit"] = registry["stratrun.onexit"] or function(...)
      local own = rawget(_G, "onexit")
      local ok, err = true, nil
      if type(own) == "function" then ok, err = pcall(own, ...) end
      for _, stop in ipairs(stops) do stop() end
      if not ok then error(err, 0) end
    end
  end
  return E
end

return { new = new, not_yet = NOT_YET }
