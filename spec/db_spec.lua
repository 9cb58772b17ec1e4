-- Spec for DBExec (runtime/lua/db.c): SQL on the bot's own SQLite database, bots/<id>/db.sqlite3, or on an
-- in-memory one for SQL that begins with ':', through real stratrun processes, live and in replays.
local h = require("helpers")

-- Runs text as a bot: mode "live" (--id bot1) or "replay", in dir (a new folder by default); returns
-- {code, out, err, dir, bot}.
local function run(text, mode, dir, extra)
  return h.run_bot(text, { mode = mode, dir = dir, args = extra, market = "sim:seed=1,bars=5" })
end

local function has(text, plain)
  return text:find(plain, 1, true) ~= nil
end

describe("DBExec", function()
  it("creates a table, inserts with and without values to bind, and reads the rows back in the platform's shape", function()
    local r = run([[
      print(json.encode(DBExec("CREATE TABLE t(ts INTEGER PRIMARY KEY, high REAL, sym TEXT)")))
      print(json.encode(DBExec("INSERT INTO t VALUES (1518970320000, 100.5, 'BTC_USDT');")))
      print(json.encode(DBExec("INSERT INTO t VALUES (?, ?, ?)", 1518970380000, 101.25, "ETH_USDT")))
      print(json.encode(DBExec("SELECT * FROM t ORDER BY ts")))
      print(json.encode(DBExec("UPDATE t SET high = ? WHERE ts >= ?", 110.0, 0)))
      print(json.encode(DBExec("SELECT sym FROM t WHERE high > 1000")))
    ]])
    assert.are.equal(0, r.code, r.err)
    -- a statement without columns: empty columns and values, and the rows it changed
    assert.truthy(has(r.out, '{"changes":0,"columns":[],"values":[]}\n{"changes":1,"columns":[],"values":[]}\n' ..
      '{"changes":1,"columns":[],"values":[]}\n'), r.out)
    assert.truthy(has(r.out, '{"columns":["ts","high","sym"],"values":[[1518970320000,100.5,"BTC_USDT"],' ..
      '[1518970380000,101.25,"ETH_USDT"]]}\n'), r.out)
    assert.truthy(has(r.out, '{"changes":2,"columns":[],"values":[]}\n'), r.out)
    assert.truthy(has(r.out, '{"columns":["sym"],"values":[]}\n'), r.out)
  end)

  it("round-trips integers, floats, text, binary strings, booleans and NULL, keeping each row's length", function()
    local r = run([[
      DBExec("CREATE TABLE v(i, f, s, b, n)")
      DBExec("INSERT INTO v VALUES (?, ?, ?, ?, ?)", math.maxinteger, 0.1, "héllo", "\0\1\255", nil)
      DBExec("INSERT INTO v VALUES (?, ?, ?, ?, ?)", -7, 2.0, "", true, json.null)
      local q = DBExec("SELECT i, f, s, b, n, typeof(i), typeof(f), typeof(s), typeof(b), typeof(n) FROM v")
      for _, row in ipairs(q.values) do
        print(#row, math.type(row[1]), row[1], math.type(row[2]), row[2], row[3], row[4] == "\0\1\255",
              row[5] == json.null, row[6], row[7], row[8], row[9], row[10])
      end
      local t = DBExec("SELECT i, f, s, n FROM v")
      print(json.encode(t) == json.encode(json.decode(json.encode(t))), json.encode(t))
    ]])
    assert.are.equal(0, r.code, r.err)
    assert.truthy(has(r.out, "10\tinteger\t9223372036854775807\tfloat\t0.1\théllo\ttrue\ttrue\tinteger\treal\ttext" ..
      "\tblob\tnull\n"), r.out)
    -- true is stored as 1, as SQLite has no boolean; 2.0 stays a float
    assert.truthy(has(r.out, "10\tinteger\t-7\tfloat\t2.0\t\tfalse\ttrue\tinteger\treal\ttext\tinteger\tnull\n"), r.out)
    assert.truthy(has(r.out, 'true\t{"columns":["i","f","s","n"],"values":[[9223372036854775807,0.1,"héllo",null],' ..
      '[-7,2.0,"",null]]}\n'), r.out)
  end)

  it("runs several statements in order, binds the values across them, and returns the last one's result", function()
    local r = run([[
      print(json.encode(DBExec([=[
        CREATE TABLE k(a, b); -- a comment
        INSERT INTO k VALUES (?, ?);
        INSERT INTO k VALUES (?, 'x');
        SELECT * FROM k ORDER BY a;
        /* trailing comment */
      ]=], 1, "one", 2)))
      print(json.encode(DBExec("SELECT 1; DELETE FROM k WHERE a = ?", 2)))
      print(json.encode(DBExec("  -- nothing to run\n")))
    ]])
    assert.are.equal(0, r.code, r.err)
    assert.truthy(has(r.out, '{"columns":["a","b"],"values":[[1,"one"],[2,"x"]]}\n'), r.out)
    assert.truthy(has(r.out, '{"changes":1,"columns":[],"values":[]}\n{"changes":0,"columns":[],"values":[]}\n'), r.out)
  end)

  it("keeps its file in the bot's folder, mode 0600, across a restart of a live bot; ':' SQL is forgotten", function()
    local dir = h.tmpdir()
    local text = [[
      DBExec("CREATE TABLE IF NOT EXISTS runs(n INTEGER)")
      DBExec("INSERT INTO runs VALUES ((SELECT count(*) FROM runs) + 1)")
      DBExec(":CREATE TABLE IF NOT EXISTS mem(n)")
      DBExec(":INSERT INTO mem VALUES (1)")
      print("runs", json.encode(DBExec("SELECT n FROM runs ORDER BY n").values))
      print("mem", json.encode(DBExec(":SELECT count(*) FROM mem").values))
      print("file", DBExec("SELECT * FROM mem"))
    ]]
    local r1 = run(text, "live", dir)
    assert.are.equal(0, r1.code, r1.err)
    assert.truthy(has(r1.out, "runs\t[[1]]\nmem\t[[1]]\n"), r1.out)
    assert.truthy(has(r1.out, "file\tnil\tDBExec: no such table: mem\n"), r1.out)
    local r2 = run(text, "live", dir)
    assert.are.equal(0, r2.code, r2.err)
    assert.truthy(has(r2.out, "runs\t[[1],[2]]\nmem\t[[1]]\n"), r2.out)
    local f = io.popen("stat -c %a " .. h.quote(r2.bot .. "/db.sqlite3"))
    assert.are.equal("600", f:read("l"))
    f:close()
  end)

  it("uses the replay's own bot folder, which the next replay starts without, and leaves the live one alone", function()
    local text = [[
      function main()
        DBExec("CREATE TABLE IF NOT EXISTS runs(n)")
        DBExec("INSERT INTO runs VALUES (1)")
        Log("rows", DBExec("SELECT count(*) FROM runs").values[1][1])
      end
    ]]
    local dir = h.tmpdir()
    for _ = 1, 2 do
      local r = run(text, "replay", dir)
      assert.are.equal(0, r.code, r.err)
      assert.truthy(has(r.out, " rows 1\n"), r.out)
      assert.truthy(h.exists(r.bot .. "/db.sqlite3"))
    end
    assert.is_false(h.exists(dir .. "/d/bots/strategy/db.sqlite3"))
  end)

  it("returns nil and SQLite's message for SQL it refuses: GetLastError has it, the log shows it unless filtered", function()
    local r = run([[
      print(DBExec("SELECT * FROM nope"))
      print("last:", GetLastError())
      SetErrorFilter("syntax error")
      print(DBExec("SELEC 1"))
      print("filtered:", GetLastError())
      print(DBExec("CREATE TABLE u(x UNIQUE); INSERT INTO u VALUES (1); INSERT INTO u VALUES (1)"))
      print("kept:", json.encode(DBExec("SELECT x FROM u").values))
    ]])
    assert.are.equal(0, r.code, r.err)
    assert.truthy(has(r.out, " DBExec: no such table: nope\nnil\tDBExec: no such table: nope\n" ..
      "last:\tDBExec: no such table: nope\n"), r.out)
    assert.truthy(has(r.out, 'nil\tDBExec: near "SELEC": syntax error\nfiltered:\tDBExec: near "SELEC": syntax error\n'),
      r.out)
    -- the statements before the failing one ran (each commits on its own)
    assert.truthy(has(r.out, "nil\tDBExec: UNIQUE constraint failed: u.x\nkept:\t[[1]]\n"), r.out)
    local log = h.read(r.bot .. "/log.txt")
    assert.truthy(has(log, "DBExec: no such table: nope\n"), log)
    assert.is_false(has(log, "SELEC"), log)
  end)

  it("raises one line for a call that cannot be right", function()
    local r = run([[
      local function try(...) print((select(2, pcall(DBExec, ...)))) end
      try()
      try(42)
      try("SELECT ?", {})
      try("SELECT ?, ?", 1, print)
      try("SELECT ?, ?", 1)
      try("SELECT ?", 1, 2)
      try("CREATE TABLE IF NOT EXISTS z(a); SELECT 1", 1)
      try("SELECT 1\0; DROP TABLE z")
      print("z", json.encode(DBExec("SELECT count(*) FROM z").values))
    ]])
    assert.are.equal(0, r.code, r.err)
    assert.truthy(has(r.out, "DBExec: sql must be a string, not no value\n" ..
      "DBExec: sql must be a string, not number\n" ..
      "DBExec: value 1 must be nil, json.null, a boolean, a number or a string, not table\n" ..
      "DBExec: value 2 must be nil, json.null, a boolean, a number or a string, not function\n" ..
      "DBExec: 1 value given for 2 placeholders in the SQL\n" ..
      "DBExec: 2 values given for 1 placeholder in the SQL\n" ..
      "DBExec: 1 value given for 0 placeholders in the SQL\n" ..
      "DBExec: sql holds a NUL byte (at byte 9)\n"), r.out)
    -- the extra value is refused before the last statement runs; the ones before it have run
    assert.truthy(has(r.out, "z\t[[0]]\n"), r.out)
  end)

  it("returns nil rather than a result of more than 100000 rows or 64 MiB", function()
    local r = run([[
      local rows = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT %d) SELECT %s FROM c"
      print(DBExec(rows:format(100001, "x")))
      print(#DBExec(rows:format(100000, "x")).values)
      print(DBExec(rows:format(70, "zeroblob(1000000)")))
      print(#DBExec(rows:format(60, "zeroblob(1000000)")).values)
    ]])
    assert.are.equal(0, r.code, r.err)
    assert.truthy(has(r.out, "nil\tDBExec: the result has more than 100000 rows, the most one call returns (add a " ..
      "LIMIT)\n100000\n"), r.out)
    assert.truthy(has(r.out, "nil\tDBExec: the result holds more than 64 MiB, the most one call returns (add a LIMIT " ..
      "or select fewer columns)\n60\n"), r.out)
  end)

  it("refuses a symlink in the database file's place", function()
    local dir = h.tmpdir()
    assert.are.equal(0, h.sh("mkdir -p -m 700 " .. h.quote(dir .. "/d/bots/bot1") .. " && chmod 700 " ..
      h.quote(dir .. "/d/bots") .. " && ln -s " .. h.quote(dir .. "/elsewhere") .. " " ..
      h.quote(dir .. "/d/bots/bot1/db.sqlite3")))
    local r = run([[print(DBExec("CREATE TABLE t(x)"))]], "live", dir)
    assert.are.equal(0, r.code, r.err)
    assert.truthy(has(r.out, "nil\tDBExec: cannot open " .. dir .. "/d/bots/bot1/db.sqlite3: Too many levels of " ..
      "symbolic links\n"), r.out)
    assert.is_false(h.exists(dir .. "/elsewhere"))
  end)
end)

describe("LogVacuum", function()
  it("gives back the space of deleted rows, and creates no database where there is none", function()
    local dir = h.tmpdir()
    local fill = [[
      DBExec("CREATE TABLE t(x)")
      DBExec("INSERT INTO t SELECT zeroblob(100000) FROM (WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL "
        .. "SELECT i + 1 FROM c WHERE i < 50) SELECT i FROM c)")
      DBExec("DELETE FROM t")
    ]]
    local r = run(fill, "live", dir)
    assert.are.equal(0, r.code, r.err)
    local before = io.open(r.bot .. "/db.sqlite3"):seek("end")
    assert(before > 5000000, "the deleted rows' pages stay in the file: " .. before)
    r = run("LogVacuum()", "live", dir)
    assert.are.equal(0, r.code, r.err)
    local after = io.open(r.bot .. "/db.sqlite3"):seek("end")
    assert(after < 100000, "after LogVacuum: " .. after)
    r = run("LogVacuum() Log('done')", "live")
    assert.are.equal(0, r.code, r.err)
    assert.is_nil(io.open(r.bot .. "/db.sqlite3"))
  end)
end)

describe("DBExec and a bot's stop", function()
  local procs = {}
  after_each(function() h.kill_all(procs) end)

  it("interrupts a statement that would never end when the bot is stopped; onexit can still use the database", function()
    local dir = h.tmpdir()
    h.script(dir, [[
      function main()
        DBExec("CREATE TABLE t(x)")
        Log("ready")
        DBExec("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c")
        Log("never")
      end
      function onexit() Log("onexit", json.encode(DBExec("SELECT count(*) FROM t").values)) end
    ]])
    local p = h.spawn{ dir = dir, "--data-dir", dir .. "/d", "--id", "bot1", "strategy.lua" }
    procs[#procs + 1] = p
    assert.truthy(p:wait_for("ready"))
    p:signal("TERM")
    assert.are.equal(143, p:wait(5))
    local out = p:output()
    assert.truthy(has(out, " onexit [[0]]\n"), out)
    assert.is_false(has(out, "never"), out)
  end)

  it("ends a long statement at step_limit when other bots of the process wait", function()
    local dir = h.tmpdir()
    h.script(dir, [[
      function main()
        DBExec("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c")
      end
    ]], "slow.lua")
    h.script(dir, [[function main() for _ = 1, 5 do Sleep(100) end Log("other done") end]], "other.lua")
    local r = h.run{ dir = dir, "run", "--data-dir", dir .. "/d", "--step-limit", "1", "slow.lua@a", "other.lua@b" }
    assert.are.equal(1, r.code, r.err)
    assert.truthy(has(r.err, "[a] error: bot a ran 1 s without Sleep where it cannot be preempted"), r.err)
    assert.truthy(has(r.out, "[b] other done"), r.out)
  end)

  it("waits for a lock another process holds, at most 5 s, then returns nil", function()
    if h.sh("command -v sqlite3 > /dev/null") ~= 0 then
      pending("needs the sqlite3 shell")
      return
    end
    local dir = h.tmpdir()
    local r0 = run([[DBExec("CREATE TABLE t(x)")]], "live", dir)
    assert.are.equal(0, r0.code, r0.err)
    -- the shell holds an exclusive lock for 8 s
    assert.are.equal(0, h.sh("((echo 'BEGIN EXCLUSIVE; INSERT INTO t VALUES (0);'; sleep 8) | sqlite3 " ..
      h.quote(r0.bot .. "/db.sqlite3") .. " > /dev/null 2>&1 &)"))
    Sleep(300)
    local r = run([[
      local t0 = UnixNano()
      print(DBExec("INSERT INTO t VALUES (1)"))
      print("waited", (UnixNano() - t0) // 1000000000)
    ]], "live", dir)
    assert.are.equal(0, r.code, r.err)
    assert.truthy(has(r.out, "nil\tDBExec: database is locked\nwaited\t5\n"), r.out)
  end)

  it("waits one turn only when other bots of the process share its thread, so nobody is frozen", function()
    if h.sh("command -v sqlite3 > /dev/null") ~= 0 then
      pending("needs the sqlite3 shell")
      return
    end
    local dir = h.tmpdir()
    local r0 = run([[DBExec("CREATE TABLE t(x)")]], "live", dir)
    assert.are.equal(0, r0.code, r0.err)
    assert.are.equal(0, h.sh("((echo 'BEGIN EXCLUSIVE; INSERT INTO t VALUES (0);'; sleep 8) | sqlite3 " ..
      h.quote(r0.bot .. "/db.sqlite3") .. " > /dev/null 2>&1 &)"))
    Sleep(300)
    -- bot1 (the database's owner) writes under the lock; bot2 wakes every 100 ms and records its longest gap
    h.script(dir, [[
      local t0 = UnixNano()
      print(DBExec("INSERT INTO t VALUES (1)"))
      print("waited ms", (UnixNano() - t0) // 1000000 < 1000)
    ]], "w.lua")
    h.script(dir, [[
      local last, worst = UnixNano(), 0
      for _ = 1, 10 do
        Sleep(100)
        local now = UnixNano()
        worst = math.max(worst, now - last)
        last = now
      end
      print("worst gap under 1 s", worst < 1e9)
    ]], "other.lua")
    local r = h.run{ dir = dir, "run", "--data-dir", dir .. "/d", "w.lua@bot1", "other.lua@bot2" }
    assert.are.equal(0, r.code, r.err)
    assert.truthy(has(r.out, "nil\tDBExec: database is locked"), r.out)
    assert.truthy(has(r.out, "waited ms\ttrue"), r.out)
    assert.truthy(has(r.out, "worst gap under 1 s\ttrue"), r.out)
  end)
end)
