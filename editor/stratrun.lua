---@meta
-- stratrun.lua: the Lua Language Server's (LuaLS) definitions of what a strategy sees in stratrun: every global
-- the runtime defines, the exchange object, the records the exchange returns, TA, talib and json, with their types
-- and a line on what each does here. Declarations only: nothing in this file runs in a strategy.
--
-- spec/editor_spec.lua keeps it in step with the runtime: the globals declared here (top-level assignments and
-- functions), the exchange's calls, TA's, talib's and json's fields, the constants' values and the records' fields
-- are checked against a real bot's, name by name, and so is editor/.luacheckrc's list. docs/editor.md says how to
-- use it. Field names and the one-line docs follow the platform's reference (fmz.d.ts) where stratrun does the same.

-- ---------------------------------------------------------------------------------------------------------------
-- Records the exchange returns
-- ---------------------------------------------------------------------------------------------------------------

---A candle of `exchange.GetRecords()`. Arrays of records are shared between calls: treat them as read-only.
---@class Record
---@field Time integer the candle's start, ms since the epoch
---@field Open number opening price
---@field High number highest price
---@field Low number lowest price
---@field Close number closing price
---@field Volume number volume, in base currency
---@field OpenInterest? number open interest: none in the paper exchange's records; read by TA.Highest, KLineChart

---The ticker (`exchange.GetTicker()`): the latest closed candle with one basis point of spread each side, or on a
---rest: market the venue's 24-hour ticker.
---@class Ticker
---@field Symbol string the pair, e.g. "BTC_USDT"
---@field Time integer ms since the epoch
---@field Open number the candle's open
---@field High number the candle's high
---@field Low number the candle's low
---@field Sell number best ask
---@field Buy number best bid
---@field Last number last price: the latest closed candle's close
---@field Volume number the candle's volume

---One price level of the order book.
---@class DepthLevel
---@field Price number price
---@field Amount number amount at that price

---The order book (`exchange.GetDepth()`): ten levels each side around the last price, or on a rest: market the
---venue's.
---@class Depth
---@field Time integer ms since the epoch
---@field Asks DepthLevel[] asks, lowest price first (Asks[1] is the best ask)
---@field Bids DepthLevel[] bids, highest price first (Bids[1] is the best bid)

---The paper account (`exchange.GetAccount()`); on a futures exchange also Equity and UPnL.
---@class Account
---@field Balance number quote currency free (futures: the margin free for new orders)
---@field FrozenBalance number quote currency held by pending orders
---@field Stocks number base currency free (futures: 0)
---@field FrozenStocks number base currency held by pending sell orders (futures: 0)
---@field Equity? number futures: wallet plus unrealized profit and loss
---@field UPnL? number futures: unrealized profit and loss

---One currency of the account (`exchange.GetAssets()`).
---@class Asset
---@field Currency string currency name, e.g. "BTC"
---@field Amount number available amount
---@field FrozenAmount number amount held by pending orders

