-- status: renders the string passed to LogStatus as the plain-text status panel.
--
-- status.render(s) -> text, warnings, blocks
--   Text outside backticks is kept as is. A backtick segment whose content starts with '{' or '[' is read as
--   JSON: a {type="table", title, cols, rows} object, or an array of them (tabs on the hosted platform,
--   stacked here), is drawn as an ASCII grid with columns aligned by terminal columns (CJK counts two). Anything else
--   stays as its original text; segments that looked like tables but could not be drawn also add a one-line
--   warning. Cells follow the HTML table model of the hosted platform: a {body, colspan} cell takes the
--   place of n cells of its row, and a {body, rowspan} cell makes the rows below skip that column.
--   blocks is the same as the dashboard draws it (docs/dashboard.md): a JSON array of {text = ...} and
--   {table = {title, cols, rows}}, each row the cells that start there ({text, colspan, rowspan[, cmd, name]}).

local json = require("json")

local M = {}

local EXCERPT = 40  -- bytes of a segment quoted in a warning

local concat, rep, format = table.concat, string.rep, string.format

-- Terminal columns: CJK and other East Asian wide characters take two, combining marks none (C: core/termtext.c).
local width = require("stratrun.log").width

-- One line per row is the whole point of the grid, so embedded line breaks become spaces.
local function flatten(s)
  if s:find("[\r\n]") then s = s:gsub("\r\n", " "):gsub("[\r\n]", " ") end
  return s
end

local function is_array(v)
  if type(v) ~= "table" then return false end
  local n, count = #v, 0
  for _ in pairs(v) do count = count + 1 end
  -- An empty object counts too: json.encode turns an empty Lua table into {}, so cols={} / rows={} arrive so.
  return count == n
end

local function number_text(v)
  if math.type(v) == "integer" then return format("%d", v) end
  if v ~= v then return "nan" end
  return format("%.14g", v)  -- hides binary noise such as 0.30000000000000004
end

local cell_text

local function object_text(v)
  if v.type == "button" then
    return "[" .. cell_text(v.name or v.cmd) .. "]"
  end
  if v.body ~= nil or v.colspan ~= nil or v.rowspan ~= nil then
    return cell_text(v.body)
  end
  local ok, s = pcall(json.encode, v)
  return ok and s or ""
end

-- Null renders empty, the same as an object member whose value was null (the decoder drops those).
cell_text = function(v)
  local t = type(v)
  if t == "string" then return flatten(v) end
  if t == "number" then return number_text(v) end
  if t == "boolean" then return tostring(v) end
  if v == nil or v == json.null then return "" end
  if t == "table" then return object_text(v) end
  return flatten(tostring(v))
end

-- A span is a whole number from 1 to MAX_SPAN: another bot's table must not make the renderer allocate or loop
-- without bound (a colspan of 1e9, or of inf).
local MAX_SPAN = 64

local function span_of(v, key)
  if type(v) ~= "table" then return 1 end
  local n = tonumber(v[key])
  if not n or n ~= n or n < 1 then return 1 end
  return math.tointeger(math.floor(math.min(n, MAX_SPAN)))
end

-- Lays the rows out on a grid. Returns grid[r][c] = {text=, span=} for each cell that starts at column c,
-- and the number of columns used. Rows below a rowspan get an empty cell of the same width there.
local function place_rows(rows)
  local grid, taken, ncols = {}, {}, 0
  local nrows = #rows
  for r = 1, nrows do
    grid[r] = grid[r] or {}
    taken[r] = taken[r] or {}
  end
  for r = 1, nrows do
    local row = rows[r]
    if not is_array(row) then row = { row } end  -- a bare value or object is a one-cell row
    local cells, occ, c = grid[r], taken[r], 1
    for i = 1, #row do
      local v = row[i]
      while occ[c] do c = c + 1 end
      local span, down = span_of(v, "colspan"), span_of(v, "rowspan")
      -- Never overlap a column a rowspan above already holds.
      for k = 1, span - 1 do
        if occ[c + k] then span = k; break end
      end
      if r + down - 1 > nrows then down = nrows - r + 1 end
      local cell = { text = cell_text(v), span = span, down = down }
      if type(v) == "table" and v.type == "button" and (type(v.cmd) == "string" or type(v.cmd) == "number") then
        cell.cmd = type(v.cmd) == "number" and number_text(v.cmd) or v.cmd
        cell.name = cell_text(v.name or v.cmd)
      end
      cells[c] = cell
      for rr = r, r + down - 1 do
        local o = taken[rr]
        for cc = c, c + span - 1 do o[cc] = true end
        if rr > r then grid[rr][c] = { text = "", span = span, cont = true } end
      end
      c = c + span
      if c - 1 > ncols then ncols = c - 1 end
    end
  end
  -- Rowspans can reach past a short row's last cell.
  for r = 1, nrows do
    for c in pairs(grid[r]) do
      local last = c + grid[r][c].span - 1
      if last > ncols then ncols = last end
    end
  end
  return grid, ncols
