-- Spec for the status panel on a terminal (runtime/core/termpanel.c, docs/bots.md "The status panel"): read in a
-- real terminal (tmux), with its scrollback, where a redraw that miscounted rows leaves copies of the panel.
local h = require("helpers")

local width = require("stratrun.log").width

-- A strategy that logs a line, writes a warning to stderr every third turn, and sets a panel of `height` lines
-- `wide` columns wide (with Chinese in it) each turn; then says "done" and waits, so the pane stays as it is.
local STRATEGY = [[
wide = wide or 90
height = height or 5
n = n or 30
function main()
  for i = 1, n do
    Log("log " .. i)
    if i % 3 == 0 then io.stderr:write("warn " .. i .. "\n") end
    local lines = {"top " .. i .. " " .. string.rep("=", wide)}
    for k = 2, height do lines[k] = "row " .. k .. " 止损 " .. string.rep("x", wide) end
    LogStatus(table.concat(lines, "\n"))
    Sleep(20)
  end
  Log("done")
  Sleep(600000)
end
]]

local function lines_of(text)
  local t = {}
  for l in (text .. "\n"):gmatch("(.-)\n") do t[#t + 1] = l end
  while #t > 0 and t[#t] == "" do t[#t] = nil end
  return t
end

local function count(text, pattern)
  return select(2, text:gsub(pattern, ""))
end

-- Starts the strategy in a cols x rows terminal with the given parameters; returns screen(), history(), more (as
-- h.tmux) and the folder.
local function start(cols, rows, params)
  local dir = h.tmpdir()
  h.write(dir .. "/s.lua", STRATEGY)
  local args = {}
  for k, v in pairs(params or {}) do args[#args + 1] = string.format("-p %s=%s", k, v) end
  local screen, kill, more = h.tmux(string.format("cd %s && %s --id panel --data-dir d %s s.lua; sleep 600",
    h.quote(dir), h.quote(h.bin), table.concat(args, " ")), cols, rows)
  finally(kill)
  assert(h.eventually(function() return more.history():find(" done\n", 1, true) end, 20), "no done:\n" .. screen())
  return screen, more.history, more, dir
end

-- Every log line and warning once, in order; exactly one panel (the last) in the whole scrollback.
local function check_history(history, n)
  local at = 0
  for i = 1, n do
    local s, e = history:find("log " .. i .. "\n", at + 1, true)
    assert(s, "log " .. i .. " missing or out of order:\n" .. history)
    at = e
    if i % 3 == 0 then
      assert(history:find("\nwarn " .. i .. "\n", 1, true), "warn " .. i .. " was wiped:\n" .. history)
      assert.are.equal(1, count(history, "\nwarn " .. i .. "\n"), history)
    end
  end
  assert.are.equal(1, count(history, "\ntop %d+ "), "stale panels in the scrollback:\n" .. history)
  assert.truthy(history:find("\ntop " .. n .. " ", 1, true), history)
end

describe("the status panel on a terminal", function()
  it("at 80x24, a panel wider than the terminal is cut to its width and leaves no stale copy", function()
    local screen, history, _, dir = start(80, 24, { wide = 90, n = 30 })
    check_history(history(), 30)
    local rows = 0
    for _, l in ipairs(lines_of(screen())) do
      assert.truthy(width(l) <= 80, l)
      if l:match("^row %d") then
        rows = rows + 1
        assert.are.equal(79, width(l), "a panel row is cut at 79 columns: " .. l)   -- CJK counted two
      end
    end
    assert.are.equal(4, rows, screen())
    -- status.txt keeps the whole panel, uncut
    local status = h.read(dir .. "/d/bots/panel/status.txt")
    assert.truthy(status:find("\nrow 5 止损 " .. string.rep("x", 90) .. "\n", 1, true), status)
  end)

  it("at 80x24, a panel taller than the screen is cut with a line saying how many more there are", function()
    local screen, history = start(80, 24, { wide = 10, height = 40, n = 8 })
    check_history(history(), 8)
    local ls = lines_of(screen())
    -- 23 rows for the panel (the cursor keeps the 24th): 22 of its lines and the footer
    assert.are.equal("... 18 more lines (status.txt has them all)", ls[#ls], screen())
    assert.are.equal("top 8 " .. string.rep("=", 10), ls[#ls - 22], screen())
  end)

  it("at 200x50, the same panel is drawn whole", function()
    local screen, history = start(200, 50, { wide = 90, n = 30 })
    check_history(history(), 30)
    local s, whole = screen(), 0
    for _, l in ipairs(lines_of(s)) do
      if l:match("^row %d 止损 " .. string.rep("x", 90) .. "$") then whole = whole + 1 end
    end
    assert.are.equal(4, whole, s)
    assert.falsy(s:find("more lines", 1, true), s)
  end)

  it("is drawn again at a resized terminal's width, narrower then wider, with no stale rows", function()
    local screen, history, more = start(120, 30, { wide = 100, n = 10 })
    more.resize(60, 30)
    assert(h.eventually(function() return screen():find("\ntop 10 " .. string.rep("=", 52) .. "\n", 1, true) end, 5),
      "not drawn again at 60 columns:\n" .. screen())
    check_history(history(), 10)
    more.resize(150, 30)
    assert(h.eventually(function() return screen():find("\ntop 10 " .. string.rep("=", 100) .. "\n", 1, true) end, 5),
      "not drawn again at 150 columns:\n" .. screen())
    check_history(history(), 10)
  end)

  it("writes a warning of the channel engine's thread above the panel, where the next redraw leaves it", function()
    local dir = h.tmpdir()
    h.write(dir .. "/s.lua", [[
Log("ready")
local i = 0
while true do
  i = i + 1
  GetChannelData("other")
  LogStatus("panel " .. i .. "\nsecond row")
  Sleep(50)
end
]])
    local screen, kill, more = h.tmux(string.format("cd %s && %s --id follower --data-dir d s.lua; sleep 600",
      h.quote(dir), h.quote(h.bin)), 80, 24)
    finally(kill)
    assert(h.eventually(function() return screen():find("panel 3", 1, true) end, 20), screen())
    -- a damaged state where the follower reads channel other: the engine thread warns, once
    h.write(dir .. "/d/channels/.other.tmp", "not a channel frame")
    assert(h.sh(string.format("chmod 600 %s && mv %s %s", h.quote(dir .. "/d/channels/.other.tmp"),
      h.quote(dir .. "/d/channels/.other.tmp"), h.quote(dir .. "/d/channels/other"))) == 0)
    assert(h.eventually(function() return screen():find("warning: channel other: skipped", 1, true) end, 10),
      screen())
    Sleep(500)      -- ten redraws later the warning is still on the screen, above the panel
    local ls = lines_of(screen())
    assert.truthy(screen():find("warning: channel other: skipped", 1, true), screen())
    assert.truthy(ls[#ls - 1]:match("^panel %d+$"), screen())
    assert.are.equal("second row", ls[#ls])
    local hist = more.history()
    assert.are.equal(1, count(hist, "\npanel %d+\n"), hist)
  end)

  it("keeps a status's control characters from the terminal", function()
    local dir = h.tmpdir()
    h.write(dir .. "/s.lua", [[
Log("before")
LogStatus("a\27[2Jb\rc\27[31md\tz")
Log("after")
Sleep(600000)
]])
    local screen, kill, more = h.tmux(string.format("cd %s && %s --id esc --data-dir d s.lua; sleep 600",
      h.quote(dir), h.quote(h.bin)), 80, 24)
    finally(kill)
    assert(h.eventually(function() return screen():find("after", 1, true) end, 20), screen())
    local s = more.history()
    -- the screen was not cleared (the log line before is there), the cursor not moved back (one line), no colour
    assert.truthy(s:find(" before\n", 1, true), s)
    local ls = lines_of(screen())
    assert.are.equal("a[2Jbc[31md     z", ls[#ls], s)     -- the tab: spaces to column 16
  end)

  it("shows one labelled panel per bot in `stratrun run`", function()
    local dir = h.tmpdir()
    for _, id in ipairs({ "alpha", "beta" }) do
      h.write(dir .. "/" .. id .. ".lua", string.format([[
function main()
  for i = 1, 20 do LogStatus("%s status " .. i) Log("%s " .. i) Sleep(10) end
  Log("%s done")
  Sleep(600000)
end
]], id, id, id))
    end
    local screen, kill, more = h.tmux(string.format("cd %s && %s run --data-dir d alpha.lua@alpha beta.lua@beta; "
      .. "sleep 600", h.quote(dir), h.quote(h.bin)), 80, 24)
    finally(kill)
    assert(h.eventually(function()
      local s = screen()
      return s:find("alpha done", 1, true) and s:find("beta done", 1, true)
    end, 20), screen())
    local hist = more.history()
    local ls = lines_of(screen())
    assert.are.same({ "[alpha]", "alpha status 20", "[beta]", "beta status 20" }, { table.unpack(ls, #ls - 3) }, hist)
    assert.are.equal(1, count(hist, "\n%[alpha%]\n"), hist)
    assert.are.equal(1, count(hist, "alpha status"), hist)
    assert.are.equal(1, count(hist, "beta status"), hist)
  end)
end)
