// The organisation commands (org create/list, key rotate, workflow add): output, exit
// statuses, bad input; API keys shown once and stored hashed; secrets sealed in the database
// file; the master key (file created 0600, unsafe file refused by serve, environment value).
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { BIN, runCli, makeScriptDir } = require('./lib/server');

const newDataDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'dialtone-org-'));
const cli = (dataDir, args, opts = {}) => runCli([...args, '--data-dir', dataDir], opts);

/** The bytes of the database and its WAL. */
function dbBytes(dataDir) {
  return Buffer.concat(['dialtone.db', 'dialtone.db-wal'].map((f) => path.join(dataDir, f))
    .filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f)));
}

/** Runs a Lua script on the data directory with `dialtone run`. */
function runLua(dataDir, source, args = [], env = {}) {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dialtone-org-lua-')), 's.lua');
  fs.writeFileSync(file, source);
  const r = runCli(['run', '--data-dir', dataDir, file, ...args], { env });
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
  return r;
}

const KEY_RE = /^api_key (dt_[A-Za-z0-9_-]{40})$/m;

test('org create prints the id and the key once; org list shows it; bad names exit 1', (t) => {
  const dir = newDataDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const r = cli(dir, ['org', 'create', 'Acme Corp']);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 2);
  const [, id, name] = lines[0].match(/^organization (org_[0-9a-f]{16}) (.+)$/);
  assert.equal(name, 'Acme Corp');
  assert.match(lines[1], KEY_RE);
  const list = cli(dir, ['org', 'list']);
  assert.equal(list.status, 0, list.stderr);
  const row = list.stdout.trim().split('\n').map((l) => l.split('\t'));
  assert.equal(row.length, 1);
  assert.equal(row[0][0], id);
  assert.equal(row[0][1], 'Acme Corp');
  assert.match(row[0][2], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.ok(Math.abs(Date.parse(row[0][2]) - Date.now()) < 120000, 'created now');
  assert.ok(!list.stdout.includes('dt_'), 'the key is never shown again');
  for (const [args, re] of [[['org', 'create', 'Acme Corp'], /exists/], [['org', 'create', ''], /1\.\.100 characters/],
    [['org', 'create', 'x'.repeat(101)], /1\.\.100 characters/], [['org', 'create', 'a\nb'], /1\.\.100/]]) {
    const bad = cli(dir, args);
    assert.equal(bad.status, 1, `${JSON.stringify(args)} exits 1`);
    assert.equal(bad.stdout, '');
    assert.match(bad.stderr, re);
    assert.equal(bad.stderr.trim().split('\n').length, 1, 'one line');
  }
  assert.equal(cli(dir, ['org', 'create', 'y'.repeat(100)]).status, 0, '100 characters are fine');
  assert.equal(cli(dir, ['org', 'list']).stdout.trim().split('\n').length, 2);
});

