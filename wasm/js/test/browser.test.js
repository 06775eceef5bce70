// The package in headless Chromium (web target): every vector and the
// WebCrypto-vs-wasm equivalence, in a page served from loopback.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { serve } from './shared/static-server.js';
import { launch } from './shared/chromium.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
let server, browser;
before(async () => {
  server = await serve(ROOT);
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.close();
});

test('vectors and WebCrypto/wasm equivalence in headless Chromium', { timeout: 180_000 }, async () => {
  const page = await browser.page(`${server.url}/wasm/js/test/browser/index.html`);
  const r = await page.evaluate(() => window.__results);
  assert.equal(r.error, undefined, r.error);
  assert.equal(r.secureContext, true);
  assert.equal(r.hasWebCrypto, true);
  assert.ok(r.equivalenceLengths >= 10);
  assert.ok(r.vectorCount >= 30);
  assert.equal(r.ran, r.vectorCount * 4);
  assert.deepEqual(r.failures, []);
  console.log(`Chromium: ${r.vectorCount} vectors × 4 runs, ${r.equivalenceLengths} equivalence lengths`);
});
