// End-to-end tests of the web page in headless Chromium against the real key
// server and PostgreSQL (scripts/with-stack.sh). Each test drives the page
// like a user: choose a file, click Encrypt/Decrypt, take the download.
// Sign-in, small files, refusals, documents and sharing; large files and the
// save paths are in saving.test.js.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import {
  KeyServer, TOKENS, assertNoPlaintext, chooseFile, launchBrowser, leakNeedles,
  makeFile, openSignedIn, psql, recordRequests, runJob, screenshot, sha256File, workPath as path,
} from './harness.js';

const PQF_MAGIC = Buffer.from('PQF\0', 'latin1');

const server = new KeyServer();
let browser;
const marker = randomBytes(48);
const needles = leakNeedles(marker);
let small; // { path, sha, pqf }

before(async () => {
  await server.start();
  browser = await launchBrowser();
  const p = path('report.bin');
  small = { path: p, sha: makeFile(p, 300 * 1024 + 17, marker) };
});

after(async () => {
  await browser?.close();
  await server.stop();
});

test('the sign-in link stores the token, hides it from the address bar, and sign-out works', async () => {
  const page = await openSignedIn(browser.context, TOKENS().alice);
  assert.equal(new URL(page.url()).hash, '', 'the token is still in the address bar');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('pqfile.token')), TOKENS().alice);
  assert.equal(await page.textContent('#session-label'), 'Signed in as alice', 'the page says who is signed in');
  await assert.doesNotReject(page.locator('#documents-body[data-state]').waitFor());
  const docState = await page.getAttribute('#documents-body', 'data-state');
  assert.equal(docState, 'list', `My documents: ${docState}`);
  await screenshot(page, '01-signed-in');

  await page.click('#sign-out');
  await page.locator('#signin').waitFor({ state: 'visible' });
  assert.equal(await page.evaluate(() => sessionStorage.getItem('pqfile.token')), null);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'token-input');

  await page.fill('#token-input', 'pqf_not-a-real-token');
  await page.press('#token-input', 'Enter');
  await page.locator('#signin-error:has-text("not accepted")').waitFor();
  await screenshot(page, '02-sign-in-bad-token');

  await page.fill('#token-input', TOKENS().alice);
  await page.click('#signin-form button[type=submit]');
  await page.locator('#tool').waitFor({ state: 'visible' });
  await page.close();
});

/** Collects Content-Security-Policy violations into `window.__csp` (init script). */
const watchCsp = () => {
  /** @type {any} */ (window).__csp = [];
  document.addEventListener('securitypolicyviolation', (e) => /** @type {any} */ (window).__csp.push(`${e.violatedDirective} ${e.blockedURI}`), true);
};

test('a small file is encrypted and decrypted in the page; no plaintext leaves it', async () => {
  const page = await openSignedIn(browser.context, TOKENS().alice, { initScript: watchCsp });
  const rec = recordRequests(browser.context, needles);
  await chooseFile(page, small.path);
  assert.equal(await page.textContent('#start'), 'Encrypt');
  await screenshot(page, '03-file-chosen');
  small.pqf = path('report.bin.pqf');
  const enc = await runJob(page, small.pqf);
  assert.equal(enc.error, undefined, enc.text);
  assert.equal(enc.suggested, 'report.bin.pqf');
  const ct = readFileSync(small.pqf);
  assert.ok(ct.subarray(0, 4).equals(PQF_MAGIC), 'the download is not a PQF file');
  assert.ok(!ct.includes(marker), 'the ciphertext contains plaintext');
  assert.match(await page.textContent('#result'), /Encrypted “report\.bin”/);
  await screenshot(page, '04-encrypted');

  await chooseFile(page, small.pqf);
  assert.equal(await page.textContent('#start'), 'Decrypt');
  const out = path('report.bin.out');
  const dec = await runJob(page, out);
  assert.equal(dec.error, undefined, dec.text);
  assert.equal(dec.suggested, 'report.bin');
  assert.equal(await sha256File(out), small.sha, 'decrypted bytes differ from the original');
  await screenshot(page, '05-decrypted');
  rec.stop();
  const v1 = rec.log.filter((r) => new URL(r.url).pathname.startsWith('/v1/'));
  assert.ok(v1.some((r) => r.method === 'POST' && r.url.endsWith('/v1/documents')), 'no document was created');
  assert.ok(v1.some((r) => r.url.endsWith('/unwrap')), 'no unwrap call');
  assertNoPlaintext(rec.log, 8192, 'small file');
  // All of it ran under the server's strict policy, which nothing broke.
  const csp = await page.evaluate(async () => (await fetch('/')).headers.get('content-security-policy'));
  assert.match(csp ?? '', /script-src 'self' 'wasm-unsafe-eval'/);
  assert.deepEqual(await page.evaluate(() => /** @type {any} */ (window).__csp), [], 'Content-Security-Policy violations');
  await page.close();
});

