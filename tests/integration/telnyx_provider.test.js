// examples/providers/telnyx.lua through the real binary, against the fake Telnyx of
// lib/fake_telnyx.js: the file is copied into a script root's providers/ (as the guide says) and
// driven by small Lua routes: REST calls checked at the fake, Ed25519 webhooks signed by the fake
// and received over real HTTP, the media stream played as Telnyx plays it, and hot reload.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { startServer, makeScriptDir, runCli, SOURCE_DIR } = require('./lib/server');
const { request } = require('./lib/http');
const { until } = require('./lib/wait');
const { frame } = require('./lib/twilio');
const { startFakeTelnyx } = require('./lib/fake_telnyx');

const EXAMPLE = path.join(SOURCE_DIR, 'examples', 'providers', 'telnyx.lua');

// require("telnyx") inside the handlers: the provider file arrives after the server starts.
const SCRIPT = `
local route = dialtone.route

route.post("/telnyx", function(req)
  local telnyx = require("telnyx")
  local a = req.json
  local p = telnyx.new(a.config)
  local op = a.op
  local r1, r2
  if op == "initiate" then r1, r2 = p.initiate_call(a.to, a.webhook_url, a.run_id, a.opts)
  elseif op == "status" then r1, r2 = p.get_call_status(a.call_id)
  elseif op == "numbers" then r1, r2 = p.get_available_phone_numbers()
  elseif op == "cost" then r1, r2 = p.get_call_cost(a.call_id)
  elseif op == "validate" then r1, r2 = p.validate_config()
  elseif op == "parse" then r1, r2 = p.parse_status_callback(a.data)
  end
  return route.json(200, { result = r1, second = r2 })
end)

-- A webhook receiver as the telephony endpoint uses the provider: the signature header named by
-- the metadata, the raw body as received. The test passes the account's key in the query.
route.post("/hook", function(req)
  local p = require("telnyx").new({ public_key = req.query.key })
  local ok, info = p.verify_webhook_signature("http://app.example" .. req.target, nil,
                                              req.headers[p.signature_header], req)
  local event = ok and p.parse_status_callback(req.json) or nil
  return route.json(ok and 200 or 403, { ok = ok, info = info, event = event })
end)

-- The media stream: the run's token from the query (Telnyx has no dial-time parameters), then
-- the call object from handle_websocket, echoing audio and turning DTMF into marks.
route.ws("/tws/{run}", function(req)
  if req.query.token ~= "tok&1" then return route.error(403, "forbidden", "bad media token") end
  local call, err = require("telnyx").handle_websocket(req, "wf", "u", req.params.run, { rate = 8000 })
  if not call then error(err) end
  dialtone.log.info("telnyx stream", { call_id = call.call_id, stream_id = call.stream_id,
                                       param = call.params and call.params.greeting })
  while true do
    local ev = call:recv(10)
    if not ev or ev.type == "stop" then break end
    if ev.type == "audio" then call:play(ev.pcm)
    elseif ev.type == "dtmf" then call:mark("digit-" .. ev.digit)
    elseif ev.type == "mark" then dialtone.log.info("telnyx mark played", { name = ev.name })
    end
  end
  call:hangup()
end)

route.get("/providers", function() return route.json(200, dialtone.telephony.providers()) end)
`;

let server;
let scriptDir;
let fake;

function dropProvider(name, text) {
  const file = path.join(scriptDir, 'providers', name);
  fs.writeFileSync(file + '.tmp~', text);
  fs.renameSync(file + '.tmp~', file);
}

// An empty Lua list encodes as {}: no provider at all.
const providerNames = async () => Object.values((await request(`${server.url}/providers`)).json).map((p) => p.name);

async function post(payload) {
  const r = await request(`${server.url}/telnyx`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify(payload) });
  assert.equal(r.status, 200, r.body);
  return r.json;
}
const call = (args) => post({ config: fake.config(), ...args });

before(async () => {
  fake = await startFakeTelnyx({ numbers: ['+14155550100', '+14155550101', '+442071838750'] });
  scriptDir = makeScriptDir({ 'test_telnyx.lua': SCRIPT });
  server = await startServer({ scriptDir, args: ['--reload-debounce-ms', '50'] });
});

after(async () => {
  if (server) await server.stop();
  if (fake) await fake.close();
  if (scriptDir) fs.rmSync(scriptDir, { recursive: true, force: true });
});

