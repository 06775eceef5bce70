// Benchmark of the web page in headless Chromium against the real key server
// (run through scripts/with-stack.sh; scripts/bench-web.sh does it all):
//
// 1. End-to-end page throughput for a 256 MiB file, encrypt and decrypt:
//    click -> file saved, through the streaming download (service worker) and
//    through the File System Access API (answered with an OPFS file), as a
//    ratio to raw WebCrypto AES-256-GCM sealing the same number of bytes in
//    16 KiB chunks, 64 in flight (the format's chunking), measured in the
//    same browser, alternating rounds, median.
// 2. Time from clicking Encrypt to the first encrypted byte for a 1 KiB file
//    (key fetch + encapsulation + header + seal), median and p90 of 30.
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { KeyServer, TOKENS, WORK, chooseFile, dropOpfsFile, launchBrowser, makeFile, noFileSystemAccess, opfsPicker, openSignedIn, runJob } from '../e2e/harness.js';

const MiB = 1024 * 1024;
const SIZE = Number(process.env.BENCH_MIB ?? 256) * MiB;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const TTFB_RUNS = Number(process.env.BENCH_TTFB_RUNS ?? 30);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
const mibs = (bytes, ms) => bytes / MiB / (ms / 1000);

/** Raw WebCrypto AES-256-GCM in the page: `total` bytes in 16 KiB chunks, 64 in flight. */
async function rawWebCrypto(page, total) {
  return page.evaluate(async (total) => {
    const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
    const buf = new Uint8Array(16 * 1024 * 1024);
    for (let i = 0; i < buf.length; i += 65536) crypto.getRandomValues(buf.subarray(i, i + 65536));
    const CHUNK = 16384;
    const iv = new Uint8Array(12);
    const t0 = performance.now();
    const queue = [];
    let done = 0;
    let sink = 0;
    while (done < total) {
      const off = done % buf.length;
      new DataView(iv.buffer).setUint32(8, done / CHUNK);
      queue.push(crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, buf.subarray(off, off + CHUNK)));
      done += CHUNK;
      while (queue.length > 64) sink += (await queue.shift()).byteLength;
    }
    while (queue.length) sink += (await queue.shift()).byteLength;
    return performance.now() - t0;
  }, total);
}

/** The same file through File.stream() alone, and through the package's encrypt/decrypt streams into nothing: where the page's time goes. */
async function pipelineOnly(page, input, pqf) {
  await page.evaluate(() => {
    if (document.querySelector('#bench-files')) return;
    const el = Object.assign(document.createElement('input'), { id: 'bench-files', type: 'file', multiple: true, hidden: true });
    document.body.append(el);
  });
  await page.setInputFiles('#bench-files', [input, pqf]);
  return page.evaluate(async (token) => {
    const { Encrypter, Decrypter, KeyServerClient } = await import('./vendor/pqfile/src/browser.js');
    const [file, enc] = document.querySelector('#bench-files').files;
    const client = new KeyServerClient(location.origin, token);
    const drain = async (stream) => {
      const t = performance.now();
      const r = stream.getReader();
      while (!(await r.read()).done);
      return performance.now() - t;
    };
    return {
      read: await drain(file.stream()),
      encrypt: await drain(file.stream().pipeThrough(new Encrypter().useKeyServer(client).encryptStream())),
      decrypt: await drain(enc.stream().pipeThrough(new Decrypter().useKeyServer(client).decryptStream())),
    };
  }, TOKENS().alice);
}


async function pageRound(page, input, work, mode) {
  const jobMs = () => page.evaluate(() => performance.getEntriesByName('pqfile:job')[0].duration);
  await chooseFile(page, input);
  let enc;
  if (mode === 'service-worker') {
    const r = await runJob(page, join(work, 'bench.pqf'));
    if (r.error || r.sink !== mode) throw new Error(`encrypt: ${r.error ?? r.sink} ${r.text ?? ''}`);
    enc = await jobMs();
    await chooseFile(page, join(work, 'bench.pqf'));
    const d = await runJob(page, join(work, 'bench.out'));
    if (d.error || d.sink !== mode) throw new Error(`decrypt: ${d.error ?? d.sink} ${d.text ?? ''}`);
    const dec = await jobMs();
    rmSync(join(work, 'bench.out'), { force: true });
    return { enc, dec };
  }
  // File System Access: encrypt to OPFS, then drop the OPFS file to decrypt it.
  await page.click('#start');
  await page.locator('#result[data-sink="file-system"]').waitFor({ timeout: 600_000 });
  enc = await jobMs();
  await dropOpfsFile(page, 'bench.bin.pqf');
  await page.locator('#start:has-text("Decrypt")').waitFor();
  await page.click('#start');
  await page.locator('#result[data-sink="file-system"]').waitFor({ timeout: 600_000 });
  const dec = await jobMs();
  await page.evaluate(async () => {
    const root = await navigator.storage.getDirectory();
    for (const n of ['bench.bin.pqf', 'bench.bin']) await root.removeEntry(n).catch(() => {});
  });
  return { enc, dec };
}

