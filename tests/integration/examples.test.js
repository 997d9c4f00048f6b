// The examples (issue 6) against the simulated carrier, through the real binary: the shipped
// workflows (scripts/workflows/echo_bot, ivr_menu, voicemail, agent_bridge) run calls placed with
// POST /api/v1/telephony/initiate-call and a scenario in `options`; what the callee heard comes
// from the sim's get_call_status (a test-only route), the runs from the API. The echo agent
// (examples/agent/) runs as a second `dialtone serve`, and the campaign (examples/campaign.lua)
// with `dialtone run` against the server.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const net = require('node:net');
const { spawn, spawnSync } = require('node:child_process');
const { startServer, makeDataDir, BIN, SOURCE_DIR } = require('./lib/server');
const { request } = require('./lib/http');
const { makeServiceRoot, setupOrganization, FAST_COST_RETRIES } = require('./lib/telephony');

const SECRET = 'examples-secret-0123456789';
const FLOWS = ['echo_bot', 'ivr_menu', 'voicemail', 'agent_bridge'];

// What the simulated carrier saw of a run's call: get_call_status through the run's provider.
const SIM_STATUS_ROUTE = `
dialtone.route.get("/test/sim-call/{run}", function(req)
  local run = dialtone.store.get_run(req.params.run)
  if not run or not run.call_id then return dialtone.route.error(404, "unknown_run", "no call") end
  local p = dialtone.telephony.get_provider(run.organization_id, run.config_id)
  local status, err = p.get_call_status(run.call_id)
  if not status then return dialtone.route.error(500, "sim", err) end
  return dialtone.route.json(200, status)
end)
dialtone.route.get("/test/read-file-offered", function()
  return dialtone.route.json(200, { offered = dialtone.assets.read_file ~= nil })
end)
`;

let service;
let agent;
let org;
let scriptRoot;

/** A TCP port on 127.0.0.1 that nothing listens on (bound, then released). */
function closedPort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

before(async () => {
  const workflows = {};
  for (const f of FLOWS) workflows[f] = fs.readFileSync(path.join(SOURCE_DIR, 'scripts', 'workflows', `${f}.lua`), 'utf8');
  scriptRoot = makeServiceRoot({ workflows, scripts: { ...FAST_COST_RETRIES, 'test_sim_status.lua': SIM_STATUS_ROUTE } });
  service = await startServer({ scriptDir: scriptRoot, args: ['--watch', 'off'] });
  agent = await startServer({ scriptDir: path.join(SOURCE_DIR, 'examples', 'agent'), args: ['--watch', 'off'] });
  org = await setupOrganization(service, { name: 'Examples',
    workflows: { Echo: 'echo_bot', Voicemail: 'voicemail' },
    configs: { local: { provider: 'sim', webhook_secret: SECRET, rate_per_minute: '0.0200' } } });
  const more = {
    IVR: { flow: 'ivr_menu', settings: { timeout: '2', tries: '2' } },
    Agent: { flow: 'agent_bridge', settings: { agent_url: `ws://127.0.0.1:${agent.port}/agent` } },
    'Agent down': { flow: 'agent_bridge', settings: { agent_url: `ws://127.0.0.1:${await closedPort()}/agent` } },
  };
  for (const [name, body] of Object.entries(more)) {
    const res = await org.api.post('/api/v1/workflows', { name, ...body });
    assert.equal(res.status, 201, res.body);
    org.workflows[name] = res.json.id;
  }
});

after(async () => {
  if (agent) await agent.stop();
  if (service) await service.stop();
  if (scriptRoot) fs.rmSync(scriptRoot, { recursive: true, force: true });
});

/**
 * `dialtone run ARGS` to completion, without blocking node's loop (the servers' logs are read
 * meanwhile): {status, stdout, stderr}. A fresh data directory for the run.
 */
