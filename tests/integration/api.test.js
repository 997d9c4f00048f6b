// The configuration API over real HTTP, against the real binary serving the real scripts with a
// real SQLite file: API keys (and their rotation), two organisations that never see each other's
// data, secrets masked (and kept when the mask comes back), validate_config() problems as 422
// fields, default switching, deletion, phone numbers from a fake Twilio, workflows, runs listed by
// status and page, the OpenAPI document against the routes the scripts register, migrations of an
// existing database, and crash safety (kill -9 while calls and callbacks flow, then a restart).
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startServer, makeDataDir, runCli, SOURCE_DIR } = require('./lib/server');
const { request } = require('./lib/http');
const { until } = require('./lib/wait');
const { startFakeTwilio, postSigned } = require('./lib/fake_twilio');
const { cli, setupOrganization, api } = require('./lib/telephony');

const SID = 'AC' + '0123456789abcdef'.repeat(2);
const TOKEN = 'fedcba9876543210'.repeat(2);
const MASK = '••••••••';
const NUMBERS = ['+14155550100', '+14155550101', '+14155550102'];
const SERVE_ARGS = ['--watch', 'false'];

let fake;
let server;
let acme;
let globex;

const twilioSettings = (extra = {}) => ({ account_sid: SID, auth_token: TOKEN, from_numbers: ['+14155550100'],
  api_base_url: fake.url, ...extra });

before(async () => {
  fake = await startFakeTwilio({ sid: SID, token: TOKEN, numbers: NUMBERS });
  server = await startServer({ scriptDir: SOURCE_DIR, args: SERVE_ARGS });
  acme = await setupOrganization(server, { name: 'Acme', workflows: { Echo: 'echo' } });
  globex = await setupOrganization(server, { name: 'Globex', workflows: { Echo: 'echo' } });
});

after(async () => {
  if (server) await server.stop();
  if (fake) await fake.close();
});

const createConfig = async (org, name, extra = {}, settings = {}) => {
  const res = await org.api.post('/api/v1/telephony/configs', { name, provider: 'twilio',
    settings: twilioSettings(settings), ...extra });
  assert.equal(res.status, 201, res.body);
  return res.json;
};

/** Every protected endpoint, with ids of `org`'s own resources. */
const endpoints = (ids) => [
  ['GET', '/api/v1/telephony/providers'],
  ['GET', '/api/v1/telephony/configs'],
  ['POST', '/api/v1/telephony/configs', { name: 'x', provider: 'twilio', settings: {} }],
  ['GET', `/api/v1/telephony/configs/${ids.config}`],
  ['PUT', `/api/v1/telephony/configs/${ids.config}`, { name: 'x' }],
  ['DELETE', `/api/v1/telephony/configs/${ids.config}`],
  ['POST', `/api/v1/telephony/configs/${ids.config}/default`],
  ['GET', `/api/v1/telephony/configs/${ids.config}/phone-numbers`],
  ['GET', '/api/v1/workflows'],
  ['POST', '/api/v1/workflows', { name: 'x', flow: 'echo' }],
  ['GET', '/api/v1/workflow-runs'],
  ['GET', `/api/v1/workflow-runs/${ids.run}`],
  ['POST', '/api/v1/telephony/initiate-call', { workflow_id: ids.workflow, phone_number: '+14155550123' }],
];

const send = (method, p, body, key) => request(`${server.url}${p}`, { method,
  headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
  body: body === undefined ? undefined : JSON.stringify(body) });

test('every endpoint needs a valid API key; a rotated key stops working at once', async () => {
  const ids = { config: 'cfg_0000000000000000', run: 'run-x', workflow: acme.workflows.Echo };
  for (const [method, p, body] of endpoints(ids)) {
    for (const key of [undefined, 'dt_' + 'A'.repeat(40), 'nope']) {
      const res = await send(method, p, body, key);
      assert.equal(res.status, 401, `${method} ${p} with key ${key}: ${res.status} ${res.body}`);
      assert.equal(res.json.error.code, 'unauthorized');
      assert.equal(res.headers['www-authenticate'], 'Bearer');
    }
  }
  const org = await setupOrganization(server, { name: 'Rotating' });
  assert.equal((await org.api.get('/api/v1/workflows')).status, 200);
  const rotated = cli(server, 'key', 'rotate', org.id);
  const newKey = (rotated.match(/dt_\S+/) || [])[0];
  assert.ok(newKey, rotated);
  const old = await org.api.get('/api/v1/telephony/configs');
  assert.equal(old.status, 401, 'the revoked key is refused');
  assert.equal((await api(server, newKey).get('/api/v1/telephony/configs')).status, 200);
});

