--- The life of one simulated call (providers/sim.lua), run as a background task: signed status
--- callbacks, the webhook document, the callee's media, the end and the price.
---
---   initiated → ringing → (ring seconds) → the document is fetched → answered → media →
---   completed (with the duration); or a final busy / no-answer / failed for the test numbers:
---     +15550100001 busy, +15550100002 no-answer (after ringing), +15550100003 failed (at once).
--- hangup_call before the answer ends the call as canceled; after it, as completed.
local carrier = {}

local calls = require("dialtone.sim_calls")
local callee = require("dialtone.sim_callee")
local signature = require("dialtone.sim_signature")

local http, json, log, time = dialtone.http, dialtone.json, dialtone.log, dialtone.time

carrier.OUTCOMES = { ["+15550100001"] = "busy", ["+15550100002"] = "no-answer", ["+15550100003"] = "failed" }

local TIMEOUT = 10
local MAX_DOCUMENT = 65536

--- POSTs a signed JSON event; the response, or nil and err.
---@param secret string
---@param url string
---@param event table
---@return table|nil, string|nil
local function post(secret, url, event)
  event.event_id, event.timestamp = signature.event_id(), time.now()
  local body = json.encode(event)
  return http.request({
    method = "POST", url = url, body = body, timeout = TIMEOUT, max_response = MAX_DOCUMENT,
    headers = { ["content-type"] = "application/json", [signature.HEADER] = signature.sign(secret, url, body) },
  })
end

--- Moves the call to a status and posts the status callback (when there is a URL).
---@param job table
---@param s string the sim status
local function report(job, s)
  local call = job.call
  call.status = s
  job.sequence = job.sequence + 1
  if not job.status_callback_url then return end
  local event = { call_id = call.call_id, status = s, from = call.from, to = call.to, sequence = job.sequence }
  if call.duration then event.duration = call.duration end
  local res, err = post(job.secret, job.status_callback_url, event)
  if not res or res.status ~= 200 then
    log.warn("sim: status callback not accepted", { call = call.call_id, status = s,
                                                    error = res and ("HTTP " .. res.status) or tostring(err) })
  end
end

--- Ends the call with a final status and reports it.
---@param job table
---@param s string
---@param ended_by string
---@param err string|nil
local function finish(job, s, ended_by, err)
  calls.finish(job.call, s, time.now(), ended_by, err)
  if ended_by == "error" then log.warn("sim: call failed", { call = job.call.call_id, error = err }) end
  report(job, s)
end

--- Fetches the webhook document: {stream_url, token}, or nil and err.
---@param job table
---@return table|nil, string|nil
local function fetch_document(job)
  local call = job.call
  local res, err = post(job.secret, job.webhook_url, { call_id = call.call_id, event = "answer",
                                                       from = call.from, to = call.to })
  if not res then return nil, "webhook document: " .. tostring(err) end
  if res.status ~= 200 then return nil, "webhook document: HTTP " .. res.status end
  local ok, doc = pcall(json.decode, res.body)
  if not ok or type(doc) ~= "table" or type(doc.stream_url) ~= "string" then
    return nil, "webhook document: not a JSON object with stream_url"
  end
  if not doc.stream_url:lower():find("^wss?://") then return nil, "webhook document: stream_url is not ws:// or wss://" end
  if doc.token ~= nil and type(doc.token) ~= "string" then return nil, "webhook document: token must be a string" end
  return doc
end

--- The call from the answer on: the document, answered, the callee's media, completed.
---@param job table
local function connect(job)
  local doc, err = fetch_document(job)
  if not doc then return finish(job, "failed", "error", err) end
  if job.call.hangup_requested then return finish(job, "canceled", "hangup_call") end
  job.call.answered_at = time.now()
  report(job, "answered")
  local ended_by, media_err = callee.run(job.call, doc.stream_url, doc.token, job.scenario)
  if not ended_by then return finish(job, "failed", "error", media_err) end
  finish(job, "completed", ended_by)
end

--- Runs a call to its end (a background task: dialtone.task.spawn(carrier.run, job)).
---@param job {call: SimCall, secret: string, webhook_url: string, status_callback_url: string|nil, scenario: table}
function carrier.run(job)
  job.sequence = 0
  local ok, err = pcall(function()
    report(job, "initiated")
    local outcome = carrier.OUTCOMES[job.call.to]
    if outcome == "failed" then return finish(job, "failed", "callee", "the number cannot be reached") end
    report(job, "ringing")
    time.sleep(job.scenario.ring)
    if job.call.hangup_requested then return finish(job, "canceled", "hangup_call") end
    if outcome then return finish(job, outcome, "callee") end
    connect(job)
  end)
  if not ok then
    log.error("sim: call task failed", { call = job.call.call_id, error = tostring(err) })
    if not job.call.ended_at then finish(job, "failed", "error", tostring(err)) end
  end
end

return carrier
