// The Lua host through the real binary: routes, request objects, responses, errors, waits,
// the sandbox, and the CPU and memory limits.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startServer } = require('./lib/server');
const { request } = require('./lib/http');

const ROUTES = `
local route = dialtone.route
route.get("/hello", function(req) return route.text(200, "hello") end)
route.get("/users/{id}/calls/{call}", function(req)
  return route.json(200, { id = req.params.id, call = req.params.call, route = req.route })
end)
route.post("/echo", function(req)
  return route.json(201, {
    method = req.method, path = req.path, target = req.target, query = req.query,
    query_all = req.query_all, header = req.headers["x-test"], body = req.body,
    form = req.form, form_all = req.form_all, json = req.json, json_error = req.json_error,
    peer = req.peer, loopback = req.loopback,
  }, { ["x-reply"] = "yes" })
end)
route.put("/echo", function(req) return "plain string" end)
route.get("/boom", function(req)
  local t = nil
  return t.field
end)
route.get("/bad-response", function(req) return 42 end)
route.get("/sleep", function(req)
  local t0 = dialtone.time.monotonic()
  dialtone.time.sleep(tonumber(req.query.s) or 0.3)
  return route.json(200, { slept = dialtone.time.monotonic() - t0 })
end)
route.get("/wait-in-coroutine", function(req)
  local co = coroutine.create(function() dialtone.time.sleep(0.01) end)
  local ok, err = coroutine.resume(co)
  return route.json(200, { ok = ok, err = err })
end)
route.get("/log", function(req)
  dialtone.log.info("handler says hi", { who = "tester", ["bad key"] = 1 })
  return route.text(200, "logged")
end)
`;

const SANDBOX = `
local route = dialtone.route
local function probe(f) local ok, err = pcall(f) return { ok = ok, err = tostring(err) } end
route.get("/sandbox", function(req)
  return route.json(200, {
    io = probe(function() return io.open("/etc/passwd") end),
    os_execute = probe(function() return os.execute("true") end),
    os_getenv = probe(function() return os.getenv("HOME") end),
    os_time = probe(function() return os.time() end),
    ffi = probe(function() return require("ffi") end),
    debug = probe(function() return debug.getinfo(1) end),
    jit = probe(function() return jit.off() end),
    dump = probe(function() return string.dump(print) end),
    bytecode = probe(function() local f, err = load("\\27LJ\\2") assert(f, err) end),
    loadstring = probe(function() return loadstring("return 1") end),
    read_global = probe(function() return undefined_thing end),
    write_global = probe(function() leaked = 1 end),
    text_load = probe(function() return assert(load("return 7"))() end),
  })
end)
route.get("/spin", function(req) while true do end end)
route.get("/spin-arith", function(req) local x = 0 while true do x = x + 1 end end)
route.get("/spin-pcall", function(req)
  while true do pcall(function() while true do end end) end
end)
route.get("/too-big", function(req)
  local ok = pcall(string.rep, "x", 128 * 1024 * 1024) -- refused at once, caught, and the handler ends
  return route.json(200, { caught = not ok })
end)
route.get("/count", function(req)
  local n = 0
  for i = 1, 200000 do n = n + i % 7 end -- many hook checks
  return route.json(200, { n = n })
end)
route.get("/hog", function(req)
  local t = {}
  local i = 0
  while true do i = i + 1 t[i] = string.rep("x", 1024) .. i end
end)
`;

let server;
before(async () => {
  server = await startServer({ scripts: { 'routes.lua': ROUTES, 'sandbox.lua': SANDBOX },
    args: ['--cpu-budget-ms', '300', '--lua-memory-limit', '64MiB'] });
});
after(async () => { await server.stop(); });

test('routes match literal paths and decode {params}; unknown paths are 404, wrong methods 405', async () => {
  assert.equal((await request(`${server.url}/hello`)).body, 'hello');
  const p = await request(`${server.url}/users/a%20b/calls/42`);
  assert.equal(p.status, 200);
  assert.deepEqual(p.json, { id: 'a b', call: '42', route: '/users/{id}/calls/{call}' });
  const nf = await request(`${server.url}/nope`);
  assert.equal(nf.status, 404);
  assert.equal(nf.json.error.code, 'not_found');
  const na = await request(`${server.url}/hello`, { method: 'DELETE' });
  assert.equal(na.status, 405);
  assert.equal(na.headers.allow, 'GET');
  assert.equal(na.json.error.code, 'method_not_allowed');
});

