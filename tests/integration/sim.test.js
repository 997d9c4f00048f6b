// providers/sim.lua through the real binary: small Lua routes build the provider
// (dialtone.telephony.provider("sim").new(config)), place simulated calls, receive its signed
// status callbacks and webhook-document requests over real HTTP (checked with dialtone.webhooks as
// the telephony endpoints do), and run a tiny flow on the media WebSocket it opens
// (handle_websocket). What the flow saw and what the carrier reports are read back over HTTP.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { startServer, makeScriptDir, SOURCE_DIR } = require('./lib/server');
const { request } = require('./lib/http');
const { until } = require('./lib/wait');
const { makeServiceRoot, setupOrganization, TEST_FLOW, FAST_COST_RETRIES } = require('./lib/telephony');

const SECRET = 'integration-secret-0123456789';
const TOKEN = 'media-token-42';

const SCRIPT = `
local route = dialtone.route
local json, time = dialtone.json, dialtone.time
local webhooks = require("dialtone.webhooks")

local CONFIG = { webhook_secret = "${SECRET}", rate_per_minute = "0.0150", currency = "USD" }
local runs = {}   -- run id -> what happened, for the test to read

local function sim() return dialtone.telephony.provider("sim").new(CONFIG) end
local function base() return dialtone.config.public_url end
local function run_of(id)
  runs[id] = runs[id] or { events = {}, documents = 0, flow = { digits = {}, marks = {}, audio_ms = 0, loud_ms = 0 } }
  return runs[id]
end

route.post("/call", function(req)
  local a = req.json
  local r = run_of(a.run)
  r.flow_hangup_after = a.flow_hangup_after
  local call, err = sim().initiate_call(a.to, base() .. "/doc?run=" .. a.run, a.run, {
    status_callback_url = base() .. "/events/" .. a.run,
    provider_options = a.scenario and { scenario = a.scenario } or nil,
  })
  if not call then return route.json(422, { error = err }) end
  r.call_id = call.call_id
  return route.json(200, call)
end)

route.post("/doc", function(req)
  local p = sim()
  local ok, why = webhooks.verify(p, req)
  if not ok then return route.error(403, "forbidden", why) end
  local r = run_of(req.query.run)
  r.documents = r.documents + 1
  r.document_request = req.json
  local media_url = base():gsub("^http", "ws") .. "/media/" .. req.query.run
  local body, ct = p.get_webhook_response("wf", "u", req.query.run, { media_url = media_url, media_token = "${TOKEN}" })
  return { status = 200, headers = { ["content-type"] = ct }, body = body }
end)

route.post("/events/{run}", function(req)
  local p = sim()
  local ok, why = webhooks.verify(p, req)
  if not ok then return route.error(403, "forbidden", why) end
  local parsed, not_status = p.parse_status_callback(req.json)
  if not parsed then return route.json(200, { ignored = not_status }) end
  local events = run_of(req.params.run).events
  events[#events + 1] = { status = parsed.status, sequence = parsed.sequence, duration = parsed.duration,
                          call_id = parsed.call_id }
  return route.json(200, { outcome = "applied" })
end)

-- The flow: counts the callee's audio, answers each DTMF digit with a 300 ms tone, the digit 7
-- in-band and a mark; hangs up itself after flow_hangup_after seconds when the run says so.
route.ws("/media/{run}", function(req)
  local call, err = sim().handle_websocket(req, "wf", "u", req.params.run, { rate = 8000 })
  if not call then error(err) end
  local f = run_of(req.params.run).flow
  if (call.params or {}).token ~= "${TOKEN}" then f.refused = true; call:hangup(); return end
  f.call_id, f.rate = call.call_id, call.rate
  local t0 = time.monotonic()
  local limit = run_of(req.params.run).flow_hangup_after
  while true do
    local wait = limit and math.max(0.001, limit - (time.monotonic() - t0)) or 30
    local ev = call:recv(wait)
    if not ev then
      if limit then f.ended = "flow"; break end
      f.ended = "timeout"; break
    end
    if ev.type == "stop" then f.ended = "stop"; break end
    if ev.type == "audio" then
      f.audio_ms = f.audio_ms + #ev.pcm / 2 / ev.rate * 1000
      local top = 0
      for i = 1, #ev.pcm - 1, 2 do
        local lo, hi = ev.pcm:byte(i, i + 1)
        local v = hi * 256 + lo
        if v >= 32768 then v = 65536 - v end
        if v > top then top = v end
      end
      if top > 1000 then f.loud_ms = f.loud_ms + 20 end
    elseif ev.type == "dtmf" then
      f.digits[#f.digits + 1] = { digit = ev.digit, at = time.monotonic() - t0 }
      call:play(dialtone.codec.tone(600, 300, call.rate, 0.3))
      call:send_dtmf("7")
      call:mark("ack-" .. ev.digit)
    elseif ev.type == "mark" then
      f.marks[#f.marks + 1] = ev.name
    end
  end
  f.duration = time.monotonic() - t0
  call:hangup()
end)

route.post("/hangup/{run}", function(req)
  local ok, err = sim().hangup_call(run_of(req.params.run).call_id)
  return route.json(ok and 200 or 404, { ok = ok, error = err })
end)

route.get("/runs/{run}", function(req)
  local r = run_of(req.params.run)
  local p = sim()
  local st = r.call_id and p.get_call_status(r.call_id)
  local cost, cost_err = nil, nil
  if r.call_id then cost, cost_err = p.get_call_cost(r.call_id) end
  return route.json(200, { events = json.array(r.events), documents = r.documents, document_request = r.document_request,
                           flow = r.flow, call = st, cost = cost, cost_error = cost_err })
end)
`;

