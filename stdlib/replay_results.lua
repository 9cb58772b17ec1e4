-- replay_results.lua: the whole replay's results, in the host's own Lua state after the bots are done
-- (runtime/host/replay.c): the figures of the bots together, and the figures table of the terminal summary. Its
-- input is the replay's results as --json holds them (docs/report.md).
local metrics = require("metrics")

local M = {}

local SUMMED = { "fees", "trades", "round_trips", "wins", "gross_profit", "gross_loss" }

-- Adds the whole replay's equity (the bots' equities summed at the first bot's bar closes) and figures to data.
function M.complete(data)
  local equity, start, period, bh
  local f = {}
  for _, k in ipairs(SUMMED) do f[k] = 0 end
  for _, b in ipairs(data.bots) do
    local e, g = b.equity, b.figures
    if type(e) == "table" and type(g) == "table" and type(g.start_equity) == "number" then
      if equity then
        equity = metrics.add(equity, e, g.start_equity)
        start = start + g.start_equity
      else
        equity, start, period, bh = e, g.start_equity, b.period, g.buy_hold_return
      end
      for _, k in ipairs(SUMMED) do f[k] = f[k] + (tonumber(g[k]) or 0) end
    end
  end
  if not equity then return data end
  for k, v in pairs(metrics.series(equity, start, data.from, data.to, period)) do f[k] = v end
  f.win_rate = f.round_trips > 0 and f.wins / f.round_trips or nil
  f.profit_factor = f.gross_loss > 0 and f.gross_profit / f.gross_loss or nil
  f.buy_hold_return = bh
  data.period, data.figures = period, f
  data.equity = { time = json.array(equity.time), value = json.array(equity.value) }
  return data
end

-- a percentage; one beyond a million (the annual return of a short, steep span) in 3 digits, not 250
local function pct(x)
  if type(x) ~= "number" or x ~= x then return "-" end
  return string.format(math.abs(x) < 1e4 and "%.2f%%" or "%.3g%%", x * 100)
end
local function num(x) return type(x) == "number" and x == x and math.abs(x) ~= math.huge and string.format("%.2f", x)
  or "-" end
local function days(ms) return type(ms) == "number" and string.format("%.1fd", ms / 86400000) or "-" end

local COLUMNS = {
  { "return", function(f) return pct(f.total_return) end },
  { "annual", function(f) return pct(f.annual_return) end },
  { "max DD", function(f) return pct(f.max_drawdown and (f.max_drawdown > 0 and -f.max_drawdown or 0.0)) end },
  { "DD time", function(f) return days(f.max_drawdown_duration) end },
  { "Sharpe", function(f) return num(f.sharpe) end },
  { "Sortino", function(f) return num(f.sortino) end },
  { "win rate", function(f) return pct(f.win_rate) end },
  { "PF", function(f) return num(f.profit_factor) end },
  { "trades", function(f) return type(f.trades) == "number" and string.format("%d", f.trades) or "-" end },
  { "exposure", function(f) return pct(f.exposure) end },
  { "B&H", function(f) return pct(f.buy_hold_return) end },
}

-- The terminal's figures table: a row per bot and one for the whole replay, every column as wide as its widest
-- cell, numbers aligned right.
function M.table(data)
  local rows = { { "bot" } }
  for _, c in ipairs(COLUMNS) do rows[1][#rows[1] + 1] = c[1] end
  local function row(name, f)
    local r = { name }
    for _, c in ipairs(COLUMNS) do r[#r + 1] = c[2](f) end
    rows[#rows + 1] = r
  end
  for _, b in ipairs(data.bots) do
    if type(b.figures) == "table" then row(b.id, b.figures) end
  end
  if #rows == 1 then return "" end
  if #data.bots > 1 and type(data.figures) == "table" then row("all bots", data.figures) end
  local width = {}
  for _, r in ipairs(rows) do
    for i, cell in ipairs(r) do width[i] = math.max(width[i] or 0, utf8.len(cell) or #cell) end
  end
  local out = {}
  for _, r in ipairs(rows) do
    local cells = {}
    for i, cell in ipairs(r) do
      local pad = string.rep(" ", width[i] - (utf8.len(cell) or #cell))
      cells[i] = i == 1 and cell .. pad or pad .. cell
    end
    out[#out + 1] = table.concat(cells, "  ")
  end
  return table.concat(out, "\n") .. "\n"
end

return M
