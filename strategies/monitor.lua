-- monitor.lua: a status table of several bots from their channels (the platform's "Multi-Strategy Status
-- Monitoring"): Running, Abnormal when the last update is over 120 s old, or Waiting for Data; "(clock +N s)"
-- after either when the bot's clock is ahead of ours (its updates are then timed by their arrival).
--   stratrun --id 632802 -p bots=632799,632800,632801 strategies/monitor.lua
-- Parameters: bots (comma-separated live IDs, default 632799,632800,632801), interval in ms (default 10000),
-- stale in ms (default 120000).

bots = tostring(bots or "632799,632800,632801")
interval = interval or 10000
stale = stale or 120000

local function fmt(v, f)
  return math.type(v) and string.format(f, v) or "-"
end

function main()
  local monitorList = {}
  for id in bots:gmatch("[^,%s]+") do monitorList[#monitorList + 1] = id end
  while true do
    local table_ = {
      type = "table",
      title = "Strategy Running Status Monitor",
      cols = {"Live ID", "Status", "Last Update", "Trading Pair", "Current Price", "P&L"},
      rows = {},
    }
    local now = UnixNano() // 1000000
    for _, robotId in ipairs(monitorList) do
      local data, meta = GetChannelData(robotId)
      if type(data) == "table" then
        -- The publisher's clock in the metadata, not the payload's own timestamp, says whether it is alive; unless
        -- that clock is ahead of ours (meta.clock_ahead), when the state's arrival here is the time to go by.
        local updated = meta.clock_ahead and meta.received or meta.published
        local status = now - updated < stale and "Running" or "Abnormal"
        if meta.clock_ahead then status = status .. string.format(" (clock %+d s)", (meta.ahead_ms + 500) // 1000) end
        table_.rows[#table_.rows + 1] = {
          robotId, status, _D(updated), tostring(data.symbol or "-"),
          data.lastPrice and "$" .. fmt(data.lastPrice, "%.2f") or (data.price and "$" .. fmt(data.price, "%.2f") or "-"),
          data.profit and fmt(data.profit, "%.2f") .. "%" or "-",
        }
      else
        table_.rows[#table_.rows + 1] = {robotId, "Waiting for Data", "-", "-", "-", "-"}
      end
    end
    LogStatus("`" .. json.encode(table_) .. "`")
    Sleep(interval)
  end
end
