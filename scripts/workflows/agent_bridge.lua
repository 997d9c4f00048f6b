--- Run it:
---   dialtone serve --script-dir examples/agent --listen 127.0.0.1:8765 --data-dir /tmp/agent-data &
---   dialtone workflow add default agent_bridge agent_bridge    # once (examples/README.md); then in `dialtone repl`:
---   > call("+15550100123", "agent_bridge", { options = { scenario = { { tone = 440, ms = 1000 }, { hangup_after = 3 } } } })
---
--- Agent bridge: streams the call's audio to an external WebSocket agent and plays back what
--- the agent sends, both ways in C (README "Bridging a call to an agent"). The agent's URL is the
--- workflow's `agent_url` setting, else DEFAULT_AGENT — the tiny echo agent in examples/agent/.
--- If the agent cannot be reached, the caller hears a low tone and the call ends.
local flow = require("dialtone.flow")

local codec, store, log = dialtone.codec, dialtone.store, dialtone.log

local DEFAULT_AGENT = "ws://127.0.0.1:8765/agent"
local CONNECT_TIMEOUT = 5
local UNAVAILABLE_HZ, UNAVAILABLE_MS = 300, 600

--- The agent's URL: the workflow's agent_url setting, or the default.
---@param call table
---@return string
local function agent_url(call)
  local run = call.run_id and store.get_run(call.run_id)
  local wf = run and run.workflow_id and store.get_workflow(run.organization_id, run.workflow_id)
  local url = wf and wf.settings and wf.settings.agent_url
  if type(url) == "string" and url ~= "" then return url end
  return DEFAULT_AGENT
end

--- Plays the "agent unavailable" tone and waits until it has been played.
---@param call table
local function unavailable(call)
  flow.play_and_wait(call, codec.tone(UNAVAILABLE_HZ, UNAVAILABLE_MS, call.rate, 0.3), "agent-unavailable")
end

return {
  rate = 8000,
  ---@param call table
  run = function(call)
    local url = agent_url(call)
    local result, err = call:bridge(url, { rate = call.rate, timeout = CONNECT_TIMEOUT })
    if not result then
      log.warn("agent bridge: agent unavailable", { run = call.run_id, url = url, error = err })
      unavailable(call)
    else
      log.info("agent bridge: over", { run = call.run_id, result = result })
    end
    call:hangup()
  end,
}
