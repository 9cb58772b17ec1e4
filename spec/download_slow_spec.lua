-- The slow cases of `stratrun data download` (spec/download_spec.lua has the rest; docs/tools.md): a venue that
-- answers every request with HTTP 429 is waited out as it asks, ten times in a row for one page, then given up.
local h = require("helpers")
local httpd = require("httpd")

describe("stratrun data download, slowly", function()
  it("gives up a page after ten 429s in a row, each waited out as the venue asked, and writes nothing", function()
    local srv, dir = httpd.start(), h.tmpdir()
    srv:put("/api/v3/klines", "", { "status 429", "header Retry-After: 1" })
    local r = h.run { dir = dir, timeout = 60, "data", "download", "--market", "rest:" .. srv.base, "--symbol",
                      "BTC_USDT", "--from", "2024-01-01", "--to", "2024-01-02", "out.csv" }
    assert.are.equal(1, r.code, r.err)
    local err = h.lines(r.err)
    assert.are.equal(11, #err, r.err)
    for i = 1, 10 do
      assert.are.equal("stratrun data download: the venue answered HTTP 429 Too Many Requests: waiting 1 s (its "
        .. "Retry-After)", err[i])
    end
    assert.truthy(err[11]:find("^stratrun data download: GET http://127%.0%.0%.1:%d+/api/v3/klines%?[^ ]+: the venue "
      .. "answered HTTP 429 to 10 requests in a row, each after the wait it asked for; try again after "), err[11])
    assert.are.equal(11, #srv:requests())
    assert.is_false(h.exists(dir .. "/out.csv"))
  end)
end)
