--- The URLs a run gives its carrier, and the checks every carrier request to them passes
--- (DESIGN.md §5, §8): fail closed — a request that is not the carrier's gets 403 and changes
--- nothing.
local webhooks = {}

local crypto, url, store, log = dialtone.crypto, dialtone.url, dialtone.store, dialtone.log

--- Where each built-in carrier fetches its webhook document and posts its status events
--- (the seed's paths); a custom provider uses the generic /answer and /events paths.
local DOCUMENT_PATH = { twilio = "/twiml", vonage = "/ncco" }
local EVENTS_PATH = { twilio = "/twilio/status-callback/", vonage = "/vonage/events/" }

webhooks.PREFIX = "/api/v1/telephony"

--- The API's base URL as carriers see it: public_url + /api/v1/telephony.
---@return string
local function base()
  return dialtone.config.public_url .. webhooks.PREFIX
end

--- The URLs of one run, for its provider.
---@param run table
---@param provider_name string
---@return {document: string, events: string, media: string}
function webhooks.urls(run, provider_name)
  local id = url.encode(run.id)
  local document = (DOCUMENT_PATH[provider_name] or "/answer") .. "?workflow_run_id=" .. id ..
                   "&token=" .. url.encode(run.media_token)
  local events = (EVENTS_PATH[provider_name] or "/events/") .. id
  local media_base = base():gsub("^[Hh][Tt][Tt][Pp]([Ss]?)://", "ws%1://")
  local media = media_base .. "/ws/" .. url.encode(run.workflow_id) .. "/" .. url.encode(run.user_id) .. "/" .. id
  return { document = base() .. document, events = base() .. events, media = media }
end

--- The URL the carrier requested, as it saw it: public_url plus the request target (never the
--- Host header, which a client chooses).
---@param req table
---@return string
function webhooks.requested_url(req)
  return dialtone.config.public_url .. req.target
end

---@param a any
---@param b any
---@return boolean
function webhooks.same_secret(a, b)
  return type(a) == "string" and type(b) == "string" and a ~= "" and crypto.constant_time_equal(a, b)
end

--- The form fields of a form post (for signatures over them), else nil.
---@param req table
---@return table|nil
local function form_params(req)
  local ct = (req.headers["content-type"] or ""):lower()
  if ct:find("^%s*application/x%-www%-form%-urlencoded") then return req.form_all end
  return nil
end

--- Checks the carrier's signature on a request. Returns true, or false and why. A signature
--- that carries a replay key is accepted once: a replayed request is refused.
---@param provider table
---@param req table
---@return boolean, string|nil
function webhooks.verify(provider, req)
  local header = provider.signature_header
  local signature = header and req.headers[header] or nil
  local ok, info = provider.verify_webhook_signature(webhooks.requested_url(req), form_params(req), signature, req)
  if not ok then return false, tostring(info or "signature not valid") end
  if type(info) == "table" and type(info.replay_key) == "string" then
    local ttl = tonumber(info.ttl) or 600
    if not store.claim_nonce(info.replay_key, ttl) then return false, "replayed request" end
  end
  return true
end

--- Whether the request carries the provider's signature header at all.
---@param provider table
---@param req table
---@return boolean
function webhooks.signed(provider, req)
  return provider.signature_header ~= nil and req.headers[provider.signature_header] ~= nil
end

--- The callback's data for parse_status_callback: form fields, a JSON body, or the query.
---@param req table
---@return table|nil, string|nil
function webhooks.callback_data(req)
  if req.method == "GET" then return req.query end
  if form_params(req) then return req.form end
  local ct = (req.headers["content-type"] or ""):lower()
  if ct:find("^%s*application/json") then
    local data = req.json
    if type(data) ~= "table" then return nil, "body is not a JSON object: " .. tostring(req.json_error) end
    return data
  end
  return nil, "unsupported content-type '" .. ct .. "'"
end

--- A carrier's request body as stored in an event: the run's media token, which some carriers
--- echo back (Vonage repeats the NCCO headers in the WebSocket leg's events), replaced, so the
--- API that shows events never reveals it.
---@param body string|nil
---@param token string|nil
---@return string|nil
function webhooks.redact(body, token)
  if type(body) ~= "string" or type(token) ~= "string" or token == "" then return body end
  local out, from = {}, 1
  while true do
    local i, j = body:find(token, from, true)
    if not i then break end
    out[#out + 1] = body:sub(from, i - 1) .. "[media token]"
    from = j + 1
  end
  out[#out + 1] = body:sub(from)
  return table.concat(out)
end

--- Logs a refused carrier request (never its secrets: only what, which run, why).
---@param what string
---@param req table
---@param run_id string|nil
---@param why string
function webhooks.log_refused(what, req, run_id, why)
  log.warn("carrier request refused", { what = what, run = run_id, peer = req.peer, reason = why })
end

return webhooks
