// The call-flow API over the Vonage WebSocket protocol (spec/vonage.md §6), through the real
// binary: a fake Vonage (the npm `ws` client) sends websocket:connected with NCCO headers, raw
// 16 kHz L16 binary frames, DTMF, and answers notify and clear; workflows written in Lua answer.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const WebSocket = require('ws');
const { startServer } = require('./lib/server');
const { until } = require('./lib/wait');

const FLOWS = {
  'workflows/ident.lua': `
return { rate = 16000, run = function(call)
  call:mark(table.concat({ call.params.token, call.params.session, tostring(call.params.n),
    "[" .. call.call_id .. "]", "[" .. call.stream_id .. "]", call.rate }, ","))
  local ev = assert(call:recv(5))
  call:mark("got:" .. ev.type .. ":" .. tostring(ev.name))
  call:hangup()
end }`,
  'workflows/echo.lua': `
return { rate = 16000, run = function(call) call:echo() end }`,
  'workflows/listen.lua': `
return { rate = 16000, run = function(call)
  local frames, bytes = 0, 0
  while true do
    local ev = call:recv(5)
    if not ev or ev.type == "stop" then
      dialtone.log.info("listen saw the end", { frames = frames, bytes = bytes, how = ev and ev.type or "ended" })
      return
    elseif ev.type == "audio" then
      assert(ev.rate == 16000)
      frames, bytes = frames + 1, bytes + #ev.pcm
    elseif ev.type == "dtmf" then
      call:play(dialtone.codec.tone(440, 200, 16000))
      call:mark("after-tone:" .. ev.digit .. ":" .. frames .. ":" .. bytes)
    elseif ev.type == "mark" and not ev.name:find("^got:") then
      call:mark("got:" .. ev.name)
    end
  end
end }`,
  'workflows/barge.lua': `
return { rate = 16000, run = function(call)
  call:play(dialtone.codec.tone(300, 3000, 16000))
  call:mark("never-played")
  dialtone.time.sleep(0.2)
  call:clear()
  local ev = assert(call:recv(2))
  assert(ev.type == "mark" and ev.name == "never-played", "a cleared mark is reported")
  call:mark("after-clear")
  repeat ev = assert(call:recv(5)) until ev.type == "mark"
  call:hangup()
end }`,
  'workflows/narrow.lua': `
return { rate = 8000, run = function(call)
  while true do
    local ev = call:recv(5)
    if not ev or ev.type == "stop" then return end
    if ev.type == "audio" then
      assert(ev.rate == 8000 and #ev.pcm == 320, "8 kHz frames of 160 samples, got " .. #ev.pcm)
      call:play(ev.pcm)
    end
  end
end }`,
  'vonage.lua': `
local flow = require("dialtone.flow")
dialtone.route.ws("/vonage/{workflow}", function(req)
  local wf = assert(flow.load(req.params.workflow))
  local call, err = dialtone.media.accept(req, { protocol = "vonage", rate = wf.rate, start_timeout = 2 })
  if not call then
    dialtone.log.info("vonage accept failed", { err = err })
    return nil
  end
  local ok, failure = pcall(wf.run, call)
  call:hangup()
  if not ok then error(failure, 0) end
end)`,
};

let server;
before(async () => { server = await startServer({ scripts: FLOWS }); });
after(async () => { await server.stop(); });

const CONTENT_TYPE = 'audio/l16;rate=16000';

