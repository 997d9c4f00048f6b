// dialtone.http.request through the real binary: Lua routes call a node HTTP server on
// loopback (the remote) and report what they got.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { startServer } = require('./lib/server');
const { request } = require('./lib/http');

const ROUTES = `
local route, http = dialtone.route, dialtone.http
local PATTERN = "0123456789abcdef"

local function call(opts)
  local t0 = dialtone.time.monotonic()
  local res, err = http.request(opts)
  local out = { err = err, elapsed = dialtone.time.monotonic() - t0 }
  if res then
    out.status, out.headers, out.body_len = res.status, res.headers, #res.body
    if #res.body <= 65536 then out.body = res.body
    else out.body_ok = res.body == string.rep(PATTERN, #res.body / #PATTERN) end
  end
  return out
end

route.post("/call", function(req) return route.json(200, call(req.json)) end)
route.post("/seq", function(req)
  local outs = {}
  for i = 1, req.json.n do outs[i] = call(req.json.opts) end
  return route.json(200, outs)
end)
route.get("/invalid", function(req)
  local u = "http://127.0.0.1:9/"
  local function msg(opts) local ok, e = pcall(http.request, opts) return ok and "no error" or tostring(e) end
  return route.json(200, {
    no_table = msg(u), no_url = msg({}), scheme = msg({ url = "ftp://127.0.0.1/" }),
    method = msg({ url = u, method = "GE T" }),
    header_crlf = msg({ url = u, headers = { ["x-a"] = "1\\r\\nx-b: 2" } }),
    header_type = msg({ url = u, headers = { ["x-a"] = 1 } }),
    body = msg({ url = u, method = "POST", body = {} }),
    timeout0 = msg({ url = u, timeout = 0 }), timeout_big = msg({ url = u, timeout = 1e9 }),
    retries = msg({ url = u, retries = 1.5 }), unknown = msg({ url = u, timout = 1 }),
    max_response = msg({ url = u, max_response = 0 }),
  })
end)
route.get("/raise", function(req)
  local res = http.request{ url = "gopher://127.0.0.1/" }
  return res
end)
`;

let server;
let remote;
let remoteUrl;
let connections = 0;
const attempts = new Map();

function handleRemote(req, res) {
  const url = new URL(req.url, 'http://x');
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const p = url.pathname;
    if (p === '/echo') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ method: req.method, headers: req.headers, body }));
    } else if (p.startsWith('/status/')) {
      res.statusCode = Number(p.slice(8));
      res.end(`status ${res.statusCode}`);
    } else if (p === '/headers') {
      res.setHeader('x-multi', ['one', 'two']);
      res.setHeader('X-Mixed-Case', 'Value');
      res.end('ok');
    } else if (p === '/big') {
      const n = Number(url.searchParams.get('n'));
      res.setHeader('content-length', n);
      res.end(Buffer.from('0123456789abcdef'.repeat(n / 16)));
    } else if (p === '/chunked-big') { // no content-length: the cap is enforced while reading
      const n = Number(url.searchParams.get('n'));
      res.write('0123456789abcdef'.repeat(n / 32));
      res.end('0123456789abcdef'.repeat(n / 32));
    } else if (p === '/delay') {
      const t = setTimeout(() => res.end('late'), Number(url.searchParams.get('ms')));
      res.on('close', () => clearTimeout(t));
    } else if (p === '/flaky') {
      const key = url.searchParams.get('key');
      const n = (attempts.get(key) || 0) + 1;
      attempts.set(key, n);
      res.statusCode = n <= 2 ? 503 : 200;
      res.end(`attempt ${n}`);
    } else if (p === '/redirect') {
      res.statusCode = 302;
      res.setHeader('location', '/echo');
      res.end();
    } else {
      res.statusCode = 404;
      res.end('nope');
    }
  });
}

before(async () => {
  remote = http.createServer(handleRemote);
  remote.keepAliveTimeout = 30000;
  remote.on('connection', () => { connections++; });
  await new Promise((resolve) => remote.listen(0, '127.0.0.1', resolve));
  remoteUrl = `http://127.0.0.1:${remote.address().port}`;
  server = await startServer({ scripts: { 'routes.lua': ROUTES } });
});

after(async () => {
  await server.stop();
  remote.closeAllConnections();
  await new Promise((resolve) => remote.close(resolve));
});

