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
