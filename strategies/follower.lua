-- follower.lua: executes the master's signals on its own exchange, once per new signal (the platform's
-- "Master-Slave Strategy Coordination", execution side).
--   stratrun --id 632800 -p master=632799 strategies/follower.lua
-- Parameters: master (the master's live ID, default 632799), amount per order (default 0.01),
-- interval in ms (default 5000).

master = master or "632799"
amount = amount or 0.01
interval = interval or 5000

function main()
  local lastSignal = nil
  Log("Follower strategy started, subscribing to main strategy:", master)
  while true do
    local signalData = GetChannelData(master)
    -- Another bot's data is not trusted: anything but a signal table is waited out, never an error.
    if type(signalData) ~= "table" or type(signalData.signal) ~= "string" then
      LogStatus("Waiting for main strategy signal...")
    else
      if lastSignal ~= signalData.signal then
        Log("Received new signal:", signalData.signal, "Price:", signalData.price)
        if signalData.signal == "BUY" or signalData.signal == "SELL" then
          local ticker = exchange.GetTicker(signalData.symbol)
          if ticker then
            if signalData.signal == "BUY" then
              exchange.Buy(ticker.Last, amount)
              Log("Executing buy, Price:", ticker.Last)
            else
              exchange.Sell(ticker.Last, amount)
              Log("Executing sell, Price:", ticker.Last)
            end
          end
        end
        lastSignal = signalData.signal
      end
      LogStatus("Follower Strategy - Following Main Strategy\n" ..
                "Current Signal: " .. signalData.signal .. "\n" ..
                "Signal Price: $" .. (math.type(signalData.price) and string.format("%.2f", signalData.price) or "-") .. "\n" ..
                "Signal Time: " .. (math.type(signalData.timestamp) and _D(signalData.timestamp) or "-"))
    end
    Sleep(interval)
  end
end