async function call(opts, timeoutMs = 15000) {
  const r = await request(`${server.url}/call`, { method: 'POST', body: JSON.stringify(opts), timeoutMs,
    headers: { 'content-type': 'application/json' } });
  assert.equal(r.status, 200, r.body);
  return r.json;
}

test('method, headers and body round trip (JSON and form POSTs, PUT, GET)', async () => {
  const json = await call({ method: 'POST', url: `${remoteUrl}/echo`, body: '{"a":1}',
    headers: { 'content-type': 'application/json', 'x-token': 'abc' } });
  assert.equal(json.err, undefined);
  assert.equal(json.status, 200);
  assert.equal(json.headers['content-type'], 'application/json');
  const seen = JSON.parse(json.body);
  assert.equal(seen.method, 'POST');
  assert.equal(seen.body, '{"a":1}');
  assert.equal(seen.headers['content-type'], 'application/json');
  assert.equal(seen.headers['x-token'], 'abc');
  assert.equal(seen.headers.expect, undefined);

  const form = JSON.parse((await call({ method: 'POST', url: `${remoteUrl}/echo`, body: 'a=1&b=x%20y',
    headers: { 'content-type': 'application/x-www-form-urlencoded' } })).body);
  assert.equal(form.body, 'a=1&b=x%20y');
  assert.equal(form.headers['content-type'], 'application/x-www-form-urlencoded');

  const put = JSON.parse((await call({ method: 'PUT', url: `${remoteUrl}/echo`, body: 'x' })).body);
  assert.equal(put.method, 'PUT');
  assert.equal(put.body, 'x');
  const get = JSON.parse((await call({ url: `${remoteUrl}/echo` })).body);
  assert.equal(get.method, 'GET');
  assert.equal(get.body, '');
  const del = JSON.parse((await call({ method: 'DELETE', url: `${remoteUrl}/echo` })).body);
  assert.equal(del.method, 'DELETE');
  const head = await call({ method: 'HEAD', url: `${remoteUrl}/echo` });
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
});

test('404 and 500 are statuses, not errors', async () => {
  for (const s of [200, 404, 500]) {
    const r = await call({ url: `${remoteUrl}/status/${s}` });
    assert.equal(r.err, undefined);
    assert.equal(r.status, s);
    assert.equal(r.body, `status ${s}`);
  }
});

test('response headers have lower-case names; repeated ones are joined with ", "', async () => {
  const r = await call({ url: `${remoteUrl}/headers` });
  assert.equal(r.headers['x-multi'], 'one, two');
  assert.equal(r.headers['x-mixed-case'], 'Value');
  assert.equal(r.headers['content-length'], '2');
});

test('a 3 MiB body arrives whole; past max_response the request fails', async () => {
  const n = 3 << 20;
  const big = await call({ url: `${remoteUrl}/big?n=${n}` });
  assert.equal(big.err, undefined);
  assert.equal(big.body_len, n);
  assert.equal(big.body_ok, true);

  const capped = await call({ url: `${remoteUrl}/big?n=${n}`, max_response: 1 << 20 });
  assert.equal(capped.status, undefined);
  assert.equal(capped.err, `response too large (limit ${1 << 20} bytes)`);
  const chunked = await call({ url: `${remoteUrl}/chunked-big?n=${n}`, max_response: 100000 });
  assert.equal(chunked.err, 'response too large (limit 100000 bytes)');
});

test('a per-request timeout fails with "timeout" in about that time', async () => {
  const r = await call({ url: `${remoteUrl}/delay?ms=2000`, timeout: 0.3 });
  assert.equal(r.err, 'timeout');
  assert.ok(r.elapsed >= 0.25 && r.elapsed < 1.0, `elapsed ${r.elapsed}`);
});

