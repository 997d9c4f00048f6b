// The waits of the call-flow API: call:recv's timeout and end, dialtone.media.accept's wait for
// the carrier's start, and a flow that runs out of Lua memory while it waits. The event that
// wakes a flow is turned into Lua values by the flow itself, so an allocation that fails raises
// in the flow (which is stopped) instead of in a libuv callback, where LuaJIT could only end
// the process.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const WebSocket = require('ws');
const { startServer } = require('./lib/server');
const { twilio, frame } = require('./lib/twilio');
const { until } = require('./lib/wait');

const LIMIT_MIB = 24;

const FLOWS = {
  'workflows/waits.lua': `
return { run = function(call)
  local n = select("#", call:recv(0.05))
  local ev, why = call:recv(0.05)
  call:mark("waited:" .. tostring(ev) .. ":" .. why .. ":" .. n)
  n = select("#", call:recv(5)) -- the mark, echoed
  ev = assert(call:recv(5))
  local after_n = select("#", call:recv(5))
  local _, after_why = call:recv(5)
  dialtone.log.info("waits done", { event = ev.type, n = n, after = after_why, after_n = after_n })
end }`,
  // Fills the state's memory to within a few bytes of the cap (the collector stopped, so the
  // count is exact), places a mark (which the fake carrier echoes) and waits for that event.
  // The flow sees the error; nothing it does after needs memory, and the cap then stops it.
  'workflows/hog.lua': `
return { rate = 8000, run = function(call)
  assert(call:recv(5)) -- the wait path has run once: the flow's stack has grown to fit it
  local LIMIT, SPARE = ${LIMIT_MIB} * 1024 * 1024, 100
  local function left() return LIMIT - collectgarbage("count") * 1024 end
  collectgarbage("collect")
  collectgarbage("stop")
  local keep, n = {}, 0
  for i = 1, 4096 do keep[i] = false end
  while left() > 40000 do n = n + 1; keep[n] = string.rep("x", 30000 - n) end
  while left() > SPARE + 25 do -- a string costs 25 bytes more than its length
    n = n + 1
    keep[n] = string.rep(string.char(65 + n % 26), math.min(left() - SPARE - 25, 20000))
  end
  call:mark("full")
  local ok, err = pcall(call.recv, call, 5)
  call:mark(not ok and err == "not enough memory" and "memory error in the flow" or "no memory error")
  while true do end
end }`,
  'workflows/ping.lua': `
return { run = function(call)
  local ev = assert(call:recv(5))
  call:mark("got:" .. ev.type)
  call:hangup()
end }`,
  'media.lua': `
local flow = require("dialtone.flow")
dialtone.route.ws("/media/{workflow}", function(req) return flow.serve_twilio(req, req.params.workflow) end)
local function counted(...) return select("#", ...), ... end
dialtone.route.ws("/late", function(req)
  local n, call, err = counted(dialtone.media.accept(req, { protocol = "twilio", start_timeout = 0.1 }))
  dialtone.log.info("late start", { n = n, call = tostring(call), err = err })
end)`,
};

let server;
before(async () => { server = await startServer({ scripts: FLOWS, args: ['--lua-memory-limit', `${LIMIT_MIB}M`] }); });
after(async () => { await server.stop(); });

test('call:recv times out with nil, "timeout", returns events one value, and nil, "ended" after the stop', async () => {
  const from = server.log.length;
  const t = await twilio(server.port, '/media/waits');
  await until(() => t.got.marks.length > 0);
  assert.deepEqual(t.got.marks, ['waited:nil:timeout:2']);
  t.stop();
  await server.waitForLog(/msg="waits done"(?=.* after=ended\b)(?=.* after_n=2\b)(?=.* event=stop\b)(?=.* n=1\b)/, 5000, from);
  assert.equal(await t.closed, 1000);
});

test('dialtone.media.accept gives up on a stream that never starts, and hangs it up', async () => {
  const from = server.log.length;
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/late`);
  const closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
  assert.equal(await closed, 1000);
  await server.waitForLog(/msg="late start"(?=.* call=nil\b)(?=.* err="no start message from the carrier in time")(?=.* n=2\b)/, 5000, from);
});

test('running out of memory while waiting in call:recv stops the flow, not the server', async () => {
  const from = server.log.length;
  const t = await twilio(server.port, '/media/hog');
  t.dtmf('1');
  assert.equal(await t.closed, 1000, 'the stopped flow\'s call is hung up');
  await server.waitForLog(/websocket handler error.*path=\/media\/hog.*memory limit exceeded/, 5000, from);
  assert.equal(t.got.marks[0], 'full');
  // The flow may be stopped before its second mark: the cap's check runs every 1000 instructions.
  assert.ok(t.got.marks.length === 1 || t.got.marks[1] === 'memory error in the flow', `marks: ${t.got.marks}`);

  const next = await twilio(server.port, '/media/ping');
  next.media(frame(1));
  await until(() => next.got.marks.length > 0);
  assert.deepEqual(next.got.marks, ['got:audio'], 'the server still runs flows');
  assert.equal(await next.closed, 1000);
});
