--- The simulated carrier's calls (providers/sim.lua): what get_call_status and get_call_cost
--- read, and what the callee heard. They live in the script generation that placed them — every
--- instance of the provider in it shares them — for the server's lifetime, the newest
--- MAX_CALLS kept. A reload starts a new generation: a call in progress finishes on its own
--- generation (its callbacks still arrive), but lookups from the new one answer "unknown call".
local calls = {}

local crypto = dialtone.crypto

calls.MAX_CALLS = 1000
calls.MAX_MARKS = 1000
calls.MAX_HEARD_DIGITS = 256

---@class SimCall
---@field call_id string
---@field to string
---@field from string
---@field status string the raw sim status (the normalized names)
---@field created_at number
---@field answered_at number|nil
---@field ended_at number|nil
---@field duration integer|nil seconds from the answer to the end, rounded to the nearest
---@field price number|nil
---@field currency string
---@field rate_per_minute string
---@field ended_by string|nil "flow", "callee", "hangup_call", "limit" or "error"
---@field error string|nil
---@field hangup_requested boolean
---@field heard table what the flow sent: frames, audio_ms, loud_ms, marks, clears, dtmf
---@field sent table what the callee sent: audio_ms, dtmf

local by_id = {}
local order = {}

--- A fresh call id: "SIM" and 32 hex digits.
---@return string
function calls.new_id()
  return "SIM" .. crypto.hex(crypto.random_bytes(16))
end

--- Registers a new call (forgetting the oldest beyond MAX_CALLS) and returns it.
---@param fields {call_id: string, to: string, from: string, rate_per_minute: string, currency: string}
---@param now number
---@return SimCall
function calls.create(fields, now)
  local call = {
    call_id = fields.call_id, to = fields.to, from = fields.from, status = "initiated", created_at = now,
    rate_per_minute = fields.rate_per_minute, currency = fields.currency, hangup_requested = false,
    heard = { frames = 0, audio_ms = 0, loud_ms = 0, marks = {}, clears = 0, dtmf = "" },
    sent = { audio_ms = 0, dtmf = "" },
  }
  by_id[call.call_id] = call
  order[#order + 1] = call.call_id
  while #order > calls.MAX_CALLS do by_id[table.remove(order, 1)] = nil end
  return call
end

--- The call of that id, or nil.
---@param call_id any
---@return SimCall|nil
function calls.get(call_id)
  return type(call_id) == "string" and by_id[call_id] or nil
end

--- The price of a call: rate_per_minute (a decimal string) for every started minute.
---@param duration integer seconds
---@param rate_per_minute string
---@return number
function calls.price(duration, rate_per_minute)
  local minutes = math.ceil(duration / 60)
  local places = #(rate_per_minute:match("%.(%d*)$") or "")
  return tonumber(string.format("%." .. places .. "f", minutes * tonumber(rate_per_minute)))
end

--- Ends a call: final status, duration from the answer (to the nearest second), price.
---@param call SimCall
---@param final_status string
---@param now number
---@param ended_by string
---@param err string|nil
function calls.finish(call, final_status, now, ended_by, err)
  call.status, call.ended_at, call.ended_by, call.error = final_status, now, ended_by, err
  call.duration = call.answered_at and math.max(0, math.floor(now - call.answered_at + 0.5)) or 0
  call.price = calls.price(call.duration, call.rate_per_minute)
end

--- Records a mark the flow sent (bounded).
---@param call SimCall
---@param name string
function calls.heard_mark(call, name)
  local marks = call.heard.marks
  if #marks < calls.MAX_MARKS then marks[#marks + 1] = name end
end

--- Records digits detected in the flow's audio (bounded).
---@param call SimCall
---@param digits string
function calls.heard_digits(call, digits)
  local heard = call.heard
  heard.dtmf = (heard.dtmf .. digits):sub(1, calls.MAX_HEARD_DIGITS)
end

--- A copy of a call for callers (get_call_status's raw).
---@param call SimCall
---@return table
function calls.view(call)
  local marks = {}
  for i, m in ipairs(call.heard.marks) do marks[i] = m end
  local h, s = call.heard, call.sent
  return {
    call_id = call.call_id, to = call.to, from = call.from, status = call.status,
    created_at = call.created_at, answered_at = call.answered_at, ended_at = call.ended_at,
    duration = call.duration, price = call.price, currency = call.currency, ended_by = call.ended_by,
    error = call.error,
    heard = { frames = h.frames, audio_ms = h.audio_ms, loud_ms = h.loud_ms, marks = dialtone.json.array(marks),
              clears = h.clears, dtmf = h.dtmf },
    sent = { audio_ms = s.audio_ms, dtmf = s.dtmf },
  }
end

return calls
