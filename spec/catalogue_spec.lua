-- The bad-input catalogue (issue 7): every hostile input the runtime accepts from outside, where it enters, and
-- what it gets, as one table. A loop runs every row against real stratrun processes (helpers.run/spawn) on the
-- local channel backend, and again on memory where the input enters through the Lua API; catalogue_slow_spec.lua
-- checks that the drivers fail a row whose outcome is wrong. docs/reliability.md shows the same table; print it with
--   STRATRUN_BIN=build/stratrun build/stratrun --data-dir /tmp/cat spec/catalogue_spec.lua
--
-- Where an input enters decides how its row is driven (DRIVERS below):
--   SetChannelData     a strategy publishes the value; its own follow and a later process read the channel
--   channel file       another process puts the bytes in the channel folder (by rename, as a writer would)
--                      while a reader follows the channel; a real publisher then publishes the next state
--   channel folder     the folder itself is swapped for a file, or deleted and made again, under a running bot
--   GetChannelData ID  a strategy asks twice for that channel; nothing may be created outside the folder
--   _G key / _G value  a strategy stores it; a restarted bot must still load the store
--   _G store file      the bytes are the bot's store.json when it starts
--   config file        the text is the --config file
--   command line       the arguments are stratrun's
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local h = require("helpers")
local lfs = require("lfs")

local function nest(n)      -- n levels of JSON arrays, as text
  return string.rep("[", n) .. string.rep("]", n)
end

local function nest_lua(n)  -- the same as a Lua expression
  return string.format("(function() local t = json.array() for _ = 2, %d do t = {t} end return t end)()", n)
end

local BIG = string.rep("9", 19)     -- 9999999999999999999 > 2^63

