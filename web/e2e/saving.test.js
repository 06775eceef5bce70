// End-to-end tests of the page's save paths in headless Chromium against the
// real key server and PostgreSQL (scripts/with-stack.sh): a large round trip
// through the service-worker download with the JS heap bounded, the download
// race, cancelling, and File System Access saves.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import {
  BASE_URL, KeyServer, TOKENS, assertNoPlaintext, chooseFile, dropOpfsFile, heapMonitor, launchBrowser, leakNeedles,
  makeFile, noFileSystemAccess, opfsPicker, openSignedIn, recordRequests, runJob, screenshot, sha256File,
  workPath as path,
} from './harness.js';

const MiB = 1024 * 1024;
const LARGE = Number(process.env.WEB_E2E_LARGE_MIB ?? 256) * MiB;
const HEAP_BOUND = 200 * MiB;

const server = new KeyServer();
let browser;
const marker = randomBytes(48);
const needles = leakNeedles(marker);

before(async () => {
  await server.start();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server.stop();
});

test(`a ${LARGE / MiB} MiB file streams through the page (service-worker download), heap bounded`, { timeout: 1_200_000 }, async () => {
  const big = path('big.bin');
  const bigSha = makeFile(big, LARGE, marker);
  const page = await openSignedIn(browser.context, TOKENS().alice, { initScript: noFileSystemAccess });
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null || document.querySelector('#save-mode').textContent.includes('service worker'));
  const rec = recordRequests(browser.context, needles);
  const heap = await heapMonitor(page);

  await chooseFile(page, big);
  const enc = await runJob(page, path('big.bin.pqf'), {
    during: async () => {
      await page.waitForFunction(() => Number(document.querySelector('#progress').value) >= 20);
      await screenshot(page, '11-progress-encrypting');
    },
  });
  assert.equal(enc.error, undefined, enc.text);
  assert.equal(enc.sink, 'service-worker');
  const ctSize = statSync(path('big.bin.pqf')).size;
  const expected = 24 + 1144 + 32 + 56 + LARGE + (Math.floor(LARGE / 16384) + 1) * 16;
  assert.equal(ctSize, expected, 'ciphertext size');
  const encMs = await page.evaluate(() => performance.getEntriesByName('pqfile:job')[0].duration);
  await screenshot(page, '12-large-encrypted');

  await chooseFile(page, path('big.bin.pqf'));
  const dec = await runJob(page, path('big.bin.out'));
  assert.equal(dec.error, undefined, dec.text);
  assert.equal(dec.sink, 'service-worker');
  const decMs = await page.evaluate(() => performance.getEntriesByName('pqfile:job')[0].duration);
  const { peak, samples } = await heap.stop();
  rec.stop();

  assert.equal(await sha256File(path('big.bin.out')), bigSha, 'the decrypted 256 MiB file differs');
  const total = assertNoPlaintext(rec.log.filter((r) => r.method !== 'GET'), 8192, `${LARGE / MiB} MiB file`);
  assert.ok(total < 64 * 1024, `request bodies total ${total} bytes for a ${LARGE} byte file`);
  console.log(`${LARGE / MiB} MiB: encrypt ${(LARGE / MiB / (encMs / 1000)).toFixed(0)} MiB/s (${encMs.toFixed(0)} ms), decrypt ${(LARGE / MiB / (decMs / 1000)).toFixed(0)} MiB/s (${decMs.toFixed(0)} ms)`);
  console.log(`peak JS heap during the ${LARGE / MiB} MiB round trip: ${(peak / MiB).toFixed(1)} MiB (${samples} samples, bound ${HEAP_BOUND / MiB} MiB)`);
  assert.ok(samples > 10, 'too few heap samples');
  assert.ok(peak < HEAP_BOUND, `peak JS heap ${(peak / MiB).toFixed(1)} MiB`);
  for (const f of ['big.bin.out']) rmSync(path(f), { force: true });
  await page.close();
});

test('a download whose navigation reaches sw.js before the page\'s message still starts', { timeout: 60_000 }, async () => {
  // The two travel separately; the fetch event was seen first under load
  // ("the streaming download did not start"). Force that order.
  const page = await openSignedIn(browser.context, TOKENS().alice, { initScript: noFileSystemAccess });
  await page.waitForFunction(() => document.querySelector('#save-mode').textContent.includes('service worker'));
  const download = page.waitForEvent('download', { timeout: 15_000 });
  const messages = await page.evaluate(async () => {
    const reg = await navigator.serviceWorker.getRegistration(new URL('__pqfile/download/', document.baseURI).href);
    const id = crypto.randomUUID();
    const { port1, port2 } = new MessageChannel();
    const got = [];
    port1.onmessage = ({ data }) => {
      got.push(data.type);
      if (data.type === 'pull' && !got.includes('sent')) {
        got.push('sent');
        port1.postMessage({ type: 'chunks', chunks: [new Uint8Array([1, 2, 3])] });
        port1.postMessage({ type: 'end' });
      }
    };
    const iframe = Object.assign(document.createElement('iframe'), { hidden: true, src: new URL(`__pqfile/download/${id}/race.bin`, document.baseURI).href });
    document.body.append(iframe);
    await new Promise((r) => setTimeout(r, 300));
    reg.active.postMessage({ type: 'pqfile-download', id, name: 'race.bin' }, [port2]);
    for (let i = 0; i < 100 && !got.includes('sent'); i++) await new Promise((r) => setTimeout(r, 50));
    return got;
  });
  assert.equal(messages[0], 'started', messages.join(','));
  const d = await download;
  assert.equal(d.suggestedFilename(), 'race.bin');
  assert.deepEqual([...readFileSync(await d.path())], [1, 2, 3]);
  await page.close();
});

