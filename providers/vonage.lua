--- The Vonage provider (DESIGN.md §4, spec/vonage.md): Voice REST calls authenticated with an
--- application JWT (RS256), signed-webhook checks (HS256), an NCCO `connect` to a WebSocket,
--- and Vonage's raw L16 WebSocket audio.
---
--- The module is the provider definition with an empty configuration (its metadata is what the
--- registry lists; its methods report the missing configuration). `new(config)` builds an
--- instance bound to one Vonage application:
---
---     local vonage = require("vonage").new({
---       application_id = "aaaaaaaa-bbbb-...", private_key = "-----BEGIN PRIVATE KEY-----...",
---       api_key = "a1b2c3d4", api_secret = "...", signature_secret = "...",
---       from_numbers = { "+447700900000" },
---       api_base_url = "https://api.nexmo.com",   -- optional, the default
---     })
---     local call, err = vonage.initiate_call("+447700900001", answer_url, run_id,
---                                            { status_callback_url = event_url })
---
--- Numbers are E.164 (`+` and digits) on this side and digits only on Vonage's. `from_numbers`
--- is a list or one string with a number per line.
---
--- Hosts: Voice calls go to `api_base_url`. The numbers API lives on another Vonage host
--- (spec §3.2): when `api_base_url` is a Vonage host (`*.nexmo.com`, `*.vonage.com`, e.g. the
--- default or a regional edge) numbers are listed from https://rest.nexmo.com; any other base
--- (a test server, a proxy) serves both, so numbers are listed from that same base.
---
--- Signed webhooks: `verify_webhook_signature` takes the `Authorization` header value
--- (`signature_header`); on success it returns true and, for tokens with a `jti`,
--- `{ replay_key = "vonage:" .. jti, ttl = seconds }`: the caller refuses a replay_key it has
--- already seen within ttl seconds.
local kit = require("dialtone.provider_kit")
local status = require("dialtone.status")
local ncco = require("dialtone.ncco")
local uuid = require("dialtone.uuid")

local http, json, crypto, url, time = dialtone.http, dialtone.json, dialtone.crypto, dialtone.url, dialtone.time
local number_list, is_e164, is_text, is_null, decode = kit.number_list, kit.is_e164, kit.is_text, kit.is_null, kit.decode_json

local DEFAULT_API_BASE_URL = "https://api.nexmo.com"
local NUMBERS_BASE_URL = "https://rest.nexmo.com"
local TIMEOUT = 15
local GET_RETRIES = 2
local TOKEN_LIFETIME = 900
local TOKEN_RENEW_BEFORE = 60
local TOKEN_CACHE_MAX = 64
local WEBHOOK_MAX_AGE = 300
local WEBHOOK_LEEWAY = 30
local NUMBERS_PAGE_SIZE = 100
local MAX_PAGES = 20
local MIN_SIGNATURE_SECRET = 16 -- Vonage generates far longer ones; a short HMAC key is guessable
local CURRENCY = "EUR"
local AUDIO_CONTENT_TYPE = "audio/l16;rate=16000"

local FIELDS = {
  { name = "application_id", label = "Application ID", type = "string", required = true },
  { name = "private_key", label = "Private key", type = "pem", secret = true, required = true },
  { name = "api_key", label = "API key", type = "string", required = true },
  { name = "api_secret", label = "API secret", type = "string", secret = true },
  { name = "signature_secret", label = "Signature secret", type = "string", secret = true, required = true },
  { name = "from_numbers", label = "From numbers", type = "phone_list" },
  { name = "api_base_url", label = "API base URL", type = "url", default = DEFAULT_API_BASE_URL },
}

---@class VonageConfig
---@field application_id string
---@field private_key string
---@field api_key string
---@field api_secret string|nil
---@field signature_secret string
---@field from_numbers string[]
---@field api_base_url string

--- Application JWTs by hash of (application id, key), shared by the instances of a generation
--- so that a provider built per request still reuses its token until shortly before exp.
---@type table<string, {token: string, exp: number}>
local token_cache = {}
local token_cache_size = 0

