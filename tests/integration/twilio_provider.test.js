// providers/twilio.lua through the real binary: a node server on loopback plays the Twilio REST
// API (spec/twilio.md §2-4); a Lua route constructs the provider against it and reports results.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { startServer, makeScriptDir, SOURCE_DIR } = require('./lib/server');
const { request } = require('./lib/http');

const SID = 'AC' + '0123456789abcdef'.repeat(2);
const TOKEN = 'f'.repeat(32);
const CALL_SID = 'CA' + 'a'.repeat(32);
const BASE = `/2010-04-01/Accounts/${SID}`;

const SCRIPT = `
local route = dialtone.route
local twilio = require("twilio")

route.post("/twilio", function(req)
  local a = req.json
  local p = twilio.new(a.config)
  local op = a.op
  local r1, r2
  if op == "initiate" then r1, r2 = p.initiate_call(a.to, a.webhook_url, "run-1", a.opts)
  elseif op == "status" then r1, r2 = p.get_call_status(a.call_id)
  elseif op == "numbers" then r1, r2 = p.get_available_phone_numbers()
  elseif op == "cost" then r1, r2 = p.get_call_cost(a.call_id)
  elseif op == "validate" then r1, r2 = p.validate_config()
  elseif op == "twiml" then r1, r2 = p.get_webhook_response("wf1", "u2", "run-3", a.opts)
  elseif op == "parse" then r1, r2 = p.parse_status_callback(a.data)
  elseif op == "verify" then
    r1, r2 = p.verify_webhook_signature(a.url, a.params, a.signature, { headers = a.headers or {}, body = a.body })
  end
  return route.json(200, { result = r1, second = r2 })
end)
route.get("/providers", function() return route.json(200, dialtone.telephony.providers()) end)
`;

let server;
let scriptDir;
let remote;
let remoteUrl;
const received = [];

function sendJson(res, status, value) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

const callResource = (extra = {}) => ({
  sid: CALL_SID, account_sid: SID, to: '+14155550123', from: '+14155550100', status: 'queued',
  direction: 'outbound-api', duration: null, price: null, price_unit: 'USD', ...extra,
});

function handleRemote(req, res) {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString();
    received.push({ method: req.method, url: req.url, headers: req.headers, body });
    const auth = 'Basic ' + Buffer.from(`${SID}:${TOKEN}`).toString('base64');
    if (req.headers.authorization !== auth) {
      return sendJson(res, 401, { code: 20003, message: 'Authenticate', status: 401 });
    }
    if (req.method === 'POST' && req.url === `${BASE}/Calls.json`) {
      const form = new URLSearchParams(body);
      if (form.get('To') === '+1555') {
        return sendJson(res, 400, { code: 21211, message: "The 'To' number +1555 is not a valid phone number.",
          more_info: 'https://www.twilio.com/docs/errors/21211', status: 400 });
      }
      return sendJson(res, 201, callResource({ to: form.get('To'), from: form.get('From') }));
    }
    if (req.method === 'GET' && req.url === `${BASE}/Calls/${CALL_SID}.json`) {
      return sendJson(res, 200, callResource({ status: 'completed', duration: '42', price: '-0.0130' }));
    }
    if (req.method === 'GET' && req.url === `${BASE}/Calls/CAunpriced.json`) {
      return sendJson(res, 200, callResource({ status: 'in-progress' }));
    }
    if (req.method === 'GET' && req.url === `${BASE}/IncomingPhoneNumbers.json`) {
      return sendJson(res, 200, {
        incoming_phone_numbers: [{ sid: 'PN1', phone_number: '+14155550100' }, { sid: 'PN2', phone_number: '+14155550101' }],
        page: 0, page_size: 2, next_page_uri: `${BASE}/IncomingPhoneNumbers.json?Page=1&PageToken=PA1`,
      });
    }
    if (req.method === 'GET' && req.url === `${BASE}/IncomingPhoneNumbers.json?Page=1&PageToken=PA1`) {
      return sendJson(res, 200, { incoming_phone_numbers: [{ sid: 'PN3', phone_number: '+442071838750' }],
        page: 1, page_size: 2, next_page_uri: null });
    }
    return sendJson(res, 404, { code: 20404, message: 'not found', status: 404 });
  });
}

