-- Spec for Dial (runtime/lua/dial.c, runtime/core/dial.c), as docs/dial.md describes it.
--
-- The peers are independent implementations (spec/dial_peer.py): Debian's python3-websockets as the ws:// and
-- wss:// server, a plain Python socket server for tcp://, all on 127.0.0.1. The spec runner is itself a stratrun
-- bot, so most cases call Dial directly; wss with a trusted certificate, stops and replays run in stratrun
-- processes of their own.
local h = require("helpers")

local dir, cert, ws, tcp, wss, raw, tcpflood, tcplate

local self_pid = (h.read("/proc/self/stat") or ""):match("^(%d+)")

local function port_of(name)
  return assert((h.read(dir .. "/ports") or ""):match(name .. " (%d+)"), "no " .. name .. " port")
end

local function elapsed_ms(t0) return (UnixNano() - t0) / 1e6 end

-- Starts DIR/strategy.lua in a stratrun process, stops it (SIGTERM) once it logs "ready" and checks that it ended
-- within ms (stretched by h.time_scale) with its onexit run; returns its output.
local function stopped_within(pdir, ms)
  local p = h.spawn({ "--data-dir", pdir .. "/d", "--id", "b1", "strategy.lua", dir = pdir })
  assert.is_true(p:wait_for("ready", 10), p:output())
  Sleep(200)
  local t0 = UnixNano()
  p:signal("TERM")
  assert.are.equal(143, p:wait(10))
  assert.is_true(elapsed_ms(t0) < ms * h.time_scale, "stopped after " .. elapsed_ms(t0) .. " ms")
  local out = p:output()
  h.assert_has(out, "onexit ran")
  return out
end

-- Runs src in a stratrun process of its own (live, or "replay"); env: its environment.
local function run_bot(src, opts)
  return h.run_bot(src, opts)
end

setup(function()
  dir = h.tmpdir()
  cert = dir .. "/cert.pem"
  assert(h.sh(string.format("openssl req -x509 -newkey rsa:2048 -nodes -keyout %s/key.pem -out %s -days 1 "
    .. "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 > /dev/null 2>&1", h.quote(dir), h.quote(cert))) == 0)
  assert(h.sh(string.format("/usr/bin/python3 %s/spec/dial_peer.py %s %s %s %s/key.pem > %s/peer.log 2>&1 &",
    h.quote(h.source), h.quote(dir), self_pid, h.quote(cert), h.quote(dir), h.quote(dir))) == 0)
  assert(h.eventually(function() return h.exists(dir .. "/ports") end, 10), h.read(dir .. "/peer.log"))
  ws = "ws://127.0.0.1:" .. port_of("ws")
  tcp = "tcp://127.0.0.1:" .. port_of("tcp")
  wss = "wss://127.0.0.1:" .. port_of("wss")
  raw = "ws://127.0.0.1:" .. port_of("raw")
  tcpflood = "tcp://127.0.0.1:" .. port_of("tcpflood")
  tcplate = "tcp://127.0.0.1:" .. port_of("tcplate")
end)

local function vmrss_kib()
  return tonumber((h.read("/proc/self/status") or ""):match("VmRSS:%s*(%d+)")) or 0
end

