--- Conventions of the /api/v1 management endpoints (DESIGN.md §8): Bearer API key on every
--- request, JSON errors `{"error": {"code", "message", "fields"?}}`, pagination, and secrets
--- masked in what is sent back.
local api = {}

local organizations = require("dialtone.organizations")

local json = dialtone.json

--- What a stored secret is shown as; sent back on an update, it keeps the stored value.
api.MASK = "••••••••"

api.MAX_LIMIT = 500
api.DEFAULT_LIMIT = 50

--- An error response; fields ({name = message}) name what was wrong with the input.
---@param status integer
---@param code string
---@param message string
---@param fields table<string, string>|nil
---@return table
function api.error(status, code, message, fields)
  local e = { code = code, message = message }
  if fields and next(fields) then e.fields = fields end
  return dialtone.route.json(status, { error = e })
end

--- 404 for an id the organisation does not own (another organisation's ids look just the same).
---@param what string
---@param id any
---@return table
function api.not_found(what, id)
  return api.error(404, "not_found", "no " .. what .. " " .. tostring(id))
end

--- The organisation of the request's `Authorization: Bearer <API key>`, or nil and a 401.
---@param req table
---@return table|nil organization, table|nil refusal
function api.authenticate(req)
  local key = (req.headers.authorization or ""):match("^[Bb]earer%s+(%S+)%s*$")
  local org, err = organizations.authenticate(key)
  if org then return org end
  return nil, dialtone.route.json(401, { error = { code = "unauthorized", message = err } },
                                  { ["www-authenticate"] = "Bearer" })
end

--- Wraps a handler(req, org) so it runs only for a request with a valid API key.
---@param handler fun(req: table, org: table): table
---@return fun(req: table): table
function api.protected(handler)
  return function(req)
    local org, refusal = api.authenticate(req)
    if not org then return refusal end
    return handler(req, org)
  end
end

--- The request's JSON object body, or nil and a 400.
---@param req table
---@return table|nil, table|nil
function api.body(req)
  if type(req.json) ~= "table" or req.json[1] ~= nil then
    return nil, api.error(400, "invalid_json", "the body must be a JSON object" ..
                          (req.json_error and (": " .. tostring(req.json_error)) or ""))
  end
  return req.json
end

--- A non-negative integer query parameter within [min, max], the default when absent.
---@param v string|nil
---@param default integer
---@param min integer
---@param max integer
---@return integer|nil
local function integer_param(v, default, min, max)
  if v == nil or v == "" then return default end
  if not v:find("^%d+$") or #v > 15 then return nil end
  local n = tonumber(v)
  if n < min or n > max then return nil end
  return n
end

--- `limit` (1..MAX_LIMIT, default DEFAULT_LIMIT) and `offset` (default 0) from the query, or nil
--- and a 400 naming the bad parameter.
---@param req table
---@return {limit: integer, offset: integer}|nil, table|nil
function api.page(req)
  local limit = integer_param(req.query.limit, api.DEFAULT_LIMIT, 1, api.MAX_LIMIT)
  local offset = integer_param(req.query.offset, 0, 0, 2 ^ 53 - 1)
  local fields = {}
  if not limit then fields.limit = "must be a whole number from 1 to " .. api.MAX_LIMIT end
  if not offset then fields.offset = "must be a whole number, 0 or more" end
  if next(fields) then return nil, api.error(400, "invalid_query", "bad pagination parameters", fields) end
  return { limit = limit, offset = offset }
end

--- The names a configuration keeps secret: those stored encrypted and those its provider
--- declares secret.
---@param config table
---@param provider table|nil the provider's metadata
---@return table<string, boolean>
function api.secret_names(config, provider)
  local names = {}
  for _, name in ipairs(config.secret_fields or {}) do names[name] = true end
  for _, f in ipairs(provider and provider.fields or {}) do
    if f.secret then names[f.name] = true end
  end
  return names
end

--- A stored configuration as the API shows it: secret values replaced by the mask.
---@param config table as dialtone.store returns it
---@param provider table|nil the provider's metadata
---@return table
function api.public_config(config, provider)
  local secret = api.secret_names(config, provider)
  local settings = {}
  for k, v in pairs(config.settings or {}) do
    if secret[k] then
      settings[k] = api.MASK
    elseif type(v) == "table" then
      settings[k] = json.array(v)
    else
      settings[k] = v
    end
  end
  return {
    id = config.id, name = config.name, provider = config.provider, settings = settings,
    is_default = config.is_default, created_at = config.created_at, updated_at = config.updated_at,
  }
end

return api
