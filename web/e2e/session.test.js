// The session and `#token=` links (issue 12, item 4): a link carrying
// another user's token must not silently replace the signed-in session (a
// victim would encrypt "their" files into the attacker's account). Alice is
// signed in; mallory's token arrives in a link, in the same tab (sessionStorage
// is per tab), by a full page load or a fragment change. Headless Chromium
// against the real key server (scripts/with-stack.sh).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE_URL, KeyServer, TOKENS, launchBrowser, newToken, openSignedIn, screenshot } from './harness.js';

const server = new KeyServer();
let browser;
/** A document of each user, made through the API: the page's list shows whose session it runs. */
const docs = { alice: '', mallory: '' };
const INVALID = `pqf_${'0'.repeat(64)}`;

async function createDocument(token) {
  const res = await fetch(`${BASE_URL()}/v1/documents`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  const body = await res.text();
  assert.equal(res.status, 201, `POST /v1/documents: ${body}`);
  return JSON.parse(body).document_id;
}

before(async () => {
  await server.start();
  browser = await launchBrowser();
  docs.alice = await createDocument(TOKENS().alice);
  docs.mallory = await createDocument(TOKENS().mallory);
});

after(async () => {
  await browser?.close();
  await server.stop();
});

/** Collects Content-Security-Policy violations into `window.__csp` (init script). */
const watchCsp = () => {
  /** @type {any} */ (window).__csp = [];
  document.addEventListener('securitypolicyviolation', (e) => /** @type {any} */ (window).__csp.push(`${e.violatedDirective} ${e.blockedURI}`), true);
};

/** Alice's page, in a tab of its own (so its own sessionStorage). */
async function alicePage() {
  const page = await openSignedIn(browser.context, TOKENS().alice, { initScript: watchCsp });
  assert.equal(await page.textContent('#session-label'), 'Signed in as alice');
  return page;
}

/**
 * Opens `#token=T` in the same tab, a full page load as when the link is
 * followed from elsewhere, and waits until the page has probed the tokens and
 * shows the tool with a named user.
 */
async function followLink(page, token) {
  await page.goto('about:blank');
  await page.goto(`${BASE_URL()}/#token=${encodeURIComponent(token)}`);
  return signedInLabel(page);
}

/**
 * Waits until the page has decided (the tool, or the sign-in form: both are
 * hidden until the token is checked); returns the session label. The label is
 * set in the same task that shows the tool.
 */
async function signedInLabel(page) {
  await page.waitForFunction(() => !document.getElementById('tool')?.hidden || !document.getElementById('signin')?.hidden);
  assert.equal(await page.isVisible('#signin'), false, `the page shows the sign-in form: ${await page.textContent('#signin-error')}`);
  return page.textContent('#session-label');
}

/** Everything this tab stores, as one string: sessionStorage and localStorage keys and values. */
function storedEverywhere(page) {
  return page.evaluate(() => JSON.stringify([{ ...sessionStorage }, { ...localStorage }]));
}

/** Requests (any page of the context) that carry `token`: in the Authorization header or the URL. */
function requestsCarrying(context, token) {
  const seen = [];
  const pending = [];
  const onRequest = (req) => {
    // What goes on the wire: the URL without its fragment (the browser never sends that).
    const url = new URL(req.url());
    url.hash = '';
    const inUrl = url.href.includes(token) || url.href.includes(encodeURIComponent(token));
    pending.push(req.allHeaders().then((h) => {
      if (inUrl || (h.authorization ?? '').includes(token)) seen.push(`${req.method()} ${url.pathname}${inUrl ? ' (in the URL)' : ''}`);
    }, () => {}));
  };
  context.on('request', onRequest);
  return {
    async stop() {
      context.off('request', onRequest);
      await Promise.all(pending);
      return seen;
    },
  };
}

/** Waits for the document list and returns the document ids it shows. */
async function listedDocuments(page) {
  await page.locator('#documents-body[data-state="list"]').waitFor();
  return page.locator('#documents-body tr[data-document-id]').evaluateAll((trs) => trs.map((tr) => /** @type {HTMLElement} */ (tr).dataset.documentId));
}

async function assertNoCspViolation(page) {
  assert.deepEqual(await page.evaluate(() => /** @type {any} */ (window).__csp), [], 'Content-Security-Policy violations');
}

test('a #token= link for another user asks before switching; "Stay" keeps alice and drops the link’s token', async () => {
  const page = await alicePage();
  const mallory = TOKENS().mallory;
  const carrying = requestsCarrying(browser.context, mallory);
  const label = await followLink(page, mallory);

  // Nothing switched: the session is still alice's, and the page asks.
  assert.equal(label, 'Signed in as alice', 'the link replaced the session without asking');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('pqfile.token')), TOKENS().alice);
  assert.equal(new URL(page.url()).hash, '', 'the link’s token is still in the address bar');
  const prompt = page.getByRole('alertdialog', { name: 'Switch accounts?' });
  await prompt.waitFor();
  assert.match(await prompt.textContent(), /This link signs you in as mallory\. You are signed in as alice\./);
  const stay = prompt.getByRole('button', { name: 'Stay signed in as alice' });
  const go = prompt.getByRole('button', { name: 'Switch to mallory' });
  assert.equal(await stay.isVisible(), true);
  assert.equal(await go.isVisible(), true);
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'link-switch-stay', 'the safe answer does not have the focus');
  // A request made now is alice's: her documents, not mallory's.
  const listed = await listedDocuments(page);
  assert.ok(listed.includes(docs.alice), 'alice’s document is not listed');
  assert.ok(!listed.includes(docs.mallory), 'mallory’s document is listed while alice is signed in');
  assert.ok(!(await storedEverywhere(page)).includes(mallory), 'the link’s token was stored before any answer');
  await screenshot(page, '40-link-for-another-user');

  await stay.click();
  await prompt.waitFor({ state: 'hidden' });
  assert.equal(await page.textContent('#session-label'), 'Signed in as alice');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('pqfile.token')), TOKENS().alice);
  assert.ok(!(await storedEverywhere(page)).includes(mallory), 'the link’s token is stored after "Stay"');
  assert.ok(!page.url().includes(mallory), 'the link’s token is in the address');
  await page.locator('#documents-refresh').click();
  assert.ok(!(await listedDocuments(page)).includes(docs.mallory));

  // A reload has nothing left of the link: alice, no question.
  await page.reload();
  assert.equal(await signedInLabel(page), 'Signed in as alice');
  assert.equal(await prompt.isVisible(), false);
  // Mallory's token went to the key server once, to ask whose it is, and nowhere else.
  assert.deepEqual(await carrying.stop(), ['GET /v1/me']);
  await assertNoCspViolation(page);
  await page.close();
});

