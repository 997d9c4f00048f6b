// Carrier media protocols described in Lua (dialtone.media.accept with a description table),
// through the real binary: a Telnyx-like client (spec/telnyx-plivo.md A.3) with mu-law and
// A-law, a Plivo-like one (B.4) with 16 kHz L16, and Twilio's framing written as a description.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const WebSocket = require('ws');
const { startServer } = require('./lib/server');
const { twilio, frame } = require('./lib/twilio');
const { until } = require('./lib/wait');

const PROTOCOLS = `
local telnyx = {
  name = "telnyx", encoding = "mulaw", rate = 8000, event_key = "event",
  inbound = {
    start = { event = "start", stream_id = "stream_id", call_id = "start.call_control_id",
              params = "start.custom_parameters" },
    media = { event = "media", payload = "media.payload" },
    dtmf  = { event = "dtmf", digit = "dtmf.digit" },
    mark  = { event = "mark", name = "mark.name" },
    stop  = { event = "stop" },
  },
  outbound = {
    media = { event = "media", stream_id = "$stream_id", media = { payload = "$payload" } },
    mark  = { event = "mark", mark = { name = "$name" } },
    clear = { event = "clear" },
  },
}
local telnyx_alaw = {}
for k, v in pairs(telnyx) do telnyx_alaw[k] = v end
telnyx_alaw.encoding = "alaw"
return {
  telnyx = telnyx,
  telnyx_alaw = telnyx_alaw,
  plivo = {
    name = "plivo", encoding = "l16", rate = 16000,
    inbound = {
      start = { event = "start", stream_id = "start.streamId", call_id = "start.callId" },
      media = { event = "media", payload = "media.payload" },
      dtmf  = { event = "dtmf", digit = "dtmf.digit" },
      mark  = { event = "playedStream", name = "name" },
    },
    outbound = {
      media = { event = "playAudio", media = { contentType = "audio/x-l16", sampleRate = 16000, payload = "$payload" } },
      mark  = { event = "checkpoint", streamId = "$stream_id", name = "$name" },
      clear = { event = "clearAudio", streamId = "$stream_id" },
    },
  },
  twilio = {
    name = "twilio-described", encoding = "mulaw", rate = 8000,
    inbound = {
      start = { event = "start", stream_id = "start.streamSid", call_id = "start.callSid",
                params = "start.customParameters" },
      media = { event = "media", payload = "media.payload" },
      dtmf  = { event = "dtmf", digit = "dtmf.digit" },
      mark  = { event = "mark", name = "mark.name" },
      stop  = { event = "stop" },
    },
    outbound = {
      media = { event = "media", streamSid = "$stream_id", media = { payload = "$payload" } },
      mark  = { event = "mark", streamSid = "$stream_id", mark = { name = "$name" } },
      clear = { event = "clear", streamSid = "$stream_id" },
    },
  },
}`;

const FLOWS = {
  'protocols.lua': PROTOCOLS,
  'workflows/echo.lua': 'return { rate = 8000, run = function(call) call:echo() end }',
  'workflows/echo16.lua': `
return { rate = 16000, run = function(call)
  call:mark("start:" .. call.call_id .. ":" .. call.stream_id)
  call:echo()
  dialtone.log.info("echo16 over", { ended = tostring(call.ended) })
end }`,
  'workflows/ident.lua': `
return { run = function(call)
  call:mark(table.concat({ call.call_id, call.stream_id, call.params.token, tostring(call.params.other) }, ","))
  local ev = assert(call:recv(5))
  call:mark("got:" .. ev.type .. ":" .. tostring(ev.name))
  call:hangup()
end }`,
  'workflows/first.lua': `
return { run = function(call)
  local ev = assert(call:recv(5))
  local s = {}
  for i = 1, 6 do
    local lo, hi = ev.pcm:byte(2 * i - 1, 2 * i)
    local v = lo + 256 * hi
    s[i] = v >= 32768 and v - 65536 or v
  end
  call:mark(table.concat(s, ","))
  call:hangup()
end }`,
  'workflows/listen.lua': `
return { rate = 8000, run = function(call)
  local frames, bytes = 0, 0
  while true do
    local ev = assert(call:recv(5))
    if ev.type == "audio" then
      frames, bytes = frames + 1, bytes + #ev.pcm
    elseif ev.type == "dtmf" then
      call:play(dialtone.codec.tone(440, 200, 8000))
      call:mark("after-tone:" .. ev.digit .. ":" .. frames .. ":" .. bytes)
    elseif ev.type == "mark" and not ev.name:find("^got:") then
      call:mark("got:" .. ev.name)
    elseif ev.type == "stop" then
      return
    end
  end
end }`,
  'workflows/barge.lua': `
return { run = function(call)
  call:play(dialtone.codec.tone(300, 3000, 8000))
  call:mark("never-played")
  dialtone.time.sleep(0.2)
  call:clear()
  local ev = assert(call:recv(2))
  assert(ev.type == "mark" and ev.name == "never-played", "a cleared mark is reported")
  call:mark("after-clear")
  repeat ev = assert(call:recv(5)) until ev.type == "mark"
  call:hangup()
end }`,
  'media.lua': `
local flow = require("dialtone.flow")
local protocols = require("protocols")
dialtone.route.ws("/json/{protocol}/{workflow}", function(req)
  return flow.serve(req, req.params.workflow, assert(protocols[req.params.protocol]))
end)
dialtone.route.ws("/bad", function(req)
  local p = protocols.telnyx
  local broken = { name = p.name, encoding = p.encoding, inbound = { start = p.inbound.start,
    media = { event = "media", payload = "media..payload" } }, outbound = p.outbound }
  return dialtone.media.accept(req, { protocol = broken })
end)`,
};

