-- live.lua: an exchange on a real venue (docs/live.md): Binance spot, or Binance USDⓈ-M perpetuals, through its REST
-- API, with the paper exchange's calls, fields and shapes (docs/exchange.md, docs/futures.md). stdlib/exchange.lua builds one for an exchange table with a
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
--
-- With the user-data stream (user_stream below, on runtime/lua/venue_stream.c) GetOrder and GetOrders answer from the
-- venue's pushed order updates while it is up and in step, and read REST as above while it is not.

local registry = debug.getregistry()    -- before runtime/lua/guard.c refuses it to the strategy
local refuse = registry["stratrun.refuse"]  -- raises the one line that ends the bot, no traceback (bot.c)
local venue = registry["stratrun.venue"]   -- not require-able, and guard.c refuses this file's upvalues
local json = require("json")

-- The strategy shares the global table and the library tables (math, string, table, json, the strings' metatable)
-- with this file and may replace what is in them. Every one this file uses is taken here, when the bot's exchanges
-- are built, before the strategy's code runs: a replaced ipairs, tonumber or math.floor never changes the holdings
-- or the value the guards are given, nor the open orders cancel_on_stop cancels. No method is called on a string
-- (s:sub goes through the strings' metatable, which the strategy can reach): string.sub(s) with this file's copy.
local function copy(t) local c = {} for k, v in next, t do c[k] = v end return c end
local math, string, table, json = copy(math), copy(string), copy(table), copy(json)
local ipairs, pairs, type, tostring, tonumber, pcall, error, rawget, next = ipairs, pairs, type, tostring, tonumber,
  pcall, error, rawget, next
local UnixNano, Sleep, _G = UnixNano, Sleep, _G

local BUY, SELL = 0, 1
local PENDING, CLOSED, CANCELED = 0, 1, 2
local STATUS = { NEW = PENDING, PARTIALLY_FILLED = PENDING, PENDING_NEW = PENDING, FILLED = CLOSED,
                 CANCELED = CANCELED, PENDING_CANCEL = CANCELED, REJECTED = CANCELED, EXPIRED = CANCELED,
                 EXPIRED_IN_MATCH = CANCELED }
local INTERVALS = { [60] = "1m", [180] = "3m", [300] = "5m", [900] = "15m", [1800] = "30m", [3600] = "1h",
                    [7200] = "2h", [14400] = "4h", [21600] = "6h", [28800] = "8h", [43200] = "12h",
                    [86400] = "1d", [259200] = "3d", [604800] = "1w" }
local starts, stops = {}, {}  -- every live exchange's start, run before main, and stop, run after onexit

-- The venue's REST paths, by kind (venue.info(slot).futures). The calls below are the same for both; where the
-- answers' shapes differ, the futures block of new() reads them.
local PATHS = {
  spot = { info = "/api/v3/exchangeInfo", ticker = "/api/v3/ticker/24hr", book = "/api/v3/ticker/bookTicker",
           depth = "/api/v3/depth", klines = "/api/v3/klines", trades = "/api/v3/trades",
           account = "/api/v3/account", order = "/api/v3/order", open = "/api/v3/openOrders" },
  futures = { info = "/fapi/v1/exchangeInfo", ticker = "/fapi/v1/ticker/24hr", book = "/fapi/v1/ticker/bookTicker",
              depth = "/fapi/v1/depth", klines = "/fapi/v1/klines", trades = "/fapi/v1/trades",
              account = "/fapi/v2/account", order = "/fapi/v1/order", open = "/fapi/v1/openOrders",
              positions = "/fapi/v2/positionRisk", leverage = "/fapi/v1/leverage",
              premium = "/fapi/v1/premiumIndex", dual = "/fapi/v1/positionSide/dual" },
}
-- A futures direction (SetDirection, CreateOrder's side): the order's side, whether it closes, the position's side.
local DIRS = { buy = { "BUY", false, "LONG" }, sell = { "SELL", false, "SHORT" },
               closebuy = { "SELL", true, "LONG" }, closesell = { "BUY", true, "SHORT" } }
local PD = { LONG = 0, SHORT = 1 }     -- PD_LONG, PD_SHORT
local WORDS = { [false] = { LONG = "open long", SHORT = "open short" }, [true] = { LONG = "close long",
                SHORT = "close short" } }
local FUNDING_INTERVAL = 28800000      -- Binance USDⓈ-M's, ms: premiumIndex does not say it

-- The bot's main and onexit (runtime/host/bot.c runs these in their place): the exchanges start before the
-- strategy's main (a venue that cannot be read stops the bot), and cancel_on_stop cancels after its onexit.
registry["stratrun.main"] = function(...)
  for _, start in ipairs(starts) do start() end
  return rawget(_G, "main")(...)
end

-- The paper exchange's calls a live exchange does not have yet: calling one raises, naming it (docs/live.md).
local NOT_YET = {}
for name in string.gmatch("Encode GetBase GetContractType GetFee GetFundings GetHistoryOrders GetMinPrice "
  .. "GetMinStock GetPosition GetPositions GetRate GetTickers GetUSDCNY Go HMAC IO Log SetBase SetContractType "
  .. "SetCurrency SetDirection SetMarginLevel SetPrecision SetRate SetTimeout", "%S+") do
  NOT_YET[name] = true
end
-- Of those, the calls of a futures account: a spot venue's answer names the venue that has them.
local FUTURES_ONLY = {}
for name in string.gmatch("GetContractType GetFundings GetPosition GetPositions SetContractType SetDirection "
  .. "SetMarginLevel", "%S+") do
  FUTURES_ONLY[name] = true
end

local function number(x) return tonumber(x) end
local function num(x) return math.tointeger(x) or tonumber(string.format("%.12g", x)) end

-- The venue's user-data stream (docs/live.md#the-user-data-stream): order updates pushed over a WebSocket
-- (runtime/lua/venue_stream.c, its connection on a thread of its own), kept here as the venue's own order objects.
-- While it is up and in step, GetOrder and GetOrders answer from it without a request. It is read at each of those
-- calls (the events wait in the connection's queue meanwhile). Down, they read REST as without it; it is opened
-- again with back-off, and once subscribed the open orders are read by REST once (what the outage missed) before it
-- answers again. symbol: the venue's pair; get(path, query, signed): a REST read; note(line): a log line;
-- open_path: the open orders' REST path; fut: binance-futures, whose stream is addressed by a listen key (got and
-- kept alive by REST, in C: venue.listen_key) and pushes ORDER_TRADE_UPDATE, with no subscription message.
local OPEN_STATUS = { NEW = 0, PENDING_NEW = 0, PARTIALLY_FILLED = 1 }  -- any other status is final (2)
local BACKOFF_MS, BACKOFF_MAX_MS = 500, 60000
local KEEPALIVE_MS = 30 * 60000        -- a listen key lasts 60 minutes from its POST or PUT

local function user_stream(slot, symbol, get, note, who, open_path, fut)
  local vs = registry["stratrun.venue_stream"]
  local key_at                -- futures: when the listen key was got or kept alive (nil: get one)
  local conn                  -- the connection, nil while down
  local off = not venue.info(slot).stream    -- stream = false
  local subscribed, synced = false, false
  local was_up, said_down = false, false
  local backoff, retry_at = BACKOFF_MS, 0
  local orders, stamp = {}, 0    -- orderId -> the venue's order (REST fields) and the stamp of its last update
  local U = {}

  local function rank(o) return OPEN_STATUS[o.status] or 2 end
  local function now() return UnixNano() // 1000000 end

  -- An order as the venue reports it (REST or an event): kept unless it is older than what is kept (less filled,
  -- or an earlier status of the same fill), so events and REST answers may come in any order.
  local function merge(o)
    if o.symbol ~= symbol or o.orderId == nil then return end
    local id = math.tointeger(o.orderId) or o.orderId
    local old = orders[id]
    if old then
      o.time = o.time or old.time    -- a futures event has no creation time
      local z, oz = tonumber(o.executedQty) or 0, tonumber(old.executedQty) or 0
      if z < oz or (z == oz and rank(o) < rank(old)) then return end
    end
    stamp = stamp + 1
    o.stamp = stamp
    orders[id] = o
  end

  -- Binance's executionReport event as the REST order it updates ("C": the canceled order's own client ID).
  local function from_event(e)
    return { symbol = e.s, orderId = e.i, clientOrderId = (e.C ~= nil and e.C ~= "" and e.C ~= json.null) and e.C
      or e.c, price = e.p, origQty = e.q, executedQty = e.z, cummulativeQuoteQty = e.Z, status = e.X, type = e.o,
      side = e.S, time = e.O, origQuoteOrderQty = e.Q }
  end
  -- USDⓈ-M's ORDER_TRADE_UPDATE's order ("o") as the REST order (fapi's GET /fapi/v1/order fields).
  local function from_futures(e)
    return { symbol = e.s, orderId = e.i, clientOrderId = e.c, price = e.p, origQty = e.q, executedQty = e.z,
      avgPrice = e.ap, status = e.X, type = e.o, side = e.S, updateTime = e.T, reduceOnly = e.R,
      positionSide = e.ps }
  end

  -- Futures: the listen key, got (POST) or kept alive (PUT) by REST; it stays in C, the answer shows it as '*'s.
  -- nil and why when the venue did not give it (then the stream is down and the next try POSTs).
  local function listen_key(method)
    local r, err = venue.listen_key(slot, method)
    local ok, x = false, nil
    if r then ok, x = pcall(json.decode, r.Body) end
    if not (r and r.StatusCode == 200 and ok and type(x) == "table" and x.listenKey) then
      if r and ok and type(x) == "table" and x.code then err = string.format("error %s: %s", x.code, x.msg)
      elseif r then err = "HTTP " .. r.StatusCode end
      key_at = nil
      return nil, "the venue gave no listen key: " .. tostring(err)
    end
    key_at = now()
    return true
  end

  local function down(why)
    if conn then conn:close() end
    conn, subscribed, synced = nil, false, false
    if fut then key_at = nil end   -- the next connection POSTs: the active key again, or a new one if it expired
    retry_at, backoff = now() + backoff, math.min(backoff * 2, BACKOFF_MAX_MS)
    if not said_down then
      said_down = true
      note(string.format("%s: the venue's user-data stream is down (%s): orders are read by REST until it is back",
        who, why))
    end
  end

  -- The open orders read once by REST: what the stream missed before it was subscribed. Kept orders that were open
  -- and are not in the list (and not updated since the list was asked for) closed meanwhile: forgotten, so GetOrder
  -- reads them from the venue.
  local function resync()
    local mark = stamp
    local list = get(open_path, "symbol=" .. symbol, true)
    if not list then return end
    local open = {}
    for _, o in ipairs(list) do
      open[math.tointeger(o.orderId) or o.orderId] = true
      merge(o)
    end
    for id, o in pairs(orders) do
      if not open[id] and rank(o) < 2 and o.stamp <= mark then orders[id] = nil end
    end
    synced = true
    if said_down or not was_up then
      note(string.format("%s: the venue's user-data stream is %s: orders are read from it", who,
        was_up and "back" or "up"))
    end
    was_up, said_down = true, false
  end

  -- Takes what the stream brought; true when it is up and in step (GetOrder and GetOrders may answer from it).
  local function pump()
    if not conn then
      if off or now() < retry_at then return false end
      if fut and not key_at then
        local ok, err = listen_key("POST")
        if not ok then down(err) return false end
      end
      local c, err = vs.open(slot)
      if c == false then off = true return false end
      if not c then down(err) return false end
      conn = c
    end
    if fut and subscribed and now() - key_at >= KEEPALIVE_MS then
      local ok, err = listen_key("PUT")
      if not ok then down(err) return false end
    end
    local state, why, msgs, lost = conn:poll()
    if fut and state == "open" and not subscribed then subscribed, backoff = true, BACKOFF_MS end
    for _, m in ipairs(msgs) do
      local ok, x = pcall(json.decode, m)
      if fut and ok and type(x) == "table" then
        if x.e == "ORDER_TRADE_UPDATE" and type(x.o) == "table" then merge(from_futures(x.o))
        elseif x.e == "listenKeyExpired" then
          down("the venue's listen key expired")
          return false
        end
      elseif ok and type(x) == "table" and x.status ~= nil and x.id == "subscribe" then
        if x.status ~= 200 then
          local e = type(x.error) == "table" and x.error or {}
          down(string.format("the venue refused the subscription: error %s: %s", tostring(e.code), tostring(e.msg)))
          return false
        end
        subscribed, backoff = true, BACKOFF_MS
      elseif ok and type(x) == "table" and type(x.event) == "table" then
        local e = x.event
        if e.e == "executionReport" then merge(from_event(e))
        elseif e.e == "eventStreamTerminated" or e.e == "serverShutdown" then
          down("the venue ended it: " .. e.e)
          return false
        end
      end
    end
    if lost then synced = false end        -- events were dropped: the open orders are read again
    if state == "down" then down(why) return false end
    if subscribed and not synced then resync() end
    return synced
  end

  -- The exchange's start: the open orders it read, and the connection opened.
  function U.start(open)
    for _, o in ipairs(open) do merge(o) end
    pump()
  end
  -- An order as a REST answer reported it (a placed or canceled order, GetOrder's answer).
  U.seen = merge
  -- The order with this id, when the stream is in step and knows it; else nil (read it by REST).
  function U.order(id)
    if pump() then return orders[math.tointeger(id) or id] end
  end
  -- The pair's open orders, when the stream is in step; else nil.
  function U.open_orders()
    if not pump() then return nil end
    local out = {}
    for _, o in pairs(orders) do
      if rank(o) < 2 then out[#out + 1] = o end
    end
    return out
  end
  return U
end

-- s: the exchange's checked settings (exchange_settings.check); opts: exchange.lua's (log, note, say, who, now, and
-- lines(): whether order lines are on, EnableLog).
local function new(s, opts)
  local slot, log, note, say = math.tointeger(s.venue_slot), opts.log, opts.note, opts.say
  local info = venue.info(slot)
  local fut = info.futures
  local P = fut and PATHS.futures or PATHS.spot
  local currency, base, quote = s.currency, s.base, s.quote
  local symbol = base .. quote
  local who = opts.who or "exchange"
  local E = {}
  local started, start_error
  local tick, step, min_notional, min_qty = s.tick_size, s.amount_size, s.min_notional, s.amount_size
  local max_qty, max_notional, market_max_qty = 1e15, 1e15, nil
  local hedge                         -- futures: the account is in hedge mode (positionSide/dual), read at start
  local contract, direction           -- futures: SetContractType's ("swap") and SetDirection's
  local raw
  local bar_len = 100                 -- GetRecords without a limit; SetMaxBarLen

  local function fail(call, msg)
    log(who .. "." .. call .. ": " .. msg)
    return nil
  end

  -- An answer's JSON, or nil and why: a transport failure, or the venue's error object with its code.
  local synced_at = -math.huge        -- when a -1021 last had the venue's clock measured again
  local function decode(r, err)
    if not r then return nil, err end
    local ok, v = pcall(json.decode, r.Body)
    if not ok then return nil, string.format("HTTP %d, not JSON: %s", r.StatusCode, string.sub(r.Body, 1, 200)) end
    if r.StatusCode ~= 200 or (type(v) == "table" and v.code and v.msg) then
      local line = string.format("the venue's error %s: %s (HTTP %d)", tostring(v.code), tostring(v.msg),
        r.StatusCode)
      -- -1021: the timestamp is outside recvWindow, our clock has drifted from the venue's since it was measured.
      -- Measured again (at most every 10 s), for the next request; this one is not sent again.
      local now_ms = UnixNano() // 1000000
      if v.code == -1021 and now_ms - synced_at >= 10000 then
        synced_at = now_ms
        local before = venue.offset(slot)
        if venue.sync(slot) then
          line = string.format("%s; the venue's clock measured again: offset %d ms, was %d", line,
            venue.offset(slot), before)
        end
      end
      return nil, line, v.code
    end
    raw = r.Body
    return v
  end

  local function get(path, query, signed)
    return decode(venue.request(slot, "GET", path, query or "", signed))
  end
  local stream = user_stream(slot, symbol, get, note, who, P.open, fut)

  -- A signed request that acts (a cancel, a leverage change): the venue's answer, or nil after one line (with
  -- dry_run the line says what was not sent).
  local function act(call_name, method, path, query)
    local r, err = venue.request(slot, method, path, query, true)
    if r == false then
      note(who .. "." .. call_name .. ": " .. err)
      return nil
    end
    local x
    x, err = decode(r, err)
    if not x then log(who .. "." .. call_name .. ": " .. err) end
    return x
  end

  -- Whether a futures order closes: a reduceOnly one (one-way mode), or one against its positionSide (hedge mode).
  local function closes(o)
    return o.reduceOnly == true or (o.positionSide == "LONG" and o.side == "SELL")
      or (o.positionSide == "SHORT" and o.side == "BUY")
  end

  local function order_view(o)
    local amount, deal = number(o.origQty), number(o.executedQty)
    local quote_done = number(o.cummulativeQuoteQty or o.cumQuote) or 0
    local price = number(o.price)
    if o.type == "MARKET" then
      price = -1
      if o.side == "BUY" and (amount or 0) == 0 then amount = number(o.origQuoteOrderQty) or 0 end
    end
    local v = { Id = math.tointeger(o.orderId) or o.orderId, Time = math.tointeger(o.time or o.transactTime
                or o.updateTime), Price = price, Amount = amount, DealAmount = deal,
                AvgPrice = deal > 0 and (number(o.avgPrice) or quote_done / deal) or 0,
                Status = STATUS[o.status] or PENDING, Type = o.side == "BUY" and BUY or SELL, Symbol = currency,
                ClientOrderId = o.clientOrderId }
    if fut then   -- the paper futures order's fields (docs/futures.md)
      v.Offset, v.ContractType, v.Symbol = closes(o) and 1 or 0, "swap", currency .. ".swap"
    end
    return v
  end

  -- Futures: the pair's positions from positionRisk, {LONG = {amount, price, profit, leverage}, SHORT = ...}
  -- (one-way mode's one BOTH position by its sign; none when flat).
  local function positions()
    local list, err = get(P.positions, "symbol=" .. symbol, true)
    if not list then return nil, err end
    local out = {}
    for _, p in ipairs(list) do
      local amt = number(p.positionAmt) or 0
      if p.symbol == symbol and amt ~= 0 then
        local side = p.positionSide == "BOTH" and (amt > 0 and "LONG" or "SHORT") or p.positionSide
        out[side] = { amount = math.abs(amt), price = number(p.entryPrice), profit = number(p.unRealizedProfit) or 0,
                      leverage = math.tointeger(number(p.leverage)) or number(p.leverage) or 1 }
      end
    end
    return out
  end

  -- The position side an open futures order adds to (nil for a close).
  local function adds_to(o)
    if closes(o) then return nil end
    if o.positionSide == "LONG" or o.positionSide == "SHORT" then return o.positionSide end
    return o.side == "BUY" and "LONG" or "SHORT"
  end

  -- Futures: the positions, the contracts pending closes hold per side, what pending opens add per side, the open
  -- orders; or nil and why.
  local function book_of_positions()
    local ps, err = positions()
    if not ps then return nil, err end
    local open
    open, err = get(P.open, "symbol=" .. symbol, true)
    if not open then return nil, err end
    local frozen, adding = { LONG = 0, SHORT = 0 }, { LONG = 0, SHORT = 0 }
    for _, o in ipairs(open) do
      local left = (number(o.origQty) or 0) - (number(o.executedQty) or 0)
      local add = adds_to(o)
      if add then adding[add] = adding[add] + left
      else
        local side = (o.positionSide == "LONG" or o.positionSide == "SHORT") and o.positionSide
          or (o.side == "SELL" and "LONG" or "SHORT")
        frozen[side] = frozen[side] + left
      end
    end
    return ps, frozen, adding
  end

  -- Futures at start: the account's position mode and the pair's positions, for the start line.
  local function futures_start()
    local d, err = get(P.dual, "", true)
    if not d then return nil, "cannot read the position mode: " .. err end
    hedge = d.dualSidePosition == true
    local ps
    ps, err = positions()
    if not ps then return nil, "cannot read the positions: " .. err end
    local shown = {}
    for _, side in ipairs({ "LONG", "SHORT" }) do
      local p = ps[side]
      if p then shown[#shown + 1] = string.format("%s %s at %s", string.lower(side), num(p.amount), num(p.price)) end
    end
    return string.format(", %s mode, positions: %s", hedge and "hedge" or "one-way",
      #shown > 0 and table.concat(shown, ", ") or "none")
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
    x, err = get(P.info, fut and "" or "symbol=" .. symbol)    -- USDⓈ-M's takes no symbol: every contract
    if not x then return nil, "cannot read the pair's rules: " .. err end
    for _, l in ipairs(x.rateLimits or {}) do    -- the venue's order counts, refused over in venue.order
      if type(l) == "table" and l.rateLimitType == "ORDERS" and math.tointeger(l.intervalNum)
        and math.tointeger(l.limit) and type(l.interval) == "string" then
        venue.order_limit(slot, l.interval, math.tointeger(l.intervalNum), math.tointeger(l.limit))
      end
    end
    local sym
    for _, y in ipairs(x.symbols or {}) do
      if y.symbol == symbol and (not fut or y.contractType == "PERPETUAL") then sym = y end
    end
    if not sym then
      start_error = "the venue does not list " .. symbol .. (fut and " as a perpetual" or "")
      return nil, start_error
    end
    for _, f in ipairs(sym.filters or {}) do
      if f.filterType == "PRICE_FILTER" then tick = number(f.tickSize)
      elseif f.filterType == "LOT_SIZE" then
        step, min_qty, max_qty = number(f.stepSize), number(f.minQty), number(f.maxQty)
      elseif f.filterType == "MARKET_LOT_SIZE" then market_max_qty = number(f.maxQty)
      elseif f.filterType == "NOTIONAL" or f.filterType == "MIN_NOTIONAL" then
        -- spot's minNotional; USDⓈ-M's MIN_NOTIONAL says notional
        min_notional, max_notional = number(f.minNotional or f.notional) or 0, number(f.maxNotional) or 1e15
      end
    end
    local open, extra = nil, ""
    if fut then
      extra, err = futures_start()
      if not extra then return nil, err end
    end
    open, err = get(P.open, "symbol=" .. symbol, true)
    if not open then return nil, "cannot read the open orders: " .. err end
    started = true
    stream.start(open)
    venue.attach(slot)      -- from now on its kill switch stops this bot (before, start refuses)
    local ids = {}
    for _, o in ipairs(open) do ids[#ids + 1] = tostring(o.orderId) end
    note(string.format("%s: %s %s at %s%s: clock offset %d ms, %d open order%s%s%s", who, info.venue,
      fut and currency .. ".swap" or currency, info.base_url, info.dry_run and " (dry_run: orders are only logged)"
      or "", venue.offset(slot), #open, #open == 1 and "" or "s", #open > 0 and (" (" .. table.concat(ids, ", ")
      .. ")") or "", extra))
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

  -- n steps of g: a decimal step (0.1) divides by its inverse, which gives the double nearest n x g (n * 0.1 does not)
  local function steps(n, g)
    local r = math.floor(1 / g + 0.5)
    if g < 1 and math.abs(1 / g - r) <= 1e-9 * r then return n / r end
    return n * g
  end
  local function floor_to(x, g) return steps(math.floor(x / g + 1e-9), g) end
  local function ceil_to(x, g) return steps(math.ceil(x / g - 1e-9), g) end

  -- the paper exchange's default name is not this one's
  local name = s.name == "Paper" and "Binance" or s.name == "Futures_Paper" and "Futures_Binance" or s.name
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
    local t, err = get(P.ticker, "symbol=" .. symbol)
    if not t then return fail("GetTicker", err) end
    if t.bidPrice == nil then     -- USDⓈ-M's 24 hours have no book: its best bid and ask
      local b
      b, err = get(P.book, "symbol=" .. symbol)
      if not b then return fail("GetTicker", err) end
      t.bidPrice, t.askPrice = b.bidPrice, b.askPrice
    end
    return { Symbol = currency, Time = math.tointeger(t.closeTime) or opts.now(), Open = number(t.openPrice),
             High = number(t.highPrice), Low = number(t.lowPrice), Sell = number(t.askPrice),
             Buy = number(t.bidPrice), Last = number(t.lastPrice), Volume = number(t.volume) }
  end

  function E.GetDepth(sym)
    if not call("GetDepth", sym) then return nil end
    local d, err = get(P.depth, "symbol=" .. symbol .. "&limit=20")
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
    local k, err = get(P.klines, string.format("symbol=%s&interval=%s&limit=%d", symbol, interval,
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
    local t, err = get(P.trades, "symbol=" .. symbol .. "&limit=20")
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
    local m = { Symbol = fut and currency .. ".swap" or currency, BaseAsset = base, QuoteAsset = quote,
      TickSize = tick, AmountSize = step, PricePrecision = digits(tick), AmountPrecision = digits(step),
      MinQty = min_qty, MaxQty = max_qty, MinNotional = min_notional, MaxNotional = max_notional }
    if fut then m.CtVal, m.CtValCcy = 1, base end     -- USDⓈ-M's amounts are coins: a contract of 1
    return { [m.Symbol] = m }
  end

  local function account()
    local a, err = get(P.account, "", true)
    if not a then return nil, err end
    if fut then   -- the paper futures account's fields: Balance the margin free for orders, Equity, UPnL
      local out = { Balance = 0.0, FrozenBalance = 0.0, Stocks = 0.0, FrozenStocks = 0.0, Equity = 0.0, UPnL = 0.0 }
      for _, x in ipairs(a.assets or {}) do
        if x.asset == quote then
          out.Balance, out.FrozenBalance = number(x.availableBalance), number(x.openOrderInitialMargin) or 0
          out.Equity, out.UPnL = number(x.marginBalance), number(x.unrealizedProfit) or 0
        end
      end
      return out
    end
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
    if fut then return json.array({ { Currency = quote, Amount = a.Balance, FrozenAmount = a.FrozenBalance } }) end
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
      local r, err, refused = venue.request(slot, "GET", P.order, "symbol=" .. symbol
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

  -- Sends an order (venue.order checks the guards) and resolves one whose answer did not come: its id, or nil after
  -- one line. px and words: what the order line shows (words: futures' "open long BTC_USDT.swap").
  local function send(call_name, side, typ, price, amount, value, holdings, extra, px, words, ...)
    local cid = venue.client_id()
    local sent = UnixNano() // 1000000
    local r, err, refused = venue.order(slot, symbol, side, typ, price, amount, cid, value, holdings, extra)
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
        o, err = nil, "HTTP " .. r.StatusCode .. " without an order id: " .. string.sub(r.Body, 1, 200)
      end
      -- Only the venue's own refusal (a 4xx with its error code) is known not placed. A 5xx (Binance: execution
      -- status unknown), or an answer cut short or of another shape, may stand for a placed order: resolved.
      if not o and r.StatusCode >= 400 and r.StatusCode < 500 and type(code) == "number" then
        return fail(call_name, err)
      elseif not o then o = resolve(call_name, cid, err, sent) end
    end
    if not o then return nil end        -- resolve said why
    stream.seen(o)
    if opts.lines() then
      if words then say(call_name, px, num(amount), words, "(order " .. tostring(o.orderId) .. ")", ...)
      else say(call_name, px, num(amount), "(order " .. tostring(o.orderId) .. ")", ...) end
    end
    return math.tointeger(o.orderId) or o.orderId
  end

  local function place(call_name, side, price, amount, ...)
    if not call(call_name) then return nil end
    if type(price) ~= "number" or type(amount) ~= "number" then
      error(string.format("%s.%s: price and amount must be numbers", who, call_name), 2)
    end
    local market = price == -1
    local value, holdings, typ = 0, 0, market and "MARKET" or "LIMIT"
    if market and side == "SELL" or (market and info.max_position > 0) then
      local t, err = get(P.book, "symbol=" .. symbol)
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
      local open, err2 = get(P.open, "symbol=" .. symbol, true)
      if not open then return fail(call_name, err2) end
      for _, o in ipairs(open) do
        if o.side == "BUY" then
          local left = (number(o.origQty) or 0) - (number(o.executedQty) or 0)
          if o.type == "MARKET" and left <= 0 then left = math.huge end   -- a quote amount: not known in base
          holdings = holdings + math.max(left, 0)
        end
      end
    end
    return send(call_name, side, typ, price, amount, value, holdings, nil, market and "market" or num(price), nil,
      ...)
  end

  -- ---- futures (binance-futures, docs/live.md): the paper futures exchange's calls on USDⓈ-M perpetuals ----

  -- Whether sym (optional) names this exchange's swap: nil, "", BTC_USDT or BTC_USDT.swap; else one line.
  local function swap_symbol(call_name, sym)
    if sym == nil or sym == "" or sym == currency or sym == currency .. ".swap" then return true end
    fail(call_name, "this exchange trades " .. currency .. ".swap only, got symbol '" .. tostring(sym) .. "'")
    return false
  end

  -- A futures order: direction dirname (SetDirection's, or CreateOrder's side). A close must fit in its position
  -- less what pending closes hold; in one-way mode an open never meets a position of the other side (the venue
  -- would net them). max_position counts the side's contracts and the pending opens adding to it (venue.c).
  local function place_futures(call_name, side, price, amount, dirname, alias, ...)
    if not call(call_name) then return nil end
    if type(price) ~= "number" or type(amount) ~= "number" then
      error(string.format("%s.%s: price and amount must be numbers", who, call_name), 2)
    end
    if not alias then
      return fail(call_name, "no contract is set: call exchange.SetContractType(\"swap\") first")
    end
    local d = DIRS[dirname]
    if not d or d[1] ~= side then
      local want = side == "BUY" and "\"buy\" (open a long) or \"closesell\" (close a short)"
        or "\"sell\" (open a short) or \"closebuy\" (close a long)"
      if not dirname then
        return fail(call_name, "no direction is set: " .. call_name .. " needs exchange.SetDirection(" .. want .. ")")
      end
      return fail(call_name, string.format("the direction is '%s'; %s needs %s", dirname, call_name, want))
    end
    local close, pside = d[2], d[3]
    local market = price == -1
    if market then      -- its value, for the guards and the minimum notional: at the side's best price now
      local t, err = get(P.book, "symbol=" .. symbol)
      if not t then return fail(call_name, err) end
      price = side == "SELL" and number(t.bidPrice) or number(t.askPrice)
    else
      price = side == "BUY" and floor_to(price, tick) or ceil_to(price, tick)
    end
    amount = floor_to(amount, step)
    if amount <= 0 then return fail(call_name, "the amount is below the venue's step " .. num(step)) end
    if min_qty and amount < min_qty then
      return fail(call_name, string.format("the amount %s is below the venue's minimum %s: not sent", num(amount),
        num(min_qty)))
    end
    if market and market_max_qty and amount > market_max_qty then
      return fail(call_name, string.format("the amount %s is above the venue's most for a market order %s "
        .. "(MARKET_LOT_SIZE): not sent", num(amount), num(market_max_qty)))
    end
    -- a close is exempt at the venue too (reduce only)
    if not close and min_notional and price * amount < min_notional then
      return fail(call_name, string.format("the order's value %s is below the venue's minimum notional %s: not sent",
        num(price * amount), num(min_notional)))
    end
    local ps, frozen, adding = book_of_positions()
    if not ps then return fail(call_name, frozen) end
    local held = ps[pside] and ps[pside].amount or 0
    if close and amount - (held - frozen[pside]) > step / 2 then
      return fail(call_name, string.format("closes %s of the %s %s.swap position, which holds %s (%s in pending "
        .. "close orders): a close never opens the opposite position: not sent", num(amount), string.lower(pside),
        currency, num(held), num(frozen[pside])))
    end
    local other = pside == "LONG" and "SHORT" or "LONG"
    if not close and not hedge and (ps[other] or adding[other] > 0) then
      return fail(call_name, string.format("the account is in one-way mode and holds a %s position or pending "
        .. "opens of it: an open %s would net against it at the venue; close it first, or put the account in hedge "
        .. "mode: not sent", string.lower(other), string.lower(pside)))
    end
    return send(call_name, side, market and "MARKET" or "LIMIT", price, amount, price * amount,
      held + adding[pside], hedge and { position_side = pside } or { reduce_only = close },
      market and "market" or num(price), WORDS[close][pside] .. " " .. currency .. ".swap", ...)
  end

  if fut then
    -- SetContractType("swap") -> {ContractType, Symbol, InstrumentID, CtVal, Expiry}: the perpetual only.
    function E.SetContractType(kind)
      if type(kind) ~= "string" then
        error(who .. ".SetContractType: the contract type must be a string such as \"swap\", got " .. type(kind), 2)
      end
      if kind ~= "swap" and kind ~= currency .. ".swap" then
        return fail("SetContractType", string.format("contract type '%s' is not traded here: venue binance-futures "
          .. "trades the perpetual swap only (\"swap\")", kind))
      end
      contract = "swap"
      return { ContractType = "swap", Symbol = currency .. ".swap", InstrumentID = symbol, CtVal = 1, Expiry = 0 }
    end

    function E.GetContractType() return contract end

    -- SetDirection("buy" | "sell" | "closebuy" | "closesell"): what Buy and Sell do next.
    function E.SetDirection(dir)
      if type(dir) ~= "string" then
        error(who .. ".SetDirection: the direction must be a string such as \"buy\", got " .. type(dir), 2)
      end
      if not DIRS[dir] then
        return fail("SetDirection", "the direction must be one of buy, sell, closebuy, closesell, got '" .. dir .. "'")
      end
      direction = dir
      return true
    end

    -- SetMarginLevel(n) or SetMarginLevel(symbol, n): POST /fapi/v1/leverage, the pair's leverage at the venue.
    function E.SetMarginLevel(a, b)
      local n = a
      if b ~= nil or type(a) == "string" then
        if not swap_symbol("SetMarginLevel", a) then return nil end
        n = b
      end
      if type(n) ~= "number" then error(who .. ".SetMarginLevel: the level must be a number, got " .. type(n), 2) end
      if not call("SetMarginLevel") then return nil end
      local level = math.tointeger(n)
      if not level or level < 1 or level > 125 then
        return fail("SetMarginLevel", "the level must be a whole number from 1 to 125, got " .. tostring(n))
      end
      return act("SetMarginLevel", "POST", P.leverage, "symbol=" .. symbol .. "&leverage=" .. level) and true or nil
    end

    -- GetPositions([symbol]) -> the pair's positions, long then short, as the paper exchange's.
    function E.GetPositions(sym)
      if not swap_symbol("GetPositions", sym) or not call("GetPositions") then return nil end
      local ps, frozen = book_of_positions()
      if not ps then return fail("GetPositions", frozen) end
      local out = {}
      for _, side in ipairs({ "LONG", "SHORT" }) do
        local p = ps[side]
        if p then
          out[#out + 1] = { MarginLevel = p.leverage, Amount = p.amount, FrozenAmount = frozen[side], Price = p.price,
            Profit = p.profit, Type = PD[side], ContractType = "swap", Margin = p.price * p.amount / p.leverage,
            Symbol = currency .. ".swap", InstrumentID = symbol }
        end
      end
      return json.array(out)
    end

    function E.GetPosition() return E.GetPositions() end

    -- GetFundings([symbol]) -> {{Time, Rate, Interval, Symbol}}: premiumIndex's latest rate, at the latest funding
    -- time (the next one's less the interval).
    function E.GetFundings(sym)
      if not swap_symbol("GetFundings", sym) or not call("GetFundings") then return nil end
      local x, err = get(P.premium, "symbol=" .. symbol)
      if not x then return fail("GetFundings", err) end
      return json.array({ { Time = math.tointeger(x.nextFundingTime) - FUNDING_INTERVAL,
        Rate = number(x.lastFundingRate), Interval = FUNDING_INTERVAL, Symbol = currency .. ".swap" } })
    end

    function E.Buy(price, amount, ...) return place_futures("Buy", "BUY", price, amount, direction, contract, ...) end
    function E.Sell(price, amount, ...) return place_futures("Sell", "SELL", price, amount, direction, contract, ...) end
  else
    function E.Buy(price, amount, ...) return place("Buy", "BUY", price, amount, ...) end
    function E.Sell(price, amount, ...) return place("Sell", "SELL", price, amount, ...) end
  end

  -- CreateOrder(symbol, side, price, amount, ...): the current API's order call, "buy" or "sell" on this pair
  -- (futures: "buy", "sell", "closebuy" or "closesell" on its swap).
  function E.CreateOrder(sym, side, price, amount, ...)
    if fut then
      if not DIRS[side] then
        error(who .. ".CreateOrder: side must be \"buy\", \"sell\", \"closebuy\" or \"closesell\", got "
          .. tostring(side), 2)
      end
      if not swap_symbol("CreateOrder", sym) then return nil end
      local d = DIRS[side][1]
      return place_futures(d == "BUY" and "Buy" or "Sell", d, price, amount, side, "swap", ...)
    end
    if side ~= "buy" and side ~= "sell" then
      error(who .. ".CreateOrder: side must be \"buy\" or \"sell\" on a live spot exchange, got " .. tostring(side), 2)
    end
    if sym ~= "" and sym ~= nil and sym ~= currency then
      return fail("CreateOrder", "this exchange trades " .. currency .. " only, got symbol '" .. tostring(sym) .. "'")
    end
    return place(side == "buy" and "Buy" or "Sell", string.upper(side), price, amount, ...)
  end

  -- An order id as the venue's query takes it: a whole number (or its digits), else nil after one line; anything
  -- else would go into the signed query as it is ("1&symbol=ETHUSDT").
  local function order_id(call_name, id)
    local n = math.tointeger(id)
      or (type(id) == "string" and string.match(id, "^%d+$") and math.tointeger(tonumber(id)))
    if n and n >= 0 then return n end
    return fail(call_name, "an order id is a whole number such as 1000, got " .. (type(id) == "string"
      and "'" .. string.sub(id, 1, 40) .. "'" or type(id) == "number" and string.format("%.17g", id) or type(id)))
  end

  function E.GetOrder(id)
    if not call("GetOrder") then return nil end
    id = order_id("GetOrder", id)
    if not id then return nil end
    local kept = stream.order(id)
    if kept then return order_view(kept) end
    local o, err = get(P.order, "symbol=" .. symbol .. "&orderId=" .. id, true)
    if not o then return fail("GetOrder", err) end
    stream.seen(o)
    return order_view(o)
  end

  function E.GetOrders(sym)
    if not call("GetOrders", sym) then return nil end
    local list, err = stream.open_orders()
    if not list then list, err = get(P.open, "symbol=" .. symbol, true) end
    if not list then return fail("GetOrders", err) end
    local out = {}
    for i, o in ipairs(list) do out[i] = order_view(o) end
    table.sort(out, function(a, b) return a.Id < b.Id end)
    return json.array and json.array(out) or out
  end

  local function cancel(id, ...)
    id = order_id("CancelOrder", id)
    if not id then return false end
    local o = act("CancelOrder", "DELETE", P.order, "symbol=" .. symbol .. "&orderId=" .. id)
    if not o then return false end
    stream.seen(o)
    if opts.lines() then say("Cancel", id, ...) end
    return true
  end

  function E.CancelOrder(id, ...)
    if not call("CancelOrder") then return false end
    return cancel(id, ...)
  end

  starts[#starts + 1] = function()
    local ok, err = start()
    if not ok then refuse(who .. ": cannot start on the venue: " .. err) end
  end
  if info.cancel_on_stop then
    stops[#stops + 1] = function()
      if not started then return end
      local list, err = get(P.open, "symbol=" .. symbol, true)
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

return { new = new, not_yet = NOT_YET, futures_only = FUTURES_ONLY }