function runDialtone(args, timeoutMs = 30000) {
  const dataDir = makeDataDir();
  return new Promise((resolve) => {
    const proc = spawn(BIN, args, { cwd: dataDir, stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, DIALTONE_DATA_DIR: dataDir } });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => { stdout += d; });
    proc.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => process.kill(proc.pid, 'SIGKILL'), timeoutMs);
    proc.on('close', (status) => {
      clearTimeout(timer);
      fs.rmSync(dataDir, { recursive: true, force: true });
      assert.doesNotMatch(stderr, /Sanitizer|runtime error:/, 'no sanitizer report from dialtone run');
      resolve({ status, stdout, stderr });
    });
  });
}

let nextNumber = 100;

/** Places a call to `workflow` with a scenario; resolves the run id. */
async function place(workflow, scenario, phoneNumber) {
  const res = await org.api.initiate({ workflow_id: org.workflows[workflow],
    phone_number: phoneNumber || `+155501${String(nextNumber++).padStart(5, '0')}`,
    options: { scenario } });
  assert.equal(res.status, 200, res.body);
  return res.json.workflow_run_id;
}

/** Waits until the run is final and priced: {run, sim} (sim: the carrier's view of the call). */
async function finished(runId, timeoutMs = 15000) {
  const run = await org.api.waitRun(runId, (r) => r.cost_state === 'priced', timeoutMs);
  const sim = await request(`${service.url}/test/sim-call/${runId}`);
  assert.equal(sim.status, 200, sim.body);
  return { run, sim: sim.json };
}

/** Asserts a run went through the whole call and its flow ended without an error. */
function assertCompleted(run, sim, endedBy) {
  assert.equal(run.status, 'completed');
  assert.equal(run.media_state, 'done');
  assert.deepEqual(run.events.filter((e) => e.source === 'sim').map((e) => e.status),
    ['initiated', 'ringing', 'answered', 'completed']);
  assert.equal(sim.raw.ended_by, endedBy);
  assert.doesNotMatch(service.log, new RegExp(`level=error.*${run.id}`), 'no error logged for the run');
}

const near = (value, expected, tolerance, what) =>
  assert.ok(Math.abs(value - expected) <= tolerance, `${what}: ${value}, expected ${expected} ± ${tolerance}`);

/** A PCM16 mono WAV's rate, duration (s) and loud time (s: 20 ms frames whose peak passes 1000). */
function readWav(file) {
  const b = fs.readFileSync(file);
  assert.equal(b.toString('ascii', 0, 4), 'RIFF');
  assert.equal(b.toString('ascii', 8, 12), 'WAVE');
  let off = 12;
  let rate = 0;
  let data = null;
  while (off + 8 <= b.length) {
    const id = b.toString('ascii', off, off + 4);
    const size = b.readUInt32LE(off + 4);
    if (id === 'fmt ') {
      assert.equal(b.readUInt16LE(off + 8), 1, 'PCM');
      assert.equal(b.readUInt16LE(off + 10), 1, 'mono');
      rate = b.readUInt32LE(off + 12);
      assert.equal(b.readUInt16LE(off + 22), 16, '16-bit');
    } else if (id === 'data') {
      data = b.subarray(off + 8, off + 8 + size);
    }
    off += 8 + size + (size & 1);
  }
  assert.ok(rate && data, 'fmt and data chunks');
  const frame = rate / 50;
  let loudFrames = 0;
  for (let i = 0; i + 2 * frame <= data.length; i += 2 * frame) {
    let peak = 0;
    for (let k = 0; k < frame; k++) peak = Math.max(peak, Math.abs(data.readInt16LE(i + 2 * k)));
    if (peak > 1000) loudFrames++;
  }
  return { rate, seconds: data.length / 2 / rate, loud: loudFrames / 50 };
}

test('echo bot: the callee hears its own tone back after the greeting', async () => {
  const id = await place('Echo', { ring: 0.1, steps: [{ tone: 440, ms: 600 }, { hangup_after: 2 }] });
  const { run, sim } = await finished(id);
  assertCompleted(run, sim, 'callee');
  // 200 ms of greeting plus the 600 ms tone echoed; silence is echoed as silence.
  near(sim.raw.heard.loud_ms, 800, 120, 'loud audio heard');
  near(sim.raw.heard.audio_ms, 2000, 300, 'audio heard for the whole call');
  assert.equal(run.duration, 2);
  assert.equal(run.cost, 0.02);
});

