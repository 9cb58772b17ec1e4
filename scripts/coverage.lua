-- coverage.lua: how many of the platform's public strategies find every platform call they make in stratrun
-- (issue 13's measure; docs/porting.md "What the library needs next"). A stratrun script, so that what exists is
-- read from a real bot's globals and exchange, never from a list kept by hand:
--
--   git clone https://github.com/fmzquant/strategies /tmp/strategies
--   build/stratrun replay --market sim:seed=1,bars=2 scripts/coverage.lua -p library=/tmp/strategies [-p verbose=1]
--
-- A strategy of the library is one markdown file with a `> Source (javascript)` or `> Source (python)` section; it
-- counts when its source names `Sleep` or `exchange` (a trading strategy, not a library or a snippet). Its
-- platform names are those of the platform's reference (fmz.d.ts of fmzquant/skills: the global functions and
-- constants, the exchange object's methods, TA's and talib's members, below) and the older exchange methods the
-- library still calls, found by a search of the source: `NAME` not after a dot for a global, `exchange.NAME` or
-- `exchanges[...].NAME` for a method, `TA.NAME` and `talib.NAME`, and `$.NAME` (JavaScript) or `ext.NAME` (Python):
-- a function of a template library. A comment that names a call counts, as the search cannot tell; JavaScript's own
-- names (`JSON`, `Math`, `parseInt`, `setTimeout`, `console`) are not platform calls and are left out: a port
-- writes them in Lua (docs/porting.md).
--
-- A template function `$.NAME` is there when require("stratrun.ext") has it (the platform's trading and plotting
-- templates), when the source defines it itself (`$.NAME = ...`: the source is a template), and, in the second
-- figure printed, when a template of the library defines it and that template finds every call it makes (a port
-- takes the template along, as the platform's strategy imports it). The first figure counts only what stratrun
-- ships.

local GLOBALS = [[
Chart DBExec Dial EXCHANGE_OP_IO_CONTROL EnableLog Encode EventLoop FUTURES_OP_GET_POSITION
FUTURES_OP_SET_CONTRACT_TYPE FUTURES_OP_SET_DIRECTION FUTURES_OP_SET_MARGIN GetChannelData GetCommand GetLastError
GetMeta GetOS GetPid HttpQuery HttpQuery_Go IsVirtual KLineChart LOG_TYPE_BUY LOG_TYPE_CANCEL LOG_TYPE_SELL Log
LogProfit LogProfitReset LogReset LogStatus LogVacuum MD5 Mail Mail_Go ORDER_CONDITION_TYPE_GENERIC
ORDER_CONDITION_TYPE_OCO ORDER_CONDITION_TYPE_SL ORDER_CONDITION_TYPE_TP ORDER_OFFSET_CLOSE ORDER_OFFSET_OPEN
ORDER_STATE_CANCELED ORDER_STATE_CLOSED ORDER_STATE_PENDING ORDER_STATE_UNKNOWN ORDER_TYPE_BUY ORDER_TYPE_SELL
PD_LONG PD_LONG_YD PD_SHORT PD_SHORT_YD PERIOD_D1 PERIOD_D3 PERIOD_H1 PERIOD_H12 PERIOD_H2 PERIOD_H4 PERIOD_H6
PERIOD_M1 PERIOD_M15 PERIOD_M3 PERIOD_M30 PERIOD_M5 PERIOD_W1 SetChannelData SetErrorFilter Sleep SysInfo TA UUID
Unix UnixNano Version _C _CDelay _Cross _D _G _N _T __Serve __Thread __threadGetData __threadId __threadJoin
__threadPeekMessage __threadPending __threadPostMessage __threadSetData __threadTerminate talib threading
exchange exchanges
]]

-- IExchange's methods, and the older ones the library still calls (GetPosition, GetMinStock, GetMinPrice, GetFee).
local METHODS = [[
Buy CancelConditionOrder CancelOrder CreateConditionOrder CreateOrder Encode GetAccount GetAssets GetBase
GetBaseCurrency GetConditionOrder GetConditionOrders GetContractType GetCurrency GetData GetDepth GetFundings
GetHistoryConditionOrders GetHistoryOrders GetLabel GetMarkets GetMeta GetName GetOrder GetOrders GetPeriod
GetPositions GetQuoteCurrency GetRate GetRawJSON GetRecords GetTicker GetTickers GetTrades GetUSDCNY Go HMAC IO Log
ModifyConditionOrder ModifyOrder Sell SetBase SetContractType SetCurrency SetData SetDirection SetMarginLevel
SetMaxBarLen SetPrecision SetProxy SetRate SetTimeout GetPosition GetMinStock GetMinPrice GetFee
]]

local function words(text)
  local t = {}
  for w in text:gmatch("%S+") do t[#t + 1] = w end
  return t
end

local TEMPLATE_USE = { javascript = "[^%w_]%$%.([%a_][%w_]*)", python = "[^%w_.]ext%.([%a_][%w_]*)" }
local ext = require("stratrun.ext")


-- The source of a library file: the first code block after its "> Source (LANG)" line, and LANG.
local function source_of(md)
  local lang, rest = md:match("\n> Source %((%a+)%)%s*\n(.*)$")
  if lang ~= "javascript" and lang ~= "python" then return nil end
  local code = rest:match("```[^\n]*\n(.-)\n```")
  return code, lang
end

-- The platform names a source uses: {"Sleep", "exchange.GetTicker", "TA.MA", "$", ...}.
local GLOBAL_LIST, METHOD_LIST = words(GLOBALS), words(METHODS)

local function names_in(code, lang)
  local padded = "\n" .. code .. "\n"
  -- one pass over the identifiers: those not after a dot (a member of something else), and the members of exchange,
  -- of exchanges[...], of TA and of talib
  local tokens, methods, used, seen = {}, {}, {}, {}
  for tok in padded:gmatch("[^%w_.$]([%a_][%w_$]*)") do tokens[tok] = true end
  for m in padded:gmatch("exchange%.([%a_][%w_]*)") do methods[m] = true end
  for m in padded:gmatch("exchanges%s*%[[^%]]*%]%s*%.([%a_][%w_]*)") do methods[m] = true end
  local function add(n) if not seen[n] then seen[n] = true; used[#used + 1] = n end end
  for _, g in ipairs(GLOBAL_LIST) do
    if tokens[g] then add(g) end
  end
  for _, m in ipairs(METHOD_LIST) do
    if methods[m] then add("exchange." .. m) end
  end
  for _, obj in ipairs({ "TA", "talib" }) do
    for m in padded:gmatch("[^%w_.]" .. obj .. "%.([%a_][%w_]*)") do add(obj .. "." .. m) end
  end
  for m in padded:gmatch(TEMPLATE_USE[lang]) do add("$." .. m) end
  return used
end

-- What a source defines for its importers: {NAME = true} of each `$.NAME =` (JavaScript), `ext.NAME =` (Python).
local function template_defs(code, lang)
  local defs = {}
  for m in ("\n" .. code):gmatch(TEMPLATE_USE[lang] .. "%s*=[^=]") do defs[m] = true end
  return defs
end

-- Whether stratrun has name: a global of this bot, a method of its exchange, a member of TA or talib, a function of
-- require("stratrun.ext").
local function have(name)
  local obj, m = name:match("^([%a$]+)%.(.+)$")
  if obj == "$" then return ext[m] ~= nil end
  if obj == "exchange" then return type(rawget(exchange, m)) == "function" end
  if obj == "TA" or obj == "talib" then return rawget(_G, obj) ~= nil and rawget(rawget(_G, obj), m) ~= nil end
  return rawget(_G, name) ~= nil
end

local function percent(n, total) return total > 0 and 100 * n / total or 0 end

function main()
  assert(type(library) == "string", "give the library's folder: -p library=/path/to/fmzquant/strategies")
  -- Every source of the library (templates too), what it names and lacks, and what it defines for importers.
  local sources, definers = {}, {}
  local list = io.popen("ls " .. string.format("%q", library))
  for file in list:lines() do
    if file:find("%.md$") then
      local f = assert(io.open(library .. "/" .. file, "rb"))
      local code, lang = source_of(f:read("a"))
      f:close()
      if code then
        local s = { file = file, lang = lang, defs = template_defs(code, lang), lacks = {},
                    strategy = code:find("Sleep", 1, true) or code:find("exchange", 1, true) }
        for _, n in ipairs(names_in(code, lang)) do
          local m = n:match("^%$%.(.+)$")
          if not have(n) and not (m and s.defs[m]) then s.lacks[#s.lacks + 1] = n end
        end
        for m in pairs(s.defs) do
          definers[m] = definers[m] or {}
          table.insert(definers[m], s)
        end
        sources[#sources + 1] = s
      end
    end
  end
  list:close()
  -- With the library's templates: a source is whole when each name it lacks is a template function that a whole
  -- template (another source) defines; repeated until nothing changes, as templates import templates.
  for _, s in ipairs(sources) do s.whole = #s.lacks == 0 end
  local changed = true
  while changed do
    changed = false
    for _, s in ipairs(sources) do
      if not s.whole then
        local all = true
        for _, n in ipairs(s.lacks) do
          local m, found = n:match("^%$%.(.+)$"), false
          for _, d in ipairs(m and definers[m] or {}) do
            if d ~= s and d.whole then found = true break end
          end
          if not found then all = false break end
        end
        if all then s.whole, changed = true, true end
      end
    end
  end
  local total, strict, whole, missing = 0, 0, 0, {}
  local by_lang = { javascript = { 0, 0 }, python = { 0, 0 } }
  for _, s in ipairs(sources) do
    if s.strategy then
      total = total + 1
      by_lang[s.lang][1] = by_lang[s.lang][1] + 1
      if #s.lacks == 0 then strict = strict + 1 end
      if s.whole then
        whole = whole + 1
        by_lang[s.lang][2] = by_lang[s.lang][2] + 1
      else
        for _, n in ipairs(s.lacks) do missing[n] = (missing[n] or 0) + 1 end
        if verbose then print(s.file, table.concat(s.lacks, " ")) end
      end
    end
  end
  print(string.format("strategies: %d (javascript %d, python %d)", total, by_lang.javascript[1], by_lang.python[1]))
  print(string.format("find every platform call: %d (%.1f %%; javascript %d, python %d), "
    .. "with the library's templates that do", whole, percent(whole, total), by_lang.javascript[2],
    by_lang.python[2]))
  print(string.format("find every platform call: %d (%.1f %%), with the templates stratrun ships only", strict,
    percent(strict, total)))
  local names = {}
  for n in pairs(missing) do names[#names + 1] = n end
  table.sort(names, function(a, b) return missing[a] > missing[b] or (missing[a] == missing[b] and a < b) end)
  print("missing, by the number of strategies that name it (the library's templates that do counted there):")
  for i = 1, math.min(#names, tonumber(top) or 40) do print(string.format("%5d  %s", missing[names[i]], names[i])) end
end
