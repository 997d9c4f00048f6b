// End to end through the real binary: the telephony API places calls on a fake Twilio that
// behaves like the real one over loopback (lib/fake_twilio.js): REST with Basic auth, signed
// status callbacks (signed by the official `twilio` package), the TwiML fetch, the Media Stream
// the TwiML names, and pricing after the call.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const WebSocket = require('ws');
const { startServer } = require('./lib/server');
const { request } = require('./lib/http');
const { startFakeTwilio, postSigned } = require('./lib/fake_twilio');
const { makeServiceRoot, setupOrganization, TEST_FLOW, FAST_COST_RETRIES } = require('./lib/telephony');

const SID = 'AC' + '0123456789abcdef'.repeat(2);
const TOKEN = '0123456789abcdef'.repeat(2);

let fake;
let server;
let acmeOrg;
let acme;
let globex;
let WF; // acme's workflow running test_flow

before(async () => {
  fake = await startFakeTwilio({ sid: SID, token: TOKEN });
  const twilioConfig = { provider: 'twilio', account_sid: SID, auth_token: TOKEN, from_numbers: ['+14155550100'],
    api_base_url: fake.url };
  server = await startServer({ scriptDir: makeServiceRoot({ workflows: { test_flow: TEST_FLOW }, scripts: FAST_COST_RETRIES }) });
  const setup = { workflows: { 'Test flow': 'test_flow' }, configs: { main: twilioConfig } };
  acmeOrg = await setupOrganization(server, { name: 'Acme', ...setup });
  const globexOrg = await setupOrganization(server, { name: 'Globex', ...setup });
  acme = acmeOrg.api;
  globex = globexOrg.api;
  WF = acmeOrg.workflows['Test flow'];
  globex.WF = globexOrg.workflows['Test flow'];
});

after(async () => {
  await server.stop();
  await fake.close();
});

const scenario = (s) => { fake.scenario = { ...fake.scenario, ...s }; };
const reset = () => {
  fake.scenario = { outcome: 'completed', frames: 10, frameIntervalMs: 5, digits: '', holdMs: 200,
    waitForServerClose: false, lateRinging: false, duplicateAnswered: false, priceDelayMs: 300, price: '-0.01300',
    createError: null, silent: false };
};

