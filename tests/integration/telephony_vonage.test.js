// End to end through the real binary: the telephony API places calls on a fake Vonage that
// behaves like the real one over loopback (lib/fake_vonage.js): the Voice API with application
// JWTs, signed event webhooks (HS256), the signed NCCO fetch, the WebSocket the NCCO names
// (raw L16 at 16 kHz, websocket:* events, notify/clear) and pricing after the call.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const WebSocket = require('ws');
const { startServer } = require('./lib/server');
const { request } = require('./lib/http');
const { until } = require('./lib/wait');
const { startFakeVonage, signWebhook, hs256, DEFAULT_SCENARIO } = require('./lib/fake_vonage');
const { makeServiceRoot, setupOrganization, TEST_FLOW, FAST_COST_RETRIES } = require('./lib/telephony');

const APP_ID = crypto.randomUUID();
const API_KEY = 'a1b2c3d4';
const API_SECRET = 'api-secret-' + crypto.randomBytes(6).toString('hex');
const SIGNATURE_SECRET = 'signature-secret-' + crypto.randomBytes(16).toString('hex');
const FROM = '447700900000';
const KEYS = crypto.generateKeyPairSync('rsa', { modulusLength: 2048,
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });

let fake;
let server;
let acmeOrg;
let acme;
let WF; // acme's workflow running test_flow

before(async () => {
  fake = await startFakeVonage({ applicationId: APP_ID, publicKey: KEYS.publicKey, apiKey: API_KEY,
    apiSecret: API_SECRET, signatureSecret: SIGNATURE_SECRET, numbers: [FROM] });
  const vonageConfig = { provider: 'vonage', application_id: APP_ID, private_key: KEYS.privateKey, api_key: API_KEY,
    api_secret: API_SECRET, signature_secret: SIGNATURE_SECRET, from_numbers: [`+${FROM}`], api_base_url: fake.url };
  server = await startServer({ scriptDir: makeServiceRoot({ workflows: { test_flow: TEST_FLOW }, scripts: FAST_COST_RETRIES }) });
  acmeOrg = await setupOrganization(server, { name: 'Acme', workflows: { 'Test flow': 'test_flow' },
    configs: { main: vonageConfig } });
  acme = acmeOrg.api;
  WF = acmeOrg.workflows['Test flow'];
});

after(async () => {
  if (process.env.DUMP_LOG) console.error(server.log);
  await server.stop();
  await fake.close();
});

const scenario = (s) => { fake.scenario = { ...DEFAULT_SCENARIO, silent: false, ...s }; };
const eventRows = (run) => run.events.map((e) => [e.source, e.status ?? null, e.outcome]);
const sign = (body, extra = {}) => signWebhook({ secret: SIGNATURE_SECRET, apiKey: API_KEY, applicationId: APP_ID,
  body, ...extra });
const b64url = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** Counts sign changes in L16 little-endian audio. */
function zeroCrossings(pcm) {
  let n = 0;
  for (let i = 2; i < pcm.length; i += 2) if ((pcm.readInt16LE(i - 2) < 0) !== (pcm.readInt16LE(i) < 0)) n++;
  return n;
}

