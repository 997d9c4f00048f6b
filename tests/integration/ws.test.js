// WebSockets through the real binary, checked against an independent implementation (the npm
// `ws` package) on both sides: Lua routes accepting connections (dialtone.ws.accept) with ws
// as the client, and dialtone.ws.connect from a Lua route against a ws server.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const WebSocket = require('ws');
const { startServer } = require('./lib/server');
const { raw } = require('./lib/http');

const SCRIPT = `
local route, log = dialtone.route, dialtone.log

-- Options for accept from the query string (numbers), so tests can shrink the limits.
local function accept_options(req)
  local o = { protocols = { "chat", "other" } }
  for _, k in ipairs({ "max_message", "max_queued", "ping_interval_ms", "pong_timeout_ms" }) do
    o[k] = tonumber(req.query[k])
  end
  return o
end

route.ws("/echo", function(req)
  local conn, err = dialtone.ws.accept(req, accept_options(req))
  if not conn then
    log.info("accept refused", { err = err })
    return
  end
  while true do
    local data, kind, reason = conn:recv()
    if kind ~= "text" and kind ~= "binary" then
      log.info("echo done", { tag = req.query.tag, code = data, kind = kind, reason = reason })
      break
    end
    assert(conn:send(data, kind))
  end
end)

-- Outlives its connection: the request must stay safe to finish after the socket is gone.
route.ws("/linger", function(req)
  local conn = assert(dialtone.ws.accept(req))
  local code, kind = conn:recv(5)
  dialtone.time.sleep(0.2)
  log.info("linger done", { code = code, kind = kind })
end)

route.ws("/close-with", function(req)
  local conn = assert(dialtone.ws.accept(req))
  local data = conn:recv(5)
  conn:close(tonumber(data) or 4002, "server bye")
  assert(conn:send("late") == nil)
  local _, kind = conn:recv()
  log.info("after close", { kind = kind })
end)

route.ws("/once", function(req)
  local conn = assert(dialtone.ws.accept(req))
  local data, kind = conn:recv(5)
  conn:send(data, kind)
end)

route.ws("/recv-timeout", function(req)
  local conn = assert(dialtone.ws.accept(req))
  local t0 = dialtone.time.monotonic()
  local data, err = conn:recv(0.2)
  conn:send(string.format("%s %s %.2f", tostring(data), err, dialtone.time.monotonic() - t0))
  conn:recv(5)
end)

route.ws("/flood", function(req)
  local conn = assert(dialtone.ws.accept(req, accept_options(req)))
  local chunk, sent = string.rep("x", 65536), 0
  while sent < 256 * 1024 * 1024 do
    local ok, err = conn:send(chunk, "binary")
    if not ok then
      log.info("flood stopped", { sent = sent, err = err })
      return
    end
    sent = sent + #chunk
  end
  log.info("flood not stopped", { sent = sent })
end)

route.ws("/refuse", function(req)
  return route.error(403, "forbidden", "not for you")
end)

-- The client side: connects to a ws server and reports what happened, as JSON.
route.get("/client", function(req)
  local q = req.query
  local conn, err = dialtone.ws.connect(q.url, { subprotocols = { "a", "b" },
    headers = { ["x-test"] = "yes" }, timeout = tonumber(q.timeout) or 5 })
  if not conn then return route.json(200, { error = err }) end
  local result = { protocol = conn.protocol, echoes = {} }
  for size in (q.sizes or ""):gmatch("%d+") do
    for _, kind in ipairs({ "text", "binary" }) do
      local msg = string.rep(kind == "text" and "t" or "\\0", tonumber(size))
      assert(conn:send(msg, kind))
      local data, got = conn:recv(10)
      result.echoes[#result.echoes + 1] = { size = tonumber(size), kind = got, ok = data == msg }
    end
  end
  if q.wait_close then
    conn:send("close-me")
    local code, kind, reason = conn:recv(10)
    result.close = { code = code, kind = kind, reason = reason }
  else
    conn:close(4005, "client bye")
  end
  return route.json(200, result)
end)
`;

let server;
let base;
before(async () => {
  server = await startServer({ scripts: { 'ws.lua': SCRIPT } });
  base = `ws://127.0.0.1:${server.port}`;
});
after(async () => { await server.stop(); });

