// The web UI's files as served, without a browser: types, revalidation, security headers, and no
// way out of scripts/web/ (tests/browser drives the pages themselves in Chromium).
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startServer, SOURCE_DIR } = require('./lib/server');
const { request } = require('./lib/http');

test('serves the page and its assets with their types, revalidation and no path escapes', async () => {
  const server = await startServer({ scriptDir: SOURCE_DIR });
  try {
    const index = await request(`${server.url}/`);
    assert.equal(index.status, 200);
    assert.match(index.headers['content-type'], /^text\/html/);
    assert.match(index.headers['content-security-policy'], /script-src 'self'/);
    assert.equal(index.headers['cache-control'], 'no-cache');
    const js = await request(`${server.url}/web/app.js`);
    assert.equal(js.status, 200);
    assert.match(js.headers['content-type'], /^text\/javascript/);
    assert.equal(js.body, fs.readFileSync(path.join(SOURCE_DIR, 'scripts/web/app.js'), 'utf8'));
    const again = await request(`${server.url}/web/app.js`, { headers: { 'if-none-match': js.headers.etag } });
    assert.equal(again.status, 304);
    assert.equal(again.body, '');
    assert.match((await request(`${server.url}/web/style.css`)).headers['content-type'], /^text\/css/);
    for (const p of ['/web/..%2Fweb.lua', '/web/..%2F..%2FREADME.md', '/web/%2Fetc%2Fpasswd', '/web/web.lua', '/web/missing.js']) {
      const r = await request(`${server.url}${p}`);
      assert.equal(r.status, 404, `${p} answered ${r.status}`);
      assert.doesNotMatch(r.body, /route\.get|dialtone\.assets|root:/);
    }
  } finally {
    await server.stop();
  }
});
