-- subscriber.lua: follows two channels and shows each one's latest state (the platform's "Subscriber" example).
--   stratrun --id 632800 -p channel1=632799 -p channel2=632801 strategies/subscriber.lua
-- Parameters: channel1, channel2 (live IDs to follow), interval in ms (default 5000), rounds (default: forever).

channel1 = channel1 or "632799"
channel2 = channel2 or "632801"
interval = interval or 5000
rounds = rounds                 -- no default: nil runs until stopped (docs/editor.md, parameters)

-- Another bot's data is not trusted: a field that is missing or of another type shows as "-", never an error.
local function num(v, fmt)
  return math.type(v) and string.format(fmt, v) or "-"
end

local function describe(n, id, state)
  local s = "═══ Channel " .. n .. " [" .. tostring(id) .. "] ═══\n"
  if type(state) == "table" then
    s = s .. "Update ID: #" .. tostring(state.updateId or "-") .. "\n"
    s = s .. "Time: " .. (math.type(state.timestamp) and _D(state.timestamp) or "-") .. "\n"
    s = s .. "Trading Pair: " .. tostring(state.symbol or "-") .. "\n"
    s = s .. "Last Price: $" .. num(state.lastPrice, "%.2f") .. "\n"
  elseif state ~= nil then
    s = s .. "Unexpected state: " .. json.encode(state) .. "\n"
  else
    s = s .. "Status: Waiting... (first call returns nil)\n"
  end
  return s
end

function main()
  local n = 0
  while rounds == nil or n < rounds do
    n = n + 1
    local state1 = GetChannelData(channel1)
    local state2 = GetChannelData(channel2)
    LogStatus("Channel Subscriber - Current Subscription Status\n\n" ..
              describe(1, channel1, state1) .. "\n" .. describe(2, channel2, state2))
    Sleep(interval)
  end
end
