-- dialtone.store as a script sees it, run inside the binary by `dialtone run` (which opens
-- <data_dir>/dialtone.db). Ids carry a random prefix, so the file passes on a used store too.
-- Prints "N passed, N failed" and returns the number of failures as the exit status.
local t = require("dialtone.testing")
local check, eq, raises = t.check, t.eq, t.raises

local store, json, time, crypto = dialtone.store, dialtone.json, dialtone.time, dialtone.crypto
local P = crypto.hex(crypto.random_bytes(6)) .. "-"

local function fails(what, expected_err, v, err)
  eq(v, nil, what .. " value")
  if expected_err then eq(err, expected_err, what .. " error") else eq(type(err), "string", what .. " error") end
end

check("create_run stores the fields given and returns the run; get_run reads it back", function()
  local before = time.now()
  local run = assert(store.create_run({ id = P .. "r1", organization_id = "org-1", workflow_id = "echo",
    user_id = "u1", provider = "twilio", config_name = "main", to_number = "+15550001",
    from_number = "+15550002", media_token = "tok", status = "initiated", media_state = "waiting" }))
  eq(run.id, P .. "r1", "id")
  eq(run.to_number, "+15550001", "to_number")
  eq(run.media_state, "waiting", "media_state")
  eq(type(run.created_at), "number", "created_at type")
  assert(run.created_at >= before - 0.001 and run.created_at <= time.now() + 0.001, "created_at is now")
  eq(run.updated_at, run.created_at, "updated_at")
  eq(run.call_id, nil, "unset columns are absent")
  local got = store.get_run(P .. "r1")
  for k, v in pairs(run) do eq(got[k], v, "get_run " .. k) end
  for k, v in pairs(got) do eq(run[k], v, "create_run " .. k) end
end)

check("a taken id is nil, 'exists'; an unknown id is nil", function()
  fails("duplicate", "exists", store.create_run({ id = P .. "r1", status = "other" }))
  eq(store.get_run(P .. "r1").status, "initiated", "the first run is untouched")
  eq(select("#", store.get_run(P .. "nope")), 1, "one value")
  eq(store.get_run(P .. "nope"), nil, "unknown")
  eq(store.get_run("not a valid id"), nil, "an id that cannot exist")
end)

