---@meta stratrun.ext
-- stratrun_ext.lua: the Lua Language Server's definitions of `require("stratrun.ext")`, the platform's two most
-- imported template libraries as stratrun ships them (docs/platform.md, "Template libraries"): what a port writes
-- as `ext.NAME` where the source had `$.NAME`. Declarations only, never run by stratrun; spec/editor_spec.lua checks
-- that they name exactly the module's fields.

---The template's parameters, as `ext.Configure` takes and returns them.
---@class ExtSettings
---@field OpMode? integer 0: take the other side (a buy at the ask + SlidePrice); 1: rest on one's own side
---@field MaxSpace? number how far the price may move from a resting order's before it is placed again (0.5)
---@field SlidePrice? number added to a buy's price, taken from a sell's (0.1)
---@field MaxAmount? number the largest single order; a larger Buy or Sell is several orders (0.8)
---@field RetryDelay? number ms between the tries, 0 to 3600000 (500)
---@field MAType? integer what `Cross(periodA, periodB)` averages with: 0 TA.EMA, 1 TA.MA, 2 talib.KAMA
---@field MinStock? number an amount below this is not traded (0.01)

---What `ext.Buy` and `ext.Sell` did, as the account's change measures it (fees in the price).
---@class ExtTrade
---@field price number the average price paid or got
---@field amount number the base currency bought or sold

---The position `ext.CTA` hands `onTick` in `st.position`.
---@class ExtPosition
---@field amount number the base bought (+) or sold (-) since CTA started
---@field price number its average cost
---@field profit number at the last close

---What `ext.CTA` hands `onTick`.
---@class ExtTick
---@field records Record[] `exchange.GetRecords()`
---@field position ExtPosition

---@class ext
local ext = {}

---Changes the named settings of the trading template; every name and value is checked before any changes.
---Returns the settings now in force (`ext.Configure()` reads them).
---@param settings? ExtSettings
---@return ExtSettings
function ext.Configure(settings) end

---Buys `amount` of the base currency on `e` (default `exchange`) at the ticker, in orders of at most MaxAmount,
---until the account has changed by `amount`; blocks the bot until done. nil when nothing traded.
---@overload fun(amount: number): ExtTrade?
---@param e Exchange
---@param amount number
---@return ExtTrade?
function ext.Buy(e, amount) end

---Sells `amount` of the base currency on `e` (default `exchange`) as `ext.Buy` buys. nil when nothing traded.
---@overload fun(amount: number): ExtTrade?
---@param e Exchange
---@param amount number
---@return ExtTrade?
function ext.Sell(e, amount) end

---Cancels `e`'s open orders (only ORDER_TYPE_BUY or ORDER_TYPE_SELL ones when given) until none is left.
---@param e? Exchange
---@param orderType? integer
function ext.CancelPendingOrders(e, orderType) end

---`_C(e.GetAccount)`: the account of `e` (default `exchange`), retried until it comes.
---@param e? Exchange
---@return Account
function ext.GetAccount(e) end

---With two arrays, `_Cross(a, b)`; with two periods, the same of the averages (MAType) of `exchange.GetRecords()`.
---@param a number[]|integer
---@param b number[]|integer
---@return integer
function ext.Cross(a, b) end

---Every `interval` ms (500) calls `onTick(st)`; a number n returned (or `{n, callback}`) buys n or sells -n.
---Returns only when `onTick` raises or the bot stops.
---@param symbol string the exchange's pair
---@param onTick fun(st: ExtTick): (number|table)?
---@param interval? number
function ext.CTA(symbol, onTick, interval) end

---The plotting template's chart configuration (the bot's one `Chart`).
---@return table
function ext.GetCfg() end

---Draws records (or one record) as a candlestick series; a bar at the series' latest time replaces it.
---@param records Record[]|Record
---@param title? string
function ext.PlotRecords(records, title) end

---Adds a point to the line `label` at `time` (default now).
---@param label string
---@param value number
---@param time? number ms
function ext.PlotLine(label, value, time) end

---Adds a flag on the first series drawn.
---@param time number ms
---@param text string
---@param title string
---@param shape? string
---@param color? string
function ext.PlotFlag(time, text, title, shape, color) end

---Draws a horizontal line at `value` on the y axis; a label drawn again moves its line.
---@param value number
---@param label? string
---@param color? string
---@param style? string
function ext.PlotHLine(value, label, color, style) end

---Sets the chart's subtitle (and title).
---@param subtitle string
---@param title? string
function ext.PlotTitle(subtitle, title) end

return ext