/** Opens a ws client and resolves once it is open; messages queue in .inbox. */
function open(path, opts = {}, protocols = ['chat']) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(base + path, protocols, { handshakeTimeout: 5000, ...opts });
    ws.inbox = [];
    ws.waiting = [];
    ws.on('message', (data, isBinary) => {
      const m = { data, isBinary };
      const w = ws.waiting.shift();
      if (w) w(m); else ws.inbox.push(m);
    });
    ws.closed = new Promise((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
    ws.on('open', () => resolve(ws));
    ws.on('error', (e) => { if (ws.readyState === WebSocket.CONNECTING) reject(e); });
  });
}

function next(ws, ms = 10000) {
  if (ws.inbox.length) return Promise.resolve(ws.inbox.shift());
  return withTimeout(new Promise((r) => ws.waiting.push(r)), ms, 'message');
}

function withTimeout(p, ms, what) {
  let t;
  return Promise.race([p, new Promise((_, j) => { t = setTimeout(() => j(new Error(`timed out waiting for ${what}`)), ms); })])
    .finally(() => clearTimeout(t));
}

const SIZES = [0, 125, 126, 65535, 65536, 1 << 20];

test('echo: text and binary messages of every length form, both directions', async () => {
  const ws = await open('/echo');
  assert.equal(ws.protocol, 'chat');
  for (const n of SIZES) {
    const text = 'é'.repeat(n >> 1) + 'a'.repeat(n & 1);
    ws.send(text);
    const t = await next(ws);
    assert.equal(t.isBinary, false);
    assert.equal(t.data.toString('utf8'), text, `text of ${n} bytes`);
    const bin = Buffer.alloc(n);
    for (let i = 0; i < n; i++) bin[i] = (i * 31) & 0xff;
    ws.send(bin);
    const b = await next(ws);
    assert.equal(b.isBinary, true);
    assert.ok(Buffer.compare(b.data, bin) === 0, `binary of ${n} bytes`);
  }
  ws.close(1000);
  assert.equal((await ws.closed).code, 1000);
});

test('fragmented messages are reassembled; pings are answered', async () => {
  const ws = await open('/echo');
  ws.send('Hel', { fin: false });
  ws.send('lo, ', { fin: false });
  ws.ping('between fragments');
  ws.send('world', { fin: true });
  const m = await next(ws);
  assert.equal(m.data.toString(), 'Hello, world');
  const pong = new Promise((r) => ws.once('pong', r));
  ws.ping('are you there');
  assert.equal((await withTimeout(pong, 5000, 'pong')).toString(), 'are you there');
  ws.close();
  await ws.closed;
});

test('client close with code and reason reaches the script', async () => {
  const ws = await open('/echo?tag=clientclose');
  ws.close(4001, 'bye now');
  const c = await ws.closed;
  assert.equal(c.code, 4001);
  await server.waitForLog(/msg="echo done".*(?=.*tag=clientclose)(?=.*code=4001)(?=.*reason="bye now")/);
});

test('script closes with a code; sending after close fails', async () => {
  const ws = await open('/close-with', {}, []);
  ws.send('4003');
  const c = await withTimeout(ws.closed, 5000, 'close');
  assert.equal(c.code, 4003);
  assert.equal(c.reason, 'server bye');
  await server.waitForLog(/msg="after close" .*kind=closed/);
});

test('the connection closes (1000) when the handler returns', async () => {
  const ws = await open('/once', {}, []);
  ws.send('only one');
  assert.equal((await next(ws)).data.toString(), 'only one');
  assert.equal((await withTimeout(ws.closed, 5000, 'close')).code, 1000);
});

test('recv with a timeout', async () => {
  const ws = await open('/recv-timeout', {}, []);
  const m = (await next(ws)).data.toString();
  assert.match(m, /^nil timeout 0\.(1\d|2\d|3\d)$/);
  ws.close();
  await ws.closed;
});

