--- Run it:
---   dialtone workflow add default voicemail voicemail    # once (examples/README.md); then in `dialtone repl`:
---   > call("+15550100123", "voicemail", { options = { scenario = { { tone = 300, ms = 1500 }, { dtmf = "#", at = 2.5 } } } })
---
--- Voicemail: a beep, then the caller's audio is recorded (in C) to
--- <data_dir>/recordings/voicemail-<run id>.wav until they press '#', stay silent for
--- SILENCE_SECONDS (frame energy below SILENCE_RMS), or MAX_SECONDS pass; then it hangs up.
local flow = require("dialtone.flow")

local codec, log = dialtone.codec, dialtone.log

local BEEP_HZ, BEEP_MS = 1000, 300
local SILENCE_RMS = 300        -- PCM16 root mean square below which a 20 ms frame is silence
local SILENCE_SECONDS = 2
local MAX_SECONDS = 120

--- Whether a PCM16 frame's energy is below the silence threshold.
---@param pcm string
---@return boolean
local function is_quiet(pcm)
  local sum, n = 0, #pcm / 2
  if n == 0 then return true end
  for i = 1, #pcm - 1, 2 do
    local lo, hi = pcm:byte(i, i + 1)
    local v = hi * 256 + lo
    if v >= 32768 then v = v - 65536 end
    sum = sum + v * v
  end
  return sum / n < SILENCE_RMS * SILENCE_RMS
end

--- The recording's file name: one per run (or per carrier call outside the telephony API).
---@param call table
---@return string
local function file_name(call)
  local id = tostring(call.run_id or call.call_id or dialtone.time.now()):gsub("[^%w_.-]", "_")
  return "voicemail-" .. id .. ".wav"
end

--- Plays the beep and waits until it has been played: false when the call ended first.
---@param call table
---@return boolean
local function beep(call)
  return flow.play_and_wait(call, codec.tone(BEEP_HZ, BEEP_MS, call.rate, 0.4), "beep")
end

--- Reads the caller's audio until '#', silence, the time limit or the end of the call.
---@param call table
---@return string why "hash", "silence", "limit" or "ended"
local function listen(call)
  local started, quiet = dialtone.time.monotonic(), 0
  while true do
    local left = MAX_SECONDS - (dialtone.time.monotonic() - started)
    if left <= 0 then return "limit" end
    local ev, err = call:recv(left)
    if not ev then return err == "timeout" and "limit" or "ended" end
    if ev.type == "stop" then return "ended" end
    if ev.type == "dtmf" and ev.digit == "#" then return "hash" end
    if ev.type == "audio" then
      quiet = is_quiet(ev.pcm) and quiet + #ev.pcm / 2 / ev.rate or 0
      if quiet >= SILENCE_SECONDS then return "silence" end
    end
  end
end

return {
  rate = 8000,
  ---@param call table
  run = function(call)
    if not beep(call) then return end
    local path, err = call:record(file_name(call))
    if not path then
      log.error("voicemail: cannot record", { run = call.run_id, error = err })
      return call:hangup()
    end
    local why = listen(call)
    call:record(false)
    log.info("voicemail saved", { run = call.run_id, path = path, reason = why })
    call:hangup()
  end,
}
