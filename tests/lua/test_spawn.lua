-- dialtone.task.spawn: background tasks that start after the caller, may wait, and fail alone.
-- Prints "N passed, N failed" and returns the number of failures as the exit status.
local t = require("dialtone.testing")
local check, eq, raises = t.check, t.eq, t.raises

local spawn, sleep = dialtone.task.spawn, dialtone.time.sleep

check("runs later with its arguments, not inside the caller", function()
  local got = {}
  spawn(function(a, b) got[#got + 1] = a + b end, 2, 3)
  eq(#got, 0, "not run before the caller waits")
  sleep(0.02)
  eq(got[1], 5, "ran with its arguments")
end)

check("a background task may wait, and runs alongside others", function()
  local order = {}
  spawn(function() sleep(0.05); order[#order + 1] = "slow" end)
  spawn(function() sleep(0.01); order[#order + 1] = "fast" end)
  sleep(0.1)
  eq(table.concat(order, ","), "fast,slow", "both ran, each at its own pace")
end)

check("a failing background task does not touch the caller", function()
  local after = false
  spawn(function() error("boom") end)
  spawn(function() after = true end)
  sleep(0.02)
  eq(after, true, "the next task still ran")
end)

check("misuse raises", function()
  raises("not a function", "bad argument #1", spawn, 42)
  raises("nothing", "bad argument #1", spawn)
end)

return t.finish()
