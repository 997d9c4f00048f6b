// Starts the real dialtone binary on a random loopback port for a test, and stops it by PID.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const BIN = process.env.DIALTONE_BIN || path.resolve(__dirname, '../../../build/dialtone');
const SOURCE_DIR = process.env.DIALTONE_SOURCE_DIR || path.resolve(__dirname, '../../..');

/** A temporary script root: the runtime's lua/ linked in, plus the given scripts/ files. */
function makeScriptDir(scripts = {}) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dialtone-scripts-'));
  fs.symlinkSync(path.join(SOURCE_DIR, 'lua'), path.join(root, 'lua'));
  fs.mkdirSync(path.join(root, 'scripts'));
  fs.mkdirSync(path.join(root, 'providers'));
  for (const [name, text] of Object.entries(scripts)) writeScript(root, name, text);
  return root;
}

function writeScript(root, name, text) {
  const file = path.join(root, 'scripts', name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  // Write then rename, so the file watcher never sees a half-written file.
  fs.writeFileSync(file + '.tmp~', text);
  fs.renameSync(file + '.tmp~', file);
}

function makeDataDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'dialtone-data-'));
}

/**
 * Starts `dialtone serve` and resolves once it logs the address it listens on. A given dataDir
 * (e.g. to restart on the same database) is the caller's to remove; a fresh one is removed on stop.
 * @param {{scripts?: object, scriptDir?: string, dataDir?: string, args?: string[], env?: object, timeoutMs?: number}} opts
 */
async function startServer(opts = {}) {
  const ownsScriptDir = !opts.scriptDir;
  const scriptDir = opts.scriptDir || makeScriptDir(opts.scripts || {});
  const ownsDataDir = !opts.dataDir;
  const dataDir = opts.dataDir || makeDataDir();
  const args = ['serve', '--listen', '127.0.0.1:0', '--script-dir', scriptDir, '--data-dir', dataDir,
    ...(opts.args || [])];
  const env = { ...process.env, ...(opts.env || {}) };
  const proc = spawn(BIN, args, { env, cwd: dataDir, stdio: ['ignore', 'pipe', 'pipe'] });
  const server = new RunningServer(proc, scriptDir, dataDir, ownsScriptDir, ownsDataDir);
  try {
    const m = await server.waitForLog(/msg=listening addr=127\.0\.0\.1:(\d+)/, opts.timeoutMs || 10000);
    server.port = Number(m[1]);
    server.url = `http://127.0.0.1:${server.port}`;
  } catch (e) {
    if (proc.exitCode === null && proc.signalCode === null) process.kill(proc.pid, 'SIGKILL');
    await server.exit;
    server.cleanup();
    throw e;
  }
  return server;
}

class RunningServer {
  constructor(proc, scriptDir, dataDir, ownsScriptDir, ownsDataDir) {
    this.proc = proc;
    this.ownsScriptDir = ownsScriptDir;
    this.ownsDataDir = ownsDataDir;
    this.scriptDir = scriptDir;
    this.dataDir = dataDir;
    this.log = '';
    this.stdout = '';
    this.exit = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
    proc.stderr.on('data', (d) => { this.log += d; });
    proc.stdout.on('data', (d) => { this.stdout += d; });
  }

  /** Resolves with the first match of re in the log (waiting up to timeoutMs). */
  waitForLog(re, timeoutMs = 5000, from = 0) {
    const deadline = Date.now() + timeoutMs;
    return new Promise((resolve, reject) => {
      const poll = () => {
        const m = this.log.slice(from).match(re);
        if (m) return resolve(m);
        if (this.proc.exitCode !== null) return reject(new Error(`server exited; log:\n${this.log}`));
        if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${re}; log:\n${this.log}`));
        setTimeout(poll, 20);
      };
      poll();
    });
  }

  writeScript(name, text) { writeScript(this.scriptDir, name, text); }

  signal(sig) { process.kill(this.proc.pid, sig); }

  /**
   * SIGTERM, then SIGKILL if it has not exited within timeoutMs. Throws unless the server
   * exited 0 with no sanitizer report (so every test also checks for memory errors and leaks).
   */
  async stop(timeoutMs = 15000) {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.signal('SIGTERM');
      const timer = setTimeout(() => { try { this.signal('SIGKILL'); } catch { /* already gone */ } }, timeoutMs);
      await this.exit;
      clearTimeout(timer);
    }
    this.cleanup();
    if (process.env.DIALTONE_TEST_LOG) process.stderr.write(this.log); // for debugging a test
    this.assertCleanExit(await this.exit);
  }

  assertCleanExit({ code, signal }) {
    const report = this.log.match(/(ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: \w+Sanitizer).*/);
    if (report) throw new Error(`sanitizer report from the server: ${report[0]}\n${this.log.slice(-4000)}`);
    if (code !== 0) throw new Error(`server exited with code ${code} signal ${signal}; log:\n${this.log.slice(-4000)}`);
  }

  cleanup() {
    if (this.ownsDataDir) fs.rmSync(this.dataDir, { recursive: true, force: true });
    if (this.ownsScriptDir) fs.rmSync(this.scriptDir, { recursive: true, force: true });
  }
}

/** Runs the binary to completion: {status, stdout, stderr}. */
function runCli(args, opts = {}) {
  // `dialtone run` opens the database in its data directory: give each run its own.
  const dataDir = makeDataDir();
  const r = spawnSync(BIN, args, { encoding: 'utf8', timeout: 30000,
    env: { ...process.env, DIALTONE_DATA_DIR: dataDir, ...(opts.env || {}) }, cwd: opts.cwd || os.tmpdir(), input: opts.input || '' });
  fs.rmSync(dataDir, { recursive: true, force: true });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

module.exports = { BIN, SOURCE_DIR, startServer, makeScriptDir, makeDataDir, writeScript, runCli };