test('providers: metadata and form fields straight from the provider files', async () => {
  const res = await acme.api.get('/api/v1/telephony/providers');
  assert.equal(res.status, 200, res.body);
  const names = res.json.map((p) => p.name);
  assert.deepEqual(names, [...names].sort());
  assert.ok(names.includes('twilio') && names.includes('vonage'), names.join());
  const twilio = res.json.find((p) => p.name === 'twilio');
  assert.equal(twilio.title, 'Twilio');
  assert.deepEqual(twilio.audio, { encoding: 'mulaw', rate: 8000 });
  assert.deepEqual(twilio.fields.map((f) => [f.name, f.type, f.secret, f.required]), [
    ['account_sid', 'string', false, true], ['auth_token', 'string', true, true],
    ['from_numbers', 'phone_list', false, false], ['api_base_url', 'url', false, false]]);
  assert.equal(twilio.fields.find((f) => f.name === 'api_base_url').default, 'https://api.twilio.com');
  const vonage = res.json.find((p) => p.name === 'vonage');
  assert.ok(vonage.fields.find((f) => f.name === 'private_key').secret);
});

test('secrets are masked, never returned, sealed at rest, and kept when the mask comes back', async () => {
  const cfg = await createConfig(acme, 'Masked');
  assert.match(cfg.id, /^cfg_[0-9a-f]{16}$/);
  assert.equal(cfg.settings.auth_token, MASK);
  assert.equal(cfg.settings.account_sid, SID);
  assert.deepEqual(cfg.settings.from_numbers, ['+14155550100']);
  for (const p of ['/api/v1/telephony/configs', `/api/v1/telephony/configs/${cfg.id}`]) {
    const res = await acme.api.get(p);
    assert.equal(res.status, 200);
    assert.ok(!res.body.includes(TOKEN), `${p} returned the secret`);
    assert.match(res.body, new RegExp(MASK));
  }
  const db = ['dialtone.db', 'dialtone.db-wal'].map((f) => path.join(server.dataDir, f)).filter(fs.existsSync)
    .map((f) => fs.readFileSync(f));
  assert.ok(db.length > 0);
  for (const bytes of db) assert.equal(bytes.indexOf(TOKEN), -1, 'the secret is in the database file in plain text');
  assert.doesNotMatch(server.log, new RegExp(TOKEN), 'the secret was logged');

  // The mask sent back keeps the secret: the fake carrier checks it (Basic auth) on every request.
  const renamed = await acme.api.put(`/api/v1/telephony/configs/${cfg.id}`, { name: 'Masked 2', provider: 'twilio',
    settings: { ...cfg.settings, auth_token: MASK } });
  assert.equal(renamed.status, 200, renamed.body);
  assert.equal(renamed.json.name, 'Masked 2');
  assert.equal(renamed.json.settings.auth_token, MASK);
  assert.ok(renamed.json.updated_at > cfg.updated_at);
  assert.equal((await acme.api.get(`/api/v1/telephony/configs/${cfg.id}/phone-numbers`)).status, 200,
    'the stored secret still authenticates at the carrier');
  // A new secret replaces it (here a wrong one: the carrier now refuses), and can be put back.
  const changed = await acme.api.put(`/api/v1/telephony/configs/${cfg.id}`, { settings: { ...cfg.settings, auth_token: 'f'.repeat(32) } });
  assert.equal(changed.status, 200, changed.body);
  const refused = await acme.api.get(`/api/v1/telephony/configs/${cfg.id}/phone-numbers`);
  assert.equal(refused.status, 502, refused.body);
  assert.equal(refused.json.error.code, 'carrier_error');
  assert.match(refused.json.error.message, /401/);
  const back = await acme.api.put(`/api/v1/telephony/configs/${cfg.id}`, { settings: { ...cfg.settings, auth_token: TOKEN } });
  assert.equal(back.status, 200, back.body);
  assert.equal((await acme.api.get(`/api/v1/telephony/configs/${cfg.id}/phone-numbers`)).status, 200);
  assert.equal((await acme.api.del(`/api/v1/telephony/configs/${cfg.id}`)).status, 204);
});

