-- master.lua: analyses the market and broadcasts a trading signal on its channel (the platform's "Master-Slave
-- Strategy Coordination", signal side): MA5 crossing MA20 upward is BUY, downward SELL, otherwise HOLD.
--   stratrun --id 632799 strategies/master.lua
-- Parameters: symbol (default BTC_USDT), interval in ms (default 60000).

symbol = symbol or "BTC_USDT"
interval = interval or 60000

function main()
  local robotId = _G()
  Log("Main strategy started, Bot ID:", robotId)
  while true do
    local records = exchange.GetRecords(symbol)
    if not records or #records < 21 then
      Sleep(5000)
    else
      local ma5 = TA.MA(records, 5)
      local ma20 = TA.MA(records, 20)
      local n = #records
      local signal = "HOLD"
      if ma5[n] > ma20[n] and ma5[n - 1] <= ma20[n - 1] then
        signal = "BUY"
      elseif ma5[n] < ma20[n] and ma5[n - 1] >= ma20[n - 1] then
        signal = "SELL"
      end
      local signalData = {
        timestamp = UnixNano() // 1000000,
        symbol = symbol,
        signal = signal,
        price = records[n].Close,
        ma5 = ma5[n],
        ma20 = ma20[n],
      }
      SetChannelData(signalData)
      LogStatus("Main Strategy - Signal Broadcast\n" ..
                "Signal: " .. signal .. "\n" ..
                string.format("Price: $%.2f\n", signalData.price) ..
                string.format("MA5: %.2f\n", signalData.ma5) ..
                string.format("MA20: %.2f", signalData.ma20))
      Sleep(interval)
    end
  end
end
