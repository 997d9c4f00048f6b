// dialtone.crypto against the carriers' official npm packages, through the real binary:
// Twilio signatures made by a Lua route are accepted by twilio.validateRequest, Vonage
// application JWTs signed by a Lua route are accepted by @vonage/jwt's verifySignature, and
// HS256 tokens made in node (signed webhooks) verify in dialtone.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const twilio = require('twilio');
const { tokenGenerate, verifySignature } = require('@vonage/jwt');
const { startServer } = require('./lib/server');
const { request } = require('./lib/http');

const ROUTES = `
local route, crypto = dialtone.route, dialtone.crypto

-- spec/twilio.md §6: URL, then each name (sorted) with each of its distinct values (sorted).
local function twilio_signature(auth_token, url, params)
  local names, s = {}, url
  for name in pairs(params or {}) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    local v = params[name]
    local values, seen = {}, {}
    for _, x in ipairs(type(v) == "table" and v or { v }) do
      if not seen[x] then seen[x] = true values[#values + 1] = x end
    end
    table.sort(values)
    for _, x in ipairs(values) do s = s .. name .. x end
  end
  return crypto.base64_encode(crypto.hmac_sha1(auth_token, s))
end

route.post("/twilio/sign", function(req)
  local b = req.json
  local url = b.url
  if b.body then url = url .. "&bodySHA256=" .. crypto.hex(crypto.sha256(b.body)) end
  return route.json(200, { signature = twilio_signature(b.auth_token, url, b.params), url = url })
end)

route.post("/twilio/check", function(req)
  local b = req.json
  local expected = twilio_signature(b.auth_token, b.url, b.params)
  return route.json(200, { valid = crypto.constant_time_equal(expected, b.signature) })
end)

route.post("/vonage/app-token", function(req)
  local b = req.json
  local iat = math.floor(dialtone.time.now())
  local claims = { application_id = b.application_id, iat = iat, exp = iat + 900,
                   jti = crypto.hex(crypto.random_bytes(16)) }
  local token, err = crypto.jwt_sign_rs256(claims, b.pem, b.kid and { kid = b.kid } or nil)
  return route.json(200, { token = token, err = err })
end)

route.post("/hs256/sign", function(req)
  local b = req.json
  local input = crypto.base64url_encode(dialtone.json.encode({ alg = "HS256", typ = "JWT" })) ..
                "." .. crypto.base64url_encode(dialtone.json.encode(b.claims))
  return route.json(200, { token = input .. "." .. crypto.base64url_encode(crypto.hmac_sha256(b.secret, input)) })
end)

route.post("/hs256/verify", function(req)
  local b = req.json
  local claims, err = crypto.jwt_verify_hs256(b.token, b.secret, b.opts)
  return route.json(200, { claims = claims, err = err })
end)
`;

let server;
before(async () => { server = await startServer({ scripts: { 'routes.lua': ROUTES } }); });
after(async () => { await server.stop(); });

async function post(path, body) {
  const res = await request(server.url + path, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body) });
  assert.equal(res.status, 200, res.body);
  return res.json;
}

const TOKEN = '12345';
const URL = 'https://mycompany.com/myapp.php?foo=1&bar=2';
const PARAMS = { CallSid: 'CA1234567890ABCDE', Caller: '+14158675309', Digits: '1234',
  From: '+14158675309', To: '+18005551212' };

test('Twilio form-POST signatures from dialtone pass twilio.validateRequest', async () => {
  const { signature } = await post('/twilio/sign', { auth_token: TOKEN, url: URL, params: PARAMS });
  assert.equal(signature, 'RSOYDt4T1cUTdK1PDd93/VVr8B8=');
  assert.equal(twilio.validateRequest(TOKEN, signature, URL, PARAMS), true);
  assert.equal(twilio.validateRequest(TOKEN, signature, 'https://mycompany.com:443/myapp.php?foo=1&bar=2', PARAMS), true);
  assert.equal(twilio.validateRequest('54321', signature, URL, PARAMS), false);

  const repeated = { Sid: 'CA123', SidAccount: 'AC123', Digits: ['5678', '1234', '1234'] };
  const r = await post('/twilio/sign', { auth_token: TOKEN, url: URL, params: repeated });
  assert.equal(r.signature, 'IK+Dwps556ElfBT0I3Rgjkr1wJU=');
  assert.equal(twilio.validateRequest(TOKEN, r.signature, URL, repeated), true);

  const odd = { Body: 'héllo wörld ✓ & = +', Zeta: '', alpha: 'lower-case sorts after upper' };
  const o = await post('/twilio/sign', { auth_token: 'a secret token', url: 'http://example.test:8080/x?q=1', params: odd });
  assert.equal(twilio.validateRequest('a secret token', o.signature, 'http://example.test:8080/x?q=1', odd), true);
});

