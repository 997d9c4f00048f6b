-- lua/dialtone/status.lua: carrier status mapping and the forward-only status machine.
-- Prints "N passed, N failed" and returns the number of failures as the exit status.
local t = require("dialtone.testing")
local check, eq, raises = t.check, t.eq, t.raises

local status = require("dialtone.status")

local ALL = { "initiated", "ringing", "answered", "completed", "failed", "busy", "no-answer", "canceled" }
local RANK = { initiated = 1, ringing = 2, answered = 3, completed = 4, failed = 4, busy = 4,
               ["no-answer"] = 4, canceled = 4 }

check("every Twilio CallStatus (spec/twilio.md §3) maps", function()
  local expected = {
    queued = "initiated", initiated = "initiated", ringing = "ringing",
    ["in-progress"] = "answered", completed = "completed", busy = "busy", failed = "failed",
    ["no-answer"] = "no-answer", canceled = "canceled",
  }
  for raw, want in pairs(expected) do eq(status.normalize("twilio", raw), want, "twilio " .. raw) end
end)

check("every Vonage event status (spec/vonage.md §4) maps", function()
  local expected = {
    started = "initiated", ringing = "ringing", answered = "answered", completed = "completed",
    busy = "busy", failed = "failed", rejected = "failed", unanswered = "no-answer",
    timeout = "no-answer", cancelled = "canceled",
  }
  for raw, want in pairs(expected) do eq(status.normalize("vonage", raw), want, "vonage " .. raw) end
end)

check("every simulated-carrier status (providers/sim.lua) maps to itself", function()
  for _, raw in ipairs(ALL) do eq(status.normalize("sim", raw), raw, "sim " .. raw) end
  for _, raw in ipairs({ "in-progress", "cancelled", "queued", "Completed", "" }) do
    local s, err = status.normalize("sim", raw)
    eq(s, nil, "sim " .. raw)
    eq(err, "unknown sim status '" .. raw .. "'", "reason")
  end
end)

check("terminal carrier statuses map to final ones, the others do not", function()
  local terminal = {
    twilio = { completed = true, busy = true, ["no-answer"] = true, canceled = true, failed = true,
               queued = false, initiated = false, ringing = false, ["in-progress"] = false },
    vonage = { completed = true, busy = true, cancelled = true, unanswered = true, rejected = true,
               failed = true, timeout = true, started = false, ringing = false, answered = false },
  }
  for provider, raws in pairs(terminal) do
    for raw, final in pairs(raws) do
      eq(status.is_final(status.normalize(provider, raw)), final, provider .. " " .. raw)
    end
  end
end)

check("Vonage events that are not call statuses are nil with a reason", function()
  for _, raw in ipairs({ "machine", "human", "disconnected" }) do
    local s, err = status.normalize("vonage", raw)
    eq(s, nil, raw)
    assert(err:find("not a call status", 1, true), raw .. ": " .. tostring(err))
  end
end)

check("unknown values and providers are nil with a reason", function()
  local cases = {
    { "twilio", "answered", "unknown twilio status 'answered'" },  -- Vonage's word, not Twilio's
    { "twilio", "cancelled", "unknown twilio status 'cancelled'" },
    { "vonage", "in-progress", "unknown vonage status 'in-progress'" },
    { "vonage", "canceled", "unknown vonage status 'canceled'" },
    { "twilio", "Ringing", "unknown twilio status 'Ringing'" },     -- case-sensitive
    { "twilio", nil, "unknown twilio status 'nil'" },
    { "plivo", "ringing", "unknown provider 'plivo'" },
    { nil, "ringing", "unknown provider 'nil'" },
  }
  for _, c in ipairs(cases) do
    local s, err = status.normalize(c[1], c[2])
    eq(s, nil, c[3])
    eq(err, c[3], "reason")
  end
end)

check("is_final", function()
  for _, s in ipairs(ALL) do eq(status.is_final(s), RANK[s] == 4, s) end
  raises("unknown", "status.is_final: status is not a normalized status: in-progress",
         status.is_final, "in-progress")
end)

check("the first status of a run is taken as it is", function()
  for _, s in ipairs(ALL) do
    local new, changed, why = status.advance(nil, s)
    eq(new, s, s)
    eq(changed, true, s .. " changed")
    eq(why, nil, s .. " reason")
  end
end)

check("every (current, incoming) pair: forward only, duplicates, finals absorbing", function()
  for _, cur in ipairs(ALL) do
    for _, inc in ipairs(ALL) do
      local what = cur .. " <- " .. inc
      local new, changed, why = status.advance(cur, inc)
      if inc == cur then
        eq(new, cur, what); eq(changed, false, what); eq(why, "duplicate", what)
      elseif status.is_final(cur) then
        eq(new, cur, what); eq(changed, false, what); eq(why, "final", what)
      elseif RANK[inc] > RANK[cur] then
        eq(new, inc, what); eq(changed, true, what); eq(why, nil, what)
      else
        eq(new, cur, what); eq(changed, false, what); eq(why, "stale", what)
      end
      -- Monotonic: the rank never goes down, and it only moves when changed.
      assert(RANK[new] >= RANK[cur], what .. " went backwards")
      eq(changed, new ~= cur, what .. " changed flag")
    end
  end
end)

check("the spec's examples", function()
  eq((status.advance("completed", "ringing")), "completed", "late ringing after completed")
  eq((status.advance("answered", "ringing")), "answered", "late ringing after answered")
  eq((status.advance("busy", "completed")), "busy", "a final never changes")
  eq((status.advance("ringing", "initiated")), "ringing", "late initiated")
  eq((status.advance("initiated", "answered")), "answered", "ringing may be skipped")
  eq((status.advance("ringing", "no-answer")), "no-answer", "ringing to no-answer")
end)

check("an out-of-order callback sequence ends in the same place", function()
  local arrivals = { "initiated", "completed", "ringing", "answered", "ringing", "completed" }
  local s, changes = nil, 0
  for _, inc in ipairs(arrivals) do
    local changed
    s, changed = status.advance(s, inc)
    if changed then changes = changes + 1 end
  end
  eq(s, "completed", "end")
  eq(changes, 2, "changes")
end)

check("advance raises on statuses that are not normalized", function()
  raises("raw incoming", "status.advance: incoming is not a normalized status: in-progress",
         status.advance, "ringing", "in-progress")
  raises("raw current", "status.advance: current is not a normalized status: cancelled",
         status.advance, "cancelled", "ringing")
  raises("nil incoming", "status.advance: incoming is not a normalized status: nil",
         status.advance, "ringing", nil)
end)

return t.finish()