/** A mono PCM16 WAV at 8 kHz: ms of a sine at hz, half scale. */
function wav8k(hz, ms) {
  const n = 8 * ms;
  const b = Buffer.alloc(44 + 2 * n);
  b.write('RIFF', 0); b.writeUInt32LE(36 + 2 * n, 4); b.write('WAVEfmt ', 8);
  b.writeUInt32LE(16, 16); b.writeUInt16LE(1, 20); b.writeUInt16LE(1, 22); b.writeUInt32LE(8000, 24);
  b.writeUInt32LE(16000, 28); b.writeUInt16LE(2, 32); b.writeUInt16LE(16, 34); b.write('data', 36);
  b.writeUInt32LE(2 * n, 40);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(16000 * Math.sin(2 * Math.PI * hz * i / 8000)), 44 + 2 * i);
  return b;
}

let server;
let scriptDir;

before(async () => {
  scriptDir = makeScriptDir({ 'sim_routes.lua': SCRIPT });
  fs.symlinkSync(path.join(SOURCE_DIR, 'providers', 'sim.lua'), path.join(scriptDir, 'providers', 'sim.lua'));
  fs.mkdirSync(path.join(scriptDir, 'scripts', 'audio'));
  fs.writeFileSync(path.join(scriptDir, 'scripts', 'audio', 'beep.wav'), wav8k(1000, 200));
  server = await startServer({ scriptDir });
});

after(async () => {
  if (server) await server.stop();
  if (scriptDir) fs.rmSync(scriptDir, { recursive: true, force: true });
});

async function placeCall(body) {
  const r = await request(`${server.url}/call`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body) });
  return r;
}

const runState = async (run) => (await request(`${server.url}/runs/${run}`)).json;

/** Waits until the run's callbacks include a final status; returns the run's state. */
async function finished(run, timeoutMs = 15000) {
  const FINAL = ['completed', 'busy', 'no-answer', 'failed', 'canceled'];
  return until(async () => {
    const s = await runState(run);
    // final, priced, and the flow (when the media connected) has ended too
    return s.events.some((e) => FINAL.includes(e.status)) && s.cost && (!s.flow.call_id || s.flow.ended) ? s : null;
  }, timeoutMs);
}

