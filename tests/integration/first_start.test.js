// Zero set-up: a fresh data directory gets an organisation "default" that calls through the
// simulated carrier, with an "Echo" workflow; the API key is printed once on stderr and works.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startServer, runCli, SOURCE_DIR } = require('./lib/server');
const { api } = require('./lib/telephony');

test('a fresh data directory: the default organisation places a simulated call; a restart creates nothing', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dialtone-first-'));
  try {
    let server = await startServer({ scriptDir: SOURCE_DIR, dataDir });
    let banner;
    try {
      await server.waitForLog(/Web UI: /); // the banner follows the "listening" line
      banner = server.log;
      const key = banner.match(/API key \(shown only this once[^)]*\): (dt_[A-Za-z0-9_-]{40})/);
      const wf = banner.match(/workflow "Echo" \((wf_[0-9a-f]{16})\)/);
      assert.ok(key && wf, banner);
      assert.match(banner, new RegExp(`Web UI: ${server.url}/`));
      const logLines = server.log.split('\n').filter((l) => l.startsWith('time='));
      assert.ok(logLines.length > 0 && logLines.every((l) => !l.includes(key[1])), 'the key is in no log line');
      const client = api(server, key[1]);
      const configs = await client.get('/api/v1/telephony/configs');
      assert.equal(configs.status, 200, configs.body);
      assert.equal(configs.json.length, 1);
      assert.equal(configs.json[0].provider, 'sim');
      assert.equal(configs.json[0].is_default, true);
      assert.equal(configs.json[0].settings.webhook_secret, '••••••••');
      const res = await client.initiate({ workflow_id: wf[1], phone_number: '+15550100123',
        options: { scenario: { ring: 0.1, steps: [{ tone: 440, ms: 300 }, { hangup_after: 0.6 }] } } });
      assert.equal(res.status, 200, res.body);
      const run = await client.waitRun(res.json.workflow_run_id, (r) => r.cost_state === 'priced', 15000);
      assert.equal(run.status, 'completed');
      assert.equal(run.provider, 'sim');
      assert.ok(run.cost > 0);
    } finally {
      await server.stop();
    }
    server = await startServer({ scriptDir: SOURCE_DIR, dataDir });
    await new Promise((r) => setTimeout(r, 100));
    await server.stop();
    assert.doesNotMatch(server.log, /new data directory|API key/, 'an existing organisation: nothing is created or printed');
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a fresh data directory: `dialtone repl` calls as the default organisation with no key given', () => {
  const r = runCli(['repl', '--listen', '127.0.0.1:0', '--script-dir', SOURCE_DIR, '--log-level', 'warn'], {
    input: 'call("+15550100123", "Echo", { options = { scenario = { ring = 0.1, steps = { { hangup_after = 0.5 } } } } })\n',
    env: { DIALTONE_API_KEY: '' } });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /created the organisation "default"/);
  assert.match(r.stdout, /: initiated via sim/);
  assert.match(r.stdout, /completed\s+sim \(applied\)/);
});
