// A real-browser walk through the ragway web admin.
//
// Starts the fake OpenAI-compatible upstream and `ragway serve` (debug
// builds under $CARGO_TARGET_DIR, default ./target), drives headless
// Chromium through setup, login, providers, models, keys, knowledge, the
// playground (streamed answers with sources through every protocol, drawing),
// revoking a key and logging out, and saves a screenshot of every page at desktop and phone
// width to $SCREENSHOT_DIR (default target/browser-screenshots/).
//
//   node tests/browser/admin.test.mjs      (or scripts/browser-test.sh)

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const TARGET = path.resolve(ROOT, process.env.CARGO_TARGET_DIR || 'target');
const RAGWAY = path.join(TARGET, 'debug', 'ragway');
const FAKE = path.join(TARGET, 'debug', 'examples', 'fake_upstream');
const SHOTS = path.resolve(ROOT, process.env.SCREENSHOT_DIR || path.join('target', 'browser-screenshots'));
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const TIMEOUT = 20_000;

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const PASSWORD = 'harbour lights at dusk';
const FERRY_TEXT = [
  'Harbour ferry timetable.',
  'The harbour ferry leaves the north pier every 20 minutes from 6am until midnight on weekdays.',
  'On Saturdays the first ferry leaves at 7am. On Sundays the last ferry leaves the north pier at 11pm.',
  'Tickets cost 3 euros; bicycles travel free.',
].join('\n');

const children = [];
let passed = 0;
let failed = 0;

function log(message) {
  process.stdout.write(message + '\n');
}

function killChildren() {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try { child.kill('SIGKILL'); } catch { /* gone */ }
    }
  }
}
process.on('exit', killChildren);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => { killChildren(); process.exit(130); });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** The environment without any RAGWAY_* variable of the caller's. */
function cleanEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('RAGWAY_')) env[k] = v;
  }
  return Object.assign(env, extra);
}

function start(name, bin, args, env, logFile) {
  if (!fs.existsSync(bin)) {
    throw new Error(`${bin} is missing: build it first (cargo build --bin ragway --example fake_upstream)`);
  }
  const out = fs.openSync(logFile, 'w');
  const child = spawn(bin, args, { env, stdio: ['ignore', out, out] });
  child.name = name;
  child.logFile = logFile;
  children.push(child);
  child.on('exit', (code, signal) => {
    if (!child.expectedExit) log(`  (${name} exited: code ${code}, signal ${signal})`);
  });
  return child;
}

async function waitForHttp(url, child, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  let lastError = null;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`${child.name} exited early (code ${child.exitCode}); log:\n${tail(child.logFile)}`);
    }
    try {
      const res = await fetch(url);
      if (res.ok) return;
      lastError = new Error(`HTTP ${res.status}`);
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`${url} did not answer in time (${lastError}); log:\n${tail(child.logFile)}`);
}

function tail(file, lines = 40) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

