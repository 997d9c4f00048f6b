-- The example Telnyx provider (examples/providers/telnyx.lua) without a network: webhook
-- signatures (spec/telnyx-plivo.md A.2 vector, with an injected clock), status mapping,
-- configuration checks. ctest runs it on a script root whose providers/ is examples/providers/
-- (tests/CMakeLists.txt); by hand: DIALTONE_SCRIPT_DIR=<such a root> dialtone run FILE.
-- REST calls and the media stream are covered by tests/integration/telnyx_provider.test.js.
local t = require("dialtone.testing")
local check, eq, raises = t.check, t.eq, t.raises
local telnyx = require("telnyx")
local provider = require("dialtone.provider")

local PUBLIC_KEY = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
local STAMP = 1700000000
local BODY = '{"data":{"event_type":"call.answered","id":"0ccc7b54-4df3-4bca-a65a-3da1ecc777f0",' ..
  '"occurred_at":"2024-01-01T00:00:00.000000Z","payload":{"call_control_id":"v3:abc","state":"answered"},' ..
  '"record_type":"event"}}'
local SIGNATURE = "1EZsZtKroear5W7iJbfFe3zsuuMF4uZJzThD1fjWMaYz/Ef0vsJSTsDIfMd8pkw7nPGdaLMiG24ns64VijABAw=="

local function config(extra)
  local c = { api_key = "KEY0123456789", connection_id = "1494404757140276705", public_key = PUBLIC_KEY,
              from_numbers = { "+14155550100" }, api_base_url = "http://127.0.0.1:9/" }
  for k, v in pairs(extra or {}) do c[k] = v end
  return c
end

--- An instance whose clock reads `at`.
local function at(now, extra)
  return telnyx.new(config(extra), { now = function() return now end })
end

local function request(headers, body)
  return { headers = headers, body = body }
end

local function signed_headers(stamp)
  return { ["telnyx-signature-ed25519"] = SIGNATURE, ["telnyx-timestamp"] = tostring(stamp or STAMP) }
end

check("metadata: a valid provider with its fields, audio and signature header", function()
  assert(provider.validate(telnyx))
  eq(telnyx.name, "telnyx", "name")
  eq(telnyx.title, "Telnyx", "title")
  eq(telnyx.signature_header, "telnyx-signature-ed25519", "signature_header")
  eq(telnyx.audio.encoding, "mulaw", "encoding")
  eq(telnyx.audio.rate, 8000, "rate")
  local got = {}
  for i, f in ipairs(telnyx.fields) do
    got[i] = table.concat({ f.name, f.type, tostring(f.secret == true), tostring(f.required == true),
                            tostring(f.default) }, " ")
  end
  eq(table.concat(got, "; "), "api_key string true true nil; connection_id string false true nil; " ..
     "public_key string false true nil; from_numbers phone_list false false nil; " ..
     "api_base_url url false false https://api.telnyx.com", "fields")
  raises("new without a table", "config must be a table", telnyx.new, "x")
  raises("new with a bad clock", "opts.now must be a function", telnyx.new, {}, { now = 5 })
end)

check("the spec's signed webhook verifies at its timestamp, with a replay key", function()
  local p = at(STAMP)
  local ok, info = p.verify_webhook_signature("https://app.example/hook", nil, SIGNATURE,
                                               request(signed_headers(), BODY))
  eq(ok, true, "valid")
  eq(info.replay_key, "telnyx:0ccc7b54-4df3-4bca-a65a-3da1ecc777f0", "replay key from data.id")
  eq(info.ttl, 600, "ttl")
  ok = p.verify_webhook_signature("https://app.example/hook", nil, nil, request(signed_headers(), BODY))
  eq(ok, true, "the signature read from the header when not passed")
  eq(at(STAMP + 300).verify_webhook_signature("u", nil, SIGNATURE, request(signed_headers(), BODY)), true,
     "300 s later")
  eq(at(STAMP - 300).verify_webhook_signature("u", nil, SIGNATURE, request(signed_headers(), BODY)), true,
     "300 s earlier")
end)

check("stale, tampered, unsigned and malformed webhooks are refused with a reason", function()
  local p = at(STAMP)
  local function refused(what, reason, signature, headers, body, instance)
    local ok, why = (instance or p).verify_webhook_signature("u", nil, signature, request(headers, body))
    eq(ok, false, what)
    eq(why, reason, what .. " reason")
  end
  refused("301 s later", "stale timestamp", SIGNATURE, signed_headers(), BODY, at(STAMP + 301))
  refused("301 s earlier", "stale timestamp", SIGNATURE, signed_headers(), BODY, at(STAMP - 301))
  refused("tampered body", "bad signature", SIGNATURE, signed_headers(), (BODY:gsub("answered", "hangup", 1)))
  refused("body with a trailing newline", "bad signature", SIGNATURE, signed_headers(), BODY .. "\n")
  refused("another timestamp", "bad signature", SIGNATURE, signed_headers(STAMP + 1), BODY)
  refused("no signature", "missing telnyx-signature-ed25519 header", nil, { ["telnyx-timestamp"] = "1700000000" }, BODY)
  refused("no timestamp", "missing telnyx-timestamp header", SIGNATURE, {}, BODY)
  refused("no headers at all", "missing telnyx-timestamp header", SIGNATURE, nil, BODY)
  refused("timestamp not a number", "malformed telnyx-timestamp", SIGNATURE, { ["telnyx-timestamp"] = "17e8" }, BODY)
  refused("negative timestamp", "malformed telnyx-timestamp", SIGNATURE, { ["telnyx-timestamp"] = "-1" }, BODY)
  refused("signature not base64", "malformed signature", "not*base64", signed_headers(), BODY)
  refused("short signature", "malformed signature", SIGNATURE:sub(1, 44), signed_headers(), BODY)
  local other_key = dialtone.crypto.base64_encode(("\7"):rep(32))
  refused("another account's key", "bad signature", SIGNATURE, signed_headers(), BODY, at(STAMP, { public_key = other_key }))
  refused("no key configured", "telnyx: public_key is not configured", SIGNATURE, signed_headers(), BODY,
          at(STAMP, { public_key = "" }))
end)

