// The call-flow API over Twilio Media Streams framing, through the real binary: a fake Twilio
// (the npm `ws` client) streams mu-law audio, DTMF, marks and stop; workflows written in Lua
// answer through call:recv/play/mark/clear/send_dtmf/echo/hangup.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const WebSocket = require('ws');
const fs = require('node:fs');
const path = require('node:path');
const { startServer, SOURCE_DIR } = require('./lib/server');
const { request } = require('./lib/http');
const { twilio: twilioLeg, frame, ulawDecode, ulawToPcm } = require('./lib/twilio');
const { until } = require('./lib/wait');

const FLOWS = {
  'workflows/listen.lua': `
return { rate = 8000, run = function(call)
  local frames, bytes = 0, 0
  while true do
    local ev = assert(call:recv(5))
    if ev.type == "audio" then
      frames = frames + 1
      bytes = bytes + #ev.pcm
      assert(ev.rate == 8000)
    elseif ev.type == "dtmf" then
      -- answer with 200 ms of a 440 Hz tone, then a mark
      call:play(dialtone.codec.tone(440, 200, 8000))
      call:mark("after-tone:" .. ev.digit .. ":" .. frames .. ":" .. bytes)
    elseif ev.type == "mark" then
      call:mark("got:" .. ev.name)
    elseif ev.type == "stop" then
      return
    end
  end
end }`,
  'workflows/wide.lua': `
return { rate = 16000, run = function(call)
  local ev = assert(call:recv(5))
  while ev.type ~= "audio" do ev = assert(call:recv(5)) end
  assert(ev.rate == 16000 and #ev.pcm == 640, "16 kHz frames of 320 samples, got " .. #ev.pcm)
  call:play(dialtone.codec.tone(1000, 100, 16000))
  call:mark("wide-done")
  while true do
    ev = assert(call:recv(5))
    if ev.type == "mark" then call:hangup() return end
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
  call:send_dtmf("12")
  call:mark("dtmf-sent")
  repeat ev = assert(call:recv(5)) until ev.type == "mark"
  call:hangup()
end }`,
  'workflows/ident.lua': `
return { run = function(call)
  call:mark(table.concat({ call.call_id, call.stream_id, call.params.token, tostring(call.params.other) }, ","))
  call:hangup()
end }`,
  'workflows/broken.lua': `
return { run = function(call)
  local ev = call:recv(5)
  error("flow failed on purpose")
end }`,
  'workflows/record.lua': `
return { rate = 8000, run = function(call)
  local refused = {}
  for _, name in ipairs({ "../x.wav", "a/b.wav", "/abs.wav", "x.txt", ".wav", "a..b.wav", "sp ace.wav", "" }) do
    local ok, err = call:record(name)
    assert(ok == nil and err:find("call:record: name must", 1, true), name)
    refused[#refused + 1] = name
  end
  dialtone.log.info("record refused", { err = select(2, call:record("../up.wav")) })
  call:mark("refused:" .. #refused)
  call:mark("recording:" .. assert(call:record("take-1.wav")))
  while true do
    local ev = assert(call:recv(5))
    if ev.type == "dtmf" then
      assert(call:record(false))
      call:mark("switched:" .. assert(call:record("take-2.wav")))
    elseif ev.type == "stop" then
      return
    end
  end
end }`,
  'media.lua': `
local flow = require("dialtone.flow")
dialtone.route.ws("/media/{workflow}", function(req) return flow.serve_twilio(req, req.params.workflow) end)`,
};

// The shipped echo workflow, as it is in the repository.
FLOWS['workflows/echo.lua'] = fs.readFileSync(path.join(SOURCE_DIR, 'scripts/workflows/echo.lua'), 'utf8');

let server;
before(async () => { server = await startServer({ scripts: FLOWS }); });
after(async () => { await server.stop(); });

const twilio = (workflow, opts) => twilioLeg(server.port, `/media/${workflow}`, opts);

test('the echo workflow sends every frame back unchanged, in C', async () => {
  const t = await twilio('echo');
  const sent = [];
  for (let k = 0; k < 25; k++) {
    sent.push(frame(k));
    t.media(frame(k));
    await new Promise((r) => setTimeout(r, 2));
  }
  await until(() => t.got.media.length === 25);
  for (let k = 0; k < 25; k++) assert.deepEqual(t.got.media[k], sent[k], `frame ${k}`);
  t.stop();
  assert.equal(await t.closed, 1000, 'the flow ends and hangs up after stop');
});

test('a Lua flow reads frames and DTMF, plays paced audio, and places marks', async () => {
  const t = await twilio('listen');
  for (let k = 0; k < 10; k++) t.media(frame(k));
  t.dtmf('7');
  await until(() => t.got.marks.some((m) => m.startsWith('got:after-tone')));
  // 200 ms of tone at 20 ms per frame, paced at real time
  assert.equal(t.got.media.length, 10);
  for (const f of t.got.media) assert.equal(f.length, 160);
  const span = t.got.mediaTimes[9] - t.got.mediaTimes[0];
  assert.ok(span >= 150 && span < 400, `10 frames paced over ${span} ms`);
  assert.equal(t.got.marks[0], 'after-tone:7:10:3200', 'ten 320-byte frames before the digit');
  t.stop();
  assert.equal(await t.closed, 1000);
});

