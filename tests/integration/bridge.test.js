// call:bridge through the real binary: a fake Twilio streams mu-law audio to a workflow that
// bridges the call to a tiny agent (the npm `ws` server); audio flows in C both ways.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { WebSocketServer } = require('ws');
const { startServer } = require('./lib/server');
const { twilio, frame, ulawToPcm } = require('./lib/twilio');
const { until } = require('./lib/wait');

const FLOWS = {
  'workflows/bridge.lua': `
return { rate = 8000, run = function(call)
  local result, err = call:bridge(call.params.agent, { rate = 8000, timeout = 2, headers = { ["x-token"] = "t-1" } })
  dialtone.log.info("bridge over", { result = tostring(result), err = tostring(err) })
  call:mark("bridge:" .. tostring(result))
end }`,
  'media.lua': `
local flow = require("dialtone.flow")
dialtone.route.ws("/media/{workflow}", function(req) return flow.serve_twilio(req, req.params.workflow) end)`,
};

let server;
let agent;
let agentUrl;
const agents = []; // one entry per connection: { ws, headers, start, binary: [], events: [], closed }

before(async () => {
  server = await startServer({ scripts: FLOWS });
  agent = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => agent.on('listening', resolve));
  agentUrl = `ws://127.0.0.1:${agent.address().port}/agent`;
  // The agent: echoes binary frames back after a short delay, keeps what it is sent.
  agent.on('connection', (ws, req) => {
    const a = { ws, headers: req.headers, start: null, binary: [], events: [], closeCode: null };
    a.closed = new Promise((resolve) => ws.on('close', (code) => { a.closeCode = code; resolve(code); }));
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        a.binary.push(Buffer.from(data));
        if (a.echo !== false) setTimeout(() => ws.readyState === 1 && ws.send(data), 30);
        return;
      }
      const msg = JSON.parse(data.toString());
      if (msg.event === 'start' && !a.start) a.start = msg;
      else a.events.push(msg);
    });
    agents.push(a);
  });
});
after(async () => {
  for (const a of agents) a.ws.terminate();
  await new Promise((resolve) => agent.close(resolve));
  await server.stop();
});

const leg = () => twilio(server.port, '/media/bridge', { params: { agent: agentUrl } });

test('audio goes to the agent and its audio comes back paced; DTMF, marks and clear cross', async () => {
  const n = agents.length;
  const t = await leg();
  await until(() => agents.length > n && agents[n].start);
  const a = agents[n];
  assert.deepEqual(a.start, { event: 'start', call_id: 'CA1', stream_id: 'MZ123', rate: 8000,
    encoding: 'pcm_s16le', frame_ms: 20, params: { agent: agentUrl } });
  assert.equal(a.headers['x-token'], 't-1');

  const sent = [];
  for (let k = 0; k < 10; k++) {
    sent.push(frame(k));
    t.media(frame(k));
  }
  await until(() => t.got.media.length === 10);
  assert.deepEqual(Buffer.concat(a.binary), Buffer.concat(sent.map(ulawToPcm)), 'PCM16 frames to the agent');
  for (const f of a.binary) assert.equal(f.length, 320);
  for (let k = 0; k < 10; k++) assert.deepEqual(t.got.media[k], sent[k], `echoed frame ${k}`);
  const span = t.got.mediaTimes[9] - t.got.mediaTimes[0];
  assert.ok(span >= 150 && span < 500, `10 frames paced over ${span} ms`);

  t.dtmf('5');
  await until(() => a.events.some((e) => e.event === 'dtmf'));
  assert.deepEqual(a.events.find((e) => e.event === 'dtmf'), { event: 'dtmf', digit: '5' });

  // a mark after the audio: reported to Twilio, which plays it and reports it back to the agent
  a.ws.send(JSON.stringify({ event: 'mark', name: 'm1' }));
  await until(() => a.events.some((e) => e.event === 'mark' && e.name === 'm1'));
  assert.ok(t.got.marks.includes('m1'));

  // 2 s of agent audio, then clear: Twilio is told to clear and the rest is never sent
  a.ws.send(Buffer.alloc(32000, 0x11));
  await until(() => t.got.media.length >= 13);
  a.ws.send(JSON.stringify({ event: 'clear' }));
  await until(() => t.got.clears === 1);
  const after = t.got.media.length;
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(t.got.media.length <= after + 1, `${t.got.media.length - after} frames after the clear`);

  a.ws.close(1000);
  await until(() => t.got.marks.includes('bridge:agent_closed'));
  assert.equal(await t.closed, 1000, 'the flow returns and hangs up');
  await server.waitForLog(/msg="bridge over".*result=agent_closed/);
});

test('the caller\'s stop ends the bridge: the agent gets stop and a close, the flow "call_ended"', async () => {
  const from = server.log.length;
  const n = agents.length;
  const t = await leg();
  await until(() => agents.length > n && agents[n].start);
  const a = agents[n];
  t.media(frame(1));
  await until(() => a.binary.length === 1);
  t.stop();
  assert.equal(await a.closed, 1000);
  assert.deepEqual(a.events.at(-1), { event: 'stop' });
  assert.equal(await t.closed, 1000);
  await server.waitForLog(/msg="bridge over".*result=call_ended/, 3000, from);
});

test('an agent that sends audio faster than real time is capped at 10 s of queued playback', async () => {
  const from = server.log.length;
  const n = agents.length;
  const t = await leg();
  await until(() => agents.length > n && agents[n].start);
  const a = agents[n];
  a.ws.send(Buffer.alloc(8000 * 2 * 12, 0x22)); // 12 s at once
  await server.waitForLog(/call:bridge: agent sends audio faster than real time/, 3000, from);
  a.ws.send(JSON.stringify({ event: 'hangup' }));
  assert.equal(await a.closed, 1000);
  assert.deepEqual(a.events.at(-1), { event: 'stop' });
  assert.equal(await t.closed, 1000);
  await server.waitForLog(/msg="bridge over".*result=call_ended/, 3000, from);
});

test('a bridge that cannot connect returns nil and why; the call goes on', async () => {
  const from = server.log.length;
  const t = await twilio(server.port, '/media/bridge', { params: { agent: 'ws://127.0.0.1:1/nobody' } });
  await until(() => t.got.marks.includes('bridge:nil'));
  assert.equal(await t.closed, 1000);
  await server.waitForLog(/msg="bridge over"(?=.*result=nil)(?=.*err="call:bridge: cannot connect to 127.0.0.1:1)/, 3000, from);
});
