// The HTTP/1.1 server through the real binary over loopback TCP: keep-alive, pipelining,
// chunked bodies, HEAD, 100-continue, every limit (at small configured values and at the
// defaults), malformed input, timeouts, the connection cap, vanishing clients and a burst.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startServer } = require('./lib/server');
const { request, raw, connect, parseResponses } = require('./lib/http');

const ROUTES = `
local route = dialtone.route
route.get("/slow", function(req) dialtone.time.sleep(0.3) return route.text(200, "slow") end)
route.get("/fast/{n}", function(req) return route.text(200, "fast" .. req.params.n) end)
route.post("/echo", function(req) return route.text(200, req.body) end)
route.post("/len", function(req) return route.json(200, { len = #req.body }) end)
route.get("/page", function(req) return route.text(200, string.rep("0123456789", 30)) end)
`;

const SMALL = { maxHeaderBytes: 1024, maxHeaders: 10, maxUrl: 256, maxBody: 1024, timeoutMs: 300 };
const KiB = 1024;
const MiB = 1024 * 1024;

let def; // default limits
let small; // small limits and short timeouts
let capped; // --max-connections 3
before(async () => {
  [def, small, capped] = await Promise.all([
    startServer({ scripts: { 'routes.lua': ROUTES } }),
    startServer({ scripts: { 'routes.lua': ROUTES }, args: [
      '--max-header-bytes', String(SMALL.maxHeaderBytes), '--max-headers', String(SMALL.maxHeaders),
      '--max-url', String(SMALL.maxUrl), '--max-body', String(SMALL.maxBody),
      '--header-timeout-ms', String(SMALL.timeoutMs), '--idle-timeout-ms', String(SMALL.timeoutMs)] }),
    startServer({ scripts: { 'routes.lua': ROUTES }, args: ['--max-connections', '3'] }),
  ]);
});
after(async () => {
  // stop() asserts exit code 0 and no sanitizer report for each server.
  const results = await Promise.allSettled([def, small, capped].filter(Boolean).map((s) => s.stop()));
  for (const r of results) if (r.status === 'rejected') throw r.reason;
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const get = (path, extra = '') => `GET ${path} HTTP/1.1\r\nHost: t\r\n${extra}\r\n`;
const post = (path, body, extra = '') =>
  `POST ${path} HTTP/1.1\r\nHost: t\r\nContent-Length: ${Buffer.byteLength(body, 'latin1')}\r\n${extra}\r\n${body}`;
const chunkedPost = (path, chunks, extra = '') =>
  `POST ${path} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n${extra}\r\n` +
  chunks.map((c) => `${c.length.toString(16)}\r\n${c}\r\n`).join('') + '0\r\n\r\n';
const headerLines = (n) => Array.from({ length: n }, (_, i) => `X-H${i}: v\r\n`).join('');

/** One exchange on a fresh connection: the single response, and whether the server closed. */
async function exchange(srv, payload, opts = {}) {
  const r = await raw(srv.port, payload, { idleMs: 2000, timeoutMs: 8000, ...opts });
  return { ...r, responses: parseResponses(r.data) };
}

/** The error contract: status, JSON body {"error":{"code","message"}}, connection closed. */
function assertRejected(r, status, code) {
  assert.equal(r.responses.length, 1, `one response expected, got ${JSON.stringify(r.data.slice(0, 300))}`);
  const [res] = r.responses;
  assert.equal(res.status, status, `status line: ${JSON.stringify(r.data.split('\r\n')[0])}`);
  assert.equal(res.headers['content-type'], 'application/json');
  assert.equal(res.headers.connection, 'close');
  assert.ok(res.json && res.json.error, `JSON error body expected, got ${JSON.stringify(res.body)}`);
  if (code) assert.equal(res.json.error.code, code);
  assert.match(res.json.error.code, /^[a-z_]+$/);
  assert.equal(typeof res.json.error.message, 'string');
  assert.ok(res.json.error.message.length > 0);
  assert.equal(r.closed, true, 'the server closes the connection after an error');
}

async function assertWarned(srv, from, status, code) {
  await srv.waitForLog(new RegExp(`level=warn msg="http request rejected" peer=127\\.0\\.0\\.1 status=${status} reason=${code}`), 3000, from);
}

async function assertHealthy(srv) {
  const h = await request(`${srv.url}/healthz`, { timeoutMs: 3000 });
  assert.equal(h.status, 200);
  assert.deepEqual(h.json, { status: 'ok' });
}

// ---- keep-alive, pipelining, chunked, HEAD, 100-continue ----

test('keep-alive: two requests on one connection are both answered and the connection stays open', async () => {
  const c = await connect(def.port);
  try {
    c.write(get('/fast/1'));
    const [first] = await c.responses(1);
    assert.equal(first.status, 200);
    assert.equal(first.body, 'fast1');
    assert.equal(first.headers.connection, 'keep-alive');
    assert.equal(c.closed, false);
    c.write(get('/fast/2'));
    const both = await c.responses(2);
    assert.equal(both[1].status, 200);
    assert.equal(both[1].body, 'fast2');
    assert.equal(c.closed, false, 'still open after the second response');
  } finally { c.destroy(); }
});

test('HTTP/1.0 without keep-alive: the server answers and closes the connection', async () => {
  const r = await exchange(def, 'GET /fast/10 HTTP/1.0\r\n\r\n');
  assert.equal(r.responses.length, 1);
  assert.equal(r.responses[0].status, 200);
  assert.equal(r.responses[0].body, 'fast10');
  assert.equal(r.responses[0].headers.connection, 'close');
  assert.equal(r.closed, true, 'connection closed after the HTTP/1.0 response');
});

test('pipelining: three requests in one write are answered in order, a slow first one included', async () => {
  const c = await connect(def.port);
  try {
    const t0 = Date.now();
    c.write(get('/slow') + get('/fast/1') + get('/fast/2'));
    const rs = await c.responses(3, 5000);
    const elapsed = Date.now() - t0;
    assert.deepEqual(rs.map((r) => r.status), [200, 200, 200]);
    assert.deepEqual(rs.map((r) => r.body), ['slow', 'fast1', 'fast2']);
    assert.ok(elapsed >= 280, `the slow handler sleeps 0.3 s, yet all answered after ${elapsed} ms`);
    assert.equal(c.data, rs.map((r) => r.raw).join(''), 'nothing but the three responses on the wire');
    assert.equal(c.closed, false);
  } finally { c.destroy(); }
});

test('chunked request bodies are de-chunked, across separate writes, with extensions and trailers', async () => {
  const c = await connect(def.port);
  try {
    const writes = ['POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n',
      '6\r\nhello \r\n', '8;note=x\r\nchun', 'ked \r\n', '5\r', '\nworld\r\n', '0\r\nX-Trailer: t\r\n', '\r\n'];
    for (const w of writes) { c.write(w); await sleep(20); }
    const [r] = await c.responses(1);
    assert.equal(r.status, 200);
    assert.equal(r.body, 'hello chunked world');
    // The framing ended exactly: the next request on the connection parses normally.
    c.write(chunkedPost('/echo', ['a', 'bc', 'def']));
    const rs = await c.responses(2);
    assert.equal(rs[1].body, 'abcdef');
  } finally { c.destroy(); }
});

test('HEAD: no body on the wire, and Content-Length equals the GET body length', async () => {
  const c = await connect(def.port);
  try {
    // If the HEAD response carried a body, the GET response would not start right after its headers.
    c.write(`HEAD /page HTTP/1.1\r\nHost: t\r\n\r\n${get('/page')}`);
    const [h, g] = await c.responses(2, 5000, { head: new Set([0]) });
    assert.equal(g.status, 200);
    assert.equal(g.body.length, 300);
    assert.equal(g.headers['content-length'], '300');
    assert.equal(h.status, 200);
    assert.equal(h.headers['content-length'], String(g.body.length));
    assert.ok(h.raw.endsWith('\r\n\r\n'), 'HEAD response is headers only');
    assert.equal(c.data, h.raw + g.raw);
  } finally { c.destroy(); }
});

test('Expect: 100-continue: 100 Continue before the body is sent, then the final response', async () => {
  const c = await connect(def.port);
  try {
    c.write('POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n');
    await c.until((d) => d.includes('\r\n\r\n'), 3000, '100 Continue');
    assert.equal(c.data, 'HTTP/1.1 100 Continue\r\n\r\n');
    await sleep(100);
    assert.equal(c.data, 'HTTP/1.1 100 Continue\r\n\r\n', 'no final response before the body');
    c.write('hello world');
    const rs = await c.responses(2);
    assert.equal(rs[0].status, 100);
    assert.equal(rs[1].status, 200);
    assert.equal(rs[1].body, 'hello world');
  } finally { c.destroy(); }
});

for (const [name, srv, len] of [['the default 1 MiB', () => def, MiB + 1], ['--max-body 1024', () => small, SMALL.maxBody + 1]]) {
  test(`Expect: 100-continue with Content-Length over ${name}: 413 at once, without 100`, async () => {
    const s = srv();
    const from = s.log.length;
    const c = await connect(s.port);
    try {
      c.write(`POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: ${len}\r\n\r\n`);
      await c.responses(1, 3000);
      assert.equal(await c.waitClosed(3000), true, 'connection closed after the 413');
      const r = { data: c.data, closed: c.closed, responses: parseResponses(c.data) };
      assert.ok(!c.data.includes('100 Continue'), `no 100 Continue expected: ${JSON.stringify(c.data)}`);
      assertRejected(r, 413, 'body_too_large');
      await assertWarned(s, from, 413, 'body_too_large');
    } finally { c.destroy(); }
  });
}

// ---- limits ----

// [what, server, accepted request (just inside the limit), rejected request, status, code,
//  body length the accepted request's handler sees]
const LIMITS = [
  ['header bytes (--max-header-bytes 1024)', () => small,
    get('/fast/1', `X-Big: ${'a'.repeat(800)}\r\n`), get('/fast/1', `X-Big: ${'a'.repeat(1100)}\r\n`), 431, 'header_too_large'],
  ['header count (--max-headers 10)', () => small,
    get('/fast/1', headerLines(9)), get('/fast/1', headerLines(10)), 431, 'too_many_headers'],
  ['URL length (--max-url 256)', () => small,
    get(`/fast/${'u'.repeat(250)}`), get(`/fast/${'u'.repeat(251)}`), 414, 'uri_too_long'],
  ['Content-Length body (--max-body 1024)', () => small,
    post('/len', 'b'.repeat(1024)), post('/len', 'b'.repeat(1025)), 413, 'body_too_large', 1024],
  ['chunked body (--max-body 1024)', () => small,
    chunkedPost('/len', ['b'.repeat(1000), 'b'.repeat(24)]), chunkedPost('/len', ['b'.repeat(1000), 'b'.repeat(25)]), 413, 'body_too_large', 1024],
  ['header bytes at the default 16 KiB', () => def,
    get('/fast/1', `X-Big: ${'a'.repeat(15 * KiB)}\r\n`), get('/fast/1', `X-Big: ${'a'.repeat(17 * KiB)}\r\n`), 431, 'header_too_large'],
  ['header count at the default 100', () => def,
    get('/fast/1', headerLines(99)), get('/fast/1', headerLines(100)), 431, 'too_many_headers'],
  ['URL length at the default 8 KiB', () => def,
    get(`/fast/${'u'.repeat(8 * KiB - 6)}`), get(`/fast/${'u'.repeat(9 * KiB)}`), 414, 'uri_too_long'],
  ['Content-Length body at the default 1 MiB', () => def,
    post('/len', 'b'.repeat(MiB)), post('/len', 'b'.repeat(MiB + 1)), 413, 'body_too_large', MiB],
  ['chunked body at the default 1 MiB', () => def,
    chunkedPost('/len', Array(16).fill('b'.repeat(64 * KiB))),
    chunkedPost('/len', [...Array(16).fill('b'.repeat(64 * KiB)), 'b']), 413, 'body_too_large', MiB],
];

for (const [what, srv, okReq, badReq, status, code, okLen] of LIMITS) {
  test(`limit on ${what}: just inside is served; beyond is ${status} with a JSON error, a warn log line, and a close`, async () => {
    const s = srv();
    const c = await connect(s.port);
    try {
      c.write(okReq);
      const [ok] = await c.responses(1);
      assert.equal(ok.status, 200, `inside the limit: ${JSON.stringify(ok.raw.slice(0, 200))}`);
      if (okLen !== undefined) assert.deepEqual(ok.json, { len: okLen });
    } finally { c.destroy(); }
    const from = s.log.length;
    const bad = await exchange(s, badReq);
    assertRejected(bad, status, code);
    await assertWarned(s, from, status, code);
  });
}

// ---- malformed requests ----

const HOSTILE = [
  ['garbage request line', 'GARBAGE\r\n\r\n'],
  ['unknown HTTP version', 'GET / HTTP/9.9\r\nHost: t\r\n\r\n'],
  ['request line without a version (HTTP/0.9)', 'GET /\r\nHost: t\r\n\r\n'],
  ['control character in the target', 'GET /a\x01b HTTP/1.1\r\nHost: t\r\n\r\n'],
  ['TLS handshake bytes', '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03'],
  ['bad chunk size', 'POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n'],
  ['chunk size overflowing 64 bits', 'POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\nabc\r\n0\r\n\r\n'],
  ['chunk longer than its size', 'POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n'],
  ['Content-Length and Transfer-Encoding together', 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n'],
  ['Transfer-Encoding not ending in chunked', 'POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\nabc'],
  ['two different Content-Length values', 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd'],
  ['negative Content-Length', 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n'],
  ['non-numeric Content-Length', 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1x\r\n\r\n'],
  ['NUL in a header value', 'GET /fast/1 HTTP/1.1\r\nHost: t\r\nX-A: a\x00b\r\n\r\n'],
  ['space in a header name', 'GET /fast/1 HTTP/1.1\r\nHost: t\r\nBad Name: x\r\n\r\n'],
  ['whitespace before the colon', 'GET /fast/1 HTTP/1.1\r\nHost : t\r\n\r\n'],
  ['header line without a colon', 'GET /fast/1 HTTP/1.1\r\nHost: t\r\nNoColon\r\n\r\n'],
  ['empty header name', 'GET /fast/1 HTTP/1.1\r\nHost: t\r\n: x\r\n\r\n'],
];

test('malformed requests: each gets a 400 JSON error and a close; the server keeps serving', async () => {
  for (const [what, payload] of HOSTILE) {
    const from = def.log.length;
    const r = await exchange(def, payload);
    try {
      assertRejected(r, 400, 'bad_request');
    } catch (e) {
      e.message = `${what} (${JSON.stringify(payload)}): ${e.message}`;
      throw e;
    }
    await assertWarned(def, from, 400, 'bad_request');
  }
  // A hostile request after a good one on the same connection: the good one is answered first.
  const mixed = await exchange(def, get('/fast/5') + 'GARBAGE\r\n\r\n');
  assert.deepEqual(mixed.responses.map((x) => x.status), [200, 400]);
  assert.equal(mixed.closed, true);
  await assertHealthy(def);
});

// ---- timeouts ----

test('header read timeout: half a request line gets 408 with a JSON error after about --header-timeout-ms', async () => {
  const from = small.log.length;
  const c = await connect(small.port);
  try {
    const t0 = Date.now();
    c.write('GET /fast/1 HT');
    assert.equal(await c.waitClosed(3000), true, 'connection closed');
    const elapsed = c.closedAt - t0;
    assert.ok(elapsed >= SMALL.timeoutMs * 0.8 && elapsed < SMALL.timeoutMs + 1500, `closed after ${elapsed} ms`);
    assertRejected({ data: c.data, closed: c.closed, responses: parseResponses(c.data) }, 408, 'request_timeout');
    await assertWarned(small, from, 408, 'request_timeout');
  } finally { c.destroy(); }
});

for (const [what, head, drip] of [
  ['headers sent a byte at a time', '', 'GET /fast/1 HTTP/1.1\r\nHost: t\r\nX-Slow: ' + 'x'.repeat(200)],
  ['a body that trickles after complete headers', 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 200\r\n\r\n', 'y'.repeat(200)],
]) {
  test(`slowloris: ${what} is cut off with 408`, async () => {
    const c = await connect(small.port);
    try {
      const t0 = Date.now();
      if (head) c.write(head);
      // One byte every 25 ms keeps the connection busy for 5 s unless the server cuts it off.
      for (let i = 0; i < drip.length && !c.closed && c.data === ''; i++) { c.write(drip[i]); await sleep(25); }
      assert.equal(await c.waitClosed(2000), true, 'the server closed the connection');
      const elapsed = c.closedAt - t0;
      assert.ok(elapsed < SMALL.timeoutMs + 1500, `cut off only after ${elapsed} ms`);
      assertRejected({ data: c.data, closed: c.closed, responses: parseResponses(c.data) }, 408, 'request_timeout');
    } finally { c.destroy(); }
  });
}

test('idle keep-alive timeout: an idle connection is closed after about --idle-timeout-ms, not before', async () => {
  const c = await connect(small.port);
  try {
    c.write(get('/fast/1'));
    const [r] = await c.responses(1);
    assert.equal(r.status, 200);
    assert.equal(r.headers.connection, 'keep-alive');
    const t0 = Date.now();
    assert.equal(await c.waitClosed(3000), true, 'idle connection closed by the server');
    const idle = c.closedAt - t0;
    assert.ok(idle >= SMALL.timeoutMs / 2, `closed after only ${idle} ms idle`);
    assert.ok(idle < SMALL.timeoutMs + 1000, `closed after ${idle} ms idle`);
    assert.equal(c.data, r.raw, 'closed without sending anything more');
  } finally { c.destroy(); }
  // A connection that never sends a byte is closed the same way, without a response.
  const quiet = await connect(small.port);
  try {
    const t0 = Date.now();
    assert.equal(await quiet.waitClosed(3000), true);
    const idle = quiet.closedAt - t0;
    assert.ok(idle >= SMALL.timeoutMs / 2 && idle < SMALL.timeoutMs + 1000, `closed after ${idle} ms`);
    assert.equal(quiet.data, '');
  } finally { quiet.destroy(); }
});

// ---- connections ----

test('maximum open connections: the 4th of --max-connections 3 gets 503 and a close; after one closes, a new one is served', async () => {
  const from = capped.log.length;
  const open = [];
  try {
    for (let i = 0; i < 3; i++) {
      const c = await connect(capped.port);
      open.push(c);
      c.write(get('/healthz'));
      const [r] = await c.responses(1);
      assert.equal(r.status, 200, `connection ${i + 1} is served`);
    }
    const fourth = await connect(capped.port);
    open.push(fourth);
    fourth.write(get('/healthz'));
    await fourth.responses(1, 3000);
    assert.equal(await fourth.waitClosed(3000), true, 'the rejected connection is closed');
    assertRejected({ data: fourth.data, closed: fourth.closed, responses: parseResponses(fourth.data) }, 503, 'too_many_connections');
    await assertWarned(capped, from, 503, 'too_many_connections');

    // The three idle connections are still open and served.
    open[1].write(get('/fast/7'));
    const rs = await open[1].responses(2);
    assert.equal(rs[1].body, 'fast7');

    open[0].destroy();
    await sleep(100);
    let served = null;
    for (let attempt = 0; attempt < 10 && !served; attempt++) {
      const c = await connect(capped.port);
      open.push(c);
      c.write(get('/fast/8'));
      const [r] = await c.responses(1, 3000);
      if (r.status === 200) served = r;
      else await sleep(100);
    }
    assert.ok(served, 'a new connection is served once one of the three has closed');
    assert.equal(served.body, 'fast8');
  } finally {
    for (const c of open) c.destroy();
  }
});

test('a client that disconnects while its request runs does not hurt the server', async () => {
  const from = def.log.length;
  const a = await connect(def.port);
  a.write(get('/slow'));
  const b = await connect(def.port);
  b.write(get('/slow') + get('/fast/1') + get('/fast/2')); // more requests queued behind it
  await sleep(50);
  a.destroy();
  b.destroy();
  await sleep(450); // the handlers finish and answer peers that are gone
  await assertHealthy(def);
  const r = await request(`${def.url}/slow`, { timeoutMs: 3000 });
  assert.equal(r.status, 200);
  assert.equal(r.body, 'slow');
  assert.doesNotMatch(def.log.slice(from), /level=error/);
});

test('a bounded burst: 200 requests over 20 keep-alive connections all get 200', async () => {
  const t0 = Date.now();
  const conns = await Promise.all(Array.from({ length: 20 }, () => connect(def.port)));
  try {
    const perConn = await Promise.all(conns.map(async (c, ci) => {
      for (let i = 0; i < 10; i++) {
        c.write(get(`/fast/${ci}-${i}`));
        await c.responses(i + 1, 5000);
      }
      return parseResponses(c.data);
    }));
    for (const [ci, rs] of perConn.entries()) {
      assert.equal(rs.length, 10);
      assert.deepEqual(rs.map((r) => r.status), Array(10).fill(200));
      assert.deepEqual(rs.map((r) => r.body), Array.from({ length: 10 }, (_, i) => `fast${ci}-${i}`));
      assert.equal(conns[ci].closed, false, 'keep-alive connection stays open');
    }
    const elapsed = Date.now() - t0;
    assert.ok(elapsed < 10000, `burst took ${elapsed} ms`);
  } finally {
    for (const c of conns) c.destroy();
  }
  await assertHealthy(def);
});