test('malformed command lines exit 2 with a one-line usage; help lists the commands', () => {
  const dir = newDataDir();
  for (const args of [['org'], ['org', 'create'], ['org', 'create', 'a', 'b'], ['org', 'frob'], ['org', 'list', 'x'],
    ['key'], ['key', 'rotate'], ['key', 'turn', 'x'], ['workflow', 'add', 'a', 'b'], ['workflow', 'del', 'a', 'b', 'c']]) {
    const r = cli(dir, args);
    assert.equal(r.status, 2, `${args.join(' ')} exits 2`);
    assert.match(r.stderr, /^dialtone: usage: dialtone (org|key|workflow)/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  const help = runCli(['help']);
  for (const word of ['org create NAME', 'org list', 'key rotate ORG', 'workflow add ORG NAME FLOW', 'DIALTONE_MASTER_KEY']) {
    assert.ok(help.stdout.includes(word), `help mentions ${word}`);
  }
});

test('the key is stored hashed; it works until key rotate, by id or name', (t) => {
  const dir = newDataDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const created = cli(dir, ['org', 'create', 'Hashed']);
  const id = created.stdout.match(/^organization (org_\w+)/)[1];
  const key = created.stdout.match(KEY_RE)[1];
  const bytes = dbBytes(dir);
  assert.ok(!bytes.includes(key) && !bytes.includes(key.slice(8)), 'the key is not in the database file');
  assert.ok(bytes.includes(crypto.createHash('sha256').update(key).digest('hex')), 'its SHA-256 is');
  const lookup = `local org = dialtone.store.organization_for_key(arg[1]); print(org and org.id or "none"); return 0`;
  assert.equal(runLua(dir, lookup, [key]).stdout.trim(), id);
  const rotated = cli(dir, ['key', 'rotate', 'Hashed']);
  assert.equal(rotated.status, 0, rotated.stderr);
  const key2 = rotated.stdout.match(KEY_RE)[1];
  assert.notEqual(key2, key);
  assert.equal(runLua(dir, lookup, [key]).stdout.trim(), 'none', 'the old key stopped working');
  assert.equal(runLua(dir, lookup, [key2]).stdout.trim(), id);
  const key3 = cli(dir, ['key', 'rotate', id]).stdout.match(KEY_RE)[1];
  assert.equal(runLua(dir, lookup, [key2]).stdout.trim(), 'none');
  assert.equal(runLua(dir, lookup, [key3]).stdout.trim(), id);
  for (const k of [key, key2, key3]) assert.ok(!dbBytes(dir).includes(k));
  const unknown = cli(dir, ['key', 'rotate', 'Nobody']);
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /no organisation 'Nobody'/);
});

test('only org create starts a database: the other commands on a directory without one say so and make none', (t) => {
  const dir = newDataDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const args of [['org', 'list'], ['key', 'rotate', 'Acme'], ['workflow', 'add', 'Acme', 'Echo', 'echo']]) {
    const r = cli(dir, args);
    assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^dialtone ${args[0]} ${args[1]}: no database at .*dialtone\\.db \\(\`dialtone org create\``));
    assert.equal(r.stdout, '');
  }
  assert.deepEqual(fs.readdirSync(dir), [], 'nothing made');
  assert.equal(cli(dir, ['org', 'create', 'Acme']).status, 0);
  assert.equal(cli(dir, ['org', 'list']).status, 0);
});

test('workflow add checks the flow module and prints the id', (t) => {
  const dir = newDataDir();
  const scripts = makeScriptDir({ 'workflows/greeter.lua': 'return { run = function(call) end }' });
  t.after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(scripts, { recursive: true, force: true });
  });
  const orgId = cli(dir, ['org', 'create', 'Flows']).stdout.match(/^organization (org_\w+)/)[1];
  const add = (...args) => cli(dir, ['workflow', 'add', ...args, '--script-dir', scripts]);
  const ok = add('Flows', 'Greeter', 'greeter');
  assert.equal(ok.status, 0, ok.stderr);
  const wf = ok.stdout.trim();
  assert.match(wf, /^wf_[0-9a-f]{16}$/);
  for (const [args, re] of [[['Flows', 'Greeter', 'greeter'], /has a workflow called 'Greeter'/],
    [['Flows', 'Other', 'missing'], /no flow 'missing'.*workflows\/missing\.lua does not exist/],
    [['Flows', 'Other', '../greeter'], /FLOW must be/], [['Flows', 'Other', 'a-b'], /FLOW must be/],
    [['Nobody', 'Other', 'greeter'], /no organisation 'Nobody'/], [['Flows', '', 'greeter'], /1\.\.100 characters/]]) {
    const r = add(...args);
    assert.equal(r.status, 1, `${args.join(' ')} exits 1`);
    assert.match(r.stderr, re);
    assert.equal(r.stdout, '');
  }
  const seen = runLua(dir, `local w = dialtone.store.get_workflow(arg[1], arg[2]); print(w.name, w.flow); return 0`,
    [orgId, wf]);
  assert.equal(seen.stdout.trim(), 'Greeter\tgreeter');
  assert.equal(add(orgId, 'By id', 'greeter').status, 0, 'the organisation by id');
});

