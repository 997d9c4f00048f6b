--- The Lua side of `dialtone repl`: the pretty printer for results and the helpers the prompt
--- offers (`call`, `calls`, `events`, `providers`, `reload`). The helpers that place or list
--- calls go through the server's telephony HTTP API with the organisation's API key.
local repl = {}

local json = dialtone.json

local KEYWORDS = {}
for w in ([[and break do else elseif end false for function goto if in local nil not or
  repeat return then true until while]]):gmatch("%a+") do KEYWORDS[w] = true end

---@class repl.options
---@field max_depth integer|nil tables deeper than this print as {...} (default 5)
---@field max_items integer|nil entries shown per table (default 100)
---@field max_string integer|nil bytes shown of a string (default 2000)
---@field width integer|nil a table of plain values fitting this many characters stays on one line (default 100)

local DEFAULTS = { max_depth = 5, max_items = 100, max_string = 2000, width = 100 }

--- functions of the API by value, to print `<function dialtone.time.sleep>`
local names = setmetatable({}, { __mode = "k" })

for mod, t in pairs(dialtone) do
  if type(t) == "table" then
    for k, f in pairs(t) do
      if type(f) == "function" then names[f] = "dialtone." .. mod .. "." .. k end
    end
  end
end

local ESCAPES = { ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t", ['"'] = '\\"', ["\\"] = "\\\\" }

local function quote(s, max)
  local shown = #s > max and s:sub(1, max) or s
  local q = '"' .. shown:gsub('[%c"\\]', function(c) return ESCAPES[c] or ("\\%03d"):format(c:byte()) end) .. '"'
  if shown ~= s then q = q .. ("... (%d bytes)"):format(#s) end
  return q
end

local function number_text(n)
  if n ~= n or n == math.huge or n == -math.huge then return tostring(n) end
  if n == math.floor(n) and math.abs(n) < 2 ^ 53 then return ("%d"):format(n) end
  local s = ("%.14g"):format(n)
  if tonumber(s) ~= n then s = ("%.17g"):format(n) end
  return s
end

local function scalar(v, o)
  local t = type(v)
  if t == "string" then return quote(v, o.max_string) end
  if t == "number" then return number_text(v) end
  if t == "nil" or t == "boolean" then return tostring(v) end
  if t == "function" and names[v] then return "<function " .. names[v] .. ">" end
  local ok, s = pcall(tostring, v)
  return "<" .. (ok and tostring(s) or t) .. ">"
end

-- numbers first (ascending), then strings, then the rest by their text
local function key_less(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then
    local rank = { number = 1, string = 2 }
    return (rank[ta] or 3) < (rank[tb] or 3) or ((rank[ta] or 3) == (rank[tb] or 3) and ta < tb)
  end
  if ta == "number" or ta == "string" then return a < b end
  return tostring(a) < tostring(b)
end

local function key_text(k, o)
  if type(k) == "string" and k:find("^[%a_][%w_]*$") and not KEYWORDS[k] then return k end
  return "[" .. scalar(k, o) .. "]"
end

local function is_sequence(keys)
  for i, k in ipairs(keys) do
    if k ~= i then return false end
  end
  return true
end

local format

local function format_table(t, o, depth, path)
  if path[t] then return "<cycle>" end
  local keys = {}
  for k in next, t do keys[#keys + 1] = k end
  if #keys == 0 then return "{}" end
  if depth >= o.max_depth then return "{...}" end
  table.sort(keys, key_less)
  local seq = is_sequence(keys)
  path[t] = true
  local items, nested = {}, false
  for i, k in ipairs(keys) do
    if i > o.max_items then
      items[#items + 1] = ("... (%d more)"):format(#keys - o.max_items)
      break
    end
    local v = rawget(t, k)
    nested = nested or type(v) == "table"
    local text = format(v, o, depth + 1, path)
    items[#items + 1] = seq and text or key_text(k, o) .. " = " .. text
  end
  path[t] = nil
  local line = "{ " .. table.concat(items, ", ") .. " }"
  if not nested and #line <= o.width and not line:find("\n", 1, true) then return line end
  local pad = ("  "):rep(depth + 1)
  return "{\n" .. pad .. table.concat(items, ",\n" .. pad) .. ",\n" .. ("  "):rep(depth) .. "}"
end

format = function(v, o, depth, path)
  if type(v) == "table" then return format_table(v, o, depth, path) end
  return scalar(v, o)
end

--- A value as readable text: tables expanded with sorted keys and indentation, cycles shown
--- as `<cycle>`, strings quoted, functions and userdata named.
---@param value any
---@param opts repl.options|nil
---@return string
function repl.pretty(value, opts)
  local o = {}
  for k, d in pairs(DEFAULTS) do o[k] = opts and opts[k] or d end
  return format(value, o, 0, {})
end

--- Prints each value (a statement's results) on its own line.
function repl.show(...)
  for i = 1, select("#", ...) do print(repl.pretty((select(i, ...)))) end
end

--- Runs a compiled statement and prints what it returns (the REPL runs this as the task).
---@param chunk function
function repl.evaluate(chunk)
  repl.show(chunk())
end


---@class repl.settings
---@field base_url string the server's address, e.g. "http://127.0.0.1:8080"
---@field api_key string|nil the organisation's API key
---@field connected boolean attached to another process (--connect)
---@field reload function|nil the in-process reload (returns true, or nil and the error)

local S = {}

local function api(method, path, body)
  if not S.api_key or S.api_key == "" then
    error("no API key: start the REPL with --api-key KEY or DIALTONE_API_KEY (`dialtone org create` prints one)", 0)
  end
  local res, err = dialtone.http.request({
    method = method, url = S.base_url .. path, timeout = 30, body = body and json.encode(body),
    headers = { authorization = "Bearer " .. S.api_key, ["content-type"] = body and "application/json" or nil },
  })
  if not res then error(method .. " " .. path .. ": " .. tostring(err), 0) end
  local doc = json.decode(res.body)
  if res.status >= 300 then
    local e = type(doc) == "table" and type(doc.error) == "table" and doc.error or {}
    error(("%s %s: %d %s"):format(method, path, res.status, tostring(e.message or res.body)), 0)
  end
  return doc
end

local function clock(t)
  return type(t) == "number" and os.date("%H:%M:%S", math.floor(t)) or "--:--:--"
end

local function workflow_id(workflow)
  if type(workflow) ~= "string" or workflow == "" then error("call: workflow must be a workflow id or name", 0) end
  if workflow:find("^wf_") then return workflow end
  local list = api("GET", "/api/v1/workflows")
  list = list.workflows or list
  local known = {}
  for _, wf in ipairs(list) do
    if wf.name == workflow or wf.flow == workflow then return wf.id end
    known[#known + 1] = wf.name
  end
  error(("call: no workflow named %q (the organisation has: %s)"):format(workflow,
    #known > 0 and table.concat(known, ", ") or "none; `dialtone workflow add` makes one"), 0)
end

local function event_line(e)
  return ("  %s  %-10s %s%s"):format(clock(e.received_at), tostring(e.status or e.raw_status or "-"),
    tostring(e.source or "event"), e.outcome and " (" .. e.outcome .. ")" or "")
end

local function summary(run)
  return { id = run.id, status = run.status, to = run.to_number, from = run.from_number,
    provider = run.provider, created = clock(run.created_at), duration = run.duration,
    cost = run.cost, currency = run.currency }
end

--- Places a call through the organisation's default configuration and prints its events as
--- they arrive, until the run reaches a final status.
---@param number string E.164, e.g. "+15550100000"
---@param workflow string a workflow id (wf_…) or name
---@param opts table|nil {config = id, from = number, options = table (passed to the provider)}
---@return table run {id, status, to, duration, cost, currency, ...}
function repl.call(number, workflow, opts)
  opts = opts or {}
  local status = require("dialtone.status")
  local started = api("POST", "/api/v1/telephony/initiate-call", {
    phone_number = number, workflow_id = workflow_id(workflow), config = opts.config,
    from_number = opts.from, options = opts.options,
  })
  local id = started.workflow_run_id
  print(("%s: %s via %s (call %s)"):format(id, tostring(started.status), tostring(started.provider),
    tostring(started.call_id)))
  local seen = {}
  while true do
    local run = api("GET", "/api/v1/workflow-runs/" .. id)
    for _, e in ipairs(run.events or {}) do
      if not seen[e.id] then
        seen[e.id] = true
        print(event_line(e))
      end
    end
    if status.is_final(run.status) then
      print(("%s: %s"):format(id, run.status))
      return summary(run)
    end
    dialtone.time.sleep(0.25)
  end
end

--- The organisation's latest runs, newest first.
---@param limit integer|nil how many (default 20)
---@return table[]
function repl.calls(limit)
  local page = api("GET", ("/api/v1/workflow-runs?limit=%d"):format(limit or 20))
  local out = {}
  for i, run in ipairs(page.runs) do out[i] = summary(run) end
  return out
end

--- A run's event timeline (status callbacks and what became of them).
---@param run_id string
---@return table[]
function repl.events(run_id)
  if type(run_id) ~= "string" then error("events: run_id must be a string", 0) end
  local run = api("GET", "/api/v1/workflow-runs/" .. dialtone.url.encode(run_id))
  local out = {}
  for i, e in ipairs(run.events or {}) do
    out[i] = { at = clock(e.received_at), source = e.source, status = e.status, raw_status = e.raw_status,
      outcome = e.outcome }
  end
  return out
end

--- The providers offered: this script root's when in-process, the server's when connected.
---@return table[]
function repl.providers()
  if S.connected then return api("GET", "/api/v1/telephony/providers") end
  return dialtone.telephony.providers()
end

local function loopback(url)
  local host = url:match("^%a+://%[([^%]]+)%]") or url:match("^%a+://([^:/]+)")
  return host == "localhost" or host == "::1" or (host or ""):find("^127%.") ~= nil
end

--- Reloads the server's scripts (a new generation); true, or nil and the error. The REPL's own
--- state keeps the modules it has loaded.
---@return boolean|nil
---@return string|nil
function repl.reload()
  if not S.connected then return S.reload() end
  if not loopback(S.base_url) then
    error("reload: /admin/reload answers loopback clients only; run it on the server's machine", 0)
  end
  local res, err = dialtone.http.request({ method = "POST", url = S.base_url .. "/admin/reload", timeout = 60 })
  if not res then return nil, err end
  if res.status == 200 then return true end
  local status = json.decode(res.body)
  return nil, type(status) == "table" and status.reload and status.reload.last_error or res.body
end

--- Sets up the prompt's globals: the helpers, and globals that may be assigned (reading an
--- unknown one still raises).
---@param settings repl.settings
function repl.install(settings)
  S = settings
  for _, name in ipairs({ "call", "calls", "events", "providers", "reload" }) do rawset(_G, name, repl[name]) end
  local sealed = getmetatable(_G)
  setmetatable(_G, { __index = sealed and sealed.__index })
end

return repl
