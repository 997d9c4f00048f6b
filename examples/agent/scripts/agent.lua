--- Run it:
---   dialtone serve --script-dir examples/agent --listen 127.0.0.1:8765 --data-dir /tmp/agent-data
---
--- A tiny voice agent for the agent_bridge workflow: it answers on ws://…/agent and echoes the
--- caller's audio back DELAY_MS later, over the bridge protocol (README "Bridging a call to an
--- agent"). It says it is ready with a mark, hangs up when the caller presses '#', and logs each
--- call's start and end. The delay is counted in frames, which the carrier sends at real time.
local json, log = dialtone.json, dialtone.log

local DELAY_MS = 300
local FRAME_MS = 20
local IDLE_TIMEOUT = 60

--- Handles one text message of the bridge; returns false when the call is over.
---@param conn table
---@param text string
---@return boolean
local function on_text(conn, text)
  local ok, msg = pcall(json.decode, text)
  if not ok or type(msg) ~= "table" then return true end
  if msg.event == "start" then
    log.info("agent: call started", { call = msg.call_id, rate = msg.rate })
    conn:send(json.encode({ event = "mark", name = "agent-ready" }), "text")
  elseif msg.event == "dtmf" and msg.digit == "#" then
    conn:send(json.encode({ event = "hangup" }), "text")
  elseif msg.event == "stop" then
    return false
  end
  return true
end

dialtone.route.ws("/agent", function(req)
  local conn = dialtone.ws.accept(req)
  if not conn then return nil end
  local queue, head, tail = {}, 1, 0
  while true do
    local data, kind = conn:recv(IDLE_TIMEOUT)
    if not data or kind == "close" then break end
    if kind == "binary" then
      tail = tail + 1
      queue[tail] = data
      if tail - head + 1 > DELAY_MS / FRAME_MS then
        conn:send(queue[head], "binary")
        queue[head] = nil
        head = head + 1
      end
    elseif kind == "text" and not on_text(conn, data) then
      break
    end
  end
  log.info("agent: call over", { frames = tail })
  conn:close(1000)
end)