describe("Dial", function()
  it("round-trips text, binary and a message over 64 KiB with a WebSocket server", function()
    local c = assert(Dial(ws .. "/echo"))
    assert.are.equal(5, c:write("hello"))
    assert.are.equal("hello", c:read(3000))
    local bin = "\0\1\2\255\254 binary"
    assert.are.equal(#bin, c.write(bin))            -- the platform's c.write(...) works too
    assert.are.equal(bin, c.read(3000))
    local big = {}
    for i = 1, 30000 do big[i] = string.char(65 + i % 26) .. "é" end
    big = table.concat(big)                         -- 90,000 bytes of UTF-8
    assert.are.equal(#big, c:write(big))
    assert.are.equal(big, c:read(3000))
    c:close()
    c:close()                                       -- a second close does nothing
    assert.are.equal(0, c:write("after close"))
    assert.has_error(function() c:read(-1) end)
  end)

  it("reads a server's pushes with each timeout of the platform: block, -1, -2, ms", function()
    local c = assert(Dial(ws .. "/push?n=5"))
    assert.are.equal("m1", c:read())                -- blocks until a message is there
    Sleep(300)                                      -- m2..m5 have arrived
    assert.are.equal("m2", c:read(-1))              -- at once, the oldest
    assert.are.equal("m5", c:read(-2))              -- at once, the newest; m3 and m4 dropped
    assert.is_nil(c:read(-1))                       -- nothing left: nil at once
    local t0 = UnixNano()
    assert.is_nil(c:read(300))                      -- nil once 300 ms have passed
    assert.is_true(elapsed_ms(t0) >= 250, "read(300) returned after " .. elapsed_ms(t0) .. " ms")
    c:close()
  end)

  it("inflates and deflates with compress= and mode=", function()
    for _, z in ipairs({ { "gzip", "gzip" }, { "gzip_raw", "raw" }, { "deflate", "raw" }, { "zlib", "zlib" } }) do
      local dual = assert(Dial(ws .. "/zecho?z=" .. z[2] .. "|compress=" .. z[1] .. "&mode=dual"))
      dual:write("abc " .. z[1])                    -- deflated by Dial, inflated by the server
      assert.are.equal("echo:abc " .. z[1], dual:read(3000))
      dual:close()
      local recv = assert(Dial(ws .. "/zecho?z=" .. z[2] .. "|compress=" .. z[1]))   -- mode=recv, the default
      recv:write("plain " .. z[1])                  -- sent as text
      assert.are.equal("echo:plain " .. z[1], recv:read(3000))
      recv:close()
    end
  end)

  it("reconnects with reconnect=true and sends the payload again on every connection", function()
    os.remove(dir .. "/drop.log")
    local payload = '{"op":"subscribe","args":["a&b"]}'     -- payload= takes the rest, '&' included
    local c = assert(Dial(ws .. "/drop|reconnect=true&interval=200&payload=" .. payload))
    assert.are.equal("hello 1", c:read(3000))
    assert.are.equal("", c:read(3000))              -- the drop: "" once
    assert.are.equal("hello 2", c:read(5000))       -- then the next connection's messages, the read waiting
    assert.truthy(h.eventually(function()
      local log = h.read(dir .. "/drop.log") or ""
      return log:find("1 " .. payload, 1, true) and log:find("2 " .. payload, 1, true)
    end, 5), h.read(dir .. "/drop.log"))
    c:close()
  end)

  it("returns \"\" for good once the server closes, without reconnect", function()
    local c = assert(Dial(ws .. "/close"))
    assert.are.equal("bye", c:read(3000))
    assert.are.equal("", c:read(5000))              -- the close, at once
    assert.are.equal("", c:read(-1))
    assert.are.equal(0, c:write("x"))
  end)

  it("speaks raw TCP", function()
    local c = assert(Dial(tcp))
    assert.are.equal(4, c:write("ping"))
    assert.are.equal("ping", c:read(3000))
    c:close()
  end)

  it("fails with nil and one line naming the address: refused, unresolvable, untrusted certificate", function()
    local cases = {
      { "tcp://127.0.0.1:1", "Dial tcp://127.0.0.1:1: cannot connect to 127.0.0.1:1: Connection refused" },
      { "ws://no-such-host.invalid/x", "Dial ws://no-such-host.invalid/x: cannot resolve 'no-such-host.invalid'" },
      { wss .. "/echo", "Dial " .. wss .. "/echo: TLS handshake failed: certificate not trusted: self-signed certificate" },
    }
    for _, case in ipairs(cases) do
      local c, msg = Dial(case[1] .. "|payload=secret", 3000)
      assert.is_nil(c)
      assert.are.equal(case[2], msg:sub(1, #case[2]))
      assert.is_nil(msg:find("secret", 1, true))  -- the options (a payload may sign a login) are not shown
      assert.are.equal(msg, GetLastError())
    end
  end)

  it("raises on an address it cannot read, naming it", function()
    local cases = {
      { "http://127.0.0.1:80/", "Dial: unknown scheme in 'http://127.0.0.1:80/' (stratrun dials tcp://, tls://, ws:// and wss://)" },
      { "tcp://127.0.0.1", "Dial: no port in 'tcp://127.0.0.1' (tcp://HOST:PORT)" },
      { "ws://127.0.0.1:99999/", "Dial: invalid port in 'ws://127.0.0.1:99999/'" },
      { ws .. "/echo|compress=brotli", "Dial: compress=brotli: gzip, gzip_raw, deflate, flate or zlib" },
      { ws .. "/echo|timeout=5", "Dial: unknown option 'timeout'" },
    }
    for _, case in ipairs(cases) do
      local ok, err = pcall(Dial, case[1])
      assert.is_false(ok)
      assert.truthy(tostring(err):find(case[2], 1, true), tostring(err))
    end
  end)

  it("verifies the certificate of a wss server against the CA that $SSL_CERT_FILE names", function()
    local r = run_bot(([[
      local c, err = Dial("%s/echo", 5000)
      assert(c, err)
      c:write("over tls")
      print(c:read(3000))
    ]]):format(wss), { env = { SSL_CERT_FILE = cert } })
    h.assert_ok(r)
    assert.are.equal("over tls\n", r.out)
  end)

  for _, how in ipairs({ "awaiting", "blocking" }) do
    it("ends a read that waits (" .. how .. ") at once when the bot is stopped", function()
      local pdir = h.tmpdir()
      local call = how == "awaiting" and "c:read()" or "coroutine.wrap(function() return c:read() end)()"
      h.script(pdir, ([[
        local c = assert(Dial("%s/hold"))
        function onexit() Log("onexit ran") end
        function main()
          Log("ready")
          local m = %s
          Log("read returned", m)
        end
      ]]):format(ws, call))
      local out = stopped_within(pdir, 1500)
      assert.is_nil(out:find("read returned", 1, true))
    end)
  end

  it("closes at once, and a stop ends the bot with onexit run, while a server floods it (ws and tcp)", function()
    local pdir = h.tmpdir()
    h.script(pdir, ([[
      function onexit() Log("onexit ran") end
      function main()
        for _, a in ipairs({ "%s/flood", "%s" }) do
          local c = assert(Dial(a))
          Sleep(300)
          local t0 = UnixNano()
          c:close()
          Log("closed in", math.floor((UnixNano() - t0) / 1e6), "ms")
        end
        local _, _ = assert(Dial("%s/flood")), assert(Dial("%s"))   -- held open at the stop
        Sleep(300)
        Log("ready")
        Sleep(60000)
      end
    ]]):format(raw, tcpflood, raw, tcpflood))
    local out = stopped_within(pdir, 2000)
    for ms in out:gmatch("closed in (%d+) ms") do
      assert.is_true(tonumber(ms) < 1000 * h.time_scale, "close() took " .. ms .. " ms")
    end
  end)

  it("holds at most 8 MiB waiting to be sent to a WebSocket peer that does not read", function()
    local rss0 = vmrss_kib()
    local c = assert(Dial(raw .. "/noread"))
    local chunk = string.rep("z", 1 << 20)
    local total = 0
    for _ = 1, 64 do
      local n = c:write(chunk)
      if n == 0 then break end
      total = total + n
      Sleep(5)
    end
    assert.is_true(total < 24 * (1 << 20), "write accepted " .. total .. " bytes")
    Sleep(200)
    local grown = vmrss_kib() - rss0
    assert.is_true(grown < 48 * 1024, "the process grew by " .. grown .. " KiB")
    c:close()
  end)

  it("sends a tcp write made while a large one is half sent", function()
    os.remove(dir .. "/late.log")
    local c = assert(Dial(tcplate))                 -- the peer reads only after 2 s
    local chunk = string.rep("b", 1 << 20)
    for _ = 1, 7 do assert.are.equal(1 << 20, c:write(chunk)) end
    Sleep(300)
    assert.are.equal(5, c:write("PING\n"))
    assert.truthy(h.eventually(function() return (h.read(dir .. "/late.log") or ""):find("PING", 1, true) end, 8),
      h.read(dir .. "/late.log"))
    c:close()
  end)

  it("reads options that hold '@' and quotes no option's text in a refusal", function()
    local c = assert(Dial(raw .. '|payload={"params":["btcusdt@trade"],"sign":"SECRETSIG"}', 3000))
    c:close()
    local ok, err = pcall(Dial, ws .. "/echo|reconnect=true&SECRETSIG")
    assert.is_false(ok)
    assert.is_nil(tostring(err):find("SECRETSIG", 1, true), tostring(err))
    h.assert_has(tostring(err), "option 2 after '|' is not key=value")
  end)

  it("says each drop with \"\" in order with the messages, to a slow reader with a short interval", function()
    local c = assert(Dial(raw .. "/quickdrop|reconnect=true&interval=10"))
    assert.are.equal("hello", c:read(3000))
    Sleep(1000)                                     -- many drops and connections meanwhile
    assert.are.equal("", c:read(-1))                -- the first drop, before the next connection's message
    assert.are.equal("hello", c:read(-1))
    Sleep(300)
    assert.are.equal("", c:read(-2))                -- -2 drops the older messages, but never a drop
    assert.are.equal("hello", c:read(-2))
    c:close()
  end)

  it("closes the connection after a decompression bomb and delivers nothing after it", function()
    local c = assert(Dial(raw .. "/bomb|compress=deflate", 5000))
    assert.are.equal("", c:read(10000))             -- code 1009, then the connection ends though the peer is mute
    assert.are.equal("", c:read(-1))
    assert.are.equal(0, c:write("x"))
  end)

  it("shows a refused handshake's status line on one line", function()
    local c, msg = Dial(raw .. "/refuse", 3000)
    assert.is_nil(c)
    h.assert_has(msg, "the server refused the WebSocket handshake: HTTP/1.1 403 x?2026-12-07")
    assert.is_nil(msg:find("[%c]"), msg)
  end)

  it("ends a blocking read without a timeout at step_limit, so that the other bots of the process run", function()
    local pdir = h.tmpdir()
    h.script(pdir, 'function main() while true do Log("tick") Sleep(100) end end', "good.lua")
    h.script(pdir, ([[
      local c = assert(Dial("%s/hold"))
      function main()
        Log("busy start")
        coroutine.wrap(function() return c:read() end)()    -- cannot yield: blocks the process's thread
        Log("read returned")
      end
    ]]):format(ws), "busy.lua")
    h.write(pdir .. "/t.conf", "step_limit = 1\n")
    local p = h.spawn({ "run", "--data-dir", pdir .. "/d", "--config", "t.conf", "good.lua@good", "busy.lua@busy",
      dir = pdir })
    assert.is_true(p:wait_for("busy start", 10), p:output())
    Sleep(2500 * h.time_scale)
    local out, err = p:output()
    local _, ticks = out:sub((out:find("busy start", 1, true))):gsub("%[good%] tick", "")
    p:signal("TERM")
    p:wait(10)
    assert.is_true(ticks >= 8, ticks .. " ticks of the other bot in 2.5 s:\n" .. out)
    h.assert_has(out .. err, "step_limit")
    assert.is_nil(out:find("read returned", 1, true))
  end)

  it("collects unreferenced connections before refusing the 33rd, and names none by its query", function()
    for _ = 1, 40 do
      local c = assert(Dial(ws .. "/hold?listenKey=SECRETKEY"))
      assert.is_nil(tostring(c):find("SECRETKEY", 1, true), tostring(c))
    end
    collectgarbage()
  end)

  it("is refused in a replay, which reads only its market", function()
    local r = run_bot(('local c = Dial("%s/echo")'):format(ws), { mode = "replay" })
    assert.are.equal(1, r.code)
    h.assert_has(r.err, "Dial: refused in a replay, which must stay deterministic (a replay reads only its market")
  end)
end)
