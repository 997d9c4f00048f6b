--- Routes for HTTP requests: `dialtone.route.get("/calls/{id}", handler)` and friends.
--- The runtime calls `dispatch(req)` in the request's coroutine; 404 and 405 are answered here.
local router = {}

local json = dialtone.json
local url_decode = dialtone.url.decode

local METHODS = { "GET", "POST", "PUT", "PATCH", "DELETE" }

---@class RouteEntry
---@field method string
---@field pattern string
---@field segments table[]
---@field handler fun(req: table): table|string

---@type RouteEntry[]
local routes = {}

--- Splits a route pattern into literal and `{param}` segments, raising on malformed ones.
---@param pattern string
---@return table[]
local function compile(pattern)
  if type(pattern) ~= "string" or pattern:sub(1, 1) ~= "/" then
    error("route pattern must be a string starting with '/', got " .. tostring(pattern), 3)
  end
  local segments, seen = {}, {}
  for seg in pattern:gmatch("[^/]+") do
    local name = seg:match("^{([%a_][%w_]*)}$")
    if name then
      if seen[name] then error("route pattern " .. pattern .. " repeats {" .. name .. "}", 3) end
      seen[name] = true
      segments[#segments + 1] = { param = name }
    elseif seg:find("[{}]") then
      error("malformed route segment '" .. seg .. "' in " .. pattern, 3)
    else
      segments[#segments + 1] = { literal = seg }
    end
  end
  return segments
end

--- Registers a handler for a method and pattern.
---@param method string
---@param pattern string
---@param handler fun(req: table): table|string
local function add(method, pattern, handler)
  if type(handler) ~= "function" then
    error("route " .. method .. " " .. tostring(pattern) .. ": handler must be a function", 3)
  end
  local segments = compile(pattern)
  for _, r in ipairs(routes) do
    if r.method == method and r.pattern == pattern then
      error("route " .. method .. " " .. pattern .. " is already defined", 3)
    end
  end
  routes[#routes + 1] = { method = method, pattern = pattern, segments = segments,
                          handler = handler }
end

--- Matches a path against a route's segments; returns the decoded path parameters or nil.
---@param segments table[]
---@param parts string[]
---@return table|nil
local function match(segments, parts)
  if #segments ~= #parts then return nil end
  local params = {}
  for i, seg in ipairs(segments) do
    if seg.literal then
      if seg.literal ~= parts[i] then return nil end
    else
      params[seg.param] = url_decode(parts[i])
    end
  end
  return params
end

---@param path string
---@return string[]
local function split_path(path)
  local parts = {}
  for seg in path:gmatch("[^/]+") do parts[#parts + 1] = seg end
  return parts
end

--- A JSON response.
---@param status integer
---@param value any
---@param headers table<string,string>|nil
---@return table
local function json_response(status, value, headers)
  local h = { ["content-type"] = "application/json" }
  for k, v in pairs(headers or {}) do h[k:lower()] = v end
  return { status = status, headers = h, body = json.encode(value) }
end

--- A plain text response.
---@param status integer
---@param text string
---@param headers table<string,string>|nil
---@return table
local function text_response(status, text, headers)
  local h = { ["content-type"] = "text/plain; charset=utf-8" }
  for k, v in pairs(headers or {}) do h[k:lower()] = v end
  return { status = status, headers = h, body = tostring(text) }
end

--- The JSON error body every error response uses.
---@param status integer
---@param code string
---@param message string
---@param headers table<string,string>|nil
---@return table
local function error_response(status, code, message, headers)
  return json_response(status, { error = { code = code, message = message } }, headers)
end

--- Checks what a handler returned and turns a bare string into a text response.
---@param res any
---@param route RouteEntry
---@return table
local function normalize(res, route)
  if type(res) == "string" then return text_response(200, res) end
  if type(res) == "table" and type(res.status) == "number" then
    res.headers = res.headers or {}
    res.body = res.body == nil and "" or res.body
    return res
  end
  error(("handler for %s %s returned %s; return dialtone.route.json(status, value) or .text(status, text)")
        :format(route.method, route.pattern, type(res)), 0)
end

--- Whether the request asks to switch to WebSocket.
---@param req table
---@return boolean
local function is_websocket_upgrade(req)
  local upgrade = req.headers.upgrade
  return req.method == "GET" and upgrade ~= nil and upgrade:lower():find("websocket", 1, true) ~= nil
end

--- Finds the route for a request and runs its handler (in the request's coroutine).
--- WebSocket routes are registered under the method "WS" and match GET upgrade requests.
---@param req table
---@return table response
function router.dispatch(req)
  local method = req.method == "HEAD" and "GET" or req.method
  if is_websocket_upgrade(req) then method = "WS" end
  local parts = split_path(req.path)
  local allowed = {}
  for _, r in ipairs(routes) do
    local params = match(r.segments, parts)
    if params then
      if r.method == method then
        req.params = params
        req.route = r.pattern
        local res = r.handler(req)
        if res == nil and method == "WS" then
          -- Nothing to send when the handler accepted the connection; otherwise say why.
          return error_response(500, "websocket_not_accepted", "the handler neither accepted the connection nor answered")
        end
        return normalize(res, r)
      end
      allowed[#allowed + 1] = r.method
    end
  end
  if #allowed == 1 and allowed[1] == "WS" then
    return error_response(426, "upgrade_required", req.path .. " takes WebSocket connections only",
                          { upgrade = "websocket", ["sec-websocket-version"] = "13" })
  end
  if #allowed > 0 then
    table.sort(allowed)
    return error_response(405, "method_not_allowed", req.method .. " is not allowed on " .. req.path,
                          { allow = table.concat(allowed, ", ") })
  end
  return error_response(404, "not_found", "no route for " .. req.method .. " " .. req.path)
end

--- The `dialtone.route` table scripts use.
router.api = { json = json_response, text = text_response, error = error_response }
for _, m in ipairs(METHODS) do
  router.api[m:lower()] = function(pattern, handler) add(m, pattern, handler) end
end
--- `dialtone.route.ws(pattern, handler)`: handler(req) sees the upgrade request's headers and
--- accepts the connection (e.g. `dialtone.ws.accept(req)`) or returns a response to refuse it.
router.api.ws = function(pattern, handler) add("WS", pattern, handler) end

return router