// First: the later tests use the provider this one drops in.
test('the example dropped into providers/ is offered without a restart; a broken copy is reported', async () => {
  assert.deepEqual(await providerNames(), []);
  const from = server.log.length;
  dropProvider('telnyx.lua', fs.readFileSync(EXAMPLE, 'utf8'));
  await until(async () => (await providerNames()).includes('telnyx'));
  await server.waitForLog(/msg="scripts reloaded" reason="file change"/, 5000, from);
  const tx = (await request(`${server.url}/providers`)).json.find((p) => p.name === 'telnyx');
  assert.equal(tx.title, 'Telnyx');
  assert.deepEqual(tx.audio, { encoding: 'mulaw', rate: 8000 });
  assert.deepEqual(tx.fields.map((f) => [f.name, f.type, !!f.secret, !!f.required, f.default]), [
    ['api_key', 'string', true, true, undefined], ['connection_id', 'string', false, true, undefined],
    ['public_key', 'string', false, true, undefined], ['from_numbers', 'phone_list', false, false, undefined],
    ['api_base_url', 'url', false, false, 'https://api.telnyx.com'],
  ]);

  // A copy edited into breaking the contract: reported with its file, the original still offered.
  const broken = fs.readFileSync(EXAMPLE, 'utf8').replace('function p.get_call_cost(', 'function p.get_cost(');
  const mark = server.log.length;
  dropProvider('telnyx_copy.lua', broken);
  const line = (await server.waitForLog(/[^\n]*msg="provider not offered"[^\n]*/, 5000, mark))[0];
  assert.match(line, /providers\/telnyx_copy\.lua/);
  assert.match(line, /missing method get_call_cost/);
  assert.deepEqual(await providerNames(), ['telnyx']);
  const check = runCli(['check', '--script-dir', scriptDir]);
  assert.equal(check.status, 1);
  assert.match(check.stderr, /provider not offered: \S*providers\/telnyx_copy\.lua: .*missing method get_call_cost/);
  assert.doesNotMatch(check.stderr, /providers\/telnyx\.lua/);

  fs.rmSync(path.join(scriptDir, 'providers', 'telnyx_copy.lua'));
  const ok = await until(() => {
    const r = runCli(['check', '--script-dir', scriptDir]);
    return r.status === 0 && r;
  });
  assert.match(ok.stdout, /^ok:/m);
});

test('initiate_call posts the dial with the stream requested, Bearer auth, and returns the call', async () => {
  fake.requests.length = 0;
  const mediaUrl = 'wss://app.example/api/v1/telephony/ws/wf1/u2/run-1';
  const out = await call({ op: 'initiate', to: '+14155550123', webhook_url: 'https://app.example/answer', run_id: 'run-1',
    opts: { status_callback_url: 'https://app.example/api/v1/telephony/events/run-1', media_url: mediaUrl,
      media_token: 'a b&c=d/é' } });
  assert.equal(fake.requests.length, 1);
  const r = fake.requests[0];
  assert.equal(r.method, 'POST');
  assert.equal(r.path, '/v2/calls');
  assert.equal(r.headers.authorization, `Bearer ${fake.apiKey}`);
  assert.match(r.headers['content-type'], /^application\/json/);
  assert.deepEqual(r.json, {
    connection_id: fake.connectionId, to: '+14155550123', from: '+14155550100',
    webhook_url: 'https://app.example/api/v1/telephony/events/run-1',
    stream_url: `${mediaUrl}?token=${encodeURIComponent('a b&c=d/é')}`,
    stream_track: 'inbound_track', stream_codec: 'PCMU', stream_bidirectional_mode: 'rtp',
    stream_bidirectional_codec: 'PCMU', client_state: Buffer.from('run-1').toString('base64'),
  });
  assert.equal(new URL(r.json.stream_url).searchParams.get('token'), 'a b&c=d/é');
  assert.ok(fake.calls.has(out.result.call_id));
  assert.equal(out.result.status, 'initiated');
  assert.equal(out.result.raw.call_control_id, out.result.call_id);

  const other = await call({ op: 'initiate', to: '+14155550123', run_id: 7,
    opts: { from_number: '+14155550199', media_url: 'ws://127.0.0.1:1/x?a=1', media_token: 't' } });
  const body = fake.calls.get(other.result.call_id).body;
  assert.equal(body.from, '+14155550199');
  assert.equal(body.stream_url, 'ws://127.0.0.1:1/x?a=1&token=t');
  assert.equal(body.webhook_url, undefined);
  assert.equal(Buffer.from(body.client_state, 'base64').toString(), '7');
});

