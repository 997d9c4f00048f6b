-- The workflow API (Bearer API key; the key's organisation only):
--
--   GET  /api/v1/workflows     the organisation's workflows, oldest first
--   POST /api/v1/workflows     {name, flow, settings?} -> 201; flow names a module in scripts/workflows/
local route = dialtone.route
local store, json, log = dialtone.store, dialtone.json, dialtone.log
local api = require("dialtone.api")
local flow = require("dialtone.flow")

local MAX_NAME = 100

---@param wf table
---@return table
local function public(wf)
  return { id = wf.id, name = wf.name, flow = wf.flow, settings = wf.settings, created_at = wf.created_at }
end

--- The problems of a new workflow by field, or nil.
---@param body table
---@return table|nil
local function problems(body)
  local fields = {}
  local name = body.name
  if type(name) ~= "string" or name:find("^%s*$") then
    fields.name = "give the workflow a name"
  elseif #name > MAX_NAME or name:find("%c") then
    fields.name = "one line of at most " .. MAX_NAME .. " characters"
  end
  if type(body.flow) ~= "string" or not body.flow:find("^[%w_]+$") or #body.flow > MAX_NAME then
    fields.flow = "must name a module in scripts/workflows/ ([A-Za-z0-9_])"
  else
    local _, err = flow.load(body.flow)
    if err then fields.flow = "cannot be loaded: " .. err end
  end
  if body.settings ~= nil and (type(body.settings) ~= "table" or body.settings[1] ~= nil) then
    fields.settings = "must be an object"
  end
  if next(fields) then return fields end
  return nil
end

route.get("/api/v1/workflows", api.protected(function(_, org)
  local out = {}
  for i, wf in ipairs(store.list_workflows(org.id)) do out[i] = public(wf) end
  return route.json(200, json.array(out))
end))

route.post("/api/v1/workflows", api.protected(function(req, org)
  local body, bad = api.body(req)
  if not body then return bad end
  local fields = problems(body)
  if fields then return api.error(422, "invalid_workflow", "the workflow is not valid", fields) end
  local wf, err = store.create_workflow(org.id, { name = body.name, flow = body.flow, settings = body.settings or {} })
  if not wf then
    if err == "exists" then
      return api.error(409, "workflow_exists", "a workflow with this name already exists",
                       { name = "a workflow with this name already exists" })
    end
    return api.error(422, "invalid_workflow", tostring(err))
  end
  log.info("workflow created", { org = org.id, workflow = wf.id, flow = wf.flow })
  return route.json(201, public(wf))
end))
