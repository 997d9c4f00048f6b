-- Workflow runs, one per call (Bearer API key; the key's organisation only):
--
--   GET /api/v1/workflow-runs?status=&limit=&offset=   {runs, total, limit, offset}, newest first
--   GET /api/v1/workflow-runs/{workflow_run_id}        the run with its event timeline and cost
--
-- A run's media token is never returned.
local route = dialtone.route
local store, json = dialtone.store, dialtone.json
local api = require("dialtone.api")

local STATUSES = { "initiated", "ringing", "answered", "completed", "failed", "busy", "no-answer", "canceled" }

---@param run table
---@return table
local function public(run)
  run.media_token = nil
  return run
end

--- The status filter of the query (nil for every status), or false when it is not a status.
---@param v string|nil
---@return string|nil|false
local function status_filter(v)
  if v == nil or v == "" then return nil end
  for _, s in ipairs(STATUSES) do
    if s == v then return v end
  end
  return false
end

route.get("/api/v1/workflow-runs", api.protected(function(req, org)
  local page, bad = api.page(req)
  if not page then return bad end
  local status = status_filter(req.query.status)
  if status == false then
    return api.error(400, "invalid_query", "unknown status", { status = "one of " .. table.concat(STATUSES, ", ") })
  end
  local runs = store.list_runs({ organization_id = org.id, status = status, limit = page.limit, offset = page.offset })
  for _, run in ipairs(runs) do public(run) end
  return route.json(200, {
    runs = json.array(runs), total = store.count_runs({ organization_id = org.id, status = status }),
    limit = page.limit, offset = page.offset,
  })
end))

route.get("/api/v1/workflow-runs/{workflow_run_id}", api.protected(function(req, org)
  local id = req.params.workflow_run_id
  local run = store.get_run(id)
  if not run or run.organization_id ~= org.id then return api.not_found("workflow run", id) end
  run.events = json.array(store.events(run.id))
  return route.json(200, public(run))
end))
