--- The call status machine (DESIGN §5). Normalized statuses run
--- `initiated → ringing → answered → completed`, or end in a final `failed`, `busy`,
--- `no-answer` or `canceled`.
---
--- Rank: initiated 1, ringing 2, answered 3, every final status 4. A run only moves to a status
--- of higher rank, so a late or out-of-order callback (a `ringing` after `answered`) is ignored,
--- a repeated one is recognised as a duplicate, and a final status never changes.
local status = {}

---@alias CallStatus "initiated"|"ringing"|"answered"|"completed"|"failed"|"busy"|"no-answer"|"canceled"

local RANK = {
  initiated = 1,
  ringing = 2,
  answered = 3,
  completed = 4,
  failed = 4,
  busy = 4,
  ["no-answer"] = 4,
  canceled = 4,
}
local FINAL_RANK = 4

--- Raw carrier values (spec/twilio.md §3, spec/vonage.md §4; the simulated carrier of
--- providers/sim.lua speaks the normalized names) → normalized status.
local MAPS = {
  twilio = {
    queued = "initiated",
    initiated = "initiated",
    ringing = "ringing",
    ["in-progress"] = "answered",
    completed = "completed",
    busy = "busy",
    failed = "failed",
    ["no-answer"] = "no-answer",
    canceled = "canceled",
  },
  vonage = {
    started = "initiated",
    ringing = "ringing",
    answered = "answered",
    completed = "completed",
    busy = "busy",
    failed = "failed",
    rejected = "failed",
    unanswered = "no-answer",
    timeout = "no-answer",
    cancelled = "canceled",
  },
  sim = {
    initiated = "initiated",
    ringing = "ringing",
    answered = "answered",
    completed = "completed",
    busy = "busy",
    failed = "failed",
    ["no-answer"] = "no-answer",
    canceled = "canceled",
  },
}

--- Vonage events that carry a `status` but say nothing about the call's progress.
local VONAGE_NOT_STATUS = {
  machine = "a machine-detection result",
  human = "a machine-detection result",
  disconnected = "the close of a WebSocket leg",
}

--- Maps a carrier's raw status to a normalized one, or returns nil and why.
---@param provider_name string "twilio", "vonage" or "sim"
---@param raw_status string the carrier's value (Twilio `CallStatus`, Vonage `status`, sim `status`)
---@return CallStatus|nil, string|nil
function status.normalize(provider_name, raw_status)
  local map = MAPS[provider_name]
  if not map then
    return nil, "unknown provider '" .. tostring(provider_name) .. "'"
  end
  local s = map[raw_status]
  if s then return s end
  if provider_name == "vonage" and VONAGE_NOT_STATUS[raw_status] then
    return nil, "vonage status '" .. raw_status .. "' is " .. VONAGE_NOT_STATUS[raw_status] ..
                ", not a call status"
  end
  return nil, "unknown " .. provider_name .. " status '" .. tostring(raw_status) .. "'"
end

--- Raises unless `s` is a normalized status.
---@param fn string the caller's name, for the message
---@param what string
---@param s any
--- True for one of the normalized statuses.
---@param s any
---@return boolean
function status.is_status(s)
  return RANK[s] ~= nil
end

local function check(fn, what, s)
  if RANK[s] == nil then
    error("status." .. fn .. ": " .. what .. " is not a normalized status: " .. tostring(s), 3)
  end
end

--- True when `s` is a final status (completed, failed, busy, no-answer, canceled).
---@param s CallStatus
---@return boolean
function status.is_final(s)
  check("is_final", "status", s)
  return RANK[s] == FINAL_RANK
end

--- Applies an incoming status to a run's current one (nil before the first).
--- Returns the run's new status, whether it changed, and when it did not, why:
--- "duplicate" (same status again), "final" (the run has already ended) or
--- "stale" (the incoming status ranks below the current one).
---@param current CallStatus|nil
---@param incoming CallStatus
---@return CallStatus, boolean, string|nil
function status.advance(current, incoming)
  check("advance", "incoming", incoming)
  if current == nil then return incoming, true end
  check("advance", "current", current)
  if incoming == current then return current, false, "duplicate" end
  if RANK[current] == FINAL_RANK then return current, false, "final" end
  if RANK[incoming] < RANK[current] then return current, false, "stale" end
  return incoming, true
end

return status
