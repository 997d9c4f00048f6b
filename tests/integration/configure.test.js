// A missing dependency stops CMake's configure step with the Debian package to install.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { SOURCE_DIR } = require('./lib/server');

function configure(args, env) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dialtone-configure-'));
  try {
    return spawnSync('cmake', ['-S', SOURCE_DIR, '-B', dir, ...args],
      { encoding: 'utf8', timeout: 60000, env: { ...process.env, ...env } });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('a library pkg-config cannot find names its Debian package', () => {
  const r = configure([], { PKG_CONFIG_LIBDIR: '/nonexistent', PKG_CONFIG_PATH: '' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /luajit not found by pkg-config: install the Debian package\s+libluajit2-5\.1-dev/);
});

test('missing llhttp sources name node-llhttp', () => {
  const r = configure(['-DLLHTTP_SOURCE_DIR=/nonexistent'], {});
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /install the Debian package\s+node-llhttp/);
});
