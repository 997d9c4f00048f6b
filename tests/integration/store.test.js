// The store behind `dialtone serve`: a run acknowledged with a 2xx survives kill -9 and is read
// by the next server on the same data_dir; a database that cannot be opened stops the server
// with exit 1 and a log line saying why.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { BIN, startServer, makeScriptDir } = require('./lib/server');
const { request } = require('./lib/http');

const SCRIPT = `
local route, store = dialtone.route, dialtone.store
route.post("/runs/{id}", function(req)
  local run, err = store.create_run({ id = req.params.id, to_number = req.body })
  if not run then return route.error(409, "not_created", err) end
  assert(store.add_event(run.id, { source = "test", raw = req.body }))
  return route.json(201, run)
end)
route.get("/runs/{id}", function(req)
  local run = store.get_run(req.params.id)
  if not run then return route.error(404, "not_found", "no such run") end
  run.events = dialtone.json.array(store.events(run.id))
  return route.json(200, run)
end)
`;

test('a run acknowledged with a 2xx survives kill -9; the next server reads it', async (t) => {
  const scriptDir = makeScriptDir({ 'runs.lua': SCRIPT });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dialtone-store-'));
  t.after(() => {
    fs.rmSync(scriptDir, { recursive: true, force: true });
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
  const first = await startServer({ scriptDir, args: ['--data-dir', dataDir] });
  const created = await request(`${first.url}/runs/run-1`, { method: 'POST', body: '+15550001' });
  assert.equal(created.status, 201, created.body);
  assert.equal(created.json.to_number, '+15550001');
  first.signal('SIGKILL');
  assert.equal((await first.exit).signal, 'SIGKILL');
  first.cleanup();

  const second = await startServer({ scriptDir, args: ['--data-dir', dataDir] });
  try {
    const got = await request(`${second.url}/runs/run-1`);
    assert.equal(got.status, 200, got.body);
    assert.equal(got.json.to_number, '+15550001');
    assert.equal(got.json.created_at, created.json.created_at);
    assert.equal(got.json.events.length, 1);
    assert.equal(got.json.events[0].raw, '+15550001');
    const again = await request(`${second.url}/runs/run-1`, { method: 'POST', body: 'x' });
    assert.equal(again.status, 409);
    assert.equal(again.json.error.message, 'exists');
  } finally {
    await second.stop();
  }
  assert.ok(fs.existsSync(path.join(dataDir, 'dialtone.db')), 'the database is <data_dir>/dialtone.db');
});

test('serve exits 1 with a clear message when the database cannot be opened', (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dialtone-store-'));
  t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dataDir, 'dialtone.db')); // a directory where the file should be
  const r = spawnSync(BIN, ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir],
    { encoding: 'utf8', timeout: 30000, cwd: dataDir, input: '' });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /level=error msg="cannot open the database" error="cannot open database .*dialtone\.db/);
  assert.doesNotMatch(r.stderr, /msg=listening/);
});