test('Twilio JSON-body and WebSocket signatures pass the SDK', async () => {
  const body = '{"property": "value", "boolean": true}';
  const { signature, url } = await post('/twilio/sign', { auth_token: TOKEN, url: URL, body });
  assert.equal(signature, 'a9nBmqA0ju/hNViExpshrM61xv4=');
  assert.equal(twilio.validateRequestWithBody(TOKEN, signature, url, body), true);
  assert.equal(twilio.validateRequestWithBody(TOKEN, signature, url, body + ' '), false);
  const ws = await post('/twilio/sign', { auth_token: TOKEN, url: 'wss://mycompany.com/media', params: {} });
  assert.equal(ws.signature, 'okykUWKkAOgQseVjzERZh4soLeU=');
  assert.equal(twilio.validateRequest(TOKEN, ws.signature, 'wss://mycompany.com/media', {}), true);
});

test('signatures made by the Twilio SDK verify in dialtone', async () => {
  const params = { CallStatus: 'completed', CallSid: 'CA' + 'f'.repeat(32), Duration: '17' };
  const url = 'https://hooks.example.test/api/v1/telephony/twilio/status-callback/42';
  const signature = twilio.getExpectedTwilioSignature('tok-' + crypto.randomBytes(8).toString('hex'), url, params);
  assert.equal((await post('/twilio/check', { auth_token: 'wrong', url, params, signature })).valid, false);
  const token = 'tok-abc';
  const good = twilio.getExpectedTwilioSignature(token, url, params);
  assert.equal((await post('/twilio/check', { auth_token: token, url, params, signature: good })).valid, true);
});

test('Vonage application JWTs signed by dialtone pass @vonage/jwt verifySignature', async () => {
  const appId = 'aaaaaaaa-bbbb-cccc-dddd-0123456789ab';
  for (const type of ['pkcs8', 'pkcs1']) {
    const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048,
      privateKeyEncoding: { type, format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    const { token, err } = await post('/vonage/app-token', { application_id: appId, pem: privateKey, kid: 'k1' });
    assert.equal(err, undefined);
    assert.equal(verifySignature(token, publicKey), true, type);
    const [h, p] = token.split('.').slice(0, 2).map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()));
    assert.deepEqual(h, { alg: 'RS256', typ: 'JWT', kid: 'k1' });
    assert.equal(p.application_id, appId);
    assert.equal(p.exp - p.iat, 900);
    assert.match(p.jti, /^[0-9a-f]{32}$/);
    const other = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey
      .export({ type: 'spki', format: 'pem' });
    assert.equal(verifySignature(token, other), false);
  }
  const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
    .export({ type: 'pkcs8', format: 'pem' });
  const bad = await post('/vonage/app-token', { application_id: appId, pem: ec });
  assert.equal(bad.token, undefined);
  assert.equal(bad.err, 'not an RSA private key');
});

function hs256(header, claims, secret) {
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return `${input}.${crypto.createHmac('sha256', secret).update(input).digest('base64url')}`;
}

test('HS256 tokens made in node verify in dialtone, and the reverse', async () => {
  const secret = 'signature-secret-' + crypto.randomBytes(8).toString('hex');
  const now = Math.floor(Date.now() / 1000);
  const claims = { iat: now, jti: crypto.randomUUID(), iss: 'Vonage', api_key: 'a1b2c3d4',
    payload_hash: crypto.createHash('sha256').update('{"status":"answered"}').digest('hex') };
  const token = hs256({ alg: 'HS256', typ: 'JWT' }, claims, secret);
  const ok = await post('/hs256/verify', { token, secret,
    opts: { max_age: 300, claims: { iss: 'Vonage', api_key: 'a1b2c3d4', payload_hash: claims.payload_hash } } });
  assert.deepEqual(ok, { claims });
  assert.equal((await post('/hs256/verify', { token, secret: 'other' })).err, 'bad signature');
  assert.equal((await post('/hs256/verify', { token, secret, opts: { claims: { api_key: 'x' } } })).err,
    'claim api_key mismatch');
  const none = hs256({ alg: 'none' }, claims, secret).replace(/[^.]*$/, '');
  assert.equal((await post('/hs256/verify', { token: none, secret })).err, 'alg not allowed');
  const old = hs256({ alg: 'HS256' }, { ...claims, exp: now - 120 }, secret);
  assert.equal((await post('/hs256/verify', { token: old, secret })).err, 'expired');
  const early = hs256({ alg: 'HS256' }, { ...claims, nbf: now + 600 }, secret);
  assert.equal((await post('/hs256/verify', { token: early, secret })).err, 'not yet valid');

  // An RS256 application token from the SDK is refused by the HS256 verifier (alg confusion).
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  const appToken = tokenGenerate('aaaaaaaa-bbbb-cccc-dddd-0123456789ab', privateKey);
  assert.equal((await post('/hs256/verify', { token: appToken, secret })).err, 'alg not allowed');

  // HMAC + base64url composed in Lua make a token the SDK accepts.
  const made = await post('/hs256/sign', { secret, claims: { iss: 'dialtone', iat: now } });
  assert.equal(verifySignature(made.token, secret), true);
  assert.equal(verifySignature(made.token, secret + 'x'), false);
});
