--- The Telnyx provider (spec/telnyx-plivo.md part A), written only against the provider contract
--- (lua/dialtone/provider.lua) and public bindings: an example of adding a carrier in one file.
--- Copy it into providers/ to offer it (examples/providers/README.md walks through it).
---
--- Call Control v2 over `dialtone.http` with a Bearer API key; webhooks signed with Ed25519
--- (`telnyx-signature-ed25519` over `<telnyx-timestamp>|<raw body>`); the media stream is
--- requested at dial time (`stream_url`), so there is no webhook document to serve.
---
--- The module is the provider definition with an empty configuration (its metadata is what the
--- registry lists; its methods report the missing configuration). `new(config [, opts])` builds
--- an instance bound to one account:
---
---     local telnyx = require("telnyx").new({
---       api_key = "KEY...", connection_id = "1234567890",
---       public_key = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",   -- base64, from the portal
---       from_numbers = { "+14155550100" },
---       api_base_url = "https://api.telnyx.com",                       -- optional, the default
---     })
---
--- opts.now, a function returning Unix seconds (default dialtone.time.now), is the clock the
--- webhook timestamp is checked against: tests pass a fixed one to check signed vectors.
--- `from_numbers` is a list of E.164 strings or one string with a number per line.
local kit = require("dialtone.provider_kit")

local http, json, crypto, url = dialtone.http, dialtone.json, dialtone.crypto, dialtone.url
local number_list, is_text, decode = kit.number_list, kit.is_text, kit.decode_json
local time, media = dialtone.time, dialtone.media

local DEFAULT_API_BASE_URL = "https://api.telnyx.com"
local TIMEOUT = 15
local GET_RETRIES = 2
local PAGE_SIZE = 250
local MAX_PAGES = 20
local MAX_SKEW = 300            -- seconds between telnyx-timestamp and now (spec A.2)
local REPLAY_TTL = 2 * MAX_SKEW -- a replayed event is refused as long as its timestamp passes
local SIGNATURE_HEADER = "telnyx-signature-ed25519"
local TIMESTAMP_HEADER = "telnyx-timestamp"

local FIELDS = {
  { name = "api_key", label = "API key", type = "string", secret = true, required = true },
  { name = "connection_id", label = "Call Control connection ID", type = "string", required = true },
  { name = "public_key", label = "Webhook public key (base64)", type = "string", required = true },
  { name = "from_numbers", label = "From numbers", type = "phone_list" },
  { name = "api_base_url", label = "API base URL", type = "url", default = DEFAULT_API_BASE_URL },
}

--- call.hangup's hangup_cause → normalized status. normal_clearing is "completed" even when the
--- call never connected (Telnyx reports unanswered calls as timeout/no_answer instead);
--- time_limit ends a call that was answered.
local HANGUP_STATUS = {
  normal_clearing = "completed",
  time_limit = "completed",
  user_busy = "busy",
  no_answer = "no-answer",
  timeout = "no-answer",
  originator_cancel = "canceled",
  call_rejected = "failed",
  not_found = "failed",
  unspecified = "failed",
}

--- Event types that are not call statuses, with what they are.
local NOT_STATUS = {
  ["streaming.started"] = "a media stream event",
  ["streaming.stopped"] = "a media stream event",
  ["streaming.failed"] = "a media stream event",
  ["call.machine.detection.ended"] = "a machine-detection result",
  ["call.machine.premium.detection.ended"] = "a machine-detection result",
  ["call.machine.greeting.ended"] = "a machine-detection result",
  ["call.machine.premium.greeting.ended"] = "a machine-detection result",
}

--- The Telnyx media WebSocket (spec A.3) for dialtone.media.accept: JSON text messages with
--- base64 PCMU; the call-flow API sees canonical PCM whatever this says.
local PROTOCOL = {
  name = "telnyx", encoding = "mulaw", rate = 8000, event_key = "event",
  inbound = {
    start = { event = "start", stream_id = "stream_id", call_id = "start.call_control_id",
              params = "start.custom_parameters" },
    media = { event = "media", payload = "media.payload" },
    dtmf = { event = "dtmf", digit = "dtmf.digit" },
    mark = { event = "mark", name = "mark.name" },
    stop = { event = "stop" },
  },
  outbound = {
    media = { event = "media", media = { payload = "$payload" } },
    mark = { event = "mark", mark = { name = "$name" } },
    clear = { event = "clear" },
  },
}

---@class TelnyxConfig
---@field api_key string
---@field connection_id string
---@field public_key string
---@field from_numbers string[]
---@field api_base_url string

