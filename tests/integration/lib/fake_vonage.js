// A fake Vonage for tests: the Voice REST API and the numbers API of spec/vonage.md §2-3 over
// node:http on 127.0.0.1 (random port), and signed webhooks (§4.1) as Vonage sends them.
//
//   const { startFakeVonage, signWebhook, queryJson } = require('./lib/fake_vonage');
//   const fake = await startFakeVonage({ applicationId, publicKey, apiKey, apiSecret,
//                                        signatureSecret, numbers: ['447700900000'], maxPageSize });
//   (publicKey: the PEM of the application's public key; numbers: msisdns, digits only;
//   maxPageSize: the most numbers per page whatever `size` asks, default 100)
//   // provider config: api_base_url = fake.url (it serves /v1/calls and /account/numbers)
//   fake.requests            every request: {method, path, query, headers, body, json, claims}
//                            (claims: the verified application JWT's claims, Voice API only)
//   fake.calls               Map uuid -> call object (§3.2), as GET /v1/calls/{uuid} returns it
//   fake.setStatus(uuid, status, extra)   moves a call (§4 status values), merging extra fields
//   fake.price(uuid, {price, rate, duration})   completes and prices a call (strings, EUR)
//   fake.fail({method, path, status, body, drop, times})   the next `times` (default 1)
//                            requests whose method matches and whose path starts with `path`
//                            get `status` with `body` (JSON), or their connection dropped
//   fake.clearFaults()       forgets the faults not used yet
//   fake.event(uuid, status, extra)   the event webhook body Vonage would post (§4)
//   fake.sendEvent(uuid, status, {extra, url, secret})   POSTs that event to the call's
//                            event_url (or url), signed with secret (default signatureSecret);
//                            resolves {status, headers, body, json}
//   fake.fetchNcco(uuid, {url, secret})   GETs the call's answer_url (or url) with Vonage's
//                            query added (uuid, conversation_uuid, from, to), signed; resolves
//                            {status, headers, body, json}. Webhook URLs must be http://.
//   await fake.close()
//
// Scripted calls: with `fake.scenario = {silent: false, ...}` (merged over DEFAULT_SCENARIO when a
// call is created; the default is silent: the test plays Vonage) each created call then runs
// as Vonage would: signed events "started", "ringing" to its event_url; on answer the signed
// GET of answer_url for the NCCO, "answered"; the connect action's WebSocket endpoint opened
// (npm `ws`): websocket:connected with the endpoint's content-type and headers at the top
// level, `frames` binary L16 frames, `digits` websocket:dtmf; notify answered with
// websocket:notify and clear with websocket:cleared; the WebSocket leg's own events (to = its
// URI, headers echoed) to the connect's eventUrl, "disconnected" when the server closed it;
// then "completed" with duration, rate and price, and the call resource priced `priceDelayMs`
// later.
//   const call = await fake.nextCall();   the next call created, a FakeVonageCall:
//     call.uuid, call.body (the create-call JSON), call.events [{leg, status, response}],
//     call.nccoResponse, call.ncco, call.endpoint, call.received {audio: [Buffer],
//     notifies: [payload], clears, other: [message]}, call.socketClose (code, or 'refused'),
//     call.closedBy ('server' / 'vonage'), call.done (resolves when the script is over),
//     call.error (what stopped the script, if anything)
//
//   signWebhook({secret, apiKey, applicationId, body | query, iat, jti, claims}) -> token for
//     "Authorization: Bearer <token>": HS256 over iat/jti/iss "Vonage"/api_key/application_id
//     and payload_hash = hex SHA-256 of body (a string) or of queryJson(query) (GET);
//     `claims` overrides or adds claims (null removes one).
//   queryJson(query) -> the compact JSON object of URLSearchParams/[[k, v]...] in order, a
//     repeated name keeping its first place and last value (what a GET payload_hash covers).
//   verifyAppToken(token, publicKey, applicationId) -> claims, or throws why not (what the fake
//     checks on every Voice request: RS256, application_id, iat within a minute, 30 s <= exp - iat
//     <= 24 h, not expired, a jti).
//   hs256(header, claims, secret) -> a compact HS256 token over any header and claims objects.
'use strict';
const crypto = require('node:crypto');
const http = require('node:http');
const WebSocket = require('ws');
const { CallQueue } = require('./call_queue');