test('validate_config() problems and bad input come back as errors naming the fields', async () => {
  const post = (body) => acme.api.post('/api/v1/telephony/configs', body);
  const bad = await post({ name: 'Bad', provider: 'twilio', settings: twilioSettings({ account_sid: 'AC123', auth_token: 'short' }) });
  assert.equal(bad.status, 422, bad.body);
  assert.equal(bad.json.error.code, 'invalid_configuration');
  assert.deepEqual(Object.keys(bad.json.error.fields).sort(), ['account_sid', 'auth_token']);
  assert.match(bad.json.error.fields.account_sid, /AC followed by 32 hex/);
  const badNumber = await post({ name: 'Bad', provider: 'twilio', settings: twilioSettings({ from_numbers: ['4155550100'] }) });
  assert.equal(badNumber.status, 422);
  assert.match(badNumber.json.error.fields.from_numbers, /E\.164/);
  const unknown = await post({ name: 'Bad', provider: 'carrier_pigeon', settings: {} });
  assert.equal(unknown.status, 422);
  assert.ok(unknown.json.error.fields.provider);
  const extra = await post({ name: 'Bad', provider: 'twilio', settings: twilioSettings({ colour: 'blue' }) });
  assert.equal(extra.status, 422);
  assert.match(extra.json.error.fields.colour, /not a field of Twilio/);
  const masked = await post({ name: 'Bad', provider: 'twilio', settings: twilioSettings({ auth_token: MASK }) });
  assert.equal(masked.status, 422, 'the mask is not a secret when nothing is stored');
  assert.ok(masked.json.error.fields.auth_token);
  const wrongType = await post({ name: 'Bad', provider: 'twilio', settings: twilioSettings({ account_sid: 5 }) });
  assert.equal(wrongType.status, 422);
  assert.match(wrongType.json.error.fields.account_sid, /string/);
  for (const name of [undefined, '', ' ', 'x'.repeat(101), 'a\nb']) {
    const res = await post({ name, provider: 'twilio', settings: twilioSettings() });
    assert.equal(res.status, 422, JSON.stringify(name));
    assert.ok(res.json.error.fields.name, JSON.stringify(name));
  }
  const garbage = await acme.api.post('/api/v1/telephony/configs', '{"name":');
  assert.equal(garbage.status, 400);
  assert.equal(garbage.json.error.code, 'invalid_json');
  assert.equal((await acme.api.post('/api/v1/telephony/configs', [1, 2])).status, 400);
  // a taken name
  const first = await createConfig(acme, 'Taken');
  const again = await post({ name: 'Taken', provider: 'twilio', settings: twilioSettings() });
  assert.equal(again.status, 409);
  assert.ok(again.json.error.fields.name);
  // an update is validated the same way and changes nothing when refused
  const put = await acme.api.put(`/api/v1/telephony/configs/${first.id}`, { settings: twilioSettings({ account_sid: 'nope' }) });
  assert.equal(put.status, 422);
  assert.ok(put.json.error.fields.account_sid);
  assert.equal((await acme.api.get(`/api/v1/telephony/configs/${first.id}`)).json.settings.account_sid, SID);
  assert.equal((await acme.api.del(`/api/v1/telephony/configs/${first.id}`)).status, 204);
  const names = (await acme.api.get('/api/v1/telephony/configs')).json.map((c) => c.name);
  assert.ok(!names.includes('Bad'), 'nothing refused was stored');
});