--- A normalized copy of a configuration table (defaults applied, trailing slash dropped).
---@param config table
---@return VonageConfig
local function normalize_config(config)
  local base = kit.base_url(config.api_base_url, DEFAULT_API_BASE_URL)
  return {
    application_id = config.application_id,
    private_key = config.private_key,
    api_key = config.api_key,
    api_secret = config.api_secret,
    signature_secret = config.signature_secret,
    from_numbers = number_list(config.from_numbers),
    api_base_url = base,
  }
end

---@param v any
---@return boolean
local function is_uuid(v)
  return type(v) == "string" and #v == 36 and
         v:find("^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$") ~= nil
end

--- The application JWT for config (spec §2), from the cache until a minute before it expires.
---@param config VonageConfig
---@return string|nil token, string|nil err
local function app_token(config)
  if not is_text(config.private_key) then return nil, "private_key is not configured" end
  local key = crypto.hex(crypto.sha256(tostring(config.application_id) .. "\n" .. config.private_key))
  local now = math.floor(time.now())
  local cached = token_cache[key]
  if cached and now < cached.exp - TOKEN_RENEW_BEFORE then return cached.token end
  local exp = now + TOKEN_LIFETIME
  local token, err = crypto.jwt_sign_rs256({ application_id = config.application_id, iat = now, exp = exp,
                                             jti = uuid.v4() }, config.private_key)
  if not token then return nil, err end
  if not cached then
    if token_cache_size >= TOKEN_CACHE_MAX then token_cache, token_cache_size = {}, 0 end
    token_cache_size = token_cache_size + 1
  end
  token_cache[key] = { token = token, exp = exp }
  return token
end

--- Where the numbers API is, for a given Voice base URL (see the module comment).
---@param api_base_url string
---@return string
local function numbers_base_url(api_base_url)
  local host = "." .. (api_base_url:lower():match("^https?://([^/:?#]+)") or "")
  if host:find("%.nexmo%.com$") or host:find("%.vonage%.com$") then return NUMBERS_BASE_URL end
  return api_base_url
end

--- The carrier's message for a failed response: Voice errors carry title/detail (spec §3),
--- the numbers API error-code-label.
---@param res table
---@return string
local function api_error(res)
  local msg = "vonage: HTTP " .. res.status
  local body = decode(res.body)
  if type(body) ~= "table" then return msg end
  for _, k in ipairs({ "title", "detail", "error-code-label" }) do
    if is_text(body[k]) then msg = msg .. ": " .. body[k] end
  end
  return msg
end

--- The raw query string of a request target as the compact JSON object Vonage hashes for GET
--- webhooks: names in order of first appearance, a repeated name keeping its last value.
---@param target string|nil
---@return string
local function query_json(target)
  local query = type(target) == "string" and target:match("%?(.*)$") or ""
  local names, values = {}, {}
  for pair in query:gmatch("[^&]+") do
    local name, value = pair:match("^([^=]*)=?(.*)$")
    name = url.decode((name:gsub("%+", " ")))
    if values[name] == nil then names[#names + 1] = name end
    values[name] = url.decode((value:gsub("%+", " ")))
  end
  local members = {}
  for i, name in ipairs(names) do members[i] = json.encode(name) .. ":" .. json.encode(values[name]) end
  return "{" .. table.concat(members, ",") .. "}"
end

--- The bytes a webhook's payload_hash covers: the body of a POST, the query of a GET.
---@param req table|nil
---@return string
local function signed_payload(req)
  if type(req) ~= "table" then return "" end
  local method = type(req.method) == "string" and req.method:upper() or "POST"
  if method == "GET" or method == "HEAD" then return query_json(req.target) end
  return type(req.body) == "string" and req.body or ""
end

--- Seconds a verified webhook token stays acceptable (at least 1).
---@param claims table
---@param now number
---@return integer
local function token_ttl(claims, now)
  local until_ = claims.iat + WEBHOOK_MAX_AGE + WEBHOOK_LEEWAY
  if type(claims.exp) == "number" then until_ = math.min(until_, claims.exp + WEBHOOK_LEEWAY) end
  return math.max(1, math.ceil(until_ - now))
end

--- Whether an event's `to` is the media WebSocket (spec §4: its leg's events carry the URI),
--- not the phone number called.
---@param to any
---@return boolean
local function is_websocket_leg(to)
  if type(to) == "table" then return to.type == "websocket" end
  return type(to) == "string" and to:lower():find("^wss?://") ~= nil
