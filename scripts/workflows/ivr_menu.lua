--- Run it:
---   dialtone workflow add default ivr_menu ivr_menu    # once (examples/README.md); then in `dialtone repl`:
---   > call("+15550100123", "ivr_menu", { options = { scenario = { { dtmf = "2", at = 1.5 }, { hangup_after = 8 } } } })
---
--- IVR menu: plays a prompt (a chime made at run time with dialtone.codec, as WAV bytes), reads
--- one DTMF digit and branches on 1, 2 or 3 — each option plays its own tone. No digit before the
--- timeout, or another digit, repeats the prompt; after `tries` prompts it says goodbye and hangs
--- up. Pressing a key while the prompt plays cuts it short (barge-in).
---
--- The workflow's settings (strings, optional): `timeout`, seconds to wait for a digit after the
--- prompt (default 5); `tries`, how many times the prompt is played (default 3). Each step is a
--- mark the carrier reports back: prompt-1, prompt-2, ..., option-N or goodbye.
local flow = require("dialtone.flow")

local codec, store, time, log = dialtone.codec, dialtone.store, dialtone.time, dialtone.log

local DEFAULT_TIMEOUT, DEFAULT_TRIES = 5, 3
local PROMPT = { { hz = 523, ms = 150 }, { hz = 659, ms = 150 }, { hz = 784, ms = 250 } }
local OPTIONS = {
  ["1"] = { name = "sales", hz = 700 },
  ["2"] = { name = "support", hz = 1000 },
  ["3"] = { name = "billing", hz = 1300 },
}
local OPTION_MS, GOODBYE_HZ, GOODBYE_MS = 400, 400, 300

--- The workflow's settings (from the store), or an empty table outside the telephony API.
---@param call table
---@return table
local function settings(call)
  local run = call.run_id and store.get_run(call.run_id)
  local wf = run and run.workflow_id and store.get_workflow(run.organization_id, run.workflow_id)
  return wf and wf.settings or {}
end

--- A positive number setting within [low, high], or the default.
---@param value any
---@param default number
---@param low number
---@param high number
---@return number
local function number_setting(value, default, low, high)
  local n = tonumber(value)
  if not n or n < low or n > high then return default end
  return n
end

--- The prompt as WAV bytes at the call's rate.
---@param rate integer
---@return string
local function prompt_wav(rate)
  local parts = {}
  for i, note in ipairs(PROMPT) do parts[i] = codec.tone(note.hz, note.ms, rate, 0.3) end
  return codec.wav_write(table.concat(parts), rate)
end

--- Plays the prompt and waits for one digit: the digit, or nil and "timeout" / "ended". The
--- timeout runs from the end of the prompt; a digit during the prompt stops it.
---@param call table
---@param wav string
---@param mark string
---@param timeout number
---@return string|nil, string|nil
local function ask(call, wav, mark, timeout)
  call:play(wav)
  call:mark(mark)
  local deadline
  while true do
    local wait = deadline and deadline - time.monotonic()
    if wait and wait <= 0 then return nil, "timeout" end
    local ev, err = call:recv(wait)
    if not ev then return nil, err end
    if ev.type == "stop" then return nil, "ended" end
    if ev.type == "dtmf" then
      if not deadline then call:clear() end
      return ev.digit
    elseif ev.type == "mark" and ev.name == mark then
      deadline = time.monotonic() + timeout
    end
  end
end

return {
  rate = 8000,
  ---@param call table
  run = function(call)
    local s = settings(call)
    local timeout = number_setting(s.timeout, DEFAULT_TIMEOUT, 0.1, 60)
    local tries = math.floor(number_setting(s.tries, DEFAULT_TRIES, 1, 10))
    local wav = prompt_wav(call.rate)
    for try = 1, tries do
      local digit, why = ask(call, wav, "prompt-" .. try, timeout)
      if why == "ended" then return end
      local option = digit and OPTIONS[digit]
      if option then
        log.info("ivr: option chosen", { run = call.run_id, digit = digit, option = option.name, try = try })
        flow.play_and_wait(call, codec.tone(option.hz, OPTION_MS, call.rate, 0.3), "option-" .. digit)
        return call:hangup()
      end
      log.info("ivr: no valid choice", { run = call.run_id, try = try, digit = digit, reason = why or "invalid" })
    end
    flow.play_and_wait(call, codec.tone(GOODBYE_HZ, GOODBYE_MS, call.rate, 0.3), "goodbye")
    call:hangup()
  end,
}
