// A provider with bugs loses nothing and takes nothing down: initiate_call raising fails the run
// (500, the run not left waiting), and a status that is not a normalized one is kept as an event
// that changes nothing.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { startServer } = require('./lib/server');
const { request } = require('./lib/http');
const { makeServiceRoot, setupOrganization, TEST_FLOW } = require('./lib/telephony');

const RAISES = '+15550100999';

// Minimal on purpose: its webhooks verify without a signature, and its callbacks say
// {"call_id", "status"} with the status passed on unnormalized.
const FAULTY = `
local p = {
  name = "faulty", title = "Faulty",
  fields = { { name = "api_key", label = "API key", type = "string", secret = true, required = true } },
  audio = { encoding = "mulaw", rate = 8000 },
}
function p.validate_config() return true end
function p.initiate_call(to_number)
  if to_number == "${RAISES}" then error("index a nil value (a bug)") end
  return { call_id = "call-1", status = "initiated" }
end
function p.get_call_status() return nil, "not kept" end
function p.get_available_phone_numbers() return {} end
function p.verify_webhook_signature() return true end
function p.get_webhook_response() return "" end
function p.get_call_cost() return nil, "unavailable" end
function p.parse_status_callback(data) return { call_id = data.call_id, status = data.status } end
function p.handle_websocket() return nil, "no media" end
return p
`;

let root;
let server;
let acme;
let WF;

before(async () => {
  root = makeServiceRoot({ providers: { faulty: FAULTY }, workflows: { test_flow: TEST_FLOW } });
  server = await startServer({ scriptDir: root });
  acme = await setupOrganization(server, { name: 'Acme', workflows: { Flow: 'test_flow' },
    configs: { main: { provider: 'faulty', api_key: 'k' } } });
  WF = acme.workflows.Flow;
});

after(async () => {
  if (server) await server.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

test('initiate_call raising: 500, the run failed with an event, the server still answers', async () => {
  const res = await acme.api.initiate({ workflow_id: WF, phone_number: RAISES, workflow_run_id: 'run-raises' });
  assert.equal(res.status, 500, res.body);
  assert.equal(res.json.error.code, 'provider_error');
  assert.equal(res.json.workflow_run_id, 'run-raises');
  assert.doesNotMatch(res.body, /a nil value/, 'the Lua error stays in the log');
  await server.waitForLog(/provider raised placing a call(?=.*run=run-raises).*a nil value/);
  const run = (await acme.api.run('run-raises')).json;
  assert.equal(run.status, 'failed');
  assert.equal(run.media_state, 'done');
  assert.deepEqual(run.events.map((e) => [e.source, e.status, e.outcome]), [['initiate', 'failed', 'applied']]);
  assert.equal((await request(`${server.url}/healthz`)).status, 200);
});

test('a body that is JSON but not an object is a 400 naming it', async () => {
  const res = await request(`${server.url}/api/v1/telephony/initiate-call`, { method: 'POST',
    headers: { authorization: `Bearer ${acme.apiKey}`, 'content-type': 'application/json' }, body: '["x"]' });
  assert.equal(res.status, 400, res.body);
  assert.equal(res.json.error.code, 'invalid_json');
});

test('a callback with an unnormalized status is kept as an event and changes nothing', async () => {
  const placed = await acme.api.initiate({ workflow_id: WF, phone_number: '+15550100123', workflow_run_id: 'run-cb' });
  assert.equal(placed.status, 200, placed.body);
  const weird = await request(`${server.url}/api/v1/telephony/events/run-cb`, { method: 'POST',
    headers: { 'content-type': 'application/json' }, body: JSON.stringify({ call_id: 'call-1', status: 'weird' }) });
  assert.equal(weird.status, 200, weird.body);
  assert.equal(weird.json.outcome, 'invalid_status');
  const run = (await acme.api.run('run-cb')).json;
  assert.equal(run.status, 'initiated');
  assert.deepEqual(run.events.map((e) => [e.source, e.outcome]), [['initiate', 'applied'], ['faulty', 'invalid_status']]);
  assert.match(run.events[1].raw, /"status":"weird"/);
  await server.waitForLog(/provider gave a status that is not a normalized one(?=.*run=run-cb).*weird/);
});