const config = () => ({ account_sid: SID, auth_token: TOKEN, from_numbers: ['+14155550100'], api_base_url: remoteUrl });

async function post(payload) {
  const r = await request(`${server.url}/twilio`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify(payload) });
  assert.equal(r.status, 200, r.body);
  return r.json;
}
const call = (args) => post({ config: config(), ...args });

before(async () => {
  remote = http.createServer(handleRemote);
  await new Promise((r) => remote.listen(0, '127.0.0.1', r));
  remoteUrl = `http://127.0.0.1:${remote.address().port}/`;
  scriptDir = makeScriptDir({ 'test_twilio.lua': SCRIPT });
  fs.copyFileSync(path.join(SOURCE_DIR, 'providers', 'twilio.lua'), path.join(scriptDir, 'providers', 'twilio.lua'));
  server = await startServer({ scriptDir });
});

after(async () => {
  if (server) await server.stop();
  if (remote) await new Promise((r) => remote.close(r));
  if (scriptDir) fs.rmSync(scriptDir, { recursive: true, force: true });
});

test('the twilio provider is offered with its metadata', async () => {
  const list = (await request(`${server.url}/providers`)).json;
  const tw = list.find((p) => p.name === 'twilio');
  assert.ok(tw, JSON.stringify(list));
  assert.equal(tw.title, 'Twilio');
  assert.deepEqual(tw.audio, { encoding: 'mulaw', rate: 8000 });
  assert.deepEqual(tw.fields.map((f) => [f.name, f.type, !!f.secret, !!f.required, f.default]), [
    ['account_sid', 'string', false, true, undefined], ['auth_token', 'string', true, true, undefined],
    ['from_numbers', 'phone_list', false, false, undefined],
    ['api_base_url', 'url', false, false, 'https://api.twilio.com'],
  ]);
});

test('initiate_call posts the form with Basic auth and returns the call', async () => {
  received.length = 0;
  const out = await call({ op: 'initiate', to: '+14155550123', webhook_url: 'https://app.example/twiml?run=1',
    opts: { status_callback_url: 'https://app.example/status/run-1' } });
  assert.equal(out.result.call_id, CALL_SID);
  assert.equal(out.result.status, 'initiated');
  assert.equal(out.result.raw.status, 'queued');
  assert.equal(received.length, 1);
  const r = received[0];
  assert.equal(r.method, 'POST');
  assert.equal(r.url, `${BASE}/Calls.json`);
  assert.match(r.headers['content-type'], /^application\/x-www-form-urlencoded/);
  const form = new URLSearchParams(r.body);
  assert.equal(form.get('To'), '+14155550123');
  assert.equal(form.get('From'), '+14155550100');
  assert.equal(form.get('Url'), 'https://app.example/twiml?run=1');
  assert.equal(form.get('StatusCallback'), 'https://app.example/status/run-1');
  assert.deepEqual(form.getAll('StatusCallbackEvent'), ['initiated', 'ringing', 'answered', 'completed']);
  assert.equal(form.get('StatusCallbackMethod'), 'POST');

  const other = await call({ op: 'initiate', to: '+14155550123', webhook_url: 'https://app.example/twiml',
    opts: { from_number: '+14155550199' } });
  assert.equal(other.result.raw.from, '+14155550199');
});

test("a carrier error is nil, err with Twilio's message, sent once", async () => {
  received.length = 0;
  const out = await call({ op: 'initiate', to: '+1555', webhook_url: 'https://app.example/twiml' });
  assert.equal(out.result, undefined);
  assert.match(out.second, /The 'To' number \+1555 is not a valid phone number\./);
  assert.match(out.second, /21211/);
  assert.equal(received.length, 1);
});

