// A fake Twilio on 127.0.0.1 that places calls the way Twilio does (spec/twilio.md), over real
// HTTP and WebSocket, for end-to-end tests of the telephony API:
//
//   const fake = await startFakeTwilio({ sid, token, numbers }); // fake.url = REST base URL
//   fake.scenario = { ... }                                     // how the next calls go (below)
//   const call = await fake.nextCall();                         // a call the server placed
//   await call.done;                                            // its whole script has run
//   await fake.close();
//
// REST: POST /2010-04-01/Accounts/{sid}/Calls.json (Basic auth checked, form body recorded),
// GET .../Calls/{CallSid}.json (status, duration, price once priced), GET .../IncomingPhoneNumbers.json
// (fake.numbers, `PageSize` per page, default 2, linked by next_page_uri; fake.numbersError
// {status, code, message} refuses it).
// Each created call then runs its script: signed status callbacks ("initiated", "ringing"),
// a signed POST of the voice Url for the TwiML, "answered", the Media Stream the TwiML names
// (connected, start with the <Parameter>s, `frames` mu-law frames, `digits` DTMF), then "stop",
// close and "completed", and the price appears `priceDelayMs` later. Signatures are made with
// the official `twilio` package. A scenario can also end the call "busy" before it is answered,
// deliver callbacks out of order, and repeat one.
'use strict';
const http = require('node:http');
const crypto = require('node:crypto');
const WebSocket = require('ws');
const twilio = require('twilio');
const { request } = require('./http');
const { CallQueue } = require('./call_queue');

const DEFAULT_SCENARIO = {
  outcome: 'completed',      // or 'busy' / 'no-answer' / 'failed' (ends before answering)
  frames: 10,                // mu-law frames of 20 ms the caller sends
  frameIntervalMs: 5,
  digits: '',                // DTMF sent after the frames
  holdMs: 200,               // time on the stream after the digits before Twilio stops it
  waitForServerClose: false, // keep the stream open until the server closes it
  lateRinging: false,        // send "ringing" again after "completed" (out of order)
  duplicateAnswered: false,  // send "answered" twice
  priceDelayMs: 300,         // the call is priced this long after it ends (null: never)
  price: '-0.01300',
  createError: null,         // {status, code, message}: refuse the create request
  silent: false,             // accept the call and do nothing more (the test plays the carrier)
};

const sidOf = (prefix) => prefix + crypto.randomBytes(16).toString('hex');

function readBody(req) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString()));
  });
}

/** The form body as an object of arrays (repeated keys kept). */
function parseForm(text) {
  const out = {};
  for (const [k, v] of new URLSearchParams(text)) (out[k] = out[k] || []).push(v);
  return out;
}

/** POSTs a form signed like Twilio; resolves {status, body}. */
async function postSigned(url, token, params) {
  const signature = twilio.getExpectedTwilioSignature(token, url, params);
  const res = await request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
    body: new URLSearchParams(params).toString(),
  });
  return { status: res.status, body: res.body, contentType: res.headers['content-type'] };
}

const unescapeXml = (s) => s.replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&lt;/g, '<')
  .replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** The <Stream url> and its <Parameter>s from a <Connect><Stream> TwiML document. */
function parseTwiml(xml) {
  const stream = xml.match(/<Connect><Stream url="([^"]*)"/);
  if (!stream) throw new Error(`TwiML without <Connect><Stream>: ${xml}`);
  const params = {};
  for (const m of xml.matchAll(/<Parameter name="([^"]*)" value="([^"]*)"\/>/g)) params[unescapeXml(m[1])] = unescapeXml(m[2]);
  return { url: unescapeXml(stream[1]), params };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// a timer that does not keep the test process alive once everything else is done
const unrefSleep = (ms) => new Promise((r) => setTimeout(r, ms).unref());
const SERVER_CLOSE_WAIT_MS = 10000;

