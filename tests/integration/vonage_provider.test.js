// providers/vonage.lua through the real binary: lib/fake_vonage.js plays the Vonage Voice and
// numbers REST APIs (spec/vonage.md §2-3) on loopback; Lua routes construct the provider against
// it and report results, and stand in for the webhook endpoints that Vonage signs (§4.1).
// JWTs are cross-checked with @vonage/jwt.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { tokenGenerate, verifySignature } = require('@vonage/jwt');
const { startServer, makeScriptDir, SOURCE_DIR } = require('./lib/server');
const { request } = require('./lib/http');
const { startFakeVonage, signWebhook, verifyAppToken } = require('./lib/fake_vonage');

const APP_ID = crypto.randomUUID();
const API_KEY = 'a1b2c3d4';
const API_SECRET = 'api-secret-' + crypto.randomBytes(6).toString('hex');
const SIGNATURE_SECRET = 'signature-secret-' + crypto.randomBytes(16).toString('hex');
const NUMBERS = ['447700900000', '447700900001', '447700900002', '447700900003', '447700900004',
  '14155550100', '14155550101'];
const rsa = (bits = 2048) => crypto.generateKeyPairSync('rsa', { modulusLength: bits,
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
const KEYS = rsa();

const config = (extra = {}) => ({ application_id: APP_ID, private_key: KEYS.privateKey, api_key: API_KEY,
  api_secret: API_SECRET, signature_secret: SIGNATURE_SECRET, from_numbers: ['+447700900000'],
  api_base_url: fake.url, ...extra });

// The webhook routes use a fixed configuration: the application's, with no REST base needed.
const SCRIPT = (webhookConfig) => `
local route, json = dialtone.route, dialtone.json
local vonage = require("vonage")
local WEBHOOK_CONFIG = json.decode([==[${JSON.stringify(webhookConfig)}]==])

route.post("/vonage", function(req)
  local a = req.json
  local p = vonage.new(a.config)
  local op = a.op
  local r1, r2
  if op == "initiate" then r1, r2 = p.initiate_call(a.to, a.webhook_url, "run-1", a.opts)
  elseif op == "status" then r1, r2 = p.get_call_status(a.call_id)
  elseif op == "numbers" then r1, r2 = p.get_available_phone_numbers()
  elseif op == "cost" then r1, r2 = p.get_call_cost(a.call_id)
  elseif op == "validate" then r1, r2 = p.validate_config()
  end
  return route.json(200, { result = r1, second = r2 })
end)

-- Stand-ins for the telephony endpoints: verify the signature, then act.
route.post("/events/{run}", function(req)
  local p = vonage.new(WEBHOOK_CONFIG)
  local ok, info = p.verify_webhook_signature(nil, nil, req.headers.authorization, req)
  if not ok then return route.json(403, { error = info }) end
  local parsed, err = p.parse_status_callback(req.json)
  return route.json(200, { parsed = parsed, err = err, replay = info })
end)
route.get("/ncco", function(req)
  local p = vonage.new(WEBHOOK_CONFIG)
  local ok, info = p.verify_webhook_signature(nil, nil, req.headers.authorization, req)
  if not ok then return route.json(403, { error = info }) end
  local run = req.query.run
  local body, ctype = p.get_webhook_response("wf1", "u2", run, { media_url = "ws://127.0.0.1:9/ws/wf1/u2/" .. run,
    media_token = "tok-" .. run, event_url = "http://127.0.0.1:9/events/" .. run })
  return route.text(200, body, { ["content-type"] = ctype, ["x-replay-key"] = info and info.replay_key })
end)
route.get("/providers", function() return route.json(200, dialtone.telephony.providers()) end)
`;

let server;
let scriptDir;
let fake;

async function post(payload) {
  const r = await request(`${server.url}/vonage`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify(payload) });
  assert.equal(r.status, 200, r.body);
  return r.json;
}
const call = (args, extra) => post({ config: config(extra), ...args });
const since = (n, filter = () => true) => fake.requests.slice(n).filter(filter);

async function placeCall(to = '+447700900001') {
  const out = await call({ op: 'initiate', to, webhook_url: `${server.url}/ncco?run=run-1`,
    opts: { status_callback_url: `${server.url}/events/run-1` } });
  assert.ok(out.result, JSON.stringify(out));
  return out.result.call_id;
}

before(async () => {
  fake = await startFakeVonage({ applicationId: APP_ID, publicKey: KEYS.publicKey, apiKey: API_KEY,
    apiSecret: API_SECRET, signatureSecret: SIGNATURE_SECRET, numbers: NUMBERS, maxPageSize: 3 });
  scriptDir = makeScriptDir({ 'test_vonage.lua': SCRIPT(config()) });
  fs.copyFileSync(path.join(SOURCE_DIR, 'providers', 'vonage.lua'), path.join(scriptDir, 'providers', 'vonage.lua'));
  server = await startServer({ scriptDir });
});

after(async () => {
  if (server) await server.stop();
  if (fake) await fake.close();
  if (scriptDir) fs.rmSync(scriptDir, { recursive: true, force: true });
});

test('the vonage provider is offered with its metadata', async () => {
  const list = (await request(`${server.url}/providers`)).json;
  const v = list.find((p) => p.name === 'vonage');
  assert.ok(v, JSON.stringify(list));
  assert.equal(v.title, 'Vonage');
  assert.deepEqual(v.audio, { encoding: 'l16', rate: 16000 });
  assert.deepEqual(v.fields.map((f) => [f.name, f.type, !!f.secret, !!f.required, f.default]), [
    ['application_id', 'string', false, true, undefined], ['private_key', 'pem', true, true, undefined],
    ['api_key', 'string', false, true, undefined], ['api_secret', 'string', true, false, undefined],
    ['signature_secret', 'string', true, true, undefined], ['from_numbers', 'phone_list', false, false, undefined],
    ['api_base_url', 'url', false, false, 'https://api.nexmo.com'],
  ]);
});

test("the fake's JWT check agrees with @vonage/jwt", () => {
  const sdk = tokenGenerate(APP_ID, KEYS.privateKey);
  assert.equal(verifyAppToken(sdk, KEYS.publicKey, APP_ID).application_id, APP_ID);
  assert.throws(() => verifyAppToken(sdk, rsa().publicKey, APP_ID), /bad signature/);
  assert.throws(() => verifyAppToken(tokenGenerate(crypto.randomUUID(), KEYS.privateKey), KEYS.publicKey, APP_ID),
    /application_id mismatch/);
  const hook = signWebhook({ secret: SIGNATURE_SECRET, apiKey: API_KEY, applicationId: APP_ID, body: '{}' });
  assert.equal(verifySignature(hook, SIGNATURE_SECRET), true);
  assert.equal(verifySignature(hook, SIGNATURE_SECRET + 'x'), false);
});

test('initiate_call posts the create-call body with an application JWT, and reuses the token', async () => {
  const n = fake.requests.length;
  const out = await call({ op: 'initiate', to: '+447700900001', webhook_url: 'https://app.example/ncco?run=run-1',
    opts: { status_callback_url: 'https://app.example/events/run-1' } });
  assert.equal(out.second, undefined, out.second);
  assert.equal(out.result.status, 'initiated');
  assert.equal(out.result.raw.status, 'started');
  assert.ok(fake.calls.has(out.result.call_id), out.result.call_id);
  assert.match(out.result.raw.conversation_uuid, /^CON-/);
  const reqs = since(n);
  assert.equal(reqs.length, 1);
  const r = reqs[0];
  assert.equal(r.method, 'POST');
  assert.equal(r.path, '/v1/calls');
  assert.match(r.headers['content-type'], /^application\/json/);
  assert.deepEqual(r.json, { to: [{ type: 'phone', number: '447700900001' }], from: { type: 'phone', number: '447700900000' },
    answer_url: ['https://app.example/ncco?run=run-1'], answer_method: 'GET',
    event_url: ['https://app.example/events/run-1'], event_method: 'POST' });
  // the fake verified the JWT (RS256 with the public key, claims); check it with the SDK too
  const token = r.headers.authorization.replace(/^Bearer /, '');
  assert.equal(verifySignature(token, KEYS.publicKey), true);
  assert.equal(verifySignature(token, rsa().publicKey), false);
  assert.equal(r.claims.application_id, APP_ID);
  assert.equal(r.claims.exp - r.claims.iat, 900);
  assert.match(r.claims.jti, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.deepEqual(Object.keys(JSON.parse(Buffer.from(token.split('.')[0], 'base64url'))).sort(), ['alg', 'typ']);

  const other = await call({ op: 'initiate', to: '+14155550123', webhook_url: 'https://app.example/ncco',
    opts: { from_number: '+14155550100' } });
  assert.equal(other.result.raw.status, 'started');
  const second = since(n)[1];
  assert.deepEqual(second.json, { to: [{ type: 'phone', number: '14155550123' }], from: { type: 'phone', number: '14155550100' },
    answer_url: ['https://app.example/ncco'], answer_method: 'GET' });
  assert.equal(second.headers.authorization, r.headers.authorization, 'the cached token is reused');

  // another application key signs its own token
  const otherKeys = rsa();
  const bad = await call({ op: 'initiate', to: '+447700900001', webhook_url: 'https://app.example/ncco' },
    { private_key: otherKeys.privateKey });
  assert.equal(bad.result, undefined);
  assert.match(bad.second, /^vonage: HTTP 401: Unauthorized: Invalid token: bad signature$/);
  assert.equal(verifySignature(since(n)[2].headers.authorization.slice(7), otherKeys.publicKey), true);
});

test("a carrier error is nil, err with Vonage's title, detail and HTTP status, sent once", async () => {
  const n = fake.requests.length;
  const out = await call({ op: 'initiate', to: '+1555', webhook_url: 'https://app.example/ncco' });
  assert.equal(out.result, undefined);
  assert.equal(out.second, 'vonage: HTTP 400: Bad Request: Invalid value for to');
  assert.equal(since(n).length, 1);
});

test('POST /v1/calls is never retried: not after a 503, not after a dropped connection', async () => {
  for (const fault of [{ status: 503 }, { drop: true }]) {
    const n = fake.requests.length;
    const calls = fake.calls.size;
    fake.fail({ method: 'POST', path: '/v1/calls', ...fault }); // a retry would succeed
    const out = await call({ op: 'initiate', to: '+447700900001', webhook_url: 'https://app.example/ncco' });
    assert.equal(out.result, undefined);
    if (fault.status) assert.match(out.second, /^vonage: HTTP 503: Service Unavailable/);
    else assert.match(out.second, /^vonage: /);
    assert.equal(since(n).length, 1, JSON.stringify(fault));
    assert.equal(fake.calls.size, calls);
  }
});

test('get_call_status follows the call; GETs are retried after 503', async () => {
  const id = await placeCall();
  assert.equal((await call({ op: 'status', call_id: id })).result.status, 'initiated');
  fake.setStatus(id, 'ringing');
  const st = await call({ op: 'status', call_id: id });
  assert.equal(st.result.call_id, id);
  assert.equal(st.result.status, 'ringing');
  assert.equal(st.result.raw.status, 'ringing');
  fake.setStatus(id, 'unanswered');
  assert.equal((await call({ op: 'status', call_id: id })).result.status, 'no-answer');

  let n = fake.requests.length;
  fake.fail({ method: 'GET', path: `/v1/calls/${id}`, status: 503, times: 2 });
  const retried = await call({ op: 'status', call_id: id });
  assert.equal(retried.result.status, 'no-answer');
  assert.deepEqual(since(n).map((r) => r.fault), [503, 503, undefined]);

  n = fake.requests.length;
  fake.fail({ method: 'GET', path: `/v1/calls/${id}`, status: 503, times: 10 });
  const gave_up = await call({ op: 'status', call_id: id });
  assert.match(gave_up.second, /^vonage: HTTP 503/);
  assert.equal(since(n).length, 3, 'one attempt and two retries');
  fake.clearFaults();
  assert.equal((await call({ op: 'status', call_id: id })).result.status, 'no-answer');

  const missing = await call({ op: 'status', call_id: crypto.randomUUID() });
  assert.match(missing.second, /^vonage: HTTP 404: Not Found: Call .* was not found$/);
});

test('get_call_cost: not priced before the call is over and priced, then EUR', async () => {
  const id = await placeCall();
  fake.setStatus(id, 'answered');
  assert.equal((await call({ op: 'cost', call_id: id })).second, 'not priced yet');
  fake.setStatus(id, 'completed');
  assert.equal((await call({ op: 'cost', call_id: id })).second, 'not priced yet');
  fake.price(id, { price: '0.00750000', rate: '0.01071400', duration: '42' });
  assert.deepEqual((await call({ op: 'cost', call_id: id })).result, { cost: 0.0075, currency: 'EUR', duration: 42 });
});

test('get_available_phone_numbers pages through /account/numbers with Basic auth', async () => {
  const n = fake.requests.length;
  const nums = await call({ op: 'numbers' });
  assert.deepEqual(nums.result, NUMBERS.map((x) => '+' + x));
  const reqs = since(n);
  assert.deepEqual(reqs.map((r) => [r.path, r.query.get('index'), r.query.get('size')]),
    [['/account/numbers', '1', '100'], ['/account/numbers', '2', '100'], ['/account/numbers', '3', '100']]);
  assert.equal(reqs[0].headers.authorization, 'Basic ' + Buffer.from(`${API_KEY}:${API_SECRET}`).toString('base64'));
  const bad = await call({ op: 'numbers' }, { api_secret: 'wrong' });
  assert.equal(bad.second, 'vonage: HTTP 401: authentication failed');
  const none = await call({ op: 'numbers' }, { api_secret: undefined });
  assert.equal(none.second, 'vonage: api_secret is required to list numbers');
});

test('validate_config: a usable key passes; weak, non-RSA and missing keys are named', async () => {
  assert.equal((await call({ op: 'validate' })).result, true);
  const weak = await call({ op: 'validate' }, { private_key: rsa(1024).privateKey });
  assert.deepEqual(weak.second.map((p) => p.field), ['private_key']);
  assert.match(weak.second[0].message, /shorter than 2048 bits/);
  const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' });
  const notRsa = await call({ op: 'validate' }, { private_key: ec, application_id: 'x', api_base_url: 'ftp://x' });
  assert.deepEqual(notRsa.second.map((p) => p.field), ['application_id', 'private_key', 'api_base_url']);
  assert.match(notRsa.second[1].message, /not an RSA private key/);
});

/** POSTs a raw event to the stand-in endpoint. */
function postEvent(body, authorization) {
  return request(`${server.url}/events/run-1`, { method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) }, body });
}