test('the same link, then "Switch to mallory", signs in as mallory', async () => {
  const page = await alicePage();
  assert.equal(await followLink(page, TOKENS().mallory), 'Signed in as alice', 'the link replaced the session without asking');
  const prompt = page.getByRole('alertdialog', { name: 'Switch accounts?' });
  await prompt.waitFor();
  await prompt.getByRole('button', { name: 'Switch to mallory' }).click();
  await prompt.waitFor({ state: 'hidden' });
  assert.equal(await page.textContent('#session-label'), 'Signed in as mallory');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('pqfile.token')), TOKENS().mallory);
  assert.ok(!(await storedEverywhere(page)).includes(TOKENS().alice), 'alice’s token is still stored');
  // Requests are now mallory's (the list is reloaded on the switch).
  await page.waitForFunction((doc) => document.querySelector(`#documents-body tr[data-document-id="${doc}"]`), docs.mallory);
  const listed = await listedDocuments(page);
  assert.ok(!listed.includes(docs.alice), 'alice’s document is listed after switching to mallory');
  await screenshot(page, '41-link-switched');
  await assertNoCspViolation(page);
  await page.close();
});

test('a link whose token is invalid keeps alice and says the link’s token was not accepted', async () => {
  const page = await alicePage();
  assert.equal(await followLink(page, INVALID), 'Signed in as alice');
  const notice = page.locator('#link-notice');
  await notice.waitFor();
  assert.equal(await notice.getAttribute('role'), 'alert');
  assert.match(await notice.textContent(), /The token in the link was not accepted\..*invalid or has been revoked.*You are still signed in as alice\./s);
  assert.equal(await page.getByRole('alertdialog').count(), 0, 'a question for an invalid token');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('pqfile.token')), TOKENS().alice);
  assert.ok(!(await storedEverywhere(page)).includes(INVALID));
  assert.equal(new URL(page.url()).hash, '');
  await screenshot(page, '42-link-token-invalid');
  await notice.getByRole('button', { name: 'Dismiss' }).click();
  await notice.waitFor({ state: 'hidden' });
  await assertNoCspViolation(page);
  await page.close();
});

test('a link whose token cannot be checked (no answer) keeps alice and says so', async () => {
  const page = await alicePage();
  const mallory = TOKENS().mallory;
  // The key server does not answer for the link's token only; alice's probe goes through.
  await page.route('**/v1/me', async (route) => {
    const auth = (await route.request().allHeaders()).authorization ?? '';
    if (auth.includes(mallory)) await route.abort('connectionrefused');
    else await route.continue();
  });
  assert.equal(await followLink(page, mallory), 'Signed in as alice');
  const notice = page.locator('#link-notice');
  await notice.waitFor();
  assert.match(await notice.textContent(), /The token in the link was not accepted\..*could not be checked.*You are still signed in as alice\./s);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('pqfile.token')), TOKENS().alice);
  assert.ok(!(await storedEverywhere(page)).includes(mallory));
  await page.close();
});

test('a link pasted into the open page (a fragment change, no reload) asks too', async () => {
  const page = await alicePage();
  await page.evaluate((t) => (location.hash = `token=${encodeURIComponent(t)}`), TOKENS().mallory);
  const prompt = page.getByRole('alertdialog', { name: 'Switch accounts?' });
  await prompt.waitFor({ timeout: 10_000 });
  assert.equal(new URL(page.url()).hash, '', 'the link’s token is still in the address bar');
  assert.equal(await page.textContent('#session-label'), 'Signed in as alice');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('pqfile.token')), TOKENS().alice);
  await prompt.getByRole('button', { name: 'Stay signed in as alice' }).click();
  await prompt.waitFor({ state: 'hidden' });
  assert.ok(!(await storedEverywhere(page)).includes(TOKENS().mallory));
  await page.close();
});

test('a link with a new token of the signed-in user switches without asking', async () => {
  const page = await alicePage();
  const fresh = newToken('alice');
  assert.notEqual(fresh, TOKENS().alice);
  assert.equal(await followLink(page, fresh), 'Signed in as alice');
  await page.waitForFunction((t) => sessionStorage.getItem('pqfile.token') === t, fresh);
  assert.equal(await page.getByRole('alertdialog').count(), 0, 'asked to switch to the same user');
  assert.equal(await page.locator('#link-notice').isVisible(), false);
  assert.ok((await listedDocuments(page)).includes(docs.alice));
  await page.close();
});

test('with no session, a link signs in and the label names the link’s user', async () => {
  const page = await openSignedIn(browser.context, TOKENS().mallory);
  assert.equal(await page.textContent('#session-label'), 'Signed in as mallory');
  assert.equal(await page.getByRole('alertdialog').count(), 0);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('pqfile.token')), TOKENS().mallory);
  await page.close();
});
