// A fake Telnyx (spec/telnyx-plivo.md part A) on 127.0.0.1, for provider and end-to-end tests.
//
//   const { startFakeTelnyx } = require('./lib/fake_telnyx');
//   const fake = await startFakeTelnyx({ numbers: ['+14155550100'] });
//   fake.url                 'http://127.0.0.1:<random port>' — the provider's api_base_url
//   fake.config(extra)       a provider configuration for this fake: api_key, connection_id,
//                            public_key (base64 of the raw 32-byte Ed25519 key), from_numbers,
//                            api_base_url; `extra` overrides fields
//   fake.apiKey, fake.connectionId, fake.publicKey, fake.privateKey (a node KeyObject)
//   fake.requests            every REST request: {method, path, query, headers, body, json}
//   fake.calls               Map call_control_id → {id, body (the dial JSON), alive, sessionId}
//   fake.setAlive(id, bool)  what GET /v2/calls/{id} reports as is_alive
//   fake.failNext(status, errors)  the next REST request gets this status and {errors}
//   fake.close()             stops the server (and every media stream still open)
//
// REST: Bearer auth (401 otherwise); POST /v2/calls checks the body (connection_id, to, from,
// stream_url) and answers 200 {data: {call_control_id: 'v3:…', …, is_alive: false}}; a `to` of
// '+1555' is refused with 422 and a Telnyx error object; GET /v2/calls/{id} → {data: {is_alive,
// …}} or 404; GET /v2/phone_numbers honours page[number] and page[size] and reports
// meta.total_pages.
//
// Webhooks, signed as Telnyx signs them (Ed25519 over `<timestamp>|<raw body>`):
//   fake.event(type, payload, callId)   the JSON envelope {data: {event_type, id, occurred_at,
//                                       payload}, meta}; payload gets call_control_id = callId
//   fake.sign(body, {timestamp, key})   → headers {telnyx-signature-ed25519, telnyx-timestamp};
//                                       timestamp (Unix s) defaults to now, key to the fake's own
//   fake.postWebhook(url, event, opts)  POSTs JSON.stringify(event) (or a string body as is)
//                                       with those headers (opts.headers override, opts.body
//                                       replaces the body after signing: tampering) → {status, body, json}
//
// Media, playing Telnyx as the WebSocket client (spec A.3):
//   const s = await fake.stream(url, {callId, customParameters, echoMarks = true})
//     connects to url (ws://…, e.g. the dial's stream_url), sends `connected` and `start`
//     (stream_id, start.call_control_id, custom_parameters, media_format PCMU 8000)
//   s.media(buf)     one `media` frame (mu-law bytes, base64; sequence/chunk/timestamp advance)
//   s.dtmf(digit)    a `dtmf` message;  s.stop()  a `stop` message;  s.close()
//   s.got            what the server sent: {media: [Buffer], marks: [name], clears: n, other: [msg]}
//                    (other also holds {binary} frames and {malformed} text, which Telnyx would refuse)
//                    (each mark is echoed back as Telnyx does once played, unless echoMarks is false)
//   s.closed         resolves with the close code;  s.streamId
//   (opts.from / opts.to set start.from / start.to)
//
// Calls that play out as Telnyx plays them, for end-to-end tests of the telephony API:
//   fake.play(scenario)      how the next dialled calls go (fields and defaults: SCENARIO below);
//                            fake.play(null), the default, leaves a dialled call silent: the test
//                            plays the carrier itself
//   const call = await fake.nextCall()   the next call dialled (or one dialled and not yet taken)
//   call.release()           lets its script start (it also starts by itself `autoStartMs` after
//                            the dial, unless that is null: then the test releases it once the
//                            initiate request has answered, so no event can overtake the dial)
//   await call.done          the whole script has run; call.error holds what went wrong (a stream
//                            refused at the handshake, an unreachable webhook_url), if anything
//   call.webhooks            every webhook posted: {type, id, status, json, event}
//   call.media               what the server sent on the stream (s.got above), or null
//   call.streamClose         the stream's close code (null: never opened)
//   call.closedBy            'server' or 'telnyx': who ended the stream
// The script: signed call.initiated to the dial's webhook_url; unless the scenario's outcome is a
// hangup_cause (user_busy, no_answer, timeout, ...) ending the call there, call.answered, the
// stream_url WebSocket (connected, start, `frames` mu-law frames, `digits` as dtmf, marks echoed)
// between streaming.started and streaming.stopped, then call.hangup with `hangupCause`. Options
// add a second call.answered, a late call.initiated or call.answered (out of order), and a
// redelivery of call.hangup under the same event id.
'use strict';
const crypto = require('node:crypto');
const http = require('node:http');
const WebSocket = require('ws');
const { CallQueue } = require('./call_queue');