-- ---- the catalogue ----
-- Every row: input (what it is), where (which entry point), the input itself in the field its driver reads, and
-- the expected outcome in the field named for it.
local CATALOGUE = {
  -- SetChannelData(data): the strategy's own value, on its way out
  {where = "SetChannelData", input = "nil (null)", value = "nil", ok = "nil"},
  {where = "SetChannelData", input = "an empty string", value = '""', ok = '""'},
  {where = "SetChannelData", input = "a payload of 1024 bytes of JSON", value = 'string.rep("x", 1022)',
   ok = '"' .. string.rep("x", 1022) .. '"'},
  {where = "SetChannelData", input = "a payload of 1025 bytes of JSON", value = 'string.rep("x", 1023)',
   refused = "data is 1025 bytes of JSON; a channel state holds at most 1024"},
  {where = "SetChannelData", input = "NaN", value = "0/0", refused = "NaN at (root)"},
  {where = "SetChannelData", input = "Infinity", value = "math.huge", refused = "Infinity at (root)"},
  {where = "SetChannelData", input = "-Infinity inside a table", value = "{p = {-math.huge}}",
   refused = "-Infinity at p[1]"},
  {where = "SetChannelData", input = "the string '0x1F' (hex stays text)", value = '"0x1F"', ok = '"0x1F"'},
  {where = "SetChannelData", input = "invalid UTF-8 in a string", value = '{s = "ab\\255"}',
   refused = "invalid UTF-8 in string at s"},
  {where = "SetChannelData", input = "invalid UTF-8 in a key", value = '{["k\\255"] = 1}',
   refused = "invalid UTF-8 in key"},
  {where = "SetChannelData", input = "a NUL byte in a string", value = '"a\\0b"', ok = '"a\\u0000b"'},
  {where = "SetChannelData", input = "a NUL byte in a key", value = '{["a\\0b"] = 1}', ok = '{"a\\u0000b":1}'},
  {where = "SetChannelData", input = "duplicate keys: integer 1 and string \"1\"",
   value = '{[1] = "int", ["1"] = "str"}', ok = '{"1":"str"}'},
  {where = "SetChannelData", input = "an integer beyond 2^53 (2^53 + 1)", value = "9007199254740993",
   ok = "9007199254740993"},
  {where = "SetChannelData", input = "the largest integer (2^63 - 1)", value = "math.maxinteger",
   ok = "9223372036854775807"},
  {where = "SetChannelData", input = "a number beyond 2^63 (the float 2^63)", value = "2^63",
   ok = "9.223372036854776e+18"},
  {where = "SetChannelData", input = "nesting 32 deep", value = nest_lua(32), ok = nest(32)},
  {where = "SetChannelData", input = "nesting 33 deep", value = nest_lua(33), refused = "nesting deeper than 32"},
  {where = "SetChannelData", input = "nesting 512 deep", value = nest_lua(512), refused = "nesting deeper than 32"},
  {where = "SetChannelData", input = "a function", value = "print", refused = "cannot encode function"},
  {where = "SetChannelData", input = "a table with a cycle",
   value = "(function() local t = {} t.me = t return t end)()", refused = "cycle"},

  -- the channel folder: bytes another process puts there. frame = a valid frame around that JSON text.
  {where = "channel file", input = "an empty file (0 bytes)", file = "", skipped = "not a stratrun channel state"},
  {where = "channel file", input = "a valid frame of 0 bytes of JSON", frame = "",
   skipped = "not valid JSON (invalid JSON at byte 0: unexpected end of input)"},
  {where = "channel file", input = "a valid frame of 1024 bytes of JSON", frame = '"' .. string.rep("y", 1022) .. '"',
   taken = '"' .. string.rep("y", 1022) .. '"'},
  {where = "channel file", input = "a valid frame of 1025 bytes of JSON", frame = '"' .. string.rep("y", 1023) .. '"',
   skipped = "larger than a channel state can be"},
  {where = "channel file", input = "a file over 2 KB", file = function(valid) return valid .. string.rep(" ", 2100) end,
   skipped = "larger than a channel state can be"},
  {where = "channel file", input = "invalid JSON in a valid frame", frame = '{"v":',
   skipped = "invalid JSON at byte 5: unexpected end of input"},
  {where = "channel file", input = "trailing garbage inside a valid frame", frame = '{"v":9} x',
   skipped = "trailing characters after the JSON value"},
  {where = "channel file", input = "trailing garbage after a valid frame",
   file = function(valid) return valid .. "xyz" end, skipped = "truncated or padded"},
  {where = "channel file", input = "a truncated frame", file = function(valid) return valid:sub(1, -3) end,
   skipped = "truncated or padded"},
  {where = "channel file", input = "a frame with a bad checksum",
   file = function(valid) return (valid:gsub("1}$", "7}")) end, skipped = "checksum mismatch"},
  {where = "channel file", input = "a malformed header", file = "SRCH1 x y z\n{}", skipped = "malformed header"},
  {where = "channel file", input = "a NUL byte in the header", file = "SRCH1 12\0 1 2 00000000\n{}",
   skipped = "malformed header"},
  {where = "channel file", input = "a foreign text file", file = "hello, world\n",
   skipped = "not a stratrun channel state"},
  {where = "channel file", input = "binary garbage with NUL bytes", file = "\0\1\2\255\254 not a state",
   skipped = "not a stratrun channel state"},
  {where = "channel file", input = "NaN", frame = "NaN", skipped = "NaN is not allowed"},
  {where = "channel file", input = "Infinity", frame = '{"p":[Infinity]}', skipped = "Infinity is not allowed"},
  {where = "channel file", input = "-Infinity", frame = "-Infinity", skipped = "Infinity is not allowed"},
  {where = "channel file", input = "a hex number", frame = '{"p":0x1F}',
   skipped = "hexadecimal numbers are not allowed"},
  {where = "channel file", input = "invalid UTF-8", frame = '"ab\255"', skipped = "invalid UTF-8 in string"},
  {where = "channel file", input = "a raw NUL byte in a string", frame = '"a\0b"',
   skipped = "control character in string"},
  {where = "channel file", input = "an escaped NUL (\\u0000) in a string", frame = '"a\\u0000b"',
   taken = '"a\\u0000b"'},
  {where = "channel file", input = "duplicate keys", frame = '{"a":1,"a":2}', taken = '{"a":2}'},
  {where = "channel file", input = "an integer beyond 2^53", frame = "9007199254740993", taken = "9007199254740993"},
  {where = "channel file", input = "an integer beyond 2^63", frame = "9223372036854775808",
   taken = "9.223372036854776e+18"},
  {where = "channel file", input = "a number beyond the double range", frame = "1e400",
   skipped = "number out of range"},
  {where = "channel file", input = "nesting 32 deep", frame = nest(32), taken = nest(32)},
  {where = "channel file", input = "nesting 33 deep", frame = nest(33), skipped = "nesting deeper than 32"},
  {where = "channel file", input = "nesting 512 deep (1024 bytes)", frame = nest(512),
   skipped = "nesting deeper than 32"},
  {where = "channel file", input = "an older seq than the reader holds (a stale file put back)",
   file = function(valid, seq, now) return h.chanframe(seq - 1, now, '{"v":"stale"}') end, ignored = true},
  {where = "channel file", input = "a frame whose seq is near 2^63 (9223372036854775807)",
   file = function(_, _, now) return h.chanframe(9223372036854775807, now, '{"v":"huge"}') end,
   skipped = "its seq is more than a year ahead of this machine's clock"},
  {where = "channel file", input = "a frame whose seq is 30 days ahead of the clock",
   file = function(_, _, now) return h.chanframe((now + 30 * 86400 * 1000) * 1000, now, '{"v":"ahead"}') end,
   taken = '{"v":"ahead"}'},
  {where = "channel file", input = "a FIFO", make = "mkfifo", skipped = "not a stratrun channel state"},
  {where = "channel file", input = "a folder", make = "mkdir", skipped = "Is a directory",
   blocks = "Is a directory; will retry"},
  {where = "channel file", input = "a symlink to a file outside the folder", make = "symlink",
   skipped = "Too many levels of symbolic links"},
  {where = "channel file", input = "a foreign file named notes.txt", name = "notes.txt", file = "not a channel\n",
   ignored = true},
  {where = "channel file", input = "a foreign file named .hidden", name = ".hidden", file = "SRCH1 junk",
   ignored = true},
  {where = "channel file", input = "a foreign file named 'a b'", name = "a b", file = "x", ignored = true},
  {where = "channel file", input = "garbage there when the reader starts", at_start = true,
   file = "garbage, not a channel state", skipped = "not a stratrun channel state"},
  {where = "channel file", input = "a truncated temp file of a dead publisher (.pub.PID.tmp)", at_start = true,
   name = ".pub.%dead.tmp", file = "SRCH1 half a wri", ignored = true, swept = true},
  {where = "channel file", input = "a temp file of a live writer", at_start = true, name = ".other.%live.tmp",
   file = "in progress", ignored = true, swept = false},

  -- the channel folder itself, changed under a running bot
  {where = "channel folder", input = "the folder replaced by a file while a bot publishes, then put back",
   publishes = "a warning `will retry`; the bot runs on; its last state is written once the folder is back"},
  {where = "channel folder", input = "the folder deleted and made again while a bot follows a channel and publishes "
      .. "every 50 ms", recreate = true,
   publishes = "one warning `was removed or moved` and one `is back` (besides its own writes' `will retry` and "
      .. "`works again`); the bot runs on and takes the next state published once the folder is back"},

  -- GetChannelData(robotId)
  {where = "GetChannelData ID", input = "'../x'", id = '"../x"',
   refused = "invalid robotId '../x': it has a character"},
  {where = "GetChannelData ID", input = "'a/b'", id = '"a/b"', refused = "invalid robotId 'a/b'"},
  {where = "GetChannelData ID", input = "'.'", id = '"."', refused = "invalid robotId '.'"},
  {where = "GetChannelData ID", input = "'..'", id = '".."', refused = "invalid robotId '..'"},
  {where = "GetChannelData ID", input = "'' (empty)", id = '""', refused = "invalid robotId '': it is empty"},
  {where = "GetChannelData ID", input = "65 characters", id = 'string.rep("a", 65)',
   refused = "longer than 64 characters"},
  {where = "GetChannelData ID", input = "a NUL byte ('a\\0b')", id = '"a\\0b"', refused = "invalid robotId 'a?b'"},
  {where = "GetChannelData ID", input = "'*?['", id = '"*?["', refused = "invalid robotId '*?['"},
  {where = "GetChannelData ID", input = "'>'", id = '">"', refused = "invalid robotId '>'"},
  {where = "GetChannelData ID", input = "invalid UTF-8", id = '"\\255"', refused = "invalid robotId '?'"},
  {where = "GetChannelData ID", input = "1.5", id = "1.5", refused = "robotId 1.5 is not an integer"},
  {where = "GetChannelData ID", input = "NaN", id = "0/0", refused = "is not an integer"},
  {where = "GetChannelData ID", input = "2^63 (a float)", id = "2^63", refused = "is not an integer"},
  {where = "GetChannelData ID", input = "a table", id = "{}",
   refused = "robotId must be a string or a number, not table"},
  {where = "GetChannelData ID", input = "64 characters", id = 'string.rep("a", 64)', followed = true},
  {where = "GetChannelData ID", input = "the integer -1 (its text '-1' is an ID)", id = "-1", followed = true},

  -- _G(key, value): keys and values the strategy stores
  {where = "_G key", input = "'' (empty)", key = '""', raises = "_G: a key must be 1 to 256 bytes long (got 0)"},
  {where = "_G key", input = "257 bytes", key = 'string.rep("k", 257)', raises = "1 to 256 bytes long (got 257)"},
  {where = "_G key", input = "256 bytes", key = 'string.rep("k", 256)', stored = "1"},
  {where = "_G key", input = "a table", key = "{}", raises = "a key must be a string or a number, not table"},
  {where = "_G key", input = "'../x' (only a key, never a path)", key = '"../x"', stored = "1"},
  {where = "_G key", input = "a NUL byte ('a\\0b')", key = '"a\\0b"', stored = "1"},
  {where = "_G key", input = "invalid UTF-8 ('k\\255')", key = '"k\\255"', raises = "UTF-8"},
  {where = "_G value", input = "NaN", value = "0/0", raises = "value for key 'k' is not JSON: NaN at (root)"},
  {where = "_G value", input = "Infinity", value = "math.huge", raises = "Infinity at (root)"},
  {where = "_G value", input = "a function", value = "print", raises = "cannot encode function at (root)"},
  {where = "_G value", input = "invalid UTF-8", value = '"\\255"', raises = "invalid UTF-8 in string at (root)"},
  {where = "_G value", input = "a NUL byte in a string", value = '"a\\0b"', stored = '"a\\u0000b"'},
  {where = "_G value", input = "an integer beyond 2^53", value = "9007199254740993", stored = "9007199254740993"},
  {where = "_G value", input = "a number beyond 2^63", value = "2^63", stored = "9.223372036854776e+18"},
  {where = "_G value", input = "nesting 31 deep", value = nest_lua(31), stored = nest(31)},
  {where = "_G value", input = "nesting 32 deep", value = nest_lua(32), stored = nest(32)},
  {where = "_G value", input = "nesting 33 deep", value = nest_lua(33), raises = "nesting deeper than 32"},
  {where = "_G value", input = "nesting 512 deep", value = nest_lua(512), raises = "nesting deeper than 32"},
  {where = "_G value", input = "a 1 MB string", value = 'string.rep("m", 1 << 20)', stored = "(1 MB string)",
   check = function(text) return text == '"' .. string.rep("m", 1 << 20) .. '"' end},

  -- bots/<id>/store.json as the bot finds it at start
  {where = "_G store file", input = "truncated JSON", store = '{\n"a":1,\n"b":{"x":',
   damaged = "unexpected end of input"},
  {where = "_G store file", input = "an empty file (0 bytes)", store = "", damaged = "unexpected end of input"},
  {where = "_G store file", input = "foreign text", store = "this is not json\n", damaged = "invalid JSON at byte 0"},
  {where = "_G store file", input = "a JSON array", store = "[1,2]", damaged = "not a JSON object"},
  {where = "_G store file", input = "trailing garbage", store = '{"a":1} x', damaged = "trailing characters"},
  {where = "_G store file", input = "NaN", store = '{"a":NaN}', damaged = "NaN is not allowed"},
  {where = "_G store file", input = "Infinity", store = '{"a":-Infinity}', damaged = "Infinity is not allowed"},
  {where = "_G store file", input = "a hex number", store = '{"a":0x10}',
   damaged = "hexadecimal numbers are not allowed"},
  {where = "_G store file", input = "invalid UTF-8", store = '{"a":"\255"}', damaged = "invalid UTF-8 in string"},
  {where = "_G store file", input = "a raw NUL byte", store = '{"a":"x\0y"}', damaged = "control character in string"},
  {where = "_G store file", input = "a value nested 32 deep (the file 33)", store = '{"a":' .. nest(32) .. "}",
   loads = nest(32)},
  {where = "_G store file", input = "a value nested 33 deep (the file 34)", store = '{"a":' .. nest(33) .. "}",
   damaged = "nesting deeper than 33"},
  {where = "_G store file", input = "nesting 512 deep", store = '{"a":' .. nest(511) .. "}",
   damaged = "nesting deeper than 33"},
  {where = "_G store file", input = "duplicate keys", store = '{"a":1,"a":2}', loads = "2"},
  {where = "_G store file", input = "an integer beyond 2^53", store = '{"a":9007199254740993}',
   loads = "9007199254740993"},
  {where = "_G store file", input = "an integer beyond 2^63", store = '{"a":' .. BIG .. "}",
   loads = "1e+19"},
  {where = "_G store file", input = "a key written with capitals by hand", store = '{"A":5}', loads = "5"},
  {where = "_G store file", input = "two keys that differ only in case", store = '{"a":2,"A":1}', loads = "2",
   warns = {'key "A" is left out: the same key in another case, "a", wins; the next write of the store drops it'}},
  {where = "_G store file", input = "four keys that differ only in case", store = '{"AB":4,"aB":1,"Ab":2,"ab":3}',
   key = "Ab", loads = "3", warns = {'key "AB" is left out: the same key in another case, "ab", wins',
   'key "Ab" is left out: the same key in another case, "ab", wins',
   'key "aB" is left out: the same key in another case, "ab", wins'}},
  {where = "_G store file", input = "three keys that differ only in case, none in lower case",
   store = '{"AB":4,"aB":1,"Ab":2}', key = "ab", loads = "1",
   warns = {'key "AB" is left out: the same key in another case, "aB", wins',
   'key "Ab" is left out: the same key in another case, "aB", wins'}},
  {where = "_G store file", input = "an empty key", store = '{"":1,"a":2}', loads = "2",
   warns = {'key "" can never be read: keys are 1 to 256 bytes long; it is kept'}},
  {where = "_G store file", input = "a key of 257 bytes (shown cut at 40 bytes, before a character)",
   store = '{"a' .. ("é"):rep(128) .. '":1,"a":2}', loads = "2",
   warns = {'key "a' .. ("é"):rep(19) .. '"... (257 bytes) can never be read'}},
  {where = "_G store file", input = "keys of 300 bytes that differ only in case",
   store = '{"' .. ("x"):rep(299) .. 'A":1,"' .. ("x"):rep(299) .. 'a":2,"a":3}', loads = "3",
   warns = {'key "' .. ("x"):rep(40) .. '"... (300 bytes) can never be read: keys are 1 to 256 bytes long; it is kept',
            'key "' .. ("x"):rep(40) .. '"... (300 bytes) is left out: the same key in another case, "'
            .. ("x"):rep(40) .. '"... (300 bytes), wins; the next write of the store drops it'}},
  {where = "_G store file", input = "a temp file of a bot killed mid-write (.store.json.PID.tmp, PID gone)",
   store = '{"a":1}', beside = ".store.json.999999999.tmp", loads = "1", swept = true},
  {where = "_G store file", input = "a folder", make = "mkdir", damaged = "not a regular file"},
  {where = "_G store file", input = "a FIFO", make = "mkfifo", damaged = "not a regular file"},
  {where = "_G store file", input = "over 64 MB", make = "sparse", damaged = "more than the 67108864 allowed"},

  -- the config file (--config bad.conf)
  {where = "config file", input = "not Lua", config = "this is not lua\n", fails = "bad.conf:1: syntax error"},
  {where = "config file", input = "Lua that loops forever (stopped by the budget)",
   config = 'id = "ok"\nwhile true do end\n', fails = "bad.conf:2: runs too long"},
  {where = "config file", input = "Lua that loops forever allocating", config = "repeat local t = {} until false\n",
   fails = "bad.conf:1: runs too long"},
  {where = "config file", input = "os.execute", config = 'os.execute("touch pwned")\n',
   fails = "bad.conf:1: attempt to index a nil value (global 'os')", creates = "pwned"},
  {where = "config file", input = "io.open", config = 'io.open("pwned", "w")\n', fails = "bad.conf:1:",
   creates = "pwned"},
  {where = "config file", input = "require", config = 'require("os")\n', fails = "bad.conf:1:"},
  {where = "config file", input = "memory without bound (stopped by the cap)",
   config = 'local s = "x"\nfor i = 1, 40 do s = s .. s end\n', fails = "bad.conf: not enough memory"},
  {where = "config file", input = "a precompiled (binary) chunk", config = "\27Lua\84\0\25\147\13\10\26\10",
   fails = "bad.conf: attempt to load a binary chunk"},
  {where = "config file", input = "a table constructor nested 512 deep",
   config = "params = " .. string.rep("{", 512) .. string.rep("}", 512) .. "\n", fails = "bad.conf: C stack overflow"},
  {where = "config file", input = "over 1 MB", config = string.rep(" ", (1 << 20) + 1),
   fails = "more than the 1048576 allowed"},
  {where = "config file", input = "a folder", make = "mkdir", fails = "bad.conf is not a regular file"},
  {where = "config file", input = "a FIFO", make = "mkfifo", fails = "bad.conf is not a regular file"},
  {where = "config file", input = "id '../x'", config = 'id = "../x"\n',
   fails = "bad.conf:1: key 'id': invalid bot ID '../x'"},
  {where = "config file", input = "id with a NUL byte", config = 'id = "a\\0b"\n',
   fails = "bad.conf:1: key 'id': invalid bot ID"},
  {where = "config file", input = "id 2^63 (a float)", config = "id = 2^63\n",
   fails = "key 'id' must be a string or a non-negative integer"},
  {where = "config file", input = "id 2^63 - 1", config = "id = 9223372036854775807\n", prints = "9223372036854775807"},
  {where = "config file", input = "data_dir with a NUL byte", config = 'data_dir = "d\\0junk"\n',
   fails = "bad.conf:1: key 'data_dir' holds a NUL byte after \"d\"; it must be text without one"},
  {where = "config file", input = "a string param with a NUL byte", config = 'params = { x = "a\\0b" }\n',
   fails = "bad.conf:1: params.x holds a NUL byte after \"a\""},
  {where = "config file", input = "NaN in params", config = "params = { x = 0/0 }\n", prints = "nan"},

  -- stratrun's own arguments. SCRIPT is the strategy's path.
  {where = "command line", input = "--id '../x'", args = {"--id", "../x", "SCRIPT"}, fails = "invalid bot ID '../x'"},
  {where = "command line", input = "--id 'a/b'", args = {"--id", "a/b", "SCRIPT"}, fails = "invalid bot ID 'a/b'"},
  {where = "command line", input = "--id '.'", args = {"--id", ".", "SCRIPT"}, fails = "invalid bot ID '.'"},
  {where = "command line", input = "--id '..'", args = {"--id", "..", "SCRIPT"}, fails = "invalid bot ID '..'"},
  {where = "command line", input = "--id '' (empty)", args = {"--id", "", "SCRIPT"},
   fails = "invalid bot ID '': it is empty"},
  {where = "command line", input = "--id of 65 characters", args = {"--id", string.rep("a", 65), "SCRIPT"},
   fails = "longer than 64 characters"},
  {where = "command line", input = "--id '*?['", args = {"--id", "*?[", "SCRIPT"}, fails = "invalid bot ID '*?['"},
  {where = "command line", input = "--id '>'", args = {"--id", ">", "SCRIPT"}, fails = "invalid bot ID '>'"},
  {where = "command line", input = "run SCRIPT@'>'", args = {"run", "SCRIPT@>"}, fails = "invalid bot ID '>'"},
  {where = "command line", input = "run SCRIPT@'../x' (read as a path)", args = {"run", "SCRIPT@../x"},
   fails = "cannot open"},
  {where = "command line", input = "-p beyond 2^63", args = {"-p", "v=9223372036854775808", "SCRIPT"},
   prints = "float 9.2233720368548e+18"},
  {where = "command line", input = "-p beyond 2^53", args = {"-p", "v=9007199254740993", "SCRIPT"},
   prints = "integer 9007199254740993"},
  {where = "command line", input = "-p nan", args = {"-p", "v=nan", "SCRIPT"}, prints = "string nan"},
  {where = "command line", input = "-p Infinity", args = {"-p", "v=Infinity", "SCRIPT"}, prints = "string Infinity"},
  {where = "command line", input = "-p hex", args = {"-p", "v=0x1F", "SCRIPT"}, prints = "string 0x1F"},
  {where = "command line", input = "-p with a name that is not an identifier", args = {"-p", "a-b=1", "SCRIPT"},
   fails = "invalid parameter 'a-b=1'"},
  {where = "command line", input = "--market with a day the calendar does not have", args = {"--market",
   "sim:bars=10,start=2023-02-29", "SCRIPT"}, fails = "invalid value for start: '2023-02-29'"},
  {where = "command line", input = "--market with an offset past 23:59", args = {"--market",
   "sim:bars=10,start=2024-01-01T00:00+24:00", "SCRIPT"}, fails = "invalid value for start: '2024-01-01T00:00+24:00'"},
  {where = "command line", input = "--data-dir ''", args = {"--data-dir", "", "SCRIPT"},
   fails = "--data-dir needs a folder"},
  {where = "command line", input = "--channel local:FILE (not a folder)",
   args = {"--channel", "local:SCRIPT", "SCRIPT"}, fails = "exists and is not a folder"},
  {where = "command line", input = "--channel of an unknown backend", args = {"--channel", "gopher://x", "SCRIPT"},
   fails = "unknown channel backend 'gopher://x'"},
  {where = "command line", input = "cmd '../x' TEXT", args = {"cmd", "../x", "buy"}, fails = "invalid bot ID '../x'"},
  {where = "command line", input = "cmd ID '' (empty command)", args = {"cmd", "cli", ""},
   fails = "a command is 1 to 1024 bytes, not 0"},
  {where = "command line", input = "cmd ID TEXT of 1025 bytes", args = {"cmd", "cli", string.rep("x", 1025)},
   fails = "a command is 1 to 1024 bytes, not 1025"},
  {where = "command line", input = "cmd to a bot that never ran", args = {"cmd", "cli", "buy"},
   fails = "bot 'cli' has never run in this data dir"},
}

