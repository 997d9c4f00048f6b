--- The Twilio provider (DESIGN.md §4, spec/twilio.md): REST calls over `dialtone.http`,
--- `X-Twilio-Signature` checks, TwiML `<Connect><Stream>` and Media Streams.
---
--- The module is the provider definition with an empty configuration (its metadata is what the
--- registry lists; its methods report the missing configuration). `new(config)` builds an
--- instance bound to one account:
---
---     local twilio = require("twilio").new({
---       account_sid = "AC...", auth_token = "...", from_numbers = { "+14155550100" },
---       api_base_url = "https://api.twilio.com",   -- optional, the default
---     })
---     local call, err = twilio.initiate_call("+14155550123", webhook_url, run_id,
---                                            { status_callback_url = status_url })
---
--- `from_numbers` is a list of E.164 strings or one string with a number per line.
local kit = require("dialtone.provider_kit")
local status = require("dialtone.status")
local twiml = require("dialtone.twiml")
local twilio_signature = require("dialtone.twilio_signature")

local http, json, crypto, url = dialtone.http, dialtone.json, dialtone.crypto, dialtone.url
local number_list, decode, is_null = kit.number_list, kit.decode_json, kit.is_null

local DEFAULT_API_BASE_URL = "https://api.twilio.com"
local API_VERSION = "/2010-04-01"
local TIMEOUT = 15
local GET_RETRIES = 2
local MAX_PAGES = 20
local STATUS_EVENTS = { "initiated", "ringing", "answered", "completed" }

local FIELDS = {
  { name = "account_sid", label = "Account SID", type = "string", required = true },
  { name = "auth_token", label = "Auth Token", type = "string", secret = true, required = true },
  { name = "from_numbers", label = "From numbers", type = "phone_list" },
  { name = "api_base_url", label = "API base URL", type = "url", default = DEFAULT_API_BASE_URL },
}

---@class TwilioConfig
---@field account_sid string
---@field auth_token string
---@field from_numbers string[]
---@field api_base_url string

--- A normalized copy of a configuration table (defaults applied, trailing slash dropped).
---@param config table
---@return TwilioConfig
local function normalize_config(config)
  local base = kit.base_url(config.api_base_url, DEFAULT_API_BASE_URL)
  return {
    account_sid = config.account_sid,
    auth_token = config.auth_token,
    from_numbers = number_list(config.from_numbers),
    api_base_url = base,
  }
end

--- The carrier's message for a failed response.
---@param res table
---@return string
local function api_error(res)
  local body = decode(res.body)
  if type(body) == "table" and type(body.message) == "string" then
    local code = is_null(body.code) and "" or " (code " .. tostring(body.code) .. ")"
    return "twilio: HTTP " .. res.status .. ": " .. body.message .. code
  end
  return "twilio: HTTP " .. res.status
end

--- An x-www-form-urlencoded body from a list of {name, value} pairs (repeated names allowed).
---@param pairs_list string[][]
---@return string
local function form_body(pairs_list)
  local out = {}
  for i, kv in ipairs(pairs_list) do
    out[i] = url.encode(kv[1]) .. "=" .. url.encode(kv[2])
  end
  return table.concat(out, "&")
end

