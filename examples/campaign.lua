--- Run it:
---   dialtone run examples/campaign.lua http://127.0.0.1:8080 dt_… wf_… examples/numbers.txt --concurrency 3
---
--- Outbound campaign: calls every number of a list through a running dialtone's telephony API,
--- at most N calls at a time, retries busy and no-answer once, prints each outcome and the total
--- cost once the carrier has priced the calls.
---
--- URL: the server; API_KEY: the organisation's key; WORKFLOW_ID: the flow each call runs;
--- NUMBERS: a file with one E.164 number a line ('#' starts a comment). Each call goes through
--- POST /api/v1/telephony/initiate-call and is followed with GET /api/v1/workflow-runs/{id}
--- until its status is final and its cost known. Exit status: 0, 1 if a call could not be
--- placed or followed, 2 for a bad command line.
local http, json, time, task = dialtone.http, dialtone.json, dialtone.time, dialtone.task

local USAGE = "usage: dialtone run examples/campaign.lua URL API_KEY WORKFLOW_ID NUMBERS_FILE [--concurrency N]"
local DEFAULT_CONCURRENCY, MAX_CONCURRENCY = 2, 50
local RETRY = { busy = true, ["no-answer"] = true }
local FINAL = { completed = true, failed = true, busy = true, ["no-answer"] = true, canceled = true }
local POLL_SECONDS = 0.5
local MAX_CALL_SECONDS = 2 * 3600    -- a call still not final after this is given up on
local RETRY_DELAY = 1