let server;
before(async () => { server = await startServer({ scripts: FLOWS }); });
after(async () => { await server.stop(); });

/** A Telnyx-like leg (spec A.3): connected, start with custom_parameters, then what the test sends. */
async function telnyx(protocol, workflow, { params = { token: 't-1' }, answer = true } = {}) {
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/json/${protocol}/${workflow}`);
  const got = { media: [], mediaTimes: [], marks: [], clears: 0, other: [] };
  let seq = 1;
  const send = (event, body) => ws.send(JSON.stringify({ event, sequence_number: String(seq++), stream_id: 'S-1', ...body }));
  ws.on('message', (data, isBinary) => {
    assert.equal(isBinary, false, 'JSON text framing');
    const msg = JSON.parse(data.toString());
    if (msg.event === 'media') {
      assert.equal(msg.stream_id, 'S-1', '$stream_id substituted');
      got.media.push(Buffer.from(msg.media.payload, 'base64'));
      got.mediaTimes.push(Date.now());
    } else if (msg.event === 'mark') {
      assert.deepEqual(Object.keys(msg).sort(), ['event', 'mark']);
      got.marks.push(msg.mark.name);
      if (answer) send('mark', { mark: { name: msg.mark.name } });
    } else if (msg.event === 'clear') {
      assert.deepEqual(msg, { event: 'clear' });
      got.clears++;
    } else {
      got.other.push(msg);
    }
  });
  const closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
  await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
  ws.send(JSON.stringify({ event: 'connected', version: '1.0.0' }));
  send('start', { start: { user_id: 'u-1', call_control_id: 'v3:CC-1', call_session_id: 'cs-1', from: '+15550001',
    to: '+15550002', custom_parameters: params, media_format: { encoding: 'PCMU', sample_rate: 8000, channels: 1 } } });
  return {
    ws, got, closed,
    media: (payload, k = 1) => send('media', { media: { track: 'inbound', chunk: String(k), timestamp: String(20 * k), payload: payload.toString('base64') } }),
    dtmf: (digit) => send('dtmf', { occurred_at: '2024-01-01T00:00:00Z', dtmf: { digit } }),
    stop: () => send('stop', { stop: { user_id: 'u-1', call_control_id: 'v3:CC-1' } }),
  };
}

/** G.711 A-law decode (spec/g711.md §5), written out here. */
function alawDecode(code) {
  const a = code ^ 0x55;
  let t = (a & 15) * 16;
  const seg = (a >> 4) & 7;
  if (seg === 0) t += 8;
  else if (seg === 1) t += 0x108;
  else t = (t + 0x108) * (1 << (seg - 1));
  return (a & 0x80) ? t : -t;
}

test('start: call_control_id, stream_id and custom_parameters reach the flow; marks round-trip', async () => {
  const t = await telnyx('telnyx', 'ident', { params: { token: 't-1' } });
  assert.equal(await t.closed, 1000);
  assert.deepEqual(t.got.marks, ['v3:CC-1,S-1,t-1,nil', 'got:mark:v3:CC-1,S-1,t-1,nil']);
});

test('mu-law media in and out: the echo sends every frame back unchanged; stop ends the call', async () => {
  const t = await telnyx('telnyx', 'echo');
  const sent = [];
  for (let k = 0; k < 20; k++) {
    sent.push(frame(k));
    t.media(frame(k), k);
    await new Promise((r) => setTimeout(r, 2));
  }
  await until(() => t.got.media.length === 20);
  for (let k = 0; k < 20; k++) assert.deepEqual(t.got.media[k], sent[k], `frame ${k}`);
  t.stop();
  assert.equal(await t.closed, 1000, 'the flow ends and hangs up after stop');
});

test('a Lua flow reads frames and DTMF, plays paced mu-law frames and places marks', async () => {
  const t = await telnyx('telnyx', 'listen');
  for (let k = 0; k < 10; k++) t.media(frame(k), k);
  t.dtmf('7');
  await until(() => t.got.marks.some((m) => m.startsWith('got:after-tone')));
  assert.equal(t.got.marks[0], 'after-tone:7:10:3200');
  assert.equal(t.got.media.length, 10, '200 ms of tone in 20 ms frames');
  for (const f of t.got.media) assert.equal(f.length, 160);
  const span = t.got.mediaTimes[9] - t.got.mediaTimes[0];
  assert.ok(span >= 150 && span < 400, `10 frames paced over ${span} ms`);
  t.stop();
  assert.equal(await t.closed, 1000);
});

test('clear goes out as the template says and the pending mark is reported to the flow', async () => {
  const t = await telnyx('telnyx', 'barge');
  assert.equal(await t.closed, 1000);
  assert.equal(t.got.clears, 1);
  assert.deepEqual(t.got.marks, ['after-clear'], 'a cleared mark never reaches the carrier');
  assert.ok(t.got.media.length >= 5 && t.got.media.length <= 20, `${t.got.media.length} frames before the clear`);
});

test('the A-law variant decodes A-law for the flow and echoes A-law', async () => {
  const codes = Buffer.from(Array.from({ length: 160 }, (_, i) => (i * 37 + 11) % 256));
  const t = await telnyx('telnyx_alaw', 'first');
  t.media(codes);
  assert.equal(await t.closed, 1000);
  assert.deepEqual(t.got.marks, [Array.from(codes.subarray(0, 6), alawDecode).join(',')]);
  const e = await telnyx('telnyx_alaw', 'echo');
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  e.media(all.subarray(0, 160));
  e.media(all.subarray(96, 256));
  await until(() => e.got.media.length === 2);
  assert.deepEqual(e.got.media, [all.subarray(0, 160), all.subarray(96, 256)], 'every A-law code survives the round trip');
  e.stop();
  assert.equal(await e.closed, 1000);
});

test('a Plivo-like L16 16 kHz protocol: echo, checkpoint marks, numbers in templates; closing ends the stream', async () => {
  const from = server.log.length;
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/json/plivo/echo16`);
  const got = { audio: [], marks: [], other: [] };
  ws.on('message', (data) => {
    const msg = JSON.parse(data.toString());
    if (msg.event === 'playAudio') {
      assert.equal(msg.media.contentType, 'audio/x-l16');
      assert.equal(msg.media.sampleRate, 16000);
      got.audio.push(Buffer.from(msg.media.payload, 'base64'));
    } else if (msg.event === 'checkpoint') {
      assert.equal(msg.streamId, 'MZ-9');
      got.marks.push(msg.name);
      ws.send(JSON.stringify({ event: 'playedStream', streamId: 'MZ-9', name: msg.name }));
    } else {
      got.other.push(msg);
    }
  });
  const closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
  await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
  ws.send(JSON.stringify({ event: 'start', sequenceNumber: 0, start: { callId: 'call-9', streamId: 'MZ-9', accountId: 'A',
    tracks: ['inbound'], mediaFormat: { encoding: 'audio/x-l16', sampleRate: 16000 } }, extra_headers: '{}' }));
  const sent = [];
  for (let k = 0; k < 10; k++) {
    const b = Buffer.alloc(640);
    for (let i = 0; i < 320; i++) b.writeInt16LE(((k * 320 + i) * 53) % 60000 - 30000, 2 * i);
    sent.push(b);
    ws.send(JSON.stringify({ event: 'media', sequenceNumber: k + 1, streamId: 'MZ-9',
      media: { track: 'inbound', timestamp: String(k * 20), chunk: k + 1, payload: b.toString('base64') } }));
  }
  await until(() => got.audio.length === 10);
  assert.deepEqual(got.audio, sent, 'L16 frames come back unchanged');
  assert.deepEqual(got.marks, ['start:call-9:MZ-9']);
  assert.deepEqual(got.other, []);
  ws.close(1000);
  assert.equal(await closed, 1000);
  await server.waitForLog(/msg="echo16 over".* ended=true/, 3000, from);
});

