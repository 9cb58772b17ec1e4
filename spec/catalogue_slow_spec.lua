-- The bad-input catalogue's slow check (the slow tier of ctest, CMakeLists.txt): its drivers fail a row whose
-- expected outcome is not what happens. It runs 18 rows' real processes again, about 20 s, so it lives apart from
-- the rows themselves, which catalogue_spec.lua runs; the table and the drivers are that file's.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = here .. "?.lua;" .. package.path
local h = require("helpers")
-- (loaded in this file's environment, where busted's assert is)
local catalogue = assert(loadfile(here .. "catalogue_spec.lua", "t", _ENV))("drivers")
local CATALOGUE, DRIVERS, backends = catalogue.CATALOGUE, catalogue.DRIVERS, catalogue.backends

describe("the bad-input catalogue", function()
  after_each(function() h.kill_all(catalogue.running) end)

  -- A row whose expectation is wrong must fail: for every entry point and every kind of outcome it has, one row
  -- with its outcome changed makes the driver raise.
  it("fails a row whose outcome is not what happens, for every entry point and kind of outcome", function()
    local KINDS = {"refused", "skipped", "raises", "damaged", "fails", "ok", "taken", "stored", "warns", "loads",
                   "prints", "ignored", "followed"}
    local flipped, order = {}, {}
    -- (the channel folder rows describe what their drivers assert; they have no outcome field to change)
    for _, r in ipairs(CATALOGUE) do
      local kind
      for _, k in ipairs(KINDS) do if r[k] ~= nil then kind = kind or k end end
      local key = r.where .. " / " .. tostring(kind)
      if kind and not flipped[key] and not r.make and r.where ~= "channel folder" then
        local w = {}
        for k, v in pairs(r) do w[k] = v end
        for _, k in ipairs({"refused", "skipped", "raises", "damaged", "fails"}) do
          if w[k] then w[k] = "a message no input gets" end
        end
        for _, k in ipairs({"ok", "taken", "stored", "loads", "prints"}) do
          if w[k] then w[k] = "something else" end
        end
        if w.warns then w.warns = {"a warning that never comes"} end
        if w.ignored then w.ignored, w.skipped = nil, "a warning that never comes" end
        if w.followed then w.followed, w.refused = nil, "a refusal that never comes" end
        flipped[key] = w
        order[#order + 1] = key
      end
    end
    for _, key in ipairs(order) do
      local w = flipped[key]
      assert.is_false(pcall(DRIVERS[w.where], w, backends(w)[1] or nil), key .. ": passed a wrong row")
    end
    assert.are.equal(18, #order, table.concat(order, ", "))
  end)

  -- The control of the test above, since this file runs the drivers in an environment of its own: a row as the
  -- catalogue has it passes its driver here too.
  it("passes a row whose outcome is what happens", function()
    local r = CATALOGUE[1]
    local ok, err = pcall(DRIVERS[r.where], r, backends(r)[1] or nil)
    assert.is_true(ok, tostring(err))
  end)
end)