test('a full call: initiate, NCCO, events, media both ways, completion and cost', async () => {
  scenario({ digits: '1#', waitForServerClose: true, frames: 10 });
  const res = await acme.initiate({ workflow_id: WF, phone_number: '+447700900123', workflow_run_id: 'run-full' });
  assert.equal(res.status, 200, res.body);
  assert.equal(res.json.workflow_run_id, 'run-full');
  assert.equal(res.json.provider, 'vonage');
  assert.equal(res.json.status, 'initiated');
  const call = await fake.nextCall();
  assert.equal(call.uuid, res.json.call_id);
  // What Vonage was asked to do (spec/vonage.md §3.1): digits only, the run's answer and event URLs
  const create = fake.requests.find((r) => r.method === 'POST' && r.path === '/v1/calls' && r.json === call.body);
  assert.equal(create.claims.application_id, APP_ID, 'the create request carries a valid application JWT');
  assert.deepEqual(call.body.to, [{ type: 'phone', number: '447700900123' }]);
  assert.deepEqual(call.body.from, { type: 'phone', number: FROM });
  assert.equal(call.body.answer_url.length, 1);
  const answerUrl = new URL(call.body.answer_url[0]);
  assert.equal(`${answerUrl.origin}${answerUrl.pathname}`, `${server.url}/api/v1/telephony/ncco`);
  assert.equal(answerUrl.searchParams.get('workflow_run_id'), 'run-full');
  const token = answerUrl.searchParams.get('token');
  assert.ok(token && token.length >= 32, 'the answer URL carries the run token');
  assert.equal(call.body.answer_method, 'GET');
  assert.deepEqual(call.body.event_url, [`${server.url}/api/v1/telephony/vonage/events/run-full`]);
  assert.equal(call.body.event_method, 'POST');
  assert.equal(call.body.ncco, undefined);
  await call.done;
  assert.equal(call.error, undefined, call.error && call.error.stack);
  // The NCCO connects the call to the run's media WebSocket, in L16 at 16 kHz, with the token.
  assert.equal(call.nccoResponse.status, 200);
  assert.match(call.nccoResponse.headers['content-type'], /^application\/json/);
  assert.deepEqual(call.ncco, [{
    action: 'connect',
    endpoint: [{ type: 'websocket', uri: `ws://127.0.0.1:${server.port}/api/v1/telephony/ws/${WF}/${acmeOrg.id}/run-full`,
      'content-type': 'audio/l16;rate=16000', headers: { token } }],
    eventType: 'synchronous',
    eventUrl: [`${server.url}/api/v1/telephony/vonage/events/run-full`],
    from: FROM,
  }]);
  // The flow answered digit 1 with 200 ms of 440 Hz at 8 kHz: Vonage hears it at 16 kHz, ten
  // 20 ms frames, then the mark as a notify it answered; '#' made the flow hang up.
  assert.equal(call.received.audio.length, 10);
  assert.ok(call.received.audio.every((f) => f.length === 640), 'one 20 ms frame of 16 kHz L16 per message');
  const heard = Buffer.concat(call.received.audio);
  const crossings = zeroCrossings(heard);
  assert.ok(crossings > 160 && crossings < 190, `a 440 Hz tone over 200 ms crosses zero ~176 times, got ${crossings}`);
  assert.deepEqual(call.received.notifies, [{ mark: 'tone-done' }]);
  assert.equal(call.received.clears, 0);
  assert.deepEqual(call.received.other, []);
  assert.equal(call.closedBy, 'server');
  assert.equal(call.socketClose, 1000);
  // and the flow hanging up ends the call through the REST API, as spec §6.3 recommends
  const hangup = await until(() => fake.requests.find((r) => r.method === 'PUT' && r.path === `/v1/calls/${call.uuid}`));
  assert.deepEqual(hangup.json, { action: 'hangup' });
  assert.equal(fake.calls.get(call.uuid).hungUpByApi, true);
  await server.waitForLog(/msg="flow finished".*digits=1#/);
  assert.match(server.log, /msg="flow finished"(?=.*frames=10\b)(?=.*marks=tone-done)/);
  for (const e of call.events) assert.equal(e.response.status, 200, `${e.leg} ${e.status}: ${e.response.body}`);
  const run = await acme.waitRun('run-full', (r) => r.cost_state === 'priced');
  const completed = JSON.parse(run.events[run.events.length - 1].raw);
  assert.equal(completed.status, 'completed');
  assert.equal(run.status, 'completed');
  assert.equal(run.cost, Number(completed.price), 'the cost is the price Vonage reports');
  assert.ok(run.cost > 0);
  assert.equal(run.currency, 'EUR');
  assert.equal(run.duration, Number(completed.duration));
  assert.equal(run.call_id, call.uuid);
  assert.equal(run.media_state, 'done');
  assert.equal(run.media_token, undefined, 'the media token is never returned');
  for (const t of ['initiated_at', 'ringing_at', 'answered_at', 'ended_at']) assert.equal(typeof run[t], 'number', t);
  assert.ok(run.initiated_at <= run.ringing_at && run.ringing_at <= run.answered_at && run.answered_at <= run.ended_at);
  // The WebSocket leg's own events (to = its URI) say nothing about the call: kept, ignored.
  assert.deepEqual(eventRows(run), [
    ['initiate', 'initiated', 'applied'],
    ['vonage', 'initiated', 'duplicate'],
    ['vonage', 'ringing', 'applied'],
    ['vonage', 'answered', 'applied'],
    ['vonage', null, 'ignored'],
    ['vonage', null, 'ignored'],
    ['vonage', null, 'ignored'],
    ['vonage', null, 'ignored'],
    ['vonage', 'completed', 'applied'],
  ]);
  assert.deepEqual(run.events.slice(4, 8).map((e) => JSON.parse(e.raw).status),
    ['started', 'answered', 'disconnected', 'completed']);
  // Vonage echoes the endpoint headers (the media token) in the leg's events: never shown by the API.
  assert.ok(run.events.every((e) => !String(e.raw).includes(token)), 'the media token is redacted from stored events');
  assert.equal(JSON.parse(run.events[4].raw).headers.token, '[media token]');
});

test('out-of-order, repeated and detection events never move a run backwards; every one is kept', async () => {
  scenario({ legEvents: false, duplicateAnswered: true, lateRinging: true, detection: true });
  const res = await acme.initiate({ workflow_id: WF, phone_number: '+447700900124' });
  assert.equal(res.status, 200, res.body);
  const call = await fake.nextCall();
  await call.done;
  assert.equal(call.error, undefined, call.error && call.error.stack);
  const run = await acme.waitRun(res.json.workflow_run_id, (r) => r.cost_state === 'priced');
  assert.equal(run.status, 'completed');
  assert.deepEqual(eventRows(run).slice(1), [
    ['vonage', 'initiated', 'duplicate'], ['vonage', 'ringing', 'applied'], ['vonage', 'answered', 'applied'],
    ['vonage', 'answered', 'duplicate'], ['vonage', null, 'ignored'], ['vonage', null, 'ignored'],
    ['vonage', 'completed', 'applied'], ['vonage', 'ringing', 'final'],
  ]);
  assert.deepEqual(run.events.slice(5, 7).map((e) => JSON.parse(e.raw).status), ['human', 'machine']);
  assert.ok(run.ringing_at <= run.answered_at && run.answered_at <= run.ended_at, 'the late ringing changed no timestamp');
});

test('a call that is never answered ends busy, no-answer or failed, without media', async () => {
  for (const [outcome, expected] of [['busy', 'busy'], ['unanswered', 'no-answer'], ['rejected', 'failed']]) {
    scenario({ outcome });
    const res = await acme.initiate({ workflow_id: WF, phone_number: '+447700900125' });
    assert.equal(res.status, 200, res.body);
    const call = await fake.nextCall();
    await call.done;
    assert.equal(call.error, undefined, call.error && call.error.stack);
    const run = await acme.waitRun(res.json.workflow_run_id, (r) => r.cost_state === 'priced');
    assert.equal(run.status, expected, outcome);
    assert.deepEqual(eventRows(run).slice(-1), [['vonage', expected, 'applied']]);
    assert.equal(run.media_state, 'waiting');
    assert.equal(call.nccoResponse, null, 'no NCCO is fetched for a call never answered');
    assert.equal(run.answered_at, undefined);
    assert.equal(run.cost, 0);
    assert.equal(run.currency, 'EUR');
  }
});

test('the cost is fetched with bounded retries: a call never priced ends "unavailable"', async () => {
  scenario({ outcome: 'timeout', priceDelayMs: null });
  const res = await acme.initiate({ workflow_id: WF, phone_number: '+447700900129' });
  const call = await fake.nextCall();
  await call.done;
  const run = await acme.waitRun(res.json.workflow_run_id, (r) => r.cost_state !== undefined);
  assert.equal(run.status, 'no-answer');
  assert.equal(run.cost_state, 'unavailable');
  assert.equal(run.cost, undefined);
  const fetches = fake.requests.filter((r) => r.method === 'GET' && r.path === `/v1/calls/${call.uuid}`);
  assert.equal(fetches.length, 4, 'one fetch per attempt, no more');
});

test('a carrier error is a 502 carrying the carrier message; the run is failed', async () => {
  scenario({ createError: { status: 400, title: 'Bad Request', detail: 'The to number is not a valid phone number' } });
  const before = fake.calls.size;
  const res = await acme.initiate({ workflow_id: WF, phone_number: '+447700900199', workflow_run_id: 'run-refused' });
  assert.equal(res.status, 502);
  assert.equal(res.json.error.code, 'carrier_error');
  assert.match(res.json.error.message, /400.*Bad Request.*not a valid phone number/);
  assert.equal(fake.calls.size, before);
  const run = (await acme.run('run-refused')).json;
  assert.equal(run.status, 'failed');
  assert.match(run.error, /not a valid phone number/);
  assert.deepEqual(eventRows(run), [['initiate', 'failed', 'applied']]);
});

test('hostile event webhooks are refused with 403 (or 413, 400) and change nothing', async () => {
  scenario({ silent: true });
  const res = await acme.initiate({ workflow_id: WF, phone_number: '+447700900127', workflow_run_id: 'run-hostile' });
  assert.equal(res.status, 200, res.body);
  const call = await fake.nextCall();
  const eventUrl = call.body.event_url[0];
  const body = JSON.stringify(fake.event(call.uuid, 'completed', { duration: '30', price: '0.10000000', rate: '0.2' }));
  const post = (authorization, payload = body, url = eventUrl) => request(url, { method: 'POST', body: payload,
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) } });
  const now = Math.floor(Date.now() / 1000);
  const claims = { iat: now, jti: crypto.randomUUID(), iss: 'Vonage', api_key: API_KEY, application_id: APP_ID,
    payload_hash: crypto.createHash('sha256').update(body).digest('hex') };
  // each refused for its own reason (the log says which), not for an incidental one
  const refused = [
    ['unsigned', null, 'no Bearer token'],
    ['not a bearer token', `Basic ${Buffer.from('a:b').toString('base64')}`, 'no Bearer token'],
    ['wrong secret', `Bearer ${signWebhook({ secret: 'not-the-signature-secret-0123456789', apiKey: API_KEY,
      applicationId: APP_ID, body })}`, 'bad signature'],
    ['body tampered after signing', `Bearer ${sign(body.replace('"duration":"30"', '"duration":"3000"'))}`,
      'payload_hash mismatch'],
    ['wrong api_key', `Bearer ${sign(body, { claims: { api_key: 'ffffffff' } })}`, 'claim api_key mismatch'],
    ['wrong application_id', `Bearer ${sign(body, { claims: { application_id: crypto.randomUUID() } })}`,
      'claim application_id mismatch'],
    ['wrong issuer', `Bearer ${sign(body, { claims: { iss: 'Nexmo' } })}`, 'claim iss mismatch'],
    ['iat too old', `Bearer ${sign(body, { iat: now - 3600 })}`, 'expired'],
    ['iat in the future', `Bearer ${sign(body, { iat: now + 3600 })}`, 'not yet valid'],
    ['alg none, no signature', `Bearer ${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims)}.`, 'alg not allowed'],
    ['alg none, HMAC signature', `Bearer ${hs256({ alg: 'none', typ: 'JWT' }, claims, SIGNATURE_SECRET)}`,
      'alg not allowed'],
    ['alg HS512', `Bearer ${hs256({ alg: 'HS512', typ: 'JWT' }, claims, SIGNATURE_SECRET)}`, 'alg not allowed'],
  ];
  for (const [why, authorization, reason] of refused) {
    const mark = server.log.length;
    const r = await post(authorization);
    assert.equal(r.status, 403, `${why}: ${r.body}`);
    await server.waitForLog(new RegExp(`msg="carrier request refused".*reason="?${reason}`), 2000, mark);
  }
  const oversized = JSON.stringify({ ...JSON.parse(body), pad: 'x'.repeat(2 * 1024 * 1024) });
  assert.equal((await post(`Bearer ${sign(oversized)}`, oversized)).status, 413);
  const malformed = '{"status":"completed","uuid":';
  const bad = await post(`Bearer ${sign(malformed)}`, malformed);
  assert.equal(bad.status, 400, bad.body);
  let run = (await acme.run('run-hostile')).json;
  assert.equal(run.status, 'initiated');
  assert.equal(run.duration, undefined);
  assert.deepEqual(run.events.map((e) => e.source), ['initiate'], 'refused requests leave no event');
  // A genuine event applies once; the same signed request again is a replay (same jti): 403.
  const ringing = JSON.stringify(fake.event(call.uuid, 'ringing'));
  const genuine = `Bearer ${sign(ringing)}`;
  const first = await post(genuine, ringing);
  assert.equal(first.status, 200, first.body);
  assert.equal(first.json.outcome, 'applied');
  const replay = await post(genuine, ringing);
  assert.equal(replay.status, 403, replay.body);
  const replayedCompletion = `Bearer ${sign(body)}`;
  assert.equal((await post(replayedCompletion)).status, 200);
  assert.equal((await post(replayedCompletion)).status, 403, 'a replayed token is refused whatever it says');
  run = (await acme.run('run-hostile')).json;
  assert.equal(run.status, 'completed');
  assert.equal(run.duration, 30);
  assert.deepEqual(eventRows(run), [['initiate', 'initiated', 'applied'], ['vonage', 'ringing', 'applied'],
    ['vonage', 'completed', 'applied']]);
  // an event for a run that does not exist
  const none = await post(`Bearer ${sign(body)}`, body, eventUrl.replace('run-hostile', 'run-none'));
  assert.equal(none.status, 404);
});