test('signed event webhooks from the fake verify; forged, stale and tampered ones get 403', async () => {
  const id = await placeCall();
  const r = await fake.sendEvent(id, 'answered');
  assert.equal(r.status, 200, r.body);
  const { timestamp, ...parsed } = r.json.parsed;
  assert.deepEqual(parsed, { call_id: id, status: 'answered', raw_status: 'answered',
    conversation_uuid: fake.calls.get(id).conversation_uuid });
  assert.match(timestamp, /^\d{4}-\d\d-\d\dT/);
  assert.match(r.json.replay.replay_key, /^vonage:[0-9a-f-]{36}$/);
  assert.ok(r.json.replay.ttl > 290 && r.json.replay.ttl <= 330, String(r.json.replay.ttl));
  const again = await fake.sendEvent(id, 'answered');
  assert.notEqual(again.json.replay.replay_key, r.json.replay.replay_key, 'a fresh jti per webhook');

  fake.price(id, { duration: '17' });
  const done = await fake.sendEvent(id, 'completed', { extra: { duration: '17', price: '0.01', rate: '0.02' } });
  assert.equal(done.json.parsed.status, 'completed');
  assert.equal(done.json.parsed.duration, 17);
  const machine = await fake.sendEvent(id, 'human', { extra: { call_uuid: id } });
  assert.match(machine.json.err, /not a call status/);

  const forged = await fake.sendEvent(id, 'completed', { secret: 'not-the-signature-secret-0123456789' });
  assert.equal(forged.status, 403);
  assert.equal(forged.json.error, 'bad signature');

  const body = JSON.stringify(fake.event(id, 'completed'));
  const sign = (extra) => 'Bearer ' + signWebhook({ secret: SIGNATURE_SECRET, apiKey: API_KEY, applicationId: APP_ID, body, ...extra });
  assert.equal((await postEvent(body, sign())).status, 200);
  const stale = await postEvent(body, sign({ iat: Math.floor(Date.now() / 1000) - 400 }));
  assert.deepEqual([stale.status, stale.json.error], [403, 'expired']);
  const future = await postEvent(body, sign({ iat: Math.floor(Date.now() / 1000) + 400 }));
  assert.deepEqual([future.status, future.json.error], [403, 'not yet valid']);
  const tampered = await postEvent(body.replace('completed', 'answered'), sign());
  assert.deepEqual([tampered.status, tampered.json.error], [403, 'payload_hash mismatch']);
  const foreign = await postEvent(body, sign({ apiKey: 'ffffffff' }));
  assert.deepEqual([foreign.status, foreign.json.error], [403, 'claim api_key mismatch']);
  const noIss = await postEvent(body, sign({ claims: { iss: null } }));
  assert.deepEqual([noIss.status, noIss.json.error], [403, 'claim iss mismatch']);
  const unsigned = await postEvent(body);
  assert.deepEqual([unsigned.status, unsigned.json.error], [403, 'no Bearer token']);
  const rs = await postEvent(body, 'Bearer ' + tokenGenerate(APP_ID, KEYS.privateKey));
  assert.deepEqual([rs.status, rs.json.error], [403, 'alg not allowed']);
});

