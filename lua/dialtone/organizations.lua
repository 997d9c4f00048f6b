--- Organisations, their API keys and their telephony configurations. Until the store holds them,
--- they are read from the organisations file (setting `organizations_file`, by default
--- <data_dir>/organizations.json), re-read on every use so edits apply without a restart:
---
---     { "organizations": {
---         "acme": {
---           "api_key_sha256": "<lowercase hex SHA-256 of the organisation's API key>",
---           "default_config": "main",
---           "telephony": {
---             "main": { "provider": "twilio", "account_sid": "AC...", "auth_token": "...",
---                       "from_numbers": ["+14155550100"] }
---           } } } }
---
--- Each telephony configuration names its provider and carries the values of that provider's
--- configuration fields (lua/dialtone/provider.lua).
local organizations = {}

local providers = require("dialtone.providers")

local crypto, json = dialtone.crypto, dialtone.json

---@type table<string, {fingerprint: string, instance: table}> provider instances by "org/config"
local instances = {}

--- The decoded organisations table, or nil and why.
---@return table<string, table>|nil, string|nil
local function read_all()
  local doc, err = dialtone.config.read_organizations()
  if not doc then
    if err and err:find("^not found: ") then return {} end
    return nil, "organisations file " .. tostring(err)
  end
  if type(doc) ~= "table" or (doc.organizations ~= nil and type(doc.organizations) ~= "table") then
    return nil, "organisations file: expected {\"organizations\": {...}}"
  end
  return doc.organizations or {}
end

--- The organisation whose API key this is, or nil and why.
---@param api_key string|nil
---@return string|nil organization_id, string|nil err
function organizations.authenticate(api_key)
  if type(api_key) ~= "string" or api_key == "" then return nil, "missing API key" end
  local all, err = read_all()
  if not all then return nil, err end
  local presented = crypto.hex(crypto.sha256(api_key))
  local found
  for id, org in pairs(all) do
    -- compare against every organisation so the time taken says nothing about which matched
    if type(org) == "table" and type(org.api_key_sha256) == "string" and
       crypto.constant_time_equal(presented, org.api_key_sha256:lower()) then
      found = id
    end
  end
  if not found then return nil, "invalid API key" end
  return found
end

--- A string that changes whenever a configuration's values do (keys sorted, lists joined).
---@param config table
---@return string
local function fingerprint(config)
  local keys = {}
  for k in pairs(config) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  local parts = {}
  for i, k in ipairs(keys) do
    local ok, encoded = pcall(json.encode, config[k])
    parts[i] = k .. "=" .. (ok and encoded or tostring(config[k]))
  end
  return table.concat(parts, "\n")
end

--- The configuration's problems as one line: "field message; ...".
---@param problems {field: string, message: string}[]|nil
---@return string
local function describe(problems)
  local parts = {}
  for i, p in ipairs(problems or {}) do
    parts[i] = type(p) == "table" and (tostring(p.field) .. " " .. tostring(p.message)) or tostring(p)
  end
  return table.concat(parts, "; ")
end

--- A provider instance for one configuration, reused while the configuration is unchanged (so
--- a provider may cache, e.g. a signed token).
---@param key string
---@param config table
---@return table|nil, string|nil
local function instance_for(key, config)
  local p = providers.get(config.provider)
  if not p then return nil, "provider '" .. tostring(config.provider) .. "' is not offered" end
  local print = fingerprint(config)
  local cached = instances[key]
  if cached and cached.fingerprint == print and cached.provider == p then return cached.instance end
  local instance = p
  if p.new then
    local ok, built = pcall(p.new, config)
    if not ok then return nil, "provider '" .. p.name .. "': " .. tostring(built) end
    instance = built
  end
  local valid, problems = instance.validate_config()
  if not valid then return nil, "invalid configuration: " .. describe(problems) end
  instances[key] = { fingerprint = print, provider = p, instance = instance }
  return instance
end

--- The name of the only configuration, or nil when there are none or several.
---@param configs table
---@return string|nil
local function sole_name(configs)
  local found
  for name in pairs(configs) do
    if found then return nil end
    found = name
  end
  return found
end

--- The provider of an organisation's telephony configuration (its default when config_name is
--- nil), built from that configuration: `dialtone.telephony.get_provider`.
---@param organization_id string
---@param config_name string|nil
---@return table|nil provider, string config_name_or_err
function organizations.get_provider(organization_id, config_name)
  if type(organization_id) ~= "string" then return nil, "organization_id must be a string" end
  local all, err = read_all()
  if not all then return nil, err end
  local org = all[organization_id]
  if type(org) ~= "table" then return nil, "unknown organisation '" .. organization_id .. "'" end
  local configs = type(org.telephony) == "table" and org.telephony or {}
  local name = config_name or org.default_config or sole_name(configs)
  if type(name) ~= "string" or type(configs[name]) ~= "table" then
    return nil, "organisation '" .. organization_id .. "' has no telephony configuration" ..
                (name and (" '" .. tostring(name) .. "'") or "")
  end
  local p, perr = instance_for(organization_id .. "/" .. name, configs[name])
  if not p then return nil, "telephony configuration '" .. name .. "': " .. perr end
  return p, name
end

return organizations