test('the NCCO needs the run token, and a valid Vonage signature whenever one is sent', async () => {
  scenario({ silent: true });
  const res = await acme.initiate({ workflow_id: WF, phone_number: '+447700900128', workflow_run_id: 'run-ncco' });
  assert.equal(res.status, 200, res.body);
  const call = await fake.nextCall();
  const answerUrl = new URL(call.body.answer_url[0]);
  const token = answerUrl.searchParams.get('token');
  // what Vonage requests: the answer URL plus its own query, signed over that query
  const vonageUrl = (u) => {
    const out = new URL(u);
    for (const [k, v] of [['uuid', call.uuid], ['conversation_uuid', fake.calls.get(call.uuid).conversation_uuid],
      ['from', FROM], ['to', '447700900128']]) out.searchParams.append(k, v);
    return out;
  };
  const get = (u, authorization) => request(u.toString(), { headers: authorization ? { authorization } : {} });
  const isNcco = (r) => {
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json[0].action, 'connect');
    assert.equal(r.json[0].endpoint[0].headers.token, token);
  };
  isNcco(await fake.fetchNcco(call.uuid));
  isNcco(await get(vonageUrl(answerUrl)));
  const noToken = new URL(answerUrl);
  noToken.searchParams.delete('token');
  assert.equal((await get(vonageUrl(noToken))).status, 403, 'unsigned without the token');
  const wrongToken = new URL(answerUrl);
  wrongToken.searchParams.set('token', 'x'.repeat(token.length));
  assert.equal((await get(vonageUrl(wrongToken))).status, 403, 'unsigned with a wrong token');
  assert.equal((await fake.fetchNcco(call.uuid, { secret: 'not-the-signature-secret-0123456789' })).status, 403,
    'a forged signature is refused even with the right token');
  const signedElsewhere = vonageUrl(answerUrl);
  const jwt = signWebhook({ secret: SIGNATURE_SECRET, apiKey: API_KEY, applicationId: APP_ID,
    query: signedElsewhere.searchParams });
  signedElsewhere.searchParams.set('to', '447700900999');
  assert.equal((await get(signedElsewhere, `Bearer ${jwt}`)).status, 403, 'the signature covers the query');
  const replayed = vonageUrl(answerUrl);
  const once = `Bearer ${signWebhook({ secret: SIGNATURE_SECRET, apiKey: API_KEY, applicationId: APP_ID,
    query: replayed.searchParams })}`;
  isNcco(await get(replayed, once));
  assert.equal((await get(replayed, once)).status, 403, 'a signed NCCO request is not accepted twice');
  const signedNoToken = vonageUrl(noToken);
  const noTokenJwt = `Bearer ${signWebhook({ secret: SIGNATURE_SECRET, apiKey: API_KEY, applicationId: APP_ID,
    query: signedNoToken.searchParams })}`;
  assert.equal((await get(signedNoToken, noTokenJwt)).status, 403, 'signed, but without the run token (DESIGN §5)');
  const run = (await acme.run('run-ncco')).json;
  assert.equal(run.status, 'initiated');
  assert.equal(run.media_state, 'waiting');
});

