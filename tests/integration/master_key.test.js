// The master key of `dialtone serve` and `dialtone run`: a fresh data directory gets one (0600,
// synced); once the database holds configurations sealed under it, a missing key file stops
// them with a clear message instead of a new key that opens none of them.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { BIN, SOURCE_DIR, startServer } = require('./lib/server');

const MISSING_RE = /level=error msg="cannot load the master key; not starting".*master\.key: missing, but dialtone\.db holds sealed telephony configurations; restore the key file or set DIALTONE_MASTER_KEY/;

/** `dialtone serve` on dataDir, expected to exit by itself: {status, stderr}. */
function serveUntilExit(dataDir, env = {}) {
  const r = spawnSync(BIN, ['serve', '--listen', '127.0.0.1:0', '--script-dir', SOURCE_DIR, '--data-dir', dataDir],
    { encoding: 'utf8', timeout: 20000, env: { ...process.env, DIALTONE_MASTER_KEY: '', ...env } });
  return { status: r.status, stderr: r.stderr };
}

/** Starts the server, waits for waitFor in its log (when given) and stops it; its log. */
async function serveOnce(dataDir, env = {}, waitFor = null) {
  const server = await startServer({ scriptDir: SOURCE_DIR, dataDir, env: { DIALTONE_MASTER_KEY: '', ...env } });
  try {
    if (waitFor) await server.waitForLog(waitFor);
  } finally {
    await server.stop();
  }
  return server.log;
}

test('a missing master.key with sealed configurations: serve refuses to start and creates no key', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dialtone-mkey-'));
  t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const keyFile = path.join(dataDir, 'master.key');
  // A fresh data directory: the key is created, and the first start seals the simulated
  // carrier's configuration under it.
  assert.match(await serveOnce(dataDir, {}, /Web UI: /), /created the organisation "default"/);
  assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600);
  const key = fs.readFileSync(keyFile, 'utf8');
  assert.equal(Buffer.from(key.trim(), 'base64').length, 32);

  fs.rmSync(keyFile);
  const r = serveUntilExit(dataDir);
  assert.notEqual(r.status, 0, r.stderr);
  assert.match(r.stderr, MISSING_RE);
  assert.doesNotMatch(r.stderr, /msg=listening/);
  assert.ok(!fs.existsSync(keyFile), 'no new key file');
  assert.deepEqual(fs.readdirSync(dataDir).filter((f) => f.startsWith('master.key')), [], 'nor a temporary one');
  // `dialtone run` opens the same data directory the same way
  const script = path.join(dataDir, 'noop.lua');
  fs.writeFileSync(script, 'return 0\n');
  const run = spawnSync(BIN, ['run', '--data-dir', dataDir, script], { encoding: 'utf8', timeout: 20000,
    env: { ...process.env, DIALTONE_MASTER_KEY: '' } });
  assert.notEqual(run.status, 0, run.stderr);
  assert.match(run.stderr, /dialtone run: .*master\.key: missing, but dialtone\.db holds sealed telephony configurations/);
  assert.ok(!fs.existsSync(keyFile), 'no new key file from run either');

  // The key from the environment opens the data, and still no file is made.
  const viaEnv = await serveOnce(dataDir, { DIALTONE_MASTER_KEY: key.trim() });
  assert.doesNotMatch(viaEnv, /cannot decrypt|new data directory/);
  assert.ok(!fs.existsSync(keyFile));

  // The key file restored: the server starts as before.
  fs.writeFileSync(keyFile, key, { mode: 0o600 });
  assert.doesNotMatch(await serveOnce(dataDir), /cannot decrypt|new data directory/);
  assert.equal(fs.readFileSync(keyFile, 'utf8'), key, 'the key is unchanged');
});

test('a data directory with a database but no sealed configuration still gets a new key', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dialtone-mkey-'));
  t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const keyFile = path.join(dataDir, 'master.key');
  // An organisation without configurations (made with the CLI, which needs no key).
  const org = spawnSync(BIN, ['org', 'create', 'Acme', '--data-dir', dataDir], { encoding: 'utf8', timeout: 20000 });
  assert.equal(org.status, 0, org.stderr);
  assert.ok(fs.existsSync(path.join(dataDir, 'dialtone.db')));
  assert.ok(!fs.existsSync(keyFile));
  await serveOnce(dataDir);
  assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600);
  assert.equal(Buffer.from(fs.readFileSync(keyFile, 'utf8').trim(), 'base64').length, 32);
});
