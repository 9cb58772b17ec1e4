-- Spec for the libraries opened on first use (runtime/core/lazylib.c, docs/dependencies.md, "Opened on first use"):
-- a bot that never calls HttpQuery, Mail, DBExec, Encode, MD5, Dial or serve, nor uses a Redis channel, never maps
-- libcurl, SQLite, OpenSSL, libmicrohttpd, hiredis, zlib or wslay; the first call that needs one opens it; a library that cannot be opened stops that call with one
-- line naming the library and the call. The libraries are made unopenable the way a broken installation is: a
-- folder on LD_LIBRARY_PATH holds an empty file under each soname (Debian 12's), which the dynamic loader finds
-- first and refuses ("file too short").
local h = require("helpers")

-- Lua source of a function that prints which of LIBS the process has mapped, after a label.
local MAPPED = [[
local function mapped(label)
  local f = assert(io.open("/proc/self/maps"))
  local maps = f:read("a")
  f:close()
  local found = {}
  for _, lib in ipairs({ "libcurl", "libmicrohttpd", "libsqlite3", "libssl", "libcrypto", "libhiredis", "libz",
                         "libwslay" }) do
    if maps:find("/" .. lib .. "[.-]") then found[#found + 1] = lib end
  end
  print(label .. ": " .. table.concat(found, " "))
end
]]

-- A folder whose empty files stand for the libraries under their sonames.
local function broken_libs()
  local dir = h.tmpdir()
  for _, soname in ipairs({ "libcurl.so.4", "libmicrohttpd.so.12", "libsqlite3.so.0", "libssl.so.3",
                            "libcrypto.so.3", "libhiredis.so.0.14", "libz.so.1", "libwslay.so.1" }) do
    h.write(dir .. "/" .. soname, "")
  end
  return dir
end

describe("libraries opened on first use", function()
  it("are not mapped by a bot that does not call them, and each is by the first call that needs it", function()
    local r = h.run_bot(MAPPED .. [[
function main()
  mapped("start")
  MD5("abc")
  mapped("MD5")
  DBExec("SELECT 1")
  mapped("DBExec")
  HttpQuery("http://127.0.0.1:1/")   -- refused at once; libcurl is opened all the same
  mapped("HttpQuery")
  pcall(Dial, "tcp://127.0.0.1:1", 1000)
  mapped("Dial")
end
]])
    h.assert_ok(r)
    assert.are.equal(table.concat({
      "start: ",
      "MD5: libcrypto",
      "DBExec: libsqlite3 libcrypto",
      "HttpQuery: libcurl libsqlite3 libssl libcrypto libz",
      "Dial: libcurl libsqlite3 libssl libcrypto libz libwslay",
    }, "\n") .. "\n", r.out:gsub("[^\n]*%d%d:%d%d:%d%d[^\n]*\n", ""))
  end)

  it("that cannot be opened stop the call that needs them with one line naming the library", function()
    local libs = broken_libs()
    local cases = {
      { "HttpQuery('http://127.0.0.1:1/')", "HttpQuery needs libcurl.so.4" },
      { "HttpQuery_Go('http://127.0.0.1:1/')", "HttpQuery_Go needs libcurl.so.4" },
      { "Mail('smtp://127.0.0.1:1', 'a@b.c', '', 'd@e.f', 's', 'b')", "Mail needs libcurl.so.4" },
      { "DBExec('SELECT 1')", "DBExec needs libsqlite3.so.0" },
      { "MD5('abc')", "MD5 needs libcrypto.so.3" },
      { "Encode('sha256', 'raw', 'hex', 'abc')", "Encode needs libcrypto.so.3" },
      { "Dial('tcp://127.0.0.1:1')", "Dial needs libcrypto.so.3" },
    }
    for _, c in ipairs(cases) do
      -- the same line at every call (each tries again: a missing library stays missing)
      local r = h.run_bot(string.format([[
function main()
  local ok1, e1 = pcall(function() return %s end)
  local ok2, e2 = pcall(function() return %s end)
  print(ok1, ok2, e1:gsub("^.-:%%d+: ", "") == e2:gsub("^.-:%%d+: ", ""))
  print(e1)
end
]], c[1], c[1]), { env = { LD_LIBRARY_PATH = libs } })
      h.assert_ok(r)
      local want = c[2] .. ", which could not be opened: " .. libs .. "/" .. c[2]:match("%S+$") ..
                   ": file too short"
      assert.are.equal("false\tfalse\ttrue\n" .. "strategy.lua:2: " .. want .. "\n", r.out, c[1])
    end
  end)

  it("a Redis channel without hiredis is refused in one line", function()
    local libs = broken_libs()
    local dir = h.tmpdir()
    h.script(dir, "function main() end")
    local r = h.run({ dir = dir, env = { LD_LIBRARY_PATH = libs }, "--data-dir", dir .. "/d", "--channel",
                      "redis://127.0.0.1:1", "--id", "R", "strategy.lua" })
    assert.are.equal(2, r.code, r.err)
    assert.are.equal("stratrun: a redis:// channel needs libhiredis.so.0.14, which could not be opened: " .. libs ..
                     "/libhiredis.so.0.14: file too short\n", r.err)
  end)

  it("stratrun serve without libmicrohttpd says so in one line", function()
    local libs = broken_libs()
    local dir = h.tmpdir()
    local r = h.run({ dir = dir, env = { LD_LIBRARY_PATH = libs }, "serve", "--data-dir", dir .. "/d",
                      "--listen", "127.0.0.1:0" })
    assert.are.equal(1, r.code, r.err)
    assert.are.equal("", r.out)
    assert.are.equal("stratrun serve needs libmicrohttpd.so.12, which could not be opened: " .. libs ..
                     "/libmicrohttpd.so.12: file too short\n", r.err)
  end)
end)
