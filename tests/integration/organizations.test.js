// dialtone.telephony.get_provider(organization_id [, config_name]) builds an organisation's provider
// from the organisations file (until the store holds configurations): the default configuration,
// a named one, clear errors for what is missing or invalid, and edits seen without a restart.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { startServer } = require('./lib/server');
const { request } = require('./lib/http');
const { makeServiceRoot, organizationsFile, writeOrganizations } = require('./lib/telephony');

const SID = 'AC' + 'ab'.repeat(16);
const TOKEN = 'cd'.repeat(16);
const twilioConfig = (extra = {}) => ({ provider: 'twilio', account_sid: SID, auth_token: TOKEN,
  from_numbers: ['+14155550100'], ...extra });

const ROUTE = `
dialtone.route.get("/get-provider", function(req)
  local p, second = dialtone.telephony.get_provider(req.query.org, req.query.config)
  if not p then return dialtone.route.json(200, { error = second }) end
  local again = dialtone.telephony.get_provider(req.query.org, req.query.config)
  return dialtone.route.json(200, { name = p.name, config = second, reused = again == p,
    from = p.initiate_call ~= nil })
end)
`;

let server;
let file;
const orgs = {
  acme: { apiKey: 'k1', defaultConfig: 'eu', telephony: { us: twilioConfig(), eu: twilioConfig({ api_base_url: 'https://api.dublin.ie1.twilio.com' }) } },
  solo: { apiKey: 'k2', telephony: { only: twilioConfig() } },
  broken: { apiKey: 'k3', telephony: { main: twilioConfig({ account_sid: 'nope' }) } },
  exotic: { apiKey: 'k4', telephony: { main: { provider: 'carrier_pigeon' } } },
  empty: { apiKey: 'k5', telephony: {} },
};

before(async () => {
  file = organizationsFile(orgs);
  server = await startServer({ scriptDir: makeServiceRoot({ scripts: { 'get_provider_route.lua': ROUTE } }),
    args: ['--organizations-file', file] });
});

after(async () => {
  await server.stop();
  fs.rmSync(file, { force: true });
});

const get = async (org, config) => {
  const q = new URLSearchParams({ org, ...(config ? { config } : {}) });
  const r = await request(`${server.url}/get-provider?${q}`);
  assert.equal(r.status, 200, r.body);
  return r.json;
};

test('the default configuration, a named one, the only one; instances are reused', async () => {
  assert.deepEqual(await get('acme'), { name: 'twilio', config: 'eu', reused: true, from: true });
  assert.deepEqual(await get('acme', 'us'), { name: 'twilio', config: 'us', reused: true, from: true });
  assert.deepEqual(await get('solo'), { name: 'twilio', config: 'only', reused: true, from: true });
});

test('clear errors: unknown organisation, missing or invalid configuration, unknown provider', async () => {
  assert.match((await get('nobody')).error, /unknown organisation 'nobody'/);
  assert.match((await get('acme', 'asia')).error, /organisation 'acme' has no telephony configuration 'asia'/);
  assert.match((await get('empty')).error, /organisation 'empty' has no telephony configuration/);
  assert.match((await get('broken')).error, /configuration 'main': invalid configuration: account_sid must be AC/);
  assert.match((await get('exotic')).error, /provider 'carrier_pigeon' is not offered/);
});

test('edits to the organisations file apply without a restart; a malformed file is a clear error', async () => {
  writeOrganizations(file, { ...orgs, solo: { apiKey: 'k2', telephony: { renamed: twilioConfig() } } });
  assert.equal((await get('solo')).config, 'renamed');
  fs.writeFileSync(file, '{"organizations": ');
  assert.match((await get('solo')).error, /organisations file .*organizations\.json/);
  writeOrganizations(file, orgs);
  assert.equal((await get('solo')).config, 'only');
});
