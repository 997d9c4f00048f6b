// Small HTTP helpers for tests: a request with a hard timeout, and raw socket exchanges.
'use strict';
const http = require('node:http');
const net = require('node:net');

/** One HTTP request on a fresh connection; resolves {status, headers, body, json}. */
function request(url, { method = 'GET', headers = {}, body, timeoutMs = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, body: text, json });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`request to ${url} timed out`)));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/**
 * Writes raw bytes to the server and collects everything it sends until it closes the
 * connection or idleMs passes without data. Resolves {data, closed}.
 */
function raw(port, payload, { idleMs = 1000, timeoutMs = 10000, writes = null } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = Buffer.alloc(0);
    let idle;
    const finish = (closed) => { clearTimeout(idle); clearTimeout(hard); sock.destroy(); resolve({ data: data.toString('latin1'), closed }); };
    const arm = () => { clearTimeout(idle); idle = setTimeout(() => finish(false), idleMs); };
    const hard = setTimeout(() => finish(false), timeoutMs);
    sock.on('connect', async () => {
      arm();
      if (writes) {
        for (const w of writes) { if (typeof w === 'number') await new Promise((r) => setTimeout(r, w)); else sock.write(w); }
      } else {
        sock.write(payload);
      }
    });
    sock.on('data', (d) => { data = Buffer.concat([data, d]); arm(); });
    sock.on('end', () => finish(true));
    sock.on('error', (e) => (e.code === 'ECONNRESET' ? finish(true) : reject(e)));
  });
}

module.exports = { request, raw };

/**
 * An open raw connection for step-by-step exchanges. Collects everything received in .data
 * (latin1); .closed turns true once the server ends or resets the connection. Writes after
 * the connection is gone are dropped (the server may close first on purpose).
 */
class RawConn {
  constructor(sock) {
    this.sock = sock;
    this.data = '';
    this.closed = false;
    this.closedAt = null;
    this.waiters = new Set();
    sock.on('data', (d) => { this.data += d.toString('latin1'); this.notify(); });
    const onClose = () => {
      if (!this.closed) { this.closed = true; this.closedAt = Date.now(); }
      this.notify();
    };
    sock.on('end', onClose);
    sock.on('close', onClose);
    sock.on('error', onClose); // ECONNRESET, EPIPE: the server is gone, which tests check for
  }

  notify() { for (const w of [...this.waiters]) w(); }

  write(bytes) {
    if (this.closed || this.sock.destroyed) return false;
    this.sock.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
    return true;
  }

  /** Resolves with .data once pred(data, conn) is true; rejects after timeoutMs (or on close). */
  until(pred, timeoutMs = 5000, what = 'data') {
    const test = typeof pred === 'function' ? pred : (d) => pred.test(d);
    return new Promise((resolve, reject) => {
      let timer;
      const check = () => {
        if (test(this.data, this)) { done(); return resolve(this.data); }
        if (this.closed) { done(); return reject(new Error(`connection closed waiting for ${what}; got ${JSON.stringify(this.data.slice(0, 500))}`)); }
      };
      const done = () => { clearTimeout(timer); this.waiters.delete(check); };
      timer = setTimeout(() => { done(); reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got ${JSON.stringify(this.data.slice(0, 500))}`)); }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  /** Resolves once n complete responses are received (see parseResponses); returns them. */
  async responses(n, timeoutMs = 5000, opts = {}) {
    await this.until((d) => parseResponses(d, opts).length >= n, timeoutMs, `${n} response(s)`);
    return parseResponses(this.data, opts);
  }

  /** Resolves true when the server closes the connection within timeoutMs, else false. */
  waitClosed(timeoutMs = 5000) {
    return this.until((d, c) => c.closed, timeoutMs, 'close').then(() => true, () => this.closed);
  }

  destroy() { this.sock.destroy(); }
}

/** Connects to 127.0.0.1:port; resolves a RawConn once connected. */
function connect(port, { timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const timer = setTimeout(() => { sock.destroy(); reject(new Error('connect timed out')); }, timeoutMs);
    sock.once('connect', () => { clearTimeout(timer); sock.removeListener('error', reject); resolve(new RawConn(sock)); });
    sock.once('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

/**
 * Splits a received byte stream (latin1) into complete HTTP/1.1 responses framed by
 * Content-Length (1xx, 204 and 304 have no body; opts.head = a set of response indexes that
 * answer HEAD, whose body is not sent). Each: {status, reason, headers (lower-case names),
 * body, json, raw}. A trailing incomplete response is left out.
 */
function parseResponses(data, { head = new Set() } = {}) {
  const out = [];
  let pos = 0;
  while (pos < data.length) {
    const end = data.indexOf('\r\n\r\n', pos);
    if (end < 0) break;
    const lines = data.slice(pos, end).split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(lines[0]);
    if (!m) throw new Error(`not a status line: ${JSON.stringify(lines[0])}`);
    const headers = {};
    for (const line of lines.slice(1)) {
      const i = line.indexOf(':');
      headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    const status = Number(m[1]);
    const index = out.filter((r) => r.status >= 200).length;
    const hasBody = status >= 200 && status !== 204 && status !== 304 && !head.has(index);
    const len = hasBody ? Number(headers['content-length'] || 0) : 0;
    const bodyStart = end + 4;
    if (data.length < bodyStart + len) break;
    const body = data.slice(bodyStart, bodyStart + len);
    let json;
    try { json = JSON.parse(body); } catch { json = undefined; }
    out.push({ status, reason: m[2], headers, body, json, raw: data.slice(pos, bodyStart + len) });
    pos = bodyStart + len;
  }
  return out;
}

module.exports.RawConn = RawConn;
module.exports.connect = connect;
module.exports.parseResponses = parseResponses;
