--- TwiML documents (spec/twilio.md §7): `<Connect><Stream>` to hand the call audio to a
--- WebSocket, `<Say>` and `<Hangup>`. Every attribute value and text is XML-escaped; output is
--- deterministic (stream parameters sorted by name).
local twiml = {}

--- The Content-Type to answer a TwiML request with.
twiml.CONTENT_TYPE = "text/xml"

local HEADER = '<?xml version="1.0" encoding="UTF-8"?>'

local ESCAPES = {
  ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&apos;",
  ["\t"] = "&#9;", ["\n"] = "&#10;", ["\r"] = "&#13;",
}

--- Escapes a value for XML text or a double-quoted attribute; raises on control characters,
--- which XML 1.0 cannot carry.
---@param fn string the public function's name, for the message
---@param what string
---@param s string
---@param level integer the error level of the public function's caller, seen from here
---@return string
local function escape(fn, what, s, level)
  if s:find("[%z\1-\8\11\12\14-\31\127]") then
    error("twiml." .. fn .. ": " .. what .. " contains a control character", level)
  end
  return (s:gsub("[&<>\"'\t\n\r]", ESCAPES))
end

---@param body string
---@return string
local function document(body)
  return HEADER .. "<Response>" .. body .. "</Response>"
end

--- Raises unless `url` is a `wss://` (what Twilio connects to) or `ws://` (local development, the
--- tests' fake carrier) URL with a host and no query string.
---@param url any
local function check_stream_url(url)
  if type(url) ~= "string" or not url:lower():match("^wss?://[^/?#]+") then
    error("twiml.connect_stream: url must be a wss:// or ws:// URL, got " .. tostring(url), 3)
  end
  if url:find("?", 1, true) then
    error("twiml.connect_stream: url must not have a query string (Twilio drops it); " ..
          "pass values as parameters", 3)
  end
end

--- `<Parameter>` elements for a name → value table, sorted by name.
---@param parameters table<string, string|number>|nil
---@return string
local function parameter_elements(parameters)
  if parameters == nil then return "" end
  if type(parameters) ~= "table" then
    error("twiml.connect_stream: parameters must be a table of name = value", 3)
  end
  local names = {}
  for name, value in pairs(parameters) do
    if type(name) ~= "string" or name == "" then
      error("twiml.connect_stream: parameter names must be non-empty strings", 3)
    end
    if type(value) ~= "string" and type(value) ~= "number" then
      error("twiml.connect_stream: parameter " .. name .. " must be a string or a number", 3)
    end
    names[#names + 1] = name
  end
  table.sort(names)
  local out = {}
  for i, name in ipairs(names) do
    local value = tostring(parameters[name])
    out[i] = '<Parameter name="' .. escape("connect_stream", "a parameter name", name, 4) ..
             '" value="' .. escape("connect_stream", "parameter " .. name, value, 4) .. '"/>'
  end
  return table.concat(out)
end

--- A document connecting the call's audio to a bidirectional Media Stream.
---@param opts {url: string, parameters: table<string, string|number>|nil, status_callback: string|nil}
---@return string
function twiml.connect_stream(opts)
  if type(opts) ~= "table" then error("twiml.connect_stream: expects a table of options", 2) end
  check_stream_url(opts.url)
  local attrs = ' url="' .. escape("connect_stream", "url", opts.url, 3) .. '"'
  local callback = opts.status_callback
  if callback ~= nil then
    if type(callback) ~= "string" or not callback:lower():match("^https?://[^/?#]+") then
      error("twiml.connect_stream: status_callback must be an http(s):// URL, got " ..
            tostring(callback), 2)
    end
    attrs = attrs .. ' statusCallback="' .. escape("connect_stream", "status_callback", callback, 3) .. '"'
  end
  local children = parameter_elements(opts.parameters)
  local stream = children == "" and "<Stream" .. attrs .. "/>"
                 or "<Stream" .. attrs .. ">" .. children .. "</Stream>"
  return document("<Connect>" .. stream .. "</Connect>")
end

--- A document that speaks `text` (Twilio's text-to-speech).
---@param text string
---@return string
function twiml.say(text)
  if type(text) ~= "string" or text == "" then
    error("twiml.say: text must be a non-empty string", 2)
  end
  return document("<Say>" .. escape("say", "text", text, 3) .. "</Say>")
end

--- A document that ends the call.
---@return string
function twiml.hangup()
  return document("<Hangup/>")
end

return twiml
