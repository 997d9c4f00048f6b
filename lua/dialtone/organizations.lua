--- Organisations, their API keys and their telephony configurations, as dialtone.store keeps
--- them (`dialtone org create`, the configuration API): who an API key belongs to, and the
--- provider instance an organisation's configuration builds (`dialtone.telephony.get_provider`).
local organizations = {}

local providers = require("dialtone.providers")
local kit = require("dialtone.provider_kit")

local store = dialtone.store

---@type table<string, {updated_at: number, provider: table, instance: table}> instances by config id
local instances = {}

--- The organisation whose API key this is, or nil and why.
---@param api_key string|nil
---@return table|nil organization {id, name, created_at}, string|nil err
function organizations.authenticate(api_key)
  if type(api_key) ~= "string" or api_key == "" then return nil, "missing API key" end
  local org = store.organization_for_key(api_key)
  if not org then return nil, "invalid API key" end
  return org
end

--- A provider instance bound to settings (the module itself for a provider without `new`), and
--- its validate_config() verdict: instance, ok, problems; or nil and why it could not be built.
---@param provider_name string
---@param settings table
---@return table|nil instance, boolean|string ok_or_err, table|nil problems
function organizations.build(provider_name, settings)
  local p = providers.get(provider_name)
  if not p then return nil, "provider '" .. tostring(provider_name) .. "' is not offered" end
  local instance = p
  if p.new then
    local ok, built = pcall(p.new, settings)
    if not ok then return nil, "provider '" .. p.name .. "': " .. tostring(built) end
    instance = built
  end
  local valid, problems = instance.validate_config()
  return instance, valid == true, problems
end

--- The instance for a stored configuration, reused while the configuration is unchanged (same
--- updated_at, same provider module) so a provider may cache, e.g. a signed token.
---@param config table as dialtone.store returns it
---@return table|nil, string|nil
local function instance_for(config)
  local p = providers.get(config.provider)
  local cached = instances[config.id]
  if cached and p and cached.provider == p and cached.updated_at == config.updated_at then return cached.instance end
  local instance, ok, problems = organizations.build(config.provider, config.settings)
  if not instance then return nil, ok end
  if not ok then return nil, "invalid configuration: " .. kit.describe_problems(problems) end
  instances[config.id] = { updated_at = config.updated_at, provider = p, instance = instance }
  return instance
end

--- The provider of an organisation's telephony configuration (its default when config_id is
--- nil), built from that configuration: `dialtone.telephony.get_provider`.
---@param organization_id string
---@param config_id string|nil
---@return table|nil provider, string config_id_or_err, string|nil config_name
function organizations.get_provider(organization_id, config_id)
  if type(organization_id) ~= "string" then return nil, "organization_id must be a string" end
  if config_id ~= nil and type(config_id) ~= "string" then return nil, "config_id must be a string" end
  if not store.get_organization(organization_id) then
    return nil, "unknown organisation '" .. organization_id .. "'"
  end
  local config, err
  if config_id then
    config, err = store.get_config(organization_id, config_id)
  else
    config, err = store.default_config(organization_id)
  end
  if not config then
    return nil, err or ("organisation '" .. organization_id .. "' has no telephony configuration" ..
                        (config_id and (" '" .. config_id .. "'") or ""))
  end
  local p, perr = instance_for(config)
  if not p then return nil, "telephony configuration '" .. config.name .. "' (" .. config.id .. "): " .. perr end
  return p, config.id, config.name
end

return organizations
