import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as pqfile from 'pqfile';
import { Encrypter, Decrypter, PqfileError, ErrorCode } from 'pqfile';
import { pattern } from './shared/equivalence.js';
import { collect, streamOf } from './helpers.js';
import { kemPathsAgree } from './shared/kem.js';

function identity() {
  const seed = crypto.getRandomValues(new Uint8Array(64));
  const sk = pqfile.MlKem768SecretKey.fromSeed(seed);
  const pk = sk.publicKey();
  const publicKey = pk.toBytes();
  pk.free();
  sk.free();
  return { seed, publicKey };
}

test('streams in every piece size, with progress, both paths', async () => {
  const { seed, publicKey } = identity();
  const data = pattern(3 * 16384 + 999);
  for (const webCrypto of [true, false]) {
    for (const piece of [1, 777, 16384, 16400, 65536]) {
      const seen = [];
      const enc = new Encrypter({ webCrypto, onProgress: (n) => seen.push(n) }).addRecipient(9, publicKey);
      const file = await collect(streamOf(data, piece).pipeThrough(enc.encryptStream()));
      assert.equal(seen.at(-1), data.length);
      assert.ok(seen.every((n, i) => i === 0 || n > seen[i - 1]));
      const dec = new Decrypter({ webCrypto }).addIdentity(9, seed);
      const out = await dec.decrypt(streamOf(file, piece === 1 ? 4093 : piece));
      assert.ok(out instanceof ReadableStream);
      assert.deepEqual(await collect(out), data);
    }
  }
});

test('Uint8Array in, Uint8Array out; chosen document id', async () => {
  const { seed, publicKey } = identity();
  const doc = 'ab'.repeat(16);
  const enc = new Encrypter().addRecipient(1, publicKey).setDocumentId(doc);
  const file = await enc.encrypt(new TextEncoder().encode('hello'));
  assert.ok(file instanceof Uint8Array);
  assert.equal(enc.documentId, doc);
  const dec = new Decrypter().addIdentity(2, crypto.getRandomValues(new Uint8Array(64))).addIdentity(1, seed);
  assert.equal(new TextDecoder().decode(await dec.decrypt(file)), 'hello');
  assert.equal(dec.documentId, doc);
});

test('errors are PqfileError with stable codes', async () => {
  const { seed, publicKey } = identity();
  const reject = (p, code) => assert.rejects(p, (e) => e instanceof PqfileError && e.code === code);
  await reject(new Encrypter().encrypt(new Uint8Array(1)), ErrorCode.BadRecipientCount);
  await reject(new Encrypter().addRecipient(0, publicKey).encrypt(new Uint8Array(1)), ErrorCode.BadKeyId);
  await reject(new Encrypter().addRecipient(1, publicKey.subarray(1)).encrypt(new Uint8Array(1)), ErrorCode.InvalidPublicKey);
  await reject(new Encrypter().addRecipient(1, publicKey).setDocumentId('xyz').encrypt(new Uint8Array(1)), ErrorCode.BadDocumentId);
  const file = await new Encrypter().addRecipient(1, publicKey).encrypt(pattern(40000));
  await reject(new Decrypter().addIdentity(1, seed.subarray(1)).decrypt(file), ErrorCode.InvalidSecretKey);
  await reject(new Decrypter().decrypt(file), ErrorCode.NoMatchingStanza);
  await reject(new Decrypter().addIdentity(1, seed).decrypt(file.subarray(0, file.length - 1)), ErrorCode.DecryptionFailed);
  await reject(new Decrypter().addIdentity(1, seed).decrypt(file.subarray(0, 10)), ErrorCode.TruncatedHeader);
  await reject(new Decrypter().addIdentity(1, seed).decrypt(new Uint8Array(0)), ErrorCode.TruncatedHeader);
  await assert.rejects(new Encrypter().addRecipient(1, publicKey).encrypt('text'), TypeError);
  // The low-level bindings throw Errors carrying the same codes.
  try {
    pqfile.Header.parse(new Uint8Array([1, 2, 3, 4]));
    assert.fail('no error');
  } catch (e) {
    assert.equal(e.name, 'PqfileError');
    assert.equal(e.code, 'bad_magic');
    assert.equal(pqfile.errorCodeOf(e), 'bad_magic');
  }
  assert.equal(pqfile.errorCodeOf(new Error('x')), undefined);
});

test('a tampered stream releases only authenticated chunks, then errors', async () => {
  const { seed, publicKey } = identity();
  const data = pattern(5 * 16384);
  for (const webCrypto of [true, false]) {
    const file = await new Encrypter().addRecipient(1, publicKey).encrypt(data);
    const h = pqfile.Header.parse(file);
    file[h.length + 56 + 2 * 16400 + 1] ^= 1; // chunk 2
    h.free();
    const out = [];
    const stream = await new Decrypter({ webCrypto }).addIdentity(1, seed).decrypt(streamOf(file, 16400));
    await assert.rejects(
      (async () => {
        for await (const p of stream) out.push(p);
      })(),
      (e) => e.code === 'decryption_failed',
    );
    const released = out.reduce((n, p) => n + p.length, 0);
    assert.ok(released <= 2 * 16384, `released ${released} bytes`);
    assert.deepEqual(Buffer.concat(out), Buffer.from(data.subarray(0, released)));
  }
});

test('ML-KEM-768 keys: seeds, encapsulation, validation', () => {
  const sk = pqfile.MlKem768SecretKey.fromSeed(new Uint8Array(64).fill(1));
  const pk = sk.publicKey();
  const bytes = pk.toBytes();
  assert.equal(bytes.length, 1184);
  const enc = pqfile.MlKem768PublicKey.fromBytes(bytes).encapsulate();
  assert.equal(enc.ciphertext.length, 1088);
  enc.free();
  assert.throws(() => pqfile.MlKem768PublicKey.fromBytes(new Uint8Array(1184).fill(255)), (e) => e.code === 'invalid_public_key');
  sk.free();
  pk.free();
  assert.ok(pqfile.memoryBytes() > 0);
});

test('ML-KEM-768 encapsulation: the wasm fallback where WebCrypto has no ML-KEM (Node 20), stanzas open with wasm', async () => {
  const r = await kemPathsAgree(pqfile);
  // Node 20's WebCrypto has no ML-KEM: the fallback is what runs here.
  assert.equal(r.webCryptoKem, typeof globalThis.crypto.subtle.encapsulateBits === 'function');
  console.log(`Node: WebCrypto ML-KEM ${r.webCryptoKem}, ${r.paths} encapsulation paths checked`);
});