const API_KEY = 'KEY0123456789ABCDEF_fake';
const CONNECTION_ID = '1494404757140276705';

const SCENARIO = {
  outcome: 'answered',        // or the hangup_cause that ends the call unanswered: 'user_busy', 'no_answer', ...
  autoStartMs: 50,            // the script starts this long after the dial (null: at call.release())
  frames: 10,                 // mu-law frames of 20 ms the callee sends
  frameIntervalMs: 5,
  digits: '',                 // DTMF sent after the frames
  holdMs: 200,                // time on the stream after the digits before Telnyx stops it
  waitForServerClose: false,  // keep the stream open until the server closes it (at most 10 s)
  hangupCause: 'normal_clearing',
  duplicateAnswered: false,   // call.answered twice (two event ids)
  lateInitiated: false,       // call.initiated after call.answered (or after the hangup, unanswered)
  lateAnswered: false,        // call.answered again after call.hangup
  redeliverHangup: false,     // call.hangup delivered again with the same event id (meta.attempt 2)
  createError: null,          // {status, code, title, detail}: refuse the dial
};

const SIP_CAUSE = { normal_clearing: '200', user_busy: '486', no_answer: '480', timeout: '408', call_rejected: '603' };
const SERVER_CLOSE_WAIT_MS = 10000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Resolves `value` after ms without keeping the process alive. */
const later = (ms, value) => new Promise((r) => setTimeout(() => r(value), ms).unref());

function sendJson(res, status, value) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

const telnyxError = (code, title, detail) => ({ errors: [{ code, title, detail }] });

/** The raw 32-byte Ed25519 public key of a KeyObject, base64. */
function rawPublicKey(publicKey) {
  const der = publicKey.export({ format: 'der', type: 'spki' });
  return der.subarray(der.length - 32).toString('base64');
}

/** A dialled call: what GET /v2/calls reports, and the script it plays when a scenario is set. */
class FakeCall {
  constructor(fake, body) {
    this.fake = fake;
    this.body = body;
    this.id = `v3:${crypto.randomBytes(12).toString('base64url')}`;
    this.legId = crypto.randomUUID();
    this.sessionId = crypto.randomUUID();
    this.alive = false;
    this.webhooks = [];
    this.media = null;
    this.streamClose = null;
    this.closedBy = null;
    this.error = undefined;
    this.released = new Promise((resolve) => { this.release = resolve; });
    this.done = Promise.resolve();
  }

  start(s) {
    if (s.autoStartMs !== null) later(s.autoStartMs).then(this.release);
    this.done = this.released.then(() => this.run(s));
    this.done.catch((e) => { this.error = e; });
  }

  payload(extra) {
    return { call_leg_id: this.legId, call_session_id: this.sessionId, client_state: this.body.client_state ?? null,
      from: this.body.from, to: this.body.to, direction: 'outgoing', ...extra };
  }

  /** Posts a signed event (a fresh one of `type`, or `event` as given) to the dial's webhook_url. */
  async webhook(type, extra = {}, event = this.fake.event(type, this.payload(extra), this.id)) {
    if (typeof this.body.webhook_url !== 'string') throw new Error('the dial named no webhook_url');
    const res = await this.fake.postWebhook(this.body.webhook_url, event);
    this.webhooks.push({ type, id: event.data.id, status: res.status, json: res.json, event });
    return event;
  }