test('one default at a time: the first config, switching, and deleting the default', async () => {
  const org = await setupOrganization(server, { name: 'Defaults' });
  const defaults = async () => (await org.api.get('/api/v1/telephony/configs')).json
    .filter((c) => c.is_default).map((c) => c.name);
  const one = await createConfig(org, 'one');
  assert.equal(one.is_default, true, 'the first configuration is the default');
  const two = await createConfig(org, 'two');
  assert.equal(two.is_default, false);
  const three = await createConfig(org, 'three', { is_default: true });
  assert.equal(three.is_default, true);
  assert.deepEqual(await defaults(), ['three']);
  const made = await org.api.post(`/api/v1/telephony/configs/${two.id}/default`);
  assert.equal(made.status, 200, made.body);
  assert.equal(made.json.is_default, true);
  assert.deepEqual(await defaults(), ['two']);
  const viaPut = await org.api.put(`/api/v1/telephony/configs/${one.id}`, { is_default: true });
  assert.equal(viaPut.status, 200, viaPut.body);
  assert.deepEqual(await defaults(), ['one']);
  assert.equal((await org.api.del(`/api/v1/telephony/configs/${one.id}`)).status, 204);
  assert.deepEqual(await defaults(), ['two'], 'the oldest remaining configuration becomes the default');
  assert.equal((await org.api.del(`/api/v1/telephony/configs/${one.id}`)).status, 404);
  assert.equal((await org.api.get(`/api/v1/telephony/configs/${one.id}`)).status, 404);
  assert.deepEqual((await org.api.get('/api/v1/telephony/configs')).json.map((c) => c.name), ['two', 'three']);
});

test('phone numbers come from the carrier (every page) and are stored with the configuration', async () => {
  const org = await setupOrganization(server, { name: 'Numbers' });
  const cfg = await createConfig(org, 'main');
  const seen = fake.requests.length;
  const res = await org.api.get(`/api/v1/telephony/configs/${cfg.id}/phone-numbers`);
  assert.equal(res.status, 200, res.body);
  assert.deepEqual(res.json, { numbers: NUMBERS });
  const pages = fake.requests.slice(seen).filter((r) => r.url.includes('/IncomingPhoneNumbers.json'));
  assert.equal(pages.length, 2, 'the fake pages by 2: both pages were read');
  const script = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dialtone-numbers-')), 'numbers.lua');
  fs.writeFileSync(script, `print(dialtone.json.encode(dialtone.store.phone_numbers("${org.id}", "${cfg.id}")))`);
  const stored = runCli(['run', script], { env: { DIALTONE_DATA_DIR: server.dataDir } });
  fs.rmSync(path.dirname(script), { recursive: true, force: true });
  assert.equal(stored.status, 0, stored.stderr);
  assert.deepEqual(JSON.parse(stored.stdout), NUMBERS);
  fake.numbersError = { status: 500, code: 20500, message: 'Internal Server Error' };
  try {
    const failed = await org.api.get(`/api/v1/telephony/configs/${cfg.id}/phone-numbers`);
    assert.equal(failed.status, 502);
    assert.equal(failed.json.error.code, 'carrier_error');
  } finally {
    fake.numbersError = null;
  }
});

test('workflows: created through the API or the CLI, checked, listed per organisation', async () => {
  const org = await setupOrganization(server, { name: 'Flows' });
  assert.deepEqual((await org.api.get('/api/v1/workflows')).json, []);
  const created = await org.api.post('/api/v1/workflows', { name: 'Echo back', flow: 'echo', settings: { greeting: 'hi' } });
  assert.equal(created.status, 201, created.body);
  assert.match(created.json.id, /^wf_[0-9a-f]{16}$/);
  assert.deepEqual(created.json.settings, { greeting: 'hi' });
  const missing = await org.api.post('/api/v1/workflows', { name: 'Nope', flow: 'no_such_flow' });
  assert.equal(missing.status, 422);
  assert.equal(missing.json.error.code, 'invalid_workflow');
  assert.ok(missing.json.error.fields.flow);
  const hostile = await org.api.post('/api/v1/workflows', { name: 'Up', flow: '../telephony' });
  assert.equal(hostile.status, 422);
  assert.ok(hostile.json.error.fields.flow);
  const unnamed = await org.api.post('/api/v1/workflows', { flow: 'echo' });
  assert.equal(unnamed.status, 422);
  assert.ok(unnamed.json.error.fields.name);
  assert.equal((await org.api.post('/api/v1/workflows', { name: 'Echo back', flow: 'echo' })).status, 409);
  const viaCli = cli(server, 'workflow', 'add', org.id, 'From the CLI', 'echo').trim();
  const list = (await org.api.get('/api/v1/workflows')).json;
  assert.deepEqual(list.map((w) => [w.id, w.name, w.flow]),
    [[created.json.id, 'Echo back', 'echo'], [viaCli, 'From the CLI', 'echo']]);
});

