// Shared by the e2e tests and the benchmark: the real key server (started
// and stopped here, on the stack scripts/with-stack.sh prepared), Debian's Chromium
// through playwright-core, and helpers that drive the page like a user.
import { chromium } from 'playwright-core';
import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, openSync, closeSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

export const E2E_DIR = fileURLToPath(new URL('.', import.meta.url));
export const ARTIFACTS = join(E2E_DIR, 'artifacts');

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run through scripts/with-stack.sh`);
  return v;
}

export const BASE_URL = () => `http://127.0.0.1:${env('WEB_E2E_PORT')}`;
export const TOKENS = () => ({ alice: env('WEB_E2E_TOKEN_ALICE'), mallory: env('WEB_E2E_TOKEN_MALLORY') });
export const WORK = () => env('WEB_E2E_WORK');

/** The key server as a child process. */
export class KeyServer {
  constructor() {
    this.proc = null;
    this.log = join(WORK(), 'server.log');
  }

  async start() {
    const out = createWriteStream(this.log, { flags: 'a' });
    await new Promise((r) => out.on('open', r));
    this.proc = spawn(env('PQFILE_KEYSERVER_BIN'), ['serve'], { stdio: ['ignore', out, out] });
    this.exited = new Promise((r) => this.proc.once('exit', r));
    // Never outlive the test process, even when it crashes.
    const proc = this.proc;
    process.once('exit', () => proc.kill('SIGKILL'));
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      try {
        const res = await fetch(`${BASE_URL()}/readyz`);
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`the key server did not become ready; see ${this.log}`);
  }

  async stop() {
    if (!this.proc) return;
    this.proc.kill('SIGTERM');
    await this.exited;
    this.proc = null;
  }
}

/** Runs SQL on the test database (as the postgres superuser, via psql). */
export function psql(sql) {
  return execFileSync('psql', ['-qtAX', '-v', 'ON_ERROR_STOP=1', env('WEB_E2E_PSQL_URL'), '-c', sql], { encoding: 'utf8' }).trim();
}

let admin = null;

/** The API token of an admin of this stack (a user added on first use, one per test process). */
export function adminToken() {
  if (admin) return admin;
  const ks = env('PQFILE_KEYSERVER_BIN');
  const name = `e2e-admin-${process.pid}`;
  execFileSync(ks, ['user', 'add', name, '--role', 'admin'], { stdio: 'ignore' });
  admin = execFileSync(ks, ['token', 'create', name], { encoding: 'utf8' }).trim().split('\n').pop();
  return admin;
}

/** A new API token for the existing user `name` (its other tokens stay valid). */
export function newToken(name) {
  return execFileSync(env('PQFILE_KEYSERVER_BIN'), ['token', 'create', name], { encoding: 'utf8' }).trim().split('\n').pop();
}

/**
 * Retires key `keyId` the way time does: ages it past rotation_age_days (30)
 * and runs maintenance as an admin, which queues it for rotation
 * (`rotation_queued`, expires_at = now + rotation_grace_days). Returns its
 * expires_at in milliseconds since the epoch.
 */
export async function retireKey(keyId) {
  const id = Number(keyId);
  psql(`UPDATE encryption_keys SET created_at = created_at - interval '31 days' WHERE id = ${id}`);
  const res = await fetch(`${BASE_URL()}/v1/admin/maintenance`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken()}`, 'content-type': 'application/json' },
    body: '{}',
  });
  assert.equal(res.status, 200, `maintenance: ${await res.text()}`);
  assert.equal(psql(`SELECT status FROM encryption_keys WHERE id = ${id}`), 'rotation_queued');
  // In whole milliseconds, truncated like the key server's RFC 3339 timestamps.
  return Number(psql(`SELECT floor(EXTRACT(EPOCH FROM expires_at) * 1000)::int8 FROM encryption_keys WHERE id = ${id}`));
}

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/** A fresh headless Chromium profile (its own user-data-dir). */
export async function launchBrowser() {
  const dir = mkdtempSync(join(WORK(), 'chromium-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    acceptDownloads: true,
    viewport: { width: 1100, height: 820 },
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Writes `size` bytes: a recognizable marker, then random data, so leaks are detectable. */
export function makeFile(path, size, marker) {
  const fd = openSync(path, 'w');
  const hash = createHash('sha256');
  let written = 0;
  const block = 4 * 1024 * 1024;
  while (written < size) {
    const n = Math.min(block, size - written);
    const buf = randomBytes(n);
    // The marker every 64 KiB, so any leaked slice of the plaintext contains it.
    for (let off = 0; off + marker.length <= n; off += 65536) marker.copy(buf, off);
    writeSync(fd, buf);
    hash.update(buf);
    written += n;
  }
  closeSync(fd);
  return hash.digest('hex');
}

export async function sha256File(path) {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * 1024 * 1024 })) hash.update(chunk);
  return hash.digest('hex');
}

export function artifactsDir() {
  mkdirSync(ARTIFACTS, { recursive: true });
  return ARTIFACTS;
}

/** Saves a full-page screenshot as artifacts/NAME.png and prints its path. */
export async function screenshot(page, name) {
  const path = join(artifactsDir(), `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  console.log(`screenshot: ${path}`);
  return path;
}

/**
 * Records every request the page (and its service worker) sends: method,
 * URL, body size, and whether the body contains any of `needles`.
 */
