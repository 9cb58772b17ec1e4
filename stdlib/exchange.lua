-- exchange.lua: the `exchange` object strategies trade through.
--
-- For now a paper ticker only: GetTicker returns a price that moves (a seeded random walk on the bot's clock),
-- enough for the channel samples. The exchange simulator (orders, accounts, candle files, replay) replaces this
-- module with the platform's full shapes.
local M = {}

local base = 43000.0
local state = { price = base, t = nil }

-- A deterministic walk: each whole second since the first call moves the price by a pseudo-random step.
local function step(seed)
  local x = math.sin(seed * 12.9898) * 43758.5453
  return (x - math.floor(x)) - 0.5
end

function M.GetName()
  return "Paper"
end

function M.GetCurrency()
  return "BTC_USDT"
end

-- GetTicker([symbol]) -> {Symbol, Time, Open, High, Low, Sell, Buy, Last, Volume}
function M.GetTicker(symbol)
  local now = UnixNano() // 1000000
  local sec = now // 1000
  state.t = state.t or sec
  while state.t < sec do
    state.t = state.t + 1
    state.price = state.price * (1 + 0.0005 * step(state.t))
  end
  local last = math.floor(state.price * 100 + 0.5) / 100
  return {
    Symbol = symbol or M.GetCurrency(),
    Time = now,
    Open = base,
    High = math.max(base, last),
    Low = math.min(base, last),
    Sell = last + 0.5,
    Buy = last - 0.5,
    Last = last,
    Volume = 1000 + (sec % 600),
  }
end

return M
