--- The simulated carrier: a provider with no account that behaves like a carrier on this machine,
--- through the paths a real one uses — it POSTs signed status callbacks and fetches the webhook
--- document over HTTP, and opens the run's media WebSocket as the callee — so flows can be
--- prototyped and tested with no carrier at all (providers/README.md, "sim").
---
---     local sim = dialtone.telephony.provider("sim").new({ webhook_secret = "..." })
---     local call = sim.initiate_call("+15550100123", document_url, run_id, {
---       status_callback_url = events_url,
---       provider_options = { scenario = { { tone = 440, ms = 1000 }, { hangup_after = 3 } } },
---     })
---
--- The callee's side comes from a scenario (lua/dialtone/sim_scenario.lua): opts.provider_options
--- .scenario, else the configuration's `scenario` (JSON), else the default. Test numbers:
--- +15550100001 busy, +15550100002 no-answer, +15550100003 failed; any other number answers.
--- Calls are priced at rate_per_minute per started minute. Call state lives in the script
--- generation that placed the call (lua/dialtone/sim_calls.lua says what a reload does).
local kit = require("dialtone.provider_kit")
local status = require("dialtone.status")
local scenario = require("dialtone.sim_scenario")
local signature = require("dialtone.sim_signature")
local calls = require("dialtone.sim_calls")
local carrier = require("dialtone.sim_carrier")
local callee = require("dialtone.sim_callee")

local json, time, media, task = dialtone.json, dialtone.time, dialtone.media, dialtone.task
local number_list, is_e164, is_text = kit.number_list, kit.is_e164, kit.is_text

local DEFAULT_RATE = "0.0100"
local DEFAULT_CURRENCY = "USD"
local DEFAULT_FROM = "+15550100000"
local MIN_SECRET = 16

local FIELDS = {
  { name = "webhook_secret", label = "Webhook secret (signs the simulated callbacks)", type = "string",
    secret = true, required = true },
  { name = "rate_per_minute", label = "Rate per started minute", type = "string", default = DEFAULT_RATE },
  { name = "currency", label = "Currency", type = "string", default = DEFAULT_CURRENCY },
  { name = "scenario", label = "Default scenario (JSON)", type = "text" },
  { name = "from_numbers", label = "From numbers", type = "phone_list", default = DEFAULT_FROM },
}

---@class SimConfig
---@field webhook_secret string|nil
---@field rate_per_minute string
---@field currency string
---@field scenario string|nil
---@field from_numbers string[]

--- A normalized copy of a configuration table (defaults applied).
---@param config table
---@return SimConfig
local function normalize_config(config)
  local function text(v, default) if v == nil or v == "" then return default end return v end
  local from = number_list(config.from_numbers)
  return {
    webhook_secret = config.webhook_secret,
    rate_per_minute = text(config.rate_per_minute, DEFAULT_RATE),
    currency = text(config.currency, DEFAULT_CURRENCY),
    scenario = text(config.scenario, nil),
    from_numbers = #from > 0 and from or { DEFAULT_FROM },
  }
end

--- The call's scenario, parsed: opts.provider_options.scenario, the configuration's, or the default.
---@param config SimConfig
---@param opts table
---@return table|nil, string|nil
local function pick_scenario(config, opts)
  local options = opts.provider_options
  if options ~= nil and type(options) ~= "table" then return nil, "provider_options must be an object" end
  local chosen = options and options.scenario
  if chosen == nil then chosen = config.scenario end
  if chosen == nil then chosen = scenario.DEFAULT end
  return scenario.parse(chosen)
end