export function recordRequests(context, needles) {
  const log = [];
  const onRequest = (req) => {
    const body = req.postDataBuffer();
    log.push({
      method: req.method(),
      url: req.url(),
      size: body ? body.length : 0,
      leaks: body ? needles.filter((n) => body.includes(n)).length : 0,
    });
  };
  context.on('request', onRequest);
  return { log, stop: () => context.off('request', onRequest) };
}

/** The marker as it could appear in a body: raw, hex, and base64 at the three alignments. */
export function leakNeedles(marker) {
  const needles = [marker, Buffer.from(marker.toString('hex'))];
  for (let shift = 0; shift < 3; shift++) {
    const b64 = Buffer.concat([Buffer.alloc(shift), marker]).toString('base64');
    // Drop the characters that depend on neighbouring bytes.
    const start = Math.ceil((shift * 4) / 3) + 1;
    needles.push(Buffer.from(b64.slice(start, b64.length - 4)));
  }
  return needles;
}

/** Polls the page's JS heap through CDP; `stop()` returns the peak in bytes. */
export async function heapMonitor(page, everyMs = 50) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  let peak = 0;
  let samples = 0;
  let stopped = false;
  const poll = (async () => {
    while (!stopped) {
      try {
        const { metrics } = await cdp.send('Performance.getMetrics');
        const used = metrics.find((m) => m.name === 'JSHeapUsedSize')?.value ?? 0;
        peak = Math.max(peak, used);
        samples++;
      } catch {
        // the page is navigating or closing: skip this sample
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await poll;
      await cdp.detach().catch(() => {});
      return { peak, samples };
    },
  };
}

/** Init script: a browser without the File System Access API (the page falls back to the service-worker download). */
export const noFileSystemAccess = () => {
  Object.defineProperty(window, 'showSaveFilePicker', { value: undefined, configurable: true });
};

/**
 * Init script: showSaveFilePicker's dialog cannot be driven headless, so it is
 * answered with a file in the origin-private file system, a real FileSystemFileHandle.
 */
export const opfsPicker = () => {
  window.showSaveFilePicker = async ({ suggestedName }) => {
    const root = await navigator.storage.getDirectory();
    return root.getFileHandle(suggestedName, { create: true });
  };
};

/** Drops the origin-private file `name` onto the page's drop zone, as a user dropping a file. */
export async function dropOpfsFile(page, name) {
  await page.evaluate(async (name) => {
    const root = await navigator.storage.getDirectory();
    const file = await (await root.getFileHandle(name)).getFile();
    const dt = new DataTransfer();
    dt.items.add(file);
    document.querySelector('#dropzone').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, name);
}

/** Opens the page signed in through the run command's link format. */
export async function openSignedIn(context, token, { pathHash = '', initScript } = {}) {
  const page = await context.newPage();
  if (initScript) await page.addInitScript(initScript);
  page.on('pageerror', (e) => console.log(`[page error] ${e.message}`));
  page.on('console', (m) => {
    // 404s are the listing endpoints this key server may not have yet (the page handles them).
    if ((m.type() === 'error' || m.type() === 'warning') && !m.text().includes('status of 404')) console.log(`[console ${m.type()}] ${m.text()}`);
  });
  await page.goto(`${BASE_URL()}/${pathHash}#token=${encodeURIComponent(token)}`);
  await page.locator('#tool').waitFor({ state: 'visible' });
  return page;
}

/** Chooses `path` in the page's file input and waits for the job card. */
export async function chooseFile(page, path) {
  await page.setInputFiles('#file-input', path);
  await page.locator('#start').waitFor({ state: 'visible' });
}

/**
 * Clicks Encrypt/Decrypt and waits for the outcome: {download} on success
 * (saved to `saveTo`), or {error: code, text} when the page shows an error.
 */
export async function runJob(page, saveTo, { timeout = 600_000, during } = {}) {
  const download = page.waitForEvent('download', { timeout }).catch((e) => ({ failed: e }));
  const errorShown = page.locator('#error:not([hidden])').waitFor({ timeout }).then(() => 'error', () => null);
  await page.click('#start');
  if (during) await during();
  const first = await Promise.race([download.then(() => 'download'), errorShown]);
  if (first === 'error') {
    return { error: await page.getAttribute('#error', 'data-code'), text: await page.textContent('#error') };
  }
  const d = await download;
  if (d.failed) throw d.failed;
  await d.saveAs(saveTo);
  const failure = await d.failure();
  if (failure) return { downloadFailure: failure, suggested: d.suggestedFilename() };
  await page.locator('#result:not([hidden])').waitFor({ timeout });
  return { suggested: d.suggestedFilename(), sink: await page.getAttribute('#result', 'data-sink') };
}

/** A file in the run's work folder. */
export function workPath(name) {
  return join(WORK(), name);
}

/** Asserts no request body carried plaintext and every body was small; returns the bytes sent. */
export function assertNoPlaintext(requests, maxBody, label) {
  assert.ok(requests.length > 0, `${label}: no request was recorded`);
  const leaking = requests.filter((r) => r.leaks > 0);
  assert.deepEqual(leaking, [], `${label}: a request body contains plaintext`);
  const biggest = Math.max(...requests.map((r) => r.size));
  assert.ok(biggest <= maxBody, `${label}: a request body of ${biggest} bytes (bound ${maxBody})`);
  const total = requests.reduce((s, r) => s + r.size, 0);
  console.log(`${label}: ${requests.length} requests, ${total} request-body bytes in total, largest ${biggest}`);
  return total;
}