test('a media WebSocket with a wrong token is closed; the run still waits for media', async () => {
  scenario({ silent: true });
  const res = await acme.initiate({ workflow_id: WF, phone_number: '+447700900130', workflow_run_id: 'run-media' });
  assert.equal(res.status, 200, res.body);
  const call = await fake.nextCall();
  const ncco = (await fake.fetchNcco(call.uuid)).json;
  const { uri, headers } = ncco[0].endpoint[0];
  assert.equal(uri, `ws://127.0.0.1:${server.port}/api/v1/telephony/ws/${WF}/${acmeOrg.id}/run-media`);
  /** Connects as Vonage would, with `first` as the websocket:connected message; resolves the close code. */
  const connect = async (first) => {
    const ws = new WebSocket(uri);
    const closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
    await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
    ws.send(JSON.stringify({ event: 'websocket:connected', 'content-type': 'audio/l16;rate=16000', ...first }));
    ws.send(Buffer.alloc(640), { binary: true });
    return { ws, closed };
  };
  for (const first of [{ token: 'not-the-token' }, {}, { token: headers.token.slice(0, -1) }]) {
    const mark = server.log.length;
    const { closed } = await connect(first);
    assert.equal(await closed, 1008, 'closed as a policy violation');
    await server.waitForLog(/carrier request refused(?=.*run=run-media).*wrong media token/, 5000, mark);
    const run = await acme.waitRun('run-media', (r) => r.media_state === 'waiting');
    assert.equal(run.status, 'initiated');
  }
  assert.doesNotMatch(server.log, /msg="media connected".*run=run-media/);
  // the run still waits: Vonage's own connection, with the NCCO's token, is accepted
  const { ws, closed } = await connect(headers);
  await server.waitForLog(/msg="media connected".*run=run-media/);
  await acme.waitRun('run-media', (r) => r.media_state === 'connected');
  ws.close(1000);
  await closed;
  await acme.waitRun('run-media', (r) => r.media_state === 'done');
});
