-- subscriber.lua: follows two channels and shows each one's latest state (the platform's "Subscriber" example).
--   stratrun --id 632800 -p channel1=632799 -p channel2=632801 strategies/subscriber.lua
-- Parameters: channel1, channel2 (live IDs to follow), interval in ms (default 5000), rounds (default: forever).

channel1 = channel1 or "632799"
channel2 = channel2 or "632801"
interval = interval or 5000

local function describe(n, id, state)
  local s = "═══ Channel " .. n .. " [" .. tostring(id) .. "] ═══\n"
  if state ~= nil then
    s = s .. "Update ID: #" .. state.updateId .. "\n"
    s = s .. "Time: " .. _D(state.timestamp) .. "\n"
    s = s .. "Trading Pair: " .. tostring(state.symbol) .. "\n"
    s = s .. string.format("Last Price: $%.2f\n", state.lastPrice)
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
