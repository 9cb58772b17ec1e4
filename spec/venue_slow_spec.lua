-- Spec for the rest market's etiquette with a venue (runtime/data/source_rest.c over runtime/core/fetch.c;
-- docs/http.md, "Rate limits"): HTTP 429 and 418 and Retry-After stop every request for the time the venue asks,
-- a used weight near the venue's limit stops them until its minute ends, each with one warning and one line when
-- requests resume; a venue's error in a 200 body and a huge header line are named as what they are.
--
-- The venue is the local server of the specs (tests/httpd.c), which counts the requests it receives: the back-off
-- is asserted on that count.
local h = require("helpers")
local httpd = require("httpd")

local TICKER = "/api/v3/ticker/24hr"

local servers, procs = {}, {}
local function new_venue()
  local srv = httpd.venue()
  servers[#servers + 1] = srv
  return srv
end

teardown(function()
  for _, s in ipairs(servers) do s:stop() end
end)

local function count(text, plain)
  local n, pos = 0, 1
  while true do
    local s, e = text:find(plain, pos, true)
    if not s then return n end
    n, pos = n + 1, e + 1
  end
end

-- A live bot on the venue that only sleeps, in the background: the poller is what is watched.
local function poll(srv, settings)
  local before = #srv:requests()
  local dir = h.tmpdir()
  local p = h.spawn { dir = dir, "--data-dir", dir .. "/data", "--id", "poller", "--market",
    "rest:" .. srv.base .. ",interval=200" .. (settings or ""),
    h.script(dir, "function main() while true do Sleep(100) end end") }
  procs[#procs + 1] = p
  p.url = "rest:" .. srv.base .. ",interval=200" .. (settings or "")
  function p:err() return h.read(self.tag .. ".err") or "" end
  assert.is_truthy(h.eventually(function() return #srv:requests() >= before + 3 end, 10), "the poller did not start")
  return p
end

-- Waits for line in p's stderr; returns the number of requests the venue had received by then.
local function when_said(p, srv, line, timeout)
  assert.is_truthy(h.eventually(function() return p:err():find(line, 1, true) end, timeout or 10),
    "not said: " .. line .. "\n" .. p:err())
  return #srv:requests()
end

describe("the rest market's rate limits", function()
  after_each(function() h.kill_all(procs) end)

  it("stops every request for the Retry-After of a 429, with one warning and one line when it resumes", function()
    local srv = new_venue()
    local p = poll(srv)
    -- the back-off starts when the 429 arrives, after this: the resume is at least 3 s after t0, however late
    -- (under valgrind, seconds late) this runner sees the lines
    local t0 = UnixNano()
    srv:put(TICKER, '{"code":-1003,"msg":"Too many requests."}', { "status 429", "header Retry-After: 3" })
    local n = when_said(p, srv, "warning: market " .. p.url .. ": the venue answered HTTP 429 Too Many Requests: "
      .. "no requests for 3 s (its Retry-After)")
    srv:fixture("binance/api/v3/ticker/24hr", TICKER)
    local left = 2800 - (UnixNano() - t0) / 1e6     -- looked at while the back-off surely lasts
    if left > 0 then
      Sleep(left)
      assert.are.equal(n, #srv:requests(), "requests during the back-off")
    end
    when_said(p, srv, "market " .. p.url .. ": requests resumed after the back-off")
    local after = (UnixNano() - t0) / 1e9
    assert.is_true(after >= 2.9, "resumed after " .. after .. " s")
    assert.is_truthy(h.eventually(function() return #srv:requests() >= n + 6 end, 5))
    local err = p:err()
    assert.are.equal(1, count(err, "Too Many Requests"), err)
    assert.are.equal(1, count(err, "requests resumed"), err)
    assert.are.equal(0, count(err, "ticker refused"), err)
  end)

  it("takes a 418 without Retry-After as Binance's shortest ban, 2 minutes", function()
    local srv = new_venue()
    local p = poll(srv)
    srv:put(TICKER, '{"code":-1003,"msg":"Way too many requests; IP banned."}', { "status 418" })
    local n = when_said(p, srv, "warning: market " .. p.url .. ": the venue answered HTTP 418 (this IP is banned "
      .. "for requests after a 429): no requests for 120 s (it sent no Retry-After: the default)")
    Sleep(2000)
    assert.are.equal(n, #srv:requests(), "requests during the ban")
  end)

  it("stops at 80 % of the venue's weight limit until the venue's minute ends, and not below", function()
    local srv = new_venue()
    local fix = h.read(h.source .. "/spec/fixtures/binance/api/v3/ticker/24hr")
    srv:put(TICKER, fix, { "header X-MBX-USED-WEIGHT-1M: 4700" })
    local p = poll(srv)
    local n = #srv:requests()
    assert.is_truthy(h.eventually(function() return #srv:requests() >= n + 3 end, 5),
      "polling goes on below 80 % of 6000")
    srv:put(TICKER, fix, { "header X-MBX-USED-WEIGHT-1M: 4800" })
    n = when_said(p, srv, "warning: market " .. p.url .. ": used weight 4800 of 6000 per minute "
      .. "(X-MBX-USED-WEIGHT-1M): no requests for ")
    local left = tonumber(p:err():match("no requests for (%d+) s, until the venue's minute ends"))
    assert.is_truthy(left and left >= 2 and left <= 61, p:err())
    Sleep(math.min(2, left - 1) * 1000)
    assert.are.equal(n, #srv:requests(), "requests during the pause")
  end)

  it("watches the limit the market names, weight=N, or none with weight=0", function()
    local srv = new_venue()
    local fix = h.read(h.source .. "/spec/fixtures/binance/api/v3/ticker/24hr")
    srv:put(TICKER, fix, { "header X-MBX-USED-WEIGHT-1M: 900" })
    local p = poll(srv, ",weight=1000")
    when_said(p, srv, "used weight 900 of 1000 per minute")
    -- p now waits for the venue's minute; q, past 80 % of the default 6000, must poll on with weight=0
    srv:put(TICKER, fix, { "header X-MBX-USED-WEIGHT-1M: 5900" })
    local q = poll(srv, ",weight=0")
    local n = #srv:requests()
    assert.is_truthy(h.eventually(function() return #srv:requests() >= n + 6 end, 5), "weight=0 polls on")
    assert.are.equal(0, count(q:err(), "used weight"), q:err())
    local r = h.run { "--market", "rest:" .. srv.base .. ",weight=-1", h.script(h.tmpdir(), "") }
    assert.are.equal(2, r.code)
    assert.matches("weight must be the venue's request weight limit per minute, from 0 (not watched) to 1000000 "
      .. "(got '-1')", r.err, 1, true)
  end)
end)

describe("what the venue sends that is not data", function()
  after_each(function() h.kill_all(procs) end)

  it("names the venue's error in a 200 body, not a missing field", function()
    local srv = new_venue()
    srv:put(TICKER, '{"code":-1121,"msg":"Invalid symbol."}')
    local dir = h.tmpdir()
    local r = h.run { dir = dir, "--data-dir", dir .. "/data", "--id", "v", "--market",
      "rest:" .. srv.base .. ",interval=200", h.script(dir, "print(exchange.GetTicker())") }
    assert.are.equal(0, r.code, r.err)
    assert.matches(": ticker refused: the venue's error -1121: Invalid symbol.; none yet", r.err, 1, true)
    assert.matches("its last fetch was refused: the venue's error -1121: Invalid symbol.", r.out, 1, true)
    assert.are.equal(0, count(r.err, "symbol is missing"), r.err)
  end)

  it("reports a 1 MB header line as a header too large, not as out of memory", function()
    local srv = new_venue()
    local fix = h.read(h.source .. "/spec/fixtures/binance/api/v3/ticker/24hr")
    srv:put(TICKER, fix, { "hugeheader 1048576" })
    local dir = h.tmpdir()
    local r = h.run { dir = dir, "--data-dir", dir .. "/data", "--id", "v", "--market",
      "rest:" .. srv.base .. ",interval=200", h.script(dir, "") }
    assert.are.equal(0, r.code, r.err)
    assert.matches(": ticker refused: response header too large: a header line passed libcurl's limit of 100 KB",
      r.err, 1, true)
    assert.are.equal(0, count(r.err, "Out of memory"), r.err)
  end)
end)

describe("a process out of file descriptors", function()
  after_each(function() h.kill_all(procs) end)

  it("says too many open files, not that it cannot connect, and recovers when descriptors are free", function()
    local srv = new_venue()
    local dir = h.tmpdir()
    local script = h.script(dir, h.report_prelude .. string.format([[
local url, refused = %q, %q
local keep = {}
local function exhaust()
  while true do
    local f = io.open("/dev/null")
    if not f then return end
    keep[#keep + 1] = f
  end
end
local function free(n) for _ = 1, n do table.remove(keep):close() end end
local t0 = Unix()
exhaust()
out("cold", select(2, HttpQuery(url)))
free(10)
out("warm", #HttpQuery(url))
exhaust()
out("full", select(2, HttpQuery(url)))
out("seconds", Unix() - t0)
free(10)
out("freed", #HttpQuery(url))
out("refused", select(2, HttpQuery(refused)))
]], srv:url("/api/v3/depth"), "http://127.0.0.1:" .. srv.refused .. "/"))
    local p = h.spawn { dir = dir, prefix = { "sh", "-c", 'ulimit -n 64; exec "$0" "$@"' },
      "--data-dir", dir .. "/data", "--id", "fds", script }
    procs[#procs + 1] = p
    assert.are.equal(0, p:wait(20), h.read(p.tag .. ".err"))
    local got = {}
    for _, f in ipairs(h.fields(h.read(p.tag .. ".out"))) do got[f[1]] = f[2] end
    assert.matches("^HttpQuery .*: too many open files %(", got.cold)   -- the HTTP thread starting, or connecting
    assert.is_true(tonumber(got.warm) > 0)
    assert.matches("^HttpQuery .*: cannot connect: too many open files %(", got.full)
    assert.matches("ulimit %-n", got.full)
    -- a failure that waited for its timeout takes 10 s (HttpQuery's default), two of them 20: under 8 s they did
    -- not (3 s was the bound, which a TSan build on a loaded machine reached)
    if not h.valgrind then      -- under valgrind a call takes seconds anyway: the bound would say nothing
      assert.is_true(tonumber(got.seconds) < 8, "the failures took " .. got.seconds .. " s: not their timeouts")
    end
    assert.is_true(tonumber(got.freed) > 0)
    assert.matches(": cannot connect: Connection refused$", got.refused)
  end)
end)

describe("HttpQuery with retry_after = true", function()
  it("fails on a 429 with the venue's Retry-After and sends nothing more to that host until then", function()
    local srv = httpd.start()
    servers[#servers + 1] = srv
    srv:put("/limited", '{"code":-1003,"msg":"Too many requests."}', { "status 429", "header Retry-After: 2" })
    srv:put("/banned", "{}", { "status 418" })
    srv:put("/ok", "fine")
    local other = httpd.start()
    servers[#servers + 1] = other
    other:put("/ok", "other")
    local dir = h.tmpdir()
    local script = h.script(dir, h.report_prelude .. string.format([[
local base, other = %q, %q
local opt = { retry_after = true }
out("limited", select(2, HttpQuery(base .. "/limited", opt)))
out("refused", select(2, HttpQuery(base .. "/ok", opt)))
out("other", HttpQuery(other .. "/ok", opt))
out("plain", HttpQuery(base .. "/ok"))
Sleep(2100)
out("after", HttpQuery(base .. "/ok", opt))
out("banned", select(2, HttpQuery(base .. "/banned", opt)))
local ok, err = pcall(HttpQuery, base .. "/ok", { retry_after = 1 })
out("misuse", err)
]], srv.base, other.base))
    local r = h.run { dir = dir, "--data-dir", dir .. "/data", "--id", "q", script }
    assert.are.equal(0, r.code, r.err)
    local got = {}
    for _, f in ipairs(h.fields(r.out)) do got[f[1]] = f[2] end
    assert.are.equal("HttpQuery " .. srv.base .. "/limited: 429 Too Many Requests, retry after 2 s", got.limited)
    assert.matches("^HttpQuery " .. srv.base:gsub("%p", "%%%0") .. "/ok: not sent: http://127%.0%.0%.1:%d+ answered "
      .. "429 and asked to retry after 2 s; [12] s left$", got.refused)
    assert.are.equal("other", got.other)
    assert.are.equal("fine", got.plain, "without retry_after a 429 is an answer, as on the platforms")
    assert.are.equal("fine", got.after)
    assert.are.equal("HttpQuery " .. srv.base .. "/banned: 418 I'm a teapot (this address is banned), retry after "
      .. "120 s (no Retry-After: the default)", got.banned)
    assert.matches("options.retry_after must be a boolean, not number", got.misuse, 1, true)
    local paths = {}
    for _, req in ipairs(srv:requests()) do paths[#paths + 1] = req:match("^GET (%S+)") end
    assert.are.same({ "/limited", "/ok", "/ok", "/banned" }, paths)
  end)
end)

describe("one back-off for the whole process", function()
  after_each(function() h.kill_all(procs) end)

  -- A venue counts and bans per address: what the poller was told binds HttpQuery {retry_after = true} in the same
  -- process, and the other way round (the table in runtime/core/fetch.c).
  local function start(srv, body)
    local dir = h.tmpdir()
    local script = h.script(dir, h.report_prelude .. string.format([[
local base, ctl = %q, %q
local opt = { retry_after = true }
]], srv.base, dir .. "/go") .. body)
    local p = h.spawn { dir = dir, "--data-dir", dir .. "/data", "--id", "both", "--market",
      "rest:" .. srv.base .. ",interval=200", script }
    procs[#procs + 1] = p
    p.dir = dir
    function p:err() return h.read(self.tag .. ".err") or "" end
    function p:got()
      local got = {}
      for _, f in ipairs(h.fields(h.read(self.tag .. ".out"))) do got[f[1]] = f[2] end
      return got
    end
    return p
  end

  it("a 429 to the poller keeps HttpQuery {retry_after = true} away from the venue", function()
    local srv = new_venue()
    srv:put(TICKER, '{"code":-1003,"msg":"Too many requests."}', { "status 429", "header Retry-After: 30" })
    srv:put("/ok", "fine")
    local p = start(srv, [[
while not io.open(ctl) do Sleep(50) end
out("refused", select(2, HttpQuery(base .. "/ok", opt)))
]])
    when_said(p, srv, "answered HTTP 429 Too Many Requests: no requests for 30 s (its Retry-After)")
    h.write(p.dir .. "/go", "")
    assert.are.equal(0, p:wait(20), p:err())
    assert.matches("^HttpQuery .*/ok: not sent: http://127%.0%.0%.1:%d+ answered 429 and asked to retry after 30 s; "
      .. "%d+ s left$", p:got().refused)
    for _, req in ipairs(srv:requests()) do assert.is_nil(req:find("/ok", 1, true), "HttpQuery reached the venue") end
  end)

  it("a 429 to HttpQuery {retry_after = true} pauses the poller", function()
    local srv = new_venue()
    srv:put("/limited", '{"code":-1003,"msg":"Too many requests."}', { "status 429", "header Retry-After: 30" })
    local p = start(srv, [[
out("limited", select(2, HttpQuery(base .. "/limited", opt)))
while not io.open(ctl) do Sleep(50) end
]])
    local n = when_said(p, srv, "answered HTTP 429 to another request of this data dir: no requests for")
    Sleep(1000)
    assert.are.equal(n, #srv:requests(), "the poller sent requests during HttpQuery's back-off")
    h.write(p.dir .. "/go", "")
    assert.are.equal(0, p:wait(20), p:err())
    assert.are.equal("HttpQuery " .. srv.base .. "/limited: 429 Too Many Requests, retry after 30 s", p:got().limited)
  end)
end)
