--- Run it:
---   dialtone workflow add default echo_bot echo_bot    # once (examples/README.md); then in `dialtone repl`:
---   > call("+15550100123", "echo_bot", { options = { scenario = { { tone = 440, ms = 1000 }, { hangup_after = 3 } } } })
---
--- Echo bot: a short two-note greeting, then the caller hears themselves (looped back in C,
--- no Lua per frame) until they hang up.
local codec = dialtone.codec

local GREETING = { { hz = 660, ms = 100 }, { hz = 880, ms = 100 } }

--- The greeting: two short notes at the call's rate.
---@param rate integer
---@return string pcm
local function greeting(rate)
  local parts = {}
  for i, note in ipairs(GREETING) do parts[i] = codec.tone(note.hz, note.ms, rate, 0.3) end
  return table.concat(parts)
end

return {
  rate = 8000,
  ---@param call table
  run = function(call)
    call:play(greeting(call.rate))
    call:echo()
  end,
}