test('a tampered file is refused with the tampering message', async () => {
  const page = await openSignedIn(browser.context, TOKENS().alice);
  const ct = readFileSync(small.pqf);

  // A flipped bit in the payload: the chunk's AES-GCM tag fails in the page.
  const payload = Buffer.from(ct);
  payload[payload.length - 100] ^= 0x01;
  writeFileSync(path('payload-tampered.pqf'), payload);
  await chooseFile(page, path('payload-tampered.pqf'));
  let r = await runJob(page, path('x'));
  assert.equal(r.error, 'tampered', r.text);
  assert.match(r.text, /tampered with or is corrupted/);
  await screenshot(page, '06-tampered');

  // A flipped bit in the stanza's wrapped file key: the key server refuses (decryption_failed).
  const stanza = Buffer.from(ct);
  stanza[24 + 8 + 1100] ^= 0x01;
  writeFileSync(path('stanza-tampered.pqf'), stanza);
  await chooseFile(page, path('stanza-tampered.pqf'));
  r = await runJob(page, path('x'));
  assert.equal(r.error, 'tampered', r.text);

  // A flipped bit in the header MAC.
  const mac = Buffer.from(ct);
  mac[24 + 1144 + 5] ^= 0x01;
  writeFileSync(path('mac-tampered.pqf'), mac);
  await chooseFile(page, path('mac-tampered.pqf'));
  r = await runJob(page, path('x'));
  assert.equal(r.error, 'tampered', r.text);

  // Truncated: the last chunk is missing.
  writeFileSync(path('truncated.pqf'), ct.subarray(0, ct.length - 5000));
  await chooseFile(page, path('truncated.pqf'));
  r = await runJob(page, path('x'));
  assert.equal(r.error, 'tampered', r.text);
  await page.close();
});

test('a file that is not a .pqf is refused with a clear message', async () => {
  const page = await openSignedIn(browser.context, TOKENS().alice);
  writeFileSync(path('notes.pqf'), 'these are just notes, not an encrypted file\n');
  await chooseFile(page, path('notes.pqf'));
  assert.equal(await page.textContent('#start'), 'Decrypt');
  const r = await runJob(page, path('x'));
  assert.equal(r.error, 'not_pqf', r.text);
  assert.match(r.text, /is not a pqfile \(\.pqf\) file/);
  await screenshot(page, '07-not-a-pqf');

  // A real header cut short is "damaged", not "not a pqfile".
  writeFileSync(path('short.pqf'), readFileSync(small.pqf).subarray(0, 600));
  await chooseFile(page, path('short.pqf'));
  const r2 = await runJob(page, path('x'));
  assert.equal(r2.error, 'damaged', r2.text);
  await page.close();
});

test('a second user without access is refused', async () => {
  const page = await openSignedIn(browser.context, TOKENS().mallory);
  await chooseFile(page, small.pqf);
  const r = await runJob(page, path('x'));
  assert.equal(r.error, 'no_access', r.text);
  assert.match(r.text, /do not have access/);
  await screenshot(page, '08-no-access');
  // The refusal came from the key server, in the audit log.
  const doc = readFileSync(small.pqf).subarray(6, 22).toString('hex');
  assert.equal(psql(`SELECT count(*) FROM access_logs WHERE document_id = '${doc}' AND outcome = 'refused' AND reason = 'forbidden'`), '1');
  await page.close();
});

/** The document id in a .pqf header (bytes 6..22). */
function documentIdOf(pqfPath) {
  return readFileSync(pqfPath).subarray(6, 22).toString('hex');
}

