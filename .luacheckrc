-- .luacheckrc: the repository's luacheck config is editor/.luacheckrc, the "stratrun" standard that is installed and
-- given to users, run here in this config's own environment so there is one source of truth:
-- `luacheck strategies` from the repository (or any folder under it) checks the samples and ports against it.

-- luacheck found this file by looking up from the current folder; editor/ is beside it.
local path
for up = 0, 16 do
  local try = string.rep("../", up) .. "editor/.luacheckrc"
  local f = io.open(try)
  if f then
    f:close()
    path = try
    break
  end
end
assert(path, "editor/.luacheckrc not found above the current folder")

-- luacheck runs on Lua 5.1 (getfenv, setfenv); _ENV on 5.2 and later
-- luacheck: read globals getfenv setfenv
local env = getfenv and getfenv(1) or _ENV
local chunk = assert(loadfile(path))
if setfenv then setfenv(chunk, env) else chunk = assert(load(io.open(path):read("*a"), "@" .. path, "t", env)) end
chunk()
