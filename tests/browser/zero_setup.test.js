// Zero set-up in the browser: on a fresh data directory, the key `dialtone serve` prints at first
// start signs in, and the test call goes through the simulated carrier to "completed" with a cost.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startServer, SOURCE_DIR } = require('../integration/lib/server');

const CHROMIUM = process.env.DIALTONE_CHROMIUM || '/usr/bin/chromium';
const SKIP = fs.existsSync(CHROMIUM) ? false
  : `${CHROMIUM} is not installed (apt-get install chromium, or tools/install-deps --test)`;
const SHOTS = path.join(process.env.DIALTONE_BUILD_DIR || os.tmpdir(), 'tests', 'browser-screenshots');

let server;
let browser;
let page;

before(async () => {
  if (SKIP) return;
  fs.mkdirSync(SHOTS, { recursive: true });
  server = await startServer({ scriptDir: SOURCE_DIR });
  const { chromium } = require('playwright-core');
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  page.setDefaultTimeout(10000);
});

after(async () => {
  if (SKIP) return;
  if (browser) await browser.close();
  if (server) await server.stop();
});

test('the first start key signs in; a test call on the simulated carrier completes with its cost', { skip: SKIP }, async () => {
  const key = (await server.waitForLog(/API key \(shown only this once[^)]*\): (dt_\S+)/))[1];
  await page.goto(server.url);
  await page.fill('#api-key', key);
  await page.click('button[type=submit]');
  await page.getByRole('heading', { name: 'Telephony', exact: true }).waitFor();
  await page.getByText('Simulated carrier').first().waitFor();
  await page.click('nav >> text=Test call');
  await page.waitForSelector('#call-number');
  assert.match(await page.locator('#call-workflow option:checked').textContent(), /Echo/);
  await page.fill('#call-number', '+15550100123');
  await page.click('button.btn-call');
  await page.waitForSelector('.run[data-status="completed"]', { timeout: 20000 });
  await page.waitForFunction(() => /0\.01/.test(document.querySelector('[data-fact="cost"] dd')?.textContent || ''),
    null, { timeout: 15000 });
  const run = await page.locator('.run').textContent();
  assert.match(run, /Provider\s*sim/i);
  assert.match(run, /From\s*\+15550100000/i, 'the number the simulated carrier called from');
  await page.screenshot({ path: path.join(SHOTS, 'zero-setup-call-desktop.png'), fullPage: true });
});