test('My documents lists the encrypted file and shows its access history on demand', async () => {
  const page = await openSignedIn(browser.context, TOKENS().alice);
  const doc = documentIdOf(small.pqf);
  const row = page.locator(`#documents-body tr[data-document-id="${doc}"]`);
  await row.waitFor();
  assert.equal(await row.getAttribute('data-shared'), 'false');
  assert.match(await row.textContent(), /you/);
  assert.match(await row.textContent(), new RegExp(psql(`SELECT key_id FROM documents WHERE id = '${doc}'`)));

  // The history opens with the keyboard and names the encryption, the decryption and mallory's refusal.
  const button = row.locator('button[data-panel="history"]');
  assert.equal(await button.getAttribute('aria-expanded'), 'false');
  await button.focus();
  await page.keyboard.press('Enter');
  assert.equal(await button.getAttribute('aria-expanded'), 'true');
  const panel = page.locator(`#history-${doc}`);
  await panel.locator('table.history').waitFor();
  const entries = await panel.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => ({
    type: tr.dataset.accessType,
    outcome: tr.dataset.outcome,
    cells: [...tr.cells].map((td) => td.textContent),
  })));
  console.log(`access history of ${doc}: ${entries.map((e) => `${e.type}/${e.outcome}/${e.cells[2]}`).join(', ')}`);
  const find = (type, outcome, user) => entries.find((e) => e.type === type && e.outcome === outcome && e.cells[2] === user);
  for (const [type, outcome, user] of [['encrypt', 'allowed', 'alice'], ['decrypt', 'allowed', 'alice'], ['decrypt', 'refused', 'mallory']]) {
    const e = find(type, outcome, user);
    assert.ok(e, `no ${type}/${outcome} entry for ${user}`);
    assert.ok(e.cells[0].length > 0, 'no time');
    assert.equal(e.cells[3], '127.0.0.1', 'IP address');
    assert.match(e.cells[4], /Chrome/, 'user agent');
  }
  assert.match(find('decrypt', 'refused', 'mallory').cells[5], /refused \(forbidden\)/);
  await screenshot(page, '16-my-documents-history');

  // Closing hides it again.
  await button.click();
  assert.equal(await panel.isVisible(), false);
  await page.close();
});

