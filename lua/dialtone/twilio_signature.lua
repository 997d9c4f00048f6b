--- `X-Twilio-Signature` (spec/twilio.md §6): HMAC-SHA1 with the Auth Token over the URL
--- followed, for form posts, by every parameter name and value; for JSON bodies, over the URL
--- alone, which carries `bodySHA256=<hex SHA-256 of the body>` in its query string.
---
--- The URL must be the one the carrier requested: scheme, host, port, path and query exactly as
--- Twilio saw them. Behind a reverse proxy or TLS terminator that is not what the server sees,
--- so callers build it from the configured `public_url` plus the request target (path and query
--- as received) — never from the `Host` header. A Media Streams upgrade is signed over the
--- `wss://` URL Twilio dialed, with no parameters.
local twilio_signature = {}

local crypto = dialtone.crypto

local DEFAULT_PORTS = { https = "443", wss = "443", http = "80", ws = "80" }

--- Splits an absolute URL into scheme, authority without port, port (or nil) and the rest
--- (path, query, fragment); nil when it is not an absolute http(s)/ws(s) URL.
---@param url string
---@return string|nil, string|nil, string|nil, string|nil
local function split_url(url)
  local scheme, authority, rest = url:match("^(%a+)://([^/?#]+)(.*)$")
  if not scheme or not DEFAULT_PORTS[scheme:lower()] then return nil end
  local host, port = authority:match("^(.*):(%d+)$")
  return scheme, host or authority, port, rest
end

--- Raises unless the arguments a signature needs are usable.
---@param fn string
---@param auth_token any
---@param url any
local function check_args(fn, auth_token, url)
  if type(auth_token) ~= "string" or auth_token == "" then
    error("twilio_signature." .. fn .. ": auth_token must be a non-empty string", 3)
  end
  if type(url) ~= "string" or not split_url(url) then
    error("twilio_signature." .. fn .. ": url must be an absolute http(s):// or ws(s):// URL, got "
          .. tostring(url), 3)
  end
end

--- The parameter part of the string to sign: names sorted by byte value, each followed by its
--- distinct values sorted. A value may be a string or a list of strings (req.form_all).
---@param params table<string, string|string[]>|nil
---@return string
local function params_string(params)
  local names = {}
  for name in pairs(params or {}) do names[#names + 1] = name end
  table.sort(names)
  local out = {}
  for _, name in ipairs(names) do
    local values = params[name]
    if type(values) ~= "table" then values = { values } end
    local distinct, seen = {}, {}
    for _, v in ipairs(values) do
      v = tostring(v)
      if not seen[v] then
        seen[v] = true
        distinct[#distinct + 1] = v
      end
    end
    table.sort(distinct)
    for _, v in ipairs(distinct) do out[#out + 1] = name .. v end
  end
  return table.concat(out)
end

---@param auth_token string
---@param data string
---@return string
local function sign(auth_token, data)
  return crypto.base64_encode(crypto.hmac_sha1(auth_token, data))
end

--- The signature of a form post (or, with no params, of a GET or a WebSocket upgrade).
---@param auth_token string
---@param url string the URL Twilio requested (see the module comment)
---@param params table<string, string|string[]>|nil the form body, e.g. req.form_all
---@return string signature Base64, as in the header
function twilio_signature.compute(auth_token, url, params)
  check_args("compute", auth_token, url)
  return sign(auth_token, url .. params_string(params))
end

--- The value of the `bodySHA256` query parameter of a URL, or nil.
---@param url string
---@return string|nil
local function body_hash_param(url)
  local query = url:match("^[^?#]*%?([^#]*)")
  if not query then return nil end
  return ("&" .. query):match("&bodySHA256=([^&]*)")
end

--- Appends `bodySHA256=<lowercase hex SHA-256 of body>` to a URL's query string, as Twilio does
--- before signing a JSON body.
---@param url string
---@param body string
---@return string
function twilio_signature.with_body_hash(url, body)
  if type(url) ~= "string" or type(body) ~= "string" then
    error("twilio_signature.with_body_hash: url and body must be strings", 2)
  end
  local base, fragment = url:match("^([^#]*)(.*)$")
  local sep = base:find("?", 1, true) and "&" or "?"
  if base:sub(-1) == "?" or base:sub(-1) == "&" then sep = "" end
  return base .. sep .. "bodySHA256=" .. crypto.hex(crypto.sha256(body)) .. fragment
end

--- Checks a URL's `bodySHA256` against the body; true, or false and why.
---@param url string
---@param body string
---@return boolean, string|nil
local function check_body_hash(url, body)
  local claimed = body_hash_param(url)
  if not claimed then return false, "url has no bodySHA256 parameter" end
  if not crypto.constant_time_equal(claimed, crypto.hex(crypto.sha256(body))) then
    return false, "bodySHA256 does not match the body"
  end
  return true
end

--- The signature of a JSON body: the URL alone is signed, once its `bodySHA256` is checked.
--- Returns nil and why when the URL lacks `bodySHA256` or it does not match the body.
---@param auth_token string
---@param url_with_body_hash string the URL Twilio requested, `bodySHA256` included
---@param body string the raw request body
---@return string|nil, string|nil
function twilio_signature.compute_body(auth_token, url_with_body_hash, body)
  check_args("compute_body", auth_token, url_with_body_hash)
  if type(body) ~= "string" then error("twilio_signature.compute_body: body must be a string", 2) end
  local ok, err = check_body_hash(url_with_body_hash, body)
  if not ok then return nil, err end
  return sign(auth_token, url_with_body_hash)
end

--- The two URL forms Twilio may have signed (§6 step 4): without a port, and with the port
--- (the default one for the scheme when the URL has none).
---@param url string
---@return string without_port, string with_port
local function port_variants(url)
  local scheme, host, port, rest = split_url(url)
  local prefix = scheme .. "://" .. host
  return prefix .. rest, prefix .. ":" .. (port or DEFAULT_PORTS[scheme:lower()]) .. rest
end

--- Verifies an `X-Twilio-Signature` header. Accepts either port form of the URL (§6 step 4).
--- For a form post pass the form (req.form_all); for a GET or a WebSocket upgrade, nil or {};
--- for a JSON body pass the raw body and is_json = true (the URL must carry its bodySHA256).
---@param auth_token string
---@param url string the URL Twilio requested (see the module comment)
---@param params_or_body table|string|nil
---@param signature string|nil the header's value
---@param is_json boolean|nil
---@return boolean, string|nil why when false
function twilio_signature.verify(auth_token, url, params_or_body, signature, is_json)
  check_args("verify", auth_token, url)
  if type(signature) ~= "string" or signature == "" then return false, "missing signature" end
  local suffix = ""
  if is_json then
    if type(params_or_body) ~= "string" then
      error("twilio_signature.verify: a JSON body must be a string", 2)
    end
    local ok, err = check_body_hash(url, params_or_body)
    if not ok then return false, err end
  else
    if params_or_body ~= nil and type(params_or_body) ~= "table" then
      error("twilio_signature.verify: params must be a table of form values", 2)
    end
    suffix = params_string(params_or_body)
  end
  local without_port, with_port = port_variants(url)
  -- Both comparisons always run, so the time taken does not say which form matched.
  local a = crypto.constant_time_equal(sign(auth_token, without_port .. suffix), signature)
  local b = crypto.constant_time_equal(sign(auth_token, with_port .. suffix), signature)
  if a or b then return true end
  return false, "bad signature"
end

return twilio_signature
