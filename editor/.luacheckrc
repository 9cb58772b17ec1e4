-- .luacheckrc: luacheck's standard for stratrun strategies, "stratrun": Lua 5.4 with the globals a bot's runtime
-- defines (read-only), the hooks stratrun calls (init, main, onexit, onerror), and the platform's convention for
-- strategy parameters (a top-level `interval = interval or 60000`). `luacheck strategy.lua` in a folder holding
-- this file checks against it. spec/editor_spec.lua checks that these names are exactly the runtime's and
-- editor/stratrun.lua's; docs/editor.md says why each option is set. Plain Lua 5.1 (Debian's luacheck runs on it).

-- A table of read-only names: luacheck warns on a field read that is not one of them (a typo: exchange.GetTicekr).
local function only(names)
  local t = {}
  for _, name in ipairs(names) do t[name] = {} end
  return { fields = t }
end

local read_globals = only({
  -- log, status, time
  "Log", "LogStatus", "LogProfit", "LogProfitReset", "LogReset", "LogVacuum", "EnableLog", "SetErrorFilter",
  "GetLastError", "Sleep", "Unix", "UnixNano", "_D", "_N",
  -- the platform's helpers
  "_C", "_CDelay", "_Cross", "GetCommand", "Version", "GetPid", "IsVirtual", "GetOS", "UUID",
  "Encode", "MD5", "DBExec", "Chart", "KLineChart",
  -- HTTP, mail, channels
  "HttpQuery", "HttpQuery_Go", "Mail", "Mail_Go", "Dial", "SetChannelData", "GetChannelData",
  -- constants
  "PERIOD_M1", "PERIOD_M3", "PERIOD_M5", "PERIOD_M15", "PERIOD_M30", "PERIOD_H1", "PERIOD_H2", "PERIOD_H4",
  "PERIOD_H6", "PERIOD_H12", "PERIOD_D1", "PERIOD_D3", "PERIOD_W1",
  "ORDER_STATE_PENDING", "ORDER_STATE_CLOSED", "ORDER_STATE_CANCELED", "ORDER_STATE_UNKNOWN",
  "ORDER_TYPE_BUY", "ORDER_TYPE_SELL", "ORDER_OFFSET_OPEN", "ORDER_OFFSET_CLOSE",
  "PD_LONG", "PD_SHORT", "PD_LONG_YD", "PD_SHORT_YD", "LOG_TYPE_BUY", "LOG_TYPE_SELL", "LOG_TYPE_CANCEL",
}).fields

read_globals.exchange = only({
  "GetTicker", "GetDepth", "GetRecords", "GetAccount", "GetAssets", "GetTickers", "GetTrades",
  "Buy", "Sell", "CreateOrder", "GetOrders", "GetOrder", "GetHistoryOrders", "CancelOrder", "Log",
  "SetPrecision", "GetMarkets", "GetName", "GetLabel", "GetCurrency", "GetBaseCurrency", "GetQuoteCurrency",
  "GetMinStock", "GetMinPrice", "GetFee", "SetTimeout", "SetBase", "GetBase", "GetUSDCNY", "GetPeriod", "SetMaxBarLen", "GetRawJSON",
  "Go", "SetRate", "GetRate", "SetCurrency", "IO", "Encode", "HMAC",
  "SetContractType", "GetContractType", "SetDirection", "SetMarginLevel", "GetPositions", "GetPosition",
  "GetFundings",
})
-- exchanges[i] is an exchange too, but luacheck checks no field under a number
read_globals.exchanges = { other_fields = true }
read_globals.TA = only({
  "NONE", "isnone", "MA", "SMA", "EMA", "MACD", "BOLL", "RSI", "ATR", "KDJ", "Highest", "Lowest", "OBV", "CMF",
  "Alligator",
})
read_globals.talib = only({
  "SMA", "EMA", "MA", "RSI", "ATR", "MACD", "STDDEV", "BBANDS", "ADX", "SAR", "LINEARREG_SLOPE", "STOCHRSI",
  "WMA", "CMO", "CCI", "PLUS_DI", "MINUS_DI", "CDL3BLACKCROWS",
})
read_globals.json = only({ "encode", "decode", "null", "array", "object" })

stds.stratrun = {
  read_globals = read_globals,
  -- the hooks stratrun calls when the script defines them (README.md, "Running a strategy")
  globals = { "init", "main", "onexit", "onerror" },
}

std = "lua54+stratrun"
-- A strategy runs in a Lua state of its own: a global it sets belongs to that file only (not to every file of the
-- same luacheck run), and a global set inside a function without being set at the top level is a warning.
module = true
-- Globals set at a file's top level are its own: the hooks, and the parameters (`-p NAME=VALUE` sets global NAME
-- before the script runs; the script gives its default with `NAME = NAME or default`), read anywhere in the file.
allow_defined_top = true
-- Methods are defined with `:` for a uniform call syntax, whether or not they use self.
self = false
-- Line length is the author's style, not a mistake.
max_line_length = false
