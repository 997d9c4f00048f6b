-- The telephony configuration API (Bearer API key; every id scoped to the key's organisation):
--
--   GET  /api/v1/telephony/providers                      each provider's metadata and form fields
--   GET  /api/v1/telephony/configs, POST                   list, create (201)
--   GET|PUT|DELETE /api/v1/telephony/configs/{id}
--   POST /api/v1/telephony/configs/{id}/default            make it the default
--   GET  /api/v1/telephony/configs/{id}/phone-numbers      the carrier's numbers for it
--
-- Secrets come back as api.MASK; the mask sent back keeps the stored secret. The provider's
-- validate_config() runs on every save: its problems are a 422 naming the fields.
local route = dialtone.route
local store, json, log = dialtone.store, dialtone.json, dialtone.log
local api = require("dialtone.api")
local organizations = require("dialtone.organizations")

local PREFIX = "/api/v1/telephony"
local MAX_NAME = 100
local MAX_VALUE = 16384
local MAX_LIST = 100

--- A provider's metadata for the API: every flag present, lists as JSON arrays.
---@param p table
---@return table
local function provider_view(p)
  local fields = {}
  for i, f in ipairs(p.fields) do
    fields[i] = { name = f.name, label = f.label, type = f.type, secret = f.secret == true,
                  required = f.required == true, default = f.default }
  end
  return { name = p.name, title = p.title, fields = json.array(fields), audio = p.audio }
end

--- The provider's metadata by name, or nil.
---@param name any
---@return table|nil
local function provider_meta(name)
  return type(name) == "string" and dialtone.telephony.provider(name) or nil
end

---@param config table
---@return table
local function public(config)
  return api.public_config(config, provider_meta(config.provider))
end

--- A problem when name is not 1..MAX_NAME characters of printable text.
---@param name any
---@return string|nil
local function name_problem(name)
  if type(name) ~= "string" or name:find("^%s*$") then return "give the configuration a name" end
  if #name > MAX_NAME then return "at most " .. MAX_NAME .. " characters" end
  if name:find("%c") then return "must be one line of text" end
  return nil
end

--- One setting value as stored (a string, or a list of strings for phone_list), nil when empty,
--- or false and a problem.
---@param field table
---@param v any
---@return string|string[]|nil|false, string|nil
local function read_value(field, v)
  if v == nil or v == json.null or v == "" then return nil end
  if field.type == "phone_list" then
    local list = {}
    if type(v) == "string" then
      for n in v:gmatch("[^%s]+") do list[#list + 1] = n end
    elseif type(v) == "table" then
      for k, n in pairs(v) do
        if type(k) ~= "number" or type(n) ~= "string" or #n > 64 then return false, "must be a list of phone numbers" end
        list[#list + 1] = n
      end
      if #list ~= #v then return false, "must be a list of phone numbers" end
      list = v
    else
      return false, "must be a list of phone numbers"
    end
    if #list > MAX_LIST then return false, "at most " .. MAX_LIST .. " numbers" end
    if #list == 0 then return nil end
    return list
  end
  if type(v) ~= "string" then return false, "must be a string" end
  if #v > MAX_VALUE then return false, "at most " .. MAX_VALUE .. " bytes" end
  return v
end

--- The settings to store for a provider from the request's `settings`, with stored secrets kept
--- where the mask came back: settings, secret_fields; or nil and the problems by field.
---@param p table provider metadata
---@param raw any
---@param stored table|nil the configuration being updated
---@return table|nil settings, table secret_fields_or_problems
local function read_settings(p, raw, stored)
  if raw ~= nil and (type(raw) ~= "table" or raw[1] ~= nil) then
    return nil, { settings = "must be an object of field values" }
  end
  local by_name, problems, settings, secrets = {}, {}, {}, {}
  for _, f in ipairs(p.fields) do by_name[f.name] = f end
  for k, v in pairs(raw or {}) do
    local f = by_name[k]
    if not f then
      problems[tostring(k)] = "is not a field of " .. p.title
    elseif f.secret and v == api.MASK then
      local kept = stored and stored.settings[k]
      if kept then settings[k] = kept else problems[k] = "enter the value: none is stored yet" end
    else
      local value, problem = read_value(f, v)
      if value == false then problems[k] = problem else settings[k] = value end
    end
  end
  if next(problems) then return nil, problems end
  for _, f in ipairs(p.fields) do
    if f.secret and settings[f.name] then secrets[#secrets + 1] = f.name end
  end
  return settings, secrets
end

--- validate_config()'s problems by field ("" for problems about no field), or nil when valid.
---@param provider_name string
---@param settings table
---@return table|nil
local function validation_problems(provider_name, settings)
  local _, ok, problems = organizations.build(provider_name, settings)
  if ok == true then return nil end
  if type(ok) == "string" then return { provider = ok } end
  local out = {}
  for _, p in ipairs(problems or {}) do
    local field = type(p) == "table" and tostring(p.field or "settings") or "settings"
    local message = type(p) == "table" and tostring(p.message) or tostring(p)
    out[field] = out[field] and (out[field] .. "; " .. message) or message
  end
  if next(out) == nil then out.settings = "the provider refused this configuration" end
  return out
end

--- The 422 for configuration problems.
---@param fields table
---@return table
local function invalid(fields)
  return api.error(422, "invalid_configuration", "the configuration is not valid", fields)
end

--- The checked values of a create (stored = nil) or update: {name, provider, settings,
--- secret_fields}, or nil and the refusal.
---@param body table
---@param stored table|nil
---@return table|nil, table|nil
local function read_config(body, stored)
  local fields = {}
  local name = body.name
  if name == nil and stored then name = stored.name end
  fields.name = name_problem(name)
  local provider_name = body.provider
  if provider_name == nil and stored then provider_name = stored.provider end
  local p = provider_meta(provider_name)
  if not p then fields.provider = "choose one of the providers offered (" .. tostring(provider_name) .. " is not)" end
  if body.is_default ~= nil and type(body.is_default) ~= "boolean" then fields.is_default = "must be true or false" end
  if next(fields) then return nil, invalid(fields) end
  local raw = body.settings
  if raw == nil and stored then raw = stored.settings end
  local settings, secrets = read_settings(p, raw, stored)
  if not settings then return nil, invalid(secrets) end
  local problems = validation_problems(p.name, settings)
  if problems then return nil, invalid(problems) end
  return { name = name, provider = p.name, settings = settings, secret_fields = json.array(secrets) }
end

--- The response for a store failure on save: 409 for a taken name, else 422.
---@param err string
---@return table
local function save_failed(err)
  if err == "exists" then
    return api.error(409, "config_exists", "a configuration with this name already exists",
                     { name = "a configuration with this name already exists" })
  end
  return api.error(422, "invalid_configuration", tostring(err))
end

--- The organisation's configuration by the request's {id}, or nil and a 404 (or a 500 when its
--- secrets cannot be read).
---@param req table
---@param org table
---@return table|nil, table|nil
local function find(req, org)
  local config, err = store.get_config(org.id, req.params.id)
  if config then return config end
  if err then
    log.error("configuration unreadable", { config = req.params.id, error = err })
    return nil, api.error(500, "config_unreadable", err)
  end
  return nil, api.not_found("telephony configuration", req.params.id)
end

route.get(PREFIX .. "/providers", api.protected(function()
  local out = {}
  for i, p in ipairs(dialtone.telephony.providers()) do out[i] = provider_view(p) end
  return route.json(200, json.array(out))
end))

route.get(PREFIX .. "/configs", api.protected(function(_, org)
  local out = {}
  for i, c in ipairs(store.list_configs(org.id)) do out[i] = public(c) end
  return route.json(200, json.array(out))
end))

route.post(PREFIX .. "/configs", api.protected(function(req, org)
  local body, bad = api.body(req)
  if not body then return bad end
  local values, refusal = read_config(body)
  if not values then return refusal end
  values.is_default = body.is_default == true
  local config, err = store.create_config(org.id, values)
  if not config then return save_failed(err) end
  log.info("configuration created", { org = org.id, config = config.id, provider = config.provider })
  return route.json(201, public(config))
end))

route.get(PREFIX .. "/configs/{id}", api.protected(function(req, org)
  local config, refusal = find(req, org)
  if not config then return refusal end
  return route.json(200, public(config))
end))

route.put(PREFIX .. "/configs/{id}", api.protected(function(req, org)
  local stored, refusal = find(req, org)
  if not stored then return refusal end
  local body, bad = api.body(req)
  if not body then return bad end
  local values, invalid_config = read_config(body, stored)
  if not values then return invalid_config end
  local config, err = store.update_config(org.id, stored.id, values)
  if not config then
    if err == "not found" then return api.not_found("telephony configuration", stored.id) end
    return save_failed(err)
  end
  if body.is_default == true and not config.is_default then
    store.set_default_config(org.id, config.id)
    config = assert(store.get_config(org.id, config.id))
  end
  log.info("configuration updated", { org = org.id, config = config.id, provider = config.provider })
  return route.json(200, public(config))
end))

route.delete(PREFIX .. "/configs/{id}", api.protected(function(req, org)
  if not store.delete_config(org.id, req.params.id) then
    return api.not_found("telephony configuration", req.params.id)
  end
  log.info("configuration deleted", { org = org.id, config = req.params.id })
  return { status = 204, headers = {}, body = "" }
end))

route.post(PREFIX .. "/configs/{id}/default", api.protected(function(req, org)
  if not store.set_default_config(org.id, req.params.id) then
    return api.not_found("telephony configuration", req.params.id)
  end
  local config, refusal = find(req, org)
  if not config then return refusal end
  return route.json(200, public(config))
end))

route.get(PREFIX .. "/configs/{id}/phone-numbers", api.protected(function(req, org)
  local config, refusal = find(req, org)
  if not config then return refusal end
  local provider, err = organizations.get_provider(org.id, config.id)
  if not provider then return api.error(422, "invalid_configuration", err) end
  local numbers, carrier_err = provider.get_available_phone_numbers()
  if not numbers then
    log.warn("carrier phone numbers failed", { config = config.id, error = tostring(carrier_err) })
    return api.error(502, "carrier_error", tostring(carrier_err))
  end
  local ok, store_err = store.set_phone_numbers(org.id, config.id, numbers)
  if not ok then return api.error(502, "carrier_error", "the carrier's numbers cannot be stored: " .. tostring(store_err)) end
  return route.json(200, { numbers = json.array(numbers) })
end))