test("a carrier error is nil, err with Telnyx's title, detail, code and HTTP status, sent once", async () => {
  fake.requests.length = 0;
  const out = await call({ op: 'initiate', to: '+1555', run_id: 'run-2', opts: { media_url: 'wss://a.example/ws' } });
  assert.equal(out.result, undefined);
  assert.equal(out.second, 'telnyx: HTTP 422: Invalid value for to: ' +
    'The destination number +1555 is not a valid phone number. (code 10016)');
  assert.equal(fake.requests.length, 1);

  fake.requests.length = 0;
  fake.failNext(503, [{ code: '90000', title: 'Service unavailable' }]);
  const busy = await call({ op: 'initiate', to: '+14155550123', run_id: 'run-3', opts: { media_url: 'wss://a.example/ws' } });
  assert.equal(busy.second, 'telnyx: HTTP 503: Service unavailable (code 90000)');
  assert.equal(fake.requests.length, 1, 'a dial is never retried');

  const denied = await post({ config: fake.config({ api_key: 'KEYwrong' }), op: 'numbers' });
  assert.equal(denied.second, 'telnyx: HTTP 401: Authentication failed: The API key is not valid. (code 10009)');
});

test('get_call_status: alive → answered, not alive → completed; GETs are retried', async () => {
  const placed = await call({ op: 'initiate', to: '+14155550123', run_id: 'run-4', opts: { media_url: 'wss://a.example/ws' } });
  const id = placed.result.call_id;
  fake.setAlive(id, true);
  const live = await call({ op: 'status', call_id: id });
  assert.deepEqual([live.result.call_id, live.result.status, live.result.raw.is_alive], [id, 'answered', true]);
  fake.setAlive(id, false);
  fake.requests.length = 0;
  fake.failNext(503, [{ code: '90000', title: 'Service unavailable' }]);
  const ended = await call({ op: 'status', call_id: id });
  assert.equal(ended.result.status, 'completed');
  assert.equal(fake.requests.length, 2, 'retried after a 503');
  assert.equal(fake.requests[1].path, `/v2/calls/${encodeURIComponent(id)}`);
  const unknown = await call({ op: 'status', call_id: 'v3:nope' });
  assert.match(unknown.second, /^telnyx: HTTP 404: Resource not found/);
});

test('get_available_phone_numbers pages through the account', async () => {
  fake.requests.length = 0;
  const nums = await call({ op: 'numbers' });
  assert.deepEqual(nums.result, ['+14155550100', '+14155550101', '+442071838750']);
  assert.equal(fake.requests[0].query.get('page[number]'), '1');
  const size = Number(fake.requests[0].query.get('page[size]'));
  assert.ok(size >= 1 && size <= 250);

  const many = Array.from({ length: 260 }, (_, i) => `+1415555${String(i).padStart(4, '0')}`);
  const saved = fake.numbers;
  fake.numbers = many;
  fake.requests.length = 0;
  try {
    const all = await call({ op: 'numbers' });
    assert.deepEqual(all.result, many);
    assert.deepEqual(fake.requests.map((r) => r.query.get('page[number]')), ['1', '2']);
  } finally {
    fake.numbers = saved;
  }
});

test('validate_config, get_call_cost and parse_status_callback', async () => {
  assert.equal((await call({ op: 'validate' })).result, true);
  const bad = await post({ op: 'validate', config: fake.config({ public_key: Buffer.alloc(16).toString('base64') }) });
  assert.equal(bad.result, false);
  assert.deepEqual(bad.second.map((p) => p.field), ['public_key']);
  const cost = await call({ op: 'cost', call_id: 'v3:abc' });
  assert.equal(cost.result, undefined);
  assert.match(cost.second, /does not report the cost/);
  const hangup = fake.event('call.hangup', { hangup_cause: 'user_busy', hangup_source: 'callee' }, 'v3:abc');
  const parsed = await call({ op: 'parse', data: hangup });
  assert.deepEqual(parsed.result, { call_id: 'v3:abc', status: 'busy', raw_status: 'call.hangup:user_busy',
    hangup_cause: 'user_busy', timestamp: hangup.data.occurred_at });
  const streaming = await call({ op: 'parse', data: fake.event('streaming.started', { stream_url: 'wss://x' }) });
  assert.equal(streaming.result, undefined);
  assert.match(streaming.second, /not a call status/);
});