test('IVR: DTMF 2 at 1.5 s picks option 2, its tone is played, then the flow hangs up', async () => {
  const id = await place('IVR', { ring: 0.1, steps: [{ dtmf: '2', at: 1.5 }] });
  const { run, sim } = await finished(id);
  assertCompleted(run, sim, 'flow');
  assert.deepEqual(sim.raw.heard.marks, ['prompt-1', 'option-2']);
  assert.equal(sim.raw.sent.dtmf, '2');
  // the 550 ms prompt and the 400 ms option tone
  near(sim.raw.heard.loud_ms, 950, 120, 'prompt and option heard');
  await service.waitForLog(new RegExp(`msg="ivr: option chosen"(?=.*run=${id})(?=.*option=support)`));
});

test('IVR: no digit before the timeout repeats the prompt; a digit then is taken', async () => {
  // prompt 0.55 s + timeout 2 s: the second prompt starts at about 2.6 s
  const id = await place('IVR', { ring: 0.1, steps: [{ dtmf: '3', at: 3.6 }] });
  const { run, sim } = await finished(id);
  assertCompleted(run, sim, 'flow');
  assert.deepEqual(sim.raw.heard.marks, ['prompt-1', 'prompt-2', 'option-3']);
  await service.waitForLog(new RegExp(`msg="ivr: no valid choice"(?=.*run=${id})(?=.*reason=timeout)`));
});

test('IVR: after the last try without a choice it says goodbye and hangs up', async () => {
  const id = await place('IVR', { ring: 0.1, steps: [{ dtmf: '9', at: 0.8 }] });
  const { run, sim } = await finished(id);
  assertCompleted(run, sim, 'flow');
  assert.deepEqual(sim.raw.heard.marks, ['prompt-1', 'prompt-2', 'goodbye'], 'an invalid digit, then a timeout');
  near(run.duration, 4, 1, 'two prompts, one timeout, the goodbye');
});

test('IVR: a digit during the prompt cuts it short (barge-in)', async () => {
  const id = await place('IVR', { ring: 0.1, steps: [{ dtmf: '1', at: 0.2 }] });
  const { run, sim } = await finished(id);
  assertCompleted(run, sim, 'flow');
  assert.ok(sim.raw.heard.clears >= 1, 'the prompt was cleared');
  assert.equal(sim.raw.heard.marks.at(-1), 'option-1');
  assert.ok(sim.raw.heard.loud_ms < 800, `less than the whole prompt and option (${sim.raw.heard.loud_ms} ms)`);
});

test('voicemail: beep, the message is recorded until #, the WAV has the right length', async () => {
  const id = await place('Voicemail', { ring: 0.1, steps: [{ tone: 300, ms: 1500 }, { dtmf: '#', at: 2.5 }] });
  const { run, sim } = await finished(id);
  assertCompleted(run, sim, 'flow');
  assert.deepEqual(sim.raw.heard.marks, ['beep']);
  near(sim.raw.heard.loud_ms, 300, 60, 'the beep was heard');
  await service.waitForLog(new RegExp(`msg="voicemail saved"(?=.*run=${id})(?=.*reason=hash)`));
  const wav = readWav(path.join(service.dataDir, 'recordings', `voicemail-${id}.wav`));
  assert.equal(wav.rate, 8000);
  // recording from the end of the beep (about 0.3 s) to the # (2.5 s); the tone lasts until 1.5 s
  near(wav.seconds, 2.2, 0.3, 'recording length');
  near(wav.loud, 1.2, 0.25, 'the caller\'s tone in the recording');
});

