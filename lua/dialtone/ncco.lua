--- NCCO documents (spec/vonage.md §5): a `connect` action that hands the call audio to a
--- WebSocket. The result is the JSON text the answer URL returns.
local ncco = {}

local json = dialtone.json

--- The Content-Type to answer an NCCO request with.
ncco.CONTENT_TYPE = "application/json"

local CONTENT_TYPES = {
  ["audio/l16;rate=8000"] = true,
  ["audio/l16;rate=16000"] = true,
  ["audio/l16;rate=24000"] = true,
}
local MAX_HEADERS_BYTES = 512

---@param what string
---@param value any
---@param pattern string
local function check_url(what, value, pattern)
  if type(value) ~= "string" or not value:lower():match(pattern) then
    error("ncco.connect_websocket: " .. what .. ", got " .. tostring(value), 3)
  end
end

--- The endpoint's `headers` object, or nil when there are none.
---@param headers table|nil
---@return table|nil
local function checked_headers(headers)
  if headers == nil then return nil end
  if type(headers) ~= "table" then error("ncco.connect_websocket: headers must be a table", 3) end
  if next(headers) == nil then return nil end
  for name in pairs(headers) do
    if type(name) ~= "string" then
      error("ncco.connect_websocket: headers must be an object with string names", 3)
    end
  end
  local ok, encoded = pcall(json.encode, headers)
  if not ok then error("ncco.connect_websocket: headers cannot be encoded: " .. tostring(encoded), 3) end
  if #encoded > MAX_HEADERS_BYTES then
    error("ncco.connect_websocket: headers encode to " .. #encoded .. " bytes, more than the " ..
          MAX_HEADERS_BYTES .. " Vonage allows", 3)
  end
  return headers
end

--- An NCCO connecting the call to a WebSocket.
--- `uri` is wss:// in production (what Vonage's platform connects to); ws:// is accepted too,
--- for local development and fake carriers speaking plain WebSocket on loopback.
--- `event_url`, when given, receives the leg's events synchronously (`eventType: synchronous`),
--- so a failed or closed WebSocket can be answered with a fallback NCCO.
---@param opts {uri: string, content_type: string|nil, headers: table|nil, event_url: string|nil, from: string|nil}
---@return string json the NCCO array
function ncco.connect_websocket(opts)
  if type(opts) ~= "table" then error("ncco.connect_websocket: expects a table of options", 2) end
  check_url("uri must be a wss:// or ws:// URL", opts.uri, "^wss?://[^/?#]+")
  local content_type = opts.content_type or "audio/l16;rate=16000"
  if not CONTENT_TYPES[content_type] then
    error("ncco.connect_websocket: content_type must be audio/l16;rate=8000, 16000 or 24000, got " ..
          tostring(content_type), 2)
  end
  local endpoint = { type = "websocket", uri = opts.uri, ["content-type"] = content_type,
                     headers = checked_headers(opts.headers) }
  local action = { action = "connect", endpoint = json.array({ endpoint }) }
  if opts.event_url ~= nil then
    check_url("event_url must be an http(s):// URL", opts.event_url, "^https?://[^/?#]+")
    action.eventType = "synchronous"
    action.eventUrl = json.array({ opts.event_url })
  end
  if opts.from ~= nil then
    if type(opts.from) ~= "string" or opts.from == "" then
      error("ncco.connect_websocket: from must be a non-empty string", 2)
    end
    action.from = opts.from
  end
  return json.encode(json.array({ action }))
end

return ncco
