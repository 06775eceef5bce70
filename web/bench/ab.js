// Side-by-side benchmark of two copies of the package's JS layer in one page:
// web/vendor/pqfile-base/ (A, e.g. the committed src) and web/vendor/pqfile/
// (B, the working copy; C: B with 16 chunks in flight), plus raw WebCrypto, alternating in every round:
// File -> encrypt stream -> drained, .pqf -> decrypt stream -> drained.
// Prepare A with:  scripts/bench-web.sh ab   (see there). BENCH_MIB (64), BENCH_ROUNDS (3).
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { KeyServer, TOKENS, WORK, launchBrowser, makeFile, openSignedIn } from '../e2e/harness.js';

const MiB = 1024 * 1024;
const SIZE = Number(process.env.BENCH_MIB ?? 64) * MiB;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main() {
  const server = new KeyServer();
  await server.start();
  const browser = await launchBrowser();
  try {
    const input = join(WORK(), 'ab.bin');
    makeFile(input, SIZE, randomBytes(16));
    const page = await openSignedIn(browser.context, TOKENS().alice);
    await page.evaluate(() => {
      const el = Object.assign(document.createElement('input'), { id: 'ab-file', type: 'file', hidden: true });
      document.body.append(el);
    });
    await page.setInputFiles('#ab-file', input);
    const rows = {};
    const add = (k, v) => (rows[k] ??= []).push(v);
    for (let i = 0; i < ROUNDS; i++) {
      const r = await page.evaluate(async (token) => {
        const file = document.querySelector('#ab-file').files[0];
        const drain = async (stream) => {
          const t = performance.now();
          const parts = [];
          const reader = stream.getReader();
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            parts.push(value);
          }
          return { ms: performance.now() - t, parts };
        };
        const raw = async () => {
          const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt']);
          const buf = new Uint8Array(16 * 1024 * 1024);
          const iv = new Uint8Array(12);
          const t0 = performance.now();
          const q = [];
          for (let done = 0; done < file.size; done += 16384) {
            new DataView(iv.buffer).setUint32(8, done / 16384);
            const off = done % buf.length;
            q.push(crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, buf.subarray(off, off + 16384)));
            while (q.length > 64) await q.shift();
          }
          while (q.length) await q.shift();
          return performance.now() - t0;
        };
        const out = { raw: await raw() };
        for (const [name, path, concurrency] of [['A', './vendor/pqfile-base/src/browser.js'], ['B', './vendor/pqfile/src/browser.js'], ['C', './vendor/pqfile/src/browser.js', Number(localStorage.getItem('ab.c') || 16)]]) {
          const { Encrypter, Decrypter, KeyServerClient } = await import(path);
          const client = new KeyServerClient(location.origin, token);
          const enc = await drain(file.stream().pipeThrough(new Encrypter({ concurrency }).useKeyServer(client).encryptStream()));
          // One contiguous part, as a file on disk would read.
          const joined = new Uint8Array(enc.parts.reduce((n, p) => n + p.length, 0));
          enc.parts.reduce((off, p) => (joined.set(p, off), off + p.length), 0);
          const pqf = new Blob([joined]);
          const dec = await drain(pqf.stream().pipeThrough(new Decrypter({ concurrency }).useKeyServer(client).decryptStream()));
          out[`${name} enc`] = enc.ms;
          out[`${name} dec`] = dec.ms;
          out[`${name} size`] = pqf.size;
        }
        out.raw2 = await raw();
        return out;
      }, TOKENS().alice);
      if (r['A size'] !== r['B size'] || r['A size'] !== r['C size']) throw new Error(`sizes differ: ${r['A size']} ${r['B size']}`);
      for (const k of ['raw', 'raw2', 'A enc', 'B enc', 'C enc', 'A dec', 'B dec', 'C dec']) add(k.replace('raw2', 'raw'), SIZE / MiB / (r[k] / 1000));
      console.log(`round ${i + 1}: ` + ['raw', 'raw2', 'A enc', 'B enc', 'C enc', 'A dec', 'B dec', 'C dec'].map((k) => `${k} ${(SIZE / MiB / (r[k] / 1000)).toFixed(0)}`).join(', ') + ' MiB/s');
    }
    const raw = median(rows.raw);
    console.log(`\n== ${SIZE / MiB} MiB, ${ROUNDS} rounds, medians: raw ${raw.toFixed(0)} MiB/s`);
    for (const k of ['A enc', 'B enc', 'C enc', 'A dec', 'B dec', 'C dec']) console.log(`${k}: ${median(rows[k]).toFixed(0)} MiB/s (${(median(rows[k]) / raw).toFixed(2)}× raw)`);
  } finally {
    await browser.close();
    await server.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
