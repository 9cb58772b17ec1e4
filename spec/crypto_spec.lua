-- Spec for the platform's hashing and encoding globals (runtime/lua/crypto.c): Encode and MD5, through real stratrun
-- processes. The expected values were computed apart from stratrun: `printf abc | openssl dgst -NAME`,
-- sha256sum, b2sum, Python's hashlib, hmac and base64, and the RFC 2202 and RFC 4231 HMAC test cases.
local h = require("helpers")

-- Runs text as a bot in a new folder; returns {code, out, err}.
local function run(text)
  return h.run_bot(text)
end

local function hex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

-- Calls fn (default "Encode") once per argument list in calls ({...} with n = count when an argument is nil; a table
-- argument is passed as an empty table), all in one stratrun process. Returns one {ok, value} per call: the result,
-- or the error line.
local function call_all(calls, fn)
  local lines = {
    "local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end"
  }
  for i, args in ipairs(calls) do
    local lits = {}
    for j = 1, args.n or #args do
      local a = args[j]
      lits[j] = a == nil and "nil" or type(a) == "table" and "{}" or string.format("%q", a)
    end
    lines[#lines + 1] = string.format("do local ok, v = pcall(%s, %s); print(%d, ok, ok and hex(v) or v) end",
      fn or "Encode", table.concat(lits, ", "), i)
  end
  local r = run(table.concat(lines, "\n"))
  assert.are.equal(0, r.code, r.err)
  local results = {}
  for i, ok, v in r.out:gmatch("(%d+)\t(%a+)\t([^\n]*)") do
    local raw = ok == "true" and v:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end) or v
    results[tonumber(i)] = { ok = ok == "true", value = raw }
  end
  assert.are.equal(#calls, #results, r.out)
  return results
end

-- Checks each case {args..., expect = result} or {args..., fails = error line}.
local function check(cases, fn)
  local results = call_all(cases, fn)
  for i, case in ipairs(cases) do
    local got = results[i]
    local what = (fn or "Encode") .. " case " .. i .. " (" .. tostring(case[1]) .. ")"
    if case.fails then
      assert.are.equal(case.fails, got.value, what)
      assert.is_false(got.ok, what)
    else
      assert.is_true(got.ok, what .. ": " .. got.value)
      assert.are.equal(case.expect, got.value, what)
    end
  end
end

local all_bytes = {}
for i = 0, 255 do all_bytes[#all_bytes + 1] = string.char(i) end
all_bytes = table.concat(all_bytes)
-- python3 -c 'import base64; print(base64.b64encode(bytes(range(256))).decode())'
local all_bytes_base64 =
  "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0BBQkNERUZHSElK" ..
  "S0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6PkJGSk5SV" ..
  "lpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t/g" ..
  "4eLj5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/w=="

describe("Encode", function()
  it("gives what the platform's own examples say, a key with \"raw\" ignored and an empty keyFormat meaning no key", function()
    -- api.en.md's values: the HMAC-SHA256 of "example" with the key "123", and the plain SHA-256 of "example"
    local keyed = "698d54f0494528a759f19c8e87a9f99e75a5881b9267ee3926bcf62c992d84ba"
    local plain = "50d858e0985ecc7f60418aaf0cc5ab587f42c2570a884095a9e8ccacd0f6545c"
    check{
      { "raw", "raw", "hex", "example", "raw", "123", expect = "6578616d706c65" },
      { "raw", "raw", "hex", "example", expect = "6578616d706c65" },
      { "raw", "raw", "hex", "example", "", "", expect = "6578616d706c65" },
      { "sha256", "raw", "hex", "example", "raw", "123", expect = keyed },
      { "sha256", "raw", "hex", "example", "", "123", expect = plain },
      { "sha256", "raw", "hex", "example", nil, "123", n = 6, expect = plain },
      { "sha256", "raw", "hex", "example", "string", "123", expect = keyed },
      { "sha256", "raw", "hex", "example", "hex", "313233", expect = keyed },
      { "sha256", "raw", "hex", "example", "base64", "MTIz", expect = keyed },
      { "raw", "raw", "hex", "123", expect = "313233" },
      { "raw", "raw", "base64", "123", expect = "MTIz" },
      { "text.encoder.utf8", "raw", "hex", "你好", expect = "e4bda0e5a5bd" },
      { "text.decoder.utf8", "hex", "string", "e4bda0e5a5bd", expect = "你好" },
      { "text.encoder.gbk", "raw", "hex", "你好", expect = "c4e3bac3" },
      { "text.decoder.gbk", "hex", "string", "c4e3bac3", expect = "你好" },
      -- fmz.d.ts's examples
      { "hmac_sha256", "string", "hex", "message", "string", "secret",
        expect = "8b5f48702995c1598c573db1e21866a9b825d4a794d169d7060a03605796360b" },
      { "sha256", "string", "hex", "hello", expect = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" },
    }
  end)

  it("hashes with each algorithm, in hex, base64 or raw bytes", function()
    local sha256_abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    local sha1_abc = "\xa9\x99\x3e\x36\x47\x06\x81\x6a\xba\x3e\x25\x71\x78\x50\xc2\x6c\x9c\xd0\xd8\x9d"
    check{
      { "md5", "raw", "hex", "abc", expect = "900150983cd24fb0d6963f7d28e17f72" },
      { "sha1", "raw", "hex", "abc", expect = "a9993e364706816aba3e25717850c26c9cd0d89d" },
      { "sha256", "raw", "hex", "abc", expect = sha256_abc },
      { "sha512", "raw", "hex", "abc", expect = "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a" ..
        "274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f" },
      { "sha512.384", "raw", "hex", "abc", expect = "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086" ..
        "072ba1e7cc2358baeca134c825a7" },
      { "sha512.256", "raw", "hex", "abc", expect = "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23" },
      { "sha512.224", "raw", "hex", "abc", expect = "4634270f707b6a54daae7530460842e20e37ed265ceee9a43e8924aa" },
      { "sha3.224", "raw", "hex", "abc", expect = "e642824c3f8cf24ad09234ee7d3c766fc9a3a5168d0c94ad73b46fdf" },
      { "sha3.256", "raw", "hex", "abc", expect = "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532" },
      { "sha3.384", "raw", "hex", "abc", expect = "ec01498288516fc926459f58e2c6ad8df9b473cb0fc08c2596da7cf0e49be4b298d88cea" ..
        "927ac7f539f1edf228376d25" },
      { "sha3.512", "raw", "hex", "abc", expect = "b751850b1a57168a5693cd924b6b096e08f621827444f70d884f5d0240d2712e10e116e9" ..
        "192af3c91a7ec57647e3934057340b4cf408d5a56592f8274eec53f0" },
      { "ripemd160", "raw", "hex", "abc", expect = "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc" },
      { "blake2b.512", "raw", "hex", "abc", expect = "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5" ..
        "392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923" },
      { "blake2s.256", "raw", "hex", "abc", expect = "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982" },
      -- the output formats: "string" is "raw", Lua strings being bytes
      { "sha256", "string", "base64", "abc", expect = "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=" },
      { "sha1", "raw", "raw", "abc", expect = sha1_abc },
      { "sha1", "raw", "string", "abc", expect = sha1_abc },
      -- data given as hex (either case) or base64 is decoded first
      { "sha256", "hex", "hex", "616263", expect = sha256_abc },
      { "sha256", "hex", "hex", "6A6B", expect = "31b25869b39f1baa9e7fc279255901b696c36629e57294d4455f479534139852" },
      { "sha256", "base64", "hex", "YWJj", expect = sha256_abc },
      { "md5", "raw", "hex", "", expect = "d41d8cd98f00b204e9800998ecf8427e" },
    }
  end)

  it("makes an HMAC when given a key: RFC 2202 and RFC 4231 cases, hmac_ names, keys in every format", function()
    local jefe = "what do ya want for nothing?"
    local jefe256 = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    check{
      -- RFC 4231 test case 1: a 20-byte key of 0x0b
      { "sha256", "string", "hex", "Hi There", "hex", string.rep("0b", 20),
        expect = "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
      { "sha512.384", "string", "hex", "Hi There", "hex", string.rep("0b", 20),
        expect = "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6" },
      { "hmac_sha512", "string", "hex", "Hi There", "hex", string.rep("0b", 20),
        expect = "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4" ..
          "be9d914eeb61f1702e696c203a126854" },
      -- RFC 4231 test case 2, the key in each format
      { "sha256", "string", "hex", jefe, "string", "Jefe", expect = jefe256 },
      { "sha256", "string", "hex", jefe, "raw", "Jefe", expect = jefe256 },
      { "sha256", "string", "hex", jefe, "hex", "4a656665", expect = jefe256 },
      { "sha256", "string", "hex", jefe, "base64", "SmVmZQ==", expect = jefe256 },
      { "sha256", "string", "hex", jefe, "base64", "SmVmZQ", expect = jefe256 },
      { "hmac_sha256", "string", "hex", jefe, "string", "Jefe", expect = jefe256 },
      -- RFC 4231 test case 6: a key longer than SHA-256's block is hashed first
      { "hmac_sha256", "string", "hex", "Test Using Larger Than Block-Size Key - Hash Key First", "hex", string.rep("aa", 131),
        expect = "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" },
      -- RFC 2202
      { "hmac_md5", "string", "hex", jefe, "string", "Jefe", expect = "750c783e6ab0b503eaa86e310a5db738" },
      { "hmac_sha1", "string", "hex", jefe, "string", "Jefe", expect = "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79" },
      -- other hashes (Python's hmac): binary key and data, an empty key
      { "hmac_sha3.256", "raw", "hex", "d\0t\0", "raw", "k\0y", expect = "4d0b424ed627728d451edcf8f926383bc637cf834fd66766b1b062c53d88b8bd" },
      { "blake2b.512", "string", "hex", jefe, "string", "Jefe", expect = "6ff884f8ddc2a6586b3c98a4cd6ebdf14ec10204b6710073eb5865ad" ..
        "e37a2643b8807c1335d107ecdb9ffeaeb6828c4625ba172c66379efcd222c2de11727ab4" },
      { "sha256", "raw", "hex", "", "string", "", expect = "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad" },
      { "hmac_sha256", "raw", "base64", "message", "string", "secret", expect = "i19IcCmVwVmMVz2x4hhmqbgl1KeU0WnXBgoDYFeWNgs=" },
    }
  end)

  it("is binary-safe: zero bytes and all 256 byte values go through raw, hex and base64 unchanged", function()
    check{
      { "raw", "raw", "hex", all_bytes, expect = hex(all_bytes) },
      { "raw", "raw", "base64", all_bytes, expect = all_bytes_base64 },
      { "raw", "base64", "raw", all_bytes_base64, expect = all_bytes },
      { "raw", "hex", "raw", hex(all_bytes):upper(), expect = all_bytes },
      { "raw", "hex", "base64", "0000ff", expect = "AAD/" },
      { "raw", "raw", "base64", "\0", expect = "AA==" },
      { "raw", "raw", "base64", "\0\1", expect = "AAE=" },
      { "raw", "base64", "hex", "AA==", expect = "00" },
      { "raw", "base64", "hex", "AA", expect = "00" },
      { "raw", "base64", "hex", "AAE", expect = "0001" },
      { "raw", "base64", "hex", "", expect = "" },
      { "raw", "hex", "base64", "", expect = "" },
      { "sha256", "raw", "hex", all_bytes, expect = "40aff2e9d2d8922e47afd4648e6967497158785fbd1da870e7110266bf944880" },
      { "md5", "raw", "hex", "a\0b", expect = "70350f6027bce3713f6b76473084309b" },
    }
  end)

  it("computes Keccak, MD4 and the short BLAKE2s where this OpenSSL has them, and otherwise says why not", function()
    -- OpenSSL 3.0 and 3.1 lack Keccak and the short BLAKE2s; MD4 is in the legacy provider, loaded only if
    -- openssl.cnf loads it. Each either gives the right value or refuses in one line, never a wrong value.
    local cases = {
      { "keccak256", "raw", "hex", "", expect = "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470",
        why = "^Encode: algo 'keccak256' needs OpenSSL's KECCAK%-256, which this OpenSSL %([%d.]+%) does not have: " ..
          "Keccak %(Ethereum's hash, not SHA%-3%) is in OpenSSL 3%.2 and later$" },
      { "sha3.keccak256", "raw", "hex", "", expect = "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470",
        why = "^Encode: algo 'sha3.keccak256' needs OpenSSL's KECCAK%-256, which" },
      { "blake2b.256", "raw", "hex", "abc", expect = "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319",
        why = "^Encode: algo 'blake2b.256' needs BLAKE2B%-512 with a 32%-byte output, which this OpenSSL %([%d.]+%) " ..
          "cannot give: shorter BLAKE2 outputs need OpenSSL 3%.2 or later$" },
      { "blake2s.128", "raw", "hex", "abc", expect = "aa4938119b1dc7b87cbad0ffd200d0ae",
        why = "^Encode: algo 'blake2s.128' needs BLAKE2S%-256 with a 16%-byte output, which" },
      { "md4", "raw", "hex", "abc", expect = "a448017aaf21d8525fc10ae87aa6729d",
        why = "^Encode: algo 'md4' needs OpenSSL's MD4, which this OpenSSL %([%d.]+%) does not have: MD4 is only in " ..
          "OpenSSL's legacy provider, which stratrun does not load$" },
    }
    local results = call_all(cases)
    for i, case in ipairs(cases) do
      if results[i].ok then
        assert.are.equal(case.expect, results[i].value, case[1])
      else
        assert.truthy(results[i].value:match(case.why), results[i].value)
      end
    end
  end)

  it("converts text with the platform's codecs, and names the first byte that does not convert", function()
    check{
      { "text.encoder.gbk", "string", "hex", "价格 BTC", expect = "bcdbb8f120425443" },
      { "text.decoder.gbk", "base64", "string", "xOO6ww==", expect = "你好" },
      { "text.encoder.utf8", "string", "raw", "a\0b", expect = "a\0b" },
      { "text.encoder.utf8", "raw", "hex", "ok\xff", fails = "Encode: text.encoder.utf8: data is not UTF-8 text at byte 3" },
      { "text.decoder.utf8", "hex", "string", "e4bd", fails = "Encode: text.decoder.utf8: data is not UTF-8 text at byte 1" },
      { "text.encoder.gbk", "raw", "hex", "a\u{1F600}", fails = "Encode: text.encoder.gbk: data is not UTF-8 text that " ..
        "GBK can hold at byte 2" },
      { "text.decoder.gbk", "hex", "string", "41c4", fails = "Encode: text.decoder.gbk: data is not GBK text at byte 2" },
      -- a key means nothing to a codec, as to "raw": the platform ignores it
      { "text.encoder.utf8", "raw", "hex", "a", "string", "k", expect = "61" },
    }
  end)

  it("refuses bad arguments in one line naming the argument, the value and what is allowed", function()
    local algos = "raw, md4, md5, sha1, sha256, sha512, sha512.384, sha512.256, sha512.224, sha3.224, sha3.256, sha3.384, " ..
      "sha3.512, keccak256, sha3.keccak256, sha3.keccak512, ripemd160, blake2b.256, blake2b.512, blake2s.128, blake2s.256, " ..
      "text.encoder.utf8, text.decoder.utf8, text.encoder.gbk, text.decoder.gbk, or hmac_ and a hash (hmac_sha256)"
    check{
      { "sha999", "raw", "hex", "x", fails = "Encode: algo 'sha999' is not one of " .. algos },
      { "SHA256", "raw", "hex", "x", fails = "Encode: algo 'SHA256' is not one of " .. algos },
      { "hmac_raw", "raw", "hex", "x", "string", "k", fails = "Encode: algo 'hmac_raw' is not one of " .. algos },
      { "ed25519.seed", "raw", "hex", "x", fails = "Encode: algo 'ed25519.seed' is the platform's, but stratrun does not " ..
        "provide it: stratrun's Encode hashes, makes HMACs, converts formats and text" },
      { "signTx", "raw", "hex", "x", fails = "Encode: algo 'signTx' is the platform's, but stratrun does not provide it: " ..
        "stratrun's Encode hashes, makes HMACs, converts formats and text" },
      { nil, "raw", "hex", "x", n = 4, fails = "Encode: algo must be a string, not nil" },
      { "sha256\0x", "raw", "hex", "x", fails = "Encode: algo 'sha256' is followed by a zero byte, which no name has" },
      { "sha256", "utf8", "hex", "x", fails = "Encode: inputFormat 'utf8' is not one of raw, string, hex, base64" },
      { "sha256", "raw", "HEX", "x", fails = "Encode: outputFormat 'HEX' is not one of raw, string, hex, base64" },
      { "sha256", "raw", 16, "x", fails = "Encode: outputFormat must be a string, not number" },
      { "sha256", "raw", "hex", "x", "text", "k", fails = "Encode: keyFormat 'text' is not one of raw, string, hex, base64" },
      { "raw", "raw", "hex", "x", "text", "k", fails = "Encode: keyFormat 'text' is not one of raw, string, hex, base64" },
      { "sha256", "raw", "hex", "x", "string", nil, n = 6, fails = "Encode: keyFormat 'string' names a key, but key is " ..
        "nil (give no keyFormat to hash without one)" },
      { "sha256", "raw", "hex", nil, n = 4, fails = "Encode: data must be a string, not nil" },
      { "hmac_sha256", "raw", "hex", "x", fails = "Encode: algo 'hmac_sha256' is an HMAC and needs a key: give keyFormat " ..
        "and key" },
      { "blake2b.256", "raw", "hex", "x", "string", "k", fails = "Encode: algo 'blake2b.256' with a key is not provided: " ..
        "OpenSSL's HMAC cannot shorten BLAKE2's output (blake2b.512 and blake2s.256 can have a key)" },
      -- data and keys that are not what their format says
      { "sha256", "hex", "hex", "abz1", fails = "Encode: data is not hex: byte 3 is 'z', not one of 0-9 a-f A-F" },
      { "sha256", "hex", "hex", "ab\n", fails = "Encode: data is not hex: byte 3 is 0x0a, not one of 0-9 a-f A-F" },
      { "sha256", "hex", "hex", "abc", fails = "Encode: data is not hex: it has an odd number of digits, 3" },
      { "sha256", "base64", "hex", "ab-_", fails = "Encode: data is not base64: byte 3 is '-', not one of A-Z a-z 0-9 + / " ..
        "(and '=' at the end)" },
      { "sha256", "base64", "hex", "YW Jj", fails = "Encode: data is not base64: byte 3 is ' ', not one of A-Z a-z 0-9 + / " ..
        "(and '=' at the end)" },
      { "sha256", "base64", "hex", "Y=Jj", fails = "Encode: data is not base64: byte 2 is '=', not one of A-Z a-z 0-9 + / " ..
        "(and '=' at the end)" },
      { "sha256", "base64", "hex", "YWJjZ", fails = "Encode: data is not base64: its last group has 1 character, which " ..
        "holds no byte" },
      { "sha256", "base64", "hex", "YQ===", fails = "Encode: data is not base64: it ends in 3 '=', where padding is at most 2" },
      { "sha256", "base64", "hex", "YWJjYQ=", fails = "Encode: data is not base64: padded, it must be a multiple of 4 " ..
        "characters, not 7" },
      { "sha256", "raw", "hex", "x", "hex", "4a6", fails = "Encode: key is not hex: it has an odd number of digits, 3" },
      { "sha256", "raw", "hex", "x", "base64", "S*", fails = "Encode: key is not base64: byte 2 is '*', not one of A-Z a-z " ..
        "0-9 + / (and '=' at the end)" },
    }
  end)

  it("takes at most 64 MiB of data or key, and refuses more in one line", function()
    local r = run([[
      local max = 64 * 1024 * 1024
      print("max", Encode("sha256", "raw", "hex", string.rep("a", max)))
      print(pcall(Encode, "raw", "raw", "hex", string.rep("a", max + 1)))
      print(pcall(Encode, "sha256", "raw", "hex", "x", "raw", string.rep("k", max + 1)))
      print(pcall(MD5, string.rep("a", max + 1)))
    ]])
    assert.are.equal(0, r.code, r.err)
    -- python3 -c 'import hashlib; print(hashlib.sha256(b"a" * (64 << 20)).hexdigest())'
    assert.truthy(r.out:find("max\tfae972222d455a2eaee1661ad9625502ec3bfc5ec38b87a6eec5afd5107331b5\n", 1, true), r.out)
    assert.truthy(r.out:find("false\tEncode: data is 67108865 bytes, more than the 64 MiB (67108864 bytes) allowed\n", 1, true), r.out)
    assert.truthy(r.out:find("false\tEncode: key is 67108865 bytes, more than the 64 MiB (67108864 bytes) allowed\n", 1, true), r.out)
    assert.truthy(r.out:find("false\tMD5: data is 67108865 bytes, more than the 64 MiB (67108864 bytes) allowed\n", 1, true), r.out)
  end)
end)

describe("MD5", function()
  it("returns the lower-case hex MD5 of a string's bytes, as the platform's example says", function()
    check({
      { "hello world", expect = "5eb63bbbe01eeed093cb22bb8f5acdc3" },
      { "", expect = "d41d8cd98f00b204e9800998ecf8427e" },
      { "a\0b", expect = "70350f6027bce3713f6b76473084309b" },
      -- a number is hashed as Lua writes it, as Lua's string functions take one
      { 123, expect = "202cb962ac59075b964b07152d234b70" },
      { {}, fails = "MD5: data must be a string, not table" },
      { nil, n = 1, fails = "MD5: data must be a string, not nil" },
    }, "MD5")
  end)
end)

describe("HMAC", function()
  it("is not a global: the platform documents only exchange.HMAC", function()
    local r = run([[print(type(HMAC), type(Encode), type(MD5))]])
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("nil\tfunction\tfunction\n", r.out)
  end)
end)
