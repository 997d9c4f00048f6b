-- providers/sim.lua and its modules without the network: scenarios (parsing, hostile steps, the
-- DTMF schedule, the frame player), signatures, status callbacks, pricing and configuration.
-- Whole calls over HTTP and WebSocket are in tests/integration/sim.test.js.
-- Prints "N passed, N failed" and returns the number of failures as the exit status.
local t = require("dialtone.testing")
local check, eq = t.check, t.eq

local json, crypto, codec = dialtone.json, dialtone.crypto, dialtone.codec
local sim = require("sim")
local scenario = require("dialtone.sim_scenario")
local signature = require("dialtone.sim_signature")
local calls = require("dialtone.sim_calls")

local SECRET = "sim-secret-0123456789"

local function provider(extra)
  local config = { webhook_secret = SECRET }
  for k, v in pairs(extra or {}) do config[k] = v end
  return sim.new(config)
end

--- Raises unless s contains part (plain text).
local function has(s, part, what)
  if not tostring(s):find(part, 1, true) then error((what or "text") .. ": '" .. tostring(s) .. "' lacks '" .. part .. "'", 2) end
end

--- The largest absolute sample of PCM16.
local function peak(pcm)
  local top = 0
  for i = 1, #pcm - 1, 2 do
    local lo, hi = pcm:byte(i, i + 1)
    local v = hi * 256 + lo
    if v >= 32768 then v = 65536 - v end
    if v > top then top = v end
  end
  return top
end

