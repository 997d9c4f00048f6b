--- Small helpers for writing a provider (lua/dialtone/provider.lua is the contract itself):
--- reading configuration values, checking numbers, decoding carrier responses, and the
--- module-with-`new(config)` shape every configurable provider has.
---
---     local kit = require("dialtone.provider_kit")
---     return kit.configurable(function(config) ... return spec end, normalize_config)
local kit = {}

local provider = require("dialtone.provider")

local json = dialtone.json

--- A phone-number list setting as a Lua list: a list, or one string with a number per line
--- (how the web form's phone_list field arrives).
---@param v any
---@return any[]
function kit.number_list(v)
  if type(v) == "string" then
    local out = {}
    for n in v:gmatch("[^%s]+") do out[#out + 1] = n end
    return out
  end
  if type(v) == "table" then return v end
  return {}
end

--- A base URL setting: the default when unset or empty, without trailing slashes.
---@param v any
---@param default string
---@return any
function kit.base_url(v, default)
  if v == nil or v == "" then v = default end
  if type(v) == "string" then v = v:gsub("/+$", "") end
  return v
end

--- True for an E.164 number: + then 1 to 15 digits, the first not 0.
---@param v any
---@return boolean
function kit.is_e164(v)
  return type(v) == "string" and v:find("^%+[1-9]%d%d?%d?%d?%d?%d?%d?%d?%d?%d?%d?%d?%d?%d?$") ~= nil
end

---@param v any
---@return boolean
function kit.is_text(v)
  return type(v) == "string" and v ~= ""
end

--- True for an absent value or JSON null.
---@param v any
---@return boolean
function kit.is_null(v)
  return v == nil or v == json.null
end

--- A decoded JSON body, or nil when it is not JSON.
---@param body string
---@return any
function kit.decode_json(body)
  local ok, value = pcall(json.decode, body)
  if ok then return value end
  return nil
end

--- Adds a problem for each entry of a phone-number list setting that is not E.164.
---@param numbers any[]
---@param field string the setting's name
---@param add fun(field: string, message: string)
function kit.check_numbers(numbers, field, add)
  for i, n in ipairs(numbers) do
    if not kit.is_e164(n) then
      add(field, "number " .. i .. " (" .. tostring(n) .. ") is not E.164 (+ and up to 15 digits)")
    end
  end
end

--- Adds a problem unless the setting is an http:// or https:// URL with a host.
---@param v any
---@param field string
---@param add fun(field: string, message: string)
function kit.check_url(v, field, add)
  if type(v) ~= "string" or not v:lower():find("^https?://[^/?#]+") then
    add(field, "must be an http:// or https:// URL")
  end
end

--- validate_config()'s problems as one line: "field message; field message".
---@param problems {field: string, message: string}[]|nil
---@return string
function kit.describe_problems(problems)
  local parts = {}
  for i, pr in ipairs(problems or {}) do
    parts[i] = type(pr) == "table" and (tostring(pr.field) .. " " .. tostring(pr.message)) or tostring(pr)
  end
  return table.concat(parts, "; ")
end

--- A function that returns nil while the provider's configuration is usable, else its problems
--- as one message ("NAME: invalid configuration: field message; ..."), for methods to refuse with.
---@param p table the provider spec, with validate_config
---@return fun(): string|nil
function kit.config_checker(p)
  return function()
    local ok, problems = p.validate_config()
    if ok then return nil end
    return p.name .. ": invalid configuration: " .. kit.describe_problems(problems)
  end
end

--- The module of a provider bound to a configuration: the definition built on an empty
--- configuration (what the registry lists; its methods report the missing configuration), with
--- `new(config [, opts])` building an instance bound to one account (opts go to build as they
--- are, e.g. a clock for tests).
---@param build fun(config: table, opts: table|nil): table the provider spec around a normalized configuration
---@param normalize fun(config: table): table a normalized copy of a configuration table
---@return table
function kit.configurable(build, normalize)
  -- errors name the provider file (or new's caller), not this helper
  local module = provider.define(build(normalize({})), 1)
  function module.new(config, opts)
    if type(config) ~= "table" then error(module.name .. ".new: config must be a table", 2) end
    return provider.define(build(normalize(config), opts), 1)
  end
  return module
end

return kit
