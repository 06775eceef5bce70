// WebCrypto vs wasm: both paths must write byte-identical files and read
// each other's. Runs in Node (equivalence.test.js) and in headless Chromium
// (browser.test.js), over the package's public API and its stream engines.
import { WebCryptoSealer, WebCryptoOpener, importChunkKey } from '../../src/stream.js';

function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export function pattern(len, seed = 1) {
  const out = new Uint8Array(len);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export const LENGTHS = [0, 1, 15, 16, 16383, 16384, 16385, 32768, 65536 + 123, 200000];

/**
 * For each length: (1) a file made by the WebCrypto path is rebuilt
 * byte-for-byte by wasm from its header, file key and salt; (2) a file made
 * by wasm is rebuilt byte-for-byte by the WebCrypto sealer from the chunk
 * key; (3) each path decrypts the other's file.
 */
export async function webCryptoMatchesWasm(pqfile, lengths = LENGTHS) {
  const sk = pqfile.MlKem768SecretKey.generate();
  const seed = crypto.getRandomValues(new Uint8Array(64));
  const sk2 = pqfile.MlKem768SecretKey.fromSeed(seed);
  const publicKey = sk2.publicKey().toBytes();
  sk.free();
  sk2.free();
  for (const len of lengths) {
    const data = pattern(len, len + 7);

    // WebCrypto-made file, rebuilt by wasm.
    const viaWebCrypto = await new pqfile.Encrypter({ webCrypto: true }).addRecipient(3, publicKey).encrypt(data);
    const header = pqfile.Header.parse(viaWebCrypto);
    const identity = pqfile.MlKem768SecretKey.fromSeed(seed);
    let fileKey = header.unwrapFileKey(3, identity);
    const salt = viaWebCrypto.subarray(header.length, header.length + 24);
    const wasmEnc = pqfile.Encryptor.withHeader(header, fileKey, salt);
    const rebuilt = concat([wasmEnc.push(data), wasmEnc.finish()]);
    wasmEnc.free();
    check(equalBytes(rebuilt, viaWebCrypto), `len ${len}: wasm did not reproduce the WebCrypto file byte for byte`);

    // wasm-made file, rebuilt by the WebCrypto sealer from the chunk key.
    const viaWasm = await new pqfile.Encrypter({ webCrypto: false }).addRecipient(3, publicKey).encrypt(data);
    const h2 = pqfile.Header.parse(viaWasm);
    const fk2 = h2.unwrapFileKey(3, identity);
    const prefix = viaWasm.subarray(h2.length, h2.length + 56);
    const key = await importChunkKey(pqfile.ChunkKey.forPayload(h2, fk2, prefix));
    const parts = [viaWasm.subarray(0, h2.length + 56)];
    const sealer = new WebCryptoSealer(key, (b) => parts.push(b));
    // Odd piece sizes exercise the sealer's buffering.
    for (let off = 0; off < data.length; off += 5000) await sealer.push(data.subarray(off, off + 5000));
    await sealer.finish();
    check(equalBytes(concat(parts), viaWasm), `len ${len}: WebCrypto did not reproduce the wasm file byte for byte`);

    // And each path opens the other's file.
    for (const [file, webCrypto] of [[viaWebCrypto, false], [viaWasm, true]]) {
      const pt = await new pqfile.Decrypter({ webCrypto }).addIdentity(3, seed).decrypt(file);
      check(equalBytes(pt, data), `len ${len}: decryption (webCrypto=${webCrypto}) of the other path's file differs`);
    }
    // The WebCrypto opener over the wasm file, chunk by chunk.
    const key2 = await importChunkKey(pqfile.ChunkKey.forPayload(h2, fk2, prefix));
    const out = [];
    const opener = new WebCryptoOpener(key2, (b) => out.push(b));
    await opener.push(viaWasm.subarray(h2.length + 56));
    await opener.finish();
    check(equalBytes(concat(out), data), `len ${len}: WebCryptoOpener output differs`);
    identity.free();
    fileKey.free();
    fk2.free();
    header.free();
    h2.free();
    fileKey = null;
  }
  return lengths.length;
}
