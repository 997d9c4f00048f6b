// A fake Twilio Media Streams leg for the call-flow tests, and small helpers around it.
'use strict';
const assert = require('node:assert/strict');
const WebSocket = require('ws');

/** Connects to ws://127.0.0.1:port/path, sends connected + start, records what the server sends. */
async function twilio(port, path, { echoMarks = true, params = {} } = {}) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
  const got = { media: [], marks: [], clears: 0, other: [], mediaTimes: [] };
  ws.on('message', (data, isBinary) => {
    assert.equal(isBinary, false, 'Twilio framing is JSON text');
    const msg = JSON.parse(data.toString());
    assert.equal(msg.streamSid, 'MZ123');
    if (msg.event === 'media') {
      got.media.push(Buffer.from(msg.media.payload, 'base64'));
      got.mediaTimes.push(Date.now());
    } else if (msg.event === 'mark') {
      got.marks.push(msg.mark.name);
      if (echoMarks) ws.send(JSON.stringify({ event: 'mark', streamSid: 'MZ123', mark: { name: msg.mark.name } }));
    } else if (msg.event === 'clear') {
      got.clears++;
    } else {
      got.other.push(msg);
    }
  });
  const closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
  await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
  ws.send(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
  ws.send(JSON.stringify({ event: 'start', sequenceNumber: '1', streamSid: 'MZ123',
    start: { streamSid: 'MZ123', accountSid: 'AC1', callSid: 'CA1', tracks: ['inbound'], customParameters: params,
      mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 } } }));
  let seq = 2;
  const send = (event, body) => ws.send(JSON.stringify({ event, sequenceNumber: String(seq++), streamSid: 'MZ123', ...body }));
  return {
    ws, got, closed,
    media: (payload) => send('media', { media: { track: 'inbound', chunk: '1', timestamp: '0', payload: payload.toString('base64') } }),
    dtmf: (digit) => send('dtmf', { dtmf: { track: 'inbound_track', digit } }),
    stop: () => send('stop', { stop: { accountSid: 'AC1', callSid: 'CA1' } }),
  };
}


// mu-law codes whose decode/encode round trip is exact (0x7f, the second zero, is not).
const frame = (k) => Buffer.from(Array.from({ length: 160 }, (_, i) => (i * 7 + k) % 256 === 0x7f ? 0x7e : (i * 7 + k) % 256));

/** G.711 mu-law decode (exact), from the formula in spec/g711.md §3. */
function ulawDecode(code) {
  const u = ~code & 0xff;
  const exp = (u >> 4) & 0x07;
  const mag = (((u & 0x0f) << 3) + 0x84) << exp;
  return (u & 0x80) ? 0x84 - mag : mag - 0x84;
}

/** A mu-law frame as 16-bit little-endian PCM. */
function ulawToPcm(buf) {
  const out = Buffer.alloc(buf.length * 2);
  for (let i = 0; i < buf.length; i++) out.writeInt16LE(ulawDecode(buf[i]), 2 * i);
  return out;
}

module.exports = { twilio, frame, ulawDecode, ulawToPcm };