test('a full call: initiate, TwiML, callbacks, media both ways, completion and cost', async () => {
  reset();
  scenario({ digits: '1#', waitForServerClose: true, frames: 25 });
  const res = await acme.initiate({ workflow_id: WF, phone_number: '+14155550123', workflow_run_id: 'run-full' });
  assert.equal(res.status, 200, res.body);
  assert.equal(res.json.workflow_run_id, 'run-full');
  assert.match(res.json.call_id, /^CA[0-9a-f]{32}$/);
  assert.equal(res.json.provider, 'twilio');
  const call = await fake.nextCall();
  assert.equal(call.sid, res.json.call_id);
  // What Twilio was asked to do (spec/twilio.md §2)
  assert.deepEqual(call.form.To, ['+14155550123']);
  assert.deepEqual(call.form.From, ['+14155550100']);
  assert.match(call.form.Url[0], new RegExp(`^${server.url}/api/v1/telephony/twiml\\?workflow_run_id=run-full&token=`));
  assert.equal(call.form.StatusCallback[0], `${server.url}/api/v1/telephony/twilio/status-callback/run-full`);
  assert.deepEqual(call.form.StatusCallbackEvent, ['initiated', 'ringing', 'answered', 'completed']);
  await call.done;
  assert.equal(call.error, undefined);
  // TwiML: <Connect><Stream> to the run's media WebSocket, with its token as a parameter.
  assert.equal(call.voiceResponse.status, 200);
  assert.match(call.voiceResponse.contentType, /text\/xml/);
  assert.equal(call.twiml.url, `ws://127.0.0.1:${server.port}/api/v1/telephony/ws/${WF}/${acmeOrg.id}/run-full`);
  assert.ok(call.twiml.params.token && call.twiml.params.token.length >= 32);
  // The flow answered digit 1 with 200 ms of tone and a mark, and hung up on '#'.
  assert.equal(call.received.media.length, 10);
  assert.ok(call.received.media.every((f) => f.length === 160));
  assert.deepEqual(call.received.marks, ['tone-done']);
  assert.equal(call.streamClose, 1000);
  const finished = await server.waitForLog(/msg="flow finished".*/);
  assert.match(finished[0], /digits=1#/);
  assert.match(finished[0], /marks=tone-done/);
  assert.match(finished[0], /run=run-full/);
  assert.match(finished[0], /provider=twilio/);
  assert.match(finished[0], /to=\+14155550123/);
  for (const cb of call.callbacks) assert.equal(cb.response.status, 200, cb.response.body);
  const run = await acme.waitRun('run-full', (r) => r.cost_state === 'priced');
  assert.equal(run.status, 'completed');
  assert.equal(run.cost, 0.013, 'Twilio reports charges as negative prices; the cost is positive');
  assert.equal(run.currency, 'USD');
  assert.equal(run.call_id, call.sid);
  assert.equal(run.from_number, '+14155550100', 'the number the provider chose is recorded');
  assert.equal(run.config_id, acmeOrg.configs.main.id, 'the run records its configuration');
  assert.equal(run.workflow_id, WF);
  assert.equal(run.media_state, 'done');
  assert.equal(run.media_token, undefined, 'the media token is never returned');
  for (const t of ['initiated_at', 'ringing_at', 'answered_at', 'ended_at']) assert.equal(typeof run[t], 'number', t);
  assert.ok(run.initiated_at <= run.ringing_at && run.ringing_at <= run.answered_at && run.answered_at <= run.ended_at);
  assert.deepEqual(run.events.map((e) => [e.source, e.status, e.outcome]), [
    ['initiate', 'initiated', 'applied'],
    ['twilio', 'initiated', 'duplicate'],
    ['twilio', 'ringing', 'applied'],
    ['twilio', 'answered', 'applied'],
    ['twilio', 'completed', 'applied'],
  ]);
  assert.match(run.events[4].raw, /CallStatus=completed/);
});

test('out-of-order and repeated callbacks never move a run backwards; every one is kept', async () => {
  reset();
  scenario({ lateRinging: true, duplicateAnswered: true });
  const res = await acme.initiate({ workflow_id: WF, to_number: '+14155550124' });
  assert.equal(res.status, 200, res.body);
  const call = await fake.nextCall();
  await call.done;
  const run = await acme.waitRun(res.json.workflow_run_id, (r) => r.cost_state === 'priced');
  assert.equal(run.status, 'completed');
  assert.deepEqual(run.events.slice(1).map((e) => [e.status, e.outcome]), [
    ['initiated', 'duplicate'], ['ringing', 'applied'], ['answered', 'applied'], ['answered', 'duplicate'],
    ['completed', 'applied'], ['ringing', 'final'],
  ]);
});

test('a busy callee: the run ends busy without media', async () => {
  reset();
  scenario({ outcome: 'busy', price: '0.00000' });
  const res = await acme.initiate({ workflow_id: WF, phone_number: '+14155550125' });
  const call = await fake.nextCall();
  await call.done;
  const run = await acme.waitRun(res.json.workflow_run_id, (r) => r.cost_state === 'priced');
  assert.equal(run.status, 'busy');
  assert.equal(run.media_state, 'waiting');
  assert.equal(call.twiml, null);
  assert.equal(run.answered_at, undefined);
});

test('the cost is fetched with bounded retries: a call never priced ends "unavailable"', async () => {
  reset();
  scenario({ outcome: 'no-answer', priceDelayMs: null });
  const res = await acme.initiate({ workflow_id: WF, phone_number: '+14155550129' });
  const call = await fake.nextCall();
  await call.done;
  const run = await acme.waitRun(res.json.workflow_run_id, (r) => r.cost_state !== undefined);
  assert.equal(run.status, 'no-answer');
  assert.equal(run.cost_state, 'unavailable');
  assert.equal(run.cost, undefined);
  const fetches = fake.requests.filter((r) => r.method === 'GET' && r.url.endsWith(`/Calls/${call.sid}.json`));
  assert.equal(fetches.length, 4, 'one fetch per attempt, no more');
  await server.waitForLog(/msg="run cost unavailable"/);
});

test('a carrier error is a 502 carrying the carrier message; the run is failed', async () => {
  reset();
  scenario({ createError: { status: 400, code: 21211, message: "The 'To' number +14155550199 is not a valid phone number." } });
  const res = await acme.initiate({ workflow_id: WF, phone_number: '+14155550199', workflow_run_id: 'run-refused' });
  assert.equal(res.status, 502);
  assert.equal(res.json.error.code, 'carrier_error');
  assert.match(res.json.error.message, /not a valid phone number.*21211/);
  const run = await acme.run('run-refused');
  assert.equal(run.json.status, 'failed');
  assert.match(run.json.error, /21211/);
});

test('bad requests: API key, phone number, workflow, duplicate run, JSON', async () => {
  reset();
  scenario({ silent: true });
  const url = `${server.url}/api/v1/telephony/initiate-call`;
  const body = JSON.stringify({ workflow_id: WF, phone_number: '+14155550126' });
  const noKey = await request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  assert.equal(noKey.status, 401);
  assert.equal(noKey.json.error.code, 'unauthorized');
  const badKey = await request(url, { method: 'POST', headers: { authorization: 'Bearer nope' }, body });
  assert.equal(badKey.status, 401);
  const local = await acme.initiate({ workflow_id: WF, phone_number: '4155550126' });
  assert.equal(local.status, 400);
  assert.equal(local.json.error.code, 'invalid_phone_number');
  assert.match(local.json.error.message, /E\.164/);
  const unknown = await acme.initiate({ workflow_id: 'no_such_flow', phone_number: '+14155550126' });
  assert.equal(unknown.status, 404);
  assert.equal(unknown.json.error.code, 'unknown_workflow');
  const others = await acme.initiate({ workflow_id: globex.WF, phone_number: '+14155550126' });
  assert.equal(others.status, 404, "another organisation's workflow is unknown");
  assert.equal(others.json.error.code, 'unknown_workflow');
  const first = await acme.initiate({ workflow_id: WF, phone_number: '+14155550126', workflow_run_id: 'run-dup' });
  assert.equal(first.status, 200, first.body);
  assert.equal((await fake.nextCall()).sid, first.json.call_id);
  const again = await acme.initiate({ workflow_id: WF, phone_number: '+14155550126', workflow_run_id: 'run-dup' });
  assert.equal(again.status, 409);
  const garbage = await request(url, { method: 'POST', headers: { authorization: `Bearer ${acmeOrg.apiKey}` }, body: '{"workflow_id":' });
  assert.equal(garbage.status, 400);
  assert.equal(garbage.json.error.code, 'invalid_json');
  assert.equal(fake.calls.filter((c) => c.form.To[0] === '+14155550126').length, 1, 'only the valid request placed a call');
  // another organisation does not see the run
  assert.equal((await globex.run('run-dup')).status, 404);
  assert.equal((await acme.run('run-dup')).status, 200);
});

test('hostile callbacks are refused with 403 and change nothing', async () => {
  reset();
  scenario({ silent: true });
  const res = await acme.initiate({ workflow_id: WF, phone_number: '+14155550127', workflow_run_id: 'run-hostile' });
  assert.equal(res.status, 200, res.body);
  const call = await fake.nextCall();
  const cbUrl = call.form.StatusCallback[0];
  const params = { CallSid: call.sid, AccountSid: SID, From: '+14155550100', To: '+14155550127',
    CallStatus: 'completed', CallDuration: '30', SequenceNumber: '3' };
  const form = new URLSearchParams(params).toString();
  const send = (headers, body = form, url = cbUrl) => request(url, { method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body });
  const unsigned = await send({});
  assert.equal(unsigned.status, 403);
  const wrongToken = await send({ 'x-twilio-signature': require('twilio').getExpectedTwilioSignature('f'.repeat(32), cbUrl, params) });
  assert.equal(wrongToken.status, 403);
  const good = require('twilio').getExpectedTwilioSignature(TOKEN, cbUrl, params);
  const tampered = await send({ 'x-twilio-signature': good }, form.replace('CallDuration=30', 'CallDuration=3000'));
  assert.equal(tampered.status, 403);
  const otherRun = await send({ 'x-twilio-signature': good }, form, cbUrl.replace('run-hostile', 'run-full'));
  assert.equal(otherRun.status, 403, 'a signature is bound to its URL');
  const hostHeader = await request(cbUrl, { method: 'POST', body: form, headers: {
    'content-type': 'application/x-www-form-urlencoded', host: 'evil.example',
    'x-twilio-signature': require('twilio').getExpectedTwilioSignature(TOKEN, cbUrl.replace(`127.0.0.1:${server.port}`, 'evil.example'), params) } });
  assert.equal(hostHeader.status, 403, 'the URL is built from public_url, not the Host header');
  const oversized = await send({ 'x-twilio-signature': good }, form + '&Pad=' + 'x'.repeat(2 * 1024 * 1024));
  assert.equal(oversized.status, 413);
  let run = (await acme.run('run-hostile')).json;
  assert.equal(run.status, 'initiated');
  assert.deepEqual(run.events.map((e) => e.source), ['initiate'], 'refused requests leave no event');
  // the genuine callback applies once; its replay is recognised and changes nothing
  assert.equal((await postSigned(cbUrl, TOKEN, params)).status, 200);
  const replay = await postSigned(cbUrl, TOKEN, params);
  assert.equal(replay.status, 200);
  assert.equal(JSON.parse(replay.body).outcome, 'duplicate');
  run = (await acme.run('run-hostile')).json;
  assert.equal(run.status, 'completed');
  assert.equal(run.duration, 30);
  // a callback for a run that does not exist
  const none = await postSigned(cbUrl.replace('run-hostile', 'run-none'), TOKEN, params);
  assert.equal(none.status, 404);
});

test('the webhook document and the media WebSocket need the carrier or the run token', async () => {
  reset();
  scenario({ silent: true });
  const res = await acme.initiate({ workflow_id: WF, phone_number: '+14155550128', workflow_run_id: 'run-media' });
  const call = await fake.nextCall();
  const docUrl = call.form.Url[0];
  const token = new URL(docUrl).searchParams.get('token');
  const voice = { CallSid: call.sid, AccountSid: SID, CallStatus: 'in-progress' };
  const unsigned = await request(docUrl.replace(token, 'wrong'), { method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(voice).toString() });
  assert.equal(unsigned.status, 403);
  const forged = await request(docUrl, { method: 'POST', body: new URLSearchParams(voice).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': 'AAAA' } });
  assert.equal(forged.status, 403, 'a signature that is sent must verify');
  const signed = await postSigned(docUrl, TOKEN, voice);
  assert.equal(signed.status, 200);
  const wsUrl = `ws://127.0.0.1:${server.port}/api/v1/telephony/ws/${WF}/${acmeOrg.id}/run-media`;
  // unknown run, wrong workflow in the path: refused at the handshake
  for (const bad of [wsUrl.replace('run-media', 'run-none'), wsUrl.replace(WF, globex.WF)]) {
    const status = await new Promise((resolve) => {
      const ws = new WebSocket(bad);
      ws.on('unexpected-response', (_req, r) => resolve(r.statusCode));
      ws.on('open', () => resolve('open'));
    });
    assert.equal(status, 404, bad);
  }
  // a stream whose start carries the wrong token is closed; the run still waits for media
  const ws = new WebSocket(wsUrl);
  await new Promise((resolve) => ws.on('open', resolve));
  const closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  ws.send(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
  ws.send(JSON.stringify({ event: 'start', streamSid: 'MZ' + '1'.repeat(32), start: { streamSid: 'MZ' + '1'.repeat(32),
    callSid: call.sid, customParameters: { token: 'not-the-token' }, mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 } } }));
  assert.deepEqual(await closed, { code: 1008, reason: 'missing or wrong media token' });
  await server.waitForLog(/carrier request refused(?=.*run=run-media).*wrong media token/);
  const run = await acme.waitRun('run-media', (r) => r.media_state === 'waiting');
  assert.equal(run.status, 'initiated');
  assert.doesNotMatch(server.log, /msg="media connected".*run=run-media/);
});
