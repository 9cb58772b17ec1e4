-- Spec for the json module (runtime/data/json.c), run by busted inside the stratrun binary.

local json = require("json")

local function encode_error(v)
  local ok, err = pcall(json.encode, v)
  assert.is_false(ok, "json.encode should have failed")
  return err
end

local function decode_error(s)
  local ok, err = pcall(json.decode, s)
  assert.is_false(ok, "json.decode should have failed for " .. string.format("%q", s))
  return err
end

-- Bitwise identity: tells -0.0 from 0.0 and an integer from an equal float.
local function same_number(a, b)
  return math.type(a) == math.type(b) and string.pack("<n", a) == string.pack("<n", b)
end

local function nested_arrays(n)
  local t = json.array()
  for _ = 2, n do t = { t } end
  return t
end

local function nested_objects(n)
  local t = { v = 1 }
  for _ = 2, n do t = { k = t } end
  return t
end

-- A finite double made of random bits, so every exponent and every mantissa pattern is covered.
local function random_double()
  while true do
    local d = string.unpack("<d", string.pack("<I4I4", math.random(0, 0xFFFFFFFF), math.random(0, 0xFFFFFFFF)))
    if d == d and d ~= math.huge and d ~= -math.huge then return d end
  end
end

-- The significant digits of a decimal number text: "-0.00120e+5" -> "12".
local function significant_digits(s)
  return (s:gsub("[eE].*$", ""):gsub("[-.]", ""):gsub("^0+", ""):gsub("0+$", ""))
end