test('Twilio Media Streams written as a description works as the built-in adapter does', async () => {
  const t = await twilio(server.port, '/json/twilio/ident', { params: { token: 't-1' } });
  assert.equal(await t.closed, 1000);
  assert.deepEqual(t.got.marks, ['CA1,MZ123,t-1,nil', 'got:mark:CA1,MZ123,t-1,nil']);
  const e = await twilio(server.port, '/json/twilio/listen');
  for (let k = 0; k < 10; k++) e.media(frame(k));
  e.dtmf('3');
  await until(() => e.got.marks.some((m) => m.startsWith('got:after-tone')));
  assert.equal(e.got.marks[0], 'after-tone:3:10:3200');
  assert.equal(e.got.media.length, 10);
  e.stop();
  assert.equal(await e.closed, 1000);
});

test('a bad description is refused with an error naming the key; the server keeps serving', async () => {
  const from = server.log.length;
  const status = await new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/bad`);
    ws.on('unexpected-response', (req, res) => resolve(res.statusCode));
    ws.on('error', () => {});
  });
  assert.equal(status, 500);
  await server.waitForLog(/dialtone\.media\.accept: protocol\.inbound\.media\.payload: a dotted path/, 3000, from);
  const t = await telnyx('telnyx', 'ident');
  assert.equal(await t.closed, 1000);
});

test('a media message with a bad payload breaks the protocol and ends the call', async () => {
  const from = server.log.length;
  const t = await telnyx('telnyx', 'listen');
  t.ws.send(JSON.stringify({ event: 'media', media: { payload: 'not base64!' } }));
  assert.equal(await t.closed, 1000);
  await server.waitForLog(/message breaks the carrier protocol.*carrier=telnyx/, 3000, from);
});
