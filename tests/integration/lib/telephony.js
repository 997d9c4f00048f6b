// Helpers for end-to-end tests of the telephony API: a script root with the real service
// (scripts/telephony.lua, providers/) plus test workflows, an organisations file, and the API.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { SOURCE_DIR } = require('./server');
const { request } = require('./http');
const { until } = require('./wait');

/**
 * A temporary script root: lua/ and scripts/telephony.lua linked from the source tree, the
 * source providers/ files linked one by one plus `providers` ({name: text or source path}),
 * scripts/workflows/ holding `workflows` ({name: text}) and more top-level `scripts` ({name: text}).
 */
function makeServiceRoot({ workflows = {}, providers = {}, scripts = {} } = {}) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dialtone-service-'));
  fs.symlinkSync(path.join(SOURCE_DIR, 'lua'), path.join(root, 'lua'));
  fs.mkdirSync(path.join(root, 'scripts', 'workflows'), { recursive: true });
  fs.symlinkSync(path.join(SOURCE_DIR, 'scripts', 'telephony.lua'), path.join(root, 'scripts', 'telephony.lua'));
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

const sha256 = (s) => crypto.createHash('sha256').update(s).digest('hex');

/** Writes an organisations file: orgs = {id: {apiKey, telephony: {name: config}, defaultConfig}}. */
function writeOrganizations(file, orgs) {
  const doc = { organizations: {} };
  for (const [id, o] of Object.entries(orgs)) {
    doc.organizations[id] = { api_key_sha256: sha256(o.apiKey), telephony: o.telephony,
      ...(o.defaultConfig ? { default_config: o.defaultConfig } : {}) };
  }
  fs.writeFileSync(file, JSON.stringify(doc, null, 2));
}

/** A temporary organisations file (its path). */
function organizationsFile(orgs) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dialtone-orgs-'));
  const file = path.join(dir, 'organizations.json');
  writeOrganizations(file, orgs);
  return file;
}

function api(server, apiKey) {
  const headers = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };
  return {
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

module.exports = { TEST_FLOW, FAST_COST_RETRIES, makeServiceRoot, writeOrganizations, organizationsFile, api, sha256 };
