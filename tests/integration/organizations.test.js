// dialtone.telephony.get_provider(organization_id [, config_id]) builds an organisation's provider
// from its configurations in the store (organisations made with the CLI, configurations through
// the API): the default configuration, a given one, clear errors for what is missing or invalid,
// instances reused while a configuration is unchanged, and edits seen without a restart.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startServer } = require('./lib/server');
const { request } = require('./lib/http');
const { makeServiceRoot, setupOrganization } = require('./lib/telephony');

const SID = 'AC' + 'ab'.repeat(16);
const TOKEN = 'cd'.repeat(16);
const twilioConfig = (extra = {}) => ({ provider: 'twilio', account_sid: SID, auth_token: TOKEN,
  from_numbers: ['+14155550100'], ...extra });

// get_provider as a script calls it; `same` says whether the instance is the one the previous
// request for that organisation and configuration got. /store-config stores a configuration
// the API would refuse (as one saved before its provider changed or went away).
const ROUTE = `
local seen = {}
dialtone.route.get("/get-provider", function(req)
  local p, second, name = dialtone.telephony.get_provider(req.query.org, req.query.config)
  if not p then return dialtone.route.json(200, { error = second }) end
  local again = dialtone.telephony.get_provider(req.query.org, req.query.config)
  local key = req.query.org .. "/" .. tostring(req.query.config)
  local same = seen[key] == p
  seen[key] = p
  return dialtone.route.json(200, { name = p.name, config = second, config_name = name, reused = again == p,
    same = same, from = p.initiate_call ~= nil })
end)
dialtone.route.post("/store-config", function(req)
  local b = req.json
  local cfg, err = dialtone.store.create_config(b.org, { name = b.name, provider = b.provider, settings = b.settings })
  if not cfg then return dialtone.route.json(500, { error = err }) end
  return dialtone.route.json(201, cfg)
end)
`;

let server;
let acme;
let solo;
let broken;
let exotic;
let empty;

before(async () => {
  server = await startServer({ scriptDir: makeServiceRoot({ scripts: { 'get_provider_route.lua': ROUTE } }) });
  acme = await setupOrganization(server, { name: 'Acme', defaultConfig: 'eu',
    configs: { us: twilioConfig(), eu: twilioConfig({ api_base_url: 'https://api.dublin.ie1.twilio.com' }) } });
  solo = await setupOrganization(server, { name: 'Solo', configs: { only: twilioConfig() } });
  broken = await setupOrganization(server, { name: 'Broken' });
  exotic = await setupOrganization(server, { name: 'Exotic' });
  empty = await setupOrganization(server, { name: 'Empty' });
  const store = async (org, name, provider, settings) => {
    const r = await request(`${server.url}/store-config`, { method: 'POST',
      body: JSON.stringify({ org: org.id, name, provider, settings }) });
    assert.equal(r.status, 201, r.body);
    org.configs[name] = r.json;
  };
  await store(broken, 'main', 'twilio', { account_sid: 'nope', auth_token: TOKEN });
  await store(exotic, 'main', 'carrier_pigeon', {});
});

after(async () => {
  await server.stop();
});

const get = async (org, config) => {
  const q = new URLSearchParams({ org, ...(config ? { config } : {}) });
  const r = await request(`${server.url}/get-provider?${q}`);
  assert.equal(r.status, 200, r.body);
  return r.json;
};

test('the default configuration, a given one, the only one; instances are reused', async () => {
  const eu = acme.configs.eu.id;
  const us = acme.configs.us.id;
  assert.deepEqual(await get(acme.id), { name: 'twilio', config: eu, config_name: 'eu', reused: true, same: false, from: true });
  assert.equal((await get(acme.id)).same, true, 'the same instance while the configuration is unchanged');
  assert.deepEqual(await get(acme.id, us), { name: 'twilio', config: us, config_name: 'us', reused: true, same: false, from: true });
  assert.equal((await get(solo.id)).config, solo.configs.only.id);
});

test('clear errors: unknown organisation, missing or invalid configuration, unknown provider', async () => {
  assert.match((await get('org_0000000000000000')).error, /unknown organisation 'org_0000000000000000'/);
  assert.match((await get(acme.id, 'cfg_0000000000000000')).error,
    new RegExp(`organisation '${acme.id}' has no telephony configuration 'cfg_0000000000000000'`));
  const others = solo.configs.only.id;
  assert.match((await get(acme.id, others)).error, new RegExp(`has no telephony configuration '${others}'`),
    "another organisation's configuration is not found");
  assert.match((await get(empty.id)).error, new RegExp(`organisation '${empty.id}' has no telephony configuration$`));
  assert.match((await get(broken.id)).error, /configuration 'main' \(cfg_[0-9a-f]+\): invalid configuration: account_sid must be AC/);
  assert.match((await get(exotic.id)).error, /provider 'carrier_pigeon' is not offered/);
});

test('edits through the API apply without a restart: a new instance, then reused again', async () => {
  const only = solo.configs.only;
  assert.equal((await get(solo.id, only.id)).same, false);
  assert.equal((await get(solo.id, only.id)).same, true);
  const put = await solo.api.put(`/api/v1/telephony/configs/${only.id}`, { name: 'renamed' });
  assert.equal(put.status, 200, put.body);
  const after = await get(solo.id, only.id);
  assert.equal(after.config_name, 'renamed');
  assert.equal(after.same, false, 'a changed configuration builds a new instance');
  assert.equal((await get(solo.id, only.id)).same, true);
  // the default follows the organisation's choice, and a deleted configuration is gone
  const second = await solo.api.post('/api/v1/telephony/configs', { name: 'second', provider: 'twilio',
    settings: { account_sid: SID, auth_token: TOKEN }, is_default: true });
  assert.equal(second.status, 201, second.body);
  assert.equal((await get(solo.id)).config_name, 'second');
  assert.equal((await solo.api.del(`/api/v1/telephony/configs/${only.id}`)).status, 204);
  assert.match((await get(solo.id, only.id)).error, /has no telephony configuration/);
});
