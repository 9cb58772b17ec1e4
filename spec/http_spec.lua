-- Spec for HttpQuery (runtime/lua/http.c, runtime/core/fetch.c), as docs/http.md describes it.
--
-- Every request goes to a local server on loopback (tests/httpd.c through spec/httpd.lua) that plays each
-- behaviour of a real server: slow answers, error statuses, truncated and huge bodies, redirects, closed
-- connections, a closed port. The spec runner is itself a stratrun bot, so most cases call HttpQuery directly;
-- the cases about bots, the scheduler, signals, replays and the config start real stratrun processes.
local h = require("helpers")
local httpd = require("httpd")

local srv

local function elapsed_ms(t0) return (UnixNano() - t0) / 1e6 end

-- Calls fn and checks it raised an error whose message contains msg.
local function raises(msg, fn, ...)
  local ok, err = pcall(fn, ...)
  assert(not ok, "no error, expected: " .. msg)
  assert(tostring(err):find(msg, 1, true), "expected an error with '" .. msg .. "', got: " .. tostring(err))
end

-- Checks HttpQuery failed: nil, and a message naming the URL and containing each of the words.
local function fails(url, words, body, msg)
  assert.is_nil(body, "expected nil, got " .. tostring(body))
  assert.is_string(msg)
  assert.truthy(msg:find("HttpQuery " .. url .. ": ", 1, true), "the message does not name the URL: " .. msg)
  for _, w in ipairs(words) do
    assert.truthy(msg:find(w, 1, true), "expected '" .. w .. "' in: " .. msg)
  end
end