  hangup(cause, answered) {
    this.alive = false;
    return this.webhook('call.hangup', { hangup_cause: cause, hangup_source: answered ? 'caller' : 'callee',
      sip_hangup_cause: SIP_CAUSE[cause] || '500', start_time: this.startTime, end_time: new Date().toISOString() });
  }

  async run(s) {
    this.startTime = new Date().toISOString();
    if (!s.lateInitiated) await this.webhook('call.initiated', { state: 'parked' });
    if (s.outcome !== 'answered') {
      const hangup = await this.hangup(s.outcome, false);
      if (s.lateInitiated) await this.webhook('call.initiated', { state: 'parked' });
      if (s.redeliverHangup) await this.redeliver(hangup);
      return;
    }
    this.alive = true;
    await this.webhook('call.answered', { state: 'answered' });
    if (s.duplicateAnswered) await this.webhook('call.answered', { state: 'answered' });
    if (s.lateInitiated) await this.webhook('call.initiated', { state: 'parked' });
    await this.stream(s);
    const hangup = await this.hangup(s.hangupCause, true);
    if (s.lateAnswered) await this.webhook('call.answered', { state: 'answered' });
    if (s.redeliverHangup) await this.redeliver(hangup);
  }

  redeliver(event) {
    return this.webhook(event.data.event_type, {}, { ...event, meta: { ...event.meta, attempt: event.meta.attempt + 1 } });
  }

  async stream(s) {
    const url = this.body.stream_url;
    const stream = await this.fake.stream(url, { callId: this.id, from: this.body.from, to: this.body.to });
    this.media = stream.got;
    await this.webhook('streaming.started', { stream_url: url });
    for (let i = 0; i < s.frames; i++) {
      stream.media(Buffer.alloc(160, 0x10 + (i % 64)));
      await sleep(s.frameIntervalMs);
    }
    for (const digit of s.digits) {
      stream.dtmf(digit);
      await sleep(20);
    }
    const wait = s.waitForServerClose ? SERVER_CLOSE_WAIT_MS : s.holdMs;
    const ended = await Promise.race([stream.closed.then(() => true), later(wait, false)]);
    this.closedBy = ended ? 'server' : 'telnyx';
    if (!ended && stream.ws.readyState === WebSocket.OPEN) {
      stream.stop();
      stream.ws.close(1000);
    }
    this.streamClose = await stream.closed;
    await this.webhook('streaming.stopped', { stream_url: url });
  }
}

class FakeTelnyx {
  constructor({ numbers = ['+14155550100'], apiKey = API_KEY, connectionId = CONNECTION_ID } = {}) {
    const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
    this.publicKey = rawPublicKey(publicKey);
    this.privateKey = privateKey;
    this.apiKey = apiKey;
    this.connectionId = connectionId;
    this.numbers = numbers;
    this.requests = [];
    this.calls = new Map();
    this.streams = new Set();
    this.failure = null;
    this.scenario = null;
    this.placed = new CallQueue('telnyx');
    this.server = http.createServer((req, res) => this.handle(req, res));
  }

