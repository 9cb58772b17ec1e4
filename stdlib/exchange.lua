-- exchange.lua: the `exchange` object strategies trade through: a paper exchange on the process's market data
-- (the `market` module, runtime/lua/lmarket.c), with the platform's call names and shapes. docs/exchange.md explains
-- the model (what the market shows at a time, fills, fees, slippage, depth, defaults).
--
-- Each bot has its own Lua state, so its own instance and account. Nothing runs in the background: every call
-- first settles the resting orders against the candles that closed since the last call (a scan that only happens
-- while orders are pending), so an exchange reads time only through the clock it is given (UnixNano in a bot) and
-- a replay stays deterministic.
--
-- Failures of the world (no candle yet, insufficient funds, an unknown order, another symbol) return nil (false
-- for CancelOrder) and log one line naming the call. Programming mistakes (an argument of the wrong type, an
-- invalid exchange config) raise.
--
-- On a live rest market (market.info().kind == "rest", runtime/data/source_rest.c) GetTicker and GetDepth map the venue's
-- latest snapshots (raw JSON the poller checked, from market.snapshot) to the platform's shapes, and every call that
-- reads prices first checks that its feed is fresh (market.fetched): data older than the market's `stale` returns
-- nil and logs why, rather than trade on old prices. Orders fill against the candles as everywhere else.
--
-- A live bot's account persists (opts.keep, the `stratrun.files` module, runtime/lua/files.c): balances, the
-- pending orders, the order-ID counter and the orders of the latest KEEP_CLOSED ids are written to
-- <bot dir>/account.json whenever they change, and read back when the exchange is built, so order IDs kept in _G
-- still name the same orders after a restart. A replay neither reads nor writes it; --reset-account starts afresh.
--
-- Besides the platform calls: exchange._summary() (for the host's replay summary) and exchange._new{config,
-- market, now, log, keep} (a separate instance on any market and clock, for the specs).

local SPREAD = 0.0001       -- Sell = Last * (1 + SPREAD), Buy = Last * (1 - SPREAD); depth levels step by it
local LEVELS = 10           -- depth levels on each side
local DEFAULT_LIMIT = 100   -- records returned by GetRecords without a limit (SetMaxBarLen changes it)
local TRADES = 20           -- trades GetTrades returns
local KEEP_CLOSED = 1000    -- the account file keeps the orders of the latest ids (and every pending one), for GetOrder
local ACCOUNT_VERSION = 1
local WEEK = 7 * 86400000
local MONDAY = 4 * 86400000 -- 1970-01-05, a Monday: weekly bars start on Mondays 00:00 UTC

local BUY, SELL = 0, 1
local PENDING, CLOSED, CANCELED = 0, 1, 2
local STATUS_NAME = { [PENDING] = "pending", [CLOSED] = "closed", [CANCELED] = "canceled" }

-- The platform's constants, with its values, as globals (a script's own global of the same name wins): periods in
-- seconds for GetRecords(PERIOD_H1); order states and types (an order's Status and Type), order offsets and
-- position directions (futures), exchange.Log's types. A strategy comparing order.Type with ORDER_TYPE_BUY must
-- never compare nil with nil.
local CONSTANTS = {
  PERIOD_M1 = 60, PERIOD_M3 = 180, PERIOD_M5 = 300, PERIOD_M15 = 900, PERIOD_M30 = 1800,
  PERIOD_H1 = 3600, PERIOD_H2 = 7200, PERIOD_H4 = 14400, PERIOD_H6 = 21600, PERIOD_H12 = 43200,
  PERIOD_D1 = 86400, PERIOD_D3 = 259200, PERIOD_W1 = 604800,
  ORDER_STATE_PENDING = PENDING, ORDER_STATE_CLOSED = CLOSED, ORDER_STATE_CANCELED = CANCELED,
  ORDER_STATE_UNKNOWN = 3,
  ORDER_TYPE_BUY = BUY, ORDER_TYPE_SELL = SELL,
  ORDER_OFFSET_OPEN = 0, ORDER_OFFSET_CLOSE = 1,
  PD_LONG = 0, PD_SHORT = 1, PD_LONG_YD = 2, PD_SHORT_YD = 3,
  LOG_TYPE_BUY = 0, LOG_TYPE_SELL = 1, LOG_TYPE_CANCEL = 2,
}

local json_array = (json and json.array) or function(t) return t end
local slice = require("market").slice   -- slice(t, i, j): a new array of t[i..j], sized at once (runtime/lua/lmarket.c)
local METRICS = require("metrics")
local os_date = os.date

-- Raises msg at the strategy's line: the first caller outside this file, however many of the exchange's own
-- frames (helpers, wrappers) are between.
local SRC = debug.getinfo(1, "S").short_src
local raise = require("caller")(SRC)

-- EnableLog(false) stops the order lines (Buy, Sell, CancelOrder, fills, exchange.Log) of every exchange of the
-- bot; EnableLog(true) brings them back. Errors of failed calls are not order lines: SetErrorFilter is for those.
local order_lines = true
local function EnableLog(on)
  if type(on) ~= "boolean" then
    error("EnableLog: expects true or false, got " .. type(on) .. " (a Lua 0 is true: write false)", 2)
  end
  order_lines = on
end

local settings_module = require("exchange_settings")
local names = require("names")
local settings, show, finite = settings_module.check, settings_module.show, settings_module.finite

-- The fields of an order that the account file keeps.
local ORDER_FIELDS = { "Id", "Time", "Price", "Amount", "DealAmount", "AvgPrice", "Status", "Type", "frozen",
                       "Offset", "ContractType", "dir", "inst", "exp" }   -- the last five: a futures order's
local POSITION_FIELDS = { "inst", "alias", "exp", "dir", "amount", "price" }
local FUTURES = require("futures")
-- A futures order's direction (SetDirection, CreateOrder's side): the order type it takes, its offset (0 open,
-- 1 close) and the position's direction (0 long, 1 short).
local DIRS = { buy = { BUY, 0, 0 }, sell = { SELL, 0, 1 }, closebuy = { SELL, 1, 0 }, closesell = { BUY, 1, 1 } }
local OFFSET_WORDS = { [0] = { [0] = "open long", [1] = "open short" }, [1] = { [0] = "close long", [1] = "close short" } }
local SIDE_NAMES = { [0] = "long", [1] = "short" }

-- A new paper exchange. opts: config (the exchange settings table), market (the market module, or anything with
-- its at, candle and info), now (a function returning the clock in ms), log (a function taking the line of a
-- failed call), note (optional, a function taking any other line; default log), keep
-- (optional: where the account persists, {read = f() -> text | nil [, message], write = f(text) -> true | nil,
-- message, path = name for messages, reset = start afresh}).
-- The grid of step size (a price tick, an amount step): whole multiples of size, rounded down, up or to the
-- nearest. A decimal step such as 0.01 divides the multiple by 100 rather than multiplying by 0.01: 4305073 / 100
-- is the double nearest 43050.73, 4305073 * 0.01 is not always. A value within float noise of a multiple
-- (43050.73 / 0.01 = 4305073.0000000005) is that multiple.
local function grid(size)
  local inv = 1 / size
  local r = math.floor(inv + 0.5)
  local decimal = size < 1 and math.abs(inv - r) <= 1e-9 * inv
  local function count(x)
    if decimal then return x * r end
    return x / size
  end
  local function value(n)
    if decimal then return n / r end
    return n * size + 0.0
  end
  local function noise(v) return 1e-9 + math.abs(v) * 1e-15 end
  return {
    size = size,
    r = decimal and r or 0,     -- for C code that rounds as near does (market.equity)
    down = function(x) local v = count(x) return value(math.floor(v + noise(v))) end,
    up = function(x) local v = count(x) return value(math.ceil(v - noise(v))) end,
    near = function(x) return value(math.floor(count(x) + 0.5)) end,
  }
end