--- A normalized copy of a configuration table (defaults applied, trailing slash dropped).
---@param config table
---@return TelnyxConfig
local function normalize_config(config)
  local base = kit.base_url(config.api_base_url, DEFAULT_API_BASE_URL)
  return {
    api_key = config.api_key,
    connection_id = config.connection_id,
    public_key = config.public_key,
    from_numbers = number_list(config.from_numbers),
    api_base_url = base,
  }
end

--- The raw 32-byte Ed25519 key of a base64 setting, or nil.
---@param v any
---@return string|nil
local function decode_public_key(v)
  if type(v) ~= "string" then return nil end
  local key = crypto.base64_decode((v:gsub("%s", "")))
  if key and #key == 32 then return key end
  return nil
end

--- The carrier's message for a failed response: HTTP status, then errors[1]'s title, detail, code.
---@param res table
---@return string
local function api_error(res)
  local body = decode(res.body)
  local e = type(body) == "table" and type(body.errors) == "table" and body.errors[1]
  if type(e) ~= "table" then return "telnyx: HTTP " .. res.status end
  local parts = {}
  for _, k in ipairs({ "title", "detail" }) do
    if type(e[k]) == "string" and e[k] ~= "" then parts[#parts + 1] = e[k] end
  end
  local code = type(e.code) == "string" and " (code " .. e.code .. ")" or ""
  return "telnyx: HTTP " .. res.status .. ": " .. table.concat(parts, ": ") .. code
end

--- A header value from a request's headers (lower-case names), or nil.
---@param req table|nil
---@param name string
---@return string|nil
local function header(req, name)
  local headers = type(req) == "table" and req.headers
  local v = type(headers) == "table" and headers[name]
  if type(v) == "string" and v ~= "" then return v end
  return nil
end

--- The media URL with the run's token in its query (Telnyx sends no custom parameters at dial
--- time; the media endpoint accepts the token from the query string).
---@param media_url string
---@param token string|nil
---@return string
local function stream_url(media_url, token)
  if not token then return media_url end
  local sep = media_url:find("?", 1, true) and "&" or "?"
  return media_url .. sep .. "token=" .. url.encode(token)
end