test('HEAD runs the GET route and sends no body', async () => {
  const r = await request(`${server.url}/hello`, { method: 'HEAD' });
  assert.equal(r.status, 200);
  assert.equal(r.body, '');
  assert.equal(r.headers['content-length'], '5');
});

test('the request object carries method, path, query, headers, body, form (repeated keys) and JSON', async () => {
  const form = await request(`${server.url}/echo?a=1&a=2&b=x%20y`, {
    method: 'POST', headers: { 'x-test': 'T', 'content-type': 'application/x-www-form-urlencoded' },
    body: 'To=%2B15551234&Digits=1&Digits=2&empty=',
  });
  assert.equal(form.status, 201);
  assert.equal(form.headers['x-reply'], 'yes');
  assert.equal(form.headers['content-type'], 'application/json');
  assert.equal(form.json.method, 'POST');
  assert.equal(form.json.path, '/echo');
  assert.equal(form.json.target, '/echo?a=1&a=2&b=x%20y');
  assert.deepEqual(form.json.query, { a: '1', b: 'x y' });
  assert.deepEqual(form.json.query_all, { a: ['1', '2'], b: ['x y'] });
  assert.equal(form.json.header, 'T');
  assert.equal(form.json.peer, '127.0.0.1');
  assert.equal(form.json.loopback, true);
  assert.deepEqual(form.json.form, { To: '+15551234', Digits: '1', empty: '' });
  assert.deepEqual(form.json.form_all, { To: ['+15551234'], Digits: ['1', '2'], empty: [''] });
  assert.equal(form.json.json, undefined);
  assert.match(form.json.json_error, /./);

  const json = await request(`${server.url}/echo`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"n": 3, "list": [1, "two"]}',
  });
  assert.deepEqual(json.json.json, { n: 3, list: [1, 'two'] });
  assert.equal(json.json.json_error, false);
  assert.deepEqual(json.json.form, {}, 'a JSON body is not parsed as a form');

  const bad = await request(`${server.url}/echo`, { method: 'POST', body: '{"n": ' });
  assert.equal(bad.status, 201);
  assert.equal(bad.json.json, undefined);
  assert.match(bad.json.json_error, /./);
});

test('a handler may return a plain string', async () => {
  const r = await request(`${server.url}/echo`, { method: 'PUT' });
  assert.equal(r.status, 200);
  assert.equal(r.body, 'plain string');
  assert.match(r.headers['content-type'], /^text\/plain/);
});

test('a handler that raises gives a JSON 500, a log line with file:line, and the server keeps serving', async () => {
  const from = server.log.length;
  const r = await request(`${server.url}/boom`);
  assert.equal(r.status, 500);
  assert.equal(r.json.error.code, 'internal_error');
  const line = (await server.waitForLog(/level=error msg="handler error".*\n/, 3000, from))[0];
  assert.match(line, /routes\.lua:\d+: attempt to index/);
  assert.match(line, /stack traceback/);
  assert.match(line, /path=\/boom/);
  assert.equal((await request(`${server.url}/hello`)).status, 200);
  const bad = await request(`${server.url}/bad-response`);
  assert.equal(bad.status, 500);
  assert.match(server.log.slice(from), /returned number/);
});

test('waits yield: concurrent sleeping requests overlap instead of queueing', async () => {
  const t0 = Date.now();
  const all = await Promise.all([1, 2, 3, 4, 5].map(() => request(`${server.url}/sleep?s=0.4`)));
  const elapsed = Date.now() - t0;
  for (const r of all) {
    assert.equal(r.status, 200);
    assert.ok(r.json.slept >= 0.39, `slept ${r.json.slept}`);
  }
  assert.ok(elapsed < 1500, `5 sleeps of 0.4 s took ${elapsed} ms: they did not overlap`);
  assert.equal((await request(`${server.url}/hello`)).status, 200);
});

