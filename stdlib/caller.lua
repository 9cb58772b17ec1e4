-- caller.lua: raising an error at the strategy's line from a stdlib module whose own frames (helpers, wrappers)
-- are any number deep between the strategy and the error.
--
--   local raise = require("caller")(debug.getinfo(1, "S").short_src)
--   raise("exchange.Buy: price must be a number, got string")   -- reported at the strategy's call
--
-- The error is put at the first frame above that is not in the module's source.

return function(src)
  return function(msg)
    local level = 2                     -- 1 is this function
    while true do
      local info = debug.getinfo(level, "S")
      if not info or info.short_src ~= src then break end
      level = level + 1
    end
    error(msg, level)
  end
end