test('alice shares a document with mallory from the page, then withdraws it', { timeout: 300_000 }, async () => {
  const alice = await openSignedIn(browser.context, TOKENS().alice);
  const plain = path('shared.bin');
  const sha = makeFile(plain, 70 * 1024 + 3, marker);
  await chooseFile(alice, plain);
  const pqf = path('shared.bin.pqf');
  const enc = await runJob(alice, pqf);
  assert.equal(enc.error, undefined, enc.text);
  const doc = documentIdOf(pqf);

  // Mallory, in her own browser profile with her own token.
  const second = await launchBrowser();
  try {
    const mallory = await openSignedIn(second.context, TOKENS().mallory);
    const decryptAsMallory = async (out) => {
      await chooseFile(mallory, pqf);
      // The previous attempt's message goes away once the file is taken.
      await mallory.locator('#error').waitFor({ state: 'hidden' });
      return runJob(mallory, out);
    };
    let r = await decryptAsMallory(path('shared.mallory.0'));
    assert.equal(r.error, 'no_access', `before sharing: ${r.text}`);

    // Alice opens Sharing on the document (keyboard), tries an unknown user, then mallory.
    const row = alice.locator(`#documents-body tr[data-document-id="${doc}"]`);
    await row.waitFor();
    const toggle = row.locator('button[data-panel="sharing"]');
    await toggle.focus();
    await alice.keyboard.press('Enter');
    assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
    const panel = alice.locator(`#sharing-${doc}`);
    const input = panel.getByLabel('Share with user');
    await panel.locator('.grants li:has-text("Only you")').waitFor();
    assert.equal(await alice.evaluate(() => document.activeElement.id), `share-user-${doc}`, 'focus is not on the user field');

    await input.fill('nobody-by-this-name');
    await alice.keyboard.press('Enter');
    const alert = panel.locator('[role=alert]');
    await alert.locator('text=There is no user named').waitFor();
    assert.equal(await input.getAttribute('aria-invalid'), 'true');
    await screenshot(alice, '17-share-unknown-user');

    await input.fill('mallory');
    await panel.getByRole('button', { name: 'Share', exact: true }).click();
    await panel.locator('.grants li[data-user="mallory"]').waitFor();
    assert.match(await panel.locator('[role=status]').textContent(), /Shared with mallory/);
    assert.equal(await alert.textContent(), '');
    assert.equal(await alice.evaluate(() => document.activeElement.id), `share-user-${doc}`, 'focus did not return to the user field');
    await screenshot(alice, '18-shared-with-mallory');

    // Mallory decrypts the same .pqf and sees the document as shared with her.
    r = await decryptAsMallory(path('shared.mallory.1'));
    assert.equal(r.error, undefined, `after sharing: ${r.text}`);
    assert.equal(await sha256File(path('shared.mallory.1')), sha, 'mallory decrypted different bytes');
    await mallory.click('#documents-refresh');
    const mrow = mallory.locator(`#documents-body tr[data-document-id="${doc}"]`);
    await mrow.waitFor();
    assert.equal(await mrow.getAttribute('data-shared'), 'true');
    assert.match(await mrow.textContent(), /alice.*shared with you/);
    await screenshot(mallory, '19-mallory-shared-document');

    // Alice withdraws (the button names whom); mallory is refused again.
    await panel.getByRole('button', { name: 'Withdraw mallory’s access' }).click();
    await panel.locator('.grants li:has-text("Only you")').waitFor();
    assert.match(await panel.locator('[role=status]').textContent(), /mallory can no longer decrypt/);
    assert.equal(await alice.evaluate(() => document.activeElement.id), `share-user-${doc}`);
    await screenshot(alice, '20-share-withdrawn');
    r = await decryptAsMallory(path('shared.mallory.2'));
    assert.equal(r.error, 'no_access', `after withdrawing: ${r.text}`);

    // The history tells the story: share, mallory's decryptions allowed and refused.
    await row.locator('button[data-panel="history"]').click();
    await alice.locator(`#history-${doc} table.history`).waitFor();
    const seen = await alice.locator(`#history-${doc} tbody tr`).evaluateAll((trs) => trs.map((tr) => `${tr.dataset.accessType}/${tr.dataset.outcome}/${tr.cells[2].textContent}`));
    for (const want of ['share/allowed/alice', 'decrypt/allowed/mallory', 'decrypt/refused/mallory']) assert.ok(seen.includes(want), `history lacks ${want}: ${seen}`);
    await mallory.close();
  } finally {
    await second.close();
  }
  await alice.close();
});

test('a bad token during work asks to sign in again', async () => {
  const page = await openSignedIn(browser.context, TOKENS().alice);
  await page.evaluate(() => sessionStorage.setItem('pqfile.token', 'pqf_' + '0'.repeat(64)));
  await chooseFile(page, small.path);
  const r = await runJob(page, path('x'));
  assert.equal(r.error, 'bad_token', r.text);
  await page.locator('#error button:has-text("Sign in again")').waitFor();
  await screenshot(page, '09-bad-token');
  await page.close();
});

test('a revoked key is reported as revoked', async () => {
  const page = await openSignedIn(browser.context, TOKENS().alice);
  await chooseFile(page, small.path);
  const pqf = path('revoked.bin.pqf');
  const enc = await runJob(page, pqf);
  assert.equal(enc.error, undefined, enc.text);
  const doc = readFileSync(pqf).subarray(6, 22).toString('hex');
  psql(`UPDATE encryption_keys SET status = 'revoked' WHERE id = (SELECT key_id FROM documents WHERE id = '${doc}')`);
  await chooseFile(page, pqf);
  const r = await runJob(page, path('x'));
  assert.equal(r.error, 'key_revoked', r.text);
  await screenshot(page, '10-key-revoked');
  await page.close();
});

test('an unreachable key server is reported as such', async () => {
  const page = await openSignedIn(browser.context, TOKENS().alice);
  await server.stop();
  try {
    await chooseFile(page, small.path);
    const r = await runJob(page, path('x'));
    assert.equal(r.error, 'server_unreachable', r.text);
    assert.match(r.text, /cannot be reached/);
    await screenshot(page, '15-server-unreachable');
  } finally {
    await server.start();
  }
  await page.close();
});
