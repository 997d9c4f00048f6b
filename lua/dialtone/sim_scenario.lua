--- Scenarios of the simulated carrier (providers/sim.lua): what the callee does once the call is
--- answered. A scenario is a list of steps, or `{ ring = seconds, steps = {...} }`:
---
---     { ring = 0.5, steps = {
---         { tone = 440, ms = 1000 },         -- a sine (Hz), amplitude 0.3 unless `amplitude`
---         { silence = 500 },                 -- ms
---         { wav = "audio/hello.wav" },       -- a WAV under scripts/ (mono, PCM16/G.711, 8/16 kHz)
---         { dtmf = "12#", at = 1.5 },        -- digits, from `at` seconds after the answer, or
---                                            -- without `at` where the step is in the audio
---         { hangup_after = 5 },              -- seconds after the answer (else the flow hangs up)
---     } }
---
--- Audio steps play one after the other, then the callee is silent. `parse` checks a scenario
--- (a table or its JSON text) and loads its WAV files; `player` paces it out frame by frame.
local scenario = {}

local codec, json, assets = dialtone.codec, dialtone.json, dialtone.assets

scenario.RATE = 16000                    -- the wire rate of the simulated carrier
scenario.FRAME_BYTES = 640               -- 20 ms of PCM16 at 16 kHz
scenario.MAX_SECONDS = 3600              -- a call, a step, ring or hangup_after
scenario.MAX_STEPS = 100
scenario.MAX_DIGITS = 32                 -- in one dtmf step
scenario.DIGIT_SPACING = 0.25            -- seconds between the digits of one dtmf step
scenario.DEFAULT_RING = 0.5
scenario.DEFAULT_AMPLITUDE = 0.3

--- The default scenario: a second of 440 Hz, DTMF "1" at 1.5 s, hang up after 5 s.
scenario.DEFAULT = {
  ring = scenario.DEFAULT_RING,
  steps = { { tone = 440, ms = 1000 }, { dtmf = "1", at = 1.5 }, { hangup_after = 5 } },
}

local KINDS = { "tone", "silence", "wav", "dtmf", "hangup_after" }
local ALLOWED = {
  tone = { tone = true, ms = true, amplitude = true },
  silence = { silence = true },
  wav = { wav = true },
  dtmf = { dtmf = true, at = true },
  hangup_after = { hangup_after = true },
}
local MAX_MS = scenario.MAX_SECONDS * 1000
local MAX_TONE_MS = 60000   -- a tone is rendered whole when its step starts

---@param v any
---@param lo number
---@param hi number
---@return boolean
local function in_range(v, lo, hi)
  return type(v) == "number" and v == v and v >= lo and v <= hi
end

--- The step's kind (its one kind key), or nil and why.
---@param step table
---@return string|nil, string|nil
local function kind_of(step)
  local found
  for _, k in ipairs(KINDS) do
    if step[k] ~= nil then
      if found then return nil, "has both '" .. found .. "' and '" .. k .. "'" end
      found = k
    end
  end
  if not found then return nil, "needs one of tone, silence, wav, dtmf, hangup_after" end
  for key in pairs(step) do
    if not ALLOWED[found][key] then return nil, "unknown key '" .. tostring(key) .. "' in a " .. found .. " step" end
  end
  return found
end

--- PCM16 at 16 kHz of a WAV under scripts/, or nil and why.
---@param path any
---@return string|nil, string|nil
local function load_wav(path)
  if type(path) ~= "string" or not path:find("^[%w_%-][%w_%-./]*%.wav$") or path:find("..", 1, true) then
    return nil, "wav must be a relative path under scripts/ ending in .wav, without '..'"
  end
  local bytes, err = assets.read(path)
  if not bytes then return nil, "wav '" .. path .. "': " .. tostring(err) end
  local wav, wav_err = codec.wav_read(bytes)
  if not wav then return nil, "wav '" .. path .. "': " .. tostring(wav_err) end
  if wav.channels ~= 1 then return nil, "wav '" .. path .. "' must be mono" end
  if wav.rate == scenario.RATE then return wav.pcm end
  if wav.rate ~= 8000 then return nil, "wav '" .. path .. "' must be 8000 or 16000 Hz" end
  return codec.resampler(8000, scenario.RATE):process(wav.pcm)
end

--- One step checked (and loaded); returns its normalized copy and its audio length in seconds.
---@param step any
---@return table|nil, number|string
local function parse_step(step)
  if type(step) ~= "table" then return nil, "must be a table" end
  local kind, why = kind_of(step)
  if not kind then return nil, why end
  if kind == "tone" then
    if not in_range(step.tone, 1, scenario.RATE / 2 - 1) then return nil, "tone must be a frequency in Hz (1-7999)" end
    if not in_range(step.ms, 1, MAX_TONE_MS) or step.ms % 1 ~= 0 then
      return nil, "a tone needs ms, whole milliseconds (1-" .. MAX_TONE_MS .. ")"
    end
    local amp = step.amplitude or scenario.DEFAULT_AMPLITUDE
    if not in_range(amp, 0, 1) then return nil, "amplitude must be between 0 and 1" end
    return { tone = step.tone, ms = step.ms, amplitude = amp }, step.ms / 1000
  elseif kind == "silence" then
    if not in_range(step.silence, 1, MAX_MS) or step.silence % 1 ~= 0 then
      return nil, "silence must be whole milliseconds (1-" .. MAX_MS .. ")"
    end
    return { silence = step.silence }, step.silence / 1000
  elseif kind == "wav" then
    local pcm, err = load_wav(step.wav)
    if not pcm then return nil, err end
    return { wav = step.wav, pcm = pcm }, #pcm / 2 / scenario.RATE
  elseif kind == "dtmf" then
    if type(step.dtmf) ~= "string" or not step.dtmf:find("^[0-9*#A-D]+$") or #step.dtmf > scenario.MAX_DIGITS then
      return nil, "dtmf must be 1-" .. scenario.MAX_DIGITS .. " of 0-9 * # A-D"
    end
    if step.at ~= nil and not in_range(step.at, 0, scenario.MAX_SECONDS) then
      return nil, "at must be seconds after the answer (0-" .. scenario.MAX_SECONDS .. ")"
    end
    return { dtmf = step.dtmf, at = step.at }, 0
  end
  if not in_range(step.hangup_after, 0, scenario.MAX_SECONDS) then
    return nil, "hangup_after must be seconds after the answer (0-" .. scenario.MAX_SECONDS .. ")"
  end
  return { hangup_after = step.hangup_after }, 0