test('get_call_status, get_available_phone_numbers, get_call_cost', async () => {
  const st = await call({ op: 'status', call_id: CALL_SID });
  assert.equal(st.result.status, 'completed');
  assert.equal(st.result.call_id, CALL_SID);
  const nums = await call({ op: 'numbers' });
  assert.deepEqual(nums.result, ['+14155550100', '+14155550101', '+442071838750']);
  const cost = await call({ op: 'cost', call_id: CALL_SID });
  assert.deepEqual(cost.result, { cost: 0.013, currency: 'USD', duration: 42 });
  const unpriced = await call({ op: 'cost', call_id: 'CAunpriced' });
  assert.equal(unpriced.second, 'not priced yet');
  const bad = await post({ config: { ...config(), auth_token: 'e'.repeat(32) }, op: 'status', call_id: CALL_SID });
  assert.match(bad.second, /HTTP 401: Authenticate/);
});

test('validate_config', async () => {
  assert.equal((await call({ op: 'validate' })).result, true);
  const r = await post({ op: 'validate', config: { account_sid: 'AB12', auth_token: 'short',
    from_numbers: '+14155550100\n4155550101', api_base_url: 'ftp://x' } });
  assert.equal(r.result, false);
  assert.deepEqual(r.second.map((p) => p.field), ['account_sid', 'auth_token', 'from_numbers', 'api_base_url']);
  assert.match(r.second[2].message, /4155550101/);
});

test('get_webhook_response: exact TwiML with the token parameter; bad media URLs refused', async () => {
  const out = await call({ op: 'twiml', opts: { media_url: 'wss://app.example/api/v1/telephony/ws/wf1/u2/run-3',
    media_token: 't&k' } });
  assert.equal(out.result, '<?xml version="1.0" encoding="UTF-8"?><Response><Connect>' +
    '<Stream url="wss://app.example/api/v1/telephony/ws/wf1/u2/run-3"><Parameter name="token" value="t&amp;k"/>' +
    '</Stream></Connect></Response>');
  assert.equal(out.second, 'text/xml');
  const plain = await call({ op: 'twiml', opts: { media_url: 'https://app.example/ws/x', media_token: 't' } });
  assert.equal(plain.result, undefined);
  assert.match(plain.second, /ws:\/\/ or wss:\/\//);
  const query = await call({ op: 'twiml', opts: { media_url: 'wss://app.example/ws/x?token=t' } });
  assert.equal(query.result, undefined);
  assert.match(query.second, /query string/);
});

test('parse_status_callback', async () => {
  const out = await call({ op: 'parse', data: { CallSid: CALL_SID, CallStatus: 'in-progress', CallDuration: '7',
    SequenceNumber: '2', Timestamp: 'Tue, 31 Aug 2010 20:36:28 +0000' } });
  assert.deepEqual(out.result, { call_id: CALL_SID, status: 'answered', raw_status: 'in-progress', duration: 7,
    sequence: 2, timestamp: 'Tue, 31 Aug 2010 20:36:28 +0000' });
  const bad = await call({ op: 'parse', data: { CallSid: CALL_SID, CallStatus: 'weird' } });
  assert.match(bad.second, /unknown twilio status 'weird'/);
});

test('verify_webhook_signature: form and JSON bodies, signed in node per spec §6', async () => {
  const sign = (s) => crypto.createHmac('sha1', TOKEN).update(s).digest('base64');
  const url = 'https://app.example/api/v1/telephony/twilio/status-callback/run-1';
  const params = { CallSid: CALL_SID, CallStatus: 'completed', Digits: ['5678', '1234'] };
  const signed = url + 'CallSid' + CALL_SID + 'CallStatuscompleted' + 'Digits1234Digits5678';
  const good = await call({ op: 'verify', url, params, signature: sign(signed),
    headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.equal(good.result, true);
  const tampered = await call({ op: 'verify', url, params: { ...params, CallStatus: 'failed' }, signature: sign(signed) });
  assert.equal(tampered.result, false);
  assert.equal(tampered.second, 'bad signature');

  const body = '{"property": "value", "boolean": true}';
  const jurl = url + '?bodySHA256=' + crypto.createHash('sha256').update(body).digest('hex');
  const js = await call({ op: 'verify', url: jurl, signature: sign(jurl), body,
    headers: { 'content-type': 'application/json' } });
  assert.equal(js.result, true);
  const jbad = await call({ op: 'verify', url: jurl, signature: sign(jurl), body: body + ' ',
    headers: { 'content-type': 'application/json' } });
  assert.equal(jbad.result, false);
});
