// Repro of "the streaming download did not start" (fixed in sw.js: the
// navigation's fetch event can come before the page's message): REPRO_RUNS (8)
// encrypt jobs of BENCH_MIB (64) MiB through the service-worker download in one
// page, logging each download navigation's response (a 404 from the service
// worker was the bug). Run: scripts/with-stack.sh node web/bench/repro-sw.js
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { chooseFile, KeyServer, launchBrowser, makeFile, noFileSystemAccess, openSignedIn, runJob, TOKENS, WORK } from '../e2e/harness.js';
const MiB = 1024 * 1024;
const SIZE = Number(process.env.BENCH_MIB ?? 64) * MiB;
const server = new KeyServer();
await server.start();
const browser = await launchBrowser();
try {
  const input = join(WORK(), 'r.bin');
  makeFile(input, SIZE, randomBytes(16));
  browser.context.on('response', (r) => r.url().includes('__pqfile/download') && console.log(`[download response ${r.status()} ${r.fromServiceWorker() ? 'from service worker' : 'from network'}]`));
  browser.context.on('requestfailed', (r) => r.url().includes('__pqfile/download') && console.log(`[download request failed ${r.failure()?.errorText}]`));
  const page = await openSignedIn(browser.context, TOKENS().alice, { initScript: noFileSystemAccess });
  await page.waitForFunction(() => document.querySelector('#save-mode').textContent.includes('service worker'));
  for (let i = 0; i < Number(process.env.REPRO_RUNS ?? 8); i++) {
    await chooseFile(page, input);
    const t = Date.now();
    const r = await runJob(page, join(WORK(), 'r.pqf'));
    console.log(`run ${i + 1}: ${r.error ? `error ${r.error} ${r.text}` : r.sink} in ${Date.now() - t} ms; sw state ${await page.evaluate(() => navigator.serviceWorker.controller?.state ?? 'no controller')}`);
  }
} finally {
  await browser.close();
  await server.stop();
}