test('the answer URL: a signed GET whose payload_hash covers the query returns the NCCO', async () => {
  const id = await placeCall();
  const r = await fake.fetchNcco(id);
  assert.equal(r.status, 200, r.body);
  assert.equal(r.headers['content-type'], 'application/json');
  assert.match(r.headers['x-replay-key'], /^vonage:/);
  assert.deepEqual(r.json, [{ action: 'connect', eventType: 'synchronous', eventUrl: ['http://127.0.0.1:9/events/run-1'],
    from: '447700900000', endpoint: [{ type: 'websocket', uri: 'ws://127.0.0.1:9/ws/wf1/u2/run-1',
      'content-type': 'audio/l16;rate=16000', headers: { token: 'tok-run-1' } }] }]);

  // the same token on a different query is refused
  const u = new URL(fake.calls.get(id).answer_url[0]);
  for (const [k, v] of [['uuid', id], ['from', '447700900000']]) u.searchParams.append(k, v);
  const token = signWebhook({ secret: SIGNATURE_SECRET, apiKey: API_KEY, applicationId: APP_ID, query: u.searchParams });
  const good = await request(u.toString(), { headers: { authorization: `Bearer ${token}` } });
  assert.equal(good.status, 200, good.body);
  u.searchParams.set('from', '447700900009');
  const bad = await request(u.toString(), { headers: { authorization: `Bearer ${token}` } });
  assert.deepEqual([bad.status, bad.json.error], [403, 'payload_hash mismatch']);
});
