// `cmake --install` puts the binary and the Lua trees where an installed dialtone finds them;
// a binary run from the build tree uses the source tree's scripts.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { runCli, SOURCE_DIR } = require('./lib/server');

const BUILD_DIR = process.env.DIALTONE_BUILD_DIR || path.join(SOURCE_DIR, 'build');

test('the build-tree binary finds the source tree scripts', () => {
  const r = runCli(['check']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), `ok: scripts in ${fs.realpathSync(SOURCE_DIR)} load`);
});

test('an installed binary finds the installed scripts, wherever the prefix is', () => {
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'dialtone-prefix-'));
  try {
    const inst = spawnSync('cmake', ['--install', BUILD_DIR, '--prefix', prefix], { encoding: 'utf8', timeout: 60000 });
    assert.equal(inst.status, 0, inst.stderr);
    for (const f of ['bin/dialtone', 'share/dialtone/lua/dialtone/router.lua', 'share/dialtone/scripts/hello.lua']) {
      assert.ok(fs.existsSync(path.join(prefix, f)), `${f} installed`);
    }
    const check = spawnSync(path.join(prefix, 'bin/dialtone'), ['check'], { encoding: 'utf8', cwd: os.tmpdir(), timeout: 30000 });
    assert.equal(check.status, 0, check.stderr);
    assert.equal(check.stdout.trim(), `ok: scripts in ${fs.realpathSync(prefix)}/share/dialtone load`);
  } finally {
    fs.rmSync(prefix, { recursive: true, force: true });
  }
});
