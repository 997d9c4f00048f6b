--- Workflow runs (one per call) through their lifecycle (DESIGN.md §5), kept in dialtone.store:
--- created before the carrier is asked to call, moved forward by status events (never
--- backwards, duplicates recognised, every event stored), priced once final.
---
--- Store calls do not yield, so each function's read-then-write is atomic.
local runs = {}

local status = require("dialtone.status")
local uuid = require("dialtone.uuid")

local store, crypto, log, time = dialtone.store, dialtone.crypto, dialtone.log, dialtone.time

--- Seconds between attempts to fetch a final call's cost: carriers price a call some seconds
--- after it ends. After the last attempt the cost is recorded as unavailable.
runs.cost_retry_delays = { 1, 2, 4, 8, 15 }

--- Column set when a run reaches a status.
local STATUS_TIME = {
  initiated = "initiated_at",
  ringing = "ringing_at",
  answered = "answered_at",
}

--- A random identifier: a UUID v4.
---@return string
runs.new_id = uuid.v4

--- A fresh media token: 24 random bytes, base64url.
---@return string
function runs.new_media_token()
  return crypto.base64url_encode(crypto.random_bytes(24))
end

--- Applies a normalized status to a run and stores the event. Returns the outcome:
--- "applied", or why nothing changed ("duplicate", "stale", "final", or "invalid_status" when a
--- provider hands over a status that is not a normalized one: the event is kept all the same).
---@param run table the run as stored
---@param s CallStatus
---@param event {source: string, raw: string|nil, raw_status: string|nil, duration: number|nil}
---@return string outcome, CallStatus|nil current
function runs.apply_status(run, s, event)
  local current = store.get_run(run.id) or run -- the caller's copy may predate a wait
  if not status.is_status(s) then
    store.add_event(run.id, { source = event.source, raw = event.raw, raw_status = event.raw_status,
                              outcome = "invalid_status" })
    log.error("provider gave a status that is not a normalized one", { run = run.id, source = event.source,
              status = tostring(s) })
    return "invalid_status", current.status
  end
  local new, changed, why = status.advance(current.status, s)
  local outcome = changed and "applied" or why
  store.add_event(run.id, {
    source = event.source, raw = event.raw, raw_status = event.raw_status, status = s, outcome = outcome,
  })
  if changed then
    local now = time.now()
    local fields = { status = new }
    if STATUS_TIME[new] then fields[STATUS_TIME[new]] = now end
    if status.is_final(new) then
      fields.ended_at = now
      if event.duration then fields.duration = event.duration end
    end
    store.update_run(run.id, fields)
    log.info("run status", { run = run.id, status = new, source = event.source })
  end
  return outcome, new
end

--- The error get_call_cost returns while the carrier has not priced the call yet: the only one
--- worth waiting for (providers already retry their GETs on transient failures).
runs.NOT_PRICED_YET = "not priced yet"

--- Fetches a final call's cost and stores it, retrying with back-off while the carrier says
--- "not priced yet" (bounded by cost_retry_delays). Any other error ends the attempts:
--- cost_state "unavailable". Runs as a background task.
---@param run_id string
---@param provider table the run's provider instance
function runs.fetch_cost(run_id, provider)
  local run = store.get_run(run_id)
  if not run or not run.call_id then return end
  local err, attempts = nil, 0
  for _, delay in ipairs(runs.cost_retry_delays) do
    time.sleep(delay)
    attempts = attempts + 1
    local cost
    cost, err = provider.get_call_cost(run.call_id)
    if cost then
      store.update_run(run_id, {
        cost = tonumber(cost.cost), currency = cost.currency, cost_state = "priced",
        duration = tonumber(cost.duration) or run.duration,
      })
      log.info("run priced", { run = run_id, cost = tostring(cost.cost), currency = tostring(cost.currency) })
      return
    end
    if err ~= runs.NOT_PRICED_YET then break end
  end
  store.update_run(run_id, { cost_state = "unavailable" })
  log.warn("run cost unavailable", { run = run_id, error = tostring(err), attempts = attempts })
end

--- The final statuses, whose runs are priced.
local FINAL = { "completed", "failed", "busy", "no-answer", "canceled" }
--- How many runs of each final status are looked at when the server starts.
local RESUME_LIMIT = 500

--- Resumes the cost fetches a previous process left unfinished (it stopped, or was killed,
--- between a run's final status and its price): every recent final run with a call and no
--- cost_state yet. The server calls it once when it starts (runtime/startup.c).
function runs.resume_cost_fetches()
  local resumed = 0
  for _, s in ipairs(FINAL) do
    for _, run in ipairs(store.list_runs({ status = s, limit = RESUME_LIMIT })) do
      if run.call_id and run.cost_state == nil then
        local provider, err = dialtone.telephony.get_provider(run.organization_id, run.config_id)
        if provider then
          dialtone.task.spawn(runs.fetch_cost, run.id, provider)
          resumed = resumed + 1
        else
          log.warn("cost fetch not resumed", { run = run.id, error = tostring(err) })
        end
      end
    end
  end
  if resumed > 0 then log.info("cost fetches resumed", { runs = resumed }) end
end

return runs
