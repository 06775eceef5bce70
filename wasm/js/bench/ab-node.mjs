// Side-by-side stream throughput of two builds of the npm package in Node:
// encryptStream() and decryptStream() of the same bytes, WebCrypto path and
// wasm-only path, rounds alternating between build A and build B so that
// machine noise hits both alike. Each build must have been built
// (wasm/js/scripts/build.sh) in its own checkout.
//
//   node wasm/js/bench/ab-node.mjs /path/to/old/wasm/js /path/to/new/wasm/js [MiB=128] [rounds=5]
//
// Prints, per build and path, the median MiB/s of the rounds, and B / A.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { collect } from '../test/helpers.js';

const [dirA, dirB, mibArg, roundsArg] = process.argv.slice(2);
if (!dirA || !dirB) {
  console.error('usage: node ab-node.mjs PACKAGE_DIR_A PACKAGE_DIR_B [MiB] [rounds]');
  process.exit(2);
}
const MIB = Number(mibArg ?? 128);
const ROUNDS = Number(roundsArg ?? 5);
const PIECE = 1 << 20;

const load = (dir) => import(pathToFileURL(resolve(dir, 'src/node.js')).href);
const builds = { A: await load(dirA), B: await load(dirB) };

const data = new Uint8Array(MIB << 20);
for (let i = 0; i < data.length; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));

// Uncopied 1 MiB pieces (test/helpers.js's streamOf copies each piece, which
// the timed loop should not pay for).
function streamOf(bytes) {
  let off = 0;
  return new ReadableStream({
    pull(c) {
      if (off >= bytes.length) return c.close();
      c.enqueue(bytes.subarray(off, off + PIECE));
      off += PIECE;
    },
  });
}

/** The stream's pieces, not joined (the timed loop only counts them). */
async function drain(stream) {
  const parts = [];
  for await (const p of stream) parts.push(p);
  return parts;
}

function identity(pkg) {
  const seed = crypto.getRandomValues(new Uint8Array(64));
  const sk = pkg.MlKem768SecretKey.fromSeed(seed);
  const pk = sk.publicKey();
  const publicKey = pk.toBytes();
  pk.free();
  sk.free();
  return { seed, publicKey };
}

const results = {};
const record = (name, mibps) => (results[name] ??= []).push(mibps);
const files = {};
for (const [label, pkg] of Object.entries(builds)) {
  const id = identity(pkg);
  const file = await collect(streamOf(data).pipeThrough(new pkg.Encrypter().addRecipient(1, id.publicKey).encryptStream()));
  files[label] = { id, file };
}

for (let round = 0; round < ROUNDS; round++) {
  for (const webCrypto of [true, false]) {
    const order = round % 2 === 0 ? ['A', 'B'] : ['B', 'A'];
    for (const label of order) {
      const pkg = builds[label];
      const { id, file } = files[label];
      let t = performance.now();
      await drain(streamOf(data).pipeThrough(new pkg.Encrypter({ webCrypto }).addRecipient(1, id.publicKey).encryptStream()));
      record(`${label} encrypt ${webCrypto ? 'webcrypto' : 'wasm'}`, MIB / ((performance.now() - t) / 1000));
      t = performance.now();
      const plain = await drain(streamOf(file).pipeThrough(new pkg.Decrypter({ webCrypto }).addIdentity(1, id.seed).decryptStream()));
      record(`${label} decrypt ${webCrypto ? 'webcrypto' : 'wasm'}`, MIB / ((performance.now() - t) / 1000));
      if (plain.reduce((n, p) => n + p.length, 0) !== data.length) throw new Error(`${label}: wrong plaintext length`);
    }
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`| path (${MIB} MiB, ${ROUNDS} alternating rounds, Node ${process.version}) | A MiB/s (median; range) | B MiB/s (median; range) | B / A |`);
console.log('|---|---:|---:|---:|');
for (const op of ['encrypt', 'decrypt']) {
  for (const path of ['webcrypto', 'wasm']) {
    const a = results[`A ${op} ${path}`];
    const b = results[`B ${op} ${path}`];
    const fmt = (xs) => `${median(xs).toFixed(0)} (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})`;
    console.log(`| ${op}, ${path} | ${fmt(a)} | ${fmt(b)} | ${(median(b) / median(a)).toFixed(2)} |`);
  }
}