async function main() {
  fs.mkdirSync(SHOTS, { recursive: true });
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install it (apt-get install -y chromium) or run scripts/browser-test.sh`);
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ragway-browser-'));
  const dataDir = path.join(work, 'data');
  fs.mkdirSync(dataDir);

  const fakePort = await freePort();
  const fake = start('fake_upstream', FAKE, [`127.0.0.1:${fakePort}`], cleanEnv({}), path.join(work, 'fake.log'));
  const fakeUrl = `http://127.0.0.1:${fakePort}`;
  await waitForHttp(`${fakeUrl}/v1/models`, fake);

  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = start('ragway', RAGWAY, ['serve'], cleanEnv({
    RAGWAY_LISTEN: `127.0.0.1:${port}`,
    RAGWAY_DATA_DIR: dataDir,
    RAGWAY_CHAT_BASE_URL: fakeUrl,
    RAGWAY_CHAT_MODEL: 'fake-chat',
    RAGWAY_EMBED_BASE_URL: fakeUrl,
    RUST_LOG: process.env.RUST_LOG || 'warn,ragway=info',
  }), path.join(work, 'ragway.log'));
  await waitForHttp(`${base}/health`, server);
  log(`ragway at ${base}, fake upstream at ${fakeUrl}, screenshots in ${SHOTS}`);

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  const context = await browser.newContext({ viewport: DESKTOP, locale: 'en-US', deviceScaleFactor: 1 });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);

  // Anything the page's Content-Security-Policy refused, and script errors, fail the run.
  const problems = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    const text = msg.text();
    if (/Content Security Policy|Refused to/i.test(text)) problems.push(`CSP: ${text}`);
    else if (msg.type() === 'error' && !/status of (401|403|409|413|415|429)/.test(text) && !/Failed to load resource/.test(text)) {
      problems.push(`console error: ${text}`);
    }
  });

  // The API calls the page made, for the report of a failed step.
  const calls = [];
  page.on('response', (res) => {
    const url = new URL(res.url());
    if (!/^\/(api|v1)\//.test(url.pathname)) return;
    calls.push(`${res.request().method()} ${url.pathname}${url.search} -> ${res.status()}`);
    if (calls.length > 12) calls.shift();
  });

  const tid = (id) => page.getByTestId(id);
  const ctx = { page, base, fakeUrl, tid, secret: null, keyId: null };

  async function step(name, fn) {
    const started = Date.now();
    try {
      await fn();
      if (problems.length) throw new Error(problems.splice(0).join('\n'));
      passed += 1;
      log(`ok   ${name} (${Date.now() - started} ms)`);
    } catch (err) {
      failed += 1;
      log(`FAIL ${name}: ${err.message}`);
      log(`the page's last API calls:\n  ${calls.join('\n  ') || '(none)'}`);
      const shown = await page.evaluate(() => [...document.querySelectorAll('[role="alert"]:not([hidden]), [data-testid="toast"]')]
        .map((el) => `${el.getAttribute('data-testid') || el.className}: ${el.textContent.trim()}`)).catch(() => []);
      if (shown.length) log(`messages on the page:\n  ${shown.join('\n  ')}`);
      try {
        await page.screenshot({ path: path.join(SHOTS, `failure-${name.replace(/[^a-z0-9]+/gi, '-')}.png`), fullPage: true });
      } catch { /* page gone */ }
      throw err;
    }
  }

  try {
    await walk(ctx, step);
  } finally {
    await browser.close().catch(() => {});
    server.expectedExit = true;
    fake.expectedExit = true;
    killChildren();
    if (failed) {
      log('\n--- ragway log (tail) ---\n' + tail(path.join(work, 'ragway.log')));
    }
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** Wait until the page has no loading placeholder left. */
async function settled(page) {
  await page.waitForFunction(() => !document.querySelector('[data-testid="loading"]') && !document.querySelector('[data-testid="boot"]'));
}

async function shot(page, name, viewport) {
  const size = viewport || page.viewportSize();
  const kind = size.width < 600 ? 'phone' : 'desktop';
  // Toasts and hover states are transient: keep them out of the pictures.
  await page.mouse.move(size.width - 1, size.height - 1);
  await page.evaluate(async () => {
    const toasts = document.getElementById('toasts');
    if (toasts) toasts.replaceChildren();
    window.scrollTo(0, 0);
    if (document.fonts) await document.fonts.ready;
  });
  await page.screenshot({ path: path.join(SHOTS, `${name}-${kind}.png`), fullPage: true, animations: 'disabled' });
}

/** Nothing sticks out sideways at phone width. */
async function noOverflow(page, name) {
  const overflow = await page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const wide = document.documentElement.scrollWidth;
    const culprits = [];
    if (wide > width + 1) {
      for (const el of document.querySelectorAll('body *')) {
        const r = el.getBoundingClientRect();
        if (r.right > width + 1 && r.width > 0 && getComputedStyle(el).position !== 'fixed') {
          culprits.push(`${el.tagName.toLowerCase()}.${String(el.className).split(' ').join('.')} (${Math.round(r.right)}px)`);
          if (culprits.length > 5) break;
        }
      }
    }
    return { width, wide, culprits };
  });
  assert(overflow.wide <= overflow.width + 1,
    `${name} overflows at phone width: ${overflow.wide}px > ${overflow.width}px; ${overflow.culprits.join(', ')}`);
}

async function visit(page, name) {
  await page.evaluate((n) => { location.hash = '#/' + n; }, name);
  await page.getByTestId(`page-${name}`).waitFor();
  await settled(page);
}

