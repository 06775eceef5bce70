// The save path alone, no crypto: the page's service-worker download sink
// (web/lib/save.js) fed from File.stream(), once in 16 KiB pieces with
// their own buffers (as the package emits sealed chunks) and once in the
// reader's own 64 KiB pieces, alternating; 256 MiB. Plus read + slice alone.
// Run: scripts/bench-web.sh sink. It bounds what the page can reach.
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { KeyServer, launchBrowser, makeFile, noFileSystemAccess, openSignedIn, TOKENS, WORK } from '../e2e/harness.js';
const MiB = 1024 * 1024, SIZE = 256 * MiB;
const server = new KeyServer(); await server.start();
const browser = await launchBrowser();
try {
  const input = join(WORK(), 's.bin'); makeFile(input, SIZE, randomBytes(16));
  const page = await openSignedIn(browser.context, TOKENS().alice, { initScript: noFileSystemAccess });
  await page.waitForFunction(() => document.querySelector('#save-mode').textContent.includes('service worker'));
  await page.evaluate(() => { const el = Object.assign(document.createElement('input'), { id: 'f', type: 'file', hidden: true }); document.body.append(el); });
  await page.setInputFiles('#f', input);
  for (let i = 0; i < 4; i++) {
    await page.evaluate((w) => (window.__whole = w), i % 2 === 1);
    const dl = page.waitForEvent('download');
    const r = await page.evaluate(async () => {
      const { openSink } = await import('./lib/save.js');
      const file = document.querySelector('#f').files[0];
      const t0 = performance.now();
      const sink = await openSink('service-worker', 'x.bin', { signal: new AbortController().signal });
      const reader = file.stream().getReader();
      for (;;) { const { done, value } = await reader.read(); if (done) break;
        // 16 KiB pieces with their own buffers, as the package emits them
        if (window.__whole) await sink.write(value); else for (let o = 0; o < value.length; o += 16384) await sink.write(value.slice(o, o + 16384)); }
      await sink.close();
      const t1 = performance.now();
      const r2 = file.stream().getReader(); const t2 = performance.now();
      for (;;) { const { done, value } = await r2.read(); if (done) break; for (let o = 0; o < value.length; o += 16384) value.slice(o, o + 16384); }
      return { sink: t1 - t0, readSlice: performance.now() - t2 };
    });
    const d = await dl; const t = Date.now(); await d.path(); const tail = Date.now() - t;
    console.log(`round ${i + 1}: file -> ${i % 2 ? 'whole 64 KiB reads' : '16 KiB slices'} -> service-worker download: ${(256 / (r.sink / 1000)).toFixed(0)} MiB/s (download finished ${tail} ms after close); read+slice alone ${(256 / (r.readSlice / 1000)).toFixed(0)} MiB/s`);
  }
} finally { await browser.close(); await server.stop(); }