const MAX_BODY = 1 << 20;
const MAX_PAGE_SIZE = 100;

const DEFAULT_SCENARIO = {
  silent: true,              // place the call and do nothing more (the test plays Vonage)
  outcome: 'completed',      // or 'busy' / 'unanswered' / 'failed' / 'rejected' / 'timeout' (ends before answer)
  frames: 10,                // 20 ms L16 frames Vonage sends on the WebSocket
  frameIntervalMs: 5,
  digits: '',                // websocket:dtmf events sent after the frames
  holdMs: 200,               // time on the socket after the digits before Vonage closes it
  waitForServerClose: false, // keep the socket open until the server closes it (at most closeWaitMs)
  closeWaitMs: 10000,
  legEvents: true,           // post the WebSocket leg's own events to the connect's eventUrl
  detection: false,          // post machine-detection results ("human", "machine") once answered
  duplicateAnswered: false,  // post "answered" twice
  lateRinging: false,        // post "ringing" again after "completed" (out of order)
  rate: '0.01071400',        // EUR per minute; the price is rate * duration / 60
  priceDelayMs: 300,         // the call resource is priced this long after the call ends (null: never)
  createError: null,         // {status, title, detail}: refuse POST /v1/calls
};

const b64url = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const sha256Hex = (s) => crypto.createHash('sha256').update(s).digest('hex');

/** HS256 compact JWS over the given header and claims objects. */
function hs256(header, claims, secret) {
  const input = `${b64url(header)}.${b64url(claims)}`;
  return `${input}.${crypto.createHmac('sha256', secret).update(input).digest('base64url')}`;
}

function queryJson(query) {
  const entries = query instanceof URLSearchParams ? [...query.entries()] : query;
  const values = new Map();
  for (const [k, v] of entries) values.set(String(k), String(v));
  return `{${[...values].map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`;
}

function signWebhook({ secret, apiKey, applicationId, body, query, iat, jti, claims = {} }) {
  const payload = {
    iat: iat ?? Math.floor(Date.now() / 1000), jti: jti ?? crypto.randomUUID(), iss: 'Vonage',
    api_key: apiKey, application_id: applicationId,
  };
  if (body !== undefined) payload.payload_hash = sha256Hex(body);
  else if (query !== undefined) payload.payload_hash = sha256Hex(queryJson(query));
  for (const [k, v] of Object.entries(claims)) {
    if (v === null) delete payload[k];
    else payload[k] = v;
  }
  return hs256({ alg: 'HS256', typ: 'JWT' }, payload, secret);
}

function verifyAppToken(token, publicKey, applicationId) {
  const parts = String(token).split('.');
  if (parts.length !== 3) throw new Error('not a compact JWT');
  const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString());
  if (header.alg !== 'RS256') throw new Error(`alg ${header.alg}`);
  const ok = crypto.verify('RSA-SHA256', Buffer.from(`${parts[0]}.${parts[1]}`), publicKey,
    Buffer.from(parts[2], 'base64url'));
  if (!ok) throw new Error('bad signature');
  const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString());
  const now = Date.now() / 1000;
  if (claims.application_id !== applicationId) throw new Error('application_id mismatch');
  if (!Number.isInteger(claims.iat) || Math.abs(claims.iat - now) > 60) throw new Error('iat missing or off');
  if (!Number.isInteger(claims.exp) || claims.exp - claims.iat < 30 || claims.exp - claims.iat > 86400) {
    throw new Error('exp missing or out of range');
  }
  if (claims.exp <= now) throw new Error('expired');
  if (typeof claims.jti !== 'string' || claims.jti === '') throw new Error('jti missing');
  return claims;
}

/** Voice API error body (§3). */
const voiceError = (status, title, detail, extra = {}) => ({
  status, body: { type: `https://developer.nexmo.com/api-errors#${title.toLowerCase().replace(/ /g, '-')}`,
    title, detail, instance: crypto.randomUUID(), ...extra },
});