/** A fake Vonage leg: connects, sends websocket:connected (unless connect is false), records what comes back. */
async function vonage(workflow, { contentType = CONTENT_TYPE, headers = { token: 't-1' }, connect = true, answer = true } = {}) {
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/vonage/${workflow}`);
  const got = { audio: [], audioTimes: [], notifies: [], clears: 0, other: [] };
  ws.on('message', (data, isBinary) => {
    if (isBinary) {
      got.audio.push(Buffer.from(data));
      got.audioTimes.push(Date.now());
      return;
    }
    const msg = JSON.parse(data.toString());
    if (msg.action === 'notify') {
      got.notifies.push(msg.payload.mark);
      assert.deepEqual(Object.keys(msg.payload), ['mark']);
      if (answer) ws.send(JSON.stringify({ event: 'websocket:notify', payload: msg.payload }));
    } else if (msg.action === 'clear') {
      assert.deepEqual(msg, { action: 'clear' });
      got.clears++;
      ws.send(JSON.stringify({ event: 'websocket:cleared' }));
    } else {
      got.other.push(msg);
    }
  });
  const closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
  await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
  if (connect) ws.send(JSON.stringify({ event: 'websocket:connected', 'content-type': contentType, ...headers }));
  return {
    ws, got, closed,
    audio: (buf) => ws.send(buf, { binary: true }),
    dtmf: (digit) => ws.send(JSON.stringify({ event: 'websocket:dtmf', digit, duration: 260 })),
  };
}

/** 20 ms of a sine at 16 kHz as L16 little-endian, continuing phase from frame k. */
function sine(freq, k, amp = 8000, samples = 320) {
  const b = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) b.writeInt16LE(Math.round(amp * Math.sin(2 * Math.PI * freq * (k * samples + i) / 16000)), 2 * i);
  return b;
}

const samples = (buf) => Array.from({ length: buf.length / 2 }, (_, i) => buf.readInt16LE(2 * i));
const rms = (xs) => Math.sqrt(xs.reduce((s, x) => s + x * x, 0) / xs.length);
const crossings = (xs) => xs.slice(1).filter((x, i) => (x >= 0) !== (xs[i] >= 0)).length;

test('websocket:connected starts the call: headers become params; a mark goes out as notify and comes back', async () => {
  const t = await vonage('ident', { headers: { token: 't-1', session: 's-42', n: 5 } });
  assert.equal(await t.closed, 1000);
  assert.deepEqual(t.got.notifies, ['t-1,s-42,nil,[],[],16000', 'got:mark:t-1,s-42,nil,[],[],16000']);
});

test('echo: L16 frames come back unchanged as 640-byte binary frames; a short frame is padded', async () => {
  const t = await vonage('echo');
  const sent = [];
  for (let k = 0; k < 20; k++) {
    sent.push(sine(700, k));
    t.audio(sent[k]);
    await new Promise((r) => setTimeout(r, 2));
  }
  const short = sine(700, 20, 8000, 50);
  t.audio(short);
  await until(() => t.got.audio.length === 21);
  for (let k = 0; k < 20; k++) assert.deepEqual(t.got.audio[k], sent[k], `frame ${k}`);
  assert.equal(t.got.audio[20].length, 640);
  assert.deepEqual(t.got.audio[20], Buffer.concat([short, Buffer.alloc(540)]), 'padded with silence');
  t.ws.close(1000);
  assert.equal(await t.closed, 1000);
});

test('frames and DTMF reach a Lua flow; its audio is paced out in 640-byte frames; notify round-trips; the socket closing ends the stream', async () => {
  const from = server.log.length;
  const t = await vonage('listen');
  for (let k = 0; k < 10; k++) t.audio(sine(500, k));
  t.audio(sine(500, 10, 8000, 100));
  t.dtmf('7');
  await until(() => t.got.notifies.some((m) => m.startsWith('got:after-tone')));
  assert.equal(t.got.notifies[0], 'after-tone:7:11:6600', 'ten 640-byte frames and a 200-byte one before the digit');
  assert.equal(t.got.audio.length, 10, '200 ms of tone at 20 ms per frame');
  for (const f of t.got.audio) assert.equal(f.length, 640);
  const span = t.got.audioTimes[9] - t.got.audioTimes[0];
  assert.ok(span >= 150 && span < 400, `10 frames paced over ${span} ms`);
  assert.ok(Math.abs(crossings(samples(t.got.audio[5])) - 17.6) <= 2, '440 Hz: 8.8 cycles (17.6 zero crossings) per 20 ms');
  t.ws.close(1000);
  await server.waitForLog(/msg="listen saw the end" .*how=stop/, 3000, from);
});

test('clear drops queued audio: {"action":"clear"} goes out and the pending mark is reported', async () => {
  const t = await vonage('barge');
  assert.equal(await t.closed, 1000);
  assert.equal(t.got.clears, 1);
  assert.deepEqual(t.got.notifies, ['after-clear'], 'a cleared mark never reaches the carrier');
  assert.ok(t.got.audio.length >= 5 && t.got.audio.length <= 20, `${t.got.audio.length} frames before the clear`);
});

test('an 8 kHz flow on the 16 kHz wire: frames are resampled both ways', async () => {
  const t = await vonage('narrow');
  for (let k = 0; k < 15; k++) t.audio(sine(1000, k));
  for (let k = 15; k < 30; k++) t.audio(sine(6000, k));
  await until(() => t.got.audio.length >= 30, 5000);
  for (const f of t.got.audio) assert.equal(f.length, 640);
  // 1 kHz is under the 4 kHz of the 8 kHz flow: it comes back, at 1 kHz; 6 kHz cannot pass.
  const low = samples(Buffer.concat(t.got.audio.slice(3, 13)));
  const high = samples(Buffer.concat(t.got.audio.slice(18, 28)));
  assert.ok(rms(low) > 4500, `1 kHz comes back (rms ${rms(low)})`);
  assert.ok(Math.abs(crossings(low) - 400) <= 4, `1 kHz: ${crossings(low)} zero crossings in 200 ms`);
  assert.ok(rms(high) < 300, `6 kHz is filtered out (rms ${rms(high)})`);
  t.ws.close(1000);
  assert.equal(await t.closed, 1000);
});

for (const [what, setup] of [
  ['a binary frame before websocket:connected', async () => { const t = await vonage('listen', { connect: false }); t.audio(sine(500, 0)); return t; }],
  ['a frame of an odd length', async () => { const t = await vonage('listen'); t.audio(Buffer.alloc(321)); return t; }],
  ['a frame over 640 bytes', async () => { const t = await vonage('listen'); t.audio(Buffer.alloc(642)); return t; }],
  ['another content-type', async () => vonage('listen', { contentType: 'audio/l16;rate=8000' })],
  ['a header value too long to keep', async () => vonage('listen', { headers: { token: 'x'.repeat(200) } })],
]) {
  test(`${what} breaks the protocol and ends the call`, async () => {
    const from = server.log.length;
    const t = await setup();
    assert.equal(await t.closed, 1000);
    await server.waitForLog(/message breaks the carrier protocol.*carrier=vonage/, 3000, from);
  });
}

test('a refused start leaves accept with nil and why', async () => {
  const from = server.log.length;
  const t = await vonage('listen', { contentType: 'audio/pcmu' });
  assert.equal(await t.closed, 1000);
  await server.waitForLog(/msg="vonage accept failed".* err="the media stream ended before it started"/, 3000, from);
});
