// A cost fetch cut short by a crash is picked up again when the server starts: the run that
// ended before the kill -9 gets its price from the restarted server.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startServer } = require('./lib/server');
const { startFakeTwilio } = require('./lib/fake_twilio');
const { makeServiceRoot, setupOrganization, api, TEST_FLOW } = require('./lib/telephony');

const SID = 'AC' + '0123456789abcdef'.repeat(2);
const TOKEN = '0123456789abcdef'.repeat(2);

test('a run that ended before a kill -9 is priced by the restarted server', async () => {
  const fake = await startFakeTwilio({ sid: SID, token: TOKEN });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dialtone-resume-'));
  const scriptDir = makeServiceRoot({ workflows: { test_flow: TEST_FLOW } });
  let server = await startServer({ scriptDir, dataDir });
  try {
    const org = await setupOrganization(server, { name: 'Acme', workflows: { Flow: 'test_flow' },
      configs: { main: { provider: 'twilio', account_sid: SID, auth_token: TOKEN, from_numbers: ['+14155550100'],
        api_base_url: fake.url } } });
    fake.scenario = { ...fake.scenario, outcome: 'busy', priceDelayMs: null }; // not priced before the crash
    const res = await org.api.initiate({ workflow_id: org.workflows.Flow, phone_number: '+14155550123' });
    assert.equal(res.status, 200, res.body);
    const call = await fake.nextCall();
    await call.done;
    const id = res.json.workflow_run_id;
    const ended = await org.api.waitRun(id, (r) => r.status === 'busy');
    assert.equal(ended.cost_state, undefined, 'the first attempt comes a second after the end');
    server.signal('SIGKILL');
    assert.equal((await server.exit).signal, 'SIGKILL');
    server.cleanup();

    call.price = '-0.00700';
    server = await startServer({ scriptDir, dataDir });
    await server.waitForLog(/msg="cost fetches resumed".*runs=1/);
    const priced = await api(server, org.apiKey).waitRun(id, (r) => r.cost_state === 'priced', 10000);
    assert.equal(priced.cost, 0.007);
    assert.equal(priced.currency, 'USD');
  } finally {
    await server.stop();
    await fake.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(scriptDir, { recursive: true, force: true });
  }
});