test('a 16 kHz flow gets 320-sample frames and its audio goes out as 8 kHz mu-law', async () => {
  const t = await twilio('wide');
  for (let k = 0; k < 3; k++) t.media(frame(k));
  assert.equal(await t.closed, 1000);
  assert.equal(t.got.media.length, 5, '100 ms at 20 ms per frame');
  for (const f of t.got.media) assert.equal(f.length, 160);
  assert.deepEqual(t.got.marks, ['wide-done']);
});

test('clear drops queued audio and reports pending marks; send_dtmf plays tones', async () => {
  const t = await twilio('barge');
  assert.equal(await t.closed, 1000);
  assert.equal(t.got.clears, 1);
  assert.ok(!t.got.marks.includes('never-played'), 'a cleared mark never reaches the carrier');
  // about 200 ms of the 3 s tone went out before the clear, then 260 ms of DTMF (13 frames)
  assert.ok(t.got.media.length >= 20 && t.got.media.length <= 30, `${t.got.media.length} frames`);
  assert.deepEqual(t.got.marks, ['dtmf-sent']);
});

test('the flow starts after the carrier\'s start message and sees the call id and custom parameters', async () => {
  const t = await twilio('ident', { params: { token: 't-1' } });
  assert.equal(await t.closed, 1000);
  assert.deepEqual(t.got.marks, ['CA1,MZ123,t-1,nil']);
});

test('a flow that fails is logged and its call hung up; the server keeps serving', async () => {
  const from = server.log.length;
  const t = await twilio('broken');
  t.media(frame(1));
  assert.equal(await t.closed, 1000);
  await server.waitForLog(/msg="websocket handler error".*broken\.lua:4: flow failed on purpose/, 3000, from);
  assert.equal((await request(`${server.url}/healthz`)).status, 200);
});

test('a binary frame breaks the Twilio protocol and ends the call', async () => {
  const t = await twilio('listen');
  t.ws.send(Buffer.from([1, 2, 3]));
  assert.equal(await t.closed, 1000);
  assert.match(server.log, /message breaks the carrier protocol/);
});

/** Checks a PCM16 mono WAV header and returns its samples. */
function readWav(file, rate) {
  const b = fs.readFileSync(file);
  assert.equal(b.toString('latin1', 0, 4), 'RIFF');
  assert.equal(b.readUInt32LE(4), b.length - 8, 'RIFF size patched');
  assert.equal(b.toString('latin1', 8, 16), 'WAVEfmt ');
  assert.deepEqual([b.readUInt32LE(16), b.readUInt16LE(20), b.readUInt16LE(22), b.readUInt32LE(24),
    b.readUInt32LE(28), b.readUInt16LE(32), b.readUInt16LE(34)], [16, 1, 1, rate, rate * 2, 2, 16], 'PCM16 mono');
  assert.equal(b.toString('latin1', 36, 40), 'data');
  assert.equal(b.readUInt32LE(40), b.length - 44, 'data size patched');
  return b.subarray(44);
}

test('call:record writes the caller\'s audio to a WAV file under the data directory', async () => {
  assert.equal(ulawDecode(0x00), -32124);
  assert.equal(ulawDecode(0x80), 32124);
  assert.equal(ulawDecode(0xef), 132);
  const t = await twilio('record');
  await until(() => t.got.marks.some((m) => m.startsWith('recording:')));
  assert.equal(t.got.marks[0], 'refused:8');
  assert.match(server.log, /msg="record refused".*err="call:record: name must be \[A-Za-z0-9_.-\]\+ ending in .wav/);
  assert.equal(t.got.marks[1], 'recording:recordings/take-1.wav');
  const first = [];
  for (let k = 0; k < 25; k++) {
    first.push(frame(k));
    t.media(frame(k));
  }
  t.dtmf('#');
  await until(() => t.got.marks.some((m) => m.startsWith('switched:')));
  assert.equal(t.got.marks[2], 'switched:recordings/take-2.wav');
  const second = [];
  for (let k = 0; k < 5; k++) {
    second.push(frame(100 + k));
    t.media(frame(100 + k));
  }
  t.stop();
  assert.equal(await t.closed, 1000);
  const dir = path.join(server.dataDir, 'recordings');
  // stopped by call:record(false), then by the end of the call
  assert.deepEqual(readWav(path.join(dir, 'take-1.wav'), 8000), Buffer.concat(first.map(ulawToPcm)));
  assert.deepEqual(readWav(path.join(dir, 'take-2.wav'), 8000), Buffer.concat(second.map(ulawToPcm)));
  assert.deepEqual(fs.readdirSync(dir).sort(), ['take-1.wav', 'take-2.wav']);
});

test('an unknown workflow is refused before the upgrade', async () => {
  const r = await new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/media/nope`);
    ws.on('unexpected-response', (req, res) => resolve(res.statusCode));
    ws.on('error', () => {});
  });
  assert.equal(r, 404);
});
