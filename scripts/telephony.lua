-- The telephony API (DESIGN.md §5): place a call, answer the carrier's webhooks and status
-- callbacks, and hand the call's media WebSocket to its workflow.
--
--   POST /api/v1/telephony/initiate-call                       organisation API key
--   POST /api/v1/telephony/twiml, GET /ncco, /answer           the carrier's signature or the run's token
--   POST /api/v1/telephony/twilio/status-callback/{run}        Twilio signature
--   POST /api/v1/telephony/vonage/events/{run}                 Vonage signed JWT
--   POST /api/v1/telephony/events/{run}                        custom providers' signature
--   WS   /api/v1/telephony/ws/{workflow_id}/{user_id}/{run}    the run's media token
--
-- A run's workflow is one of its organisation's workflows (dialtone.store); the module its
-- `flow` names in scripts/workflows/ runs the call. Runs are read back through scripts/api_runs.lua.
local route = dialtone.route
local store, log = dialtone.store, dialtone.log
local flow = require("dialtone.flow")
local status = require("dialtone.status")
local runs = require("dialtone.runs")
local webhooks = require("dialtone.webhooks")
local api = require("dialtone.api")
local kit = require("dialtone.provider_kit")

local PREFIX = webhooks.PREFIX
local ID_PATTERN = "^[%w_%-]+$"
local MAX_ID = 64
local MIN_E164 = 8 -- characters: "+" and 7 digits

---@param v any
---@return boolean
local function is_id(v)
  return type(v) == "string" and #v <= MAX_ID and v:find(ID_PATTERN) ~= nil
end

---@param v any
---@return boolean
local function is_e164(v)
  return kit.is_e164(v) and #v >= MIN_E164 -- a country code and a subscriber number at least
end

--- The initiate-call body checked: the fields, or nil and a 400 response.
---@param req table
---@return table|nil, table|nil
local function read_initiate(req)
  local body, not_object = api.body(req)
  if not body then return nil, not_object end
  local to = body.phone_number or body.to_number
  if type(body.workflow_id) ~= "string" or not body.workflow_id:find("^[%w_]+$") then
    return nil, route.error(400, "invalid_workflow_id", "workflow_id must be the id of one of your workflows")
  end
  if not is_e164(to) then
    return nil, route.error(400, "invalid_phone_number",
      "phone_number must be E.164 with its country code, e.g. +14155550100; got " .. tostring(to))
  end
  if body.from_number ~= nil and not is_e164(body.from_number) then
    return nil, route.error(400, "invalid_from_number", "from_number must be E.164, e.g. +14155550100")
  end
  for _, field in ipairs({ "workflow_run_id", "user_id" }) do
    if body[field] ~= nil and not is_id(body[field]) then
      return nil, route.error(400, "invalid_" .. field, field .. " must be 1-" .. MAX_ID .. " of [A-Za-z0-9_-]")
    end
  end
  if body.config ~= nil and type(body.config) ~= "string" then
    return nil, route.error(400, "invalid_config", "config must be the id of a telephony configuration")
  end
  if body.options ~= nil and type(body.options) ~= "table" then
    return nil, route.error(400, "invalid_options", "options must be an object (passed to the provider)")
  end
  return { workflow_id = body.workflow_id, to = to, from = body.from_number, run_id = body.workflow_run_id,
           user_id = body.user_id, config = body.config, options = body.options }
end

--- Marks a run failed because the carrier would not place its call.
---@param run table
---@param err string
local function fail_run(run, err)
  store.update_run(run.id, { status = "failed", error = err, media_state = "done", ended_at = dialtone.time.now() })
  store.add_event(run.id, { source = "initiate", raw = err, status = "failed", outcome = "applied" })
end

--- The flow module of a run's workflow (one of its organisation's), or nil and why.
---@param organization_id string
---@param workflow_id string
---@return table|nil, string|nil
local function load_flow(organization_id, workflow_id)
  local workflow = store.get_workflow(organization_id, workflow_id)
  if not workflow then return nil, "no workflow " .. workflow_id end
  return flow.load(workflow.flow)
end

