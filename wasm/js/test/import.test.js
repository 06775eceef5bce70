// The package as a user gets it: `npm pack`, installed from the tarball into
// a scratch project, then (a) imported in Node, (b) built with Vite and run
// in Chromium, (c) loaded by a plain <script type="module"> page in Chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from './shared/static-server.js';
import { launch } from './shared/chromium.js';

const PKG = fileURLToPath(new URL('..', import.meta.url));
const VITE = join(PKG, 'node_modules', 'vite', 'bin', 'vite.js');
let scratch, browser;

// The same round trip in every setting; it reports through window.__result / stdout.
const ROUND_TRIP = `
  const sk = MlKem768SecretKey.generate();
  const pk = sk.publicKey().toBytes();
  const data = new TextEncoder().encode('hello from ' + where);
  const file = await new Encrypter().addRecipient(1, pk).encrypt(data);
  // Decrypt through a second, wasm-only path as well.
  const header = Header.parse(file);
  const fileKey = header.unwrapFileKey(1, sk);
  const d = new Decryptor(header, fileKey);
  const viaWasm = new TextDecoder().decode(new Uint8Array([...d.push(file.subarray(header.length)), ...d.finish()]));
  const viaStream = new TextDecoder().decode(await new Response(
    await new Decrypter({ webCrypto: hasWebCrypto() }).addIdentity(1, await seedOf(sk)).decrypt(new Blob([file]).stream())).arrayBuffer());
  const result = { viaWasm, viaStream, webCrypto: hasWebCrypto() };
`;
// Decrypter takes seeds; the scratch code makes its key from a known seed instead.
const PRELUDE = `
  await pqfile.init(); // the low-level classes need the module loaded (a no-op in Node)
  const seed = crypto.getRandomValues(new Uint8Array(64));
  const seedOf = async () => seed;
  const MlKem768SecretKey = { generate: () => pqfile.MlKem768SecretKey.fromSeed(seed) };
  const { Encrypter, Decrypter, Header, Decryptor, hasWebCrypto } = pqfile;
`;

before(() => {
  scratch = mkdtempSync(join(tmpdir(), 'pqfile-import-'));
  execFileSync('npm', ['pack', '--pack-destination', scratch, '--silent'], { cwd: PKG, stdio: ['ignore', 'pipe', 'inherit'] });
  const tgz = readdirSync(scratch).find((f) => f.endsWith('.tgz'));
  assert.ok(tgz, 'npm pack made no tarball');
  const app = join(scratch, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(scratch, tgz)], { cwd: app, stdio: ['ignore', 'pipe', 'inherit'] });
});
after(async () => {
  await browser?.close();
  rmSync(scratch, { recursive: true, force: true });
});

async function chromium() {
  browser ??= await launch();
  return browser;
}

test('the tarball ships the three wasm-bindgen targets and the types', () => {
  const dist = join(scratch, 'app', 'node_modules', 'pqfile', 'dist');
  for (const t of ['web', 'bundler', 'node']) assert.ok(statSync(join(dist, t, 'pqfile_wasm_bg.wasm')).size > 10000);
  assert.ok(statSync(join(scratch, 'app', 'node_modules', 'pqfile', 'src', 'index.d.ts')).size > 1000);
});

test('(a) Node: import from the installed tarball', () => {
  const app = join(scratch, 'app');
  writeFileSync(join(app, 'node-test.mjs'), `
    import * as pqfile from 'pqfile';
    const where = 'node';
    ${PRELUDE}
    ${ROUND_TRIP}
    console.log(JSON.stringify(result));
  `);
  const out = JSON.parse(execFileSync('node', ['node-test.mjs'], { cwd: app, encoding: 'utf8' }));
  assert.deepEqual(out, { viaWasm: 'hello from node', viaStream: 'hello from node', webCrypto: true });
});

test('(b) Vite 7 build of an app that imports pqfile, run in Chromium', { timeout: 300_000 }, async () => {
  const app = join(scratch, 'app');
  writeFileSync(join(app, 'index.html'), '<!doctype html><meta charset="utf-8"><script type="module" src="/main.js"></script>');
  writeFileSync(join(app, 'main.js'), `
    import * as pqfile from 'pqfile';
    const where = 'vite';
    window.__result = (async () => {
      ${PRELUDE}
      ${ROUND_TRIP}
      return result;
    })().catch((e) => ({ error: String(e.stack ?? e) }));
  `);
  execFileSync('node', [VITE, 'build', '--logLevel', 'warn'], { cwd: app, stdio: ['ignore', 'inherit', 'inherit'] });
  const assets = readdirSync(join(app, 'dist', 'assets'));
  assert.ok(assets.some((f) => f.endsWith('.wasm')), `no .wasm emitted: ${assets}`);
  const server = await serve(join(app, 'dist'));
  try {
    const page = await (await chromium()).page(`${server.url}/index.html`);
    const r = await page.evaluate(() => window.__result);
    assert.deepEqual(r, { viaWasm: 'hello from vite', viaStream: 'hello from vite', webCrypto: true });
  } finally {
    await server.close();
  }
});

test('(c) plain <script type="module"> page in Chromium', { timeout: 60_000 }, async () => {
  const app = join(scratch, 'app');
  writeFileSync(join(app, 'plain.html'), `<!doctype html><meta charset="utf-8">
    <script type="importmap">{ "imports": { "pqfile": "./node_modules/pqfile/src/browser.js" } }</script>
    <script type="module">
      import * as pqfile from 'pqfile';
      const where = 'a plain page';
      window.__result = (async () => {
        ${PRELUDE}
        ${ROUND_TRIP}
        return result;
      })().catch((e) => ({ error: String(e.stack ?? e) }));
    </script>`);
  const server = await serve(app);
  try {
    const page = await (await chromium()).page(`${server.url}/plain.html`);
    const r = await page.evaluate(() => window.__result);
    assert.deepEqual(r, { viaWasm: 'hello from a plain page', viaStream: 'hello from a plain page', webCrypto: true });
  } finally {
    await server.close();
  }
});