describe("json.encode", function()
  describe("integers", function()
    it("writes small integers without a fraction", function()
      assert.are.equal("5", json.encode(5))
      assert.are.equal("0", json.encode(0))
      assert.are.equal("-42", json.encode(-42))
    end)

    it("keeps a millisecond timestamp and 19-digit ids exact", function()
      assert.are.equal("1732590000123456789", json.encode(1732590000123456789))
      assert.are.equal("[1732590000123]", json.encode({ 1732590000123 }))
    end)

    it("writes math.mininteger and math.maxinteger exactly", function()
      assert.are.equal("-9223372036854775808", json.encode(math.mininteger))
      assert.are.equal("9223372036854775807", json.encode(math.maxinteger))
    end)
  end)

  describe("floats", function()
    it("keeps .0 on integral floats so they stay floats", function()
      assert.are.equal("5.0", json.encode(5.0))
      assert.are.equal("-3.0", json.encode(-3.0))
      assert.are.equal("0.0", json.encode(0.0))
      assert.are.equal("-0.0", json.encode(-0.0))
      assert.are.equal("1000000000000000.0", json.encode(1e15))
      assert.are.equal("9007199254740992.0", json.encode(2.0 ^ 53))
    end)

    it("writes the shortest decimal that reads back", function()
      assert.are.equal("0.1", json.encode(0.1))
      assert.are.equal("43125.37", json.encode(43125.37))
      assert.are.equal("0.30000000000000004", json.encode(0.1 + 0.2))
      assert.are.equal("123456.789", json.encode(123456.789))
      assert.are.equal("0.0001", json.encode(0.0001))
      assert.are.equal("1.7976931348623157e+308", json.encode(1.7976931348623157e308))
      assert.are.equal("5e-324", json.encode(4.9406564584124654e-324))
    end)

    it("uses exponent notation for very large and very small magnitudes", function()
      assert.are.equal("1e+300", json.encode(1e300))
      assert.are.equal("1e+16", json.encode(1e16))
      assert.are.equal("1e-05", json.encode(0.00001))
      assert.are.equal("-2.5e-300", json.encode(-2.5e-300))
      assert.are.equal("9.223372036854776e+18", json.encode(2.0 ^ 63))
    end)

    it("round-trips many random doubles exactly, as floats", function()
      math.randomseed(20241126)
      local values = {}
      for i = 1, 20000 do
        local d = random_double()
        values[i] = d
        local s = json.encode(d)
        local back = json.decode(s)
        if not same_number(d, back) then
          error(string.format("%.17g encoded as %s decoded as %s", d, s, tostring(back)))
        end
        -- Shortest and closest: no %.Ng with fewer digits reads back, and with as many digits ours is %.Ng's.
        local ours = significant_digits(s)
        for p = 1, #ours do
          local ref = string.format("%." .. p .. "g", d)
          if tonumber(ref) == d then
            if p < #ours or significant_digits(ref) ~= ours then
              error(string.format("%s is not the shortest closest form (%s reads back)", s, ref))
            end
            break
          end
        end
      end
      local back = json.decode(json.encode(values))
      assert.are.equal(#values, #back)
      for i = 1, #values do
        assert.is_true(same_number(values[i], back[i]), "element " .. i)
      end
    end)

    it("round-trips floats that hold integral values as floats", function()
      for _, d in ipairs({ 1.0, 100.0, -7.0, 2.0 ^ 52, 2.0 ^ 60, 1e20, 1e300 }) do
        local back = json.decode(json.encode(d))
        assert.are.equal("float", math.type(back))
        assert.are.equal(d, back)
      end
    end)

    it("refuses NaN and infinities, naming the path", function()
      assert.are.equal("json.encode: NaN at price", encode_error({ price = 0 / 0 }))
      assert.are.equal("json.encode: NaN at orders[3].price",
        encode_error({ orders = { {}, {}, { price = 0 / 0 } } }))
      assert.are.equal("json.encode: Infinity at (root)", encode_error(math.huge))
      assert.are.equal("json.encode: -Infinity at a.b[2]", encode_error({ a = { b = { 1, -math.huge } } }))
    end)
  end)

  describe("tables", function()
    it("writes sequences as arrays", function()
      assert.are.equal("[1,2,3]", json.encode({ 1, 2, 3 }))
      assert.are.equal('["a",true,1.5]', json.encode({ "a", true, 1.5 }))
    end)

    it("writes a sequence whose keys were set out of order as an array", function()
      local t = {}
      t[3] = "c"; t[2] = "b"; t[1] = "a"
      assert.are.equal('["a","b","c"]', json.encode(t))
      -- Keys 1..n left in the hash part, where traversal does not start at 1 (3, 1, 2 on Lua 5.4).
      for _, n in ipairs({ 3, 7 }) do
        local h = {}
        for i = 1, n do h["k" .. i] = true end
        for i = 1, n do h["k" .. i] = nil end
        local want = {}
        for i = n, 1, -1 do h[i] = i; want[i] = tostring(i) end
        assert.are.equal("[" .. table.concat(want, ",") .. "]", json.encode(h))
        assert.are.equal('{"h":[' .. table.concat(want, ",") .. "]}", json.encode({ h = h }))
      end
    end)

    it("writes tables with holes or extra keys as objects with decimal-string keys", function()
      assert.are.same({ ["1"] = 1, ["3"] = 3 }, json.decode(json.encode({ [1] = 1, [3] = 3 })))
      assert.are.same({ ["1"] = "a", ["2"] = "b", x = 3 }, json.decode(json.encode({ "a", "b", x = 3 })))
      assert.are.equal('{"10":1}', json.encode({ [10] = 1 }))
      assert.are.equal('{"0":true}', json.encode({ [0] = true }))
      assert.are.equal('{"-5":"x"}', json.encode({ [-5] = "x" }))
      local t = { 1, 2, 3 }
      t[2] = nil
      assert.are.same({ ["1"] = 1, ["3"] = 3 }, json.decode(json.encode(t)))
    end)

    -- Found by fuzz_json_encode: a table that starts like a sequence and turns out not to be one was written
    -- twice, its nested tables included, so a chain of them took 2^depth passes (31 deep: minutes of one
    -- SetChannelData). Run in a child that the helpers kill after 20 s, so the old behaviour fails as a hang.
    it("writes a 31-deep chain of arrays with holes in one pass, as objects", function()
      local h = require("helpers")
      local dir = h.tmpdir()
      h.script(dir, [[
        local json = require("json")
        local function chain(d)
          if d == 0 then return 1 end
          local t = { chain(d - 1) }
          t[3] = true
          return t
        end
        local v = chain(31)
        print(json.encode(v))
        SetChannelData({ v = chain(30) })
        _G("chain", chain(30))
        print(json.encode(_G("chain")) == json.encode(chain(30)))
      ]])
      local r = h.run { dir = dir, "--data-dir", dir .. "/data", "--id", "chain", "strategy.lua" }
      assert.are.equal(0, r.code, r.err)
      local want = "1"
      for _ = 1, 31 do want = '{"1":' .. want .. ',"3":true}' end
      assert.are.equal(want .. "\ntrue\n", r.out)
    end)

    it("writes string-keyed tables as objects", function()
      assert.are.equal('{"x":1}', json.encode({ x = 1 }))
      assert.are.same({ symbol = "BTC_USDT", last = 43125.37, n = 7 },
        json.decode(json.encode({ symbol = "BTC_USDT", last = 43125.37, n = 7 })))
    end)

    describe("member order", function()
      -- Byte-wise string order, whatever the locale (Lua's < uses strcoll).
      local function bytes_less(a, b)
        for i = 1, math.min(#a, #b) do
          local x, y = a:byte(i), b:byte(i)
          if x ~= y then return x < y end
        end
        return #a < #b
      end

      -- The member names of an object text whose values hold no '"', in text order.
      local function member_names(s)
        local names = {}
        for k in s:gmatch('"([^"]*)":') do names[#names + 1] = k end
        return names
      end

      local function assert_sorted(names)
        for i = 2, #names do
          assert.is_true(bytes_less(names[i - 1], names[i]), names[i - 1] .. " before " .. names[i])
        end
      end

      -- The same members, inserted forwards; or backwards, among keys that are then removed (so that the hash part
      -- has another size and history, and lua_next usually visits it in another order).
      local function build(keys, backwards)
        local t = {}
        local from, to, step = 1, #keys, 1
        if backwards then from, to, step = #keys, 1, -1 end
        for i = from, to, step do
          if backwards then t["tmp" .. i] = true end
          t[keys[i]] = "v" .. tostring(keys[i])
        end
        if backwards then
          for i = 1, #keys do t["tmp" .. i] = nil end
        end
        return t
      end

      it("writes object members sorted by the bytes of their keys, integer keys by their decimal text", function()
        assert.are.equal('{"-5":8,"10":6,"2":7,"Beta":3,"_x":10,"a b":4,"alpha":2,"alphabet":5,"zeta":1,"é":9}',
          json.encode({ zeta = 1, alpha = 2, Beta = 3, ["a b"] = 4, alphabet = 5, [10] = 6, [2] = 7, [-5] = 8,
            ["é"] = 9, _x = 10 }))
        -- Past the first 8 bytes, and integer keys against string keys of the same length.
        assert.are.equal('{"1732590000123":"a","17325900001230":"c","1732590000124":"b",' ..
          '"timestamp":1,"timestamp_a":2,"timestamp_b":3}',
          json.encode({ timestamp_b = 3, [1732590000124] = "b", timestamp = 1, ["17325900001230"] = "c",
            timestamp_a = 2, [1732590000123] = "a" }))
        -- The key's own bytes decide, not its escaped form: "\n" (0x0A) < " " (0x20) < '"' (0x22).
        assert.are.equal('{"\\n":1," ":2,"\\"":3}', json.encode({ ['"'] = 3, [" "] = 2, ["\n"] = 1 }))
        assert.are.equal('{"a":0,"b":[{"x":2,"y":1}]}', json.encode({ b = { { y = 1, x = 2 } }, a = 0 }))
        assert.are.equal('{"1":"a","10":"j","11":"k","2":"b","3":"c","4":"d","5":"e","6":"f","7":"g","8":"h",' ..
          '"9":"i"}', json.encode(json.object({ "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k" })))
      end)

      it("writes an integer key and a string key with the same text both, the integer one first", function()
        local want = '{"1":"i1","1":"s1","10":"i10","10":"s10","2":"i2"}'
        assert.are.equal(want, json.encode({ [1] = "i1", ["1"] = "s1", [2] = "i2", ["10"] = "s10", [10] = "i10" }))
        local t = {}
        t["10"] = "s10"; t[10] = "i10"; t["1"] = "s1"; t[2] = "i2"; t[1] = "i1"
        assert.are.equal(want, json.encode(t))
      end)

      it("writes equal tables as equal bytes, every time, whatever order their keys were inserted in", function()
        for _, n in ipairs({ 2, 5, 12, 31, 32, 33, 40, 300, 5000 }) do
          local keys = {}
          for i = 1, n do   -- distinct: integers, and strings of several lengths sharing prefixes
            keys[i] = i % 3 == 0 and i * 7 - 1000 or (i % 2 == 0 and "k" or "key_") .. i * 7919 % 100003
          end
          local a, b = build(keys, false), build(keys, true)
          assert.are.same(a, b)
          local want = json.encode(a)
          for _ = 1, 20 do
            assert.are.equal(want, json.encode(a), "n = " .. n)
            assert.are.equal(want, json.encode(b), "n = " .. n)
          end
          assert.are.equal('{"a":' .. want .. ',"b":[' .. want .. "]}", json.encode({ b = { b }, a = a }))
          local names = member_names(want)
          assert.are.equal(n, #names)
          assert_sorted(names)
        end
      end)

      it("writes the same bytes in processes with different hash seeds", function()
        local h = require("helpers")
        local src = [[
          local json = require("json")
          local t = { small = { robotId = "r-1", updateId = 7, symbol = "BTC_USDT", lastPrice = 1.5, ok = true } }
          for i = 1, 40 do t["k" .. i] = i end
          for i = 1, 8 do t[i * 10] = "v" .. i end
          print(json.encode(t))
        ]]
        local outs = {}
        for i = 1, 3 do
          local dir = h.tmpdir()
          h.script(dir, src)
          local r = h.run { dir = dir, "--data-dir", dir .. "/data", "--id", "order" .. i, "strategy.lua" }
          assert.are.equal(0, r.code, r.err)
          outs[i] = r.out
        end
        assert.are.equal(outs[1], outs[2])
        assert.are.equal(outs[1], outs[3])
        local t = { small = { robotId = "r-1", updateId = 7, symbol = "BTC_USDT", lastPrice = 1.5, ok = true } }
        for i = 1, 40 do t["k" .. i] = i end
        for i = 1, 8 do t[i * 10] = "v" .. i end
        assert.are.equal(json.encode(t) .. "\n", outs[1])
      end)

      it("writes a 100,000-member object sorted, and it decodes back equal", function()
        local t, want = {}, {}
        for i = 1, 100000 do
          local k = i % 10 == 0 and i or "m" .. i
          t[k] = i
          want[tostring(k)] = i
        end
        local s = json.encode(t)
        local head = '{"10":10,"100":100,"1000":1000,"10000":10000,"100000":100000,"10010":10010,'
        assert.are.equal(head, s:sub(1, #head))
        local back = json.decode(s)
        assert.are.same(want, back)
        assert.are.equal(s, json.encode(back))
        local names = member_names(s)
        assert.are.equal(100000, #names)
        assert_sorted(names)
      end)
    end)

    it("writes an empty table as {} unless marked with json.array", function()
      assert.are.equal("{}", json.encode({}))
      assert.are.equal("[]", json.encode(json.array()))
      assert.are.equal("[]", json.encode(json.array({})))
      assert.are.equal('{"a":[]}', json.encode({ a = json.array() }))
      assert.are.equal("{}", json.encode(json.object()))
    end)

    it("writes a json.object-marked sequence as an object", function()
      assert.are.same({ ["1"] = "a", ["2"] = "b" }, json.decode(json.encode(json.object({ "a", "b" }))))
    end)

    it("refuses keys that are neither strings nor integers", function()
      assert.are.equal("json.encode: key of type boolean at (root)", encode_error({ [true] = 1 }))
      assert.are.equal("json.encode: non-integer number key at a", encode_error({ a = { [1.5] = 1 } }))
      assert.are.equal("json.encode: key of type table at a.b", encode_error({ a = { b = { [{}] = 1 } } }))
    end)

    it("allows a table referenced twice when it is not its own ancestor", function()
      local shared = { 1, 2 }
      assert.are.equal("[[1,2],[1,2]]", json.encode({ shared, shared }))
      assert.are.same({ x = { 1, 2 }, y = { 1, 2 } }, json.decode(json.encode({ x = shared, y = shared })))
    end)

    it("refuses cycles, naming where the table reappears", function()
      local root = { a = {} }
      root.a.b = root.a
      assert.are.equal("json.encode: cycle at a.b", encode_error(root))
      local t = {}
      t[1] = t
      assert.are.equal("json.encode: cycle at [1]", encode_error(t))
    end)

    it("accepts 32 levels of nesting and refuses 33", function()
      assert.are.equal(string.rep("[", 32) .. string.rep("]", 32), json.encode(nested_arrays(32)))
      assert.matches("^json%.encode: nesting deeper than 32 at %[1%]", encode_error(nested_arrays(33)))
      assert.is_string(json.encode(nested_objects(32)))
      assert.matches("^json%.encode: nesting deeper than 32 at k%.k%.k", encode_error(nested_objects(33)))
    end)
  end)

  describe("strings", function()
    it("escapes quotes, backslashes and control characters", function()
      assert.are.equal([["a\"b\\c"]], json.encode('a"b\\c'))
      assert.are.equal([["\n\t\r\b\f"]], json.encode("\n\t\r\b\f"))
      assert.are.equal([["\u0000\u0001\u001f"]], json.encode("\0\1\31"))
      assert.are.equal('"/ \127"', json.encode("/ \127"))
    end)

    it("passes valid UTF-8 through", function()
      assert.are.equal('"é€😀 BTC"', json.encode("é€😀 BTC"))
      local long = string.rep("abcdefgh", 100) .. "é" .. string.rep("x\"y", 10)
      assert.are.equal(long, json.decode(json.encode(long)))
    end)

    it("refuses invalid UTF-8, naming the path", function()
      assert.are.equal("json.encode: invalid UTF-8 in string at name", encode_error({ name = "ab\255" }))
      assert.are.equal("json.encode: invalid UTF-8 in string at [2]", encode_error({ "ok", "\192\128" }))
      assert.are.equal("json.encode: invalid UTF-8 in string at (root)", encode_error("\237\160\128"))
      assert.are.equal("json.encode: invalid UTF-8 in string at (root)", encode_error("\244\144\128\128"))
      assert.are.equal("json.encode: invalid UTF-8 in string at (root)",
        encode_error(string.rep("a", 20) .. "\226\130"))
      assert.are.equal("json.encode: invalid UTF-8 in key at (root)", encode_error({ ["k\255"] = 1 }))
    end)

    it("writes unusual keys in the error path in brackets", function()
      assert.are.equal('json.encode: cannot encode function at ["a b"].f', encode_error({ ["a b"] = { f = print } }))
    end)
  end)

  describe("other values", function()
    it("writes json.null as null and booleans as themselves", function()
      assert.are.equal("null", json.encode(json.null))
      assert.are.equal("[1,null,3]", json.encode({ 1, json.null, 3 }))
      assert.are.equal("true", json.encode(true))
      assert.are.equal("[false]", json.encode({ false }))
      assert.are.equal("null", json.encode(nil))
    end)

    it("refuses functions, userdata and threads, naming the path", function()
      assert.are.equal("json.encode: cannot encode function at a.b[2]", encode_error({ a = { b = { 1, print } } }))
      assert.are.equal("json.encode: cannot encode userdata at f", encode_error({ f = io.stdout }))
      assert.are.equal("json.encode: cannot encode thread at (root)", encode_error(coroutine.create(print)))
    end)
  end)
end)

describe("json.decode", function()
  describe("values", function()
    it("turns objects into string-keyed tables", function()
      local t = json.decode('{"a":1,"b":"x","1":true}')
      assert.are.same({ a = 1, b = "x", ["1"] = true }, t)
      assert.is_nil(t[1])
    end)

    it("leaves null members out", function()
      local t = json.decode('{"a":null,"b":1}')
      assert.is_nil(t.a)
      assert.are.same({ b = 1 }, t)
    end)

    it("keeps null array elements as json.null", function()
      local t = json.decode("[1,null,3,null]")
      assert.are.equal(4, #t)
      assert.are.equal(json.null, t[2])
      assert.are.equal(json.null, t[4])
      assert.are.equal("[1,null,3,null]", json.encode(t))
    end)

    it("gives empty arrays the json.array metatable so they encode back as []", function()
      local t = json.decode('{"a":[],"b":{}}')
      assert.are.equal(getmetatable(json.array()), getmetatable(t.a))
      assert.is_nil(getmetatable(t.b))
      assert.are.equal("[]", json.encode(t.a))
      assert.are.equal("{}", json.encode(t.b))
    end)

    it("returns nil for a top-level null", function()
      local n = select("#", json.decode(" null "))
      assert.are.equal(1, n)
      assert.is_nil(json.decode("null"))
    end)

    it("decodes top-level scalars", function()
      assert.are.equal("x", json.decode('"x"'))
      assert.are.equal(true, json.decode("true"))
      assert.are.equal(false, json.decode(" false\n"))
    end)

    it("lets the last of duplicate keys win, null included", function()
      assert.are.equal(2, json.decode('{"a":1,"a":2}').a)
      assert.is_nil(json.decode('{"a":1,"a":null}').a)
    end)

    it("decodes large arrays and objects completely", function()
      local parts, members = {}, {}
      for i = 1, 1000 do
        parts[i] = (i % 7 == 0) and "null" or tostring(i)
        members[i] = string.format('"k%d":%d', i, i)
      end
      local arr = json.decode("[" .. table.concat(parts, ",") .. "]")
      assert.are.equal(1000, #arr)
      assert.are.equal(1000, arr[1000])
      assert.are.equal(json.null, arr[994])
      members[#members + 1] = '"k1":"last"'
      members[#members + 1] = '"k2":null'
      local obj = json.decode("{" .. table.concat(members, ",") .. "}")
      assert.are.equal("last", obj.k1)
      assert.is_nil(obj.k2)
      assert.are.equal(1000, obj.k1000)
      local n = 0
      for _ in pairs(obj) do n = n + 1 end
      assert.are.equal(999, n)
    end)

    it("round-trips a nested channel state", function()
      local state = {
        robotId = "r-42", updateId = 17, timestamp = 1732590000123, symbol = "BTC_USDT",
        lastPrice = 43125.37, volume = 1523.402, high = 43500.0, low = 42890.11,
        orders = { { id = 1, price = 43000.5, side = "buy" }, { id = 2, price = 43300.25, side = "sell" } },
        flags = json.array(),
      }
      local back = json.decode(json.encode(state))
      assert.are.same(state, back)
      assert.are.equal("integer", math.type(back.timestamp))
      assert.are.equal("float", math.type(back.high))
    end)
  end)

  describe("numbers", function()
    it("decodes numbers without fraction or exponent as integers", function()
      assert.are.equal("integer", math.type(json.decode("5")))
      assert.are.equal(5, json.decode("5"))
      assert.is_true(same_number(0, json.decode("-0")))
      assert.are.equal(1732590000123456789, json.decode("1732590000123456789"))
      assert.are.equal(math.maxinteger, json.decode("9223372036854775807"))
      assert.are.equal(math.mininteger, json.decode("-9223372036854775808"))
      assert.are.equal("integer", math.type(json.decode("-9223372036854775808")))
    end)

    it("decodes integers beyond int64 as floats", function()
      local v = json.decode("9223372036854775808")
      assert.are.equal("float", math.type(v))
      assert.are.equal(2.0 ^ 63, v)
      assert.are.equal(-(2.0 ^ 63) - 2048, json.decode("-9223372036854777856"))
      assert.are.equal(1e20, json.decode("100000000000000000000"))
    end)

    it("decodes fractions and exponents as floats", function()
      assert.is_true(same_number(5.0, json.decode("5.0")))
      assert.is_true(same_number(100.0, json.decode("1e2")))
      assert.is_true(same_number(-0.0, json.decode("-0.0")))
      assert.is_true(same_number(43125.37, json.decode("43125.37")))
      assert.is_true(same_number(0.1, json.decode("0.1")))
      assert.is_true(same_number(1.5e-7, json.decode("1.5E-7")))
      assert.is_true(same_number(0.0, json.decode("1e-400")))
    end)

    it("rounds decimal text exactly as tonumber does", function()
      math.randomseed(7)
      for _ = 1, 5000 do
        local int = tostring(math.random(1, 999999999))
        local frac = tostring(math.random(0, 99999999999))
        local s = int .. "." .. frac .. "e" .. tostring(math.random(-40, 40))
        assert.is_true(same_number(tonumber(s), json.decode(s)), s)
        s = int .. frac .. int .. "." .. frac   -- more digits than fit a uint64
        assert.is_true(same_number(tonumber(s), json.decode(s)), s)
      end
    end)

    it("refuses numbers too large for a double", function()
      assert.are.equal("json.decode: invalid JSON at byte 1: number out of range", decode_error("[1e400]"))
    end)
  end)

  describe("strings", function()
    it("decodes simple escapes", function()
      assert.are.equal('"\\/\b\f\n\r\t', json.decode([["\"\\\/\b\f\n\r\t"]]))
    end)

    it("decodes \\u escapes, surrogate pairs included, to UTF-8", function()
      assert.are.equal("é", json.decode([["\u00e9"]]))
      assert.are.equal("€", json.decode([["\u20AC"]]))
      assert.are.equal("😀", json.decode([["\ud83d\ude00"]]))
      assert.are.equal("a\0b", json.decode([["a\u0000b"]]))
      assert.are.equal(3, #json.decode([["a\u0000b"]]))
      assert.are.equal("\127\194\128", json.decode([["\u007f\u0080"]]))
    end)

    it("passes raw UTF-8 through", function()
      assert.are.equal("价格 €😀", json.decode('"价格 €😀"'))
    end)
  end)

  describe("errors", function()
    local cases = {
      { "", 0, "unexpected end of input" },
      { "   ", 3, "unexpected end of input" },
      { "NaN", 0, "NaN is not allowed" },
      { "[Infinity]", 1, "Infinity is not allowed" },
      { "-Infinity", 0, "Infinity is not allowed" },
      { "0x1F", 0, "hexadecimal numbers are not allowed" },
      { "[01]", 1, "leading zeros are not allowed" },
      { "-012", 0, "leading zeros are not allowed" },
      { "+1", 0, "leading '+' is not allowed" },
      { ".5", 0, "expected a value" },
      { "1.", 2, "expected a digit after '.'" },
      { "1.5e", 4, "expected a digit in exponent" },
      { "-", 1, "expected a digit" },
      { "tru", 0, "expected a value" },
      { "[1] x", 4, "trailing characters after the JSON value" },
      { "{} {}", 3, "trailing characters after the JSON value" },
      { "[1 2]", 3, "expected ',' or ']'" },
      { "[1,]", 3, "expected a value" },
      { '{"a":1,}', 7, "expected a string key" },
      { '{"a" 1}', 5, "expected ':'" },
      { '{"a":1 "b":2}', 7, "expected ',' or '}'" },
      { "{a:1}", 1, "expected a string key or '}'" },
      { '"abc', 0, "unterminated string" },
      { '"a\tb"', 2, "control character in string" },
      { '"a\nb"', 2, "control character in string" },
      { '"a\255"', 2, "invalid UTF-8 in string" },
      { '"\192\175"', 1, "invalid UTF-8 in string" },
      { '"\237\160\128"', 1, "invalid UTF-8 in string" },
      { '"ab\\x"', 3, "invalid escape in string" },
      { '"\\u12"', 1, "invalid \\u escape" },
      { '"\\u12G4"', 1, "invalid \\u escape" },
      { '"\\ud800"', 1, "lone surrogate in \\u escape" },
      { '"x\\udc00"', 2, "lone surrogate in \\u escape" },
      { '"\\ud800\\u0041"', 1, "lone surrogate in \\u escape" },
      { '{"k":"v\\ud83d"}', 7, "lone surrogate in \\u escape" },
    }
    for _, c in ipairs(cases) do
      it(string.format("refuses %q at byte %d: %s", c[1], c[2], c[3]), function()
        assert.are.equal(string.format("json.decode: invalid JSON at byte %d: %s", c[2], c[3]), decode_error(c[1]))
      end)
    end

    it("accepts 32 levels of nesting and refuses 33", function()
      local ok32 = string.rep("[", 32) .. string.rep("]", 32)
      assert.are.equal(ok32, json.encode(json.decode(ok32)))
      assert.are.equal("json.decode: invalid JSON at byte 32: nesting deeper than 32",
        decode_error(string.rep("[", 33) .. string.rep("]", 33)))
      local obj32 = string.rep('{"k":', 32) .. "1" .. string.rep("}", 32)
      assert.is_table(json.decode(obj32))
      assert.are.equal("json.decode: invalid JSON at byte 160: nesting deeper than 32",
        decode_error(string.rep('{"k":', 33) .. "1" .. string.rep("}", 33)))
    end)

    it("refuses a non-string argument", function()
      assert.has_error(function() json.decode(42) end)
      assert.has_error(function() json.decode() end)
    end)
  end)
end)

describe("json.array and json.object", function()
  it("mark the given table and return it", function()
    local t = {}
    assert.are.equal(t, json.array(t))
    assert.are.equal("[]", json.encode(t))
    t[1] = "x"
    assert.are.equal('["x"]', json.encode(t))
    local o = {}
    assert.are.equal(o, json.object(o))
    assert.are.equal("{}", json.encode(o))
  end)

  it("share one metatable per kind", function()
    assert.are.equal(getmetatable(json.array()), getmetatable(json.array({})))
    assert.are.equal(getmetatable(json.object()), getmetatable(json.object({})))
    assert.are_not.equal(getmetatable(json.array()), getmetatable(json.object()))
  end)

  it("refuse a non-table argument", function()
    assert.has_error(function() json.array(5) end)
    assert.has_error(function() json.object("x") end)
  end)

  -- Found by fuzzing: a failure inside a long escaped string (past Lua's buffer size) left a to-be-closed buffer
  -- for lua_settop to close, which made Lua 5.4.4 reuse freed stack memory.
  it("refuses a bad escape at the end of a long escaped string, and the state stays sound", function()
    local long = string.rep("a\\n", 600)
    for _ = 1, 50 do
      local ok, err = pcall(json.decode, '{"k":"' .. long .. '\\q"}')
      assert.is_false(ok)
      assert.matches("invalid escape in string", err, 1, true)
    end
    assert.are.same({ k = string.rep("a\n", 3) }, json.decode('{"k":"a\\na\\na\\n"}'))
    collectgarbage()
  end)
end)