async function main() {
  const server = new KeyServer();
  await server.start();
  const browser = await launchBrowser();
  const work = WORK();
  try {
    const input = join(work, 'bench.bin');
    makeFile(input, SIZE, randomBytes(16));
    const sw = await openSignedIn(browser.context, TOKENS().alice, { initScript: noFileSystemAccess });
    await sw.waitForFunction(() => document.querySelector('#save-mode').textContent.includes('service worker'));
    const fsa = await openSignedIn(browser.context, TOKENS().alice, { initScript: opfsPicker });

    const rows = { raw: [], swEnc: [], swDec: [], fsaEnc: [], fsaDec: [], read: [], nullEnc: [], nullDec: [] };
    for (let i = 0; i < ROUNDS; i++) {
      rows.raw.push(mibs(SIZE, await rawWebCrypto(sw, SIZE)));
      const a = await pageRound(sw, input, work, 'service-worker');
      rows.swEnc.push(mibs(SIZE, a.enc));
      rows.swDec.push(mibs(SIZE, a.dec));
      rows.raw.push(mibs(SIZE, await rawWebCrypto(fsa, SIZE)));
      const b = await pageRound(fsa, input, work, 'file-system');
      rows.fsaEnc.push(mibs(SIZE, b.enc));
      rows.fsaDec.push(mibs(SIZE, b.dec));
      const p = await pipelineOnly(sw, input, join(work, 'bench.pqf'));
      rows.read.push(mibs(SIZE, p.read));
      rows.nullEnc.push(mibs(SIZE, p.encrypt));
      rows.nullDec.push(mibs(SIZE, p.decrypt));
      console.log(`round ${i + 1}: raw ${rows.raw.slice(-2).map((x) => x.toFixed(0)).join('/')} MiB/s; ` +
        `sw enc ${rows.swEnc.at(-1).toFixed(0)} dec ${rows.swDec.at(-1).toFixed(0)}; fsa enc ${rows.fsaEnc.at(-1).toFixed(0)} dec ${rows.fsaDec.at(-1).toFixed(0)} MiB/s`);
    }
    const raw = median(rows.raw);
    const line = (label, xs) => `${label}: ${median(xs).toFixed(0)} MiB/s, ratio ${(median(xs) / raw).toFixed(2)}× raw`;
    console.log(`\n== ${SIZE / MiB} MiB, ${ROUNDS} alternating rounds, medians`);
    console.log(`raw WebCrypto AES-256-GCM (16 KiB chunks, 64 in flight, in memory): ${raw.toFixed(0)} MiB/s`);
    console.log(line('File.stream() read alone (no crypto)', rows.read));
    console.log(line('package encrypt stream, File -> nothing (no save)', rows.nullEnc));
    console.log(line('package decrypt stream, File -> nothing (no save)', rows.nullDec));
    console.log(line('page encrypt, streaming download (service worker)', rows.swEnc));
    console.log(line('page decrypt, streaming download (service worker)', rows.swDec));
    console.log(line('page encrypt, File System Access (OPFS file)', rows.fsaEnc));
    console.log(line('page decrypt, File System Access (OPFS file)', rows.fsaDec));
    await fsa.close();
    await sw.close();

    // Time to first encrypted byte, 1 KiB file (Blob path; the sink is opened after the first byte).
    const tiny = join(work, 'tiny.bin');
    makeFile(tiny, 1024, randomBytes(16));
    const ttfb = [];
    const total = [];
    const page = await openSignedIn(browser.context, TOKENS().alice);
    for (let i = 0; i < TTFB_RUNS + 3; i++) {
      await chooseFile(page, tiny);
      const r = await runJob(page, join(work, 'tiny.pqf'), { timeout: 30_000 });
      if (r.error) throw new Error(r.text);
      const [first, job] = await page.evaluate(() => [
        performance.getEntriesByName('pqfile:time-to-first-byte')[0].duration,
        performance.getEntriesByName('pqfile:job')[0].duration,
      ]);
      if (i >= 3) { // 3 warm-up runs
        ttfb.push(first);
        total.push(job);
      }
    }
    console.log(`\n== 1 KiB file, click -> first encrypted byte (key fetch + encapsulation + header), ${TTFB_RUNS} runs after 3 warm-up`);
    console.log(`median ${median(ttfb).toFixed(1)} ms, p90 ${pct(ttfb, 0.9).toFixed(1)} ms, max ${Math.max(...ttfb).toFixed(1)} ms; click -> saved: median ${median(total).toFixed(1)} ms`);
  } finally {
    await browser.close();
    await server.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