  async listen() {
    await new Promise((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${this.server.address().port}`;
    return this;
  }

  config(extra = {}) {
    return { api_key: this.apiKey, connection_id: this.connectionId, public_key: this.publicKey,
      from_numbers: this.numbers.slice(0, 1), api_base_url: this.url, ...extra };
  }

  setAlive(id, alive) { this.calls.get(id).alive = alive; }

  failNext(status, errors) { this.failure = { status, errors }; }

  play(scenario) { this.scenario = scenario ? { ...SCENARIO, ...scenario } : null; }

  nextCall(timeoutMs) { return this.placed.next(timeoutMs); }

  handle(req, res) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      const u = new URL(req.url, this.url);
      let json;
      try { json = body ? JSON.parse(body) : undefined; } catch { json = undefined; }
      this.requests.push({ method: req.method, path: u.pathname, query: u.searchParams, headers: req.headers, body, json });
      if (req.headers.authorization !== `Bearer ${this.apiKey}`) {
        return sendJson(res, 401, telnyxError('10009', 'Authentication failed', 'The API key is not valid.'));
      }
      if (this.failure) {
        const { status, errors } = this.failure;
        this.failure = null;
        return sendJson(res, status, { errors });
      }
      this.route(req.method, u, json, res);
    });
  }

  route(method, u, json, res) {
    const callMatch = /^\/v2\/calls\/([^/]+)$/.exec(u.pathname);
    if (method === 'POST' && u.pathname === '/v2/calls') return this.dial(json, res);
    if (method === 'GET' && callMatch) {
      const call = this.calls.get(decodeURIComponent(callMatch[1]));
      if (!call) return sendJson(res, 404, telnyxError('10005', 'Resource not found', 'Call not found.'));
      return sendJson(res, 200, { data: { record_type: 'call', call_control_id: call.id, call_leg_id: call.legId,
        call_session_id: call.sessionId, is_alive: call.alive, call_duration: call.alive ? 3 : 0,
        client_state: call.body.client_state } });
    }
    const hangup = /^\/v2\/calls\/([^/]+)\/actions\/hangup$/.exec(u.pathname);
    if (method === 'POST' && hangup) {
      const call = this.calls.get(decodeURIComponent(hangup[1]));
      if (!call) return sendJson(res, 404, telnyxError('10005', 'Resource not found', 'Call not found.'));
      if (!call.alive) return sendJson(res, 422, telnyxError('90018', 'Call has already ended', 'This call is no longer active.'));
      call.hungUpByApi = true;
      return sendJson(res, 200, { data: { result: 'ok' } });
    }
    if (method === 'GET' && u.pathname === '/v2/phone_numbers') return this.phoneNumbers(u, res);
    return sendJson(res, 404, telnyxError('10005', 'Resource not found', `${method} ${u.pathname}`));
  }

  dial(body, res) {
    const missing = ['connection_id', 'to', 'from', 'stream_url'].filter((k) => typeof body?.[k] !== 'string');
    if (missing.length) {
      return sendJson(res, 422, telnyxError('10015', 'Invalid request', `missing ${missing.join(', ')}`));
    }
    if (body.connection_id !== this.connectionId) {
      return sendJson(res, 422, telnyxError('10015', 'Invalid connection_id', 'No such connection.'));
    }
    if (body.to === '+1555') {
      return sendJson(res, 422, telnyxError('10016', 'Invalid value for to',
        'The destination number +1555 is not a valid phone number.'));
    }
    const s = this.scenario;
    if (s && s.createError) {
      const { status, code, title, detail } = s.createError;
      return sendJson(res, status, telnyxError(code, title, detail));
    }
    const call = new FakeCall(this, body);
    this.calls.set(call.id, call);
    sendJson(res, 200, { data: { call_control_id: call.id, call_leg_id: call.legId,
      call_session_id: call.sessionId, is_alive: false, record_type: 'call' } });
    if (s) call.start({ ...s });
    this.placed.push(call);
  }

  phoneNumbers(u, res) {
    const size = Number(u.searchParams.get('page[size]') || 20);
    const page = Number(u.searchParams.get('page[number]') || 1);
    if (!(size >= 1 && size <= 250 && page >= 1)) {
      return sendJson(res, 400, telnyxError('10015', 'Invalid page', 'bad page parameters'));
    }
    const data = this.numbers.slice((page - 1) * size, page * size).map((n, i) => ({
      id: String(1000 + (page - 1) * size + i), record_type: 'phone_number', phone_number: n, status: 'active' }));
    return sendJson(res, 200, { data, meta: { page_number: page, page_size: size,
      total_pages: Math.max(1, Math.ceil(this.numbers.length / size)), total_results: this.numbers.length } });
  }

  event(type, payload = {}, callId = 'v3:fake') {
    return { data: { record_type: 'event', event_type: type, id: crypto.randomUUID(),
      occurred_at: new Date().toISOString(), payload: { call_control_id: callId, connection_id: this.connectionId,
        ...payload } }, meta: { attempt: 1, delivered_to: 'fake' } };
  }

  sign(body, { timestamp = Math.floor(Date.now() / 1000), key = this.privateKey } = {}) {
    const signature = crypto.sign(null, Buffer.concat([Buffer.from(`${timestamp}|`), Buffer.from(body)]), key);
    return { 'telnyx-signature-ed25519': signature.toString('base64'), 'telnyx-timestamp': String(timestamp) };
  }

  postWebhook(url, event, opts = {}) {
    const signed = typeof event === 'string' ? event : JSON.stringify(event);
    const headers = { 'content-type': 'application/json', 'user-agent': 'telnyx-webhooks', ...this.sign(signed, opts),
      ...(opts.headers || {}) };
    for (const [k, v] of Object.entries(headers)) if (v === undefined) delete headers[k];
    const body = opts.body !== undefined ? opts.body : signed;
    return new Promise((resolve, reject) => {
      const req = http.request(url, { method: 'POST', headers, agent: false, timeout: 10000 }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let json;
          try { json = JSON.parse(text); } catch { json = undefined; }
          resolve({ status: res.statusCode, body: text, json });
        });
      });
      req.on('timeout', () => req.destroy(new Error(`webhook to ${url} timed out`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  async stream(url, { callId = 'v3:fake', customParameters = {}, echoMarks = true, from = '+14155550100',
    to = '+14155550123' } = {}) {
    const ws = new WebSocket(url);
    const streamId = crypto.randomUUID();
    const got = { media: [], marks: [], clears: 0, other: [] };
    let seq = 1;
    let chunk = 0;
    const send = (event, body) => ws.send(JSON.stringify({ event, sequence_number: String(seq++), stream_id: streamId,
      ...body }));
    ws.on('message', (data, isBinary) => {
      if (isBinary) return got.other.push({ binary: data });
      let msg;
      try { msg = JSON.parse(data.toString()); } catch { return got.other.push({ malformed: data.toString() }); }
      if (msg.event === 'media') got.media.push(Buffer.from(msg.media.payload, 'base64'));
      else if (msg.event === 'mark') {
        got.marks.push(msg.mark.name);
        if (echoMarks && ws.readyState === WebSocket.OPEN) send('mark', { mark: { name: msg.mark.name } });
      } else if (msg.event === 'clear') got.clears++;
      else got.other.push(msg);
    });
    const closed = new Promise((resolve) => ws.on('close', (code) => { this.streams.delete(ws); resolve(code); }));
    await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
    this.streams.add(ws);
    ws.send(JSON.stringify({ event: 'connected', version: '1.0.0' }));
    send('start', { start: { user_id: crypto.randomUUID(), call_control_id: callId, call_session_id: crypto.randomUUID(),
      from, to, tags: [], client_state: null, custom_parameters: customParameters,
      media_format: { encoding: 'PCMU', sample_rate: 8000, channels: 1 } } });
    return {
      ws, got, closed, streamId,
      media: (buf) => {
        chunk++;
        send('media', { media: { track: 'inbound', chunk: String(chunk), timestamp: String(chunk * 20),
          payload: buf.toString('base64') } });
      },
      dtmf: (digit) => send('dtmf', { occurred_at: new Date().toISOString(), dtmf: { digit } }),
      stop: () => send('stop', { stop: { user_id: 'fake', call_control_id: callId } }),
      close: () => ws.close(),
    };
  }

  async close() {
    for (const ws of this.streams) ws.terminate();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** Starts a fake Telnyx on a random loopback port (see the top of this file). */
async function startFakeTelnyx(opts) {
  return new FakeTelnyx(opts).listen();
}

module.exports = { startFakeTelnyx, FakeTelnyx };