route.post(PREFIX .. "/initiate-call", api.protected(function(req, org)
  local input, bad = read_initiate(req)
  if not input then return bad end
  local wf, wf_err = load_flow(org.id, input.workflow_id)
  if not wf then return route.error(404, "unknown_workflow", wf_err) end
  if input.config then
    local config, config_err = store.get_config(org.id, input.config)
    if not config and not config_err then
      return route.error(404, "unknown_config", "no telephony configuration " .. input.config)
    end
  end
  local provider, config_id, config_name = dialtone.telephony.get_provider(org.id, input.config)
  if not provider then return route.error(422, "no_telephony_configuration", config_id) end
  if input.options ~= nil and provider.check_options then
    local fine, options_err = provider.check_options(input.options)
    if not fine then return route.error(400, "invalid_options", tostring(options_err)) end
  end
  local run, exists = store.create_run({
    id = input.run_id or runs.new_id(), organization_id = org.id, workflow_id = input.workflow_id,
    user_id = input.user_id or org.id, provider = provider.name, config_id = config_id, config_name = config_name,
    to_number = input.to, from_number = input.from, media_token = runs.new_media_token(), media_state = "waiting",
  })
  if not run then
    if exists == "exists" then
      return route.error(409, "run_exists", "workflow run " .. input.run_id .. " already exists")
    end
    error(exists)
  end
  local urls = webhooks.urls(run, provider.name)
  local ok, call, err = pcall(provider.initiate_call, input.to, urls.document, run.id, {
    from_number = input.from, status_callback_url = urls.events, media_url = urls.media, media_token = run.media_token,
    provider_options = input.options,
  })
  if not ok then -- a bug in the provider, not the carrier's answer: the run must not wait forever
    fail_run(run, "provider error: " .. tostring(call))
    log.error("provider raised placing a call", { run = run.id, provider = provider.name, error = tostring(call) })
    return route.json(500, { error = { code = "provider_error", message = "the " .. provider.name ..
                             " provider failed; see the server log" }, workflow_run_id = run.id })
  end
  if not call then
    fail_run(run, tostring(err))
    log.warn("carrier refused the call", { run = run.id, provider = provider.name, error = tostring(err) })
    return route.json(502, { error = { code = "carrier_error", message = tostring(err) }, workflow_run_id = run.id })
  end
  store.update_run(run.id, { call_id = call.call_id, from_number = input.from or call.from })
  local _, current = runs.apply_status(run, call.status or "initiated", { source = "initiate", raw_status = call.status })
  return route.json(200, {
    workflow_run_id = run.id, call_id = call.call_id, status = current, provider = provider.name,
  })
end))

--- The run a carrier request is about with its provider, or nil and the refusal.
---@param run_id any
---@return table|nil run, table provider_or_refusal
local function run_and_provider(run_id)
  local run = type(run_id) == "string" and store.get_run(run_id) or nil
  if not run then return nil, route.error(404, "unknown_run", "no workflow run " .. tostring(run_id)) end
  local provider, err = dialtone.telephony.get_provider(run.organization_id, run.config_id)
  if not provider then
    log.error("run's provider unavailable", { run = run.id, error = err })
    return nil, route.error(503, "provider_unavailable", "the run's telephony configuration cannot be used")
  end
  return run, provider
end

--- The webhook document (TwiML, NCCO, ...) the carrier fetches when the call connects: the
--- run's token must be in the query, and a signature, when the request carries one, must verify.
---@param req table
---@return table
local function webhook_document(req)
  local run_id = req.query.workflow_run_id
  local run, provider = run_and_provider(run_id)
  if not run then return provider end
  -- the run's token always (the document URL carries it), and a signature whenever one is sent
  local ok, why = webhooks.same_secret(req.query.token, run.media_token), "missing or wrong run token"
  if ok and webhooks.signed(provider, req) then ok, why = webhooks.verify(provider, req) end
  if not ok then
    webhooks.log_refused("webhook document", req, run.id, why)
    return route.error(403, "forbidden", "request not signed by the carrier")
  end
  if run.media_state ~= "waiting" or (run.status and status.is_final(run.status)) then
    return route.error(409, "run_not_waiting", "workflow run " .. run.id .. " is not waiting for a call to connect")
  end
  local urls = webhooks.urls(run, provider.name)
  local body, content_type = provider.get_webhook_response(run.workflow_id, run.user_id, run.id, {
    public_url = dialtone.config.public_url, media_url = urls.media, media_token = run.media_token,
    event_url = urls.events,
  })
  if not body then
    log.error("webhook document failed", { run = run.id, provider = provider.name, error = tostring(content_type) })
    return route.error(500, "webhook_document_failed", tostring(content_type))
  end
  return { status = 200, headers = { ["content-type"] = content_type }, body = body }
end

route.post(PREFIX .. "/twiml", webhook_document)
route.get(PREFIX .. "/ncco", webhook_document)
route.get(PREFIX .. "/answer", webhook_document)
route.post(PREFIX .. "/answer", webhook_document)

