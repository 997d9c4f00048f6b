--- A minimal test harness for Lua tests run with `dialtone run FILE.lua`:
---
---     local t = require("dialtone.testing")
---     t.check("adds", function() t.eq(1 + 1, 2, "sum") end)
---     return t.finish()   -- prints "N passed, N failed"; the failure count is the exit status
local testing = {}

local passed, failed = 0, 0

--- Runs one named case; an error inside it is a failure, reported with its message.
---@param name string
---@param fn fun()
function testing.check(name, fn)
  local ok, err = pcall(fn)
  if ok then
    passed = passed + 1
  else
    failed = failed + 1
    print("not ok " .. name .. ": " .. tostring(err))
  end
end

--- Raises unless a == b, naming what was compared.
---@param a any
---@param b any
---@param what string|nil
function testing.eq(a, b, what)
  if a ~= b then
    error(("%s: got %s, expected %s"):format(what or "value", tostring(a), tostring(b)), 2)
  end
end

--- Raises unless fn(...) raises; when pattern is given, the error must contain it (plain text).
---@param what string
---@param pattern string|nil
---@param fn function
function testing.raises(what, pattern, fn, ...)
  local ok, err = pcall(fn, ...)
  testing.eq(ok, false, what .. " raises")
  if pattern and not tostring(err):find(pattern, 1, true) then
    error(what .. ": unexpected error " .. tostring(err), 2)
  end
end

--- Prints the summary line and returns the number of failures (use it as the exit status).
---@return integer
function testing.finish()
  print(("%d passed, %d failed"):format(passed, failed))
  return failed
end

return testing
