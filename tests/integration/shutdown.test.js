// SIGTERM/SIGINT: stop accepting, let in-flight requests finish up to the drain timeout, exit 0.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { startServer } = require('./lib/server');
const { request } = require('./lib/http');

const SLOW = `dialtone.route.get("/slow", function(req)
  dialtone.time.sleep(tonumber(req.query.s))
  return dialtone.route.text(200, "done")
end)`;

const refused = (port) => new Promise((resolve) => {
  const s = net.connect(port, '127.0.0.1');
  s.on('connect', () => { s.destroy(); resolve(false); });
  s.on('error', () => resolve(true));
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  test(`${sig} lets the request in flight finish, refuses new connections, and exits 0`, async () => {
    const server = await startServer({ scripts: { 'slow.lua': SLOW } });
    const slow = request(`${server.url}/slow?s=0.8`);
    await new Promise((r) => setTimeout(r, 200));
    server.signal(sig);
    await server.waitForLog(/stop signal; draining/);
    assert.equal(await refused(server.port), true, 'new connections are refused while draining');
    const r = await slow;
    assert.equal(r.status, 200);
    assert.equal(r.body, 'done');
    await server.exit;
    await server.stop();
    assert.match(server.log, /drained; exiting/);
  });
}

test('the drain timeout bounds the wait for requests that do not finish', async () => {
  const server = await startServer({ scripts: { 'slow.lua': SLOW }, args: ['--drain-timeout-ms', '300'] });
  const slow = request(`${server.url}/slow?s=30`).catch((e) => ({ error: e }));
  await new Promise((r) => setTimeout(r, 100));
  const t0 = Date.now();
  server.signal('SIGTERM');
  await server.exit;
  assert.ok(Date.now() - t0 < 3000, 'exited soon after the drain timeout');
  await server.stop();
  assert.match(server.log, /drain timeout/);
  const r = await slow;
  assert.ok(r.error || r.status === 503, 'the unfinished request was not answered as a success');
});
