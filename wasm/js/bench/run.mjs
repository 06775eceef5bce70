// Runs bench/index.html once in headless Chromium and prints the figures as
// JSON (scripts/bench-wasm.sh writes them into BENCHMARKS.md).
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { serve } from '../test/shared/static-server.js';
import { launch } from '../test/shared/chromium.js';

const JS = fileURLToPath(new URL('..', import.meta.url));
const query = process.argv[2] ?? '';
const wasm = readFileSync(new URL('../dist/web/pqfile_wasm_bg.wasm', import.meta.url));
const server = await serve(JS);
const browser = await launch();
try {
  const page = await browser.page(`${server.url}/bench/index.html${query}`);
  const r = await page.evaluate(() => window.__bench);
  if (r.error) throw new Error(r.error);
  r.wasm = { bytes: wasm.length, gzipBytes: gzipSync(wasm, { level: 9 }).length };
  r.wasm.gzipKiB = +(r.wasm.gzipBytes / 1024).toFixed(1);
  console.log(JSON.stringify(r, null, 2));
} finally {
  await browser.close();
  await server.close();
}