--- Builds the nine methods around one configuration.
---@param config TwilioConfig
---@return table spec the provider table, before provider.define checks it
local function build(config)
  local p = { name = "twilio", title = "Twilio", fields = FIELDS, audio = { encoding = "mulaw", rate = 8000 },
              signature_header = "x-twilio-signature" }

  --- true, or false and the list of {field=, message=} problems.
  ---@return boolean, {field: string, message: string}[]|nil
  function p.validate_config()
    local problems = {}
    local function add(field, message) problems[#problems + 1] = { field = field, message = message } end
    local sid = config.account_sid
    if type(sid) ~= "string" or not sid:find("^AC%x+$") or #sid ~= 34 then
      add("account_sid", "must be AC followed by 32 hex characters")
    end
    local token = config.auth_token
    if type(token) ~= "string" or #token ~= 32 then
      add("auth_token", "must be 32 characters")
    end
    kit.check_numbers(config.from_numbers, "from_numbers", add)
    kit.check_url(config.api_base_url, "api_base_url", add)
    if #problems > 0 then return false, problems end
    return true
  end

  --- nil when the configuration is usable, else the problems as one message.
  local config_error = kit.config_checker(p)

  --- One REST request under /2010-04-01/Accounts/{sid}; the decoded JSON, or nil and err.
  ---@param method "GET"|"POST"
  ---@param path string after the account, e.g. "/Calls.json"
  ---@param body string|nil form body (POST)
  ---@return table|nil, string|nil
  local function api(method, path, body)
    local err = config_error()
    if err then return nil, err end
    local headers = {
      authorization = "Basic " .. crypto.base64_encode(config.account_sid .. ":" .. config.auth_token),
      accept = "application/json",
    }
    if body then headers["content-type"] = "application/x-www-form-urlencoded" end
    local res, req_err = http.request({
      method = method,
      url = config.api_base_url .. API_VERSION .. "/Accounts/" .. config.account_sid .. path,
      headers = headers,
      body = body,
      timeout = TIMEOUT,
      retries = method == "GET" and GET_RETRIES or 0,
    })
    if not res then return nil, "twilio: " .. tostring(req_err) end
    if res.status < 200 or res.status > 299 then return nil, api_error(res) end
    local decoded = decode(res.body)
    if type(decoded) ~= "table" then return nil, "twilio: response is not a JSON object" end
    return decoded
  end

  --- GETs one call resource.
  ---@param call_id string
  ---@return table|nil, string|nil
  local function fetch_call(call_id)
    if type(call_id) ~= "string" or call_id == "" then
      return nil, "twilio: call_id must be a non-empty string"
    end
    return api("GET", "/Calls/" .. url.encode(call_id) .. ".json")
  end

  --- {call_id, status, raw} from a call resource.
  ---@param call table
  ---@return table|nil, string|nil
  local function call_result(call)
    local s, err = status.normalize("twilio", call.status)
    if not s then return nil, "twilio: " .. err end
    return { call_id = call.sid, status = s, raw = call }
  end

  --- Places a call (POST, never retried). opts: from_number, status_callback_url.
  ---@param to_number string E.164
  ---@param webhook_url string the TwiML URL Twilio fetches when the call connects
  ---@param workflow_run_id any
  ---@param opts {from_number: string|nil, status_callback_url: string|nil}|nil
  ---@return {call_id: string, status: string, raw: table}|nil, string|nil
  function p.initiate_call(to_number, webhook_url, workflow_run_id, opts)
    opts = opts or {}
    if type(to_number) ~= "string" or to_number == "" then return nil, "twilio: to_number must be a non-empty string" end
    if type(webhook_url) ~= "string" or webhook_url == "" then return nil, "twilio: webhook_url must be a non-empty string" end
    local from = opts.from_number or config.from_numbers[1]
    if type(from) ~= "string" then
      return nil, "twilio: no from number (set from_numbers or opts.from_number) for run " .. tostring(workflow_run_id)
    end
    local fields = { { "To", to_number }, { "From", from }, { "Url", webhook_url } }
    if opts.status_callback_url then
      fields[#fields + 1] = { "StatusCallback", opts.status_callback_url }
      for _, event in ipairs(STATUS_EVENTS) do fields[#fields + 1] = { "StatusCallbackEvent", event } end
      fields[#fields + 1] = { "StatusCallbackMethod", "POST" }
    end
    local call, err = api("POST", "/Calls.json", form_body(fields))
    if not call then return nil, err end
    local result, result_err = call_result(call)
    if result then result.from = from end
    return result, result_err
  end

  --- The carrier's current view of a call: {call_id, status, raw}.
  ---@param call_id string
  ---@return {call_id: string, status: string, raw: table}|nil, string|nil
  function p.get_call_status(call_id)
    local call, err = fetch_call(call_id)
    if not call then return nil, err end
    return call_result(call)
  end

  --- The account's numbers (E.164 strings), following next_page_uri.
  ---@return string[]|nil, string|nil
  function p.get_available_phone_numbers()
    local numbers = {}
    local page, err = api("GET", "/IncomingPhoneNumbers.json")
    for _ = 1, MAX_PAGES do
      if not page then return nil, err end
      for _, entry in ipairs(is_null(page.incoming_phone_numbers) and {} or page.incoming_phone_numbers) do
        numbers[#numbers + 1] = entry.phone_number
      end
      local next_uri = page.next_page_uri
      if is_null(next_uri) then return numbers end
      local prefix = API_VERSION .. "/Accounts/" .. config.account_sid
      if type(next_uri) ~= "string" or next_uri:sub(1, #prefix) ~= prefix then
        return nil, "twilio: unexpected next_page_uri " .. tostring(next_uri)
      end
      page, err = api("GET", next_uri:sub(#prefix + 1))
    end
    return nil, "twilio: more than " .. MAX_PAGES .. " pages of phone numbers"
  end

  --- Checks X-Twilio-Signature: a form post (params = req.form_all) or, when
  --- req.headers["content-type"] is JSON, the raw req.body against the URL's bodySHA256.
  ---@param webhook_url string the URL Twilio requested (public_url + request target)
  ---@param params table|nil
  ---@param signature string|nil
  ---@param req table|nil
  ---@return boolean, string|nil
  function p.verify_webhook_signature(webhook_url, params, signature, req)
    if type(config.auth_token) ~= "string" or config.auth_token == "" then
      return false, "twilio: auth_token is not configured"
    end
    local content_type = req and req.headers and req.headers["content-type"] or ""
    if content_type:lower():find("^%s*application/json") then
      return twilio_signature.verify(config.auth_token, webhook_url, req.body or "", signature, true)
    end
    return twilio_signature.verify(config.auth_token, webhook_url, params, signature)
  end

  --- TwiML connecting the call to the run's media WebSocket (opts.media_url), with the run's
  --- media token as the <Parameter> "token". Twilio itself streams only to wss:// (a public_url
  --- with https://); ws:// serves local development and the tests' fake carrier.
  ---@param workflow_id any
  ---@param user_id any
  ---@param workflow_run_id any
  ---@param opts {media_url: string, media_token: string|nil}
  ---@return string|nil body, string content_type_or_err
  function p.get_webhook_response(workflow_id, user_id, workflow_run_id, opts)
    local media_url = opts and opts.media_url
    if type(media_url) ~= "string" or not media_url:lower():find("^wss?://[^/?#]+/") then
      return nil, "twilio: opts.media_url must be a ws:// or wss:// URL for run " .. tostring(workflow_run_id)
    end
    if media_url:find("?", 1, true) then
      return nil, "twilio: Media Streams URLs cannot carry a query string; pass data as parameters"
    end
    local parameters = opts.media_token and { token = opts.media_token } or nil
    return twiml.connect_stream({ url = media_url, parameters = parameters }), twiml.CONTENT_TYPE
  end

  --- {cost, currency, duration} once Twilio has priced the call; nil, "not priced yet" before.
  ---@param call_id string
  ---@return {cost: number, currency: string, duration: number|nil}|nil, string|nil
  function p.get_call_cost(call_id)
    local call, err = fetch_call(call_id)
    if not call then return nil, err end
    if is_null(call.price) then return nil, "not priced yet" end
    local price = tonumber(call.price)
    if not price then return nil, "twilio: unreadable price " .. tostring(call.price) end
    return { cost = -price, currency = call.price_unit, duration = tonumber(call.duration) }
  end

  --- A status callback's form → {call_id, status, raw_status, duration, sequence, timestamp}.
  ---@param data table<string, string> req.form
  ---@return table|nil, string|nil
  function p.parse_status_callback(data)
    if type(data) ~= "table" then return nil, "twilio: status callback data must be a table" end
    local s, err = status.normalize("twilio", data.CallStatus)
    if not s then return nil, "twilio: " .. err end
    return {
      call_id = data.CallSid, status = s, raw_status = data.CallStatus,
      duration = tonumber(data.CallDuration), sequence = tonumber(data.SequenceNumber),
      timestamp = data.Timestamp,
    }
  end

  --- Accepts the Twilio Media Stream of a WebSocket upgrade; returns the call once Twilio's
  --- start message (with the custom parameters) has arrived.
  ---@param ws_req table the upgrade request
  ---@param workflow_id string
  ---@param user_id any
  ---@param workflow_run_id any
  ---@param opts {rate: integer|nil}|nil the workflow's rate, 8000 (default) or 16000
  ---@return table|nil call, string|nil err
  function p.handle_websocket(ws_req, workflow_id, user_id, workflow_run_id, opts)
    return dialtone.media.accept(ws_req, { protocol = "twilio", rate = opts and opts.rate or 8000 })
  end

  return p
end

return kit.configurable(build, normalize_config)
