// The command line: commands, exit statuses, `run` and `check`, and configuration layering
// (file, then DIALTONE_* environment, then flags).
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { runCli, startServer, makeScriptDir } = require('./lib/server');

const tmp = (name, text) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dialtone-cli-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
};

test('version and help print to stdout and exit 0', () => {
  const v = runCli(['version']);
  assert.equal(v.status, 0);
  assert.match(v.stdout, /^dialtone \d+\.\d+\.\d+ \(LuaJIT/);
  const h = runCli(['help']);
  assert.equal(h.status, 0);
  for (const word of ['serve', 'run FILE.lua', 'check', '--listen', '--public-url', '--cpu-budget-ms']) {
    assert.ok(h.stdout.includes(word), `help mentions ${word}`);
  }
});

test('an unknown command, an unknown flag or no command prints usage on stderr and exits 2', () => {
  for (const args of [['frobnicate'], ['serve', '--no-such-flag', '1'], [], ['serve', '--listen'], ['run']]) {
    const r = runCli(args);
    assert.equal(r.status, 2, `${args.join(' ')} exits 2`);
    assert.match(r.stderr, /usage: dialtone/);
    assert.equal(r.stdout, '');
  }
});

test('run: the script gets its arguments and the bindings; its return value is the exit status', () => {
  const file = tmp('s.lua', `
    local a, b = ...
    assert(arg[1] == a and arg[2] == b and arg[0]:match("s%.lua$"))
    local t0 = dialtone.time.monotonic()
    dialtone.time.sleep(0.05)
    assert(dialtone.time.monotonic() - t0 >= 0.045)
    assert(dialtone.json.decode(dialtone.json.encode({ x = 1 })).x == 1)
    dialtone.log.info("from run", { a = a })
    return tonumber(b)`);
  const r = runCli(['run', file, 'hello', '7']);
  assert.equal(r.status, 7);
  assert.match(r.stderr, /msg="from run".*a=hello/);
  assert.equal(runCli(['run', file, 'x', '0']).status, 0);
  assert.equal(runCli(['run', tmp('f.lua', 'return false')]).status, 1);
  assert.equal(runCli(['run', tmp('n.lua', 'local x = 1')]).status, 0);
  // Flags for the script after FILE are the script's, not dialtone's.
  assert.equal(runCli(['run', tmp('a.lua', 'return select("#", ...)'), '--weird', 'y']).status, 2);
});

test('run: an error exits 1 with file:line and a traceback; a missing file exits 1', () => {
  const r = runCli(['run', tmp('e.lua', 'local x = 1\nerror("kaput")')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /e\.lua:2: kaput/);
  assert.match(r.stderr, /stack traceback/);
  const syntax = runCli(['run', tmp('s.lua', 'x = = 1')]);
  assert.equal(syntax.status, 1);
  assert.match(syntax.stderr, /s\.lua:1:/);
  const missing = runCli(['run', '/nonexistent/x.lua']);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /cannot open/);
});

test('check loads every script as a reload would: 0 when fine, 1 with file:line on any error', () => {
  const good = makeScriptDir({ 'a.lua': 'dialtone.route.get("/a", function() return "a" end)' });
  const ok = runCli(['check', '--script-dir', good]);
  assert.equal(ok.status, 0, ok.stderr);
  const bad = makeScriptDir({ 'a.lua': 'dialtone.route.get("/a", function() return "a" end)',
    'workflows/deep.lua': 'return {\n run = function(call)\n end end' });
  const r = runCli(['check', '--script-dir', bad]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /workflows\/deep\.lua:3:/);
  const dup = makeScriptDir({ 'a.lua': 'dialtone.route.get("/a", function() end)\ndialtone.route.get("/a", function() end)' });
  const d = runCli(['check', '--script-dir', dup]);
  assert.equal(d.status, 1);
  assert.match(d.stderr, /a\.lua:2: route GET \/a is already defined/);
  const wait = makeScriptDir({ 'w.lua': 'local x = 1\ndialtone.time.sleep(1)' });
  const w = runCli(['check', '--script-dir', wait]);
  assert.equal(w.status, 1);
  assert.match(w.stderr, /w\.lua:2: dialtone\.time\.sleep cannot wait here/);
  const spin = makeScriptDir({ 's.lua': 'while true do end' });
  const sp = runCli(['check', '--script-dir', spin, '--cpu-budget-ms', '200']);
  assert.equal(sp.status, 1, 'a script that never finishes loading is stopped by the CPU budget');
  assert.match(sp.stderr, /s\.lua: CPU budget exceeded while loading/);
});

test('configuration: the file, then DIALTONE_* variables, then flags, each overriding the one before', async () => {
  const conf = tmp('dialtone.conf', '# settings\npublic_url = https://from-file.example\nlog_level = debug\n');
  const from = async (args, env) => {
    const s = await startServer({ args: ['--config', conf, ...args], env });
    const url = s.log.match(/public_url=(\S+)/)[1];
    await s.stop();
    return url;
  };
  assert.equal(await from([], {}), 'https://from-file.example');
  assert.equal(await from([], { DIALTONE_PUBLIC_URL: 'https://from-env.example' }), 'https://from-env.example');
  assert.equal(await from(['--public-url', 'https://from-flag.example'], { DIALTONE_PUBLIC_URL: 'https://from-env.example' }),
    'https://from-flag.example');
});

test('serve with no configuration at all uses the defaults; bad settings exit 1 naming the problem', async () => {
  const s = await startServer();
  assert.match(s.log, /public_url=http:\/\/127\.0\.0\.1:\d+ /);
  assert.doesNotMatch(s.log, /public_url=http:\/\/127\.0\.0\.1:0 /);
  await s.stop();
  const badValue = runCli(['serve', '--max-body', 'lots']);
  assert.equal(badValue.status, 1);
  assert.match(badValue.stderr, /--max-body: 'lots' is not a size/);
  const badFile = runCli(['serve', '--config', tmp('x.conf', 'listen = 127.0.0.1:0\nno_such_key = 1\n')]);
  assert.equal(badFile.status, 1);
  assert.match(badFile.stderr, /x\.conf:2.*no_such_key/);
  const badEnv = runCli(['serve'], { env: { DIALTONE_LOG_LEVEL: 'loud' } });
  assert.equal(badEnv.status, 1);
  assert.match(badEnv.stderr, /DIALTONE_LOG_LEVEL: 'loud'/);
});

test('--log-level filters the log', async () => {
  const { request } = require('./lib/http');
  const lines = async (args) => {
    const s = await startServer({ args });
    await request(`${s.url}/admin/reload`, { method: 'POST' });
    await request(`${s.url}/no-such-page`);
    await s.stop();
    return s.log;
  };
  // A reload closes the old generation, which is logged at debug level.
  assert.match(await lines(['--log-level', 'debug']), /level=debug msg="generation closed"/);
  assert.doesNotMatch(await lines([]), /level=debug/);
  const warn = await startServer({ args: ['--log-level', 'warn'], timeoutMs: 3000 }).catch((e) => e);
  assert.ok(warn instanceof Error && /timed out waiting/.test(warn.message), 'no info lines at warn level');
});