--- Builds the provider around one configuration.
---@param config SimConfig
---@return table spec the provider table, before provider.define checks it
local function build(config)
  local p = {
    name = "sim", title = "Simulated carrier", fields = FIELDS,
    audio = { encoding = callee.PROTOCOL.encoding, rate = callee.PROTOCOL.rate },
    signature_header = signature.HEADER,
  }

  --- true, or false and the list of {field=, message=} problems.
  ---@return boolean, {field: string, message: string}[]|nil
  function p.validate_config()
    local problems = {}
    local function add(field, message) problems[#problems + 1] = { field = field, message = message } end
    if type(config.webhook_secret) ~= "string" or #config.webhook_secret < MIN_SECRET then
      add("webhook_secret", "must be at least " .. MIN_SECRET .. " characters")
    end
    local rate = config.rate_per_minute
    if type(rate) ~= "string" or not rate:find("^%d+%.?%d*$") or #rate > 16 or #(rate:match("%.(%d*)$") or "") > 6 then
      add("rate_per_minute", "must be a decimal number such as 0.0100 (at most 6 decimals)")
    end
    if type(config.currency) ~= "string" or not config.currency:find("^%u%u%u$") then
      add("currency", "must be a three-letter ISO 4217 code such as USD")
    end
    if config.scenario ~= nil then
      local ok, err = scenario.parse(config.scenario)
      if not ok then add("scenario", err) end
    end
    kit.check_numbers(config.from_numbers, "from_numbers", add)
    if #problems > 0 then return false, problems end
    return true
  end

  --- nil when the configuration is usable, else the problems as one message.
  local config_error = kit.config_checker(p)

  --- Checks initiate-call's options before the run is created: a scenario that does not parse.
  ---@param provider_options table|nil
  ---@return boolean|nil, string|nil
  function p.check_options(provider_options)
    local parsed, err = pick_scenario(config, { provider_options = provider_options })
    if not parsed then return nil, "sim: " .. err end
    return true
  end

  --- Places a simulated call: returns at once, the call goes on in a background task.
  ---@param to_number string E.164 (the test numbers choose the outcome)
  ---@param webhook_url string where the webhook document is fetched (POST, signed)
  ---@param workflow_run_id any
  ---@param opts {from_number: string|nil, status_callback_url: string|nil, provider_options: table|nil}|nil
  ---@return {call_id: string, status: string, raw: table}|nil, string|nil
  function p.initiate_call(to_number, webhook_url, workflow_run_id, opts)
    opts = opts or {}
    local err = config_error()
    if err then return nil, err end
    if not is_e164(to_number) then return nil, "sim: to_number must be E.164 (+ and up to 15 digits)" end
    if type(webhook_url) ~= "string" or not webhook_url:lower():find("^https?://[^/?#]+") then
      return nil, "sim: webhook_url must be an http:// or https:// URL"
    end
    local cb = opts.status_callback_url
    if cb ~= nil and (type(cb) ~= "string" or not cb:lower():find("^https?://[^/?#]+")) then
      return nil, "sim: status_callback_url must be an http:// or https:// URL"
    end
    local from = opts.from_number or config.from_numbers[1]
    if not is_e164(from) then return nil, "sim: from number " .. tostring(from) .. " is not E.164" end
    local parsed, scenario_err = pick_scenario(config, opts)
    if not parsed then return nil, "sim: " .. scenario_err end
    local call = calls.create({ call_id = calls.new_id(), to = to_number, from = from,
                                rate_per_minute = config.rate_per_minute, currency = config.currency }, time.now())
    task.spawn(carrier.run, { call = call, secret = config.webhook_secret, webhook_url = webhook_url,
                              status_callback_url = cb, scenario = parsed })
    return { call_id = call.call_id, status = "initiated", from = from,
             raw = { call_id = call.call_id, to = to_number, from = from, workflow_run_id = tostring(workflow_run_id) } }
  end

  --- The call as the simulated carrier sees it: {call_id, status, raw = calls.view(...)}.
  ---@param call_id string
  ---@return {call_id: string, status: string, raw: table}|nil, string|nil
  function p.get_call_status(call_id)
    local call = calls.get(call_id)
    if not call then return nil, "sim: unknown call " .. tostring(call_id) .. " (placed before a reload or restart?)" end
    return { call_id = call.call_id, status = status.normalize("sim", call.status), raw = calls.view(call) }
  end

  --- The configured from numbers.
  ---@return string[]
  function p.get_available_phone_numbers()
    local out = {}
    for i, n in ipairs(config.from_numbers) do out[i] = n end
    return json.array(out)
  end

  --- Checks X-Sim-Signature over url .. body, the event id and the timestamp.
  ---@param webhook_url string the URL requested (public_url + request target)
  ---@param params table|nil unused: the simulated carrier posts JSON
  ---@param sig string|nil the X-Sim-Signature header
  ---@param req {body: string|nil}|nil
  ---@return boolean, {replay_key: string, ttl: number}|string|nil
  function p.verify_webhook_signature(webhook_url, params, sig, req)
    return signature.verify(config.webhook_secret, webhook_url, req and req.body, sig, time.now())
  end

  --- The document the simulated carrier fetches on answer: {stream_url, token} as JSON.
  ---@param workflow_id any
  ---@param user_id any
  ---@param workflow_run_id any
  ---@param opts {media_url: string, media_token: string|nil}
  ---@return string|nil body, string content_type_or_err
  function p.get_webhook_response(workflow_id, user_id, workflow_run_id, opts)
    local media_url = opts and opts.media_url
    if type(media_url) ~= "string" or not media_url:lower():find("^wss?://[^/?#]+") then
      return nil, "sim: opts.media_url must be a ws:// or wss:// URL for run " .. tostring(workflow_run_id)
    end
    return json.encode({ stream_url = media_url, token = opts.media_token }), "application/json"
  end

  --- {cost, currency, duration} once the call has ended; "not priced yet" before.
  ---@param call_id string
  ---@return {cost: number, currency: string, duration: integer}|nil, string|nil
  function p.get_call_cost(call_id)
    local call = calls.get(call_id)
    if not call then return nil, "sim: unknown call " .. tostring(call_id) .. " (placed before a reload or restart?)" end
    if not call.ended_at then return nil, "not priced yet" end
    return { cost = call.price, currency = call.currency, duration = call.duration }
  end

  --- A status callback's JSON → {call_id, status, raw_status, duration, sequence, timestamp}.
  ---@param data table
  ---@return table|nil, string|nil
  function p.parse_status_callback(data)
    if type(data) ~= "table" then return nil, "sim: status callback data must be a table" end
    if data.event == "answer" then return nil, "sim: a webhook document request, not a call status" end
    if not is_text(data.call_id) then return nil, "sim: status callback without call_id" end
    local s, err = status.normalize("sim", data.status)
    if not s then return nil, "sim: " .. err end
    return { call_id = data.call_id, status = s, raw_status = data.status, duration = tonumber(data.duration),
             sequence = tonumber(data.sequence), timestamp = tonumber(data.timestamp) }
  end

  --- Accepts the simulated carrier's media stream (callee.PROTOCOL).
  ---@param ws_req table the upgrade request
  ---@param workflow_id string
  ---@param user_id any
  ---@param workflow_run_id any
  ---@param opts {rate: integer|nil}|nil the workflow's rate, 8000 (default) or 16000
  ---@return table|nil call, string|nil err
  function p.handle_websocket(ws_req, workflow_id, user_id, workflow_run_id, opts)
    return media.accept(ws_req, { protocol = callee.PROTOCOL, rate = opts and opts.rate or 8000 })
  end

  --- Ends a simulated call: before the answer it ends as canceled, after it as completed.
  ---@param call_id string
  ---@return boolean|nil, string|nil
  function p.hangup_call(call_id)
    local call = calls.get(call_id)
    if not call then return nil, "sim: unknown call " .. tostring(call_id) end
    call.hangup_requested = true
    return true
  end

  return p
end

return kit.configurable(build, normalize_config)