const isPhone = (e) => e && e.type === 'phone' && /^\d{7,15}$/.test(e.number);
const oneUrl = (v) => Array.isArray(v) && v.length === 1 && /^https?:\/\//.test(v[0]);

/** Checks a create-call body (§3.1); a problem string or null. */
function createProblem(b) {
  if (!b || typeof b !== 'object') return 'body is not a JSON object';
  if (!Array.isArray(b.to) || b.to.length !== 1 || !isPhone(b.to[0])) return 'Invalid value for to';
  if (!isPhone(b.from)) return 'Invalid value for from';
  if (!oneUrl(b.answer_url) || b.ncco !== undefined) return 'answer_url must be an array of one URL';
  if (b.answer_method !== undefined && !['GET', 'POST'].includes(b.answer_method)) return 'Invalid answer_method';
  if (b.event_url !== undefined && !oneUrl(b.event_url)) return 'event_url must be an array of one URL';
  if (b.event_method !== undefined && !['GET', 'POST'].includes(b.event_method)) return 'Invalid event_method';
  return null;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The websocket endpoint of an NCCO's connect action (§5), or throws why there is none. */
function websocketEndpoint(ncco) {
  const connect = Array.isArray(ncco) ? ncco.find((a) => a && a.action === 'connect') : null;
  const endpoint = connect && Array.isArray(connect.endpoint) ? connect.endpoint[0] : null;
  if (!endpoint || endpoint.type !== 'websocket' || typeof endpoint.uri !== 'string') {
    throw new Error(`NCCO without a connect to a websocket endpoint: ${JSON.stringify(ncco)}`);
  }
  return { connect, endpoint };
}

/** 20 ms of a 400 Hz sine as L16 little-endian at `rate`, continuing its phase from frame k. */
function l16Frame(rate, k) {
  const samples = rate / 50;
  const frame = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) {
    frame.writeInt16LE(Math.round(4000 * Math.sin((2 * Math.PI * 400 * (k * samples + i)) / rate)), 2 * i);
  }
  return frame;
}

/** One created call played as Vonage plays it (see the header). */
class FakeVonageCall {
  /** later(fn, ms): a timer the fake cancels when it closes. */
  constructor(fake, uuid, body, later) {
    this.fake = fake;
    this.later = later;
    this.uuid = uuid;
    this.body = body;
    this.events = [];
    this.nccoResponse = null;
    this.ncco = null;
    this.endpoint = null;
    this.received = { audio: [], notifies: [], clears: 0, other: [] };
    this.socketClose = null;
    this.closedBy = null;
  }

  /** Posts one signed event (opts as sendEvent's) and records it. */
  async event(leg, status, opts = {}) {
    const response = await this.fake.sendEvent(this.uuid, status, opts);
    this.events.push({ leg, status, response });
    return response;
  }

  /** Moves the call resource to status, then posts its event. */
  phone(status, extra = {}) {
    this.fake.setStatus(this.uuid, status);
    return this.event('phone', status, { extra });
  }

  async run(s) {
    if (s.silent) return;
    await sleep(10);
    await this.phone('started');
    await this.phone('ringing');
    if (s.outcome !== 'completed') {
      await this.phone(s.outcome);
      return this.priceLater(s, { price: '0.00000000', rate: s.rate, duration: '0' });
    }
    this.fake.setStatus(this.uuid, 'answered');
    const answeredAt = Date.now();
    this.nccoResponse = await this.fake.fetchNcco(this.uuid);
    if (this.nccoResponse.status !== 200) {
      throw new Error(`answer_url answered ${this.nccoResponse.status}: ${this.nccoResponse.body}`);
    }
    this.ncco = this.nccoResponse.json;
    const { connect, endpoint } = websocketEndpoint(this.ncco);
    this.endpoint = endpoint;
    await this.phone('answered');
    if (s.duplicateAnswered) await this.phone('answered');
    if (s.detection) {
      // machine-detection events name the call in call_uuid, not uuid (§4)
      for (const result of ['human', 'machine']) {
        await this.event('phone', result, { extra: { uuid: undefined, call_uuid: this.uuid } });
      }
    }
    await this.stream(s, connect);
    const duration = String(Math.max(1, Math.round((Date.now() - answeredAt) / 1000)));
    const price = ((Number(s.rate) * Number(duration)) / 60).toFixed(8);
    this.fake.setStatus(this.uuid, 'completed', { duration });
    await this.event('phone', 'completed', { extra: { duration, rate: s.rate, price,
      start_time: new Date(answeredAt).toISOString(), end_time: new Date().toISOString(), network: '23410' } });
    if (s.lateRinging) await this.event('phone', 'ringing');
    return this.priceLater(s, { price, rate: s.rate, duration });
  }