test('voicemail: two seconds of silence end the message', async () => {
  const id = await place('Voicemail', { ring: 0.1, steps: [{ tone: 300, ms: 800 }] });
  const { run, sim } = await finished(id);
  assertCompleted(run, sim, 'flow');
  await service.waitForLog(new RegExp(`msg="voicemail saved"(?=.*run=${id})(?=.*reason=silence)`));
  const wav = readWav(path.join(service.dataDir, 'recordings', `voicemail-${id}.wav`));
  near(wav.seconds, 2.5, 0.3, 'the tone after the beep, then 2 s of silence');
  near(wav.loud, 0.5, 0.2, 'the caller\'s tone in the recording');
  near(run.duration, 3, 1, 'call length');
});

test('agent bridge: the echo agent answers, its delayed echo is heard, # makes it hang up', async () => {
  const id = await place('Agent', { ring: 0.1, steps: [{ tone: 440, ms: 500 }, { dtmf: '#', at: 1.5 }] });
  const { run, sim } = await finished(id);
  assertCompleted(run, sim, 'flow');
  assert.deepEqual(sim.raw.heard.marks, ['agent-ready']);
  near(sim.raw.heard.loud_ms, 500, 100, 'the tone echoed by the agent');
  near(run.duration, 2, 1, 'the agent hung up on #');
  await agent.waitForLog(/msg="agent: call started"/);
  await service.waitForLog(new RegExp(`msg="agent bridge: over"(?=.*run=${id})(?=.*result=call_ended)`));
});

test('agent bridge: an agent that cannot be reached gets a tone and a clean end', async () => {
  const id = await place('Agent down', { ring: 0.1, steps: [{ silence: 10000 }] });
  const { run, sim } = await finished(id);
  assertCompleted(run, sim, 'flow');
  assert.deepEqual(sim.raw.heard.marks, ['agent-unavailable']);
  near(sim.raw.heard.loud_ms, 600, 100, 'the unavailable tone');
  await service.waitForLog(new RegExp(`msg="agent bridge: agent unavailable"(?=.*run=${id})`));
});

test('a busy number: the run ends busy, nothing is connected, nothing to pay', async () => {
  const id = await place('IVR', { ring: 0.1, steps: [] }, '+15550100001');
  const { run, sim } = await finished(id);
  assert.equal(run.status, 'busy');
  assert.deepEqual(run.events.filter((e) => e.source === 'sim').map((e) => e.status), ['initiated', 'ringing', 'busy']);
  assert.equal(run.cost, 0);
  assert.equal(sim.raw.heard.frames, 0, 'no media');
  assert.notEqual(run.media_state, 'done', 'no flow ran');
});

test('the callee hangs up mid-flow: the IVR stops waiting, the run completes', async () => {
  const id = await place('IVR', { ring: 0.1, steps: [{ hangup_after: 1.2 }] });
  const { run, sim } = await finished(id);
  assertCompleted(run, sim, 'callee');
  assert.deepEqual(sim.raw.heard.marks, ['prompt-1']);
  assert.equal(run.duration, 1);
});

test('the callee hangs up while leaving a message: what was said is kept', async () => {
  const id = await place('Voicemail', { ring: 0.1, steps: [{ tone: 300, ms: 1000 }, { hangup_after: 1.6 }] });
  const { run, sim } = await finished(id);
  assertCompleted(run, sim, 'callee');
  await service.waitForLog(new RegExp(`msg="voicemail saved"(?=.*run=${id})(?=.*reason=ended)`));
  const wav = readWav(path.join(service.dataDir, 'recordings', `voicemail-${id}.wav`));
  near(wav.seconds, 1.3, 0.3, 'recorded until the hang-up');
  near(wav.loud, 0.7, 0.2, 'the caller\'s tone in the recording');
});

