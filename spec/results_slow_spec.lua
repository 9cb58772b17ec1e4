-- Spec for a replay's results (issue #15; stdlib/exchange.lua's recording, stdlib/metrics.lua, stdlib/results.lua,
-- stdlib/replay_results.lua, runtime/host/replay.c): `stratrun replay --json/--csv/--report/--quiet`, the figures
-- table of the terminal summary and the progress bar. Every expected number is computed here, from the candle file
-- and the strategy's own log lines, by the definitions of docs/report.md, not by the code under test.
local h = require("helpers")

local T0 = 1704067200000          -- 2024-01-01T00:00:00Z
local D = 86400000
local H = 3600000
local YEAR = 365 * D

-- a and b equal to 1e-9 relative (absolute near 0)
local function near(want, got, what)
  assert(type(got) == "number" and math.abs(want - got) <= 1e-9 * math.max(1e-9, math.abs(want), math.abs(got)),
    string.format("%s: want %.17g, got %s", what or "value", want, tostring(got)))
end

local function replay(dir, args, opts)
  opts = opts or {}
  local argv = { "replay", "--data-dir", dir .. "/data", dir = dir, env = { TZ = "UTC" }, timeout = opts.timeout or 60 }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  return h.run(argv)
end

-- The lines of CSV text as lists of cells (no quoting needed for what these files hold).
local function csv_rows(text)
  local rows = {}
  for line in text:gmatch("[^\n]+") do
    local r = {}
    for cell in (line .. ","):gmatch("([^,]*),") do r[#r + 1] = cell end
    rows[#rows + 1] = r
  end
  return rows
end

-- The figures table's cells for bot id from stdout: the line after the "bot  return  annual ..." header.
local FIG_HEADER = { "bot", "return", "annual", "max", "DD", "DD", "time", "Sharpe", "Sortino", "win", "rate", "PF",
  "trades", "exposure", "B&H" }
local function figures_row(out, id)
  local at = out:find("\nbot +return +annual +max DD +DD time +Sharpe +Sortino +win rate +PF +trades +exposure +B&H\n")
  assert(at, "no figures table in:\n" .. out)
  local rest = out:sub(at + 1)
  local header = rest:match("^[^\n]*")
  local words = {}
  for w in header:gmatch("%S+") do words[#words + 1] = w end
  assert.are.same(FIG_HEADER, words)
  for line in rest:gmatch("[^\n]+") do
    local cells = {}
    for w in line:gmatch("%S+") do cells[#cells + 1] = w end
    if line:sub(1, #id + 1) == id .. " " then return cells end
  end
  error("no figures row for " .. id .. " in:\n" .. rest)
end

local function pct(x) return string.format("%.2f%%", x * 100) end
local function num(x) return string.format("%.2f", x) end

-- Equity-series figures by the definitions (docs/report.md): v sampled at times t, start the starting equity at
-- `from`, period the bar.
local function series_figures(t, v, start, from, to, period)
  local f = { start_equity = start, end_equity = v[#v] }
  f.total_return = v[#v] / start - 1
  f.annual_return = (v[#v] / start) ^ (YEAR / (to - from)) - 1
  local r = {}
  local prev = start
  for i = 1, #v do r[i] = v[i] / prev - 1; prev = v[i] end
  local mean = 0
  for _, x in ipairs(r) do mean = mean + x / #r end
  local ss, down = 0, 0
  for _, x in ipairs(r) do
    ss = ss + (x - mean) ^ 2
    if x < 0 then down = down + x * x end
  end
  f.sharpe = mean / math.sqrt(ss / (#r - 1)) * math.sqrt(YEAR / period)
  f.sortino = mean / math.sqrt(down / #r) * math.sqrt(YEAR / period)
  -- drawdown: depth below the running peak; duration: from a peak until the equity is back at or above it
  local peak, peak_t, dd, dur, below = start, from, 0, 0, false
  for i = 1, #v do
    if v[i] >= peak then
      if below then dur = math.max(dur, t[i] - peak_t) end     -- back at the peak
      peak, peak_t, below = v[i], t[i], false
    else
      below = true
      dd = math.max(dd, (peak - v[i]) / peak)
      dur = math.max(dur, t[i] - peak_t)     -- still under water: at least this long
    end
  end
  f.max_drawdown, f.max_drawdown_duration = dd, dur
  return f
end

-- ---- 1 and 3 and 4: a spot replay computed by hand ---------------------------------------------------------------

-- Ten daily candles: {open, high, low, close}.
local BARS = {
  { 100, 101, 99, 100 }, { 100, 103, 99.5, 102 }, { 102, 106, 101, 105 }, { 105, 105, 97, 98 },
  { 98, 99, 95, 96 }, { 96, 101, 95.5, 100 }, { 100, 104, 99, 103 }, { 103, 104, 99, 101 },
  { 101, 102, 96, 97 }, { 97, 99, 96.5, 99 },
}

local function write_bars(path)
  local lines = { "time,open,high,low,close,volume" }
  for i, b in ipairs(BARS) do
    lines[#lines + 1] = string.format("%d,%s,%s,%s,%s,10", T0 + (i - 1) * D, b[1], b[2], b[3], b[4])
  end
  h.write(path, table.concat(lines, "\n") .. "\n")
end

-- Starts with 1000 USDT and 1 BTC. Bar k closes at T0 + k x D; the bot is woken at every close and settles its
-- orders there (GetAccount), so each fill's line is logged at the close of the bar it filled in.
--   close 1 (100): market sell of the coin held at the start      -> a losing round trip (bought at 100, no fee)
--   close 2 (102): market buy for 500 USDT
--   close 3 (105): market sell of what that bought (a win); a limit buy of 3 at 97.5 (fills in bar 4, low 97)
--   close 6 (100): a limit sell of 1 at 103.5 (fills in bar 7, high 104)                      -> a win
--   close 9 (97):  market sell of the 2 left                                               -> a loss
local HAND = [[
function main()
  local D = 86400000
  exchange.Sell(-1, 1)
  Sleep(D)
  local id = exchange.Buy(-1, 500)
  Sleep(D)
  exchange.Sell(-1, exchange.GetOrder(id).DealAmount)
  exchange.Buy(97.5, 3)
  Sleep(D); exchange.GetAccount()
  Sleep(D); exchange.GetAccount()
  Sleep(D)
  exchange.Sell(103.5, 1)
  Sleep(D); exchange.GetAccount()
  Sleep(D); exchange.GetAccount()
  Sleep(D)
  exchange.Sell(-1, 2)
  while true do Sleep(D); exchange.GetAccount() end
end
]]

describe("a spot replay's results, computed by hand", function()
  local dir, r, quiet, data, bot, log, csvdir
  setup(function()
    dir = h.tmpdir()
    write_bars(dir .. "/bars.csv")
    h.write(dir .. "/config.lua", "exchange = { balance = 1000, stocks = 1, maker_fee = 0.001, taker_fee = 0.002 }\n")
    h.script(dir, HAND, "hand.lua")
    csvdir = dir .. "/results"         -- does not exist yet
    r = replay(dir, { "--market", "csv:" .. dir .. "/bars.csv", "--config", dir .. "/config.lua", "--json",
      dir .. "/out.json", "--csv", csvdir, dir .. "/hand.lua" })
    h.assert_ok(r)
    data = json.decode(h.read(dir .. "/out.json"))
    bot = data.bots[1]
    log = h.parse_order_log(h.read(dir .. "/data/replay/bots/hand/log.txt"))
    quiet = replay(dir, { "--quiet", "--market", "csv:" .. dir .. "/bars.csv", "--config", dir .. "/config.lua",
      dir .. "/hand.lua" })
  end)

  local function close_of(k) return BARS[k][4] end

  -- The fills as the strategy's log tells them, each with `known`: the time of its "Filled" line (when the
  -- account holds it), and `order_at`: the time of its order line.
  local function logged_fills()
    local orders, fills = {}, {}
    for _, e in ipairs(log) do
      if e.kind == "order" then orders[e.id] = e end
      if e.kind == "fill" then
        e.known, e.order_at, e.order_price = e.ms, orders[e.id].ms, orders[e.id].price
        fills[#fills + 1] = e
      end
    end
    return fills
  end

  it("runs from the first bar's close to the last's and holds every fill the log shows, with its order id", function()
    assert.are.equal(T0 + D, data.from)
    assert.are.equal(T0 + 10 * D, data.to)
    assert.are.equal(D, bot.period)
    local fills = logged_fills()
    assert.are.equal(6, #fills)
    assert.are.equal(6, #bot.trades)
    assert.are.equal(6, bot.fills)
    for i, f in ipairs(fills) do
      local tr = bot.trades[i]
      local what = "fill " .. i
      assert.are.equal(f.side, tr.side, what)
      assert.are.equal(f.id, tr.order, what)
      near(f.price, tr.price, what .. " price")
      near(f.amount, tr.amount, what .. " amount")
      near(f.fee, tr.fee, what .. " fee")
      assert.is_nil(tr.effect, what .. ": no effect on spot")
      assert.is_nil(tr.position, what)
      if f.order_price then
        -- a resting limit order: filled at its price, in the first bar after it that reached it, stamped with that
        -- bar's open (its fill line logged at that bar's close)
        local k = (f.order_at - T0) // D + 1
        while not (f.side == "buy" and BARS[k][3] <= f.order_price or f.side == "sell" and BARS[k][2] >= f.order_price) do
          k = k + 1
        end
        assert.are.equal(T0 + (k - 1) * D, tr.time, what .. " time")
        assert.are.equal(T0 + k * D, f.known, what .. " logged at the close of its bar")
        near(f.order_price, tr.price, what .. " at its limit")
        near(f.order_price * f.amount * 0.001, tr.fee, what .. " maker fee")
      else
        -- a market order: filled at once, at the time of its order line
        assert.are.equal(f.order_at, tr.time, what .. " time")
        assert.are.equal(f.order_at, f.known, what)
        near(tr.price * tr.amount * 0.002, tr.fee, what .. " taker fee")
      end
    end
    -- the scenario as planned: which bar each fill's line came at
    local at = {}
    for i, f in ipairs(fills) do at[i] = (f.known - T0) // D end
    assert.are.same({ 1, 2, 3, 4, 7, 9 }, at)
  end)

  -- cash and coins after the fills known by time t
  local function holdings(fills, t)
    local cash, coins = 1000, 1
    for _, f in ipairs(fills) do
      if f.known <= t then
        if f.side == "buy" then
          cash, coins = cash - f.price * f.amount - f.fee, coins + f.amount
        else
          cash, coins = cash + f.price * f.amount - f.fee, coins - f.amount
        end
      end
    end
    return cash, coins
  end

  it("has the equity at every bar's close: cash + coins x close, from the fills and the candle file", function()
    local fills = logged_fills()
    assert.are.equal(10, #bot.equity.time)
    assert.are.equal(10, #bot.equity.value)
    for k = 1, 10 do
      local t = T0 + k * D
      assert.are.equal(t, bot.equity.time[k])
      local cash, coins = holdings(fills, t)
      near(cash + coins * close_of(k), bot.equity.value[k], "equity at the close of bar " .. k)
    end
    near(bot.value, bot.equity.value[10], "the last equity is the summary's value")
    -- one bot: the whole replay's equity is its own
    assert.are.same(bot.equity, data.equity)
  end)

  -- The figures computed here from the candles and the log.
  local function expected()
    local fills = logged_fills()
    local t, v = {}, {}
    for k = 1, 10 do
      local cash, coins = holdings(fills, T0 + k * D)
      t[k], v[k] = T0 + k * D, cash + coins * close_of(k)
    end
    local f = series_figures(t, v, 1000 + 1 * close_of(1), T0 + D, T0 + 10 * D, D)
    -- round trips: each sell against the oldest coins (the one held at the start bought at the first close, no fee)
    local pnls = h.spot_round_trips(fills, 1, close_of(1))
    local wins, gain, loss = 0, 0, 0
    for _, p in ipairs(pnls) do
      if p > 0 then wins, gain = wins + 1, gain + p else loss = loss - p end
    end
    f.round_trips, f.wins, f.gross_profit, f.gross_loss = #pnls, wins, gain, loss
    f.win_rate, f.profit_factor = wins / #pnls, gain / loss
    local held, fees = 0, 0
    for k = 1, 10 do
      local _, coins = holdings(fills, T0 + k * D)
      if coins > 1e-9 then held = held + 1 end
    end
    for _, x in ipairs(fills) do fees = fees + x.fee end
    f.exposure, f.trades, f.fees = held / 10, #fills, fees
    f.buy_hold_return = close_of(10) / close_of(1) - 1
    return f, pnls
  end

  it("has figures equal to those computed by their definitions", function()
    local want, pnls = expected()
    -- the scenario has what it means to test: two winning and two losing round trips, a drawdown that recovers
    assert.are.same({ false, true, true, false }, { pnls[1] > 0, pnls[2] > 0, pnls[3] > 0, pnls[4] > 0 })
    assert(want.max_drawdown > 0 and want.max_drawdown_duration > 0)
    local got = bot.figures
    for _, k in ipairs({ "start_equity", "end_equity", "total_return", "annual_return", "max_drawdown", "sharpe",
                         "sortino", "gross_profit", "gross_loss", "win_rate", "profit_factor", "exposure", "fees",
                         "buy_hold_return" }) do
      near(want[k], got[k], k)
    end
    for _, k in ipairs({ "max_drawdown_duration", "round_trips", "wins", "trades" }) do
      assert.are.equal(want[k], got[k], k)
    end
    assert.are.equal(0.5, got.win_rate)
    assert.are.equal(0.6, got.exposure)
    -- one bot: the whole replay's figures are its own
    for _, k in ipairs({ "total_return", "max_drawdown", "sharpe", "sortino", "win_rate", "profit_factor" }) do
      near(want[k], data.figures[k], "whole replay " .. k)
    end
  end)

  it("shows the same figures, rounded, in the terminal's figures table", function()
    local f = expected()
    local cells = figures_row(r.out, "hand")
    assert.are.same({ "hand", pct(f.total_return), pct(f.annual_return), pct(-f.max_drawdown),
      string.format("%.1fd", f.max_drawdown_duration / D), num(f.sharpe), num(f.sortino), pct(f.win_rate),
      num(f.profit_factor), "6", pct(f.exposure), pct(f.buy_hold_return) }, cells)
    assert.are.equal("-1.00%", cells[12])
    assert.is_falsy(r.out:find("\nall bots ", 1, true), "one bot: no whole-replay row")
  end)

  it("--csv makes its folder and writes fills.csv and equity.csv with exactly the --json's rows", function()
    local fills = csv_rows(assert(h.read(csvdir .. "/fills.csv"), "no fills.csv"))
    assert.are.same({ "bot", "time_ms", "exchange", "side", "price", "amount", "fee", "order", "effect", "position",
      "pnl" }, fills[1])
    assert.are.equal(#bot.trades + 1, #fills)
    for i, tr in ipairs(bot.trades) do
      local row = fills[i + 1]
      assert.are.same({ "hand", tr.time, "1", tr.side, tr.price, tr.amount, tr.fee, tr.order, "", "", "" },
        { row[1], tonumber(row[2]), row[3], row[4], tonumber(row[5]), tonumber(row[6]), tonumber(row[7]),
          tonumber(row[8]), row[9], row[10], row[11] })
    end
    local eq = csv_rows(assert(h.read(csvdir .. "/equity.csv"), "no equity.csv"))
    assert.are.same({ "bot", "time_ms", "equity" }, eq[1])
    assert.are.equal(#bot.equity.time + 1, #eq)
    for i = 1, #bot.equity.time do
      assert.are.same({ "hand", bot.equity.time[i], bot.equity.value[i] },
        { eq[i + 1][1], tonumber(eq[i + 1][2]), tonumber(eq[i + 1][3]) })
    end
  end)

  it("--quiet keeps the strategy's log lines off stdout, in log.txt, and the summary tables on stdout", function()
    h.assert_ok(quiet)
    local lines = {}
    -- the log file's own start and stop lines never reach stdout (docs/bots.md#the-log-file)
    local file = h.read(dir .. "/data/replay/bots/hand/log.txt")
    for line in h.without_host_lines(file):gmatch("[^\n]+") do lines[#lines + 1] = line end
    assert.are.equal(2, #h.lines(file) - #lines)
    assert(#lines >= 10, "log.txt holds the order and fill lines")
    for _, line in ipairs(lines) do
      h.assert_has(r.out, line .. "\n")           -- without --quiet: on stdout
      assert.is_falsy(quiet.out:find(line, 1, true), "--quiet printed a log line: " .. line)
    end
    -- the same log in both runs, and stdout is the summary alone: what the loud run printed less its log lines
    local loud = r.out
    for _, line in ipairs(lines) do loud = loud:gsub(line:gsub("%p", "%%%0") .. "\n", "", 1) end
    assert.are.equal(loud, quiet.out)
    h.assert_has(quiet.out, "\nbot              status  orders")
    assert.are.same(figures_row(r.out, "hand"), figures_row(quiet.out, "hand"))
  end)

  it("--quiet still shows a strategy's error on stderr", function()
    local d = h.tmpdir()
    h.script(d, 'function main() Log("an info line") Sleep(60000) error("boom here") end\n', "e.lua")
    local q = replay(d, { "--quiet", "--market", "sim:seed=1,bars=5", "e.lua" })
    assert.are.equal(1, q.code)
    assert.is_falsy(q.out:find("an info line", 1, true), q.out)
    assert.is_falsy(q.out:find("boom", 1, true), q.out)
    h.assert_has(q.err, " error: e.lua:1: boom here\n")
    h.assert_has(q.out, "\ne     ")      -- its row in the summary
    local logtext = h.read(d .. "/data/replay/bots/e/log.txt")
    h.assert_has(logtext, " an info line\n")
    h.assert_has(logtext, " error: e.lua:1: boom here\n")
  end)
end)

-- ---- 2: futures --------------------------------------------------------------------------------------------------

-- 24 flat hourly candles: up 200 a bar to 41000 (bar 5), then down 300 a bar.
local function fut_price(i) return i <= 5 and 40000 + 200 * i or 41000 - 300 * (i - 5) end

describe("a futures replay's results", function()
  local dir, r, data, fut, liq, futlog, liqlog, csvdir
  setup(function()
    dir = h.tmpdir()
    local lines = { "time,open,high,low,close,volume" }
    for i = 0, 23 do
      local p = fut_price(i)
      lines[#lines + 1] = string.format("%d,%d,%d,%d,%d,10", T0 + i * H, p, p, p, p)
    end
    h.write(dir .. "/m.csv", table.concat(lines, "\n") .. "\n")
    h.write(dir .. "/c.lua", 'exchange = { kind = "futures", balance = 10000, funding_rate = 0 }\n'
      .. 'bots = { liq = { exchange = { balance = 1000 } } }\n')
    h.script(dir, [[
function main()
  local H = 3600000
  exchange.SetContractType("swap")
  exchange.SetDirection("buy")
  exchange.Buy(-1, 1)
  Sleep(4 * H)
  exchange.SetDirection("closebuy")
  exchange.Sell(-1, 1)
  Sleep(H)
  exchange.SetDirection("sell")
  exchange.Sell(-1, 2)
  Sleep(6 * H)
  exchange.SetDirection("closesell")
  exchange.Buy(-1, 2)
  while true do Sleep(H); exchange.GetPosition() end
end
]], "fut.lua")
    h.script(dir, [[
function main()
  exchange.SetContractType("swap")
  exchange.SetMarginLevel(50)
  exchange.SetDirection("buy")
  exchange.Buy(-1, 1)
  while true do Sleep(3600000); exchange.GetPosition() end
end
]], "liq.lua")
    csvdir = dir .. "/csv"
    r = replay(dir, { "--market", "csv:" .. dir .. "/m.csv", "--config", dir .. "/c.lua", "--json", dir .. "/out.json",
      "--csv", csvdir, dir .. "/fut.lua", dir .. "/liq.lua" })
    h.assert_ok(r)
    data = json.decode(h.read(dir .. "/out.json"))
    fut, liq = data.bots[1], data.bots[2]
    futlog = h.parse_order_log(h.read(dir .. "/data/replay/bots/fut/log.txt"))
    liqlog = h.read(dir .. "/data/replay/bots/liq/log.txt")
  end)

  it("marks each fill open or close, long or short, with the closes' realized P&L as the log says", function()
    assert.are.equal("fut", fut.id)
    local fills = h.of_kind(futlog, "fill")
    assert.are.equal(4, #fills)
    assert.are.equal(4, #fut.trades)
    local want = { { "buy", "open", "long" }, { "sell", "close", "long" }, { "sell", "open", "short" },
      { "buy", "close", "short" } }
    for i, tr in ipairs(fut.trades) do
      local f = fills[i]
      assert.are.same(want[i], { tr.side, tr.effect, tr.position }, "fill " .. i)
      assert.are.same({ f.side, f.id, f.ms }, { tr.side, tr.order, tr.time }, "fill " .. i)
      near(f.price, tr.price, "price")
      near(f.amount, tr.amount, "amount")
      near(f.fee, tr.fee, "fee")
    end
    -- an open realizes nothing (0 today; nil would do as well)
    assert.is_true(fut.trades[1].pnl == nil or fut.trades[1].pnl == 0)
    assert.is_true(fut.trades[3].pnl == nil or fut.trades[3].pnl == 0)
    near((fut.trades[2].price - fut.trades[1].price) * 1, fut.trades[2].pnl, "long's P&L")
    near((fut.trades[3].price - fut.trades[4].price) * 2, fut.trades[4].pnl, "short's P&L")
    near(fills[2].profit, fut.trades[2].pnl, "the log's profit")
    near(fills[4].profit, fut.trades[4].pnl, "the log's profit")
  end)

  it("has the equity at every close: wallet + the open positions' unrealized P&L, and ends at the value", function()
    assert.are.equal(24, #fut.equity.value)
    local held = 0
    for k = 1, 24 do
      local t = T0 + k * H
      local close = fut_price(k - 1)
      local e, pos = 10000, {}
      for _, tr in ipairs(fut.trades) do
        if tr.time <= t then
          e = e - tr.fee + (tr.pnl or 0)
          if tr.effect == "open" then pos[#pos + 1] = tr else pos = {} end
        end
      end
      for _, p in ipairs(pos) do
        e = e + (p.position == "long" and 1 or -1) * (close - p.price) * p.amount
      end
      if #pos > 0 then held = held + 1 end
      assert.are.equal(t, fut.equity.time[k])
      near(e, fut.equity.value[k], "equity at bar " .. k)
    end
    near(fut.value, fut.equity.value[24], "fut: the last equity is the summary's value")
    near(liq.value, liq.equity.value[#liq.equity.value], "liq: the last equity is the summary's value")
    assert.are.equal(10, held)
    near(10 / 24, fut.figures.exposure, "exposure: bars with a position")
    assert.are.same({ 2, 2 }, { fut.figures.round_trips, fut.figures.wins })
  end)

  it("records a liquidation as a fill without an order, at the price and time its log line says", function()
    local price, at, forfeit = liqlog:match("exchange: liquidated at (%S+) on (%d+%-%d+%-%d+ %d+:%d+) UTC: .-; (%S+) USDT forfeit")
    assert.is_truthy(price, "a liquidation line in:\n" .. liqlog)
    assert.are.equal(2, #liq.trades)
    local open, l = liq.trades[1], liq.trades[2]
    assert.are.same({ "buy", "open", "long" }, { open.side, open.effect, open.position })
    assert.are.same({ "sell", "liquidation", "long", 0 }, { l.side, l.effect, l.position, l.fee })
    assert.is_nil(l.order)
    near(tonumber(price), l.price, "liquidation price")
    assert.are.equal(at, os.date("!%Y-%m-%d %H:%M", l.time // 1000))
    near((l.price - open.price) * 1, l.pnl, "the long's loss")
    assert.are.equal(1, liq.futures.liquidations)
    -- the wallet ends at 0: the start, less the open's fee, plus the P&L, less what was forfeit
    near(tonumber(forfeit), 1000 - open.fee + l.pnl, "what is forfeit is what was left")
    near(0, liq.equity.value[#liq.equity.value], "the equity after a liquidation")
    near(-1, liq.figures.total_return, "all lost")
  end)

  it("sums the bots' equities for the whole replay and shows an `all bots` row", function()
    for k = 1, #fut.equity.time do
      assert.are.equal(fut.equity.time[k], data.equity.time[k])
      near(fut.equity.value[k] + liq.equity.value[k], data.equity.value[k], "whole equity " .. k)
    end
    near(11000, data.figures.start_equity, "both bots' start")
    assert.are.equal(6, data.figures.trades)
    local row = figures_row(r.out, "all bots")
    assert.are.equal(pct(data.figures.total_return), row[3])
    assert.are.equal(pct(-1), figures_row(r.out, "liq")[2])
  end)

  it("--csv writes the futures columns, and nothing for a liquidation's order", function()
    local rows = csv_rows(h.read(csvdir .. "/fills.csv"))
    assert.are.equal(1 + #fut.trades + #liq.trades, #rows)
    local all = {}
    for _, tr in ipairs(fut.trades) do all[#all + 1] = { "fut", tr } end
    for _, tr in ipairs(liq.trades) do all[#all + 1] = { "liq", tr } end
    for i, x in ipairs(all) do
      local row, tr = rows[i + 1], x[2]
      assert.are.same({ x[1], tr.time, tr.side, tr.price, tr.amount, tr.fee, tr.order, tr.effect, tr.position, tr.pnl },
        { row[1], tonumber(row[2]), row[4], tonumber(row[5]), tonumber(row[6]), tonumber(row[7]), tonumber(row[8]),
          row[9], row[10], tonumber(row[11]) })
    end
    assert.are.equal("", rows[#rows][8])
    local eq = csv_rows(h.read(csvdir .. "/equity.csv"))
    assert.are.equal(1 + #fut.equity.time + #liq.equity.time, #eq)
    assert.are.same({ "liq", liq.equity.time[1], liq.equity.value[1] },
      { eq[2 + #fut.equity.time][1], tonumber(eq[2 + #fut.equity.time][2]), tonumber(eq[2 + #fut.equity.time][3]) })
  end)
end)

-- ---- 5 and 6: the README's sample replay -------------------------------------------------------------------------

describe("the README's sample replay (master, follower, broadcaster, monitor)", function()
  local dir, a, b, data
  local function sample(name)
    local s = h.source .. "/strategies/"
    local r = replay(dir, { "--market", "sim:seed=42,bars=2880", "-p", "master=632799",
      "-p", "bots=632799,632800,632801", "-p", "632801.rounds=30", "-p", "632801.interval=60000",
      "--json", dir .. "/" .. name .. ".json", "--report", dir .. "/" .. name .. ".html",
      s .. "master.lua@632799", s .. "follower.lua@632800", s .. "broadcaster.lua@632801", s .. "monitor.lua@632802" })
    h.assert_ok(r)
    return r
  end
  setup(function()
    dir = h.tmpdir()
    a = sample("a")
    b = sample("b")
    data = json.decode(h.read(dir .. "/a.json"))
  end)

  it("writes byte-identical --json and --report files, run after run", function()
    local ja, jb = h.read(dir .. "/a.json"), h.read(dir .. "/b.json")
    local ha, hb = h.read(dir .. "/a.html"), h.read(dir .. "/b.html")
    assert(#ja > 10000 and #ha > 10000, "real results")
    assert(ja == jb, "the two --json files differ")
    assert(ha == hb, "the two --report files differ")
    assert.are.equal(a.out, b.out)
    assert.are.equal(#data.bots, #json.decode(h.read(dir .. "/b.json")).bots)
    -- the follower traded, so the files are not empty of what could differ
    assert(#data.bots[2].trades > 10)
  end)

  it("shows each bot's figures and the whole replay's in the figures table, as the --json has them", function()
    local function cell(x, fmt) return type(x) == "number" and fmt(x) or "-" end
    local function row(name, f)
      return { name, cell(f.total_return, pct), cell(f.annual_return, pct),
        cell(f.max_drawdown, function(x) return pct(x > 0 and -x or 0.0) end),
        cell(f.max_drawdown_duration, function(x) return string.format("%.1fd", x / D) end), cell(f.sharpe, num),
        cell(f.sortino, num), cell(f.win_rate, pct), cell(f.profit_factor, num), string.format("%d", f.trades),
        cell(f.exposure, pct), cell(f.buy_hold_return, pct) }
    end
    for _, bot in ipairs(data.bots) do
      assert.are.same(row(bot.id, bot.figures), figures_row(a.out, bot.id))
    end
    local all = figures_row(a.out, "all bots")
    table.remove(all, 1)
    all[1] = "all bots"
    assert.are.same(row("all bots", data.figures), all)
    -- the follower's row as it reads (a losing two days)
    assert.are.equal("-0.78%", figures_row(a.out, "632800")[2])
  end)

  it("has one publication per SetChannelData of the master, and the follower's reads of them", function()
    local m, f = data.bots[1], data.bots[2]
    assert.are.same({ "632799", "632800" }, { m.id, f.id })
    -- the master publishes at every bar close from the first to the last, its data's timestamp the time
    local pubs = m.publications
    assert.are.equal((data.to - data.from) // 60000 + 1, #pubs)
    assert.are.equal(0, m.publications_dropped)
    local seqs = {}
    for i, p in ipairs(pubs) do
      local d = json.decode(p.data)
      assert.are.equal("BTC_USDT", d.symbol)
      assert.are.equal(p.time, d.timestamp, "publication " .. i)
      assert.are.equal(data.from + (i - 1) * 60000, p.time)
      assert(p.time >= data.from and p.time <= data.to)
      if i > 1 then assert(p.seq > pubs[i - 1].seq, "seq increases") end
      seqs[p.seq] = p.time
    end
    assert.are.same({}, m.reads)
    -- the follower reads every 5 s: each new state of 632799 once, at or after it was published
    assert(#f.reads > 100)
    assert.are.same({}, f.publications)
    local last = -1
    for i, rd in ipairs(f.reads) do
      assert.are.equal("632799", rd.channel)
      assert(seqs[rd.seq], "read " .. i .. ": seq " .. rd.seq .. " was published by the master")
      assert(rd.time >= seqs[rd.seq] and rd.time < seqs[rd.seq] + 60000, "read " .. i .. " after its publication")
      assert(rd.seq > last, "a new state each read")
      last = rd.seq
    end
    -- the monitor reads both publishers
    local chans = {}
    for _, rd in ipairs(data.bots[4].reads) do chans[rd.channel] = true end
    assert.are.same({ ["632799"] = true, ["632801"] = true }, chans)
    assert.are.equal(30, #data.bots[3].publications)
  end)
end)

-- ---- 7: LogProfit and Chart ---------------------------------------------------------------------------------------

describe("LogProfit and Chart in --json", function()
  it("holds the profit series and the chart's series at their virtual times", function()
    local dir = h.tmpdir()
    h.script(dir, [[
function main()
  local t0 = UnixNano() // 1000000
  local c = Chart({ title = { text = "Signals" }, series = { { name = "fast" }, { name = "slow" } } })
  LogProfit(1.5)
  c.add(0, { t0 + 1000, 10.5 })
  c.add(1, 20)
  Sleep(120000)
  LogProfit(-2.25)
  c.add(0, { t0 + 121000, 11.25 })
  c.add(1, 21.5)
  Sleep(180000)
  LogProfit(3)
  c.add(0, { t0 + 301000, 9 })
end
]], "plot.lua")
    local r = replay(dir, { "--market", "sim:seed=3,bars=20", "--json", dir .. "/out.json", dir .. "/plot.lua" })
    h.assert_ok(r)
    local data = json.decode(h.read(dir .. "/out.json"))
    local b, t0 = data.bots[1], data.from
    assert.are.same({ time = { t0, t0 + 120000, t0 + 300000 }, value = { 1.5, -2.25, 3 } }, b.profit)
    assert.are.equal(1, #b.charts)
    local c = b.charts[1]
    assert.are.equal("Signals", c.title)
    assert.are.equal(2, #c.series)
    assert.are.same({ "fast", { t0 + 1000, t0 + 121000, t0 + 301000 }, { 10.5, 11.25, 9 } },
      { c.series[1].name, c.series[1].time, c.series[1].value })
    -- a point without its own x is at the (virtual) time it was added
    assert.are.same({ "slow", { t0, t0 + 120000 }, { 20, 21.5 } },
      { c.series[2].name, c.series[2].time, c.series[2].value })
  end)
end)

-- ---- 8: the progress bar in a real terminal -----------------------------------------------------------------------

describe("the progress bar", function()
  it("in a real terminal, shows an ETA, never shares a line with a log line and is gone at the end", function()
    if h.sh("command -v tmux >/dev/null") ~= 0 then pending("tmux is not installed") return end
    local dir = h.tmpdir()
    -- 20,000 bars, each costing ~0.15 ms of CPU so the replay lasts seconds; a log line every 1,000 bars
    h.script(dir, [[
function main()
  local n = 0
  while true do
    Sleep(60000)
    n = n + 1
    local c = os.clock()
    while os.clock() - c < 0.00015 do end
    if n % 1000 == 0 then Log("tick", n, "bars") end
  end
end
]], "slow.lua")
    local screen, kill = h.tmux(string.format("cd %s && TZ=UTC %s replay --data-dir d --market "
      .. "sim:seed=1,bars=20000 slow.lua; echo $? > rc; sleep 60", h.quote(dir), h.quote(h.bin)), 120, 30)
    finally(kill)
    local started = UnixNano()
    local bars, eta, ticks_seen = 0, 0, 0
    local function check(s)
      for line in s:gmatch("[^\n]+") do
        if line:find("replay [", 1, true) then
          bars = bars + 1
          assert.is_falsy(line:find("tick", 1, true), "the bar shares a line with a log line:\n" .. s)
          assert(line:find("^replay %[[^%]]*%] +%d+%% %d+%-%d+%-%d+ %d+:%d+ UTC"), "the bar:\n" .. s)
          if line:find(" ETA %d+:%d%d") then eta = eta + 1 end
        elseif line:find("tick", 1, true) then
          ticks_seen = ticks_seen + 1
          assert(line:find("^%d%d%d%d%-%d%d%-%d%d %d%d:%d%d:%d%d%.%d%d%d tick %d+ bars$"), "a whole log line:\n" .. s)
        end
      end
    end
    while not h.exists(dir .. "/rc") and UnixNano() - started < 60e9 * h.time_scale do
      check(screen())
      Sleep(200)
    end
    local took = (UnixNano() - started) / 1e9
    assert.are.equal("0\n", h.read(dir .. "/rc"))
    assert(took > 2, "the replay took " .. took .. " s: too short for an ETA")
    assert(bars > 0, "no progress bar seen")
    assert(eta > 0, "no ETA seen on the bar")
    assert(ticks_seen > 0)
    local s = screen()
    check(s)
    -- (stdout and stderr are written by two threads: the bar's last erase must not come after stderr's
    -- "replay took" line, which would then share the bar's line and leave the bar on screen)
    assert.is_falsy(s:find("replay [", 1, true), "the bar is left at the end:\n" .. s)
    assert.matches("\nbot +return +annual", s)
    assert.matches("\nslow +0 +0 +0 ", s)
    h.assert_has(s, " tick 19000 bars\n")
  end)
end)

-- ---- 9: bad output paths ------------------------------------------------------------------------------------------

describe("output paths that cannot be written", function()
  local dir
  setup(function()
    dir = h.tmpdir()
    h.script(dir, 'function main() Log("ran") end\n', "s.lua")
    h.write(dir .. "/file", "x")
  end)

  local function refused(args, message)
    local argv = { "--market", "sim:seed=1,bars=10" }
    for _, a in ipairs(args) do argv[#argv + 1] = a end
    argv[#argv + 1] = dir .. "/s.lua"
    local r = replay(dir, argv)
    assert.are.equal(2, r.code, r.out .. r.err)
    assert.are.equal("stratrun: " .. message .. "\n", r.err)
    -- said at the start: nothing ran
    assert.is_falsy(r.out:find("ran", 1, true), r.out)
  end

  it("--csv naming a regular file is refused at the start, naming the path", function()
    refused({ "--csv", dir .. "/file" }, "option --csv: '" .. dir .. "/file' is neither a folder nor one that can be "
      .. "made in an existing folder")
  end)

  it("--report into a folder that does not exist is refused at the start, naming the path", function()
    refused({ "--report", dir .. "/nowhere/r.html" },
      "option --report: the folder of '" .. dir .. "/nowhere/r.html' does not exist (" .. dir .. "/nowhere)")
  end)

  it("--json into a folder that does not exist, likewise", function()
    refused({ "--json", dir .. "/nowhere/r.json" },
      "option --json: the folder of '" .. dir .. "/nowhere/r.json' does not exist (" .. dir .. "/nowhere)")
  end)
end)