local function new(opts)
  local market, now, log = opts.market, opts.now, opts.log
  local raise = raise
  local note = opts.note or log       -- what is not an error
  if opts.who then    -- exchanges[2] and on: their messages name them, not exchange
    local log0, raise0, note0 = log, raise, note
    local function rename(msg) return (msg:gsub("^exchange([.:])", opts.who .. "%1", 1)) end
    log = function(msg) return log0(rename(msg)) end
    raise = function(msg) return raise0(rename(msg)) end
    note = function(msg) return note0(rename(msg)) end
  end
  local say = opts.say or function() end    -- an order line: its values, as Log(...) takes them
  local info = market.info and market.info() or {}
  local live = info.kind == "rest"
  local cfg = opts.config or {}
  if info.symbol and cfg.currency == nil then   -- a rest market names its symbol: the exchange trades it
    local c = { currency = info.symbol }
    for k, v in pairs(cfg) do c[k] = v end
    cfg = c
  end
  local s, config_error = settings(cfg)
  if s and info.symbol and s.currency ~= info.symbol then
    s, config_error = nil, string.format("exchange.currency is %s but the market %s trades %s", s.currency,
      info.url, info.symbol)
  end
  if s and s.period > 0 and info.period and (s.period * 1000) % info.period ~= 0 then
    s, config_error = nil, string.format("exchange.period %s s is not a multiple of the market's period of %s s",
      show(s.period), show(info.period / 1000))
  end
  if config_error and opts.strict then
    error((opts.who or "exchange") .. ": invalid config: " .. config_error .. opts.strict, 0)
  end
  s = s or settings({})
  if s.venue ~= "" then       -- a live exchange on a real venue (stdlib/live.lua, docs/live.md)
    local api, E = require("live").new(s, { log = log, note = note, say = say, who = opts.who, now = now,
      lines = function() return order_lines end }), {}
    for k, f in pairs(api) do
      E[k] = function(a, ...)
        if a ~= E then return f(a, ...) end
        return f(...)
      end
    end
    names.guard_exchange(E)
    local index = getmetatable(E).__index
    getmetatable(E).__index = function(t, k)
      local live = require("live")
      if live.not_yet[k] and live.futures_only[k] and s.venue == "binance" then
        error(string.format('%s.%s is a futures call: venue = "binance" trades spot; venue = "binance-futures" '
          .. "trades USDⓈ-M perpetuals (docs/live.md)", opts.who or "exchange", k), 2)
      end
      if live.not_yet[k] then
        error(string.format("%s.%s is not there on a live exchange yet (docs/live.md lists its calls)",
          opts.who or "exchange", k), 2)
      end
      return index(t, k)
    end
    return E
  end
  local currency, base, quote = s.currency, s.base, s.quote
  local maker, taker, slip = s.maker_fee, s.taker_fee, s.slippage
  local pg, ag, min_notional = grid(s.tick_size), grid(s.amount_size), s.min_notional   -- SetPrecision changes pg, ag

  local E = {}
  local balance, stocks = s.balance, s.stocks
  local frozen_balance, frozen_stocks = 0.0, 0.0
  local orders, open = {}, {}         -- every order by id; the pending ones in id order
  local next_id, n_orders, n_fills, fees = 1, 0, 0, 0.0
  local t_now, t_cached, idx = 0, nil, nil   -- the clock at this call; market.at(t) cached per t
  local seen = 0                      -- candles up to this index have been settled against the pending orders
  local base_ms                       -- the market's period in ms, read once
  local rec, rec_lo, rec_hi, rec_keep = {}, 1, 0, 0   -- record tables of candles rec_lo..rec_hi, shared
  local keep = opts.keep
  local bar_len = DEFAULT_LIMIT       -- GetRecords without a limit; SetMaxBarLen
  local raw, raw_body                 -- GetRawJSON: the last data call's result, or the venue's body it came from
  local rate = 1.0                    -- SetRate: shown prices are multiplied by it
  local resume_ms                     -- a restored account: candles closed by then were settled before the restart
  -- A futures account (docs/futures.md): balance is the wallet (margin frozen in orders stays in it), positions
  -- in the order they opened (never pairs(): a sum's order must not change between runs), one per contract and
  -- direction.
  local futures, ctv, mmr, lev = s.futures, s.ct_val, s.maintenance_margin, math.tointeger(s.leverage)
  local contract, direction           -- SetContractType's and SetDirection's
  local plist = {}                    -- {inst, alias, exp, dir, amount, price, frozen}
  local realized, funding, liquidations, forfeit = 0.0, 0.0, 0, 0.0
  local save_failed                   -- the last write of the account failed (said once, and once when it recovers)
  -- A replay's results (docs/report.md): every fill, and the account's holdings each time they changed, from which
  -- _summary() makes the equity at every bar's close. A holding is (cash, coins): the equity at price px is
  -- cash + coins x px (spot: the balance and the coins, frozen included; futures: the wallet less the positions'
  -- signed entry value, and their signed size in coins). Kept only when opts.record (a replay: a live bot would
  -- grow them without end).
  local recording = opts.record
  local trades = {}                   -- {time, side, price, amount, fee, order, effect, position, pnl}
  local hk, hc, hq, hh = {}, {}, {}, {}   -- holdings from time hk[i] on (ms; a candle's changes at its close)
  local fill_ct = 0                   -- the open time of the candle being settled (a fill's time is within it)

  local function fail(call, msg)
    log("exchange." .. call .. ": " .. msg)
    return nil
  end

  -- Wrong types raise, as Lua's own functions do, at the strategy's line (raise).
  local function check_number(call, what, x)
    if type(x) ~= "number" then
      raise(string.format("exchange.%s: %s must be a number, got %s", call, what, type(x)))
    end
  end

  -- Whether symbol (optional) is this exchange's; logs when it is not. A futures exchange's symbols also name a
  -- contract type, BTC_USDT.swap: the second result is it.
  local function check_symbol(call, symbol)
    if symbol == nil or symbol == currency then return true end
    if type(symbol) ~= "string" then
      raise(string.format("exchange.%s: symbol must be a string, got %s", call, type(symbol)))
    end
    local pair, kind = symbol:match("^(.-)%.([%w_]+)$")
    if s.futures and pair == currency and FUTURES.TYPES[kind] then return true, kind end
    if s.futures and pair == currency then
      log(string.format("exchange.%s: unknown contract type '%s' in symbol '%s' (the paper exchange has %s)", call,
        kind, symbol, FUTURES.TYPE_LIST))
      return false
    end
    log(string.format("exchange.%s: this exchange trades %s only, got symbol '%s'", call,
      s.futures and currency .. " (" .. currency .. ".swap, ...)" or currency, symbol))
    return false
  end

  -- The position of contract inst in direction dir; made (empty) when create is true.
  local function position(inst, dir, create, alias, exp)
    for i = 1, #plist do
      local p = plist[i]
      if p.inst == inst and p.dir == dir then return p end
    end
    if create then
      local p = { inst = inst, alias = alias, exp = exp, dir = dir, amount = 0.0, price = 0.0, frozen = 0.0 }
      plist[#plist + 1] = p
      return p
    end
  end

  -- Writes the account to keep (a live bot's account.json): balances, counters, the pending orders and the orders
  -- of the latest KEEP_CLOSED ids, in id order. A failed write is logged once, and once more when a write succeeds
  -- again; the exchange goes on trading in memory meanwhile.
  local function save()
    if not keep then return end
    local out, first = {}, math.max(1, next_id - KEEP_CLOSED)
    local function add(o)
      local r = {}
      for _, k in ipairs(ORDER_FIELDS) do r[k] = o[k] end
      out[#out + 1] = r
    end
    for i = 1, #open do
      if open[i].Id < first then add(open[i]) end    -- pending orders older than the latest KEEP_CLOSED ids
    end
    for id = first, next_id - 1 do
      if orders[id] then add(orders[id]) end
    end
    local a = {
      version = ACCOUNT_VERSION, currency = currency, label = s.label, balance = balance, stocks = stocks, next_id = next_id,
      n_orders = n_orders, n_fills = n_fills, fees = fees, settled = t_now, orders = json_array(out),
    }
    if futures then
      local ps = {}
      for i, p in ipairs(plist) do
        ps[i] = {}
        for _, k in ipairs(POSITION_FIELDS) do ps[i][k] = p[k] end
      end
      a.kind, a.leverage, a.positions, a.ct_val, a.amount_size = "futures", lev, json_array(ps), ctv, ag.size
      a.realized, a.funding, a.liquidations, a.forfeit = realized, funding, liquidations, forfeit
    end
    local ok, err = keep.write(json.encode(a))
    if not ok and not save_failed then
      log("exchange: the paper account is not saved: " .. tostring(err) .. "; trading goes on in memory")
    elseif ok and save_failed then
      note("exchange: the paper account is saved again to " .. keep.path)
    end
    save_failed = not ok
  end

  -- An order of the account file, or nil when it is not one this exchange wrote.
  local function order_from(r)
    if type(r) ~= "table" then return nil end
    local o = { Symbol = currency }
    for _, k in ipairs({ "Id", "Time", "Status", "Type" }) do
      o[k] = math.tointeger(r[k])
      if not o[k] then return nil end
    end
    for _, k in ipairs({ "Price", "Amount", "DealAmount", "AvgPrice" }) do
      if type(r[k]) ~= "number" then return nil end
      o[k] = r[k] + 0.0
    end
    if o.Price == -1 then o.Price = -1 end     -- a market order's Price is the integer -1, as when it was placed
    if not STATUS_NAME[o.Status] or (o.Type ~= BUY and o.Type ~= SELL) then return nil end
    if futures then
      o.Offset, o.dir, o.exp = math.tointeger(r.Offset), math.tointeger(r.dir), math.tointeger(r.exp)
      o.ContractType, o.inst = r.ContractType, r.inst
      if not (o.Offset and o.dir and o.exp and FUTURES.TYPES[o.ContractType] and type(o.inst) == "string") then
        return nil
      end
      o.Symbol = currency .. "." .. o.ContractType
    end
    if o.Status == PENDING then
      if type(r.frozen) ~= "number" then return nil end
      o.frozen = r.frozen + 0.0
    end
    return o
  end

  -- Reads the account keep holds, if any, in place of the config's. A file that cannot be read or understood
  -- raises: the bot does not start on a wrong account.
  local function restore()
    local text, err = keep.read()
    if not text then
      if err then error(string.format("exchange: cannot read the paper account %s: %s", keep.path, err), 0) end
      return
    end
    local ok, a = pcall(json.decode, text)
    local why = not ok and tostring(a)
      or type(a) ~= "table" and "not a JSON object"
      or a.version ~= ACCOUNT_VERSION and string.format("version %s; this stratrun reads version %d",
        tostring(a.version), ACCOUNT_VERSION)
      or a.currency ~= currency and "it trades " .. tostring(a.currency) .. ", the exchange now trades " .. currency
      or (a.kind == "futures") ~= futures and string.format("it is a %s account, the exchange is now %s",
        a.kind == "futures" and "futures" or "spot", futures and "futures" or "spot")
      -- its positions are counted in contracts of its ct_val, whole steps of its amount_size
      or futures and (a.ct_val ~= ctv or a.amount_size ~= ag.size) and string.format("its contracts are of ct_val "
        .. "%s and amount step %s, the config's of %s and %s", show(a.ct_val), show(a.amount_size), show(ctv),
        show(ag.size))
      or futures and not (math.tointeger(a.leverage) and a.leverage >= 1 and a.leverage <= s.max_leverage)
        and string.format("leverage %s is not from 1 to max_leverage %s", show(a.leverage), show(s.max_leverage))
      -- each file is its place's exchange's: a reordered, shortened or relabelled list must not hand it over
      or a.label ~= nil and a.label ~= s.label and string.format("it is the account of the "
        .. "exchange labelled '%s', this is '%s': was the config's exchanges list reordered or relabelled? Rename "
        .. "the account files with it", tostring(a.label), s.label)
      or not (math.tointeger(a.next_id) and type(a.balance) == "number" and type(a.stocks) == "number"
        and type(a.orders) == "table") and "balance, stocks, next_id or orders is missing"
    local list = {}
    for i, r in ipairs(not why and a.orders or {}) do
      list[i] = order_from(r)
      if not list[i] or list[i].Id >= a.next_id then
        why = string.format("order %d of the file is not an order it can read", i)
        break
      end
    end
    if why then
      error(string.format("exchange: the paper account %s cannot be used (%s); move it away or start with "
        .. "--reset-account", keep.path, why), 0)
    end
    balance, stocks = a.balance + 0.0, a.stocks + 0.0
    next_id = math.tointeger(a.next_id)
    n_orders, n_fills = math.tointeger(a.n_orders) or 0, math.tointeger(a.n_fills) or 0
    fees = type(a.fees) == "number" and a.fees + 0.0 or 0.0
    resume_ms = math.tointeger(a.settled)
    if futures then
      lev = math.tointeger(a.leverage) or lev
      realized, funding = tonumber(a.realized) or 0.0, tonumber(a.funding) or 0.0
      liquidations, forfeit = math.tointeger(a.liquidations) or 0, tonumber(a.forfeit) or 0.0
      for i, r in ipairs(type(a.positions) == "table" and a.positions or {}) do
        local p = { inst = r.inst, alias = r.alias, exp = math.tointeger(r.exp), dir = math.tointeger(r.dir),
                    amount = tonumber(r.amount), price = tonumber(r.price), frozen = 0.0 }
        if not (type(p.inst) == "string" and FUTURES.TYPES[p.alias] and p.exp and (p.dir == 0 or p.dir == 1)
            and p.amount and p.price) then
          error(string.format("exchange: the paper account %s cannot be used (position %d of the file is not a "
            .. "position it can read); move it away or start with --reset-account", keep.path, i), 0)
        end
        p.amount, p.price = p.amount + 0.0, p.price + 0.0
        plist[i] = p
      end
    end
    for _, o in ipairs(list) do
      orders[o.Id] = o
      if o.Status == PENDING then open[#open + 1] = o end
    end
    table.sort(open, function(x, y) return x.Id < y.Id end)   -- fills go in the order the orders were placed
    local held = {}           -- a pending close needs its position's contracts
    for _, o in ipairs(open) do
      if o.Offset == 1 then
        local p = position(o.inst, o.dir)
        if p then held[p] = (held[p] or 0) + o.Amount end
        if not p or held[p] - p.amount > ag.size / 2 then
          error(string.format("exchange: the paper account %s cannot be used (pending close order %d has no "
            .. "position to close); move it away or start with --reset-account", keep.path, o.Id), 0)
        end
      end
    end
  end

  -- The frozen totals, summed again from the pending orders whenever they change, so they never drift from what
  -- those orders hold.
  local function refreeze()
    local fb, fs = 0.0, 0.0
    if futures then     -- an open's margin and fee; a close's contracts, held back from its position
      for i = 1, #plist do plist[i].frozen = 0.0 end
      for i = 1, #open do
        local o = open[i]
        if o.Offset == 0 then fb = fb + o.frozen else
          local p = position(o.inst, o.dir)
          p.frozen = ag.near(p.frozen + o.Amount)
        end
      end
    else
      for i = 1, #open do
        local o = open[i]
        if o.Type == BUY then fb = fb + o.frozen else fs = fs + o.frozen end
      end
    end
    frozen_balance, frozen_stocks = fb, fs
  end

  local function sign(p) return p.dir == 0 and 1 or -1 end

  -- Unrealized P&L of the positions at mark price px (none without a price).
  local function upnl(px)
    local u = 0.0
    if not px then return u end
    for i = 1, #plist do
      local p = plist[i]
      u = u + sign(p) * (px - p.price) * p.amount * ctv
    end
    return u
  end

  local function margin_of(p) return p.price * p.amount * ctv / lev end

  local function used_margin()
    local m = 0.0
    for i = 1, #plist do m = m + margin_of(plist[i]) end
    return m
  end

  -- The holdings now, from time key on (a replay's equity series, _summary).
  local function holdings(key)
    if not recording then return end
    local c, q, held
    if futures then
      c, q = balance, 0.0
      for i = 1, #plist do
        local p = plist[i]
        c, q = c - sign(p) * p.price * p.amount * ctv, q + sign(p) * p.amount * ctv
      end
      held = #plist > 0
    else
      c, q = balance + frozen_balance, stocks + frozen_stocks
      held = q >= ag.size / 2
    end
    local n = #hk
    if n > 0 and hk[n] == key then n = n - 1 end
    hk[n + 1], hc[n + 1], hq[n + 1], hh[n + 1] = key, c, q, held
  end

  -- A fill of a replay, for its results: effect is the futures position effect (open, close, liquidation,
  -- settlement), nil on spot.
  local function trade(t, side, px, amt, fee, id, effect, dir, pnl)
    if not recording then return end
    trades[#trades + 1] = { time = t, side = side == BUY and "buy" or "sell", price = px, amount = amt, fee = fee,
      order = id, effect = effect, position = dir and SIDE_NAMES[dir] or nil, pnl = pnl }
  end

  -- The contract of type kind traded now: its instrument name and expiry (0 for the swap).
  local function contract_now(kind)
    local exp = FUTURES.expiry(kind, t_now)
    return FUTURES.instrument(base, quote, exp), exp
  end

  -- The contract type that names position p's contract at t (ms): the one it opened as while that still names it
  -- (a quarter's contract is this_week's too in its last week), else the one that names it then (a next_week
  -- contract is this_week's once this week's has expired).
  local function alias_at(p, t)
    if p.exp == 0 or FUTURES.expiry(p.alias, t) == p.exp then return p.alias end
    for _, kind in ipairs(FUTURES.TYPE_ORDER) do
      if FUTURES.expiry(kind, t) == p.exp then return kind end
    end
    return p.alias
  end

  -- A number in an order line: 100, not Lua's 100.0.
  local function num(x) return math.tointeger(x) or x end

  -- The line of a fill: "Filled buy 0.1 at 43050.74, fee 8.61 USDT (order 3)".
  local function filled_line(o, fee, pnl)
    if recording then
      local t = o.Time > fill_ct and o.Time or fill_ct
      trade(t, o.Type, o.AvgPrice, o.DealAmount, fee, o.Id, o.Offset and (o.Offset == 0 and "open" or "close"),
        o.dir, o.Offset == 1 and pnl or nil)
    end
    if not order_lines then return end
    local what = o.Type == BUY and "buy" or "sell"
    if o.Offset == 1 then     -- a futures close: what it realized
      say("Filled", what, num(o.DealAmount), "at", num(o.AvgPrice) .. ", fee", num(fee), quote .. ", profit",
        num(pnl), quote, "(order " .. o.Id .. ")")
      return
    end
    say("Filled", what, num(o.DealAmount), "at", num(o.AvgPrice) .. ", fee", num(fee), quote, "(order " .. o.Id .. ")")
  end

  -- A futures order fills whole at px, paying fee rate `rate`: an open adds to its position at the fill-weighted
  -- average price, a close realizes (px - entry) x amount x ct_val (the opposite for a short). Returns the fee and
  -- the profit realized.
  local function futures_fill(o, px, rate)
    local amt = o.Amount
    local fee, pnl = px * amt * ctv * rate, 0.0
    local p = position(o.inst, o.dir, o.Offset == 0, o.ContractType, o.exp)
    -- a close holds its contracts back from its position (refreeze), so it always finds them; never books a close
    -- without them
    assert(p and (o.Offset == 0 or p.amount - amt > -ag.size / 2), "exchange: a close without its position")
    -- amounts are whole amount steps: the sums stay on the grid (0.6, not 0.6000000000000001)
    if o.Offset == 0 then
      p.price = (p.price * p.amount + px * amt) / (p.amount + amt)
      p.amount = ag.near(p.amount + amt)
    else
      pnl = sign(p) * (px - p.price) * amt * ctv
      p.amount = ag.near(p.amount - amt)
      realized = realized + pnl
      if p.amount < ag.size / 2 then      -- closed: gone from the list (float noise of the amount steps included)
        for i = 1, #plist do
          if plist[i] == p then table.remove(plist, i) break end
        end
      end
    end
    balance = balance + pnl - fee
    fees = fees + fee
    o.DealAmount, o.AvgPrice, o.Status = amt, px, CLOSED
    return fee, pnl
  end

  -- A resting order fills whole at px as a maker; its frozen funds pay for it.
  local function settle_resting(o, px)
    if futures then
      n_fills = n_fills + 1
      filled_line(o, futures_fill(o, px, maker))
      return
    end
    local value = px * o.Amount
    local fee = value * maker
    if o.Type == BUY then
      local refund = o.frozen - value - fee     -- > 0 when it filled below its price
      if refund < 0 then fee, refund = o.frozen - value, 0.0 end   -- float rounding only
      balance = balance + refund
      stocks = stocks + o.Amount
    else
      balance = balance + (value - fee)
    end
    fees = fees + fee
    n_fills = n_fills + 1
    o.DealAmount, o.AvgPrice, o.Status = o.Amount, px, CLOSED
    filled_line(o, fee)
  end

  -- Candle (ct, op, hi, lo) against every pending order. A buy fills when the low reaches its price, a sell when
  -- the high does; at the candle's open instead (on the tick grid, never worse than the order's price) when the
  -- candle opened after the order was placed, through it.
  local function cross(ct, op, hi, lo)
    local n, filled = 0, false
    local len = #open
    for i = 1, len do
      local o = open[i]
      local p, px = o.Price, nil
      if o.Type == BUY then
        if lo <= p then px = (ct >= o.Time and op < p) and math.min(p, pg.up(op)) or p end
      elseif hi >= p then
        px = (ct >= o.Time and op > p) and math.max(p, pg.down(op)) or p
      end
      if px then
        settle_resting(o, px)
        filled = true
      else
        n = n + 1
        open[n] = o
      end
    end
    for i = n + 1, len do open[i] = nil end
    if filled then refreeze() end
    return filled
  end

  -- The pending orders that match(o), canceled (an expiry, a liquidation), each with its order line.
  local function cancel_where(match, why)
    local n = 0
    for i = 1, #open do
      local o = open[i]
      if match(o) then
        o.Status = CANCELED
        if order_lines then say("Cancel", o.Id, why) end
      else
        n = n + 1
        open[n] = o
      end
    end
    for i = #open, n + 1, -1 do open[i] = nil end
    refreeze()
  end

  local function utc(ms) return os_date("!%Y-%m-%d %H:%M", ms // 1000) end

  -- Cross margin (docs/futures.md): at price lp the equity has fallen to the maintenance margin. Every pending
  -- order is canceled and every position closed at lp; what the account has left, the maintenance margin (less,
  -- or a debt, after a gap), goes as the venue's liquidation fee: the wallet ends at 0.
  local function liquidate(lp, t)
    local held, mm = {}, 0.0
    cancel_where(function() return true end, "(liquidation)")
    for i = 1, #plist do
      local p = plist[i]
      local pnl = sign(p) * (lp - p.price) * p.amount * ctv
      realized = realized + pnl
      balance = balance + pnl
      mm = mm + mmr * lp * p.amount * ctv
      trade(t, p.dir == 0 and SELL or BUY, lp, p.amount, 0.0, nil, "liquidation", p.dir, pnl)
      held[i] = string.format("%s %s %s entered at %s", SIDE_NAMES[p.dir], show(p.amount),
        currency .. "." .. alias_at(p, t), show(p.price))
    end
    note(string.format("exchange: liquidated at %s on %s UTC: equity %s %s reached the maintenance margin of %s %s "
      .. "(%s%% of the positions' value); closed %s; %s %s forfeit", show(pg.near(lp)), utc(t), show(balance), quote,
      show(mm), quote, show(mmr * 100), table.concat(held, ", "), show(balance), quote))
    forfeit = forfeit + balance
    balance = 0.0
    liquidations = liquidations + 1
    for i = #plist, 1, -1 do plist[i] = nil end
  end

  -- Liquidation within a candle (ct, op, hi, lo): whether it happened.
  local function futures_liquidation(ct, op, hi, lo)
    if #plist == 0 then return false end
    local a, b = FUTURES.margin_line(balance, plist, ctv, mmr)
    local lp = FUTURES.liquidation_price(a, b, op, hi, lo)
    if lp then liquidate(lp, ct) end
    return lp ~= nil
  end

  -- Dated contracts that have expired by `upto` (ms; `before`: strictly before it) settle, without a fee, at the
  -- close of the latest candle closed at or before their expiry (the last price known then); their pending orders
  -- are canceled, and so are pending opens of an expired contract that holds no position. Returns whether any did.
  local function due(exp, upto, before)
    return exp ~= nil and exp > 0 and (exp < upto or (not before and exp == upto))
  end
  local function futures_expire(upto, before)
    local changed = false
    for i = #plist, 1, -1 do
      local p = plist[i]
      if due(p.exp, upto, before) then
        cancel_where(function(o) return o.inst == p.inst end, "(contract " .. p.inst .. " expired)")
        local px = pg.near(select(5, market.candle(market.at(p.exp) or 1)))
        local pnl = sign(p) * (px - p.price) * p.amount * ctv
        realized, balance = realized + pnl, balance + pnl
        trade(p.exp, p.dir == 0 and SELL or BUY, px, p.amount, 0.0, nil, "settlement", p.dir, pnl)
        if order_lines then
          say("Settled", SIDE_NAMES[p.dir], num(p.amount), currency .. "." .. alias_at(p, p.exp - 1),
            "(" .. p.inst .. ")", "at", num(px) .. ", profit", num(pnl), quote)
        end
        table.remove(plist, i)
        changed = true
      end
    end
    local stale = false
    for i = 1, #open do stale = stale or due(open[i].exp, upto, before) end
    if stale then
      cancel_where(function(o) return due(o.exp, upto, before) end, "(contract expired)")
      changed = true
    end
    return changed
  end

  -- Funding at the times in (ct, ct + period]: every swap position pays (a long at a positive rate) or receives
  -- rate x its value at the candle's close cl; the rate is the market's fr when it has one, else the config's.
  local function futures_funding(ct, cl, fr)
    local iv, rate = s.funding_interval * 1000, fr or s.funding_rate
    local f, fin = (ct // iv + 1) * iv, ct + base_ms
    local changed = false
    while f <= fin and rate ~= 0 do
      for i = 1, #plist do
        local p = plist[i]
        if p.exp == 0 then
          local paid = -sign(p) * rate * p.amount * ctv * cl
          balance, funding, changed = balance + paid, funding + paid, true
        end
      end
      f = f + iv
    end
    return changed
  end

  -- A candle against a futures account, in an order that never favours the trader: contracts that expired before
  -- it settle; the positions held as it opens are liquidated if its range reaches their liquidation price (the
  -- pending orders are canceled, none fills); resting orders fill; the positions those fills left are checked
  -- again against its range; funding and the expiries at its close. Returns whether the account changed.
  local function futures_candle(ct, op, hi, lo, cl, fr)
    base_ms = base_ms or market.info().period
    local fin = ct + base_ms
    local changed = futures_expire(fin, true)
    if futures_liquidation(ct, op, hi, lo) then return true end
    if #open > 0 then changed = cross(ct, op, hi, lo) or changed end
    if futures_liquidation(ct, op, hi, lo) then return true end
    changed = futures_funding(ct, cl, fr) or changed
    return futures_expire(fin, false) or changed
  end

  -- Reads the clock and settles the candles that closed since the last call. Every call starts here.
  local function sync()
    if config_error then raise("exchange: invalid config: " .. config_error) end
    t_now = now()
    if t_now ~= t_cached then
      t_cached = t_now
      idx = market.at(t_now)
    end
    if idx and resume_ms then
      seen = math.max(seen, market.at(resume_ms) or 0)
      resume_ms = nil
    end
    if idx and idx > seen then
      local filled = false
      if #open > 0 or #plist > 0 then
        for j = seen + 1, idx do
          local ct, op, hi, lo, cl, _, fr = market.candle(j)
          local changed
          fill_ct = ct
          if futures then
            changed = futures_candle(ct, op, hi, lo, cl, fr)
          else
            changed = cross(ct, op, hi, lo)
          end
          if changed then
            filled = true
            holdings(ct + (base_ms or market.info().period))
          end
          if #open == 0 and #plist == 0 then break end
        end
      end
      seen = idx
      if filled then save() end
    end
    -- a dated contract expired inside the candle that has not closed yet: settled at the last close before it
    if idx and futures and (#plist > 0 or #open > 0) and futures_expire(t_now, false) then
      holdings(t_now)
      save()
    end
  end

  local function no_candle(call)
    return fail(call, "no candle has closed yet at " .. show(t_now) .. " ms (the market starts later)")
  end

  -- Live rest market: whether feed ("ticker", "depth", "klines") was fetched good within the market's stale
  -- time. Returns the fetch time, or nil after logging why not.
  local function fresh(call, feed)
    local fetched, why = market.fetched(feed)
    local last = why and "; its last fetch was refused: " .. why or ""
    if not fetched then
      return fail(call, string.format("no %s from %s yet%s", feed, info.url, last))
    end
    local age = t_now - fetched
    if age > info.stale then
      return fail(call, string.format("the %s from %s is %s s old (stale after %s s%s): not trading on old prices",
        feed, info.url, show(age / 1000), show(info.stale / 1000), last))
    end
    return fetched
  end

  -- Live rest market: the decoded snapshot of feed ("ticker", "depth") and its fetch time, if fresh; decoded once
  -- per snapshot.
  local decoded = {}
  local function snapshot(call, feed)
    if not fresh(call, feed) then return nil end
    local body, at = market.snapshot(feed)
    raw_body = body
    local d = decoded[feed]
    if d and d.at == at then return d.value, at end
    local ok, v = pcall(json.decode, body or "")
    if not ok or type(v) ~= "table" then
      return fail(call, "the " .. feed .. " from " .. info.url .. " cannot be read: " .. tostring(v))
    end
    decoded[feed] = { at = at, value = v }
    return v, at
  end

  local function price(x) return tonumber(x) + 0.0 end

  local function levels(src)
    local out = {}
    for i, l in ipairs(src) do out[i] = { Price = price(l[1]), Amount = price(l[2]) } end
    return out
  end

  -- The quotes at candle i: Last, its close on the tick grid, and LEVELS asks and bids on the grid, SPREAD apart
  -- and at least one tick apart, the first ones at least a tick from Last. Bids stop above 0. Made once per candle
  -- (and again after SetPrecision).
  local q_idx, q_last, q_asks, q_bids
  local function quotes(i)
    if i ~= q_idx then
      local _, _, _, _, cl = market.candle(i)
      local last = pg.near(cl)
      local asks, bids, a, b = {}, {}, last, last
      for k = 1, LEVELS do
        a = math.max(pg.up(last * (1 + k * SPREAD)), pg.up(a + pg.size / 2))
        asks[k] = a
        b = math.min(pg.down(last * (1 - k * SPREAD)), pg.down(b - pg.size / 2))
        if b > 0 then bids[k] = b end
      end
      q_idx, q_last, q_asks, q_bids = i, last, asks, bids
    end
    return q_last, q_asks, q_bids
  end

  local function copy(o)
    return {
      Id = o.Id, Time = o.Time, Price = o.Price, Amount = o.Amount, DealAmount = o.DealAmount,
      AvgPrice = o.AvgPrice, Status = o.Status, Type = o.Type, Symbol = o.Symbol, Offset = o.Offset,
      ContractType = o.ContractType,
    }
  end

  -- Enters order o (just placed) with the next id, logs its line and, when it filled at once, its fill.
  local function add_order(call, o, fee, pnl, ...)
    o.Id, o.Symbol = next_id, o.ContractType and currency .. "." .. o.ContractType or currency
    next_id = next_id + 1
    n_orders = n_orders + 1
    orders[o.Id] = o
    if o.Status == PENDING then
      open[#open + 1] = o
      refreeze()
    else
      n_fills = n_fills + 1
    end
    save()
    if order_lines then
      if o.Offset then       -- a futures order: Buy 43050.73 1 open long BTC_USDT.swap (order 3)
        say(o.Type == BUY and "Buy" or "Sell", o.Price == -1 and "market" or num(o.Price), num(o.Amount),
          OFFSET_WORDS[o.Offset][o.dir], o.Symbol, "(order " .. o.Id .. ")", ...)
      else
        say(o.Type == BUY and "Buy" or "Sell", o.Price == -1 and "market" or num(o.Price), num(o.Amount),
          "(order " .. o.Id .. ")", ...)
      end
    end
    if o.Status == CLOSED then      -- its fill line (and a replay's record of it), after the order line
      filled_line(o, fee, pnl)
      holdings(t_now)
    end
    return o.Id
  end

  -- The price of a limit order on the tick grid, or nil after logging why not. Given in the shown currency
  -- (SetRate), the price was rounded there: converted back it lands a hair off the grid on either side, so it goes
  -- to the nearest tick; given in the quote currency, to the trader's side.
  local function limit_price(call, side, price)
    local p
    if rate ~= 1 then p = pg.near(price / rate) elseif side == BUY then p = pg.down(price) else p = pg.up(price) end
    if not (p > 0) then
      local at = rate ~= 1 and string.format(" (%s %s at rate %s)", show(price / rate), quote, show(rate)) or ""
      return fail(call, string.format("price %s%s is below the tick size %s", show(price), at, show(pg.size)))
    end
    return p
  end

  -- The checks every order starts with: the arguments' types, the clock, a price and an amount that can be an
  -- order, fresh data and a candle. Returns price and amount as floats, or nil after logging why not.
  local function order_args(call, price, amount)
    check_number(call, "price", price)
    check_number(call, "amount", amount)
    sync()
    price, amount = price + 0.0, amount + 0.0
    if price ~= -1 and not (finite(price) and price > 0) then
      return fail(call, "price must be > 0, or -1 for a market order, got " .. show(price))
    end
    if not (finite(amount) and amount > 0) then
      return fail(call, "amount must be > 0, got " .. show(amount))
    end
    if live and not fresh(call, "klines") then return nil end
    if not idx then return no_candle(call) end
    return price, amount
  end

  local function funds_message(what, need, have, frozen, unit)
    return string.format("insufficient %s: needs %s %s, has %s %s free (%s frozen in orders)",
      what, show(need), unit, show(have), unit, show(frozen))
  end

  -- Buy and Sell: checks, then an immediate fill (market order, or a limit through the touch) or a resting order.
  -- The price goes onto the tick grid on the trader's side (a buy down, a sell up: never a worse price than the one
  -- given) and the amount down onto the amount step, as the platform's SetPrecision does; what is left must be a
  -- real order, worth at least min_notional.
  local function place(call, side, price, amount, ...)
    price, amount = order_args(call, price, amount)
    if not price then return nil end
    local last, asks, bids = quotes(idx)
    local ask, bid = asks[1], bids[1]
    if not (last > 0 and bid) then
      return fail(call, "no price to trade at: the last close is " .. show(select(5, market.candle(idx))))
    end
    local market_order, quote_amount = price == -1, price == -1 and side == BUY
    if not market_order then
      price = limit_price(call, side, price)
      if not price then return nil end
    end
    if not quote_amount then
      local a = ag.down(amount)
      if not (a > 0) then
        return fail(call, string.format("amount %s is below the amount step %s", show(amount), show(ag.size)))
      end
      amount = a
    end
    local notional = quote_amount and amount or amount * (market_order and bid or price)
    if notional < min_notional then
      return fail(call, string.format("order value %s %s is below the minimum of %s %s (min_notional)",
        show(notional), quote, show(min_notional), quote))
    end
    local o = { Time = t_now, Price = price, Amount = amount, DealAmount = 0.0, AvgPrice = 0.0, Type = side }
    if market_order then o.Price = -1 end      -- a market order reads back Price -1 (an integer), as on the platform

    local fee = 0.0      -- of a fill at once
    if side == BUY then
      if market_order then
        -- amount is the quote currency to spend, fee included: it buys the most whole amount steps it pays for,
        -- as a venue's market buy by quote amount does; DealAmount is what it bought (base), as the venue reports
        if amount > balance then
          return fail(call, funds_message("balance", amount, balance, frozen_balance, quote))
        end
        local px = pg.up(ask * (1 + slip))
        local got = ag.down(amount / (1 + taker) / px)
        if got * px * (1 + taker) > amount then got = ag.down(got - ag.size / 2) end   -- float noise rounded up
        if not (got > 0) then
          return fail(call, string.format("%s %s buys less than the amount step %s at %s", show(amount), quote,
            show(ag.size), show(px)))
        end
        fee = got * px * taker
        balance = balance - (got * px + fee)
        stocks = stocks + got
        fees = fees + fee
        o.DealAmount, o.AvgPrice, o.Status = got, px, CLOSED
      elseif price >= ask then
        local px = math.min(price, pg.up(ask * (1 + slip)))
        local value = px * amount
        fee = value * taker
        if value + fee > balance then
          return fail(call, funds_message("balance", value + fee, balance, frozen_balance, quote))
        end
        balance = balance - (value + fee)
        stocks = stocks + amount
        fees = fees + fee
        o.DealAmount, o.AvgPrice, o.Status = amount, px, CLOSED
      else
        local value = price * amount
        local need = value + value * maker
        if need > balance then
          return fail(call, funds_message("balance", need, balance, frozen_balance, quote))
        end
        balance = balance - need
        o.frozen, o.Status = need, PENDING
      end
    else
      if amount > stocks then
        -- Stocks is a float sum of fills: buys of 0.1988, 0.1462 and 0.0001 hold 0.34509999999999996, which the
        -- step makes 0.3451. An amount within float noise of what is held sells what is held.
        if amount - stocks > amount * 1e-9 then
          return fail(call, funds_message("stocks", amount, stocks, frozen_stocks, base))
        end
        amount = stocks
        o.Amount = amount
      end
      if market_order or price <= bid then
        local px = pg.down(bid * (1 - slip))
        if not market_order then px = math.max(price, px) end
        local value = px * amount
        fee = value * taker
        stocks = stocks - amount
        balance = balance + (value - fee)
        fees = fees + fee
        o.DealAmount, o.AvgPrice, o.Status = amount, px, CLOSED
      else
        stocks = stocks - amount
        o.frozen, o.Status = amount, PENDING
      end
    end
    return add_order(call, o, fee, nil, ...)
  end

  -- The mark price: the last close on the tick grid (docs/futures.md), nil before the first candle.
  local function mark_price()
    if idx then return (quotes(idx)) end
  end

  -- The margin free for new orders: the equity at the mark price less what positions and pending opens hold; and
  -- the two parts of the equity, the unrealized P&L and the positions' margin.
  local function available()
    local u, used = upnl(mark_price()), used_margin()
    return balance + u - used - frozen_balance, u, used
  end

  local function no_contract(call)
    return fail(call, "no contract is set: call exchange.SetContractType(\"swap\") first (or another of "
      .. FUTURES.TYPE_LIST .. ")")
  end

  -- A futures order: direction dirname (SetDirection's, or CreateOrder's side) on contract type alias. An open
  -- needs margin (price x amount x ct_val / leverage) and its fee out of the available balance; a close needs the
  -- contracts of its position that no pending close holds, and never opens the opposite position. Amounts are
  -- whole contracts of the amount step: an amount off it is refused rather than rounded.
  local function place_futures(call, side, price, amount, dirname, alias, ...)
    check_number(call, "price", price)
    check_number(call, "amount", amount)
    if not alias then return no_contract(call) end
    local d = DIRS[dirname]
    local verb = side == BUY and "Buy" or "Sell"
    if not d or d[1] ~= side then
      local want = side == BUY and "\"buy\" (open a long) or \"closesell\" (close a short)"
        or "\"sell\" (open a short) or \"closebuy\" (close a long)"
      if not dirname then
        return fail(call, "no direction is set: " .. verb .. " needs exchange.SetDirection(" .. want .. ")")
      end
      return fail(call, string.format("the direction is '%s', which %s; %s needs %s", dirname,
        d[1] == BUY and "Buy takes" or "Sell takes", verb, want))
    end
    price, amount = order_args(call, price, amount)
    if not price then return nil end
    local _, asks, bids = quotes(idx)
    local ask, bid = asks[1], bids[1]
    if not bid then return fail(call, "no price to trade at: the last close is " .. show(select(5, market.candle(idx)))) end
    local market_order = price == -1
    if not market_order then
      price = limit_price(call, side, price)
      if not price then return nil end
    end
    local a = ag.near(amount)
    if not (a > 0) or math.abs(a - amount) > 1e-9 * math.max(1, amount) then
      return fail(call, string.format("amount %s is not a whole number of amount steps of %s (contracts of %s %s)",
        show(amount), show(ag.size), show(ctv), base))
    end
    amount = a
    local offset, dir = d[2], d[3]
    local inst, exp = contract_now(alias)
    local o = { Time = t_now, Price = market_order and -1 or price, Amount = amount, DealAmount = 0.0, AvgPrice = 0.0,
                Type = side, Offset = offset, dir = dir, ContractType = alias, exp = exp, inst = inst }
    local notional = amount * ctv * (market_order and bid or price)
    if notional < min_notional then
      return fail(call, string.format("order value %s %s is below the minimum of %s %s (min_notional)",
        show(notional), quote, show(min_notional), quote))
    end
    local px             -- an immediate fill's price: a market order, or a limit through the touch
    if side == BUY and (market_order or price >= ask) then
      px = pg.up(ask * (1 + slip))
      if not market_order then px = math.min(price, px) end
    elseif side == SELL and (market_order or price <= bid) then
      px = pg.down(bid * (1 - slip))
      if not market_order then px = math.max(price, px) end
    end
    if offset == 1 then
      local p = position(o.inst, dir)
      local held, frozen = p and p.amount or 0.0, p and p.frozen or 0.0
      if amount - (held - frozen) > ag.size / 2 then
        return fail(call, string.format("closes %s of the %s %s position, which holds %s (%s in pending close "
          .. "orders): a close never opens the opposite position", show(amount), SIDE_NAMES[dir], currency .. "." .. alias,
          show(held), show(frozen)))
      end
    else
      local at = px or price
      local need = at * amount * ctv / lev + at * amount * ctv * (px and taker or maker)
      local avail, u, used = available()
      if need > avail then
        return fail(call, string.format("insufficient margin: needs %s %s (margin at %dx and fee), has %s %s "
          .. "available (equity %s, %s held by positions, %s frozen in orders)", show(need), quote, lev,
          show(math.max(avail, 0)), quote, show(balance + u), show(used), show(frozen_balance)))
      end
      if not px then o.frozen = need end
    end
    local fee, pnl = 0.0, nil
    if px then
      fee, pnl = futures_fill(o, px, taker)
    else
      o.Status, o.frozen = PENDING, o.frozen or 0.0
    end
    return add_order(call, o, fee, pnl, ...)
  end

  local function order_of(call, id)
    if type(id) ~= "number" and type(id) ~= "string" then
      raise(string.format("exchange.%s: id must be a number, got %s", call, type(id)))
    end
    local o = orders[math.tointeger(tonumber(id)) or false]
    if not o then log(string.format("exchange.%s: no order with id %s", call, show(id))) end
    return o
  end

  -- The n records ending at candle last, in a fresh array. The record tables themselves are made once per candle
  -- and shared by every call that returns them (a year of one-minute bars with GetRecords() on each is 52 million
  -- fresh tables otherwise, ten times the cost); the cache keeps the largest window asked for.
  -- Candle j as the exchange shows it: its prices on the tick grid (the nearest tick), as the ticker's.
  local function candle(j)
    local t, op, hi, lo, cl, vol = market.candle(j)
    local near = pg.near
    return t, near(op), near(hi), near(lo), near(cl), vol
  end

  local function record(j)
    local t, op, hi, lo, cl, vol = candle(j)
    return { Time = t, Open = op, High = hi, Low = lo, Close = cl, Volume = vol }
  end

  local function records(last, n)
    local first = last - n + 1
    if first < 1 then first = 1 end
    if last < rec_lo or first > rec_hi + 1 then rec, rec_lo, rec_hi = {}, first, first - 1 end
    for j = rec_hi + 1, last do rec[j] = record(j) end
    for j = first, rec_lo - 1 do rec[j] = record(j) end
    if last > rec_hi then rec_hi = last end
    if first < rec_lo then rec_lo = first end
    if last - first + 1 > rec_keep then rec_keep = last - first + 1 end
    while rec_lo <= rec_hi - rec_keep do
      rec[rec_lo] = nil
      rec_lo = rec_lo + 1
    end
    return slice(rec, first, last)
  end

  -- Records of a period that is a multiple of the market's (pms ms): the bars that have closed by now, built from
  -- the market's candles; buckets start at multiples of the period since the epoch (weeks: on Mondays), UTC. Each
  -- period's bars are kept and extended as candles close, so a call costs the candles that closed since the last
  -- call and the copy of the `limit` bars it returns, as GetRecords of the base period does: the record tables are
  -- shared between calls the same way.
  --
  -- An aggregate folds the candles from index `first` on: `bars[lo..hi]` are finished bars (a candle of a later
  -- bucket has been folded), `cur` the bar being folded, finished too once its period has ended by now. When
  -- `first` is not the market's first candle and candle first-1 falls in the same bucket, or when the market's
  -- first candle starts after its bucket does, the first bar lacks candles (`skip`): it is dropped. `whole` says the bars go back to the market's first candle, none trimmed.
  local aggs = {}

  local function bucket_of(a, ct) return (ct - a.off) // a.pms * a.pms + a.off end

  local function agg_new(pms, first)
    local old = aggs[pms]
    local a = { pms = pms, off = pms % WEEK == 0 and MONDAY or 0, bars = {}, lo = 1, hi = 0, upto = first - 1,
                keep = old and old.keep or 0, whole = first == 1 }
    local t1 = market.candle(first)
    if first > 1 then
      a.skip = bucket_of(a, (market.candle(first - 1))) == bucket_of(a, t1)
    else                -- the market's first candle: a bar it starts in the middle of lacks the candles before
      a.skip = bucket_of(a, t1) ~= t1
    end
    aggs[pms] = a
    return a
  end

  local function agg_fold(a, last)
    local cur = a.cur
    for j = a.upto + 1, last do
      local ct, op, hi, lo, cl, vol = candle(j)
      local b = bucket_of(a, ct)
      if cur and cur.Time == b then
        if hi > cur.High then cur.High = hi end
        if lo < cur.Low then cur.Low = lo end
        cur.Close = cl
        cur.Volume = cur.Volume + vol
      else
        if cur then
          if a.skip then a.skip = false else a.hi = a.hi + 1; a.bars[a.hi] = cur end
        end
        cur = { Time = b, Open = op, High = hi, Low = lo, Close = cl, Volume = vol }
      end
    end
    a.cur, a.upto = cur, last
  end

  local function aggregate(pms, limit)
    local a = aggs[pms]
    local span = (math.max(limit, a and a.keep or 0) + 2) * (pms // base_ms)   -- candles enough for the bars kept
    if not a or idx < a.upto or idx - a.upto > span then a = agg_new(pms, 1 + math.max(0, idx - span)) end
    agg_fold(a, idx)
    local cur = a.cur
    local done = cur and not a.skip and cur.Time + pms <= t_now
    local have = a.hi - a.lo + 1 + (done and 1 or 0)
    if have < limit and not a.whole then     -- more history than folded: fold again from further back
      a = agg_new(pms, 1 + math.max(0, idx - (limit + 2) * (pms // base_ms)))
      agg_fold(a, idx)
      cur = a.cur
      done = cur and not a.skip and cur.Time + pms <= t_now
    end
    if limit > a.keep then a.keep = limit end
    while a.hi - a.lo + 1 > a.keep do       -- what no call has asked for goes
      a.bars[a.lo] = nil
      a.lo = a.lo + 1
      a.whole = false
    end
    local n = done and limit - 1 or limit
    local out = table.move(a.bars, math.max(a.lo, a.hi - n + 1), a.hi, 1, {})
    if done then out[#out + 1] = cur end
    return json_array(out)
  end

  if keep and not config_error then
    if keep.reset then save() else restore() end
    refreeze()
  end
  holdings(math.mininteger)     -- what the account starts with

  -- The public calls. Each is also callable with a colon (exchange:GetTicker()), a common slip when porting.
  local api = {}

  function api.GetName() return s.name end

  function api.GetLabel() return s.label end

  function api.GetCurrency() return currency end

  -- GetUSDCNY() -> the rate the config's exchange.usd_cny gives (a paper exchange has no source of its own), or nil
  -- and a line saying so when there is none.
  function api.GetUSDCNY()
    if s.usd_cny > 0 then return s.usd_cny end
    return fail("GetUSDCNY", "no USD/CNY rate is configured: set exchange.usd_cny in the config")
  end

  -- GetFee() -> {Buy, Sell, Maker, Taker}: the fee rates the paper exchange charges. The platform's reference no
  -- longer documents GetFee; the library's strategies read {Buy, Sell} in percent (Buy-=fee Sell+=fee), the
  -- older API's shape: those are the taker rate (what an order that fills at once pays) in percent, and Maker and
  -- Taker the rates as fractions (the config's maker_fee, taker_fee).
  function api.GetFee()
    return { Buy = taker * 100, Sell = taker * 100, Maker = maker, Taker = taker }
  end

  -- SetTimeout(ms): the longest a REST call may take before it returns nil. The paper exchange's calls answer from
  -- memory without waiting (a rest: market's data comes from its poller's thread, whose timeout= bounds each of
  -- its requests), so every call already returns within any timeout: the value is checked, and nothing else
  -- needs doing.
  function api.SetTimeout(ms)
    if type(ms) ~= "number" or not (ms > 0 and ms <= 3600000) then
      raise("exchange.SetTimeout: the timeout must be a number of ms above 0, at most 3600000, got " .. show(ms))
    end
  end

  -- SetBase(url) and GetBase(): the base address of the venue's API, which the platform's strategies switch
  -- (spot and futures hosts, a testnet) around raw IO("api", ...) calls. The paper exchange has no venue: it keeps
  -- the address for GetBase and sends nothing there (IO("api", ...) still raises), and "" (its start) means no
  -- address. A venue (docs/platform.md) will send its requests there.
  local base_url = ""
  function api.SetBase(url)
    if type(url) ~= "string" or #url > 2048 or url:find("[%c%s]") then
      raise("exchange.SetBase: expects a URL string (at most 2048 bytes, no spaces), got " .. show(url))
    end
    local scheme = url:match("^(%a+)://[^/?#]+")
    if url ~= "" and not (scheme and (scheme:lower() == "http" or scheme:lower() == "https")) then
      raise("exchange.SetBase: " .. show(url) .. " is not an http:// or https:// URL with a host (\"\" clears it)")
    end
    base_url = (url:gsub("/+$", ""))
  end
  function api.GetBase() return base_url end

  -- GetPeriod() -> the period of GetRecords() in seconds: exchange.period, else the market's.
  function api.GetPeriod()
    if s.period > 0 then return math.tointeger(s.period) end
    return info.period and info.period // 1000
  end

  function api.GetBaseCurrency() return base end

  function api.GetQuoteCurrency() return quote end

  -- The older API's smallest order amount and price step: the amount step and the tick.
  function api.GetMinStock() return ag.size end

  function api.GetMinPrice() return pg.size end

  -- GetTicker([symbol]) -> {Symbol, Time, Open, High, Low, Sell, Buy, Last, Volume}
  function api.GetTicker(symbol)
    sync()
    if not check_symbol("GetTicker", symbol) then return nil end
    if live then
      -- the venue's 24-hour ticker (Binance's GET /api/v3/ticker/24hr)
      local v = snapshot("GetTicker", "ticker")
      if not v then return nil end
      return {
        Symbol = currency, Time = math.tointeger(v.closeTime), Open = price(v.openPrice), High = price(v.highPrice),
        Low = price(v.lowPrice), Sell = price(v.askPrice), Buy = price(v.bidPrice), Last = price(v.lastPrice),
        Volume = price(v.volume),
      }
    end
    if not idx then return no_candle("GetTicker") end
    local _, op, hi, lo, _, vol = market.candle(idx)
    local last, asks, bids = quotes(idx)
    return {
      Symbol = currency, Time = t_now, Open = pg.near(op), High = pg.near(hi), Low = pg.near(lo),
      Sell = asks[1], Buy = bids[1] or 0.0, Last = last, Volume = vol,
    }
  end

  -- GetDepth([symbol]) -> {Time, Asks = {{Price, Amount}...} ascending, Bids = ... descending}
  function api.GetDepth(symbol)
    sync()
    if not check_symbol("GetDepth", symbol) then return nil end
    if live then
      -- the venue's order book (GET /api/v3/depth): bids descending, asks ascending, as the platform's
      local v, at = snapshot("GetDepth", "depth")
      if not v then return nil end
      return { Time = at, Asks = levels(v.asks), Bids = levels(v.bids) }
    end
    if not idx then return no_candle("GetDepth") end
    local _, _, _, _, _, vol = market.candle(idx)
    local amount = ag.down(vol / (2 * LEVELS))
    local _, ask_prices, bid_prices = quotes(idx)
    local asks, bids = {}, {}
    for k = 1, LEVELS do
      asks[k] = { Price = ask_prices[k], Amount = amount }
      if bid_prices[k] then bids[k] = { Price = bid_prices[k], Amount = amount } end
    end
    return { Time = t_now, Asks = asks, Bids = json_array(bids) }
  end

  -- GetRecords([symbol] [, period] [, limit]), or GetRecords(period [, limit]); period in seconds.
  function api.GetRecords(symbol, period, limit)
    if type(symbol) == "number" then symbol, period, limit = nil, symbol, period end
    if period ~= nil then check_number("GetRecords", "period", period) end
    if period == nil and s.period > 0 then period = s.period end
    if limit ~= nil then check_number("GetRecords", "limit", limit) end
    sync()
    if not check_symbol("GetRecords", symbol) then return nil end
    local n = bar_len
    if limit ~= nil then
      n = math.tointeger(limit)
      if not n or n < 1 then return fail("GetRecords", "limit must be a whole number >= 1, got " .. show(limit)) end
    end
    if live and not fresh("GetRecords", "klines") then return nil end
    if not idx then return no_candle("GetRecords") end
    base_ms = base_ms or market.info().period
    if period == nil or period * 1000 == base_ms then return records(idx, n) end
    local pms = finite(period) and math.tointeger(period * 1000)
    if not pms or pms <= 0 or pms % base_ms ~= 0 then
      return fail("GetRecords", string.format("period %s s is not a multiple of the market's period of %s s",
        show(period), show(base_ms / 1000)))
    end
    return aggregate(pms, n)
  end

  -- GetAssets() -> {{Currency, Amount, FrozenAmount}, ...}: the base currency, then the quote.
  function api.GetAssets()
    sync()
    if futures then
      return json_array({ { Currency = quote, Amount = math.max(available(), 0.0), FrozenAmount = frozen_balance } })
    end
    return json_array({
      { Currency = base, Amount = stocks, FrozenAmount = frozen_stocks },
      { Currency = quote, Amount = balance, FrozenAmount = frozen_balance },
    })
  end

  -- GetTickers() -> the tickers of every pair the exchange trades: its one pair's.
  function api.GetTickers()
    local t = api.GetTicker()
    return t and json_array({ t })
  end

  -- GetTrades([symbol]) -> the market's recent trades, oldest first. A candle file holds no trades: each of the last
  -- TRADES candles stands for one trade at its close, of its volume, a buy when it closed at or above its open.
  function api.GetTrades(symbol)
    sync()
    if not check_symbol("GetTrades", symbol) then return nil end
    if live and not fresh("GetTrades", "klines") then return nil end
    if not idx then return no_candle("GetTrades") end
    local out = {}
    for j = math.max(1, idx - TRADES + 1), idx do
      local t, op, _, _, cl, vol = market.candle(j)
      base_ms = base_ms or market.info().period
      out[#out + 1] = { Id = j, Time = t + base_ms - 1, Price = pg.near(cl), Amount = vol,
                        Type = cl >= op and BUY or SELL }
    end
    return json_array(out)
  end

  -- GetAccount() -> {Balance, FrozenBalance, Stocks, FrozenStocks}
  function api.GetAccount()
    sync()
    if futures then
      -- Balance: the margin free for new orders; Equity: the wallet and the unrealized P&L at the mark price
      local avail, u = available()
      return { Balance = math.max(avail, 0.0), FrozenBalance = frozen_balance, Stocks = 0.0, FrozenStocks = 0.0,
               Equity = balance + u, UPnL = u }
    end
    return { Balance = balance, FrozenBalance = frozen_balance, Stocks = stocks, FrozenStocks = frozen_stocks }
  end

  -- Buy(price, amount) / Sell(price, amount) -> order id; price -1 is a market order (a market buy's amount is
  -- quote currency to spend, a market sell's is base currency).
  function api.Buy(price, amount, ...)
    if futures then return place_futures("Buy", BUY, price, amount, direction, contract, ...) end
    return place("Buy", BUY, price, amount, ...)
  end

  function api.Sell(price, amount, ...)
    if futures then return place_futures("Sell", SELL, price, amount, direction, contract, ...) end
    return place("Sell", SELL, price, amount, ...)
  end

  -- GetOrders([symbol]) -> the pending orders, oldest first; an empty array when there are none.
  function api.GetOrders(symbol)
    sync()
    local ok, kind = check_symbol("GetOrders", symbol)
    if not ok then return nil end
    local out = {}
    local inst = kind and contract_now(kind)
    for i = 1, #open do
      if not inst or open[i].inst == inst then out[#out + 1] = copy(open[i]) end
    end
    return json_array(out)
  end

  -- CreateOrder(symbol, side, price, amount, ...): the current API's order call; side "buy" or "sell" (a spot
  -- exchange's sides), with options after a ';' as JSON (only {"timeInForce": "GTC"}, what every order here is).
  local SIDES = { buy = BUY, sell = SELL }
  function api.CreateOrder(symbol, side, price, amount, ...)
    if type(side) ~= "string" then raise("exchange.CreateOrder: side must be a string such as \"buy\", got " .. type(side)) end
    local name, options = side:match("^([^;]*);(.*)$")
    name = name or side
    if not SIDES[name] and not DIRS[name] then
      raise(string.format("exchange.CreateOrder: side '%s' is not one of buy, sell, closebuy, closesell", name))
    end
    if not futures and not SIDES[name] then
      return fail("CreateOrder", string.format("side '%s' closes a futures position: this is a spot exchange "
        .. "(futures need exchange.kind = \"futures\" in the config, docs/futures.md)", name))
    end
    if options then
      local ok, o = pcall(json.decode, options)
      if not ok or type(o) ~= "table" or next(o, next(o)) ~= nil or (next(o) ~= nil and o.timeInForce ~= "GTC") then
        raise("exchange.CreateOrder: the options of side '" .. side .. "' are not {\"timeInForce\":\"GTC\"}, the "
          .. "only ones the paper exchange has (its orders rest until filled or canceled)")
      end
    end
    check_number("CreateOrder", "price", price)
    sync()
    local ok, kind = check_symbol("CreateOrder", symbol ~= "" and symbol or nil)
    if not ok then return nil end
    if futures then
      return place_futures("CreateOrder", DIRS[name][1], price, amount, name, kind or contract, ...)
    end
    return place("CreateOrder", SIDES[name], price, amount, ...)
  end

  -- GetHistoryOrders([symbol] [, since] [, limit]) or GetHistoryOrders(since [, limit]): the orders that are no
  -- longer pending (filled or canceled) placed at or after since (ms), the latest limit (default 100) of those,
  -- oldest first. A live bot's account keeps the latest 1000 order ids across restarts.
  function api.GetHistoryOrders(symbol, since, limit)
    if type(symbol) == "number" then symbol, since, limit = nil, symbol, since end
    if since ~= nil then check_number("GetHistoryOrders", "since", since) end
    if limit ~= nil then check_number("GetHistoryOrders", "limit", limit) end
    sync()
    local ok, kind = check_symbol("GetHistoryOrders", symbol)
    if not ok then return nil end
    local n = 100
    if limit ~= nil then
      n = math.tointeger(limit)
      if not n or n < 1 then return fail("GetHistoryOrders", "limit must be a whole number >= 1, got " .. show(limit)) end
    end
    local out = {}
    for id = next_id - 1, 1, -1 do
      local o = orders[id]
      if o and o.Status ~= PENDING and (not since or o.Time >= since) and (not kind or o.ContractType == kind) then
        out[#out + 1] = copy(o)
        if #out == n then break end
      end
    end
    for i = 1, #out // 2 do out[i], out[#out + 1 - i] = out[#out + 1 - i], out[i] end
    return json_array(out)
  end

  -- GetOrder(id) -> {Id, Time, Price, Amount, DealAmount, AvgPrice, Status, Type, Symbol}
  function api.GetOrder(id)
    sync()
    local o = order_of("GetOrder", id)
    return o and copy(o) or nil
  end

  -- CancelOrder(id) -> true when the order was pending and is now canceled, its frozen funds returned.
  function api.CancelOrder(id, ...)
    sync()
    local o = order_of("CancelOrder", id)
    if not o then return false end
    if o.Status ~= PENDING then
      log(string.format("exchange.CancelOrder: order %d is not pending (it is %s)", o.Id, STATUS_NAME[o.Status]))
      return false
    end
    o.Status = CANCELED
    if not futures then      -- a futures order's frozen margin was never taken from the wallet
      if o.Type == BUY then balance = balance + o.frozen else stocks = stocks + o.frozen end
    end
    for i = 1, #open do
      if open[i] == o then
        table.remove(open, i)
        break
      end
    end
    refreeze()
    save()
    if order_lines then say("Cancel", o.Id, ...) end
    return true
  end

  -- Log(LOG_TYPE_BUY | LOG_TYPE_SELL, price, amount, ...) / Log(LOG_TYPE_CANCEL, id, ...): an order line for an
  -- order that was not placed (a signal, a mark), as the platform's.
  local LOG_NAMES = { [0] = "Buy", [1] = "Sell", [2] = "Cancel" }
  function api.Log(kind, ...)
    local name = LOG_NAMES[kind]
    if not name then
      raise("exchange.Log: the type must be LOG_TYPE_BUY, LOG_TYPE_SELL or LOG_TYPE_CANCEL, got " .. show(kind))
    end
    if order_lines then say(name, ...) end
  end

  -- SetPrecision(price_digits, amount_digits): the tick and the amount step become 10^-digits, as the platform's
  -- (which truncates to that many decimals).
  function api.SetPrecision(pd, ad)
    for _, d in ipairs({ { "price", pd }, { "amount", ad } }) do
      if math.type(d[2]) ~= "integer" and not (type(d[2]) == "number" and math.tointeger(d[2])) or d[2] < 0
        or d[2] > 12 then
        raise(string.format("exchange.SetPrecision: the %s precision must be a whole number of decimals from 0 to "
          .. "12, got %s", d[1], show(d[2])))
      end
    end
    local step = 10.0 ^ -math.tointeger(ad)
    if futures and step ~= ag.size and (#plist > 0 or #open > 0) then
      -- positions and pending orders are whole steps of the old grid: a new step would round them
      fail("SetPrecision", string.format("the amount step of a futures account with positions or pending orders "
        .. "stays %s (asked %s): close them first", show(ag.size), show(step)))
      step = ag.size
    end
    pg, ag, q_idx = grid(10.0 ^ -math.tointeger(pd)), grid(step), nil
    rec, rec_lo, rec_hi = {}, 1, 0          -- the records made on the old grid
    for k in pairs(aggs) do aggs[k] = nil end
  end

  -- The digits of a grid step: 0.01 -> 2, 0.5 -> 1, 5 -> 0.
  local function digits(size)
    local d = 0
    while d < 12 and math.abs(size * 10 ^ d - math.floor(size * 10 ^ d + 0.5)) > 1e-9 do d = d + 1 end
    return d
  end

  -- GetMarkets() -> {[currency] = {Symbol, BaseAsset, QuoteAsset, TickSize, AmountSize, PricePrecision,
  -- AmountPrecision, MinQty, MaxQty, MinNotional, MaxNotional}}: the one market this exchange trades.
  function api.GetMarkets()
    if futures then      -- one per contract type, with the contract's value
      local out = {}
      for _, kind in ipairs(FUTURES.TYPE_ORDER) do
        out[currency .. "." .. kind] = {
          Symbol = currency .. "." .. kind, BaseAsset = base, QuoteAsset = quote, TickSize = pg.size,
          AmountSize = ag.size, PricePrecision = digits(pg.size), AmountPrecision = digits(ag.size), MinQty = ag.size,
          MaxQty = 1e15, MinNotional = min_notional, MaxNotional = 1e15, CtVal = ctv, CtValCcy = base,
        }
      end
      return out
    end
    return { [currency] = {
      Symbol = currency, BaseAsset = base, QuoteAsset = quote, TickSize = pg.size, AmountSize = ag.size,
      PricePrecision = digits(pg.size), AmountPrecision = digits(ag.size), MinQty = ag.size, MaxQty = 1e15,
      MinNotional = min_notional, MaxNotional = 1e15,
    } }
  end

  -- ---- futures (docs/futures.md): on a spot exchange each call logs why not and returns nil ----

  local function spot_refuses(call)
    if futures then return false end
    fail(call, "this is a spot exchange; futures need exchange.kind = \"futures\" in the config (docs/futures.md)")
    return true
  end

  -- SetContractType(type) -> {ContractType, Symbol, InstrumentID, CtVal, Expiry}: the contract Buy, Sell and
  -- GetPosition trade from now on. A dated type names the contract of its kind at the time of each order: after
  -- this week's expires, "this_week" is the next one.
  function api.SetContractType(kind)
    if spot_refuses("SetContractType") then return nil end
    if type(kind) ~= "string" then
      raise("exchange.SetContractType: the contract type must be a string such as \"swap\", got " .. type(kind))
    end
    sync()
    local pair, k = kind:match("^(.-)%.([%w_]+)$")       -- the current API's symbol, BTC_USDT.swap
    if pair == currency then kind = k end
    if not FUTURES.TYPES[kind] then
      return fail("SetContractType", string.format("unknown contract type '%s' (the paper exchange has %s)", kind,
        FUTURES.TYPE_LIST))
    end
    contract = kind
    local inst, exp = contract_now(kind)
    return { ContractType = kind, Symbol = currency .. "." .. kind, InstrumentID = inst, CtVal = ctv, Expiry = exp }
  end

  function api.GetContractType()
    if spot_refuses("GetContractType") then return nil end
    return contract
  end

  -- SetDirection("buy" | "sell" | "closebuy" | "closesell"): what Buy and Sell do next (open long, open short,
  -- close long with Sell, close short with Buy).
  function api.SetDirection(d)
    if spot_refuses("SetDirection") then return nil end
    if type(d) ~= "string" then
      raise("exchange.SetDirection: the direction must be a string such as \"buy\", got " .. type(d))
    end
    if not DIRS[d] then
      return fail("SetDirection", "the direction must be one of buy, sell, closebuy, closesell, got '" .. d .. "'")
    end
    direction = d
    return true
  end

  -- SetMarginLevel(n) or SetMarginLevel(symbol, n): the leverage, 1 to the config's max_leverage, of every
  -- position and order of the exchange (cross margin). With positions open, the margin they hold at n must fit in
  -- the equity.
  function api.SetMarginLevel(a, b)
    if spot_refuses("SetMarginLevel") then return nil end
    local n = a
    if b ~= nil or type(a) == "string" then
      if not check_symbol("SetMarginLevel", a) then return nil end
      n = b
    end
    if type(n) ~= "number" then raise("exchange.SetMarginLevel: the level must be a number, got " .. type(n)) end
    sync()
    local level = math.tointeger(n)
    if not level or level < 1 or level > s.max_leverage then
      return fail("SetMarginLevel", string.format("the level must be a whole number from 1 to %s (max_leverage), got %s",
        show(s.max_leverage), show(n)))
    end
    -- the positions and the pending opens hold their margin at the new level: it must fit in the equity
    local old = lev
    lev = level
    local u, used, frozen = upnl(mark_price()), used_margin(), 0.0
    local refrozen = {}
    for i = 1, #open do
      local o = open[i]
      if o.Offset == 0 then
        refrozen[i] = o.Price * o.Amount * ctv * (1 / lev + maker)
        frozen = frozen + refrozen[i]
      end
    end
    if used + frozen > balance + u then
      lev = old
      return fail("SetMarginLevel", string.format("at %dx the positions and pending opens hold %s %s of margin, "
        .. "more than the equity %s %s; the level stays %dx", level, show(used + frozen), quote, show(balance + u),
        quote, old))
    end
    for i, f in pairs(refrozen) do open[i].frozen = f end
    refreeze()
    save()
    return true
  end

  local function position_view(p, mark)
    local alias = alias_at(p, t_now)
    return { MarginLevel = lev, Amount = p.amount, FrozenAmount = p.frozen, Price = p.price,
             Profit = mark and sign(p) * (mark - p.price) * p.amount * ctv or 0.0, Type = p.dir,
             ContractType = alias, Margin = margin_of(p), Symbol = currency .. "." .. alias, InstrumentID = p.inst }
  end

  -- GetPositions([symbol]) -> every open position, or those of symbol's contract type (BTC_USDT.swap); an empty
  -- array when there are none.
  function api.GetPositions(symbol)
    if spot_refuses("GetPositions") then return nil end
    sync()
    local ok, kind = check_symbol("GetPositions", symbol ~= "" and symbol or nil)
    if not ok then return nil end
    local out, mark = {}, mark_price()
    local inst = kind and contract_now(kind)
    for i = 1, #plist do
      if not inst or plist[i].inst == inst then out[#out + 1] = position_view(plist[i], mark) end
    end
    return json_array(out)
  end

  -- GetPosition() -> the positions of the contract SetContractType set (the older API's call); every position
  -- before a contract is set (a library strategy reads its positions at load, before it sets one, under _C, which
  -- a nil would retry forever).
  function api.GetPosition()
    if spot_refuses("GetPosition") then return nil end
    return api.GetPositions(contract and currency .. "." .. contract or nil)
  end

  -- GetFundings([symbol]) -> {{Time, Rate, Interval, Symbol}}: the latest funding of the swap (the config's
  -- funding_rate, every funding_interval).
  function api.GetFundings(symbol)
    if spot_refuses("GetFundings") then return nil end
    sync()
    local ok, kind = check_symbol("GetFundings", symbol ~= "" and symbol or nil)
    if not ok then return nil end
    if kind and kind ~= "swap" then
      return fail("GetFundings", "a " .. kind .. " contract has no funding: only the swap (perpetual) does")
    end
    local iv = math.tointeger(s.funding_interval * 1000)
    local at, rate = t_now // iv * iv, s.funding_rate
    if idx then       -- the rate of the candle the latest funding time fell in, when the market gives one
      local j = market.at(at) or 0
      local fr = j >= 1 and select(7, market.candle(j))
      if fr then rate = fr end
    end
    return json_array({ { Time = at, Rate = rate, Interval = iv, Symbol = currency .. ".swap" } })
  end

  local DISPLAY_CANDLES = 1000      -- a report's candles: at most this many buckets of the replay's bars

  -- A replay's results from `from` (ms) to now: the equity at every bar's close since the bar closed at `from`,
  -- the market's candles in at most DISPLAY_CANDLES buckets, the fills and their figures (stdlib/metrics.lua).
  local function results(from)
    local period = market.info().period
    local j0, j1 = math.tointeger(from) and market.at(from) or 1, idx or 0
    -- a futures account's equity is at the mark price, the close on the tick grid
    local et, ev, held, first, last = market.equity(j0, j1, hk, hc, hq, hh, futures and pg.r or nil,
      futures and pg.size or nil)
    local bt, bo, bh, bl, bc = market.buckets(j0, j1, DISPLAY_CANDLES)
    local equity = { time = json_array(et), value = json_array(ev) }
    local start = first and hc[1] + hq[1] * first or hc[1]
    local f = METRICS.series(equity, start, from or 0, t_now, period)
    local coins = not futures and hq[1] or 0.0
    METRICS.trade_stats(f, METRICS.round_trips(trades, coins, first))
    f.trades, f.fees = #trades, fees
    f.exposure = #ev > 0 and held / #ev or nil
    f.buy_hold_return = first and first > 0 and last / first - 1 or nil
    return {
      symbol = currency, quote = quote, period = period, trades = json_array(trades), equity = equity, figures = f,
      candles = { time = json_array(bt), open = json_array(bo), high = json_array(bh), low = json_array(bl),
                  close = json_array(bc) },
    }
  end

  -- For the host's replay summary: counts, balances and the account's value at the current Last; in a replay, its
  -- results since `from` (ms).
  function api._summary(from)
    sync()
    local sm = api._totals()
    if recording then
      for key, v in pairs(results(from)) do sm[key] = v end
    end
    return sm
  end

  function api._totals()
    local price
    if idx then
      price = select(5, market.candle(idx))
    else
      price = select(2, market.candle(1)) or 0.0
    end
    if futures then     -- value: the equity at the mark price; stocks: the net position in base coins
      price = pg.near(price)
      local u, net, views, held = upnl(price), 0.0, {}, {}
      for i, p in ipairs(plist) do
        net = net + sign(p) * p.amount * ctv
        views[i] = position_view(p, price)
        if i <= 4 then
          held[i] = string.format("%s %s %s at %s", SIDE_NAMES[p.dir], show(p.amount), views[i].Symbol, show(p.price))
        end
      end
      if #plist > 4 then held[5] = "and " .. (#plist - 4) .. " more (--json has them all)" end
      return {
        orders = n_orders, fills = n_fills, fees = fees, balance = balance, stocks = net, frozen_balance = frozen_balance,
        frozen_stocks = 0.0, start_value = s.balance, value = balance + u, pnl = balance + u - s.balance,
        futures = { realized = realized, unrealized = u, fees = fees, funding = funding, liquidations = liquidations,
                    forfeit = forfeit, positions = json_array(views) },
        line = string.format("futures: realized %.4f, unrealized %.4f, funding %.4f, liquidations %d; open: %s",
          realized, u, funding, liquidations, #held > 0 and table.concat(held, ", ") or "none"),
      }
    end
    local value = balance + frozen_balance + (stocks + frozen_stocks) * price
    local start_value = s.balance + s.stocks * price
    return {
      orders = n_orders, fills = n_fills, fees = fees,
      balance = balance, stocks = stocks, frozen_balance = frozen_balance, frozen_stocks = frozen_stocks,
      start_value = start_value, value = value, pnl = value - start_value,
    }
  end

  -- Encode(...) and HMAC(algo, outputFormat, data, key): the global Encode (runtime/lua/crypto.c). The platform's
  -- member versions also take "{{accesskey}}" and "{{secretkey}}" for the account's keys: a paper exchange has
  -- none, and hashing the template text itself would sign with a wrong key in silence.
  local function no_templates(call, ...)
    for i = 1, select("#", ...) do
      local v = select(i, ...)
      if type(v) == "string" and (v:find("{{accesskey}}", 1, true) or v:find("{{secretkey}}", 1, true)) then
        raise("exchange." .. call .. ": " .. v .. " names a key of the account, and the paper exchange has no keys")
      end
    end
  end

  function api.Encode(...)
    no_templates("Encode", ...)
    return Encode(...)
  end

  function api.HMAC(algo, format, data, key)
    no_templates("HMAC", data, key)
    return Encode(algo, "raw", format, data, "raw", key)
  end

  -- Go(method, ...) -> a routine whose wait([timeout]) returns what exchange[method](...) returned. The paper
  -- exchange does no I/O (a rest market's data is fetched by its own thread), so the call runs at once, here, and
  -- wait returns its result whatever the timeout; the result is taken once, as on the platform.
  local routines = 0
  function api.Go(method, ...)
    -- through the exchange object itself, so SetRate and GetRawJSON apply as to a direct call
    local f = type(method) == "string" and method ~= "Go" and api[method] and rawget(E, method)
    if not f or method:sub(1, 1) == "_" then
      raise("exchange.Go: method must name a call of the exchange such as \"GetTicker\" or \"Buy\", got "
        .. (type(method) == "string" and "'" .. method .. "'" or type(method)))
    end
    routines = routines + 1
    local id, result, taken = routines, table.pack(f(...)), false
    local g = {}
    function g.wait(a, b)
      local timeout = a
      if a == g then timeout = b end
      if timeout ~= nil and type(timeout) ~= "number" then
        raise("wait: timeout must be a number of ms, got " .. type(timeout))
      end
      if taken then raise(string.format("wait: routine %d already finished: its result was taken", id)) end
      taken = true
      return table.unpack(result, 1, result.n)
    end
    return g
  end

  -- SetMaxBarLen(n): how many records GetRecords returns without a limit (100 until set).
  function api.SetMaxBarLen(n)
    if math.type(n) ~= "integer" and not (type(n) == "number" and math.tointeger(n)) or n < 1 or n > 1e6 then
      raise("exchange.SetMaxBarLen: n must be a whole number from 1 to 1000000, got " .. show(n))
    end
    bar_len = math.tointeger(n)
  end

  -- GetRawJSON() -> the JSON text of the last data call's answer: the venue's own body for GetTicker and GetDepth
  -- on a rest market, else the result as the platform shapes it; nil before any.
  function api.GetRawJSON()
    if type(raw) == "string" then return raw end
    return raw ~= nil and json.encode(raw) or nil
  end

  -- SetCurrency(pair) and IO("currency", pair): the exchange trades one pair, its market's. Switching to it is
  -- nothing to do; another pair needs an exchange of its own (the config's exchanges): that raises, as every IO
  -- command but "currency" does ("api" and the venues' own commands need a venue), rather than go on in silence.
  function api.SetCurrency(pair)
    if type(pair) ~= "string" then raise("exchange.SetCurrency: pair must be a string such as \"BTC_USDT\", got " .. type(pair)) end
    if pair ~= currency then
      raise(string.format("exchange.SetCurrency: this exchange trades %s, on its market only; %s needs an exchange "
        .. "of its own: add one to the config's exchanges (docs/exchange.md)", currency, pair))
    end
  end

  function api.IO(k, ...)
    if k == "currency" then return api.SetCurrency(...) end
    if k == "api" then
      raise("exchange.IO(\"api\", ...) sends a request to a venue's own API: the paper exchange has no venue to "
        .. "send it to" .. (base_url ~= "" and " (its base address " .. base_url .. " names none)" or "")
        .. " (docs/platform.md)")
    end
    raise(string.format("exchange.IO: %s is not a command of the paper exchange (it has \"currency\"; the venues' "
      .. "own commands need a venue: docs/platform.md)", type(k) == "string" and "'" .. k .. "'" or show(k)))
  end

  -- SetRate(n): every price the exchange shows is multiplied by n, and the prices of Buy and Sell are divided by
  -- it (the platform's currency conversion, such as USD to CNY); 1 turns it off. Balances and the order lines stay
  -- in the quote currency. GetRate() -> n.
  function api.SetRate(n)
    if type(n) ~= "number" or not (finite(n) and n > 0) then
      raise("exchange.SetRate: the rate must be a finite number > 0 (1: no conversion), got " .. show(n))
    end
    rate = n + 0.0
  end

  function api.GetRate() return rate end

  local function scaled(t, keys)
    local c = {}
    for k, v in pairs(t) do c[k] = v end
    for _, k in ipairs(keys) do
      if type(c[k]) == "number" and c[k] ~= -1 then c[k] = c[k] * rate end
    end
    return c
  end
  local function each(list, f)
    local out = {}
    for i, v in ipairs(list) do out[i] = f(v) end
    return json_array(out)
  end
  local TICKER, RECORD, ORDER = { "Open", "High", "Low", "Sell", "Buy", "Last" },
    { "Open", "High", "Low", "Close" }, { "Price", "AvgPrice" }
  local function ticker(t) return scaled(t, TICKER) end
  local function order(o) return scaled(o, ORDER) end
  local function level(l) return scaled(l, { "Price" }) end
  local CONVERT = {
    GetTicker = ticker,
    GetTickers = function(list) return each(list, ticker) end,
    GetDepth = function(d) return { Time = d.Time, Asks = each(d.Asks, level), Bids = each(d.Bids, level) } end,
    GetRecords = function(list) return each(list, function(r) return scaled(r, RECORD) end) end,
    GetTrades = function(list) return each(list, function(t) return scaled(t, { "Price" }) end) end,
    GetOrder = order,
    GetOrders = function(list) return each(list, order) end,
    GetHistoryOrders = function(list) return each(list, order) end,
    GetPositions = function(list) return each(list, function(p) return scaled(p, { "Price" }) end) end,
    GetPosition = function(list) return each(list, function(p) return scaled(p, { "Price" }) end) end,
  }

  local DATA = { GetTicker = true, GetDepth = true, GetRecords = true, GetAccount = true, GetAssets = true,
                 GetOrder = true, GetOrders = true, GetTrades = true, GetTickers = true, GetMarkets = true,
                 GetHistoryOrders = true, GetPositions = true, GetPosition = true, GetFundings = true }
  -- Each call works with a dot or a colon. A data call's answer is converted (SetRate) and kept for GetRawJSON.
  for k, f in pairs(api) do
    local convert = CONVERT[k]
    if DATA[k] then
      E[k] = function(a, ...)
        raw_body = nil
        local r
        if a ~= E then r = f(a, ...) else r = f(...) end
        if r ~= nil then
          if convert and rate ~= 1 then r = convert(r) end
          raw = raw_body or r
        end
        return r
      end
    else
      E[k] = function(a, ...)
        if a ~= E then return f(a, ...) end
        return f(...)
      end
    end
  end
  names.guard_exchange(E)     -- exchange.IO and exchange.GetTicekr raise, naming the call
  return E
end

for k, v in pairs(CONSTANTS) do
  if rawget(_ENV, k) == nil then rawset(_ENV, k, v) end
end
if rawget(_ENV, "EnableLog") == nil then rawset(_ENV, "EnableLog", EnableLog) end

local config = require("stratrun.config")
local files = not config.replay and require("stratrun.files")
local market = require("market")

-- The bot's exchanges: the config's exchanges list (each entry laid over its exchange table), else the exchange
-- table alone. Each has its own market (its `market`, else the process's), account and account file: account.json
-- for the first, account-N.json for the Nth.
local function build(i, cfg, strict, tag)
  if config.replay and type(cfg.venue) == "string" and cfg.venue ~= "" then
    error("exchange: invalid config: a replay trades on paper: leave exchange.venue out of it (docs/live.md)", 0)
  end
  local keep                -- a live bot's account persists; a replay's never does (it must be deterministic)
  if files then
    local name = i == 1 and "account.json" or ("account-" .. i .. ".json")
    keep = {
      read = function() return files.read(name, 64 << 20) end,
      write = function(text) return files.replace(name, text) end,
      path = files.path(name), reset = config.reset_account,
    }
  end
  return new {
    config = cfg,
    strict = strict,        -- the bot does not start on an exchange the config and its market disagree on
    who = i > 1 and ("exchanges[" .. i .. "]") or nil,
    market = (type(cfg.market) == "string" and cfg.market ~= "") and market.get(cfg.market) or market,
    now = function() return UnixNano() // 1000000 end,
    log = require("stratrun.log").error,      -- a failed call: GetLastError, SetErrorFilter
    note = function(msg) Log(msg) end,
    say = tag and function(...) Log(tag, ...) end or Log,
    keep = keep,
    record = not files,     -- a replay keeps its fills and holdings for its results (docs/report.md)
  }
end

local list = {}
local over = config.exchange_over and (" with " .. config.exchange_over .. " over it") or ""
if type(config.exchanges) == "table" then
  local several, cfgs, labels, seen = #config.exchanges > 1, {}, {}, {}
  for i, entry in ipairs(config.exchanges) do
    local cfg = {}
    for k, v in pairs(config.exchange) do cfg[k] = v end
    for k, v in pairs(entry) do cfg[k] = v end
    cfgs[i] = cfg
    labels[i] = (cfg.label ~= nil and cfg.label ~= "") and cfg.label or cfg.name or "Paper"
    seen[labels[i]] = (seen[labels[i]] or 0) + 1
  end
  for i, cfg in ipairs(cfgs) do
    -- with several exchanges, an order line starts with its exchange's label, [Binance] Buy 43050.73 0.1 (order
    -- 3), and its place when another has the same label: [Paper #2]
    local tag = several and "[" .. labels[i] .. (seen[labels[i]] > 1 and " #" .. i or "") .. "]" or nil
    list[i] = build(i, cfg, string.format(" (the config's %s[%d] over its exchange%s)", config.exchanges_from, i, over),
      tag)
  end
end
if #list == 0 then
  list[1] = build(1, config.exchange, config.exchange_over and " (the config's exchange" .. over .. ")" or "")
end
local exchange = list[1]
exchange._new = new
-- For the host's replay summary: the other exchanges' summaries, after the first's.
if #list > 1 then
  local first = exchange._summary
  exchange._summary = function(from)
    local sm = first(from)
    sm.exchanges = {}
    local trades, equity, f = sm.trades, sm.equity, sm.figures
    for i = 2, #list do
      local e = list[i]._summary(from)
      e.label, e.currency = list[i].GetLabel(), list[i].GetCurrency()
      sm.exchanges[i - 1] = e
      -- the bot's results: every exchange's fills (each naming its exchange) and the sum of their equities
      if equity and e.equity then
        for _, tr in ipairs(e.trades) do
          local t = {}
          for k, v in pairs(tr) do t[k] = v end
          t.exchange = i
          trades[#trades + 1] = t
        end
        equity = METRICS.add(equity, e.equity, e.figures.start_equity)
        local g = e.figures
        f.start_equity, f.fees = f.start_equity + g.start_equity, f.fees + g.fees
        f.round_trips, f.wins = f.round_trips + g.round_trips, f.wins + g.wins
        f.gross_profit, f.gross_loss = f.gross_profit + g.gross_profit, f.gross_loss + g.gross_loss
      end
    end
    if equity and #list > 1 then     -- the bot's figures: of the summed equity and of every exchange's fills
      for i, tr in ipairs(trades) do tr.n = i end
      table.sort(trades, function(a, b) return a.time < b.time or (a.time == b.time and a.n < b.n) end)
      for _, tr in ipairs(trades) do tr.n = nil end
      local g = METRICS.series(equity, f.start_equity, from, UnixNano() // 1000000, sm.period)
      for _, k in ipairs { "end_equity", "total_return", "annual_return", "max_drawdown", "max_drawdown_duration",
                           "sharpe", "sortino" } do
        f[k] = g[k]
      end
      f.trades = #trades
      f.win_rate = f.round_trips > 0 and f.wins / f.round_trips or nil
      f.profit_factor = f.gross_loss > 0 and f.gross_profit / f.gross_loss or nil
      f.exposure = nil      -- of one market: each exchange's own is under exchanges
      sm.equity = { time = json.array(equity.time), value = json.array(equity.value) }
    end
    return sm
  end
end
if rawget(_ENV, "exchanges") == nil then rawset(_ENV, "exchanges", list) end   -- exchanges[1] == exchange
return exchange