test('two organisations are isolated: the other one\'s ids are 404 on every endpoint', async () => {
  const cfg = await createConfig(acme, 'Private');
  fake.scenario = { ...fake.scenario, silent: true, createError: null };
  const placed = await acme.api.initiate({ workflow_id: acme.workflows.Echo, phone_number: '+14155550150',
    workflow_run_id: 'run-private', config: cfg.id });
  assert.equal(placed.status, 200, placed.body);
  const ids = { config: cfg.id, run: 'run-private', workflow: acme.workflows.Echo };
  for (const [method, p, body] of endpoints(ids)) {
    if (!p.includes(cfg.id) && !p.includes('run-private') && !(body && body.workflow_id)) continue;
    const res = await send(method, p, body, globex.apiKey);
    assert.equal(res.status, 404, `${method} ${p}: ${res.status} ${res.body}`);
    assert.ok(!res.body.includes(SID), 'nothing of the other organisation leaks');
  }
  const viaConfig = await globex.api.initiate({ workflow_id: globex.workflows.Echo, phone_number: '+14155550150', config: cfg.id });
  assert.equal(viaConfig.status, 404, viaConfig.body);
  assert.equal(viaConfig.json.error.code, 'unknown_config');
  // Globex's lists hold none of Acme's things; Acme's configuration is untouched.
  assert.ok(!(await globex.api.get('/api/v1/telephony/configs')).json.some((c) => c.id === cfg.id));
  assert.ok(!(await globex.api.get('/api/v1/workflows')).json.some((w) => w.id === acme.workflows.Echo));
  assert.ok(!(await globex.api.get('/api/v1/workflow-runs')).json.runs.some((r) => r.id === 'run-private'));
  const still = await acme.api.get(`/api/v1/telephony/configs/${cfg.id}`);
  assert.equal(still.status, 200);
  assert.equal(still.json.name, 'Private');
  assert.equal(still.json.is_default, true);
  const run = (await acme.api.run('run-private')).json;
  assert.equal(run.config_id, cfg.id, 'the run records its configuration');
  assert.equal(run.workflow_id, acme.workflows.Echo);
  assert.equal(run.media_token, undefined);
});

test('runs are listed newest first, filtered by status and paginated', async () => {
  const org = await setupOrganization(server, { name: 'Runs', workflows: { Echo: 'echo' } });
  await createConfig(org, 'main');
  const place = async (i, refuse) => {
    fake.scenario = { ...fake.scenario, silent: true,
      createError: refuse ? { status: 400, code: 21211, message: 'not a valid phone number' } : null };
    const res = await org.api.initiate({ workflow_id: org.workflows.Echo, phone_number: `+1415555020${i}`, workflow_run_id: `list-${i}` });
    assert.equal(res.status, refuse ? 502 : 200, res.body);
  };
  for (let i = 0; i < 7; i++) await place(i, i === 2 || i === 5);
  fake.scenario = { ...fake.scenario, silent: false, createError: null };
  const list = async (q) => {
    const res = await org.api.get(`/api/v1/workflow-runs?${q}`);
    assert.equal(res.status, 200, res.body);
    return res.json;
  };
  const all = await list('');
  assert.equal(all.total, 7);
  assert.equal(all.limit, 50);
  assert.equal(all.offset, 0);
  assert.deepEqual(all.runs.map((r) => r.id), ['list-6', 'list-5', 'list-4', 'list-3', 'list-2', 'list-1', 'list-0']);
  assert.ok(all.runs.every((r) => r.media_token === undefined), 'media tokens are never listed');
  const page = await list('limit=3&offset=3');
  assert.deepEqual([page.total, page.limit, page.offset], [7, 3, 3]);
  assert.deepEqual(page.runs.map((r) => r.id), ['list-3', 'list-2', 'list-1']);
  assert.deepEqual((await list('limit=3&offset=6')).runs.map((r) => r.id), ['list-0']);
  assert.deepEqual((await list('offset=9')).runs, []);
  const failed = await list('status=failed');
  assert.equal(failed.total, 2);
  assert.deepEqual(failed.runs.map((r) => r.id), ['list-5', 'list-2']);
  const initiated = await list('status=initiated&limit=2');
  assert.equal(initiated.total, 5);
  assert.deepEqual(initiated.runs.map((r) => r.id), ['list-6', 'list-4']);
  assert.equal((await list('status=busy')).total, 0);
  for (const q of ['status=bogus', 'limit=0', 'limit=501', 'limit=abc', 'offset=-1']) {
    const res = await org.api.get(`/api/v1/workflow-runs?${q}`);
    assert.equal(res.status, 400, q);
    assert.equal(res.json.error.code, 'invalid_query');
    assert.equal(Object.keys(res.json.error.fields).length, 1, q);
  }
  const detail = (await org.api.run('list-5')).json;
  assert.equal(detail.status, 'failed');
  assert.deepEqual(detail.events.map((e) => [e.source, e.status]), [['initiate', 'failed']]);
});

