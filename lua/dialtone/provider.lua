--- The provider contract (DESIGN.md §4): the nine methods every carrier implements, and its
--- metadata. A provider file in `providers/` returns a table; `define` checks it at load:
---
---     local provider = require("dialtone.provider")
---     return provider.define({
---       name = "acme", title = "Acme Telecom",
---       fields = { { name = "api_key", label = "API key", type = "string", secret = true,
---                    required = true } },
---       audio = { encoding = "mulaw", rate = 8000 },
---       initiate_call = function(to_number, webhook_url, workflow_run_id, opts) ... end,
---       ... -- and the other eight methods of provider.METHODS
---     })
---
--- Metadata:
---   name    a lowercase identifier `[a-z][a-z0-9_]*`, the name configuration selects it by
---   title   a non-empty string shown to people
---   fields  a list of configuration fields, from which the web UI draws its form:
---             name      an identifier `[a-z][a-z0-9_]*`, unique within the provider
---             label     a non-empty string
---             type      "string" (one line), "text" (several lines), "url", "phone_list"
---                       (phone numbers, one per line) or "pem" (a PEM key or certificate)
---             secret    boolean (optional, default false): never shown back once saved
---             required  boolean (optional, default false)
---             default   string (optional)
---   audio   the wire audio format: { encoding = "mulaw"|"alaw"|"l16", rate = 8000|16000|24000 }
---   signature_header  (optional) the lowercase name of the request header carrying the carrier's
---           webhook signature; the endpoints pass its value as `signature` to
---           verify_webhook_signature (e.g. "x-twilio-signature", "authorization")
---   hangup_call  (optional) hangup_call(call_id) -> true | nil, err: ends the call at the carrier.
---           The media endpoint calls it when the workflow returns, for carriers whose call
---           outlives its media stream (closing the stream is enough for Twilio's <Connect>).
---   check_options  (optional) check_options(provider_options) -> true | nil, err: checks
---           initiate-call's `options` before the run is created, so a mistake in them is the
---           caller's 400 (invalid_options), not a failed run and a 502.
---   new     (optional) new(config) -> an instance bound to one account's configuration (a table
---           of the configuration fields' values) that meets this contract too. A provider
---           without `new` takes no configuration: the module itself is the instance.
---
--- How the endpoints call the methods (scripts/telephony.lua):
---   initiate_call(to, webhook_url, run_id, opts) -> {call_id, status, raw, from?} (from: the number
---       the call is placed from, when the provider chose it)  opts: from_number, status_callback_url (the
---       run's status webhook), media_url (ws:// or wss:// URL of the run's media WebSocket) and
---       media_token (the secret the media WebSocket must present: in a custom parameter named
---       `token`, or in the media URL's query as `token`), provider_options (initiate-call's JSON
---       `options` object, as given: settings only this provider understands, e.g. a scenario)
---   verify_webhook_signature(url, params, signature, req) -> true [, {replay_key=, ttl=}] | false, why
---       url: the URL the carrier requested (public_url + request target); params: the form
---       fields (form posts) or nil; a replay_key is accepted once within ttl seconds
---   get_webhook_response(workflow_id, user_id, run_id, opts) -> body, content_type | nil, err
---       opts: public_url, media_url, media_token, event_url
---   get_call_cost(call_id) -> {cost, currency, duration} | nil, "not priced yet" (asked again
---       later, a bounded number of times) | nil, err (final: the cost is unavailable)
---   parse_status_callback(data) -> {call_id, status, raw_status, duration, ...} | nil, why
---       data: the callback's form fields, JSON body or query; nil for events that are not call
---       statuses (they are stored and ignored)
---   handle_websocket(req, workflow_id, user_id, run_id, opts) -> call | nil, err
---       accepts the carrier's media stream on the upgrade request and returns the call object
---       of the call-flow API (opts.rate: the workflow's rate), e.g. with dialtone.media.accept
local provider = {}

--- The methods of §4, in the order of the table there.
provider.METHODS = {
  "initiate_call", "get_call_status", "get_available_phone_numbers", "validate_config",
  "verify_webhook_signature", "get_webhook_response", "get_call_cost", "parse_status_callback",
  "handle_websocket",
}

provider.FIELD_TYPES = { string = true, text = true, url = true, phone_list = true, pem = true }
provider.ENCODINGS = { mulaw = true, alaw = true, l16 = true }
provider.RATES = { [8000] = true, [16000] = true, [24000] = true }

local IDENTIFIER = "^[a-z][a-z0-9_]*$"

---@param v any
---@return boolean
local function is_identifier(v)
  return type(v) == "string" and v:find(IDENTIFIER) ~= nil
end

---@param v any
---@return boolean
local function is_text(v)
  return type(v) == "string" and v ~= ""
end

--- Appends the problems of one configuration field (the i-th) to problems.
---@param f any
---@param i integer
---@param seen table<string, boolean>
---@param problems string[]
local function check_field(f, i, seen, problems)
  local where = "fields[" .. i .. "]"
  if type(f) ~= "table" then
    problems[#problems + 1] = where .. " must be a table"
    return
  end
  if not is_identifier(f.name) then
    problems[#problems + 1] = where .. ".name must be an identifier [a-z][a-z0-9_]*, got " .. tostring(f.name)
  elseif seen[f.name] then
    problems[#problems + 1] = where .. ".name '" .. f.name .. "' is repeated"
  else
    seen[f.name] = true
    where = "field '" .. f.name .. "'"
  end
  if not is_text(f.label) then problems[#problems + 1] = where .. " needs a label (a non-empty string)" end
  if not provider.FIELD_TYPES[f.type] then
    problems[#problems + 1] = where .. " has type " .. tostring(f.type)
      .. "; expected string, text, url, phone_list or pem"
  end
  for _, flag in ipairs({ "secret", "required" }) do
    if f[flag] ~= nil and type(f[flag]) ~= "boolean" then
      problems[#problems + 1] = where .. "." .. flag .. " must be a boolean"
    end
  end
  if f.default ~= nil and type(f.default) ~= "string" then
    problems[#problems + 1] = where .. ".default must be a string"
  end
end

---@param fields any
---@param problems string[]
local function check_fields(fields, problems)
  if type(fields) ~= "table" then
    problems[#problems + 1] = "fields must be a list of configuration fields"
    return
  end
  local seen = {}
  for i, f in ipairs(fields) do check_field(f, i, seen, problems) end
end

---@param audio any
---@param problems string[]
local function check_audio(audio, problems)
  if type(audio) ~= "table" then
    problems[#problems + 1] = "audio must be a table {encoding = ..., rate = ...}"
    return
  end
  if not provider.ENCODINGS[audio.encoding] then
    problems[#problems + 1] = "audio.encoding is " .. tostring(audio.encoding) .. "; expected mulaw, alaw or l16"
  end
  if not provider.RATES[audio.rate] then
    problems[#problems + 1] = "audio.rate is " .. tostring(audio.rate) .. "; expected 8000, 16000 or 24000"
  end
end

--- Checks a provider table against the contract.
---@param p any
---@return boolean ok
---@return string[]|nil problems what is missing or malformed, when not ok
function provider.validate(p)
  if type(p) ~= "table" then return false, { "a provider must be a table, got " .. type(p) } end
  local problems = {}
  if not is_identifier(p.name) then
    problems[#problems + 1] = "name must be a lowercase identifier [a-z][a-z0-9_]*, got " .. tostring(p.name)
  end
  if not is_text(p.title) then problems[#problems + 1] = "title must be a non-empty string" end
  check_fields(p.fields, problems)
  check_audio(p.audio, problems)
  if p.signature_header ~= nil and (type(p.signature_header) ~= "string" or not p.signature_header:find("^[a-z0-9-]+$")) then
    problems[#problems + 1] = "signature_header must be a lowercase header name"
  end
  if p.hangup_call ~= nil and type(p.hangup_call) ~= "function" then
    problems[#problems + 1] = "hangup_call must be a function hangup_call(call_id)"
  end
  if p.check_options ~= nil and type(p.check_options) ~= "function" then
    problems[#problems + 1] = "check_options must be a function check_options(provider_options)"
  end
  if p.new ~= nil and type(p.new) ~= "function" then
    problems[#problems + 1] = "new must be a function new(config)"
  end
  for _, m in ipairs(provider.METHODS) do
    if p[m] == nil then
      problems[#problems + 1] = "missing method " .. m
    elseif type(p[m]) ~= "function" then
      problems[#problems + 1] = "method " .. m .. " must be a function, got " .. type(p[m])
    end
  end
  if #problems > 0 then return false, problems end
  return true
end

--- Returns spec if it meets the contract; raises an error listing every problem otherwise,
--- located at define's caller (or, with level, that many calls further out, for helpers).
---@param spec table
---@param level integer|nil
---@return table
function provider.define(spec, level)
  local ok, problems = provider.validate(spec)
  if not ok then error("invalid provider: " .. table.concat(problems, "; "), 2 + (level or 0)) end
  return spec
end

return provider
