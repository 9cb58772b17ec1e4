-- Spec for the platform's global helpers (stdlib/platform.lua, runtime/lua/platform.c, runtime/lua/log.c,
-- runtime/core/cmdqueue.c): _C and _CDelay, GetCommand with `stratrun cmd`, LogProfit and LogProfitReset, the log
-- switches, Version and GetPid, through real stratrun processes, live and in replays.
local h = require("helpers")

-- Runs text as a bot in a new folder: mode "live" (--id bot1) or "replay"; returns {code, out, err, dir, bot}.
local function run(text, mode, extra)
  return h.run_bot(text, { mode = mode, args = extra })
end

local function count(text, plain)
  local n = 0
  for _ in text:gmatch(plain:gsub("%p", "%%%0")) do n = n + 1 end
  return n
end

describe("_C", function()
  it("retries while the result is nil or false, every 3 s of a replay's clock, and passes the arguments through", function()
    local r = run([[
      local n = 0
      local function flaky(a, b)
        n = n + 1
        if n == 1 then return nil end
        if n == 2 then return false end
        return a + b, "second"
      end
      function main()
        local t0 = UnixNano()
        local x, y = _C(flaky, 2, 3)
        Log("result", x, y, "after", (UnixNano() - t0) // 1000000, "ms")
      end
    ]], "replay")
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.out:find("result 5 second after 6000 ms", 1, true), r.out)
    -- one line per failed try, naming the function and what it returned
    assert.truthy(r.out:find("_C: the function at strategy.lua:2 returned nil (try 1); next try in 3000 ms", 1, true), r.out)
    assert.truthy(r.out:find("_C: the function at strategy.lua:2 returned false (try 2); next try in 3000 ms", 1, true), r.out)
    assert.are.equal(2, count(r.out, "_C: "))
  end)

  it("waits the interval _CDelay sets, on the wall clock live", function()
    local r = run([[
      local n = 0
      _CDelay(200)
      local t0 = UnixNano()
      local v = _C(function() n = n + 1; return n >= 3 and n or nil end)
      local ms = (UnixNano() - t0) / 1e6
      Log("v", v, ms >= 400 and ms < 2000 and "waited 2 x 200 ms" or ("waited " .. ms))
    ]])
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.out:find("v 3 waited 2 x 200 ms", 1, true), r.out)
  end)

  it("lets an error of the function through, and refuses what is not a function or not an interval", function()
    local r = run([[
      print(pcall(_C, function() error("boom") end))
      print(pcall(_C, exchange.GetTicker()))
      print(pcall(_CDelay, -1))
      print(pcall(_CDelay, "1000"))
    ]])
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.out:find("false\tstrategy.lua:1: boom", 1, true), r.out)
    assert.truthy(r.out:find("_C: the first argument must be the function itself (_C(exchange.GetTicker), not " ..
      "_C(exchange.GetTicker())), not a table", 1, true), r.out)
    assert.truthy(r.out:find("_CDelay: ms must be a number from 0 to 1e12, not -1", 1, true), r.out)
    assert.truthy(r.out:find("_CDelay: ms must be a number from 0 to 1e12, not string", 1, true), r.out)
  end)

  it("retries an exchange call through the exchange's own function", function()
    local r = run([[
      local t = _C(exchange.GetTicker)
      Log("last", type(t.Last))
    ]])
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.out:find("last number", 1, true), r.out)
  end)
end)

