-- providers/vonage.lua without the network: signed webhooks (spec/vonage.md §4.1, its derived
-- vector), the NCCO, event parsing (§4) and configuration checks. REST calls are tested against
-- a fake Vonage in tests/integration/vonage_provider.test.js.
-- Prints "N passed, N failed" and returns the number of failures as the exit status.
local t = require("dialtone.testing")
local check, eq, raises = t.check, t.eq, t.raises

local json, crypto = dialtone.json, dialtone.crypto
local vonage = require("vonage")

-- The provider reads the clock through dialtone.time.now: pin it.
local clock = 0
dialtone.time.now = function() return clock end

-- spec §4.1 "Derived test vector".
local SECRET = "test-signature-secret-0123456789abcdef"
local BODY = '{"from":"447700900000","to":"447700900001","uuid":"aaaaaaaa-bbbb-cccc-dddd-0123456789ab",' ..
  '"conversation_uuid":"CON-aaaaaaaa-bbbb-cccc-dddd-0123456789ab","status":"answered","direction":"outbound",' ..
  '"timestamp":"2024-01-01T12:00:00.000Z"}'
local PART1 = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
local PART2 = "eyJpYXQiOjE3MDQxMTA0MDAsImp0aSI6ImM1YmE4ZjI0LTFhMTQtNGMxMC1iZmRmLTNmYmU4Y2U1MTFiNSIsImlzcyI6IlZvbmFnZSIsInBh" ..
  "eWxvYWRfaGFzaCI6ImVkMDliNzhiYTg2NjEzYzVhMmMzNzBiZmMxMGYxMDBjYjIxZDViYjE3MzZhYjM4NWM2MmQ3Nzg0OTI0ZTljMTMiLCJh" ..
  "cGlfa2V5IjoiYTFiMmMzZDQiLCJhcHBsaWNhdGlvbl9pZCI6ImFhYWFhYWFhLWJiYmItY2NjYy1kZGRkLTAxMjM0NTY3ODlhYiJ9"
local PART3 = "9Rkpsfxs2juFJbUYMn5VgwrwiUljmlENNZxUY8-1gNI"
local TOKEN = PART1 .. "." .. PART2 .. "." .. PART3
local IAT = 1704110400
local APP_ID = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"

local function provider(extra)
  local config = { application_id = APP_ID, api_key = "a1b2c3d4", signature_secret = SECRET,
                   from_numbers = { "+447700900000" } }
  for k, v in pairs(extra or {}) do config[k] = v end
  return vonage.new(config)
end

local function post(body) return { method = "POST", target = "/api/v1/telephony/vonage/events/run-1", body = body } end

--- An HS256 token over raw header and claims JSON texts.
local function hs256(header, claims, secret)
  local input = crypto.base64url_encode(header) .. "." .. crypto.base64url_encode(claims)
  return input .. "." .. crypto.base64url_encode(crypto.hmac_sha256(secret or SECRET, input))
end

local function sha256_hex(s) return crypto.hex(crypto.sha256(s)) end

--- Asserts that verification fails with exactly this reason.
local function refused(p, signature, req, reason, what)
  local ok, why = p.verify_webhook_signature("https://app.example/x", nil, signature, req)
  eq(ok, false, what)
  eq(why, reason, what .. " reason")
end

