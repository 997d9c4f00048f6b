--- Runs call flows (workflows): a workflow is a module in scripts/workflows/ returning
--- `{ run = function(call) ... end, rate = 8000 | 16000 }`.
local flow = {}

--- Loads a workflow module by name, or returns nil and why.
---@param name string
---@return table|nil, string|nil
function flow.load(name)
  if type(name) ~= "string" or not name:match("^[%w_]+$") then
    return nil, "invalid workflow name"
  end
  local ok, wf = pcall(require, "workflows." .. name)
  if not ok then return nil, tostring(wf) end
  if type(wf) ~= "table" or type(wf.run) ~= "function" then
    return nil, "workflows/" .. name .. ".lua must return a table with a run(call) function"
  end
  return wf
end

--- Plays audio followed by a mark and waits until the carrier reports the mark played; other
--- events meanwhile (the caller's audio, DTMF) are passed over.
---@param call table
---@param audio string what call:play takes
---@param mark string
---@return boolean played false when the call ended first
function flow.play_and_wait(call, audio, mark)
  call:play(audio)
  call:mark(mark)
  while true do
    local ev = call:recv()
    if not ev or ev.type == "stop" then return false end
    if ev.type == "mark" and ev.name == mark then return true end
  end
end

--- Runs workflow `name` on the media stream of a WebSocket upgrade request, in the carrier
--- protocol given (see dialtone.media.accept). The stream is accepted here at the workflow's
--- rate; the call is hung up when run(call) returns or fails.
---@param req table the upgrade request (inside a dialtone.route.ws handler)
---@param name string
---@param protocol string|table "twilio", "vonage" or a protocol description table
---@return table|nil response a refusal when the workflow does not exist
function flow.serve(req, name, protocol)
  local wf, err = flow.load(name)
  if not wf then
    return dialtone.route.error(404, "unknown_workflow", err)
  end
  local call = dialtone.media.accept(req, { protocol = protocol, rate = wf.rate or 8000 })
  if not call then return nil end
  local ok, failure = pcall(wf.run, call)
  call:hangup()
  if not ok then error(failure, 0) end
  return nil
end

--- Runs workflow `name` on the Twilio media stream of a WebSocket upgrade request.
---@param req table the upgrade request (inside a dialtone.route.ws handler)
---@param name string
---@return table|nil response a refusal when the workflow does not exist
function flow.serve_twilio(req, name)
  return flow.serve(req, name, "twilio")
end

return flow