test('webhooks signed by the fake verify over the raw body; tampered, foreign, stale, unsigned refused', async () => {
  const hook = `${server.url}/hook?key=${encodeURIComponent(fake.publicKey)}`;
  const ev = fake.event('call.answered', { state: 'answered', client_state: Buffer.from('run-1').toString('base64') }, 'v3:live');
  // Spacing the server must not normalise: the signature covers the bytes as sent.
  const raw = JSON.stringify(ev, null, 1);

  const good = await fake.postWebhook(hook, raw);
  assert.equal(good.status, 200, good.body);
  assert.deepEqual(good.json.info, { replay_key: `telnyx:${ev.data.id}`, ttl: 600 });
  assert.equal(good.json.event.status, 'answered');
  assert.equal(good.json.event.call_id, 'v3:live');

  const refused = async (what, reason, opts, body = raw) => {
    const r = await fake.postWebhook(hook, body, opts);
    assert.equal(r.status, 403, `${what}: ${r.body}`);
    assert.equal(r.json.info, reason, what);
  };
  await refused('tampered body', 'bad signature', { body: raw.replace('call.answered', 'call.hangup') });
  await refused('re-encoded body', 'bad signature', { body: JSON.stringify(ev) });
  const { privateKey: otherKey } = crypto.generateKeyPairSync('ed25519');
  await refused('signed with another key', 'bad signature', { key: otherKey });
  const now = Math.floor(Date.now() / 1000);
  await refused('stale timestamp', 'stale timestamp', { timestamp: now - 301 });
  await refused('future timestamp', 'stale timestamp', { timestamp: now + 301 });
  await refused('no signature', 'missing telnyx-signature-ed25519 header', { headers: { 'telnyx-signature-ed25519': undefined } });
  await refused('no timestamp', 'missing telnyx-timestamp header', { headers: { 'telnyx-timestamp': undefined } });
  await refused('garbage signature', 'malformed signature', { headers: { 'telnyx-signature-ed25519': '%%%' } });
  await refused('timestamp moved', 'bad signature', { headers: { 'telnyx-timestamp': String(now + 1) } });
  const ok = await fake.postWebhook(hook, raw, { timestamp: now - 290 });
  assert.equal(ok.status, 200, 'within the 300 s window');
});

test('handle_websocket: the stream URL the dial asked for carries the token; audio, DTMF and marks flow', async () => {
  const placed = await call({ op: 'initiate', to: '+14155550123', run_id: 'run-ws',
    opts: { media_url: `ws://127.0.0.1:${server.port}/tws/run-ws`, media_token: 'tok&1' } });
  const streamUrl = fake.calls.get(placed.result.call_id).body.stream_url;
  const s = await fake.stream(streamUrl, { callId: placed.result.call_id, customParameters: { greeting: 'hi' } });
  const started = (await server.waitForLog(/[^\n]*msg="telnyx stream"[^\n]*/))[0];
  assert.ok(started.includes(placed.result.call_id), started);
  assert.ok(started.includes(`stream_id=${s.streamId}`), started);
  assert.ok(started.includes('param=hi'), started);
  const sent = [frame(1), frame(2), frame(3)];
  for (const f of sent) s.media(f);
  await until(() => s.got.media.length >= 3, 5000).catch((e) => {
    throw new Error(`${e.message}; got ${JSON.stringify(s.got)}`);
  });
  assert.deepEqual(s.got.media.slice(0, 3), sent, 'mu-law frames echoed byte for byte');
  s.dtmf('5');
  await until(() => s.got.marks.includes('digit-5'), 5000);
  await server.waitForLog(/msg="telnyx mark played"[^\n]* name=digit-5/);
  s.stop();
  assert.equal(await s.closed, 1000);

  const refused = await fake.stream(streamUrl.replace('tok%261', 'wrong')).then(() => 'accepted', (e) => e.message);
  assert.match(refused, /403/);
});