check("metadata: fields, audio, signature header", function()
  eq(vonage.name, "vonage", "name")
  eq(vonage.title, "Vonage", "title")
  eq(vonage.audio.encoding, "l16", "encoding")
  eq(vonage.audio.rate, 16000, "rate")
  eq(vonage.signature_header, "authorization", "signature_header")
  local want = {
    { "application_id", "string", false, true }, { "private_key", "pem", true, true },
    { "api_key", "string", false, true }, { "api_secret", "string", true, false },
    { "signature_secret", "string", true, true }, { "from_numbers", "phone_list", false, false },
    { "api_base_url", "url", false, false },
  }
  eq(#vonage.fields, #want, "field count")
  for i, w in ipairs(want) do
    local f = vonage.fields[i]
    eq(f.name, w[1], "field " .. i)
    eq(f.type, w[2], w[1] .. " type")
    eq(f.secret == true, w[3], w[1] .. " secret")
    eq(f.required == true, w[4], w[1] .. " required")
  end
  eq(vonage.fields[7].default, "https://api.nexmo.com", "default base")
  raises("new without a table", "vonage.new: config must be a table", vonage.new, "x")
end)

check("the spec §4.1 vector verifies, once per jti within its ttl", function()
  eq(sha256_hex(BODY), "ed09b78ba86613c5a2c370bfc10f100cb21d5bb1736ab385c62d7784924e9c13", "body hash")
  clock = IAT + 10
  local ok, info = provider().verify_webhook_signature("https://app.example/x", nil, "Bearer " .. TOKEN, post(BODY))
  eq(ok, true, "valid")
  eq(info.replay_key, "vonage:c5ba8f24-1a14-4c10-bfdf-3fbe8ce511b5", "replay key")
  eq(info.ttl, 300 + 30 - 10, "ttl: 5 minutes of age and 30 s of leeway left minus 10 s")
  ok = provider().verify_webhook_signature(nil, nil, "bearer  " .. TOKEN .. " ", post(BODY))
  eq(ok, true, "scheme is case-insensitive, spaces around are fine")
  clock = IAT + 329
  ok, info = provider().verify_webhook_signature(nil, nil, "Bearer " .. TOKEN, post(BODY))
  eq(ok, true, "just within max age + leeway")
  eq(info.ttl, 1, "ttl at least 1")
end)

check("tampered, expired, future, foreign and alg none tokens are refused", function()
  local p = provider()
  clock = IAT + 10
  refused(p, "Bearer " .. TOKEN, post(BODY:gsub("answered", "completed")), "payload_hash mismatch", "body changed")
  refused(p, "Bearer " .. TOKEN, post(BODY .. " "), "payload_hash mismatch", "trailing space")
  refused(p, "Bearer " .. TOKEN, post(nil), "payload_hash mismatch", "no body")
  refused(p, "Bearer " .. TOKEN, nil, "payload_hash mismatch", "no request")
  local claims = crypto.base64url_decode(PART2)
  local forged = PART1 .. "." .. crypto.base64url_encode((claims:gsub("a1b2c3d4", "a1b2c3d5"))) .. "." .. PART3
  refused(provider({ api_key = "a1b2c3d5" }), "Bearer " .. forged, post(BODY), "bad signature", "claims changed")
  refused(p, "Bearer " .. PART1 .. "." .. PART2 .. "." .. "8" .. PART3:sub(2), post(BODY), "bad signature", "signature changed")
  refused(provider({ signature_secret = SECRET .. "x" }), "Bearer " .. TOKEN, post(BODY), "bad signature", "other secret")
  refused(provider({ api_key = "ffffffff" }), "Bearer " .. TOKEN, post(BODY), "claim api_key mismatch", "other account")
  refused(provider({ application_id = "bbbbbbbb-bbbb-cccc-dddd-0123456789ab" }), "Bearer " .. TOKEN, post(BODY),
          "claim application_id mismatch", "other application")
  clock = IAT + 331
  refused(p, "Bearer " .. TOKEN, post(BODY), "expired", "older than 5 minutes + leeway")
  clock = IAT - 31
  refused(p, "Bearer " .. TOKEN, post(BODY), "not yet valid", "issued in the future")
  clock = IAT + 10
  local none = crypto.base64url_encode('{"alg":"none","typ":"JWT"}') .. "." .. PART2 .. "."
  refused(p, "Bearer " .. none, post(BODY), "alg not allowed", "alg none")
  local hs = hs256('{"alg":"HS512","typ":"JWT"}', claims)
  refused(p, "Bearer " .. hs, post(BODY), "alg not allowed", "other alg")
  refused(p, "Bearer " .. hs256('{"alg":"HS256"}', '{"iat":1704110400,"api_key":"a1b2c3d4"}'), post(BODY),
          "claim iss mismatch", "no iss")
  refused(p, "Bearer " .. hs256('{"alg":"HS256"}', '{"iss":"Vonage","api_key":"a1b2c3d4"}'), post(BODY),
          "claim iat mismatch", "no iat")
  refused(p, "Bearer " .. hs256('{"alg":"HS256"}', '{"iss":"Vonage","iat":1704110400,"api_key":"a1b2c3d4",' ..
          '"exp":1704110360}'), post(BODY), "expired", "exp passed before max age")
  for _, sig in ipairs({ "", "Bearer", "Bearer ", "Basic " .. TOKEN, TOKEN, "Bearer a b" }) do
    refused(p, sig, post(BODY), "no Bearer token", "header '" .. sig .. "'")
  end
  refused(p, nil, post(BODY), "no Bearer token", "no header")
  for _, garbage in ipairs({ "x", "a.b.c", "..", ("A"):rep(9000), "Bearer.x.y", PART1 .. "." .. PART2 }) do
    refused(p, "Bearer " .. garbage, post(BODY), "malformed", "garbage " .. garbage:sub(1, 20))
  end
  refused(vonage, "Bearer " .. TOKEN, post(BODY), "vonage: signature_secret is not configured", "no configuration")
end)

check("without payload_hash or jti: no body check, no replay key", function()
  clock = IAT + 10
  local token = hs256('{"alg":"HS256","typ":"JWT"}', '{"iat":1704110400,"iss":"Vonage","api_key":"a1b2c3d4"}')
  local ok, info = provider().verify_webhook_signature(nil, nil, "Bearer " .. token, post("anything"))
  eq(ok, true, "valid")
  eq(info, nil, "no replay key without jti")
end)

check("GET webhooks: payload_hash covers the query as a compact JSON object, in order", function()
  clock = IAT + 10
  local p = provider()
  local function token_for(json_text)
    return "Bearer " .. hs256('{"alg":"HS256","typ":"JWT"}', '{"iat":1704110400,"jti":"j-1","iss":"Vonage",' ..
      '"api_key":"a1b2c3d4","payload_hash":"' .. sha256_hex(json_text) .. '"}')
  end
  local target = "/api/v1/telephony/ncco?uuid=aaaa&conversation_uuid=CON-1&to=447700900001&from=447700900000"
  local sig = token_for('{"uuid":"aaaa","conversation_uuid":"CON-1","to":"447700900001","from":"447700900000"}')
  eq(p.verify_webhook_signature(nil, nil, sig, { method = "GET", target = target }), true, "in order")
  local reordered = "/api/v1/telephony/ncco?conversation_uuid=CON-1&uuid=aaaa&to=447700900001&from=447700900000"
  refused(p, sig, { method = "GET", target = reordered }, "payload_hash mismatch", "order matters")
  refused(p, sig, { method = "GET", target = target .. "&x=1" }, "payload_hash mismatch", "added parameter")
  refused(p, sig, { method = "POST", target = target, body = "" }, "payload_hash mismatch", "POST hashes the body")

  -- decoding: %XX and +, JSON escaping, a repeated name keeps its first place and last value
  sig = token_for('{"a":"z","b":"1 2","q":"\\"\\\\/é","":"v","n":""}')
  eq(p.verify_webhook_signature(nil, nil, sig,
     { method = "GET", target = "/x?a=x%20y&b=1+2&q=%22%5C%2F%C3%A9&=v&a=z&n" }), true, "decoded")
  eq(p.verify_webhook_signature(nil, nil, token_for("{}"), { method = "GET", target = "/x" }), true, "no query")
  eq(p.verify_webhook_signature(nil, nil, token_for("{}"), { method = "GET", target = "/x?" }), true, "empty query")
  eq(p.verify_webhook_signature(nil, nil, token_for("{}"), { method = "GET", target = "/x?&&&" }), true, "only &")
  -- hostile queries never raise and never match the wrong hash
  for _, q in ipairs({ "%", "%zz=%", "a==b=c", "=", ("a=1&"):rep(2000), "%00=%00", "\255\254=\0" }) do
    refused(p, token_for("{}"), { method = "GET", target = "/x?" .. q }, "payload_hash mismatch", "query " .. q:sub(1, 12))
  end
end)

check("get_webhook_response: the NCCO connecting the call to the media WebSocket", function()
  local p = provider()
  local text, ctype = p.get_webhook_response("wf1", "u2", "run-3", {
    media_url = "wss://app.example/api/v1/telephony/ws/wf1/u2/run-3", media_token = "t0k\"en",
    event_url = "https://app.example/api/v1/telephony/vonage/events/run-3", public_url = "https://app.example" })
  eq(ctype, "application/json", "content type")
  local d = json.decode(text)
  eq(#d, 1, "one action")
  local a = d[1]
  eq(a.action, "connect", "action")
  eq(a.eventType, "synchronous", "eventType")
  eq(#a.eventUrl, 1, "one event url")
  eq(a.eventUrl[1], "https://app.example/api/v1/telephony/vonage/events/run-3", "eventUrl")
  eq(a.from, "447700900000", "from: digits only")
  eq(#a.endpoint, 1, "one endpoint")
  local e = a.endpoint[1]
  eq(e.type, "websocket", "type")
  eq(e.uri, "wss://app.example/api/v1/telephony/ws/wf1/u2/run-3", "uri")
  eq(e["content-type"], "audio/l16;rate=16000", "content-type")
  eq(e.headers.token, "t0k\"en", "media token header")
  local n = 0
  for _ in pairs(e.headers) do n = n + 1 end
  eq(n, 1, "only the token header")

  local plain = json.decode((provider({ from_numbers = "" }).get_webhook_response("wf1", "u2", "run-3",
    { media_url = "ws://127.0.0.1:9000/ws/wf1/u2/run-3" })))[1]
  eq(plain.endpoint[1].uri, "ws://127.0.0.1:9000/ws/wf1/u2/run-3", "plain ws for loopback")
  eq(plain.from, nil, "no from without numbers")
  eq(plain.eventUrl, nil, "no eventUrl without event_url")
  eq(plain.endpoint[1].headers, nil, "no headers without a token")

  local body, err = p.get_webhook_response("wf1", "u2", "run-3", { public_url = "https://app.example" })
  eq(body, nil, "no media_url")
  assert(err:find("media_url is required", 1, true), err)
  body, err = p.get_webhook_response("wf1", "u2", "run-3", { media_url = "https://app.example/ws" })
  eq(body, nil, "http media url")
  assert(err:find("uri must be a wss:// or ws:// URL", 1, true), err)
  body, err = p.get_webhook_response("wf1", "u2", "run-3", { media_url = "wss://a/b", event_url = "ftp://x" })
  eq(body, nil, "bad event url")
  assert(err:find("event_url must be an http(s):// URL", 1, true), err)
end)

check("parse_status_callback maps every call status of spec §4", function()
  local p = provider()
  local map = {
    started = "initiated", ringing = "ringing", answered = "answered", busy = "busy",
    cancelled = "canceled", unanswered = "no-answer", rejected = "failed", failed = "failed",
    timeout = "no-answer", completed = "completed",
  }
  for raw, want in pairs(map) do
    local r, err = p.parse_status_callback({ uuid = "u-1", conversation_uuid = "CON-1", status = raw,
                                             timestamp = "2020-01-01T12:00:00.000Z" })
    assert(r, raw .. ": " .. tostring(err))
    eq(r.status, want, raw)
    eq(r.raw_status, raw, raw .. " raw")
    eq(r.call_id, "u-1", raw .. " call_id")
    eq(r.conversation_uuid, "CON-1", raw .. " conversation")
    eq(r.timestamp, "2020-01-01T12:00:00.000Z", raw .. " timestamp")
  end
  local done = p.parse_status_callback(json.decode(
    '{"uuid":"u-2","status":"completed","duration":"42","price":"0.00750000","rate":"0.01071400"}'))
  eq(done.duration, 42, "duration as a number")
  eq(p.parse_status_callback({ uuid = "u", status = "ringing" }).duration, nil, "no duration")
end)

check("events that are not call statuses, and malformed ones", function()
  local p = provider()
  local function not_status(data, what)
    local r, err = p.parse_status_callback(data)
    eq(r, nil, what)
    assert(err:find("not a call status", 1, true), what .. ": " .. tostring(err))
  end
  not_status({ call_uuid = "u-1", status = "machine", sub_state = "beep_start" }, "machine")
  not_status({ call_uuid = "u-1", status = "human" }, "human")
  not_status({ uuid = "u-1", status = "disconnected" }, "disconnected")
  not_status({ uuid = "u-1", conversation_uuid = "CON-1", dtmf = { digits = "12", timed_out = true } }, "input")
  not_status({ uuid = "u-1", recording_url = "https://x/r", recording_uuid = "r-1" }, "record")
  not_status(json.decode('{"uuid":"u-1","status":null}'), "null status")
  -- the connect action's WebSocket leg reports to the same event URL, under its own uuid
  not_status({ uuid = "ws-leg", status = "answered", to = "wss://app.example/ws/wf/u/run-1",
               token = "t" }, "WebSocket leg answered")
  not_status({ uuid = "ws-leg", status = "failed", to = "ws://127.0.0.1:9/ws/wf/u/run-1" }, "WebSocket leg failed")
  not_status({ uuid = "ws-leg", status = "completed", to = { type = "websocket", uri = "wss://a/b" } }, "object to")
  eq(p.parse_status_callback({ uuid = "u-1", status = "answered", to = "447700900001" }).status, "answered",
     "a phone leg's to is its number")
  local r, err = p.parse_status_callback({ status = "answered" })
  eq(r, nil, "no uuid")
  eq(err, "vonage: event without a uuid", "no uuid reason")
  r, err = p.parse_status_callback({ uuid = "u-1", status = "exploded" })
  eq(r, nil, "unknown")
  eq(err, "vonage: unknown vonage status 'exploded'", "unknown reason")
  r, err = p.parse_status_callback("status=answered")
  eq(r, nil, "not a table")
  eq(err, "vonage: event data must be a table", "not a table reason")
end)

check("validate_config names every problem, in field order", function()
  local ok, problems = vonage.validate_config()
  eq(ok, false, "empty configuration")
  local fields = {}
  for i, pr in ipairs(problems) do fields[i] = pr.field end
  eq(table.concat(fields, ","), "application_id,private_key,api_key,signature_secret", "required fields")

  ok, problems = vonage.new({
    application_id = "aaaaaaaa-bbbb-cccc-dddd-0123456789a", private_key = "not a pem", api_key = "a1 b2",
    api_secret = 42, signature_secret = ("s"):rep(15), from_numbers = "+447700900000\n447700900001",
    api_base_url = "ftp://api.example",
  }).validate_config()
  eq(ok, false, "bad configuration")
  fields = {}
  for i, pr in ipairs(problems) do fields[i] = pr.field end
  eq(table.concat(fields, ","), "application_id,private_key,api_key,api_secret,signature_secret,from_numbers,api_base_url",
     "every field")
  assert(problems[2].message:find("cannot sign an application JWT: ", 1, true), problems[2].message)
  assert(problems[2].message:find("PEM private key", 1, true), problems[2].message)
  assert(problems[5].message:find("at least 16 characters", 1, true), problems[5].message)
  assert(problems[6].message:find("447700900001", 1, true), problems[6].message)
end)

-- A 2048-bit RSA key generated for this test only; it protects nothing.
local TEST_KEY = [[
-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCPkRteBWYkARD+
iWK0fO8pZ90+pY47jzejxz+YW1fAZu1ZGTxD+vxPbLYxLKfXtZRwjtRwP3JWJx9C
r3sh102qB+NHwUyy7WMih9G+8EgpbFYKfIVr6DfCqxu867oGvVAFXq93K2lDK3CE
iEs3ZUkUX5ynM5N8xIybb+bHX+TpChYoMamy8J+TScxB+77IoYBdzshTO3TS881z
Lo4C4RJNAzwDFI6cpS6ajPlz9W9TR1loViPy5WxlqC2WGvkjjOwjpitzUY+nfZIj
DUQb2sMe2sQVisZZvIFA0RvbyQzv0dRodIs50l3mKhne1xRQUEd0Ul4x+f+euRqB
ZRc9wbb/AgMBAAECggEAPw01Dj1jxvM68fcHhQoLhU1K0x0lks3K22CB8xlGuEbb
/ZICMD71+bHecElS638hUq+/6A5NWj3zUje8ZbfnsYGmVVi1JS3xqHQq72ca4ipk
vVVDyYjimFnKpFWIzTXug3U6raVApRHaaDJtikYu6sY1CA+0OgseT5O9MJnScG/n
gl8iaMAX/pr1zlsKVJ7x3AwwC9oNrG0hI0P0DgnAqwEBkPBeWYg0qCldz3gPXY6K
23k/BarJKZjWXZwhTXfUS8MKJoWTSV+0KJMJ09KEyHfJwfy7rOSlu7+89wVoTywz
Esk63hnc9ZiSB6S9EHm+QnY7QE9jh/mOUI9/zFtBHQKBgQDJd12idvTr2ro7WM6R
Q9tLrk5G3abGp0pjWvcwWbZi9D8tVK3IpTTNiCQH0+w+F4b7ht8aaIQcvlKEhYfo
lWDo2PZ/MoOxhDsjBwhWOROETVhSiXTUclUepFZniNQGD3SoRuUZoZS+nTncJL/k
iVbxFfGyr1/XqVyEay5ya6glCwKBgQC2bZcuDfJCMUG7nlGrYDvpvgfHNmLNCdM/
iCnaQtOGAz7kMHMv6pBiNQWZat3x/nLGDzdgW8e522SV2oGPvQoLD2KOQIx19rnS
Y7gGji+gvFzb074gLORgJgDNP30ZA/+1fqQPMJI7q1BCIvcaYnKr1ig6tTosu0AB
n0fWdyoGXQKBgAttJrVhM9DwreFRzx10EMsBDtV8GspnkJOEBEMMw4hnO/IRPG4F
2LHTh9+dyGdZJEG9y4eO5/dNYBa+EBBD8KQkMg7SyZ9W1ZfN/U4OnKnDTUAZJbQq
6+L6BSCIJSZW2BH3O2UxweLxvedbejq3A2RXD0dIJRJxO5sTDSZWLsozAoGAJQ7U
FB3vJXUeFj/N9VNCOHRK3jP1FBO33wMJBXZnw6RrJS2WaJhsphaBQa4M0fjPVd6H
cEKUqvOfVjWh9hH/tUl1ytHf9qKdEtkA7Av8Ltm0v08fIygbaFCv/wGzpt5CFptY
NmG2gvqE/jpeGfT/uFpzp6Fi5O1QzkON80oXtl0CgYEAij2XuvnEVw8pxlSk5Kxl
hUU8PpA4EXBGe5Wic1n1X+Qu5utoItybCsm5bs2t6YdIEj1fJrj7WJARvi94P8+d
lgVMXRlPa1w1dF4l60+TbwILyrrmcIxV5Ca85zby84Qlsw8G5q5777jWzmZR/1wl
TlOezxEVOmpZddyQwL7Hb/s=
-----END PRIVATE KEY-----
]]

--- Decodes the claims of a compact JWT (no verification).
local function jwt_claims(token)
  return json.decode(crypto.base64url_decode(token:match("^[^.]+%.([^.]+)%.")))
end

check("REST requests: URLs, hosts, auth, retries; the token is cached and renewed a minute before exp", function()
  local real_request = dialtone.http.request
  local sent, reply = {}, nil
  dialtone.http.request = function(req)
    sent[#sent + 1] = req
    return reply
  end
  local ok, err = pcall(function()
    local p = provider({ private_key = TEST_KEY, api_secret = "s3cret" })
    clock = 1000000.7
    reply = { status = 201, body = '{"uuid":"u-1","status":"started","direction":"outbound","conversation_uuid":"CON-1"}' }
    local r = assert(p.initiate_call("+447700900001", "https://app.example/ncco", "run-1"))
    eq(r.call_id, "u-1", "call id")
    local req = sent[1]
    eq(req.method, "POST", "method")
    eq(req.url, "https://api.nexmo.com/v1/calls", "default host")
    eq(req.retries, 0, "POST never retried")
    eq(req.headers["content-type"], "application/json", "json body")
    local token = req.headers.authorization:match("^Bearer (.+)$")
    local c = jwt_claims(token)
    eq(c.application_id, APP_ID, "application_id")
    eq(c.iat, 1000000, "iat")
    eq(c.exp, 1000900, "exp = iat + 900")
    assert(c.jti:find("^%x%x%x%x%x%x%x%x%-%x%x%x%x%-4%x%x%x%-[89ab]%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$"), c.jti)

    clock = 1000000 + 839
    reply = { status = 200, body = '{"uuid":"u/1","status":"ringing"}' }
    eq(p.get_call_status("u/1").status, "ringing", "status")
    eq(sent[2].url, "https://api.nexmo.com/v1/calls/u%2F1", "GET url, id encoded")
    eq(sent[2].method, "GET", "GET")
    eq(sent[2].retries, 2, "GETs retried")
    eq(sent[2].headers.authorization, "Bearer " .. token, "token reused until a minute before exp")
    clock = 1000000 + 840
    p.get_call_status("u/1")
    local renewed = jwt_claims(sent[3].headers.authorization:match("^Bearer (.+)$"))
    eq(renewed.iat, 1000840, "renewed")
    assert(renewed.jti ~= c.jti, "a new jti")

    reply = { status = 200, body = '{"count":1,"numbers":[{"msisdn":"447700900000","type":"mobile-lvn"}]}' }
    local hosts = {
      { nil, "https://rest.nexmo.com/account/numbers" },
      { "https://api-eu.vonage.com/", "https://rest.nexmo.com/account/numbers" },
      { "https://API-US.NEXMO.COM", "https://rest.nexmo.com/account/numbers" },
      { "http://127.0.0.1:8080/vonage/", "http://127.0.0.1:8080/vonage/account/numbers" },
      { "https://notnexmo.com", "https://notnexmo.com/account/numbers" },
    }
    for _, h in ipairs(hosts) do
      local n = #sent
      local nums = assert(provider({ private_key = TEST_KEY, api_secret = "s3cret", api_base_url = h[1] })
        .get_available_phone_numbers())
      eq(#nums, 1, "one number")
      eq(nums[1], "+447700900000", "E.164")
      eq(#sent, n + 1, "one page")
      eq(sent[#sent].url, h[2] .. "?size=100&index=1", "numbers host for " .. tostring(h[1]))
      eq(sent[#sent].headers.authorization, "Basic " .. crypto.base64_encode("a1b2c3d4:s3cret"), "Basic auth")
    end
    eq(provider({ private_key = TEST_KEY, api_base_url = "https://api-eu.vonage.com/" }).validate_config(), true, "valid")
  end)
  dialtone.http.request = real_request
  if not ok then error(err, 0) end
end)

check("REST methods refuse an unusable configuration or bad arguments before any request", function()
  local r, err = vonage.initiate_call("+447700900001", "https://app.example/ncco", "run-1",
                                      { from_number = "+447700900000" })
  eq(r, nil, "no configuration")
  assert(err:find("vonage: invalid configuration: application_id", 1, true), err)
  for _, to in ipairs({ "447700900001", "+0447700900001", "+4477009000011234", "", 447700900001 }) do
    r, err = provider().initiate_call(to, "https://app.example/ncco", "run-1")
    eq(r, nil, "to " .. tostring(to))
    assert(err:find("to_number must be E.164", 1, true), err)
  end
  r, err = provider({ from_numbers = {} }).initiate_call("+447700900001", "https://app.example/ncco", "run-7")
  eq(r, nil, "no from")
  assert(err:find("no E.164 from number", 1, true) and err:find("run-7", 1, true), err)
  r, err = provider().get_call_status("")
  eq(err, "vonage: call_id must be a non-empty string", "empty call id")
  r, err = vonage.get_available_phone_numbers()
  assert(err:find("invalid configuration", 1, true), err)
end)

return t.finish()
