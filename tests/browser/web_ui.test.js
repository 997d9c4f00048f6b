// The web UI in headless Chromium (Debian's `chromium`, driven by playwright-core) against the
// real binary serving the real scripts, with a fake Twilio as the carrier: sign in, configure
// Twilio (a bad value is refused inline), place a test call and follow it to "completed" with its
// cost, find it on the Calls page. Each page is saved as a screenshot at desktop and phone width
// under <build>/tests/browser-screenshots/.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startServer, runCli, SOURCE_DIR } = require('../integration/lib/server');
const { request } = require('../integration/lib/http');
const { startFakeTwilio } = require('../integration/lib/fake_twilio');

const CHROMIUM = process.env.DIALTONE_CHROMIUM || '/usr/bin/chromium';
const SKIP = fs.existsSync(CHROMIUM) ? false
  : `chromium not found at ${CHROMIUM}: browser tests skipped (tools/install-deps --test installs it)`;
const SHOTS = path.join(process.env.DIALTONE_BUILD_DIR || os.tmpdir(), 'tests', 'browser-screenshots');

const SID = 'AC' + '0123456789abcdef'.repeat(2);
const TOKEN = 'fedcba9876543210'.repeat(2);
const TO = '+14155550123';
const DESKTOP = { width: 1280, height: 860 };
const PHONE = { width: 390, height: 844 };

let fake;
let server;
let browser;
let page;
let apiKey;
const problems = []; // console errors and uncaught exceptions in the page

/** Runs a dialtone CLI command on the server's database; returns stdout. */
function cli(...args) {
  const r = runCli(args, { env: { DIALTONE_DATA_DIR: server.dataDir, DIALTONE_SCRIPT_DIR: SOURCE_DIR } });
  assert.equal(r.status, 0, `dialtone ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Saves the current page at desktop and phone width, and checks the phone layout fits. */
async function screenshots(name) {
  for (const [label, size] of [['desktop', DESKTOP], ['phone', PHONE]]) {
    await page.setViewportSize(size);
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.waitForTimeout(50);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${name} at ${label} width scrolls sideways by ${overflow}px`);
    await page.screenshot({ path: path.join(SHOTS, `${name}-${label}.png`), fullPage: true });
  }
  await page.setViewportSize(DESKTOP);
}

const api = (method, p, body) => request(`${server.url}${p}`, { method,
  headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
  body: body === undefined ? undefined : JSON.stringify(body) });

before(async () => {
  if (SKIP) return;
  fs.mkdirSync(SHOTS, { recursive: true });
  fake = await startFakeTwilio({ sid: SID, token: TOKEN });
  // Long enough on the media stream that the page shows the call answered before it completes.
  fake.scenario = { ...fake.scenario, frames: 60, frameIntervalMs: 20, holdMs: 300, priceDelayMs: 200, price: '-0.01300' };
  server = await startServer({ scriptDir: SOURCE_DIR });
  const org = cli('org', 'create', 'Acme Browser');
  apiKey = (org.match(/^api_key (dt_\S+)$/m) || [])[1];
  assert.ok(apiKey, `no API key in: ${org}`);
  const orgId = org.match(/^organization (org_\S+)/m)[1];
  cli('workflow', 'add', orgId, 'Echo test', 'echo');
  const { chromium } = require('playwright-core');
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  page = await browser.newPage({ viewport: DESKTOP });
  page.setDefaultTimeout(10000);
  // Refused requests (401, 422...) are expected; anything else logged as an error is a problem.
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`exception: ${e.message}`));
});

after(async () => {
  if (SKIP) return;
  if (browser) await browser.close();
  if (process.env.DUMP_LOG && server) console.error(server.log);
  if (server) await server.stop();
  if (fake) await fake.close();
});

test('sign in: a wrong key is refused, the right one opens the console', { skip: SKIP }, async () => {
  await page.goto(server.url);
  await page.waitForSelector('#api-key');
  await screenshots('sign-in');
  await page.fill('#api-key', 'dt_not_a_real_key');
  await page.click('button[type=submit]');
  await page.getByRole('alert').filter({ hasText: 'not accepted' }).waitFor();
  await page.fill('#api-key', apiKey);
  await page.click('button[type=submit]');
  await page.getByRole('heading', { name: 'Telephony', exact: true }).waitFor();
  await page.getByText('No telephony configuration yet').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('dialtone.apiKey')), apiKey);
  await screenshots('telephony-empty');
});

