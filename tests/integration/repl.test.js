// `dialtone repl` driven through a pseudo-terminal (util-linux `script`, essential on Debian) and
// through a pipe: values printed, multi-line input, awaited bindings, errors, Ctrl-C, Ctrl-D, the
// in-process server answering while the prompt waits, and the helpers over the telephony API.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { BIN, SOURCE_DIR, makeDataDir } = require('./lib/server');
const { request } = require('./lib/http');

const SANITIZER = /(ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: \w+Sanitizer).*/;
const shellQuote = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;

/** A running REPL; output is everything the terminal (or stdout+stderr) showed. */
class Repl {
  constructor(proc, dataDir) {
    this.proc = proc;
    this.dataDir = dataDir;
    this.output = '';
    this.exit = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
    proc.stdout.on('data', (d) => { this.output += d; });
    proc.stderr.on('data', (d) => { this.output += d; });
  }

  send(text) { this.proc.stdin.write(text); }

  /** Resolves with the first match of re in the output after `from` (default: all of it). */
  waitFor(re, from = 0, timeoutMs = 10000) {
    const deadline = Date.now() + timeoutMs;
    return new Promise((resolve, reject) => {
      const poll = () => {
        const m = this.output.slice(from).match(re);
        if (m) return resolve(m);
        if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${re}; output:\n${this.output}`));
        setTimeout(poll, 20);
      };
      poll();
    });
  }

  /** Types a line and resolves with what the REPL printed up to its next prompt. */
  async eval(line, timeoutMs = 10000) {
    const from = this.output.length;
    this.send(line + '\r');
    const m = await this.waitFor(/\r\n(>>?) $/, from + line.length, timeoutMs);
    return { text: this.output.slice(from, from + line.length + m.index + 2), prompt: m[1] };
  }

  /**
   * Ends it as a user does (Ctrl-C, then Ctrl-D) and waits; only if it hangs, SIGKILL by PID.
   * Throws unless it exited 0 with no sanitizer report.
   */
  async close() {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.send('\x03');
      setTimeout(() => this.send('\x04'), 200);
      const timer = setTimeout(() => { try { process.kill(this.proc.pid, 'SIGKILL'); } catch { /* gone */ } }, 15000);
      await this.exit;
      clearTimeout(timer);
    }
    const { code, signal } = await this.exit;
    fs.rmSync(this.dataDir, { recursive: true, force: true });
    const report = this.output.match(SANITIZER);
    if (report) throw new Error(`sanitizer report: ${report[0]}\n${this.output.slice(-4000)}`);
    if (code !== 0) throw new Error(`repl exited with code ${code} signal ${signal}:\n${this.output.slice(-4000)}`);
  }
}

function replArgs(dataDir, extra = []) {
  return ['repl', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--watch', 'false', '--log-level', 'warn', ...extra];
}

/** `dialtone repl` on a pseudo-terminal; resolves once the first prompt shows. */
async function startTtyRepl({ dataDir = makeDataDir(), args = [], env = {} } = {}) {
  // `exec`: script runs the command through $SHELL -c, and a shell that stays as the parent
  // (dash does) would share the REPL's process group and die of the Ctrl-C meant for the REPL.
  const cmd = 'exec ' + [BIN, ...replArgs(dataDir, args)].map(shellQuote).join(' ');
  const history = path.join(dataDir, 'history');
  const proc = spawn('script', ['-qfec', cmd, '/dev/null'], { cwd: dataDir, stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, DIALTONE_HISTORY: history, TERM: 'dumb', ...env } });
  const repl = new Repl(proc, dataDir);
  repl.history = history;
  const m = await repl.waitFor(/dialtone repl on (http:\/\/127\.0\.0\.1:\d+)/);
  repl.url = m[1];
  await repl.waitFor(/\r\n> $/);
  return repl;
}

test('expressions and tables print their values; a cycle shows as <cycle>; functions span lines', async () => {
  const repl = await startTtyRepl();
  try {
    assert.match((await repl.eval('1 + 2')).text, /\r\n3\r\n/);
    const pair = await repl.eval('=math.max(1, 5), "x\\ty"');
    assert.match(pair.text, /\r\n5\r\n"x\\ty"\r\n/);
    const table = await repl.eval('{ b = { c = 1, d = { 1, 2 } }, a = "s", [1] = true }');
    assert.match(table.text, /\{\r\n {2}\[1\] = true,\r\n {2}a = "s",\r\n {2}b = \{\r\n {4}c = 1,\r\n {4}d = \{ 1, 2 \},\r\n {2}\},\r\n\}/);
    assert.equal((await repl.eval('t = { name = "loop" }; t.self = t')).prompt, '>');
    assert.match((await repl.eval('t')).text, /\{\r\n {2}name = "loop",\r\n {2}self = <cycle>,\r\n\}/);
    assert.match((await repl.eval('dialtone.time.sleep')).text, /<function dialtone\.time\.sleep>/);
    const first = await repl.eval('function double(x)');
    assert.equal(first.prompt, '>>', 'an unfinished function asks for more');
    assert.equal((await repl.eval('  return x * 2')).prompt, '>>');
    assert.equal((await repl.eval('end')).prompt, '>');
    assert.match((await repl.eval('double(21)')).text, /\r\n42\r\n/);
  } finally {
    await repl.close();
  }
});

test('a waiting binding is awaited; an error is shown and the REPL goes on', async () => {
  const repl = await startTtyRepl();
  try {
    const t0 = Date.now();
    const slept = await repl.eval('dialtone.time.sleep(0.3); return "woke"');
    assert.ok(Date.now() - t0 >= 300, 'the prompt came back only after the sleep');
    assert.match(slept.text, /"woke"/);
    const err = await repl.eval('error("kaput")');
    assert.match(err.text, /stdin:1: kaput/);
    assert.match((await repl.eval('nosuchglobal')).text, /unknown global 'nosuchglobal'/);
    assert.match((await repl.eval('x = = 1')).text, /stdin:1: unexpected symbol/);
    assert.match((await repl.eval('"alive"')).text, /"alive"/);
  } finally {
    await repl.close();
  }
});

test('Ctrl-C cancels a long sleep, not the REPL; at the prompt it clears the line; Ctrl-D exits 0', async () => {
  const repl = await startTtyRepl();
  try {
    let from = repl.output.length;
    repl.send('dialtone.time.sleep(60); return "not cancelled"\r');
    await repl.waitFor(/return "not cancelled"\r\n/, from);
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    repl.send('\x03');
    await repl.waitFor(/interrupted\r\n> $/, from);
    assert.ok(Date.now() - t0 < 5000);
    assert.doesNotMatch(repl.output.slice(from), /\r\n"not cancelled"/);
    from = repl.output.length;
    repl.send('half typed');
    await repl.waitFor(/half typed/, from);
    repl.send('\x03');
    await repl.waitFor(/\r\n> $/, from);
    assert.match((await repl.eval('=7 * 6')).text, /\r\n42\r\n/, 'the cleared text is not part of the next line');
    repl.send('\x04');
    const { code } = await repl.exit;
    assert.equal(code, 0);
    const history = fs.readFileSync(repl.history, 'utf8');
    assert.match(history, /7\\040\*\\0406|7 \* 6/, 'lines are saved to DIALTONE_HISTORY');
    assert.equal(fs.statSync(repl.history).mode & 0o777, 0o600, 'the history is readable by its user only');
  } finally {
    await repl.close();
  }
});

test('the in-process server answers /healthz while the REPL waits at its prompt', async () => {
  const repl = await startTtyRepl();
  try {
    const res = await request(`${repl.url}/healthz`);
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body), { status: 'ok' });
    // and while a statement waits
    const from = repl.output.length;
    repl.send('dialtone.time.sleep(0.5); return "done"\r');
    const during = await request(`${repl.url}/healthz`);
    assert.equal(during.status, 200);
    await repl.waitFor(/"done"/, from);
    assert.match((await repl.eval('reload()')).text, /\r\ntrue\r\n/, 'reload() builds a new generation');
    const status = await request(`${repl.url}/admin/status`);
    assert.equal(JSON.parse(status.body).reload.succeeded, 1);
  } finally {
    await repl.close();
  }
});

test('piped input: no prompts, values on stdout, errors on stderr, exit 0 at the end', () => {
  const dataDir = makeDataDir();
  const input = [
    '1 + 1',
    'n = 0',
    'for i = 1, 3 do',
    '  n = n + i',
    'end',
    'n',
    'total = 0; for i = 1, 4 do total = total + i end',
    '=total',
    'error("piped failure")',
    'dialtone.time.sleep(0.05) return { ok = true }',
    'print("last")',
  ].join('\n');
  const r = spawnSync(BIN, replArgs(dataDir), { input, encoding: 'utf8', timeout: 30000, cwd: dataDir });
  fs.rmSync(dataDir, { recursive: true, force: true });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '2\n6\n10\n{ ok = true }\nlast\n');
  assert.match(r.stderr, /stdin:1: piped failure/);
  assert.doesNotMatch(r.stderr, SANITIZER);
});

test('helpers: providers() lists the providers; calls() without an API key says how to get one', () => {
  const dataDir = makeDataDir();
  const input = 'for _, p in ipairs(providers()) do print("provider " .. p.name) end\ncalls()\n';
  const env = { ...process.env, DIALTONE_DATA_DIR: dataDir };
  delete env.DIALTONE_API_KEY;
  // an organisation already there: no default organisation (and key) is made for the REPL
  assert.equal(spawnSync(BIN, ['org', 'create', 'Acme'], { encoding: 'utf8', env, cwd: dataDir }).status, 0);
  const r = spawnSync(BIN, replArgs(dataDir), { input, encoding: 'utf8', timeout: 30000, cwd: dataDir, env });
  fs.rmSync(dataDir, { recursive: true, force: true });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /provider twilio\n/);
  assert.match(r.stderr, /no API key: start the REPL with --api-key KEY or DIALTONE_API_KEY/);
});

test('--connect attaches to a running server: calls() uses its API with the key', async () => {
  const dataDir = makeDataDir();
  const env = { ...process.env, DIALTONE_DATA_DIR: dataDir };
  const org = spawnSync(BIN, ['org', 'create', 'Acme'], { encoding: 'utf8', env, cwd: dataDir });
  assert.equal(org.status, 0, org.stderr);
  const key = org.stdout.match(/^api_key (dt_\S+)$/m)[1];
  const server = await startTtyRepl({ dataDir });
  try {
    const input = 'calls()\n#calls(5)\nreload()\n';
    const r = spawnSync(BIN, ['repl', '--connect', server.url + '/', '--api-key', key, '--log-level', 'warn'],
      { input, encoding: 'utf8', timeout: 30000, cwd: os.tmpdir(), env: { ...process.env, DIALTONE_DATA_DIR: dataDir } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '{}\n0\ntrue\n');
    const bad = spawnSync(BIN, ['repl', '--connect', server.url, '--api-key', 'dt_wrong'],
      { input: 'calls()\n', encoding: 'utf8', timeout: 30000, cwd: os.tmpdir() });
    assert.equal(bad.status, 0);
    assert.match(bad.stderr, /GET \/api\/v1\/workflow-runs\?limit=20: 401/);
    assert.equal(spawnSync(BIN, ['repl', '--connect'], { encoding: 'utf8' }).status, 2);
  } finally {
    await server.close();
  }
});

test('call() places a simulated call and prints its events until it completes', async () => {
  const dataDir = makeDataDir();
  const env = { ...process.env, DIALTONE_DATA_DIR: dataDir };
  const org = spawnSync(BIN, ['org', 'create', 'Acme'], { encoding: 'utf8', env, cwd: dataDir });
  assert.equal(org.status, 0, org.stderr);
  const key = org.stdout.match(/^api_key (dt_\S+)$/m)[1];
  const wf = spawnSync(BIN, ['workflow', 'add', 'Acme', 'Echo', 'echo'], { encoding: 'utf8', env, cwd: dataDir });
  assert.equal(wf.status, 0, wf.stderr);
  const repl = await startTtyRepl({ dataDir, args: ['--api-key', key] });
  try {
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const cfg = await request(`${repl.url}/api/v1/telephony/configs`, { method: 'POST', headers,
      body: JSON.stringify({ name: 'sim', provider: 'sim', settings: { webhook_secret: 'repl-test-secret' } }) });
    assert.equal(cfg.status, 201, cfg.body);
    const from = repl.output.length;
    repl.send('call("+15550100000", "Echo")\r');
    const done = await repl.waitFor(/(run_\S+|[\w-]+): (completed|failed|busy|no-answer|canceled)\r\n/, from, 30000);
    assert.equal(done[2], 'completed', repl.output.slice(from));
    for (const status of ['initiated', 'ringing', 'answered']) assert.match(repl.output.slice(from), new RegExp(`\\d\\d  ${status} `));
    await repl.waitFor(/status = "completed"[\s\S]*\r\n> $/, from);
  } finally {
    await repl.close();
  }
});