end

--- Builds the nine methods around one configuration.
---@param config VonageConfig
---@return table spec the provider table, before provider.define checks it
local function build(config)
  local p = {
    name = "vonage", title = "Vonage", fields = FIELDS, audio = { encoding = "l16", rate = 16000 },
    signature_header = "authorization",
  }

  --- true, or false and the list of {field=, message=} problems.
  ---@return boolean, {field: string, message: string}[]|nil
  function p.validate_config()
    local problems = {}
    local function add(field, message) problems[#problems + 1] = { field = field, message = message } end
    if not is_uuid(config.application_id) then add("application_id", "must be a UUID (the Vonage application id)") end
    if not is_text(config.private_key) then
      add("private_key", "is required (the application's PEM private key)")
    else
      local token, err = app_token(config)
      if not token then add("private_key", "cannot sign an application JWT: " .. tostring(err)) end
    end
    if not is_text(config.api_key) or config.api_key:find("%s") then
      add("api_key", "is required (the account's API key, no spaces)")
    end
    if config.api_secret ~= nil and type(config.api_secret) ~= "string" then add("api_secret", "must be a string") end
    local secret = config.signature_secret
    if type(secret) ~= "string" or #secret < MIN_SIGNATURE_SECRET then
      add("signature_secret", "is required, at least " .. MIN_SIGNATURE_SECRET .. " characters")
    end
    kit.check_numbers(config.from_numbers, "from_numbers", add)
    kit.check_url(config.api_base_url, "api_base_url", add)
    if #problems > 0 then return false, problems end
    return true
  end

  --- nil when the configuration is usable, else the problems as one message.
  local config_error = kit.config_checker(p)

  --- One request; the decoded JSON object, or nil and err. Only GETs are retried.
  ---@param method "GET"|"POST"
  ---@param full_url string
  ---@param authorization string
  ---@param body string|nil JSON body (POST)
  ---@return table|nil, string|nil
  local function send(method, full_url, authorization, body)
    local headers = { authorization = authorization, accept = "application/json" }
    if body then headers["content-type"] = "application/json" end
    local res, req_err = http.request({
      method = method, url = full_url, headers = headers, body = body, timeout = TIMEOUT,
      retries = method == "GET" and GET_RETRIES or 0,
    })
    if not res then return nil, "vonage: " .. tostring(req_err) end
    if res.status < 200 or res.status > 299 then return nil, api_error(res) end
    if res.status == 204 then return {} end -- e.g. a hang-up: nothing to decode
    local decoded = decode(res.body)
    if type(decoded) ~= "table" then return nil, "vonage: response is not a JSON object" end
    return decoded
  end

  --- A Voice API request under {api_base_url}/v1/calls, with the application JWT.
  ---@param method "GET"|"POST"|"PUT"
  ---@param path string after /v1/calls
  ---@param body string|nil
  ---@return table|nil, string|nil
  local function voice(method, path, body)
    local err = config_error()
    if err then return nil, err end
    local token, token_err = app_token(config)
    if not token then return nil, "vonage: " .. tostring(token_err) end
    return send(method, config.api_base_url .. "/v1/calls" .. path, "Bearer " .. token, body)
  end

  --- GETs one call object.
  ---@param call_id string
  ---@return table|nil, string|nil
  local function fetch_call(call_id)
    if not is_text(call_id) then return nil, "vonage: call_id must be a non-empty string" end
    return voice("GET", "/" .. url.encode(call_id))
  end

  --- Ends the call: PUT /v1/calls/{uuid} {"action":"hangup"} (204), which spec/vonage.md §6.3
  --- recommends over only closing the WebSocket. A call Vonage no longer knows (404) has ended.
  ---@param call_id string
  ---@return boolean|nil, string|nil
  function p.hangup_call(call_id)
    if not is_text(call_id) then return nil, "vonage: call_id must be a non-empty string" end
    local done, err = voice("PUT", "/" .. url.encode(call_id), json.encode({ action = "hangup" }))
    if done or tostring(err):find("^vonage: HTTP 404") then return true end
    return nil, err
  end

  --- {call_id, status, raw} from a call object.
  ---@param call table
  ---@return table|nil, string|nil
  local function call_result(call)
    local s, err = status.normalize("vonage", call.status)
    if not s then return nil, "vonage: " .. err end
    return { call_id = call.uuid, status = s, raw = call }
  end

  --- Places a call (POST, never retried). opts: from_number, status_callback_url (the event URL).
  ---@param to_number string E.164
  ---@param webhook_url string the answer URL Vonage GETs for the NCCO when the call connects
  ---@param workflow_run_id any
  ---@param opts {from_number: string|nil, status_callback_url: string|nil}|nil
  ---@return {call_id: string, status: string, raw: table}|nil, string|nil
  function p.initiate_call(to_number, webhook_url, workflow_run_id, opts)
    opts = opts or {}
    if not is_e164(to_number) then
      return nil, "vonage: to_number must be E.164 (+ and digits), got " .. tostring(to_number)
    end
    if not is_text(webhook_url) then return nil, "vonage: webhook_url must be a non-empty string" end
    local from = opts.from_number or config.from_numbers[1]
    if not is_e164(from) then
      return nil, "vonage: no E.164 from number (set from_numbers or opts.from_number) for run "
                  .. tostring(workflow_run_id)
    end
    local body = {
      to = json.array({ { type = "phone", number = to_number:sub(2) } }),
      from = { type = "phone", number = from:sub(2) },
      answer_url = json.array({ webhook_url }),
      answer_method = "GET",
    }
    if opts.status_callback_url then
      body.event_url = json.array({ opts.status_callback_url })
      body.event_method = "POST"
    end
    local call, err = voice("POST", "", json.encode(body))
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

  --- The account's numbers as E.164 strings, page by page (index/size, at most MAX_PAGES).
  ---@return string[]|nil, string|nil
  function p.get_available_phone_numbers()
    local err = config_error()
    if err then return nil, err end
    if not is_text(config.api_secret) then return nil, "vonage: api_secret is required to list numbers" end
    local auth = "Basic " .. crypto.base64_encode(config.api_key .. ":" .. config.api_secret)
    local base = numbers_base_url(config.api_base_url) .. "/account/numbers?size=" .. NUMBERS_PAGE_SIZE .. "&index="
    local numbers, received = {}, 0
    for index = 1, MAX_PAGES do
      local page, page_err = send("GET", base .. index, auth)
      if not page then return nil, page_err end
      local entries = is_null(page.numbers) and {} or page.numbers
      if type(entries) ~= "table" then return nil, "vonage: numbers is not a list" end
      for _, entry in ipairs(entries) do
        if type(entry) == "table" and is_text(entry.msisdn) then numbers[#numbers + 1] = "+" .. entry.msisdn end
      end
      -- a server may send fewer than asked per page: stop on what it has sent in all
      received = received + #entries
      if #entries == 0 or received >= (tonumber(page.count) or 0) then return numbers end
    end
    return nil, "vonage: more than " .. MAX_PAGES .. " pages of phone numbers"
  end

  --- Checks a signed webhook (spec §4.1): the HS256 JWT of the Authorization header under
  --- signature_secret, iss "Vonage", api_key (and application_id when present) as configured,
  --- iat at most 5 minutes old, and payload_hash, when present, against the request's payload.
  ---@param webhook_url string|nil unused: Vonage signs the payload, not the URL
  ---@param params table|nil unused
  ---@param signature string|nil the Authorization header value, "Bearer <jwt>"
  ---@param req table|nil the request: method, target, body
  ---@return boolean, table|string|nil {replay_key, ttl} when valid (tokens with a jti), else why not
  function p.verify_webhook_signature(webhook_url, params, signature, req)
    if not is_text(config.signature_secret) then return false, "vonage: signature_secret is not configured" end
    if not is_text(config.api_key) then return false, "vonage: api_key is not configured" end
    local token = type(signature) == "string" and signature:match("^%s*[Bb][Ee][Aa][Rr][Ee][Rr]%s+(%S+)%s*$")
    if not token then return false, "no Bearer token" end
    local now = time.now()
    local claims, err = crypto.jwt_verify_hs256(token, config.signature_secret, {
      now = now, leeway = WEBHOOK_LEEWAY, max_age = WEBHOOK_MAX_AGE,
      claims = { iss = "Vonage", api_key = config.api_key },
    })
    if not claims then return false, err end
    if claims.application_id ~= nil and claims.application_id ~= config.application_id then
      return false, "claim application_id mismatch"
    end
    if claims.payload_hash ~= nil then
      local actual = crypto.hex(crypto.sha256(signed_payload(req)))
      if type(claims.payload_hash) ~= "string" or not crypto.constant_time_equal(claims.payload_hash, actual) then
        return false, "payload_hash mismatch"
      end
    end
    if not is_text(claims.jti) then return true end
    return true, { replay_key = "vonage:" .. claims.jti, ttl = token_ttl(claims, now) }
  end

  --- The NCCO that connects the call to the run's media WebSocket (raw L16 at 16 kHz), with
  --- the media token as the endpoint's `token` header (Vonage echoes it in its first message)
  --- and the leg's events posted synchronously to event_url.
  ---@param workflow_id any
  ---@param user_id any
  ---@param workflow_run_id any
  ---@param opts {media_url: string, media_token: string|nil, event_url: string|nil, public_url: string|nil}
  ---@return string|nil body, string content_type_or_err
  function p.get_webhook_response(workflow_id, user_id, workflow_run_id, opts)
    opts = opts or {}
    if not is_text(opts.media_url) then
      return nil, "vonage: opts.media_url is required (the run's ws(s):// media URL) for run "
                  .. tostring(workflow_run_id)
    end
    local from = config.from_numbers[1]
    local ok, text = pcall(ncco.connect_websocket, {
      uri = opts.media_url,
      content_type = AUDIO_CONTENT_TYPE,
      headers = opts.media_token and { token = opts.media_token } or nil,
      event_url = opts.event_url,
      from = is_e164(from) and from:sub(2) or nil,
    })
    if not ok then return nil, "vonage: " .. tostring(text) end
    return text, ncco.CONTENT_TYPE
  end

  --- {cost, currency, duration} once the call is over and priced; nil, "not priced yet" before.
  ---@param call_id string
  ---@return {cost: number, currency: string, duration: number|nil}|nil, string|nil
  function p.get_call_cost(call_id)
    local call, err = fetch_call(call_id)
    if not call then return nil, err end
    local s, status_err = status.normalize("vonage", call.status)
    if not s then return nil, "vonage: " .. status_err end
    if not status.is_final(s) or is_null(call.price) then return nil, "not priced yet" end
    local price = tonumber(call.price)
    if not price then return nil, "vonage: unreadable price " .. tostring(call.price) end
    return { cost = price, currency = CURRENCY, duration = tonumber(call.duration) }
  end

  --- An event webhook's decoded JSON body → {call_id, status, raw_status, duration, timestamp,
  --- conversation_uuid}. Events that are not call progress (machine/human detection, the media
  --- WebSocket leg's own events, input, record, transfer...) are nil and a reason saying so.
  ---@param data table
  ---@return table|nil, string|nil
  function p.parse_status_callback(data)
    if type(data) ~= "table" then return nil, "vonage: event data must be a table" end
    local raw = data.status
    if is_null(raw) then
      return nil, "vonage: an event without a status (input, record, transfer...) is not a call status"
    end
    local s, err = status.normalize("vonage", raw)
    if not s then return nil, "vonage: " .. err end
    if is_websocket_leg(data.to) then
      return nil, "vonage: status '" .. raw .. "' of the WebSocket leg is not a call status"
    end
    if not is_text(data.uuid) then return nil, "vonage: event without a uuid" end
    return {
      call_id = data.uuid, status = s, raw_status = raw, duration = tonumber(data.duration),
      timestamp = data.timestamp, conversation_uuid = data.conversation_uuid,
    }
  end

  --- Accepts Vonage's media WebSocket (raw L16 frames, JSON text events) for a run.
  ---@param ws_req table the upgrade request
  ---@param workflow_id any
  ---@param user_id any
  ---@param workflow_run_id any
  ---@param opts {rate: integer|nil}|nil the flow's rate (default 16000)
  ---@return table|nil call, string|nil err
  function p.handle_websocket(ws_req, workflow_id, user_id, workflow_run_id, opts)
    return dialtone.media.accept(ws_req, { protocol = "vonage", rate = opts and opts.rate or 16000 })
  end

  return p
end

return kit.configurable(build, normalize_config)
