--- The registry of providers: every top-level `providers/*.lua` file, loaded and validated
--- against the contract (lua/dialtone/provider.lua) when a generation is built. A file that
--- fails to compile or run, or breaks the contract, is logged with what is wrong and is not
--- offered; the others still are. Scripts see the registry through `dialtone.telephony`
--- (lua/dialtone/telephony.lua).
---
--- A provider file providers/NAME.lua is loaded with `require("NAME")`, so NAME must be an
--- identifier and no lua/NAME.lua or scripts/NAME.lua may shadow it.
local providers = {}

local provider = require("dialtone.provider")
local log = dialtone.log

---@type table<string, table> valid providers by name
local by_name = {}
---@type string[] "file: problem" for every provider not offered
local problems = {}

--- Loads and validates one file; returns the provider table, or nil and its problems.
---@param file string
---@return table|nil
---@return string[]|nil
local function load_one(file)
  local module = file:match("([^/]+)%.lua$")
  if not module or not module:find("^[%a_][%w_]*$") then
    return nil, { "file name must be an identifier followed by .lua" }
  end
  local ok, p = pcall(require, module)
  if not ok then return nil, { tostring(p) } end
  local valid, found = provider.validate(p)
  if not valid then return nil, found end
  if by_name[p.name] then return nil, { "name '" .. p.name .. "' is already taken by another provider" } end
  return p
end

--- Loads every provider file (the runtime passes the paths of providers/*.lua, in name order),
--- replacing what an earlier call loaded.
---@param files string[]
function providers.load_all(files)
  by_name, problems = {}, {}
  for _, file in ipairs(files) do
    local p, found = load_one(file)
    if p then
      by_name[p.name] = p
    else
      for _, problem in ipairs(found) do
        -- a load error already reads "file:line: message"
        local named = problem:sub(1, #file + 1) == file .. ":"
        problems[#problems + 1] = named and problem or file .. ": " .. problem
      end
      log.error("provider not offered", { file = file, problems = table.concat(found, "; ") })
    end
  end
end

--- What is wrong with each provider not offered, as "file: problem" lines.
---@return string[]
function providers.problems()
  local copy = {}
  for i, p in ipairs(problems) do copy[i] = p end
  return copy
end

--- The metadata of every valid provider, sorted by name.
---@return table[]
function providers.list()
  local out = {}
  for _, p in pairs(by_name) do
    out[#out + 1] = { name = p.name, title = p.title, fields = p.fields, audio = p.audio }
  end
  table.sort(out, function(a, b) return a.name < b.name end)
  return dialtone.json.array(out)
end

--- The provider table of that name, or nil when none is offered.
---@param name string
---@return table|nil
function providers.get(name)
  return by_name[name]
end

return providers
