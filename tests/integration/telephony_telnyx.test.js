// End to end through the real binary: the telephony API places calls through the example custom
// provider, examples/providers/telnyx.lua, on a fake Telnyx that plays calls the way Telnyx does
// over loopback (lib/fake_telnyx.js): REST with a Bearer key, Ed25519-signed webhooks to the
// generic events path, and the media stream opened on the stream_url given at dial time.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const WebSocket = require('ws');
const { startServer, SOURCE_DIR } = require('./lib/server');
const { request } = require('./lib/http');
const { until } = require('./lib/wait');
const { startFakeTelnyx } = require('./lib/fake_telnyx');
const { makeServiceRoot, setupOrganization, TEST_FLOW, FAST_COST_RETRIES } = require('./lib/telephony');

const TELNYX = fs.readFileSync(path.join(SOURCE_DIR, 'examples', 'providers', 'telnyx.lua'), 'utf8');

let fake;
let server;
let root;
let acmeOrg;
let acme;
let globex;
let WF; // acme's workflow running test_flow

before(async () => {
  fake = await startFakeTelnyx({ numbers: ['+14155550100'] });
  const telnyxConfig = { provider: 'telnyx', ...fake.config() };
  root = makeServiceRoot({ providers: { telnyx: TELNYX }, workflows: { test_flow: TEST_FLOW }, scripts: FAST_COST_RETRIES });
  server = await startServer({ scriptDir: root });
  const setup = { workflows: { 'Test flow': 'test_flow' }, configs: { main: telnyxConfig } };
  acmeOrg = await setupOrganization(server, { name: 'Acme', ...setup });
  const globexOrg = await setupOrganization(server, { name: 'Globex', ...setup });
  acme = acmeOrg.api;
  globex = globexOrg.api;
  WF = acmeOrg.workflows['Test flow'];
});