--- Builds the nine methods around one configuration and clock.
---@param config TelnyxConfig
---@param opts {now: (fun(): number)|nil}|nil opts.now: the clock (default dialtone.time.now)
---@return table spec the provider table, before provider.define checks it
local function build(config, opts)
  local now = opts and opts.now or time.now
  if type(now) ~= "function" then error("telnyx.new: opts.now must be a function", 3) end
  local p = {
    name = "telnyx", title = "Telnyx", fields = FIELDS, audio = { encoding = "mulaw", rate = 8000 },
    signature_header = SIGNATURE_HEADER,
  }

  --- true, or false and the list of {field=, message=} problems.
  ---@return boolean, {field: string, message: string}[]|nil
  function p.validate_config()
    local problems = {}
    local function add(field, message) problems[#problems + 1] = { field = field, message = message } end
    if not is_text(config.api_key) or config.api_key:find("[%s%c]") then
      add("api_key", "must be a non-empty key without spaces")
    end
    if not is_text(config.connection_id) or config.connection_id:find("[%s%c]") then
      add("connection_id", "must be the id of a Call Control connection")
    end
    if not decode_public_key(config.public_key) then
      add("public_key", "must be the base64 of a 32-byte Ed25519 public key")
    end
    kit.check_numbers(config.from_numbers, "from_numbers", add)
    kit.check_url(config.api_base_url, "api_base_url", add)
    if #problems > 0 then return false, problems end
    return true
  end

  --- nil when the configuration is usable, else the problems as one message.
  local config_error = kit.config_checker(p)

  --- One REST request under {api_base_url}/v2; the response's `data` member, or nil and err.
  --- GETs are retried on transport errors and 429/5xx; a POST is never sent twice.
  ---@param method "GET"|"POST"
  ---@param path string e.g. "/calls"
  ---@param body table|nil JSON body (POST)
  ---@return any, table|string|nil
  local function api(method, path, body)
    local err = config_error()
    if err then return nil, err end
    local headers = { authorization = "Bearer " .. config.api_key, accept = "application/json" }
    if body then headers["content-type"] = "application/json" end
    local res, req_err = http.request({
      method = method,
      url = config.api_base_url .. "/v2" .. path,
      headers = headers,
      body = body and json.encode(body) or nil,
      timeout = TIMEOUT,
      retries = method == "GET" and GET_RETRIES or 0,
    })
    if not res then return nil, "telnyx: " .. tostring(req_err) end
    if res.status < 200 or res.status > 299 then return nil, api_error(res) end
    local decoded = decode(res.body)
    if type(decoded) ~= "table" or type(decoded.data) ~= "table" then
      return nil, "telnyx: response has no data object"
    end
    return decoded.data, decoded
  end

  --- Places a call (POST /v2/calls, never retried) with the media stream requested at dial time.
  --- webhook_url is not used: Telnyx fetches no document; its events go to status_callback_url
  --- (or, when that is absent, to the connection's webhook URL set in the portal).
  ---@param to_number string E.164 (or a SIP URI)
  ---@param webhook_url string|nil unused
  ---@param workflow_run_id any sent back in every event as client_state (base64)
  ---@param opts {from_number: string|nil, status_callback_url: string|nil, media_url: string,
  ---             media_token: string|nil}
  ---@return {call_id: string, status: string, raw: table}|nil, string|nil
  function p.initiate_call(to_number, webhook_url, workflow_run_id, opts)
    opts = opts or {}
    if not is_text(to_number) then return nil, "telnyx: to_number must be a non-empty string" end
    local from = opts.from_number or config.from_numbers[1]
    if type(from) ~= "string" then
      return nil, "telnyx: no from number (set from_numbers or opts.from_number) for run "
                  .. tostring(workflow_run_id)
    end
    local media_url = opts.media_url
    if type(media_url) ~= "string" or not media_url:lower():find("^wss?://") then
      return nil, "telnyx: opts.media_url must be a ws:// or wss:// URL (the stream is set up at dialing)"
    end
    local call, err = api("POST", "/calls", {
      connection_id = config.connection_id,
      to = to_number,
      from = from,
      webhook_url = opts.status_callback_url,
      stream_url = stream_url(media_url, opts.media_token),
      stream_track = "inbound_track",
      stream_codec = "PCMU",
      stream_bidirectional_mode = "rtp",
      stream_bidirectional_codec = "PCMU",
      client_state = crypto.base64_encode(tostring(workflow_run_id)),
    })
    if not call then return nil, err end
    if not is_text(call.call_control_id) then return nil, "telnyx: response has no call_control_id" end
    return { call_id = call.call_control_id, status = "initiated", raw = call, from = from }
  end

  --- The carrier's current view of a call: {call_id, status, raw}. Telnyx only says whether the
  --- call is alive, so this is an approximation: alive → "answered" (ringing looks the same),
  --- not alive → "completed" (whatever the outcome). The status webhooks carry the exact status.
  ---@param call_id string the call_control_id
  ---@return {call_id: string, status: string, raw: table}|nil, string|nil
  function p.get_call_status(call_id)
    if not is_text(call_id) then return nil, "telnyx: call_id must be a non-empty string" end
    local call, err = api("GET", "/calls/" .. url.encode(call_id))
    if not call then return nil, err end
    local s = call.is_alive == true and "answered" or "completed"
    return { call_id = call_id, status = s, raw = call }
  end

  --- The account's numbers (E.164 strings), page by page (at most MAX_PAGES pages).
  ---@return string[]|nil, string|nil
  function p.get_available_phone_numbers()
    local numbers = {}
    for page = 1, MAX_PAGES do
      local query = "?page%5Bnumber%5D=" .. page .. "&page%5Bsize%5D=" .. PAGE_SIZE
      local data, whole = api("GET", "/phone_numbers" .. query)
      if not data then return nil, whole end
      for _, entry in ipairs(data) do
        if type(entry) == "table" and type(entry.phone_number) == "string" then
          numbers[#numbers + 1] = entry.phone_number
        end
      end
      local meta = type(whole.meta) == "table" and whole.meta or {}
      local total = tonumber(meta.total_pages) or page
      if page >= total or #data == 0 then return numbers end
    end
    return nil, "telnyx: more than " .. MAX_PAGES .. " pages of phone numbers"
  end

  --- Checks the Ed25519 signature of a webhook: `signature` (the telnyx-signature-ed25519
  --- header, which the endpoint passes; read from req.headers when nil) over
  --- `<telnyx-timestamp>|<req.body>`, with the timestamp within 300 s of now. On success the
  --- replay key is the event's data.id (or the signature for a body without one).
  ---@param webhook_url string unused: Telnyx does not sign the URL
  ---@param params table|nil unused
  ---@param signature string|nil base64
  ---@param req {headers: table<string, string>, body: string}
  ---@return boolean, {replay_key: string, ttl: number}|string|nil
  function p.verify_webhook_signature(webhook_url, params, signature, req)
    local key = decode_public_key(config.public_key)
    if not key then return false, "telnyx: public_key is not configured" end
    signature = signature or header(req, SIGNATURE_HEADER)
    if not is_text(signature) then return false, "missing " .. SIGNATURE_HEADER .. " header" end
    local stamp = header(req, TIMESTAMP_HEADER)
    if not stamp then return false, "missing " .. TIMESTAMP_HEADER .. " header" end
    if not stamp:find("^%d+$") or #stamp > 12 then return false, "malformed " .. TIMESTAMP_HEADER end
    if math.abs(now() - tonumber(stamp)) > MAX_SKEW then return false, "stale timestamp" end
    local sig = crypto.base64_decode(signature)
    if not sig or #sig ~= 64 then return false, "malformed signature" end
    local body = type(req.body) == "string" and req.body or ""
    if not crypto.ed25519_verify(key, stamp .. "|" .. body, sig) then return false, "bad signature" end
    local event = decode(body)
    local id = type(event) == "table" and type(event.data) == "table" and event.data.id
    return true, { replay_key = "telnyx:" .. (is_text(id) and id or signature), ttl = REPLAY_TTL }
  end

  --- Telnyx fetches no document when the call connects: streaming is requested at dial time.
  ---@return nil, string
  function p.get_webhook_response()
    return nil, "telnyx does not fetch a webhook document: streaming is requested at dial time"
  end

  --- Ends the call at Telnyx (POST /v2/calls/{id}/actions/hangup). The endpoint calls it when the
  --- workflow is done: a stream requested at dial time does not end the call when it closes.
  --- A call that has already ended (HTTP 422, code 90018) counts as hung up.
  ---@param call_id string
  ---@return boolean|nil, string|nil
  function p.hangup_call(call_id)
    if not is_text(call_id) then return nil, "telnyx: call_id must be a non-empty string" end
    local data, err = api("POST", "/calls/" .. url.encode(call_id) .. "/actions/hangup", {})
    if data then return true end
    if tostring(err):find("(code 90018)", 1, true) then return true end
    return nil, err
  end

  --- Telnyx Call Control does not report a call's cost (billing is in the portal and detail
  --- records), so there is nothing to wait for: the error is final, not "not priced yet".
  ---@param call_id string
  ---@return nil, string
  function p.get_call_cost(call_id)
    return nil, "telnyx: Call Control does not report the cost of call " .. tostring(call_id) ..
                " (see detail records in the Telnyx portal)"
  end

  --- A webhook's decoded JSON → {call_id, status, raw_status, hangup_cause, timestamp}, or nil
  --- and why for events that are not call statuses (streaming, machine detection, ...).
  ---@param data table the decoded body {data = {event_type, id, occurred_at, payload}}
  ---@return table|nil, string|nil
  function p.parse_status_callback(data)
    local event = type(data) == "table" and data.data
    if type(event) ~= "table" or not is_text(event.event_type) then
      return nil, "telnyx: not a Telnyx event (no data.event_type)"
    end
    local kind = event.event_type
    if NOT_STATUS[kind] then
      return nil, "telnyx event '" .. kind .. "' is " .. NOT_STATUS[kind] .. ", not a call status"
    end
    local payload = type(event.payload) == "table" and event.payload or {}
    local s, raw_status, cause = nil, kind, nil
    if kind == "call.initiated" then
      s = "initiated"
    elseif kind == "call.answered" then
      s = "answered"
    elseif kind == "call.hangup" then
      cause = payload.hangup_cause
      s = HANGUP_STATUS[cause]
      if not s then return nil, "telnyx: unknown hangup_cause '" .. tostring(cause) .. "'" end
      raw_status = kind .. ":" .. cause
    else
      return nil, "telnyx: unknown event '" .. kind .. "'"
    end
    if not is_text(payload.call_control_id) then
      return nil, "telnyx: event without payload.call_control_id"
    end
    return {
      call_id = payload.call_control_id, status = s, raw_status = raw_status, hangup_cause = cause,
      timestamp = event.occurred_at,
    }
  end

  --- Accepts the Telnyx media stream of a WebSocket upgrade and returns the call object of the
  --- call-flow API (or nil, err).
  ---@param ws_req table the upgrade request
  ---@param workflow_id any
  ---@param user_id any
  ---@param workflow_run_id any
  ---@param opts {rate: integer|nil}|nil rate: the workflow's rate (8000 or 16000, default 8000)
  ---@return table|nil, string|nil
  function p.handle_websocket(ws_req, workflow_id, user_id, workflow_run_id, opts)
    return media.accept(ws_req, { rate = opts and opts.rate or 8000, protocol = PROTOCOL })
  end

  return p
end

return kit.configurable(build, normalize_config)
