// CPU profile of the page's main thread (CDP Profiler) during one encrypt
// and one decrypt through the page (service-worker download), BENCH_MIB
// (default 64) MiB: where does the time go? Prints the top functions by self
// time and the share of (idle)/(program)/(garbage collector). Run through
// scripts/with-stack.sh: `scripts/with-stack.sh node web/bench/profile.js`.
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { artifactsDir, chooseFile, KeyServer, launchBrowser, makeFile, noFileSystemAccess, openSignedIn, runJob, TOKENS, WORK } from '../e2e/harness.js';

const MiB = 1024 * 1024;
const SIZE = Number(process.env.BENCH_MIB ?? 64) * MiB;

function summarize(profile, label) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const dt = profile.timeDeltas;
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const n = byId.get(profile.samples[i]);
    const d = dt[i] ?? 0;
    total += d;
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url ? `${f.url.split('/').slice(-1)[0]}:${f.lineNumber + 1}` : ''}`.trim();
    self.set(key, (self.get(key) ?? 0) + d);
  }
  const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25);
  console.log(`\n== ${label}: ${(total / 1000).toFixed(0)} ms sampled, top self time`);
  for (const [k, v] of rows) console.log(`${(v / 1000).toFixed(0).padStart(7)} ms ${((100 * v) / total).toFixed(1).padStart(5)} %  ${k}`);
}

async function main() {
  const server = new KeyServer();
  await server.start();
  const browser = await launchBrowser();
  const work = WORK();
  try {
    const input = join(work, 'prof.bin');
    makeFile(input, SIZE, randomBytes(16));
    const page = await openSignedIn(browser.context, TOKENS().alice, {
      initScript: noFileSystemAccess,
    });
    await page.waitForFunction(() => document.querySelector('#save-mode').textContent.includes('service worker'));
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
    for (const mode of ['encrypt', 'decrypt']) {
      await chooseFile(page, mode === 'encrypt' ? input : join(work, 'prof.bin.pqf'));
      await cdp.send('Profiler.start');
      const r = await runJob(page, join(work, mode === 'encrypt' ? 'prof.bin.pqf' : 'prof.out'));
      const { profile } = await cdp.send('Profiler.stop');
      if (r.error) throw new Error(r.text);
      const ms = await page.evaluate(() => performance.getEntriesByName('pqfile:job')[0].duration);
      writeFileSync(join(artifactsDir(), `profile-${mode}.cpuprofile`), JSON.stringify(profile));
      summarize(profile, `${mode} ${SIZE / MiB} MiB through the page: ${ms.toFixed(0)} ms, ${(SIZE / MiB / (ms / 1000)).toFixed(0)} MiB/s`);
    }
  } finally {
    await browser.close();
    await server.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