test('a refused connection fails with "connection refused"', async () => {
  const closed = http.createServer();
  await new Promise((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = closed.address().port;
  await new Promise((resolve) => closed.close(resolve));
  const r = await call({ url: `http://127.0.0.1:${port}/` });
  assert.equal(r.err, 'connection refused');
});

test('50 concurrent requests overlap, and the server keeps answering meanwhile', async () => {
  const t0 = Date.now();
  const all = Array.from({ length: 50 }, () => call({ url: `${remoteUrl}/delay?ms=200` }));
  await new Promise((resolve) => setTimeout(resolve, 50));
  const h0 = Date.now();
  const health = await request(`${server.url}/healthz`);
  const healthMs = Date.now() - h0;
  const results = await Promise.all(all);
  const total = Date.now() - t0;
  assert.equal(health.status, 200);
  assert.ok(healthMs < 150, `healthz took ${healthMs} ms`);
  for (const r of results) {
    assert.equal(r.err, undefined);
    assert.equal(r.body, 'late');
  }
  assert.ok(total < 2000, `50 requests took ${total} ms`);
});

test('sequential requests from one handler reuse one connection', async () => {
  const before = connections;
  const r = await request(`${server.url}/seq`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ n: 5, opts: { url: `${remoteUrl}/status/200` } }) });
  assert.equal(r.status, 200);
  assert.equal(r.json.length, 5);
  for (const x of r.json) assert.equal(x.status, 200);
  assert.ok(connections - before <= 1, `${connections - before} new connections for 5 requests`);

  const before2 = connections;
  await request(`${server.url}/seq`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ n: 3, opts: { url: `${remoteUrl}/status/200` } }) });
  assert.equal(connections - before2, 0, 'the cached connection is reused by the next handler too');
});

test('a POST always gets a fresh connection, so curl can never resend it on a dead reused one', async () => {
  const before = connections;
  const r = await request(`${server.url}/seq`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ n: 3, opts: { url: `${remoteUrl}/status/200`, method: 'POST', body: 'x' } }) });
  assert.equal(r.status, 200);
  for (const x of r.json) assert.equal(x.status, 200);
  assert.equal(connections - before, 3, 'one new connection per POST');
});

test('GET is retried with back-off on 503; POST never is', async () => {
  const get = await call({ url: `${remoteUrl}/flaky?key=get`, retries: 3 });
  assert.equal(get.status, 200);
  assert.equal(get.body, 'attempt 3');
  assert.equal(attempts.get('get'), 3);
  assert.ok(get.elapsed >= 0.25, `back-off 100 + 200 ms, elapsed ${get.elapsed}`);

  const post = await call({ method: 'POST', url: `${remoteUrl}/flaky?key=post`, body: 'x', retries: 3 });
  assert.equal(post.status, 503);
  assert.equal(attempts.get('post'), 1);

  const none = await call({ url: `${remoteUrl}/flaky?key=none` });
  assert.equal(none.status, 503);
  assert.equal(attempts.get('none'), 1);
});

test('redirects are not followed unless asked', async () => {
  const r = await call({ url: `${remoteUrl}/redirect` });
  assert.equal(r.status, 302);
  assert.equal(r.headers.location, '/echo');
  const f = await call({ url: `${remoteUrl}/redirect`, follow_redirects: true });
  assert.equal(f.status, 200);
  assert.equal(JSON.parse(f.body).method, 'GET');
});

test('invalid arguments raise clear errors', async () => {
  const r = await request(`${server.url}/invalid`);
  const e = r.json;
  assert.match(e.no_table, /dialtone\.http\.request: expected a table/);
  assert.match(e.no_url, /url is required/);
  assert.match(e.scheme, /url must start with http:\/\/ or https:\/\//);
  assert.match(e.method, /method must be an HTTP token/);
  assert.match(e.header_crlf, /must not contain CR, LF/);
  assert.match(e.header_type, /headers must map names to strings/);
  assert.match(e.body, /body must be a string/);
  assert.match(e.timeout0, /timeout must be more than 0 seconds/);
  assert.match(e.timeout_big, /timeout must be a number between 0 and 3600/);
  assert.match(e.retries, /retries must be a whole number/);
  assert.match(e.unknown, /unknown option timout/);
  assert.match(e.max_response, /max_response must be a number between 1 and/);

  const from = server.log.length;
  const raised = await request(`${server.url}/raise`);
  assert.equal(raised.status, 500);
  const line = (await server.waitForLog(/level=error msg="handler error".*\n/, 3000, from))[0];
  assert.match(line, /routes\.lua:\d+: dialtone\.http\.request: url must start with http/);
});

test('SIGTERM while a request is in flight exits cleanly', async () => {
  const srv = await startServer({ scripts: { 'routes.lua': ROUTES }, args: ['--drain-timeout-ms', '300'] });
  try {
    const inflight = request(`${srv.url}/call`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: `${remoteUrl}/delay?ms=5000`, timeout: 10 }) }).catch(() => null);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const t0 = Date.now();
    await srv.stop();
    assert.ok(Date.now() - t0 < 3000, 'exits soon after the drain timeout');
    await inflight;
  } finally {
    srv.cleanup();
  }
});