test('a wait where the code cannot yield raises a clear error', async () => {
  const r = await request(`${server.url}/wait-in-coroutine`);
  assert.equal(r.json.ok, false);
  assert.match(r.json.err, /dialtone\.time\.sleep cannot wait inside a coroutine created by the script/);
});

test('dialtone.log writes logfmt with the request id and generation', async () => {
  const from = server.log.length;
  await request(`${server.url}/log`);
  const line = (await server.waitForLog(/.*msg="handler says hi".*\n/, 3000, from))[0];
  assert.match(line, /level=info/);
  assert.match(line, /gen=\d+/);
  assert.match(line, /request_id=\d+/);
  assert.match(line, /who=tester/);
  assert.match(line, /bad_key=1/);
});

test('the sandbox: no io, os beyond time/clock/date, ffi, debug, jit, bytecode; strict globals', async () => {
  const r = (await request(`${server.url}/sandbox`)).json;
  for (const name of ['io', 'os_execute', 'os_getenv', 'ffi', 'debug', 'jit', 'dump', 'bytecode', 'loadstring']) {
    assert.equal(r[name].ok, false, `${name} should be refused: ${JSON.stringify(r[name])}`);
  }
  assert.match(r.io.err, /unknown global 'io'/);
  assert.match(r.ffi.err, /module 'ffi' not found/);
  assert.match(r.read_global.err, /unknown global 'undefined_thing'/);
  assert.match(r.write_global.err, /assignment to unknown global 'leaked'/);
  assert.equal(r.os_time.ok, true);
  assert.equal(r.text_load.ok, true);
});

for (const [path, what] of [['/spin', 'an empty loop'], ['/spin-arith', 'a loop the JIT would compile'],
  ['/spin-pcall', 'a loop that catches errors with pcall']]) {
  test(`the CPU budget stops ${what} with a 500 and a log line; the next request is served`, async () => {
    const from = server.log.length;
    const t0 = Date.now();
    const r = await request(`${server.url}${path}`);
    const elapsed = Date.now() - t0;
    assert.equal(r.status, 500);
    assert.equal(r.json.error.code, 'cpu_budget_exceeded');
    assert.ok(elapsed >= 250 && elapsed < 5000, `stopped after ${elapsed} ms with a 300 ms budget`);
    await server.waitForLog(new RegExp(`msg="handler stopped".*path=${path} reason="CPU budget exceeded"`), 3000, from);
    assert.equal((await request(`${server.url}/hello`)).body, 'hello');
  });
}

test('the memory cap stops a handler that allocates without bound; memory is returned', async () => {
  const r = await request(`${server.url}/hog`);
  assert.equal(r.status, 500);
  assert.equal(r.json.error.code, 'memory_limit_exceeded');
  assert.equal((await request(`${server.url}/hello`)).body, 'hello');
  const status = (await request(`${server.url}/admin/status`)).json;
  assert.ok(status.lua_memory_bytes < 32 * 1024 * 1024, `still holding ${status.lua_memory_bytes} bytes`);
});

test('a handler that catches a refused allocation and ends does not get the next handler stopped', async () => {
  const big = await request(`${server.url}/too-big`);
  assert.equal(big.status, 200, big.body);
  assert.equal(big.json.caught, true);
  for (let i = 0; i < 3; i++) {
    const r = await request(`${server.url}/count`);
    assert.equal(r.status, 200, r.body);
  }
});

test('/healthz answers and /metrics counts requests by route and status, script errors and connections', async () => {
  assert.deepEqual((await request(`${server.url}/healthz`)).json, { status: 'ok' });
  await request(`${server.url}/users/1/calls/2`);
  const m = await request(`${server.url}/metrics`);
  assert.equal(m.status, 200);
  assert.match(m.body, /dialtone_http_requests_total\{route="\/users\/\{id\}\/calls\/\{call\}",method="GET",status="200"\} \d+/);
  assert.match(m.body, /dialtone_http_requests_total\{route="unmatched",method="GET",status="404"\} \d+/);
  assert.match(m.body, /dialtone_http_request_duration_seconds_bucket\{route="\/hello",le="\+Inf"\} \d+/);
  assert.match(m.body, /dialtone_script_errors_total\{kind="error"\} [1-9]/);
  assert.match(m.body, /dialtone_http_open_connections \d+/);
});
