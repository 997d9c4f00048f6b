// Helpers for end-to-end tests of the telephony API: a script root with the real service
// (scripts/telephony.lua, scripts/api_*.lua, providers/) plus test workflows, organisations and
// workflows made with the CLI on the server's database, configurations made through the API.
'use strict';
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { SOURCE_DIR, runCli } = require('./server');
const { request } = require('./http');
const { until } = require('./wait');

/** The service's own top-level scripts a service root links: the telephony and /api/v1 routes. */
const SERVICE_SCRIPTS = fs.readdirSync(path.join(SOURCE_DIR, 'scripts'))
  .filter((f) => f === 'telephony.lua' || f === 'openapi.json' || /^api_\w+\.lua$/.test(f));

/**
 * A temporary script root: lua/ and the service scripts linked from the source tree, the
 * source providers/ files linked one by one plus `providers` ({name: text or source path}),
 * scripts/workflows/ holding `workflows` ({name: text}) and more top-level `scripts` ({name: text}).
 */
function makeServiceRoot({ workflows = {}, providers = {}, scripts = {} } = {}) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dialtone-service-'));
  fs.symlinkSync(path.join(SOURCE_DIR, 'lua'), path.join(root, 'lua'));
  fs.mkdirSync(path.join(root, 'scripts', 'workflows'), { recursive: true });
  // dialtone.assets serves only files inside scripts/: the OpenAPI document is copied, not linked.
  for (const f of SERVICE_SCRIPTS) {
    const [from, to] = [path.join(SOURCE_DIR, 'scripts', f), path.join(root, 'scripts', f)];
    if (f === 'openapi.json') fs.copyFileSync(from, to); else fs.symlinkSync(from, to);
  }
  fs.mkdirSync(path.join(root, 'providers'));
  for (const f of fs.readdirSync(path.join(SOURCE_DIR, 'providers')).filter((f) => f.endsWith('.lua'))) {
    fs.symlinkSync(path.join(SOURCE_DIR, 'providers', f), path.join(root, 'providers', f));
  }
  for (const [name, text] of Object.entries(providers)) fs.writeFileSync(path.join(root, 'providers', `${name}.lua`), text);
  for (const [name, text] of Object.entries(scripts)) fs.writeFileSync(path.join(root, 'scripts', name), text);
  for (const [name, text] of Object.entries(workflows)) {
    fs.writeFileSync(path.join(root, 'scripts', 'workflows', `${name}.lua`), text);
  }
  return root;
}

/**
 * A workflow for end-to-end calls: counts the caller's audio frames, answers digit 1 with
 * 200 ms of tone followed by a mark, hangs up on '#' (once the tone has played), and logs what
 * it saw when it ends.
 */
const TEST_FLOW = `
return {
  rate = 8000,
  run = function(call)
    local frames, digits, marks = 0, "", ""
    local playing, hang_up = false, false
    while true do
      local ev = call:recv(5)
      if not ev or ev.type == "stop" then break end
      if ev.type == "audio" then
        frames = frames + 1
      elseif ev.type == "mark" then
        marks = marks .. ev.name
        playing = false
        if hang_up then break end
      elseif ev.type == "dtmf" then
        digits = digits .. ev.digit
        if ev.digit == "1" then
          call:play(dialtone.codec.tone(440, 200, call.rate))
          call:mark("tone-done")
          playing = true
        elseif ev.digit == "#" then
          hang_up = true
          if not playing then break end
        end
      end
    end
    dialtone.log.info("flow finished", { frames = frames, digits = digits, marks = marks, run = call.run_id,
                                         provider = call.provider, to = call.to })
  end,
}
`;

/** A script that makes cost fetches quick: attempts every 0.2 s, four times. */
const FAST_COST_RETRIES = {
  'test_fast_cost.lua': 'require("dialtone.runs").cost_retry_delays = { 0.2, 0.2, 0.2, 0.2 }\n',
};

/** Runs a dialtone CLI command on a running server's database and scripts; returns stdout. */
function cli(server, ...args) {
  const r = runCli(args, { env: { DIALTONE_DATA_DIR: server.dataDir, DIALTONE_SCRIPT_DIR: server.scriptDir } });
  assert.equal(r.status, 0, `dialtone ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** `dialtone org create NAME`: {id, name, apiKey}. */
function createOrganization(server, name) {
  const out = cli(server, 'org', 'create', name);
  const id = (out.match(/^organization (org_[0-9a-f]+) /m) || [])[1];
  const apiKey = (out.match(/^api_key (dt_\S+)$/m) || [])[1];
  assert.ok(id && apiKey, `unexpected output of org create: ${out}`);
  return { id, name, apiKey };
}

/** `dialtone workflow add ORG NAME FLOW`: the workflow id. */
function addWorkflow(server, orgId, name, flow) {
  const id = cli(server, 'workflow', 'add', orgId, name, flow).trim();
  assert.match(id, /^wf_[0-9a-f]+$/);
  return id;
}

/**
 * An organisation set up the way a user does it: created with the CLI, its workflows added with
 * the CLI ({name: flow}), its telephony configurations created through the API ({name: {provider,
 * ...settings}}, the first one the default unless `defaultConfig` names another).
 * Resolves {id, name, apiKey, api, workflows: {name: id}, configs: {name: config}}.
 */
async function setupOrganization(server, { name, workflows = {}, configs = {}, defaultConfig } = {}) {
  const org = createOrganization(server, name);
  org.api = api(server, org.apiKey);
  org.workflows = {};
  for (const [wfName, flow] of Object.entries(workflows)) org.workflows[wfName] = addWorkflow(server, org.id, wfName, flow);
  org.configs = {};
  for (const [cfgName, { provider, ...settings }] of Object.entries(configs)) {
    const res = await org.api.post('/api/v1/telephony/configs', { name: cfgName, provider, settings,
      is_default: cfgName === defaultConfig });
    assert.equal(res.status, 201, `configuration ${cfgName}: ${res.body}`);
    org.configs[cfgName] = res.json;
  }
  return org;
}

/** The API as one organisation: its key on every request. */
function api(server, apiKey) {
  const headers = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };
  const send = (method, p, body) => request(`${server.url}${p}`, { method, headers,
    body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)) });
  return {
    get: (p) => send('GET', p),
    post: (p, body) => send('POST', p, body),
    put: (p, body) => send('PUT', p, body),
    del: (p) => send('DELETE', p),
    initiate: (body) => request(`${server.url}/api/v1/telephony/initiate-call`,
      { method: 'POST', headers, body: JSON.stringify(body) }),
    run: (id) => request(`${server.url}/api/v1/workflow-runs/${encodeURIComponent(id)}`, { headers }),
    /** Waits until the run satisfies pred(run); resolves the run. */
    waitRun: (id, pred, timeoutMs = 10000) => until(async () => {
      const r = await request(`${server.url}/api/v1/workflow-runs/${encodeURIComponent(id)}`, { headers });
      return r.status === 200 && pred(r.json) ? r.json : null;
    }, timeoutMs),
  };
}

module.exports = { TEST_FLOW, FAST_COST_RETRIES, makeServiceRoot, cli, createOrganization, addWorkflow,
  setupOrganization, api };