test('configure Twilio against the fake carrier: a bad value is refused inline, then saved', { skip: SKIP }, async () => {
  await page.click('text=New configuration');
  await page.waitForSelector('#cfg-provider');
  await page.selectOption('#cfg-provider', 'twilio');
  await page.fill('#cfg-name', 'Main');
  await page.fill('#cfg-account_sid', 'AC-not-a-valid-sid');
  assert.equal(await page.getAttribute('#cfg-auth_token', 'type'), 'password');
  await page.fill('#cfg-auth_token', TOKEN);
  assert.equal(await page.evaluate(() => document.getElementById('cfg-from_numbers').tagName), 'TEXTAREA');
  await page.fill('#cfg-from_numbers', '+14155550100\n+14155550101\n');
  await page.fill('#cfg-api_base_url', fake.url);
  await page.click('button[type=submit]');
  const sidError = page.locator('#cfg-account_sid-error');
  await sidError.waitFor({ state: 'visible' });
  assert.match(await sidError.textContent(), /\S/);
  assert.equal(await page.getAttribute('#cfg-account_sid', 'aria-invalid'), 'true');
  assert.equal(await page.locator('#cfg-auth_token-error').isVisible(), false);
  assert.equal((await api('GET', '/api/v1/telephony/configs')).json.length, 0, 'the refused configuration was stored');
  await screenshots('telephony-invalid');

  await page.fill('#cfg-account_sid', SID);
  await page.click('button[type=submit]');
  const item = page.locator('li[data-config]').filter({ hasText: 'Main' });
  await item.waitFor();
  assert.match(await item.textContent(), /Default/);
  assert.match(await item.textContent(), /Twilio/);
  const [stored] = (await api('GET', '/api/v1/telephony/configs')).json;
  assert.equal(stored.settings.account_sid, SID);
  assert.deepEqual(stored.settings.from_numbers, ['+14155550100', '+14155550101']);
  assert.notEqual(stored.settings.auth_token, TOKEN);
  await screenshots('telephony-list');

  // Editing shows the stored secret as the mask and keeps it when saved untouched.
  await item.getByRole('link', { name: /Edit/ }).click();
  await page.waitForSelector('#cfg-auth_token');
  const shown = await page.inputValue('#cfg-auth_token');
  assert.notEqual(shown, TOKEN);
  assert.equal(shown, stored.settings.auth_token);
  await screenshots('telephony-edit');
  await page.click('button[type=submit]');
  await item.waitFor();
});

test('configuration names are shown as text; set default and delete from the list', { skip: SKIP }, async () => {
  const evil = '<img src=x onerror="window.__xss=1">Lab';
  const created = await api('POST', '/api/v1/telephony/configs', { name: evil, provider: 'twilio',
    settings: { account_sid: SID, auth_token: TOKEN, api_base_url: fake.url, from_numbers: ['+14155550100'] } });
  assert.equal(created.status, 201, created.body);
  await page.reload();
  const lab = page.locator(`li[data-config="${created.json.id}"]`);
  await lab.waitFor();
  assert.match(await lab.locator('h2').textContent(), /<img src=x/);
  assert.equal(await page.evaluate(() => window.__xss), undefined);

  await lab.getByRole('button', { name: 'Make default' }).click();
  await lab.locator('.badge-default').waitFor();
  assert.equal((await api('GET', `/api/v1/telephony/configs/${created.json.id}`)).json.is_default, true);

  await lab.getByRole('button', { name: /^Delete/ }).click();
  await lab.getByRole('button', { name: 'Delete', exact: true }).click();
  await lab.waitFor({ state: 'detached' });
  const left = (await api('GET', '/api/v1/telephony/configs')).json;
  assert.deepEqual(left.map((c) => [c.name, c.is_default]), [['Main', true]]);
  await page.locator('li[data-config]').filter({ hasText: 'Main' }).locator('.badge-default').waitFor();
});

test('a test call is followed live to completed, with its events and cost', { skip: SKIP }, async () => {
  await page.click('nav >> text=Test call');
  await page.waitForSelector('#call-number');
  assert.match(await page.locator('#call-workflow option').first().textContent(), /Echo test/);
  await screenshots('test-call');
  await page.fill('#call-number', '4155550123');
  await page.click('button.btn-call');
  await page.locator('#call-number-error').waitFor({ state: 'visible' });
  assert.equal(fake.calls.length, 0, 'a number without its country code reached the carrier');

  // Every status the page shows while the call runs, in order.
  await page.evaluate(() => {
    window.__seen = [];
    new MutationObserver(() => {
      const s = document.querySelector('.run')?.dataset.status;
      if (s && window.__seen[window.__seen.length - 1] !== s) window.__seen.push(s);
    }).observe(document.body, { subtree: true, childList: true, attributes: true });
  });
  await page.fill('#call-number', TO);
  await page.click('button.btn-call');
  const call = await fake.nextCall();
  assert.equal(call.form.To[0], TO);
  await page.waitForSelector('.run[data-status="completed"]', { timeout: 15000 });
  const cost = page.locator('[data-fact="cost"] dd');
  await page.waitForFunction(() => /0\.013/.test(document.querySelector('[data-fact="cost"] dd')?.textContent || ''),
    null, { timeout: 15000 });
  assert.match(await cost.textContent(), /0\.013/);

  const seen = await page.evaluate(() => window.__seen);
  assert.ok(seen.includes('answered'), `statuses shown: ${seen}`);
  assert.ok(seen.indexOf('answered') < seen.indexOf('completed'), `statuses shown: ${seen}`);
  assert.deepEqual(seen.filter((s) => !['initiated', 'ringing', 'answered', 'completed'].includes(s)), []);
  assert.equal(await page.locator('.step-done').count(), 4);
  const timeline = await page.locator('.timeline').textContent();
  for (const s of ['ringing', 'answered', 'completed']) assert.match(timeline, new RegExp(s));
  await screenshots('test-call-completed');
});

test('the Calls page lists the call and opens its timeline', { skip: SKIP }, async () => {
  await page.click('nav >> text=Calls');
  const row = page.locator('tr[data-run]').first();
  await row.waitFor();
  const text = await row.textContent();
  assert.match(text, /completed/);
  assert.match(text, new RegExp(`\\${TO}`));
  assert.match(text, /0\.013/);
  assert.match(text, /Echo test/);
  await screenshots('calls');
  await row.click();
  await page.waitForSelector('.run[data-status="completed"] .timeline');
  assert.match(await page.locator('.run').textContent(), new RegExp(`\\${TO}`));
  await screenshots('call-detail');
});

test('sign out forgets the key', { skip: SKIP }, async () => {
  await page.click('#sign-out');
  await page.waitForSelector('#api-key');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('dialtone.apiKey')), null);
  assert.deepEqual(problems, []);
});
