-- dialtone.media.accept's opts checks, protocol descriptions first: run inside the binary by
-- `dialtone run` (outside a route, so a valid call ends at "only inside a WebSocket route").
-- Prints "N passed, N failed" and returns the number of failures as the exit status.
local t = require("dialtone.testing")
local check, raises = t.check, t.raises

local accept = dialtone.media.accept
local OUTSIDE = "only inside a WebSocket route handler"

--- A Telnyx description (spec/telnyx-plivo.md A.3), fresh for each case to break.
local function telnyx()
  return {
    name = "telnyx", encoding = "mulaw", rate = 8000, event_key = "event",
    inbound = {
      start = { event = "start", stream_id = "stream_id", call_id = "start.call_control_id",
                params = "start.custom_parameters" },
      media = { event = "media", payload = "media.payload" },
      dtmf = { event = "dtmf", digit = "dtmf.digit" },
      mark = { event = "mark", name = "mark.name" },
      stop = { event = "stop" },
    },
    outbound = {
      media = { event = "media", media = { payload = "$payload" } },
      mark = { event = "mark", mark = { name = "$name" } },
      clear = { event = "clear" },
    },
  }
end

local function refused(what, pattern, change)
  local p = telnyx()
  change(p)
  raises(what, "dialtone.media.accept: " .. pattern, accept, {}, { protocol = p })
end

check("valid protocols pass the checks", function()
  raises("telnyx", OUTSIDE, accept, {}, { protocol = telnyx() })
  raises("twilio", OUTSIDE, accept, {}, { protocol = "twilio", rate = 16000 })
  raises("vonage", OUTSIDE, accept, {}, { protocol = "vonage", start_timeout = 2 })
  local minimal = telnyx()
  minimal.inbound.dtmf, minimal.inbound.mark, minimal.inbound.stop = nil, nil, nil
  minimal.outbound.mark, minimal.outbound.clear, minimal.event_key, minimal.rate = nil, nil, nil, nil
  minimal.outbound.media.rate, minimal.outbound.media.flag = 8000, true
  raises("minimal", OUTSIDE, accept, {}, { protocol = minimal })
end)

check("accept's own options", function()
  raises("no protocol", 'protocol must be "twilio", "vonage" or a protocol description table', accept, {}, {})
  raises("unknown name", 'protocol must be "twilio"', accept, {}, { protocol = "telnyx" })
  raises("rate", "rate must be 8000 or 16000", accept, {}, { protocol = "twilio", rate = 44100 })
  raises("start_timeout", "start_timeout must be a number", accept, {}, { protocol = "twilio", start_timeout = "x" })
  raises("opts", "bad argument #2", accept, {})
end)

check("a bad description names the bad key", function()
  refused("typo", "protocol.inbound.medai is not part of a protocol description",
    function(p) p.inbound.medai = p.inbound.media end)
  refused("top typo", "protocol.outbond is not part", function(p) p.outbond = {} end)
  refused("name", "protocol.name must be a string", function(p) p.name = nil end)
  refused("name chars", "protocol.name: 1 to 31 letters", function(p) p.name = "a b" end)
  refused("encoding", 'protocol.encoding must be "mulaw", "alaw" or "l16"', function(p) p.encoding = "opus" end)
  refused("rate", "protocol.rate: 8000 or 16000", function(p) p.rate = 24000 end)
  refused("fractional rate", "protocol.rate: 8000 or 16000", function(p) p.rate = 8000.5 end)
  refused("inbound", "protocol.inbound must be a table", function(p) p.inbound = nil end)
  refused("start", "protocol.inbound.start must be a table", function(p) p.inbound.start = "start" end)
  refused("media path", "protocol.inbound.media.payload must be a string", function(p) p.inbound.media.payload = nil end)
  refused("path syntax", "protocol.inbound.start.call_id: a dotted path", function(p) p.inbound.start.call_id = "start." end)
  refused("dtmf digit", "protocol.inbound.dtmf.digit must be a string", function(p) p.inbound.dtmf.digit = nil end)
  refused("same event", "protocol.inbound.stop.event: the same as inbound.start.event",
    function(p) p.inbound.stop.event = "start" end)
  refused("stop key", "protocol.inbound.stop.name is not part", function(p) p.inbound.stop.name = "x" end)
  refused("no media template", "protocol.outbound.media must be a table", function(p) p.outbound.media = nil end)
  refused("no $payload", 'protocol.outbound.media: needs a "$payload" value',
    function(p) p.outbound.media.media.payload = "payload" end)
  refused("no $name", 'protocol.outbound.mark: needs a "$name" value', function(p) p.outbound.mark.mark = nil end)
  refused("$payload in clear", "protocol.outbound.clear: $payload belongs in outbound.media only",
    function(p) p.outbound.clear.x = "$payload" end)
  refused("array keys", "protocol.outbound.media must have string keys only",
    function(p) p.outbound.media.list = { 1, 2 } end)
  refused("function value", "protocol.outbound.mark values must be strings, numbers, booleans or tables",
    function(p) p.outbound.mark.f = print end)
  refused("NUL", "protocol.outbound.clear has a string with a NUL byte", function(p) p.outbound.clear.x = "a\0b" end)
  refused("deep", "protocol.outbound.media is nested too deeply", function(p)
    local deep = { payload = "$payload" }
    for _ = 1, 9 do deep = { x = deep } end
    p.outbound.media = deep
  end)
end)

return t.finish()