local function event(kind, payload)
  return { data = { event_type = kind, id = "e1", occurred_at = "2024-01-01T00:00:05.000000Z",
                    payload = payload or { call_control_id = "v3:abc" } }, meta = {} }
end

check("parse_status_callback maps call events and hangup causes", function()
  local p = at(STAMP)
  local r = assert(p.parse_status_callback(event("call.initiated")))
  eq(r.call_id, "v3:abc", "call_id")
  eq(r.status, "initiated", "initiated")
  eq(r.raw_status, "call.initiated", "raw_status")
  eq(r.timestamp, "2024-01-01T00:00:05.000000Z", "timestamp")
  eq(assert(p.parse_status_callback(event("call.answered"))).status, "answered", "answered")
  local causes = {
    normal_clearing = "completed", time_limit = "completed", user_busy = "busy", no_answer = "no-answer",
    timeout = "no-answer", originator_cancel = "canceled", call_rejected = "failed", not_found = "failed",
    unspecified = "failed",
  }
  for cause, expected in pairs(causes) do
    local h = assert(p.parse_status_callback(event("call.hangup", { call_control_id = "v3:abc", hangup_cause = cause })))
    eq(h.status, expected, cause)
    eq(h.raw_status, "call.hangup:" .. cause, cause .. " raw_status")
    eq(h.hangup_cause, cause, cause .. " hangup_cause")
  end
end)

check("parse_status_callback: other events are nil and why", function()
  local p = at(STAMP)
  local function not_status(data, pattern)
    local r, why = p.parse_status_callback(data)
    eq(r, nil, pattern)
    assert(tostring(why):find(pattern, 1, true), "reason " .. tostring(why) .. " lacks " .. pattern)
  end
  not_status(event("streaming.started"), "'streaming.started' is a media stream event, not a call status")
  not_status(event("streaming.failed"), "a media stream event")
  not_status(event("call.machine.detection.ended"), "a machine-detection result")
  not_status(event("call.bridged"), "unknown event 'call.bridged'")
  not_status(event("call.hangup", { call_control_id = "v3:abc", hangup_cause = "solar_flare" }),
             "unknown hangup_cause 'solar_flare'")
  not_status(event("call.answered", { state = "answered" }), "without payload.call_control_id")
  not_status({ event_type = "call.answered" }, "not a Telnyx event")
  not_status("call.answered", "not a Telnyx event")
end)

check("validate_config names every bad field", function()
  eq(at(STAMP).validate_config(), true, "a good configuration")
  eq(at(STAMP, { from_numbers = "+14155550100\n+442071838750", api_base_url = "https://api.telnyx.com" })
       .validate_config(), true, "numbers one per line")
  local ok, problems = at(STAMP, {
    api_key = "", connection_id = "has space", public_key = dialtone.crypto.base64_encode(("k"):rep(31)),
    from_numbers = { "+14155550100", "4155550101" }, api_base_url = "ftp://x",
  }).validate_config()
  eq(ok, false, "bad configuration")
  local fields = {}
  for i, pr in ipairs(problems) do fields[i] = pr.field end
  eq(table.concat(fields, ","), "api_key,connection_id,public_key,from_numbers,api_base_url", "fields")
  assert(problems[3].message:find("32-byte Ed25519", 1, true), problems[3].message)
  assert(problems[4].message:find("4155550101", 1, true), problems[4].message)
  eq(select(2, at(STAMP, { public_key = "not base64!" }).validate_config())[1].field, "public_key", "garbage key")
  eq(select(1, telnyx.validate_config()), false, "the unconfigured module")
end)

check("no webhook document, no cost, and calls refused before any request", function()
  local p = at(STAMP)
  local body, err = p.get_webhook_response("wf", "u", "run-1", { public_url = "https://app.example" })
  eq(body, nil, "no document")
  eq(err, "telnyx does not fetch a webhook document: streaming is requested at dial time", "why")
  local cost, cerr = p.get_call_cost("v3:abc")
  eq(cost, nil, "no cost")
  assert(cerr:find("does not report the cost", 1, true), cerr)
  assert(cerr ~= "not priced yet", "a final answer, not a retry")
  local call, ierr = p.initiate_call("+14155550123", nil, "run-1", { media_token = "t" })
  eq(call, nil, "no media_url")
  assert(ierr:find("media_url must be a ws:// or wss:// URL", 1, true), ierr)
  call, ierr = at(STAMP, { from_numbers = {} }).initiate_call("+14155550123", nil, "run-1",
                                                             { media_url = "wss://app.example/ws/a/b/c" })
  eq(call, nil, "no from number")
  assert(ierr:find("no from number", 1, true), ierr)
  call, ierr = telnyx.initiate_call("+14155550123", nil, "run-1",
                                    { from_number = "+14155550100", media_url = "wss://app.example/ws/a/b/c" })
  eq(call, nil, "unconfigured")
  assert(ierr:find("telnyx: invalid configuration: api_key", 1, true), ierr)
end)

return t.finish()