--- A status callback: verified, stored as an event, applied if it moves the run forward.
---@param req table
---@return table
local function status_callback(req)
  local run, provider = run_and_provider(req.params.workflow_run_id)
  if not run then return provider end
  local ok, why = webhooks.verify(provider, req)
  if not ok then
    webhooks.log_refused("status callback", req, run.id, why)
    return route.error(403, "forbidden", "request not signed by the carrier")
  end
  local data, data_err = webhooks.callback_data(req)
  if not data then return route.error(400, "invalid_body", data_err) end
  local raw = webhooks.redact(req.body, run.media_token)
  local parsed, not_status = provider.parse_status_callback(data)
  if not parsed then
    store.add_event(run.id, { source = provider.name, raw = raw, outcome = "ignored" })
    return route.json(200, { outcome = "ignored", reason = tostring(not_status) })
  end
  if run.call_id and parsed.call_id and parsed.call_id ~= run.call_id then
    store.add_event(run.id, { source = provider.name, raw = raw, raw_status = parsed.raw_status,
                                status = parsed.status, outcome = "wrong_call" })
    return route.error(400, "wrong_call", "the callback is about call " .. tostring(parsed.call_id) ..
                       ", not this run's call")
  end
  local outcome, current = runs.apply_status(run, parsed.status, {
    source = provider.name, raw = raw, raw_status = parsed.raw_status, duration = parsed.duration,
  })
  if outcome == "applied" and status.is_final(current) then
    dialtone.task.spawn(runs.fetch_cost, run.id, provider)
  end
  return route.json(200, { outcome = outcome, status = current })
end

route.post(PREFIX .. "/twilio/status-callback/{workflow_run_id}", status_callback)
route.post(PREFIX .. "/vonage/events/{workflow_run_id}", status_callback)
route.post(PREFIX .. "/events/{workflow_run_id}", status_callback)

--- Asks the carrier to end a run's call once its workflow is done, for providers whose call
--- outlives the media stream (hangup_call is optional in the contract).
---@param provider table
---@param run_id string
local function end_carrier_call(provider, run_id)
  local run = store.get_run(run_id)
  if not provider.hangup_call or not run or not run.call_id or (run.status and status.is_final(run.status)) then return end
  local ok, err = provider.hangup_call(run.call_id)
  if not ok then log.warn("carrier hangup failed", { run = run_id, provider = provider.name, error = tostring(err) }) end
end

--- The media WebSocket: only for a run waiting for media, and only with the run's token (a
--- custom parameter `token` of the stream's start, or `token` in the URL's query).
route.ws(PREFIX .. "/ws/{workflow_id}/{user_id}/{workflow_run_id}", function(req)
  local p = req.params
  local run, provider = run_and_provider(p.workflow_run_id)
  if not run then return provider end
  if run.workflow_id ~= p.workflow_id or run.user_id ~= p.user_id then
    return route.error(404, "unknown_run", "no such workflow run")
  end
  if run.media_state ~= "waiting" or (run.status and status.is_final(run.status)) then
    return route.error(409, "run_not_waiting", "workflow run " .. run.id .. " is not waiting for media")
  end
  local wf, wf_err = load_flow(run.organization_id, run.workflow_id)
  if not wf then return route.error(404, "unknown_workflow", wf_err) end
  store.update_run(run.id, { media_state = "connecting" })
  local call, err = provider.handle_websocket(req, run.workflow_id, run.user_id, run.id, { rate = wf.rate or 8000 })
  if not call then
    store.update_run(run.id, { media_state = "waiting" })
    webhooks.log_refused("media websocket", req, run.id, tostring(err))
    return nil
  end
  local token = (call.params or {}).token or req.query.token
  if not webhooks.same_secret(token, run.media_token) then
    call:refuse("missing or wrong media token")
    store.update_run(run.id, { media_state = "waiting" })
    webhooks.log_refused("media websocket", req, run.id, "missing or wrong media token")
    return nil
  end
  call.run_id, call.workflow_id, call.provider = run.id, run.workflow_id, provider.name
  call.to, call.from = run.to_number, run.from_number
  store.update_run(run.id, { media_state = "connected" })
  log.info("media connected", { run = run.id, workflow = run.workflow_id, provider = provider.name })
  local ok, failure = pcall(wf.run, call)
  call:hangup()
  store.update_run(run.id, { media_state = "done" })
  end_carrier_call(provider, run.id)
  if not ok then error(failure, 0) end
  return nil
end)
