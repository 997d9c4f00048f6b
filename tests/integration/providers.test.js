// The provider registry: every providers/*.lua file is validated at load; a broken one is logged
// with its file and what is wrong and is not offered, the others are; a file dropped in while
// the server runs becomes usable without a restart; `dialtone check` fails on a broken one.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startServer, makeScriptDir, runCli } = require('./lib/server');
const { until } = require('./lib/wait');
const { request } = require('./lib/http');

const METHODS = ['initiate_call', 'get_call_status', 'get_available_phone_numbers', 'validate_config',
  'verify_webhook_signature', 'get_webhook_response', 'get_call_cost', 'parse_status_callback',
  'handle_websocket'];

/** A provider file's text: valid unless `without` names a method to leave out. */
const providerFile = (name, { without } = {}) => `
local provider = require("dialtone.provider")
local p = {
  name = "${name}", title = "Test ${name}",
  fields = { { name = "api_key", label = "API key", type = "string", secret = true, required = true } },
  audio = { encoding = "mulaw", rate = 8000 },
}
${METHODS.filter((m) => m !== without).map((m) => `function p.${m}() end`).join('\n')}
return p
`;

const LIST_ROUTE = `
dialtone.route.get("/providers", function()
  return dialtone.route.json(200, dialtone.telephony.providers())
end)
`;

function writeProvider(root, name, text) {
  const file = path.join(root, 'providers', name);
  fs.writeFileSync(file + '.tmp~', text);
  fs.renameSync(file + '.tmp~', file);
}

/** A script dir with the /providers route, one valid provider and two broken ones. */
function scriptDirWithProviders() {
  const root = makeScriptDir({ 'list.lua': LIST_ROUTE });
  writeProvider(root, 'good.lua', providerFile('good'));
  writeProvider(root, 'nocost.lua', providerFile('nocost', { without: 'get_call_cost' }));
  writeProvider(root, 'broken.lua', 'local p = {\nreturn p\n');
  return root;
}


/** Asserts a "provider not offered" log line names the file and the problem (in any field order). */
function assertRefused(log, file, problem) {
  const lines = log.split('\n').filter((l) => l.includes('msg="provider not offered"') && file.test(l));
  assert.equal(lines.length, 1, `one log line for ${file}:\n${log}`);
  assert.match(lines[0], problem);
}

const names = async (server) => (await request(`${server.url}/providers`)).json.map((p) => p.name);

test('valid providers are offered, broken ones are logged and not; a new file is picked up live', async (t) => {
  const scriptDir = scriptDirWithProviders();
  const server = await startServer({ scriptDir, args: ['--reload-debounce-ms', '50'] });
  t.after(async () => {
    await server.stop();
    fs.rmSync(scriptDir, { recursive: true, force: true });
  });

  const list = (await request(`${server.url}/providers`)).json;
  assert.deepEqual(list, [{
    name: 'good', title: 'Test good', audio: { encoding: 'mulaw', rate: 8000 },
    fields: [{ name: 'api_key', label: 'API key', type: 'string', secret: true, required: true }],
  }]);
  assertRefused(server.log, /file=\S*providers\/nocost\.lua/, /problems="missing method get_call_cost"/);
  assertRefused(server.log, /file=\S*providers\/broken\.lua/, /problems="\S*broken\.lua:2: unexpected symbol/);

  const from = server.log.length;
  writeProvider(scriptDir, 'added.lua', providerFile('added'));
  await until(async () => (await names(server)).includes('added'));
  assert.deepEqual(await names(server), ['added', 'good']);
  await server.waitForLog(/msg="scripts reloaded" reason="file change"/, 5000, from);

  writeProvider(scriptDir, 'nocost.lua', providerFile('nocost'));
  await until(async () => (await names(server)).includes('nocost'));
  assert.deepEqual(await names(server), ['added', 'good', 'nocost']);
});

test('check fails naming each provider not offered', () => {
  const scriptDir = scriptDirWithProviders();
  try {
    const r = runCli(['check', '--script-dir', scriptDir]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /provider not offered: \S*providers\/nocost\.lua: missing method get_call_cost/);
    assert.match(r.stderr, /provider not offered: \S*providers\/broken\.lua:2: unexpected symbol/);
    assert.doesNotMatch(r.stderr, /good\.lua/);
    assert.doesNotMatch(r.stdout, /^ok:/m);
  } finally {
    fs.rmSync(scriptDir, { recursive: true, force: true });
  }
});
