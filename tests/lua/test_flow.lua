-- dialtone.flow's helpers, against a call object that replays a list of events.
-- Prints "N passed, N failed" and returns the number of failures as the exit status.
local t = require("dialtone.testing")
local check, eq = t.check, t.eq

local flow = require("dialtone.flow")

--- A call whose recv returns events in order (then nil, "ended"), recording what it was asked.
local function scripted_call(events)
  local call = { played = {}, marks = {}, read = 0 }
  function call:play(audio) self.played[#self.played + 1] = audio end
  function call:mark(name) self.marks[#self.marks + 1] = name end
  function call:recv()
    self.read = self.read + 1
    local ev = events[self.read]
    if ev then return ev end
    return nil, "ended"
  end
  return call
end

check("play_and_wait plays, marks, and returns once its own mark comes back", function()
  local call = scripted_call({
    { type = "audio", pcm = "\0\0", rate = 8000 }, { type = "dtmf", digit = "5" },
    { type = "mark", name = "other" }, { type = "mark", name = "beep" }, { type = "audio", pcm = "\0\0", rate = 8000 },
  })
  eq(flow.play_and_wait(call, "AUDIO", "beep"), true, "played")
  eq(#call.played == 1 and call.played[1], "AUDIO", "the audio, once")
  eq(#call.marks == 1 and call.marks[1], "beep", "the mark, once")
  eq(call.read, 4, "read up to its mark, no further")
end)

check("play_and_wait is false when the call stops or ends first", function()
  eq(flow.play_and_wait(scripted_call({ { type = "audio", pcm = "", rate = 8000 }, { type = "stop" } }), "A", "m"), false, "stop")
  eq(flow.play_and_wait(scripted_call({}), "A", "m"), false, "ended")
end)

return t.finish()
