-- Spec for Mail (runtime/lua/http.c, runtime/core/fetch.c; docs/http.md "Mail"): real stratrun processes sending
-- to a real SMTP server on this machine (tests/smtpd.c, named by STRATRUN_SMTPD), which writes down every mail it
-- accepts: the AUTH it was given, the envelope and the message.
local h = require("helpers")

local SMTPD = assert(os.getenv("STRATRUN_SMTPD"), "STRATRUN_SMTPD is not set: run the specs through ctest")
local servers = {}

-- Starts a server; any: listen on every address, not only 127.0.0.1. Returns {root, port}.
local function smtpd(any)
  local dir = h.tmpdir()
  assert(h.sh(string.format("%s %s --lifetime %d %s > %s 2>&1 &", h.quote(SMTPD), h.quote(dir),
    math.ceil(300 * h.time_scale), any and "--any" or "", h.quote(dir .. "/smtpd.log"))) == 0)
  local port = h.eventually(function()
    local p = h.read(dir .. "/.port")
    return p and tonumber(p:match("%d+"))
  end, 10)
  assert(port, "the test SMTP server did not start: " .. (h.read(dir .. "/smtpd.log") or ""))
  local s = { root = dir, port = port }
  servers[#servers + 1] = s
  return s
end

-- Mail n as the server wrote it: {auth = "user\0password" or nil, from, to = {...}, head = {Name = value}, body}.
local function mail(s, n)
  local text = h.read(s.root .. "/mail-" .. n .. ".txt")
  if not text then return nil end
  local m = { to = {}, head = {} }
  local env, msg = text:match("^(.-)\n\n(.*)$")
  for line in env:gmatch("[^\n]+") do
    local k, v = line:match("^(%u+) (.*)$")
    if k == "AUTH" then m.auth = v elseif k == "FROM" then m.from = v else m.to[#m.to + 1] = v end
  end
  local head, body = msg:match("^(.-)\r\n\r\n(.*)$")
  m.body = body
  -- unfold the header lines (a continuation starts with a space)
  head = head:gsub("\r\n ", " ")
  for line in (head .. "\r\n"):gmatch("(.-)\r\n") do
    local k, v = line:match("^([%w-]+): (.*)$")
    m.head[k] = v
  end
  return m
end

-- The subject's RFC 2047 encoded words decoded.
local function subject(v)
  return (v:gsub("=%?UTF%-8%?B%?([%w+/=]+)%?= ?", function(b64) return Encode("raw", "base64", "string", b64) end))
end

local function run(text, opts)
  opts = opts or {}
  return h.run_bot(text, opts)
end

local ok, has = h.assert_ok, h.assert_has

teardown(function()
  for _, s in ipairs(servers) do h.write(s.root .. "/.stop", "") end
end)

describe("Mail", function()
  it("sends the message through SMTP, authenticated, to every recipient, and returns true", function()
    local s = smtpd()
    local title = "Alert ✓ BTC über 50000 " .. string.rep("é", 30)
    local r = run(string.format([[
      function main()
        local ok = Mail("smtp://127.0.0.1:%d", "bot@example.com", "s3cret-pw", "a@example.com, b@example.com",
          %q, "line 1\n.\nline 3 ünïcode\r\nend")
        Log("sent", ok, GetLastError())
      end
    ]], s.port, title))
    ok(r)
    has(r.out, "sent true null")      -- Log shows nil as null; no error to get
    local m = assert(mail(s, 1), "the server got no mail")
    assert.are.equal("bot@example.com\0s3cret-pw", m.auth)
    assert.are.equal("<bot@example.com>", m.from)
    assert.are.same({ "<a@example.com>", "<b@example.com>" }, m.to)
    assert.are.equal("bot@example.com", m.head.From)
    assert.are.equal("a@example.com, b@example.com", m.head.To)
    assert.are.equal(title, subject(m.head.Subject))
    assert.are.equal("text/plain; charset=UTF-8", m.head["Content-Type"])
    assert.truthy(m.head.Date:match("^%a%a%a, %d%d %a%a%a %d%d%d%d %d%d:%d%d:%d%d %+0000$"), m.head.Date)
    -- every line ends CRLF, and a line holding a single dot arrives as it was written
    assert.are.equal("line 1\r\n.\r\nline 3 ünïcode\r\nend\r\n", m.body)
    -- the password reaches the server and nothing else
    assert.falsy((r.out .. r.err .. (h.read(r.bot .. "/log.txt") or "")):find("s3cret", 1, true))
  end)

  it("names every recipient when the server refuses, and sends a body with a line too long for SMTP as base64", function()
    local s = smtpd()
    local long = string.rep("0123456789", 150)          -- 1500 bytes: past SMTP's 998
    local r = run(string.format([[
      function main()
        Log("refused", Mail("smtp://127.0.0.1:%d", "bot@example.com", "", "a@example.com, reject@example.com", "t", "b"))
        Log("long", Mail("smtp://127.0.0.1:%d", "bot@example.com", "", "a@example.com", "t", "head\n" .. %q))
      end
    ]], s.port, s.port, long))
    ok(r)
    has(r.out, "Mail to a@example.com, reject@example.com via smtp://127.0.0.1:" .. s.port
      .. ": the server refused the mail (it answered 550)")
    has(r.out, "long true")
    local m = assert(mail(s, 1))
    assert.are.equal("base64", m.head["Content-Transfer-Encoding"])
    local lines = 0
    for l in m.body:gmatch("([^\r\n]*)\r\n") do
      lines = lines + 1
      assert.is_true(#l <= 76, "a base64 line of " .. #l)
    end
    assert.is_true(lines > 1)
    assert.are.equal("head\r\n" .. long .. "\r\n", Encode("raw", "base64", "string", (m.body:gsub("\r\n", ""))))
    -- ms . pid . the bot's ID . its count: unique across the bots of a process
    assert.truthy(m.head["Message-ID"]:match("^<%d+%.%d+%.bot1%.%d+@example%.com>$"), m.head["Message-ID"])
  end)

  it("takes the config's mail settings for empty arguments, and its password only to its own server", function()
    local s, other = smtpd(), smtpd()
    local dir = h.tmpdir()
    h.write(dir .. "/stratrun.conf", string.format([[
mail = { server = "smtp://127.0.0.1:%d", user = "cfg@example.com", password = "cfg-pw-1", to = "ops@example.com" }
]], s.port))
    local r = run(string.format([[
      function main()
        Log("one", Mail("", "", "", "", "t1", "b1"))
        Log("two", Mail(nil, nil, nil, "x@example.com", "t2", "b2"))
        Log("three", Mail("smtp://127.0.0.1:%d", "", "", "", "t3", "b3"))
        -- nothing of the config's mail table is reachable from the strategy
        local seen = false
        for k, v in pairs(require("stratrun.config")) do
          if tostring(k):find("mail") or tostring(v):find("cfg%%-pw") then seen = true end
        end
        Log("seen", seen)
      end
    ]], other.port), { dir = dir, args = { "--config", dir .. "/stratrun.conf" } })
    ok(r)
    has(r.out, "one true")
    has(r.out, "two true")
    has(r.out, "three true")
    has(r.out, "seen false")
    local m1, m2 = mail(s, 1), mail(s, 2)
    assert.are.equal("cfg@example.com\0cfg-pw-1", m1.auth)
    assert.are.same({ "<ops@example.com>" }, m1.to)
    assert.are.equal("t1", m1.head.Subject)
    assert.are.same({ "<x@example.com>" }, m2.to)
    -- the other server got the mail without the config's password
    local m3 = assert(mail(other, 1))
    assert.is_nil(m3.auth)
    assert.are.equal("<cfg@example.com>", m3.from)
    assert.falsy((r.out .. r.err):find("cfg-pw-1", 1, true))
  end)

  it("checks the config's mail table at start, replaces it whole on a second assignment, and takes the password from STRATRUN_MAIL_PASSWORD", function()
    local s, other = smtpd(), smtpd()
    local function start(config, env, script)
      local dir = h.tmpdir()
      h.write(dir .. "/stratrun.conf", config)
      h.script(dir, script or "function main() Log('ran') end")
      return h.run({ dir = dir, env = env, "--data-dir", dir .. "/d", "--id", "bot1", "--config",
        dir .. "/stratrun.conf", "strategy.lua" })
    end
    for _, c in ipairs({
      { 'mail = { server = "http://x" }', "stratrun.conf:1: mail.server 'http://x' is not HOST[:PORT], ssl://HOST:PORT or smtp://HOST[:PORT]" },
      { 'mail = { user = "nope" }', "stratrun.conf:1: mail.user 'nope' is not the sender's address (name@domain)" },
      { 'mail = { to = "a@example.com, b" }', "stratrun.conf:1: mail.to 'a@example.com, b' must be 1 to 20 addresses" },
      { 'mail = { password = "pw" }', "stratrun.conf:1: mail.password is given without mail.server" },
      { 'mail = { pass = "pw" }', "stratrun.conf:1: unknown key mail.pass (allowed: server, user, password, to)" },
    }) do
      local r = start(c[1] .. "\n")
      assert.are.equal(2, r.code, c[1])
      has(r.err, c[2])
      assert.falsy(r.out:find("ran", 1, true))
    end
    -- a second mail table replaces the first: the first password does not go to the second server
    local r = start(string.format([[
mail = { server = "smtp://127.0.0.1:%d", user = "cfg@example.com", password = "first-pw", to = "ops@example.com" }
mail = { server = "smtp://127.0.0.1:%d", user = "cfg@example.com", to = "ops@example.com" }
]], s.port, other.port), nil, [[function main() Log("sent", Mail("", "", "", "", "t", "b")) end]])
    ok(r)
    has(r.out, "sent true")
    assert.is_nil(mail(s, 1))
    assert.is_nil(mail(other, 1).auth)
    -- the environment's password, for the config's server; the strategy cannot read it there
    local e = start(string.format('mail = { server = "smtp://127.0.0.1:%d", user = "cfg@example.com" }\n', s.port),
      { STRATRUN_MAIL_PASSWORD = "env-pw-9" },
      [[function main() Log("env", os.getenv("STRATRUN_MAIL_PASSWORD")) Log("sent", Mail("", "", "", "x@example.com", "t", "b")) end]])
    ok(e)
    has(e.out, "env null")
    has(e.out, "sent true")
    assert.are.equal("cfg@example.com\0env-pw-9", mail(s, 1).auth)
    -- a replay sends no mail: the variable does not stop it
    local dir = h.tmpdir()
    h.script(dir, "function main() Log('replayed') end")
    local rp = h.run({ dir = dir, env = { STRATRUN_MAIL_PASSWORD = "y" }, "replay", "--data-dir", dir .. "/d",
      "--market", "sim:seed=1,bars=5", "strategy.lua" })
    ok(rp)
    has(rp.out, "replayed")
    local nul = start('mail = { server = "smtp://127.0.0.1:1", password = "se\0cret-pw" }\n')
    assert.are.equal(2, nul.code)
    has(nul.err, "mail.password holds a NUL byte; it must be text without one")
    assert.falsy(nul.err:find("cret-pw", 1, true))
    local both = start(string.format('mail = { server = "smtp://127.0.0.1:%d", password = "x" }\n', s.port),
      { STRATRUN_MAIL_PASSWORD = "y" })
    assert.are.equal(2, both.code)
    has(both.err, "STRATRUN_MAIL_PASSWORD is set, but the config's mail table has a password too: give it in one place")
  end)

  it("returns false and logs why when the server refuses, and raises on arguments that cannot be right", function()
    local s = smtpd()
    local deny = smtpd()
    h.write(deny.root .. "/.deny", "")
    local refused = smtpd()
    h.write(refused.root .. "/.stop", "")
    assert.truthy(h.eventually(function()    -- the port is closed once the server has stopped
      return h.sh("bash -c " .. h.quote("! (exec 3<>/dev/tcp/127.0.0.1/" .. refused.port .. ") 2>/dev/null")) == 0
    end, 10), "the server did not stop")
    local r = run(string.format([[
      function main()
        Log("r1", Mail("smtp://127.0.0.1:%d", "bot@example.com", "", "reject@example.com", "t", "b"))
        Log("e1", GetLastError())
        Log("r2", Mail("smtp://127.0.0.1:%d", "bot@example.com", "pw", "a@example.com", "t", "b"))
        Log("r3", Mail("smtp://127.0.0.1:%d", "bot@example.com", "", "a@example.com", "t", "b"))
        for _, args in ipairs({
          { "http://127.0.0.1:25", "bot@example.com", "", "a@example.com", "t", "b" },
          { "127.0.0.1:25", "bot", "", "a@example.com", "t", "b" },
          { "127.0.0.1:25", "bot@example.com", "", "a@example.com, nope", "t", "b" },
          { "127.0.0.1:25", "bot@example.com", "", "a@example.com", "t\r\nBcc: x@example.com", "b" },
          { "", "bot@example.com", "", "a@example.com", "t", "b" },
          { "127.0.0.1:25", "bot@example.com", "", "a@example.com", {}, "b" },
          { "127.0.0.1:25", "bot@example.com", "", "a@example.com", "a" .. string.rep("\x80", 46), "b" },
          { "127.0.0.1:25", "bot@example.com", "", "a@example.com,", "t", "b" },
          { "127.0.0.1:25", "bot@example.com", "", "a@example.com", "ab\0cd", "b" },
        }) do
          local okc, err = pcall(Mail, table.unpack(args, 1, 6))
          Log("raised", okc, err)
        end
      end
    ]], s.port, deny.port, refused.port))
    ok(r)
    local url = "smtp://127.0.0.1:" .. s.port
    has(r.out, "Mail to reject@example.com via " .. url .. ": the server refused the mail (it answered 550)")
    has(r.out, "r1 false")
    has(r.out, "e1 Mail to reject@example.com via " .. url .. ": the server refused the mail (it answered 550)")
    has(r.out, "via smtp://127.0.0.1:" .. deny.port .. ": the server refused the user name or password (it answered 535)")
    has(r.out, "r2 false")
    has(r.out, "via smtp://127.0.0.1:" .. refused.port .. ": cannot connect: Connection refused")
    has(r.out, "r3 false")
    has(r.out, "raised false Mail: smtpServer 'http://127.0.0.1:25' is not HOST[:PORT], ssl://HOST:PORT or smtp://HOST[:PORT]")
    has(r.out, "raised false Mail: smtpUsername 'bot' is not the sender's address (name@domain)")
    has(r.out, "raised false Mail: mailTo 'a@example.com, nope' must be 1 to 20 addresses (name@domain) separated by commas")
    has(r.out, "raised false Mail: the title must not contain CR or LF (it is one header line)")
    has(r.out, "raised false Mail: the title is not UTF-8 text (byte 2 is not)")
    has(r.out, "raised false Mail: mailTo 'a@example.com,' must be 1 to 20 addresses")
    has(r.out, "raised false Mail: the title must not contain control characters (byte 3 is 0x00)")
    has(r.out, "raised false Mail: smtpServer (argument 1) is empty and the config sets no mail.server")
    has(r.out, "raised false Mail: title (argument 5) must be a string, not table")
    assert.is_nil(mail(s, 1))
  end)

  it("never sends a password in clear to another machine: without STARTTLS it refuses", function()
    local p = io.popen("hostname -I 2>/dev/null")
    local ip = (p:read("a") or ""):match("(%d+%.%d+%.%d+%.%d+)")
    p:close()
    if not ip or ip:find("^127%.") then
      pending("this machine has no IPv4 address besides loopback")
      return
    end
    local s = smtpd(true)
    local r = run(string.format([[
      function main()
        Log("clear", Mail("smtp://%s:%d", "bot@example.com", "pw-never-sent", "a@example.com", "t", "b"))
        Log("open", Mail("smtp://%s:%d", "bot@example.com", "", "a@example.com", "t", "b"))
      end
    ]], ip, s.port, ip, s.port))
    ok(r)
    has(r.out, "the server offers no STARTTLS, and a password is never sent in clear: use smtps://")
    has(r.out, "clear false")
    -- without a password there is nothing to protect: the mail goes (STARTTLS is used when offered)
    has(r.out, "open true")
    local m = assert(mail(s, 1))
    assert.is_nil(m.auth)
    assert.is_nil(mail(s, 2))
  end)

  it("sends nothing in a replay, says so once, and returns true", function()
    local s = smtpd()
    local r = run(string.format([[
      function main()
        Log("a", Mail("smtp://127.0.0.1:%d", "bot@example.com", "", "a@example.com", "t", "b"))
        Log("b", Mail("smtp://127.0.0.1:%d", "bot@example.com", "", "a@example.com", "t", "b"))
        Log("c", Mail_Go("smtp://127.0.0.1:%d", "bot@example.com", "", "a@example.com", "t", "b"):wait())
      end
    ]], s.port, s.port, s.port), { mode = "replay" })
    ok(r)
    has(r.out, "a true")
    has(r.out, "b true")
    has(r.out, "c true")
    has(r.out, "Mail: a replay sends no mail (this one and later ones to a@example.com are not sent)")
    local _, n = r.out:gsub("a replay sends no mail", "")
    assert.are.equal(1, n)
    assert.is_nil(mail(s, 1))
    -- what a live run refuses, a replay refuses too
    local bad = run([[function main() Mail("127.0.0.1:25", "bot@example.com", "", "nope", "t", "b") end]], { mode = "replay" })
    assert.are.equal(1, bad.code)
    has(bad.err, "Mail: mailTo 'nope' must be 1 to 20 addresses (name@domain) separated by commas")
  end)

  it("Mail_Go starts the mail at once, and its routine's wait returns what Mail returns", function()
    local s = smtpd()
    h.write(s.root .. "/.delay", tostring(math.floor(1000 * h.time_scale)))
    local r = run(string.format([[
      function main()
        local g = Mail_Go("smtp://127.0.0.1:%d", "bot@example.com", "", "a@example.com", "go", "body")
        Log("at once", g:wait(-1))
        Log("done", g.wait())
        Log("again", pcall(g.wait))
        Log("refused", Mail_Go("smtp://127.0.0.1:%d", "bot@example.com", "", "reject@example.com", "t", "b"):wait())
      end
    ]], s.port, s.port))
    ok(r)
    has(r.out, "at once null")
    has(r.out, "done true")
    assert.truthy(r.out:find("again false [^\n]*wait: routine 1 already finished: its result was taken"), r.out)
    has(r.out, "refused false")
    has(r.out, "the server refused the mail (it answered 550)")
    assert.are.equal("go", mail(s, 1).head.Subject)
  end)

  it("never lets a strategy reach a routine's finalizer, and bounds the routines in flight, not those over", function()
    -- two servers (each takes 64 connections at once) whose answers take 2 s: 100 requests stay in flight
    local httpd = require("httpd")
    local slow1, slow2 = httpd.start(), httpd.start()
    local delay = "delay " .. math.floor(2000 * h.time_scale)
    slow1:put("/slow", "late", { delay })
    slow2:put("/slow", "late", { delay })
    local r = run(string.format([[
      function main()
        local g = HttpQuery_Go("http://127.0.0.1:1/")
        Log("mt", getmetatable(g))
        g:wait()
        -- a finalizer of the strategy's brings the routine back after the runtime's own finalizer closed it
        local keeper = setmetatable({}, { __gc = function(t) R = t.r end })
        keeper.r = HttpQuery_Go("http://127.0.0.1:1/")
        keeper = nil
        collectgarbage() collectgarbage()
        Log("closed", pcall(R.wait))
        -- at most 100 transfers in flight: the 101st slow one is refused
        local list = {}
        local opts = { timeout = %d }       -- longer than the answers take, under valgrind too
        for i = 1, 100 do list[i] = HttpQuery_Go(i %% 2 == 0 and %q or %q, opts) end
        Log("101st", pcall(HttpQuery_Go, %q, opts))
        -- once they are over, waited for or not (and not collected: list holds them), more may start
        Sleep(%d)
        Log("after they ended", type(HttpQuery_Go("http://127.0.0.1:1/")), list[7]:wait())
      end
    ]], math.floor(30000 * h.time_scale), slow1:url("/slow"), slow2:url("/slow"), slow1:url("/slow"),
      math.floor(6000 * h.time_scale)), { timeout = 120 })
    slow1:stop()
    slow2:stop()
    ok(r)
    has(r.out, "mt false")
    assert.truthy(r.out:find("closed false [^\n]*wait: routine 2 was closed %(collected%) before its result was taken"), r.out)
    has(r.out, "101st false")
    has(r.out, "HttpQuery_Go: 100 routines of this bot are in flight; wait for them before starting more")
    has(r.out, "after they ended userdata late")
  end)

  it("keeps the other bots of the process running while it waits for the server", function()
    local s = smtpd()
    h.write(s.root .. "/.delay", tostring(math.floor(1500 * h.time_scale)))
    local dir = h.tmpdir()
    h.script(dir, string.format([[
      function main()
        Log("before")
        Log("sent", Mail("smtp://127.0.0.1:%d", "bot@example.com", "", "a@example.com", "t", "b"))
      end
    ]], s.port), "m.lua")
    h.script(dir, [[
      function main()
        for i = 1, 40 do Log("tick", i) Sleep(100) end
      end
    ]], "t.lua")
    local r = h.run({ dir = dir, "run", "--data-dir", dir .. "/d", "m.lua@mailer", "t.lua@ticker", timeout = 60 })
    ok(r)
    local lines = h.lines(r.out)
    local from, to
    for i, l in ipairs(lines) do
      if l:find("%[mailer%] before") then from = i end
      if l:find("%[mailer%] sent true") then to = i end
    end
    assert.truthy(from and to, r.out)
    local ticks = 0
    for i = from, to do
      if lines[i]:find("%[ticker%] tick") then ticks = ticks + 1 end
    end
    assert.is_true(ticks >= 5, "ticks while the mail was sent: " .. ticks .. "\n" .. r.out)
  end)
end)