/** A handshake over a raw socket, then the given bytes; resolves everything received. */
function rawSession(path, frames, idleMs = 1500) {
  const head = `GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
  return raw(server.port, Buffer.concat([Buffer.from(head, 'latin1'), frames]), { idleMs });
}

test('protocol error (unmasked client frame) → close 1002', async () => {
  const r = await rawSession('/echo?tag=unmasked', Buffer.from('810548656c6c6f', 'hex'));
  assert.match(r.data, /^HTTP\/1\.1 101 /);
  assert.match(r.data, /Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/);
  assert.ok(r.data.endsWith('\x88\x02\x03\xea'), JSON.stringify(r.data.slice(-8)));
  await server.waitForLog(/msg="websocket protocol error; closing".*code=1002/);
  await server.waitForLog(/msg="echo done".*(?=.*tag=unmasked)(?=.*code=1002)/);
});

test('invalid UTF-8 in a text message → close 1007', async () => {
  const ws = await open('/echo');
  ws.send(Buffer.from([0x48, 0xc3, 0x28]), { binary: false });
  assert.equal((await withTimeout(ws.closed, 5000, 'close')).code, 1007);
});

test('message over the size limit → close 1009 (default 1 MiB, and a configured one)', async () => {
  const ws = await open('/echo');
  ws.send(Buffer.alloc((1 << 20) + 1));
  assert.equal((await withTimeout(ws.closed, 5000, 'close')).code, 1009);
  const small = await open('/echo?max_message=1000');
  small.send(Buffer.alloc(1000));
  assert.equal((await next(small)).data.length, 1000);
  small.send('x'.repeat(600), { fin: false });
  small.send('x'.repeat(600), { fin: true });
  assert.equal((await withTimeout(small.closed, 5000, 'close')).code, 1009);
});

test('abrupt TCP reset: the script sees close 1006', async () => {
  const ws = await open('/echo?tag=reset');
  ws.send('hi');
  await next(ws);
  ws._socket.resetAndDestroy();
  await server.waitForLog(/msg="echo done".*(?=.*tag=reset)(?=.*code=1006)/);
});

test('outbound queue cap: a peer that stops reading is closed with 1008 and a log line', async () => {
  const sock = net.connect(server.port, '127.0.0.1');
  await new Promise((r) => sock.on('connect', r));
  sock.on('error', () => {});
  const from = server.log.length;
  sock.write('GET /flood?max_queued=1048576 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n' +
    'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
  sock.pause(); // never read: the server's writes back up
  const m = await server.waitForLog(/msg="websocket outbound queue over its cap; closing".*code=1008.*queued=(\d+).*cap=(\d+)/, 10000, from);
  assert.ok(Number(m[1]) <= Number(m[2]), 'the queue never grows past its cap');
  await server.waitForLog(/msg="flood stopped".*err="outbound queue full"/, 5000, from);
  sock.destroy();
});

test('bad handshakes are answered without upgrading', async () => {
  const req = (extra) => `GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${extra}\r\n`;
  const wrongVersion = await raw(server.port, req('Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n'));
  assert.match(wrongVersion.data, /^HTTP\/1\.1 426 /);
  assert.match(wrongVersion.data, /sec-websocket-version: 13\r\n/i);
  assert.match(wrongVersion.data, /"error":\{"code":"upgrade_required"/);
  const noKey = await raw(server.port, req('Sec-WebSocket-Version: 13\r\n'));
  assert.match(noKey.data, /^HTTP\/1\.1 400 /);
  assert.match(noKey.data, /"code":"bad_websocket_handshake"/);
  const plain = await raw(server.port, 'GET /echo HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.match(plain.data, /^HTTP\/1\.1 426 /);
  const refused = await raw(server.port, req('Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n'.replace('', '')).replace('/echo', '/refuse'));
  assert.match(refused.data, /^HTTP\/1\.1 403 /);
  for (const r of [wrongVersion, noKey, plain, refused]) assert.doesNotMatch(r.data, / 101 /);
});

test('idle ping: a peer that answers stays, one that does not is closed', async () => {
  const q = '/echo?ping_interval_ms=150&pong_timeout_ms=200';
  const alive = await open(q);
  const silent = await open(q, { autoPong: false });
  const c = await withTimeout(silent.closed, 5000, 'close of the silent peer');
  assert.equal(c.code, 1006);
  await server.waitForLog(/msg="websocket peer did not answer a ping; closing"/);
  alive.send('still here');
  assert.equal((await next(alive)).data.toString(), 'still here');
  assert.equal(alive.readyState, WebSocket.OPEN);
  alive.close();
  await alive.closed;
});

// ---- client side: dialtone.ws.connect against the npm ws server ----

function wsServer(opts = {}) {
  return new Promise((resolve) => {
    const wss = new WebSocket.Server({ host: '127.0.0.1', port: 0, handleProtocols: (set) => (set.has('b') ? 'b' : false), ...opts }, () => resolve(wss));
    wss.seen = [];
    wss.on('connection', (ws, req) => {
      wss.seen.push({ headers: req.headers });
      ws.on('message', (data, isBinary) => {
        if (!isBinary && data.toString() === 'close-me') ws.close(4003, 'server says bye');
        else ws.send(data, { binary: isBinary });
      });
      ws.on('close', (code, reason) => { wss.lastClose = { code, reason: reason.toString() }; });
    });
  });
}

async function clientRun(query) {
  const res = await fetch(`${server.url}/client?${new URLSearchParams(query)}`);
  assert.equal(res.status, 200);
  return res.json();
}

test('dialtone.ws.connect: messages of every length form, both kinds, against npm ws', async () => {
  const wss = await wsServer();
  const url = `ws://127.0.0.1:${wss.address().port}/path?x=1`;
  const r = await clientRun({ url, sizes: SIZES.join(',') });
  assert.equal(r.protocol, 'b');
  assert.equal(r.echoes.length, SIZES.length * 2);
  for (const e of r.echoes) assert.ok(e.ok, `echo of ${e.size} bytes ${e.kind}`);
  assert.equal(wss.seen[0].headers['x-test'], 'yes');
  assert.equal(wss.seen[0].headers['sec-websocket-protocol'], 'a, b');
  await withTimeout(new Promise((res) => { const t = setInterval(() => { if (wss.lastClose) { clearInterval(t); res(); } }, 20); }), 5000, 'close at the server');
  assert.deepEqual(wss.lastClose, { code: 4005, reason: 'client bye' });
  await new Promise((res) => wss.close(res));
});

