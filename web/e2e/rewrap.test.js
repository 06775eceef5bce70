// End-to-end tests of a retiring key in the page, in headless Chromium
// against the real key server and PostgreSQL (scripts/with-stack.sh): the
// key of a file is retired the way time does it (aged past its rotation age,
// then maintenance), the page decrypts the file, then says so with the
// expiry date and saves the rewrapped .pqf under the same name (only the
// header travels); the rewrapped file decrypts with no notice, the old copy
// still decrypts; a refused rewrap shows its code and saves nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import {
  KeyServer, TOKENS, chooseFile, launchBrowser, leakNeedles, makeFile, openSignedIn, psql, recordRequests,
  retireKey, runJob, screenshot, sha256File, workPath as path,
} from './harness.js';

/** The header of a one-stanza ML-KEM-768 file: prefix + stanza + MAC (FORMAT.md §2–§5). */
const HEADER_LEN = 24 + 1144 + 32;

const server = new KeyServer();
let browser;
const marker = randomBytes(48);
let plain; // { path, sha }

before(async () => {
  await server.start();
  browser = await launchBrowser();
  const p = path('retiring.bin');
  plain = { path: p, sha: makeFile(p, 200 * 1024 + 5, marker) };
});

after(async () => {
  await browser?.close();
  await server.stop();
});

const documentIdOf = (bytes) => bytes.subarray(6, 22).toString('hex');
const stanzaKeyOf = (bytes) => bytes.readUInt32BE(24 + 2);

/** Encrypts the plaintext in the page to NAME; returns its bytes and key. */
async function encryptInPage(page, name) {
  await chooseFile(page, plain.path);
  const enc = await runJob(page, path(name));
  assert.equal(enc.error, undefined, enc.text);
  const bytes = readFileSync(path(name));
  return { bytes, doc: documentIdOf(bytes), key: stanzaKeyOf(bytes) };
}

/** Decrypts `file` in the page; asserts the plaintext came out whole. */
async function decryptInPage(page, file, out) {
  await chooseFile(page, file);
  const dec = await runJob(page, path(out));
  assert.equal(dec.error, undefined, dec.text);
  assert.equal(await sha256File(path(out)), plain.sha, 'decrypted bytes differ from the original');
}

