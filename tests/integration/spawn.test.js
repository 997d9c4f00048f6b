// dialtone.task.spawn in the server: a background task goes on after its request has been
// answered, and one still waiting when the server stops does not hold the shutdown.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { startServer } = require('./lib/server');
const { request } = require('./lib/http');

const SCRIPT = `
local route = dialtone.route
route.post("/later", function(req)
  local seconds = tonumber(req.query.seconds)
  dialtone.task.spawn(function()
    dialtone.time.sleep(seconds)
    dialtone.log.info("background done", { seconds = seconds })
  end)
  return route.json(202, { queued = true })
end)
`;

test('a background task outlives its request; one still waiting does not hold the shutdown', async () => {
  const server = await startServer({ scripts: { 'later.lua': SCRIPT } });
  const res = await request(`${server.url}/later?seconds=0.1`, { method: 'POST' });
  assert.equal(res.status, 202);
  await server.waitForLog(/msg="background done".*seconds=0.1/);
  assert.equal((await request(`${server.url}/later?seconds=60`, { method: 'POST' })).status, 202);
  const started = Date.now();
  await server.stop();
  assert.ok(Date.now() - started < 5000, 'stopped without waiting for the sleeping task');
  assert.match(server.log, /background task stopped.*the server is stopping/);
});