class FakeCall {
  constructor(fake, form) {
    this.fake = fake;
    this.form = form;
    this.sid = sidOf('CA');
    this.status = 'queued';
    this.duration = null;
    this.price = null;
    this.callbacks = [];      // {event, status, response}
    this.twiml = null;
    this.received = { media: [], marks: [], clears: 0 };
    this.streamClose = null;
    this.seq = 0;
  }

  resource() {
    return {
      sid: this.sid, account_sid: this.fake.sid, to: this.form.To[0], from: this.form.From[0],
      status: this.status, direction: 'outbound-api', duration: this.duration,
      price: this.price, price_unit: this.price === null ? null : 'USD', api_version: '2010-04-01',
    };
  }

  baseParams(callStatus) {
    return { CallSid: this.sid, AccountSid: this.fake.sid, From: this.form.From[0], To: this.form.To[0],
      CallStatus: callStatus, ApiVersion: '2010-04-01', Direction: 'outbound-api' };
  }

  async callback(event, callStatus, extra = {}) {
    const url = this.form.StatusCallback[0];
    const params = { ...this.baseParams(callStatus), CallbackSource: 'call-progress-events',
      SequenceNumber: String(this.seq++), Timestamp: new Date().toUTCString(), ...extra };
    const response = await postSigned(url, this.fake.token, params);
    this.callbacks.push({ event, status: callStatus, response, params, url });
    return response;
  }

  async stream(s) {
    const ws = new WebSocket(this.twiml.url);
    const streamSid = sidOf('MZ');
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString());
      if (msg.event === 'media') this.received.media.push(Buffer.from(msg.media.payload, 'base64'));
      else if (msg.event === 'mark') {
        this.received.marks.push(msg.mark.name);
        ws.send(JSON.stringify({ event: 'mark', streamSid, mark: { name: msg.mark.name } }));
      } else if (msg.event === 'clear') this.received.clears++;
    });
    const closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
    const opened = await new Promise((resolve) => { ws.on('open', () => resolve(true)); ws.on('error', () => resolve(false)); });
    if (!opened) { this.streamClose = 'refused'; return; }
    let seq = 1;
    const send = (event, body) => ws.send(JSON.stringify({ event, sequenceNumber: String(seq++), streamSid, ...body }));
    ws.send(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
    send('start', { start: { streamSid, accountSid: this.fake.sid, callSid: this.sid, tracks: ['inbound'],
      customParameters: this.twiml.params, mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 } } });
    for (let i = 0; i < s.frames; i++) {
      const payload = Buffer.alloc(160, 0x10 + (i % 64));
      send('media', { media: { track: 'inbound', chunk: String(i + 1), timestamp: String(i * 20), payload: payload.toString('base64') } });
      await sleep(s.frameIntervalMs);
    }
    for (const digit of s.digits) {
      send('dtmf', { dtmf: { track: 'inbound_track', digit } });
      await sleep(20);
    }
    if (s.waitForServerClose) {
      this.streamClose = await Promise.race([closed, unrefSleep(SERVER_CLOSE_WAIT_MS).then(() => {
        throw new Error(`fake twilio: the server kept the media stream open ${SERVER_CLOSE_WAIT_MS} ms`);
      })]);
      return;
    }
    await sleep(s.holdMs);
    if (ws.readyState === WebSocket.OPEN) {
      send('stop', { stop: { accountSid: this.fake.sid, callSid: this.sid } });
      ws.close(1000);
    }
    this.streamClose = await closed;
  }

  async run(s) {
    if (s.silent) return;
    await sleep(10);
    await this.callback('initiated', 'initiated');
    this.status = 'ringing';
    await this.callback('ringing', 'ringing');
    if (s.outcome !== 'completed') {
      this.status = s.outcome;
      await this.callback('completed', s.outcome, { CallDuration: '0', Duration: '0' });
      return this.price_later(s);
    }
    this.status = 'in-progress';
    const voice = await postSigned(this.form.Url[0], this.fake.token, this.baseParams('in-progress'));
    this.voiceResponse = voice;
    if (voice.status !== 200) throw new Error(`voice Url answered ${voice.status}: ${voice.body}`);
    this.twiml = parseTwiml(voice.body);
    await this.callback('answered', 'in-progress');
    if (s.duplicateAnswered) await this.callback('answered', 'in-progress');
    const started = Date.now();
    await this.stream(s);
    this.status = 'completed';
    this.duration = String(Math.max(1, Math.round((Date.now() - started) / 1000)));
    await this.callback('completed', 'completed', { CallDuration: this.duration, Duration: '1' });
    if (s.lateRinging) await this.callback('ringing', 'ringing');
    return this.price_later(s);
  }

  price_later(s) {
    if (s.priceDelayMs !== null) setTimeout(() => { this.price = s.price; }, s.priceDelayMs);
  }
}