test('a file whose key is being retired: the page says until when and saves the rewrapped .pqf', { timeout: 300_000 }, async () => {
  const page = await openSignedIn(browser.context, TOKENS().alice);
  const original = await encryptInPage(page, 'retiring.bin.pqf');
  const originalSha = await sha256File(path('retiring.bin.pqf'));

  // While the key is active, no notice.
  await decryptInPage(page, path('retiring.bin.pqf'), 'retiring.0');
  assert.equal(await page.locator('#rewrap').count(), 0, 'a notice for an active key');

  const expiresAt = await retireKey(original.key);
  await decryptInPage(page, path('retiring.bin.pqf'), 'retiring.1');
  const box = page.locator('#result #rewrap[data-state="offered"]');
  await box.waitFor();
  assert.match(await box.textContent(), /The key of “retiring\.bin\.pqf” is being retired: this file stops decrypting on /);
  assert.equal(Date.parse(await box.locator('time').getAttribute('datetime')), expiresAt, 'the expiry date is not the key\'s');
  assert.ok((await box.locator('time').textContent()).length > 0);
  const button = box.locator('#rewrap-save');
  assert.equal(await button.textContent(), 'Save rewrapped retiring.bin.pqf');
  await screenshot(page, '21-key-retiring');

  // Save the rewrapped file.
  const rec = recordRequests(browser.context, leakNeedles(marker));
  const download = page.waitForEvent('download');
  await button.click();
  const d = await download;
  assert.equal(d.suggestedFilename(), 'retiring.bin.pqf');
  await d.saveAs(path('rewrapped.pqf'));
  assert.equal(await d.failure(), null);
  await page.locator('#rewrap[data-state="done"]').waitFor();
  rec.stop();
  // Besides reading the documents list again, one request: the rewrap, carrying the header only.
  const sent = rec.log.filter((r) => r.method !== 'GET' && new URL(r.url).protocol === 'http:');
  assert.deepEqual(sent.map((r) => `${r.method} ${new URL(r.url).pathname}`), [`POST /v1/documents/${original.doc}/rewrap`]);
  assert.ok(sent[0].size < 4 * HEADER_LEN, `the rewrap request carried ${sent[0].size} bytes`);
  assert.equal(sent[0].leaks, 0, 'the rewrap request contains plaintext');

  const rewrapped = readFileSync(path('rewrapped.pqf'));
  const newKey = Number(psql(`SELECT key_id FROM documents WHERE id = '${original.doc}'`));
  assert.notEqual(newKey, original.key);
  assert.equal(await page.getAttribute('#rewrap', 'data-new-key-id'), String(newKey));
  assert.equal(rewrapped.length, original.bytes.length);
  assert.equal(documentIdOf(rewrapped), original.doc);
  assert.equal(stanzaKeyOf(rewrapped), newKey, 'the new header is not for the document\'s new key');
  assert.ok(rewrapped.subarray(HEADER_LEN).equals(original.bytes.subarray(HEADER_LEN)), 'the payload changed');
  assert.ok(!rewrapped.subarray(0, HEADER_LEN).equals(original.bytes.subarray(0, HEADER_LEN)), 'the header did not change');
  assert.match(await page.textContent('#rewrap-status'), new RegExp(`Saved retiring\\.bin\\.pqf moved from key ${original.key} to key ${newKey}`));
  assert.equal(await sha256File(path('retiring.bin.pqf')), originalSha, 'the original file changed');
  // My documents shows the document's new key.
  await page.locator(`#documents-body tr[data-document-id="${original.doc}"] td:nth-child(3):text-is("${newKey}")`).waitFor();
  await screenshot(page, '22-rewrapped');

  // Saving again offers the same file without asking the server again.
  const again = page.waitForEvent('download');
  const rec2 = recordRequests(browser.context, []);
  await page.click('#rewrap-save');
  await (await again).saveAs(path('rewrapped.again.pqf'));
  rec2.stop();
  assert.ok(readFileSync(path('rewrapped.again.pqf')).equals(rewrapped));
  assert.equal(rec2.log.filter((r) => r.url.includes('/v1/')).length, 0);

  // The rewrapped file decrypts through an active key: no notice. The old copy still decrypts, and says so.
  await decryptInPage(page, path('rewrapped.pqf'), 'retiring.2');
  assert.equal(await page.locator('#rewrap').count(), 0, 'a notice for the rewrapped file');
  await decryptInPage(page, path('retiring.bin.pqf'), 'retiring.3');
  await page.locator('#rewrap[data-state="offered"]').waitFor();
  await page.close();
});

test('a refused rewrap shows its code, saves nothing and leaves the file decryptable as it was', { timeout: 300_000 }, async () => {
  const page = await openSignedIn(browser.context, TOKENS().alice);
  const file = await encryptInPage(page, 'refused.bin.pqf');
  await retireKey(file.key);
  await decryptInPage(page, path('refused.bin.pqf'), 'refused.0');
  await page.locator('#rewrap[data-state="offered"]').waitFor();

  // The grace period ends while the page offers the rewrap.
  psql(`UPDATE encryption_keys SET expires_at = now() - interval '1 second' WHERE id = ${file.key}`);
  let downloads = 0;
  page.on('download', () => downloads++);
  await page.click('#rewrap-save');
  await page.locator('#error[data-code="key_expired"]').waitFor();
  assert.match(await page.textContent('#error'), /This file’s key has expired/);
  assert.equal(await page.getAttribute('#rewrap', 'data-state'), 'failed');
  assert.match(await page.textContent('#rewrap-status'), /not rewrapped; the one you decrypted is unchanged/);
  assert.equal(await page.isEnabled('#rewrap-save'), true);
  assert.equal(Number(psql(`SELECT key_id FROM documents WHERE id = '${file.doc}'`)), file.key, 'the refused rewrap changed the document');
  await screenshot(page, '23-rewrap-refused');
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(downloads, 0, 'a refused rewrap saved a file');

  // Decrypting the expired file now is refused with the same code.
  await chooseFile(page, path('refused.bin.pqf'));
  const r = await runJob(page, path('x'));
  assert.equal(r.error, 'key_expired', r.text);
  await page.close();
});