async function walk(ctx, step) {
  const { page, base, fakeUrl, tid } = ctx;

  await step('setup page is shown on first visit', async () => {
    await page.goto(`${base}/admin`);
    await tid('setup-page').waitFor();
    await shot(page, 'setup');
    await page.setViewportSize(PHONE);
    await shot(page, 'setup');
    await noOverflow(page, 'setup');
    await page.setViewportSize(DESKTOP);
  });

  await step('setup refuses a short password', async () => {
    await tid('setup-password').fill('too short');
    await tid('setup-password2').fill('too short');
    await tid('setup-submit').click();
    await page.locator('[data-testid="setup-error"]', { hasText: '12' }).waitFor();
  });

  await step('setup refuses two different passwords', async () => {
    await tid('setup-password').fill(PASSWORD);
    await tid('setup-password2').fill(PASSWORD + '!');
    await tid('setup-submit').click();
    await page.locator('[data-testid="setup-error"]', { hasText: /differ/i }).waitFor();
  });

  await step('setup sets the password and shows the first key once', async () => {
    await tid('setup-password2').fill(PASSWORD);
    await tid('setup-submit').click();
    await tid('setup-done').waitFor();
    const key = (await tid('setup-key').textContent()).trim();
    assert(/^sk-\S{20,}$/.test(key), `the first key looks wrong: ${key}`);
    await tid('secret-copy').waitFor();
    await shot(page, 'setup-done');
    await page.setViewportSize(PHONE);
    await shot(page, 'setup-done');
    await noOverflow(page, 'setup-done');
    await page.setViewportSize(DESKTOP);
    await tid('setup-continue').click();
    await tid('page-dashboard').waitFor();
    await settled(page);
    await page.locator('[data-testid="health-status"][data-status="ok"]').waitFor();
    await page.locator('[data-testid="check-database"][data-status="ok"]').waitFor();
  });

  await step('logout shows the login page', async () => {
    await tid('logout').click();
    await tid('login-page').waitFor();
    await shot(page, 'login');
    await page.setViewportSize(PHONE);
    await shot(page, 'login');
    await noOverflow(page, 'login');
    await page.setViewportSize(DESKTOP);
  });

  await step('login refuses a wrong password', async () => {
    await tid('login-password').fill('not the password');
    await tid('login-submit').click();
    await page.locator('[data-testid="login-error"]', { hasText: /incorrect/i }).waitFor();
  });

  await step('login with the right password opens the dashboard', async () => {
    await tid('login-password').fill(PASSWORD);
    await tid('login-submit').click();
    await tid('page-dashboard').waitFor();
    await settled(page);
    await page.locator('[data-testid="upstream-chat"][data-status="configured"]').waitFor();
    await page.locator('[data-testid="upstream-images"][data-status="not_configured"]').waitFor();
  });

  await step('providers: add an images provider and test it', async () => {
    await tid('nav-providers').click();
    await tid('page-providers').waitFor();
    await settled(page);
    await page.locator('[data-testid="provider-images-status"][data-status="not_configured"]').waitFor();
    await tid('provider-images-base-url').fill(fakeUrl);
    await tid('provider-images-model').fill('fake-image');
    await tid('provider-images-api-key').fill('sk-upstream-secret-1234');
    await tid('provider-images-save').click();
    await page.locator('[data-testid="provider-images-status"][data-status="configured"]').waitFor();
    await page.locator('[data-testid="provider-images-source"]', { hasText: /admin/i }).waitFor();
    const placeholder = await tid('provider-images-api-key').getAttribute('placeholder');
    assert(placeholder.includes('1234') && !placeholder.includes('upstream-secret'), `the saved key is not shown masked: ${placeholder}`);
    await tid('provider-images-test').click();
    await page.locator('[data-testid="provider-images-result"][data-ok="true"]').waitFor();
    const latency = await tid('provider-images-latency').textContent();
    assert(/\d+\s*ms/.test(latency), `no latency in the test result: ${latency}`);
    await tid('provider-images-list-models').click();
    await tid('provider-images-models').getByText('fake-chat').waitFor();
    // A provider that is not configured reports its error.
    await tid('provider-rerank-test').click();
    await page.locator('[data-testid="provider-rerank-result"][data-ok="false"]', { hasText: /not configured/i }).waitFor();
  });

  await step('providers: the chat key pool adds, lists and removes a key', async () => {
    await visit(page, 'providers');
    const pool = tid('pool-chat');
    await pool.waitFor();
    // The fingerprint of a key: the first 8 hex digits of its SHA-256.
    const newKey = 'sk-browser-pool-key-0042';
    const fp = createHash('sha256').update(newKey).digest('hex').slice(0, 8);
    await tid('pool-chat-new-key').fill(newKey);
    const added = page.waitForResponse((res) => res.request().method() === 'POST' && new URL(res.url()).pathname === '/api/admin/upstreams/chat/keys');
    await tid('pool-chat-add').click();
    const addStatus = (await added).status();
    assert(addStatus === 201, `adding a key to the chat pool answered ${addStatus}, not 201`);
    const row = tid(`pool-chat-key-${fp}`);
    await row.waitFor();
    const masked = (await row.getByTestId(`pool-chat-mask-${fp}`).textContent()).trim();
    assert(masked.includes('…0042') && !masked.includes('browser-pool'), `the new key is not shown masked: ${masked}`);
    await page.locator(`[data-testid="pool-chat-state-${fp}"][data-status="active"]`).waitFor();
    assert(await tid('pool-chat-new-key').inputValue() === '', 'the key field was not emptied after adding');
    await shot(page, 'providers-pool');

    await tid(`pool-chat-remove-${fp}`).click();
    await tid('confirm-modal').waitFor();
    const removed = page.waitForResponse((res) => res.request().method() === 'DELETE' && new URL(res.url()).pathname === `/api/admin/upstreams/chat/keys/${fp}`);
    await tid('confirm-ok').click();
    const removeStatus = (await removed).status();
    assert(removeStatus === 200, `removing the key answered ${removeStatus}, not 200`);
    await row.waitFor({ state: 'detached' });
    await tid('confirm-modal').waitFor({ state: 'detached' });
  });

  await step('models: create harbour', async () => {
    await tid('nav-models').click();
    await tid('page-models').waitFor();
    await settled(page);
    await tid('model-row-ragway').waitFor();
    await tid('model-new').click();
    await tid('model-modal').waitFor();
    await tid('model-form-id').fill('harbour');
    await tid('model-form-upstream').fill('fake-chat');
    await tid('model-form-system-prompt').fill('You answer questions about the harbour.');
    await tid('model-form-top-k').fill('3');
    await shot(page, 'model-form');
    await page.setViewportSize(PHONE);
    await shot(page, 'model-form');
    await page.setViewportSize(DESKTOP);
    await tid('model-save').click();
    await tid('model-modal').waitFor({ state: 'detached' });
    await tid('model-row-harbour').waitFor();
    // Bad values come back as the server's message.
    await tid('model-edit-harbour').click();
    await tid('model-modal').waitFor();
    const shownTopK = await tid('model-form-top-k').inputValue();
    assert(shownTopK === '3', `the edit form shows top_k ${shownTopK}, not the saved 3`);
    await tid('model-form-top-k').fill('99');
    const refused = page.waitForResponse((res) => res.request().method() === 'PATCH' && res.url().endsWith('/api/admin/models/harbour'));
    await tid('model-save').click();
    const status = (await refused).status();
    assert(status === 400, `top_k 99 answered ${status}, not 400`);
    await page.locator('[data-testid="model-form-error"]', { hasText: 'top_k' }).waitFor();
    await tid('model-form-top-k').fill('3');
    await tid('model-save').click();
    await tid('model-modal').waitFor({ state: 'detached' });
  });

  await step('keys: create a key and see its secret once', async () => {
    await tid('nav-keys').click();
    await tid('page-keys').waitFor();
    await settled(page);
    await tid('key-name').fill('playground key');
    await tid('key-create').click();
    await tid('key-secret-modal').waitFor();
    ctx.secret = (await tid('key-secret').textContent()).trim();
    assert(/^sk-\S{20,}$/.test(ctx.secret), `the new key looks wrong: ${ctx.secret}`);
    await shot(page, 'key-created');
    await tid('key-secret-close').click();
    await tid('key-secret-modal').waitFor({ state: 'detached' });
    const row = page.locator('[data-testid="key-row"][data-key-name="playground key"]');
    await row.locator('[data-testid="key-status"][data-status="active"]').waitFor();
    ctx.keyId = await row.getAttribute('data-key-id');
    assert(ctx.keyId, 'the key row has no id');
  });

  await step('knowledge: paste a text and see it become ready', async () => {
    await tid('nav-knowledge').click();
    await tid('page-knowledge').waitFor();
    await settled(page);
    await tid('tab-paste').click();
    await tid('doc-title').fill('Harbour ferry timetable');
    await tid('doc-text').fill(FERRY_TEXT);
    await tid('doc-submit').click();
    const row = page.locator('[data-testid="doc-row"]', { hasText: 'Harbour ferry timetable' });
    await row.waitFor();
    await row.locator('[data-testid="doc-status"][data-status="ready"]').waitFor({ timeout: 60_000 });
  });

  await step('knowledge: upload a file with progress', async () => {
    await tid('tab-upload').click();
    await tid('file-input').setInputFiles({
      name: 'lighthouse.md',
      mimeType: 'text/markdown',
      buffer: Buffer.from('# Lighthouse\n\nThe lighthouse on the east mole is open to visitors on Sundays from 10am to 4pm.\n'),
    });
    await page.locator('[data-testid="upload-item"].done', { hasText: 'lighthouse.md' }).waitFor();
    const row = page.locator('[data-testid="doc-row"]', { hasText: 'lighthouse.md' });
    await row.locator('[data-testid="doc-status"][data-status="ready"]').waitFor({ timeout: 60_000 });
    // An unsupported type shows the server's message.
    await tid('file-input').setInputFiles({ name: 'blob.bin', mimeType: 'application/octet-stream', buffer: Buffer.from([0, 1, 2, 3, 0, 255]) });
    await page.locator('[data-testid="upload-item"].failed', { hasText: /unsupported/i }).waitFor();
  });

  await step('knowledge: ingest a document again', async () => {
    const row = page.locator('[data-testid="doc-row"]', { hasText: 'lighthouse.md' });
    const again = page.waitForResponse((res) => res.request().method() === 'POST' && /\/reingest$/.test(res.url()));
    await row.getByTestId('doc-reingest').click();
    const status = (await again).status();
    assert(status === 202, `re-ingest answered ${status}, not 202`);
    await page.getByTestId('toast').filter({ hasText: 'lighthouse.md' }).waitFor();
    await row.locator('[data-testid="doc-status"][data-status="ready"]').waitFor({ timeout: 60_000 });
    // No key has private documents yet; the shared ones are all there.
    await tid('doc-filter-collection').selectOption(' private');
    await tid('documents').getByTestId('empty-state').waitFor();
    await tid('doc-filter-collection').selectOption(' shared');
    await row.waitFor();
    await tid('doc-filter-collection').selectOption('');
    await row.waitFor();
  });

  await step('knowledge: vector stores are listed, and one is deleted', async () => {
    // A shared store of the timetable, made as an OpenAI client would (here with the page's own session).
    const made = await page.evaluate(async () => {
      const docs = await (await fetch('/v1/documents?q=ferry')).json();
      const res = await fetch('/v1/vector_stores', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'Harbour manuals', file_ids: [docs.data[0].id] }),
      });
      return { status: res.status, body: await res.json() };
    });
    assert(made.status === 200, `creating a store answered ${made.status}: ${JSON.stringify(made.body)}`);
    await tid('nav-dashboard').click();
    await tid('nav-knowledge').click();
    await tid('page-knowledge').waitFor();
    const row = page.locator('[data-testid="store-row"]', { hasText: 'Harbour manuals' });
    await row.waitFor();
    await row.getByTestId('store-files').filter({ hasText: '1 of 1' }).waitFor();
    await row.locator('[data-testid="store-status"][data-status="completed"]').waitFor();
    await tid('kb-stores').scrollIntoViewIfNeeded();
    await shot(page, 'knowledge-stores');
    await row.getByTestId('store-delete').click();
    await tid('confirm-modal').waitFor();
    await tid('confirm-ok').click();
    await tid('stores-empty').waitFor();
    const gone = await page.evaluate(async (id) => (await fetch('/v1/vector_stores/' + id)).status, made.body.id);
    assert(gone === 404, `the deleted store still answers ${gone}`);
  });

  await step('knowledge: test retrieval ranks the ferry timetable first', async () => {
    const isTest = (url) => new URL(url).pathname === '/api/admin/retrieval/test';
    await tid('kb-retrieval').scrollIntoViewIfNeeded();
    // An empty question is refused in the page, without a request.
    let sent = 0;
    const count = (req) => { if (req.method() === 'POST' && isTest(req.url())) sent += 1; };
    page.on('request', count);
    try {
      await tid('rt-question').fill('   ');
      await tid('rt-run').click();
      await tid('rt-error').waitFor();
      await page.waitForTimeout(200);
      assert(sent === 0, `an empty question still sent ${sent} request(s)`);
    } finally {
      page.off('request', count);
    }
    // The server's refusal shows in the card.
    await page.route('**/api/admin/retrieval/test', (route) => route.fulfill({
      status: 400, contentType: 'application/json',
      body: JSON.stringify({ error: { message: 'Unknown collection `nowhere`.', type: 'invalid_request_error' } }),
    }), { times: 1 });
    await tid('rt-question').fill('When does the last ferry leave on Sundays?');
    await tid('rt-run').click();
    await page.locator('[data-testid="rt-error"]', { hasText: 'Unknown collection `nowhere`.' }).waitFor();
    // The real search.
    await tid('rt-top-k').fill('3');
    const answered = page.waitForResponse((res) => res.request().method() === 'POST' && isTest(res.url()));
    await tid('rt-run').click();
    const res = await answered;
    assert(res.status() === 200, `the retrieval test answered ${res.status()}, not 200`);
    const sentBody = JSON.parse(res.request().postData() || '{}');
    assert(sentBody.top_k === 3 && !('model' in sentBody) && !('collections' in sentBody),
      `the default choices sent ${JSON.stringify(sentBody)}`);
    await tid('rt-error').waitFor({ state: 'hidden' });
    const first = tid('rt-source').first();
    await first.waitFor();
    const rows = await tid('rt-source').count();
    assert(rows >= 1 && rows <= 3, `top k 3 showed ${rows} rows`);
    const title = await first.getByTestId('rt-source-title').textContent();
    assert(/Harbour ferry timetable/.test(title), `the first source is not the ferry timetable: ${title}`);
    const vector = (await first.getByTestId('rt-vector').textContent()).trim();
    assert(/^#\d+/.test(vector), `the first source shows no vector rank: ${vector}`);
    const fused = (await first.getByTestId('rt-fused').textContent()).trim();
    assert(/^\d+\.\d{4}$/.test(fused), `the fused score looks wrong: ${fused}`);
    const summary = await tid('rt-summary').textContent();
    assert(/\d\s*ms/.test(summary), `no time in the summary: ${summary}`);
    assert(/last ferry/.test(summary), `the searched text is not shown: ${summary}`);
    await shot(page, 'knowledge-retrieval-test');
    await page.setViewportSize(PHONE);
    await shot(page, 'knowledge-retrieval-test');
    await noOverflow(page, 'knowledge-retrieval-test');
    await page.setViewportSize(DESKTOP);
    // A long passage is cut short and opens in full.
    const more = first.getByTestId('rt-more');
    if (await more.count()) {
      await more.click();
      await first.getByTestId('rt-excerpt').getByText(/bicycles travel free/).waitFor();
    }
    // Nothing matched: the empty state, not an empty table.
    await page.route('**/api/admin/retrieval/test', (route) => route.fulfill({
      status: 200, contentType: 'application/json',
      body: JSON.stringify({ object: 'retrieval.test', model: 'ragway', query: 'zebra crossings', queries: ['zebra crossings'], top_k: 5, rerank: false, candidates: 20, took_ms: 1.2, sources: [] }),
    }), { times: 1 });
    await tid('rt-question').fill('zebra crossings');
    await tid('rt-run').click();
    await tid('rt-results').getByTestId('rt-empty').waitFor();
    assert(await tid('rt-source').count() === 0, 'an empty answer still shows source rows');
  });

  await step('playground: a streamed answer with sources', async () => {
    await tid('nav-playground').click();
    await tid('page-playground').waitFor();
    await settled(page);
    await tid('pg-model').selectOption('harbour');
    await tid('pg-key').selectOption(ctx.keyId);
    await tid('pg-input').fill('When does the last ferry leave on Sunday?');
    await tid('pg-send').click();
    const answer = tid('pg-msg-assistant').last();
    await answer.getByText(/Echo: When does the last ferry leave on Sunday\?/).waitFor();
    await answer.locator('[data-testid="pg-source"]', { hasText: 'Harbour ferry timetable' }).first().waitFor();
    await page.locator('[data-testid="pg-conversation"] a').waitFor();
    await tid('pg-send').waitFor();
    // A follow-up stays in the same conversation.
    const convId = (await page.locator('[data-testid="pg-conversation"] a').textContent()).trim();
    await tid('pg-input').fill('And are bicycles allowed?');
    await tid('pg-input').press('Enter');
    await page.locator('[data-testid="pg-msg-assistant"]', { hasText: 'Echo: And are bicycles allowed?' }).waitFor();
    await tid('pg-send').waitFor();
    const sameConv = (await page.locator('[data-testid="pg-conversation"] a').textContent()).trim();
    assert(sameConv === convId, `the follow-up started another conversation (${convId} → ${sameConv})`);
    ctx.convId = convId;
    await shot(page, 'playground-answer');
    await page.setViewportSize(PHONE);
    await shot(page, 'playground-answer');
    await noOverflow(page, 'playground-answer');
    await page.setViewportSize(DESKTOP);
  });

  await step('playground: a drawing answer shows the picture', async () => {
    await tid('pg-new').click();
    await tid('pg-empty').waitFor();
    await tid('pg-model').selectOption('ragway');
    await tid('pg-input').fill('画 a lighthouse at dusk');
    await tid('pg-send').click();
    const img = tid('pg-msg-assistant').last().getByTestId('md-image');
    await img.waitFor();
    await page.waitForFunction(() => {
      const el = document.querySelector('[data-testid="md-image"]');
      return el && el.complete && el.naturalWidth > 0;
    });
    await tid('pg-send').waitFor();
  });

  await step('conversations: the chat is listed and readable', async () => {
    await tid('nav-conversations').click();
    await tid('page-conversations').waitFor();
    await settled(page);
    await tid('conv-filter-key').selectOption(ctx.keyId);
    const row = page.locator('[data-testid="conv-row"]', { hasText: 'When does the last ferry' });
    await row.waitFor();
    await row.getByTestId('conv-link').click();
    await tid('conv-messages').waitFor();
    await settled(page);
    const count = await tid('conv-message').count();
    assert(count === 4, `expected 4 messages in the conversation, found ${count}`);
    await tid('conv-messages').getByTestId('pg-source').first().waitFor();
    await shot(page, 'conversation');
  });

  await step('playground: the same answer through every protocol', async () => {
    await tid('nav-playground').click();
    await tid('page-playground').waitFor();
    await settled(page);
    await tid('pg-new').click();
    await tid('pg-empty').waitFor();
    await tid('pg-model').selectOption('harbour');
    let conversation = null;
    for (const protocol of ['responses', 'anthropic', 'gemini', 'chat']) {
      await tid('pg-protocol').selectOption(protocol);
      const question = `Which ferry goes first? (${protocol})`;
      await tid('pg-input').fill(question);
      await tid('pg-send').click();
      const answer = page.locator('[data-testid="pg-msg-assistant"]', { hasText: `Echo: ${question}` });
      await answer.waitFor();
      await answer.locator('[data-testid="pg-source"]', { hasText: 'Harbour ferry timetable' }).first().waitFor();
      await tid('pg-send').waitFor();
      assert(await answer.getByTestId('pg-error').count() === 0, `${protocol}: the answer has an error`);
      await answer.getByTestId('pg-via').waitFor();
      const now = (await page.locator('[data-testid="pg-conversation"] a').textContent()).trim();
      assert(conversation === null || now === conversation, `${protocol} started another conversation`);
      conversation = now;
    }
    await shot(page, 'playground-protocols');
    await tid('pg-protocol').selectOption('chat');
  });

  await step('settings: change a value and see it saved', async () => {
    await tid('nav-settings').click();
    await tid('page-settings').waitFor();
    await settled(page);
    await tid('setting-top_k').fill('99');
    await tid('settings-save').click();
    await page.locator('[data-testid="settings-error"]', { hasText: 'top_k' }).waitFor();
    await tid('setting-top_k').fill('4');
    await tid('settings-save').click();
    await tid('setting-reset-top_k').waitFor();
    await tid('setting-reset-top_k').click();
    await tid('setting-reset-top_k').waitFor({ state: 'detached' });
    const value = await tid('setting-top_k').inputValue();
    assert(value === '5', `top_k did not go back to its default: ${value}`);
  });

  await step('keys: revoke the key', async () => {
    await tid('nav-keys').click();
    await tid('page-keys').waitFor();
    await settled(page);
    const row = page.locator(`[data-testid="key-row"][data-key-id="${ctx.keyId}"]`);
    await row.getByTestId('key-revoke').click();
    await tid('confirm-modal').waitFor();
    await tid('confirm-ok').click();
    await row.locator('[data-testid="key-status"][data-status="revoked"]').waitFor();
  });

  await step('playground: the revoked key is refused', async () => {
    await tid('nav-playground').click();
    await tid('page-playground').waitFor();
    await settled(page);
    await tid('pg-new').click();
    await tid('pg-model').selectOption('harbour');
    await tid('pg-key').selectOption(ctx.keyId);
    await tid('pg-input').fill('Is the ferry running?');
    await tid('pg-send').click();
    await page.locator('[data-testid="pg-error"]', { hasText: /revoked/i }).waitFor();
    await shot(page, 'playground-refused');
    // The admin session is untouched by the key's refusal.
    await tid('nav-dashboard').click();
    await tid('page-dashboard').waitFor();
  });

  await step('logs: the chats are listed, filtered and shown in detail', async () => {
    await visit(page, 'logs');
    // Rows are stored by a background writer: refresh until the chats are in.
    const chat = page.locator('[data-testid="log-row"][data-endpoint="/v1/chat/completions"][data-status="200"]');
    for (let i = 0; i < 40 && !(await chat.count()); i += 1) {
      await page.waitForTimeout(250);
      await tid('log-refresh').click();
      await settled(page);
    }
    await chat.first().waitFor();
    const firstChat = chat.first();
    await firstChat.getByTestId('log-stream').waitFor();
    const tokens = (await firstChat.getByTestId('log-tokens').textContent()).trim();
    assert(/\d/.test(tokens), `a chat row shows no tokens: ${tokens}`);

    // Only errors: rows of 400 and up, or the empty state.
    await tid('log-filter-status').selectOption('error');
    await settled(page);
    await page.waitForFunction(() => document.querySelector('[data-testid="logs-empty"]')
      || [...document.querySelectorAll('[data-testid="log-row"]')].every((r) => Number(r.dataset.status) >= 400));
    const errorStatuses = await page.locator('[data-testid="log-row"]').evaluateAll((rows) => rows.map((r) => Number(r.dataset.status)));
    if (errorStatuses.length) {
      assert(errorStatuses.every((s) => s >= 400), `the error filter shows ${errorStatuses.join(', ')}`);
      // A failed request's details carry its error text in full.
      await tid('log-open').first().click();
      await tid('log-detail-modal').getByTestId('log-detail-error').waitFor();
      await shot(page, 'log-detail-error');
      await tid('log-detail-close').click();
      await tid('log-detail-modal').waitFor({ state: 'detached' });
    } else {
      await tid('logs-empty').waitFor();
    }
    await tid('log-filter-status').selectOption('');
    await settled(page);

    // The endpoint filter (debounced) keeps only matching rows.
    await tid('log-filter-endpoint').fill('/v1/chat');
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('[data-testid="log-row"]')];
      return !document.querySelector('[data-testid="loading"]') && rows.length > 0 && rows.every((r) => r.dataset.endpoint.startsWith('/v1/chat'));
    });
    // The key filter: the playground key's own requests.
    await tid('log-filter-key').selectOption(ctx.keyId);
    await settled(page);
    await chat.first().waitFor();
    const keys = await page.locator('[data-testid="log-row"]').evaluateAll((rows) => rows.map((r) => r.dataset.keyId));
    assert(keys.every((k) => k === ctx.keyId), `the key filter shows other keys: ${keys.join(', ')}`);
    await shot(page, 'logs-filtered');

    // A row opens its details.
    await chat.first().click();
    const modal = tid('log-detail-modal');
    await modal.waitFor();
    await modal.getByTestId('log-detail-endpoint').getByText('/v1/chat/completions').waitFor();
    await modal.getByTestId('log-detail-conversation').waitFor();
    await shot(page, 'log-detail');
    await page.setViewportSize(PHONE);
    await shot(page, 'log-detail');
    await page.setViewportSize(DESKTOP);
    await tid('log-detail-close').click();
    await modal.waitFor({ state: 'detached' });

    // Back to everything; more pages when there are more.
    await tid('log-filter-key').selectOption('');
    await tid('log-filter-endpoint').fill('');
    await page.waitForFunction(() => !document.querySelector('[data-testid="loading"]')
      && [...document.querySelectorAll('[data-testid="log-row"]')].some((r) => !r.dataset.endpoint.startsWith('/v1/chat')));
    if (await tid('log-more').isVisible()) {
      const before = await tid('log-row').count();
      await tid('log-more').click();
      await page.waitForFunction((n) => document.querySelectorAll('[data-testid="log-row"]').length > n, before);
    }
    await shot(page, 'logs');
    await page.setViewportSize(PHONE);
    await shot(page, 'logs');
    await noOverflow(page, 'logs');
    await page.setViewportSize(DESKTOP);
  });

  await step('dashboard: usage of the last 7 days', async () => {
    await visit(page, 'dashboard');
    const usage = tid('dash-usage');
    await usage.waitFor();
    const requests = Number((await usage.getByTestId('usage-requests').textContent()).replace(/[^\d]/g, ''));
    assert(requests > 0, `the usage card counts ${requests} requests`);
    const bars = await usage.getByTestId('usage-bar').count();
    assert(bars === 7, `the usage chart has ${bars} days, not 7`);
    await usage.getByTestId('usage-top-key').first().waitFor();
    await shot(page, 'dashboard');
    await page.setViewportSize(PHONE);
    await shot(page, 'dashboard');
    await noOverflow(page, 'dashboard');
    await page.setViewportSize(DESKTOP);
  });

  await step('keys: limits on a new key, changed in the edit dialog', async () => {
    await visit(page, 'keys');
    await tid('key-name').fill('limited key');
    await tid('key-rpm').fill('30');
    await tid('key-create').click();
    await tid('key-secret-modal').waitFor();
    await tid('key-secret-close').click();
    await tid('key-secret-modal').waitFor({ state: 'detached' });
    const row = page.locator('[data-testid="key-row"][data-key-name="limited key"]');
    await row.getByTestId('key-limits').getByText('30/min').waitFor();
    const first = (await row.getByTestId('key-limits').textContent()).trim();
    assert(!/tokens/.test(first), `the new key shows a token limit: ${first}`);

    await row.getByTestId('key-edit').click();
    const modal = tid('key-edit-modal');
    await modal.waitFor();
    assert(await tid('key-edit-rpm').inputValue() === '30', 'the edit dialog does not show the saved 30/min');
    await tid('key-edit-tpd').fill('1000');
    await shot(page, 'key-edit');
    await page.setViewportSize(PHONE);
    await shot(page, 'key-edit');
    await page.setViewportSize(DESKTOP);
    const patched = page.waitForResponse((res) => res.request().method() === 'PATCH' && res.url().includes('/api/admin/keys/'));
    await tid('key-edit-save').click();
    assert((await patched).status() === 200, 'saving the limits was refused');
    await modal.waitFor({ state: 'detached' });
    await row.getByTestId('key-limits').getByText('1,000 tokens/day').waitFor();
    await row.getByTestId('key-limits').getByText('30/min').waitFor();

    // A bad value comes back as the server's message, in the dialog.
    await row.getByTestId('key-edit').click();
    await modal.waitFor();
    await tid('key-edit-rpm').fill('0');
    const refused = page.waitForResponse((res) => res.request().method() === 'PATCH' && res.url().includes('/api/admin/keys/'));
    await tid('key-edit-save').click();
    const status = (await refused).status();
    assert(status === 400, `requests_per_minute 0 answered ${status}, not 400`);
    await page.locator('[data-testid="key-edit-error"]', { hasText: 'requests_per_minute' }).waitFor();
    await shot(page, 'key-edit-error');
    await tid('key-edit-cancel').click();
    await modal.waitFor({ state: 'detached' });
    await row.getByTestId('key-limits').getByText('30/min').waitFor();
  });

  await step('every page at desktop and phone width', async () => {
    const pages = ['dashboard', 'providers', 'models', 'keys', 'knowledge', 'conversations', 'logs', 'playground', 'settings'];
    for (const viewport of [DESKTOP, PHONE]) {
      await page.setViewportSize(viewport);
      for (const name of pages) {
        await visit(page, name);
        if (name === 'logs') await tid('logs-table').waitFor();
        await shot(page, name, viewport);
        if (viewport === PHONE) await noOverflow(page, name);
      }
    }
    // The conversation detail at phone width, and the open menu.
    await page.evaluate((id) => { location.hash = '#/conversations/' + id; }, ctx.convId);
    await tid('conv-messages').waitFor();
    await settled(page);
    await shot(page, 'conversation', PHONE);
    await noOverflow(page, 'conversation');
    await visit(page, 'dashboard');
    await tid('menu-toggle').click();
    await page.locator('.shell.nav-open').waitFor();
    await page.waitForTimeout(300); // the drawer's slide-in transition
    await shot(page, 'menu', PHONE);
    await tid('nav-models').click();
    await tid('page-models').waitFor();
    await page.locator('.shell:not(.nav-open)').waitFor();
    await page.setViewportSize(DESKTOP);
  });

  await step('the language switch turns the UI Chinese and back', async () => {
    await visit(page, 'dashboard');
    await tid('lang-zh').click();
    await tid('nav-dashboard').getByText('仪表盘').waitFor();
    await settled(page);
    await shot(page, 'dashboard-zh');
    await visit(page, 'knowledge');
    await shot(page, 'knowledge-zh');
    await visit(page, 'logs');
    await tid('logs-table').waitFor();
    await shot(page, 'logs-zh');
    await visit(page, 'keys');
    await shot(page, 'keys-zh');
    await visit(page, 'providers');
    await tid('pool-chat').waitFor();
    await shot(page, 'providers-zh');
    await page.setViewportSize(PHONE);
    await visit(page, 'dashboard');
    await shot(page, 'dashboard-zh', PHONE);
    await noOverflow(page, 'dashboard (zh)');
    await visit(page, 'providers');
    await shot(page, 'providers-zh', PHONE);
    await noOverflow(page, 'providers (zh)');
    await page.setViewportSize(DESKTOP);
    await page.setViewportSize(PHONE);
    await visit(page, 'playground');
    await shot(page, 'playground-zh', PHONE);
    await noOverflow(page, 'playground (zh)');
    await page.setViewportSize(DESKTOP);
    await page.reload();
    await tid('nav-dashboard').getByText('仪表盘').waitFor();
    await tid('lang-en').click();
    await tid('nav-dashboard').getByText('Dashboard').waitFor();
  });

  await step('the dark theme follows the system setting', async () => {
    await page.emulateMedia({ colorScheme: 'dark' });
    for (const name of ['dashboard', 'playground', 'logs', 'keys']) {
      await visit(page, name);
      await shot(page, `${name}-dark`);
    }
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert(bg !== 'rgb(245, 246, 250)', `the dark theme did not apply (body background ${bg})`);
    await page.emulateMedia({ colorScheme: 'light' });
  });

  await step('logout, and /admin asks to log in again', async () => {
    await tid('logout').click();
    await tid('login-page').waitFor();
    await page.goto(`${base}/admin`);
    await tid('login-page').waitFor();
    const session = await page.evaluate(async () => (await fetch('/api/admin/session')).status);
    assert(session === 401, `the session still answers ${session} after logout`);
  });
}

main().then(() => {
  log(`\n${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}, (err) => {
  log(`\n${passed} passed, ${failed || 1} failed`);
  log(`browser test failed: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
