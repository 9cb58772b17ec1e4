-- Spec for stdlib/status.lua: what LogStatus puts in the status panel.
local status = require("status")

local function render(s)
  local text, warnings = status.render(s)
  assert.is_string(text)
  assert.is_table(warnings)
  return text, warnings
end

local function lines(s)
  local out = {}
  for l in (s .. "\n"):gmatch("(.-)\n") do out[#out + 1] = l end
  return out
end

local ORDERS = '{"type":"table","title":"Orders","cols":["Id","Side"],"rows":[[1,"buy"]]}'
local ORDERS_TEXT = [[
Orders
+----+------+
| Id | Side |
+----+------+
| 1  | buy  |
+----+------+]]

describe("LogStatus rendering", function()
  it("keeps plain text unchanged", function()
    local s = "Balance: 100 USDT\nPosition: none\n  indented line"
    local text, warnings = render(s)
    assert.are.equal(s, text)
    assert.are.same({}, warnings)
  end)

  it("renders one table with title, header and aligned columns", function()
    local text, warnings = render('`{"type":"table","title":"Strategy Running Status Monitor",'
      .. '"cols":["Live ID","Status","Last Update"],"rows":[[632799,"Running","2026-11-26 10:00:00"]]}`')
    assert.are.equal([[
Strategy Running Status Monitor
+---------+---------+---------------------+
| Live ID | Status  | Last Update         |
+---------+---------+---------------------+
| 632799  | Running | 2026-11-26 10:00:00 |
+---------+---------+---------------------+]], text)
    assert.are.same({}, warnings)
  end)

  it("aligns columns by terminal columns: Chinese and Japanese take two each, a combining mark none", function()
    local text = render('`{"type":"table","title":"Markets","cols":["Pair","Note"],'
      .. '"rows":[["BTC","═══"],["ETH","止损"],["SOL","ok"],["ADA","ｶﾅ"],["XRP","トレード"],["DOT","e\\u0301"]]}`')
    assert.are.equal([[
Markets
+------+----------+
| Pair | Note     |
+------+----------+
| BTC  | ═══      |
| ETH  | 止损     |
| SOL  | ok       |
| ADA  | ｶﾅ       |
| XRP  | トレード |
| DOT  | é        |
+------+----------+]], text)
    -- Every line takes the border's columns on a terminal (half-width katakana count one, box drawing one).
    local width = require("stratrun.log").width
    local ls = lines(text)
    for i = 3, #ls do assert.are.equal(#ls[2], width(ls[i]), ls[i]) end
    assert.are.equal(4, width("止损"))
    assert.are.equal(1, width("e\u{301}"))
    assert.are.equal(3, width("a\xff\xfe"))  -- an invalid byte is one replacement character
  end)

  it("stacks an array of tables one after another", function()
    local text, warnings = render('`[' .. ORDERS .. ',{"type":"table","title":"Fills","cols":["Id"],"rows":[[2]]}]`')
    assert.are.equal(ORDERS_TEXT .. "\n" .. [[
Fills
+----+
| Id |
+----+
| 2  |
+----+]], text)
    assert.are.same({}, warnings)
  end)

  it("stacks several segments and keeps the text between them", function()
    local text = render('Top\n`{"type":"table","cols":["A"],"rows":[["x"]]}`\nmiddle\n'
      .. '`{"type":"table","cols":["B"],"rows":[["y"]]}`\nend')
    assert.are.equal([[
Top
+---+
| A |
+---+
| x |
+---+
middle
+---+
| B |
+---+
| y |
+---+
end]], text)
  end)

  it("puts a table on lines of its own when text touches the backticks", function()
    local text = render('before `{"type":"table","cols":["A"],"rows":[["x"]]}` after')
    assert.are.equal("before \n+---+\n| A |\n+---+\n| x |\n+---+\n after", text)
  end)

  it("lets a colspan cell span several columns", function()
    local text = render('`{"type":"table","cols":["A","B","C"],'
      .. '"rows":[[{"body":"wide merged","colspan":2},"c"],["a","b","c"]]}`')
    assert.are.equal([[
+------+------+---+
| A    | B    | C |
+------+------+---+
| wide merged | c |
| a    | b    | c |
+------+------+---+]], text)
  end)

  it("shows a rowspan body once and leaves that column empty below", function()
    -- As in HTML, the rows below omit the cell the rowspan covers.
    local text = render('`{"type":"table","cols":["A","B","C"],'
      .. '"rows":[["a1",{"body":"B1+B2","rowspan":2},"c1"],["a2","c2"],["a3","b3","c3"]]}`')
    assert.are.equal([[
+----+-------+----+
| A  | B     | C  |
+----+-------+----+
| a1 | B1+B2 | c1 |
| a2 |       | c2 |
| a3 | b3    | c3 |
+----+-------+----+]], text)
  end)

  it("renders a button cell as [name]", function()
    local text = render('`{"type":"table","cols":["Pos","Action"],'
      .. '"rows":[["long",{"type":"button","cmd":"coverAll","name":"Close"}]]}`')
    assert.are.equal([[
+------+---------+
| Pos  | Action  |
+------+---------+
| long | [Close] |
+------+---------+]], text)
  end)

  it("formats numbers, booleans and null cells", function()
    local text = render('`{"type":"table","cols":["int","float","sum","yes","no","nil"],'
      .. '"rows":[[42,3.5,0.30000000000000004,true,false,null]]}`')
    assert.are.equal([[
+-----+-------+-----+------+-------+-----+
| int | float | sum | yes  | no    | nil |
+-----+-------+-----+------+-------+-----+
| 42  | 3.5   | 0.3 | true | false |     |
+-----+-------+-----+------+-------+-----+]], text)
  end)

  it("pads short rows and keeps long rows under an empty header", function()
    local text = render('`{"type":"table","cols":["A","B"],"rows":[["only"],["a","b","c"]]}`')
    assert.are.equal([[
+------+---+---+
| A    | B |   |
+------+---+---+
| only |   |   |
| a    | b | c |
+------+---+---+]], text)
  end)

  it("shows the header and an empty body for a table without rows", function()
    local text = render('`{"type":"table","title":"Empty","cols":["A","B"],"rows":[]}`')
    assert.are.equal("Empty\n+---+---+\n| A | B |\n+---+---+\n+---+---+", text)
  end)

  it("replaces newlines inside cells with spaces", function()
    local text = render('`{"type":"table","cols":["Msg"],"rows":[["line1\\nline2"]]}`')
    assert.are.equal("+-------------+\n| Msg         |\n+-------------+\n| line1 line2 |\n+-------------+", text)
  end)

  it("keeps a backtick inside a JSON string as part of the table", function()
    local text, warnings = render('`{"type":"table","cols":["Cmd"],"rows":[["a`b"]]}`')
    assert.are.equal("+-----+\n| Cmd |\n+-----+\n| a`b |\n+-----+", text)
    assert.are.same({}, warnings)
  end)

  it("keeps malformed JSON as its original text with one warning naming the segment", function()
    local bad = '`{"type":"table","cols":["A"],"rows":[["x"]}`'
    local text, warnings = render('`' .. ORDERS .. '`\n' .. bad)
    assert.are.equal(ORDERS_TEXT .. "\n" .. bad, text)
    assert.are.equal(1, #warnings)
    assert.matches("segment 2", warnings[1], 1, true)
    assert.matches("not valid JSON", warnings[1], 1, true)
    assert.matches("shown as text", warnings[1], 1, true)
    assert.is_nil(warnings[1]:find("\n", 1, true))
  end)

  it("keeps JSON that is not a table as text with a warning", function()
    local s = 'a `{"price":1}` b `[1,2]` c'
    local text, warnings = render(s)
    assert.are.equal(s, text)
    assert.are.equal(2, #warnings)
    assert.matches("segment 1 is not a table", warnings[1], 1, true)
    assert.matches("segment 2 is not a table", warnings[2], 1, true)
  end)

  it("warns when a table's cols is not an array", function()
    local s = '`{"type":"table","cols":"A,B","rows":[["a","b"]]}`'
    local text, warnings = render(s)
    assert.are.equal(s, text)
    assert.are.equal(1, #warnings)
    assert.matches("cols", warnings[1], 1, true)
    assert.matches("segment 1", warnings[1], 1, true)
  end)

  it("keeps backtick segments that are not JSON as text without a warning", function()
    local s = "run `main.lua` with `--live`"
    local text, warnings = render(s)
    assert.are.equal(s, text)
    assert.are.same({}, warnings)
  end)

  it("keeps an unpaired backtick unchanged without a warning", function()
    local s = 'price `{"type":"table","cols":["A"]'
    local text, warnings = render(s)
    assert.are.equal(s, text)
    assert.are.same({}, warnings)
  end)

  it("renders a 10x10 table: title, header block, ten rows, bottom border", function()
    local cols, rows = {}, {}
    for c = 1, 10 do cols[c] = '"col' .. c .. '"' end
    for r = 1, 10 do
      local row = {}
      for c = 1, 10 do row[c] = tostring(r * 1000 + c + 0.25) end
      rows[r] = "[" .. table.concat(row, ",") .. "]"
    end
    local s = '`{"type":"table","title":"Grid","cols":[' .. table.concat(cols, ",")
      .. '],"rows":[' .. table.concat(rows, ",") .. ']}`'
    assert.are.equal(1 + 3 + 10 + 1, #lines((render(s))))  -- title, header block, rows, bottom border
  end)

  -- Another bot's table must not make the renderer allocate or loop without bound (found by fuzzing).
  it("bounds a colspan to 64 columns, whatever the table asks (1e9, 1e400, NaN)", function()
    for _, span in ipairs({ "1000000000", '"1e400"', '"nan"' }) do
      local out, warnings = render('`{"type":"table","cols":["A"],"rows":[[{"body":"x","colspan":' .. span .. '}]]}`')
      assert.are.same({}, warnings)
      local width = 0
      for _, l in ipairs(lines(out)) do width = math.max(width, #l) end
      assert.is_true(width <= 64 * 4 + 4, "row of " .. width .. " characters for colspan " .. span)
    end
  end)
end)