// Loaded before the service's scripts (names sort digits first): records every route they
// register, and lists them at /test/routes.
const RECORD_ROUTES = `
local route, recorded, original = dialtone.route, {}, {}
for _, m in ipairs({ "get", "post", "put", "delete", "patch", "ws" }) do
  original[m] = route[m]
  route[m] = function(pattern, handler)
    recorded[#recorded + 1] = (m == "ws" and "GET" or m:upper()) .. " " .. pattern
    return original[m](pattern, handler)
  end
end
original.get("/test/routes", function() return route.json(200, recorded) end)
`;

/** A script root holding the service's own scripts, links to the source tree, and RECORD_ROUTES. */
function recordingRoot() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dialtone-routes-'));
  for (const d of ['lua', 'providers']) fs.symlinkSync(path.join(SOURCE_DIR, d), path.join(root, d));
  fs.mkdirSync(path.join(root, 'scripts'));
  // dialtone.assets serves only files inside scripts/: the OpenAPI document is copied, not linked.
  for (const f of fs.readdirSync(path.join(SOURCE_DIR, 'scripts'))) {
    const [from, to] = [path.join(SOURCE_DIR, 'scripts', f), path.join(root, 'scripts', f)];
    if (f === 'openapi.json') fs.copyFileSync(from, to); else fs.symlinkSync(from, to);
  }
  fs.writeFileSync(path.join(root, 'scripts', '00_record_routes.lua'), RECORD_ROUTES);
  return root;
}

test('GET /api/v1/openapi.json documents every route the scripts register, each with its responses', async (t) => {
  const root = recordingRoot();
  const live = await startServer({ scriptDir: root, args: SERVE_ARGS });
  t.after(async () => {
    await live.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });
  const res = await request(`${live.url}/api/v1/openapi.json`);
  assert.equal(res.status, 200);
  assert.match(res.headers['content-type'], /^application\/json/);
  const doc = JSON.parse(res.body);
  assert.equal(doc.openapi, '3.0.3');
  assert.equal(res.body, fs.readFileSync(path.join(SOURCE_DIR, 'scripts', 'openapi.json'), 'utf8'));
  assert.deepEqual(doc.components.securitySchemes.bearerAuth, { type: 'http', scheme: 'bearer',
    description: doc.components.securitySchemes.bearerAuth.description });
  assert.deepEqual(doc.security, [{ bearerAuth: [] }]);
  assert.deepEqual(doc.components.schemas.Error.properties.error.required, ['code', 'message']);
  assert.ok(doc.components.schemas.Error.properties.error.properties.fields);
  const documented = new Set();
  const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];
  for (const [p, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      assert.ok(METHODS.includes(method), `${p}: ${method}`);
      documented.add(`${method.toUpperCase()} ${p}`);
      const codes = Object.keys(op.responses || {});
      assert.ok(codes.length > 0, `${method} ${p} has no responses`);
      for (const c of codes) assert.match(c, /^[1-5]\d\d$/, `${method} ${p}`);
      for (const param of (p.match(/\{\w+\}/g) || [])) {
        assert.ok((op.parameters || []).some((x) => x.in === 'path' && `{${x.name}}` === param), `${method} ${p} ${param}`);
      }
    }
  }
  // Every $ref resolves.
  for (const m of res.body.matchAll(/"\$ref": "#\/components\/(\w+)\/(\w+)"/g)) {
    assert.ok(doc.components[m[1]] && doc.components[m[1]][m[2]], `unresolved ${m[0]}`);
  }
  const registered = new Set((await request(`${live.url}/test/routes`)).json);
  assert.ok(registered.has('PUT /api/v1/telephony/configs/{id}') && registered.has('POST /api/v1/telephony/initiate-call'));
  assert.deepEqual([...documented].sort(), [...registered].sort());
});

// ---- migrations and crash safety: servers of their own, on data directories that outlive them ----