/** One page of IncomingPhoneNumbers.json for the request URL (Page, PageSize as Twilio pages). */
function numbersPage(fake, base, reqUrl) {
  const q = new URL(reqUrl, 'http://fake').searchParams;
  const size = Number(q.get('PageSize') || 2);
  const page = Number(q.get('Page') || 0);
  const slice = fake.numbers.slice(page * size, (page + 1) * size);
  const more = (page + 1) * size < fake.numbers.length;
  return {
    incoming_phone_numbers: slice.map((n) => ({ sid: sidOf('PN'), account_sid: fake.sid, phone_number: n })),
    page, page_size: size,
    next_page_uri: more ? `${base}/IncomingPhoneNumbers.json?Page=${page + 1}&PageSize=${size}` : null,
  };
}

async function startFakeTwilio({ sid, token, numbers = ['+14155550100'] }) {
  const fake = { sid, token, numbers, numbersError: null, calls: [], requests: [], scenario: { ...DEFAULT_SCENARIO } };
  const placed = new CallQueue('twilio');
  const base = `/2010-04-01/Accounts/${sid}`;
  const expectedAuth = 'Basic ' + Buffer.from(`${sid}:${token}`).toString('base64');
  const json = (res, status, value) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(value));
  };
  const server = http.createServer(async (req, res) => {
    const body = await readBody(req);
    fake.requests.push({ method: req.method, url: req.url, body });
    if (req.headers.authorization !== expectedAuth) {
      return json(res, 401, { code: 20003, message: 'Authenticate', more_info: 'https://www.twilio.com/docs/errors/20003', status: 401 });
    }
    if (req.method === 'POST' && req.url === `${base}/Calls.json`) {
      const s = fake.scenario;
      if (s.createError) return json(res, s.createError.status, { code: s.createError.code, message: s.createError.message, status: s.createError.status });
      const form = parseForm(body);
      const call = new FakeCall(fake, form);
      fake.calls.push(call);
      call.done = call.run({ ...s });
      call.done.catch((e) => { call.error = e; });
      placed.push(call);
      return json(res, 201, call.resource());
    }
    if (req.method === 'GET' && new URL(req.url, 'http://fake').pathname === `${base}/IncomingPhoneNumbers.json`) {
      const e = fake.numbersError;
      if (e) return json(res, e.status, { code: e.code, message: e.message, status: e.status });
      return json(res, 200, numbersPage(fake, base, req.url));
    }
    const m = req.method === 'GET' && req.url.match(new RegExp(`^${base}/Calls/(CA[0-9a-f]{32})\\.json$`));
    if (m) {
      const call = fake.calls.find((c) => c.sid === m[1]);
      if (!call) return json(res, 404, { code: 20404, message: 'The requested resource was not found', status: 404 });
      return json(res, 200, call.resource());
    }
    return json(res, 404, { code: 20404, message: 'not found', status: 404 });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${server.address().port}`;
  /** The next call created (or one already created and not yet taken). */
  fake.nextCall = (timeoutMs) => placed.next(timeoutMs);
  fake.close = () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); });
  return fake;
}

module.exports = { startFakeTwilio, postSigned, parseTwiml };
