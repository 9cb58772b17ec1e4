-- hello.lua: the smallest complete strategy: logs, shows a status table, sleeps, remembers a counter in _G.
--   stratrun strategies/hello.lua                run 3 rounds
--   stratrun -p rounds=10 strategies/hello.lua   run 10

rounds = rounds or 3

function init()
  Log("hello from bot", _G(), "- runs so far:", _G("runs") or 0)
end

function main()
  for i = 1, rounds do
    local t = exchange.GetTicker()
    Log("round", i, "of", rounds, "last price", t.Last)
    local table = {
      type = "table", title = "Hello",
      cols = {"Round", "Time", "Last"},
      rows = {{i, _D(), _N(t.Last, 2)}},
    }
    LogStatus("`" .. json.encode(table) .. "`")
    Sleep(200)
  end
end

function onexit()
  _G("runs", (_G("runs") or 0) + 1)
  Log("bye after", rounds, "rounds")
end