end

local function column_widths(header, grid, ncols)
  local w = {}
  for c = 1, ncols do w[c] = width(header[c]) end
  local spans = {}
  for r = 1, #grid do
    for c, cell in pairs(grid[r]) do
      cell.width = width(cell.text)
      if cell.span == 1 then
        if cell.width > w[c] then w[c] = cell.width end
      else
        spans[#spans + 1] = { c = c, cell = cell }
      end
    end
  end
  -- A spanning cell wider than its columns plus the separators between them widens those columns evenly.
  for _, s in ipairs(spans) do
    local n, c = s.cell.span, s.c
    local have = 3 * (n - 1)
    for k = c, c + n - 1 do have = have + w[k] end
    local short = s.cell.width - have
    if short > 0 then
      local each, extra = short // n, short % n
      for k = 0, n - 1 do
        w[c + k] = w[c + k] + each + (k >= n - extra and 1 or 0)
      end
    end
  end
  return w
end

local function pad(s, n)
  local gap = n - width(s)
  if gap <= 0 then return s end
  return s .. rep(" ", gap)
end

local function border(w)
  local parts = {}
  for c = 1, #w do parts[c] = rep("-", w[c] + 2) end
  return "+" .. concat(parts, "+") .. "+"
end

local function line(cells, w)
  local parts, c = {}, 1
  while c <= #w do
    local cell = cells[c]
    local span, text = 1, ""
    if cell then span, text = cell.span, cell.text end
    local cw = 3 * (span - 1)
    for k = c, c + span - 1 do cw = cw + w[k] end
    parts[#parts + 1] = pad(text, cw)
    c = c + span
  end
  return "| " .. concat(parts, " | ") .. " |"
end

-- The table as the dashboard draws it (docs/dashboard.md): its title, header cells, and per row the cells that start
-- there, each {text, colspan, rowspan} and, for a button, cmd and name.
local function table_block(title, header, grid, ncols)
  local rows = {}
  for r = 1, #grid do
    local row = {}
    for c = 1, ncols do
      local cell = grid[r][c]
      if cell and not cell.cont then
        row[#row + 1] = { text = cell.text, colspan = cell.span, rowspan = cell.down, cmd = cell.cmd, name = cell.name }
      end
    end
    rows[r] = json.array(row)
  end
  return { table = { title = title, cols = json.array(header), rows = json.array(rows) } }
end

local function render_table(t)
  local rows = t.rows or {}
  local grid, ncols = place_rows(rows)
  local header = {}
  for c = 1, #t.cols do header[c] = cell_text(t.cols[c]) end
  if #t.cols > ncols then ncols = #t.cols end
  for c = #t.cols + 1, ncols do header[c] = "" end

  local out, title = {}, nil
  if t.title ~= nil then
    title = cell_text(t.title)
    if title ~= "" then out[1] = title else title = nil end
  end
  if ncols == 0 then return concat(out, "\n"), table_block(title, {}, {}, 0) end

  local w = column_widths(header, grid, ncols)
  local hcells = {}
  for c = 1, ncols do hcells[c] = { text = header[c], span = 1 } end
  local b = border(w)
  out[#out + 1] = b
  out[#out + 1] = line(hcells, w)
  out[#out + 1] = b
  for r = 1, #grid do out[#out + 1] = line(grid[r], w) end
  out[#out + 1] = b
  return concat(out, "\n"), table_block(title, header, grid, ncols)
end

-- Returns nil when t is a drawable table, else what is wrong with it.
local function table_problem(t, label)
  if type(t) ~= "table" or is_array(t) and next(t) ~= nil then
    return label .. " is not a table object"
  end
  if t.type ~= "table" then
    return label .. (t.type == nil and " has no type \"table\"" or " has type " .. cell_text(t.type) .. ", not \"table\"")
  end
  if not is_array(t.cols) then return label .. " has cols that is not an array" end
  if t.rows ~= nil and not is_array(t.rows) then return label .. " has rows that is not an array" end
  return nil
end

-- Returns the list of tables the decoded value holds, or nil and the reason it holds none.
local function tables_of(v)
  if type(v) == "table" and v.type == nil and is_array(v) then
    for i = 1, #v do
      local why = table_problem(v[i], "element " .. i)
      if why then return nil, why end
    end
    return v
  end
  if type(v) ~= "table" then
    return nil, "it is a " .. (v == json.null and "null" or type(v)) .. ", not a table object"
  end
  local why = table_problem(v, "it")
  if why then return nil, why end
  return { v }
end

local function excerpt(seg)
  local s = seg:gsub("%s+", " ")
  if #s <= EXCERPT then return s end
  local cut = EXCERPT
  -- Step back to a code point boundary so the warning stays valid UTF-8.
  while cut > 1 and (s:byte(cut + 1) or 0) & 0xC0 == 0x80 do cut = cut - 1 end
  return s:sub(1, cut) .. "..."
end

local function warning(n, what, seg)
  local w = format("LogStatus: segment %d %s near %s; shown as text", n, what, excerpt(seg))
  return (w:gsub("[\r\n]+", " "))
end

-- The codec's message carries a "json.decode: " prefix (and maybe a chunk position); keep the useful part.
local function decode_error(err)
  local msg = tostring(err)
  msg = msg:match("json%.decode: (.*)") or msg
  return flatten(msg)
end

-- Finds the backtick closing a JSON segment, skipping backticks inside JSON strings (titles and cells may
-- contain them). Falls back to the next backtick when the strings do not close.
local function closing_backtick(s, i)
  local j = i
  while true do
    local k = s:find('[`"]', j)
    if not k then break end
    if s:byte(k) == 96 then return k end
    local e = k + 1
    while true do
      local q = s:find('["\\]', e)
      if not q then return s:find("`", i, true) end
      if s:byte(q) == 92 then e = q + 2 else e = q + 1; break end
    end
    j = e
  end
  return s:find("`", i, true)
end

-- Output buffer that keeps each rendered table on lines of its own.
local function emitter()
  local buf, last_block = {}, false
  local function ends_line()
    local last = buf[#buf]
    return last == nil or last:sub(-1) == "\n"
  end
  local e, blocks = {}, {}
  -- The dashboard's blocks: the text between tables as written, and the tables.
  local function text_block(s)
    local last = blocks[#blocks]
    if last and last.text then last.text = last.text .. s else blocks[#blocks + 1] = { text = s } end
  end
  function e.text(s)
    if s == "" then return end
    text_block(s)
    if last_block and s:sub(1, 1) ~= "\n" and s:sub(1, 2) ~= "\r\n" then buf[#buf + 1] = "\n" end
    buf[#buf + 1] = s
    last_block = false
  end
  function e.block(s, block)
    blocks[#blocks + 1] = block
    if s == "" then return end
    if not ends_line() then buf[#buf + 1] = "\n" end
    buf[#buf + 1] = s
    last_block = true
  end
  function e.result()
    return (concat(buf):gsub("[\r\n]+$", "")), json.array(blocks)
  end
  return e
end

local function render_segment(seg, n, out, warnings)
  local ok, v = pcall(json.decode, seg)
  if not ok then
    warnings[#warnings + 1] = warning(n, "is not valid JSON (" .. decode_error(v) .. ")", seg)
    return false
  end
  local tables, why = tables_of(v)
  if not tables then
    warnings[#warnings + 1] = warning(n, "is not a table (" .. why .. ")", seg)
    return false
  end
  for i = 1, #tables do out.block(render_table(tables[i])) end    -- text, block
  return true
end

function M.render(s)
  if s == nil then s = "" elseif type(s) ~= "string" then s = tostring(s) end
  local out, warnings = emitter(), {}
  local pos, n = 1, 0
  while true do
    local open = s:find("`", pos, true)
    if not open then break end
    local wants_json = s:find("^%s*[{%[]", open + 1) ~= nil
    local close = wants_json and closing_backtick(s, open + 1) or s:find("`", open + 1, true)
    if not close then break end  -- unpaired: the rest stays text
    n = n + 1
    out.text(s:sub(pos, open - 1))
    local seg = s:sub(open + 1, close - 1)
    if not (wants_json and render_segment(seg, n, out, warnings)) then
      out.text(s:sub(open, close))
    end
    pos = close + 1
  end
  out.text(s:sub(pos))
  local text, blocks = out.result()
  return text, warnings, blocks
end

return M