const CONFIG_SCRIPT = `
  local org = assert(dialtone.store.create_organization("Sealed"))
  local cfg = assert(dialtone.store.create_config(org.id, { name = "main", provider = "twilio",
    settings = { account_sid = "ACpublic123", auth_token = arg[1] }, secret_fields = { "auth_token" } }))
  print(org.id .. " " .. cfg.id)
  return 0`;
const READ_SCRIPT = `
  local cfg, err = dialtone.store.get_config(arg[1], arg[2])
  print(cfg and cfg.settings.auth_token or err)
  return 0`;

test('configuration secrets are sealed under the master key, created 0600 in the data directory', (t) => {
  const dir = newDataDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const secret = `tok-${crypto.randomBytes(8).toString('hex')}`;
  const made = runLua(dir, CONFIG_SCRIPT, [secret]);
  assert.equal(made.status, 0, made.stderr);
  const [org, cfg] = made.stdout.trim().split(' ');
  const keyFile = path.join(dir, 'master.key');
  assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600);
  assert.equal(Buffer.from(fs.readFileSync(keyFile, 'utf8').trim(), 'base64').length, 32);
  const bytes = dbBytes(dir);
  assert.ok(bytes.includes('ACpublic123'), 'public fields in clear');
  assert.ok(!bytes.includes(secret), 'the secret is not');
  assert.ok(!bytes.includes(fs.readFileSync(keyFile, 'utf8').trim()), 'nor the master key');
  assert.equal(runLua(dir, READ_SCRIPT, [org, cfg]).stdout.trim(), secret);
  // Another master key (from the environment) cannot open them, and says so without the secret.
  const other = runLua(dir, READ_SCRIPT, [org, cfg], { DIALTONE_MASTER_KEY: crypto.randomBytes(32).toString('hex') });
  assert.match(other.stdout, new RegExp(`cannot decrypt the secrets of configuration ${cfg}: wrong master key\\?`));
  assert.ok(!other.stdout.includes(secret) && !other.stderr.includes(secret));
});

test('the master key from DIALTONE_MASTER_KEY: no key file; a malformed value is refused', (t) => {
  const dir = newDataDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const key = crypto.randomBytes(32);
  const made = runLua(dir, CONFIG_SCRIPT, ['s3cret-env'], { DIALTONE_MASTER_KEY: key.toString('base64') });
  assert.equal(made.status, 0, made.stderr);
  assert.ok(!fs.existsSync(path.join(dir, 'master.key')));
  const [org, cfg] = made.stdout.trim().split(' ');
  assert.equal(runLua(dir, READ_SCRIPT, [org, cfg], { DIALTONE_MASTER_KEY: key.toString('hex') }).stdout.trim(), 's3cret-env');
  const bad = runLua(dir, 'return 0', [], { DIALTONE_MASTER_KEY: 'not-a-key-value' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /DIALTONE_MASTER_KEY is not a key/);
  assert.ok(!bad.stderr.includes('not-a-key-value'));
});

test('serve refuses to start with a key file others can read, with a clear log line', (t) => {
  const dir = newDataDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const keyFile = path.join(dir, 'master.key');
  fs.writeFileSync(keyFile, crypto.randomBytes(32).toString('base64') + '\n', { mode: 0o644 });
  fs.chmodSync(keyFile, 0o644);
  const r = spawnSync(BIN, ['serve', '--listen', '127.0.0.1:0', '--data-dir', dir], { encoding: 'utf8', timeout: 20000 });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /level=error msg="cannot load the master key; not starting".*group or others may access it \(mode 0644\)/);
  assert.ok(!r.stderr.includes(fs.readFileSync(keyFile, 'utf8').trim()), 'the key is not logged');
  assert.doesNotMatch(r.stderr, /msg=listening/);
});