describe("GetCommand and stratrun cmd", function()
  local procs = {}
  after_each(function() h.kill_all(procs) end)

  it("hands a running bot the commands in the order they were sent, and bounds the queue", function()
    local dir = h.tmpdir()
    h.script(dir, [[
      function main()
        Log("ready")
        while not io.open("go") do Sleep(20) end
        local got = {}
        repeat
          local c = GetCommand()
          got[#got + 1] = c
        until c == nil
        Log("got", #got, got[1], got[2], got[#got])
        Log("then", GetCommand())
      end
    ]])
    local p = h.spawn{ dir = dir, "--data-dir", dir .. "/d", "--id", "bot1", "strategy.lua" }
    procs[#procs + 1] = p
    assert.truthy(p:wait_for("ready"))
    local function cmd(text)
      return h.run{ dir = dir, "cmd", "--data-dir", dir .. "/d", "bot1", text }
    end
    assert.are.equal(0, cmd("buy").code)
    assert.are.equal(0, cmd("sell:0.5 at 100").code)
    for i = 3, 100 do assert.are.equal(0, cmd("c" .. i).code) end
    local full = cmd("one too many")
    assert.are.equal(2, full.code)
    assert.are.equal("stratrun: bot 'bot1' has 100 commands waiting, the most allowed: it must take some with " ..
      "GetCommand first\n", full.err)
    local long = cmd(string.rep("x", 1025))
    assert.are.equal(2, long.code)
    assert.are.equal("stratrun: a command is 1 to 1024 bytes, not 1025\n", long.err)
    h.write(dir .. "/go", "")
    assert.are.equal(0, p:wait(10))
    local out = p:output()
    assert.truthy(out:find("got 100 buy sell:0.5 at 100 c100\n", 1, true), out)
    assert.truthy(out:find("then null\n", 1, true), out)
  end)

  it("refuses, in one line, a bot that is not running or never ran", function()
    local r = run([[Log("done")]])
    assert.are.equal(0, r.code, r.err)
    local stopped = h.run{ dir = r.dir, "cmd", "--data-dir", r.dir .. "/d", "bot1", "buy" }
    assert.are.equal(2, stopped.code)
    assert.are.equal("stratrun: bot 'bot1' is not running: commands go to a running bot\n", stopped.err)
    assert.is_false(h.exists(r.bot .. "/commands/"))
    local unknown = h.run{ dir = r.dir, "cmd", "--data-dir", r.dir .. "/d", "nobot", "buy" }
    assert.are.equal(2, unknown.code)
    assert.truthy(unknown.err:match("^stratrun: bot 'nobot' has never run in this data dir %(.*nobot/lock: No such " ..
      "file or directory%); is %-%-data%-dir the bot's%?\n$"), unknown.err)
    local bad = h.run{ dir = r.dir, "cmd", "--data-dir", r.dir .. "/d", "../x", "buy" }
    assert.are.equal(2, bad.code)
    assert.truthy(bad.err:find("invalid bot ID '../x'", 1, true), bad.err)
  end)

  it("returns nil in a replay, as on the platform's backtester", function()
    local r = run([[Log("cmd", GetCommand())]], "replay")
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.out:find("cmd null", 1, true), r.out)
  end)
end)

describe("LogProfit and LogProfitReset", function()
  it("keep a profit series in the bot's folder, on the replay's clock, and log it with its extra arguments", function()
    local r = run([[
      function main()
        for i = 1, 5 do
          LogProfit(i * 10 - 25, "trade", i)
          Sleep(60000)
        end
        LogProfit(99, "chart only", "&")
      end
    ]], "replay")
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.out:find("00:01:00.000 Profit: -15 trade 1\n", 1, true), r.out)
    assert.truthy(r.out:find("00:05:00.000 Profit: 25 trade 5\n", 1, true), r.out)
    assert.is_nil(r.out:find("chart only", 1, true), r.out)
    -- 2024-01-01 00:01 UTC is 1704067260000 ms: one point a minute, then the "&" one
    assert.are.equal("1704067260000,-15\n1704067320000,-5\n1704067380000,5\n1704067440000,15\n1704067500000,25\n" ..
      "1704067560000,99\n", h.read(r.bot .. "/profit.csv"))
    assert.truthy(h.read(r.bot .. "/log.txt"):find("Profit: 25 trade 5\n", 1, true))
  end)

  it("keeps the latest n points, or none, and refuses what is not a finite profit or a count", function()
    local r = run([[
      for i = 1, 6 do LogProfit(i) end
      LogProfitReset(2)
      print("two:", (io.open(BOT .. "/profit.csv"):read("a"):gsub("%d+,", "")))
      LogProfit(7.5)
      LogProfitReset()
      print("none:", #io.open(BOT .. "/profit.csv"):read("a"))
      print(pcall(LogProfit, 0/0))
      print(pcall(LogProfit, "12"))
      print(pcall(LogProfitReset, -1))
      print(pcall(LogProfitReset, 2.5))
    ]], "live", { "-p", "BOT=d/bots/bot1" })
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.out:find("two:\t5\n6\n\n", 1, true), r.out)
    assert.truthy(r.out:find("none:\t0\n", 1, true), r.out)
    assert.truthy(r.out:find("LogProfit: profit must be a finite number, not -nan", 1, true) or
      r.out:find("LogProfit: profit must be a finite number, not nan", 1, true), r.out)
    assert.truthy(r.out:find("LogProfit: profit must be a finite number, not 12\n", 1, true), r.out)
    assert.truthy(r.out:find("LogProfitReset: the number of entries to keep must be a whole number >= 0, not -1\n", 1, true), r.out)
    assert.truthy(r.out:find("LogProfitReset: the number of entries to keep must be a whole number >= 0, not 2.5\n", 1, true), r.out)
  end)
end)

describe("GetLastError, SetErrorFilter and LogReset", function()
  it("GetLastError returns the last failed call's error once; a filter keeps matching errors out of the log", function()
    local r = run([[
      print("before:", GetLastError())
      exchange.GetOrder(123)
      print("last:", GetLastError())
      print("taken:", GetLastError())
      SetErrorFilter("502:|GetOrder")
      exchange.GetOrder(124)
      exchange.CancelOrder(125)
      print("filtered:", GetLastError())
      SetErrorFilter("")
      exchange.GetOrder(126)
      print(pcall(SetErrorFilter, "(unclosed"))
    ]])
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.out:find("before:\tnil\n", 1, true), r.out)
    assert.truthy(r.out:find("exchange.GetOrder: no order with id 123\nlast:\texchange.GetOrder: no order with id 123\n", 1, true), r.out)
    assert.truthy(r.out:find("taken:\tnil\n", 1, true), r.out)
    -- the filtered error is still GetLastError's, but not in the log; the one the filter does not match is
    assert.is_nil(r.out:find("id 124", 1, true), r.out)
    assert.truthy(r.out:find("filtered:\texchange.CancelOrder: no order with id 125\n", 1, true), r.out)
    assert.truthy(r.out:find(" exchange.CancelOrder: no order with id 125\n", 1, true), r.out)
    assert.truthy(r.out:find(" exchange.GetOrder: no order with id 126\n", 1, true), r.out)
    assert.truthy(r.out:find("SetErrorFilter: '(unclosed' is not a POSIX extended regular expression: ", 1, true), r.out)
    assert.is_nil(h.read(r.bot .. "/log.txt"):find("124", 1, true))
  end)

  it("LogReset keeps the latest n lines of the bot's log file, and the log goes on in the same file", function()
    local r = run([[
      for i = 1, 5 do Log("line", i) end
      LogReset(2)
      Log("after")
      LogReset()
      Log("last")
    ]])
    assert.are.equal(0, r.code, r.err)
    local log = h.without_host_lines(h.read(r.bot .. "/log.txt"))
    assert.is_nil(log:find("line", 1, true), log)
    assert.truthy(log:match("^[%d%-]+ [%d:.]+ last\n$"), log)
    local r2 = run([[
      for i = 1, 5 do Log("line", i) end
      LogReset(2)
      Log("after")
    ]])
    local kept = {}
    for l in h.without_host_lines(h.read(r2.bot .. "/log.txt")):gmatch("[^\n]+") do
      kept[#kept + 1] = l:match("%d%d%.%d%d%d (.*)")
    end
    assert.are.same({ "line 4", "line 5", "after" }, kept)
  end)
end)

describe("Log markers, Version and GetPid", function()
  it("keeps the colour suffix and the @ marker in the log entry", function()
    local r = run([[
      Log("Hello, #ff0000@")
      Log("warn", "#FF0000")
      Log("push me", "@")
    ]])
    assert.are.equal(0, r.code, r.err)
    local log = h.read(r.bot .. "/log.txt")
    for _, text in ipairs({ " Hello, #ff0000@\n", " warn #FF0000\n", " push me @\n" }) do
      assert.truthy(log:find(text, 1, true), log)
      assert.truthy(r.out:find(text, 1, true), r.out)
    end
  end)

  it("_Cross counts the periods since the last cross, as the platform's example shows", function()
    local r = run([[
      local arr1, arr2 = {1, 2, 3, 4, 5, 6, 8, 8, 9}, {2, 3, 4, 5, 6, 7, 7, 7, 7}
      print(_Cross(arr1, arr2), _Cross(arr2, arr1), _Cross({1, 2}, {1, 2}), _Cross({TA.NONE, 5}, {1, 1}))
      print(pcall(function() local v = _Cross({1}, {1, 2}) return v end))
    ]])
    assert.are.equal(0, r.code, r.err)
    assert.are.same({ "3	-3	0	1", "false	strategy.lua:3: _Cross: the arrays differ in length (1 and 2)" },
      h.lines(r.out))
  end)

  it("GetOS names the host as the platform's docker does, UUID a random version-4 UUID in 32 hex digits", function()
    local r = run([[
      local seen, ok = {}, true
      for _ = 1, 1000 do
        local u = UUID()
        ok = ok and #u == 32 and u:match("^%x+$") ~= nil and u:sub(13, 13) == "4" and not seen[u]
        seen[u] = true
      end
      print(GetOS(), ok)
    ]])
    assert.are.equal(0, r.code, r.err)
    local uname = io.popen("uname -sm"):read("l"):lower()
    local sys, machine = uname:match("(%S+) (%S+)")
    machine = ({ x86_64 = "amd64", aarch64 = "arm64" })[machine] or machine
    assert.are.equal(sys .. "/" .. machine .. "\ttrue\n", r.out)
  end)

  it("IsVirtual is true in a replay and false live", function()
    assert.matches("virtual true", run([[Log("virtual", IsVirtual())]], "replay").out, 1, true)
    assert.matches("virtual false", run([[Log("virtual", IsVirtual())]]).out, 1, true)
  end)

  it("Version is stratrun's version and GetPid the process's ID, a string", function()
    local r = run([[print(Version(), type(GetPid()), GetPid() == io.open("/proc/self/stat"):read("a"):match("^%d+"))]])
    assert.are.equal(0, r.code, r.err)
    local v = h.run{ "--version" }.out:match("stratrun (%S+)")
    assert.are.equal(v .. "\tstring\ttrue\n", r.out)
  end)
end)

describe("a platform name stratrun does not have", function()
  it("raises where it is read, naming it and the page that lists what exists, never a silent nil", function()
    local r = run([[
      local function retry(f, ...) return f(...) end      -- a user's wrapper: the error is still at the name
      print(pcall(function() return retry(EventLoop, 1000) end))
      print(pcall(function() return exchange.SetProxy("socks5://127.0.0.1:1080") end))
      print(pcall(function() return exchange.GetTicekr() end))
      print(pcall(function() return parseInt("5") end))
      print(pcall(function() if x == null then return 1 end end))
      print(rawget(_ENV, "EventLoop"), undefined_of_my_own, exchanges[1] == exchange, #exchanges)
      print(_G("k", 1), _G("k"))              -- the _G() store is still the global table's __call
    ]])
    assert.are.equal(0, r.code, r.err)
    assert.are.same({
      "false\tstrategy.lua:2: EventLoop is a platform call stratrun does not provide yet (docs/platform.md lists what it "
        .. "has)",
      "false\tstrategy.lua:3: exchange.SetProxy is a platform call stratrun's exchange does not provide yet "
        .. "(docs/platform.md lists what it has)",
      "false\tstrategy.lua:4: exchange.GetTicekr does not exist: the exchange's calls are in docs/exchange.md",
      "false\tstrategy.lua:5: parseInt is JavaScript: in Lua write tonumber(s) (docs/porting.md)",
      "false\tstrategy.lua:6: null is JavaScript: in Lua write nil (json.null in JSON) (docs/porting.md)",
      "nil\tnil\ttrue\t1",
      "true\t1",
    }, h.lines(r.out))
  end)

  it("is one the lists name only while stratrun lacks it", function()
    -- the lists of stdlib/names.lua must not hide a call that exists: each name is absent where it is listed
    local names = require("names")
    local G = _G          -- the bot's global table (busted runs this file in an environment of its own)
    for _, k in ipairs(names.GLOBALS) do assert.is_nil(rawget(G, k), k) end
    for k in pairs(names.JAVASCRIPT) do assert.is_nil(rawget(G, k), k) end
    local ex = exchange._new { market = require("market"), now = function() return 0 end, log = print }
    for _, k in ipairs(names.EXCHANGE) do assert.is_nil(rawget(ex, k), k) end
    -- and every call of the platform's reference is either there or listed (a sample of each kind)
    for _, k in ipairs({ "DBExec", "Encode", "MD5", "EnableLog", "_C", "LogProfit", "GetCommand", "Mail", "Mail_Go",
                         "HttpQuery_Go" }) do
      assert.is_not_nil(rawget(G, k), k)
    end
  end)
end)