-- ---- the outcomes, in words: the doc's third column and each test's name ----

local function code(s)
  return "`" .. s:gsub("\n", "\\n") .. "`"
end

local function short(s)
  return #s > 40 and s:sub(1, 37) .. "..." or s
end

local OUTCOME = {
  ["SetChannelData"] = function(r)
    if r.refused then
      return "`nil` and `SetChannelData: not published: ..." .. r.refused .. "`, one error line; state and seq kept; "
        .. "the bot runs on"
    end
    return "`true`; readers get " .. code(short(r.ok))
  end,
  ["channel file"] = function(r)
    local s
    if r.skipped then
      s = "skipped with one warning naming the file: " .. code(r.skipped) .. "; readers keep their state and seq"
    elseif r.taken then
      s = "taken: readers get " .. code(short(r.taken))
    else
      s = "ignored, no warning"
    end
    if r.swept ~= nil then s = s .. (r.swept and "; removed when a process opens the folder" or "; left alone") end
    if r.blocks then
      return s .. "; a publisher cannot replace it (" .. code(r.blocks) .. ") until it is removed; readers take "
        .. "its states from the slot table meanwhile"
    end
    return s .. "; then readers take the publisher's next state"
  end,
  ["channel folder"] = function(r) return r.publishes end,
  ["GetChannelData ID"] = function(r)
    if r.refused then
      return "`nil` and `GetChannelData: ..." .. r.refused .. "...` on every call; no path is built; the bot runs on"
    end
    return "followed: `nil` (no state yet), no message"
  end,
  ["_G key"] = function(r)
    if r.raises then return "raises `" .. r.raises .. "` (exit 1); the store file is unchanged" end
    return "stored; the same value after a restart"
  end,
  ["_G store file"] = function(r)
    if r.damaged then
      return "exit 2, one line naming the file: " .. code(r.damaged) .. "; the file is left as it is"
    end
    local warns = {}
    for i, w in ipairs(r.warns or {}) do warns[i] = code(w) end
    return "loads: `_G(\"" .. (r.key or "a") .. "\")` is " .. code(r.loads)
      .. (r.swept and "; the temp file is removed" or "")
      .. (r.warns and "; warns, one line each: " .. table.concat(warns, ", ") or "")
  end,
  ["config file"] = function(r)
    if r.fails then
      return "exit 2 within 5 s, one line: " .. code(r.fails) .. (r.creates and "; nothing runs" or "")
    end
    return "accepted: prints " .. code(r.prints)
  end,
  ["command line"] = function(r)
    if r.fails then return "exit 2, one line: " .. code(r.fails) end
    return "accepted: the global is " .. code(r.prints)
  end,
}
OUTCOME["_G value"] = OUTCOME["_G key"]