test('the download worker controls its download path only, not the page or /v1', { timeout: 60_000 }, async () => {
  const page = await openSignedIn(browser.context, TOKENS().alice, { initScript: noFileSystemAccess });
  await page.waitForFunction(() => document.querySelector('#save-mode').textContent.includes('service worker'));
  const seen = await page.evaluate(async () => ({
    scopes: (await navigator.serviceWorker.getRegistrations()).map((r) => r.scope),
    controlled: navigator.serviceWorker.controller !== null,
    api: (await navigator.serviceWorker.getRegistration(new URL('v1/documents', document.baseURI).href)) ?? null,
  }));
  assert.deepEqual(seen.scopes, [`${BASE_URL()}/__pqfile/download/`]);
  assert.equal(seen.controlled, false, 'the page itself is not controlled by the worker');
  assert.equal(seen.api, null, 'no worker covers /v1');
  await page.close();
});

test('cancel stops a running encryption', { timeout: 300_000 }, async () => {
  const page = await openSignedIn(browser.context, TOKENS().alice, { initScript: noFileSystemAccess });
  await chooseFile(page, path('big.bin'));
  await page.click('#start');
  try {
    await page.waitForFunction(() => Number(document.querySelector('#progress').value) >= 5);
  } catch (e) {
    await screenshot(page, 'cancel-failure');
    throw new Error(`no progress: ${await page.textContent('#progress-box')} ${await page.textContent('#error')}`, { cause: e });
  }
  assert.equal(await page.evaluate(() => document.activeElement.id), 'cancel', 'focus is not on Cancel');
  await page.keyboard.press('Enter');
  await page.locator('#error[data-code="cancelled"]').waitFor();
  assert.match(await page.textContent('#error'), /Cancelled/);
  assert.equal(await page.isVisible('#progress-box'), false);
  await screenshot(page, '13-cancelled');
  // The page is usable again.
  assert.equal(await page.isEnabled('#start'), true);
  await page.close();
});

test('large results go straight to disk with the File System Access API (drop a file)', { timeout: 300_000 }, async () => {
  // showSaveFilePicker is answered with a file in the origin-private file system (harness.js).
  const mid = path('mid.bin');
  const midSha = makeFile(mid, 40 * MiB + 123, marker);
  const page = await openSignedIn(browser.context, TOKENS().alice, { initScript: opfsPicker });
  await chooseFile(page, mid);
  await page.click('#start');
  await page.locator('#result[data-sink="file-system"]').waitFor({ timeout: 120_000 });

  // Drop the encrypted file from the OPFS onto the page to decrypt it.
  await dropOpfsFile(page, 'mid.bin.pqf');
  await page.locator('#start:has-text("Decrypt")').waitFor();
  await page.click('#start');
  await page.locator('#result[data-sink="file-system"]').waitFor({ timeout: 120_000 });
  const got = await page.evaluate(async () => {
    const root = await navigator.storage.getDirectory();
    const enc = await (await root.getFileHandle('mid.bin.pqf')).getFile();
    const dec = await (await root.getFileHandle('mid.bin')).getFile();
    const magic = new Uint8Array(await enc.slice(0, 4).arrayBuffer());
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await dec.arrayBuffer()));
    return { magic: Array.from(magic), sha: Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join(''), size: dec.size };
  });
  assert.deepEqual(got.magic, [0x50, 0x51, 0x46, 0]);
  assert.equal(got.size, 40 * MiB + 123);
  assert.equal(got.sha, midSha);
  await screenshot(page, '14-file-system-access');
  await page.close();
});

test('cancel stops a File System Access save and leaves no file', { timeout: 300_000 }, async () => {
  const page = await openSignedIn(browser.context, TOKENS().alice, { initScript: opfsPicker });
  await chooseFile(page, path('big.bin'));
  await page.click('#start');
  // Some 4 MiB writes are in flight by then.
  await page.waitForFunction(() => Number(document.querySelector('#progress').value) >= 10);
  await page.keyboard.press('Escape');
  await page.locator('#error[data-code="cancelled"]').waitFor();
  assert.match(await page.textContent('#error'), /Nothing was saved/);
  const left = await page.evaluate(async () => {
    const root = await navigator.storage.getDirectory();
    const names = [];
    for await (const name of root.keys()) names.push(name);
    return names;
  });
  assert.ok(!left.includes('big.bin.pqf'), `left in the OPFS: ${left.join(', ')}`);
  assert.equal(await page.isEnabled('#start'), true);
  await page.close();
});
