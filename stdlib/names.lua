-- names.lua: the platform's names that stratrun does not have, and the loud failure when a strategy reads one.
--
-- A ported strategy that calls a platform function stratrun lacks must not fail as "attempt to call a nil value
-- (local 'f')" three frames later, nor compare nil with nil: reading the name raises at once, naming it and
-- pointing to docs/platform.md. Only reads of names that are not there are caught (the metatables' __index), so
-- the globals and calls that exist cost nothing, and a strategy's own globals are untouched. A strategy that sets
-- its own metatable on the global table (strict mode) replaces this one.
--
-- guard_globals(env) is called once per bot on its global table (runtime/lua/api.c); guard_exchange(E) by
-- stdlib/exchange.lua on every exchange object.

local M = {}

-- The platform's global functions and objects (its reference, fmz.d.ts) that stratrun does not provide.
local GLOBALS = {
  "EventLoop", "GetMeta", "SysInfo",
  "_T", "__Serve", "__Thread", "__threadGetData", "__threadId",
  "__threadJoin", "__threadPeekMessage", "__threadPending", "__threadPostMessage", "__threadSetData",
  "__threadTerminate", "threading", "Thread", "Lock", "Condition", "Event", "Dict",
}

-- JavaScript names a port often keeps, with what to write in Lua (docs/porting.md).
local JAVASCRIPT = {
  parseInt = "tonumber(s)", parseFloat = "tonumber(s)", JSONParse = "json.decode(s)", JSON = "json.encode / json.decode",
  console = "Log(...)", setTimeout = "a loop with Sleep(ms)", clearTimeout = "a loop with Sleep(ms)",
  fetch = "HttpQuery(url)", sleepAsync = "Sleep(ms)", BigDecimal = "plain numbers and _N(x, digits)",
  BigFloat = "plain numbers and _N(x, digits)", Math = "the math table (math.floor, math.max, ...)",
  Date = "Unix(), UnixNano() and _D()", undefined = "nil", null = "nil (json.null in JSON)",
}

-- The platform's exchange calls stratrun's exchange does not provide (conditional orders, raw venue access),
-- the current API's and the older names strategies still use.
local EXCHANGE = {
  "CancelConditionOrder", "CreateConditionOrder", "GetConditionOrder",
  "GetConditionOrders", "GetData", "GetHistoryConditionOrders",
  "GetMeta", "ModifyConditionOrder", "ModifyOrder", "SetData", "SetProxy",
}

local function set(list)
  local s = {}
  for _, k in ipairs(list) do s[k] = true end
  return s
end
local GLOBAL_SET, EXCHANGE_SET = set(GLOBALS), set(EXCHANGE)

-- The global table's own metatable is kept: its __call is the platform's _G() store (runtime/lua/store.c).
function M.guard_globals(env)
  local mt = getmetatable(env) or {}
  setmetatable(env, mt)
  mt.__index = function(_, k)
    if GLOBAL_SET[k] then
      error(string.format("%s is a platform call stratrun does not provide yet (docs/platform.md lists what it "
        .. "has)", k), 2)
    end
    if JAVASCRIPT[k] then
      error(string.format("%s is JavaScript: in Lua write %s (docs/porting.md)", k, JAVASCRIPT[k]), 2)
    end
  end
end

function M.guard_exchange(E)
  setmetatable(E, { __index = function(_, k)
    if EXCHANGE_SET[k] then
      error(string.format("exchange.%s is a platform call stratrun's exchange does not provide yet "
        .. "(docs/platform.md lists what it has)", k), 2)
    end
    if type(k) == "string" then
      error(string.format("exchange.%s does not exist: the exchange's calls are in docs/exchange.md", k), 2)
    end
  end })
end

-- For the specs: the lists.
M.GLOBALS, M.EXCHANGE, M.JAVASCRIPT = GLOBALS, EXCHANGE, JAVASCRIPT

return M
