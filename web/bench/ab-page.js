// Side-by-side benchmark of two copies of the whole page, each served by its
// own key server (same database) on its own origin: A from $AB_WEB_DIR (e.g.
// the committed web/ with the committed package), B from web/ (the working
// copy). Every round: raw WebCrypto, then A and B encrypt + decrypt BENCH_MIB
// (64) MiB through the streaming download (service worker), alternating which
// goes first. Run: scripts/bench-web.sh ab-page. AB_SINK=file-system measures
// the File System Access path instead (answered with an OPFS file, as in bench.js).
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { KeyServer, TOKENS, WORK, chooseFile, dropOpfsFile, launchBrowser, makeFile, noFileSystemAccess, opfsPicker, openSignedIn, runJob } from '../e2e/harness.js';

const MiB = 1024 * 1024;
const SIZE = Number(process.env.BENCH_MIB ?? 64) * MiB;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const FSA = process.env.AB_SINK === 'file-system';
const SINK = FSA ? 'file-system' : 'service-worker';
const initScript = FSA ? opfsPicker : noFileSystemAccess;

async function main() {
  const b = new KeyServer();
  await b.start();
  // A: a second key server on the next port, serving $AB_WEB_DIR.
  const portB = Number(process.env.WEB_E2E_PORT);
  const portA = Number(process.env.AB_PORT);
  const saved = { ...process.env };
  Object.assign(process.env, { PQFILE_WEB_DIR: process.env.AB_WEB_DIR, PQFILE_BIND: `127.0.0.1:${portA}`, WEB_E2E_PORT: String(portA) });
  const a = new KeyServer();
  a.log = join(WORK(), 'server-a.log');
  await a.start();
  // One browser per side: in one shared browser, some runs put the second
  // origin's page at half speed with identical code on both sides (an A/A
  // run read A 127 / B 62 MiB/s), e.g. if its service worker lands in the
  // other page's renderer process.
  const browserA = await launchBrowser();
  const browserB = await launchBrowser();
  try {
    const input = join(WORK(), 'ab.bin');
    makeFile(input, SIZE, randomBytes(16));
    const pageA = await openSignedIn(browserA.context, TOKENS().alice, { initScript });
    Object.assign(process.env, { WEB_E2E_PORT: String(portB) });
    const pageB = await openSignedIn(browserB.context, TOKENS().alice, { initScript });
    if (!FSA) for (const p of [pageA, pageB]) await p.waitForFunction(() => document.querySelector('#save-mode').textContent.includes('service worker'));
    const rows = {};
    const add = (k, v) => (rows[k] ??= []).push(v);
    const jobMs = (page) => page.evaluate(() => performance.getEntriesByName('pqfile:job')[0].duration);
    const round = async (name, page) => {
      if (FSA) {
        await chooseFile(page, input);
        await page.click('#start');
        await page.locator('#result[data-sink="file-system"]').waitFor({ timeout: 600_000 });
        add(`${name} enc`, SIZE / MiB / ((await jobMs(page)) / 1000));
        await dropOpfsFile(page, 'ab.bin.pqf');
        await page.locator('#start:has-text("Decrypt")').waitFor();
        await page.click('#start');
        await page.locator('#result[data-sink="file-system"]').waitFor({ timeout: 600_000 });
        add(`${name} dec`, SIZE / MiB / ((await jobMs(page)) / 1000));
        await page.evaluate(async () => {
          const root = await navigator.storage.getDirectory();
          for (const n of ['ab.bin.pqf', 'ab.bin']) await root.removeEntry(n).catch(() => {});
        });
        return;
      }
      await chooseFile(page, input);
      let r = await runJob(page, join(WORK(), `${name}.pqf`));
      if (r.error || r.sink !== 'service-worker') throw new Error(`${name} encrypt: ${r.error ?? r.sink} ${r.text ?? ''}`);
      add(`${name} enc`, SIZE / MiB / ((await jobMs(page)) / 1000));
      await chooseFile(page, join(WORK(), `${name}.pqf`));
      r = await runJob(page, join(WORK(), `${name}.out`));
      if (r.error || r.sink !== 'service-worker') throw new Error(`${name} decrypt: ${r.error ?? r.sink} ${r.text ?? ''}`);
      add(`${name} dec`, SIZE / MiB / ((await jobMs(page)) / 1000));
      rmSync(join(WORK(), `${name}.out`), { force: true });
    };
    const raw = (page) => page.evaluate(async (total) => {
      const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt']);
      const buf = new Uint8Array(16 * 1024 * 1024);
      const iv = new Uint8Array(12);
      const t0 = performance.now();
      const q = [];
      for (let done = 0; done < total; done += 16384) {
        new DataView(iv.buffer).setUint32(8, done / 16384);
        const off = done % buf.length;
        q.push(crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, buf.subarray(off, off + 16384)));
        while (q.length > 64) await q.shift();
      }
      while (q.length) await q.shift();
      return performance.now() - t0;
    }, SIZE);
    for (let i = 0; i < ROUNDS; i++) {
      add('raw', SIZE / MiB / ((await raw(pageB)) / 1000));
      const order = i % 2 ? [['B', pageB], ['A', pageA]] : [['A', pageA], ['B', pageB]];
      for (const [n, p] of order) await round(n, p);
      console.log(`round ${i + 1}: ` + Object.entries(rows).map(([k, v]) => `${k} ${v.at(-1).toFixed(0)}`).join(', ') + ' MiB/s');
    }
    const r = median(rows.raw);
    const wins = (k) => rows[`B ${k}`].filter((b, i) => b > rows[`A ${k}`][i]).length;
    console.log(`\nB ahead of A: encrypt ${wins('enc')}/${ROUNDS} rounds, decrypt ${wins('dec')}/${ROUNDS}`);
    console.log(`\n== page A/B, ${SIZE / MiB} MiB, ${ROUNDS} rounds, ${SINK}, medians: raw ${r.toFixed(0)} MiB/s`);
    for (const k of ['A enc', 'B enc', 'A dec', 'B dec']) console.log(`${k}: ${median(rows[k]).toFixed(0)} MiB/s (${(median(rows[k]) / r).toFixed(2)}× raw)`);
  } finally {
    await browserA.close();
    await browserB.close();
    await a.stop();
    Object.assign(process.env, saved);
    await b.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