test('a whole call: signed callbacks in order, the document, media both ways, DTMF on time, the callee hangs up, the price', async () => {
  const r = await placeCall({ to: '+15550100123', run: 'run-a', scenario: {
    ring: 0.2,
    steps: [{ tone: 440, ms: 600 }, { dtmf: '2' }, { dtmf: '1', at: 1.2 }, { hangup_after: 2.5 }],
  } });
  assert.equal(r.status, 200, r.body);
  assert.match(r.json.call_id, /^SIM[0-9a-f]{32}$/);
  assert.equal(r.json.status, 'initiated');

  const s = await finished('run-a');
  assert.deepEqual(s.events.map((e) => e.status), ['initiated', 'ringing', 'answered', 'completed']);
  assert.deepEqual(s.events.map((e) => e.sequence), [1, 2, 3, 4]);
  assert.ok(s.events.every((e) => e.call_id === r.json.call_id));
  assert.equal(s.events[3].duration, s.call.raw.duration);

  assert.equal(s.documents, 1, 'the webhook document fetched once');
  assert.equal(s.document_request.call_id, r.json.call_id);
  assert.equal(s.document_request.to, '+15550100123');

  const f = s.flow;
  assert.equal(f.call_id, r.json.call_id, 'the start names the call');
  assert.equal(f.ended, 'stop', 'the callee hung up: the flow got stop');
  assert.ok(Math.abs(f.duration - 2.5) < 0.5, `the callee hung up after 2.5 s (${f.duration})`);
  assert.ok(Math.abs(f.loud_ms - 600) <= 100, `600 ms of tone reached the flow (${f.loud_ms})`);
  assert.ok(f.audio_ms > 2000, `audio kept coming at real time (${f.audio_ms} ms)`);
  assert.deepEqual(f.digits.map((d) => d.digit), ['2', '1']);
  assert.ok(Math.abs(f.digits[0].at - 0.6) < 0.25, `"2" after the tone (${f.digits[0].at})`);
  assert.ok(Math.abs(f.digits[1].at - 1.2) < 0.25, `"1" at 1.2 s (${f.digits[1].at})`);
  assert.deepEqual(f.marks, ['ack-2', 'ack-1'], 'the callee played the marks back');

  const c = s.call;
  assert.equal(c.status, 'completed');
  assert.equal(c.raw.ended_by, 'callee');
  assert.equal(c.raw.sent.dtmf, '21');
  assert.equal(c.raw.heard.dtmf, '77', 'the flow\'s in-band DTMF was heard');
  assert.deepEqual(c.raw.heard.marks, ['ack-2', 'ack-1']);
  assert.ok(c.raw.heard.loud_ms >= 500, `the flow's tones were heard (${c.raw.heard.loud_ms} ms)`);
  assert.ok(c.raw.duration >= 2 && c.raw.duration <= 3, `duration ${c.raw.duration}`);
  assert.deepEqual(s.cost, { cost: 0.015, currency: 'USD', duration: c.raw.duration });
});

test('the flow hangs up: the call completes, ended by the flow; a WAV step is played', async () => {
  const r = await placeCall({ to: '+15550100124', run: 'run-b', flow_hangup_after: 1,
    scenario: [{ tone: 300, ms: 200 }, { silence: 200 }, { wav: 'audio/beep.wav' }, { silence: 10000 }] });
  assert.equal(r.status, 200, r.body);
  const s = await finished('run-b');
  assert.deepEqual(s.events.map((e) => e.status), ['initiated', 'ringing', 'answered', 'completed']);
  assert.equal(s.flow.ended, 'flow');
  assert.ok(Math.abs(s.flow.loud_ms - 400) <= 80, `the tone and the WAV reached the flow (${s.flow.loud_ms} ms)`);
  assert.equal(s.call.raw.ended_by, 'flow');
  assert.equal(s.call.raw.duration, 1);
  assert.deepEqual(s.cost, { cost: 0.015, currency: 'USD', duration: 1 });
});

test('hangup_call ends a call in progress; the flow gets the end of the stream', async () => {
  const r = await placeCall({ to: '+15550100125', run: 'run-c', scenario: { ring: 0, steps: [{ silence: 60000 }] } });
  assert.equal(r.status, 200, r.body);
  await until(async () => (await runState('run-c')).flow.call_id, 10000);
  const h = await request(`${server.url}/hangup/run-c`, { method: 'POST' });
  assert.equal(h.status, 200, h.body);
  const s = await finished('run-c');
  assert.equal(s.call.raw.ended_by, 'hangup_call');
  assert.equal(s.events.at(-1).status, 'completed');
  await until(async () => (await runState('run-c')).flow.ended === 'stop');
});

for (const [to, outcome, statuses] of [
  ['+15550100001', 'busy', ['initiated', 'ringing', 'busy']],
  ['+15550100002', 'no-answer', ['initiated', 'ringing', 'no-answer']],
  ['+15550100003', 'failed', ['initiated', 'failed']],
]) {
  test(`${to} is ${outcome}: no document, no media, nothing to pay`, async () => {
    const run = `run-${outcome}`;
    const r = await placeCall({ to, run, scenario: { ring: 0.1, steps: [] } });
    assert.equal(r.status, 200, r.body);
    const s = await finished(run);
    assert.deepEqual(s.events.map((e) => e.status), statuses);
    assert.equal(s.documents, 0);
    assert.equal(s.flow.call_id, undefined);
    assert.equal(s.call.status, outcome);
    assert.deepEqual(s.cost, { cost: 0, currency: 'USD', duration: 0 });
  });
}