check("create_run misuse raises naming the function", function()
  local fn = "dialtone.store.create_run"
  raises("no table", fn, store.create_run, "r")
  raises("no id", fn .. ": id", store.create_run, {})
  raises("numeric id", fn .. ": id", store.create_run, { id = 5 })
  raises("bad id", fn .. ": id", store.create_run, { id = "a b" })
  raises("long id", fn .. ": id", store.create_run, { id = ("x"):rep(129) })
  raises("unknown field", "unknown field 'colour'", store.create_run, { id = P .. "m1", colour = "red" })
  raises("update-only field", "unknown field 'call_id'", store.create_run, { id = P .. "m1", call_id = "CA" })
  raises("number for a string", "field 'to_number' must be a string", store.create_run, { id = P .. "m1", to_number = 1555 })
  raises("non-string key", fn, store.create_run, { id = P .. "m1", [1] = "x" })
  eq(store.get_run(P .. "m1"), nil, "nothing was created")
  assert(store.create_run({ id = P .. ("x"):rep(128 - #P) }), "128 characters are fine")
end)

check("update_run sets fields and updated_at; json.null clears one", function()
  local id = P .. "u1"
  local created = assert(store.create_run({ id = id, status = "initiated" }))
  time.sleep(0.01)
  eq(store.update_run(id, { status = "ringing", call_id = "CA123", ringing_at = 1700000000.25,
                            duration = 0, error = "none" }), true, "update")
  local run = store.get_run(id)
  eq(run.status, "ringing", "status")
  eq(run.call_id, "CA123", "call_id")
  eq(run.ringing_at, 1700000000.25, "ringing_at as a number")
  eq(run.duration, 0, "duration")
  eq(run.created_at, created.created_at, "created_at unchanged")
  assert(run.updated_at > created.updated_at, "updated_at moved")
  eq(store.update_run(id, { error = json.null, cost = 0.0085, currency = "USD" }), true, "clear")
  run = store.get_run(id)
  eq(run.error, nil, "error cleared")
  eq(run.cost, 0.0085, "cost")
  eq(run.call_id, "CA123", "other fields kept")
  eq(store.update_run(id, {}), true, "an empty update still touches updated_at")
  fails("unknown run", "not found", store.update_run(P .. "nope", { status = "x" }))
  fails("too long", nil, store.update_run(id, { error = ("e"):rep(4097) }))
  eq(store.get_run(id).error, nil, "nothing written")
end)

check("update_run misuse raises", function()
  local fn = "dialtone.store.update_run"
  local id = P .. "u1"
  raises("created_at", fn .. ": unknown field 'created_at'", store.update_run, id, { created_at = 1 })
  raises("to_number", "unknown field 'to_number'", store.update_run, id, { to_number = "+1" })
  raises("string for a number", "field 'cost' must be a number", store.update_run, id, { cost = "1.5" })
  raises("number for a string", "field 'status' must be a string", store.update_run, id, { status = 3 })
  raises("false is not null", "field 'error' must be a string", store.update_run, id, { error = false })
  raises("no fields table", fn, store.update_run, id)
  raises("no id", fn, store.update_run, nil, {})
end)

check("add_event appends events; events lists them in order", function()
  local id = P .. "e1"
  assert(store.create_run({ id = id }))
  local raw = "CallSid=CA1&CallStatus=ringing\0tail"
  local e1 = store.add_event(id, { source = "status-callback", raw = raw, raw_status = "ringing",
                                   status = "ringing", outcome = "applied" })
  local e2 = store.add_event(id, { source = "status-callback", raw_status = "ringing", outcome = "duplicate" })
  local e3 = store.add_event(id, {})
  eq(type(e1), "number", "id type")
  eq(e1 % 1, 0, "integer id")
  assert(e1 < e2 and e2 < e3, "ids increase")
  local list = store.events(id)
  eq(#list, 3, "count")
  eq(list[1].id, e1, "first")
  eq(list[2].id, e2, "second")
  eq(list[3].id, e3, "third")
  eq(list[1].raw, raw, "raw verbatim, NUL included")
  eq(list[1].run_id, id, "run_id")
  eq(list[1].outcome, "applied", "outcome")
  eq(list[2].outcome, "duplicate", "outcome 2")
  eq(list[3].source, nil, "unset")
  eq(type(list[3].received_at), "number", "received_at")
  assert(list[1].received_at <= list[3].received_at, "received_at in order")
  eq(#store.events(P .. "nope"), 0, "unknown run: no events")
end)

check("add_event limits and refusals", function()
  local id = P .. "e1"
  assert(store.add_event(id, { raw = ("r"):rep(1024 * 1024) }), "1 MiB raw")
  eq(#store.events(id)[4].raw, 1024 * 1024, "stored whole")
  fails("raw over 1 MiB", nil, store.add_event(id, { raw = ("r"):rep(1024 * 1024 + 1) }))
  fails("long source", nil, store.add_event(id, { source = ("s"):rep(4097) }))
  eq(#store.events(id), 4, "nothing added")
  fails("unknown run", "not found", store.add_event(P .. "nope", { source = "x" }))
  raises("unknown field", "dialtone.store.add_event: unknown field 'duration'", store.add_event, id, { duration = 1 })
  raises("no table", "dialtone.store.add_event", store.add_event, id)
end)

check("list_runs: newest first, by status, limit and offset", function()
  local status = "s-" .. P
  local ids = {}
  for i = 1, 55 do
    ids[i] = P .. "l" .. i
    assert(store.create_run({ id = ids[i], status = status }))
  end
  assert(store.create_run({ id = P .. "other", status = "x-" .. P }))
  local all = store.list_runs({ status = status })
  eq(#all, 50, "default limit")
  eq(all[1].id, ids[55], "newest first")
  eq(all[50].id, ids[6], "50th")
  eq(all[1].status, status, "full runs")
  local page = store.list_runs({ status = status, limit = 10, offset = 50 })
  eq(#page, 5, "last page")
  eq(page[5].id, ids[1], "oldest last")
  eq(#store.list_runs({ status = status, limit = 500 }), 55, "limit 500")
  eq(#store.list_runs({ status = "none-" .. P }), 0, "no match")
  eq(store.list_runs({ limit = 1 })[1].id, P .. "other", "no filter: the newest of all")
  eq(#store.list_runs({ status = "' OR 1=1 --" }), 0, "SQL-looking status matches itself only")
  assert(#store.list_runs() >= 50, "no options")
end)

check("list_runs misuse raises", function()
  local fn = "dialtone.store.list_runs"
  for _, bad in ipairs({ { limit = 0 }, { limit = 501 }, { limit = 1.5 }, { limit = "5" }, { offset = -1 },
                         { offset = 0.5 }, { status = 1 }, { colour = "x" } }) do
    raises("bad option", fn, store.list_runs, bad)
  end
  raises("not a table", fn, store.list_runs, "x")
end)

check("claim_nonce: once per key until it expires", function()
  local key = P .. "nonce"
  eq(store.claim_nonce(key, 60), true, "fresh")
  eq(store.claim_nonce(key, 60), false, "repeated")
  eq(store.claim_nonce(P .. "nonce2", 60), true, "another key")
  local short = P .. "short"
  eq(store.claim_nonce(short, 0.05), true, "short ttl")
  eq(store.claim_nonce(short, 0.05), false, "still recorded")
  time.sleep(0.1)
  eq(store.claim_nonce(short, 60), true, "expired: fresh again")
  eq(store.claim_nonce(short, 60), false, "and recorded again")
  fails("empty key", nil, store.claim_nonce("", 60))
  raises("zero ttl", "dialtone.store.claim_nonce: ttl", store.claim_nonce, key, 0)
  raises("nan ttl", "dialtone.store.claim_nonce: ttl", store.claim_nonce, key, 0 / 0)
  raises("no key", "dialtone.store.claim_nonce", store.claim_nonce, nil, 5)
end)

check("hostile text is stored verbatim", function()
  local sql = "x'); DROP TABLE workflow_runs; --"
  local run = assert(store.create_run({ id = P .. "h1", provider = sql, to_number = "\0\1\255",
                                        workflow_id = ("w"):rep(4096) }))
  eq(run.provider, sql, "SQL text")
  eq(run.to_number, "\0\1\255", "bytes")
  eq(#run.workflow_id, 4096, "4096 bytes")
  fails("4097 bytes", nil, store.create_run({ id = P .. "h2", workflow_id = ("w"):rep(4097) }))
  eq(store.get_run(P .. "h2"), nil, "not created")
  assert(store.get_run(P .. "r1"), "the table is still there")
end)

return t.finish()