/** Runs SQL on a database file with the sqlite3 command-line shell. */
function sqlite(file, sql) {
  const r = spawnSync('sqlite3', [file, sql], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

const HAVE_SQLITE3 = spawnSync('sqlite3', ['-version']).status === 0;

// Migration 1 exactly as an issue-4 release wrote it (runtime/store_schema.c; a released
// migration is never edited), with a run and its event.
const ISSUE4_SCHEMA = `
PRAGMA journal_mode=WAL;
CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL) STRICT;
CREATE TABLE workflow_runs ( id TEXT PRIMARY KEY NOT NULL, organization_id TEXT, workflow_id TEXT, user_id TEXT,
 provider TEXT, config_name TEXT, call_id TEXT, to_number TEXT, from_number TEXT,
 status TEXT, error TEXT, media_token TEXT, media_state TEXT,
 created_at REAL NOT NULL, updated_at REAL NOT NULL,
 initiated_at REAL, ringing_at REAL, answered_at REAL, ended_at REAL,
 duration REAL, cost REAL, currency TEXT, cost_state TEXT) STRICT;
CREATE INDEX workflow_runs_created ON workflow_runs(created_at);
CREATE INDEX workflow_runs_status ON workflow_runs(status, created_at);
CREATE TABLE call_events ( id INTEGER PRIMARY KEY AUTOINCREMENT,
 run_id TEXT NOT NULL REFERENCES workflow_runs(id),
 received_at REAL NOT NULL, source TEXT, raw TEXT, raw_status TEXT, status TEXT,
 outcome TEXT) STRICT;
CREATE INDEX call_events_run ON call_events(run_id);
CREATE TABLE webhook_nonces (key TEXT PRIMARY KEY NOT NULL, expires_at REAL NOT NULL) STRICT;
CREATE INDEX webhook_nonces_expiry ON webhook_nonces(expires_at);
INSERT INTO schema_migrations VALUES(1, 1700000000.0);
INSERT INTO workflow_runs(id, organization_id, workflow_id, provider, config_name, call_id, to_number, status,
  created_at, updated_at, cost, currency, cost_state)
  VALUES('old-run', 'acme', 'echo', 'twilio', 'main', 'CA0001', '+14155550177', 'completed', 1700000000, 1700000060,
  0.013, 'USD', 'priced');
INSERT INTO call_events(run_id, received_at, source, raw, status, outcome)
  VALUES('old-run', 1700000030, 'twilio', 'CallStatus=completed', 'completed', 'applied');
`;

test('an existing issue-4 database is migrated at start: old runs kept, the new API works on it',
  { skip: HAVE_SQLITE3 ? false : 'the sqlite3 shell is not installed' }, async (t) => {
    const dataDir = makeDataDir();
    t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
    const db = path.join(dataDir, 'dialtone.db');
    sqlite(db, ISSUE4_SCHEMA);
    const live = await startServer({ scriptDir: SOURCE_DIR, dataDir, args: SERVE_ARGS });
    try {
      assert.equal(sqlite(db, 'SELECT group_concat(version) FROM schema_migrations ORDER BY version'), '1,2');
      const org = await setupOrganization(live, { name: 'Migrated', workflows: { Echo: 'echo' } });
      const cfg = (await org.api.post('/api/v1/telephony/configs', { name: 'main', provider: 'twilio', settings: twilioSettings() }));
      assert.equal(cfg.status, 201, cfg.body);
      fake.scenario = { ...fake.scenario, silent: true, createError: null };
      const placed = await org.api.initiate({ workflow_id: org.workflows.Echo, phone_number: '+14155550178', workflow_run_id: 'new-run' });
      assert.equal(placed.status, 200, placed.body);
      const run = (await org.api.run('new-run')).json;
      assert.equal(run.config_id, cfg.json.id);
      assert.equal((await org.api.run('old-run')).status, 404, "the old run is not this organisation's");
    } finally {
      await live.stop();
    }
    // The old run and its event are intact; nothing was applied twice.
    assert.equal(sqlite(db, "SELECT status || ' ' || cost || ' ' || config_name || ' ' || ifnull(config_id, '-') FROM workflow_runs WHERE id = 'old-run'"),
      'completed 0.013 main -');
    assert.equal(sqlite(db, "SELECT raw FROM call_events WHERE run_id = 'old-run'"), 'CallStatus=completed');
    assert.equal(sqlite(db, 'SELECT count(*) FROM schema_migrations'), '2');
    const again = await startServer({ scriptDir: SOURCE_DIR, dataDir, args: SERVE_ARGS });
    await again.stop();
    assert.equal(sqlite(db, 'SELECT count(*) FROM schema_migrations'), '2');
  });

test('kill -9 while calls and callbacks flow: every run and every acknowledged event survives the restart', async (t) => {
  const dataDir = makeDataDir();
  t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  let live = await startServer({ scriptDir: SOURCE_DIR, dataDir, args: SERVE_ARGS });
  const org = await setupOrganization(live, { name: 'Crash', workflows: { Echo: 'echo' },
    configs: { main: { provider: 'twilio', ...twilioSettings() } } });
  // Calls that stream for a while, so callbacks are still arriving when the server dies.
  fake.scenario = { ...fake.scenario, silent: false, createError: null, outcome: 'completed', frames: 40,
    frameIntervalMs: 20, holdMs: 200, digits: '', waitForServerClose: false, priceDelayMs: null };
  const firstCall = fake.calls.length;
  const placed = [];
  for (let i = 0; i < 6; i++) {
    const res = await org.api.initiate({ workflow_id: org.workflows.Echo, phone_number: `+1415555030${i}`,
      workflow_run_id: `crash-${i}` });
    assert.equal(res.status, 200, res.body);
    placed.push(res.json);
  }
  const calls = fake.calls.slice(firstCall);
  assert.equal(calls.length, 6);
  // More callbacks on top: repeated signed "ringing" callbacks for every call, until one fails.
  const extra = [];
  let hammering = true;
  const hammers = calls.map(async (call, i) => {
    const url = call.form.StatusCallback[0];
    for (let n = 0; hammering; n++) {
      const params = { CallSid: call.sid, AccountSid: SID, From: '+14155550100', To: call.form.To[0],
        CallStatus: 'ringing', SequenceNumber: String(100 + n), CallbackSource: 'call-progress-events', Extra: `${i}-${n}` };
      try {
        const res = await postSigned(url, TOKEN, params);
        extra.push({ run: placed[i].workflow_run_id, params, status: res.status });
      } catch {
        return; // the server died under this request: not acknowledged
      }
    }
  });
  const acked = () => calls.reduce((n, c) => n + c.callbacks.filter((cb) => cb.response.status === 200).length, 0);
  await until(() => acked() >= 8 && extra.length >= 20, 10000);
  assert.ok(calls.some((c) => c.status !== 'completed'), 'calls are still in progress when the server is killed');
  process.kill(live.proc.pid, 'SIGKILL');
  assert.equal((await live.exit).signal, 'SIGKILL');
  live.cleanup();
  hammering = false;
  await Promise.all(hammers);
  await Promise.allSettled(calls.map((c) => c.done));

  live = await startServer({ scriptDir: SOURCE_DIR, dataDir, args: SERVE_ARGS });
  try {
    const client = api(live, org.apiKey);
    const acknowledged = [];
    calls.forEach((c, i) => {
      for (const cb of c.callbacks) {
        if (cb.response.status >= 200 && cb.response.status < 300) acknowledged.push({ run: placed[i].workflow_run_id, params: cb.params });
      }
    });
    for (const e of extra) if (e.status >= 200 && e.status < 300) acknowledged.push(e);
    assert.ok(acknowledged.length >= 28, `${acknowledged.length} acknowledged callbacks`);
    const runs = {};
    for (const [i, p] of placed.entries()) {
      const res = await client.run(p.workflow_run_id);
      assert.equal(res.status, 200, `run ${p.workflow_run_id} lost: ${res.body}`);
      assert.equal(res.json.call_id, calls[i].sid);
      assert.equal(res.json.config_id, org.configs.main.id);
      runs[p.workflow_run_id] = res.json;
    }
    for (const a of acknowledged) {
      const raw = new URLSearchParams(a.params).toString();
      assert.ok(runs[a.run].events.some((e) => e.raw === raw), `an acknowledged callback of ${a.run} is missing: ${raw}`);
    }
    const listed = (await client.get('/api/v1/workflow-runs')).json;
    assert.equal(listed.total, 6);
  } finally {
    await live.stop();
  }
});
