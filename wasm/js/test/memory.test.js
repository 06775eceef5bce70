// Streaming 1 GiB through encryptStream() -> decryptStream() keeps memory
// bounded: the wasm linear memory, the JS heap and ArrayBuffer memory stay
// flat whatever the stream length (FORMAT.md §10: one chunk + the header,
// plus the AES-GCM operations in flight); rewrapFile passes as much through
// a block at a time. PQFILE_MEMORY_GIB changes the size.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as pqfile from 'pqfile';

const GIB = Number(process.env.PQFILE_MEMORY_GIB ?? 1);
const TOTAL = GIB * 2 ** 30;
const BLOCK = 2 ** 20;
const MIB = 2 ** 20;

function source(hash) {
  const template = new Uint8Array(BLOCK);
  for (let i = 0; i < BLOCK; i += 65536) crypto.getRandomValues(template.subarray(i, i + 65536));
  let sent = 0;
  return new ReadableStream({
    pull(c) {
      if (sent >= TOTAL) return c.close();
      const block = template.slice();
      new DataView(block.buffer).setFloat64(0, sent); // every block differs
      hash.update(block);
      c.enqueue(block);
      sent += BLOCK;
    },
  }, { highWaterMark: 2 });
}

async function run(webCrypto) {
  const seed = crypto.getRandomValues(new Uint8Array(64));
  const sk = pqfile.MlKem768SecretKey.fromSeed(seed);
  const publicKey = sk.publicKey().toBytes();
  sk.free();
  const inHash = createHash('sha256');
  const outHash = createHash('sha256');
  const peak = { heapUsed: 0, arrayBuffers: 0, rss: 0 };
  const sample = () => {
    const m = process.memoryUsage();
    for (const k of Object.keys(peak)) peak[k] = Math.max(peak[k], m[k]);
  };
  const before = process.memoryUsage();
  const wasmBefore = pqfile.memoryBytes();
  const timer = setInterval(sample, 20);
  const t0 = performance.now();
  let out = 0;
  let encrypted = 0;
  const counter = new TransformStream({
    transform(c, ctl) {
      encrypted += c.length;
      ctl.enqueue(c);
    },
  });
  try {
    const plain = source(inHash)
      .pipeThrough(new pqfile.Encrypter({ webCrypto }).addRecipient(1, publicKey).encryptStream())
      .pipeThrough(counter)
      .pipeThrough(new pqfile.Decrypter({ webCrypto }).addIdentity(1, seed).decryptStream());
    for await (const p of plain) {
      outHash.update(p);
      out += p.length;
      sample();
    }
  } finally {
    clearInterval(timer);
  }
  sample();
  const seconds = (performance.now() - t0) / 1000;
  assert.equal(out, TOTAL);
  assert.equal(outHash.digest('hex'), inHash.digest('hex'));
  const chunks = TOTAL / 16384 + 1;
  assert.ok(encrypted > TOTAL + chunks * 16);
  const r = {
    path: webCrypto ? 'webcrypto' : 'wasm',
    gib: GIB,
    seconds: +seconds.toFixed(1),
    wasmMemoryMiB: +(pqfile.memoryBytes() / MIB).toFixed(1),
    wasmGrowthMiB: +((pqfile.memoryBytes() - wasmBefore) / MIB).toFixed(1),
    heapUsedPeakMiB: +(peak.heapUsed / MIB).toFixed(1),
    arrayBuffersPeakMiB: +(peak.arrayBuffers / MIB).toFixed(1),
    rssGrowthMiB: +((peak.rss - before.rss) / MIB).toFixed(1),
  };
  console.log(`memory ${JSON.stringify(r)}`);
  // Generous bounds: the steady state is a few MiB; a buffered 1 GiB would blow all of them.
  assert.ok(r.wasmMemoryMiB <= 16, `wasm memory ${r.wasmMemoryMiB} MiB`);
  assert.ok(r.heapUsedPeakMiB <= 96, `JS heap ${r.heapUsedPeakMiB} MiB`);
  assert.ok(r.arrayBuffersPeakMiB <= 192, `ArrayBuffers ${r.arrayBuffersPeakMiB} MiB`);
  assert.ok(r.rssGrowthMiB <= 384, `RSS growth ${r.rssGrowthMiB} MiB`);
}

test(`${GIB} GiB through encryptStream and decryptStream, WebCrypto path, bounded memory`, { timeout: 600_000 }, () => run(true));
test(`${GIB} GiB through encryptStream and decryptStream, wasm path, bounded memory`, { timeout: 900_000 }, () => run(false));

test(`rewrapFile passes ${GIB} GiB of a stream through with bounded memory`, { timeout: 600_000 }, async () => {
  // A real header, then TOTAL bytes standing for the payload (rewrapFile never reads it).
  const sk = pqfile.MlKem768SecretKey.generate();
  const pk = sk.publicKey();
  const header = pqfile.Header.parse(await new pqfile.Encrypter().addRecipient(1, pk.toBytes()).encrypt(new Uint8Array(1)));
  const other = pqfile.Header.parse(await new pqfile.Encrypter().addRecipient(2, pk.toBytes()).setDocumentId(header.documentId).encrypt(new Uint8Array(1)));
  const [oldHeader, newHeader] = [header.toBytes(), other.toBytes()];
  header.free();
  other.free();
  pk.free();
  sk.free();
  const service = { rewrap: async () => ({ header: newHeader, keyId: 2, replacedKeyId: 1 }) };
  const inHash = createHash('sha256');
  const reader = source(inHash).getReader();
  let headerSent = false;
  // Blocks taken from the source and not yet handed out: the buffering, whatever GC does.
  let pulled = 0;
  let taken = 0;
  let aheadPeak = 0;
  const pqf = new ReadableStream({
    async pull(c) {
      if (!headerSent) {
        headerSent = true;
        return c.enqueue(oldHeader.slice());
      }
      const r = await reader.read();
      if (r.done) return c.close();
      pulled++;
      c.enqueue(r.value);
    },
  }, { highWaterMark: 0 });

  const before = process.memoryUsage();
  let peak = 0;
  const sample = () => (peak = Math.max(peak, process.memoryUsage().arrayBuffers));
  const timer = setInterval(sample, 20);
  const outHash = createHash('sha256');
  let out = 0;
  let first = null;
  try {
    const { file: rewrapped } = await pqfile.rewrapFile(service, pqf);
    for await (const p of rewrapped) {
      if (first === null) first = p;
      else {
        outHash.update(p);
        out += p.length;
        taken++;
      }
      aheadPeak = Math.max(aheadPeak, pulled - taken);
      sample();
    }
  } finally {
    clearInterval(timer);
  }
  assert.deepEqual(first, newHeader);
  assert.equal(out, TOTAL);
  assert.equal(outHash.digest('hex'), inHash.digest('hex'));
  const growthMiB = +((peak - before.arrayBuffers) / MIB).toFixed(1);
  console.log(`rewrap stream memory ${JSON.stringify({ gib: GIB, blocksAheadPeak: aheadPeak, arrayBuffersGrowthPeakMiB: growthMiB })}`);
  // The input's blocks pass one at a time (a buffered stream would be TOTAL / 1 MiB blocks ahead);
  // the ArrayBuffers bound is generous for the garbage not yet collected (1 GiB buffered would blow it).
  assert.ok(aheadPeak <= 2, `${aheadPeak} blocks of 1 MiB were read ahead of the output`);
  assert.ok(growthMiB <= 128, `ArrayBuffers grew by ${growthMiB} MiB`);
});