test('campaign: every number called at most 2 at a time, busy and no-answer retried once, total cost', async () => {
  const campaignOrg = await setupOrganization(service, { name: 'Campaign', workflows: { Echo: 'echo_bot' },
    configs: { sim: { provider: 'sim', webhook_secret: SECRET, rate_per_minute: '0.0150',
      scenario: JSON.stringify({ ring: 0.1, steps: [{ tone: 440, ms: 300 }, { hangup_after: 1 }] }) } } });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dialtone-campaign-'));
  try {
    const list = path.join(dir, 'numbers.txt');
    fs.writeFileSync(list, '# test list\n+15550100123\n+15550100001   # busy\n\n+15550100002\n+15550100003\n+15550100124\n');
    const r = await runDialtone(['run', path.join(SOURCE_DIR, 'examples', 'campaign.lua'), service.url, campaignOrg.apiKey,
      campaignOrg.workflows.Echo, list, '--concurrency', '2']);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    if (process.env.DIALTONE_TEST_LOG) process.stderr.write(r.stdout);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines[0], 'calling 5 numbers, 2 at a time');
    const attempts = lines.filter((l) => / attempt \d /.test(l)).map((l) => l.split(/\s+/).slice(0, 4).join(' '));
    assert.deepEqual(attempts.sort(), [
      '+15550100001 attempt 1 busy', '+15550100001 attempt 2 busy',
      '+15550100002 attempt 1 no-answer', '+15550100002 attempt 2 no-answer',
      '+15550100003 attempt 1 failed',
      '+15550100123 attempt 1 completed', '+15550100124 attempt 1 completed',
    ]);
    assert.match(r.stdout, /^\+15550100123 +attempt 1 +completed +1 s +0\.0150 USD +run \S+$/m);
    assert.equal(lines.at(-2), 'calls placed: 7 (busy 2, completed 2, failed 1, no-answer 2)');
    assert.equal(lines.at(-1), 'total cost: 0.0300 USD');

    // The runs the campaign made, as the API sees them: seven, never more than two at a time.
    const res = await campaignOrg.api.get('/api/v1/workflow-runs?limit=50');
    assert.equal(res.status, 200);
    const runs = res.json.runs;
    assert.equal(runs.length, 7);
    for (const run of runs) {
      assert.ok(typeof run.created_at === 'number' && typeof run.updated_at === 'number', JSON.stringify(run));
      const overlapping = runs.filter((o) => o.created_at < run.created_at && o.updated_at > run.created_at);
      assert.ok(overlapping.length <= 1, `at most one other call in progress when ${run.id} started`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('campaign: a bad command line or list is refused with the usage', async () => {
  const campaign = path.join(SOURCE_DIR, 'examples', 'campaign.lua');
  const r = await runDialtone(['run', campaign, service.url, 'dt_x']);
  assert.equal(r.status, 2);
  assert.match(r.stdout, /^usage: dialtone run examples\/campaign\.lua URL API_KEY WORKFLOW_ID NUMBERS_FILE/);
  const missing = await runDialtone(['run', campaign, service.url, 'dt_x', 'wf_x', '/nonexistent/numbers.txt']);
  assert.equal(missing.status, 2);
  assert.match(missing.stdout, /cannot read \/nonexistent\/numbers\.txt: not found/);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dialtone-campaign-'));
  try {
    const fifo = path.join(dir, 'numbers.fifo');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    const r2 = await runDialtone(['run', campaign, service.url, 'dt_x', 'wf_x', fifo], 10000);
    assert.equal(r2.status, 2, 'a FIFO is refused at once, without waiting for a writer');
    assert.match(r2.stdout, /: not a file$/m);
    const bad = path.join(dir, 'numbers.txt');
    fs.writeFileSync(bad, '+15550100123\n5550100\n');
    const r3 = await runDialtone(['run', campaign, service.url, 'dt_x', 'wf_x', bad]);
    assert.equal(r3.status, 2);
    assert.match(r3.stdout, /line 2: not an E\.164 number: 5550100/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('read_file is offered to `dialtone run` scripts only, not to the server\'s', async () => {
  const res = await request(`${service.url}/test/read-file-offered`);
  assert.equal(res.status, 200);
  assert.equal(res.json.offered, false);
});