end

--- The scenario's parts: ring and steps, from a list or {ring=, steps=}.
---@param value table
---@return number|nil ring, table|string steps_or_err
local function split(value)
  if value.steps == nil and value.ring == nil then return scenario.DEFAULT_RING, value end
  for key in pairs(value) do
    if key ~= "ring" and key ~= "steps" then return nil, "unknown key '" .. tostring(key) .. "' (expected ring, steps)" end
  end
  local ring = value.ring or scenario.DEFAULT_RING
  if not in_range(ring, 0, 60) then return nil, "ring must be seconds (0-60)" end
  if type(value.steps) ~= "table" then return nil, "steps must be a list of steps" end
  return ring, value.steps
end

--- Checks a scenario and loads its WAV files. The result: {ring, steps, dtmf = {{at, digit}...}
--- sorted by time (digits due at the same time in the order written), hangup_after (or nil),
--- audio_seconds}.
---@param value table|string a scenario table or its JSON text
---@return table|nil, string|nil err "scenario: step N: ..."
function scenario.parse(value)
  if type(value) == "string" then
    local ok, decoded, err = pcall(json.decode, value)
    if not ok or decoded == nil then return nil, "scenario: not valid JSON: " .. tostring(ok and err or decoded) end
    value = decoded
  end
  if type(value) ~= "table" then return nil, "scenario: must be a list of steps or {ring, steps}" end
  local ring, steps = split(value)
  if not ring then return nil, "scenario: " .. steps end
  local n = #steps
  for key in pairs(steps) do
    if type(key) ~= "number" or key % 1 ~= 0 or key < 1 or key > n then
      return nil, "scenario: steps must be a list (found key '" .. tostring(key) .. "')"
    end
  end
  if n > scenario.MAX_STEPS then return nil, "scenario: at most " .. scenario.MAX_STEPS .. " steps" end
  local out = { ring = ring, steps = {}, dtmf = {}, audio_seconds = 0 }
  for i = 1, n do
    local step, len = parse_step(steps[i])
    if not step then return nil, "scenario: step " .. i .. ": " .. len end
    if step.hangup_after then
      if out.hangup_after then return nil, "scenario: step " .. i .. ": a second hangup_after" end
      out.hangup_after = step.hangup_after
    elseif step.dtmf then
      local at = step.at or out.audio_seconds
      for d = 1, #step.dtmf do
        out.dtmf[#out.dtmf + 1] = { at = at + (d - 1) * scenario.DIGIT_SPACING, digit = step.dtmf:sub(d, d),
                                    order = #out.dtmf + 1 }
      end
    end
    out.steps[#out.steps + 1] = step
    out.audio_seconds = out.audio_seconds + len
  end
  table.sort(out.dtmf, function(a, b) return a.at < b.at or (a.at == b.at and a.order < b.order) end)
  return out
end

--- A player of a parsed scenario's audio: `next()` returns the next 20 ms frame (PCM16,
--- 16 kHz), silence once the steps are done. A tone is rendered when its step is reached;
--- silence is never rendered.
---@param parsed table from scenario.parse
---@return {next: fun(): string}
function scenario.player(parsed)
  local FRAME = scenario.FRAME_BYTES
  local zeros = string.rep("\0", FRAME)
  local index, pcm, pos, quiet = 0, "", 1, 0   -- quiet: bytes of silence left in the step

  --- Moves to the next step; false once there is none.
  local function advance()
    index = index + 1
    local step = parsed.steps[index]
    if not step then return false end
    pcm, pos, quiet = "", 1, 0
    if step.tone then
      pcm = codec.tone(step.tone, step.ms, scenario.RATE, step.amplitude)
    elseif step.silence then
      quiet = step.silence * scenario.RATE / 1000 * 2
    elseif step.pcm then
      pcm = step.pcm
    end
    return true
  end

  local function next_frame()
    local parts, have = {}, 0
    while have < FRAME do
      local chunk
      if quiet > 0 then
        chunk = zeros:sub(1, math.min(quiet, FRAME - have))
        quiet = quiet - #chunk
      elseif pos <= #pcm then
        chunk = pcm:sub(pos, pos + FRAME - have - 1)
        pos = pos + #chunk
      elseif index > #parsed.steps or not advance() then
        chunk = zeros:sub(1, FRAME - have)
      end
      if chunk then
        parts[#parts + 1] = chunk
        have = have + #chunk
      end
    end
    return table.concat(parts)
  end
  return { next = next_frame }
end

return scenario