local function outcome(r)
  return OUTCOME[r.where](r)
end

-- The catalogue as a Markdown table, as docs/reliability.md shows it.
local function markdown()
  local lines = {"| # | input | where it enters | what it gets |", "|---|---|---|---|"}
  for i, r in ipairs(CATALOGUE) do
    local gets = outcome(r)
    lines[#lines + 1] = string.format("| %d | %s | %s | %s |", i, (r.input:gsub("|", "\\|")), r.where,
      (gets:gsub("|", "\\|")))
  end
  return lines
end

if not describe then     -- run as a plain chunk: print the table for the docs
  print(table.concat(markdown(), "\n"))
  return
end

-- ---- how each row is driven ----

local warnings = h.warnings

local function errors(text)
  return h.warnings(text, "error: ")
end

local function one_line(s)
  return s:match("^[^\n]+\n?$") ~= nil
end

-- Every file and folder under root, as paths relative to it, sorted.
local function tree(root)
  local list = {}
  local function walk(dir, rel)
    for name in lfs.dir(dir) do
      if name ~= "." and name ~= ".." then
        local path, r = dir .. "/" .. name, rel .. name
        list[#list + 1] = r
        if lfs.symlinkattributes(path, "mode") == "directory" then walk(path, r .. "/") end
      end
    end
  end
  walk(root, "")
  table.sort(list)
  return list
end

-- Runs body (Lua source, after helpers.report_prelude) as bot id. opts: backend, data, dir, name, timeout.
-- Returns {code, out, err, rows, by, dir, data, ms}.
local function bot(id, body, opts)
  opts = opts or {}
  local dir = opts.dir or h.tmpdir()
  local script = h.script(dir, h.report_prelude .. body, opts.name or "strategy.lua")
  local args = {dir = dir, timeout = opts.timeout or 20, "--data-dir", opts.data or dir .. "/data", "--id", id}
  if opts.backend then
    args[#args + 1] = "--channel"
    args[#args + 1] = opts.backend
  end
  args[#args + 1] = script
  local t0 = UnixNano()
  local r = h.run(args)
  r.ms = (UnixNano() - t0) // 1000000
  r.dir, r.data = dir, opts.data or dir .. "/data"
  r.rows = h.fields(r.out)
  r.by = {}
  for _, f in ipairs(r.rows) do r.by[f[1]] = r.by[f[1]] or f end
  return r
end

local function exited(r, want)
  assert.are.equal(want, r.code, string.format("exit status %s, not %s\nstdout:\n%s\nstderr:\n%s", tostring(r.code),
    want, r.out, r.err))
end

-- Makes path a FIFO, a folder, a symlink or a sparse 64 MB + 1 file.
local function make(kind, path)
  local q = h.quote(path)
  local cmd = ({mkfifo = "mkfifo " .. q, mkdir = "mkdir " .. q, symlink = "ln -s /etc/hostname " .. q,
                sparse = "truncate -s " .. (64 * 1024 * 1024 + 1) .. " " .. q})[kind]
  assert.are.equal(0, h.sh(cmd), "could not make " .. kind .. " " .. path)
end

local running = {}

local DRIVERS = {}

-- SetChannelData: the bot follows its own channel, publishes {good = 1}, then the value.
DRIVERS["SetChannelData"] = function(r, backend)
  local b = bot("pub", string.format([[
function main()
  local me = _G()
  GetChannelData(me)
  SetChannelData({good = 1})
  local _, before = await(me)
  local ok, msg = SetChannelData(%s)
  out("call", tostring(ok), enc(msg))
  if ok then
    local v = await(me, function(_, m) return m and m.seq > before.seq end)
    out("got", enc(v))
  else
    Sleep(30)     -- time for a state that should not have gone out to arrive
    local v, m = GetChannelData(me)
    out("kept", enc(v), tostring(m.seq == before.seq))
  end
  out("alive")
end
]], r.value), {backend = backend})
  exited(b, 0)
  assert.is_truthy(b.by.alive, "the bot did not run on")
  local errs = errors(b.err)
  if r.refused then
    assert.are.equal("nil", b.by.call[2], "SetChannelData did not refuse it")
    local msg = h.dec(b.by.call[3])
    assert.is_string(msg)
    assert.matches("^SetChannelData: not published: ", msg)
    assert.matches(r.refused, msg, 1, true)
    assert.are.same({'{"good":1}', "true"}, {b.by.kept[2], b.by.kept[3]}, "the previous state or seq moved")
    assert.are.equal(1, #errs, "error lines:\n" .. b.err)
    assert.matches(r.refused, errs[1], 1, true)
  else
    assert.are.same({"true", "nil"}, {b.by.call[2], b.by.call[3]})
    assert.are.equal(r.ok, b.by.got[2])
    assert.are.same({}, errs)
  end
  if backend == "local" then    -- what a later process finds in the channel folder
    local later = bot("later", [[
function main() GetChannelData("pub") local v = await("pub", function(_, m) return m ~= nil end) out("v", enc(v)) end
]], {dir = b.dir, data = b.data})
    exited(later, 0)
    assert.are.equal(r.refused and '{"good":1}' or r.ok, later.by.v[2], "a later reader got something else")
  end
end

local READER = [[
function main()
  local last = -1
  out("ready")
  while true do     -- until the driver's SIGTERM
    local v, m = GetChannelData("pub")
    local seq = m and m.seq or 0
    if seq ~= last then
      out("S", seq, enc(v))
      last = seq
    end
    Sleep(1)
  end
end
]]

-- The states a reader printed, as JSON texts ("nil" for none).
local function states(proc)
  local list = {}
  for _, f in ipairs(h.fields((proc:output()))) do
    if f[1] == "S" then list[#list + 1] = f[3] end
  end
  return list
end

local function shows(proc, text)
  return h.eventually(function()
    for _, s in ipairs(states(proc)) do
      if s == text then return true end
    end
  end, 10)
end

-- Puts a file (bytes, or made by kind) in place as name in the channel folder, by rename as a writer would.
local function plant(folder, name, bytes, kind)
  local tmp = folder .. "/.plant-" .. math.random(1, 1e9)
  if kind then make(kind, tmp) else h.write(tmp, bytes) end
  if kind == "mkdir" then os.remove(folder .. "/" .. name) end     -- a folder cannot be renamed over a file
  assert(os.rename(tmp, folder .. "/" .. name))
end

-- channel file: pub publishes {v = 1}; a reader follows pub; the row's bytes replace pub's file (or appear beside
-- it); then pub runs again and publishes {v = 2}, which the reader must take.
DRIVERS["channel file"] = function(r)
  local dir = h.tmpdir()
  local data, folder = dir .. "/data", dir .. "/data/channels"
  local function publish(v, warns)     -- r.burst: publish the state that many times
    local p = bot("pub", string.format("function main() for _ = 1, %d do out('set', tostring(SetChannelData({v = %d})))"
      .. " Sleep(5) end end", v > 1 and r.burst or 1, v), {dir = dir, data = data, name = "pub.lua"})
    exited(p, 0)
    assert.are.equal("true", p.by.set[2])
    if warns then     -- and, at exit, maybe "giving up"
      local w = warnings(p.err)
      assert.is_true(#w >= 1, "no publisher warning")
      assert.matches(warns, w[1], 1, true)
    else
      assert.are.same({}, warnings(p.err), "the publisher warned")
    end
  end
  local name = (r.name or "pub"):gsub("%%dead", "999999999"):gsub("%%live", h.read("/proc/self/stat"):match("^%d+"))
  local function put(valid, seq)
    local now = UnixNano() // 1000000
    local bytes = r.file
    if type(bytes) == "function" then bytes = bytes(valid, seq, now) end
    if r.frame then bytes = h.chanframe(seq + 1, now, r.frame) end
    plant(folder, name, bytes, r.make)
  end
  if r.at_start then
    assert.are.equal(0, h.sh("mkdir -p " .. h.quote(folder)))
    put("", UnixNano() // 1000)
  else
    publish(1)
  end
  h.script(dir, h.report_prelude .. READER, "reader.lua")
  local reader = h.spawn{dir = dir, "--data-dir", data, "--id", "reader", "reader.lua"}
  running[#running + 1] = reader
  local want = {"nil"}
  if not r.at_start then
    want[#want + 1] = '{"v":1}'
    assert.is_true(shows(reader, '{"v":1}'), "the reader never got the first state")
    local valid = h.read(folder .. "/pub")
    put(valid, math.tointeger(valid:match("^SRCH1 (%d+) ")))
  end
  if r.skipped then
    assert.is_truthy(h.eventually(function() return #warnings(select(2, reader:output())) > 0 end, 10),
      "no warning for the planted file")
  elseif r.ignored then   -- nothing to wait for: give the reader the time to look at it before the next state
    Sleep(300 * h.time_scale)
  elseif r.taken then
    want[#want + 1] = r.taken
    assert.is_true(shows(reader, r.taken), "the reader never took the planted state")
  end
  if r.swept ~= nil then
    assert.is_true(reader:wait_for("ready"))
    assert.are.equal(not r.swept, h.exists(folder .. "/" .. name), r.swept and "not removed" or "removed")
  end
  if r.blocks then        -- nothing can be renamed over it: the publisher warns; then the folder goes
    publish(2, r.blocks)
    -- the state went to the readers through the slot table (docs/channels.md) all the same
    want[#want + 1] = '{"v":2}'
    assert.is_truthy(shows(reader, '{"v":2}'), "the reader missed the state its file could not hold")
    assert(os.remove(folder .. "/" .. name))
  end
  publish(2)
  want[#want + 1] = '{"v":2}'
  local took = shows(reader, '{"v":2}')
  reader:signal("TERM")
  local code = reader:wait(10)
  local _, err = reader:output()
  assert.is_true(took, "the reader never took the publisher's next state; it saw " .. table.concat(states(reader), " ")
    .. "\n" .. err)
  assert.are.equal(143, code, "the reader did not run on:\n" .. err)
  assert.are.same(want, states(reader))
  local w = warnings(err)
  if r.skipped then
    assert.are.equal(1, #w, "warnings:\n" .. err)
    assert.matches("pub", w[1], 1, true)
    assert.matches(r.skipped, w[1], 1, true)
  else
    assert.are.same({}, w)
  end
end

-- channel folder: a publisher runs; its folder is swapped for a file, it publishes, the folder comes back. It
-- follows a new channel every 20 ms meanwhile, as a bot of a busy process would see engine work go by.
local function folder_swapped()
  local dir = h.tmpdir()
  local data, folder = dir .. "/data", dir .. "/data/channels"
  h.script(dir, h.report_prelude .. [[
local function exists(name) local f = io.open(name) if f then f:close() end return f ~= nil end
function main()
  out("up")
  while not exists("broken") do Sleep(5) end
  out("set", tostring(SetChannelData({last = true})))
  for i = 1, 1000 do
    if exists("done") then break end
    GetChannelData("other" .. i)
    Sleep(20)
  end
  out("alive")
end
]], "pub.lua")
  local p = h.spawn{dir = dir, "--data-dir", data, "--id", "pub", "pub.lua"}
  running[#running + 1] = p
  assert.is_true(p:wait_for("up"))
  assert(os.rename(folder, folder .. ".away"))
  h.write(folder, "not a folder")
  h.write(dir .. "/broken", "")
  assert.is_truthy(h.eventually(function()
    for _, w in ipairs(warnings(select(2, p:output()))) do
      if w:find("will retry", 1, true) then return true end
    end
  end), "no warning about the failed write")
  assert(os.remove(folder))
  assert(os.rename(folder .. ".away", folder))
  local written = h.eventually(function() return h.read(folder .. "/pub") end, 3)
  h.write(dir .. "/done", "")
  local code = p:wait(10)
  assert.are.equal(0, code, "the publisher did not run on:\n" .. select(2, p:output()))
  assert.is_truthy(p:wait_for("alive", 0))
  assert.is_string(written, "the last state was not written within 3 s of the folder's return; after the bot's "
    .. "exit the folder holds " .. table.concat(tree(folder), " "))
  assert.matches('{"last":true}$', written)
end

-- The folder goes and comes back while a reader follows pub and publishes its own state every 50 ms.
local function folder_recreated()
  local dir = h.tmpdir()
  local data, folder = dir .. "/data", dir .. "/data/channels"
  local function publish(v)
    local p = bot("pub", "function main() SetChannelData({v = " .. v .. "}) end",
      {dir = dir, data = data, name = "pub.lua"})
    exited(p, 0)
  end
  publish(1)
  h.script(dir, h.report_prelude .. [[
function main()
  GetChannelData("pub")
  local last
  for i = 1, 400 do
    SetChannelData({i = i})
    local v = GetChannelData("pub")
    if v and v.v ~= last then out("S", v.v) last = v.v end
    Sleep(50)
  end
end
]], "reader.lua")
  local reader = h.spawn{dir = dir, "--data-dir", data, "--id", "reader", "reader.lua"}
  running[#running + 1] = reader
  assert.is_true(reader:wait_for("S\t1"), "the reader never got the first state")
  -- rm -rf fails ("Directory not empty") when the bot writes its state between rm's unlinks and its rmdir: again
  local removed
  for _ = 1, 20 do
    removed = h.sh("rm -rf " .. h.quote(folder) .. " 2> /dev/null") == 0
    if removed then break end
  end
  assert.is_true(removed, "the folder could not be removed")
  assert.is_truthy(h.eventually(function() return #warnings(select(2, reader:output())) > 0 end), "no warning")
  assert.are.equal(0, h.sh("mkdir " .. h.quote(folder)))
  Sleep(1500)       -- the backend looks for the folder again once a second
  publish(2)
  local took = reader:wait_for("S\t2", 5)
  reader:signal("TERM")
  assert.are.equal(143, reader:wait(10), "the reader did not run on")
  local err = select(2, reader:output())
  assert.is_true(took, "the reader never took the state published after the folder came back:\n" .. err)
  assert.are.equal(1, #h.warnings(err, "was removed or moved"), err)
  assert.are.equal(1, #h.warnings(err, "is back; following it again"), err)
end

DRIVERS["channel folder"] = function(r)
  return (r.recreate and folder_recreated or folder_swapped)()
end

-- GetChannelData ID: two calls, then the bot publishes and runs on; nothing may appear outside its own files.
DRIVERS["GetChannelData ID"] = function(r, backend)
  local b = bot("reader", string.format([[
function main()
  for call = 1, 2 do
    local v, msg = GetChannelData(%s)
    out("call", call, enc(v), enc(msg))
    Sleep(5)
  end
  SetChannelData({ok = true})
  out("alive")
end
]], r.id), {backend = backend})
  exited(b, 0)
  assert.is_truthy(b.by.alive)
  local calls = 0
  for _, f in ipairs(b.rows) do
    if f[1] == "call" then
      calls = calls + 1
      assert.are.equal("nil", f[3])
      if r.refused then
        local msg = h.dec(f[4])
        assert.is_string(msg, "call " .. f[2] .. " gave no message")
        assert.matches("^GetChannelData: ", msg)
        assert.matches(r.refused, msg, 1, true)
      else
        assert.are.equal("nil", f[4], "a valid ID got a message")
      end
    end
  end
  assert.are.equal(2, calls)
  local allowed = {[".err"] = true, [".out"] = true, ["data"] = true, ["data/bots"] = true,
    ["data/bots/reader"] = true, ["data/bots/reader/log.txt"] = true, ["data/bots/reader/lock"] = true,
    ["data/channels"] = true, ["data/channels/reader"] = true, ["data/channels/.reader.seq"] = true,
    ["data/channels/.reader.lock"] = true, ["data/channels/.slots"] = true,
    ["strategy.lua"] = true}
  for _, path in ipairs(tree(b.dir)) do
    assert.is_true(allowed[path] or false, "created " .. path)
  end
end

-- _G key / _G value: stores base = 1, then the row's key and value, then starts again and reads both.
local function store_driver(r)
  local key = r.key or '"k"'
  local value = r.value or "1"
  local dir = h.tmpdir()
  local store = dir .. "/data/bots/storebot/store.json"
  local function run(body)
    return bot("storebot", "function main()\n" .. body .. "\nend\n", {dir = dir})
  end
  exited(run('_G("base", 1)'), 0)
  local before = h.read(store)
  local b = run(string.format('local key, value = %s, %s\n_G(key, value)\nout("back", enc(_G(key)))', key, value))
  if r.raises then
    exited(b, 1)
    assert.are.equal("", b.out)
    assert.matches("strategy%.lua:%d+: _G: ", b.err)
    assert.matches(r.raises, b.err, 1, true)
    assert.are.equal(before, h.read(store), "the store file changed")
  else
    exited(b, 0)
    local ok = r.check or function(text) return text == r.stored end
    assert.is_true(ok(b.by.back[2]), "read back as " .. short(b.by.back[2]))
  end
  local again = run(string.format('out("base", enc(_G("base")))\n%s',
    r.raises and "" or string.format('out("back", enc(_G(%s)))', key)))
  exited(again, 0)
  assert.are.equal("1", again.by.base[2])
  if not r.raises then
    local ok = r.check or function(text) return text == r.stored end
    assert.is_true(ok(again.by.back[2]), "read back after a restart as " .. short(again.by.back[2]))
  end
end
DRIVERS["_G key"] = store_driver
DRIVERS["_G value"] = store_driver

-- _G store file: the bot starts with these bytes as its store.
DRIVERS["_G store file"] = function(r)
  local dir = h.tmpdir()
  local bdir = dir .. "/data/bots/storebot"
  local store = bdir .. "/store.json"
  assert.are.equal(0, h.sh("mkdir -p " .. h.quote(bdir)))
  if r.make then make(r.make, store) else h.write(store, r.store) end
  if r.beside then h.write(bdir .. "/" .. r.beside, '{"a":') end
  local b = bot("storebot", string.format('function main() out("a", enc(_G(%q))) end', r.key or "a"),
    {dir = dir, timeout = 7})
  if r.damaged then
    exited(b, 2)
    assert.is_true(b.ms < 5000 * h.time_scale, "took " .. b.ms .. " ms")
    assert.are.equal("", b.out)
    assert.is_true(one_line(b.err), "not one line:\n" .. b.err)
    assert.matches(store, b.err, 1, true)
    assert.matches(r.damaged, b.err, 1, true)
    if r.store then assert.are.equal(r.store, h.read(store), "the store file changed") end
  else
    exited(b, 0)
    assert.are.equal(r.loads, b.by.a[2])
    -- the warnings, one line each, in the order given (sorted, so that replays log the same bytes)
    local got = warnings(b.err)
    assert.are.equal(#(r.warns or {}), #got, b.err)
    for i, w in ipairs(r.warns or {}) do assert.matches("_G store " .. store .. ": " .. w, got[i], 1, true) end
  end
  if r.beside then assert.are.equal(not r.swept, h.exists(bdir .. "/" .. r.beside), "the temp file is still there") end
end

-- config file: stratrun --config bad.conf on a strategy that prints what the config set.
DRIVERS["config file"] = function(r)
  local dir = h.tmpdir()
  local conf = dir .. "/bad.conf"
  if r.make then make(r.make, conf) else h.write(conf, r.config) end
  h.script(dir, 'print(_G(), tostring(x))')
  local t0 = UnixNano()
  -- A sanitized build runs the config's 10 million instructions 2-3 times slower: the bound (that the config is
  -- cut at all) doubles there.
  local slow = h.sanitizer() and 2 or 1
  -- the data dir comes from STRATRUN_HOME, so a config's own data_dir still wins
  local b = h.run{dir = dir, timeout = 7 * slow, env = {STRATRUN_HOME = dir .. "/data"},
                  "--config", "bad.conf", "strategy.lua"}
  local ms = (UnixNano() - t0) // 1000000
  if r.fails then
    exited(b, 2)
    assert.is_true(ms < 5000 * h.time_scale * slow, "took " .. ms .. " ms")
    assert.are.equal("", b.out)
    assert.is_true(one_line(b.err), "not one line:\n" .. b.err)
    assert.matches("^stratrun: ", b.err)
    assert.matches(r.fails, b.err, 1, true)
    if r.creates then assert.is_false(h.exists(dir .. "/" .. r.creates), r.creates .. " was created") end
    assert.is_false(h.exists(dir .. "/d"), "a data dir d was made")
  else
    exited(b, 0)
    assert.matches(r.prints, b.out, 1, true)
  end
end

-- command line: stratrun with the row's arguments, SCRIPT standing for a strategy that prints v.
DRIVERS["command line"] = function(r)
  local dir = h.tmpdir()
  local script = h.script(dir, 'print(math.type(v) or type(v), tostring(v))')
  -- the data dir goes first, after `run` or `cmd` when there is one
  local args = {dir = dir, timeout = 10}
  local rest = r.args
  local sub = (rest[1] == "run" or rest[1] == "cmd") and rest[1]
  if sub then
    args[1] = sub
    rest = {table.unpack(rest, 2)}
  end
  args[#args + 1] = "--data-dir"
  args[#args + 1] = dir .. "/data"
  if not sub and rest[1] ~= "--id" then     -- no generated ID, and no notice of one on stderr
    args[#args + 1] = "--id"
    args[#args + 1] = "cli"
  end
  for _, a in ipairs(rest) do args[#args + 1] = (a:gsub("SCRIPT", script)) end
  local b = h.run(args)
  if r.fails then
    exited(b, 2)
    assert.are.equal("", b.out)
    assert.is_true(one_line(b.err), "not one line:\n" .. b.err)
    assert.matches(r.fails, b.err, 1, true)
  else
    exited(b, 0)
    assert.are.equal(r.prints:gsub(" ", "\t") .. "\n", b.out)
  end
end

-- The backends a row runs on: the Lua API entry points on local and memory, the rest where they live.
local function backends(r)
  if r.where == "SetChannelData" or r.where == "GetChannelData ID" then return {"local", "memory"} end
  return {false}
end

-- catalogue_slow_spec.lua loads this file in its own environment with the argument "drivers", for the table and
-- its drivers; busted runs it with no argument.
if ... == "drivers" then
  return {CATALOGUE = CATALOGUE, DRIVERS = DRIVERS, backends = backends, running = running}
end

-- ---- the loop ----

describe("the bad-input catalogue", function()
  after_each(function() h.kill_all(running) end)

  for i, r in ipairs(CATALOGUE) do
    for _, backend in ipairs(backends(r)) do
      local name = string.format("#%d %s%s: %s -> %s", i, r.where, backend and " (" .. backend .. ")" or "", r.input,
        outcome(r))
      it(name, function() DRIVERS[r.where](r, backend or nil) end)
    end
  end

  it("is the table docs/reliability.md shows", function()
    h.assert_doc_table(markdown(), "catalogue table", "spec/catalogue_spec.lua")
  end)
end)