test('dialtone.ws.connect: the server closing with a code reaches the script', async () => {
  const wss = await wsServer();
  const r = await clientRun({ url: `ws://127.0.0.1:${wss.address().port}/`, wait_close: 1 });
  assert.deepEqual(r.close, { code: 4003, kind: 'close', reason: 'server says bye' });
  await new Promise((res) => wss.close(res));
});

test('dialtone.ws.connect: failures are nil, err', async () => {
  const closedPort = await new Promise((res) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); }); });
  assert.match((await clientRun({ url: `ws://127.0.0.1:${closedPort}/` })).error, /cannot connect/);
  assert.match((await clientRun({ url: 'wss://127.0.0.1/' })).error, /wss:\/\/ is not supported/);
  assert.match((await clientRun({ url: 'http://127.0.0.1/' })).error, /invalid WebSocket URL/);
  const mute = net.createServer((s) => s.on('error', () => {}));
  await new Promise((res) => mute.listen(0, '127.0.0.1', res));
  const t0 = Date.now();
  assert.match((await clientRun({ url: `ws://127.0.0.1:${mute.address().port}/`, timeout: 0.3 })).error, /timed out/);
  assert.ok(Date.now() - t0 < 3000);
  const http = net.createServer((s) => { s.on('error', () => {}); s.on('data', () => s.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')); });
  await new Promise((res) => http.listen(0, '127.0.0.1', res));
  assert.match((await clientRun({ url: `ws://127.0.0.1:${http.address().port}/` })).error, /handshake refused \(status 200\)/);
  const big = net.createServer((s) => { s.on('error', () => {}); s.on('data', () => s.write(`HTTP/1.1 101 OK\r\nX: ${'y'.repeat(17000)}\r\n\r\n`)); });
  await new Promise((res) => big.listen(0, '127.0.0.1', res));
  assert.match((await clientRun({ url: `ws://127.0.0.1:${big.address().port}/` })).error, /larger than 16 KiB/);
  for (const s of [mute, http, big]) s.close();
});

test('shutdown with open connections, a waiting recv and a connect in progress exits cleanly', async () => {
  const own = await startServer({ scripts: { 'ws.lua': SCRIPT }, args: ['--drain-timeout-ms', '300'] });
  const mute = net.createServer((s) => s.on('error', () => {}));
  await new Promise((res) => mute.listen(0, '127.0.0.1', res));
  const ws = new WebSocket(`ws://127.0.0.1:${own.port}/echo`);
  await new Promise((r, j) => { ws.on('open', r); ws.on('error', j); });
  const closed = new Promise((r) => ws.on('close', (code) => r(code)));
  const pending = fetch(`${own.url}/client?${new URLSearchParams({ url: `ws://127.0.0.1:${mute.address().port}/`, timeout: 30 })}`)
    .then((r) => r.status, () => 'failed');
  await new Promise((r) => setTimeout(r, 200));
  await own.stop();
  assert.ok([1000, 1006].includes(await withTimeout(closed, 5000, 'close')));
  assert.ok([503, 'failed'].includes(await pending));
  mute.close();
});

test('a handler that outlives its connection finishes safely', async () => {
  const own = await startServer({ scripts: { 'ws.lua': SCRIPT } });
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${own.port}/linger`);
    await new Promise((r, j) => { ws.on('open', r); ws.on('error', j); });
    ws._socket.resetAndDestroy();
    await own.waitForLog(/msg="linger done".*code=1006/);
  } finally {
    await own.stop();
  }
});