  /** The WebSocket leg: its events, the socket's protocol (§6), its close. */
  async stream(s, connect) {
    const { uri, headers = {} } = this.endpoint;
    const contentType = this.endpoint['content-type'];
    const rate = Number(/rate=(\d+)/.exec(contentType || '')?.[1]);
    if (![8000, 16000, 24000].includes(rate)) throw new Error(`endpoint content-type ${contentType}`);
    const legUuid = crypto.randomUUID();
    const eventUrl = (connect.eventUrl || this.fake.calls.get(this.uuid).event_url)[0];
    const leg = async (status, extra = {}) => {
      if (s.legEvents) await this.event('websocket', status, { url: eventUrl, extra: { uuid: legUuid, to: uri, headers, ...extra } });
    };
    await leg('started');
    const ws = new WebSocket(uri, { handshakeTimeout: 5000 });
    ws.on('message', (data, isBinary) => this.command(ws, data, isBinary));
    const closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
    const opened = await new Promise((resolve) => { ws.on('open', () => resolve(true)); ws.on('error', () => resolve(false)); });
    if (!opened) {
      this.socketClose = 'refused';
      return leg('failed');
    }
    await leg('answered');
    let vonageClosed = false;
    ws.send(JSON.stringify({ event: 'websocket:connected', 'content-type': contentType, ...headers }));
    for (let i = 0; i < s.frames; i++) {
      ws.send(l16Frame(rate, i), { binary: true });
      await sleep(s.frameIntervalMs);
    }
    for (const digit of s.digits) {
      ws.send(JSON.stringify({ event: 'websocket:dtmf', digit, duration: 260 }));
      await sleep(20);
    }
    let timer;
    await Promise.race([closed, new Promise((r) => { timer = setTimeout(r, s.waitForServerClose ? s.closeWaitMs : s.holdMs); })]);
    clearTimeout(timer);
    if (ws.readyState === WebSocket.OPEN) {
      vonageClosed = true;
      ws.close(1000);
    }
    this.socketClose = await closed;
    this.closedBy = vonageClosed ? 'vonage' : 'server';
    if (!vonageClosed) await leg('disconnected');
    await leg('completed');
  }

  /** What the server sends on the socket: audio is recorded, notify and clear answered. */
  command(ws, data, isBinary) {
    if (isBinary) {
      this.received.audio.push(Buffer.from(data));
      return;
    }
    let msg;
    try { msg = JSON.parse(data.toString()); } catch { msg = data.toString(); }
    if (msg && msg.action === 'notify') {
      // the audio sent before it counts as played once it has arrived
      this.received.notifies.push(msg.payload);
      ws.send(JSON.stringify({ event: 'websocket:notify', payload: msg.payload }));
    } else if (msg && msg.action === 'clear') {
      this.received.clears++;
      ws.send(JSON.stringify({ event: 'websocket:cleared' }));
    } else {
      this.received.other.push(msg);
    }
  }

  priceLater(s, priced) {
    if (s.priceDelayMs === null) return;
    this.later(() => this.fake.price(this.uuid, priced), s.priceDelayMs);
  }
}