--- The command line as a table, or nil and what is wrong.
---@param args string[]
---@return {url: string, key: string, workflow: string, file: string, concurrency: integer}|nil, string|nil
local function parse_args(args)
  local positional, concurrency = {}, DEFAULT_CONCURRENCY
  local i = 1
  while i <= #args do
    if args[i] == "--concurrency" then
      concurrency = tonumber(args[i + 1])
      if not concurrency or concurrency % 1 ~= 0 or concurrency < 1 or concurrency > MAX_CONCURRENCY then
        return nil, "--concurrency takes a whole number from 1 to " .. MAX_CONCURRENCY
      end
      i = i + 2
    else
      positional[#positional + 1] = args[i]
      i = i + 1
    end
  end
  if #positional ~= 4 then return nil, "expected 4 arguments, got " .. #positional end
  local url = positional[1]:gsub("/+$", "")
  if not url:find("^https?://[^/]+$") then return nil, "URL must be http(s)://host[:port], got " .. positional[1] end
  return { url = url, key = positional[2], workflow = positional[3], file = positional[4], concurrency = concurrency }
end

--- The numbers of a list file (blank lines and '#' comments skipped), or nil and err.
---@param text string
---@return string[]|nil, string|nil
local function parse_numbers(text)
  local numbers, line_no = {}, 0
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    line_no = line_no + 1
    local number = line:gsub("#.*$", ""):match("^%s*(.-)%s*$")
    if number ~= "" then
      if not number:find("^%+[1-9]%d%d%d%d%d%d+$") or #number > 16 then
        return nil, "line " .. line_no .. ": not an E.164 number: " .. number
      end
      numbers[#numbers + 1] = number
    end
  end
  if #numbers == 0 then return nil, "no numbers in the file" end
  return numbers
end

--- One API request as the organisation: the decoded JSON body and status, or nil and err.
---@param cfg table
---@param method string
---@param path string
---@param body table|nil
---@return table|nil, integer|string
local function api(cfg, method, path, body)
  local res, err = http.request({
    method = method, url = cfg.url .. path, timeout = 15, retries = method == "GET" and 2 or 0,
    headers = { authorization = "Bearer " .. cfg.key, ["content-type"] = "application/json" },
    body = body and json.encode(body) or nil,
  })
  if not res then return nil, err end
  local ok, decoded = pcall(json.decode, res.body)
  if not ok or type(decoded) ~= "table" then return nil, "HTTP " .. res.status .. ": not JSON" end
  return decoded, res.status
end

--- Waits until a run is final and its cost settled; the run, or nil and err.
---@param cfg table
---@param run_id string
---@return table|nil, string|nil
local function follow(cfg, run_id)
  local deadline = time.monotonic() + MAX_CALL_SECONDS
  while time.monotonic() < deadline do
    local run, status = api(cfg, "GET", "/api/v1/workflow-runs/" .. run_id)
    if not run then return nil, tostring(status) end
    if status ~= 200 then return nil, "HTTP " .. status end
    if FINAL[run.status] and (run.cost_state == "priced" or run.cost_state == "unavailable") then return run end
    time.sleep(POLL_SECONDS)
  end
  return nil, "still not final after " .. MAX_CALL_SECONDS .. " s"
end

--- Places one call and follows it: {status, cost, currency, run_id}, or nil and err.
---@param cfg table
---@param number string
---@return table|nil, string|nil
local function dial(cfg, number)
  local res, status = api(cfg, "POST", "/api/v1/telephony/initiate-call", { workflow_id = cfg.workflow, phone_number = number })
  if not res then return nil, tostring(status) end
  if status == 502 and res.workflow_run_id then
    return { status = "failed", run_id = res.workflow_run_id, error = res.error and res.error.message } -- nothing to pay
  end
  if status ~= 200 then
    return nil, "HTTP " .. status .. ": " .. tostring(res.error and res.error.message)
  end
  local run, err = follow(cfg, res.workflow_run_id)
  if not run then return nil, err end
  return { status = run.status, cost = run.cost, currency = run.currency, run_id = run.id, duration = run.duration }
end

--- Prints one attempt's outcome.
---@param number string
---@param attempt integer
---@param r table|nil
---@param err string|nil
local function report(number, attempt, r, err)
  if not r then
    print(string.format("%-16s attempt %d  error      %s", number, attempt, err))
    return
  end
  local cost = r.cost and string.format("%.4f %s", r.cost, r.currency or "") or "cost unavailable"
  print(string.format("%-16s attempt %d  %-10s %3d s  %s  run %s", number, attempt, r.status, r.duration or 0, cost,
                      r.run_id))
end

--- Calls one number, and once more after a busy or no-answer; the final result.
---@param cfg table
---@param number string
---@param totals table
local function call_number(cfg, number, totals)
  for attempt = 1, 2 do
    local r, err = dial(cfg, number)
    report(number, attempt, r, err)
    if not r then totals.errors = totals.errors + 1; return end
    totals.calls = totals.calls + 1
    totals.by_status[r.status] = (totals.by_status[r.status] or 0) + 1
    if r.cost then
      local cur = r.currency or "?"
      totals.cost[cur] = (totals.cost[cur] or 0) + r.cost
    end
    if not RETRY[r.status] or attempt == 2 then return end
    time.sleep(RETRY_DELAY)
  end
end

--- Runs cfg.concurrency workers over the numbers; returns the totals once all are done.
---@param cfg table
---@param numbers string[]
---@return table
local function run_campaign(cfg, numbers)
  local totals = { calls = 0, errors = 0, by_status = {}, cost = {} }
  local next_index, finished = 1, 0
  local workers = math.min(cfg.concurrency, #numbers)
  local function worker()
    while next_index <= #numbers do
      local number = numbers[next_index]
      next_index = next_index + 1
      local ok, err = pcall(call_number, cfg, number, totals)
      if not ok then
        totals.errors = totals.errors + 1
        print(string.format("%-16s error      %s", number, tostring(err)))
      end
    end
    finished = finished + 1
  end
  for _ = 1, workers do task.spawn(worker) end
  while finished < workers do time.sleep(0.05) end
  return totals
end

--- Prints the summary line(s).
---@param totals table
local function summary(totals)
  local statuses = {}
  for s, n in pairs(totals.by_status) do statuses[#statuses + 1] = s .. " " .. n end
  table.sort(statuses)
  print(string.format("calls placed: %d (%s)%s", totals.calls, table.concat(statuses, ", "),
                      totals.errors > 0 and string.format(", errors: %d", totals.errors) or ""))
  local costs = {}
  for cur, amount in pairs(totals.cost) do costs[#costs + 1] = string.format("%.4f %s", amount, cur) end
  table.sort(costs)
  print("total cost: " .. (#costs > 0 and table.concat(costs, " + ") or "0"))
end

local cfg, err = parse_args({ ... })
if not cfg then
  print(USAGE .. "\n" .. err)
  return 2
end
local text, read_err = dialtone.assets.read_file(cfg.file)
if not text then print("cannot read " .. cfg.file .. ": " .. read_err); return 2 end
local numbers, list_err = parse_numbers(text)
if not numbers then print(cfg.file .. ": " .. list_err); return 2 end
print(string.format("calling %d numbers, %d at a time", #numbers, math.min(cfg.concurrency, #numbers)))
local totals = run_campaign(cfg, numbers)
summary(totals)
return totals.errors > 0 and 1 or 0