-- Runs a strategy in its own stratrun process: args are stratrun's arguments before the script.
local function run_script(src, args, opts)
  opts = opts or {}
  local dir = h.tmpdir()
  local cmd = { "--data-dir", dir .. "/data", dir = dir, timeout = opts.timeout or 30 }
  for _, a in ipairs(args or {}) do cmd[#cmd + 1] = a end
  if opts.config then
    h.write(dir .. "/stratrun.conf", opts.config)
    cmd[#cmd + 1] = "--config"
    cmd[#cmd + 1] = dir .. "/stratrun.conf"
  end
  if not opts.no_id then
    cmd[#cmd + 1] = "--id"
    cmd[#cmd + 1] = "httpbot"
  end
  cmd[#cmd + 1] = h.script(dir, src)
  return h.run(cmd)
end

setup(function()
  srv = httpd.start()
  srv:put("/hello.txt", "hello, world\n", { "header Content-Type: text/plain" })
  srv:put("/slow", "late\n", { "delay 1500" })
  srv:put("/bye", "bye\n")
end)

teardown(function() srv:stop() end)

describe("HttpQuery", function()
  it("returns the body of a GET", function()
    assert.are.equal("hello, world\n", HttpQuery(srv:url("/hello.txt")))
    assert.are.equal("hello, world\n", HttpQuery(srv:url("/hello.txt"), {}))
    assert.are.equal("", HttpQuery(srv:url("/_echo"), { method = "HEAD" }))
  end)

  it("sends the method, body, headers and cookie it is given", function()
    local echo = HttpQuery(srv:url("/_echo?symbol=BTCUSDT&limit=5"), {
      method = "put", body = '{"side":"BUY","qty":0.5}',
      headers = { ["Content-Type"] = "application/json", ["X-MBX-APIKEY"] = "k-123", ["X-Retry"] = 2,
                  ["X-Empty"] = "" },
      cookie = "session=abc; theme=dark",
    })
    local head, body = echo:match("^(.-\r\n)\r\n(.*)$")
    assert.truthy(head:find("^PUT /_echo%?symbol=BTCUSDT&limit=5 HTTP/1%.1\r\n"), head)
    for _, line in ipairs { "Content-Type: application/json", "X-MBX-APIKEY: k-123", "X-Retry: 2", "X-Empty:",
                            "Cookie: session=abc; theme=dark", "Content-Length: 24" } do
      assert.truthy(head:find("\r\n" .. line .. "\r\n", 1, true), "missing '" .. line .. "' in:\n" .. head)
    end
    assert.are.equal('{"side":"BUY","qty":0.5}', body)
  end)

  it("uses GET without a body and POST with one, unless a method is given", function()
    assert.truthy(HttpQuery(srv:url("/_echo")):find("^GET /_echo HTTP/1%.1\r\n"))
    local echo = HttpQuery(srv:url("/_echo"), { body = "a=1&b=2" })
    assert.truthy(echo:find("^POST /_echo HTTP/1%.1\r\n"))
    assert.truthy(echo:find("\r\n\r\na=1&b=2$"))
    assert.truthy(HttpQuery(srv:url("/_echo"), { method = "DELETE" }):find("^DELETE /_echo HTTP/1%.1\r\n"))
    assert.truthy(HttpQuery(srv:url("/_echo"), { method = "POST" }):find("\r\nContent-Length: 0\r\n", 1, true))
  end)

  it("returns {StatusCode, Header, Body} with debug, header names lower-cased, repeats joined", function()
    srv:put("/debug", '{"ok":true}', { "header X-Dup: a", "header X-Dup: b", "header X-RateLimit-Used: 17" })
    local r = HttpQuery(srv:url("/debug"), { debug = true })
    local keys = {}
    for k in pairs(r) do keys[#keys + 1] = k end
    table.sort(keys)
    assert.are.same({ "Body", "Header", "StatusCode" }, keys)
    assert.are.equal(200, r.StatusCode)
    assert.are.equal('{"ok":true}', r.Body)
    assert.are.equal("a, b", r.Header["x-dup"])
    assert.are.equal("17", r.Header["x-ratelimit-used"])
    assert.are.equal("application/json;charset=UTF-8", r.Header["content-type"])
    assert.are.equal("11", r.Header["content-length"])
    for name in pairs(r.Header) do assert.are.equal(name:lower(), name) end
    local head = HttpQuery(srv:url("/debug"), { method = "HEAD", debug = true })
    assert.are.same({ 200, "", "11" }, { head.StatusCode, head.Body, head.Header["content-length"] })
  end)

  it("treats a non-2xx status as an answer: debug shows it, and without debug the body comes back", function()
    srv:put("/down", '{"code":-1003,"msg":"Too much request weight used."}', { "status 503" })
    local r = HttpQuery(srv:url("/down"), { debug = true })
    assert.are.equal(503, r.StatusCode)
    assert.are.equal('{"code":-1003,"msg":"Too much request weight used."}', r.Body)
    -- As the platforms do: the body, whatever the status.
    assert.are.equal('{"code":-1003,"msg":"Too much request weight used."}', HttpQuery(srv:url("/down")))
    assert.are.equal(404, HttpQuery(srv:url("/nothing/here"), { debug = true }).StatusCode)
  end)

  it("fails with nil and a message past its timeout", function()
    local url = srv:url("/slow")
    local t0 = UnixNano()
    fails(url, { "timed out after 300 ms" }, HttpQuery(url, { timeout = 300 }))
    local took = elapsed_ms(t0)
    assert.is_true(took >= 250 and took < 1400, "took " .. took .. " ms")
    fails(url, { "timed out after 300 ms" }, HttpQuery(url, { timeout = 300, debug = true }))
    assert.are.equal("late\n", HttpQuery(url, { timeout = 5000 }))
  end)

  it("fails on a truncated body", function()
    local url = srv:url("/truncated")
    srv:put("/truncated", string.rep("[1,2,3],", 1000), { "truncate 100" })
    fails(url, { "truncated response", "100 bytes received" }, HttpQuery(url))
    fails(url, { "truncated" }, HttpQuery(url, { debug = true }))
    srv:put("/truncated-chunked", string.rep("x", 100000), { "truncate 70000", "chunked" })
    fails(srv:url("/truncated-chunked"), {}, HttpQuery(srv:url("/truncated-chunked")))
  end)

  it("aborts a body past the cap (10 MiB by default) instead of buffering it", function()
    -- 4 GiB announced up front: refused before the body comes; 4 GiB chunked: cut off at the cap, in moments.
    srv:put("/huge", nil, { "huge 4294967296" })
    srv:put("/huge-chunked", nil, { "huge 4294967296", "chunked" })
    local t0 = UnixNano()
    fails(srv:url("/huge"), { "response body larger than 10485760 bytes", "http.max_bytes" },
      HttpQuery(srv:url("/huge")))
    fails(srv:url("/huge-chunked"), { "response body larger than 10485760 bytes" },
      HttpQuery(srv:url("/huge-chunked"), { debug = true }))
    assert.is_true(elapsed_ms(t0) < 5000, "took " .. elapsed_ms(t0) .. " ms")
    srv:put("/ten-mib", nil, { "huge 10485760", "chunked" })
    assert.are.equal(10485760, #HttpQuery(srv:url("/ten-mib")))
  end)

  it("fails when the connection is refused", function()
    local url = "http://127.0.0.1:" .. srv.refused .. "/api"
    fails(url, { "cannot connect", "refused" }, HttpQuery(url))
  end)

  it("fails when the server closes the connection without an answer", function()
    srv:put("/hangup", "never sent", { "close" })
    fails(srv:url("/hangup"), { "closed the connection without a response" }, HttpQuery(srv:url("/hangup")))
  end)

  it("follows at most 5 redirects, and fails on a loop", function()
    for i = 1, 6 do srv:put("/r" .. i, nil, { "redirect /r" .. (i + 1) }) end
    srv:put("/r7", "arrived\n")
    assert.are.equal("arrived\n", HttpQuery(srv:url("/r2")))       -- 5 redirects
    local r = HttpQuery(srv:url("/r2"), { debug = true })
    assert.are.equal(200, r.StatusCode)
    assert.is_nil(r.Header.location)                                -- the last response's headers
    fails(srv:url("/r1"), { "too many redirects (more than 5)" }, HttpQuery(srv:url("/r1")))
    srv:put("/loop", nil, { "redirect /loop" })
    fails(srv:url("/loop"), { "too many redirects" }, HttpQuery(srv:url("/loop")))
  end)

  it("speaks http and https only, redirects included", function()
    fails("file:///etc/hostname", { "only http and https" }, HttpQuery("file:///etc/hostname"))
    fails("ftp://127.0.0.1/x", { "only http and https" }, HttpQuery("ftp://127.0.0.1/x"))
    srv:put("/to-file", nil, { "redirect file:///etc/hostname" })
    fails(srv:url("/to-file"), {}, HttpQuery(srv:url("/to-file")))
    fails("not a url", {}, HttpQuery("not a url"))
  end)

  it("fails on a TLS error", function()
    local url = "https://127.0.0.1:" .. srv.port .. "/hello.txt"   -- a plain-HTTP port
    fails(url, { "TLS error" }, HttpQuery(url, { timeout = 5000 }))
  end)

  it("raises on misuse: a url that is not a string, options of the wrong type", function()
    raises("bad argument #1 to 'HttpQuery' (string expected, got number)", HttpQuery, 42)
    raises("bad argument #1 to 'HttpQuery' (string expected, got no value)", HttpQuery)
    raises("bad argument #2 to 'HttpQuery' (table expected, got string)", HttpQuery, srv:url("/bye"), "POST")
    raises("unknown option 'header' (allowed: method, body, headers, cookie, timeout, debug, retry_after)", HttpQuery,
      srv:url("/bye"), { header = {} })
    raises("options.method must be a method name", HttpQuery, srv:url("/bye"), { method = "GET /x" })
    raises("options.method must be a method name", HttpQuery, srv:url("/bye"), { method = 1 })
    raises("options.body must be a string, not table", HttpQuery, srv:url("/bye"), { body = {} })
    raises("options.headers must be a table, not string", HttpQuery, srv:url("/bye"), { headers = "X: y" })
    raises("invalid header name 'Bad Name'", HttpQuery, srv:url("/bye"), { headers = { ["Bad Name"] = "v" } })
    raises("must not contain CR, LF or NUL", HttpQuery, srv:url("/bye"), { headers = { X = "a\r\nEvil: 1" } })
    raises("header 'X' must be a string or a number, not boolean", HttpQuery, srv:url("/bye"),
      { headers = { X = true } })
    raises("options.cookie must be a string", HttpQuery, srv:url("/bye"), { cookie = { a = 1 } })
    raises("must not contain CR, LF or NUL", HttpQuery, srv:url("/bye"), { cookie = "a=1\nX: y" })
    raises("options.timeout must be a number of ms above 0", HttpQuery, srv:url("/bye"), { timeout = 0 })
    raises("options.timeout must be a number of ms above 0", HttpQuery, srv:url("/bye"), { timeout = "5" })
    raises("options.debug must be a boolean, not number", HttpQuery, srv:url("/bye"), { debug = 1 })
    assert.are.equal("bye\n", HttpQuery(srv:url("/bye"), { timeout = 2500.5 }))
  end)
end)

describe("HttpQuery_Go", function()
  it("starts the request at once; several run at the same time; wait returns what HttpQuery returns", function()
    local own = httpd.start()
    own:put("/a", "one", { "delay 1000" })
    own:put("/b", "two", { "delay 1000" })
    local r1, r2 = HttpQuery_Go(own:url("/a")), HttpQuery_Go(own:url("/b"))
    assert.is_nil(r1.wait(-1))                  -- not answered yet: nil at once
    -- both reached the server before either was answered
    assert.truthy(h.eventually(function() return #own:requests() == 2 end, 5 * h.time_scale), "both requests in flight")
    assert.are.equal("one", r1:wait())         -- r:wait() and r.wait() both work
    assert.are.equal("two", r2.wait())
    local ok, err = pcall(r1.wait)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("wait: routine %d+ already finished: its result was taken"), tostring(err))
    own:stop()
  end)

  it("returns nil from wait(ms) when the answer takes longer, and the request goes on", function()
    local t0 = UnixNano()
    local r = HttpQuery_Go(srv:url("/slow"))
    assert.is_nil(r:wait(200))
    local waited = elapsed_ms(t0)
    assert.is_true(waited >= 200 and waited < 1500, "waited " .. waited .. " ms")
    assert.are.equal("late\n", r:wait())
  end)

  it("fails as HttpQuery does, and takes its options", function()
    local url = "http://127.0.0.1:" .. srv.refused .. "/api"
    fails(url, { "cannot connect", "refused" }, HttpQuery_Go(url):wait())
    local d = HttpQuery_Go(srv:url("/hello.txt"), { debug = true }):wait()
    assert.are.equal(200, d.StatusCode)
    assert.are.equal("hello, world\n", d.Body)
    raises("HttpQuery: unknown option 'nope'", HttpQuery_Go, srv:url("/bye"), { nope = 1 })
    raises("wait: the timeout must be a number of ms, not string", HttpQuery_Go(srv:url("/bye")).wait, "soon")
  end)
end)

describe("HttpQuery in a stratrun process", function()
  it("blocks only its own bot: another bot of the process keeps running meanwhile", function()
    local dir = h.tmpdir()
    local a = h.script(dir, [[
function main()
  Log("A asks")
  local body = HttpQuery(url)
  Log("A got", body)
end]], "a.lua")
    local b = h.script(dir, [[
function main()
  for i = 1, 12 do Log("B tick", i) Sleep(100) end
end]], "b.lua")
    local r = h.run { "run", "--data-dir", dir .. "/data", "-p", "url=" .. srv:url("/slow"), a .. "@botA",
                      b .. "@botB", dir = dir }
    assert.are.equal(0, r.code, r.out .. r.err)
    local lines = h.lines(r.out)
    local asks, got, ticks_between = nil, nil, 0
    for i, l in ipairs(lines) do
      if l:find("A asks", 1, true) then asks = i end
      if l:find("A got late", 1, true) then got = i end
      if asks and not got and l:find("B tick", 1, true) then ticks_between = ticks_between + 1 end
    end
    assert.truthy(asks and got, r.out)
    -- /slow answers after 1.5 s: B ticks every 100 ms meanwhile.
    assert.is_true(ticks_between >= 10, "B ticked " .. ticks_between .. " times while A waited:\n" .. r.out)
  end)

  it("runs the requests of several bots at once", function()
    local dir = h.tmpdir()
    local src = [[
function main()
  local t0 = UnixNano() // 1000000
  local body = HttpQuery(url)
  Log("got", body:gsub("\n", ""), t0, UnixNano() // 1000000)
end]]
    local args = { "run", "--data-dir", dir .. "/data", "-p", "url=" .. srv:url("/slow"), dir = dir }
    for i = 1, 3 do args[#args + 1] = h.script(dir, src, "s" .. i .. ".lua") .. "@bot" .. i end
    local r = h.run(args)
    assert.are.equal(0, r.code, r.out .. r.err)
    -- measured from the first request's start to the last one's end, in the bots' own clocks, so a slow
    -- start of the process (valgrind) does not count: three 1.5 s requests one after another take 4.5 s
    local n, first, last = 0, math.huge, 0
    for s, e in r.out:gmatch("got late (%d+) (%d+)") do
      n, first, last = n + 1, math.min(first, tonumber(s)), math.max(last, tonumber(e))
    end
    assert.are.equal(3, n, r.out)
    assert.is_true(last - first < 4000, "three 1.5 s requests took " .. (last - first) .. " ms in all")
  end)

  it("blocks the thread where the bot cannot yield: inside a coroutine, a plain chunk", function()
    local r = run_script([[
function main()
  local body = coroutine.wrap(function() return HttpQuery(url, {timeout = 3000}) end)()
  print("coroutine", body)
  local t = {3, 1, 2}
  table.sort(t, function(x, y)
    local b = HttpQuery(url2)
    return x < y and b == "bye\n"
  end)
  print("sorted", table.concat(t, ","))
end]], { "-p", "url=" .. srv:url("/slow"), "-p", "url2=" .. srv:url("/bye") })
    assert.are.equal(0, r.code, r.out .. r.err)
    assert.truthy(r.out:find("coroutine\tlate\n", 1, true), r.out)
    assert.truthy(r.out:find("sorted\t1,2,3\n", 1, true), r.out)
    local chunk = run_script("print(HttpQuery(url))", { "-p", "url=" .. srv:url("/bye") })
    assert.are.equal(0, chunk.code, chunk.err)
    assert.are.equal("bye\n\n", chunk.out)
  end)

  it("takes its default timeout and cap from the config's http table", function()
    srv:put("/big", nil, { "huge 200000" })
    local r = run_script([[
print(HttpQuery(slow))
print(HttpQuery(slow, {timeout = 3000}))
print(HttpQuery(big))]], { "-p", "slow=" .. srv:url("/slow"), "-p", "big=" .. srv:url("/big") },
      { config = "http = { timeout = 300, max_bytes = 100000 }\n" })
    assert.are.equal(0, r.code, r.err)
    local lines = {}
    for l in r.out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.are.equal("nil\tHttpQuery " .. srv:url("/slow") .. ": timed out after 300 ms", lines[1])
    assert.are.equal("late", lines[2])
    assert.are.equal("nil\tHttpQuery " .. srv:url("/big") .. ": response body larger than 100000 bytes "
      .. "(the cap is http.max_bytes in the config)", lines[3])
  end)

  it("refuses a wrong http table in the config with one line naming the file, the line and the key", function()
    for _, case in ipairs {
      { "http = { timeout = '5s' }", "stratrun.conf:1: http.timeout must be a whole number from 1 to 600000 (ms)" },
      { "\nhttp = { max_bytes = 0 }", "stratrun.conf:2: http.max_bytes must be a whole number from 1 to 1073741824" },
      { "http = { in_replay = 1 }", "stratrun.conf:1: http.in_replay must be a boolean, not number" },
      { "http = { proxy = 'x' }", "stratrun.conf:1: unknown key http.proxy (allowed: timeout, max_bytes, in_replay)" },
      { "http = 5", "stratrun.conf:1: key 'http' must be a table, not number" },
    } do
      local r = run_script("print(1)", {}, { config = case[1] .. "\n" })
      assert.are.equal(2, r.code)
      assert.truthy(r.err:find(case[2], 1, true), "expected '" .. case[2] .. "' in: " .. r.err)
      assert.are.equal(1, select(2, r.err:gsub("\n", "")), r.err)
    end
  end)

  it("stops at once on SIGINT while a request is pending, running onexit", function()
    local dir = h.tmpdir()
    srv:put("/forever", "x", { "delay 20000" })
    local script = h.script(dir, [[
function main()
  print("asking") io.stdout:flush()
  HttpQuery(url, {timeout = 30000})
end
function onexit() print("onexit ran") end]])
    for _, mode in ipairs { "await", "block" } do
      local args = { "--data-dir", dir .. "/data-" .. mode, "--id", "sig" .. mode, "-p", "url=" .. srv:url("/forever"),
                     script, dir = dir }
      if mode == "block" then   -- the same request from inside a coroutine: it blocks the thread
        args[#args] = h.script(dir, [[
function main()
  print("asking") io.stdout:flush()
  coroutine.wrap(function() HttpQuery(url, {timeout = 30000}) end)()
end
function onexit() print("onexit ran") end]], "block.lua")
      end
      local p = h.spawn(args)
      assert.is_true(p:wait_for("asking", 10))
      Sleep(300)
      local t0 = UnixNano()
      p:signal("INT")
      assert.are.equal(130, p:wait(10))
      assert.is_true(elapsed_ms(t0) < 3000, mode .. ": took " .. elapsed_ms(t0) .. " ms to stop")
      assert.truthy((p:output()):find("onexit ran", 1, true), mode)
    end
  end)
end)

describe("HttpQuery in a replay", function()
  local function replay(config)
    local dir = h.tmpdir()
    h.write(dir .. "/m.csv", "time,open,high,low,close,volume\n0,1,1,1,1,1\n60000,1,1,1,1,1\n120000,1,1,1,1,1\n")
    local args = { "replay", "--data-dir", dir .. "/data", "--market", "csv:" .. dir .. "/m.csv",
                   "-p", "url=" .. srv:url("/bye"), dir = dir }
    if config then
      h.write(dir .. "/c.conf", config)
      args[#args + 1] = "--config"
      args[#args + 1] = dir .. "/c.conf"
    end
    args[#args + 1] = h.script(dir, [[
function main()
  print("got", HttpQuery(url))
end]]) .. "@r1"
    return h.run(args)
  end

  it("is refused with a clear error, since a replay must stay deterministic", function()
    local r = replay()
    assert.are.equal(1, r.code, r.out .. r.err)
    assert.truthy(r.err:find("HttpQuery: refused in a replay, which must stay deterministic", 1, true), r.err)
    assert.truthy(r.err:find("http = { in_replay = true }", 1, true), r.err)
    assert.falsy(r.out:find("got", 1, true))
  end)

  it("refuses HttpQuery_Go too", function()
    local dir = h.tmpdir()
    h.write(dir .. "/m.csv", "time,open,high,low,close,volume\n0,1,1,1,1,1\n60000,1,1,1,1,1\n")
    local r = h.run({ "replay", "--data-dir", dir .. "/data", "--market", "csv:" .. dir .. "/m.csv", dir = dir,
      h.script(dir, "function main() print('got', HttpQuery_Go('" .. srv:url("/bye") .. "')) end") .. "@r2" })
    assert.are.equal(1, r.code, r.out .. r.err)
    assert.truthy(r.err:find("HttpQuery: refused in a replay, which must stay deterministic", 1, true), r.err)
  end)

  it("runs when the config allows it", function()
    local r = replay("http = { in_replay = true }\n")
    assert.are.equal(0, r.code, r.out .. r.err)
    assert.truthy(r.out:find("got\tbye\n", 1, true), r.out)
  end)
end)