async function startFakeVonage(opts) {
  const { applicationId, publicKey, apiKey, apiSecret, signatureSecret } = opts;
  const maxPageSize = opts.maxPageSize || MAX_PAGE_SIZE;
  const numbers = [...(opts.numbers || [])];
  const requests = [];
  const calls = new Map();
  const faults = [];
  const placed = new CallQueue('vonage');
  const timers = [];
  let fake = null;

  function takeFault(method, path) {
    const i = faults.findIndex((f) => (!f.method || f.method === method) && path.startsWith(f.path || ''));
    if (i < 0) return null;
    const f = faults[i];
    if (--f.times <= 0) faults.splice(i, 1);
    return f;
  }

  function voice(rec) {
    const m = /^Bearer (\S+)$/.exec(rec.headers.authorization || '');
    if (!m) return voiceError(401, 'Unauthorized', 'You did not provide correct credentials.');
    try {
      rec.claims = verifyAppToken(m[1], publicKey, applicationId);
    } catch (e) {
      return voiceError(401, 'Unauthorized', `Invalid token: ${e.message}`);
    }
    if (rec.method === 'POST' && rec.path === '/v1/calls') {
      const scenario = { ...DEFAULT_SCENARIO, ...fake.scenario };
      const refusal = scenario.createError;
      if (refusal) return voiceError(refusal.status, refusal.title, refusal.detail);
      const problem = rec.json === undefined ? 'body is not JSON' : createProblem(rec.json);
      if (problem) return voiceError(400, 'Bad Request', problem);
      const uuid = crypto.randomUUID();
      const call = { uuid, conversation_uuid: `CON-${crypto.randomUUID()}`, to: rec.json.to[0], from: rec.json.from,
        status: 'started', direction: 'outbound', answer_url: rec.json.answer_url, event_url: rec.json.event_url,
        _links: { self: { href: `/calls/${uuid}` } } };
      calls.set(uuid, call);
      script(uuid, rec.json, scenario);
      const { conversation_uuid, status, direction } = call;
      return { status: 201, body: { uuid, status, direction, conversation_uuid } };
    }
    const get = /^\/v1\/calls\/([^/]+)$/.exec(rec.path);
    if (rec.method === 'GET' && get) {
      const call = calls.get(decodeURIComponent(get[1]));
      if (!call) return voiceError(404, 'Not Found', `Call ${get[1]} was not found`);
      const { answer_url, event_url, ...view } = call;
      return { status: 200, body: view };
    }
    if (rec.method === 'PUT' && get) {
      const call = calls.get(decodeURIComponent(get[1]));
      if (!call) return voiceError(404, 'Not Found', `Call ${get[1]} was not found`);
      if (rec.json?.action !== 'hangup') return voiceError(400, 'Bad Request', 'unsupported action');
      call.hungUpByApi = true;
      return { status: 204 };
    }
    return voiceError(404, 'Not Found', `No route for ${rec.method} ${rec.path}`);
  }

  function accountNumbers(rec) {
    const basic = 'Basic ' + Buffer.from(`${apiKey}:${apiSecret}`).toString('base64');
    const byQuery = rec.query.get('api_key') === apiKey && rec.query.get('api_secret') === apiSecret;
    if (rec.headers.authorization !== basic && !byQuery) {
      return { status: 401, body: { 'error-code': '401', 'error-code-label': 'authentication failed' } };
    }
    const size = Math.min(Number(rec.query.get('size') || 10), MAX_PAGE_SIZE, maxPageSize);
    const index = Number(rec.query.get('index') || 1);
    if (!(size >= 1) || !(index >= 1)) {
      return { status: 400, body: { 'error-code': '400', 'error-code-label': 'invalid size or index' } };
    }
    const page = numbers.slice((index - 1) * size, index * size).map((msisdn) => ({
      country: 'GB', msisdn, type: 'mobile-lvn', features: ['VOICE', 'SMS'], app_id: applicationId }));
    // past the last page Vonage sends the count alone
    return { status: 200, body: page.length ? { count: numbers.length, numbers: page } : { count: numbers.length } };
  }

  function respond(rec, res) {
    const fault = takeFault(rec.method, rec.path);
    if (fault) {
      rec.fault = fault.drop ? 'drop' : fault.status;
      if (fault.drop) return res.socket.destroy();
      return send(res, { status: fault.status, body: fault.body || voiceError(fault.status, 'Service Unavailable', 'try later').body });
    }
    if (rec.path.startsWith('/v1/calls')) return send(res, voice(rec));
    if (rec.method === 'GET' && rec.path === '/account/numbers') return send(res, accountNumbers(rec));
    return send(res, voiceError(404, 'Not Found', `No route for ${rec.method} ${rec.path}`));
  }

  function send(res, { status, body }) {
    if (status === 204) return res.writeHead(204).end();
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  const server = http.createServer((req, res) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      const u = new URL(req.url, 'http://fake.vonage');
      const body = Buffer.concat(chunks).toString();
      let json;
      try { json = body ? JSON.parse(body) : undefined; } catch { json = undefined; }
      const rec = { method: req.method, path: u.pathname, query: u.searchParams, headers: req.headers, body, json };
      requests.push(rec);
      respond(rec, res);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;

  /** Starts a created call's script (after its 201 has gone: the script begins with a pause). */
  function script(uuid, body, scenario) {
    const later = (fn, ms) => timers.push(setTimeout(fn, ms));
    const call = new FakeVonageCall(fake, uuid, body, later);
    call.done = call.run(scenario).catch((e) => { call.error = e; });
    placed.push(call);
  }

  function mustCall(uuid) {
    const call = calls.get(uuid);
    if (!call) throw new Error(`fake vonage: no call ${uuid}`);
    return call;
  }

  function event(uuid, status, extra = {}) {
    const call = mustCall(uuid);
    return { from: call.from.number, to: call.to.number, uuid, conversation_uuid: call.conversation_uuid, status,
      direction: 'outbound', timestamp: new Date().toISOString(), ...extra };
  }

  /** An HTTP request to a webhook on loopback or elsewhere; resolves {status, body, json}. */
  function hook(target, { method, headers, body }) {
    return new Promise((resolve, reject) => {
      const req = http.request(target, { method, headers, agent: false, timeout: 10000 }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let json;
          try { json = JSON.parse(text); } catch { json = undefined; }
          resolve({ status: res.statusCode, headers: res.headers, body: text, json });
        });
      });
      req.on('timeout', () => req.destroy(new Error(`webhook ${target} timed out`)));
      req.on('error', reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
  }

  const signer = (secret) => ({ secret: secret || signatureSecret, apiKey, applicationId });

  fake = {
    url, requests, calls, scenario: { ...DEFAULT_SCENARIO },
    /** The next call created and not yet taken (scripted or silent). */
    nextCall(timeoutMs) { return placed.next(timeoutMs); },
    fail(f) { faults.push({ times: 1, ...f }); },
    clearFaults() { faults.length = 0; },
    setStatus(uuid, status, extra = {}) { Object.assign(mustCall(uuid), { status }, extra); },
    price(uuid, { price = '0.01071400', rate = '0.01071400', duration = '60' } = {}) {
      Object.assign(mustCall(uuid), { status: 'completed', price, rate, duration });
    },
    event,
    sendEvent(uuid, status, { extra, url: target, secret } = {}) {
      const body = JSON.stringify(event(uuid, status, extra));
      const token = signWebhook({ ...signer(secret), body });
      return hook(target || mustCall(uuid).event_url[0], { method: 'POST', body,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } });
    },
    fetchNcco(uuid, { url: target, secret } = {}) {
      const call = mustCall(uuid);
      const u = new URL(target || call.answer_url[0]);
      for (const [k, v] of [['uuid', uuid], ['conversation_uuid', call.conversation_uuid], ['from', call.from.number],
        ['to', call.to.number]]) u.searchParams.append(k, v);
      const token = signWebhook({ ...signer(secret), query: u.searchParams });
      return hook(u, { method: 'GET', headers: { authorization: `Bearer ${token}` } });
    },
    close: () => new Promise((resolve) => {
      for (const t of timers) clearTimeout(t);
      server.closeAllConnections();
      server.close(resolve);
    }),
  };
  return fake;
}

module.exports = { startFakeVonage, signWebhook, queryJson, verifyAppToken, hs256, DEFAULT_SCENARIO };