---An order (`exchange.GetOrder(id)`, `GetOrders()`, `GetHistoryOrders()`).
---@class Order
---@field Id integer order id, kept across a live bot's restarts
---@field Time integer when it was placed, ms since the epoch
---@field Price number limit price, or -1 for a market order
---@field Amount number amount ordered (a market buy's: quote currency to spend)
---@field DealAmount number amount filled
---@field AvgPrice number average fill price (0 before any fill)
---@field Status integer ORDER_STATE_PENDING, ORDER_STATE_CLOSED or ORDER_STATE_CANCELED
---@field Type integer ORDER_TYPE_BUY or ORDER_TYPE_SELL
---@field Symbol string the pair, or the contract's symbol on futures ("BTC_USDT.swap")
---@field Offset? integer futures: ORDER_OFFSET_OPEN or ORDER_OFFSET_CLOSE
---@field ContractType? string futures: the contract type, e.g. "swap"

---A futures position (`exchange.GetPosition()`, `GetPositions()`); long and short are apart (hedge mode).
---@class Position
---@field MarginLevel integer leverage
---@field Amount number contracts held
---@field FrozenAmount number contracts held by pending close orders
---@field Price number fill-weighted average entry price
---@field Profit number unrealized profit and loss at the mark price
---@field Type integer PD_LONG or PD_SHORT
---@field ContractType string contract type, e.g. "swap"
---@field Margin number margin held: Price x Amount x ct_val / leverage
---@field Symbol string the contract's symbol, e.g. "BTC_USDT.swap"
---@field InstrumentID string the venue's instrument, e.g. "BTCUSDT"

---A trade (`exchange.GetTrades()`): one per recent candle, at its close, of its volume.
---@class Trade
---@field Id integer trade id
---@field Time integer the candle's last ms
---@field Price number trade price
---@field Amount number trade amount
---@field Type integer ORDER_TYPE_BUY (the candle closed at or above its open) or ORDER_TYPE_SELL

---The price and amount grid of the pair (`exchange.GetMarkets()`).
---@class Market
---@field Symbol string the pair, e.g. "BTC_USDT"
---@field BaseAsset string base currency, e.g. "BTC"
---@field QuoteAsset string quote currency, e.g. "USDT"
---@field TickSize number price step
---@field AmountSize number amount step
---@field PricePrecision integer price decimals
---@field AmountPrecision integer amount decimals
---@field MinQty number smallest order amount
---@field MaxQty number largest order amount
---@field MinNotional number smallest order value
---@field MaxNotional number largest order value

---The fees the paper exchange charges (`exchange.GetFee()`).
---@class Fee
---@field Buy number taker fee in percent (the older API's shape)
---@field Sell number taker fee in percent
---@field Maker number maker fee as a fraction (the config's maker_fee)
---@field Taker number taker fee as a fraction (the config's taker_fee)

---A funding of the perpetual swap (`exchange.GetFundings()`).
---@class Funding
---@field Time integer funding time, ms since the epoch
---@field Rate number funding rate per interval, e.g. 0.0001
---@field Interval integer ms between fundings
---@field Symbol string the contract's symbol, e.g. "BTC_USDT.swap"

---The contract `exchange.SetContractType()` chose.
---@class Contract
---@field ContractType string "swap", "this_week", "next_week", "quarter" or "next_quarter"
---@field Symbol string e.g. "BTC_USDT.swap"
---@field InstrumentID string e.g. "BTCUSDT" or "BTCUSDT_240329"
---@field CtVal number contract value in base currency
---@field Expiry integer expiry, ms since the epoch (0 for the swap)

---A routine of `exchange.Go`, `HttpQuery_Go` or `Mail_Go`: `r.wait([ms])` and `r:wait([ms])` both work and return
---the call's results, once (a second wait raises).
---@class Routine
---@field wait fun(self_or_ms?: Routine|number, ms?: number): any

---The answer of `HttpQuery(url, {debug = true})`.
---@class HttpResponse
---@field StatusCode integer HTTP status
---@field Header table<string, string> response headers, names lower-cased
---@field Body string response body

---Options of `HttpQuery` and `HttpQuery_Go`.
---@class HttpOptions
---@field method? string "GET" (default), "POST", ...
---@field body? string request body
---@field headers? table<string, string> request headers
---@field cookie? string Cookie header
---@field timeout? integer ms (default 10000)
---@field debug? boolean return an HttpResponse instead of the body
---@field retry_after? boolean a 429 or 418 fails and the host is left alone for its Retry-After

---What `GetChannelData` returns beside the state.
---@class ChannelMeta
---@field seq integer grows with every state the publisher sets
---@field published integer the publisher's clock in ms when it called SetChannelData
---@field received integer this process's clock in ms when the state arrived
---@field clock_ahead? boolean the publisher's clock is more than 5 s ahead
---@field ahead_ms? integer by how much

---The result of `DBExec`.
---@class DBResult
---@field columns string[] column names
---@field values any[][] rows
---@field changes? integer rows changed, for a statement that returns no columns

---The chart `Chart(config)` returns; every call works with a dot or a colon.
---@class ChartObject
---@field add fun(series: integer|table, point?: any, index?: integer) appends a point to series (0 the first)
---@field update fun(config: table) the chart's new config; the points stay
---@field reset fun(keep?: integer) keeps the last keep points of each series (none by default)
---@field del fun(series: integer) removes a series and its points

---The candle chart `KLineChart(options)` returns; draw on a bar between `begin(bar)` and `close()`.
---@class KLineChartObject
---@field begin fun(bar: Record) starts drawing on bar
---@field close fun(bar?: Record) puts the bar on the chart with what was drawn
---@field reset fun(keep?: integer) keeps the last keep bars
---@field plot fun(series: number?, title?: string, ...: any): integer a line value; returns the plot's number for fill
---@field hline fun(price: number, ...: any): integer a horizontal line; returns its number for fill
---@field plotshape fun(series: any, ...: any) a shape on the bar
---@field plotchar fun(series: any, ...: any) a character on the bar
---@field plotarrow fun(series: number?, ...: any) an arrow on the bar
---@field plotcandle fun(open: number, high: number, low: number, close: number, ...: any) a candle of its own
---@field barcolor fun(color: string, ...: any) the bar's colour
---@field bgcolor fun(color: string, ...: any) the background colour
---@field fill fun(plot1: integer, plot2: integer, ...: any) fills between two plots of the same bar
---@field signal fun(direction: string, price: number, qty: number, id?: string) a trade's mark on the bar

-- ---------------------------------------------------------------------------------------------------------------
-- The exchange
-- ---------------------------------------------------------------------------------------------------------------

---A paper exchange on the market data, trading one pair on the bot's own account. A call that cannot be done
---returns nil and logs one line; a wrong argument type raises. Calls use a dot: `exchange.GetTicker()`.
---@class Exchange
local Exchange = {}

---The ticker: the latest closed candle with one basis point of spread each side (a rest: market: the venue's).
---@param symbol? string the exchange's own pair ("" or nil: the same)
---@return Ticker?
function Exchange.GetTicker(symbol) end

---The order book: ten levels each side (a rest: market: the venue's).
---@param symbol? string
---@return Depth?
function Exchange.GetDepth(symbol) end

---Closed candles, oldest first (100 by default, SetMaxBarLen); period in seconds (default GetPeriod()).
---@param symbol? string|number a pair, or the period when the symbol is left out
---@param period? number seconds: PERIOD_M1 ... PERIOD_W1, a multiple of the market's period
---@param limit? integer how many records
---@return Record[]?
function Exchange.GetRecords(symbol, period, limit) end

---The paper account's balances.
---@return Account?
function Exchange.GetAccount() end

---The account's currencies: base then quote (futures: the quote only).
---@return Asset[]?
function Exchange.GetAssets() end

---The tickers of every pair the exchange trades: its one pair's.
---@return Ticker[]?
function Exchange.GetTickers() end

---Recent trades, oldest first: one per candle of the last 20.
---@param symbol? string
---@return Trade[]?
function Exchange.GetTrades(symbol) end

---Places a buy (futures: per SetDirection); price -1 is a market order, whose amount is quote currency to spend.
---@param price number
---@param amount number
---@param ... any extra values for the order line
---@return integer? id
function Exchange.Buy(price, amount, ...) end

---Places a sell (futures: per SetDirection); price -1 is a market order.
---@param price number
---@param amount number
---@param ... any extra values for the order line
---@return integer? id
function Exchange.Sell(price, amount, ...) end

---Places an order with its side: "buy", "sell", and on futures "closebuy", "closesell".
---@param symbol string the pair, a futures symbol such as "BTC_USDT.swap", or ""
---@param side string
---@param price number -1 for a market order
---@param amount number
---@param ... any extra values for the order line
---@return integer? id
function Exchange.CreateOrder(symbol, side, price, amount, ...) end

---The pending orders, oldest first (an empty array when none).
---@param symbol? string
---@return Order[]?
function Exchange.GetOrders(symbol) end

---One order by id, pending or not.
---@param id integer
---@return Order?
function Exchange.GetOrder(id) end

---The orders no longer pending placed at or after since (ms), the latest limit (default 100), oldest first.
---@param symbol? string|integer a pair, or since when the symbol is left out
---@param since? integer ms
---@param limit? integer
---@return Order[]?
function Exchange.GetHistoryOrders(symbol, since, limit) end

---Cancels a pending order and returns its frozen funds; true when it was canceled.
---@param id integer
---@param ... any extra values for the order line
---@return boolean
function Exchange.CancelOrder(id, ...) end

---An order line for an order not placed: Log(LOG_TYPE_BUY, price, amount, ...), Log(LOG_TYPE_CANCEL, id, ...).
---@param kind integer LOG_TYPE_BUY, LOG_TYPE_SELL or LOG_TYPE_CANCEL
---@param ... any
function Exchange.Log(kind, ...) end

---Sets the tick and the amount step to 10^-digits.
---@param pricePrecision integer 0 to 12
---@param amountPrecision integer 0 to 12
function Exchange.SetPrecision(pricePrecision, amountPrecision) end

---The pair's price and amount grid, keyed by pair.
---@return table<string, Market>?
function Exchange.GetMarkets() end

---The config's name of the exchange.
---@return string
function Exchange.GetName() end

---The config's label (default: the name).
---@return string
function Exchange.GetLabel() end

---The pair, e.g. "BTC_USDT".
---@return string
function Exchange.GetCurrency() end

---The pair's base currency, e.g. "BTC".
---@return string
function Exchange.GetBaseCurrency() end

---The pair's quote currency, e.g. "USDT".
---@return string
function Exchange.GetQuoteCurrency() end

---The amount step (the older API's smallest order amount).
---@return number
function Exchange.GetMinStock() end

---The tick (the older API's smallest price step).
---@return number
function Exchange.GetMinPrice() end

---The fees: Buy and Sell the taker fee in percent, Maker and Taker as fractions.
---@return Fee
function Exchange.GetFee() end

---The longest a call may wait for the venue (the paper exchange answers at once).
---@param ms number 1 to 3600000
function Exchange.SetTimeout(ms) end

---The base address of the venue's API ("" clears it); the paper exchange keeps it for GetBase and sends nothing.
---@param url string an http:// or https:// URL with a host, or ""
function Exchange.SetBase(url) end

---The address SetBase set ("" until then).
---@return string
function Exchange.GetBase() end

---The config's exchange.usd_cny, or nil and a line when none is set.
---@return number?
function Exchange.GetUSDCNY() end

---The period of GetRecords() without one, in seconds.
---@return integer
function Exchange.GetPeriod() end

---How many records GetRecords returns without a limit (100 until set).
---@param n integer 1 to 1000000
function Exchange.SetMaxBarLen(n) end

---The JSON text of the last data call's answer (the venue's own body on a rest: market), or nil before any.
---@return string?
function Exchange.GetRawJSON() end

---Runs exchange[method](...) and returns a routine whose wait() returns its results.
---@param method string e.g. "GetTicker"
---@param ... any the call's arguments
---@return Routine
function Exchange.Go(method, ...) end

---Multiplies every price shown by n and divides the prices of Buy and Sell by it; 1 turns it off.
---@param n number finite, > 0
function Exchange.SetRate(n) end

---The rate SetRate set (1 by default).
---@return number
function Exchange.GetRate() end

---The exchange trades one pair: its own pair does nothing, another raises.
---@param pair string
function Exchange.SetCurrency(pair) end

---Only IO("currency", pair), as SetCurrency; other commands raise (the paper exchange has no venue).
---@param k string
---@param ... any
---@return any
function Exchange.IO(k, ...) end

---The global Encode; the key templates {{accesskey}} and {{secretkey}} raise (a paper exchange has no keys).
---@param algo string
---@param inputFormat string
---@param outputFormat string
---@param data string
---@param keyFormat? string
---@param key? string
---@return string
function Exchange.Encode(algo, inputFormat, outputFormat, data, keyFormat, key) end

---Encode(algo, "raw", outputFormat, data, "raw", key).
---@param algo string e.g. "sha256" or "hmac_sha256"
---@param outputFormat string "hex", "base64", "raw" or "string"
---@param data string
---@param key string
---@return string
function Exchange.HMAC(algo, outputFormat, data, key) end

---Futures: the contract Buy, Sell and GetPosition trade from now on ("swap", "this_week", "quarter", ...).
---@param contractType string
---@return Contract?
function Exchange.SetContractType(contractType) end

---Futures: the contract type set, or nil.
---@return string?
function Exchange.GetContractType() end

---Futures: what Buy and Sell do next: "buy", "sell", "closebuy" or "closesell".
---@param direction string
---@return true?
function Exchange.SetDirection(direction) end

---Futures: the leverage of every position and order, 1 to the config's max_leverage.
---@param symbol string|integer the contract's symbol, or the leverage when the symbol is left out
---@param n? integer
---@return true?
function Exchange.SetMarginLevel(symbol, n) end

---Futures: every open position, or those of symbol's contract type.
---@param symbol? string e.g. "BTC_USDT.swap"
---@return Position[]?
function Exchange.GetPositions(symbol) end

---Futures: the positions of the contract SetContractType set (every position before one is set).
---@return Position[]?
function Exchange.GetPosition() end

---Futures: the latest funding of the swap.
---@param symbol? string
---@return Funding[]?
function Exchange.GetFundings(symbol) end

---The bot's first exchange (`exchanges[1]`), the config's `exchange`.
---@type Exchange
exchange = Exchange

---The bot's exchanges, one per entry of the config's `exchanges` (`exchanges[1] == exchange`).
---@type Exchange[]
exchanges = {}

-- ---------------------------------------------------------------------------------------------------------------
-- Log, status, time and the store
-- ---------------------------------------------------------------------------------------------------------------

---Writes one line, the local time and the arguments joined by spaces (nil as null, tables as JSON): stdout, log.txt.
---@param ... any
function Log(...) end

---Replaces the bot's status panel; a backtick segment holding a table's JSON renders as a text table.
---@param ... any
function LogStatus(...) end

---Sleeps ms milliseconds (other bots run meanwhile; in a replay it moves the virtual clock).
---@param ms number 0 to 1e12
function Sleep(ms) end

---Seconds since the epoch (the virtual clock in a replay).
---@return integer
function Unix() end

---Nanoseconds since the epoch (the virtual clock in a replay).
---@return integer
function UnixNano() end

---Formats a time in ms (default now) in local time; tokens yyyy yy MM dd HH hh mm ss SSS (default yyyy-MM-dd hh:mm:ss).
---@param ms? number
---@param fmt? string
---@return string
function _D(ms, fmt) end

---Truncates toward zero to precision decimals (default 4; negative: tens, hundreds, ...); never rounds.
---@param num number
---@param precision? integer
---@return number
function _N(num, precision) end

-- _G stays Lua's global table and is also callable, as the bot's persistent key-value store (store.json). It is a
-- standard global: only its call is declared here, on LuaLS's own _G class.

---The global table, callable as the bot's store: _G() is the bot's ID, _G(key) the stored value (a fresh copy) or
---nil, _G(key, value) stores a JSON value (nil deletes the key; nil, message when the disk refuses), _G(nil)
---deletes every key.
---@class _G
---@overload fun(): string
---@overload fun(key: string|number): any
---@overload fun(key: string|number, value: any): true?, string?
---@overload fun(key: nil)

-- ---------------------------------------------------------------------------------------------------------------
-- JSON
-- ---------------------------------------------------------------------------------------------------------------

---The runtime's JSON codec: integers stay integers, floats round-trip exactly, errors name the path of the bad value.
---@class json
json = {}

---Encodes a value as JSON (objects sorted by key); raises on a value that is not JSON.
---@param value any
---@return string
function json.encode(value) end

---Decodes JSON text; null array elements become json.null; raises on text that is not JSON.
---@param text string
---@return any
function json.decode(text) end

---JSON's null in arrays: keeps positions, encodes as null.
---@type userdata
json.null = {}

---Marks a table (or a new one) to encode as an array, so an empty one is [] rather than {}.
---@generic T: table
---@param t? T
---@return T
function json.array(t) end

---Marks a table (or a new one) to encode as an object, so an empty one is {}.
---@generic T: table
---@param t? T
---@return T
function json.object(t) end

-- ---------------------------------------------------------------------------------------------------------------
-- HTTP and mail
-- ---------------------------------------------------------------------------------------------------------------

---An HTTP request: the body whatever the status (with debug an HttpResponse); nil, message when no answer came.
---@param url string
---@param options? HttpOptions
---@return string|HttpResponse|nil
---@return string? message
function HttpQuery(url, options) end

---Starts HttpQuery at once and returns a routine whose wait([ms]) returns what HttpQuery returns.
---@param url string
---@param options? HttpOptions
---@return Routine
function HttpQuery_Go(url, options) end

---A connection of `Dial` (docs/dial.md): `conn:read(ms)` and `conn.read(ms)` both work.
---@class DialConn
---@field read fun(self_or_ms?: DialConn|number, ms?: number): string? the next message; nil on timeout; "" when disconnected (ms: none or 0 waits, -1 at once, -2 the newest)
---@field write fun(self_or_data: DialConn|string, data?: string): integer bytes queued, 0 when not open
---@field close fun(self?: DialConn)

---A raw connection: tcp://HOST:PORT, tls://HOST:PORT, ws:// or wss://HOST[:PORT][/PATH], options after "|"
---(reconnect=true&interval=1000&retry=0&compress=gzip&mode=recv&payload=..., payload last).
---@param address string
---@param timeout? number connect timeout in ms (30000)
---@return DialConn?
---@return string? message
function Dial(address, timeout) end

---Sends a plain-text mail over SMTP (TLS or STARTTLS); empty arguments come from the config's mail table.
---@param smtpServer string HOST, HOST:PORT, ssl://HOST:PORT or smtp://HOST:PORT
---@param smtpUsername string
---@param smtpPassword string
---@param mailTo string
---@param title string
---@param body string
---@return boolean
function Mail(smtpServer, smtpUsername, smtpPassword, mailTo, title, body) end

---Starts Mail at once and returns a routine whose wait([ms]) returns what Mail returns.
---@param smtpServer string
---@param smtpUsername string
---@param smtpPassword string
---@param mailTo string
---@param title string
---@param body string
---@return Routine
function Mail_Go(smtpServer, smtpUsername, smtpPassword, mailTo, title, body) end

-- ---------------------------------------------------------------------------------------------------------------
-- The platform's helpers
-- ---------------------------------------------------------------------------------------------------------------

---Calls fn(...) until its first result is neither nil nor false (a log line and _CDelay's sleep between tries).
---@generic R
---@param fn fun(...): R
---@param ... any
---@return R
function _C(fn, ...) end

---The interval between _C's tries, in ms (default 3000).
---@param ms number 0 to 1e12
function _CDelay(ms) end

---How many periods ago a crossed b: positive while a is above b, negative while below, 0 on a tie.
---@param a number[]
---@param b number[]
---@return integer
function _Cross(a, b) end

---The oldest command sent with `stratrun cmd ID TEXT`, taken off the queue; nil when none (always in a replay).
---@return string?
function GetCommand() end

---Appends a point to the bot's profit series (profit.csv) and logs it (not with a last argument "&").
---@param profit number
---@param ... any
function LogProfit(profit, ...) end

---Empties the profit series, or keeps its last n points.
---@param n? integer
function LogProfitReset(n) end

---Empties the bot's log.txt, or keeps its last n lines.
---@param n? integer
function LogReset(n) end

---Keeps the error lines of failed platform calls matching a POSIX extended regex out of the log ("": no filter).
---@param regex string
function SetErrorFilter(regex) end

---The last error of a failed platform call, or nil; reading it clears it.
---@return string?
function GetLastError() end

---stratrun's version, e.g. "0.1.0".
---@return string
function Version() end

---The process's ID, as a string.
---@return string
function GetPid() end

---True in a replay, false live.
---@return boolean
function IsVirtual() end

---The host as Go names it: "linux/amd64", "linux/arm64".
---@return string
function GetOS() end

---A random version-4 UUID: 32 lower-case hex digits without dashes.
---@return string
function UUID() end

---Gives back the space of rows deleted from the bot's DBExec database (SQLite's VACUUM).
function LogVacuum() end

---false stops the order lines of every exchange of the bot; true brings them back.
---@param enable boolean
function EnableLog(enable) end

---Hashes and encodes: Encode("sha256", "string", "hex", data [, keyFormat, key]) (with a key: an HMAC).
---@param algo string "raw", "md5", "sha1", "sha256", "sha512", "sha3.256", "hmac_sha256", "text.encoder.gbk", ...
---@param inputFormat string "raw", "string", "hex" or "base64"
---@param outputFormat string "raw", "string", "hex" or "base64"
---@param data string
---@param keyFormat? string
---@param key? string
---@return string
function Encode(algo, inputFormat, outputFormat, data, keyFormat, key) end

---The MD5 of data, 32 lower-case hex digits.
---@param data string|number
---@return string
function MD5(data) end

---Runs SQL on the bot's SQLite database (":" first: an in-memory one), ? placeholders from the extra arguments.
---@param sql string
---@param ... nil|boolean|number|string
---@return DBResult?
---@return string? message
function DBExec(sql, ...) end

---The bot's chart from a Highcharts options table (or an array of them), kept in chart.jsonl; replaces any earlier.
---@param config table|table[]
---@return ChartObject
function Chart(config) end

---The bot's chart as candles, drawn bar by bar as Pine draws; options overlay, pricePrecision, volumePrecision.
---@param options? table
---@return KLineChartObject
function KLineChart(options) end

-- ---------------------------------------------------------------------------------------------------------------
-- Channels
-- ---------------------------------------------------------------------------------------------------------------

---Makes data (any JSON value of at most 1024 bytes) the latest state of this bot's channel; never blocks.
---@param data any
---@return true?
---@return string? message
function SetChannelData(data) end

---The latest state of a bot's channel as a fresh value, and its meta; the first call for a channel returns nil.
---@param robotId string|integer
---@return any state
---@return ChannelMeta|string|nil meta # or the message for an invalid ID
function GetChannelData(robotId) end

-- ---------------------------------------------------------------------------------------------------------------
-- TA: the platform's indicators. r is records (Close is read) or an array of finite numbers; every output has #r
-- elements, the warm-up ones TA.NONE.
-- ---------------------------------------------------------------------------------------------------------------

---The platform's indicators.
---@class TA
TA = {}

---The warm-up placeholder, a NaN: every comparison with it is false; test it with TA.isnone(v).
---@type number
TA.NONE = 0 / 0

---True when v is the warm-up placeholder (a NaN).
---@param v any
---@return boolean
function TA.isnone(v) end

---Simple moving average over n bars (default 9).
---@param r Record[]|number[]
---@param n? integer
---@return number[]
function TA.MA(r, n) end

---Simple moving average over n bars (default 9), as TA.MA.
---@param r Record[]|number[]
---@param n? integer
---@return number[]
function TA.SMA(r, n) end

---Exponential moving average over n bars (default 9), seeded with the SMA of the first n values.
---@param r Record[]|number[]
---@param n? integer
---@return number[]
function TA.EMA(r, n) end

---MACD (12, 26, 9): {dif, dea, hist}, hist = dif - dea.
---@param r Record[]|number[]
---@param fast? integer
---@param slow? integer
---@param signal? integer
---@return number[][]
function TA.MACD(r, fast, slow, signal) end

---Bollinger bands (20, 2): {up, mid, low}, population standard deviation.
---@param r Record[]|number[]
---@param n? integer
---@param k? number
---@return number[][]
function TA.BOLL(r, n, k) end

---RSI over n bars (default 14), Wilder's.
---@param r Record[]|number[]
---@param n? integer
---@return number[]
function TA.RSI(r, n) end

---Average true range over n bars (default 14), Wilder's from bar n.
---@param r Record[]
---@param n? integer
---@return number[]
function TA.ATR(r, n) end

---KDJ (9, 3, 3): {K, D, J}; K and D start from 50.
---@param r Record[]
---@param n? integer
---@param k? integer
---@param d? integer
---@return number[][]
function TA.KDJ(r, n, k, d) end

---The highest of the n values before the last one (attr names a record field: "High", "Close", ...).
---@param r Record[]|number[]
---@param n integer 0: all of them
---@param attr? string required with records, refused with numbers
---@return number
function TA.Highest(r, n, attr) end

---The lowest of the n values before the last one (attr names a record field: "Low", "Close", ...).
---@param r Record[]|number[]
---@param n integer 0: all of them
---@param attr? string required with records, refused with numbers
---@return number
function TA.Lowest(r, n, attr) end

---On-balance volume.
---@param r Record[]
---@return number[]
function TA.OBV(r) end

---Chaikin money flow over n bars (default 20).
---@param r Record[]
---@param n? integer
---@return number[]
function TA.CMF(r, n) end

---Alligator (13, 8, 5): {jaw, teeth, lips}, shifted 8, 5 and 3 bars forward.
---@param r Record[]
---@param jaw? integer
---@param teeth? integer
---@param lips? integer
---@return number[][]
function TA.Alligator(r, jaw, teeth, lips) end

-- ---------------------------------------------------------------------------------------------------------------
-- talib: TA-Lib's functions, defaults, lookbacks and seeds; outputs aligned with the input, TA.NONE in the
-- lookback. Reading any other TA-Lib name raises.
-- ---------------------------------------------------------------------------------------------------------------

---TA-Lib's indicators (eighteen of them).
---@class talib
talib = {}

---Simple moving average (n = 30).
---@param r Record[]|number[]
---@param n? integer 2 to 100000
---@return number[]
function talib.SMA(r, n) end

---Exponential moving average (n = 30), seeded with the SMA of the first n values.
---@param r Record[]|number[]
---@param n? integer 2 to 100000
---@return number[]
function talib.EMA(r, n) end

---Moving average (n = 30) of type matype: 0 SMA, 1 EMA.
---@param r Record[]|number[]
---@param n? integer
---@param matype? integer
---@return number[]
function talib.MA(r, n, matype) end

---RSI (n = 14), Wilder's; 0 where nothing moved.
---@param r Record[]|number[]
---@param n? integer
---@return number[]
function talib.RSI(r, n) end

---Average true range (n = 14).
---@param r Record[]
---@param n? integer 1 to 100000
---@return number[]
function talib.ATR(r, n) end

---MACD (12, 26, 9): {macd, signal, hist}.
---@param r Record[]|number[]
---@param fast? integer
---@param slow? integer
---@param signal? integer
---@return number[][]
function talib.MACD(r, fast, slow, signal) end

---Population standard deviation over n bars (5) times nbdev (1).
---@param r Record[]|number[]
---@param n? integer
---@param nbdev? number
---@return number[]
function talib.STDDEV(r, n, nbdev) end

---Bollinger bands (5, 2, 2, 0): {upper, middle, lower}.
---@param r Record[]|number[]
---@param n? integer
---@param nbdevup? number
---@param nbdevdn? number
---@param matype? integer 0 SMA, 1 EMA
---@return number[][]
function talib.BBANDS(r, n, nbdevup, nbdevdn, matype) end

---Average directional index (n = 14).
---@param r Record[]
---@param n? integer
---@return number[]
function talib.ADX(r, n) end

---Parabolic SAR (acceleration 0.02, maximum 0.2).
---@param r Record[]
---@param acceleration? number
---@param maximum? number
---@return number[]
function talib.SAR(r, acceleration, maximum) end

---Least-squares slope of the last n values (n = 14).
---@param r Record[]|number[]
---@param n? integer
---@return number[]
function talib.LINEARREG_SLOPE(r, n) end

---Stochastic RSI (14, 5, 3, 0): {fastk, fastd}.
---@param r Record[]|number[]
---@param n? integer
---@param fastk? integer
---@param fastd? integer
---@param matype? integer 0 SMA, 1 EMA
---@return number[][]
function talib.STOCHRSI(r, n, fastk, fastd, matype) end

---Weighted moving average (n = 30), weights 1 to n, the latest value weighing n.
---@param r Record[]|number[]
---@param n? integer 1 to 100000
---@return number[]
function talib.WMA(r, n) end

---Chande momentum oscillator (n = 14): 100 (gain - loss) / (gain + loss) on Wilder's averages; 0 where flat.
---@param r Record[]|number[]
---@param n? integer 2 to 100000
---@return number[]
function talib.CMO(r, n) end

---Commodity channel index (n = 14): (typical price - its mean) / (0.015 mean deviation) over n bars.
---@param r Record[]
---@param n? integer 2 to 100000
---@return number[]
function talib.CCI(r, n) end

---Plus directional indicator (n = 14): 100 * Wilder's +DM / Wilder's TR (n = 1: +DM / TR).
---@param r Record[]
---@param n? integer 1 to 100000
---@return number[]
function talib.PLUS_DI(r, n) end

---Minus directional indicator (n = 14): 100 * Wilder's -DM / Wilder's TR (n = 1: -DM / TR).
---@param r Record[]
---@param n? integer 1 to 100000
---@return number[]
function talib.MINUS_DI(r, n) end

---Three black crows: -100 on the third crow, else 0 (from bar 14).
---@param r Record[]
---@return integer[]
function talib.CDL3BLACKCROWS(r) end

-- ---------------------------------------------------------------------------------------------------------------
-- Constants, with the platform's values
-- ---------------------------------------------------------------------------------------------------------------

---K-line period: 1 minute, in seconds.
PERIOD_M1 = 60
---K-line period: 3 minutes, in seconds.
PERIOD_M3 = 180
---K-line period: 5 minutes, in seconds.
PERIOD_M5 = 300
---K-line period: 15 minutes, in seconds.
PERIOD_M15 = 900
---K-line period: 30 minutes, in seconds.
PERIOD_M30 = 1800
---K-line period: 1 hour, in seconds.
PERIOD_H1 = 3600
---K-line period: 2 hours, in seconds.
PERIOD_H2 = 7200
---K-line period: 4 hours, in seconds.
PERIOD_H4 = 14400
---K-line period: 6 hours, in seconds.
PERIOD_H6 = 21600
---K-line period: 12 hours, in seconds.
PERIOD_H12 = 43200
---K-line period: 1 day, in seconds.
PERIOD_D1 = 86400
---K-line period: 3 days, in seconds.
PERIOD_D3 = 259200
---K-line period: 1 week, in seconds (weekly bars start on Mondays 00:00 UTC).
PERIOD_W1 = 604800

---Order status: pending.
ORDER_STATE_PENDING = 0
---Order status: filled.
ORDER_STATE_CLOSED = 1
---Order status: canceled.
ORDER_STATE_CANCELED = 2
---Order status: unknown (never set by the paper exchange).
ORDER_STATE_UNKNOWN = 3

---Order type: buy.
ORDER_TYPE_BUY = 0
---Order type: sell.
ORDER_TYPE_SELL = 1

---Futures order offset: opens a position.
ORDER_OFFSET_OPEN = 0
---Futures order offset: closes a position.
ORDER_OFFSET_CLOSE = 1

---Position direction: long.
PD_LONG = 0
---Position direction: short.
PD_SHORT = 1
---Position direction: yesterday's long (the platform's SHFE futures; never set by the paper exchange).
PD_LONG_YD = 2
---Position direction: yesterday's short (the platform's SHFE futures; never set by the paper exchange).
PD_SHORT_YD = 3

---exchange.Log's type: a buy line.
LOG_TYPE_BUY = 0
---exchange.Log's type: a sell line.
LOG_TYPE_SELL = 1
---exchange.Log's type: a cancel line.
LOG_TYPE_CANCEL = 2
