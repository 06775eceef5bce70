import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';

export const TESTDATA = new URL('../../../testdata/', import.meta.url);

export function loadVectors() {
  const manifest = JSON.parse(readFileSync(new URL('vectors.json', TESTDATA), 'utf8'));
  if (manifest.format !== 'pqfile-vectors/v1') throw new Error(`unknown vector format ${manifest.format}`);
  return manifest.vectors.map((v) => ({ ...v, bytes: new Uint8Array(readFileSync(new URL(v.file, TESTDATA))) }));
}

export function hex(bytes) {
  return Buffer.from(bytes).toString('hex');
}

export function unhex(s) {
  return new Uint8Array(Buffer.from(s, 'hex'));
}

export function sha256(bytes) {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The vectors' plaintext: byte i is (i * 7 + i / 251) mod 256. */
export function vectorPlaintext(len) {
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) out[i] = (i * 7 + Math.floor(i / 251)) % 256;
  return out;
}

/** A ReadableStream over `bytes` in pieces of `size` bytes. */
export function streamOf(bytes, size) {
  let off = 0;
  return new ReadableStream({
    pull(controller) {
      if (off >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(off, off + size));
      off += size;
    },
  });
}

export async function collect(stream) {
  const parts = [];
  let total = 0;
  for await (const p of stream) {
    parts.push(p);
    total += p.length;
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