after(async () => {
  if (process.env.DUMP_LOG && server) console.error(server.log);
  if (server) await server.stop();
  if (fake) await fake.close();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

/** How the next calls go; each call starts once its initiate request has answered (see place). */
const scenario = (s) => fake.play({ autoStartMs: null, ...s });

/** Initiates a call through `client` and lets the fake's call proceed: {res, call}. */
async function place(client, body) {
  const res = await client.initiate(body);
  assert.equal(res.status, 200, res.body);
  const call = await fake.nextCall();
  assert.equal(call.id, res.json.call_id);
  call.release();
  return { res, call };
}

const eventRows = (run) => run.events.map((e) => [e.source, e.status ?? null, e.outcome]);
const webhookTypes = (call) => call.webhooks.map((w) => [w.type, w.status]);

test('a full call: dial, signed events, media both ways, completion; Telnyx reports no cost', async () => {
  scenario({ digits: '1#', waitForServerClose: true });
  const mark = server.log.length;
  const { res, call } = await place(acme, { workflow_id: WF, phone_number: '+14155550123',
    workflow_run_id: 'run-full' });
  assert.equal(res.json.workflow_run_id, 'run-full');
  assert.match(res.json.call_id, /^v3:/);
  assert.equal(res.json.provider, 'telnyx');
  assert.equal(res.json.status, 'initiated');
  // What Telnyx was asked to do (spec A.1): events to the generic path, the stream at dial time
  // with the run's token in its query, the run id echoed as client_state.
  const dial = fake.requests.find((r) => r.method === 'POST' && r.path === '/v2/calls' && r.json.to === '+14155550123');
  assert.equal(dial.headers.authorization, `Bearer ${fake.apiKey}`);
  assert.equal(call.body.connection_id, fake.connectionId);
  assert.equal(call.body.from, '+14155550100');
  assert.equal(call.body.webhook_url, `${server.url}/api/v1/telephony/events/run-full`);
  const streamUrl = new URL(call.body.stream_url);
  assert.equal(`${streamUrl.origin}${streamUrl.pathname}`,
    `ws://127.0.0.1:${server.port}/api/v1/telephony/ws/${WF}/${acmeOrg.id}/run-full`);
  assert.ok(streamUrl.searchParams.get('token').length >= 32);
  assert.equal(call.body.stream_codec, 'PCMU');
  assert.equal(call.body.stream_bidirectional_mode, 'rtp');
  assert.equal(Buffer.from(call.body.client_state, 'base64').toString(), 'run-full');

  await call.done;
  assert.equal(call.error, undefined, call.error && call.error.stack);
  for (const w of call.webhooks) assert.equal(w.status, 200, `${w.type}: ${JSON.stringify(w.json)}`);
  assert.deepEqual(call.webhooks.map((w) => [w.type, w.json.outcome]), [
    ['call.initiated', 'duplicate'], ['call.answered', 'applied'], ['streaming.started', 'ignored'],
    ['streaming.stopped', 'ignored'], ['call.hangup', 'applied'],
  ]);
  // The flow answered digit 1 with 200 ms of tone (ten 20 ms mu-law frames) and a mark, which
  // came back; on '#' it hung up: the server closed the stream, Telnyx never stopped it.
  assert.equal(call.media.media.length, 10);
  assert.ok(call.media.media.every((f) => f.length === 160), 'one 20 ms PCMU frame per message');
  assert.ok(call.media.media.some((f) => f.some((b) => b !== 0xff && b !== 0x7f)), 'the frames carry sound');
  assert.deepEqual(call.media.marks, ['tone-done']);
  assert.equal(call.media.clears, 0);
  assert.deepEqual(call.media.other, []);
  assert.equal(call.closedBy, 'server');
  assert.equal(call.streamClose, 1000);
  await until(() => fake.requests.some((r) => r.method === 'POST' && decodeURIComponent(r.path) === `/v2/calls/${call.id}/actions/hangup`));
  assert.equal(call.hungUpByApi, true, 'the flow hanging up ends the Telnyx call, not only its stream');
  const finished = (await server.waitForLog(/[^\n]*msg="flow finished"[^\n]*/, 5000, mark))[0];
  assert.match(finished, /frames=10\b/);
  assert.match(finished, /digits=1#/);
  assert.match(finished, /marks=tone-done/);
  assert.match(finished, /run=run-full/);
  assert.match(finished, /provider=telnyx/);
  assert.match(finished, /to=\+14155550123/);

  // get_call_cost answers a final error, not "not priced yet": one attempt, then "unavailable".
  const run = await acme.waitRun('run-full', (r) => r.cost_state !== undefined);
  assert.equal(run.status, 'completed');
  assert.equal(run.cost_state, 'unavailable');
  assert.equal(run.cost, undefined);
  const unpriced = (await server.waitForLog(/[^\n]*msg="run cost unavailable"[^\n]*run=run-full[^\n]*/, 5000, mark))[0];
  assert.match(unpriced, /attempts=1\b/);
  assert.match(unpriced, /does not report the cost/);
  assert.equal(fake.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/v2/calls/')).length, 0,
    'no REST request to price the call');
  assert.equal(run.call_id, call.id);
  assert.equal(run.provider, 'telnyx');
  assert.equal(run.media_state, 'done');
  assert.equal(run.media_token, undefined, 'the media token is never returned');
  for (const t of ['initiated_at', 'answered_at', 'ended_at']) assert.equal(typeof run[t], 'number', t);
  assert.equal(run.ringing_at, undefined, 'Telnyx reports no ringing');
  assert.ok(run.initiated_at <= run.answered_at && run.answered_at <= run.ended_at);
  assert.deepEqual(eventRows(run), [
    ['initiate', 'initiated', 'applied'],
    ['telnyx', 'initiated', 'duplicate'],
    ['telnyx', 'answered', 'applied'],
    ['telnyx', null, 'ignored'],
    ['telnyx', null, 'ignored'],
    ['telnyx', 'completed', 'applied'],
  ]);
  assert.deepEqual(run.events.slice(1).map((e) => JSON.parse(e.raw).data.event_type), ['call.initiated',
    'call.answered', 'streaming.started', 'streaming.stopped', 'call.hangup']);
  assert.equal(run.events[5].raw, JSON.stringify(call.webhooks[4].event), 'the raw body is stored as received');
  assert.equal((await globex.run('run-full')).status, 404, 'another organisation does not see the run');
});

test('a busy or unanswered callee: the run ends busy or no-answer without media', async () => {
  for (const [cause, expected] of [['user_busy', 'busy'], ['no_answer', 'no-answer'], ['timeout', 'no-answer']]) {
    scenario({ outcome: cause });
    const { res, call } = await place(acme, { workflow_id: WF, phone_number: '+14155550125' });
    await call.done;
    assert.equal(call.error, undefined, call.error && call.error.stack);
    assert.deepEqual(webhookTypes(call), [['call.initiated', 200], ['call.hangup', 200]]);
    const run = await acme.waitRun(res.json.workflow_run_id, (r) => r.cost_state !== undefined);
    assert.equal(run.status, expected, cause);
    assert.equal(run.cost_state, 'unavailable');
    assert.equal(run.media_state, 'waiting');
    assert.equal(run.answered_at, undefined);
    assert.equal(typeof run.ended_at, 'number');
    assert.deepEqual(eventRows(run).slice(1), [['telnyx', 'initiated', 'duplicate'], ['telnyx', expected, 'applied']]);
    assert.equal(run.events[2].raw_status, `call.hangup:${cause}`);
    assert.equal(call.streamClose, null, 'no stream for a call never answered');
    // the run has ended: its media WebSocket is refused at the handshake
    const late = await fake.stream(call.body.stream_url).then(() => 'accepted', (e) => e.message);
    assert.match(late, /409/);
  }
});

test('duplicate, out-of-order and redelivered events never move a run backwards', async () => {
  scenario({ duplicateAnswered: true, lateInitiated: true, lateAnswered: true, redeliverHangup: true });
  const { res, call } = await place(acme, { workflow_id: WF, phone_number: '+14155550124' });
  await call.done;
  assert.equal(call.error, undefined, call.error && call.error.stack);
  const id = res.json.workflow_run_id;
  const run = await acme.waitRun(id, (r) => r.cost_state !== undefined);
  assert.equal(run.status, 'completed');
  assert.deepEqual(eventRows(run).slice(1), [
    ['telnyx', 'answered', 'applied'],
    ['telnyx', 'answered', 'duplicate'],
    ['telnyx', 'initiated', 'stale'],
    ['telnyx', null, 'ignored'],
    ['telnyx', null, 'ignored'],
    ['telnyx', 'completed', 'applied'],
    ['telnyx', 'answered', 'final'],
  ]);
  // Telnyx redelivering an event it already delivered (same id): a replay, refused and not stored.
  const hangups = call.webhooks.filter((w) => w.type === 'call.hangup');
  assert.equal(hangups.length, 2);
  assert.equal(hangups[0].id, hangups[1].id);
  assert.deepEqual([hangups[0].status, hangups[1].status], [200, 403]);
  assert.ok(run.answered_at <= run.ended_at);
  const again = (await acme.run(id)).json;
  assert.equal(again.status, 'completed');
  assert.equal(again.ended_at, run.ended_at, 'the late events changed no timestamp');
  assert.equal(again.events.length, run.events.length);
});

test('a carrier error is a 502 carrying the carrier message; the run is failed', async () => {
  scenario({ createError: { status: 422, code: '10016', title: 'Invalid value for to',
    detail: 'The destination number +14155550199 is not a valid phone number.' } });
  const before = fake.calls.size;
  const res = await acme.initiate({ workflow_id: WF, phone_number: '+14155550199', workflow_run_id: 'run-refused' });
  assert.equal(res.status, 502, res.body);
  assert.equal(res.json.error.code, 'carrier_error');
  assert.equal(res.json.error.message, 'telnyx: HTTP 422: Invalid value for to: The destination number ' +
    '+14155550199 is not a valid phone number. (code 10016)');
  assert.equal(res.json.workflow_run_id, 'run-refused');
  assert.equal(fake.calls.size, before);
  const run = (await acme.run('run-refused')).json;
  assert.equal(run.status, 'failed');
  assert.match(run.error, /code 10016/);
  assert.equal(run.media_state, 'done');
  assert.deepEqual(eventRows(run), [['initiate', 'failed', 'applied']]);
});

test('hostile webhooks are refused with 403 and change nothing', async () => {
  fake.play(null);
  const res = await acme.initiate({ workflow_id: WF, phone_number: '+14155550127', workflow_run_id: 'run-hostile' });
  assert.equal(res.status, 200, res.body);
  const call = await fake.nextCall();
  const url = call.body.webhook_url;
  assert.equal(url, `${server.url}/api/v1/telephony/events/run-hostile`);
  const hangup = fake.event('call.hangup', { hangup_cause: 'normal_clearing' }, call.id);
  const body = JSON.stringify(hangup);
  const now = Math.floor(Date.now() / 1000);
  const otherKey = crypto.generateKeyPairSync('ed25519').privateKey;
  const refused = {
    unsigned: [{ headers: { 'telnyx-signature-ed25519': undefined, 'telnyx-timestamp': undefined } },
      'missing telnyx-signature-ed25519 header'],
    'no timestamp': [{ headers: { 'telnyx-timestamp': undefined } }, 'missing telnyx-timestamp header'],
    'wrong key': [{ key: otherKey }, 'bad signature'],
    'tampered body': [{ body: body.replace('normal_clearing', 'user_busy') }, 'bad signature'],
    'timestamp changed after signing': [{ timestamp: now, headers: { 'telnyx-timestamp': String(now + 1) } },
      'bad signature'],
    'garbage signature': [{ headers: { 'telnyx-signature-ed25519': 'not base64 at all!' } }, 'malformed signature'],
    // well outside the 300 s window (its edges: telnyx_provider.test.js), so a clock tick cannot matter
    'stale timestamp': [{ timestamp: now - 400 }, 'stale timestamp'],
    'future timestamp': [{ timestamp: now + 400 }, 'stale timestamp'],
  };
  for (const [why, [opts, reason]] of Object.entries(refused)) {
    const mark = server.log.length;
    const r = await fake.postWebhook(url, body, opts);
    assert.equal(r.status, 403, `${why}: ${r.body}`);
    assert.equal(r.json.error.code, 'forbidden', why);
    const line = (await server.waitForLog(/[^\n]*msg="carrier request refused"[^\n]*/, 5000, mark))[0];
    assert.ok(line.includes('run=run-hostile') && line.includes(reason), `${why}: ${line}`);
  }
  const oversized = JSON.stringify({ ...hangup, pad: 'x'.repeat(2 * 1024 * 1024) });
  assert.equal((await fake.postWebhook(url, oversized)).status, 413);
  assert.equal((await fake.postWebhook(url, '{"data":{"event_type":')).status, 400, 'signed, but not JSON');
  let run = (await acme.run('run-hostile')).json;
  assert.equal(run.status, 'initiated');
  assert.deepEqual(eventRows(run), [['initiate', 'initiated', 'applied']], 'refused requests leave no event');

  // A genuine event applies once; the same event again, even signed afresh, is a replay: 403.
  const answered = fake.event('call.answered', { state: 'answered' }, call.id);
  const first = await fake.postWebhook(url, answered, { timestamp: now });
  assert.equal(first.status, 200, first.body);
  assert.equal(first.json.outcome, 'applied');
  assert.equal((await fake.postWebhook(url, answered, { timestamp: now })).status, 403, 'the same request again');
  const mark = server.log.length;
  const resigned = await fake.postWebhook(url, answered, { timestamp: now + 5 });
  assert.equal(resigned.status, 403, 'the same event id under a new timestamp');
  await server.waitForLog(/msg="carrier request refused"[^\n]*reason="replayed request"/, 5000, mark);
  // Telnyx does not sign the URL: a genuine event of another call posted here is not applied.
  const foreign = await fake.postWebhook(url, fake.event('call.hangup', { hangup_cause: 'user_busy' }, 'v3:another-call'));
  assert.equal(foreign.status, 400, foreign.body);
  assert.equal(foreign.json.error.code, 'wrong_call');
  run = (await acme.run('run-hostile')).json;
  assert.equal(run.status, 'answered');
  assert.equal(run.ended_at, undefined);
  assert.deepEqual(eventRows(run), [['initiate', 'initiated', 'applied'], ['telnyx', 'answered', 'applied'],
    ['telnyx', 'busy', 'wrong_call']]);
  // the genuine hangup still applies; an event for a run that does not exist is a 404
  const ended = await fake.postWebhook(url, hangup);
  assert.equal(ended.status, 200, ended.body);
  assert.equal((await acme.run('run-hostile')).json.status, 'completed');
  const none = await fake.postWebhook(url.replace('run-hostile', 'run-none'), fake.event('call.answered', {}, call.id));
  assert.equal(none.status, 404);
});

test('the media WebSocket needs the run token from the stream URL; the run waits for the right one', async () => {
  fake.play(null);
  const res = await acme.initiate({ workflow_id: WF, phone_number: '+14155550128', workflow_run_id: 'run-media' });
  assert.equal(res.status, 200, res.body);
  const call = await fake.nextCall();
  const good = call.body.stream_url;
  const token = new URL(good).searchParams.get('token');
  const withToken = (t) => {
    const u = new URL(good);
    if (t === null) u.searchParams.delete('token');
    else u.searchParams.set('token', t);
    return u.toString();
  };
  // unknown run, wrong workflow or user in the path: refused at the handshake
  for (const bad of [good.replace('run-media', 'run-none'), good.replace(`/${WF}/`, '/wf_0000000000000000/'),
    good.replace(`/${acmeOrg.id}/`, '/org_0000000000000000/')]) {
    const status = await new Promise((resolve) => {
      const ws = new WebSocket(bad);
      ws.on('unexpected-response', (_req, r) => resolve(r.statusCode));
      ws.on('open', () => { ws.terminate(); resolve('open'); });
      ws.on('error', () => {});
    });
    assert.equal(status, 404, bad);
  }
  // A connection without the token, with a wrong one (also as a custom parameter): closed
  // before the flow starts; the run still waits.
  const attempts = [
    [withToken(null), {}],
    [withToken(null), { token: 'x'.repeat(token.length) }],
    [withToken('x'.repeat(token.length)), {}],
    [withToken(token.slice(0, -1)), {}],
    [withToken(`${token}x`), {}],
  ];
  for (const [u, customParameters] of attempts) {
    const mark = server.log.length;
    const s = await fake.stream(u, { callId: call.id, customParameters });
    s.media(Buffer.alloc(160, 0x55));
    assert.equal(await s.closed, 1008, 'closed as a policy violation');
    const line = (await server.waitForLog(/[^\n]*msg="carrier request refused"[^\n]*/, 5000, mark))[0];
    assert.match(line, /run=run-media/);
    assert.match(line, /missing or wrong media token/);
    assert.deepEqual(s.got.media, [], 'nothing is played to a refused stream');
    const run = await acme.waitRun('run-media', (r) => r.media_state === 'waiting');
    assert.equal(run.status, 'initiated');
  }
  assert.doesNotMatch(server.log, /msg="media connected"[^\n]*run=run-media/);
  // the stream URL the dial named is accepted and runs the flow
  const s = await fake.stream(good, { callId: call.id });
  await server.waitForLog(/msg="media connected"[^\n]*run=run-media/);
  await acme.waitRun('run-media', (r) => r.media_state === 'connected');
  const second = await fake.stream(good, { callId: call.id }).then(() => 'accepted', (e) => e.message);
  assert.match(second, /409/, 'one media connection per run');
  s.dtmf('#');
  assert.equal(await s.closed, 1000);
  await acme.waitRun('run-media', (r) => r.media_state === 'done');
});

test('a provider file dropped into providers/ while the server runs is offered and places calls without a restart', async () => {
  const bare = makeServiceRoot({ workflows: { test_flow: TEST_FLOW }, scripts: FAST_COST_RETRIES });
  const live = await startServer({ scriptDir: bare, args: ['--reload-debounce-ms', '50'] });
  try {
    const initechOrg = await setupOrganization(live, { name: 'Initech', workflows: { 'Test flow': 'test_flow' } });
    const initech = initechOrg.api;
    const carrier = { name: 'carrier', provider: 'telnyx', settings: fake.config() };
    const refused = await initech.post('/api/v1/telephony/configs', carrier);
    assert.equal(refused.status, 422, refused.body);
    assert.match(refused.json.error.fields.provider, /telnyx/);
    const body = { workflow_id: initechOrg.workflows['Test flow'], phone_number: '+14155550131', workflow_run_id: 'run-reload' };
    const before = await initech.initiate(body);
    assert.equal(before.status, 422, before.body);
    assert.equal(before.json.error.code, 'no_telephony_configuration');
    assert.equal((await initech.run('run-reload')).status, 404, 'no run is created without a provider');
    const mark = live.log.length;
    const file = path.join(bare, 'providers', 'telnyx.lua');
    fs.writeFileSync(`${file}.tmp~`, TELNYX);
    fs.renameSync(`${file}.tmp~`, file);
    await live.waitForLog(/msg="scripts reloaded" reason="file change"/, 5000, mark);
    const offered = await initech.get('/api/v1/telephony/providers');
    assert.ok(offered.json.some((p) => p.name === 'telnyx'), 'the new provider is offered by itself');
    const saved = await initech.post('/api/v1/telephony/configs', carrier);
    assert.equal(saved.status, 201, saved.body);
    // Left to start by itself, as Telnyx does: call.initiated may overtake the dial's answer.
    fake.play({ digits: '#', waitForServerClose: true });
    const res = await initech.initiate(body);
    assert.equal(res.status, 200, res.body);
    assert.equal(res.json.provider, 'telnyx');
    const call = await fake.nextCall();
    assert.equal(call.id, res.json.call_id);
    assert.match(call.body.stream_url, new RegExp(`^ws://127\\.0\\.0\\.1:${live.port}/api/v1/telephony/ws/${body.workflow_id}/${initechOrg.id}/run-reload\\?token=`));
    await call.done;
    assert.equal(call.error, undefined, call.error && call.error.stack);
    assert.equal(call.closedBy, 'server');
    assert.match((await live.waitForLog(/[^\n]*msg="flow finished"[^\n]*/, 5000, mark))[0],
      /(?=.*digits=#)(?=.*run=run-reload)(?=.*provider=telnyx)/);
    const run = await initech.waitRun('run-reload', (r) => r.cost_state !== undefined);
    assert.equal(run.status, 'completed');
    assert.equal(run.media_state, 'done');
    assert.deepEqual(run.events.map((e) => e.status ?? null).sort(),
      ['answered', 'completed', 'initiated', 'initiated', null, null]);
  } finally {
    await live.stop();
    fs.rmSync(bare, { recursive: true, force: true });
  }
});