test('a bad scenario is refused at once, with the step and the reason', async () => {
  const r = await placeCall({ to: '+15550100126', run: 'run-bad', scenario: [{ tone: 440 }] });
  assert.equal(r.status, 422);
  assert.match(r.json.error, /^sim: scenario: step 1: a tone needs ms/);
});

test('callbacks: the signature scheme as documented; forged, tampered and replayed ones are refused', async () => {
  const url = `${server.url}/events/run-forge`;
  const sign = (body, secret = SECRET) => crypto.createHmac('sha256', secret).update(url + body).digest('base64');
  const post = (body, sig) => request(url, { method: 'POST', body,
    headers: { 'content-type': 'application/json', ...(sig ? { 'x-sim-signature': sig } : {}) } });
  const body = JSON.stringify({ event_id: 'EVforge1', timestamp: Date.now() / 1000, call_id: 'SIMx', status: 'ringing',
    sequence: 1 });
  assert.equal((await post(body, sign(body))).status, 200, 'signed as documented: accepted');
  assert.equal((await post(body, sign(body))).status, 403, 'the same event again: a replay');
  const other = body.replace('EVforge1', 'EVforge2');
  assert.equal((await post(other.replace('ringing', 'completed'), sign(other))).status, 403, 'tampered');
  assert.equal((await post(other, sign(other, 'wrong-secret-0123456789'))).status, 403, 'wrong secret');
  assert.equal((await post(other)).status, 403, 'unsigned');
  const stale = JSON.stringify({ event_id: 'EVforge3', timestamp: Date.now() / 1000 - 600, call_id: 'SIMx',
    status: 'ringing' });
  assert.equal((await post(stale, sign(stale))).status, 403, 'stale');
  const s = await runState('run-forge');
  assert.deepEqual(s.events.map((e) => e.status), ['ringing'], 'only the genuine one was applied');
});

test('through the telephony API: initiate-call with a scenario in options, the run completes and is priced', async () => {
  const service = await startServer({ scriptDir: makeServiceRoot({ workflows: { test_flow: TEST_FLOW },
    scripts: FAST_COST_RETRIES }) });
  try {
    const org = await setupOrganization(service, { name: 'Sim', workflows: { 'Test flow': 'test_flow' },
      configs: { local: { provider: 'sim', webhook_secret: SECRET, rate_per_minute: '0.0200' } } });
    const res = await org.api.initiate({ workflow_id: org.workflows['Test flow'], phone_number: '+15550100123',
      workflow_run_id: 'run-api', options: { scenario: { ring: 0.1, steps: [
        { tone: 440, ms: 300 }, { dtmf: '1', at: 0.5 }, { dtmf: '#', at: 1.2 }] } } });
    assert.equal(res.status, 200, res.body);
    assert.equal(res.json.provider, 'sim');
    assert.match(res.json.call_id, /^SIM[0-9a-f]{32}$/);
    const run = await org.api.waitRun('run-api', (r) => r.cost_state === 'priced', 15000);
    assert.equal(run.status, 'completed');
    assert.equal(run.call_id, res.json.call_id);
    assert.equal(run.media_state, 'done');
    assert.equal(run.cost, 0.02);
    assert.equal(run.currency, 'USD');
    assert.equal(run.duration, 1, 'the flow hung up on # at 1.2 s');
    assert.deepEqual(run.events.map((e) => [e.source, e.status, e.outcome]), [
      ['initiate', 'initiated', 'applied'], ['sim', 'initiated', 'duplicate'], ['sim', 'ringing', 'applied'],
      ['sim', 'answered', 'applied'], ['sim', 'completed', 'applied'],
    ]);
    await service.waitForLog(/msg="flow finished"(?=.*digits=1#)(?=.*marks=tone-done)(?=.*provider=sim)/);
    // a scenario with a mistake is the caller's 400, checked before any run is made
    const bad = await org.api.initiate({ workflow_id: org.workflows['Test flow'], phone_number: '+15550100123',
      workflow_run_id: 'run-bad-options', options: { scenario: [{ tone: 440 }] } });
    assert.equal(bad.status, 400, bad.body);
    assert.equal(bad.json.error.code, 'invalid_options');
    assert.match(bad.json.error.message, /^sim: scenario: step 1: a tone needs ms/);
    assert.equal((await org.api.run('run-bad-options')).status, 404, 'no run');
  } finally {
    await service.stop();
  }
});
