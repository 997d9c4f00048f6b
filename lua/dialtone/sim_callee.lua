--- The callee of a simulated call (providers/sim.lua): connects to the run's media WebSocket as
--- a carrier does, plays the scenario's side paced at real time in 20 ms frames, sends its DTMF
--- at the given times, answers marks, and records what the flow sent. It ends when the flow
--- closes the socket, the scenario hangs up, hangup_call is asked, or the call's time limit.
---
--- The wire protocol (also the description handle_websocket gives dialtone.media.accept):
--- JSON text messages, audio as base64 of 16-bit little-endian PCM at 16 kHz, 20 ms a message.
---   callee → flow: {"event":"start","stream_id":S,"start":{"call_id":C,"custom_parameters":{"token":T}}}
---                  {"event":"media","stream_id":S,"media":{"payload":B64}}
---                  {"event":"dtmf","stream_id":S,"dtmf":{"digit":"1"}}
---                  {"event":"mark","stream_id":S,"mark":{"name":N}}   (a mark of the flow, played)
---                  {"event":"stop","stream_id":S}                     (the callee hangs up)
---   flow → callee: media, mark and {"event":"clear","stream_id":S}
local callee = {}

local scenario = require("dialtone.sim_scenario")
local calls = require("dialtone.sim_calls")

local ws, json, crypto, codec, time = dialtone.ws, dialtone.json, dialtone.crypto, dialtone.codec, dialtone.time

callee.PROTOCOL = {
  name = "sim", encoding = "l16", rate = scenario.RATE, event_key = "event",
  inbound = {
    start = { event = "start", stream_id = "stream_id", call_id = "start.call_id",
              params = "start.custom_parameters" },
    media = { event = "media", payload = "media.payload" },
    dtmf = { event = "dtmf", digit = "dtmf.digit" },
    mark = { event = "mark", name = "mark.name" },
    stop = { event = "stop" },
  },
  outbound = {
    media = { event = "media", stream_id = "$stream_id", media = { payload = "$payload" } },
    mark = { event = "mark", stream_id = "$stream_id", mark = { name = "$name" } },
    clear = { event = "clear", stream_id = "$stream_id" },
  },
}

local FRAME_SECONDS = 0.02
local CONNECT_TIMEOUT = 10
local LOUD = 1000            -- a frame whose peak passes this is counted as sound (loud_ms)
local MAX_MESSAGE = 16384    -- bytes: larger messages from the flow are ignored
local HANGUP_GRACE = 0.2     -- s: how long a close the flow sent before hangup_call may take to arrive

--- The largest absolute sample of a PCM16 frame.
---@param pcm string
---@return integer
local function peak(pcm)
  local top = 0
  for i = 1, #pcm - 1, 2 do
    local lo, hi = pcm:byte(i, i + 1)
    local v = hi * 256 + lo
    if v >= 32768 then v = 65536 - v end
    if v > top then top = v end
  end
  return top
end

--- One session: the connection, the call's record, and the decoders of what the flow sends.
---@param conn table
---@param call SimCall
---@param stream_id string
---@return table
local function session(conn, call, stream_id)
  local s = { conn = conn, call = call, stream_id = stream_id, to8k = codec.resampler(scenario.RATE, 8000),
              detector = codec.dtmf_detector() }
  function s.send(message)
    message.stream_id = stream_id
    return conn:send(json.encode(message))
  end
  return s
end

--- Handles one message from the flow.
---@param s table the session
---@param text string
local function on_message(s, text)
  if #text > MAX_MESSAGE then return end
  local ok, msg = pcall(json.decode, text)
  if not ok or type(msg) ~= "table" then return end
  local heard = s.call.heard
  if msg.event == "media" and type(msg.media) == "table" and type(msg.media.payload) == "string" then
    local pcm = crypto.base64_decode(msg.media.payload)
    if not pcm or #pcm % 2 ~= 0 then return end
    heard.frames = heard.frames + 1
    local ms = #pcm / 2 / scenario.RATE * 1000
    heard.audio_ms = heard.audio_ms + ms
    if peak(pcm) > LOUD then heard.loud_ms = heard.loud_ms + ms end
    local digits = s.detector:feed(s.to8k:process(pcm))
    if #digits > 0 then calls.heard_digits(s.call, table.concat(digits)) end
  elseif msg.event == "mark" and type(msg.mark) == "table" and type(msg.mark.name) == "string" then
    calls.heard_mark(s.call, msg.mark.name)
    s.send({ event = "mark", mark = { name = msg.mark.name } })   -- played: the flow's audio is paced
  elseif msg.event == "clear" then
    heard.clears = heard.clears + 1
  end
end

--- After hangup_call: whether the flow had closed the stream first. The telephony API asks for
--- hangup_call only once the flow has ended, so the flow's close may still be on its way behind
--- the messages not read yet; it decides who ended the call if it arrives within the grace.
---@param s table the session
---@param conn table
---@return boolean
local function closed_by_flow_first(s, conn)
  local deadline = time.monotonic() + HANGUP_GRACE
  while true do
    local left = deadline - time.monotonic()
    if left <= 0 then return false end
    local data, kind = conn:recv(left)
    if kind == "close" or kind == "closed" then return true end
    if data == nil then return false end -- the grace is over
    if kind == "text" then on_message(s, data) end
  end
end

--- Plays the scenario until the call ends. Returns who ended it: "flow", "callee",
--- "hangup_call" or "limit"; or nil and err when the media WebSocket could not be used.
---@param call SimCall
---@param stream_url string the media WebSocket's URL, from the webhook document
---@param token string|nil the media token, sent as the custom parameter `token`
---@param parsed table the scenario (sim_scenario.parse)
---@return string|nil, string|nil
function callee.run(call, stream_url, token, parsed)
  local conn, err = ws.connect(stream_url, { timeout = CONNECT_TIMEOUT })
  if not conn then return nil, "media WebSocket: " .. tostring(err) end
  local s = session(conn, call, "SIMST" .. crypto.hex(crypto.random_bytes(8)))
  s.send({ event = "start", start = { call_id = call.call_id, custom_parameters = { token = token } } })
  local player, digits, next_digit = scenario.player(parsed), parsed.dtmf, 1
  local limit = parsed.hangup_after or scenario.MAX_SECONDS
  local t0, frames = time.monotonic(), 0
  while true do
    if call.hangup_requested then
      if closed_by_flow_first(s, conn) then return "flow" end
      conn:close(1000)
      return "hangup_call"
    end
    local elapsed = time.monotonic() - t0
    if elapsed >= limit then
      s.send({ event = "stop" })
      conn:close(1000)
      return parsed.hangup_after and "callee" or "limit"
    end
    while digits[next_digit] and digits[next_digit].at <= elapsed do
      local d = digits[next_digit].digit
      s.send({ event = "dtmf", dtmf = { digit = d } })
      call.sent.dtmf = call.sent.dtmf .. d
      next_digit = next_digit + 1
    end
    local due = frames * FRAME_SECONDS
    if elapsed >= due then
      if not s.send({ event = "media", media = { payload = crypto.base64_encode(player.next()) } }) then return "flow" end
      frames = frames + 1
      call.sent.audio_ms = frames * FRAME_SECONDS * 1000
    end
    local data, kind = conn:recv(math.max(0, frames * FRAME_SECONDS - (time.monotonic() - t0)))
    if kind == "text" then
      on_message(s, data)
    elseif kind == "close" or kind == "closed" then
      return "flow"
    end
  end
end

return callee