check("metadata: name, title, fields with defaults, wire audio, signature header", function()
  eq(sim.name, "sim", "name")
  eq(sim.title, "Simulated carrier", "title")
  local want = {
    { "webhook_secret", "string", true, true, nil }, { "rate_per_minute", "string", false, false, "0.0100" },
    { "currency", "string", false, false, "USD" }, { "scenario", "text", false, false, nil },
    { "from_numbers", "phone_list", false, false, "+15550100000" },
  }
  eq(#sim.fields, #want, "field count")
  for i, w in ipairs(want) do
    local f = sim.fields[i]
    eq(f.name, w[1], "field " .. i)
    eq(f.type, w[2], w[1] .. " type")
    eq(f.secret == true, w[3], w[1] .. " secret")
    eq(f.required == true, w[4], w[1] .. " required")
    eq(f.default, w[5], w[1] .. " default")
  end
  eq(sim.audio.encoding, "l16", "encoding")
  eq(sim.audio.rate, 16000, "rate")
  eq(sim.signature_header, "x-sim-signature", "signature header")
  eq(type(sim.hangup_call), "function", "hangup_call")
end)

check("the default scenario: 1 s of 440 Hz, DTMF 1 at 1.5 s, hang up after 5 s", function()
  local sc = assert(scenario.parse(scenario.DEFAULT))
  eq(sc.ring, 0.5, "ring")
  eq(sc.hangup_after, 5, "hangup_after")
  eq(sc.audio_seconds, 1, "audio")
  eq(#sc.dtmf, 1, "digits")
  eq(sc.dtmf[1].digit, "1", "digit")
  eq(sc.dtmf[1].at, 1.5, "at")
end)

check("a scenario as a list, as {ring, steps} and as JSON text", function()
  local list = assert(scenario.parse({ { silence = 200 }, { tone = 1000, ms = 300, amplitude = 0.5 } }))
  eq(list.ring, scenario.DEFAULT_RING, "default ring")
  eq(#list.steps, 2, "steps")
  eq(list.hangup_after, nil, "no hangup_after: the flow hangs up")
  eq(math.floor(list.audio_seconds * 1000 + 0.5), 500, "audio ms")
  local obj = assert(scenario.parse({ ring = 0, steps = { { hangup_after = 1 } } }))
  eq(obj.ring, 0, "ring 0")
  eq(obj.hangup_after, 1, "hangup_after")
  local text = assert(scenario.parse('{"ring":2,"steps":[{"dtmf":"12","at":0.5},{"hangup_after":3}]}'))
  eq(text.ring, 2, "JSON ring")
  eq(#text.dtmf, 2, "JSON digits")
end)

check("DTMF without `at` falls where it is in the audio; digits are spaced and sorted", function()
  local sc = assert(scenario.parse({ { tone = 440, ms = 700 }, { dtmf = "4#" }, { silence = 300 },
                                     { dtmf = "9", at = 0.1 } }))
  local got = {}
  for i, d in ipairs(sc.dtmf) do got[i] = d.digit .. "@" .. string.format("%.2f", d.at) end
  eq(table.concat(got, " "), "9@0.10 4@0.70 #@" .. string.format("%.2f", 0.7 + scenario.DIGIT_SPACING), "schedule")
  local same = assert(scenario.parse({ { dtmf = "5", at = 1 }, { dtmf = "3", at = 1 }, { dtmf = "8", at = 1 } }))
  eq(same.dtmf[1].digit .. same.dtmf[2].digit .. same.dtmf[3].digit, "538", "same time: in the order written")
end)

check("hostile or mistaken scenarios are refused with the step and the reason", function()
  local too_many = {}
  for i = 1, scenario.MAX_STEPS + 1 do too_many[i] = { silence = 1 } end
  local cases = {
    { "[1,", "scenario: not valid JSON" },
    { 42, "scenario: must be a list of steps or {ring, steps}" },
    { { 1 }, "scenario: step 1: must be a table" },
    { { {} }, "scenario: step 1: needs one of tone, silence, wav, dtmf, hangup_after" },
    { { { silence = 10 }, { tone = 440, silence = 10 } }, "scenario: step 2: has both 'tone' and 'silence'" },
    { { { tone = 440, ms = 10, volume = 1 } }, "scenario: step 1: unknown key 'volume' in a tone step" },
    { { { tone = 440 } }, "scenario: step 1: a tone needs ms" },
    { { { tone = 8000, ms = 10 } }, "scenario: step 1: tone must be a frequency in Hz (1-7999)" },
    { { { tone = 0 / 0, ms = 10 } }, "scenario: step 1: tone must be a frequency" },
    { { { tone = "440", ms = 10 } }, "scenario: step 1: tone must be a frequency" },
    { { { tone = 440, ms = 10.5 } }, "scenario: step 1: a tone needs ms, whole milliseconds" },
    { { { tone = 440, ms = 60001 } }, "scenario: step 1: a tone needs ms" },
    { { { tone = 440, ms = 10, amplitude = 2 } }, "scenario: step 1: amplitude must be between 0 and 1" },
    { { { silence = -1 } }, "scenario: step 1: silence must be whole milliseconds" },
    { { { silence = 3600001 } }, "scenario: step 1: silence must be whole milliseconds" },
    { { { dtmf = "12x" } }, "scenario: step 1: dtmf must be 1-32 of 0-9 * # A-D" },
    { { { dtmf = "" } }, "scenario: step 1: dtmf must be" },
    { { { dtmf = string.rep("1", 33) } }, "scenario: step 1: dtmf must be" },
    { { { dtmf = "1", at = -1 } }, "scenario: step 1: at must be seconds after the answer" },
    { { { hangup_after = "soon" } }, "scenario: step 1: hangup_after must be seconds" },
    { { { hangup_after = 1 }, { hangup_after = 2 } }, "scenario: step 2: a second hangup_after" },
    { { { wav = "../secret.wav" } }, "scenario: step 1: wav must be a relative path under scripts/" },
    { { { wav = "/etc/passwd.wav" } }, "scenario: step 1: wav must be a relative path" },
    { { { wav = "a/../../b.wav" } }, "scenario: step 1: wav must be a relative path" },
    { { { wav = "hello.txt" } }, "scenario: step 1: wav must be a relative path" },
    { { { wav = "no/such/file.wav" } }, "scenario: step 1: wav 'no/such/file.wav': not found" },
    { { ring = 61, steps = {} }, "scenario: ring must be seconds (0-60)" },
    { { ring = 1, steps = "x" }, "scenario: steps must be a list of steps" },
    { { ring = 1, steps = {}, extra = true }, "scenario: unknown key 'extra' (expected ring, steps)" },
    { { [1] = { silence = 1 }, [3] = { silence = 1 } }, "scenario: steps must be a list" },
    { too_many, "scenario: at most " .. scenario.MAX_STEPS .. " steps" },
  }
  for i, c in ipairs(cases) do
    local sc, err = scenario.parse(c[1])
    eq(sc, nil, "case " .. i)
    has(err, c[2], "case " .. i)
  end
end)

check("the player: 20 ms frames at 16 kHz, each step's audio in order, then silence", function()
  local sc = assert(scenario.parse({ { silence = 30 }, { tone = 1000, ms = 40, amplitude = 0.5 }, { dtmf = "1" } }))
  local player = scenario.player(sc)
  local frames = {}
  for i = 1, 6 do frames[i] = player.next() end
  for i, f in ipairs(frames) do eq(#f, scenario.FRAME_BYTES, "frame " .. i .. " size") end
  eq(peak(frames[1]), 0, "frame 1: silence")
  eq(peak(frames[2]:sub(1, 320)), 0, "frame 2, first 10 ms: silence")
  assert(peak(frames[2]:sub(321)) > 10000, "frame 2, last 10 ms: the tone")
  assert(peak(frames[3]) > 10000 and peak(frames[4]) > 10000, "frames 3-4: the tone")
  assert(peak(frames[4]:sub(1, 320)) > 10000, "frame 4 starts with the tone's end")
  eq(peak(frames[4]:sub(321)), 0, "the tone ends after 70 ms")
  eq(peak(frames[5]) + peak(frames[6]), 0, "then silence")
end)

check("signatures: a signed request verifies once per event id; anything else is refused", function()
  local url = "http://127.0.0.1:9/api/v1/telephony/events/run-1"
  local now = 1700000000
  local body = json.encode({ event_id = "EVabc", timestamp = now, call_id = "SIM1", status = "ringing" })
  local sig = signature.sign(SECRET, url, body)
  eq(sig, crypto.base64_encode(crypto.hmac_sha256(SECRET, url .. body)), "HMAC-SHA256 over url .. body, base64")
  local ok, info = signature.verify(SECRET, url, body, sig, now + 10)
  eq(ok, true, "valid")
  eq(info.replay_key, "sim:EVabc", "replay key")
  eq(info.ttl, 600, "ttl")
  local refused = {
    { SECRET, url, body:gsub("ringing", "answered"), sig, now, "bad signature" },
    { SECRET, url .. "x", body, sig, now, "bad signature" },
    { "another-secret-012345", url, body, sig, now, "bad signature" },
    { SECRET, url, body, nil, now, "missing x-sim-signature header" },
    { SECRET, url, body, "", now, "missing x-sim-signature header" },
    { SECRET, url, body, "garbage", now, "bad signature" },
    { nil, url, body, sig, now, "sim: webhook_secret is not configured" },
    { SECRET, url, body, sig, now + 301, "stale timestamp" },
    { SECRET, url, body, sig, now - 301, "stale timestamp" },
  }
  for i, r in ipairs(refused) do
    local rok, why = signature.verify(r[1], r[2], r[3], r[4], r[5])
    eq(rok, false, "refused " .. i)
    eq(why, r[6], "reason " .. i)
  end
  local function signed(b) return signature.verify(SECRET, url, b, signature.sign(SECRET, url, b), now) end
  eq(select(2, signed("not json")), "signed body is not a JSON object", "not JSON")
  eq(select(2, signed('{"timestamp":' .. now .. '}')), "signed body has no valid event_id", "no event id")
  eq(select(2, signed('{"event_id":"a b","timestamp":' .. now .. '}')), "signed body has no valid event_id", "bad id")
  eq(select(2, signed('{"event_id":"EV1"}')), "stale timestamp", "no timestamp")
end)

check("verify_webhook_signature reads the body from the request", function()
  local p = provider()
  local url = "http://app.example/api/v1/telephony/answer?workflow_run_id=r&token=t"
  local body = json.encode({ event_id = signature.event_id(), timestamp = dialtone.time.now(), event = "answer" })
  local ok, info = p.verify_webhook_signature(url, nil, signature.sign(SECRET, url, body), { body = body })
  eq(ok, true, "valid")
  has(info.replay_key, "sim:EV", "replay key")
  eq(p.verify_webhook_signature(url, nil, signature.sign("x", url, body), { body = body }), false, "wrong secret")
  eq(provider({ webhook_secret = "" }).verify_webhook_signature(url, nil, "x", { body = body }), false, "no secret")
end)

check("status callbacks parse to normalized statuses", function()
  local p = provider()
  for _, s in ipairs({ "initiated", "ringing", "answered", "completed", "busy", "no-answer", "failed", "canceled" }) do
    local r = assert(p.parse_status_callback({ call_id = "SIM1", status = s, sequence = 2, duration = 7 }))
    eq(r.status, s, s)
    eq(r.raw_status, s, s .. " raw")
    eq(r.call_id, "SIM1", "call id")
    eq(r.duration, 7, "duration")
    eq(r.sequence, 2, "sequence")
  end
  local bad = {
    { { call_id = "SIM1", status = "in-progress" }, "sim: unknown sim status 'in-progress'" },
    { { status = "ringing" }, "sim: status callback without call_id" },
    { { event = "answer", call_id = "SIM1" }, "not a call status" },
    { "x", "must be a table" },
  }
  for i, b in ipairs(bad) do
    local r, why = p.parse_status_callback(b[1])
    eq(r, nil, "bad " .. i)
    has(why, b[2], "bad " .. i)
  end
end)

check("pricing: rate_per_minute for every started minute", function()
  local cases = { { 0, "0.0100", 0 }, { 1, "0.0100", 0.01 }, { 60, "0.0100", 0.01 }, { 61, "0.0100", 0.02 },
                  { 125, "0.0130", 0.039 }, { 3600, "0.0100", 0.6 }, { 59, "2", 2 }, { 121, "0.333333", 0.999999 } }
  for _, c in ipairs(cases) do
    eq(calls.price(c[1], c[2]), c[3], c[1] .. " s at " .. c[2])
  end
end)

check("get_call_cost: not priced while the call goes on; duration from the answer to the nearest second", function()
  local p = provider({ rate_per_minute = "0.0200", currency = "EUR" })
  local call = calls.create({ call_id = calls.new_id(), to = "+15550100123", from = "+15550100000",
                              rate_per_minute = "0.0200", currency = "EUR" }, 1000)
  eq(#call.call_id, 35, "SIM + 32 hex")
  assert(call.call_id:find("^SIM%x+$"), "call id shape")
  local none, why = p.get_call_cost(call.call_id)
  eq(none, nil, "no cost yet")
  eq(why, "not priced yet", "the endpoint retries")
  call.answered_at = 1000.5
  calls.finish(call, "completed", 1061.7, "flow")
  local cost = assert(p.get_call_cost(call.call_id))
  eq(cost.duration, 61, "duration")
  eq(cost.cost, 0.04, "two started minutes")
  eq(cost.currency, "EUR", "currency")
  local st = assert(p.get_call_status(call.call_id))
  eq(st.status, "completed", "status")
  eq(st.raw.ended_by, "flow", "ended by")
  local unknown, err = p.get_call_cost("SIMnope")
  eq(unknown, nil, "unknown call")
  has(err, "sim: unknown call SIMnope", "unknown call")
  local busy = calls.create({ call_id = calls.new_id(), to = "+15550100001", from = "+15550100000",
                              rate_per_minute = "0.0200", currency = "EUR" }, 1000)
  calls.finish(busy, "busy", 1001, "callee")
  local free = assert(p.get_call_cost(busy.call_id))
  eq(free.cost, 0, "an unanswered call costs nothing")
  eq(free.duration, 0, "and lasted nothing")
end)

check("validate_config names each bad field; the default configuration is fine with a secret", function()
  eq(provider().validate_config(), true, "defaults")
  eq(sim.validate_config(), false, "the module has no secret")
  local ok, problems = provider({ webhook_secret = "short", rate_per_minute = "1,5", currency = "usd",
                                  scenario = '[{"tone":1}]', from_numbers = "+15550100000\n5551234" }).validate_config()
  eq(ok, false, "invalid")
  local fields = {}
  for _, pr in ipairs(problems) do fields[#fields + 1] = pr.field end
  eq(table.concat(fields, ","), "webhook_secret,rate_per_minute,currency,scenario,from_numbers", "fields")
  has(problems[4].message, "scenario: step 1: a tone needs ms", "scenario message")
  eq(provider({ rate_per_minute = "0.1234567" }).validate_config(), false, "7 decimals")
  eq(provider({ scenario = "" }).validate_config(), true, "an empty scenario is the default")
end)

check("numbers, webhook document, and initiate_call's refusals (no call is placed)", function()
  local p = provider({ from_numbers = "+15550100000\n+15550100009" })
  local numbers = p.get_available_phone_numbers()
  eq(table.concat(numbers, ","), "+15550100000,+15550100009", "numbers")
  local body, ct = p.get_webhook_response("wf", "u", "run-1", { media_url = "ws://h:1/api/v1/telephony/ws/wf/u/run-1",
                                                                media_token = "tok" })
  eq(ct, "application/json", "content type")
  local doc = json.decode(body)
  eq(doc.stream_url, "ws://h:1/api/v1/telephony/ws/wf/u/run-1", "stream_url")
  eq(doc.token, "tok", "token")
  local none, err = p.get_webhook_response("wf", "u", "run-1", { media_url = "http://h/x" })
  eq(none, nil, "not a ws URL")
  has(err, "sim: opts.media_url must be a ws:// or wss:// URL", "why")
  local refusals = {
    { { "555", "http://h/doc", "r" }, "sim: to_number must be E.164" },
    { { "+15550100123", "ftp://h/doc", "r" }, "sim: webhook_url must be an http:// or https:// URL" },
    { { "+15550100123", "http://h/doc", "r", { status_callback_url = "x" } }, "sim: status_callback_url must be" },
    { { "+15550100123", "http://h/doc", "r", { from_number = "123" } }, "sim: from number 123 is not E.164" },
    { { "+15550100123", "http://h/doc", "r", { provider_options = { scenario = { { beep = 1 } } } } },
      "sim: scenario: step 1: needs one of" },
    { { "+15550100123", "http://h/doc", "r", { provider_options = "x" } }, "sim: provider_options must be an object" },
  }
  for i, r in ipairs(refusals) do
    local call, why = p.initiate_call(unpack(r[1]))
    eq(call, nil, "refusal " .. i)
    has(why, r[2], "refusal " .. i)
  end
  local call, why = sim.initiate_call("+15550100123", "http://h/doc", "r", {})
  eq(call, nil, "the module has no secret")
  has(why, "sim: invalid configuration: webhook_secret", "why")
  local h, h_err = p.hangup_call("SIMnope")
  eq(h, nil, "hangup of an unknown call")
  has(h_err, "sim: unknown call", "why")
end)

check("the media protocol description compiles (dialtone.media.accept takes it)", function()
  local callee = require("dialtone.sim_callee")
  eq(callee.PROTOCOL.encoding, sim.audio.encoding, "encoding matches the metadata")
  eq(callee.PROTOCOL.rate, sim.audio.rate, "rate matches the metadata")
  eq(callee.PROTOCOL.outbound.media.media.payload, "$payload", "payload slot")
  -- 20 ms of L16 at 16 kHz fits an inbound message's payload limit (4096 base64 characters)
  assert(#crypto.base64_encode(string.rep("\0", scenario.FRAME_BYTES)) <= 4096, "frame fits")
  eq(codec.tone(440, 20, 16000):len(), scenario.FRAME_BYTES, "one frame of tone")
end)

return t.finish()
