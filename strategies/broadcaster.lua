-- broadcaster.lua: publishes this bot's market view on its channel (the platform's "Broadcaster" example).
--   stratrun --id 632799 strategies/broadcaster.lua
-- Parameters (-p NAME=VALUE): symbol (default BTC_USDT), interval in ms (default 60000), rounds (default: forever).

symbol = symbol or "BTC_USDT"
interval = interval or 60000
rounds = rounds                 -- no default: nil runs until stopped (docs/editor.md, parameters)

function main()
  local updateId = 0
  local robotId = _G()                  -- this bot's live ID: its channel has the same name
  while rounds == nil or updateId < rounds do
    local ticker = exchange.GetTicker(symbol)
    if not ticker then
      Sleep(5000)
    else
      updateId = updateId + 1
      local channelState = {
        robotId = robotId,
        updateId = updateId,
        timestamp = UnixNano() // 1000000,
        symbol = symbol,
        lastPrice = ticker.Last,
        volume = ticker.Volume,
        high = ticker.High,
        low = ticker.Low,
      }
      SetChannelData(channelState)     -- overwrites the previous state
      LogStatus("Channel Broadcaster [Bot ID: " .. robotId .. "]\n" ..
                "Update ID: #" .. channelState.updateId .. "\n" ..
                "Time: " .. _D(channelState.timestamp) .. "\n" ..
                "Symbol: " .. channelState.symbol .. "\n" ..
                string.format("Last Price: $%.2f", channelState.lastPrice))
      Sleep(interval)
    end
  end
end
