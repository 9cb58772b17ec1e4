-- redis-acl.lua: prints the Redis ACL commands that give each bot its own user on the redis channel backend.
--
--   build/stratrun scripts/redis-acl.lua [--placeholder] BOT[:FOLLOWED,...] ...     (lua5.4 runs it as well)
--   build/stratrun scripts/redis-acl.lua 632799 632800:632799 632802:632799,632800 > acl.txt
--   redis-cli -h HOST -p PORT --user ADMIN --pass ADMINPASSWORD < acl.txt
--
-- One user per bot, named stratrun-<id>, which may:
--   write its own stream stratrun:ch:<id> (XADD ... MAXLEN 1, PEXPIRE, and DEL when something else was planted
--   there) and read it back (XREVRANGE: a restarted bot continues above the stored seq; XREAD when it follows
--   itself); write and read its seq floor stratrun:seq:<id> (SET without TTL, GET: seq grows across restarts even
--   after the state expired); read, and only read, the streams of the channels it follows (%R~: XREAD BLOCK,
--   XREVRANGE); AUTH, SELECT and PING, which the connection itself needs. No pub/sub channel at all
--   (resetchannels), and nothing else: no KEYS, no CONFIG, no FLUSHALL, no CLIENT.
-- The state travels in the stream entry that wakes the followers, and only the stream's owner may add one: a
-- follower can read a channel, never forge its state.
--
-- Stdout has only the ACL SETUSER commands, one per line, for redis-cli (then ACL SAVE if the server keeps its
-- users in an aclfile). Each password is 128 random bits from /dev/urandom, in hex; stderr says which bot gets
-- which, for its config (channel = "redis://stratrun-<id>@host:port") and its environment
-- (STRATRUN_REDIS_PASSWORD). With --placeholder each password is "{password of ID}", which Redis refuses (a syntax
-- error: the user is not created) until it is replaced.
-- IDs are checked ([A-Za-z0-9_-], 1-64 characters), so no ID can act as an ACL glob pattern (* ? [ ] \) or add a
-- rule of its own (a space).
local USAGE = "usage: redis-acl.lua [--placeholder] BOT[:FOLLOWED,...] ...   (IDs: 1-64 of A-Z a-z 0-9 _ -)"

local function fail(msg)
  io.stderr:write("redis-acl: ", msg, "\n")
  os.exit(2)
end

local function check_id(id, where)
  if #id < 1 or #id > 64 or id:find("[^A-Za-z0-9_-]") then
    fail(string.format("invalid bot ID '%s' in '%s': an ID is 1-64 characters of A-Z a-z 0-9 _ -", id, where))
  end
  return id
end

local function random_hex(bytes)
  local f = assert(io.open("/dev/urandom", "rb"))
  local raw = f:read(bytes)
  f:close()
  assert(raw and #raw == bytes, "short read from /dev/urandom")
  return (raw:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

local placeholder = false
local bots, seen = {}, {}
for i = 1, #arg do
  local a = arg[i]
  if a == "--placeholder" then
    placeholder = true
  elseif a == "-h" or a == "--help" then
    print(USAGE)
    os.exit(0)
  else
    local id, rest = a:match("^([^:]*):(.*)$")
    id = check_id(id or a, a)
    if seen[id] then fail("bot " .. id .. " is listed twice") end
    seen[id] = true
    local follows = {}
    if rest then
      for f in (rest .. ","):gmatch("([^,]*),") do follows[#follows + 1] = check_id(f, a) end
    end
    bots[#bots + 1] = {id = id, follows = follows}
  end
end
if #bots == 0 then fail("no bot given\n" .. USAGE) end

for _, bot in ipairs(bots) do
  local key = "stratrun:ch:" .. bot.id
  local password = placeholder and "{password of " .. bot.id .. "}" or random_hex(16)
  local keys = {"~" .. key, "~stratrun:seq:" .. bot.id}
  for _, f in ipairs(bot.follows) do
    if f ~= bot.id then keys[#keys + 1] = "%R~stratrun:ch:" .. f end
  end
  print(string.format("ACL SETUSER stratrun-%s reset on >%s resetkeys %s resetchannels -@all "
    .. "+auth +select +ping +get +set +xadd +xread +xrevrange +pexpire +del",
    bot.id, password, table.concat(keys, " ")))
  io.stderr:write(string.format("bot %s: channel = \"redis://stratrun-%s@HOST:PORT\", STRATRUN_REDIS_PASSWORD=%s\n",
    bot.id, bot.id, password))
end
